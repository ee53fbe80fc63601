"""The student's own input preprocessing.

The teacher always receives X as the user passed it. The student sees X
through a preprocessor fitted in ``fit``:

* numeric columns: median imputation, a missing-value indicator for columns
  that had missing values at fit time, and a piecewise-linear encoding over
  quantile bins (:class:`PiecewiseLinearEncoder`, Gorishniy, Rubachev &
  Babenko 2022): each column becomes a few values in [0, 1], one per bin,
  robust to heavy tails and outliers (values outside the range seen at fit
  are clipped to its ends) and cheap to compute (a handful of dense
  operations in numpy, torch and ONNX alike). Students fitted by skdistill
  0.1 used a quantile transform to a normal distribution instead
  (``numeric_encoding="quantile"``), still supported;
* categorical columns (pandas ``category``, object, string and bool): missing
  values become their own category, then one-hot encoding; categories unseen
  at fit time encode as all zeros, rare ones are grouped.

Users may pass any scikit-learn transformer instead (``preprocessor=``).
"""

import numpy as np
import pandas as pd
import numbers

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, QuantileTransformer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from ._checks import check_unique_columns

NUMERIC = "numeric"
CATEGORICAL = "categorical"
MISSING_CATEGORY = "__missing__"

#: Above this share of parseable values an object column is taken as numeric,
#: and values that do not parse are reported as an error.
_NUMERIC_SHARE = 0.9


def _column_name(X, j):
    if isinstance(X, pd.DataFrame):
        return repr(X.columns[j])
    return f"{j} (position)"


def _object_kind(values, name):
    """Kind of an object/string column, or a ValueError naming it."""
    present = values[~pd.isna(values)]
    if len(present) == 0:
        return NUMERIC
    for v in present[:1000]:
        if not isinstance(v, (str, bytes, bool, np.bool_, int, float, np.integer, np.floating)):
            raise ValueError(
                f"column {name} holds values of type {type(v).__name__} ({v!r}) that the "
                "student's encoder cannot handle; use numbers, strings, bools or pandas "
                "categories, or pass your own preprocessor="
            )
    parsed = pd.to_numeric(pd.Series(present), errors="coerce")
    ok = parsed.notna().to_numpy()
    if ok.all():
        return NUMERIC
    if ok.mean() >= _NUMERIC_SHARE:
        bad = pd.Series(present)[~ok].unique()[:5]
        raise ValueError(
            f"column {name} looks numeric but has values that cannot be parsed as numbers: "
            f"{list(bad)}; clean them, make the column categorical, or pass your own "
            "preprocessor= that encodes it"
        )
    return CATEGORICAL


def _lenient_kinds(X):
    """Kinds for a user preprocessor: numeric dtypes, and everything else."""
    if isinstance(X, pd.DataFrame):
        dtypes = list(X.dtypes)
    else:
        dtypes = [np.asarray(X).dtype] * X.shape[1]
    return [
        NUMERIC
        if pd.api.types.is_numeric_dtype(d)
        and not pd.api.types.is_bool_dtype(d)
        and not pd.api.types.is_complex_dtype(d)
        and not isinstance(d, pd.CategoricalDtype)
        else CATEGORICAL
        for d in dtypes
    ]


