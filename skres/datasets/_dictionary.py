"""Planted sparse dictionaries: the ground truth for sparse-autoencoder tests."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_positive_float, check_positive_int


def make_sparse_dictionary(
    n_samples: int = 20_000,
    n_features: int = 32,
    n_atoms: int = 64,
    n_active: int = 3,
    *,
    offset: float = 1.0,
    noise: float = 0.0,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples that are sparse non-negative combinations of unit-norm atoms.

    Each sample is ``x = c @ atoms + offset * u + noise * e`` where ``c`` has exactly
    ``n_active`` non-zero entries drawn uniformly in ``[0.5, 1.5]`` on atoms chosen
    uniformly at random, ``u`` is a fixed random direction shared by all samples
    (a large common offset, as foundation-model activations have) and ``e`` is
    standard normal noise.

    Parameters
    ----------
    n_samples : int, default=20000
        Number of samples.
    n_features : int, default=32
        Ambient dimension ``d``.
    n_atoms : int, default=64
        Number of true atoms (may exceed ``n_features``: an overcomplete dictionary).
    n_active : int, default=3
        Non-zero coefficients per sample.
    offset : float, default=1.0
        Norm of the common offset vector (``0`` for none).
    noise : float, default=0.0
        Standard deviation of additive Gaussian noise.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The samples.
    atoms : ndarray of shape (n_atoms, n_features)
        The true unit-norm atoms.
    codes : ndarray of shape (n_samples, n_atoms)
        The true sparse non-negative codes.

    Examples
    --------
    >>> from skres.datasets import make_sparse_dictionary
    >>> X, atoms, codes = make_sparse_dictionary(n_samples=100, random_state=0)
    >>> X.shape, atoms.shape, int((codes > 0).sum(axis=1).max())
    ((100, 32), (64, 32), 3)
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    n_features = check_positive_int(n_features, "n_features")
    n_atoms = check_positive_int(n_atoms, "n_atoms")
    n_active = check_positive_int(n_active, "n_active")
    if n_active > n_atoms:
        raise ValueError(f"n_active={n_active} must not exceed n_atoms={n_atoms}.")
    check_positive_float(offset, "offset", allow_zero=True)
    check_positive_float(noise, "noise", allow_zero=True)
    rng = check_random_state(random_state)

    atoms = rng.standard_normal((n_atoms, n_features))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    # Pick n_active distinct atoms per row: the smallest keys of a random matrix.
    support = np.argpartition(
        rng.random_sample((n_samples, n_atoms)), n_active - 1, axis=1
    )[:, :n_active]
    codes = np.zeros((n_samples, n_atoms))
    np.put_along_axis(
        codes, support, rng.uniform(0.5, 1.5, (n_samples, n_active)), axis=1
    )
    direction = rng.standard_normal(n_features)
    direction *= offset / np.linalg.norm(direction)
    X = codes @ atoms + direction
    if noise > 0:
        X += noise * rng.standard_normal(X.shape)
    return X, atoms, codes
