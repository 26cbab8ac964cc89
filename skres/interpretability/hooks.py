"""Capture the direct contributions of transformer components with plain torch hooks.

No TransformerLens or nnsight: forward (pre-)hooks on the modules of a Hugging Face
model, always removed on exit. transformers itself is never imported here; the
functions take an already-built model.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_not_meta, check_positive_int, tensor_to_numpy

__all__ = [
    "concept_token_ids",
    "edit_heads",
    "extract_head_outputs",
    "extract_residual_units",
]


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


def _head_contributions(z: torch.Tensor, out_proj: Any, n_heads: int) -> torch.Tensor:
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
    batch_size = check_positive_int(batch_size, "batch_size")
    layout = _vision_layout(model)
    parameter = _model_parameter(model)
    images = _check_pixels(pixel_values)
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
            for begin in range(0, len(images), batch_size):
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


# ---------------------------------------------------------------- attention heads
@dataclass
class _HeadLayout:
    """Attention output projections of a transformer, one per layer."""

    out_proj: list[Any]
    n_heads: int
    transposed: bool  # GPT-2 Conv1D: weight (H*d_head, d_model), rows per head


def _head_layout(model: Any) -> _HeadLayout:
    """Locate the attention output projection of every layer of an HF model."""
    transformer = getattr(model, "transformer", None)
    if transformer is not None and hasattr(transformer, "h"):  # GPT-2 family
        return _HeadLayout(
            [block.attn.c_proj for block in transformer.h],
            int(transformer.config.n_head),
            transposed=True,
        )
    if hasattr(model, "h") and hasattr(getattr(model, "config", None), "n_head"):
        return _HeadLayout(
            [block.attn.c_proj for block in model.h],
            int(model.config.n_head),
            transposed=True,
        )
    decoder = getattr(model, "model", model)
    decoder = getattr(decoder, "language_model", decoder)
    if hasattr(decoder, "layers") and hasattr(decoder.layers[0], "self_attn"):
        # LLaMA, Mistral, Qwen2, SmolLM2, Gemma (GQA included: o_proj still takes
        # n_heads * head_dim inputs).
        heads = int(decoder.config.num_attention_heads)
        return _HeadLayout(
            [layer.self_attn.o_proj for layer in decoder.layers],
            heads,
            transposed=False,
        )
    try:
        vision = _vision_layout(model)
    except TypeError:
        raise TypeError(
            "extract_head_outputs and edit_heads support Hugging Face GPT-2, "
            "LLaMA-family (LLaMA, Mistral, Qwen2, SmolLM2), CLIP vision and ViT "
            f"models; got {type(model).__name__}."
        ) from None
    return _HeadLayout(vision.attention_out, vision.n_heads, transposed=False)


def _head_weights(proj: Any, n_heads: int, transposed: bool) -> torch.Tensor:
    """``W_O`` as (n_heads, d_head, d_model)."""
    weight = proj.weight
    if transposed:  # Conv1D: y = z @ W + b, W (H*dh, d)
        return weight.view(n_heads, -1, weight.shape[1])
    return weight.T.reshape(n_heads, -1, weight.shape[0])


def _aggregate(
    z: torch.Tensor, positions: Any, mask: torch.Tensor | None
) -> torch.Tensor:
    """Aggregate (b, t, f) over token positions into (b, f)."""
    if mask is None:
        mask = torch.ones(z.shape[:2], dtype=torch.bool, device=z.device)
    if isinstance(positions, str) and positions == "last":
        index = mask.shape[1] - 1 - mask.flip(1).long().argmax(dim=1)
        return z[torch.arange(len(z), device=z.device), index]
    weights = mask.to(z.dtype)
    return (z * weights[..., None]).sum(dim=1) / weights.sum(dim=1).clamp_min(1)[
        :, None
    ]


def _model_parameter(model: Any) -> torch.Tensor:
    """The model's first parameter; refuses a model whose weights are on ``meta``."""
    try:
        parameter = next(model.parameters())
    except StopIteration:
        raise ValueError("model has no parameters.") from None
    if parameter.device.type == "meta":
        raise ValueError(
            "model's weights are on the 'meta' device (built without values, e.g. "
            "under torch.device('meta') or with low_cpu_mem_usage and no weights); "
            "load its weights (or .to_empty(device='cpu') and fill them) first."
        )
    return parameter


