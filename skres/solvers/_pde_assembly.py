"""Row assembly of the Mechanistic-PDE least-squares problem, shared by the solvers.

Unknowns per grid point, boundary boxes, the 5-point finite-difference stencils, the
static sparsity pattern of ``A`` and ``A^T A``, input validation, the differentiable
row values and batched products with ``A`` and ``A^T A``. Both
:mod:`skres.solvers.linear_pde` (direct and dense solves, the public API) and
:mod:`skres.solvers._pde_multigrid` (re-discretised coarse levels) import from here,
so neither imports the other.

Stencils: a centred 5-point stencil (offsets -2..+2) in the interior; at the first
and last point of an axis the one-sided stencil 0..+4 (0..-4); at the point next to
each edge the 5 points of the edge stencil, i.e. offsets -1..+3 (+1..-3). The
reference code of Pervez et al. uses 0..+4 from that point instead; both are exact
for polynomials of degree 4 and ours has the smaller error constant (see the
linear-PDE solver docs page for the measured difference).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch

_MIN_POINTS = 6

Box = tuple[int, tuple[int, ...], tuple[int, ...]]


# --------------------------------------------------------------------------------------
# variables and boundary boxes
# --------------------------------------------------------------------------------------


def n_variables(n_coord: int, order: int) -> int:
    """Number of unknowns per grid point: ``1 + order * n_coord``."""
    return 1 + order * n_coord


def variable_names(n_coord: int, order: int) -> list[str]:
    """Names of the unknowns per grid point, in storage order.

    Examples
    --------
    >>> variable_names(2, 2)
    ['u', 'u_t', 'u_x', 'u_tt', 'u_xx']
    """
    axes = ["t", "x", "y", "z"][:n_coord] if n_coord > 1 else ["t"]
    names = ["u"] + [f"u_{a}" for a in axes]
    if order == 2:
        names += [f"u_{a}{a}" for a in axes]
    return names


def _var_index(c: int, k: int, n_coord: int) -> int:
    """Index of ``d^k u / d coord_c^k`` (k = 1, 2) in the per-point unknowns."""
    return 1 + (k - 1) * n_coord + c


def default_boundary(grid: Sequence[int], kind: str = "initial+spatial") -> list[Box]:
    """Index boxes of the named boundary setting (``u`` only).

    ``"initial"``: the ``t = 0`` plane. ``"initial+spatial"``: the ``t = 0`` plane and
    every spatial face (index 0 and last) for all times. Boxes are
    ``(var, first_corner, last_corner)`` with inclusive corners; negative indices
    count from the end, so the same boxes describe coarser grids.
    """
    d = len(grid)
    zeros = (0,) * d
    ends = (-1,) * d
    boxes: list[Box] = [(0, zeros, (0,) + ends[1:])]
    if kind == "initial":
        return boxes
    if kind != "initial+spatial":
        raise ValueError(
            "boundary must be 'initial+spatial', 'initial' or a list of "
            f"(var, first_corner, last_corner) boxes; got {kind!r}."
        )
    for c in range(1, d):
        for side in (0, -1):
            lo = list(zeros)
            hi = list(ends)
            lo[c] = side
            hi[c] = side
            boxes.append((0, tuple(lo), tuple(hi)))
    return boxes


def _resolve_boxes(
    boundary: Any, grid: tuple[int, ...], n_vars: int
) -> tuple[Box, ...]:
    if isinstance(boundary, str):
        boxes = default_boundary(grid, boundary)
    else:
        try:
            boxes = list(boundary)
        except TypeError:
            raise TypeError(
                "boundary must be a string or a list of (var, first_corner, "
                f"last_corner) boxes; got {type(boundary).__name__}."
            ) from None
    out: list[Box] = []
    d = len(grid)
    for box in boxes:
        try:
            var, lo, hi = box
            var = int(var)
            lo_t = tuple(int(v) for v in lo)
            hi_t = tuple(int(v) for v in hi)
        except (TypeError, ValueError):
            raise ValueError(
                "each boundary box must be (var, first_corner, last_corner) with "
                f"corners of length {d}; got {box!r}."
            ) from None
        if len(lo_t) != d or len(hi_t) != d:
            raise ValueError(
                f"boundary box corners must have length {d} (one index per "
                f"coordinate); got {box!r}."
            )
        if not 0 <= var < n_vars:
            raise ValueError(
                f"boundary box variable index must be in [0, {n_vars}); got {var}."
            )
        lo_r, hi_r = [], []
        for c, n in enumerate(grid):
            a = lo_t[c] + n if lo_t[c] < 0 else lo_t[c]
            b = hi_t[c] + n if hi_t[c] < 0 else hi_t[c]
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(
                    f"boundary box {box!r} is out of range for grid {grid}."
                )
            lo_r.append(a)
            hi_r.append(b)
        out.append((var, tuple(lo_r), tuple(hi_r)))
    return tuple(out)


# --------------------------------------------------------------------------------------
# stencils
# --------------------------------------------------------------------------------------


def stencil_indices(n: int) -> np.ndarray:
    """``(n, 5)`` indices of the 5-point stencil of each point of an axis of ``n``
    points: centred in the interior, one-sided (0..4 or n-5..n-1) near the edges."""
    start = np.clip(np.arange(n) - 2, 0, n - 5)
    return start[:, None] + np.arange(5)[None, :]


@lru_cache(maxsize=64)
def _stencil_indices_cached(n: int) -> np.ndarray:
    return stencil_indices(n)


def stencil_weights(
    steps: torch.Tensor, orders: Sequence[int] = (1, 2)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled 5-point finite-difference weights on a non-uniform axis.

    Parameters
    ----------
    steps : torch.Tensor of shape (..., n - 1)
        Positive step sizes of an axis with ``n >= 5`` points.
    orders : sequence of int
        Derivative orders ``k`` (each in 1..4).

    Returns
    -------
    weights : torch.Tensor of shape (..., n, 5, len(orders))
        ``h_i^k w_{ij}`` where ``sum_j w_{ij} f(x_{s_ij}) ~ f^{(k)}(x_i)`` (exact for
        polynomials of degree <= 4) and ``s = stencil_indices(n)``.
    h : torch.Tensor of shape (..., n)
        The local step ``h_i`` (to the right; to the left at the last point).

    Examples
    --------
    >>> import torch
    >>> w, h = stencil_weights(torch.full((6,), 0.5, dtype=torch.float64), (1,))
    >>> [round(float(v), 4) for v in w[2, :, 0]]  # central 4th-order stencil
    [0.0833, -0.6667, 0.0, 0.6667, -0.0833]
    """
    n = steps.shape[-1] + 1
    idx = torch.as_tensor(_stencil_indices_cached(n), device=steps.device)
    zero = torch.zeros(steps.shape[:-1] + (1,), dtype=steps.dtype, device=steps.device)
    x = torch.cat([zero, torch.cumsum(steps, -1)], -1)  # (..., n)
    h = torch.cat([steps, steps[..., -1:]], -1)  # (..., n)
    delta = (x[..., idx] - x[..., :, None]) / h[..., :, None]  # (..., n, 5)
    powers = torch.arange(5, device=steps.device)
    vander = delta[..., None, :] ** powers[:, None].to(steps.dtype)  # (..., n, 5m, 5j)
    rhs = torch.zeros(5, len(orders), dtype=steps.dtype, device=steps.device)
    for col, k in enumerate(orders):
        rhs[k, col] = math.factorial(k)
    weights = torch.linalg.solve(vander, rhs.expand(vander.shape[:-2] + rhs.shape))
    return weights, h


