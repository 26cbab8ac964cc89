"""Sparse autoencoders (TopK, BatchTopK, ReLU + L1) as a scikit-learn transformer.

The SAE of "Exploratory Causal Inference in SAEnce" (Mencattini, Cadei, Locatello,
ICLR 2026), Eq. 3: ``z = g(E (h - b_d) + b_e)``, ``h_hat = D z + b_d``, with a
pre-encoder bias ``b_d`` initialised at the data mean, unit-norm decoder rows whose
gradient component parallel to each row is removed before every step, and ``g`` a
TopK (or BatchTopK, or ReLU with an L1 penalty) nonlinearity.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import Tags
from sklearn.utils.validation import check_array, check_is_fitted

from .._base import TorchEstimatorMixin
from .._compat import Interval, StrOptions, fit_context, transform_output
from .._validation import (
    check_groups,
    tensor_to_numpy,
    validate_input,
)

__all__ = ["SparseAutoencoder"]

_FLOAT_DTYPES = [np.float64, np.float32]
_INFERENCE_BATCH = 8192


class _SAEModule(torch.nn.Module):
    """Encoder ``E``/``b_e`` and decoder ``D``/``b_d`` of a sparse autoencoder."""

    def __init__(self, n_features: int, n_components: int, subtract_bias: bool):
        super().__init__()
        self.W_enc = torch.nn.Parameter(torch.zeros(n_components, n_features))
        self.b_enc = torch.nn.Parameter(torch.zeros(n_components))
        self.W_dec = torch.nn.Parameter(torch.zeros(n_components, n_features))
        self.b_dec = torch.nn.Parameter(torch.zeros(n_features))
        self.subtract_bias = subtract_bias

    def pre_activations(self, h: torch.Tensor) -> torch.Tensor:
        x = h - self.b_dec if self.subtract_bias else h
        return torch.addmm(self.b_enc, x, self.W_enc.T)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.b_dec, z, self.W_dec)


def _topk_rows(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest entries of each row (after ReLU), zero the rest."""
    values, indices = pre.topk(k, dim=-1, sorted=False)
    return torch.zeros_like(pre).scatter(-1, indices, torch.relu(values))


