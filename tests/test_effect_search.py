"""NeuralEffectSearch: spec nes_derm.md section 6, N1-N10, N12-N14, with the spec's
thresholds (the floor) plus other sizes and seeds, kernels, API and bad input.

Monte-Carlo tests: 200 simulations where the spec asks for them (N4, N5); one fit
of the default search on n=1152, m=200 takes about 10 ms, so the whole file stays
cheap. The naive baselines of the paradox tests are read off the same fits
(``first_round_significant_`` is the per-neuron Bonferroni set), and the batched
first-round kernel is checked against scipy for many simulations in one call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from skres.causal import NeuralEffectSearch, SparseAutoencoder
from skres.causal._net import (
    RoundDesign,
    make_strata,
    quantile_bins,
    t_test_from_parts,
    welch_batched,
)
from skres.datasets import (
    make_embedding_trial,
    make_leaky_gaussian_trial,
    make_paradox_trial,
    make_sparse_code_trial,
)

ALPHA = 0.05
FWER_TOL = ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / 200)  # 0.096 (spec N4/N5)
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _single_thread():
    with threadpool_limits(1):
        yield


def _nes(**params):
    return NeuralEffectSearch(device="cpu", **params)


# -------------------------------------------------------------------------- N1
@pytest.mark.parametrize(
    "make",
    [
        lambda: make_leaky_gaussian_trial(72, random_state=0)[:2],
        lambda: make_sparse_code_trial(500, random_state=1)[:2],
        lambda: make_paradox_trial(3000, n_features=30, random_state=2)[:2],
    ],
)
def test_first_round_is_welch_t_test(make):
    Z, T = make()
    nes = _nes().fit(Z, T)
    ref = stats.ttest_ind(Z[T == 1], Z[T == 0], equal_var=False)
    ok = np.isfinite(ref.pvalue)
    assert ok.mean() > 0.95
    np.testing.assert_allclose(nes.p_values_[ok], ref.pvalue[ok], rtol=1e-8)
    np.testing.assert_allclose(
        nes.effects_ / nes.std_errors_, ref.statistic, rtol=1e-8, atol=1e-12
    )
    np.testing.assert_allclose(nes.dofs_[ok], ref.df[ok], rtol=1e-8)
    np.testing.assert_allclose(
        nes.effects_, Z[T == 1].mean(0) - Z[T == 0].mean(0), atol=1e-12
    )


def test_welch_batched_matches_scipy_across_simulations():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((25, 40, 7))
    T = np.stack([rng.permutation(np.arange(40) % 2) for _ in range(25)]).astype(bool)
    tau, var, den = (
        p.numpy() for p in welch_batched(torch.as_tensor(Y), torch.as_tensor(T))
    )
    _, _, dof, p = t_test_from_parts(tau, var, den)
    for i in range(25):
        ref = stats.ttest_ind(Y[i][T[i]], Y[i][~T[i]], equal_var=False)
        np.testing.assert_allclose(p[i], ref.pvalue, rtol=1e-10)
        np.testing.assert_allclose(dof[i], ref.df, rtol=1e-10)


@settings(max_examples=30, deadline=None)
@given(
    n1=st.integers(2, 12),
    n0=st.integers(2, 12),
    m=st.integers(1, 5),
    scale=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**31 - 1),
)
def test_welch_kernel_property(n1, n0, m, scale, seed):
    rng = np.random.default_rng(seed)
    Y = scale * rng.standard_normal((n1 + n0, m)) + rng.normal(size=m)
    T = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
    tau, var, den = (
        p.numpy() for p in welch_batched(torch.as_tensor(Y), torch.as_tensor(T))
    )
    _, t, dof, p = t_test_from_parts(tau, var, den)
    ref = stats.ttest_ind(Y[T], Y[~T], equal_var=False)
    np.testing.assert_allclose(t, ref.statistic, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(p, ref.pvalue, rtol=1e-7, atol=1e-12)
    assert np.all((dof >= min(n1, n0) - 1 - 1e-9) & (dof <= n1 + n0 - 2 + 1e-9))


# -------------------------------------------------------------------------- N2
def _hand_stratified(Y, T, cell, min_arm=2):
    """Post-stratified Welch contrast by hand, one column, stratum by stratum."""
    kept = []
    for g in np.unique(cell):
        y1, y0 = Y[(cell == g) & (T == 1)], Y[(cell == g) & (T == 0)]
        if len(y1) >= min_arm and len(y0) >= min_arm:
            kept.append((len(y1) + len(y0), y1, y0))
    total = sum(k[0] for k in kept)
    tau = V = den = 0.0
    for n_g, y1, y0 in kept:
        w = n_g / total
        a = w**2 * np.var(y1, ddof=1) / len(y1)
        b = w**2 * np.var(y0, ddof=1) / len(y0)
        tau += w * (y1.mean() - y0.mean())
        V += a + b
        den += a**2 / (len(y1) - 1) + b**2 / (len(y0) - 1)
    return tau, V, V**2 / den


def test_post_stratified_contrast_by_hand():
    rng = np.random.default_rng(3)
    # Two strata of sizes 9+7 and 6+8, plus a third one with a single treated unit
    # (dropped, weights renormalised over the other two).
    cell = np.repeat([0, 0, 1, 1, 2, 2], [9, 7, 6, 8, 1, 5])
    T = np.repeat([1, 0, 1, 0, 1, 0], [9, 7, 6, 8, 1, 5]).astype(bool)
    Y = rng.standard_normal((len(T), 3)) + 2.0 * cell[:, None] + T[:, None]
    design = RoundDesign(
        treated=T,
        cell=cell,
        levels=np.zeros((len(T), 0)),
        residualize=None,
        min_arm=2,
        device=CPU,
    )
    assert design.n_cells == 2 and design.n_units_kept == 30
    tau, V, den = design.stats(torch.as_tensor(Y))
    for j in range(3):
        h_tau, h_V, h_df = _hand_stratified(Y[:, j], T, cell)
        assert tau[j] == pytest.approx(h_tau, abs=1e-10)
        assert V[j] == pytest.approx(h_V, abs=1e-10)
        assert V[j] ** 2 / den[j] == pytest.approx(h_df, rel=1e-10)


def test_ols_contrast_matches_per_arm_regression():
    """Single stratum: tau = difference of the per-arm OLS intercepts at the pooled
    mean of Z_S, with the exact OLS variance (statsmodels) and df n_t - rank."""
    import statsmodels.api as sm

    rng = np.random.default_rng(4)
    n = 60
    T = (np.arange(n) % 2).astype(bool)
    X = rng.standard_normal((n, 2)) + T[:, None]
    Y = 0.7 * X[:, :1] - 0.3 * X[:, 1:] + 0.5 * T[:, None] + rng.standard_normal((n, 1))
    design = RoundDesign(
        treated=T,
        cell=np.zeros(n, dtype=np.int64),
        levels=X,
        residualize="ols",
        min_arm=2,
        device=CPU,
    )
    tau, V, den = design.stats(torch.as_tensor(Y))
    Xc = X - X.mean(0)
    fits = [sm.OLS(Y[T == t, 0], sm.add_constant(Xc[T == t])).fit() for t in (1, 0)]
    assert tau[0] == pytest.approx(fits[0].params[0] - fits[1].params[0], abs=1e-10)
    v = [f.bse[0] ** 2 for f in fits]
    assert V[0] == pytest.approx(v[0] + v[1], rel=1e-10)
    assert den[0] == pytest.approx(v[0] ** 2 / 27 + v[1] ** 2 / 27, rel=1e-10)


def test_ols_with_strata_matches_lin_regression():
    """Two strata: OLS on cell indicators + slopes on the cell-centred Z_S per arm;
    tau = sum_g w_g (c_1g - c_0g), checked against statsmodels."""
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    n = 80
    T = (np.arange(n) % 2).astype(bool)
    x = rng.standard_normal(n) + T
    cell = (x > np.median(x)).astype(np.int64)
    y = 0.8 * x + 0.4 * T + rng.standard_normal(n)
    design = RoundDesign(
        treated=T,
        cell=cell,
        levels=x[:, None],
        residualize="ols",
        min_arm=2,
        device=CPU,
    )
    tau, V, _ = design.stats(torch.as_tensor(y[:, None]))
    G = np.eye(2)[cell]
    xc = x - (G @ (G.T @ x / G.sum(0)))
    w = G.sum(0) / n
    est, var = [], []
    for t in (1, 0):
        fit = sm.OLS(y[T == t], np.column_stack([G[T == t], xc[T == t]])).fit()
        a = np.r_[w, 0.0]
        est.append(a @ fit.params)
        var.append(a @ fit.cov_params() @ a)
    assert tau[0] == pytest.approx(est[0] - est[1], abs=1e-10)
    assert V[0] == pytest.approx(var[0] + var[1], rel=1e-10)


# -------------------------------------------------------------------------- N3
def test_strata_cap_coarsens_until_cells_are_large_enough():
    rng = np.random.default_rng(1)
    T = np.repeat([False, True], 36)
    levels = rng.standard_normal((72, 4))
    cell, k, q = make_strata(levels, T, n_strata=2, min_per_cell=3)
    for arm in (T, ~T):
        counts = np.bincount(cell[arm], minlength=cell.max() + 1)
        assert counts.min() >= 3
    assert 1 <= k < 4 and q == 2
    # A finer request is coarsened the same way.
    cell3, k3, q3 = make_strata(levels, T, n_strata=3, min_per_cell=3)
    for arm in (T, ~T):
        assert np.bincount(cell3[arm], minlength=cell3.max() + 1).min() >= 3


def test_sparse_neuron_splits_into_zero_and_active():
    rng = np.random.default_rng(1)
    T = np.repeat([False, True], 36)
    sparse = np.where(rng.random(72) < 0.7, 0.0, rng.random(72))
    cell, k, q = make_strata(sparse[:, None], T)
    assert (k, q) == (1, 2)
    np.testing.assert_array_equal(cell, (sparse > 0).astype(int))


def test_two_active_units_collapse_to_one_stratum():
    T = np.repeat([False, True], 36)
    cell, k, q = make_strata(np.r_[np.zeros(70), 1.0, 2.0][:, None], T)
    assert (k, q) == (0, 1) and np.all(cell == 0)


def test_uncapped_strata_use_every_cell_and_positive_bins():
    rng = np.random.default_rng(2)
    T = np.repeat([False, True], 50)
    levels = rng.standard_normal((100, 3))
    cell, k, q = make_strata(levels, T, cap=False)
    assert (k, q) == (3, 2) and cell.max() + 1 == len(np.unique(cell)) <= 8
    pos, k, q = make_strata(levels, T, cap=False, positive=True)
    codes = (levels > 0) @ np.array([4, 2, 1])
    assert len(np.unique(pos)) == len(np.unique(codes))
    assert np.all([len(np.unique(codes[pos == c])) == 1 for c in np.unique(pos)])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(8, 60),
    k=st.integers(1, 4),
    q=st.integers(2, 4),
    min_per_cell=st.integers(1, 4),
    sparsity=st.floats(0, 0.9),
    seed=st.integers(0, 2**31 - 1),
)
def test_strata_property_every_cell_large_enough_or_single(
    n, k, q, min_per_cell, sparsity, seed
):
    rng = np.random.default_rng(seed)
    T = rng.permutation(np.arange(n) % 2).astype(bool)
    levels = rng.standard_normal((n, k)) * (rng.random((n, k)) > sparsity)
    cell, used, q_used = make_strata(levels, T, n_strata=q, min_per_cell=min_per_cell)
    assert cell.shape == (n,) and cell.min() == 0
    assert set(np.unique(cell)) == set(range(cell.max() + 1))
    if used == 0:
        assert np.all(cell == 0) and q_used == 1
    else:
        assert 1 <= used <= k and 2 <= q_used <= q
        for arm in (T, ~T):
            assert (
                np.bincount(cell[arm], minlength=cell.max() + 1).min() >= min_per_cell
            )
    # Strata are treatment-agnostic functions of the levels: equal rows share a cell.
    first = {}
    for row, c in zip(map(tuple, levels[:, :used]), cell, strict=True):
        assert first.setdefault(row, c) == c


@settings(max_examples=30, deadline=None)
@given(x=st.lists(st.floats(-5, 5), min_size=2, max_size=40), q=st.integers(2, 5))
def test_quantile_bins_property(x, q):
    x = np.asarray(x)
    bins = quantile_bins(x, q)
    assert bins.min() >= 0 and bins.max() <= q - 1
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(bins[order]) >= 0)  # monotone in x
    if np.median(x) == x.min() and q == 2:
        np.testing.assert_array_equal(bins, (x > x.min()).astype(int))


# ------------------------------------------------------------------------ N4, N5
def _first_round_rejects(Zs, Ts):
    """Does the first round (Welch, Bonferroni over the m neurons) reject anything,
    for every simulation at once? ``S`` is non-empty iff it does."""
    tau, var, den = (
        p.numpy() for p in welch_batched(torch.as_tensor(Zs), torch.as_tensor(Ts))
    )
    p = t_test_from_parts(tau, var, den)[3]
    return (p < ALPHA / Zs.shape[2]).any(axis=1)


@pytest.mark.parametrize("n", [72, 1152])
def test_global_null_family_wise_error(n):
    data = [
        make_leaky_gaussian_trial(n, effects=(0, 0), random_state=s)[:2]
        for s in range(200)
    ]
    Zs = np.stack([d[0] for d in data])
    Ts = np.stack([d[1] for d in data]).astype(bool)
    any_selected = _first_round_rejects(Zs, Ts)  # vectorised over the 200 sims
    assert np.mean(any_selected) <= FWER_TOL
    # The estimator agrees with the batched computation, sim by sim.
    for s in list(np.flatnonzero(any_selected)[:5]) + list(range(10)):
        nes = _nes().fit(Zs[s], Ts[s].astype(int))
        assert (len(nes.selected_features_) > 0) == any_selected[s]


@pytest.mark.parametrize(
    ("n", "d1", "n_sims"), [(72, 2.0, 200), (1152, 1.0, 200), (288, 1.5, 40)]
)
def test_partial_null_later_rounds_keep_their_level(n, d1, n_sims):
    found, false = [], []
    for s in range(n_sims):
        Z, T, _ = make_leaky_gaussian_trial(n, effects=(d1, 0), random_state=1000 + s)
        sel = set(_nes().fit(Z, T).selected_features_.tolist())
        found.append(0 in sel)
        false.append(len(sel - {0}) > 0)
    assert np.mean(found) >= 0.99
    assert np.mean(false) <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / n_sims)


def test_plugin_residuals_are_anti_conservative_where_ols_is_not():
    """The paper's plug-in recipe (stratify only) does not remove continuous leakage:
    at n=1152 stratification alone keeps selecting leaky neurons; exact OLS does not."""
    fp = {None: [], "ols": []}
    for s in range(20):
        Z, T, _ = make_leaky_gaussian_trial(1152, effects=(1.0, 0), random_state=s)
        for mode in fp:
            sel = set(_nes(residualize=mode).fit(Z, T).selected_features_.tolist())
            fp[mode].append(len(sel - {0}) > 0)
    assert np.mean(fp[None]) >= 0.5
    assert np.mean(fp["ols"]) <= 0.2


# ------------------------------------------------------------------------ N6, N7
def test_paradox_grows_with_n_while_nes_recovers_the_truth():
    leaky_flagged, exact, naive_fdp = {}, {}, {}
    for n in (72, 288, 1152):
        flagged, hits, fdp = [], [], []
        for s in range(20):
            Z, T, info = make_leaky_gaussian_trial(n, random_state=100 + s)
            nes = _nes().fit(Z, T)
            naive = nes.first_round_significant_
            flagged.append(np.isin(naive, info.leaky).sum())
            fdp.append(len(set(naive.tolist()) - {0, 1}) / max(len(naive), 1))
            hits.append(set(nes.selected_features_.tolist()) == {0, 1})
        leaky_flagged[n], exact[n], naive_fdp[n] = (
            np.mean(flagged),
            np.mean(hits),
            np.mean(fdp),
        )
    # N7: the naive count of leaky neurons grows with n and saturates.
    assert leaky_flagged[72] < leaky_flagged[288] < leaky_flagged[1152]
    assert leaky_flagged[1152] >= 9.5
    # N6 (n=1152): naive Bonferroni is mostly false; NES is exact.
    assert naive_fdp[1152] >= 0.7
    assert exact[1152] >= 0.9


# ------------------------------------------------------------------------ N8, N9
def test_sparse_world_nes_exact_while_bonferroni_floods():
    for seed in range(5):
        Z, T, info = make_sparse_code_trial(4000, effect=0.4, random_state=seed)
        nes = _nes().fit(Z, T)
        naive = nes.first_round_significant_
        assert len(naive) >= 30
        assert len(set(naive.tolist()) - {0, 1}) / len(naive) >= 0.8
        sel = set(nes.selected_features_.tolist())
        assert {0, 1} <= sel  # recall 1
        assert len(sel - {0, 1}) / len(sel) <= 0.1


def test_sparse_world_other_size_and_seeds():
    exact = []
    for seed in range(10, 15):
        Z, T, _ = make_sparse_code_trial(1000, effect=0.4, random_state=seed)
        exact.append(set(_nes().fit(Z, T).selected_features_.tolist()) == {0, 1})
    assert np.mean(exact) >= 0.8


def test_sparse_null_selects_nothing():
    empty, naive_t = [], []
    for seed in range(20):
        Z, T, _ = make_sparse_code_trial(4000, effect=0.0, random_state=seed)
        nes = _nes().fit(Z, T)
        empty.append(len(nes.selected_features_) == 0)
        naive_t.append(int((nes.p_values_ < ALPHA).sum()))  # uncorrected t-tests
    assert sum(empty) >= 19
    assert np.mean(naive_t) >= 10


# -------------------------------------------------------------------------- N10
def test_figure3_paradox_world_large_n():
    exact, sizes = [], []
    for seed in range(5):
        Z, T, _ = make_paradox_trial(100_000, effect=2.0, random_state=seed)
        nes = _nes().fit(Z, T)
        sizes.append(len(nes.first_round_significant_))
        exact.append(nes.selected_features_.tolist() == [0])
    assert np.mean(sizes) >= 20
    assert sum(exact) >= 4


def test_figure3_paradox_world_smaller_n_bonferroni_is_fine():
    """At n=1000 the leak is invisible: both the naive test and NES give [0]."""
    Z, T, _ = make_paradox_trial(1000, random_state=0)
    nes = _nes().fit(Z, T)
    assert nes.selected_features_.tolist() == [0]
    assert len(nes.first_round_significant_) <= 2


# -------------------------------------------------------------------------- N12
def test_collider_bias_picks_the_confounder_at_large_n():
    """Documented limitation (spec N12): Y1 is a common child of T and W; stratifying
    on the Y1 neuron opens T -> Y1 <- W, and at n=20000 W's neuron is selected."""
    Z, T, info = make_sparse_code_trial(
        20_000, effect=0.4, confounder=True, random_state=0
    )
    sel = _nes().fit(Z, T).selected_features_.tolist()
    assert {0, 1} <= set(sel)
    assert info.confounder_neuron in sel


