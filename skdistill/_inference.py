"""The prediction path: a compiled, chunked student for serving.

A fitted student answers through two steps, encoding (the student's
preprocessor) and the forward pass. Through scikit-learn's transformers and
torch, a one-row prediction costs milliseconds of per-call overhead
(validation, pandas, dispatch) and large inputs are encoded all at once. For
the default preprocessor (:func:`~skdistill.make_default_preprocessor`) and
the default :class:`~skdistill.nn.MLP` on CPU, this module compiles both steps
into a few vectorized numpy operations over the fitted attributes:

* :class:`CompiledEncoder`: median imputation, the quantile transform
  (scikit-learn's two-sided linear interpolation over ``quantiles_``, the
  tail bounds, then ``ndtri``), the missing-value indicator and one-hot
  encoding with infrequent and unseen categories, in the same column order as
  the fitted ``ColumnTransformer``;
* :func:`mlp_layers`: the weights of a plain Linear/ReLU MLP, read from the
  live module at each call (so further training of ``student_`` is seen).

:func:`predict_chunked` runs encoding and forward pass over bounded row
chunks, so that memory beyond the output does not grow with the input. Any
other preprocessor or student module takes the general path (the fitted
transformer and the torch module) through the same chunking.

The compiled encoder is checked against the fitted preprocessor on the
training rows when it is built (:func:`compile_encoder`); on any mismatch,
e.g. from a future scikit-learn, the general path is used.
"""

import weakref

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtri
from torch import nn

from ._preprocessing import (
    MISSING_CATEGORY,
    PiecewiseLinearEncoder,
    _ZERO32,
    _as_categories,
    _as_float,
    _float32_params,
    check_encoded,
    piecewise_linear,
)

#: sklearn.preprocessing._data.BOUNDS_THRESHOLD
BOUNDS_THRESHOLD = 1e-7

#: rows per chunk of encoding + forward pass
CHUNK_ROWS = 16384
#: ... when the compiled encoder and the numpy forward pass run: each of their
#: few passes over a chunk then stays in the CPU's cache
COMPILED_CHUNK_ROWS = 1024
#: up to this many rows, a mixed-type DataFrame is read as one object array
#: (one-row serving: one pandas call instead of one per column), for the
#: estimators' prediction and for the ONNX feed
FEW_ROWS = 64
#: up to this many values (rows x numeric columns), the quantile transform
#: searches all columns at once (:class:`_Knots`), else per column (numpy.interp)
_FEW_VALUES = 2048


def frame_values(X):
    """A DataFrame's values as an object ndarray of shape (n_rows, n_columns).

    The same values as ``X.to_numpy(dtype=object)``. One row is read block
    by block (:func:`_row_values`); pandas' own conversion goes block by
    block with a dtype conversion per block, and reading cell by cell
    (``DataFrame.iat``, the fallback for anything unexpected) costs about
    4 us a cell: one modeldata/credit_data row (13 columns, 4 categorical)
    takes about 15 us here against 59 cell by cell.
    """
    if X.shape[0] != 1:
        return X.to_numpy(dtype=object)
    values = np.empty(X.shape, dtype=object)
    try:
        _row_values(X, values[0])
        return values
    except (AttributeError, TypeError, IndexError, ValueError):
        pass
    for j in range(X.shape[1]):
        values[0, j] = X.iat[0, j]
    return values


#: id(categories Index) -> (the Index, its values as a list): a Categorical's
#: element through pandas (Arrow-backed categories) costs ~5 us, from a list ~0.1
_CATEGORY_LISTS = {}


def _category_value(cat, code):
    if code < 0:
        return np.nan  # as pandas gives a missing value of a Categorical
    index = cat.categories
    entry = _CATEGORY_LISTS.get(id(index))
    if entry is None or entry[0] is not index:
        if len(_CATEGORY_LISTS) >= 256:
            _CATEGORY_LISTS.clear()
        entry = _CATEGORY_LISTS[id(index)] = (index, index.to_numpy(dtype=object).tolist())
    return entry[1][code]


