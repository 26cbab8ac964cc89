"""Input checks of the linear ODE solver: shapes, dtypes, weights and initial values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._validation import check_not_meta


@dataclass
class _Problem:
    coefficients: torch.Tensor  # (*lhs, n|1, n_eq, d, m1)
    rhs: torch.Tensor  # (*rb, n|1, n_eq)
    init_vars: torch.Tensor  # (*ib, n_iv_steps, d, n_iv_orders)
    steps: torch.Tensor  # (*sb, n-1|1)
    n_steps: int
    n_dims: int
    n_orders: int
    lhs_batch: tuple[int, ...]
    batch: tuple[int, ...]


def _as_tensor(value: Any, name: str, dtype: torch.dtype | None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(value, dtype=dtype or torch.float64)
    if not torch.is_floating_point(value):
        value = value.to(torch.float64)
    if not bool(torch.isfinite(value.detach()).all()):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return value


def _prepare(
    coefficients: Any,
    rhs: Any,
    init_vars: Any,
    steps: Any,
    n_steps: int | None,
) -> _Problem:
    dtype = coefficients.dtype if isinstance(coefficients, torch.Tensor) else None
    coefficients = _as_tensor(coefficients, "coefficients", dtype)
    dtype, device = coefficients.dtype, coefficients.device
    rhs = _as_tensor(rhs, "rhs", dtype).to(dtype=dtype, device=device)
    init_vars = _as_tensor(init_vars, "init_vars", dtype).to(dtype=dtype, device=device)
    steps = _as_tensor(steps, "steps", dtype).to(dtype=dtype, device=device)
    if coefficients.ndim < 4:
        raise ValueError(
            "coefficients must have shape (..., n_steps, n_equations, n_dims, "
            f"n_orders); got {tuple(coefficients.shape)}."
        )
    if rhs.ndim < 2:
        raise ValueError(
            f"rhs must have shape (..., n_steps, n_equations); got {tuple(rhs.shape)}."
        )
    if init_vars.ndim < 3:
        raise ValueError(
            "init_vars must have shape (..., n_init_steps, n_dims, n_init_orders); "
            f"got {tuple(init_vars.shape)}."
        )
    if steps.ndim < 1:
        raise ValueError("steps must have shape (..., n_steps - 1).")
    n_eq, d, m1 = coefficients.shape[-3:]
    if m1 < 2:
        raise ValueError(f"n_orders (last dim of coefficients) must be >= 2; got {m1}.")
    if rhs.shape[-1] != n_eq:
        raise ValueError(
            f"rhs has {rhs.shape[-1]} equations but coefficients have {n_eq}."
        )
    if init_vars.shape[-2] != d:
        raise ValueError(
            f"init_vars has {init_vars.shape[-2]} dims but coefficients have {d}."
        )
    if init_vars.shape[-1] > m1:
        raise ValueError(
            f"init_vars has {init_vars.shape[-1]} orders, more than n_orders={m1}."
        )
    inferred = max(coefficients.shape[-4], rhs.shape[-2], steps.shape[-1] + 1)
    n = inferred if n_steps is None else int(n_steps)
    if n < 2:
        raise ValueError(f"n_steps must be >= 2; got {n}.")
    for name, size, full in (
        ("coefficients", coefficients.shape[-4], n),
        ("rhs", rhs.shape[-2], n),
        ("steps", steps.shape[-1], n - 1),
    ):
        if size not in (1, full):
            raise ValueError(
                f"{name} has {size} steps along the step axis; expected 1 or {full}."
            )
    if init_vars.shape[-3] > n:
        raise ValueError("init_vars has more initial steps than n_steps.")
    if bool((steps.detach() <= 0).any()):
        raise ValueError("steps must be strictly positive.")
    lhs_batch = tuple(torch.broadcast_shapes(coefficients.shape[:-4], steps.shape[:-1]))
    batch = tuple(
        torch.broadcast_shapes(lhs_batch, rhs.shape[:-2], init_vars.shape[:-3])
    )
    return _Problem(coefficients, rhs, init_vars, steps, n, d, m1, lhs_batch, batch)


def _weights(weights: Sequence[float]) -> tuple[float, float, float]:
    if len(weights) != 3:
        raise ValueError(
            "weights must be (equation, initial, smoothness); "
            f"got {len(weights)} values."
        )
    out = tuple(float(w) for w in weights)
    if not all(math.isfinite(w) and w > 0 for w in out):
        raise ValueError(f"weights must be positive and finite; got {weights}.")
    return out  # type: ignore[return-value]


_LOW_PRECISION = (torch.float32, torch.float16, torch.bfloat16)


def _promote(*values: Any) -> tuple[tuple[Any, ...], torch.dtype | None]:
    """Cast float32/16 tensors to float64; return them and the dtype to give back.

    The normal equations square the condition number of the row system, so the
    blocked Cholesky in single precision loses most digits at small steps (u''+u=0
    at h=1e-3 is off by about 1 in float32). Low-precision inputs are therefore
    solved in float64 and the solution is cast back to the coefficients' dtype.
    """
    names = ("coefficients", "rhs", "init_vars", "steps")
    for name, value in zip(names, values, strict=True):
        check_not_meta(value, name)
    coefficients = values[0]
    if not (
        isinstance(coefficients, torch.Tensor) and coefficients.dtype in _LOW_PRECISION
    ):
        return values, None
    promoted = tuple(
        v.to(torch.float64)
        if isinstance(v, torch.Tensor) and v.is_floating_point()
        else v
        for v in values
    )
    return promoted, coefficients.dtype


def _check_initial_values(p: _Problem) -> None:
    """Raise unless ``init_vars`` pins as many values as the ODE's order needs."""
    nonzero = (p.coefficients.detach() != 0).reshape(-1, p.n_orders).any(dim=0)
    orders = torch.nonzero(nonzero).flatten()
    ode_order = int(orders.max()) if orders.numel() else 0
    n_iv_steps, n_iv_orders = p.init_vars.shape[-3], p.init_vars.shape[-1]
    if n_iv_steps * n_iv_orders < ode_order:
        raise ValueError(
            f"init_vars pins {n_iv_orders} derivative order(s) at {n_iv_steps} "
            f"step(s), but the ODE is of order {ode_order} (coefficients of "
            f"derivative {ode_order} are non-zero) and needs {ode_order} initial "
            f"values per dimension, e.g. u, ..., u^({ode_order - 1}) at the first "
            "step (init_vars of shape (..., 1, n_dims, "
            f"{ode_order})); otherwise the solution is not determined."
        )
