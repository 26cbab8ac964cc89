"""Run the benchmark scripts and write ``benchmarks/RESULTS.md``.

Usage: ``python -m benchmarks [--quick] [name ...]`` where each name selects
``benchmarks/bench_<name>.py``; all of them when none is given.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import pkgutil
import time
from pathlib import Path

from benchmarks._common import machine_description

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller problem sizes")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    available = sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules([str(HERE)])
        if m.name.startswith("bench_")
    )
    names = args.names or available
    unknown = set(names) - set(available)
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}; available: {available}")
    sections = [
        "# skres benchmark results",
        "",
        f"Generated {datetime.date.today()} by `python -m benchmarks"
        f"{' --quick' if args.quick else ''}` on: {machine_description()}.",
        "Every table is measured side by side in one run; re-run the command to "
        "regenerate.",
    ]
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        start = time.perf_counter()
        body = module.run(quick=args.quick)
        elapsed = time.perf_counter() - start
        sections += [
            "",
            f"## {module.TITLE}",
            "",
            body,
            "",
            f"_(benchmark wall time {elapsed:.0f} s)_",
        ]
        # Written after every benchmark, so a long run keeps what it finished.
        Path(args.output).write_text("\n".join(sections) + "\n")
        print(f"{name}: done in {elapsed:.0f} s", flush=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
