"""Capture the direct contributions of transformer components with plain torch hooks.

No TransformerLens or nnsight: forward (pre-)hooks on the modules of a Hugging Face
model, always removed on exit. transformers itself is never imported here; the
functions take an already-built model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["extract_residual_units"]


@dataclass
class _VisionLayout:
    """Where the residual stream of a pre-LN vision transformer can be read."""

    encoder: Any  # called on pixel_values, returns last_hidden_state
    stream_start: Any  # its output is the stream's first vector (emb)
    attention_out: list[Any]  # per layer, input = concatenated heads
    mlp_out: list[Any]  # per layer, output = the MLP's residual write
    n_heads: int
    final_norm: Any  # a LayerNorm
    projection: Any  # a Linear, or None


def _vision_layout(model: Any) -> _VisionLayout:
    """Locate the residual-stream modules of HF CLIP-vision and ViT models."""
    if hasattr(model, "vision_model"):  # CLIPModel, CLIPVisionModel(WithProjection)
        root = model.vision_model
        layers = list(root.encoder.layers)
        n_heads = root.config.num_attention_heads
        return _VisionLayout(
            encoder=root,
            stream_start=root.pre_layrnorm,
            attention_out=[layer.self_attn.out_proj for layer in layers],
            mlp_out=[layer.mlp for layer in layers],
            n_heads=int(n_heads),
            final_norm=root.post_layernorm,
            projection=getattr(model, "visual_projection", None),
        )
    root = getattr(model, "vit", model)
    if hasattr(root, "embeddings") and hasattr(root, "layernorm"):
        if hasattr(root, "layers"):  # transformers >= 5
            layers = list(root.layers)
            attention_out = [layer.attention.o_proj for layer in layers]
            mlp_out = [layer.mlp for layer in layers]
        elif hasattr(root, "encoder"):  # transformers 4.x
            layers = list(root.encoder.layer)
            attention_out = [layer.attention.output.dense for layer in layers]
            mlp_out = [layer.output.dense for layer in layers]
        else:  # pragma: no cover - unknown revision
            layers = []
        if layers:
            return _VisionLayout(
                encoder=root,
                stream_start=root.embeddings,
                attention_out=attention_out,
                mlp_out=mlp_out,
                n_heads=int(root.config.num_attention_heads),
                final_norm=root.layernorm,
                projection=None,
            )
    raise TypeError(
        "model must be a Hugging Face CLIP vision model (CLIPModel, "
        "CLIPVisionModel, CLIPVisionModelWithProjection) or a ViT model (ViTModel, "
        f"ViTForImageClassification); got {type(model).__name__}."
    )


@contextlib.contextmanager
def _recording(
    modules: list[torch.nn.Module], *, inputs: bool
) -> Iterator[list[torch.Tensor | None]]:
    """Record each module's first input (pre-hook) or output during a forward."""
    records: list[torch.Tensor | None] = [None] * len(modules)
    handles = []
    for i, module in enumerate(modules):
        if inputs:

            def pre_hook(mod: Any, args: Any, i: int = i) -> None:
                records[i] = args[0]

            handles.append(module.register_forward_pre_hook(pre_hook))
        else:

            def hook(mod: Any, args: Any, output: Any, i: int = i) -> None:
                records[i] = output[0] if isinstance(output, tuple) else output

            handles.append(module.register_forward_hook(hook))
    try:
        yield records
    finally:
        for handle in handles:
            handle.remove()


def _pool(tokens: torch.Tensor, pooling: str) -> torch.Tensor:
    return tokens[:, 0] if pooling == "cls" else tokens.mean(dim=1)


def _head_contributions(
    z: torch.Tensor, out_proj: Any, n_heads: int
) -> torch.Tensor:
    """Per-head writes ``z_h W_O[:, h]^T + b_O / H`` of pooled ``z`` (b, H*dh)."""
    weight = out_proj.weight  # (d_model, H * d_head) for nn.Linear
    d_model = weight.shape[0]
    z_heads = z.view(z.shape[0], n_heads, -1)
    writes = torch.einsum("bhk,dhk->bhd", z_heads, weight.view(d_model, n_heads, -1))
    bias = getattr(out_proj, "bias", None)
    if bias is not None:
        writes = writes + bias / n_heads
    return writes