def _row_values(X, out):
    """Fill ``out`` with the one row of X, block by block of pandas' block manager.

    A numpy block (all the frame's int64 columns, say) in one pass, a
    Categorical by its code, any other extension array by its one element.
    The block manager is private to pandas: anything unexpected raises, and
    :func:`frame_values` falls back to reading cell by cell.
    """
    for block in X._mgr.blocks:
        locs = block.mgr_locs.as_array.tolist()
        vals = block.values
        if isinstance(vals, np.ndarray) and vals.ndim == 2:  # (columns of the block, rows)
            for j, v in zip(locs, vals[:, 0].tolist()):
                out[j] = v
        elif len(locs) == 1 and getattr(vals, "ndim", 0) == 1 and len(vals) == 1:
            if isinstance(vals, pd.Categorical):
                out[locs[0]] = _category_value(vals, int(vals.codes[0]))
            else:
                out[locs[0]] = vals[0]
        else:
            raise TypeError("unexpected block")


class UnsupportedPreprocessor(TypeError):
    """The preprocessor is not skdistill's default one."""


# ----------------------------------------------------------------------
# reading the fitted default preprocessor (shared with the ONNX export)


def _func_of(step):
    from sklearn.preprocessing import FunctionTransformer

    return step.func if isinstance(step, FunctionTransformer) else None


