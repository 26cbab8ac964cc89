"""DERM importance weights ``Var(Y | Z) / P(Y, Z)`` and their per-cell table."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from .._compat import check_sample_weight
from .._validation import (
    check_option,
    check_positive_float,
    check_positive_int,
    tensor_to_numpy,
)

_CELL_COLUMNS = ("y", "count", "p_joint", "var_ratio", "weight")


def _settings_names(settings: Any, n_columns: int) -> list[str]:
    """The caller's names of the settings columns, else ``setting_0, ...``.

    A DataFrame gives its column names, a named Series its name; names that are
    not unique strings, or that clash with the cell table's own columns, raise.
    """
    if hasattr(settings, "columns"):
        names = [str(c) for c in settings.columns]
    elif getattr(settings, "name", None) is not None and n_columns == 1:
        names = [str(settings.name)]
    else:
        return [f"setting_{j}" for j in range(n_columns)]
    clash = sorted(set(names) & set(_CELL_COLUMNS))
    if clash or len(set(names)) != len(names):
        raise ValueError(
            "settings column names must be unique and differ from the cell table's "
            f"columns {list(_CELL_COLUMNS)}; got {names}. Rename the columns."
        )
    return names


def _encode_settings(settings: Any, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer cell ids of the rows of ``settings`` and the unique rows."""
    arr = np.asarray(tensor_to_numpy(settings))
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            "settings must be an array of shape (n_samples,) or (n_samples, "
            f"n_settings); got shape {arr.shape}."
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"settings has {arr.shape[0]} rows but X has {n_samples} samples; they "
            "must have the same length."
        )
    if arr.shape[1] == 0:
        raise ValueError("settings must have at least one column.")
    if arr.dtype.kind in "fc":
        if not np.all(np.isfinite(arr)):
            raise ValueError("settings contains NaN or infinity.")
        if not np.all(arr == np.round(arr)):
            raise ValueError(
                "settings must hold discrete values (integers, booleans or "
                "strings); got non-integer floats. Bin continuous settings first."
            )
    elif arr.dtype == object and any(v is None for v in arr.ravel()):
        raise ValueError("settings contains missing values (None).")
    columns = [np.unique(arr[:, j], return_inverse=True) for j in range(arr.shape[1])]
    codes = np.column_stack([inv.ravel() for _, inv in columns])
    unique_codes, cell = np.unique(codes, axis=0, return_inverse=True)
    rows = np.empty(unique_codes.shape, dtype=object)
    for j, (labels, _) in enumerate(columns):
        rows[:, j] = labels[unique_codes[:, j]]
    return cell.ravel().astype(np.int64), rows


