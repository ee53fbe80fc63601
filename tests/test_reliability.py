"""Reliability matrix: bad data, faulty teachers, devices, interruption,
teacher immutability, concurrency and persistence.

Every case asserts a behaviour: either a clear error (type and a message that
names the problem) or correct handling.
"""

import io
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from torch import nn

from skdistill import DistilledClassifier

FAST = dict(
    max_epochs=3, batch_size=32, lr=1e-2, hidden_layer_sizes=(16,), augment=None, random_state=0
)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=80, n_features=5, n_informative=3, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted_lr(data):
    X, y = data
    return LogisticRegression().fit(X, y)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.RandomState(0)
    n = 60
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "color": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
        }
    )
    y = (X["a"] + (X["color"] == "red") > 0.3).astype(int).to_numpy()
    return X, y


def _fitted_attrs(est):
    return [k for k in vars(est) if k.endswith("_") and not k.startswith("__")]


def _assert_proba_ok(proba, n, k):
    assert proba.shape == (n, k)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


# ---------------------------------------------------------------------------
# 1. bad data


def test_nan_with_nan_aware_teacher_is_imputed(data):
    X, y = data
    X = X.copy()
    X[::7, 0] = np.nan
    X[3::11, 2] = np.nan
    clf = DistilledClassifier(HistGradientBoostingClassifier(max_iter=10), **FAST).fit(X, y)
    _assert_proba_ok(clf.predict_proba(X), len(X), 2)
    # NaN also accepted at predict time
    X_new = X[:5].copy()
    X_new[:, 1] = np.nan
    _assert_proba_ok(clf.predict_proba(X_new), 5, 2)


