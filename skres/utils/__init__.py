"""Utilities: estimator discovery (:func:`all_estimators`), warnings, test helpers,
the cache folder (:func:`get_cache_dir`, :func:`ensure_cache_dir`)."""

from typing import Any

from ._cache import ChecksumError, UnsafeCacheError, ensure_cache_dir, get_cache_dir
from .discovery import all_estimators

__all__ = [
    "all_estimators",
    "ChecksumError",
    "DeviceWarning",
    "ensure_cache_dir",
    "get_cache_dir",
    "UnsafeCacheError",
]


def __getattr__(name: str) -> Any:
    # DeviceWarning lives with the torch base class; import torch only when asked.
    if name == "DeviceWarning":
        from .._base import DeviceWarning

        return DeviceWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
