"""ResiDual: spectral reweighting of residual units for zero-shot classification.

Basile, Maiorca et al., "ResiDual Transformer Alignment with Spectral
Decomposition", TMLR 2025. Each residual unit (head, MLP, embedding) of a frozen
vision transformer is centred and expressed in its own principal basis; one weight
per principal component is learned, the reweighted units are summed, and the result
is classified by cosine similarity with frozen class embeddings.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted

from .._base import TorchEstimatorMixin
from .._compat import Interval, StrOptions, fit_context
from .._validation import (
    tensor_to_numpy,
    validate_input,
)

__all__ = ["ResiDualAligner"]

_FLOAT_DTYPES = [np.float64, np.float32]
#: Inference batches hold at most this many (sample, unit, component) coefficients.
_INFERENCE_ELEMENTS = 2**24
#: The per-unit PCA works on unit chunks whose float64 temporaries (covariances and
#: eigenvectors; centred row blocks) each stay under this many bytes.
_PCA_CHUNK_BYTES = 2**23


class ResiDualAligner(
    ClassNamePrefixFeaturesOutMixin,
    ClassifierMixin,
    TransformerMixin,
    TorchEstimatorMixin,
    BaseEstimator,
):
    """Zero-shot classifier adapted by reweighting the principal components of units.

    ``X`` holds the direct contributions of the residual units of a frozen model
    (heads, MLPs, embedding; see
    :func:`~skres.interpretability.extract_residual_units`), shape
    ``(n_samples, n_units, d)``. For each adapted unit ``u`` with training mean
    ``mu_u`` and principal basis ``V_u`` (rows, ``k_u`` kept), the adapted output is::

        z = sum_u ((x_u - mu_u) V_u^T) diag(lambda_u) V_u  (+ passthrough units)

    and the logits are ``logit_scale * cos(z, t_c)`` against frozen class embeddings
    ``t_c``. Only the ``lambda`` (``n_params_`` numbers) are trained, by cross-entropy.
    A 2-D ``X`` of shape ``(n_samples, d)`` is one unit (the model's output): the
    "spectral output adapter".

    Parameters
    ----------
    class_embeddings : array-like of shape (n_classes, d), default=None
        Frozen class prototypes (e.g. CLIP text embeddings), rows ordered like
        ``classes_``. ``None`` uses the class means of the un-adapted output on the
        training data. Also accepted as a ``fit`` argument, which takes precedence.
    unit_mask : array-like of bool of shape (n_units,), default=None
        Units to adapt; all when ``None``. The others are handled by ``passthrough``.
    passthrough : {"zero", "sum", "mean"}, default="zero"
        Non-adapted units are dropped, added unchanged, or replaced by their
        training mean.
    n_components : int, default=None
        Keep at most this many principal components per unit.
    variance_threshold : float in (0, 1], default=None
        Keep, per unit, the fewest components whose cumulative explained variance
        ratio reaches this value (1 keeps them all). Task-relevant directions
        with little variance are cut by aggressive thresholds.
    granularity : {"spectral", "unit"}, default="spectral"
        One weight per principal component (ResiDual), or one weight per unit on the
        uncentred unit (the paper's "coarse"/"optimised" baseline).
    add_mean : bool, default=False
        Add the adapted units' means back to ``z`` (the reference code does not).
    lambda_init : {"ones", "randn"}, default="ones"
        Start from the identity (``"ones"``: before training the model is the
        zero-shot model, up to centring) or, as the reference code, from N(1, 1).
    logit_scale : float, default=100.0
        Temperature of the cosine logits (CLIP's learned value is 100).
    normalize : bool, default=True
        Use cosine logits (``z`` and prototypes L2-normalised); else ``z @ t_c``.
    lr : float, default=0.05
        Adam learning rate (the reference uses schedule-free AdamW at 0.8).
    max_epochs : int, default=30
        Maximum passes over the training data.
    batch_size : int, default=64
        Minibatch size.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data (stratified), keep
        the weights with the best validation accuracy, and stop after
        ``n_iter_no_change`` epochs without improvement. Skipped when the held-out
        part would not contain every class.
    validation_fraction : float, default=0.1
        Held-out share for early stopping.
    n_iter_no_change : int, default=5
        Patience, in epochs.
    device, dtype, random_state, verbose
        As for every torch estimator in skres (see
        :class:`~skres.causal.SparseAutoencoder`).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (strings allowed).
    class_embeddings_ : ndarray of shape (n_classes, d)
        The prototypes used.
    means_ : ndarray of shape (n_units, d)
        Per-unit means (of the PCA data).
    components_ : ndarray of shape (n_units, max_components, d)
        Per-unit principal directions, zero-padded beyond each unit's count.
    n_components_ : ndarray of shape (n_units,)
        Components kept per unit (0 for units not adapted).
    explained_variance_ratio_ : ndarray of shape (n_units, max_components)
        Per-unit explained variance ratios of the kept components (zero-padded).
    lambdas_ : list of ndarray
        Learned weights, one array per unit (length ``n_components_[u]``, or 1 with
        ``granularity="unit"``; empty for units not adapted).
    n_params_ : int
        Number of trained weights.
    n_units_, n_dims_ : int
        Units and their dimension.
    n_iter_ : int
        Epochs run.
    history_ : dict of lists
        Per-epoch ``"loss"`` and ``"val_accuracy"`` (NaN without early stopping).

    References
    ----------
    .. [1] L. Basile, V. Maiorca, L. Bortolussi, E. Rodolà, F. Locatello.
       "ResiDual Transformer Alignment with Spectral Decomposition." TMLR 2025.
       arXiv:2411.00246.

    Examples
    --------
    >>> from skres.datasets import make_residual_units
    >>> from skres.interpretability import ResiDualAligner
    >>> X, y, text = make_residual_units(n_samples=600, random_state=1)
    >>> clf = ResiDualAligner(class_embeddings=text, max_epochs=10, device="cpu",
    ...                       random_state=0).fit(X, y)
    >>> clf.n_params_, clf.score(X, y) > 0.9
    (384, True)
    """

    _parameter_constraints: dict = {
        **TorchEstimatorMixin._torch_parameter_constraints,
        "class_embeddings": ["array-like", None],
        "unit_mask": ["array-like", None],
        "passthrough": [StrOptions({"zero", "sum", "mean"})],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "variance_threshold": [Interval(Real, 0, 1, closed="right"), None],
        "granularity": [StrOptions({"spectral", "unit"})],
        "add_mean": ["boolean"],
        "lambda_init": [StrOptions({"ones", "randn"})],
        "logit_scale": [Interval(Real, 0, None, closed="neither")],
        "normalize": ["boolean"],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        class_embeddings: Any = None,
        unit_mask: Any = None,
        passthrough: str = "zero",
        n_components: int | None = None,
        variance_threshold: float | None = None,
        granularity: str = "spectral",
        add_mean: bool = False,
        lambda_init: str = "ones",
        logit_scale: float = 100.0,
        normalize: bool = True,
        lr: float = 0.05,
        max_epochs: int = 30,
        batch_size: int = 64,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        device: Any = "auto",
        dtype: Any = "float32",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.class_embeddings = class_embeddings
        self.unit_mask = unit_mask
        self.passthrough = passthrough
        self.n_components = n_components
        self.variance_threshold = variance_threshold
        self.granularity = granularity
        self.add_mean = add_mean
        self.lambda_init = lambda_init
        self.logit_scale = logit_scale
        self.normalize = normalize
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        return {
            "max_epochs": 5,
            "batch_size": 16,
            "device": "cpu",
            "early_stopping": False,
        }

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ------------------------------------------------------------- validation
    def _validate_units(self, X: Any, y: Any = "no_validation", *, reset: bool) -> Any:
        """Validate ``X`` (and ``y``) and return ``X`` as (n_samples, n_units, d)."""
        no_y = isinstance(y, str) and y == "no_validation"
        if no_y:
            X = validate_input(self, X, reset=reset, dtype=_FLOAT_DTYPES, allow_nd=True)
        else:
            X, y = validate_input(
                self, X, y, reset=reset, dtype=_FLOAT_DTYPES, allow_nd=True
            )
        if X.ndim == 2:
            X = X[:, None, :]
        if X.ndim != 3:
            raise ValueError(
                "X must have shape (n_samples, n_units, d) or (n_samples, d); got "
                f"{X.ndim} dimensions."
            )
        if not reset and X.shape[1:] != (self.n_units_, self.n_dims_):
            raise ValueError(
                f"X has units of shape {X.shape[1:]}, but {type(self).__name__} was "
                f"fitted on ({self.n_units_}, {self.n_dims_})."
            )
        return X if no_y else (X, y)

    def _resolve_unit_mask(self, n_units: int) -> np.ndarray:
        if self.unit_mask is None:
            return np.ones(n_units, dtype=bool)
        mask = np.asarray(tensor_to_numpy(self.unit_mask))
        if mask.dtype != bool or mask.shape != (n_units,):
            raise ValueError(
                f"unit_mask must be a boolean array of shape ({n_units},); got dtype "
                f"{mask.dtype} and shape {mask.shape}."
            )
        if not mask.any():
            raise ValueError("unit_mask must select at least one unit to adapt.")
        return mask

    # ------------------------------------------------------------------- PCA
    def _fit_bases(self, X_pca: torch.Tensor) -> None:
        """Per-unit means and principal bases of ``X_pca`` (n, U, d).

        Units are processed in chunks, and each chunk's float64 covariances are
        accumulated over row chunks and diagonalised there (batched ``eigh``), so the
        extra memory is the kept bases plus a few times ``_PCA_CHUNK_BYTES`` (or
        one unit's float64 ``d x d`` covariance, if larger), not float64 copies of
        the data or of every covariance (8 MiB chunks: 240 MiB peak for 200 units of
        d=512, bases included, against 510 MiB with 64 MiB chunks, at equal speed
        and identical results); at most
        ``min(n, d)`` components per unit, as a thin SVD would give.
        """
        n_samples, n_units, n_dims = X_pca.shape
        n_max = min(n_samples, n_dims)
        units_per_chunk = max(1, _PCA_CHUNK_BYTES // (3 * 8 * n_dims * n_dims))
        rows_per_chunk = max(
            1, _PCA_CHUNK_BYTES // (2 * 8 * min(units_per_chunk, n_units) * n_dims)
        )
        means = torch.zeros(n_units, n_dims, dtype=torch.float64, device=X_pca.device)
        ratio = torch.zeros(n_units, n_max, dtype=torch.float64)
        bases = torch.zeros(
            n_units, n_max, n_dims, dtype=self.dtype_, device=X_pca.device
        )
        for u0 in range(0, n_units, units_per_chunk):
            units = slice(u0, min(u0 + units_per_chunk, n_units))
            rows = range(0, n_samples, rows_per_chunk)
            for r0 in rows:
                block = X_pca[r0 : r0 + rows_per_chunk, units]
                means[units] += block.double().sum(dim=0)
            means[units] /= n_samples
            n_chunk = units.stop - units.start
            covariance = torch.zeros(
                n_chunk, n_dims, n_dims, dtype=torch.float64, device=X_pca.device
            )
            for r0 in rows:
                block = X_pca[r0 : r0 + rows_per_chunk, units]
                centred = (block.double() - means[units]).transpose(0, 1)
                covariance.baddbmm_(centred.transpose(1, 2), centred)
            eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
            del covariance
            variance = eigenvalues.flip(-1)[:, :n_max].clamp_min(0)
            total = variance.sum(dim=1, keepdim=True)
            ratio[units] = torch.where(
                total > 0,
                variance / total.clamp_min(1e-300),
                torch.zeros_like(variance),
            ).cpu()
            # rows = principal components, largest variance first
            bases[units] = eigenvectors.flip(-1)[:, :, :n_max].transpose(1, 2)
        keep = self._components_to_keep(ratio, n_max)
        width = max(int(keep.max()), 1)
        component_mask = torch.arange(width)[None, :] < keep[:, None]
        bases = bases[:, :width]
        bases.mul_(component_mask[..., None].to(bases.device, bases.dtype))
        self._means = means.to(self.dtype_)
        self._bases = bases if width == n_max else bases.contiguous()
        self._mean_coef = (self._bases @ self._means[:, :, None])[..., 0]  # no copy
        self._component_mask = component_mask.to(self.device_)
        self.n_components_ = keep.numpy()
        self.explained_variance_ratio_ = (ratio[:, :width] * component_mask).numpy()

    def _components_to_keep(self, ratio: torch.Tensor, n_max: int) -> torch.Tensor:
        """Components kept per unit from the explained-variance ratios (U, n_max)."""
        keep = torch.full((ratio.shape[0],), n_max, dtype=torch.long)
        if self.variance_threshold is not None and self.variance_threshold < 1:
            cumulative = ratio.cumsum(dim=1)
            reached = cumulative >= self.variance_threshold - 1e-12
            first = torch.where(
                reached.any(dim=1),
                reached.float().argmax(dim=1) + 1,
                torch.full_like(keep, n_max),
            )
            keep = torch.minimum(keep, first)
        if self.n_components is not None:
            keep = keep.clamp_max(self.n_components)
        keep[~torch.as_tensor(self.unit_mask_)] = 0
        return keep

    # --------------------------------------------------------------- forward
    def _lambda_mask(self) -> torch.Tensor:
        if self.granularity == "unit":
            return torch.as_tensor(self.unit_mask_, device=self.device_)[:, None]
        return self._component_mask

    def _coefficients(
        self, X: torch.Tensor, units: slice = slice(None)
    ) -> torch.Tensor:
        """Principal coordinates ``(x_u - mu_u) V_u^T`` of a batch, shape (U, n, k).

        ``X`` holds the ``units`` of a batch, (n, U, d), in any float dtype (the
        fitted quantities are cast to it). ``<x - mean, b> = <x, b> - <mean, b>``:
        no centred copy of the batch. One batched product over units with the bases
        read in place (an ``einsum`` here would copy all the bases on every call).
        """
        bases = self._bases[units].to(X.dtype)
        coef = torch.bmm(X.transpose(0, 1), bases.transpose(1, 2))
        return coef - self._mean_coef[units, None, :].to(X.dtype)

    def _forward(
        self, X: torch.Tensor, lambdas: torch.Tensor, units: slice = slice(None)
    ) -> torch.Tensor:
        """Adapted output ``z`` (n, d) for a batch of units ``X`` (n, U, d).

        With ``units``, ``X`` holds only those units and ``z`` is their
        contribution (``z`` is a sum over units), computed in ``X``'s dtype.
        """
        adapted = torch.as_tensor(self.unit_mask_[units], device=X.device)
        lambdas = lambdas[units].to(X.dtype)
        means = self._means[units].to(X.dtype)
        if self.granularity == "unit":
            weights = lambdas[:, 0] * adapted
            z = torch.einsum("nud,u->nd", X, weights)  # uncentred units
        else:
            weighted = self._coefficients(X, units) * lambdas[:, None, :]
            bases = self._bases[units].to(X.dtype)
            # sum over units and components at once: (n, U k) @ (U k, d)
            z = weighted.transpose(0, 1).reshape(len(X), -1) @ bases.reshape(
                -1, self.n_dims_
            )
            if self.add_mean:
                z = z + (means * adapted[:, None]).sum(dim=0)
        if self.passthrough == "sum":
            z = z + X[:, ~adapted].sum(dim=1)
        elif self.passthrough == "mean":
            z = z + means[~adapted].sum(dim=0)
        return z

    def _logits(self, z: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            z = torch.nn.functional.normalize(z, dim=-1)
        return self.logit_scale * z @ self._prototypes.T

    # -------------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: Any, y: Any, X_pca: Any = None, class_embeddings: Any = None
    ) -> ResiDualAligner:
        """Learn one weight per principal component (or unit) by cross-entropy.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_units, d) or (n_samples, d)
            Residual-unit contributions of the training images.
        y : array-like of shape (n_samples,)
            Class labels.
        X_pca : array-like of shape (n_pca_samples, n_units, d), default=None
            Data for the per-unit PCA (the paper uses ImageNet train features for
            every target dataset); ``X`` when ``None``.
        class_embeddings : array-like of shape (n_classes, d), default=None
            Overrides the constructor's ``class_embeddings`` for this fit.

        Returns
        -------
        self : ResiDualAligner
        """
        X_t, targets, generator = self._fit_setup(X, y, X_pca)
        mask = self._lambda_mask()
        if self.lambda_init == "ones":
            init = torch.ones(mask.shape, dtype=torch.float64)
        else:
            init = 1.0 + torch.randn(
                mask.shape, generator=generator, dtype=torch.float64
            )
        init = init.to(self.device_, self.dtype_)
        embeddings = (
            class_embeddings if class_embeddings is not None else self.class_embeddings
        )
        self._prototypes = self._fit_prototypes(X_t, targets, init * mask, embeddings)
        final, history = self._train(X_t, targets, init, mask, generator)
        self._lambdas = (final * mask).detach()
        self.n_iter_ = len(history["loss"])
        self.history_ = history
        self.n_params_ = int(mask.sum().item())
        return self

    def _fit_setup(
        self, X: Any, y: Any, X_pca: Any
    ) -> tuple[torch.Tensor, np.ndarray, torch.Generator]:
        """Validate, encode the classes, set up torch and fit the per-unit PCA."""
        X_np, y_np = self._validate_units(X, y, reset=True)
        check_classification_targets(y_np)
        encoder = LabelEncoder().fit(y_np)
        if len(encoder.classes_) < 2:
            raise ValueError(
                "ResiDualAligner needs at least 2 classes to classify; y has 1 class."
            )
        self.classes_ = encoder.classes_
        targets = encoder.transform(y_np)
        n_samples, n_units, n_dims = X_np.shape
        self.n_units_, self.n_dims_ = n_units, n_dims
        generator = self._setup_torch(X)
        self.unit_mask_ = self._resolve_unit_mask(n_units)
        X_t = self._to_tensor(X_np)
        if X_pca is None:
            pca_t = X_t
        else:
            pca_np = check_array(
                tensor_to_numpy(X_pca),
                dtype=_FLOAT_DTYPES,
                allow_nd=True,
                input_name="X_pca",
            )
            if pca_np.ndim == 2:
                pca_np = pca_np[:, None, :]
            if pca_np.shape[1:] != (n_units, n_dims):
                raise ValueError(
                    f"X_pca must have units of shape ({n_units}, {n_dims}) like X; got "
                    f"{pca_np.shape[1:]}."
                )
            pca_t = self._to_tensor(pca_np)
        self._fit_bases(pca_t)
        return X_t, targets, generator

    def _fit_prototypes(
        self,
        X_t: torch.Tensor,
        targets: np.ndarray,
        start: torch.Tensor,
        embeddings: Any,
    ) -> torch.Tensor:
        """Class prototypes: the given embeddings, or class means of the start ``z``."""
        if embeddings is None:
            return self._mean_outputs(X_t, targets, start)
        emb = check_array(
            tensor_to_numpy(embeddings),
            dtype=_FLOAT_DTYPES,
            input_name="class_embeddings",
        )
        if emb.shape != (len(self.classes_), self.n_dims_):
            raise ValueError(
                f"class_embeddings must have shape ({len(self.classes_)}, "
                f"{self.n_dims_}) (one row per class, ordered like classes_); got "
                f"{emb.shape}."
            )
        prototypes = self._to_tensor(emb)
        if self.normalize:
            prototypes = torch.nn.functional.normalize(prototypes, dim=-1)
        return prototypes

    def _mean_outputs(
        self, X_t: torch.Tensor, targets: np.ndarray, lambdas: torch.Tensor
    ) -> torch.Tensor:
        """Class means of the output ``z`` (n_classes, d), unit-normalised if
        ``normalize``.

        ``z`` is affine in ``x``, so the class means of ``z`` are ``z`` of the
        class means of ``X_t``: one pass over the data (no forward pass over every
        sample), then ``z`` in float64 over unit chunks (bounded float64 copies of
        the bases) and the normalisation in float64 before the cast, so classes
        whose means point the same way get identical prototypes.
        """
        means = self._class_means(X_t, targets)
        width = self._bases.shape[1] * self.n_dims_
        step = max(1, _PCA_CHUNK_BYTES // (8 * max(width, 1)))
        with torch.no_grad():
            z0 = sum(
                self._forward(means[:, u0 : u0 + step], lambdas, slice(u0, u0 + step))
                for u0 in range(0, self.n_units_, step)
            )
        assert isinstance(z0, torch.Tensor)
        self._check_output(z0, "fit")
        if self.normalize:
            z0 = torch.nn.functional.normalize(z0, dim=-1)
        return z0.to(self.dtype_)

    def _class_means(self, X_t: torch.Tensor, targets: np.ndarray) -> torch.Tensor:
        """Per-class float64 means of ``X_t`` (n, U, d), shape (n_classes, U, d).

        Accumulated in float64 over row chunks (one matrix product each), so no
        copy of the data is made.
        """
        n_samples = len(X_t)
        onehot = torch.nn.functional.one_hot(
            torch.as_tensor(targets, device=self.device_), len(self.classes_)
        ).to(self.dtype_)
        width = X_t[0].numel()
        sums = torch.zeros(
            len(self.classes_), width, dtype=torch.float64, device=self.device_
        )
        rows = max(1, _INFERENCE_ELEMENTS // width)
        for r0 in range(0, n_samples, rows):
            block = X_t[r0 : r0 + rows].reshape(-1, width)
            sums += (onehot[r0 : r0 + rows].T @ block).double()
        means = sums / onehot.sum(dim=0).double()[:, None]
        return means.reshape(-1, *X_t.shape[1:])

    def _train(
        self,
        X_t: torch.Tensor,
        targets: np.ndarray,
        init: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, dict[str, list[float]]]:
        """Adam on the weights with early stopping: (best weights, history)."""
        lambdas = torch.nn.Parameter(init.clone())
        train_idx, val_idx = self._validation_split(targets, generator)
        targets_t = torch.as_tensor(targets, device=self.device_)
        optimizer = torch.optim.Adam([lambdas], lr=self.lr)
        history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}
        best = (-1.0, lambdas.detach().clone())
        stale = 0
        epochs = self._progress(
            range(self.max_epochs), total=self.max_epochs, desc="ResiDualAligner"
        )
        with torch.enable_grad():
            for _ in epochs:
                total = torch.zeros((), device=self.device_, dtype=self.dtype_)
                for batch in self._batch_slices(
                    len(train_idx), self.batch_size, generator, self.device_
                ):
                    rows = train_idx[batch]
                    logits = self._logits(self._forward(X_t[rows], lambdas * mask))
                    loss = torch.nn.functional.cross_entropy(logits, targets_t[rows])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    total += loss.detach() * len(rows)
                history["loss"].append((total / len(train_idx)).item())
                if val_idx is None:
                    history["val_accuracy"].append(float("nan"))
                    continue
                current = (lambdas * mask).detach()
                pred = self._batched(
                    lambda xb, w=current: self._logits(self._forward(xb, w)),
                    X_t,
                    rows=val_idx,
                )
                acc = (pred.argmax(1) == targets_t[val_idx]).double().mean().item()
                history["val_accuracy"].append(acc)
                self._report(epochs, loss=history["loss"][-1], val_acc=acc)
                if acc > best[0]:
                    best, stale = (acc, lambdas.detach().clone()), 0
                else:
                    stale += 1
                    if stale >= self.n_iter_no_change:
                        break
        return (best[1] if val_idx is not None else lambdas.detach()), history

    def _validation_split(
        self, targets: np.ndarray, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Stratified train/validation indices (on ``device_``)."""
        n = len(targets)
        everything = torch.arange(n, device=self.device_)
        if not self.early_stopping:
            return everything, None
        counts = np.bincount(targets)
        n_val = np.floor(counts * self.validation_fraction).astype(int)
        if np.any(n_val < 1) or np.any(counts - n_val < 1):
            return everything, None
        order = torch.randperm(n, generator=generator).numpy()
        shuffled = targets[order]
        rank = np.empty(n, dtype=int)
        for c in range(len(counts)):
            rank[shuffled == c] = np.arange(counts[c])
        is_val = rank < n_val[shuffled]
        val = torch.as_tensor(np.sort(order[is_val]), device=self.device_)
        train = torch.as_tensor(np.sort(order[~is_val]), device=self.device_)
        return train, val

    # -------------------------------------------------------------- inference
    def _batched(
        self,
        fn: Any,
        X: np.ndarray | torch.Tensor,
        method: str = "fit",
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``fn`` over row chunks of ``X`` (or of ``X[rows]``) that bound the
        intermediate memory; ``X[rows]`` is gathered chunk by chunk, never whole.

        Raises a ``ValueError`` naming ``method`` if the result is not finite.
        """
        per_row = max(1, self.n_units_ * max(self._bases.shape[1], self.n_dims_))
        batch = max(1, _INFERENCE_ELEMENTS // per_row)
        X_t = X if isinstance(X, torch.Tensor) else self._to_tensor(X)
        if rows is None:
            out = self._map_batches(fn, X_t, batch)
        else:
            out = self._map_batches(lambda idx: fn(X_t[idx]), rows, batch)
        return self._check_output(out, method)

    def transform(self, X: Any) -> np.ndarray:
        """Adapted embedding ``z``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_units, d) or (n_samples, d)

        Returns
        -------
        ndarray of shape (n_samples, d)
        """
        check_is_fitted(self)
        X_np = self._validate_units(X, reset=False)
        z = self._batched(
            lambda xb: self._forward(xb, self._lambdas), X_np, "transform"
        )
        return self._to_numpy(z, X_np.dtype)

    def transform_units(self, X: Any) -> np.ndarray:
        """Adapted units ``((x_u - mu_u) V_u^T) diag(lambda_u) V_u``, per adapted unit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_units, d) or (n_samples, d)

        Returns
        -------
        ndarray of shape (n_samples, n_adapted_units, d)
        """
        check_is_fitted(self)
        X_np = self._validate_units(X, reset=False)
        adapted = torch.as_tensor(self.unit_mask_, device=self.device_)

        def units(xb: torch.Tensor) -> torch.Tensor:
            if self.granularity == "unit":
                return (xb * self._lambdas[:, 0][None, :, None])[:, adapted]
            centred = (xb - self._means).transpose(0, 1)
            coef = torch.bmm(centred, self._bases.transpose(1, 2))
            weighted = coef * self._lambdas[:, None, :]
            return torch.bmm(weighted, self._bases).transpose(0, 1)[:, adapted]

        return self._to_numpy(self._batched(units, X_np, "transform_units"), X_np.dtype)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits ``logit_scale * cos(z, t_c)``, shape (n_samples, n_classes).

        For two classes, the difference of the two logits (shape (n_samples,)), as
        scikit-learn's binary classifiers return.
        """
        check_is_fitted(self)
        X_np = self._validate_units(X, reset=False)
        logits = self._to_numpy(
            self._batched(
                lambda xb: self._logits(self._forward(xb, self._lambdas)),
                X_np,
                "decision_function",
            ),
            np.float64,
        )
        return logits[:, 1] - logits[:, 0] if len(self.classes_) == 2 else logits

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax of the logits; rows sum to 1."""
        check_is_fitted(self)
        X_np = self._validate_units(X, reset=False)
        logits = self._batched(
            lambda xb: self._logits(self._forward(xb, self._lambdas)),
            X_np,
            "predict_proba",
        )
        return self._to_numpy(torch.softmax(logits.double(), dim=1), np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The class with the largest logit."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of :meth:`predict` on ``X`` against ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_units, d) or (n_samples, d)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self.predict(X), sample_weight=sample_weight))

    # ------------------------------------------------------------- attributes
    @property
    def _n_features_out(self) -> int:
        return self.n_dims_

    @property
    def means_(self) -> np.ndarray:
        check_is_fitted(self)
        return self._to_numpy(self._means)

    @property
    def components_(self) -> np.ndarray:
        check_is_fitted(self)
        return self._to_numpy(self._bases)

    @property
    def class_embeddings_(self) -> np.ndarray:
        check_is_fitted(self)
        return self._to_numpy(self._prototypes)

    @property
    def lambdas_(self) -> list[np.ndarray]:
        check_is_fitted(self)
        values = self._to_numpy(self._lambdas)
        if self.granularity == "unit":
            return [
                values[u, :1] if self.unit_mask_[u] else values[u, :0]
                for u in range(self.n_units_)
            ]
        return [values[u, :k] for u, k in enumerate(self.n_components_)]