def _check_pixels(pixel_values: Any) -> torch.Tensor:
    """``pixel_values`` as a non-empty, finite, floating 4-D tensor."""
    check_not_meta(pixel_values, "pixel_values")
    images = (
        pixel_values
        if isinstance(pixel_values, torch.Tensor)
        else torch.as_tensor(np.asarray(pixel_values))
    )
    if images.ndim != 4:
        raise ValueError(
            "pixel_values must have shape (n_images, channels, height, width); got "
            f"{tuple(images.shape)}."
        )
    if not images.is_floating_point():
        raise TypeError(
            f"pixel_values must be floating point; got dtype {images.dtype}."
        )
    if len(images) == 0:
        raise ValueError("pixel_values is empty (0 images).")
    if not bool(torch.isfinite(images).all()):
        raise ValueError("pixel_values contains NaN or infinity.")
    return images


def _vocab_size(model: Any) -> int | None:
    embeddings = getattr(model, "get_input_embeddings", None)
    module = embeddings() if callable(embeddings) else None
    size = getattr(module, "num_embeddings", None)
    if size is None:
        size = getattr(getattr(model, "config", None), "vocab_size", None)
    return None if size is None else int(size)


def _check_text_batch(
    model: Any, inputs: dict[str, Any], positions: Any
) -> tuple[dict[str, Any], int, torch.Tensor | None]:
    """Validate token ids, attention mask and a positions mask before any forward.

    Returns the inputs (arrays turned into tensors), the number of samples and the
    boolean positions mask (or None).
    """
    for key, value in inputs.items():
        check_not_meta(value, key)
        if isinstance(value, np.ndarray):
            inputs[key] = torch.as_tensor(value)
    if "pixel_values" in inputs:
        inputs["pixel_values"] = _check_pixels(inputs["pixel_values"])
        n_samples = len(inputs["pixel_values"])
        seq_len = None
    else:
        ids = inputs.get("input_ids")
        if not isinstance(ids, torch.Tensor):
            raise TypeError(
                "inputs must be a tensor of input_ids, or a dict with 'input_ids' (or "
                "'pixel_values') as a tensor or array; got "
                f"{type(ids).__name__ if ids is not None else sorted(inputs)}."
            )
        if (
            ids.dtype.is_floating_point
            or ids.dtype.is_complex
            or ids.dtype == torch.bool
        ):
            raise TypeError(
                f"input_ids must be integer token ids; got dtype {ids.dtype}."
            )
        if ids.ndim != 2:
            raise ValueError(
                "input_ids must have shape (n_samples, seq_len); got "
                f"{tuple(ids.shape)} (for one sequence pass ids[None])."
            )
        n_samples, seq_len = ids.shape
        if n_samples == 0 or seq_len == 0:
            raise ValueError(f"input_ids is empty (shape {tuple(ids.shape)}).")
        vocab = _vocab_size(model)
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or (vocab is not None and high >= vocab):
            raise ValueError(
                f"input_ids must lie in [0, {vocab}) (the model's vocabulary); got "
                f"values from {low} to {high}."
            )
        attention = inputs.get("attention_mask")
        if attention is not None:
            attention = torch.as_tensor(attention)
            if tuple(attention.shape) != tuple(ids.shape):
                raise ValueError(
                    f"attention_mask has shape {tuple(attention.shape)} but input_ids "
                    f"has {tuple(ids.shape)}; they must match."
                )
            _check_rows_nonempty(attention.bool(), "attention_mask")
    position_mask = None
    if not isinstance(positions, str):
        position_mask = torch.as_tensor(
            np.asarray(tensor_to_numpy(positions, "positions"), dtype=bool)
        )
        expected = (n_samples, seq_len)
        if position_mask.ndim != 2 or (
            position_mask.shape[0] != n_samples
            or (seq_len is not None and position_mask.shape[1] != seq_len)
        ):
            raise ValueError(
                "positions must be 'mean', 'last' or a boolean mask of shape "
                f"(n_samples, seq_len) = {expected}; got shape "
                f"{tuple(position_mask.shape)}."
            )
        _check_rows_nonempty(position_mask, "positions")
    elif positions not in ("mean", "last"):
        raise ValueError(
            f"positions must be 'mean', 'last' or a boolean mask; got {positions!r}."
        )
    return inputs, n_samples, position_mask


def _check_rows_nonempty(mask: torch.Tensor, name: str) -> None:
    """Raise if a row of a token mask selects no token (nothing to aggregate)."""
    empty = torch.nonzero(~mask.any(dim=1)).flatten()
    if empty.numel():
        rows = empty[:5].tolist()
        raise ValueError(
            f"{empty.numel()} row(s) of {name} select no token (rows {rows}"
            f"{'...' if empty.numel() > 5 else ''}): there is nothing to aggregate, "
            "and their head outputs would be exact zeros. Drop those samples or fix "
            "the mask."
        )


