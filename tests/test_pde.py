"""PDEDiscoverer (Mechanistic PDE Networks discovery): spec §5.4 items 15-17."""

from __future__ import annotations

import re
import warnings
from functools import cache

import numpy as np
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skres.datasets import make_advection_diffusion, make_burgers
from skres.dynamics import PDEDiscoverer, SimulationWarning
from skres.dynamics._pde_library import _gradient, _second_derivative

TWO_TERMS = {"u_x": [1], "u_xx": [0]}
SEVEN = ["1", "u", "u_x", "u u_x", "u^2 u_x", "u_xx", "u u_xx"]
SEVEN_TERMS = {"u_x": 2, "u_xx": 1, "rhs": 1}


def _vec(**named):
    """Coefficients over SEVEN from ``name=value`` (spaces/^ as in the names)."""
    out = np.zeros(len(SEVEN))
    for key, value in named.items():
        out[SEVEN.index(key.replace("__", " ").replace("_p", "^"))] = value
    return out


@cache
def burgers(noise: float = 0.0, **kwargs):
    """The default Burgers data (nu = 0.1, 256 points, 128 frames, dt = 0.025)."""
    return make_burgers(noise=noise, random_state=0, **dict(kwargs))


@cache
def clean_fit():
    """Item 15's fit: clean Burgers, 16 windows of 8 x 32, 7 terms, L-BFGS."""
    u, t, x = burgers()
    return PDEDiscoverer(
        terms=SEVEN_TERMS,
        method="mechanistic",
        threshold=None,
        window=(8, 32),
        n_windows=16,
        random_state=0,
    ).fit(u, t=t, x=x)


def _coef(model, name):
    return model.coef_[list(model.feature_names_).index(name)]


def _spurious(model, true=("u u_x", "u_xx")):
    keep = ~np.isin(model.feature_names_, true)
    return np.max(np.abs(model.coef_[keep])) if keep.any() else 0.0


# --------------------------------------------------------------- spec §5.4
def test_clean_burgers_seven_term_library():
    """Item 15: both true terms within 2 %, every other |coef| <= 0.01 (its <= 60 s
    CPU is a benchmark: python -m benchmarks claims)."""
    model = clean_fit()
    assert list(model.feature_names_) == SEVEN
    assert model.solver_used_ and 1 <= model.n_iter_ <= 20  # measured 8
    assert abs(-_coef(model, "u u_x") - 1.0) < 0.02  # measured 0.30 %
    assert abs(_coef(model, "u_xx") - 0.1) < 0.002  # measured 0.70 %
    assert _spurious(model) <= 0.01  # measured 0.0019


def test_noisy_burgers_with_gaussian_denoising(capsys):
    """Item 16: 5 % noise, Gaussian reference field, two terms: advection +-5 %."""
    u, t, x = burgers(0.05)
    model = PDEDiscoverer(
        terms=TWO_TERMS, denoise="gaussian", smooth_sigma=(1.0, 2.0), random_state=0
    ).fit(u, t=t, x=x)
    assert abs(-_coef(model, "u u_x") - 1.0) < 0.05  # measured 2.9 %
    # The viscosity is not identifiable under noise in short windows without a
    # learned transform (spec §3.7): report it only.
    with capsys.disabled():
        print(f"\n5 % noise: {model.equations(4)[0]} (viscosity report-only)")  # noqa: T201


