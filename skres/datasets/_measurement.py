"""Proxy measurements of latent causal variables (the T-MEX settings).

Two generators reproduce the simulated settings of the T-MEX paper's code (Yao,
Huang, Cadei, Zhang, Locatello, NeurIPS 2025), as described in the project spec:

- :func:`make_measurement_model`: a linear-Gaussian SCM over ``d`` latents and a
  learned representation that is the identity, a permutation with rescaling, a
  rotation, a full mixture, or a single mixed pair, optionally with noise;
- :func:`make_contaminated_proxy`: the paper's 5-latent experiment
  ``(z0, z1, z2, x, y)`` with a proxy of ``z0`` that is good, contaminated by the
  descendants ``z1`` and ``z2`` ("Model C"), or entangled.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import special_ortho_group
from sklearn.utils import check_random_state

from .._validation import check_option, check_positive_float, check_positive_int

__all__ = [
    "make_contaminated_proxy",
    "make_linear_gaussian_scm",
    "make_measurement_model",
]

_SETTINGS = ("identity", "permuted", "rotated", "mixed", "one_pair_mixed")


def make_linear_gaussian_scm(
    n_samples: int = 1000,
    n_latents: int = 5,
    *,
    edge_prob: float = 0.5,
    weight_range: tuple[float, float] = (0.5, 1.5),
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample a linear-Gaussian SCM ``Z = A Z + E`` on a random lower-triangular DAG.

    Each pair ``k < j`` gets an edge ``k -> j`` with probability ``edge_prob`` and
    weight ``±U[weight_range]``; noises are standard normal.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples.
    n_latents : int, default=5
        Number of latents ``d``.
    edge_prob : float, default=0.5
        Probability of each possible edge.
    weight_range : tuple of float, default=(0.5, 1.5)
        Range of the absolute edge weights.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    Z : ndarray of shape (n_samples, n_latents)
        The latents.
    A : ndarray of shape (n_latents, n_latents)
        Weighted adjacency, ``A[j, k] != 0`` for an edge ``k -> j``.

    Examples
    --------
    >>> import numpy as np
    >>> from skres.datasets import make_linear_gaussian_scm
    >>> Z, A = make_linear_gaussian_scm(n_samples=100, n_latents=4, random_state=0)
    >>> Z.shape, bool(np.all(np.triu(A) == 0))
    ((100, 4), True)
    """
    n = check_positive_int(n_samples, "n_samples")
    d = check_positive_int(n_latents, "n_latents")
    if not 0.0 <= float(edge_prob) <= 1.0:
        raise ValueError(f"edge_prob must be in [0, 1]; got {edge_prob!r}.")
    low, high = weight_range
    if not 0 <= low <= high:
        raise ValueError(
            f"weight_range must satisfy 0 <= low <= high; got {weight_range}."
        )
    rng = check_random_state(random_state)
    mask = np.tril(rng.random_sample((d, d)) < edge_prob, k=-1)
    A = mask * rng.uniform(low, high, (d, d)) * rng.choice([-1.0, 1.0], (d, d))
    E = rng.standard_normal((n, d))
    Z = np.linalg.solve(np.eye(d) - A, E.T).T
    return Z, A