# -------------------------------------------------------------------------- N13
def test_work_n5000_m4600(monkeypatch):
    """The fit time (< 10 s) is a benchmark (``python -m benchmarks nes``); the test
    counts the work: each round tests every remaining neuron once, in a few batched
    calls (not one call per neuron)."""
    import skres.causal._nes_search as es

    widths = []
    real = es.RoundDesign.stats

    def stats(self, Y):
        widths.append(Y.shape[1])
        return real(self, Y)

    monkeypatch.setattr(es.RoundDesign, "stats", stats)
    Z, T, _ = make_sparse_code_trial(5000, n_noise=4500, random_state=0)
    assert Z.shape == (5000, 4623)
    nes = _nes().fit(Z, T)
    assert set(nes.selected_features_.tolist()) == {0, 1}
    assert len(nes.rounds_) == 2  # then a third round that rejects nothing
    assert sum(widths) == 4623 + 4622 + 4621
    assert len(widths) <= 3 * 3  # measured 3 blocks a round


# -------------------------------------------------------------------------- N14
@pytest.fixture(scope="module")
def leaky_fit():
    Z, T, info = make_leaky_gaussian_trial(1152, random_state=7)
    return _nes().fit(Z, T), Z, T


def test_transform_and_feature_names_follow_selection_order(leaky_fit):
    nes, Z, T = leaky_fit
    names = [f"n{j}" for j in range(Z.shape[1])]
    df = pd.DataFrame(Z, columns=names)
    nes = clone(nes).fit(df, T)
    order = nes.selected_features_
    assert len(order) == 2
    np.testing.assert_array_equal(nes.transform(df), Z[:, order])
    assert list(nes.get_feature_names_out()) == [names[j] for j in order]
    out = nes.set_output(transform="pandas").transform(df)
    assert list(out.columns) == [names[j] for j in order]
    np.testing.assert_array_equal(nes.get_support(indices=True), np.sort(order))
    back = nes.set_output(transform="default").inverse_transform(nes.transform(df))
    np.testing.assert_array_equal(back[:, order], Z[:, order])
    assert np.all(back[:, np.setdiff1d(np.arange(Z.shape[1]), order)] == 0)


