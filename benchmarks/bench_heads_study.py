"""Head Pursuit on SmolLM2-135M over the shipped concepts: which choices matter.

For every shipped concept, heads are ranked on the concept's training prompts and
edited (alpha = -1 unless stated) while the model answers held-out concept
questions and two unrelated control tasks:

* the reference protocol (last token of the plain prompt, ``n_atoms=10``,
  ``min_layer=1``, concept dictionary) runs the full protocol of
  :func:`~skres.interpretability.evaluate_head_edits`: SOMP, logit lens and 10
  random sets with SOMP's per-layer counts, disjoint from it, for k = 8 and 16;
* variants change one choice and are evaluated with SOMP's top 16: aggregation
  over the content tokens of the chat-templated prompt, ``n_atoms=50``,
  ``min_layer=0``, the full vocabulary as dictionary (a head scores the variance
  its concept atoms explain within a 10-atom full-vocabulary pursuit) and
  ablation (alpha = 0) instead of flipping.

Results are written after every concept. Run ``python -m benchmarks heads_study``
(``--quick``: two concepts, no full-vocabulary variant) or, to split the work,
``OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.bench_heads_study out.json
[concept,concept,...] [nofull]`` (``nofull`` skips the full-vocabulary variant,
about a minute of CPU per concept).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._common import markdown_table
from benchmarks._smollm2 import ORDER, head_writes, load_smollm2
from skres.interpretability import (
    HeadRanker,
    concept_token_ids,
    evaluate_head_edits,
    evaluate_head_sets,
    load_concept,
    load_control_task,
)

TITLE = "Head Pursuit on SmolLM2-135M across the eight shipped concepts"
KS = (8, 16)


VARIANT_LABELS = (
    "content tokens (chat)",
    "n_atoms 50",
    "min_layer 0",
    "full vocabulary",
    "reference, alpha = 0 (ablation)",
)


def _full_vocabulary_scores(X, D, ids, min_layer, head_index, n_atoms=10):
    """EVR gained by concept atoms in a full-vocabulary pursuit (27 heads a time)."""
    parts = [
        HeadRanker(n_atoms=n_atoms).fit(X[:, i : i + 27], dictionary=D)
        for i in range(0, X.shape[1], 27)
    ]
    curves = np.concatenate([p.evr_curves_ for p in parts])
    supports = np.concatenate([p.supports_ for p in parts])
    gains = np.diff(curves, axis=1, prepend=0.0)
    scores = (gains * np.isin(supports, ids)).sum(axis=1)
    scores[head_index[:, 0] < min_layer] = -np.inf
    return scores


def study_controls(name: str) -> tuple[str, str]:
    """The two control tasks this study was measured with.

    Capital cities and opposites (opposites and word repetition for countries):
    the plural and past-tense controls that every concept now lists were shipped
    later, with ``bench_heads_signed``.
    """
    return ("opposites", "repeat") if name == "countries" else ("capitals", "opposites")


def main(out: str, names: tuple[str, ...] = ORDER, full: bool = True) -> dict:
    model, tokenizer = load_smollm2()
    D = model.get_output_embeddings().weight.detach().numpy()
    start = time.perf_counter()
    results: dict = {"concepts": {}}
    for name in names:
        concept = load_concept(name)
        controls = [load_control_task(c) for c in study_controls(name)]
        ids = concept_token_ids(tokenizer, concept.words)
        X, head_index = head_writes(model, tokenizer, concept.prompts, chat=False)
        params = dict(concept_ids=ids, top_k=16, head_index=head_index)
        ranker = HeadRanker(n_atoms=10, min_layer=1, **params).fit(X, dictionary=D)
        ev = evaluate_head_edits(
            model, tokenizer, ranker, concept, controls, concept_ids=ids, ks=KS,
            n_random=10, random_state=0, batch_size=144,
        )  # fmt: skip
        Xc, _ = head_writes(model, tokenizer, concept.prompts, chat=True)
        variants = {
            "content tokens (chat)": HeadRanker(n_atoms=10, min_layer=1, **params)
            .fit(Xc, dictionary=D)
            .ranking_[:16],
            "n_atoms 50": HeadRanker(n_atoms=50, min_layer=1, **params)
            .fit(X, dictionary=D)
            .ranking_[:16],
            "min_layer 0": HeadRanker(n_atoms=10, min_layer=0, **params)
            .fit(X, dictionary=D)
            .ranking_[:16],
        }
        if full:  # about a minute of CPU per concept
            variants["full vocabulary"] = np.argsort(
                -_full_vocabulary_scores(X, D, ids, 1, head_index), kind="stable"
            )[:16]
        conditions = [(heads, -1.0) for heads in variants.values()]
        conditions.append((ranker.ranking_[:16], 0.0))
        values = evaluate_head_sets(
            model, tokenizer, conditions, head_index, concept, controls,
            concept_ids=ids, batch_size=144,
        )  # fmt: skip
        labels = [*variants, "reference, alpha = 0 (ablation)"]
        base = ev.base
        rows = {
            label: {
                "concept_ratio": float(
                    values["concept_mass"][i] / base["concept_mass"]
                ),
                "control_retention": float(
                    values["control_accuracy"][i] / base["control_accuracy"]
                ),
            }
            for i, label in enumerate(labels, start=1)
        }
        scores = ranker.scores_[np.isfinite(ranker.scores_)]
        results["concepts"][name] = {
            "base": base,
            "n_concept_ids": len(ids),
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
            "variants_k16": rows,
            "top_heads": ranker.head_index_[ranker.ranking_[:16]].tolist(),
            "top16": ranker.ranking_[:16].tolist(),
            "evr_top8": float(np.mean(ranker.scores_[ranker.ranking_[:8]])),
            "evr_median": float(np.median(scores)),
            "seconds": time.perf_counter() - start,
        }
        done = results["concepts"]
        for a in done:
            done[a]["overlap16"] = {
                b: len(set(done[a]["top16"]) & set(done[b]["top16"])) / 16
                for b in done
                if b != a
            }
        results["wall_seconds"] = time.perf_counter() - start
        Path(out).write_text(json.dumps(results, indent=1))
        print(f"[{results['wall_seconds']:6.0f} s] {name}", flush=True)
    return results


def markdown(results: dict) -> str:
    """The RESULTS.md tables of a study."""
    rows, variants = [], []
    names = [n for n in ORDER if n in results["concepts"]]
    passed = 0
    for n in names:
        r = results["concepts"][n]
        ok_any = False
        for j, k in enumerate(KS):
            sr, st = r["somp_ratio"][j], r["somp_retention"][j]
            rr, rt = r["random_ratio"][0][j], r["random_retention"][0][j]
            ok = sr <= 0.6 and st >= 0.8 and (rr >= sr + 0.15 or rt <= st - 0.2)
            ok_any |= ok
            q1, q3 = r["random_ratio"][1][j], r["random_ratio"][2][j]
            rows.append(
                [n, k, f"{sr:.2f} / {st:.2f}", f"{rr:.2f} ({q1:.2f}-{q3:.2f}) / "
                 f"{rt:.2f}", f"{r['ll_ratio'][j]:.2f} / {r['ll_retention'][j]:.2f}",
                 "pass" if ok else "fail"]
            )  # fmt: skip
        passed += ok_any
        cells = [f"{r['somp_ratio'][-1]:.2f} / {r['somp_retention'][-1]:.2f}"]
        for label in VARIANT_LABELS:
            v = r["variants_k16"].get(label)
            cells.append(
                "-" if v is None else
                f"{v['concept_ratio']:.2f} / {v['control_retention']:.2f}"
            )  # fmt: skip
        variants.append([n, *cells])
    return (
        "Heads ranked on each concept's training prompts (last token, n_atoms=10, "
        "min_layer=1), flipped (alpha = -1), evaluated with `evaluate_head_edits` on "
        "12 held-out concept questions and 24 control questions (two unrelated "
        "tasks). Cells: concept-mass ratio / control-accuracy retention relative to "
        "the unedited model; random = median of 10 layer-matched draws disjoint from "
        "the selection. Acceptance: SOMP mass <= 0.6x and control >= 0.8x, random "
        "median mass >= SOMP + 0.15 or control <= SOMP - 0.2. "
        f"**{passed} of {len(names)} concepts pass.**\n\n"
        + markdown_table(
            ["concept", "k", "SOMP", "random median (mass IQR)", "logit lens",
             "acceptance"], rows,
        )
        + "\n\nOne choice changed at a time (SOMP top 16; concept-mass ratio / "
        "control retention; '-' = not run).\n\n"
        + markdown_table(["concept", "reference", *VARIANT_LABELS], variants)
    )  # fmt: skip


def run(quick: bool = False) -> str:
    """Entry point of ``python -m benchmarks heads_study``."""
    import tempfile

    names = ("colours", "numbers") if quick else ORDER
    with tempfile.TemporaryDirectory() as folder:
        results = main(str(Path(folder) / "study.json"), names, full=not quick)
    return markdown(results)


def figure(results: dict, path: str, k_index: int = 0) -> None:
    """Per-concept bars: concept-mass ratio and control retention at one k."""
    import matplotlib.pyplot as plt

    names = [n for n in ORDER if n in results["concepts"]]
    rows = [results["concepts"][n] for n in names]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    x = np.arange(len(names))
    panels = (
        ("ratio", "concept mass (x unedited)"),
        ("retention", "control accuracy (x unedited)"),
    )
    for ax, (kind, label) in zip(axes, panels, strict=True):
        somp = [r[f"somp_{kind}"][k_index] for r in rows]
        lens = [r[f"ll_{kind}"][k_index] for r in rows]
        med = np.array([r[f"random_{kind}"][0][k_index] for r in rows])
        q1 = np.array([r[f"random_{kind}"][1][k_index] for r in rows])
        q3 = np.array([r[f"random_{kind}"][2][k_index] for r in rows])
        ax.bar(x - 0.27, somp, 0.27, label="SOMP")
        ax.bar(x, med, 0.27, yerr=[med - q1, q3 - med], label="random (median, IQR)")
        ax.bar(x + 0.27, lens, 0.27, label="logit lens")
        ax.set_xticks(x, names, rotation=30)
        ax.set_ylabel(label)
        ax.axhline(1.0, color="0.6", linewidth=0.8)
    axes[0].axhline(0.6, color="k", linestyle=":", linewidth=0.8)
    axes[1].axhline(0.8, color="k", linestyle=":", linewidth=0.8)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"SmolLM2-135M, top {KS[k_index]} heads flipped (alpha = -1)")
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    torch.set_num_threads(1)
    # python -m benchmarks.study_heads out.json [colours,numbers,...] [nofull]
    main(
        sys.argv[1] if len(sys.argv) > 1 else "study_heads.json",
        tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ORDER,
        full="nofull" not in sys.argv[3:],
    )
