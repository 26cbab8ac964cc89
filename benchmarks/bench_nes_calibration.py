"""NeuralEffectSearch: family-wise error of the test options and of the default.

Table 1: the unbalanced sparse null (SAE-like codes of ``make_sparse_code_trial``
with no effect, n=200 units, the treatment redrawn with P(T)=0.3): FWER = share of
datasets where anything is selected, for the Welch test (default), the permutation
test and the shipped code (``reference_mode="strict"``).

Table 2: the default (median strata + exact per-arm OLS) against the shipped code
and two ablations on three worlds with a known truth: the leaky *unbalanced* world
(the sparse-code design with P(T)=0.3, n=20,000), the balanced SAE-like world
(``make_sparse_code_trial``, n=2000) and the Gaussian leaky world
(``make_leaky_gaussian_trial``, n=1152). FWER = share of seeds with at least one
false pick, FDP = false picks / max(|S|, 1), recall of the affected neurons.
"""

from __future__ import annotations

import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks._common import markdown_table

TITLE = "NeuralEffectSearch: FWER of the tests and the default (calibration study)"

CONFIGS = {
    "default (median strata + OLS)": {},
    "reference_mode='strict' (shipped code)": {"reference_mode": "strict"},
    "median strata, no adjustment": {"residualize": None},
    "Z>0 strata + OLS": {"strata": "positive"},
}

#: Settings run per world (the first k of CONFIGS; the machine was shared).
NCONF = {"leaky_unbalanced": 3, "sparse": 2, "gaussian": 4}


def _sparse_null(seed: int, n: int = 200, p_treat: float = 0.3):
    from skres.datasets import make_sparse_code_trial

    Z, _, _ = make_sparse_code_trial(n, effect=0.0, random_state=seed)
    T = (np.random.default_rng(seed + 10_000).uniform(size=n) < p_treat).astype(int)
    return Z, T


def _leaky_unbalanced(seed: int, n: int = 20_000, p_treat: float = 0.3):
    """The sparse-code design (two affected concepts, leaky ReLU neurons, sparse
    log-normal noise) with an unbalanced treatment P(T) = p_treat."""
    rng = np.random.default_rng(seed)
    T = (rng.uniform(size=n) < p_treat).astype(int)
    p_y = 0.5 + 0.4 * (T - 0.5)
    Y = (rng.uniform(size=(n, 2)) < p_y[:, None]).astype(float)
    C = (rng.uniform(size=(n, 10)) < rng.uniform(0.1, 0.5, 10)).astype(float)
    concepts = np.column_stack([Y, C])
    on = concepts * rng.lognormal(0.0, 0.5, concepts.shape)
    off = (1 - concepts) * (rng.uniform(size=concepts.shape) < 0.05)
    principal = on + off * rng.uniform(0.0, 0.1, concepts.shape)
    a = rng.uniform(0.05, 0.4, (2, 50))
    pre = Y @ a + 0.8 * C[:, np.arange(50) % 10] - 0.3
    leaky = np.maximum(pre + 0.3 * rng.standard_normal((n, 50)), 0.0)
    rate = rng.uniform(0.02, 0.3, 100)
    noise = (rng.uniform(size=(n, 100)) < rate) * rng.lognormal(0.0, 0.5, (n, 100))
    return np.column_stack([principal, leaky, noise]), T, np.array([0, 1])


def _world(name: str, seed: int):
    from skres import datasets

    if name == "leaky_unbalanced":
        return _leaky_unbalanced(seed)
    if name == "sparse":
        Z, T, info = datasets.make_sparse_code_trial(2000, random_state=seed)
        return Z, T, info.affected
    Z, T, info = datasets.make_leaky_gaussian_trial(1152, random_state=seed)
    return Z, T, info.affected


def null_fwer(n_datasets: int, n_permutations: int) -> list[list]:
    from skres.causal import NeuralEffectSearch

    tests = {
        "Welch (default)": {},
        f"permutation ({n_permutations} re-randomisations)": {
            "test": "permutation",
            "n_permutations": n_permutations,
        },
        "reference_mode='strict'": {"reference_mode": "strict"},
    }
    hits = {name: 0 for name in tests}
    for seed in range(n_datasets):
        Z, T = _sparse_null(seed)
        for name, kw in tests.items():
            nes = NeuralEffectSearch(device="cpu", random_state=seed, **kw)
            hits[name] += len(nes.fit(Z, T).selected_features_) > 0
    return [[name, hits[name] / n_datasets] for name in tests]


def default_study(seeds: int, worlds: tuple[str, ...] | None = None) -> list[list]:
    from skres.causal import NeuralEffectSearch

    rows = []
    labels = {
        "leaky_unbalanced": "leaky, unbalanced P(T)=0.3, n=20000",
        "sparse": "SAE-like sparse, n=2000",
        "gaussian": "Gaussian leaky, n=1152",
    }
    for world, label in labels.items():
        if worlds is not None and world not in worlds:
            continue
        configs = {k: v for i, (k, v) in enumerate(CONFIGS.items()) if i < NCONF[world]}
        stats = {name: [] for name in configs}
        for seed in range(seeds):
            Z, T, truth = _world(world, seed)
            for name, kw in configs.items():
                chosen = set(
                    NeuralEffectSearch(device="cpu", **kw)
                    .fit(Z, T)
                    .selected_features_.tolist()
                )
                false = len(chosen - set(truth.tolist()))
                stats[name].append(
                    (
                        false > 0,
                        false / max(len(chosen), 1),
                        len(chosen & set(truth.tolist())) / len(truth),
                    )
                )
        for name in configs:
            fwer, fdp, recall = np.mean(stats[name], axis=0)
            rows.append([label, name, float(fwer), float(fdp), float(recall)])
    return rows


def run(quick: bool = False) -> str:
    n_datasets, seeds = (20, 4) if quick else (100, 30)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        null = null_fwer(n_datasets, 9999)
        study = default_study(seeds)
    return "\n".join(
        [
            f"Unbalanced sparse null (n=200, m=423, P(T)=0.3), {n_datasets} "
            "datasets, alpha = 0.05 (Bonferroni over the remaining active neurons).",
            "",
            markdown_table(["test", "FWER"], null),
            "",
            f"The default against the shipped code and ablations, {seeds} seeds per "
            "world (Welch test).",
            "",
            markdown_table(["world", "setting", "FWER", "mean FDP", "recall"], study),
        ]
    )


if __name__ == "__main__":
    print(run(quick=True))
