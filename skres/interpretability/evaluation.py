"""Evaluate head edits the way Head Pursuit does: concept mass vs unrelated tasks.

Given a fitted :class:`~skres.interpretability.HeadRanker`, flip (or scale) the
top-k heads for k in a grid and measure, on held-out questions, how much
next-token probability the model still puts on the concept's tokens and how often
it still answers the concept questions and unrelated control questions. The same
is done for the logit-lens ranking and for random head sets with the selection's
per-layer counts (median and interquartile range over draws).

All edited models run in batched forward passes: every (head set, alpha)
condition is a per-sample vector of head scales, so one forward covers many
conditions at once. transformers is never imported here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._validation import check_positive_int, tensor_to_numpy
from .hooks import _head_layout

__all__ = [
    "HeadEditEvaluation",
    "encode_prompts",
    "evaluate_head_edits",
    "evaluate_head_sets",
]

_METRICS = ("concept_mass", "concept_accuracy", "control_accuracy")


def encode_prompts(
    tokenizer: Any, prompts: Sequence[str], *, chat_template: bool = False
) -> tuple[dict[str, torch.Tensor], np.ndarray]:
    """Tokenise prompts (right padding) and flag their content tokens.

    With ``chat_template=True`` each prompt is wrapped as a user message with the
    tokenizer's chat template (generation prompt added) and the mask flags only the
    tokens of the prompt itself, not the template's markers: the paper's
    aggregation "over content tokens". Without it every real token is content.

    Parameters
    ----------
    tokenizer : transformers tokenizer
        Needs a pad token (the EOS token is used when it has none).
    prompts : sequence of str
    chat_template : bool, default=False

    Returns
    -------
    batch : dict of torch.Tensor
        ``input_ids`` and ``attention_mask`` of shape (n, seq_len).
    content_mask : ndarray of bool of shape (n, seq_len)
        Pass as ``positions=`` to
        :func:`~skres.interpretability.extract_head_outputs`.
    """
    prompts = list(prompts)
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError("prompts must be a non-empty sequence of strings.")
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id
    if pad is None:
        raise ValueError("tokenizer has neither a pad nor an EOS token.")
    rows: list[list[int]] = []
    masks: list[list[bool]] = []
    for prompt in prompts:
        if not chat_template:
            ids = tokenizer.encode(prompt, add_special_tokens=False)
            rows.append(ids)
            masks.append([True] * len(ids))
            continue
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError("chat_template=True but the tokenizer has no template.")
        # The template around a placeholder gives the text before and after the
        # content; template markers are special tokens, so tokenising the three
        # parts separately gives the content's own tokens.
        marker = "\x00CONTENT\x00"
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": marker}],
            tokenize=False,
            add_generation_prompt=True,
        )
        before, after = text.split(marker)
        parts = [
            tokenizer.encode(part, add_special_tokens=False)
            for part in (before, prompt, after)
        ]
        rows.append(parts[0] + parts[1] + parts[2])
        masks.append(
            [False] * len(parts[0]) + [True] * len(parts[1]) + [False] * len(parts[2])
        )
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), int(pad), dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    content = np.zeros((len(rows), width), dtype=bool)
    for i, (ids, mask) in enumerate(zip(rows, masks, strict=True)):
        input_ids[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention[i, : len(ids)] = 1
        content[i, : len(ids)] = mask
    return {"input_ids": input_ids, "attention_mask": attention}, content


def _answer_ids(tokenizer: Any, answer: str) -> list[int]:
    """First token of every surface form of every alternative of an answer."""
    ids = set()
    for alternative in answer.split("|"):
        word = alternative.strip()
        for form in (word, " " + word, word.capitalize(), " " + word.capitalize()):
            encoded = tokenizer.encode(form, add_special_tokens=False)
            if encoded:
                ids.add(int(encoded[0]))
    return sorted(ids)


def _questions(items: Any, name: str) -> tuple[list[str], list[str]]:
    if hasattr(items, "questions"):  # ConceptSet / ControlTask
        items = items.questions
    elif isinstance(items, list | tuple) and all(
        hasattr(i, "questions") for i in items
    ):
        items = [pair for task in items for pair in task.questions]
    if (
        isinstance(items, tuple)
        and len(items) == 2
        and all(isinstance(part, list) for part in items)
    ):  # (prompts, answers)
        items = list(zip(*items, strict=True))
    pairs = list(items)
    if not pairs or not all(
        isinstance(p, tuple | list)
        and len(p) == 2
        and all(isinstance(s, str) for s in p)
        for p in pairs
    ):
        raise ValueError(
            f"{name} must be a non-empty sequence of (prompt, answer) string pairs."
        )
    return [p[0] for p in pairs], [p[1] for p in pairs]


@contextlib.contextmanager
def _per_sample_head_scales(
    model: Any, layers: list[int], holder: dict[str, torch.Tensor]
) -> Iterator[None]:
    """Scale head outputs by ``holder["scales"][sample, layer_slot, head]``."""
    layout = _head_layout(model)
    handles = []
    for slot, layer in enumerate(layers):

        def pre_hook(module: Any, args: Any, slot: int = slot) -> Any:
            z = args[0]
            scale = holder["scales"][:, slot].to(device=z.device, dtype=z.dtype)
            shape = z.shape  # (b, t, H * d_head)
            edited = (
                z.reshape(shape[0], shape[1], scale.shape[1], -1)
                * scale[:, None, :, None]
            )
            return (edited.reshape(shape), *args[1:])

        handles.append(layout.out_proj[layer].register_forward_pre_hook(pre_hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


_ROTARY_DECODERS = ("llama", "mistral", "qwen2")


def _rotary_decoder(model: Any) -> Any:
    """The decoder of a LLaMA-family model (layers fed by ``inputs_embeds``)."""
    decoder = getattr(model, "model", None)
    config = getattr(decoder, "config", None)
    if (
        decoder is not None
        and getattr(config, "model_type", None) in _ROTARY_DECODERS
        and hasattr(decoder, "layers")
        and hasattr(decoder, "rotary_emb")
    ):
        return decoder
    return None


def _residual_streams(
    model: Any, batch: dict[str, torch.Tensor], layers: list[int]
) -> dict[int, torch.Tensor] | None:
    """Residual stream entering each of ``layers`` (unedited model), or ``None``.

    ``None`` when the model is not a LLaMA-family decoder, whose layers can be
    restarted from ``inputs_embeds`` (positions enter through rotary embeddings
    computed in every forward, not through the embeddings).
    """
    decoder = _rotary_decoder(model)
    if decoder is None:
        return None
    streams: dict[int, torch.Tensor] = {}
    handles = []
    for layer in layers:
        if layer == 0:
            continue

        def pre_hook(module: Any, args: Any, kwargs: Any, layer: int = layer) -> None:
            hidden = args[0] if args else kwargs["hidden_states"]
            streams[layer] = hidden.detach()

        handles.append(
            decoder.layers[layer].register_forward_pre_hook(pre_hook, with_kwargs=True)
        )
    try:
        streams[0] = decoder.embed_tokens(batch["input_ids"])
        if len(layers) > 1 or layers[0] != 0:
            decoder(**batch, use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
    return streams


def _last_token_probabilities(
    model: Any, batch: dict[str, torch.Tensor], *, start_layer: int = 0
) -> Any:
    """Next-token distribution after each (right-padded) prompt, float64.

    With ``start_layer > 0`` (LLaMA-family only) ``batch["inputs_embeds"]`` is the
    residual stream entering that layer and only the later layers run.
    """
    last = batch["attention_mask"].sum(dim=1) - 1
    rows = torch.arange(len(last))
    decoder = _rotary_decoder(model)
    if decoder is not None:
        inputs = dict(batch)
        if "inputs_embeds" in inputs:
            inputs.pop("input_ids", None)
        full = decoder.layers
        if start_layer:
            decoder.layers = torch.nn.ModuleList(list(full)[start_layer:])
        try:
            hidden = decoder(**inputs, use_cache=False).last_hidden_state
        finally:
            decoder.layers = full
        logits = model.get_output_embeddings()(hidden[rows, last])
    else:
        logits = model(**batch).logits[rows, last]
    return torch.softmax(logits.double(), dim=-1)


def _condition_scales(
    head_index: np.ndarray, conditions: Sequence[tuple[Any, float]]
) -> tuple[list[np.ndarray], list[int], torch.Tensor]:
    """Head sets, the edited layers and per-condition head scales.

    ``scales[c, slot, head]`` is 1 except for the edited heads; row 0 is the
    unedited model, row ``c`` condition ``c - 1``.
    """
    head_sets = [np.asarray(chosen, dtype=np.int64).ravel() for chosen, _ in conditions]
    alphas_arr = np.asarray([float(alpha) for _, alpha in conditions])
    if not np.all(np.isfinite(alphas_arr)):
        raise ValueError("every alpha must be finite.")
    for chosen in head_sets:
        if chosen.size and (chosen.min() < 0 or chosen.max() >= len(head_index)):
            raise ValueError(
                f"head sets must index head_index, in [0, {len(head_index)})."
            )
    layers = sorted({int(head_index[h, 0]) for s in head_sets for h in s})
    slot = {layer: i for i, layer in enumerate(layers)}
    n_heads = int(head_index[:, 1].max()) + 1
    scales = torch.ones(len(conditions) + 1, max(len(layers), 1), n_heads)
    for c, chosen in enumerate(head_sets, start=1):
        rows = head_index[chosen]
        scales[c, [slot[int(v)] for v in rows[:, 0]], rows[:, 1]] = float(
            alphas_arr[c - 1]
        )
    return head_sets, layers, scales


def _answer_table(tokenizer: Any, answers: list[str]) -> torch.Tensor:
    """Accepted first-token ids per prompt, padded with -1: (n_prompts, width)."""
    expected = [_answer_ids(tokenizer, a) for a in answers]
    table = torch.full((len(answers), max(map(len, expected))), -1, dtype=torch.long)
    for i, ids in enumerate(expected):
        table[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return table


def _edited_predictions(
    model: Any,
    tokenizer: Any,
    conditions: Sequence[tuple[Any, float]],
    head_index: Any,
    prompts: list[str],
    answers: list[str] | None,
    *,
    concept_ids: Any,
    batch_size: int,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Concept mass and answer hits per (condition, prompt), batched.

    Row 0 is the unedited model. ``answers=None`` skips the hits. With
    ``concept_ids=None`` the "mass" is the probability of the unedited model's
    own top next token after each prompt.
    """
    concept_index = (
        None
        if concept_ids is None
        else torch.as_tensor(
            np.unique(np.asarray(tensor_to_numpy(concept_ids), dtype=np.int64))
        )
    )
    head_index = np.asarray(head_index, dtype=np.int64)
    head_sets, layers, scales = _condition_scales(head_index, conditions)
    batch, _ = encode_prompts(tokenizer, prompts)
    n_prompts = len(prompts)
    table = None if answers is None else _answer_table(tokenizer, answers)

    n_cond = len(conditions) + 1
    mass = torch.empty(n_cond, n_prompts, dtype=torch.float64)
    correct = torch.empty(n_cond, n_prompts, dtype=torch.float64)
    per_forward = max(1, batch_size // n_prompts)
    holder: dict[str, torch.Tensor] = {}
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    # Layers before a condition's first edited layer compute what the unedited
    # model computes: start those forwards from the cached residual stream.
    first = np.array(
        [0]
        + [
            int(head_index[chosen, 0].min()) if chosen.size else 0
            for chosen in head_sets
        ]
    )
    order = np.argsort(first, kind="stable")
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            streams = _residual_streams(model, batch, sorted(set(first.tolist())))
        targets = None  # with concept_ids=None: the unedited model's own answers
        with torch.inference_mode(), _per_sample_head_scales(model, layers, holder):
            for begin in range(0, n_cond, per_forward):
                chunk = order[begin : begin + per_forward]
                start = int(first[chunk].min())
                m = len(chunk)
                holder["scales"] = scales[chunk].repeat_interleave(n_prompts, 0)
                tiled = {k: v.repeat(m, 1) for k, v in batch.items()}
                if streams is not None:
                    tiled["inputs_embeds"] = streams[start].repeat(m, 1, 1)
                probs = _last_token_probabilities(
                    model, tiled, start_layer=start if streams is not None else 0
                ).cpu()
                probs = probs.view(m, n_prompts, -1)
                index = torch.as_tensor(chunk)
                if concept_index is None:
                    if targets is None:  # the first chunk starts with row 0
                        targets = probs[0].argmax(dim=-1)[None, :, None]
                    mass[index] = probs.gather(-1, targets.expand(m, -1, -1))[..., 0]
                else:
                    mass[index] = probs[..., concept_index].sum(dim=-1)
                if table is not None:
                    top = probs.argmax(dim=-1)
                    correct[index] = (top[..., None] == table).any(dim=-1).double()
    finally:
        model.train(was_training)
    return mass, (None if table is None else correct)


def evaluate_head_sets(
    model: Any,
    tokenizer: Any,
    conditions: Sequence[tuple[Any, float]],
    head_index: Any,
    concept_questions: Any,
    control_questions: Any,
    *,
    concept_ids: Any,
    batch_size: int = 128,
) -> dict[str, np.ndarray]:
    """Concept mass and task accuracies for arbitrary (head set, alpha) edits.

    The building block of :func:`evaluate_head_edits`: every condition becomes a
    per-sample vector of head scales, and conditions times prompts run in
    batched forward passes.

    Parameters
    ----------
    model : torch.nn.Module
    tokenizer : transformers tokenizer
    conditions : sequence of (array-like of int, float)
        Head sets (column indices into ``head_index``) and the factor ``alpha``
        applied to them.
    head_index : array-like of shape (n_heads, 2)
        ``(layer, head)`` of each column (``HeadRanker.head_index_``).
    concept_questions, control_questions : sequence of (str, str) or \
            ConceptSet / ControlTask, or a pair of (prompts, answers) lists
    concept_ids : array-like of int
        Tokens whose next-token probability is the concept mass.
    batch_size : int, default=128
        Sequences per forward pass.

    Returns
    -------
    dict of str to ndarray of shape (n_conditions + 1,)
        ``concept_mass``, ``concept_accuracy`` and ``control_accuracy``; entry 0 is
        the unedited model, entry ``i + 1`` condition ``i``.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    c_prompts, c_answers = _questions(concept_questions, "concept_questions")
    k_prompts, k_answers = _questions(control_questions, "control_questions")
    mass, correct = _edited_predictions(
        model,
        tokenizer,
        conditions,
        head_index,
        c_prompts + k_prompts,
        c_answers + k_answers,
        concept_ids=concept_ids,
        batch_size=batch_size,
    )
    assert correct is not None
    nc = len(c_prompts)
    return {
        "concept_mass": mass[:, :nc].mean(dim=1).numpy(),
        "concept_accuracy": correct[:, :nc].mean(dim=1).numpy(),
        "control_accuracy": correct[:, nc:].mean(dim=1).numpy(),
    }


@dataclass
class HeadEditEvaluation:
    """What flipping the top-k heads does, per method, k and alpha.

    Attributes
    ----------
    ks : ndarray of int
    alphas : ndarray of float
    base : dict of str to float
        The unedited model: ``concept_mass``, ``concept_accuracy``,
        ``control_accuracy``.
    somp, logit_lens : dict of str to ndarray of shape (n_alphas, n_ks)
        Each metric after editing the top-k heads of that ranking.
    random : dict of str to ndarray of shape (n_alphas, n_ks, n_random)
        Each metric for every random draw (same per-layer counts as the SOMP
        selection, disjoint from it).
    heads : dict
        ``heads["somp"][k]``, ``heads["logit_lens"][k]`` (column indices) and
        ``heads["random"][k]`` (list of arrays).
    """

    ks: np.ndarray
    alphas: np.ndarray
    base: dict[str, float]
    somp: dict[str, np.ndarray]
    logit_lens: dict[str, np.ndarray]
    random: dict[str, np.ndarray]
    heads: dict[str, Any] = field(default_factory=dict)

    def relative(self, method: str, metric: str) -> np.ndarray:
        """``metric`` of a method divided by the unedited model's value.

        For ``method="random"`` the last axis holds the draws.
        """
        values = getattr(self, method)[metric]
        base = self.base[metric]
        return values / base if base > 0 else np.full_like(values, np.nan)

    def random_summary(self, metric: str, *, relative: bool = False) -> np.ndarray:
        """Median, first and third quartile of the random draws.

        Returns
        -------
        ndarray of shape (3, n_alphas, n_ks)
        """
        values = self.relative("random", metric) if relative else self.random[metric]
        return np.quantile(values, [0.5, 0.25, 0.75], axis=-1)

    def specificity(self, method: str = "somp") -> np.ndarray:
        """Concept drop minus control drop, both relative to the unedited model.

        ``(1 - concept_mass ratio) - (1 - control_accuracy ratio)``; for random
        the draws' medians are used. Shape (n_alphas, n_ks).
        """
        if method == "random":
            concept = self.random_summary("concept_mass", relative=True)[0]
            control = self.random_summary("control_accuracy", relative=True)[0]
        else:
            concept = self.relative(method, "concept_mass")
            control = self.relative(method, "control_accuracy")
        return control - concept

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per (method, alpha, k) row, for printing or a DataFrame."""
        records = []
        summary = {m: self.random_summary(m) for m in _METRICS}
        for a, alpha in enumerate(self.alphas):
            for j, k in enumerate(self.ks):
                for method in ("somp", "logit_lens", "random"):
                    row: dict[str, Any] = {
                        "method": method,
                        "alpha": float(alpha),
                        "k": int(k),
                    }
                    for metric in _METRICS:
                        if method == "random":
                            med, q1, q3 = summary[metric][:, a, j]
                            row[metric] = float(med)
                            row[metric + "_iqr"] = (float(q1), float(q3))
                        else:
                            row[metric] = float(getattr(self, method)[metric][a, j])
                    records.append(row)
        return records


def _ranker_concept_ids(ranker: Any, concept_ids: Any) -> np.ndarray:
    """``concept_ids``, else the ranker's, as sorted unique ints."""
    if concept_ids is None:
        concept_ids = ranker.concept_ids
    if concept_ids is None:
        raise ValueError(
            "concept_ids is needed when the ranker was fitted without concept_ids."
        )
    return np.unique(np.asarray(tensor_to_numpy(concept_ids), dtype=np.int64))


def _head_sets_per_k(
    ranker: Any, ks: np.ndarray, n_random: int, random_state: Any
) -> dict[str, Any]:
    """SOMP, logit-lens and layer-matched random head sets for every k."""
    ll_scores = getattr(ranker, "logit_lens_scores_", None)
    if ll_scores is None:
        raise ValueError("the ranker has no logit_lens_scores_; refit it.")
    ll_ranking = np.argsort(-ll_scores, kind="stable")
    heads: dict[str, Any] = {"somp": {}, "logit_lens": {}, "random": {}}
    seeds = np.random.default_rng(
        random_state if not isinstance(random_state, np.random.RandomState) else None
    ).integers(0, 2**31 - 1, size=len(ks))
    for k, seed in zip(ks.tolist(), seeds, strict=True):
        heads["somp"][k] = ranker.ranking_[:k]
        heads["logit_lens"][k] = ll_ranking[:k]
        heads["random"][k] = ranker.random_control(n_random, k=k, random_state=seed)
    return heads


def evaluate_head_edits(
    model: Any,
    tokenizer: Any,
    ranker: Any,
    concept_questions: Any,
    control_questions: Any,
    *,
    concept_ids: Any = None,
    ks: Sequence[int] = (1, 2, 4, 8, 16, 32),
    alphas: Sequence[float] = (-1.0,),
    n_random: int = 10,
    random_state: Any = 0,
    batch_size: int = 128,
) -> HeadEditEvaluation:
    """Edit the top-k heads of a fitted ranker and measure concept vs control tasks.

    For each ``k`` in ``ks`` and ``alpha`` in ``alphas`` the heads are multiplied
    by ``alpha`` at every position (``-1`` flips them, as the paper does to
    suppress a concept) and, on held-out prompts, the function measures the
    next-token probability mass on the concept's tokens, the accuracy on the
    concept questions and the accuracy on the control questions (answer = first
    token of any surface form of the short answer). Three head choices:

    * ``somp``: the ranker's top-k heads (``ranking_[:k]``: by explained
      variance, or e.g. by specificity with ``direction="promote"`` and
      ``rank_by="direction"``, see
      :func:`~skres.interpretability.measure_head_specificity`);
    * ``logit_lens``: the top-k heads by mean concept logit of their writes
      (``ranker.logit_lens_scores_``);
    * ``random``: ``n_random`` draws with the same number of heads per layer as
      the SOMP top-k, disjoint from it (:meth:`HeadRanker.random_control`).

    Parameters
    ----------
    model : torch.nn.Module
        A causal LM supported by :func:`~skres.interpretability.edit_heads`.
    tokenizer : transformers tokenizer
    ranker : fitted :class:`~skres.interpretability.HeadRanker`
        Fitted on writes of ``model`` with its ``head_index``.
    concept_questions, control_questions : sequence of (str, str) or \
            ConceptSet / ControlTask
        Held-out ``(prompt, answer)`` pairs; answers may list alternatives
        separated by ``|``.
    concept_ids : array-like of int, default=None
        Token ids whose probability is the concept mass (the ranker's
        ``concept_ids`` when ``None``).
    ks : sequence of int, default=(1, 2, 4, 8, 16, 32)
    alphas : sequence of float, default=(-1.0,)
    n_random : int, default=10
        Random draws per k.
    random_state : int, RandomState or None, default=0
    batch_size : int, default=128
        Sequences per forward pass (conditions times prompts are batched).

    Returns
    -------
    HeadEditEvaluation

    Examples
    --------
    >>> evaluation = evaluate_head_edits(  # doctest: +SKIP
    ...     model, tokenizer, ranker, load_concept("colours"),
    ...     load_control_task("capitals"), ks=(4, 8, 16))
    >>> evaluation.relative("somp", "concept_mass")  # doctest: +SKIP
    """
    check_is_fitted(ranker, "ranking_")
    ks_arr = np.array([check_positive_int(k, "ks") for k in ks], dtype=np.int64)
    if ks_arr.size == 0:
        raise ValueError("ks must hold at least one k.")
    eligible = int(np.sum(getattr(ranker, "eligible_", np.isfinite(ranker.scores_))))
    if ks_arr.max() > eligible:
        raise ValueError(
            f"ks must not exceed the {eligible} heads the ranker may select; got "
            f"{ks_arr.max()}."
        )
    alphas_arr = np.asarray(list(alphas), dtype=np.float64)
    if alphas_arr.size == 0 or not np.all(np.isfinite(alphas_arr)):
        raise ValueError(f"alphas must be finite numbers; got {alphas!r}.")
    n_random = check_positive_int(n_random, "n_random")
    batch_size = check_positive_int(batch_size, "batch_size")
    concept_ids = _ranker_concept_ids(ranker, concept_ids)
    c_prompts, c_answers = _questions(concept_questions, "concept_questions")
    k_prompts, k_answers = _questions(control_questions, "control_questions")

    heads = _head_sets_per_k(ranker, ks_arr, n_random, random_state)

    conditions: list[tuple[str, int, int, int]] = []  # method, alpha idx, k idx, draw
    head_sets: list[np.ndarray] = []
    for a in range(len(alphas_arr)):
        for j, k in enumerate(ks_arr.tolist()):
            for method in ("somp", "logit_lens"):
                conditions.append((method, a, j, 0))
                head_sets.append(heads[method][k])
            for r, drawn in enumerate(heads["random"][k]):
                conditions.append(("random", a, j, r))
                head_sets.append(drawn)
    values = evaluate_head_sets(
        model,
        tokenizer,
        [
            (chosen, float(alphas_arr[a]))
            for (_, a, _, _), chosen in zip(conditions, head_sets, strict=True)
        ],
        ranker.head_index_,
        (c_prompts, c_answers),
        (k_prompts, k_answers),
        concept_ids=concept_ids,
        batch_size=batch_size,
    )
    shape = (len(alphas_arr), len(ks_arr))
    somp = {m: np.empty(shape) for m in _METRICS}
    lens = {m: np.empty(shape) for m in _METRICS}
    rand = {m: np.empty((*shape, n_random)) for m in _METRICS}
    for c, (method, a, j, r) in enumerate(conditions, start=1):
        for metric in _METRICS:
            if method == "somp":
                somp[metric][a, j] = values[metric][c]
            elif method == "logit_lens":
                lens[metric][a, j] = values[metric][c]
            else:
                rand[metric][a, j, r] = values[metric][c]
    return HeadEditEvaluation(
        ks=ks_arr,
        alphas=alphas_arr,
        base={m: float(values[m][0]) for m in _METRICS},
        somp=somp,
        logit_lens=lens,
        random=rand,
        heads=heads,
    )