def test_peer_comparison_with_weak_sindy():
    """Item 17: WeakSINDy and PDEDiscoverer both within 2 % on clean Burgers."""
    ps = pytest.importorskip("pysindy")
    u, t, x = burgers()
    X, T = np.meshgrid(x, t, indexing="ij")
    library = ps.WeakPDELibrary(
        function_library=ps.PolynomialLibrary(degree=2, include_bias=False),
        derivative_order=2,
        spatiotemporal_grid=np.stack([X, T], axis=-1),
        include_bias=True,
        is_uniform=True,
        K=200,
    )
    weak = ps.SINDy(
        feature_library=library,
        optimizer=ps.STLSQ(threshold=0.02, alpha=1e-5, normalize_columns=True),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weak.fit(u.T[:, :, None], t=t[1] - t[0], feature_names=["u"])
    coefs = dict(zip(weak.get_feature_names(), weak.coefficients()[0], strict=True))
    assert abs(coefs["uu_1"] + 1.0) < 0.02  # pysindy's sign: u_t = -u u_x + ...
    assert abs(coefs["u_11"] - 0.1) < 0.002
    model = clean_fit()
    assert abs(_coef(model, "u u_x") + 1.0) < 0.02
    assert abs(_coef(model, "u_xx") - 0.1) < 0.002


# -------------------------------------------------- other data and seeds
def test_other_viscosity_and_seed_with_thresholding():
    """nu = 0.05, seed 1: thresholding keeps exactly the two true terms."""
    u, t, x = make_burgers(nu=0.05)
    model = PDEDiscoverer(threshold=0.01, random_state=1).fit(u, t=t, x=x)
    assert set(model.feature_names_[model.support_]) == {"u u_x", "u_xx"}
    assert abs(-_coef(model, "u u_x") - 1.0) < 0.02
    assert abs(_coef(model, "u_xx") / 0.05 - 1.0) < 0.02
    assert re.fullmatch(r"u_t = -1\.0\d u u_x \+ 0\.05 u_xx", model.equations(2)[0])
    assert model.n_iter_ == len(model.loss_curve_)


def test_pdefind_initial_condition_coarser_grid():
    """PDE-FIND's exp(-(x + 2)^2) start, 128 points, dt = 0.05, seed 2."""
    u, t, x = make_burgers(initial="pdefind", length=16.0, n_points=128, dt=0.05)
    model = PDEDiscoverer(terms=TWO_TERMS, random_state=2).fit(u, t=t, x=x)
    np.testing.assert_allclose(model.coef_, [-1.0, 0.1], rtol=0.02)  # 0.7 %, 1 %


def test_advection_diffusion_recovers_speed_and_diffusivity():
    u, t, x, _ = make_advection_diffusion()
    model = PDEDiscoverer(terms={"u_x": 0, "u_xx": 0}, random_state=0).fit(u, t=t, x=x)
    np.testing.assert_allclose(model.coef_, [-1.0, 0.1], rtol=0.02)  # 0.5 %, 0.2 %


def test_non_uniform_time_grid():
    u, t, x = burgers()
    keep = np.setdiff1d(np.arange(len(t)), np.arange(3, len(t), 4))  # drop frames
    model = PDEDiscoverer(terms=TWO_TERMS, random_state=0).fit(u[keep], t=t[keep], x=x)
    np.testing.assert_allclose(model.coef_, [-1.0, 0.1], rtol=0.03)


def test_adam_optimizer_improves_on_a_poor_start():
    u, t, x = burgers()
    model = PDEDiscoverer(
        terms=TWO_TERMS,
        method="mechanistic",
        n_windows=8,
        init="zeros",
        optimizer="adam",
        lr=0.3,
        max_iter=40,
        random_state=0,
    ).fit(u, t=t, x=x)
    curve = model.loss_curve_
    assert curve[-1] < 0.1 * curve[0]
    assert abs(-_coef(model, "u u_x") - 1.0) < 0.1


# ------------------------------------------------------ model outputs
def test_predict_score_and_simulate_reproduce_the_data():
    u, t, x = burgers()
    model = PDEDiscoverer(terms=TWO_TERMS, random_state=0).fit(u, t=t, x=x)
    assert model.score(u) > 0.999
    assert model.score(u, t=t) == model.score(u)
    pred = model.predict(u)
    np.testing.assert_allclose(model.predict(u[::-1]), pred[::-1])  # row-wise
    sim = model.simulate(u[0], t)
    assert np.max(np.abs(sim - u)) < 5e-3  # discovered PDE re-creates the data


def test_simulate_with_the_true_coefficients_matches_the_generator():
    u, t, x = burgers()
    model = PDEDiscoverer(terms=TWO_TERMS, max_iter=0).fit(u, t=t, x=x)
    model.coef_ = np.array([-1.0, 0.1])
    periodic = model.simulate(u[0], t[:41])
    assert np.max(np.abs(periodic - u[:41])) < 1e-4
    # The bump stays away from the ends: Dirichlet finite differences agree.
    dirichlet = model.simulate(u[0], t[:41], bc="dirichlet")
    assert np.max(np.abs(dirichlet - u[:41])) < 5e-3


def test_explosive_equation_stops_with_a_warning_and_scores_minus_inf():
    """An anti-diffusive (ill-posed) equation blows up: simulate stops with a
    SimulationWarning and NaN rows instead of running for hours; score is -inf."""
    u, t, x = burgers()
    model = PDEDiscoverer(terms=TWO_TERMS, max_iter=0).fit(u, t=t, x=x)
    model.coef_ = np.array([-1.0, -0.1])  # backward heat: u_t = -0.1 u_xx
    with pytest.warns(SimulationWarning, match="output rows after it are NaN"):
        sim = model.simulate(u[0], t)
    assert np.all(np.isfinite(sim[0])) and np.isnan(sim[-1]).all()
    with pytest.warns(SimulationWarning, match="score is -inf"):
        assert model.score(u) == -np.inf
    # a small budget stops even a well-posed equation, and says so
    model.coef_ = np.array([-1.0, 0.1])
    with pytest.warns(SimulationWarning, match="max_rhs_evals=50"):
        sim = model.simulate(u[0], t, max_rhs_evals=50)
    reached = np.isfinite(sim).all(axis=1)
    assert reached[0] and not reached[-1]
    assert np.all(np.diff(reached.astype(int)) <= 0)  # finite rows, then NaN rows
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(ValueError, match="max_rhs_evals"):
            model.simulate(u[0], t, max_rhs_evals=bad)


def test_unidentifiable_terms_warn():
    """On a 4-point grid u_x and u_xxx are indistinguishable: the fit says so."""
    rng = np.random.RandomState(3)
    X = rng.standard_normal((40, 4))
    with pytest.warns(UserWarning, match="not identified"):
        PDEDiscoverer(max_iter=0, weak_support=(2, 2)).fit(
            X, t=np.linspace(0, 1, 40), x=np.arange(4.0)
        )
    # a well-posed fit does not warn
    u, t, x = burgers()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PDEDiscoverer(terms=TWO_TERMS, max_iter=0).fit(u, t=t, x=x)


def test_equations_and_print(capsys):
    u, t, x = burgers()
    model = PDEDiscoverer(terms=SEVEN_TERMS, max_iter=0).fit(u, t=t, x=x)
    model.coef_ = _vec(u__u_x=-1.0, u_xx=0.1)
    assert model.equations() == ["u_t = -1.000 u u_x + 0.100 u_xx"]
    model.coef_ = np.array([2.5, -0.25, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert model.equations(precision=2) == ["u_t = 2.50 - 0.25 u"]
    model.coef_ = np.zeros(7)
    assert model.equations() == ["u_t = 0"]
    model.coef_ = _vec(u__u_x=-1.0, u_xx=0.1)
    model.print(precision=1)
    assert capsys.readouterr().out == "u_t = -1.0 u u_x + 0.1 u_xx\n"
    np.testing.assert_array_equal(model.get_feature_names_out(), SEVEN)


def test_custom_library_names():
    u, t, x = burgers()
    model = PDEDiscoverer(terms={"u_xx": [0, 2], "rhs": [0, 3]}, max_iter=0).fit(
        u, t=t, x=x
    )
    assert list(model.feature_names_) == ["1", "u^3", "u_xx", "u^2 u_xx"]


def test_seeded_windows_are_deterministic():
    u, t, x = burgers()
    params = {"terms": TWO_TERMS, "n_windows": 4, "max_iter": 3}
    a = PDEDiscoverer(random_state=3, **params).fit(u, t=t, x=x)
    b = PDEDiscoverer(random_state=3, **params).fit(u, t=t, x=x)
    c = PDEDiscoverer(random_state=4, **params).fit(u, t=t, x=x)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.windows_, b.windows_)
    assert not np.array_equal(a.windows_, c.windows_)
    assert a.windows_.shape == (4, 2)


def test_float32_and_progress_bar():
    u, t, x = burgers()
    model = PDEDiscoverer(
        terms=TWO_TERMS, n_windows=4, max_iter=3, dtype="float32", verbose=1
    ).fit(u.astype(np.float32), t=t, x=x)
    np.testing.assert_allclose(model.coef_, [-1.0, 0.1], rtol=0.05)


def test_small_grids_fall_back_to_finite_differences():
    u, t, x = burgers()
    coarse = u[::16, ::64]  # 8 x 4: too few points for the solver's stencils
    model = PDEDiscoverer(terms=TWO_TERMS).fit(coarse, t=t[::16], x=x[::64])
    assert not model.solver_used_ and model.n_iter_ == 0
    assert model.coef_.shape == (2,)


def test_grid_search_and_pipeline_route_t_and_x():
    u, t, x = burgers()
    pipe = Pipeline(
        [
            ("identity", FunctionTransformer()),
            ("pde", PDEDiscoverer(terms=TWO_TERMS, n_windows=4, max_iter=5)),
        ]
    )
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            pipe, {"pde__l1_coef": [1e-5, 1e-3]}, cv=KFold(2), error_score="raise"
        )
        search.fit(u, t=t, x=x)
    assert search.best_score_ > 0.99
    best = search.best_estimator_[-1]
    np.testing.assert_array_equal(best.x_, x)
    np.testing.assert_allclose(best.coef_, [-1.0, 0.1], rtol=0.05)
    assert clone(best).get_params()["terms"] == TWO_TERMS


# ----------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"window": (8,)}, "window"),
        ({"window": (1, 8)}, "window"),
        ({"terms": {"u_t": 1}}, "terms"),
        ({"terms": {"u_x": -1}}, "terms"),
        ({"terms": {"u_x": ["a"]}}, "terms"),
        ({"terms": {}}, "terms"),
        ({"denoise": "gaussian", "smooth_sigma": [1.0, np.nan]}, "smooth_sigma"),
    ],
)
def test_bad_structured_parameters(params, match):
    u, t, x = burgers()
    with pytest.raises((ValueError, TypeError), match=match):
        PDEDiscoverer(**params).fit(u[:20, :40], t=t[:20], x=x[:40])


