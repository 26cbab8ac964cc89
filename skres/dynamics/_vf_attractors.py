"""Fixed-point iteration, attractor tools and scoring helpers of latent fields.

:class:`_FieldTools` holds the iteration ``z_{t+1} = f(z_t)`` and the public
field tools of :class:`~skres.dynamics.LatentVectorField` (it is a mixin of that
estimator only); the module-level functions are its numerical kernels, the
attractor deduplication and the OOD scorer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from .._base import TorchEstimatorMixin
from .._validation import (
    check_option,
    check_positive_float,
    check_positive_int,
    tensor_to_numpy,
)

__all__ = ["MemorizationReport", "deduplicate_attractors", "ood_auroc_score"]

_FLOAT_DTYPES = [np.float64, np.float32]
_EXACT_JACOBIAN_MAX_K = 256  # larger latents: power iteration on J_f


@dataclass(frozen=True)
class MemorizationReport:
    """How close decoded attractors are to training points.

    Attributes
    ----------
    coefficient : float
        The paper's memorisation coefficient: mean over attractors of the *maximum*
        cosine similarity of ``D(z*)`` to a training point (the paper's formula
        writes ``min``; its text describes the closest point, i.e. the max).
    coefficient_std : float
        Standard deviation of that cosine over attractors.
    ratio : float
        Median over attractors of ``min_x ||D(z*) - x|| / ref``, with ``ref`` the
        median nearest-training-neighbour distance of the reference points.
    within_fraction : float
        Fraction of attractors with ``min_x ||D(z*) - x|| < radius * ref``.
    reference_distance : float
        ``ref``.
    cosines : numpy.ndarray
        Per-attractor maximum cosine similarity, shape (n_attractors,).
    ratios : numpy.ndarray
        Per-attractor distance ratio, shape (n_attractors,).
    nearest : numpy.ndarray
        Index of the closest training point of each attractor, shape (n_attractors,).
    """

    coefficient: float
    coefficient_std: float
    ratio: float
    within_fraction: float
    reference_distance: float
    cosines: np.ndarray
    ratios: np.ndarray
    nearest: np.ndarray


class _FieldTools(TorchEstimatorMixin):
    """Iteration and field tools of :class:`~skres.dynamics.LatentVectorField`."""

    if TYPE_CHECKING:  # provided by LatentVectorField
        max_iter: int
        tol: float
        horizon: int | None
        iter_batch_size: int
        normalize_latents: bool
        n_features_in_: int
        n_latent_: int
        train_latents_: np.ndarray
        attractors_: np.ndarray
        attractors_all_: np.ndarray

        def _f(self, Z: torch.Tensor) -> torch.Tensor: ...
        def _eval_mode(self) -> None: ...
        def _latents(self, X_t: torch.Tensor) -> torch.Tensor: ...
        def _decode_np(self, Z: np.ndarray) -> np.ndarray: ...
        def _input(self, X: Any) -> tuple[np.ndarray, torch.Tensor]: ...

    # ------------------------------------------------------- the iteration
    def _iterate(
        self,
        Z0: torch.Tensor,
        attractors: torch.Tensor | None = None,
        max_iter: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Batched fixed-point iteration with per-sample stopping.

        Returns the end points, ``n_iter``, ``converged``, ``diverged`` and, when
        ``attractors`` is given, the sum/count of trajectory distances to them.
        """
        max_iter = self.max_iter if max_iter is None else max_iter
        self._eval_mode()
        out: dict[str, list[torch.Tensor]] = {
            k: [] for k in ("final", "n_iter", "converged", "diverged", "traj", "d0")
        }
        with torch.inference_mode():
            for batch in self._batch_slices(len(Z0), self.iter_batch_size):
                res = self._iterate_batch(Z0[batch], attractors, max_iter)
                for key, value in res.items():
                    out[key].append(value)
        return {k: torch.cat(v) for k, v in out.items() if v}

    def _iterate_batch(
        self, z0: torch.Tensor, attractors: torch.Tensor | None, max_iter: int
    ) -> dict[str, torch.Tensor]:
        n = len(z0)
        dev = z0.device
        final = z0.clone()
        n_iter = torch.full((n,), max_iter, dtype=torch.long, device=dev)
        converged = torch.zeros(n, dtype=torch.bool, device=dev)
        diverged = torch.zeros(n, dtype=torch.bool, device=dev)
        horizon = self.horizon
        track = attractors is not None
        traj = torch.zeros(n, dtype=z0.dtype, device=dev)

        def dist(z: torch.Tensor) -> torch.Tensor:
            return torch.cdist(self._unit(z), attractors).min(dim=1).values  # type: ignore[arg-type]

        d0 = dist(z0) if track else torch.zeros(0, device=dev)
        if track:
            traj = d0.clone()
        idx = torch.arange(n, device=dev)
        z = self._f(z0)  # z_1: the paper's rule first checks t = 0 -> z_2 - z_1
        t = 1
        while True:
            bad = ~torch.isfinite(z).all(dim=1)
            if bad.any():
                diverged[idx[bad]] = True
                n_iter[idx[bad]] = t
                keep = ~bad
                idx, z = idx[keep], z[keep]
                if len(idx) == 0:
                    break
            if track and (horizon is None or t <= horizon):
                traj[idx] += dist(z)
            fz = self._f(z)
            step = ((fz - z) ** 2).sum(dim=1)
            done = step < self.tol
            if done.any():
                hit = idx[done]
                final[hit] = fz[done]
                n_iter[hit] = t
                converged[hit] = True
                keep = ~done
                idx, z, fz = idx[keep], z[keep], fz[keep]
                if len(idx) == 0:
                    break
            if t >= max_iter:
                final[idx] = z
                break
            z = fz
            t += 1
        result = {
            "final": final,
            "n_iter": n_iter,
            "converged": converged,
            "diverged": diverged,
        }
        if track:
            if horizon is None:
                traj = traj / (n_iter + 1).to(traj.dtype)
            else:
                pad = (horizon - n_iter).clamp_min(0).to(traj.dtype)
                d_end = dist(torch.where(diverged[:, None], z0, final))
                traj = (traj + pad * d_end) / (horizon + 1)
            traj[diverged] = torch.inf
            result["traj"] = traj
            result["d0"] = d0
        return result

    # --------------------------------------------------------- field tools
    def _latent_input(self, Z: Any) -> torch.Tensor:
        check_is_fitted(self)
        Z_np = check_array(
            tensor_to_numpy(Z), dtype=_FLOAT_DTYPES, input_name="Z", ensure_2d=False
        )
        if Z_np.ndim == 1:
            Z_np = Z_np.reshape(-1, self.n_latent_)
        if Z_np.ndim != 2 or Z_np.shape[1] != self.n_latent_:
            raise ValueError(
                f"Z must have {self.n_latent_} columns (the latent size); got shape "
                f"{Z_np.shape}."
            )
        return self._to_tensor(Z_np)

    def vector_field(self, Z: Any) -> np.ndarray:
        """The latent field ``v(z) = E(D(z)) - z``.

        Parameters
        ----------
        Z : array-like of shape (n_points, n_latent)

        Returns
        -------
        ndarray of shape (n_points, n_latent)
        """
        Z_t = self._latent_input(Z)
        self._eval_mode()
        out = self._map_batches(lambda z: self._f(z) - z, Z_t, self.iter_batch_size)
        return self._to_numpy(out, np.float64)

    def iterate(self, Z: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Iterate latent starting points to their end points.

        Parameters
        ----------
        Z : array-like of shape (n_points, n_latent)

        Returns
        -------
        end_points : ndarray of shape (n_points, n_latent)
        n_iter : ndarray of shape (n_points,)
        converged : ndarray of shape (n_points,)
        """
        res = self._iterate(self._latent_input(Z))
        return (
            self._to_numpy(res["final"]),
            self._to_numpy(res["n_iter"]),
            self._to_numpy(res["converged"]),
        )

    def trajectories(
        self, X: Any, max_len: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Full latent trajectories of the rows of ``X`` (padded).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        max_len : int, default=None
            Steps to record (``max_iter`` when ``None``).

        Returns
        -------
        paths : ndarray of shape (n_samples, max_len + 1, n_latent)
            ``z_0 ... z_{n_iter}``, then the end point repeated.
        lengths : ndarray of shape (n_samples,)
            ``n_iter + 1`` (the number of trajectory points, capped at
            ``max_len + 1``).
        """
        _, X_t = self._input(X)
        max_len = (
            self.max_iter if max_len is None else check_positive_int(max_len, "max_len")
        )
        z = self._latents(X_t)
        res = self._iterate(z, max_iter=max_len)
        n_iter = res["n_iter"].clamp(max=max_len)
        steps = [z]
        with torch.inference_mode():
            for _ in range(max_len):
                z = self._f(z)
                steps.append(z)
        paths = torch.stack(steps, dim=1)
        t_index = torch.arange(max_len + 1, device=paths.device)
        after = t_index[None, :] > n_iter[:, None]
        end = res["final"][:, None, :].expand_as(paths)
        paths = torch.where(after[:, :, None], end, paths)
        return self._to_numpy(paths), self._to_numpy(n_iter + 1)

    def jacobian_spectral_radius(
        self,
        Z: Any,
        *,
        method: str = "auto",
        n_power_iter: int = 200,
        random_state: Any = None,
    ) -> np.ndarray:
        """``max |eig J_f(z)|`` at each latent point.

        ``"exact"`` forms each ``k x k`` Jacobian with :func:`torch.func.jacrev` and
        takes its eigenvalues (``k^3`` per point). ``"power"`` never forms it: a
        batched power iteration ``u <- J u / ||J u||`` with Jacobian-vector products
        (:func:`torch.func.jvp`, one pass of ``f`` for all points), returning the
        geometric mean of the growth ``||J u||`` over the second half of the
        iterations. It converges to the spectral radius at the rate
        ``|lambda_2 / lambda_1|`` when the dominant eigenvalue is real; for a
        dominant complex pair the geometric mean still converges, more slowly.

        Parameters
        ----------
        Z : array-like of shape (n_points, n_latent)
        method : {"auto", "exact", "power"}, default="auto"
            ``"auto"`` is ``"exact"`` up to 256 latent dimensions (where it is also
            the faster one), else ``"power"``.
        n_power_iter : int, default=200
            Iterations of the power method.
        random_state : int, RandomState instance or None, default=None
            Seeds the power method's start vectors.

        Returns
        -------
        ndarray of shape (n_points,)
        """
        check_option(method, "method", ("auto", "exact", "power"))
        check_positive_int(n_power_iter, "n_power_iter")
        Z_t = self._latent_input(Z)
        self._eval_mode()
        if method == "auto":
            method = "exact" if self.n_latent_ <= _EXACT_JACOBIAN_MAX_K else "power"
        if method == "power":
            rng = check_random_state(random_state)
            u0 = self._to_tensor(rng.standard_normal(Z_t.shape))
            return _power_spectral_radius(self._f, Z_t, u0, n_power_iter)

        def f_single(z: torch.Tensor) -> torch.Tensor:
            return self._f(z[None])[0]

        with torch.no_grad():
            jac = torch.func.vmap(torch.func.jacrev(f_single))(Z_t)
        eig = torch.linalg.eigvals(jac.to(torch.float64))
        return self._to_numpy(eig.abs().max(dim=1).values, np.float64)

    def is_attractor(self, Z: Any, *, tol: float | None = None) -> np.ndarray:
        """Whether each point is a fixed point whose Jacobian has ``max |eig| < 1``.

        Parameters
        ----------
        Z : array-like of shape (n_points, n_latent)
        tol : float, default=None
            Tolerance on ``||v(z)||^2`` for being a fixed point; ``100 * tol`` of the
            estimator when ``None``.

        Returns
        -------
        ndarray of bool of shape (n_points,)
        """
        tol = 100.0 * self.tol if tol is None else float(tol)
        fixed = (self.vector_field(Z) ** 2).sum(axis=1) < tol
        return fixed & (self.jacobian_spectral_radius(Z) < 1.0)

    def decode_attractors(self, attractors: Any = None) -> np.ndarray:
        """``D(z*)`` of ``attractors_`` (or of the latents given).

        Parameters
        ----------
        attractors : array-like of shape (n_points, n_latent), default=None

        Returns
        -------
        ndarray of shape (n_points, n_features)
        """
        check_is_fitted(self)
        Z = self.attractors_ if attractors is None else attractors
        return self._decode_np(self._to_numpy(self._latent_input(Z)))

    def attractors_from_noise(
        self,
        n_samples: int = 200,
        *,
        spread: float = 2.0,
        distribution: str = "gaussian",
        random_state: Any = None,
    ) -> np.ndarray:
        """End points of latent noise starts (data-free probing of the weights).

        Parameters
        ----------
        n_samples : int, default=200
            Number of starts.
        spread : float, default=2.0
            ``"gaussian"``: ``N(mean, (spread * std)^2)`` of the training latents per
            dimension; ``"standard"``: ``N(0, spread^2 I)``; ``"uniform"``:
            ``U[-spread, spread]^k``.
        distribution : {"gaussian", "standard", "uniform"}, default="gaussian"
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        ndarray of shape (n_samples, n_latent)
        """
        check_is_fitted(self)
        check_positive_int(n_samples, "n_samples")
        check_positive_float(spread, "spread")
        check_option(distribution, "distribution", ("gaussian", "standard", "uniform"))
        rng = check_random_state(random_state)
        k = self.n_latent_
        if distribution == "uniform":
            Z0 = rng.uniform(-spread, spread, size=(n_samples, k))
        else:
            Z0 = rng.standard_normal((n_samples, k)) * spread
            if distribution == "gaussian":
                Z0 = self.train_latents_.mean(0) + Z0 * self.train_latents_.std(0)
        return self.iterate(Z0)[0]

    def memorization_score(
        self,
        X_train: Any,
        X_ref: Any = None,
        *,
        attractors: Any = None,
        radius: float = 0.25,
    ) -> MemorizationReport:
        """Compare decoded attractors with the training rows.

        Parameters
        ----------
        X_train : array-like of shape (n_train, n_features)
            The training rows.
        X_ref : array-like of shape (n_ref, n_features), default=None
            Held-out rows whose median nearest-training-neighbour distance is the
            reference scale; ``None`` uses the leave-one-out nearest-neighbour
            distance within ``X_train``.
        attractors : array-like of shape (n_points, n_latent), default=None
            Latent end points to decode (e.g. from :meth:`attractors_from_noise`);
            ``attractors_`` when ``None``.
        radius : float, default=0.25
            Fraction of the reference scale that counts as "on a training point".

        Returns
        -------
        MemorizationReport
        """
        check_is_fitted(self)
        X_tr = check_array(tensor_to_numpy(X_train), dtype=np.float64)
        if X_tr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X_train has {X_tr.shape[1]} features; expected {self.n_features_in_}."
            )
        check_positive_float(radius, "radius")
        decoded = self.decode_attractors(attractors)
        if X_ref is None:
            if len(X_tr) < 2:
                raise ValueError("X_train needs at least 2 rows when X_ref is None.")
            d = _sq_dists(X_tr, X_tr)
            np.fill_diagonal(d, np.inf)
        else:
            X_r = check_array(tensor_to_numpy(X_ref), dtype=np.float64)
            if X_r.shape[1] != X_tr.shape[1]:
                raise ValueError(
                    "X_ref and X_train have different numbers of features."
                )
            d = _sq_dists(X_r, X_tr)
        ref = float(np.median(np.sqrt(d.min(axis=1))))
        ref = max(ref, 1e-12)
        cos, nearest_cos = _max_cosine(decoded, X_tr)
        dist = np.sqrt(_sq_dists(decoded, X_tr))
        nearest = dist.argmin(axis=1)
        ratios = dist.min(axis=1) / ref
        del nearest_cos
        return MemorizationReport(
            coefficient=float(cos.mean()),
            coefficient_std=float(cos.std()),
            ratio=float(np.median(ratios)),
            within_fraction=float(np.mean(ratios < radius)),
            reference_distance=ref,
            cosines=cos,
            ratios=ratios,
            nearest=nearest,
        )

    def probe_dictionary(
        self,
        X: Any,
        n_nonzero_coefs: int,
        *,
        attractors: Any = None,
        random_state: Any = None,
    ) -> dict[str, float]:
        """Attractors as a latent dictionary (the paper's data-free probing, Sec. 4.1).

        Each ``E(x)`` is approximated by Orthogonal Matching Pursuit with
        ``n_nonzero_coefs`` unit-norm atoms, decoded, and compared with ``x``; the
        baseline dictionary is a random orthonormal basis of the latent space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to reconstruct.
        n_nonzero_coefs : int
            Atoms per row; at most the latent size and the number of attractors.
        attractors : array-like of shape (n_atoms, n_latent), default=None
            The dictionary (e.g. :meth:`attractors_from_noise`); ``attractors_``
            when ``None``.
        random_state : int, RandomState instance or None, default=None
            Seeds the random orthonormal basis.

        Returns
        -------
        dict
            ``{"attractors": mse, "random": mse}``: mean squared error per input
            feature of ``D(OMP(E(x)))`` against ``x``.
        """
        from sklearn.linear_model import orthogonal_mp

        X_np, X_t = self._input(X)
        atoms = self.attractors_ if attractors is None else attractors
        atoms = self._to_numpy(self._latent_input(atoms), np.float64)
        atoms = atoms[np.linalg.norm(atoms, axis=1) > 1e-12]
        k = self.n_latent_
        n_coefs = check_positive_int(n_nonzero_coefs, "n_nonzero_coefs")
        if n_coefs > min(k, len(atoms)):
            raise ValueError(
                f"n_nonzero_coefs={n_coefs} exceeds min(latent size {k}, "
                f"non-zero atoms {len(atoms)})."
            )
        Z = self._to_numpy(self._latents(X_t), np.float64)
        rng = check_random_state(random_state)
        basis, _ = np.linalg.qr(rng.standard_normal((k, k)))
        target = X_t.reshape(len(X_t), -1).to(torch.float64).cpu().numpy()
        out = {}
        for name, dictionary in (("attractors", atoms.T), ("random", basis)):
            dictionary = dictionary / np.linalg.norm(dictionary, axis=0)
            coefs = orthogonal_mp(dictionary, Z.T, n_nonzero_coefs=n_coefs)
            approx = (dictionary @ np.asarray(coefs).reshape(dictionary.shape[1], -1)).T
            decoded = self._decode_np(approx)
            out[name] = float(np.mean((decoded - target) ** 2))
        return out

    @property
    def _attractor_set(self) -> torch.Tensor:
        """The finite training end points as a tensor (the OOD reference set).

        L2-normalised when ``normalize_latents`` is set, like the points compared
        with them (:meth:`_unit`).
        """
        ends = self.attractors_all_[np.isfinite(self.attractors_all_).all(axis=1)]
        return self._unit(torch.as_tensor(ends, device=self.device_, dtype=self.dtype_))

    def _unit(self, Z: torch.Tensor) -> torch.Tensor:
        """Rows of ``Z`` scaled to unit norm if ``normalize_latents`` (else ``Z``)."""
        if not self.normalize_latents:
            return Z
        return Z / Z.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _sq_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d, 0.0)


