"""sample_weight, class_weight and metadata routing in fit."""

import numpy as np
import pytest
import sklearn
import torch
from skorch.callbacks import Callback
from skorch.history import History
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from skdistill import (
    DistillationLoss,
    DistilledClassifier,
    DistilledRegressor,
    MungeAugmenter,
    TeacherFidelity,
    distillation_loss,
    regression_distillation_loss,
)

TINY = dict(max_epochs=3, batch_size=32, lr=1e-2, hidden_layer_sizes=(8,), augment=None, random_state=0)


@pytest.fixture
def data():
    X, y = make_classification(n_samples=120, n_features=5, n_informative=3, random_state=0)
    w = np.random.RandomState(1).randint(0, 4, size=len(y))  # zeros included: dropped rows
    return X, y, w


class PackedTargets(Callback):
    """Records the packed training targets (their last column is the weight)."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.targets_ = X.tensors[1].numpy().copy()


def _packed(est, X, y, **fit_params):
    spy = PackedTargets()
    est.set_params(callbacks=[("spy", spy)]).fit(X, y, **fit_params)
    return spy.targets_


# -- the loss -----------------------------------------------------------------


def test_weighted_classification_loss_equals_loss_on_repeated_rows():
    rng = np.random.RandomState(0)
    zs, zt = torch.tensor(rng.normal(size=(6, 3))), torch.tensor(rng.normal(size=(6, 3)))
    labels = torch.tensor([0, 2, -1, 1, -1, 0])  # two rows without a label
    w = np.array([1, 3, 0, 2, 1, 2])
    rep = np.repeat(np.arange(6), w)
    for alpha in (0.0, 0.4, 1.0):
        weighted = distillation_loss(
            zs, zt, labels, temperature=2.0, alpha=alpha, weights=torch.tensor(w, dtype=zs.dtype)
        )
        repeated = distillation_loss(zs[rep], zt[rep], labels[rep], temperature=2.0, alpha=alpha)
        assert float(weighted) == pytest.approx(float(repeated), rel=1e-12)
    unit = distillation_loss(zs, zt, labels, temperature=2.0, alpha=0.4, weights=torch.ones(6, dtype=zs.dtype))
    assert float(unit) == pytest.approx(float(distillation_loss(zs, zt, labels, temperature=2.0, alpha=0.4)))


def test_weighted_regression_loss_equals_loss_on_repeated_rows():
    rng = np.random.RandomState(0)
    pred, teacher, y = (torch.tensor(rng.normal(size=(5, 2))) for _ in range(3))
    has_y = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0])
    w = np.array([2, 0, 1, 3, 1])
    rep = np.repeat(np.arange(5), w)
    for loss in ("squared_error", "huber"):
        weighted = regression_distillation_loss(
            pred, teacher, y, has_y, alpha=0.3, loss=loss, weights=torch.tensor(w, dtype=pred.dtype)
        )
        repeated = regression_distillation_loss(pred[rep], teacher[rep], y[rep], has_y[rep], alpha=0.3, loss=loss)
        assert float(weighted) == pytest.approx(float(repeated), rel=1e-12)


def test_all_zero_weights_in_a_batch_give_zero_not_nan():
    z = torch.ones(3, 2)
    out = distillation_loss(z, z * 2, torch.tensor([0, 1, 0]), temperature=1.0, alpha=0.5, weights=torch.zeros(3))
    assert float(out) == 0.0


def test_fidelity_callback_means_are_weighted():
    class _Net:
        criterion_ = DistillationLoss()
        history = History()

    net, cb = _Net(), TeacherFidelity()
    net.history.new_epoch()
    cb.on_epoch_begin(net)
    student = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    teacher = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])  # row 1 disagrees
    target = torch.cat([teacher, torch.zeros(3, 1), torch.tensor([[1.0], [3.0], [0.0]])], dim=1)
    cb.on_batch_end(net, batch=(student, target), training=False, y_pred=student)
    cb.on_epoch_end(net)
    assert net.history[-1, "valid_teacher_agreement"] == pytest.approx(1 / 4)


# -- fit ------------------------------------------------------------------------


def test_unit_weights_are_no_weights(data):
    X, y, _ = data
    teacher = LogisticRegression().fit(X, y)
    plain = DistilledClassifier(teacher, **TINY).fit(X, y)
    ones = DistilledClassifier(teacher, **TINY).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(ones.predict_proba(X), plain.predict_proba(X), atol=1e-6)


def test_weights_change_the_fit(data):
    X, y, w = data
    teacher = LogisticRegression().fit(X, y)
    plain = DistilledClassifier(teacher, **TINY).fit(X, y)
    weighted = DistilledClassifier(teacher, **TINY).fit(X, y, sample_weight=w)
    assert np.abs(weighted.predict_proba(X) - plain.predict_proba(X)).max() > 1e-3


def _one_batch(**kw):
    # one batch per epoch and an identity preprocessor: the weighted fit and the
    # fit on repeated rows then run the same optimisation (up to float rounding)
    return dict(TINY, batch_size=10_000, preprocessor=FunctionTransformer(), **kw)


def test_integer_weights_agree_with_repeated_rows_classifier(data):
    X, y, w = data
    rep = np.repeat(np.arange(len(y)), w)
    teacher = LogisticRegression().fit(X, y)
    weighted = DistilledClassifier(teacher, alpha=0.5, **_one_batch()).fit(X, y, sample_weight=w)
    repeated = DistilledClassifier(teacher, alpha=0.5, **_one_batch()).fit(X[rep], y[rep])
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-4)
    plain = DistilledClassifier(teacher, alpha=0.5, **_one_batch()).fit(X, y)
    assert np.abs(plain.predict_proba(X) - repeated.predict_proba(X)).max() > 1e-3


def test_integer_weights_agree_with_repeated_rows_regressor():
    X, y = make_regression(n_samples=100, n_features=4, noise=5.0, random_state=0)
    y = y + 50  # the target standardization is weighted too
    w = np.random.RandomState(2).randint(0, 4, size=len(y))
    rep = np.repeat(np.arange(len(y)), w)
    teacher = LinearRegression().fit(X, y)
    weighted = DistilledRegressor(teacher, alpha=0.5, **_one_batch()).fit(X, y, sample_weight=w)
    repeated = DistilledRegressor(teacher, alpha=0.5, **_one_batch()).fit(X[rep], y[rep])
    np.testing.assert_allclose(weighted.target_mean_, repeated.target_mean_, rtol=1e-10)
    np.testing.assert_allclose(weighted.target_scale_, repeated.target_scale_, rtol=1e-10)
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-4, atol=1e-3)


def test_unfitted_teacher_is_fit_with_the_weights(data):
    X, y, w = data
    rep = np.repeat(np.arange(len(y)), w)
    teacher = LogisticRegression(tol=1e-10, max_iter=10_000)
    weighted = DistilledClassifier(teacher, **TINY).fit(X, y, sample_weight=w)
    expected = LogisticRegression(tol=1e-10, max_iter=10_000).fit(X[rep], y[rep])
    np.testing.assert_allclose(weighted.teacher_.coef_, expected.coef_, rtol=1e-4)
    # the cached teacher fit is keyed by the weights
    plain = DistilledClassifier(teacher, **TINY).fit(X, y)
    assert not np.allclose(plain.teacher_.coef_, weighted.teacher_.coef_)
    assert teacher.__dict__.keys() == LogisticRegression().__dict__.keys()  # not mutated


def test_teacher_without_sample_weight_warns_and_is_fit_unweighted(data):
    X, y, w = data
    with pytest.warns(UserWarning, match="does not accept sample_weight"):
        est = DistilledClassifier(KNeighborsClassifier(), **TINY).fit(X, y, sample_weight=w)
    assert est.teacher_.n_samples_fit_ == len(y)


def test_teacher_fit_params_are_passed_to_an_unfitted_teacher(data):
    X, y, w = data
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    with pytest.warns(UserWarning, match="Pipeline does not accept sample_weight"):
        DistilledClassifier(pipe, **TINY).fit(X, y, sample_weight=w)
    est = DistilledClassifier(pipe, **TINY).fit(X, y, logisticregression__sample_weight=w)
    expected = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y, logisticregression__sample_weight=w)
    np.testing.assert_allclose(est.teacher_[-1].coef_, expected[-1].coef_)
    with pytest.raises(TypeError, match="fitted"):
        DistilledClassifier(expected, **TINY).fit(X, y, logisticregression__sample_weight=w)


def test_munge_rows_inherit_the_weight_of_their_source_row(data):
    X, y, w = data
    teacher = LogisticRegression().fit(X, y)
    X_u = X[:7] + 0.1
    params = dict(TINY, augment=MungeAugmenter(size_factor=3))
    packed = _packed(DistilledClassifier(teacher, **params), X, y, sample_weight=w, X_unlabeled=X_u)
    n = len(y)
    np.testing.assert_array_equal(packed[:n, -1], w)
    np.testing.assert_array_equal(packed[n : n + 7, -1], 1.0)  # unlabeled rows: one row each
    np.testing.assert_array_equal(packed[n + 7 :, -1], np.tile(w, 3))  # row i % n is the source
    _, source = MungeAugmenter(size_factor=3).generate(X, X, ["numeric"] * 5, random_state=0, return_source=True)
    np.testing.assert_array_equal(source, np.arange(3 * n) % n)


class _NoSourceAugmenter:
    def generate(self, X, Z, kinds, random_state=None, verbose=0):
        return X + 0.01


def test_synthetic_rows_without_a_source_get_the_mean_weight(data):
    X, y, w = data
    teacher = LogisticRegression().fit(X, y)
    packed = _packed(DistilledClassifier(teacher, **dict(TINY, augment=_NoSourceAugmenter())), X, y, sample_weight=w)
    np.testing.assert_allclose(packed[len(y) :, -1], w.mean(), rtol=1e-6)


@pytest.mark.parametrize(
    "sample_weight, match",
    [(-np.ones(120), "Negative values"), (np.ones(119), "sample_weight.shape"), (np.zeros(120), "non-zero")],
)
def test_bad_sample_weight_is_a_clear_error(data, sample_weight, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=match):
        DistilledClassifier(LogisticRegression().fit(X, y), **TINY).fit(X, y, sample_weight=sample_weight)


def test_class_weight_multiplies_sample_weight(data):
    X, y, w = data
    teacher = LogisticRegression().fit(X, y)
    y3 = np.where(np.arange(len(y)) % 5 == 0, 2, y)  # an imbalanced third class
    teacher3 = LogisticRegression().fit(X, y3)
    packed = _packed(DistilledClassifier(teacher3, class_weight="balanced", **TINY), X, y3)
    np.testing.assert_allclose(packed[:, -1], compute_sample_weight("balanced", y3), rtol=1e-6)
    packed = _packed(DistilledClassifier(teacher, class_weight={0: 2.0}, **TINY), X, y, sample_weight=w)
    np.testing.assert_allclose(packed[:, -1], np.where(y == 0, 2.0, 1.0) * w, rtol=1e-6)
    with pytest.raises(ValueError, match="class_weight"):
        DistilledClassifier(teacher, class_weight="balanced", **dict(TINY, alpha=1.0)).fit(X, None)
    with pytest.raises(ValueError, match="class_weight"):
        DistilledClassifier(teacher, class_weight="even", **TINY).fit(X, y)


def test_sample_weight_through_a_pipeline_without_routing(data):
    X, y, w = data
    teacher = LogisticRegression().fit(X, y)
    pipe = make_pipeline(FunctionTransformer(), DistilledClassifier(teacher, **TINY))
    pipe.fit(X, y, distilledclassifier__sample_weight=w)
    direct = DistilledClassifier(teacher, **TINY).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(X), atol=1e-6)


# -- metadata routing -----------------------------------------------------------


class RecordingLogisticRegression(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        self.seen_weight_ = None if sample_weight is None else np.asarray(sample_weight).copy()
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def test_routing_grid_search_routes_weights_to_distiller_and_teacher(data, routing):
    X, y, w = data
    teacher = RecordingLogisticRegression().set_fit_request(sample_weight=True)
    est = DistilledClassifier(teacher, **TINY).set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
    gs = GridSearchCV(est, {"alpha": [0.3, 0.9]}, cv=2).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(gs.best_estimator_.teacher_.seen_weight_, w)  # refit on all rows
    direct = DistilledClassifier(
        RecordingLogisticRegression().set_fit_request(sample_weight=True), **dict(TINY, alpha=gs.best_params_["alpha"])
    ).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(gs.predict_proba(X), direct.predict_proba(X), atol=1e-6)


def test_routing_teacher_that_does_not_request_weights_is_fit_unweighted(data, routing):
    X, y, w = data
    teacher = RecordingLogisticRegression().set_fit_request(sample_weight=False)
    est = DistilledClassifier(teacher, **TINY).fit(X, y, sample_weight=w)
    assert est.teacher_.seen_weight_ is None
    packed = _packed(DistilledClassifier(teacher, **TINY), X, y, sample_weight=w)
    np.testing.assert_array_equal(packed[:, -1], w)  # the distiller still uses them


def test_routing_unset_teacher_request_raises(data, routing):
    X, y, w = data
    with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
        DistilledClassifier(LogisticRegression(), **TINY).fit(X, y, sample_weight=w)
    # a fitted teacher is never fit: nothing to request
    DistilledClassifier(LogisticRegression().fit(X, y), **TINY).fit(X, y, sample_weight=w)


def test_routing_cross_validate_and_pipeline(data, routing):
    X, y, w = data
    teacher = LogisticRegression().fit(X, y)
    est = DistilledClassifier(teacher, **TINY).set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
    res = cross_validate(est, X, y, cv=2, params={"sample_weight": w}, return_estimator=True)
    assert len(res["estimator"]) == 2
    pipe = Pipeline([("id", FunctionTransformer()), ("d", est)]).fit(X, y, sample_weight=w)
    direct = DistilledClassifier(teacher, **TINY).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(X), atol=1e-6)
    unrequested = DistilledClassifier(teacher, **TINY).set_score_request(sample_weight=False)
    with pytest.raises(UnsetMetadataPassedError):
        cross_validate(unrequested, X, y, cv=2, params={"sample_weight": w})


def test_routing_other_fit_params_to_a_pipeline_teacher(data, routing):
    X, y, w = data
    teacher = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                            RecordingLogisticRegression().set_fit_request(sample_weight=True))
    est = DistilledClassifier(teacher, **TINY).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(est.teacher_[-1].seen_weight_, w)
    router = DistilledClassifier([teacher, LogisticRegression().fit(X, y)]).get_metadata_routing()
    assert "teacher_0" in str(router) and "teacher_1" not in str(router)  # the fitted one is never fit
