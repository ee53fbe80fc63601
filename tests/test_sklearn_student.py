"""A scikit-learn estimator as the student (skdistill/_sklearn_student.py)."""

import io
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.validation import check_is_fitted

from skdistill import (
    DistilledClassifier,
    DistilledRegressor,
    compare_models,
    model_size_bytes,
    onnx_inputs,
    save_student,
    to_onnx,
)
from skdistill._sklearn_student import (
    LOGIT_FLOOR,
    MIN_REPLICA_WEIGHT,
    NEURAL_ONLY_PARAMS,
    _pruned,
    logit_targets,
    soft_targets,
)

from .test_classifier import CountingTeacher


@pytest.fixture
def forest_task():
    X, y = make_classification(
        n_samples=400, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    teacher = RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
    return X, y, teacher


def _not_fitted(est):
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    return True


# ---------------------------------------------------------------------------
# what the student learns


def test_regression_student_fits_the_blend_of_teacher_and_y():
    X, y = make_regression(n_samples=150, n_features=4, noise=20.0, random_state=0)
    teacher = Ridge().fit(X, y)
    tree = DecisionTreeRegressor(random_state=0)  # unlimited depth: reproduces its targets
    for alpha, expected in [(1.0, teacher.predict(X)), (0.0, y), (0.4, 0.4 * teacher.predict(X) + 0.6 * y)]:
        est = DistilledRegressor(teacher, student=tree, alpha=alpha, augment=None).fit(X, y)
        assert isinstance(est.student_, DecisionTreeRegressor)
        np.testing.assert_allclose(est.predict(X), expected, rtol=1e-4, atol=1e-3)
    assert _not_fitted(tree)  # the user's student is cloned, never fitted


def test_multioutput_regression_wraps_single_output_models():
    X, y = make_regression(n_samples=150, n_features=4, n_targets=2, random_state=0)
    teacher = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    est = DistilledRegressor(teacher, student=HistGradientBoostingRegressor(max_iter=10), augment=None, random_state=0)
    est.fit(X, y)
    assert isinstance(est.student_, MultiOutputRegressor)
    assert est.predict(X).shape == (150, 2)
    native = DistilledRegressor(teacher, student=DecisionTreeRegressor(), augment=None).fit(X, y)
    assert isinstance(native.student_, DecisionTreeRegressor)


@pytest.mark.parametrize("temperature", [1.0, 3.0])
@pytest.mark.parametrize(
    "student", [DecisionTreeRegressor(random_state=0), DecisionTreeClassifier(random_state=0)],
    ids=["logits", "weights"],
)
def test_alpha_1_student_reproduces_teacher_probabilities_at_any_temperature(forest_task, student, temperature):
    # an unlimited tree on distinct rows reproduces its targets: the predictions
    # are the targets softened by T, sharpened back by T at predict
    X, y, teacher = forest_task
    est = DistilledClassifier(teacher, student=student, alpha=1.0, temperature=temperature, augment=None)
    proba = est.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba, teacher.predict_proba(X).clip(1e-6), atol=0.02)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(est.predict(X), teacher.predict(X))


class _RecordingTree(DecisionTreeClassifier):
    """A classifier student that keeps the rows, labels and weights it was fitted on."""

    def fit(self, X, y, sample_weight=None):
        self.seen_ = (np.asarray(X).copy(), np.asarray(y).copy(), np.asarray(sample_weight).copy())
        return super().fit(X, y, sample_weight=sample_weight)


def test_weighted_rows_skip_negligible_classes_and_keep_each_rows_weight():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=4, random_state=0)
    teacher = LogisticRegression(max_iter=1000).fit(X, y)  # every probability above 0
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    est = DistilledClassifier(teacher, student=_RecordingTree(max_depth=3, random_state=0),
                              augment=None, alpha=0.5, temperature=1.0).fit(X, y, sample_weight=w)
    Z, labels, weights = est.student_.seen_
    assert weights.min() >= MIN_REPLICA_WEIGHT * w.min() * 0.999
    q = soft_targets(np.log(teacher.predict_proba(X)), y, temperature=1.0, alpha=0.5)
    kept = q >= MIN_REPLICA_WEIGHT
    assert (~kept).any() and len(labels) == kept.sum()  # some replicas dropped, no other
    # each row's replicas share its weight: rows are found back by their encoded values
    rows = {tuple(z): i for i, z in enumerate(est.preprocessor_.transform(X))}
    totals = np.zeros(len(y))
    np.add.at(totals, [rows[tuple(z)] for z in Z], weights)
    np.testing.assert_allclose(totals, w, rtol=1e-6)


