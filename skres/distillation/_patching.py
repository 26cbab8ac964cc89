"""Boomerang patching as pure functions over a teacher, a student and a block map.

A student layer ``i`` stands for the teacher layers ``blocks[i]``; a patched model
replaces some student layers by their teacher blocks (:func:`assemble`). These
helpers resolve block maps, reachable depths and patch sets for
:class:`~skres.distillation.BoomerangDistiller`, which calls them with its fitted
state; none of them changes its arguments.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from ._layers import TinyGPT, boomerang_cutoffs, boomerang_layer_map

__all__ = [
    "as_layer_stack",
    "assemble",
    "check_patch_blocks",
    "depths",
    "k_for",
    "n_params",
    "patched_set",
    "pruned_view",
    "reinitialise",
    "resolve_blocks",
    "teacher_vocab_size",
    "ties_head",
]


def _as_list(values: Any) -> list[Any] | None:
    """``list(values)``, or ``None`` when ``values`` is not iterable."""
    try:
        return list(values)
    except TypeError:
        return None


def ties_head(model: Any) -> bool:
    """Whether ``model``'s head shares storage with its embedding (tied weights)."""
    embed = {p.data_ptr() for p in model.embed.parameters()}
    return any(p.data_ptr() in embed for p in model.head.parameters())


def n_params(model: Any, tied_head: bool = False) -> int:
    """Parameter count; with ``tied_head`` an untied copy of the head is not counted.

    A patched model of a tied family holds the teacher's embedding and the student's
    head, two copies of what is one matrix in the teacher and in the student.
    """
    n = sum(p.numel() for p in model.parameters())
    if tied_head and not ties_head(model):
        n -= sum(p.numel() for p in model.head.parameters())
    return n


def teacher_vocab_size(teacher: nn.Module) -> int | None:
    """Tokens of ``teacher``'s head (or embedding); ``None`` when neither says.

    Raises ``ValueError`` when the embedding and the head disagree.
    """
    head: Any = teacher.head
    n_head = getattr(head, "out_features", None)
    weight = getattr(head, "weight", None)
    if n_head is None and isinstance(weight, torch.Tensor):
        n_head = weight.shape[0]
    embed: Any = teacher.embed
    candidates = (embed, getattr(embed, "tokens", None), getattr(embed, "wte", None))
    table = next((m for m in candidates if isinstance(m, nn.Embedding)), None)
    n_embed = None if table is None else table.num_embeddings
    if n_head is not None and n_embed is not None and n_head != n_embed:
        raise ValueError(
            f"teacher has an embedding of {n_embed} tokens but a head of "
            f"{n_head}; the vocabularies must match."
        )
    return n_head if n_head is not None else n_embed


def resolve_blocks(
    n_layers: int,
    blocks: list[list[int]] | None,
    every: int,
    first_keep: int,
    last_keep: int,
) -> tuple[list[list[int]], dict[int, int], int]:
    """Student blocks, aligned hidden pairs and the 1:1 tail length.

    ``blocks=None`` takes :func:`boomerang_layer_map`; explicit ``blocks`` must be
    non-empty contiguous lists covering teacher layers ``0..n_layers - 1``.
    """
    if blocks is None:
        resolved, aligned = boomerang_layer_map(n_layers, every, first_keep, last_keep)
        return resolved, aligned, last_keep
    resolved = [[int(j) for j in b] for b in blocks]
    flat = [j for b in resolved for j in b]
    if any(not b for b in resolved) or flat != list(range(n_layers)):
        raise ValueError(
            "blocks must be non-empty contiguous lists covering teacher layers "
            f"0..{n_layers - 1} in order; got {blocks!r}."
        )
    aligned = {0: 0}
    aligned.update({i + 1: b[-1] + 1 for i, b in enumerate(resolved[:-1])})
    aligned[-1] = -1
    n_tail = 0
    while n_tail < len(resolved) - 1 and len(resolved[-1 - n_tail]) == 1:
        n_tail += 1
    return resolved, aligned, n_tail


