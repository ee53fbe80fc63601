"""ONNX export: the exported graph reproduces predict_proba / predict."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from skdistill import DistilledClassifier, DistilledRegressor, onnx_inputs, to_onnx  # noqa: E402

SMALL = dict(max_epochs=3, augment=None, random_state=0, hidden_layer_sizes=(32, 16))


def _run(model, feed):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feed)[0]


def _mixed_frame(n, rng, unseen=False):
    colors = np.array(["red", "green", "blue", "teal", "rare1", "rare2"])
    p = [0.35, 0.3, 0.25, 0.08, 0.01, 0.01]
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "color": pd.Series(rng.choice(colors, size=n, p=p), dtype=object),
            "b": rng.exponential(size=n) * 10,
            "flag": rng.rand(n) > 0.5,
            "c": rng.randint(0, 5, size=n).astype(float),
            "size": pd.Categorical(rng.choice(["S", "M", "L"], size=n)),
        }
    )
    X.loc[X.index[::9], "a"] = np.nan
    X.loc[X.index[::11], "color"] = None
    if unseen:
        X.loc[X.index[::6], "color"] = "never-seen"
        X["size"] = X["size"].cat.add_categories(["XXL"])
        X.loc[X.index[::13], "size"] = "XXL"
    return X


def test_numeric_classifier_matches_predict_proba(tmp_path):
    X, y = make_classification(n_samples=300, n_features=5, n_informative=3, n_classes=3, random_state=0)
    X[::7, 1] = np.nan
    est = DistilledClassifier(HistGradientBoostingClassifier(max_iter=20), **SMALL).fit(X, y)
    path = tmp_path / "model.onnx"
    model = to_onnx(est, path=str(path), X_sample=X[:50])
    assert path.exists()
    assert [i.name for i in model.graph.input] == ["X_numeric"]
    rng = np.random.RandomState(1)
    X_test = np.vstack([X, rng.normal(scale=4, size=(200, 5))])  # includes values outside the fit range
    X_test[::5, 3] = np.nan  # NaN in a column that had none at fit
    got = _run(onnx.load(str(path)), onnx_inputs(est, X_test))
    np.testing.assert_allclose(got, est.predict_proba(X_test), atol=1e-5, rtol=0)
    # the helper also works from the model's metadata
    assert onnx_inputs(model, X_test)["X_numeric"].shape == (500, 5)


def test_mixed_frame_with_nan_and_unseen_categories():
    rng = np.random.RandomState(0)
    X = _mixed_frame(400, rng)
    y = ((X["a"].fillna(0) + (X["color"] == "red") + 0.1 * X["b"]) > 1).astype(int)
    teacher = make_pipeline(
        FunctionTransformer(_as_str),
        ColumnTransformer(
            [
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="missing"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    ["color", "flag", "size"],
                ),
                ("num", SimpleImputer(), ["a", "b", "c"]),
            ]
        ),
        LogisticRegression(),
    )
    est = DistilledClassifier(_NanOK(teacher), alpha=0.5, **SMALL).fit(X, y)
    enc = est.preprocessor_.named_transformers_["categorical"][-1]
    assert enc.infrequent_categories_[0] is not None  # rare colors grouped; unseen ones go there
    model = to_onnx(est)
    assert {i.name for i in model.graph.input} == {"X_numeric", "X_categorical"}
    X_test = _mixed_frame(300, np.random.RandomState(5), unseen=True)
    X_test.loc[X_test.index[::4], "b"] = np.nan
    got = _run(model, onnx_inputs(est, X_test))
    np.testing.assert_allclose(got, est.predict_proba(X_test), atol=1e-5, rtol=0)


def test_regressor_matches_predict():
    X, y = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
    y = y * 100 + 1000
    X[::8, 0] = np.nan
    from sklearn.ensemble import HistGradientBoostingRegressor

    est = DistilledRegressor(HistGradientBoostingRegressor(max_iter=20), **SMALL).fit(X, y)
    model = to_onnx(est)
    got = _run(model, onnx_inputs(est, X))
    assert got.shape == (300, 1)
    want = est.predict(X)
    np.testing.assert_allclose(got[:, 0], want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_multioutput_regressor():
    X, y = make_regression(n_samples=200, n_features=4, n_targets=2, random_state=0)
    est = DistilledRegressor(Ridge(), **SMALL).fit(X, y)
    got = _run(to_onnx(est), onnx_inputs(est, X))
    np.testing.assert_allclose(got, est.predict(X), rtol=1e-4, atol=1e-4 * np.abs(y).max())


class _TanhNet(nn.Module):
    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.hidden = nn.Linear(n_inputs, 8)
        self.out = nn.Linear(8, n_outputs)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


def test_custom_student_module_goes_through_torch_export():
    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    est = DistilledClassifier(LogisticRegression(), **{**SMALL, "student": _TanhNet}).fit(X, y)
    got = _run(to_onnx(est), onnx_inputs(est, X))
    np.testing.assert_allclose(got, est.predict_proba(X), atol=1e-5, rtol=0)


def test_custom_preprocessor_is_a_type_error():
    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    est = DistilledClassifier(LogisticRegression(), preprocessor=StandardScaler(), **SMALL).fit(X, y)
    with pytest.raises(TypeError, match="cannot convert the student's preprocessor"):
        to_onnx(est)


def test_not_an_estimator_is_a_type_error():
    with pytest.raises(TypeError, match="DistilledClassifier.*DistilledRegressor"):
        to_onnx(LogisticRegression())


def test_path_may_be_a_file_object_and_is_validated():
    import io

    import onnx

    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    est = DistilledClassifier(LogisticRegression(), **SMALL).fit(X, y)
    buf = io.BytesIO()
    model = to_onnx(est, path=buf)
    assert onnx.load_from_string(buf.getvalue()) == model
    with pytest.raises(TypeError, match="'path' parameter"):
        to_onnx(est, path=3)
    with pytest.raises(ValueError, match="'X_sample' parameter"):
        to_onnx(est, X_sample=1.0)


def test_feed_checks_the_number_of_columns():
    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    est = DistilledClassifier(LogisticRegression(), **SMALL).fit(X, y)
    with pytest.raises(ValueError, match="4"):
        onnx_inputs(est, X[:, :3])


def _as_str(X):
    return X.astype({"flag": str, "size": str, "color": object})


class _NanOK(ClassifierMixin, BaseEstimator):
    """A pipeline teacher, tagged as accepting NaN."""

    def __init__(self, model=None):
        self.model = model

    def fit(self, X, y):
        self.model_ = clone(self.model).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


@pytest.mark.parametrize("n_categorical", [1, 2])
def test_one_or_few_categorical_columns(n_categorical):
    # the graph splits X_categorical into its columns (a single one needs no Split)
    rng = np.random.RandomState(1)
    X = pd.DataFrame({"a": rng.normal(size=300), "k0": pd.Categorical(rng.choice(list("xyz"), 300))})
    cats = ["k0"]
    if n_categorical == 2:
        X["k1"] = pd.Series(rng.choice(["p", "q"], size=300), dtype=object)
        cats.append("k1")
    y = ((X["a"] + (X["k0"] == "x")) > 0.5).astype(int)
    teacher = make_pipeline(
        ColumnTransformer([("cat", OneHotEncoder(), cats), ("num", "passthrough", ["a"])]),
        LogisticRegression(),
    )
    est = DistilledClassifier(teacher, alpha=0.5, **SMALL).fit(X, y)
    model = to_onnx(est, X_sample=X[:50])
    assert sum(n.op_type == "Split" for n in model.graph.node) == (n_categorical > 1)
    X_test = X[:40].copy()
    X_test["k0"] = X_test["k0"].cat.add_categories(["new"])
    X_test.loc[0, "k0"], X_test.loc[1, "k0"] = "new", np.nan
    got = _run(model, onnx_inputs(est, X_test))
    np.testing.assert_allclose(got, est.predict_proba(X_test), atol=1e-5, rtol=0)


@pytest.mark.parametrize("numeric_encoding", ["piecewise_linear", "quantile"])
def test_both_numeric_encodings_export(numeric_encoding):
    rng = np.random.RandomState(0)
    X = _mixed_frame(300, rng)
    y = ((X["a"].fillna(0) + 0.1 * X["b"]) > 1).astype(int)
    teacher = make_pipeline(SimpleImputer(), LogisticRegression())
    est = DistilledClassifier(
        _NanOK(teacher), numeric_encoding=numeric_encoding, **SMALL
    ).fit(X[["a", "b", "c"]], y)
    X_test = _mixed_frame(200, np.random.RandomState(3))[["a", "b", "c"]] * 3  # beyond the fit range
    got = _run(to_onnx(est), onnx_inputs(est, X_test))
    np.testing.assert_allclose(got, est.predict_proba(X_test), atol=1e-5, rtol=0)


@pytest.fixture
def named_student():
    rng = np.random.RandomState(0)
    X = _mixed_frame(300, rng)
    y = ((X["a"].fillna(0) + (X["color"] == "red") + 0.1 * X["b"]) > 1).astype(int)
    teacher = make_pipeline(
        FunctionTransformer(_as_str),
        ColumnTransformer(
            [("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                   OneHotEncoder(handle_unknown="ignore")), ["color", "flag", "size"]),
             ("num", SimpleImputer(), ["a", "b", "c"])]
        ),
        LogisticRegression(),
    )
    est = DistilledClassifier(_NanOK(teacher), **SMALL).fit(X, y)
    return est, X


def test_feed_takes_dataframe_columns_by_name(named_student):
    est, X = named_student
    model = to_onnx(est)
    swapped = X[["b", "a", "size", "c", "flag", "color"]]  # the same columns, another order
    for source in (est, model):
        got = _run(model, onnx_inputs(source, swapped))
        np.testing.assert_allclose(got, est.predict_proba(X), atol=1e-5, rtol=0)


def test_feed_refuses_missing_or_unknown_columns(named_student):
    est, X = named_student
    model = to_onnx(est)
    for source in (est, model):
        with pytest.raises(ValueError, match=r"missing columns \['c'\]"):
            onnx_inputs(source, X.drop(columns="c"))
        with pytest.raises(ValueError, match=r"not seen at fit \['extra'\]"):
            onnx_inputs(source, X.assign(extra=1.0))
        renamed = X.set_axis([f"x{i}" for i in range(X.shape[1])], axis=1)
        with pytest.raises(ValueError, match="missing columns"):
            onnx_inputs(source, renamed)


def test_feed_positional_input_is_counted():
    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    est = DistilledClassifier(LogisticRegression(), **SMALL).fit(X, y)
    model = to_onnx(est)
    feed = onnx_inputs(model, X)
    assert feed["X_numeric"] is X  # float64 C-contiguous: passed as is, nothing copied
    np.testing.assert_array_equal(onnx_inputs(model, X.astype(np.float32))["X_numeric"], X.astype(np.float32))
    np.testing.assert_allclose(_run(model, onnx_inputs(model, X[0])), est.predict_proba(X[:1]), atol=1e-5)
    for bad in (X[:, :3], np.hstack([X, X[:, :1]])):
        with pytest.raises(ValueError, match="features, but the model expects 4"):
            onnx_inputs(model, bad)


def test_feed_of_few_rows_equals_the_general_feed(named_student, monkeypatch):
    from skdistill import _inference

    est, X = named_student
    X_test = _mixed_frame(40, np.random.RandomState(7), unseen=True)
    X_test.loc[X_test.index[::3], "b"] = np.nan
    fast = onnx_inputs(est, X_test)  # 40 rows: one object array
    monkeypatch.setattr(_inference, "FEW_ROWS", 0)
    general = onnx_inputs(est, X_test)
    assert fast.keys() == general.keys()
    np.testing.assert_array_equal(fast["X_numeric"], general["X_numeric"])
    np.testing.assert_array_equal(fast["X_categorical"], general["X_categorical"])
    assert "__missing__" in set(fast["X_categorical"].ravel())
    got = _run(to_onnx(est), fast)
    np.testing.assert_allclose(got, est.predict_proba(X_test), atol=1e-5, rtol=0)


def test_onnx_inputs_follows_a_refit_with_other_columns():
    # the column layout is cached per fit: a refit on other columns gets its own
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    est = DistilledClassifier(LogisticRegression(), hidden_layer_sizes=(4,), max_epochs=1,
                              augment=None, random_state=0)
    est.fit(pd.DataFrame(X[:, :4], columns=list("abcd")), y)
    assert onnx_inputs(est, pd.DataFrame(X[:2, :4], columns=list("abcd")))["X_numeric"].shape == (2, 4)
    est.fit(pd.DataFrame(X, columns=list("vwxyz")), y)
    feed = onnx_inputs(est, pd.DataFrame(X[:2, ::-1], columns=list("zyxwv")))  # by name, any order
    np.testing.assert_array_equal(feed["X_numeric"], X[:2])
    with pytest.raises(ValueError, match="missing columns"):
        onnx_inputs(est, pd.DataFrame(X[:2, :4], columns=list("abcd")))
