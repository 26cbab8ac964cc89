"""Synthetic data generators reproducing the settings of the papers behind skres.

Each ``make_*`` function takes ``random_state`` and returns numpy arrays, following
the conventions of :mod:`sklearn.datasets`.
"""

from ._dictionary import make_sparse_dictionary
from ._sem import generalized_normal_psi, make_shifted_sem

__all__ = ["make_sparse_dictionary", "make_shifted_sem", "generalized_normal_psi"]
