"""Synthetic data generators reproducing the settings of the papers behind skres.

Each ``make_*`` function takes ``random_state`` and returns numpy arrays, following
the conventions of :mod:`sklearn.datasets`.
"""

from ._dictionary import make_sparse_dictionary
from ._heads import make_planted_heads
from ._measurement import (
    make_contaminated_proxy,
    make_linear_gaussian_scm,
    make_measurement_model,
)
from ._ode import make_lorenz
from ._ppci import make_causal_digits, make_visible_treatment
from ._residual import make_residual_units

__all__ = [
    "make_causal_digits",
    "make_contaminated_proxy",
    "make_linear_gaussian_scm",
    "make_lorenz",
    "make_measurement_model",
    "make_planted_heads",
    "make_residual_units",
    "make_sparse_dictionary",
    "make_visible_treatment",
]