def _max_cosine(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    An = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)
    Bn = B / np.maximum(np.linalg.norm(B, axis=1, keepdims=True), 1e-12)
    cos = An @ Bn.T
    return cos.max(axis=1), cos.argmax(axis=1)


def _power_spectral_radius(
    f: Callable[[torch.Tensor], torch.Tensor],
    Z: torch.Tensor,
    u: torch.Tensor,
    n_iter: int,
) -> np.ndarray:
    """Batched power iteration on ``J_f(z_i)`` via JVPs (rows of ``f`` independent).

    Returns the geometric mean of ``||J u_t||`` (``u_t`` unit) over the last
    ``ceil(n_iter / 2)`` iterations, per row, in float64.
    """
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-300)
    burn_in = n_iter // 2
    log_growth = torch.zeros(len(Z), dtype=torch.float64, device=Z.device)
    with torch.no_grad():
        for t in range(n_iter):
            ju = torch.func.jvp(f, (Z,), (u,))[1]
            norm = ju.norm(dim=1)
            if t >= burn_in:
                log_growth += torch.log(norm.to(torch.float64).clamp_min(1e-300))
            zero = norm == 0
            u = torch.where(zero[:, None], u, ju / norm.clamp_min(1e-300)[:, None])
    rho = torch.exp(log_growth / (n_iter - burn_in))
    return rho.cpu().numpy()


