"""compare_models and model_size_bytes: the figures behind the README's size claims."""

import math
import pickle

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score
from sklearn.tree import DecisionTreeClassifier

from skdistill import DistilledClassifier, DistilledRegressor, compare_models, model_size_bytes

from .conftest import FAST

# ---------------------------------------------------------------------------
# model_size_bytes


def _encoded_width(est, X):
    return est.preprocessor_.transform(X).shape[1]


def test_size_of_any_other_model_is_its_pickle(binary_data):
    X, y = binary_data
    model = RandomForestClassifier(10, random_state=0).fit(X, y)
    assert model_size_bytes(model) == len(pickle.dumps(model))
    assert model_size_bytes({"a": np.zeros(1000)}) == len(pickle.dumps({"a": np.zeros(1000)}))


@pytest.mark.parametrize("hidden", [(16,), (32, 8)])
def test_size_of_a_neural_student_is_its_weights_and_preprocessor(binary_data, hidden):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression().fit(X, y), **{**FAST, "hidden_layer_sizes": hidden})
    est.fit(X, y)
    # an MLP of Linear layers: (inputs + 1) * outputs float32 numbers per layer
    widths = [_encoded_width(est, X), *hidden, 2]
    n_weights = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    expected = 4 * n_weights + len(pickle.dumps(est.preprocessor_))
    assert model_size_bytes(est) == expected
    assert isinstance(model_size_bytes(est), int)


def test_size_of_a_neural_student_leaves_the_teacher_out(binary_data):
    X, y = binary_data
    small = LogisticRegression().fit(X, y)
    large = RandomForestClassifier(100, random_state=0).fit(X, y)
    a = DistilledClassifier(small, **FAST).fit(X, y)
    b = DistilledClassifier(large, **FAST).fit(X, y)
    # the same student architecture and preprocessor: the same size, whatever the teacher
    assert model_size_bytes(a) == model_size_bytes(b)
    # while the pickle of the estimator carries the forest
    assert len(pickle.dumps(b)) > len(pickle.dumps(large)) > 10 * model_size_bytes(b)


def test_size_of_a_sklearn_student_is_its_pickle_and_preprocessor(binary_data):
    X, y = binary_data
    teacher = RandomForestClassifier(100, random_state=0).fit(X, y)
    est = DistilledClassifier(
        teacher, student=DecisionTreeClassifier(max_depth=3, random_state=0), random_state=0
    ).fit(X, y)
    assert isinstance(est.student_, DecisionTreeClassifier)
    expected = len(pickle.dumps(est.student_)) + len(pickle.dumps(est.preprocessor_))
    assert model_size_bytes(est) == expected
    assert model_size_bytes(est) < len(pickle.dumps(teacher)) / 10


# ---------------------------------------------------------------------------
# compare_models


@pytest.fixture
def known_classification():
    """Eight rows, six of class 0: the scores of a constant model are known in closed form."""
    X = np.arange(16, dtype=float).reshape(8, 2)
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    return X, y


def test_compare_classifiers_known_values(known_classification):
    X, y = known_classification
    prior = DummyClassifier(strategy="prior").fit(X, y)  # predicts 0, proba [0.75, 0.25]
    ones = DummyClassifier(strategy="constant", constant=1).fit(X, y)  # predicts 1, proba [0, 1]
    report = compare_models({"teacher": prior, "ones": ones}, X, y, teacher="teacher")
    assert list(report.index) == ["teacher", "ones"]
    assert list(report.columns) == [
        "accuracy", "log_loss", "agreement", "size_bytes", "predict_rows_per_s"
    ]
    assert report.loc["teacher", "accuracy"] == pytest.approx(0.75)
    assert report.loc["ones", "accuracy"] == pytest.approx(0.25)
    expected_log_loss = -(6 * math.log(0.75) + 2 * math.log(0.25)) / 8
    assert report.loc["teacher", "log_loss"] == pytest.approx(expected_log_loss)
    assert report.loc["teacher", "agreement"] == 1.0
    assert report.loc["ones", "agreement"] == 0.0
    assert report.loc["teacher", "size_bytes"] == len(pickle.dumps(prior))
    assert report.loc["ones", "size_bytes"] == len(pickle.dumps(ones))
    assert np.all(np.isfinite(report["predict_rows_per_s"])) and np.all(report["predict_rows_per_s"] > 0)