def test_nan_with_nan_unaware_teacher_is_rejected(data, fitted_lr):
    X, y = data
    X = X.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DistilledClassifier(fitted_lr, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        DistilledClassifier(LogisticRegression(), **FAST).fit(X, y)


def test_nan_at_predict_with_nan_unaware_teacher_is_rejected(data, fitted_lr):
    X, y = data
    clf = DistilledClassifier(fitted_lr, **FAST).fit(X, y)
    X_new = X[:3].copy()
    X_new[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(X_new)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_values_are_rejected(data, value):
    X, y = data
    X = X.copy()
    X[4, 1] = value
    for teacher in [HistGradientBoostingClassifier(max_iter=10), LogisticRegression()]:
        with pytest.raises(ValueError, match="(?i)infinity"):
            DistilledClassifier(teacher, **FAST).fit(X, y)


def test_infinite_values_in_dataframe_are_rejected(frame):
    X, y = frame
    X = X.copy()
    X.loc[2, "b"] = np.inf
    with pytest.raises(ValueError, match="(?i)infinity"):
        DistilledClassifier(
            HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype"), **FAST
        ).fit(X, y)


def test_huge_values_at_predict_give_finite_probabilities(data, fitted_lr):
    X, y = data
    clf = DistilledClassifier(fitted_lr, **FAST).fit(X, y)
    X_new = np.array([[1e30, -1e30, 1e30, 0.0, 1e30], [-1e30] * 5, [1e300] * 5])
    _assert_proba_ok(clf.predict_proba(X_new), 3, 2)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_non_finite_at_predict_with_nan_aware_teacher(data, value):
    X, y = data
    clf = DistilledClassifier(HistGradientBoostingClassifier(max_iter=10), **FAST).fit(X, y)
    X_new = X[:3].copy()
    X_new[1, 2] = value
    if np.isnan(value):
        _assert_proba_ok(clf.predict_proba(X_new), 3, 2)
    else:
        with pytest.raises(ValueError, match="(?i)infinity"):
            clf.predict_proba(X_new)


def test_single_class_y_with_fitted_teacher_is_fine(data, fitted_lr):
    X, y = data
    clf = DistilledClassifier(fitted_lr, **FAST).fit(X[y == 1], y[y == 1])
    assert list(clf.classes_) == [0, 1]  # the teacher's classes
    _assert_proba_ok(clf.predict_proba(X), len(X), 2)


def test_wrong_feature_count_at_predict(data, fitted_lr):
    X, y = data
    clf = DistilledClassifier(fitted_lr, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict_proba(X[:, :3])
    with pytest.raises(ValueError, match="features"):
        clf.predict(np.hstack([X, X])[:4])


def test_wrong_or_reordered_column_names_at_predict(frame):
    X, y = frame
    teacher = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    clf = DistilledClassifier(teacher, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="(?i)feature names"):
        clf.predict_proba(X[["b", "a", "color"]])
    with pytest.raises(ValueError, match="(?i)feature names"):
        clf.predict_proba(X.rename(columns={"a": "zzz"}))


def test_empty_X(data, fitted_lr):
    X, y = data
    with pytest.raises(ValueError, match="0 sample"):
        DistilledClassifier(fitted_lr, **FAST).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="0 sample"):
        DistilledClassifier(fitted_lr, **FAST).fit(pd.DataFrame(X[:0]), y[:0])
    with pytest.raises(ValueError, match="0 feature"):
        DistilledClassifier(LogisticRegression(), **FAST).fit(X[:, :0], y)
    clf = DistilledClassifier(fitted_lr, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="0 sample"):
        clf.predict_proba(X[:0])


def test_single_class_y(data):
    X, _ = data
    y = np.zeros(len(X), dtype=int)
    with pytest.raises(ValueError, match="(?i)class"):
        DistilledClassifier(LogisticRegression(), **FAST).fit(X, y)


def test_X_y_length_mismatch(data, fitted_lr):
    X, y = data
    with pytest.raises(ValueError, match="(?i)inconsistent numbers of samples"):
        DistilledClassifier(fitted_lr, **FAST).fit(X, y[:-3])
    with pytest.raises(ValueError, match="(?i)inconsistent numbers of samples"):
        DistilledClassifier(LogisticRegression(), **FAST).fit(X[:-1], y)


def test_labels_unknown_to_fitted_teacher(data, fitted_lr):
    X, y = data
    y_bad = y.copy()
    y_bad[:3] = 7
    with pytest.raises(ValueError, match=r"teacher does not know: \[7\]"):
        DistilledClassifier(fitted_lr, **FAST).fit(X, y_bad)
    y_str = np.where(y == 1, "yes", "maybe")
    with pytest.raises(ValueError, match="maybe"):
        DistilledClassifier(fitted_lr, **FAST).fit(X, y_str)


class _FrameTeacher(ClassifierMixin, BaseEstimator):
    """A fitted teacher that accepts any DataFrame (predicts from the row index)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        n = len(X)
        p = (np.arange(n) % 3 + 1) / 4.0
        return np.column_stack([p, 1 - p])


def test_unparseable_strings_in_numeric_object_column(data):
    X, y = data
    values = [str(v) for v in np.round(X[:, 0], 3)]
    values[5] = "n/a?"
    frame = pd.DataFrame({"amount": pd.Series(values, dtype=object), "b": X[:, 1]})
    teacher = _FrameTeacher().fit(frame, y)
    with pytest.raises(ValueError, match=r"(?s)'amount'.*cannot be parsed.*n/a\?"):
        DistilledClassifier(teacher, **FAST).fit(frame, y)


def test_unparseable_strings_at_predict_in_numeric_column(frame):
    X, y = frame
    teacher = _FrameTeacher().fit(X, y)
    clf = DistilledClassifier(teacher, **FAST).fit(X, y)
    X_new = X.iloc[:4].copy()
    X_new["b"] = pd.Series(["1.5", "oops", None, "2"], index=X_new.index, dtype=object)
    with pytest.raises(ValueError, match=r"column 'b'.*cannot be parsed.*oops"):
        clf.predict_proba(X_new)
    X_ok = X_new.assign(b=pd.Series(["1.5", "-3", None, "2"], index=X_new.index, dtype=object))
    _assert_proba_ok(clf.predict_proba(X_ok), 4, 2)


@pytest.mark.parametrize("sizes", [(0,), (-3,), (16, 0)])
def test_non_positive_hidden_layer_sizes(data, fitted_lr, sizes):
    X, y = data
    with pytest.raises(ValueError, match="hidden_layer_sizes must be positive"):
        DistilledClassifier(fitted_lr, **{**FAST, "hidden_layer_sizes": sizes}).fit(X, y)


def test_unseen_categories_at_predict(frame):
    X, y = frame
    teacher = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    clf = DistilledClassifier(teacher, **FAST).fit(X, y)
    X_new = X.iloc[:4].copy()
    X_new["color"] = pd.Categorical(
        ["purple", "red", "orange", np.nan], categories=["red", "green", "blue", "purple", "orange"]
    )
    _assert_proba_ok(clf.predict_proba(X_new), 4, 2)
    assert set(clf.predict(X_new)) <= set(clf.classes_)


def test_datetime_column_is_named(data):
    X, y = data
    frame = pd.DataFrame(
        {"a": X[:, 0], "when": pd.date_range("2020-01-01", periods=len(X), freq="D")}
    )
    teacher = _FrameTeacher().fit(frame, y)
    with pytest.raises(ValueError, match="'when'"):
        DistilledClassifier(teacher, **FAST).fit(frame, y)


# ---------------------------------------------------------------------------
# 2. teacher faults


class FaultyTeacher(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose predict_proba misbehaves as asked."""

    def __init__(self, fault="none", n_classes=2):
        self.fault = fault
        self.n_classes = n_classes

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        n = X.shape[0]
        k = len(self.classes_)
        p = np.full((n, k), 1.0 / k)
        if self.fault == "nan":
            p[n // 2, 0] = np.nan
        elif self.fault == "shape_rows":
            p = p[:-1]
        elif self.fault == "shape_3d":
            p = p[:, :, None]
        elif self.fault == "width":
            p = np.full((n, k + 1), 1.0 / (k + 1))
        elif self.fault == "raise":
            raise RuntimeError("teacher exploded")
        return p


@pytest.mark.parametrize(
    "fault, match",
    [
        ("nan", "NaN or infinite outputs"),
        ("shape_rows", r"returned outputs of shape \(79, 2\) for 80 rows"),
        ("shape_3d", r"returned outputs of shape \(80, 2, 1\)"),
        ("width", "returned 3 output columns but has 2 classes"),
    ],
)
def test_teacher_bad_outputs(data, fault, match):
    X, y = data
    teacher = FaultyTeacher(fault).fit(X, y)
    clf = DistilledClassifier(teacher, **FAST)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert _fitted_attrs(clf) == []


def test_teacher_classes_disagree_with_columns(data):
    X, y = data
    teacher = FaultyTeacher().fit(X, y)
    teacher.classes_ = np.array([0, 1, 2])  # claims 3 classes, returns 3 columns...
    teacher.predict_proba = lambda X_: np.full((X_.shape[0], 2), 0.5)  # ...but 2
    with pytest.raises(ValueError, match=r"2 output columns but has 3 classes"):
        DistilledClassifier(teacher, **FAST).fit(X, y)


def test_teacher_exception_propagates_with_its_type(data):
    X, y = data
    teacher = FaultyTeacher("raise").fit(X, y)
    with pytest.raises(RuntimeError, match="teacher exploded") as info:
        DistilledClassifier(teacher, **FAST).fit(X, y)
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "FaultyTeacher" in notes


def test_torch_teacher_width_differs_from_classes(data):
    X, y = data  # two classes 0, 1
    torch.manual_seed(0)
    teacher = nn.Linear(X.shape[1], 3)
    with pytest.raises(ValueError, match=r"(?i)teacher does not know|class"):
        DistilledClassifier(teacher, **FAST).fit(X, y + 1 + (y == 1))  # labels 1, 3
    # labels in range but fewer classes than outputs is fine (classes 0..2)
    clf = DistilledClassifier(teacher, **FAST).fit(X, y)
    assert list(clf.classes_) == [0, 1, 2]
    # a 2-logit teacher with 3 classes in y: label 2 is unknown
    teacher2 = nn.Linear(X.shape[1], 2)
    y3 = y.copy()
    y3[:5] = 2
    with pytest.raises(ValueError, match=r"teacher does not know: \[2\]"):
        DistilledClassifier(teacher2, **FAST).fit(X, y3)


def test_torch_teacher_with_single_output_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match="one logit per class"):
        DistilledClassifier(nn.Linear(X.shape[1], 1), **FAST).fit(X, y)


class DuckTeacher:
    """A fitted classifier that is not a scikit-learn BaseEstimator (no tags)."""

    def __init__(self, inner):
        self.inner_ = inner
        self.classes_ = inner.classes_

    def fit(self, X, y):
        return self

    def predict(self, X):
        return self.inner_.predict(X)

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)


def test_duck_typed_fitted_teacher_without_sklearn_tags(data, fitted_lr):
    X, y = data
    clf = DistilledClassifier(DuckTeacher(fitted_lr), **FAST).fit(X, y)
    _assert_proba_ok(clf.predict_proba(X), len(X), 2)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan  # unknown NaN support: rejected, not passed on
    with pytest.raises(ValueError, match="NaN"):
        DistilledClassifier(DuckTeacher(fitted_lr), **FAST).fit(X_nan, y)


# ---------------------------------------------------------------------------
# 3. device


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")
def test_cuda_unavailable(data, fitted_lr):
    X, y = data
    clf = DistilledClassifier(fitted_lr, device="cuda", **FAST)
    with pytest.raises(ValueError, match="CUDA"):
        clf.fit(X, y)
    assert _fitted_attrs(clf) == []


@pytest.mark.parametrize("device", ["gpu", "cpux", "tpu:0", 3.5])
def test_invalid_device_string(data, fitted_lr, device):
    X, y = data
    with pytest.raises(ValueError, match="device"):
        DistilledClassifier(fitted_lr, device=device, **FAST).fit(X, y)


# ---------------------------------------------------------------------------
# 4. interruption and clean failure


class InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) >= self.epoch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_in_callback_stops_training(data, fitted_lr):
    X, y = data
    params = {**FAST, "max_epochs": 5}
    clf = DistilledClassifier(fitted_lr, callbacks=[InterruptAt(2)], **params)
    assert clf.fit(X, y) is clf
    assert len(clf.student_.history) < params["max_epochs"]
    _assert_proba_ok(clf.predict_proba(X), len(X), 2)
    check_is_fitted(clf)


