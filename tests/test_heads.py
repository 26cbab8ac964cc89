"""HeadRanker and the head hooks: spec heads_residual.md §7 B1-B3, C1-C2."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

from skres.datasets import make_planted_heads
from skres.interpretability import (
    HeadRanker,
    concept_token_ids,
    edit_heads,
    extract_head_outputs,
    logit_lens_scores,
)

transformers = pytest.importorskip("transformers")


# -------------------------------------------------------------------------- B1
@pytest.mark.parametrize("seed", range(10))
def test_b1_planted_heads_are_ranked_first(seed):
    X, dictionary, concept = make_planted_heads(random_state=seed)
    ranker = HeadRanker(
        dictionary=dictionary, concept_ids=concept, n_atoms=5, top_k=3
    ).fit(X)
    assert set(ranker.selected_heads_.tolist()) == {5, 17, 30}
    ordered = np.sort(ranker.scores_)[::-1]
    assert ordered[2] - ordered[3] >= 0.3


def test_other_sizes_and_planted_sets():
    X, dictionary, concept = make_planted_heads(
        200,
        n_heads=30,
        n_dims=48,
        vocab_size=500,
        concept_size=25,
        planted_heads=(0, 29),
        n_active=3,
        random_state=11,
    )
    ranker = HeadRanker(
        dictionary=dictionary, concept_ids=concept, n_atoms=6, top_k=2
    ).fit(X)
    assert set(ranker.selected_heads_.tolist()) == {0, 29}


# -------------------------------------------------------------------------- B2
def test_b2_transform_clone_and_pickle():
    X, dictionary, concept = make_planted_heads(100, random_state=0)
    ranker = HeadRanker(
        dictionary=dictionary, concept_ids=concept, n_atoms=5, top_k=3, flatten=False
    ).fit(X)
    out = ranker.transform(X)
    assert out.shape == (100, 3, 64)
    np.testing.assert_array_equal(out, X[:, ranker.selected_heads_])
    flat = ranker.set_params(flatten=True).transform(X)
    assert flat.shape == (100, 192)
    assert len(ranker.get_feature_names_out()) == 192
    restored = pickle.loads(pickle.dumps(ranker))
    np.testing.assert_array_equal(restored.scores_, ranker.scores_)
    from sklearn.base import clone

    refit = clone(ranker).fit(X)
    np.testing.assert_array_equal(refit.scores_, ranker.scores_)


def test_dictionary_as_fit_argument_matches_constructor():
    X, dictionary, concept = make_planted_heads(100, random_state=1)
    a = HeadRanker(dictionary=dictionary, concept_ids=concept, n_atoms=5).fit(X)
    b = HeadRanker(concept_ids=concept, n_atoms=5).fit(X, dictionary=dictionary)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    np.testing.assert_array_equal(a.supports_, b.supports_)
    assert set(np.unique(a.supports_)) <= set(concept)


# -------------------------------------------------------------------------- B3
def test_b3_explained_variance_metric():
    X, dictionary, concept = make_planted_heads(100, random_state=2)
    evr = HeadRanker(dictionary=dictionary, concept_ids=concept, n_atoms=5).fit(X)
    ev = HeadRanker(
        dictionary=dictionary,
        concept_ids=concept,
        n_atoms=5,
        metric="explained_variance",
    ).fit(X)
    head_variance = X.var(axis=0, ddof=1).sum(axis=1)
    np.testing.assert_allclose(ev.scores_, evr.scores_ * head_variance, rtol=1e-10)


def test_min_layer_head_index_and_random_control():
    X, dictionary, concept = make_planted_heads(
        100, n_heads=12, planted_heads=(1, 7), random_state=3
    )
    head_index = np.column_stack([np.repeat(np.arange(3), 4), np.tile(np.arange(4), 3)])
    ranker = HeadRanker(
        dictionary=dictionary,
        concept_ids=concept,
        n_atoms=5,
        top_k=2,
        head_index=head_index,
        min_layer=1,
    ).fit(X)
    assert 1 not in ranker.selected_heads_  # layer 0 is excluded
    assert np.isneginf(ranker.scores_[:4]).all()
    assert 7 in ranker.selected_heads_
    controls = ranker.random_control(5, random_state=0)
    wanted = sorted(head_index[ranker.selected_heads_, 0])
    for heads in controls:
        assert not set(heads) & set(ranker.selected_heads_)
        assert sorted(head_index[heads, 0]) == wanted
        assert (head_index[heads, 0] >= 1).all()


def test_logit_lens_scores_and_explain():
    X, dictionary, concept = make_planted_heads(100, random_state=4)
    ll = logit_lens_scores(X, dictionary, concept)
    expected = [np.mean(X[:, h] @ dictionary[concept].T) for h in range(X.shape[1])]
    np.testing.assert_allclose(ll, expected, rtol=1e-10)
    ranker = HeadRanker(dictionary=dictionary, concept_ids=concept, n_atoms=5).fit(X)
    tokens = ranker.explain(X, 5, n_tokens=4)
    assert len(tokens) == 4 and set(tokens) <= set(concept)


def test_explain_many_heads_in_bounded_memory():
    import sklearn

    X, dictionary, concept = make_planted_heads(60, random_state=6)
    ranker = HeadRanker(dictionary=dictionary, concept_ids=concept, n_atoms=3).fit(X)
    heads = [5, 0, 17, 30]
    together = ranker.explain(X, heads, n_tokens=3)
    with sklearn.config_context(working_memory=1e-6):  # one head per SOMP batch
        chunked = ranker.explain(X, np.array(heads), n_tokens=3)
    assert together == chunked == [ranker.explain(X, h, n_tokens=3) for h in heads]
    for bad in (48, -1, [], [1.5], [[1, 2]]):
        with pytest.raises(ValueError, match="head must be an integer"):
            ranker.explain(X, bad)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"concept_ids": [900]}, "concept_ids must be integer rows"),
        ({"head_index": np.zeros((3, 2))}, r"head_index must have shape \(48, 2\)"),
    ],
)
def test_bad_data_dependent_parameters(params, match):
    X, dictionary, concept = make_planted_heads(50, random_state=5)
    params = {"concept_ids": concept, **params}
    with pytest.raises(ValueError, match=match):
        HeadRanker(dictionary=dictionary, **params).fit(X)


def test_dictionary_width_mismatch():
    X, dictionary, _ = make_planted_heads(50, random_state=5)
    with pytest.raises(ValueError, match="dictionary must have shape"):
        HeadRanker(dictionary=dictionary[:, :10]).fit(X)


# ---------------------------------------------------------------- C1: hooks
def _seeded(factory):
    with torch.random.fork_rng(devices=[]):
        torch.random.manual_seed(0)
        return factory().eval()


def _gpt2():
    config = transformers.GPT2Config(
        n_embd=64, n_layer=3, n_head=4, vocab_size=100, bos_token_id=0, eos_token_id=0
    )
    return _seeded(lambda: transformers.GPT2LMHeadModel(config))


def _llama():
    config = transformers.LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=100,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    return _seeded(lambda: transformers.LlamaForCausalLM(config))


def _attention_blocks(model):
    if hasattr(model, "transformer"):
        return [block.attn for block in model.transformer.h]
    return [layer.self_attn for layer in model.model.layers]


@pytest.mark.parametrize("factory", [_gpt2, _llama], ids=["gpt2", "llama-gqa"])
@pytest.mark.parametrize("positions", ["mean", "last"])
def test_c1_head_writes_sum_to_attention_output(factory, positions):
    model = factory()
    ids = torch.randint(1, 100, (3, 7), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[0, 5:] = 0  # right padding on the first prompt
    X, head_index = extract_head_outputs(
        model,
        {"input_ids": ids, "attention_mask": mask},
        positions=positions,
        batch_size=2,
    )
    blocks = _attention_blocks(model)
    n_heads = 4
    assert X.shape == (3, len(blocks) * n_heads, 64)
    assert head_index.tolist()[:5] == [[0, 0], [0, 1], [0, 2], [0, 3], [1, 0]]
    # Reference: each attention block's own output, prompt by prompt.
    outputs = {}
    handles = [
        b.register_forward_hook(
            lambda m, a, o, i=i: outputs.__setitem__(
                i, o[0] if isinstance(o, tuple) else o
            )
        )
        for i, b in enumerate(blocks)
    ]
    try:
        for i in range(3):
            with torch.inference_mode():
                model(input_ids=ids[i : i + 1], attention_mask=mask[i : i + 1])
            valid = mask[i].bool()
            for layer in range(len(blocks)):
                out = outputs[layer][0][valid]
                ref = out.mean(0) if positions == "mean" else out[-1]
                got = X[i, layer * n_heads : (layer + 1) * n_heads].sum(axis=0)
                assert np.abs(got - ref.numpy()).max() <= 1e-5
    finally:
        for handle in handles:
            handle.remove()
    assert all(not m._forward_pre_hooks for m in model.modules())


def test_c1_content_token_mask_and_layers():
    model = _gpt2()
    ids = torch.randint(1, 100, (2, 6), generator=torch.Generator().manual_seed(1))
    content = np.zeros((2, 6), dtype=bool)
    content[:, 2:4] = True
    X_all, _ = extract_head_outputs(model, ids, positions=content)
    X_one, index = extract_head_outputs(model, ids, positions=content, layers=[2])
    np.testing.assert_allclose(X_one, X_all[:, 8:], atol=1e-6)
    assert index.tolist() == [[2, h] for h in range(4)]
    with pytest.raises(ValueError, match="layers must be indices"):
        extract_head_outputs(model, ids, layers=[5])
    with pytest.raises(ValueError, match="positions must be"):
        extract_head_outputs(model, ids, positions="first")
    with pytest.raises(TypeError, match="support Hugging Face GPT-2"):
        extract_head_outputs(torch.nn.Linear(2, 2), ids)


# ---------------------------------------------------------------- C2: editing
@pytest.mark.parametrize("factory", [_gpt2, _llama], ids=["gpt2", "llama-gqa"])
def test_c2_editing_is_exact_and_restored(factory):
    model = factory()
    ids = torch.randint(1, 100, (2, 6), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        base = model(ids).logits
        with edit_heads(model, {(1, 2): 1.0}):
            identity = model(ids).logits
    assert (identity - base).abs().max() <= 1e-7
    for alpha in (0.0, -1.0, 5.0):
        surgery = copy.deepcopy(model)
        proj = (
            surgery.transformer.h[1].attn.c_proj
            if hasattr(surgery, "transformer")
            else surgery.model.layers[1].self_attn.o_proj
        )
        with torch.no_grad():
            if hasattr(surgery, "transformer"):  # Conv1D: rows per head
                proj.weight[2 * 16 : 3 * 16] *= alpha
            else:  # Linear: columns per head
                proj.weight[:, 2 * 16 : 3 * 16] *= alpha
        with torch.inference_mode():
            with edit_heads(model, {(1, 2): alpha}):
                edited = model(ids).logits
            expected = surgery(ids).logits
        assert (edited - expected).abs().max() <= 1e-5
        if alpha != 1.0:
            assert (edited - base).abs().max() > 1e-4
    with torch.inference_mode():
        after = model(ids).logits
    assert torch.equal(after, base)


def test_c2_restored_after_an_exception_and_bad_heads():
    model = _gpt2()
    with pytest.raises(RuntimeError, match="boom"):
        with edit_heads(model, {(0, 1): -1.0}):
            raise RuntimeError("boom")
    assert all(not m._forward_pre_hooks for m in model.modules())
    with pytest.raises(ValueError, match=r"head \(3, 0\) does not exist"):
        with edit_heads(model, {(3, 0): 0.0}):
            pass


def test_concept_token_ids_covers_variants():
    class Tokenizer:
        vocab: dict[str, int] = {}

        def encode(self, text, add_special_tokens=False):
            assert add_special_tokens is False
            return [
                self.vocab.setdefault(piece, len(self.vocab))
                for piece in text.replace(" ", " _").split(" ")
                if piece
            ]

    tok = Tokenizer()
    ids = concept_token_ids(tok, ["red", "blue"])
    assert len(ids) == 8 and np.all(np.diff(ids) > 0)
    with pytest.raises(ValueError, match="no token ids"):
        concept_token_ids(tok, [])
