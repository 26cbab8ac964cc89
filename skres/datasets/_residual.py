"""Planted residual units: class signal hidden in low-variance directions."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_positive_float, check_positive_int


def make_residual_units(
    n_samples: int = 2000,
    *,
    n_units: int = 12,
    n_dims: int = 32,
    n_classes: int = 4,
    n_specialised: int = 2,
    n_nuisance_directions: int = 4,
    nuisance_rank: int = 4,
    class_amplitude: float = 1.0,
    nuisance_amplitude: float = 1.5,
    geometry_seed: int = 1234,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residual-unit contributions where only a few units carry the class.

    The setting of the ResiDual acceptance tests: ``n_specialised`` units write the
    class's embedding direction (amplitude ``class_amplitude``) plus
    ``n_nuisance_directions`` random, non-orthogonal nuisance directions of larger
    variance (``nuisance_amplitude``); the other units write only rank-
    ``nuisance_rank`` nuisance. Every unit has a random mean. The summed output is a
    poor zero-shot classifier (the nuisance dominates the cosine), while reweighting
    the specialised units' principal components recovers the class.

    The geometry (class embeddings, bases, means) depends on ``geometry_seed`` only,
    so draws with different ``random_state`` share it: use them as train, validation,
    test and PCA splits.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of samples.
    n_units, n_dims, n_classes : int, default=12, 32, 4
        Units, their dimension, classes.
    n_specialised : int, default=2
        Units that carry the class direction.
    n_nuisance_directions : int, default=4
        Nuisance directions added to each specialised unit.
    nuisance_rank : int, default=4
        Rank of the nuisance-only units.
    class_amplitude, nuisance_amplitude : float, default=1.0, 1.5
        Scale of the class signal and of the nuisance.
    geometry_seed : int, default=1234
        Seed of the shared geometry.
    random_state : int, numpy Generator, RandomState instance or None, default=None
        Seed of the samples.

    Returns
    -------
    X : ndarray of shape (n_samples, n_units, n_dims)
        Unit contributions.
    y : ndarray of shape (n_samples,)
        Class labels in ``range(n_classes)``.
    class_embeddings : ndarray of shape (n_classes, n_dims)
        Unit-norm class directions (the "text embeddings").

    Examples
    --------
    >>> from skres.datasets import make_residual_units
    >>> X, y, text = make_residual_units(n_samples=100, random_state=0)
    >>> X.shape, text.shape
    ((100, 12, 32), (4, 32))
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    n_units = check_positive_int(n_units, "n_units")
    n_dims = check_positive_int(n_dims, "n_dims")
    n_classes = check_positive_int(n_classes, "n_classes")
    n_specialised = check_positive_int(n_specialised, "n_specialised")
    if n_specialised > n_units:
        raise ValueError(
            f"n_specialised={n_specialised} must not exceed n_units={n_units}."
        )
    check_positive_int(n_nuisance_directions, "n_nuisance_directions")
    check_positive_int(nuisance_rank, "nuisance_rank")
    if max(n_classes, nuisance_rank) > n_dims:
        raise ValueError("n_classes and nuisance_rank must not exceed n_dims.")
    check_positive_float(class_amplitude, "class_amplitude", allow_zero=True)
    check_positive_float(nuisance_amplitude, "nuisance_amplitude", allow_zero=True)

    # numpy Generators, drawn in a fixed order, so that a given (geometry_seed,
    # random_state) always gives the same data as the spec's calibration runs.
    geometry = np.random.default_rng(geometry_seed)
    text = geometry.standard_normal((n_classes, n_dims))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    nuisance, means = [], []
    for u in range(n_units):
        if u < n_specialised:
            directions = geometry.standard_normal((n_nuisance_directions, n_dims))
            directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        else:
            directions = np.linalg.qr(
                geometry.standard_normal((n_dims, nuisance_rank))
            )[0].T
        nuisance.append(directions)
        means.append(0.5 * geometry.standard_normal(n_dims))

    if isinstance(random_state, np.random.RandomState):
        random_state = random_state.randint(np.iinfo(np.int32).max)
    rng = np.random.default_rng(random_state)
    y = rng.integers(0, n_classes, n_samples)
    X = np.empty((n_samples, n_units, n_dims))
    for u, directions in enumerate(nuisance):
        X[:, u] = means[u]
        if u < n_specialised:
            X[:, u] += class_amplitude * text[y]
            X[:, u] += 0.05 * rng.standard_normal((n_samples, n_classes)) @ text
        X[:, u] += (
            nuisance_amplitude
            * rng.standard_normal((n_samples, len(directions)))
            @ directions
        )
    return X, y, text