def _assert_not_fitted(clf):
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert _fitted_attrs(clf) == []
    with pytest.raises(NotFittedError):
        clf.predict(np.zeros((1, 5)))


def test_failed_fit_leaves_no_fitted_attributes(data, fitted_lr):
    X, y = data
    clf = DistilledClassifier(fitted_lr, **FAST).fit(X, y)
    check_is_fitted(clf)
    clf.set_params(teacher=FaultyTeacher("raise").fit(X, y))
    with pytest.raises(RuntimeError):
        clf.fit(X, y)
    _assert_not_fitted(clf)
    # a failure late in fit (the student itself) also leaves nothing
    clf = DistilledClassifier(fitted_lr, **FAST).fit(X, y)
    clf.set_params(student=RaisingStudent)
    with pytest.raises(RuntimeError, match="student forward failed"):
        clf.fit(X, y)
    _assert_not_fitted(clf)
    # a failed refit at validation time too
    clf = DistilledClassifier(fitted_lr, **FAST).fit(X, y)
    with pytest.raises(ValueError):
        clf.fit(X[:, :0], y)
    _assert_not_fitted(clf)


# ---------------------------------------------------------------------------
# 5. the teacher is never mutated


class RaisingStudent(nn.Module):
    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.lin = nn.Linear(n_inputs, n_outputs)

    def forward(self, X):
        raise RuntimeError("student forward failed")


