"""Average treatment effects from model predictions (prediction-powered ATE).

The estimators of "Prediction-Powered Causal Inferences" (Cadei et al., NeurIPS 2025)
§ 2.3: the difference in means, and the augmented inverse-propensity-weighted (AIPW)
estimator with any outcome model, on a sample whose outcome is a model's prediction
(or, for the ground truth, the annotated outcome). The treatment-effect bias
``ATE(y_pred) - ATE(y_true)`` is the paper's metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from sklearn.base import clone, is_classifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from .._validation import (
    check_groups,
    check_option,
    check_positive_float,
    check_side_array,
    check_treatment,
    tensor_to_numpy,
)

__all__ = ["ATEResult", "prediction_powered_ate", "treatment_effect_bias"]


@dataclass(frozen=True)
class ATEResult:
    """An average treatment effect with its standard error and test.

    Attributes
    ----------
    ate : float
        The estimate.
    se : float
        Standard error.
    ci : tuple of float
        ``(low, high)`` two-sided ``1 - alpha`` confidence interval.
    p_value : float
        p-value of ``ATE = 0`` against ``alternative``.
    n_units : int
        Number of units (after aggregation over ``groups``).
    n_treated : int
        Treated units.
    method : str
        ``"aipw"`` or ``"dim"``.
    alpha : float
        Level of the interval.
    alternative : str
        ``"two-sided"``, ``"greater"`` or ``"less"``.
    df : float
        Degrees of freedom of the t reference distribution.
    influence : ndarray of shape (n_units,)
        Per-unit influence values ``psi`` (AIPW; ``ate = mean(psi)``), or ``None``
        for the difference in means.
    """

    ate: float
    se: float
    ci: tuple[float, float]
    p_value: float
    n_units: int
    n_treated: int
    method: str
    alpha: float
    alternative: str
    df: float
    influence: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def t_statistic(self) -> float:
        """``ate / se``."""
        return self.ate / self.se if self.se > 0 else float("nan")

    def summary(self) -> str:
        """A readable one-table summary of the estimate.

        Returns
        -------
        str
        """
        name = {"aipw": "AIPW", "dim": "difference in means"}[self.method]
        level = f"{100 * (1 - self.alpha):g}% CI"
        lines = [
            f"Average treatment effect ({name})",
            f"  units: {self.n_units} ({self.n_treated} treated, "
            f"{self.n_units - self.n_treated} control)",
            f"  {'estimate':>10} {'std err':>10} {'t':>8} {'p-value':>10}   {level}",
            f"  {self.ate:>10.4f} {self.se:>10.4f} {self.t_statistic:>8.3f} "
            f"{self.p_value:>10.3g}   [{self.ci[0]:.4f}, {self.ci[1]:.4f}]",
            f"  p-value: {self.alternative}, t with {self.df:.1f} df",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _as_2d(covariates: Any, n: int) -> np.ndarray | None:
    if covariates is None:
        return None
    W = np.asarray(tensor_to_numpy(covariates), dtype=np.float64)
    if W.ndim == 1:
        W = W[:, None]
    if W.ndim != 2 or W.shape[0] != n:
        raise ValueError(
            f"covariates must have shape (n_samples, n_covariates) with n_samples={n};"
            f" got shape {W.shape}."
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


def _propensity(propensity: Any, T: np.ndarray, W: np.ndarray | None) -> np.ndarray:
    n = T.shape[0]
    if propensity is None:
        return np.full(n, T.mean())
    if isinstance(propensity, str):
        check_option(propensity, "propensity", ("logistic",))
        if W is None:
            return np.full(n, T.mean())
        propensity = LogisticRegression()
    if hasattr(propensity, "fit"):
        if not is_classifier(propensity) or not hasattr(propensity, "predict_proba"):
            raise TypeError(
                "a propensity model must be a classifier with predict_proba."
            )
        if W is None:
            raise ValueError("a propensity model needs covariates.")
        model = clone(propensity).fit(W, T)
        return np.asarray(model.predict_proba(W))[:, 1]
    e = np.asarray(tensor_to_numpy(propensity), dtype=np.float64)
    if e.ndim == 0:
        e = np.full(n, float(e))
    if e.shape != (n,) or not np.all((e > 0) & (e < 1)):
        raise ValueError(
            "propensity must be None, 'logistic', a classifier, a number in (0, 1) or "
            f"an array of shape ({n},) with values in (0, 1)."
        )
    return e


def _arm_predictions(
    outcome_model: Any, y: np.ndarray, T: np.ndarray, W: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """``mu_1(W)`` and ``mu_0(W)``: one outcome model per arm (full T x W
    interactions for a linear model); arm means without covariates."""
    n = y.shape[0]
    if W is None:
        return np.full(n, y[T == 1].mean()), np.full(n, y[T == 0].mean())
    model = LinearRegression() if outcome_model is None else outcome_model
    mus = []
    for arm in (1, 0):
        mask = T == arm
        fitted = clone(model).fit(W[mask], y[mask])
        mus.append(np.asarray(fitted.predict(W), dtype=np.float64).ravel())
    return mus[0], mus[1]


def _p_value(t: float, df: float, alternative: str) -> float:
    if not np.isfinite(t):
        return float("nan")
    if alternative == "two-sided":
        return float(2 * stats.t.sf(abs(t), df))
    if alternative == "greater":
        return float(stats.t.sf(t, df))
    return float(stats.t.cdf(t, df))


def prediction_powered_ate(
    y_pred: Any,
    treatment: Any,
    covariates: Any = None,
    *,
    method: str = "aipw",
    outcome_model: Any = None,
    propensity: Any = None,
    clip: float = 1e-3,
    normalize_ipw: bool = True,
    groups: Any = None,
    agg: str = "sum",
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> ATEResult:
    """Average treatment effect of ``treatment`` on a (predicted) outcome.

    ``method="aipw"`` computes per-unit influence values

    .. math::

        \\psi_i = \\hat\\mu_1(W_i) - \\hat\\mu_0(W_i)
        + \\frac{T_i (Y_i - \\hat\\mu_1(W_i)) / \\hat e_i}{\\overline{T/\\hat e}}
        - \\frac{(1 - T_i)(Y_i - \\hat\\mu_0(W_i)) / (1 - \\hat e_i)}
        {\\overline{(1-T)/(1-\\hat e)}},

    with the Hájek normalisation of the IPW terms (``normalize_ipw``), and returns
    ``mean(psi)`` with ``SE = sd(psi) / sqrt(n)`` and a t reference with ``n - 1``
    degrees of freedom (as ``scipy.stats.ttest_1samp(psi)``). ``method="dim"`` is
    the difference in means with the Neyman (Welch) standard error.

    Parameters
    ----------
    y_pred : array-like of shape (n_samples,)
        Predicted outcomes (e.g. ``DERMClassifier.predict_expected``), or the true
        outcomes for the ground-truth effect.
    treatment : array-like of shape (n_samples,)
        Binary treatment (1 = treated).
    covariates : array-like of shape (n_samples, n_covariates), default=None
        Adjustment set ``W`` for AIPW; ``None`` reduces AIPW to the difference in
        means.
    method : {"aipw", "dim"}, default="aipw"
        Estimator.
    outcome_model : regressor, default=None
        Fitted (cloned) separately in each arm on ``covariates``; ``None`` uses
        ``LinearRegression`` (a linear model with full treatment x covariate
        interactions). Any regressor works (the paper uses gradient boosting).
    propensity : None, "logistic", classifier, float or array-like, default=None
        ``None``: the sample share of treated units (a randomised trial).
        ``"logistic"`` or a classifier: fitted on ``covariates`` (observational
        data). A number or per-unit array: known propensities.
    clip : float, default=1e-3
        Propensities are clipped to ``[clip, 1 - clip]``.
    normalize_ipw : bool, default=True
        Hájek-normalise the IPW terms.
    groups : array-like of shape (n_samples,), default=None
        Unit ids (e.g. the video of each frame): predictions and covariates are
        aggregated per unit first, and the unit is the sampling unit.
    agg : {"sum", "mean"}, default="sum"
        How ``y_pred`` is aggregated over the rows of a unit (covariates are
        averaged).
    alpha : float, default=0.05
        The confidence interval has level ``1 - alpha``.
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        Alternative hypothesis of the p-value (the paper reports a one-sided one).

    Returns
    -------
    ATEResult
        ``ate``, ``se``, ``ci``, ``p_value``, ``n_units`` and a ``summary()``.

    See Also
    --------
    treatment_effect_bias : ``ATE(y_pred) - ATE(y_true)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skres.causal import prediction_powered_ate
    >>> rng = np.random.default_rng(0)
    >>> T = rng.integers(0, 2, 1000)
    >>> W = rng.normal(size=1000)
    >>> y = 0.5 * T + W + rng.normal(size=1000)
    >>> res = prediction_powered_ate(y, T, W)
    >>> round(res.ate, 2), res.ci[0] < 0.5 < res.ci[1]
    (0.59, True)
    """
    check_option(method, "method", ("aipw", "dim"))
    check_option(agg, "agg", ("sum", "mean"))
    check_option(alternative, "alternative", ("two-sided", "greater", "less"))
    check_option(normalize_ipw, "normalize_ipw", (True, False))
    alpha = check_positive_float(alpha, "alpha")
    if alpha >= 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
    clip = check_positive_float(clip, "clip", allow_zero=True)
    if clip >= 0.5:
        raise ValueError(f"clip must be in [0, 0.5); got {clip}.")
    y = np.asarray(tensor_to_numpy(y_pred))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y_pred must be 1-D; got shape {y.shape}.")
    n = y.shape[0]
    y = check_side_array(y, name="y_pred", n_samples=n, numeric=True).astype(np.float64)
    T = check_treatment(treatment, n_samples=n)
    W = _as_2d(covariates, n)
    if groups is not None:
        y, T, W = _aggregate(y, T, W, groups, agg)
        n = y.shape[0]
    n1 = int(T.sum())
    n0 = n - n1
    if min(n0, n1) < 2:
        raise ValueError(
            f"each treatment arm needs at least 2 units; got {n1} treated and {n0} "
            "control."
        )
    influence = None
    if method == "dim":
        y1, y0 = y[T == 1], y[T == 0]
        ate = float(y1.mean() - y0.mean())
        v1, v0 = y1.var(ddof=1) / n1, y0.var(ddof=1) / n0
        se = float(np.sqrt(v1 + v0))
        denom = v1**2 / (n1 - 1) + v0**2 / (n0 - 1)
        df = float((v1 + v0) ** 2 / denom) if denom > 0 else float(n - 2)
    else:
        e = np.clip(_propensity(propensity, T, W), clip, 1 - clip)
        mu1, mu0 = _arm_predictions(outcome_model, y, T, W)
        a1 = T / e
        a0 = (1 - T) / (1 - e)
        if normalize_ipw:
            a1 = a1 / a1.mean()
            a0 = a0 / a0.mean()
        influence = mu1 - mu0 + a1 * (y - mu1) - a0 * (y - mu0)
        ate = float(influence.mean())
        se = float(influence.std(ddof=1) / np.sqrt(n))
        df = float(n - 1)
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    t_stat = ate / se if se > 0 else float("nan")
    return ATEResult(
        ate=ate,
        se=se,
        ci=(ate - crit * se, ate + crit * se),
        p_value=_p_value(t_stat, df, alternative),
        n_units=int(n),
        n_treated=n1,
        method=method,
        alpha=alpha,
        alternative=alternative,
        df=df,
        influence=influence,
    )


def treatment_effect_bias(
    y_pred: Any,
    y_true: Any,
    treatment: Any,
    covariates: Any = None,
    **kwargs: Any,
) -> float:
    """Treatment-effect bias ``ATE(y_pred) - ATE(y_true)`` (the paper's TEB).

    Both effects use the same estimator, options and units, so the bias isolates
    what the predictions add.

    Parameters
    ----------
    y_pred : array-like of shape (n_samples,)
        Predicted outcomes.
    y_true : array-like of shape (n_samples,)
        True (annotated) outcomes.
    treatment : array-like of shape (n_samples,)
        Binary treatment.
    covariates : array-like of shape (n_samples, n_covariates), default=None
        Adjustment set.
    **kwargs : dict
        Passed to :func:`prediction_powered_ate` (``method``, ``propensity``,
        ``groups``...).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from skres.causal import treatment_effect_bias
    >>> T = np.array([0, 0, 1, 1])
    >>> treatment_effect_bias([0.0, 0.0, 1.0, 1.0], [0, 1, 1, 1], T, method="dim")
    0.5
    """
    pred = prediction_powered_ate(y_pred, treatment, covariates, **kwargs)
    true = prediction_powered_ate(y_true, treatment, covariates, **kwargs)
    return pred.ate - true.ate
