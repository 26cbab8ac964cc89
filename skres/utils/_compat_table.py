"""Write the scikit-learn compatibility table of every skres estimator.

Runs :func:`sklearn.utils.estimator_checks.check_estimator` with ``on_fail=None`` on
the same small instances the test-suite uses (:func:`estimator_test_instances`) and
the same expected failures (:data:`EXPECTED_FAILED_CHECKS`), and writes an rst page:
estimator x check -> passed / expected failure (reason) / skipped (reason) / FAILED.

Usage (from the repository root)::

    python -m skres.utils._compat_table docs/compatibility.rst

The page is committed; ``tests/test_compat_table.py`` checks that it lists exactly the
checks sklearn runs today with the current expected failures, and
``tests/test_common.py`` (strict xfail) checks that every listed pass passes and every
expected failure fails. It is generated with ``SCIPY_ARRAY_API=1`` (set by ``main`` in
a child interpreter when missing) so that sklearn's array-API check runs too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sklearn
from sklearn.utils.estimator_checks import (
    _check_name,
    _get_check_estimator_ids,
    check_estimator,
    estimator_checks_generator,
)

from ._testing import estimator_test_instances, expected_failed_checks

#: Cell text per status; the order is the order of the summary columns.
STATUS_LABELS = {
    "passed": "pass",
    "xfail": "xfail",
    "skipped": "skip",
    "failed": "FAIL",
}


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one sklearn check on one estimator."""

    estimator: str
    check: str
    status: str  # one of STATUS_LABELS
    reason: str = ""


def check_id(check: Any) -> str:
    """The check's id as pytest shows it, e.g. ``check_fit2d_1sample`` or
    ``check_estimators_pickle(readonly_memmap=True)``."""
    return str(_get_check_estimator_ids(check))


def planned_checks(estimator: Any) -> list[str]:
    """Ids of the checks sklearn runs on ``estimator``, in sklearn's order (cheap)."""
    return [
        check_id(check)
        for _, check in estimator_checks_generator(
            estimator,
            legacy=True,
            expected_failed_checks=expected_failed_checks(estimator),
            mark=None,
        )
    ]


def predicted_results(estimators: Iterable[Any] | None = None) -> list[CheckResult]:
    """The table as it must read, without running a check (cheap).

    Every check passes except those listed in ``EXPECTED_FAILED_CHECKS``, which fail
    with their reason; ``tests/test_common.py`` (strict xfail) enforces exactly this.
    """
    if estimators is None:
        estimators = estimator_test_instances()
    results = []
    for estimator in estimators:
        name = type(estimator).__name__
        expected = expected_failed_checks(estimator)
        for _, check in estimator_checks_generator(
            estimator, legacy=True, expected_failed_checks=expected, mark=None
        ):
            base = _check_name(check)
            if base in expected:
                results.append(
                    CheckResult(name, check_id(check), "xfail", expected[base])
                )
            else:
                results.append(CheckResult(name, check_id(check), "passed"))
    return results


def run_checks(
    estimators: Iterable[Any] | None = None, verbose: bool = False
) -> list[CheckResult]:
    """Run sklearn's checks on ``estimators`` (default: every skres estimator)."""
    if estimators is None:
        estimators = estimator_test_instances()
    results: list[CheckResult] = []
    for estimator in estimators:
        name = type(estimator).__name__
        ids = iter(planned_checks(estimator))
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = check_estimator(
                estimator,
                expected_failed_checks=expected_failed_checks(estimator),
                on_skip=None,
                on_fail=None,
            )
        for row in raw:
            status = row["status"]
            if status == "xfail" or (status == "passed" and row["expected_to_fail"]):
                reason = row["expected_to_fail_reason"] or ""
                if status == "passed":  # an expected failure that passed: stale entry
                    status, reason = "failed", f"listed as expected failure: {reason}"
            elif status in ("skipped", "failed"):
                exc = row["exception"]
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            else:
                reason = ""
            results.append(CheckResult(name, next(ids), status, reason))
        if verbose:
            print(f"{name}: {len(raw)} checks, {time.perf_counter() - start:.1f} s")
    return results


def summarize(results: Sequence[CheckResult]) -> dict[str, dict[str, int]]:
    """``{estimator: {status: count}}``, plus a ``"total"`` row."""
    table: dict[str, dict[str, int]] = {}
    for r in results:
        for key in (r.estimator, "total"):
            row = table.setdefault(key, dict.fromkeys(STATUS_LABELS, 0))
            row[r.status] += 1
    total = table.pop("total", dict.fromkeys(STATUS_LABELS, 0))
    table = dict(sorted(table.items()))
    table["total"] = total
    return table


def _list_table(
    header: list[str], rows: list[list[str]], widths: str = ""
) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", "   :class: compat-table"]
    if widths:
        lines.append(f"   :widths: {widths}")
    lines.append("")
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    lines.append("")
    return lines