@validate_params({"X": ["array-like"], "strict": ["boolean"]}, prefer_skip_nested_validation=True)
def infer_column_kinds(X, strict=True):
    """``"numeric"`` or ``"categorical"`` for each column of X.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_samples, n_features)
    strict : bool, default=True
        The checks of the default student encoder
        (:func:`make_default_preprocessor`): raise ValueError naming a column
        it cannot handle (datetimes, complex numbers, nested objects,
        numeric-looking text with unparseable values). With
        ``strict=False`` (a user ``preprocessor=``, which takes whatever it
        takes) nothing is refused: columns of a numeric dtype are
        ``"numeric"``, all others ``"categorical"``, which is how MUNGE
        treats them (numeric ones are perturbed, the others take a
        neighbour's value).

    Returns
    -------
    kinds : list of str

    Raises
    ------
    ValueError
        For duplicate column names, and (``strict=True``) for a column the
        default encoder cannot handle.

    Examples
    --------
    >>> import pandas as pd
    >>> from skdistill import infer_column_kinds
    >>> infer_column_kinds(pd.DataFrame({"age": [30, 41], "city": ["paris", "rome"]}))
    ['numeric', 'categorical']
    """
    check_unique_columns(X)
    if not strict:
        return _lenient_kinds(X)
    kinds = []
    if isinstance(X, pd.DataFrame):
        for j in range(X.shape[1]):
            col = X.iloc[:, j]
            dtype = col.dtype
            name = _column_name(X, j)
            if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
                kinds.append(CATEGORICAL)
            elif pd.api.types.is_complex_dtype(dtype):
                raise ValueError(f"column {name} is complex-valued; the student's encoder cannot handle it")
            elif pd.api.types.is_numeric_dtype(dtype):
                kinds.append(NUMERIC)
            elif pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
                raise ValueError(
                    f"column {name} has dtype {dtype}, which the student's default encoder "
                    "cannot handle; convert it to numbers (e.g. elapsed seconds) first, or "
                    "pass your own preprocessor= that encodes it"
                )
            elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
                kinds.append(_object_kind(col.to_numpy(dtype=object), name))
            else:
                raise ValueError(
                    f"column {name} has dtype {dtype}, which the student's encoder cannot handle"
                )
        return kinds
    X = np.asarray(X)
    if X.dtype.kind in "biuf":
        return [NUMERIC] * X.shape[1]
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported")
    return [_object_kind(X[:, j], _column_name(X, j)) for j in range(X.shape[1])]


def _as_categories(X):
    """Cast categorical columns to strings, missing values to a category."""
    frame = pd.DataFrame(X).astype(object)
    frame = frame.where(~frame.isna(), MISSING_CATEGORY)
    return frame.astype(str).to_numpy(dtype=object)


def _as_float(X):
    """Numeric columns (possibly object dtype) as float64."""
    if isinstance(X, pd.DataFrame):
        out = X.apply(pd.to_numeric, errors="coerce")
        bad = (out.isna() & ~X.isna()).to_numpy()
        if bad.any():  # at predict: text in a column that was numeric at fit
            j = int(np.argmax(bad.any(axis=0)))
            values = list(pd.unique(X.iloc[:, j].to_numpy(dtype=object)[bad[:, j]]))[:5]
            raise ValueError(
                f"column {X.columns[j]!r} was numeric at fit but has values that cannot be "
                f"parsed as numbers: {values}"
            )
        return out.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(X, dtype=np.float64)


