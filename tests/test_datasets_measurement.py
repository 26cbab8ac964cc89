"""Generators of the T-MEX settings (skres.datasets._measurement)."""

import numpy as np
import pytest

from skres.datasets import (
    make_contaminated_proxy,
    make_linear_gaussian_scm,
    make_measurement_model,
)


def test_linear_gaussian_scm_structure():
    Z, A = make_linear_gaussian_scm(5000, 6, edge_prob=1.0, random_state=0)
    assert Z.shape == (5000, 6)
    assert np.all(np.triu(A) == 0)
    off = A[np.tril_indices(6, k=-1)]
    assert np.all((np.abs(off) >= 0.5) & (np.abs(off) <= 1.5))
    # Z = A Z + E with unit-variance noise: cov = (I - A)^-1 (I - A)^-T.
    inv = np.linalg.inv(np.eye(6) - A)
    np.testing.assert_allclose(np.cov(Z.T), inv @ inv.T, rtol=0.15, atol=0.1)
    _, A0 = make_linear_gaussian_scm(10, 6, edge_prob=0.0, random_state=0)
    assert np.all(A0 == 0)


@pytest.mark.parametrize(
    "setting", ["identity", "permuted", "rotated", "mixed", "one_pair_mixed"]
)
def test_measurement_model_settings(setting):
    Z_hat, Z, W = make_measurement_model(300, 4, setting=setting, random_state=0)
    again = make_measurement_model(300, 4, setting=setting, random_state=0)
    for a, b in zip((Z_hat, Z, W), again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert Z_hat.shape == Z.shape == (300, 4) and W.shape == (4, 4)
    np.testing.assert_array_equal(W.sum(axis=0), 1)
    np.testing.assert_array_equal(W.sum(axis=1), 1)
    if setting == "identity":
        np.testing.assert_array_equal(Z_hat, Z)
    if setting == "permuted":
        ratio = Z_hat / Z[:, W.argmax(axis=1)]
        np.testing.assert_allclose(ratio, np.broadcast_to(ratio[0], ratio.shape))
        assert np.all((np.abs(ratio[0]) >= 0.5) & (np.abs(ratio[0]) <= 2))
    if setting == "rotated":
        R = np.linalg.lstsq(Z, Z_hat, rcond=None)[0]
        np.testing.assert_allclose(R @ R.T, np.eye(4), atol=1e-10)
    if setting == "mixed":
        np.testing.assert_allclose(Z_hat, 0.8 * Z + 0.2 * Z.sum(1, keepdims=True))
    if setting == "one_pair_mixed":
        np.testing.assert_allclose(Z_hat[:, 0], 0.5 * Z[:, 0] + 0.5 * Z[:, 1])
        np.testing.assert_array_equal(Z_hat[:, 1:], Z[:, 1:])


def test_measurement_noise():
    Z_hat, Z, _ = make_measurement_model(20000, 3, noise=0.2, random_state=1)
    np.testing.assert_allclose((Z_hat - Z).std(axis=0), 0.2, rtol=0.05)


def test_contaminated_proxy():
    for proxy in ("good", "contaminated", "entangled"):
        Z_hat, Z = make_contaminated_proxy(3000, proxy=proxy, random_state=0)
        assert Z_hat.shape == (3000, 1) and Z.shape == (3000, 5)
    Z_hat, Z = make_contaminated_proxy(3000, proxy="contaminated", random_state=0)
    good, _ = make_contaminated_proxy(3000, proxy="good", random_state=0)
    np.testing.assert_allclose(Z_hat - good, 0.2 * Z[:, [1]] - 0.1 * Z[:, [2]])
    # Structural equations: x = z0 + e, y = z0 + x + e, z1 = z0 + y + e, ...
    z0, z1, z2, x, y = Z.T
    for resid in (x - z0, y - z0 - x, z1 - z0 - y, z2 - z0 - z1):
        assert abs(resid.std() - 1.0) < 0.05
        assert abs(np.corrcoef(resid, z0)[0, 1]) < 0.05


@pytest.mark.parametrize(
    ("fn", "kwargs", "match"),
    [
        (make_measurement_model, {"setting": "shuffled"}, "setting"),
        (make_measurement_model, {"noise": -0.1}, "noise"),
        (make_measurement_model, {"n_latents": 1, "setting": "rotated"}, "n_latents"),
        (make_measurement_model, {"n_samples": 0}, "n_samples"),
        (make_linear_gaussian_scm, {"edge_prob": 1.5}, "edge_prob"),
        (make_linear_gaussian_scm, {"weight_range": (2.0, 1.0)}, "weight_range"),
        (make_contaminated_proxy, {"proxy": "bad"}, "proxy"),
        (make_contaminated_proxy, {"noise": -1.0}, "noise"),
    ],
)
def test_bad_input(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)
