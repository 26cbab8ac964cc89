"""Gridded solutions of partial differential equations (no downloads).

* :func:`make_burgers`: viscous Burgers ``u_t + u u_x = nu u_xx`` on a periodic
  domain, pseudo-spectral method of lines (the data of PDE-FIND and of the
  Mechanistic PDE Networks Burgers experiment).
* :func:`make_advection_diffusion`: ``u_t + c u_x = nu u_xx`` with an exact sum of
  decaying travelling sine waves.
* :func:`make_reaction_diffusion`: the two-component lambda-omega spiral-wave
  system used in the PySINDy documentation, on a small periodic 2-D grid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp
from sklearn.utils import check_random_state

from .._validation import check_option, check_positive_float, check_positive_int

__all__ = ["make_advection_diffusion", "make_burgers", "make_reaction_diffusion"]


def _add_noise(
    fields: list[np.ndarray], noise: float, random_state: Any
) -> list[np.ndarray]:
    """Add Gaussian noise with standard deviation ``noise`` times each field's RMS."""
    noise = check_positive_float(noise, "noise", allow_zero=True)
    if noise == 0:
        return fields
    rng = check_random_state(random_state)
    out = []
    for field in fields:
        rms = float(np.sqrt(np.mean(field**2)))
        out.append(field + noise * rms * rng.standard_normal(field.shape))
    return out


def _times(n_times: int, dt: float) -> np.ndarray:
    n_times = check_positive_int(n_times, "n_times")
    if n_times < 2:
        raise ValueError(f"n_times must be >= 2; got {n_times}.")
    dt = check_positive_float(dt, "dt")
    return dt * np.arange(n_times, dtype=np.float64)