def extract_head_outputs(
    model: torch.nn.Module,
    inputs: Any,
    *,
    positions: Any = "mean",
    batch_size: int = 16,
    layers: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-head residual-stream writes of a transformer, aggregated over positions.

    The write of head ``h`` of layer ``l`` at a position is
    ``z_{l,h} W_O[:, h]^T + b_O / H``: ``z`` is captured by a forward pre-hook on the
    attention output projection (GPT-2 ``attn.c_proj``, LLaMA-family
    ``self_attn.o_proj``, CLIP ``self_attn.out_proj``, ViT ``attention.o_proj``), so the
    heads of a layer sum exactly to its attention output. Hooks are removed on exit.

    Parameters
    ----------
    model : torch.nn.Module
        A Hugging Face GPT-2, LLaMA-family (LLaMA, Mistral, Qwen2, SmolLM2, GQA
        included), CLIP vision or ViT model.
    inputs : dict or torch.Tensor
        Tokeniser output (``input_ids``, ``attention_mask``, ...) or a tensor of
        ``input_ids``; for vision models ``{"pixel_values": ...}`` or the pixel tensor.
    positions : {"mean", "last"} or array-like of bool of shape (n, seq_len), \
            default="mean"
        Average over valid (attention-mask) tokens, take the last valid token, or
        average over the tokens flagged by a mask (e.g. content tokens of a chat
        prompt).
    batch_size : int, default=16
        Samples per forward pass (a positive integer).
    layers : iterable of int, default=None
        Layers to read (all when ``None``).

    Raises
    ------
    TypeError
        For float (or boolean) token ids.
    ValueError
        For ``batch_size < 1``; ids that are not 2-D or lie outside the model's
        vocabulary; an ``attention_mask`` or ``positions`` mask whose shape does
        not match the ids, or with a row that selects no token (its output would be
        exact zeros); a model whose weights are on the ``meta`` device.

    Returns
    -------
    X : ndarray of shape (n_samples, n_layers * n_heads, d_model)
        Head writes, layer-major (the input of :class:`HeadRanker`).
    head_index : ndarray of shape (n_layers * n_heads, 2)
        ``(layer, head)`` of each column of ``X``.

    Examples
    --------
    >>> import torch
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> from skres.interpretability import extract_head_outputs
    >>> model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=4,
    ...                                    vocab_size=50)).eval()
    >>> X, head_index = extract_head_outputs(model, torch.randint(0, 50, (3, 7)))
    >>> X.shape, head_index[:2].tolist()
    ((3, 8, 32), [[0, 0], [0, 1]])
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    layout = _head_layout(model)
    selected = (
        list(range(len(layout.out_proj)))
        if layers is None
        else [int(i) for i in layers]
    )
    if not selected or min(selected) < 0 or max(selected) >= len(layout.out_proj):
        raise ValueError(
            f"layers must be indices in [0, {len(layout.out_proj)}); got {layers!r}."
        )
    if isinstance(inputs, torch.Tensor):
        key = "pixel_values" if inputs.ndim == 4 else "input_ids"
        inputs = {key: inputs}
    elif isinstance(inputs, np.ndarray):
        inputs = {"pixel_values" if inputs.ndim == 4 else "input_ids": inputs}
    inputs, n_samples, position_mask = _check_text_batch(model, dict(inputs), positions)
    parameter = _model_parameter(model)
    modules = [layout.out_proj[i] for i in selected]
    outputs = []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), _recording(modules, inputs=True) as captured:
            for begin in range(0, n_samples, batch_size):
                batch = {
                    k: v[begin : begin + batch_size].to(parameter.device)
                    if isinstance(v, torch.Tensor)
                    else v
                    for k, v in inputs.items()
                }
                if "pixel_values" in batch:
                    batch["pixel_values"] = batch["pixel_values"].to(parameter.dtype)
                model(**batch)
                mask = batch.get("attention_mask")
                if position_mask is not None:
                    mask = position_mask[begin : begin + batch_size].to(
                        parameter.device
                    )
                elif mask is not None:
                    mask = mask.bool()
                per_layer = []
                for layer, z in zip(selected, captured, strict=True):
                    pooled = _aggregate(z, positions, mask)  # type: ignore[arg-type]
                    proj = layout.out_proj[layer]
                    W = _head_weights(proj, layout.n_heads, layout.transposed)
                    writes = torch.einsum(
                        "bhk,hkd->bhd", pooled.view(len(pooled), layout.n_heads, -1), W
                    )
                    bias = getattr(proj, "bias", None)
                    if bias is not None:
                        writes = writes + bias / layout.n_heads
                    per_layer.append(writes)
                outputs.append(torch.cat(per_layer, dim=1).float().cpu())
    finally:
        model.train(was_training)
    head_index = np.array(
        [(layer, head) for layer in selected for head in range(layout.n_heads)],
        dtype=np.int64,
    )
    return torch.cat(outputs).numpy(), head_index


