"""skdistill._teacher: the public Teacher contract, the adapters, fitting apart from adapting.

A user's :class:`~skdistill.Teacher` (here wrapping a scoring function that
stands for a remote service), the raw-score table of the boosting libraries,
the split between :func:`fit_teachers` and :func:`adapt_teacher`, and the one
place that finds the distiller in a Pipeline (:func:`skdistill._metrics.find_distiller`).
"""

import copy
import json
import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdistill import DistilledClassifier, DistilledRegressor, Teacher, agreement_score
from skdistill._metrics import find_distiller
from skdistill._teacher import (
    PROBA_CLIP,
    RAW_SCORES,
    ProbaTeacher,
    RawScoreTeacher,
    adapt_teacher,
    fit_teachers,
    make_adapter,
    resolve_teacher,
)

from .conftest import FAST

# ---------------------------------------------------------------------------
# a "remote" model: rows go out as JSON, scores come back as JSON


_SERVICE = {}
#: number of rows each call to the service scored, in order
CALLS = []


def _serve(name, model, method):
    _SERVICE[name] = (model, method)


def score_remote(name, rows):
    """Stands for a web service: JSON rows in, JSON scores out."""
    model, method = _SERVICE[name]
    payload = json.loads(json.dumps(np.asarray(rows, dtype=float).tolist()))
    CALLS.append(len(payload))
    return json.loads(json.dumps(np.asarray(getattr(model, method)(np.array(payload))).tolist()))


class RemoteClassifier(Teacher):
    """Class probabilities from the service, as logits."""

    task = "classification"

    def __init__(self, name, classes):
        self.name = name
        self.classes_ = np.asarray(classes)

    def outputs(self, X):
        proba = np.asarray(score_remote(self.name, X))
        return np.log(np.clip(proba, 1e-6, 1.0))


class RemoteRegressor(Teacher):
    task = "regression"

    def __init__(self, name):
        self.name = name

    def outputs(self, X):
        return np.asarray(score_remote(self.name, X))


@pytest.fixture
def remote_clf(binary_data):
    X, y = binary_data
    model = LogisticRegression().fit(X, y)
    _serve("clf", model, "predict_proba")
    CALLS.clear()
    return RemoteClassifier("clf", model.classes_), model


@pytest.fixture
def remote_reg():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    model = LinearRegression().fit(X, y)
    _serve("reg", model, "predict")
    CALLS.clear()
    return RemoteRegressor("reg"), model, X, y


def _state(obj):
    return pickle.dumps(obj.__dict__)


# ---------------------------------------------------------------------------
# a user's Teacher with the distillers


def test_user_classifier_teacher_is_distilled_and_never_changed(binary_data, remote_clf):
    X, y = binary_data
    teacher, model = remote_clf
    before = _state(teacher)
    est = DistilledClassifier(teacher, **{**FAST, "max_epochs": 30}).fit(X, y)
    assert est.teacher_ is teacher
    np.testing.assert_array_equal(est.classes_, model.classes_)
    assert np.mean(est.predict(X) == model.predict(X)) > 0.9
    assert _state(teacher) == before
    assert clone(est).teacher is teacher  # a fitted teacher: shared, never copied


def test_user_teacher_outputs_are_read_as_given(binary_data, remote_clf):
    X, _ = binary_data
    teacher, model = remote_clf
    adapter = adapt_teacher(teacher, task="classification")
    np.testing.assert_allclose(
        adapter.outputs(X), np.log(np.clip(model.predict_proba(X), 1e-6, 1.0)), rtol=1e-12
    )


def test_user_teacher_gets_batches_and_frames_as_given(binary_data):
    X, y = binary_data
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    seen = []

    class FrameTeacher(Teacher):
        task = "classification"
        classes_ = np.array([0, 1])

        def outputs(self, X):
            seen.append((type(X), X.shape[0]))
            return np.zeros((X.shape[0], 2))

    DistilledClassifier(FrameTeacher(), labeling_batch_size=64, **FAST).fit(frame, y)
    assert seen == [(pd.DataFrame, 64), (pd.DataFrame, 64), (pd.DataFrame, 64), (pd.DataFrame, 8)]


def test_user_teacher_in_grid_search_is_shared_and_asked_once_per_fold(binary_data, remote_clf):
    X, y = binary_data
    teacher, _ = remote_clf
    search = GridSearchCV(
        DistilledClassifier(teacher, **FAST),
        {"temperature": [1.0, 3.0]},
        cv=2,
        scoring={"accuracy": "accuracy", "agreement": agreement_score},
        refit="agreement",
    ).fit(X, y)
    assert search.best_estimator_.teacher_ is teacher
    assert search.cv_results_["mean_test_agreement"].min() > 0.8
    # labelled: each training fold once (the candidates share it), each test
    # fold once per candidate (agreement, uncached), then all of X for the refit
    assert sorted(CALLS) == sorted([100, 100] + [100] * 4 + [200])


