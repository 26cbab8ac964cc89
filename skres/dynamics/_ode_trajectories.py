"""Input helpers of :class:`~skres.dynamics.MechanisticODE`: several trajectories
(a list of arrays, or times that restart) and ``y`` given as the sample times."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import tensor_to_numpy


def _segments(t: np.ndarray) -> list[tuple[int, int]]:
    """Trajectory bounds: a new trajectory starts wherever ``t`` does not increase."""
    cuts = np.flatnonzero(np.diff(t) <= 0) + 1
    edges = np.concatenate([[0], cuts, [len(t)]])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _is_trajectory_list(X: Any) -> bool:
    """True for a list/tuple of 2-D trajectories (PySINDy's multiple trajectories)."""
    return (
        isinstance(X, Sequence)
        and not isinstance(X, str)
        and len(X) > 0
        and all(np.ndim(tensor_to_numpy(x, "X")) == 2 for x in X)
    )


def _looks_like_time(y: Any, n_samples: int) -> bool:
    """True when ``y`` (ignored by the estimator) is probably the sample times.

    A number (a time step, as in PySINDy's ``fit(x, 0.01)``), a list of 1-D arrays,
    or a finite 1-D numeric array of ``n_samples`` entries that increases at 90 %
    or more of its steps (times, possibly restarting for stacked trajectories).
    """
    if y is None:
        return False
    if isinstance(y, numbers.Real) and not isinstance(y, bool):
        return True
    if isinstance(y, list | tuple) and y and all(np.ndim(v) == 1 for v in y):
        if all(isinstance(v, numbers.Number) for v in y):
            pass  # a plain list of numbers: judged as an array below
        else:
            return True
    arr = np.asarray(tensor_to_numpy(y, "y"))
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n_samples or n_samples < 3:
        return False
    if arr.dtype.kind not in "fiu" or not np.all(np.isfinite(arr)):
        return False
    return bool(np.mean(np.diff(arr) > 0) >= 0.9)
