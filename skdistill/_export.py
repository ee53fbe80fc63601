"""Export a fitted distilled estimator to ONNX, preprocessing included.

:func:`to_onnx` writes the whole prediction path of a fitted
:class:`~skdistill.DistilledClassifier` or :class:`~skdistill.DistilledRegressor`
as one ONNX graph built with :mod:`onnx.helper`:

* the default preprocessor (:func:`~skdistill.make_default_preprocessor`):
  median imputation (``Where(IsNaN)``), the quantile transform (a binary
  search over the fitted ``quantiles_`` with ``Gather``, numpy's linear
  interpolation, the tail bounds, then the normal quantile function computed
  in float64 with Acklam's rational approximation, relative error < 1.2e-9),
  the missing-value indicator, and one-hot encoding of categorical columns
  (``LabelEncoder`` from ``ai.onnx.ml``, unseen categories as zeros or as the
  infrequent column, exactly as scikit-learn's encoder);
* the student: ``Gemm``/``Relu`` nodes read from the default
  :class:`~skdistill.nn.MLP` (other modules go through ``torch.onnx.export``);
* ``Softmax`` for classifiers (output ``"probabilities"``), the
  de-standardization for regressors (output ``"predictions"``).

Inputs: ``"X_numeric"`` (float64, ``[N, n_numeric]``) holding the numeric
columns, NaN for missing values, and ``"X_categorical"`` (string,
``[N, n_categorical]``) holding the categorical columns as strings, missing
values as ``"__missing__"``. Only the inputs the model has are present.
:func:`onnx_inputs` builds this feed from the data you would pass to
``predict``.
"""

import functools
import json
import os

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import HasMethods, validate_params
from sklearn.utils.validation import check_is_fitted

from . import _inference
from ._classifier import DistilledClassifier
from ._inference import (
    BOUNDS_THRESHOLD as _BOUNDS_THRESHOLD,
    CompiledEncoder,
    UnsupportedPreprocessor,
    _isna,
    mlp_layers,
    onehot_layout,
    parse_preprocessor,
)
from ._optional import import_optional
from ._preprocessing import MISSING_CATEGORY, _as_categories, _as_float, _float32_params
from ._regressor import DistilledRegressor

__all__ = ["to_onnx", "onnx_inputs"]

OPSET = 17
ML_OPSET = 3
IR_VERSION = 8

# Acklam's inverse normal CDF coefficients
_A = [-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00]
_B = [-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01, 1.0]
_C = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00]
_D = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00, 1.0]
_P_LOW = 0.02425


def _onnx():
    return import_optional("onnx", "to_onnx", "onnx")


