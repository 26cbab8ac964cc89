"""Run the benchmark scripts and write ``benchmarks/RESULTS.md``.

Usage: ``python -m benchmarks [--quick] [name ...]`` where each name selects
``benchmarks/bench_<name>.py``; all of them when none is given.

Each benchmark's section is delimited by ``<!-- bench:NAME -->`` markers. Running a
subset replaces those sections and keeps the others from the existing file (each
section records its own command, date and machine), so one long benchmark can be
refreshed without re-running everything; ``--fresh`` drops the sections not run.
A benchmark module may define ``available() -> (bool, reason)``; when it returns
False the benchmark is skipped with the reason (``python -m benchmarks gpu`` on a
machine without CUDA prints why and exits with status 0).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import pkgutil
import re
import time
from pathlib import Path

from benchmarks._common import machine_description

HERE = Path(__file__).parent
_MARKER = re.compile(r"^<!-- bench:(\w+) -->$", re.MULTILINE)


def _read_sections(path: Path) -> dict[str, str]:
    """Existing per-benchmark sections of a results file, keyed by name."""
    if not path.exists():
        return {}
    text = path.read_text()
    matches = list(_MARKER.finditer(text))
    sections = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections[match.group(1)] = text[match.start() : end].rstrip() + "\n"
    return sections


def _header() -> str:
    return "\n".join(
        [
            "# skres benchmark results",
            "",
            "Regenerate everything with `python -m benchmarks` (add `--quick` for "
            "reduced sizes), or one table with `python -m benchmarks NAME`. Every "
            "table is measured side by side in one run, so ratios within a table "
            "are comparable; each section states when, how and on what it was run.",
            "",
        ]
    )


def _write(path: Path, order: list[str], sections: dict[str, str]) -> None:
    body = [sections[name] for name in order if name in sections]
    path.write_text(_header() + "\n" + "\n".join(body))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller problem sizes")
    parser.add_argument(
        "--fresh", action="store_true", help="drop sections of benchmarks not run"
    )
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
    output = Path(args.output)
    sections = {} if args.fresh else _read_sections(output)
    command = f"python -m benchmarks{' --quick' if args.quick else ''} NAME"
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        available = getattr(module, "available", None)
        if available is not None:  # e.g. the GPU check without a GPU
            ok, why = available()
            if not ok:
                print(f"{name}: skipped: {why}.", flush=True)
                continue
        start = time.perf_counter()
        body = module.run(quick=args.quick)
        elapsed = time.perf_counter() - start
        sections[name] = "\n".join(
            [
                f"<!-- bench:{name} -->",
                f"## {module.TITLE}",
                "",
                f"_`{command.replace('NAME', name)}`, {datetime.date.today()}, "
                f"{machine_description()}; wall time {elapsed:.0f} s._",
                "",
                body.rstrip(),
                "",
            ]
        )
        # Written after every benchmark, so a long run keeps what it finished.
        _write(output, available, sections)
        print(f"{name}: done in {elapsed:.0f} s", flush=True)
    if output.exists():
        print(f"wrote {output}")


if __name__ == "__main__":
    main()
