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
    "permutation_pvalues",
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
    # Centre on the pooled column mean first so that the one-pass moments below do
    # not cancel; arm sums are then batched matrix-vector products.
    Yc = Y - Y.mean(-2, keepdim=True)
    w1 = treated.to(Y.dtype).unsqueeze(-2)  # (..., 1, n)
    w0 = 1.0 - w1
    n1 = w1.sum(-1)
    n0 = w0.sum(-1)
    s1 = (w1 @ Yc).squeeze(-2)
    s0 = (w0 @ Yc).squeeze(-2)
    Yc.square_()
    q1 = (w1 @ Yc).squeeze(-2)
    q0 = (w0 @ Yc).squeeze(-2)
    mean1, mean0 = s1 / n1, s0 / n0
    ss1 = (q1 - s1 * mean1).clamp_min(0.0)
    ss0 = (q0 - s0 * mean0).clamp_min(0.0)
    a = ss1 / (n1 - 1) / n1
    b = ss0 / (n0 - 1) / n0
    return mean1 - mean0, a + b, a**2 / (n1 - 1) + b**2 / (n0 - 1)


@dataclass
class RoundDesign:
    """Everything a Neural Effect Test round needs that does not depend on the
    tested neuron: strata, kept units and (for OLS) the per-arm projections.

    Kept units are processed in a fixed order, treated first and by cell within an
    arm, so that every (arm, cell) segment is a contiguous row block and the
    per-segment means and variances take one fused pass over the data.
    ``stats(Y)`` returns ``(tau, var, den)`` for a block of columns ``Y`` of shape
    (n_units, n_columns) (rows in the original unit order) on ``device``.
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
        rows = np.flatnonzero(keep_cell[cell])
        self.n_units_kept = int(rows.size)
        self.n_cells = int(keep_cell.sum())
        if self.n_cells == 0:
            return
        relabel = np.cumsum(keep_cell) - 1
        # Treated first, then by cell within each arm.
        order = rows[np.lexsort((relabel[cell[rows]], ~treated[rows]))]
        self._identity = bool(np.array_equal(order, np.arange(len(cell))))
        self._order_t = torch.as_tensor(order, device=self.device)
        kept_cell = relabel[cell[order]]
        self.kept_cell = kept_cell
        n_treated = int(treated[order].sum())
        self._arm_slices = [slice(0, n_treated), slice(n_treated, len(order))]
        counts = np.bincount(kept_cell, minlength=self.n_cells).astype(np.float64)
        self.weights = counts / counts.sum()
        self._segments = []  # per arm: list of (start, end) per cell, relative
        self._n_arm = []
        for sl in self._arm_slices:
            c = np.bincount(kept_cell[sl], minlength=self.n_cells)
            ends = np.cumsum(c)
            self._segments.append(list(zip(ends - c, ends, strict=True)))
            self._n_arm.append(
                torch.as_tensor(c, dtype=torch.float64, device=self.device)
            )
        self._w = torch.as_tensor(self.weights, dtype=torch.float64, device=self.device)
        X = self.levels[order].astype(np.float64)
        self.kept_levels = X
        onehot = np.eye(self.n_cells)[kept_cell]
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
        ``s_t^2 h_t' h_t``.

        The residual sum of squares is the within-(arm, cell) sum of squares minus
        the part explained by the slopes: the projection on an orthonormal basis of
        ``X`` centred within (arm, cell), which is orthogonal to the indicators.
        """
        dev, f64 = self.device, torch.float64
        eps = np.finfo(np.float64).eps
        Xc = X - onehot @ ((onehot.T @ X) / counts[:, None])
        a = np.concatenate([self.weights, np.zeros(X.shape[1])])
        self._ols = []
        for sl in self._arm_slices:
            G, x = onehot[sl], Xc[sl]
            design = np.column_stack([G, x])
            U, S, Vh = np.linalg.svd(design, full_matrices=False)
            keep = S > S.max() * max(design.shape) * eps
            g = (Vh[keep] @ a) / S[keep]
            h = U[:, keep] @ g
            within = x - G @ ((G.T @ x) / G.sum(0)[:, None])
            Uw, Sw, _ = np.linalg.svd(within, full_matrices=False)
            scale = max(Sw.max() if Sw.size else 0.0, 1e-300)
            Q = Uw[:, Sw > scale * max(within.shape) * eps]
            rank = G.shape[1] + Q.shape[1]
            basis = np.column_stack([h, Q]).T  # (1 + r, n_t)
            self._ols.append(
                (
                    torch.as_tensor(basis, dtype=f64, device=dev),
                    float(g @ g),
                    G.shape[0] - rank,
                )
            )

    def _segment_stats(
        self, Yt: torch.Tensor, arm: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and variances (ddof=1) of every (cell, column) of one arm."""
        means, variances = [], []
        for start, end in self._segments[arm]:
            if end - start == 1:  # ddof=1 variance of one unit is undefined
                mean = Yt[start]
                var = torch.full_like(mean, float("nan"))
            else:
                var, mean = torch.var_mean(Yt[start:end], dim=0, correction=1)
            means.append(mean)
            variances.append(var)
        return torch.stack(means), torch.stack(variances)

    def _stats_ols(self, Y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        est, var, dofs = [], [], []
        for arm, ((basis, hh, dof), sl) in enumerate(
            zip(self._ols, self._arm_slices, strict=True)
        ):
            Yt = Y[sl]
            _, cell_var = self._segment_stats(Yt, arm)
            within = ((self._n_arm[arm] - 1)[:, None] * cell_var).sum(0)
            proj = basis.to(Y.dtype) @ Yt
            rss = (within - (proj[1:] ** 2).sum(0)).clamp_min(0.0)
            s2 = rss / dof if dof >= 1 else torch.full_like(rss, float("nan"))
            est.append(proj[0])
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
        for sl in self._arm_slices:
            ix = np.arange(sl.start, sl.stop)
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
            R[test] = Y[test] - x_test.to(Y.dtype) @ (proj.to(Y.dtype) @ Y[train])
        return R

    # ------------------------------------------------------ post-stratified Welch
    def _stats_welch(self, Y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        parts = []
        for arm, sl in enumerate(self._arm_slices):
            n = self._n_arm[arm].to(Y.dtype)[:, None]
            mean, var = self._segment_stats(Y[sl], arm)
            parts.append((mean, var / n, n))
        (m1, v1, n1), (m0, v0, n0) = parts
        w = self._w.to(Y.dtype)[:, None]
        tau = (w * (m1 - m0)).sum(0)
        a = w**2 * v1
        b = w**2 * v0
        V = (a + b).sum(0)
        den = (a**2 / (n1 - 1).clamp_min(1.0) + b**2 / (n0 - 1).clamp_min(1.0)).sum(0)
        return tau, V, den

    def stats(self, Y: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tau, var, den)`` for the columns of ``Y`` (all units, float64)."""
        if self.n_cells == 0:
            nan = np.full(Y.shape[1], np.nan)
            return nan, nan, nan
        if not self._identity:
            Y = Y.index_select(0, self._order_t)
        if self.residualize == "ols":
            out = self._stats_ols(Y)
        elif self.residualize == "crossfit":
            out = self._stats_welch(self._residuals(Y))
        else:
            out = self._stats_welch(Y)
        return tuple(o.double().cpu().numpy() for o in out)  # type: ignore[return-value]


# ------------------------------------------------------ randomisation p-values
def _pooled_residual_basis(design: RoundDesign) -> np.ndarray:
    """Orthonormal basis of the cell indicators and the cell-centred conditioning
    neurons over the kept units (pooled over arms, so it does not depend on the
    treatment)."""
    eps = np.finfo(np.float64).eps
    onehot = np.eye(design.n_cells)[design.kept_cell]
    X = design.kept_levels
    if X.shape[1]:
        counts = onehot.sum(0)
        X = X - onehot @ ((onehot.T @ X) / counts[:, None])
        X = X / np.maximum(np.abs(X).max(axis=0), np.finfo(np.float64).tiny)
    A = np.column_stack([onehot, X])
    U, S, _ = np.linalg.svd(A, full_matrices=False)
    return U[:, S > S.max() * max(A.shape) * eps]


def _within_cell_assignments(
    cell: np.ndarray, treated: np.ndarray, n_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_draws`` re-randomisations of ``treated`` within every cell (float64)."""
    out = np.zeros((n_draws, cell.size))
    for c in np.unique(cell):
        idx = np.flatnonzero(cell == c)
        n1 = int(treated[idx].sum())
        ranks = np.argsort(rng.random((n_draws, idx.size)), axis=1)
        out[:, idx] = ranks < n1
    return out


def _stratified_t(
    P: torch.Tensor, R: torch.Tensor, cells: list[torch.Tensor], w: torch.Tensor
) -> torch.Tensor:
    """Post-stratified Welch t of every column of ``R`` (n, m) under every
    assignment in ``P`` (B, n): shape (B, m)."""
    tau = torch.zeros(P.shape[0], R.shape[1], dtype=R.dtype, device=R.device)
    var = torch.zeros_like(tau)
    for g, idx in enumerate(cells):
        Pg, Rg = P[:, idx], R[idx]
        n1 = Pg.sum(1, keepdim=True)
        n0 = idx.numel() - n1
        s1, q1 = Pg @ Rg, Pg @ Rg.square()
        s0, q0 = Rg.sum(0) - s1, Rg.square().sum(0) - q1
        m1, m0 = s1 / n1, s0 / n0
        v1 = (q1 - s1 * m1).clamp_min(0.0) / (n1 - 1)
        v0 = (q0 - s0 * m0).clamp_min(0.0) / (n0 - 1)
        tau += w[g] * (m1 - m0)
        var += w[g] ** 2 * (v1 / n1 + v0 / n0)
    return tau / var.sqrt()


def permutation_pvalues(
    design: RoundDesign,
    Y: torch.Tensor,
    n_permutations: int,
    rng: np.random.Generator,
    batch_elements: int = 2**23,
) -> np.ndarray:
    """Monte-Carlo randomisation p-values of every column of ``Y`` for one round.

    Each column is residualised on the round's cell indicators and cell-centred
    conditioning neurons, pooled over arms (a treatment-free adjustment); the
    statistic is the post-stratified Welch t of the residuals; the treatment is
    re-randomised within cells (keeping every cell's arm sizes).
    ``p = (1 + #{|t_b| >= |t_obs|}) / (1 + B)``.

    Parameters
    ----------
    design : RoundDesign
        The round (its kept units and cells).
    Y : tensor of shape (n_units, n_columns)
        Columns to test, rows in the original unit order.
    n_permutations : int
        Re-randomisations ``B``.
    rng : numpy.random.Generator
        Source of the re-randomisations.
    batch_elements : int, default=2**23
        Bounds ``B_batch * n_units`` (memory of one batch).

    Returns
    -------
    ndarray of shape (n_columns,)
    """
    if design.n_cells == 0:
        return np.full(Y.shape[1], np.nan)
    dev = Y.device
    Yk = Y.index_select(0, design._order_t).to(torch.float64)
    Q = torch.as_tensor(_pooled_residual_basis(design), device=dev)
    R = Yk - Q @ (Q.T @ Yk)
    cell = design.kept_cell
    treated = np.zeros(cell.size)
    treated[design._arm_slices[0]] = 1.0
    cells = [
        torch.as_tensor(np.flatnonzero(cell == c), device=dev)
        for c in range(design.n_cells)
    ]
    w = design._w
    obs = _stratified_t(torch.as_tensor(treated, device=dev)[None], R, cells, w)[0]
    exceed = torch.zeros(R.shape[1], dtype=torch.float64, device=dev)
    batch = max(1, batch_elements // max(cell.size, R.shape[1], 1))
    for start in range(0, n_permutations, batch):
        size = min(batch, n_permutations - start)
        P = torch.as_tensor(
            _within_cell_assignments(cell, treated, size, rng), device=dev
        )
        t = _stratified_t(P, R, cells, w)
        exceed += (t.abs() >= obs.abs() * (1 - 1e-12)).sum(0)
    p = (exceed + 1.0) / (n_permutations + 1.0)
    p = torch.where(torch.isnan(obs), torch.full_like(p, float("nan")), p)
    return p.cpu().numpy()
