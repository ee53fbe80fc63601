"""DistilledRegressor: the same contract as the classifier, for regression."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.datasets import make_regression
from sklearn.ensemble import (
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    StackingRegressor,
)
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.utils.validation import check_is_fitted

from skdistill import DistilledRegressor, regression_distillation_loss

from .conftest import FAST


@pytest.fixture
def reg_data():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    return X, y


CALLS = []


class CountingRegressor(RegressorMixin, BaseEstimator):
    def __init__(self, inner=None):
        self.inner = inner

    def fit(self, X, y):
        self.inner_ = clone(self.inner).fit(X, y)
        return self

    def predict(self, X):
        CALLS.append(len(X))
        return self.inner_.predict(X)


def test_loss_mixes_teacher_and_truth():
    pred = torch.tensor([[0.0], [1.0]])
    teacher = torch.tensor([[1.0], [1.0]])
    y = torch.tensor([[0.0], [3.0]])
    has_y = torch.tensor([1.0, 1.0])
    loss = regression_distillation_loss(pred, teacher, y, has_y, alpha=0.25)
    expected = 0.25 * np.mean([1.0, 0.0]) + 0.75 * np.mean([0.0, 4.0])
    assert float(loss) == pytest.approx(expected)
    # rows without y only feed the teacher term
    only_teacher = regression_distillation_loss(pred, teacher, y, torch.zeros(2), alpha=0.25)
    assert float(only_teacher) == pytest.approx(0.25 * 0.5)


@pytest.mark.parametrize(
    "teacher",
    [
        RandomForestRegressor(n_estimators=20, random_state=0),
        HistGradientBoostingRegressor(max_iter=30),
        StackingRegressor([("ridge", Ridge()), ("rf", RandomForestRegressor(10, random_state=0))]),
    ],
    ids=lambda t: type(t).__name__,
)
def test_sklearn_regressor_teachers(reg_data, teacher):
    X, y = reg_data
    fitted = clone(teacher).fit(X, y)
    est = DistilledRegressor(fitted, **{**FAST, "max_epochs": 40}).fit(X, y)
    pred = est.predict(X)
    assert pred.shape == (len(X),)
    assert np.corrcoef(pred, fitted.predict(X))[0, 1] > 0.9


def test_lightgbm_regressor_teacher(reg_data):
    lgbm = pytest.importorskip("lightgbm")
    X, y = reg_data
    teacher = lgbm.LGBMRegressor(n_estimators=30, verbose=-1).fit(X, y)
    est = DistilledRegressor(teacher, **{**FAST, "max_epochs": 40}).fit(X, y)
    assert np.corrcoef(est.predict(X), teacher.predict(X))[0, 1] > 0.9


def test_multi_output(reg_data):
    X, y = reg_data
    Y = np.column_stack([y, -2 * y + 5])
    teacher = RandomForestRegressor(20, random_state=0).fit(X, Y)
    est = DistilledRegressor(teacher, **{**FAST, "max_epochs": 40}).fit(X, Y)
    pred = est.predict(X)
    assert pred.shape == (len(X), 2)
    assert est.target_mean_.shape == (2,)
    assert np.corrcoef(pred[:, 1], Y[:, 1])[0, 1] > 0.9


def test_targets_standardized_and_mapped_back(reg_data):
    X, y = reg_data
    y_big = 1e6 + 1e4 * y
    est = DistilledRegressor(LinearRegression(), **{**FAST, "max_epochs": 40}).fit(X, y_big)
    assert est.target_mean_[0] == pytest.approx(y_big.mean())
    assert est.score(X, y_big) > 0.9


def test_torch_module_teacher(reg_data):
    X, y = reg_data
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(np.linalg.lstsq(X, y, rcond=None)[0][None], dtype=torch.float32))
        net[0].bias.zero_()
    est = DistilledRegressor(net, alpha=1.0, **{**FAST, "max_epochs": 40}).fit(X)
    with torch.no_grad():
        ref = net(torch.tensor(X, dtype=torch.float32)).numpy().ravel()
    assert np.corrcoef(est.predict(X), ref)[0, 1] > 0.95


def test_alpha_one_allows_y_none_and_alpha_zero_requires_y(reg_data):
    X, y = reg_data
    teacher = Ridge().fit(X, y)
    assert DistilledRegressor(teacher, alpha=1.0, **FAST).fit(X).predict(X).shape == (len(X),)
    with pytest.raises(ValueError, match="requires y"):
        DistilledRegressor(teacher, alpha=0.0, **FAST).fit(X)


def test_fitted_teacher_shared_unfitted_cloned(reg_data):
    X, y = reg_data
    fitted = Ridge().fit(X, y)
    assert clone(DistilledRegressor(fitted)).teacher is fitted
    unfitted = Ridge()
    est = DistilledRegressor(unfitted, **FAST).fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(unfitted)
    assert est.teacher_ is not unfitted


def test_grid_search_queries_prefit_teacher_at_most_six_times(reg_data):
    X, y = reg_data
    CALLS.clear()
    teacher = CountingRegressor(Ridge()).fit(X, y)
    search = GridSearchCV(
        DistilledRegressor(teacher, max_epochs=2, hidden_layer_sizes=(8,), augment=None),
        {"alpha": [0.3, 0.6, 0.9], "lr": [1e-3, 1e-2, 1e-1]},
        cv=5,
    ).fit(X, y)
    assert search.best_estimator_.teacher is teacher
    assert len(CALLS) <= 6


def test_teacher_output_count_must_match_y(reg_data):
    X, y = reg_data
    teacher = Ridge().fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="target"):
        DistilledRegressor(teacher, **FAST).fit(X, y)


def test_augmentation_and_pickle(reg_data):
    X, y = reg_data
    teacher = RandomForestRegressor(20, random_state=0).fit(X, y)
    est = DistilledRegressor(teacher, **{**FAST, "augment": "munge"}).fit(X, y)
    assert est.n_transfer_ > len(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), est.predict(X))


def test_auto_max_epochs_is_thirty(reg_data):
    X, y = reg_data
    fast = {k: v for k, v in FAST.items() if k != "max_epochs"}
    est = DistilledRegressor(LinearRegression(), **{**fast, "hidden_layer_sizes": (4,)}).fit(X[:60], y[:60])
    assert est.max_epochs == "auto"
    assert len(est.student_.history) == DistilledRegressor.AUTO_MAX_EPOCHS == 30
    with pytest.raises(ValueError, match="max_epochs"):
        DistilledRegressor(LinearRegression(), max_epochs="many").fit(X, y)

