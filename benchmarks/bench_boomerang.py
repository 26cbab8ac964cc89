"""BoomerangDistiller: perplexity vs size for boomerang, naive pruning and ablations.

Corpus: Python's ``pydoc_data.topics`` (stdlib; 90 % train, 20 000 held-out chars).
One char-level GPT teacher (full: 10 layers, d=64, context 64, 2000 steps, the
spec's CPU regime; quick: 6 layers, d=32) is trained once; then, side by side from
that teacher, the full-loss student, the CE-only student and the random-init student
(spec 2.5 item 11), each patched in both orders, against naive layer pruning (the
undistilled pruned student, patched the same way).
"""

from __future__ import annotations

from typing import Any

from threadpoolctl import threadpool_limits

from benchmarks._common import markdown_table, measure

TITLE = "BoomerangDistiller: zero-shot size curve vs naive layer pruning"


def _curves(quick: bool) -> dict[str, Any]:
    from pydoc_data.topics import topics

    from skres.distillation import BoomerangDistiller

    text = "".join(topics[k] for k in sorted(topics))
    split = int(0.9 * len(text))
    train, val = text[:split], text[split : split + 20_000]
    if quick:
        tp = {"d_model": 32, "n_layer": 6, "n_head": 4, "steps": 400, "lr": 5e-3}
        common = {"context": 24, "batch_size": 16, "random_state": 0}
        tp["batch_size"] = 16
        steps = 40
    else:
        tp = {"d_model": 64, "n_layer": 10, "n_head": 4, "steps": 2000, "lr": 3e-3}
        common = {"context": 64, "batch_size": 32, "random_state": 0}
        tp["batch_size"] = 32
        steps = 100
    out: dict[str, Any] = {}
    with threadpool_limits(1):
        base = BoomerangDistiller(teacher_params=tp, steps=1, lr=1e-9, **common)
        base.fit([train])
        teacher = base.teacher_
        for name, extra in (
            ("full loss", {}),
            ("CE only", {"lambda_kl": 0.0, "lambda_cos": 0.0}),
            ("random init", {"init": "random"}),
        ):
            est = BoomerangDistiller(
                teacher=lambda: teacher, steps=steps, lr=3e-4, **common, **extra
            ).fit([train])
            for order in ("first", "last"):
                out[(name, order)] = est.size_curve([val], order=order)
    return out


def run(quick: bool = False) -> str:
    curves, seconds, peak = measure(_curves, quick)
    depths = curves[("full loss", "first")]["n_layers"]
    params = curves[("full loss", "first")]["n_params"]
    rows = []
    for (name, order), curve in curves.items():
        rows.append([f"{name}, {order}", *curve["perplexity"]])
    for order in ("first", "last"):
        naive = curves[("full loss", order)]["naive_perplexity"]
        rows.append([f"naive pruning, {order}", *naive])
    headers = ["model (patch order)"] + [
        f"{d} layers ({p / 1e3:.0f}k)" for d, p in zip(depths, params, strict=True)
    ]
    return (
        f"Validation perplexity (chars) per depth; the first column is the student, "
        f"the last the teacher. 1 thread, {seconds:.0f} s in all (teacher training "
        f"included), peak extra RSS {peak:.0f} MiB.\n\n" + markdown_table(headers, rows)
    )
