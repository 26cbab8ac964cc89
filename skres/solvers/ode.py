"""Linear-time least-squares solver for time-varying linear ODEs (S-MNN layer).

A *mechanistic block* (Pervez et al., ICML 2024) describes, at each of ``n`` time
points ``t_s``, a linear ODE of order ``m`` with time-varying coefficients,

.. math:: \\sum_{k=0}^{m} c_{s,e,i,k}\\, u_i^{(k)}(t_s) = r_{s,e},

for equations ``e`` over state dimensions ``i``, plus initial values. The unknowns
are the Taylor "jets" ``z_s = (u_i^{(k)}(t_s))_{i,k}`` and the solution is the
weighted least-squares solution of three row families: equation rows, initial-value
rows and smoothness rows (forward and backward Taylor expansions between
neighbouring steps, each multiplied by ``h^k``; optionally the MNN central-difference
row for the top order). Every row couples at most steps ``s`` and ``s + 1`` (``s + 2``
for central rows), so the normal matrix ``A^T A`` is block tridiagonal (block
pentadiagonal) with blocks of size ``b = n_dims * n_orders`` (Chen et al., *Scalable
Mechanistic Neural Networks*, ICLR 2025).

:func:`solve_linear_ode` assembles those blocks directly (the row matrix ``A`` is
never formed; the Taylor blocks in closed form), and factors them on CPU by LAPACK's
banded Cholesky (``?pbtrf``/``?pbtrs`` on the scalar band of half-width
``2b - 1``, or ``3b - 1`` with central rows; one call per distinct left-hand side),
elsewhere (GPU) by a blocked Cholesky that is sequential over steps and batched over
everything else, with block substitution: O(n b^3) time and O(n b^2) memory either
way. Its backward pass reuses the factor: one more substitution gives
``g_b = M^{-1} g``, and the block gradients are outer products of ``g_b`` with the
solution; ordinary autograd maps them back to coefficients, right-hand side,
initial values and step sizes. :func:`solve_linear_ode_dense` is the O(n^3) dense
reference built row by row from the same definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

# The `x as x` imports re-export helpers that tests and benchmarks import from here.
from ._ode_assembly import _assemble_lhs, _assemble_rhs, _dense_rows
from ._ode_assembly import _taylor_normal_blocks as _taylor_normal_blocks
from ._ode_assembly import _taylor_rows as _taylor_rows
from ._ode_factor import _band_storage as _band_storage
from ._ode_factor import (
    _BandedFactor,
    _BandedSolve,
    _factor,
    _factor_lapack,
    _LapackBandedFactor,
)
from ._ode_problem import _check_initial_values, _prepare, _Problem, _promote, _weights

__all__ = [
    "LinearODEFactorCache",
    "LinearODESolver",
    "solve_linear_ode",
    "solve_linear_ode_dense",
]


def _use_lapack(D: torch.Tensor) -> bool:
    return D.device.type == "cpu" and D.dtype in (torch.float32, torch.float64)


def _make_factor(
    D: torch.Tensor, E: torch.Tensor, F: torch.Tensor | None
) -> _BandedFactor | _LapackBandedFactor:
    """The fastest factor for the device: LAPACK on CPU, blocked torch elsewhere."""
    if _use_lapack(D):
        return _factor_lapack(D, E, F)
    return _factor(D, E, F)


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


@dataclass
class LinearODEFactorCache:
    """Frozen-LHS cache for :func:`solve_linear_ode`, held by the caller.

    When the coefficients and step sizes stay fixed between calls and only the
    right-hand side or the initial values change (e.g. ODE discovery, where the
    right-hand side is a library times sparse weights), pass the same cache to
    every call: the blocked Cholesky factor is computed once and reused, and a call
    only assembles ``A^T b`` and substitutes. The cache compares the coefficients,
    steps, batch shapes and options of each call with the cached ones and
    refactors on any change, so it never returns a stale solution. With a cache,
    no gradients flow to ``coefficients`` or ``steps``.

    Attributes
    ----------
    n_factorizations : int
        How many times a factor was computed (for diagnostics).
    """

    n_factorizations: int = 0
    _key: tuple[Any, ...] | None = field(default=None, repr=False)
    _lhs: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)
    _factor: _BandedFactor | _LapackBandedFactor | None = field(
        default=None, repr=False
    )

    def clear(self) -> None:
        """Forget the cached factor."""
        self._key = self._lhs = self._factor = None

    def _get(
        self, p: _Problem, central: bool, w: tuple[float, float, float]
    ) -> _BandedFactor | _LapackBandedFactor:
        coef = p.coefficients.detach()
        steps = p.steps.detach()
        key = (
            tuple(coef.shape),
            tuple(steps.shape),
            tuple(p.init_vars.shape[-3:]),
            p.n_steps,
            coef.dtype,
            coef.device,
            central,
            w,
        )
        if (
            self._factor is not None
            and self._key == key
            and self._lhs is not None
            and torch.equal(self._lhs[0], coef)
            and torch.equal(self._lhs[1], steps)
        ):
            return self._factor
        q = _Problem(
            coef,
            p.rhs,
            p.init_vars.detach(),
            steps,
            p.n_steps,
            p.n_dims,
            p.n_orders,
            p.lhs_batch,
            p.batch,
        )
        D, E, F = _assemble_lhs(q, central, w)
        self._factor = _make_factor(D, E, F)
        self._key = key
        self._lhs = (coef.clone(), steps.clone())
        self.n_factorizations += 1
        return self._factor


def solve_linear_ode(
    coefficients: Any,
    rhs: Any,
    init_vars: Any,
    steps: Any,
    *,
    central_smoothness: bool = False,
    weights: Sequence[float] = (1.0, 1.0, 1.0),
    n_steps: int | None = None,
    cache: LinearODEFactorCache | None = None,
) -> torch.Tensor:
    """Solve a batch of time-varying linear ODEs in linear time (S-MNN solver).

    Finds the jets ``u[..., s, i, k] = u_i^{(k)}(t_s)`` minimising the weighted sum
    of squared residuals of the equation rows
    ``sum_{i,k} coefficients[..., s, e, i, k] u[..., s, i, k] = rhs[..., s, e]``,
    the initial-value rows ``u[..., s, i, k] = init_vars[..., s, i, k]`` and the
    Taylor smoothness rows between neighbouring steps, by a blocked Cholesky
    factorisation of the block-banded normal equations (O(n) in the number of
    steps). Differentiable with respect to all four tensor inputs.

    Parameters
    ----------
    coefficients : tensor of shape (..., n_steps or 1, n_equations, n_dims, n_orders)
        ODE coefficients; ``n_orders = order + 1`` (the last index is the
        derivative order). A step axis of size 1 means constant in time.
    rhs : tensor of shape (..., n_steps or 1, n_equations)
        Right-hand side of each equation.
    init_vars : tensor of shape (..., n_init_steps, n_dims, n_init_orders)
        Values imposed on the first ``n_init_steps`` steps for the derivative
        orders ``0..n_init_orders - 1``.
    steps : tensor of shape (..., n_steps - 1 or 1)
        Positive step sizes ``t_{s+1} - t_s`` (may differ per step and batch).
    central_smoothness : bool, default=False
        Add the MNN central-difference row for the top order (and drop the
        top-order continuity rows), making the system block pentadiagonal.
    weights : tuple of 3 floats, default=(1, 1, 1)
        Weights of the equation, initial-value and smoothness rows (squared in the
        least-squares objective).
    n_steps : int, optional
        Number of steps, needed only when every input has a step axis of size 1.
    cache : LinearODEFactorCache, optional
        Reuse the factor across calls with the same coefficients and steps
        (frozen LHS); gradients then flow only to ``rhs`` and ``init_vars``.

    Returns
    -------
    u : tensor of shape (..., n_steps, n_dims, n_orders)
        The solution and its derivatives at every step, in the dtype of
        ``coefficients``. float32/float16/bfloat16 problems are solved in float64
        and cast back (single precision loses most digits in the normal
        equations at small steps).

    Raises
    ------
    ValueError
        On inconsistent shapes, non-finite values, non-positive steps, fewer
        initial values than the ODE's order (the highest derivative with a
        non-zero coefficient) needs, or a normal matrix that is not positive
        definite.

    Examples
    --------
    >>> import torch
    >>> from skres.solvers import solve_linear_ode
    >>> n, h = 101, 0.01  # u' = -u, u(0) = 1 on [0, 1]
    >>> coef = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    >>> u = solve_linear_ode(coef, torch.zeros(1, 1, dtype=torch.float64),
    ...                      torch.ones(1, 1, 1, dtype=torch.float64),
    ...                      torch.full((n - 1,), h, dtype=torch.float64))
    >>> u.shape
    torch.Size([101, 1, 3])
    >>> abs(float(u[-1, 0, 0]) - torch.exp(torch.tensor(-1.0)).item()) < 1e-4
    True
    """
    (coefficients, rhs, init_vars, steps), out_dtype = _promote(
        coefficients, rhs, init_vars, steps
    )
    p = _prepare(coefficients, rhs, init_vars, steps, n_steps)
    _check_initial_values(p)
    w = _weights(weights)
    central = bool(central_smoothness)
    if cache is not None:  # frozen LHS: no gradients to coefficients or steps
        p.coefficients = p.coefficients.detach()
        p.steps = p.steps.detach()
    rhs_vec = _assemble_rhs(p, w)
    if cache is not None:
        factor = cache._get(p, central, w)
        x = _BandedSolve.apply(factor, rhs_vec, None, None, None)
    else:
        D, E, F = _assemble_lhs(p, central, w)
        with torch.no_grad():
            factor = _make_factor(
                D.detach(), E.detach(), None if F is None else F.detach()
            )
        x = _BandedSolve.apply(factor, rhs_vec, D, E, F)
    u = x.reshape(x.shape[:-1] + (p.n_dims, p.n_orders))
    return u if out_dtype is None else u.to(out_dtype)


def solve_linear_ode_dense(
    coefficients: Any,
    rhs: Any,
    init_vars: Any,
    steps: Any,
    *,
    central_smoothness: bool = False,
    weights: Sequence[float] = (1.0, 1.0, 1.0),
    n_steps: int | None = None,
    method: str = "cholesky",
) -> torch.Tensor:
    """Dense O(n^3) reference for :func:`solve_linear_ode` (same rows, same answer).

    Builds the full weighted row matrix ``A`` (all equation, initial-value and
    smoothness rows, as in the MNN formulation without the slack variable) and
    solves the least-squares problem densely with plain autograd. Meant for tests
    and benchmarks only: time O((n b)^3), memory O((n b)^2).

    Parameters
    ----------
    coefficients, rhs, init_vars, steps, central_smoothness, weights, n_steps
        As in :func:`solve_linear_ode`.
    method : {"cholesky", "lstsq"}, default="cholesky"
        ``"cholesky"`` solves the normal equations ``A^T A x = A^T b``;
        ``"lstsq"`` uses a QR-based least-squares solve of ``A x = b`` directly.

    Returns
    -------
    u : tensor of shape (..., n_steps, n_dims, n_orders)

    Examples
    --------
    >>> import torch
    >>> from skres.solvers import solve_linear_ode, solve_linear_ode_dense
    >>> coef = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    >>> args = (coef, torch.zeros(1, 1, dtype=torch.float64),
    ...         torch.ones(1, 1, 1, dtype=torch.float64),
    ...         torch.full((20,), 0.05, dtype=torch.float64))
    >>> bool(torch.allclose(solve_linear_ode(*args), solve_linear_ode_dense(*args)))
    True
    """
    if method not in ("cholesky", "lstsq"):
        raise ValueError(f"method must be 'cholesky' or 'lstsq'; got {method!r}.")
    (coefficients, rhs, init_vars, steps), out_dtype = _promote(
        coefficients, rhs, init_vars, steps
    )
    p = _prepare(coefficients, rhs, init_vars, steps, n_steps)
    _check_initial_values(p)
    w = _weights(weights)
    A, bvec = _dense_rows(p, bool(central_smoothness), w)
    if method == "lstsq":
        x = torch.linalg.lstsq(A, bvec[..., None], driver="gels").solution[..., 0]
    else:
        M = A.mT @ A
        L = torch.linalg.cholesky(M)
        x = torch.cholesky_solve((A.mT @ bvec[..., None]), L)[..., 0]
    u = x.reshape(x.shape[:-1] + (p.n_steps, p.n_dims, p.n_orders))
    return u if out_dtype is None else u.to(out_dtype)


class LinearODESolver(torch.nn.Module):
    """:func:`solve_linear_ode` as a :class:`torch.nn.Module` for use in networks.

    Parameters
    ----------
    central_smoothness : bool, default=False
        See :func:`solve_linear_ode`.
    weights : tuple of 3 floats, default=(1, 1, 1)
        Weights of the equation, initial-value and smoothness rows.
    frozen_lhs : bool, default=False
        Keep a :class:`LinearODEFactorCache` on the module and reuse the factor
        while the coefficients and steps stay the same (no gradients to them).

    Examples
    --------
    >>> import torch
    >>> from skres.solvers import LinearODESolver
    >>> solver = LinearODESolver()
    >>> coef = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    >>> u = solver(coef, torch.ones(1, 1, dtype=torch.float64),
    ...            torch.zeros(1, 1, 1, dtype=torch.float64),
    ...            torch.full((10,), 0.1, dtype=torch.float64))
    >>> round(float(u[-1, 0, 0]), 6)  # u' = 1, u(0) = 0 -> u(1) = 1
    1.0
    """

    def __init__(
        self,
        central_smoothness: bool = False,
        weights: Sequence[float] = (1.0, 1.0, 1.0),
        frozen_lhs: bool = False,
    ) -> None:
        super().__init__()
        self.central_smoothness = central_smoothness
        self.weights = tuple(weights)
        self.cache = LinearODEFactorCache() if frozen_lhs else None

    def forward(
        self,
        coefficients: torch.Tensor,
        rhs: torch.Tensor,
        init_vars: torch.Tensor,
        steps: torch.Tensor,
    ) -> torch.Tensor:
        """Solve; see :func:`solve_linear_ode` for shapes."""
        return solve_linear_ode(
            coefficients,
            rhs,
            init_vars,
            steps,
            central_smoothness=self.central_smoothness,
            weights=self.weights,
            cache=self.cache,
        )
