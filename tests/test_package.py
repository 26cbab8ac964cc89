"""Package-level contracts: light imports, discovery, version, public API."""

from __future__ import annotations

import subprocess
import sys

import pytest

import skres
from skres.utils import all_estimators


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout


def test_import_skres_is_light():
    # Import speed is a benchmark (python -m benchmarks claims); the test checks
    # the cause of a slow import instead: no heavy module is loaded by ``import skres``.
    heavy = ("transformers", "matplotlib", "torch", "sklearn", "scipy", "pandas")
    out = _run(
        f"import sys, skres; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_importing_every_estimator_keeps_heavy_optional_deps_out():
    out = _run(
        "import sys, skres; from skres.utils import all_estimators; "
        "all_estimators(); import skres.plotting, skres.datasets; "
        "print(sorted(m for m in ('transformers', 'matplotlib') "
        "if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_lazy_top_level_exports():
    from skres.causal import SparseAutoencoder

    assert skres.SparseAutoencoder is SparseAutoencoder
    assert "causal" in dir(skres)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        skres.Nope  # noqa: B018


def test_version():
    assert isinstance(skres.__version__, str) and skres.__version__


def test_all_estimators_filters():
    names = dict(all_estimators())
    assert "SparseAutoencoder" in names
    assert dict(all_estimators("transformer")).keys() <= names.keys()
    assert "SparseAutoencoder" not in dict(all_estimators("regressor"))
    with pytest.raises(ValueError, match="type_filter must be among"):
        all_estimators("forecaster")
