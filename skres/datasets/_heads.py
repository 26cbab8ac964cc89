"""Planted attention heads: a few heads write a concept's tokens."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_positive_float, check_positive_int


def make_planted_heads(
    n_samples: int = 300,
    *,
    n_heads: int = 48,
    n_dims: int = 64,
    vocab_size: int = 800,
    concept_size: int = 40,
    planted_heads: tuple[int, ...] = (5, 17, 30),
    n_active: int = 4,
    noise: float = 0.3,
    signs: tuple[int, ...] | None = None,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-head writes where only the planted heads use the concept's tokens.

    The dictionary has ``vocab_size`` random unit-norm rows; the concept is its
    first ``concept_size`` rows. Each head writes, for every sample, a random
    combination (coefficients N(0, 4)) of ``n_active`` atoms drawn once per head —
    from the concept for the planted heads, from the other tokens otherwise — plus
    Gaussian noise and a per-head offset. Head Pursuit should rank the planted heads
    first.

    Parameters
    ----------
    n_samples : int, default=300
        Samples (prompts).
    n_heads, n_dims, vocab_size, concept_size : int, default=48, 64, 800, 40
        Heads, model width, dictionary size, concept size.
    planted_heads : tuple of int, default=(5, 17, 30)
        Heads that write the concept.
    n_active : int, default=4
        Atoms used by each head.
    noise : float, default=0.3
        Noise standard deviation.
    signs : tuple of {-1, 0, 1}, default=None
        One per planted head: the sign of its mean write along its concept atoms.
        ``1`` gives the head's coefficients a mean of +2, so on average it raises
        the concept's logits (it *promotes* the concept); ``-1`` a mean of -2
        (it *suppresses* the concept); ``0`` (and ``None``, for every head)
        zero-mean coefficients. The explained variance is the same either way;
        only the sign of the head's effect differs.
    random_state : int, numpy Generator, RandomState or None, default=None
        Seed.

    Returns
    -------
    X : ndarray of shape (n_samples, n_heads, n_dims)
    dictionary : ndarray of shape (vocab_size, n_dims)
    concept_ids : ndarray of shape (concept_size,)

    Examples
    --------
    >>> from skres.datasets import make_planted_heads
    >>> X, dictionary, concept = make_planted_heads(random_state=0)
    >>> X.shape, dictionary.shape, concept.shape
    ((300, 48, 64), (800, 64), (40,))
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    n_heads = check_positive_int(n_heads, "n_heads")
    n_dims = check_positive_int(n_dims, "n_dims")
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    concept_size = check_positive_int(concept_size, "concept_size")
    n_active = check_positive_int(n_active, "n_active")
    check_positive_float(noise, "noise", allow_zero=True)
    if concept_size + n_active > vocab_size or n_active > concept_size:
        raise ValueError(
            "need n_active <= concept_size and concept_size + n_active <= vocab_size."
        )
    if any(not 0 <= h < n_heads for h in planted_heads):
        raise ValueError(
            f"planted_heads must be in [0, {n_heads}); got {planted_heads}."
        )
    if signs is None:
        signs = (0,) * len(planted_heads)
    if len(signs) != len(planted_heads) or any(v not in (-1, 0, 1) for v in signs):
        raise ValueError(
            f"signs must hold one of -1, 0, 1 per planted head; got {signs!r}."
        )
    mean_of = dict(zip(planted_heads, (2.0 * v for v in signs), strict=True))
    if isinstance(random_state, np.random.RandomState):
        random_state = random_state.randint(np.iinfo(np.int32).max)
    rng = np.random.default_rng(random_state)
    dictionary = rng.standard_normal((vocab_size, n_dims))
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    concept = np.arange(concept_size)
    others = np.arange(concept_size, vocab_size)
    X = np.empty((n_samples, n_heads, n_dims))
    for h in range(n_heads):
        pool = concept if h in planted_heads else others
        atoms = rng.choice(pool, n_active, replace=False)
        coefficients = rng.standard_normal((n_samples, n_active)) * 2.0
        X[:, h] = (coefficients + mean_of.get(h, 0.0)) @ dictionary[atoms]
        X[:, h] += noise * rng.standard_normal((n_samples, n_dims))
        X[:, h] += rng.standard_normal(n_dims)
    return X, dictionary, concept
