"""On-disk transfer sets: label_transfer_set (local Dask schedulers) and TransferSet in fit."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import make_column_transformer
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from skdistill import DistilledClassifier, DistilledRegressor, TransferSet, label_transfer_set
from skdistill._transfer import StreamBatches, StreamingTransferData
from skdistill._transfer_format import (
    DEFAULT_ROW_GROUP_SIZE,
    FORMAT_VERSION,
    METADATA_FILE,
    array_columns,
    check_frame_columns,
    prepare_directory,
    write_description,
    write_partition,
)
from skdistill._teacher import PROBA_CLIP

from .conftest import FAST

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("pyarrow")


@pytest.fixture
def clf_setup():
    X, y = make_classification(n_samples=200, n_features=5, n_informative=3, random_state=0)
    teacher = LogisticRegression().fit(X, y)
    extra = np.random.RandomState(1).normal(size=(1000, 5))
    return X, y, teacher, extra


def _dask(a, rows=250):
    return da.from_array(a, chunks=(rows, a.shape[1]))


def test_label_transfer_set_writes_rows_and_teacher_logits(clf_setup, tmp_path):
    X, y, teacher, extra = clf_setup
    ts = label_transfer_set(teacher, _dask(extra), tmp_path / "t", row_group_size=100)
    assert isinstance(ts, TransferSet)
    assert (ts.n_rows, ts.n_features, ts.n_outputs, ts.task) == (1000, 5, 2, "classification")
    assert ts.columns is None and ts.classes_.tolist() == [0, 1]
    assert sorted(p for p in os.listdir(ts.path) if p.endswith(".parquet")) == [
        f"part-{i:05d}.parquet" for i in range(4)
    ]
    chunks = list(ts.iter_chunks())
    assert len(chunks) == 12  # 4 partitions of 250 rows, row groups of 100, 100, 50
    assert max(len(c[0]) for c in chunks) == 100
    rows = np.concatenate([c[0] for c in chunks])
    logits = np.concatenate([c[1] for c in chunks])
    np.testing.assert_array_equal(rows, extra)
    expected = np.log(np.clip(teacher.predict_proba(extra), PROBA_CLIP, 1))
    np.testing.assert_allclose(logits, expected, rtol=1e-12)
    # a reopened set is the same; shuffling changes the order of row groups only
    again = TransferSet(ts.path)
    shuffled = np.concatenate([c[0] for c in again.iter_chunks(shuffle=True, random_state=0)])
    assert not np.array_equal(shuffled, extra)
    np.testing.assert_array_equal(np.sort(shuffled, axis=0), np.sort(extra, axis=0))


def test_dataframe_transfer_set_keeps_columns_and_dtypes(mixed_frame, tmp_path):
    X, y = mixed_frame
    pre = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["color", "flag"]), remainder="passthrough"
    )
    X_num = X.fillna({"num": 0.0})
    teacher = make_pipeline(pre, RandomForestClassifier(n_estimators=10, random_state=0)).fit(X_num, y)
    ts = label_transfer_set(teacher, dd.from_pandas(X_num, npartitions=3), tmp_path / "t")
    assert ts.columns == list(X.columns)
    assert ts.classes_.tolist() == ["no", "yes"]
    back = pd.concat([c[0] for c in ts.iter_chunks()], ignore_index=True)
    assert list(back.columns) == list(X.columns)
    assert isinstance(back["color"].dtype, pd.CategoricalDtype)
    assert back["flag"].dtype == bool
    np.testing.assert_array_equal(back["num"].to_numpy(), X_num["num"].to_numpy())
    assert (back["color"].astype(str) == X_num["color"].astype(str)).all()

    est = DistilledClassifier(teacher, **FAST).fit(X_num, y, X_unlabeled=ts)
    assert est.n_transfer_ == 2 * len(X)
    assert est.predict(X_num).shape == (len(X),)


def test_stream_visits_every_row_once_per_epoch_in_full_batches():
    """StreamBatches: all in-memory and on-disk rows, once each, batches of batch_size."""

    class FakeSet:
        n_rows = 1000

        def iter_chunks(self, shuffle=False, random_state=None):
            order = np.random.default_rng(random_state).permutation(5) if shuffle else range(5)
            for i in order:  # 5 row groups of 200 rows, values 1000..1999
                rows = np.arange(1000 + 200 * i, 1200 + 200 * i, dtype=np.float32)
                yield rows[:, None], rows[:, None].astype(np.float64)

    mem = torch.arange(130, dtype=torch.float32)[:, None]  # in-memory rows 0..129
    data = StreamingTransferData(
        mem, mem.clone(), FakeSet(), encode=lambda c: np.asarray(c, np.float32), pack=lambda o: o.astype(np.float32)
    )
    torch.manual_seed(0)
    batches = list(StreamBatches(data, batch_size=64, shuffle=True))
    assert len(batches) == len(StreamBatches(data, batch_size=64)) == 18
    assert [b[0].shape[0] for b in batches[:-1]] == [64] * 17 and batches[-1][0].shape[0] == 1130 - 17 * 64
    seen = torch.cat([b[0] for b in batches]).ravel()
    assert sorted(seen.tolist()) == list(range(130)) + list(range(1000, 2000))
    assert all(torch.equal(b[0], b[1]) for b in batches)  # rows keep their targets
    # in-memory rows are spread over the epoch, not appended at the end
    first_half = torch.cat([b[0] for b in batches[:9]]).ravel()
    assert 30 < int((first_half < 130).sum()) < 100
    # reproducible under the same torch seed, different under another
    torch.manual_seed(0)
    again = torch.cat([b[0] for b in StreamBatches(data, batch_size=64, shuffle=True)]).ravel()
    assert torch.equal(seen, again)
    torch.manual_seed(1)
    other = torch.cat([b[0] for b in StreamBatches(data, batch_size=64, shuffle=True)]).ravel()
    assert not torch.equal(seen, other)


def test_fit_streams_the_transfer_set_one_row_group_at_a_time(clf_setup, tmp_path, monkeypatch):
    X, y, teacher, extra = clf_setup
    ts = label_transfer_set(teacher, _dask(extra), tmp_path / "t", row_group_size=128)
    reads = []
    original = TransferSet._read

    def spy(self, unit):
        out = original(self, unit)
        reads.append(len(out[0]))
        return out

    monkeypatch.setattr(TransferSet, "_read", spy)
    params = {**FAST, "max_epochs": 3}
    est = DistilledClassifier(teacher, **params).fit(X, y, X_unlabeled=TransferSet(ts.path))
    assert est.n_transfer_ == 1200
    assert max(reads) <= 128 and sum(reads) == 3 * 1000  # every row once per epoch
    assert est.student_.history[-1, "train_batch_count"] == int(np.ceil(1200 / FAST["batch_size"]))
    # reproducible with random_state
    again = DistilledClassifier(teacher, **params).fit(X, y, X_unlabeled=TransferSet(ts.path))
    np.testing.assert_array_equal(est.predict_proba(extra), again.predict_proba(extra))


def test_student_learns_the_teacher_from_the_on_disk_rows(tmp_path):
    """With few labelled rows, the streamed teacher-labelled rows carry the teacher's knowledge."""
    X_all, y_all = make_classification(n_samples=4000, n_features=6, n_informative=4, random_state=3)
    teacher = LogisticRegression().fit(X_all, y_all)
    X, y = X_all[:40], y_all[:40]
    ts = label_transfer_set(teacher, _dask(X_all[40:3000], rows=1000), tmp_path / "t")
    params = dict(FAST, max_epochs=4, alpha=1.0, temperature=1.0)
    small = DistilledClassifier(teacher, **params).fit(X, y)
    big = DistilledClassifier(teacher, **params).fit(X, y, X_unlabeled=ts)
    test = X_all[3000:]
    agree_small = np.mean(small.predict(test) == teacher.predict(test))
    agree_big = np.mean(big.predict(test) == teacher.predict(test))
    assert agree_big > 0.95 and agree_big > agree_small + 0.02


