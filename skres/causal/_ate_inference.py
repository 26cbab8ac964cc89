"""AIPW and difference-in-means estimates with their t and randomisation inference."""

from __future__ import annotations

from itertools import combinations
from math import comb
from typing import Any

import numpy as np
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state

from ._ate_plan import _Plan


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