def test_bad_fit_inputs():
    u, t, x = burgers()
    model = PDEDiscoverer(max_iter=0)
    with pytest.raises(ValueError, match="t has 127 entries"):
        model.fit(u, t=t[:-1], x=x)
    with pytest.raises(ValueError, match="x must be strictly increasing"):
        model.fit(u, t=t, x=x[::-1])
    bad_x = x.copy()
    bad_x[3] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        model.fit(u, t=t, x=bad_x)
    with pytest.raises(ValueError, match="t must be a 1-D"):
        model.fit(u, t=np.ones((2, 128)), x=x)
    bad_u = u.copy()
    bad_u[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.fit(bad_u, t=t, x=x)
    with pytest.raises(ValueError, match="1 feature"):
        model.fit(u[:, :1])


def test_bad_simulate_and_score_inputs():
    u, t, x = burgers()
    model = PDEDiscoverer(terms=TWO_TERMS, max_iter=0).fit(u, t=t, x=x)
    with pytest.raises(ValueError, match="bc"):
        model.simulate(u[0], t, bc="neumann")
    with pytest.raises(ValueError, match="x has 10 entries"):
        model.simulate(u[0], t, x=x[:10])
    with pytest.raises(ValueError, match="u0"):
        model.simulate([np.nan] * 256, t)
    with pytest.raises(ValueError, match="strictly increasing"):
        model.simulate(u[0], t[::-1])
    uneven = np.sort(np.r_[x[:-1], 0.5 * (x[0] + x[1])])
    with pytest.raises(ValueError, match="uniform"):
        model.simulate(u[0], t, x=uneven)
    with pytest.raises(ValueError, match="sample_weight"):
        model.score(u, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="features"):
        model.predict(u[:, :10])


# ------------------------------------------------ numerical kernels
@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.floats(0.05, 1.0), min_size=3, max_size=12),
    a=st.floats(-3, 3),
    b=st.floats(-3, 3),
    c=st.floats(-3, 3),
)
def test_finite_differences_are_exact_on_quadratics(steps, a, b, c):
    """Three-point second differences on any non-uniform grid are exact for
    quadratics; the second-order gradient is exact in the interior."""
    x = np.concatenate([[0.0], np.cumsum(steps)])
    u = np.stack([a * x**2 + b * x + c, 2 * a * x**2 - c])
    np.testing.assert_allclose(
        _second_derivative(u, x, 1), np.array([[2 * a], [4 * a]]) + 0 * u, atol=1e-8
    )
    np.testing.assert_allclose(
        _gradient(u, x, 1)[0], 2 * a * x + b, atol=1e-8 * (1 + abs(a) * x[-1] ** 2)
    )


