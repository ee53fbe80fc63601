"""skdistill on a real dask.distributed cluster: 2 worker processes, loopback only."""

import copy
import copyreg
import os
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold

from skdistill import DistilledClassifier, DistilledRegressor, broadcast_teacher, clear_cache, label_transfer_set

from .conftest import FAST

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
pytest.importorskip("pyarrow")

N_WORKERS = 2


class LoggedForest(RandomForestClassifier):
    """A forest that logs, to the file named by its ``log_path_``, each time it
    is unpickled and each predict_proba call, with the process id."""

    def _log(self, event, path=None):
        path = path or getattr(self, "log_path_", None)
        if path:
            with open(path, "a") as f:
                f.write(f"{event} {os.getpid()}\n")

    def __setstate__(self, state):
        self._log("unpickle", state.get("log_path_"))
        super().__setstate__(state)

    def predict_proba(self, X):
        self._log("predict")
        return super().predict_proba(X)


def _events(path, event):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [int(line.split()[1]) for line in f if line.startswith(event)]


@pytest.fixture(scope="module")
def client():
    # the Active Memory Manager (on by default) every 10 ms instead of every 2 s:
    # a teacher copy it drops and a worker fetches again shows up in every run,
    # not in the rare slow one
    with dask.config.set({"distributed.scheduler.active-memory-manager.interval": "10ms"}):
        cluster = distributed.LocalCluster(
            n_workers=N_WORKERS,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # the scheduler's HTTP endpoints on a free loopback port, not 8787 (which other
            # test processes, or clusters, may hold)
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )
    client = distributed.Client(cluster)
    # one torch thread per worker (dask's nanny sets OMP_NUM_THREADS=1 too), as in this
    # process (conftest): CPU training is then bitwise reproducible across processes
    client.run(torch.set_num_threads, 1)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def worker_pids(client):
    client.run(clear_cache)
    return set(client.run(os.getpid).values())


@pytest.fixture
def clf_data():
    X, y = make_classification(n_samples=160, n_features=6, n_informative=4, random_state=0)
    return X, y


def _scores(search):
    res = search.cv_results_
    return {k: np.asarray(v) for k, v in res.items() if "test_score" in k}


def _assert_same_results(a, b):
    sa, sb = _scores(a), _scores(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)
    assert a.best_params_ == b.best_params_


def _search(est, grid, cv=2):
    return GridSearchCV(est, grid, cv=KFold(cv, shuffle=True, random_state=0))


def test_grid_search_on_cluster_gives_the_in_process_results(client, clf_data):
    X, y = clf_data
    teacher = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    grid = {"temperature": [1.0, 3.0]}
    local = _search(DistilledClassifier(teacher, **FAST), grid).fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = _search(DistilledClassifier(teacher, **FAST), grid).fit(X, y)
    _assert_same_results(local, remote)

    Xr, yr = make_regression(n_samples=160, n_features=5, noise=5.0, random_state=0)
    reg_teacher = RandomForestRegressor(n_estimators=10, random_state=0).fit(Xr, yr)
    grid = {"alpha": [0.5, 0.9]}
    local = _search(DistilledRegressor(reg_teacher, **FAST), grid).fit(Xr, yr)
    with joblib.parallel_backend("dask"), broadcast_teacher(reg_teacher):
        shared = _search(DistilledRegressor(reg_teacher, **FAST), grid).fit(Xr, yr)
    _assert_same_results(local, shared)
    assert shared.best_estimator_.teacher_ is reg_teacher  # the refit, here, used the teacher itself


