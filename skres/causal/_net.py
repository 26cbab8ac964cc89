"""Numerical kernels of Neural Effect Search: strata and the Neural Effect Test.

Everything here is vectorised over neurons (columns): one call tests a whole block
of columns. Statistics are computed in float64 with torch on the estimator's device;
strata are built with numpy on the host (they involve only the few selected
neurons). See :class:`skres.causal.NeuralEffectSearch` for the method.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats

__all__ = [
    "RoundDesign",
    "make_strata",
    "quantile_bins",
    "t_test_from_parts",
    "welch_batched",
]


def quantile_bins(x: np.ndarray, q: int) -> np.ndarray:
    """Bin index ``0..q-1`` of every entry of ``x`` by its pooled quantile cut points.

    A value equal to a cut point goes to the lower bin, so a sparse neuron whose
    median is 0 splits into "zero" versus "active".
    """
    cuts = np.unique(np.quantile(x, np.arange(1, q) / q))
    return np.searchsorted(cuts, x, side="left").astype(np.int64)


def _cells_ok(cell: np.ndarray, treated: np.ndarray, min_per_cell: int) -> bool:
    """Every non-empty cell has at least ``min_per_cell`` units in each arm."""
    n_cells = int(cell.max()) + 1
    n1 = np.bincount(cell[treated], minlength=n_cells)
    n0 = np.bincount(cell[~treated], minlength=n_cells)
    nonempty = (n1 + n0) > 0
    return bool(min(n1[nonempty].min(), n0[nonempty].min()) >= min_per_cell)


def _combine(cell: np.ndarray, bins: np.ndarray, q: int) -> np.ndarray:
    """Refine the partition ``cell`` by ``bins``; relabel cells as ``0..C-1``."""
    return np.unique(cell * q + bins, return_inverse=True)[1].reshape(-1)


def make_strata(
    levels: np.ndarray,
    treated: np.ndarray,
    *,
    n_strata: int = 2,
    min_per_cell: int = 3,
    cap: bool = True,
    positive: bool = False,
) -> tuple[np.ndarray, int, int]:
    """Treatment-agnostic strata from the conditioning neurons ``levels``.

    Parameters
    ----------
    levels : ndarray of shape (n_units, k)
        Conditioning neurons, in selection order.
    treated : ndarray of shape (n_units,), dtype bool
        Treatment indicator (only used to check the cell sizes).
    n_strata : int, default=2
        Quantile bins per neuron (2 = median split).
    min_per_cell : int, default=3
        With ``cap``, every non-empty cell needs this many units in each arm.
    cap : bool, default=True
        Coarsen: use the first ``k'`` neurons and ``q' <= n_strata`` bins, the
        largest ``k'`` first and then the largest ``q'``, such that every cell is
        large enough; a single stratum if nothing works. Without the cap all ``k``
        neurons and ``n_strata`` bins are used.
    positive : bool, default=False
        Bin by ``level > 0`` instead of by quantiles (the shipped code's strata).

    Returns
    -------
    cell : ndarray of shape (n_units,), dtype int64
        Cell index ``0..C-1`` of every unit.
    n_used : int
        Number of neurons the strata use (0 for a single stratum).
    q_used : int
        Bins per neuron (1 for a single stratum).
    """
    n, k = levels.shape
    single = (np.zeros(n, dtype=np.int64), 0, 1)
    if k == 0:
        return single
    qs = [2] if positive else list(range(n_strata, 1, -1))
    if not cap:
        q = qs[0]
        cell = np.zeros(n, dtype=np.int64)
        for c in range(k):
            bins = (levels[:, c] > 0).astype(np.int64) if positive else None
            bins = quantile_bins(levels[:, c], q) if bins is None else bins
            cell = _combine(cell, bins, q)
        return cell, k, q
    best = single
    for q in qs:
        # Refining a partition can only shrink cells, so for a fixed q the usable
        # prefixes are 1..k'(q): grow the prefix until a cell gets too small.
        cell = np.zeros(n, dtype=np.int64)
        for c in range(k):
            if positive:
                bins = (levels[:, c] > 0).astype(np.int64)
            else:
                bins = quantile_bins(levels[:, c], q)
            refined = _combine(cell, bins, q)
            if not _cells_ok(refined, treated, min_per_cell):
                break
            cell = refined
            if c + 1 > best[1]:
                best = (cell, c + 1, q)
        if best[1] == k:
            break
    return best


def t_test_from_parts(
    tau: np.ndarray, var: np.ndarray, den: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standard error, t, Satterthwaite df and two-sided p from the contrast parts.

    ``df = var**2 / den``. A zero variance gives ``t = +-inf`` (``p = 0``) for a
    non-zero contrast and NaN for a zero one; NaN p-values are never rejected.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(var)
        t = tau / se
        dof = var**2 / den
    dof = np.where(np.isfinite(dof), dof, np.nan)
    p = 2.0 * stats.t.sf(np.abs(t), np.where(np.isnan(dof), 1.0, dof))
    p = np.where(np.isnan(t) | (np.isnan(dof) & np.isfinite(t)), np.nan, p)
    p = np.where(np.isinf(t), 0.0, p)
    return se, t, dof, p


def welch_batched(Y: torch.Tensor, treated: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Welch two-sample contrast parts for every column and every batch entry.

    Parameters
    ----------
    Y : tensor of shape (..., n_units, n_columns)
    treated : tensor of shape (..., n_units), dtype bool

    Returns
    -------
    tau, var, den : tensors of shape (..., n_columns)
        Difference in means, its variance ``s1^2/n1 + s0^2/n0`` and the
        Satterthwaite denominator.
    """
    w1 = treated.to(Y.dtype).unsqueeze(-1)
    w0 = 1.0 - w1
    n1 = w1.sum(-2)
    n0 = w0.sum(-2)
    mean1 = (w1 * Y).sum(-2) / n1
    mean0 = (w0 * Y).sum(-2) / n0
    ss1 = (w1 * (Y - mean1.unsqueeze(-2)) ** 2).sum(-2)
    ss0 = (w0 * (Y - mean0.unsqueeze(-2)) ** 2).sum(-2)
    a = ss1 / (n1 - 1) / n1
    b = ss0 / (n0 - 1) / n0
    return mean1 - mean0, a + b, a**2 / (n1 - 1) + b**2 / (n0 - 1)


@dataclass
class RoundDesign:
    """Everything a Neural Effect Test round needs that does not depend on the
    tested neuron: strata, kept units and (for OLS) the per-arm projections.

    ``stats(Y)`` then returns ``(tau, var, den)`` for a block of columns ``Y`` of
    shape (n_units, n_columns) on ``device``.
    """

    treated: np.ndarray
    cell: np.ndarray
    levels: np.ndarray
    residualize: str | None
    min_arm: int
    device: torch.device
    n_folds: int = 5
    rng: np.random.Generator | None = None
    n_cells: int = field(init=False)
    n_units_kept: int = field(init=False)

    def __post_init__(self) -> None:
        cell, treated = self.cell, self.treated
        n_cells = int(cell.max()) + 1 if len(cell) else 0
        n1 = np.bincount(cell[treated], minlength=n_cells)
        n0 = np.bincount(cell[~treated], minlength=n_cells)
        keep_cell = (n1 >= self.min_arm) & (n0 >= self.min_arm)
        self.rows = np.flatnonzero(keep_cell[cell])
        self.n_units_kept = int(self.rows.size)
        self.n_cells = int(keep_cell.sum())
        dev, f64 = self.device, torch.float64
        if self.n_cells == 0:
            return
        relabel = np.cumsum(keep_cell) - 1
        kept_cell = relabel[cell[self.rows]]
        kept_treated = treated[self.rows]
        counts = np.bincount(kept_cell, minlength=self.n_cells).astype(np.float64)
        self.weights = counts / counts.sum()
        self._rows_t = torch.as_tensor(self.rows, device=dev)
        self._arms = [np.flatnonzero(kept_treated), np.flatnonzero(~kept_treated)]
        self._arms_t = [torch.as_tensor(ix, device=dev) for ix in self._arms]
        onehot = np.zeros((self.rows.size, self.n_cells))
        onehot[np.arange(self.rows.size), kept_cell] = 1.0
        self._onehot = torch.as_tensor(onehot, dtype=f64, device=dev)
        n_arm = [
            np.bincount(kept_cell[ix], minlength=self.n_cells) for ix in self._arms
        ]
        self._n_arm = [torch.as_tensor(c, dtype=f64, device=dev) for c in n_arm]
        self._w = torch.as_tensor(self.weights, dtype=f64, device=dev)
        X = self.levels[self.rows].astype(np.float64)
        if self.residualize == "ols" and X.shape[1] > 0:
            self._setup_ols(X, onehot, counts)
        elif self.residualize == "crossfit" and X.shape[1] > 0:
            self._setup_crossfit(X)
        else:
            self.residualize = None

    # --------------------------------------------------------------- OLS (Lin)
    def _setup_ols(self, X: np.ndarray, onehot: np.ndarray, counts: np.ndarray) -> None:
        """Per arm: Y ~ cell indicators + slopes on X centred at the cell's pooled
        mean. The cell intercepts are arm means adjusted to a common point; the
        contrast ``sum_g w_g (c_1g - c_0g)`` is ``h_t' Y`` with the exact OLS variance
        ``s_t^2 h_t' h_t``."""
        dev, f64 = self.device, torch.float64
        Xc = X - onehot @ ((onehot.T @ X) / counts[:, None])
        a = np.concatenate([self.weights, np.zeros(X.shape[1])])
        self._ols = []
        for ix in self._arms:
            design = torch.as_tensor(
                np.column_stack([onehot[ix], Xc[ix]]), dtype=f64, device=dev
            )
            U, S, Vh = torch.linalg.svd(design, full_matrices=False)
            tol = S.max() * max(design.shape) * torch.finfo(f64).eps
            rank = int((S > tol).sum())
            U, S, Vh = U[:, :rank], S[:rank], Vh[:rank]
            g = (Vh @ torch.as_tensor(a, dtype=f64, device=dev)) / S
            self._ols.append((U, U @ g, float((g**2).sum()), len(ix) - rank))

    def _stats_ols(self, Y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        est, var, dofs = [], [], []
        for (U, h, hh, dof), ix in zip(self._ols, self._arms_t, strict=True):
            Yt = Y[ix]
            resid = Yt - U @ (U.T @ Yt)
            s2 = (resid**2).sum(0) / dof if dof >= 1 else torch.full_like(Yt[0], np.nan)
            est.append(h @ Yt)
            var.append(s2 * hh)
            dofs.append(max(dof, 1))
        V = var[0] + var[1]
        return est[0] - est[1], V, var[0] ** 2 / dofs[0] + var[1] ** 2 / dofs[1]

    # ------------------------------------------------------- cross-fit residuals
    def _setup_crossfit(self, X: np.ndarray) -> None:
        """The paper's recipe: arm-wise OLS slopes on X (centred at the pooled mean)
        fitted on the other folds, residuals on the held-out fold."""
        dev, f64 = self.device, torch.float64
        Xc = X - X.mean(axis=0)
        rng = self.rng if self.rng is not None else np.random.default_rng(0)
        self._folds = []
        for ix in self._arms:
            n_folds = max(2, min(self.n_folds, len(ix)))
            fold = rng.permutation(np.arange(len(ix)) % n_folds)
            for f in range(n_folds):
                test, train = ix[fold == f], ix[fold != f]
                A = np.column_stack([np.ones(len(train)), Xc[train]])
                proj = np.linalg.pinv(A)[1:]  # slopes = proj @ Y[train]
                self._folds.append(
                    (
                        torch.as_tensor(test, device=dev),
                        torch.as_tensor(train, device=dev),
                        torch.as_tensor(proj, dtype=f64, device=dev),
                        torch.as_tensor(Xc[test], dtype=f64, device=dev),
                    )
                )

    def _residuals(self, Y: torch.Tensor) -> torch.Tensor:
        R = torch.empty_like(Y)
        for test, train, proj, x_test in self._folds:
            R[test] = Y[test] - x_test @ (proj @ Y[train])
        return R

    # ------------------------------------------------------ post-stratified Welch
    def _stats_welch(self, Y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        parts = []
        for ix, n in zip(self._arms_t, self._n_arm, strict=True):
            G = self._onehot[ix]
            Yt = Y[ix]
            mean = (G.T @ Yt) / n[:, None]
            ss = G.T @ (Yt - G @ mean) ** 2
            parts.append((mean, ss / (n[:, None] - 1) / n[:, None], n))
        (m1, v1, n1), (m0, v0, n0) = parts
        w = self._w[:, None]
        tau = (w * (m1 - m0)).sum(0)
        a = w**2 * v1
        b = w**2 * v0
        V = (a + b).sum(0)
        d1 = torch.clamp(n1 - 1, min=1.0)[:, None]
        d0 = torch.clamp(n0 - 1, min=1.0)[:, None]
        den = (a**2 / d1 + b**2 / d0).sum(0)
        return tau, V, den

    def stats(self, Y: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tau, var, den)`` for the columns of ``Y`` (all units, float64)."""
        if self.n_cells == 0:
            nan = np.full(Y.shape[1], np.nan)
            return nan, nan, nan
        Y = Y[self._rows_t] if self.n_units_kept < len(self.cell) else Y
        if self.residualize == "ols":
            out = self._stats_ols(Y)
        elif self.residualize == "crossfit":
            out = self._stats_welch(self._residuals(Y))
        else:
            out = self._stats_welch(Y)
        return tuple(o.cpu().numpy() for o in out)  # type: ignore[return-value]