def test_auto_early_stopping_is_decided_on_the_transfer_rows_not_their_replicas():
    # 3000 rows, 5 classes: ~15000 weighted replicas, over the 10000 rows above which
    # early_stopping="auto" turns on; on the 3000 rows themselves it stays off
    X, y = make_classification(n_samples=3000, n_features=6, n_informative=4, n_classes=5, random_state=0)
    teacher = LogisticRegression(max_iter=1000).fit(X, y)  # no probability pruned to 0
    student = HistGradientBoostingClassifier(max_iter=5, random_state=0)
    est = DistilledClassifier(teacher, student=student, augment=None).fit(X, y)
    assert not est.student_.do_early_stopping_ and est.student_.n_iter_ == 5
    assert student.early_stopping == "auto"  # the user's student is left alone
    # an explicit choice is kept
    on = clone(student).set_params(early_stopping=True)
    assert DistilledClassifier(teacher, student=on, augment=None).fit(X, y).student_.do_early_stopping_
    # above 10000 transfer rows "auto" turns it on, as for the model fit on those rows
    X_big, y_big = make_classification(n_samples=12000, n_features=6, n_informative=4, random_state=0)
    teacher_big = LogisticRegression(max_iter=1000).fit(X_big, y_big)
    big = DistilledClassifier(teacher_big, student=clone(student), augment=None).fit(X_big, y_big)
    assert big.student_.do_early_stopping_


def test_pruning_keeps_the_most_probable_class_of_a_flat_row():
    flat = _pruned(np.full((1, 2000), 1 / 2000))  # every class below the threshold
    assert np.isfinite(flat).all() and np.isclose(flat.sum(), 1.0)
    sharp = _pruned(np.array([[0.9995, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4]]))
    np.testing.assert_allclose(sharp, [[1, 0, 0, 0, 0, 0]])


def test_temperature_changes_the_fitted_targets(forest_task):
    X, y, teacher = forest_task
    fits = {
        t: DistilledClassifier(teacher, student=DecisionTreeRegressor(max_depth=3, random_state=0),
                               temperature=t, alpha=0.5, augment=None).fit(X, y)
        for t in (1.0, 4.0)
    }
    v1, v4 = (fits[t].student_.tree_.value.ravel() for t in (1.0, 4.0))
    assert v1.shape == v4.shape and not np.allclose(v1, v4)
    # the soft part is divided by T, the label part is not: not a mere rescaling
    logits = np.log(teacher.predict_proba(X[:5]).clip(1e-6))
    u1 = logit_targets(soft_targets(logits, y[:5], temperature=1.0, alpha=0.5))
    u4 = logit_targets(soft_targets(logits, y[:5], temperature=4.0, alpha=0.5))
    assert not np.allclose(u1 / u1[:, :1], u4 / u4[:, :1])


def test_soft_targets_mix_teacher_and_labels():
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]]))
    q = soft_targets(logits, np.array([2, -1]), temperature=1.0, alpha=0.25)
    np.testing.assert_allclose(q[0], 0.25 * np.array([0.7, 0.2, 0.1]) + 0.75 * np.array([0, 0, 1]))
    np.testing.assert_allclose(q[1], [0.2, 0.5, 0.3])  # an unlabeled row: the teacher only
    u = logit_targets(q)
    np.testing.assert_allclose(u.sum(axis=1), 0.0, atol=1e-12)
    assert np.isfinite(logit_targets(np.array([[0.0, 0.0, 1.0]]))).all()
    binary = logit_targets(np.array([[0.25, 0.75]]))
    k = 2
    expected = np.log((1 - LOGIT_FLOOR) * 0.75 + LOGIT_FLOOR / k) - np.log((1 - LOGIT_FLOOR) * 0.25 + LOGIT_FLOOR / k)
    np.testing.assert_allclose(binary, [expected])


