"""Linear-time least-squares solver for time-varying linear ODEs (S-MNN layer).

A *mechanistic block* (Pervez et al., ICML 2024) describes, at each of ``n`` time
points ``t_s``, a linear ODE of order ``m`` with time-varying coefficients,

.. math:: \\sum_{k=0}^{m} c_{s,e,i,k}\\, u_i^{(k)}(t_s) = r_{s,e},

for equations ``e`` over state dimensions ``i``, plus initial values. The unknowns
are the Taylor "jets" ``z_s = (u_i^{(k)}(t_s))_{i,k}`` and the solution is the
weighted least-squares solution of three row families: equation rows, initial-value
rows and smoothness rows (forward and backward Taylor expansions between
neighbouring steps, each multiplied by ``h^k``; optionally the MNN central-difference
row for the top order). Every row couples at most steps ``s`` and ``s + 1`` (``s + 2``
for central rows), so the normal matrix ``A^T A`` is block tridiagonal (block
pentadiagonal) with blocks of size ``b = n_dims * n_orders`` (Chen et al., *Scalable
Mechanistic Neural Networks*, ICLR 2025).

:func:`solve_linear_ode` assembles those blocks directly (the row matrix ``A`` is
never formed; the Taylor blocks in closed form), and factors them on CPU by LAPACK's
banded Cholesky (``?pbtrf``/``?pbtrs`` on the scalar band of half-width
``2b - 1``, or ``3b - 1`` with central rows; one call per distinct left-hand side),
elsewhere (GPU) by a blocked Cholesky that is sequential over steps and batched over
everything else, with block substitution: O(n b^3) time and O(n b^2) memory either
way. Its backward pass reuses the factor: one more substitution gives
``g_b = M^{-1} g``, and the block gradients are outer products of ``g_b`` with the
solution; ordinary autograd maps them back to coefficients, right-hand side,
initial values and step sizes. :func:`solve_linear_ode_dense` is the O(n^3) dense
reference built row by row from the same definitions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .._validation import check_not_meta

__all__ = [
    "LinearODEFactorCache",
    "LinearODESolver",
    "solve_linear_ode",
    "solve_linear_ode_dense",
]


# --------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------


@dataclass
class _Problem:
    coefficients: torch.Tensor  # (*lhs, n|1, n_eq, d, m1)
    rhs: torch.Tensor  # (*rb, n|1, n_eq)
    init_vars: torch.Tensor  # (*ib, n_iv_steps, d, n_iv_orders)
    steps: torch.Tensor  # (*sb, n-1|1)
    n_steps: int
    n_dims: int
    n_orders: int
    lhs_batch: tuple[int, ...]
    batch: tuple[int, ...]


def _as_tensor(value: Any, name: str, dtype: torch.dtype | None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(value, dtype=dtype or torch.float64)
    if not torch.is_floating_point(value):
        value = value.to(torch.float64)
    if not bool(torch.isfinite(value.detach()).all()):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return value


def _prepare(
    coefficients: Any,
    rhs: Any,
    init_vars: Any,
    steps: Any,
    n_steps: int | None,
) -> _Problem:
    dtype = coefficients.dtype if isinstance(coefficients, torch.Tensor) else None
    coefficients = _as_tensor(coefficients, "coefficients", dtype)
    dtype, device = coefficients.dtype, coefficients.device
    rhs = _as_tensor(rhs, "rhs", dtype).to(dtype=dtype, device=device)
    init_vars = _as_tensor(init_vars, "init_vars", dtype).to(dtype=dtype, device=device)
    steps = _as_tensor(steps, "steps", dtype).to(dtype=dtype, device=device)
    if coefficients.ndim < 4:
        raise ValueError(
            "coefficients must have shape (..., n_steps, n_equations, n_dims, "
            f"n_orders); got {tuple(coefficients.shape)}."
        )
    if rhs.ndim < 2:
        raise ValueError(
            f"rhs must have shape (..., n_steps, n_equations); got {tuple(rhs.shape)}."
        )
    if init_vars.ndim < 3:
        raise ValueError(
            "init_vars must have shape (..., n_init_steps, n_dims, n_init_orders); "
            f"got {tuple(init_vars.shape)}."
        )
    if steps.ndim < 1:
        raise ValueError("steps must have shape (..., n_steps - 1).")
    n_eq, d, m1 = coefficients.shape[-3:]
    if m1 < 2:
        raise ValueError(f"n_orders (last dim of coefficients) must be >= 2; got {m1}.")
    if rhs.shape[-1] != n_eq:
        raise ValueError(
            f"rhs has {rhs.shape[-1]} equations but coefficients have {n_eq}."
        )
    if init_vars.shape[-2] != d:
        raise ValueError(
            f"init_vars has {init_vars.shape[-2]} dims but coefficients have {d}."
        )
    if init_vars.shape[-1] > m1:
        raise ValueError(
            f"init_vars has {init_vars.shape[-1]} orders, more than n_orders={m1}."
        )
    inferred = max(coefficients.shape[-4], rhs.shape[-2], steps.shape[-1] + 1)
    n = inferred if n_steps is None else int(n_steps)
    if n < 2:
        raise ValueError(f"n_steps must be >= 2; got {n}.")
    for name, size, full in (
        ("coefficients", coefficients.shape[-4], n),
        ("rhs", rhs.shape[-2], n),
        ("steps", steps.shape[-1], n - 1),
    ):
        if size not in (1, full):
            raise ValueError(
                f"{name} has {size} steps along the step axis; expected 1 or {full}."
            )
    if init_vars.shape[-3] > n:
        raise ValueError("init_vars has more initial steps than n_steps.")
    if bool((steps.detach() <= 0).any()):
        raise ValueError("steps must be strictly positive.")
    lhs_batch = tuple(torch.broadcast_shapes(coefficients.shape[:-4], steps.shape[:-1]))
    batch = tuple(
        torch.broadcast_shapes(lhs_batch, rhs.shape[:-2], init_vars.shape[:-3])
    )
    return _Problem(coefficients, rhs, init_vars, steps, n, d, m1, lhs_batch, batch)


def _weights(weights: Sequence[float]) -> tuple[float, float, float]:
    if len(weights) != 3:
        raise ValueError(
            "weights must be (equation, initial, smoothness); "
            f"got {len(weights)} values."
        )
    out = tuple(float(w) for w in weights)
    if not all(math.isfinite(w) and w > 0 for w in out):
        raise ValueError(f"weights must be positive and finite; got {weights}.")
    return out  # type: ignore[return-value]


# --------------------------------------------------------------------------------------
# smoothness rows (shared by the banded assembly and the dense reference)
# --------------------------------------------------------------------------------------


def _taylor_rows(
    h: torch.Tensor, m1: int, central: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward Taylor rows between steps s and s+1.

    Returns ``(A, C)`` of shape ``(..., n-1, R, m1)``: the coefficients of each row
    on ``z_s`` and ``z_{s+1}`` (for one state dimension).
    """
    n_rows = m1 - 1 if central else m1
    j = torch.arange(m1, dtype=h.dtype, device=h.device)
    k = torch.arange(n_rows, dtype=h.dtype, device=h.device)
    diff = j[None, :] - k[:, None]  # (R, m1)
    inv_fact = torch.where(
        diff >= 0,
        1.0 / torch.exp(torch.lgamma(diff.clamp(min=0) + 1.0)),
        torch.zeros((), dtype=h.dtype, device=h.device),
    )
    hj = h[..., None] ** j  # (..., n-1, m1)
    mh = -h
    mhj = mh[..., None] ** j
    eye = (j[None, :] == k[:, None]).to(h.dtype)  # (R, m1)
    hk = h[..., None] ** k  # (..., n-1, R)
    mhk = mh[..., None] ** k
    fwd_a = inv_fact * hj[..., None, :]
    fwd_c = -eye * hk[..., :, None]
    bwd_c = inv_fact * mhj[..., None, :]
    bwd_a = -eye * mhk[..., :, None]
    return torch.cat([fwd_a, bwd_a], dim=-2), torch.cat([fwd_c, bwd_c], dim=-2)


