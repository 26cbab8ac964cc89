"""Discover every public skres estimator."""

from __future__ import annotations

import importlib
import inspect

from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClusterMixin,
    RegressorMixin,
    TransformerMixin,
)

_ESTIMATOR_SUBPACKAGES = ("causal", "interpretability", "dynamics", "distillation")

_TYPE_MIXINS = {
    "classifier": ClassifierMixin,
    "regressor": RegressorMixin,
    "transformer": TransformerMixin,
    "cluster": ClusterMixin,
}


def all_estimators(
    type_filter: str | list[str] | None = None,
) -> list[tuple[str, type[BaseEstimator]]]:
    """List the public estimators of skres.

    An estimator is public when its class is listed in the ``__all__`` of one of
    the domain subpackages (``skres.causal``, ``skres.interpretability``,
    ``skres.dynamics``, ``skres.distillation``). Exporting a class is all it takes for
    it to be found here, and hence run through the shared test-suite.

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "transformer", "cluster"} or list, \
            default=None
        Keep only estimators of these kinds.

    Returns
    -------
    list of (name, class)
        Sorted by name.

    Examples
    --------
    >>> from skres.utils import all_estimators
    >>> ("SparseAutoencoder" in dict(all_estimators("transformer")))
    True
    """
    if isinstance(type_filter, str):
        type_filter = [type_filter]
    if type_filter is not None:
        unknown = set(type_filter) - set(_TYPE_MIXINS)
        if unknown:
            raise ValueError(
                f"type_filter must be among {sorted(_TYPE_MIXINS)}; "
                f"got {sorted(unknown)}."
            )
    found: dict[str, type[BaseEstimator]] = {}
    for subpackage in _ESTIMATOR_SUBPACKAGES:
        module = importlib.import_module(f"skres.{subpackage}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and not inspect.isabstract(obj)
            ):
                found[name] = obj
    estimators = sorted(found.items())
    if type_filter is not None:
        mixins = tuple(_TYPE_MIXINS[t] for t in type_filter)
        estimators = [(n, c) for n, c in estimators if issubclass(c, mixins)]
    return estimators
