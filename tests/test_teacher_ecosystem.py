"""Teachers from the wider ecosystem: the task check, raw boosters, FrozenEstimator, SVC.

Raw ``lightgbm.Booster`` / ``xgboost.Booster`` teachers (from ``lgb.train`` /
``xgb.train``) and :class:`sklearn.frozen.FrozenEstimator` around a fitted
model; the tests of a library that is not installed are skipped.
"""

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skdistill import MLP, DistilledClassifier, DistilledRegressor
from skdistill._teacher import PROBA_CLIP, make_adapter

from ._recording import RecordTargets
from .conftest import FAST


@pytest.fixture
def reg_data():
    return make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)


def _adapter_outputs(teacher, X, task="classification"):
    return make_adapter(teacher, task=task, n_features=X.shape[1]).outputs(X)


# ---------------------------------------------------------------------------
# DistilledRegressor refuses classifiers


def _skorch_classifier():
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(
        MLP, module__n_inputs=6, module__n_outputs=2, criterion=torch.nn.CrossEntropyLoss,
        max_epochs=1, train_split=None, verbose=0,
    )


@pytest.mark.parametrize(
    "make_teacher",
    [
        pytest.param(lambda X, y: RandomForestClassifier(5, random_state=0).fit(X, y), id="fitted"),
        pytest.param(lambda X, y: LogisticRegression(), id="unfitted"),
        pytest.param(lambda X, y: make_pipeline(StandardScaler(), LogisticRegression()), id="pipeline"),
        pytest.param(lambda X, y: FrozenEstimator(LogisticRegression().fit(X, y)), id="frozen"),
        pytest.param(lambda X, y: _skorch_classifier(), id="skorch"),
    ],
)
def test_regressor_refuses_classifier_teacher(binary_data, make_teacher):
    X, y = binary_data
    teacher = make_teacher(X, y)
    with pytest.raises(TypeError, match="is a classifier.*DistilledClassifier"):
        DistilledRegressor(teacher, **FAST).fit(X, y.astype(float))


def test_regressor_refuses_classifier_in_a_list_and_names_it(binary_data):
    X, y = binary_data
    teachers = [Ridge().fit(X, y), LogisticRegression().fit(X, y)]
    with pytest.raises(TypeError, match="is a classifier") as info:
        DistilledRegressor(teachers, **FAST).fit(X, y.astype(float))
    assert "teacher[1]" in str(info.value.__notes__)


def test_regressor_still_takes_regressors_in_any_wrapper(reg_data):
    X, y = reg_data
    ridge = Ridge().fit(X, y)
    forest = RandomForestRegressor(5, random_state=0).fit(X, y)
    for teacher, predictions in [
        (make_pipeline(StandardScaler(), Ridge()), make_pipeline(StandardScaler(), Ridge()).fit(X, y).predict(X)),
        (FrozenEstimator(ridge), ridge.predict(X)),
        ([ridge, forest], (ridge.predict(X) + forest.predict(X)) / 2),  # equal weights
    ]:
        record = RecordTargets()
        est = DistilledRegressor(teacher, **{**FAST, "callbacks": [("record", record)]}).fit(X, y)
        # the student learns the teacher's predictions (standardized: [teacher, y, has_y, weight])
        learned = record.targets_[:, 0] * est.target_scale_[0] + est.target_mean_[0]
        np.testing.assert_allclose(learned, predictions, rtol=1e-4, atol=1e-3 * np.std(y))
        assert est.predict(X).shape == (len(X),)


# ---------------------------------------------------------------------------
# SVC(decision_function_shape="ovo")