def test_selection_order_is_not_column_order():
    # Make neuron 1 the stronger effect: it is selected first and comes first.
    Z, T, _ = make_leaky_gaussian_trial(1152, effects=(0.6, 1.2), random_state=3)
    nes = _nes().fit(Z, T)
    assert nes.selected_features_.tolist() == [1, 0]
    np.testing.assert_array_equal(nes.transform(Z), Z[:, [1, 0]])
    assert list(nes.get_feature_names_out()) == ["x1", "x0"]


def test_treatment_as_y_or_as_metadata(leaky_fit):
    nes, Z, T = leaky_fit
    a = _nes().fit(Z, T)
    b = _nes().fit(Z, treatment=T)
    c = _nes().fit(Z, T, treatment=T)
    for other in (b, c):
        np.testing.assert_array_equal(a.selected_features_, other.selected_features_)
        np.testing.assert_array_equal(a.p_values_, other.p_values_)
    # Two labels as y: the larger is treated.
    d = _nes().fit(Z, T + 1)
    np.testing.assert_array_equal(a.selected_features_, d.selected_features_)
    with pytest.raises(ValueError, match="both given and differ"):
        _nes().fit(Z, T, treatment=1 - T)


def test_pipeline_with_sae_and_grid_search_with_routing():
    H, T, info = make_embedding_trial(1200, random_state=0)
    sae = SparseAutoencoder(
        n_components=64, k=4, max_epochs=3, lr=3e-3, device="cpu", random_state=0
    )
    pipe = Pipeline([("sae", sae), ("nes", _nes(alpha=0.2))])
    Zsel = pipe.fit(H, T).transform(H)
    assert Zsel.shape == (len(H), len(pipe["nes"].selected_features_))
    assert pipe["nes"].n_features_in_ == 64

    def n_selected(estimator, X, y=None):
        return float(len(estimator[-1].selected_features_))

    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            Pipeline([("sae", clone(sae)), ("nes", _nes())]),
            {"nes__alpha": [0.01, 0.2]},
            cv=KFold(2, shuffle=True, random_state=0),
            scoring=n_selected,
            error_score="raise",
        )
        search.fit(H, treatment=T)
    assert search.best_params_["nes__alpha"] == 0.2
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_groups_average_units_and_are_routed():
    rng = np.random.default_rng(0)
    Zu, Tu, _ = make_leaky_gaussian_trial(72, random_state=0)
    n_frames = 5
    groups = np.repeat(np.arange(72), n_frames)
    noise = rng.standard_normal((72, n_frames, 200))
    noise -= noise.mean(axis=1, keepdims=True)  # frame means are exactly Zu
    frames = (Zu[:, None, :] + noise).reshape(-1, 200)
    nes = _nes().fit(frames, np.repeat(Tu, n_frames), groups=groups)
    ref = _nes().fit(Zu, Tu)
    assert nes.n_units_ == 72
    np.testing.assert_allclose(nes.p_values_, ref.p_values_, rtol=1e-8)
    np.testing.assert_array_equal(nes.selected_features_, ref.selected_features_)
    with pytest.raises(ValueError, match="constant within each group"):
        _nes().fit(frames, rng.permutation(np.repeat(Tu, n_frames)), groups=groups)
    with sklearn.config_context(enable_metadata_routing=True):
        est = _nes().set_fit_request(groups=True)
        pipe = Pipeline([("nes", est)])
        pipe.fit(frames, np.repeat(Tu, n_frames), groups=groups)
        assert pipe["nes"].n_units_ == 72


