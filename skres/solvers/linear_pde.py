"""Least-squares solver for space-time linear PDEs (the Mechanistic PDE Network layer).

A *mechanistic PDE block* (Pervez, Gavves, Locatello, ICML 2025) describes, at every
point ``p`` of a tensor grid over ``n_coord`` coordinates ``(t, x[, y])``, a linear
PDE with space-time-varying coefficients and no mixed derivatives,

.. math:: \\sum_m c_m(p)\\, D^m u(p) = r(p),
   \\qquad D^m \\in \\{1, \\partial_c, \\partial_{cc}\\},

plus Dirichlet-type boundary and initial data. The unknowns are, per grid point,
``[u, u_t, u_x, (u_y), u_tt, u_xx, (u_yy)]`` (``order=2``) or ``[u, u_t, u_x,
(u_y)]`` (``order=1``). The solution is the least-squares solution of four row
families (all weights 1):

1. equation rows ``sum_m c_m z_m = r`` at every point off the initial plane and off
   the spatial faces;
2. boundary rows ``z_var(p) = g(p)`` on index boxes;
3. derivative-definition rows ``sum_j w_j u(p + o_j e_c) - h^k z_{c,k}(p) = 0``
   (scaled by ``h^k``) with 5-point, 4th-order stencils from a Vandermonde solve on
   the actual, possibly non-uniform offsets; one-sided at the two points nearest each
   edge;
4. forward and backward Taylor rows for ``u``:
   ``u(p) +- h u_c(p) + h^2/2 u_cc(p) - u(p +- e_c) = 0``.

:func:`build_linear_pde_system` returns the rows; :func:`solve_linear_pde` solves the
normal equations ``A^T A z = A^T b`` by a sparse LU (``direct``), a batched dense
Cholesky (``dense``) or multigrid-preconditioned FGMRES (``multigrid``, pure torch,
see :mod:`skres.solvers._pde_multigrid`), and is differentiable through the implicit
least-squares gradient ``dL/dA = lambda z^T - (A z) x^T``, ``dL/db = A z`` with
``A^T A z = dL/dx`` and ``lambda = b - A x``; autograd carries ``dL/dA`` on to the
coefficients and through the stencil and Taylor entries to the step sizes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .._validation import check_not_meta
from ._pde_assembly import (
    _assemble,
    _check_inputs,
    _jacobi_scale,
    _Ops,
    _pattern,
)

__all__ = ["build_linear_pde_system", "solve_linear_pde"]

_METHODS = ("auto", "direct", "dense", "multigrid")
_DENSE_MAX_UNKNOWNS = 4_000
#: Smallest accepted ratio of the smallest to the largest pivot of the Jacobi-scaled
#: normal matrix (its diagonal is 1); below it the system is treated as singular.
_PIVOT_RTOL = 1e-11


def _singular_error(batch: int, ratio: float) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(
        f"the least-squares system of batch element {batch} is singular or "
        f"ill-posed (smallest/largest pivot of the scaled normal matrix {ratio:.1e}, "
        f"needed > {_PIVOT_RTOL:.0e}): the equation and boundary rows do not "
        "determine every unknown. Check that the coefficients are not all zero "
        "where equation rows exist and that the boundary boxes give initial data."
    )


# --------------------------------------------------------------------------------------
# normal-equation solvers: each returns a reusable solve(rhs) closure
# --------------------------------------------------------------------------------------

SolveFn = Callable[[torch.Tensor], torch.Tensor]


def _direct_factor(
    ops: _Ops, vals: torch.Tensor, ordering: str = "MMD_AT_PLUS_A"
) -> tuple[SolveFn, dict[str, Any]]:
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    pat = ops.pat
    mvals = ops.normal_values(vals.detach().to(torch.float64))
    scaled, inv_sqrt = _jacobi_scale(pat, mvals)
    n = pat.n_unknowns
    if ordering == "COLAMD":
        opts: dict[str, Any] = {"permc_spec": "COLAMD"}
    else:
        # symmetric positive definite after scaling: symmetric ordering, no pivoting
        opts = {
            "permc_spec": ordering,
            "diag_pivot_thresh": 0.0,
            "options": {"SymmetricMode": True},
        }
    factors = []
    for i, v in enumerate(scaled.cpu().numpy()):
        # M is symmetric, so its CSR arrays read as CSC describe M as well
        M = sp.csc_matrix((v, pat.m_col, pat.m_indptr), shape=(n, n))
        try:
            lu = splu(M, **opts)
        except RuntimeError as exc:  # "Factor is exactly singular"
            raise _singular_error(i, 0.0) from exc
        pivots = np.abs(lu.U.diagonal())
        ratio = float(pivots.min() / max(float(pivots.max()), 1e-300))
        if not ratio > _PIVOT_RTOL:
            raise _singular_error(i, ratio)
        factors.append(lu)
    s = inv_sqrt.cpu().numpy()

    def solve(rhs: torch.Tensor) -> torch.Tensor:
        r = rhs.detach().to("cpu", torch.float64).numpy() * s
        x = np.stack([f.solve(ri) for f, ri in zip(factors, r, strict=True)]) * s
        return torch.as_tensor(x).to(dtype=rhs.dtype, device=rhs.device)

    return solve, {"method": "direct", "n_iter": 1}


def _dense_factor(ops: _Ops, vals: torch.Tensor) -> tuple[SolveFn, dict[str, Any]]:
    pat = ops.pat
    n = pat.n_unknowns
    B = vals.shape[0]
    mvals, inv_sqrt = _jacobi_scale(pat, ops.normal_values(vals.detach()))
    flat = pat.t("m_flat", vals.device)
    M = mvals.new_zeros(B, n * n).index_add_(1, flat, mvals).view(B, n, n)
    L, info = torch.linalg.cholesky_ex(M)
    if bool((info > 0).any()) or not bool(torch.isfinite(L).all()):
        bad = int(torch.nonzero(info > 0)[0, 0]) if bool((info > 0).any()) else 0
        raise _singular_error(bad, 0.0)
    piv = torch.diagonal(L, dim1=-2, dim2=-1) ** 2  # pivots of the LDL^T form
    ratio = piv.min(-1).values / piv.max(-1).values.clamp_min(1e-300)
    if not bool((ratio > _PIVOT_RTOL).all()):
        bad = int(torch.argmin(ratio))
        raise _singular_error(bad, float(ratio[bad]))

    def solve(rhs: torch.Tensor) -> torch.Tensor:
        return torch.cholesky_solve((rhs * inv_sqrt)[..., None], L)[..., 0] * inv_sqrt

    return solve, {"method": "dense", "n_iter": 1}


class _LeastSquares(torch.autograd.Function):
    """``x = argmin ||A x - b||`` with the implicit (adjoint) gradient."""

    @staticmethod
    def forward(
        ctx: Any,
        vals: torch.Tensor,
        b: torch.Tensor,
        ops: _Ops,
        factor: Callable[[_Ops, torch.Tensor], tuple[SolveFn, dict[str, Any]]],
        info: dict[str, Any],
    ) -> torch.Tensor:
        solve, finfo = factor(ops, vals)
        x = solve(ops.rmatvec(vals, b))
        info.update(finfo)
        residual = ops.rmatvec(vals, b - ops.matvec(vals, x))
        info["residual"] = float(
            (residual.norm(dim=1) / ops.rmatvec(vals, b).norm(dim=1).clamp_min(1e-300))
            .max()
            .item()
        )
        ctx.solve = solve
        ctx.ops = ops
        ctx.save_for_backward(vals, b, x)
        return x

    @staticmethod
    def backward(ctx: Any, gx: torch.Tensor) -> tuple[Any, ...]:
        vals, b, x = ctx.saved_tensors
        ops: _Ops = ctx.ops
        z = ctx.solve(gx.contiguous())
        Az = ops.matvec(vals, z)
        lam = b - ops.matvec(vals, x)
        grad_vals = None
        if ctx.needs_input_grad[0]:
            r, c = ops.rows, ops.cols
            grad_vals = lam[:, r] * z[:, c] - Az[:, r] * x[:, c]
        grad_b = Az if ctx.needs_input_grad[1] else None
        return grad_vals, grad_b, None, None, None


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


def build_linear_pde_system(
    coefficients: Any,
    rhs: Any,
    boundary_values: Any,
    steps: Any,
    *,
    boundary: Any = "initial+spatial",
    order: int = 2,
    equation_mask: Any = None,
    format: str = "torch",
) -> tuple[Any, torch.Tensor]:
    """Constraint rows ``A z = b`` of the Mechanistic-PDE least-squares problem.

    Parameters
    ----------
    coefficients, rhs, boundary_values, steps, boundary, order, equation_mask
        As in :func:`solve_linear_pde`.
    format : {"torch", "scipy"}
        ``"torch"``: ``A`` is a sparse COO tensor of shape
        ``(batch, n_rows, n_unknowns)`` whose values carry autograd history.
        ``"scipy"``: a list of ``scipy.sparse.csr_matrix``, one per batch element.

    Returns
    -------
    A : torch.Tensor or list of scipy.sparse.csr_matrix
        Rows in the order: equation, boundary, then per coordinate the derivative
        rows (first, then second order) and the forward and backward Taylor rows.
        Unknowns are point-major: ``z[p * n_vars + m]``.
    b : torch.Tensor of shape (batch, n_rows)

    Examples
    --------
    >>> import torch
    >>> coef = torch.zeros(1, 8, 16, 5, dtype=torch.float64)
    >>> coef[..., 1] = 1.0
    >>> coef[..., 2] = 1.0
    >>> zero = torch.zeros(1, 8, 16, dtype=torch.float64)
    >>> steps = (torch.full((7,), 0.1, dtype=torch.float64),
    ...          torch.full((15,), 0.2, dtype=torch.float64))
    >>> A, b = build_linear_pde_system(coef, zero, zero, steps)
    >>> tuple(A.shape), tuple(b.shape)
    ((1, 1104, 640), (1, 1104))
    """
    if format not in ("torch", "scipy"):
        raise ValueError(f"format must be 'torch' or 'scipy'; got {format!r}.")
    inp = _check_inputs(
        coefficients, rhs, boundary_values, steps, boundary, order, equation_mask
    )
    pat = _pattern(inp.grid, inp.order, inp.boxes, inp.eq_mask)
    vals, b = _assemble(inp, pat)
    B = vals.shape[0]
    if format == "scipy":
        import scipy.sparse as sp

        v = vals.detach().to("cpu", torch.float64).numpy()
        shape = (pat.n_rows, pat.n_unknowns)
        return [sp.csr_matrix((vi, (pat.rows, pat.cols)), shape=shape) for vi in v], b
    dev = vals.device
    bidx = torch.arange(B, device=dev).repeat_interleave(len(pat.rows))
    rows = torch.as_tensor(pat.rows, device=dev).repeat(B)
    cols = torch.as_tensor(pat.cols, device=dev).repeat(B)
    A = torch.sparse_coo_tensor(
        torch.stack([bidx, rows, cols]),
        vals.reshape(-1),
        (B, pat.n_rows, pat.n_unknowns),
        is_coalesced=False,
        check_invariants=False,
    )
    return A, b


def _available_memory() -> float:
    """Bytes of memory available now (Linux ``MemAvailable``; else physical / 2)."""
    import os

    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) / 2
    except (ValueError, OSError, AttributeError):
        return 4e9


def _direct_memory(n_unknowns: int, n_coord: int, batch: int) -> float:
    """Estimated peak bytes of the sparse LU factors of ``batch`` normal matrices.

    Calibrated on this solver: about 5 kB per unknown at 1.6e5 unknowns on a
    2-coordinate grid (128 x 256, peak RSS 1.2 GB including the interpreter),
    growing like ``n log n`` (2 coordinates) or ``n^(4/3)`` (3 coordinates), the
    fill of nested-dissection-like orderings on grids.
    """
    n = max(n_unknowns, 2)
    if n_coord <= 2:
        growth = math.log2(n) / math.log2(1.6e5)
    else:
        growth = (n / 1.6e5) ** (1.0 / 3.0)
    return batch * 5e3 * n * max(growth, 0.1)


def _auto_method(
    n_unknowns: int, n_coord: int, batch: int, device: torch.device
) -> str:
    """Direct on the CPU while its factors fit in half the available memory (it was
    faster than multigrid at every measured size: 3.9 s against 57 s at 128 x 256);
    on a GPU dense up to 4e3 unknowns per sample, multigrid beyond."""
    if device.type == "cpu":
        need = _direct_memory(n_unknowns, n_coord, batch)
        return "direct" if need <= 0.5 * _available_memory() else "multigrid"
    return "dense" if n_unknowns <= _DENSE_MAX_UNKNOWNS else "multigrid"


def solve_linear_pde(
    coefficients: Any,
    rhs: Any,
    boundary_values: Any,
    steps: Any,
    *,
    boundary: Any = "initial+spatial",
    order: int = 2,
    method: str = "auto",
    rtol: float = 1e-10,
    max_iter: int | None = None,
    mg_levels: int | None = 3,
    smoother: str = "gs",
    equation_mask: Any = None,
    direct_ordering: str = "MMD_AT_PLUS_A",
    return_info: bool = False,
    **mg_options: Any,
) -> Any:
    """Solve a batch of space-time linear PDEs in the least-squares sense.

    Parameters
    ----------
    coefficients : torch.Tensor of shape (batch, nt, nx, [ny,] n_vars)
        ``c_m(p)``, the coefficient of unknown ``m`` in the equation row at ``p``.
        The grid is ``(nt,)``, ``(nt, nx)`` or ``(nt, nx, ny)`` with at least 6 points
        per coordinate. Unknowns per point: ``[u, u_t, u_x, (u_y), u_tt, u_xx,
        (u_yy)]`` for ``order=2`` (``n_vars = 1 + 2 n_coord``), ``[u, u_t, u_x,
        (u_y)]`` for ``order=1``. The dtype and device of the solve are those of
        ``coefficients`` (float64 recommended).
    rhs : torch.Tensor of shape (batch, nt, nx, [ny])
        ``r(p)``; only the entries at equation points are used.
    boundary_values : torch.Tensor of shape (batch, nt, nx, [ny]), optionally n_vars
        Dirichlet data ``g`` with the grid shape of ``rhs``, optionally with a
        trailing ``n_vars`` axis (then a box on variable ``m`` reads ``g[..., m]``).
        Only the entries at boundary rows are used (the others get zero gradient).
    steps : tuple of torch.Tensor
        One tensor per coordinate, shape ``(grid[c] - 1,)`` or
        ``(batch, grid[c] - 1)``: positive, possibly non-uniform step sizes.
    boundary : str or list of tuple, default="initial+spatial"
        ``"initial+spatial"``: ``u`` given on the ``t = 0`` plane and on every spatial
        face for all times; ``"initial"``: on the ``t = 0`` plane only; or a list of
        index boxes ``(var, first_corner, last_corner)`` (inclusive corners, one index
        per coordinate, negative indices count from the end). Overlapping boxes give
        one row per point and variable.
    order : {1, 2}, default=2
        Highest derivative order among the unknowns.
    method : {"auto", "direct", "dense", "multigrid"}, default="auto"
        ``"direct"``: scipy sparse LU (COLAMD) of ``A^T A`` per batch element on the
        CPU, the factor is reused for the adjoint solve. ``"dense"``: batched torch
        Cholesky (tiny grids, GPU). ``"multigrid"``: pure-torch FGMRES on the Jacobi-
        scaled normal equations preconditioned by one geometric V-cycle (large grids,
        GPU). ``"auto"``: direct on the CPU while the estimated memory of its factors
        fits in half the available memory (about 5 kB per unknown at 1.6e5
        unknowns), dense on a GPU up to 4e3 unknowns per sample, multigrid
        otherwise.
    rtol : float, default=1e-10
        Relative residual target of the multigrid solver (scaled normal equations).
    max_iter : int, optional
        Maximum number of FGMRES inner iterations (default 1000).
    mg_levels : int or None, default=3
        Number of multigrid levels (fewer when a level would drop below 8 points
        per coordinate; ``None``: as many as possible). More levels are added
        while the coarsest level has over 2048 unknowns per sample, so that its
        dense inverse stays within 32 MB.
    smoother : {"gs", "jacobi"}, default="gs"
        Multigrid smoother: block Gauss-Seidel in 5 colours (parallel within a
        colour) or damped block Jacobi (blocks are the unknowns of one grid point).
        Gauss-Seidel needs about 3x fewer FGMRES iterations.
    equation_mask : array-like of bool with the grid shape, optional
        Points carrying an equation row (default: off the ``t = 0`` plane and off the
        spatial faces).
    direct_ordering : {"MMD_AT_PLUS_A", "COLAMD"}, default="MMD_AT_PLUS_A"
        Fill-reducing ordering of the direct solver. The default factors the
        Jacobi-scaled (symmetric positive definite) normal matrix in SuperLU's
        symmetric mode without pivoting, about 10x faster and with 10x less fill than
        COLAMD with partial pivoting at 32 x 64.
    return_info : bool, default=False
        Also return a dict with ``method``, ``n_iter`` (FGMRES inner iterations for
        multigrid, 1 otherwise) and ``residual`` (relative residual of the normal
        equations ``||A^T (b - A z)|| / ||A^T b||``, worst sample); multigrid adds
        ``levels`` (grid shapes), ``scaled_residual`` (the FGMRES criterion) and
        ``converged``. A multigrid solve that stops at ``max_iter`` above ``rtol``
        raises a :class:`~sklearn.exceptions.ConvergenceWarning` with the residual
        it reached; ``direct`` and ``dense`` raise
        :class:`numpy.linalg.LinAlgError` (a ``ValueError``) on a singular system.
    **mg_options
        Further multigrid options: ``restart`` (FGMRES restart length, default 20),
        ``pre_smooth`` and ``post_smooth`` (sweeps, default 2 for Gauss-Seidel and 4
        for Jacobi), ``omega`` (Jacobi damping in units of one over the spectral
        radius of the block-Jacobi iteration, default 1.8).

    Returns
    -------
    u : torch.Tensor of shape (batch, nt, nx, [ny,] n_vars)
        The least-squares unknowns; ``u[..., 0]`` is the solution field.
    info : dict
        Only with ``return_info=True``.

    Examples
    --------
    Transport ``u_t + u_x = 0`` with ``u = sin(x - t)``:

    >>> import math, torch
    >>> nt, nx = 16, 32
    >>> t = torch.linspace(0, 0.5, nt, dtype=torch.float64)
    >>> x = torch.linspace(0, 2 * math.pi, nx, dtype=torch.float64)
    >>> exact = torch.sin(x[None, :] - t[:, None])[None]
    >>> coef = torch.zeros(1, nt, nx, 5, dtype=torch.float64)
    >>> coef[..., 1] = 1.0  # u_t
    >>> coef[..., 2] = 1.0  # u_x
    >>> u = solve_linear_pde(coef, torch.zeros_like(exact), exact,
    ...                      (torch.diff(t), torch.diff(x)), method="direct")
    >>> bool((u[..., 0] - exact).abs().max() < 8e-3)
    True
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}.")
    for name, value in (("coefficients", coefficients), ("rhs", rhs)):
        check_not_meta(value, name)
    check_not_meta(boundary_values, "boundary_values")
    for step in steps if isinstance(steps, list | tuple) else (steps,):
        check_not_meta(step, "steps")
    inp = _check_inputs(
        coefficients, rhs, boundary_values, steps, boundary, order, equation_mask
    )
    pat = _pattern(inp.grid, inp.order, inp.boxes, inp.eq_mask)
    device = inp.coefficients.device
    unknown = set(mg_options) - {"restart", "pre_smooth", "post_smooth", "omega"}
    if unknown:
        raise TypeError(
            f"solve_linear_pde got unexpected keyword argument(s) {sorted(unknown)}."
        )
    if method == "auto":
        method = _auto_method(
            pat.n_unknowns, len(inp.grid), inp.coefficients.shape[0], device
        )
    ops = _Ops(pat, device)
    vals, b = _assemble(inp, pat)
    factor: Callable[[_Ops, torch.Tensor], tuple[SolveFn, dict[str, Any]]]
    if direct_ordering not in ("MMD_AT_PLUS_A", "COLAMD"):
        raise ValueError(
            "direct_ordering must be 'MMD_AT_PLUS_A' or 'COLAMD'; got "
            f"{direct_ordering!r}."
        )
    if method == "direct":
        factor = functools.partial(_direct_factor, ordering=direct_ordering)
    elif method == "dense":
        factor = _dense_factor
    else:
        from ._pde_multigrid import multigrid_factor

        factor = multigrid_factor(
            inp,
            rtol=rtol,
            max_iter=max_iter,
            levels=mg_levels,
            smoother=smoother,
            **mg_options,
        )
    info: dict[str, Any] = {}
    x = _LeastSquares.apply(vals, b, ops, factor, info)
    u = x.reshape((x.shape[0],) + inp.grid + (pat.n_vars,))
    if return_info:
        return u, info
    return u
