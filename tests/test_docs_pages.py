"""The documentation pages: every Python code block runs, tables are valid reST, no
internal references, and the developers' "Where things live" table is complete.

Each page's Python blocks (``.. code-block:: python`` and ``::`` literal blocks that
parse as Python) run in order in one namespace, like a doctest. A block that needs
the network, a GPU or minutes of compute carries an rst comment just above it::

    .. skres-docs-test: skip -- <reason>

and a page whose blocks together take more than a few seconds carries, anywhere on
the page, ``.. skres-docs-test: slow -- <reason>`` (then it runs only with the
``slow`` tests).
"""

from __future__ import annotations

import ast
import os
import re
import warnings
from pathlib import Path

import pytest
import sklearn

from skres.utils import all_estimators

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted([*DOCS.glob("*.rst"), *(DOCS / "estimators").glob("*.rst")])
MARKER = re.compile(r"^\s*\.\. skres-docs-test:\s*(skip|slow)\s*--\s*(\S.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _python_blocks(text: str) -> list[tuple[int, str, str | None]]:
    """``(line number, code, skip reason or None)`` for each Python block of a page."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        is_directive = re.match(r"^\.\. code-block::\s*(python|pycon)\s*$", stripped)
        is_literal = (
            stripped.endswith("::")
            and not stripped.startswith("..")
            and not re.match(r"^\.\. \S+::", stripped)
        )
        if not (is_directive or is_literal):
            continue
        base = _indent(line)
        j = i + 1
        while j < len(lines) and (
            not lines[j].strip() or lines[j].strip().startswith(":")
        ):
            if lines[j].strip() and is_literal:
                break
            j += 1
        body = []
        while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
            body.append(lines[j])
            j += 1
        code = _dedent(body)
        if not code.strip():
            continue
        if is_literal and not _is_python(code):
            continue
        blocks.append((i + 1, code, _skip_reason(lines, i)))
    return blocks


def _dedent(body: list[str]) -> str:
    width = min((_indent(b) for b in body if b.strip()), default=0)
    return "\n".join(b[width:] for b in body).strip("\n") + "\n"


def _is_python(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return bool(re.search(r"\bimport\b|=|\(", code))


def _skip_reason(lines: list[str], i: int) -> str | None:
    k = i - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    if k >= 0:
        m = MARKER.match(lines[k])
        if m and m.group(1) == "skip":
            return m.group(2)
    return None


def _page_slow_reason(text: str) -> str | None:
    for line in text.splitlines():
        m = MARKER.match(line)
        if m and m.group(1) == "slow":
            return m.group(2)
    return None


def _page_params():
    params = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        if not _python_blocks(text):
            continue
        marks = [pytest.mark.slow] if _page_slow_reason(text) else []
        params.append(pytest.param(page, marks=marks, id=str(page.relative_to(DOCS))))
    return params


@pytest.mark.parametrize("page", _page_params())
def test_page_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    for lineno, code, skip in _python_blocks(page.read_text(encoding="utf-8")):
        if skip is not None:
            continue
        # config_context restores sklearn's global config (pages call
        # set_config(enable_metadata_routing=True)), so nothing leaks into the
        # tests that later run in the same worker.
        with warnings.catch_warnings(), sklearn.config_context():
            warnings.simplefilter("ignore")
            try:
                exec(compile(code, f"{page.name}:{lineno}", "exec"), namespace)
            except Exception as exc:  # pragma: no cover - the failure report
                raise AssertionError(
                    f"{page.relative_to(ROOT)} block at line {lineno} failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        ran += 1
    if ran == 0:
        pytest.skip("every block of this page is marked skip")


def test_markers_have_reasons():
    for page in PAGES:
        for line in page.read_text(encoding="utf-8").splitlines():
            if "skres-docs-test" in line:
                assert MARKER.match(line), f"{page.name}: malformed marker {line!r}"


def test_block_extraction_finds_blocks():
    text = (
        "Intro::\n\n   x = 1\n\nShell::\n\n   python -m foo\n\n"
        ".. skres-docs-test: skip -- needs a GPU\n\n"
        ".. code-block:: python\n\n   y = x + 1\n\nEnd.\n"
    )
    blocks = _python_blocks(text)
    assert [(code, skip) for _, code, skip in blocks] == [
        ("x = 1\n", None),
        ("y = x + 1\n", "needs a GPU"),
    ]


# ------------------------------------------------------------------- reST hygiene
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_no_markdown_tables_or_spec_references(page):
    text = page.read_text(encoding="utf-8")
    pipe_rows = [
        line for line in text.splitlines() if re.match(r"^\s*\|.*\|\s*$", line)
    ]
    separators = [line for line in pipe_rows if re.match(r"^\s*\|[\s:|-]+\|\s*$", line)]
    assert not separators, f"{page.name}: Markdown pipe table: {separators[:2]}"
    assert not re.search(r"spec\s*§|§\s*\d", text), (
        f"{page.name}: internal spec reference"
    )


# ------------------------------------------------------------- where things live
def _where_table() -> dict[str, list[str]]:
    text = (DOCS / "developers.rst").read_text(encoding="utf-8")
    section = text.split("Where things live\n", 1)[1].split("\n---", 1)[0]
    section = section.rsplit("\n", 2)[0]
    rows: dict[str, list[str]] = {}
    current = None
    for line in section.splitlines():
        m = re.match(r"^   \* - ``(\w+)``\s*$", line)
        if m:
            current = m.group(1)
            rows[current] = []
            continue
        m = re.match(r"^     - ``([^`]+)``\s*$", line)
        if m and current is not None:
            rows[current].append(m.group(1))
    return rows


def test_where_things_live_table():
    rows = _where_table()
    names = {name for name, _ in all_estimators()}
    assert names <= set(rows), f"missing rows: {sorted(names - set(rows))}"
    for name, cls in all_estimators():
        cells = rows[name]
        assert len(cells) == 5, f"{name}: expected 5 files, got {cells}"
        for path in cells:
            assert (ROOT / path).is_file(), f"{name}: {path} does not exist"
        module_file = cls.__module__.replace(".", os.sep) + ".py"
        assert cells[0] == module_file.replace(os.sep, "/"), (
            f"{name}: defined in {module_file}, table says {cells[0]}"
        )
