"""Weak-form library regression and automatic pruning for :class:`PDEDiscoverer`.

The PDE ``u_t = sum_j xi_j Theta_j(u)`` is tested against compactly supported
functions ``phi(t, x) = psi((t - t_i) / r_t) psi((x - x_i) / r_x)`` with the
polynomial bump ``psi(s) = (1 - s^2)^p`` on ``|s| < 1``. Integrating by parts moves
every derivative off the (noisy) data onto ``phi`` (boundary terms vanish because
``phi`` and its first ``p - 1`` derivatives vanish on the edge of its support):

* ``int phi u_t = -int phi_t u``;
* ``int phi d^k u = (-1)^k int (d^k phi) u`` (linear terms of any order);
* ``int phi u^m u_x = -int phi_x u^(m+1) / (m + 1)`` (``u^m u_x`` is a flux);
* ``int phi u^m`` (reaction terms).

Products ``u^m d^k u`` with ``m >= 1`` and ``k >= 2`` are not exact derivatives;
they are integrated with finite-difference derivatives of the data (still averaged
by ``phi``). Integrals are trapezoid sums; the tensor-product test functions on a
lattice of centres turn every column into two small matrix products.

Pruning is modified sequential thresholding (MSTLS) on the weak system: for each
threshold ``lam`` on a log grid, terms whose coefficient falls outside
``[lam max(1, |b|/|G_j|), min(1, |b|/|G_j|) / lam]`` are dropped and the rest
refitted; ``lam`` minimises ``|G (xi_lam - xi_0)| / |G xi_0| + 0.004 |supp xi_lam|``,
the misfit of the sparse model relative to least squares plus 0.4 % per term kept
(Messenger & Bortz weigh a term by ``1 / J`` instead; with that weight a term that
explains less than ``1 / J`` of the dynamics, such as the diffusion of Fisher-KPP,
is dropped).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.polynomial import polynomial as P


def _bump_derivatives(p: int, orders: int) -> list[np.ndarray]:
    """Coefficients (in ``s``) of ``d^k/ds^k (1 - s^2)^p`` for ``k = 0..orders``."""
    base = P.polypow([1.0, 0.0, -1.0], p)
    out = [base]
    for _ in range(orders):
        out.append(P.polyder(out[-1]))
    return out


def _test_matrix(
    coord: np.ndarray, radius: int, stride: int, p: int, orders: int
) -> list[np.ndarray]:
    """Per derivative order ``k``: ``(n_centres, n)`` values of ``d^k phi`` times the
    trapezoid weights, for bumps of ``radius`` grid points centred every ``stride``
    points with their whole support inside the grid."""
    n = coord.size
    centres = np.arange(radius, n - radius, max(stride, 1))
    if centres.size == 0:
        centres = np.array([n // 2])
        radius = max(1, min(radius, n // 2 - 1, n - 1 - n // 2))
    weights = np.zeros(n)
    h = np.diff(coord)
    weights[:-1] += h / 2
    weights[1:] += h / 2
    polys = _bump_derivatives(p, orders)
    mats = []
    lo = coord[np.clip(centres - radius, 0, n - 1)]
    hi = coord[np.clip(centres + radius, 0, n - 1)]
    mid = 0.5 * (lo + hi)
    half = 0.5 * (hi - lo)
    s = (coord[None, :] - mid[:, None]) / half[:, None]
    inside = np.abs(s) < 1
    for k, poly in enumerate(polys):
        vals = np.where(inside, P.polyval(s, poly), 0.0) / half[:, None] ** k
        mats.append(vals * weights[None, :])
    return mats


def weak_system(
    u: np.ndarray,
    t: np.ndarray,
    x: np.ndarray,
    library: Sequence[tuple[int, int]],
    fd_derivative: Callable[[np.ndarray, int], np.ndarray],
    *,
    radius: tuple[int, int],
    stride: tuple[int, int],
    p: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Weak-form design ``G`` (n_tests, n_terms) and target ``b`` (n_tests,).

    ``library`` lists ``(k, m)`` for the term ``u^m d^k u / dx^k`` (``k = 0``: the
    reaction term ``u^m``); ``fd_derivative(u, k)`` returns finite-difference
    ``d^k u / dx^k`` for the non-exact products.
    """
    max_k = max([k for k, _ in library] + [1])
    phi_t = _test_matrix(t, radius[0], stride[0], p, 1)
    phi_x = _test_matrix(x, radius[1], stride[1], p, max_k)

    def project(field: np.ndarray, dt: int, dx: int) -> np.ndarray:
        return (phi_t[dt] @ field @ phi_x[dx].T).ravel()

    b = -project(u, 1, 0)
    cols = []
    for k, m in library:
        if k == 0:
            cols.append(project(u**m, 0, 0))
        elif m == 0:
            cols.append((-1) ** k * project(u, 0, k))
        elif k == 1:
            cols.append(-project(u ** (m + 1), 0, 1) / (m + 1))
        else:
            cols.append(project(u**m * fd_derivative(u, k), 0, 0))
    return np.stack(cols, axis=1), b


