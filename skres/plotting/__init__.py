"""Optional plots; matplotlib is imported only when a function here is called.

Install with ``pip install "skres[plot]"``.
"""

from ._effects import plot_effect_volcano
from ._training import plot_training_history

__all__ = ["plot_training_history", "plot_effect_volcano"]
