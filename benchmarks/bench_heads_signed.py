"""Head Pursuit protocols on SmolLM2-135M: which heads to flip, per shipped concept.

The explained-variance ranking ignores the sign and the size of a head's causal
effect: on SmolLM2-135M the top SOMP heads of some concepts (animals, months)
*raise* the concept when flipped, and the ones that lower it often break
unrelated tasks too. For every shipped concept this study compares, on
content-token writes of the chat-templated training prompts (``n_atoms=10``,
``min_layer=1``):

* ``last/any`` and ``content/any``: SOMP's top k (the paper's ranking; last-token
  or content-token writes);
* ``content/measured``: SOMP's top k among its 40 best heads whose flip alone
  lowers the concept on the *training* prompts
  (:func:`~skres.interpretability.measure_head_effects` passed as
  ``direction_scores`` with ``direction="promote"``);
* ``content/effect``: the same 40 candidates ordered by that measured effect
  (``rank_by="direction"``): SOMP proposes, the intervention orders;
* ``all/effect``: every head from layer 1 on measured and ordered by its effect,
  without SOMP (does the pursuit matter?).

Edits are evaluated on the held-out questions with k in {1, 2, 3, 4, 6, 8, 12, 16}
and alpha in {-1, 0}; ``content/effect`` runs the full
:func:`~skres.interpretability.evaluate_head_edits` protocol (logit lens, 10
layer-matched random draws), the others are SOMP rows only. Controls: every
shipped control task unrelated to the concept (36-60 questions).

Run ``python -m benchmarks heads_signed`` (``--quick``: two concepts) or, to
split the work, ``OMP_NUM_THREADS=1 nice -n 10 python -m
benchmarks.bench_heads_signed out.json [concept,concept,...]``; ``markdown`` turns
the JSON files (``merge``) into the RESULTS.md tables.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone

from benchmarks._common import markdown_table
from benchmarks._smollm2 import ORDER, head_writes, load_smollm2
from skres.interpretability import (
    HeadRanker,
    concept_token_ids,
    evaluate_head_edits,
    evaluate_head_sets,
    load_concept,
    load_control_task,
    load_reference_prompts,
    measure_head_effects,
    measure_head_specificity,
)

TITLE = "Head Pursuit protocols on SmolLM2-135M (eight shipped concepts)"
KS = (1, 2, 3, 4, 6, 8, 12, 16)
ALPHAS = (-1.0,)
N_CANDIDATES = 40
MAIN = "content/specific"
COMPARED = ("last/any", "content/any", "content/measured", "content/effect",
            "all/effect")  # fmt: skip


def _rankers(model, tokenizer, concept, ids, D):
    """Every selection of the study for one concept."""
    X, head_index = head_writes(model, tokenizer, concept.prompts, True)
    base = HeadRanker(
        concept_ids=ids, n_atoms=10, min_layer=1, top_k=16, head_index=head_index,
    ).fit(X, dictionary=D)  # fmt: skip
    everywhere = measure_head_effects(
        model, tokenizer, concept.prompts, np.flatnonzero(base.eligible_),
        head_index, concept_ids=ids, batch_size=160,
    )  # fmt: skip
    effects = np.full_like(everywhere, np.nan)  # SOMP's candidates only
    candidates = base.ranking_[:N_CANDIDATES]
    effects[candidates] = everywhere[candidates]
    specificity = measure_head_specificity(
        model, tokenizer, base, concept.prompts,
        load_reference_prompts(exclude=concept.name), n_candidates=N_CANDIDATES,
        batch_size=160,
    )  # fmt: skip
    promote = clone(base).set_params(direction="promote")
    by_effect = clone(promote).set_params(rank_by="direction")
    X_last, _ = head_writes(model, tokenizer, concept.prompts, False)
    return {
        "last/any": clone(base).fit(X_last, dictionary=D),
        "content/any": base,
        "content/measured": promote.fit(X, dictionary=D, direction_scores=-effects),
        "content/effect": clone(by_effect).fit(
            X, dictionary=D, direction_scores=-effects
        ),
        "content/specific": clone(by_effect).fit(
            X, dictionary=D, direction_scores=specificity
        ),
        "all/effect": clone(by_effect).fit(
            X, dictionary=D, direction_scores=-everywhere
        ),
    }, base


def _diagnosis(base, selected):
    """EVR margin of the selection over the median eligible head."""
    scores = base.scores_[base.eligible_]
    return {
        "evr_top8": float(np.median(base.scores_[base.ranking_[:8]])),
        "evr_median": float(np.median(scores)),
        "evr_selected": float(np.median(base.scores_[selected])),
        "somp_rank_of_selected": [
            int(np.flatnonzero(base.ranking_ == h)[0]) for h in selected
        ],
    }


def concept_study(model, tokenizer, D, name):
    """All selections, ks and alphas for one concept (a JSON-ready dict)."""
    concept = load_concept(name)
    controls = [load_control_task(c) for c in concept.controls]
    ids = concept_token_ids(tokenizer, concept.words)
    rankers, base = _rankers(model, tokenizer, concept, ids, D)
    main = rankers[MAIN]
    ks = [k for k in KS if k <= int(main.eligible_.sum())]
    ev = evaluate_head_edits(
        model, tokenizer, main, concept, controls, concept_ids=ids, ks=ks,
        alphas=ALPHAS, n_random=10, random_state=0, batch_size=160,
    )  # fmt: skip
    labels, conditions = [], []
    for key in COMPARED:
        r = rankers[key]
        n = int(r.eligible_.sum())
        for k in KS:
            for alpha in ALPHAS:
                if k <= n:
                    labels.append((key, k, alpha))
                    conditions.append((r.ranking_[:k], alpha))
    values = evaluate_head_sets(
        model, tokenizer, conditions, main.head_index_, concept, controls,
        concept_ids=ids, batch_size=160,
    )  # fmt: skip
    rand = {
        m: ev.random_summary(m, relative=True)
        for m in ("concept_mass", "control_accuracy")
    }
    rows = []
    for a, alpha in enumerate(ALPHAS):
        for j, k in enumerate(ks):
            rows.append({
                "selection": MAIN, "k": k, "alpha": alpha,
                "ratio": float(ev.relative("somp", "concept_mass")[a, j]),
                "retention": float(ev.relative("somp", "control_accuracy")[a, j]),
                "ll_ratio": float(ev.relative("logit_lens", "concept_mass")[a, j]),
                "ll_retention": float(
                    ev.relative("logit_lens", "control_accuracy")[a, j]),
                "random_ratio": rand["concept_mass"][:, a, j].tolist(),
                "random_retention": rand["control_accuracy"][:, a, j].tolist(),
            })  # fmt: skip
    for i, (label, k, alpha) in enumerate(labels, start=1):
        rows.append({
            "selection": label, "k": k, "alpha": alpha,
            "ratio": float(values["concept_mass"][i] / ev.base["concept_mass"]),
            "retention": float(
                values["control_accuracy"][i] / ev.base["control_accuracy"]),
        })  # fmt: skip
    return {
        "base": ev.base,
        "n_controls": sum(len(c.questions) for c in controls),
        "rows": rows,
        "heads": {
            key: r.head_index_[r.ranking_[:16]].tolist() for key, r in rankers.items()
        },
        "n_eligible": {key: int(r.eligible_.sum()) for key, r in rankers.items()},
        "diagnosis": _diagnosis(
            base, main.ranking_[: min(8, int(main.eligible_.sum()))]
        ),
    }


def main(out: str, names: tuple[str, ...] = ORDER) -> dict:
    model, tokenizer = load_smollm2()
    D = model.get_output_embeddings().weight.detach().numpy()
    start = time.perf_counter()
    results: dict = {"concepts": {}}
    for name in names:
        results["concepts"][name] = concept_study(model, tokenizer, D, name)
        results["wall_seconds"] = time.perf_counter() - start
        Path(out).write_text(json.dumps(results, indent=1))
        print(f"[{results['wall_seconds']:6.0f} s] {name}", flush=True)
    return results


def passes(row: dict) -> bool:
    """The acceptance bar for one (k, alpha) row with random controls."""
    rr, rt = row["random_ratio"][0], row["random_retention"][0]
    return (
        row["ratio"] <= 0.6
        and row["retention"] >= 0.8
        and (rr >= row["ratio"] + 0.15 or rt <= row["retention"] - 0.2)
    )


def best_rows(results: dict, alpha: float | None) -> dict[str, dict]:
    """Per concept, the passing row with the smallest k (else the most specific).

    ``alpha=None`` lets each concept choose its alpha too.
    """
    chosen = {}
    for name in [n for n in ORDER if n in results["concepts"]]:
        rows = [
            r for r in results["concepts"][name]["rows"]
            if r["selection"] == MAIN
            and (alpha is None or r["alpha"] == alpha)
        ]  # fmt: skip
        ok = [r for r in rows if passes(r)]
        if ok:
            chosen[name] = min(ok, key=lambda r: (r["k"], -r["alpha"]))
        else:
            chosen[name] = max(rows, key=lambda r: r["retention"] - r["ratio"])
    return chosen


def merge(paths: list[str]) -> dict:
    """Merge the JSON files of split runs."""
    results: dict = {"concepts": {}, "wall_seconds": 0.0}
    for path in paths:
        part = json.loads(Path(path).read_text())
        results["concepts"].update(part["concepts"])
        results["wall_seconds"] = max(results["wall_seconds"], part["wall_seconds"])
    return results


def _cell(r: dict) -> str:
    return f"{r['ratio']:.2f} / {r['retention']:.2f}"


def _overlap(results: dict, name: str) -> str:
    """The other concept whose top-8 selection shares most heads with this one."""
    mine = {tuple(h) for h in results["concepts"][name]["heads"][MAIN][:8]}
    shared = {
        other: len(mine & {tuple(h) for h in part["heads"][MAIN][:8]})
        for other, part in results["concepts"].items()
        if other != name
    }
    if not shared:
        return "-"
    other = max(shared, key=shared.get)
    return f"{shared[other]} ({other})"


def markdown(results: dict) -> str:
    """The RESULTS.md tables of a study."""
    names = [n for n in ORDER if n in results["concepts"]]
    counts = {a: sum(passes(r) for r in best_rows(results, a).values()) for a in ALPHAS}
    free = sum(passes(r) for r in best_rows(results, None).values())
    rows = []
    for n, r in best_rows(results, -1.0).items():
        part = results["concepts"][n]
        rows.append([
            n, f"{part['base']['concept_mass']:.3f} / "
            f"{part['base']['control_accuracy']:.2f} ({part['n_controls']})",
            r["k"], _cell(r),
            f"{r['random_ratio'][0]:.2f} ({r['random_ratio'][1]:.2f}-"
            f"{r['random_ratio'][2]:.2f}) / {r['random_retention'][0]:.2f}",
            f"{r['ll_ratio']:.2f} / {r['ll_retention']:.2f}",
            "pass" if passes(r) else "fail",
        ])  # fmt: skip
    compare = []
    for n in names:
        cells = [n]
        for sel in (*COMPARED, MAIN):
            by = {
                r["k"]: r for r in results["concepts"][n]["rows"]
                if r["selection"] == sel and r["alpha"] == -1.0
            }  # fmt: skip
            cells.append(
                ", ".join(f"{k}: {_cell(by[k])}" for k in (2, 4, 8, 16) if k in by)
                or "-"
            )
        compare.append(cells)
    diagnosis = []
    for n in names:
        part = results["concepts"][n]
        d = part["diagnosis"]
        diagnosis.append([
            n, f"{d['evr_top8']:.3f}", f"{d['evr_median']:.3f}",
            f"{d['evr_selected']:.3f}",
            ", ".join(map(str, d["somp_rank_of_selected"])),
            part["n_eligible"][MAIN], _overlap(results, n),
        ])  # fmt: skip
    return (
        "Protocol (`content/specific`): heads ranked by SOMP on content-token writes "
        "of the chat-templated training prompts (n_atoms=10, min_layer=1); SOMP's "
        f"top {N_CANDIDATES} are flipped one at a time and ordered by specificity "
        "(`measure_head_specificity`: the log change of the model's own answers on "
        "the other concepts' training prompts minus the log change of the concept "
        "mass on this concept's training prompts, for heads that lower the "
        'concept; `direction="promote"`, `rank_by="direction"`); the top k '
        "are flipped (alpha = -1, the paper's edit) and evaluated with "
        "`evaluate_head_edits` on 12 held-out concept questions and every unrelated "
        "shipped control task. k <= 16 is chosen per concept (the smallest passing "
        "k, else the most specific). Cells: concept-mass ratio / control retention "
        "relative to the unedited model (random: median of 10 layer-matched "
        "draws disjoint from the selection, mass IQR). Acceptance: SOMP mass <= "
        "0.6x and control >= 0.8x, random median mass >= SOMP + 0.15 or control "
        "<= SOMP - 0.2. Passing concepts: "
        + ", ".join(f"alpha = {a:g}: {counts[a]}" for a in ALPHAS)
        + (f"; alpha chosen per concept: {free}" if len(ALPHAS) > 1 else "")
        + f". **{counts[-1.0]} of {len(names)} "
        "concepts pass with the paper's flip.**\n\n"
        + markdown_table(
            ["concept", "base mass / control acc. (questions)", "k",
             "SOMP + specificity", "random median (mass IQR)", "logit lens",
             "acceptance"], rows,
        )
        + "\n\nSelections compared at alpha = -1 (SOMP rows only; k: "
        "concept-mass ratio / control retention). `last/any`, `content/any`: the "
        "paper's ranking on last-token or content-token writes; "
        "`content/measured`: SOMP order among its top 40 whose flip lowers the "
        "concept; `content/effect`: those 40 ordered by the concept effect alone; "
        "`all/effect`: every head measured and ordered by the concept effect, no "
        "SOMP; `content/specific`: the protocol above.\n\n"
        + markdown_table(
            ["concept", *COMPARED, MAIN], compare,
        )
        + "\n\nDiagnosis: median EVR of SOMP's top 8, of all eligible heads and of "
        "the protocol's top 8 (ranked on content tokens); SOMP ranks of the "
        "protocol's top 8; heads whose flip lowers the concept among SOMP's top "
        f"{N_CANDIDATES}; most heads shared with another concept's top 8.\n\n"
        + markdown_table(
            ["concept", "EVR SOMP top 8", "EVR median head", "EVR selected",
             "SOMP ranks of the top 8", "lowering candidates", "shared top 8"],
            diagnosis,
        )
    )  # fmt: skip


def figure(results: dict, path: str) -> None:
    """Per concept, at its chosen k: the protocol, random heads and logit lens."""
    import matplotlib.pyplot as plt

    chosen = best_rows(results, -1.0)
    names = list(chosen)
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    for ax, kind, label, bar in (
        (axes[0], "ratio", "concept mass (x unedited)", 0.6),
        (axes[1], "retention", "control accuracy (x unedited)", 0.8),
    ):
        rand = np.array([chosen[n][f"random_{kind}"] for n in names]).T
        ax.bar(x - 0.27, [chosen[n][kind] for n in names], 0.27,
               label="SOMP + specificity")  # fmt: skip
        ax.bar(x, rand[0], 0.27, yerr=[rand[0] - rand[1], rand[2] - rand[0]],
               label="random (median, IQR)")  # fmt: skip
        lens = "ll_ratio" if kind == "ratio" else "ll_retention"
        ax.bar(x + 0.27, [chosen[n][lens] for n in names], 0.27, label="logit lens")
        ax.set_xticks(
            x, [f"{n}\nk={chosen[n]['k']}" for n in names], rotation=30, fontsize=8
        )
        ax.set_ylabel(label)
        ax.axhline(1.0, color="0.6", linewidth=0.8)
        ax.axhline(bar, color="k", linestyle=":", linewidth=0.8)
    axes[0].legend(fontsize=8)
    fig.suptitle("SmolLM2-135M, top k heads flipped (alpha = -1), held-out prompts")
    fig.savefig(path, dpi=110)


def run(quick: bool = False) -> str:
    """Entry point of ``python -m benchmarks heads_signed``."""
    import tempfile

    names = ("numbers", "animals") if quick else ORDER
    with tempfile.TemporaryDirectory() as folder:
        results = main(str(Path(folder) / "study.json"), names)
    return markdown(results)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(
        sys.argv[1] if len(sys.argv) > 1 else "heads_signed.json",
        tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ORDER,
    )
