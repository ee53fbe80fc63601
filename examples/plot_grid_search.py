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

Besides accuracy, the search records the student's *agreement* with its
teacher (:func:`~skdistill.agreement_score`, a scorer), and
:class:`~skdistill.DistillationGridDisplay` draws both over the grid.

The budget is kept tiny (small data, few epochs) so that the example runs in
seconds; on real data use more epochs and a larger grid.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skdistill import DistillationGridDisplay, DistilledClassifier, agreement_score

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
# Two metrics: accuracy (used to pick the best candidate) and agreement with
# the teacher on each validation fold.
search = GridSearchCV(
    pipe,
    param_grid,
    cv=3,
    n_jobs=1,
    scoring={"accuracy": "accuracy", "agreement": agreement_score},
    refit="accuracy",
)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
teacher = search.best_estimator_[-1].teacher_
X_test_scaled = search.best_estimator_[0].transform(X_test)
print(f"teacher (refit on all rows) test accuracy: {teacher.score(X_test_scaled, y_test):.3f}")
print(f"best student test accuracy: {search.score(X_test, y_test):.3f}")

# %%
# Accuracy and agreement over the grid
# ------------------------------------
#
# :class:`~skdistill.DistillationGridDisplay` reads ``cv_results_`` (the
# ``distil__`` prefix of the pipeline step is handled) and draws the mean
# cross-validated accuracy and agreement of each (temperature, alpha) cell.
# The ``alpha=0`` row is the hard-label student (the same network trained on
# the labels only): temperature acts only in the distillation term, so its
# three cells hold the same model. The other rows show what imitating the
# teacher changes, in accuracy and in agreement; higher temperatures show the
# student more of the teacher's small probabilities ("dark knowledge"). With
# this tiny budget the differences are small; read them against the spread
# of the cross-validation folds (``cv_results_["std_test_accuracy"]``).

disp = DistillationGridDisplay.from_estimator(search)
disp.figure_.suptitle("DistilledClassifier: temperature x alpha (3-fold CV)")
plt.show()

# %%
# The numbers behind the plot are on the display: ``disp.score``,
# ``disp.agreement`` (rows: alpha, columns: temperature) and
# ``disp.candidates``, the index of each cell's candidate in ``cv_results_``.

print("temperatures:", disp.temperatures)
for alpha, acc, agree in zip(disp.alphas, disp.score, disp.agreement):
    print(f"alpha={alpha:g}: accuracy {acc.round(3)}, agreement {agree.round(3)}")
