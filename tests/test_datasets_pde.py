"""Tests of the PDE data generators (Burgers, advection-diffusion, lambda-omega)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skres.datasets import (
    make_advection_diffusion,
    make_burgers,
    make_reaction_diffusion,
)


def test_burgers_shapes_grid_and_initial_condition():
    u, t, x = make_burgers(n_points=64, n_times=10, dt=0.05, length=16.0)
    assert u.shape == (10, 64) and t.shape == (10,) and x.shape == (64,)
    np.testing.assert_allclose(np.diff(t), 0.05)
    np.testing.assert_allclose(np.diff(x), 16.0 / 64)
    assert x[0] == -8.0
    np.testing.assert_allclose(u[0], np.exp(-(x**2) / 2))


def test_burgers_pdefind_initial_condition():
    u, _, x = make_burgers(n_points=64, n_times=3, initial="pdefind", length=16.0)
    np.testing.assert_allclose(u[0], np.exp(-((x + 2) ** 2)))


def test_burgers_conserves_mean_and_decays_energy():
    u, _, _ = make_burgers(n_points=128, n_times=60, dt=0.05)
    means = u.mean(axis=1)
    np.testing.assert_allclose(means, means[0], atol=1e-10)
    energy = (u**2).sum(axis=1)
    assert np.all(np.diff(energy) < 0)  # viscous dissipation
    # The bump steepens to the right: its maximum moves right.
    assert np.argmax(u[-1]) > np.argmax(u[0])


def test_burgers_matches_a_finer_run():
    u, _, _ = make_burgers(n_points=256, n_times=40, dt=0.05)
    fine, _, _ = make_burgers(n_points=512, n_times=40, dt=0.05)
    assert np.max(np.abs(fine[:, ::2] - u)) < 1e-6  # measured 9e-8


def test_burgers_satisfies_the_pde_in_finite_differences():
    u, t, x = make_burgers(n_points=256, n_times=81, dt=0.0125, nu=0.05)
    dt, dx = t[1] - t[0], x[1] - x[0]
    u_t = (u[2:, 1:-1] - u[:-2, 1:-1]) / (2 * dt)
    um = u[1:-1]
    u_x = (um[:, 2:] - um[:, :-2]) / (2 * dx)
    u_xx = (um[:, 2:] - 2 * um[:, 1:-1] + um[:, :-2]) / dx**2
    resid = u_t + um[:, 1:-1] * u_x - 0.05 * u_xx
    assert np.max(np.abs(resid)) < 2e-2 * np.max(np.abs(u_t))  # FD error 1 %


def test_burgers_callable_initial_and_noise():
    u0 = lambda x: np.sin(2 * np.pi * x / 20.0)  # noqa: E731
    clean, _, _ = make_burgers(n_points=32, n_times=5, initial=u0)
    noisy, _, _ = make_burgers(
        n_points=32, n_times=5, initial=u0, noise=0.1, random_state=0
    )
    again, _, _ = make_burgers(
        n_points=32, n_times=5, initial=u0, noise=0.1, random_state=0
    )
    np.testing.assert_array_equal(noisy, again)
    rel = np.std(noisy - clean) / np.sqrt(np.mean(clean**2))
    assert 0.07 < rel < 0.13


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_points": 4}, "n_points"),
        ({"n_times": 1}, "n_times"),
        ({"dt": 0.0}, "dt"),
        ({"nu": -1.0}, "nu"),
        ({"initial": "square"}, "initial"),
        ({"initial": lambda x: x[:3]}, "initial"),
        ({"noise": -0.1}, "noise"),
        ({"width": 0.0}, "width"),
    ],
)
def test_burgers_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_burgers(**{"n_points": 16, "n_times": 3, **kwargs})


def test_advection_diffusion_is_exact():
    u, t, x, exact = make_advection_diffusion(n_points=33, n_times=9, nu=0.2)
    assert x[0] == 0.0 and np.isclose(x[-1], 2 * np.pi)
    np.testing.assert_allclose(u, exact(t[:, None], x[None, :]), atol=1e-14)
    # It solves u_t + u_x = 0.2 u_xx (checked with complex-step-free finite
    # differences of the exact function).
    tt, xx, h = 0.3, np.linspace(0.5, 5.5, 7), 1e-4
    u_t = (exact(tt + h, xx) - exact(tt - h, xx)) / (2 * h)
    u_x = (exact(tt, xx + h) - exact(tt, xx - h)) / (2 * h)
    u_xx = (exact(tt, xx + h) - 2 * exact(tt, xx) + exact(tt, xx - h)) / h**2
    np.testing.assert_allclose(u_t + u_x, 0.2 * u_xx, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(
    velocity=st.floats(-2, 2),
    nu=st.floats(0, 0.5),
    k=st.integers(1, 4),
    t=st.floats(0, 2),
)
def test_advection_diffusion_single_mode_property(velocity, nu, k, t):
    _, _, _, exact = make_advection_diffusion(
        velocity=velocity, nu=nu, wavenumbers=[k], amplitudes=[1.0], n_times=2
    )
    xs = np.linspace(0, 2 * np.pi, 11)
    expected = np.exp(-nu * k**2 * t) * np.sin(k * (xs - velocity * t))
    np.testing.assert_allclose(exact(t, xs), expected, atol=1e-12)


def test_advection_diffusion_bad_input():
    with pytest.raises(ValueError, match="wavenumbers"):
        make_advection_diffusion(wavenumbers=[1, 2], amplitudes=[1.0])
    with pytest.raises(ValueError, match="velocity"):
        make_advection_diffusion(velocity=np.inf)
    with pytest.raises(ValueError, match="n_points"):
        make_advection_diffusion(n_points=1)


def test_reaction_diffusion_spiral():
    u, v, t, x, y = make_reaction_diffusion(n_points=16, n_times=11, dt=0.1)
    assert u.shape == v.shape == (11, 16, 16)
    X, Y = np.meshgrid(x, y, indexing="ij")
    r = np.hypot(X, Y)
    np.testing.assert_allclose(u[0] ** 2 + v[0] ** 2, np.tanh(r) ** 2, atol=1e-12)
    far = r > 5
    # The spiral rotates: the phase at a far point changes by about
    # -beta * A^2 * T (= -1 rad) over the run.
    i, j = np.argwhere(far)[0]
    phase = np.unwrap(np.angle(u[:, i, j] + 1j * v[:, i, j]))
    assert -1.3 < phase[-1] - phase[0] < -0.5


def test_reaction_diffusion_satisfies_the_system():
    u, v, t, x, _ = make_reaction_diffusion(n_points=16, n_times=3, dt=1e-3)
    k = 2 * np.pi * np.fft.fftfreq(16, d=x[1] - x[0])
    k2 = k[:, None] ** 2 + k[None, :] ** 2

    def lap(f):
        return np.real(np.fft.ifft2(-k2 * np.fft.fft2(f)))

    um, vm = u[1], v[1]
    a2 = um**2 + vm**2
    u_t = (u[2] - u[0]) / (2e-3)
    v_t = (v[2] - v[0]) / (2e-3)
    np.testing.assert_allclose(u_t, 0.1 * lap(um) + (1 - a2) * um + a2 * vm, atol=1e-5)
    np.testing.assert_allclose(v_t, 0.1 * lap(vm) - a2 * um + (1 - a2) * vm, atol=1e-5)


def test_reaction_diffusion_bad_input_and_noise():
    with pytest.raises(ValueError, match="n_points"):
        make_reaction_diffusion(n_points=4)
    with pytest.raises(ValueError, match="beta"):
        make_reaction_diffusion(n_points=8, n_times=2, beta=np.nan)
    a = make_reaction_diffusion(n_points=8, n_times=3, noise=0.05, random_state=1)
    b = make_reaction_diffusion(n_points=8, n_times=3, noise=0.05, random_state=1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


# ------------------------------------------- spectral generators (issue 21)
from skres.datasets import (  # noqa: E402
    make_fisher_kpp,
    make_heat_source,
    make_kdv,
    make_kuramoto_sivashinsky,
    make_navier_stokes_vorticity,
)


def _spectral_dx(u, x, k):
    kk = 2j * np.pi * np.fft.rfftfreq(u.shape[-1], d=x[1] - x[0])
    return np.fft.irfft(kk**k * np.fft.rfft(u, axis=-1), n=u.shape[-1], axis=-1)


@pytest.mark.parametrize(
    ("gen", "rhs"),
    [
        (make_kdv, lambda u, x: -6 * u * _spectral_dx(u, x, 1) - _spectral_dx(u, x, 3)),
        (
            make_kuramoto_sivashinsky,
            lambda u, x: (
                -u * _spectral_dx(u, x, 1)
                - _spectral_dx(u, x, 2)
                - _spectral_dx(u, x, 4)
            ),
        ),
        (make_fisher_kpp, lambda u, x: 0.1 * _spectral_dx(u, x, 2) + u - u**2),
        (make_heat_source, lambda u, x: 0.2 * _spectral_dx(u, x, 2) - 0.5 * u + 0.3),
    ],
)
def test_spectral_generators_satisfy_their_equation(gen, rhs):
    """Centred time differences of the frames match the equation's right-hand side."""
    kwargs = {"dt": 0.02} if gen is make_kuramoto_sivashinsky else {}
    u, t, x = gen(n_times=21, **kwargs)
    assert u.shape == (21, x.size) and np.all(np.isfinite(u))
    dt = t[1] - t[0]
    u_t = (u[2:] - u[:-2]) / (2 * dt)
    f = rhs(u[1:-1], x)
    rel = np.linalg.norm(u_t - f) / np.linalg.norm(f)
    assert rel < 0.02  # O(dt^2) of the centred difference


