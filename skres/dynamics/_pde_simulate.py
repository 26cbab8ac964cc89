"""Forward simulation of a fitted :class:`PDEDiscoverer` (method of lines)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._validation import check_option
from ._integrate import (
    SimulationWarning,
    check_max_rhs_evals,
    check_output_times,
    integrate,
)
from ._pde_library import _check_coordinate, derivative, max_order

__all__ = ["SimulateMixin", "SimulationWarning"]


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
        check_max_rhs_evals(max_rhs_evals)
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
        times = check_output_times(t)
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
