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
from ._net import RoundDesign, make_strata, t_test_from_parts, welch_batched

__all__ = ["NeuralEffectSearch"]

_FLOAT_DTYPES = [np.float64, np.float32]
#: Elements per float64 column block (bounds the memory of one round).
_BLOCK_ELEMENTS = 2**23


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
        Seeds the folds of ``residualize="crossfit"``; nothing else is random.
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
        return SkresTags(torch=True, stochastic=False)

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
        result = _Search(self, Z, treated, N, rng).run()
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
            if N is None:
                first = _first_round_batched(Z, perms, self.device_, self.dtype_)
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


def _as_tensor(Z: np.ndarray) -> torch.Tensor:
    """Zero-copy CPU tensor view of ``Z`` (never written to, so read-only is fine)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not")
        return torch.as_tensor(Z)


def _group_means(
    X: np.ndarray, codes: np.ndarray, n_groups: int, counts: np.ndarray
) -> np.ndarray:
    """Row means per group, float64 (rows follow the sorted unique labels)."""
    sums = torch.zeros(n_groups, X.shape[1], dtype=torch.float64)
    sums.index_add_(0, torch.as_tensor(codes), torch.as_tensor(X, dtype=torch.float64))
    return (sums / torch.as_tensor(counts, dtype=torch.float64)[:, None]).numpy()


def _column_blocks(n_rows: int, cols: np.ndarray) -> list[np.ndarray]:
    size = max(1, _BLOCK_ELEMENTS // max(n_rows, 1))
    return [cols[i : i + size] for i in range(0, len(cols), size)] or [cols]


def _first_round_batched(
    Z: np.ndarray, perms: np.ndarray, device: torch.device, dtype: torch.dtype
) -> tuple[np.ndarray, ...]:
    """Welch parts of every column for every treatment vector in ``perms``."""
    n, m = Z.shape
    out = [np.empty((len(perms), m)) for _ in range(3)]
    treated = torch.as_tensor(perms, device=device)
    Zt = _as_tensor(Z)
    for cols in _column_blocks(n, np.arange(m)):
        Y = Zt[:, cols].to(device=device, dtype=dtype)
        batch = max(1, _BLOCK_ELEMENTS // max(Y.numel(), 1))
        for start in range(0, len(perms), batch):
            sl = slice(start, start + batch)
            parts = welch_batched(Y.expand(treated[sl].shape[0], -1, -1), treated[sl])
            for o, p in zip(out, parts, strict=True):
                o[sl, cols] = p.double().cpu().numpy()
    return tuple(out)


class _Search:
    """One run of Algorithm 1 on validated unit-level data."""

    def __init__(
        self,
        est: NeuralEffectSearch,
        Z: np.ndarray,
        treated: np.ndarray,
        nuisance: np.ndarray | None,
        rng: np.random.Generator,
        first_round: tuple[np.ndarray, ...] | None = None,
    ) -> None:
        self.est = est
        # Treated units first: the first round's arms are then contiguous row
        # blocks and need no gather. Statistics do not depend on the row order.
        if np.any(np.diff(treated.astype(np.int8)) > 0):
            order = np.argsort(~treated, kind="stable")
            Z, treated = Z[order], treated[order]
            nuisance = None if nuisance is None else nuisance[order]
        self.Z = Z
        self.treated = treated
        self.nuisance = nuisance
        self.rng = rng
        self.first_round = first_round
        self.cfg = est._settings()
        self.device = est.device_
        self.dtype = est.dtype_
        self.Zt = _as_tensor(Z)
        if self.device.type != "cpu" and Z.nbytes < 2**31:
            self.Zt = self.Zt.to(self.device)

    # ------------------------------------------------------------- one round
    def _design(self, S: list[int]) -> RoundDesign:
        cols = [self.Z[:, S].astype(np.float64)]
        if self.nuisance is not None:
            cols.insert(0, self.nuisance)
        levels = np.column_stack(cols) if cols else np.zeros((len(self.Z), 0))
        est = self.est
        cell, n_used, q_used = make_strata(
            levels,
            self.treated,
            n_strata=est.n_strata,
            min_per_cell=est.min_per_cell,
            cap=self.cfg["cap"],
            positive=self.cfg["positive"],
        )
        design = RoundDesign(
            treated=self.treated,
            cell=cell,
            levels=levels,
            residualize=self.cfg["residualize"],
            min_arm=self.cfg["min_arm"],
            device=self.device,
            n_folds=est.n_folds,
            rng=self.rng,
        )
        design.n_used, design.q_used = n_used, q_used  # type: ignore[attr-defined]
        return design

    def _test(self, design: RoundDesign, cols: np.ndarray) -> tuple[np.ndarray, ...]:
        tau, var, den = (np.full(len(cols), np.nan) for _ in range(3))
        start = 0
        contiguous = bool(np.all(np.diff(cols) == 1))
        for block in _column_blocks(len(self.Z), cols):
            if contiguous:
                Y = self.Zt[:, int(block[0]) : int(block[-1]) + 1]
            else:
                index = torch.as_tensor(block, device=self.Zt.device)
                Y = self.Zt.index_select(1, index)
            Y = Y.to(device=self.device, dtype=self.dtype)
            parts = design.stats(Y)
            sl = slice(start, start + len(block))
            tau[sl], var[sl], den[sl] = parts
            start += len(block)
        return (tau, *t_test_from_parts(tau, var, den))

    def _reject(self, p: np.ndarray, m: int) -> tuple[np.ndarray, float]:
        alpha, correction = self.est.alpha, self.est.correction
        finite = np.where(np.isnan(p), np.inf, p)
        if m == 0:
            return np.zeros(len(p), dtype=bool), 0.0
        if correction == "bonferroni":
            thr = alpha / m
            return finite < thr, thr
        if correction == "none":
            return finite < alpha, alpha
        ranked = np.sort(finite)
        ok = np.flatnonzero(ranked <= alpha * np.arange(1, len(p) + 1) / m)
        thr = alpha * (ok[-1] + 1) / m if len(ok) else 0.0
        return finite <= thr, thr

    def _pick(
        self, tau: np.ndarray, t: np.ndarray, p: np.ndarray, rej: np.ndarray
    ) -> int:
        idx = np.flatnonzero(rej)
        select = self.est.select
        if select == "tau":
            return int(idx[np.argmax(np.abs(tau[idx]))])
        if select == "t":
            return int(idx[np.argmax(np.abs(t[idx]))])
        return int(idx[np.lexsort((-np.abs(t[idx]), p[idx]))[0]])

    # ----------------------------------------------------------------- search
    def run(self) -> dict[str, Any]:
        est, cfg = self.est, self.cfg
        n, m = self.Z.shape
        all_cols = np.arange(m)
        if cfg["reference"]:
            active = np.ones(m, dtype=bool)
        else:
            nonzero = (self.Z != 0).mean(axis=0)
            constant = self.Z.max(axis=0) == self.Z.min(axis=0)
            active = (nonzero >= est.min_active) & (nonzero > 0) & ~constant
        n_active = int(active.sum())
        S: list[int] = []
        rounds: list[dict[str, Any]] = []
        first: dict[str, np.ndarray] = {}
        stop = "no candidates"
        while est.max_rounds is None or len(S) < est.max_rounds:
            in_S = np.zeros(m, dtype=bool)
            in_S[S] = True
            candidates = active & ~in_S
            if not candidates.any():
                stop = "no candidates"
                break
            design = self._design(S)
            # The shipped code tests every neuron (selected ones included) and counts
            # the finite p-values; otherwise only the remaining active neurons.
            tested = (
                all_cols if (cfg["reference"] or not S) else np.flatnonzero(candidates)
            )
            if not S and self.first_round is not None and self.nuisance is None:
                tau_f, var_f, den_f = self.first_round
                parts: tuple[np.ndarray, ...] = (
                    tau_f,
                    *t_test_from_parts(tau_f, var_f, den_f),
                )
            else:
                parts = self._test(design, tested)
            tau, se, t, dof, p = (np.full(m, np.nan) for _ in range(5))
            for full, part in zip((tau, se, t, dof, p), parts, strict=True):
                full[tested] = part
            if cfg["reference"]:
                n_family = int(np.isfinite(p).sum())
            elif cfg["m_all"]:
                n_family = n_active
            else:
                n_family = int(candidates.sum())
            p_family = np.where(active, p, np.nan)
            rejected, thr = self._reject(p_family, n_family)
            if not S:
                first = {
                    "effects_": tau,
                    "std_errors_": se,
                    "p_values_": p,
                    "dofs_": dof,
                    "first_round_significant_": np.flatnonzero(rejected & active),
                }
            rejected &= candidates
            if not np.isfinite(p[candidates]).any():
                stop = "no valid p-value"
                break
            if not rejected.any():
                stop = "no rejection"
                break
            j = self._pick(tau, t, p, rejected)
            rounds.append(
                {
                    "round": len(S) + 1,
                    "neuron": j,
                    "tau": float(tau[j]),
                    "se": float(se[j]),
                    "t": float(t[j]),
                    "df": float(dof[j]),
                    "p": float(p[j]),
                    "threshold": float(thr),
                    "n_tested": int(candidates.sum()),
                    "n_significant": int(rejected.sum()),
                    "n_cells": design.n_cells,
                    "n_stratifiers": design.n_used,  # type: ignore[attr-defined]
                    "bins": design.q_used,  # type: ignore[attr-defined]
                    "n_units_kept": design.n_units_kept,
                }
            )
            S.append(j)
        else:
            stop = "max_rounds"
        if not first:  # stopped before any round (no active neuron)
            nan = np.full(m, np.nan)
            first = {
                "effects_": nan,
                "std_errors_": nan.copy(),
                "p_values_": nan.copy(),
                "dofs_": nan.copy(),
                "first_round_significant_": np.zeros(0, dtype=np.int64),
            }
        return {
            **first,
            "selected_features_": np.asarray(S, dtype=np.int64),
            "selection_effects_": np.array([r["tau"] for r in rounds]),
            "selection_std_errors_": np.array([r["se"] for r in rounds]),
            "selection_p_values_": np.array([r["p"] for r in rounds]),
            "rounds_": rounds,
            "stop_reason_": stop,
            "active_mask_": active,
        }
