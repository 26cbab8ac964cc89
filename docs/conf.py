"""Sphinx configuration for skres (builds offline: no intersphinx)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, os.path.abspath(".."))

import skres  # noqa: E402

#: The API reference lists every public name of these modules; it is written from
#: their ``__all__`` at each build, so new estimators appear without editing it.
API_MODULES = (
    "skres.causal",
    "skres.interpretability",
    "skres.dynamics",
    "skres.distillation",
    "skres.solvers",
    "skres.datasets",
    "skres.plotting",
    "skres.utils",
)


def _write_api_reference(path: str) -> None:
    import importlib

    lines = ["API reference", "=============", ""]
    for name in API_MODULES:
        public = sorted(importlib.import_module(name).__all__, key=str.lower)
        if not public:
            continue
        lines += [
            name,
            "-" * len(name),
            "",
            f".. currentmodule:: {name}",
            "",
            ".. autosummary::",
            "   :toctree: generated",
            "   :nosignatures:",
            "",
            *(f"   {item}" for item in public),
            "",
        ]
    text = "\n".join(lines)
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as handle:
            handle.write(text)


_write_api_reference(os.path.join(os.path.dirname(__file__), "api.rst"))

project = "skres"
author = "The skres developers"
copyright = "2026, The skres developers"
release = skres.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
# sklearn's generated set_*_request methods document themselves with references to
# sklearn's own glossary; they are described once in the getting-started page.
_REQUEST_METHODS = ", ".join(
    f"set_{m}_request"
    for m in (
        "fit",
        "transform",
        "score",
        "predict",
        "predict_proba",
        "decision_function",
        "inverse_transform",
        "partial_fit",
        "split",
    )
)
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    "exclude-members": _REQUEST_METHODS,
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

templates_path: list[str] = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "pydata_sphinx_theme"
html_title = f"skres {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list[str] = []
nitpicky = False
