"""A user ``preprocessor=`` takes whatever it takes; the column checks are the default encoder's.

The data has a datetime column and a numeric-looking text column with stray
``"unknown"`` values: both are handled by the user's own ColumnTransformer
(the student's side) and by the teacher's pipeline, so neither is refused.
MUNGE still runs: numeric columns are perturbed, every other column takes
the value of a neighbour.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from skdistill import DistilledClassifier, DistilledRegressor, MungeAugmenter, infer_column_kinds

from .conftest import FAST


def _days(frame):
    """Datetimes as days since 2020-01-01 (NaT stays missing)."""
    return frame.apply(lambda c: (c - pd.Timestamp("2020-01-01")).dt.days).to_numpy(dtype=float)


def _numbers(frame):
    """Text as numbers; what does not parse ("unknown") is missing."""
    return frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


def _encoder():
    return ColumnTransformer(
        [
            ("amount", "passthrough", ["amount"]),
            ("signup", make_pipeline(FunctionTransformer(_days), SimpleImputer()), ["signup"]),
            ("size", make_pipeline(FunctionTransformer(_numbers), SimpleImputer()), ["size"]),
            ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ],
        sparse_threshold=0.0,
    )


@pytest.fixture
def frame():
    rng = np.random.RandomState(0)
    n = 300
    size = rng.uniform(1, 50, size=n).round(1)
    text = pd.Series(size.astype(str), dtype=object)
    text[rng.rand(n) < 0.03] = "unknown"  # a numeric-looking column with a stray "unknown"
    X = pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "signup": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.randint(0, 1000, size=n), unit="D"),
            "size": text,
            "plan": pd.Categorical(rng.choice(["basic", "pro"], size=n)),
        }
    )
    days = (X["signup"] - pd.Timestamp("2020-01-01")).dt.days.to_numpy()
    score = X["amount"].to_numpy() + (days - 500) / 300 + (size - 25) / 15
    return X, score


def _preprocessor():
    return make_pipeline(_encoder(), StandardScaler())


def test_default_encoder_still_refuses_these_columns_and_says_what_to_do(frame):
    X, score = frame
    y = score > 0
    teacher = make_pipeline(_encoder(), HistGradientBoostingClassifier(max_iter=20)).fit(X, y)
    with pytest.raises(ValueError, match="(?s)'signup'.*preprocessor="):
        DistilledClassifier(teacher, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="(?s)'size'.*unknown.*preprocessor="):
        DistilledClassifier(teacher, **FAST).fit(X.drop(columns="signup"), y)


@pytest.mark.parametrize("augment", [None, "munge"])
def test_classifier_with_user_preprocessor(frame, augment):
    X, score = frame
    y = np.where(score > 0, "churn", "stay")
    teacher = make_pipeline(_encoder(), HistGradientBoostingClassifier(max_iter=30, random_state=0))
    est = DistilledClassifier(
        teacher,
        preprocessor=_preprocessor(),
        **{**FAST, "augment": augment, "max_epochs": 20},
    ).fit(X, y)
    assert est.column_kinds_ == ["numeric", "categorical", "categorical", "categorical"]
    n_synthetic = 0 if augment is None else MungeAugmenter().n_synthetic(len(X))
    assert est.n_transfer_ == len(X) + n_synthetic
    agreement = np.mean(est.predict(X) == est.teacher_.predict(X))
    assert agreement > 0.85
    new = X.iloc[:5].assign(size=["unknown", "3.5", "unknown", "40", "12"])
    assert set(est.predict(new)) <= {"churn", "stay"}


@pytest.mark.parametrize("augment", [None, "munge"])
def test_regressor_with_user_preprocessor(frame, augment):
    X, y = frame
    teacher = make_pipeline(_encoder(), HistGradientBoostingRegressor(max_iter=30, random_state=0))
    est = DistilledRegressor(
        teacher, preprocessor=_preprocessor(), **{**FAST, "augment": augment, "max_epochs": 30}
    ).fit(X, y)
    assert est.score(X, est.teacher_.predict(X)) > 0.6


def test_munge_swaps_the_columns_it_cannot_perturb(frame):
    X, _ = frame
    kinds = infer_column_kinds(X, strict=False)
    assert kinds == ["numeric", "categorical", "categorical", "categorical"]
    Z = _preprocessor().fit_transform(X)
    synth = MungeAugmenter(size_factor=3).generate(X, Z, kinds, random_state=0)
    assert list(synth.dtypes) == list(X.dtypes)
    # datetimes and text only take values that occur in the data: what the
    # teacher's pipeline and the user's preprocessor already accept
    assert set(synth["signup"]) <= set(X["signup"])
    assert set(synth["size"]) <= set(X["size"])
    assert (synth["size"] == "unknown").any()
    # numeric columns are perturbed
    assert not set(synth["amount"]) <= set(X["amount"])
    _preprocessor().fit(X).transform(synth)  # the user's encoder takes them


def test_lenient_kinds_never_refuse():
    X = np.array([[str(i), "a"] for i in range(20)] + [["unknown", "b"]], dtype=object)
    with pytest.raises(ValueError, match="cannot be parsed"):
        infer_column_kinds(X)
    assert infer_column_kinds(X, strict=False) == ["categorical", "categorical"]
    assert infer_column_kinds(np.zeros((3, 2)), strict=False) == ["numeric", "numeric"]
    frame = pd.DataFrame({"z": [1j, 2j], "b": [True, False], "i": [1, 2]})
    assert infer_column_kinds(frame, strict=False) == ["categorical", "categorical", "numeric"]
