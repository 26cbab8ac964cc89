"""Causal inference on scientific experiments and representations.

* :class:`SparseAutoencoder`: the SAE of exploratory causal inference, and
  :class:`NeuralEffectSearch`: which SAE neurons a randomised treatment affects.
* :class:`DERMClassifier`, :class:`DERMRegressor`: predictors trained for
  prediction-powered treatment effects (:func:`prediction_powered_ate`,
  :func:`treatment_effect_bias`).
* :class:`ShiftedNodeFinder`: which latent causal nodes shift across environments
  (linear causal representation learning).
* :class:`TMEXScorer`: test-based measurement exclusivity of learned
  representations, with :func:`make_tmex_scorer` for model selection.
"""

from .ate import prediction_powered_ate, treatment_effect_bias
from .derm import DERMClassifier, DERMRegressor
from .effect_search import NeuralEffectSearch
from .sae import SparseAutoencoder
from .shifts import ShiftedNodeFinder
from .tmex import TMEXScorer, make_tmex_scorer

__all__ = [
    "DERMClassifier",
    "DERMRegressor",
    "NeuralEffectSearch",
    "ShiftedNodeFinder",
    "SparseAutoencoder",
    "TMEXScorer",
    "make_tmex_scorer",
    "prediction_powered_ate",
    "treatment_effect_bias",
]
