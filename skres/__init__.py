"""skres: scikit-learn estimators for recent research methods, with PyTorch underneath.

Every public estimator is importable from its domain subpackage (``skres.causal``,
``skres.interpretability``, ``skres.dynamics``, ``skres.distillation``) and, lazily,
from the top level::

    >>> from skres.causal import SparseAutoencoder
    >>> import skres
    >>> skres.SparseAutoencoder is SparseAutoencoder
    True

``import skres`` itself is light: it imports neither torch, transformers nor
matplotlib; a subpackage is imported the first time one of its names is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

#: Subpackages whose ``__all__`` is re-exported lazily at the top level.
_PUBLIC_SUBPACKAGES = (
    "causal",
    "interpretability",
    "dynamics",
    "distillation",
    "solvers",
    "datasets",
)

__all__ = ["__version__", *_PUBLIC_SUBPACKAGES, "plotting", "utils"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC_SUBPACKAGES or name in ("plotting", "utils"):
        return importlib.import_module(f"{__name__}.{name}")
    for subpackage in _PUBLIC_SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{subpackage}")
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
