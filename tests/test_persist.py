"""Safe persistence: save_student / load_student.

The file must load without running code from it (JSON, tensors through
``torch.load(weights_only=True)``, the preprocessor through skops with an
explicit trusted-type list) and give identical predictions.
"""

import io
import json
import os
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import InconsistentVersionWarning, NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from skops.io import dumps as skops_dumps
from skops.io.exceptions import UntrustedTypesFoundException
from skorch.callbacks import EpochTimer
from torch import nn

from skdistill import DistilledClassifier, DistilledRegressor, load_student, save_student
from skdistill._persist import TRUSTED_TYPES

FAST = dict(max_epochs=3, batch_size=32, lr=1e-2, hidden_layer_sizes=(16,), augment=None, random_state=0)


def _roundtrip(est, **load_kwargs):
    buf = io.BytesIO()
    assert save_student(est, buf) is buf
    return load_student(io.BytesIO(buf.getvalue()), **load_kwargs), buf.getvalue()


def _replace_member(blob, name, data):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, data if info.filename == name else src.read(info.filename))
    return out.getvalue()


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.RandomState(0)
    n = 120
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "count": rng.poisson(3, size=n),
            "color": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
            "flag": rng.rand(n) > 0.5,
            "city": pd.Categorical(rng.choice(["paris", "rome", "oslo"], size=n)),
        }
    )
    X.loc[::9, "num"] = np.nan
    y = np.where(X["num"].fillna(0) + (X["color"] == "red") > 0.3, "yes", "no")
    return X, y


@pytest.fixture(scope="module")
def mixed_clf(mixed):
    X, y = mixed
    teacher = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    return DistilledClassifier(teacher, dropout=0.1, **FAST).fit(X, y)


# ---------------------------------------------------------------------------
# round trips


def test_pickling_leaves_the_estimator_unchanged(mixed):
    X, y = mixed
    est = DistilledClassifier(LogisticRegression(), **FAST).fit(X.drop(columns=["color", "city"]).fillna(0), y)
    Xn = X.drop(columns=["color", "city"]).fillna(0)
    before = est.predict_proba(Xn)
    encoder = est._compiled_encoder_
    again = pickle.loads(pickle.dumps(est))
    assert est._compiled_encoder_ is encoder
    np.testing.assert_array_equal(est.predict_proba(Xn), before)
    np.testing.assert_array_equal(again.predict_proba(Xn), before)


def test_classifier_round_trip_mixed_frame(mixed, mixed_clf, tmp_path):
    X, _ = mixed
    path = tmp_path / "student.skdistill"
    save_student(mixed_clf, path)
    loaded = load_student(path)
    assert type(loaded) is DistilledClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), mixed_clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.decision_function(X), mixed_clf.decision_function(X))
    np.testing.assert_array_equal(loaded.predict(X), mixed_clf.predict(X))
    assert loaded.classes_.dtype == mixed_clf.classes_.dtype
    np.testing.assert_array_equal(loaded.feature_names_in_, mixed_clf.feature_names_in_)
    assert loaded.column_kinds_ == mixed_clf.column_kinds_
    assert loaded.n_features_in_ == mixed_clf.n_features_in_
    assert loaded.n_transfer_ == mixed_clf.n_transfer_
    assert len(loaded.student_.history) == len(mixed_clf.student_.history)
    # parameters come back (the teacher excepted)
    params = mixed_clf.get_params(deep=False)
    for key, value in loaded.get_params(deep=False).items():
        if key != "teacher":
            assert value == params[key], key
    assert loaded.teacher is None and not hasattr(loaded, "teacher_")


def test_loaded_estimator_validates_input_as_the_original(mixed, mixed_clf):
    X, _ = mixed
    loaded, _ = _roundtrip(mixed_clf)
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(X[X.columns[::-1]])
    with pytest.raises(ValueError, match="infinity"):  # NaN is allowed (HGB teacher), infinity is not
        loaded.predict(X.assign(count=np.where(np.arange(len(X)) == 0, np.inf, X["count"])))


def test_every_fitted_attribute_but_the_teacher_is_restored(mixed_clf):
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    reg = DistilledRegressor(LinearRegression(), **FAST).fit(X, y)
    for est in (mixed_clf, reg):
        loaded, _ = _roundtrip(est)
        fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("__")}
        assert fitted - {"teacher_"} == {k for k in vars(loaded) if k.endswith("_")}
        assert (loaded._compiled_encoder_ is None) == (est._compiled_encoder_ is None)
    assert mixed_clf._compiled_encoder_ is not None  # the fast path is exercised


