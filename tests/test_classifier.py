"""DistilledClassifier: the core contract."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from skdistill import MLP, DistilledClassifier

from .conftest import FAST


class CountingTeacher(ClassifierMixin, BaseEstimator):
    """A fitted classifier that records every predict_proba call."""

    def __init__(self, inner=None):
        self.inner = inner

    def fit(self, X, y):
        self.inner_ = clone(self.inner).fit(X, y)
        self.classes_ = self.inner_.classes_
        self.calls_ = []
        return self

    def predict_proba(self, X):
        self.calls_.append(joblib.hash(np.asarray(X)))
        return self.inner_.predict_proba(X)

    def predict(self, X):
        return self.inner_.predict(X)


FITS = []


class CountingLR(LogisticRegression):
    """An unfitted teacher that records its fits (module level: picklable)."""

    def fit(self, X, y, sample_weight=None):
        FITS.append(len(X))
        return super().fit(X, y, sample_weight)


# ---------------------------------------------------------------------------
# parameters and the loss


@pytest.mark.parametrize(
    "params, match",
    [
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": -0.1}, "alpha"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"augment": "smote"}, "augment"),
    ],
)
def test_bad_parameters_raise_at_fit(binary_data, params, match):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression(), **{**FAST, **params})
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


def test_alpha_one_allows_y_none(binary_data):
    X, y = binary_data
    teacher = LogisticRegression().fit(X, y)
    est = DistilledClassifier(teacher, alpha=1.0, **FAST).fit(X)
    assert est.predict(X).shape == (len(X),)
    with pytest.raises(ValueError, match="requires y"):
        DistilledClassifier(teacher, alpha=0.5, **FAST).fit(X)


def test_alpha_zero_ignores_teacher_outputs(binary_data):
    """alpha=0 is plain supervised training: the teacher's logits do not matter."""
    X, y = binary_data
    good = LogisticRegression().fit(X, y)
    flipped = LogisticRegression().fit(X, 1 - y)
    a = DistilledClassifier(good, alpha=0.0, **FAST).fit(X, y).predict_proba(X)
    b = DistilledClassifier(flipped, alpha=0.0, **FAST).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_pure_distillation_follows_teacher_not_labels(binary_data):
    """With alpha=1 the student learns the teacher, even from a flipped teacher."""
    X, y = binary_data
    flipped = LogisticRegression().fit(X, 1 - y)
    est = DistilledClassifier(flipped, alpha=1.0, temperature=1.0, **{**FAST, "max_epochs": 40}).fit(X, y)
    agreement = np.mean(est.predict(X) == flipped.predict(X))
    assert agreement > 0.9


# ---------------------------------------------------------------------------
# teachers


@pytest.mark.parametrize(
    "teacher",
    [
        RandomForestClassifier(n_estimators=20, random_state=0),
        ExtraTreesClassifier(n_estimators=20, random_state=0),
        HistGradientBoostingClassifier(max_iter=20),
        make_pipeline(StandardScaler(), LogisticRegression()),
        VotingClassifier([("lr", LogisticRegression()), ("rf", RandomForestClassifier(10))], voting="soft"),
        StackingClassifier([("lr", LogisticRegression()), ("rf", RandomForestClassifier(10))]),
        LinearSVC(),
        RidgeClassifier(),
    ],
    ids=lambda t: type(t).__name__,
)
@pytest.mark.parametrize("data", ["binary_data", "multiclass_data"])
def test_sklearn_teachers(teacher, data, request):
    X, y = request.getfixturevalue(data)
    fitted = clone(teacher).fit(X, y)
    est = DistilledClassifier(fitted, **{**FAST, "max_epochs": 20}).fit(X, y)
    np.testing.assert_array_equal(est.classes_, fitted.classes_)
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), len(fitted.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert np.mean(est.predict(X) == fitted.predict(X)) > 0.75


def test_decision_function_teacher_binary_gives_two_logits(binary_data):
    from skdistill._teacher import make_adapter

    X, y = binary_data
    svc = LinearSVC().fit(X, y)
    logits = make_adapter(svc, task="classification").outputs(X)
    assert logits.shape == (len(X), 2)
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], svc.decision_function(X))


