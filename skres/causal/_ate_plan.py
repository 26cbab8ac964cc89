"""Input checks, unit aggregation and the estimation plan of the ATE estimators."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.linear_model import LogisticRegression

from .._validation import (
    check_groups,
    check_option,
    check_positive_float,
    tensor_to_numpy,
)


def _check_outcome(y_pred: Any) -> np.ndarray:
    """``y_pred`` as a finite real float64 vector (complex and object rejected)."""
    if y_pred is None:
        raise ValueError("y_pred is required; got None.")
    y = np.asarray(tensor_to_numpy(y_pred))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y_pred must be 1-D of shape (n_samples,); got {y.shape}.")
    if np.iscomplexobj(y):
        raise TypeError(
            "y_pred is complex: the treatment effect is defined for real outcomes; "
            "pass the real part (y_pred.real) or the modulus explicitly."
        )
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise TypeError(f"y_pred must be numeric; got dtype {y.dtype}.")
    y = y.astype(np.float64)
    if not np.all(np.isfinite(y)):
        raise ValueError("y_pred contains NaN or infinity.")
    return y


def _same_length(values: Any, name: str, n: int) -> Any:
    """Raise when a per-sample argument's length differs from ``y_pred``'s."""
    if values is None:
        return None
    arr = tensor_to_numpy(values)
    length = len(arr) if not np.isscalar(arr) and np.ndim(arr) > 0 else None
    if length is not None and length != n:
        raise ValueError(
            f"{name} has {length} entries but y_pred has {n}; they must have the "
            "same length."
        )
    return values


def _as_2d(covariates: Any, n: int) -> np.ndarray | None:
    if covariates is None:
        return None
    W = np.asarray(tensor_to_numpy(covariates))
    if np.iscomplexobj(W):
        raise TypeError("covariates is complex; pass real-valued covariates.")
    W = W.astype(np.float64)
    if W.ndim == 1:
        W = W[:, None]
    if W.ndim != 2 or W.shape[0] != n:
        raise ValueError(
            f"covariates must have shape (n_samples, n_covariates) with n_samples={n}"
            f" (the length of y_pred); got shape {W.shape}."
        )
    if not np.all(np.isfinite(W)):
        raise ValueError("covariates contains NaN or infinity.")
    return W


def _aggregate(
    y: np.ndarray,
    T: np.ndarray,
    W: np.ndarray | None,
    groups: Any,
    agg: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Sum or average predictions per unit; treatment must be constant per unit."""
    codes, labels = check_groups(groups, n_samples=y.shape[0])
    g = labels.size
    counts = np.bincount(codes, minlength=g).astype(np.float64)
    y_sum = np.bincount(codes, weights=y, minlength=g)
    y_unit = y_sum if agg == "sum" else y_sum / counts
    t_mean = np.bincount(codes, weights=T, minlength=g) / counts
    if np.any((t_mean > 0) & (t_mean < 1)):
        raise ValueError(
            "treatment varies within a group: every row of a unit (groups) must have "
            "the same treatment."
        )
    W_unit = None
    if W is not None:
        W_unit = (
            np.stack([np.bincount(codes, weights=w, minlength=g) for w in W.T], axis=1)
            / counts[:, None]
        )
    return y_unit, t_mean.astype(np.int64), W_unit


# ------------------------------------------------------------ nuisance models
@dataclass
class _Plan:
    """What the AIPW estimator fits, resolved from the arguments once."""

    method: str
    outcome_model: Any
    propensity: Any  # None, a fitted-per-fold classifier, or an (n,) array
    clip: float
    normalize_ipw: bool
    n_folds: int  # 0 = in-sample nuisance fits
    random_state: Any


def _propensity_model(propensity: Any, W: np.ndarray | None, n: int) -> Any:
    """A classifier to fit, ``None`` (sample share) or a fixed (n,) array."""
    if propensity is None:
        return None
    if isinstance(propensity, str):
        check_option(propensity, "propensity", ("logistic",))
        return None if W is None else LogisticRegression()
    if hasattr(propensity, "fit"):
        if not is_classifier(propensity) or not hasattr(propensity, "predict_proba"):
            raise TypeError(
                "a propensity model must be a classifier with predict_proba."
            )
        if W is None:
            raise ValueError("a propensity model needs covariates.")
        return propensity
    e = np.asarray(tensor_to_numpy(propensity), dtype=np.float64)
    if e.ndim == 0:
        e = np.full(n, float(e))
    if e.shape != (n,) or not np.all((e > 0) & (e < 1)):
        raise ValueError(
            "propensity must be None, 'logistic', a classifier, a number in (0, 1) or "
            f"an array of shape ({n},) with values in (0, 1)."
        )
    return e


def _resolve_cv(cv: Any, outcome_model: Any, propensity: Any, W: Any) -> int:
    """Number of cross-fitting folds (0 = in-sample nuisance fits)."""
    if isinstance(cv, str):
        check_option(cv, "cv", ("auto",))
        flexible = outcome_model is not None or (
            hasattr(propensity, "fit") and not isinstance(propensity, str)
        )
        return 5 if (flexible and W is not None) else 0
    if cv is None:
        return 0
    if isinstance(cv, bool) or not isinstance(cv, numbers.Integral) or int(cv) < 1:
        raise ValueError(f"cv must be 'auto', None or an integer >= 1; got {cv!r}.")
    return 0 if int(cv) == 1 or W is None else int(cv)


def _check_options(
    method: str,
    agg: str,
    alternative: str,
    normalize_ipw: bool,
    alpha: float,
    inference: str,
) -> float:
    check_option(method, "method", ("aipw", "dim"))
    check_option(agg, "agg", ("sum", "mean"))
    check_option(alternative, "alternative", ("two-sided", "greater", "less"))
    check_option(normalize_ipw, "normalize_ipw", (True, False))
    check_option(inference, "inference", ("t", "randomization"))
    alpha = check_positive_float(alpha, "alpha")
    if alpha >= 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
    return alpha