def test_multigrid_solver_option_gives_the_same_fit():
    u, t, x = burgers()
    params = {"terms": TWO_TERMS, "n_windows": 2, "window": (8, 32), "max_iter": 3}
    direct = PDEDiscoverer(solver="direct", random_state=0, **params).fit(u, t=t, x=x)
    mg = PDEDiscoverer(solver="multigrid", mg_levels=2, random_state=0, **params)
    mg.fit(u, t=t, x=x)
    np.testing.assert_allclose(mg.coef_, direct.coef_, rtol=1e-3)


# ------------------------------------- weak form, higher orders, new score
from skres.datasets import (  # noqa: E402
    make_fisher_kpp,
    make_heat_source,
    make_kdv,
    make_kuramoto_sivashinsky,
)

CASES = {
    "kdv": (make_kdv, {"u u_x": -6.0, "u_xxx": -1.0}),
    "ks": (make_kuramoto_sivashinsky, {"u u_x": -1.0, "u_xx": -1.0, "u_xxxx": -1.0}),
    "fisher": (make_fisher_kpp, {"u_xx": 0.1, "u": 1.0, "u^2": -1.0}),
    "heat": (make_heat_source, {"u_xx": 0.2, "u": -0.5, "1": 0.3}),
    "burgers": (make_burgers, {"u u_x": -1.0, "u_xx": 0.1}),
}


