"""CPU against CUDA for every torch-backed solver and estimator (issue 23).

``python -m benchmarks gpu`` (about 5 minutes on one GPU). For each torch-backed
solver (``solve_linear_ode``, ``solve_linear_pde``, ``somp``) and each estimator
with a ``device`` parameter, the same problem runs on ``"cpu"`` and on ``"cuda"``;
the table gives both wall times (best of 2 after a warm-up, CUDA synchronised), the
speed-up, the largest difference of the outputs and whether it is within the
stated tolerance:

- solvers, float64: relative difference <= 1e-9 (``somp``: identical supports too);
- estimators (trained in float32 by default, where CPU and CUDA kernels round
  differently and training amplifies it): label agreement >= 0.95 for
  predictions, relative difference <= 5e-2 for continuous outputs.

Without a CUDA device nothing is run: :func:`available` says why and
``python -m benchmarks`` skips this section (the command exits cleanly).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._common import markdown_table

TITLE = "CPU vs CUDA: torch-backed solvers and estimators"

#: The accelerator compared with the CPU (a dry run of this script may set "cpu").
_GPU = "cuda"

#: Outputs compared for estimators, first available wins.
_OUTPUT_METHODS = ("predict", "transform", "decision_function")


def available() -> tuple[bool, str]:
    """Whether a CUDA device exists (and why not)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, (
            "no CUDA device (torch.cuda.is_available() is False): the CPU vs CUDA "
            "check needs a GPU; nothing was run"
        )
    return True, torch.cuda.get_device_name(0)


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _timed(fn: Callable[[], Any], reps: int = 2) -> tuple[Any, float]:
    out = fn()  # warm-up (CUDA context, kernels, caches)
    _sync()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        out = fn()
        _sync()
        best = min(best, time.perf_counter() - start)
    return out, best


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if hasattr(value, "support"):  # SOMPResult
        return np.asarray(value.explained_variance_ratio)
    return np.asarray(value)


