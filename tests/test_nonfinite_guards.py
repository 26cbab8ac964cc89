"""Issue 20 reproducers: the compute-dtype cast guard, output checks, meta tensors,
SparseAutoencoder.score on degenerate data and the ODE solver's precision/initial
values. The table-driven sweep over every estimator is tests/test_bad_input.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from skres._validation import check_cast, check_finite_output
from skres.causal import SparseAutoencoder
from skres.dynamics import LatentVectorField
from skres.interpretability import ResiDualAligner
from skres.solvers import solve_linear_ode, solve_linear_ode_dense
from skres.utils._testing import make_instance


def _data(seed=0, n=60, d=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X[:, 0] > 0).astype(int)
    return X, y


def _sae(**kw):
    return make_instance(SparseAutoencoder, **kw)


FLOAT32_ESTIMATORS = {
    "SparseAutoencoder": lambda: _sae(dtype="float32"),
    "ResiDualAligner": lambda: make_instance(ResiDualAligner, dtype="float32"),
    "LatentVectorField": lambda: make_instance(LatentVectorField, dtype="float32"),
}


def _fit(name, X, y):
    est = FLOAT32_ESTIMATORS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y) if name == "ResiDualAligner" else est.fit(X)


# --- the cast guard -------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FLOAT32_ESTIMATORS))
@pytest.mark.parametrize("scale", [1e39, 1e300])
def test_fit_beyond_float32_range_raises(name, scale):
    X, y = _data()
    with pytest.raises(
        ValueError, match=r"too large for the compute dtype float32"
    ) as e:
        _fit(name, X * scale, y)
    assert "dtype='float64'" in str(e.value) and "rescale X" in str(e.value)


@pytest.mark.parametrize("name", list(FLOAT32_ESTIMATORS))
def test_methods_beyond_float32_range_raise(name):
    X, y = _data(1)
    est = _fit(name, X, y)
    methods = [
        m
        for m in ("transform", "predict_proba", "decision_function", "score_samples")
        if hasattr(est, m)
    ]
    assert methods
    for method in methods:
        with pytest.raises(ValueError, match="float32"):
            getattr(est, method)(X * 1e39)
        out = getattr(est, method)(X)  # the same model on data in range is fine
        assert np.all(np.isfinite(out))


def test_float64_dtype_is_the_remedy():
    X, _ = _data(2)
    est = _sae(dtype="float64").fit(X)
    Z = est.transform(X * 1e39)  # in range for float64: no cast error
    assert Z.dtype == np.float64 and np.all(np.isfinite(Z))


@pytest.mark.parametrize("name", list(FLOAT32_ESTIMATORS))
def test_underflow_to_zero_raises(name):
    X, y = _data(3)
    with pytest.raises(ValueError, match="below the smallest normal float32"):
        _fit(name, X * 1e-300, y)


def test_check_cast_passes_zeros_and_normal_values():
    for X in (np.zeros((3, 2)), np.array([[1e-30, 2.0]]), np.ones((0, 3))):
        check_cast(X, torch.as_tensor(X, dtype=torch.float32))
    with pytest.raises(ValueError, match="float16"):
        check_cast(np.array([7e4]), torch.as_tensor([7e4], dtype=torch.float16))
    with pytest.raises(ValueError, match="contains NaN"):
        check_cast(np.array([np.nan]), np.array([np.nan], dtype=np.float32))


def test_check_finite_output_raise_and_warn():
    est = _sae()
    assert (
        check_finite_output(np.ones(3), estimator=est, method="transform") is not None
    )
    with pytest.raises(ValueError, match=r"SparseAutoencoder produced 1 non-finite"):
        check_finite_output(np.array([1.0, np.nan]), estimator=est, method="transform")
    with pytest.warns(RuntimeWarning, match="score"):
        out = check_finite_output(
            float("inf"), estimator=est, method="score", action="warn"
        )
    assert out == float("inf")


def test_latent_vector_field_huge_latents_raise_in_float64():
    X, _ = _data(4)
    est = make_instance(LatentVectorField)  # float64 test parameters
    est.fit(X)
    for method in ("transform", "score_samples", "decision_function"):
        with pytest.raises(ValueError, match="latents"):
            getattr(est, method)(X * 1e300)


# --- meta tensors ---------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FLOAT32_ESTIMATORS))
def test_meta_tensor_is_a_clear_error(name):
    X, y = _data(5)
    meta = torch.empty(X.shape, device="meta")
    with pytest.raises(ValueError, match="'meta' device"):
        _fit(name, meta, y)
    est = _fit(name, X, y)
    with pytest.raises(ValueError, match="X is a torch tensor on the 'meta' device"):
        est.transform(meta)


def test_meta_tensor_in_solvers():
    coef = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    meta = torch.empty(1, 1, device="meta", dtype=torch.float64)
    with pytest.raises(ValueError, match="rhs is a torch tensor on the 'meta' device"):
        solve_linear_ode(coef, meta, torch.ones(1, 1, 1), torch.full((9,), 0.1))


# --- SparseAutoencoder.score on degenerate data ---------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sae_score_one_row_and_constant_data(dtype):
    X, _ = _data(6)
    est = _sae(dtype=dtype).fit(X)
    assert np.isfinite(est.score(X))
    for degenerate in (X[:1], np.ones((5, X.shape[1])), np.zeros((4, X.shape[1]))):
        score = est.score(degenerate)
        assert score in (0.0, 1.0), score  # documented: 1 if exact, else 0
    # near-constant: spread below the compute precision counts as constant; above
    # it, the ratio is finite (and very negative for a poor reconstruction)
    near = 3.0 + 1e-9 * np.random.default_rng(0).random((5, X.shape[1]))
    score = est.score(near)
    assert np.isfinite(score)
    if dtype == "float32":
        assert score in (0.0, 1.0)
    w = np.ones(5)
    assert est.score(np.ones((5, X.shape[1])), sample_weight=w) in (0.0, 1.0)


def test_sae_score_constant_data_reconstructed_exactly_is_one():
    X = np.zeros((30, 4))
    X[:, 0] = np.linspace(-1, 1, 30)
    est = _sae(dtype="float64").fit(X)
    constant = np.zeros((3, 4))
    # force an exact reconstruction of the constant rows: decoder bias = the row
    est.module_.b_dec.zero_()
    with torch.no_grad():
        est.module_.W_enc.zero_()
        est.module_.b_enc.fill_(-1.0)  # every code 0 -> x_hat = b_dec = 0
    assert est.score(constant) == 1.0


# --- ODE solver: precision and initial values -----------------------------------------
def _oscillator(h, dtype):
    n = int(round(1 / h)) + 1
    coef = torch.tensor([1.0, 0.0, 1.0], dtype=dtype).reshape(1, 1, 1, 3)  # u''+u=0
    rhs = torch.zeros(1, 1, dtype=dtype)
    iv = torch.tensor([1.0, 0.0], dtype=dtype).reshape(1, 1, 2)  # u(0)=1, u'(0)=0
    steps = torch.full((n - 1,), h, dtype=dtype)
    exact = torch.cos(torch.arange(n, dtype=torch.float64) * h)
    return (coef, rhs, iv, steps), exact


@pytest.mark.parametrize("h", [1e-2, 1e-3])
def test_float32_ode_solve_is_accurate(h):
    args64, exact = _oscillator(h, torch.float64)
    args32, _ = _oscillator(h, torch.float32)
    u64 = solve_linear_ode(*args64)
    u32 = solve_linear_ode(*args32)
    assert u32.dtype == torch.float32
    err64 = float((u64[:, 0, 0] - exact).abs().max())
    err32 = float((u32[:, 0, 0].double() - exact).abs().max())
    assert err64 < 2e-5
    assert err32 < err64 + 1e-5  # float32 rounding of the output only (was 0.2-1)


def test_float32_ode_gradients_flow():
    (coef, rhs, iv, steps), _ = _oscillator(1e-2, torch.float32)
    rhs = rhs.clone().requires_grad_()
    u = solve_linear_ode(coef, rhs, iv, steps)
    u[..., 0].sum().backward()
    assert rhs.grad is not None and rhs.grad.dtype == torch.float32
    assert torch.isfinite(rhs.grad).all()


@pytest.mark.parametrize("solver", [solve_linear_ode, solve_linear_ode_dense])
def test_too_few_initial_values_for_the_order(solver):
    (coef, rhs, iv, steps), _ = _oscillator(1e-1, torch.float64)
    with pytest.raises(ValueError, match="ODE is of order 2"):
        solver(coef, rhs, iv[..., :1], steps)  # u(0) only
    # two values at two steps pin a second-order ODE too
    two_steps = torch.tensor([[[1.0]], [[float(np.cos(0.1))]]], dtype=torch.float64)
    u = solver(coef, rhs, two_steps, steps)
    assert torch.isfinite(u).all()
    # a first-order ODE needs one value
    first = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    assert torch.isfinite(solver(first, rhs, iv[..., :1], steps)).all()