def test_regressor_streams_with_the_in_memory_standardization(tmp_path):
    X, y = make_regression(n_samples=200, n_features=4, noise=1.0, random_state=0)
    teacher = LinearRegression().fit(X, y)
    extra = np.random.RandomState(2).normal(size=(2000, 4))
    ts = label_transfer_set(teacher, _dask(extra, rows=500), tmp_path / "t")
    assert ts.task == "regression" and ts.classes_ is None and ts.n_outputs == 1
    est = DistilledRegressor(teacher, **dict(FAST, max_epochs=5, batch_size=64)).fit(X, y, X_unlabeled=ts)
    assert est.n_transfer_ == 2200
    # standardized on the in-memory targets only, as without a transfer set
    np.testing.assert_allclose(est.target_mean_, [y.mean()])
    test = np.random.RandomState(3).normal(size=(300, 4))
    pred, ref = est.predict(test), teacher.predict(test)
    assert 1 - np.mean((pred - ref) ** 2) / np.var(ref) > 0.9


@pytest.mark.parametrize("Est", [DistilledClassifier, DistilledRegressor])
def test_pack_targets_matches_build_targets_for_unlabelled_rows(Est):
    rng = np.random.RandomState(0)
    outputs = rng.normal(size=(10, 3))
    est = Est(LogisticRegression())
    if Est is DistilledClassifier:
        y_enc = rng.randint(0, 3, size=4)
    else:
        y_enc = rng.normal(size=(4, 3))
    full = est._build_targets(outputs, y_enc, 4)  # rows 4.. carry only the teacher
    np.testing.assert_array_equal(est._pack_targets(outputs[4:]), full[4:])


