"""Latent vector fields of autoencoders: attractors, memorisation and OOD scores.

"Navigating the Latent Space Dynamics of Neural Models" (Fumero, Moschella, Rodolà,
Locatello, ICLR 2026). An autoencoder ``F = D o E`` defines the latent self-map
``f(z) = E(D(z))``; iterating ``z_{t+1} = f(z_t)`` follows the vector field
``v(z) = f(z) - z`` to its attractors. No official code exists: the definitions here
are pinned by analytic tests (``tests/test_vector_field.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    OutlierMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import Tags, check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

if TYPE_CHECKING:
    import pandas as pd

from .._base import TorchEstimatorMixin
from .._compat import Interval, StrOptions, fit_context
from .._validation import (
    check_option,
    check_positive_float,
    check_positive_int,
    tensor_to_numpy,
    validate_input,
)

__all__ = [
    "AutoencoderHandle",
    "LatentVectorField",
    "MemorizationReport",
    "deduplicate_attractors",
    "ood_auroc_score",
]

_FLOAT_DTYPES = [np.float64, np.float32]
_SCORES = (
    "trajectory_mean",
    "initial_distance",
    "final_distance",
    "n_iter",
    "reconstruction",
    "knn",
)
_ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "gelu": torch.nn.GELU}
_EXACT_JACOBIAN_MAX_K = 256  # larger latents: power iteration on J_f


class AutoencoderHandle:
    """A lightweight, never-copied handle to a user's encoder/decoder pair.

    :func:`sklearn.base.clone` deep-copies constructor parameters for every fold of a
    search; this handle returns itself from :func:`copy.deepcopy`, so every clone of a
    :class:`LatentVectorField` shares the same (untrained, frozen) modules.

    Parameters
    ----------
    encoder : callable
        Maps a batch of inputs to latents, ``(n, *input_shape) -> (n, *latent_shape)``
        (usually a :class:`torch.nn.Module`). A tuple output (e.g. a VAE's
        ``(mu, logvar)``) is reduced to its first element.
    decoder : callable
        Maps a batch of latents back to inputs.
    input_shape : tuple of int, default=None
        Shape of one input as the encoder expects it (e.g. ``(1, 8, 8)`` for a conv
        encoder); rows of ``X`` are reshaped to it. ``None`` keeps flat rows.
    encode_fn : callable, default=None
        ``encode_fn(encoder, x) -> z`` to replace the default encoder call.

    Examples
    --------
    >>> import torch
    >>> from skres.dynamics import AutoencoderHandle, LatentVectorField
    >>> handle = AutoencoderHandle(torch.nn.Identity(), torch.nn.Identity())
    >>> import copy
    >>> copy.deepcopy(handle) is handle
    True
    """

    def __init__(
        self,
        encoder: Callable[..., Any],
        decoder: Callable[..., Any],
        *,
        input_shape: tuple[int, ...] | None = None,
        encode_fn: Callable[..., Any] | None = None,
    ) -> None:
        self.encoder = encoder
        self.decoder = decoder
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.encode_fn = encode_fn

    def __deepcopy__(self, memo: dict[int, Any]) -> AutoencoderHandle:
        return self

    def __repr__(self) -> str:
        return (
            f"AutoencoderHandle(encoder={type(self.encoder).__name__}, "
            f"decoder={type(self.decoder).__name__})"
        )

    def modules(self) -> list[torch.nn.Module]:
        """The :class:`torch.nn.Module` objects among encoder and decoder."""
        pair = (self.encoder, self.decoder)
        return [m for m in pair if isinstance(m, torch.nn.Module)]


@dataclass(frozen=True)
class MemorizationReport:
    """How close decoded attractors are to training points.

    Attributes
    ----------
    coefficient : float
        The paper's memorisation coefficient: mean over attractors of the *maximum*
        cosine similarity of ``D(z*)`` to a training point (the paper's formula
        writes ``min``; its text describes the closest point, i.e. the max).
    coefficient_std : float
        Standard deviation of that cosine over attractors.
    ratio : float
        Median over attractors of ``min_x ||D(z*) - x|| / ref``, with ``ref`` the
        median nearest-training-neighbour distance of the reference points.
    within_fraction : float
        Fraction of attractors with ``min_x ||D(z*) - x|| < radius * ref``.
    reference_distance : float
        ``ref``.
    cosines : numpy.ndarray
        Per-attractor maximum cosine similarity, shape (n_attractors,).
    ratios : numpy.ndarray
        Per-attractor distance ratio, shape (n_attractors,).
    nearest : numpy.ndarray
        Index of the closest training point of each attractor, shape (n_attractors,).
    """

    coefficient: float
    coefficient_std: float
    ratio: float
    within_fraction: float
    reference_distance: float
    cosines: np.ndarray
    ratios: np.ndarray
    nearest: np.ndarray


class _MLPAutoencoder(torch.nn.Module):
    """``E``: in -> hidden... -> k; ``D``: k -> ...hidden -> in."""

    def __init__(
        self,
        n_features: int,
        latent_dim: int,
        hidden: tuple[int, ...],
        activation: str,
        output_activation: str,
        dropout: float,
    ) -> None:
        super().__init__()
        act = _ACTIVATIONS[activation]

        def stack(sizes: list[int]) -> list[torch.nn.Module]:
            layers: list[torch.nn.Module] = []
            for i in range(len(sizes) - 2):
                layers += [torch.nn.Linear(sizes[i], sizes[i + 1]), act()]
                if dropout > 0:
                    layers.append(torch.nn.Dropout(dropout))
            layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
            return layers

        self.encoder = torch.nn.Sequential(*stack([n_features, *hidden, latent_dim]))
        dec = stack([latent_dim, *reversed(hidden), n_features])
        if output_activation == "sigmoid":
            dec.append(torch.nn.Sigmoid())
        self.decoder = torch.nn.Sequential(*dec)


class _ConvAutoencoder(torch.nn.Module):
    """The paper's conv AE (Appendix D) on flat rows reshaped to ``image_shape``.

    ``E``: stride-2 3x3 convolutions (padding 1) with the ``channels`` given, then a
    linear bottleneck to ``k``; ``D``: a linear layer, then the transposed
    convolutions in reverse, each with the ``output_padding`` (0 or 1) that restores
    the encoder's spatial size exactly (so any ``H x W`` works, e.g. 8x8 digits).
    Both take and return flat rows.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        latent_dim: int,
        channels: tuple[int, ...],
        activation: str,
        output_activation: str,
        dropout: float,
    ) -> None:
        super().__init__()
        act = _ACTIVATIONS[activation]
        c_in, h, w = image_shape
        sizes = [(h, w)]
        for _ in channels:
            sh, sw = sizes[-1]
            sizes.append(((sh - 1) // 2 + 1, (sw - 1) // 2 + 1))
        widths = [c_in, *channels]
        enc: list[torch.nn.Module] = [torch.nn.Unflatten(1, image_shape)]
        for c0, c1 in zip(widths[:-1], widths[1:], strict=True):
            enc += [torch.nn.Conv2d(c0, c1, 3, stride=2, padding=1), act()]
            if dropout > 0:
                enc.append(torch.nn.Dropout(dropout))
        h_last, w_last = sizes[-1]
        flat = widths[-1] * h_last * w_last
        enc += [torch.nn.Flatten(), torch.nn.Linear(flat, latent_dim)]
        self.encoder = torch.nn.Sequential(*enc)
        dec: list[torch.nn.Module] = [
            torch.nn.Linear(latent_dim, flat),
            act(),
            torch.nn.Unflatten(1, (widths[-1], h_last, w_last)),
        ]
        for i in range(len(channels), 0, -1):
            (th, tw), (sh, sw) = sizes[i - 1], sizes[i]
            pad = (th - 2 * sh + 1, tw - 2 * sw + 1)
            dec.append(
                torch.nn.ConvTranspose2d(
                    widths[i], widths[i - 1], 3, stride=2, padding=1, output_padding=pad
                )
            )
            if i > 1:
                dec.append(act())
        dec.append(torch.nn.Flatten())
        if output_activation == "sigmoid":
            dec.append(torch.nn.Sigmoid())
        self.decoder = torch.nn.Sequential(*dec)


class LatentVectorField(
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    OutlierMixin,
    TorchEstimatorMixin,
    BaseEstimator,
):
    """Latent dynamics of an autoencoder: attractors, basins, memorisation and OOD.

    With encoder ``E`` and decoder ``D``, the latent self-map and its field are::

        f(z) = E(D(z))          z_{t+1} = f(z_t)          v(z) = f(z) - z

    Starting from ``z_0 = E(x)`` (or from latent noise), the iteration stops at the
    first ``t >= 1`` with ``||f(z_{t+1}) - f(z_t)||^2 = ||v(z_{t+1})||^2 < tol``
    (Appendix D of the paper), checked on each sample separately; then
    ``n_iter = t + 1``, the trajectory is ``z_0 ... z_{n_iter}`` and the attractor is
    ``z* = f(z_{n_iter})``. A sample that reaches ``max_iter`` keeps its last iterate
    and is flagged as not converged (with a
    :class:`~sklearn.exceptions.ConvergenceWarning` in ``fit``); one that becomes
    NaN/inf stops and gets an infinite OOD score.

    ``fit`` either trains a built-in MLP or conv autoencoder (``model=None``; mean
    over the batch of the summed squared error, plus the paper's contraction-promoting
    regularisers: Gaussian input noise ``noise_std`` (denoising, Eq. 2), Adam's
    ``weight_decay``, ``dropout`` and the bottleneck ``latent_dim``) or uses the frozen
    modules of an :class:`AutoencoderHandle`. It then iterates up to
    ``n_attractor_samples`` training latents to their attractors (``attractors_all_``,
    the set the OOD score uses, as in the paper) and deduplicates them into
    ``attractors_`` (two end points are the same attractor when their cosine exceeds
    ``dedup_threshold``, the paper's rule, or when they are closer than
    ``dedup_radius``, which also handles attractors at the origin).

    OOD scores (``ood_score``; higher = more out-of-distribution; :meth:`score_samples`
    returns its negative, following scikit-learn):

    * ``"trajectory_mean"`` (the paper's, Sec. 4.2): mean over the trajectory points
      of the distance to the nearest training attractor, ``d(z, A) = min_a ||z - a||``;
      over the first ``horizon + 1`` points (padded with the end point) when
      ``horizon`` is set;
    * ``"initial_distance"``: ``d(z_0, A)``; ``"final_distance"``: ``d(z*, A)``;
    * ``"n_iter"``: iterations to converge;
    * ``"reconstruction"``: ``||x - D(E(x))||^2``;
    * ``"knn"``: mean distance of ``z_0`` to its ``n_neighbors`` nearest training
      latents (the paper's KNN baseline, unnormalised).

    Parameters
    ----------
    model : AutoencoderHandle, default=None
        A user encoder/decoder pair, used as it is (never trained or copied; its
        device and dtype win over ``device``/``dtype`` when it has parameters).
        ``None`` trains the built-in autoencoder.
    autoencoder : {"mlp", "conv"}, default="mlp"
        The built-in autoencoder. ``"mlp"``: fully connected layers of widths
        ``hidden``. ``"conv"``: the paper's convolutional AE (Appendix D): rows are
        reshaped to ``image_shape``, then stride-2 3x3 convolutions with ``hidden``
        channels (the paper uses ``(d, 2d, 4d, 8d)``) and a linear bottleneck; the
        decoder mirrors it with transposed convolutions.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of one row for
        ``autoencoder="conv"``; ``None`` means a square one-channel image.
    latent_dim : int, default=16
        Bottleneck size ``k`` of the built-in autoencoder.
    hidden : tuple of int, default=(256, 256)
        Hidden widths of the built-in MLP encoder (mirrored in the decoder), or the
        channels of the conv encoder's layers.
    activation : {"relu", "tanh", "gelu"}, default="relu"
        Hidden activation of the built-in autoencoder.
    output_activation : {"identity", "sigmoid"}, default="identity"
        ``"sigmoid"`` needs inputs in [0, 1] (e.g. images scaled by their maximum).
    noise_std : float, default=0.0
        Standard deviation of the Gaussian input noise (denoising autoencoder).
    weight_decay : float, default=1e-4
        Adam's (coupled) weight decay.
    dropout : float, default=0.0
        Dropout after each hidden activation during training.
    max_steps : int, default=2000
        Optimiser steps of the built-in autoencoder.
    batch_size : int or None, default=128
        Minibatch size for training; ``None`` trains full batch.
    lr : float, default=1e-3
        Adam learning rate.
    max_iter : int, default=3000
        Maximum number of latent iterations per sample.
    tol : float, default=1e-6
        Absolute tolerance on the squared step length (the paper's rule; not scaled
        by the latent norm).
    n_attractor_samples : int, default=2000
        Training points (a random subset when there are more) whose attractors
        define ``attractors_all_`` and ``attractors_``.
    dedup_threshold : float, default=0.99
        Cosine above which two end points are the same attractor.
    dedup_radius : float or None, default=None
        Euclidean distance below which two end points are the same attractor;
        ``None`` uses ``100 * sqrt(tol)``.
    dedup : {"cosine", "euclidean"}, default="cosine"
        ``"cosine"``: the paper's rule or the radius; ``"euclidean"``: the radius
        only (separates attractors on the same ray).
    ood_score : str, default="trajectory_mean"
        The OOD score, one of those listed above.
    horizon : int or None, default=None
        Fixed trajectory horizon for ``"trajectory_mean"``; ``None`` averages over
        each sample's own trajectory.
    normalize_latents : bool, default=False
        L2-normalise latents and attractors before every distance of the OOD
        scores (``"trajectory_mean"``, ``"initial_distance"``, ``"final_distance"``,
        ``"knn"``) and of the matching :meth:`transform` columns; one reading of
        the paper's formula, as in the normalised KNN of Sun et al. (2022).
    n_neighbors : int, default=50
        ``K`` of the ``"knn"`` score.
    contamination : float, default=0.05
        Expected fraction of outliers in the training set; ``offset_`` is the
        matching quantile of the training ``score_samples``.
    iter_batch_size : int, default=4096
        Rows iterated together (bounds memory).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the built-in autoencoder trains and the iteration runs.
    dtype : {"float32", "float64"}, default="float32"
        Compute precision of the built-in autoencoder and of the iteration.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, minibatches, input noise and the attractor subset.
    verbose : int, default=0
        Show a progress bar while training.

    Attributes
    ----------
    encoder_, decoder_ : torch.nn.Module or callable
        The encoder and decoder in use.
    latent_shape_ : tuple of int
        Shape of one latent as the decoder takes it.
    n_latent_ : int
        Flattened latent size ``k``.
    train_latents_ : ndarray of shape (n_samples, n_latent)
        ``E(x)`` of the training rows.
    attractor_indices_ : ndarray of shape (n_starts,)
        Training rows iterated in ``fit``.
    attractors_all_ : ndarray of shape (n_starts, n_latent)
        End point of each of them (not deduplicated).
    n_iter_per_start_ : ndarray of shape (n_starts,)
        Iterations of each of them.
    n_iter_ : int
        The largest of them (scikit-learn's scalar ``n_iter_``).
    converged_ : ndarray of shape (n_starts,)
        Whether each met the tolerance within ``max_iter``.
    attractors_ : ndarray of shape (n_attractors, n_latent)
        Deduplicated attractors.
    basin_labels_ : ndarray of shape (n_starts,)
        Index into ``attractors_`` of each start's end point.
    self_attractor_fraction_ : float
        Fraction of starts whose end point is within 5 % (relative) of the start.
    memorization_coefficient_ : float
        The paper's coefficient for ``attractors_`` against the training rows.
    attractor_rank90_ : int
        Singular directions explaining 90 % of ``sum s^2`` of the decoded attractors
        (the paper's "generalization entropy", uncentred).
    offset_ : float
        Threshold on :meth:`score_samples` used by :meth:`predict`.
    history_ : dict of list of float
        Training loss of the built-in autoencoder every 10 steps (empty otherwise).

    Notes
    -----
    Ambiguities of the paper and the choices made here: the coefficient uses the
    max cosine (the paper writes min); the trajectory score averages over the
    ``n_iter + 1`` points ``z_0 ... z_{n_iter}`` of each sample's own trajectory
    (or a fixed ``horizon``); latents are not L2-normalised unless
    ``normalize_latents=True``; the tolerance is
    absolute (not scaled by the latent norm); the OOD score uses all training end
    points, counts deduplicate them.

    On sklearn's digits (see the user guide), the paper's trajectory score is the
    weakest of these detectors; reconstruction error and KNN are far stronger.

    References
    ----------
    M. Fumero, L. Moschella, E. Rodolà, F. Locatello. Navigating the Latent Space
    Dynamics of Neural Models. ICLR 2026. arXiv:2505.22785.

    Examples
    --------
    >>> import numpy as np
    >>> from skres.dynamics import LatentVectorField
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 5)
    >>> lvf = LatentVectorField(latent_dim=2, hidden=(32,), max_steps=200,
    ...                         device="cpu", random_state=0).fit(X)
    >>> lvf.attractors_.shape[1]
    2
    >>> lvf.predict(X).shape
    (200,)
    """

    _parameter_constraints: dict = {
        **TorchEstimatorMixin._torch_parameter_constraints,
        "model": [AutoencoderHandle, None],
        "autoencoder": [StrOptions({"mlp", "conv"})],
        "image_shape": ["array-like", None],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden": ["array-like"],
        "activation": [StrOptions({"relu", "tanh", "gelu"})],
        "output_activation": [StrOptions({"identity", "sigmoid"})],
        "noise_std": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_steps": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "n_attractor_samples": [Interval(Integral, 1, None, closed="left")],
        "dedup_threshold": [Interval(Real, -1, 1, closed="both")],
        "dedup_radius": [Interval(Real, 0, None, closed="neither"), None],
        "dedup": [StrOptions({"cosine", "euclidean"})],
        "ood_score": [StrOptions(set(_SCORES))],
        "horizon": [Interval(Integral, 1, None, closed="left"), None],
        "normalize_latents": ["boolean"],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "iter_batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        model: AutoencoderHandle | None = None,
        autoencoder: str = "mlp",
        image_shape: tuple[int, ...] | None = None,
        latent_dim: int = 16,
        hidden: tuple[int, ...] = (256, 256),
        activation: str = "relu",
        output_activation: str = "identity",
        noise_std: float = 0.0,
        weight_decay: float = 1e-4,
        dropout: float = 0.0,
        max_steps: int = 2000,
        batch_size: int | None = 128,
        lr: float = 1e-3,
        max_iter: int = 3000,
        tol: float = 1e-6,
        n_attractor_samples: int = 2000,
        dedup_threshold: float = 0.99,
        dedup_radius: float | None = None,
        dedup: str = "cosine",
        ood_score: str = "trajectory_mean",
        horizon: int | None = None,
        normalize_latents: bool = False,
        n_neighbors: int = 50,
        contamination: float = 0.05,
        iter_batch_size: int = 4096,
        device: Any = "auto",
        dtype: Any = "float32",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.model = model
        self.autoencoder = autoencoder
        self.image_shape = image_shape
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.activation = activation
        self.output_activation = output_activation
        self.noise_std = noise_std
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.max_iter = max_iter
        self.tol = tol
        self.n_attractor_samples = n_attractor_samples
        self.dedup_threshold = dedup_threshold
        self.dedup_radius = dedup_radius
        self.dedup = dedup
        self.ood_score = ood_score
        self.horizon = horizon
        self.normalize_latents = normalize_latents
        self.n_neighbors = n_neighbors
        self.contamination = contamination
        self.iter_batch_size = iter_batch_size
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # ---------------------------------------------------------------- helpers
    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        """Small, fast parameters for the common test-suite."""
        return {
            "latent_dim": 2,
            "hidden": (8,),
            "max_steps": 20,
            "batch_size": 32,
            "lr": 1e-2,
            "max_iter": 200,
            "tol": 1e-8,
            "dtype": "float64",
            "device": "cpu",
        }

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _check_hidden(self) -> None:
        """``hidden``: a non-empty sequence of positive widths."""
        if len(self.hidden) == 0 or not all(
            isinstance(w, Integral) and not isinstance(w, bool) and w >= 1
            for w in self.hidden
        ):
            raise ValueError(
                f"hidden must be a non-empty tuple of positive integers; got "
                f"{self.hidden!r}."
            )

    # ------------------------------------------------------------- the maps
    def _encode_t(self, X_t: torch.Tensor) -> torch.Tensor:
        """``E(x)`` flattened to ``(n, k)``."""
        z = self._raw_latents(X_t)
        return z.reshape(len(z), -1)

    def _decode_t(self, Z: torch.Tensor) -> torch.Tensor:
        """``D(z)`` flattened to ``(n, n_features)``."""
        out = self.decoder_(Z.reshape(len(Z), *self.latent_shape_))
        return out.reshape(len(out), -1)

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        return self._encode_t(self._decode_t(Z))

    def _eval_mode(self) -> None:
        for module in (self.encoder_, self.decoder_):
            if isinstance(module, torch.nn.Module):
                module.eval()

    # ------------------------------------------------------- the iteration
    def _iterate(
        self,
        Z0: torch.Tensor,
        attractors: torch.Tensor | None = None,
        max_iter: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Batched fixed-point iteration with per-sample stopping.

        Returns the end points, ``n_iter``, ``converged``, ``diverged`` and, when
        ``attractors`` is given, the sum/count of trajectory distances to them.
        """
        max_iter = self.max_iter if max_iter is None else max_iter
        self._eval_mode()
        out: dict[str, list[torch.Tensor]] = {
            k: [] for k in ("final", "n_iter", "converged", "diverged", "traj", "d0")
        }
        with torch.inference_mode():
            for batch in self._batch_slices(len(Z0), self.iter_batch_size):
                res = self._iterate_batch(Z0[batch], attractors, max_iter)
                for key, value in res.items():
                    out[key].append(value)
        return {k: torch.cat(v) for k, v in out.items() if v}

    def _iterate_batch(
        self, z0: torch.Tensor, attractors: torch.Tensor | None, max_iter: int
    ) -> dict[str, torch.Tensor]:
        n = len(z0)
        dev = z0.device
        final = z0.clone()
        n_iter = torch.full((n,), max_iter, dtype=torch.long, device=dev)
        converged = torch.zeros(n, dtype=torch.bool, device=dev)
        diverged = torch.zeros(n, dtype=torch.bool, device=dev)
        horizon = self.horizon
        track = attractors is not None
        traj = torch.zeros(n, dtype=z0.dtype, device=dev)

        def dist(z: torch.Tensor) -> torch.Tensor:
            return torch.cdist(self._unit(z), attractors).min(dim=1).values  # type: ignore[arg-type]

        d0 = dist(z0) if track else torch.zeros(0, device=dev)
        if track:
            traj = d0.clone()
        idx = torch.arange(n, device=dev)
        z = self._f(z0)  # z_1: the paper's rule first checks t = 0 -> z_2 - z_1
        t = 1
        while True:
            bad = ~torch.isfinite(z).all(dim=1)
            if bad.any():
                diverged[idx[bad]] = True
                n_iter[idx[bad]] = t
                keep = ~bad
                idx, z = idx[keep], z[keep]
                if len(idx) == 0:
                    break
            if track and (horizon is None or t <= horizon):
                traj[idx] += dist(z)
            fz = self._f(z)
            step = ((fz - z) ** 2).sum(dim=1)
            done = step < self.tol
            if done.any():
                hit = idx[done]
                final[hit] = fz[done]
                n_iter[hit] = t
                converged[hit] = True
                keep = ~done
                idx, z, fz = idx[keep], z[keep], fz[keep]
                if len(idx) == 0:
                    break
            if t >= max_iter:
                final[idx] = z
                break
            z = fz
            t += 1
        result = {
            "final": final,
            "n_iter": n_iter,
            "converged": converged,
            "diverged": diverged,
        }
        if track:
            if horizon is None:
                traj = traj / (n_iter + 1).to(traj.dtype)
            else:
                pad = (horizon - n_iter).clamp_min(0).to(traj.dtype)
                d_end = dist(torch.where(diverged[:, None], z0, final))
                traj = (traj + pad * d_end) / (horizon + 1)
            traj[diverged] = torch.inf
            result["traj"] = traj
            result["d0"] = d0
        return result

    # ------------------------------------------------------------- training
    def _train_builtin(
        self, X_t: torch.Tensor, generator: torch.Generator
    ) -> torch.nn.Module:
        n_samples, n_features = X_t.shape
        args = (
            self.latent_dim,
            tuple(self.hidden),
            self.activation,
            self.output_activation,
            float(self.dropout),
        )
        module: _MLPAutoencoder | _ConvAutoencoder
        if self.autoencoder == "conv":
            shape = _image_shape(self.image_shape, n_features)
            module = self._build_module(
                lambda: _ConvAutoencoder(shape, *args), generator
            )
        else:
            module = self._build_module(
                lambda: _MLPAutoencoder(n_features, *args), generator
            )
        # The fused (single-kernel) Adam is the same update, ~30 % faster per step
        # on CPU for these small networks; other devices keep the default.
        fused = self.device_.type in ("cpu", "cuda") or None
        optimizer = torch.optim.Adam(
            module.parameters(),
            lr=self.lr,
            weight_decay=self.weight_decay,
            fused=fused,
        )
        batch_size = n_samples if self.batch_size is None else self.batch_size
        steps = self._progress(
            range(self.max_steps), total=self.max_steps, desc="LatentVectorField"
        )
        batches: list[Any] = []
        module.train()
        with torch.enable_grad():
            for step in steps:
                if not batches:
                    batches = list(
                        self._batch_slices(
                            n_samples, batch_size, generator, self.device_
                        )
                    )
                xb = X_t[batches.pop(0)]
                inputs = xb
                if self.noise_std > 0:
                    noise = torch.randn(xb.shape, generator=generator, dtype=xb.dtype)
                    inputs = xb + self.noise_std * noise.to(self.device_)
                recon = module.decoder(module.encoder(inputs))
                loss = ((recon - xb) ** 2).sum(dim=1).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if step % 10 == 0 or step == self.max_steps - 1:
                    self.history_["loss"].append(float(loss.detach()))
                    self._report(steps, loss=self.history_["loss"][-1])
        module.eval()
        for param in module.parameters():
            param.requires_grad_(False)
        return module

    # ------------------------------------------------------------------ fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> LatentVectorField:
        """Train (or take) the autoencoder and find the attractors of its field.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Training rows (in-distribution data).
        y : None
            Ignored.

        Returns
        -------
        self : LatentVectorField
        """
        X_np = validate_input(self, X, reset=True, dtype=_FLOAT_DTYPES)
        self._check_hidden()
        generator = self._setup_torch(X)
        self.history_: dict[str, list[float]] = {"loss": []}
        handle = self.model
        if handle is None:
            X_t = self._to_tensor(X_np)
            module = self._train_builtin(X_t, generator)
            self.encoder_: Any = module.encoder
            self.decoder_: Any = module.decoder
        else:
            params = [p for m in handle.modules() for p in m.parameters()]
            if params:
                self.device_ = params[0].device
                self.dtype_ = params[0].dtype
            self.encoder_ = handle.encoder
            self.decoder_ = handle.decoder
            X_t = self._to_tensor(X_np)
        self._eval_mode()
        with torch.inference_mode():
            shaped = self._raw_latents(X_t[:1])
        self.latent_shape_ = tuple(shaped.shape[1:])
        self.n_latent_ = int(np.prod(self.latent_shape_))
        Z = self._latents(X_t)
        self.train_latents_ = self._to_numpy(Z)

        rng = check_random_state(self._draw_seed(generator) % (2**32))
        n_samples = len(X_np)
        if n_samples > self.n_attractor_samples:
            chosen = np.sort(
                rng.choice(n_samples, self.n_attractor_samples, replace=False)
            )
        else:
            chosen = np.arange(n_samples)
        self.attractor_indices_ = chosen
        Z0 = Z[torch.as_tensor(chosen, device=Z.device)]
        res = self._iterate(Z0)
        self.attractors_all_ = self._to_numpy(res["final"])
        self.n_iter_per_start_ = self._to_numpy(res["n_iter"])
        n_starts = len(self.n_iter_per_start_)
        self.n_iter_ = int(self.n_iter_per_start_.max()) if n_starts else 0
        self.converged_ = self._to_numpy(res["converged"])
        self.diverged_ = self._to_numpy(res["diverged"])
        n_bad = int((~self.converged_).sum())
        if n_bad:
            warnings.warn(
                f"{n_bad} of {len(chosen)} latent trajectories did not meet "
                f"tol={self.tol} within max_iter={self.max_iter} steps "
                f"({int(self.diverged_.sum())} diverged); their last iterate is "
                "kept. Increase max_iter or tol, or regularise the autoencoder.",
                ConvergenceWarning,
                stacklevel=2,
            )
        finite = np.isfinite(self.attractors_all_).all(axis=1)
        ends = self.attractors_all_[finite]
        # Leaders are visited best-converged first, so each attractor is represented
        # by the end point with the smallest residual ||v(z*)||.
        residual = (
            np.linalg.norm(self.vector_field(ends), axis=1) if len(ends) else ends
        )
        self.attractors_, labels = deduplicate_attractors(
            ends,
            threshold=self.dedup_threshold,
            radius=self._radius(),
            rule=self.dedup,
            order=np.argsort(residual, kind="stable") if len(ends) else None,
        )
        basin = np.full(len(chosen), -1, dtype=np.int64)
        basin[finite] = labels
        self.basin_labels_ = basin
        z0 = self.train_latents_[chosen]
        moved = np.linalg.norm(self.attractors_all_ - z0, axis=1)
        scale = np.maximum(np.linalg.norm(z0, axis=1), 1e-12)
        self.self_attractor_fraction_ = float(np.mean(moved <= 0.05 * scale))
        if len(self.attractors_):
            decoded = self._decode_np(self.attractors_)
            cos = _max_cosine(decoded, X_np)[0]
            self.memorization_coefficient_ = float(cos.mean())
            self.attractor_rank90_ = _rank90(decoded)
        else:
            self.memorization_coefficient_ = float("nan")
            self.attractor_rank90_ = 0
        # Diverged rows score -inf; clip so the interpolated quantile stays finite.
        normality = np.maximum(-self._raw_scores(X_t, Z)[self.ood_score], -1e300)
        self.offset_ = float(np.percentile(normality, 100.0 * self.contamination))
        return self

    def _radius(self) -> float:
        if self.dedup_radius is not None:
            return float(self.dedup_radius)
        return 100.0 * float(np.sqrt(self.tol))

    def _raw_latents(self, X_t: torch.Tensor) -> torch.Tensor:
        handle = self.model
        if handle is not None and handle.input_shape is not None:
            X_t = X_t.reshape(len(X_t), *handle.input_shape)
        if handle is not None and handle.encode_fn is not None:
            z = handle.encode_fn(self.encoder_, X_t)
        else:
            z = self.encoder_(X_t)
        if isinstance(z, tuple | list):
            z = z[0]
        return z

    def _latents(self, X_t: torch.Tensor) -> torch.Tensor:
        self._eval_mode()
        Z = self._map_batches(self._encode_t, X_t, self.iter_batch_size)
        # Distances square the latents: an overflow there would make scores inf.
        self._check_output(
            Z.flatten(1).square().sum(dim=1), "the encoder's latents of X (squared)"
        )
        return Z

    def _decode_np(self, Z: np.ndarray) -> np.ndarray:
        self._eval_mode()
        out = self._map_batches(
            self._decode_t, self._to_tensor(Z), self.iter_batch_size
        )
        return self._to_numpy(out, np.float64)

    def _input(self, X: Any) -> tuple[np.ndarray, torch.Tensor]:
        check_is_fitted(self)
        X_np = validate_input(self, X, reset=False, dtype=_FLOAT_DTYPES)
        return X_np, self._to_tensor(X_np)

    def ood_scores(self, X: Any, kinds: Any = None) -> dict[str, np.ndarray]:
        """Several OOD scores of the rows of ``X`` at once (higher = more OOD).

        Unlike :meth:`score_samples`, which follows ``ood_score`` and flips the sign,
        this returns the raw scores by name, e.g. to compare detectors.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
        kinds : list of str, default=None
            Score names (see ``ood_score``); all of them when ``None``.

        Returns
        -------
        dict of str to ndarray of shape (n_samples,)
        """
        _, X_t = self._input(X)
        Z = self._latents(X_t)
        kinds = list(_SCORES) if kinds is None else list(kinds)
        for kind in kinds:
            check_option(kind, "kinds", _SCORES)
        return self._raw_scores(X_t, Z, kinds)

    def _raw_scores(
        self, X_t: torch.Tensor, Z: torch.Tensor, kinds: Any = None
    ) -> dict[str, np.ndarray]:
        """OOD scores by name (higher = more anomalous), float64.

        ``kinds`` defaults to ``[ood_score]``; the scores that need the iteration
        share one pass of it.
        """
        kinds = [self.ood_score] if kinds is None else list(kinds)
        A = self._attractor_set
        out: dict[str, np.ndarray] = {}
        if "reconstruction" in kinds:
            self._eval_mode()
            recon = self._map_batches(
                lambda xb: self._decode_t(self._encode_t(xb)),
                X_t,
                self.iter_batch_size,
            )
            err = ((recon - X_t.reshape(len(X_t), -1)) ** 2).sum(dim=1)
            out["reconstruction"] = self._to_numpy(err, np.float64)
        if "knn" in kinds:
            ref = torch.as_tensor(self.train_latents_, device=Z.device, dtype=Z.dtype)
            k = min(self.n_neighbors, len(ref))
            d = torch.cdist(self._unit(Z), self._unit(ref))
            knn = d.topk(k, dim=1, largest=False).values.mean(dim=1)
            out["knn"] = self._to_numpy(knn, np.float64)
        if "initial_distance" in kinds:
            if len(A):
                d0 = torch.cdist(self._unit(Z), A).min(dim=1).values
                out["initial_distance"] = self._to_numpy(d0, np.float64)
            else:
                out["initial_distance"] = np.full(len(Z), np.inf)
        iterated = {"trajectory_mean", "n_iter", "final_distance"}.intersection(kinds)
        if iterated:
            track = "trajectory_mean" in kinds and len(A) > 0
            res = self._iterate(Z, attractors=A if track else None)
            if "n_iter" in kinds:
                out["n_iter"] = self._to_numpy(res["n_iter"], np.float64)
            if "trajectory_mean" in kinds:
                out["trajectory_mean"] = (
                    self._to_numpy(res["traj"], np.float64)
                    if track
                    else np.full(len(Z), np.inf)
                )
            if "final_distance" in kinds:
                if len(A):
                    end = self._unit(res["final"].nan_to_num())
                    d = torch.cdist(end, A).min(dim=1).values
                    d[res["diverged"]] = torch.inf
                    out["final_distance"] = self._to_numpy(d, np.float64)
                else:
                    out["final_distance"] = np.full(len(Z), np.inf)
        return {kind: out[kind] for kind in kinds}

    # ------------------------------------------------------------ OOD API
    def score_samples(self, X: Any) -> np.ndarray:
        """Normality of each row: the negative OOD ``score`` (higher = more normal).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        _, X_t = self._input(X)
        return -self._raw_scores(X_t, self._latents(X_t))[self.ood_score]

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers (``decision_function < 0``).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        decision = self.decision_function(X)
        return np.where(decision < 0, -1, 1)

    # ------------------------------------------------------------ features
    def transform(self, X: Any) -> np.ndarray:
        """Latent codes ``E(x)`` of each row.

        The trajectory features (attractor, basin, iterations, distances) are
        :meth:`trajectory_features`.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_latent)
            In the float dtype of ``X``; columns named by
            :meth:`get_feature_names_out`.
        """
        X_np, X_t = self._input(X)
        Z0 = self._latents(X_t).flatten(1)
        return self._to_numpy(Z0, X_np.dtype)

    def trajectory_features(self, X: Any) -> pd.DataFrame:
        """Trajectory features of each row, as a table with named columns.

        Columns: ``z0_0 ... z0_{k-1}`` (the latent code ``E(x)``),
        ``zstar_0 ... zstar_{k-1}`` (the end point of the iteration),
        ``basin`` (index of the nearest deduplicated attractor, -1 if none),
        ``n_iter``, ``final_distance`` (``||z_0 - z*||``), ``attractor_distance``
        (``d(z_0, A)``), ``trajectory_distance`` (the trajectory's mean distance to
        the training attractors) and ``residual`` (``||v(z*)||``).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)

        Returns
        -------
        pandas.DataFrame of shape (n_samples, 2 * n_latent + 6)
            Float columns (``basin`` and ``n_iter`` integer); the index of ``X``
            when ``X`` is a DataFrame.
        """
        import pandas as pd

        X_np, X_t = self._input(X)
        Z0 = self._latents(X_t)
        A = self._attractor_set
        res = self._iterate(Z0, attractors=A if len(A) else None)
        final = res["final"]
        with torch.inference_mode():
            resid = (self._f(final.nan_to_num()) - final).norm(dim=1)
        n = len(Z0)
        zero = torch.zeros(n, dtype=Z0.dtype, device=Z0.device)
        k = self.n_latent_
        table: dict[str, Any] = {}
        z0 = self._to_numpy(Z0.flatten(1), X_np.dtype)
        zs = self._to_numpy(final.flatten(1), X_np.dtype)
        table.update({f"z0_{i}": z0[:, i] for i in range(k)})
        table.update({f"zstar_{i}": zs[:, i] for i in range(k)})
        table["basin"] = self._nearest_attractor(self._to_numpy(final))
        table["n_iter"] = self._to_numpy(res["n_iter"]).astype(np.int64)
        extras = {
            "final_distance": (Z0 - final).flatten(1).norm(dim=1),
            "attractor_distance": res.get("d0", zero),
            "trajectory_distance": res.get("traj", zero),
            "residual": resid,
        }
        for name, values in extras.items():
            table[name] = self._to_numpy(values, X_np.dtype)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(table, index=index)

    @property
    def _n_features_out(self) -> int:
        return self.n_latent_

    def _nearest_attractor(self, Z: np.ndarray) -> np.ndarray:
        if len(self.attractors_) == 0:
            return np.full(len(Z), -1, dtype=np.int64)
        Zf = np.nan_to_num(np.asarray(Z, dtype=np.float64))
        A = np.asarray(self.attractors_, dtype=np.float64)
        d = ((Zf[:, None, :] - A[None, :, :]) ** 2).sum(axis=2)
        return d.argmin(axis=1)

    # --------------------------------------------------------- field tools
    def _latent_input(self, Z: Any) -> torch.Tensor:
        check_is_fitted(self)
        Z_np = check_array(
            tensor_to_numpy(Z), dtype=_FLOAT_DTYPES, input_name="Z", ensure_2d=False
        )
        if Z_np.ndim == 1:
            Z_np = Z_np.reshape(-1, self.n_latent_)
        if Z_np.ndim != 2 or Z_np.shape[1] != self.n_latent_:
            raise ValueError(
                f"Z must have {self.n_latent_} columns (the latent size); got shape "
                f"{Z_np.shape}."
            )
        return self._to_tensor(Z_np)

    def vector_field(self, Z: Any) -> np.ndarray:
        """The latent field ``v(z) = E(D(z)) - z``.

        Parameters
        ----------
        Z : array-like of shape (n_points, n_latent)

        Returns
        -------
        ndarray of shape (n_points, n_latent)
        """
        Z_t = self._latent_input(Z)
        self._eval_mode()
        out = self._map_batches(lambda z: self._f(z) - z, Z_t, self.iter_batch_size)
        return self._to_numpy(out, np.float64)

    def iterate(self, Z: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Iterate latent starting points to their end points.

        Parameters
        ----------
        Z : array-like of shape (n_points, n_latent)

        Returns
        -------
        end_points : ndarray of shape (n_points, n_latent)
        n_iter : ndarray of shape (n_points,)
        converged : ndarray of shape (n_points,)
        """
        res = self._iterate(self._latent_input(Z))
        return (
            self._to_numpy(res["final"]),
            self._to_numpy(res["n_iter"]),
            self._to_numpy(res["converged"]),
        )

    def trajectories(
        self, X: Any, max_len: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Full latent trajectories of the rows of ``X`` (padded).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        max_len : int, default=None
            Steps to record (``max_iter`` when ``None``).

        Returns
        -------
        paths : ndarray of shape (n_samples, max_len + 1, n_latent)
            ``z_0 ... z_{n_iter}``, then the end point repeated.
        lengths : ndarray of shape (n_samples,)
            ``n_iter + 1`` (the number of trajectory points, capped at
            ``max_len + 1``).
        """
        _, X_t = self._input(X)
        max_len = (
            self.max_iter if max_len is None else check_positive_int(max_len, "max_len")
        )
        z = self._latents(X_t)
        res = self._iterate(z, max_iter=max_len)
        n_iter = res["n_iter"].clamp(max=max_len)
        steps = [z]
        with torch.inference_mode():
            for _ in range(max_len):
                z = self._f(z)
                steps.append(z)
        paths = torch.stack(steps, dim=1)
        t_index = torch.arange(max_len + 1, device=paths.device)
        after = t_index[None, :] > n_iter[:, None]
        end = res["final"][:, None, :].expand_as(paths)
        paths = torch.where(after[:, :, None], end, paths)
        return self._to_numpy(paths), self._to_numpy(n_iter + 1)

    def jacobian_spectral_radius(
        self,
        Z: Any,
        *,
        method: str = "auto",
        n_power_iter: int = 200,
        random_state: Any = None,
    ) -> np.ndarray:
        """``max |eig J_f(z)|`` at each latent point.

        ``"exact"`` forms each ``k x k`` Jacobian with :func:`torch.func.jacrev` and
        takes its eigenvalues (``k^3`` per point). ``"power"`` never forms it: a
        batched power iteration ``u <- J u / ||J u||`` with Jacobian-vector products
        (:func:`torch.func.jvp`, one pass of ``f`` for all points), returning the
        geometric mean of the growth ``||J u||`` over the second half of the
        iterations. It converges to the spectral radius at the rate
        ``|lambda_2 / lambda_1|`` when the dominant eigenvalue is real; for a
        dominant complex pair the geometric mean still converges, more slowly.

        Parameters
        ----------
        Z : array-like of shape (n_points, n_latent)
        method : {"auto", "exact", "power"}, default="auto"
            ``"auto"`` is ``"exact"`` up to 256 latent dimensions (where it is also
            the faster one), else ``"power"``.
        n_power_iter : int, default=200
            Iterations of the power method.
        random_state : int, RandomState instance or None, default=None
            Seeds the power method's start vectors.

        Returns
        -------
        ndarray of shape (n_points,)
        """
        check_option(method, "method", ("auto", "exact", "power"))
        check_positive_int(n_power_iter, "n_power_iter")
        Z_t = self._latent_input(Z)
        self._eval_mode()
        if method == "auto":
            method = "exact" if self.n_latent_ <= _EXACT_JACOBIAN_MAX_K else "power"
        if method == "power":
            rng = check_random_state(random_state)
            u0 = self._to_tensor(rng.standard_normal(Z_t.shape))
            return _power_spectral_radius(self._f, Z_t, u0, n_power_iter)

        def f_single(z: torch.Tensor) -> torch.Tensor:
            return self._f(z[None])[0]

        with torch.no_grad():
            jac = torch.func.vmap(torch.func.jacrev(f_single))(Z_t)
        eig = torch.linalg.eigvals(jac.to(torch.float64))
        return self._to_numpy(eig.abs().max(dim=1).values, np.float64)

    def is_attractor(self, Z: Any, *, tol: float | None = None) -> np.ndarray:
        """Whether each point is a fixed point whose Jacobian has ``max |eig| < 1``.

        Parameters
        ----------
        Z : array-like of shape (n_points, n_latent)
        tol : float, default=None
            Tolerance on ``||v(z)||^2`` for being a fixed point; ``100 * tol`` of the
            estimator when ``None``.

        Returns
        -------
        ndarray of bool of shape (n_points,)
        """
        tol = 100.0 * self.tol if tol is None else float(tol)
        fixed = (self.vector_field(Z) ** 2).sum(axis=1) < tol
        return fixed & (self.jacobian_spectral_radius(Z) < 1.0)

    def decode_attractors(self, attractors: Any = None) -> np.ndarray:
        """``D(z*)`` of ``attractors_`` (or of the latents given).

        Parameters
        ----------
        attractors : array-like of shape (n_points, n_latent), default=None

        Returns
        -------
        ndarray of shape (n_points, n_features)
        """
        check_is_fitted(self)
        Z = self.attractors_ if attractors is None else attractors
        return self._decode_np(self._to_numpy(self._latent_input(Z)))

    def attractors_from_noise(
        self,
        n_samples: int = 200,
        *,
        spread: float = 2.0,
        distribution: str = "gaussian",
        random_state: Any = None,
    ) -> np.ndarray:
        """End points of latent noise starts (data-free probing of the weights).

        Parameters
        ----------
        n_samples : int, default=200
            Number of starts.
        spread : float, default=2.0
            ``"gaussian"``: ``N(mean, (spread * std)^2)`` of the training latents per
            dimension; ``"standard"``: ``N(0, spread^2 I)``; ``"uniform"``:
            ``U[-spread, spread]^k``.
        distribution : {"gaussian", "standard", "uniform"}, default="gaussian"
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        ndarray of shape (n_samples, n_latent)
        """
        check_is_fitted(self)
        check_positive_int(n_samples, "n_samples")
        check_positive_float(spread, "spread")
        check_option(distribution, "distribution", ("gaussian", "standard", "uniform"))
        rng = check_random_state(random_state)
        k = self.n_latent_
        if distribution == "uniform":
            Z0 = rng.uniform(-spread, spread, size=(n_samples, k))
        else:
            Z0 = rng.standard_normal((n_samples, k)) * spread
            if distribution == "gaussian":
                Z0 = self.train_latents_.mean(0) + Z0 * self.train_latents_.std(0)
        return self.iterate(Z0)[0]

    def memorization_score(
        self,
        X_train: Any,
        X_ref: Any = None,
        *,
        attractors: Any = None,
        radius: float = 0.25,
    ) -> MemorizationReport:
        """Compare decoded attractors with the training rows.

        Parameters
        ----------
        X_train : array-like of shape (n_train, n_features)
            The training rows.
        X_ref : array-like of shape (n_ref, n_features), default=None
            Held-out rows whose median nearest-training-neighbour distance is the
            reference scale; ``None`` uses the leave-one-out nearest-neighbour
            distance within ``X_train``.
        attractors : array-like of shape (n_points, n_latent), default=None
            Latent end points to decode (e.g. from :meth:`attractors_from_noise`);
            ``attractors_`` when ``None``.
        radius : float, default=0.25
            Fraction of the reference scale that counts as "on a training point".

        Returns
        -------
        MemorizationReport
        """
        check_is_fitted(self)
        X_tr = check_array(tensor_to_numpy(X_train), dtype=np.float64)
        if X_tr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X_train has {X_tr.shape[1]} features; expected {self.n_features_in_}."
            )
        check_positive_float(radius, "radius")
        decoded = self.decode_attractors(attractors)
        if X_ref is None:
            if len(X_tr) < 2:
                raise ValueError("X_train needs at least 2 rows when X_ref is None.")
            d = _sq_dists(X_tr, X_tr)
            np.fill_diagonal(d, np.inf)
        else:
            X_r = check_array(tensor_to_numpy(X_ref), dtype=np.float64)
            if X_r.shape[1] != X_tr.shape[1]:
                raise ValueError(
                    "X_ref and X_train have different numbers of features."
                )
            d = _sq_dists(X_r, X_tr)
        ref = float(np.median(np.sqrt(d.min(axis=1))))
        ref = max(ref, 1e-12)
        cos, nearest_cos = _max_cosine(decoded, X_tr)
        dist = np.sqrt(_sq_dists(decoded, X_tr))
        nearest = dist.argmin(axis=1)
        ratios = dist.min(axis=1) / ref
        del nearest_cos
        return MemorizationReport(
            coefficient=float(cos.mean()),
            coefficient_std=float(cos.std()),
            ratio=float(np.median(ratios)),
            within_fraction=float(np.mean(ratios < radius)),
            reference_distance=ref,
            cosines=cos,
            ratios=ratios,
            nearest=nearest,
        )

    def probe_dictionary(
        self,
        X: Any,
        n_nonzero_coefs: int,
        *,
        attractors: Any = None,
        random_state: Any = None,
    ) -> dict[str, float]:
        """Attractors as a latent dictionary (the paper's data-free probing, Sec. 4.1).

        Each ``E(x)`` is approximated by Orthogonal Matching Pursuit with
        ``n_nonzero_coefs`` unit-norm atoms, decoded, and compared with ``x``; the
        baseline dictionary is a random orthonormal basis of the latent space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to reconstruct.
        n_nonzero_coefs : int
            Atoms per row; at most the latent size and the number of attractors.
        attractors : array-like of shape (n_atoms, n_latent), default=None
            The dictionary (e.g. :meth:`attractors_from_noise`); ``attractors_``
            when ``None``.
        random_state : int, RandomState instance or None, default=None
            Seeds the random orthonormal basis.

        Returns
        -------
        dict
            ``{"attractors": mse, "random": mse}``: mean squared error per input
            feature of ``D(OMP(E(x)))`` against ``x``.
        """
        from sklearn.linear_model import orthogonal_mp

        X_np, X_t = self._input(X)
        atoms = self.attractors_ if attractors is None else attractors
        atoms = self._to_numpy(self._latent_input(atoms), np.float64)
        atoms = atoms[np.linalg.norm(atoms, axis=1) > 1e-12]
        k = self.n_latent_
        n_coefs = check_positive_int(n_nonzero_coefs, "n_nonzero_coefs")
        if n_coefs > min(k, len(atoms)):
            raise ValueError(
                f"n_nonzero_coefs={n_coefs} exceeds min(latent size {k}, "
                f"non-zero atoms {len(atoms)})."
            )
        Z = self._to_numpy(self._latents(X_t), np.float64)
        rng = check_random_state(random_state)
        basis, _ = np.linalg.qr(rng.standard_normal((k, k)))
        target = X_t.reshape(len(X_t), -1).to(torch.float64).cpu().numpy()
        out = {}
        for name, dictionary in (("attractors", atoms.T), ("random", basis)):
            dictionary = dictionary / np.linalg.norm(dictionary, axis=0)
            coefs = orthogonal_mp(dictionary, Z.T, n_nonzero_coefs=n_coefs)
            approx = (dictionary @ np.asarray(coefs).reshape(dictionary.shape[1], -1)).T
            decoded = self._decode_np(approx)
            out[name] = float(np.mean((decoded - target) ** 2))
        return out

    @property
    def _attractor_set(self) -> torch.Tensor:
        """The finite training end points as a tensor (the OOD reference set).

        L2-normalised when ``normalize_latents`` is set, like the points compared
        with them (:meth:`_unit`).
        """
        ends = self.attractors_all_[np.isfinite(self.attractors_all_).all(axis=1)]
        return self._unit(torch.as_tensor(ends, device=self.device_, dtype=self.dtype_))

    def _unit(self, Z: torch.Tensor) -> torch.Tensor:
        """Rows of ``Z`` scaled to unit norm if ``normalize_latents`` (else ``Z``)."""
        if not self.normalize_latents:
            return Z
        return Z / Z.norm(dim=1, keepdim=True).clamp_min(1e-12)


# --------------------------------------------------------------------- kernels
def _image_shape(image_shape: Any, n_features: int) -> tuple[int, int, int]:
    """``(channels, height, width)`` of a row for the conv autoencoder."""
    if image_shape is None:
        side = int(round(np.sqrt(n_features)))
        if side * side != n_features:
            raise ValueError(
                f"autoencoder='conv' needs image_shape: {n_features} features are "
                "not a square one-channel image."
            )
        return (1, side, side)
    shape = tuple(int(v) for v in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1 or int(np.prod(shape)) != n_features:
        raise ValueError(
            "image_shape must be (height, width) or (channels, height, width) "
            f"with {n_features} elements in all; got {image_shape!r}."
        )
    return shape


def _sq_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d, 0.0)


def _max_cosine(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    An = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)
    Bn = B / np.maximum(np.linalg.norm(B, axis=1, keepdims=True), 1e-12)
    cos = An @ Bn.T
    return cos.max(axis=1), cos.argmax(axis=1)


def _power_spectral_radius(
    f: Callable[[torch.Tensor], torch.Tensor],
    Z: torch.Tensor,
    u: torch.Tensor,
    n_iter: int,
) -> np.ndarray:
    """Batched power iteration on ``J_f(z_i)`` via JVPs (rows of ``f`` independent).

    Returns the geometric mean of ``||J u_t||`` (``u_t`` unit) over the last
    ``ceil(n_iter / 2)`` iterations, per row, in float64.
    """
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-300)
    burn_in = n_iter // 2
    log_growth = torch.zeros(len(Z), dtype=torch.float64, device=Z.device)
    with torch.no_grad():
        for t in range(n_iter):
            ju = torch.func.jvp(f, (Z,), (u,))[1]
            norm = ju.norm(dim=1)
            if t >= burn_in:
                log_growth += torch.log(norm.to(torch.float64).clamp_min(1e-300))
            zero = norm == 0
            u = torch.where(zero[:, None], u, ju / norm.clamp_min(1e-300)[:, None])
    rho = torch.exp(log_growth / (n_iter - burn_in))
    return rho.cpu().numpy()


def _rank90(decoded: np.ndarray) -> int:
    s = np.linalg.svd(decoded, compute_uv=False)
    energy = np.cumsum(s**2)
    if energy[-1] <= 0:
        return 0
    return int(np.searchsorted(energy / energy[-1], 0.9) + 1)


def ood_auroc_score(estimator: Any, X: Any, y: Any) -> float:
    """Scorer: AUROC of ``-score_samples(X)`` for ``y`` = 1 (OOD) versus 0 (inlier).

    Usable as ``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV` with
    any fitted outlier detector (or a pipeline ending in one).

    Parameters
    ----------
    estimator : fitted estimator with ``score_samples``
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        1 for out-of-distribution rows, 0 for inliers.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from skres.dynamics import ood_auroc_score
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.randn(100, 2), rng.randn(20, 2) + 6]
    >>> y = np.r_[np.zeros(100), np.ones(20)]
    >>> det = IsolationForest(random_state=0).fit(X[:100])
    >>> ood_auroc_score(det, X, y) > 0.95
    True
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if set(np.unique(y).tolist()) - {0, 1}:
        raise ValueError("y must hold 0 (inlier) and 1 (out-of-distribution) labels.")
    return float(roc_auc_score(y, -np.asarray(estimator.score_samples(X))))


def deduplicate_attractors(
    Z: Any,
    *,
    threshold: float = 0.99,
    radius: float = 1e-1,
    rule: str = "cosine",
    order: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Merge end points into distinct attractors (greedy leader clustering).

    Points are visited in ``order`` (row order when ``None``). Each unassigned
    point becomes a new attractor and absorbs every unassigned point that is the
    same attractor: cosine above ``threshold`` (``rule="cosine"``, the paper's
    rule) or distance below ``radius`` (both rules; this also merges points at
    the origin, where the cosine is undefined). The loop runs once per attractor,
    not once per point.

    Parameters
    ----------
    Z : array-like of shape (n_points, n_latent)
    threshold : float, default=0.99
    radius : float, default=0.1
    rule : {"cosine", "euclidean"}, default="cosine"
    order : array-like of shape (n_points,), default=None
        Visiting order (a permutation of the rows), e.g. by increasing residual.

    Returns
    -------
    attractors : ndarray of shape (n_attractors, n_latent)
        The leader (first point) of each group.
    labels : ndarray of shape (n_points,)
        Group index of each point.

    Examples
    --------
    >>> from skres.dynamics.vector_field import deduplicate_attractors
    >>> A, labels = deduplicate_attractors([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    >>> A.shape, labels.tolist()
    ((2, 2), [0, 0, 1])
    """
    check_option(rule, "rule", ("cosine", "euclidean"))
    Z = np.asarray(Z, dtype=np.float64)
    n = len(Z)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return Z.reshape(0, Z.shape[1] if Z.ndim == 2 else 0), labels
    perm = np.arange(n) if order is None else np.asarray(order, dtype=np.int64)
    if sorted(perm.tolist()) != list(range(n)):
        raise ValueError("order must be a permutation of range(n_points).")
    norms = np.linalg.norm(Z, axis=1)
    unit = Z / np.maximum(norms, 1e-300)[:, None]
    leaders: list[int] = []
    while True:
        free = perm[labels[perm] < 0]
        if len(free) == 0:
            break
        lead = int(free[0])
        same = np.linalg.norm(Z[free] - Z[lead], axis=1) < radius
        if rule == "cosine" and norms[lead] > 0:
            pos = norms[free] > 0
            same |= pos & (unit[free] @ unit[lead] > threshold)
        same[0] = True
        labels[free[same]] = len(leaders)
        leaders.append(lead)
    return Z[leaders].copy(), labels
