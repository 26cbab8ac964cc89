"""1-D evolution PDEs on periodic domains by an exponential time-differencing
Runge-Kutta scheme (ETDRK4, Cox & Matthews 2002; coefficients by the contour
averages of Kassam & Trefethen 2005), written from the equations.

* :func:`make_kdv`: Korteweg-de Vries ``u_t = -6 u u_x - u_xxx`` (two solitons).
* :func:`make_kuramoto_sivashinsky`: ``u_t = -u u_x - u_xx - u_xxxx``.
* :func:`make_fisher_kpp`: ``u_t = D u_xx + r u - r u^2``.
* :func:`make_heat_source`: ``u_t = D u_xx - a u + s``.
* :func:`make_navier_stokes_vorticity`: 2-D vorticity ``w_t = -u w_x - v w_y + nu
  (w_xx + w_yy)`` (pseudo-spectral right-hand side, ``solve_ivp``).

Each splits ``u_t = L u + N(u)`` with ``L`` diagonal in Fourier space (the
derivative terms) and ``N`` evaluated on the grid (2/3-rule dealiasing of products).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import check_positive_float, check_positive_int
from ._pde import _add_noise, _times

__all__ = [
    "make_fisher_kpp",
    "make_heat_source",
    "make_kdv",
    "make_kuramoto_sivashinsky",
    "make_navier_stokes_vorticity",
]


def _etdrk4(
    linear: np.ndarray,
    nonlinear: Callable[[np.ndarray], np.ndarray],
    u0: np.ndarray,
    t: np.ndarray,
    substeps: int,
) -> np.ndarray:
    """Integrate ``v_t = linear * v + nonlinear(v)`` in Fourier space (rfft)."""
    n = u0.size
    h = float(t[1] - t[0]) / substeps
    L = linear.astype(complex)
    E, E2 = np.exp(h * L), np.exp(h * L / 2)
    roots = np.exp(2j * np.pi * (np.arange(1, 33) - 0.5) / 32)  # full circle
    LR = h * L[:, None] + roots[None, :]
    Q = h * np.mean((np.exp(LR / 2) - 1) / LR, axis=1)
    f1 = h * np.mean((-4 - LR + np.exp(LR) * (4 - 3 * LR + LR**2)) / LR**3, axis=1)
    f2 = h * np.mean((2 + LR + np.exp(LR) * (LR - 2)) / LR**3, axis=1)
    f3 = h * np.mean((-4 - 3 * LR - LR**2 + np.exp(LR) * (4 - LR)) / LR**3, axis=1)
    v = np.fft.rfft(u0)
    out = np.empty((t.size, n))
    out[0] = u0
    for i in range(1, t.size):
        for _ in range(substeps):
            Nv = nonlinear(v)
            a = E2 * v + Q * Nv
            Na = nonlinear(a)
            b = E2 * v + Q * Na
            Nb = nonlinear(b)
            c = E2 * a + Q * (2 * Nb - Nv)
            Nc = nonlinear(c)
            v = E * v + Nv * f1 + 2 * (Na + Nb) * f2 + Nc * f3
        out[i] = np.fft.irfft(v, n=n)
    if not np.all(np.isfinite(out)):  # pragma: no cover - defensive
        raise RuntimeError("the spectral integration diverged; use a smaller dt.")
    return out


def _grid(n_points: int, length: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_points = check_positive_int(n_points, "n_points")
    if n_points < 8:
        raise ValueError(f"n_points must be >= 8; got {n_points}.")
    length = check_positive_float(length, "length")
    x = -length / 2 + length * np.arange(n_points) / n_points
    k = 2 * np.pi * np.fft.rfftfreq(n_points, d=length / n_points)
    keep = np.abs(k) <= (2.0 / 3.0) * np.abs(k).max()
    return x, k, keep


def _finish(u: np.ndarray, noise: float, random_state: Any) -> np.ndarray:
    (out,) = _add_noise([np.ascontiguousarray(u)], noise, random_state)
    return out


_DOC_RETURNS = """
    Returns
    -------
    u : ndarray of shape (n_times, n_points)
        The field, one row per frame (plus ``noise`` times its RMS of Gaussian
        noise, seeded by ``random_state``).
    t : ndarray of shape (n_times,)
    x : ndarray of shape (n_points,)
