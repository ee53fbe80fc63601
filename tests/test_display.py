"""Display classes (skdistill._display) and agreement_score (skdistill._metrics)."""

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skdistill import (  # noqa: E402
    CompressionTradeoffDisplay,
    DistillationGridDisplay,
    DistilledClassifier,
    DistilledRegressor,
    ProbabilityAgreementDisplay,
    agreement_score,
)

from .conftest import FAST  # noqa: E402

SCORING = {"accuracy": "accuracy", "agreement": agreement_score}
PREFIX = "distilledclassifier__"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=160, n_features=5, n_informative=3, random_state=0)
    teacher = LogisticRegression().fit(X, y)
    return X, y, teacher


@pytest.fixture(scope="module")
def pipe_search(data):
    """A pipeline search with the agreement scorer, param names prefixed."""
    X, y, teacher = data
    pipe = make_pipeline(StandardScaler(), DistilledClassifier(teacher, **FAST))
    grid = {PREFIX + "temperature": [1.0, 4.0], PREFIX + "alpha": [0.2, 0.9]}
    return GridSearchCV(pipe, grid, cv=2, scoring=SCORING, refit="accuracy").fit(X, y)


@pytest.fixture(scope="module")
def student(data):
    X, y, teacher = data
    return DistilledClassifier(teacher, **FAST).fit(X, y)


def _cell_values(disp, results, key):
    """{(alpha, temperature): value} read from cv_results_, for a full grid."""
    out = {}
    for params, value in zip(results["params"], results[f"mean_test_{key}"]):
        out[(params[PREFIX + "alpha"], params[PREFIX + "temperature"])] = value
    return out


# ---------------------------------------------------------------------------
# agreement_score


def test_agreement_score_is_the_fraction_of_rows_predicted_as_the_teacher(data, student):
    X, y, teacher = data
    expected = np.mean(student.predict(X) == teacher.predict(X))
    assert agreement_score(student, X) == pytest.approx(expected)
    assert agreement_score(student, X, y) == agreement_score(student, X)  # y is ignored


def test_agreement_score_in_a_pipeline_gives_the_teacher_the_transformed_rows(data, pipe_search):
    X, _, teacher = data
    pipe = pipe_search.best_estimator_
    Xt = pipe[:-1].transform(X)
    expected = np.mean(pipe.predict(X) == teacher.predict(Xt))
    assert agreement_score(pipe, X) == pytest.approx(expected)


def test_agreement_score_with_several_teachers_uses_their_average(data):
    X, y, teacher = data
    other = LogisticRegression(C=0.01).fit(X, y)
    est = DistilledClassifier([teacher, other], teacher_weights=[0.3, 0.7], **FAST).fit(X, y)
    mean = 0.3 * teacher.predict_proba(X) + 0.7 * other.predict_proba(X)
    expected = np.mean(est.predict(X) == est.classes_[mean.argmax(axis=1)])
    assert agreement_score(est, X) == pytest.approx(expected)


def test_agreement_score_is_a_scorer(data):
    X, y, teacher = data
    res = cross_validate(DistilledClassifier(teacher, **FAST), X, y, cv=2, scoring=SCORING)
    assert res["test_agreement"].shape == (2,)
    assert np.all((0 <= res["test_agreement"]) & (res["test_agreement"] <= 1))


def test_agreement_score_errors(data):
    X, y, teacher = data
    with pytest.raises(NotFittedError):
        agreement_score(DistilledClassifier(teacher, **FAST), X)
    with pytest.raises(TypeError, match="DistilledClassifier"):
        agreement_score(teacher, X)
    Xr, yr = make_regression(60, 3, random_state=0)
    reg = DistilledRegressor(Ridge().fit(Xr, yr), **FAST).fit(Xr, yr)
    with pytest.raises(TypeError, match="DistilledClassifier"):
        agreement_score(reg, Xr)


# ---------------------------------------------------------------------------
# DistillationGridDisplay


