"""XGBoost and CatBoost teachers through their scikit-learn API, as the README claims.

What the student learns from is read off its training data (a skorch callback
records the targets at the start of training): an XGBoost classifier gives
its raw margins (``predict(X, output_margin=True)``), so that the temperature
acts on true logits; a CatBoost classifier its clipped log-probabilities; a
regressor its predictions. Each test also checks that the student answers
like the teacher. The tests of a library that is not installed are skipped
(both are in the dev extra).
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_regression

from skdistill import DistilledClassifier, DistilledRegressor

from ._recording import RecordTargets
from .conftest import FAST

#: log-probabilities of a predict_proba teacher are clipped at this probability
PROBA_CLIP = 1e-6


def _distil(cls, teacher, X, y, **params):
    """The fitted distiller and the teacher columns of its training targets."""
    record = RecordTargets()
    est = cls(teacher, **{**FAST, "max_epochs": 30, "callbacks": [("record", record)], **params})
    est.fit(X, y)
    n_outputs = len(est.classes_) if cls is DistilledClassifier else 1
    assert record.targets_.shape[0] == len(X)  # no augmentation: the rows of X only
    return est, record.targets_[:, :n_outputs]


@pytest.fixture
def reg_data():
    return make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)


# ---------------------------------------------------------------------------
# XGBoost


@pytest.fixture
def xgb():
    return pytest.importorskip("xgboost")


def test_xgboost_classifier_binary_gives_raw_margins(xgb, binary_data):
    X, y = binary_data
    teacher = xgb.XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1, random_state=0).fit(X, y)
    est, logits = _distil(DistilledClassifier, teacher, X, y)
    # logits [0, margin]: the raw margin, not log(predict_proba) (whose first column is < 0)
    np.testing.assert_array_equal(logits[:, 0], 0.0)
    np.testing.assert_allclose(logits[:, 1], teacher.predict(X, output_margin=True), rtol=1e-5, atol=1e-6)
    assert est.teacher_ is teacher
    np.testing.assert_array_equal(est.classes_, [0, 1])
    assert np.mean(est.predict(X) == teacher.predict(X)) > 0.85
    assert est.score(X, y) > 0.8


def test_xgboost_classifier_multiclass_gives_raw_margins(xgb, multiclass_data):
    X, y = multiclass_data
    teacher = xgb.XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1, random_state=0).fit(X, y)
    est, logits = _distil(DistilledClassifier, teacher, X, y)
    margins = teacher.predict(X, output_margin=True)
    assert margins.shape == (len(X), 3)
    np.testing.assert_allclose(logits, margins, rtol=1e-5, atol=1e-5)
    # raw margins are not normalised: their softmax is the teacher's probability
    assert not np.allclose(np.exp(margins).sum(axis=1), 1.0)
    assert np.mean(est.predict(X) == teacher.predict(X)) > 0.8


def test_unfitted_xgboost_classifier_is_cloned_and_fit(xgb, multiclass_data):
    X, y = multiclass_data
    teacher = xgb.XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1, random_state=0)
    est, logits = _distil(DistilledClassifier, teacher, X, y)
    assert est.teacher_ is not teacher and not hasattr(teacher, "classes_")  # left unfitted
    reference = clone(teacher).fit(X, y)  # xgboost is deterministic on CPU
    np.testing.assert_allclose(logits, reference.predict(X, output_margin=True), rtol=1e-5, atol=1e-5)
    assert np.mean(est.predict(X) == reference.predict(X)) > 0.8


def test_xgboost_regressor(xgb, reg_data):
    X, y = reg_data
    teacher = xgb.XGBRegressor(n_estimators=50, max_depth=3, n_jobs=1, random_state=0).fit(X, y)
    est, standardized = _distil(DistilledRegressor, teacher, X, y)
    # the student learns the teacher's predictions (in standardized units)
    np.testing.assert_allclose(
        standardized[:, 0] * est.target_scale_[0] + est.target_mean_[0], teacher.predict(X),
        rtol=1e-4, atol=1e-3 * np.std(y),
    )
    assert est.score(X, teacher.predict(X)) > 0.8
    assert est.score(X, y) > 0.7


# ---------------------------------------------------------------------------
# CatBoost


@pytest.fixture
def catboost():
    return pytest.importorskip("catboost")


CATBOOST = dict(iterations=50, depth=4, verbose=0, thread_count=1, random_seed=0, allow_writing_files=False)


@pytest.mark.parametrize("data", ["binary_data", "multiclass_data"])
def test_catboost_classifier_gives_clipped_log_probabilities(catboost, data, request):
    X, y = request.getfixturevalue(data)
    teacher = catboost.CatBoostClassifier(**CATBOOST).fit(X, y)
    est, logits = _distil(DistilledClassifier, teacher, X, y)
    np.testing.assert_allclose(
        logits, np.log(np.clip(teacher.predict_proba(X), PROBA_CLIP, 1.0)), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_array_equal(est.classes_, np.unique(y))
    assert np.mean(est.predict(X) == teacher.predict(X).ravel()) > 0.8


def test_catboost_classifier_on_a_frame_with_a_categorical_column(catboost, mixed_frame):
    X, y = mixed_frame  # string labels, a pandas categorical column, NaN in a numeric one
    X = X.assign(color=X["color"].astype(str))
    teacher = catboost.CatBoostClassifier(**CATBOOST, cat_features=["color"]).fit(X, y)
    est, logits = _distil(DistilledClassifier, teacher, X, y)
    np.testing.assert_array_equal(est.classes_, ["no", "yes"])
    np.testing.assert_allclose(
        logits, np.log(np.clip(teacher.predict_proba(X), PROBA_CLIP, 1.0)), rtol=1e-5, atol=1e-5
    )
    assert np.mean(est.predict(X) == teacher.predict(X).ravel()) > 0.85


def test_catboost_regressor(catboost, reg_data):
    X, y = reg_data
    teacher = catboost.CatBoostRegressor(**CATBOOST).fit(X, y)
    est, standardized = _distil(DistilledRegressor, teacher, X, y)
    np.testing.assert_allclose(
        standardized[:, 0] * est.target_scale_[0] + est.target_mean_[0], teacher.predict(X),
        rtol=1e-4, atol=1e-3 * np.std(y),
    )
    assert est.score(X, teacher.predict(X)) > 0.8
