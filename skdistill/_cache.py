"""Caching of teacher fits and teacher outputs.

Two layers, both keyed by what determines the result:

* an in-process LRU cache, so that the temperature/alpha candidates of a grid
  search (which see the same training folds) query a prefit teacher once per
  distinct training set. A fitted teacher is identified by object identity
  plus a cheap fingerprint of its fitted state (ids of its fitted attributes,
  recursively; versions of torch parameters), so refitting it in place, or
  training a torch teacher, invalidates its entries. A teacher that travels
  to worker processes inside a distiller (``GridSearchCV(n_jobs=2)``: every
  task unpickles its own copy) is identified by a token instead
  (:func:`teacher_token`), drawn once per teacher object and fitted state in
  the parent and carried by the pickle, so that the copies in one worker
  share their entries;
* an optional :class:`joblib.Memory` (``memory=`` as in
  :class:`~sklearn.pipeline.Pipeline`) that persists across processes and
  runs; joblib hashes the teacher and the data itself.

Temperature and alpha act after the cache: the cache holds raw logits.
"""

import threading
import uuid
import weakref
from collections import OrderedDict

import joblib
import numpy as np
from sklearn.utils.validation import check_memory

from ._teacher import raw_booster_kind

#: Bound of the in-process output cache, in bytes of cached arrays.
MAX_CACHE_BYTES = 512 * 2**20
#: Bound of the in-process cache of fitted teachers, in entries.
MAX_FITTED_TEACHERS = 8


def data_key(*arrays):
    """A content hash of arrays / DataFrames (joblib.hash)."""
    return joblib.hash(arrays)


def _is_model(obj, torch):
    return hasattr(obj, "get_params") or (torch is not None and isinstance(obj, torch.nn.Module))


def _fingerprint(obj, depth=0):
    """Cheap fingerprint of a fitted model's state (no hashing of its arrays).

    Fitted attributes are compared by identity (a refit replaces them); nested
    models (pipeline steps, ensemble members) recursively; torch tensors by
    identity and in-place version counter; raw LightGBM / XGBoost boosters
    by identity and number of boosting rounds (``booster.update()`` trains
    them in place).
    """
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if depth > 6:
        return id(obj)
    if torch is not None and isinstance(obj, torch.nn.Module):
        state = [(n, id(t), t._version) for n, t in obj.state_dict(keep_vars=True).items()]
        return ("torch", id(obj), tuple(state))
    lib = raw_booster_kind(obj)
    if lib is not None:
        rounds = obj.current_iteration() if lib == "lightgbm" else obj.num_boosted_rounds()
        return ("booster", id(obj), int(rounds))
    if isinstance(obj, (list, tuple)):
        if any(_is_model(o, torch) or isinstance(o, (list, tuple)) for o in obj):
            return tuple(_fingerprint(o, depth + 1) for o in obj)
        return id(obj)
    if _is_model(obj, torch):
        items = tuple(
            (name, _fingerprint(value, depth + 1)) for name, value in sorted(vars(obj).items())
        )
        return (type(obj).__name__, id(obj), items)
    return id(obj)


#: id(teacher) -> (weakref, fingerprint, token); see teacher_token.
_TOKENS = {}
_TOKENS_LOCK = threading.Lock()


def _forget_token(key, ref):
    with _TOKENS_LOCK:
        entry = _TOKENS.get(key)
        if entry is not None and entry[0] is ref:
            del _TOKENS[key]


def register_token(est, token, fingerprint=None):
    """Remember that ``est`` (as it is now) has the token ``token``.

    Used for a teacher unpickled with the token its original had, so that
    the copies of one teacher in a process share cache entries without
    hashing it again. The token is forgotten when ``est`` is garbage
    collected or its fitted state changes (a refit in place).
    """
    if token is None:
        return
    key = id(est)
    try:
        ref = weakref.ref(est, lambda r: _forget_token(key, r))
    except TypeError:
        return
    fp = _fingerprint(est) if fingerprint is None else fingerprint
    with _TOKENS_LOCK:
        _TOKENS[key] = (ref, fp, token)


def known_token(est, fingerprint=None):
    """The token registered for ``est`` if still valid, else None."""
    with _TOKENS_LOCK:
        entry = _TOKENS.get(id(est))
    if entry is None or entry[0]() is not est:
        return None
    fp = _fingerprint(est) if fingerprint is None else fingerprint
    return entry[2] if entry[1] == fp else None


def teacher_token(est):
    """A token naming a fitted teacher in its current state.

    Drawn at random once per teacher object (hashing a large teacher's
    content would cost seconds), again after its fitted state changes (a
    refit in place); the unpickled copies of the teacher get the same token
    (:func:`register_token`), so that they share cache entries. None for an
    object that cannot be weakly referenced.
    """
    fp = _fingerprint(est)
    token = known_token(est, fp)
    if token is None:
        token = uuid.uuid4().hex
        register_token(est, token, fp)
        if known_token(est, fp) is None:
            return None
    return token