def test_compare_teacher_and_student_match_the_metrics(binary_data):
    X, y = binary_data
    teacher = RandomForestClassifier(30, random_state=0).fit(X, y)
    student = DistilledClassifier(teacher, **FAST).fit(X, y)
    report = compare_models({"teacher": teacher, "student": student}, X, y, teacher="teacher")
    for name, model in [("teacher", teacher), ("student", student)]:
        row = report.loc[name]
        assert row["accuracy"] == pytest.approx(accuracy_score(y, model.predict(X)))
        assert row["log_loss"] == pytest.approx(log_loss(y, model.predict_proba(X)))
        assert row["size_bytes"] == model_size_bytes(model)
    assert report.loc["student", "agreement"] == pytest.approx(
        np.mean(student.predict(X) == teacher.predict(X))
    )
    # the figure the README reports: the student is far smaller than the forest
    assert report.loc["student", "size_bytes"] < report.loc["teacher", "size_bytes"] / 5


def test_compare_without_teacher_or_predict_proba(known_classification):
    X, y = known_classification
    ridge = RidgeClassifier().fit(X, y)  # no predict_proba: no log-loss
    prior = DummyClassifier(strategy="prior").fit(X, y)
    report = compare_models({"ridge": ridge, "prior": prior}, X, y)
    assert "agreement" not in report.columns
    assert math.isnan(report.loc["ridge", "log_loss"])
    assert report.loc["ridge", "accuracy"] == pytest.approx(accuracy_score(y, ridge.predict(X)))
    assert report.loc["prior", "accuracy"] == pytest.approx(0.75)


def test_compare_regressors_known_values():
    X = np.arange(10, dtype=float).reshape(-1, 1)
    y = 2 * X[:, 0] + 1
    exact = LinearRegression().fit(X, y)
    mean = DummyRegressor().fit(X, y)  # predicts 10 everywhere
    report = compare_models({"exact": exact, "mean": mean}, X, y, teacher="exact")
    assert list(report.columns) == ["r2", "rmse", "r2_to_teacher", "size_bytes", "predict_rows_per_s"]
    assert report.loc["exact", "r2"] == pytest.approx(1.0)
    assert report.loc["exact", "rmse"] == pytest.approx(0.0, abs=1e-9)
    assert report.loc["exact", "r2_to_teacher"] == pytest.approx(1.0)
    assert report.loc["mean", "r2"] == pytest.approx(0.0)
    assert report.loc["mean", "rmse"] == pytest.approx(np.std(y))  # sqrt(33) for 1, 3, ..., 19
    assert report.loc["mean", "r2_to_teacher"] == pytest.approx(0.0)


def test_compare_distilled_regressor():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    teacher = LinearRegression().fit(X, y)
    student = DistilledRegressor(teacher, **{**FAST, "max_epochs": 30}).fit(X, y)
    report = compare_models({"teacher": teacher, "student": student}, X, y, teacher="teacher")
    pred = student.predict(X)
    assert report.loc["student", "r2"] == pytest.approx(r2_score(y, pred))
    assert report.loc["student", "rmse"] == pytest.approx(math.sqrt(mean_squared_error(y, pred)))
    assert report.loc["student", "r2_to_teacher"] == pytest.approx(r2_score(teacher.predict(X), pred))
    assert report.loc["student", "r2_to_teacher"] > 0.5
    assert report.loc["student", "size_bytes"] == model_size_bytes(student)
