"""Contracts every skres estimator gets tested for, beyond sklearn's checks.

Seeded determinism, no global side effects, pickle/joblib round trips with CPU-only
state, ``set_output``, float dtype preservation and metadata routing of side arrays.
New estimators are picked up automatically from :func:`skres.utils.all_estimators`.
"""

from __future__ import annotations

import io
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from skres._base import get_skres_tags
from skres.utils import all_estimators
from skres.utils._testing import fit_metadata, make_instance, make_test_data

ESTIMATORS = [cls for _, cls in all_estimators()]
TRANSFORMERS = [cls for _, cls in all_estimators("transformer")]
IDS = [cls.__name__ for cls in ESTIMATORS]


def _fit(estimator, dtype=np.float64):
    X, y, side = make_test_data(estimator)
    X = X.astype(dtype)
    return estimator.fit(X, y, **side), X


def _outputs(estimator, X):
    """Everything the fitted estimator computes from ``X``, as numpy arrays."""
    out = {}
    for method in ("transform", "predict", "predict_proba", "decision_function"):
        if hasattr(estimator, method):
            out[method] = np.asarray(getattr(estimator, method)(X))
    return out


def _assert_same_outputs(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_seeded_fits_are_bit_identical(cls):
    est = make_instance(cls)
    if "random_state" not in est.get_params():
        pytest.skip(f"{cls.__name__} takes no random_state: nothing is random")
    a, X = _fit(clone(est).set_params(random_state=0))
    b, _ = _fit(clone(est).set_params(random_state=0))
    _assert_same_outputs(_outputs(a, X), _outputs(b, X))
    if get_skres_tags(est).stochastic:
        c, _ = _fit(clone(est).set_params(random_state=1))
        out_a, out_c = _outputs(a, X), _outputs(c, X)
        assert any(
            np.max(np.abs(out_a[k].astype(float) - out_c[k].astype(float))) > 1e-6
            for k in out_a
        ), "random_state=0 and random_state=1 gave the same outputs"


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_no_global_side_effects(cls):
    np.random.seed(123)  # noqa: NPY002 - the global state is what is checked
    torch.random.manual_seed(123)
    before = (
        torch.random.get_rng_state().clone(),
        np.random.get_state()[1].copy(),  # noqa: NPY002
        torch.get_num_threads(),
        torch.is_grad_enabled(),
        torch.are_deterministic_algorithms_enabled(),
    )
    est, X = _fit(make_instance(cls, **_seed(cls)))
    _outputs(est, X)
    after = (
        torch.random.get_rng_state(),
        np.random.get_state()[1],  # noqa: NPY002
        torch.get_num_threads(),
        torch.is_grad_enabled(),
        torch.are_deterministic_algorithms_enabled(),
    )
    assert torch.equal(before[0], after[0]), "torch global RNG state changed"
    assert np.array_equal(before[1], after[1]), "numpy global RNG state changed"
    assert before[2:] == after[2:], "threads / grad mode / determinism flag changed"


def _seed(cls):
    return (
        {"random_state": 0} if "random_state" in make_instance(cls).get_params() else {}
    )


def _tensors_in(obj, seen=None):
    """Yield every tensor reachable through dicts, lists, tuples and modules."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, torch.nn.Module):
        yield from obj.state_dict().values()
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors_in(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _tensors_in(value)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_pickle_and_joblib_round_trip(cls, tmp_path):
    est, X = _fit(make_instance(cls, **_seed(cls)))
    expected = _outputs(est, X)
    state = est.__getstate__()
    assert all(t.device.type == "cpu" for t in _tensors_in(state))
    restored = pickle.loads(pickle.dumps(est))
    _assert_same_outputs(expected, _outputs(restored, X))
    path = tmp_path / "est.joblib"
    joblib.dump(est, path)
    _assert_same_outputs(expected, _outputs(joblib.load(path), X))
    # The pickle is dominated by the fitted parameters, not by copies of them.
    n_param_bytes = sum(t.numel() * t.element_size() for t in _tensors_in(state))
    buffer = io.BytesIO()
    pickle.dump(est, buffer)
    assert buffer.tell() < 10 * n_param_bytes + 200_000


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=[c.__name__ for c in TRANSFORMERS])
def test_set_output_pandas(cls):
    est = make_instance(cls, **_seed(cls))
    X, y, side = make_test_data(est)
    df = pd.DataFrame(
        X,
        columns=[f"f{i}" for i in range(X.shape[1])],
        index=np.arange(100, 100 + len(X)),
    )
    out = est.set_output(transform="pandas").fit(df, y, **side).transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.get_feature_names_out())
    assert out.index.equals(df.index)
    np.testing.assert_array_equal(est.feature_names_in_, df.columns)


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=[c.__name__ for c in TRANSFORMERS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transformer_preserves_float_dtype(cls, dtype):
    est = make_instance(cls, **_seed(cls))
    X, y, side = make_test_data(est)
    X = X.astype(dtype)
    assert est.fit(X, y, **side).transform(X).dtype == dtype
    assert est.fit_transform(X, y, **side).dtype == dtype


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_readonly_memmap_input(cls, tmp_path):
    est = make_instance(cls, **_seed(cls))
    X, y, side = make_test_data(est)
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_mm = np.load(path, mmap_mode="r")
    import warnings

    def user_warnings(data):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted = clone(est).fit(data, y, **side)
            _outputs(fitted, data)
        return {str(w.message) for w in caught if issubclass(w.category, UserWarning)}

    # A read-only memory map adds no warning (e.g. torch's non-writable tensor
    # warning) to those the same data in memory gets (e.g. DERM without settings).
    extra = user_warnings(X_mm) - user_warnings(np.array(X))
    assert not extra, extra


ROUTED = [cls for cls in ESTIMATORS if fit_metadata(make_instance(cls))]


@pytest.mark.parametrize("cls", ROUTED, ids=[c.__name__ for c in ROUTED])
def test_side_arrays_route_through_pipeline_and_grid_search(cls):
    from tests._routing import assert_side_arrays_routed

    assert_side_arrays_routed(make_instance(cls, **_seed(cls)))