def test_grid_display_plots_cv_results_of_a_pipeline_search(pipe_search):
    disp = DistillationGridDisplay.from_estimator(pipe_search)
    results = pipe_search.cv_results_
    np.testing.assert_array_equal(disp.temperatures, [1.0, 4.0])
    np.testing.assert_array_equal(disp.alphas, [0.2, 0.9])
    accuracy = _cell_values(disp, results, "accuracy")
    agreement = _cell_values(disp, results, "agreement")
    for i, a in enumerate(disp.alphas):
        for j, t in enumerate(disp.temperatures):
            assert disp.score[i, j] == accuracy[(a, t)]
            assert disp.agreement[i, j] == agreement[(a, t)]
            params = results["params"][disp.candidates[i, j]]
            assert (params[PREFIX + "alpha"], params[PREFIX + "temperature"]) == (a, t)
    # what is drawn is what is stored
    assert len(disp.ax_) == 2 and len(disp.im_) == 2
    np.testing.assert_array_equal(disp.im_[0].get_array(), disp.score)
    np.testing.assert_array_equal(disp.im_[1].get_array(), disp.agreement)
    assert disp.text_[0][0, 1].get_text() == f"{disp.score[0, 1]:.3f}"
    for ax, title in zip(disp.ax_, ["accuracy", "agreement with the teacher"]):
        assert ax.get_xlabel() == "temperature"
        assert ax.get_ylabel() == "alpha"
        assert ax.get_title() == title
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "4"]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["0.2", "0.9"]
    assert isinstance(disp.figure_, matplotlib.figure.Figure)
    assert disp.ax_[0].figure is disp.figure_


def test_grid_display_recomputes_agreement_from_X_y(data, pipe_search):
    """Without the scorer, X and y give the same cross-validated agreement."""
    X, y, _ = data
    plain = GridSearchCV(pipe_search.estimator, pipe_search.param_grid, cv=2).fit(X, y)
    with pytest.raises(ValueError, match="agreement_score"):
        DistillationGridDisplay.from_estimator(plain)
    disp = DistillationGridDisplay.from_estimator(plain, X, y)
    ref = DistillationGridDisplay.from_estimator(pipe_search)
    assert disp.score_name == "accuracy"
    np.testing.assert_allclose(disp.score, ref.score)
    np.testing.assert_allclose(disp.agreement, ref.agreement)


def test_grid_display_keeps_the_best_candidate_of_each_cell(data):
    """Other searched parameters: each cell shows its best candidate; alpha fixed is one row."""
    X, y, teacher = data
    search = GridSearchCV(
        DistilledClassifier(teacher, **{**FAST, "alpha": 0.6}),
        {"temperature": [1.0, 3.0], "lr": [1e-2, 1e-4]},
        cv=2,
        scoring=SCORING,
        refit=False,
    ).fit(X, y)
    disp = DistillationGridDisplay.from_estimator(search)
    results = search.cv_results_
    np.testing.assert_array_equal(disp.alphas, [0.6])
    for j, t in enumerate(disp.temperatures):
        same_t = [i for i, p in enumerate(results["params"]) if p["temperature"] == t]
        best = max(same_t, key=lambda i: results["mean_test_accuracy"][i])
        assert disp.candidates[0, j] == best
        assert disp.score[0, j] == results["mean_test_accuracy"][best]
        assert disp.agreement[0, j] == results["mean_test_agreement"][best]


def test_grid_display_randomized_search_leaves_untried_cells_blank(data):
    X, y, teacher = data
    search = RandomizedSearchCV(
        DistilledClassifier(teacher, **FAST),
        {"temperature": [1.0, 2.0, 4.0], "alpha": [0.1, 0.5, 0.9]},
        n_iter=3,
        cv=2,
        scoring=SCORING,
        refit="accuracy",
        random_state=0,
    ).fit(X, y)
    disp = DistillationGridDisplay.from_estimator(search)
    tried = disp.candidates >= 0
    assert tried.sum() == 3
    assert np.all(np.isnan(disp.score[~tried])) and np.all(np.isfinite(disp.score[tried]))
    assert all(disp.text_[0][cell] is None for cell in zip(*np.nonzero(~tried)))
    assert sorted(disp.score[tried]) == sorted(search.cv_results_["mean_test_accuracy"])


