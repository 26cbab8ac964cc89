"""Utilities: estimator discovery (:func:`all_estimators`), warnings, test helpers."""

from typing import Any

from .discovery import all_estimators

__all__ = [
    "all_estimators",
    "DeviceWarning",
]


def __getattr__(name: str) -> Any:
    # DeviceWarning lives with the torch base class; import torch only when asked.
    if name == "DeviceWarning":
        from .._base import DeviceWarning

        return DeviceWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
