"""Average treatment effects from model predictions (prediction-powered ATE).

The estimators of "Prediction-Powered Causal Inferences" (Cadei et al., NeurIPS 2025)
§ 2.3: the difference in means, and the augmented inverse-propensity-weighted (AIPW)
estimator with any outcome model, on a sample whose outcome is a model's prediction
(or, for the ground truth, the annotated outcome). The treatment-effect bias
``ATE(y_pred) - ATE(y_true)`` is the paper's metric.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import Any

import numpy as np
from scipy import stats
from sklearn.base import clone, is_classifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state

from .._validation import (
    check_groups,
    check_option,
    check_positive_float,
    check_positive_int,
    check_treatment,
    tensor_to_numpy,
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


def _folds(plan: _Plan, T: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs; in-sample is one pair with train = test = all."""
    n = T.shape[0]
    if plan.n_folds == 0:
        every = np.arange(n)
        return [(every, every)]
    n_min = int(min(T.sum(), n - T.sum()))
    if n_min < plan.n_folds:
        raise ValueError(
            f"cv={plan.n_folds} folds need at least {plan.n_folds} units in each "
            f"treatment arm; the smaller arm has {n_min}. Use fewer folds or cv=None."
        )
    splitter = StratifiedKFold(
        plan.n_folds, shuffle=True, random_state=_seed(plan.random_state)
    )
    return list(splitter.split(np.zeros(n), T))