# --------------------------------------------------------------------------------------
# static sparsity pattern
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    grid: tuple[int, ...]
    order: int
    n_vars: int
    n_rows: int
    n_unknowns: int
    eq_points: np.ndarray  # (R1,)
    bc_points: np.ndarray  # (R2,)
    bc_vars: np.ndarray  # (R2,)
    rows: np.ndarray  # (nnz,)
    cols: np.ndarray  # (nnz,)
    # normal matrix A^T A: sorted (row, col) CSR pattern and the pair products
    m_indptr: np.ndarray
    m_row: np.ndarray
    m_col: np.ndarray
    pair_a: np.ndarray
    pair_b: np.ndarray
    pair_target: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict, compare=False)
    _tensors: dict[tuple[str, str], torch.Tensor] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def n_points(self) -> int:
        return int(np.prod(self.grid))

    def t(self, name: str, device: torch.device) -> torch.Tensor:
        """Cached index tensor ``name`` (a field or ``extra`` array) on ``device``."""
        key = (name, str(device))
        out = self._tensors.get(key)
        if out is None:
            arr = self.extra[name] if name in self.extra else getattr(self, name)
            out = torch.as_tensor(arr, device=device)
            self._tensors[key] = out
        return out


def _taylor_points(grid: tuple[int, ...], c: int, forward: bool) -> np.ndarray:
    ii = np.indices(grid).reshape(len(grid), -1)
    keep = ii[c] < grid[c] - 1 if forward else ii[c] >= 1
    return np.flatnonzero(keep)


