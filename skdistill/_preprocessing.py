"""The student's own input preprocessing.

The teacher always receives X as the user passed it. The student sees X
through a preprocessor fitted in ``fit``:

* numeric columns: median imputation, a missing-value indicator for columns
  that had missing values at fit time, and a quantile transform to a normal
  distribution (robust to heavy tails and outliers; values outside the range
  seen at fit are clipped to its ends);
* categorical columns (pandas ``category``, object, string and bool): missing
  values become their own category, then one-hot encoding; categories unseen
  at fit time encode as all zeros, rare ones are grouped.

Users may pass any scikit-learn transformer instead (``preprocessor=``).
"""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, QuantileTransformer

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


def make_default_preprocessor(kinds, n_samples, random_state=None):
    """The default student preprocessor for columns of the given kinds."""
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
                        (
                            "quantile",
                            QuantileTransformer(
                                n_quantiles=int(max(2, min(1000, n_samples))),
                                output_distribution="normal",
                                subsample=100_000,
                                random_state=random_state,
                            ),
                        ),
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
