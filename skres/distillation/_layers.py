"""Boomerang distillation building blocks: layer maps, cut-offs, a tiny GPT, the loss.

Pure functions over layer indices (:func:`boomerang_layer_map`,
:func:`boomerang_cutoffs`), the generic "layer stack" causal LM used for students
and patched models (:class:`TinyGPT`), and the three-term distillation loss
(:func:`boomerang_loss`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["TinyGPT", "boomerang_cutoffs", "boomerang_layer_map", "boomerang_loss"]


def boomerang_layer_map(
    n_layers: int, every: int = 2, first_keep: int = 1, last_keep: int = 2
) -> tuple[list[list[int]], dict[int, int]]:
    """Partition teacher layers into student blocks, as the reference code does.

    Hidden-state indices follow Hugging Face: index 0 is the embedding output,
    index ``j`` the output of layer ``j - 1``, and ``-1`` the final post-norm state.

    Parameters
    ----------
    n_layers : int
        Number N of teacher transformer layers.
    every : int, default=2
        Block length of the strided part.
    first_keep : int, default=1
        Hidden states kept 1:1 at the front, counting the embedding (so 1 keeps no
        transformer layer 1:1).
    last_keep : int, default=2
        Teacher layers kept 1:1 at the back.

    Returns
    -------
    blocks : list of list of int
        Contiguous teacher-layer blocks; student layer ``i`` starts as a copy of
        ``blocks[i][0]``.
    aligned : dict
        ``{student hidden index: teacher hidden index}``; stride remainders before
        the tail are kept but not aligned.

    Examples
    --------
    >>> blocks, aligned = boomerang_layer_map(10)
    >>> blocks
    [[0, 1], [2, 3], [4, 5], [6, 7], [8], [9]]
    >>> aligned
    {0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 9, -1: -1}
    """
    for name, value, low in (
        ("n_layers", n_layers, 1),
        ("every", every, 1),
        ("first_keep", first_keep, 1),
        ("last_keep", last_keep, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    if first_keep - 1 + last_keep > n_layers:
        raise ValueError(
            f"first_keep - 1 + last_keep = {first_keep - 1 + last_keep} exceeds the "
            f"number of teacher layers ({n_layers})."
        )
    blocks: list[list[int]] = [[j] for j in range(first_keep - 1)]
    aligned = {j: j for j in range(first_keep)}
    start, end = first_keep - 1, n_layers - last_keep
    while start + every <= end:
        blocks.append(list(range(start, start + every)))
        start += every
        aligned[len(blocks)] = start
    blocks.extend([j] for j in range(start, end))  # remainder: kept, not aligned
    for j in range(end, n_layers):
        blocks.append([j])
        if j < n_layers - 1:
            aligned[len(blocks)] = j + 1
    aligned[-1] = -1
    return blocks, aligned


def boomerang_cutoffs(
    blocks: list[list[int]], last_keep: int, order: str = "last"
) -> list[tuple[int, int]]:
    """Reference cut-offs ``(student_index, teacher_index)`` for k = 0, 1, ...

    ``order="last"`` (back to front): model ``k`` is student layers ``[0, s)`` then
    teacher layers ``[t, N)``; k = 0 keeps the student body with the teacher's
    ``last_keep`` tail and head (the reference's convention). ``order="first"``
    (front to back): teacher layers ``[0, t)`` then student layers ``[s, M)``; the
    last entry is ``(M, N)``, the teacher.

    Parameters
    ----------
    blocks : list of list of int
        For each student layer, the teacher layers it replaces (as returned by
        :func:`boomerang_layer_map`).
    last_keep : int
        Number of final student layers always replaced by the teacher's tail.
    order : {"last", "first"}, default="last"
        Direction in which teacher layers are swapped in.

    Returns
    -------
    list of tuple of int
        ``(student_index, teacher_index)`` cut-offs, one per intermediate model.

    Examples
    --------
    >>> blocks, _ = boomerang_layer_map(10)
    >>> boomerang_cutoffs(blocks, 2, "last")
    [(4, 8), (3, 6), (2, 4), (1, 2), (0, 0)]
    >>> boomerang_cutoffs(blocks, 2, "first")
    [(0, 0), (1, 2), (2, 4), (3, 6), (6, 10)]
    """
    n_student, n_teacher = len(blocks), blocks[-1][-1] + 1
    starts = [b[0] for b in blocks] + [n_teacher]
    tail = n_student - last_keep
    if order == "last":
        return [(s, starts[s]) for s in range(tail, -1, -1)]
    if order == "first":
        return [(s, starts[s]) for s in range(tail)] + [(n_student, n_teacher)]
    raise ValueError(f"order must be 'first' or 'last'; got {order!r}.")


def padded_causal_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Boolean ``(B, 1, T, T)`` mask: causal, pad keys hidden, diagonal always open.

    Query ``i`` may attend to key ``j <= i`` when ``j`` is a real token; every query
    also sees itself, so that rows of pad queries (left padding) stay finite.
    """
    m = attention_mask.bool()
    T = m.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool, device=m.device).tril()
    eye = torch.eye(T, dtype=torch.bool, device=m.device)
    return (causal & m[:, None, :] | eye)[:, None]


