"""The only module that touches private scikit-learn helpers.

Private sklearn helpers have moved or vanished between releases and broken
downstream libraries (imbalanced-learn, PySINDy). Each one used by skres is
imported here behind ``try/except`` with a local fallback written against public
API only, and ``tests/test_compat.py`` imports every name so a sklearn upgrade
that removes one shows up as a failing test rather than a user's traceback.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Declarative parameter validation (private; sklearn >= 1.2, skres needs >= 1.7).
# There is no public equivalent to fall back on: a sklearn release that moves
# these fails tests/test_compat.py, which imports every name, not a user's fit.
from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    generate_invalid_param_val,
    make_constraint,
    validate_parameter_constraints,
)

try:  # sklearn >= 1.2; private.
    from sklearn.utils._set_output import _get_output_config as _sk_get_output_config
except ImportError:  # pragma: no cover - exercised only on a future sklearn
    _sk_get_output_config = None


def transform_output(estimator: Any) -> str:
    """The dense container ``estimator.transform`` is configured to return.

    ``"default"`` (ndarray), ``"pandas"`` or ``"polars"``, from
    ``estimator.set_output(transform=...)`` or the global ``set_config``.

    Parameters
    ----------
    estimator : estimator instance

    Returns
    -------
    str
    """
    if _sk_get_output_config is not None:
        return str(_sk_get_output_config("transform", estimator)["dense"])
    from sklearn import get_config  # pragma: no cover - future sklearn

    config = getattr(estimator, "_sklearn_output_config", {})  # pragma: no cover
    return str(config.get("transform", get_config()["transform_output"]))


try:  # sklearn >= 1.0; private.
    from sklearn.utils.validation import _check_sample_weight as _sk_check_sample_weight
except ImportError:  # pragma: no cover - exercised only on a future sklearn
    _sk_check_sample_weight = None


def check_sample_weight(
    sample_weight: Any, X: Any, *, dtype: Any = None, ensure_non_negative: bool = True
) -> np.ndarray:
    """Validate ``sample_weight`` against ``X``; ``None`` gives ones.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), float or None
        Per-sample weights. A scalar is broadcast.
    X : array-like or sparse matrix of shape (n_samples, ...)
        The data the weights belong to (only its number of rows is used).
    dtype : numpy dtype, default=None
        Output dtype; float64 when ``None``.
    ensure_non_negative : bool, default=True
        Raise ``ValueError`` on negative weights.

    Returns
    -------
    numpy.ndarray of shape (n_samples,)
    """
    n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
    if _sk_check_sample_weight is not None:
        return _sk_check_sample_weight(
            sample_weight, X, dtype=dtype, ensure_non_negative=ensure_non_negative
        )
    dtype = np.float64 if dtype is None else dtype
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    weights = np.asarray(sample_weight, dtype=dtype)
    if weights.ndim == 0:
        weights = np.full(n_samples, weights, dtype=dtype)
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {weights.shape}, expected {(n_samples,)}!"
        )
    if ensure_non_negative and np.any(weights < 0):
        raise ValueError("Negative values in data passed to `sample_weight`")
    return weights


__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "check_sample_weight",
    "fit_context",
    "generate_invalid_param_val",
    "make_constraint",
    "validate_parameter_constraints",
]

#: ``@fit_context(prefer_skip_nested_validation=...)``: validates the estimator's
#: ``_parameter_constraints`` once at the start of the decorated ``fit``.
fit_context = _fit_context
