"""ODE discovery with the linear-time mechanistic solver as integrator.

The model is a sparse autonomous ODE ``x_i' = sum_j xi_{ij} theta_j(x)`` on a
library of candidate terms ``theta`` (polynomials by default). Following the
Mechanistic Neural Network discovery setting (Pervez et al., ICML 2024; Chen et
al., ICLR 2025), the data are cut into short windows and on each window the ODE
``u' = Theta(x) xi`` with initial value ``u(t_0) = x(t_0)`` is solved by the
S-MNN least-squares solver (:func:`skres.solvers.solve_linear_ode`). The left-hand
side (``u'``) and the steps are the same for every library column and every
state dimension, so the solution is linear in ``xi``:
``u = x(t_0) V + sum_j xi_j S_j``, where ``S_j`` solves the ODE with right-hand
side ``theta_j(x)`` and ``V`` the one with a unit initial value. One banded
factorisation per window shape and one batched substitution give the design
matrix ``[S_j]``; fitting ``x - x(t_0) V`` on it by least squares with sequential
thresholding (STLSQ) is an *integral* form of SINDy whose integrator is the
mechanistic solver. It is closed-form, deterministic and takes well under a
second on the Lorenz benchmark.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import r2_score
from sklearn.preprocessing import PolynomialFeatures
from sklearn.utils.validation import check_is_fitted

from .._base import SkresTags, TorchEstimatorMixin
from .._compat import HasMethods, Interval, StrOptions, fit_context
from .._validation import (
    check_finite_output,
    check_positive_float,
    check_side_array,
    tensor_to_numpy,
    validate_input,
)
from ..solvers import LinearODEFactorCache, solve_linear_ode
from ._equations import format_equation
from ._integrate import check_max_rhs_evals, check_output_times, integrate
from ._ode_trajectories import _is_trajectory_list, _looks_like_time, _segments

__all__ = ["MechanisticODE"]


class MechanisticODE(TorchEstimatorMixin, BaseEstimator):
    """Sparse ODE discovery with the Scalable Mechanistic Neural Network solver.

    Fits ``x' = Theta(x) coef_.T`` to one or several sampled trajectories: each
    window of ``window`` samples is integrated by the linear-time least-squares
    ODE solver of S-MNN (:func:`skres.solvers.solve_linear_ode`) with the library
    terms evaluated on the data as right-hand side, and the coefficients are found
    by closed-form least squares with sequential thresholding on the integrated
    library (see the module docstring).

    Parameters
    ----------
    library : "poly" or transformer, default="poly"
        Candidate terms. ``"poly"`` is
        ``PolynomialFeatures(degree, include_bias=include_bias)``; any scikit-learn
        transformer (fitted on ``X`` in ``fit``) may be given instead, e.g. a
        ``FunctionTransformer``.
    degree : int, default=2
        Polynomial degree for ``library="poly"``.
    include_bias : bool, default=True
        Include the constant term for ``library="poly"``.
    window : int, default=50
        Samples per integration window (shorter trajectories form one window).
    stride : int or None, default=None
        Step between window starts; ``None`` means ``window // 2``.
    order : int, default=2
        Order of the solver's Taylor representation (``order + 1`` derivative
        orders per step); 2 gives second-order, 3 fourth-order accuracy.
    central_smoothness : bool, default=False
        Add the MNN central-difference rows to the solver.
    threshold : float, default=0.1
        Coefficients with absolute value below this are set to zero in each
        thresholding cycle.
    max_cycles : int, default=10
        Maximum number of thresholding cycles.
    normalize_columns : bool, default=True
        Scale the integrated library columns to unit norm before each least-squares
        solve (the threshold still applies to the unscaled coefficients).
    dt : float, default=1.0
        Sampling interval when ``fit`` is called without ``t`` (prefer passing
        ``t=`` to ``fit``; omitting ``t`` with the default ``dt=1.0`` warns that unit
        spacing is assumed).
    fit_method : {"lstsq", "gradient"}, default="lstsq"
        ``"lstsq"``: closed-form least squares with sequential thresholding on the
        integrated library (fast, deterministic). ``"gradient"``: the MNN-style
        training, warm-started from the ``"lstsq"`` fit: an MLP encoder maps each
        window to a denoised state ``x_hat`` (a residual correction of the data),
        the solver integrates ``u' = Theta(x_hat) xi`` from ``x_hat(t_0)`` with a
        frozen left-hand side, and Adam minimises
        ``MSE(u, x) + MSE(x_hat, x)`` (scaled per state) over ``xi`` and the
        encoder; after each of ``max_cycles`` cycles of ``max_epochs`` full-batch
        steps, coefficients below ``threshold`` are masked out. Needs
        ``library="poly"`` (the library is evaluated in torch).
    max_epochs : int, default=200
        Adam steps per thresholding cycle (``fit_method="gradient"``).
    lr : float, default=1e-3
        Adam learning rate (``fit_method="gradient"``).
    hidden_size : int, default=256
        Width of the encoder's hidden layer (``fit_method="gradient"``).
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device, default="auto"
        Where ``fit_method="gradient"`` trains (``"lstsq"`` runs in numpy).
    dtype : {"float64", "float32"}, default="float64"
        Precision of the ``fit_method="gradient"`` training.
    random_state : int, RandomState instance or None, default=None
        Seeds the encoder initialisation (``fit_method="gradient"``; the
        ``"lstsq"`` mode is deterministic).
    feature_names : list of str, default=None
        Names of the state variables used by :meth:`equations` (as in PySINDy);
        default: the column names of a DataFrame ``X``, else ``x0, x1, ...``.
    verbose : int, default=0
        Show a progress bar over the thresholding cycles of
        ``fit_method="gradient"``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features, n_terms)
        Coefficients of each state's derivative on the library terms.
    support_ : ndarray of shape (n_features, n_terms), bool
        Non-zero pattern of ``coef_``.
    library_ : transformer
        The fitted library.
    terms_ : ndarray of shape (n_terms,), dtype=object
        Names of the library terms.
    n_windows_ : int
        Number of integration windows used.
    n_cycles_ : int
        Thresholding cycles run.
    loss_curve_ : ndarray of shape (n_steps,)
        Training loss per Adam step (``fit_method="gradient"`` only).
    n_features_in_ : int
        Number of state variables.
    feature_names_in_ : ndarray of shape (n_features,)
        State names, when ``X`` had string column names.

    See Also
    --------
    skres.solvers.solve_linear_ode : the solver used as integrator.

    References
    ----------
    .. [1] J. Chen, K. Yao, A. Pervez, D. Alistarh, F. Locatello. Scalable
       Mechanistic Neural Networks. ICLR 2025.
    .. [2] A. Pervez, F. Locatello, E. Gavves. Mechanistic Neural Networks for
       Scientific Machine Learning. ICML 2024.

    Examples
    --------
    >>> from skres.datasets import make_lorenz
    >>> from skres.dynamics import MechanisticODE
    >>> X, t = make_lorenz(2000, random_state=0)
    >>> model = MechanisticODE().fit(X, t=t)
    >>> model.equations(precision=1)[0]
    "x0' = -10.0 x0 + 10.0 x1"
    """

    __metadata_request__fit = {"t": True}
    __metadata_request__score = {"t": True}

    _parameter_constraints: dict = {
        **TorchEstimatorMixin._torch_parameter_constraints,
        "library": [StrOptions({"poly"}), HasMethods(["fit", "transform"])],
        "degree": [Interval(Integral, 1, None, closed="left")],
        "include_bias": ["boolean"],
        "window": [Interval(Integral, 2, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left"), None],
        "order": [Interval(Integral, 1, None, closed="left")],
        "central_smoothness": ["boolean"],
        "threshold": [Interval(Real, 0, None, closed="left")],
        "max_cycles": [Interval(Integral, 1, None, closed="left")],
        "normalize_columns": ["boolean"],
        "dt": [Interval(Real, 0, None, closed="neither")],
        "fit_method": [StrOptions({"lstsq", "gradient"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "feature_names": ["array-like", None],
        "dtype": [StrOptions({"float64", "float32"}), torch.dtype, np.dtype, type],
    }

    def __init__(
        self,
        *,
        library: Any = "poly",
        degree: int = 2,
        include_bias: bool = True,
        window: int = 50,
        stride: int | None = None,
        order: int = 2,
        central_smoothness: bool = False,
        threshold: float = 0.1,
        max_cycles: int = 10,
        normalize_columns: bool = True,
        dt: float = 1.0,
        fit_method: str = "lstsq",
        max_epochs: int = 200,
        lr: float = 1e-3,
        hidden_size: int = 256,
        device: Any = "auto",
        dtype: Any = "float64",
        random_state: Any = None,
        feature_names: Any = None,
        verbose: int = 0,
    ) -> None:
        self.library = library
        self.degree = degree
        self.include_bias = include_bias
        self.window = window
        self.stride = stride
        self.order = order
        self.central_smoothness = central_smoothness
        self.threshold = threshold
        self.max_cycles = max_cycles
        self.normalize_columns = normalize_columns
        self.dt = dt
        self.fit_method = fit_method
        self.max_epochs = max_epochs
        self.lr = lr
        self.hidden_size = hidden_size
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.feature_names = feature_names
        self.verbose = verbose

    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        """Small, fast parameters for the common test-suite."""
        return {"window": 20, "max_cycles": 3, "device": "cpu"}

    def __skres_tags__(self) -> SkresTags:
        return SkresTags(torch=True, stochastic=self.fit_method == "gradient")

    # ------------------------------------------------------------------ helpers
    def _make_library(self) -> Any:
        if isinstance(self.library, str):  # "poly"
            return PolynomialFeatures(self.degree, include_bias=bool(self.include_bias))
        return clone(self.library)

    def _trajectories(
        self, X: Any, y: Any, t: Any, *, reset: bool, method: str
    ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
        """Validate ``X`` and ``t``: stacked states, times and trajectory bounds.

        ``X`` is one array (trajectories stacked, each restart of ``t`` starting a
        new one) or a list of arrays; ``t`` is None, a time step, an array of
        times, or a list of arrays (one per trajectory).
        """
        if _is_trajectory_list(X):
            parts = [tensor_to_numpy(x, "X") for x in X]
            lengths = [len(x) for x in parts]
            if all(hasattr(x, "columns") for x in parts):
                import pandas as pd

                X = pd.concat(parts, ignore_index=True)
            else:
                X = np.concatenate([np.asarray(x) for x in parts])
        else:
            lengths = None
        X = validate_input(self, X, reset=reset, dtype=np.float64, ensure_min_samples=2)
        n = X.shape[0]
        if t is None and _looks_like_time(y, n):
            raise ValueError(
                f"{type(self).__name__}.{method} ignores y, but the y given looks "
                "like sample times (a time step or increasing values). Pass the "
                f"times by keyword: {method}(X, t=t)."
            )
        if t is None:
            dt = float(self.dt)
            if dt == 1.0:
                warnings.warn(
                    f"{type(self).__name__}.{method} got no t: samples are assumed "
                    "to be 1 time unit apart (unit spacing), which scales every "
                    "coefficient. Pass t= (sample times or a scalar time step).",
                    UserWarning,
                    stacklevel=3,
                )
            t = dt
        if isinstance(t, numbers.Real) and not isinstance(t, bool):
            dt = check_positive_float(t, "t (a scalar time step)")
            lengths = lengths or [n]
            times = np.concatenate(
                [dt * np.arange(m, dtype=np.float64) for m in lengths]
            )
        elif lengths is not None and isinstance(t, Sequence) and len(t) == len(lengths):
            times = np.concatenate(
                [
                    check_side_array(
                        tt, name=f"t[{i}]", n_samples=m, numeric=True
                    ).astype(np.float64)
                    for i, (tt, m) in enumerate(zip(t, lengths, strict=True))
                ]
            )
            for i, (a, b) in enumerate(self._bounds(lengths)):
                if np.any(np.diff(times[a:b]) <= 0):
                    raise ValueError(f"t[{i}] must be strictly increasing.")
        elif (
            lengths is not None
            and np.ndim(tensor_to_numpy(t, "t")) == 1
            and all(m == len(t) for m in lengths)
        ):  # one time array shared by every trajectory, as PySINDy allows
            times = np.tile(
                check_side_array(t, name="t", n_samples=lengths[0], numeric=True),
                len(lengths),
            ).astype(np.float64)
        elif lengths is not None:
            raise ValueError(
                f"X is a list of {len(lengths)} trajectories; t must be a scalar "
                "time step, one array per trajectory (a list of the same length), or "
                "one array shared by trajectories of equal length."
            )
        else:
            times = check_side_array(t, name="t", n_samples=n, numeric=True).astype(
                np.float64
            )
        bounds = self._bounds(lengths) if lengths is not None else _segments(times)
        self._check_trajectory_lengths(bounds, times, method)
        return X, times, bounds

    @staticmethod
    def _bounds(lengths: list[int]) -> list[tuple[int, int]]:
        edges = np.concatenate([[0], np.cumsum(lengths)])
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def _check_trajectory_lengths(
        self, bounds: list[tuple[int, int]], times: np.ndarray, method: str
    ) -> None:
        """Every trajectory needs enough samples for the solver's order."""
        order = int(self.order)
        need = order + 2 if method == "fit" else 2
        short = [b - a for a, b in bounds if b - a < need]
        if not short:
            return
        hint = ""
        if len(bounds) > 2 and np.all(np.diff(np.sort(times)) > 0):
            hint = (
                " The values of t are distinct, so t is probably shuffled: sort X "
                "and t by time (e.g. order = np.argsort(t))."
            )
        raise ValueError(
            f"{len(short)} of {len(bounds)} trajectories have fewer than {need} "
            f"samples (shortest: {min(short)}), which {method} with order={order} "
            "cannot use. t must increase within each trajectory; each place where "
            "it does not increase starts a new trajectory. Pass separate "
            "trajectories as lists (X=[X1, X2], t=[t1, t2])." + hint
        )

    def _theta(self, X: np.ndarray) -> np.ndarray:
        theta = np.asarray(self.library_.transform(X), dtype=np.float64)
        if theta.ndim != 2 or theta.shape[0] != X.shape[0]:
            raise ValueError("library must return an array of shape (n_samples, k).")
        return theta

    def _windows(
        self, t: np.ndarray, bounds: list[tuple[int, int]] | None = None
    ) -> dict[int, np.ndarray]:
        """Window row indices, grouped by window length: ``{w: (n_win, w)}``."""
        window, stride = int(self.window), self.stride
        groups: dict[int, list[np.ndarray]] = {}
        for a, b in _segments(t) if bounds is None else bounds:
            length = b - a
            if length < 2:
                continue
            w = min(window, length)
            step = stride or max(w // 2, 1)
            starts = list(range(0, length - w + 1, step))
            if starts[-1] != length - w:
                starts.append(length - w)
            for s in starts:
                groups.setdefault(w, []).append(np.arange(a + s, a + s + w))
        if not groups:
            raise ValueError(
                "No trajectory has at least 2 samples; t must increase within each "
                "trajectory (a decrease of t starts a new trajectory)."
            )
        return {w: np.stack(v) for w, v in groups.items()}

    @staticmethod
    def _steps(tw: np.ndarray) -> np.ndarray:
        h = np.diff(tw, axis=1)
        if np.allclose(h, h[:1], rtol=1e-12, atol=0.0):
            h = h[:1]  # shared left-hand side: factor once
        return np.ascontiguousarray(h)

    def _integrated_library(
        self,
        X: np.ndarray,
        t: np.ndarray,
        theta: np.ndarray,
        bounds: list[tuple[int, int]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Design matrix (rows, n_terms) and targets (rows, n_features)."""
        groups = self._windows(t, bounds)
        m1 = int(self.order) + 1
        designs, targets = [], []
        n_windows = 0
        for idx in groups.values():  # (n_win, w)
            n_windows += len(idx)
            h = self._steps(t[idx])
            coef = torch.zeros(1, 1, 1, m1, dtype=torch.float64)
            coef[..., 1] = 1.0
            th = theta[idx]  # (n_win, w, k)
            k = th.shape[-1]
            rhs = np.concatenate(
                [np.moveaxis(th, -1, 0), np.zeros((1,) + th.shape[:2])], axis=0
            )  # (k + 1, n_win, w)
            iv = np.zeros((k + 1, 1, 1, 1, 1))
            iv[-1] = 1.0
            u = solve_linear_ode(
                coef,
                torch.from_numpy(rhs[..., None]),
                torch.from_numpy(iv),
                torch.from_numpy(h),
                central_smoothness=bool(self.central_smoothness),
            )[..., 0, 0].numpy()  # (k + 1, n_win, w)
            designs.append(u[:k].reshape(k, -1).T)
            Xw = X[idx]  # (n_win, w, d)
            targets.append(
                (Xw - Xw[:, :1, :] * u[k][..., None]).reshape(-1, X.shape[1])
            )
        return np.concatenate(designs), np.concatenate(targets), n_windows

    def _stlsq(self, Phi: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, int]:
        threshold, max_cycles = float(self.threshold), int(self.max_cycles)
        norms = np.linalg.norm(Phi, axis=0)
        scale = np.where(norms > 0, norms, 1.0) if self.normalize_columns else None
        if scale is None:
            scale = np.ones(Phi.shape[1])
        Phin = Phi / scale
        n_terms, d = Phi.shape[1], Y.shape[1]
        coef = np.zeros((d, n_terms))
        support = np.ones((d, n_terms), dtype=bool)
        cycles = 0
        for cycles in range(1, max_cycles + 1):  # noqa: B007
            for i in range(d):
                cols = np.flatnonzero(support[i])
                coef[i] = 0.0
                if cols.size:
                    sol = np.linalg.lstsq(Phin[:, cols], Y[:, i], rcond=None)[0]
                    coef[i, cols] = sol / scale[cols]
            new_support = support & (np.abs(coef) >= threshold)
            if np.array_equal(new_support, support):
                break
            support = new_support
        else:
            for i in range(d):  # final refit on the last support
                cols = np.flatnonzero(support[i])
                coef[i] = 0.0
                if cols.size:
                    sol = np.linalg.lstsq(Phin[:, cols], Y[:, i], rcond=None)[0]
                    coef[i, cols] = sol / scale[cols]
        coef[~support] = 0.0
        return coef, cycles

    def _fit_gradient(
        self,
        X: np.ndarray,
        t: np.ndarray,
        coef0: np.ndarray,
        bounds: list[tuple[int, int]] | None,
        gen: torch.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """MNN-style training (encoder + sparse coefficients), warm-started.

        Random draws use ``gen`` on the CPU; tensors then live on ``device_`` in
        ``dtype_``.
        """
        max_epochs, lr = int(self.max_epochs), float(self.lr)
        hidden = int(self.hidden_size)
        threshold, max_cycles = float(self.threshold), int(self.max_cycles)
        m1 = int(self.order) + 1
        f64, dev = self.dtype_, self.device_
        d = X.shape[1]
        kw: dict[str, Any] = {"dtype": f64, "device": dev}
        sigma = torch.as_tensor(np.where(X.std(0) > 0, X.std(0), 1.0), **kw)
        powers = torch.as_tensor(self.library_.powers_, **kw)  # (p, d)
        theta_np = self._theta(X)
        spread = theta_np.std(0)
        spread = np.where(spread > 0, spread, np.abs(theta_np).mean(0))
        theta_scale = torch.as_tensor(spread, **kw).clamp(min=1e-12)
        coef_unit = sigma[:, None] / theta_scale  # xi = beta * coef_unit
        beta = torch.nn.Parameter(torch.as_tensor(coef0, **kw) / coef_unit)
        mask = torch.as_tensor(coef0 != 0, device=dev)
        data = []
        for w, idx in self._windows(t, bounds).items():
            Xw = torch.as_tensor(X[idx], **kw)  # (n_win, w, d)
            steps = torch.as_tensor(self._steps(t[idx]), **kw)
            # encoder weights drawn from the local generator (no global RNG use)
            bound = 1.0 / float(np.sqrt(w * d))
            w1 = (2 * torch.rand(hidden, w * d, dtype=f64, generator=gen) - 1) * bound
            enc = [
                torch.nn.Parameter(w1.to(dev)),
                torch.nn.Parameter(torch.zeros(hidden, **kw)),
                torch.nn.Parameter(torch.zeros(w * d, hidden, **kw)),  # x_hat = x
                torch.nn.Parameter(torch.zeros(w * d, **kw)),
            ]
            data.append((Xw, steps, enc, LinearODEFactorCache()))
        params = [beta] + [p for _, _, enc, _ in data for p in enc]
        optim = torch.optim.Adam(params, lr=lr)
        lhs = torch.zeros(1, 1, 1, m1, **kw)
        lhs[..., 1] = 1.0
        central = bool(self.central_smoothness)
        losses: list[float] = []

        def loss_fn() -> torch.Tensor:
            xi = beta * mask * coef_unit  # (d, p)
            total = torch.zeros((), **kw)
            for Xw, steps, enc, cache in data:
                z = (Xw / sigma).flatten(1)
                hidden_z = torch.tanh(z @ enc[0].T + enc[1])
                x_hat = Xw + sigma * (hidden_z @ enc[2].T + enc[3]).reshape(Xw.shape)
                theta = torch.prod(x_hat[..., None, :] ** powers, dim=-1)
                rhs = (theta @ xi.T).movedim(-1, 0)[..., None]  # (d, n_win, w, 1)
                iv = x_hat[:, 0, :].T[:, :, None, None, None]  # (d, n_win, 1, 1, 1)
                u = solve_linear_ode(
                    lhs, rhs, iv, steps, central_smoothness=central, cache=cache
                )[..., 0, 0].movedim(0, -1)  # (n_win, w, d)
                total = total + (((u - Xw) / sigma) ** 2).mean()
                total = total + (((x_hat - Xw) / sigma) ** 2).mean()
            return total

        cycles = self._progress(range(max_cycles), total=max_cycles, desc="cycles")
        for _cycle in cycles:
            for _ in range(max_epochs):
                optim.zero_grad()
                loss = loss_fn()
                loss.backward()
                optim.step()
                losses.append(float(loss.detach()))
            with torch.no_grad():
                xi = (beta * mask * coef_unit).cpu().numpy()
                new_mask = mask & torch.as_tensor(np.abs(xi) >= threshold, device=dev)
                if torch.equal(new_mask, mask):
                    break
                mask = new_mask
        coef = self._to_numpy(beta * mask * coef_unit, np.float64).copy()
        return coef, np.asarray(losses)

    # ------------------------------------------------------------------ API
    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any = None, *, t: Any = None) -> MechanisticODE:
        """Discover the ODE from sampled states.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or list of such arrays
            States, one row per time point. Several trajectories are either given
            as a list (``[X1, X2]``, as in PySINDy) or stacked vertically, each
            new trajectory then being marked by ``t`` not increasing (e.g.
            restarting at 0). Every trajectory needs at least ``order + 2``
            samples.
        y : None
            Ignored. A ``y`` that looks like sample times (a number, or values
            increasing like times) raises a ``ValueError``: pass those as ``t=``.
        t : float, array-like of shape (n_samples,) or list of arrays, optional
            Sampling times (uniform or not), a scalar time step, or one array per
            trajectory when ``X`` is a list. Requested by default through
            metadata routing. Without it, samples are ``dt`` apart and form one
            trajectory; with the default ``dt=1.0`` a ``UserWarning`` says so.

        Returns
        -------
        self : MechanisticODE

        Raises
        ------
        ValueError
            If ``y`` looks like times while ``t`` is None; if a trajectory is
            shorter than ``order + 2`` samples (including a shuffled ``t``, which
            reads as many tiny trajectories); on NaN/inf in ``X`` or ``t``.
        """
        generator = self._setup_torch(X)
        X, times, bounds = self._trajectories(X, y, t, reset=True, method="fit")
        self.library_ = self._make_library().fit(X)
        with np.errstate(over="ignore", invalid="ignore"):
            theta = self._theta(X)
        if not np.all(np.isfinite(theta)):
            raise ValueError(
                "The library terms of X overflow (NaN or inf; e.g. x**2 beyond "
                f"float64 for max |X| = {np.abs(X).max():.3g}). Rescale X."
            )
        method = self.fit_method
        if method == "gradient" and not isinstance(self.library_, PolynomialFeatures):
            raise ValueError("fit_method='gradient' needs library='poly'.")
        Phi, Y, self.n_windows_ = self._integrated_library(X, times, theta, bounds)
        self.coef_, self.n_cycles_ = self._stlsq(Phi, Y)
        if method == "gradient":
            self.coef_, self.loss_curve_ = self._fit_gradient(
                X, times, self.coef_, bounds, generator
            )
        if not np.all(np.isfinite(self.coef_)):
            raise ValueError(
                "The fit produced non-finite coefficients (the integrated library is "
                "too ill-conditioned at this scale). Rescale X or t."
            )
        self.support_ = self.coef_ != 0
        names = self._state_names()
        self.terms_ = np.asarray(
            self.library_.get_feature_names_out(names)
            if hasattr(self.library_, "get_feature_names_out")
            else [f"theta{j}" for j in range(theta.shape[1])],
            dtype=object,
        )
        return self

    def _state_names(self) -> list[str]:
        if self.feature_names is not None:
            names = [str(n) for n in self.feature_names]
            if isinstance(self.feature_names, str) or len(names) != self.n_features_in_:
                raise ValueError(
                    f"feature_names must be a list of {self.n_features_in_} names "
                    f"(one per column of X); got {self.feature_names!r}."
                )
            return names
        if hasattr(self, "feature_names_in_"):
            return [str(n) for n in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def predict(self, X: Any) -> np.ndarray:
        """Time derivatives of the states under the discovered model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            States.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            ``Theta(X) @ coef_.T``.
        """
        check_is_fitted(self)
        X = validate_input(self, X, reset=False, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            out = self._theta(X) @ self.coef_.T
        return check_finite_output(out, estimator=self, method="predict")

    def equations(self, precision: int = 3) -> list[str]:
        """The discovered equations as strings, one per state.

        Parameters
        ----------
        precision : int, default=3
            Decimal places of the coefficients.

        Returns
        -------
        list of str
            E.g. ``["x0' = -9.990 x0 + 9.990 x1", ...]``.
        """
        check_is_fitted(self)
        return [
            format_equation(f"{name}'", row, self.terms_, precision)
            for name, row in zip(self._state_names(), self.coef_, strict=True)
        ]

    def print(self, precision: int = 3) -> None:
        """Print :meth:`equations`, one per line.

        Parameters
        ----------
        precision : int, default=3
            Decimal places of the coefficients.
        """
        for line in self.equations(precision):
            print(line)  # noqa: T201

    def simulate(
        self,
        x0: Any,
        t: Any,
        *,
        max_rhs_evals: int | None = None,
        **solve_ivp_kwargs: Any,
    ) -> np.ndarray:
        """Integrate the discovered ODE (SciPy's ``LSODA`` by default).

        Parameters
        ----------
        x0 : array-like of shape (n_features,)
            Initial state at ``t[0]``.
        t : array-like of shape (n_times,)
            Increasing output times.
        max_rhs_evals : int, optional
            Work budget: the integration stops, with a
            :class:`~skres.dynamics.SimulationWarning`, after this many
            evaluations of the right-hand side (default
            ``50_000 + 2_000 * n_features``), so an explosive or extremely stiff
            discovered equation cannot run without end.
        **solve_ivp_kwargs
            Solver options as for :func:`scipy.integrate.solve_ivp` (default
            ``method="LSODA"``, ``rtol=1e-8``, ``atol=1e-8``).

        Returns
        -------
        ndarray of shape (n_times, n_features)
            The trajectory; rows after a failed or stopped integration are NaN,
            with a :class:`~skres.dynamics.SimulationWarning` saying why.
        """
        check_is_fitted(self)
        check_max_rhs_evals(max_rhs_evals)
        start = np.asarray(x0, dtype=np.float64).ravel()
        if start.shape != (self.n_features_in_,) or not np.all(np.isfinite(start)):
            raise ValueError(
                f"x0 must hold {self.n_features_in_} finite values; got shape "
                f"{start.shape}."
            )
        times = check_output_times(t)
        if times.size == 1:
            return start[None, :].copy()
        kwargs: dict[str, Any] = {"method": "LSODA", "rtol": 1e-8, "atol": 1e-8}
        kwargs.update(solve_ivp_kwargs)
        coef_t = self.coef_.T

        def rhs(_: float, state: np.ndarray) -> np.ndarray:
            return (self._theta(state[None, :]) @ coef_t)[0]

        return integrate(rhs, start, times, max_rhs_evals=max_rhs_evals, **kwargs)

    def score(
        self, X: Any, y: Any = None, *, t: Any = None, sample_weight: Any = None
    ) -> float:
        """R² of the predicted derivatives against finite differences of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or list of such arrays
            States (several trajectories given as in :meth:`fit`).
        y : None
            Ignored (one that looks like times raises, as in :meth:`fit`).
        t : float, array-like of shape (n_samples,) or list of arrays, optional
            Sampling times or time step (requested by default), as in :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), optional
            Sample weights.

        Returns
        -------
        float
            R² averaged uniformly over the states.
        """
        check_is_fitted(self)
        X, times, bounds = self._trajectories(X, y, t, reset=False, method="score")
        deriv = np.empty_like(X)
        for a, b in bounds:
            deriv[a:b] = np.gradient(
                X[a:b], times[a:b], axis=0, edge_order=2 if b - a > 2 else 1
            )
        return float(r2_score(deriv, self.predict(X), sample_weight=sample_weight))