def test_random_forest_teacher_not_mutated(data):
    X, y = data
    teacher = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    params = teacher.get_params()
    proba = teacher.predict_proba(X)
    blob = pickle.dumps(teacher)
    clf = DistilledClassifier(teacher, **FAST).fit(X, y)
    assert clf.teacher_ is teacher
    assert teacher.get_params() == params
    np.testing.assert_array_equal(teacher.predict_proba(X), proba)
    assert pickle.dumps(teacher) == blob


class TorchTeacher(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.inp = nn.Linear(n_in, 8)
        self.bn = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(8, n_out)

    def forward(self, X):
        return self.out(self.drop(torch.relu(self.bn(self.inp(X)))))


def _torch_snapshot(module):
    return (
        {k: v.detach().clone() for k, v in module.state_dict().items()},
        {name: m.training for name, m in module.named_modules()},
        {name: p.requires_grad for name, p in module.named_parameters()},
    )


def _assert_same_torch_state(module, snap):
    state, flags, grads = snap
    now_state, now_flags, now_grads = _torch_snapshot(module)
    assert now_state.keys() == state.keys()
    for k in state:
        assert torch.equal(now_state[k], state[k]), k
    assert now_flags == flags
    assert now_grads == grads


@pytest.fixture
def torch_teacher(data):
    X, _ = data
    torch.manual_seed(0)
    teacher = TorchTeacher(X.shape[1], 2)
    teacher.inp.weight.requires_grad_(False)
    teacher.train()
    teacher.drop.eval()  # mixed training flags
    return teacher


def test_torch_teacher_not_mutated_after_successful_fit(data, torch_teacher):
    X, y = data
    snap = _torch_snapshot(torch_teacher)
    clf = DistilledClassifier(torch_teacher, **FAST).fit(X, y)
    _assert_same_torch_state(torch_teacher, snap)
    assert clf.teacher_ is torch_teacher
    assert torch_teacher.bn.num_batches_tracked.item() == 0


def test_torch_teacher_not_mutated_after_failed_fit(data, torch_teacher):
    X, y = data
    snap = _torch_snapshot(torch_teacher)
    clf = DistilledClassifier(torch_teacher, student=RaisingStudent, **FAST)
    with pytest.raises(RuntimeError, match="student forward failed"):
        clf.fit(X, y)
    _assert_same_torch_state(torch_teacher, snap)
    _assert_not_fitted(clf)


# ---------------------------------------------------------------------------
# 6. concurrency


def test_concurrent_predict_proba_equals_serial(data, fitted_lr):
    X, y = data
    clf = DistilledClassifier(fitted_lr, **FAST).fit(X, y)
    chunks = [X[i::4] for i in range(4)] * 3
    serial = [clf.predict_proba(c) for c in chunks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(clf.predict_proba, chunks))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# 7. persistence


def test_pickle_and_joblib_round_trips(frame, tmp_path):
    X, y = frame
    teacher = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    clf = DistilledClassifier(teacher, **FAST).fit(X, y)
    expected = clf.predict_proba(X)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), expected)
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    np.testing.assert_array_equal(joblib.load(path).predict_proba(X), expected)
    buf = io.BytesIO()
    joblib.dump(clf, buf)
    buf.seek(0)
    np.testing.assert_array_equal(joblib.load(buf).predict_proba(X), expected)