def padded_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids ``(B, T)`` counting real tokens only (left padding safe)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp_min(0)


class _Embedding(nn.Module):
    """Token plus learned position embedding."""

    padding_aware = True

    def __init__(self, vocab_size: int, d_model: int, context: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(context, d_model)

    def forward(
        self, ids: torch.Tensor, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        if positions is None:
            positions = torch.arange(ids.shape[1], device=ids.device)
        return self.tokens(ids) + self.positions(positions)


class _Block(nn.Module):
    """Pre-LN transformer block with causal self-attention."""

    def __init__(self, d_model: int, n_head: int, layer_idx: int = 0) -> None:
        super().__init__()
        self.n_head = n_head
        self.layer_idx = layer_idx
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )

    padding_aware = True

    def forward(
        self,
        h: torch.Tensor,
        allowed: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        B, T, D = h.shape
        q, k, v = self.qkv(self.ln1(h)).split(D, dim=-1)
        shape = (B, T, self.n_head, D // self.n_head)
        q, k, v = (x.view(shape).transpose(1, 2) for x in (q, k, v))
        if allowed is None:
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        h = h + self.proj(att.transpose(1, 2).reshape(B, T, D))
        return h + self.mlp(self.ln2(h))


class TinyGPT(nn.Module):
    """A layer-stack causal LM: ``embed``, ``blocks``, ``final_norm``, ``head``.

    Students and patched models are built from these four parts, so any teacher
    exposing them (with ``blocks[i](h) -> h``) can be distilled.

    Parameters
    ----------
    vocab_size, d_model, n_layer, n_head, context : int
        Architecture of a fresh model (ignored when ``parts`` is given).
    parts : tuple, default=None
        ``(embed, blocks, final_norm, head)`` to assemble instead.

    Examples
    --------
    >>> import torch
    >>> model = TinyGPT(vocab_size=11, d_model=8, n_layer=2, n_head=2, context=6)
    >>> logits, hidden = model(torch.zeros(3, 5, dtype=torch.long), hidden=True)
    >>> tuple(logits.shape), len(hidden)
    ((3, 5, 11), 3)
    """

    def __init__(
        self,
        vocab_size: int = 2,
        d_model: int = 8,
        n_layer: int = 1,
        n_head: int = 1,
        context: int = 8,
        parts: tuple[nn.Module, Any, nn.Module, nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if parts is None:
            parts = (
                _Embedding(vocab_size, d_model, context),
                [_Block(d_model, n_head) for _ in range(n_layer)],
                nn.LayerNorm(d_model),
                nn.Linear(d_model, vocab_size, bias=False),
            )
        embed, blocks, final_norm, head = parts
        self.embed: nn.Module = embed
        self.final_norm: nn.Module = final_norm
        self.head: nn.Module = head
        self.blocks = nn.ModuleList(blocks)
        for i, block in enumerate(self.blocks):  # renumber per-layer indices
            if hasattr(block, "layer_idx"):
                setattr(block, "layer_idx", i)  # noqa: B010

    def forward(
        self,
        ids: torch.Tensor,
        hidden: bool = False,
        attention_mask: torch.Tensor | None = None,
    ) -> Any:
        """Logits ``(B, T, V)``; with ``hidden``, also the HF-style hidden states.

        ``attention_mask`` (``(B, T)``, 1 for real tokens, 0 for pads, left or
        right padding) hides pad keys and counts positions over real tokens only;
        the blocks must then be padding-aware (skres and wrapped HF blocks are).
        """
        if attention_mask is None:
            h = self.embed(ids)
            states = [h]
            for block in self.blocks:
                h = block(h)
                states.append(h)
        else:
            if attention_mask.shape != ids.shape:
                raise ValueError(
                    f"attention_mask has shape {tuple(attention_mask.shape)}; "
                    f"expected the shape of the ids, {tuple(ids.shape)}."
                )
            for block in self.blocks:
                if not getattr(block, "padding_aware", False):
                    raise ValueError(
                        f"{type(block).__name__} blocks take no attention_mask; "
                        "padded batches (pad_token_id) need padding-aware blocks."
                    )
            pos = padded_positions(attention_mask)
            allowed = padded_causal_mask(attention_mask)
            if getattr(self.embed, "padding_aware", False):
                h = self.embed(ids, positions=pos)
            else:
                h = self.embed(ids)
            states = [h]
            for block in self.blocks:
                h = block(h, allowed=allowed, positions=pos)
                states.append(h)
        h = self.final_norm(h)
        states[-1] = h
        logits = self.head(h)
        return (logits, states) if hidden else logits


def boomerang_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    student_hidden: list[torch.Tensor],
    teacher_hidden: list[torch.Tensor],
    targets: torch.Tensor,
    aligned: dict[int, int],
    mask: torch.Tensor | None = None,
    target_mask: torch.Tensor | None = None,
    *,
    lambda_ce: float = 1.0,
    lambda_kl: float = 0.1,
    temperature: float = 1.0,
    lambda_cos: float = 2.0,
    cos_reduction: str = "mean_over_pairs",
    lambda_mse: float = 0.0,
) -> dict[str, torch.Tensor]:
    """The three-term distillation loss (Eq. 1 of the paper, reference reductions).

    ``CE`` (masked mean over non-pad targets) ``+ lambda_kl * tau^2 * KL(T || S)``
    (mean over all ``B*T`` rows, pads included as in the reference) ``+ lambda_cos *
    mean_pairs(1 - cos)`` (masked mean over non-pad tokens; ``cos_reduction="sum"``
    sums over pairs instead). ``mask`` (``(B, T)``, true for real input tokens)
    selects the cosine positions; ``target_mask`` (true where the target is a real
    token, ``mask`` when ``None``) the CE positions.

    ``lambda_mse > 0`` adds a norm-matching term that is not in the paper:
    ``lambda_mse * mean_pairs(|h_S - h_T|^2 / |h_T|^2)`` over the same pairs and
    tokens (reduced like the cosine term). The cosine aligns directions only; this
    term also matches the norms of the residual streams.

    Parameters
    ----------
    student_logits, teacher_logits : torch.Tensor of shape (B, T, V)
        Next-token logits of the student and the teacher.
    student_hidden, teacher_hidden : list of torch.Tensor of shape (B, T, d)
        Hidden states (residual streams) of each layer.
    targets : torch.Tensor of shape (B, T)
        Next-token ids for the cross-entropy term.
    aligned : dict of int to int
        Student layer index -> teacher layer index for the cosine (and MSE) pairs.
    mask : torch.Tensor of shape (B, T), default=None
        True for real input tokens; ``None`` means every token is real.
    target_mask : torch.Tensor of shape (B, T), default=None
        True where the target is a real token; ``None`` uses ``mask``.
    lambda_ce : float, default=1.0
        Weight of the cross-entropy term.
    lambda_kl : float, default=0.1
        Weight of the KL term.
    temperature : float, default=1.0
        Softmax temperature ``tau`` of the KL term.
    lambda_cos : float, default=2.0
        Weight of the cosine term.
    cos_reduction : {"mean_over_pairs", "sum"}, default="mean_over_pairs"
        How the per-pair cosine (and MSE) terms are reduced.
    lambda_mse : float, default=0.0
        Weight of the norm-matching term (off by default).

    Returns
    -------
    dict
        ``{"loss", "ce", "kl", "cos", "mse"}``; the pieces are unweighted (``mse``
        is computed only when ``lambda_mse > 0`` and is 0 otherwise).
    """
    B, T, V = student_logits.shape
    m = (
        torch.ones(B, T, dtype=torch.bool, device=targets.device)
        if mask is None
        else mask.bool()
    )
    n_tok = m.sum().clamp_min(1)
    tm = m if target_mask is None else target_mask.bool()
    ce_tok = F.cross_entropy(
        student_logits.reshape(-1, V), targets.reshape(-1), reduction="none"
    )
    ce = (ce_tok * tm.reshape(-1)).sum() / tm.sum().clamp_min(1)
    tau = float(temperature)
    log_s = F.log_softmax(student_logits.reshape(-1, V) / tau, dim=-1)
    log_t = F.log_softmax(teacher_logits.reshape(-1, V) / tau, dim=-1)
    kl = (log_t.exp() * (log_t - log_s)).sum(-1).mean()

    def pair_reduce(terms: list[torch.Tensor]) -> torch.Tensor:
        if not terms:
            return ce.new_zeros(())
        per_pair = (torch.stack(terms) * m).sum(dim=(1, 2)) / n_tok
        return per_pair.mean() if cos_reduction == "mean_over_pairs" else per_pair.sum()

    pairs = [(student_hidden[s], teacher_hidden[t]) for s, t in aligned.items()]
    cos = pair_reduce([1.0 - F.cosine_similarity(a, b, dim=-1) for a, b in pairs])
    mse = ce.new_zeros(())
    if lambda_mse > 0:
        rel = [
            (a - b).square().sum(-1) / b.square().sum(-1).clamp_min(1e-12)
            for a, b in pairs
        ]
        mse = pair_reduce(rel)
    loss = (
        lambda_ce * ce + lambda_kl * tau**2 * kl + lambda_cos * cos + lambda_mse * mse
    )
    return {"loss": loss, "ce": ce, "kl": kl, "cos": cos, "mse": mse}


def cosine_lr(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over ``warmup * total`` steps, then cosine decay to 0."""
    n_warm = max(1, math.ceil(warmup * total)) if warmup > 0 else 0
    if step < n_warm:
        return (step + 1) / n_warm
    progress = (step - n_warm) / max(1, total - n_warm)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
