"""MungeAugmenter, tested directly, and the custom-augmenter protocol."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from skdistill import DistilledClassifier, MungeAugmenter
from skdistill._augment import generate_rows

from ._recording import RecordTargets
from .conftest import FAST


def _pairs(n):
    """Rows 2k and 2k+1 are each other's nearest neighbour in this encoding."""
    return np.repeat(np.arange(n // 2) * 100.0, 2)[:, None] + np.tile([0.0, 1.0], n // 2)[:, None]


def test_missing_values_stay_missing_and_nothing_becomes_missing():
    # rows (0, 1) and (2, 3) are neighbour pairs; every cell is swapped (p=1)
    X = np.array([[np.nan, 1.0], [1.0, np.nan], [2.0, 5.0], [4.0, 9.0]])
    out = MungeAugmenter(size_factor=3, p=1.0).generate(X, _pairs(4), ["numeric"] * 2, random_state=0)
    source = np.tile(X, (3, 1))  # row i comes from real row i % n
    np.testing.assert_array_equal(np.isnan(out), np.isnan(source))
    # a present value whose neighbour is missing is kept as it is
    np.testing.assert_array_equal(out[0::4, 1], np.ones(3))
    np.testing.assert_array_equal(out[1::4, 0], np.ones(3))
    # where both are present the value was swapped (drawn around the neighbour)
    assert not np.array_equal(out[2::4], source[2::4])


def test_missing_values_in_a_frame_of_every_kind():
    n = 40
    rng = np.random.RandomState(0)
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "nullable": pd.array(rng.randint(0, 5, size=n), dtype="Int64"),
            "text": rng.choice(["a", "b", "c"], size=n).astype(object),
            "cat": pd.Categorical(rng.choice(["u", "v"], size=n)),
        }
    )
    missing = rng.rand(n, 4) < 0.25
    for j, col in enumerate(X.columns):
        X.loc[missing[:, j], col] = None if col != "num" else np.nan
    kinds = ["numeric", "numeric", "categorical", "categorical"]
    out = MungeAugmenter(size_factor=2, p=1.0).generate(X, rng.normal(size=(n, 3)), kinds, random_state=0)
    assert list(out.columns) == list(X.columns)
    assert out.dtypes.to_dict() == X.dtypes.to_dict()
    np.testing.assert_array_equal(out.isna().to_numpy(), np.tile(missing, (2, 1)))
    # the nullable integer column got noise but stays integer within the range seen
    got = out["nullable"].dropna().to_numpy(dtype=float)
    assert np.all(got == np.round(got)) and got.min() >= 0 and got.max() <= 4


def test_p_zero_copies_the_rows_and_p_sets_the_swap_rate():
    n = 400
    X = np.column_stack([np.arange(n, dtype=float), np.arange(n) % 7])
    Z = _pairs(n)
    same = MungeAugmenter(size_factor=2, p=0.0).generate(X, Z, ["numeric", "categorical"], random_state=0)
    np.testing.assert_array_equal(same, np.tile(X, (2, 1)))
    out = MungeAugmenter(size_factor=5, p=0.3).generate(X, Z, ["numeric", "categorical"], random_state=0)
    changed = np.mean(out[:, 0] != np.tile(X[:, 0], 5))
    assert 0.26 < changed < 0.34


def test_categorical_swap_takes_the_neighbours_value():
    X = np.array([["a", "x"], ["b", "y"], ["c", "z"], ["d", "w"]], dtype=object)
    out = MungeAugmenter(size_factor=1, p=1.0).generate(X, _pairs(4), ["categorical"] * 2, random_state=0)
    np.testing.assert_array_equal(out, X[[1, 0, 3, 2]])


@pytest.mark.parametrize("s", [1.0, 4.0])
def test_s_sets_the_spread_around_the_neighbour(s):
    n = 2000
    rng = np.random.RandomState(1)
    a = rng.uniform(0, 1, size=n)
    X = np.column_stack([np.where(np.arange(n) % 2, a + 1.0, a)])  # pairs one apart
    Z = _pairs(n)
    out = MungeAugmenter(size_factor=5, p=1.0, s=s).generate(X, Z, ["numeric"], random_state=0)
    partner = np.tile(np.arange(n) ^ 1, 5)
    z = (out[:, 0] - X[partner, 0]) / np.abs(np.tile(X[:, 0], 5) - X[partner, 0])
    assert abs(z.mean()) < 0.05
    assert abs(z.std() - 1.0 / s) < 0.05 / s


def test_integer_columns_stay_integers_within_the_observed_range():
    rng = np.random.RandomState(0)
    n = 200
    X_int = rng.randint(3, 9, size=(n, 2))
    out = MungeAugmenter(size_factor=4, p=1.0, s=0.2).generate(X_int, rng.normal(size=(n, 2)), ["numeric"] * 2, random_state=0)
    assert out.dtype == X_int.dtype
    assert out.min() >= 3 and out.max() <= 8
    frame = pd.DataFrame({"count": X_int[:, 0], "as_float": X_int[:, 1].astype(float), "real": rng.normal(size=n)})
    out = MungeAugmenter(size_factor=4, p=1.0, s=0.2).generate(frame, rng.normal(size=(n, 2)), ["numeric"] * 3, random_state=0)
    assert out["count"].dtype == np.int64
    for col in ("count", "as_float"):
        assert np.all(out[col] == np.round(out[col]))
        assert out[col].min() >= 3 and out[col].max() <= 8
    # a real-valued column is not rounded
    assert not np.all(out["real"] == np.round(out["real"]))


