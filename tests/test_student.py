"""The student's training: teacher-fidelity scores and early stopping on them."""

import numpy as np
import pytest
import torch
from scipy.special import log_softmax, softmax
from skorch.callbacks import EarlyStopping
from skorch.history import History
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression

from skdistill import (
    DistillationLoss,
    DistilledClassifier,
    DistilledRegressor,
    RegressionDistillationLoss,
    TeacherFidelity,
)

from .conftest import FAST


def test_classification_fidelity_is_kl_and_agreement_sums():
    rng = np.random.RandomState(0)
    student, teacher = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    labels = np.array([0, 2, -1, 1, -1, 0, 2], dtype=float)  # labels do not enter fidelity
    target = np.column_stack([teacher, labels, np.ones(7)])
    out = DistillationLoss().teacher_fidelity(torch.tensor(student), torch.tensor(target))
    p_t = softmax(teacher, axis=1)
    kl = np.sum(p_t * (np.log(p_t) - log_softmax(student, axis=1)))
    assert out["teacher_kl"] == pytest.approx(kl, rel=1e-10)
    assert out["teacher_agreement"] == np.sum(student.argmax(1) == teacher.argmax(1))


def test_regression_fidelity_is_squared_error_sum_to_teacher():
    rng = np.random.RandomState(0)
    pred, teacher, y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    target = np.column_stack([teacher, y, np.ones(5), np.ones(5)])
    out = RegressionDistillationLoss().teacher_fidelity(torch.tensor(pred), torch.tensor(target))
    assert out["teacher_mse"] == pytest.approx(np.sum(np.mean((pred - teacher) ** 2, axis=1)), rel=1e-10)


class _Net:
    def __init__(self):
        self.criterion_ = DistillationLoss()
        self.history = History()


def test_callback_records_means_over_validation_batches_only():
    rng = np.random.RandomState(0)
    net, cb = _Net(), TeacherFidelity()
    net.history.new_epoch()
    cb.on_epoch_begin(net)
    batches = []
    for n, training in [(3, False), (4, True), (2, False)]:
        s, t = torch.tensor(rng.normal(size=(n, 2))), torch.tensor(rng.normal(size=(n, 2)))
        target = torch.cat([t, torch.zeros(n, 1, dtype=t.dtype), torch.ones(n, 1, dtype=t.dtype)], dim=1)
        cb.on_batch_end(net, batch=(s, target), training=training, y_pred=s)
        if not training:
            batches.append((s, target))
    cb.on_epoch_end(net)
    s = torch.cat([b[0] for b in batches])
    target = torch.cat([b[1] for b in batches])
    expected = DistillationLoss().teacher_fidelity(s, target)
    assert net.history[-1, "valid_teacher_kl"] == pytest.approx(expected["teacher_kl"] / 5)
    assert net.history[-1, "valid_teacher_agreement"] == pytest.approx(expected["teacher_agreement"] / 5)


def test_callback_records_nothing_without_validation_rows():
    net, cb = _Net(), TeacherFidelity()
    net.history.new_epoch()
    cb.on_epoch_begin(net)
    cb.on_epoch_end(net)
    assert "valid_teacher_kl" not in net.history[-1]


@pytest.fixture
def clf():
    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    return X, y, LogisticRegression().fit(X, y)


@pytest.mark.parametrize(
    "early_stopping, monitor, lower",
    [(True, "valid_loss", True), ("loss", "valid_loss", True),
     ("teacher_kl", "valid_teacher_kl", True), ("teacher_agreement", "valid_teacher_agreement", False)],
)
def test_early_stopping_monitors_the_named_score(clf, early_stopping, monitor, lower):
    X, y, teacher = clf
    params = {**FAST, "max_epochs": 40, "lr": 0.05}
    est = DistilledClassifier(teacher, early_stopping=early_stopping, n_iter_no_change=3, **params).fit(X, y)
    net = est.student_
    stopper = dict(net.callbacks_)["early_stopping"]
    assert isinstance(stopper, EarlyStopping)
    assert (stopper.monitor, stopper.lower_is_better) == (monitor, lower)
    history = net.history
    for key in ("valid_teacher_kl", "valid_teacher_agreement"):  # recorded whatever is monitored
        assert all(key in row for row in history)
    assert all(0.0 <= a <= 1.0 for a in history[:, "valid_teacher_agreement"])
    # it stopped n_iter_no_change epochs after the best epoch, which no later epoch beat
    assert len(history) < 40
    assert stopper.best_epoch_ == len(history) - 3
    scores = np.asarray(history[:, monitor], dtype=float)
    best_score = scores[stopper.best_epoch_ - 1]
    assert np.isclose(best_score, scores.min() if lower else scores.max(), rtol=1e-4)
    # and the best epoch's weights were restored
    for name, value in net.module_.state_dict().items():
        torch.testing.assert_close(value, stopper.best_model_weights_[name])


def test_early_stopping_is_reproducible_with_random_state(clf):
    # the held-out slice is drawn from random_state, so two fits are identical
    X, y, teacher = clf
    a = DistilledClassifier(teacher, early_stopping=True, **FAST).fit(X, y)
    b = DistilledClassifier(teacher, early_stopping=True, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.student_.history[:, "valid_loss"] == b.student_.history[:, "valid_loss"]


def test_regressor_early_stopping_on_teacher_mse():
    X, y = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
    teacher = LinearRegression().fit(X, y)
    est = DistilledRegressor(teacher, early_stopping="teacher_mse", **FAST).fit(X, y)
    assert dict(est.student_.callbacks_)["early_stopping"].monitor == "valid_teacher_mse"
    assert all(row["valid_teacher_mse"] >= 0 for row in est.student_.history)


@pytest.mark.parametrize(
    "cls, data, value",
    [(DistilledRegressor, "reg", "teacher_agreement"), (DistilledClassifier, "clf", "teacher_mse"),
     (DistilledClassifier, "clf", "accuracy")],
)
def test_early_stopping_rejects_scores_of_the_other_task(cls, data, value):
    if data == "reg":
        X, y = make_regression(n_samples=50, n_features=3, random_state=0)
        teacher = LinearRegression().fit(X, y)
    else:
        X, y = make_classification(n_samples=50, n_features=3, n_informative=2, n_redundant=0, random_state=0)
        teacher = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        cls(teacher, early_stopping=value, **FAST).fit(X, y)


def test_the_nn_namespace_holds_the_plumbing_also_importable_from_the_top():
    import pickle

    import skdistill
    import skdistill.nn

    assert skdistill.nn.__all__ == [
        "MLP", "StudentNet", "TensorBatches", "TeacherFidelity", "DistillationLoss",
        "RegressionDistillationLoss", "distillation_loss", "regression_distillation_loss",
    ]
    for name in skdistill.nn.__all__:
        assert getattr(skdistill, name) is getattr(skdistill.nn, name), name
        assert name in skdistill.__all__
    # the classes keep their defining modules, which pickles of earlier releases name
    module = skdistill.nn.MLP(2, 1, (3,))
    assert b"skdistill._student" in pickle.dumps(module)
    assert type(pickle.loads(pickle.dumps(module))) is skdistill.nn.MLP
