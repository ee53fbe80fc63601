"""On-disk transfer sets, streamed through the student's training in chunks.

A transfer set larger than memory is written once, by
:func:`~skdistill.label_transfer_set`, as a directory of Parquet files (one
per partition of a Dask collection) holding the rows as the teacher saw them
and the teacher's raw outputs (logits for classification, predictions for
regression), plus a small JSON file describing them. :class:`TransferSet`
opens such a directory; passing it to ``fit`` as ``X_unlabeled`` trains the
student on the in-memory rows (``X``, synthetic rows) *and* the on-disk rows
without loading the latter:

* the student's preprocessor is fitted on ``X`` as usual;
* during each epoch the Parquet row groups are read one at a time in a random
  order, checked and encoded with the fitted preprocessor, packed into
  targets, mixed with a proportional share of the in-memory rows, shuffled,
  and cut into batches (a skorch ``iterator_train``; carry-over rows join
  the next chunk, so batches keep their size);
* with early stopping, the validation rows are held out of the in-memory
  rows only (reading on-disk rows at random would defeat streaming).

Memory during ``fit`` is therefore the in-memory rows plus one row group
(``row_group_size`` rows, 65536 by default) and its encoding; it does not
grow with the number of on-disk rows. The teacher is not called on them: its
outputs were computed when the set was written, so the set must have been
labelled by the same teacher as the one given to the distiller (checked: the
task, the classes and the number of outputs; not the teacher itself).
Shuffling is two-level (row-group order, then rows within a row group and its
share of in-memory rows); write data that arrives sorted in a shuffled order.
"""

import json
import math
import os

import joblib
import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from ._preprocessing import check_encoded
from ._device import net_device
from ._student import TensorBatches

#: Name of the description file in a transfer-set directory.
METADATA_FILE = "_skdistill_transfer.json"
FORMAT_NAME = "skdistill-transfer-set"
FORMAT_VERSION = 1
#: Prefix of the teacher-output columns in the Parquet files.
OUTPUT_PREFIX = "__skdistill_output_"


def _pyarrow():
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - exercised without pyarrow
        raise ImportError(
            "on-disk transfer sets need pyarrow: pip install 'skdistill[dask]'"
        ) from None
    return pq


