"""skres.solvers.solve_linear_ode: spec pde_smnn.md §5.1 items 1-7 (and more)."""

from __future__ import annotations

from dataclasses import astuple
from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from skres.solvers import (
    LinearODEFactorCache,
    LinearODESolver,
    solve_linear_ode,
    solve_linear_ode_dense,
)
from skres.solvers.ode import _assemble_lhs, _factor, _prepare
from tests._work import count_work

F64 = torch.float64


def random_problem(seed, B=3, n=12, q=2, d=2, m1=3, n_iv_orders=2, lhs_batch=True):
    g = torch.Generator().manual_seed(seed)
    shape_b = (B,) if lhs_batch else (1,)
    coef = torch.randn(*shape_b, n, q, d, m1, dtype=F64, generator=g)
    rhs = torch.randn(B, n, q, dtype=F64, generator=g)
    iv = torch.randn(B, 1, d, n_iv_orders, dtype=F64, generator=g)
    steps = 0.05 + 0.1 * torch.rand(*shape_b, n - 1, dtype=F64, generator=g)
    return coef, rhs, iv, steps


def _grads(fn, inputs, central):
    ins = [x.clone().requires_grad_() for x in inputs]
    u = fn(*ins, central_smoothness=central)
    probe = torch.sin(torch.arange(u.numel(), dtype=F64)).reshape(u.shape)
    return u.detach(), torch.autograd.grad((u * probe).sum(), ins)


