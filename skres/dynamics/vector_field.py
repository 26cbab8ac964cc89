"""Latent vector fields of autoencoders: attractors, memorisation and OOD scores.

"Navigating the Latent Space Dynamics of Neural Models" (Fumero, Moschella, Rodolà,
Locatello, ICLR 2026). An autoencoder ``F = D o E`` defines the latent self-map
``f(z) = E(D(z))``; iterating ``z_{t+1} = f(z_t)`` follows the vector field
``v(z) = f(z) - z`` to its attractors. No official code exists: the definitions here
are pinned by analytic tests (``tests/test_vector_field.py``).
"""

from __future__ import annotations

import warnings
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
from sklearn.utils.validation import check_is_fitted

if TYPE_CHECKING:
    import pandas as pd

from .._base import TorchEstimatorMixin
from .._compat import Interval, StrOptions, fit_context
from .._validation import check_option, validate_input
from ._vf_attractors import (
    _FLOAT_DTYPES,
    MemorizationReport,
    _FieldTools,
    _max_cosine,
    _rank90,
    deduplicate_attractors,
    ood_auroc_score,
)
from ._vf_modules import AutoencoderHandle, train_builtin

__all__ = [
    "AutoencoderHandle",
    "LatentVectorField",
    "MemorizationReport",
    "deduplicate_attractors",
    "ood_auroc_score",
]

_SCORES = (
    "trajectory_mean",
    "initial_distance",
    "final_distance",
    "n_iter",
    "reconstruction",
    "knn",
)


class LatentVectorField(
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    OutlierMixin,
    _FieldTools,
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
        X_t = self._fit_autoencoder(X_np, generator)
        Z = self._fit_latents(X_t)
        chosen = self._fit_iterate(Z, generator)
        self._fit_deduplicate(chosen)
        self._fit_summaries(X_np, chosen)
        # Diverged rows score -inf; clip so the interpolated quantile stays finite.
        normality = np.maximum(-self._raw_scores(X_t, Z)[self.ood_score], -1e300)
        self.offset_ = float(np.percentile(normality, 100.0 * self.contamination))
        return self

    def _fit_autoencoder(
        self, X_np: np.ndarray, generator: torch.Generator
    ) -> torch.Tensor:
        """Stage 1 of fit: train (or take) the encoder/decoder; ``X`` as a tensor."""
        handle = self.model
        if handle is None:
            X_t = self._to_tensor(X_np)
            module = train_builtin(self, X_t, generator)
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
        return X_t

    def _fit_latents(self, X_t: torch.Tensor) -> torch.Tensor:
        """Stage 2 of fit: latent shape and the training latents ``E(x)``."""
        self._eval_mode()
        with torch.inference_mode():
            shaped = self._raw_latents(X_t[:1])
        self.latent_shape_ = tuple(shaped.shape[1:])
        self.n_latent_ = int(np.prod(self.latent_shape_))
        Z = self._latents(X_t)
        self.train_latents_ = self._to_numpy(Z)
        return Z

    def _fit_iterate(self, Z: torch.Tensor, generator: torch.Generator) -> np.ndarray:
        """Stage 3 of fit: iterate up to ``n_attractor_samples`` training latents.

        Returns the indices of the starts.
        """
        rng = check_random_state(self._draw_seed(generator) % (2**32))
        n_samples = len(Z)
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
                stacklevel=3,
            )
        return chosen

    def _fit_deduplicate(self, chosen: np.ndarray) -> None:
        """Stage 4 of fit: merge the finite end points into ``attractors_``."""
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

    def _fit_summaries(self, X_np: np.ndarray, chosen: np.ndarray) -> None:
        """Stage 5 of fit: self-attractor fraction, memorisation and rank."""
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
    # Defined in ``_vf_attractors._FieldTools``; bound here as well so that the API
    # reference (autodoc lists a class's own members only) documents them.
    vector_field = _FieldTools.vector_field
    iterate = _FieldTools.iterate
    trajectories = _FieldTools.trajectories
    jacobian_spectral_radius = _FieldTools.jacobian_spectral_radius
    is_attractor = _FieldTools.is_attractor
    decode_attractors = _FieldTools.decode_attractors
    attractors_from_noise = _FieldTools.attractors_from_noise
    memorization_score = _FieldTools.memorization_score
    probe_dictionary = _FieldTools.probe_dictionary
