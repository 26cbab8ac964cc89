"""
Discovering Burgers' equation with a mechanistic PDE solver
===========================================================

Mechanistic PDE Networks (Pervez, Gavves, Locatello, ICML 2025) write a nonlinear
PDE as a *linear* PDE whose coefficients depend on a reference field ``u~``:
``u_t + p(u~) u_x + q(u~) u_xx = r(u~)``. A differentiable least-squares solver
integrates that linear PDE on small space-time windows of the data, and the
polynomial coefficients of ``p``, ``q`` and ``r`` are fitted so that the solutions
match the data. :class:`skres.dynamics.PDEDiscoverer` does this with L-BFGS through
:func:`skres.solvers.solve_linear_pde` (``method="mechanistic"``); its default,
``method="weak"``, fits the same library by weak-form regression over compact test
functions, which is robust to noise.

Here it recovers viscous Burgers' equation ``u_t = -u u_x + 0.1 u_xx`` from a
pseudo-spectral simulation, clean and with 5 % noise, and the discovered PDE is
simulated next to the data.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

from skres.datasets import make_burgers
from skres.dynamics import PDEDiscoverer

# %%
# Data: viscous Burgers on a periodic domain
# ------------------------------------------
# 256 grid points on [-10, 10), 128 frames 0.025 apart, a Gaussian bump of
# height 1 that steepens and diffuses.
u, t, x = make_burgers(nu=0.1)
u_noisy, _, _ = make_burgers(nu=0.1, noise=0.05, random_state=0)
print(f"field {u.shape}, dt = {t[1] - t[0]:.3f}, dx = {x[1] - x[0]:.4f}")

# %%
# Discovery on clean data with a seven-term library
# -------------------------------------------------
# ``u_x`` times {1, u, u^2}, ``u_xx`` times {1, u} and a source {1, u}; 8
# random windows of 8 x 48 grid points; sequential thresholding at 0.01.
start = time.process_time()
model = PDEDiscoverer(
    terms={"u_x": 2, "u_xx": 1, "rhs": 1},
    method="mechanistic",
    window=(8, 48),
    n_windows=8,
    threshold=0.01,
    random_state=0,
)
model.fit(u, t=t, x=x)
print(f"clean ({time.process_time() - start:.1f} s CPU, {model.n_iter_} iterations):")
model.print(precision=4)

# %%
# Discovery under 5 % noise
# -------------------------
# The default weak form (10-term library with ``u_xxx`` and ``u_xxxx``,
# automatic pruning) integrates the equation against compact test functions, so
# no derivative of the noisy data is taken: both coefficients stay within about
# 1 %. (Solving on short windows of the noisy data loses the viscosity.)
noisy = PDEDiscoverer().fit(u_noisy, t=t, x=x)
print("5 % noise, weak form:")
noisy.print(precision=4)

# %%
# Discovered vs true field
# ------------------------
# The discovered PDE is integrated from the first frame by the method of lines
# (spectral derivatives on the periodic grid) and compared with the data.
sim = model.simulate(u[0], t)
print(f"max |simulation - data| = {np.abs(sim - u).max():.2e}")

fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), layout="constrained", sharey=True)
extent = (x[0], x[-1], t[-1], t[0])
for ax, field, title in [
    (axes[0], u, "data (true PDE)"),
    (axes[1], sim, "discovered PDE"),
]:
    im = ax.imshow(field, aspect="auto", extent=extent, cmap="viridis")
    ax.set_title(title)
    ax.set_xlabel("x")
fig.colorbar(im, ax=axes[:2], shrink=0.8)
err = axes[2].imshow(sim - u, aspect="auto", extent=extent, cmap="RdBu_r")
axes[2].set_title("difference")
axes[2].set_xlabel("x")
fig.colorbar(err, ax=axes[2], shrink=0.8)
axes[0].set_ylabel("t")

# %%
# Profiles at a few times
# -----------------------
fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
for i in (0, 40, 80, 127):
    (line,) = ax.plot(x, u[i], lw=3, alpha=0.4)
    ax.plot(x, sim[i], "--", color=line.get_color(), label=f"t = {t[i]:.2f}")
ax.set_xlim(-5, 7)
ax.set_xlabel("x")
ax.set_ylabel("u")
ax.legend(title="data (thick) / discovered (dashed)", fontsize=8)
plt.show()
