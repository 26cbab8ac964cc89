"""Every private sklearn helper skres relies on is importable and behaves."""

import numpy as np
import pytest

from skres import _compat


def test_private_sklearn_helpers_are_available():
    # If this fails after a sklearn upgrade, the fallback in _compat is in use:
    # check it and update _compat.
    assert _compat._sk_check_sample_weight is not None


@pytest.fixture(params=["sklearn", "fallback"])
def compat(request, monkeypatch):
    if request.param == "fallback":
        monkeypatch.setattr(_compat, "_sk_check_sample_weight", None)
    return _compat


@pytest.mark.parametrize("sparse", [False, True])
def test_check_sample_weight(compat, sparse):
    X = np.zeros((3, 2))
    if sparse:
        import scipy.sparse as sp

        X = sp.csr_matrix(X)
    np.testing.assert_array_equal(compat.check_sample_weight(None, X), np.ones(3))
    np.testing.assert_array_equal(compat.check_sample_weight(2.0, X), np.full(3, 2.0))
    with pytest.raises(ValueError):
        compat.check_sample_weight([1.0, -1.0, 1.0], X)
    with pytest.raises(ValueError):
        compat.check_sample_weight([1.0, 1.0], X)


def test_parameter_validation_helpers_are_available():
    names = (
        "HasMethods",
        "Hidden",
        "Interval",
        "InvalidParameterError",
        "Options",
        "StrOptions",
        "fit_context",
        "generate_invalid_param_val",
        "make_constraint",
        "validate_parameter_constraints",
    )
    for name in names:
        assert getattr(_compat, name) is not None, name
    assert issubclass(_compat.InvalidParameterError, ValueError)
    assert issubclass(_compat.InvalidParameterError, TypeError)


def test_transform_output_follows_set_output():
    from sklearn import config_context
    from sklearn.preprocessing import StandardScaler

    assert _compat._sk_get_output_config is not None
    scaler = StandardScaler()
    assert _compat.transform_output(scaler) == "default"
    with config_context(transform_output="pandas"):
        assert _compat.transform_output(scaler) == "pandas"
    assert _compat.transform_output(scaler.set_output(transform="pandas")) == "pandas"