def test_spectral_generators_invariants_and_noise():
    u, t, x = make_kdv()
    mass = u.sum(axis=1)
    np.testing.assert_allclose(mass, mass[0], rtol=1e-8)  # KdV conserves mass
    f, _, _ = make_fisher_kpp()
    assert f.min() > 0 and f.max() <= 1.0 + 1e-9
    h, t, _ = make_heat_source(n_times=401, dt=0.05)
    np.testing.assert_allclose(h[-1].mean(), 0.6, atol=1e-3)  # -> s / a = 0.6
    a, _, _ = make_kuramoto_sivashinsky(noise=0.05, random_state=1)
    b, _, _ = make_kuramoto_sivashinsky(noise=0.05, random_state=1)
    c, _, _ = make_kuramoto_sivashinsky()
    np.testing.assert_array_equal(a, b)
    ratio = np.std(a - c) / np.sqrt(np.mean(c**2))
    assert 0.045 < ratio < 0.055
    with pytest.raises(ValueError, match="n_points"):
        make_kdv(n_points=4)


def test_navier_stokes_vorticity_generator():
    w, u, v, t, x, y = make_navier_stokes_vorticity(n_points=32, n_times=11)
    assert w.shape == u.shape == v.shape == (11, 32, 32)
    k = 2j * np.pi * np.fft.fftfreq(32, d=x[1] - x[0])
    div = np.fft.ifft2(k[:, None] * np.fft.fft2(u) + k[None, :] * np.fft.fft2(v))
    assert np.max(np.abs(np.real(div))) < 1e-8  # incompressible
    curl = np.real(
        np.fft.ifft2(k[:, None] * np.fft.fft2(v) - k[None, :] * np.fft.fft2(u))
    )
    # w = v_x - u_y up to the Nyquist mode (its derivative is not real)
    np.testing.assert_allclose(curl, w, atol=1e-4 * np.abs(w).max())
    np.testing.assert_allclose(w.mean(axis=(1, 2)), 0.0, atol=1e-10)