def test_user_teacher_outputs_are_cached_on_disk_with_memory(binary_data, remote_clf, tmp_path):
    from skdistill import clear_cache

    X, y = binary_data
    teacher, _ = remote_clf
    DistilledClassifier(teacher, memory=str(tmp_path), **FAST).fit(X, y)
    assert CALLS == [200]
    clear_cache()  # the in-process cache is gone; joblib.Memory answers
    again = RemoteClassifier("clf", teacher.classes_)  # an equal teacher, another object
    DistilledClassifier(again, memory=str(tmp_path), **FAST).fit(X, y)
    assert CALLS == [200]


def test_agreement_score_with_user_teacher(binary_data, remote_clf):
    X, y = binary_data
    teacher, model = remote_clf
    est = DistilledClassifier(teacher, **FAST).fit(X, y)
    expected = np.mean(est.predict(X) == model.predict(X))
    assert agreement_score(est, X) == pytest.approx(expected)


def test_user_regressor_teacher(remote_reg):
    teacher, model, X, y = remote_reg
    est = DistilledRegressor(teacher, **{**FAST, "max_epochs": 40}).fit(X, y)
    assert est.teacher_ is teacher
    assert est.score(X, model.predict(X)) > 0.8
    with pytest.raises(ValueError, match="y has 2 target"):
        DistilledRegressor(teacher, **FAST).fit(X, np.column_stack([y, y]))


def test_user_teachers_in_a_list_are_mixed_with_weights(binary_data, remote_clf):
    X, y = binary_data
    teacher, model = remote_clf
    other = LogisticRegression(C=0.01).fit(X, y)
    adapter = adapt_teacher([teacher, other], [1, 3], task="classification")
    expected = 0.25 * model.predict_proba(X) + 0.75 * other.predict_proba(X)
    np.testing.assert_allclose(np.exp(adapter.outputs(X)), expected, rtol=1e-6)
    est = DistilledClassifier([teacher, other], teacher_weights=[1, 3], **FAST).fit(X, y)
    assert est.teacher_[0] is teacher and est.teacher_[1] is other


def test_user_teacher_labels_a_transfer_set(binary_data, remote_clf, tmp_path):
    da = pytest.importorskip("dask.array")
    pytest.importorskip("pyarrow")
    from skdistill import label_transfer_set

    X, y = binary_data
    teacher, model = remote_clf
    ts = label_transfer_set(teacher, da.from_array(X, chunks=50), tmp_path / "ts", scheduler="sync")
    np.testing.assert_array_equal(ts.classes_, model.classes_)
    chunks = list(ts.iter_chunks())
    rows = np.concatenate([np.asarray(r, dtype=float) for r, _ in chunks])
    outputs = np.concatenate([o for _, o in chunks])
    assert rows.shape == X.shape
    np.testing.assert_allclose(outputs, np.log(np.clip(model.predict_proba(rows), 1e-6, 1)), rtol=1e-12)
    est = DistilledClassifier(teacher, **FAST).fit(X, y, X_unlabeled=ts)
    assert est.n_transfer_ == 2 * len(X)


def test_nan_is_refused_unless_the_teacher_says_it_takes_it(binary_data):
    X, y = binary_data
    X = X.copy()
    X[0, 0] = np.nan

    class Zeros(Teacher):
        task = "classification"
        classes_ = np.array([0, 1])

        def outputs(self, X):
            return np.zeros((len(X), 2))

    class TakesNaN(Zeros):
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.allow_nan = True
            return tags

    with pytest.raises(ValueError, match="NaN"):
        DistilledClassifier(Zeros(), **FAST).fit(X, y)
    est = DistilledClassifier(TakesNaN(), **FAST).fit(X, y)
    assert est.predict(X).shape == (len(X),)


# ---------------------------------------------------------------------------
# bad subclasses: the error names the problem


def test_subclass_without_outputs_cannot_be_made():
    class NoOutputs(Teacher):
        task = "classification"

    with pytest.raises(TypeError, match="abstract method.*outputs"):
        NoOutputs()


def _teacher(task="classification", classes=(0, 1), width=None, rows=0, value=0.0):
    class Bad(Teacher):
        def outputs(self, X):
            k = width if width is not None else (len(classes) if task == "classification" else 1)
            return np.full((len(X) - rows, k), value)

    t = Bad()
    t.task = task
    if classes is not None:
        t.classes_ = np.asarray(classes)
    return t


