"""Running skdistill on a Dask cluster (optional extra ``skdistill[dask]``).

Two tools, both importable without Dask installed (Dask is imported on use):

* :func:`broadcast_teacher`, a context manager that sends a fitted teacher
  once to every worker of a ``dask.distributed`` cluster, so that a
  :class:`~sklearn.model_selection.GridSearchCV` run through joblib's Dask
  backend ships a small reference with each task instead of the teacher;
* :func:`label_transfer_set`, which labels a Dask array or DataFrame with the
  teacher partition by partition on the cluster and writes rows and teacher
  outputs to Parquet files, read back by :class:`~skdistill.TransferSet` and
  streamed through the student's training in chunks.

How a grid search travels to the workers
----------------------------------------
``with joblib.parallel_backend("dask"): search.fit(X, y)`` submits one Dask
task per batch of ``_fit_and_score`` calls. joblib scatters the *top-level*
arguments of those calls that are larger than 1 kB (X, y) once per
``search.fit``; the estimator argument is a fresh ``clone`` per task, so it is
pickled into each task with everything it holds, the teacher included: a
500-tree forest is serialized on the client, deserialized by the scheduler
and again by the worker for every (candidate, fold) pair, and each worker
holds a different copy per task (the copies share the worker's output cache
through the token the distiller carries in its pickle, see
:mod:`skdistill._cache`, but the transfer and unpickling are paid per task).

Inside ``with broadcast_teacher(teacher):`` the teacher is instead

1. sent to every worker once, inside a Dask ``WorkerPlugin`` (workers that
   join later get it too), and kept in a per-process registry;
2. pickled, *in this process and only while the block runs*, as a reference
   (a content token) to that registry entry: a copyreg reducer is installed
   for the teacher's exact type, and it replaces this one object (checked by
   identity) and nothing else;
3. resolved on each worker to the same teacher object for every task, so the
   in-process output cache hits across the tasks a worker runs (a
   temperature/alpha grid labels each fold once per worker).

joblib's own hashing (``memory=`` keys) is left untouched, so teacher outputs
written to a shared ``memory=`` location by the workers are found again by
this process and by later in-process runs. ``copy.deepcopy`` of the teacher
in this process returns the teacher itself while the block runs (it is never
copied).
"""

import copyreg
import json
import os
import pickle
import sys
import threading
import uuid
import warnings

import joblib
import numpy as np

from ._teacher import _is_torch_module, adapt_teacher, is_fitted, teacher_list


# ---------------------------------------------------------------------------
# the per-process registry of broadcast teachers

_LOCK = threading.RLock()
#: token -> teacher, in this process
_REGISTRY = {}
#: id(teacher) -> token, for the teachers pickled by reference in this process
_BY_ID = {}
#: token -> number of active broadcast_teacher blocks in this process
_ACTIVE = {}
#: type -> [previous copyreg reducer or None, number of hooked teachers]
_HOOKED = {}


class _MissingTeacher:
    """Stands for a broadcast teacher in a process that does not hold it.

    A remote Dask scheduler deserializes tasks without running them: there
    the reference stays a reference, and pickles back to one. Any use of it
    as a teacher raises a RuntimeError that says what happened.
    """

    def __init__(self, token):
        self.token = token

    def __reduce__(self):
        return (_resolve, (self.token,))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        raise RuntimeError(
            f"the teacher broadcast as {self.token!r} is not available in this process "
            f"(pid {os.getpid()}): a task that references it ran outside the "
            "`with broadcast_teacher(...)` block that sent it, or on a worker the "
            "broadcast did not reach"
        )

    def __repr__(self):
        return f"<missing broadcast teacher {self.token}>"


def _resolve(token):
    """Unpickling a broadcast reference: the registered teacher, if any here."""
    with _LOCK:
        teacher = _REGISTRY.get(token)
    return _MissingTeacher(token) if teacher is None else teacher


def _called_by_joblib_hasher():
    # joblib.hash pickles with a pure-Python pickler (joblib.hashing.Hasher);
    # our reducer is then called from pickle._Pickler.save, one frame up.
    # Hashing must see the teacher's content, so that memory= keys are the
    # same inside and outside broadcast_teacher.
    from joblib.hashing import Hasher

    try:
        frame = sys._getframe(2)
    except ValueError:  # called from the top of a thread's stack
        return False
    return isinstance(frame.f_locals.get("self"), Hasher)


