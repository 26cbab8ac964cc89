"""Every script in examples/ runs to the end.

Their run times (each under 60 s on 2 CPU cores) are a benchmark, not a test:
``python -m benchmarks examples`` writes them to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The SmolLM2 example needs a one-off model conversion; tests/test_smollm2.py runs it.
EXAMPLES = sorted(
    p
    for p in (Path(__file__).parents[1] / "examples").glob("*.py")
    if "smollm2" not in p.name
)


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script):
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,  # hang protection only
    )
    assert result.returncode == 0, result.stderr[-3000:]
