"""The simulated trials behind NeuralEffectSearch's tests and examples."""

from __future__ import annotations

import numpy as np
import pytest

from skres.datasets import (
    make_embedding_trial,
    make_leaky_gaussian_trial,
    make_paradox_trial,
    make_sparse_code_trial,
)

GENERATORS = [
    make_leaky_gaussian_trial,
    make_sparse_code_trial,
    make_paradox_trial,
    make_embedding_trial,
]


@pytest.mark.parametrize("make", GENERATORS)
def test_shapes_treatment_and_determinism(make):
    Z, T, info = make(200, random_state=0)
    Z2, T2, _ = make(200, random_state=0)
    Z3, _, _ = make(200, random_state=1)
    assert Z.shape[0] == T.shape[0] == 200
    assert T.dtype == np.int64 and set(np.unique(T)) == {0, 1}
    assert np.all(np.isfinite(Z))
    np.testing.assert_array_equal(Z, Z2)
    np.testing.assert_array_equal(T, T2)
    assert not np.array_equal(Z, Z3)
    assert isinstance(info, dict)


def test_leaky_gaussian_structure():
    Z, T, info = make_leaky_gaussian_trial(20_000, effects=(1.0, 0.5), random_state=0)
    diff = Z[T == 1].mean(0) - Z[T == 0].mean(0)
    assert diff[0] == pytest.approx(1.0, abs=0.05)
    assert diff[1] == pytest.approx(0.5, abs=0.05)
    a, b = info.loadings
    primary = info.leaky % 2
    expected = a * np.array([1.0, 0.5])[primary] + b * np.array([1.0, 0.5])[1 - primary]
    np.testing.assert_allclose(diff[info.leaky], expected, atol=0.05)
    assert np.abs(diff[12:]).max() < 0.1
    assert Z[:, 12::2].min() > 0  # log-normal noise neurons
    assert T.sum() == 10_000
    _, _, null = make_leaky_gaussian_trial(50, effects=(0, 0), random_state=0)
    assert null.affected.size == 0


def test_sparse_code_structure():
    Z, T, info = make_sparse_code_trial(20_000, effect=0.4, random_state=0)
    assert Z.shape == (20_000, 423) and Z.min() >= 0
    C = info.concepts
    assert C[T == 1, 0].mean() - C[T == 0, 0].mean() == pytest.approx(0.4, abs=0.03)
    assert abs(C[T == 1, 2].mean() - C[T == 0, 2].mean()) < 0.03  # W is not affected
    assert ((Z[:, 0] > 0.1) == (C[:, 0] == 1)).mean() > 0.97  # principal alignment
    assert (Z[:, info.noise] > 0).mean() < 0.35
    Zc, Tc, infoc = make_sparse_code_trial(20_000, confounder=True, random_state=0)
    W, Y1 = infoc.concepts[:, 2], infoc.concepts[:, 0]
    assert Y1[W == 0].mean() < Y1[W == 1].mean()  # Y1 depends on W
    _, _, null = make_sparse_code_trial(100, effect=0.0, random_state=0)
    assert null.affected.size == 0


def test_paradox_structure():
    Z, T, info = make_paradox_trial(
        200_000, n_features=5, effect=2.0, leak=0.5, random_state=0
    )
    np.testing.assert_array_equal(Z[:, 0], info.concept)
    diff = Z[T == 1].mean(0) - Z[T == 0].mean(0)
    assert diff[0] == pytest.approx(2.0, abs=0.02)
    np.testing.assert_allclose(diff[1:], 1.0, atol=0.02)


def test_embedding_structure():
    H, T, info = make_embedding_trial(5000, noise=0.0, random_state=0)
    np.testing.assert_allclose(np.linalg.norm(info.atoms, axis=1), 1.0)
    C = info.concepts
    assert C[T == 1, :2].mean() - C[T == 0, :2].mean() == pytest.approx(0.4, abs=0.03)
    assert C[:, 2:].mean() == pytest.approx(0.06, abs=0.01)
    assert np.linalg.matrix_rank(H - H.mean(0)) == 32


@pytest.mark.parametrize(
    ("make", "kwargs", "name"),
    [
        (make_leaky_gaussian_trial, {"n_samples": 3}, "n_samples"),
        (make_leaky_gaussian_trial, {"n_features": 5}, "n_features"),
        (make_leaky_gaussian_trial, {"effects": (1.0,)}, "effects"),
        (make_leaky_gaussian_trial, {"effects": (np.nan, 1.0)}, "effects"),
        (make_sparse_code_trial, {"effect": 0.9}, "effect"),
        (make_sparse_code_trial, {"effect": -0.1}, "effect"),
        (make_sparse_code_trial, {"n_leaky": 0}, "n_leaky"),
        (make_paradox_trial, {"n_features": 1}, "n_features"),
        (make_paradox_trial, {"effect": np.inf}, "finite"),
        (make_embedding_trial, {"prevalence": 1.0}, "prevalence"),
        (make_embedding_trial, {"effect": 0.7}, "effect"),
        (make_embedding_trial, {"n_concepts": 1}, "n_concepts"),
    ],
)
def test_bad_parameters(make, kwargs, name):
    with pytest.raises(ValueError, match=name):
        make(**kwargs)