class PiecewiseLinearEncoder(TransformerMixin, BaseEstimator):
    """Piecewise-linear encoding of numeric columns over quantile bins.

    Each column ``x`` with bin edges ``b_0 < b_1 < ... < b_T`` (quantiles of
    the training values; repeated quantiles merged, so a column with few
    distinct values gets fewer bins, edges on its values) becomes ``T`` values
    ``clip((x - b_{t-1}) / (b_t - b_{t-1}), 0, 1)``: 1 for the bins below
    ``x``, the position of ``x`` inside its own bin, 0 above (Gorishniy,
    Rubachev & Babenko 2022, "On Embeddings for Numerical Features in
    Tabular Deep Learning"). A linear layer on top of it is a learnable
    piecewise-linear function of each column, so thresholds and long tails
    cost the network little; values outside the training range are clipped
    to its ends. The transform is a gather, a subtraction, a product and a
    clip over all columns at once.

    Parameters
    ----------
    n_bins : int, default=8
        Largest number of bins per column.
    subsample : int, default=100_000
        Rows used to compute the quantiles (drawn at random above this).
    random_state : int, RandomState instance or None, default=None
        Draws the subsample.

    Attributes
    ----------
    bin_edges_ : list of ndarray
        The edges of each column's bins.
    columns_ : ndarray of shape (n_outputs,)
        The input column of each output.
    lower_, scale_ : ndarray of shape (n_outputs,)
        Each output is ``clip((X[:, columns_] - lower_) * scale_, 0, 1)``.
    center_ : ndarray of shape (n_features,)
        A middle edge of each column; the encoding subtracts it in float64
        and computes the rest in float32 (:func:`piecewise_linear`).

    Examples
    --------
    >>> import numpy as np
    >>> from skdistill import PiecewiseLinearEncoder
    >>> X = np.arange(10, dtype=float).reshape(-1, 1)
    >>> enc = PiecewiseLinearEncoder(n_bins=3).fit(X)
    >>> enc.transform([[4.5]]).round(2)
    array([[1. , 0.5, 0. ]], dtype=float32)
    """

    _parameter_constraints = {
        "n_bins": [Interval(numbers.Integral, 1, None, closed="left")],
        "subsample": [Interval(numbers.Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_bins=8, subsample=100_000, random_state=None):
        self.n_bins = n_bins
        self.subsample = subsample
        self.random_state = random_state

    def fit(self, X, y=None):
        """Compute each column's bin edges."""
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64)
        if X.shape[0] > self.subsample:
            rows = check_random_state(self.random_state).choice(X.shape[0], self.subsample, replace=False)
            X = X[rows]
        levels = np.linspace(0.0, 1.0, self.n_bins + 1)
        # training values as edges, so that a column with few distinct values bins on them
        quantiles = np.quantile(X, levels, axis=0, method="inverted_cdf")  # (n_bins + 1, n_features)
        self.bin_edges_ = []
        columns, lower, scale = [], [], []
        for j in range(X.shape[1]):
            edges = np.unique(quantiles[:, j])
            if len(edges) == 1:  # a constant column: one bin of width 1 above it
                edges = np.array([edges[0], edges[0] + 1.0])
            self.bin_edges_.append(edges)
            columns.append(np.full(len(edges) - 1, j, dtype=np.intp))
            lower.append(edges[:-1])
            scale.append(1.0 / np.diff(edges))
        self.columns_ = np.concatenate(columns)
        self.center_ = np.asarray([edges[len(edges) // 2] for edges in self.bin_edges_])
        self.lower_ = np.concatenate(lower)
        self.scale_ = np.concatenate(scale)
        return self

    def transform(self, X):
        """The encoding, float32 of shape (n_samples, n_outputs)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return piecewise_linear(X, *_float32_params(self))

    def get_feature_names_out(self, input_features=None):
        """``<column>_bin<t>`` for each output."""
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        counts = np.zeros(len(names), dtype=int)
        out = []
        for j in self.columns_:
            out.append(f"{names[j]}_bin{counts[j]}")
            counts[j] += 1
        return np.asarray(out, dtype=object)


def _float32_params(enc):
    """``(center, columns, lower, scale)`` of a fitted encoder, as :func:`piecewise_linear` takes them."""
    center = np.asarray(enc.center_, dtype=np.float64)
    columns = np.asarray(enc.columns_, dtype=np.intp)
    lower = (np.asarray(enc.lower_, dtype=np.float64) - center[columns]).astype(np.float32)
    return center, columns, lower, np.asarray(enc.scale_, dtype=np.float32)


def piecewise_linear(X, center, columns, lower, scale, out=None):
    """``clip((X[:, columns] - lower) * scale, 0, 1)`` as float32.

    Each column of X (float64) is first centred on ``center`` in float64 and
    the rest runs in float32 with ``lower`` relative to that centre, so that
    a column of large values with narrow bins keeps its precision while the
    wide part of the work (one value per bin) is float32.
    """
    xc = np.subtract(X, center, out=np.empty(X.shape, dtype=np.float32), casting="same_kind")
    z = xc.take(columns, axis=1)  # take: a third of the fancy index's cost for one row
    z -= lower
    z *= scale
    np.maximum(z, _ZERO32, out=z)  # 0-d arrays: a Python float costs a scalar conversion per call
    return np.minimum(z, _ONE32, out=z if out is None else out)


_ZERO32, _ONE32 = np.zeros((), np.float32), np.ones((), np.float32)


#: the default numeric encoding of new students, and the one of skdistill 0.1
NUMERIC_ENCODINGS = ("piecewise_linear", "quantile")
#: n_bins="auto": about this many binned values in all, 4 to 16 per column
BIN_BUDGET = 512
MIN_BINS, MAX_BINS = 4, 16


def auto_n_bins(n_numeric):
    """Bins per numeric column for ``n_bins="auto"``.

    16 bins per column for up to 32 numeric columns, then fewer (down to 4),
    so that the encoded width, and with it the cost of the student's first
    layer, stays near :data:`BIN_BUDGET`.
    """
    return int(min(MAX_BINS, max(MIN_BINS, BIN_BUDGET // max(1, n_numeric))))


def _numeric_step(numeric_encoding, n_samples, random_state, n_bins, n_numeric):
    if numeric_encoding == "piecewise_linear":
        n_bins = auto_n_bins(n_numeric) if n_bins == "auto" else int(n_bins)
        return ("bins", PiecewiseLinearEncoder(n_bins=n_bins, random_state=random_state))
    return (
        "quantile",
        QuantileTransformer(
            n_quantiles=int(max(2, min(1000, n_samples))),
            output_distribution="normal",
            subsample=100_000,
            random_state=random_state,
        ),
    )


@validate_params(
    {
        "kinds": ["array-like"],
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "numeric_encoding": [StrOptions(set(NUMERIC_ENCODINGS))],
        "n_bins": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_default_preprocessor(
    kinds, n_samples, random_state=None, numeric_encoding="piecewise_linear", n_bins="auto"
):
    """The default student preprocessor for columns of the given kinds.

    Parameters
    ----------
    kinds : list of {"numeric", "categorical"}
        Per input column, as :func:`infer_column_kinds` gives them.
    n_samples : int
        Training rows (sizes the quantile transform).
    random_state : int, RandomState instance or None, default=None
    numeric_encoding : {"piecewise_linear", "quantile"}, default="piecewise_linear"
        :class:`PiecewiseLinearEncoder` or scikit-learn's
        ``QuantileTransformer(output_distribution="normal")``.
    n_bins : int or "auto", default="auto"
        Bins per numeric column of the piecewise-linear encoding; "auto"
        gives 16 for up to 32 numeric columns, then fewer, down to 4
        (about 512 values in all).

    Returns
    -------
    ColumnTransformer
        Unfitted.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        (a ValueError and a TypeError) For a parameter of the wrong type or
        out of range; a ValueError for a kind that is neither "numeric" nor
        "categorical".

    Examples
    --------
    >>> from skdistill import make_default_preprocessor
    >>> pre = make_default_preprocessor(["numeric", "categorical"], n_samples=100)
    >>> [name for name, _, _ in pre.transformers]
    ['numeric', 'missing', 'categorical']
    """
    unknown = sorted({str(k) for k in kinds} - {NUMERIC, CATEGORICAL})
    if unknown:
        raise ValueError(f"kinds must be {NUMERIC!r} or {CATEGORICAL!r}; got {unknown}")
    numeric = [j for j, k in enumerate(kinds) if k == NUMERIC]
    categorical = [j for j, k in enumerate(kinds) if k == CATEGORICAL]
    transformers = []
    if numeric:
        transformers.append(
            (
                "numeric",
                Pipeline(
                    [
                        ("to_float", FunctionTransformer(_as_float, feature_names_out="one-to-one")),
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        _numeric_step(numeric_encoding, n_samples, random_state, n_bins, len(numeric)),
                    ]
                ),
                numeric,
            )
        )
        transformers.append(
            (
                "missing",
                Pipeline(
                    [
                        ("to_float", FunctionTransformer(_as_float, feature_names_out="one-to-one")),
                        ("indicator", MissingIndicator(features="missing-only", error_on_new=False)),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("as_str", FunctionTransformer(_as_categories, feature_names_out="one-to-one")),
                        (
                            "onehot",
                            OneHotEncoder(
                                handle_unknown="infrequent_if_exist",
                                min_frequency=5 if n_samples >= 200 else None,
                                max_categories=64,
                                sparse_output=False,
                                dtype=np.float32,
                            ),
                        ),
                    ]
                ),
                categorical,
            )
        )
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def sizing_width(pre, n_encoded):
    """The encoded width with each binned column counted once.

    What "auto" hidden sizes are computed from, so that binning numeric
    columns does not widen the network.
    """
    for _, trans, _ in getattr(pre, "transformers_", []):
        last = trans.steps[-1][1] if isinstance(trans, Pipeline) else trans
        if isinstance(last, PiecewiseLinearEncoder):
            n_encoded -= len(last.columns_) - last.n_features_in_
    return n_encoded


def check_encoded(Z, what="the student preprocessor"):
    """Validate a preprocessor's output as a finite float32 matrix."""
    if hasattr(Z, "toarray"):
        Z = Z.toarray()
    try:
        Z = np.asarray(Z, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must output numbers; its output could not be converted: {exc}") from None
    if Z.ndim != 2:
        raise ValueError(f"{what} must output a 2-D array; got {Z.ndim} dimensions")
    if not np.all(np.isfinite(Z)):
        raise ValueError(
            f"{what} output NaN or infinite values; impute missing values in it"
        )
    return np.ascontiguousarray(Z)