def test_proba_teacher_logits_are_clipped_log_probabilities(binary_data):
    from skdistill._teacher import PROBA_CLIP, make_adapter

    X, y = binary_data
    rf = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    logits = make_adapter(rf, task="classification").outputs(X)
    np.testing.assert_allclose(logits, np.log(np.clip(rf.predict_proba(X), PROBA_CLIP, 1)))
    assert np.all(np.isfinite(logits))


def test_lightgbm_teacher_uses_raw_margins(multiclass_data):
    lgbm = pytest.importorskip("lightgbm")
    from skdistill._teacher import make_adapter

    X, y = multiclass_data
    teacher = lgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y)
    logits = make_adapter(teacher, task="classification").outputs(X)
    np.testing.assert_allclose(logits, teacher.predict(X, raw_score=True))
    est = DistilledClassifier(teacher, **FAST).fit(X, y)
    assert est.predict_proba(X).shape == (len(X), 3)


def _torch_teacher(X, y, n_classes):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 16), torch.nn.ReLU(), torch.nn.Linear(16, n_classes))
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(Xt), yt).backward()
        opt.step()
    return net


def test_torch_module_teacher(multiclass_data):
    X, y = multiclass_data
    net = _torch_teacher(X, y, 3)
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    est = DistilledClassifier(net, **{**FAST, "max_epochs": 30}).fit(X, y)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    with torch.no_grad():
        teacher_pred = net.eval()(torch.tensor(X, dtype=torch.float32)).argmax(1).numpy()
    net.train()
    assert np.mean(est.predict(X) == teacher_pred) > 0.8
    # not mutated: parameters and mode as before
    assert net.training
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])


def test_skorch_teacher(binary_data):
    from skorch import NeuralNetClassifier

    X, y = binary_data
    X = X.astype(np.float32)
    teacher = NeuralNetClassifier(
        MLP, module__n_inputs=X.shape[1], module__n_outputs=2, criterion=torch.nn.CrossEntropyLoss,
        max_epochs=10, lr=0.05, train_split=None, verbose=0,
    ).fit(X, y)
    est = DistilledClassifier(teacher, **{**FAST, "max_epochs": 20}).fit(X, y)
    assert np.mean(est.predict(X) == teacher.predict(X)) > 0.85


def test_list_of_teachers_weighted(binary_data):
    X, y = binary_data
    a = LogisticRegression().fit(X, y)
    b = RandomForestClassifier(20, random_state=0).fit(X, y)
    from skdistill._teacher import resolve_teacher

    ens = resolve_teacher(
        [a, b], [3, 1], task="classification", X=X, y=y, n_features=X.shape[1], device="cpu",
        fit_one=None,
    )
    expected = 0.75 * a.predict_proba(X) + 0.25 * b.predict_proba(X)
    np.testing.assert_allclose(np.exp(ens.outputs(X)), expected, atol=1e-5)
    est = DistilledClassifier([a, b], teacher_weights=[3, 1], **FAST).fit(X, y)
    assert est.teacher_[0] is a and est.teacher_[1] is b
    with pytest.raises(ValueError, match="teacher_weights"):
        DistilledClassifier([a, b], teacher_weights=[1, 2, 3], **FAST).fit(X, y)


def test_teachers_with_different_classes_rejected(binary_data, multiclass_data):
    X, y = multiclass_data
    a = LogisticRegression().fit(X, y)
    b = LogisticRegression().fit(X, np.minimum(y, 1))
    with pytest.raises(ValueError, match="same classes_"):
        DistilledClassifier([a, b], **FAST).fit(X, y)


def test_not_a_classifier_teacher_rejected(binary_data):
    from sklearn.linear_model import LinearRegression

    X, y = binary_data
    with pytest.raises(TypeError, match="not a classifier"):
        DistilledClassifier(LinearRegression().fit(X, y), **FAST).fit(X, y)
    with pytest.raises(TypeError, match="teacher"):
        DistilledClassifier("forest", **FAST).fit(X, y)


