"""Scale-out on dask.distributed through joblib's Dask backend.

A two-process ``LocalCluster`` on loopback is started once for the module. Under
``joblib.parallel_config(backend="dask")`` (a) every estimator's own ``n_jobs`` loops,
(b) ``GridSearchCV(n_jobs=-1)`` over skres estimators and (c) one fit of every
estimator on a worker must give results identical to the serial run in this process:
exact equality, no tolerance. Workers run single-threaded (dask's nanny sets
``OMP_NUM_THREADS=1``), as does the test process (``tests/conftest.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from joblib import Parallel, delayed, parallel_config
from sklearn import config_context
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from skres.utils import all_estimators
from skres.utils._testing import make_instance, make_test_data

distributed = pytest.importorskip("distributed", reason="needs skres[dask]")

ESTIMATORS = [cls for _, cls in all_estimators()]
N_JOBS_ESTIMATORS = [cls for cls in ESTIMATORS if "n_jobs" in cls().get_params()]


@pytest.fixture(scope="module")
def client():
    try:
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    except Exception as exc:  # sandboxes without loopback sockets or fork
        pytest.skip(f"a dask LocalCluster cannot start here: {exc!r}")
    with cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


def fitted_state(estimator) -> dict:
    """Every fitted attribute (name ends in ``_``) as plain numpy or python data."""
    import torch

    state = {}
    for name, value in vars(estimator).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        elif isinstance(value, torch.nn.Module):
            value = {k: v.cpu().numpy() for k, v in value.state_dict().items()}
        state[name] = value
    return state


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        _assert_equal(a[key], b[key], key)


def _assert_equal(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            _assert_equal(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, np.ndarray | list | tuple) and not _is_object_seq(a):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif hasattr(a, "equals") and callable(a.equals):  # pandas
        assert a.equals(b), where
    elif isinstance(a, float | int | str | bool | type(None) | np.generic):
        assert (a == b) or (a != a and b != b), where  # NaN == NaN here
    # other objects (devices, modules already flattened, callables): skipped


def _is_object_seq(value) -> bool:
    try:
        return np.asarray(value).dtype == object
    except Exception:
        return True


def seeded(cls, **params):
    """The test instance of ``cls``, seeded when it takes a ``random_state``."""
    estimator = make_instance(cls, **params)
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=0)
    return estimator


def aligned(a):
    """A copy of ``a`` starting on a 64-byte boundary.

    numpy's SIMD reductions peel a few elements until they reach an aligned address,
    so a sum over the same values can differ in the last bit with the array's address
    modulo 64 (measured: LatentVectorField's ``train_latents_`` differ by 2e-16 for
    an 8-byte shift). Data unpickled on a worker lands at another address than in
    this process; equal alignment on both sides makes exact equality meaningful.
    """
    if not isinstance(a, np.ndarray) or a.dtype == object:
        return a
    buffer = np.empty(a.nbytes + 64, dtype=np.uint8)
    offset = (-buffer.ctypes.data) % 64
    out = buffer[offset : offset + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def _fit(estimator, X, y, side):
    """Fit on 64-byte aligned copies (here and on the worker alike)."""
    X, y = aligned(X), aligned(y)
    side = {k: aligned(v) for k, v in side.items()}
    return estimator.fit(X, y, **side) if y is not None else estimator.fit(X, **side)


@pytest.mark.skipif(
    not N_JOBS_ESTIMATORS,
    reason="no skres estimator has an n_jobs parameter yet (their loops are "
    "vectorised); estimators that add one are picked up here automatically",
)
@pytest.mark.parametrize("cls", N_JOBS_ESTIMATORS, ids=lambda c: c.__name__)
def test_n_jobs_loops_on_dask_match_serial(client, cls):
    serial = seeded(cls, n_jobs=1)
    X, y, side = make_test_data(serial)
    with config_context(enable_metadata_routing=True):
        _fit(serial, X, y, side)
        with parallel_config(backend="dask"):
            parallel = _fit(seeded(cls, n_jobs=-1), X, y, side)
    assert_same_state(fitted_state(serial), fitted_state(parallel))


GRIDS = {
    "SparseAutoencoder": {"n_components": [4, 8], "lr": [1e-2, 3e-3]},
    "DERMRegressor": {"clip": [1e-3, 1e-2], "y_bins": [2, 3]},
}


def _grid_search_mismatches(name: str) -> list[str]:
    cls = dict(all_estimators())[name]
    estimator = seeded(cls)
    X, y, side = make_test_data(estimator, n_samples=80)
    cv = KFold(2, shuffle=True, random_state=0)
    searches = []
    for backend in ("sequential", "dask"):
        search = GridSearchCV(estimator, GRIDS[name], cv=cv, n_jobs=-1)
        with parallel_config(backend=backend):
            _fit(search, X, y, side)
        searches.append(search)
    serial, dask = searches
    problems = [
        f"{name}: cv_results_[{key!r}] differ"
        for key in serial.cv_results_
        if "time" not in key
        and not np.array_equal(serial.cv_results_[key], dask.cv_results_[key])
    ]
    if serial.best_params_ != dask.best_params_:
        problems.append(f"{name}: best_params_ differ")
    try:
        assert_same_state(
            fitted_state(serial.best_estimator_), fitted_state(dask.best_estimator_)
        )
    except AssertionError as exc:
        problems.append(f"{name}: best_estimator_ differs: {str(exc)[:300]}")
    return problems


def _worker_fit_mismatches() -> list[str]:
    jobs = []
    for cls in ESTIMATORS:
        estimator = seeded(cls)
        jobs.append((estimator, *make_test_data(estimator)))
    serial = [_fit(clone(est), X, y, side) for est, X, y, side in jobs]
    with parallel_config(backend="dask"):
        remote = Parallel(n_jobs=-1)(
            delayed(_fit)(clone(est), X, y, side) for est, X, y, side in jobs
        )
    problems = []
    for (est, *_), here, there in zip(jobs, serial, remote, strict=True):
        assert type(here) is type(there) is type(est)
        try:
            assert_same_state(fitted_state(here), fitted_state(there))
        except AssertionError as exc:
            problems.append(f"{type(est).__name__} on a worker: {str(exc)[:300]}")
    return problems


def test_dask_backend_matches_serial(client):
    """(b) GridSearchCV(n_jobs=-1) and (c) one fit of every estimator on a worker.

    One test, so that ``pytest -n 2`` starts one cluster, not one per xdist worker.
    """
    with config_context(enable_metadata_routing=True):
        problems = [p for name in sorted(GRIDS) for p in _grid_search_mismatches(name)]
        problems += _worker_fit_mismatches()
    assert not problems, "\n".join(problems)