def check_finite_system(G: np.ndarray, b: np.ndarray) -> None:
    """Raise when the weak system overflowed (library powers of huge data)."""
    if not (np.all(np.isfinite(G)) and np.all(np.isfinite(b))):
        raise ValueError(
            "the library evaluated on X is not finite (its powers overflow float64 "
            "at this data scale); rescale X (e.g. divide by its maximum) or lower "
            "the polynomial degrees in terms."
        )


def support_condition(G: np.ndarray, support: np.ndarray) -> float:
    """Condition number of the (column-normalised) library columns kept."""
    if not support.any():
        return 1.0
    cols = G[:, support]
    cols = cols / np.where((n := np.linalg.norm(cols, axis=0)) > 0, n, 1.0)
    sv = np.linalg.svd(cols, compute_uv=False)
    return float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")


#: Condition number of the kept, normalised weak-form columns above which their
#: coefficients are not identified (the suite's and examples' fits stay below 200).
MAX_SUPPORT_CONDITION = 1e8


def warn_if_unidentified(
    G: np.ndarray, support: np.ndarray, names: Any, where: str
) -> None:
    """Warn when the selected library columns are (nearly) linearly dependent."""
    cond = support_condition(G, support)
    if cond > MAX_SUPPORT_CONDITION:
        terms = ", ".join(str(n) for n in np.asarray(names, dtype=object)[support])
        warnings.warn(
            f"{where}: the selected terms ({terms}) are nearly linearly dependent "
            f"on this grid (condition number {cond:.2g} of their weak-form "
            "columns), so their coefficients are not identified by the data and "
            "the equation is not trustworthy (e.g. too few grid points to tell "
            "u_x from u_xxx). Use more grid points or times, or fewer terms.",
            UserWarning,
            stacklevel=4,
        )


def _lstsq(G: np.ndarray, b: np.ndarray, keep: np.ndarray) -> np.ndarray:
    xi = np.zeros(G.shape[1])
    if keep.any():
        xi[keep] = np.linalg.lstsq(G[:, keep], b, rcond=None)[0]
    return xi


def stls(G: np.ndarray, b: np.ndarray, lam: float, max_cycles: int = 25) -> np.ndarray:
    """Sequential thresholding with the MSTLS bounds (``lam`` relative)."""
    norms = np.linalg.norm(G, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    ratio = np.linalg.norm(b) / norms
    lower = lam * np.maximum(1.0, ratio)
    upper = np.minimum(1.0, ratio) / lam
    keep = np.ones(G.shape[1], dtype=bool)
    xi = _lstsq(G, b, keep)
    for _ in range(max_cycles):
        new = keep & (np.abs(xi) >= lower) & (np.abs(xi) <= upper)
        if np.array_equal(new, keep):
            break
        keep = new
        xi = _lstsq(G, b, keep)
    return np.where(keep, xi, 0.0)


def mstls(
    G: np.ndarray,
    b: np.ndarray,
    lambdas: np.ndarray | None = None,
    penalty: float = 0.004,
) -> tuple[np.ndarray, float]:
    """Modified sequential thresholding with the threshold chosen by the loss above.

    Returns the coefficients and the chosen threshold.
    """
    if lambdas is None:
        lambdas = 10.0 ** np.linspace(-4, 0, 50)
    xi0 = _lstsq(G, b, np.ones(G.shape[1], dtype=bool))
    ref = max(float(np.linalg.norm(G @ xi0)), 1e-300)
    best: tuple[float, np.ndarray, float] = (np.inf, xi0, 0.0)
    for lam in lambdas:
        xi = stls(G, b, float(lam))
        misfit = float(np.linalg.norm(G @ (xi - xi0))) / ref
        loss = misfit + penalty * np.count_nonzero(xi)
        if loss < best[0]:
            best = (loss, xi, float(lam))
    return best[1], best[2]