# ---------------------------------------------------------------------------
# fitted vs unfitted teacher; caching


def test_fitted_teacher_is_shared_not_refit(binary_data):
    X, y = binary_data
    teacher = CountingTeacher(LogisticRegression()).fit(X, y)
    inner = teacher.inner_
    est = DistilledClassifier(teacher, **FAST)
    assert clone(est).teacher is teacher
    est.fit(X, y)
    assert est.teacher_ is teacher and teacher.inner_ is inner


def test_unfitted_teacher_is_cloned_and_fit(binary_data):
    X, y = binary_data
    teacher = LogisticRegression()
    est = DistilledClassifier(teacher, **FAST).fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(teacher)
    assert est.teacher_ is not teacher
    check_is_fitted(est.teacher_)
    assert clone(est).teacher is not teacher  # unfitted teachers are cloned as usual


def test_setting_params_of_shared_fitted_teacher_is_refused(binary_data):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression().fit(X, y))
    with pytest.raises(ValueError, match="fitted and shared"):
        est.set_params(teacher__C=10.0)
    est = DistilledClassifier(LogisticRegression())
    est.set_params(teacher__C=10.0)
    assert est.teacher.C == 10.0


def test_grid_search_queries_prefit_teacher_once_per_training_set(binary_data):
    X, y = binary_data
    teacher = CountingTeacher(LogisticRegression()).fit(X, y)
    search = GridSearchCV(
        DistilledClassifier(teacher, max_epochs=2, hidden_layer_sizes=(8,), random_state=0),
        {"temperature": [1, 2, 4], "alpha": [0.3, 0.6, 0.9]},
        cv=5,
    ).fit(X, y)
    assert search.best_estimator_.teacher is teacher
    # augmentation is on (the default): the synthetic rows are labelled too, but
    # each distinct training set (5 folds + refit) and its synthetic rows once
    distinct_real = len(set(teacher.calls_[::2]))
    assert len(teacher.calls_) <= 2 * 6
    assert distinct_real <= 6
    assert len(set(teacher.calls_)) == len(teacher.calls_)  # never the same rows twice


def test_grid_search_without_augmentation_queries_at_most_six_times(binary_data):
    X, y = binary_data
    teacher = CountingTeacher(LogisticRegression()).fit(X, y)
    GridSearchCV(
        DistilledClassifier(teacher, max_epochs=2, hidden_layer_sizes=(8,), augment=None),
        {"temperature": [1, 2, 4], "alpha": [0.3, 0.6, 0.9]},
        cv=5,
    ).fit(X, y)
    assert len(teacher.calls_) <= 6


def test_unfitted_teacher_fit_once_per_fold_in_grid_search(binary_data):
    X, y = binary_data
    fits = FITS
    fits.clear()
    GridSearchCV(
        DistilledClassifier(CountingLR(), max_epochs=2, hidden_layer_sizes=(8,), augment=None),
        {"temperature": [1, 4], "alpha": [0.3, 0.9]},
        cv=3,
    ).fit(X, y)
    assert len(fits) == 4  # 3 folds + refit, not 13


GLOBAL_CALLS = []


class GlobalCountingLR(LogisticRegression):
    """Counts predict_proba calls outside itself (its state, hence its hash, stays)."""

    def predict_proba(self, X):
        GLOBAL_CALLS.append(len(X))
        return super().predict_proba(X)


def test_memory_reuses_teacher_outputs_across_runs(binary_data, tmp_path):
    from skdistill import clear_cache

    X, y = binary_data
    GLOBAL_CALLS.clear()
    teacher = GlobalCountingLR().fit(X, y)
    DistilledClassifier(teacher, memory=str(tmp_path), **FAST).fit(X, y)
    assert len(GLOBAL_CALLS) == 1
    clear_cache()  # as in a new process
    DistilledClassifier(teacher, memory=str(tmp_path), **FAST).fit(X, y)
    assert len(GLOBAL_CALLS) == 1
    assert any(tmp_path.iterdir())


