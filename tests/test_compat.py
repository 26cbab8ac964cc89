"""Every private sklearn helper skres relies on is importable and behaves."""

import numpy as np
import pytest

from skres import _compat


def test_private_sklearn_helpers_are_available():
    # If this fails after a sklearn upgrade, the fallback in _compat is in use:
    # check it and update _compat.
    assert _compat._sk_check_sample_weight is not None


def test_check_sample_weight():
    X = np.zeros((3, 2))
    np.testing.assert_array_equal(_compat.check_sample_weight(None, X), np.ones(3))
    np.testing.assert_array_equal(_compat.check_sample_weight(2.0, X), np.full(3, 2.0))
    with pytest.raises(ValueError):
        _compat.check_sample_weight([1.0, -1.0, 1.0], X)
    with pytest.raises(ValueError):
        _compat.check_sample_weight([1.0, 1.0], X)
