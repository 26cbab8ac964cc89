"""solve_linear_pde: direct / dense / multigrid vs scipy spsolve and pyamg.

Problem: the manufactured advection-diffusion equation u_t + u_x - 0.1 u_xx = 0 with
u = exp(-0.1 t) sin(x - t) on [0, 0.5] x [0, 2 pi] (Dirichlet data from the exact
solution, spec pde_smnn.md section 3.2), batch 1, float64, order 2 (5 unknowns per
point). All solvers work on the same normal equations A^T A z = A^T b.

* ``direct``: skres default, SuperLU on the Jacobi-scaled matrix in symmetric mode
  (MMD on A^T + A, no pivoting); ``direct COLAMD``: the same with COLAMD and partial
  pivoting (the spec's setting);
* ``dense``: batched torch Cholesky (small grids only: O(n^3));
* ``multigrid``: pure-torch FGMRES(20) + one V-cycle (3 levels, 5-colour block
  Gauss-Seidel 2+2 sweeps), rtol 1e-10 on the scaled normal equations;
* ``spsolve``: plain ``scipy.sparse.linalg.spsolve`` on the unscaled normal matrix;
* ``pyamg``: smoothed-aggregation AMG (pyamg) as the preconditioner of pyamg's
  FGMRES on the Jacobi-scaled normal matrix, rtol 1e-10 (when pyamg is installed).

Times are CPU process time (best of 3, 1 thread), solve only (the pattern is built
once beforehand); "rel. diff" is ||z - z_direct|| / ||z_direct||. The V-cycle table
times one cycle (best of 5) with as many levels as keep >= 8 points per coordinate,
and the ratio to the next smaller grid (4x fewer unknowns).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from benchmarks._common import markdown_table, measure

TITLE = "solve_linear_pde: direct / dense / multigrid vs scipy spsolve and pyamg AMG"


def _problem(nt: int, nx: int) -> tuple[Any, ...]:
    import torch

    t = torch.linspace(0, 0.5, nt, dtype=torch.float64)
    x = torch.linspace(0, 2 * math.pi, nx, dtype=torch.float64)
    exact = (torch.exp(-0.1 * t)[:, None] * torch.sin(x[None] - t[:, None]))[None]
    coef = torch.zeros(1, nt, nx, 5, dtype=torch.float64)
    coef[..., 1] = 1.0
    coef[..., 2] = 1.0
    coef[..., 4] = -0.1
    return coef, torch.zeros_like(exact), exact, (torch.diff(t), torch.diff(x))


def _best(fn: Any, reps: int = 3) -> tuple[float, Any]:
    best, out = math.inf, None
    for _ in range(reps):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def time_grid(nt: int, nx: int, with_dense: bool, reps: int) -> dict[str, Any]:
    """Every solver on one grid: seconds, iterations and differences."""
    import scipy.sparse as sp
    import torch
    from scipy.sparse.linalg import spsolve

    from skres.solvers import solve_linear_pde
    from skres.solvers._pde_assembly import _assemble, _check_inputs, _Ops, _pattern

    torch.set_num_threads(1)
    args = _problem(nt, nx)
    out: dict[str, Any] = {"unknowns": nt * nx * 5}
    solve_linear_pde(*args, method="direct")  # pattern cache
    out["direct"], ref = _best(lambda: solve_linear_pde(*args, method="direct"), reps)
    ref = ref.reshape(-1)
    out["error"] = float((ref.reshape(nt, nx, 5)[..., 0] - args[2][0]).abs().max())

    def rel(z: Any) -> float:
        z = torch.as_tensor(np.asarray(z)).reshape(-1)
        return float((z - ref).norm() / ref.norm())

    t_c, z = _best(
        lambda: solve_linear_pde(*args, method="direct", direct_ordering="COLAMD"), 1
    )
    out["colamd"], out["colamd_diff"] = t_c, rel(z)
    if with_dense:
        t_d, z = _best(lambda: solve_linear_pde(*args, method="dense"), 1)
        out["dense"], out["dense_diff"] = t_d, rel(z)
    info: dict[str, Any] = {}

    def mg() -> Any:
        u, i = solve_linear_pde(*args, method="multigrid", return_info=True)
        info.update(i)
        return u

    t_m, z = _best(mg, 1)
    out["mg"], out["mg_diff"], out["mg_iter"] = t_m, rel(z), info["n_iter"]
    # the same normal equations for the scipy / pyamg baselines
    inp = _check_inputs(*args, "initial+spatial", 2, None)
    pat = _pattern(inp.grid, 2, inp.boxes, None)
    ops = _Ops(pat, torch.device("cpu"))
    vals, b = _assemble(inp, pat)
    mv = ops.normal_values(vals)[0].numpy()
    n = pat.n_unknowns
    M = sp.csr_matrix((mv, pat.m_col, pat.m_indptr), shape=(n, n))
    rhs = ops.rmatvec(vals, b)[0].numpy()
    t_s, z = _best(lambda: spsolve(M.tocsc(), rhs), 1)
    out["spsolve"], out["spsolve_diff"] = t_s, rel(z)
    try:
        import pyamg
    except ImportError:
        return out
    d = 1.0 / np.sqrt(M.diagonal())
    S = (sp.diags(d) @ M @ sp.diags(d)).tocsr()
    c = rhs * d

    def amg() -> Any:
        ml = pyamg.smoothed_aggregation_solver(S, symmetry="symmetric")
        res: list[float] = []
        y = ml.solve(c, tol=1e-10, accel="fgmres", maxiter=2000, residuals=res)
        return y * d, len(res) - 1

    t_a, (z, it) = _best(amg, 1)
    out["pyamg"], out["pyamg_diff"], out["pyamg_iter"] = t_a, rel(z), it
    return out


def time_vcycle(grids: list[tuple[int, int]], reps: int = 5) -> list[float]:
    """Best-of-``reps`` seconds of one V-cycle per grid, timed interleaved."""
    import gc

    import torch

    from skres.solvers._pde_multigrid import build_hierarchy

    torch.set_num_threads(1)
    hier = [build_hierarchy(*_problem(*g), levels=None) for g in grids]
    best = [math.inf] * len(grids)
    gc.disable()
    for _ in range(reps):
        for i, (h, rhs) in enumerate(hier):
            start = time.process_time()
            h.vcycle(rhs)
            best[i] = min(best[i], time.process_time() - start)
    gc.enable()
    return best


def run(quick: bool = False) -> str:
    grids = [(16, 32), (32, 64)] + ([] if quick else [(64, 128)])
    rows, iters = [], []
    for g in grids:
        r, _, mem = measure(time_grid, *g, g[0] <= 16, 1 if quick else 3)
        iters.append(r["mg_iter"])

        def cell(key: str, r: dict[str, Any] = r) -> Any:
            return r.get(key, "-")

        rows.append(
            [
                f"{g[0]}x{g[1]}",
                r["unknowns"],
                r["error"],
                r["direct"],
                cell("colamd"),
                cell("dense"),
                r["mg"],
                r["mg_iter"],
                r["spsolve"],
                cell("pyamg"),
                cell("pyamg_iter"),
                r["mg"] / r["direct"],
                r["spsolve"] / r["direct"],
                r["mg_diff"],
                r["spsolve_diff"],
                cell("pyamg_diff"),
                mem,
            ]
        )
    table = markdown_table(
        [
            "grid",
            "unknowns",
            "max error (direct)",
            "direct (s)",
            "direct COLAMD (s)",
            "dense (s)",
            "multigrid (s)",
            "MG FGMRES iters",
            "scipy spsolve (s)",
            "pyamg SA+FGMRES (s)",
            "pyamg iters",
            "MG / direct",
            "spsolve / direct",
            "MG rel. diff",
            "spsolve rel. diff",
            "pyamg rel. diff",
            "peak RSS (MiB)",
        ],
        rows,
    )
    vgrids = [(16, 32), (32, 64), (64, 128)] + ([] if quick else [(128, 256)])
    (best), _, _ = measure(time_vcycle, vgrids)
    vrows = [
        [
            f"{g[0]}x{g[1]}",
            g[0] * g[1] * 5,
            1e3 * t,
            "-" if i == 0 else best[i] / best[i - 1],
        ]
        for i, (g, t) in enumerate(zip(vgrids, best, strict=True))
    ]
    vtable = markdown_table(
        ["grid", "unknowns", "one V-cycle (ms)", "ratio to previous (4x unknowns)"],
        vrows,
    )
    growth = [b / a for a, b in zip(iters, iters[1:], strict=False)]
    return (
        table
        + "\n\nMultigrid FGMRES iterations per refinement (x2 per coordinate): "
        + ", ".join(f"{v:.2f}x" for v in growth)
        + "\n\n"
        + vtable
    )