def test_refitting_teacher_in_place_invalidates_cache(binary_data):
    X, y = binary_data
    teacher = CountingTeacher(LogisticRegression()).fit(X, y)
    DistilledClassifier(teacher, **FAST).fit(X, y)
    teacher.fit(X, 1 - y)  # same object, new state
    est = DistilledClassifier(teacher, alpha=1.0, temperature=1.0, **{**FAST, "max_epochs": 40}).fit(X, y)
    assert len(teacher.calls_) == 1  # the new fit reset calls_ and was queried again
    assert np.mean(est.predict(X) == teacher.predict(X)) > 0.9


# ---------------------------------------------------------------------------
# labels


def test_string_labels_and_classes_follow_teacher(binary_data):
    X, y = binary_data
    labels = np.array(["cat", "dog"])[y]
    teacher = RandomForestClassifier(10, random_state=0).fit(X, labels)
    est = DistilledClassifier(teacher, **FAST).fit(X, labels)
    np.testing.assert_array_equal(est.classes_, teacher.classes_)
    assert set(est.predict(X)) <= {"cat", "dog"}
    assert est.score(X, labels) > 0.7


def test_fold_lacking_a_class(multiclass_data):
    X, y = multiclass_data
    teacher = LogisticRegression().fit(X, y)
    mask = y != 2
    est = DistilledClassifier(teacher, **FAST).fit(X[mask], y[mask])
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 3)
    # the class no training row has is learned from the teacher's soft targets:
    # the student rates it higher on the rows of that class than on the others
    assert proba[~mask, 2].mean() > proba[mask, 2].mean() + 0.03


def test_unknown_label_is_named(binary_data):
    X, y = binary_data
    teacher = LogisticRegression().fit(X, y)
    y_bad = y.copy()
    y_bad[0] = 7
    with pytest.raises(ValueError, match=r"does not know: \[7\]"):
        DistilledClassifier(teacher, **FAST).fit(X, y_bad)


# ---------------------------------------------------------------------------
# the student


def test_student_is_skorch_net_and_hidden_sizes_settable(binary_data):
    from skorch import NeuralNet

    X, y = binary_data
    est = DistilledClassifier(LogisticRegression(), **{**FAST, "hidden_layer_sizes": (7, 5)}).fit(X, y)
    assert isinstance(est.student_, NeuralNet)
    linears = [m for m in est.student_.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [7, 5, 2]
    assert len(est.student_.history) == FAST["max_epochs"]


@pytest.mark.parametrize("n_classes, epochs", [(2, 15), (3, 30), (5, 30)])
def test_auto_max_epochs_follow_the_number_of_classes(n_classes, epochs):
    X, y = make_classification(n_samples=60, n_features=6, n_informative=4, n_classes=n_classes, random_state=0)
    fast = {k: v for k, v in FAST.items() if k != "max_epochs"}
    est = DistilledClassifier(LogisticRegression(), **{**fast, "hidden_layer_sizes": (4,)})
    assert est.max_epochs == "auto"
    est.fit(X, y)
    assert est.max_epochs == "auto"  # the parameter is left as passed
    assert len(est.student_.history) == epochs == est.student_.max_epochs
    assert DistilledClassifier.AUTO_MAX_EPOCHS["binary" if n_classes == 2 else "multiclass"] == epochs
    # the cosine schedule anneals over the epochs actually trained
    scheduler = dict(est.student_.callbacks_)["lr_scheduler"]
    assert scheduler.kwargs["T_max"] == epochs
    # an integer is used as given
    assert len(clone(est).set_params(max_epochs=2).fit(X, y).student_.history) == 2


def test_auto_hidden_sizes_follow_data(binary_data):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression(), **{**FAST, "hidden_layer_sizes": "auto"}).fit(X, y)
    linears = [m for m in est.student_.module_.modules() if isinstance(m, torch.nn.Linear)]
    # one input per bin of each numeric column; the width counts each column once
    n_encoded = est.preprocessor_.transform(X).shape[1]
    assert linears[0].in_features == n_encoded > X.shape[1]
    assert linears[0].out_features == 64  # 2 x 6 columns, at least 64
    wide = np.hstack([X] * 10)  # 60 columns: 2 x 60 = 120 units
    est.fit(wide, y)
    assert est.student_.module_.layers[0].out_features == 120


