"""Synthetic data generators reproducing the settings of the papers behind skres.

Each ``make_*`` function takes ``random_state`` and returns numpy arrays, following
the conventions of :mod:`sklearn.datasets`.
"""

from ._dictionary import make_sparse_dictionary
from ._measurement import (
    make_contaminated_proxy,
    make_linear_gaussian_scm,
    make_measurement_model,
)

__all__ = [
    "make_sparse_dictionary",
    "make_contaminated_proxy",
    "make_linear_gaussian_scm",
    "make_measurement_model",
]