def parse_preprocessor(pre):
    """The fitted default preprocessor as ``(blocks, numeric, categorical)``.

    ``blocks`` lists, in output order, ``("quantile", cols, imputer,
    quantile_transformer)``, ``("indicator", cols, missing_indicator)`` and
    ``("onehot", cols, one_hot_encoder)``; ``numeric`` and ``categorical``
    are the sorted input column positions of each kind. Raises
    :class:`UnsupportedPreprocessor` naming what differs from the default.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, QuantileTransformer

    if not isinstance(pre, ColumnTransformer):
        raise UnsupportedPreprocessor("it is not the default ColumnTransformer")
    blocks = []
    for name, trans, cols in pre.transformers_:
        if name == "remainder" or (isinstance(trans, str) and trans == "drop"):
            continue
        if not isinstance(trans, Pipeline):
            raise UnsupportedPreprocessor(f"transformer {name!r} is not a Pipeline")
        cols = list(np.asarray(cols).tolist())
        if any(not isinstance(c, (int, np.integer)) for c in cols):
            raise UnsupportedPreprocessor(f"transformer {name!r} selects columns by name")
        steps = [s for _, s in trans.steps]
        funcs = [_func_of(s) for s in steps]
        if (
            len(steps) == 3
            and funcs[0] is _as_float
            and isinstance(steps[1], SimpleImputer)
            and isinstance(steps[2], QuantileTransformer)
        ):
            imp, qt = steps[1], steps[2]
            if not (isinstance(imp.missing_values, float) and np.isnan(imp.missing_values)):
                raise UnsupportedPreprocessor("the imputer's missing_values is not NaN")
            if getattr(imp, "add_indicator", False):
                raise UnsupportedPreprocessor("the imputer adds an indicator")
            blocks.append(("quantile", cols, imp, qt))
        elif (
            len(steps) == 3
            and funcs[0] is _as_float
            and isinstance(steps[1], SimpleImputer)
            and type(steps[2]) is PiecewiseLinearEncoder
        ):
            imp = steps[1]
            if not (isinstance(imp.missing_values, float) and np.isnan(imp.missing_values)):
                raise UnsupportedPreprocessor("the imputer's missing_values is not NaN")
            if getattr(imp, "add_indicator", False):
                raise UnsupportedPreprocessor("the imputer adds an indicator")
            blocks.append(("bins", cols, imp, steps[2]))
        elif len(steps) == 2 and funcs[0] is _as_float and isinstance(steps[1], MissingIndicator):
            ind = steps[1]
            if not (isinstance(ind.missing_values, float) and np.isnan(ind.missing_values)):
                raise UnsupportedPreprocessor("the missing indicator's missing_values is not NaN")
            blocks.append(("indicator", cols, ind))
        elif len(steps) == 2 and funcs[0] is _as_categories and isinstance(steps[1], OneHotEncoder):
            enc = steps[1]
            if enc.drop is not None:
                raise UnsupportedPreprocessor("the one-hot encoder drops categories")
            blocks.append(("onehot", cols, enc))
        else:
            raise UnsupportedPreprocessor(
                f"transformer {name!r} has steps {[type(s).__name__ for s in steps]}"
            )
    numeric = sorted({c for b in blocks if b[0] != "onehot" for c in b[1]})
    categorical = sorted({c for b in blocks if b[0] == "onehot" for c in b[1]})
    return blocks, numeric, categorical


def onehot_layout(enc):
    """Per input column of a fitted OneHotEncoder: ``(mapping, unknown, n_out)``.

    ``mapping`` maps a category (as the string the encoder saw) to its output
    column within the column's block; ``unknown`` is where an unseen category
    goes (the infrequent column if there is one, else -1: all zeros), as
    ``handle_unknown="infrequent_if_exist"`` does.
    """
    infrequent = getattr(enc, "infrequent_categories_", None) or [None] * len(enc.categories_)
    n_outs = getattr(enc, "_n_features_outs", None)
    layout = []
    for j, cats in enumerate(enc.categories_):
        infreq = set() if infrequent[j] is None else {str(c) for c in infrequent[j]}
        frequent = [str(c) for c in cats if str(c) not in infreq]
        n_out = len(frequent) + (1 if infreq else 0)
        if n_outs is not None and int(n_outs[j]) != n_out:
            raise UnsupportedPreprocessor(f"unexpected one-hot layout for categorical feature {j}")
        position = {c: i for i, c in enumerate(frequent)}
        mapping = {str(c): (len(frequent) if str(c) in infreq else position[str(c)]) for c in cats}
        unknown = len(frequent) if infreq else -1
        if enc.handle_unknown == "error":
            unknown = None
        layout.append((mapping, unknown, n_out))
    return layout


# ----------------------------------------------------------------------
# the compiled encoder


def _select(X, cols):
    return X.iloc[:, cols] if isinstance(X, pd.DataFrame) else X[:, cols]


def _numeric_values(X, cols):
    """The numeric columns as float64, with the same errors as the default path."""
    if type(X) is np.ndarray and X.dtype == np.float64 and len(cols) == X.shape[1]:
        return X  # all columns numeric: ``cols`` is all of them, in order
    part = _select(X, cols)
    if isinstance(part, pd.DataFrame):
        if all(
            pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d) for d in part.dtypes
        ):
            return part.to_numpy(dtype=np.float64, na_value=np.nan)
        return _as_float(part)
    if part.dtype.kind in "iuf":
        return part.astype(np.float64, copy=False)
    return _as_float(part)


class _Quantile:
    """Imputation and the quantile transform of one fitted block, vectorized."""

    def __init__(self, imp, qt):
        stats = np.asarray(imp.statistics_, dtype=np.float64)
        self.fill = np.where(np.isnan(stats), 0.0, stats)  # keep_empty_features fills 0
        self.q = np.asfortranarray(qt.quantiles_, dtype=np.float64)  # (K, F), columns contiguous
        self.ref = np.asarray(qt.references_, dtype=np.float64)  # (K,)
        self.lo, self.hi = self.q[0].copy(), self.q[-1].copy()
        self.normal = qt.output_distribution == "normal"
        # columns with repeated quantiles need scikit-learn's two-sided average
        self.tied = (np.diff(self.q, axis=0) == 0).any(axis=0)
        self.ties = np.flatnonzero(self.tied)
        eps = BOUNDS_THRESHOLD - np.spacing(1)
        self.p_lo, self.p_hi = eps, 1 - eps
        if self.q.shape[0] >= 2:
            self.up = _Knots(self.q, self.ref)
            self.down = _Knots(-self.q[::-1, self.ties], -self.ref[::-1])

    def transform(self, x):
        x = np.where(np.isnan(x), self.fill, x)
        q, ref = self.q, self.ref
        n, f = x.shape
        if q.shape[0] < 2:
            p = np.full(x.shape, ref[0])
        elif n * f <= _FEW_VALUES:  # few rows: all columns at once
            # scikit-learn: 0.5 * (interp(x, q, ref) - interp(-x, -q[::-1], -ref[::-1])),
            # both terms equal where a column's quantiles are distinct
            p = self.up.interp(x)
            if len(self.ties):
                t = self.ties
                p[:, t] = 0.5 * (p[:, t] - self.down.interp(-x[:, t]))
        else:  # many rows: numpy.interp per column, as scikit-learn
            p = np.empty_like(x)
            for j in range(f):
                p[:, j] = np.interp(x[:, j], q[:, j], ref)
                if self.tied[j]:
                    p[:, j] -= np.interp(-x[:, j], -q[::-1, j], -ref[::-1])
                    p[:, j] *= 0.5
        if self.normal:
            p[x + BOUNDS_THRESHOLD > self.hi] = 1.0
            p[x - BOUNDS_THRESHOLD < self.lo] = 0.0
            return ndtri(np.clip(p, self.p_lo, self.p_hi, out=p), out=p)
        p[x == self.hi] = 1.0
        p[x == self.lo] = 0.0
        return p


class _Knots:
    """``numpy.interp`` for all columns at once, for a few rows.

    Same arithmetic as numpy (``slope[j] * (x - xp[j]) + fp[j]`` with
    ``xp[j] <= x < xp[j + 1]``). The interval of every value is found by one
    binary search over all columns: the knots are keyed ``column + 1j *
    value``, which numpy orders lexicographically (by column, then value).
    """

    def __init__(self, xp, fp):
        xp = np.ascontiguousarray(xp.T)  # (F, K)
        f, k = xp.shape
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.diff(fp)[None, :] / np.diff(xp, axis=1)
        self.k = k
        self.xp = xp.ravel()
        self.slope = np.where(np.isfinite(slope), slope, 0.0).ravel()  # tied knots: never selected
        self.fp = fp
        self.column = np.arange(f, dtype=np.float64)
        self.keys = (self.column[:, None] + 1j * xp).ravel()
        self.offset = np.arange(f) * k  # where each column starts in xp and keys
        self.slope_offset = np.arange(f) * (k - 1)  # ... and in slope
        self.first, self.last = xp[:, 0].copy(), xp[:, -1].copy()

    def count(self, x):
        """How many knots of its column are <= each value of x (n, F)."""
        return np.searchsorted(self.keys, self.column + 1j * x, side="right") - self.offset

    def interp(self, x):
        k = self.k
        j = self.count(x) - 1
        np.clip(j, 0, k - 2, out=j)
        out = self.slope.take(j + self.slope_offset) * (x - self.xp.take(j + self.offset)) + self.fp.take(j)
        out[x < self.first] = self.fp[0]
        out[x >= self.last] = self.fp[-1]
        return out


class _Bins:
    """Imputation and the piecewise-linear encoding of one fitted block."""

    def __init__(self, imp, ple):
        stats = np.asarray(imp.statistics_, dtype=np.float64)
        self.fill = np.where(np.isnan(stats), 0.0, stats)  # keep_empty_features fills 0
        self.params = _float32_params(ple)
        self.width = len(ple.columns_)

    def transform(self, x, missing=None, out=None):
        if missing is None:
            missing = np.isnan(x)
        if np.count_nonzero(missing):  # cheaper than .any() for one row
            x = np.where(missing, self.fill, x)
        return piecewise_linear(x, *self.params, out=out)


class CompiledEncoder:
    """numpy implementation of a fitted default preprocessor's ``transform``.

    Build it with :func:`compile_encoder`; ``transform(X)`` takes X as
    validated by the estimator (ndarray or DataFrame, all columns) and returns
    the encoded float32 matrix.
    """

    def __init__(self, pre):
        blocks, numeric, categorical = parse_preprocessor(pre)
        self.numeric = numeric
        self.categorical = categorical
        num_pos = {c: i for i, c in enumerate(numeric)}
        self.steps = []
        self._onehot = []  # (input column, mapping, unknown, output position) per categorical column
        width = 0
        for block in blocks:
            kind, cols = block[0], block[1]
            if kind == "onehot":
                layout = onehot_layout(block[2])
                if any(unknown is None for _, unknown, _ in layout):
                    raise UnsupportedPreprocessor("the one-hot encoder errors on unknown categories")
                self.steps.append(("onehot", cols, layout))
                for col, (mapping, unknown, n_out) in zip(cols, layout):
                    self._onehot.append((col, mapping, unknown, width))
                    width += n_out
            elif kind == "quantile":
                self.steps.append(("quantile", self._positions(cols, num_pos), _Quantile(block[2], block[3])))
                width += len(cols)
            elif kind == "bins":
                step = _Bins(block[2], block[3])
                self.steps.append(("bins", self._positions(cols, num_pos), step))
                width += step.width
            else:
                feats = np.asarray(block[2].features_, dtype=np.intp)
                if len(feats):  # no missing values at fit: no output
                    self.steps.append(("indicator", self._positions(cols, num_pos), feats))
                    width += len(feats)
        self.n_output = width
        # all columns numeric, binned in input order: the whole encoding is one step
        self._one_step = (
            self.steps[0][2] if len(self.steps) == 1 and self.steps[0][:2] == ("bins", None) else None
        )

    @staticmethod
    def _positions(cols, num_pos):
        """Where a numeric block's columns are among the numeric values (None: all, in order)."""
        positions = [num_pos[c] for c in cols]
        return None if positions == list(range(len(num_pos))) else positions

    def transform(self, X):
        raw = _numeric_values(X, self.numeric) if self.numeric else None
        if self._one_step is not None:
            return self._one_step.transform(raw)
        n = X.shape[0]
        out = np.zeros((n, self.n_output), dtype=np.float32)
        missing = np.isnan(raw) if raw is not None else None
        # a few rows read from a mixed DataFrame (one-row serving): one Python
        # pass over the categorical cells instead of numpy calls per column
        few_objects = type(X) is np.ndarray and X.dtype == object and n <= FEW_ROWS
        at = 0
        for kind, cols, params in self.steps:
            if kind == "bins":
                x, m = (raw, missing) if cols is None else (raw[:, cols], missing[:, cols])
                params.transform(x, m, out=out[:, at : at + params.width])
                at += params.width
            elif kind == "quantile":
                z = params.transform(raw if cols is None else raw[:, cols])
                out[:, at : at + z.shape[1]] = z
                at += z.shape[1]
            elif kind == "indicator":
                m = missing if cols is None else missing[:, cols]
                out[:, at : at + len(params)] = m[:, params]
                at += len(params)
            elif few_objects:  # every categorical column at once, below
                at += sum(n_out for _, _, n_out in params)
            else:
                for col, (mapping, unknown, n_out) in zip(cols, params):
                    idx = _category_codes(_select(X, [col]), mapping, unknown)
                    rows = np.flatnonzero(idx >= 0)
                    out[rows, at + idx[rows]] = 1.0
                    at += n_out
        if few_objects:
            out[_few_onehot_positions(X, self._onehot)] = 1.0
        return out