def test_broadcast_teacher_reaches_each_worker_once(client, clf_data, worker_pids, tmp_path):
    X, y = clf_data
    teacher = LoggedForest(n_estimators=10, random_state=0).fit(X, y)
    log = str(tmp_path / "log")
    teacher.log_path_ = log
    grid = {"temperature": [1.0, 2.0], "alpha": [0.5, 0.9]}
    n_tasks = 4 * 2  # candidates x folds

    with joblib.parallel_backend("dask"), broadcast_teacher(teacher):
        shared = _search(DistilledClassifier(teacher, **FAST), grid).fit(X, y)
    unpickled = _events(log, "unpickle")
    # once per worker (in the plugin); never in this process, where the scheduler runs
    assert sorted(unpickled) == sorted(worker_pids)
    info = client.run(lambda: __import__("skdistill")._cache.cache_info())
    hits = sum(i["hits"] for i in info.values())
    misses = sum(i["misses"] for i in info.values())
    # each task looked its training fold up once; each worker labelled a fold at most once
    assert hits + misses == n_tasks
    assert misses <= N_WORKERS * 2 and hits >= n_tasks - N_WORKERS * 2
    assert type(teacher) not in copyreg.dispatch_table  # the reducer is gone after the block

    # without it, joblib pickles the teacher into every task: the workers unpickle it
    # again and again; the copies a worker unpickles share its cache all the same
    # (the distiller carries its teacher's token through the pickle)
    os.remove(log)
    client.run(clear_cache)
    with joblib.parallel_backend("dask"):
        plain = _search(DistilledClassifier(teacher, **FAST), grid).fit(X, y)
    _assert_same_results(shared, plain)
    unpickled = _events(log, "unpickle")
    assert len([p for p in unpickled if p in worker_pids]) > N_WORKERS
    info = client.run(lambda: __import__("skdistill")._cache.cache_info())
    hits = sum(i["hits"] for i in info.values())
    misses = sum(i["misses"] for i in info.values())
    assert hits + misses == n_tasks
    assert misses <= N_WORKERS * 2 and hits >= n_tasks - N_WORKERS * 2


def test_memory_on_a_shared_path_is_reused_by_workers_and_here(client, clf_data, worker_pids, tmp_path):
    X, y = clf_data
    teacher = LoggedForest(n_estimators=10, random_state=0).fit(X, y)
    log = str(tmp_path / "log")
    teacher.log_path_ = log
    params = dict(FAST, memory=str(tmp_path / "cache"))
    grid = {"temperature": [1.0, 2.0]}
    with joblib.parallel_backend("dask"), broadcast_teacher(teacher):
        first = _search(DistilledClassifier(teacher, **params), grid).fit(X, y)
    assert set(_events(log, "predict")) <= worker_pids | {os.getpid()}
    labelled = len(_events(log, "predict"))
    assert 3 <= labelled <= 2 * N_WORKERS + 1  # the folds (per worker at most) and the refit

    # fresh in-process caches everywhere: the outputs come from the shared memory
    client.run(clear_cache)
    with joblib.parallel_backend("dask"), broadcast_teacher(teacher):
        again = _search(DistilledClassifier(teacher, **params), grid).fit(X, y)
    clear_cache()
    local = _search(DistilledClassifier(teacher, **params), grid).fit(X, y)
    assert len(_events(log, "predict")) == labelled  # no new teacher call anywhere
    _assert_same_results(first, again)
    _assert_same_results(first, local)


def test_label_transfer_set_on_the_cluster_and_search_with_it(client, clf_data, worker_pids, tmp_path):
    X, y = clf_data
    teacher = LoggedForest(n_estimators=10, random_state=0).fit(X, y)
    log = str(tmp_path / "log")
    teacher.log_path_ = log
    extra = np.random.RandomState(1).normal(size=(2000, 6))
    ts = label_transfer_set(teacher, da.from_array(extra, chunks=(500, 6)), tmp_path / "t")
    assert ts.n_rows == 2000
    # labelled on the workers (4 partitions), the teacher scattered once to each
    assert set(_events(log, "predict")) <= worker_pids and len(_events(log, "predict")) == 4
    # exactly once per worker, never per partition nor in this process
    assert sorted(_events(log, "unpickle")) == sorted(worker_pids)
    logits = np.concatenate([c[1] for c in ts.iter_chunks()])
    np.testing.assert_allclose(logits, np.log(np.clip(teacher.predict_proba(extra), 1e-6, 1)))

    # the TransferSet travels to the workers by path; streamed fits match in-process ones
    grid = {"alpha": [0.5, 1.0]}
    params = dict(FAST, max_epochs=2)
    local = _search(DistilledClassifier(teacher, **params), grid).fit(X, y, X_unlabeled=ts)
    with joblib.parallel_backend("dask"), broadcast_teacher(teacher):
        remote = _search(DistilledClassifier(teacher, **params), grid).fit(X, y, X_unlabeled=ts)
    _assert_same_results(local, remote)
    assert remote.best_estimator_.n_transfer_ == len(X) + 2000


