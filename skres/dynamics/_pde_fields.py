"""Weak-form discovery for several fields on 1-D or 2-D grids (:class:`PDEDiscoverer`
with ``X`` of shape ``(n_times, n_x[, n_y], n_fields)``).

Library: monomials of the fields up to ``degree`` (the constant included), the
spatial derivatives ``D^a f`` of every field ``f`` with ``1 <= |a| <= order``
(mixed derivatives included), and those derivatives times the monomials of degree
up to ``derivative_degree``. Each field gets its own equation ``f_t = Theta xi_f``.

Weak form as in :mod:`skres.dynamics._pde_weak`, with tensor-product bumps in
``(t, x[, y])``: derivatives of linear terms and of ``f^m f_x`` move onto the test
functions exactly; other products (``u v_x``, ``u w_xx``) are integrated with
finite-difference derivatives of the data.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._integrate import check_output_times, integrate
from ._pde_library import derivative
from ._pde_weak import (
    _test_matrix,
    check_finite_system,
    mstls,
    warn_if_unidentified,
)

#: A term: (monomial exponents over the fields, derivative or None), where the
#: derivative is (field index, orders per spatial axis).
Term = tuple[tuple[int, ...], tuple[int, tuple[int, ...]] | None]
_AXES = "xyz"


def parse_field_terms(terms: Any) -> dict[str, Any]:
    """``{"degree", "order", "derivative_degree", "derivative_fields"}`` with
    defaults (3, 2, 1, None: every field)."""
    spec: dict[str, Any] = {
        "degree": 3,
        "order": 2,
        "derivative_degree": 1,
        "derivative_fields": None,
    }
    if terms is None:
        return spec
    if not isinstance(terms, dict) or set(terms) - set(spec):
        raise ValueError(
            "with several fields or 2-D grids, terms must be None or a dict with "
            f"keys {sorted(spec)}; got {terms!r}."
        )
    for key, value in terms.items():
        if key == "derivative_fields":
            if value is not None:
                try:
                    spec[key] = sorted({int(v) for v in value})
                except (TypeError, ValueError):
                    raise ValueError(
                        "terms['derivative_fields'] must be None or a list of field "
                        f"indices; got {value!r}."
                    ) from None
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"terms[{key!r}] must be an integer; got {value!r}.")
        spec[key] = int(value)
    if (
        spec["degree"] < 0
        or spec["derivative_degree"] < 0
        or not 0 <= spec["order"] <= 4
    ):
        raise ValueError(
            "terms needs degree >= 0, derivative_degree >= 0 and order in 0..4; "
            f"got {terms!r}."
        )
    return spec


def _monomials(n_fields: int, degree: int) -> list[tuple[int, ...]]:
    out = []
    for total in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(n_fields), total):
            exps = [0] * n_fields
            for f in combo:
                exps[f] += 1
            out.append(tuple(exps))
    return out


def build_library(n_fields: int, n_space: int, spec: dict[str, Any]) -> list[Term]:
    """The generic library (see the module docstring)."""
    terms: list[Term] = [(m, None) for m in _monomials(n_fields, spec["degree"])]
    alphas = [
        a
        for total in range(1, spec["order"] + 1)
        for a in itertools.product(range(total + 1), repeat=n_space)
        if sum(a) == total
    ]
    alphas.sort(key=lambda a: (sum(a), tuple(-v for v in a)))
    monos = _monomials(n_fields, spec["derivative_degree"])
    fields = spec["derivative_fields"]
    fields = range(n_fields) if fields is None else fields
    if any(not 0 <= f < n_fields for f in fields):
        raise ValueError(
            f"terms['derivative_fields'] must index the {n_fields} fields; got "
            f"{spec['derivative_fields']!r}."
        )
    for mono in monos:
        for f in fields:
            for a in alphas:
                terms.append((mono, (f, a)))
    return terms


def term_name(term: Term, names: Sequence[str]) -> str:
    mono, deriv = term
    parts = []
    for f, e in enumerate(mono):
        if e:
            parts.append(names[f] if e == 1 else f"{names[f]}^{e}")
    if deriv is not None:
        f, a = deriv
        parts.append(names[f] + "_" + "".join(_AXES[c] * k for c, k in enumerate(a)))
    return " ".join(parts) if parts else "1"


def _mono_value(fields: np.ndarray, mono: tuple[int, ...]) -> np.ndarray:
    out = np.ones(fields.shape[:-1])
    for f, e in enumerate(mono):
        if e:
            out = out * fields[..., f] ** e
    return out


def _fd(field: np.ndarray, coords: Sequence[np.ndarray], a: tuple[int, ...]) -> Any:
    for c, k in enumerate(a):
        if k:
            field = derivative(field, coords[c], c + 1, k)
    return field


def weak_fields_system(
    fields: np.ndarray,
    t: np.ndarray,
    coords: Sequence[np.ndarray],
    library: list[Term],
    radius: Sequence[int],
    p: int = 6,
) -> tuple[np.ndarray, np.ndarray]:
    """Design ``G`` (n_tests, n_terms) and targets ``B`` (n_tests, n_fields)."""
    n_space = len(coords)
    max_k = max([1] + [max(d[1]) for _, d in library if d is not None])
    mats_t = _test_matrix(t, radius[0], max(1, radius[0] // 2), p, 1)
    mats = [
        _test_matrix(c, radius[1 + i], max(1, radius[1 + i] // 2), p, max_k)
        for i, c in enumerate(coords)
    ]

    def project(field: np.ndarray, dt: int, a: tuple[int, ...]) -> np.ndarray:
        out = np.tensordot(mats_t[dt], field, axes=(1, 0))
        for c in range(n_space):
            out = np.moveaxis(
                np.tensordot(mats[c][a[c]], out, axes=(1, c + 1)), 0, c + 1
            )
        return out.ravel()

    zero = (0,) * n_space
    B = np.stack(
        [-project(fields[..., f], 1, zero) for f in range(fields.shape[-1])], 1
    )
    cols = []
    for mono, deriv in library:
        if deriv is None:
            cols.append(project(_mono_value(fields, mono), 0, zero))
            continue
        f, a = deriv
        power = mono[f]
        others = sum(mono) - power
        if sum(mono) == 0:  # linear: all derivatives onto phi
            cols.append((-1) ** sum(a) * project(fields[..., f], 0, a))
        elif others == 0 and sum(a) == 1:  # f^m f_x = (f^(m+1))_x / (m+1)
            flux = fields[..., f] ** (power + 1) / (power + 1)
            cols.append(-project(flux, 0, a))
        else:
            value = _mono_value(fields, mono) * _fd(fields[..., f], coords, a)
            cols.append(project(value, 0, zero))
    return np.stack(cols, 1), B


def fit_fields(
    fields: np.ndarray,
    t: np.ndarray,
    coords: Sequence[np.ndarray],
    library: list[Term],
    radius: Sequence[int],
    threshold: Any,
    names: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[float]]:
    """Coefficients ``(n_fields, n_terms)`` and the chosen thresholds.

    Warns when a field's selected terms are not identified (collinear columns).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        G, B = weak_fields_system(fields, t, coords, library, radius)
    check_finite_system(G, B)
    scale = np.linalg.norm(G, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    G = G / scale
    coef = np.zeros((fields.shape[-1], len(library)))
    chosen = []
    for f in range(fields.shape[-1]):
        if isinstance(threshold, str):
            xi, lam = mstls(G, B[:, f])
        else:
            keep = np.ones(len(library), dtype=bool)
            for _ in range(len(library) + 1):
                xi = np.zeros(len(library))
                if keep.any():
                    xi[keep] = np.linalg.lstsq(G[:, keep], B[:, f], rcond=None)[0]
                if threshold is None:
                    break
                new = keep & (np.abs(xi / scale) >= threshold)
                if np.array_equal(new, keep):
                    break
                keep = new
            lam = threshold
        coef[f] = xi / scale
        chosen.append(lam)
        warn_if_unidentified(
            G,
            coef[f] != 0,
            names if names is not None else [f"term {i}" for i in range(len(library))],
            "PDEDiscoverer.fit",
        )
    return coef, chosen


def check_fields_input(X: Any) -> np.ndarray:
    """``X`` of shape ``(n_times, n_x[, n_y], n_fields)`` as finite float64."""
    arr = np.asarray(
        X.detach().cpu().numpy() if hasattr(X, "detach") else X, dtype=np.float64
    )
    if arr.ndim not in (3, 4):
        raise ValueError(
            "X must have shape (n_times, n_points) for one field on a 1-D grid, or "
            "(n_times, n_x[, n_y], n_fields); got "
            f"{arr.ndim} dimensions."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("X contains NaN or infinity.")
    if min(arr.shape[:-1]) < 2:
        raise ValueError(
            f"X needs at least 2 points along time and every spatial axis; got "
            f"shape {arr.shape}."
        )
    return arr


class FieldsMixin:
    """The several-field / 2-D path of :class:`PDEDiscoverer`."""

    def _fit_fields(self, X: Any, t: Any, x: Any, params: dict[str, Any]) -> Any:
        from ._pde_library import _check_coordinate, _warn_unit_spacing

        est: Any = self
        if params["method"] != "weak":
            raise ValueError(
                "method='mechanistic' supports one field on a 1-D grid; use "
                "method='weak' for several fields or 2-D grids."
            )
        arr = check_fields_input(X)
        n_space = arr.ndim - 2
        _warn_unit_spacing(t=t, x=x)
        xs = [None] * n_space if x is None else x
        if n_space == 2 and (
            not isinstance(xs, list | tuple) or len(xs) != 2 or np.ndim(xs[0]) != 1
        ):
            raise ValueError(
                "for a 2-D grid pass x=(x, y), one 1-D coordinate array per spatial "
                "axis."
            )
        if n_space == 1 and isinstance(xs, list | tuple) and len(xs) == 1:
            xs = xs[0]
        coords = (
            [_check_coordinate(xs, "x", arr.shape[1])]
            if n_space == 1
            else [
                _check_coordinate(c, name, arr.shape[1 + i])
                for i, (c, name) in enumerate(zip(xs, ("x", "y"), strict=True))
            ]
        )
        est.t_ = _check_coordinate(t, "t", arr.shape[0])
        est.x_ = coords[0] if n_space == 1 else tuple(coords)
        n_fields = arr.shape[-1]
        names = est.field_names
        if names is None:
            names = (
                ["u", "v", "w"] if n_fields <= 3 else [f"u{i}" for i in range(n_fields)]
            )
            names = names[:n_fields]
        elif len(names) != n_fields or len(set(map(str, names))) != n_fields:
            raise ValueError(
                f"field_names must hold {n_fields} distinct names; got {names!r}."
            )
        est.field_names_ = np.asarray([str(n) for n in names], dtype=object)
        library = build_library(n_fields, n_space, parse_field_terms(est.terms))
        # radii clipped to a sixth of each axis: enough test functions per axis
        # on small 2-D grids (at 64 x 64 x 51, radii 8 x 10 x 10)
        radius = [max(1, min(params["weak_support"][0], (arr.shape[0] - 1) // 6))]
        for c in range(n_space):
            n = arr.shape[1 + c]
            radius.append(max(1, min(params["weak_support"][1], (n - 1) // 6)))
        names = [term_name(term, list(est.field_names_)) for term in library]
        coef, chosen = fit_fields(
            arr, est.t_, coords, library, radius, params["threshold"], names
        )
        est.library_ = library
        est.feature_names_ = np.asarray(names, dtype=object)
        est.coef_ = coef
        est.support_ = coef != 0
        est.weak_threshold_ = chosen
        est.n_features_in_ = int(np.prod(arr.shape[1:]))
        est.window_shape_ = tuple(arr.shape[:-1])
        est.windows_ = np.zeros((0, arr.ndim - 1), dtype=int)
        est.solver_used_ = False
        est.loss_curve_ = np.zeros(0)
        est.n_iter_ = 0
        return est

    def _simulate_fields(
        self, u0: Any, t: Any, x: Any, max_rhs_evals: int | None = None
    ) -> np.ndarray:
        from ._pde_library import _check_coordinate

        est: Any = self
        start = np.asarray(u0, dtype=np.float64)
        n_space = start.ndim - 1
        if start.ndim < 2 or start.shape[-1] != est.coef_.shape[0]:
            raise ValueError(
                f"u0 must have shape (n_x[, n_y], {est.coef_.shape[0]}) for this "
                f"model; got {start.shape}."
            )
        if not np.all(np.isfinite(start)):
            raise ValueError("u0 contains NaN or infinity.")
        grids = est.x_ if x is None else x
        grids = [grids] if n_space == 1 and np.ndim(grids[0]) == 0 else list(grids)
        if len(grids) != n_space:
            raise ValueError(f"x must hold {n_space} coordinate array(s).")
        coords = [
            _check_coordinate(g, "x", start.shape[c]) for c, g in enumerate(grids)
        ]
        times = check_output_times(t)
        if times.size == 1:
            return start[None].copy()
        return simulate_fields(est, start, times, coords, max_rhs_evals)

    def _check_single_field(self, what: str) -> None:
        if np.ndim(self.coef_) == 2:  # type: ignore[attr-defined]
            raise ValueError(
                f"{what} supports one field on a 1-D grid; this model was fitted on "
                "several fields or a 2-D grid (use coef_ and equations())."
            )


def simulate_fields(
    est: Any,
    start: np.ndarray,
    times: np.ndarray,
    coords: Sequence[np.ndarray],
    max_rhs_evals: int | None = None,
) -> np.ndarray:
    """Integrate the fitted several-field model on a periodic uniform grid.

    Spatial derivatives are spectral; SciPy's RK45, stepped under a work budget
    (:func:`~skres.dynamics._integrate.integrate`), integrates in time. Rows
    after a failed or stopped integration are NaN.
    """
    spatial = start.shape[:-1]
    n_fields = start.shape[-1]
    ks = []
    for c, grid in enumerate(coords):
        dx = np.diff(grid)
        if not np.allclose(dx, dx[0], rtol=1e-8, atol=0.0):
            raise ValueError("simulate needs uniform periodic grids.")
        shape = [1] * len(spatial)
        shape[c] = spatial[c]
        ks.append((2j * np.pi * np.fft.fftfreq(spatial[c], d=dx[0])).reshape(shape))
    library = est.library_
    coef = est.coef_

    def rhs(_: float, state: np.ndarray) -> np.ndarray:
        F = state.reshape(start.shape)
        hats = [np.fft.fftn(F[..., f]) for f in range(n_fields)]
        cache: dict[tuple[int, tuple[int, ...]], np.ndarray] = {}
        cols = []
        for mono, deriv in library:
            value = _mono_value(F, mono)
            if deriv is not None:
                if deriv not in cache:
                    f, a = deriv
                    sym = np.ones(spatial, dtype=complex)
                    for c, k in enumerate(a):
                        sym = sym * ks[c] ** k
                    cache[deriv] = np.real(np.fft.ifftn(sym * hats[f]))
                value = value * cache[deriv]
            cols.append(value)
        return (np.stack(cols, -1) @ coef.T).ravel()

    out = integrate(
        rhs,
        start.ravel(),
        times,
        method="RK45",
        max_rhs_evals=max_rhs_evals,
        rtol=1e-6,
        atol=1e-9,
    )
    return out.reshape((-1,) + start.shape)