def test_early_stopping_validates_on_in_memory_rows(clf_setup, tmp_path):
    X, y, teacher, extra = clf_setup
    ts = label_transfer_set(teacher, _dask(extra), tmp_path / "t")
    est = DistilledClassifier(
        teacher, early_stopping=True, validation_fraction=0.25, n_iter_no_change=2, **FAST
    ).fit(X, y, X_unlabeled=ts)
    history = est.student_.history
    assert "valid_loss" in history[-1]
    batch = FAST["batch_size"]
    assert history[-1, "valid_batch_count"] == int(np.ceil(50 / batch))  # 25% of the 200 real rows
    assert history[-1, "train_batch_count"] == int(np.ceil((150 + 1000) / batch))


def test_torch_teacher_labelled_in_threads_keeps_its_mode(tmp_path):
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 3))
    module.train()
    extra = np.random.RandomState(0).normal(size=(800, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="task="):
        label_transfer_set(module, _dask(extra, rows=100), tmp_path / "a")
    ts = label_transfer_set(module, _dask(extra, rows=100), tmp_path / "t", task="classification")
    assert module.training and all(m.training for m in module.modules())
    logits = np.concatenate([c[1] for c in ts.iter_chunks()])
    module.eval()
    with torch.no_grad():
        expected = module(torch.from_numpy(extra)).double().numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-6)  # eval mode: no dropout in any thread
    assert ts.classes_.tolist() == [0, 1, 2]


def test_transfer_set_from_another_teacher_or_data_is_rejected(clf_setup, tmp_path):
    X, y, teacher, extra = clf_setup
    ts = label_transfer_set(teacher, _dask(extra), tmp_path / "t")
    three = LogisticRegression().fit(X, np.arange(len(y)) % 3)
    with pytest.raises(ValueError, match="classes"):
        DistilledClassifier(three, **FAST).fit(X, np.arange(len(y)) % 3, X_unlabeled=ts)
    with pytest.raises(ValueError, match="features"):
        DistilledClassifier(LogisticRegression().fit(X[:, :4], y), **FAST).fit(X[:, :4], y, X_unlabeled=ts)
    frame = pd.DataFrame(X, columns=list("abcde"))
    with pytest.raises(ValueError, match="column names"):
        DistilledClassifier(LogisticRegression().fit(frame, y), **FAST).fit(frame, y, X_unlabeled=ts)
    with pytest.raises(ValueError, match="labelled for classification"):
        DistilledRegressor(LinearRegression().fit(X, y), **FAST).fit(X, y, X_unlabeled=ts)
    # a failed fit leaves no fitted state behind
    est = DistilledClassifier(three, **FAST)
    with pytest.raises(ValueError):
        est.fit(X, np.arange(len(y)) % 3, X_unlabeled=ts)
    assert not hasattr(est, "student_")


