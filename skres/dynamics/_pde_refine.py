"""Mechanistic refinement of :class:`PDEDiscoverer`: coefficients fitted through the
differentiable linear-PDE solver on windows of the data.

Stages: :func:`solve_windows` (the frozen linear PDE on every window),
:func:`whitening` (Gauss-Newton preconditioner), :func:`refine` (the objective and
the choice of optimiser), :func:`run_lbfgs` and :func:`run_adam`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ._pde_library import DERIVATIVE_ORDER, SOLVER_UNKNOWN

ValueAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]
Record = Callable[[np.ndarray, float], None]


def solve_windows(est: Any, coef: torch.Tensor, data: dict[str, Any]) -> torch.Tensor:
    """Solve the frozen linear PDE on every window for ``coef`` (PySINDy sign).

    ``u_t - sum_j coef_j ref^m D^k u = sum_j coef_j ref^m`` (reaction terms) with
    derivatives of order 1 and 2 as solver unknowns; terms of order 3 and 4 are
    frozen at the reference field (``data["ref_derivs"]``) on the right-hand side.
    """
    from ..solvers import solve_linear_pde

    ref = data["ref"]
    zero = torch.zeros_like(ref)
    columns = [zero, torch.ones_like(ref), zero, zero, zero]
    rhs = zero
    for j, (deriv, m) in enumerate(est.library_):
        basis = ref**m
        k = DERIVATIVE_ORDER[deriv]
        if k == 0:
            rhs = rhs + coef[j] * basis
        elif k in SOLVER_UNKNOWN:  # u_t = coef * term <=> u_t - coef ref^m D u = 0
            col = SOLVER_UNKNOWN[k]
            columns[col] = columns[col] - coef[j] * basis
        else:
            rhs = rhs + coef[j] * basis * data["ref_derivs"][k]
    out = solve_linear_pde(
        torch.stack(columns, dim=-1),
        rhs,
        ref,
        data["steps"],
        method=est.solver,
        mg_levels=est.mg_levels,
    )
    return out[..., 0]


def whitening(
    est: Any, coef0: torch.Tensor, cols: torch.Tensor, data: dict[str, Any]
) -> torch.Tensor:
    """Map ``P`` with ``coef = coef0 + P @ beta`` whitening the misfit's curvature.

    The Jacobian of the window solutions with respect to the supported
    coefficients is taken by central differences (``2 k`` solves without
    gradients); ``P = L^{-T}`` for the Cholesky factor ``L`` of the Gauss-Newton
    matrix ``J^T J / (N var)``, so the loss is close to ``const + |beta|^2`` near
    ``coef0`` and L-BFGS or Adam see a well conditioned problem even when library
    terms are nearly collinear.
    """
    n = int(cols.numel())
    scale = coef0.abs()[cols].clamp(min=1e-3) * 1e-4
    columns = []
    with torch.no_grad():
        for j in range(n):
            step = torch.zeros_like(coef0)
            step[cols[j]] = scale[j]
            diff = solve_windows(est, coef0 + step, data) - solve_windows(
                est, coef0 - step, data
            )
            columns.append((diff / (2 * scale[j])).reshape(-1))
    jac = torch.stack(columns, dim=1)
    gram = jac.T @ jac / (jac.shape[0] * data["var"])
    ridge = 1e-12 * torch.trace(gram) / n + torch.finfo(gram.dtype).tiny
    eye = torch.eye(n, dtype=gram.dtype, device=gram.device)
    chol, info = torch.linalg.cholesky_ex(gram + ridge * eye)
    if int(info) != 0 or not torch.all(torch.isfinite(chol)):
        return torch.diag(1.0 / torch.sqrt(torch.diagonal(gram) + ridge))
    return torch.linalg.solve_triangular(chol.T, eye, upper=True)


def run_lbfgs(
    value_and_grad: ValueAndGrad,
    record: Record,
    n_free: int,
    max_iter: int,
    tol: float,
) -> None:
    """L-BFGS-B on the whitened coefficients, after one Gauss-Newton step."""
    from scipy.optimize import minimize

    # The whitened misfit has Hessian ~ 2 I, so -g / 2 is a Gauss-Newton step;
    # take it first (L-BFGS-B's first step has length 1 instead).
    f0, g0 = value_and_grad(np.zeros(n_free))
    norm = f0 if np.isfinite(f0) and f0 > 0 else 1.0
    x0 = np.zeros(n_free)
    if np.isfinite(f0) and max_iter > 1:
        f1, _ = value_and_grad(-0.5 * g0)
        if np.isfinite(f1) and f1 < f0:
            x0 = -0.5 * g0
            record(x0, f1)
            max_iter -= 1
    evaluated: dict[bytes, float] = {}

    def fun(b: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(b)
        evaluated[b.tobytes()] = value
        if not np.isfinite(value):  # let the line search back off
            return np.inf, np.zeros_like(grad)
        return value / norm, grad / norm

    def callback(intermediate_result: Any) -> None:
        b = np.asarray(intermediate_result.x)
        value = evaluated.get(b.tobytes(), intermediate_result.fun * norm)
        record(b, float(value))

    minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        callback=callback,
        options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-12, "maxcor": 20},
    )


def run_adam(
    value_and_grad: ValueAndGrad,
    record: Record,
    n_free: int,
    max_iter: int,
    tol: float,
    lr: float,
) -> None:
    """Adam on the whitened coefficients (written out: no torch.optim import)."""
    b = np.zeros(n_free)
    m = np.zeros(n_free)
    v = np.zeros(n_free)
    previous = float("inf")
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, max_iter + 1):
        value, grad = value_and_grad(b)
        if not np.isfinite(value):
            break
        record(b, value)
        if abs(previous - value) <= tol * abs(value):
            break
        previous = value
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat = m / (1 - beta1**step)
        v_hat = v / (1 - beta2**step)
        b = b - lr * m_hat / (np.sqrt(v_hat) + eps)


def refine(
    est: Any,
    coef0: np.ndarray,
    support: np.ndarray,
    data: dict[str, Any],
    params: dict[str, Any],
    losses: list[float],
) -> np.ndarray:
    """Fit the supported coefficients through the solver; returns ``coef``."""
    start = est._to_tensor(np.where(support, coef0, 0.0))
    cols = torch.as_tensor(np.flatnonzero(support), device=start.device)
    if cols.numel() == 0:
        return np.zeros_like(coef0)
    precond = whitening(est, start, cols, data)
    beta = torch.nn.Parameter(torch.zeros_like(start[cols]))
    target = data["data"]

    def coefficients() -> torch.Tensor:
        return start.index_add(0, cols, precond @ beta)

    def value_and_grad(b: np.ndarray) -> tuple[float, np.ndarray]:
        with torch.no_grad():
            beta.copy_(torch.as_tensor(b, dtype=beta.dtype))
        beta.grad = None
        with torch.enable_grad():
            coef = coefficients()
            u = solve_windows(est, coef, data)
            loss = torch.mean((u - target) ** 2) / data["var"]
            loss = loss + params["l1_coef"] * torch.sum(torch.abs(coef))
            loss.backward()
        assert beta.grad is not None
        return float(loss.detach()), beta.grad.detach().cpu().numpy().astype(float)

    n_free = int(cols.numel())
    best: list[Any] = [float("inf"), np.zeros(n_free)]
    max_iter = params["max_iter"]
    bar = est._progress(iter(range(max_iter)), total=max_iter, desc=type(est).__name__)
    ticks = iter(bar)

    def record(b: np.ndarray, value: float) -> None:
        losses.append(value)
        next(ticks, None)
        est._report(bar, loss=value)
        if value < best[0]:
            best[0], best[1] = value, b.copy()

    if params["optimizer"] == "lbfgs":
        run_lbfgs(value_and_grad, record, n_free, max_iter, params["tol"])
    else:
        run_adam(value_and_grad, record, n_free, max_iter, params["tol"], params["lr"])
    if not np.isfinite(best[0]):
        return np.where(support, coef0, 0.0)
    with torch.no_grad():
        beta.copy_(torch.as_tensor(best[1], dtype=beta.dtype))
        coef = coefficients().cpu().numpy()
    return np.asarray(coef, dtype=np.float64)