"""


def make_kdv(
    n_points: int = 256,
    n_times: int = 101,
    *,
    dt: float = 0.02,
    length: float = 40.0,
    speeds: tuple[float, float] = (4.0, 1.0),
    noise: float = 0.0,
    random_state: Any = None,
    substeps: int = 20,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Korteweg-de Vries ``u_t = -6 u u_x - u_xxx``: two colliding solitons.

    The initial field is the sum of solitons ``c/2 sech^2(sqrt(c)/2 (x - x0))`` with
    speeds ``c`` in ``speeds`` at ``x0 = -length/4`` and ``0``.

    Parameters
    ----------
    n_points, n_times, dt, length : grid (periodic domain ``[-length/2, length/2)``)
    speeds : pair of float
        Soliton speeds (amplitudes ``c / 2``).
    noise : float, default=0.0
        Noise level relative to the field's RMS.
    random_state : int, RandomState instance or None
    substeps : int, default=20
        ETDRK4 steps per frame.
    """
    x, k, keep = _grid(n_points, length)
    t = _times(n_times, dt)
    u0 = np.zeros_like(x)
    for c, x0 in zip(speeds, (-length / 4, 0.0), strict=False):
        c = check_positive_float(c, "speeds")
        u0 += c / 2 / np.cosh(np.sqrt(c) / 2 * (x - x0)) ** 2

    def nonlinear(v: np.ndarray) -> np.ndarray:
        u = np.fft.irfft(v, n=n_points)
        return -3j * k * np.fft.rfft(u * u) * keep

    u = _etdrk4(1j * k**3, nonlinear, u0, t, substeps)
    return _finish(u, noise, random_state), t, x


