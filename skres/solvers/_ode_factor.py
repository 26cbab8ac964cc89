"""Block-banded Cholesky factors (blocked torch and LAPACK) and their autograd solve."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

# --------------------------------------------------------------------------------------
# blocked Cholesky factor and substitutions
# --------------------------------------------------------------------------------------


_NOT_SPD = (
    "The normal matrix of the linear ODE system is not positive definite "
    "(Cholesky failed at step {step}). Check the initial values (the "
    "system needs enough of them to be well posed), the step sizes and the "
    "coefficients, or use float64."
)


@dataclass
class _BandedFactor:
    """Blocked Cholesky ``M = L L^T`` of a block tri/pentadiagonal SPD matrix.

    Stored as precomputed substitution operators (each of shape ``(*lhs, k, b, b)``):
    ``Linv`` the inverse diagonal factors, ``G``/``K`` the forward couplings to the
    previous one/two steps, ``Ht``/``Jt`` the backward couplings.
    """

    Linv: torch.Tensor
    G: torch.Tensor
    Ht: torch.Tensor
    K: torch.Tensor | None
    Jt: torch.Tensor | None

    @property
    def n_blocks(self) -> int:
        """Number of stored ``b x b`` blocks (O(n))."""
        total = self.Linv.shape[-3] + self.G.shape[-3] + self.Ht.shape[-3]
        if self.K is not None and self.Jt is not None:
            total += self.K.shape[-3] + self.Jt.shape[-3]
        return int(total)

    def solve(self, rhs: torch.Tensor) -> torch.Tensor:
        """Solve ``M x = rhs`` for ``rhs`` of shape ``(..., n, b)``."""
        n = self.Linv.shape[-3]
        # forward: y_s = Linv_s b_s - G_s y_{s-1} - K_s y_{s-2}
        cvec = self.Linv @ rhs[..., None]  # (..., n, b, 1)
        ys: list[torch.Tensor] = []
        for s in range(n):
            y = cvec[..., s, :, :]
            if s >= 1:
                y = y - self.G[..., s - 1, :, :] @ ys[s - 1]
            if s >= 2 and self.K is not None:
                y = y - self.K[..., s - 2, :, :] @ ys[s - 2]
            ys.append(y)
        yv = torch.stack(ys, dim=-3)
        # backward: x_s = Linv_s^T y_s - Ht_s x_{s+1} - Jt_s x_{s+2}
        dvec = self.Linv.mT @ yv
        xs: list[torch.Tensor] = [dvec[..., 0, :, :]] * n
        for s in range(n - 1, -1, -1):
            x = dvec[..., s, :, :]
            if s <= n - 2:
                x = x - self.Ht[..., s, :, :] @ xs[s + 1]
            if s <= n - 3 and self.Jt is not None:
                x = x - self.Jt[..., s, :, :] @ xs[s + 2]
            xs[s] = x
        return torch.stack(xs, dim=-3)[..., 0]


def _factor(D: torch.Tensor, E: torch.Tensor, F: torch.Tensor | None) -> _BandedFactor:
    """Blocked Cholesky of the block-banded matrix, sequential over steps.

    Raises
    ------
    ValueError
        If a diagonal block is not positive definite (the system is singular or
        numerically indefinite).
    """
    n = D.shape[-3]
    Ls: list[torch.Tensor] = []
    Es: list[torch.Tensor] = []
    Fs: list[torch.Tensor] = []
    infos: list[torch.Tensor] = []
    for s in range(n):
        Ds = D[..., s, :, :]
        if s >= 2 and F is not None:
            Fp = torch.linalg.solve_triangular(
                Ls[s - 2].mT, F[..., s - 2, :, :], upper=True, left=False
            )
            Fs.append(Fp)
            Ds = Ds - Fp @ Fp.mT
        if s >= 1:
            Em = E[..., s - 1, :, :]
            if s >= 2 and F is not None:
                Em = Em - Fs[s - 2] @ Es[s - 2].mT
            Ep = torch.linalg.solve_triangular(Ls[s - 1].mT, Em, upper=True, left=False)
            Es.append(Ep)
            Ds = Ds - Ep @ Ep.mT
        L, info = torch.linalg.cholesky_ex(Ds)
        Ls.append(L)
        infos.append(info)
    info = torch.stack(infos, dim=-1)
    bad = info != 0
    if bool(bad.any()):
        first = int(bad.reshape(-1, n).any(0).nonzero()[0, 0])
        raise ValueError(_NOT_SPD.format(step=first))
    L = torch.stack(Ls, dim=-3)
    eye = torch.eye(L.shape[-1], dtype=L.dtype, device=L.device)
    Linv = torch.linalg.solve_triangular(L, eye.expand_as(L), upper=False)
    Ep_all = torch.stack(Es, dim=-3)  # (..., n-1, b, b): L_{s+1,s}
    G = Linv[..., 1:, :, :] @ Ep_all  # forward coupling of y_{s+1} to y_s
    Ht = Linv[..., :-1, :, :].mT @ Ep_all.mT  # backward coupling of x_s to x_{s+1}
    K = Jt = None
    if F is not None and Fs:
        Fp_all = torch.stack(Fs, dim=-3)  # (..., n-2, b, b): L_{s+2,s}
        K = Linv[..., 2:, :, :] @ Fp_all
        Jt = Linv[..., :-2, :, :].mT @ Fp_all.mT
    return _BandedFactor(Linv, G, Ht, K, Jt)


@dataclass
class _LapackBandedFactor:
    """LAPACK banded Cholesky (``?pbtrf``) of the same block-banded matrix (CPU).

    The normal matrix has half-bandwidth ``kd = 2b - 1`` (``3b - 1`` with central
    rows) in scalar terms, so it is stored in LAPACK lower band storage, one band
    array per distinct left-hand side, and factored and solved by compiled code
    (``?pbtrf`` / ``?pbtrs``): no Python work per step. Used on CPU; the blocked
    torch factor (:class:`_BandedFactor`) serves every other device.
    """

    bands: Any  # ndarray (L, n * b, kd + 1): band_l.T is the LAPACK array
    lhs_batch: tuple[int, ...]
    n_steps: int
    block: int
    dtype: torch.dtype

    @property
    def n_blocks(self) -> int:
        """Number of ``b x b`` blocks the band storage amounts to (O(n))."""
        kd1 = self.bands.shape[-1]
        return int(math.ceil(self.n_steps * kd1 / self.block))

    def solve(self, rhs: torch.Tensor) -> torch.Tensor:
        """Solve ``M x = rhs`` for ``rhs`` of shape ``(..., n, b)``."""
        import numpy as np
        from scipy.linalg import get_lapack_funcs

        batch = tuple(rhs.shape[:-2])
        N = self.n_steps * self.block
        r = rhs.detach().to(self.dtype).reshape(-1, N).numpy()
        (pbtrs,) = get_lapack_funcs(("pbtrs",), dtype=r.dtype)
        L = self.bands.shape[0]
        which = np.broadcast_to(np.arange(L).reshape(self.lhs_batch), batch).reshape(-1)
        x = np.empty_like(r)
        if L == 1:
            x[:] = pbtrs(self.bands[0].T, r.T, lower=1)[0].T
        else:
            for ell in range(L):
                cols = np.flatnonzero(which == ell)
                if cols.size:
                    x[cols] = pbtrs(self.bands[ell].T, r[cols].T, lower=1)[0].T
        return torch.from_numpy(x).reshape(rhs.shape)


def _band_storage(D: torch.Tensor, E: torch.Tensor, F: torch.Tensor | None) -> Any:
    """Lower band storage ``(L, n * b, kd + 1)`` of the block-banded matrix."""
    import numpy as np

    n, b = D.shape[-3], D.shape[-1]
    kd1 = (3 if F is not None else 2) * b
    Dn = D.reshape((-1,) + tuple(D.shape[-3:])).numpy()
    En = E.reshape((-1,) + tuple(E.shape[-3:])).numpy()
    L = Dn.shape[0]
    bands = np.zeros((L, n, b, kd1), dtype=Dn.dtype)
    Fn = None
    if F is not None and n >= 3:
        Fn = F.reshape((-1,) + tuple(F.shape[-3:])).numpy()
    # one strided copy per block entry (b^2 of them, each over all systems and steps)
    for r in range(b):
        for c in range(b):
            if r >= c:
                bands[:, :, c, r - c] = Dn[:, :, r, c]
            bands[:, : n - 1, c, b + r - c] = En[:, :, r, c]
            if Fn is not None:
                bands[:, : n - 2, c, 2 * b + r - c] = Fn[:, :, r, c]
    return bands.reshape(L, n * b, kd1)


def _factor_lapack(
    D: torch.Tensor, E: torch.Tensor, F: torch.Tensor | None
) -> _LapackBandedFactor:
    """LAPACK banded Cholesky of the blocks (CPU, float32/float64)."""
    import numpy as np
    from scipy.linalg import get_lapack_funcs

    n, b = D.shape[-3], D.shape[-1]
    bands = _band_storage(D, E, F if n >= 3 else None)
    (pbtrf,) = get_lapack_funcs(("pbtrf",), dtype=bands.dtype)
    for ell in range(bands.shape[0]):
        # band.T is Fortran-ordered: LAPACK factors it in place, no copy
        factor, info = pbtrf(bands[ell].T, lower=1, overwrite_ab=1)
        if info > 0:
            raise ValueError(_NOT_SPD.format(step=(info - 1) // b))
        if info < 0:  # pragma: no cover - argument error, a bug here
            raise RuntimeError(f"LAPACK pbtrf failed with info={info}.")
        if not np.shares_memory(factor, bands):
            bands[ell] = factor.T
    return _LapackBandedFactor(bands, tuple(D.shape[:-3]), n, b, D.dtype)


def _sum_to(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(dim=tuple(range(extra)))
    dims = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    if dims:
        grad = grad.sum(dim=dims, keepdim=True)
    return grad


class _BandedSolve(torch.autograd.Function):
    """``x = M^{-1} rhs`` with M given by blocks; backward reuses the factor."""

    @staticmethod
    def forward(
        ctx: Any,
        factor: _BandedFactor | _LapackBandedFactor,
        rhs: torch.Tensor,
        D: torch.Tensor | None,
        E: torch.Tensor | None,
        F: torch.Tensor | None,
    ) -> torch.Tensor:
        x = factor.solve(rhs)
        ctx.factor = factor
        ctx.shapes = tuple(None if a is None else a.shape for a in (D, E, F))
        ctx.save_for_backward(x)
        return x

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g: torch.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        gb = ctx.factor.solve(g)
        sD, sE, sF = ctx.shapes
        gD = gE = gF = None
        if sD is not None and ctx.needs_input_grad[2]:
            gD = _sum_to(-gb[..., :, None] * x[..., None, :], sD)
        if sE is not None and ctx.needs_input_grad[3]:
            gE = -(
                gb[..., 1:, :, None] * x[..., :-1, None, :]
                + x[..., 1:, :, None] * gb[..., :-1, None, :]
            )
            gE = _sum_to(gE, sE)
        if sF is not None and ctx.needs_input_grad[4]:
            gF = -(
                gb[..., 2:, :, None] * x[..., :-2, None, :]
                + x[..., 2:, :, None] * gb[..., :-2, None, :]
            )
            gF = _sum_to(gF, sF)
        gr = gb if ctx.needs_input_grad[1] else None
        return None, gr, gD, gE, gF
