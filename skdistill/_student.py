"""The student: a default MLP, a skorch net with a tensor-resident data path.

skorch's default data path builds a per-row ``Dataset`` and a ``DataLoader``
that collates rows one by one. Students train on dense float matrices, so
skdistill keeps the whole transfer set as tensors (on the training device
when it fits there) and slices batches from them with :class:`TensorBatches`,
plugged in through skorch's ``iterator_train`` / ``iterator_valid``
extension points. Callbacks, history and ``student_`` work as usual.
"""

import copy
import inspect

import numpy as np
import torch
from skorch import NeuralNet, NeuralNetBinaryClassifier, NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from skorch.dataset import ValidSplit
from torch import nn
from torch.utils.data import Subset, TensorDataset

from ._checks import check_callbacks
from ._chunks import run_in_chunks
from ._device import net_device, resident_device, resolve_device  # noqa: F401  (old import path)
from ._loss import FIDELITY_METRICS


class MLP(nn.Module):
    """A plain multilayer perceptron: Linear, ReLU, Dropout blocks.

    Parameters
    ----------
    n_inputs, n_outputs : int
    hidden_layer_sizes : tuple of int, default=(256, 256)
    dropout : float, default=0.0
    """

    def __init__(self, n_inputs, n_outputs, hidden_layer_sizes=(256, 256), dropout=0.0):
        super().__init__()
        layers = []
        width = n_inputs
        for h in hidden_layer_sizes:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


def auto_hidden_sizes(n_inputs):
    """Hidden sizes "sized from the data": two layers of 2 x inputs, in [64, 256]."""
    width = int(min(256, max(64, 2 * n_inputs)))
    return (width, width)


class TensorBatches:
    """A DataLoader replacement that slices batches from resident tensors.

    Accepts a :class:`torch.utils.data.TensorDataset` or a ``Subset`` of one
    (as made by skorch's ``ValidSplit``). One random permutation per epoch,
    drawn on the tensors' device; no per-row Python, no collation.
    """

    def __init__(self, dataset, batch_size=256, shuffle=False, **kwargs):
        if isinstance(dataset, Subset):
            base = dataset.dataset
            index = torch.as_tensor(np.asarray(dataset.indices), dtype=torch.long)
            X, y = base.tensors
            index = index.to(X.device)
            self.X, self.y = X[index], y[index]
        elif isinstance(dataset, TensorDataset):
            self.X, self.y = dataset.tensors
        else:
            raise TypeError(f"TensorBatches needs a TensorDataset, got {type(dataset).__name__}")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle

    def __len__(self):
        n = self.X.shape[0]
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = self.X.shape[0]
        if self.shuffle:
            order = torch.randperm(n, device=self.X.device)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                yield self.X[idx], self.y[idx]
        else:
            for start in range(0, n, self.batch_size):
                yield self.X[start : start + self.batch_size], self.y[start : start + self.batch_size]


class TeacherFidelity(Callback):
    """skorch callback: how closely the student follows the teacher on the
    validation slice, recorded in the history after each epoch.

    It asks the net's criterion (:class:`DistillationLoss` or
    :class:`RegressionDistillationLoss`) for ``teacher_fidelity`` on every
    validation batch and records the means over the slice (weighted by the
    rows' weights, see ``sample_weight`` in ``fit``) as
    ``valid_teacher_kl`` and ``valid_teacher_agreement`` (classification) or
    ``valid_teacher_mse`` (regression), which ``EarlyStopping`` or
    ``Checkpoint`` can monitor. Without a validation slice
    (``train_split=None``) it records nothing. The distillers add it when
    ``early_stopping`` is set.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skdistill import DistilledClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> teacher = LogisticRegression().fit(X, y)
    >>> student = DistilledClassifier(teacher, early_stopping="teacher_agreement",
    ...                               max_epochs=5, random_state=0).fit(X, y)
    >>> 0.5 < student.student_.history[-1, "valid_teacher_agreement"] <= 1.0
    True
    """

    def on_epoch_begin(self, net, **kwargs):
        self.sums_, self.rows_ = {}, 0

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if training or y_pred is None:
            return
        _, yi = batch
        for name, total in net.criterion_.teacher_fidelity(y_pred, yi).items():
            self.sums_[name] = self.sums_.get(name, 0.0) + total
        self.rows_ += float(net.criterion_.row_weight(yi).sum())

    def on_epoch_end(self, net, **kwargs):
        if self.rows_:
            for name, total in self.sums_.items():
                net.history.record(f"valid_{name}", total / self.rows_)


def early_stopping_callbacks(early_stopping, task, patience):
    """The callbacks for the ``early_stopping`` parameter (none when False).

    ``True`` or ``"loss"`` monitors the distillation loss on the validation
    slice; a name of :data:`~skdistill._loss.FIDELITY_METRICS` monitors how
    closely the student follows the teacher there. The best epoch's weights
    are restored.
    """
    if isinstance(early_stopping, str) and early_stopping != "loss":
        lower = FIDELITY_METRICS[task][early_stopping]
        monitor = f"valid_{early_stopping}"
    elif early_stopping:
        monitor, lower = "valid_loss", True
    else:
        return []
    es = EarlyStopping(monitor=monitor, patience=patience, lower_is_better=lower, load_best=True)
    return [("teacher_fidelity", TeacherFidelity()), ("early_stopping", es)]


