"""A skorch callback that records what the student trains on."""

import numpy as np
from skorch.callbacks import Callback


class RecordTargets(Callback):
    """Records the training targets of the student, one row per transfer row.

    The student fits a ``TensorDataset`` of the encoded rows and their packed
    targets: for a classifier ``[teacher logits (one per class), label (-1 for
    a row without one), weight]``, for a regressor ``[teacher predictions,
    targets, has target, weight]`` in standardized units. ``targets_`` holds
    them as float64, in the order of the transfer set (the rows of ``X``,
    then those of ``X_unlabeled``, then the synthetic rows).

    Pass it as ``callbacks=[("record", RecordTargets())]``.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.targets_ = X.tensors[1].cpu().numpy().astype(np.float64)
