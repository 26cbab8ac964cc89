"""Average treatment effects from model predictions (prediction-powered ATE).

The estimators of "Prediction-Powered Causal Inferences" (Cadei et al., NeurIPS 2025)
§ 2.3: the difference in means, and the augmented inverse-propensity-weighted (AIPW)
estimator with any outcome model, on a sample whose outcome is a model's prediction
(or, for the ground truth, the annotated outcome). The treatment-effect bias
``ATE(y_pred) - ATE(y_true)`` is the paper's metric.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_positive_float, check_positive_int, check_treatment
from ._ate_inference import _folds, _point, _randomization, _t_inference
from ._ate_plan import (
    _aggregate,
    _as_2d,
    _check_options,
    _check_outcome,
    _Plan,
    _propensity_model,
    _resolve_cv,
    _same_length,
)

__all__ = [
    "ATEResult",
    "SmallSampleWarning",
    "prediction_powered_ate",
    "treatment_effect_bias",
]


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
        Degrees of freedom of the t reference distribution (NaN for
        ``inference="randomization"``).
    inference : str
        ``"t"`` or ``"randomization"``.
    n_folds : int
        Cross-fitting folds of the nuisance models (0 = fitted in-sample).
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
    inference: str = "t"
    n_folds: int = 0
    influence: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def t_statistic(self) -> float:
        """``ate / se``."""
        if self.se > 0:
            return self.ate / self.se
        return 0.0 if self.ate == 0 else float(np.copysign(np.inf, self.ate))

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
            f"  p-value: {self.alternative}, {self._reference()}",
        ]
        return "\n".join(lines)

    def _reference(self) -> str:
        if self.inference == "randomization":
            return "randomisation test (interval: constant effects not rejected)"
        folds = f"; nuisances cross-fitted over {self.n_folds} folds" * bool(
            self.n_folds
        )
        return f"t with {self.df:.1f} df{folds}"

    def __str__(self) -> str:
        return self.summary()


#: Per-arm units per fitted outcome-model parameter below which the t reference
#: is flagged as unreliable (measured: benchmarks/bench_ate.py, small-RCT table).
_MIN_UNITS_PER_PARAMETER = 10


def _small_sample_warning(
    plan: _Plan, T: np.ndarray, W: np.ndarray | None, inference: str
) -> None:
    """Warn when an arm has few units per fitted outcome-model parameter."""
    if plan.method == "dim" or W is None or inference == "randomization":
        return
    n_params = W.shape[1] + 1
    n_arm = int(min(T.sum(), T.size - T.sum()))
    if plan.n_folds:
        n_arm = int(n_arm * (plan.n_folds - 1) / plan.n_folds)
    if n_arm < _MIN_UNITS_PER_PARAMETER * n_params:
        warnings.warn(
            f"prediction_powered_ate: the smaller treatment arm has {n_arm} units "
            f"for an outcome model with {n_params} parameters per arm (covariates "
            f"+ intercept); below {_MIN_UNITS_PER_PARAMETER} units per parameter the "
            "influence-function standard error is too small and the t test "
            "over-rejects. Use inference='randomization' (exact in a randomised "
            "trial), fewer covariates, or method='dim'.",
            SmallSampleWarning,
            stacklevel=3,
        )


class SmallSampleWarning(UserWarning):
    """An arm is too small for the covariate adjustment's asymptotic t test."""