# ---------------------------------------------------------------------------
# 8. out of accelerator memory while labelling: smaller chunks


class OOMTorchTeacher(nn.Module):
    """A torch teacher that runs out of CUDA memory on batches above max_rows."""

    def __init__(self, n_in, n_out, max_rows):
        super().__init__()
        self.lin = nn.Linear(n_in, n_out)
        self.max_rows = max_rows
        self.batch_sizes = []

    def forward(self, X):
        self.batch_sizes.append(X.shape[0])
        if X.shape[0] > self.max_rows:
            raise torch.cuda.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.10 GiB total capacity)"
            )
        return self.lin(X)


class OOMTeacher(ClassifierMixin, BaseEstimator):
    """A fitted scikit-learn style teacher (e.g. a GPU library) that runs out of memory."""

    def __init__(self, max_rows=10, message="CUDA error: out of memory"):
        self.max_rows = max_rows
        self.message = message

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.coef_ = np.linspace(-1, 1, X.shape[1])
        self.calls_ = []
        return self

    def predict_proba(self, X):
        self.calls_.append(X.shape[0])
        if X.shape[0] > self.max_rows:
            raise RuntimeError(self.message)
        p1 = 1 / (1 + np.exp(-(X @ self.coef_)))
        return np.column_stack([1 - p1, p1])


