"""What editing one head at a time does: causal effects for choosing heads to edit.

SOMP's explained-variance score says which heads *write* along a concept's
tokens, not what editing them does. These functions edit each candidate head
alone, in batched forward passes, and measure the change of the concept's
probability (:func:`measure_head_effects`) and of the model's own answers on
unrelated prompts; :func:`measure_head_specificity` combines the two into the
score that ranks SOMP's candidates for a specific edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._validation import check_positive_int, tensor_to_numpy
from .evaluation import _edited_predictions, _ranker_concept_ids

__all__ = ["measure_head_effects", "measure_head_specificity"]


def _check_prompts(prompts: Any, name: str) -> list[str]:
    prompts = list(prompts)
    if not prompts or not all(isinstance(q, str) for q in prompts):
        raise ValueError(f"{name} must be a non-empty sequence of strings.")
    return prompts


def measure_head_effects(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    heads: Any,
    head_index: Any,
    *,
    concept_ids: Any,
    alpha: float = -1.0,
    batch_size: int = 128,
) -> np.ndarray:
    """What editing each head alone does to the concept's probability.

    For every head in ``heads``, the head is multiplied by ``alpha`` (alone) and
    the mean next-token probability mass on ``concept_ids`` after ``prompts`` is
    compared with the unedited model's. This measures the head's *total* effect
    (through the later layers too), where
    :func:`~skres.interpretability.concept_logit_shift` reads only its direct
    effect on the logits. Pass ``-effects`` as ``direction_scores`` to
    :meth:`HeadRanker.fit <skres.interpretability.HeadRanker.fit>` so that
    ``direction="promote"`` keeps the heads whose edit lowers the concept.

    Parameters
    ----------
    model : torch.nn.Module
    tokenizer : transformers tokenizer
    prompts : sequence of str
        Prompts that elicit the concept: use the ranker's training prompts, never
        the held-out questions the edit is evaluated on.
    heads : array-like of int
        Columns of ``head_index`` to measure (e.g. ``ranker.ranking_[:40]``).
    head_index : array-like of shape (n_heads, 2)
        ``(layer, head)`` of each column (``HeadRanker.head_index_``).
    concept_ids : array-like of int or None
        The concept's tokens. ``None`` measures the probability of the unedited
        model's own top next token after each prompt instead (the effect on its
        answers to unrelated prompts, an off-target effect).
    alpha : float, default=-1.0
        The edit (``-1`` flips the head, ``0`` ablates it).
    batch_size : int, default=128
        Sequences per forward pass.

    Returns
    -------
    ndarray of shape (n_heads,)
        ``log(mean edited mass / mean unedited mass)`` for the measured heads
        (negative: the edit lowers the concept), NaN for the others.

    Examples
    --------
    >>> effects = measure_head_effects(  # doctest: +SKIP
    ...     model, tokenizer, concept.prompts, ranker.ranking_[:40],
    ...     ranker.head_index_, concept_ids=ids)
    >>> ranker.set_params(direction="promote").fit(
    ...     X, dictionary=unembedding, direction_scores=-effects)  # doctest: +SKIP
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    prompts = _check_prompts(prompts, "prompts")
    head_index = np.asarray(head_index, dtype=np.int64)
    heads = np.asarray(tensor_to_numpy(heads)).ravel()
    if heads.size == 0 or not np.issubdtype(heads.dtype, np.integer):
        raise ValueError("heads must be a non-empty sequence of integer columns.")
    if not np.isfinite(alpha):
        raise ValueError(f"alpha must be finite; got {alpha!r}.")
    mass, _ = _edited_predictions(
        model,
        tokenizer,
        [([int(h)], float(alpha)) for h in heads],
        head_index,
        prompts,
        None,
        concept_ids=concept_ids,
        batch_size=batch_size,
    )
    mean = mass.mean(dim=1).numpy()
    effects = np.full(len(head_index), np.nan)
    with np.errstate(divide="ignore"):
        effects[heads] = np.log(mean[1:]) - np.log(mean[0])
    return effects