def _rank90(decoded: np.ndarray) -> int:
    s = np.linalg.svd(decoded, compute_uv=False)
    energy = np.cumsum(s**2)
    if energy[-1] <= 0:
        return 0
    return int(np.searchsorted(energy / energy[-1], 0.9) + 1)


def ood_auroc_score(estimator: Any, X: Any, y: Any) -> float:
    """Scorer: AUROC of ``-score_samples(X)`` for ``y`` = 1 (OOD) versus 0 (inlier).

    Usable as ``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV` with
    any fitted outlier detector (or a pipeline ending in one).

    Parameters
    ----------
    estimator : fitted estimator with ``score_samples``
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        1 for out-of-distribution rows, 0 for inliers.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from skres.dynamics import ood_auroc_score
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.randn(100, 2), rng.randn(20, 2) + 6]
    >>> y = np.r_[np.zeros(100), np.ones(20)]
    >>> det = IsolationForest(random_state=0).fit(X[:100])
    >>> ood_auroc_score(det, X, y) > 0.95
    True
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if set(np.unique(y).tolist()) - {0, 1}:
        raise ValueError("y must hold 0 (inlier) and 1 (out-of-distribution) labels.")
    return float(roc_auc_score(y, -np.asarray(estimator.score_samples(X))))


def deduplicate_attractors(
    Z: Any,
    *,
    threshold: float = 0.99,
    radius: float = 1e-1,
    rule: str = "cosine",
    order: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Merge end points into distinct attractors (greedy leader clustering).

    Points are visited in ``order`` (row order when ``None``). Each unassigned
    point becomes a new attractor and absorbs every unassigned point that is the
    same attractor: cosine above ``threshold`` (``rule="cosine"``, the paper's
    rule) or distance below ``radius`` (both rules; this also merges points at
    the origin, where the cosine is undefined). The loop runs once per attractor,
    not once per point.

    Parameters
    ----------
    Z : array-like of shape (n_points, n_latent)
    threshold : float, default=0.99
    radius : float, default=0.1
    rule : {"cosine", "euclidean"}, default="cosine"
    order : array-like of shape (n_points,), default=None
        Visiting order (a permutation of the rows), e.g. by increasing residual.

    Returns
    -------
    attractors : ndarray of shape (n_attractors, n_latent)
        The leader (first point) of each group.
    labels : ndarray of shape (n_points,)
        Group index of each point.

    Examples
    --------
    >>> from skres.dynamics import deduplicate_attractors
    >>> A, labels = deduplicate_attractors([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    >>> A.shape, labels.tolist()
    ((2, 2), [0, 0, 1])
    """
    check_option(rule, "rule", ("cosine", "euclidean"))
    Z = np.asarray(Z, dtype=np.float64)
    n = len(Z)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return Z.reshape(0, Z.shape[1] if Z.ndim == 2 else 0), labels
    perm = np.arange(n) if order is None else np.asarray(order, dtype=np.int64)
    if sorted(perm.tolist()) != list(range(n)):
        raise ValueError("order must be a permutation of range(n_points).")
    norms = np.linalg.norm(Z, axis=1)
    unit = Z / np.maximum(norms, 1e-300)[:, None]
    leaders: list[int] = []
    while True:
        free = perm[labels[perm] < 0]
        if len(free) == 0:
            break
        lead = int(free[0])
        same = np.linalg.norm(Z[free] - Z[lead], axis=1) < radius
        if rule == "cosine" and norms[lead] > 0:
            pos = norms[free] > 0
            same |= pos & (unit[free] @ unit[lead] > threshold)
        same[0] = True
        labels[free[same]] = len(leaders)
        leaders.append(lead)
    return Z[leaders].copy(), labels