def prediction_powered_ate(
    y_pred: Any,
    treatment: Any,
    covariates: Any = None,
    *,
    method: str = "aipw",
    outcome_model: Any = None,
    propensity: Any = None,
    cv: int | str | None = "auto",
    clip: float = 1e-3,
    normalize_ipw: bool = True,
    groups: Any = None,
    agg: str = "sum",
    alpha: float = 0.05,
    alternative: str = "two-sided",
    inference: str = "t",
    n_permutations: int = 2000,
    random_state: Any = None,
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
    degrees of freedom (as ``scipy.stats.ttest_1samp(psi)``). With ``cv=K`` the
    outcome models ``mu_t`` and a fitted propensity model are *cross-fitted*: each
    unit's ``mu_t(W_i)`` and ``e(W_i)`` come from models fitted on the other
    ``K - 1`` folds, which keeps the influence-function standard error valid for
    flexible (overfitting) learners. ``method="dim"`` is the difference in means
    with the Neyman (Welch) standard error.

    Parameters
    ----------
    y_pred : array-like of shape (n_samples,)
        Predicted outcomes (e.g. ``DERMClassifier.predict_expected``), or the true
        outcomes for the ground-truth effect. Real numbers.
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
        interactions). Any regressor works when it is cross-fitted (``cv``); the
        default ``cv="auto"`` cross-fits every model passed here.
    propensity : None, "logistic", classifier, float or array-like, default=None
        ``None``: the sample share of treated units (a randomised trial).
        ``"logistic"`` or a classifier: fitted on ``covariates`` (observational
        data). A number or per-unit array: known propensities.
    cv : "auto", int or None, default="auto"
        Cross-fitting folds (stratified by treatment, shuffled with
        ``random_state``). ``"auto"``: 5 folds whenever ``outcome_model`` or
        ``propensity`` is an estimator object, in-sample fits for the default
        linear outcome model and ``"logistic"`` propensity (parametric models,
        for which in-sample fits are valid). ``None`` or 1: in-sample.
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
    inference : {"t", "randomization"}, default="t"
        ``"t"``: the influence-function standard error with a t reference
        (asymptotic). ``"randomization"``: Fisher's randomisation test of the sharp
        null of no effect for any unit, by re-randomising the treatment with the
        observed arm sizes (all assignments when there are at most
        ``n_permutations``, else a Monte-Carlo sample), and the interval of the
        constant effects it does not reject. Exact in a completely randomised
        trial at any sample size; needs ``propensity`` None or a number and the
        default linear outcome model.
    n_permutations : int, default=2000
        Re-randomisations of ``inference="randomization"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the cross-fitting folds and the re-randomisations.

    Returns
    -------
    ATEResult
        ``ate``, ``se``, ``ci``, ``p_value``, ``n_units`` and a ``summary()``.

    Raises
    ------
    ValueError
        When the estimate overflows (rescale ``y_pred``), an arm has fewer than 2
        units, or arguments disagree in length.

    Warns
    -----
    SmallSampleWarning
        When the smaller arm has fewer than 10 units per outcome-model parameter
        (covariates + 1) with ``inference="t"``: the t test then over-rejects.

    See Also
    --------
    treatment_effect_bias : ``ATE(y_pred) - ATE(y_true)``.

    Notes
    -----
    A zero standard error (e.g. a constant outcome) gives a degenerate interval
    ``(ate, ate)`` and p = 1 for a zero effect, p = 0 for a non-zero one.

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
    >>> small = prediction_powered_ate(y[:40], T[:40], inference="randomization",
    ...                                random_state=0)
    >>> small.inference
    'randomization'
    """
    alpha = _check_options(method, agg, alternative, normalize_ipw, alpha, inference)
    clip = check_positive_float(clip, "clip", allow_zero=True)
    if clip >= 0.5:
        raise ValueError(f"clip must be in [0, 0.5); got {clip}.")
    check_positive_int(n_permutations, "n_permutations")
    y = _check_outcome(y_pred)
    n = y.shape[0]
    T = check_treatment(_same_length(treatment, "treatment", n), n_samples=n)
    W = _as_2d(_same_length(covariates, "covariates", n), n)
    if groups is not None:
        y, T, W = _aggregate(y, T, W, _same_length(groups, "groups", n), agg)
        n = y.shape[0]
    n1 = int(T.sum())
    if min(n - n1, n1) < 2:
        raise ValueError(
            f"each treatment arm needs at least 2 units; got {n1} treated and "
            f"{n - n1} control."
        )
    plan = _Plan(
        method=method,
        outcome_model=outcome_model,
        propensity=_propensity_model(propensity, W, n),
        clip=clip,
        normalize_ipw=bool(normalize_ipw),
        n_folds=_resolve_cv(cv, outcome_model, propensity, W),
        random_state=random_state,
    )
    return _estimate(plan, y, T, W, alpha, alternative, inference, n_permutations)


def _estimate(
    plan: _Plan,
    y: np.ndarray,
    T: np.ndarray,
    W: np.ndarray | None,
    alpha: float,
    alternative: str,
    inference: str,
    n_permutations: int,
) -> ATEResult:
    """Estimate on ``y / scale`` (overflow-safe) and report on the caller's scale.

    ``scale`` is a power of two, so the rescaling is exact in binary floating point.
    """
    top = float(np.max(np.abs(y)))
    scale = float(np.ldexp(1.0, int(np.frexp(top)[1]) - 1)) if top > 0 else 1.0
    ys = y / scale
    if inference == "randomization" and plan.method == "aipw":
        if plan.outcome_model is not None or (
            plan.propensity is not None
            and not (
                isinstance(plan.propensity, np.ndarray) and np.ptp(plan.propensity) == 0
            )
        ):
            raise ValueError(
                "inference='randomization' needs a randomised trial and an outcome "
                "estimate linear in y_pred: propensity None or a number, and "
                "outcome_model=None (or method='dim')."
            )
    _small_sample_warning(plan, T, W, inference)
    folds = _folds(plan, T) if plan.method == "aipw" else []
    if np.ptp(ys) == 0:  # a constant outcome has no effect, exactly
        ate, se, df, psi = 0.0, 0.0, float(len(ys) - 1), None
        if plan.method == "aipw":
            psi = np.zeros(len(ys))
    else:
        ate, se, df, psi = _point(plan, ys, T, W, folds)
    if inference == "randomization" and se > 0:
        p, ci = _randomization(
            plan,
            ys,
            T,
            W,
            n_permutations=n_permutations,
            alpha=alpha,
            alternative=alternative,
            se=se,
        )
        df = float("nan")
    else:
        p, ci = _t_inference(ate, se, df, alpha, alternative, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.array([ate, se, *ci]) * scale
    if not np.all(np.isfinite(values[:2])) or np.any(np.isnan(values)):
        raise ValueError(
            "the treatment effect of y_pred overflows float64 (values up to "
            f"{scale:.3g}): rescale y_pred (e.g. divide by {scale:.3g})."
        )
    if not np.all(np.isfinite(values[2:])) and np.all(np.isfinite(ci)):
        raise ValueError(
            "the confidence interval of y_pred's effect overflows float64 (values up "
            f"to {scale:.3g}): rescale y_pred."
        )
    return ATEResult(
        ate=float(values[0]),
        se=float(values[1]),
        ci=(float(values[2]), float(values[3])),
        p_value=float(p),
        n_units=int(len(y)),
        n_treated=int(T.sum()),
        method=plan.method,
        alpha=alpha,
        alternative=alternative,
        df=df,
        inference=inference,
        n_folds=plan.n_folds,
        influence=None if psi is None else psi * scale,
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