def render_rst(results: Sequence[CheckResult]) -> str:
    """The compatibility page, deterministic for given results (no timings)."""
    estimators = sorted({r.estimator for r in results})
    checks = sorted({r.check for r in results})
    lines = _intro_lines(len(estimators), len(results))
    lines += _summary_lines(summarize(results))
    notes: dict[str, str] = {}  # reason text -> citation label
    lines += _matrix_lines(results, estimators, checks, notes)
    if notes:
        lines += ["Reasons", "-------", ""]
        for text, label in notes.items():
            lines.append(f".. [{label}] {_escape(text)}")
        lines.append("")
    return "\n".join(lines)


def _intro_lines(n_estimators: int, n_checks: int) -> list[str]:
    """The page's header, how it is made, and the summary's first line."""
    lines = [
        ".. This page is generated by ``python -m skres.utils._compat_table",
        "   docs/compatibility.rst``; do not edit it by hand.",
        "",
        "scikit-learn compatibility",
        "==========================",
        "",
        "Every public estimator is run through scikit-learn's own estimator checks",
        "(``sklearn.utils.estimator_checks.check_estimator(..., on_fail=None)``,",
        f"scikit-learn {sklearn.__version__}, ``SCIPY_ARRAY_API=1`` so that the",
        "array-API check runs) with the small parameters the test-suite uses",
        "(``skres.utils._testing``). A check that cannot pass for a genuine reason",
        "is listed, with that reason, in ``EXPECTED_FAILED_CHECKS``; nothing else may",
        "fail. ``tests/test_common.py`` runs the same checks with strict expected",
        "failures on every CI run, and ``tests/test_compat_table.py`` keeps this page",
        "in step with the checks and the list of expected failures.",
        "",
        "Regenerate it with::",
        "",
        "    python -m skres.utils._compat_table docs/compatibility.rst",
        "",
        "Summary",
        "-------",
        "",
        f"{n_estimators} estimators, {n_checks} estimator-check pairs.",
        "",
    ]
    return lines


def _summary_lines(summary: dict[str, dict[str, int]]) -> list[str]:
    """The per-estimator counts of each status, as a list-table."""
    header = ["Estimator", "checks", *STATUS_LABELS.values()]
    rows = [
        [
            f"``{name}``" if name != "total" else "**total**",
            str(sum(counts.values())),
            *(str(counts[s]) for s in STATUS_LABELS),
        ]
        for name, counts in summary.items()
    ]
    return _list_table(header, rows)


def _matrix_lines(
    results: Sequence[CheckResult],
    estimators: list[str],
    checks: list[str],
    notes: dict[str, str],
) -> list[str]:
    """The check-by-estimator table; fills ``notes`` with the reasons cited."""
    cell = {(r.estimator, r.check): r for r in results}
    lines = [
        "Checks by estimator",
        "-------------------",
        "",
        "``pass``: the check passed. ``xfail``: an expected failure, reason below.",
        "``skip``: the check does not apply (reason below). ``-``: sklearn does not",
        "run this check for this kind of estimator.",
        "",
    ]
    matrix_rows = []
    for check in checks:
        row = [f"``{check}``"]
        for name in estimators:
            hit = cell.get((name, check))
            if hit is None:
                row.append("-")
                continue
            text = STATUS_LABELS[hit.status]
            if hit.status != "passed":
                label = notes.setdefault(f"{text}: {hit.reason}", f"R{len(notes) + 1}")
                text = f"{text} [{label}]_"
            row.append(text)
        matrix_rows.append(row)
    short = [_abbreviate(n) for n in estimators]
    legend = "; ".join(f"{a} = ``{n}``" for a, n in zip(short, estimators, strict=True))
    lines += [f"Columns: {legend}.", ""]
    lines += _list_table(["Check", *short], matrix_rows)
    return lines


def _abbreviate(name: str) -> str:
    """Capitals of a CamelCase name (``NeuralEffectSearch`` -> ``NES``)."""
    caps = "".join(c for c in name if c.isupper())
    return caps if len(caps) >= 2 else name[:4]


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace("*", "\\*")
        .replace("`", "'")
        .replace("|", "\\|")
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run every check, write the page, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="docs/compatibility.rst")
    args = parser.parse_args(argv)
    if os.environ.get("SCIPY_ARRAY_API") != "1":
        # scipy reads SCIPY_ARRAY_API once, at import; without it sklearn skips its
        # array-API check. Run again in a fresh interpreter with it set.
        env = {**os.environ, "SCIPY_ARRAY_API": "1"}
        cmd = [sys.executable, "-m", "skres.utils._compat_table", args.output]
        return subprocess.run(cmd, env=env, check=False).returncode
    start = time.perf_counter()
    results = run_checks(verbose=True)
    with open(args.output, "w") as handle:
        handle.write(render_rst(results))
    for name, counts in summarize(results).items():
        print(f"{name:20s} " + " ".join(f"{k}={v}" for k, v in counts.items()))
    print(f"wrote {args.output} in {time.perf_counter() - start:.0f} s")
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        print(f"FAILED {r.estimator} {r.check}: {r.reason}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