class SparseAutoencoder(
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    TorchEstimatorMixin,
    BaseEstimator,
):
    """Sparse autoencoder whose codes are the features of a scikit-learn transformer.

    Learns an overcomplete dictionary ``D`` (``n_components`` unit-norm atoms) and a
    linear encoder such that each sample is reconstructed from few active atoms::

        z = g(E (h - b_d) + b_e)        h_hat = D^T z + b_d

    ``g`` keeps the ``k`` largest non-negative pre-activations of each sample
    (``"topk"``, the paper's choice), the largest ``k * batch`` over a minibatch with a
    learned global threshold at inference (``"batchtopk"``), or is a ReLU with an L1
    penalty (``"relu_l1"``). Codes are non-negative. ``transform`` can mean-pool codes
    over ``groups`` (patches of an image, frames of a video), which is how unit-level
    codes are formed before :class:`~skres.causal.NeuralEffectSearch`.

    Parameters
    ----------
    n_components : int, default=None
        Number of dictionary atoms ``m``; ``None`` uses ``12 * n_features`` (the
        paper's expansion factor).
    k : int, default=20
        Active atoms per sample for ``"topk"`` (mean per sample for
        ``"batchtopk"``). Ignored by ``"relu_l1"``. Must not exceed ``n_components``.
    activation : {"topk", "batchtopk", "relu_l1"}, default="topk"
        Sparsifying nonlinearity.
    l1_coef : float, default=1e-3
        L1 penalty weight for ``"relu_l1"``.
    pre_bias : {"mean", "median"} or bool, default="mean"
        Pre-encoder bias ``b_d``, subtracted before encoding and added back after
        decoding, initialised at the data mean (``True``/``"mean"``) or the
        coordinate-wise (lower) median. ``False`` trains a plain decoder bias from
        zero and encodes the raw input, which on data with a large common offset
        produces always-on "mean carrier" atoms.
    tied_init : bool, default=True
        Initialise the encoder as the transpose of the (random, unit-norm) decoder.
    unit_norm_decoder : bool, default=True
        Keep decoder rows at unit norm and remove the gradient component parallel to
        each row before every step.
    lr : float, default=5e-4
        Adam learning rate.
    batch_size : int, default=256
        Minibatch size (rows) for training.
    max_epochs : int, default=20
        Passes over the training data.
    grad_clip : float or None, default=1.0
        Maximum global gradient norm; ``None`` disables clipping.
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}, default="auto"
        Where to train; ``"auto"`` follows an input tensor, else CUDA when available.
    dtype : {"float32", "float64"}, default="float32"
        Compute precision. Outputs keep the input's float dtype.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and minibatch order; an int gives bit-identical fits on
        CPU.
    verbose : int, default=0
        Show a progress bar over epochs when > 0.

    Attributes
    ----------
    n_components_ : int
        Number of atoms.
    components_ : ndarray of shape (n_components, n_features)
        Decoder dictionary ``D`` (unit-norm rows when ``unit_norm_decoder``).
    encoder_ : ndarray of shape (n_components, n_features)
        Encoder weights ``E``.
    encoder_bias_ : ndarray of shape (n_components,)
        Encoder bias ``b_e``.
    bias_ : ndarray of shape (n_features,)
        Pre-encoder / decoder bias ``b_d``.
    threshold_ : float or None
        Inference threshold of ``"batchtopk"``: the mean, over the last epoch's
        minibatches, of the smallest activation kept; ``None`` otherwise.
    dead_mask_ : ndarray of shape (n_components,), dtype bool
        Atoms that never fire on the training data.
    history_ : dict of lists
        Per-epoch ``"loss"``, ``"mse"``, ``"fve"`` (fraction of variance explained),
        ``"l0"`` (mean active atoms per sample) and ``"n_dead"`` (atoms that did not
        fire during the epoch). ``pandas.DataFrame(sae.history_)`` tabulates it.
    module_ : torch.nn.Module
        The fitted torch module, on ``device_``.
    device_, dtype_ : torch.device, torch.dtype
        Resolved device and precision.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Input column names, when ``X`` has string column names.

    See Also
    --------
    skres.causal.NeuralEffectSearch : tests SAE codes for treatment effects.

    References
    ----------
    .. [1] Mencattini, Cadei, Locatello. "Exploratory Causal Inference in SAEnce."
       ICLR 2026. arXiv:2510.14073.
    .. [2] Gao et al. "Scaling and evaluating sparse autoencoders." 2024.
       arXiv:2406.04093 (TopK SAEs).

    Examples
    --------
    >>> from skres.causal import SparseAutoencoder
    >>> from skres.datasets import make_sparse_dictionary
    >>> X, atoms, codes = make_sparse_dictionary(n_samples=2000, random_state=0)
    >>> sae = SparseAutoencoder(n_components=128, k=4, max_epochs=5, lr=1e-3,
    ...                         device="cpu", random_state=0).fit(X)
    >>> Z = sae.transform(X)
    >>> Z.shape, int((Z > 0).sum(axis=1).max()) <= 4
    ((2000, 128), True)
    """

    _parameter_constraints: dict = {
        **TorchEstimatorMixin._torch_parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "k": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"topk", "batchtopk", "relu_l1"})],
        "l1_coef": [Interval(Real, 0, None, closed="left")],
        "pre_bias": [StrOptions({"mean", "median"}), "boolean"],
        "tied_init": ["boolean"],
        "unit_norm_decoder": ["boolean"],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "grad_clip": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        n_components: int | None = None,
        *,
        k: int = 20,
        activation: str = "topk",
        l1_coef: float = 1e-3,
        pre_bias: str | bool = "mean",
        tied_init: bool = True,
        unit_norm_decoder: bool = True,
        lr: float = 5e-4,
        batch_size: int = 256,
        max_epochs: int = 20,
        grad_clip: float | None = 1.0,
        device: Any = "auto",
        dtype: Any = "float32",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_components = n_components
        self.k = k
        self.activation = activation
        self.l1_coef = l1_coef
        self.pre_bias = pre_bias
        self.tied_init = tied_init
        self.unit_norm_decoder = unit_norm_decoder
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.grad_clip = grad_clip
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # ---------------------------------------------------------------- helpers
    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        """Small, fast parameters for the common test-suite."""
        return {
            "n_components": 8,
            "k": 1,
            "max_epochs": 3,
            "batch_size": 16,
            "lr": 1e-2,
            "device": "cpu",
        }

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _n_components(self, n_features: int) -> int:
        """The number of atoms (``12 * n_features`` by default); checks ``k``."""
        n_components = self.n_components
        n_components = 12 * n_features if n_components is None else int(n_components)
        if self.activation != "relu_l1" and self.k > n_components:
            raise ValueError(
                f"k={self.k} must not exceed n_components={n_components}: a sample "
                "cannot have more active atoms than the dictionary has."
            )
        return n_components

    def _activate(self, pre: torch.Tensor, *, training: bool) -> torch.Tensor:
        if self.activation == "topk":
            return _topk_rows(pre, self.k)
        if self.activation == "relu_l1":
            return torch.relu(pre)
        # batchtopk
        if training:
            n_keep = min(self.k * pre.shape[0], pre.numel())
            flat = torch.relu(pre).flatten()
            values, indices = flat.topk(n_keep, sorted=False)
            return torch.zeros_like(flat).scatter(0, indices, values).view_as(pre)
        return pre * (pre > float(self.threshold_))  # type: ignore[arg-type]

    def _init_module(
        self, X: torch.Tensor, n_components: int, generator: torch.Generator
    ) -> _SAEModule:
        n_features = X.shape[1]
        module = _SAEModule(n_features, n_components, subtract_bias=bool(self.pre_bias))
        atoms = torch.randn(
            n_components, n_features, generator=generator, dtype=torch.float64
        )
        atoms /= atoms.norm(dim=1, keepdim=True).clamp_min(1e-12)
        if self.tied_init:
            encoder = atoms.clone()
        else:
            bound = 1.0 / np.sqrt(n_features)
            encoder = (
                torch.rand(
                    n_components, n_features, generator=generator, dtype=torch.float64
                )
                * 2
                - 1
            ) * bound
        with torch.no_grad():
            module.W_dec.copy_(atoms)
            module.W_enc.copy_(encoder)
        module = module.to(device=self.device_, dtype=self.dtype_)
        with torch.no_grad():
            if self.pre_bias in (True, "mean"):
                module.b_dec.copy_(X.mean(dim=0))
            elif self.pre_bias == "median":
                module.b_dec.copy_(X.median(dim=0).values)
        return module

    # -------------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> SparseAutoencoder:
        """Train the sparse autoencoder on the rows of ``X``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Training rows (e.g. patch-token activations of a foundation model).
        y : None
            Ignored.

        Returns
        -------
        self : SparseAutoencoder
        """
        X_np = validate_input(self, X, reset=True, dtype=_FLOAT_DTYPES)
        n_samples, n_features = X_np.shape
        n_components = self._n_components(n_features)
        generator = self._setup_torch(X)
        X_t = self._to_tensor(X_np)

        module = self._init_module(X_t, n_components, generator)
        optimizer = torch.optim.Adam(module.parameters(), lr=self.lr)
        total_ss = ((X_t - X_t.mean(dim=0)) ** 2).sum().clamp_min(1e-12)
        history: dict[str, list[float]] = {
            k: [] for k in ("loss", "mse", "fve", "l0", "n_dead")
        }

        epochs = self._progress(
            range(self.max_epochs), total=self.max_epochs, desc="SparseAutoencoder"
        )
        module.train()
        with torch.enable_grad():
            for _ in epochs:
                loss_sum = torch.zeros((), device=self.device_, dtype=self.dtype_)
                sse = torch.zeros_like(loss_sum)
                active = torch.zeros_like(loss_sum)
                fired = torch.zeros(n_components, dtype=torch.bool, device=self.device_)
                # BatchTopK's inference threshold: the mean over the epoch's batches
                # of the smallest activation kept; the last epoch's value is used.
                threshold = torch.zeros_like(loss_sum)
                n_batches = 0
                for batch in self._batch_slices(
                    n_samples, self.batch_size, generator, self.device_
                ):
                    xb = X_t[batch]
                    z = self._activate(module.pre_activations(xb), training=True)
                    err = ((module.decode(z) - xb) ** 2).sum(dim=1)
                    loss = err.mean()
                    if self.activation == "relu_l1":
                        loss = loss + self.l1_coef * z.sum(dim=1).mean()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if self.unit_norm_decoder:
                        _remove_parallel_gradient(module.W_dec)
                    if self.grad_clip is not None:
                        torch.nn.utils.clip_grad_norm_(
                            module.parameters(), self.grad_clip
                        )
                    optimizer.step()
                    with torch.no_grad():
                        if self.unit_norm_decoder:
                            norms = module.W_dec.norm(dim=1, keepdim=True)
                            module.W_dec.div_(norms.clamp_min(1e-12))
                        on = z > 0
                        loss_sum += loss.detach() * len(xb)
                        sse += err.detach().sum()
                        active += on.sum()
                        fired |= on.any(dim=0)
                        if self.activation == "batchtopk" and on.any():
                            threshold += z[on].min()
                            n_batches += 1
                mse = (sse / (n_samples * n_features)).item()
                history["loss"].append((loss_sum / n_samples).item())
                history["mse"].append(mse)
                history["fve"].append(1.0 - (sse / total_ss).item())
                history["l0"].append((active / n_samples).item())
                history["n_dead"].append(int((~fired).sum().item()))
                self._report(epochs, mse=mse, fve=history["fve"][-1])
        module.eval()
        for param in module.parameters():
            param.requires_grad_(False)

        self.module_ = module
        self.n_components_ = n_components
        self.threshold_ = (
            float(threshold.item()) / max(n_batches, 1)
            if self.activation == "batchtopk"
            else None
        )
        self.history_ = history
        codes = self._encode(X_t)
        self.dead_mask_ = self._to_numpy((codes > 0).sum(dim=0) == 0)
        return self

    # -------------------------------------------------------------- inference
    def _encode(self, X_t: torch.Tensor) -> torch.Tensor:
        return self._map_batches(
            lambda xb: self._activate(self.module_.pre_activations(xb), training=False),
            X_t,
            _INFERENCE_BATCH,
            modules=[self.module_],
        )

    def transform(self, X: Any, groups: Any = None) -> np.ndarray:
        """Encode ``X`` into sparse codes, optionally mean-pooled per group.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Rows to encode.
        groups : array-like of shape (n_samples,), default=None
            Unit labels (image id for patch tokens, video id for frames). When given,
            the codes of each group are averaged into one row; rows follow the sorted
            unique labels, ``numpy.unique(groups)``. With
            ``set_output(transform="pandas")`` the pooled DataFrame is indexed by
            those labels (index name ``"group"``).

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components) or (n_groups, n_components)
            Non-negative codes, in the float dtype of ``X``.
        """
        check_is_fitted(self)
        X_np = validate_input(self, X, reset=False, dtype=_FLOAT_DTYPES)
        codes = self._encode(self._to_tensor(X_np))
        if groups is not None:
            group_codes, labels = check_groups(groups, n_samples=X_np.shape[0])
            # Pool in the output precision so means are as exact as the codes.
            codes = codes.to(torch.from_numpy(X_np[:0]).dtype)
            index = torch.as_tensor(group_codes, device=codes.device)
            sums = torch.zeros(
                len(labels), codes.shape[1], device=codes.device, dtype=codes.dtype
            ).index_add_(0, index, codes)
            counts = torch.bincount(index, minlength=len(labels)).to(codes.dtype)
            codes = sums / counts[:, None]
        out = self._to_numpy(self._check_output(codes, "transform"), X_np.dtype)
        if groups is not None and transform_output(self) == "pandas":
            import pandas as pd

            # sklearn's wrapper keeps a DataFrame's own index (the group labels)
            # and only renames the columns.
            return pd.DataFrame(out, index=pd.Index(labels, name="group"))
        return out

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes back to the input space: ``Z @ components_ + bias_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        Z = check_array(tensor_to_numpy(X), dtype=_FLOAT_DTYPES, input_name="X")
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} columns but {type(self).__name__} has "
                f"n_components_={self.n_components_} atoms."
            )
        decoded = self._map_batches(
            self.module_.decode,
            self._to_tensor(Z),
            _INFERENCE_BATCH,
            modules=[self.module_],
        )
        return self._to_numpy(self._check_output(decoded, "inverse_transform"), Z.dtype)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Fraction of variance of ``X`` explained by its reconstruction.

        ``1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2`` (weighted by
        ``sample_weight`` when given). 1 is perfect; 0 is no better than the mean.

        The ratio is undefined when ``X`` has no spread: one row, identical rows, or
        rows that differ by less than the compute precision resolves (total sum of
        squares at most ``eps(dtype_)**2 * sum ||x||^2``). Then, as
        :func:`sklearn.metrics.r2_score` does for a constant target, the score is
        1.0 when the reconstruction is exact to that precision and 0.0 otherwise;
        never NaN.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        check_is_fitted(self)
        X_np = validate_input(self, X, reset=False, dtype=_FLOAT_DTYPES)
        X_t = self._to_tensor(X_np, dtype=torch.float64)
        recon = self._map_batches(
            lambda xb: self.module_.decode(
                self._activate(self.module_.pre_activations(xb), training=False)
            ),
            self._to_tensor(X_np),
            _INFERENCE_BATCH,
            modules=[self.module_],
        ).to(torch.float64)
        if sample_weight is None:
            weights = torch.ones(len(X_np), dtype=torch.float64, device=X_t.device)
        else:
            from .._compat import check_sample_weight

            weights = torch.as_tensor(
                check_sample_weight(sample_weight, X_np), device=X_t.device
            )
        self._check_output(recon, "score (the reconstruction)")
        mean = (weights[:, None] * X_t).sum(0) / weights.sum()
        residual = float((weights * ((X_t - recon) ** 2).sum(1)).sum())
        total = float((weights * ((X_t - mean) ** 2).sum(1)).sum())
        # Spread below the compute precision cannot be measured: treat X as constant.
        resolution = torch.finfo(self.dtype_).eps ** 2 * float(
            (weights * (X_t**2).sum(1)).sum()
        )
        if total <= resolution:
            return 1.0 if residual <= resolution else 0.0
        return 1.0 - residual / total

    # ------------------------------------------------------------- attributes
    @property
    def _n_features_out(self) -> int:
        return self.n_components_

    def _weight(self, name: str) -> np.ndarray:
        check_is_fitted(self)
        return self._to_numpy(getattr(self.module_, name))

    @property
    def components_(self) -> np.ndarray:
        return self._weight("W_dec")

    @property
    def encoder_(self) -> np.ndarray:
        return self._weight("W_enc")

    @property
    def encoder_bias_(self) -> np.ndarray:
        return self._weight("b_enc")

    @property
    def bias_(self) -> np.ndarray:
        return self._weight("b_dec")


def _remove_parallel_gradient(weight: torch.Tensor) -> None:
    """Project each row's gradient onto the tangent space of the unit sphere."""
    if weight.grad is None:
        return
    rows = weight.detach()
    parallel = (weight.grad * rows).sum(dim=1, keepdim=True)
    weight.grad.sub_(parallel * rows)
