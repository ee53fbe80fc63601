"""scikit-learn conformance: check_estimator on both estimators."""

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdistill import DistilledClassifier, DistilledRegressor

SETTINGS = dict(max_epochs=50, batch_size=32, augment=None, hidden_layer_sizes=(32,), random_state=0)

@parametrize_with_checks(
    [
        DistilledClassifier(LogisticRegression(), **SETTINGS),
        DistilledRegressor(Ridge(), **SETTINGS),
    ],
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
