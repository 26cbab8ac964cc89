"""PDEDiscoverer vs PySINDy PDE-FIND and WeakSINDy on five 1-D PDEs under noise.

Systems (generators in :mod:`skres.datasets`, PySINDy's sign convention
``u_t = Theta(u) xi``):

* Burgers ``u_t = -u u_x + 0.1 u_xx`` (256 x 128);
* KdV ``u_t = -6 u u_x - u_xxx`` (two solitons, 256 x 101);
* Kuramoto-Sivashinsky ``u_t = -u u_x - u_xx - u_xxxx`` (128 x 101);
* Fisher-KPP ``u_t = 0.1 u_xx + u - u^2`` (256 x 101);
* heat with a source ``u_t = 0.2 u_xx - 0.5 u + 0.3`` (256 x 101).

Noise: 0 / 1 / 5 / 10 % Gaussian (fraction of the field's RMS, seed 0).

Methods, on the same arrays:

* PDEDiscoverer (weak form, default settings: test-function radii 12 x 24 grid
  points, automatic MSTLS pruning) with its default 10-term library
  (``{1, u, u^2}``, ``u_x {1, u, u^2}``, ``u_xx {1, u}``, ``u_xxx``, ``u_xxxx``);
* PDEDiscoverer with PySINDy's 15-term library (degree-2 polynomials times every
  derivative up to order 4, and ``{1, u, u^2}``);
* PySINDy PDE-FIND: ``PDELibrary`` with those 15 terms, STLSQ threshold 0.02,
  alpha 1e-5, normalised columns;
* PySINDy WeakSINDy: ``WeakPDELibrary``, same terms, K = 200, same STLSQ.

Columns: true positives (of the true terms), false positives, the largest relative
coefficient error over the true terms (100 % for a missed term), and the fit's CPU
process time (in-process, 1 thread).
"""

from __future__ import annotations

import re
import time
import warnings

import numpy as np

from benchmarks._common import markdown_table

TITLE = "PDEDiscoverer vs PySINDy PDE-FIND / WeakSINDy on five PDEs under noise"

SYSTEMS = {
    "Burgers": ("make_burgers", {"u u_x": -1.0, "u_xx": 0.1}),
    "KdV": ("make_kdv", {"u u_x": -6.0, "u_xxx": -1.0}),
    "Kuramoto-Sivashinsky": (
        "make_kuramoto_sivashinsky",
        {"u u_x": -1.0, "u_xx": -1.0, "u_xxxx": -1.0},
    ),
    "Fisher-KPP": ("make_fisher_kpp", {"u_xx": 0.1, "u": 1.0, "u^2": -1.0}),
    "heat + source": ("make_heat_source", {"u_xx": 0.2, "u": -0.5, "1": 0.3}),
}
FULL = {"rhs": 2, "u_x": 2, "u_xx": 2, "u_xxx": 2, "u_xxxx": 2}
_ORDER = {1: "u_x", 2: "u_xx", 3: "u_xxx", 4: "u_xxxx"}


def _data(system: str, noise: float):
    import skres.datasets as ds

    return getattr(ds, SYSTEMS[system][0])(noise=noise, random_state=0)


def _pysindy_name(name: str) -> str:
    """``"u^2u_11"`` -> ``"u^2 u_xx"``, ``"uu_1"`` -> ``"u u_x"``."""
    match = re.fullmatch(r"(u\^2|u)?(?:u_(1+))?", name)
    if name == "1" or match is None:
        return name
    power, deriv = match.groups()
    if deriv is None:
        return power
    base = _ORDER[len(deriv)]
    # "u_1" matches with no power; "uu_1" as power "u" times "u_1"
    return {None: "", "u": "u ", "u^2": "u^2 "}[power] + base


def fit_pde_discoverer(system: str, noise: float, full: bool):
    from skres.dynamics import PDEDiscoverer

    u, t, x = _data(system, noise)
    model = PDEDiscoverer(terms=FULL if full else None)
    start = time.process_time()
    model.fit(u, t=t, x=x)
    seconds = time.process_time() - start
    return dict(zip(model.feature_names_, model.coef_, strict=True)), seconds


