"""Deterministic work counts for complexity tests (tests never time code).

A test that guards a complexity claim (linear in the sequence length, O(N) per
V-cycle, "one factorisation") counts what the code does instead of timing it: the
number of torch operator calls, the number of elements they produce, and the
floating-point operations of the matrix products (sparse operands counted by their
stored entries). The counts do not depend on the machine or its load. Wall-clock
speed belongs to ``benchmarks/`` (``python -m benchmarks``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

aten = torch.ops.aten


@dataclass(frozen=True)
class Work:
    """What one call did: operator calls, elements produced, matmul FLOPs."""

    ops: int
    elements: int
    flops: int


def _entries(a: torch.Tensor) -> int:
    """Stored entries of a (possibly sparse) matrix operand."""
    return a._nnz() if a.layout != torch.strided else a.numel()


def _matmul_flops(func: Any, args: tuple[Any, ...]) -> int:
    """2 x (multiply-adds) of a matrix product; 0 for other operators."""
    if func in (aten.addmm.default, aten.baddbmm.default, aten.addmv.default):
        args = args[1:]
    if func in (aten.mm.default, aten.addmm.default):
        a, b = args[:2]
        return 2 * _entries(a) * b.shape[-1]
    if func in (aten.bmm.default, aten.baddbmm.default):
        a, b = args[:2]
        return 2 * math.prod(a.shape) * b.shape[-1]
    if func in (aten.mv.default, aten.addmv.default):
        return 2 * _entries(args[0])
    if func == aten.dot.default:
        return 2 * args[0].numel()
    return 0


class _Counter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops = self.elements = self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        self.flops += _matmul_flops(func, args)
        self.elements += sum(
            t.numel() for t in tree_leaves(out) if isinstance(t, torch.Tensor)
        )
        return out


def count_work(fn: Callable[[], Any]) -> Work:
    """Run ``fn()`` once and count its torch operator calls, the elements they
    produce and the FLOPs of its matrix products."""
    with _Counter() as counter:
        fn()
    return Work(counter.ops, counter.elements, counter.flops)