@pytest.mark.parametrize(
    "teacher, distiller, error, match",
    [
        (_teacher(task=None), DistilledClassifier, ValueError, r"Bad.task must be 'classification' or 'regression'; got None"),
        (_teacher(task="ranking"), DistilledClassifier, ValueError, "got 'ranking'"),
        (_teacher(task="regression"), DistilledClassifier, TypeError,
         "task='regression'; DistilledClassifier needs a classification teacher.*DistilledRegressor"),
        (_teacher(), DistilledRegressor, TypeError,
         "task='classification'; DistilledRegressor needs a regression teacher.*DistilledClassifier"),
        (_teacher(classes=None), DistilledClassifier, TypeError, "no classes_ attribute"),
        (_teacher(classes=[1]), DistilledClassifier, ValueError, "at least two distinct labels.*got \\[1\\]"),
        (_teacher(classes=[0, 0]), DistilledClassifier, ValueError, "at least two distinct labels"),
        (_teacher(classes=[[0, 1]]), DistilledClassifier, ValueError, "1-D array"),
        (_teacher(width=3), DistilledClassifier, ValueError, "Bad returned 3 output columns but has 2 classes"),
        (_teacher(rows=1), DistilledClassifier, ValueError, r"Bad returned outputs of shape \(199, 2\) for 200 rows"),
        (_teacher(value=np.inf), DistilledClassifier, ValueError, "Bad returned NaN or infinite"),
        (_teacher("regression", classes=None, rows=1), DistilledRegressor, ValueError, "for 200 rows"),
    ],
)
def test_bad_subclass_is_refused_with_a_clear_error(binary_data, teacher, distiller, error, match):
    X, y = binary_data
    est = distiller(teacher, **FAST)
    with pytest.raises(error, match=match):
        est.fit(X, y)
    assert not hasattr(est, "student_")


def test_bad_teacher_in_a_list_is_named_by_its_place(binary_data):
    X, y = binary_data
    with pytest.raises(TypeError, match="task='regression'") as info:
        DistilledClassifier([LogisticRegression(), _teacher(task="regression")], **FAST).fit(X, y)
    assert "teacher[1] of the list of teachers" in info.value.__notes__


def test_bad_teacher_is_refused_before_any_teacher_is_fit(binary_data):
    X, y = binary_data
    fitted = []

    class Recording(LogisticRegression):
        def fit(self, X, y, **kw):
            fitted.append(True)
            return super().fit(X, y, **kw)

    with pytest.raises(TypeError):
        DistilledClassifier([Recording(), _teacher(task="regression")], **FAST).fit(X, y)
    assert fitted == []


# ---------------------------------------------------------------------------
# fitting apart from adapting


def test_fit_teachers_fits_clones_and_keeps_fitted_teachers(binary_data):
    X, y = binary_data
    unfitted = LogisticRegression()
    fitted = LogisticRegression().fit(X, y)
    calls = []

    def fit_one(t, X_, y_, original):
        calls.append(original)
        return t.fit(X_, y_)

    out = fit_teachers([unfitted, fitted], X, y, fit_one)
    assert calls == [unfitted]
    assert out[1] is fitted and out[0] is not unfitted
    assert not hasattr(unfitted, "coef_")  # the user's teacher is never fit
    assert fit_teachers(fitted, X, y, fit_one) is fitted


def test_adapt_teacher_never_fits(binary_data):
    X, y = binary_data
    with pytest.raises(TypeError, match="no classes_ attribute"):
        adapt_teacher(LogisticRegression(), task="classification")


def test_resolve_teacher_is_fit_then_adapt(binary_data):
    X, y = binary_data
    adapter = resolve_teacher(
        LogisticRegression(), None, task="classification", X=X, y=y, n_features=X.shape[1],
        device="cpu", fit_one=lambda t, X_, y_, original: t.fit(X_, y_),
    )
    expected = LogisticRegression().fit(X, y).predict_proba(X)
    np.testing.assert_allclose(np.exp(adapter.outputs(X)), expected, rtol=1e-6)


# ---------------------------------------------------------------------------
# how models are read: the response method and the raw-score table


def test_generic_classifier_prefers_predict_proba(binary_data):
    X, y = binary_data
    model = LogisticRegression().fit(X, y)  # has both methods
    adapter = make_adapter(model, task="classification")
    assert isinstance(adapter, ProbaTeacher)
    np.testing.assert_allclose(adapter.outputs(X), np.log(np.clip(model.predict_proba(X), PROBA_CLIP, 1)))