def test_label_transfer_set_checks_its_input(clf_setup, tmp_path):
    X, y, teacher, extra = clf_setup
    with pytest.raises(TypeError, match="dask.array.from_array"):
        label_transfer_set(teacher, extra, tmp_path / "a")
    with pytest.raises(ValueError, match="fitted"):
        label_transfer_set(LogisticRegression(), _dask(extra), tmp_path / "a")
    with pytest.raises(ValueError, match="'task' parameter of label_transfer_set must be a str among"):
        label_transfer_set(teacher, _dask(extra), tmp_path / "a", task="ranking")
    for name, bad in [("labeling_batch_size", 0), ("row_group_size", 2.5), ("overwrite", "yes"), ("path", None)]:
        with pytest.raises((ValueError, TypeError), match=f"'{name}' parameter of label_transfer_set"):
            label_transfer_set(teacher, _dask(extra), **{"path": tmp_path / "a", name: bad})
    with pytest.raises(ValueError, match="2-D"):
        label_transfer_set(teacher, da.zeros(10, chunks=5), tmp_path / "a")
    with pytest.raises(ValueError, match="strings"):
        label_transfer_set(teacher, dd.from_pandas(pd.DataFrame(extra), npartitions=2), tmp_path / "a")
    # an existing directory: refused unless it holds a transfer set and overwrite=True
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no transfer set"):
        label_transfer_set(teacher, _dask(extra), other, overwrite=True)
    assert (other / "notes.txt").read_text() == "mine"
    path = tmp_path / "t"
    label_transfer_set(teacher, _dask(extra), path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        label_transfer_set(teacher, _dask(extra[:500]), path)
    ts = label_transfer_set(teacher, _dask(extra[:500]), path, overwrite=True)
    assert ts.n_rows == 500 and len(list(path.glob("part-*.parquet"))) == 2


def test_transfer_set_refuses_incomplete_or_foreign_directories(clf_setup, tmp_path):
    X, y, teacher, extra = clf_setup
    with pytest.raises(ValueError, match="not a transfer set"):
        TransferSet(tmp_path)
    ts = label_transfer_set(teacher, _dask(extra), tmp_path / "t")
    os.remove(os.path.join(ts.path, "part-00001.parquet"))
    with pytest.raises(ValueError, match="lacks its files"):
        TransferSet(ts.path)
    meta = os.path.join(ts.path, METADATA_FILE)
    with open(meta) as f:
        content = json.load(f)
    with open(meta, "w") as f:
        json.dump({**content, "version": 99}, f)
    with pytest.raises(ValueError, match="version 1"):
        TransferSet(ts.path)


# ---------------------------------------------------------------------------
# the format (skdistill._transfer_format): writer and reader, without Dask


def _write_set(path, parts, *, task="classification", classes=(0, 1), frame=False, row_group_size=3):
    columns = list(parts[0][0].columns) if frame else array_columns(parts[0][0].shape[1])
    prepare_directory(str(path))
    written = [
        write_partition(str(path), i, rows, outputs, columns=columns, row_group_size=row_group_size)
        for i, (rows, outputs) in enumerate(parts)
    ]
    return write_description(
        str(path), written, kind="frame" if frame else "array", columns=columns,
        dtype=None if frame else str(parts[0][0].dtype), task=task,
        classes=None if classes is None else list(classes), teacher="Hand",
    )


def test_format_round_trip_of_an_array(tmp_path):
    rng = np.random.default_rng(0)
    parts = [(rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 2))) for n in (7, 5)]
    ts = _write_set(tmp_path / "t", parts)
    assert (ts.n_rows, ts.n_features, ts.n_outputs, ts.task, ts.teacher) == (12, 3, 2, "classification", "Hand")
    assert ts.columns is None and ts.classes_.tolist() == [0, 1]
    chunks = list(ts.iter_chunks())
    assert [len(c[0]) for c in chunks] == [3, 3, 1, 3, 2]  # row groups of 3 within each file
    rows = np.concatenate([c[0] for c in chunks])
    assert rows.dtype == np.float32
    np.testing.assert_array_equal(rows, np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), np.concatenate([p[1] for p in parts]))
    with open(os.path.join(ts.path, METADATA_FILE)) as f:
        assert json.load(f)["version"] == FORMAT_VERSION


