"""Causal inference on scientific experiments and representations.

Public estimators: :class:`SparseAutoencoder` (the SAE of exploratory causal
inference) and :class:`NeuralEffectSearch` (which SAE neurons a randomised treatment
affects). More arrive with their issues (DERM, T-MEX, shifted-node finding).
"""

from .effect_search import NeuralEffectSearch
from .sae import SparseAutoencoder

__all__ = ["SparseAutoencoder", "NeuralEffectSearch"]