def test_grid_display_errors(data, pipe_search):
    X, y, teacher = data
    # not a search, or not fitted
    with pytest.raises(TypeError, match="GridSearchCV"):
        DistillationGridDisplay.from_estimator(teacher)
    with pytest.raises(NotFittedError):
        DistillationGridDisplay.from_estimator(GridSearchCV(pipe_search.estimator, pipe_search.param_grid))
    # a search that varied neither temperature nor alpha
    no_ta = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
    with pytest.raises(ValueError, match="temperature and/or alpha.*'C'"):
        DistillationGridDisplay.from_estimator(no_ta, X, y)
    lr_only = GridSearchCV(DistilledClassifier(teacher, **FAST), {"lr": [1e-2, 1e-3]}, cv=2).fit(X, y)
    with pytest.raises(ValueError, match="temperature and/or alpha"):
        DistillationGridDisplay.from_estimator(lr_only, X, y)
    # a regression distiller has no temperature and no agreement
    Xr, yr = make_regression(40, 3, random_state=0)
    reg = GridSearchCV(DistilledRegressor(Ridge().fit(Xr, yr), **FAST), {"alpha": [0.5]}, cv=2).fit(Xr, yr)
    with pytest.raises(TypeError, match="DistilledClassifier"):
        DistillationGridDisplay.from_estimator(reg)
    # metrics that do not exist, the wrong number of axes
    with pytest.raises(ValueError, match="not a metric"):
        DistillationGridDisplay.from_estimator(pipe_search, score="f1")
    _, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="2 matplotlib Axes"):
        DistillationGridDisplay.from_estimator(pipe_search, ax=axes)


def test_grid_display_draws_on_given_axes(pipe_search):
    fig, axes = plt.subplots(2, 1)
    disp = DistillationGridDisplay.from_estimator(pipe_search, ax=axes, colorbar=False, include_values=False)
    assert disp.figure_ is fig
    assert list(disp.ax_) == list(axes)
    assert disp.text_ is None


def test_grid_display_without_agreement_draws_one_panel():
    disp = DistillationGridDisplay([1, 2, 4], [0.5], np.array([[0.7, 0.8, 0.75]])).plot()
    assert len(disp.ax_) == 1
    with pytest.raises(ValueError, match="shape"):
        DistillationGridDisplay([1, 2], [0.5], np.zeros((2, 2))).plot()


# ---------------------------------------------------------------------------
# CompressionTradeoffDisplay


def test_tradeoff_display_from_report_plots_its_columns():
    report = pd.DataFrame(
        {
            "accuracy": [0.95, 0.90, 0.94],
            "size_bytes": [2e7, 3e5, 3e5],
            "predict_rows_per_s": [2e4, 1e5, 1.2e5],
        },
        index=["teacher", "hard-label", "distilled"],
    )
    disp = CompressionTradeoffDisplay.from_report(report)
    assert list(disp.names) == list(report.index)
    for p, column in enumerate(["size_bytes", "predict_rows_per_s"]):
        for i in range(3):
            np.testing.assert_array_equal(
                disp.points_[p, i].get_offsets(), [[report[column].iloc[i], report["accuracy"].iloc[i]]]
            )
    assert disp.ax_[0].get_xlabel() == "model size (bytes)"
    assert disp.ax_[1].get_xlabel() == "predict throughput (rows/s)"
    assert all(ax.get_ylabel() == "accuracy" and ax.get_xscale() == "log" for ax in disp.ax_)
    assert [t.get_text() for t in disp.ax_[0].get_legend().get_texts()] == list(report.index)
    assert disp.report is report