def test_distilled_boosting_follows_the_teacher_better_than_labels_alone():
    X, y = make_classification(n_samples=1200, n_features=8, n_informative=5, flip_y=0.15, random_state=2)
    X_tr, X_te, y_tr = X[:400], X[400:], y[:400]
    teacher = RandomForestClassifier(n_estimators=100, random_state=0).fit(X_tr, y_tr)
    student = HistGradientBoostingRegressor(max_iter=50, random_state=0)
    distilled = DistilledClassifier(teacher, student=student, alpha=1.0, random_state=0).fit(X_tr, y_tr)
    labels_only = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(X_tr, y_tr)
    ref = teacher.predict(X_te)
    assert np.mean(distilled.predict(X_te) == ref) > np.mean(labels_only.predict(X_te) == ref) + 0.02


def test_distilled_regression_student_follows_the_teacher_better_than_labels_alone():
    X, y = make_regression(n_samples=600, n_features=6, noise=30.0, random_state=0)
    X_tr, X_te, y_tr = X[:400], X[400:], y[:400]
    teacher = RandomForestRegressor(n_estimators=100, random_state=0).fit(X_tr, y_tr)
    student = HistGradientBoostingRegressor(max_iter=50, random_state=0)
    distilled = DistilledRegressor(teacher, student=student, alpha=1.0, random_state=0).fit(X_tr, y_tr)
    labels_only = clone(student).fit(X_tr, y_tr)
    ref = teacher.predict(X_te)
    assert r2_score(ref, distilled.predict(X_te)) > r2_score(ref, labels_only.predict(X_te)) + 0.02


# ---------------------------------------------------------------------------
# the estimator around it


@pytest.mark.parametrize(
    "student",
    [HistGradientBoostingRegressor(max_iter=10), Ridge(), HistGradientBoostingClassifier(max_iter=10)],
    ids=["hgb-regressor", "ridge", "hgb-classifier"],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_proba_and_classes(student, n_classes):
    X, y = make_classification(n_samples=200, n_features=5, n_informative=3, n_classes=n_classes, random_state=0)
    labels = np.array(["ant", "bee", "cat"])[y]
    teacher = LogisticRegression().fit(X, labels)
    est = DistilledClassifier(teacher, student=student, random_state=0).fit(X, labels)
    np.testing.assert_array_equal(est.classes_, teacher.classes_)
    proba = est.predict_proba(X)
    assert proba.shape == (200, n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(est.predict(X)) <= set(teacher.classes_)
    np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(axis=1)])
    assert np.mean(est.predict(X) == teacher.predict(X)) > 0.85
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), proba, rtol=1e-5)
    assert est.decision_function(X).shape == ((200,) if n_classes == 2 else (200, n_classes))


def test_params_are_nested_and_settable(forest_task):
    X, y, teacher = forest_task
    est = DistilledClassifier(teacher, student=HistGradientBoostingRegressor(max_iter=10))
    params = est.get_params(deep=True)
    assert params["student__max_iter"] == 10
    est.set_params(student__max_iter=3, student__learning_rate=0.2)
    assert est.student.max_iter == 3
    est.set_params(random_state=0).fit(X, y)
    assert est.student_.estimators_[0].n_iter_ == 3


def test_grid_search_over_student_params_queries_the_teacher_once_per_training_set(binary_data):
    X, y = binary_data
    teacher = CountingTeacher(LogisticRegression()).fit(X, y)
    search = GridSearchCV(
        DistilledClassifier(teacher, student=HistGradientBoostingRegressor(), augment=None, random_state=0),
        {"student__max_iter": [2, 20], "temperature": [1.0, 3.0], "alpha": [0.5, 1.0]},
        cv=3,
    ).fit(X, y)
    assert set(search.best_params_) == {"student__max_iter", "temperature", "alpha"}
    scores = search.cv_results_["mean_test_score"]
    assert np.ptp(scores) > 0  # the candidates differ
    # 8 candidates x 3 folds + the refit, but 4 distinct training sets: each labelled once
    assert len(teacher.calls_) == len(set(teacher.calls_)) == 4
    assert search.best_estimator_.student_.n_iter_ == search.best_params_["student__max_iter"]


