"""Tests of the Mechanistic-PDE linear solver (spec pde_smnn.md section 5.3, items 11-14
and 18)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skres.solvers import build_linear_pde_system, solve_linear_pde
from skres.solvers._pde_assembly import (
    stencil_indices,
    stencil_weights,
    variable_names,
)
from tests._work import count_work

F64 = torch.float64


def advdiff(nt, nx, nu=0.1, T=0.5, B=1, jitter=0.0, seed=0, order=2, a=1.0):
    """u_t + a u_x - nu u_xx = 0 on [0, T] x [0, 2 pi], u = exp(-nu t) sin(x - a t).

    ``jitter`` > 0 perturbs the interior grid nodes (non-uniform steps)."""
    rng = np.random.default_rng(seed)

    def nodes(n, length):
        z = np.linspace(0.0, length, n)
        if jitter:
            h = length / (n - 1)
            z[1:-1] += rng.uniform(-jitter, jitter, n - 2) * h
        return torch.as_tensor(z, dtype=F64)

    t, x = nodes(nt, T), nodes(nx, 2 * math.pi)
    exact = torch.exp(-nu * t)[:, None] * torch.sin(x[None, :] - a * t[:, None])
    exact = exact[None].expand(B, -1, -1).clone()
    nv = 1 + 2 * order
    coef = torch.zeros(B, nt, nx, nv, dtype=F64)
    coef[..., 1] = 1.0
    coef[..., 2] = a
    if order == 2:
        coef[..., 4] = -nu
    return coef, torch.zeros_like(exact), exact, (torch.diff(t), torch.diff(x)), exact


def max_err(u, exact):
    return float((u[..., 0] - exact).abs().max())


# -------------------------------------------------------------------------------------
# item 11: manufactured solutions
# -------------------------------------------------------------------------------------


def test_manufactured_advection_diffusion_errors_and_refinement():
    c, r, g, s, ex = advdiff(16, 32)
    e16 = max_err(solve_linear_pde(c, r, g, s, method="direct"), ex)
    c, r, g, s, ex = advdiff(32, 64)
    e32 = max_err(solve_linear_pde(c, r, g, s, method="direct"), ex)
    assert e16 <= 5e-3  # measured 2.6e-3
    assert e32 <= 1e-3  # measured 5.1e-4
    assert e16 / e32 >= 3.0  # measured 5.0
    c, r, g, s, ex = advdiff(24, 48)  # an intermediate size
    e24 = max_err(solve_linear_pde(c, r, g, s, method="direct"), ex)
    assert e32 < e24 < e16


def test_manufactured_transport():
    c, r, g, s, ex = advdiff(16, 32, nu=0.0)
    assert max_err(solve_linear_pde(c, r, g, s), ex) <= 8e-3  # measured 4.7e-3
    c, r, g, s, ex = advdiff(32, 64, nu=0.0)
    assert max_err(solve_linear_pde(c, r, g, s), ex) <= 1.5e-3  # measured 8.1e-4


def test_non_uniform_steps_converge():
    errs = []
    for n in (16, 32):
        c, r, g, s, ex = advdiff(n, 2 * n, jitter=0.3, seed=n)
        assert float(s[0].std()) > 0.05 * float(s[0].mean())
        errs.append(max_err(solve_linear_pde(c, r, g, s, method="direct"), ex))
    assert errs[0] <= 1e-2
    assert errs[1] <= 2e-3
    assert errs[0] / errs[1] >= 2.5


def test_order_one_transport_converges():
    errs = []
    for n in (16, 32):
        c, r, g, s, ex = advdiff(n, 2 * n, nu=0.0, order=1)
        u = solve_linear_pde(c, r, g, s, order=1)
        assert u.shape == (1, n, 2 * n, 3)
        errs.append(max_err(u, ex))
    assert errs[1] <= 2e-2
    assert errs[0] / errs[1] >= 1.5


def advdiff2d(nt, n, nu=0.05, T=0.4, a=1.0, b=0.5, B=1):
    """u_t + a u_x + b u_y - nu (u_xx + u_yy) = 0,
    u = exp(-2 nu t) sin(x + y - (a + b) t)."""
    t = torch.linspace(0, T, nt, dtype=F64)
    x = torch.linspace(0, 2 * math.pi, n, dtype=F64)
    y = torch.linspace(0, 2 * math.pi, n + 2, dtype=F64)
    exact = torch.exp(-2 * nu * t)[:, None, None] * torch.sin(
        x[None, :, None] + y[None, None, :] - (a + b) * t[:, None, None]
    )
    exact = exact[None].expand(B, -1, -1, -1).clone()
    coef = torch.zeros(B, nt, n, n + 2, 7, dtype=F64)
    coef[..., 1] = 1.0
    coef[..., 2] = a
    coef[..., 3] = b
    coef[..., 5] = -nu
    coef[..., 6] = -nu
    steps = (torch.diff(t), torch.diff(x), torch.diff(y))
    return coef, torch.zeros_like(exact), exact, steps, exact


def test_manufactured_2d_plus_time():
    c, r, g, s, ex = advdiff2d(6, 12)
    u_coarse = solve_linear_pde(c, r, g, s, method="direct")
    assert u_coarse.shape == (1, 6, 12, 14, 7)
    c, r, g, s, ex2 = advdiff2d(6, 24)
    u_fine = solve_linear_pde(c, r, g, s, method="direct")
    e_coarse, e_fine = max_err(u_coarse, ex), max_err(u_fine, ex2)
    assert e_coarse <= 0.1  # measured 0.059
    assert e_fine <= 0.012  # measured 0.0063
    assert e_coarse / e_fine >= 4.0  # measured 9.3
    # the derivative unknowns approximate the exact derivatives as well
    t = torch.linspace(0, 0.4, 6, dtype=F64)
    x = torch.linspace(0, 2 * math.pi, 24, dtype=F64)
    y = torch.linspace(0, 2 * math.pi, 26, dtype=F64)
    ux = torch.exp(-0.1 * t)[:, None, None] * torch.cos(
        x[None, :, None] + y[None, None, :] - 1.5 * t[:, None, None]
    )
    assert float((u_fine[0, ..., 2] - ux).abs().max()) <= 0.1  # measured 0.054


def test_exact_for_quadratic_solution():
    # u = 1 + 2x + t^2 solves u_t = 2t; every row (stencils, 2nd-order Taylor) is
    # exact for a quadratic, so the least-squares residual and the error vanish
    nt, nx = 7, 9
    t = torch.linspace(0, 1, nt, dtype=F64)
    x = torch.linspace(0, 2, nx, dtype=F64)
    exact = (1 + 2 * x[None, :] + t[:, None] ** 2)[None]
    coef = torch.zeros(1, nt, nx, 5, dtype=F64)
    coef[..., 1] = 1.0
    rhs = (2 * t[:, None]).expand(nt, nx)[None]
    u, info = solve_linear_pde(
        coef, rhs, exact, (torch.diff(t), torch.diff(x)), return_info=True
    )
    assert info["method"] == "direct" and info["residual"] <= 1e-10
    assert max_err(u, exact) <= 1e-10
    assert float((u[..., 2] - 2).abs().max()) <= 1e-9  # u_x
    assert float((u[..., 3] - 2).abs().max()) <= 1e-9  # u_tt
    assert float((u[..., 1] - 2 * t[:, None]).abs().max()) <= 1e-9  # u_t


# -------------------------------------------------------------------------------------
# rows
# -------------------------------------------------------------------------------------


def test_row_counts_match_reference_notebook():
    nt, nx = 8, 128
    c = torch.zeros(1, nt, nx, 5, dtype=F64)
    z = torch.zeros(1, nt, nx, dtype=F64)
    s = (torch.full((nt - 1,), 0.1, dtype=F64), torch.full((nx - 1,), 0.1, dtype=F64))
    A, b = build_linear_pde_system(c, z, z, s)
    n_eq = (nt - 1) * (nx - 2)
    n_bc = nx + 2 * (nt - 1)
    assert n_eq == 882
    assert A.shape == (1, n_eq + n_bc + 7920, 5120)
    assert b.shape == (1, A.shape[1])


def test_build_system_least_squares_matches_solver():
    gen = torch.Generator().manual_seed(3)
    c, r, g, s, _ = advdiff(6, 7, B=2)
    c = c + 0.1 * torch.randn(c.shape, dtype=F64, generator=gen)
    r = 0.1 * torch.randn(r.shape, dtype=F64, generator=gen)
    A, b = build_linear_pde_system(c, r, g, s)
    mats, b2 = build_linear_pde_system(c, r, g, s, format="scipy")
    u = solve_linear_pde(c, r, g, s, method="dense")
    for i in range(2):
        dense = A[i].to_dense()
        assert np.allclose(mats[i].toarray(), dense.numpy())
        ref = torch.linalg.lstsq(dense, b[i, :, None]).solution[:, 0]
        assert torch.allclose(u[i].reshape(-1), ref, rtol=1e-8, atol=1e-9)
    assert torch.equal(b, b2)


def test_boundary_boxes_deduplicate_and_match_default():
    c, r, g, s, _ = advdiff(8, 12)
    burgers_boxes = [
        (0, (0, 0), (0, -2)),  # t = 0 for x = 0..nx-2
        (0, (1, 0), (-1, 0)),  # x = 0 for t >= 1
        (0, (0, -1), (-1, -1)),  # x = end for all t
    ]
    overlapping = burgers_boxes + [(0, (0, 0), (0, -1))]
    u0 = solve_linear_pde(c, r, g, s)
    for boxes in (burgers_boxes, overlapping):
        A, _ = build_linear_pde_system(c, r, g, s, boundary=boxes)
        A0, _ = build_linear_pde_system(c, r, g, s)
        assert A.shape == A0.shape
        assert torch.allclose(solve_linear_pde(c, r, g, s, boundary=boxes), u0)


def test_boundary_values_per_variable_and_initial_only():
    c, r, g, s, ex = advdiff(12, 16)
    # u and u_t given at t = 0 (a second-order-in-time initial-value setting)
    t = torch.linspace(0, 0.5, 12, dtype=F64)
    x = torch.linspace(0, 2 * math.pi, 16, dtype=F64)
    ut = -0.1 * ex - torch.exp(-0.1 * t)[:, None] * torch.cos(x[None] - t[:, None])
    g2 = torch.stack([ex, ut] + [torch.zeros_like(ex)] * 3, -1)
    boxes = [
        (0, (0, 0), (0, -1)),
        (1, (0, 0), (0, -1)),
        (0, (0, 0), (-1, 0)),
        (0, (0, -1), (-1, -1)),
    ]
    u = solve_linear_pde(c, r, g2, s, boundary=boxes)
    default = max_err(solve_linear_pde(c, r, g, s), ex)
    assert max_err(u, ex) <= 2 * default + 1e-3
    # changing g2[..., 1] changes the solution (the u_t box reads channel 1)
    g3 = g2.clone()
    g3[..., 0, :, 1] += 1.0
    assert float((solve_linear_pde(c, r, g3, s, boundary=boxes) - u).abs().max()) > 1e-3
    u_init = solve_linear_pde(c, r, g, s, boundary="initial")
    assert torch.isfinite(u_init).all()
    assert max_err(u_init, ex) <= 0.5


def test_batched_steps_match_separate_solves():
    c1, r1, g1, s1, _ = advdiff(8, 10, jitter=0.2, seed=1)
    c2, r2, g2, s2, _ = advdiff(8, 10, jitter=0.2, seed=2, nu=0.05)
    both = solve_linear_pde(
        torch.cat([c1, c2]),
        torch.cat([r1, r2]),
        torch.cat([g1, g2]),
        tuple(torch.stack([a, b]) for a, b in zip(s1, s2, strict=True)),
    )
    assert torch.allclose(both[:1], solve_linear_pde(c1, r1, g1, s1), atol=1e-12)
    assert torch.allclose(both[1:], solve_linear_pde(c2, r2, g2, s2), atol=1e-12)


def test_float32_and_ode():
    c, r, g, s, ex = advdiff(16, 32)
    u = solve_linear_pde(c.float(), r.float(), g.float(), s, method="direct")
    assert u.dtype == torch.float32
    assert max_err(u.double(), ex) <= 5e-3
    # one coordinate: u' + u = 0, u(0) = 1
    t = torch.linspace(0, 1, 21, dtype=F64)
    coef = torch.zeros(1, 21, 3, dtype=F64)
    coef[..., 0] = 1.0
    coef[..., 1] = 1.0
    g = torch.exp(-t)[None]
    u = solve_linear_pde(coef, torch.zeros_like(g), g, (torch.diff(t),))
    assert variable_names(1, 2) == ["u", "u_t", "u_tt"]
    assert float((u[0, :, 0] - torch.exp(-t)).abs().max()) <= 5e-4  # measured 1.1e-4


# -------------------------------------------------------------------------------------
# stencils (property test)
# -------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(5, 9),
    seed=st.integers(0, 2**31 - 1),
    spread=st.floats(0.0, 0.6),
)
def test_stencil_weights_exact_on_quartics(n, seed, spread):
    rng = np.random.default_rng(seed)
    steps = rng.uniform(1 - spread, 1 + spread, n - 1) * rng.uniform(0.01, 2.0)
    coef = rng.normal(size=5)
    x = np.concatenate([[0.0], np.cumsum(steps)])
    w, h = stencil_weights(torch.as_tensor(steps), (1, 2))
    idx = stencil_indices(n)
    w = w.numpy() / np.stack([h.numpy(), h.numpy() ** 2], -1)[:, None, :]
    p = np.polynomial.Polynomial(coef)
    vals = p(x)[idx]  # (n, 5)
    for k, col in ((1, 0), (2, 1)):
        approx = (w[:, :, col] * vals).sum(1)
        exact = p.deriv(k)(x)
        scale = 1 + np.abs(vals).max() / h.numpy().min() ** k
        assert np.abs(approx - exact).max() <= 1e-9 * scale
    # centred in the interior, one-sided (0..4 / n-5..n-1) at the edges
    assert list(idx[0]) == [0, 1, 2, 3, 4] and list(idx[-1]) == list(range(n - 5, n))


# -------------------------------------------------------------------------------------
# item 12: solver agreement
# -------------------------------------------------------------------------------------


def test_direct_and_dense_agree():
    c, r, g, s, _ = advdiff(16, 32)
    ud = solve_linear_pde(c, r, g, s, method="direct")
    uc = solve_linear_pde(c, r, g, s, method="dense")
    assert float((ud - uc).abs().max() / ud.abs().max()) <= 1e-8  # measured 2.4e-10
    # random coefficients, batch 2, non-uniform steps, another size
    gen = torch.Generator().manual_seed(1)
    c, r, g, s, _ = advdiff(10, 14, B=2, jitter=0.2, seed=4)
    c = c + 0.1 * torch.randn(c.shape, dtype=F64, generator=gen)
    r = 0.1 * torch.randn(r.shape, dtype=F64, generator=gen)
    ud = solve_linear_pde(c, r, g, s, method="direct")
    uc = solve_linear_pde(c, r, g, s, method="dense")
    assert float((ud - uc).abs().max() / ud.abs().max()) <= 1e-8
    ud1 = solve_linear_pde(c, r, g, s, method="direct", direct_ordering="COLAMD")
    assert float((ud - ud1).abs().max() / ud.abs().max()) <= 1e-8


# -------------------------------------------------------------------------------------
# item 13: implicit gradient
# -------------------------------------------------------------------------------------


def _grad_problem(B=2, nt=8, nx=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    coef = 0.05 * torch.randn(B, nt, nx, 5, dtype=F64, generator=gen)
    coef[..., 1] += 1
    coef[..., 2] += 1
    coef[..., 4] -= 0.1
    rhs = 0.1 * torch.randn(B, nt, nx, dtype=F64, generator=gen)
    st_ = 0.06 + 0.02 * torch.rand(B, nt - 1, dtype=F64, generator=gen)
    sx = 0.8 + 0.2 * torch.rand(nx - 1, dtype=F64, generator=gen)
    t = torch.cat([torch.zeros(B, 1, dtype=F64), st_.cumsum(1)], 1)
    x = torch.cat([torch.zeros(1, dtype=F64), sx.cumsum(0)])
    phase = torch.rand(B, 1, 1, dtype=F64, generator=gen)
    bv = torch.sin(x[None, None, :] - t[:, :, None] + phase)
    bv = bv + 0.01 * torch.randn(B, nt, nx, dtype=F64, generator=gen)
    return [v.requires_grad_() for v in (coef, rhs, bv, st_, sx)]


@pytest.mark.parametrize("method", ["direct", "dense"])
def test_gradcheck_implicit_gradient(method):
    """Spec item 13: 8 x 8 grid, float64, eps 1e-6, atol 1e-5, w.r.t. coefficients,
    rhs, boundary values and (batched t, shared x) steps."""
    kw = dict(eps=1e-6, atol=1e-5, rtol=1e-4)

    def full(c, r, g, a, b):
        return solve_linear_pde(c, r, g, (a, b), method=method)

    # every unknown, all inputs, batch of 2: random projections of the Jacobian
    assert torch.autograd.gradcheck(full, _grad_problem(B=2), fast_mode=True, **kw)
    if method == "direct":
        # full Jacobian of the solution field w.r.t. rhs, boundary values and both
        # step vectors (the coefficients, 320 entries, are covered above)
        c, *rest = _grad_problem(B=1)
        c = c.detach()

        def field(r, g, a, b):
            return solve_linear_pde(c, r, g, (a, b), method=method)[..., 0]

        assert torch.autograd.gradcheck(field, rest, **kw)


def test_step_gradient_matches_finite_difference_2d():
    gen = torch.Generator().manual_seed(5)
    c, r, g, s, _ = advdiff2d(6, 6)
    s = tuple(v.clone().requires_grad_() for v in s)
    w = torch.randn(c.shape, dtype=F64, generator=gen)
    loss = (solve_linear_pde(c, r, g, s) * w).sum()
    grads = torch.autograd.grad(loss, s)
    for i in range(3):
        for k in (0, 2):
            eps = 1e-4
            plus = [v.detach().clone() for v in s]
            minus = [v.detach().clone() for v in s]
            plus[i][k] += eps
            minus[i][k] -= eps
            fd = (
                (solve_linear_pde(c, r, g, tuple(plus)) * w).sum()
                - (solve_linear_pde(c, r, g, tuple(minus)) * w).sum()
            ) / (2 * eps)
            assert abs(float(fd) - float(grads[i][k])) <= 1e-4 * (1 + abs(float(fd)))


# -------------------------------------------------------------------------------------
# item 14: sparse direct speed
# -------------------------------------------------------------------------------------


def test_direct_solve_32x64_work(monkeypatch):
    # Its speed (<= 2 s; measured 0.06-0.2 s) is a benchmark (python -m benchmarks
    # linear_pde); the test counts the work of a repeated solve: the sparsity
    # pattern comes from the cache, one sparse LU per solve, with bounded fill.
    import scipy.sparse.linalg as sla

    from skres.solvers.linear_pde import _pattern

    c, r, g, s, _ = advdiff(32, 64)
    solve_linear_pde(c, r, g, s, method="direct")  # builds the cached pattern
    factors = []
    real = sla.splu

    def splu(M, **kwargs):
        lu = real(M, **kwargs)
        factors.append((M.shape[0], M.nnz, lu.L.nnz + lu.U.nnz))
        return lu

    monkeypatch.setattr(sla, "splu", splu)
    misses = _pattern.cache_info().misses
    solve_linear_pde(c, r, g, s, method="direct")
    assert _pattern.cache_info().misses == misses
    assert len(factors) == 1
    n, nnz, fill = factors[0]
    assert n == 32 * 64 * 5
    assert fill <= 6 * nnz  # measured 4.0x the normal matrix's entries


# -------------------------------------------------------------------------------------
# bad input
# -------------------------------------------------------------------------------------


def test_bad_input_raises_clear_errors():
    c, r, g, s, _ = advdiff(8, 8)
    with pytest.raises(ValueError, match="method"):
        solve_linear_pde(c, r, g, s, method="lu")
    with pytest.raises(ValueError, match="at least 6 points"):
        solve_linear_pde(c[:, :5], r[:, :5], g[:, :5], (s[0][:4], s[1]))
    with pytest.raises(ValueError, match="n_vars"):
        solve_linear_pde(c[..., :4], r, g, s)
    with pytest.raises(ValueError, match="rhs must have shape"):
        solve_linear_pde(c, r[:, :, :7], g, s)
    with pytest.raises(ValueError, match="boundary_values must have shape"):
        solve_linear_pde(c, r, g[0], s)
    with pytest.raises(ValueError, match="steps must be a tuple of 2"):
        solve_linear_pde(c, r, g, s[:1])
    with pytest.raises(ValueError, match=r"steps\[1\] must have shape"):
        solve_linear_pde(c, r, g, (s[0], s[1][:5]))
    with pytest.raises(ValueError, match="strictly positive"):
        solve_linear_pde(c, r, g, (s[0], -s[1]))
    bad = c.clone()
    bad[0, 3, 3, 1] = float("nan")
    with pytest.raises(ValueError, match="coefficients contains NaN"):
        solve_linear_pde(bad, r, g, s)
    bad = g.clone()
    bad[0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="boundary_values contains NaN"):
        solve_linear_pde(c, r, bad, s)
    with pytest.raises(ValueError, match=r"steps\[0\] contains NaN"):
        solve_linear_pde(c, r, g, (s[0] * float("nan"), s[1]))
    with pytest.raises(ValueError, match="order"):
        solve_linear_pde(c, r, g, s, order=3)
    with pytest.raises(ValueError, match="boundary must be"):
        solve_linear_pde(c, r, g, s, boundary="periodic")
    with pytest.raises(ValueError, match="out of range"):
        solve_linear_pde(c, r, g, s, boundary=[(0, (0, 0), (0, 8))])
    with pytest.raises(ValueError, match="variable index"):
        solve_linear_pde(c, r, g, s, boundary=[(5, (0, 0), (0, -1))])
    with pytest.raises(ValueError, match="equation_mask"):
        solve_linear_pde(c, r, g, s, equation_mask=np.ones((8, 7), bool))
    with pytest.raises(ValueError, match="format"):
        build_linear_pde_system(c, r, g, s, format="csr")
    with pytest.raises(TypeError, match="coefficients"):
        solve_linear_pde("abc", r, g, s)


# -------------------------------------------------------------------------------------
# multigrid (item 12, V-cycle work, item 18)
# -------------------------------------------------------------------------------------


def rel2(a, b):
    return float((a - b).norm() / b.norm())


def test_multigrid_agrees_with_direct_32x64():
    c, r, g, s, ex = advdiff(32, 64)
    ud = solve_linear_pde(c, r, g, s, method="direct")
    um, info = solve_linear_pde(
        c, r, g, s, method="multigrid", mg_levels=3, rtol=1e-10, return_info=True
    )
    assert info["levels"] == [(32, 64), (17, 33), (9, 17)]
    assert info["n_iter"] <= 400  # measured 123
    assert info["scaled_residual"] <= 1e-10
    assert rel2(um, ud) <= 1e-6  # measured 2.5e-7
    assert max_err(um, ex) <= 1e-3
    assert float((um[..., 0] - ud[..., 0]).abs().max()) <= 1e-7  # measured 8e-10


def test_multigrid_batched_non_uniform():
    gen = torch.Generator().manual_seed(2)
    c, r, g, s, _ = advdiff(16, 24, B=2, jitter=0.2, seed=7)
    c = c + 0.05 * torch.randn(c.shape, dtype=F64, generator=gen)
    s = (torch.stack([s[0], s[0].flip(0)]), s[1])
    ud = solve_linear_pde(c, r, g, s, method="direct")
    um, info = solve_linear_pde(
        c, r, g, s, method="multigrid", rtol=1e-9, return_info=True
    )
    assert info["n_iter"] <= 600  # measured 348
    for i in range(2):
        assert rel2(um[i], ud[i]) <= 3e-6  # measured 4e-7 and 7e-7


def test_multigrid_jacobi_smoother():
    c, r, g, s, _ = advdiff(16, 24)
    ud = solve_linear_pde(c, r, g, s, method="direct")
    um, info = solve_linear_pde(
        c, r, g, s, method="multigrid", smoother="jacobi", rtol=1e-8, return_info=True
    )
    assert info["n_iter"] <= 400  # measured 192-260 (Gauss-Seidel: about 80)
    assert rel2(um, ud) <= 1e-4


def test_multigrid_2d_plus_time_semi_coarsening():
    c, r, g, s, _ = advdiff2d(6, 15)
    c = c[..., :4].contiguous()  # order 1 keeps the dense coarsest level small
    ud = solve_linear_pde(c, r, g, s, method="direct", order=1)
    um, info = solve_linear_pde(
        c, r, g, s, method="multigrid", order=1, rtol=1e-10, return_info=True
    )
    # time has 6 < 15 points: only the spatial coordinates are coarsened
    assert info["levels"] == [(6, 15, 17), (6, 8, 9)]
    assert info["n_iter"] <= 100  # measured 28 at rtol 1e-8
    assert rel2(um, ud) <= 1e-6


def test_multigrid_gradient_matches_direct():
    gen = torch.Generator().manual_seed(3)
    c, r, g, s, _ = advdiff(16, 16)
    w = torch.randn(c.shape, dtype=F64, generator=gen)
    grads = {}
    for method in ("direct", "multigrid"):
        inputs = [c.clone().requires_grad_(), g.clone().requires_grad_()] + [
            v.clone().requires_grad_() for v in s
        ]
        u = solve_linear_pde(
            inputs[0], r, inputs[1], tuple(inputs[2:]), method=method, rtol=1e-11
        )
        grads[method] = torch.autograd.grad((u * w).sum(), inputs)
    for gd, gm in zip(grads["direct"], grads["multigrid"], strict=True):
        assert rel2(gm, gd) <= 1e-6  # measured <= 2.5e-9


def test_vcycle_work_is_linear_in_grid_size():
    from skres.solvers._pde_multigrid import build_hierarchy

    hier = {}
    for grid in ((32, 64), (64, 128)):
        c, r, g, s, _ = advdiff(*grid)
        hier[grid] = build_hierarchy(c, r, g, s, levels=None)
    assert (
        hier[(64, 128)][0].levels[-1].pat.grid == hier[(32, 64)][0].levels[-1].pat.grid
    )
    # O(N) per cycle, counted (the timings are in python -m benchmarks linear_pde):
    # 4x the unknowns, at most 4x the elements produced and matmul FLOPs.
    work = {
        grid: count_work(lambda h=h, rhs=rhs: h.vcycle(rhs))
        for grid, (h, rhs) in hier.items()
    }
    small, large = work[(32, 64)], work[(64, 128)]
    for attr in ("elements", "flops"):
        ratio = getattr(large, attr) / getattr(small, attr)
        assert 3.0 <= ratio <= 4.05, (attr, ratio)  # measured 3.64 and 3.69
    # one more level: a fixed number of operator calls more, not 4x
    assert large.ops <= 1.5 * small.ops  # measured 1606 vs 1203


@pytest.mark.slow  # two multigrid solves, ~10 s on the shared 2-core box
def test_multigrid_iterations_do_not_grow_with_the_grid():
    n_iter = {}
    for grid in ((16, 32), (32, 64)):
        c, r, g, s, _ = advdiff(*grid)
        _, info = solve_linear_pde(
            c, r, g, s, method="multigrid", rtol=1e-8, return_info=True
        )
        n_iter[grid] = info["n_iter"]
    assert n_iter[(32, 64)] <= n_iter[(16, 32)] <= 200, n_iter  # measured 80, 136


def test_multigrid_bad_options():
    c, r, g, s, _ = advdiff(8, 8)
    with pytest.raises(ValueError, match="smoother"):
        solve_linear_pde(c, r, g, s, method="multigrid", smoother="sor")
    with pytest.raises(ValueError, match="mg_levels"):
        solve_linear_pde(c, r, g, s, method="multigrid", mg_levels=0)
    with pytest.raises(ValueError, match="rtol"):
        solve_linear_pde(c, r, g, s, method="multigrid", rtol=2.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        solve_linear_pde(c, r, g, s, method="multigrid", restarts=5)
    # a grid that cannot be coarsened: one level, the dense coarsest solve
    ud = solve_linear_pde(c, r, g, s, method="direct")
    um, info = solve_linear_pde(c, r, g, s, method="multigrid", return_info=True)
    assert info["levels"] == [(8, 8)] and rel2(um, ud) <= 1e-8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_multigrid_transport_8x512_six_levels():
    """Spec item 18: 8 x 512 transport, 6 levels, relative residual <= 2e-4."""
    c, r, g, s, ex = advdiff(8, 512, nu=0.0, B=5)
    dev = torch.device("cuda")
    c, r, g = c.to(dev), r.to(dev), g.to(dev)
    s = tuple(v.to(dev) for v in s)
    u, info = solve_linear_pde(
        c, r, g, s, method="multigrid", mg_levels=6, rtol=1e-6, return_info=True
    )
    assert u.device.type == "cuda"
    assert len(info["levels"]) == 6 and info["levels"][-1] == (8, 17)
    assert info["residual"] <= 2e-4
    ud = solve_linear_pde(c.cpu(), r.cpu(), g.cpu(), tuple(v.cpu() for v in s))
    assert max_err(u.cpu(), ex) <= 2 * max_err(ud, ex) + 1e-6


def test_multigrid_unconverged_warns_with_residual():
    from sklearn.exceptions import ConvergenceWarning

    c, r, g, s, exact = advdiff(32, 64)
    with pytest.warns(ConvergenceWarning, match="relative residual"):
        u, info = solve_linear_pde(
            c, r, g, s, method="multigrid", max_iter=3, return_info=True
        )
    assert info["converged"] is False
    assert info["scaled_residual"] > 1e-10
    assert torch.isfinite(u).all()
    _, info = solve_linear_pde(c, r, g, s, method="multigrid", return_info=True)
    assert info["converged"] is True


@pytest.mark.parametrize("method", ["direct", "dense"])
@pytest.mark.parametrize("boundary", ["initial", "initial+spatial"])
def test_singular_system_raises(method, boundary):
    # zero coefficients: u_t, u_x, ... are not determined by any equation row
    c, r, g, s, _ = advdiff(8, 12)
    with pytest.raises(np.linalg.LinAlgError, match="singular or ill-posed"):
        solve_linear_pde(torch.zeros_like(c), r, g, s, boundary=boundary, method=method)
    assert issubclass(np.linalg.LinAlgError, ValueError)
    # the same grid with an equation solves
    u = solve_linear_pde(c, r, g, s, method=method)
    assert torch.isfinite(u).all()


def test_auto_method_by_memory(monkeypatch):
    import skres.solvers.linear_pde as lp

    cpu = torch.device("cpu")
    monkeypatch.setattr(lp, "_available_memory", lambda: 8e9)
    # 128 x 256 x 5 unknowns: direct on the CPU (faster than multigrid, 1 GB)
    assert lp._auto_method(128 * 256 * 5, 2, 1, cpu) == "direct"
    assert lp._direct_memory(128 * 256 * 5, 2, 1) < 1.5e9
    # too little memory for the factors: multigrid
    monkeypatch.setattr(lp, "_available_memory", lambda: 1e8)
    assert lp._auto_method(128 * 256 * 5, 2, 1, cpu) == "multigrid"
    assert lp._auto_method(100, 2, 1, cpu) == "direct"
    # 3-coordinate fill grows faster than 2-coordinate fill
    assert lp._direct_memory(10**6, 3, 1) > lp._direct_memory(10**6, 2, 1)
    monkeypatch.setattr(lp, "_available_memory", lambda: 1e3)
    c, r, g, s, _ = advdiff(8, 12)
    _, info = solve_linear_pde(c, r, g, s, return_info=True)
    assert info["method"] == "multigrid"


def test_multigrid_coarsest_level_is_bounded():
    from skres.solvers._pde_multigrid import _COARSE_MAX_UNKNOWNS, build_hierarchy

    c, r, g, s, _ = advdiff(32, 64)  # 10,240 unknowns
    hier, _ = build_hierarchy(c, r, g, s, levels=1)
    assert len(hier.levels) > 1
    assert hier.levels[-1].pat.n_unknowns <= _COARSE_MAX_UNKNOWNS
    hier, _ = build_hierarchy(*advdiff(8, 16)[:4], levels=1)
    assert len(hier.levels) == 1  # 640 unknowns: no coarsening needed