def test_format_round_trip_of_a_frame_keeps_values_and_dtypes(tmp_path):
    frame = pd.DataFrame(
        {"num": [0.5, np.nan, 2.0, -1.0], "color": pd.Categorical(list("abca")), "flag": [True, False, True, True]}
    )
    outputs = np.arange(4.0)[:, None]
    ts = _write_set(
        tmp_path / "t", [(frame.iloc[:3], outputs[:3]), (frame.iloc[3:], outputs[3:])], task="regression",
        classes=None, frame=True,
    )
    back = pd.concat([c[0] for c in ts.iter_chunks()], ignore_index=True)
    pd.testing.assert_frame_equal(back, frame)
    np.testing.assert_array_equal(np.concatenate([c[1] for c in ts.iter_chunks()]), outputs)
    assert ts.columns == ["num", "color", "flag"] and ts.classes_ is None


def test_description_lists_only_partitions_with_rows(tmp_path):
    path = str(tmp_path / "t")
    prepare_directory(path)
    part = write_partition(path, 1, np.ones((2, 2)), np.zeros((2, 1)), columns=array_columns(2))
    ts = write_description(
        path, [None, part], kind="array", columns=array_columns(2), dtype="float64",
        task="regression", classes=None, teacher="Hand",
    )
    assert ts.n_rows == 2 and ts._meta["partitions"] == [{"file": "part-00001.parquet", "n_rows": 2}]
    with pytest.raises(ValueError, match="no rows"):
        write_description(path, [None], kind="array", columns=array_columns(2), dtype="float64",
                          task="regression", classes=None, teacher="Hand")
    other = write_partition(path, 2, np.ones((2, 2)), np.zeros((2, 3)), columns=array_columns(2))
    with pytest.raises(ValueError, match=r"different numbers of outputs per partition: \[1, 3\]"):
        write_description(path, [part, other], kind="array", columns=array_columns(2), dtype="float64",
                          task="regression", classes=None, teacher="Hand")


def test_classes_that_json_cannot_hold_are_refused_before_the_description_is_written(tmp_path):
    path = str(tmp_path / "t")
    prepare_directory(path)
    part = write_partition(path, 0, np.ones((2, 2)), np.zeros((2, 2)), columns=array_columns(2))
    with pytest.raises(ValueError, match="cannot be stored"):
        write_description(path, [part], kind="array", columns=array_columns(2), dtype="float64",
                          task="classification", classes=[object(), object()], teacher="Hand")
    assert not os.path.exists(os.path.join(path, METADATA_FILE))
    with pytest.raises(ValueError, match="not a transfer set"):
        TransferSet(path)


@pytest.mark.parametrize("change", [{"version": FORMAT_VERSION + 1}, {"version": None}, {"format": "other"}])
def test_reader_refuses_another_format_version_and_says_which(tmp_path, change):
    ts = _write_set(tmp_path / "t", [(np.ones((4, 2)), np.zeros((4, 2)))])
    meta = os.path.join(ts.path, METADATA_FILE)
    with open(meta) as f:
        content = json.load(f)
    with open(meta, "w") as f:
        json.dump({**content, **change}, f)
    key, value = next(iter(change.items()))
    with pytest.raises(ValueError, match=rf"version {FORMAT_VERSION} description .*{key} {value!r}"):
        TransferSet(ts.path)


def test_reader_notices_rows_added_after_writing(tmp_path):
    ts = _write_set(tmp_path / "t", [(np.ones((4, 2)), np.zeros((4, 2))), (np.ones((4, 2)), np.zeros((4, 2)))])
    write_partition(ts.path, 1, np.ones((6, 2)), np.zeros((6, 2)), columns=array_columns(2))  # replaced
    with pytest.raises(ValueError, match="holds 10 rows, its description says 8"):
        list(TransferSet(ts.path).iter_chunks())


@pytest.mark.parametrize("columns, match", [([0, "b"], "must be strings"), (["a", "__skdistill_output_0"], "reserved")])
def test_frame_columns_that_cannot_be_stored_are_refused(columns, match):
    with pytest.raises(ValueError, match=match):
        check_frame_columns(columns)
    assert check_frame_columns(iter(["a", "b"])) == ["a", "b"]


