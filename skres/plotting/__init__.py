"""Optional plots; matplotlib is imported only when a function here is called.

Install with ``pip install "skres[plot]"``.
"""

from ._tmex import plot_pvalue_heatmap
from ._training import plot_training_history

__all__ = ["plot_training_history", "plot_pvalue_heatmap"]
