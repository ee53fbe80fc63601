"""The on-disk transfer-set format: its reader, its writer and its version.

A transfer set is a directory holding

* Parquet files ``part-XXXXX.parquet``, one per partition of the labelled
  collection, with the rows as the teacher saw them (a DataFrame's columns
  under their names, an array's columns as ``x0``, ``x1``...) followed by the
  teacher's raw outputs (logits for classification, predictions for
  regression) in the columns ``__skdistill_output_0``, ``__skdistill_output_1``...;
* a JSON description, :data:`METADATA_FILE`, written last (a set whose
  writing was interrupted has none): the format's name and version, the kind
  of rows (``"array"`` or ``"frame"``), the columns, the array dtype, the
  task, the teacher's classes, the number of outputs, the files and their
  row counts, and the teacher's class name.

:class:`TransferSet` reads it (and refuses another version);
:func:`write_partition` and :func:`write_description`, called by
:func:`~skdistill.label_transfer_set`, write it. Reading and writing need
pyarrow. How the rows are then streamed through training is in
:mod:`skdistill._transfer`.
"""

import json
import os
import uuid

import numpy as np

#: Name of the description file in a transfer-set directory.
METADATA_FILE = "_skdistill_transfer.json"
FORMAT_NAME = "skdistill-transfer-set"
#: Version of the format; a reader refuses a description of another version.
FORMAT_VERSION = 1
#: Prefix of the teacher-output columns in the Parquet files.
OUTPUT_PREFIX = "__skdistill_output_"
#: Rows per Parquet row group by default: the unit that ``fit`` reads at a time.
DEFAULT_ROW_GROUP_SIZE = 65536


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - exercised without pyarrow
        raise ImportError(
            "on-disk transfer sets need pyarrow: pip install 'skdistill[dask]'"
        ) from None
    return pa, pq


def _partition_file(index):
    return f"part-{index:05d}.parquet"


def _is_partition_file(name):
    return name.startswith("part-") and name.endswith(".parquet")


def _output_columns(n_outputs):
    return [f"{OUTPUT_PREFIX}{j}" for j in range(n_outputs)]


# ---------------------------------------------------------------------------
# writing


def array_columns(n_features):
    """The names under which the columns of an array are stored.

    Parameters
    ----------
    n_features : int

    Returns
    -------
    columns : list of str
        ``["x0", "x1", ...]``.
    """
    return [f"x{j}" for j in range(n_features)]


def check_frame_columns(columns):
    """Check that DataFrame columns can be stored; return them as a list.

    Parameters
    ----------
    columns : iterable of str

    Returns
    -------
    columns : list of str

    Raises
    ------
    ValueError
        For a name that is not a string, or one that starts with the prefix
        of the teacher-output columns.
    """
    columns = list(columns)
    bad = [c for c in columns if not isinstance(c, str)]
    if bad:
        raise ValueError(f"X's column names must be strings to be written to Parquet; got {bad[:5]}")
    clash = [c for c in columns if c.startswith(OUTPUT_PREFIX)]
    if clash:
        raise ValueError(f"column names starting with {OUTPUT_PREFIX!r} are reserved; got {clash}")
    return columns


