"""Causal inference on scientific experiments and representations.

Public estimators: :class:`SparseAutoencoder` (the SAE of exploratory causal
inference). More arrive with their issues (Neural Effect Search, DERM, T-MEX,
shifted-node finding).
"""

from .sae import SparseAutoencoder
from .shifts import ShiftedNodeFinder

__all__ = ["SparseAutoencoder", "ShiftedNodeFinder"]
