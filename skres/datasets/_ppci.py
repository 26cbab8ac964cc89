"""Synthetic experiments for prediction-powered causal inference (DERM).

Two worlds from "Prediction-Powered Causal Inferences" (Cadei et al., NeurIPS 2025),
as described in the skres DERM spec: a tabular binary world with a *visible*
treatment, and CausalDigits, an offline analogue of the paper's CausalMNIST built on
scikit-learn's bundled 8x8 digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._validation import check_option, check_positive_float, check_positive_int

__all__ = ["make_causal_digits", "make_visible_treatment"]

#: P(Y = 1 | T, W) for (T, W) = (1, 1), (1, 0), (0, 1), (0, 0).
_VISIBLE_TARGETS = {
    "train": (0.9, 0.7, 0.3, 0.1),
    "id": (0.9, 0.7, 0.3, 0.1),
    "null": (0.5, 0.3, 0.5, 0.3),
    "reversed": (0.3, 0.3, 0.6, 0.6),
}


def make_visible_treatment(
    n_samples: int = 4000,
    *,
    target: str = "train",
    mu: float = 1.0,
    n_signal: int = 5,
    noise: float = 0.1,
    random_state: Any = None,
) -> Bunch:
    """Binary-outcome trial whose treatment is visible in the inputs.

    ``T ~ Bern(0.5)`` and ``W ~ Bern(0.5)`` are randomised; ``Y ~ Bern(p(T, W))``;
    the inputs are ``X = [mu * Y + N(0, I_{n_signal})] (+) [T, W, T W] + noise``, so
    a model can read the treatment and the setting off ``X``. Trained on the
    ``"train"`` world, ERM learns ``P(Y | T, W)`` through those columns and carries
    it to a target where it no longer holds; DERM does not.

    ``target`` picks ``p(T, W)`` for ``(T, W) = (1,1), (1,0), (0,1), (0,0)``:

    * ``"train"`` / ``"id"``: (0.9, 0.7, 0.3, 0.1), ATE 0.6;
    * ``"null"``: (0.5, 0.3, 0.5, 0.3), ATE 0;
    * ``"reversed"``: (0.3, 0.3, 0.6, 0.6), ATE -0.3.

    Every setting has both outcomes (the paper's full-support condition, Eq. 8).

    Parameters
    ----------
    n_samples : int, default=4000
        Number of units.
    target : {"train", "id", "null", "reversed"}, default="train"
        Outcome mechanism.
    mu : float, default=1.0
        Signal strength of ``Y`` in the first ``n_signal`` features; the smaller,
        the more a model leans on the visible treatment.
    n_signal : int, default=5
        Number of outcome-signal features.
    noise : float, default=0.1
        Standard deviation of the noise on the ``[T, W, T W]`` columns.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X`` (n_samples, n_signal + 3), ``y`` (0/1), ``treatment``, ``covariates``
        (``W``, shape (n_samples, 1)), ``settings`` (``[T, W]``, shape
        (n_samples, 2)), ``ate`` (the population ATE) and ``probabilities``
        (``P(Y = 1 | T, W)`` per unit).

    Examples
    --------
    >>> from skres.datasets import make_visible_treatment
    >>> d = make_visible_treatment(n_samples=100, target="null", random_state=0)
    >>> d.X.shape, d.settings.shape, d.ate
    ((100, 8), (100, 2), 0.0)
    """
    n = check_positive_int(n_samples, "n_samples")
    check_option(target, "target", tuple(_VISIBLE_TARGETS))
    n_signal = check_positive_int(n_signal, "n_signal")
    noise = check_positive_float(noise, "noise", allow_zero=True)
    if not np.isfinite(mu):
        raise ValueError(f"mu must be finite; got {mu!r}.")
    rng = check_random_state(random_state)
    p11, p10, p01, p00 = _VISIBLE_TARGETS[target]
    T = rng.randint(0, 2, n)
    W = rng.randint(0, 2, n)
    table = np.array([[p00, p01], [p10, p11]])
    p = table[T, W]
    y = (rng.uniform(size=n) < p).astype(np.int64)
    signal = mu * y[:, None] + rng.standard_normal((n, n_signal))
    visible = np.column_stack([T, W, T * W]) + noise * rng.standard_normal((n, 3))
    return Bunch(
        X=np.hstack([signal, visible]),
        y=y,
        treatment=T,
        covariates=W[:, None].astype(np.float64),
        settings=np.column_stack([T, W]),
        ate=float(round(0.5 * (p11 - p01) + 0.5 * (p10 - p00), 12)),
        probabilities=p,
    )


# ------------------------------------------------------------------ CausalDigits
#: setting -> (effect, p_w, p_u, design, digit pool)
_DIGIT_SETTINGS = {
    "train": ("linear", 0.5, 0.05, "rct", "train"),
    "id": ("linear", 0.5, 0.05, "rct", "test"),
    "null-soft": ("null", 0.05, 0.05, "observational", "test"),
    "null-hard": ("null", 0.5, 0.5, "observational", "test"),
    "nl-soft": ("nonlinear", 0.2, 0.2, "observational", "test"),
    "nl-hard": ("nonlinear", 0.5, 0.5, "observational", "test"),
}

_BACKGROUND = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # W=0 green, W=1 red
_PEN = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # T=0 black, T=1 white
_PAD = 2


def _digit_pools() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-digit image stacks (ink in [0, 1]) of two disjoint halves of load_digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images / 16.0
    order = np.random.RandomState(0).permutation(len(images))  # fixed split
    train, test = [], []
    for k in range(10):
        idx = order[digits.target[order] == k]
        half = len(idx) // 2
        train.append(images[idx[:half]])
        test.append(images[idx[half:]])
    return train, test


def _shrink_matrix(size: int, pad: int) -> np.ndarray:
    """Area-averaging resampling of a (size + 2 pad) axis down to ``size``."""
    big = size + 2 * pad
    edges = np.linspace(0.0, big, size + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    cells = np.arange(big)[None, :]
    overlap = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def make_causal_digits(
    n_samples: int = 3000,
    *,
    setting: str = "train",
    noise: float = 0.1,
    p_w: float | None = None,
    p_u: float | None = None,
    random_state: Any = None,
) -> Bunch:
    """CausalDigits: coloured 8x8 digits whose value is a causal outcome.

    An offline analogue of CausalMNIST (Cadei et al. 2025, Table 1). Each unit has a
    background colour ``W ~ Bern(p_w)`` (green/red), a border ``U ~ Bern(p_u)`` (the
    digit is padded with background and shrunk) and a pen colour, the treatment
    ``T`` (black/white). The outcome ``Y`` in 0..9 is drawn from the unit's settings
    and the image shows a digit ``Y`` (from ``sklearn.datasets.load_digits``) in
    those colours, plus Gaussian pixel noise. With ``R_k ~ U{0..3}`` and
    ``R_7 ~ U{0..6}``:

    * ``"linear"`` effect: ``Y = R_1 W + R_2 T + R_3 U`` (ATE 1.5);
    * ``"null"`` effect: ``Y = R_1 W + R_2 + R_3 U`` (ATE 0);
    * ``"nonlinear"`` effect: ``Y = R_4 1{U or T} + R_7`` (ATE ``1.5 (1 - p_u)``).

    ``setting`` picks the paper's training experiment or a target:

    ========== =========== ====== ====== =============== ===========
    setting    effect      p_w    p_u    design          digit pool
    ========== =========== ====== ====== =============== ===========
    train      linear      0.5    0.05   RCT             train half
    id         linear      0.5    0.05   RCT             test half
    null-soft  null        0.05   0.05   observational   test half
    null-hard  null        0.5    0.5    observational   test half
    nl-soft    nonlinear   0.2    0.2    observational   test half
    nl-hard    nonlinear   0.5    0.5    observational   test half
    ========== =========== ====== ====== =============== ===========

    In the RCT ``T ~ Bern(0.5)``; in the observational targets
    ``T ~ Bern(0.1 + 0.8 W)``. Training and target images come from disjoint halves
    of the 1797 bundled digits.

    Parameters
    ----------
    n_samples : int, default=3000
        Number of units.
    setting : {"train", "id", "null-soft", "null-hard", "nl-soft", "nl-hard"}, \
            default="train"
        Experiment.
    noise : float, default=0.1
        Standard deviation of the pixel noise.
    p_w, p_u : float or None, default=None
        Override the setting's ``P(W = 1)`` and ``P(U = 1)``.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X`` (n_samples, 192): RGB 8x8 images flattened channel-last;
        ``images`` (n_samples, 8, 8, 3); ``y`` (0..9); ``treatment``; ``covariates``
        (``W``, shape (n_samples, 1)); ``settings`` (``[W, U, T]``, shape
        (n_samples, 3)) and ``ate`` (the population ATE).

    Examples
    --------
    >>> from skres.datasets import make_causal_digits
    >>> d = make_causal_digits(200, setting="null-soft", random_state=0)
    >>> d.X.shape, d.settings.shape, d.ate
    ((200, 192), (200, 3), 0.0)
    """
    n = check_positive_int(n_samples, "n_samples")
    check_option(setting, "setting", tuple(_DIGIT_SETTINGS))
    noise = check_positive_float(noise, "noise", allow_zero=True)
    effect, pw, pu, design, pool = _DIGIT_SETTINGS[setting]
    for name, value in (("p_w", p_w), ("p_u", p_u)):
        if value is not None and not (0 <= value <= 1):
            raise ValueError(f"{name} must be in [0, 1]; got {value!r}.")
    pw = pw if p_w is None else float(p_w)
    pu = pu if p_u is None else float(p_u)
    rng = check_random_state(random_state)
    W = (rng.uniform(size=n) < pw).astype(np.int64)
    U = (rng.uniform(size=n) < pu).astype(np.int64)
    p_t = np.full(n, 0.5) if design == "rct" else 0.1 + 0.8 * W
    T = (rng.uniform(size=n) < p_t).astype(np.int64)
    R = rng.randint(0, 4, size=(n, 3))
    if effect == "linear":
        y = R[:, 0] * W + R[:, 1] * T + R[:, 2] * U
        ate = 1.5
    elif effect == "null":
        y = R[:, 0] * W + R[:, 1] + R[:, 2] * U
        ate = 0.0
    else:
        y = R[:, 0] * (U | T) + rng.randint(0, 7, size=n)
        ate = 1.5 * (1 - pu)
    train_pool, test_pool = _digit_pools()
    stacks = train_pool if pool == "train" else test_pool
    sizes = np.array([len(s) for s in stacks])
    pick = (rng.uniform(size=n) * sizes[y]).astype(np.int64)
    flat = np.concatenate([s.reshape(len(s), -1) for s in stacks])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ink = flat[offsets[y] + pick].reshape(n, 8, 8)
    if np.any(U == 1):
        S = _shrink_matrix(8, _PAD)
        padded = np.pad(ink[U == 1], ((0, 0), (_PAD, _PAD), (_PAD, _PAD)))
        ink[U == 1] = np.einsum("ij,njk,lk->nil", S, padded, S)
    ink = ink[..., None]
    images = (
        ink * _PEN[T][:, None, None, :] + (1 - ink) * _BACKGROUND[W][:, None, None, :]
    )
    images = images + noise * rng.standard_normal(images.shape)
    return Bunch(
        X=images.reshape(n, -1),
        images=images,
        y=y.astype(np.int64),
        treatment=T,
        covariates=W[:, None].astype(np.float64),
        settings=np.column_stack([W, U, T]),
        ate=float(ate),
    )
