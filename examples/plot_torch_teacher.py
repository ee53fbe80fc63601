"""
Distil a large torch network into a small one
=============================================

A fitted ``torch.nn.Module`` mapping a float tensor to logits (classes
``0 .. k-1``) can be a teacher directly. Here a wide, deep network
(about 270 000 parameters) is trained with a plain torch loop on two
interleaved half-moons, then distilled into an MLP with two hidden layers
of 32 units (about 200 times fewer parameters).

The teacher is used as-is: skdistill puts it in eval mode to label the
transfer set (training rows plus MUNGE synthetic rows), then restores its
mode and device.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split

from skdistill import DistilledClassifier

torch.manual_seed(0)
X, y = make_moons(n_samples=1500, noise=0.25, random_state=0)
X = X.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

# %%
# The teacher: a large network trained with a plain torch loop.

teacher = torch.nn.Sequential(
    torch.nn.Linear(2, 512),
    torch.nn.ReLU(),
    torch.nn.Linear(512, 512),
    torch.nn.ReLU(),
    torch.nn.Linear(512, 2),
)
optimizer = torch.optim.Adam(teacher.parameters(), lr=1e-3)
Xt, yt = torch.from_numpy(X_train), torch.from_numpy(y_train)
teacher.train()
for epoch in range(30):
    for idx in torch.randperm(len(Xt)).split(64):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(teacher(Xt[idx]), yt[idx])
        loss.backward()
        optimizer.step()
teacher.eval()


def n_params(module):
    return sum(p.numel() for p in module.parameters())


with torch.no_grad():
    teacher_acc = (teacher(torch.from_numpy(X_test)).argmax(1).numpy() == y_test).mean()
print(f"teacher: {n_params(teacher)} parameters, test accuracy {teacher_acc:.3f}")

# %%
# The student: two hidden layers of 32 units.

student = DistilledClassifier(
    teacher,
    temperature=2.0,
    alpha=0.9,
    hidden_layer_sizes=(32, 32),
    max_epochs=20,
    random_state=0,
    device="cpu",
).fit(X_train, y_train)

print(
    f"student: {n_params(student.student_.module_)} parameters, "
    f"test accuracy {student.score(X_test, y_test):.3f}"
)

# %%
# Decision surfaces
# -----------------

xx, yy = np.meshgrid(np.linspace(-2, 3, 200), np.linspace(-1.5, 2, 200))
grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
with torch.no_grad():
    p_teacher = torch.softmax(teacher(torch.from_numpy(grid)), 1)[:, 1].numpy()
p_student = student.predict_proba(grid)[:, 1]

fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, p, title in [
    (axes[0], p_teacher, f"teacher ({n_params(teacher)} params)"),
    (axes[1], p_student, f"student ({n_params(student.student_.module_)} params)"),
]:
    ax.contourf(xx, yy, p.reshape(xx.shape), levels=20, cmap="RdBu_r", alpha=0.8)
    ax.scatter(X_test[:, 0], X_test[:, 1], c=y_test, cmap="RdBu_r", s=6, edgecolor="k", lw=0.2)
    ax.set_title(title)
fig.tight_layout()
plt.show()
