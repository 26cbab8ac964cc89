"""Library terms, coordinates and finite differences of :class:`PDEDiscoverer`."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import torch

#: Derivative factors a library term may carry and their order in ``x``
#: (``rhs``: no derivative, a reaction term ``u^m``).
DERIVATIVE_ORDER = {"rhs": 0, "u_x": 1, "u_xx": 2, "u_xxx": 3, "u_xxxx": 4}
#: Unknown of the linear-PDE solver ``[u, u_t, u_x, u_tt, u_xx]`` for orders 1, 2;
#: higher orders enter the solver's right-hand side frozen at the reference field.
SOLVER_UNKNOWN = {1: 2, 2: 4}
DEFAULT_TERMS = {"rhs": 2, "u_x": 2, "u_xx": 1, "u_xxx": 0, "u_xxxx": 0}
#: Fewest grid points per window dimension for the solver's 5-point stencils.
MIN_SOLVER_POINTS = 6


def _power_name(k: int) -> str:
    return "" if k == 0 else ("u" if k == 1 else f"u^{k}")


def _term_name(deriv: str, k: int) -> str:
    base = _power_name(k)
    if deriv == "rhs":
        return base or "1"
    return f"{base} {deriv}" if base else deriv


def _check_coordinate(values: Any, name: str, n: int) -> np.ndarray:
    """A strictly increasing, finite 1-D coordinate array of length ``n``."""
    if values is None:
        return np.arange(n, dtype=np.float64)
    arr = np.asarray(
        values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values
    )
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array; got shape {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}.")
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but the field has {n} along that "
            "axis; they must have the same length."
        )
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity.")
    if np.any(np.diff(arr) <= 0):
        raise ValueError(f"{name} must be strictly increasing.")
    return arr


def _warn_unit_spacing(**coords: Any) -> None:
    """Warn for every omitted coordinate: unit spacing changes the coefficients."""
    missing = [name for name, value in coords.items() if value is None]
    if missing:
        names = " and ".join(f"{m}=" for m in missing)
        warnings.warn(
            f"{names} not given: unit grid spacing is assumed along "
            f"{'those axes' if len(missing) > 1 else 'that axis'}, so coefficients "
            "are in grid units. Pass the coordinates (e.g. fit(u, t=t, x=x)).",
            UserWarning,
            stacklevel=3,
        )


def _gradient(u: np.ndarray, coord: np.ndarray, axis: int) -> np.ndarray:
    """Second-order finite differences along ``axis`` (first order on 2 points)."""
    if u.shape[axis] < 2:
        return np.zeros_like(u)
    if u.shape[axis] > 2:
        return np.asarray(np.gradient(u, coord, axis=axis, edge_order=2))
    return np.asarray(np.gradient(u, coord, axis=axis, edge_order=1))


def _second_derivative(u: np.ndarray, coord: np.ndarray, axis: int) -> np.ndarray:
    """Three-point second differences along ``axis`` on a (non-uniform) grid.

    The two end points copy their neighbour's value; fewer than 3 points give 0.
    """
    n = u.shape[axis]
    if n < 3:
        return np.zeros_like(u)
    v = np.moveaxis(u, axis, -1)
    h1 = np.diff(coord)[:-1]
    h2 = np.diff(coord)[1:]
    inner = (
        2.0
        * ((v[..., 2:] - v[..., 1:-1]) / h2 - (v[..., 1:-1] - v[..., :-2]) / h1)
        / (h1 + h2)
    )
    out = np.concatenate([inner[..., :1], inner, inner[..., -1:]], axis=-1)
    return np.moveaxis(out, -1, axis)


def derivative(u: np.ndarray, coord: np.ndarray, axis: int, k: int) -> np.ndarray:
    """``d^k u / d coord^k`` by repeated second-order finite differences."""
    if k == 0:
        return u
    if k == 1:
        return _gradient(u, coord, axis)
    out = _second_derivative(u, coord, axis)
    return derivative(out, coord, axis, k - 2)


def parse_terms(terms: Any) -> list[tuple[str, int]]:
    """``[(derivative, power), ...]`` from a ``terms`` dict, validated."""
    terms = DEFAULT_TERMS if terms is None else terms
    if not isinstance(terms, dict) or not terms:
        raise TypeError(
            "terms must be a non-empty dict such as {'u_x': 2, 'u_xx': 1, "
            f"'rhs': 1}}; got {terms!r}."
        )
    unknown = set(terms) - set(DERIVATIVE_ORDER)
    if unknown:
        raise ValueError(
            f"terms has unknown keys {sorted(unknown)}; allowed are "
            f"{list(DERIVATIVE_ORDER)}."
        )
    out: list[tuple[str, int]] = []
    for deriv in ("rhs", "u_x", "u_xx", "u_xxx", "u_xxxx"):
        if deriv not in terms or terms[deriv] is None:
            continue
        spec: Any = terms[deriv]
        if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
            if spec < 0:
                raise ValueError(
                    f"terms[{deriv!r}] must be a degree >= 0 or a list of "
                    f"powers; got {spec!r}."
                )
            powers = list(range(int(spec) + 1))
        else:
            try:
                powers = sorted({int(p) for p in spec})
            except (TypeError, ValueError):
                raise ValueError(
                    f"terms[{deriv!r}] must be a degree >= 0 or a list of "
                    f"powers; got {spec!r}."
                ) from None
            if not powers or min(powers) < 0:
                raise ValueError(
                    f"terms[{deriv!r}] must list powers >= 0; got {spec!r}."
                )
        out.extend((deriv, k) for k in powers)
    if not out:
        raise ValueError("terms selects no library term.")
    return out


def theta(
    u: np.ndarray, derivs: dict[int, np.ndarray], library: list[tuple[str, int]]
) -> np.ndarray:
    """Library columns ``u^m d^k u``, shape ``u.shape + (n_terms,)``.

    ``derivs[k]`` holds ``d^k u / dx^k`` for every order the library uses.
    """
    cols = []
    for deriv, m in library:
        k = DERIVATIVE_ORDER[deriv]
        factor = np.ones_like(u) if k == 0 else derivs[k]
        cols.append(factor * u**m)
    return np.stack(cols, axis=-1)


def max_order(library: list[tuple[str, int]]) -> int:
    return max(DERIVATIVE_ORDER[d] for d, _ in library)
