"""
Grid search over temperature and alpha
======================================

:class:`~skdistill.DistilledClassifier` is an ordinary scikit-learn estimator,
so its distillation settings can be tuned with
:class:`~sklearn.model_selection.GridSearchCV`, here as the last step of a
:class:`~sklearn.pipeline.Pipeline`.

The teacher is passed *unfitted*: in each cross-validation fold it is cloned
and fitted on that fold's training rows only, so the whole procedure
(teacher + student) is validated honestly. Teacher fits and outputs are
cached per distinct training set, so the nine (temperature, alpha)
candidates of a fold share one teacher fit; only the small student is
retrained.

The budget is kept tiny (small data, few epochs) so that the example runs in
seconds; on real data use more epochs and a larger grid.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skdistill import DistilledClassifier

X, y = make_classification(
    n_samples=1500, n_features=12, n_informative=6, n_classes=3, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

# %%
# The pipeline standardizes the features; the distiller inside it gets the
# scaled rows, and so does its (unfitted) teacher.

pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        (
            "distil",
            DistilledClassifier(
                RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2),
                max_epochs=30,
                batch_size=64,
                hidden_layer_sizes=(64,),
                augment=None,
                random_state=0,
                device="cpu",
            ),
        ),
    ]
)
param_grid = {
    "distil__temperature": [1.0, 2.0, 4.0],
    "distil__alpha": [0.0, 0.5, 0.9],
}
search = GridSearchCV(pipe, param_grid, cv=3, n_jobs=1)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
teacher = search.best_estimator_[-1].teacher_
X_test_scaled = search.best_estimator_[0].transform(X_test)
print(f"teacher (refit on all rows) test accuracy: {teacher.score(X_test_scaled, y_test):.3f}")
print(f"best student test accuracy: {search.score(X_test, y_test):.3f}")

# %%
# Heatmap of the mean cross-validated accuracy
# --------------------------------------------

results = pd.DataFrame(search.cv_results_)
table = results.pivot_table(
    index="param_distil__alpha",
    columns="param_distil__temperature",
    values="mean_test_score",
)

fig, ax = plt.subplots(figsize=(5, 4))
im = ax.imshow(table.to_numpy(), cmap="viridis", origin="lower")
ax.set_xticks(np.arange(table.shape[1]), [f"{t:g}" for t in table.columns])
ax.set_yticks(np.arange(table.shape[0]), [f"{a:g}" for a in table.index])
ax.set_xlabel("temperature")
ax.set_ylabel("alpha")
for i in range(table.shape[0]):
    for j in range(table.shape[1]):
        ax.text(j, i, f"{table.iat[i, j]:.3f}", ha="center", va="center", color="w")
fig.colorbar(im, ax=ax, label="mean CV accuracy")
ax.set_title("DistilledClassifier: temperature x alpha")
fig.tight_layout()
plt.show()