def _category_codes(column, mapping, unknown):
    """Output position of each value of one categorical column (-1: none)."""
    if isinstance(column, pd.DataFrame):
        series = column.iloc[:, 0]
        if isinstance(series.dtype, pd.CategoricalDtype):
            table = np.array(
                [mapping.get(str(c), unknown) for c in series.cat.categories]
                + [mapping.get(MISSING_CATEGORY, unknown)],
                dtype=np.intp,
            )
            return table[series.cat.codes.to_numpy()]  # code -1 (missing) -> last
        values = series.to_numpy(dtype=object)
    else:
        values = np.asarray(column).reshape(-1)
    if len(values) <= 64:
        return np.array(
            [mapping.get(MISSING_CATEGORY if _isna(v) else str(v), unknown) for v in values],
            dtype=np.intp,
        )
    strings = _as_categories(values.reshape(-1, 1)).reshape(-1)
    keys = list(mapping)
    codes = pd.Index(keys, dtype=object).get_indexer(strings)
    table = np.array([mapping[k] for k in keys] + [unknown], dtype=np.intp)
    return table[codes]  # code -1 (unseen) -> unknown


def _few_onehot_positions(X, onehot):
    """(rows, output columns) of the ones of a few object rows' categorical cells.

    The same positions as :func:`_category_codes` column by column: a string
    is looked up as is, a missing value as :data:`MISSING_CATEGORY`, anything
    else as its ``str``.
    """
    rows, cols = [], []
    for i, row in enumerate(X):
        for col, mapping, unknown, at in onehot:
            v = row[col]
            code = mapping.get(v if type(v) is str else MISSING_CATEGORY if _isna(v) else str(v), unknown)
            if code >= 0:
                rows.append(i)
                cols.append(at + code)
    return np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)