def test_pipeline_and_pickling(mixed_frame):
    X, y = mixed_frame
    teacher = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["color"]), remainder=SimpleImputer()),
        RandomForestClassifier(n_estimators=20, random_state=0),
    ).fit(X, y)
    pipe = make_pipeline(
        DistilledClassifier(teacher, student=HistGradientBoostingClassifier(max_iter=10), random_state=0)
    ).fit(X, y)
    again = joblib.load(io.BytesIO(_dumps(pipe)))
    np.testing.assert_array_equal(again.predict_proba(X), pipe.predict_proba(X))
    assert pickle.loads(pickle.dumps(pipe)).score(X, y) == pipe.score(X, y)


def _dumps(obj):
    buf = io.BytesIO()
    joblib.dump(obj, buf)
    return buf.getvalue()


def test_refit_with_the_neural_student_drops_the_sklearn_one(forest_task):
    X, y, teacher = forest_task
    est = DistilledClassifier(teacher, student=Ridge(), augment=None, random_state=0).fit(X, y)
    assert isinstance(est.student_, Ridge)
    est.set_params(student=None, max_epochs=2).fit(X, y)
    assert hasattr(est.student_, "module_")
    assert not hasattr(est, "_sklearn_student_")
    assert est.predict_proba(X).shape == (len(X), 3)


def test_unlabeled_rows_reach_the_student(forest_task):
    X, y, teacher = forest_task
    est = DistilledClassifier(teacher, student=Ridge(), augment=None).fit(X[:200], y[:200], X_unlabeled=X[200:])
    assert est.n_transfer_ == 400
    assert est.student_.n_features_in_ == est.preprocessor_.transform(X[:1]).shape[1]


def test_compare_models_size_and_reports(forest_task):
    X, y, teacher = forest_task
    tree = DistilledClassifier(teacher, student=DecisionTreeRegressor(max_depth=4), augment=None).fit(X, y)
    report = compare_models({"teacher": teacher, "tree": tree}, X, y, teacher="teacher")
    assert report.loc["tree", "size_bytes"] == model_size_bytes(tree)
    assert 0 < model_size_bytes(tree) < model_size_bytes(teacher)
    assert 0.5 < report.loc["tree", "agreement"] <= 1


def test_save_student_raises_a_clear_error(forest_task):
    X, y, teacher = forest_task
    est = DistilledClassifier(teacher, student=Ridge(), augment=None).fit(X, y)
    with pytest.raises(TypeError, match="scikit-learn Ridge.*skops"):
        save_student(est, io.BytesIO())


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "student",
    [
        DecisionTreeRegressor(max_depth=4),
        Ridge(),
        DecisionTreeClassifier(max_depth=4),
        HistGradientBoostingRegressor(max_iter=20),
        HistGradientBoostingClassifier(max_iter=20),
    ],
    ids=["tree-logits", "ridge-logits", "tree-weights", "hgb-logits", "hgb-weights"],
)
def test_to_onnx_reproduces_a_classifier_student(student, n_classes):
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=n_classes, random_state=0)
    teacher = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    est = DistilledClassifier(teacher, student=student, temperature=3.0, random_state=0).fit(X, y)
    model = to_onnx(est, X_sample=X)  # raises when onnxruntime disagrees with the estimator
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, onnx_inputs(model, X))[0]
    np.testing.assert_allclose(got, est.predict_proba(X), atol=1e-4)


def test_to_onnx_reproduces_a_regression_tree_student():
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    X, y = make_regression(n_samples=200, n_features=4, n_targets=2, random_state=0)
    teacher = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    est = DistilledRegressor(teacher, student=DecisionTreeRegressor(max_depth=5), random_state=0).fit(X, y)
    assert to_onnx(est, X_sample=X).graph.output[0].name == "predictions"


def test_to_onnx_reproduces_a_boosted_regression_student_with_missing_values():
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    X, y = make_regression(n_samples=300, n_features=5, random_state=0)
    X[::6, 2] = np.nan  # the trees route missing values; the export must too
    teacher = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    est = DistilledRegressor(
        teacher, student=HistGradientBoostingRegressor(max_iter=20), augment=None, random_state=0
    ).fit(X, y)
    model = to_onnx(est, X_sample=X)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, onnx_inputs(model, X))[0].ravel()
    np.testing.assert_allclose(got, est.predict(X), rtol=1e-5, atol=1e-4 * np.std(y))