def test_frame_level_testing_is_pseudo_replicated():
    """Null effect, 72 videos x 20 frames with a video random effect: frame-level
    p-values flag neurons, video-level (groups) ones keep the level."""
    rng = np.random.default_rng(1)
    frame_any, video_any = [], []
    for _ in range(10):
        Tv = rng.permutation(np.arange(72) % 2)
        vid = np.repeat(np.arange(72), 20)
        Z = rng.standard_normal((72, 50))[vid] + rng.standard_normal((len(vid), 50))
        frame_any.append(len(_nes().fit(Z, Tv[vid]).first_round_significant_) > 0)
        video_any.append(len(_nes().fit(Z, Tv[vid], groups=vid).selected_features_) > 0)
    assert np.mean(frame_any) >= 0.8 and np.mean(video_any) <= 0.3


def test_summary_rounds_and_attributes(leaky_fit):
    nes, Z, T = leaky_fit
    table = nes.summary()
    assert list(table.index) == [1, 2]
    assert table["neuron"].tolist() == nes.selected_features_.tolist()
    np.testing.assert_allclose(table["effect"], nes.selection_effects_)
    np.testing.assert_allclose(table["p_value"], nes.selection_p_values_)
    assert (table["p_value"] < table["threshold"]).all()
    assert nes.rounds_[0]["threshold"] == pytest.approx(ALPHA / 200)
    assert nes.rounds_[1]["threshold"] == pytest.approx(ALPHA / 199)
    assert nes.rounds_[0]["n_cells"] == 1 and nes.rounds_[1]["n_cells"] == 2
    assert nes.stop_reason_ == "no rejection"
    assert nes.effects_.shape == nes.p_values_.shape == nes.dofs_.shape == (200,)
    assert nes.active_mask_.all()
    # First-round values of the first selected neuron are its selection values.
    j = nes.selected_features_[0]
    assert nes.selection_effects_[0] == nes.effects_[j]
    assert 0 < nes.leakage_index(0.1) <= 1


