"""MechanisticODE and make_lorenz: spec pde_smnn.md §5.2 items 8-10 (and more)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skres.datasets import make_lorenz
from skres.dynamics import MechanisticODE, SimulationWarning


def _errors(model, coef):
    true = coef != 0
    rel = np.abs(model.coef_[true] - coef[true]) / np.abs(coef[true])
    spurious = int((model.support_ & ~true).sum())
    missing = int((~model.support_ & true).sum())
    return rel.max(), spurious, missing


# --- item 8: clean Lorenz -------------------------------------------------------------
def test_8_lorenz_clean_exact_support(monkeypatch):
    # The fit's CPU time (<= 10 s) is a benchmark (python -m benchmarks claims); the
    # test counts the work instead: one banded factorisation for all 159 windows.
    import skres.solvers.ode as ode

    n_factor = []
    real = ode._make_factor
    monkeypatch.setattr(
        ode, "_make_factor", lambda *a, **k: n_factor.append(1) or real(*a, **k)
    )
    X, t, coef = make_lorenz(4000, return_coef=True)
    model = MechanisticODE(window=50).fit(X, t=t)
    rel, spurious, missing = _errors(model, coef)
    assert (spurious, missing) == (0, 0)
    assert rel <= 0.05, rel
    assert int(model.support_.sum()) == 7
    assert model.n_windows_ == 159
    assert len(n_factor) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"window": 100, "central_smoothness": True},
        {"window": 40, "order": 3},
        {"window": 60, "stride": 60},
    ],
)
def test_8_lorenz_clean_other_settings(params):
    X, t, coef = make_lorenz(3000, return_coef=True, x0=(-8.0, 7.0, 27.0))
    rel, spurious, missing = _errors(MechanisticODE(**params).fit(X, t=t), coef)
    assert (spurious, missing) == (0, 0)
    assert rel <= 0.05


# --- item 9: 1 % noise ----------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_9_lorenz_one_percent_noise(seed):
    X, t, coef = make_lorenz(4000, noise=0.01, return_coef=True, random_state=seed)
    rel, spurious, missing = _errors(MechanisticODE().fit(X, t=t), coef)
    assert missing == 0
    assert rel <= 0.10, rel
    assert spurious <= 2


def test_several_trajectories_and_nonuniform_t():
    rng = np.random.default_rng(0)
    parts_X, parts_t = [], []
    for x0 in [(1.0, 1.0, 1.0), (-5.0, 3.0, 20.0)]:
        Xf, tf, coef = make_lorenz(8000, dt=0.0025, x0=x0, return_coef=True)
        # irregular sampling: keep every 2nd-6th point (steps 0.005-0.015)
        idx = np.cumsum(rng.integers(2, 7, size=900))
        idx = idx[idx < len(tf)]
        parts_X.append(Xf[idx])
        parts_t.append(tf[idx] - tf[idx[0]])
    X, t = np.concatenate(parts_X), np.concatenate(parts_t)
    model = MechanisticODE(window=40).fit(X, t=t)
    rel, spurious, missing = _errors(model, coef)
    assert (spurious, missing) == (0, 0)
    assert rel <= 0.05
    # windows never straddle the two trajectories
    one = MechanisticODE(window=40).fit(parts_X[0], t=parts_t[0])
    two = MechanisticODE(window=40).fit(parts_X[1], t=parts_t[1])
    assert model.n_windows_ == one.n_windows_ + two.n_windows_


def test_custom_library_linear_system():
    # damped oscillator x' = y, y' = -4 x - 0.2 y with a linear (identity) library
    from scipy.integrate import solve_ivp

    A = np.array([[0.0, 1.0], [-4.0, -0.2]])
    t = np.linspace(0, 10, 1001)
    sol = solve_ivp(
        lambda _, s: A @ s, (0, 10), [1.0, 0.0], t_eval=t, rtol=1e-10, atol=1e-10
    )
    library = FunctionTransformer(feature_names_out="one-to-one")
    model = MechanisticODE(library=library).fit(sol.y.T, t=t)
    np.testing.assert_allclose(model.coef_, A, atol=0.01)
    assert model.equations(precision=1) == ["x0' = 1.0 x1", "x1' = -4.0 x0 - 0.2 x1"]


# --- item 10: sklearn API, Pipeline, GridSearchCV, simulate
def test_10_api_predict_equations_print(capsys):
    X, t, coef = make_lorenz(2000, return_coef=True)
    model = MechanisticODE(threshold=0.5)
    assert clone(model).get_params() == model.get_params()
    assert model.set_params(threshold=0.1) is model
    assert model.fit(X, t=t) is model
    assert model.coef_.shape == (3, 10)
    assert list(model.terms_) == [
        "1",
        "x0",
        "x1",
        "x2",
        "x0^2",
        "x0 x1",
        "x0 x2",
        "x1^2",
        "x1 x2",
        "x2^2",
    ]
    deriv = model.predict(X)
    assert deriv.shape == X.shape
    exact = np.column_stack(
        [
            10 * (X[:, 1] - X[:, 0]),
            X[:, 0] * (28 - X[:, 2]) - X[:, 1],
            X[:, 0] * X[:, 1] - 8 / 3 * X[:, 2],
        ]
    )
    assert np.abs(deriv - exact).max() / np.abs(exact).max() < 0.05
    eqs = model.equations(precision=1)
    assert eqs[0] == "x0' = -10.0 x0 + 10.0 x1"
    assert eqs[2] == "x2' = -2.7 x2 + 1.0 x0 x1"
    model.print(precision=1)
    assert capsys.readouterr().out.splitlines() == eqs
    assert model.score(X, t=t) > 0.99
    # DataFrame column names become state names
    df = pd.DataFrame(X, columns=["x", "y", "z"])
    named = MechanisticODE().fit(df, t=t)
    assert named.equations(precision=1)[1].startswith("y' = 27.9 x - 1.0 y - 1.0 x z")


def test_10_simulate_follows_true_trajectory():
    X, t = make_lorenz(4000)
    model = MechanisticODE().fit(X, t=t)
    sim = model.simulate(X[0], t[:51])
    assert sim.shape == (51, 3)
    assert np.abs(sim - X[:51]).max() <= 1.0
    assert model.simulate(X[0], t[:1]).shape == (1, 3)


def test_simulate_stops_on_blow_up_and_budget_with_a_warning():
    """An explosive discovered equation stops with a SimulationWarning and NaN
    rows (it returned NaN rows silently before); other SciPy methods work too."""
    X, t = make_lorenz(400)
    model = MechanisticODE().fit(X, t=t)
    lorenz = model.coef_.copy()
    sim = model.simulate(X[0], t[:21], method="DOP853")
    np.testing.assert_allclose(sim, model.simulate(X[0], t[:21]), atol=1e-4)
    x2 = model.terms_.tolist().index("x0^2")
    model.coef_ = np.zeros_like(lorenz)
    model.coef_[0, x2] = 1.0  # x' = x^2 blows up at t = 1 / x0
    times = np.linspace(0.0, 2.0, 41) / abs(X[0, 0])
    with pytest.warns(SimulationWarning, match="rows after it are NaN"):
        sim = model.simulate(np.r_[abs(X[0, 0]), 0.0, 0.0], times)
    finite = np.isfinite(sim).all(axis=1)
    assert finite[:20].all() and not finite[-1]
    model.coef_ = lorenz
    with pytest.warns(SimulationWarning, match="max_rhs_evals=30"):
        model.simulate(X[0], t[:51], max_rhs_evals=30)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="max_rhs_evals"):
            model.simulate(X[0], t[:5], max_rhs_evals=bad)
    with pytest.raises(ValueError, match="method must be one of"):
        model.simulate(X[0], t[:5], method="euler")


def test_10_pipeline_and_grid_search_over_threshold():
    X, t = make_lorenz(3000)
    pipe = Pipeline([("ode", MechanisticODE())])
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            pipe, {"ode__threshold": [0.1, 50.0]}, cv=KFold(3), error_score="raise"
        )
        search.fit(X, t=t)
    assert search.best_params_["ode__threshold"] == 0.1
    assert search.best_score_ > 0.9
    assert search.predict(X).shape == X.shape


def test_fit_without_t_uses_dt():
    X, t, coef = make_lorenz(3000, return_coef=True)
    a = MechanisticODE(dt=0.01).fit(X)
    b = MechanisticODE().fit(X, t=t)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8, atol=1e-10)


# --- errors ---------------------------------------------------------------------------
def test_bad_inputs():
    X, t = make_lorenz(200)
    with pytest.raises(ValueError, match="t has 199 entries"):
        MechanisticODE().fit(X, t=t[:-1])
    with pytest.raises(ValueError, match="t contains NaN"):
        MechanisticODE().fit(X, t=np.where(t > 1, np.nan, t))
    with pytest.raises(ValueError, match="fewer than 4 samples"):
        MechanisticODE().fit(X, t=-t)  # every sample starts a new trajectory
    with pytest.raises(ValueError, match="NaN"):
        MechanisticODE().fit(np.where(X > 5, np.nan, X), t=t)
    model = MechanisticODE().fit(X, t=t)
    with pytest.raises(ValueError, match="x0 must hold 3"):
        model.simulate([1.0, 2.0], t[:5])
    with pytest.raises(ValueError, match="strictly increasing"):
        model.simulate(X[0], t[:5][::-1])
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :2])


# --- dataset --------------------------------------------------------------------------
def test_make_lorenz():
    X, t, coef = make_lorenz(1000, dt=0.005, return_coef=True)
    assert X.shape == (1000, 3) and t.shape == (1000,)
    np.testing.assert_allclose(X[0], [1.0, 1.0, 1.0])
    # the returned coefficients are the Lorenz right-hand side on the library
    from sklearn.preprocessing import PolynomialFeatures

    theta = PolynomialFeatures(2).fit_transform(X)
    deriv = np.gradient(X, t, axis=0, edge_order=2)
    err = np.abs(theta @ coef.T - deriv)[5:-5].max() / np.abs(deriv).max()
    assert err < 1e-2
    a, _ = make_lorenz(300, noise=0.05, random_state=3)
    b, _ = make_lorenz(300, noise=0.05, random_state=3)
    clean, _ = make_lorenz(300)
    np.testing.assert_array_equal(a, b)
    ratio = np.std(a - clean, axis=0) / np.sqrt(np.mean(clean**2, axis=0))
    assert np.all((ratio > 0.035) & (ratio < 0.065))
    for kwargs in ({"n_samples": 1}, {"dt": -1.0}, {"noise": -0.1}, {"x0": (1, 2)}):
        with pytest.raises(ValueError):
            make_lorenz(**{"n_samples": 10, **kwargs})


# --- MNN-style gradient mode ----------------------------------------------------------
def test_gradient_mode_trains_and_keeps_the_lorenz_support():
    X, t, coef = make_lorenz(1500, noise=0.01, return_coef=True, random_state=2)
    params = {"fit_method": "gradient", "max_epochs": 40, "max_cycles": 2}
    params["hidden_size"] = 32
    rng_state = torch.random.get_rng_state()
    model = MechanisticODE(**params, random_state=0).fit(X, t=t)
    assert torch.equal(rng_state, torch.random.get_rng_state())  # local generator
    rel, spurious, missing = _errors(model, coef)
    assert missing == 0 and spurious <= 2
    assert rel <= 0.10
    curve = model.loss_curve_
    assert curve.ndim == 1 and len(curve) >= 40
    assert curve[-1] < curve[0]  # the encoder and coefficients reduce the loss
    again = MechanisticODE(**params, random_state=0).fit(X, t=t)
    np.testing.assert_array_equal(model.coef_, again.coef_)
    np.testing.assert_array_equal(model.loss_curve_, again.loss_curve_)


def test_gradient_mode_errors():
    X, t = make_lorenz(200)
    library = FunctionTransformer(feature_names_out="one-to-one")
    with pytest.raises(ValueError, match="needs library='poly'"):
        MechanisticODE(fit_method="gradient", library=library).fit(X, t=t)


# --- issue 20: no silent wrong answers from time handling -----------------------------
def test_positional_t_is_an_error_not_ignored():
    X, t = make_lorenz(1000)
    with pytest.raises(ValueError, match=r"looks like sample times.*t=t"):
        MechanisticODE(threshold=0.1).fit(X, t)  # t lands in y
    with pytest.raises(ValueError, match="looks like sample times"):
        MechanisticODE().fit(X, 0.01)  # PySINDy's positional time step
    with pytest.raises(ValueError, match="looks like sample times"):
        MechanisticODE().fit(X, list(t))
    model = MechanisticODE().fit(X, t=t)
    with pytest.raises(ValueError, match="looks like sample times"):
        model.score(X, t)
    # a y that does not look like time is ignored, as documented
    noise = np.random.default_rng(0).standard_normal(len(X))
    np.testing.assert_array_equal(
        MechanisticODE().fit(X, noise, t=t).coef_, model.coef_
    )


def test_omitting_t_warns_unit_spacing():
    X, _ = make_lorenz(1000)
    with pytest.warns(UserWarning, match="unit spacing"):
        MechanisticODE().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MechanisticODE(dt=0.01).fit(X)  # an explicit spacing is not warned about


@pytest.mark.parametrize("seed", [0, 1])
def test_shuffled_t_is_an_error(seed):
    X, t = make_lorenz(1000)
    order = np.random.default_rng(seed).permutation(len(t))
    with pytest.raises(ValueError, match="probably shuffled"):
        MechanisticODE().fit(X[order], t=t[order])


@pytest.mark.parametrize(
    ("order", "length", "ok"),
    [(2, 4, True), (2, 3, False), (3, 4, False), (3, 5, True)],
)
def test_t_restarting_more_often_than_the_order_allows(order, length, ok):
    X, t = make_lorenz(600)
    # stacked trajectories of `length` samples each, t restarting at 0
    n = (len(t) // length) * length
    t_stacked = np.tile(t[:length], n // length)
    model = MechanisticODE(order=order, threshold=0.0)
    if ok:
        model.fit(X[:n], t=t_stacked)
        assert model.n_windows_ == n // length
    else:
        with pytest.raises(ValueError, match=f"fewer than {order + 2} samples"):
            model.fit(X[:n], t=t_stacked)


def test_scalar_t_equals_time_array():
    X, t = make_lorenz(1500)
    a = MechanisticODE().fit(X, t=0.01)
    b = MechanisticODE().fit(X, t=t)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-12)
    assert a.score(X, t=0.01) == pytest.approx(b.score(X, t=t))
    with pytest.raises(ValueError, match="t"):
        MechanisticODE().fit(X, t=-0.01)


def test_list_of_trajectories_matches_stacked():
    parts = [make_lorenz(800, x0=x0)[0] for x0 in [(1, 1, 1), (-5, 3, 20), (2, -4, 9)]]
    times = [0.01 * np.arange(len(p)) for p in parts]
    stacked = MechanisticODE(window=40).fit(
        np.concatenate(parts), t=np.concatenate(times)
    )
    listed = MechanisticODE(window=40).fit(parts, t=times)
    scalar = MechanisticODE(window=40).fit(parts, t=0.01)
    shared = MechanisticODE(window=40).fit(parts, t=times[0])
    for other in (listed, scalar, shared):
        np.testing.assert_allclose(other.coef_, stacked.coef_, rtol=1e-10, atol=1e-12)
        assert other.n_windows_ == stacked.n_windows_
    assert listed.score(parts, t=times) == pytest.approx(
        stacked.score(np.concatenate(parts), t=np.concatenate(times))
    )
    with pytest.raises(ValueError, match="looks like sample times"):
        MechanisticODE().fit(parts, times)  # per-trajectory times passed as y
    with pytest.raises(ValueError, match="list of 3 trajectories"):
        MechanisticODE().fit(parts, t=times[:2])
    with pytest.raises(ValueError, match=r"t\[1\] must be strictly increasing"):
        MechanisticODE().fit(parts, t=[times[0], times[1][::-1], times[2]])
    frames = [pd.DataFrame(p, columns=["a", "b", "c"]) for p in parts]
    model = MechanisticODE(window=40).fit(frames, t=0.01)
    assert list(model.feature_names_in_) == ["a", "b", "c"]


def test_feature_names_in_equations():
    X, t = make_lorenz(1500)
    model = MechanisticODE(feature_names=["x", "y", "z"]).fit(X, t=t)
    eqs = model.equations(precision=1)
    assert eqs[0] == "x' = -10.0 x + 10.0 y"
    assert "x z" in eqs[1] and "x y" in eqs[2]
    with pytest.raises(ValueError, match="feature_names must be a list of 3"):
        MechanisticODE(feature_names=["x", "y"]).fit(X, t=t).equations()


def test_matches_pysindy_conventions_and_coefficients():
    ps = pytest.importorskip("pysindy")
    parts = [make_lorenz(2000, x0=x0)[0] for x0 in [(1, 1, 1), (-5, 3, 20)]]
    ours = MechanisticODE(threshold=0.5, feature_names=["x", "y", "z"]).fit(
        parts, t=0.01
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ps.SINDy(
            feature_library=ps.PolynomialLibrary(degree=2),
            optimizer=ps.STLSQ(threshold=0.5),
        ).fit(parts, t=0.01, feature_names=["x", "y", "z"])
    # same term order (1, x, y, z, x^2, ...) and the same sparse model
    ref = theirs.coefficients()
    assert ours.coef_.shape == ref.shape
    np.testing.assert_array_equal(ours.coef_ != 0, ref != 0)
    np.testing.assert_allclose(ours.coef_, ref, atol=0.05 * np.abs(ref).max())


def test_huge_states_raise_instead_of_nan():
    X, t = make_lorenz(500)
    with pytest.raises(ValueError, match="Rescale X"):
        MechanisticODE().fit(X * 1e300, t=t)
    model = MechanisticODE().fit(X, t=t)
    with pytest.raises(ValueError, match="non-finite"):
        model.predict(X * 1e300)
