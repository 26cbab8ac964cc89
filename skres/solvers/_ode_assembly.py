"""Row and normal-matrix assembly of the linear ODE solver (banded and dense)."""

from __future__ import annotations

import torch

from ._ode_problem import _Problem

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