def measure_head_specificity(
    model: Any,
    tokenizer: Any,
    ranker: Any,
    prompts: Sequence[str],
    reference_prompts: Sequence[str],
    *,
    concept_ids: Any = None,
    n_candidates: int = 40,
    alpha: float = -1.0,
    batch_size: int = 128,
) -> np.ndarray:
    """How much more editing each candidate head lowers the concept than the rest.

    SOMP proposes, the intervention orders: the ranker's ``n_candidates`` best
    heads are edited one at a time (multiplied by ``alpha``) and two effects are
    measured, each a log ratio of mean probabilities, edited over unedited:

    * ``e_concept``: the concept's probability mass after ``prompts`` (the
      ranker's training prompts; :func:`measure_head_effects`);
    * ``e_reference``: the probability of the unedited model's own top next token
      after ``reference_prompts``, prompts unrelated to the concept (what the edit
      does to everything else).

    The specificity is ``e_reference - e_concept`` for candidates whose edit lowers
    the concept (``e_concept < 0``), NaN for all other heads. Pass it as
    ``direction_scores`` with ``direction="promote"`` and ``rank_by="direction"``
    (see :class:`~skres.interpretability.HeadRanker`): the top k heads are then
    those whose edit removes the concept at the least cost elsewhere. On
    SmolLM2-135M this selection, flipped (``alpha=-1``), meets the Head Pursuit
    acceptance bar for more shipped concepts than the paper's ranking or the
    concept effect alone (see the Head Pursuit docs page).

    Parameters
    ----------
    model : torch.nn.Module
    tokenizer : transformers tokenizer
    ranker : fitted :class:`~skres.interpretability.HeadRanker`
        Fitted on writes of ``model``; its ``ranking_[:n_candidates]`` are
        measured (rank it with ``direction="any"``, the paper's score).
    prompts : sequence of str
        Prompts that elicit the concept (the ranker's training prompts, never the
        held-out questions).
    reference_prompts : sequence of str
        Prompts unrelated to the concept, e.g. the other shipped concepts'
        training prompts (:func:`~skres.interpretability.load_reference_prompts`);
        never the control questions the edit is evaluated on.
    concept_ids : array-like of int, default=None
        The concept's tokens (the ranker's ``concept_ids`` when ``None``).
    n_candidates : int, default=40
        How many of SOMP's best heads are measured.
    alpha : float, default=-1.0
        The edit that will be applied.
    batch_size : int, default=128
        Sequences per forward pass.

    Returns
    -------
    ndarray of shape (n_heads,)
        ``e_reference - e_concept`` for the candidates that lower the concept,
        NaN elsewhere.

    Examples
    --------
    >>> specificity = measure_head_specificity(  # doctest: +SKIP
    ...     model, tokenizer, ranker, concept.prompts,
    ...     load_reference_prompts(exclude=concept.name))
    >>> ranker.set_params(direction="promote", rank_by="direction").fit(
    ...     X, dictionary=unembedding, direction_scores=specificity)  # doctest: +SKIP
    """
    check_is_fitted(ranker, "ranking_")
    n_candidates = check_positive_int(n_candidates, "n_candidates")
    reference_prompts = _check_prompts(reference_prompts, "reference_prompts")
    concept_ids = _ranker_concept_ids(ranker, concept_ids)
    eligible = np.isfinite(ranker.scores_)
    candidates = ranker.ranking_[: min(n_candidates, int(eligible.sum()))]
    candidates = candidates[eligible[candidates]]
    common = dict(alpha=alpha, batch_size=batch_size)
    head_index = ranker.head_index_
    concept = measure_head_effects(
        model, tokenizer, prompts, candidates, head_index,
        concept_ids=concept_ids, **common,
    )  # fmt: skip
    reference = measure_head_effects(
        model, tokenizer, reference_prompts, candidates, head_index,
        concept_ids=None, **common,
    )  # fmt: skip
    with np.errstate(invalid="ignore"):
        specificity = reference - concept
    specificity[~(concept < 0)] = np.nan
    # A head that removes (or an edit that zeroes) a probability entirely has an
    # infinite log ratio; keep its order without infinities.
    big = np.finfo(np.float64).max
    return np.clip(specificity, -big, big)