def make_burgers(
    n_points: int = 256,
    n_times: int = 128,
    *,
    dt: float = 0.025,
    length: float = 20.0,
    nu: float = 0.1,
    initial: str | Callable[[np.ndarray], np.ndarray] = "gaussian",
    amplitude: float = 1.0,
    width: float = 1.0,
    center: float = 0.0,
    noise: float = 0.0,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Viscous Burgers' equation on a periodic domain.

    Solves ``u_t + u u_x = nu u_xx`` on ``x`` in ``[-length/2, length/2)`` with
    periodic boundaries by the pseudo-spectral method of lines: the flux
    ``(u^2/2)_x`` and ``u_xx`` are computed with the FFT (2/3-rule dealiasing of
    the flux), and time is integrated by :func:`scipy.integrate.solve_ivp`
    (``DOP853``, ``rtol=1e-9``, ``atol=1e-11``). The conservative form keeps the
    spatial mean of ``u`` constant to round-off. The defaults reproduce the
    Mechanistic PDE Networks data (``nu = 0.1``, 256 points on a domain of
    length 20, 128 frames ``dt = 0.025`` apart, a bump of height 1).

    Parameters
    ----------
    n_points : int, default=256
        Grid points in ``x`` (at least 8).
    n_times : int, default=128
        Number of time frames, ``dt`` apart, starting at ``t = 0``.
    dt : float, default=0.025
        Time between frames.
    length : float, default=20.0
        Length of the periodic domain.
    nu : float, default=0.1
        Viscosity (``>= 0``; small values need more points).
    initial : {"gaussian", "pdefind"} or callable, default="gaussian"
        Initial condition: ``"gaussian"`` is
        ``amplitude * exp(-(x - center)^2 / (2 width^2))``; ``"pdefind"`` is
        ``exp(-(x + 2)^2)`` as in the PDE-FIND Burgers data; a callable maps the
        grid ``x`` to ``u(0, x)``.
    amplitude, width, center : float
        Shape of the ``"gaussian"`` initial condition.
    noise : float, default=0.0
        Gaussian measurement noise with standard deviation ``noise`` times the
        RMS of the field (e.g. ``0.05`` for 5 % noise).
    random_state : int, RandomState instance or None, default=None
        Seed of the measurement noise.

    Returns
    -------
    u : ndarray of shape (n_times, n_points)
        The field, one row per time frame.
    t : ndarray of shape (n_times,)
        Frame times.
    x : ndarray of shape (n_points,)
        Grid points.

    Examples
    --------
    >>> from skres.datasets import make_burgers
    >>> u, t, x = make_burgers(n_points=64, n_times=20)
    >>> u.shape, round(float(u[0].max()), 3)
    ((20, 64), 1.0)
    """
    n_points = check_positive_int(n_points, "n_points")
    if n_points < 8:
        raise ValueError(f"n_points must be >= 8; got {n_points}.")
    t = _times(n_times, dt)
    length = check_positive_float(length, "length")
    nu = check_positive_float(nu, "nu", allow_zero=True)
    x = -length / 2 + length * np.arange(n_points) / n_points
    if callable(initial):
        u0 = np.asarray(initial(x.copy()), dtype=np.float64)
        if u0.shape != x.shape or not np.all(np.isfinite(u0)):
            raise ValueError(
                f"initial must return {n_points} finite values for the grid x; got "
                f"shape {u0.shape}."
            )
    else:
        check_option(initial, "initial", ("gaussian", "pdefind"))
        if initial == "gaussian":
            width = check_positive_float(width, "width")
            u0 = float(amplitude) * np.exp(-((x - float(center)) ** 2) / (2 * width**2))
        else:
            u0 = np.exp(-((x + 2.0) ** 2))
    k = 2 * np.pi * np.fft.rfftfreq(n_points, d=length / n_points)
    keep = np.abs(k) <= (2.0 / 3.0) * np.abs(k).max()  # 2/3-rule dealiasing

    def rhs(_: float, u: np.ndarray) -> np.ndarray:
        u_hat = np.fft.rfft(u)
        flux_hat = np.fft.rfft(0.5 * u * u) * keep
        return np.fft.irfft(-1j * k * flux_hat - nu * k**2 * u_hat, n=n_points)

    sol = solve_ivp(
        rhs,
        (t[0], t[-1]),
        u0,
        t_eval=t,
        method="DOP853",
        rtol=1e-9,
        atol=1e-11,
    )
    if not sol.success or sol.y.shape[1] != t.size:  # pragma: no cover - defensive
        raise RuntimeError(f"Burgers integration failed: {sol.message}")
    (u,) = _add_noise([np.ascontiguousarray(sol.y.T)], noise, random_state)
    return u, t, x


def make_advection_diffusion(
    n_points: int = 64,
    n_times: int = 41,
    *,
    dt: float = 0.025,
    length: float = 2 * np.pi,
    velocity: float = 1.0,
    nu: float = 0.1,
    wavenumbers: Any = (1, 3),
    amplitudes: Any = (1.0, 0.5),
    noise: float = 0.0,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Callable[..., np.ndarray]]:
    """Exact solution of the advection-diffusion equation.

    ``u_t + velocity u_x = nu u_xx`` is solved exactly by
    ``u(t, x) = sum_j a_j exp(-nu k_j^2 t) sin(k_j (x - velocity t))`` with
    ``k_j = 2 pi n_j / length`` for the integer ``wavenumbers`` ``n_j``. The grid
    includes both ends of ``[0, length]``, as needed for Dirichlet boundary data.
    With a single wave ``u_xx = -k^2 u``, so use two or more wavenumbers when
    ``u`` itself is a candidate term of a discovery library.

    Parameters
    ----------
    n_points : int, default=64
        Grid points in ``x`` (at least 2).
    n_times : int, default=41
        Number of time frames, ``dt`` apart, starting at ``t = 0``.
    dt : float, default=0.025
        Time between frames.
    length : float, default=2*pi
        Domain length.
    velocity : float, default=1.0
        Advection speed.
    nu : float, default=0.1
        Diffusivity (``>= 0``).
    wavenumbers : sequence of int, default=(1, 3)
        Integer wave numbers ``n_j`` of the sine modes.
    amplitudes : sequence of float, default=(1.0, 0.5)
        Amplitudes ``a_j`` (same length as ``wavenumbers``).
    noise : float, default=0.0
        Gaussian noise, as a fraction of the field's RMS.
    random_state : int, RandomState instance or None, default=None
        Seed of the noise.

    Returns
    -------
    u : ndarray of shape (n_times, n_points)
        The (noisy) field.
    t : ndarray of shape (n_times,)
        Frame times.
    x : ndarray of shape (n_points,)
        Grid points, ``linspace(0, length, n_points)``.
    exact : callable
        ``exact(t, x)`` evaluates the noise-free solution with numpy
        broadcasting.

    Examples
    --------
    >>> import numpy as np
    >>> from skres.datasets import make_advection_diffusion
    >>> u, t, x, exact = make_advection_diffusion(n_points=16, n_times=5)
    >>> bool(np.allclose(u, exact(t[:, None], x[None, :])))
    True
    """
    n_points = check_positive_int(n_points, "n_points")
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2; got {n_points}.")
    t = _times(n_times, dt)
    length = check_positive_float(length, "length")
    nu = check_positive_float(nu, "nu", allow_zero=True)
    velocity = float(velocity)
    if not np.isfinite(velocity):
        raise ValueError(f"velocity must be finite; got {velocity}.")
    ns = np.atleast_1d(np.asarray(wavenumbers))
    amps = np.atleast_1d(np.asarray(amplitudes, dtype=np.float64))
    if ns.ndim != 1 or ns.size == 0 or amps.shape != ns.shape:
        raise ValueError(
            "wavenumbers and amplitudes must be non-empty 1-D sequences of the same "
            f"length; got {ns.shape} and {amps.shape}."
        )
    if not np.all(np.isfinite(amps)):
        raise ValueError("amplitudes must be finite.")
    ks = 2 * np.pi * ns.astype(np.float64) / length
    x = np.linspace(0.0, length, n_points)

    def exact(t: Any, x: Any) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)[..., None]
        x = np.asarray(x, dtype=np.float64)[..., None]
        modes = amps * np.exp(-nu * ks**2 * t) * np.sin(ks * (x - velocity * t))
        return np.sum(modes, axis=-1)

    u = exact(t[:, None], x[None, :])
    (u,) = _add_noise([u], noise, random_state)
    return u, t, x, exact


def make_reaction_diffusion(
    n_points: int = 32,
    n_times: int = 51,
    *,
    dt: float = 0.05,
    length: float = 20.0,
    diffusion: float = 0.1,
    beta: float = 1.0,
    noise: float = 0.0,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The lambda-omega reaction-diffusion system (spiral waves), in 2-D.

    Solves, on a periodic square ``[-length/2, length/2)^2``,

    ``u_t = d (u_xx + u_yy) + (1 - A^2) u + beta A^2 v``,
    ``v_t = d (v_xx + v_yy) - beta A^2 u + (1 - A^2) v``, ``A^2 = u^2 + v^2``,

    from the single-armed spiral ``u + i v = tanh(r) exp(i (theta - r))`` (the
    example of the PySINDy documentation), with spectral Laplacians and
    :func:`scipy.integrate.solve_ivp` (``RK45``, ``rtol=1e-8``).

    Parameters
    ----------
    n_points : int, default=32
        Grid points per side (at least 8).
    n_times : int, default=51
        Number of time frames.
    dt : float, default=0.05
        Time between frames.
    length : float, default=20.0
        Side of the periodic square.
    diffusion : float, default=0.1
        Diffusion coefficient ``d``.
    beta : float, default=1.0
        Rotation coefficient.
    noise : float, default=0.0
        Gaussian noise, as a fraction of each field's RMS.
    random_state : int, RandomState instance or None, default=None
        Seed of the noise.

    Returns
    -------
    u : ndarray of shape (n_times, n_points, n_points)
        First component, indexed ``[t, x, y]``.
    v : ndarray of shape (n_times, n_points, n_points)
        Second component.
    t : ndarray of shape (n_times,)
        Frame times.
    x : ndarray of shape (n_points,)
        Grid points along the first spatial axis.
    y : ndarray of shape (n_points,)
        Grid points along the second spatial axis.

    Examples
    --------
    >>> from skres.datasets import make_reaction_diffusion
    >>> u, v, t, x, y = make_reaction_diffusion(n_points=16, n_times=5)
    >>> u.shape, v.shape
    ((5, 16, 16), (5, 16, 16))
    """
    n_points = check_positive_int(n_points, "n_points")
    if n_points < 8:
        raise ValueError(f"n_points must be >= 8; got {n_points}.")
    t = _times(n_times, dt)
    length = check_positive_float(length, "length")
    diffusion = check_positive_float(diffusion, "diffusion", allow_zero=True)
    beta = float(beta)
    if not np.isfinite(beta):
        raise ValueError(f"beta must be finite; got {beta}.")
    x = -length / 2 + length * np.arange(n_points) / n_points
    y = x.copy()
    X, Y = np.meshgrid(x, y, indexing="ij")
    r = np.sqrt(X**2 + Y**2)
    theta = np.angle(X + 1j * Y)
    u0 = np.tanh(r) * np.cos(theta - r)
    v0 = np.tanh(r) * np.sin(theta - r)
    k = 2 * np.pi * np.fft.fftfreq(n_points, d=length / n_points)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    shape = (n_points, n_points)
    size = n_points * n_points

    def lap(f: np.ndarray) -> np.ndarray:
        return np.real(np.fft.ifft2(-k2 * np.fft.fft2(f)))

    def rhs(_: float, state: np.ndarray) -> np.ndarray:
        u = state[:size].reshape(shape)
        v = state[size:].reshape(shape)
        a2 = u * u + v * v
        du = diffusion * lap(u) + (1 - a2) * u + beta * a2 * v
        dv = diffusion * lap(v) - beta * a2 * u + (1 - a2) * v
        return np.concatenate([du.ravel(), dv.ravel()])

    sol = solve_ivp(
        rhs,
        (t[0], t[-1]),
        np.concatenate([u0.ravel(), v0.ravel()]),
        t_eval=t,
        method="RK45",
        rtol=1e-8,
        atol=1e-10,
    )
    if not sol.success or sol.y.shape[1] != t.size:  # pragma: no cover - defensive
        raise RuntimeError(f"reaction-diffusion integration failed: {sol.message}")
    states = sol.y.T
    u = np.ascontiguousarray(states[:, :size].reshape((t.size, *shape)))
    v = np.ascontiguousarray(states[:, size:].reshape((t.size, *shape)))
    u, v = _add_noise([u, v], noise, random_state)
    return u, v, t, x, y
