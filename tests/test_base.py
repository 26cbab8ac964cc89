"""TorchEstimatorMixin: device/dtype resolution, seeding, batching and pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from skres._base import (
    DeviceWarning,
    TorchEstimatorMixin,
    get_skres_tags,
    resolve_device,
    resolve_dtype,
)
from skres._validation import check_treatment, validate_input


class TinyTreatmentRegressor(RegressorMixin, TorchEstimatorMixin, BaseEstimator):
    """A minimal torch estimator built on the mixin (test double).

    Fits ``y ~ X w + b + tau * treatment`` by full-batch gradient descent from a
    random start, and predicts the control outcome ``X w + b``.
    """

    __metadata_request__fit = {"treatment": True}

    def __init__(
        self, n_iter=50, device="auto", dtype="float32", random_state=None, verbose=0
    ):
        self.n_iter = n_iter
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, *, treatment=None):
        X_raw = X
        X, y = validate_input(self, X, y, reset=True, y_numeric=True)
        treatment = (
            np.zeros(len(X))
            if treatment is None
            else check_treatment(treatment, n_samples=len(X))
        )
        generator = self._setup_torch(X_raw)
        self.module_ = self._build_module(
            lambda: torch.nn.Linear(X.shape[1] + 1, 1), generator
        )
        design = self._to_tensor(np.column_stack([X, treatment]))
        target = self._to_tensor(y)
        optimizer = torch.optim.SGD(self.module_.parameters(), lr=0.1)
        with torch.enable_grad():
            for _ in self._progress(range(self.n_iter), total=self.n_iter, desc="fit"):
                loss = ((self.module_(design)[:, 0] - target) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return self

    def predict(self, X):
        check_is_fitted(self)
        X = validate_input(self, X, reset=False)
        design = self._to_tensor(np.column_stack([X, np.zeros(len(X))]))
        out = self._map_batches(
            lambda b: self.module_(b)[:, 0], design, 7, modules=[self.module_]
        )
        return self._to_numpy(out, np.float64)


def _data(n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, 3))
    t = rng.permutation(np.arange(n) % 2)
    y = X @ [1.0, -2.0, 0.5] + 1.5 * t + 0.01 * rng.standard_normal(n)
    return X, y, t


def test_resolve_device_auto_follows_input_tensor_then_cpu():
    assert resolve_device("auto", torch.zeros(2)) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_resolve_device_cuda_without_cuda_is_a_clear_error(device):
    with pytest.raises(ValueError, match=r"device=.*CUDA is not available"):
        resolve_device(device)


@pytest.mark.parametrize("device", ["gpu", "tpu0", "cuda:x"])
def test_resolve_device_unknown_string(device):
    with pytest.raises(ValueError, match="device="):
        resolve_device(device)


def test_resolve_device_wrong_type():
    with pytest.raises(TypeError, match="device must be"):
        resolve_device(3)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("float32", torch.float32),
        (np.float64, torch.float64),
        (torch.float64, torch.float64),
        ("bfloat16", torch.bfloat16),
    ],
)
def test_resolve_dtype(spec, expected):
    assert resolve_dtype(spec) is expected


@pytest.mark.parametrize("spec", ["int32", "double-ish", torch.int64, 5])
def test_resolve_dtype_rejects(spec):
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype(spec)


def test_fit_sets_device_and_dtype_and_is_seeded():
    X, y, t = _data()
    a = TinyTreatmentRegressor(device="cpu", dtype="float64", random_state=3).fit(
        X, y, treatment=t
    )
    assert a.device_ == torch.device("cpu") and a.dtype_ is torch.float64
    b = TinyTreatmentRegressor(device="cpu", dtype="float64", random_state=3).fit(
        X, y, treatment=t
    )
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    c = TinyTreatmentRegressor(
        device="cpu", dtype="float64", random_state=4, n_iter=1
    ).fit(X, y, treatment=t)
    assert not np.allclose(a.predict(X), c.predict(X))
    assert get_skres_tags(a).torch and get_skres_tags(a).stochastic


def test_tensor_input_with_grad_is_accepted():
    X, y, t = _data()
    X_t = torch.tensor(X, requires_grad=True)
    est = TinyTreatmentRegressor(random_state=0).fit(X_t, torch.tensor(y), treatment=t)
    assert est.device_ == torch.device("cpu")
    np.testing.assert_allclose(est.predict(X_t), est.predict(X), rtol=1e-6)


def test_map_batches_is_batch_size_invariant():
    X, y, t = _data(n=23)
    est = TinyTreatmentRegressor(random_state=0, dtype="float64").fit(X, y, treatment=t)
    design = est._to_tensor(np.column_stack([X, np.zeros(len(X))]))
    outs = [
        est._map_batches(
            lambda b: est.module_(b)[:, 0], design, bs, modules=[est.module_]
        )
        for bs in (1, 5, 23, 100)
    ]
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], rtol=1e-12, atol=1e-12)


def test_batch_slices_cover_every_row_once():
    gen = torch.Generator().manual_seed(0)
    batches = list(TorchEstimatorMixin._batch_slices(10, 4, gen))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert list(TorchEstimatorMixin._batch_slices(5, 100)) == [slice(0, 5)]


def test_verbose_shows_a_progress_bar(capsys):
    X, y, t = _data()
    est = TinyTreatmentRegressor(verbose=1, n_iter=3, random_state=0)
    est.fit(X, y, treatment=t)
    assert "fit" in capsys.readouterr().err
    assert not any("tqdm" in type(v).__module__ for v in vars(est).values())


def test_unpickling_state_saved_on_a_missing_gpu_falls_back_to_cpu():
    X, y, t = _data()
    est = TinyTreatmentRegressor(random_state=0).fit(X, y, treatment=t)
    state = est.__getstate__()
    # Pretend the module was saved from a GPU that this machine does not have.
    state["_skres_saved_devices"] = {"module_": "cuda:7"}
    clone = TinyTreatmentRegressor.__new__(TinyTreatmentRegressor)
    if torch.cuda.device_count() > 7:  # pragma: no cover
        pytest.skip("this machine has 8 GPUs")
    with pytest.warns(DeviceWarning, match="not available here"):
        clone.__setstate__(state)
    assert clone.device_ == torch.device("cpu")
    np.testing.assert_array_equal(clone.predict(X), est.predict(X))


def test_pickle_keeps_cpu_state():
    X, y, t = _data()
    est = TinyTreatmentRegressor(random_state=0).fit(X, y, treatment=t)
    restored = pickle.loads(pickle.dumps(est))
    assert "_skres_saved_devices" not in vars(restored)
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))


def test_routing_harness_on_a_treatment_consumer():
    from tests._routing import assert_side_arrays_routed

    assert_side_arrays_routed(TinyTreatmentRegressor(random_state=0, n_iter=5))


def test_side_array_passed_directly_without_routing():
    X, y, t = _data()
    est = TinyTreatmentRegressor(random_state=0).fit(X, y, treatment=t)
    check_is_fitted(est)
    with pytest.raises(ValueError, match="treatment has a single arm"):
        TinyTreatmentRegressor().fit(X, y, treatment=np.ones(len(X)))
