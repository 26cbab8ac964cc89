"""scikit-learn's estimator checks on every public skres estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skres.utils._testing import estimator_test_instances, expected_failed_checks


@parametrize_with_checks(
    estimator_test_instances(),
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
