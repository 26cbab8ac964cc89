"""Causal inference on scientific experiments and representations.

Public estimators: :class:`SparseAutoencoder` (the SAE of exploratory causal
inference). More arrive with their issues (Neural Effect Search, T-MEX,
shifted-node finding). :class:`DERMClassifier` and :class:`DERMRegressor` train
predictors for prediction-powered treatment effects
(:func:`prediction_powered_ate`, :func:`treatment_effect_bias`).
"""

from .ate import prediction_powered_ate, treatment_effect_bias
from .derm import DERMClassifier, DERMRegressor
from .sae import SparseAutoencoder

__all__ = [
    "SparseAutoencoder",
    "DERMRegressor",
    "DERMClassifier",
    "prediction_powered_ate",
    "treatment_effect_bias",
]