def test_size_cap():
    n = 100
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 3))
    aug = MungeAugmenter(size_factor=10, max_rows=250)
    assert aug.n_synthetic(n) == 250
    assert aug.n_synthetic(10) == 100
    assert MungeAugmenter(size_factor=10, max_rows=None).n_synthetic(10**6) == 10**7
    out = aug.generate(X, X, ["numeric"] * 3, random_state=0)
    assert out.shape == (250, 3)
    # p=0: each capped row is a copy of a real row, drawn across the whole set
    copies = MungeAugmenter(size_factor=10, max_rows=250, p=0.0).generate(X, X, ["numeric"] * 3, random_state=0)
    source = [int(np.flatnonzero((X == row).all(axis=1))[0]) for row in copies]
    assert len(set(source)) > 80


def test_reproducible_and_needs_two_rows():
    X = np.random.RandomState(0).normal(size=(30, 2))
    a = MungeAugmenter(size_factor=2).generate(X, X, ["numeric"] * 2, random_state=3)
    b = MungeAugmenter(size_factor=2).generate(X, X, ["numeric"] * 2, random_state=3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="at least 2 rows"):
        MungeAugmenter().generate(X[:1], X[:1], ["numeric"] * 2, random_state=0)


class DocumentedProtocol:
    """An augmenter written to the documented ``generate(X, Z, kinds, random_state)``."""

    def __init__(self):
        self.calls = []

    def generate(self, X, Z, kinds, random_state):
        self.calls.append((X.shape, Z.shape, list(kinds), random_state))
        rng = np.random.RandomState(random_state)
        self.rows_ = X + rng.normal(scale=0.1, size=X.shape)
        return self.rows_


class WithVerbose(DocumentedProtocol):
    def generate(self, X, Z, kinds, random_state, verbose=0):
        self.verbose = verbose
        return super().generate(X, Z, kinds, random_state)


class CountingTeacher(LogisticRegression):
    def predict_proba(self, X):
        self.rows_ = getattr(self, "rows_", 0) + X.shape[0]
        return super().predict_proba(X)


@pytest.mark.parametrize("augmenter_class", [DocumentedProtocol, WithVerbose])
def test_custom_augmenter_object(binary_data, augmenter_class):
    X, y = binary_data
    teacher = CountingTeacher().fit(X, y)
    augmenter = augmenter_class()
    record = RecordTargets()
    clf = DistilledClassifier(
        teacher, **{**FAST, "augment": augmenter, "verbose": 0, "callbacks": [("record", record)]}
    ).fit(X, y)
    assert len(augmenter.calls) == 1
    x_shape, z_shape, kinds, seed = augmenter.calls[0]
    assert x_shape == X.shape and z_shape[0] == len(X)
    assert kinds == ["numeric"] * X.shape[1]
    assert isinstance(seed, (int, np.integer))
    # the teacher labelled the real rows and the synthetic ones, once each ...
    assert teacher.rows_ == 2 * len(X)
    assert clf.n_transfer_ == 2 * len(X)
    # ... and the student trains on the rows the augmenter returned, with the
    # teacher's log-probabilities of them as their targets and no label
    targets = record.targets_  # [logits, label, weight]
    synthetic = targets[len(X):]
    expected = np.log(LogisticRegression.predict_proba(teacher, augmenter.rows_))
    np.testing.assert_allclose(synthetic[:, :2], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(synthetic[:, 2], -1)
    np.testing.assert_array_equal(targets[: len(X), 2], y)
    assert np.mean(clf.predict(X) == teacher.predict(X)) > 0.8
    if augmenter_class is WithVerbose:
        assert augmenter.verbose == 0


def test_generate_rows_passes_verbose_only_when_accepted():
    X = np.random.RandomState(0).normal(size=(10, 2))
    documented = DocumentedProtocol()
    generate_rows(documented, X, X, ["numeric"] * 2, random_state=0, verbose=2)
    assert len(documented.calls) == 1
    with_verbose = WithVerbose()
    generate_rows(with_verbose, X, X, ["numeric"] * 2, random_state=0, verbose=2)
    assert with_verbose.verbose == 2


def test_synthetic_rows_are_cached_per_encoding_space(binary_data):
    from sklearn.linear_model import LogisticRegression

    from skdistill import DistilledClassifier, MungeAugmenter

    calls = []

    class Counting(MungeAugmenter):
        def generate(self, X, Z, kinds, random_state=None, verbose=0):
            calls.append(Z.shape[1])
            return super().generate(X, Z, kinds, random_state=random_state, verbose=verbose)

    X, y = binary_data
    teacher = LogisticRegression().fit(X, y)
    common = dict(augment=Counting(size_factor=2), max_epochs=1, random_state=0)
    DistilledClassifier(teacher, **common).fit(X, y)
    DistilledClassifier(teacher, **common).fit(X, y)  # same data and encoding: cached
    assert len(calls) == 1
    DistilledClassifier(teacher, numeric_encoding="quantile", **common).fit(X, y)  # neighbours in another space
    assert len(calls) == 2 and calls[0] > calls[1] == X.shape[1]
