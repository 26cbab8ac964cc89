"""Stepped ODE integration with a work budget, shared by the simulators of
:class:`~skres.dynamics.PDEDiscoverer` and :class:`~skres.dynamics.MechanisticODE`."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


class SimulationWarning(RuntimeWarning):
    """A forward simulation of a discovered equation stopped before its last time."""


def default_max_rhs_evals(n_state: int) -> int:
    """Work budget of one simulation: generous for stiff, well-posed equations.

    An implicit solver estimates the Jacobian with ``n_state`` evaluations, so
    the budget grows with the state size; the largest count the test suite's
    and examples' PDE simulations need is about 77 000 (256 points, stiff KS).
    """
    return 50_000 + 2_000 * int(n_state)


def check_output_times(t: Any) -> np.ndarray:
    """``t`` as a non-empty, finite, strictly increasing float64 vector."""
    times = np.asarray(t, dtype=np.float64).ravel()
    if times.size < 1 or not np.all(np.isfinite(times)):
        raise ValueError("t must be a non-empty array of finite times.")
    if np.any(np.diff(times) <= 0):
        raise ValueError("t must be strictly increasing.")
    return times


def check_max_rhs_evals(max_rhs_evals: Any) -> None:
    """``max_rhs_evals`` is ``None`` or a positive int."""
    if max_rhs_evals is not None and (
        isinstance(max_rhs_evals, bool)
        or not isinstance(max_rhs_evals, int | np.integer)
        or max_rhs_evals < 1
    ):
        raise ValueError(
            f"max_rhs_evals must be a positive int or None; got {max_rhs_evals!r}."
        )


def integrate(
    rhs: Any,
    start: np.ndarray,
    times: np.ndarray,
    *,
    method: Any,
    max_rhs_evals: int | None,
    **options: Any,
) -> np.ndarray:
    """Integrate ``du/dt = rhs(t, u)`` and sample it at ``times``.

    Steps a :mod:`scipy.integrate` solver one step at a time and stops, with a
    :class:`SimulationWarning`, when the step fails, the state stops being
    finite, or the right-hand side has been evaluated more than
    ``max_rhs_evals`` times (an equation too stiff or explosive to simulate,
    which would otherwise run for hours). Rows not reached are NaN.

    Returns
    -------
    ndarray of shape (n_times, start.size)
    """
    from scipy import integrate as ivp

    names = ("RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA")
    if isinstance(method, type) and issubclass(method, ivp.OdeSolver):
        solver_class = method
    elif method in names:
        solver_class = getattr(ivp, method)
    else:
        raise ValueError(
            f"method must be one of {names} or an OdeSolver subclass; got {method!r}."
        )
    budget = (
        default_max_rhs_evals(start.size)
        if max_rhs_evals is None
        else int(max_rhs_evals)
    )

    def guarded(t: float, u: np.ndarray) -> np.ndarray:
        # trial states of a blowing-up step may overflow: answer NaN (the step
        # then fails and the loop below stops) instead of evaluating a library
        # that rejects non-finite input
        if not np.all(np.isfinite(u)):
            return np.full_like(u, np.nan)
        return np.asarray(rhs(t, u), dtype=np.float64)

    solver = solver_class(guarded, times[0], start, times[-1], **options)
    out = np.full((times.size, start.size), np.nan)
    out[0] = start
    filled = 1
    reason = None
    with np.errstate(over="ignore", invalid="ignore"):  # checked below
        while filled < times.size:
            message = solver.step()
            if solver.status == "failed":
                reason = f"the solver failed ({message})"
                break
            if not np.all(np.isfinite(solver.y)):
                reason = "the solution stopped being finite (it blows up)"
                break
            upto = int(np.searchsorted(times, solver.t, side="right"))
            if upto > filled:
                out[filled:upto] = solver.dense_output()(times[filled:upto]).T
                filled = upto
            if solver.status == "finished":
                out[filled:] = solver.y
                filled = times.size
                break
            if solver.nfev > budget:
                reason = (
                    f"the right-hand side was evaluated {solver.nfev} times, over the "
                    f"budget max_rhs_evals={budget} (the equation is too stiff or "
                    "explosive to simulate at this scale)"
                )
                break
    if reason is not None:
        warnings.warn(
            f"simulate stopped at t={solver.t:.6g} of {times[-1]:.6g}: {reason}. "
            f"The {times.size - filled} output rows after it are NaN. Check the "
            "discovered equation and the data scale, or pass max_rhs_evals= for a "
            "larger budget.",
            SimulationWarning,
            stacklevel=3,
        )
    return out
