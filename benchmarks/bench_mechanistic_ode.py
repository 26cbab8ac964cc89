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

Reference comparison (issue 23): ``solve_linear_ode`` (CPU path: LAPACK banded
Cholesky inside the custom autograd Function) against (a) the ScalableMNN
reference algorithm -- its pure-torch ``LinearSolver`` (``smnn.py`` of
IST-DASLab/ScalableMNN @ fa93132: an in-place blocked Cholesky over the steps with
the LDL rescaling, in-place block substitution, and a backward pass of one more
substitution plus outer products), re-implemented here from reading that code and
fed the same assembled blocks as skres, so only the solver differs -- and (b)
``scipy.linalg.solveh_banded`` (LAPACK ``pbsv``) on the same normal matrix in band
storage (conversion not timed), one call per batch element. Problem: order 2, one
state (blocks 3 x 3), random coefficients, batch B in {1, 32}.
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


def _reference_factor(D, E, F) -> None:
    """ScalableMNN's in-place blocked LDL factor (step-first blocks ``(n, ..., b, b)``).

    Written from reading the reference's ``LinearSolver.cholesky_inplace``: the same
    sequence of triangular solves, rank-b updates and ``cholesky_ex`` per step, each
    writing into the block arrays, then the LDL rescaling of the off-diagonal blocks.
    """
    import torch

    for s in range(D.shape[0]):
        if F is not None and s >= 2:
            torch.linalg.solve_triangular(
                D[s - 2].mT, F[s - 2], upper=True, left=False, out=F[s - 2]
            )
            E[s - 1] -= F[s - 2] @ E[s - 2].mT
        if s >= 1:
            torch.linalg.solve_triangular(
                D[s - 1].mT, E[s - 1], upper=True, left=False, out=E[s - 1]
            )
            if F is not None and s >= 2:
                D[s] -= F[s - 2] @ F[s - 2].mT
            D[s] -= E[s - 1] @ E[s - 1].mT
        torch.linalg.cholesky_ex(D[s], out=(D[s], torch.empty(0, dtype=torch.int32)))
    torch.linalg.solve_triangular(D[:-1], E, upper=False, left=False, out=E)
    if F is not None:
        torch.linalg.solve_triangular(D[:-2], F, upper=False, left=False, out=F)


def _reference_substitute(D, E, F, r) -> None:
    """The reference's in-place LDL block substitution (``substitution_inplace``)."""
    import torch

    n = D.shape[0]
    for s in range(n):
        if F is not None and s >= 2:
            r[s] -= F[s - 2] @ r[s - 2]
        if s >= 1:
            r[s] -= E[s - 1] @ r[s - 1]
    torch.linalg.solve_triangular(D, r, upper=False, out=r)
    torch.linalg.solve_triangular(D.mT, r, upper=True, out=r)
    for s in range(n - 1, -1, -1):
        if F is not None and s < n - 2:
            r[s] -= F[s].mT @ r[s + 2]
        if s < n - 1:
            r[s] -= E[s].mT @ r[s + 1]


def _reference_function():
    import torch

    class ReferenceSolve(torch.autograd.Function):
        @staticmethod
        def forward(ctx, D, E, F, rhs):
            # step-first layout, as the reference keeps it: (n, batch, b, b)
            D0 = D.movedim(-3, 0).contiguous()
            E0 = E.movedim(-3, 0).contiguous()
            F0 = None if F is None else F.movedim(-3, 0).contiguous()
            x = rhs.movedim(-2, 0)[..., None].contiguous()
            _reference_factor(D0, E0, F0)
            _reference_substitute(D0, E0, F0, x)
            ctx.blocks, ctx.x, ctx.has_f = (D0, E0, F0), x, F is not None
            return x[..., 0].movedim(0, -2)

        @staticmethod
        def backward(ctx, g):
            D0, E0, F0 = ctx.blocks
            x = ctx.x
            gb = g.movedim(-2, 0)[..., None].contiguous()
            _reference_substitute(D0, E0, F0, gb)
            gD = -gb * x[..., 0][..., None, :]
            gE = -(
                gb[1:] * x[:-1, ..., 0][..., None, :]
                + x[1:] * gb[:-1, ..., 0][..., None, :]
            )
            gF = None
            if ctx.has_f:
                gF = -(
                    gb[2:] * x[:-2, ..., 0][..., None, :]
                    + x[2:] * gb[:-2, ..., 0][..., None, :]
                )
                gF = gF.movedim(0, -3)
            return gD.movedim(0, -3), gE.movedim(0, -3), gF, gb[..., 0].movedim(0, -2)

    return ReferenceSolve


