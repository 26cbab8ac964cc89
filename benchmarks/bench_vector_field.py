"""LatentVectorField: latent fixed-point iteration throughput (points x steps / s).

An MLP autoencoder 64 -> 256 -> 256 -> k (the spec's digits model, random weights:
the cost of one step does not depend on training) is iterated for a fixed number of
steps (``tol`` below any step, so no sample stops early). skres's batched iteration
with per-sample masking is compared, in the same run, with the obvious baseline: a
Python loop over samples, each iterated on its own. CUDA rows appear when a GPU is
present. A second table times the Jacobian spectral radius, exact (``jacrev`` and
eigenvalues) against the batched power iteration, with their largest disagreement.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from benchmarks._common import markdown_table, measure

TITLE = "LatentVectorField iteration throughput (batched vs per-sample loop)"


def _handle(k: int):
    from skres.dynamics import AutoencoderHandle
    from skres.dynamics._vf_modules import _MLPAutoencoder

    gen = torch.Generator().manual_seed(0)
    ae = _MLPAutoencoder(64, k, (256, 256), "relu", "sigmoid", 0.0)
    with torch.no_grad():
        for p in ae.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(p.shape[-1]))
    return ae, AutoencoderHandle(ae.encoder, ae.decoder)


def run_batched(n: int, steps: int, k: int, device: str) -> float:
    from skres.dynamics import LatentVectorField

    ae, handle = _handle(k)
    ae.to(device)
    Z = np.random.RandomState(0).randn(n, k)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lvf = LatentVectorField(model=handle, max_iter=2, device=device).fit(
            np.zeros((2, 64))
        )
        lvf.set_params(max_iter=steps, tol=1e-300)
        lvf.iterate(Z[:8])  # warm-up
        start = time.perf_counter()
        lvf.iterate(Z)
        if device == "cuda":
            torch.cuda.synchronize()
        return n * steps / (time.perf_counter() - start)


def run_loop(n: int, steps: int, k: int) -> float:
    ae, _ = _handle(k)
    ae.eval()
    Z = torch.as_tensor(np.random.RandomState(0).randn(n, k), dtype=torch.float32)
    with threadpool_limits(1), torch.inference_mode():
        start = time.perf_counter()
        for i in range(n):
            z = Z[i : i + 1]
            for _ in range(steps):
                z_new = ae.encoder(ae.decoder(z))
                if ((z_new - z) ** 2).sum() < 1e-300:
                    break
                z = z_new
        return n * steps / (time.perf_counter() - start)


def run_spectral(n: int, k: int, method: str) -> tuple[float, np.ndarray]:
    from skres.dynamics import LatentVectorField

    _, handle = _handle(k)
    Z = np.random.RandomState(0).randn(n, k)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lvf = LatentVectorField(model=handle, max_iter=2, device="cpu").fit(
            np.zeros((2, 64))
        )
        lvf.jacobian_spectral_radius(Z[:2], method=method, n_power_iter=5)  # warm-up
        start = time.perf_counter()
        rho = lvf.jacobian_spectral_radius(Z, method=method, random_state=0)
        return time.perf_counter() - start, rho


def _spectral_table(quick: bool) -> str:
    n = 32 if quick else 64
    rows = []
    for k in (16, 512) if quick else (16, 128, 512):
        (t_exact, exact), _, _ = measure(run_spectral, n, k, "exact")
        (t_power, power), _, _ = measure(run_spectral, n, k, "power")
        err = float(np.max(np.abs(power - exact) / exact))
        rows.append([k, n, t_exact, t_power, t_exact / t_power, err])
    return markdown_table(
        [
            "k",
            "points",
            "exact s",
            "power (200 it.) s",
            "speed-up",
            "max rel. difference",
        ],
        rows,
    ) + (
        "\n\nRandom weights put several eigenvalues of nearly the same modulus at "
        "the top of the spectrum, the slow case for the power method."
    )


def run(quick: bool) -> str:
    steps = 50 if quick else 200
    sizes = [256, 2048] if quick else [256, 2048, 16384]
    rows = []
    for k in (2, 16):
        loop_n = 32 if quick else 128
        rate, seconds, mem = measure(run_loop, loop_n, steps, k)
        rows.append(["per-sample loop", "cpu", k, loop_n, steps, rate, seconds, mem])
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for device in devices:
            for n in sizes:
                rate, seconds, mem = measure(run_batched, n, steps, k, device)
                rows.append(["skres batched", device, k, n, steps, rate, seconds, mem])
    table = markdown_table(
        [
            "method",
            "device",
            "k",
            "points",
            "steps",
            "points x steps / s",
            "wall s",
            "peak MiB",
        ],
        rows,
    )
    return (
        "Fixed number of steps per point; 1 CPU thread. The wall time includes "
        "process start-up and model construction.\n\n"
        + table
        + "\n\nJacobian spectral radius on the same random-weight autoencoder, "
        "1 CPU thread (time of the call only).\n\n" + _spectral_table(quick)
    )