class TinyNet(torch.nn.Module):
    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.lin = torch.nn.Linear(n_inputs, n_outputs)

    def forward(self, X):
        return self.lin(X)


def test_user_student_module_class_and_instance(binary_data):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression(), student=TinyNet, **FAST).fit(X, y)
    assert isinstance(est.student_.module_, TinyNet)
    instance = TinyNet(X.shape[1], 2)
    before = {k: v.clone() for k, v in instance.state_dict().items()}
    est = DistilledClassifier(LogisticRegression(), student=instance, **FAST).fit(X, y)
    assert est.student_.module_ is not instance
    for k, v in instance.state_dict().items():
        assert torch.equal(v, before[k])  # the user's instance is not trained


def test_auto_encoding_bins_unless_the_user_built_the_network(binary_data):
    X, y = binary_data

    def last_numeric_step(est):
        return type(est.preprocessor_.named_transformers_["numeric"][-1]).__name__

    built_here = DistilledClassifier(LogisticRegression(), student=TinyNet, **FAST).fit(X, y)
    assert last_numeric_step(built_here) == "PiecewiseLinearEncoder"
    assert built_here.student_.module_.lin.in_features > X.shape[1]
    instance = DistilledClassifier(LogisticRegression(), student=TinyNet(X.shape[1], 2), **FAST).fit(X, y)
    assert last_numeric_step(instance) == "QuantileTransformer"  # one input per column, as built
    forced = DistilledClassifier(
        LogisticRegression(), student=TinyNet, numeric_encoding="quantile", **FAST
    ).fit(X, y)
    assert forced.student_.module_.lin.in_features == X.shape[1]


def test_user_skorch_net_student(binary_data):
    from skorch import NeuralNet

    X, y = binary_data
    net = NeuralNet(TinyNet, module__n_inputs=X.shape[1], module__n_outputs=2, criterion=torch.nn.MSELoss,
                    max_epochs=3, lr=0.05, optimizer=torch.optim.SGD)
    est = DistilledClassifier(LogisticRegression(), student=net, **FAST).fit(X, y)
    assert len(est.student_.history) == 3
    assert est.student_.optimizer is torch.optim.SGD
    assert not hasattr(net, "module_")  # the user's net is untouched


def test_student_hyperparameters_reachable_by_grid_search(binary_data):
    X, y = binary_data
    search = GridSearchCV(
        DistilledClassifier(LogisticRegression(), **FAST),
        {"lr": [1e-3, 1e-2], "hidden_layer_sizes": [(8,), (16,)], "batch_size": [32]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["batch_size"] == 32
    assert search.best_estimator_.student_.batch_size == 32


def test_unavailable_device_is_clear_error(binary_data):
    X, y = binary_data
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            DistilledClassifier(LogisticRegression(), device="cuda", **FAST).fit(X, y)
    with pytest.raises(ValueError, match="device"):
        DistilledClassifier(LogisticRegression(), device="tpu9", **FAST).fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training(binary_data):
    X, y = binary_data
    est = DistilledClassifier(LogisticRegression(), device="cuda", **FAST).fit(X, y)
    assert next(est.student_.module_.parameters()).is_cuda
    assert est.predict_proba(X).shape == (len(X), 2)


# ---------------------------------------------------------------------------
# scikit-learn integration


def test_pipeline_and_cross_val_score(binary_data):
    X, y = binary_data
    pipe = make_pipeline(StandardScaler(), DistilledClassifier(LogisticRegression(), **FAST))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.6)


def test_dataframe_sets_feature_names(mixed_frame):
    X, y = mixed_frame
    teacher = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype").fit(X, y)
    est = DistilledClassifier(teacher, **FAST).fit(X, y)
    np.testing.assert_array_equal(est.feature_names_in_, X.columns)
    assert est.predict_proba(X).shape == (len(X), 2)
    with pytest.raises(ValueError, match="feature names"):
        est.predict(X[X.columns[::-1]])


def test_random_state_reproducible(binary_data):
    X, y = binary_data
    teacher = RandomForestClassifier(10, random_state=0).fit(X, y)
    a = DistilledClassifier(teacher, max_epochs=3, random_state=42).fit(X, y).predict_proba(X)
    b = DistilledClassifier(teacher, max_epochs=3, random_state=42).fit(X, y).predict_proba(X)
    c = DistilledClassifier(teacher, max_epochs=3, random_state=7).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_pickle_and_joblib_round_trip(binary_data, tmp_path):
    X, y = binary_data
    est = DistilledClassifier(RandomForestClassifier(10, random_state=0), **FAST).fit(X, y)
    expected = est.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict_proba(X), expected)
    joblib.dump(est, tmp_path / "m.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").predict_proba(X), expected)


