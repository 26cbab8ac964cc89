"""Input validation shared by skres estimators.

``validate_input`` wraps :func:`sklearn.utils.validation.validate_data` so that torch
tensors (also ones that require grad or live on a GPU) are accepted wherever numpy
arrays are. The ``check_*`` functions validate the per-sample side arrays that skres
estimators take as keyword-only, metadata-routed ``fit`` parameters (treatment,
environment, groups, ...), always naming the offending parameter in the error.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
from sklearn.utils.validation import validate_data

__all__ = [
    "check_cast",
    "check_environment",
    "check_finite_output",
    "check_groups",
    "check_option",
    "check_positive_float",
    "check_positive_int",
    "check_side_array",
    "check_treatment",
    "check_not_meta",
    "is_torch_tensor",
    "tensor_to_numpy",
    "validate_input",
]


def is_torch_tensor(obj: Any) -> bool:
    """True if ``obj`` is a :class:`torch.Tensor` (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def check_not_meta(obj: Any, name: str = "input") -> None:
    """Raise a ``ValueError`` if ``obj`` is a torch tensor on the ``meta`` device.

    A meta tensor has a shape and a dtype but no values (e.g. a model built under
    ``torch.device("meta")`` whose weights were never loaded), so no estimator can
    compute with it.
    """
    if is_torch_tensor(obj) and obj.device.type == "meta":
        raise ValueError(
            f"{name} is a torch tensor on the 'meta' device: it has a shape "
            f"{tuple(obj.shape)} but no values. Materialise it first (load its "
            "values, or move the module that made it with .to_empty(device='cpu') "
            "and fill it) and pass a CPU or GPU tensor."
        )


def tensor_to_numpy(obj: Any, name: str = "input") -> Any:
    """Detach a torch tensor and return it as a numpy array; pass others through.

    Raises a ``ValueError`` naming ``name`` for a tensor on the ``meta`` device.
    """
    if is_torch_tensor(obj):
        check_not_meta(obj, name)
        return obj.detach().cpu().numpy()
    return obj


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def check_cast(source: Any, cast: Any, *, name: str = "X") -> None:
    """Raise if casting ``source`` to a compute dtype destroyed its values.

    ``source`` is the validated (finite, usually float64) array and ``cast`` the
    same values in the compute precision (a numpy array or a torch tensor). The
    ``ValueError`` names the input, the dtype and the remedies when

    * a finite value became ``inf`` (e.g. ``X * 1e39`` in float32, whose largest
      value is about 3.4e38), or
    * every non-zero value fell below the smallest normal number of the dtype
      (e.g. ``X * 1e-300`` in float32), so the data became zeros or subnormals.

    Parameters
    ----------
    source : numpy.ndarray or torch.Tensor
        The values before the cast.
    cast : numpy.ndarray or torch.Tensor
        The values after the cast.
    name : str, default="X"
        The input's name, used in the message.
    """
    info: Any
    if is_torch_tensor(cast):
        torch = sys.modules["torch"]
        if not cast.is_floating_point() or cast.numel() == 0:
            return
        # Two reductions, no temporary of the input's size (the data may be most
        # of the memory): NaN propagates through min/max, inf shows at an end.
        low, high = (float(v) for v in torch.aminmax(cast.detach()))
        info = torch.finfo(cast.dtype)
    else:
        cast = np.asarray(cast)
        if cast.dtype.kind != "f" or cast.size == 0:
            return
        low, high = float(cast.min()), float(cast.max())
        info = np.finfo(cast.dtype)
    finite = math.isfinite(low) and math.isfinite(high)
    max_cast = max(abs(low), abs(high)) if finite else float("inf")
    if finite and max_cast >= float(info.tiny):
        return  # the common case: one min/max reduction over the cast values
    src = source.detach().cpu().numpy() if is_torch_tensor(source) else source
    src = np.asarray(src)
    if src.dtype.kind not in "fiu" or src.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        src_finite = np.isfinite(src)
        if not src_finite.all():
            raise ValueError(f"{name} contains NaN or infinity.")
        max_src = float(np.abs(src).max())
    dtype = _dtype_name(cast.dtype)
    remedy = (
        f"Use dtype='float64' (or another wider dtype) or rescale {name} "
        "(e.g. with sklearn.preprocessing.StandardScaler)."
    )
    if not finite:
        raise ValueError(
            f"{name} has values too large for the compute dtype {dtype}: max "
            f"|{name}| = {max_src:.3g} but {dtype} holds at most "
            f"{float(info.max):.3g}, so they would become inf. {remedy}"
        )
    if max_src > 0:
        raise ValueError(
            f"{name} is too small for the compute dtype {dtype}: max |{name}| = "
            f"{max_src:.3g} is below the smallest normal {dtype} number "
            f"({float(info.tiny):.3g}), so its values would become zeros or lose "
            f"their precision. {remedy}"
        )


def check_finite_output(
    values: Any,
    *,
    estimator: Any,
    method: str,
    dtype: Any = None,
    action: str = "raise",
) -> Any:
    """Raise (or warn) when an estimator produced NaN or inf from finite input.

    Parameters
    ----------
    values : array-like, torch.Tensor or float
        The output of ``method``.
    estimator : object
        The estimator (its class name goes in the message).
    method : str
        What produced ``values`` ("transform", "predict", "the encoder", ...).
    dtype : object, default=None
        The compute precision, shown in the message.
    action : {"raise", "warn"}, default="raise"
        ``"raise"`` raises a ``ValueError``; ``"warn"`` emits a ``RuntimeWarning``
        and returns ``values`` unchanged.

    Returns
    -------
    values
        Unchanged.
    """
    if is_torch_tensor(values):
        torch = sys.modules["torch"]
        if not values.is_floating_point() or bool(torch.isfinite(values).all()):
            return values
        n_bad = int((~torch.isfinite(values)).sum())
    else:
        arr = np.asarray(values)
        if arr.dtype.kind not in "fc" or bool(np.isfinite(arr).all()):
            return values
        n_bad = int((~np.isfinite(arr)).sum())
    where = f" in {_dtype_name(dtype)}" if dtype is not None else ""
    message = (
        f"{type(estimator).__name__} produced {n_bad} non-finite value(s) "
        f"(NaN or inf) in {method}{where} from finite input: the input is too "
        "large for the fitted model's arithmetic or the model diverged. Rescale X "
        "like the "
        "training data (e.g. sklearn.preprocessing.StandardScaler), or refit with "
        "dtype='float64' where the estimator has it."
    )
    if action == "warn":
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        return values
    raise ValueError(message)


def validate_input(
    estimator: Any,
    X: Any,
    y: Any = "no_validation",
    *,
    reset: bool,
    **check_params: Any,
) -> Any:
    """Tensor-aware :func:`~sklearn.utils.validation.validate_data`.

    Torch tensors are detached and copied to host memory first, so a CUDA tensor or
    one with ``requires_grad=True`` is as welcome as a numpy array or a DataFrame.
    All keyword arguments go to ``validate_data`` unchanged.
    """
    X = tensor_to_numpy(X, "X")
    if not (isinstance(y, str) and y == "no_validation"):
        y = tensor_to_numpy(y, "y")
    return validate_data(estimator, X, y, reset=reset, **check_params)


def check_option(value: Any, name: str, options: Iterable[Any]) -> Any:
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is one of ``options``."""
    options = tuple(options)
    if not any(
        value is opt or (type(value) is type(opt) and value == opt) for opt in options
    ):
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}."
        )
    return value


def check_side_array(
    values: Any,
    *,
    name: str,
    n_samples: int,
    numeric: bool = False,
) -> np.ndarray:
    """Validate a per-sample 1-D side array.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        The array; a column vector of shape (n_samples, 1) is raveled.
    name : str
        Parameter name used in error messages.
    n_samples : int
        Expected length (the number of rows of ``X``).
    numeric : bool, default=False
        Require a finite numeric array.

    Returns
    -------
    numpy.ndarray of shape (n_samples,)
    """
    if values is None:
        raise ValueError(f"{name} is required; got None.")
    arr = np.asarray(tensor_to_numpy(values, name))
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of shape (n_samples,); got shape {arr.shape}."
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but X has {n_samples} samples; "
            "they must have the same length."
        )
    if numeric:
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}.")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinity.")
    elif arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity.")
    elif arr.dtype == object and any(v is None for v in arr):
        raise ValueError(f"{name} contains missing values (None).")
    return arr


def check_treatment(
    treatment: Any, *, n_samples: int, name: str = "treatment"
) -> np.ndarray:
    """Validate a binary treatment indicator with both arms present.

    Accepts booleans or numbers equal to 0 and 1 (1 = treated).

    Returns
    -------
    numpy.ndarray of shape (n_samples,), dtype int64
    """
    arr = check_side_array(treatment, name=name, n_samples=n_samples, numeric=True)
    values = np.unique(arr)
    if not np.all(np.isin(values, (0, 1))):
        raise ValueError(
            f"{name} must be binary with values 0 (control) and 1 (treated); "
            f"got values {values[:5].tolist()}{'...' if values.size > 5 else ''}."
        )
    counts = np.bincount(arr.astype(np.int64), minlength=2)
    if np.any(counts == 0):
        arm = "treated (1)" if counts[1] == 0 else "control (0)"
        raise ValueError(
            f"{name} has a single arm: no {arm} samples. Both arms are needed to "
            "estimate a treatment effect."
        )
    return arr.astype(np.int64)


def _check_discrete_labels(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValueError(
            f"{name} must hold discrete labels (integers or strings); got "
            "non-integer floats."
        )


def check_groups(
    groups: Any, *, n_samples: int, name: str = "groups"
) -> tuple[np.ndarray, np.ndarray]:
    """Encode group labels (e.g. image or video ids) as integer codes.

    Returns
    -------
    codes : numpy.ndarray of shape (n_samples,), dtype int64
        ``labels[codes] == groups``.
    labels : numpy.ndarray of shape (n_groups,)
        Sorted unique labels.
    """
    arr = check_side_array(groups, name=name, n_samples=n_samples)
    _check_discrete_labels(arr, name)
    labels, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.int64).ravel(), labels


def check_environment(
    environment: Any,
    *,
    n_samples: int,
    min_environments: int = 2,
    min_samples_per_environment: int = 1,
    name: str = "environment",
) -> tuple[np.ndarray, np.ndarray]:
    """Validate discrete environment labels and encode them as integer codes.

    Returns
    -------
    codes : numpy.ndarray of shape (n_samples,), dtype int64
    labels : numpy.ndarray of shape (n_environments,)
    """
    codes, labels = check_groups(environment, n_samples=n_samples, name=name)
    if labels.size < min_environments:
        raise ValueError(
            f"{name} must contain at least {min_environments} distinct environments; "
            f"got {labels.size}."
        )
    counts = np.bincount(codes, minlength=labels.size)
    if np.any(counts < min_samples_per_environment):
        small = labels[counts < min_samples_per_environment].tolist()
        raise ValueError(
            f"every environment in {name} needs at least "
            f"{min_samples_per_environment} samples; too few in {small}."
        )
    return codes, labels


def check_positive_int(value: Any, name: str, *, allow_none: bool = False) -> Any:
    """Raise unless ``value`` is an int >= 1 (or None when allowed)."""
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Raise unless ``value`` is a finite real > 0 (or >= 0 when allowed)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        number = float(value)
        ok = bool(np.isfinite(number)) and (number >= 0 if allow_zero else number > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}.")
    return float(value)
