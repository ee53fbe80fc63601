"""The teacher-output cache across pickled copies and joblib worker processes."""

import os
import pickle

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from skdistill import DistilledClassifier
from skdistill import _cache

TINY = dict(max_epochs=1, batch_size=64, hidden_layer_sizes=(8,), random_state=0)


class LoggingTeacher(LogisticRegression):
    """Appends ``pid rows data-hash`` to the file ``log_path`` on every call.

    A file, so that calls made in joblib's worker processes are counted too.
    """

    def __init__(self, log_path=None, C=1.0):
        super().__init__(C=C)
        self.log_path = log_path

    def decision_function(self, X):  # predict_proba calls it too
        with open(self.log_path, "a") as f:
            f.write(f"{os.getpid()} {len(X)} {joblib.hash(np.asarray(X))}\n")
        return super().decision_function(X)


def _calls(path):
    with open(path) as f:
        return f.read().splitlines()


@pytest.fixture
def data():
    return make_classification(n_samples=150, n_features=5, random_state=0)


def test_unpickled_copies_of_a_distiller_share_teacher_outputs(data, tmp_path):
    X, y = data
    log = str(tmp_path / "calls.txt")
    teacher = LoggingTeacher(log).fit(X, y)
    est = DistilledClassifier(teacher, **TINY)
    blob = pickle.dumps(est)
    first, second = pickle.loads(blob), pickle.loads(blob)
    assert first.teacher is not second.teacher  # two copies of the teacher
    first.fit(X, y)
    n_calls = len(_calls(log))
    assert n_calls == 2  # the training rows and the MUNGE rows
    second.fit(X, y)
    assert len(_calls(log)) == n_calls  # the second copy hits the cache


def test_teacher_token_follows_a_refit_in_place(data):
    X, y = data
    teacher = LogisticRegression().fit(X, y)
    token = _cache.teacher_token(teacher)
    assert _cache.teacher_token(teacher) == token
    copy = pickle.loads(pickle.dumps(teacher))
    _cache.register_token(copy, token)  # as an unpickled distiller does
    assert _cache.known_token(copy) == token
    teacher.fit(X[:100], y[:100])  # new fitted attributes: a new token
    assert _cache.teacher_token(teacher) != token
    copy.fit(X[:100], y[:100])
    assert _cache.known_token(copy) is None


def test_grid_search_n_jobs_2_queries_the_teacher_once_per_training_set_and_worker(data, tmp_path):
    X, y = data
    log = str(tmp_path / "calls.txt")
    teacher = LoggingTeacher(log).fit(X, y)
    open(log, "w").close()
    # 8 tasks on 2 folds and 2 workers: without a cache shared by the copies
    # a worker unpickles, some worker labels some fold twice
    gs = GridSearchCV(
        DistilledClassifier(teacher, **TINY), {"temperature": [1, 2], "alpha": [0.5, 0.9]}, cv=2, n_jobs=2
    )
    gs.fit(X, y)
    calls = _calls(log)
    assert len(calls) == len(set(calls)), "a worker queried the teacher twice on the same rows"
    workers = {line.split()[0] for line in calls} - {str(os.getpid())}
    assert 1 <= len(workers) <= 2
    # at most: 2 folds x (training + MUNGE rows) per worker, plus the refit here
    assert len(calls) <= 2 * 2 * len(workers) + 2


def test_cached_call_computes_once_per_key_until_the_cache_is_cleared():
    calls = []

    def compute(value):
        calls.append(value)
        return np.full(3, value)

    _cache.clear_cache()
    first = _cache.cached_call(("rows", 1), lambda: compute(1))
    again = _cache.cached_call(("rows", 1), lambda: compute(99))
    assert again is first and calls == [1]
    np.testing.assert_array_equal(_cache.cached_call(("rows", 2), lambda: compute(2)), [2, 2, 2])
    assert calls == [1, 2]
    _cache.clear_cache()
    np.testing.assert_array_equal(_cache.cached_call(("rows", 1), lambda: compute(3)), [3, 3, 3])
    assert calls == [1, 2, 3]
