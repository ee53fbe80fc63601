"""skdistill: knowledge distillation as scikit-learn estimators.

Compress a slow or large model (the teacher) into a small neural student
trained with skorch, that answers like the teacher. The student's torch and
skorch plumbing (its module, net, data loader, callback and losses) is in
:mod:`skdistill.nn`.
"""

from importlib.metadata import PackageNotFoundError, version

from ._augment import MungeAugmenter
from ._broadcast import broadcast_teacher
from ._cache import clear_cache
from ._dask import label_transfer_set
from ._display import CompressionTradeoffDisplay, DistillationGridDisplay, ProbabilityAgreementDisplay
from ._metrics import agreement_score
from ._classifier import DistilledClassifier
from ._export import onnx_inputs, to_onnx
from ._persist import load_student, save_student
from ._preprocessing import PiecewiseLinearEncoder, infer_column_kinds, make_default_preprocessor
from ._regressor import DistilledRegressor
from ._report import compare_models, model_size_bytes
from ._teacher import Teacher
from ._transfer_format import TransferSet
from . import nn
# the student's plumbing lives in skdistill.nn; its names stay importable from here
from .nn import (
    MLP,
    DistillationLoss,
    RegressionDistillationLoss,
    StudentNet,
    TeacherFidelity,
    TensorBatches,
    distillation_loss,
    regression_distillation_loss,
)

try:  # one home for the version: pyproject.toml, read from the installed metadata
    __version__ = version("skdistill")
except PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "DistilledClassifier",
    "DistilledRegressor",
    "Teacher",
    "MungeAugmenter",
    "MLP",
    "StudentNet",
    "TensorBatches",
    "TeacherFidelity",
    "DistillationLoss",
    "RegressionDistillationLoss",
    "distillation_loss",
    "regression_distillation_loss",
    "make_default_preprocessor",
    "PiecewiseLinearEncoder",
    "infer_column_kinds",
    "clear_cache",
    "compare_models",
    "model_size_bytes",
    "agreement_score",
    "DistillationGridDisplay",
    "CompressionTradeoffDisplay",
    "ProbabilityAgreementDisplay",
    "to_onnx",
    "onnx_inputs",
    "save_student",
    "load_student",
    "TransferSet",
    "label_transfer_set",
    "broadcast_teacher",
    "__version__",
]