@pytest.mark.parametrize(
    "labels",
    [np.array([3, 7]), np.array([True, False]), np.array(["a", "b", "c"], dtype=object)],
    ids=["int", "bool", "object-str"],
)
def test_class_label_dtypes_survive(labels):
    X, y = make_classification(
        n_samples=90, n_features=4, n_informative=3, n_redundant=0, n_classes=len(labels), random_state=0
    )
    y = labels[y]
    clf = DistilledClassifier(LogisticRegression(), **FAST).fit(X, y)
    loaded, _ = _roundtrip(clf)
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    pred = loaded.predict(X)
    assert pred.dtype == clf.predict(X).dtype
    np.testing.assert_array_equal(pred, clf.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("multi", [False, True])
def test_regressor_round_trip(multi, tmp_path):
    X, y = make_regression(n_samples=100, n_features=4, n_targets=2 if multi else 1, random_state=0)
    reg = DistilledRegressor(LinearRegression(), loss="huber", **FAST).fit(X, y)
    loaded, _ = _roundtrip(reg)
    assert type(loaded) is DistilledRegressor
    assert loaded.loss == "huber"
    pred = loaded.predict(X)
    assert pred.shape == reg.predict(X).shape == y.shape
    np.testing.assert_array_equal(pred, reg.predict(X))
    np.testing.assert_array_equal(loaded.target_mean_, reg.target_mean_)
    assert loaded.score(X, y) == reg.score(X, y)


def test_user_preprocessor_param_and_device_auto():
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    clf = DistilledClassifier(LogisticRegression(), preprocessor=StandardScaler(), **FAST).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # StandardScaler is trusted by skops: no warning
        loaded, _ = _roundtrip(clf, device="auto")
    assert isinstance(loaded.preprocessor, StandardScaler)
    assert not hasattr(loaded.preprocessor, "mean_")  # the parameter is unfitted
    np.testing.assert_allclose(loaded.preprocessor_.mean_, clf.preprocessor_.mean_)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_parameters_that_are_not_json_are_reported_and_reset():
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    clf = DistilledClassifier(LogisticRegression(), callbacks=[EpochTimer()], **FAST).fit(X, y)
    buf = io.BytesIO()
    with pytest.warns(UserWarning, match=r"\['callbacks'\]"):
        save_student(clf, buf)
    loaded = load_student(io.BytesIO(buf.getvalue()))
    assert loaded.callbacks is None
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_loaded_estimator_needs_a_teacher_to_refit():
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    clf = DistilledClassifier(LogisticRegression(), **FAST).fit(X, y)
    loaded, _ = _roundtrip(clf)
    with pytest.raises(TypeError, match="teacher"):
        loaded.fit(X, y)
    loaded.set_params(teacher=LogisticRegression())
    np.testing.assert_array_equal(loaded.fit(X, y).predict_proba(X), clf.predict_proba(X))


def test_loaded_estimator_exports_to_onnx(mixed, mixed_clf):
    pytest.importorskip("onnxruntime")
    from skdistill import to_onnx

    X, _ = mixed
    loaded, _ = _roundtrip(mixed_clf)
    to_onnx(loaded, X_sample=X)  # verifies the graph against predict_proba


# ---------------------------------------------------------------------------
# what cannot be saved


class TinyNet(nn.Module):
    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.lin = nn.Linear(n_inputs, n_outputs)

    def forward(self, X):
        return self.lin(X)


def test_custom_student_module_points_to_onnx():
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    clf = DistilledClassifier(LogisticRegression(), student=TinyNet, **FAST).fit(X, y)
    with pytest.raises(TypeError, match=r"TinyNet.*skdistill\.to_onnx"):
        save_student(clf, io.BytesIO())


def test_unfitted_and_foreign_estimators_are_rejected():
    with pytest.raises(NotFittedError):
        save_student(DistilledClassifier(LogisticRegression()), io.BytesIO())
    with pytest.raises(TypeError, match="DistilledClassifier.*DistilledRegressor"):
        save_student(Ridge().fit([[0.0], [1.0]], [0.0, 1.0]), io.BytesIO())
    with pytest.raises(TypeError, match="'path' parameter"):
        save_student(DistilledClassifier(LogisticRegression()), 3)

    class Mine(DistilledClassifier):
        pass

    with pytest.raises(TypeError, match="not subclasses; got .*Mine"):
        save_student(Mine(LogisticRegression()), io.BytesIO())


# ---------------------------------------------------------------------------
# refusing what is not trusted


class AddOne(TransformerMixin, BaseEstimator):
    """A user transformer: not trusted unless the user says so."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float64) + 1.0


def test_untrusted_preprocessor_types_are_refused_unless_trusted():
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    clf = DistilledClassifier(LogisticRegression(), preprocessor=AddOne(), **FAST).fit(X, y)
    buf = io.BytesIO()
    with pytest.warns(UserWarning, match="tests.test_persist.AddOne"):
        save_student(clf, buf)
    with pytest.raises(UntrustedTypesFoundException, match="tests.test_persist.AddOne"):
        load_student(io.BytesIO(buf.getvalue()))
    loaded = load_student(io.BytesIO(buf.getvalue()), trusted=["tests.test_persist.AddOne"])
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(TypeError, match="trusted"):
        load_student(io.BytesIO(buf.getvalue()), trusted=True)
    with pytest.raises(TypeError, match="type names"):
        load_student(io.BytesIO(buf.getvalue()), trusted=["tests.test_persist.AddOne", 3])


def test_tampered_preprocessor_calling_os_functions_is_refused(mixed_clf):
    _, blob = _roundtrip(mixed_clf)
    evil = skops_dumps(FunctionTransformer(func=os.system))
    with pytest.raises(UntrustedTypesFoundException, match="system"):
        load_student(io.BytesIO(_replace_member(blob, "preprocessor.skops", evil)))


_REDUCED = []


def _record_reduce(value):  # what unpickling Gadget would call
    _REDUCED.append(value)
    return value


class Gadget:
    def __reduce__(self):
        return (_record_reduce, ("ran",))


def test_weights_holding_objects_are_refused_without_running_them(mixed_clf):
    _, blob = _roundtrip(mixed_clf)
    evil = io.BytesIO()
    torch.save({"layers.0.weight": torch.zeros(1), "payload": Gadget()}, evil)
    with pytest.raises(ValueError, match="other than tensors"):
        load_student(io.BytesIO(_replace_member(blob, "student.pt", evil.getvalue())))
    assert _REDUCED == []


def test_the_declared_fitted_state_is_what_fit_sets(mixed_clf):
    # every fitted attribute that predictions read is declared, so a new one cannot
    # be left out of student files
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    reg = DistilledRegressor(LinearRegression(), **FAST).fit(X, y)
    for est in (mixed_clf, reg):
        fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("__")}
        state = est._get_fitted_state()
        assert fitted - {"teacher_", "student_", "preprocessor_"} == set(state)
        assert state["_compiled_encoder_"] is True
    assert "feature_names_in_" in mixed_clf._get_fitted_state()
    assert "feature_names_in_" not in reg._get_fitted_state()


def test_a_file_without_a_fitted_attribute_is_refused(mixed_clf):
    _, blob = _roundtrip(mixed_clf)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        meta = json.loads(zf.read("metadata.json"))
    del meta["fitted"]["classes_"]
    meta["fitted"]["extra_"] = 1
    with pytest.raises(ValueError, match=r"fitted attributes.*missing \['classes_'\], unknown \['extra_'\]"):
        load_student(io.BytesIO(_replace_member(blob, "metadata.json", json.dumps(meta))))


def test_weights_that_do_not_fit_the_architecture(mixed_clf):
    _, blob = _roundtrip(mixed_clf)
    wrong = io.BytesIO()
    torch.save({"layers.0.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(ValueError, match="do not fit"):
        load_student(io.BytesIO(_replace_member(blob, "student.pt", wrong.getvalue())))


def test_not_a_student_file(tmp_path):
    path = tmp_path / "x.skdistill"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a skdistill student file"):
        load_student(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", "{}")
    with pytest.raises(ValueError, match="lacks"):
        load_student(path)


def test_sklearn_version_mismatch_warns(mixed, mixed_clf):
    X, _ = mixed
    _, blob = _roundtrip(mixed_clf)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        meta = json.loads(zf.read("metadata.json"))
    meta["versions"]["scikit-learn"] = "0.0.1"
    with pytest.warns(InconsistentVersionWarning):
        loaded = load_student(io.BytesIO(_replace_member(blob, "metadata.json", json.dumps(meta))))
    np.testing.assert_array_equal(loaded.predict_proba(X), mixed_clf.predict_proba(X))


def test_load_never_unpickles(mixed, mixed_clf, monkeypatch):
    X, _ = mixed
    _, blob = _roundtrip(mixed_clf)

    def refuse(*args, **kwargs):
        raise AssertionError("load_student unpickled something")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(joblib, "load", refuse)
    loaded = load_student(io.BytesIO(blob))
    np.testing.assert_array_equal(loaded.predict_proba(X), mixed_clf.predict_proba(X))


def test_trusted_types_are_exactly_what_the_default_preprocessor_needs(mixed_clf):
    from skops.io import get_untrusted_types

    needed = set(get_untrusted_types(data=skops_dumps(mixed_clf.preprocessor_)))
    assert needed == set(TRUSTED_TYPES)


# ----------------------------------------------------------------------
# files of the previous release (tests/fixtures, written by skdistill 0.1.0
# at commit d32cb06: quantile-normal encoding, before the piecewise-linear one)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def _fixture_predictions(est, tag, kind):
    rows = "classifier" if kind == "classifier" else "regressor"
    X = pd.read_pickle(os.path.join(FIXTURES, f"rows_{rows}.pkl"))
    want = np.load(os.path.join(FIXTURES, f"expected_{tag}_{kind}.npy"))
    got = est.predict_proba(X) if kind == "classifier" else est.predict(X)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    return X, want


#: tag -> the numeric encoding a student file of that code refits with
#: (v0_1 predates the parameter: its encoding, the quantile transform, is kept)
STUDENT_FILE_ENCODINGS = {"v0_1": "quantile", "866b7f6": "auto"}


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("tag", sorted(STUDENT_FILE_ENCODINGS))
def test_student_files_of_earlier_code_still_load(tag, kind):
    est = load_student(os.path.join(FIXTURES, f"student_{tag}_{kind}.zip"))
    _fixture_predictions(est, tag, kind)
    assert est.get_params()["numeric_encoding"] == STUDENT_FILE_ENCODINGS[tag]
    assert est._compiled_encoder_ is not None  # and it still takes the compiled path


def test_pickles_of_the_previous_release_still_load():
    with open(os.path.join(FIXTURES, "estimator_v0_1_classifier.pkl"), "rb") as f:
        est = pickle.load(f)
    _fixture_predictions(est, "v0_1", "classifier")
    params = est.get_params()
    assert params["numeric_encoding"] == "quantile" and params["n_bins"] == "auto"
    assert params["class_weight"] is None


def test_new_students_round_trip_with_the_piecewise_linear_encoding(tmp_path):
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    est = DistilledClassifier(LogisticRegression(), max_epochs=2, augment=None, random_state=0).fit(X, y)
    path = tmp_path / "s.zip"
    save_student(est, path)
    back = load_student(path)
    assert back.get_params()["numeric_encoding"] == "auto"
    assert type(back.preprocessor_.named_transformers_["numeric"][-1]).__name__ == "PiecewiseLinearEncoder"
    assert back._compiled_encoder_ is not None
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))


# ----------------------------------------------------------------------
# files of the code before the module reorganisation (tests/fixtures, tag 866b7f6,
# written by tests/fixtures/make_fixtures.py: piecewise-linear encoding, a
# scikit-learn student); they must keep loading wherever the modules move.

CURRENT = "866b7f6"


@pytest.mark.parametrize("kind", ["classifier", "regressor", "hgb_student"])
def test_pickles_of_the_current_release_still_load(kind):
    with open(os.path.join(FIXTURES, f"estimator_{CURRENT}_{kind}.pkl"), "rb") as f:
        est = pickle.load(f)
    X, want = _fixture_predictions(est, CURRENT, kind)
    if kind == "classifier":
        np.testing.assert_array_equal(est.predict(X), est.classes_[want.argmax(1)])


def test_without_skops_the_error_says_how_to_install_it(mixed_clf, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "skops.io", None)  # import skops.io raises ImportError
    with pytest.raises(ImportError, match=r"saving and loading students needs skops.*skdistill\[safe\]"):
        save_student(mixed_clf, io.BytesIO())
