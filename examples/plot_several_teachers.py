"""
Distil several teachers into one student
========================================

A list of teachers is an ensemble: their class probabilities are averaged,
weighted by ``teacher_weights``, and the student learns to answer like the
average. This compresses a whole ensemble (here a random forest, a gradient
boosting model and a logistic regression) into one small network.

Teachers may be fitted (used as-is) or unfitted (cloned and fitted on the
data passed to ``fit``); the list below mixes both.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skdistill import DistilledClassifier, compare_models

X, y = make_classification(
    n_samples=2000, n_features=15, n_informative=8, n_classes=2, random_state=1
)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

forest = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2)
forest.fit(X_train, y_train)  # fitted: used as-is
boosting = HistGradientBoostingClassifier(max_iter=100, random_state=0)  # unfitted
linear = LogisticRegression(max_iter=1000)  # unfitted

teachers = [forest, boosting, linear]
weights = [0.45, 0.45, 0.10]

student = DistilledClassifier(
    teachers,
    teacher_weights=weights,
    temperature=2.0,
    alpha=0.8,
    max_epochs=15,
    hidden_layer_sizes=(64, 64),
    random_state=0,
    device="cpu",
).fit(X_train, y_train)

fitted = dict(zip(["forest", "boosting", "logistic"], student.teacher_))
report = compare_models({**fitted, "student": student}, X_test, y_test)
print(report)

# %%
# Agreement of the student with the weighted ensemble
# ---------------------------------------------------

ensemble_proba = sum(
    w * t.predict_proba(X_test) for w, t in zip(weights, student.teacher_)
) / sum(weights)
student_proba = student.predict_proba(X_test)
agreement = np.mean(ensemble_proba.argmax(1) == student_proba.argmax(1))
print(f"student agrees with the ensemble on {agreement:.1%} of test rows")

fig, ax = plt.subplots(figsize=(4.5, 4))
ax.scatter(ensemble_proba[:, 1], student_proba[:, 1], s=5, alpha=0.5)
ax.plot([0, 1], [0, 1], "k--", lw=1)
ax.set_xlabel("weighted ensemble P(class 1)")
ax.set_ylabel("student P(class 1)")
ax.set_title("Three teachers, one student")
fig.tight_layout()
plt.show()