@pytest.mark.parametrize("n_classes", [3, 4])
@pytest.mark.parametrize("in_pipeline", [False, True])
def test_svc_ovo_error_says_to_use_ovr(n_classes, in_pipeline):
    X, y = make_classification(
        n_samples=240, n_features=6, n_informative=4, n_classes=n_classes, random_state=0
    )
    svc = SVC(decision_function_shape="ovo")
    teacher = (make_pipeline(StandardScaler(), svc) if in_pipeline else svc).fit(X, y)
    # with 3 classes the 3 pairwise columns used to pass for 3 logits, silently
    with pytest.raises(ValueError, match="decision_function_shape='ovr'"):
        DistilledClassifier(teacher, **FAST).fit(X, y)
    # what the message says works
    svc.set_params(decision_function_shape="ovr")
    DistilledClassifier(clone(teacher).fit(X, y), **FAST).fit(X, y)


def test_binary_svc_ovo_is_fine(binary_data):
    X, y = binary_data
    teacher = SVC(decision_function_shape="ovo").fit(X, y)
    logits = _adapter_outputs(teacher, X)
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], teacher.decision_function(X))


# ---------------------------------------------------------------------------
# FrozenEstimator


class CountingClassifier(ClassifierMixin, BaseEstimator):
    """Counts its fits and its predict_proba calls (on the class: clones share them)."""

    fits = 0
    calls = 0

    def fit(self, X, y):
        type(self).fits += 1
        self.inner_ = LogisticRegression().fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict_proba(self, X):
        type(self).calls += 1
        return self.inner_.predict_proba(X)


def test_frozen_teacher_is_shared_and_never_refit(binary_data):
    X, y = binary_data
    CountingClassifier.fits = 0
    inner = CountingClassifier().fit(X, y)
    frozen = FrozenEstimator(inner)
    est = DistilledClassifier(frozen, **FAST).fit(X, y)
    assert est.teacher_ is frozen and frozen.estimator is inner
    assert clone(est).teacher is frozen
    search = GridSearchCV(
        DistilledClassifier(frozen, **FAST), {"temperature": [1.0, 3.0]}, cv=3
    ).fit(X, y)
    assert search.best_estimator_.teacher_ is frozen
    assert CountingClassifier.fits == 1  # only the user's own fit
    with pytest.raises(ValueError, match="fitted and shared"):
        DistilledClassifier(frozen).set_params(teacher__estimator=LogisticRegression())


def test_frozen_teacher_answers_like_the_model_inside(binary_data):
    X, y = binary_data
    forest = RandomForestClassifier(20, random_state=0).fit(X, y)
    np.testing.assert_allclose(
        _adapter_outputs(FrozenEstimator(forest), X),
        np.log(np.clip(forest.predict_proba(X), PROBA_CLIP, 1)),
    )


def test_frozen_pipeline_that_imputes_accepts_nan(binary_data):
    X, y = binary_data
    X = X.copy()
    X[::7, 0] = np.nan
    teacher = FrozenEstimator(make_pipeline(SimpleImputer(), LogisticRegression()).fit(X, y))
    est = DistilledClassifier(teacher, **FAST).fit(X, y)
    assert np.isfinite(est.predict_proba(X)).all()
    # the student follows the teacher, on the rows with a missing value too
    agree = est.predict(X) == teacher.predict(X)
    assert agree.mean() > 0.8 and agree[::7].mean() > 0.7


def test_frozen_unfitted_teacher_is_a_clear_error(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="FrozenEstimator around an unfitted LogisticRegression"):
        DistilledClassifier(FrozenEstimator(LogisticRegression()), **FAST).fit(X, y)


def test_frozen_lightgbm_keeps_raw_margins(multiclass_data):
    lgb = pytest.importorskip("lightgbm")
    X, y = multiclass_data
    model = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y)
    np.testing.assert_allclose(
        _adapter_outputs(FrozenEstimator(model), X), model.predict(X, raw_score=True)
    )


def test_frozen_xgboost_keeps_raw_margins(binary_data):
    xgb = pytest.importorskip("xgboost")
    X, y = binary_data
    model = xgb.XGBClassifier(n_estimators=20).fit(X, y)
    logits = _adapter_outputs(FrozenEstimator(model), X)
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], model.predict(X, output_margin=True), rtol=1e-6)


# ---------------------------------------------------------------------------
# raw boosters: lightgbm.Booster


