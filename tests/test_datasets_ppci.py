"""make_visible_treatment and make_causal_digits."""

from __future__ import annotations

import numpy as np
import pytest

from skres.datasets import make_causal_digits, make_visible_treatment
from skres.datasets._ppci import _digit_pools, _shrink_matrix


@pytest.mark.parametrize(
    ("target", "ate"), [("train", 0.6), ("id", 0.6), ("null", 0.0), ("reversed", -0.3)]
)
def test_visible_treatment_effects(target, ate):
    d = make_visible_treatment(40_000, target=target, random_state=0)
    assert d.X.shape == (40_000, 8) and d.settings.shape == (40_000, 2)
    assert d.ate == pytest.approx(ate)
    T, W, y = d.treatment, d.covariates[:, 0], d.y
    strata = [
        y[(T == 1) & (W == w)].mean() - y[(T == 0) & (W == w)].mean() for w in (0, 1)
    ]
    assert np.mean(strata) == pytest.approx(ate, abs=0.03)
    # The treatment is visible in the inputs.
    np.testing.assert_allclose(d.X[:, 5], T, atol=0.6)
    assert np.corrcoef(d.X[:, 0], y)[0, 1] > 0.3


def test_visible_treatment_is_seeded():
    a = make_visible_treatment(50, random_state=3)
    b = make_visible_treatment(50, random_state=3)
    np.testing.assert_array_equal(a.X, b.X)
    with pytest.raises(ValueError, match="target"):
        make_visible_treatment(50, target="x")
    with pytest.raises(ValueError, match="n_samples"):
        make_visible_treatment(0)


@pytest.mark.parametrize(
    ("setting", "ate"),
    [
        ("train", 1.5),
        ("id", 1.5),
        ("null-soft", 0.0),
        ("null-hard", 0.0),
        ("nl-soft", 1.2),
        ("nl-hard", 0.75),
    ],
)
def test_causal_digits_settings(setting, ate):
    d = make_causal_digits(600, setting=setting, random_state=0)
    assert d.X.shape == (600, 192) and d.images.shape == (600, 8, 8, 3)
    assert d.ate == pytest.approx(ate)
    assert d.y.min() >= 0 and d.y.max() <= 9
    W, U, T = d.settings.T
    np.testing.assert_array_equal(T, d.treatment)
    np.testing.assert_array_equal(W, d.covariates[:, 0])
    if setting in ("train", "id"):
        # The deterministic cell of the paper: W = U = T = 0 gives Y = 0.
        assert np.all(d.y[(W == 0) & (U == 0) & (T == 0)] == 0)


def test_causal_digits_design_and_colours():
    d = make_causal_digits(4000, setting="null-hard", noise=0.0, random_state=1)
    W, U, T = d.settings.T
    assert T[W == 1].mean() == pytest.approx(0.9, abs=0.03)
    assert T[W == 0].mean() == pytest.approx(0.1, abs=0.03)
    # Unpadded corner pixel shows the background: red (W=1) or green (W=0).
    corner = d.images[:, 0, 0, :]
    assert np.abs(corner[W == 1] - [1.0, 0.0, 0.0]).max() < 0.2
    assert np.abs(corner[W == 0] - [0.0, 1.0, 0.0]).max() < 0.2
    # The null effect holds in the sample: stratified contrast near 0.
    y = d.y
    strata = [
        y[(T == 1) & (W == w)].mean() - y[(T == 0) & (W == w)].mean() for w in (0, 1)
    ]
    assert np.mean(strata) == pytest.approx(0.0, abs=0.25)


def test_digit_pools_are_disjoint_halves():
    train, test = _digit_pools()
    assert sum(len(s) for s in train) + sum(len(s) for s in test) == 1797
    for a, b in zip(train, test, strict=True):
        assert abs(len(a) - len(b)) <= 1


def test_shrink_matrix_rows_are_averages():
    S = _shrink_matrix(8, 2)
    assert S.shape == (8, 12)
    np.testing.assert_allclose(S.sum(axis=1), 1.0)
    assert np.all(S >= 0)


def test_causal_digits_overrides_and_errors():
    d = make_causal_digits(2000, setting="train", p_u=0.5, random_state=0)
    assert d.settings[:, 1].mean() == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="p_w"):
        make_causal_digits(10, p_w=2.0)
    with pytest.raises(ValueError, match="setting"):
        make_causal_digits(10, setting="ood")
