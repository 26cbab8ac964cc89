"""Deconfounded empirical risk minimisation (DERM) as scikit-learn meta-estimators.

"Causal Lifting of Neural Representations" / "Prediction-Powered Causal Inferences"
(Cadei et al., NeurIPS 2025): a predictor trained on one labelled experiment gives
valid treatment effects on another, unlabelled one when it cannot learn the
experimental settings ``Z`` (treatment included) from ``X`` beyond what ``Y`` carries.
DERM reweights the training sample so that, within every setting, the outcome is
uniform on its observed support and settings are weighted by how little they tell
about the outcome::

    w_i = [Var(Y | Z = z_i) / Var(Y)] / max(P(Y = y_i, Z = z_i), clip)

and fits any estimator that accepts ``sample_weight`` with these weights.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    clone,
    is_classifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils import Tags, check_random_state, get_tags
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from .._compat import (
    HasMethods,
    Interval,
    StrOptions,
    check_sample_weight,
    fit_context,
)
from .._validation import check_finite_output, validate_input
from ._derm_weights import derm_weights

__all__ = ["DERMClassifier", "DERMRegressor", "DERMWarning", "derm_weights"]

#: ``effective_n_`` below this fraction of the sample size triggers a warning.
_LOW_EFFECTIVE_N = 0.1


class DERMWarning(UserWarning):
    """DERM weights are degenerate or a setting violates the full-support condition."""


# ------------------------------------------------------------------ meta-estimators
def _inner_has(name: str) -> Any:
    def check(self: Any) -> bool:
        target = getattr(self, "estimator_", None)
        if target is None:
            target = self._template()
        return hasattr(target, name)

    return check


class _BaseDERM(MetaEstimatorMixin, BaseEstimator):
    """Shared fit logic of :class:`DERMClassifier` and :class:`DERMRegressor`."""

    __metadata_request__fit = {"settings": True}
    _default_estimator: type[BaseEstimator]

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"]), None],
        "weighting": [StrOptions({"derm", "independence"})],
        "clip": [Interval(Real, 0, None, closed="left")],
        "normalize": ["boolean"],
        "zero_weight_policy": [StrOptions({"drop", "keep_eps"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator: Any = None,
        *,
        weighting: str = "derm",
        clip: float = 1e-6,
        normalize: bool = True,
        zero_weight_policy: str = "drop",
        random_state: Any = None,
    ) -> None:
        self.estimator = estimator
        self.weighting = weighting
        self.clip = clip
        self.normalize = normalize
        self.zero_weight_policy = zero_weight_policy
        self.random_state = random_state

    # ---------------------------------------------------------------- helpers
    def _template(self) -> Any:
        return self._default_estimator() if self.estimator is None else self.estimator

    def _make_estimator(self) -> Any:
        """Clone the inner estimator and seed every ``random_state`` it has."""
        est = clone(self._template())
        if self.random_state is not None:
            rng = check_random_state(self.random_state)
            keys = sorted(
                k
                for k in est.get_params(deep=True)
                if k == "random_state" or k.endswith("__random_state")
            )
            if keys:
                seeds = rng.randint(np.iinfo(np.int32).max, size=len(keys))
                est.set_params(**{k: int(s) for k, s in zip(keys, seeds, strict=True)})
        return est

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        inner = get_tags(self._template())
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        return tags

    def get_metadata_routing(self) -> MetadataRouter:
        """Routing: ``settings`` (and ``sample_weight``) are consumed here, the
        rest goes to the inner estimator's ``fit``.

        The inner estimator's own ``sample_weight`` request is ignored: DERM always
        passes it the product of the DERM weights and the user's ``sample_weight``.

        Returns
        -------
        MetadataRouter
        """
        inner = clone(self._template())
        if has_fit_parameter(inner, "sample_weight") and hasattr(
            inner, "set_fit_request"
        ):
            with sklearn.config_context(enable_metadata_routing=True):
                inner.set_fit_request(sample_weight=False)
        router = MetadataRouter(owner=self).add_self_request(self)
        router.add(
            estimator=inner,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )
        return router

    def _y_bins(self) -> Any:
        return None

    def _check_outcome(self, y: np.ndarray) -> None:
        """Raise if ``y`` cannot be used for ``P(Y, settings)``."""

    def _fit(
        self,
        X: Any,
        y: Any,
        settings: Any,
        sample_weight: Any,
        fit_params: dict[str, Any],
    ) -> Any:
        estimator = self._make_estimator()
        if not has_fit_parameter(estimator, "sample_weight"):
            raise TypeError(
                f"estimator {type(estimator).__name__} does not accept sample_weight "
                "in fit, so it cannot be trained with DERM weights. Use an estimator "
                "whose fit takes sample_weight (put preprocessing in a Pipeline "
                "around the DERM estimator, not inside it)."
            )
        inner_params = self._inner_fit_params(settings, sample_weight, fit_params)
        inner_tags = get_tags(estimator)
        X, y = validate_input(
            self,
            X,
            y,
            reset=True,
            accept_sparse=["csr", "csc"] if inner_tags.input_tags.sparse else False,
            ensure_all_finite=not inner_tags.input_tags.allow_nan,
            y_numeric=not is_classifier(self),
            dtype=None if inner_tags.input_tags.allow_nan else "numeric",
        )
        if is_classifier(self):
            check_classification_targets(y)
            self.classes_ = np.unique(y)
        n = X.shape[0]
        sw = (
            check_sample_weight(sample_weight, X) if sample_weight is not None else None
        )
        if settings is None:
            warnings.warn(
                f"{type(self).__name__} was fitted without settings: this is plain "
                "(unweighted) ERM. Pass settings=... (the treatment and other "
                "experimental settings) for DERM.",
                DERMWarning,
                stacklevel=3,
            )
            weights = np.ones(n) if sw is None else sw
            self.cell_table_ = None
        else:
            self._check_outcome(y)
            weights, table = derm_weights(
                y,
                settings,
                weighting=self.weighting,
                clip=self.clip,
                y_bins=self._y_bins(),
                sample_weight=sw,
                normalize=self.normalize,
            )
            self.cell_table_ = table
            self._warn_degenerate(table, weights)
        self.sample_weight_ = weights
        total = weights.sum()
        self.effective_n_ = float(total**2 / np.sum(weights**2)) if total > 0 else 0.0
        self.zero_weight_fraction_ = float(np.mean(weights == 0))
        if settings is not None and self.effective_n_ < _LOW_EFFECTIVE_N * n:
            warnings.warn(
                f"the effective sample size of the DERM weights is "
                f"{self.effective_n_:.0f} of {n} samples "
                f"({self.effective_n_ / n:.1%}): expect a high-variance fit.",
                DERMWarning,
                stacklevel=3,
            )
        rows, fit_weights = self._fit_rows(weights, y)
        estimator.fit(X[rows], y[rows], sample_weight=fit_weights, **inner_params)
        self.estimator_ = estimator
        return self

    def _inner_fit_params(
        self, settings: Any, sample_weight: Any, fit_params: dict[str, Any]
    ) -> dict[str, Any]:
        """Fit parameters for the inner estimator (routed when routing is on)."""
        if sklearn.get_config()["enable_metadata_routing"]:
            given = {"settings": settings, "sample_weight": sample_weight}
            routed = process_routing(
                self,
                "fit",
                **{k: v for k, v in given.items() if v is not None},
                **fit_params,
            )
            inner_params = dict(routed.estimator.fit)
        else:
            inner_params = dict(fit_params)
        inner_params.pop("sample_weight", None)
        return inner_params

    def _fit_rows(self, weights: np.ndarray, y: np.ndarray) -> tuple[Any, np.ndarray]:
        """Rows and weights the inner estimator is fitted on (zero_weight_policy)."""
        fit_weights = weights
        rows: Any = slice(None)
        if self.zero_weight_policy == "drop" and np.any(weights == 0):
            rows = np.flatnonzero(weights > 0)
            fit_weights = weights[rows]
            if is_classifier(self) and np.unique(y[rows]).size < self.classes_.size:
                raise ValueError(
                    "zero_weight_policy='drop' removes every sample of some class; "
                    "use zero_weight_policy='keep_eps'."
                )
        elif np.any(weights == 0):
            positive = weights[weights > 0]
            eps = 1e-8 * (positive.mean() if positive.size else 1.0)
            fit_weights = np.where(weights == 0, eps, weights)
        return rows, fit_weights

    def _warn_degenerate(self, table: pd.DataFrame, weights: np.ndarray) -> None:
        setting_cols = list(table.attrs["settings_columns"])
        per_setting = table.groupby(setting_cols, sort=False)
        if self.weighting == "derm":
            zero = per_setting["var_ratio"].first() == 0
            if zero.any():
                share = float(table.loc[table["var_ratio"] == 0, "count"].sum())
                warnings.warn(
                    f"{int(zero.sum())} setting(s) have Var(y | settings) = 0 (a "
                    "deterministic outcome or a single sample); their "
                    f"{share / table['count'].sum():.1%} of the rows get weight 0 and "
                    "the full-support condition (paper Eq. 8) is violated.",
                    DERMWarning,
                    stacklevel=4,
                )
        n_y = table.attrs["n_y"]
        support = per_setting["y"].nunique()
        if self.weighting == "derm":
            support = support[per_setting["var_ratio"].first() > 0]
        if (support < n_y).any():
            warnings.warn(
                f"{int((support < n_y).sum())} setting(s) do not show every outcome "
                "value (supp(Y | settings) != supp(Y)): predictions may transfer the "
                "restricted support to a target experiment (hard-shift risk).",
                DERMWarning,
                stacklevel=4,
            )

    # ------------------------------------------------------------- delegation
    @available_if(_inner_has("predict"))
    def predict(self, X: Any) -> np.ndarray:
        """Predict with the fitted inner estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return np.asarray(self.estimator_.predict(self._validate_X(X)))

    def _validate_X(self, X: Any) -> Any:
        tags = get_tags(self.estimator_)
        return validate_input(
            self,
            X,
            reset=False,
            accept_sparse=["csr", "csc"] if tags.input_tags.sparse else False,
            ensure_all_finite=not tags.input_tags.allow_nan,
            dtype=None if tags.input_tags.allow_nan else "numeric",
        )


