"""T-MEX: test-based measurement exclusivity of learned representations.

Yao, Huang, Cadei, Zhang, Locatello, "The Third Pillar of Causal Analysis? A
Measurement Perspective on Causal Representations" (NeurIPS 2025). A learned
representation is read as a set of proxy measurements ``Z_hat_1..Z_hat_m`` of the
true latents ``Z_1..Z_d``; an analyst states which latent(s) each block should
measure (a 0/1 matrix ``W``). For every block ``i`` and tested latent ``j`` a
conditional-independence test of ``Z_hat_i _||_ Z_j | Z_{-j}`` gives
``W_hat[i, j] = 1{p_ij < alpha}``; T-MEX is the number of disagreements between
``W_hat`` and ``W`` (0 is perfect).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata
from sklearn.base import BaseEstimator
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted, check_random_state

from .._base import SkresTags
from .._compat import HasMethods, Interval, StrOptions, fit_context
from .._validation import (
    validate_input,
)
from ._ci_tests import adjust_pvalues, gcm_linear, gcm_regression, kci, pcm

__all__ = ["TMEXScorer", "make_tmex_scorer"]

_CORRECTIONS = (None, "bonferroni", "holm", "fdr_bh")


class TMEXScorer(BaseEstimator):
    """Count violations of measurement exclusivity with conditional-independence tests.

    ``fit(X, y)`` takes the learned representation ``Z_hat`` as ``X``
    (``n_samples x p``; one block per column unless ``blocks`` groups columns) and
    the true latents ``Z`` as ``y`` (``n_samples x d``, or 1-D for one latent). For
    each block ``i`` and tested latent ``j`` it tests::

        H0_ij :  Z_hat_i  _||_  Z_j  |  Z_{-j}

    (all other latents, tested or not, are conditioned on), decides
    ``W_hat[i, j] = 1{p_ij < alpha}`` and counts the pairs where ``W_hat`` differs
    from the expected measurement model ``W``::

        T-MEX = sum_ij 1{W_hat[i, j] != W[i, j]}        (0 is perfect)

    A correct but noisy measurement still rejects each of the ``#{W = 0}`` null
    pairs with probability ``alpha``, so its expected T-MEX is about
    ``alpha * #{W = 0}`` (``expected_false_positives_``), not 0. An exactly
    noiseless one (``Z_hat = Z``) scores 0 through the degenerate-residual guard.

    Parameters
    ----------
    expected : {"identity", "match"} or array-like of shape (n_blocks, n_tested), \
            default="identity"
        The measurement model ``W``. ``"identity"``: block ``i`` measures the
        ``i``-th tested latent (``numpy.eye(n_blocks, n_tested)``, the paper's
        "perfect correspondence"). ``"match"``: pair blocks with tested latents by a
        Hungarian assignment on the absolute Spearman correlation, then identity
        (an extension; the paper assumes the order is known). Or an explicit 0/1
        matrix.
    ci_test : {"gcm", "pcm", "kci"}, default="gcm"
        Generalised covariance measure (Shah & Peters 2020; the paper's scalable
        choice), projected covariance measure (Lundborg et al. 2022; the paper's
        5-latent experiment; one-column blocks; tests conditional *mean*
        independence, one-sided, randomised by sample splitting) or the kernel
        conditional-independence test (Zhang et al. 2011; ``O(n^3)`` per pair).
    regressor : "linear" or scikit-learn regressor, default="linear"
        Regressions of the GCM. ``"linear"`` is OLS in closed form for all pairs at
        once (exact; equal to ``LinearRegression()`` to round-off). A regressor
        object is cloned for every regression (``n_tested * (1 + p)`` fits). PCM
        uses OLS with intercept for ``"linear"``. Ignored by ``"kci"``.
    alpha : float, default=0.05
        Level of each test (after ``correction``).
    correction : {None, "bonferroni", "holm", "fdr_bh"}, default=None
        Multiple-testing adjustment over all ``n_blocks * n_tested`` p-values. The
        paper uses none.
    blocks : list of lists of int, default=None
        Column indices of ``X`` forming each multi-dimensional block; ``None``
        makes every column its own block.
    test_latents : list of int, default=None
        Columns of ``y`` that are tested; the others are only conditioned on (the
        paper's 5-latent experiment tests 3 of 5). ``None`` tests all.
    gcm_type : {"quadratic", "max"}, default="quadratic"
        GCM for multi-column blocks: Wald statistic with a chi-square null, or the
        maximum studentised covariance with a multiplier bootstrap.
    n_bootstrap : int, default=499
        Bootstrap draws for ``gcm_type="max"``.
    pcm_rep : int, default=9
        Sample-splitting repetitions of ``"pcm"`` (statistics are averaged).
    pcm_test_split : float, default=0.5
        Fraction of samples in the test half of each ``"pcm"`` split.
    kci_epsilon : float, default=1e-3
        Ridge of the kernel regression on the conditioning set in ``"kci"``.
    kci_method : {"auto", "exact", "rff"}, default="auto"
        ``"exact"``: the KCI with ``n x n`` Gram matrices (``O(n^3)`` time,
        about ``8 n^2 (n_blocks + 24)`` bytes, checked before allocating: a larger
        estimate than 2 GiB raises). ``"rff"``: random Fourier features of the same
        kernels for the tested variable and the block, Nystroem features on 100
        landmark rows for the conditioning set (``O(n)``, seeded by
        ``random_state``; 5.2 % false positives at alpha 0.05 on T-MEX nulls at
        ``n = 5000``, and it holds the level on strongly nonlinear conditional
        nulls where random features for ``Z_{-j}`` rejected most). ``"auto"``: exact
        while the estimate fits 2 GiB (about ``n <= 2700``), else ``"rff"`` with a
        warning.
    degenerate_tol : float, default=1e-24
        A pair whose residual sum of squares (block on ``Z_{-j}``, or ``Z_j`` on
        ``Z_{-j}``) is at most ``degenerate_tol`` times the total sum of squares
        gets p = 1: nothing is left that could depend on ``Z_j``. The default is a
        residual standard deviation of ``1e-12`` times the variable's, about
        ``1e4`` times float64 round-off: an exact identity (residuals at round-off)
        scores 0, while an exact contamination of any magnitude above that (e.g.
        ``Z_hat_0 = Z_0 + 1e-7 Z_3``) is tested, and detected. Without this guard
        the p-value of an exact identity is decided by floating-point round-off.
    random_state : int, RandomState instance or None, default=None
        Seeds the sample splits of ``"pcm"``, the multiplier bootstrap of
        ``gcm_type="max"`` and the random features of ``kci_method="rff"`` (the
        only randomness).
    n_jobs : int or None, default=None
        Parallel joblib workers over the tested latents for ``ci_test="kci"`` (exact),
        ``"pcm"`` and ``"gcm"`` with a regressor estimator (the closed-form linear
        GCM runs in one pass). ``None`` means 1 unless in a joblib context; -1 uses
        all processors. Results do not depend on ``n_jobs``.
    verbose : int, default=0
        Verbosity of those joblib workers (0: silent).

    Attributes
    ----------
    n_violations_ : int
        T-MEX, the number of violations (lower is better, 0 is perfect).
    violation_rate_ : float
        ``n_violations_ / n_tested_pairs_``.
    pvalues_ : ndarray of shape (n_blocks, n_tested)
        Raw p-values ``p_ij``.
    adjusted_pvalues_ : ndarray of shape (n_blocks, n_tested)
        P-values after ``correction`` (equal to ``pvalues_`` when ``None``).
    statistics_ : ndarray of shape (n_blocks, n_tested)
        Test statistics (GCM: signed normal or chi-square statistic; KCI: trace).
    adjacency_ : ndarray of shape (n_blocks, n_tested), dtype int
        Estimated measurement model ``W_hat`` (1 = dependent).
    expected_ : ndarray of shape (n_blocks, n_tested), dtype int
        The measurement model ``W`` tested against.
    mismatch_ : ndarray of shape (n_blocks, n_tested), dtype bool
        ``adjacency_ != expected_``; ``n_violations_`` is its sum.
    degenerate_ : ndarray of shape (n_blocks, n_tested), dtype bool
        Pairs set to p = 1 by the degenerate-residual guard.
    matching_ : ndarray of shape (n_blocks,), dtype int
        Index (into ``test_latents_``) of the latent each block measures under
        ``expected="match"``, -1 for an unmatched block; ``None`` otherwise.
    n_tested_pairs_ : int
        ``n_blocks * n_tested``.
    expected_false_positives_ : float
        ``alpha * #{W = 0}``: the T-MEX a correct, noisy representation scores on
        average without correction.
    blocks_ : list of ndarray
        Column indices of each block.
    test_latents_ : ndarray of int
        Indices of the tested latents.
    n_latents_ : int
        Number of columns ``d`` of ``y``.
    latent_names_ : ndarray of str or None
        Column names of ``y`` when it was a DataFrame.
    n_features_in_ : int
        Number of columns of ``X``.
    feature_names_in_ : ndarray of shape (n_features,)
        Column names of ``X``, when it has string column names.

    See Also
    --------
    make_tmex_scorer : T-MEX as a scorer for model selection.
    skres.plotting.plot_pvalue_heatmap : draws ``pvalues_`` against ``expected_``.

    References
    ----------
    .. [1] Yao, Huang, Cadei, Zhang, Locatello. "The Third Pillar of Causal
       Analysis? A Measurement Perspective on Causal Representations." NeurIPS
       2025. arXiv:2505.17708.
    .. [2] Shah, Peters. "The hardness of conditional independence testing and the
       generalised covariance measure." Annals of Statistics 48(3), 2020.
    .. [3] Lundborg, Kim, Shah, Samworth. "The projected covariance measure for
       assumption-lean variable significance testing." 2022. arXiv:2211.02039.
    .. [4] Zhang, Peters, Janzing, Schoelkopf. "Kernel-based conditional
       independence test and application in causal discovery." UAI 2011.

    Examples
    --------
    >>> from skres.causal import TMEXScorer
    >>> from skres.datasets import make_measurement_model
    >>> Z_hat, Z, W = make_measurement_model(
    ...     n_samples=1000, n_latents=5, setting="identity", random_state=0)
    >>> TMEXScorer().fit(Z_hat, Z).n_violations_
    0
    >>> Z_rot, Z, W = make_measurement_model(
    ...     n_samples=1000, n_latents=5, setting="rotated", random_state=0)
    >>> TMEXScorer().fit(Z_rot, Z).n_violations_     # d (d - 1) = 20: fully entangled
    20
    """

    _parameter_constraints: dict = {
        "expected": [StrOptions({"identity", "match"}), "array-like"],
        "ci_test": [StrOptions({"gcm", "pcm", "kci"})],
        "regressor": [StrOptions({"linear"}), HasMethods(["fit", "predict"])],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "correction": [StrOptions({"bonferroni", "holm", "fdr_bh"}), None],
        "blocks": ["array-like", None],
        "test_latents": ["array-like", None],
        "gcm_type": [StrOptions({"quadratic", "max"})],
        "n_bootstrap": [Interval(Integral, 1, None, closed="left")],
        "pcm_rep": [Interval(Integral, 1, None, closed="left")],
        "pcm_test_split": [Interval(Real, 0, 1, closed="neither")],
        "kci_epsilon": [Interval(Real, 0, None, closed="neither")],
        "kci_method": [StrOptions({"auto", "exact", "rff"})],
        "degenerate_tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        expected: Any = "identity",
        ci_test: str = "gcm",
        regressor: Any = "linear",
        alpha: float = 0.05,
        correction: str | None = None,
        blocks: Any = None,
        test_latents: Any = None,
        gcm_type: str = "quadratic",
        n_bootstrap: int = 499,
        pcm_rep: int = 9,
        pcm_test_split: float = 0.5,
        kci_epsilon: float = 1e-3,
        kci_method: str = "auto",
        degenerate_tol: float = 1e-24,
        random_state: Any = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.expected = expected
        self.ci_test = ci_test
        self.regressor = regressor
        self.alpha = alpha
        self.correction = correction
        self.blocks = blocks
        self.test_latents = test_latents
        self.gcm_type = gcm_type
        self.n_bootstrap = n_bootstrap
        self.pcm_rep = pcm_rep
        self.pcm_test_split = pcm_test_split
        self.kci_epsilon = kci_epsilon
        self.kci_method = kci_method
        self.degenerate_tol = degenerate_tol
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ---------------------------------------------------------------- helpers
    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        """Small, fast parameters for the common test-suite."""
        return {}

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def __skres_tags__(self) -> SkresTags:
        rff = self.ci_test == "kci" and self.kci_method == "rff"
        return SkresTags(stochastic=self.ci_test == "pcm" or rff)

    def _resolve_blocks(self, n_features: int) -> list[np.ndarray]:
        if self.blocks is None:
            return [np.array([c]) for c in range(n_features)]
        blocks = []
        for b in self.blocks:
            idx = np.atleast_1d(np.asarray(b))
            if idx.size == 0 or idx.ndim != 1 or idx.dtype.kind not in "iu":
                raise ValueError(
                    "blocks must be a list of non-empty lists of integer column "
                    f"indices of X; got {b!r}."
                )
            if idx.min() < 0 or idx.max() >= n_features:
                raise ValueError(
                    f"blocks refers to column {int(idx.max())} but X has "
                    f"{n_features} columns."
                )
            if np.unique(idx).size != idx.size:
                raise ValueError(f"blocks has a repeated column in {b!r}.")
            blocks.append(idx.astype(np.int64))
        if not blocks:
            raise ValueError("blocks must contain at least one block.")
        return blocks

    def _resolve_test_latents(self, n_latents: int) -> np.ndarray:
        if self.test_latents is None:
            return np.arange(n_latents)
        idx = np.atleast_1d(np.asarray(self.test_latents))
        if idx.size == 0 or idx.dtype.kind not in "iu":
            raise ValueError(
                "test_latents must be a non-empty list of integer column indices of "
                f"y; got {self.test_latents!r}."
            )
        if idx.min() < 0 or idx.max() >= n_latents:
            raise ValueError(
                f"test_latents refers to latent {int(idx.max())} but y has "
                f"{n_latents} columns."
            )
        if np.unique(idx).size != idx.size:
            raise ValueError("test_latents has repeated entries.")
        return idx.astype(np.int64)

    def _validate_y(self, y: Any) -> np.ndarray:
        Z = np.asarray(y, dtype=np.float64)
        if Z.ndim == 1:
            Z = Z[:, None]
        return Z

    def _check_latents(self, X: np.ndarray, Z: np.ndarray) -> None:
        n, d = Z.shape
        if n < d + 2:
            raise ValueError(
                f"n_samples={n} is too few for {d} latents: conditioning on the "
                f"other {d - 1} latents needs n_samples >= {d + 2}."
            )
        spread = Z.std(axis=0)
        if np.any(spread == 0):
            bad = np.flatnonzero(spread == 0).tolist()
            raise ValueError(
                f"y (the true latents) has constant column(s) {bad}; a constant "
                "latent cannot be tested."
            )
        if self.ci_test == "gcm" and isinstance(self.regressor, str) and d > 1:
            Zs = (Z - Z.mean(axis=0)) / spread
            sv = np.linalg.svd(Zs, compute_uv=False)
            if sv[-1] <= 1e-10 * sv[0]:
                raise ValueError(
                    "y (the true latents) has collinear columns: some latent is an "
                    "exact linear function of the others, so its residual is zero "
                    "and it cannot be tested (drop it from y)."
                )

    def _pvalues(
        self, X: np.ndarray, Z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check_latents(X, Z)
        rng = None
        multi = any(len(b) > 1 for b in self.blocks_)
        if self.ci_test == "pcm" and multi:
            raise ValueError(
                "ci_test='pcm' tests one-column blocks only (as in the reference); "
                "use ci_test='gcm' for multi-column blocks."
            )
        if self.ci_test in ("pcm", "kci") or (self.gcm_type == "max" and multi):
            rs = self.random_state
            if rs is None:
                rng = np.random.default_rng()
            elif isinstance(rs, numbers.Integral):
                rng = np.random.default_rng(int(rs))
            else:
                rng = np.random.default_rng(check_random_state(rs).randint(2**31 - 1))
        tol = float(self.degenerate_tol)
        if self.ci_test == "pcm":
            assert rng is not None
            return pcm(
                X,
                Z,
                self.blocks_,
                self.test_latents_,
                self.regressor,
                rep=self.pcm_rep,
                test_split=float(self.pcm_test_split),
                rng=rng,
                tol=tol,
                n_jobs=self.n_jobs,
                verbose=self.verbose,
            )
        if self.ci_test == "kci":
            return kci(
                X,
                Z,
                self.blocks_,
                self.test_latents_,
                epsilon=self.kci_epsilon,
                tol=tol,
                method=self.kci_method,
                rng=rng,
                n_jobs=self.n_jobs,
                verbose=self.verbose,
            )
        kw: dict[str, Any] = {
            "gcm_type": self.gcm_type,
            "n_bootstrap": self.n_bootstrap,
            "rng": rng,
            "tol": tol,
        }
        if isinstance(self.regressor, str):
            return gcm_linear(X, Z, self.blocks_, self.test_latents_, **kw)
        return gcm_regression(
            X,
            Z,
            self.blocks_,
            self.test_latents_,
            self.regressor,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            **kw,
        )

    def _resolve_expected(
        self, X: np.ndarray, Z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        m, t = len(self.blocks_), len(self.test_latents_)
        if isinstance(self.expected, str) and self.expected == "identity":
            return np.eye(m, t, dtype=np.int64), None
        if isinstance(self.expected, str):  # "match"
            rx = rankdata(X, axis=0)
            rz = rankdata(Z[:, self.test_latents_], axis=0)
            rx = (rx - rx.mean(axis=0)) / np.maximum(rx.std(axis=0), 1e-300)
            rz = (rz - rz.mean(axis=0)) / np.maximum(rz.std(axis=0), 1e-300)
            rho = np.abs(rx.T @ rz) / X.shape[0]  # (p, t)
            affinity = np.stack([rho[b].max(axis=0) for b in self.blocks_])
            rows, cols = linear_sum_assignment(affinity, maximize=True)
            matching = np.full(m, -1, dtype=np.int64)
            matching[rows] = cols
            W = np.zeros((m, t), dtype=np.int64)
            W[rows, cols] = 1
            return W, matching
        W = np.asarray(self.expected)
        if W.shape != (m, t):
            raise ValueError(
                f"expected must have shape (n_blocks, n_tested) = {(m, t)}; got "
                f"{W.shape}."
            )
        if not np.all(np.isin(W, (0, 1))):
            raise ValueError("expected must be a 0/1 (or boolean) matrix.")
        return W.astype(np.int64), None

    def _decide(self, pvalues: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        adjusted = adjust_pvalues(pvalues, self.correction)
        return adjusted, (adjusted < self.alpha).astype(np.int64)

    # -------------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any) -> TMEXScorer:
        """Run the ``n_blocks * n_tested`` conditional-independence tests.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The learned representation ``Z_hat`` (blocks of columns).
        y : array-like of shape (n_samples, n_latents) or (n_samples,)
            The true latents ``Z`` (or observed stand-ins for them).

        Returns
        -------
        self : TMEXScorer
        """
        latent_names = getattr(y, "columns", None)
        X, y = validate_input(
            self,
            X,
            y,
            reset=True,
            dtype=np.float64,
            multi_output=True,
            y_numeric=True,
            ensure_min_samples=3,
        )
        Z = self._validate_y(y)
        self.n_latents_ = Z.shape[1]
        self.latent_names_ = (
            None if latent_names is None else np.asarray(latent_names, dtype=object)
        )
        self.blocks_ = self._resolve_blocks(X.shape[1])
        self.test_latents_ = self._resolve_test_latents(Z.shape[1])
        pvalues, statistics, degenerate = self._pvalues(X, Z)
        W, matching = self._resolve_expected(X, Z)
        adjusted, adjacency = self._decide(pvalues)
        self.pvalues_ = pvalues
        self.adjusted_pvalues_ = adjusted
        self.statistics_ = statistics
        self.degenerate_ = degenerate
        self.adjacency_ = adjacency
        self.expected_ = W
        self.matching_ = matching
        self.mismatch_ = adjacency != W
        self.n_violations_ = int(self.mismatch_.sum())
        self.n_tested_pairs_ = int(W.size)
        self.violation_rate_ = self.n_violations_ / self.n_tested_pairs_
        self.expected_false_positives_ = float(self.alpha) * float(np.sum(W == 0))
        return self

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Minus the T-MEX of ``(X, y)`` against the fitted ``expected_``.

        Re-runs the tests on the given data (T-MEX is a property of a sample, not a
        fitted model) with the measurement model resolved in ``fit`` (for
        ``expected="match"``, the fitted matching). Greater is better; 0 is perfect.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Learned representation with the columns seen in ``fit``.
        y : array-like of shape (n_samples, n_latents) or (n_samples,)
            True latents with the columns seen in ``fit``.
        sample_weight : None
            Not supported (the tests are unweighted); must be ``None``.

        Returns
        -------
        float
            ``-(number of violations)``.
        """
        check_is_fitted(self, "n_violations_")
        if sample_weight is not None:
            raise ValueError(
                "sample_weight is not supported by TMEXScorer.score; pass None."
            )
        X, y = validate_input(
            self,
            X,
            y,
            reset=False,
            dtype=np.float64,
            multi_output=True,
            y_numeric=True,
            ensure_min_samples=3,
        )
        Z = self._validate_y(y)
        if Z.shape[1] != self.n_latents_:
            raise ValueError(
                f"y has {Z.shape[1]} latents, but TMEXScorer was fitted with "
                f"{self.n_latents_}."
            )
        pvalues, _, _ = self._pvalues(X, Z)
        _, adjacency = self._decide(pvalues)
        return float(-int(np.sum(adjacency != self.expected_)))


class _TMEXRepresentationScorer:
    """Scorer ``(estimator, X, y) -> -T-MEX of estimator.transform(X) against y``."""

    def __init__(self, normalize: bool, params: dict[str, Any]) -> None:
        self.normalize = normalize
        self.params = params

    def __call__(
        self, estimator: Any, X: Any, y: Any, sample_weight: Any = None
    ) -> float:
        if y is None:
            raise ValueError(
                "The T-MEX scorer needs the true latents as y: fit the search with "
                "search.fit(X, Z_true)."
            )
        Z_hat = estimator.transform(X)
        tmex = TMEXScorer(**self.params).fit(Z_hat, y)
        return (
            1.0 - tmex.violation_rate_ if self.normalize else float(-tmex.n_violations_)
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        sep = ", " if args else ""
        return f"make_tmex_scorer(normalize={self.normalize}{sep}{args})"


def make_tmex_scorer(*, normalize: bool = False, **params: Any) -> Callable[..., float]:
    """Make a scorer that ranks representations by T-MEX, for model selection.

    The returned callable ``scorer(estimator, X, y)`` computes
    ``Z_hat = estimator.transform(X)`` (e.g. a :class:`~sklearn.pipeline.Pipeline`
    whose last step is a transformer) and returns minus its T-MEX against the true
    latents ``y``, so that greater is better. Use it as ``scoring=`` of
    :class:`~sklearn.model_selection.GridSearchCV` and pass the true latents as
    ``y``: ``search.fit(X, Z_true)``; it works whenever the estimator's ``fit``
    accepts and ignores ``y``.

    Parameters
    ----------
    normalize : bool, default=False
        Return ``1 - T-MEX / n_tested_pairs`` (in [0, 1], 1 is perfect) instead of
        ``-T-MEX``. Needed when candidates produce different numbers of blocks.
    **params
        Parameters of :class:`TMEXScorer` (``expected``, ``ci_test``, ``alpha``...).

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from skres.causal import make_tmex_scorer
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.standard_normal((1000, 2))        # true latents
    >>> X = Z[:, ::-1] * [2.0, -0.5]              # observed: swapped and rescaled
    >>> scorer = make_tmex_scorer()
    >>> scorer(FunctionTransformer().fit(X), X, Z)   # blocks in the wrong order
    -4.0
    >>> unswap = FunctionTransformer(lambda A: A[:, ::-1]).fit(X)
    >>> scorer(unswap, X, Z)
    0.0
    """
    TMEXScorer(**params)._validate_params()
    return _TMEXRepresentationScorer(bool(normalize), dict(params))
