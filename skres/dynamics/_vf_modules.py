"""The autoencoders of :class:`~skres.dynamics.LatentVectorField`.

The handle to a user's encoder/decoder pair, the built-in MLP and convolutional
autoencoders and their training loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["AutoencoderHandle", "train_builtin"]

_ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "gelu": torch.nn.GELU}


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


def train_builtin(
    est: Any, X_t: torch.Tensor, generator: torch.Generator
) -> torch.nn.Module:
    """Train the built-in MLP or conv autoencoder of ``est`` on ``X_t``.

    Appends the loss every 10 steps to ``est.history_["loss"]``; returns the
    module in eval mode with frozen parameters.
    """
    n_samples, n_features = X_t.shape
    args = (
        est.latent_dim,
        tuple(est.hidden),
        est.activation,
        est.output_activation,
        float(est.dropout),
    )
    module: _MLPAutoencoder | _ConvAutoencoder
    if est.autoencoder == "conv":
        shape = _image_shape(est.image_shape, n_features)
        module = est._build_module(lambda: _ConvAutoencoder(shape, *args), generator)
    else:
        module = est._build_module(
            lambda: _MLPAutoencoder(n_features, *args), generator
        )
    # The fused (single-kernel) Adam is the same update, ~30 % faster per step
    # on CPU for these small networks; other devices keep the default.
    fused = est.device_.type in ("cpu", "cuda") or None
    optimizer = torch.optim.Adam(
        module.parameters(),
        lr=est.lr,
        weight_decay=est.weight_decay,
        fused=fused,
    )
    batch_size = n_samples if est.batch_size is None else est.batch_size
    steps = est._progress(
        range(est.max_steps), total=est.max_steps, desc="LatentVectorField"
    )
    batches: list[Any] = []
    module.train()
    with torch.enable_grad():
        for step in steps:
            if not batches:
                batches = list(
                    est._batch_slices(n_samples, batch_size, generator, est.device_)
                )
            xb = X_t[batches.pop(0)]
            inputs = xb
            if est.noise_std > 0:
                noise = torch.randn(xb.shape, generator=generator, dtype=xb.dtype)
                inputs = xb + est.noise_std * noise.to(est.device_)
            recon = module.decoder(module.encoder(inputs))
            loss = ((recon - xb) ** 2).sum(dim=1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step % 10 == 0 or step == est.max_steps - 1:
                est.history_["loss"].append(float(loss.detach()))
                est._report(steps, loss=est.history_["loss"][-1])
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)
    return module