class DERMClassifier(ClassifierMixin, _BaseDERM):
    """Classifier trained by deconfounded ERM for prediction-powered causal inference.

    Fits any classifier whose ``fit`` takes ``sample_weight`` with the DERM weights

    .. math::

        w_i = \\frac{\\widehat{\\mathrm{Var}}(Y \\mid Z = z_i) /
        \\widehat{\\mathrm{Var}}(Y)}{\\max(\\hat P(Y = y_i, Z = z_i),\\ \\text{clip})},

    normalised to mean 1 (times any ``sample_weight``), where ``Z`` are the discrete
    experimental settings of the labelled experiment, **treatment included**. In the
    weighted sample the outcome is uniform on its support within each setting, so
    the model cannot learn the settings from ``X`` (the Causal Lifting constraint)
    and its predictions give valid treatment effects on a new, unlabelled
    experiment (see :func:`~skres.causal.prediction_powered_ate`).

    Parameters
    ----------
    estimator : classifier, default=None
        Any classifier whose ``fit`` accepts ``sample_weight`` (a torch model with a
        weighted loss ``mean(w * loss)`` included); cloned in ``fit``. ``None`` uses
        ``LogisticRegression()``.
    weighting : {"derm", "independence"}, default="derm"
        ``"independence"`` uses ``P(y) P(z) / P(y, z)`` instead.
    clip : float, default=1e-6
        Floor on ``P(y, z)`` (see :func:`derm_weights` for the trade-off).
    normalize : bool, default=True
        Rescale the weights to mean 1 (to ``sum(sample_weight)`` with weights).
    zero_weight_policy : {"drop", "keep_eps"}, default="drop"
        Rows of zero-variance settings get weight 0: drop them before fitting, or
        keep them with a tiny weight (for learners that reject zero weights or need
        every class).
    random_state : int, RandomState instance or None, default=None
        Seeds every ``random_state`` parameter of the inner estimator; ``None``
        leaves them as they are.

    Attributes
    ----------
    estimator_ : estimator
        The fitted inner classifier.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    sample_weight_ : ndarray of shape (n_samples,)
        The DERM weights of the training rows (zeros included).
    effective_n_ : float
        Kish effective sample size ``(sum w)^2 / sum w^2``.
    zero_weight_fraction_ : float
        Fraction of training rows with weight 0.
    cell_table_ : pandas.DataFrame or None
        Per observed (settings, y) cell: counts, ``P(y, z)``, ``Var(y|z)/Var(y)`` and
        the weight; ``None`` when fitted without settings. The settings columns keep
        the caller's names (DataFrame columns, Series name), else ``setting_j``.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Input column names, when ``X`` has string column names.

    Warns
    -----
    DERMWarning
        When fitted without ``settings`` (plain ERM), when ``effective_n_`` is below
        10 % of the sample size, when a setting has zero outcome variance, and when
        a setting does not show every outcome value (hard-shift risk).

    See Also
    --------
    DERMRegressor : the same for regression.
    skres.causal.prediction_powered_ate : the treatment effect from predictions.

    Notes
    -----
    ``settings`` is requested by default, so with
    ``sklearn.set_config(enable_metadata_routing=True)`` it is routed through
    ``Pipeline``, ``GridSearchCV`` and ``cross_validate``; other fit metadata is
    routed to the inner estimator.

    References
    ----------
    .. [1] Cadei, Demirel, De Bartolomeis, Lindorfer, Cremer, Schmid, Locatello.
       "Prediction-Powered Causal Inferences" (v1: "Causal Lifting of Neural
       Representations: Zero-Shot Generalization for Causal Inferences").
       NeurIPS 2025. arXiv:2502.06343.

    Examples
    --------
    >>> from skres.causal import DERMClassifier
    >>> from skres.datasets import make_visible_treatment
    >>> train = make_visible_treatment(n_samples=2000, random_state=0)
    >>> clf = DERMClassifier().fit(train.X, train.y, settings=train.settings)
    >>> round(clf.effective_n_ / 2000, 2), clf.zero_weight_fraction_
    (0.57, 0.0)
    """

    _default_estimator = LogisticRegression

    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        return {"random_state": 0}

    @fit_context(prefer_skip_nested_validation=False)
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        settings: Any = None,
        sample_weight: Any = None,
        **fit_params: Any,
    ) -> DERMClassifier:
        """Fit the inner classifier with DERM weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs (e.g. foundation-model embeddings).
        y : array-like of shape (n_samples,)
            Class labels.
        settings : array-like of shape (n_samples,) or (n_samples, n_settings)
            Discrete experimental settings, including the treatment. ``None`` fits
            plain ERM with a :class:`DERMWarning`.
        sample_weight : array-like of shape (n_samples,), default=None
            Multiplied into the DERM weights.
        **fit_params : dict
            Passed to (or, with metadata routing, routed to) ``estimator.fit``.

        Returns
        -------
        self : DERMClassifier
        """
        return self._fit(X, y, settings, sample_weight, fit_params)

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from the inner classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return np.asarray(self.estimator_.predict_proba(self._validate_X(X)))

    @available_if(_inner_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities from the inner classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return np.asarray(self.estimator_.predict_log_proba(self._validate_X(X)))

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        """Decision function of the inner classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        return np.asarray(self.estimator_.decision_function(self._validate_X(X)))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        return float(super().score(X, y, sample_weight=sample_weight))

    @available_if(_inner_has("predict_proba"))
    def predict_expected(self, X: Any) -> np.ndarray:
        """Expected outcome ``sum_k k * p_k(x)`` for numeric (ordinal, count) labels.

        The natural prediction to plug into a treatment-effect estimator: for a
        binary 0/1 outcome it is ``P(Y = 1 | x)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if self.classes_.dtype.kind not in "biuf":
            raise TypeError(
                "predict_expected needs numeric class labels; got dtype "
                f"{self.classes_.dtype}."
            )
        return self.predict_proba(X) @ self.classes_.astype(np.float64)


class DERMRegressor(RegressorMixin, _BaseDERM):
    """Regressor trained by deconfounded ERM for prediction-powered causal inference.

    The weights are those of :class:`DERMClassifier`,
    ``[Var(Y|z)/Var(Y)] / P(y, z)``. The paper treats discrete outcomes: ``y`` must
    be integer-valued (counts, scores) unless ``y_bins`` discretises it, for the
    estimate of ``P(Y, Z)`` and the support checks only; the variance and the
    inner fit use the raw ``y``.

    Parameters
    ----------
    estimator : regressor, default=None
        Any regressor whose ``fit`` accepts ``sample_weight``; cloned in ``fit``.
        ``None`` uses ``Ridge()``.
    y_bins : int, array-like or None, default=None
        Number of quantile bins, or inner bin edges, for a continuous ``y``.
    weighting : {"derm", "independence"}, default="derm"
        ``"independence"`` uses ``P(y) P(z) / P(y, z)`` instead.
    clip : float, default=1e-6
        Floor on ``P(y, z)`` (see :func:`derm_weights` for the trade-off).
    normalize : bool, default=True
        Rescale the weights to mean 1 (to ``sum(sample_weight)`` with weights).
    zero_weight_policy : {"drop", "keep_eps"}, default="drop"
        Drop zero-weight rows before fitting, or keep them with a tiny weight.
    random_state : int, RandomState instance or None, default=None
        Seeds every ``random_state`` parameter of the inner estimator.

    Attributes
    ----------
    estimator_ : estimator
        The fitted inner regressor.
    sample_weight_ : ndarray of shape (n_samples,)
        The DERM weights of the training rows.
    effective_n_ : float
        Kish effective sample size ``(sum w)^2 / sum w^2``.
    zero_weight_fraction_ : float
        Fraction of training rows with weight 0.
    cell_table_ : pandas.DataFrame or None
        Per observed (settings, y or y-bin) cell: counts, ``P(y, z)``,
        ``Var(y|z)/Var(y)`` and the weight. The settings columns keep the caller's
        names (DataFrame columns, Series name), else ``setting_j``.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Input column names, when ``X`` has string column names.

    See Also
    --------
    DERMClassifier : the same for classification, with the full description.

    References
    ----------
    .. [1] Cadei et al. "Prediction-Powered Causal Inferences." NeurIPS 2025.
       arXiv:2502.06343.

    Examples
    --------
    >>> import numpy as np
    >>> from skres.causal import DERMRegressor
    >>> rng = np.random.default_rng(0)
    >>> T = rng.integers(0, 2, 500)
    >>> y = rng.poisson(1 + 2 * T)            # a count outcome
    >>> X = np.column_stack([y + rng.normal(size=500), T])
    >>> reg = DERMRegressor().fit(X, y, settings=T)
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    _default_estimator = Ridge

    _parameter_constraints: dict = {
        **_BaseDERM._parameter_constraints,
        "y_bins": [Interval(Integral, 2, None, closed="left"), "array-like", None],
    }

    def __init__(
        self,
        estimator: Any = None,
        *,
        y_bins: Any = None,
        weighting: str = "derm",
        clip: float = 1e-6,
        normalize: bool = True,
        zero_weight_policy: str = "drop",
        random_state: Any = None,
    ) -> None:
        super().__init__(
            estimator,
            weighting=weighting,
            clip=clip,
            normalize=normalize,
            zero_weight_policy=zero_weight_policy,
            random_state=random_state,
        )
        self.y_bins = y_bins

    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        return {"y_bins": 2, "random_state": 0}

    def _y_bins(self) -> Any:
        return self.y_bins

    def _check_outcome(self, y: np.ndarray) -> None:
        if self.y_bins is None and not np.all(y == np.round(y)):
            raise ValueError(
                "y is continuous, so P(Y, settings) is undefined: pass y_bins (a "
                "number of quantile bins or an array of bin edges) to DERMRegressor."
            )

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Coefficient of determination R^2 of ``predict(X)`` against ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
            Finite, or non-finite with a ``RuntimeWarning`` when the predictions
            overflow (``X`` far outside the training scale).
        """
        with np.errstate(over="ignore", invalid="ignore"):
            score = float(super().score(X, y, sample_weight=sample_weight))
        return check_finite_output(score, estimator=self, method="score", action="warn")

    @fit_context(prefer_skip_nested_validation=False)
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        settings: Any = None,
        sample_weight: Any = None,
        **fit_params: Any,
    ) -> DERMRegressor:
        """Fit the inner regressor with DERM weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,)
            Outcomes (integer-valued, or continuous with ``y_bins``).
        settings : array-like of shape (n_samples,) or (n_samples, n_settings)
            Discrete experimental settings, including the treatment. ``None`` fits
            plain ERM with a :class:`DERMWarning`.
        sample_weight : array-like of shape (n_samples,), default=None
            Multiplied into the DERM weights.
        **fit_params : dict
            Passed to (or routed to) ``estimator.fit``.

        Returns
        -------
        self : DERMRegressor
        """
        return self._fit(X, y, settings, sample_weight, fit_params)
