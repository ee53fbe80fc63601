"""Labelling a large transfer set on a Dask cluster (optional extra ``skdistill[dask]``).

:func:`label_transfer_set` builds one Dask task per partition of a Dask
array or DataFrame, which labels the partition with the teacher where it
lives and writes it to disk, and computes them (on a ``dask.distributed``
cluster inside :class:`~skdistill.broadcast_teacher`, so that the teacher
travels to each worker once); the files are written, and read back by
:class:`~skdistill.TransferSet`, in the format of
:mod:`skdistill._transfer_format`. Importable without Dask installed (Dask
is imported on use).

:class:`~skdistill.broadcast_teacher` lives in :mod:`skdistill._broadcast`
and stays importable from here.
"""

import os
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._broadcast import broadcast_teacher
from ._device import resolve_device
from ._teacher import DEFAULT_LABELING_BATCH_SIZE, _is_torch_module, adapt_teacher, is_fitted, teacher_list
from ._transfer_format import (
    DEFAULT_ROW_GROUP_SIZE,
    array_columns,
    check_frame_columns,
    prepare_directory,
    write_description,
    write_partition,
)

__all__ = ["label_transfer_set", "broadcast_teacher"]


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
    """Label one partition and write it to ``path`` (runs on a worker)."""
    if part.shape[0] == 0:
        return None
    adapter = adapt_teacher(
        teacher,
        options["teacher_weights"],
        task=options["task"],
        n_features=options["n_features"],
        device=resolve_device(options["device"]),
        labeling_batch_size=options["labeling_batch_size"],
        verbose=0,
    )
    return write_partition(
        path, index, part, adapter.outputs(part),
        columns=options["columns"], row_group_size=options["row_group_size"],
    )


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


@validate_params(
    {
        "teacher": "no_validation",  # checked fitted below
        "X": "no_validation",  # a Dask collection, checked below with advice
        "path": [str, os.PathLike],
        "task": [StrOptions({"auto", "classification", "regression"})],
        "teacher_weights": ["array-like", None],
        "labeling_batch_size": [Interval(Integral, 1, None, closed="left")],
        "row_group_size": [Interval(Integral, 1, None, closed="left")],
        "device": "no_validation",  # resolved on the workers (resolve_device)
        "overwrite": ["boolean"],
        "scheduler": "no_validation",  # as dask.compute takes it
    },
    prefer_skip_nested_validation=True,
)
def label_transfer_set(
    teacher,
    X,
    path,
    *,
    task="auto",
    teacher_weights=None,
    labeling_batch_size=DEFAULT_LABELING_BATCH_SIZE,
    row_group_size=DEFAULT_ROW_GROUP_SIZE,
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
        columns = array_columns(n_features)
        X = X.rechunk({1: -1})
        parts = list(X.to_delayed().ravel())
        dtype = str(X.dtype)
    elif dask.is_dask_collection(X) and hasattr(X, "columns") and hasattr(X, "to_delayed"):
        columns = check_frame_columns(X.columns)
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
    prepare_directory(path, overwrite)
    options = dict(
        task=task,
        teacher_weights=teacher_weights,
        n_features=n_features,
        device=device,
        labeling_batch_size=labeling_batch_size,
        row_group_size=row_group_size,
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

    return write_description(
        path,
        written,
        kind=kind,
        columns=columns,
        dtype=dtype,
        task=task,
        classes=classes,
        teacher=type(teacher).__name__ if not isinstance(teacher, (list, tuple)) else "list of teachers",
    )
