"""prediction_powered_ate / treatment_effect_bias: spec D8, options, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

from skres.causal import prediction_powered_ate, treatment_effect_bias
from skres.causal.ate import ATEResult


def _rct(n, rng, tau=0.5):
    T = rng.randint(0, 2, n)
    W = rng.standard_normal((n, 2))
    y = 1 + tau * T + W @ [1.0, -0.5] + T * W[:, 0] * 0.7 + rng.standard_normal(n)
    return y, T, W


def test_d8_difference_in_means_is_exact():
    rng = np.random.RandomState(0)
    y, T, _ = _rct(300, rng)
    res = prediction_powered_ate(y, T, method="dim")
    assert res.ate == y[T == 1].mean() - y[T == 0].mean()
    se = np.sqrt(
        y[T == 1].var(ddof=1) / T.sum() + y[T == 0].var(ddof=1) / (T == 0).sum()
    )
    assert res.se == pytest.approx(se, rel=1e-12)
    welch = stats.ttest_ind(y[T == 1], y[T == 0], equal_var=False)
    assert res.p_value == pytest.approx(welch.pvalue, rel=1e-9)


def test_d8_aipw_unbiased_with_nominal_coverage():
    # 200 sims (the spec's number); 3-sigma binomial band of 0.95 at 200 sims is
    # [0.904, 0.996], inside which the spec's [0.92, 0.98] sits.
    rng = np.random.RandomState(1)
    tau, n_sims = 0.5, 200
    est, ses = np.empty(n_sims), np.empty(n_sims)
    covered = np.empty(n_sims, dtype=bool)
    for s in range(n_sims):
        y, T, W = _rct(400, rng, tau)
        res = prediction_powered_ate(y, T, W)
        est[s], ses[s] = res.ate, res.se
        covered[s] = res.ci[0] <= tau <= res.ci[1]
    mc_se = est.std(ddof=1) / np.sqrt(n_sims)
    assert abs(est.mean() - tau) <= 3 * mc_se
    assert 0.92 <= covered.mean() <= 0.98
    # The influence-function SE matches the sampling spread of the estimate.
    assert 0.85 <= ses.mean() / est.std(ddof=1) <= 1.15


@settings(max_examples=30, deadline=None)
@given(n=st.integers(10, 200), seed=st.integers(0, 10_000))
def test_aipw_without_covariates_equals_difference_in_means(n, seed):
    rng = np.random.RandomState(seed)
    T = np.r_[0, 0, 1, 1, rng.randint(0, 2, n)]
    y = rng.standard_normal(T.size) + T
    aipw = prediction_powered_ate(y, T)
    dim = prediction_powered_ate(y, T, method="dim")
    assert aipw.ate == pytest.approx(dim.ate, abs=1e-10)
    # influence values average to the estimate
    assert aipw.influence.mean() == pytest.approx(aipw.ate, abs=1e-12)
    # a constant shift of the outcome leaves the effect unchanged
    shifted = prediction_powered_ate(y + 3.0, T)
    assert shifted.ate == pytest.approx(aipw.ate, abs=1e-9)


def test_influence_function_standard_error_and_one_sample_t():
    rng = np.random.RandomState(2)
    y, T, W = _rct(250, rng)
    res = prediction_powered_ate(y, T, W, alternative="greater")
    psi = res.influence
    assert res.se == pytest.approx(psi.std(ddof=1) / np.sqrt(250))
    ref = stats.ttest_1samp(psi, 0.0, alternative="greater")
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    two = prediction_powered_ate(y, T, W)
    assert two.p_value == pytest.approx(2 * min(res.p_value, 1 - res.p_value))


def test_observational_propensity_options_remove_confounding():
    rng = np.random.RandomState(3)
    n = 4000
    W = rng.randint(0, 2, n).astype(float)
    T = (rng.uniform(size=n) < 0.1 + 0.8 * W).astype(int)
    y = 2.0 * W + 1.0 * T + rng.standard_normal(n)
    naive = prediction_powered_ate(y, T, method="dim").ate
    assert naive > 2.0  # confounded by W
    for prop in ("logistic", LogisticRegression(), 0.1 + 0.8 * W):
        res = prediction_powered_ate(y, T, W, propensity=prop)
        assert abs(res.ate - 1.0) < 4 * res.se
    # A flexible (here under-fitted) outcome model works too: doubly robust.
    gb = prediction_powered_ate(
        y,
        T,
        W,
        outcome_model=GradientBoostingRegressor(n_estimators=20),
        propensity="logistic",
    )
    assert abs(gb.ate - 1.0) < 4 * gb.se
    # Unnormalised (Horvitz-Thompson) IPW terms are also consistent.
    ht = prediction_powered_ate(y, T, W, propensity="logistic", normalize_ipw=False)
    assert abs(ht.ate - 1.0) < 4 * ht.se


def test_groups_aggregate_frames_to_units():
    rng = np.random.RandomState(4)
    n_units, frames = 40, 5
    unit_T = np.r_[np.zeros(20, int), np.ones(20, int)]
    groups = np.repeat(np.arange(n_units), frames)
    T = unit_T[groups]
    y = rng.poisson(1 + T)
    res = prediction_powered_ate(y, T, groups=groups, method="dim")
    sums = np.bincount(groups, weights=y)
    assert res.n_units == n_units
    assert res.ate == pytest.approx(sums[20:].mean() - sums[:20].mean())
    mean = prediction_powered_ate(y, T, groups=groups, agg="mean", method="dim")
    assert mean.ate == pytest.approx(res.ate / frames)
    W = rng.standard_normal(n_units * frames)
    with_w = prediction_powered_ate(y, T, W, groups=groups)
    assert with_w.n_units == n_units
    T_bad = T.copy()
    T_bad[0] = 1
    with pytest.raises(ValueError, match="within a group"):
        prediction_powered_ate(y, T_bad, groups=groups)


def test_summary_is_readable():
    rng = np.random.RandomState(5)
    y, T, W = _rct(200, rng)
    res = prediction_powered_ate(y, T, W)
    text = res.summary()
    assert "AIPW" in text and "95% CI" in text and "200" in text
    assert f"{res.ate:.4f}" in text and str(res) == text
    assert isinstance(res, ATEResult) and "ate=" in repr(res)


def test_treatment_effect_bias_is_the_difference_of_effects():
    rng = np.random.RandomState(6)
    y, T, W = _rct(300, rng)
    pred = y + 0.3 * T  # a predictor that adds 0.3 to the treated
    bias = treatment_effect_bias(pred, y, T, W)
    assert bias == pytest.approx(0.3, abs=1e-9)
    assert treatment_effect_bias(y, y, T, W, method="dim") == 0.0


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1]), {}, ValueError, "single arm"),
        (([1.0, 2.0, 3.0], [0, 1, 0, 1]), {}, ValueError, "same length"),
        (([1.0, np.nan, 3.0, 4.0], [0, 1, 0, 1]), {}, ValueError, "NaN"),
        (([1.0, 2.0, 3.0, 4.0], [0, 2, 0, 1]), {}, ValueError, "binary"),
        (([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1]), {"alpha": 1.5}, ValueError, "alpha"),
        (([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1]), {"method": "x"}, ValueError, "method"),
        (([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1]), {"agg": "max"}, ValueError, "agg"),
        (([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 0]), {}, ValueError, "at least 2"),
        (
            ([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1], np.ones((3, 1))),
            {},
            ValueError,
            "covariates",
        ),
        (
            ([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1]),
            {"propensity": 1.5},
            ValueError,
            "propensity",
        ),
        (
            ([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1], np.ones(4)),
            {"propensity": LinearRegression()},
            TypeError,
            "classifier",
        ),
    ],
)
def test_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        prediction_powered_ate(*args, **kwargs)