def _check_discovery(name, noise, rtol, seed=3):
    gen, truth = CASES[name]
    u, t, x = gen(noise=noise, random_state=seed)
    model = PDEDiscoverer().fit(u, t=t, x=x)  # default 10-term library
    found = set(model.feature_names_[model.support_])
    assert found == set(truth), model.equations(4)
    for term, value in truth.items():
        assert abs(_coef(model, term) / value - 1.0) < rtol, model.equations(4)
    assert "0.000" not in model.equations()[0]  # only selected terms printed
    return model


@pytest.mark.parametrize("name", ["kdv", "ks", "fisher", "heat", "burgers"])
def test_weak_form_clean_exact_support_within_3_percent(name):
    _check_discovery(name, 0.0, 0.03)


@pytest.mark.parametrize(
    ("name", "noise", "rtol"),
    [
        ("kdv", 0.01, 0.10),
        ("ks", 0.01, 0.10),
        ("burgers", 0.01, 0.03),
        ("burgers", 0.05, 0.10),
        ("fisher", 0.05, 0.10),
        ("heat", 0.05, 0.10),
    ],
)
def test_weak_form_noise(name, noise, rtol):
    _check_discovery(name, noise, rtol)


def test_score_separates_a_wrong_library():
    """KdV without u_xxx: held-out forward-simulation R^2 far below the right one."""
    u, t, x = make_kdv()
    right = PDEDiscoverer().fit(u[:60], t=t[:60], x=x)
    wrong = PDEDiscoverer(terms={"rhs": 2, "u_x": 2, "u_xx": 1}).fit(
        u[:60], t=t[:60], x=x
    )
    held_t, held_u = t[59:], u[59:]
    good = right.score(held_u, t=held_t, x=x)
    bad = wrong.score(held_u, t=held_t, x=x)
    assert good > 0.99  # measured 1.000
    assert bad < 0.9  # measured 0.77 (the R^2 of u_t would be about 0.98)
    assert np.isfinite(bad)


def test_missing_coordinates_warn_unit_spacing():
    u, t, x = burgers()
    with pytest.warns(UserWarning, match="x= not given: unit grid spacing"):
        PDEDiscoverer(terms=TWO_TERMS).fit(u, t=t)
    with pytest.warns(UserWarning, match="t= and x= not given"):
        PDEDiscoverer(terms=TWO_TERMS).fit(u)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PDEDiscoverer(terms=TWO_TERMS).fit(u, t=t, x=x)