class StudentNet(NeuralNet):
    """skorch net used for students; ``fit`` takes a TensorDataset.

    Batches arrive already on the training device, so ``infer`` and
    ``get_loss`` move nothing.
    """

    def initialize(self):
        super().initialize()
        # skorch unpickles module_, optimizer_ and criterion_ onto the CPU when
        # CUDA is missing; the module instance (``module``, the same object as
        # ``module_``) and an LRScheduler's optimizer reference (callbacks,
        # skorch#1096) must go the same way
        self.cuda_dependent_attributes_ = list(
            dict.fromkeys([*self.cuda_dependent_attributes_, "module", "callbacks"])
        )
        return self

    def get_dataset(self, X, y=None):
        if isinstance(X, (TensorDataset, Subset)):
            return X
        return super().get_dataset(X, y)


_PLAIN_NETS = (NeuralNet, NeuralNetClassifier, NeuralNetBinaryClassifier, NeuralNetRegressor)


def make_module(student, n_inputs, n_outputs, hidden_layer_sizes, dropout, n_sizing_inputs=None):
    """The torch module for the ``student`` parameter (None, class or instance).

    "auto" hidden sizes come from ``n_sizing_inputs`` (default ``n_inputs``).
    """
    if student is None:
        n_sizing = n_inputs if n_sizing_inputs is None else n_sizing_inputs
        sizes = auto_hidden_sizes(n_sizing) if hidden_layer_sizes == "auto" else tuple(hidden_layer_sizes)
        if not all(isinstance(h, (int, np.integer)) and h > 0 for h in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers; got {sizes}")
        return MLP(n_inputs, n_outputs, sizes, dropout)
    if isinstance(student, type) and issubclass(student, nn.Module):
        params = inspect.signature(student).parameters
        if "n_inputs" not in params or "n_outputs" not in params:
            raise TypeError(
                f"a student module class must accept n_inputs and n_outputs keyword "
                f"arguments; {student.__name__} does not"
            )
        return student(n_inputs=n_inputs, n_outputs=n_outputs)
    if isinstance(student, nn.Module):
        return copy.deepcopy(student)  # never train the user's instance
    if isinstance(student, type) and hasattr(student, "fit"):
        raise TypeError(
            f"student={student.__name__} is a class; pass an unfitted instance, e.g. "
            f"student={student.__name__}()"
        )
    raise TypeError(
        "student must be None, a torch.nn.Module class or instance, a skorch NeuralNet, "
        f"or an unfitted scikit-learn estimator; got {type(student).__name__}"
    )


def build_student(
    *,
    student,
    criterion,
    criterion_params,
    n_inputs,
    n_outputs,
    hidden_layer_sizes,
    n_sizing_inputs=None,
    dropout,
    max_epochs,
    batch_size,
    lr,
    weight_decay,
    device,
    early_stopping,
    task,
    validation_fraction,
    n_iter_no_change,
    callbacks,
    verbose,
    random_state=None,
):
    """A skorch :class:`StudentNet` ready to fit on a TensorDataset.

    If ``student`` is a skorch net, its own settings (module, optimizer, lr,
    epochs, batch size, callbacks, ...) are used; skdistill sets only the
    criterion and the data path.
    """
    fast_path = dict(
        iterator_train=TensorBatches,
        iterator_valid=TensorBatches,
        iterator_train__shuffle=True,
        dataset=TensorDataset,
    )
    crit = {f"criterion__{k}": v for k, v in criterion_params.items()}
    if isinstance(student, NeuralNet):
        params = {k: v for k, v in student.get_params(deep=False).items()}
        params.update(criterion=criterion, **crit, **fast_path)
        params.pop("classes", None)
        params.setdefault("train_split", None)
        if isinstance(params.get("module"), nn.Module):
            params["module"] = copy.deepcopy(params["module"])
        # skorch's own classes become a StudentNet; a user's subclass (say with
        # skorch.hf.AccelerateMixin) is kept, so its behaviour is too
        cls = StudentNet if type(student) in _PLAIN_NETS else type(student)
        return cls(**params)

    cbs = check_callbacks(callbacks)
    train_split = None
    stopping = early_stopping_callbacks(early_stopping, task, n_iter_no_change)
    if stopping:
        # seeded, so that the held-out rows (and so training) are reproducible
        train_split = ValidSplit(validation_fraction, stratified=False, random_state=random_state)
        cbs += stopping
    cbs.append(("lr_scheduler", LRScheduler(policy="CosineAnnealingLR", T_max=max_epochs)))
    module = make_module(student, n_inputs, n_outputs, hidden_layer_sizes, dropout, n_sizing_inputs)
    return StudentNet(
        module=module,
        criterion=criterion,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=weight_decay,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=train_split,
        callbacks=cbs,
        device=device,
        verbose=verbose,
        **crit,
        **fast_path,
    )


@torch.inference_mode()
def predict_raw(module, Z, device, batch_size=65536):
    """Forward ``Z`` (float32 numpy) through ``module`` in bounded chunks.

    Returns a float32 numpy array. When the device runs out of memory, the
    chunks are halved and the rows retried (:func:`~skdistill._chunks.run_in_chunks`).
    """
    module.eval()
    if Z.shape[0] == 0:
        raise ValueError("cannot predict on 0 rows")

    def forward(start, stop):
        res = module(torch.from_numpy(Z[start:stop]).to(device, non_blocking=True))
        if res.ndim == 1:
            res = res[:, None]
        return res.float().cpu().numpy()

    parts = run_in_chunks(
        forward, Z.shape[0], batch_size, what="student prediction",
        hint="Predict on fewer rows at a time to avoid the retries.",
    )
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
