"""Human-readable equations from sparse coefficients (PySINDy's layout)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def format_equation(
    lhs: str,
    coefficients: np.ndarray,
    terms: Sequence[str] | np.ndarray,
    precision: int = 3,
) -> str:
    """``"lhs = c1 term1 - c2 term2 ..."``, skipping zero coefficients.

    A term named ``"1"`` (the constant) is written as its coefficient alone; an
    all-zero row gives ``"lhs = 0"``.

    Examples
    --------
    >>> format_equation("x0'", np.array([0.0, -9.99, 9.99]), ["1", "x0", "x1"])
    "x0' = -9.990 x0 + 9.990 x1"
    """
    parts: list[str] = []
    for c, term in zip(coefficients, terms, strict=True):
        if c == 0:
            continue
        value = f"{abs(c):.{precision}f}"
        body = value if term == "1" else f"{value} {term}"
        if not parts:
            parts.append(f"-{body}" if c < 0 else body)
        else:
            parts.append(f"{'-' if c < 0 else '+'} {body}")
    return f"{lhs} = " + (" ".join(parts) if parts else "0")
