"""Sending a fitted teacher once to every Dask worker: :class:`broadcast_teacher`.

Importable without Dask installed (``dask.distributed`` is imported on use).
Used around a grid search run through joblib's Dask backend, and by
:func:`~skdistill.label_transfer_set` on a ``dask.distributed`` cluster.

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
import os
import pickle
import sys
import threading
import uuid
import warnings

import joblib

from ._teacher import is_fitted, teacher_list


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