def _outcome_codes(y: np.ndarray, y_bins: Any) -> tuple[np.ndarray, np.ndarray]:
    """Discrete outcome codes for ``P(Y, Z)``: the labels, or quantile/edge bins."""
    if y_bins is None:
        labels, codes = np.unique(y, return_inverse=True)
        return codes.ravel().astype(np.int64), labels
    if isinstance(y_bins, numbers.Integral) and not isinstance(y_bins, bool):
        n_bins = check_positive_int(y_bins, "y_bins")
        if n_bins < 2:
            raise ValueError(f"y_bins must be >= 2; got {y_bins}.")
        edges = np.unique(np.quantile(y, np.linspace(0, 1, n_bins + 1)[1:-1]))
    else:
        edges = np.asarray(y_bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size == 0 or not np.all(np.isfinite(edges)):
            raise ValueError(
                "y_bins must be an int >= 2 or a 1-D array of finite bin edges; got "
                f"{y_bins!r}."
            )
        edges = np.unique(edges)
    bins = np.searchsorted(edges, y, side="right")
    labels, codes = np.unique(bins, return_inverse=True)
    return codes.ravel().astype(np.int64), labels


def _cell_variances(
    values: np.ndarray, cell: np.ndarray, n_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell sample variance (ddof=1; 0 for cells with <= 1 row) and counts.

    ``values`` is (n, k): for k > 1 (one-hot labels) the variance is the trace of the
    per-cell covariance matrix.
    """
    counts = np.bincount(cell, minlength=n_cells).astype(np.float64)
    sums = np.stack(
        [np.bincount(cell, weights=v, minlength=n_cells) for v in values.T], axis=1
    )
    means = sums / np.maximum(counts, 1.0)[:, None]
    resid = values - means[cell]
    ss = np.stack(
        [np.bincount(cell, weights=r * r, minlength=n_cells) for r in resid.T], axis=1
    ).sum(axis=1)
    var = np.where(counts > 1, ss / np.maximum(counts - 1.0, 1.0), 0.0)
    return var, counts


def derm_weights(
    y: Any,
    settings: Any,
    *,
    weighting: str = "derm",
    clip: float = 1e-6,
    y_bins: Any = None,
    sample_weight: Any = None,
    normalize: bool = True,
) -> tuple[np.ndarray, pd.DataFrame]:
    """DERM importance weights ``Var(Y | Z) / P(Y, Z)`` for a labelled sample.

    Use them with any learner: ``estimator.fit(X, y, sample_weight=w)``, or as the
    per-sample factors of a weighted loss ``mean(w * loss)`` in a torch training loop.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Outcomes, taken as discrete labels unless ``y_bins`` is given. Numeric
        labels enter ``Var(Y | Z)`` by value (ordinal or count
        outcomes, as in the paper); non-numeric labels through their one-hot
        encoding (trace of the covariance, ``1 - sum_k p_k**2``).
    settings : array-like of shape (n_samples,) or (n_samples, n_settings)
        Discrete experimental settings ``Z``; **must include the treatment**.
    weighting : {"derm", "independence"}, default="derm"
        ``"derm"``: ``[Var(Y|z) / Var(Y)] / P(y, z)``. ``"independence"``:
        ``P(y) P(z) / P(y, z)``, which makes ``Y`` and ``Z`` independent in the
        weighted sample but keeps deterministic settings.
    clip : float, default=1e-6
        Floor on ``P(y, z)`` in the denominator. The default (the lab's
        implementation) leaves every observed cell (``P >= 1 / n``) unclipped up to
        a million samples: the exact DERM weights. ``1e-3`` (the ISTAnt paper's
        value) caps the weight of cells rarer than 1 in 1000: lower weight variance
        (larger effective sample size), at the price of a bias towards the
        unweighted fit on exactly the rare cells DERM exists to up-weight.
    y_bins : int, array-like or None, default=None
        Discretisation of a continuous ``y`` for ``P(Y, Z)`` only: a number of
        quantile bins or an array of inner bin edges. ``Var(Y | Z)`` always uses the
        raw values.
    sample_weight : array-like of shape (n_samples,), default=None
        Multiplied into the weights.
    normalize : bool, default=True
        Rescale the weights to sum to ``sum(sample_weight)`` (mean 1 without
        ``sample_weight``). With sklearn learners the scale interacts with the
        regularisation strength, so keep it on.

    Returns
    -------
    weights : ndarray of shape (n_samples,)
        Non-negative weights; rows of zero-variance settings get 0.
    cell_table : pandas.DataFrame
        One row per observed ``(z, y)`` cell: the settings columns (named as the
        caller's DataFrame columns or Series name, else ``setting_0, ...``), ``y``,
        ``count``, ``p_joint``, ``var_ratio`` (``Var(Y|z)/Var(Y)``) and ``weight``
        (the normalised weight of one row of that cell, before ``sample_weight``).

    Examples
    --------
    >>> import numpy as np
    >>> from skres.causal.derm import derm_weights
    >>> y = np.array([0, 1, 1, 0, 1, 1, 1, 1])
    >>> z = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> w, table = derm_weights(y, z)
    >>> w.round(3).tolist()  # the deterministic setting z=1 gets weight 0
    [2.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0]
    """
    check_option(weighting, "weighting", ("derm", "independence"))
    clip = check_positive_float(clip, "clip", allow_zero=True)
    y_arr = np.asarray(tensor_to_numpy(y))
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr[:, 0]
    if y_arr.ndim != 1:
        raise ValueError(f"y must be 1-D; got shape {y_arr.shape}.")
    n = y_arr.shape[0]
    if n < 2:
        raise ValueError(f"DERM weights need at least 2 samples; got {n}.")
    cell_z, z_rows = _encode_settings(settings, n)
    numeric = y_arr.dtype.kind in "biuf"
    if numeric and not np.all(np.isfinite(y_arr.astype(np.float64))):
        raise ValueError("y contains NaN or infinity.")
    if y_bins is not None and not numeric:
        raise TypeError("y_bins needs a numeric y.")
    y_codes, y_labels = _outcome_codes(
        y_arr.astype(np.float64) if y_bins is not None else y_arr, y_bins
    )
    n_z, n_y = z_rows.shape[0], y_labels.shape[0]
    joint = cell_z * n_y + y_codes
    joint_counts = np.bincount(joint, minlength=n_z * n_y).astype(np.float64)
    p_joint = joint_counts / n
    if weighting == "derm":
        values = (
            y_arr.astype(np.float64)[:, None]
            if numeric
            else np.eye(n_y)[y_codes]  # one-hot for non-numeric labels
        )
        var_z, _ = _cell_variances(values, cell_z, n_z)
        var_all, _ = _cell_variances(values, np.zeros(n, dtype=np.int64), 1)
        if var_all[0] <= 0:
            raise ValueError("y is constant: DERM weights need a non-constant y.")
        ratio = var_z / var_all[0]
        numerator = np.repeat(ratio, n_y)
    else:
        p_z = np.bincount(cell_z, minlength=n_z) / n
        p_y = np.bincount(y_codes, minlength=n_y) / n
        ratio = np.full(n_z, np.nan)
        numerator = np.outer(p_z, p_y).ravel()
    denominator = np.maximum(p_joint, clip)
    cell_w = np.divide(
        numerator,
        denominator,
        out=np.zeros_like(p_joint),
        where=(joint_counts > 0) & (denominator > 0),
    )
    weights = cell_w[joint]
    sw = (
        check_sample_weight(sample_weight, y_arr) if sample_weight is not None else None
    )
    if normalize:
        total = weights.sum()
        if total <= 0:
            raise ValueError(
                "every DERM weight is zero: each setting determines the outcome "
                "(Var(Y | settings) = 0 everywhere), so DERM has nothing to learn from."
            )
        cell_w = cell_w * (n / total)
        weights = cell_w[joint]
    if sw is not None:
        weights = weights * sw
        if normalize and weights.sum() > 0:
            weights = weights * (sw.sum() / weights.sum())
    names = _settings_names(settings, z_rows.shape[1])
    table = _cell_table(z_rows, y_labels, joint_counts, p_joint, ratio, cell_w, names)
    return weights, table


def _cell_table(
    z_rows: np.ndarray,
    y_labels: np.ndarray,
    joint_counts: np.ndarray,
    p_joint: np.ndarray,
    ratio: np.ndarray,
    cell_w: np.ndarray,
    setting_names: list[str],
) -> pd.DataFrame:
    """One row per observed (settings, outcome) cell."""
    n_y = y_labels.shape[0]
    observed = np.flatnonzero(joint_counts > 0)
    table = pd.DataFrame(
        {
            **{
                name: z_rows[observed // n_y, j] for j, name in enumerate(setting_names)
            },
            "y": y_labels[observed % n_y],
            "count": joint_counts[observed].astype(np.int64),
            "p_joint": p_joint[observed],
            "var_ratio": ratio[observed // n_y],
            "weight": cell_w[observed],
        }
    )
    table.attrs["n_y"] = n_y
    table.attrs["settings_columns"] = setting_names
    return table
