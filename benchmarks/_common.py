"""Timing, memory and markdown helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _isolated_call(
    fn: Callable[..., Any], args: tuple[Any, ...]
) -> tuple[Any, float, float]:
    import resource

    import numpy  # noqa: F401 - imported before the baseline is taken
    import sklearn  # noqa: F401
    import torch  # noqa: F401

    baseline = _current_rss_mib()
    start = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result, seconds, max(peak - baseline, 0.0)


def measure(fn: Callable[..., Any], *args: Any) -> tuple[Any, float, float]:
    """Run ``fn(*args)`` in a fresh process; return its (picklable) result, its wall
    time in seconds and its peak extra resident memory in MiB (high-water RSS minus
    the RSS after importing numpy, sklearn and torch).

    ``fn`` must be a module-level function. A fresh process per measurement keeps
    runs from sharing caches or heap high-water marks.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_isolated_call, fn, args).result()


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table; floats get 3 significant digits."""

    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}"
        return str(value)

    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_description() -> str:
    import numpy
    import sklearn
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"sklearn {sklearn.__version__}, numpy {numpy.__version__}, GPU: {gpu}"
    )