def extract_residual_units(
    model: torch.nn.Module,
    pixel_values: Any,
    *,
    pooling: str = "cls",
    project: bool = True,
    batch_size: int = 32,
) -> tuple[np.ndarray, Any]:
    """Direct contribution of every residual unit to a vision transformer's output.

    Units, in order: ``emb`` (the stream's starting vector), ``mlp_0 ... mlp_{L-1}``
    and the ``L * H`` attention heads, layer-major. Head writes are captured before
    the output projection (a forward pre-hook) and projected per head, with the
    projection bias split equally between heads. The final LayerNorm is linearised
    with the real per-sample statistics of the summed stream (mean ``m``, biased
    standard deviation ``s``)::

        LN(r) = sum_u [ g * c_u / sd - w_u * (g * m / sd - b) ],  sd = sqrt(s^2 + eps)

    with shares ``w_u = 1 / (2L + 1)`` for ``emb`` and each MLP and
    ``1 / ((2L + 1) H)`` for each head, so the units sum exactly to the normalised
    output and, after the visual projection, to CLIP's ``image_embeds``.

    Parameters
    ----------
    model : torch.nn.Module
        A Hugging Face ``CLIPModel``, ``CLIPVisionModel``,
        ``CLIPVisionModelWithProjection``, ``ViTModel`` or
        ``ViTForImageClassification``, e.g. from ``from_pretrained(local_path)``.
    pixel_values : torch.Tensor or array of shape (n_images, 3, height, width)
        Preprocessed images.
    pooling : {"cls", "mean"}, default="cls"
        Read the class token (as CLIP does) or average all tokens.
    project : bool, default=True
        Apply CLIP's visual projection to every unit (ignored for ViT).
    batch_size : int, default=32
        Images per forward pass.

    Returns
    -------
    units : ndarray of shape (n_images, n_units, d_out)
        ``units.sum(axis=1)`` equals the model's (projected) image embedding.
    unit_info : pandas.DataFrame of shape (n_units, 3)
        Columns ``type`` (``"emb"``, ``"mlp"``, ``"head"``), ``layer`` and ``head``
        (-1 where not applicable).

    Examples
    --------
    >>> import torch
    >>> from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    >>> from skres.interpretability import extract_residual_units
    >>> config = CLIPVisionConfig(hidden_size=32, intermediate_size=64,
    ...     num_hidden_layers=2, num_attention_heads=4, image_size=16, patch_size=8,
    ...     projection_dim=24)
    >>> model = CLIPVisionModelWithProjection(config).eval()
    >>> images = torch.randn(3, 3, 16, 16)
    >>> units, info = extract_residual_units(model, images)
    >>> units.shape, list(info["type"][:3])
    ((3, 11, 24), ['emb', 'mlp', 'mlp'])
    >>> expected = model(pixel_values=images).image_embeds.detach().numpy()
    >>> bool(abs(units.sum(axis=1) - expected).max() < 1e-5)
    True
    """
    import pandas as pd

    if pooling not in ("cls", "mean"):
        raise ValueError(f"pooling must be 'cls' or 'mean'; got {pooling!r}.")
    layout = _vision_layout(model)
    parameter = next(model.parameters())
    images = torch.as_tensor(
        np.asarray(pixel_values)
        if not isinstance(pixel_values, torch.Tensor)
        else pixel_values
    )
    if images.ndim != 4:
        raise ValueError(
            "pixel_values must have shape (n_images, channels, height, width); got "
            f"{tuple(images.shape)}."
        )
    n_layers, n_heads = len(layout.attention_out), layout.n_heads
    shares = torch.cat(
        [
            torch.full((1 + n_layers,), 1.0 / (2 * n_layers + 1)),
            torch.full((n_layers * n_heads,), 1.0 / ((2 * n_layers + 1) * n_heads)),
        ]
    ).to(device=parameter.device, dtype=parameter.dtype)

    batches = []
    was_training = model.training
    model.eval()
    try:
        with (
            torch.inference_mode(),
            _recording([layout.stream_start], inputs=False) as start,
            _recording(layout.attention_out, inputs=True) as heads_in,
            _recording(layout.mlp_out, inputs=False) as mlps,
        ):
            for begin in range(0, len(images), max(1, int(batch_size))):
                batch = images[begin : begin + batch_size].to(
                    device=parameter.device, dtype=parameter.dtype
                )
                layout.encoder(pixel_values=batch)
                emb = _pool(start[0], pooling)  # type: ignore[arg-type]
                mlp_units = torch.stack([_pool(m, pooling) for m in mlps], dim=1)  # type: ignore[arg-type]
                head_units = torch.cat(
                    [
                        _head_contributions(_pool(z, pooling), proj, n_heads)  # type: ignore[arg-type]
                        for z, proj in zip(heads_in, layout.attention_out, strict=True)
                    ],
                    dim=1,
                )
                units = torch.cat([emb[:, None], mlp_units, head_units], dim=1)
                batches.append(
                    _linearise_layer_norm(
                        units,
                        layout.final_norm,
                        shares,
                        layout.projection if project else None,
                    )
                )
    finally:
        model.train(was_training)
    out = torch.cat(batches).float().cpu().numpy()
    info = pd.DataFrame(
        {
            "type": ["emb"] + ["mlp"] * n_layers + ["head"] * (n_layers * n_heads),
            "layer": [-1, *range(n_layers), *np.repeat(np.arange(n_layers), n_heads)],
            "head": [-1] * (1 + n_layers) + list(np.tile(np.arange(n_heads), n_layers)),
        }
    )
    return out, info


def _linearise_layer_norm(
    units: torch.Tensor,
    norm: Any,
    shares: torch.Tensor,
    projection: Any,
) -> torch.Tensor:
    """Distribute ``norm(sum(units))`` (and a linear projection) over the units."""
    stream = units.sum(dim=1)
    mean = stream.mean(dim=-1, keepdim=True)
    scale = torch.rsqrt(stream.var(dim=-1, unbiased=False, keepdim=True) + norm.eps)
    gamma = norm.weight if norm.weight is not None else torch.ones_like(stream[0])
    beta = norm.bias if norm.bias is not None else torch.zeros_like(stream[0])
    offset = gamma * mean * scale - beta  # (b, d)
    normed = gamma * units * scale[:, None] - shares[None, :, None] * offset[:, None]
    if projection is None:
        return normed
    projected = normed @ projection.weight.T
    bias = getattr(projection, "bias", None)
    if bias is not None:
        projected = projected + shares[None, :, None] * bias
    return projected
