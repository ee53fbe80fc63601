"""The student's default encoding: PiecewiseLinearEncoder and make_default_preprocessor."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import QuantileTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdistill import PiecewiseLinearEncoder, infer_column_kinds, make_default_preprocessor
from skdistill._preprocessing import auto_n_bins, sizing_width


def _reference(X, edges):
    """The encoding written out per column and bin, in float64."""
    out = []
    for j, e in enumerate(edges):
        for t in range(len(e) - 1):
            out.append(np.clip((X[:, j] - e[t]) / (e[t + 1] - e[t]), 0.0, 1.0))
    return np.column_stack(out)


def test_encoding_is_piecewise_linear_over_quantile_bins():
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=500), rng.exponential(size=500) * 1000])
    enc = PiecewiseLinearEncoder(n_bins=4).fit(X)
    for j in range(2):
        np.testing.assert_allclose(enc.bin_edges_[j], np.quantile(X[:, j], [0, 0.25, 0.5, 0.75, 1], method="inverted_cdf"))
    Z = enc.transform(X)
    assert Z.dtype == np.float32 and Z.shape == (500, 8)
    np.testing.assert_allclose(Z, _reference(X, enc.bin_edges_), atol=1e-6)
    # a value in the second bin: 1 for the first bin, its position in the second, 0 above
    x = enc.bin_edges_[0][1] + 0.25 * (enc.bin_edges_[0][2] - enc.bin_edges_[0][1])
    np.testing.assert_allclose(enc.transform([[x, X[0, 1]]])[0, :4], [1.0, 0.25, 0.0, 0.0], atol=1e-6)


def test_values_outside_the_training_range_are_clipped():
    X = np.arange(100, dtype=float).reshape(-1, 1)
    enc = PiecewiseLinearEncoder(n_bins=5).fit(X)
    np.testing.assert_array_equal(enc.transform([[-1e9]]), np.zeros((1, 5)))
    np.testing.assert_array_equal(enc.transform([[1e9]]), np.ones((1, 5)))


def test_few_distinct_values_get_fewer_bins_and_constants_one():
    X = np.column_stack([np.tile([0.0, 1.0], 50), np.full(100, 7.0), np.tile([1.0, 2.0, 3.0, 4.0], 25)])
    enc = PiecewiseLinearEncoder(n_bins=16).fit(X)
    assert [len(e) - 1 for e in enc.bin_edges_] == [1, 1, 3]
    Z = enc.transform(X)
    np.testing.assert_array_equal(Z[:, 0], X[:, 0])  # a binary column stays itself
    np.testing.assert_array_equal(Z[:, 1], 0.0)  # a constant column: 0 at its value
    assert list(enc.get_feature_names_out(["a", "b", "c"])) == ["a_bin0", "b_bin0", "c_bin0", "c_bin1", "c_bin2"]


def test_precision_of_large_values_with_narrow_bins():
    # float32 alone cannot tell 1e9 + 0.1 from 1e9; the encoding centres in float64 first
    X = 1e9 + np.linspace(0.0, 1.0, 101).reshape(-1, 1)
    enc = PiecewiseLinearEncoder(n_bins=10).fit(X)
    np.testing.assert_allclose(enc.transform(X), _reference(X, enc.bin_edges_), atol=1e-5)


def test_subsample_bounds_the_rows_used_for_the_edges():
    X = np.random.RandomState(0).normal(size=(1000, 2))
    a = PiecewiseLinearEncoder(subsample=200, random_state=0).fit(X)
    b = PiecewiseLinearEncoder(subsample=200, random_state=1).fit(X)
    assert not np.allclose(a.bin_edges_[0], b.bin_edges_[0])
    c = PiecewiseLinearEncoder().fit(X)
    np.testing.assert_allclose(c.bin_edges_[0], np.quantile(X[:, 0], np.linspace(0, 1, 9), method="inverted_cdf"))


def test_nan_is_refused_the_default_preprocessor_imputes_first():
    X = np.array([[1.0], [np.nan], [3.0]])
    with pytest.raises(ValueError, match="NaN"):
        PiecewiseLinearEncoder().fit(X)
    pre = make_default_preprocessor(["numeric"], 3).fit(X)
    Z = pre.transform(X)
    assert np.isfinite(Z).all()
    assert Z.shape[1] == 2 + 1  # two bins (edges 1, 2, 3) and the missing indicator


@parametrize_with_checks([PiecewiseLinearEncoder()], expected_failed_checks=lambda est: {
    "check_transformer_preserve_dtypes": "the output is float32 by design (the student's input)",
})
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_auto_bins_keep_the_encoded_width_bounded():
    assert auto_n_bins(5) == 16 and auto_n_bins(32) == 16
    assert auto_n_bins(56) == 9 and auto_n_bins(1000) == 4
    X = np.random.RandomState(0).normal(size=(300, 64))
    pre = make_default_preprocessor(infer_column_kinds(X), len(X)).fit(X)
    assert pre.transform(X).shape[1] == 64 * 8
    # the network is sized from one value per column, not from the bins
    assert sizing_width(pre, 64 * 8) == 64


def test_quantile_encoding_is_still_available():
    X = pd.DataFrame({"a": np.random.RandomState(0).normal(size=200)})
    pre = make_default_preprocessor(infer_column_kinds(X), len(X), numeric_encoding="quantile").fit(X)
    steps = pre.named_transformers_["numeric"].named_steps
    assert isinstance(steps["quantile"], QuantileTransformer)
    with pytest.raises(ValueError, match="numeric_encoding"):
        make_default_preprocessor(["numeric"], 10, numeric_encoding="log")


def test_public_functions_validate_their_arguments():
    with pytest.raises(ValueError, match="n_samples"):
        make_default_preprocessor(["numeric"], 0)
    with pytest.raises(ValueError, match="n_bins"):
        make_default_preprocessor(["numeric"], 10, n_bins=0)
    with pytest.raises(TypeError, match="random_state"):
        make_default_preprocessor(["numeric"], 10, random_state="seed")
    with pytest.raises(ValueError, match=r"kinds must be 'numeric' or 'categorical'; got \['text'\]"):
        make_default_preprocessor(["numeric", "text"], 10)
    with pytest.raises(TypeError, match="strict"):
        infer_column_kinds(np.zeros((3, 2)), strict="yes")
    with pytest.raises(TypeError, match="'X' parameter"):
        infer_column_kinds(3.0)