def _isna(v):
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def compile_encoder(pre, X_check=None, Z_check=None):
    """A :class:`CompiledEncoder` for ``pre``, or None when it cannot be compiled.

    When ``X_check`` and its encoding ``Z_check`` by ``pre`` are given, the
    compiled encoder must reproduce them (within 1e-5), else None.
    """
    try:
        enc = CompiledEncoder(pre)
        if X_check is not None:
            Z = enc.transform(X_check)
            if Z.shape != Z_check.shape or not np.allclose(Z, Z_check, rtol=1e-5, atol=1e-5):
                return None
    except (UnsupportedPreprocessor, ValueError, TypeError, KeyError, IndexError):
        return None
    return enc


# ----------------------------------------------------------------------
# the forward pass


_LAYERS = weakref.WeakKeyDictionary()


def mlp_layers(module, dtype=np.float32):
    """``[(W.T, b, relu)]`` of a plain Linear/ReLU/Dropout MLP, else None.

    The arrays are numpy copies of the module's CPU parameters in ``dtype``
    (each weight transposed to (inputs, outputs), contiguous). The result is
    cached per module and dtype, and rebuilt when a parameter is replaced or
    changed in place (torch's version counter), so further training of the
    student is always seen.
    """
    entry = _LAYERS.get(module)
    if entry is not None:
        held, by_dtype = entry
        for slots, name, p, version in held:  # a loop: a generator costs ~1 us more per call
            if slots[name] is not p or p._version != version:
                entry = None
                break
    if entry is None:
        layers = _read_layers(module)
        if layers is None:
            return None
        by_dtype = {np.dtype(np.float32): layers}
        held = [
            (m._parameters, name, m._parameters[name], m._parameters[name]._version)
            for m in _sequence(module)
            if isinstance(m, nn.Linear)
            for name in ("weight", "bias")
            if m._parameters.get(name) is not None
        ]
        if all(p.device.type == "cpu" and p.dtype == torch.float32 for _, _, p, _ in held):
            _LAYERS[module] = (held, by_dtype)
    dtype = np.dtype(dtype)
    if dtype not in by_dtype:
        by_dtype[dtype] = [
            (w_t.astype(dtype), b.astype(dtype), relu) for w_t, b, relu in by_dtype[np.dtype(np.float32)]
        ]
    return by_dtype[dtype]