def test_cuda_oom_in_torch_teacher_labelling_halves_the_chunks(data):
    X, y = data  # 80 rows
    torch.manual_seed(0)
    teacher = OOMTorchTeacher(X.shape[1], 2, max_rows=20)
    with torch.no_grad():
        unchunked = teacher.lin(torch.from_numpy(X.astype(np.float32))).double().numpy()
    twin = OOMTorchTeacher(X.shape[1], 2, max_rows=10**6)
    twin.load_state_dict(teacher.state_dict())

    clf = DistilledClassifier(teacher, labeling_batch_size=64, **FAST)
    with pytest.warns(UserWarning, match=r"out of memory on chunks of 64 rows; continued with chunks of 16 rows"):
        clf.fit(X, y)
    # probe (2 rows), 64 -> OOM, 32 -> OOM, then 16-row chunks to the end
    assert teacher.batch_sizes == [2, 64, 32, 16, 16, 16, 16, 16]
    # the labels equal the unchunked teacher's ...
    from skdistill._teacher import make_adapter

    adapter = make_adapter(twin, task="classification", n_features=X.shape[1], labeling_batch_size=10**6)
    np.testing.assert_allclose(adapter.outputs(X), unchunked, rtol=1e-6, atol=1e-7)
    # ... and the model equals one labelled in 16-row chunks from the start
    ref = DistilledClassifier(twin, labeling_batch_size=16, **FAST).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba(X))
    assert teacher.training  # the teacher's mode is restored


def test_generic_out_of_memory_runtime_error_from_any_teacher(data):
    X, y = data
    teacher = OOMTeacher(max_rows=10).fit(X, y)
    clf = DistilledClassifier(teacher, labeling_batch_size=40, **FAST)
    with pytest.warns(UserWarning, match="chunks of 40 rows; continued with chunks of 10 rows") as record:
        clf.fit(X, y)
    assert sum("out of memory" in str(w.message) for w in record) == 1  # warned once
    assert teacher.calls_ == [40, 20, 10] + [10] * 7
    ref = DistilledClassifier(OOMTeacher(max_rows=10**6).fit(X, y), labeling_batch_size=10, **FAST).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba(X))


def test_out_of_memory_even_on_one_row_is_raised_with_context(data):
    X, y = data
    teacher = OOMTeacher(max_rows=0).fit(X, y)
    clf = DistilledClassifier(teacher, labeling_batch_size=8, **FAST)
    with pytest.raises(RuntimeError, match="out of memory") as info:
        clf.fit(X, y)
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "even on a chunk of 1 row" in notes and "chunks started at 8 rows" in notes
    assert teacher.calls_ == [8, 4, 2, 1]
    assert _fitted_attrs(clf) == []


def test_other_teacher_errors_are_not_retried(data):
    X, y = data
    teacher = OOMTeacher(max_rows=0, message="teacher exploded").fit(X, y)
    with pytest.raises(RuntimeError, match="teacher exploded"):
        DistilledClassifier(teacher, labeling_batch_size=40, **FAST).fit(X, y)
    assert teacher.calls_ == [40]


