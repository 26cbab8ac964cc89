"""Pure-torch multigrid-preconditioned FGMRES for the Mechanistic-PDE normal
equations (no CuPy, no scipy in the iteration, so it runs on a GPU).

Outer solver: restarted, right-preconditioned FGMRES on the Jacobi-scaled normal
equations ``S y = c`` with ``S = D^-1/2 (A^T A) D^-1/2``, batched over the batch
dimension (all samples iterate in lockstep; converged samples stop updating).

Preconditioner: one geometric V-cycle on ``A^T A``. Coarse levels are re-discretised
(Pervez et al., 2025): coefficients, right-hand side and boundary data are taken at
the coarse nodes (every other node, plus the last node; the coarse grid is a subset of
the fine one), coarse steps are sums of fine steps, and the rows are rebuilt. A
coordinate is coarsened only while it keeps at least 8 points. Transfers are linear
interpolation in the physical coordinate (prolongation) and its transpose scaled to an
average (restriction). Smoothers work on per-grid-point blocks (the ``n_vars``
unknowns of a point): damped block Jacobi, or block Gauss-Seidel in 5 colours.
``A^T A`` only couples points that differ along one coordinate by at most 4 (the
5-point stencils), so the colour ``sum(i_c) mod 5`` separates every coupled pair and
each colour is updated in parallel. The coarsest level is solved by a dense Cholesky
factor. Every operation is a CSR mat-vec, a batched small matrix product or a gather,
so a V-cycle costs O(N).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._pde_assembly import (
    _assemble,
    _check_inputs,
    _Inputs,
    _jacobi_scale,
    _Ops,
    _Pattern,
    _pattern,
)

_MIN_LEVEL_POINTS = 8
#: Largest coarsest level (unknowns per sample) solved by a dense inverse: 32 MB in
#: float64. Levels are added beyond ``mg_levels`` until the coarsest is this small.
_COARSE_MAX_UNKNOWNS = 2048


def _csr(
    crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """A CSR tensor without torch's "sparse CSR support is in beta" warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


_SMOOTHERS = ("gs", "jacobi")


def _coarse_nodes(n: int) -> np.ndarray:
    """Every other node plus the last one; unchanged if that leaves < 8 points."""
    sel = np.arange(0, n, 2)
    if sel[-1] != n - 1:
        sel = np.append(sel, n - 1)
    return sel if len(sel) >= _MIN_LEVEL_POINTS else np.arange(n)


def _coarsen_inputs(inp: _Inputs) -> tuple[_Inputs, list[np.ndarray]] | None:
    sels = [_coarse_nodes(n) for n in inp.grid]
    if all(len(s) == n for s, n in zip(sels, inp.grid, strict=True)):
        return None
    d = len(inp.grid)
    grid = tuple(len(s) for s in sels)

    def take(x: torch.Tensor) -> torch.Tensor:
        for c, s in enumerate(sels):
            x = x.index_select(1 + c, torch.as_tensor(s, device=x.device))
        return x

    steps = []
    for c, s in enumerate(sels):
        h = inp.steps[c]
        x = torch.cat([h.new_zeros(h.shape[0], 1), torch.cumsum(h, 1)], 1)
        steps.append(torch.diff(x[:, torch.as_tensor(s, device=h.device)], dim=1))
    boxes = []
    for var, lo, hi in inp.boxes:
        lo_c = tuple(int(np.abs(sels[c] - lo[c]).argmin()) for c in range(d))
        hi_c = tuple(int(np.abs(sels[c] - hi[c]).argmin()) for c in range(d))
        boxes.append((var, lo_c, hi_c))
    mask = None
    if inp.eq_mask is not None:
        m = np.asarray(inp.eq_mask, dtype=bool).reshape(inp.grid)
        m = m[np.ix_(*sels)]
        mask = tuple(bool(v) for v in m.reshape(-1))
    coarse = _Inputs(
        coefficients=take(inp.coefficients),
        rhs=take(inp.rhs),
        boundary_values=take(inp.boundary_values),
        steps=tuple(steps),
        grid=grid,
        order=inp.order,
        boxes=tuple(boxes),
        eq_mask=mask,
    )
    return coarse, sels


