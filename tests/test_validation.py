"""Side-array validation helpers: clear errors that name the parameter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from skres._validation import (
    check_environment,
    check_groups,
    check_option,
    check_positive_float,
    check_positive_int,
    check_side_array,
    check_treatment,
    tensor_to_numpy,
)


def test_treatment_accepts_bool_int_float_and_tensor():
    for values in (
        [0, 1, 1, 0],
        [False, True, True, False],
        [0.0, 1.0, 1.0, 0.0],
        torch.tensor([0, 1, 1, 0]),
    ):
        np.testing.assert_array_equal(
            check_treatment(values, n_samples=4), [0, 1, 1, 0]
        )


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([1, 1, 1, 1], r"treatment has a single arm: no control \(0\)"),
        ([0, 0, 0, 0], r"treatment has a single arm: no treated \(1\)"),
        ([0, 1, 2, 1], "treatment must be binary"),
        ([0, 1, np.nan, 1], "treatment contains NaN"),
        ([0, 1, 1], "treatment has 3 entries but X has 4 samples"),
        ([[0, 1], [1, 0], [0, 1], [1, 0]], r"treatment must be a 1-D array"),
        (["a", "b", "a", "b"], "treatment must be numeric"),
        (None, "treatment is required"),
    ],
)
def test_treatment_errors(values, match):
    with pytest.raises((ValueError, TypeError), match=match):
        check_treatment(values, n_samples=4)


def test_environment_encoding_and_errors():
    codes, labels = check_environment(["b", "a", "b", "c"], n_samples=4)
    np.testing.assert_array_equal(labels, ["a", "b", "c"])
    np.testing.assert_array_equal(labels[codes], ["b", "a", "b", "c"])
    with pytest.raises(ValueError, match="at least 2 distinct environments"):
        check_environment([1, 1, 1], n_samples=3)
    with pytest.raises(ValueError, match="discrete labels"):
        check_environment([0.5, 1.0, 0.0], n_samples=3)
    with pytest.raises(ValueError, match="at least 2 samples; too few in"):
        check_environment([0, 0, 1], n_samples=3, min_samples_per_environment=2)


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=40))
def test_groups_round_trip(values):
    codes, labels = check_groups(values, n_samples=len(values))
    np.testing.assert_array_equal(labels[codes], values)
    assert list(labels) == sorted(set(values))


def test_side_array_column_vector_is_raveled():
    np.testing.assert_array_equal(
        check_side_array(np.ones((3, 1)), name="t", n_samples=3), np.ones(3)
    )


def test_option_and_scalars():
    assert check_option("a", "mode", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="mode must be one of 'a', 'b'; got 'c'"):
        check_option("c", "mode", ("a", "b"))
    with pytest.raises(ValueError, match="flag must be one of"):
        check_option(1, "flag", (True, False))  # 1 is not True here
    assert check_positive_int(3, "n") == 3
    assert check_positive_int(None, "n", allow_none=True) is None
    for bad in (0, -1, 2.0, True, "3"):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            check_positive_int(bad, "n")
    assert check_positive_float(0.0, "x", allow_zero=True) == 0.0
    for bad in (0.0, -1.0, np.inf, np.nan, "1"):
        with pytest.raises(ValueError, match="x must be a finite number > 0"):
            check_positive_float(bad, "x")


def test_tensor_to_numpy_detaches():
    t = torch.ones(3, requires_grad=True)
    out = tensor_to_numpy(t)
    assert isinstance(out, np.ndarray)
    assert tensor_to_numpy([1, 2]) == [1, 2]