def _normal_pattern(fam_cols: list[np.ndarray], n: int) -> tuple[Any, ...]:
    """Row/column indices of ``A`` from the row families' columns, and the sorted
    pattern of ``A^T A`` with, for every product ``A_ri A_rj``, its target entry.

    Returns ``(n_rows, rows, cols, pair_a, pair_b, pair_target, m_row, m_col)``.
    """
    rows_l, cols_l, pa_l, pb_l, keys_l = [], [], [], [], []
    row0 = 0
    k0 = 0
    for cols in fam_cols:
        R, W = cols.shape
        rows_l.append(np.repeat(np.arange(row0, row0 + R), W))
        cols_l.append(cols.reshape(-1))
        base = k0 + np.arange(R)[:, None, None] * W
        a = np.broadcast_to(base + np.arange(W)[None, :, None], (R, W, W))
        b = np.broadcast_to(base + np.arange(W)[None, None, :], (R, W, W))
        pa_l.append(a.reshape(-1))
        pb_l.append(b.reshape(-1))
        keys_l.append((cols[:, :, None] * n + cols[:, None, :]).reshape(-1))
        row0 += R
        k0 += R * W
    keys = np.concatenate(keys_l)
    uniq, target = np.unique(keys, return_inverse=True)
    m_row = uniq // n
    m_col = uniq % n
    return (
        row0,
        np.concatenate(rows_l),
        np.concatenate(cols_l),
        np.concatenate(pa_l),
        np.concatenate(pb_l),
        target.reshape(-1),
        m_row,
        m_col,
    )