def test_mechanistic_refinement_with_a_third_order_term():
    """u_xxx enters the solver's right-hand side frozen at the reference field."""
    u, t, x = make_kdv(n_times=41)
    model = PDEDiscoverer(
        terms={"u_x": [1], "u_xxx": [0]},
        method="mechanistic",
        n_windows=6,
        max_iter=5,
        random_state=0,
    ).fit(u, t=t, x=x)
    assert model.solver_used_
    np.testing.assert_allclose(model.coef_, [-6.0, -1.0], rtol=0.05)


# ------------------------------------------- several fields, 2-D grids
@cache
def _spiral(noise):
    from skres.datasets import make_reaction_diffusion

    u, v, t, x, y = make_reaction_diffusion(
        n_points=32, n_times=31, noise=noise, random_state=4
    )
    return np.stack([u, v], -1), t, x, y


LAMBDA_OMEGA = [
    {"u": 1, "u^3": -1, "u v^2": -1, "u^2 v": 1, "v^3": 1, "u_xx": 0.1, "u_yy": 0.1},
    {"v": 1, "u^3": -1, "u v^2": -1, "u^2 v": -1, "v^3": -1, "v_xx": 0.1, "v_yy": 0.1},
]


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_lambda_omega_two_fields_2d(noise):
    F, t, x, y = _spiral(noise)
    model = PDEDiscoverer(weak_support=(6, 6)).fit(F, t=t, x=(x, y))
    assert model.coef_.shape == (2, len(model.feature_names_))
    for row, truth in zip(model.coef_, LAMBDA_OMEGA, strict=True):
        names = model.feature_names_
        assert set(names[row != 0]) == set(truth), model.equations(3)
        if noise == 0:
            for term, value in truth.items():
                got = row[list(names).index(term)]
                assert abs(got / value - 1) < 0.05, model.equations(3)
    assert model.equations()[0].startswith("u_t = ")
    with pytest.raises(ValueError, match="several fields"):
        model.predict(F[:, :, 0])
    # held-out forward simulation of the discovered pair (periodic, spectral)
    sim = model.simulate(F[20], t[20:])
    assert sim.shape == F[20:].shape
    assert np.max(np.abs(sim - F[20:])) < (0.01 if noise == 0 else 0.1)
    assert model.score(F[20:], t=t[20:]) > (0.999 if noise == 0 else 0.98)
    with pytest.raises(ValueError, match="u0 must have shape"):
        model.simulate(F[0, ..., 0], t)


def test_navier_stokes_vorticity_2d_small():
    from skres.datasets import make_navier_stokes_vorticity

    w, u, v, t, x, y = make_navier_stokes_vorticity(n_points=32, n_times=21)
    model = PDEDiscoverer(
        terms={"degree": 2, "derivative_fields": [0]}, field_names=["w", "u", "v"]
    ).fit(np.stack([w, u, v], -1), t=t, x=(x, y))
    row = model.coef_[0]
    truth = {"u w_x": -1.0, "v w_y": -1.0, "w_xx": 0.05, "w_yy": 0.05}
    names = list(model.feature_names_)
    assert set(model.feature_names_[row != 0]) == set(truth), model.equations(4)
    for term, value in truth.items():
        assert abs(row[names.index(term)] / value - 1) < 0.05


def test_fields_bad_inputs():
    F, t, x, y = _spiral(0.0)
    with pytest.raises(ValueError, match="mechanistic"):
        PDEDiscoverer(method="mechanistic").fit(F, t=t, x=(x, y))
    with pytest.raises(ValueError, match=r"x=\(x, y\)"):
        PDEDiscoverer().fit(F, t=t, x=x)
    with pytest.raises(ValueError, match="field_names"):
        PDEDiscoverer(field_names=["a"]).fit(F, t=t, x=(x, y))
    with pytest.raises(ValueError, match="terms"):
        PDEDiscoverer(terms={"u_x": 1}).fit(F, t=t, x=(x, y))
    bad = F.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PDEDiscoverer().fit(bad, t=t, x=(x, y))