def prepare_directory(path, overwrite=False):
    """Make ``path`` a directory ready to receive a transfer set.

    A new or empty directory is used as is. One that holds a transfer set
    is emptied of it (its description and partition files; other files are
    kept) when ``overwrite``; any other non-empty directory is refused.

    Parameters
    ----------
    path : str
    overwrite : bool, default=False

    Raises
    ------
    ValueError
        When ``path`` exists and is not a directory.
    FileExistsError
        When ``path`` is not empty and does not hold a transfer set, or holds
        one and ``overwrite`` is False.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"path {path!r} exists and is not a directory")
    if os.path.isdir(path) and os.listdir(path):
        ours = os.path.isfile(os.path.join(path, METADATA_FILE))
        if not (overwrite and ours):
            raise FileExistsError(
                f"{path!r} is not empty"
                + (
                    "; pass overwrite=True to replace the transfer set in it"
                    if ours
                    else " and holds no transfer set: choose a new or empty directory"
                )
            )
        os.remove(os.path.join(path, METADATA_FILE))
        for name in os.listdir(path):
            if _is_partition_file(name):
                os.remove(os.path.join(path, name))
    os.makedirs(path, exist_ok=True)


def write_partition(path, index, rows, outputs, *, columns, row_group_size=DEFAULT_ROW_GROUP_SIZE):
    """Write one labelled partition as ``part-XXXXX.parquet`` in ``path``.

    The file is written under a temporary name and then renamed, so that a
    file with the final name is always complete.

    Parameters
    ----------
    path : str
        A directory made by :func:`prepare_directory`.
    index : int
        Position of the partition; names the file.
    rows : DataFrame or ndarray of shape (n_rows, n_features)
        The rows as the teacher saw them. A DataFrame is written with its
        columns (``columns`` is then not used); an array under ``columns``.
    outputs : ndarray of shape (n_rows, n_outputs)
        The teacher's raw outputs on ``rows``.
    columns : list of str
        Storage names of an array's columns (see :func:`array_columns`).
    row_group_size : int, default=65536
        Rows per Parquet row group.

    Returns
    -------
    partition : dict
        ``{"file": name, "n_rows": int, "n_outputs": int}``, for
        :func:`write_description`.
    """
    pa, pq = _pyarrow()
    if hasattr(rows, "columns"):
        table = pa.Table.from_pandas(rows, preserve_index=False)
    else:
        rows = np.asarray(rows)
        table = pa.table({c: rows[:, j] for j, c in enumerate(columns)})
    for j, name in enumerate(_output_columns(outputs.shape[1])):
        table = table.append_column(name, pa.array(outputs[:, j]))
    name = _partition_file(index)
    tmp = os.path.join(path, f".{name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp, row_group_size=row_group_size)
    os.replace(tmp, os.path.join(path, name))
    return {"file": name, "n_rows": int(rows.shape[0]), "n_outputs": int(outputs.shape[1])}


def write_description(path, partitions, *, kind, columns, dtype, task, classes, teacher):
    """Write the description that makes ``path`` a transfer set; return it opened.

    Written last, under a temporary name then renamed: a directory whose
    writing was interrupted has no description and is not a transfer set.

    Parameters
    ----------
    path : str
    partitions : list of dict or None
        What :func:`write_partition` returned, in order; None for an empty
        partition (nothing written).
    kind : {"array", "frame"}
    columns : list of str
        Storage names of the row columns.
    dtype : str or None
        The array's dtype (``kind="array"``), else None.
    task : {"classification", "regression"}
    classes : list or None
        The teacher's classes (classification); numbers or strings.
    teacher : str
        The teacher's class name, for information.

    Returns
    -------
    transfer_set : TransferSet

    Raises
    ------
    ValueError
        When no partition has rows, when partitions have different numbers
        of outputs, or when ``classes`` cannot be stored in JSON.
    """
    written = [p for p in partitions if p is not None and p["n_rows"]]
    widths = {p["n_outputs"] for p in written}
    if not widths:
        raise ValueError("X has no rows: nothing to label")
    if len(widths) > 1:
        raise ValueError(f"the teacher gave different numbers of outputs per partition: {sorted(widths)}")
    n_outputs = int(widths.pop())
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": kind,
        "columns": list(columns),
        "dtype": dtype,
        "task": task,
        "classes": classes,
        "n_outputs": n_outputs,
        "output_columns": _output_columns(n_outputs),
        "n_rows": int(sum(p["n_rows"] for p in written)),
        "partitions": [{"file": p["file"], "n_rows": p["n_rows"]} for p in written],
        "teacher": teacher,
    }
    try:
        text = json.dumps(meta, indent=1)
    except TypeError:
        raise ValueError(
            f"the teacher's classes {classes!r} cannot be stored in the transfer set's JSON "
            "description; use numbers or strings as class labels"
        ) from None
    tmp = os.path.join(path, f".{METADATA_FILE}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(path, METADATA_FILE))
    return TransferSet(path)


# ---------------------------------------------------------------------------
# reading


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

    Raises
    ------
    ValueError
        When ``path`` holds no description (not a transfer set, or one whose
        writing was interrupted), a description of another format version,
        or lacks some of the files its description lists.

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
                f"{meta_path!r} is not a {FORMAT_NAME} version {FORMAT_VERSION} description "
                f"(it says format {meta.get('format')!r}, version {meta.get('version')!r}): "
                "write the set again with this version of skdistill"
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

    def _row_groups(self):
        """(file, row group, rows) for every non-empty row group."""
        if self._units is None:
            _, pq = _pyarrow()
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
        _, pq = _pyarrow()
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

    def _check_compatible(self, *, task, n_features, feature_names, classes, n_outputs, estimator_name):
        """Check that this set can train a student of the given description; return self.

        Parameters
        ----------
        task : {"classification", "regression"}
            The task of the estimator being fitted.
        n_features : int
            Features of its ``X``.
        feature_names : ndarray of str or None
            Column names of its ``X`` (``feature_names_in_``), None for an array.
        classes : array-like or None
            Its teacher's classes (classification).
        n_outputs : int
            Outputs per row of its teacher.
        estimator_name : str
            For the messages.

        Raises
        ------
        ValueError
            When any of them differs from what the set was labelled with.
        """
        if self.task != task:
            raise ValueError(
                f"the transfer set {self.path!r} was labelled for {self.task}; {estimator_name} "
                f"does {task}"
            )
        if self.n_features != n_features:
            raise ValueError(
                f"X has {n_features} features but the transfer set {self.path!r} has "
                f"{self.n_features}"
            )
        if self.columns is not None:
            if feature_names is None or list(feature_names) != self.columns:
                raise ValueError(
                    f"the transfer set {self.path!r} has columns {self.columns}; X must be a "
                    f"DataFrame with the same columns (got "
                    f"{None if feature_names is None else list(feature_names)})"
                )
        elif feature_names is not None:
            raise ValueError(
                f"the transfer set {self.path!r} holds an array without column names but X "
                "is a DataFrame with column names; label a DataFrame with the same columns"
            )
        if self.task == "classification":
            classes = np.asarray(classes)
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
