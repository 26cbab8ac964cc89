"""prediction_powered_ate / treatment_effect_bias: spec D8, options, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeRegressor

from skres.causal import prediction_powered_ate, treatment_effect_bias
from skres.causal.ate import ATEResult, SmallSampleWarning


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


# ------------------------------------------------ cross-fitting (issue 24)
def test_cv_auto_cross_fits_passed_models_only():
    rng = np.random.RandomState(10)
    y, T, W = _rct(200, rng)
    assert prediction_powered_ate(y, T, W).n_folds == 0
    assert prediction_powered_ate(y, T, W, propensity="logistic").n_folds == 0
    tree = DecisionTreeRegressor(random_state=0)
    assert prediction_powered_ate(y, T, W, outcome_model=tree).n_folds == 5
    clf = LogisticRegression()
    assert prediction_powered_ate(y, T, W, propensity=clf).n_folds == 5
    assert prediction_powered_ate(y, T, W, outcome_model=tree, cv=None).n_folds == 0
    assert prediction_powered_ate(y, T, W, cv=3).n_folds == 3
    assert prediction_powered_ate(y, T, cv=3).n_folds == 0  # nothing to fit
    a = prediction_powered_ate(y, T, W, outcome_model=tree, random_state=4)
    b = prediction_powered_ate(y, T, W, outcome_model=tree, random_state=4)
    assert a.ate == b.ate and a.se == b.se
    assert a.influence.mean() == pytest.approx(a.ate, abs=1e-12)
    assert "cross-fitted over 5 folds" in a.summary()


def test_cross_fitting_repairs_the_standard_error_of_an_overfitting_model():
    # A fully grown tree interpolates its arm: in-sample residuals are 0 and the
    # influence-function SE is far too small; cross-fitted it tracks the spread.
    n_sims, tau = 60, 1.0
    est = {None: [], 5: []}
    ses = {None: [], 5: []}
    for s in range(n_sims):
        rng = np.random.RandomState(100 + s)
        W = rng.standard_normal((300, 2))
        e = 1 / (1 + np.exp(-W[:, 0]))
        T = (rng.uniform(size=300) < e).astype(int)
        y = np.sin(2 * W[:, 0]) + W[:, 1] + tau * T + rng.standard_normal(300)
        for cv in (None, 5):
            res = prediction_powered_ate(
                y,
                T,
                W,
                outcome_model=DecisionTreeRegressor(min_samples_leaf=1),
                propensity="logistic",
                cv=cv,
                random_state=s,
            )
            est[cv].append(res.ate)
            ses[cv].append(res.se)
    ratio = {cv: np.mean(ses[cv]) / np.std(est[cv], ddof=1) for cv in est}
    assert ratio[None] < 0.8
    assert 0.8 <= ratio[5] <= 1.3
    assert abs(np.mean(est[5]) - tau) <= 3 * np.std(est[5], ddof=1) / np.sqrt(n_sims)


def test_cv_needs_enough_units_per_arm():
    y = np.arange(8.0)
    T = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    W = np.arange(8.0)
    with pytest.raises(ValueError, match="cv=5"):
        prediction_powered_ate(y, T, W, cv=5)
    with pytest.raises(ValueError, match="cv"):
        prediction_powered_ate(y, T, W, cv=0)


# ----------------------------------------- randomisation inference (issue 24)
def test_randomization_p_value_is_the_exact_enumeration():
    from itertools import combinations

    rng = np.random.RandomState(11)
    T = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    y = rng.standard_normal(8) + T
    res = prediction_powered_ate(y, T, method="dim", inference="randomization")
    obs = y[T == 1].mean() - y[T == 0].mean()
    stats_all = []
    for idx in combinations(range(8), 4):
        pi = np.zeros(8, int)
        pi[list(idx)] = 1
        stats_all.append(y[pi == 1].mean() - y[pi == 0].mean())
    expected = np.mean(np.abs(stats_all) >= abs(obs) - 1e-12)
    assert res.p_value == pytest.approx(expected)
    assert np.isnan(res.df) and res.inference == "randomization"
    assert res.ci[0] <= res.ate <= res.ci[1]
    assert "randomisation test" in res.summary()


def test_randomization_test_keeps_its_level_in_tiny_trials():
    rejections = 0
    n_sims = 150
    for s in range(n_sims):
        rng = np.random.RandomState(200 + s)
        T = np.r_[np.ones(5, int), np.zeros(5, int)]
        W = rng.standard_normal((10, 2))
        y = W.sum(1) + rng.standard_normal(10)
        res = prediction_powered_ate(
            y, T, W, inference="randomization", n_permutations=300, random_state=s
        )
        rejections += res.p_value < 0.05
    assert rejections / n_sims <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / n_sims)


def test_randomization_interval_covers_a_constant_effect():
    rng = np.random.RandomState(12)
    covered = 0
    for s in range(40):
        T = rng.permutation(np.r_[np.ones(15, int), np.zeros(15, int)])
        W = rng.standard_normal((30, 1))
        y = 2.0 * T + W[:, 0] + rng.standard_normal(30)
        res = prediction_powered_ate(
            y, T, W, inference="randomization", n_permutations=400, random_state=s
        )
        covered += res.ci[0] <= 2.0 <= res.ci[1]
        assert res.ci[0] < res.ate < res.ci[1]
    assert covered >= 34


def test_randomization_rejects_what_it_cannot_justify():
    rng = np.random.RandomState(13)
    y, T, W = _rct(60, rng)
    with pytest.raises(ValueError, match="randomization"):
        prediction_powered_ate(
            y, T, W, inference="randomization", outcome_model=DecisionTreeRegressor()
        )
    with pytest.raises(ValueError, match="randomization"):
        prediction_powered_ate(
            y, T, W, inference="randomization", propensity="logistic"
        )
    with pytest.raises(ValueError, match="inference"):
        prediction_powered_ate(y, T, W, inference="bootstrap")


# -------------------------------------------- small samples (issue 24)
@pytest.mark.parametrize(("n_arm", "k"), [(3, 2), (3, 3), (20, 15), (20, 5)])
def test_small_arms_relative_to_covariates_warn(n_arm, k):
    rng = np.random.RandomState(n_arm + k)
    T = np.r_[np.ones(n_arm, int), np.zeros(n_arm, int)]
    W = rng.standard_normal((2 * n_arm, k))
    y = rng.standard_normal(2 * n_arm)
    with pytest.warns(SmallSampleWarning, match="randomization"):
        prediction_powered_ate(y, T, W)


def test_large_arms_do_not_warn():
    rng = np.random.RandomState(14)
    y, T, W = _rct(400, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prediction_powered_ate(y, T, W)
        prediction_powered_ate(y[:12], T[:12], method="dim")


# ------------------------------------------- silent failures (issue 20)
def test_zero_standard_error_and_constant_outcome_are_defined():
    T = np.array([0, 0, 0, 1, 1, 1])
    res = prediction_powered_ate(T * 2.0, T)  # a certain effect of 2
    assert res.se == 0 and res.ate == 2.0
    assert res.p_value == 0.0 and res.ci == (2.0, 2.0)
    assert prediction_powered_ate(T * 2.0, T, alternative="less").p_value == 1.0
    const = prediction_powered_ate(np.full(6, 3.0), T, np.arange(6.0))
    assert (const.ate, const.se, const.p_value) == (0.0, 0.0, 1.0)
    assert np.isfinite(const.t_statistic)
    dim = prediction_powered_ate(np.full(6, 3.0), T, method="dim")
    assert dim.p_value == 1.0


def test_complex_outcome_is_rejected():
    with pytest.raises(TypeError, match="y_pred is complex"):
        prediction_powered_ate(np.array([1, 2, 3, 4]) + 1j, [0, 1, 0, 1])


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e150, 1e300])
def test_results_scale_with_the_outcome(scale):
    rng = np.random.RandomState(15)
    y, T, W = _rct(200, rng)
    base = prediction_powered_ate(y, T, W)
    res = prediction_powered_ate(y * scale, T, W)
    assert res.ate == pytest.approx(base.ate * scale, rel=1e-9)
    assert res.se == pytest.approx(base.se * scale, rel=1e-9)
    assert res.p_value == pytest.approx(base.p_value, rel=1e-9)


def test_overflow_is_a_clear_error():
    y = np.array([-1.7e308, -1.7e308, -1.7e308, 1.7e308, 1.7e308, 1.7e308])
    with pytest.raises(ValueError, match="overflows float64"):
        prediction_powered_ate(y, [0, 0, 0, 1, 1, 1], method="dim")


def test_length_errors_name_the_functions_arguments():
    with pytest.raises(ValueError, match="treatment has 3 entries but y_pred has 4"):
        prediction_powered_ate([1.0, 2, 3, 4], [0, 1, 0])
    with pytest.raises(ValueError, match="groups has 3 entries but y_pred has 4"):
        prediction_powered_ate([1.0, 2, 3, 4], [0, 1, 0, 1], groups=[0, 1, 2])
    with pytest.raises(ValueError, match="covariates has 3 entries but y_pred"):
        prediction_powered_ate([1.0, 2, 3, 4], [0, 1, 0, 1], np.ones((3, 2)))