def test_tradeoff_display_from_estimators_uses_compare_models(data, student):
    X, y, teacher = data
    models = {"teacher": teacher, "student": student}
    disp = CompressionTradeoffDisplay.from_estimators(models, X, y, teacher="teacher")
    report = disp.report
    assert list(report.index) == ["teacher", "student"]
    assert report.loc["student", "accuracy"] == pytest.approx(student.score(X, y))
    np.testing.assert_array_equal(disp.score, report["accuracy"])
    np.testing.assert_array_equal(disp.size_bytes, report["size_bytes"])
    np.testing.assert_array_equal(disp.rows_per_s, report["predict_rows_per_s"])
    assert "agreement" in report.columns


def test_tradeoff_display_regression_report_uses_r2():
    report = pd.DataFrame(
        {"r2": [0.9, 0.8], "rmse": [1, 2], "size_bytes": [10, 5], "predict_rows_per_s": [1, 9]}
    )
    disp = CompressionTradeoffDisplay.from_report(report)
    assert disp.score_name == "r2" and disp.ax_[0].get_ylabel() == "r2"


def test_tradeoff_display_errors(data):
    X, y, teacher = data
    with pytest.raises(NotFittedError):
        CompressionTradeoffDisplay.from_estimators({"student": DistilledClassifier(teacher, **FAST)}, X, y)
    with pytest.raises(TypeError, match="dict"):
        CompressionTradeoffDisplay.from_estimators([teacher], X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        CompressionTradeoffDisplay.from_estimators({"teacher": teacher}, X, y[:-1])
    with pytest.raises(ValueError, match="predict_rows_per_s"):
        CompressionTradeoffDisplay.from_report(pd.DataFrame({"accuracy": [1.0], "size_bytes": [1]}))
    with pytest.raises(TypeError, match="DataFrame"):
        CompressionTradeoffDisplay.from_report({"accuracy": [1.0]})
    with pytest.raises(ValueError, match="one value per model"):
        CompressionTradeoffDisplay(["a", "b"], [0.9], [1, 2], [3, 4]).plot()


# ---------------------------------------------------------------------------
# ProbabilityAgreementDisplay


def _probas(n=120, k=2, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(k, size=n)
    t = rng.dirichlet(np.ones(k), size=n)
    s = 0.8 * t + 0.2 * rng.dirichlet(np.ones(k), size=n)
    return y, s, t


def test_probability_display_from_predictions_binary():
    y, s, t = _probas()
    disp = ProbabilityAgreementDisplay.from_predictions(y, s, t, n_bins=5)
    np.testing.assert_array_equal(disp.student_proba, s[:, 1])
    np.testing.assert_array_equal(disp.teacher_proba, t[:, 1])
    np.testing.assert_array_equal(disp.scatter_.get_offsets(), np.column_stack([t[:, 1], s[:, 1]]))
    for key, proba in [("student", s), ("teacher", t)]:
        true, pred = calibration_curve(y, proba[:, 1], n_bins=5)
        np.testing.assert_array_equal(disp.lines_[key].get_xdata(), pred)
        np.testing.assert_array_equal(disp.lines_[key].get_ydata(), true)
    assert disp.pos_label == 1
    assert disp.ax_[0].get_xlabel() == "teacher: P(y = 1)"
    assert disp.ax_[0].get_ylabel() == "student: P(y = 1)"
    assert disp.ax_[1].get_title() == "calibration"
    assert disp.ax_[0].figure is disp.figure_
    # 1-D positive-class probabilities give the same display
    flat = ProbabilityAgreementDisplay.from_predictions(y, s[:, 1], t[:, 1], n_bins=5)
    np.testing.assert_array_equal(flat.prob_true_student, disp.prob_true_student)


def test_probability_display_string_labels_and_pos_label():
    y, s, t = _probas()
    labels = np.array(["no", "yes"])[y]
    disp = ProbabilityAgreementDisplay.from_predictions(labels, s, t, pos_label="no", n_bins=4)
    np.testing.assert_array_equal(disp.student_proba, s[:, 0])
    true, _ = calibration_curve(labels == "no", t[:, 0], n_bins=4)
    np.testing.assert_array_equal(disp.prob_true_teacher, true)
    assert disp.ax_[0].get_xlabel() == "teacher: P(y = no)"


def test_probability_display_multiclass_top_class():
    y, s, t = _probas(k=3)
    disp = ProbabilityAgreementDisplay.from_predictions(y, s, t, n_bins=5)
    rows, top = np.arange(len(y)), t.argmax(axis=1)
    np.testing.assert_array_equal(disp.teacher_proba, t.max(axis=1))
    np.testing.assert_array_equal(disp.student_proba, s[rows, top])
    true_s, pred_s = calibration_curve(s.argmax(axis=1) == y, s.max(axis=1), n_bins=5)
    np.testing.assert_array_equal(disp.prob_true_student, true_s)
    np.testing.assert_array_equal(disp.prob_pred_student, pred_s)
    assert disp.pos_label is None
    assert disp.ax_[1].get_ylabel() == "fraction correct"
    # one class against the rest
    one = ProbabilityAgreementDisplay.from_predictions(y, s, t, pos_label=2)
    np.testing.assert_array_equal(one.teacher_proba, t[:, 2])


def test_probability_display_from_estimator(data, student):
    X, y, teacher = data
    disp = ProbabilityAgreementDisplay.from_estimator(student, X, y)
    np.testing.assert_allclose(disp.student_proba, student.predict_proba(X)[:, 1])
    np.testing.assert_allclose(disp.teacher_proba, teacher.predict_proba(X)[:, 1], atol=1e-5)


def test_probability_display_from_estimator_pipeline(data, pipe_search):
    X, y, teacher = data
    pipe = pipe_search.best_estimator_
    disp = ProbabilityAgreementDisplay.from_estimator(pipe, X, y, student_name="MLP", teacher_name="LR")
    np.testing.assert_allclose(disp.student_proba, pipe.predict_proba(X)[:, 1])
    np.testing.assert_allclose(disp.teacher_proba, teacher.predict_proba(pipe[:-1].transform(X))[:, 1], atol=1e-5)
    assert disp.ax_[0].get_xlabel() == "LR: P(y = 1)"
    assert [t.get_text() for t in disp.ax_[1].get_legend().get_texts()][1:] == ["LR", "MLP"]


def test_probability_display_errors(data):
    X, y, teacher = data
    ys, s, t = _probas()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ProbabilityAgreementDisplay.from_predictions(ys[:-1], s, t)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ProbabilityAgreementDisplay.from_predictions(ys, s, t[:-3])
    with pytest.raises(ValueError, match="same shape"):
        ProbabilityAgreementDisplay.from_predictions(ys, s, t[:, 1])
    with pytest.raises(ValueError, match="pass classes="):
        ProbabilityAgreementDisplay.from_predictions(np.zeros(len(ys)), s, t)
    with pytest.raises(ValueError, match="not one of the classes"):
        ProbabilityAgreementDisplay.from_predictions(ys, s, t, pos_label=7)
    with pytest.raises(NotFittedError):
        ProbabilityAgreementDisplay.from_estimator(DistilledClassifier(teacher, **FAST), X, y)
    with pytest.raises(TypeError, match="DistilledClassifier"):
        ProbabilityAgreementDisplay.from_estimator(teacher, X, y)
    fitted = DistilledClassifier(teacher, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ProbabilityAgreementDisplay.from_estimator(fitted, X, y[:-2])
    with pytest.raises(ValueError, match="true labels"):
        ProbabilityAgreementDisplay.from_estimator(fitted, X, None)


def test_displays_need_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    y, s, t = _probas()
    with pytest.raises(ImportError, match="requires matplotlib"):
        ProbabilityAgreementDisplay.from_predictions(y, s, t)
    with pytest.raises(ImportError, match="requires matplotlib"):
        DistillationGridDisplay([1], [0.5], np.ones((1, 1))).plot()