def test_options_bh_none_select_max_rounds_bonferroni_all(leaky_fit):
    _, Z, T = leaky_fit
    base = _nes().fit(Z, T)
    assert _nes(max_rounds=1).fit(Z, T).selected_features_.tolist() == [0]
    assert _nes(max_rounds=1).fit(Z, T).stop_reason_ == "max_rounds"
    bh = _nes(correction="bh").fit(Z, T)
    assert len(bh.first_round_significant_) >= len(base.first_round_significant_)
    loose = _nes(correction="none").fit(Z, T)
    assert set(base.selected_features_) <= set(loose.selected_features_)
    for select in ("p", "t"):
        assert set(_nes(select=select).fit(Z, T).selected_features_) == {0, 1}
    every = _nes(bonferroni_m="all").fit(Z, T)
    assert every.rounds_[1]["threshold"] == pytest.approx(ALPHA / 200)
    crossfit = _nes(residualize="crossfit", random_state=0).fit(Z, T)
    again = _nes(residualize="crossfit", random_state=0).fit(Z, T)
    np.testing.assert_array_equal(crossfit.selected_features_, again.selected_features_)
    assert _nes(strata="positive").fit(Z, T).selected_features_[0] == 0


def test_inactive_neurons_are_not_tested():
    Z, T, _ = make_leaky_gaussian_trial(300, random_state=0)
    Z = np.column_stack([Z, np.zeros(300), np.r_[np.ones(2), np.zeros(298)]])
    nes = _nes().fit(Z, T)
    assert not nes.active_mask_[-2:].any() and nes.active_mask_[:-2].all()
    assert nes.rounds_[0]["threshold"] == pytest.approx(ALPHA / 200)
    assert np.isnan(nes.p_values_[-2])  # constant: undefined, never rejected