def as_layer_stack(teacher: Any, device: Any, dtype: Any) -> TinyGPT:
    """A copy of ``teacher`` on ``device``/``dtype``, as a :class:`TinyGPT`.

    ``teacher`` must expose ``embed``, ``blocks``, ``final_norm`` and ``head``
    (``TypeError`` otherwise); the caller's module is never changed.
    """
    for attr in ("embed", "blocks", "final_norm", "head"):
        if not hasattr(teacher, attr):
            raise TypeError(
                f"The teacher loader returned a {type(teacher).__name__} "
                f"without `{attr}`; wrap it to expose embed, blocks, "
                "final_norm and head."
            )
    teacher = copy.deepcopy(teacher).to(device, dtype)
    if not isinstance(teacher, TinyGPT):
        parts = (teacher.embed, teacher.blocks, teacher.final_norm)
        teacher = TinyGPT(parts=(*parts, teacher.head))
    return teacher


def reinitialise(model: nn.Module, seed: int) -> None:
    """Reset every submodule with ``reset_parameters``, seeded without global state."""
    with torch.random.fork_rng(devices=[]):
        torch.random.manual_seed(seed)
        for module in model.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()


def pruned_view(teacher: Any, blocks: list[list[int]]) -> SimpleNamespace:
    """The undistilled student's parts: the teacher's own modules, not copies."""
    return SimpleNamespace(
        embed=teacher.embed,
        blocks=[teacher.blocks[b[0]] for b in blocks],
        final_norm=teacher.final_norm,
        head=teacher.head,
    )


def depths(
    blocks: list[list[int]], n_tail: int, n_layers: int, order: str
) -> list[int]:
    """Depth after each number of patches ``k = 0, 1, ...`` in ``order``."""
    M, N = len(blocks), n_layers
    cut = boomerang_cutoffs(blocks, n_tail, order)
    if order == "last":
        out = [s + N - t for s, t in cut]
        out[0], out[-1] = M, N
    else:
        out = [t + M - s for s, t in cut]
    return out


def patched_set(
    blocks: list[list[int]], n_tail: int, k: int, order: str
) -> frozenset[int]:
    """Student layers replaced by their teacher blocks after ``k`` patches."""
    M = len(blocks)
    cut = boomerang_cutoffs(blocks, n_tail, order)
    if k == 0:
        return frozenset()
    if k >= len(cut) - 1:
        return frozenset(range(M))
    s = cut[k][0]
    return frozenset(range(s, M) if order == "last" else range(s))


def assemble(
    teacher: Any, student: Any, blocks: list[list[int]], patched: frozenset[int]
) -> TinyGPT:
    """Student layers, with those in ``patched`` replaced by their teacher blocks.

    The embedding comes from the model supplying the first layer, the final norm
    and head from the one supplying the last (a fresh copy, eval mode).
    """
    M = len(blocks)
    if len(patched) == M:
        return copy.deepcopy(teacher).eval()
    layers: list[nn.Module] = []
    for i, block in enumerate(blocks):
        if i in patched:
            layers.extend(teacher.blocks[j] for j in block)
        else:
            layers.append(student.blocks[i])
    first = teacher if 0 in patched else student
    last = teacher if M - 1 in patched else student
    # Copy first, then assemble: renumbering never touches the sources.
    parts = copy.deepcopy((first.embed, layers, last.final_norm, last.head))
    return TinyGPT(parts=parts).eval()


def check_patch_blocks(blocks: Any, n_student: int) -> frozenset[int]:
    """``blocks`` of ``interpolate`` as a set of student layer indices."""
    items = None if isinstance(blocks, str) else _as_list(blocks)
    if items is None or not all(
        isinstance(b, int | np.integer) and not isinstance(b, bool) for b in items
    ):
        raise TypeError(
            "blocks must be an iterable of student layer indices (int); got "
            f"{blocks!r}."
        )
    indices = [int(b) for b in items]
    if any(not 0 <= b < n_student for b in indices) or len(set(indices)) < len(indices):
        raise ValueError(
            "blocks must hold distinct student layer indices in "
            f"[0, {n_student}); got {indices}."
        )
    return frozenset(indices)


def k_for(
    reachable: list[int], n_layers: int | None, k: int | None, order: str, N: int
) -> int:
    """Number of patches for ``n_layers`` or ``k`` (``reachable``: :func:`depths`)."""
    if (n_layers is None) == (k is None):
        raise ValueError("Pass exactly one of n_layers, k and blocks.")
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise ValueError(f"k must be an integer >= 0; got {k!r}.")
        return min(int(k), len(reachable) - 1)
    valid = sorted(set(reachable))
    if n_layers not in valid:
        raise ValueError(
            f"n_layers={n_layers!r} is not reachable with order={order!r}; valid "
            f"depths are {valid}."
        )
    if n_layers == N:
        return len(reachable) - 1
    return reachable.index(int(n_layers))
