"""Shifted latent nodes across environments in linear causal representation learning.

The iLCS method of Chen, Bello, Locatello, Aragam and Ravikumar (NeurIPS 2024):
observations ``X^(k) = G Z^(k)`` share the mixing ``G`` while the latent linear SCM
``Z^(k) = A^(k) Z^(k) + Omega^(k)^(1/2) eps`` may change between environments ``k``.
Independent component analysis of each environment recovers the unmixing
``M^(k) = B^(k) G^+`` (``B^(k) = Omega^(k)^(-1/2) (I - A^(k))``) up to the order and the
signs of its rows; sorting the rows by a sign-symmetric test function of the recovered
noise (``psi(s) = P(|s| <= 1)``) undoes the order, because the noise law is the same in
every environment. Latent node ``i`` has shifted between two environments iff row ``i``
of the sorted unmixing differs beyond a sign, which the statistic ``L_i`` in
``[0, 1]`` measures.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import FastICA
from sklearn.utils import Tags, check_random_state
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from .._base import SkresTags
from .._compat import Interval, StrOptions, fit_context
from .._validation import (
    check_environment,
    check_option,
    tensor_to_numpy,
    validate_input,
)

__all__ = ["ShiftedNodeFinder", "abs_le_one", "shift_statistic"]

_FLOAT_DTYPES = [np.float64, np.float32]


# --------------------------------------------------------------------- kernels
def abs_le_one(sources: np.ndarray) -> np.ndarray:
    """The paper's test function ``psi(s) = P(|s| <= 1)``, one value per column.

    Parameters
    ----------
    sources : ndarray of shape (n_samples, n_components)
        Unit-variance source estimates.

    Returns
    -------
    ndarray of shape (n_components,)
        Fraction of samples with ``|s| <= 1`` in each column.

    Examples
    --------
    >>> import numpy as np
    >>> from skres.causal.shifts import abs_le_one
    >>> abs_le_one(np.array([[0.5, 2.0], [-1.5, -0.2]]))
    array([0.5, 0.5])
    """
    return np.mean(np.abs(sources) <= 1.0, axis=0)


def shift_statistic(
    rows_a: Any, rows_b: Any, statistic: str = "abs"
) -> np.ndarray | np.floating[Any]:
    """Distance between unmixing rows that ignores their signs, in ``[0, 1]``.

    ``"abs"`` (used in all the paper's experiments) compares magnitudes entrywise::

        L = || |a| - |b| ||_1 / (||a||_1 + ||b||_1)

    ``"signed"`` (Algorithm 1) takes the better of the two sign alignments::

        L = min(||a - b||_1, ||a + b||_1) / (||a||_1 + ||b||_1)

    Both are 0 iff ``a = +-b``; a rescaling ``b = c a`` (``c > 0``) gives
    ``(1 - c) / (1 + c)`` under ``"abs"``. A pair of all-zero rows gives 0.

    Parameters
    ----------
    rows_a, rows_b : array-like of shape (..., n_features)
        Rows to compare; leading dimensions broadcast.
    statistic : {"abs", "signed"}, default="abs"
        Which statistic.

    Returns
    -------
    ndarray of shape (...)
        One value per pair of rows (a NumPy scalar for two 1-D rows).

    Examples
    --------
    >>> import numpy as np
    >>> from skres.causal.shifts import shift_statistic
    >>> a = np.array([1.0, -2.0, 0.5])
    >>> float(shift_statistic(a, -a)), round(float(shift_statistic(a, 0.5 * a)), 4)
    (0.0, 0.3333)
    """
    check_option(statistic, "statistic", ("abs", "signed"))
    a = np.asarray(rows_a, dtype=np.float64)
    b = np.asarray(rows_b, dtype=np.float64)
    denom = np.abs(a).sum(axis=-1) + np.abs(b).sum(axis=-1)
    if statistic == "abs":
        numer = np.abs(np.abs(a) - np.abs(b)).sum(axis=-1)
    else:
        numer = np.minimum(np.abs(a - b).sum(axis=-1), np.abs(a + b).sum(axis=-1))
    safe = np.where(denom > 0, denom, 1.0)
    out: np.ndarray = np.where(denom > 0, numer / safe, 0.0)
    return out[()] if out.ndim == 0 else out


def _pairwise_statistic(rows: np.ndarray, statistic: str) -> np.ndarray:
    """``L`` between all environment pairs: rows (..., K, d, p) -> (..., K, K, d)."""
    return np.asarray(
        shift_statistic(rows[..., :, None, :, :], rows[..., None, :, :, :], statistic)
    )


def _assign_to_reference(
    rows: np.ndarray, psi: np.ndarray, counts: np.ndarray, statistic: str, z: float
) -> np.ndarray:
    """Re-match psi-sorted rows of every environment to those of the first.

    Row ``j`` of environment ``k`` may take the place of reference row ``i`` only
    when their psi estimates differ by at most ``z`` standard errors (or ``i == j``);
    among those, a linear assignment minimises the total statistic ``L``.
    Returns the row permutation of each environment, shape (K, d).
    """
    from scipy.optimize import linear_sum_assignment

    n_env, d = psi.shape
    var = psi * (1.0 - psi) / counts[:, None]  # Bernoulli variance of psi-hat
    perms = np.tile(np.arange(d), (n_env, 1))
    for k in range(1, n_env):
        cost = np.asarray(
            shift_statistic(rows[0][:, None, :], rows[k][None], statistic)
        )
        window = z * np.sqrt(var[0][:, None] + var[k][None, :])
        allowed = np.abs(psi[0][:, None] - psi[k][None, :]) <= window
        allowed |= np.eye(d, dtype=bool)
        _, perms[k] = linear_sum_assignment(np.where(allowed, cost, 1e6))
    return perms


def _fit_rotation(
    white: np.ndarray, seed: int, params: dict[str, Any]
) -> tuple[np.ndarray, int]:
    """FastICA rotation (d x d, orthonormal rows) of whitened data; its iterations."""
    ica = FastICA(random_state=seed, **params).fit(white)
    return ica.components_, int(ica.n_iter_)


def _excess_kurtosis(sources: np.ndarray) -> np.ndarray:
    """Excess kurtosis of centred, unit-variance columns."""
    squared = sources * sources
    return np.asarray(np.mean(squared * squared, axis=0) - 3.0)


# ------------------------------------------------------------------ estimator
class ShiftedNodeFinder(TransformerMixin, BaseEstimator):
    """Find the latent causal nodes whose mechanisms shift across environments.

    Implements iLCS [1]_: in every environment ``k`` the observations are a shared
    linear mixing ``X = G Z`` of latents that follow a linear SCM whose edge weights
    ``A^(k)`` and noise scales ``Omega^(k)`` may change. FastICA on each environment
    estimates the unmixing ``M^(k) = B^(k) G^+`` up to the order and signs of its rows;
    the rows are sorted by ``psi`` of the unit-variance source estimates (ascending),
    which puts them in the same node order in every environment because the noise
    law does not change. Node ``i`` has shifted between environments ``k`` and
    ``k'`` when ``L_i > alpha`` with ``L_i = || |M_i^k| - |M_i^k'| ||_1 /
    (||M_i^k||_1 + ||M_i^k'||_1)``.

    Node labels are **positions in the psi-sorted noise list**, not latent indices:
    which latent is which is not identifiable from the data (name the sorted
    components with :meth:`intervene` or :attr:`mixing_`). With unit-variance
    sources ``psi(s) = P(|s| <= 1)`` *decreases* with the peakedness of the noise,
    so a Laplace source sorts last and a light-tailed one first.

    Parameters
    ----------
    n_components : int, default=None
        Number of latent nodes ``d``. ``None`` uses the largest rank of the
        per-environment covariance matrices, which is exact for noiseless data;
        on noisy or real data it equals ``n_features`` (with a warning) and the
        number of latents must be given.
    alpha : float or "auto", default="auto"
        Threshold on ``L``: ``"auto"`` is 0.2 when ``d <= 10`` and 0.5 otherwise,
        the paper's choices.
    statistic : {"abs", "signed"}, default="abs"
        ``"abs"`` compares entrywise magnitudes (the paper's experiments);
        ``"signed"`` is Algorithm 1's ``min`` over the two sign alignments. See
        :func:`shift_statistic`.
    test_function : "abs_le_1" or callable, default="abs_le_1"
        ``psi`` used to sort sources: ``P(|s| <= 1)``, or a callable mapping
        unit-variance sources of shape ``(n_samples, d)`` to ``d`` values. It must
        be symmetric in the sign of each source.
    rank_tol : float, default=None
        Eigenvalues of a covariance at most ``rank_tol`` times its largest one
        count as zero when estimating ``d``; ``None`` uses
        ``n_features * eps`` of the input dtype (NumPy's ``matrix_rank`` rule).
    matching : {"sort", "sort+assign"}, default="sort"
        How rows are aligned across environments. ``"sort"`` is the paper's psi
        sort. ``"sort+assign"`` (an extension, not in the paper) then re-matches
        each environment's rows to the first environment's by a linear assignment
        minimising the total ``L``, allowing only rows whose psi estimates are
        within 3 standard errors of each other: it repairs swaps of nodes whose psi
        values are statistically indistinguishable (common at ``d >= 10``) and
        leaves well-separated rows alone. ``psi_`` is then ascending only for the
        first environment.
    n_init : int, default=1
        Number of ICA restarts with different seeds. With ``n_init > 1`` a node is
        flagged for a pair of environments when more than half of the restarts
        flag it (majority vote), and :attr:`scores_` holds the median ``L``; use it
        on real data, where single-seed results vary.
    ica_algorithm : {"parallel", "deflation"}, default="parallel"
        FastICA algorithm.
    ica_fun : {"logcosh", "exp", "cube"}, default="logcosh"
        FastICA contrast function.
    n_jobs : int or None, default=None
        Parallel jobs for the ``n_init`` x ``n_environments`` independent FastICA
        fits, through joblib (so ``joblib.parallel_config(backend="dask")`` runs
        them on a Dask cluster). ``None`` means 1 unless in a joblib context; -1
        uses all processors. Results do not depend on ``n_jobs``.
    max_iter : int, default=1000
        FastICA iterations per environment and restart.
    tol : float, default=1e-4
        FastICA convergence tolerance.
    random_state : int, RandomState instance or None, default=None
        Seeds the FastICA initialisations. Restart ``r`` uses the same seed in
        every environment, so results do not depend on the order of environments.
    verbose : int, default=0
        Verbosity of the joblib workers running the FastICA fits (0: silent).

    Attributes
    ----------
    n_latents_ : int
        Number of latent nodes ``d`` (estimated or given).
    n_components_ : int
        Same as ``n_latents_`` (the scikit-learn name).
    alpha_ : float
        Threshold used.
    environments_ : ndarray of shape (n_environments,)
        Environment labels, sorted (``0 .. K-1`` for a list input).
    components_ : ndarray of shape (n_environments, n_components, n_features)
        psi-sorted unmixing matrix of every environment (with the whitening): the
        unit-variance noise of environment ``k`` is
        ``(X - mean_[k]) @ components_[k].T``.
    mixing_ : ndarray of shape (n_environments, n_features, n_components)
        Pseudo-inverse of each unmixing matrix.
    mean_ : ndarray of shape (n_environments, n_features)
        Per-environment feature means.
    psi_ : ndarray of shape (n_environments, n_components)
        Test function of the sorted sources (ascending along each row).
    sort_order_ : ndarray of shape (n_environments, n_components)
        Raw ICA component index at each sorted position.
    kurtosis_ : ndarray of shape (n_environments, n_components)
        Excess kurtosis of the sorted sources (near 0 = near-Gaussian).
    scores_ : ndarray of shape (n_environments, n_environments, n_components)
        Statistic ``L`` for every pair of environments and node (symmetric, zero
        diagonal); the median over restarts when ``n_init > 1``.
    node_scores_ : ndarray of shape (n_components,)
        Largest ``L`` of each node over the pairs of environments.
    restart_scores_ : ndarray of shape (n_init, n_environments, n_environments, \
n_components)
        ``L`` of every restart.
    vote_fraction_ : ndarray of shape (n_environments, n_environments, n_components)
        Fraction of restarts with ``L > alpha``.
    shifted_pairs_ : dict
        ``(label_a, label_b) -> int array`` of the nodes shifted between each pair of
        environments (``a`` before ``b`` in :attr:`environments_`).
    shifted_mask_ : ndarray of shape (n_components,), dtype bool
        Nodes shifted between at least one pair.
    shifted_nodes_ : ndarray of shape (n_shifted,), dtype int
        Indices of the shifted nodes (psi-sorted positions).
    n_iter_ : int
        Largest number of FastICA iterations over restarts and environments.
    ica_n_iter_ : ndarray of shape (n_init, n_environments)
        FastICA iterations of every restart and environment.
    converged_ : ndarray of shape (n_init, n_environments), dtype bool
        Whether each FastICA run converged before ``max_iter``.
    n_features_in_ : int
        Number of observed features.
    feature_names_in_ : ndarray of shape (n_features_in,)
        Input column names, when ``X`` has string column names.

    See Also
    --------
    skres.datasets.make_shifted_sem : the paper's synthetic setting.
    sklearn.decomposition.FastICA : the ICA used in every environment.

    Notes
    -----
    ``fit`` takes the environments as the routed metadata ``environment`` (requested
    by default), as ``y`` when ``environment`` is not given (so ``fit(X, env)`` and
    ``Pipeline.fit(X, env)`` work without metadata routing), or as the list structure
    of ``X``. The method needs non-Gaussian noise whose per-node laws differ and stay
    the same across environments; at ``d >= 20`` the test-function gaps are so small
    that sorting errors are unavoidable even at a million samples.

    References
    ----------
    .. [1] Chen, Bello, Locatello, Aragam, Ravikumar. "Identifying General Mechanism
       Shifts in Linear Causal Representation Learning." NeurIPS 2024.
       arXiv:2410.24059.

    Examples
    --------
    >>> from skres.causal import ShiftedNodeFinder
    >>> from skres.datasets import make_shifted_sem
    >>> X, env, shifted = make_shifted_sem(n_samples=30_000, n_latents=5,
    ...                                    random_state=0)
    >>> finder = ShiftedNodeFinder(random_state=0).fit(X, environment=env)
    >>> finder.n_latents_, finder.shifted_nodes_.tolist(), shifted.tolist()
    (5, [2], [2])
    """

    __metadata_request__fit = {"environment": True}
    __metadata_request__transform = {"environment": True}

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "alpha": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="left")],
        "statistic": [StrOptions({"abs", "signed"})],
        "test_function": [StrOptions({"abs_le_1"}), callable],
        "rank_tol": [Interval(Real, 0, None, closed="neither"), None],
        "matching": [StrOptions({"sort", "sort+assign"})],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "ica_algorithm": [StrOptions({"parallel", "deflation"})],
        "ica_fun": [StrOptions({"logcosh", "exp", "cube"})],
        "n_jobs": [Integral, None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components: int | None = None,
        *,
        alpha: float | str = "auto",
        statistic: str = "abs",
        test_function: str | Callable[[np.ndarray], np.ndarray] = "abs_le_1",
        rank_tol: float | None = None,
        matching: str = "sort",
        n_init: int = 1,
        ica_algorithm: str = "parallel",
        ica_fun: str = "logcosh",
        n_jobs: int | None = None,
        max_iter: int = 1000,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_components = n_components
        self.alpha = alpha
        self.statistic = statistic
        self.test_function = test_function
        self.rank_tol = rank_tol
        self.matching = matching
        self.n_init = n_init
        self.ica_algorithm = ica_algorithm
        self.ica_fun = ica_fun
        self.n_jobs = n_jobs
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    # ---------------------------------------------------------------- helpers
    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        """Small, fast parameters for the common test-suite."""
        return {"n_components": 2, "max_iter": 200, "tol": 1e-3}

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def __skres_tags__(self) -> SkresTags:
        return SkresTags(stochastic=True)

    def _psi(self, sources: np.ndarray) -> np.ndarray:
        if callable(self.test_function):
            psi = np.asarray(self.test_function(sources), dtype=np.float64)
            if psi.shape != (sources.shape[1],) or not np.all(np.isfinite(psi)):
                raise ValueError(
                    "test_function must return one finite value per source, i.e. "
                    f"shape ({sources.shape[1]},); got shape {psi.shape}."
                )
            return psi
        return abs_le_one(sources)

    @staticmethod
    def _is_environment_list(X: Any) -> bool:
        if not isinstance(X, list | tuple) or len(X) == 0:
            return False
        return all(
            np.ndim(tensor_to_numpy(x)) == 2
            if not hasattr(x, "shape")
            else len(x.shape) == 2
            for x in X
        )

    def _stack_environments(self, X: Any, y: Any, environment: Any) -> tuple[Any, Any]:
        """Return stacked ``X`` and per-sample labels from any accepted input."""
        if self._is_environment_list(X):
            if environment is not None or y is not None:
                raise ValueError(
                    "X is a list of per-environment arrays, so environment and y "
                    "must be None."
                )
            widths = {x.shape[1] if hasattr(x, "shape") else np.shape(x)[1] for x in X}
            if len(widths) > 1:
                raise ValueError(
                    "all arrays in the list X must have the same number of features; "
                    f"got {sorted(widths)}."
                )
            labels = np.concatenate(
                [np.full(len(x), k, dtype=np.int64) for k, x in enumerate(X)]
            )
            if all(hasattr(x, "iloc") for x in X):
                import pandas as pd

                return pd.concat(list(X), ignore_index=True), labels
            return np.concatenate([np.asarray(tensor_to_numpy(x)) for x in X]), labels
        if environment is None:
            environment = y
        if environment is None:
            raise ValueError(
                "environment is required: pass environment=labels (one per sample), "
                "the labels as y, or X as a list of per-environment arrays."
            )
        return X, environment

    def _n_latents(self, eigvals: np.ndarray, n_features: int, eps: float) -> int:
        """Number of latents from the per-environment covariance eigenvalues."""
        if self.n_components is not None:
            if self.n_components > n_features:
                raise ValueError(
                    f"n_components={self.n_components} exceeds the number of "
                    f"features: n_features = {n_features}."
                )
            return int(self.n_components)
        rel = n_features * eps if self.rank_tol is None else float(self.rank_tol)
        top = eigvals.max(axis=1, keepdims=True)
        ranks = (eigvals > rel * top).sum(axis=1)
        d = int(max(ranks.max(), 1))
        if d == n_features and n_features > 1:
            warnings.warn(
                f"the estimated number of latents equals n_features={n_features}: "
                "the covariance has full rank, as it has on noisy or real data. Set "
                "n_components to the number of latents if it is smaller.",
                UserWarning,
                stacklevel=4,
            )
        return d

    # -------------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: Any, y: Any = None, *, environment: Any = None
    ) -> ShiftedNodeFinder:
        """Estimate the sorted unmixing of every environment and the shifted nodes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or list of arrays
            Observations of all environments stacked, or a list with one array of
            shape (n_samples_k, n_features) per environment.
        y : array-like of shape (n_samples,), default=None
            Environment labels, used when ``environment`` is None (so that
            ``fit(X, env)`` works); ignored otherwise.
        environment : array-like of shape (n_samples,), default=None
            Environment label of every sample (any hashable dtype). Routed metadata,
            requested by default. At least two environments, each with more
            samples than latents.

        Returns
        -------
        self : ShiftedNodeFinder
        """
        if self.matching != "sort" and callable(self.test_function):
            raise ValueError(
                "matching='sort+assign' needs test_function='abs_le_1' (its standard "
                "error is known); use matching='sort' with a callable test_function."
            )
        X, labels = self._stack_environments(X, y, environment)
        X_np = validate_input(
            self, X, reset=True, dtype=_FLOAT_DTYPES, ensure_min_samples=2
        )
        n_samples, n_features = X_np.shape
        codes, envs = check_environment(labels, n_samples=n_samples, name="environment")
        n_env = envs.size
        counts = np.bincount(codes, minlength=n_env)

        means, whitening, white, d = self._fit_whiten(X_np, codes, envs, counts)
        runs = self._fit_restarts(white, whitening, counts, d, n_features)
        self._fit_select(envs, means, runs)
        return self

    def _fit_whiten(
        self,
        X_np: np.ndarray,
        codes: np.ndarray,
        envs: np.ndarray,
        counts: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], int]:
        """Stage 1 of fit: per-environment means, whitening maps and whitened data."""
        n_features = X_np.shape[1]
        n_env = envs.size
        # Per-environment means and covariance eigendecompositions (float64).
        X64 = X_np.astype(np.float64, copy=False)
        means = np.stack([X64[codes == k].mean(axis=0) for k in range(n_env)])
        centred = [X64[codes == k] - means[k] for k in range(n_env)]
        covs = np.stack([c.T @ c / max(len(c) - 1, 1) for c in centred])
        eigvals, eigvecs = np.linalg.eigh(covs)  # ascending
        eigvals, eigvecs = eigvals[:, ::-1], eigvecs[:, :, ::-1]
        d = self._n_latents(eigvals, n_features, float(np.finfo(X_np.dtype).eps))
        if np.any(counts <= d):
            small = envs[counts <= d].tolist()
            raise ValueError(
                f"every environment needs more samples than latents (d={d}); "
                f"too few in environment(s) {small}."
            )
        lam = eigvals[:, :d]
        if np.any(lam <= 0):
            raise ValueError(
                f"an environment's covariance has rank below n_components={d}; "
                "reduce n_components."
            )
        vecs = eigvecs[:, :, :d]
        # Deterministic eigenvector signs: largest-magnitude entry positive.
        pivot = np.abs(vecs).argmax(axis=1)
        signs = np.sign(np.take_along_axis(vecs, pivot[:, None, :], axis=1))
        vecs = vecs * np.where(signs == 0, 1.0, signs)
        whitening = np.transpose(vecs, (0, 2, 1)) / np.sqrt(lam)[:, :, None]  # K,d,p
        white = [centred[k] @ whitening[k].T for k in range(n_env)]
        return means, whitening, white, d

    def _fit_restarts(
        self,
        white: list[np.ndarray],
        whitening: np.ndarray,
        counts: np.ndarray,
        d: int,
        n_features: int,
    ) -> dict[str, np.ndarray]:
        """Stage 2 of fit: ICA restarts per environment, psi-sorted (and matched).

        Returns the per-restart ``unmix``, ``psi``, ``kurt``, ``order``, ``n_iter``.
        """
        n_env = len(white)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=self.n_init)
        unmix = np.empty((self.n_init, n_env, d, n_features))
        psi = np.empty((self.n_init, n_env, d))
        kurt = np.empty((self.n_init, n_env, d))
        order = np.empty((self.n_init, n_env, d), dtype=np.int64)
        n_iter = np.empty((self.n_init, n_env), dtype=np.int64)
        ica_params = {
            "whiten": False,
            "algorithm": self.ica_algorithm,
            "fun": self.ica_fun,
            "max_iter": self.max_iter,
            "tol": self.tol,
        }
        rotations = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(_fit_rotation)(white[k], int(seed), ica_params)
            for seed in seeds
            for k in range(n_env)
        )
        for r in range(self.n_init):
            for k in range(n_env):
                rot, n_iter[r, k] = rotations[r * n_env + k]  # d x d, orthonormal rows
                sources = white[k] @ rot.T
                scale = sources.std(axis=0)
                scale = np.where(scale > 0, scale, 1.0)
                sources /= scale
                p_k = self._psi(sources)
                o_k = np.argsort(p_k, kind="stable")
                unmix[r, k] = ((rot / scale[:, None]) @ whitening[k])[o_k]
                psi[r, k] = p_k[o_k]
                kurt[r, k] = _excess_kurtosis(sources)[o_k]
                order[r, k] = o_k
            if self.matching == "sort+assign":
                perm = _assign_to_reference(
                    unmix[r], psi[r], counts.astype(float), self.statistic, 3.0
                )
                take = np.arange(n_env)[:, None]
                unmix[r] = unmix[r][take, perm]
                psi[r], kurt[r], order[r] = (
                    psi[r][take, perm],
                    kurt[r][take, perm],
                    order[r][take, perm],
                )
        return {
            "unmix": unmix,
            "psi": psi,
            "kurt": kurt,
            "order": order,
            "n_iter": n_iter,
        }

    def _fit_select(
        self, envs: np.ndarray, means: np.ndarray, runs: dict[str, np.ndarray]
    ) -> None:
        """Stage 3 of fit: votes over restarts, the best restart, fitted attributes."""
        unmix, psi, kurt, order, n_iter = (
            runs[k] for k in ("unmix", "psi", "kurt", "order", "n_iter")
        )
        n_env, d = unmix.shape[1], unmix.shape[2]
        alpha = (
            (0.2 if d <= 10 else 0.5)
            if isinstance(self.alpha, str)
            else float(self.alpha)
        )
        restart_scores = _pairwise_statistic(unmix, self.statistic)  # R,K,K,d
        votes = (restart_scores > alpha).mean(axis=0)
        scores = np.median(restart_scores, axis=0)
        # Representative restart: the one closest to the median scores.
        best = int(np.abs(restart_scores - scores).sum(axis=(1, 2, 3)).argmin())
        shifted = votes > 0.5
        upper = np.triu_indices(n_env, k=1)
        self.shifted_pairs_ = {
            (_item(envs[a]), _item(envs[b])): np.flatnonzero(shifted[a, b])
            for a, b in zip(*upper, strict=True)
        }
        self.shifted_mask_ = shifted[upper].any(axis=0)
        self.shifted_nodes_ = np.flatnonzero(self.shifted_mask_)
        self.n_latents_ = d
        self.n_components_ = d
        self.alpha_ = alpha
        self.environments_ = envs
        self.components_ = unmix[best]
        self.mixing_ = np.linalg.pinv(self.components_)
        self.mean_ = means
        self.psi_ = psi[best]
        self.sort_order_ = order[best]
        self.kurtosis_ = kurt[best]
        self.scores_ = scores
        self.node_scores_ = scores[upper].max(axis=0)
        self.restart_scores_ = restart_scores
        self.vote_fraction_ = votes
        self.ica_n_iter_ = n_iter
        self.n_iter_ = int(n_iter.max())
        self.converged_ = n_iter < self.max_iter
        near_gaussian = (np.abs(self.kurtosis_) < 0.1).sum(axis=1)
        if np.any(near_gaussian > 1):
            warnings.warn(
                "more than one recovered source is near-Gaussian (|excess kurtosis| "
                "< 0.1) in some environment: ICA cannot separate Gaussian sources, so "
                "their rows (and the shifts found on them) are unreliable.",
                UserWarning,
                stacklevel=3,
            )

    # -------------------------------------------------------------- inference
    def _environment_index(self, environment: Any, n_samples: int) -> np.ndarray:
        """Environment index of every row (scalar label or per-sample labels)."""
        if environment is None:
            return np.zeros(n_samples, dtype=np.int64)
        env = np.asarray(tensor_to_numpy(environment))
        flat = env.ravel() if np.ndim(env) > 0 else env.reshape(1)
        idx = np.searchsorted(self.environments_, flat)
        idx = np.clip(idx, 0, self.environments_.size - 1)
        unknown = self.environments_[idx] != flat
        if np.any(unknown):
            raise ValueError(
                f"environment contains labels not seen in fit: "
                f"{np.unique(flat[unknown])[:5].tolist()}; known labels are "
                f"{self.environments_.tolist()}."
            )
        if np.ndim(env) == 0:
            return np.full(n_samples, idx[0], dtype=np.int64)
        if flat.size != n_samples:
            raise ValueError(
                f"environment has {flat.size} entries but X has {n_samples} samples; "
                "pass one label per sample or a single label."
            )
        return idx.astype(np.int64)

    def transform(self, X: Any, environment: Any = None) -> np.ndarray:
        """Unit-variance noise estimates in psi-sorted order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.
        environment : label or array-like of shape (n_samples,), default=None
            Whose unmixing to use: ``None`` for the first environment of
            :attr:`environments_`, one label for all rows, or one label per row.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Column ``i`` estimates the noise of sorted node ``i``; same float dtype
            as ``X``.
        """
        check_is_fitted(self)
        X_np = validate_input(self, X, reset=False, dtype=_FLOAT_DTYPES)
        idx = self._environment_index(environment, X_np.shape[0])
        out = np.empty((X_np.shape[0], self.n_latents_), dtype=X_np.dtype)
        for k in np.unique(idx):
            rows = idx == k
            out[rows] = (X_np[rows] - self.mean_[k]) @ self.components_[k].T
        return out

    def fit_transform(
        self, X: Any, y: Any = None, *, environment: Any = None
    ) -> np.ndarray:
        """Fit, then :meth:`transform` with the same ``environment``.

        For a list ``X`` the sources of all environments are returned stacked in
        list order, each unmixed with its own environment's matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or list of arrays
            As in :meth:`fit`.
        y : array-like of shape (n_samples,), default=None
            As in :meth:`fit`.
        environment : array-like of shape (n_samples,), default=None
            As in :meth:`fit`; also passed to :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        self.fit(X, y, environment=environment)
        if self._is_environment_list(X):
            X_all, labels = self._stack_environments(X, None, None)
            return self.transform(X_all, environment=labels)
        return self.transform(X, environment=environment)

    def intervene(self, X: Any, component: int, environment: Any = None) -> np.ndarray:
        """Zero one sorted noise component and remix (a "noise intervention").

        Comparing the result with ``X`` shows which observed features a sorted node
        drives, which is how the paper names the nodes of real data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.
        component : int
            Sorted node to silence.
        environment : label or array-like of shape (n_samples,), default=None
            As in :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            ``X`` reconstructed without that node's noise.
        """
        sources = self.transform(X, environment=environment)
        if (
            isinstance(component, bool)
            or not isinstance(component, numbers.Integral)
            or not 0 <= component < self.n_latents_
        ):
            raise ValueError(
                f"component must be an integer in [0, {self.n_latents_}); "
                f"got {component!r}."
            )
        sources[:, component] = 0
        X_np = validate_input(self, X, reset=False, dtype=_FLOAT_DTYPES)
        idx = self._environment_index(environment, X_np.shape[0])
        out = np.empty_like(X_np)
        for k in np.unique(idx):
            rows = idx == k
            out[rows] = sources[rows] @ self.mixing_[k].T + self.mean_[k]
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the sorted noise components: ``noise0``, ``noise1``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the input feature names seen in :meth:`fit`.

        Returns
        -------
        ndarray of str objects of shape (n_components,)
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray([f"noise{i}" for i in range(self.n_latents_)], dtype=object)


def _item(value: Any) -> Any:
    """NumPy scalar -> Python scalar (dictionary keys that print well)."""
    return value.item() if isinstance(value, np.generic) else value