@contextlib.contextmanager
def edit_heads(
    model: torch.nn.Module, scales: dict[tuple[int, int], float]
) -> Iterator[torch.nn.Module]:
    """Scale the output of chosen attention heads during every forward pass.

    Inside the ``with`` block each head ``(layer, head)`` writes ``alpha`` times its
    normal output at every position (``alpha=-1`` flips it, as Head Pursuit does to
    suppress a concept; ``0`` ablates it; ``5`` enhances it). Exactly equivalent to
    scaling the head's slice of the output-projection weights; the model is
    restored on exit, also after an exception.

    Parameters
    ----------
    model : torch.nn.Module
        A model supported by :func:`extract_head_outputs`.
    scales : dict of {(layer, head): float}
        The factor for each edited head; a finite number (NaN or inf raise a
        ``ValueError``).

    Yields
    ------
    model : torch.nn.Module
        The same model, edited while the block runs.

    Examples
    --------
    >>> import torch
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> from skres.interpretability import edit_heads
    >>> model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=4,
    ...                                    vocab_size=50)).eval()
    >>> ids = torch.randint(0, 50, (1, 5))
    >>> with edit_heads(model, {(1, 2): 1.0}):
    ...     same = model(ids).logits
    >>> bool(torch.equal(same, model(ids).logits))
    True
    """
    layout = _head_layout(model)
    per_layer: dict[int, torch.Tensor] = {}
    for (layer, head), alpha in scales.items():
        try:  # numbers, numpy scalars and 0-d tensors; not bools or strings
            value = None if isinstance(alpha, bool | str) else float(alpha)
        except (TypeError, ValueError):
            value = None
        if value is None or not math.isfinite(value):
            raise ValueError(
                f"scales[{(layer, head)}] must be a finite number; got {alpha!r} "
                "(a NaN or infinite scale turns every logit into NaN)."
            )
        if not (0 <= layer < len(layout.out_proj) and 0 <= head < layout.n_heads):
            raise ValueError(
                f"head {(layer, head)} does not exist: the model has "
                f"{len(layout.out_proj)} layers of {layout.n_heads} heads."
            )
        factors = per_layer.setdefault(layer, torch.ones(layout.n_heads))
        factors[head] = float(alpha)
    handles = []
    for layer, factors in per_layer.items():
        proj = layout.out_proj[layer]

        def pre_hook(module: Any, args: Any, factors: torch.Tensor = factors) -> Any:
            z = args[0]
            scale = factors.to(device=z.device, dtype=z.dtype)
            shape = z.shape
            edited = (z.reshape(*shape[:-1], len(scale), -1) * scale[:, None]).reshape(
                shape
            )
            return (edited, *args[1:])

        handles.append(proj.register_forward_pre_hook(pre_hook))
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()


def concept_token_ids(
    tokenizer: Any,
    words: Any,
    *,
    variants: tuple[str, ...] = ("{w}", " {w}", "{W}", " {W}"),
) -> np.ndarray:
    """Token ids of a concept's words, in every surface form, all sub-tokens.

    Byte-level BPE tokenisers (GPT-2, SmolLM2) give ``"red"`` and ``" red"``
    different ids, so each word is tokenised in several variants (``{w}`` the word,
    ``{W}`` capitalised) without special tokens, and every resulting id is kept.

    Parameters
    ----------
    tokenizer : transformers tokenizer
        Anything with ``encode(text, add_special_tokens=False)``.
    words : iterable of str
        The concept's words (e.g. colour names).
    variants : tuple of str, default=("{w}", " {w}", "{W}", " {W}")
        Format strings for the surface forms.

    Returns
    -------
    ndarray of int
        Sorted unique token ids (the rows of the concept dictionary).
    """
    ids: set[int] = set()
    for word in words:
        for variant in variants:
            text = variant.format(w=word, W=word[:1].upper() + word[1:])
            ids.update(int(i) for i in tokenizer.encode(text, add_special_tokens=False))
    if not ids:
        raise ValueError("words produced no token ids.")
    return np.array(sorted(ids), dtype=np.int64)