def test_run_in_chunks_backs_off_and_frees_the_cuda_cache(monkeypatch):
    from skdistill._chunks import run_in_chunks

    from skdistill import _chunks

    freed, collected = [], []
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: freed.append(1))
    monkeypatch.setattr(_chunks.gc, "collect", lambda: collected.append(1))
    calls = []

    def fn(start, stop):
        calls.append((start, stop))
        if stop - start > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return np.arange(start, stop)

    with pytest.warns(UserWarning, match="chunks of 10 rows; continued with chunks of 2 rows. Lower it"):
        parts = run_in_chunks(fn, 11, 10, what="test", hint="Lower it.")
    np.testing.assert_array_equal(np.concatenate(parts), np.arange(11))
    assert calls[:3] == [(0, 10), (0, 5), (0, 2)]
    assert all(b - a <= 2 for a, b in calls[2:])  # the reduced size is kept
    assert len(freed) == len(collected) == 2  # once per out-of-memory error
    with pytest.raises(torch.cuda.OutOfMemoryError):
        run_in_chunks(fn, 11, 10, min_chunk_size=5)
    assert run_in_chunks(fn, 0, 10) == []


def test_is_out_of_memory():
    from skdistill._chunks import is_out_of_memory

    class OutOfMemoryError(MemoryError):  # the shape of CuPy's
        pass

    assert is_out_of_memory(torch.cuda.OutOfMemoryError("x"))
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory"))
    assert is_out_of_memory(OutOfMemoryError("cupy"))
    assert not is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


# ---------------------------------------------------------------------------
# 9. a model trained on CUDA loads and predicts on a CPU-only machine


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
@pytest.mark.parametrize("early_stopping", [False, True])
def test_cuda_trained_pickle_loads_on_cpu_only_machine(data, fitted_lr, monkeypatch, tmp_path, early_stopping):
    from skorch.exceptions import DeviceWarning

    from skdistill import load_student, save_student

    X, y = data
    clf = DistilledClassifier(fitted_lr, device="cpu", early_stopping=early_stopping, **FAST).fit(X, y)
    expected, expected_labels = clf.predict_proba(X), clf.predict(X)
    # what a CUDA-trained model pickles: the net's device and CUDA storage locations
    clf.set_params(device="cuda")
    clf.student_.device = "cuda"
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        blob = pickle.dumps(clf)
    assert b"cuda:0" in blob
    # torch itself refuses CUDA storages here; skorch maps them to the CPU
    with pytest.warns(DeviceWarning) as record:
        loaded = pickle.loads(blob)
    assert any("no CUDA devices" in str(w.message) for w in record)
    assert torch.device(loaded.student_.device).type == "cpu"
    assert {p.device.type for p in loaded.student_.module_.parameters()} == {"cpu"}
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    np.testing.assert_array_equal(loaded.predict(X), expected_labels)
    # a reloaded model pickles and loads again without warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = pickle.loads(pickle.dumps(loaded))
    np.testing.assert_array_equal(again.predict_proba(X), expected)
    # the safe format written from it loads on the CPU too
    path = save_student(loaded, tmp_path / "student.skdistill")
    np.testing.assert_array_equal(load_student(path).predict_proba(X), expected)
    # the device parameter stays as set: refitting here says CUDA is missing
    assert loaded.device == "cuda"
    with pytest.raises(ValueError, match="CUDA is not available"):
        loaded.fit(X, y)