def test_nuisance_is_conditioned_on_from_round_one():
    rng = np.random.default_rng(0)
    n = 800
    T = rng.permutation(np.arange(n) % 2)
    size = rng.standard_normal(n) + 1.0 * T  # a treatment-affected nuisance
    Z = np.column_stack(
        [0.8 * size + 0.5 * rng.standard_normal(n), rng.standard_normal((n, 20))]
    )
    assert 0 in _nes().fit(Z, T).selected_features_
    nes = _nes().fit(Z, T, nuisance=size)
    assert len(nes.selected_features_) == 0
    assert nes.n_features_in_ == 21


def test_permutation_check_is_a_negative_control(leaky_fit):
    nes, Z, T = leaky_fit
    before = (nes.selected_features_.copy(), nes.p_values_.copy())
    check = nes.permutation_check(Z, T, n_permutations=40, random_state=0)
    assert check.n_selected.shape == (40,) and len(check.selected) == 40
    assert check.fwer <= 0.2
    np.testing.assert_array_equal(nes.selected_features_, before[0])
    np.testing.assert_array_equal(nes.p_values_, before[1])
    # The batched first round equals refitting on each permuted treatment.
    rs = np.random.RandomState(0)
    perms = [rs.permutation(T.astype(bool)) for _ in range(40)]
    for i in (0, 7, 39):
        refit = _nes().fit(Z, perms[i].astype(int))
        assert len(refit.first_round_significant_) == check.n_first_round_significant[i]
        np.testing.assert_array_equal(refit.selected_features_, check.selected[i])