@dataclass
class _Transfer:
    """Linear interpolation from the coarse to the fine nodes along each axis."""

    axes: list[tuple[int, torch.Tensor, torch.Tensor, int]]  # (dim, left, w, n_c)
    scale: float

    def prolong(self, xc: torch.Tensor) -> torch.Tensor:
        for dim, left, w, _ in self.axes:
            xc = (1 - w) * xc.index_select(dim, left) + w * xc.index_select(
                dim, left + 1
            )
        return xc

    def restrict(self, xf: torch.Tensor) -> torch.Tensor:
        for dim, left, w, n_c in reversed(self.axes):
            shape = list(xf.shape)
            shape[dim] = n_c
            out = xf.new_zeros(shape)
            out.index_add_(dim, left, (1 - w) * xf)
            out.index_add_(dim, left + 1, w * xf)
            xf = out
        return xf * self.scale


def _transfer(
    fine: _Inputs, sels: list[np.ndarray], B: int, scale: float | None = None
) -> _Transfer:
    axes = []
    d = len(fine.grid)
    n_coarsened = 0
    for c, sel in enumerate(sels):
        n = fine.grid[c]
        if len(sel) == n:
            continue
        n_coarsened += 1
        h = fine.steps[c]
        x = torch.cat([h.new_zeros(h.shape[0], 1), torch.cumsum(h, 1)], 1)  # (Bs, n)
        sel_t = torch.as_tensor(sel, device=h.device)
        left = np.clip(np.searchsorted(sel, np.arange(n), side="right") - 1, 0, None)
        left = np.minimum(left, len(sel) - 2)
        left_t = torch.as_tensor(left, device=h.device)
        xl = x[:, sel_t[left_t]]
        xr = x[:, sel_t[left_t + 1]]
        w = (x - xl) / (xr - xl)  # (Bs, n)
        shape = [w.shape[0]] + [1] * (d + 1)
        shape[1 + c] = n
        axes.append((1 + c, left_t, w.reshape(shape), len(sel)))
    # restriction = P^T scaled by 2^(-k/2) for k coarsened coordinates: between the
    # plain transpose (1) and the average (2^-k), measured best (80 vs 93 and 131
    # FGMRES iterations at 32 x 64, 3 levels, rtol 1e-8)
    return _Transfer(axes, 2.0 ** (-n_coarsened / 2) if scale is None else scale)