_LOAD_ON_CPU = """
import pickle, sys, numpy as np, torch
assert not torch.cuda.is_available()
from skdistill import load_student
with open(sys.argv[1], "rb") as f:
    est = pickle.load(f)
X = np.load(sys.argv[2])
assert est.student_.device == "cpu", est.student_.device
np.testing.assert_allclose(est.predict_proba(X), np.load(sys.argv[3]), rtol=1e-4, atol=1e-6)
np.testing.assert_allclose(load_student(sys.argv[4]).predict_proba(X), np.load(sys.argv[3]), rtol=1e-4, atol=1e-6)
print("ok")
"""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA to train on")
def test_cuda_trained_model_predicts_in_a_cpu_only_process(data, fitted_lr, tmp_path):
    import os
    import subprocess
    import sys

    from skdistill import save_student

    X, y = data
    clf = DistilledClassifier(fitted_lr, device="cuda", **FAST).fit(X, y)
    assert next(clf.student_.module_.parameters()).is_cuda
    paths = [tmp_path / n for n in ("model.pkl", "X.npy", "proba.npy", "student.skdistill")]
    paths[0].write_bytes(pickle.dumps(clf))
    np.save(paths[1], X)
    np.save(paths[2], clf.predict_proba(X))
    save_student(clf, paths[3])
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_ON_CPU, *map(str, paths)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout


# ---------------------------------------------------------------------------
# 10. obscure errors made clear: callbacks, duplicate column names


@pytest.mark.parametrize(
    "callbacks, match",
    [
        ([1], r"callbacks\[0\] must be a skorch Callback instance or class.*got int"),
        ([InterruptAt(1), "print"], r"callbacks\[1\].*got str"),
        ([("name", 3)], r"callbacks\[0\] \('name'\) must hold a skorch Callback.*got int"),
        ([(3, InterruptAt(1))], r"callbacks\[0\] must be a \(name, callback\) pair with a str name"),
        ([("a", InterruptAt(1), 1)], r"callbacks\[0\] must be a \(name, callback\) pair"),
        ("print", "callbacks must be a list"),
    ],
)
def test_check_callbacks_rejects_non_callbacks(callbacks, match):
    from skdistill._checks import check_callbacks

    with pytest.raises(TypeError, match=match):
        check_callbacks(callbacks)


def test_check_callbacks_accepts_skorch_forms():
    from skorch.callbacks import EpochTimer

    from skdistill._checks import check_callbacks

    cbs = [InterruptAt(1), EpochTimer, ("timer", EpochTimer()), ("cls", EpochTimer)]
    assert check_callbacks(cbs) == cbs
    assert check_callbacks(None) == []


def test_duplicate_column_names_are_named(frame, fitted_lr):
    from skdistill import infer_column_kinds

    X, y = frame
    dup = X.set_axis(["a", "b", "a"], axis=1)
    with pytest.raises(ValueError, match=r"duplicate column names: \['a'\]"):
        DistilledClassifier(LogisticRegression(), **FAST).fit(dup, y)
    with pytest.raises(ValueError, match=r"duplicate column names: \['a'\]"):
        infer_column_kinds(dup)
    clf = DistilledClassifier(
        HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype"), **FAST
    ).fit(X, y)
    with pytest.raises(ValueError, match=r"duplicate column names: \['a'\]"):
        clf.predict(dup)


def test_callbacks_that_are_not_callbacks_are_named(data, fitted_lr):
    X, y = data
    with pytest.raises(TypeError, match=r"callbacks\[0\]"):
        DistilledClassifier(fitted_lr, callbacks=[1], **FAST).fit(X, y)


def test_torch_teacher_shared_by_threaded_fits_keeps_its_state(data, torch_teacher):
    X, y = data
    flags = [(m, m.training) for m in torch_teacher.modules()]
    state = {k: v.clone() for k, v in torch_teacher.state_dict().items()}

    def fit(seed):
        est = DistilledClassifier(torch_teacher, **{**FAST, "random_state": seed}).fit(X, y)
        return est.predict_proba(X)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(fit, range(8)))
    assert all(np.isfinite(r).all() for r in results)
    assert [(m, m.training) for m in torch_teacher.modules()] == flags
    for k, v in torch_teacher.state_dict().items():
        assert torch.equal(v, state[k]), k
    # threaded fits are reproducible: the same seed gives the same student
    np.testing.assert_allclose(fit(3), results[3])