def _sequence(module):
    from ._student import MLP

    if type(module) is MLP:
        return module.layers
    if type(module) is nn.Sequential:
        return module
    return None


def _read_layers(module):
    seq = _sequence(module)
    if seq is None:
        return None
    layers = []
    for m in seq:
        if isinstance(m, nn.Linear):
            w_t = np.ascontiguousarray(_as_numpy(m.weight).T)  # (in, out): a copy, one per version
            b = _as_numpy(m.bias) if m.bias is not None else np.zeros(w_t.shape[1], np.float32)
            layers.append([w_t, b, False])
        elif isinstance(m, nn.ReLU):
            if not layers or layers[-1][2]:
                return None
            layers[-1][2] = True
        elif isinstance(m, (nn.Dropout, nn.Identity)):
            continue
        else:
            return None
    return layers or None


def _as_numpy(param):
    return param.detach().to("cpu", torch.float32).numpy().copy()


def numpy_forward(layers, Z):
    """The MLP's forward pass in numpy (``layers`` from :func:`mlp_layers`).

    With float64 ``layers`` (as the estimators call it) each layer sums in
    float64 and rounds its output to float32, the precision of the student's
    training: a row's outputs are then the same bits whatever the batch it
    is predicted in and its position there (float32 matrix kernels sum in an
    order that depends on both, which moved probabilities by ~1e-7), at
    about twice the cost of the float32 products (one row: about ten
    microseconds). Returns float32.
    """
    h = Z
    for w_t, b, relu in layers:
        h = np.dot(h, w_t)
        h += b
        if relu:
            np.maximum(h, _ZERO32, out=h)  # a 0-d zero: a Python 0 is converted on every call
        h = h.astype(np.float32)
    return h


def predict_chunked(X, n_rows, encode, forward, chunk_rows=None, check=True):
    """Encode and forward X in chunks of rows; returns float32 (n_rows, n_out).

    ``encode`` maps a slice of X to a float32 matrix (validated by
    :func:`~skdistill._preprocessing.check_encoded` unless ``check`` is
    False), ``forward`` maps that to the raw outputs. Memory beyond the
    output is one chunk's worth; up to one chunk of rows is one call of each.
    """
    if n_rows == 0:
        raise ValueError("cannot predict on 0 rows")
    chunk_rows = CHUNK_ROWS if chunk_rows is None else chunk_rows
    if n_rows <= chunk_rows:
        Z = encode(X)
        res = forward(check_encoded(Z) if check else Z)
        return np.ascontiguousarray(res, dtype=np.float32)
    out = None
    for start in range(0, n_rows, chunk_rows):
        stop = min(n_rows, start + chunk_rows)
        part = X.iloc[start:stop] if isinstance(X, pd.DataFrame) else X[start:stop]
        Z = encode(part)
        res = forward(check_encoded(Z) if check else Z)
        if out is None:
            out = np.empty((n_rows, res.shape[1]), dtype=np.float32)
        out[start:stop] = res
    return out