@lru_cache(maxsize=32)
def _pattern(
    grid: tuple[int, ...],
    order: int,
    boxes: tuple[Box, ...],
    eq_mask: tuple[bool, ...] | None,
) -> _Pattern:
    d = len(grid)
    nv = n_variables(d, order)
    N = int(np.prod(grid))
    ii = np.indices(grid).reshape(d, N)
    strides = np.array([int(np.prod(grid[c + 1 :])) for c in range(d)])
    points = np.arange(N)
    # equation rows
    if eq_mask is None:
        keep = ii[0] >= 1
        for c in range(1, d):
            keep &= (ii[c] >= 1) & (ii[c] <= grid[c] - 2)
    else:
        keep = np.asarray(eq_mask, dtype=bool)
    eq_points = np.flatnonzero(keep)
    # boundary rows (union of the boxes, per variable)
    bmask = np.zeros((N, nv), dtype=bool)
    for var, lo, hi in boxes:
        inside = np.ones(N, dtype=bool)
        for c in range(d):
            inside &= (ii[c] >= min(lo[c], hi[c])) & (ii[c] <= max(lo[c], hi[c]))
        bmask[inside, var] = True
    bc_points, bc_vars = np.nonzero(bmask)
    fam_cols: list[np.ndarray] = [
        eq_points[:, None] * nv + np.arange(nv)[None, :],
        (bc_points * nv + bc_vars)[:, None],
    ]
    for c in range(d):
        sidx = stencil_indices(grid[c])  # (n_c, 5)
        nbr = points[:, None] + (sidx[ii[c]] - ii[c][:, None]) * strides[c]
        for k in range(1, order + 1):
            var = _var_index(c, k, d)
            fam_cols.append(np.concatenate([nbr * nv, (points * nv + var)[:, None]], 1))
        jet = [points * nv] + [
            points * nv + _var_index(c, k, d) for k in range(1, order + 1)
        ]
        for forward in (True, False):
            pts = _taylor_points(grid, c, forward)
            other = pts + (strides[c] if forward else -strides[c])
            fam_cols.append(np.stack([j[pts] for j in jet] + [other * nv], 1))
    n = N * nv
    row0, rows, cols, pair_a, pair_b, target, m_row, m_col = _normal_pattern(
        fam_cols, n
    )
    m_indptr = np.concatenate([[0], np.cumsum(np.bincount(m_row, minlength=n))])
    extra = {
        "diag_pos": np.flatnonzero(m_row == m_col),
        "m_flat": m_row * n + m_col,
        "bc_vars0": np.zeros_like(bc_vars),
    }
    for c in range(d):
        extra[f"ii{c}"] = ii[c]
        for forward in (True, False):
            pts = _taylor_points(grid, c, forward)
            extra[f"tp{c}{int(forward)}"] = pts
            extra[f"ts{c}{int(forward)}"] = ii[c][pts] - (0 if forward else 1)
    return _Pattern(
        grid=grid,
        order=order,
        n_vars=nv,
        n_rows=row0,
        n_unknowns=n,
        eq_points=eq_points,
        bc_points=bc_points,
        bc_vars=bc_vars,
        rows=rows,
        cols=cols,
        m_indptr=m_indptr,
        m_row=m_row,
        m_col=m_col,
        pair_a=pair_a,
        pair_b=pair_b,
        pair_target=target,
        extra=extra,
    )


# --------------------------------------------------------------------------------------
# input checks and value assembly
# --------------------------------------------------------------------------------------


@dataclass
class _Inputs:
    coefficients: torch.Tensor  # (B, *grid, nv)
    rhs: torch.Tensor  # (B, *grid)
    boundary_values: torch.Tensor  # (B, *grid) or (B, *grid, nv)
    steps: tuple[torch.Tensor, ...]  # each (1|B, n_c - 1)
    grid: tuple[int, ...]
    order: int
    boxes: tuple[Box, ...]
    eq_mask: tuple[bool, ...] | None