def _central_rows(
    h: torch.Tensor, m1: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MNN central rows at s = 1..n-2: coefficients on z_{s-1}, z_s, z_{s+1}."""
    m = m1 - 1
    H = h[..., :-1] + h[..., 1:]  # (..., n-2)
    zero = torch.zeros(H.shape + (m1,), dtype=h.dtype, device=h.device)
    e_top = torch.zeros(m1, dtype=h.dtype, device=h.device)
    e_top[m] = 1.0
    e_sub = torch.zeros(m1, dtype=h.dtype, device=h.device)
    e_sub[m - 1] = 1.0
    p = zero - (H ** (m - 2))[..., None] * e_sub
    q = zero - (H ** (m - 1))[..., None] * e_top
    return p, q, -p


def _kron_dims(S: torch.Tensor, d: int) -> torch.Tensor:
    """``kron(I_d, S)`` for a batch of ``(m1, m1)`` blocks."""
    m1 = S.shape[-1]
    eye = torch.eye(d, dtype=S.dtype, device=S.device)
    out = eye[:, None, :, None] * S[..., None, :, None, :]
    return out.reshape(S.shape[:-2] + (d * m1, d * m1))


# --------------------------------------------------------------------------------------
# banded assembly
# --------------------------------------------------------------------------------------


def _taylor_normal_blocks(
    h: torch.Tensor, m1: int, central: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``A^T A``, ``C^T C`` and ``C^T A`` of the Taylor rows, in closed form.

    With ``e[j, l] = h^(j + l)``, the forward rows ``sum_j h^j/(j-k)! z_s[j] -
    h^k z_{s+1}[k]`` and the backward rows (``h -> -h``, roles swapped) give
    ``A^T A = e * (P + I')``, ``C^T C = e * (S P + I')`` and
    ``C^T A = -e * (T + S T^T)``, where ``T[k, j] = 1/(j-k)!`` (rows ``k`` kept),
    ``P = T^T T``, ``S[j, l] = (-1)^(j + l)`` and ``I'`` the identity on the kept
    orders: elementwise products only (no small batched matmuls), each of shape
    ``(..., n-1, m1, m1)``.
    """
    n_rows = m1 - 1 if central else m1
    dt, dev = h.dtype, h.device
    j = torch.arange(m1, dtype=dt, device=dev)
    diff = j[None, :] - j[:, None]
    T = torch.where(
        diff >= 0,
        1.0 / torch.exp(torch.lgamma(diff.clamp(min=0) + 1.0)),
        torch.zeros((), dtype=dt, device=dev),
    )
    T[n_rows:] = 0.0
    sign = 1.0 - 2.0 * (torch.arange(m1, device=dev) % 2).to(dt)
    S = sign[:, None] * sign[None, :]
    eye = torch.diag((torch.arange(m1, device=dev) < n_rows).to(dt))
    P = T.mT @ T
    blocks = torch.stack([P + eye, S * P + eye, -(T + S * T.mT)])  # (3, m1, m1)
    # e * K for all three K at once: powers h^0..h^(2m1-2) times a (2m1-1, 3 m1^2)
    # matrix that scatters K[j, l] to power j + l (one gemm over all steps)
    power = (j[:, None] + j[None, :]).to(torch.long)
    scatter = torch.zeros(2 * m1 - 1, 3, m1, m1, dtype=dt, device=dev)
    scatter.scatter_(0, power.expand(1, 3, m1, m1), blocks[None])
    powers = [torch.ones_like(h), h]
    for _ in range(2 * m1 - 3):
        powers.append(powers[-1] * h)
    hp = torch.stack(powers, dim=-1)  # (..., n-1, 2m1-1)
    out = (hp @ scatter.reshape(2 * m1 - 1, -1)).unflatten(-1, (3, m1, m1))
    return out[..., 0, :, :], out[..., 1, :, :], out[..., 2, :, :]


def _assemble_lhs(
    p: _Problem, central: bool, w: tuple[float, float, float]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Blocks of ``A^T W A``: diagonal D (n), sub-diagonal E (n-1), distance-2 F."""
    n, d, m1 = p.n_steps, p.n_dims, p.n_orders
    b = d * m1
    we, wi, ws = (x * x for x in w)
    h = p.steps.expand(p.steps.shape[:-1] + (n - 1,))
    Saa, Scc, Sca = _taylor_normal_blocks(h, m1, central)
    pad = torch.nn.functional.pad
    Dsm = pad(Saa, (0, 0, 0, 0, 0, 1)) + pad(Scc, (0, 0, 0, 0, 1, 0))
    Esm = Sca
    Fsm = None
    if central and n >= 3:
        # the central rows touch one order each: scalar updates of 3 entries
        m = m1 - 1
        H = h[..., :-1] + h[..., 1:]  # (..., n-2)
        h2a, h2b, hab = H ** (2 * m - 4), H ** (2 * m - 2), H ** (2 * m - 3)
        Dsm = Dsm.clone()
        Dsm[..., :-2, m - 1, m - 1] += h2a
        Dsm[..., 2:, m - 1, m - 1] += h2a
        Dsm[..., 1:-1, m, m] += h2b
        Esm = Esm.clone()
        Esm[..., :-1, m, m - 1] += hab
        Esm[..., 1:, m - 1, m] -= hab
        Fsm = torch.zeros(H.shape + (m1, m1), dtype=h.dtype, device=h.device)
        Fsm[..., m - 1, m - 1] = -h2a
    D = ws * (Dsm if d == 1 else _kron_dims(Dsm, d))
    E = ws * (Esm if d == 1 else _kron_dims(Esm, d))
    if Fsm is not None:
        Fsm = ws * (Fsm if d == 1 else _kron_dims(Fsm, d))
    # equation rows: sum over equations of outer products (elementwise)
    Cf = p.coefficients.reshape(p.coefficients.shape[:-2] + (b,))  # (..., n|1, q, b)
    if Cf.shape[-2] == 1:
        CtC = Cf[..., 0, :, None] * Cf[..., 0, None, :]
    else:
        CtC = (Cf[..., :, :, None] * Cf[..., :, None, :]).sum(-3)
    D = D + we * CtC
    # initial-value rows: weight on the imposed entries of the first steps
    n_iv, n_ivo = p.init_vars.shape[-3], p.init_vars.shape[-1]
    mask = torch.zeros(n_iv, d, m1, dtype=h.dtype, device=h.device)
    mask[:, :, :n_ivo] = wi
    full = torch.broadcast_shapes(D.shape, p.lhs_batch + (n, b, b))
    if D.shape != full:
        D = D.expand(full).clone()
    D[..., :n_iv, :, :] += torch.diag_embed(mask.reshape(n_iv, b))
    E = E.expand(p.lhs_batch + (n - 1, b, b))
    F = None if Fsm is None else Fsm.expand(p.lhs_batch + (n - 2, b, b))
    return D, E, F


def _assemble_rhs(p: _Problem, w: tuple[float, float, float]) -> torch.Tensor:
    """``A^T W b`` as an array of shape ``(*batch, n, b)``."""
    n, d, m1 = p.n_steps, p.n_dims, p.n_orders
    b = d * m1
    we, wi = w[0] ** 2, w[1] ** 2
    Cf = p.coefficients.reshape(p.coefficients.shape[:-2] + (b,))
    eq = we * (Cf * p.rhs[..., None]).sum(-2)  # (..., n|1, b)
    eq = eq.expand(torch.broadcast_shapes(eq.shape[:-2], p.batch) + (n, b))
    n_iv, n_ivo = p.init_vars.shape[-3], p.init_vars.shape[-1]
    iv = torch.nn.functional.pad(p.init_vars, (0, m1 - n_ivo, 0, 0, 0, n - n_iv))
    iv = wi * iv.reshape(iv.shape[:-3] + (n, b))
    return (eq + iv).expand(p.batch + (n, b))


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


def _use_lapack(D: torch.Tensor) -> bool:
    return D.device.type == "cpu" and D.dtype in (torch.float32, torch.float64)


def _make_factor(
    D: torch.Tensor, E: torch.Tensor, F: torch.Tensor | None
) -> _BandedFactor | _LapackBandedFactor:
    """The fastest factor for the device: LAPACK on CPU, blocked torch elsewhere."""
    if _use_lapack(D):
        return _factor_lapack(D, E, F)
    return _factor(D, E, F)


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


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


@dataclass
class LinearODEFactorCache:
    """Frozen-LHS cache for :func:`solve_linear_ode`, held by the caller.

    When the coefficients and step sizes stay fixed between calls and only the
    right-hand side or the initial values change (e.g. ODE discovery, where the
    right-hand side is a library times sparse weights), pass the same cache to
    every call: the blocked Cholesky factor is computed once and reused, and a call
    only assembles ``A^T b`` and substitutes. The cache compares the coefficients,
    steps, batch shapes and options of each call with the cached ones and
    refactors on any change, so it never returns a stale solution. With a cache,
    no gradients flow to ``coefficients`` or ``steps``.

    Attributes
    ----------
    n_factorizations : int
        How many times a factor was computed (for diagnostics).
    """

    n_factorizations: int = 0
    _key: tuple[Any, ...] | None = field(default=None, repr=False)
    _lhs: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)
    _factor: _BandedFactor | _LapackBandedFactor | None = field(
        default=None, repr=False
    )

    def clear(self) -> None:
        """Forget the cached factor."""
        self._key = self._lhs = self._factor = None

    def _get(
        self, p: _Problem, central: bool, w: tuple[float, float, float]
    ) -> _BandedFactor | _LapackBandedFactor:
        coef = p.coefficients.detach()
        steps = p.steps.detach()
        key = (
            tuple(coef.shape),
            tuple(steps.shape),
            tuple(p.init_vars.shape[-3:]),
            p.n_steps,
            coef.dtype,
            coef.device,
            central,
            w,
        )
        if (
            self._factor is not None
            and self._key == key
            and self._lhs is not None
            and torch.equal(self._lhs[0], coef)
            and torch.equal(self._lhs[1], steps)
        ):
            return self._factor
        q = _Problem(
            coef,
            p.rhs,
            p.init_vars.detach(),
            steps,
            p.n_steps,
            p.n_dims,
            p.n_orders,
            p.lhs_batch,
            p.batch,
        )
        D, E, F = _assemble_lhs(q, central, w)
        self._factor = _make_factor(D, E, F)
        self._key = key
        self._lhs = (coef.clone(), steps.clone())
        self.n_factorizations += 1
        return self._factor


_LOW_PRECISION = (torch.float32, torch.float16, torch.bfloat16)


def _promote(*values: Any) -> tuple[tuple[Any, ...], torch.dtype | None]:
    """Cast float32/16 tensors to float64; return them and the dtype to give back.

    The normal equations square the condition number of the row system, so the
    blocked Cholesky in single precision loses most digits at small steps (u''+u=0
    at h=1e-3 is off by about 1 in float32). Low-precision inputs are therefore
    solved in float64 and the solution is cast back to the coefficients' dtype.
    """
    names = ("coefficients", "rhs", "init_vars", "steps")
    for name, value in zip(names, values, strict=True):
        check_not_meta(value, name)
    coefficients = values[0]
    if not (
        isinstance(coefficients, torch.Tensor) and coefficients.dtype in _LOW_PRECISION
    ):
        return values, None
    promoted = tuple(
        v.to(torch.float64)
        if isinstance(v, torch.Tensor) and v.is_floating_point()
        else v
        for v in values
    )
    return promoted, coefficients.dtype


def _check_initial_values(p: _Problem) -> None:
    """Raise unless ``init_vars`` pins as many values as the ODE's order needs."""
    nonzero = (p.coefficients.detach() != 0).reshape(-1, p.n_orders).any(dim=0)
    orders = torch.nonzero(nonzero).flatten()
    ode_order = int(orders.max()) if orders.numel() else 0
    n_iv_steps, n_iv_orders = p.init_vars.shape[-3], p.init_vars.shape[-1]
    if n_iv_steps * n_iv_orders < ode_order:
        raise ValueError(
            f"init_vars pins {n_iv_orders} derivative order(s) at {n_iv_steps} "
            f"step(s), but the ODE is of order {ode_order} (coefficients of "
            f"derivative {ode_order} are non-zero) and needs {ode_order} initial "
            f"values per dimension, e.g. u, ..., u^({ode_order - 1}) at the first "
            "step (init_vars of shape (..., 1, n_dims, "
            f"{ode_order})); otherwise the solution is not determined."
        )


def solve_linear_ode(
    coefficients: Any,
    rhs: Any,
    init_vars: Any,
    steps: Any,
    *,
    central_smoothness: bool = False,
    weights: Sequence[float] = (1.0, 1.0, 1.0),
    n_steps: int | None = None,
    cache: LinearODEFactorCache | None = None,
) -> torch.Tensor:
    """Solve a batch of time-varying linear ODEs in linear time (S-MNN solver).

    Finds the jets ``u[..., s, i, k] = u_i^{(k)}(t_s)`` minimising the weighted sum
    of squared residuals of the equation rows
    ``sum_{i,k} coefficients[..., s, e, i, k] u[..., s, i, k] = rhs[..., s, e]``,
    the initial-value rows ``u[..., s, i, k] = init_vars[..., s, i, k]`` and the
    Taylor smoothness rows between neighbouring steps, by a blocked Cholesky
    factorisation of the block-banded normal equations (O(n) in the number of
    steps). Differentiable with respect to all four tensor inputs.

    Parameters
    ----------
    coefficients : tensor of shape (..., n_steps or 1, n_equations, n_dims, n_orders)
        ODE coefficients; ``n_orders = order + 1`` (the last index is the
        derivative order). A step axis of size 1 means constant in time.
    rhs : tensor of shape (..., n_steps or 1, n_equations)
        Right-hand side of each equation.
    init_vars : tensor of shape (..., n_init_steps, n_dims, n_init_orders)
        Values imposed on the first ``n_init_steps`` steps for the derivative
        orders ``0..n_init_orders - 1``.
    steps : tensor of shape (..., n_steps - 1 or 1)
        Positive step sizes ``t_{s+1} - t_s`` (may differ per step and batch).
    central_smoothness : bool, default=False
        Add the MNN central-difference row for the top order (and drop the
        top-order continuity rows), making the system block pentadiagonal.
    weights : tuple of 3 floats, default=(1, 1, 1)
        Weights of the equation, initial-value and smoothness rows (squared in the
        least-squares objective).
    n_steps : int, optional
        Number of steps, needed only when every input has a step axis of size 1.
    cache : LinearODEFactorCache, optional
        Reuse the factor across calls with the same coefficients and steps
        (frozen LHS); gradients then flow only to ``rhs`` and ``init_vars``.

    Returns
    -------
    u : tensor of shape (..., n_steps, n_dims, n_orders)
        The solution and its derivatives at every step, in the dtype of
        ``coefficients``. float32/float16/bfloat16 problems are solved in float64
        and cast back (single precision loses most digits in the normal
        equations at small steps).

    Raises
    ------
    ValueError
        On inconsistent shapes, non-finite values, non-positive steps, fewer
        initial values than the ODE's order (the highest derivative with a
        non-zero coefficient) needs, or a normal matrix that is not positive
        definite.

    Examples
    --------
    >>> import torch
    >>> from skres.solvers import solve_linear_ode
    >>> n, h = 101, 0.01  # u' = -u, u(0) = 1 on [0, 1]
    >>> coef = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    >>> u = solve_linear_ode(coef, torch.zeros(1, 1, dtype=torch.float64),
    ...                      torch.ones(1, 1, 1, dtype=torch.float64),
    ...                      torch.full((n - 1,), h, dtype=torch.float64))
    >>> u.shape
    torch.Size([101, 1, 3])
    >>> abs(float(u[-1, 0, 0]) - torch.exp(torch.tensor(-1.0)).item()) < 1e-4
    True
    """
    (coefficients, rhs, init_vars, steps), out_dtype = _promote(
        coefficients, rhs, init_vars, steps
    )
    p = _prepare(coefficients, rhs, init_vars, steps, n_steps)
    _check_initial_values(p)
    w = _weights(weights)
    central = bool(central_smoothness)
    if cache is not None:  # frozen LHS: no gradients to coefficients or steps
        p.coefficients = p.coefficients.detach()
        p.steps = p.steps.detach()
    rhs_vec = _assemble_rhs(p, w)
    if cache is not None:
        factor = cache._get(p, central, w)
        x = _BandedSolve.apply(factor, rhs_vec, None, None, None)
    else:
        D, E, F = _assemble_lhs(p, central, w)
        with torch.no_grad():
            factor = _make_factor(
                D.detach(), E.detach(), None if F is None else F.detach()
            )
        x = _BandedSolve.apply(factor, rhs_vec, D, E, F)
    u = x.reshape(x.shape[:-1] + (p.n_dims, p.n_orders))
    return u if out_dtype is None else u.to(out_dtype)


def _dense_rows(
    p: _Problem, central: bool, w: tuple[float, float, float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The full weighted row matrix ``A`` and vector ``b`` (dense, for reference)."""
    n, d, m1 = p.n_steps, p.n_dims, p.n_orders
    b = d * m1
    batch = p.batch
    dt = p.coefficients.dtype
    dev = p.coefficients.device
    blocks: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    we, wi, ws = w
    # equation rows
    C = p.coefficients.expand(
        p.coefficients.shape[:-4] + (n,) + p.coefficients.shape[-3:]
    )
    C = C.expand(batch + C.shape[-4:])
    q = C.shape[-3]
    Cf = C.reshape(batch + (n, q, b))
    eye_n = torch.eye(n, dtype=dt, device=dev)
    Aeq = Cf[..., :, :, None, :] * eye_n[:, None, :, None]  # (..., n, q, n, b)
    blocks.append(we * Aeq.reshape(batch + (n * q, n * b)))
    r = p.rhs.expand(batch + (n, q))
    targets.append(we * r.reshape(batch + (n * q,)))
    # initial rows
    n_iv, n_ivo = p.init_vars.shape[-3], p.init_vars.shape[-1]
    idx = [
        s * b + i * m1 + k for s in range(n_iv) for i in range(d) for k in range(n_ivo)
    ]
    Aiv = torch.zeros(len(idx), n * b, dtype=dt, device=dev)
    Aiv[torch.arange(len(idx)), torch.tensor(idx, dtype=torch.long)] = wi
    blocks.append(Aiv.expand(batch + Aiv.shape))
    targets.append(
        wi * p.init_vars.expand(batch + p.init_vars.shape[-3:]).reshape(batch + (-1,))
    )
    # smoothness rows, per dimension
    h = p.steps.expand(p.steps.shape[:-1] + (n - 1,)).expand(batch + (n - 1,))
    A, Cn = _taylor_rows(h, m1, central)  # (..., n-1, R, m1)
    R = A.shape[-2]
    eye_d = torch.eye(d, dtype=dt, device=dev)
    sel = torch.eye(n, dtype=dt, device=dev)

    def place(coef: torch.Tensor, offset: int, count: int) -> torch.Tensor:
        # coef (..., count, R, m1) on step row + offset -> (..., count, d, R, n*b)
        full = coef[..., :, None, :, None, None, :] * eye_d[:, None, None, :, None]
        full = full * sel[offset : offset + count][:, None, None, :, None, None]
        # full: (..., count, d, R, n, d, m1)
        return full.reshape(full.shape[:-6] + (count, d, coef.shape[-2], n * b))

    Asm = place(A, 0, n - 1) + place(Cn, 1, n - 1)
    blocks.append(ws * Asm.reshape(batch + (-1, n * b)))
    targets.append(torch.zeros(batch + (Asm.shape[-4] * d * R,), dtype=dt, device=dev))
    if central and n >= 3:
        pp, qq, pn = _central_rows(h, m1)  # (..., n-2, m1)
        Ac = (
            place(pp[..., None, :], 0, n - 2)
            + place(qq[..., None, :], 1, n - 2)
            + place(pn[..., None, :], 2, n - 2)
        )
        blocks.append(ws * Ac.reshape(batch + (-1, n * b)))
        targets.append(torch.zeros(batch + ((n - 2) * d,), dtype=dt, device=dev))
    return torch.cat(blocks, dim=-2), torch.cat(targets, dim=-1)


def solve_linear_ode_dense(
    coefficients: Any,
    rhs: Any,
    init_vars: Any,
    steps: Any,
    *,
    central_smoothness: bool = False,
    weights: Sequence[float] = (1.0, 1.0, 1.0),
    n_steps: int | None = None,
    method: str = "cholesky",
) -> torch.Tensor:
    """Dense O(n^3) reference for :func:`solve_linear_ode` (same rows, same answer).

    Builds the full weighted row matrix ``A`` (all equation, initial-value and
    smoothness rows, as in the MNN formulation without the slack variable) and
    solves the least-squares problem densely with plain autograd. Meant for tests
    and benchmarks only: time O((n b)^3), memory O((n b)^2).

    Parameters
    ----------
    coefficients, rhs, init_vars, steps, central_smoothness, weights, n_steps
        As in :func:`solve_linear_ode`.
    method : {"cholesky", "lstsq"}, default="cholesky"
        ``"cholesky"`` solves the normal equations ``A^T A x = A^T b``;
        ``"lstsq"`` uses a QR-based least-squares solve of ``A x = b`` directly.

    Returns
    -------
    u : tensor of shape (..., n_steps, n_dims, n_orders)

    Examples
    --------
    >>> import torch
    >>> from skres.solvers import solve_linear_ode, solve_linear_ode_dense
    >>> coef = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    >>> args = (coef, torch.zeros(1, 1, dtype=torch.float64),
    ...         torch.ones(1, 1, 1, dtype=torch.float64),
    ...         torch.full((20,), 0.05, dtype=torch.float64))
    >>> bool(torch.allclose(solve_linear_ode(*args), solve_linear_ode_dense(*args)))
    True
    """
    if method not in ("cholesky", "lstsq"):
        raise ValueError(f"method must be 'cholesky' or 'lstsq'; got {method!r}.")
    (coefficients, rhs, init_vars, steps), out_dtype = _promote(
        coefficients, rhs, init_vars, steps
    )
    p = _prepare(coefficients, rhs, init_vars, steps, n_steps)
    _check_initial_values(p)
    w = _weights(weights)
    A, bvec = _dense_rows(p, bool(central_smoothness), w)
    if method == "lstsq":
        x = torch.linalg.lstsq(A, bvec[..., None], driver="gels").solution[..., 0]
    else:
        M = A.mT @ A
        L = torch.linalg.cholesky(M)
        x = torch.cholesky_solve((A.mT @ bvec[..., None]), L)[..., 0]
    u = x.reshape(x.shape[:-1] + (p.n_steps, p.n_dims, p.n_orders))
    return u if out_dtype is None else u.to(out_dtype)


class LinearODESolver(torch.nn.Module):
    """:func:`solve_linear_ode` as a :class:`torch.nn.Module` for use in networks.

    Parameters
    ----------
    central_smoothness : bool, default=False
        See :func:`solve_linear_ode`.
    weights : tuple of 3 floats, default=(1, 1, 1)
        Weights of the equation, initial-value and smoothness rows.
    frozen_lhs : bool, default=False
        Keep a :class:`LinearODEFactorCache` on the module and reuse the factor
        while the coefficients and steps stay the same (no gradients to them).

    Examples
    --------
    >>> import torch
    >>> from skres.solvers import LinearODESolver
    >>> solver = LinearODESolver()
    >>> coef = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    >>> u = solver(coef, torch.ones(1, 1, dtype=torch.float64),
    ...            torch.zeros(1, 1, 1, dtype=torch.float64),
    ...            torch.full((10,), 0.1, dtype=torch.float64))
    >>> round(float(u[-1, 0, 0]), 6)  # u' = 1, u(0) = 0 -> u(1) = 1
    1.0
    """

    def __init__(
        self,
        central_smoothness: bool = False,
        weights: Sequence[float] = (1.0, 1.0, 1.0),
        frozen_lhs: bool = False,
    ) -> None:
        super().__init__()
        self.central_smoothness = central_smoothness
        self.weights = tuple(weights)
        self.cache = LinearODEFactorCache() if frozen_lhs else None

    def forward(
        self,
        coefficients: torch.Tensor,
        rhs: torch.Tensor,
        init_vars: torch.Tensor,
        steps: torch.Tensor,
    ) -> torch.Tensor:
        """Solve; see :func:`solve_linear_ode` for shapes."""
        return solve_linear_ode(
            coefficients,
            rhs,
            init_vars,
            steps,
            central_smoothness=self.central_smoothness,
            weights=self.weights,
            cache=self.cache,
        )