def test_broadcast_is_scoped_to_the_block_and_the_object(client, clf_data):
    X, y = clf_data
    teacher = LogisticRegression().fit(X, y)
    twin = LogisticRegression().fit(X, y)  # equal content, another object
    outside_hash = joblib.hash(teacher)
    with broadcast_teacher(teacher):
        blob = pickle.dumps(teacher)
        assert len(blob) < len(pickle.dumps(twin)) and pickle.loads(blob) is teacher
        assert copy.deepcopy(teacher) is teacher  # never copied
        assert copy.deepcopy(twin) is not twin
        assert joblib.hash(teacher) == outside_hash  # memory= keys do not change
        with broadcast_teacher([teacher, twin]):  # nested, and a list of teachers
            assert pickle.loads(pickle.dumps(twin)) is twin
        assert pickle.loads(pickle.dumps(twin)) is not twin
    assert type(teacher) not in copyreg.dispatch_table
    assert pickle.loads(pickle.dumps(teacher)) is not teacher
    # a reference unpickled after the block is a clear error, not a silent wrong teacher
    orphan = pickle.loads(blob)
    with pytest.raises(RuntimeError, match="not available in this process"):
        DistilledClassifier(orphan, **FAST).fit(X, y)
    registries = client.run(lambda: dict(__import__("skdistill")._broadcast._REGISTRY))
    assert registries and not any(registries.values())  # removed from the workers


def test_broadcast_teacher_checks_its_input(client, clf_data):
    with pytest.raises(ValueError, match="needs fitted teachers"):
        with broadcast_teacher(LogisticRegression()):
            pass


def test_broadcast_teacher_needs_a_client(clf_data, monkeypatch):
    X, y = clf_data
    teacher = LogisticRegression().fit(X, y)

    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "get_client", no_client)
    with pytest.raises(ValueError, match="needs a dask.distributed Client"):
        with broadcast_teacher(teacher):
            pass
    assert type(teacher) not in copyreg.dispatch_table


# ---------------------------------------------------------------------------
# multi-GPU students through Hugging Face accelerate (skorch's AccelerateMixin)

def _accelerated_student(accelerator):
    from skorch import NeuralNet
    from skorch.hf import AccelerateMixin

    from skdistill import MLP

    class AcceleratedNet(AccelerateMixin, NeuralNet):
        pass

    return AcceleratedNet(
        module=MLP,
        module__n_inputs=6,
        module__n_outputs=2,
        module__hidden_layer_sizes=(16,),
        criterion=torch.nn.CrossEntropyLoss,
        accelerator=accelerator,
        max_epochs=2,
        batch_size=32,
    ), AccelerateMixin


def test_accelerate_student_on_cpu(clf_data):
    accelerate = pytest.importorskip("accelerate")
    X, y = clf_data
    teacher = LogisticRegression().fit(X, y)
    student, mixin = _accelerated_student(accelerate.Accelerator(cpu=True))
    est = DistilledClassifier(teacher, student=student, augment=None, random_state=0).fit(X, y)
    assert isinstance(est.student_, mixin)
    assert est.predict_proba(X).shape == (len(X), 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_accelerate_student_on_gpu(clf_data):
    accelerate = pytest.importorskip("accelerate")
    X, y = clf_data
    teacher = LogisticRegression().fit(X, y)
    student, mixin = _accelerated_student(accelerate.Accelerator())
    est = DistilledClassifier(teacher, student=student, augment=None, random_state=0).fit(X, y)
    assert isinstance(est.student_, mixin)
    assert next(est.student_.module_.parameters()).is_cuda
    assert est.predict_proba(X).shape == (len(X), 2)
