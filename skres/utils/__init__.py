"""Utilities: estimator discovery (:func:`all_estimators`) and test helpers."""

from .discovery import all_estimators

__all__ = ["all_estimators"]