class _Level:
    """One grid: ``A^T A`` as a batched block-diagonal CSR, the inverse point blocks
    and, for Gauss-Seidel, one CSR row slice per colour."""

    def __init__(self, pat: _Pattern, mvals: torch.Tensor, smoother: str) -> None:
        self.pat = pat
        self.mvals = mvals
        B = mvals.shape[0]
        self.B = B
        n, nv, N = pat.n_unknowns, pat.n_vars, pat.n_points
        dev = mvals.device
        nnz = len(pat.m_col)
        offs = torch.arange(B, device=dev)
        indptr = pat.t("m_indptr", dev)
        crow = torch.cat(
            [
                (indptr[:-1][None, :] + offs[:, None] * nnz).reshape(-1),
                torch.tensor([B * nnz], device=dev),
            ]
        )
        col = (pat.t("m_col", dev)[None, :] + offs[:, None] * n).reshape(-1)
        self.M = _csr(crow, col, mvals.reshape(-1), (B * n, B * n))
        # inverse diagonal blocks, per grid point (Jacobi-scaled inside the block)
        mr, mc = pat.m_row, pat.m_col
        same = np.flatnonzero(mr // nv == mc // nv)
        blocks = mvals.new_zeros(B, N, nv, nv)
        blocks[
            :,
            torch.as_tensor(mr[same] // nv, device=dev),
            torch.as_tensor(mr[same] % nv, device=dev),
            torch.as_tensor(mc[same] % nv, device=dev),
        ] = mvals[:, torch.as_tensor(same, device=dev)]
        tiny = torch.finfo(mvals.dtype).tiny
        s = torch.diagonal(blocks, dim1=-2, dim2=-1).clamp_min(tiny).rsqrt()
        scaled = blocks * s[..., :, None] * s[..., None, :]
        self.Binv = torch.linalg.inv(scaled) * s[..., :, None] * s[..., None, :]
        self.colours: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        if smoother == "gs":
            ii = np.indices(pat.grid).reshape(len(pat.grid), -1)
            colour = ii.sum(0) % 5
            for k in range(5):
                pts = np.flatnonzero(colour == k)
                if len(pts) == 0:
                    continue
                rows = (pts[:, None] * nv + np.arange(nv)).reshape(-1)
                starts, ends = pat.m_indptr[rows], pat.m_indptr[rows + 1]
                counts = ends - starts
                pos = np.repeat(
                    starts - np.cumsum(counts) + counts, counts
                ) + np.arange(counts.sum())
                sub_nnz = len(pos)
                pos_t = torch.as_tensor(pos, device=dev)
                sub_crow = np.concatenate([[0], np.cumsum(counts)])
                sub_crow_t = torch.as_tensor(sub_crow, device=dev)
                crow_k = torch.cat(
                    [
                        (sub_crow_t[:-1][None, :] + offs[:, None] * sub_nnz).reshape(
                            -1
                        ),
                        torch.tensor([B * sub_nnz], device=dev),
                    ]
                )
                col_k = (
                    pat.t("m_col", dev)[pos_t][None, :] + offs[:, None] * n
                ).reshape(-1)
                Mk = _csr(
                    crow_k, col_k, mvals[:, pos_t].reshape(-1), (B * len(rows), B * n)
                )
                self.colours.append(
                    (
                        Mk,
                        torch.as_tensor(rows, device=dev),
                        torch.as_tensor(pts, device=dev),
                    )
                )

    def matvec(self, x: torch.Tensor) -> torch.Tensor:
        return (self.M @ x.reshape(-1, 1)).view(self.B, -1)

    def jacobi_radius(self, n_iter: int = 15) -> torch.Tensor:
        """Power-iteration estimate of the largest eigenvalue of ``B^-1 M`` per
        batch element (``B`` the point blocks), shape ``(B, 1)``."""
        nv = self.pat.n_vars
        g = torch.Generator(device=self.M.device).manual_seed(0)
        v = torch.rand(
            self.B,
            self.pat.n_unknowns,
            generator=g,
            dtype=self.Binv.dtype,
            device=self.M.device,
        )
        lam = v.new_ones(self.B, 1)
        for _ in range(n_iter):
            w = (self.Binv @ self.matvec(v).view(self.B, -1, nv, 1)).view(self.B, -1)
            lam = w.norm(dim=1, keepdim=True) / v.norm(dim=1, keepdim=True)
            v = w / w.norm(dim=1, keepdim=True)
        return lam

    def jacobi(self, x: torch.Tensor, b: torch.Tensor, omega: float) -> torch.Tensor:
        if not hasattr(self, "_omega_scale"):
            self._omega_scale = 1.0 / self.jacobi_radius()
        r = (b - self.matvec(x)).view(self.B, -1, self.pat.n_vars, 1)
        return x + omega * self._omega_scale * (self.Binv @ r).view(self.B, -1)

    def gauss_seidel(
        self, x: torch.Tensor, b: torch.Tensor, reverse: bool = False
    ) -> torch.Tensor:
        nv = self.pat.n_vars
        order = reversed(self.colours) if reverse else self.colours
        x = x.clone()
        for Mk, rows, pts in order:
            r = b[:, rows] - (Mk @ x.reshape(-1, 1)).view(self.B, -1)
            dx = self.Binv[:, pts] @ r.view(self.B, -1, nv, 1)
            x[:, rows] += dx.view(self.B, -1)
        return x


class _Hierarchy:
    def __init__(
        self,
        levels: list[_Level],
        transfers: list[_Transfer],
        coarse_solve: Callable[[torch.Tensor], torch.Tensor],
        smoother: str,
        pre_smooth: int,
        post_smooth: int,
        omega: float,
    ) -> None:
        self.levels = levels
        self.transfers = transfers
        self.coarse_solve = coarse_solve
        self.smoother = smoother
        self.pre = pre_smooth
        self.post = post_smooth
        self.omega = omega

    def _smooth(
        self, lev: _Level, x: torch.Tensor, b: torch.Tensor, k: int, rev: bool
    ) -> torch.Tensor:
        for _ in range(k):
            if self.smoother == "gs":
                x = lev.gauss_seidel(x, b, reverse=rev)
            else:
                x = lev.jacobi(x, b, self.omega)
        return x

    def vcycle(self, b: torch.Tensor, i: int = 0) -> torch.Tensor:
        """One V-cycle for ``M_i x = b`` from ``x = 0``."""
        if i == len(self.levels) - 1:
            return self.coarse_solve(b)
        lev = self.levels[i]
        x = self._smooth(lev, torch.zeros_like(b), b, self.pre, False)
        r = b - lev.matvec(x)
        tr = self.transfers[i]
        grid = lev.pat.grid
        nv = lev.pat.n_vars
        rc = tr.restrict(r.view((lev.B,) + grid + (nv,)))
        ec = self.vcycle(rc.reshape(lev.B, -1), i + 1)
        coarse_grid = self.levels[i + 1].pat.grid
        x = x + tr.prolong(ec.view((lev.B,) + coarse_grid + (nv,))).reshape(lev.B, -1)
        return self._smooth(lev, x, b, self.post, True)


def _build_hierarchy(
    inp: _Inputs,
    fine_mvals: torch.Tensor,
    n_levels: int | None,
    smoother: str,
    pre_smooth: int,
    post_smooth: int,
    omega: float,
) -> _Hierarchy:
    pat = _pattern(inp.grid, inp.order, inp.boxes, inp.eq_mask)
    levels = [_Level(pat, fine_mvals, smoother)]
    transfers: list[_Transfer] = []
    cur = inp
    B = fine_mvals.shape[0]
    max_levels = math.inf if n_levels is None else n_levels
    # Coarsen to ``n_levels``, and further while the coarsest level is too large for
    # its dense inverse (bounded memory: at most _COARSE_MAX_UNKNOWNS^2 per sample).
    while len(levels) < max_levels or levels[-1].pat.n_unknowns > _COARSE_MAX_UNKNOWNS:
        nxt = _coarsen_inputs(cur)
        if nxt is None:
            break
        coarse, sels = nxt
        transfers.append(_transfer(cur, sels, B))
        cpat = _pattern(coarse.grid, coarse.order, coarse.boxes, coarse.eq_mask)
        coarse_vals, _ = _assemble(coarse, cpat)
        cm = _Ops(cpat, fine_mvals.device).normal_values(coarse_vals)
        levels.append(_Level(cpat, cm, smoother))
        cur = coarse
    last = levels[-1]
    solve = _dense_inverse(last.pat, fine_mvals if len(levels) == 1 else last.mvals)
    return _Hierarchy(
        levels, transfers, solve, smoother, pre_smooth, post_smooth, omega
    )


def _dense_inverse(
    pat: _Pattern, mvals: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Coarsest-level solve: dense Cholesky of the Jacobi-scaled matrix, kept as the
    explicit inverse so that each V-cycle does one batched mat-vec (torch's
    ``cholesky_solve`` for one right-hand side was 10x slower on the CPU)."""
    n = pat.n_unknowns
    B = mvals.shape[0]
    scaled, inv_sqrt = _jacobi_scale(pat, mvals)
    M = scaled.new_zeros(B, n * n).index_add_(1, pat.t("m_flat", mvals.device), scaled)
    L, info = torch.linalg.cholesky_ex(M.view(B, n, n))
    if bool((info > 0).any()) or not bool(torch.isfinite(L).all()):
        raise RuntimeError(
            "coarsest-level Cholesky failed (normal matrix not positive definite in "
            "this precision); use float64 or fewer levels."
        )
    inv = torch.cholesky_inverse(L) * inv_sqrt[:, :, None] * inv_sqrt[:, None, :]

    def solve(b: torch.Tensor) -> torch.Tensor:
        return (inv @ b[..., None])[..., 0]

    return solve


def build_hierarchy(
    coefficients: Any,
    rhs: Any,
    boundary_values: Any,
    steps: Any,
    *,
    boundary: Any = "initial+spatial",
    order: int = 2,
    levels: int | None = None,
    smoother: str = "gs",
    pre_smooth: int = 2,
    post_smooth: int = 2,
    omega: float = 1.8,
) -> tuple[_Hierarchy, torch.Tensor]:
    """The V-cycle hierarchy of a problem and its normal-equation right-hand side
    ``A^T b`` (for timing one cycle: ``hier.vcycle(rhs)``)."""

    inp = _check_inputs(
        coefficients, rhs, boundary_values, steps, boundary, order, None
    )
    pat = _pattern(inp.grid, inp.order, inp.boxes, inp.eq_mask)
    ops = _Ops(pat, inp.coefficients.device)
    with torch.no_grad():
        vals, b = _assemble(inp, pat)
        hier = _build_hierarchy(
            inp,
            ops.normal_values(vals),
            levels,
            smoother,
            pre_smooth,
            post_smooth,
            omega,
        )
        return hier, ops.rmatvec(vals, b)


def fgmres(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    precond: Callable[[torch.Tensor], torch.Tensor],
    rhs: torch.Tensor,
    *,
    rtol: float,
    max_iter: int,
    restart: int,
) -> tuple[torch.Tensor, int, torch.Tensor]:
    """Batched restarted right-preconditioned flexible GMRES.

    Solves ``S x = rhs`` for ``rhs`` of shape ``(B, n)`` until
    ``||rhs - S x|| <= rtol ||rhs||`` for every batch element or ``max_iter`` inner
    iterations. Returns ``(x, n_inner_iterations, relative_residuals)``.
    """
    B, n = rhs.shape
    dtype = rhs.dtype
    x = torch.zeros_like(rhs)
    rnorm0 = rhs.norm(dim=1)
    target = rtol * rnorm0
    r = rhs.clone()
    beta = rnorm0.clone()
    tiny = torch.finfo(dtype).tiny
    total = 0
    while total < max_iter:
        active = beta > target
        if not bool(active.any()):
            break
        m = min(restart, max_iter - total)
        V = rhs.new_zeros(B, m + 1, n)
        Z = rhs.new_zeros(B, m, n)
        H = rhs.new_zeros(B, m + 1, m)
        cs = rhs.new_zeros(B, m)
        sn = rhs.new_zeros(B, m)
        g = rhs.new_zeros(B, m + 1)
        g[:, 0] = beta
        V[:, 0] = r / beta.clamp_min(tiny)[:, None]
        j_done = 0
        for j in range(m):
            z = precond(V[:, j])
            Z[:, j] = z
            w = matvec(z)
            # classical Gram-Schmidt, twice (batched mat-vecs)
            h = torch.einsum("bkn,bn->bk", V[:, : j + 1], w)
            w = w - torch.einsum("bkn,bk->bn", V[:, : j + 1], h)
            h2 = torch.einsum("bkn,bn->bk", V[:, : j + 1], w)
            w = w - torch.einsum("bkn,bk->bn", V[:, : j + 1], h2)
            h = h + h2
            hn = w.norm(dim=1)
            V[:, j + 1] = w / hn.clamp_min(tiny)[:, None]
            col = torch.cat([h, hn[:, None]], 1)  # (B, j + 2)
            for i in range(j):  # previous Givens rotations
                a, b_ = col[:, i].clone(), col[:, i + 1].clone()
                col[:, i] = cs[:, i] * a + sn[:, i] * b_
                col[:, i + 1] = -sn[:, i] * a + cs[:, i] * b_
            a, b_ = col[:, j], col[:, j + 1]
            rho = torch.sqrt(a * a + b_ * b_).clamp_min(tiny)
            cs[:, j] = a / rho
            sn[:, j] = b_ / rho
            col[:, j] = rho
            col[:, j + 1] = 0.0
            H[:, : j + 2, j] = col
            g[:, j + 1] = -sn[:, j] * g[:, j]
            g[:, j] = cs[:, j] * g[:, j]
            j_done = j + 1
            total += 1
            if bool((g[:, j + 1].abs() <= target).all()):
                break
        R = H[:, :j_done, :j_done]
        diag = torch.diagonal(R, dim1=1, dim2=2)
        R = R + torch.diag_embed(torch.where(diag.abs() > tiny, 0.0, 1.0).to(dtype))
        y = torch.linalg.solve_triangular(R, g[:, :j_done, None], upper=True)[..., 0]
        dx = torch.einsum("bkn,bk->bn", Z[:, :j_done], y)
        x = torch.where(active[:, None], x + dx, x)
        r = rhs - matvec(x)
        beta = r.norm(dim=1)
    return x, total, beta / rnorm0.clamp_min(tiny)


def multigrid_factor(
    inp: _Inputs,
    *,
    rtol: float = 1e-10,
    max_iter: int | None = None,
    levels: int | None = 3,
    smoother: str = "gs",
    restart: int = 20,
    pre_smooth: int | None = None,
    post_smooth: int | None = None,
    omega: float = 1.8,
) -> Callable[
    [_Ops, torch.Tensor], tuple[Callable[[torch.Tensor], torch.Tensor], dict]
]:
    """Factory for the ``multigrid`` method of :func:`solve_linear_pde`.

    Parameters
    ----------
    inp : _Inputs
        The validated (fine-level) problem; coarse levels are re-discretised from it.
    rtol : float
        Relative residual target of FGMRES on the Jacobi-scaled normal equations.
    max_iter : int or None
        Inner-iteration budget per solve (default 1000).
    levels : int or None
        Number of grid levels including the finest (``None``: coarsen while every
        coarsened coordinate keeps at least 8 points).
    smoother : {"gs", "jacobi"}
        Block Gauss-Seidel in 5 colours, or damped block Jacobi (``omega``).
    restart : int
        FGMRES restart length.
    pre_smooth, post_smooth : int or None
        Smoothing sweeps before and after the coarse-grid correction (default 2 for
        Gauss-Seidel, 4 for Jacobi).
    omega : float
        Jacobi damping as a multiple of ``1 / rho(B^-1 M)`` (``B`` the point blocks;
        ``rho`` from 15 power iterations per level, about 3.9 here).
    """
    if smoother not in _SMOOTHERS:
        raise ValueError(f"smoother must be one of {_SMOOTHERS}; got {smoother!r}.")
    if levels is not None and (not isinstance(levels, int) or levels < 1):
        raise ValueError(f"mg_levels must be a positive int or None; got {levels!r}.")
    if not (isinstance(rtol, float | int) and 0 < rtol < 1):
        raise ValueError(f"rtol must be in (0, 1); got {rtol!r}.")
    sweeps = 2 if smoother == "gs" else 4
    pre_smooth = sweeps if pre_smooth is None else int(pre_smooth)
    post_smooth = sweeps if post_smooth is None else int(post_smooth)
    if pre_smooth < 0 or post_smooth < 0 or not restart >= 1:
        raise ValueError("pre_smooth and post_smooth must be >= 0 and restart >= 1.")
    budget = 1000 if max_iter is None else int(max_iter)
    if budget < 1:
        raise ValueError(f"max_iter must be >= 1; got {max_iter!r}.")
    detached = _Inputs(
        inp.coefficients.detach(),
        inp.rhs.detach(),
        inp.boundary_values.detach(),
        tuple(s.detach() for s in inp.steps),
        inp.grid,
        inp.order,
        inp.boxes,
        inp.eq_mask,
    )

    def factor(ops: _Ops, vals: torch.Tensor) -> tuple[Any, dict[str, Any]]:
        pat = ops.pat
        mvals = ops.normal_values(vals.detach())
        hier = _build_hierarchy(
            detached, mvals, levels, smoother, pre_smooth, post_smooth, omega
        )
        _, inv_sqrt = _jacobi_scale(pat, mvals)
        fine = hier.levels[0]
        info: dict[str, Any] = {
            "method": "multigrid",
            "levels": [lev.pat.grid for lev in hier.levels],
            "n_iter": 0,
        }

        def scaled_matvec(v: torch.Tensor) -> torch.Tensor:
            return fine.matvec(v * inv_sqrt) * inv_sqrt

        def precond(v: torch.Tensor) -> torch.Tensor:
            return hier.vcycle(v / inv_sqrt) / inv_sqrt

        def solve(rhs: torch.Tensor) -> torch.Tensor:
            y, n_iter, rel = fgmres(
                scaled_matvec,
                precond,
                rhs.detach() * inv_sqrt,
                rtol=rtol,
                max_iter=budget,
                restart=restart,
            )
            adjoint = "scaled_residual" in info
            info["n_iter_adjoint" if adjoint else "n_iter"] = n_iter
            reached = float(rel.max())
            info.setdefault("scaled_residual", reached)
            info.setdefault("converged", reached <= rtol)
            if not reached <= rtol:
                warnings.warn(
                    f"multigrid FGMRES stopped at max_iter={budget} inner iterations "
                    f"{'(adjoint solve) ' if adjoint else ''}with relative residual "
                    f"{reached:.2e} > rtol={rtol:.0e}; the solution is inexact. "
                    "Increase max_iter or mg_levels, or use method='direct'.",
                    ConvergenceWarning,
                    stacklevel=4,
                )
            return y * inv_sqrt

        return solve, info

    return factor