# --- item 1: dense agreement ----------------------------------------------------------
@pytest.mark.parametrize("central", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_1_dense_agreement_values_and_gradients(central, seed):
    inputs = random_problem(seed)
    u, g = _grads(solve_linear_ode, inputs, central)
    ud, gd = _grads(solve_linear_ode_dense, inputs, central)
    assert (u - ud).abs().max() / u.abs().max() <= 1e-10
    for a, b in zip(g, gd, strict=True):
        assert (a - b).abs().max() <= 1e-8


@pytest.mark.parametrize("central", [False, True])
def test_1b_other_sizes_and_broadcast_lhs(central):
    # order 3, 3 dims, 3 equations, LHS shared over the batch, init on 2 steps.
    g = torch.Generator().manual_seed(5)
    coef = torch.randn(1, 9, 3, 3, 4, dtype=F64, generator=g)
    coef[..., 1] += 2.0 * torch.eye(3, dtype=F64)
    rhs = torch.randn(4, 9, 3, dtype=F64, generator=g)
    iv = torch.randn(4, 2, 3, 3, dtype=F64, generator=g)
    steps = torch.full((1, 8), 0.1, dtype=F64)
    u, g1 = _grads(solve_linear_ode, (coef, rhs, iv, steps), central)
    ud, g2 = _grads(solve_linear_ode_dense, (coef, rhs, iv, steps), central)
    assert u.shape == (4, 9, 3, 4)
    assert (u - ud).abs().max() / u.abs().max() <= 1e-10
    for a, b in zip(g1, g2, strict=True):
        assert a.shape == b.shape
        assert (a - b).abs().max() <= 1e-8 * max(1.0, float(b.abs().max()))


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(2, 9),
    d=st.integers(1, 2),
    m1=st.integers(2, 4),
    central=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_property_banded_equals_dense(n, d, m1, central, seed):
    coef, rhs, iv, steps = random_problem(
        seed, B=2, n=n, q=d, d=d, m1=m1, n_iv_orders=m1 - 1
    )
    u = solve_linear_ode(coef, rhs, iv, steps, central_smoothness=central)
    ud = solve_linear_ode_dense(coef, rhs, iv, steps, central_smoothness=central)
    assert torch.allclose(u, ud, rtol=1e-8, atol=1e-8 * float(ud.abs().max()))


# --- item 2: gradcheck ----------------------------------------------------------------
@pytest.mark.parametrize("central", [False, True])
def test_2_gradcheck(central):
    g = torch.Generator().manual_seed(3)
    n = 6
    coef = torch.randn(1, n, 1, 1, 3, dtype=F64, generator=g)
    coef[..., 1] += 2.0
    rhs = torch.randn(1, n, 1, dtype=F64, generator=g)
    iv = torch.randn(1, 1, 1, 2, dtype=F64, generator=g)
    steps = 0.1 + 0.05 * torch.rand(1, n - 1, dtype=F64, generator=g)
    inputs = tuple(x.requires_grad_() for x in (coef, rhs, iv, steps))

    def fn(c, r, i, s):
        return solve_linear_ode(c, r, i, s, central_smoothness=central)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


# --- item 3: convergence order --------------------------------------------------------
def _decay_error(order, h):
    n = int(round(3 / h)) + 1
    t = torch.linspace(0, 3, n, dtype=F64)
    coef = torch.zeros(1, 1, 1, order + 1, dtype=F64)
    coef[..., 0], coef[..., 1] = 0.5, 1.0
    u = solve_linear_ode(
        coef,
        torch.sin(t)[:, None],
        torch.ones(1, 1, 1, dtype=F64),
        torch.full((n - 1,), h, dtype=F64),
    )
    exact = (1 + 1 / 1.25) * torch.exp(-0.5 * t) + (
        0.5 * torch.sin(t) - torch.cos(t)
    ) / 1.25
    return float((u[:, 0, 0] - exact).abs().max())


def test_3_convergence_orders():
    e2a, e2b = _decay_error(2, 0.05), _decay_error(2, 0.025)
    e3a, e3b = _decay_error(3, 0.05), _decay_error(3, 0.025)
    assert e2a <= 1e-3
    assert e2a / e2b >= 3.5
    assert e3a / e3b >= 12.0
    # a third refinement level keeps the order-2 rate
    assert e2b / _decay_error(2, 0.0125) >= 3.5


def test_3_oscillator_central():
    h, T = 0.025, 3.0
    n = int(round(T / h)) + 1
    t = torch.linspace(0, T, n, dtype=F64)
    coef = torch.tensor([4.0, 0.0, 1.0], dtype=F64).reshape(1, 1, 1, 3)
    iv = torch.tensor([1.0, 0.0], dtype=F64).reshape(1, 1, 2)
    u = solve_linear_ode(
        coef,
        torch.zeros(1, 1, dtype=F64),
        iv,
        torch.full((n - 1,), h, dtype=F64),
        central_smoothness=True,
    )
    assert float((u[:, 0, 0] - torch.cos(2 * t)).abs().max()) <= 3e-3


def test_nonuniform_steps_accuracy():
    rng = np.random.default_rng(0)
    h = torch.as_tensor(0.02 + 0.02 * rng.random(120))
    t = torch.cat([torch.zeros(1, dtype=F64), torch.cumsum(h, 0)])
    coef = torch.tensor([1.0, 1.0, 0.0], dtype=F64).reshape(1, 1, 1, 3)
    u = solve_linear_ode(
        coef, torch.zeros(1, 1, dtype=F64), torch.ones(1, 1, 1, dtype=F64), h
    )
    assert float((u[:, 0, 0] - torch.exp(-t)).abs().max()) < 1e-4
    assert float((u[:, 0, 1] + torch.exp(-t)).abs().max()) < 1e-3


# --- item 4: linear scaling -----------------------------------------------------------
def _timing_problem(n, B=8):
    g = torch.Generator().manual_seed(0)
    coef = torch.randn(B, n, 1, 1, 3, dtype=F64, generator=g)
    coef[..., 1] += 1.0
    rhs = torch.randn(B, n, 1, dtype=F64, generator=g)
    iv = torch.randn(B, 1, 1, 2, dtype=F64, generator=g)
    steps = torch.full((B, n - 1), 0.01, dtype=F64)
    return coef, rhs, iv, steps


def _fwd_bwd(args):
    ins = [x.clone().requires_grad_() for x in args]
    solve_linear_ode(*ins).sum().backward()


@pytest.mark.parametrize("lapack", [True, False])
def test_4_linear_scaling_and_memory(monkeypatch, lapack):
    # Linear time is checked by counting work, not timing it (the timings are in
    # python -m benchmarks mechanistic_ode): operator calls, elements produced and
    # matmul FLOPs are affine in the number of steps, forward and forward + backward
    # (the work added from 100 to 200 steps is twice that from 50 to 100). On the
    # CPU LAPACK path the torch operator calls do not grow at all (no loop over the
    # steps; the banded pbtrf/pbtrs are linear by construction and not counted).
    if not lapack:  # the blocked torch factor (the GPU path)
        import skres.solvers.ode as ode

        monkeypatch.setattr(ode, "_use_lapack", lambda D: False)
    for solve in (solve_linear_ode, lambda *a: _fwd_bwd(a)):
        w1, w2, w4 = (
            count_work(partial(solve, *_timing_problem(n, B=2))) for n in (50, 100, 200)
        )
        for x1, x2, x4 in zip(astuple(w1), astuple(w2), astuple(w4), strict=True):
            if lapack and x2 == x1:
                assert x4 == x2, (w1, w2, w4)  # constant: nothing per step
            else:
                assert 1.98 <= (x4 - x2) / (x2 - x1) <= 2.02, (w1, w2, w4)
    # O(n) memory: 2n-1 (3n-3 with central rows) b x b normal-matrix blocks.
    for central, expected in (
        (False, lambda n: 2 * n - 1),
        (True, lambda n: 3 * n - 3),
    ):
        for n in (50, 200):
            p = _prepare(*_timing_problem(n, B=2), None)
            D, E, F = _assemble_lhs(p, central, (1.0, 1.0, 1.0))
            blocks = D.shape[-3] + E.shape[-3] + (0 if F is None else F.shape[-3])
            assert blocks == expected(n)
            assert D.shape[-2:] == E.shape[-2:] == (3, 3)
            assert _factor(D, E, F).n_blocks <= 5 * n


# --- item 5: less work than the dense solve -------------------------------------------
def test_5_less_work_than_dense():
    # The speed-up (>= 10x at n = 400) is a benchmark (python -m benchmarks
    # mechanistic_ode); the test counts matmul FLOPs: the dense normal-equation
    # solve is cubic in n, the banded one linear.
    work = {}
    for n in (100, 200):
        args = _timing_problem(n, B=2)
        work[n] = (
            count_work(lambda a=args: solve_linear_ode(*a)),
            count_work(lambda a=args: solve_linear_ode_dense(*a)),
        )
    (banded, dense), (banded2, dense2) = work[100], work[200]
    assert dense.flops >= 100 * banded.flops  # measured 2180x
    assert dense.elements >= 10 * banded.elements  # measured 30x
    assert banded2.flops <= 2.05 * banded.flops  # measured 2.01x
    assert dense2.flops >= 7 * dense.flops  # measured 8.0x


# --- item 6: equivalence with the MNN row set (no slack), via QR least squares
@pytest.mark.parametrize("seed", [0, 7])
def test_6_equivalence_with_mnn_rows(seed):
    coef, rhs, iv, steps = random_problem(seed, B=2, n=30, q=1, d=1, m1=3)
    u = solve_linear_ode(coef, rhs, iv, steps, central_smoothness=True)
    ul = solve_linear_ode_dense(
        coef, rhs, iv, steps, central_smoothness=True, method="lstsq"
    )
    assert float((u - ul).abs().max()) <= 1e-8 * max(1.0, float(ul.abs().max()))


# --- item 7: frozen LHS ---------------------------------------------------------------
def test_7_frozen_lhs_reuse():
    args = _timing_problem(1000)
    coef, rhs, iv, steps = args
    cache = LinearODEFactorCache()
    solve_linear_ode(coef, rhs, iv, steps, cache=cache)
    rhs2 = torch.cos(rhs) + 1.0
    cached = solve_linear_ode(coef, rhs2, iv, steps, cache=cache)
    fresh = solve_linear_ode(coef, rhs2, iv, steps)
    assert cache.n_factorizations == 1
    assert float((cached - fresh).abs().max()) <= 1e-12
    # A cached call skips the factorisation: counted, a fraction of the work.
    w_fresh = count_work(lambda: solve_linear_ode(coef, rhs2, iv, steps))
    w_cached = count_work(lambda: solve_linear_ode(coef, rhs2, iv, steps, cache=cache))
    assert cache.n_factorizations == 1
    assert w_cached.ops < w_fresh.ops, (w_cached, w_fresh)  # measured 0.58x
    assert w_cached.elements < 0.5 * w_fresh.elements  # measured 0.21x
    assert w_cached.flops < 0.5 * w_fresh.flops  # measured 0.13x


def test_7_frozen_lhs_refactors_on_change_and_gradients():
    coef, rhs, iv, steps = random_problem(0, B=3, n=10)
    cache = LinearODEFactorCache()
    solve_linear_ode(coef, rhs, iv, steps, cache=cache)
    # different batch size, same cache: a correct result of the right shape
    sub = [x[:2] for x in (coef, rhs, iv, steps)]
    out = solve_linear_ode(*sub, cache=cache)
    assert out.shape == (2, 10, 2, 3)
    assert torch.allclose(out, solve_linear_ode(*sub), atol=1e-12)
    # changed coefficients with the same shapes: refactored, not stale
    coef2 = coef * 1.5
    out2 = solve_linear_ode(coef2, rhs, iv, steps, cache=cache)
    assert torch.allclose(out2, solve_linear_ode(coef2, rhs, iv, steps), atol=1e-12)
    assert cache.n_factorizations == 3
    # gradients flow to rhs and init_vars (equal to the uncached ones) but not the LHS
    r1 = rhs.clone().requires_grad_()
    r2 = rhs.clone().requires_grad_()
    c1 = coef2.clone().requires_grad_()
    solve_linear_ode(c1, r1, iv, steps, cache=cache).pow(2).sum().backward()
    solve_linear_ode(coef2, r2, iv, steps).pow(2).sum().backward()
    assert torch.allclose(r1.grad, r2.grad, atol=1e-10)
    assert c1.grad is None or float(c1.grad.abs().max()) == 0.0
    cache.clear()
    solve_linear_ode(coef2, rhs, iv, steps, cache=cache)
    assert cache.n_factorizations == 4


def test_module_form_and_frozen_cache():
    coef, rhs, iv, steps = random_problem(2, B=2, n=8)
    solver = LinearODESolver(central_smoothness=True, frozen_lhs=True)
    out = solver(coef, rhs, iv, steps)
    expected = solve_linear_ode(coef, rhs, iv, steps, central_smoothness=True)
    assert torch.allclose(out, expected, atol=1e-12)
    solver(coef, rhs + 1, iv, steps)
    assert solver.cache is not None and solver.cache.n_factorizations == 1


# --- errors ---------------------------------------------------------------------------
def test_non_spd_raises():
    D = -torch.eye(3, dtype=F64).expand(4, 3, 3).clone()
    E = torch.zeros(3, 3, 3, dtype=F64)
    with pytest.raises(ValueError, match="not positive definite"):
        _factor(D, E, None)
    # no initial values: the system has a null space
    coef = torch.zeros(1, 1, 1, 3, dtype=F64)
    with pytest.raises(ValueError, match="not positive definite"):
        solve_linear_ode(
            coef,
            torch.zeros(1, 1, dtype=F64),
            torch.zeros(0, 1, 1, dtype=F64),
            torch.full((5,), 0.1, dtype=F64),
        )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: (a[0][0, 0], *a[1:]), "coefficients must have shape"),
        (lambda a: (a[0], a[1][..., :1], *a[2:]), "equations"),
        (lambda a: (*a[:3], -a[3]), "strictly positive"),
        (lambda a: (*a[:3], a[3][..., :4]), "steps has 4 steps"),
        (lambda a: (a[0], a[1] * float("nan"), *a[2:]), "rhs contains NaN"),
        (lambda a: (*a[:2], a[2][..., :1, :], a[3]), "dims"),
    ],
)
def test_bad_inputs(change, match):
    args = random_problem(0, B=2, n=6)
    with pytest.raises(ValueError, match=match):
        solve_linear_ode(*change(args))