class _Graph:
    """A small builder: unique names, constants, nodes."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.h = onnx.helper
        self.nodes = []
        self.inits = []
        self._n = 0

    def name(self, base):
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, value, base="c", dtype=None):
        arr = np.asarray(value, dtype=dtype)
        name = self.name(base)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type, inputs, base=None, domain=None, n_out=1, out=None, **attrs):
        outs = [out] if out is not None else [self.name(base or op_type.lower()) for _ in range(n_out)]
        kwargs = dict(attrs)
        if domain:
            kwargs["domain"] = domain
        self.nodes.append(self.h.make_node(op_type, list(inputs), outs, name=self.name(op_type), **kwargs))
        return outs[0] if n_out == 1 else outs

    def inline(self, sub, x):
        """Append the ONNX model ``sub`` (one data input) fed by ``x``; returns its graph."""
        sub = self.onnx.compose.add_prefix(sub, self.name("student") + "/")
        graph = sub.graph
        init_names = {i.name for i in graph.initializer}
        inp = [i.name for i in graph.input if i.name not in init_names][0]
        self.nodes.append(self.h.make_node("Identity", [x], [inp], name=self.name("Identity")))
        self.nodes.extend(graph.node)
        self.inits.extend(graph.initializer)
        return graph


# ----------------------------------------------------------------------
# preprocessing


def _unsupported(pre, why):
    return TypeError(
        f"to_onnx cannot convert the student's preprocessor ({type(pre).__name__}): {why}. "
        "Only skdistill's default preprocessor (preprocessor=None) is supported; export "
        "the student module with torch.onnx.export and your preprocessor separately."
    )


def _parse_preprocessor(pre):
    """The fitted default preprocessor as a list of (kind, columns, fitted steps)."""
    try:
        return parse_preprocessor(pre)
    except UnsupportedPreprocessor as exc:
        raise _unsupported(pre, str(exc)) from None


def _interp(g, x, xp, fp):
    """``np.interp(x, xp[:, j], fp[:, j])`` per column j of x, elementwise.

    x: double [N, F]; xp, fp: (K, F) arrays, xp sorted per column.
    A binary search over Gather'ed knots finds j = max{k : xp[k] <= x}.
    """
    K, F = xp.shape
    xpf = g.const(xp.T.reshape(-1).astype(np.float64), "knots_x")
    fpf = g.const(fp.T.reshape(-1).astype(np.float64), "knots_y")
    offset = g.const((np.arange(F) * K).astype(np.int64), "col_offset")
    zero_i = g.op("Cast", [g.op("Mul", [x, g.const(0.0)])], to=7)  # int64 zeros, shape of x
    lo = zero_i
    kmax = g.const(np.int64(K - 1))
    step = 1
    while step * 2 <= K - 1:
        step *= 2
    while step >= 1:
        cand = g.op("Min", [g.op("Add", [lo, g.const(np.int64(step))]), kmax])
        v = g.op("Gather", [xpf, g.op("Add", [cand, offset])], axis=0)
        lo = g.op("Where", [g.op("LessOrEqual", [v, x]), cand, lo])
        step //= 2
    j = g.op("Min", [lo, g.const(np.int64(K - 2))])
    j0 = g.op("Add", [j, offset])
    j1 = g.op("Add", [j0, g.const(np.int64(1))])
    x0 = g.op("Gather", [xpf, j0], axis=0)
    x1 = g.op("Gather", [xpf, j1], axis=0)
    y0 = g.op("Gather", [fpf, j0], axis=0)
    y1 = g.op("Gather", [fpf, j1], axis=0)
    dx = g.op("Sub", [x1, x0])
    dx = g.op("Where", [g.op("Equal", [dx, g.const(0.0)]), g.const(1.0), dx])
    slope = g.op("Div", [g.op("Sub", [y1, y0]), dx])
    val = g.op("Add", [g.op("Mul", [slope, g.op("Sub", [x, x0])]), y0])
    first_x, last_x = g.const(xp[0].astype(np.float64)), g.const(xp[-1].astype(np.float64))
    val = g.op("Where", [g.op("GreaterOrEqual", [x, last_x]), g.const(fp[-1].astype(np.float64)), val])
    val = g.op("Where", [g.op("Less", [x, first_x]), g.const(fp[0].astype(np.float64)), val])
    return val


def _poly(g, coeffs, t):
    acc = g.const(np.float64(coeffs[0]))
    for c in coeffs[1:]:
        acc = g.op("Add", [g.op("Mul", [acc, t]), g.const(np.float64(c))])
    return acc


def _norm_ppf(g, p):
    """The standard normal quantile function of p in (0, 1), float64."""
    q = g.op("Sub", [p, g.const(0.5)])
    r = g.op("Mul", [q, q])
    central = g.op("Div", [g.op("Mul", [_poly(g, _A, r), q]), _poly(g, _B, r)])
    pp = g.op("Min", [p, g.op("Sub", [g.const(1.0), p])])
    t = g.op("Sqrt", [g.op("Mul", [g.const(-2.0), g.op("Log", [pp])])])
    tail = g.op("Div", [_poly(g, _C, t), _poly(g, _D, t)])  # negative: the lower tail
    out = g.op("Where", [g.op("Less", [p, g.const(_P_LOW)]), tail, central])
    out = g.op("Where", [g.op("Greater", [p, g.const(1 - _P_LOW)]), g.op("Neg", [tail]), out])
    return out


def _quantile_block(g, x, imp, qt):
    """Imputation then the quantile transform; x is double [N, F]."""
    stats = np.asarray(imp.statistics_, dtype=np.float64)
    stats = np.where(np.isnan(stats), 0.0, stats)  # keep_empty_features: filled with 0
    x = g.op("Where", [g.op("IsNaN", [x]), g.const(stats, "median"), x])
    quantiles = np.asarray(qt.quantiles_, dtype=np.float64)
    refs = np.asarray(qt.references_, dtype=np.float64)
    K, F = quantiles.shape
    refs2 = np.repeat(refs[:, None], F, axis=1)
    # 0.5 * (interp(x, q, r) - interp(-x, -q[::-1], -r[::-1])), as scikit-learn
    up = _interp(g, x, quantiles, refs2)
    down = _interp(g, g.op("Neg", [x]), -quantiles[::-1], -refs2[::-1])
    p = g.op("Mul", [g.op("Sub", [up, down]), g.const(0.5)])
    lower_y, upper_y = 0.0, 1.0
    # the ends, as scikit-learn sets them (upper first, then lower)
    if qt.output_distribution == "normal":
        upper = g.op("Greater", [g.op("Add", [x, g.const(_BOUNDS_THRESHOLD)]), g.const(quantiles[-1])])
        lower = g.op("Less", [g.op("Sub", [x, g.const(_BOUNDS_THRESHOLD)]), g.const(quantiles[0])])
    else:
        upper = g.op("Equal", [x, g.const(quantiles[-1])])
        lower = g.op("Equal", [x, g.const(quantiles[0])])
    p = g.op("Where", [upper, g.const(np.float64(upper_y)), p])
    p = g.op("Where", [lower, g.const(np.float64(lower_y)), p])
    if qt.output_distribution != "normal":
        return p
    eps = _BOUNDS_THRESHOLD - np.spacing(1)
    from scipy import stats as sps

    clip_min, clip_max = float(sps.norm.ppf(eps)), float(sps.norm.ppf(1 - eps))
    p = g.op("Clip", [p, g.const(eps), g.const(1.0 - eps)])
    z = _norm_ppf(g, p)
    return g.op("Clip", [z, g.const(clip_min), g.const(clip_max)])


def _bins_block(g, x, imp, ple):
    """Imputation then the piecewise-linear encoding; x is double [N, F].

    The same arithmetic as :func:`~skdistill._preprocessing.piecewise_linear`
    (centre in double, the rest in float), so that results match bit for bit.
    The bins are gathered as rows of the transposed input: onnxruntime's
    Gather along axis 1 copies value by value and cost most of a batch.
    """
    stats = np.asarray(imp.statistics_, dtype=np.float64)
    stats = np.where(np.isnan(stats), 0.0, stats)  # keep_empty_features: filled with 0
    center, columns, lower, scale = _float32_params(ple)
    # impute after centring, in float: the filled value is float32(median - center), as numpy's
    xc = g.op("Cast", [g.op("Sub", [x, g.const(center, "bin_center")])], to=1)
    fill = (stats - center).astype(np.float32)
    xc = g.op("Where", [g.op("IsNaN", [xc]), g.const(fill, "median"), xc])
    zt = g.op("Gather", [g.op("Transpose", [xc], perm=[1, 0]),
                         g.const(columns.astype(np.int64), "bin_column")], axis=0)  # [B, N]
    zt = g.op("Mul", [g.op("Sub", [zt, g.const(lower[:, None], "bin_lower")]), g.const(scale[:, None], "bin_scale")])
    # one Clip, not Max then Min: onnxruntime's variadic Max / Min broadcast slowly
    # (modeldata/cells student, one row: 31 instead of 43 us for the whole graph); same values
    zt = g.op("Clip", [zt, g.const(np.float32(0.0)), g.const(np.float32(1.0))])
    return g.op("Transpose", [zt], perm=[1, 0])


def _onehot_block(g, xcat, enc, positions, n_categorical):
    """One-hot columns of the encoder, one float block; xcat is string [N, n_categorical].

    One Split gives each column as [N, 1], a LabelEncoder per column its
    code (same shape) and an Equal against the codes its one-hot block; the
    boolean blocks are concatenated and cast once. Few nodes matter: at one
    row onnxruntime's cost is mostly per node.
    """
    layout = [(pos, *out) for pos, out in zip(positions, onehot_layout(enc)) if out[2] > 0]
    if not layout:
        return []
    columns = [xcat] if n_categorical == 1 else g.op("Split", [xcat], n_out=n_categorical, axis=1)
    hots = []
    for pos, mapping, unknown, n_out in layout:
        code = g.op(
            "LabelEncoder", [columns[pos]], domain="ai.onnx.ml",
            keys_strings=list(mapping), values_int64s=list(mapping.values()),
            default_int64=-1 if unknown is None else unknown,
        )
        hots.append(g.op("Equal", [code, g.const(np.arange(n_out, dtype=np.int64))]))
    hot = hots[0] if len(hots) == 1 else g.op("Concat", hots, axis=1)
    return [g.op("Cast", [hot], to=1)]  # float


# ----------------------------------------------------------------------
# the student module


def _student_graph(g, z, module, n_inputs):
    """Append the student's forward pass to g; returns the raw output name."""
    layers = mlp_layers(module)
    if layers is not None:
        h = z
        for w_t, b, relu in layers:
            h = g.op("Gemm", [h, g.const(w_t, "W"), g.const(b, "b")])
            if relu:
                h = g.op("Relu", [h])
        return h
    return _torch_export_graph(g, z, module, n_inputs)