def test_unlabeled_rows_carry_soft_targets_only(binary_data):
    from ._recording import RecordTargets

    X, y = binary_data
    teacher = CountingTeacher(LogisticRegression()).fit(X, y)
    rng = np.random.RandomState(1)
    X_u = X + rng.normal(scale=0.1, size=X.shape)
    record = RecordTargets()
    est = DistilledClassifier(teacher, **FAST, callbacks=[("record", record)])
    est.fit(X[:50], y[:50], X_unlabeled=X_u)
    assert est.n_transfer_ == 50 + len(X_u)
    # the teacher labels the training rows, then the unlabeled rows, once each
    assert teacher.calls_ == [joblib.hash(X[:50]), joblib.hash(X_u)]
    targets = record.targets_  # [logits, label, weight]
    assert targets.shape == (50 + len(X_u), 2 + 2)
    logits, labels, weights = targets[:, :2], targets[:, 2], targets[:, 3]
    # every row carries the teacher's log-probabilities (its soft targets) ...
    expected = np.log(teacher.predict_proba(np.vstack([X[:50], X_u])))
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    # ... the training rows their label too, the unlabeled rows none (-1: left out of the CE)
    np.testing.assert_array_equal(labels[:50], y[:50])
    np.testing.assert_array_equal(labels[50:], -1)
    np.testing.assert_array_equal(weights, 1.0)


def test_pipeline_teacher_that_imputes_accepts_nan(binary_data):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    X, y = binary_data
    X = X.copy()
    X[::9, 0] = np.nan
    teacher = make_pipeline(SimpleImputer(), LogisticRegression())
    est = DistilledClassifier(teacher, **FAST).fit(X, y)
    proba = est.predict_proba(X)
    assert np.isfinite(proba).all()
    # a pipeline that cannot take NaN says so itself
    with pytest.raises(ValueError, match="NaN"):
        DistilledClassifier(make_pipeline(LogisticRegression()), **FAST).fit(X, y)


def test_the_task_hooks_are_abstract():
    # a distiller for a new task must define every hook: missing ones fail at
    # construction, naming the hook, not deep inside fit
    from skdistill._base import BaseDistiller

    class HalfDone(BaseDistiller):
        def __init__(self, teacher=None):
            self.teacher = teacher

        def _check_y(self, y, n_samples):
            return y

    with pytest.raises(TypeError, match="abstract.*_after_teacher.*_pack_targets"):
        HalfDone()
    assert DistilledClassifier.__abstractmethods__ == frozenset()


def test_compare_models_validates_its_arguments():
    from skdistill import compare_models, model_size_bytes

    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    t = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"teacher='forest' is not a key of models; the keys are \['lr'\]"):
        compare_models({"lr": t}, X, y, teacher="forest")
    with pytest.raises(ValueError, match="at least one"):
        compare_models({}, X, y)
    with pytest.raises(TypeError, match="'models' parameter"):
        compare_models([t], X, y)
    with pytest.raises(NotFittedError):
        model_size_bytes(DistilledClassifier(t))