def _lgb_booster(X, y, **params):
    lgb = pytest.importorskip("lightgbm")
    return lgb.train({"verbose": -1, **params}, lgb.Dataset(X, y), num_boost_round=20)


def test_lightgbm_booster_multiclass_raw_margins(multiclass_data):
    X, y = multiclass_data
    booster = _lgb_booster(X, y, objective="multiclass", num_class=3)
    np.testing.assert_allclose(_adapter_outputs(booster, X), booster.predict(X, raw_score=True))
    est = DistilledClassifier(booster, **{**FAST, "max_epochs": 20}).fit(X, y)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    assert est.teacher_ is booster
    assert np.mean(est.predict(X) == booster.predict(X).argmax(1)) > 0.8


def test_lightgbm_booster_binary_with_string_labels_and_nan(binary_data):
    X, y = binary_data
    X = X.copy()
    X[::9, 1] = np.nan
    booster = _lgb_booster(X, y, objective="binary")
    labels = np.array(["no", "yes"])[y]
    est = DistilledClassifier(booster, **{**FAST, "max_epochs": 20}).fit(X, labels)
    np.testing.assert_array_equal(est.classes_, ["no", "yes"])
    logits = _adapter_outputs(booster, X)
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], booster.predict(X, raw_score=True))
    assert np.mean(est.predict(X) == np.where(booster.predict(X) > 0.5, "yes", "no")) > 0.85


def test_lightgbm_booster_loaded_from_file(multiclass_data, tmp_path):
    lgb = pytest.importorskip("lightgbm")
    X, y = multiclass_data
    trained = _lgb_booster(X, y, objective="softmax", num_class=3)
    trained.save_model(tmp_path / "m.txt")
    booster = lgb.Booster(model_file=tmp_path / "m.txt")
    est = DistilledClassifier(booster, **FAST).fit(X, y)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    # the loaded booster teaches as the one trained in memory: the same student
    reference = DistilledClassifier(trained, **FAST).fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X), reference.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_lightgbm_booster_regression(reg_data):
    X, y = reg_data
    booster = _lgb_booster(X, y)  # the default objective: regression
    np.testing.assert_allclose(_adapter_outputs(booster, X, "regression")[:, 0], booster.predict(X))
    est = DistilledRegressor(booster, **{**FAST, "max_epochs": 30}).fit(X, y)
    assert est.score(X, booster.predict(X)) > 0.5


def test_lightgbm_booster_task_mismatch_names_the_way_out(binary_data, reg_data):
    X, y = binary_data
    with pytest.raises(TypeError, match="classification objective 'binary'.*DistilledClassifier"):
        DistilledRegressor(_lgb_booster(X, y, objective="binary"), **FAST).fit(X, y.astype(float))
    Xr, yr = reg_data
    with pytest.raises(TypeError, match="'regression'.*lightgbm.LGBMClassifier"):
        DistilledClassifier(_lgb_booster(Xr, yr), **FAST).fit(Xr, yr > 0)


def test_lightgbm_booster_labels_that_cannot_be_mapped(multiclass_data):
    X, y = multiclass_data
    booster = _lgb_booster(X, y, objective="multiclass", num_class=3)
    with pytest.raises(ValueError, match="3 classes.*lightgbm.LGBMClassifier"):
        DistilledClassifier(booster, **FAST).fit(X, np.array(["a", "b", "c", "d"])[np.arange(len(y)) % 4])
    with pytest.raises(ValueError, match="3 classes"):
        DistilledClassifier(booster, **FAST).fit(X, y + 1)
    # a training set that lacks a class keeps the booster's three classes
    keep = y != 2
    est = DistilledClassifier(booster, **FAST).fit(X[keep], y[keep])
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])


def test_booster_teacher_survives_clone_and_grid_search(binary_data):
    X, y = binary_data
    booster = _lgb_booster(X, y, objective="binary")
    est = DistilledClassifier(booster, **FAST)
    assert clone(est).teacher is booster
    search = GridSearchCV(est, {"alpha": [0.5, 0.9]}, cv=3).fit(X, y)
    assert search.best_estimator_.teacher_ is booster


