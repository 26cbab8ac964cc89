"""PDE discovery with a differentiable linear-PDE solver (Mechanistic PDE Networks).

The candidate model is a PDE that is *linear in the unknown field* ``u`` with
coefficients that are polynomials of a fixed reference field ``u~`` (the data, or
the data smoothed by a Gaussian filter)::

    u_t + p(u~) u_x + q(u~) u_xx = r(u~),   p, q, r polynomials.

At ``u~ = u`` this is the nonlinear PDE ``u_t = -p(u) u_x - q(u) u_xx + r(u)``
frozen at the data (a Picard linearisation). On each of ``n_windows`` random
space-time windows, the linear PDE is solved by the least-squares linear-PDE solver
:func:`skres.solvers.solve_linear_pde` with Dirichlet data from ``u~`` on the
initial plane and on both spatial edges; the polynomial weights are fitted by
L-BFGS (or Adam) on the mean squared difference between the solutions and the
data plus an L1 penalty, with gradients through the solver's implicit (adjoint)
backward pass. Sequential thresholding refits on the surviving terms.

Coefficients are reported in PySINDy's convention, as the right-hand side of
``u_t = Theta(u) coef_``: Burgers' equation ``u_t + u u_x = 0.1 u_xx`` reads
``u_t = -1.000 u u_x + 0.100 u_xx``.
"""

from __future__ import annotations

import numbers
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._base import TorchEstimatorMixin
from .._compat import Interval, StrOptions, fit_context
from .._validation import (
    check_option,
    validate_input,
)
from ._equations import format_equation

__all__ = ["PDEDiscoverer"]

#: Derivative factors a library term may carry, in the solver's unknown order
#: ``[u, u_t, u_x, u_tt, u_xx]`` (index of the unknown; ``rhs`` has none).
_DERIVATIVES = {"u_x": 2, "u_xx": 4, "rhs": None}
_DEFAULT_TERMS = {"u_x": 2, "u_xx": 1, "rhs": 1}
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


