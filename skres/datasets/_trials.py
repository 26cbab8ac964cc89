"""Simulated randomised trials for Neural Effect Search (exploratory causal inference).

Each generator returns ``(Z, treatment, info)``: the unit-level codes (or
embeddings), a binary treatment, and a :class:`~sklearn.utils.Bunch` with the ground
truth (``affected``: the neurons the treatment affects directly; ``leaky``: neurons
that only inherit an effect). They reproduce the worlds of the paper and of the
skres spec in which naive per-neuron testing fails ("the paradox").
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._validation import check_positive_float, check_positive_int

__all__ = [
    "make_embedding_trial",
    "make_leaky_gaussian_trial",
    "make_paradox_trial",
    "make_sparse_code_trial",
]


def _balanced_treatment(n: int, rng: np.random.RandomState) -> np.ndarray:
    return rng.permutation(np.arange(n) % 2).astype(np.int64)


def _check_n(n_samples: Any) -> int:
    n = check_positive_int(n_samples, "n_samples")
    if n < 4:
        raise ValueError(f"n_samples must be >= 4 (two units per arm); got {n}.")
    return n


def make_leaky_gaussian_trial(
    n_samples: int = 1152,
    *,
    n_features: int = 200,
    effects: tuple[float, float] = (0.8, 0.6),
    n_leaky: int = 10,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, Bunch]:
    """Gaussian codes where two neurons carry the effect and ten leak it.

    With a balanced treatment ``T``: ``Z_0 = d_1 T + e`` and ``Z_1 = d_2 T + e``
    (the affected neurons); leaky neuron ``j`` (columns ``2 .. 1 + n_leaky``) is
    ``a_j Z_p + b_j Z_q + 0.5 e`` with ``p = j mod 2``, ``q = 1 - p``,
    ``a_j ~ U(0.3, 0.6)`` and ``b_j ~ U(0, 0.15)``; the other neurons are pure
    noise, every second one log-normal (``exp(e / 2)``). ``e`` is standard normal.

    Parameters
    ----------
    n_samples : int, default=1152
        Number of units.
    n_features : int, default=200
        Number of neurons ``m`` (at least ``2 + n_leaky``).
    effects : tuple of two floats, default=(0.8, 0.6)
        ``(d_1, d_2)``, in noise standard deviations. ``(0, 0)`` is the global null.
    n_leaky : int, default=10
        Number of leaky neurons.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    Z : ndarray of shape (n_samples, n_features)
        Codes.
    treatment : ndarray of shape (n_samples,), dtype int64
        Balanced binary treatment.
    info : Bunch
        ``affected`` (neurons with a non-zero direct effect), ``leaky``,
        ``loadings`` (``(a, b)`` per leaky neuron), ``effects``.

    Examples
    --------
    >>> from skres.datasets import make_leaky_gaussian_trial
    >>> Z, T, info = make_leaky_gaussian_trial(n_samples=72, random_state=0)
    >>> Z.shape, info.affected.tolist(), info.leaky[:3].tolist()
    ((72, 200), [0, 1], [2, 3, 4])
    """
    n = _check_n(n_samples)
    m = check_positive_int(n_features, "n_features")
    n_leaky = check_positive_int(n_leaky, "n_leaky")
    if m < 2 + n_leaky:
        raise ValueError(
            f"n_features must be >= 2 + n_leaky = {2 + n_leaky}; got {n_features}."
        )
    d = np.asarray(effects, dtype=np.float64)
    if d.shape != (2,) or not np.all(np.isfinite(d)):
        raise ValueError(f"effects must be two finite numbers; got {effects!r}.")
    rng = check_random_state(random_state)
    T = _balanced_treatment(n, rng)
    Z = rng.standard_normal((n, m))
    Z[:, :2] += T[:, None] * d
    leaky = np.arange(2, 2 + n_leaky)
    a = rng.uniform(0.3, 0.6, n_leaky)
    b = rng.uniform(0.0, 0.15, n_leaky)
    primary = leaky % 2
    Z[:, leaky] = a * Z[:, primary] + b * Z[:, 1 - primary] + 0.5 * Z[:, leaky]
    skewed = np.arange(2 + n_leaky, m)[::2]
    Z[:, skewed] = np.exp(0.5 * Z[:, skewed])
    info = Bunch(
        affected=np.flatnonzero(d != 0), leaky=leaky, loadings=(a, b), effects=d
    )
    return Z, T, info


def _principal(
    concept: np.ndarray, rng: np.random.RandomState, spurious: float = 0.05
) -> np.ndarray:
    """A neuron aligned with binary concepts: log-normal magnitude when on, a small
    spurious activation in ``spurious`` of the units when off."""
    on = concept * rng.lognormal(0.0, 0.5, concept.shape)
    off = (1 - concept) * (rng.random_sample(concept.shape) < spurious)
    return on + off * rng.uniform(0.0, 0.1, concept.shape)


def make_sparse_code_trial(
    n_samples: int = 1000,
    *,
    effect: float = 0.4,
    confounder: bool = False,
    n_nuisance: int = 20,
    n_leaky: int = 100,
    n_noise: int = 300,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, Bunch]:
    """Non-negative, sparse, SAE-like codes of a trial on binary concepts.

    Concepts: ``Y1`` and ``Y2`` with ``P(Y = 1 | T) = 0.5 + effect (T - 1/2)``; a
    covariate ``W ~ Bern(1/2)``; ``n_nuisance`` concepts independent of ``T``. With
    ``confounder=True``, ``Y1`` follows the paper's CelebA design: for ``W = 1``,
    ``P(Y1 | T) = 0.5 + effect (T - 1/2)``; for ``W = 0``,
    ``P(Y1 | T) = 0.2 + effect T``, which makes ``Y1`` a common child of ``T`` and
    ``W``. Neurons (``m = 3 + n_nuisance + n_leaky + n_noise``):

    * 0, 1, 2: principal neurons of ``Y1``, ``Y2``, ``W``; then one per nuisance
      concept. Log-normal magnitude when the concept is on, a small spurious
      activation in 5 % of units when it is off;
    * leaky: ``ReLU(a1 Y1 + a2 Y2 + 0.8 C_k + 0.3 e - 0.3)``, ``a ~ U(0.05, 0.4)``,
      ``C_k`` a nuisance concept;
    * noise: sparse log-normal activations, active in 2-30 % of units.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of units (balanced arms).
    effect : float, default=0.4
        Treatment effect on the concepts' probabilities, in [0, 0.8].
    confounder : bool, default=False
        Make ``Y1`` depend on ``W`` as in the paper (``W`` is then a distractor
        whose neuron NES may pick through collider bias at large ``n``).
    n_nuisance, n_leaky, n_noise : int, default=20, 100, 300
        Number of nuisance concepts, leaky neurons and noise neurons.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    Z : ndarray of shape (n_samples, 3 + n_nuisance + n_leaky + n_noise)
        Codes.
    treatment : ndarray of shape (n_samples,), dtype int64
    info : Bunch
        ``affected`` ([0, 1], or empty when ``effect == 0``), ``confounder_neuron``
        (2), ``leaky``, ``noise``, ``concepts`` (n_samples, 3 + n_nuisance) with
        columns ``Y1, Y2, W, C_1...``.

    Examples
    --------
    >>> from skres.datasets import make_sparse_code_trial
    >>> Z, T, info = make_sparse_code_trial(n_samples=500, random_state=0)
    >>> Z.shape, float(Z.min()) >= 0, info.affected.tolist()
    ((500, 423), True, [0, 1])
    """
    n = _check_n(n_samples)
    effect = check_positive_float(effect, "effect", allow_zero=True)
    if effect > 0.8:
        raise ValueError(f"effect must be in [0, 0.8]; got {effect}.")
    n_nuisance = check_positive_int(n_nuisance, "n_nuisance")
    n_leaky = check_positive_int(n_leaky, "n_leaky")
    n_noise = check_positive_int(n_noise, "n_noise")
    rng = check_random_state(random_state)
    T = _balanced_treatment(n, rng)
    W = (rng.random_sample(n) < 0.5).astype(np.float64)
    p_y = 0.5 + effect * (T - 0.5)
    if confounder:
        p_y1 = np.where(W == 1, p_y, 0.2 + effect * T)
    else:
        p_y1 = p_y
    Y1 = (rng.random_sample(n) < p_y1).astype(np.float64)
    Y2 = (rng.random_sample(n) < p_y).astype(np.float64)
    prevalence = rng.uniform(0.1, 0.5, n_nuisance)
    C = (rng.random_sample((n, n_nuisance)) < prevalence).astype(np.float64)
    concepts = np.column_stack([Y1, Y2, W, C])
    principal = _principal(concepts, rng)
    a = rng.uniform(0.05, 0.4, (2, n_leaky))
    which = np.arange(n_leaky) % n_nuisance
    pre = (
        Y1[:, None] * a[0]
        + Y2[:, None] * a[1]
        + 0.8 * C[:, which]
        + 0.3 * rng.standard_normal((n, n_leaky))
        - 0.3
    )
    leaky_codes = np.maximum(pre, 0.0)
    rate = rng.uniform(0.02, 0.3, n_noise)
    noise = (rng.random_sample((n, n_noise)) < rate) * rng.lognormal(
        0.0, 0.5, (n, n_noise)
    )
    Z = np.column_stack([principal, leaky_codes, noise])
    start = concepts.shape[1]
    info = Bunch(
        affected=np.array([0, 1]) if effect > 0 else np.zeros(0, dtype=np.int64),
        confounder_neuron=2,
        leaky=np.arange(start, start + n_leaky),
        noise=np.arange(start + n_leaky, Z.shape[1]),
        concepts=concepts,
    )
    return Z, T, info


def make_paradox_trial(
    n_samples: int = 10_000,
    *,
    n_features: int = 100,
    effect: float = 2.0,
    leak: float = 0.01,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, Bunch]:
    """The paper's Figure 3 world: one affected neuron, tiny leakage everywhere.

    ``T ~ Bern(1/2)``, ``Y = effect * T + e``, ``Z_0 = Y`` and
    ``Z_j = leak * Y + e_j`` for ``j = 1 .. n_features - 1``. Every ``Z_j`` has a
    real effect ``leak * effect``, so per-neuron tests reject more and more of them
    as ``n`` or ``effect`` grows, whatever the multiplicity correction.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of units.
    n_features : int, default=100
        Number of neurons ``m``.
    effect : float, default=2.0
        Effect ``tau`` of the treatment on the concept ``Y``.
    leak : float, default=0.01
        Loading of every other neuron on ``Y``.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    Z : ndarray of shape (n_samples, n_features)
    treatment : ndarray of shape (n_samples,), dtype int64
    info : Bunch
        ``affected`` ([0]), ``leaky`` (1 .. m - 1), ``concept`` (``Y``).

    Examples
    --------
    >>> from skres.datasets import make_paradox_trial
    >>> Z, T, info = make_paradox_trial(n_samples=1000, random_state=0)
    >>> Z.shape, info.affected.tolist()
    ((1000, 100), [0])
    """
    n = _check_n(n_samples)
    m = check_positive_int(n_features, "n_features")
    if m < 2:
        raise ValueError(f"n_features must be >= 2; got {m}.")
    effect = float(effect)
    leak = float(leak)
    if not (np.isfinite(effect) and np.isfinite(leak)):
        raise ValueError("effect and leak must be finite numbers.")
    rng = check_random_state(random_state)
    T = (rng.random_sample(n) < 0.5).astype(np.int64)
    Y = effect * T + rng.standard_normal(n)
    Z = rng.standard_normal((n, m))
    Z[:, 0] = Y
    Z[:, 1:] += leak * Y[:, None]
    info = Bunch(affected=np.array([0]), leaky=np.arange(1, m), concept=Y)
    return Z, T, info


def make_embedding_trial(
    n_samples: int = 4000,
    *,
    n_features: int = 32,
    n_concepts: int = 32,
    effect: float = 0.4,
    prevalence: float = 0.06,
    noise: float = 0.05,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, Bunch]:
    """Foundation-model-like embeddings of a trial: sparse sums of concept atoms.

    Each unit's embedding is ``h = sum_k c_k s_k a_k + u + noise * e``: concepts
    ``c_k`` are binary, ``s_k ~ U(0.5, 1.5)`` their strengths, ``a_k`` unit-norm
    random atoms (``n_concepts > n_features``, so atoms overlap: no embedding
    coordinate is a clean concept) and ``u`` a common offset. The treatment raises
    the probability of concepts 0 and 1 from ``0.3 - effect / 2`` ... to
    ``0.3 + effect / 2``; the others are on with probability ``prevalence``.
    A sparse autoencoder recovers neurons aligned with the concepts, but atoms that
    overlap with concepts 0 and 1 leak their effect.

    Parameters
    ----------
    n_samples : int, default=4000
        Number of units (balanced arms).
    n_features : int, default=32
        Embedding dimension ``d``.
    n_concepts : int, default=32
        Number of concepts (atoms).
    effect : float, default=0.4
        Effect on the probability of concepts 0 and 1, in [0, 0.6].
    prevalence : float, default=0.06
        Probability of every other concept.
    noise : float, default=0.05
        Standard deviation of the embedding noise.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    H : ndarray of shape (n_samples, n_features)
        Embeddings.
    treatment : ndarray of shape (n_samples,), dtype int64
    info : Bunch
        ``concepts`` (n_samples, n_concepts) binary, ``atoms``
        (n_concepts, n_features), ``affected_concepts`` ([0, 1]).

    Examples
    --------
    >>> from skres.datasets import make_embedding_trial
    >>> H, T, info = make_embedding_trial(n_samples=200, random_state=0)
    >>> H.shape, info.concepts.shape
    ((200, 32), (200, 32))
    """
    n = _check_n(n_samples)
    d = check_positive_int(n_features, "n_features")
    k = check_positive_int(n_concepts, "n_concepts")
    if k < 2:
        raise ValueError(f"n_concepts must be >= 2; got {k}.")
    effect = check_positive_float(effect, "effect", allow_zero=True)
    if effect > 0.6:
        raise ValueError(f"effect must be in [0, 0.6]; got {effect}.")
    prevalence = check_positive_float(prevalence, "prevalence")
    if prevalence >= 1:
        raise ValueError(f"prevalence must be in (0, 1); got {prevalence}.")
    noise = check_positive_float(noise, "noise", allow_zero=True)
    rng = check_random_state(random_state)
    T = _balanced_treatment(n, rng)
    atoms = rng.standard_normal((k, d))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    p = np.full((n, k), prevalence)
    p[:, :2] = (0.3 + effect * (T - 0.5))[:, None]
    concepts = (rng.random_sample((n, k)) < p).astype(np.float64)
    strengths = rng.uniform(0.5, 1.5, (n, k))
    offset = rng.standard_normal(d)
    H = (concepts * strengths) @ atoms + offset + noise * rng.standard_normal((n, d))
    info = Bunch(concepts=concepts, atoms=atoms, affected_concepts=np.array([0, 1]))
    return H, T, info
