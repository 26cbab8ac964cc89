"""Head Pursuit: rank attention heads by how well a concept's tokens explain them.

Basile et al., "Head Pursuit: Probing Attention Specialization in Multimodal
Transformers", NeurIPS 2025. Each head's residual-stream writes over a set of
prompts are decomposed by simultaneous orthogonal matching pursuit on the
(row-normalised) unembedding restricted to a concept's tokens; the fraction of the
head's variance explained after ``n_atoms`` atoms ranks the heads. Flipping the sign
of the top few heads (:func:`~skres.interpretability.edit_heads`) suppresses the
concept in generation.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import Tags, check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from .._base import SkresTags, TorchEstimatorMixin
from .._compat import Interval, StrOptions, fit_context
from .._validation import (
    check_positive_int,
    tensor_to_numpy,
    validate_input,
)
from ..solvers import somp

__all__ = ["HeadRanker", "concept_logit_shift", "logit_lens_scores"]

_FLOAT_DTYPES = [np.float64, np.float32]


def logit_lens_scores(X: Any, dictionary: Any, concept_ids: Any) -> np.ndarray:
    """The paper's logit-lens baseline: mean concept logit of each head's writes.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_heads, d_model)
        Per-head writes (:func:`~skres.interpretability.extract_head_outputs`).
    dictionary : array-like of shape (vocab_size, d_model)
        The unembedding.
    concept_ids : array-like of int
        The concept's token ids.

    Returns
    -------
    ndarray of shape (n_heads,)
        ``mean over samples and concept tokens of <x_h, u_t>``.
    """
    X = np.asarray(tensor_to_numpy(X), dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"X must have shape (n_samples, n_heads, d); got {X.shape}.")
    rows = np.asarray(tensor_to_numpy(dictionary), dtype=np.float64)[
        np.asarray(concept_ids, dtype=np.int64)
    ]
    # mean_t <x, u_t> = <x, mean_t u_t>: one matrix-vector product per head.
    return np.einsum("nhd,d->h", X, rows.mean(axis=0)) / X.shape[0]


def concept_logit_shift(X: Any, dictionary: Any, concept_ids: Any) -> np.ndarray:
    """Signed effect of each head on the concept: its mean logit shift.

    The mean over samples of how much a head's write raises the concept tokens'
    logits relative to the average token of the dictionary,
    ``mean_n <x_{n,h}, mean_{t in concept} u_t - mean_{v} u_v>``. Subtracting the
    dictionary's mean row removes the part of the write that moves every logit
    alike (which the softmax ignores). A positive value means that the head
    promotes the concept on these prompts, so flipping or ablating it should
    lower the concept's probability; a negative value means that it suppresses
    the concept.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_heads, d_model)
        Per-head writes (:func:`~skres.interpretability.extract_head_outputs`).
    dictionary : array-like of shape (vocab_size, d_model)
        The unembedding (raw rows, not normalised).
    concept_ids : array-like of int
        The concept's token ids.

    Returns
    -------
    ndarray of shape (n_heads,)

    Examples
    --------
    >>> import numpy as np
    >>> from skres.interpretability import concept_logit_shift
    >>> D = np.eye(3)
    >>> X = np.array([[[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]])  # 1 sample, 2 heads
    >>> concept_logit_shift(X, D, [0]).round(3).tolist()
    [0.667, -0.667]
    """
    X = np.asarray(tensor_to_numpy(X), dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"X must have shape (n_samples, n_heads, d); got {X.shape}.")
    D = np.asarray(tensor_to_numpy(dictionary), dtype=np.float64)
    direction = D[np.asarray(concept_ids, dtype=np.int64)].mean(axis=0) - D.mean(axis=0)
    return np.einsum("nhd,d->h", X, direction) / X.shape[0]


class HeadRanker(TransformerMixin, TorchEstimatorMixin, BaseEstimator):
    """Rank attention heads by the variance a concept's tokens explain (Head Pursuit).

    ``fit`` takes the per-head residual writes ``X`` of shape
    ``(n_samples, n_heads, d_model)`` (from
    :func:`~skres.interpretability.extract_head_outputs`) and runs simultaneous
    orthogonal matching pursuit (:func:`skres.solvers.somp`) on every head at once,
    with the row-normalised dictionary restricted to ``concept_ids``. A head's score
    is the fraction of its (centred) variance explained after ``n_atoms`` atoms. A
    2-D ``X`` of shape ``(n_samples, d)`` is a single head.

    Parameters
    ----------
    dictionary : array-like of shape (vocab_size, d_model), default=None
        Atoms as rows, typically the unembedding (``lm_head.weight``). ``None`` uses
        the coordinate axes (SOMP then selects features). Can also be passed to
        ``fit``, which avoids copying a large matrix on ``clone``.
    concept_ids : array-like of int, default=None
        Dictionary rows of the concept (e.g. from
        :func:`~skres.interpretability.concept_token_ids`); all rows when ``None``
        (interpretation mode).
    n_atoms : int, default=50
        SOMP iterations (the paper's 50); clipped to the concept size. Keep it well
        below ``d_model``: when it reaches the head's rank every head scores 1.
    top_k : int, default=8
        Heads kept by ``selected_heads_`` and :meth:`transform`.
    metric : {"evr", "explained_variance"}, default="evr"
        The paper's explained-variance ratio, or that ratio times the head's total
        variance (favours heads that write a lot; the ratio alone can rank a
        nearly silent head first).
    center : bool, default=True
        Centre each head's writes before pursuit.
    min_layer : int, default=0
        Heads of earlier layers are never selected (``head_index`` needed when > 0).
    direction : {"any", "promote"}, default="any"
        Which heads may be selected. The explained-variance score ignores the sign
        of a head's effect: a head that writes *against* the concept's tokens
        scores as high as one that writes for them, and flipping it raises the
        concept. ``"promote"`` selects, in order of score, only heads with a
        positive ``direction_scores_``: by default their mean write raises the
        concept's logits over the average token (:func:`concept_logit_shift`, the
        direct effect), or pass measured effects to :meth:`fit`
        (``direction_scores=-measure_head_effects(...)``, the total effect; the
        better choice on SmolLM2-135M, see the Head Pursuit docs page). ``"any"``
        ranks all heads by score alone (the paper's ranking). ``"promote"`` needs
        ``concept_ids`` or ``direction_scores``; otherwise it ranks like
        ``"any"``.
    rank_by : {"score", "direction"}, default="score"
        Order of the eligible heads in ``ranking_``: by decreasing ``scores_``
        (the paper), or by decreasing ``direction_scores_`` (ties and NaN broken
        by score). With the specificity of SOMP's top candidates
        (``direction_scores=measure_head_specificity(...)``) ``"direction"``
        ranks them by how much more flipping each one alone lowers the concept
        than the model's other answers: SOMP proposes, the intervention orders.
        On SmolLM2-135M this is the protocol that suppresses the most shipped
        concepts with the paper's flip (see the Head Pursuit docs page).
    head_index : array-like of shape (n_heads, 2), default=None
        ``(layer, head)`` of each column of ``X``; used for ``min_layer``, the
        random control and labels. ``None``: one layer of ``n_heads`` heads.
    flatten : bool, default=True
        :meth:`transform` returns ``(n_samples, top_k * d_model)`` (so the ranker fits
        in a ``Pipeline``); ``False`` keeps ``(n_samples, top_k, d_model)``.
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device, default="auto"
        Where the pursuit runs; ``"auto"`` follows an input tensor, else CUDA when
        available, else CPU.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the pursuit.
    random_state : int, RandomState instance or None, default=None
        Default seed of :meth:`random_control` (the fit itself is deterministic).
    verbose : int, default=0
        Show a progress bar over the pursuit's atoms.

    Attributes
    ----------
    scores_ : ndarray of shape (n_heads,)
        Score of each head (``-inf`` below ``min_layer``).
    evr_curves_ : ndarray of shape (n_heads, n_atoms)
        Explained-variance ratio after each atom.
    supports_ : ndarray of shape (n_heads, n_atoms)
        Chosen dictionary rows (vocabulary ids), in selection order.
    total_variance_ : ndarray of shape (n_heads,)
        Total variance of each head's writes.
    ranking_ : ndarray of shape (n_heads,)
        Heads by decreasing score (or ``direction_scores_`` with
        ``rank_by="direction"``), the ``eligible_`` heads first.
    selected_heads_ : ndarray of shape (top_k,)
        The ``top_k`` best heads (column indices of ``X``).
    selected_head_index_ : ndarray of shape (top_k, 2)
        Their ``(layer, head)``.
    head_index_ : ndarray of shape (n_heads, 2)
        ``(layer, head)`` of every column.
    direction_scores_ : ndarray of shape (n_heads,)
        Signed effect of each head on the concept (positive: promotes it): the
        ``direction_scores`` passed to :meth:`fit`, else the mean concept-logit
        shift of its writes (:func:`concept_logit_shift`).
    eligible_ : ndarray of bool of shape (n_heads,)
        Heads that may be selected: layer at least ``min_layer`` and, with
        ``direction="promote"``, a positive ``direction_scores_``.
    logit_lens_scores_ : ndarray of shape (n_heads,)
        The paper's logit-lens baseline (:func:`logit_lens_scores`: mean logit of
        the concept tokens over the head's writes; ``-inf`` below ``min_layer``).
    n_atoms_ : int
        Atoms actually used.

    References
    ----------
    .. [1] L. Basile, V. Maiorca, D. Doimo, F. Locatello, A. Cazzaniga. "Head
       Pursuit: Probing Attention Specialization in Multimodal Transformers."
       NeurIPS 2025. arXiv:2510.21518.

    Examples
    --------
    >>> import numpy as np
    >>> from skres.datasets import make_planted_heads
    >>> from skres.interpretability import HeadRanker
    >>> X, dictionary, concept = make_planted_heads(random_state=0)
    >>> ranker = HeadRanker(
    ...     dictionary=dictionary, concept_ids=concept, n_atoms=5, top_k=3
    ... )
    >>> sorted(ranker.fit(X).selected_heads_.tolist())
    [5, 17, 30]
    """

    _parameter_constraints: dict = {
        **TorchEstimatorMixin._torch_parameter_constraints,
        "dictionary": ["array-like", None],
        "concept_ids": ["array-like", None],
        "n_atoms": [Interval(Integral, 1, None, closed="left")],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"evr", "explained_variance"})],
        "center": ["boolean"],
        "min_layer": [Integral],
        "direction": [StrOptions({"promote", "any"})],
        "rank_by": [StrOptions({"score", "direction"})],
        "head_index": ["array-like", None],
        "flatten": ["boolean"],
        "dtype": [StrOptions({"float64", "float32"}), torch.dtype, np.dtype, type],
    }

    def __init__(
        self,
        *,
        dictionary: Any = None,
        concept_ids: Any = None,
        n_atoms: int = 50,
        top_k: int = 8,
        metric: str = "evr",
        center: bool = True,
        min_layer: int = 0,
        direction: str = "any",
        rank_by: str = "score",
        head_index: Any = None,
        flatten: bool = True,
        device: Any = "auto",
        dtype: Any = "float64",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.dictionary = dictionary
        self.concept_ids = concept_ids
        self.n_atoms = n_atoms
        self.top_k = top_k
        self.metric = metric
        self.center = center
        self.min_layer = min_layer
        self.direction = direction
        self.rank_by = rank_by
        self.head_index = head_index
        self.flatten = flatten
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        return {"n_atoms": 3, "top_k": 1, "device": "cpu"}

    def __skres_tags__(self) -> SkresTags:
        return SkresTags(torch=True, stochastic=False)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _validate_heads(self, X: Any, *, reset: bool) -> np.ndarray:
        X = validate_input(self, X, reset=reset, dtype=_FLOAT_DTYPES, allow_nd=True)
        if X.ndim == 2:
            X = X[:, None, :]
        if X.ndim != 3:
            raise ValueError(
                "X must have shape (n_samples, n_heads, d_model) or (n_samples, "
                f"d_model); got {X.ndim} dimensions."
            )
        if not reset and X.shape[1:] != (self.n_heads_, self.n_dims_):
            raise ValueError(
                f"X has heads of shape {X.shape[1:]}, but {type(self).__name__} was "
                f"fitted on ({self.n_heads_}, {self.n_dims_})."
            )
        return X

    def _resolve_dictionary(self, dictionary: Any, n_dims: int) -> np.ndarray:
        if dictionary is None:
            return np.eye(n_dims)
        D = check_array(
            tensor_to_numpy(dictionary), dtype=_FLOAT_DTYPES, input_name="dictionary"
        )
        if D.shape[1] != n_dims:
            raise ValueError(
                f"dictionary must have shape (vocab_size, {n_dims}) to match the "
                f"heads' dimension; got {D.shape}."
            )
        return D

    def _concept_rows(self, D: np.ndarray) -> np.ndarray:
        """The dictionary rows of the concept (all rows without concept_ids)."""
        if self.concept_ids is None:
            ids = np.arange(len(D))
        else:
            ids = np.unique(np.asarray(tensor_to_numpy(self.concept_ids)).ravel())
            if (
                ids.size == 0
                or not np.issubdtype(ids.dtype, np.integer)
                or ids.min() < 0
                or ids.max() >= len(D)
            ):
                raise ValueError(
                    f"concept_ids must be integer rows of the dictionary, in [0, "
                    f"{len(D)}); got {self.concept_ids!r}."
                )
        return ids

    def _select(
        self,
        X_np: np.ndarray,
        D: np.ndarray,
        ids: np.ndarray,
        direction_scores: Any,
        top_k: int,
    ) -> None:
        """Signed scores, eligible heads, ranking and selection (after scores_)."""
        scores, n_heads = self.scores_, X_np.shape[1]
        if direction_scores is None:
            self.direction_scores_ = concept_logit_shift(X_np, D, ids)
        else:
            signed = np.asarray(tensor_to_numpy(direction_scores), dtype=np.float64)
            if signed.shape != (n_heads,) or np.isinf(signed).any():
                raise ValueError(
                    f"direction_scores must hold one finite value (or NaN) per head, "
                    f"shape ({n_heads},); got shape {signed.shape}."
                )
            self.direction_scores_ = signed
        eligible = np.isfinite(scores)
        if not eligible.any():
            raise ValueError(f"min_layer={self.min_layer} excludes every head.")
        n_finite = int(eligible.sum())
        if self.direction == "promote" and (
            self.concept_ids is not None or direction_scores is not None
        ):
            eligible &= np.nan_to_num(self.direction_scores_, nan=0.0) > 0
            if not eligible.any():
                raise ValueError(
                    "direction='promote' but no head at or above min_layer raises "
                    "the concept's logits on these samples (every "
                    "direction_scores_ <= 0); check concept_ids and the prompts, "
                    "or use direction='any'."
                )
        self.eligible_ = eligible
        # Eligible heads first, each group by decreasing score (stable), or by
        # decreasing direction score with the score breaking ties and NaN.
        if self.rank_by == "direction":
            signed = np.nan_to_num(self.direction_scores_, nan=-np.inf)
            self.ranking_ = np.lexsort((-scores, -signed, ~eligible))
        else:
            self.ranking_ = np.lexsort((-scores, ~eligible))
        n_eligible = int(eligible.sum())
        if n_eligible < min(top_k, n_finite):
            warnings.warn(
                f"only {n_eligible} heads are eligible (min_layer={self.min_layer}, "
                f"direction={self.direction!r}); selected_heads_ holds {n_eligible} "
                f"heads instead of top_k={top_k}.",
                UserWarning,
                stacklevel=4,
            )
        self.selected_heads_ = self.ranking_[: min(top_k, n_eligible)]
        self.selected_head_index_ = self.head_index_[self.selected_heads_]

    @staticmethod
    def _digest(D: np.ndarray) -> str:
        """Content digest of a resolved dictionary (detects later mutation)."""
        return hashlib.blake2b(
            np.ascontiguousarray(D).tobytes(), digest_size=16
        ).hexdigest()

    @fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: Any,
        y: Any = None,
        dictionary: Any = None,
        direction_scores: Any = None,
    ) -> HeadRanker:
        """Run SOMP on every head and rank the heads.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_heads, d_model) or (n_samples, d_model)
            Per-head residual writes, aggregated over positions.
        y : None
            Ignored.
        dictionary : array-like of shape (vocab_size, d_model), default=None
            Overrides the constructor's ``dictionary`` for this fit.
        direction_scores : array-like of shape (n_heads,), default=None
            Signed effect of each head on the concept (positive: promotes it),
            used by ``direction="promote"`` instead of the direct logit shift
            :func:`concept_logit_shift`; e.g. ``-measure_head_effects(...)``
            (:func:`~skres.interpretability.measure_head_effects`). NaN marks an
            unmeasured head, which is not selected.

        Returns
        -------
        self : HeadRanker
        """
        n_atoms, top_k = int(self.n_atoms), int(self.top_k)
        self._setup_torch(X)
        X_np = self._validate_heads(X, reset=True)
        n_samples, n_heads, n_dims = X_np.shape
        self.n_heads_, self.n_dims_ = n_heads, n_dims
        D = self._resolve_dictionary(
            dictionary if dictionary is not None else self.dictionary, n_dims
        )
        # explain() reads the constructor's dictionary again: remember its content
        # so that a caller mutating it after fit gets an error, not a new answer.
        self._dictionary_digest_ = (
            None
            if self.dictionary is None
            else self._digest(
                D
                if dictionary is None
                else self._resolve_dictionary(self.dictionary, n_dims)
            )
        )
        ids = self._concept_rows(D)
        if self.head_index is None:
            head_index = np.column_stack(
                [np.zeros(n_heads, dtype=np.int64), np.arange(n_heads)]
            )
        else:
            head_index = np.asarray(self.head_index, dtype=np.int64)
            if head_index.shape != (n_heads, 2):
                raise ValueError(
                    f"head_index must have shape ({n_heads}, 2): one (layer, head) "
                    f"per column of X; got {head_index.shape}."
                )
        self.head_index_ = head_index

        result = somp(
            np.ascontiguousarray(X_np.transpose(1, 0, 2)),
            D[ids],
            min(n_atoms, len(ids)),
            center=self.center,
            device=self.device_,
            dtype=self.dtype_,
            verbose=self.verbose,
        )
        self.n_atoms_ = result.support.shape[1]
        self.evr_curves_ = result.explained_variance_ratio
        self.supports_ = ids[result.support]
        centred = X_np - X_np.mean(axis=0) if self.center else X_np
        self.total_variance_ = (centred.astype(np.float64) ** 2).sum(axis=(0, 2)) / max(
            n_samples - 1, 1
        )
        scores = self.evr_curves_[:, -1].copy()
        if self.metric == "explained_variance":
            scores *= self.total_variance_
        scores[head_index[:, 0] < self.min_layer] = -np.inf
        self.scores_ = scores
        lens = logit_lens_scores(X_np, D, ids)
        lens[head_index[:, 0] < self.min_layer] = -np.inf
        self.logit_lens_scores_ = lens
        self._select(X_np, D, ids, direction_scores, top_k)
        self.selected_head_index_ = head_index[self.selected_heads_]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The selected heads' writes, ``X[:, selected_heads_]``.

        Returns
        -------
        ndarray of shape (n_samples, top_k * d_model), or (n_samples, top_k, d_model)
        with ``flatten=False``.
        """
        check_is_fitted(self)
        X_np = self._validate_heads(X, reset=False)
        out = X_np[:, self.selected_heads_]
        return out.reshape(len(out), -1) if self.flatten else out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``L{layer}H{head}_{j}`` for each output column (flattened)."""
        check_is_fitted(self)
        return np.asarray(
            [
                f"L{layer}H{head}_{j}"
                for layer, head in self.selected_head_index_
                for j in range(self.n_dims_)
            ],
            dtype=object,
        )

    def random_control(
        self,
        n_sets: int = 10,
        *,
        k: int | None = None,
        same_layer: bool = True,
        random_state: Any = None,
    ) -> list[np.ndarray]:
        """Random head sets for the paper's control, disjoint from the selection.

        Each set has the same number of heads per layer as the top ``k`` heads
        (``same_layer=True``) and none of them; where a layer has too few other
        heads, the missing ones are drawn from any other eligible layer.

        Parameters
        ----------
        n_sets : int, default=10
            Number of random sets.
        k : int, default=None
            Size of the selection to match (``ranking_[:k]``); ``len(selected_heads_)``
            when ``None``.
        same_layer : bool, default=True
            Match the per-layer counts; otherwise any eligible heads.
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        list of ndarray
            ``n_sets`` sorted arrays of column indices of ``X``.
        """
        check_is_fitted(self)
        rng = check_random_state(
            self.random_state if random_state is None else random_state
        )
        n_sets = check_positive_int(n_sets, "n_sets")
        eligible = np.isfinite(self.scores_)
        k = len(self.selected_heads_) if k is None else check_positive_int(k, "k")
        if k > eligible.sum():
            raise ValueError(f"k must be at most {int(eligible.sum())}; got {k}.")
        selection = self.ranking_[:k]
        free = eligible.copy()
        free[selection] = False
        if k > free.sum():
            raise ValueError(
                f"not enough unselected heads ({int(free.sum())}) for a random "
                f"control of {k} heads."
            )
        layers = self.head_index_[:, 0]
        per_layer = np.zeros(int(layers.max()) + 1, dtype=np.int64)
        np.add.at(per_layer, layers[selection], 1)
        quota = per_layer[layers]  # heads to draw from each head's layer
        sets = []
        for _ in range(n_sets):
            # A random key per head; within each layer the smallest keys win.
            keys = np.where(free, rng.random(len(free)), np.inf)
            chosen = np.zeros(len(free), dtype=bool)
            if same_layer:
                order = np.lexsort((keys, layers))  # by layer, then key
                rank = np.empty(len(free), dtype=np.int64)
                sorted_layers = layers[order]
                starts = np.searchsorted(sorted_layers, sorted_layers, side="left")
                rank[order] = np.arange(len(free)) - starts
                chosen = free & (rank < quota)
            missing = k - int(chosen.sum())
            if missing:
                keys[chosen] = np.inf
                chosen[np.argsort(keys, kind="stable")[:missing]] = True
            sets.append(np.flatnonzero(chosen).astype(np.int64))
        return sets

    def explain(
        self,
        X: Any,
        head: int | Sequence[int],
        *,
        dictionary: Any = None,
        tokenizer: Any = None,
        n_tokens: int = 5,
    ) -> list[Any]:
        """The tokens that best explain a head: SOMP on the whole dictionary.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_heads, d_model)
            The writes the ranker was fitted on (or new ones).
        head : int or sequence of int
            Column of ``X``, or several columns (pursued together, in batches of
            heads that fit scikit-learn's ``working_memory``; see
            :func:`skres.solvers.somp`).
        dictionary : array-like, default=None
            Overrides the constructor's dictionary (the full unembedding).
        tokenizer : transformers tokenizer, default=None
            Decode ids to strings when given.
        n_tokens : int, default=5
            How many atoms to pursue (the paper lists five per head).

        Returns
        -------
        list of int or str
            Token ids (or decoded tokens), in selection order; one such list per
            head when ``head`` is a sequence.
        """
        check_is_fitted(self)
        X_np = self._validate_heads(X, reset=False)
        heads = np.atleast_1d(np.asarray(head))
        if (
            heads.ndim != 1
            or heads.size == 0
            or not np.issubdtype(heads.dtype, np.integer)
            or heads.min() < 0
            or heads.max() >= self.n_heads_
        ):
            raise ValueError(
                f"head must be an integer in [0, {self.n_heads_}) or a non-empty "
                f"sequence of them; got {head!r}."
            )
        D = self._resolve_dictionary(
            dictionary if dictionary is not None else self.dictionary, self.n_dims_
        )
        fitted_digest = getattr(self, "_dictionary_digest_", None)
        if dictionary is None and fitted_digest not in (None, self._digest(D)):
            raise ValueError(
                "The dictionary passed to HeadRanker changed after fit (the array "
                "was modified in place). Refit the ranker, or pass the dictionary "
                "to explain explicitly with explain(..., dictionary=...)."
            )
        data = np.ascontiguousarray(X_np[:, heads].transpose(1, 0, 2))
        supports = somp(
            data,
            D,
            n_tokens,
            center=self.center,
            device=self.device_,
            dtype=self.dtype_,
        ).support.tolist()
        if tokenizer is not None:
            supports = [[tokenizer.decode([i]) for i in ids] for ids in supports]
        return supports[0] if np.ndim(head) == 0 else supports