def _seed(random_state: Any) -> int:
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _nuisances(
    plan: _Plan,
    Y: np.ndarray,
    T: np.ndarray,
    W: np.ndarray | None,
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``mu_1(W)``, ``mu_0(W)`` (each (n, q) for the q columns of ``Y``) and
    ``e(W)``, each predicted on the held-out fold of a model fitted on the others
    (or in-sample when ``plan.n_folds == 0``)."""
    n = T.shape[0]
    mu1, mu0 = np.empty_like(Y), np.empty_like(Y)
    e = np.full(n, T.mean())
    if isinstance(plan.propensity, np.ndarray):
        e = plan.propensity
    model = LinearRegression() if plan.outcome_model is None else plan.outcome_model
    for train, test in folds:
        Tt = T[train]
        for arm, out in ((1, mu1), (0, mu0)):
            rows = train[Tt == arm]
            if W is None:
                out[test] = Y[rows].mean(axis=0)
                continue
            target = Y[rows] if Y.shape[1] > 1 else Y[rows, 0]
            fitted = clone(model).fit(W[rows], target)
            out[test] = np.asarray(fitted.predict(W[test]), np.float64).reshape(
                len(test), -1
            )
        if plan.propensity is not None and not isinstance(plan.propensity, np.ndarray):
            prop = clone(plan.propensity).fit(W[train], Tt)  # type: ignore[index]
            e[test] = np.asarray(prop.predict_proba(W[test]))[:, 1]  # type: ignore[index]
    return mu1, mu0, np.clip(e, plan.clip, 1 - plan.clip)


def _influence(
    plan: _Plan,
    Y: np.ndarray,
    T: np.ndarray,
    W: np.ndarray | None,
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """AIPW influence values, shape (n, q), for every column of ``Y``."""
    mu1, mu0, e = _nuisances(plan, Y, T, W, folds)
    a1 = T / e
    a0 = (1 - T) / (1 - e)
    if plan.normalize_ipw:
        a1 = a1 / a1.mean()
        a0 = a0 / a0.mean()
    return mu1 - mu0 + a1[:, None] * (Y - mu1) - a0[:, None] * (Y - mu0)


def _point(
    plan: _Plan, y: np.ndarray, T: np.ndarray, W: np.ndarray | None, folds: Any
) -> tuple[float, float, float, np.ndarray | None]:
    """``(ate, se, df, influence)`` of the planned estimator."""
    n = T.shape[0]
    if plan.method == "dim":
        y1, y0 = y[T == 1], y[T == 0]
        n1, n0 = y1.size, y0.size
        v1, v0 = y1.var(ddof=1) / n1, y0.var(ddof=1) / n0
        denom = v1**2 / (n1 - 1) + v0**2 / (n0 - 1)
        df = float((v1 + v0) ** 2 / denom) if denom > 0 else float(n - 2)
        return float(y1.mean() - y0.mean()), float(np.sqrt(v1 + v0)), df, None
    psi = _influence(plan, y[:, None], T, W, folds)[:, 0]
    return float(psi.mean()), float(psi.std(ddof=1) / np.sqrt(n)), float(n - 1), psi


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


# --------------------------------------------------------- randomisation test
def _assignments(
    T: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """All assignments with the observed arm sizes when there are at most
    ``n_permutations`` of them (exact test), else Monte-Carlo permutations."""
    n, n1 = T.size, int(T.sum())
    if comb(n, n1) <= n_permutations:
        out = np.zeros((comb(n, n1), n), dtype=np.int64)
        for i, idx in enumerate(combinations(range(n), n1)):
            out[i, list(idx)] = 1
        return out, True
    return np.stack([rng.permutation(T) for _ in range(n_permutations)]), False


def _randomization(
    plan: _Plan,
    y: np.ndarray,
    T: np.ndarray,
    W: np.ndarray | None,
    *,
    n_permutations: int,
    alpha: float,
    alternative: str,
    se: float,
) -> tuple[float, tuple[float, float]]:
    """Fisher randomisation p-value of ``ATE = 0`` and the interval of the
    constant-additive-effect nulls it does not reject.

    The estimator is linear in the outcome for a fixed assignment ``pi``, so for
    the sharp null ``Y(1) = Y(0) + tau`` the centred statistic of ``pi`` is
    ``a_pi - tau * b_pi`` with ``a_pi = ATE_pi(Y)``, ``b_pi = ATE_pi(T)``.
    """
    rng = np.random.default_rng(_seed(plan.random_state))
    perms, exact = _assignments(T, n_permutations, rng)
    Y2 = np.column_stack([y, T.astype(np.float64)])
    a_obs, b_obs = _stats(plan, Y2, T[None, :], W)[0]
    a, b = _stats(plan, Y2, perms, W).T

    def p_at(tau: float, side: str = alternative) -> float:
        s_perm, s_obs = a - tau * b, a_obs - tau * b_obs
        tol = 1e-9 * (abs(s_obs) + np.abs(s_perm).max() + 1e-300)
        if side == "two-sided":
            hits = np.abs(s_perm) >= abs(s_obs) - tol
        elif side == "greater":
            hits = s_perm >= s_obs - tol
        else:
            hits = s_perm <= s_obs + tol
        count = int(hits.sum())
        return count / len(a) if exact else (count + 1) / (len(a) + 1)

    return p_at(0.0), _invert(p_at, a_obs, se, alpha)


def _stats(
    plan: _Plan, Y2: np.ndarray, perms: np.ndarray, W: np.ndarray | None
) -> np.ndarray:
    """The estimate for every column of ``Y2`` under every assignment in ``perms``,
    shape (n_perms, q); vectorised over assignments unless cross-fitted."""
    if plan.method == "aipw" and W is not None and plan.n_folds:
        return np.stack(
            [_influence(plan, Y2, pi, W, _folds(plan, pi)).mean(axis=0) for pi in perms]
        )
    P = perms.astype(np.float64)[:, :, None]  # (B, n, 1)
    if plan.method == "dim" or W is None:
        mu1 = (P * Y2).sum(1, keepdims=True) / P.sum(1, keepdims=True)
        mu0 = ((1 - P) * Y2).sum(1, keepdims=True) / (1 - P).sum(1, keepdims=True)
        if plan.method == "dim":
            return (mu1 - mu0)[:, 0]
        mu1, mu0 = np.broadcast_to(mu1, P.shape[:2] + Y2.shape[1:]), mu0
    else:
        mu1, mu0 = _batched_ols(perms, Y2, W)
    e = np.full(perms.shape[1], perms[0].mean())
    if isinstance(plan.propensity, np.ndarray):
        e = plan.propensity
    e = np.clip(e, plan.clip, 1 - plan.clip)
    a1, a0 = P / e[:, None], (1 - P) / (1 - e[:, None])
    if plan.normalize_ipw:
        a1, a0 = a1 / a1.mean(1, keepdims=True), a0 / a0.mean(1, keepdims=True)
    psi = mu1 - mu0 + a1 * (Y2 - mu1) - a0 * (Y2 - mu0)
    return psi.mean(axis=1)


def _batched_ols(
    perms: np.ndarray, Y: np.ndarray, W: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-arm least-squares predictions (intercept + slopes, minimum-norm slopes as
    ``LinearRegression``) for a batch of assignments: two (B, n, q) arrays."""
    out = []
    for arm in (1, 0):
        idx = np.stack([np.flatnonzero(p == arm) for p in perms])  # (B, n_arm)
        Xa, Ya = W[idx], Y[idx]  # (B, n_arm, k), (B, n_arm, q)
        xm, ym = Xa.mean(1, keepdims=True), Ya.mean(1, keepdims=True)
        coef = np.linalg.pinv(Xa - xm) @ (Ya - ym)  # (B, k, q)
        out.append(ym + (W[None] - xm) @ coef)
    return out[0], out[1]


def _invert(p_at: Any, centre: float, se: float, alpha: float) -> tuple[float, float]:
    """Endpoints of ``{tau : p(tau) > alpha}`` by bracketing and bisection."""
    step = se if se > 0 else max(abs(centre), 1.0)
    ends = []
    for sign in (-1.0, 1.0):
        inside, width = centre, step
        outside = centre + sign * width
        for _ in range(60):
            if p_at(outside, "two-sided") <= alpha:
                break
            inside, width = outside, width * 2
            outside = centre + sign * width
        else:
            ends.append(sign * np.inf)
            continue
        for _ in range(60):
            mid = 0.5 * (inside + outside)
            if p_at(mid, "two-sided") > alpha:
                inside = mid
            else:
                outside = mid
        ends.append(inside)
    return float(ends[0]), float(ends[1])


def _p_value(t: float, df: float, alternative: str) -> float:
    if alternative == "two-sided":
        return float(2 * stats.t.sf(abs(t), df))
    if alternative == "greater":
        return float(stats.t.sf(t, df))
    return float(stats.t.cdf(t, df))


def _t_inference(
    ate: float, se: float, df: float, alpha: float, alternative: str, scale: float
) -> tuple[float, tuple[float, float]]:
    """p-value and interval from the t reference; a zero standard error gives a
    degenerate interval and p = 0 (non-zero effect) or 1 (zero effect)."""
    tiny = 64 * np.finfo(np.float64).eps * scale
    if se <= tiny:
        if abs(ate) <= tiny:
            return 1.0, (ate, ate)
        positive = ate > 0
        reject = {
            "two-sided": True,
            "greater": positive,
            "less": not positive,
        }[alternative]
        return (0.0 if reject else 1.0), (ate, ate)
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    return _p_value(ate / se, df, alternative), (ate - crit * se, ate + crit * se)


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