def _reduce(obj):
    with _LOCK:
        token = _BY_ID.get(id(obj))
        shared = token is not None and _REGISTRY.get(token) is obj
        previous = _HOOKED[type(obj)][0] if type(obj) in _HOOKED else None
    if shared and not _called_by_joblib_hasher():
        return (_resolve, (token,))
    if previous is not None:
        return previous(obj)
    return obj.__reduce_ex__(pickle.DEFAULT_PROTOCOL)


def _hook(teacher, token):
    cls = type(teacher)
    with _LOCK:
        _BY_ID[id(teacher)] = token
        if cls in _HOOKED:
            _HOOKED[cls][1] += 1
        else:
            _HOOKED[cls] = [copyreg.dispatch_table.get(cls), 1]
            copyreg.dispatch_table[cls] = _reduce


def _unhook(teacher):
    cls = type(teacher)
    with _LOCK:
        _BY_ID.pop(id(teacher), None)
        entry = _HOOKED.get(cls)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _HOOKED[cls]
            if entry[0] is None:
                copyreg.dispatch_table.pop(cls, None)
            else:
                copyreg.dispatch_table[cls] = entry[0]


# ---------------------------------------------------------------------------
# the worker plugin (its class needs distributed, so it is made on first use)

_PLUGIN_CLASS = None


def _make_plugin(token, teacher):
    """Build the worker plugin; also how it is unpickled on the workers."""
    global _PLUGIN_CLASS
    if _PLUGIN_CLASS is None:
        from distributed.diagnostics.plugin import WorkerPlugin

        class _TeacherPlugin(WorkerPlugin):
            """Holds one teacher; registers it in the worker's process."""

            idempotent = True

            def __init__(self, token, teacher):
                self.token = token
                self.teacher = teacher
                self.name = token
                self._added = False

            def __reduce__(self):
                return (_make_plugin, (self.token, self.teacher))

            def setup(self, worker):
                with _LOCK:
                    # in-process workers share this process's registry
                    if self.token not in _REGISTRY:
                        _REGISTRY[self.token] = self.teacher
                        self._added = True

            def teardown(self, worker):
                with _LOCK:
                    if self._added and _REGISTRY.get(self.token) is self.teacher:
                        del _REGISTRY[self.token]
                    self._added = False

        _PLUGIN_CLASS = _TeacherPlugin
    return _PLUGIN_CLASS(token, teacher)


def _default_client(client):
    try:
        from distributed import get_client
    except ImportError:  # pragma: no cover - exercised without dask
        raise ImportError(
            "broadcast_teacher needs dask.distributed: pip install 'skdistill[dask]'"
        ) from None
    if client is not None:
        return client
    try:
        return get_client()
    except ValueError:
        raise ValueError(
            "broadcast_teacher needs a dask.distributed Client: create one first "
            "(client = Client(...)) or pass client="
        ) from None