def _relative(a: Any, b: Any) -> float:
    a, b = _to_numpy(a).astype(np.float64), _to_numpy(b).astype(np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


# ------------------------------------------------------------------ solvers
def _ode_case(device: str, backward: bool) -> Callable[[], Any]:
    import torch

    from skres.solvers import solve_linear_ode

    g = torch.Generator().manual_seed(0)
    B, n = 32, 4000
    coef = torch.randn(B, n, 1, 1, 3, dtype=torch.float64, generator=g)
    coef[..., 1] += 1.0
    args = [
        coef,
        torch.randn(B, n, 1, dtype=torch.float64, generator=g),
        torch.randn(B, 1, 1, 2, dtype=torch.float64, generator=g),
        torch.full((B, n - 1), 0.01, dtype=torch.float64),
    ]
    args = [a.to(device) for a in args]

    def run() -> Any:
        if not backward:
            return solve_linear_ode(*args)
        ins = [a.clone().requires_grad_() for a in args]
        solve_linear_ode(*ins).square().sum().backward()
        return torch.cat([x.grad.reshape(-1) for x in ins])

    return run


def _pde_case(device: str) -> Callable[[], Any]:
    import math

    import torch

    from skres.solvers import solve_linear_pde

    nt, nx = 64, 128
    t = torch.linspace(0, 0.5, nt, dtype=torch.float64)
    x = torch.linspace(0, 2 * math.pi, nx, dtype=torch.float64)
    exact = torch.sin(x[None, :] - t[:, None])[None].to(device)
    coef = torch.zeros(1, nt, nx, 5, dtype=torch.float64, device=device)
    coef[..., 1] = 1.0
    coef[..., 2] = 1.0
    steps = (torch.diff(t).to(device), torch.diff(x).to(device))

    def run() -> Any:
        return solve_linear_pde(coef, torch.zeros_like(exact), exact, steps)

    return run


def _somp_case(device: str) -> Callable[[], Any]:
    from skres.solvers import somp

    rng = np.random.default_rng(0)
    X = rng.standard_normal((27, 32, 576))
    D = rng.standard_normal((49_152, 576))

    def run() -> Any:
        return somp(X, D, 20, device=device)

    return run


def solver_rows() -> list[list[Any]]:
    cases: list[tuple[str, Callable[[str], Callable[[], Any]]]] = [
        ("solve_linear_ode fwd (B=32, n=4000)", lambda d: _ode_case(d, False)),
        ("solve_linear_ode fwd+bwd (B=32, n=4000)", lambda d: _ode_case(d, True)),
        ("solve_linear_pde auto (64 x 128)", _pde_case),
        ("somp (27 heads, v=49152, k=20)", _somp_case),
    ]
    rows = []
    for name, make in cases:
        try:
            cpu_out, cpu_s = _timed(make("cpu"))
            gpu_out, gpu_s = _timed(make(_GPU))
            diff = _relative(gpu_out, cpu_out)
            ok = diff <= 1e-9
            if hasattr(cpu_out, "support"):
                ok = ok and bool(np.array_equal(cpu_out.support, gpu_out.support))
            rows.append([name, cpu_s, gpu_s, cpu_s / gpu_s, diff, "1e-9", ok])
        except Exception as exc:  # report, keep going: one failure is one row
            rows.append([name, "-", "-", "-", "-", "1e-9", f"error: {exc!r}"[:120]])
    return rows


# --------------------------------------------------------------- estimators
def _fit_output(est: Any, X: Any, y: Any, side: dict[str, Any]) -> Any:
    est.fit(X, y, **side) if y is not None else est.fit(X, **side)
    for method in _OUTPUT_METHODS:
        if hasattr(est, method):
            try:
                return getattr(est, method)(X)
            except (TypeError, ValueError, NotImplementedError):
                continue
    return np.asarray(getattr(est, "score_", 0.0))


def estimator_rows(n_samples: int = 2000, n_features: int = 20) -> list[list[Any]]:
    import inspect

    from sklearn.base import clone

    from skres.utils._testing import make_instance, make_test_data
    from skres.utils.discovery import all_estimators

    rows = []
    for name, cls in all_estimators():
        if "device" not in inspect.signature(cls).parameters:
            continue
        try:
            base = make_instance(cls)
            if "random_state" in base.get_params():
                base.set_params(random_state=0)
            X, y, side = make_test_data(base, n_samples, n_features)

            def run(
                device: str, base: Any = base, X: Any = X, y: Any = y, side: Any = side
            ) -> Any:
                return _fit_output(clone(base).set_params(device=device), X, y, side)

            cpu_out, cpu_s = _timed(lambda run=run: run("cpu"))
            gpu_out, gpu_s = _timed(lambda run=run: run(_GPU))
            a, b = _to_numpy(gpu_out), _to_numpy(cpu_out)
            if a.dtype.kind in "iub" or (a.dtype.kind in "OU"):
                agreement = float(np.mean(a == b))
                rows.append(
                    [name, cpu_s, gpu_s, cpu_s / gpu_s, 1 - agreement, "agree >= 0.95"]
                    + [agreement >= 0.95]
                )
            else:
                diff = _relative(a, b)
                rows.append(
                    [name, cpu_s, gpu_s, cpu_s / gpu_s, diff, "5e-2", diff <= 5e-2]
                )
        except Exception as exc:  # report, keep going
            rows.append([name, "-", "-", "-", "-", "-", f"error: {exc!r}"[:120]])
    return rows


def run(quick: bool = False) -> str:
    ok, device = available()
    if not ok:
        return f"Not run: {device}."
    headers = [
        "case",
        "CPU (s)",
        "CUDA (s)",
        "speed-up",
        "max rel. diff (estimators with labels: disagreement)",
        "tolerance",
        "within tolerance",
    ]
    n = 500 if quick else 2000
    return (
        f"Device: {device}. Best of 2 wall-clock runs after a warm-up, CUDA "
        "synchronised; CPU with the default torch threads.\n\n"
        + markdown_table(headers, solver_rows())
        + f"\n\nEstimators (their small test parameters, {n} samples x 20 "
        "features, fit + first output method):\n\n"
        + markdown_table(headers, estimator_rows(n))
    )


if __name__ == "__main__":
    ok, why = available()
    print(run() if ok else f"bench_gpu: {why}.")