def test_bad_weights_and_method():
    args = random_problem(0, B=1, n=5)
    with pytest.raises(ValueError, match="weights"):
        solve_linear_ode(*args, weights=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="method"):
        solve_linear_ode_dense(*args, method="qr")


def test_weights_match_dense_and_float32():
    args = random_problem(4, B=2, n=7)
    w = (2.0, 3.0, 0.5)
    u = solve_linear_ode(*args, weights=w)
    assert torch.allclose(u, solve_linear_ode_dense(*args, weights=w), atol=1e-9)
    n, h = 51, 0.02  # float32 on a well-conditioned problem (u' = -u)
    decay = (
        torch.tensor([1.0, 1.0, 0.0]).reshape(1, 1, 1, 3),
        torch.zeros(1, 1),
        torch.ones(1, 1, 1),
        torch.full((n - 1,), h),
    )
    u32 = solve_linear_ode(*decay)
    assert u32.dtype == torch.float32
    exact = torch.exp(-torch.linspace(0, 1, n))
    assert float((u32[:, 0, 0] - exact).abs().max()) < 1e-4


# --- the CPU LAPACK banded path against the blocked torch path (issue 23) ------------
def _both_paths(monkeypatch, fn):
    """``fn()`` with the LAPACK banded factor, then with the blocked torch factor."""
    import skres.solvers.ode as ode

    fast = fn()
    with monkeypatch.context() as m:
        m.setattr(ode, "_use_lapack", lambda D: False)
        slow = fn()
    return fast, slow


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(2, 12),
    d=st.integers(1, 3),
    m1=st.integers(2, 4),
    central=st.booleans(),
    layout=st.sampled_from(["per_batch", "shared", "mixed"]),
    seed=st.integers(0, 10_000),
)
@example(n=3, d=3, m1=4, central=False, layout="per_batch", seed=678)  # cond 3.2e8
def test_property_lapack_equals_blocked_torch(n, d, m1, central, layout, seed):
    g = torch.Generator().manual_seed(seed)
    lhs = {"per_batch": (2, 3), "shared": (1, 1), "mixed": (2, 1)}[layout]
    coef = torch.randn(*lhs, n, d, d, m1, dtype=F64, generator=g)
    coef[..., 1] += 2.0 * torch.eye(d, dtype=F64)
    rhs = torch.randn(2, 3, n, d, dtype=F64, generator=g)
    iv = torch.randn(2, 3, 1, d, m1 - 1, dtype=F64, generator=g)
    steps = 0.05 + 0.1 * torch.rand(*lhs, n - 1, dtype=F64, generator=g)
    inputs = (coef, rhs, iv, steps)

    def run():
        return _grads(solve_linear_ode, inputs, central)

    with pytest.MonkeyPatch.context() as mp:
        (u, g1), (u0, g0) = _both_paths(mp, run)
    # Random coefficients can make the normal matrix ill-conditioned (cond 3e8
    # seen), where two backward-stable solvers differ by ~cond * eps: the paths
    # must agree as well as the torch path agrees with the dense solver (x10).
    ud, gd = _grads(solve_linear_ode_dense, inputs, central)

    def tol(ref, dense, rtol):
        spread = float((ref - dense).abs().max())
        return max(rtol * max(1.0, float(ref.abs().max())), 10.0 * spread)

    assert float((u - u0).abs().max()) <= tol(u0, ud, 1e-9)
    for a, b, c in zip(g1, g0, gd, strict=True):
        assert a.shape == b.shape
        assert float((a - b).abs().max()) <= tol(b, c, 1e-8)