# ---------------------------------------------------------------------------
# raw boosters: xgboost.Booster


def _xgb_booster(X, y, **params):
    xgb = pytest.importorskip("xgboost")
    return xgb.train(params, xgb.DMatrix(X, y), num_boost_round=20)


def test_xgboost_booster_multiclass_raw_margins(multiclass_data):
    xgb = pytest.importorskip("xgboost")
    X, y = multiclass_data
    booster = _xgb_booster(X, y, objective="multi:softprob", num_class=3)
    np.testing.assert_allclose(
        _adapter_outputs(booster, X), booster.predict(xgb.DMatrix(X), output_margin=True), rtol=1e-6
    )
    est = DistilledClassifier(booster, **{**FAST, "max_epochs": 20}).fit(X, y)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    assert np.mean(est.predict(X) == booster.predict(xgb.DMatrix(X)).argmax(1)) > 0.8


def test_xgboost_booster_binary(binary_data):
    xgb = pytest.importorskip("xgboost")
    X, y = binary_data
    booster = _xgb_booster(X, y, objective="binary:logistic")
    logits = _adapter_outputs(booster, X)
    np.testing.assert_allclose(
        logits[:, 1] - logits[:, 0], booster.predict(xgb.DMatrix(X), output_margin=True), rtol=1e-6
    )
    est = DistilledClassifier(booster, **FAST).fit(X, y)
    np.testing.assert_array_equal(est.classes_, [0, 1])


def test_xgboost_booster_regression_and_task_mismatch(reg_data, binary_data):
    xgb = pytest.importorskip("xgboost")
    X, y = reg_data
    booster = _xgb_booster(X, y, objective="reg:squarederror")
    np.testing.assert_allclose(
        _adapter_outputs(booster, X, "regression")[:, 0], booster.predict(xgb.DMatrix(X)), rtol=1e-6
    )
    est = DistilledRegressor(booster, **{**FAST, "max_epochs": 30}).fit(X, y)
    assert est.score(X, booster.predict(xgb.DMatrix(X))) > 0.5
    with pytest.raises(TypeError, match="'reg:squarederror'.*xgboost.XGBClassifier"):
        DistilledClassifier(booster, **FAST).fit(X, y > 0)
    Xb, yb = binary_data
    with pytest.raises(TypeError, match="classification objective 'binary:logistic'"):
        DistilledRegressor(_xgb_booster(Xb, yb, objective="binary:logistic"), **FAST).fit(Xb, yb * 1.0)


# ---------------------------------------------------------------------------
# raw CatBoost models (catboost.train)


def test_catboost_raw_model_classifier_raw_margins(multiclass_data):
    catboost = pytest.importorskip("catboost")
    X, y = multiclass_data
    params = {"loss_function": "MultiClass", "iterations": 20, "verbose": 0}
    model = catboost.train(catboost.Pool(X, y), {**params, "allow_writing_files": False})
    np.testing.assert_allclose(
        _adapter_outputs(model, X), model.predict(X, prediction_type="RawFormulaVal")
    )
    est = DistilledClassifier(model, **{**FAST, "max_epochs": 20}).fit(X, y)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    assert np.mean(est.predict(X) == model.predict(X, prediction_type="Class").ravel()) > 0.8


def test_booster_trained_further_in_place_is_labelled_again(binary_data):
    lgb = pytest.importorskip("lightgbm")
    X, y = binary_data
    booster = lgb.train(
        {"objective": "binary", "verbose": -1}, lgb.Dataset(X, y, free_raw_data=False),
        num_boost_round=2, keep_training_booster=True,
    )
    first = DistilledClassifier(booster, **{**FAST, "alpha": 1.0}).fit(X, y)
    booster.update()  # one more round, in place
    again = DistilledClassifier(booster, **{**FAST, "alpha": 1.0}).fit(X, y)
    assert not np.allclose(first.predict_proba(X), again.predict_proba(X))
