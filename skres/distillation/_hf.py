"""Adapters from Hugging Face decoders (GPT-2, LLaMA family) to the layer-stack API.

``transformers`` is never imported here: the adapter reads the model's submodules.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._layers import TinyGPT

__all__ = ["hf_decoder_to_stack"]


def _causal_mask(h: torch.Tensor) -> torch.Tensor:
    T = h.shape[1]
    mask = torch.full((T, T), float("-inf"), device=h.device, dtype=h.dtype)
    return torch.triu(mask, diagonal=1)[None, None]


class _GPT2Embedding(nn.Module):
    padding_aware = True

    def __init__(self, wte: nn.Module, wpe: nn.Module) -> None:
        super().__init__()
        self.wte, self.wpe = wte, wpe

    def forward(
        self, ids: torch.Tensor, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        if positions is None:
            positions = torch.arange(ids.shape[1], device=ids.device)[None]
        return self.wte(ids) + self.wpe(positions)


class _HFBlock(nn.Module):
    """One HF decoder layer called with an explicit causal mask (and RoPE).

    With ``allowed`` (a boolean ``(B, 1, T, T)`` mask from a padded batch) pad keys
    are hidden and ``positions`` (``(B, T)``) count real tokens only, so left- and
    right-padded rows give the logits of the unpadded sequence at real tokens.
    """

    padding_aware = True

    def __init__(self, layer: nn.Module, rotary: nn.Module | None) -> None:
        super().__init__()
        self.layer = layer
        self.rotary = rotary
        self.layer_idx = 0

    def forward(
        self,
        h: torch.Tensor,
        allowed: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if allowed is None:
            mask = _causal_mask(h)
        else:
            mask = torch.zeros(allowed.shape, device=h.device, dtype=h.dtype)
            mask = mask.masked_fill(~allowed, torch.finfo(h.dtype).min)
        kwargs: dict[str, Any] = {"attention_mask": mask}
        if self.rotary is not None:
            if positions is None:
                positions = torch.arange(h.shape[1], device=h.device)[None]
            kwargs["position_ids"] = positions
            kwargs["position_embeddings"] = self.rotary(h, positions)
        for attn in (
            getattr(self.layer, "self_attn", None),
            getattr(self.layer, "attn", None),
        ):
            if attn is not None and hasattr(attn, "layer_idx"):
                attn.layer_idx = self.layer_idx
        out = self.layer(h, **kwargs)
        return out[0] if isinstance(out, tuple) else out


def hf_decoder_to_stack(model: Any) -> TinyGPT:
    """Wrap a Hugging Face causal LM as ``embed``/``blocks``/``final_norm``/``head``.

    Supports GPT-2 (``transformer.wte/wpe/h/ln_f``) and LLaMA-family models
    (``model.embed_tokens/layers/norm/rotary_emb``: Llama, Qwen, SmolLM2...). The
    modules are shared with ``model``, not copied; :class:`BoomerangDistiller`
    copies its teacher. Padded batches are supported through the stack's
    ``attention_mask`` (left or right padding; pad keys hidden, positions counted
    over real tokens).

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A GPT-2 or LLaMA-family ``*ForCausalLM``.

    Returns
    -------
    stack : TinyGPT
        Computes the same logits as ``model`` on unpadded ``input_ids``.

    Examples
    --------
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> cfg = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
    ...                   num_hidden_layers=4, num_attention_heads=2,
    ...                   num_key_value_heads=2)
    >>> stack = hf_decoder_to_stack(LlamaForCausalLM(cfg).eval())
    >>> len(stack.blocks)
    4
    """
    if hasattr(model, "transformer") and hasattr(model.transformer, "h"):
        tr = model.transformer
        embed: nn.Module = _GPT2Embedding(tr.wte, tr.wpe)
        blocks = [_HFBlock(layer, None) for layer in tr.h]
        norm = tr.ln_f
    elif hasattr(model, "model") and hasattr(model.model, "layers"):
        body = model.model
        embed = body.embed_tokens
        rotary = getattr(body, "rotary_emb", None)
        blocks = [_HFBlock(layer, rotary) for layer in body.layers]
        norm = body.norm
    else:
        raise TypeError(
            f"{type(model).__name__} is neither GPT-2-like (transformer.h) nor "
            "LLaMA-like (model.layers); wrap it to expose embed, blocks, final_norm "
            "and head."
        )
    return TinyGPT(parts=(embed, blocks, norm, model.get_output_embeddings()))