def test_lapack_path_with_cache_and_float32(monkeypatch):
    coef, rhs, iv, steps = random_problem(11, B=3, n=40, lhs_batch=False)
    cache = LinearODEFactorCache()

    def run():
        cache.clear()
        first = solve_linear_ode(coef, rhs, iv, steps, cache=cache)
        again = solve_linear_ode(coef, rhs * 2.0, iv, steps, cache=cache)
        return first, again

    (a, b), (a0, b0) = _both_paths(monkeypatch, run)
    assert torch.allclose(a, a0, atol=1e-10) and torch.allclose(b, b0, atol=1e-10)
    assert cache.n_factorizations == 2  # one per path: the cache was reused
    args32 = [x.float() for x in (coef, rhs, iv, steps)]
    u32, u32_torch = _both_paths(monkeypatch, lambda: solve_linear_ode(*args32))
    assert u32.dtype == torch.float32
    assert torch.allclose(u32, u32_torch, rtol=1e-3, atol=1e-3 * float(a.abs().max()))


def test_taylor_normal_blocks_match_row_products():
    from skres.solvers.ode import _taylor_normal_blocks, _taylor_rows

    h = 0.05 + torch.rand(2, 7, dtype=F64, generator=torch.Generator().manual_seed(0))
    for m1 in (2, 3, 5):
        for central in (False, True):
            A, C = _taylor_rows(h, m1, central)
            Saa, Scc, Sca = _taylor_normal_blocks(h, m1, central)
            assert torch.allclose(Saa, A.mT @ A, rtol=1e-13, atol=1e-15)
            assert torch.allclose(Scc, C.mT @ C, rtol=1e-13, atol=1e-15)
            assert torch.allclose(Sca, C.mT @ A, rtol=1e-13, atol=1e-15)


def test_lapack_non_spd_names_the_step():
    from skres.solvers.ode import _factor_lapack

    D = torch.eye(3, dtype=F64).expand(5, 3, 3).clone()
    D[3] = -D[3]
    E = torch.zeros(4, 3, 3, dtype=F64)
    with pytest.raises(ValueError, match="failed at step 3"):
        _factor_lapack(D, E, None)
    with pytest.raises(ValueError, match="failed at step 3"):
        _factor(D, E, None)