def make_measurement_model(
    n_samples: int = 1000,
    n_latents: int = 5,
    *,
    setting: str = "identity",
    noise: float = 0.0,
    edge_prob: float = 0.5,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A learned representation ``Z_hat`` of linear-SCM latents ``Z`` (T-MEX settings).

    Latents come from :func:`make_linear_gaussian_scm`. The representation is

    - ``"identity"``: ``Z_hat = Z`` (T-MEX 0);
    - ``"permuted"``: ``Z_hat = Z[:, pi] diag(s)``, ``|s| ~ U[0.5, 2]`` with random
      sign (T-MEX 0 against the returned permutation matrix);
    - ``"rotated"``: ``Z_hat = Z R``, ``R`` a uniformly random rotation
      (T-MEX ``d (d - 1)``: every block depends on every latent);
    - ``"mixed"``: ``Z_hat = 0.8 Z + 0.2 sum_k Z_k`` (T-MEX ``d (d - 1)``);
    - ``"one_pair_mixed"``: the identity except ``Z_hat_1 = 0.5 Z_1 + 0.5 Z_2``
      (T-MEX 1);

    plus ``noise * N(0, 1)`` added to every column of ``Z_hat``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples.
    n_latents : int, default=5
        Number of latents ``d`` (and of representation columns).
    setting : {"identity", "permuted", "rotated", "mixed", "one_pair_mixed"}, \
            default="identity"
        How the representation relates to the latents.
    noise : float, default=0.0
        Standard deviation of the measurement noise.
    edge_prob : float, default=0.5
        Edge probability of the latent DAG.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    Z_hat : ndarray of shape (n_samples, n_latents)
        The learned representation (``X`` of :class:`~skres.causal.TMEXScorer`).
    Z : ndarray of shape (n_samples, n_latents)
        The true latents (``y``).
    W : ndarray of shape (n_latents, n_latents), dtype int
        The intended measurement model: ``W[i, j] = 1`` when column ``i`` of
        ``Z_hat`` is meant to measure latent ``j`` (identity except for
        ``"permuted"``, where it is the permutation).

    Examples
    --------
    >>> from skres.datasets import make_measurement_model
    >>> Z_hat, Z, W = make_measurement_model(
    ...     n_samples=200, n_latents=3, setting="permuted", random_state=0)
    >>> Z_hat.shape, W.sum(axis=1).tolist()
    ((200, 3), [1, 1, 1])
    """
    check_option(setting, "setting", _SETTINGS)
    noise = check_positive_float(noise, "noise", allow_zero=True)
    rng = check_random_state(random_state)
    Z, _ = make_linear_gaussian_scm(
        n_samples, n_latents, edge_prob=edge_prob, random_state=rng
    )
    d = Z.shape[1]
    W = np.eye(d, dtype=np.int64)
    if setting == "identity":
        Z_hat = Z.copy()
    elif setting == "permuted":
        perm = rng.permutation(d)
        scale = rng.uniform(0.5, 2.0, d) * rng.choice([-1.0, 1.0], d)
        Z_hat = Z[:, perm] * scale
        W = np.zeros((d, d), dtype=np.int64)
        W[np.arange(d), perm] = 1
    elif setting == "rotated":
        if d < 2:
            raise ValueError("setting='rotated' needs n_latents >= 2.")
        R = special_ortho_group.rvs(d, random_state=rng)
        Z_hat = Z @ R
    elif setting == "mixed":
        Z_hat = 0.8 * Z + 0.2 * Z.sum(axis=1, keepdims=True)
    else:  # one_pair_mixed
        if d < 2:
            raise ValueError("setting='one_pair_mixed' needs n_latents >= 2.")
        Z_hat = Z.copy()
        Z_hat[:, 0] = 0.5 * Z[:, 0] + 0.5 * Z[:, 1]
    if noise > 0:
        Z_hat = Z_hat + noise * rng.standard_normal(Z_hat.shape)
    return Z_hat, Z, W


#: Structural coefficients of the 5-latent experiment, order (z0, z1, z2, x, y).
_B_FIVE = np.array(
    [
        [0, 0, 0, 0, 0],
        [1, 0, 0, 0, 1],
        [1, 1, 0, 0, 0],
        [1, 0, 0, 0, 0],
        [1, 0, 0, 1, 0],
    ],
    dtype=float,
)

_PROXIES = ("good", "contaminated", "entangled")


def make_contaminated_proxy(
    n_samples: int = 4096,
    *,
    proxy: str = "good",
    noise: float = 0.1,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The 5-latent experiment of the T-MEX paper with a synthetic proxy of ``z0``.

    Latents ``Z = (z0, z1, z2, x, y)`` solve ``Z = B Z + eps`` with standard normal
    ``eps`` and ``x = z0 + e``, ``y = z0 + x + e``, ``z1 = z0 + y + e``,
    ``z2 = z0 + z1 + e``: ``z0`` confounds ``x -> y`` (true effect 1). The proxy
    stands in for a trained encoder of ``z0``:

    - ``"good"``: ``z0 + noise * N(0, 1)`` (T-MEX 0 against ``(1, 0, 0)``);
    - ``"contaminated"``: the good proxy ``+ 0.2 z1 - 0.1 z2`` (the paper's "Model
      C"; T-MEX 2, and the adjusted effect of ``x`` on ``y`` drops to about 0.84);
    - ``"entangled"``: ``0.5 z0 + 0.5 z1 - 0.5 z2`` (T-MEX 2).

    Only ``z0, z1, z2`` (columns 0-2) are tested in the paper; ``x`` and ``y`` are
    conditioned on: use ``TMEXScorer(test_latents=[0, 1, 2])``.

    Parameters
    ----------
    n_samples : int, default=4096
        Number of samples (the paper's batch size).
    proxy : {"good", "contaminated", "entangled"}, default="good"
        Which proxy to return.
    noise : float, default=0.1
        Standard deviation of the proxy's measurement noise.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    Z_hat : ndarray of shape (n_samples, 1)
        The proxy of ``z0``.
    Z : ndarray of shape (n_samples, 5)
        The latents ``(z0, z1, z2, x, y)``.

    Examples
    --------
    >>> from skres.datasets import make_contaminated_proxy
    >>> Z_hat, Z = make_contaminated_proxy(n_samples=500, random_state=0)
    >>> Z_hat.shape, Z.shape
    ((500, 1), (500, 5))
    """
    n = check_positive_int(n_samples, "n_samples")
    check_option(proxy, "proxy", _PROXIES)
    noise = check_positive_float(noise, "noise", allow_zero=True)
    rng = check_random_state(random_state)
    eps = rng.standard_normal((n, 5))
    Z = np.linalg.solve(np.eye(5) - _B_FIVE, eps.T).T
    z0, z1, z2 = Z[:, 0], Z[:, 1], Z[:, 2]
    good = z0 + noise * rng.standard_normal(n)
    if proxy == "good":
        Z_hat = good
    elif proxy == "contaminated":
        Z_hat = good + 0.2 * z1 - 0.1 * z2
    else:
        Z_hat = 0.5 * z0 + 0.5 * z1 - 0.5 * z2
    return Z_hat[:, None], Z
