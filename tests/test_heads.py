"""HeadRanker and the head hooks: spec heads_residual.md §7 B1-B3, C1-C2."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skres.datasets import make_planted_heads
from skres.interpretability import (
    CONCEPTS,
    CONTROL_TASKS,
    HeadRanker,
    concept_logit_shift,
    concept_token_ids,
    edit_heads,
    encode_prompts,
    evaluate_head_edits,
    evaluate_head_sets,
    extract_head_outputs,
    load_concept,
    load_control_task,
    load_reference_prompts,
    logit_lens_scores,
    measure_head_effects,
    measure_head_specificity,
)
from skres.interpretability.evaluation import _last_token_probabilities

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


@pytest.mark.parametrize("fit_override", [False, True])
def test_explain_refuses_a_dictionary_mutated_after_fit(fit_override):
    # issue 20: explain used to read the caller's live array, so changing it after
    # fit silently changed the answer.
    X, dictionary, concept = make_planted_heads(80, random_state=7)
    dictionary = dictionary.copy()
    ranker = HeadRanker(dictionary=dictionary, concept_ids=concept, n_atoms=4)
    ranker.fit(X, dictionary=dictionary.copy() if fit_override else None)
    before = ranker.explain(X, 2, n_tokens=3)
    assert ranker.explain(X, 2, n_tokens=3) == before  # unchanged: same answer
    dictionary[before[0]] *= -3.0
    with pytest.raises(ValueError, match="changed after fit"):
        ranker.explain(X, 2, n_tokens=3)
    # an explicit dictionary is the caller's choice and is used as given
    assert len(ranker.explain(X, 2, dictionary=dictionary, n_tokens=3)) == 3
    # pickling keeps the fitted digest
    import pickle

    again = pickle.loads(pickle.dumps(ranker))
    with pytest.raises(ValueError, match="changed after fit"):
        again.explain(X, 2, n_tokens=3)


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


# ------------------------------------------------ random controls, logit lens
@pytest.mark.parametrize("seed", range(5))
def test_random_control_matches_layers_for_every_k(seed):
    X, dictionary, concept = make_planted_heads(
        60, n_heads=24, planted_heads=(3, 9, 14), random_state=seed
    )
    head_index = np.column_stack([np.repeat(np.arange(4), 6), np.tile(np.arange(6), 4)])
    ranker = HeadRanker(
        dictionary=dictionary,
        concept_ids=concept,
        n_atoms=4,
        head_index=head_index,
        min_layer=1,
    ).fit(X)
    layers = head_index[:, 0]
    for k in (1, 3, 6, 9):
        sets = ranker.random_control(7, k=k, random_state=seed)
        assert len(sets) == 7
        top = ranker.ranking_[:k]
        for heads in sets:
            assert len(heads) == k == len(set(heads.tolist()))
            assert not set(heads.tolist()) & set(top.tolist())
            assert (layers[heads] >= 1).all()
            # Same per-layer counts wherever the layer has enough other heads.
            wanted = np.bincount(layers[top], minlength=4)
            free = 6 - wanted
            got = np.bincount(layers[heads], minlength=4)
            assert np.all(got >= np.minimum(wanted, free))
            if np.all(wanted <= free):
                np.testing.assert_array_equal(got, wanted)
        if k <= 3:  # many more free heads than k: actually random
            assert len({tuple(h) for h in sets}) > 1
    # Reproducible and different across seeds.
    a = ranker.random_control(3, k=6, random_state=1)
    b = ranker.random_control(3, k=6, random_state=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_random_control_relaxes_a_full_layer():
    # Top 5 heads all in one 6-head layer: only one free head there, the other
    # four come from the remaining eligible layers.
    X, dictionary, concept = make_planted_heads(
        60, n_heads=12, planted_heads=(6, 7, 8, 9, 10), random_state=0
    )
    head_index = np.column_stack([np.repeat(np.arange(2), 6), np.tile(np.arange(6), 2)])
    ranker = HeadRanker(
        dictionary=dictionary,
        concept_ids=concept,
        n_atoms=4,
        top_k=5,
        head_index=head_index,
    ).fit(X)
    assert sorted(ranker.selected_heads_) == [6, 7, 8, 9, 10]
    for heads in ranker.random_control(5, random_state=0):
        assert 11 in heads and len(heads) == 5
        assert (head_index[heads, 0] == 0).sum() == 4
    with pytest.raises(ValueError, match="k must be at most 12"):
        ranker.random_control(1, k=13)
    with pytest.raises(ValueError, match="not enough unselected heads"):
        ranker.random_control(1, k=8)


def test_logit_lens_attribute_respects_min_layer():
    X, dictionary, concept = make_planted_heads(
        80, n_heads=12, planted_heads=(2, 6), random_state=2
    )
    head_index = np.column_stack([np.repeat(np.arange(3), 4), np.tile(np.arange(4), 3)])
    ranker = HeadRanker(
        dictionary=dictionary,
        concept_ids=concept,
        n_atoms=4,
        head_index=head_index,
        min_layer=1,
    ).fit(X)
    expected = logit_lens_scores(X, dictionary, concept)
    assert np.isneginf(ranker.logit_lens_scores_[:4]).all()
    np.testing.assert_allclose(ranker.logit_lens_scores_[4:], expected[4:], rtol=1e-10)


# ------------------------------------------------------- sign-aware selection
def test_concept_logit_shift_formula():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((7, 4, 6))
    D = rng.standard_normal((20, 6))
    ids = [2, 5, 11]
    shift = concept_logit_shift(X, D, ids)
    logits = X @ D.T  # (n, heads, vocab)
    expected = (logits[..., ids].mean(axis=-1) - logits.mean(axis=-1)).mean(axis=0)
    np.testing.assert_allclose(shift, expected, rtol=1e-10)
    # A component shared by every row moves all logits alike (no softmax mass):
    # it does not change the shift.
    shared = D + rng.standard_normal(6)
    np.testing.assert_allclose(concept_logit_shift(X, shared, ids), shift, rtol=1e-9)
    with pytest.raises(ValueError, match="X must have shape"):
        concept_logit_shift(X[0], D, ids)


@pytest.mark.parametrize("seed", range(10))
def test_promote_keeps_the_planted_head_that_writes_for_the_concept(seed):
    # Heads 5 and 30 write +concept on average, head 17 -concept: the explained
    # variance cannot tell them apart, the sign can.
    X, dictionary, concept = make_planted_heads(
        random_state=seed, concept_size=8, signs=(1, -1, 1)
    )
    params = dict(dictionary=dictionary, concept_ids=concept, n_atoms=5, top_k=3)
    anysign = HeadRanker(direction="any", **params).fit(X)
    assert set(anysign.selected_heads_.tolist()) == {5, 17, 30}
    assert anysign.eligible_.all()
    promote = HeadRanker(direction="promote", **params).fit(X)
    scores = promote.direction_scores_
    assert scores[5] > 0 and scores[30] > 0 and scores[17] < 0
    assert {5, 30} <= set(promote.selected_heads_.tolist())
    assert 17 not in promote.selected_heads_
    np.testing.assert_array_equal(promote.eligible_, scores > 0)
    # Eligible heads come first in ranking_, each group by decreasing score.
    n = int(promote.eligible_.sum())
    assert promote.eligible_[promote.ranking_[:n]].all()
    assert np.all(np.diff(promote.scores_[promote.ranking_[:n]]) <= 0)
    assert np.all(np.diff(promote.scores_[promote.ranking_[n:]]) <= 0)
    np.testing.assert_array_equal(promote.scores_, anysign.scores_)


def test_direction_scores_argument_and_errors():
    X, dictionary, concept = make_planted_heads(
        60, n_heads=10, planted_heads=(2, 6), random_state=0
    )
    params = dict(
        dictionary=dictionary, concept_ids=concept, n_atoms=4, top_k=2,
        direction="promote",
    )  # fmt: skip
    measured = np.full(10, np.nan)
    measured[[2, 6, 7]] = [0.5, -0.1, 0.2]  # NaN: not measured, never selected
    ranker = HeadRanker(**params).fit(X, direction_scores=measured)
    np.testing.assert_array_equal(np.flatnonzero(ranker.eligible_), [2, 7])
    assert set(ranker.selected_heads_.tolist()) == {2, 7}
    np.testing.assert_array_equal(ranker.direction_scores_, measured)
    # Fewer promoting heads than top_k: a warning, and only those are selected.
    with pytest.warns(UserWarning, match="only 1 heads are eligible"):
        one = HeadRanker(**{**params, "top_k": 3}).fit(
            X, direction_scores=np.where(np.arange(10) == 6, 1.0, -1.0)
        )
    np.testing.assert_array_equal(one.selected_heads_, [6])
    with pytest.raises(ValueError, match="no head at or above min_layer"):
        HeadRanker(**params).fit(X, direction_scores=-np.ones(10))
    with pytest.raises(ValueError, match="direction_scores must hold"):
        HeadRanker(**params).fit(X, direction_scores=np.ones(9))
    with pytest.raises(ValueError, match="direction_scores must hold"):
        HeadRanker(**params).fit(X, direction_scores=np.full(10, np.inf))
    # direction="any" ignores the scores; without concept_ids "promote" has no
    # concept to read a sign from and ranks by score alone.
    anysign = HeadRanker(**{**params, "direction": "any"}).fit(
        X, direction_scores=measured
    )
    assert HeadRanker().direction == "any"  # the paper's ranking by default
    assert anysign.eligible_.all()
    full = HeadRanker(dictionary=dictionary, n_atoms=3, direction="promote").fit(X)
    assert full.eligible_.all()


def test_rank_by_direction_orders_eligible_heads_by_direction_scores():
    X, dictionary, concept = make_planted_heads(
        60, n_heads=10, planted_heads=(2, 6), random_state=1
    )
    params = dict(
        dictionary=dictionary, concept_ids=concept, n_atoms=4, top_k=3,
        direction="promote",
    )  # fmt: skip
    measured = np.full(10, np.nan)
    measured[[1, 2, 5, 6, 8]] = [0.1, 0.3, 0.9, -0.2, 0.3]
    by_score = HeadRanker(**params).fit(X, direction_scores=measured)
    ranker = HeadRanker(rank_by="direction", **params).fit(X, direction_scores=measured)
    assert HeadRanker().rank_by == "score"
    # Same scores and eligibility; only the order of the eligible heads changes.
    np.testing.assert_array_equal(ranker.scores_, by_score.scores_)
    np.testing.assert_array_equal(ranker.eligible_, by_score.eligible_)
    eligible = ranker.ranking_[:4]
    assert set(eligible.tolist()) == {1, 2, 5, 8}
    assert eligible[0] == 5 and eligible[-1] == 1
    # Heads 2 and 8 tie on the direction score: the higher EVR goes first.
    first, second = eligible[1], eligible[2]
    assert {first, second} == {2, 8}
    assert ranker.scores_[first] >= ranker.scores_[second]
    np.testing.assert_array_equal(ranker.selected_heads_, ranker.ranking_[:3])
    # The ineligible heads follow by decreasing score, as with rank_by="score".
    rest = ranker.ranking_[4:]
    assert np.all(np.diff(ranker.scores_[rest]) <= 0)
    # The random control matches the per-layer counts of the new top k.
    for drawn in ranker.random_control(3, k=3, random_state=0):
        assert not set(drawn.tolist()) & set(ranker.ranking_[:3].tolist())
    with pytest.raises(ValueError, match="rank_by"):
        HeadRanker(rank_by="effect", **params).fit(X, direction_scores=measured)


def test_planted_signs_validation_and_default_stream():
    a = make_planted_heads(50, random_state=3)[0]
    b = make_planted_heads(50, random_state=3, signs=(0, 0, 0))[0]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="signs must hold"):
        make_planted_heads(50, signs=(1, 2, 0))
    with pytest.raises(ValueError, match="signs must hold"):
        make_planted_heads(50, signs=(1,))


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
@pytest.mark.parametrize("seed", range(4))
def test_direct_sign_predicts_the_flip_on_a_tiny_model(kind, seed):
    # On a random-weight model the direct logit shift of a head predicts what
    # flipping it alone does to the concept's probability on the same prompts.
    model, tokenizer, ranker, concept, control, ids = _tiny_setup(seed, kind)
    prompts = ["the sky is blue", "a red cat", "green dog and sky", "blue and red"]
    batch, _ = encode_prompts(tokenizer, prompts)
    X, head_index = extract_head_outputs(model, batch, positions="last")
    D = model.get_output_embeddings().weight.detach().numpy()
    direct = concept_logit_shift(X, D, ids)
    heads = np.arange(len(head_index))
    effects = measure_head_effects(
        model, tokenizer, prompts, heads, head_index, concept_ids=ids
    )
    assert np.corrcoef(direct, -effects)[0, 1] > 0.5
    strongest = np.argmax(np.abs(direct))
    assert np.sign(direct[strongest]) == -np.sign(effects[strongest])


@pytest.mark.filterwarnings("ignore:only .* heads are eligible")
def test_measure_head_effects_matches_evaluate_head_sets():
    model, tokenizer, ranker, concept, control, ids = _tiny_setup()
    prompts = [q for q, _ in concept]
    heads = np.array([4, 7, 11])
    effects = measure_head_effects(
        model, tokenizer, prompts, heads, ranker.head_index_, concept_ids=ids,
        alpha=0.0, batch_size=2,
    )  # fmt: skip
    direct = evaluate_head_sets(
        model, tokenizer, [([h], 0.0) for h in heads], ranker.head_index_,
        concept, control, concept_ids=ids,
    )  # fmt: skip
    mass = direct["concept_mass"]
    np.testing.assert_allclose(effects[heads], np.log(mass[1:] / mass[0]), atol=1e-6)
    assert np.isnan(np.delete(effects, heads)).all()
    # A promote ranker fed the measured effects selects only heads whose
    # ablation lowers the concept.
    X = np.random.default_rng(0).standard_normal((6, 12, 32))
    promote = clone(ranker).set_params(direction="promote")
    promote.fit(X, direction_scores=-effects)
    assert set(np.flatnonzero(promote.eligible_)) == set(heads[effects[heads] < 0])
    with pytest.raises(ValueError, match="prompts must be"):
        measure_head_effects(model, tokenizer, [], heads, ranker.head_index_,
                             concept_ids=ids)  # fmt: skip
    with pytest.raises(ValueError, match="heads must be"):
        measure_head_effects(model, tokenizer, prompts, [], ranker.head_index_,
                             concept_ids=ids)  # fmt: skip
    with pytest.raises(ValueError, match="alpha must be finite"):
        measure_head_effects(model, tokenizer, prompts, heads, ranker.head_index_,
                             concept_ids=ids, alpha=np.nan)  # fmt: skip


@pytest.mark.filterwarnings("ignore:only .* heads are eligible")
@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_measure_head_specificity_combines_concept_and_reference_effects(kind):
    model, tokenizer, ranker, concept, control, ids = _tiny_setup(1, kind)
    train = ["the sky is blue", "a red cat", "green dog and sky", "blue and red"]
    reference = ["up and down", "big and small", "the dog and the cat"]
    heads = ranker.ranking_[:6]
    spec = measure_head_specificity(
        model, tokenizer, ranker, train, reference, n_candidates=6, batch_size=5
    )
    on_concept = measure_head_effects(
        model, tokenizer, train, heads, ranker.head_index_, concept_ids=ids
    )
    # Off-target: the probability of the unedited model's own top next token.
    elsewhere = measure_head_effects(
        model, tokenizer, reference, heads, ranker.head_index_, concept_ids=None
    )
    batch, _ = encode_prompts(tokenizer, reference)
    with torch.inference_mode():
        base = _last_token_probabilities(model, batch)
    own = base.argmax(dim=-1)
    h = int(heads[0])
    layer, head = (int(v) for v in ranker.head_index_[h])
    with torch.inference_mode(), edit_heads(model, {(layer, head): -1.0}):
        edited = _last_token_probabilities(model, batch)
    rows = torch.arange(len(reference))
    expected = np.log(edited[rows, own].mean().item() / base[rows, own].mean().item())
    assert elsewhere[h] == pytest.approx(expected, abs=1e-6)
    lowers = on_concept[heads] < 0
    np.testing.assert_allclose(
        spec[heads[lowers]], (elsewhere - on_concept)[heads[lowers]], atol=1e-12
    )
    assert np.isnan(spec[heads[~lowers]]).all()
    assert np.isnan(np.delete(spec, heads)).all()
    # The recipe: rank the lowering candidates by specificity.
    chosen = clone(ranker).set_params(direction="promote", rank_by="direction")
    X = np.random.default_rng(0).standard_normal((6, 12, 32))
    chosen.fit(X, direction_scores=spec)
    n = int(lowers.sum())
    assert set(chosen.ranking_[:n].tolist()) == set(heads[lowers].tolist())
    assert np.all(np.diff(spec[chosen.ranking_[:n]]) <= 0)
    with pytest.raises(ValueError, match="reference_prompts must be"):
        measure_head_specificity(model, tokenizer, ranker, train, [])
    with pytest.raises(ValueError, match="n_candidates"):
        measure_head_specificity(model, tokenizer, ranker, train, reference,
                                 n_candidates=0)  # fmt: skip


def test_reference_prompts_leave_the_concept_out():
    everything = load_reference_prompts()
    for name in CONCEPTS:
        concept = load_concept(name)
        others = load_reference_prompts(exclude=name)
        assert not set(others) & set(concept.prompts)
        assert set(concept.prompts[::4]) <= set(everything)
        questions = {q for q, _ in concept.questions}
        assert not set(everything) & questions
    for task in CONTROL_TASKS:
        assert not set(everything) & {q for q, _ in load_control_task(task).questions}
    assert len(load_reference_prompts(step=1)) == sum(
        len(load_concept(n).prompts) for n in CONCEPTS
    )
    assert load_reference_prompts(exclude=tuple(CONCEPTS)) == ()
    with pytest.raises(ValueError, match="exclude must name"):
        load_reference_prompts(exclude="weather")
    with pytest.raises(ValueError, match="step must be"):
        load_reference_prompts(step=0)


# ------------------------------------------------------------ shipped concepts
def test_shipped_concept_sets():
    assert len(CONCEPTS) >= 8 and len(CONTROL_TASKS) >= 2
    seen_words = {}
    for name in CONCEPTS:
        concept = load_concept(name)
        assert concept.name == name
        assert len(concept.words) >= 10 and len(set(concept.words)) == len(
            concept.words
        )
        assert len(concept.prompts) >= 20 and len(concept.questions) >= 12
        # Held out: no evaluation prompt is a training prompt.
        assert not {q for q, _ in concept.questions} & set(concept.prompts)
        words = {w.lower() for w in concept.words}
        for _, answer in concept.questions:
            assert any(a.lower() in words for a in answer.split("|")), (name, answer)
        assert len(concept.controls) >= 2
        for control in concept.controls:
            assert control in CONTROL_TASKS
        seen_words[name] = words
    # Concepts do not share words (their dictionaries are distinct).
    for a in CONCEPTS:
        for b in CONCEPTS:
            if a < b:
                assert not seen_words[a] & seen_words[b], (a, b)
    for name in CONTROL_TASKS:
        assert len(load_control_task(name).questions) >= 12
    # Countries are not controlled with a task about countries.
    assert "capitals" not in load_concept("countries").controls
    with pytest.raises(ValueError, match="name must be one of"):
        load_concept("planets")
    with pytest.raises(ValueError, match="name must be one of"):
        load_control_task("planets")


# --------------------------------------------------------- evaluation (tiny LM)
class _WordTokenizer:
    """Whitespace tokenizer over a fixed vocabulary, with a chat template."""

    chat_template = "toy"
    pad_token_id = 0
    eos_token_id = 0

    def __init__(self, words):
        self.vocab = {"<pad>": 0, "<user>": 1, "<end>": 2, "<bot>": 3}
        for w in words:
            self.vocab.setdefault(w, len(self.vocab))

    def __len__(self):
        return len(self.vocab)

    def encode(self, text, add_special_tokens=False):
        out = []
        for piece in text.replace("\n", " ").split():
            out.append(self.vocab.get(piece.lower(), 3))
        return out

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert not tokenize and add_generation_prompt
        return f"<user>\n{messages[0]['content']} <end>\n<bot>"


_WORDS = "red blue green cat dog sky is the a of big small up down and".split()


def _tiny_setup(seed=0, kind="llama"):
    if kind == "llama":
        config = transformers.LlamaConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=40,
            bos_token_id=0,
            eos_token_id=0,
            pad_token_id=0,
        )
        factory = transformers.LlamaForCausalLM
    else:  # no restart from the residual stream: full forwards
        config = transformers.GPT2Config(
            n_embd=32, n_layer=3, n_head=4, vocab_size=40, bos_token_id=0,
            eos_token_id=0,
        )  # fmt: skip
        factory = transformers.GPT2LMHeadModel
    with torch.random.fork_rng(devices=[]):
        torch.random.manual_seed(seed)
        model = factory(config).eval()
    tokenizer = _WordTokenizer(_WORDS)
    concept = [("the sky is", "blue"), ("a cat is red", "red"), ("dog is", "green")]
    control = [("up and", "down"), ("big and small and big", "small")]
    train = ["the sky is blue", "a red cat", "green dog and sky", "blue and red"]
    batch, _ = encode_prompts(tokenizer, train)
    X, head_index = extract_head_outputs(model, batch, positions="last")
    ids = np.array([tokenizer.vocab[w] for w in ("red", "blue", "green")])
    D = model.get_output_embeddings().weight.detach().numpy()
    ranker = HeadRanker(
        dictionary=D,
        concept_ids=ids,
        n_atoms=2,
        top_k=2,
        head_index=head_index,
        min_layer=1,
    ).fit(X)
    return model, tokenizer, ranker, concept, control, ids


def test_encode_prompts_content_mask():
    tokenizer = _WordTokenizer(_WORDS)
    batch, content = encode_prompts(tokenizer, ["the sky is blue", "up"])
    assert batch["input_ids"].shape == (2, 4)
    np.testing.assert_array_equal(batch["attention_mask"].numpy(), content)
    assert batch["input_ids"][1, 1:].eq(0).all()  # right padding
    batch, content = encode_prompts(
        tokenizer, ["the sky is blue", "up"], chat_template=True
    )
    ids = batch["input_ids"].numpy()
    # <user> [content] <end> <bot>: only the prompt's own tokens are flagged.
    assert ids[0, 0] == 1 and ids[0, 5] == 2 and ids[0, 6] == 3
    np.testing.assert_array_equal(content[0], [0, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(content[1], [0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(
        ids[0, content[0]], tokenizer.encode("the sky is blue")
    )
    with pytest.raises(ValueError, match="prompts must be"):
        encode_prompts(tokenizer, [])


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_evaluate_head_sets_equals_edit_heads(kind):
    model, tokenizer, ranker, concept, control, ids = _tiny_setup(kind=kind)
    head_index = ranker.head_index_
    conditions = [([5], -1.0), ([4, 9, 10], 0.0), ([5], 1.0), ([], -1.0), ([11], 5.0)]
    small = evaluate_head_sets(
        model,
        tokenizer,
        conditions,
        head_index,
        concept,
        control,
        concept_ids=ids,
        batch_size=3,
    )
    large = evaluate_head_sets(
        model,
        tokenizer,
        conditions,
        head_index,
        concept,
        control,
        concept_ids=ids,
        batch_size=1000,
    )
    for metric in ("concept_mass", "concept_accuracy", "control_accuracy"):
        np.testing.assert_allclose(small[metric], large[metric], atol=1e-6)
    batch, _ = encode_prompts(tokenizer, [q for q, _ in concept])
    for c, (heads, alpha) in enumerate([([], 1.0), *conditions]):
        scales = {tuple(int(v) for v in head_index[h]): alpha for h in heads}
        with torch.inference_mode(), edit_heads(model, scales):
            probs = _last_token_probabilities(model, batch)
        mass = probs[:, ids].sum(dim=1).mean().item()
        assert small["concept_mass"][c] == pytest.approx(mass, abs=1e-6)
    # alpha = 1 and the empty set are the unedited model.
    assert small["concept_mass"][3] == pytest.approx(small["concept_mass"][0], abs=1e-7)
    assert small["concept_mass"][4] == pytest.approx(small["concept_mass"][0], abs=1e-7)
    assert abs(small["concept_mass"][1] - small["concept_mass"][0]) > 1e-5
    assert all(not m._forward_pre_hooks for m in model.modules())


def test_evaluate_head_edits_structure():
    model, tokenizer, ranker, concept, control, ids = _tiny_setup()
    ev = evaluate_head_edits(
        model,
        tokenizer,
        ranker,
        concept,
        control,
        ks=(1, 3),
        alphas=(-1.0, 0.0),
        n_random=4,
        random_state=0,
    )
    assert ev.somp["concept_mass"].shape == (2, 2)
    assert ev.random["control_accuracy"].shape == (2, 2, 4)
    for j, k in enumerate((1, 3)):
        np.testing.assert_array_equal(ev.heads["somp"][k], ranker.ranking_[:k])
        lens = ev.heads["logit_lens"][k]
        assert set(lens.tolist()) == set(
            np.argsort(-ranker.logit_lens_scores_)[:k].tolist()
        )
        for drawn in ev.heads["random"][k]:
            assert not set(drawn.tolist()) & set(ranker.ranking_[:k].tolist())
        # Each cell equals a direct evaluation of that head set.
        direct = evaluate_head_sets(
            model,
            tokenizer,
            [(ranker.ranking_[:k], 0.0)],
            ranker.head_index_,
            concept,
            control,
            concept_ids=ids,
        )
        assert ev.somp["concept_mass"][1, j] == pytest.approx(
            direct["concept_mass"][1], abs=1e-6
        )
        assert ev.base["concept_mass"] == pytest.approx(
            direct["concept_mass"][0], abs=1e-6
        )
    med, q1, q3 = ev.random_summary("concept_mass")
    assert np.all(q1 <= med) and np.all(med <= q3)
    np.testing.assert_allclose(
        ev.relative("somp", "concept_mass"),
        ev.somp["concept_mass"] / ev.base["concept_mass"],
    )
    assert ev.specificity("somp").shape == (2, 2)
    records = ev.to_records()
    assert len(records) == 2 * 2 * 3
    assert {r["method"] for r in records} == {"somp", "logit_lens", "random"}
    assert len(records[2]["concept_mass_iqr"]) == 2
    # Reproducible with the same random_state.
    again = evaluate_head_edits(
        model,
        tokenizer,
        ranker,
        concept,
        control,
        ks=(1, 3),
        alphas=(-1.0, 0.0),
        n_random=4,
        random_state=0,
    )
    np.testing.assert_array_equal(
        again.random["concept_mass"], ev.random["concept_mass"]
    )


def test_evaluate_head_edits_errors():
    model, tokenizer, ranker, concept, control, ids = _tiny_setup()
    with pytest.raises(ValueError, match="ks must not exceed the 8 heads"):
        evaluate_head_edits(model, tokenizer, ranker, concept, control, ks=(9,))
    with pytest.raises(ValueError, match="concept_questions must be"):
        evaluate_head_edits(model, tokenizer, ranker, ["x"], control, ks=(1,))
    with pytest.raises(ValueError, match="alphas must be finite"):
        evaluate_head_edits(
            model, tokenizer, ranker, concept, control, ks=(1,), alphas=(np.nan,)
        )
    full = HeadRanker(
        dictionary=ranker.dictionary, n_atoms=2, head_index=ranker.head_index_
    ).fit(np.random.default_rng(0).standard_normal((5, 12, 32)))
    with pytest.raises(ValueError, match="concept_ids is needed"):
        evaluate_head_edits(model, tokenizer, full, concept, control, ks=(1,))
    with pytest.raises(ValueError, match="head sets must index"):
        evaluate_head_sets(
            model,
            tokenizer,
            [([12], -1.0)],
            ranker.head_index_,
            concept,
            control,
            concept_ids=ids,
        )


def test_plot_edit_curve():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from skres.plotting import plot_edit_curve

    model, tokenizer, ranker, concept, control, ids = _tiny_setup()
    ev = evaluate_head_edits(
        model, tokenizer, ranker, concept, control, ks=(1, 2, 4), n_random=3
    )
    axes = plot_edit_curve(ev)
    assert len(axes) == 2
    somp_line = axes[0].lines[0]
    np.testing.assert_allclose(
        somp_line.get_ydata(), ev.relative("somp", "concept_mass")[0]
    )
    np.testing.assert_array_equal(axes[1].lines[0].get_xdata(), [1, 2, 4])
    plt.close("all")
