"""PDE discovery: weak-form library regression and a differentiable linear-PDE
solver (Mechanistic PDE Networks).

``method="weak"`` (default) tests the candidate equation ``u_t = Theta(u) xi``
against compactly supported polynomial bumps and integrates by parts so that the
derivatives fall on the test functions, not on the noisy data
(:mod:`skres.dynamics._pde_weak`); the support is chosen by modified sequential
thresholding. ``method="mechanistic"`` starts there and refines the coefficients
through the solver as described below.

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
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._base import SkresTags, TorchEstimatorMixin
from .._compat import Interval, StrOptions, fit_context
from .._validation import (
    check_option,
    check_positive_float,
    check_positive_int,
    validate_input,
)
from ._equations import format_equation
from ._pde_fields import FieldsMixin, check_fields_input
from ._pde_library import (
    DERIVATIVE_ORDER,
    MIN_SOLVER_POINTS,
    _check_coordinate,
    _term_name,
    _warn_unit_spacing,
    derivative,
    max_order,
    parse_terms,
    theta,
)
from ._pde_refine import refine
from ._pde_simulate import SimulateMixin, SimulationWarning
from ._pde_weak import (
    check_finite_system,
    mstls,
    warn_if_unidentified,
    weak_system,
)

__all__ = ["PDEDiscoverer"]


class PDEDiscoverer(SimulateMixin, FieldsMixin, TorchEstimatorMixin, BaseEstimator):
    """Discover evolution PDEs from gridded data (weak form or mechanistic solver).

    ``method="weak"`` (default) fits the library by weak-form regression over
    compactly supported test functions (derivatives integrated by parts onto
    them, robust to noise) with automatic pruning. ``method="mechanistic"``
    then refines ``u_t + p(u~) u_x + q(u~) u_xx = r(u~)`` (``p``, ``q``, ``r``
    polynomials of the reference field ``u~``; terms of order 3 and 4 frozen
    at ``u~``) by solving that linear PDE on random windows of the data with
    :func:`skres.solvers.solve_linear_pde` and minimising the misfit of the
    solutions, following Mechanistic PDE Networks [1]_. ``coef_`` follows
    PySINDy's convention ``u_t = Theta coef_``.

    ``X`` is one field on a 1-D grid, one row per time point (shape
    ``(n_times, n_points)``), or several fields on a 1-D or 2-D grid
    (``(n_times, n_x[, n_y], n_fields)``, weak form only, one equation per
    field). The coordinates are the routed fit parameters ``t`` and ``x``
    (``x=(x, y)`` on 2-D grids; unit spacing, with a warning, when omitted).

    Parameters
    ----------
    terms : dict or None, default=None
        One field, 1-D: a mapping from a derivative factor, one of ``"rhs"``
        (no derivative), ``"u_x"``, ``"u_xx"``, ``"u_xxx"``, ``"u_xxxx"``, to
        the powers of ``u`` that multiply it, a maximum degree ``d`` (powers
        ``0..d``) or a list of powers. ``None`` is ``{"rhs": 2, "u_x": 2,
        "u_xx": 1, "u_xxx": 0, "u_xxxx": 0}`` (10 terms). The two-term Burgers
        library is ``{"u_x": [1], "u_xx": [0]}``. Several fields or 2-D: a dict
        with ``degree`` (monomials of the fields, default 3), ``order``
        (derivatives of each field up to this total order, mixed included,
        default 2), ``derivative_degree`` (monomials multiplying them, default
        1) and ``derivative_fields`` (indices of the fields whose derivatives
        enter, default all).
    method : {"weak", "mechanistic"}, default="weak"
        Weak-form regression only, or followed by the solver refinement (one
        field on a 1-D grid).
    weak_support : tuple of int, default=(12, 24)
        Radii ``(r_t, r_x)`` of the test functions in grid points (clipped to a
        quarter of each axis, a sixth with several fields or 2-D grids; ``r_x``
        is used for every spatial axis). Larger
        radii average more noise, smaller ones resolve finer structure.
    field_names : list of str or None, default=None
        Names of the fields (several fields), default ``u, v, w``.
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
        estimator with a ``transform`` attribute as a transformer.) Smoothing
        biases diffusion: clean Burgers' viscosity 0.1 comes out at 0.004
        (mechanistic) or 0.105 (weak) with ``smooth_sigma=(1, 2)``.
    smooth_sigma : float or tuple of float, default=(1.0, 2.0)
        Gaussian standard deviations ``(sigma_t, sigma_x)`` in grid points.
    init : {"weak", "lstsq", "zeros"}, default="weak"
        Start of the mechanistic refinement: the weak-form fit (its support too
        when ``threshold="auto"``), least squares of finite-difference ``u_t``
        on the windows (PDE-FIND style), or zeros.
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
    threshold : "auto", float or None, default="auto"
        ``"auto"``: modified sequential thresholding of the weak-form system,
        the threshold chosen so that every kept term lowers the relative
        weak-form misfit by at least 0.4 % (see ``skres.dynamics._pde_weak``);
        only selected terms are printed. A float: terms with
        ``|coef| < threshold`` are removed and the rest refitted until the
        support is stable. ``None``: every library term is kept.
    device : str or torch.device, default="auto"
        Where the solves run.
    dtype : str, default="float64"
        Compute precision.
    random_state : int, RandomState instance or None, default=None
        Seeds the window positions of the mechanistic refinement (the weak
        form is deterministic).
    verbose : int, default=0
        Show a progress bar over the optimiser iterations.

    Attributes
    ----------
    coef_ : ndarray of shape (n_terms,) or (n_fields, n_terms)
        Coefficients of ``u_t = sum_j coef_[j] * term_j`` (PySINDy convention);
        one row per field when several fields were fitted.
    weak_threshold_ : float, list or None
        The pruning threshold used (chosen by ``threshold="auto"``).
    field_names_ : ndarray of str
        Field names (several fields only).
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
    __metadata_request__score = {"t": True, "x": True}

    _parameter_constraints: dict = {
        **TorchEstimatorMixin._torch_parameter_constraints,
        "terms": [dict, None],
        "method": [StrOptions({"weak", "mechanistic"})],
        "weak_support": ["array-like"],
        "field_names": ["array-like", None],
        "window": ["array-like"],
        "n_windows": [Interval(Integral, 1, None, closed="left")],
        "denoise": [StrOptions({"gaussian"}), None],
        "smooth_sigma": [Interval(Real, 0, None, closed="left"), "array-like"],
        "init": [StrOptions({"weak", "lstsq", "zeros"})],
        "solver": [StrOptions({"auto", "direct", "dense", "multigrid"})],
        "mg_levels": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions({"lbfgs", "adam"})],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "l1_coef": [Interval(Real, 0, None, closed="left")],
        "threshold": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="left"),
            None,
        ],
    }

    def __init__(
        self,
        *,
        terms: dict[str, Any] | None = None,
        method: str = "weak",
        weak_support: tuple[int, int] = (12, 24),
        field_names: Any = None,
        window: tuple[int, int] = (8, 32),
        n_windows: int = 16,
        denoise: str | None = None,
        smooth_sigma: Any = (1.0, 2.0),
        init: str = "weak",
        solver: str = "auto",
        mg_levels: int = 3,
        optimizer: str = "lbfgs",
        max_iter: int = 50,
        lr: float = 1e-2,
        tol: float = 1e-6,
        l1_coef: float = 1e-4,
        threshold: float | str | None = "auto",
        device: Any = "auto",
        dtype: str = "float64",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.terms = terms
        self.method = method
        self.weak_support = weak_support
        self.field_names = field_names
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

    def __skres_tags__(self) -> SkresTags:
        # random_state only draws the windows of the mechanistic refinement
        return SkresTags(torch=True, stochastic=self.method == "mechanistic")

    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        """Small, fast parameters for the common test-suite."""
        return {
            "window": (6, 6),
            "n_windows": 2,
            "max_iter": 2,
            "device": "cpu",
            "weak_support": (2, 2),
        }

    # ------------------------------------------------------------ library
    def _resolved_params(self) -> dict[str, Any]:
        window = self.window
        if (
            not isinstance(window, tuple | list)
            or len(window) != 2
            or not all(
                isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 2
                for w in window
            )
        ):
            raise ValueError(
                f"window must be a pair of integers >= 2 (n_t, n_x); got {window!r}."
            )
        check_option(self.denoise, "denoise", (None, "gaussian"))
        sigma = np.broadcast_to(np.asarray(self.smooth_sigma, dtype=float), (2,))
        if self.denoise == "gaussian" and not np.all(np.isfinite(sigma) & (sigma >= 0)):
            raise ValueError(
                "smooth_sigma must be a number or a pair of numbers >= 0; got "
                f"{self.smooth_sigma!r}."
            )
        threshold = self.threshold
        if threshold is not None and not (
            isinstance(threshold, str) and threshold == "auto"
        ):
            threshold = check_positive_float(threshold, "threshold", allow_zero=True)
        ws = self.weak_support
        if (
            not isinstance(ws, tuple | list)
            or len(ws) != 2
            or not all(
                isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 1
                for w in ws
            )
        ):
            raise ValueError(
                "weak_support must be a pair of integers >= 1 (test-function radii "
                f"in grid points along t and x); got {ws!r}."
            )
        return {
            "window": (int(window[0]), int(window[1])),
            "n_windows": check_positive_int(self.n_windows, "n_windows"),
            "sigma": sigma.copy(),
            "init": check_option(self.init, "init", ("weak", "lstsq", "zeros")),
            "method": check_option(self.method, "method", ("weak", "mechanistic")),
            "weak_support": (int(ws[0]), int(ws[1])),
            "solver": check_option(
                self.solver, "solver", ("auto", "direct", "dense", "multigrid")
            ),
            "mg_levels": check_positive_int(self.mg_levels, "mg_levels"),
            "optimizer": check_option(self.optimizer, "optimizer", ("lbfgs", "adam")),
            "max_iter": self._check_max_iter(),
            "lr": check_positive_float(self.lr, "lr"),
            "tol": check_positive_float(self.tol, "tol", allow_zero=True),
            "l1_coef": check_positive_float(self.l1_coef, "l1_coef", allow_zero=True),
            "threshold": threshold,
        }

    def _check_max_iter(self) -> int:
        if (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, numbers.Integral)
            or self.max_iter < 0
        ):
            raise ValueError(
                f"max_iter must be an integer >= 0; got {self.max_iter!r}."
            )
        return int(self.max_iter)

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
        X : array-like of shape (n_times, n_points) or (n_times, n_x[, n_y], n_fields)
            The field ``u``; row ``i`` is the snapshot at time ``t[i]``. Several
            fields (last axis) on a 1-D or 2-D grid are fitted by the weak form,
            one equation per field.
        y : None
            Ignored.
        t : array-like of shape (n_times,), optional
            Strictly increasing times (requested by default through metadata
            routing); unit spacing (with a warning) when omitted.
        x : array-like of shape (n_points,) or pair of arrays, optional
            Strictly increasing spatial grid (requested by default); for a 2-D
            grid the pair ``(x, y)``. Unit spacing (with a warning) when omitted.

        Returns
        -------
        self : PDEDiscoverer
        """
        raw = X
        if np.ndim(X) >= 3:
            self._setup_torch(None)
            return self._fit_fields(X, t, x, self._resolved_params())
        X = validate_input(
            self,
            X,
            reset=True,
            dtype=np.float64,
            ensure_min_samples=2,
            ensure_min_features=2,
        )
        params = self._resolved_params()
        self.library_ = parse_terms(self.terms)
        generator = self._setup_torch(raw)
        del generator  # the windows are drawn with numpy from random_state
        nt, nx = X.shape
        _warn_unit_spacing(t=t, x=x)
        self.t_ = _check_coordinate(t, "t", nt)
        self.x_ = _check_coordinate(x, "x", nx)
        ref = self._reference(X, params)
        shape = (min(params["window"][0], nt), min(params["window"][1], nx))
        self.window_shape_ = shape
        self.windows_ = self._draw_windows(ref, shape, params["n_windows"])
        self.feature_names_ = np.asarray(
            [_term_name(d, k) for d, k in self.library_], dtype=object
        )
        use_solver = (
            params["method"] == "mechanistic"
            and params["max_iter"] > 0
            and shape[0] >= MIN_SOLVER_POINTS
            and shape[1] >= MIN_SOLVER_POINTS
        )
        self.solver_used_ = bool(use_solver)
        losses: list[float] = []
        coef, support = self._weak_fit(ref, params)
        if use_solver:
            coef, support = self._mechanistic_fit(X, ref, coef, support, params, losses)
        self.coef_ = np.where(support, coef, 0.0)
        self.support_ = support
        self.loss_curve_ = np.asarray(losses, dtype=np.float64)
        self.n_iter_ = len(losses)
        return self

    def _weak_fit(
        self, ref: np.ndarray, params: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Weak-form coefficients and support on the whole reference field."""
        nt, nx = ref.shape
        rt = max(1, min(params["weak_support"][0], (nt - 1) // 4))
        rx = max(1, min(params["weak_support"][1], (nx - 1) // 4))
        lib = [(DERIVATIVE_ORDER[d], m) for d, m in self.library_]
        with np.errstate(over="ignore", invalid="ignore"):
            G, b = weak_system(
                ref,
                self.t_,
                self.x_,
                lib,
                lambda v, k: derivative(v, self.x_, 1, k),
                radius=(rt, rx),
                stride=(max(1, rt // 2), max(1, rx // 2)),
                p=6,
            )
        check_finite_system(G, b)
        G = G / self._weak_scale(G)
        threshold = params["threshold"]
        n_terms = len(lib)
        if isinstance(threshold, str):  # "auto"
            xi, self.weak_threshold_ = mstls(G, b)
        else:
            self.weak_threshold_ = threshold
            keep = np.ones(n_terms, dtype=bool)
            xi = np.zeros(n_terms)
            for _ in range(n_terms + 1):
                xi = np.zeros(n_terms)
                if keep.any():
                    xi[keep] = np.linalg.lstsq(G[:, keep], b, rcond=None)[0]
                if threshold is None:
                    break
                new = keep & (np.abs(xi / self._weak_scale_) >= threshold)
                if np.array_equal(new, keep):
                    break
                keep = new
        coef = xi / self._weak_scale_
        warn_if_unidentified(G, coef != 0, self.feature_names_, "PDEDiscoverer.fit")
        return coef, coef != 0

    def _weak_scale(self, G: np.ndarray) -> np.ndarray:
        scale = np.linalg.norm(G, axis=0)
        self._weak_scale_ = np.where(scale > 0, scale, 1.0)
        return self._weak_scale_

    def _mechanistic_fit(
        self,
        X: np.ndarray,
        ref: np.ndarray,
        coef: np.ndarray,
        support: np.ndarray,
        params: dict[str, Any],
        losses: list[float],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Refine through the solver (thresholding cycles for a numeric threshold)."""
        n_terms = len(self.library_)
        shape = self.window_shape_
        if params["threshold"] is None or params["init"] != "weak":
            support = np.ones(n_terms, dtype=bool)
        lstsq_init = params["init"] == "lstsq"
        if lstsq_init:
            design, target, coef_scale = self._fd_design(ref, shape)
        if params["init"] == "zeros":
            coef = np.zeros(n_terms)
        data = self._window_tensors(X, ref, shape)
        for _cycle in range(n_terms + 1):
            if lstsq_init:
                coef = self._lstsq(design, target, support, coef_scale)
            coef = refine(
                self, np.where(support, coef, 0.0), support, data, params, losses
            )
            if not isinstance(params["threshold"], float):
                break
            new_support = support & (np.abs(coef) >= params["threshold"])
            if np.array_equal(new_support, support) or not new_support.any():
                support = new_support
                break
            support = new_support
        return np.where(support, coef, 0.0), support

    def _derivatives(self, u: np.ndarray) -> dict[int, np.ndarray]:
        return {
            k: derivative(u, self.x_, u.ndim - 1, k)
            for k in range(1, max_order(self.library_) + 1)
        }

    def _fd_design(
        self, ref: np.ndarray, shape: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Finite-difference library and ``u_t`` on the windows (PDE-FIND style)."""
        n_terms = len(self.library_)
        u_t = derivative(ref, self.t_, 0, 1)
        it, ix = self._window_index(self.windows_, shape)
        design = theta(ref, self._derivatives(ref), self.library_)[it, ix]
        design = design.reshape(-1, n_terms)
        target = u_t[it, ix].ravel()
        scale = design.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        return design, target, max(float(target.std()), 1e-12) / scale

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
            "ref_derivs": {
                k: self._to_tensor(v[it, ix])
                for k, v in self._derivatives(ref).items()
                if k > 2
            },
        }

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
        if np.ndim(self.coef_) == 2:
            return [
                format_equation(f"{name}_t", row, self.feature_names_, precision)
                for name, row in zip(self.field_names_, self.coef_, strict=True)
            ]
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

    def _rhs(self, u: np.ndarray, derivs: dict[int, np.ndarray]) -> np.ndarray:
        return theta(u, derivs, self.library_) @ self.coef_

    def predict(self, X: Any) -> np.ndarray:
        """The model's ``u_t`` on the grid.

        Spatial derivatives of each row are second-order finite differences
        (repeated for orders 3 and 4) on the fitted grid ``x_``; rows are
        independent snapshots.

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
        self._check_single_field("predict")
        X = validate_input(self, X, reset=False, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            out = self._rhs(X, self._derivatives(X))
        if not np.all(np.isfinite(out)):
            raise ValueError(
                "the model's u_t is not finite on X (library powers overflow "
                "float64 at this data scale); rescale X."
            )
        return out

    def score(
        self,
        X: Any,
        y: Any = None,
        *,
        t: Any = None,
        x: Any = None,
        sample_weight: Any = None,
        bc: str = "periodic",
    ) -> float:
        """R² of a forward simulation of the discovered PDE against ``X``.

        The discovered equation is integrated by :meth:`simulate` from the first
        row of ``X`` over the times ``t`` and compared with every later row. Unlike
        the R² of ``u_t`` (which a model missing a small but essential term, such
        as KdV without ``u_xxx``, still matches to 0.98), errors compound along
        the trajectory, so a wrong equation scores far lower. Use held-out data
        (another initial condition or later times) for model selection.

        Parameters
        ----------
        X : array-like of shape (n_times, n_points) or (n_times, n_x[, n_y], n_fields)
            Field snapshots, ordered in time.
        y : None
            Ignored.
        t : array-like of shape (n_times,), optional
            Times (requested by default). Omitted: the fitted times when the
            number of rows matches, else unit spacing.
        x : array-like of shape (n_points,) or pair of arrays, optional
            Grid (requested by default); defaults to the fitted ``x_``.
        sample_weight : array-like of shape (n_times,), optional
            Weights of the time rows.
        bc : {"periodic", "dirichlet"}, default="periodic"
            Boundary condition of the simulation (see :meth:`simulate`).

        Returns
        -------
        float
            R² over all grid points of rows 1 onwards. ``-inf``, with a
            :class:`~skres.dynamics.SimulationWarning`, when the simulation
            blows up or exhausts its work budget: the equation cannot reproduce
            ``X`` at all, and model selection ranks it last.
        """
        from sklearn.metrics import r2_score

        check_is_fitted(self)
        if np.ndim(self.coef_) == 2:
            X = check_fields_input(X)
        else:
            X = validate_input(
                self, X, reset=False, dtype=np.float64, ensure_min_samples=2
            )
        if t is None and len(self.t_) == X.shape[0]:
            times = self.t_
        else:
            times = _check_coordinate(t, "t", X.shape[0])
        weights = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64).ravel()
            if sw.shape != (X.shape[0],):
                raise ValueError(
                    f"sample_weight must have shape ({X.shape[0]},); got {sw.shape}."
                )
            weights = np.repeat(sw[1:], int(np.prod(X.shape[1:])))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", SimulationWarning)
            sim = self.simulate(X[0], times, x, bc=bc)
        if not np.all(np.isfinite(sim)):
            warnings.warn(
                "score: the forward simulation of the discovered PDE from X[0] "
                "blew up or exhausted its work budget before the last time, so the "
                "equation does not reproduce X; score is -inf. Check the discovered "
                "equation (equations()) and that X has the scale of the training "
                "data.",
                SimulationWarning,
                stacklevel=2,
            )
            return float("-inf")
        return float(r2_score(X[1:].ravel(), sim[1:].ravel(), sample_weight=weights))
