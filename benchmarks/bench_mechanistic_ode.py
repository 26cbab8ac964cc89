"""MechanisticODE / solve_linear_ode: banded vs dense vs scipy, and Lorenz vs PySINDy.

Solver: time (CPU process time, best of 3, 1 thread) and peak extra memory against
the sequence length for the banded blocked-Cholesky solver (forward, and forward
plus backward), the dense O(n^3) normal-equation solve of the same rows (the MNN
dense approach, plain autograd), and scipy's ``solve_banded`` (LAPACK gbsv) on the
same normal matrix converted to band storage (the conversion is not timed).
Problem: batch 8, 1 state, order 2 (blocks 3 x 3), random coefficients.

Discovery: Lorenz (4000 steps, dt 0.01) at 0 / 1 / 5 % noise, MechanisticODE
(window 50, threshold 0.1) against PySINDy's SINDy with STLSQ (threshold 0.1,
degree-2 polynomial library, default finite differences) when pysindy is
installed.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._common import markdown_table, measure

TITLE = "MechanisticODE: banded vs dense vs scipy solve_banded, Lorenz vs PySINDy"


def _problem(n: int, B: int = 8):
    import torch

    g = torch.Generator().manual_seed(0)
    coef = torch.randn(B, n, 1, 1, 3, dtype=torch.float64, generator=g)
    coef[..., 1] += 1.0
    rhs = torch.randn(B, n, 1, dtype=torch.float64, generator=g)
    iv = torch.randn(B, 1, 1, 2, dtype=torch.float64, generator=g)
    steps = torch.full((B, n - 1), 0.01, dtype=torch.float64)
    return coef, rhs, iv, steps


def _best(fn, reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def time_solver(method: str, n: int) -> tuple[float, float]:
    """(seconds, max abs difference to the banded solution / max abs solution)."""
    import torch

    from skres.solvers import solve_linear_ode, solve_linear_ode_dense

    torch.set_num_threads(1)
    args = _problem(n)
    ref = solve_linear_ode(*args)
    if method == "banded":
        return _best(lambda: solve_linear_ode(*args)), 0.0
    if method == "banded_fwd_bwd":

        def fb() -> None:
            ins = [x.clone().requires_grad_() for x in args]
            solve_linear_ode(*ins).sum().backward()

        return _best(fb), 0.0
    if method == "dense":
        out = solve_linear_ode_dense(*args)
        return _best(lambda: solve_linear_ode_dense(*args), 1), float(
            (out - ref).abs().max() / ref.abs().max()
        )
    # scipy solve_banded on the same normal matrix, one batch element at a time
    from scipy.linalg import solve_banded

    from skres.solvers.ode import _assemble_lhs, _assemble_rhs, _prepare

    p = _prepare(*args, None)
    w = (1.0, 1.0, 1.0)
    D, E, _ = (x.numpy() if x is not None else None for x in _assemble_lhs(p, False, w))
    bvec = _assemble_rhs(p, w).numpy()
    Bsz, n_, b, _ = D.shape
    N, k = n_ * b, 2 * b - 1
    bands = np.zeros((Bsz, 2 * k + 1, N))
    dense_idx = np.arange(N)
    for off in range(-k, k + 1):  # M[i, j] at ab[k + i - j, j]
        j = dense_idx[max(0, -off) : N - max(0, off)]
        i = j + off
        si, sj = i // b, j // b
        vals = np.where(
            si == sj,
            D[:, si, i % b, j % b],
            np.where(
                si == sj + 1,
                E[:, np.minimum(sj, n_ - 2), i % b, j % b],
                np.where(sj == si + 1, E[:, np.minimum(si, n_ - 2), j % b, i % b], 0.0),
            ),
        )
        bands[:, k + off, j] = vals
    rhs = bvec.reshape(Bsz, N)

    def run_scipy() -> np.ndarray:
        return np.stack([solve_banded((k, k), bands[i], rhs[i]) for i in range(Bsz)])

    out = run_scipy().reshape(ref.shape)
    diff = np.abs(out - ref.numpy()).max() / np.abs(ref.numpy()).max()
    return _best(run_scipy), float(diff)


def discover(method: str, noise: float) -> tuple[float, int, int, float]:
    """(seconds, spurious, missing, max relative error on the true terms)."""
    from skres.datasets import make_lorenz
    from skres.dynamics import MechanisticODE

    X, t, coef = make_lorenz(4000, noise=noise, return_coef=True, random_state=0)
    MechanisticODE().fit(X[:100], t=t[:100])  # warm-up: first torch calls
    start = time.process_time()
    if method == "skres":
        est = MechanisticODE(window=50, threshold=0.1).fit(X, t=t).coef_
    else:
        import pysindy as ps

        model = ps.SINDy(
            optimizer=ps.STLSQ(threshold=0.1),
            feature_library=ps.PolynomialLibrary(degree=2),
        )
        model.fit(X, t=t)
        est = np.asarray(model.coefficients())
    seconds = time.process_time() - start
    true = coef != 0
    rel = float(np.max(np.abs(est[true] - coef[true]) / np.abs(coef[true])))
    return seconds, int(((est != 0) & ~true).sum()), int(((est == 0) & true).sum()), rel


def run(quick: bool = False) -> str:
    lengths = (100, 400, 1000, 4000) if quick else (100, 400, 1000, 4000, 16000)
    rows = []
    for n in lengths:
        (t_b, _), _, mem_b = measure(time_solver, "banded", n)
        (t_fb, _), _, _ = measure(time_solver, "banded_fwd_bwd", n)
        (t_s, d_s), _, mem_s = measure(time_solver, "scipy", n)
        if n <= 400:  # the dense rows need O(n^2) memory (~1 GB at n = 1000)
            (t_d, d_d), _, mem_d = measure(time_solver, "dense", n)
            dense = [t_d, mem_d, t_d / t_b, d_d]
        else:
            dense = ["-", "-", "-", "-"]
        rows.append([n, t_b, t_fb, mem_b, t_s, mem_s, d_s, *dense])
    solver = markdown_table(
        [
            "n steps",
            "banded fwd (s)",
            "banded fwd+bwd (s)",
            "banded peak RSS (MiB)",
            "scipy solve_banded (s)",
            "scipy peak RSS (MiB)",
            "scipy max rel. diff",
            "dense (s)",
            "dense peak RSS (MiB)",
            "dense / banded",
            "dense max rel. diff",
        ],
        rows,
    )
    try:
        import pysindy  # noqa: F401

        methods = ("skres", "pysindy")
    except ImportError:
        methods = ("skres",)
    disc = []
    for noise in (0.0, 0.01, 0.05):
        for method in methods:
            (secs, spurious, missing, rel), _, _ = measure(discover, method, noise)
            label = "MechanisticODE" if method == "skres" else "PySINDy STLSQ"
            disc.append([f"{noise:.0%}", label, spurious, missing, rel, secs])
    discovery = markdown_table(
        [
            "noise",
            "method",
            "spurious terms",
            "missing terms",
            "max rel. error",
            "CPU (s)",
        ],
        disc,
    )
    note = "" if "pysindy" in methods else "\n\npysindy is not installed: no baseline."
    return (
        "Solver, batch 8, order 2, 1 thread (CPU process time, best of 3; dense "
        "run once):\n\n"
        + solver
        + "\n\nLorenz discovery (4000 steps, dt 0.01):\n\n"
        + discovery
        + note
    )


if __name__ == "__main__":
    print(run(quick=True))
