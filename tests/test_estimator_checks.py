"""scikit-learn conformance: check_estimator on both estimators."""

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdistill import DistilledClassifier, DistilledRegressor

SETTINGS = dict(max_epochs=50, batch_size=32, augment=None, hidden_layer_sizes=(32,), random_state=0)

#: The student computes in float32, and float32 BLAS kernels (matrix products)
#: sum in an order that depends on how many rows one call holds: on some CPUs
#: (seen on an AMD EPYC with OpenBLAS) a row predicted alone differs from the
#: same row predicted with others in the last bit (~1e-7), beyond the check's
#: rtol=1e-7. Summing in float64 removes that but cost 26% of batch
#: throughput for a (256, 256) student (benchmarks/speed.py), so the check
#: may fail (non-strict: it passes where the kernels agree) and
#: tests/test_inference.py bounds the difference at float32 precision instead.
FLOAT32_BATCHING = {
    "check_methods_subset_invariance": "float32 matrix products differ in the last bit with the batch size",
}


@parametrize_with_checks(
    [
        DistilledClassifier(LogisticRegression(), **SETTINGS),
        DistilledRegressor(Ridge(), **SETTINGS),
        # a scikit-learn student (skdistill/_sklearn_student.py)
        DistilledRegressor(Ridge(), student=HistGradientBoostingRegressor(max_iter=20), **SETTINGS),
        DistilledClassifier(
            LogisticRegression(), student=HistGradientBoostingRegressor(max_iter=20), **SETTINGS
        ),
        DistilledClassifier(
            LogisticRegression(), student=HistGradientBoostingClassifier(max_iter=20), **SETTINGS
        ),
    ],
    expected_failed_checks=lambda est: FLOAT32_BATCHING,
    xfail_strict=False,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
