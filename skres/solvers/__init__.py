"""Reusable differentiable and batched numerics shared by skres estimators.

:func:`somp` (simultaneous orthogonal matching pursuit, batched over problems).
"""

from .pursuit import SOMPResult, somp

__all__ = ["SOMPResult", "somp"]