def test_reference_mode_settings_and_singleton_stop():
    Z, T, _ = make_sparse_code_trial(1000, random_state=0)
    ref = _nes(reference_mode=True).fit(Z, T)
    assert ref.active_mask_.all()
    assert ref.rounds_[0]["threshold"] == pytest.approx(
        ALPHA / np.isfinite(ref.p_values_).sum()
    )
    # A stratum with exactly one unit in an arm makes every p NaN in "strict" mode.
    rng = np.random.default_rng(0)
    n = 40
    T = np.arange(n) % 2
    Z = rng.standard_normal((n, 5))
    Z[:, 0] = 5.0 * T  # strongly affected, positive only when treated
    Z[0, 0] = 1.0  # a single control unit in the Z_0 > 0 stratum
    Z[[1, 3, 5], 0] = 0.0  # three treated units in the Z_0 = 0 stratum
    strict = _nes(reference_mode="strict").fit(Z, T)
    lenient = _nes(reference_mode=True).fit(Z, T)
    assert strict.selected_features_.tolist() == [0]
    assert strict.stop_reason_ == "no valid p-value"
    # True drops the singleton cell and tests within the other one.
    assert lenient.stop_reason_ == "no rejection"
    assert lenient.selected_features_.tolist() == [0]


def test_float32_and_tensor_inputs_agree(leaky_fit):
    nes, Z, T = leaky_fit
    ref = _nes().fit(Z, T)
    t = _nes().fit(torch.as_tensor(Z), torch.as_tensor(T))
    np.testing.assert_array_equal(ref.p_values_, t.p_values_)
    f32 = _nes().fit(Z.astype(np.float32), T)
    np.testing.assert_array_equal(ref.selected_features_, f32.selected_features_)
    assert f32.transform(Z.astype(np.float32)).dtype == np.float32


