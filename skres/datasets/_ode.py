"""Trajectories of ordinary differential equations (Lorenz system)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.integrate import solve_ivp
from sklearn.utils import check_random_state

from .._validation import check_positive_float, check_positive_int

__all__ = ["make_lorenz"]

#: Names of the degree-2 polynomial library terms, in scikit-learn's
#: ``PolynomialFeatures(degree=2)`` order for inputs ``x0, x1, x2``.
_POLY2_TERMS = [
    "1",
    "x0",
    "x1",
    "x2",
    "x0^2",
    "x0 x1",
    "x0 x2",
    "x1^2",
    "x1 x2",
    "x2^2",
]


def make_lorenz(
    n_samples: int = 4000,
    *,
    dt: float = 0.01,
    x0: Any = (1.0, 1.0, 1.0),
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    noise: float = 0.0,
    return_coef: bool = False,
    random_state: Any = None,
) -> tuple[np.ndarray, ...]:
    """A trajectory of the Lorenz system, optionally with measurement noise.

    Integrates ``x' = sigma (y - x)``, ``y' = x (rho - z) - y``,
    ``z' = x y - beta z`` from ``x0`` with an adaptive Runge-Kutta method at tight
    tolerances (``rtol = atol = 1e-10``) and samples it every ``dt``. The setting of
    the MNN / S-MNN discovery experiments is the default (``sigma, rho, beta = 10,
    28, 8/3``, ``x0 = (1, 1, 1)``, ``dt = 0.01``).

    Parameters
    ----------
    n_samples : int, default=4000
        Number of time points.
    dt : float, default=0.01
        Sampling interval.
    x0 : array-like of shape (3,), default=(1, 1, 1)
        Initial state.
    sigma, rho, beta : float
        Lorenz parameters.
    noise : float, default=0.0
        Gaussian measurement noise, as a fraction of each coordinate's RMS.
    return_coef : bool, default=False
        Also return the true coefficients on the degree-2 polynomial library.
    random_state : int, RandomState instance or None, default=None
        Seed of the measurement noise.

    Returns
    -------
    X : ndarray of shape (n_samples, 3)
        The (noisy) states.
    t : ndarray of shape (n_samples,)
        The time points ``0, dt, 2 dt, ...``.
    coef : ndarray of shape (3, 10)
        Only with ``return_coef``: the true right-hand side on the library terms
        ``1, x0, x1, x2, x0^2, x0 x1, x0 x2, x1^2, x1 x2, x2^2``.

    Examples
    --------
    >>> from skres.datasets import make_lorenz
    >>> X, t = make_lorenz(500, random_state=0)
    >>> X.shape, t.shape
    ((500, 3), (500,))
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    if n_samples < 2:
        raise ValueError(f"n_samples must be >= 2; got {n_samples}.")
    dt = check_positive_float(dt, "dt")
    noise = check_positive_float(noise, "noise", allow_zero=True)
    start = np.asarray(x0, dtype=float)
    if start.shape != (3,) or not np.all(np.isfinite(start)):
        raise ValueError(f"x0 must be 3 finite numbers; got {x0!r}.")
    rng = check_random_state(random_state)

    def rhs(_: float, s: np.ndarray) -> np.ndarray:
        x, y, z = s
        return np.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])

    t = dt * np.arange(n_samples)
    sol = solve_ivp(
        rhs, (0.0, t[-1]), start, t_eval=t, method="RK45", rtol=1e-10, atol=1e-10
    )
    X = sol.y.T.copy()
    if noise > 0:
        rms = np.sqrt(np.mean(X**2, axis=0))
        X = X + noise * rms * rng.standard_normal(X.shape)
    if not return_coef:
        return X, t
    coef = np.zeros((3, len(_POLY2_TERMS)))
    coef[0, 1], coef[0, 2] = -sigma, sigma
    coef[1, 1], coef[1, 2], coef[1, 6] = rho, -1.0, -1.0
    coef[2, 3], coef[2, 5] = -beta, 1.0
    return X, t, coef
