"""Optional plots; matplotlib is imported only when a function here is called.

Install with ``pip install "skres[plot]"``.
"""

from ._dynamics import plot_latent_field
from ._effects import plot_effect_volcano
from ._interpretability import plot_edit_curve, plot_head_scores, plot_unit_weights
from ._tmex import plot_pvalue_heatmap
from ._training import plot_training_history

__all__ = [
    "plot_edit_curve",
    "plot_effect_volcano",
    "plot_head_scores",
    "plot_latent_field",
    "plot_pvalue_heatmap",
    "plot_training_history",
    "plot_unit_weights",
]