class broadcast_teacher:
    """Send a fitted teacher once to every Dask worker, for the length of a block.

    Use it around a search or cross-validation run through joblib's Dask
    backend. Without it, each Dask task carries its own pickled copy of the
    teacher (joblib scatters only the top-level arguments X and y, not the
    estimator that holds the teacher). With it, every worker receives the
    teacher once, in a ``WorkerPlugin``, and tasks carry a reference; each
    worker then uses one teacher object for all its tasks, so skdistill's
    in-process output cache labels each fold once per worker.

    Results are the same as without it. Only the given fitted teacher
    objects are affected, and only in this process while the block runs:
    pickling them (by Dask, or by anything else) yields a reference, and
    ``copy.deepcopy`` returns them unchanged. ``joblib.hash`` still sees their
    content, so ``memory=`` keys do not change.

    Parameters
    ----------
    teacher : fitted estimator, torch.nn.Module, or list of them
        The teacher given to the distiller (the same object, or the same
        list of objects).
    client : distributed.Client, default=None
        The client whose workers receive the teacher; None uses the current
        default client (``distributed.get_client()``).

    See Also
    --------
    label_transfer_set : label a larger-than-memory transfer set on a cluster.

    Notes
    -----
    The teacher is identified by a content hash (``joblib.hash``) computed
    once on entering the block. Leaving the block removes the teacher from
    the workers; tasks still referencing it afterwards fail with a clear
    RuntimeError.

    Examples
    --------
    >>> import joblib
    >>> from distributed import Client, LocalCluster
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skdistill import DistilledClassifier, broadcast_teacher
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> teacher = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    >>> search = GridSearchCV(
    ...     DistilledClassifier(teacher, max_epochs=2, random_state=0),
    ...     {"temperature": [1.0, 4.0]}, cv=2)
    >>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, \\
    ...         Client(cluster) as client:  # doctest: +SKIP
    ...     with joblib.parallel_backend("dask"), broadcast_teacher(teacher):
    ...         _ = search.fit(X, y)
    """

    def __init__(self, teacher, *, client=None):
        self.teacher = teacher
        self.client = client

    def _members(self):
        teachers, _ = teacher_list(self.teacher)
        unfitted = [type(t).__name__ for t in teachers if not is_fitted(t)]
        if unfitted:
            raise ValueError(
                f"broadcast_teacher needs fitted teachers; {unfitted} are not fitted. An "
                "unfitted teacher is cloned and fitted inside each task and is small to "
                "send: do not broadcast it."
            )
        return teachers

    def __enter__(self):
        teachers = self._members()
        client = _default_client(self.client)
        entered = []
        try:
            for teacher in teachers:
                token = "skdistill-teacher-" + joblib.hash(teacher)
                with _LOCK:
                    first = _ACTIVE.get(token, 0) == 0
                    if first:
                        _REGISTRY[token] = teacher
                    elif _REGISTRY.get(token) is not teacher:
                        # an equal but distinct object: it gets its own token
                        token = f"{token}-{uuid.uuid4().hex[:8]}"
                        _REGISTRY[token] = teacher
                        first = True
                    _ACTIVE[token] = _ACTIVE.get(token, 0) + 1
                entered.append((teacher, token))
                if first:
                    # the plugin carries the teacher itself: register it
                    # before the reference reducer is installed
                    client.register_plugin(_make_plugin(token, teacher), name=token)
                    _hook(teacher, token)
        except BaseException:
            self._leave(client, entered)
            raise
        self._client = client
        self._entered = entered
        return self

    def __exit__(self, *exc):
        self._leave(self._client, self._entered)
        self._entered = []
        return False

    @staticmethod
    def _leave(client, entered):
        for teacher, token in reversed(entered):
            with _LOCK:
                _ACTIVE[token] -= 1
                last = _ACTIVE[token] == 0
                if last:
                    del _ACTIVE[token]
            if not last:
                continue
            _unhook(teacher)
            try:
                client.unregister_worker_plugin(token)
            except Exception as exc:  # a closed client, a lost scheduler
                warnings.warn(
                    f"could not remove the broadcast teacher from the workers: {exc}",
                    RuntimeWarning,
                    stacklevel=3,
                )
            with _LOCK:
                if _REGISTRY.get(token) is teacher:
                    del _REGISTRY[token]


# ---------------------------------------------------------------------------
# labelling a large transfer set on the cluster



def _infer_task(teacher):
    from sklearn.base import is_classifier, is_regressor

    teachers, _ = teacher_list(teacher)
    first = teachers[0]
    if _is_torch_module(first):
        raise ValueError(
            "cannot tell whether a torch.nn.Module teacher is a classifier or a regressor: "
            "pass task='classification' or task='regression'"
        )
    if is_classifier(first) or hasattr(first, "classes_"):
        return "classification"
    if is_regressor(first) or hasattr(first, "predict"):
        return "regression"
    raise ValueError(
        f"cannot infer the task of the teacher {type(first).__name__}: pass task="
    )


