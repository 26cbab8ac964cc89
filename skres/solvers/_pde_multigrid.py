"""Pure-torch multigrid-preconditioned FGMRES for the Mechanistic-PDE normal
equations."""

from __future__ import annotations

from typing import Any


def multigrid_factor(inp: Any, **options: Any) -> Any:
    """Not available yet."""
    raise NotImplementedError("method='multigrid' is not implemented yet.")
