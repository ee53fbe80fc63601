"""scikit-learn conformance: check_estimator on both estimators."""

from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdistill import DistilledClassifier, DistilledRegressor

SETTINGS = dict(max_epochs=50, batch_size=32, augment=None, hidden_layer_sizes=(32,), random_state=0)

#: The student computes in float32, and float32 BLAS kernels (matrix products)
#: sum in an order that depends on how many rows one call holds: on some CPUs
#: (seen on an AMD EPYC with OpenBLAS) a row predicted alone differs from the
#: same row predicted with others in the last bit (~1e-7), beyond the check's
#: rtol=1e-7; a row's position among the others can matter too (edge tiles
#: of the kernel). Summing in float64 removes that but cost 26% of batch
#: throughput for a (256, 256) student (benchmarks/speed.py) and 2.4 times
#: for the default student of a 56-column table (2026-12-03: numpy float64
#: forward 176k rows/s against 428k in float32, one thread), so the checks
#: may fail (non-strict: they pass where the kernels agree) and
#: tests/test_inference.py bounds the difference at float32 precision
#: instead: same classes, probabilities within 1e-5.
FLOAT32_BATCHING = {
    "check_methods_subset_invariance": "float32 matrix products differ in the last bit with the batch size",
    "check_methods_sample_order_invariance": "float32 matrix products differ in the last bit with a row's position",
}


#: The student trains by minibatch SGD on shuffled batches: weighted rows and
#: repeated rows make different batches (and the student's preprocessor is
#: fit unweighted), so the two fits differ beyond the check's rtol=1e-7.
#: tests/test_sample_weight.py checks the equivalence where it holds: one
#: batch per epoch and an identity preprocessor.
SGD_BATCHES = {
    "check_sample_weight_equivalence_on_dense_data": "minibatches of weighted and repeated rows differ",
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
        # the default configuration (MUNGE on) with forest and boosting teachers
        DistilledClassifier(RandomForestClassifier(10, random_state=0), random_state=0),
        DistilledClassifier(HistGradientBoostingClassifier(max_iter=20), random_state=0),
        DistilledRegressor(RandomForestRegressor(10, random_state=0), random_state=0),
    ],
    expected_failed_checks=lambda est: {**FLOAT32_BATCHING, **SGD_BATCHES},
    xfail_strict=False,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