def _label_partition(teacher, part, index, path, options):
    """Label one partition and write it as ``part-XXXXX.parquet`` (runs on a worker)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ._student import resolve_device
    from ._transfer import OUTPUT_PREFIX

    n = part.shape[0]
    if n == 0:
        return {"file": None, "n_rows": 0, "n_outputs": None}
    adapter = adapt_teacher(
        teacher,
        options["teacher_weights"],
        task=options["task"],
        n_features=options["n_features"],
        device=resolve_device(options["device"]),
        labeling_batch_size=options["labeling_batch_size"],
        verbose=0,
    )
    outputs = adapter.outputs(part)
    columns = options["columns"]
    if options["kind"] == "frame":
        table = pa.Table.from_pandas(part, preserve_index=False)
    else:
        part = np.asarray(part)
        table = pa.table({c: part[:, j] for j, c in enumerate(columns)})
    for j in range(outputs.shape[1]):
        table = table.append_column(f"{OUTPUT_PREFIX}{j}", pa.array(outputs[:, j]))
    name = f"part-{index:05d}.parquet"
    tmp = os.path.join(path, f".{name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp, row_group_size=options["row_group_size"])
    os.replace(tmp, os.path.join(path, name))
    return {"file": name, "n_rows": int(n), "n_outputs": int(outputs.shape[1])}


def _prepare_directory(path, overwrite):
    from ._transfer import METADATA_FILE

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
            if name.startswith("part-") and name.endswith(".parquet"):
                os.remove(os.path.join(path, name))
    os.makedirs(path, exist_ok=True)


def _distributed_client(scheduler):
    """The distributed Client that ``dask.compute`` would use, or None."""
    import dask.base

    get = dask.base.get_scheduler(scheduler=scheduler)
    owner = getattr(get, "__self__", None)
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover
        return None
    return owner if isinstance(owner, Client) else None


def label_transfer_set(
    teacher,
    X,
    path,
    *,
    task="auto",
    teacher_weights=None,
    labeling_batch_size=65536,
    row_group_size=65536,
    device="cpu",
    overwrite=False,
    scheduler=None,
):
    """Label a Dask array or DataFrame with a teacher, partition by partition, to disk.

    Each partition is labelled where it lives (on a ``dask.distributed``
    cluster: on the workers, which need the teacher and the path) and
    written as one Parquet file holding the rows, exactly as the teacher saw
    them, and the teacher's raw outputs (logits for classification,
    predictions for regression). A description file is written last. The
    result, a :class:`TransferSet`, is passed to ``fit`` as ``X_unlabeled``
    and streamed through training chunk by chunk, so neither labelling nor
    training holds the whole set in memory.

    Parameters
    ----------
    teacher : fitted estimator, torch.nn.Module or list of them
        The teacher, as given to the distiller. Must be fitted.
    X : dask.array.Array of shape (n_samples, n_features) or dask.dataframe.DataFrame
        The unlabeled rows. An array must be numeric (it is rechunked to one
        block per row partition); DataFrame columns must be strings.
    path : str or os.PathLike
        A new or empty directory (on a cluster, one every worker can write,
        such as a shared file system).
    task : {"auto", "classification", "regression"}, default="auto"
        "auto" infers it from the teacher; give it for a torch teacher.
    teacher_weights : array-like, default=None
        Weights of a list of teachers, as in the distiller.
    labeling_batch_size : int, default=65536
        Rows per teacher call within a partition.
    row_group_size : int, default=65536
        Rows per Parquet row group: the unit that ``fit`` reads at a time.
    device : str, default="cpu"
        Where a torch teacher runs on each worker; "auto" picks the worker's
        GPU when it has one.
    overwrite : bool, default=False
        Replace a transfer set already in ``path``.
    scheduler : str or None, default=None
        Dask scheduler for the computation (as in ``dask.compute``); None uses
        the active ``distributed`` client when there is one, else threads.
        With a distributed client the teacher is sent to every worker once,
        as by :class:`broadcast_teacher`.

    Returns
    -------
    transfer_set : TransferSet
        The written set, opened.

    See Also
    --------
    TransferSet : opens a written set; pass it to ``fit(X, y, X_unlabeled=...)``.
    broadcast_teacher : send a teacher once to every worker for a grid search.

    Examples
    --------
    >>> import tempfile
    >>> import dask.array as da
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from skdistill import label_transfer_set
    >>> X, y = make_regression(n_samples=200, n_features=4, random_state=0)
    >>> teacher = Ridge().fit(X, y)
    >>> extra = da.random.default_rng(0).normal(size=(3000, 4), chunks=(1000, 4))
    >>> ts = label_transfer_set(teacher, extra, tempfile.mkdtemp() + "/t", scheduler="sync")
    >>> ts.n_rows, ts.n_outputs, ts.task
    (3000, 1, 'regression')
    """
    try:
        import dask
        import dask.array as da
    except ImportError:  # pragma: no cover - exercised without dask
        raise ImportError("label_transfer_set needs dask: pip install 'skdistill[dask]'") from None
    from sklearn.utils.validation import check_scalar

    from ._student import resolve_device
    from ._transfer import FORMAT_NAME, FORMAT_VERSION, METADATA_FILE, OUTPUT_PREFIX, TransferSet

    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression'; got {task!r}")
    check_scalar(labeling_batch_size, "labeling_batch_size", int, min_val=1)
    check_scalar(row_group_size, "row_group_size", int, min_val=1)
    teachers, _ = teacher_list(teacher)
    unfitted = [type(t).__name__ for t in teachers if not is_fitted(t)]
    if unfitted:
        raise ValueError(f"label_transfer_set needs a fitted teacher; {unfitted} are not fitted")
    if task == "auto":
        task = _infer_task(teacher)

    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D dask array; got {X.ndim} dimensions")
        if X.dtype.kind not in "biuf":
            raise ValueError(f"X must be a numeric dask array; got dtype {X.dtype}")
        if any(np.isnan(c) for c in X.chunks[0]) or np.isnan(X.shape[1]):
            raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() first")
        kind, n_features = "array", int(X.shape[1])
        columns = [f"x{j}" for j in range(n_features)]
        X = X.rechunk({1: -1})
        parts = list(X.to_delayed().ravel())
        dtype = str(X.dtype)
    elif dask.is_dask_collection(X) and hasattr(X, "columns") and hasattr(X, "to_delayed"):
        columns = list(X.columns)
        bad = [c for c in columns if not isinstance(c, str)]
        if bad:
            raise ValueError(f"X's column names must be strings to be written to Parquet; got {bad[:5]}")
        clash = [c for c in columns if c.startswith(OUTPUT_PREFIX)]
        if clash:
            raise ValueError(f"column names starting with {OUTPUT_PREFIX!r} are reserved; got {clash}")
        kind, n_features, dtype = "frame", len(columns), None
        parts = list(X.to_delayed())
    else:
        raise TypeError(
            "X must be a dask.array.Array or a dask.dataframe.DataFrame; got "
            f"{type(X).__name__} (wrap in-memory data with dask.array.from_array or "
            "dask.dataframe.from_pandas)"
        )

    # the teacher's description, from this process
    probe = adapt_teacher(
        teacher,
        teacher_weights,
        task=task,
        n_features=n_features,
        device=resolve_device(device) if device != "auto" else "cpu",
    )
    classes = None if task == "regression" else np.asarray(probe.classes_).tolist()

    path = os.fspath(path)
    _prepare_directory(path, overwrite)
    options = dict(
        task=task,
        teacher_weights=teacher_weights,
        n_features=n_features,
        device=device,
        labeling_batch_size=labeling_batch_size,
        row_group_size=row_group_size,
        kind=kind,
        columns=columns,
    )
    label = dask.delayed(_label_partition, pure=False)
    tasks = [label(teacher, part, i, path, options) for i, part in enumerate(parts)]
    client = _distributed_client(scheduler)
    if client is not None:
        # the tasks are pickled on compute: inside the block each carries a
        # reference, and the teacher goes to every worker once, in a worker
        # plugin. Not client.scatter(broadcast=True): the Active Memory Manager
        # (on by default) may drop the replicas, and the workers then fetch the
        # teacher again.
        with broadcast_teacher(teacher, client=client):
            written = client.gather(client.compute(tasks))
    else:
        written = dask.compute(*tasks, scheduler=scheduler)

    widths = {w["n_outputs"] for w in written if w["n_rows"]}
    if not widths:
        raise ValueError("X has no rows: nothing to label")
    if len(widths) > 1:
        raise ValueError(f"the teacher gave different numbers of outputs per partition: {sorted(widths)}")
    n_outputs = widths.pop()
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": kind,
        "columns": columns,
        "dtype": dtype,
        "task": task,
        "classes": classes,
        "n_outputs": int(n_outputs),
        "output_columns": [f"{OUTPUT_PREFIX}{j}" for j in range(int(n_outputs))],
        "n_rows": int(sum(w["n_rows"] for w in written)),
        "partitions": [{"file": w["file"], "n_rows": w["n_rows"]} for w in written if w["n_rows"]],
        "teacher": type(teacher).__name__ if not isinstance(teacher, (list, tuple)) else "list of teachers",
    }
    try:
        json.dumps(meta)
    except TypeError:
        raise ValueError(
            f"the teacher's classes {classes!r} cannot be stored in the transfer set's JSON "
            "description; use numbers or strings as class labels"
        ) from None
    tmp = os.path.join(path, f".{METADATA_FILE}.tmp")
    with open(tmp, "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, os.path.join(path, METADATA_FILE))
    return TransferSet(path)