def test_column_blocks_do_not_change_results(monkeypatch, leaky_fit):
    from skres.causal import _nes_search as effect_search

    _, Z, T = leaky_fit
    ref = _nes().fit(Z, T)
    monkeypatch.setattr(effect_search, "_BLOCK_ELEMENTS", 1152 * 7)
    small = _nes().fit(Z, T)
    np.testing.assert_allclose(ref.p_values_, small.p_values_, rtol=1e-12)
    np.testing.assert_array_equal(ref.selected_features_, small.selected_features_)
    assert ref.rounds_[1]["p"] == pytest.approx(small.rounds_[1]["p"], rel=1e-10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    Z, T, _ = make_sparse_code_trial(2000, random_state=0)
    cpu = _nes().fit(Z, T)
    gpu = NeuralEffectSearch(device="cuda").fit(Z, T)
    np.testing.assert_array_equal(cpu.selected_features_, gpu.selected_features_)
    np.testing.assert_allclose(cpu.p_values_, gpu.p_values_, rtol=1e-8)


# ----------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors():
    Z, T, _ = make_leaky_gaussian_trial(40, random_state=0)
    with pytest.raises(ValueError, match="requires y"):
        _nes().fit(Z)
    with pytest.raises(ValueError, match="single arm"):
        _nes().fit(Z, treatment=np.zeros(40))
    with pytest.raises(ValueError, match="binary"):
        _nes().fit(Z, treatment=np.arange(40) % 3)
    with pytest.raises(ValueError, match="same length"):
        _nes().fit(Z, treatment=T[:-1])
    with pytest.raises(ValueError, match="at least 2 units in each arm"):
        _nes().fit(Z, treatment=np.r_[1, np.zeros(39)])
    Zn = Z.copy()
    Zn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _nes().fit(Zn, T)
    with pytest.raises(ValueError, match="NaN"):
        _nes().fit(Z, treatment=np.r_[np.nan, T[1:]])
    with pytest.raises(ValueError, match="nuisance"):
        _nes().fit(Z, T, nuisance=np.ones(39))
    with pytest.raises(ValueError, match="sample"):
        _nes().fit(Z[:2], T[:2])
    nes = _nes().fit(Z, T)
    with pytest.raises(ValueError, match="features"):
        nes.transform(Z[:, :5])
    with pytest.raises(ValueError, match="shape"):
        nes.inverse_transform(np.ones((3, 7)))


# ------------------------------------------------- randomisation test (issue 24)
def _unbalanced_null(seed, n=120, m=12):
    rng = np.random.default_rng(seed)
    T = (rng.uniform(size=n) < 0.3).astype(int)
    active = rng.uniform(size=(n, m)) < 0.2
    return active * rng.lognormal(0.0, 1.0, (n, m)), T


def test_permutation_test_is_seeded_and_valid_under_the_null():
    Z, T = _unbalanced_null(0)
    a = _nes(test="permutation", n_permutations=499, random_state=3).fit(Z, T)
    b = _nes(test="permutation", n_permutations=499, random_state=3).fit(Z, T)
    np.testing.assert_array_equal(a.p_values_, b.p_values_)
    ok = np.isfinite(a.p_values_)
    assert np.all(a.p_values_[ok] >= 1 / 500) and np.all(a.p_values_[ok] <= 1)
    # p-values of a true null are roughly uniform: over many neurons and data sets
    ps = []
    for seed in range(8):
        Z, T = _unbalanced_null(seed)
        nes = _nes(test="permutation", n_permutations=199, random_state=seed)
        ps.append(nes.fit(Z, T).p_values_)
    ps = np.concatenate(ps)
    ps = ps[np.isfinite(ps)]
    assert 0.4 <= ps.mean() <= 0.6
    assert np.mean(ps < 0.05) <= 0.1


def test_permutation_test_finds_real_effects_like_welch():
    Z, T, info = make_leaky_gaussian_trial(600, n_features=30, random_state=1)
    welch = _nes().fit(Z, T)
    perm = _nes(test="permutation", n_permutations=2999, random_state=0).fit(Z, T)
    assert set(perm.selected_features_) == set(info.affected)
    assert set(welch.selected_features_) == set(info.affected)
    np.testing.assert_allclose(perm.effects_, welch.effects_)
    assert perm.rounds_[0]["p"] <= 1 / 3000


def test_permutation_test_warns_when_nothing_can_be_rejected():
    Z, T = _unbalanced_null(1, m=40)
    with pytest.warns(UserWarning, match="n_permutations >= "):
        _nes(test="permutation", n_permutations=100, random_state=0).fit(Z, T)


def test_permutation_test_bad_parameters():
    Z, T = _unbalanced_null(2)
    with pytest.raises(ValueError, match="test"):
        _nes(test="mann-whitney").fit(Z, T)
    with pytest.raises((ValueError, TypeError), match="n_permutations"):
        _nes(test="permutation", n_permutations=0).fit(Z, T)


# --------------------------------------------------- silent failures (issue 20)
@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e150, 1e300])
def test_results_are_scale_equivariant(scale):
    Z, T, _ = make_leaky_gaussian_trial(400, n_features=30, random_state=0)
    ref = _nes().fit(Z, T)
    res = _nes().fit(Z * scale, T)
    np.testing.assert_array_equal(res.selected_features_, ref.selected_features_)
    np.testing.assert_allclose(res.p_values_, ref.p_values_, rtol=1e-9)
    np.testing.assert_allclose(res.dofs_, ref.dofs_, rtol=1e-9)
    np.testing.assert_allclose(res.effects_ / scale, ref.effects_, rtol=1e-9)
    np.testing.assert_allclose(res.std_errors_ / scale, ref.std_errors_, rtol=1e-9)
    assert np.all(np.isfinite(res.p_values_))


def test_a_column_that_separates_the_treatment_warns_by_name():
    Z, T, _ = make_leaky_gaussian_trial(300, n_features=20, random_state=0)
    X = pd.DataFrame(np.column_stack([Z, T]), columns=[*map(str, range(20)), "T"])
    with pytest.warns(UserWarning, match="'T' \\(column 20\\) perfectly separates"):
        _nes().fit(X, T)
    with pytest.warns(UserWarning, match="column 20 perfectly separates"):
        _nes().fit(np.column_stack([Z, 3 * T + 1]), T)


def test_identical_rows_and_constant_neurons_warn():
    T = np.r_[np.ones(10), np.zeros(10)]
    with pytest.warns(UserWarning, match="identical rows"):
        nes = _nes().fit(np.ones((20, 3)), T)
    np.testing.assert_array_equal(nes.effects_, 0.0)
    assert len(nes.selected_features_) == 0
    Z, T2, _ = make_leaky_gaussian_trial(200, n_features=20, random_state=0)
    Z[:, 5] = 2.0
    with pytest.warns(UserWarning, match="1 constant column"):
        _nes().fit(Z, T2)


@pytest.mark.parametrize("residualize", ["ols", "crossfit"])
def test_permutation_check_does_not_depend_on_n_jobs(residualize):
    Z, T, _ = make_leaky_gaussian_trial(300, random_state=2)
    nes = _nes(residualize=residualize, random_state=0).fit(Z, T)
    one = nes.permutation_check(Z, T, n_permutations=6, random_state=5)
    two = clone(nes).set_params(n_jobs=2).fit(Z, T)
    two = two.permutation_check(Z, T, n_permutations=6, random_state=5)
    np.testing.assert_array_equal(one.n_selected, two.n_selected)
    np.testing.assert_array_equal(
        one.n_first_round_significant, two.n_first_round_significant
    )
    for a, b in zip(one.selected, two.selected, strict=True):
        np.testing.assert_array_equal(a, b)