class PDEDiscoverer(TorchEstimatorMixin, BaseEstimator):
    """Discover a 1-D evolution PDE from gridded data with a mechanistic PDE solver.

    Fits ``u_t + p(u~) u_x + q(u~) u_xx = r(u~)`` (``p``, ``q``, ``r`` sparse
    polynomials of the reference field ``u~``) by solving that linear PDE on
    random windows of the data with :func:`skres.solvers.solve_linear_pde` and
    minimising the misfit of the solutions, following Mechanistic PDE Networks
    [1]_. See the module docstring for the method and the sign convention of
    ``coef_`` (PySINDy's: ``u_t = Theta coef_``).

    ``X`` is the field on a tensor grid: one row per time point, one column per
    spatial point. The time and space coordinates are the routed fit parameters
    ``t`` and ``x`` (unit spacing when omitted).

    Parameters
    ----------
    terms : dict or None, default=None
        The library: a mapping from a derivative factor, one of ``"u_x"``,
        ``"u_xx"`` or ``"rhs"`` (no derivative), to the powers of ``u`` that
        multiply it, either a maximum degree ``d`` (powers ``0..d``) or a list
        of powers. ``None`` is ``{"u_x": 2, "u_xx": 1, "rhs": 1}``: the seven
        terms ``u_x, u u_x, u^2 u_x, u_xx, u u_xx, 1, u``. The two-term Burgers
        library is ``{"u_x": [1], "u_xx": [0]}``.
    window : tuple of int, default=(8, 32)
        Window size ``(n_t, n_x)`` in grid points (clipped to the grid). Windows
        need at least 6 points per dimension for the solver's stencils; on
        smaller grids only the finite-difference initialisation is fitted.
    n_windows : int, default=16
        Number of windows drawn (without replacement) from the positions whose
        reference field varies (standard deviation at least 10 % of the largest).
    denoise : {None, "gaussian"}, default=None
        Reference field ``u~`` (the transform of the paper): the data itself, or
        the data smoothed by :func:`scipy.ndimage.gaussian_filter` with
        ``smooth_sigma``. (Not called ``transform``: scikit-learn treats any
        estimator with a ``transform`` attribute as a transformer.)
    smooth_sigma : float or tuple of float, default=(1.0, 2.0)
        Gaussian standard deviations ``(sigma_t, sigma_x)`` in grid points.
    init : {"lstsq", "zeros"}, default="lstsq"
        Start of the optimisation: least squares of finite-difference ``u_t``
        of ``u~`` on the library evaluated on the windows (PDE-FIND style), or
        zeros.
    solver : {"auto", "direct", "dense", "multigrid"}, default="auto"
        Method of :func:`skres.solvers.solve_linear_pde`.
    mg_levels : int, default=3
        Multigrid levels (``solver="multigrid"``).
    optimizer : {"lbfgs", "adam"}, default="lbfgs"
        L-BFGS (:func:`scipy.optimize.minimize` ``"L-BFGS-B"`` on the torch
        loss and gradient) or Adam with learning rate ``lr``. Both work on
        coefficients whitened by the Gauss-Newton curvature at the start.
    max_iter : int, default=50
        Optimiser iterations per thresholding cycle (0: keep the initialisation).
    lr : float, default=1e-2
        Adam learning rate (on coefficients scaled to unit size).
    tol : float, default=1e-6
        Stop when the loss changes by less than ``tol`` times its starting
        value (L-BFGS) or its current value (Adam).
    l1_coef : float, default=1e-4
        Weight of the L1 penalty on ``coef_`` added to the relative mean squared
        misfit.
    threshold : float or None, default=None
        Sequential thresholding: terms with ``|coef| < threshold`` are removed
        and the rest refitted, until the support is stable.
    device : str or torch.device, default="auto"
        Where the solves run.
    dtype : str, default="float64"
        Compute precision.
    random_state : int, RandomState instance or None, default=None
        Seeds the window positions.
    verbose : int, default=0
        Show a progress bar over the optimiser iterations.

    Attributes
    ----------
    coef_ : ndarray of shape (n_terms,)
        Coefficients of ``u_t = sum_j coef_[j] * term_j`` (PySINDy convention).
    feature_names_ : ndarray of shape (n_terms,), dtype=object
        Term names, e.g. ``"u u_x"``, ``"u_xx"``, ``"1"``.
    support_ : ndarray of shape (n_terms,), dtype=bool
        Terms kept by thresholding.
    windows_ : ndarray of shape (n_windows, 2)
        Start indices ``(i_t, i_x)`` of the windows.
    window_shape_ : tuple of int
        The window size used (after clipping to the grid).
    t_ : ndarray of shape (n_times,)
        Time coordinates of the training grid.
    x_ : ndarray of shape (n_features,)
        Spatial coordinates (used by :meth:`predict`).
    n_iter_ : int
        Optimiser iterations run (all thresholding cycles).
    loss_curve_ : ndarray of shape (n_iter,)
        Loss after each iteration.
    solver_used_ : bool
        Whether the mechanistic solver refinement ran (False on grids too small
        for it, or with ``max_iter=0``).
    n_features_in_ : int
        Number of spatial points.
    feature_names_in_ : ndarray of shape (n_features,)
        Column names of ``X`` when they are all strings.
    device_ : torch.device
        Device of the solves.
    dtype_ : torch.dtype
        Compute precision.

    See Also
    --------
    skres.solvers.solve_linear_pde : the differentiable linear-PDE solver.
    skres.dynamics.MechanisticODE : the ODE counterpart.

    References
    ----------
    .. [1] A. Pervez, E. Gavves, F. Locatello. Mechanistic PDE Networks for
       Discovery of Governing Equations. ICML 2025.

    Examples
    --------
    >>> from skres.datasets import make_burgers
    >>> from skres.dynamics import PDEDiscoverer
    >>> u, t, x = make_burgers(n_points=128, n_times=64, dt=0.05)
    >>> model = PDEDiscoverer(
    ...     terms={"u_x": [1], "u_xx": [0]}, n_windows=4, random_state=0
    ... ).fit(u, t=t, x=x)
    >>> model.equations(precision=1)
    ['u_t = -1.0 u u_x + 0.1 u_xx']
    """

    __metadata_request__fit = {"t": True, "x": True}
    __metadata_request__score = {"t": True}

    _parameter_constraints: dict = {
        **TorchEstimatorMixin._torch_parameter_constraints,
        "terms": [dict, None],
        "window": ["array-like"],
        "n_windows": [Interval(Integral, 1, None, closed="left")],
        "denoise": [StrOptions({"gaussian"}), None],
        "smooth_sigma": [Interval(Real, 0, None, closed="left"), "array-like"],
        "init": [StrOptions({"lstsq", "zeros"})],
        "solver": [StrOptions({"auto", "direct", "dense", "multigrid"})],
        "mg_levels": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions({"lbfgs", "adam"})],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "l1_coef": [Interval(Real, 0, None, closed="left")],
        "threshold": [Interval(Real, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        terms: dict[str, Any] | None = None,
        window: tuple[int, int] = (8, 32),
        n_windows: int = 16,
        denoise: str | None = None,
        smooth_sigma: Any = (1.0, 2.0),
        init: str = "lstsq",
        solver: str = "auto",
        mg_levels: int = 3,
        optimizer: str = "lbfgs",
        max_iter: int = 50,
        lr: float = 1e-2,
        tol: float = 1e-6,
        l1_coef: float = 1e-4,
        threshold: float | None = None,
        device: Any = "auto",
        dtype: str = "float64",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.terms = terms
        self.window = window
        self.n_windows = n_windows
        self.denoise = denoise
        self.smooth_sigma = smooth_sigma
        self.init = init
        self.solver = solver
        self.mg_levels = mg_levels
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.lr = lr
        self.tol = tol
        self.l1_coef = l1_coef
        self.threshold = threshold
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        """Small, fast parameters for the common test-suite."""
        return {"window": (6, 6), "n_windows": 2, "max_iter": 2, "device": "cpu"}

    # ------------------------------------------------------------ library
    def _library(self) -> list[tuple[str, int]]:
        """``[(derivative, power), ...]`` from ``terms``, validated."""
        terms = _DEFAULT_TERMS if self.terms is None else self.terms
        if not isinstance(terms, dict) or not terms:
            raise TypeError(
                "terms must be a non-empty dict such as {'u_x': 2, 'u_xx': 1, "
                f"'rhs': 1}}; got {terms!r}."
            )
        out: list[tuple[str, int]] = []
        for deriv in _DERIVATIVES:  # fixed order: u_x, u_xx, rhs
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
        unknown = set(terms) - set(_DERIVATIVES)
        if unknown:
            raise ValueError(
                f"terms has unknown keys {sorted(unknown)}; allowed are "
                f"{list(_DERIVATIVES)}."
            )
        if not out:
            raise ValueError("terms selects no library term.")
        return out

    def _theta_numpy(
        self, u: np.ndarray, u_x: np.ndarray, u_xx: np.ndarray
    ) -> np.ndarray:
        """Library columns (PySINDy convention), shape ``u.shape + (n_terms,)``."""
        factor = {"u_x": u_x, "u_xx": u_xx, "rhs": np.ones_like(u)}
        cols = [factor[d] * u**k for d, k in self.library_]
        return np.stack(cols, axis=-1)

    # ------------------------------------------------------------- checks
    def _resolved_params(self) -> dict[str, Any]:
        """The settings ``fit`` uses (``_parameter_constraints`` checked them)."""
        window = self.window
        if len(window) != 2 or not all(
            isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 2
            for w in window
        ):
            raise ValueError(
                f"window must be a pair of integers >= 2 (n_t, n_x); got {window!r}."
            )
        sigma = np.broadcast_to(np.asarray(self.smooth_sigma, dtype=float), (2,))
        if self.denoise == "gaussian" and not np.all(np.isfinite(sigma) & (sigma >= 0)):
            raise ValueError(
                "smooth_sigma must be a number or a pair of numbers >= 0; got "
                f"{self.smooth_sigma!r}."
            )
        threshold = None if self.threshold is None else float(self.threshold)
        return {
            "window": (int(window[0]), int(window[1])),
            "n_windows": int(self.n_windows),
            "sigma": sigma.copy(),
            "init": self.init,
            "solver": self.solver,
            "mg_levels": int(self.mg_levels),
            "optimizer": self.optimizer,
            "max_iter": int(self.max_iter),
            "lr": float(self.lr),
            "tol": float(self.tol),
            "l1_coef": float(self.l1_coef),
            "threshold": threshold,
        }

    def _reference(self, X: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        if self.denoise == "gaussian":
            from scipy.ndimage import gaussian_filter

            return np.asarray(gaussian_filter(X, sigma=params["sigma"], mode="nearest"))
        return X

    def _draw_windows(
        self, ref: np.ndarray, shape: tuple[int, int], n_windows: int
    ) -> np.ndarray:
        """Window start indices, drawn among the windows where ``ref`` varies."""
        from scipy.ndimage import uniform_filter

        wt, wx = shape
        nt, nx = ref.shape
        # Local standard deviation of every window position (vectorised).
        mean = uniform_filter(ref, size=shape, mode="constant", origin=(0, 0))
        sq = uniform_filter(ref**2, size=shape, mode="constant", origin=(0, 0))
        ct, cx = wt // 2, wx // 2  # uniform_filter centres its window
        std = np.sqrt(np.clip(sq - mean**2, 0.0, None))[
            ct : ct + nt - wt + 1, cx : cx + nx - wx + 1
        ]
        positions = np.argwhere(std >= 0.1 * std.max())
        rng = check_random_state(self.random_state)
        take = rng.choice(
            len(positions), size=min(n_windows, len(positions)), replace=False
        )
        return positions[np.sort(take)]

    # --------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: Any, y: Any = None, *, t: Any = None, x: Any = None
    ) -> PDEDiscoverer:
        """Discover the PDE from a gridded field.

        Parameters
        ----------
        X : array-like of shape (n_times, n_points)
            The field ``u``; row ``i`` is the snapshot at time ``t[i]``.
        y : None
            Ignored.
        t : array-like of shape (n_times,), optional
            Strictly increasing times (requested by default through metadata
            routing); unit spacing when omitted.
        x : array-like of shape (n_points,), optional
            Strictly increasing spatial grid (requested by default); unit spacing
            when omitted.

        Returns
        -------
        self : PDEDiscoverer
        """
        raw = X
        X = validate_input(
            self,
            X,
            reset=True,
            dtype=np.float64,
            ensure_min_samples=2,
            ensure_min_features=2,
        )
        params = self._resolved_params()
        self.library_ = self._library()
        generator = self._setup_torch(raw)
        del generator  # the windows are drawn with numpy from random_state
        nt, nx = X.shape
        self.t_ = _check_coordinate(t, "t", nt)
        self.x_ = _check_coordinate(x, "x", nx)
        ref = self._reference(X, params)
        shape = (min(params["window"][0], nt), min(params["window"][1], nx))
        self.window_shape_ = shape
        self.windows_ = self._draw_windows(ref, shape, params["n_windows"])
        self.feature_names_ = np.asarray(
            [_term_name(d, k) for d, k in self.library_], dtype=object
        )
        n_terms = len(self.library_)
        # Finite-difference design on the windows (initialisation and scaling).
        u_t = _gradient(ref, self.t_, 0)
        u_x = _gradient(ref, self.x_, 1)
        u_xx = _second_derivative(ref, self.x_, 1)
        it, ix = self._window_index(self.windows_, shape)
        theta = self._theta_numpy(ref, u_x, u_xx)[it, ix].reshape(-1, n_terms)
        target = u_t[it, ix].ravel()
        scale = theta.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        target_scale = max(float(target.std()), 1e-12)
        coef_scale = target_scale / scale  # coef = beta * coef_scale
        use_solver = (
            params["max_iter"] > 0
            and shape[0] >= MIN_SOLVER_POINTS
            and shape[1] >= MIN_SOLVER_POINTS
        )
        self.solver_used_ = bool(use_solver)
        support = np.ones(n_terms, dtype=bool)
        losses: list[float] = []
        coef = np.zeros(n_terms)
        data = self._window_tensors(X, ref, shape) if use_solver else None
        for _cycle in range(n_terms + 1):
            if params["init"] == "lstsq" or not use_solver:
                coef = self._lstsq(theta, target, support, coef_scale)
            else:
                coef = np.where(support, coef, 0.0)
            if use_solver:
                assert data is not None
                coef = self._refine(coef, support, data, params, losses)
            if params["threshold"] is None:
                break
            new_support = support & (np.abs(coef) >= params["threshold"])
            if np.array_equal(new_support, support) or not new_support.any():
                support = new_support
                break
            support = new_support
        coef = np.where(support, coef, 0.0)
        self.coef_ = coef
        self.support_ = support
        self.loss_curve_ = np.asarray(losses, dtype=np.float64)
        self.n_iter_ = len(losses)
        return self

    @staticmethod
    def _window_index(
        starts: np.ndarray, shape: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fancy indices ``(it, ix)``, broadcasting to (n_windows, n_t, n_x)."""
        it = starts[:, 0, None, None] + np.arange(shape[0])[None, :, None]
        ix = starts[:, 1, None, None] + np.arange(shape[1])[None, None, :]
        return it, ix

    @staticmethod
    def _lstsq(
        theta: np.ndarray, target: np.ndarray, support: np.ndarray, scale: np.ndarray
    ) -> np.ndarray:
        """Least squares of ``target`` on the supported columns (scaled)."""
        coef = np.zeros(theta.shape[1])
        cols = np.flatnonzero(support)
        if cols.size:
            design = theta[:, cols] * scale[cols]
            beta = np.linalg.lstsq(design, target, rcond=None)[0]
            coef[cols] = beta * scale[cols]
        return coef

    def _window_tensors(
        self, X: np.ndarray, ref: np.ndarray, shape: tuple[int, int]
    ) -> dict[str, Any]:
        it, ix = self._window_index(self.windows_, shape)
        tt = self.t_[it[:, :, 0]]  # (B, n_t)
        xx = self.x_[ix[:, 0, :]]  # (B, n_x)
        data = X[it, ix]
        ref_w = ref[it, ix]
        # Misfit scale: the energy of the change within each window (what the PDE
        # has to explain), so that ``l1_coef`` is relative to the dynamics.
        scale = float(np.mean((data - data[:, :1, :]) ** 2))
        return {
            "data": self._to_tensor(data),
            "ref": self._to_tensor(ref_w),
            "steps": (
                self._to_tensor(np.diff(tt, axis=1)),
                self._to_tensor(np.diff(xx, axis=1)),
            ),
            "var": max(scale, 1e-12),
        }

    def _solve(self, coef: torch.Tensor, data: dict[str, Any]) -> torch.Tensor:
        """Solve the frozen linear PDE on every window for ``coef`` (PySINDy sign)."""
        from ..solvers import solve_linear_pde

        ref = data["ref"]
        B, nt, nx = ref.shape
        zero = torch.zeros_like(ref)
        # unknowns: u, u_t, u_x, u_tt, u_xx
        columns = [zero, torch.ones_like(ref), zero, zero, zero]
        rhs = zero
        for j, (deriv, k) in enumerate(self.library_):
            basis = ref**k
            if deriv == "rhs":
                rhs = rhs + coef[j] * basis
            else:  # u_t = coef * term  <=>  u_t - coef * ref^k D u = 0
                m = _DERIVATIVES[deriv]
                assert m is not None
                columns[m] = columns[m] - coef[j] * basis
        coefficients = torch.stack(columns, dim=-1)
        out = solve_linear_pde(
            coefficients,
            rhs,
            ref,
            data["steps"],
            method=self.solver,
            mg_levels=self.mg_levels,
        )
        return out[..., 0]

    def _whitening(
        self, coef0: torch.Tensor, cols: torch.Tensor, data: dict[str, Any]
    ) -> torch.Tensor:
        """Map ``P`` with ``coef = coef0 + P @ beta`` whitening the misfit's curvature.

        The Jacobian of the window solutions with respect to the supported
        coefficients is taken by central differences (``2 k`` solves without
        gradients); ``P = L^{-T}`` for the Cholesky factor ``L`` of the
        Gauss-Newton matrix ``J^T J / (N var)``, so the loss is close to
        ``const + |beta|^2`` near ``coef0`` and L-BFGS or Adam see a well
        conditioned problem even when library terms are nearly collinear.
        """
        n = int(cols.numel())
        scale = coef0.abs()[cols].clamp(min=1e-3) * 1e-4
        columns = []
        with torch.no_grad():
            for j in range(n):
                step = torch.zeros_like(coef0)
                step[cols[j]] = scale[j]
                diff = self._solve(coef0 + step, data) - self._solve(coef0 - step, data)
                columns.append((diff / (2 * scale[j])).reshape(-1))
        jac = torch.stack(columns, dim=1)
        gram = jac.T @ jac / (jac.shape[0] * data["var"])
        ridge = 1e-12 * torch.trace(gram) / n + torch.finfo(gram.dtype).tiny
        eye = torch.eye(n, dtype=gram.dtype, device=gram.device)
        chol, info = torch.linalg.cholesky_ex(gram + ridge * eye)
        if int(info) != 0 or not torch.all(torch.isfinite(chol)):
            return torch.diag(1.0 / torch.sqrt(torch.diagonal(gram) + ridge))
        return torch.linalg.solve_triangular(chol.T, eye, upper=True)

    def _refine(
        self,
        coef0: np.ndarray,
        support: np.ndarray,
        data: dict[str, Any],
        params: dict[str, Any],
        losses: list[float],
    ) -> np.ndarray:
        """Fit the supported coefficients through the solver; returns ``coef``."""
        start = self._to_tensor(np.where(support, coef0, 0.0))
        cols = torch.as_tensor(np.flatnonzero(support), device=start.device)
        if cols.numel() == 0:
            return np.zeros_like(coef0)
        precond = self._whitening(start, cols, data)
        beta = torch.nn.Parameter(torch.zeros_like(start[cols]))
        target = data["data"]
        l1_coef = params["l1_coef"]

        def coefficients() -> torch.Tensor:
            return start.index_add(0, cols, precond @ beta)

        def objective() -> torch.Tensor:
            coef = coefficients()
            u = self._solve(coef, data)
            misfit = torch.mean((u - target) ** 2) / data["var"]
            return misfit + l1_coef * torch.sum(torch.abs(coef))

        def value_and_grad(b: np.ndarray) -> tuple[float, np.ndarray]:
            with torch.no_grad():
                beta.copy_(torch.as_tensor(b, dtype=beta.dtype))
            beta.grad = None
            with torch.enable_grad():
                loss = objective()
                loss.backward()
            assert beta.grad is not None
            grad = beta.grad.detach().cpu().numpy().astype(np.float64)
            return float(loss.detach()), grad

        n_free = int(cols.numel())
        best: tuple[float, np.ndarray] = (float("inf"), np.zeros(n_free))
        max_iter = params["max_iter"]
        bar = self._progress(
            iter(range(max_iter)), total=max_iter, desc=type(self).__name__
        )
        ticks = iter(bar)

        def record(b: np.ndarray, value: float) -> None:
            nonlocal best
            losses.append(value)
            next(ticks, None)
            self._report(bar, loss=value)
            if value < best[0]:
                best = (value, b.copy())

        if params["optimizer"] == "lbfgs":
            from scipy.optimize import minimize

            # The whitened misfit has Hessian ~ 2 I, so -g / 2 is a Gauss-Newton
            # step; take it first (L-BFGS-B's first step has length 1 instead).
            f0, g0 = value_and_grad(np.zeros(n_free))
            norm = f0 if np.isfinite(f0) and f0 > 0 else 1.0
            x0 = np.zeros(n_free)
            if np.isfinite(f0) and max_iter > 1:
                f1, _ = value_and_grad(-0.5 * g0)
                if np.isfinite(f1) and f1 < f0:
                    x0 = -0.5 * g0
                    record(x0, f1)
                    max_iter -= 1
            evaluated: dict[bytes, float] = {}

            def fun(b: np.ndarray) -> tuple[float, np.ndarray]:
                value, grad = value_and_grad(b)
                evaluated[b.tobytes()] = value
                if not np.isfinite(value):  # let the line search back off
                    return np.inf, np.zeros_like(grad)
                return value / norm, grad / norm

            def callback(intermediate_result: Any) -> None:
                b = np.asarray(intermediate_result.x)
                value = evaluated.get(b.tobytes(), intermediate_result.fun * norm)
                record(b, float(value))

            minimize(
                fun,
                x0,
                jac=True,
                method="L-BFGS-B",
                callback=callback,
                options={
                    "maxiter": max_iter,
                    "ftol": params["tol"],
                    "gtol": 1e-12,
                    "maxcor": 20,
                },
            )
        else:  # Adam, written out (no torch.optim import cost)
            b = np.zeros(n_free)
            m = np.zeros(n_free)
            v = np.zeros(n_free)
            previous = float("inf")
            lr, beta1, beta2, eps = params["lr"], 0.9, 0.999, 1e-8
            for step in range(1, max_iter + 1):
                value, grad = value_and_grad(b)
                if not np.isfinite(value):
                    break
                record(b, value)
                if abs(previous - value) <= params["tol"] * abs(value):
                    break
                previous = value
                m = beta1 * m + (1 - beta1) * grad
                v = beta2 * v + (1 - beta2) * grad**2
                m_hat = m / (1 - beta1**step)
                v_hat = v / (1 - beta2**step)
                b = b - lr * m_hat / (np.sqrt(v_hat) + eps)
        if not np.isfinite(best[0]):
            return np.where(support, coef0, 0.0)
        with torch.no_grad():
            beta.copy_(torch.as_tensor(best[1], dtype=beta.dtype))
            coef = coefficients().cpu().numpy()
        return np.asarray(coef, dtype=np.float64)

    # ----------------------------------------------------------- outputs
    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the library terms (the entries of ``coef_``).

        Parameters
        ----------
        input_features : None
            Ignored (present for API consistency).

        Returns
        -------
        ndarray of shape (n_terms,), dtype=object
        """
        check_is_fitted(self)
        return self.feature_names_.copy()

    def equations(self, precision: int = 3) -> list[str]:
        """The discovered PDE as a string, in PySINDy's convention.

        Parameters
        ----------
        precision : int, default=3
            Decimal places of the coefficients.

        Returns
        -------
        list of str
            One equation, e.g. ``["u_t = -1.000 u u_x + 0.100 u_xx"]``.
        """
        check_is_fitted(self)
        return [format_equation("u_t", self.coef_, self.feature_names_, precision)]

    def print(self, precision: int = 3) -> None:
        """Print :meth:`equations`.

        Parameters
        ----------
        precision : int, default=3
            Decimal places of the coefficients.
        """
        for line in self.equations(precision):
            print(line)  # noqa: T201

    def _rhs(self, u: np.ndarray, u_x: np.ndarray, u_xx: np.ndarray) -> np.ndarray:
        return self._theta_numpy(u, u_x, u_xx) @ self.coef_

    def predict(self, X: Any) -> np.ndarray:
        """The model's ``u_t`` on the grid.

        Spatial derivatives of each row are second-order finite differences on
        the fitted grid ``x_``; rows are independent snapshots.

        Parameters
        ----------
        X : array-like of shape (n_times, n_points)
            Field snapshots on the training grid.

        Returns
        -------
        ndarray of shape (n_times, n_points)
            ``Theta(u) @ coef_`` at every grid point.
        """
        check_is_fitted(self)
        X = validate_input(self, X, reset=False, dtype=np.float64)
        u_x = _gradient(X, self.x_, 1)
        u_xx = _second_derivative(X, self.x_, 1)
        return self._rhs(X, u_x, u_xx)

    def score(
        self, X: Any, y: Any = None, *, t: Any = None, sample_weight: Any = None
    ) -> float:
        """R² of the model ``u_t`` against finite differences of ``X`` in time.

        Parameters
        ----------
        X : array-like of shape (n_times, n_points)
            Field snapshots, ordered in time.
        y : None
            Ignored.
        t : array-like of shape (n_times,), optional
            Times (requested by default). Omitted: the fitted times when the
            number of rows matches, else unit spacing.
        sample_weight : array-like of shape (n_times,), optional
            Weights of the time rows.

        Returns
        -------
        float
            R² over all grid points.
        """
        from sklearn.metrics import r2_score

        check_is_fitted(self)
        X = validate_input(self, X, reset=False, dtype=np.float64, ensure_min_samples=2)
        if t is None and len(self.t_) == X.shape[0]:
            times = self.t_
        else:
            times = _check_coordinate(t, "t", X.shape[0])
        target = _gradient(X, times, 0)
        weights = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64).ravel()
            if sw.shape != (X.shape[0],):
                raise ValueError(
                    f"sample_weight must have shape ({X.shape[0]},); got {sw.shape}."
                )
            weights = np.repeat(sw, X.shape[1])
        return float(
            r2_score(target.ravel(), self.predict(X).ravel(), sample_weight=weights)
        )

    def simulate(
        self,
        u0: Any,
        t: Any,
        x: Any = None,
        *,
        bc: str = "periodic",
        **solve_ivp_kwargs: Any,
    ) -> np.ndarray:
        """Integrate the discovered PDE by the method of lines.

        Parameters
        ----------
        u0 : array-like of shape (n_points,)
            Initial field at ``t[0]``.
        t : array-like of shape (n_times,)
            Strictly increasing output times.
        x : array-like of shape (n_points,), optional
            Grid; defaults to the fitted ``x_`` (then ``u0`` must match it).
        bc : {"periodic", "dirichlet"}, default="periodic"
            ``"periodic"``: uniform grid of a periodic domain of length
            ``n_points * dx``, spectral derivatives. ``"dirichlet"``: the end
            values of ``u0`` are held fixed, second-order finite differences.
        **solve_ivp_kwargs
            Passed to :func:`scipy.integrate.solve_ivp` (defaults
            ``method="LSODA"``, ``rtol=1e-8``, ``atol=1e-10``).

        Returns
        -------
        ndarray of shape (n_times, n_points)
            The simulated field; rows after a failed integration are NaN.
        """
        from scipy.integrate import solve_ivp

        check_is_fitted(self)
        check_option(bc, "bc", ("periodic", "dirichlet"))
        start = np.asarray(u0, dtype=np.float64).ravel()
        if start.size < 3 or not np.all(np.isfinite(start)):
            raise ValueError(
                f"u0 must hold at least 3 finite values; got shape {start.shape}."
            )
        n = start.size
        grid = self.x_ if x is None else x
        grid = _check_coordinate(grid, "x", n)
        times = np.asarray(t, dtype=np.float64).ravel()
        if times.size < 1 or not np.all(np.isfinite(times)):
            raise ValueError("t must be a non-empty array of finite times.")
        if np.any(np.diff(times) <= 0):
            raise ValueError("t must be strictly increasing.")
        if times.size == 1:
            return start[None, :].copy()
        if bc == "periodic":
            dx = np.diff(grid)
            if not np.allclose(dx, dx[0], rtol=1e-8, atol=0.0):
                raise ValueError("bc='periodic' needs a uniform grid x.")
            k = 2 * np.pi * np.fft.rfftfreq(n, d=dx[0])

            def derivs(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                u_hat = np.fft.rfft(u)
                return (
                    np.fft.irfft(1j * k * u_hat, n=n),
                    np.fft.irfft(-(k**2) * u_hat, n=n),
                )

            def rhs(_: float, u: np.ndarray) -> np.ndarray:
                u_x, u_xx = derivs(u)
                return self._rhs(u, u_x, u_xx)

        else:

            def rhs(_: float, u: np.ndarray) -> np.ndarray:
                u_x = _gradient(u, grid, 0)
                u_xx = _second_derivative(u, grid, 0)
                du = self._rhs(u, u_x, u_xx)
                du[[0, -1]] = 0.0
                return du

        kwargs: dict[str, Any] = {"method": "LSODA", "rtol": 1e-8, "atol": 1e-10}
        kwargs.update(solve_ivp_kwargs)
        sol = solve_ivp(rhs, (times[0], times[-1]), start, t_eval=times, **kwargs)
        out = np.full((times.size, n), np.nan)
        out[: sol.y.shape[1]] = sol.y.T
        return out