def _tensor(value: Any, name: str, dtype: torch.dtype, device: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(np.asarray(value, dtype=float))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a tensor or array of numbers.") from None
    if not (
        torch.is_floating_point(value) or value.dtype in (torch.int32, torch.int64)
    ):
        raise TypeError(f"{name} must be real-valued; got dtype {value.dtype}.")
    value = value.to(dtype=dtype, device=device)
    if not bool(torch.isfinite(value.detach()).all()):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return value


def _check_inputs(
    coefficients: Any,
    rhs: Any,
    boundary_values: Any,
    steps: Any,
    boundary: Any,
    order: int,
    equation_mask: Any,
) -> _Inputs:
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2; got {order!r}.")
    if isinstance(coefficients, torch.Tensor) and torch.is_floating_point(coefficients):
        dtype, device = coefficients.dtype, coefficients.device
    else:
        dtype, device = torch.float64, torch.device("cpu")
    coefficients = _tensor(coefficients, "coefficients", dtype, device)
    if coefficients.ndim < 3:
        raise ValueError(
            "coefficients must have shape (batch, *grid, n_vars) with a grid of 1-3 "
            f"coordinates; got {tuple(coefficients.shape)}."
        )
    grid = tuple(int(s) for s in coefficients.shape[1:-1])
    d = len(grid)
    if d > 3:
        raise ValueError(f"at most 3 grid coordinates are supported; got {d}.")
    nv = n_variables(d, order)
    if coefficients.shape[-1] != nv:
        raise ValueError(
            f"coefficients must have n_vars={nv} entries in the last dimension for "
            f"{d} coordinate(s) and order={order} ({variable_names(d, order)}); got "
            f"{coefficients.shape[-1]}."
        )
    for c, n in enumerate(grid):
        if n < _MIN_POINTS:
            raise ValueError(
                f"every grid coordinate needs at least {_MIN_POINTS} points; "
                f"coordinate {c} has {n}."
            )
    B = coefficients.shape[0]
    rhs = _tensor(rhs, "rhs", dtype, device)
    if tuple(rhs.shape) != (B,) + grid:
        raise ValueError(
            f"rhs must have shape (batch, *grid) = {(B,) + grid}; got "
            f"{tuple(rhs.shape)}."
        )
    boundary_values = _tensor(boundary_values, "boundary_values", dtype, device)
    if tuple(boundary_values.shape) not in ((B,) + grid, (B,) + grid + (nv,)):
        raise ValueError(
            f"boundary_values must have shape (batch, *grid) = {(B,) + grid} or "
            f"(batch, *grid, n_vars); got {tuple(boundary_values.shape)}."
        )
    if isinstance(steps, torch.Tensor | np.ndarray) and d == 1 and steps.ndim <= 2:
        steps = (steps,)
    if not isinstance(steps, Sequence) or len(steps) != d:
        raise ValueError(
            f"steps must be a tuple of {d} tensors (one per coordinate); got "
            f"{type(steps).__name__}"
            + (f" of length {len(steps)}." if isinstance(steps, Sequence) else ".")
        )
    steps_out = []
    for c, s in enumerate(steps):
        s = _tensor(s, f"steps[{c}]", dtype, device)
        if s.ndim == 1:
            s = s[None]
        if s.ndim != 2 or s.shape[0] not in (1, B) or s.shape[1] != grid[c] - 1:
            raise ValueError(
                f"steps[{c}] must have shape ({grid[c] - 1},) or (batch, "
                f"{grid[c] - 1}); got {tuple(s.shape)}."
            )
        if bool((s.detach() <= 0).any()):
            raise ValueError(f"steps[{c}] must be strictly positive.")
        steps_out.append(s)
    boxes = _resolve_boxes(boundary, grid, nv)
    mask: tuple[bool, ...] | None = None
    if equation_mask is not None:
        m = np.asarray(
            equation_mask.detach().cpu()
            if isinstance(equation_mask, torch.Tensor)
            else equation_mask
        )
        if m.shape != grid:
            raise ValueError(
                f"equation_mask must have the grid shape {grid}; got {m.shape}."
            )
        mask = tuple(bool(v) for v in m.reshape(-1))
    return _Inputs(
        coefficients, rhs, boundary_values, tuple(steps_out), grid, order, boxes, mask
    )


def _assemble(inp: _Inputs, pat: _Pattern) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable row values ``(B, nnz)`` and right-hand side ``(B, n_rows)``."""
    order, d = inp.order, len(inp.grid)
    nv = pat.n_vars
    coef = inp.coefficients
    B = coef.shape[0]
    N = pat.n_points
    dev = coef.device
    eq_points = pat.t("eq_points", dev)
    vals: list[torch.Tensor] = [coef.reshape(B, N, nv)[:, eq_points]]
    vals.append(torch.ones(B, len(pat.bc_points), 1, dtype=coef.dtype, device=dev))
    bv = inp.boundary_values.reshape(B, N, -1)
    bc_var = pat.t("bc_vars" if bv.shape[-1] > 1 else "bc_vars0", dev)
    b_bc = bv[:, pat.t("bc_points", dev), bc_var]
    for c in range(d):
        steps = inp.steps[c].expand(B, -1)
        ii = pat.t(f"ii{c}", dev)
        w, h = stencil_weights(steps, tuple(range(1, order + 1)))  # (B,n,5,K), (B,n)
        wp = w[:, ii]  # (B, N, 5, K)
        hp = h[:, ii]  # (B, N)
        for k in range(1, order + 1):
            vals.append(torch.cat([wp[..., k - 1], -(hp**k)[..., None]], -1))
        for forward in (True, False):
            hs = steps[:, pat.t(f"ts{c}{int(forward)}", dev)]  # (B, R)
            sign = 1.0 if forward else -1.0
            one = torch.ones_like(hs)
            cols = [one, sign * hs]
            if order == 2:
                cols.append(0.5 * hs * hs)
            cols.append(-one)
            vals.append(torch.stack(cols, -1))
    flat = torch.cat([v.reshape(B, -1) for v in vals], 1)
    b = torch.zeros(B, pat.n_rows, dtype=coef.dtype, device=dev)
    n_eq, n_bc = len(pat.eq_points), len(pat.bc_points)
    b = torch.cat(
        [
            inp.rhs.reshape(B, N)[:, eq_points],
            b_bc,
            b.new_zeros(B, pat.n_rows - n_eq - n_bc),
        ],
        1,
    )
    return flat, b


# --------------------------------------------------------------------------------------
# sparse helpers shared by the solvers
# --------------------------------------------------------------------------------------


class _Ops:
    """Batched products with ``A`` and ``A^T A`` for one pattern (gather/scatter)."""

    def __init__(self, pat: _Pattern, device: torch.device) -> None:
        self.pat = pat
        self.rows = pat.t("rows", device)
        self.cols = pat.t("cols", device)

    def matvec(self, vals: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``A x`` for ``x`` of shape ``(B, n_unknowns)``."""
        out = vals.new_zeros(vals.shape[0], self.pat.n_rows)
        return out.index_add_(1, self.rows, vals * x[:, self.cols])

    def rmatvec(self, vals: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``A^T y`` for ``y`` of shape ``(B, n_rows)``."""
        out = vals.new_zeros(vals.shape[0], self.pat.n_unknowns)
        return out.index_add_(1, self.cols, vals * y[:, self.rows])

    def normal_values(self, vals: torch.Tensor) -> torch.Tensor:
        """Values ``(B, nnz_M)`` of ``M = A^T A`` on the sorted CSR pattern."""
        dev = vals.device
        a, b = self.pat.t("pair_a", dev), self.pat.t("pair_b", dev)
        t = self.pat.t("pair_target", dev)
        out = vals.new_zeros(vals.shape[0], len(self.pat.m_row))
        return out.index_add_(1, t, vals[:, a] * vals[:, b])


def _jacobi_scale(
    pat: _Pattern, mvals: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric Jacobi scaling ``D^-1/2 M D^-1/2`` of the normal-matrix values.

    Returns the scaled values and ``D^-1/2`` of shape ``(B, n)``. The diagonal of
    ``A^T A`` spans ten or more orders of magnitude (the Taylor rows scale ``u_cc`` by
    ``h^2 / 2``); after scaling it is 1.
    """
    dev = mvals.device
    diag_pos = pat.t("diag_pos", dev)
    inv_sqrt = mvals[:, diag_pos].clamp_min(torch.finfo(mvals.dtype).tiny).rsqrt()
    r, c = pat.t("m_row", dev), pat.t("m_col", dev)
    return mvals * inv_sqrt[:, r] * inv_sqrt[:, c], inv_sqrt