def make_kuramoto_sivashinsky(
    n_points: int = 256,
    n_times: int = 101,
    *,
    dt: float = 0.5,
    length: float = 32 * np.pi,
    t_start: float = 50.0,
    noise: float = 0.0,
    random_state: Any = None,
    substeps: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kuramoto-Sivashinsky ``u_t = -u u_x - u_xx - u_xxxx`` (chaotic cells).

    Starts from ``cos(x/16) (1 + sin(x/16))`` and records ``n_times`` frames after
    a transient of ``t_start`` (``t`` restarts at 0). The chaotic state on the
    default domain needs about 256 points: with 128 the frames solve the
    dealiased (Galerkin-truncated) system but miss the PDE by about 37 %.
    """
    x, k, keep = _grid(n_points, length)
    t = _times(n_times, dt)
    u0 = np.cos(x / 16) * (1 + np.sin(x / 16))

    def nonlinear(v: np.ndarray) -> np.ndarray:
        u = np.fft.irfft(v, n=n_points)
        return -0.5j * k * np.fft.rfft(u * u) * keep

    linear = k**2 - k**4
    t_start = check_positive_float(t_start, "t_start", allow_zero=True)
    if t_start > 0:
        n_pre = max(1, int(round(t_start / dt)))
        u0 = _etdrk4(linear, nonlinear, u0, dt * np.arange(n_pre + 1), substeps)[-1]
    u = _etdrk4(linear, nonlinear, u0, t, substeps)
    return _finish(u, noise, random_state), t, x


def make_fisher_kpp(
    n_points: int = 256,
    n_times: int = 101,
    *,
    dt: float = 0.05,
    length: float = 20.0,
    diffusion: float = 0.1,
    rate: float = 1.0,
    noise: float = 0.0,
    random_state: Any = None,
    substeps: int = 4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fisher-KPP ``u_t = diffusion u_xx + rate u (1 - u)``: two invading fronts.

    Starts from a few seeded bumps ``0.8 exp(-(x - x_i)^2)`` on a low background.
    """
    x, k, keep = _grid(n_points, length)
    t = _times(n_times, dt)
    u0 = 0.05 + 0.8 * np.exp(-((x + length / 4) ** 2)) + 0.5 * np.exp(-((x - 2) ** 2))
    r = float(rate)

    def nonlinear(v: np.ndarray) -> np.ndarray:
        u = np.fft.irfft(v, n=n_points)
        return r * np.fft.rfft(u - u * u) * keep

    u = _etdrk4(-float(diffusion) * k**2, nonlinear, u0, t, substeps)
    return _finish(u, noise, random_state), t, x


def make_heat_source(
    n_points: int = 256,
    n_times: int = 101,
    *,
    dt: float = 0.05,
    length: float = 20.0,
    diffusion: float = 0.2,
    decay: float = 0.5,
    source: float = 0.3,
    noise: float = 0.0,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heat equation with decay and a source, ``u_t = D u_xx - a u + s`` (exact).

    The initial field is a sum of sines with seeded amplitudes on top of ``1``;
    each Fourier mode relaxes exactly toward ``s / a``.
    """
    x, k, _ = _grid(n_points, length)
    t = _times(n_times, dt)
    rng = np.random.default_rng(12345)
    u0 = 1.0 + sum(
        rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * m * (x / length) + rng.uniform(0, 6))
        for m in (1, 2, 3, 5)
    )
    D, a, s = float(diffusion), float(decay), float(source)
    rate = -D * k**2 - a  # (n_k,)
    v0 = np.fft.rfft(u0)
    steady = np.zeros_like(v0)
    steady[0] = s / a * n_points
    v = steady[None, :] + (v0 - steady)[None, :] * np.exp(rate[None, :] * t[:, None])
    u = np.fft.irfft(v, n=n_points, axis=1)
    return _finish(u, noise, random_state), t, x


for _f in (make_kdv, make_kuramoto_sivashinsky, make_fisher_kpp, make_heat_source):
    _f.__doc__ = (_f.__doc__ or "") + _DOC_RETURNS


def make_navier_stokes_vorticity(
    n_points: int = 64,
    n_times: int = 41,
    *,
    dt: float = 0.1,
    length: float = 2 * np.pi,
    nu: float = 0.05,
    n_vortices: int = 6,
    noise: float = 0.0,
    random_state: Any = None,
) -> tuple[np.ndarray, ...]:
    """2-D incompressible Navier-Stokes in vorticity form on a periodic square.

    ``w_t = -u w_x - v w_y + nu (w_xx + w_yy)`` with the velocity from the stream
    function, ``psi_xx + psi_yy = -w``, ``u = psi_y``, ``v = -psi_x``. The
    initial vorticity is a sum of ``n_vortices`` Gaussian vortices of alternating
    sign (positions and widths from a fixed seed); the right-hand side is
    pseudo-spectral (2/3-rule dealiasing) and time is integrated by
    :func:`scipy.integrate.solve_ivp` (``RK45``, ``rtol=1e-8``).

    Parameters
    ----------
    n_points, n_times, dt, length : grid (``n_points`` per side)
    nu : float, default=0.05
        Viscosity.
    n_vortices : int, default=6
    noise : float, default=0.0
        Noise level relative to each field's RMS (``w``, ``u`` and ``v``).
    random_state : int, RandomState instance or None
        Seed of the noise.

    Returns
    -------
    w, u, v : ndarray of shape (n_times, n_points, n_points)
        Vorticity and velocity components, indexed ``[t, x, y]``.
    t : ndarray of shape (n_times,)
    x, y : ndarray of shape (n_points,)
    """
    from scipy.integrate import solve_ivp

    n_points = check_positive_int(n_points, "n_points")
    if n_points < 8:
        raise ValueError(f"n_points must be >= 8; got {n_points}.")
    t = _times(n_times, dt)
    length = check_positive_float(length, "length")
    nu = check_positive_float(nu, "nu", allow_zero=True)
    x = length * np.arange(n_points) / n_points
    X, Y = np.meshgrid(x, x, indexing="ij")
    rng = np.random.default_rng(2024)
    w0 = np.zeros_like(X)
    for i in range(check_positive_int(n_vortices, "n_vortices")):
        cx, cy = rng.uniform(0, length, 2)
        width = rng.uniform(0.08, 0.15) * length
        dx = (X - cx + length / 2) % length - length / 2
        dy = (Y - cy + length / 2) % length - length / 2
        w0 += (-1) ** i * 3.0 * np.exp(-(dx**2 + dy**2) / (2 * width**2))
    w0 -= w0.mean()
    k = 2 * np.pi * np.fft.fftfreq(n_points, d=length / n_points)
    kx, ky = np.meshgrid(k, k, indexing="ij")
    k2 = kx**2 + ky**2
    inv = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
    keep = (np.abs(kx) <= (2 / 3) * np.abs(k).max()) & (
        np.abs(ky) <= (2 / 3) * np.abs(k).max()
    )
    shape = (n_points, n_points)

    def velocity(w_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        psi_hat = w_hat * inv  # -k^2 psi = -w
        u = np.real(np.fft.ifft2(1j * ky * psi_hat))
        v = np.real(np.fft.ifft2(-1j * kx * psi_hat))
        return u, v

    def rhs(_: float, state: np.ndarray) -> np.ndarray:
        w_hat = np.fft.fft2(state.reshape(shape))
        u, v = velocity(w_hat)
        w_x = np.real(np.fft.ifft2(1j * kx * w_hat))
        w_y = np.real(np.fft.ifft2(1j * ky * w_hat))
        adv = np.fft.fft2(u * w_x + v * w_y) * keep
        return np.real(np.fft.ifft2(-adv - nu * k2 * w_hat)).ravel()

    sol = solve_ivp(rhs, (t[0], t[-1]), w0.ravel(), t_eval=t, rtol=1e-8, atol=1e-10)
    if not sol.success or sol.y.shape[1] != t.size:  # pragma: no cover - defensive
        raise RuntimeError(f"Navier-Stokes integration failed: {sol.message}")
    w = sol.y.T.reshape((t.size,) + shape)
    uv = [velocity(np.fft.fft2(wi)) for wi in w]
    u = np.stack([a for a, _ in uv])
    v = np.stack([b for _, b in uv])
    w, u, v = _add_noise([w, u, v], noise, random_state)
    return w, u, v, t, x, x.copy()
