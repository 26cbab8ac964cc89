"""Causal inference on scientific experiments and representations.

Public estimators: :class:`SparseAutoencoder` (the SAE of exploratory causal
inference) and :class:`TMEXScorer` (test-based measurement exclusivity of learned
representations, with :func:`make_tmex_scorer` for model selection). More arrive
with their issues (Neural Effect Search, DERM, shifted-node finding).
"""

from .sae import SparseAutoencoder
from .tmex import TMEXScorer, make_tmex_scorer

__all__ = ["SparseAutoencoder", "TMEXScorer", "make_tmex_scorer"]
