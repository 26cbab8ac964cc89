"""Bad inputs never end in a silent non-finite answer (issue 20).

Every exported estimator (``skres.utils.all_estimators()``, with its small test
parameters) and the public numerical functions are driven through a table of
malformed or extreme inputs. Each case must end in one of:

* a ``ValueError``/``TypeError`` with a message (not an internal torch error),
* a warning from skres (numpy's "overflow encountered in ..." does not count), or
* finite outputs (and, after a successful ``fit``, finite public fitted float
  attributes such as ``coef_`` or ``p_values_``).

A case that returns NaN/inf silently fails. Cases owned by another issue's fix are
marked ``xfail(strict=True)`` with the owner in the reason, so that the fix turns
them into failures to unmark.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from skres.utils import all_estimators
from skres.utils._testing import make_instance, make_test_data

N_SAMPLES, N_FEATURES = 40, 4
OUTPUT_METHODS = (
    "transform",
    "predict",
    "predict_proba",
    "decision_function",
    "score_samples",
    "score",
)


# ------------------------------------------------------------------- outcomes
class SilentNonFinite(AssertionError):
    """A call returned NaN/inf without an error or a skres warning."""


def _finite(value: Any) -> bool:
    """True when every number inside ``value`` is finite."""
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, tuple | list) and not np.isscalar(value):
        try:
            arr = np.asarray(value)
        except ValueError:
            return all(_finite(v) for v in value)
        if arr.dtype == object:
            return all(_finite(v) for v in value)
        value = arr
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    if hasattr(value, "__dataclass_fields__"):
        return all(
            _finite(getattr(value, name))
            for name in value.__dataclass_fields__
            if isinstance(getattr(value, name), float | np.ndarray | np.floating)
        )
    arr = np.asarray(value)
    if arr.dtype.kind in "fc":
        return bool(np.all(np.isfinite(arr)))
    return True


def _meaningful(caught: list[warnings.WarningMessage]) -> list[str]:
    """Warnings that tell the user something (not numpy's arithmetic noise)."""
    return [
        str(w.message)
        for w in caught
        if "encountered in" not in str(w.message)
        and not issubclass(w.category, DeprecationWarning | FutureWarning)
    ]


def _check_error(exc: BaseException, case: str) -> None:
    assert isinstance(exc, ValueError | TypeError), (
        f"{case}: {type(exc).__name__}: {exc} (expected ValueError/TypeError)"
    )
    message = str(exc)
    assert len(message) > 10, f"{case}: uninformative message {message!r}"
    assert "meta tensor" not in message.lower() or "'meta' device" in message, (
        f"{case}: raw torch meta error: {message}"
    )


def run_case(
    calls: list[tuple[str, Callable[[], Any]]], case: str
) -> tuple[str, list[str]]:
    """Run ``calls`` in order; stop at the first error.

    Returns ("error", [message]) or ("ok", [meaningful warnings]). Raises
    :class:`SilentNonFinite` when a call returns non-finite values and no
    meaningful warning was emitted up to it.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, call in calls:
            try:
                out = call()
            except SilentNonFinite:
                raise
            except Exception as exc:
                _check_error(exc, f"{case} [{name}]")
                return "error", [str(exc)]
            if not _finite(out) and not _meaningful(caught):
                raise SilentNonFinite(
                    f"{case} [{name}] returned non-finite values with no error or "
                    "warning"
                )
    return "ok", _meaningful(caught)


# ------------------------------------------------------------------- inputs
def _rng() -> np.random.RandomState:
    return np.random.RandomState(0)


def _X() -> np.ndarray:
    return _rng().standard_normal((N_SAMPLES, N_FEATURES))


def _with(X: np.ndarray, value: float) -> np.ndarray:
    X = X.copy()
    X[3, 1] = value
    return X


def _readonly(X: np.ndarray) -> np.ndarray:
    X = X.copy()
    X.setflags(write=False)
    return X


#: name -> function of the good X returning the bad X (``None``: rows kept).
X_CASES: dict[str, Callable[[np.ndarray], Any]] = {
    "nan": lambda X: _with(X, np.nan),
    "+inf": lambda X: _with(X, np.inf),
    "beyond_float32": lambda X: X * 1e39,
    "huge": lambda X: X * 1e300,
    "tiny": lambda X: X * 1e-300,
    "empty": lambda X: X[:0],
    "one_row": lambda X: X[:1],
    "constant": lambda X: np.ones_like(X),
    "complex": lambda X: X + 1j,
    "strings": lambda X: np.full(X.shape, "a", dtype=object),
    "3d": lambda X: X[:, :, None],
    "non_contiguous": lambda X: np.repeat(X, 2, axis=1)[:, ::2],
    "read_only": _readonly,
    "meta_tensor": lambda X: torch.empty(X.shape, device="meta"),
}

ESTIMATORS = all_estimators()

#: (estimator, stage, case) -> reason, for silent outcomes another helper fixes.
KNOWN: dict[tuple[str, str, str], str] = {}


def _check_fitted_attributes(est: Any, case: str, caught: list[str]) -> None:
    """Public fitted float attributes (``coef_``, ``p_values_``...) are finite."""
    bad = [
        key
        for key, value in vars(est).items()
        if key.endswith("_")
        and not key.startswith("_")
        and isinstance(value, float | np.floating | np.ndarray)
        and not _finite(value)
    ]
    if bad and not caught:
        raise SilentNonFinite(
            f"{case}: fitted attributes {bad} are not finite, with no error or warning"
        )


def _fit_args(est: Any, X: np.ndarray) -> tuple[np.ndarray, Any, dict[str, Any]]:
    Xg, y, side = make_test_data(est, n_samples=N_SAMPLES, n_features=N_FEATURES)
    return Xg, y, side


def _subset(value: Any, n: int) -> Any:
    """Side array for ``n`` rows (per-feature arrays untouched)."""
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.ndim >= 1 and arr.shape[0] == N_SAMPLES:
        return arr[:n] if n <= N_SAMPLES else arr
    return value


def _method_calls(est: Any, X: Any, y: Any, side: dict[str, Any]) -> list[Any]:
    calls = []
    for method in OUTPUT_METHODS:
        if not hasattr(est, method):
            continue
        fn = getattr(est, method)
        if method == "score":
            kwargs = {k: v for k, v in side.items() if k in ("t",)}

            def call(fn: Any = fn, kwargs: dict[str, Any] = kwargs) -> Any:
                return fn(X, y, **kwargs) if y is not None else fn(X, **kwargs)
        else:

            def call(fn: Any = fn) -> Any:
                return fn(X)

        calls.append((method, call))
    return calls


_FITTED: dict[str, Any] = {}


def _fitted(name: str, cls: type) -> Any:
    """One fitted instance per estimator on good data (shared by the cases)."""
    if name not in _FITTED:
        est = make_instance(cls)
        X, y, side = _fit_args(est, _X())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y, **side)
        _FITTED[name] = est
    return _FITTED[name]


def _params(stage: str) -> list[Any]:
    out = []
    for name, cls in ESTIMATORS:
        for case in X_CASES:
            marks = []
            reason = KNOWN.get((name, stage, case))
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            out.append(pytest.param(name, cls, case, id=f"{name}-{case}", marks=marks))
    return out


@pytest.mark.parametrize(("name", "cls", "case"), _params("fit"))
def test_fit_on_bad_X(name: str, cls: type, case: str) -> None:
    est = make_instance(cls)
    X, y, side = _fit_args(est, _X())
    bad = X_CASES[case](X)
    n = bad.shape[0] if hasattr(bad, "shape") else N_SAMPLES
    y_n, side_n = _subset(y, n), {k: _subset(v, n) for k, v in side.items()}

    calls = [("fit", lambda: est.fit(bad, y_n, **side_n))]
    status, caught = run_case(calls, f"{name}.fit({case})")
    if status == "error":
        return
    _check_fitted_attributes(est, f"{name}.fit({case})", caught)
    # The fit went through: what it learnt must give finite answers, on the bad
    # input (or an error/warning) and on good data.
    run_case(_method_calls(est, bad, y_n, side_n), f"{name} after fit({case})")
    run_case(_method_calls(est, X, y, side), f"{name} fit({case}), good X")


@pytest.mark.parametrize(("name", "cls", "case"), _params("predict"))
def test_methods_on_bad_X(name: str, cls: type, case: str) -> None:
    est = _fitted(name, cls)
    X, y, side = _fit_args(est, _X())
    bad = X_CASES[case](X)
    n = bad.shape[0] if hasattr(bad, "shape") else N_SAMPLES
    y_n, side_n = _subset(y, n), {k: _subset(v, n) for k, v in side.items()}
    for call in _method_calls(est, bad, y_n, side_n):
        run_case([call], f"{name}.{call[0]}({case})")


# ------------------------------------------------------------ side arrays
def _side_params() -> list[Any]:
    out = []
    for name, cls in ESTIMATORS:
        est = make_instance(cls)
        _, _, side = make_test_data(est, n_samples=N_SAMPLES, n_features=N_FEATURES)
        for key in side:
            for case in ("short", "nan", "2d"):
                out.append(
                    pytest.param(name, cls, key, case, id=f"{name}-{key}-{case}")
                )
    return out


def _bad_side(value: Any, case: str) -> Any:
    arr = np.asarray(value)
    if case == "short":
        return arr[:-1]
    if case == "2d":
        return np.stack([arr, arr], axis=-1) if arr.ndim == 1 else arr[..., None]
    arr = arr.astype(np.float64)
    arr[3] = np.nan
    return arr


@pytest.mark.parametrize(("name", "cls", "key", "case"), _side_params())
def test_fit_with_bad_side_array(name: str, cls: type, key: str, case: str) -> None:
    est = make_instance(cls)
    X, y, side = _fit_args(est, _X())
    side[key] = _bad_side(side[key], case)
    status, messages = run_case(
        [("fit", lambda: est.fit(X, y, **side))], f"{name}.fit({key}={case})"
    )
    if status == "ok":
        run_case(_method_calls(est, X, y, {}), f"{name} fit({key}={case}), good X")


# -------------------------------------------------------------- functions
def _ode_problem(dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    coef = torch.tensor([1.0, 0.0, 1.0], dtype=dtype).reshape(1, 1, 1, 3)
    rhs = torch.zeros(1, 1, dtype=dtype)
    iv = torch.tensor([1.0, 0.0], dtype=dtype).reshape(1, 1, 2)
    steps = torch.full((50,), 0.02, dtype=dtype)
    return [coef, rhs, iv, steps]


def _ode_case(case: str) -> list[Any]:
    args = _ode_problem()
    if case == "nan_rhs":
        args[1] = torch.full_like(args[1], torch.nan)
    elif case == "inf_coefficients":
        args[0] = args[0].clone()
        args[0][..., 0] = torch.inf
    elif case == "huge_rhs":
        args[1] = torch.full_like(args[1], 1e300)
    elif case == "meta":
        args[1] = torch.empty(1, 1, device="meta", dtype=torch.float64)
    elif case == "too_few_initial_values":
        args[2] = args[2][..., :1]
    elif case == "zero_step":
        args[3] = torch.zeros_like(args[3])
    elif case == "float32":
        args = _ode_problem(torch.float32)
    elif case == "complex":
        args[1] = args[1].to(torch.complex128)
    return args


ODE_CASES = [
    "nan_rhs",
    "inf_coefficients",
    "huge_rhs",
    "meta",
    "too_few_initial_values",
    "zero_step",
    "float32",
    "complex",
]


@pytest.mark.parametrize("dense", [False, True], ids=["banded", "dense"])
@pytest.mark.parametrize("case", ODE_CASES)
def test_solve_linear_ode_bad_inputs(case: str, dense: bool) -> None:
    from skres.solvers import solve_linear_ode, solve_linear_ode_dense

    solver = solve_linear_ode_dense if dense else solve_linear_ode
    args = _ode_case(case)
    status, _ = run_case([("solve", lambda: solver(*args))], f"ode({case})")
    if case in ("nan_rhs", "inf_coefficients", "meta", "too_few_initial_values"):
        assert status == "error", case


def _pde_problem() -> list[Any]:
    nt, nx = 8, 8
    coef = torch.zeros(1, nt, nx, 5, dtype=torch.float64)
    coef[..., 1] = 1.0  # u_t = 0.1 u_xx
    coef[..., 4] = -0.1
    x = torch.linspace(0, 1, nx, dtype=torch.float64)
    g = torch.sin(torch.pi * x)[None, None].expand(1, nt, nx).clone()
    steps = (torch.full((nt - 1,), 0.01, dtype=torch.float64),) * 2
    return [coef, torch.zeros(1, nt, nx, dtype=torch.float64), g, steps]


@pytest.mark.parametrize("case", ["nan_rhs", "inf_boundary", "meta", "huge_rhs"])
def test_solve_linear_pde_bad_inputs(case: str) -> None:
    from skres.solvers import solve_linear_pde

    args = _pde_problem()
    if case == "nan_rhs":
        args[1][0, 2, 2] = torch.nan
    elif case == "inf_boundary":
        args[2][0, 0, 3] = torch.inf
    elif case == "meta":
        args[1] = torch.empty(args[1].shape, device="meta", dtype=torch.float64)
    elif case == "huge_rhs":
        args[1] = torch.full_like(args[1], 1e300)
    run_case(
        [("solve", lambda: solve_linear_pde(*args, method="direct"))], f"pde({case})"
    )


SOMP_CASES = {
    k: X_CASES[k]
    for k in (
        "nan",
        "+inf",
        "huge",
        "tiny",
        "empty",
        "one_row",
        "constant",
        "complex",
        "strings",
        "meta_tensor",
    )
}


@pytest.mark.parametrize("case", list(SOMP_CASES))
def test_somp_bad_inputs(case: str) -> None:
    from skres.solvers import somp

    dictionary = _rng().standard_normal((6, N_FEATURES))
    X = SOMP_CASES[case](_X())
    run_case([("somp", lambda: somp(X, dictionary, n_atoms=2))], f"somp({case})")


def _ate_args(case: str) -> tuple[Any, Any, Any]:
    rng = _rng()
    n = 60
    T = np.arange(n) % 2
    W = rng.standard_normal(n)
    y = 0.5 * T + W + rng.standard_normal(n)
    if case == "nan_y":
        y[3] = np.nan
    elif case == "inf_y":
        y[3] = np.inf
    elif case == "huge_y":
        y = y * 1e300
    elif case == "complex_y":
        y = y + 1j
    elif case == "constant_y":
        y = np.ones(n)
    elif case == "short_treatment":
        T = T[:-1]
    elif case == "nan_treatment":
        T = T.astype(float)
        T[3] = np.nan
    elif case == "nan_covariates":
        W[3] = np.nan
    elif case == "meta_y":
        y = torch.empty(n, device="meta")
    elif case == "strings_y":
        y = np.full(n, "a", dtype=object)
    return y, T, W


ATE_CASES = {
    "nan_y": None,
    "inf_y": None,
    "huge_y": None,
    "complex_y": None,
    "constant_y": None,
    "short_treatment": None,
    "nan_treatment": None,
    "nan_covariates": None,
    "meta_y": None,
    "strings_y": None,
}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(k, marks=[pytest.mark.xfail(strict=True, reason=v)] if v else [])
        for k, v in ATE_CASES.items()
    ],
)
def test_prediction_powered_ate_bad_inputs(case: str) -> None:
    from skres.causal import prediction_powered_ate

    y, T, W = _ate_args(case)
    run_case([("ate", lambda: prediction_powered_ate(y, T, W))], f"ppate({case})")


# ------------------------------------------------------------------ hooks
@pytest.fixture(scope="module")
def tiny_gpt2() -> Any:
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_embd=16, n_layer=2, n_head=2, vocab_size=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return transformers.GPT2LMHeadModel(config).eval()


def _ids() -> torch.Tensor:
    return torch.as_tensor(_rng().randint(0, 30, (3, 5)))


HOOK_CASES: dict[str, tuple[type[Exception], str, Callable[[], dict[str, Any]]]] = {
    "batch_size_0": (ValueError, "batch_size", lambda: {"batch_size": 0}),
    "batch_size_float": (ValueError, "batch_size", lambda: {"batch_size": 2.5}),
    "float_ids": (TypeError, "integer", lambda: {"inputs": _ids().float()}),
    "ids_out_of_range": (ValueError, r"\[0, 30\)", lambda: {"inputs": _ids() + 30}),
    "negative_ids": (ValueError, r"\[0, 30\)", lambda: {"inputs": _ids() - 31}),
    "ids_1d": (ValueError, "ids\\[None\\]", lambda: {"inputs": _ids()[0]}),
    "ids_empty": (ValueError, "empty", lambda: {"inputs": _ids()[:0]}),
    "meta_ids": (
        ValueError,
        "'meta' device",
        lambda: {"inputs": torch.empty(3, 5, dtype=torch.long, device="meta")},
    ),
    "positions_shape": (
        ValueError,
        "positions",
        lambda: {"positions": np.ones((3, 4), dtype=bool)},
    ),
    "positions_all_false_row": (
        ValueError,
        "select no token",
        lambda: {"positions": np.eye(3, 5, dtype=bool) * [[1], [0], [1]]},
    ),
    "attention_mask_zero_row": (
        ValueError,
        "select no token",
        lambda: {
            "inputs": {
                "input_ids": _ids(),
                "attention_mask": torch.tensor([[1] * 5, [0] * 5, [1] * 5]),
            }
        },
    ),
    "attention_mask_shape": (
        ValueError,
        "attention_mask has shape",
        lambda: {"inputs": {"input_ids": _ids(), "attention_mask": torch.ones(3, 4)}},
    ),
}


@pytest.mark.parametrize("case", list(HOOK_CASES))
def test_extract_head_outputs_bad_inputs(tiny_gpt2: Any, case: str) -> None:
    from skres.interpretability import extract_head_outputs

    error, match, make = HOOK_CASES[case]
    kwargs = {"inputs": _ids(), **make()}
    inputs = kwargs.pop("inputs")
    with pytest.raises(error, match=match):
        extract_head_outputs(tiny_gpt2, inputs, **kwargs)


@pytest.mark.parametrize("alpha", [np.nan, np.inf, -np.inf, "2", None])
def test_edit_heads_rejects_non_finite_scales(tiny_gpt2: Any, alpha: Any) -> None:
    from skres.interpretability import edit_heads

    with pytest.raises(ValueError, match="finite number"):
        with edit_heads(tiny_gpt2, {(0, 1): alpha}):
            pass  # pragma: no cover


def test_extract_head_outputs_good_inputs_stay_finite(tiny_gpt2: Any) -> None:
    from skres.interpretability import extract_head_outputs

    ids = _ids()
    X, _ = extract_head_outputs(tiny_gpt2, ids.numpy(), batch_size=2)
    assert X.shape == (3, 4, 16) and np.all(np.isfinite(X))
    mask = np.zeros((3, 5), dtype=bool)
    mask[:, 1] = True
    Xm, _ = extract_head_outputs(tiny_gpt2, ids, positions=mask)
    assert np.all(np.isfinite(Xm)) and not np.allclose(Xm, 0)


@pytest.fixture(scope="module")
def tiny_clip() -> Any:
    transformers = pytest.importorskip("transformers")
    config = transformers.CLIPVisionConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=8,
        patch_size=4,
        projection_dim=8,
    )
    return transformers.CLIPVisionModelWithProjection(config).eval()


@pytest.mark.parametrize(
    ("case", "error", "match"),
    [
        ("batch_size_0", ValueError, "batch_size"),
        ("3d", ValueError, "n_images, channels"),
        ("integer", TypeError, "floating point"),
        ("nan", ValueError, "NaN"),
        ("empty", ValueError, "empty"),
        ("meta", ValueError, "'meta' device"),
    ],
)
def test_extract_residual_units_bad_inputs(
    tiny_clip: Any, case: str, error: type, match: str
) -> None:
    from skres.interpretability import extract_residual_units

    images = torch.as_tensor(_rng().standard_normal((2, 3, 8, 8)), dtype=torch.float32)
    kwargs: dict[str, Any] = {}
    if case == "batch_size_0":
        kwargs["batch_size"] = 0
    elif case == "3d":
        images = images[0]
    elif case == "integer":
        images = images.to(torch.int64)
    elif case == "nan":
        images[0, 0, 0, 0] = torch.nan
    elif case == "empty":
        images = images[:0]
    elif case == "meta":
        images = torch.empty(images.shape, device="meta")
    with pytest.raises(error, match=match):
        extract_residual_units(tiny_clip, images, **kwargs)
    units, _ = extract_residual_units(tiny_clip, _rng().standard_normal((2, 3, 8, 8)))
    assert np.all(np.isfinite(units))
