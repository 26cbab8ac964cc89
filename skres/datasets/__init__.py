"""Synthetic data generators reproducing the settings of the papers behind skres.

Each ``make_*`` function takes ``random_state`` and returns numpy arrays, following
the conventions of :mod:`sklearn.datasets`.
"""

from ._dictionary import make_sparse_dictionary
from ._trials import (
    make_embedding_trial,
    make_leaky_gaussian_trial,
    make_paradox_trial,
    make_sparse_code_trial,
)

__all__ = [
    "make_sparse_dictionary",
    "make_embedding_trial",
    "make_leaky_gaussian_trial",
    "make_paradox_trial",
    "make_sparse_code_trial",
]