class _Entry:
    __slots__ = ("value", "refs", "nbytes")

    def __init__(self, value, refs, nbytes):
        self.value = value
        self.refs = refs
        self.nbytes = nbytes


class _LRU:
    """A thread-safe LRU mapping bounded by entries and by bytes."""

    def __init__(self, max_entries=None, max_bytes=None):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key, owners=()):
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            # ids can be reused after garbage collection: check identity
            if any(ref() is not owner for ref, owner in zip(entry.refs, owners)):
                self._remove(key)
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry.value

    def put(self, key, value, owners=(), nbytes=0):
        refs = []
        for owner in owners:
            try:
                refs.append(weakref.ref(owner))
            except TypeError:
                return  # cannot guard identity: do not cache
        with self._lock:
            if key in self._data:
                self._remove(key)
            if self.max_bytes is not None and nbytes > self.max_bytes:
                return
            self._data[key] = _Entry(value, refs, nbytes)
            self._bytes += nbytes
            while (self.max_entries is not None and len(self._data) > self.max_entries) or (
                self.max_bytes is not None and self._bytes > self.max_bytes
            ):
                self._remove(next(iter(self._data)))

    def _remove(self, key):
        entry = self._data.pop(key)
        self._bytes -= entry.nbytes

    def clear(self):
        with self._lock:
            self._data.clear()
            self._bytes = 0
            self.hits = self.misses = 0


_OUTPUTS = _LRU(max_bytes=MAX_CACHE_BYTES)
_FITTED = _LRU(max_entries=MAX_FITTED_TEACHERS)
_SYNTHETIC = _LRU(max_bytes=MAX_CACHE_BYTES)


def clear_cache():
    """Empty skdistill's in-process caches of teacher fits and outputs."""
    for cache in (_OUTPUTS, _FITTED, _SYNTHETIC):
        cache.clear()


def _nbytes(value):
    if isinstance(value, tuple):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.nbytes
    memory_usage = getattr(value, "memory_usage", None)
    if callable(memory_usage):
        return int(np.sum(memory_usage(deep=True)))
    return 0


def _label(adapter, X):
    """Module-level so that joblib.Memory can cache it."""
    return adapter.outputs(X)


def _fit(teacher, X, y, fit_params):
    return teacher.fit(X, y, **fit_params)


def teacher_outputs(adapter, X, x_key, memory=None):
    """``adapter.outputs(X)``, cached per teacher member and data.

    ``x_key`` identifies the content of ``X`` (see :func:`data_key`).
    With several teachers each member is cached on its own.
    """
    members = adapter.members
    if len(members) > 1:
        return adapter.combine([teacher_outputs(m, X, x_key, memory) for m in members])
    est = adapter.estimator
    fp = _fingerprint(est)
    token = known_token(est, fp)
    if token is not None:  # keyed by token: shared by the unpickled copies of a teacher
        key, owners = ("outputs", "token", token, x_key), ()
    else:
        key, owners = ("outputs", fp, x_key), (est,)
    cached = _OUTPUTS.get(key, owners=owners)
    if cached is not None:
        return cached
    memory = check_memory(memory)
    if memory.location is not None:
        out = memory.cache(_label, ignore=[])(adapter, X)
    else:
        out = adapter.outputs(X)
    _OUTPUTS.put(key, out, owners=owners, nbytes=out.nbytes)
    return out


def fit_teacher(teacher, X, y, memory=None, fit_params=None):
    """Fit an (already cloned, unfitted) teacher, cached on its parameters and the data.

    The same unfitted teacher configuration fitted on the same data with the
    same ``fit_params`` (``sample_weight`` ...) is reused, as Pipeline's
    ``memory`` reuses fitted transformers.
    """
    fit_params = {} if fit_params is None else dict(fit_params)
    try:
        key = ("fit", joblib.hash(teacher), data_key(X, y, sorted(fit_params.items())))
    except Exception:  # an unpicklable teacher cannot be keyed: fit, uncached
        return teacher.fit(X, y, **fit_params)
    cached = _FITTED.get(key)
    if cached is not None:
        return cached
    memory = check_memory(memory)
    if memory.location is not None:
        fitted = memory.cache(_fit)(teacher, X, y, fit_params)
    else:
        fitted = teacher.fit(X, y, **fit_params)
    _FITTED.put(key, fitted)
    return fitted


def cached_call(key, compute):
    """``compute()``, kept in a bounded in-process cache under ``key``.

    For derived data (synthetic rows) that the candidates of a search
    recompute identically: ``key`` must identify everything the result
    depends on (see :func:`data_key`).

    Parameters
    ----------
    key : hashable
    compute : callable
        Called without arguments on a miss.

    Returns
    -------
    value : object
        The cached or computed result.
    """
    cached = _SYNTHETIC.get(key)
    if cached is not None:
        return cached
    value = compute()
    _SYNTHETIC.put(key, value, nbytes=_nbytes(value))
    return value


def cache_info():
    """Hits and misses of the in-process output cache (for tests and tuning)."""
    return {"hits": _OUTPUTS.hits, "misses": _OUTPUTS.misses, "entries": len(_OUTPUTS._data)}
