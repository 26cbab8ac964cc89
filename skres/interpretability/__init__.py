"""Interpretability of transformers: residual-unit alignment and head analysis.

Public names: :class:`ResiDualAligner` and :func:`extract_residual_units`. The
functions that take a Hugging Face model never import transformers themselves.
"""

from .hooks import extract_residual_units
from .residual import ResiDualAligner

__all__ = ["ResiDualAligner", "extract_residual_units"]
