"""BoomerangDistiller with a SmolLM2-like LLaMA teacher (tiny config, no download).

SmolLM2-135M ties its LM head to the embedding, uses grouped-query attention
(9 query heads, 3 key/value heads) and ``rope_theta=1e5``; the tests in
``test_boomerang.py`` use an untied LLaMA with the default RoPE base. These pin
that the adapter and the distiller's copies handle those features.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skres.distillation import BoomerangDistiller, hf_decoder_to_stack

transformers = pytest.importorskip("transformers")


def _smollm2_like(n_layers=6, seed=0):
    cfg = transformers.LlamaConfig(
        vocab_size=32,
        hidden_size=24,
        intermediate_size=48,
        num_hidden_layers=n_layers,
        num_attention_heads=3,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=64,
        rope_theta=1e5,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    with torch.random.fork_rng(devices=[]):
        torch.random.manual_seed(seed)
        return transformers.LlamaForCausalLM(cfg).eval()


def test_adapter_matches_tied_gqa_llama():
    model = _smollm2_like()
    assert model.lm_head.weight is model.model.embed_tokens.weight
    stack = hf_decoder_to_stack(model)
    x = torch.randint(3, 32, (3, 20), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        np.testing.assert_allclose(stack(x), model(x).logits, atol=1e-5)
        padded = torch.cat([torch.full((3, 5), 2), x], dim=1)  # left pads (eos)
        out = stack(padded, attention_mask=padded != 2)
        np.testing.assert_allclose(out[:, 5:], model(x).logits, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_distiller_keeps_the_tie_and_the_teacher(seed):
    model = _smollm2_like(seed=seed)
    ids = np.random.default_rng(seed).integers(3, 32, size=400)
    est = BoomerangDistiller(
        teacher=lambda: hf_decoder_to_stack(model),
        max_steps=3,
        batch_size=4,
        context=16,
        patch_order="first",
        random_state=seed,
    ).fit(ids)
    assert est.n_layers_range_ == (4, 6)
    # Copies keep the tie: one matrix, trained once, in teacher and student.
    for net in (est.teacher_, est.student_, est.interpolate(n_layers=4)):
        assert net.head.weight is net.embed.weight
    assert not torch.equal(est.student_.embed.weight, est.teacher_.embed.weight)
    n_hf = sum(p.numel() for p in model.parameters())  # the tied matrix once
    curve = est.size_curve(ids[:170])
    assert curve["n_layers"] == [4, 5, 6]
    assert curve["n_params"][-1] == n_hf
    # The patched 5-layer model holds two copies of the tied matrix (teacher
    # embedding, student head); the curve counts it once, so sizes grow by a layer.
    layer = sum(p.numel() for p in est.teacher_.blocks[0].parameters())
    assert np.diff(curve["n_params"]).tolist() == [layer, layer]
    assert curve["perplexity"][-1] == curve["naive_perplexity"][-1]
    x = torch.as_tensor(ids[:17])[None]
    with torch.inference_mode():
        ref = model(x[:, :-1]).logits.double()
        np.testing.assert_allclose(
            est.interpolate(n_layers=6)(x[:, :-1]), ref, atol=1e-5
        )
    nll = torch.nn.functional.cross_entropy(ref[0], x[0, 1:])
    assert est.perplexity(ids[:17], n_layers=6) == pytest.approx(
        float(torch.exp(nll)), rel=1e-6
    )