class TransferSet:
    """A teacher-labelled transfer set on disk, for ``fit(..., X_unlabeled=...)``.

    Opens a directory written by :func:`label_transfer_set`: Parquet files
    with the rows (as the teacher saw them) and the teacher's raw outputs.
    Passed to ``fit`` as ``X_unlabeled``, its rows are streamed through the
    student's training one Parquet row group at a time, so that memory does
    not grow with their number; the teacher is not called again.

    Parameters
    ----------
    path : str or os.PathLike
        The directory given to :func:`label_transfer_set`.

    Attributes
    ----------
    path : str
    n_rows : int
        Rows on disk.
    n_features : int
    columns : list of str or None
        Column names when the rows were a DataFrame, None for an array.
    task : {"classification", "regression"}
    classes_ : ndarray or None
        The teacher's classes (classification).
    n_outputs : int
        Teacher outputs per row (logits per class, or targets).
    teacher : str
        The teacher's class name, for information.

    See Also
    --------
    label_transfer_set : writes a transfer set from a Dask collection.

    Notes
    -----
    The object only holds the path and the description, so it is cheap to
    pickle: a grid search on a Dask cluster sends it to the workers, which
    read the files from a path they all see.

    Examples
    --------
    >>> import tempfile
    >>> import dask.array as da
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skdistill import DistilledClassifier, TransferSet, label_transfer_set
    >>> X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    >>> teacher = LogisticRegression().fit(X, y)
    >>> extra = da.random.default_rng(0).normal(size=(5000, 5), chunks=(1000, 5))
    >>> path = tempfile.mkdtemp() + "/transfer"
    >>> ts = label_transfer_set(teacher, extra, path, scheduler="sync")
    >>> ts.n_rows
    5000
    >>> student = DistilledClassifier(teacher, max_epochs=2, augment=None, random_state=0)
    >>> student = student.fit(X, y, X_unlabeled=TransferSet(path))
    >>> student.n_transfer_
    5300
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        meta_path = os.path.join(self.path, METADATA_FILE)
        if not os.path.isfile(meta_path):
            raise ValueError(
                f"{self.path!r} is not a transfer set: it has no {METADATA_FILE} (write one "
                "with label_transfer_set; an interrupted write leaves none)"
            )
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"{meta_path!r} is not a {FORMAT_NAME} version {FORMAT_VERSION} description"
            )
        missing = [p["file"] for p in meta["partitions"] if not os.path.isfile(os.path.join(self.path, p["file"]))]
        if missing:
            raise ValueError(f"the transfer set {self.path!r} lacks its files {missing[:5]}")
        self._meta = meta
        self.n_rows = int(meta["n_rows"])
        self.n_features = len(meta["columns"])
        self.columns = list(meta["columns"]) if meta["kind"] == "frame" else None
        self.task = meta["task"]
        self.classes_ = None if meta["classes"] is None else np.asarray(meta["classes"])
        self.n_outputs = int(meta["n_outputs"])
        self.teacher = meta["teacher"]
        self._units = None

    def __repr__(self):
        return (
            f"TransferSet({self.path!r}: {self.n_rows} rows, {self.n_features} features, "
            f"{self.task}, {self.n_outputs} outputs)"
        )

    # -- reading --------------------------------------------------------
    def _row_groups(self):
        """(file, row group, rows) for every non-empty row group."""
        if self._units is None:
            pq = _pyarrow()
            units = []
            for part in self._meta["partitions"]:
                meta = pq.ParquetFile(os.path.join(self.path, part["file"])).metadata
                for g in range(meta.num_row_groups):
                    rows = meta.row_group(g).num_rows
                    if rows:
                        units.append((part["file"], g, rows))
            if sum(u[2] for u in units) != self.n_rows:
                raise ValueError(
                    f"the transfer set {self.path!r} holds {sum(u[2] for u in units)} rows, "
                    f"its description says {self.n_rows}: it was modified after writing"
                )
            self._units = units
        return self._units

    def _read(self, unit):
        pq = _pyarrow()
        name, group, _ = unit
        table = pq.ParquetFile(os.path.join(self.path, name)).read_row_group(group)
        features = self._meta["columns"]
        outputs = np.column_stack(
            [table.column(c).to_numpy() for c in self._meta["output_columns"]]
        ).astype(np.float64, copy=False)
        if self.columns is not None:
            X = table.select(features).to_pandas()
        else:
            X = np.empty((table.num_rows, len(features)), dtype=np.dtype(self._meta["dtype"]))
            for j, c in enumerate(features):
                X[:, j] = table.column(c).to_numpy()
        return X, outputs

    def iter_chunks(self, *, shuffle=False, random_state=None):
        """Yield ``(X_chunk, outputs)`` one Parquet row group at a time.

        Parameters
        ----------
        shuffle : bool, default=False
            Visit the row groups in a random order (rows within a row group
            keep their order).
        random_state : int, numpy.random.Generator or None, default=None
            Seeds the order when ``shuffle``.

        Yields
        ------
        X_chunk : ndarray or DataFrame of shape (n_chunk, n_features)
            Rows as the teacher saw them.
        outputs : ndarray of shape (n_chunk, n_outputs)
            The teacher's raw outputs on them (float64).
        """
        units = self._row_groups()
        order = np.arange(len(units))
        if shuffle:
            order = np.random.default_rng(random_state).permutation(len(units))
        for i in order:
            yield self._read(units[i])

    # -- use by fit -----------------------------------------------------
    def _check_for(self, estimator, adapter, n_outputs):
        """Check that this set fits ``estimator`` being fitted; return self."""
        name = type(estimator).__name__
        if self.task != estimator._task:
            raise ValueError(
                f"the transfer set {self.path!r} was labelled for {self.task}; {name} does "
                f"{estimator._task}"
            )
        if self.n_features != estimator.n_features_in_:
            raise ValueError(
                f"X has {estimator.n_features_in_} features but the transfer set "
                f"{self.path!r} has {self.n_features}"
            )
        fitted_names = getattr(estimator, "feature_names_in_", None)
        if self.columns is not None:
            if fitted_names is None or list(fitted_names) != self.columns:
                raise ValueError(
                    f"the transfer set {self.path!r} has columns {self.columns}; X must be a "
                    f"DataFrame with the same columns (got "
                    f"{None if fitted_names is None else list(fitted_names)})"
                )
        elif fitted_names is not None:
            raise ValueError(
                f"the transfer set {self.path!r} holds an array without column names but X "
                "is a DataFrame with column names; label a DataFrame with the same columns"
            )
        if self.task == "classification":
            classes = np.asarray(adapter.classes_)
            if self.classes_ is None or self.classes_.tolist() != classes.tolist():
                raise ValueError(
                    f"the transfer set {self.path!r} was labelled by a teacher with classes "
                    f"{None if self.classes_ is None else self.classes_.tolist()}; this "
                    f"teacher has {classes.tolist()}"
                )
        if self.n_outputs != n_outputs:
            raise ValueError(
                f"the transfer set {self.path!r} has {self.n_outputs} teacher output(s) per "
                f"row; this teacher gives {n_outputs}"
            )
        return self


class StreamingTransferData(Dataset):
    """In-memory training rows plus an on-disk :class:`TransferSet`.

    Not indexable: it is read in order by :class:`StreamBatches`, skorch's
    ``iterator_train`` for it. ``encode`` maps a raw chunk to the student's
    float32 inputs, ``pack`` teacher outputs to packed targets.
    """

    def __init__(self, X, y, transfer_set, encode, pack):
        self.X = X
        self.y = y
        self.transfer_set = transfer_set
        self.encode = encode
        self.pack = pack

    def __len__(self):
        return self.X.shape[0] + self.transfer_set.n_rows

    def __getitem__(self, index):
        raise TypeError(
            "a streamed transfer set is read in chunks, not by index (it is iterated by "
            "skdistill's StreamBatches)"
        )

    def in_memory(self):
        return TensorDataset(self.X, self.y)

    def with_memory(self, subset):
        """The same stream with the in-memory rows of ``subset`` only."""
        index = torch.as_tensor(np.asarray(subset.indices), dtype=torch.long)
        return StreamingTransferData(
            self.X[index], self.y[index], self.transfer_set, self.encode, self.pack
        )


class StreamBatches:
    """skorch ``iterator_train`` for :class:`StreamingTransferData`.

    Each epoch reads the on-disk row groups in a random order, encodes each,
    mixes it with a proportional share of the in-memory rows, shuffles, and
    yields ``(X, y)`` float32 tensor batches on ``device``. Random draws come
    from torch's global generator (seeded by ``fit``), so training is
    reproducible. A TensorDataset (the validation part) is delegated to
    :class:`~skdistill.TensorBatches`.
    """

    def __init__(self, dataset, batch_size=256, shuffle=False, device="cpu", **kwargs):
        self._delegate = None
        if isinstance(dataset, (TensorDataset, Subset)):
            self._delegate = TensorBatches(dataset, batch_size=batch_size, shuffle=shuffle)
        elif not isinstance(dataset, StreamingTransferData):
            raise TypeError(
                f"StreamBatches needs a StreamingTransferData, got {type(dataset).__name__}"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.device = torch.device(device)

    def __len__(self):
        if self._delegate is not None:
            return len(self._delegate)
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        if self._delegate is not None:
            yield from self._delegate
            return
        data = self.dataset
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        rng = np.random.default_rng(seed)
        n_mem = data.X.shape[0]
        n_disk = data.transfer_set.n_rows
        mem_order = torch.from_numpy(rng.permutation(n_mem)) if self.shuffle else torch.arange(n_mem)
        done_disk = 0
        done_mem = 0
        carry = None
        for X_chunk, outputs in data.transfer_set.iter_chunks(shuffle=self.shuffle, random_state=rng):
            Z = torch.from_numpy(data.encode(X_chunk))
            T = torch.from_numpy(data.pack(outputs))
            done_disk += Z.shape[0]
            upto = n_mem if done_disk >= n_disk else (done_disk * n_mem) // n_disk
            idx = mem_order[done_mem:upto]
            done_mem = upto
            parts = [(Z, T), (data.X[idx], data.y[idx])]
            if carry is not None:
                parts.insert(0, carry)
            Zc = torch.cat([p[0] for p in parts])
            Tc = torch.cat([p[1] for p in parts])
            if self.shuffle:
                perm = torch.from_numpy(rng.permutation(Zc.shape[0]))
                Zc, Tc = Zc[perm], Tc[perm]
            full = (Zc.shape[0] // self.batch_size) * self.batch_size
            for start in range(0, full, self.batch_size):
                yield self._batch(Zc[start : start + self.batch_size], Tc[start : start + self.batch_size])
            carry = (Zc[full:], Tc[full:]) if full < Zc.shape[0] else None
        rest = mem_order[done_mem:]
        if carry is not None or len(rest):
            Zc = torch.cat(([carry[0]] if carry is not None else []) + [data.X[rest]])
            Tc = torch.cat(([carry[1]] if carry is not None else []) + [data.y[rest]])
            for start in range(0, Zc.shape[0], self.batch_size):
                yield self._batch(Zc[start : start + self.batch_size], Tc[start : start + self.batch_size])

    def _batch(self, Z, T):
        return Z.to(self.device, non_blocking=True), T.to(self.device, non_blocking=True)


class _InMemorySplit:
    """``train_split`` for a stream: split the in-memory rows only."""

    def __init__(self, split):
        self.split = split

    def __call__(self, dataset, y=None, **kwargs):
        train, valid = self.split(dataset.in_memory(), **kwargs)
        return dataset.with_memory(train), valid


def streaming_fit_data(transfer_set, estimator, net, preprocessor, Z, targets, allow_nan):
    """Prepare ``net`` to train on ``Z``/``targets`` plus ``transfer_set``, streamed.

    Sets skorch's ``iterator_train`` to :class:`StreamBatches` (and wraps a
    ``train_split`` so that validation rows come from the in-memory rows) and
    returns the dataset to pass to ``net.fit``. Each on-disk chunk goes
    through the estimator's input checks (feature names, finiteness) and the
    fitted ``preprocessor``.
    """

    def encode(X_chunk):
        # in this thread: this runs under the training lock, where a nested joblib
        # dispatch to Dask (a ColumnTransformer's) must not secede (see _base.TRAINING_LOCK)
        with joblib.parallel_config(backend="sequential"):
            X_chunk = estimator._check_X(X_chunk, reset=False, allow_nan=allow_nan)
            return check_encoded(preprocessor.transform(X_chunk))

    params = {"iterator_train": StreamBatches, "iterator_train__device": net_device(net)}
    if net.train_split is not None:
        params["train_split"] = _InMemorySplit(net.train_split)
    net.set_params(**params)
    return StreamingTransferData(
        torch.from_numpy(np.ascontiguousarray(Z)),
        torch.from_numpy(targets),
        transfer_set,
        encode,
        estimator._pack_targets,  # on-disk rows carry only the teacher's outputs
    )
