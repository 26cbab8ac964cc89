"""NeuralEffectSearch vs naive per-neuron Bonferroni t-tests: accuracy and speed.

Accuracy, on the spec's three simulated worlds with a known truth: mean false
discovery proportion (FDP = false picks / max(|S|, 1)), recall, mean selection size
and the fraction of seeds with exact recovery. The naive baseline is what a user
would otherwise do: ``scipy.stats.ttest_ind(equal_var=False)`` on every neuron with
a Bonferroni correction (BH with ``statsmodels`` as a second baseline). Speed: one
fit on n=5000 units and m=4623 neurons (spec N13), the shipped reference
behaviour (``reference_mode=True``), and the naive test on the same data.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks._common import markdown_table, measure

TITLE = "NeuralEffectSearch vs naive per-neuron tests (accuracy and speed)"


def _world(name: str, seed: int, quick: bool):
    from skres import datasets

    if name == "gaussian":
        return datasets.make_leaky_gaussian_trial(1152, random_state=seed)
    if name == "sparse":
        return datasets.make_sparse_code_trial(4000, effect=0.4, random_state=seed)
    if name == "paradox":
        n = 20_000 if quick else 100_000
        return datasets.make_paradox_trial(n, effect=2.0, random_state=seed)
    if name == "wide":
        return datasets.make_sparse_code_trial(5000, n_noise=4500, random_state=seed)
    raise ValueError(name)


def _naive(Z: np.ndarray, T: np.ndarray, method: str) -> np.ndarray:
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    p = stats.ttest_ind(Z[T == 1], Z[T == 0], equal_var=False).pvalue
    ok = np.isfinite(p)
    reject = np.zeros(len(p), dtype=bool)
    reject[ok] = multipletests(p[ok], alpha=0.05, method=method)[0]
    return np.flatnonzero(reject)


def _select(method: str, Z: np.ndarray, T: np.ndarray) -> np.ndarray:
    from skres.causal import NeuralEffectSearch

    if method == "bonferroni":
        return _naive(Z, T, "bonferroni")
    if method == "bh":
        return _naive(Z, T, "fdr_bh")
    params = {"reference_mode": True} if method == "nes_reference" else {}
    return NeuralEffectSearch(device="cpu", **params).fit(Z, T).selected_features_


def accuracy(world: str, method: str, seeds: int, quick: bool) -> list[float]:
    fdp, recall, size, exact = [], [], [], []
    with threadpool_limits(1):
        for seed in range(seeds):
            Z, T, info = _world(world, seed, quick)
            chosen = set(_select(method, Z, T).tolist())
            truth = set(info.affected.tolist())
            fdp.append(len(chosen - truth) / max(len(chosen), 1))
            recall.append(len(chosen & truth) / len(truth))
            size.append(len(chosen))
            exact.append(chosen == truth)
    return [float(np.mean(v)) for v in (fdp, recall, size, exact)]


def timed_fit(method: str) -> int:
    """Data generation happens before the timer in ``speed``; returns |S|."""
    return len(_select(method, *_WIDE[:2]))


_WIDE: tuple = ()


def speed(method: str, repeats: int) -> float:
    import time

    global _WIDE
    _WIDE = _world("wide", 0, False)
    with threadpool_limits(1):
        timed_fit(method)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            timed_fit(method)
    return (time.perf_counter() - start) / repeats


def run(quick: bool = False) -> str:
    seeds = {"gaussian": 5 if quick else 20, "sparse": 2 if quick else 5}
    seeds["paradox"] = 2 if quick else 5
    methods = [
        ("bonferroni", "naive Welch t-tests + Bonferroni"),
        ("bh", "naive Welch t-tests + BH (FDR 0.05)"),
        ("nes_reference", "NES, reference_mode=True (shipped code)"),
        ("nes", "NES (default: median strata + exact OLS)"),
    ]
    worlds = [
        ("gaussian", "Gaussian leaky, n=1152, m=200"),
        ("sparse", "SAE-like sparse, n=4000, m=423"),
        ("paradox", f"Fig. 3, n={'2e4' if quick else '1e5'}, m=100"),
    ]
    rows = []
    for world, world_label in worlds:
        for method, label in methods:
            (fdp, rec, size, exact), seconds, _ = measure(
                accuracy, world, method, seeds[world], quick
            )
            rows.append([world_label, label, fdp, rec, size, exact, seconds])
    acc = markdown_table(
        ["world", "method", "mean FDP", "recall", "mean size", "exact", "time (s)"],
        rows,
    )
    repeats = 1 if quick else 3
    speed_rows = []
    for method, label in methods:
        seconds, total, peak = measure(speed, method, repeats)
        speed_rows.append([label, seconds, peak])
    base = speed_rows[0][1]
    for row in speed_rows:
        row.insert(2, row[1] / base)
    spd = markdown_table(
        ["method", "time per fit (s)", "relative to naive", "peak extra RSS (MiB)"],
        speed_rows,
    )
    return (
        f"Accuracy: seeds per world {seeds}; truth = the directly affected neurons; "
        "alpha = 0.05; 1 thread; each cell in a fresh process (time includes data "
        "generation).\n\n" + acc + "\n\nSpeed: one fit on n=5000 units, m=4623 "
        f"neurons (spec N13 target < 10 s), mean of {repeats} after a warm-up, "
        "1 thread, CPU.\n\n" + spd
    )
