"""Interpretability of transformers: attention-head ranking and residual alignment.

Estimators: :class:`HeadRanker` (Head Pursuit) and :class:`ResiDualAligner`
(ResiDual). Hugging Face helpers, which take an already-built model and never import
transformers themselves: :func:`extract_head_outputs`, :func:`edit_heads`,
:func:`concept_token_ids`, :func:`extract_residual_units`,
:func:`load_gguf_causal_lm`. Evaluation of head edits:
:func:`evaluate_head_edits`, :func:`evaluate_head_sets`, :func:`encode_prompts`;
single-head causal effects for choosing heads: :func:`measure_head_effects`,
:func:`measure_head_specificity`; the shipped concept sets :func:`load_concept`,
control tasks :func:`load_control_task` and :func:`load_reference_prompts`.
"""

from ._concepts import (
    CONCEPTS,
    CONTROL_TASKS,
    ConceptSet,
    ControlTask,
    load_concept,
    load_control_task,
    load_reference_prompts,
)
from ._loading import load_gguf_causal_lm
from .evaluation import (
    HeadEditEvaluation,
    encode_prompts,
    evaluate_head_edits,
    evaluate_head_sets,
)
from .head_effects import measure_head_effects, measure_head_specificity
from .heads import HeadRanker, concept_logit_shift, logit_lens_scores
from .hooks import (
    concept_token_ids,
    edit_heads,
    extract_head_outputs,
    extract_residual_units,
)
from .residual import ResiDualAligner

__all__ = [
    "CONCEPTS",
    "CONTROL_TASKS",
    "ConceptSet",
    "ControlTask",
    "HeadEditEvaluation",
    "encode_prompts",
    "evaluate_head_edits",
    "evaluate_head_sets",
    "measure_head_effects",
    "measure_head_specificity",
    "load_reference_prompts",
    "load_concept",
    "load_control_task",
    "HeadRanker",
    "ResiDualAligner",
    "concept_token_ids",
    "edit_heads",
    "extract_head_outputs",
    "extract_residual_units",
    "load_gguf_causal_lm",
    "concept_logit_shift",
    "logit_lens_scores",
]
