"""Check that requested side arrays reach every fold, correctly sliced."""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skres.utils._testing import (
    PER_FEATURE_SIDE_ARRAYS,
    fit_metadata,
    make_side_array,
    make_test_data,
)


def _recording_subclass(cls):
    """A subclass of ``cls`` whose ``fit`` records the side arrays it received."""
    received: list[dict[str, np.ndarray]] = []

    def fit(self, X, y=None, **side):
        received.append({k: np.asarray(v) for k, v in side.items()})
        return cls.fit(self, X, y, **side)

    sub = type(cls.__name__, (cls,), {"fit": fit})
    return sub, received


def assert_side_arrays_routed(estimator) -> None:
    names = fit_metadata(estimator)
    X, y, side = make_test_data(estimator, n_samples=90)
    cls, received = _recording_subclass(type(estimator))
    est = cls(**estimator.get_params())
    # Marker column so every fold can be matched to its training rows.
    X = np.column_stack([X, np.arange(len(X), dtype=float)])
    rng = np.random.RandomState(0)
    for name in set(side) & set(PER_FEATURE_SIDE_ARRAYS):  # one entry per column
        side[name] = make_side_array(name, len(X), rng, X.shape[1])
    cv = KFold(3, shuffle=True, random_state=0)
    param = next(iter(est.get_params()))
    grid = {f"{type(est).__name__.lower()}__{param}": [est.get_params()[param]]}
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            make_pipeline(StandardScaler(), est),
            grid,
            cv=cv,
            refit=True,
            error_score="raise",
            scoring=_first_score,
        )
        search.fit(X, y, **side)
    assert len(received) == 3 + 1  # three folds plus the refit
    for (train, _), got in zip(cv.split(X), received[:3], strict=True):
        for name in names:
            expected = np.asarray(side[name])
            if name not in PER_FEATURE_SIDE_ARRAYS:  # per-sample: sliced per fold
                expected = expected[train]
            np.testing.assert_array_equal(got[name], expected)
    for name in names:
        np.testing.assert_array_equal(received[-1][name], np.asarray(side[name]))


def _first_score(estimator, X, y=None):
    return 0.0
