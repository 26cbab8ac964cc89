"""Neural Effect Search: which neurons (SAE codes) does a randomised treatment affect?

Mencattini, Cadei, Locatello, "Exploratory Causal Inference in SAEnce" (ICLR 2026),
Algorithms 1 and 2. Testing every neuron separately drowns in true-but-uninteresting
rejections: the treatment's effect on a concept leaks into every neuron correlated
with it, and with enough units every leaky neuron becomes significant ("the
paradox"). NES tests recursively: select the strongest significant neuron, then test
the others *conditionally* on the neurons already selected (post-stratification on
them plus exact per-arm OLS adjustment), until nothing is significant.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import Bunch, ClassifierTags, Tags, check_random_state
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from .._base import SkresTags, TorchEstimatorMixin
from .._compat import Interval, StrOptions, fit_context
from .._validation import (
    check_groups,
    check_positive_float,
    check_positive_int,
    check_treatment,
    tensor_to_numpy,
    validate_input,
)
from ._nes_search import _first_round_batched, _Search

__all__ = ["NeuralEffectSearch"]

_FLOAT_DTYPES = [np.float64, np.float32]


class NeuralEffectSearch(SelectorMixin, TorchEstimatorMixin, BaseEstimator):
    r"""Neural Effect Search: recursive discovery of treatment-affected neurons.

    Given unit-level codes ``Z`` (e.g. sparse-autoencoder activations of a
    foundation model, averaged per image or video) from a randomised trial with a
    binary ``treatment``, finds the neurons the treatment affects *directly*, not
    those that merely leak a correlated neuron's effect.

    Round ``r`` runs the Neural Effect Test of every remaining active neuron ``j``
    given the selected list ``S``:

    * strata: treatment-agnostic cells from pooled quantiles of ``Z_S`` (median
      split by default; ties go to the lower bin, so a sparse neuron splits into
      zero vs active), coarsened until every cell has ``min_per_cell`` units per arm;
    * contrast: ``tau_j = sum_g w_g (c_1g - c_0g)`` with ``w_g = n_g / n``, where
      ``c_tg`` is arm ``t``'s mean of ``Z_j`` in cell ``g`` adjusted (per arm, by OLS)
      to the cell's pooled mean of ``Z_S``; its exact OLS variance ``V`` and
      Satterthwaite degrees of freedom; a two-sided t-test. With ``S`` empty this is
      exactly Welch's t-test;
    * decision: reject at ``alpha / m'`` (Bonferroni over the ``m'`` remaining active
      neurons); stop if nothing is rejected, otherwise append the rejected neuron
      with the largest ``|tau|`` to ``S``.

    ``transform`` keeps the selected columns **in selection order** (unlike other
    selectors, which keep column order); :meth:`get_feature_names_out` follows it.

    Parameters
    ----------
    alpha : float, default=0.05
        Level of each round's test family.
    correction : {"bonferroni", "bh", "none"}, default="bonferroni"
        Multiplicity correction within a round. ``"none"`` tests each neuron at
        ``alpha`` (the paper's choice for tiny trials, e.g. 44 videos).
    bonferroni_m : {"remaining", "all"}, default="remaining"
        Family size ``m'``: the active neurons still untested (``"remaining"``) or
        all active neurons (``"all"``, the shipped code's choice).
    strata : {"quantile", "positive"}, default="quantile"
        Pooled quantile bins of each selected neuron, or ``Z > 0`` versus ``Z = 0``.
    n_strata : int, default=2
        Quantile bins per selected neuron (2 = median split).
    min_per_cell : int, default=3
        With ``strata_cap``, the minimum number of units per arm in every cell.
    strata_cap : bool, default=True
        Coarsen the strata (fewer conditioning neurons, then fewer bins, down to one
        stratum) until every cell has ``min_per_cell`` units per arm. Without it all
        ``q^|S|`` cells are used and cells with fewer than 2 units in an arm are
        dropped (weights renormalised).
    residualize : {"ols", "crossfit"} or None, default="ols"
        Adjustment for the selected neurons inside the strata. ``"ols"``: exact
        per-arm regression on cell indicators and cell-centred ``Z_S`` slopes (Lin,
        2013) with the exact OLS variance; ``"crossfit"``: the paper's recipe
        (cross-fitted arm-wise OLS residuals, then post-stratified Welch), which
        ignores the slopes' estimation error and is anti-conservative after round 1;
        ``None``: stratification only, which does not remove continuous leakage.
    n_folds : int, default=5
        Folds of ``residualize="crossfit"``.
    select : {"tau", "p", "t"}, default="tau"
        Which rejected neuron enters ``S``: largest ``|tau|`` (the paper), smallest
        p-value (ties broken by ``|t|``), or largest ``|t|``.
    test : {"welch", "permutation"}, default="welch"
        Where each round's p-values come from. ``"welch"``: the t reference with
        Satterthwaite degrees of freedom (asymptotic; anti-conservative for
        sparse, skewed codes with unbalanced arms in small trials).
        ``"permutation"``: a Monte-Carlo randomisation test per round: every
        tested neuron is residualised on the round's strata and selected neurons
        (pooled over arms), and the post-stratified Welch t of the residuals is
        compared with its distribution when the treatment is re-randomised within
        strata. Valid in small and unbalanced trials; effects and standard errors
        are still reported from the Welch/OLS contrast.
    n_permutations : int, default=9999
        Re-randomisations per round for ``test="permutation"``. p-values cannot
        fall below ``1 / (n_permutations + 1)``, so this must exceed the number of
        tested neurons over ``alpha`` for anything to be rejectable (a warning says
        so otherwise).
    max_rounds : int or None, default=None
        Maximum number of selected neurons.
    min_active : float, default=0.01
        Neurons non-zero in fewer than this fraction of units, or constant, are not
        tested and do not count in ``m'``.
    reference_mode : bool or "strict", default=False
        Reproduce the ICLR supplementary code (``nes 2.py``) for side-by-side
        checks: strata ``Z_S > 0`` with all ``2^|S|`` cells, no residualisation,
        Bonferroni over all (finite) p-values of all neurons, no activity filter.
        It overrides ``strata``, ``strata_cap``, ``residualize``, ``bonferroni_m``
        and ``min_active``. ``True`` drops cells with fewer than 2 units in an arm;
        ``"strict"`` keeps cells with 1, whose NaN variance makes every p-value NaN
        and so stops the search (the shipped code's accidental stopping rule).
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where the per-neuron statistics are computed; ``"auto"`` follows an input
        tensor, else CUDA when available. Worth a GPU only for very wide codes
        (``n_features`` of order 1e5).
    dtype : {"float64", "float32"}, default="float64"
        Precision of the statistics (keep float64 unless memory forces otherwise).
    random_state : int, RandomState instance or None, default=None
        Seeds the folds of ``residualize="crossfit"`` and the re-randomisations
        of ``test="permutation"``; nothing else is random.
    n_jobs : int or None, default=None
        Parallel joblib workers over the permutations of :meth:`permutation_check`
        (each permutation's search is independent). ``None`` means 1 unless in a
        joblib context; -1 uses all processors. Results do not depend on
        ``n_jobs``.
    verbose : int, default=0
        Verbosity of those joblib workers (0: silent).

    Attributes
    ----------
    selected_features_ : ndarray of shape (n_selected,), dtype int64
        Selected neurons, in selection order.
    selection_effects_ : ndarray of shape (n_selected,)
        ``tau`` of each selected neuron, from the round in which it was selected
        (not re-estimated later).
    selection_std_errors_ : ndarray of shape (n_selected,)
        Its standard error, from the same round.
    selection_p_values_ : ndarray of shape (n_selected,)
        Its raw (uncorrected) p-value, from the same round.
    effects_ : ndarray of shape (n_features,)
        The first (naive) round for every neuron: the difference in means (Welch;
        conditioned on ``nuisance`` when given). NaN where undefined.
    std_errors_ : ndarray of shape (n_features,)
        Its standard error in the first round.
    p_values_ : ndarray of shape (n_features,)
        Its raw first-round p-value (NaN for constant neurons).
    dofs_ : ndarray of shape (n_features,)
        Its first-round (Satterthwaite) degrees of freedom.
    first_round_significant_ : ndarray of int64
        Neurons the first round rejects: naive per-neuron testing with ``correction``.
    rounds_ : list of dict
        One dict per selection: ``round``, ``neuron``, ``tau``, ``se``, ``t``,
        ``df``, ``p``, ``threshold``, ``n_tested``, ``n_significant``, ``n_cells``,
        ``n_stratifiers``, ``bins``, ``n_units_kept``.
    stop_reason_ : str
        Why the search stopped: ``"no rejection"``, ``"max_rounds"``,
        ``"no candidates"`` or ``"no valid p-value"``.
    active_mask_ : ndarray of shape (n_features,), dtype bool
        Neurons that were tested.
    n_units_ : int
        Units tested (the number of groups when ``groups`` is given).
    n_features_in_ : int
        Number of neurons.
    feature_names_in_ : ndarray of shape (n_features,)
        Neuron names, when ``X`` has string column names.

    See Also
    --------
    skres.causal.SparseAutoencoder : produces the codes NES tests.
    skres.plotting.plot_effect_volcano : effect vs -log10 p, naive vs NES.

    Notes
    -----
    The recursion is greedy and gated by a corrected test in every round; the paper
    proves consistency (exact recovery as n grows) under principal alignment of the
    SAE and a bounded collider bias, but gives no finite-sample error bound for the
    whole recursion. Two known limits: stratifying on a selected neuron that is a
    common child of the treatment and another cause opens a collider path, which at
    very large n becomes significant; and an SAE without a clean neuron per concept
    (e.g. JumpReLU) breaks the method. Frame-level (pseudo-replicated) p-values are
    invalid: pass ``groups`` to average frames into the randomised units.
    :meth:`permutation_check` is a shuffled-treatment negative control.

    References
    ----------
    .. [1] Mencattini, Cadei, Locatello. "Exploratory Causal Inference in SAEnce."
       ICLR 2026. arXiv:2510.14073.
    .. [2] Lin. "Agnostic notes on regression adjustments to experimental data."
       Annals of Applied Statistics, 2013.

    Examples
    --------
    >>> from skres.causal import NeuralEffectSearch
    >>> from skres.datasets import make_leaky_gaussian_trial
    >>> Z, T, info = make_leaky_gaussian_trial(n_samples=1152, random_state=0)
    >>> nes = NeuralEffectSearch().fit(Z, T)
    >>> nes.selected_features_
    array([0, 1])
    >>> len(nes.first_round_significant_) > 2  # the naive test flags leaky neurons
    True
    >>> nes.transform(Z).shape
    (1152, 2)
    """

    __metadata_request__fit = {"treatment": True}

    _parameter_constraints: dict = {
        **TorchEstimatorMixin._torch_parameter_constraints,
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "correction": [StrOptions({"bonferroni", "bh", "none"})],
        "bonferroni_m": [StrOptions({"remaining", "all"})],
        "strata": [StrOptions({"quantile", "positive"})],
        "n_strata": [Interval(Integral, 2, None, closed="left")],
        "min_per_cell": [Interval(Integral, 1, None, closed="left")],
        "strata_cap": ["boolean"],
        "residualize": [StrOptions({"ols", "crossfit"}), None],
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "select": [StrOptions({"tau", "p", "t"})],
        "test": [StrOptions({"welch", "permutation"})],
        "n_permutations": [Interval(Integral, 1, None, closed="left")],
        "max_rounds": [Interval(Integral, 1, None, closed="left"), None],
        "min_active": [Interval(Real, 0, 1, closed="both")],
        "reference_mode": ["boolean", StrOptions({"strict"})],
        "dtype": [StrOptions({"float64", "float32"}), torch.dtype, np.dtype, type],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        correction: str = "bonferroni",
        bonferroni_m: str = "remaining",
        strata: str = "quantile",
        n_strata: int = 2,
        min_per_cell: int = 3,
        strata_cap: bool = True,
        residualize: str | None = "ols",
        n_folds: int = 5,
        select: str = "tau",
        test: str = "welch",
        n_permutations: int = 9999,
        max_rounds: int | None = None,
        min_active: float = 0.01,
        reference_mode: bool | str = False,
        device: Any = "auto",
        dtype: Any = "float64",
        random_state: Any = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.alpha = alpha
        self.correction = correction
        self.bonferroni_m = bonferroni_m
        self.strata = strata
        self.n_strata = n_strata
        self.min_per_cell = min_per_cell
        self.strata_cap = strata_cap
        self.residualize = residualize
        self.n_folds = n_folds
        self.select = select
        self.test = test
        self.n_permutations = n_permutations
        self.max_rounds = max_rounds
        self.min_active = min_active
        self.reference_mode = reference_mode
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ---------------------------------------------------------------- helpers
    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        """Small, fast parameters for the common test-suite."""
        return {"alpha": 0.5, "correction": "none", "max_rounds": 3, "device": "cpu"}

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # The target is a binary treatment: sklearn's checks then pass a binary y.
        tags.classifier_tags = ClassifierTags(multi_class=False)
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def __skres_tags__(self) -> SkresTags:
        return SkresTags(torch=True, stochastic=self.test == "permutation")

    def _settings(self) -> dict[str, Any]:
        """The effective test settings (``reference_mode`` overrides some)."""
        if self.reference_mode is not False:
            return {
                "positive": True,
                "cap": False,
                "residualize": None,
                "m_all": True,
                "min_arm": 1 if self.reference_mode == "strict" else 2,
                "reference": True,
            }
        return {
            "positive": self.strata == "positive",
            "cap": bool(self.strata_cap),
            "residualize": self.residualize,
            "m_all": self.bonferroni_m == "all",
            "min_arm": 2,
            "reference": False,
        }

    # ------------------------------------------------------------------ input
    def _prepare(
        self, X: Any, y: Any, treatment: Any, groups: Any, nuisance: Any, reset: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Any]:
        """Validate; average rows into units. Returns (Z, treated, nuisance, raw X)."""
        if treatment is None and y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None: pass the binary treatment as y or as treatment=."
            )
        raw = X
        X = validate_input(
            self, X, reset=reset, dtype=_FLOAT_DTYPES, ensure_min_samples=4
        )
        n = X.shape[0]
        if y is not None:
            y = _binary_target(y)
        if treatment is not None and y is not None:
            a = check_treatment(y, n_samples=n, name="y")
            b = check_treatment(treatment, n_samples=n)
            if not np.array_equal(a, b):
                raise ValueError(
                    "y and treatment were both given and differ: pass the treatment "
                    "once, as y or as treatment=."
                )
            T = b
        elif treatment is not None:
            T = check_treatment(treatment, n_samples=n)
        else:
            T = check_treatment(y, n_samples=n, name="y")
        N = None
        if nuisance is not None:
            N = np.asarray(tensor_to_numpy(nuisance), dtype=np.float64)
            N = N[:, None] if N.ndim == 1 else N
            if N.ndim != 2 or N.shape[0] != n:
                raise ValueError(
                    f"nuisance must have shape (n_samples,) or (n_samples, k) with "
                    f"n_samples={n}; got {N.shape}."
                )
            if not np.all(np.isfinite(N)):
                raise ValueError("nuisance contains NaN or infinity.")
        if groups is not None:
            codes, labels = check_groups(groups, n_samples=n)
            counts = np.bincount(codes, minlength=len(labels))
            treated_sum = np.bincount(codes, weights=T, minlength=len(labels))
            if np.any((treated_sum != 0) & (treated_sum != counts)):
                raise ValueError(
                    "treatment must be constant within each group of groups: the "
                    "group is the randomised unit."
                )
            T = (treated_sum > 0).astype(np.int64)
            X = _group_means(X, codes, len(labels), counts)
            if N is not None:
                N = _group_means(N, codes, len(labels), counts)
        n_arm = np.bincount(T, minlength=2)
        if n_arm.min() < 2:
            raise ValueError(
                "treatment needs at least 2 units in each arm to estimate a variance; "
                f"got {n_arm[0]} control and {n_arm[1]} treated units."
            )
        return X, T.astype(bool), N, raw

    # -------------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        treatment: Any = None,
        groups: Any = None,
        nuisance: Any = None,
    ) -> NeuralEffectSearch:
        """Run the search.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Codes ``Z``, one row per unit (or per frame/patch with ``groups``).
        y : array-like of shape (n_samples,), default=None
            The binary treatment (1 = treated), so that
            ``Pipeline([..., NeuralEffectSearch()]).fit(X, T)`` works. Give it here
            or as ``treatment``. Any two numeric labels are accepted as ``y``; the
            larger one is the treated arm.
        treatment : array-like of shape (n_samples,), default=None
            The binary treatment, as routed metadata (requested by default).
        groups : array-like of shape (n_samples,), default=None
            Unit labels (e.g. video id per frame): rows are averaged per unit before
            testing, and the treatment must be constant within a unit. Routed when
            requested with ``set_fit_request(groups=True)``.
        nuisance : array-like of shape (n_samples,) or (n_samples, k), default=None
            Covariates conditioned on from the first round (stratified and adjusted
            for like selected neurons), never tested themselves.

        Returns
        -------
        self : NeuralEffectSearch
        """
        Z, treated, N, raw = self._prepare(X, y, treatment, groups, nuisance, True)
        self._setup_torch(raw)
        self.dtype_ = _resolve_stat_dtype(self.dtype)
        rng = np.random.default_rng(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        _warn_degenerate_columns(Z, treated, self)
        Z, scale = _power_of_two_scale(Z)
        result = _rescale(_Search(self, Z, treated, N, rng).run(), scale)
        for key, value in result.items():
            setattr(self, key, value)
        self.n_units_ = int(Z.shape[0])
        return self

    # ------------------------------------------------------------- selection
    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self)
        mask = np.zeros(self.n_features_in_, dtype=bool)
        mask[self.selected_features_] = True
        return mask

    def transform(self, X: Any) -> Any:
        """Keep the selected neurons, in selection order.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Codes.

        Returns
        -------
        ndarray of shape (n_samples, n_selected)
            ``X[:, selected_features_]``, in the float dtype of ``X``.
        """
        check_is_fitted(self)
        X = validate_input(self, X, reset=False, dtype=_FLOAT_DTYPES)
        return X[:, self.selected_features_]

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Put selected columns back in place; unselected neurons are zero.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_selected)
            Columns in selection order, as :meth:`transform` returns them.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = np.asarray(tensor_to_numpy(X))
        if X.ndim != 2 or X.shape[1] != len(self.selected_features_):
            raise ValueError(
                f"X must have shape (n_samples, {len(self.selected_features_)}); got "
                f"{X.shape}."
            )
        out = np.zeros((X.shape[0], self.n_features_in_), dtype=X.dtype)
        out[:, self.selected_features_] = X
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the selected neurons, in selection order.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input names; ``feature_names_in_`` or ``x0, x1, ...`` when ``None``.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        return np.asarray(names[self.selected_features_], dtype=object)

    # ------------------------------------------------------------ reporting
    def summary(self) -> Any:
        """The selected neurons as a table, one row per round.

        Returns
        -------
        pandas.DataFrame
            Columns ``neuron``, ``name``, ``effect``, ``std_error``, ``t``, ``dof``,
            ``p_value`` (raw), ``threshold`` (the round's rejection threshold),
            ``n_tested``, ``n_significant`` and ``n_cells``, indexed by ``round``.
        """
        import pandas as pd

        check_is_fitted(self)
        names = _check_feature_names_in(self, None)
        rows = [
            {
                "round": r["round"],
                "neuron": r["neuron"],
                "name": names[r["neuron"]],
                "effect": r["tau"],
                "std_error": r["se"],
                "t": r["t"],
                "dof": r["df"],
                "p_value": r["p"],
                "threshold": r["threshold"],
                "n_tested": r["n_tested"],
                "n_significant": r["n_significant"],
                "n_cells": r["n_cells"],
            }
            for r in self.rounds_
        ]
        columns = ["round", "neuron", "name", "effect", "std_error", "t", "dof"]
        columns += ["p_value", "threshold", "n_tested", "n_significant", "n_cells"]
        return pd.DataFrame(rows, columns=columns).set_index("round")

    def leakage_index(self, eps: float = 0.1) -> float:
        """Fraction of tested neurons whose naive effect is at least ``eps`` times the
        largest selected effect: the paper's ``rho_eps = |A_eps| / m``.

        Parameters
        ----------
        eps : float, default=0.1
            Relative effect size that counts as leakage.

        Returns
        -------
        float
            NaN when nothing was selected.
        """
        check_is_fitted(self)
        check_positive_float(eps, "eps")
        if len(self.selected_features_) == 0:
            return float("nan")
        scale = np.max(np.abs(self.selection_effects_))
        effects = np.abs(self.effects_[self.active_mask_])
        return float(np.mean(effects >= eps * scale))

    def permutation_check(
        self,
        X: Any,
        treatment: Any = None,
        *,
        groups: Any = None,
        nuisance: Any = None,
        n_permutations: int = 100,
        random_state: Any = None,
    ) -> Bunch:
        """Negative control: rerun the search with randomly permuted treatments.

        Under a shuffled treatment nothing is affected, so the fraction of
        permutations in which anything is selected estimates the family-wise error
        of the whole recursion on these data. The first round of all permutations is
        computed at once; only permutations that reject something recurse. Does not
        change the fitted state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Codes.
        treatment : array-like of shape (n_samples,)
            Binary treatment (permuted across units).
        groups, nuisance : array-like, default=None
            As in :meth:`fit`.
        n_permutations : int, default=100
            Number of permutations.
        random_state : int, RandomState instance or None, default=None
            Seeds the permutations (and, for ``residualize="crossfit"``, one
            independent fold generator per permutation, so that results do not
            depend on ``n_jobs``).

        Returns
        -------
        Bunch
            ``n_selected`` (per permutation), ``selected`` (list of arrays),
            ``n_first_round_significant`` (per permutation) and ``fwer`` (fraction
            of permutations with a non-empty selection).
        """
        self._validate_params()
        check_positive_int(n_permutations, "n_permutations")
        fitted = self.__dict__.copy()
        try:
            Z, treated, N, raw = self._prepare(
                X, None, treatment, groups, nuisance, True
            )
            self._setup_torch(raw)
            self.dtype_ = _resolve_stat_dtype(self.dtype)
            rs = check_random_state(random_state)
            perms = np.stack([rs.permutation(treated) for _ in range(n_permutations)])
            search_rng = np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
            first = None
            if N is None and self.test == "welch":
                first = _first_round_batched(Z, perms, self.device_, self.dtype_)
            Z = _power_of_two_scale(Z)[0]
            rngs = search_rng.spawn(n_permutations)
            runs = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
                delayed(_permuted_search)(
                    self,
                    Z,
                    t,
                    N,
                    rngs[i],
                    None if first is None else tuple(part[i] for part in first),
                )
                for i, t in enumerate(perms)
            )
            selected = [sel for sel, _ in runs]
            n_first = [n for _, n in runs]
        finally:
            self.__dict__.clear()
            self.__dict__.update(fitted)
        n_selected = np.array([len(s) for s in selected])
        return Bunch(
            n_selected=n_selected,
            selected=selected,
            n_first_round_significant=np.array(n_first),
            fwer=float(np.mean(n_selected > 0)),
        )


def _power_of_two_scale(Z: np.ndarray) -> tuple[np.ndarray, float]:
    """Divide ``Z`` by the power of two nearest above its largest magnitude.

    Every statistic is scale-equivariant, and scaling by a power of two is exact in
    binary floating point, so this changes nothing but keeps codes near 1e-300 or
    1e300 from under- or overflowing in the sums of squares (one factor for all
    columns, so effects stay comparable across neurons)."""
    top = float(np.max(np.abs(Z))) if Z.size else 0.0
    if top == 0 or 2.0**-16 <= top <= 2.0**16:
        return Z, 1.0
    scale = float(np.ldexp(1.0, int(np.frexp(top)[1])))
    return Z / Z.dtype.type(scale), scale


def _rescale(result: dict[str, Any], scale: float) -> dict[str, Any]:
    """Effects and standard errors back on the caller's scale."""
    if scale == 1.0:
        return result
    for key in (
        "effects_",
        "std_errors_",
        "selection_effects_",
        "selection_std_errors_",
    ):
        result[key] = result[key] * scale
    for record in result["rounds_"]:
        record["tau"] *= scale
        record["se"] *= scale
    return result


def _warn_degenerate_columns(
    Z: np.ndarray, treated: np.ndarray, est: NeuralEffectSearch
) -> None:
    """Warn about columns that separate the treatment or are constant."""
    names = getattr(est, "feature_names_in_", None)

    def label(j: int) -> str:
        return f"{names[j]!r} (column {j})" if names is not None else f"column {j}"

    lo1, hi1 = Z[treated].min(axis=0), Z[treated].max(axis=0)
    lo0, hi0 = Z[~treated].min(axis=0), Z[~treated].max(axis=0)
    separates = (hi0 < lo1) | (hi1 < lo0)
    if separates.any():
        cols = ", ".join(label(j) for j in np.flatnonzero(separates)[:5])
        warnings.warn(
            f"X {cols} perfectly separates the treatment (e.g. it is the treatment "
            "or a copy of it): it will be selected first, trivially. Drop it from X "
            "or pass it as nuisance=.",
            UserWarning,
            stacklevel=3,
        )
    constant = Z.max(axis=0) == Z.min(axis=0)
    if constant.all():
        warnings.warn(
            "every column of X is constant over the units (identical rows): there "
            "is nothing to test; effects_ are 0 and p_values_ are NaN.",
            UserWarning,
            stacklevel=3,
        )
    elif constant.any():
        warnings.warn(
            f"{int(constant.sum())} constant column(s) of X (e.g. "
            f"{label(int(np.flatnonzero(constant)[0]))}) are not tested.",
            UserWarning,
            stacklevel=3,
        )


def _permuted_search(
    est: NeuralEffectSearch,
    Z: np.ndarray,
    treated: np.ndarray,
    N: np.ndarray | None,
    rng: np.random.Generator,
    first_round: Any,
) -> tuple[np.ndarray, int]:
    """One search of :meth:`NeuralEffectSearch.permutation_check` (a joblib task)."""
    res = _Search(est, Z, treated, N, rng, first_round=first_round).run()
    return res["selected_features_"], len(res["first_round_significant_"])


def _binary_target(y: Any) -> Any:
    """``y`` as 0/1 when it holds two labels (the larger is "treated", as the
    positive class of a binary classifier); other values are left for
    :func:`check_treatment` to reject."""
    arr = np.asarray(tensor_to_numpy(y))
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "Unknown label type: y must hold the binary treatment (two numeric "
                "labels)."
            ) from exc
    if arr.dtype.kind in "biuf" and arr.size:
        labels = np.unique(arr)
        if labels.size == 2 and np.all(np.isfinite(labels)):
            return (arr == labels[1]).astype(np.int64)
    return arr


def _resolve_stat_dtype(dtype: Any) -> torch.dtype:
    from .._base import resolve_dtype

    resolved = resolve_dtype(dtype)
    if resolved not in (torch.float64, torch.float32):
        raise ValueError(f"dtype must be 'float64' or 'float32'; got {dtype!r}.")
    return resolved


def _group_means(
    X: np.ndarray, codes: np.ndarray, n_groups: int, counts: np.ndarray
) -> np.ndarray:
    """Row means per group, float64 (rows follow the sorted unique labels)."""
    sums = torch.zeros(n_groups, X.shape[1], dtype=torch.float64)
    sums.index_add_(0, torch.as_tensor(codes), torch.as_tensor(X, dtype=torch.float64))
    return (sums / torch.as_tensor(counts, dtype=torch.float64)[:, None]).numpy()