def test_prepare_directory_replaces_only_a_transfer_set(tmp_path):
    ts = _write_set(tmp_path / "t", [(np.ones((4, 2)), np.zeros((4, 2)))])
    (tmp_path / "t" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        prepare_directory(ts.path)
    prepare_directory(ts.path, overwrite=True)
    assert sorted(os.listdir(ts.path)) == ["notes.txt"]
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="not a directory"):
        prepare_directory(str(tmp_path / "file"))


def test_old_import_paths_of_the_format_still_work():
    from skdistill import _dask, _transfer, _transfer_format, broadcast_teacher

    for name in ("TransferSet", "METADATA_FILE", "FORMAT_NAME", "FORMAT_VERSION", "OUTPUT_PREFIX"):
        assert getattr(_transfer, name) is getattr(_transfer_format, name)
    assert _dask.broadcast_teacher is broadcast_teacher


# ---------------------------------------------------------------------------
# transfer sets and a streamed estimator written by the code before the format
# had its own module (tests/fixtures, tag 866b7f6, written by
# tests/fixtures/make_transfer_fixtures.py): they must keep loading.

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
CURRENT = "866b7f6"


@pytest.mark.parametrize("kind", ["array", "frame"])
def test_transfer_sets_written_by_the_current_release_still_read(kind):
    ts = TransferSet(os.path.join(FIXTURES, f"transfer_{CURRENT}_{kind}"))
    want = pd.read_pickle(os.path.join(FIXTURES, f"transfer_{CURRENT}_{kind}.pkl"))
    chunks = list(ts.iter_chunks())
    np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), want["outputs"])
    if kind == "array":
        assert (ts.task, ts.classes_.tolist(), ts.n_outputs, ts.n_rows) == ("classification", [0, 1], 2, 120)
        assert max(len(c[0]) for c in chunks) == 16
        np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), want["rows"])
    else:
        assert (ts.task, ts.classes_, ts.columns) == ("regression", None, ["num", "color", "flag"])
        pd.testing.assert_frame_equal(pd.concat([c[0] for c in chunks], ignore_index=True), want["rows"])


def test_pickle_of_an_estimator_fitted_on_a_streamed_set_still_loads():
    import pickle

    with open(os.path.join(FIXTURES, f"estimator_{CURRENT}_streamed.pkl"), "rb") as f:
        est = pickle.load(f)
    assert est.student_.iterator_train is StreamBatches  # by its old module path
    rows = pd.read_pickle(os.path.join(FIXTURES, f"transfer_{CURRENT}_array.pkl"))["rows"][:10]
    want = np.load(os.path.join(FIXTURES, f"expected_{CURRENT}_streamed.npy"))
    np.testing.assert_allclose(est.predict_proba(rows), want, rtol=1e-5, atol=1e-6)


def test_a_transfer_set_of_the_current_release_trains_a_student(tmp_path):
    ts = TransferSet(os.path.join(FIXTURES, f"transfer_{CURRENT}_array"))
    want = pd.read_pickle(os.path.join(FIXTURES, f"transfer_{CURRENT}_array.pkl"))
    X = want["rows"][:40]
    teacher = LogisticRegression().fit(X, want["outputs"][:40].argmax(1))
    est = DistilledClassifier(teacher, **FAST).fit(X, teacher.predict(X), X_unlabeled=ts)
    assert est.n_transfer_ == 40 + 120


def test_labeling_batch_size_has_one_default():
    import inspect

    from skdistill._teacher import DEFAULT_LABELING_BATCH_SIZE

    for func in (DistilledClassifier, DistilledRegressor, label_transfer_set):
        default = inspect.signature(func).parameters["labeling_batch_size"].default
        assert default == DEFAULT_LABELING_BATCH_SIZE, func
    assert f"labeling_batch_size : int, default={DEFAULT_LABELING_BATCH_SIZE}" in label_transfer_set.__doc__
    assert f"labeling_batch_size : int, default={DEFAULT_LABELING_BATCH_SIZE}" in DistilledClassifier.__doc__
    assert f"row_group_size : int, default={DEFAULT_ROW_GROUP_SIZE}" in label_transfer_set.__doc__
