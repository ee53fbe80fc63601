"""The student's torch and skorch plumbing, for users who build their own student.

:class:`~skdistill.DistilledClassifier` and :class:`~skdistill.DistilledRegressor`
use these by default; most users never touch them. They matter when you pass
your own ``student=`` (a skorch net whose criterion is a distillation loss,
a module trained by :class:`StudentNet`) or read the fidelity scores that
early stopping records. As ``skorch.callbacks`` does for skorch, this
namespace holds them apart from the estimators; they stay importable from
:mod:`skdistill` as well.

* :class:`MLP`: the default student module;
* :class:`StudentNet`: the skorch net that trains it on resident tensors,
  with :class:`TensorBatches` as its data loader;
* :class:`TeacherFidelity`: the callback recording how closely the student
  follows the teacher on held-out rows;
* :class:`DistillationLoss`, :class:`RegressionDistillationLoss` and their
  functions :func:`distillation_loss`, :func:`regression_distillation_loss`:
  the skorch criteria, on targets packed as described in
  :mod:`skdistill._loss`.

Examples
--------
>>> import torch
>>> from skdistill.nn import MLP, distillation_loss
>>> module = MLP(n_inputs=3, n_outputs=2, hidden_layer_sizes=(4,))
>>> logits = module(torch.zeros(5, 3))
>>> loss = distillation_loss(logits, torch.zeros(5, 2), torch.full((5,), -1),
...                          temperature=2.0, alpha=1.0)
>>> tuple(logits.shape), loss.ndim
((5, 2), 0)
"""

from ._loss import (
    DistillationLoss,
    RegressionDistillationLoss,
    distillation_loss,
    regression_distillation_loss,
)
from ._student import MLP, StudentNet, TeacherFidelity, TensorBatches

__all__ = [
    "MLP",
    "StudentNet",
    "TensorBatches",
    "TeacherFidelity",
    "DistillationLoss",
    "RegressionDistillationLoss",
    "distillation_loss",
    "regression_distillation_loss",
]