def test_raw_score_table_covers_the_boosting_libraries():
    assert RAW_SCORES["xgboost"].predict_params == {"output_margin": True}
    assert RAW_SCORES["lightgbm"].predict_params == {"raw_score": True}
    assert RAW_SCORES["catboost"].predict_params == {"prediction_type": "RawFormulaVal"}


def test_xgboost_teacher_raw_margins_also_for_a_subclass(multiclass_data):
    xgb = pytest.importorskip("xgboost")
    X, y = multiclass_data

    class MyXGB(xgb.XGBClassifier):  # defined outside the xgboost package
        pass

    for model in [xgb.XGBClassifier(n_estimators=10), MyXGB(n_estimators=10)]:
        model.fit(X, y)
        adapter = make_adapter(model, task="classification")
        assert isinstance(adapter, RawScoreTeacher)
        np.testing.assert_allclose(adapter.outputs(X), model.predict(X, output_margin=True), rtol=1e-6)
    est = DistilledClassifier(model, **{**FAST, "max_epochs": 30}).fit(X, y)
    assert np.mean(est.predict(X) == model.predict(X)) > 0.8


def test_xgboost_binary_margin_is_two_logits(binary_data):
    xgb = pytest.importorskip("xgboost")
    X, y = binary_data
    model = xgb.XGBClassifier(n_estimators=10).fit(X, y)
    logits = make_adapter(model, task="classification").outputs(X)
    np.testing.assert_allclose(logits[:, 0], 0)
    np.testing.assert_allclose(logits[:, 1], model.predict(X, output_margin=True), rtol=1e-6)
    np.testing.assert_allclose(softmax(logits, axis=1), model.predict_proba(X), rtol=1e-5)


def test_catboost_classifier_is_read_through_probabilities(multiclass_data):
    catboost = pytest.importorskip("catboost")
    X, y = multiclass_data
    model = catboost.CatBoostClassifier(iterations=10, verbose=0, allow_writing_files=False).fit(X, y)
    adapter = make_adapter(model, task="classification")
    assert isinstance(adapter, ProbaTeacher)
    est = DistilledClassifier(model, **{**FAST, "max_epochs": 30}).fit(X, y)
    assert np.mean(est.predict(X) == model.predict(X).ravel()) > 0.8


def test_ensemble_of_confident_teachers_stays_finite(binary_data):
    X, y = binary_data

    class Sure(Teacher):
        task = "classification"
        classes_ = np.array([0, 1])

        def __init__(self, scale):
            self.scale = scale

        def outputs(self, X):
            return np.column_stack([np.zeros(len(X)), np.full(len(X), self.scale)])

    out = adapt_teacher([Sure(1000.0), Sure(-1000.0)], task="classification").outputs(X[:3])
    np.testing.assert_allclose(np.exp(out), 0.5, rtol=1e-9)


# ---------------------------------------------------------------------------
# the one distiller finder, and the distiller's teacher outputs


def test_find_distiller(binary_data):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression(), **FAST)
    assert find_distiller(est)[0] == "" and find_distiller(est)[2] is est
    pipe = make_pipeline(StandardScaler(), make_pipeline(StandardScaler(), est)).fit(X, y)
    prefix, transform, distiller = find_distiller(pipe)
    assert prefix == "pipeline__distilledclassifier__"
    assert distiller is pipe[-1][-1]
    np.testing.assert_allclose(transform(X), pipe[-1][0].transform(pipe[0].transform(X)))
    assert find_distiller(LogisticRegression()) is None
    assert find_distiller(make_pipeline(StandardScaler(), LogisticRegression())) is None
    with pytest.raises(TypeError, match="got Pipeline ending in LogisticRegression"):
        agreement_score(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), X)


def test_teacher_outputs_of_a_fitted_distiller(binary_data, tmp_path):
    from sklearn.exceptions import NotFittedError

    from skdistill import load_student, save_student

    X, y = binary_data
    teacher = LogisticRegression().fit(X, y)
    est = DistilledClassifier(teacher, **FAST)
    with pytest.raises(NotFittedError):
        est._teacher_outputs(X)
    est.fit(X, y)
    np.testing.assert_allclose(
        est._teacher_outputs(X[:5]), np.log(np.clip(teacher.predict_proba(X[:5]), PROBA_CLIP, 1))
    )
    save_student(est, tmp_path / "s.zip")
    with pytest.raises(NotFittedError, match="no fitted teacher"):
        load_student(tmp_path / "s.zip")._teacher_outputs(X)
    assert copy.deepcopy(est)._teacher_outputs(X[:2]).shape == (2, 2)