def test_to_onnx_raises_when_the_converter_fails():
    pytest.importorskip("skl2onnx")
    X, y = make_regression(n_samples=100, n_features=3, random_state=0)
    est = DistilledRegressor(Ridge(), student=_Unconvertible(), augment=None).fit(X, y)
    with pytest.raises(TypeError, match="could not convert the scikit-learn student _Unconvertible"):
        to_onnx(est)


class _Unconvertible(Ridge):
    """A regressor skl2onnx has no converter for."""


# ---------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    "est, match",
    [
        (DistilledRegressor(Ridge(), student=HistGradientBoostingClassifier()), "is a classifier; a DistilledRegressor"),
        (DistilledClassifier(LogisticRegression(), student=KNeighborsClassifier()), "takes no sample_weight"),
        (DistilledClassifier(LogisticRegression(), student=DecisionTreeRegressor), "is a class; pass an unfitted"),
        (DistilledClassifier(LogisticRegression(), student=StandardScaler()), "unfitted scikit-learn estimator; got StandardScaler"),
    ],
)
def test_unsupported_students_raise(binary_data, est, match):
    X, y = binary_data
    if isinstance(est, DistilledRegressor):
        y = y.astype(float)
    with pytest.raises(TypeError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "student_")


def test_on_disk_transfer_set_is_loaded_for_the_student(tmp_path):
    pytest.importorskip("pyarrow")
    da = pytest.importorskip("dask.array")
    from skdistill import label_transfer_set

    X_all, y_all = make_classification(n_samples=3000, n_features=6, n_informative=4, random_state=3)
    teacher = LogisticRegression().fit(X_all, y_all)
    X, y = X_all[:40], y_all[:40]
    ts = label_transfer_set(teacher, da.from_array(X_all[40:2000], chunks=(500, 6)), tmp_path / "t")
    params = dict(student=DecisionTreeRegressor(max_depth=6, random_state=0), alpha=1.0, augment=None)
    small = DistilledClassifier(teacher, **params).fit(X, y)
    big = DistilledClassifier(teacher, **params).fit(X, y, X_unlabeled=ts)
    assert big.n_transfer_ == 2000
    test = X_all[2000:]
    agree_small = np.mean(small.predict(test) == teacher.predict(test))
    agree_big = np.mean(big.predict(test) == teacher.predict(test))
    assert agree_big > agree_small + 0.05


def test_the_network_parameters_do_not_change_a_sklearn_student(forest_task):
    X, y, teacher = forest_task
    base = DistilledClassifier(teacher, student=HistGradientBoostingRegressor(max_iter=10), random_state=0)
    neural = dict(
        hidden_layer_sizes=(3,), dropout=0.5, max_epochs=1, batch_size=7, lr=1.0, weight_decay=1.0,
        early_stopping="teacher_kl", validation_fraction=0.5, n_iter_no_change=1, callbacks=[], device="cpu",
    )
    assert set(neural) == set(NEURAL_ONLY_PARAMS)
    a = clone(base).fit(X, y).predict_proba(X)
    b = clone(base).set_params(**neural).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_displays_take_a_sklearn_student(forest_task):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skdistill import (
        CompressionTradeoffDisplay,
        DistillationGridDisplay,
        ProbabilityAgreementDisplay,
        agreement_score,
    )

    X, y, teacher = forest_task
    search = GridSearchCV(
        DistilledClassifier(teacher, student=DecisionTreeRegressor(max_depth=4, random_state=0), augment=None),
        {"temperature": [1.0, 4.0], "alpha": [0.0, 1.0]},
        cv=2,
        scoring={"accuracy": "accuracy", "agreement": agreement_score},
        refit="accuracy",
    ).fit(X, y)
    grid = DistillationGridDisplay.from_estimator(search)
    assert grid.agreement.shape == (2, 2)  # (alphas, temperatures)
    # alpha=0 learns the labels only: agreement with the teacher differs from alpha=1
    assert not np.allclose(grid.agreement[0], grid.agreement[1])
    student = search.best_estimator_
    agree = ProbabilityAgreementDisplay.from_estimator(student, X, y)
    assert agree.student_proba.shape == (len(X),)
    trade = CompressionTradeoffDisplay.from_estimators({"teacher": teacher, "tree": student}, X, y, teacher="teacher")
    assert trade.report.loc["tree", "size_bytes"] < trade.report.loc["teacher", "size_bytes"]
    plt.close("all")