def _torch_export_graph(g, z, module, n_inputs):
    """Inline a torch.onnx.export of a custom module into g."""
    import io

    import torch

    onnx = g.onnx
    buf = io.BytesIO()
    module = module.to("cpu").eval()
    try:
        try:
            torch.onnx.export(
                module, (torch.zeros(2, n_inputs),), buf, input_names=["z"], output_names=["raw"],
                dynamic_axes={"z": {0: "N"}, "raw": {0: "N"}}, opset_version=OPSET, dynamo=False,
            )
        except TypeError:  # older torch without the dynamo argument
            torch.onnx.export(
                module, (torch.zeros(2, n_inputs),), buf, input_names=["z"], output_names=["raw"],
                dynamic_axes={"z": {0: "N"}, "raw": {0: "N"}}, opset_version=OPSET,
            )
    except Exception as exc:
        raise TypeError(
            f"to_onnx could not export the student module {type(module).__name__} with "
            f"torch.onnx.export: {exc}"
        ) from exc
    graph = g.inline(onnx.load_from_string(buf.getvalue()), z)
    return graph.output[0].name


# ----------------------------------------------------------------------
# public API


@validate_params(
    {
        "estimator": [DistilledClassifier, DistilledRegressor],
        "path": [str, os.PathLike, HasMethods(["write"]), None],
        "X_sample": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def to_onnx(estimator, path=None, X_sample=None):
    """The fitted student, its preprocessing included, as one ONNX model.

    Parameters
    ----------
    estimator : fitted DistilledClassifier or DistilledRegressor
        Its student preprocessor must be the default one (``preprocessor=None``).
    path : str, path-like or writable binary file object, default=None
        Where to save the model; not saved when None.
    X_sample : array-like or DataFrame, default=None
        Optional rows: when given and onnxruntime is installed, the exported
        model is run on them and compared with the estimator's own
        predictions; a mismatch raises RuntimeError.

    Returns
    -------
    model : onnx.ModelProto
        Inputs ``"X_numeric"`` (float64 ``[N, n_numeric]``, NaN for missing)
        and/or ``"X_categorical"`` (string ``[N, n_categorical]``); build them
        with :func:`onnx_inputs`. Output ``"probabilities"`` (float32
        ``[N, n_classes]``) for a classifier, ``"predictions"`` (float64
        ``[N, n_outputs]``) for a regressor.

    Raises
    ------
    TypeError
        For another estimator (an ``InvalidParameterError``), or a student
        or preprocessor that cannot be exported.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    RuntimeError
        If the model does not reproduce the estimator on ``X_sample``.

    See Also
    --------
    onnx_inputs : the inputs of the model for some rows.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skdistill import DistilledClassifier, onnx_inputs, to_onnx
    >>> X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    >>> clf = DistilledClassifier(LogisticRegression(), hidden_layer_sizes=(8,), max_epochs=2,
    ...                           augment=None, random_state=0).fit(X, y)
    >>> model = to_onnx(clf, X_sample=X[:20])  # checked against predict_proba on these rows
    >>> session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    >>> proba = session.run(["probabilities"], onnx_inputs(model, X[:3]))[0]
    >>> bool(np.allclose(proba, clf.predict_proba(X[:3]), atol=1e-5))
    True
    """
    onnx = _onnx()
    check_is_fitted(estimator, "student_")
    blocks, numeric, categorical = _parse_preprocessor(estimator.preprocessor_)
    g = _Graph(onnx)
    h = onnx.helper
    TP = onnx.TensorProto
    inputs = []
    num_pos = {c: i for i, c in enumerate(numeric)}
    cat_pos = {c: i for i, c in enumerate(categorical)}
    if numeric:
        inputs.append(h.make_tensor_value_info("X_numeric", TP.DOUBLE, ["N", len(numeric)]))
    if categorical:
        inputs.append(h.make_tensor_value_info("X_categorical", TP.STRING, ["N", len(categorical)]))

    parts = []
    for block in blocks:
        kind, cols = block[0], block[1]
        if kind == "onehot":
            parts.extend(_onehot_block(g, "X_categorical", block[2], [cat_pos[c] for c in cols], len(categorical)))
            continue
        idx = [num_pos[c] for c in cols]
        x = "X_numeric"
        if idx != list(range(len(numeric))):
            x = g.op("Gather", ["X_numeric", g.const(np.asarray(idx, np.int64))], axis=1)
        if kind == "quantile":
            parts.append(g.op("Cast", [_quantile_block(g, x, block[2], block[3])], to=1))
        elif kind == "bins":
            parts.append(_bins_block(g, x, block[2], block[3]))
        else:  # indicator
            feats = np.asarray(block[2].features_, dtype=np.int64)
            if len(feats) == 0:
                continue
            sel = g.op("Gather", [x, g.const(feats)], axis=1)
            parts.append(g.op("Cast", [g.op("IsNaN", [sel])], to=1))
    if not parts:
        raise TypeError("to_onnx: the preprocessor outputs no columns")
    z = parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=1)  # float32, as check_encoded

    n_inputs = CompiledEncoder(estimator.preprocessor_).n_output
    if "_sklearn_student_" in vars(estimator):  # a scikit-learn student, through skl2onnx
        from ._sklearn_student import onnx_graph

        raw = onnx_graph(g, z, estimator._sklearn_student_, n_inputs, {"": OPSET, "ai.onnx.ml": ML_OPSET})
    else:
        raw = _student_graph(g, z, estimator.student_.module_, n_inputs)
    if isinstance(estimator, DistilledClassifier):
        n_out = len(estimator.classes_)
        g.op("Softmax", [raw], out="probabilities", axis=1)
        outputs = [h.make_tensor_value_info("probabilities", TP.FLOAT, ["N", n_out])]
    else:
        n_out = len(np.atleast_1d(estimator.target_mean_))
        raw64 = g.op("Cast", [raw], to=11)
        scaled = g.op("Mul", [raw64, g.const(np.asarray(estimator.target_scale_, np.float64).reshape(-1))])
        g.op("Add", [scaled, g.const(np.asarray(estimator.target_mean_, np.float64).reshape(-1))], out="predictions")
        outputs = [h.make_tensor_value_info("predictions", TP.DOUBLE, ["N", n_out])]

    graph = h.make_graph(g.nodes, "skdistill_" + type(estimator).__name__, inputs, outputs, g.inits)
    model = h.make_model(
        graph,
        opset_imports=[h.make_opsetid("", OPSET), h.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="skdistill",
    )
    model.ir_version = IR_VERSION
    meta = {
        "numeric_columns": [int(c) for c in numeric],
        "categorical_columns": [int(c) for c in categorical],
        "n_features_in": int(estimator.n_features_in_),
        "feature_names_in": [str(c) for c in getattr(estimator, "feature_names_in_", [])],
    }
    if isinstance(estimator, DistilledClassifier):
        meta["classes"] = [c.item() if hasattr(c, "item") else c for c in estimator.classes_]
    onnx.helper.set_model_props(model, {"skdistill": json.dumps(meta, default=str)})
    onnx.checker.check_model(model)
    if X_sample is not None:
        _verify(model, estimator, X_sample)
    if path is not None:
        onnx.save_model(model, path)
    return model


@functools.lru_cache(maxsize=64)
def _parse_meta(text):
    meta = json.loads(text)
    names = meta.get("feature_names_in") or None
    return _Columns(meta["numeric_columns"], meta["categorical_columns"], meta["n_features_in"], names)


class _Columns:
    """Which input columns feed which graph input, and the fitted column names."""

    def __init__(self, numeric, categorical, n_features, names):
        self.numeric = [int(c) for c in numeric]
        self.categorical = [int(c) for c in categorical]
        self.n_features = int(n_features)
        self.names = None if names is None else [str(c) for c in names]
        self.all_numeric = self.numeric == list(range(self.n_features))


def _columns_of(estimator_or_model):
    if hasattr(estimator_or_model, "graph"):  # an onnx ModelProto
        for prop in estimator_or_model.metadata_props:
            if prop.key == "skdistill":
                return _parse_meta(prop.value)
        raise ValueError("this ONNX model was not written by skdistill.to_onnx")
    est = estimator_or_model
    compiled = getattr(est, "_compiled_encoder_", None)
    names = getattr(est, "feature_names_in_", None)
    if compiled is not None:
        # kept on the compiled encoder, which every fit replaces (one-row serving: ~5 us a call)
        cached = compiled.__dict__.get("_onnx_columns")
        if cached is not None and cached[0] is names and cached[1] == est.n_features_in_:
            return cached[2]
        numeric, categorical = compiled.numeric, compiled.categorical
    else:
        _, numeric, categorical = _parse_preprocessor(est.preprocessor_)
    cols = _Columns(numeric, categorical, est.n_features_in_, None if names is None else list(names))
    if compiled is not None:
        compiled._onnx_columns = (names, est.n_features_in_, cols)
    return cols


def _select_frame(X, cols):
    """A DataFrame's columns in the fitted order, chosen by name."""
    if cols.names is None:  # fitted without (string) names: by position, as scikit-learn
        if X.shape[1] != cols.n_features:
            raise ValueError(f"X has {X.shape[1]} features, but the model expects {cols.n_features}")
        return X
    if X.columns.tolist() == cols.names:  # a list: one-row serving builds no pandas Index
        return X
    have = {str(c) for c in X.columns}
    missing = [c for c in cols.names if c not in have]
    unknown = [str(c) for c in X.columns if str(c) not in set(cols.names)]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing columns {missing[:10]}")
        if unknown:
            parts.append(f"columns not seen at fit {unknown[:10]}")
        raise ValueError(
            "X's columns do not match the columns the student was fitted on: " + "; ".join(parts)
        )
    if len(set(map(str, X.columns))) != X.shape[1]:
        raise ValueError("X has duplicate column names")
    return X.set_axis([str(c) for c in X.columns], axis=1)[cols.names]


def _few_rows_feed(X, cols):
    """The feed of a few DataFrame rows, the same as the general path's, or None.

    The numeric columns must convert to float64 (else None: the general path
    reports the bad values); categorical values become ``str(value)`` and
    missing ones :data:`MISSING_CATEGORY`, as in ``_as_categories``.
    """
    values = _inference.frame_values(X)
    feed = {}
    if cols.numeric:
        try:
            feed["X_numeric"] = np.ascontiguousarray(values[:, cols.numeric].astype(np.float64))
        except (TypeError, ValueError):
            return None
    if cols.categorical:
        cats = values[:, cols.categorical]
        feed["X_categorical"] = np.array(
            [[MISSING_CATEGORY if _isna(v) else str(v) for v in row] for row in cats], dtype=str
        ).reshape(cats.shape)
    return feed


def onnx_inputs(estimator_or_model, X):
    """The feed dict for a model made by :func:`to_onnx`.

    Parameters
    ----------
    estimator_or_model : fitted estimator or onnx.ModelProto from :func:`to_onnx`
    X : array-like or DataFrame
        Rows with the same columns as in ``fit``. A DataFrame's columns are
        taken by name when the student was fitted on a DataFrame with string
        column names (in any order; a missing or unknown column raises
        ValueError), else by position. Other input is taken by position and
        must have the fitted number of columns.

    Returns
    -------
    feed : dict
        ``{"X_numeric": float64 array, "X_categorical": str array}`` (only
        the inputs the model has), ready for ``InferenceSession.run``. See
        "Serving with ONNX" in the user guide for the contract a client in
        another language follows.
    """
    cols = _columns_of(estimator_or_model)
    if type(X) is np.ndarray and cols.all_numeric and X.ndim == 2 and X.shape[1] == cols.n_features:
        if X.dtype == np.float64 and X.flags.c_contiguous:
            return {"X_numeric": X}  # the serving fast path: nothing to convert
        if X.dtype.kind in "fiu":
            return {"X_numeric": np.ascontiguousarray(X, dtype=np.float64)}
    if isinstance(X, pd.DataFrame):
        X = _select_frame(X, cols)
        if X.shape[0] <= _inference.FEW_ROWS:  # one-row serving: one object array instead of pandas per column
            feed = _few_rows_feed(X, cols)
            if feed is not None:
                return feed
    else:
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D; got {X.ndim} dimensions")
        if X.shape[1] != cols.n_features:
            raise ValueError(f"X has {X.shape[1]} features, but the model expects {cols.n_features}")
    feed = {}
    if cols.numeric:
        part = X.iloc[:, cols.numeric] if isinstance(X, pd.DataFrame) else X[:, cols.numeric]
        feed["X_numeric"] = np.ascontiguousarray(_as_float(part), dtype=np.float64)
    if cols.categorical:
        part = X.iloc[:, cols.categorical] if isinstance(X, pd.DataFrame) else X[:, cols.categorical]
        feed["X_categorical"] = _as_categories(part).astype(str)
    return feed


def _verify(model, estimator, X_sample):
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - depends on the environment
        return
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, onnx_inputs(estimator, X_sample))[0]
    if hasattr(estimator, "predict_proba"):
        want = estimator.predict_proba(X_sample)
        ok = np.allclose(got, want, atol=1e-4)
    else:
        want = estimator.predict(X_sample).reshape(got.shape)
        ok = np.allclose(got, want, rtol=1e-3, atol=1e-4 * (np.abs(want).max() + 1e-12))
    if not ok:
        raise RuntimeError(
            "the exported ONNX model does not reproduce the estimator on X_sample "
            f"(max abs difference {np.abs(got - want).max():.3g})"
        )

