"""Forward simulation of a fitted :class:`PDEDiscoverer` (method of lines)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._validation import check_option
from ._pde_library import _check_coordinate, derivative, max_order


class SimulationWarning(RuntimeWarning):
    """A forward simulation of a discovered PDE stopped before its last time."""


def default_max_rhs_evals(n_state: int) -> int:
    """Work budget of one simulation: generous for stiff, well-posed equations.

    An implicit solver estimates the Jacobian with ``n_state`` evaluations, so
    the budget grows with the state size; the largest count the test suite's
    and examples' simulations need is about 77 000 (256 points, stiff KS).
    """
    return 50_000 + 2_000 * int(n_state)


def integrate(
    rhs: Any,
    start: np.ndarray,
    times: np.ndarray,
    *,
    method: str,
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
    import warnings

    from scipy.integrate import LSODA, RK45

    solvers = {"LSODA": LSODA, "RK45": RK45}
    if method not in solvers:
        from scipy.integrate import solve_ivp

        sol = solve_ivp(
            rhs, (times[0], times[-1]), start, t_eval=times, method=method, **options
        )
        out = np.full((times.size, start.size), np.nan)
        out[: sol.y.shape[1]] = sol.y.T
        return out
    budget = (
        default_max_rhs_evals(start.size)
        if max_rhs_evals is None
        else int(max_rhs_evals)
    )
    solver = solvers[method](rhs, times[0], start, times[-1], **options)
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


class SimulateMixin:
    """``simulate`` for one field on a 1-D grid."""

    def simulate(
        self,
        u0: Any,
        t: Any,
        x: Any = None,
        *,
        bc: str = "periodic",
        max_rhs_evals: int | None = None,
        **solve_ivp_kwargs: Any,
    ) -> np.ndarray:
        """Integrate the discovered PDE by the method of lines.

        Parameters
        ----------
        u0 : array-like of shape (n_points,) or (n_x[, n_y], n_fields)
            Initial field at ``t[0]`` (all fields for a several-field model,
            which is integrated on periodic uniform grids with spectral
            derivatives and ``RK45``; ``bc`` and ``solve_ivp_kwargs`` are then
            ignored; a field whose equation is empty stays constant).
        t : array-like of shape (n_times,)
            Strictly increasing output times.
        x : array-like of shape (n_points,) or pair of arrays, optional
            Grid; defaults to the fitted ``x_`` (then ``u0`` must match it).
        bc : {"periodic", "dirichlet"}, default="periodic"
            ``"periodic"``: uniform grid of a periodic domain of length
            ``n_points * dx``, spectral derivatives. ``"dirichlet"``: the end
            values of ``u0`` are held fixed, second-order finite differences.
        max_rhs_evals : int, optional
            Work budget: the integration stops, with a
            :class:`SimulationWarning`, after this many evaluations of the
            right-hand side. Default ``50_000 + 2_000 * state size``, far above
            what well-posed equations need; an equation that exhausts it is too
            stiff or explosive to simulate at this data scale.
        **solve_ivp_kwargs
            Solver options as for :func:`scipy.integrate.solve_ivp` (defaults
            ``method="LSODA"``, ``rtol=1e-8``, ``atol=1e-10``).

        Returns
        -------
        ndarray of shape (n_times, n_points) or (n_times, n_x[, n_y], n_fields)
            The simulated field; rows after a failed or stopped integration
            are NaN (with a :class:`SimulationWarning`).

        Examples
        --------
        >>> import numpy as np
        >>> from skres.datasets import make_burgers
        >>> from skres.dynamics import PDEDiscoverer
        >>> u, t, x = make_burgers(n_points=128, n_times=64, dt=0.05)
        >>> model = PDEDiscoverer(
        ...     terms={"u_x": [1], "u_xx": [0]}, n_windows=4, random_state=0
        ... ).fit(u, t=t, x=x)
        >>> path = model.simulate(u[0], t)
        >>> bool(np.abs(path - u).max() < 0.05)
        True
        """
        if max_rhs_evals is not None and (
            isinstance(max_rhs_evals, bool)
            or not isinstance(max_rhs_evals, int | np.integer)
            or max_rhs_evals < 1
        ):
            raise ValueError(
                f"max_rhs_evals must be a positive int or None; got {max_rhs_evals!r}."
            )
        est: Any = self
        check_is_fitted(est)
        if np.ndim(est.coef_) == 2:
            return np.asarray(est._simulate_fields(u0, t, x, max_rhs_evals))
        check_option(bc, "bc", ("periodic", "dirichlet"))
        start = np.asarray(u0, dtype=np.float64).ravel()
        if start.size < 3 or not np.all(np.isfinite(start)):
            raise ValueError(
                f"u0 must hold at least 3 finite values; got shape {start.shape}."
            )
        n = start.size
        grid = est.x_ if x is None else x
        grid = _check_coordinate(grid, "x", n)
        times = np.asarray(t, dtype=np.float64).ravel()
        if times.size < 1 or not np.all(np.isfinite(times)):
            raise ValueError("t must be a non-empty array of finite times.")
        if np.any(np.diff(times) <= 0):
            raise ValueError("t must be strictly increasing.")
        if times.size == 1:
            return start[None, :].copy()
        if bc == "periodic":
            dx = np.diff(grid)
            if not np.allclose(dx, dx[0], rtol=1e-8, atol=0.0):
                raise ValueError("bc='periodic' needs a uniform grid x.")
            k = 2 * np.pi * np.fft.rfftfreq(n, d=dx[0])
            orders = range(1, max_order(est.library_) + 1)

            def rhs(_: float, u: np.ndarray) -> np.ndarray:
                u_hat = np.fft.rfft(u)
                derivs = {m: np.fft.irfft((1j * k) ** m * u_hat, n=n) for m in orders}
                return est._rhs(u, derivs)

        else:

            def rhs(_: float, u: np.ndarray) -> np.ndarray:
                derivs = {
                    m: derivative(u, grid, 0, m)
                    for m in range(1, max_order(est.library_) + 1)
                }
                du = est._rhs(u, derivs)
                du[[0, -1]] = 0.0
                return du

        kwargs: dict[str, Any] = {"method": "LSODA", "rtol": 1e-8, "atol": 1e-10}
        kwargs.update(solve_ivp_kwargs)
        return integrate(rhs, start, times, max_rhs_evals=max_rhs_evals, **kwargs)