def _reference_solve(coef, rhs, iv, steps):
    """Same assembly as skres, then the reference's pure-torch solver."""
    from skres.solvers.ode import _assemble_lhs, _assemble_rhs, _prepare

    p = _prepare(coef, rhs, iv, steps, None)
    w = (1.0, 1.0, 1.0)
    D, E, F = _assemble_lhs(p, False, w)
    x = _reference_function().apply(D, E, F, _assemble_rhs(p, w))
    return x.reshape(x.shape[:-1] + (p.n_dims, p.n_orders))


def compare_reference(n: int, B: int) -> dict[str, float]:
    """Side-by-side CPU times (best of 3) of skres, the reference and solveh_banded."""
    import torch
    from scipy.linalg import solveh_banded

    from skres.solvers import solve_linear_ode
    from skres.solvers.ode import _assemble_lhs, _assemble_rhs, _band_storage, _prepare

    torch.set_num_threads(1)
    args = _problem(n, B)

    def fwd_bwd(fn):
        def run() -> None:
            ins = [x.clone().requires_grad_() for x in args]
            fn(*ins).sum().backward()

        return run

    p = _prepare(*args, None)
    D, E, F = _assemble_lhs(p, False, (1.0, 1.0, 1.0))
    bands = _band_storage(D, E, F)  # (B, n b, kd + 1), lower band storage
    rhs = _assemble_rhs(p, (1.0, 1.0, 1.0)).reshape(B, -1).numpy()
    ab = [np.ascontiguousarray(bands[i].T) for i in range(B)]

    def scipy_solve() -> np.ndarray:
        return np.stack([solveh_banded(ab[i], rhs[i], lower=True) for i in range(B)])

    ours = solve_linear_ode(*args)
    theirs = _reference_solve(*args)
    lapack = torch.from_numpy(scipy_solve()).reshape(ours.shape)
    scale = float(ours.abs().max())
    reps = 3 if n * max(B, 4) <= 64_000 else 2
    return {
        "skres_fwd": _best(lambda: solve_linear_ode(*args)),
        "skres_fb": _best(fwd_bwd(solve_linear_ode)),
        "ref_fwd": _best(lambda: _reference_solve(*args), reps),
        "ref_fb": _best(fwd_bwd(_reference_solve), reps),
        "scipy": _best(scipy_solve),
        "diff_ref": float((ours - theirs).abs().max()) / scale,
        "diff_scipy": float((ours - lapack).abs().max()) / scale,
    }


def reference_table(quick: bool = False) -> str:
    rows = []
    for B in (1, 32):
        for n in (1000, 4000) if quick else (1000, 4000, 16000):
            r, _, _ = measure(compare_reference, n, B)
            rows.append(
                [
                    B,
                    n,
                    r["skres_fwd"],
                    r["ref_fwd"],
                    r["scipy"],
                    r["ref_fwd"] / r["skres_fwd"],
                    r["skres_fwd"] / r["scipy"],
                    r["skres_fb"],
                    r["ref_fb"],
                    r["ref_fb"] / r["skres_fb"],
                    r["skres_fb"] / (2 * r["scipy"]),
                    max(r["diff_ref"], r["diff_scipy"]),
                ]
            )
    return markdown_table(
        [
            "B",
            "n",
            "skres fwd (s)",
            "reference fwd (s)",
            "solveh_banded (s)",
            "reference / skres fwd",
            "skres fwd / solveh_banded",
            "skres fwd+bwd (s)",
            "reference fwd+bwd (s)",
            "reference / skres fwd+bwd",
            "skres fwd+bwd / 2 solveh_banded",
            "max rel. diff",
        ],
        rows,
    )


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
        "Against the ScalableMNN reference solver and LAPACK (order 2, one state, "
        "1 thread, CPU process time, best of 3 (2 for the reference at the largest "
        "sizes); the reference is its pure-torch solver re-implemented and fed the "
        "same assembled blocks, solveh_banded gets a prebuilt band; max rel. diff "
        "is the larger difference of skres to either):\n\n"
        + reference_table(quick)
        + "\n\nSolver, batch 8, order 2, 1 thread (CPU process time, best of 3; "
        "dense run once):\n\n"
        + solver
        + "\n\nLorenz discovery (4000 steps, dt 0.01):\n\n"
        + discovery
        + note
    )


if __name__ == "__main__":
    print(run(quick=True))
