"""The search loop of Neural Effect Search (Algorithm 1) on validated unit data.

:class:`skres.causal.NeuralEffectSearch` validates the input and stores the result;
:class:`_Search` runs the rounds (strata, tests, selection) and
:func:`_first_round_batched` computes the naive first round of many treatment
vectors at once (for ``permutation_check``).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ._net import (
    RoundDesign,
    make_strata,
    permutation_pvalues,
    t_test_from_parts,
    welch_batched,
)

if TYPE_CHECKING:
    from .effect_search import NeuralEffectSearch

#: Elements per float64 column block (bounds the memory of one round).
_BLOCK_ELEMENTS = 2**23


def _as_tensor(Z: np.ndarray) -> torch.Tensor:
    """Zero-copy CPU tensor view of ``Z`` (never written to, so read-only is fine)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not")
        return torch.as_tensor(Z)


def _column_blocks(n_rows: int, cols: np.ndarray) -> list[np.ndarray]:
    size = max(1, _BLOCK_ELEMENTS // max(n_rows, 1))
    return [cols[i : i + size] for i in range(0, len(cols), size)] or [cols]


def _first_round_batched(
    Z: np.ndarray, perms: np.ndarray, device: torch.device, dtype: torch.dtype
) -> tuple[np.ndarray, ...]:
    """Welch parts of every column for every treatment vector in ``perms``."""
    n, m = Z.shape
    out = [np.empty((len(perms), m)) for _ in range(3)]
    treated = torch.as_tensor(perms, device=device)
    Zt = _as_tensor(Z)
    for cols in _column_blocks(n, np.arange(m)):
        Y = Zt[:, cols].to(device=device, dtype=dtype)
        batch = max(1, _BLOCK_ELEMENTS // max(Y.numel(), 1))
        for start in range(0, len(perms), batch):
            sl = slice(start, start + batch)
            parts = welch_batched(Y.expand(treated[sl].shape[0], -1, -1), treated[sl])
            for o, p in zip(out, parts, strict=True):
                o[sl, cols] = p.double().cpu().numpy()
    return tuple(out)


class _Search:
    """One run of Algorithm 1 on validated unit-level data."""

    def __init__(
        self,
        est: NeuralEffectSearch,
        Z: np.ndarray,
        treated: np.ndarray,
        nuisance: np.ndarray | None,
        rng: np.random.Generator,
        first_round: tuple[np.ndarray, ...] | None = None,
    ) -> None:
        self.est = est
        # Treated units first: the first round's arms are then contiguous row
        # blocks and need no gather. Statistics do not depend on the row order.
        if np.any(np.diff(treated.astype(np.int8)) > 0):
            order = np.argsort(~treated, kind="stable")
            Z, treated = Z[order], treated[order]
            nuisance = None if nuisance is None else nuisance[order]
        self.Z = Z
        self.treated = treated
        self.nuisance = nuisance
        self.rng = rng
        self.first_round = first_round
        self._warned: bool = False
        self.cfg = est._settings()
        self.device = est.device_
        self.dtype = est.dtype_
        self.Zt = _as_tensor(Z)
        if self.device.type != "cpu" and Z.nbytes < 2**31:
            self.Zt = self.Zt.to(self.device)

    # ------------------------------------------------------------- one round
    def _design(self, S: list[int]) -> RoundDesign:
        cols = [self.Z[:, S].astype(np.float64)]
        if self.nuisance is not None:
            cols.insert(0, self.nuisance)
        levels = np.column_stack(cols) if cols else np.zeros((len(self.Z), 0))
        est = self.est
        cell, n_used, q_used = make_strata(
            levels,
            self.treated,
            n_strata=est.n_strata,
            min_per_cell=est.min_per_cell,
            cap=self.cfg["cap"],
            positive=self.cfg["positive"],
        )
        design = RoundDesign(
            treated=self.treated,
            cell=cell,
            levels=levels,
            residualize=self.cfg["residualize"],
            min_arm=self.cfg["min_arm"],
            device=self.device,
            n_folds=est.n_folds,
            rng=self.rng,
        )
        design.n_used, design.q_used = n_used, q_used  # type: ignore[attr-defined]
        return design

    def _test(self, design: RoundDesign, cols: np.ndarray) -> tuple[np.ndarray, ...]:
        tau, var, den, p_perm = (np.full(len(cols), np.nan) for _ in range(4))
        start = 0
        contiguous = bool(np.all(np.diff(cols) == 1))
        permute = self.est.test == "permutation"
        for block in _column_blocks(len(self.Z), cols):
            if contiguous:
                Y = self.Zt[:, int(block[0]) : int(block[-1]) + 1]
            else:
                index = torch.as_tensor(block, device=self.Zt.device)
                Y = self.Zt.index_select(1, index)
            Y = Y.to(device=self.device, dtype=self.dtype)
            parts = design.stats(Y)
            sl = slice(start, start + len(block))
            tau[sl], var[sl], den[sl] = parts
            if permute:
                p_perm[sl] = permutation_pvalues(
                    design, Y, self.est.n_permutations, self.rng
                )
            start += len(block)
        se, t, dof, p = t_test_from_parts(tau, var, den)
        return tau, se, t, dof, (p_perm if permute else p)

    def _reject(self, p: np.ndarray, m: int) -> tuple[np.ndarray, float]:
        alpha, correction = self.est.alpha, self.est.correction
        finite = np.where(np.isnan(p), np.inf, p)
        if m == 0:
            return np.zeros(len(p), dtype=bool), 0.0
        if correction == "bonferroni":
            thr = alpha / m
            return finite < thr, thr
        if correction == "none":
            return finite < alpha, alpha
        ranked = np.sort(finite)
        ok = np.flatnonzero(ranked <= alpha * np.arange(1, len(p) + 1) / m)
        thr = alpha * (ok[-1] + 1) / m if len(ok) else 0.0
        return finite <= thr, thr

    def _pick(
        self, tau: np.ndarray, t: np.ndarray, p: np.ndarray, rej: np.ndarray
    ) -> int:
        idx = np.flatnonzero(rej)
        select = self.est.select
        if select == "tau":
            return int(idx[np.argmax(np.abs(tau[idx]))])
        if select == "t":
            return int(idx[np.argmax(np.abs(t[idx]))])
        return int(idx[np.lexsort((-np.abs(t[idx]), p[idx]))[0]])

    # ----------------------------------------------------------------- search
    def _active(self) -> np.ndarray:
        """Neurons that are tested (all of them in reference mode)."""
        m = self.Z.shape[1]
        if self.cfg["reference"]:
            return np.ones(m, dtype=bool)
        nonzero = (self.Z != 0).mean(axis=0)
        constant = self.Z.max(axis=0) == self.Z.min(axis=0)
        return (nonzero >= self.est.min_active) & (nonzero > 0) & ~constant

    def _round(
        self, S: list[int], active: np.ndarray, candidates: np.ndarray
    ) -> tuple[RoundDesign, tuple[np.ndarray, ...], np.ndarray, float, int]:
        """Test one round: the design, full-width (tau, se, t, df, p), the
        rejected mask (before removing ``S``), the threshold and the family size."""
        cfg, m = self.cfg, self.Z.shape[1]
        design = self._design(S)
        # The shipped code tests every neuron (selected ones included) and counts
        # the finite p-values; otherwise only the remaining active neurons.
        tested = (
            np.arange(m) if (cfg["reference"] or not S) else np.flatnonzero(candidates)
        )
        if not S and self.first_round is not None and self.nuisance is None:
            tau_f, var_f, den_f = self.first_round
            parts: tuple[np.ndarray, ...] = (
                tau_f,
                *t_test_from_parts(*self.first_round),
            )
        else:
            parts = self._test(design, tested)
        full = tuple(np.full(m, np.nan) for _ in range(5))
        for out, part in zip(full, parts, strict=True):
            out[tested] = part
        p = full[4]
        if cfg["reference"]:
            n_family = int(np.isfinite(p).sum())
        elif cfg["m_all"]:
            n_family = int(active.sum())
        else:
            n_family = int(candidates.sum())
        self._warn_resolution(n_family)
        rejected, thr = self._reject(np.where(active, p, np.nan), n_family)
        return design, full, rejected, thr, n_family

    def _warn_resolution(self, n_family: int) -> None:
        """Warn once when no permutation p-value can pass the threshold."""
        est = self.est
        if est.test != "permutation" or n_family == 0 or self._warned:
            return
        floor = 1.0 / (est.n_permutations + 1)
        level = est.alpha / n_family if est.correction != "none" else est.alpha
        if floor >= level:
            self._warned = True
            needed = int(np.ceil(2 * n_family / est.alpha))
            warnings.warn(
                f"test='permutation' with n_permutations={est.n_permutations} "
                f"cannot give a p-value below {floor:.2g}, above this round's "
                f"threshold {level:.2g} ({n_family} tested neurons): nothing can be "
                f"rejected. Use n_permutations >= {needed}.",
                UserWarning,
                stacklevel=5,
            )

    @staticmethod
    def _record(
        S: list[int],
        j: int,
        full: tuple[np.ndarray, ...],
        thr: float,
        n_tested: int,
        rejected: np.ndarray,
        design: RoundDesign,
    ) -> dict[str, Any]:
        tau, se, t, dof, p = full
        return {
            "round": len(S) + 1,
            "neuron": j,
            "tau": float(tau[j]),
            "se": float(se[j]),
            "t": float(t[j]),
            "df": float(dof[j]),
            "p": float(p[j]),
            "threshold": float(thr),
            "n_tested": n_tested,
            "n_significant": int(rejected.sum()),
            "n_cells": design.n_cells,
            "n_stratifiers": design.n_used,  # type: ignore[attr-defined]
            "bins": design.q_used,  # type: ignore[attr-defined]
            "n_units_kept": design.n_units_kept,
        }

    def run(self) -> dict[str, Any]:
        est = self.est
        m = self.Z.shape[1]
        active = self._active()
        S: list[int] = []
        rounds: list[dict[str, Any]] = []
        first: dict[str, np.ndarray] = {}
        stop = "no candidates"
        while est.max_rounds is None or len(S) < est.max_rounds:
            candidates = active.copy()
            candidates[S] = False
            if not candidates.any():
                stop = "no candidates"
                break
            design, full, rejected, thr, _ = self._round(S, active, candidates)
            if not S:
                first = _first_round(full, rejected & active)
            rejected &= candidates
            if not np.isfinite(full[4][candidates]).any():
                stop = "no valid p-value"
                break
            if not rejected.any():
                stop = "no rejection"
                break
            j = self._pick(full[0], full[2], full[4], rejected)
            n_tested = int(candidates.sum())
            rounds.append(self._record(S, j, full, thr, n_tested, rejected, design))
            S.append(j)
        else:
            stop = "max_rounds"
        if not first:  # no active neuron: report the naive round anyway
            full = self._test(self._design([]), np.arange(m))
            first = _first_round(full, np.zeros(m, dtype=bool))
        return {
            **first,
            "selected_features_": np.asarray(S, dtype=np.int64),
            "selection_effects_": np.array([r["tau"] for r in rounds]),
            "selection_std_errors_": np.array([r["se"] for r in rounds]),
            "selection_p_values_": np.array([r["p"] for r in rounds]),
            "rounds_": rounds,
            "stop_reason_": stop,
            "active_mask_": active,
        }


def _first_round(full: tuple[np.ndarray, ...], rejected: np.ndarray) -> dict[str, Any]:
    tau, se, _, dof, p = full
    return {
        "effects_": tau.copy(),
        "std_errors_": se.copy(),
        "p_values_": p.copy(),
        "dofs_": dof.copy(),
        "first_round_significant_": np.flatnonzero(rejected),
    }
