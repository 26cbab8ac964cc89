"""Helpers for the shared test-suite: instances, expected failures, test data.

The shared tests in ``tests/`` run on every estimator found by
:func:`skres.utils.all_estimators`. An estimator joins them by being exported; it
may define a classmethod ``_get_test_params()`` returning small, fast constructor
parameters. Expected failures of sklearn's common checks are listed in
:data:`EXPECTED_FAILED_CHECKS`, each with its reason; blanket xfails are not allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, is_classifier, is_regressor
from sklearn.utils import get_tags

from .discovery import all_estimators

#: ``{estimator class name: {check name: reason}}``.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


def expected_failed_checks(estimator: BaseEstimator) -> dict[str, str]:
    """The expected failures of ``estimator`` (for ``parametrize_with_checks``)."""
    return dict(EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {}))


def make_instance(cls: type[BaseEstimator], **overrides: Any) -> BaseEstimator:
    """An instance of ``cls`` with its small test parameters (and ``overrides``)."""
    params = dict(getattr(cls, "_get_test_params", dict)())
    params.update(overrides)
    return cls(**params)


def estimator_test_instances() -> list[BaseEstimator]:
    """One small instance of every public estimator, sorted by class name."""
    return [make_instance(cls) for _, cls in all_estimators()]


def fit_metadata(estimator: BaseEstimator) -> tuple[str, ...]:
    """Names of the side arrays ``estimator.fit`` requests by default.

    For a meta-estimator (whose routing is a ``MetadataRouter``) these are the
    arrays it consumes itself, not those it routes to its inner estimator.
    """
    routing = estimator.get_metadata_routing()
    if not hasattr(routing, "fit"):  # a MetadataRouter: take its own requests
        routing = BaseEstimator.get_metadata_routing(estimator)
    requests = routing.fit.requests
    return tuple(sorted(k for k, v in requests.items() if v is True))


#: Side arrays indexed by feature (column) rather than by sample: a spatial grid
#: such as ``PDEDiscoverer``'s ``x``. They have ``n_features`` entries and are
#: passed to every fold unchanged.
PER_FEATURE_SIDE_ARRAYS = ("x",)


def make_side_array(
    name: str,
    n_samples: int,
    rng: np.random.RandomState,
    n_features: int | None = None,
) -> Any:
    """Synthetic values for a known side-array name (treatment, environment...).

    Names in :data:`PER_FEATURE_SIDE_ARRAYS` get ``n_features`` entries.
    """
    if name in PER_FEATURE_SIDE_ARRAYS:
        if n_features is None:
            raise ValueError(f"side array {name!r} needs n_features.")
        return np.linspace(0.0, 1.0, n_features)
    if name == "treatment":
        values = np.arange(n_samples) % 2
        return rng.permutation(values)
    if name in ("environment", "groups", "trajectory"):
        return rng.permutation(np.arange(n_samples) % 3)
    if name == "t":
        return np.linspace(0.0, 1.0, n_samples)
    if name == "settings":
        return rng.randint(0, 2, size=(n_samples, 2))
    raise KeyError(
        f"no synthetic generator for side array {name!r}: add one to "
        "skres.utils._testing.make_side_array."
    )


def make_test_data(
    estimator: BaseEstimator,
    n_samples: int = 60,
    n_features: int = 5,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """``X``, ``y`` and requested side arrays suitable for fitting ``estimator``."""
    rng = np.random.RandomState(random_state)
    X = rng.standard_normal((n_samples, n_features))
    y: np.ndarray | None = None
    if is_classifier(estimator):
        y = (X[:, 0] + 0.5 * rng.standard_normal(n_samples) > 0).astype(np.int64)
    elif is_regressor(estimator):
        y = X @ rng.standard_normal(n_features) + 0.1 * rng.standard_normal(n_samples)
    elif (
        get_tags(estimator).target_tags.multi_output
        and get_tags(estimator).target_tags.required
    ):
        # Scorer-like estimators (e.g. TMEXScorer) take a multi-output target;
        # estimators whose target is a routed side array (NES's treatment) get none.
        y = X[:, :2] + 0.5 * rng.standard_normal((n_samples, 2))
    side = {
        name: make_side_array(name, n_samples, rng, n_features)
        for name in fit_metadata(estimator)
    }
    return X, y, side
