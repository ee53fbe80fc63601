"""The compiled prediction path: encoder, numpy forward pass, chunking."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from skdistill import DistilledClassifier, DistilledRegressor, infer_column_kinds, make_default_preprocessor
from skdistill import _inference
from skdistill._inference import compile_encoder, mlp_layers, numpy_forward

from .conftest import FAST


def _frame(n, seed=0):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(
        {
            "normal": rng.normal(size=n),
            "counts": rng.poisson(2, size=n).astype(float),  # repeated quantiles
            "cauchy": rng.standard_cauchy(size=n),
            "int": rng.randint(0, 1000, size=n),
            "cat": pd.Categorical(rng.choice(list("abcdefgh"), size=n, p=[.3, .3, .2, .1, .05, .03, .015, .005])),
            "flag": rng.rand(n) > 0.5,
            "text": rng.choice(["x", "y", None], size=n).astype(object),
        }
    )
    X.loc[::7, "normal"] = np.nan
    return X


def _shifted(X, seed=1):
    """Rows unlike the training rows: out-of-range values, unseen categories, new NaN."""
    rng = np.random.RandomState(seed)
    X = X.copy()
    X.loc[:20, "normal"] = rng.normal(size=21) * 100
    X.loc[5:9, "int"] = -5
    X["text"] = X["text"].where(rng.rand(len(X)) > 0.1, "never seen")
    X["cat"] = X["cat"].cat.add_categories(["new"])
    X.loc[3:9, "cat"] = "new"
    X.loc[::11, "cauchy"] = np.nan
    return X


def _small_chunks(monkeypatch, rows):
    monkeypatch.setattr(_inference, "CHUNK_ROWS", rows)
    monkeypatch.setattr(_inference, "COMPILED_CHUNK_ROWS", rows)


@pytest.fixture(scope="module", params=["piecewise_linear", "quantile"])
def fitted_pre(request):
    X = _frame(2000)
    pre = make_default_preprocessor(infer_column_kinds(X), len(X), random_state=0, numeric_encoding=request.param)
    Z = pre.fit_transform(X).astype(np.float32)
    return X, pre, Z


@pytest.mark.parametrize("rows", [slice(0, 1), slice(0, 3), slice(0, 70), slice(None)])
def test_compiled_encoder_matches_preprocessor(fitted_pre, rows):
    X, pre, Z = fitted_pre
    enc = compile_encoder(pre, X, Z)
    assert enc is not None
    for data in (X, _shifted(X)):
        part = data.iloc[rows]
        want = pre.transform(part)
        np.testing.assert_allclose(enc.transform(part), want, atol=1e-6)
        # as the object rows a prediction reads from a frame (up to FEW_ROWS rows:
        # the categorical cells in one pass; more: column by column)
        np.testing.assert_allclose(enc.transform(part.to_numpy(dtype=object)), want, atol=1e-6)


def test_both_quantile_search_paths_agree(monkeypatch):
    X = _frame(2000)
    pre = make_default_preprocessor(infer_column_kinds(X), len(X), random_state=0, numeric_encoding="quantile")
    pre.fit(X)
    enc = compile_encoder(pre)
    X2 = _shifted(X)
    per_column = enc.transform(X2)  # all rows at once: per-column numpy.interp
    monkeypatch.setattr(_inference, "_FEW_VALUES", 10**12)
    all_columns = enc.transform(X2)  # one search over all columns
    np.testing.assert_allclose(all_columns, per_column, atol=1e-7)
    np.testing.assert_allclose(all_columns, pre.transform(X2), atol=1e-6)


def test_compiled_encoder_on_numpy_input():
    X = np.random.RandomState(0).normal(size=(300, 5))
    pre = make_default_preprocessor(infer_column_kinds(X), len(X), random_state=0)
    Z = pre.fit_transform(X)
    enc = compile_encoder(pre, X, Z)
    np.testing.assert_allclose(enc.transform(X * 3), pre.transform(X * 3), atol=1e-6)


def test_user_preprocessor_is_not_compiled(binary_data):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression().fit(X, y), preprocessor=StandardScaler(), **FAST).fit(X, y)
    assert est._compiled_encoder_ is None
    Z = est.preprocessor_.transform(X).astype(np.float32)
    with torch.no_grad():
        logits = est.student_.module_(torch.from_numpy(Z)).numpy()
    np.testing.assert_allclose(est.decision_function(X), logits[:, 1] - logits[:, 0], atol=1e-5)


def test_estimator_uses_compiled_path_and_matches_torch(mixed_frame):
    X, y = mixed_frame
    est = DistilledClassifier(LogisticRegression(), **FAST)
    est.set_params(preprocessor=None)
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    teacher = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["color", "flag"]),
        (StandardScaler(), ["count"]),
    )
    from sklearn.pipeline import make_pipeline

    est.set_params(teacher=make_pipeline(teacher, LogisticRegression()))
    est.fit(X, y)
    assert est._compiled_encoder_ is not None
    Z = est.preprocessor_.transform(X).astype(np.float32)
    with torch.no_grad():
        want = torch.softmax(est.student_.module_(torch.from_numpy(Z)), dim=1).numpy()
    np.testing.assert_allclose(est.predict_proba(X), want, atol=1e-5)


def test_numpy_forward_equals_torch():
    torch.manual_seed(0)
    from skdistill import MLP

    module = MLP(7, 3, (16, 8), dropout=0.2).eval()
    Z = np.random.RandomState(0).normal(size=(50, 7)).astype(np.float32)
    with torch.no_grad():
        want = module(torch.from_numpy(Z)).numpy()
    np.testing.assert_allclose(numpy_forward(mlp_layers(module), Z), want, atol=1e-5)


def test_custom_module_is_not_run_in_numpy():
    class Custom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)

        def forward(self, x):
            return self.lin(x) * 2

    assert mlp_layers(Custom()) is None


@pytest.mark.parametrize("as_frame", [True, False])
def test_chunked_prediction_equals_one_chunk(mixed_frame, binary_data, monkeypatch, as_frame):
    if as_frame:
        X, y = mixed_frame
        est = DistilledClassifier(_FrameLR(), **FAST).fit(X, y)
    else:
        X, y = binary_data
        est = DistilledClassifier(LogisticRegression(), **FAST).fit(X, y)
    whole = est.predict_proba(X)
    _small_chunks(monkeypatch, 7)
    np.testing.assert_allclose(est.predict_proba(X), whole, atol=1e-6)
    np.testing.assert_array_equal(est.predict(X), est.classes_[whole.argmax(1)])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predictions_do_not_depend_on_batching_or_row_order(monkeypatch, n_classes):
    # the forward pass sums in float64 (numpy_forward) and the softmax of one
    # row runs as in a batch: a row predicted alone, in a chunk, with the
    # whole set or in another position gets the same bits
    X, y = make_classification(n_samples=300, n_features=40, n_informative=6, n_classes=n_classes,
                               random_state=0)
    est = DistilledClassifier(LogisticRegression(), **{**FAST, "hidden_layer_sizes": (256, 256)}).fit(X, y)
    whole = est.predict_proba(X)
    one_by_one = np.vstack([est.predict_proba(X[i : i + 1]) for i in range(len(X))])
    np.testing.assert_array_equal(one_by_one, whole)
    perm = np.random.RandomState(0).permutation(len(X))
    np.testing.assert_array_equal(est.predict_proba(X[perm]), whole[perm])
    np.testing.assert_array_equal(est.predict_proba(X[:37]), whole[:37])
    _small_chunks(monkeypatch, 7)
    np.testing.assert_array_equal(est.predict_proba(X), whole)


def test_float64_sums_stay_within_float32_precision_of_the_torch_forward(binary_data):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression(), **FAST).fit(X, y)
    Z = est._encode(X)
    with torch.no_grad():
        want = est.student_.module_(torch.from_numpy(Z)).numpy()
    got = numpy_forward(mlp_layers(est.student_.module_, np.float64), Z)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_regressor_chunked(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(scale=0.1, size=120)
    est = DistilledRegressor(Ridge(), **FAST).fit(X, y)
    whole = est.predict(X)
    _small_chunks(monkeypatch, 16)
    np.testing.assert_array_equal(est.predict(X), whole)  # float64 sums: the same bits


def test_predictions_follow_further_training_of_the_student(binary_data):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression(), **FAST).fit(X, y)
    before = est.predict_proba(X)
    with torch.no_grad():
        for p in est.student_.module_.parameters():
            p.mul_(0.5)
    after = est.predict_proba(X)
    assert not np.allclose(before, after)
    Z = est._encode(X)
    with torch.no_grad():
        want = torch.softmax(est.student_.module_(torch.from_numpy(Z)), dim=1).numpy()
    np.testing.assert_allclose(after, want, atol=1e-5)


class _FrameLR(LogisticRegression):
    """A teacher for DataFrames: logistic regression on the numeric columns."""

    def _num(self, X):
        return X.select_dtypes("number").fillna(0).to_numpy()

    def fit(self, X, y):
        return super().fit(self._num(X), y)

    def predict_proba(self, X):
        return super().predict_proba(self._num(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def test_predictions_follow_replaced_parameters(binary_data):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression(), **FAST).fit(X, y)
    before = est.predict_proba(X)
    first = est.student_.module_.layers[0]
    first.weight = torch.nn.Parameter(first.weight.detach() * 3)
    after = est.predict_proba(X)
    assert not np.allclose(before, after)
    with torch.no_grad():
        want = torch.softmax(est.student_.module_(torch.from_numpy(est._encode(X))), dim=1).numpy()
    np.testing.assert_allclose(after, want, atol=1e-5)


class _FragileStudent(torch.nn.Module):
    """A student that "runs out of device memory" on more than 16 rows at predict."""

    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.lin = torch.nn.Linear(n_inputs, n_outputs)

    def forward(self, x):
        if not self.training and x.shape[0] > 16:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.lin(x)


def test_prediction_backs_off_when_the_device_runs_out_of_memory(binary_data):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression(), student=_FragileStudent, **FAST).fit(X, y)
    with pytest.warns(UserWarning, match="out of memory"):
        proba = est.predict_proba(X)
    with torch.no_grad():
        logits = est.student_.module_.lin(torch.from_numpy(est._encode(X)))
    np.testing.assert_allclose(proba, torch.softmax(logits, dim=1).numpy(), atol=1e-6)


def test_numeric_frames_take_the_fast_path_with_the_same_answers_and_errors():
    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(6)])
    est = DistilledClassifier(LogisticRegression(), **FAST).fit(frame, y)
    full = est._check_X(frame, reset=False)  # the validated frame, as the general path reads it
    np.testing.assert_array_equal(est._plain_frame_values(frame), full.to_numpy())
    parts = np.vstack([est.predict_proba(frame.iloc[:7]), est.predict_proba(frame.iloc[7:])])
    np.testing.assert_allclose(est.predict_proba(frame), parts, rtol=1e-5, atol=1e-6)
    with pytest.warns(UserWarning, match="feature names"):  # an ndarray: scikit-learn's warning, as before
        np.testing.assert_allclose(est.predict_proba(frame), est.predict_proba(X), rtol=1e-5, atol=1e-6)
    # anything unusual goes through the full validation and its errors
    swapped = frame[["c1", "c0", "c2", "c3", "c4", "c5"]]
    assert est._plain_frame_values(swapped) is None
    with pytest.raises(ValueError, match="feature names"):
        est.predict(swapped)
    text = frame.astype({"c3": object})
    text.loc[4, "c3"] = "unknown"
    assert est._plain_frame_values(text) is None
    with pytest.raises(ValueError, match="'c3'.*unknown"):
        est.predict(text)
    inf = frame.copy()
    inf.loc[2, "c0"] = np.inf
    assert est._plain_frame_values(inf) is None
    with pytest.raises(ValueError, match="infinity"):
        est.predict(inf)


def test_frames_without_string_labels_take_the_fast_path_for_a_student_fitted_on_an_ndarray():
    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    est = DistilledClassifier(LogisticRegression(), **FAST).fit(X, y)
    frame = pd.DataFrame(X)  # integer column labels: no feature names for scikit-learn
    np.testing.assert_array_equal(est._plain_frame_values(frame), X)
    np.testing.assert_array_equal(est.predict_proba(frame.iloc[[3]]), est.predict_proba(X[3:4]))
    ints = frame.round().astype({2: "Int64", 3: np.int32})  # integer columns read as numbers
    np.testing.assert_array_equal(est._plain_frame_values(ints), ints.to_numpy(float))
    # what scikit-learn warns about or refuses goes through the full validation
    named = frame.set_axis([f"c{i}" for i in range(6)], axis=1)
    assert est._plain_frame_values(named) is None
    with pytest.warns(UserWarning, match="fitted without feature names"):
        est.predict(named)
    mixed_labels = frame.set_axis([0, 1, 2, 3, 4, "five"], axis=1)
    assert est._plain_frame_values(mixed_labels) is None
    with pytest.raises(TypeError, match="Feature names are only supported if all input features"):
        est.predict(mixed_labels)
    odds = (frame.iloc[:, :5], frame.set_axis([0, 1, 2, 3, 4, 4], axis=1), frame.astype({1: bool}),
            frame.astype({4: object}), frame.astype({0: "category"}))
    for odd in odds:
        assert est._plain_frame_values(odd) is None
    with pytest.raises(ValueError, match="features"):
        est.predict(frame.iloc[:, :5])
    inf = frame.copy()
    inf.loc[2, 0] = np.inf
    assert est._plain_frame_values(inf) is None
    with pytest.raises(ValueError, match="infinity"):
        est.predict(inf)


def test_few_rows_of_a_mixed_frame_read_at_once_give_the_same_answers(mixed_frame):
    X, y = mixed_frame
    est = DistilledClassifier(_FrameLR(), **FAST).fit(X, y)
    shifted = X.copy()
    shifted["color"] = shifted["color"].cat.add_categories(["purple"])
    shifted.loc[3, "color"] = "purple"  # unseen
    shifted.loc[4, "color"] = np.nan  # missing
    shifted.loc[5, "num"] = np.nan
    shifted.loc[6, "heavy"] = 1e6  # beyond the fit range
    rows = shifted.iloc[:40]
    assert est._plain_frame_values(rows) is not None and est._plain_frame_values(shifted) is None
    want = est.predict_proba(shifted)[:40]  # the full path (more rows than are read at once)
    got = np.vstack([est.predict_proba(rows.iloc[i : i + 1]) for i in range(40)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    text = rows.astype({"count": object})
    text.loc[2, "count"] = "many"
    with pytest.raises(ValueError, match="'count'.*many"):
        est.predict(text)


def test_frame_values_of_one_row_match_pandas():
    # one row is read cell by cell: the values must read as pandas' own, dtype by dtype
    # (numpy scalars where pandas gives Python ones: the same number, the same str())
    from skdistill._inference import frame_values

    X = pd.DataFrame(
        {
            "f": [1.5, np.nan],
            "i": [3, 4],
            "cat": pd.Categorical(["a", None]),
            "icat": pd.Categorical([2, 1]),
            "nullable": pd.array([pd.NA, 2], dtype="Int64"),
            "flag": [True, False],
            "text": ["x", None],
            "when": pd.to_datetime(["2020-01-01", None]),
        }
    )
    for i in range(len(X)):
        row = X.iloc[[i]]
        got, want = frame_values(row), row.to_numpy(dtype=object)
        assert got.shape == want.shape == (1, X.shape[1]) and got.dtype == object
        for g, w in zip(got[0], want[0]):
            assert str(g) == str(w) and (pd.isna(g) == pd.isna(w))
            if not pd.isna(w):
                assert g == w
    np.testing.assert_array_equal(frame_values(X).shape, (2, X.shape[1]))
    # the same column with other categories, and without the blocks read cell by cell (datetime)
    recoded = X.drop(columns="when").assign(cat=pd.Categorical(["b", "a"], categories=["b", "a", "z"]))
    for i in range(len(recoded)):
        row = recoded.iloc[[i]]
        assert [str(v) for v in frame_values(row)[0]] == [str(v) for v in row.to_numpy(dtype=object)[0]]


@pytest.mark.parametrize("n_classes", [2, 5, 8, 9, 32])
def test_softmax_one_row_matches_the_batch(n_classes):
    # one row of up to 8 classes runs on Python floats, more rows (or classes) through numpy
    from skdistill._classifier import softmax

    rng = np.random.default_rng(n_classes)
    z = rng.normal(scale=20, size=(50, n_classes))
    z[0, 0] = 700.0  # exp would overflow without the shift
    batch = softmax(z.copy())
    rows = np.vstack([softmax(z[i : i + 1].copy()) for i in range(len(z))])
    np.testing.assert_allclose(rows, batch, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, rtol=1e-13)
    assert np.all(batch >= 0) and batch[0, 0] == pytest.approx(1.0)
