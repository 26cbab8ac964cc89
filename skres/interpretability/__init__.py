"""Interpretability of transformers: attention-head ranking and residual alignment.

Estimators: :class:`HeadRanker` (Head Pursuit) and :class:`ResiDualAligner`
(ResiDual). Hugging Face helpers, which take an already-built model and never import
transformers themselves: :func:`extract_head_outputs`, :func:`edit_heads`,
:func:`concept_token_ids`, :func:`extract_residual_units`,
:func:`load_gguf_causal_lm`.
"""

from ._loading import load_gguf_causal_lm
from .heads import HeadRanker, logit_lens_scores
from .hooks import (
    concept_token_ids,
    edit_heads,
    extract_head_outputs,
    extract_residual_units,
)
from .residual import ResiDualAligner

__all__ = [
    "HeadRanker",
    "ResiDualAligner",
    "concept_token_ids",
    "edit_heads",
    "extract_head_outputs",
    "extract_residual_units",
    "load_gguf_causal_lm",
    "logit_lens_scores",
]
