"""Reusable differentiable and batched numerics shared by skres estimators.

:func:`somp` (simultaneous orthogonal matching pursuit, batched over problems);
:func:`solve_linear_ode` (linear-time least-squares solver for time-varying linear
ODEs, the Scalable Mechanistic Neural Network layer) with its dense reference
:func:`solve_linear_ode_dense`, module form :class:`LinearODESolver` and
frozen-LHS cache :class:`LinearODEFactorCache`; :func:`solve_linear_pde` (least-squares
solver for space-time linear PDEs, the Mechanistic PDE Network layer: sparse direct,
dense or multigrid, with an implicit gradient) and its row builder
:func:`build_linear_pde_system`.
"""

from .linear_pde import build_linear_pde_system, solve_linear_pde
from .ode import (
    LinearODEFactorCache,
    LinearODESolver,
    solve_linear_ode,
    solve_linear_ode_dense,
)
from .pursuit import SOMPResult, somp

__all__ = [
    "SOMPResult",
    "somp",
    "LinearODEFactorCache",
    "LinearODESolver",
    "solve_linear_ode",
    "solve_linear_ode_dense",
    "build_linear_pde_system",
    "solve_linear_pde",
]