def fit_pysindy(system: str, noise: float, weak: bool):
    import pysindy as ps

    u, t, x = _data(system, noise)
    poly = ps.PolynomialLibrary(degree=2, include_bias=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if weak:
            X, T = np.meshgrid(x, t, indexing="ij")
            library = ps.WeakPDELibrary(
                function_library=poly,
                derivative_order=4,
                spatiotemporal_grid=np.stack([X, T], axis=-1),
                include_bias=True,
                is_uniform=True,
                K=200,
            )
        else:
            library = ps.PDELibrary(
                function_library=poly,
                derivative_order=4,
                spatial_grid=x,
                include_bias=True,
                is_uniform=True,
            )
        model = ps.SINDy(
            feature_library=library,
            optimizer=ps.STLSQ(threshold=0.02, alpha=1e-5, normalize_columns=True),
        )
        start = time.process_time()
        model.fit(u.T[:, :, None], t=t[1] - t[0], feature_names=["u"])
        seconds = time.process_time() - start
    names = [_pysindy_name(n) for n in model.get_feature_names()]
    return dict(zip(names, model.coefficients()[0], strict=True)), seconds


def _row(system: str, method: str, noise: float, coefs: dict, seconds: float):
    truth = SYSTEMS[system][1]
    found = {k for k, v in coefs.items() if v != 0}
    tp = len(found & set(truth))
    fp = len(found - set(truth))
    err = max(abs(coefs.get(k, 0.0) / v - 1.0) for k, v in truth.items())
    return [
        system,
        f"{100 * noise:g} %",
        method,
        f"{tp}/{len(truth)}",
        fp,
        f"{100 * err:.2f} %",
        seconds,
    ]


FIGURE = "docs/estimators/images/pde_lambda_omega.png"


def figure_lambda_omega(path: str = FIGURE) -> float:
    """Fit the lambda-omega pair on frames 0-30 (64 x 64, 1 % noise), simulate the
    discovered equations from frame 30 to 50 and save data vs simulation of ``u``
    at the last frame; returns the held-out R^2."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skres.datasets import make_reaction_diffusion
    from skres.dynamics import PDEDiscoverer

    u, v, t, x, y = make_reaction_diffusion(
        n_points=64, n_times=51, noise=0.01, random_state=0
    )
    F = np.stack([u, v], -1)
    model = PDEDiscoverer().fit(F[:31], t=t[:31], x=(x, y))
    sim = model.simulate(F[30], t[30:])
    r2 = model.score(F[30:], t=t[30:])
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.3), constrained_layout=True)
    panels = [
        (F[-1, ..., 0], f"data u, t = {t[-1]:.1f} (1 % noise)"),
        (sim[-1, ..., 0], "simulated discovered PDE"),
        (sim[-1, ..., 0] - F[-1, ..., 0], "simulation - data"),
    ]
    for ax, (img, title) in zip(axes, panels, strict=True):
        im = ax.imshow(img.T, origin="lower", extent=(x[0], x[-1], y[0], y[-1]))
        ax.set_title(title, fontsize="small")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(
        f"lambda-omega, fit on t <= {t[30]:.1f}, held-out R^2 = {r2:.4f}",
        fontsize="small",
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return float(r2)


def run(quick: bool = False) -> str:
    import torch

    torch.set_num_threads(1)
    try:
        import pysindy  # noqa: F401

        have_pysindy = True
    except ImportError:  # pragma: no cover - optional baseline
        have_pysindy = False
    noises = (0.0, 0.05) if quick else (0.0, 0.01, 0.05, 0.10)
    systems = list(SYSTEMS)[:2] if quick else list(SYSTEMS)
    rows = []
    for system in systems:
        for noise in noises:
            for full, name in ((False, "PDEDiscoverer"), (True, "PDEDiscoverer 15")):
                coefs, seconds = fit_pde_discoverer(system, noise, full)
                rows.append(_row(system, name, noise, coefs, seconds))
            if have_pysindy:
                for weak, name in ((False, "PDE-FIND"), (True, "WeakSINDy")):
                    coefs, seconds = fit_pysindy(system, noise, weak)
                    rows.append(_row(system, name, noise, coefs, seconds))
    r2 = figure_lambda_omega()
    headers = ["system", "noise", "method", "TP", "FP", "max rel err", "fit CPU s"]
    notes = (
        "PDEDiscoverer: weak form with automatic pruning, default 10-term library; "
        "'PDEDiscoverer 15' and both PySINDy methods use the same 15-term library "
        "(degree-2 polynomials times derivatives up to order 4, with bias). "
        "PySINDy STLSQ threshold 0.02, alpha 1e-5, normalised columns; WeakSINDy "
        "K = 200. Noise seed 0. Times are CPU process time on a shared 2-core "
        f"machine. Figure {FIGURE}: lambda-omega (64 x 64, 1 % noise) fitted on "
        f"frames 0-30, simulated over frames 30-50, held-out R^2 {r2:.4f}."
        + ("" if have_pysindy else " pysindy is not installed: no baselines.")
    )
    return markdown_table(headers, rows) + "\n\n" + notes


if __name__ == "__main__":  # pragma: no cover
    print(run(quick=False))  # noqa: T201
