"""Teachers: what a teacher must answer, and one adapter over every kind of teacher.

:class:`Teacher` is the public contract: a teacher answers *outputs for rows*
(logits aligned with its ``classes_`` for classification, predictions for
regression), its *classes* and its *task*. Subclass it to distil a model
skdistill does not know (a remote scoring service, a model in another
runtime) and pass an instance as ``teacher=``, as MAPIE takes a conformity
score object.

Every other teacher is read through an internal adapter (a
:class:`TeacherAdapter`, itself a :class:`Teacher`) that labels rows in
batches and checks what comes back. Adapters expose

* ``outputs(X)``: a float64 array of shape ``(n_samples, n_outputs)``;
* ``classes_`` (classification only);
* ``estimator``: the underlying (fitted) teacher, used as cache identity.

Fitting and adapting are two steps: :func:`fit_teachers` fits a *clone* of an
unfitted teacher (never the teacher itself), :func:`adapt_teacher` turns
fitted teachers into one adapter; :func:`resolve_teacher`, used by ``fit``,
checks, fits, then adapts.

How a fitted model is read
--------------------------
A :class:`Teacher` answers through its own ``outputs``; a torch module through
its forward pass; a raw ``lightgbm.Booster`` / ``xgboost.Booster`` through its
raw margins (its task and number of classes come from its objective,
:func:`booster_info`). A classifier of a boosting library is read through its
raw scores, with the keyword arguments of :data:`RAW_SCORES` (matched by
``isinstance``, so a subclass keeps the path); any other classifier through
the first of ``predict_proba`` and ``decision_function`` it has, as
scikit-learn's stacking picks a response method; a regressor through
``predict``.

The rule on fitted and unfitted teachers
-----------------------------------------
A fitted teacher is used as-is: it is never refit, never copied and never
mutated. A torch teacher is switched to eval mode and, if needed, moved to the
labelling device for the duration of labelling, and restored afterwards, also
when labelling fails. An unfitted teacher is cloned and the clone is fit on the
data passed to ``fit``.

A :class:`sklearn.frozen.FrozenEstimator` is scikit-learn's way of saying "this
model is prefit": it is a fitted teacher (shared, never refit), and the model
inside it is what decides how logits are read (the raw margins of an XGBoost
or LightGBM model). Raw ``lightgbm.Booster`` and ``xgboost.Booster`` models
(from ``lgb.train`` / ``xgb.train``) are fitted teachers too.
"""

import contextlib
import json
import sys
import threading
from abc import ABC, abstractmethod
from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp
from sklearn.base import ClassifierMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags, _safe_indexing
from sklearn.utils.validation import check_is_fitted

from ._checks import add_note
from ._chunks import run_in_chunks

#: Probabilities are clipped to ``[PROBA_CLIP, 1]`` before taking logs, so
#: that a teacher that is certain (probability 0 for a class, as trees often
#: are) gives finite logits: log(1e-6) = -13.8.
PROBA_CLIP = 1e-6

#: Rows labelled by the teacher per call; bounds the teacher's memory use.
DEFAULT_LABELING_BATCH_SIZE = 65536

#: The tasks a teacher can have.
TASKS = ("classification", "regression")


class Teacher(ABC):
    """What a teacher must answer: outputs for rows, its classes, its task.

    Subclass it to distil a model skdistill cannot read by itself (a remote
    scoring service, a model in another runtime) and pass an instance as
    ``teacher=`` to :class:`DistilledClassifier` or
    :class:`DistilledRegressor`, alone or in a list of teachers. An instance
    is a *fitted* teacher: it is never fit, copied or modified; ``clone``
    and grid searches share it, and ``teacher_`` is the instance.

    A subclass sets

    * ``task``: ``"classification"`` or ``"regression"`` (a class attribute
      or set in ``__init__``), checked against the distiller;
    * ``classes_`` (classification): the labels, one per output column, at
      least two; the distiller's ``classes_`` are these;

    and implements :meth:`outputs`. Rows are passed as the distiller got
    them (a DataFrame stays a DataFrame), at most ``labeling_batch_size`` at
    a time. The outputs are checked: one finite row per input row and, for
    classification, one column per class; an error names the teacher.

    The teacher's outputs are cached in the process like any teacher's
    (keyed by the instance). With ``memory=`` they are also cached on disk,
    which needs the instance to be picklable (joblib hashes it). NaN in
    ``X`` is refused unless the subclass says it takes it, with scikit-learn's
    tags (``tags.input_tags.allow_nan = True`` in ``__sklearn_tags__``).

    See Also
    --------
    DistilledClassifier : distils a classification teacher.
    DistilledRegressor : distils a regression teacher.

    Examples
    --------
    A teacher behind a scoring function (here a plain function standing in
    for a web service that returns class probabilities):

    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skdistill import DistilledClassifier, Teacher
    >>> X, y = make_classification(200, random_state=0)
    >>> service = LogisticRegression().fit(X, y).predict_proba  # the remote model
    >>> class RemoteTeacher(Teacher):
    ...     task = "classification"
    ...     def __init__(self, score, classes):
    ...         self.score = score
    ...         self.classes_ = np.asarray(classes)
    ...     def outputs(self, X):
    ...         proba = np.asarray(self.score(X))
    ...         return np.log(np.clip(proba, 1e-6, 1.0))  # logits
    >>> teacher = RemoteTeacher(service, classes=[0, 1])
    >>> student = DistilledClassifier(teacher, max_epochs=5, random_state=0).fit(X, y)
    >>> student.classes_
    array([0, 1])
    """

    #: ``"classification"`` or ``"regression"``; set by subclasses.
    task = None

    @abstractmethod
    def outputs(self, X):
        """The teacher's outputs for the rows ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows as the distiller got them.

        Returns
        -------
        outputs : array-like of shape (n_samples, n_outputs)
            Classification: logits, one column per entry of ``classes_``
            (any per-row shift of them, such as log-probabilities, gives
            the same soft targets). Regression: predictions, one column per
            target (a 1-D array for a single target).
        """

    def __sklearn_tags__(self):
        """scikit-learn's tags: a classifier or a regressor by ``task``; NaN refused.

        Override it (calling ``super().__sklearn_tags__()``) to declare that
        the teacher takes NaN: ``tags.input_tags.allow_nan = True``.
        """
        return Tags(
            estimator_type={"classification": "classifier", "regression": "regressor"}.get(self.task),
            target_tags=TargetTags(required=False),
            classifier_tags=ClassifierTags() if self.task == "classification" else None,
            regressor_tags=RegressorTags() if self.task == "regression" else None,
            requires_fit=False,
        )


def _is_torch_module(obj):
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(obj, torch.nn.Module)


def _is_skorch_net(obj):
    try:
        from skorch import NeuralNet
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, NeuralNet)


def unwrap(teacher):
    """The model inside :class:`~sklearn.frozen.FrozenEstimator` wrappers.

    Any other teacher is returned as is.
    """
    while isinstance(teacher, FrozenEstimator):
        teacher = teacher.estimator
    return teacher


def _final_step(teacher):
    """The model that answers for ``teacher``: a Pipeline's last step, unwrapped."""
    teacher = unwrap(teacher)
    while isinstance(teacher, Pipeline):
        teacher = unwrap(teacher.steps[-1][1])
    return teacher


def _library_of(obj, classes):
    """The library whose class ``classes[library]`` ``obj`` is an instance of, else None.

    The libraries are not imported here: an instance of one of their classes
    exists only if the library already is.
    """
    for lib, name in classes.items():
        module = sys.modules.get(lib)
        cls = getattr(module, name, None) if module is not None else None
        if cls is not None and isinstance(obj, cls):
            return lib
    return None


def raw_booster_kind(obj):
    """``"lightgbm"`` or ``"xgboost"`` for a raw ``Booster``, else None."""
    return _library_of(obj, {"lightgbm": "Booster", "xgboost": "Booster"})


class _RawScores(NamedTuple):
    model: str  #: the library's model class (matched with isinstance: subclasses keep the path)
    predict_params: dict  #: keyword arguments of ``predict`` that give raw scores
    before_proba: bool  #: read so even when the model has ``predict_proba``


#: The classifiers of boosting libraries read through their raw scores (log-odds
#: or one margin per class), so that the temperature acts on true logits. A
#: raw ``catboost.CatBoost`` (from ``catboost.train``) has no ``predict_proba``;
#: ``CatBoostClassifier`` is read through its probabilities.
RAW_SCORES = {
    "xgboost": _RawScores("XGBModel", {"output_margin": True}, before_proba=True),
    "lightgbm": _RawScores("LGBMModel", {"raw_score": True}, before_proba=True),
    "catboost": _RawScores("CatBoost", {"prediction_type": "RawFormulaVal"}, before_proba=False),
}


def _raw_scores_library(model):
    """The entry of :data:`RAW_SCORES` that reads the classifier ``model``, else None."""
    lib = _library_of(model, {lib: spec.model for lib, spec in RAW_SCORES.items()})
    if lib is None or not hasattr(model, "predict"):
        return None
    if not RAW_SCORES[lib].before_proba and hasattr(model, "predict_proba"):
        return None
    return lib


#: The scikit-learn wrappers to use where a raw booster cannot be read.
_WRAPPERS = {
    "lightgbm": ("lightgbm.LGBMClassifier", "lightgbm.LGBMRegressor"),
    "xgboost": ("xgboost.XGBClassifier", "xgboost.XGBRegressor"),
}

#: Objectives whose raw scores are logits (one per class, or one log-odds).
_LIGHTGBM_CLASSIFICATION = {"binary", "multiclass", "multiclassova", "cross_entropy"}
#: Objectives that only make sense for classification.
_LIGHTGBM_CLASSIFICATION_ONLY = {"binary", "multiclass", "multiclassova"}


def booster_info(booster, lib):
    """``(objective, n_outputs)`` of a raw booster.

    ``objective`` is the name the library records in the trained model
    (``"binary"``, ``"multiclass"``, ``"regression"``; ``"binary:logistic"``,
    ``"multi:softprob"``, ``"reg:squarederror"``, ...), ``n_outputs`` the
    number of raw scores per row (1 for binary classification and
    single-target regression, the number of classes for multiclass).
    """
    if lib == "lightgbm":
        # the model text names the objective under its canonical name, also
        # when it was given by an alias or left to its default
        header = booster.model_to_string(num_iteration=1)
        line = next((ln for ln in header.splitlines() if ln.startswith("objective=")), "objective=")
        objective = line.split("=", 1)[1].split(" ")[0] or "custom"
        return objective, int(booster.num_model_per_iteration())
    config = json.loads(booster.save_config())["learner"]
    objective = config["objective"]["name"]
    params = config.get("learner_model_param", {})
    n_classes = int(float(params.get("num_class", 0) or 0))
    n_targets = int(float(params.get("num_target", 1) or 1))
    return objective, max(n_classes, n_targets, 1)


def _booster_is_classifier(objective, lib, *, only=False):
    if lib == "lightgbm":
        names = _LIGHTGBM_CLASSIFICATION_ONLY if only else _LIGHTGBM_CLASSIFICATION
        return objective in names
    return objective.startswith(("binary:", "multi:"))


def _classifier_type(teacher):
    """Whether ``teacher`` declares itself a classifier (tags, or the mixin)."""
    try:
        return is_classifier(teacher)
    except Exception:  # no scikit-learn tags (duck-typed models)
        return isinstance(unwrap(teacher), ClassifierMixin) or (
            getattr(unwrap(teacher), "_estimator_type", None) == "classifier"
        )


def is_fitted(teacher):
    """Whether ``teacher`` is a fitted model (a :class:`Teacher`, torch modules and
    raw boosters always are)."""
    teacher = unwrap(teacher)
    if isinstance(teacher, Teacher) or _is_torch_module(teacher) or raw_booster_kind(teacher) is not None:
        return True
    if _is_skorch_net(teacher):
        return bool(getattr(teacher, "initialized_", False)) and hasattr(teacher, "history_")
    try:
        check_is_fitted(teacher)
    except NotFittedError:
        return False
    except TypeError:
        return False
    except AttributeError:
        # duck-typed models without scikit-learn tags (no BaseEstimator):
        # fitted attributes end with "_", as check_is_fitted assumes
        return any(
            k.endswith("_") and not k.startswith("__") for k in getattr(teacher, "__dict__", {})
        )
    return True


@contextlib.contextmanager
def preserve_torch_state(modules, device=None):
    """Run torch modules in eval mode (and on ``device``) and restore them.

    Train/eval flags of every submodule and the device of each module are
    restored on exit, also when the body raises. Parameters are never
    changed (labelling runs under ``torch.no_grad``) and ``requires_grad`` is
    left alone.
    """
    import torch

    with _TORCH_STATE_LOCK:  # threads sharing a teacher must not restore under each other
        yield from _preserved(modules, device, torch)


#: held while a torch teacher is switched to eval mode (and moved) for labelling
_TORCH_STATE_LOCK = threading.RLock()


def _preserved(modules, device, torch):
    saved = []
    for module in modules:
        flags = [(m, m.training) for m in module.modules()]
        params = list(module.parameters()) + list(module.buffers())
        original = params[0].device if params else None
        saved.append((module, flags, original))
    try:
        for module, _, original in saved:
            module.eval()
            if device is not None and original is not None and torch.device(device) != original:
                module.to(device)
        with torch.no_grad():
            yield
    finally:
        for module, flags, original in saved:
            if original is not None:
                module.to(original)
            for m, flag in flags:
                m.training = flag


class TeacherAdapter(Teacher):
    """The internal base of adapters: batched labelling with an optional progress bar.

    ``estimator`` is what the user passed (the cache identity), ``model`` what
    answers (the model inside a FrozenEstimator); subclasses implement
    ``_outputs_batch`` for one batch of rows.
    """

    task = None  # "classification" or "regression"

    def __init__(self, estimator, *, labeling_batch_size=DEFAULT_LABELING_BATCH_SIZE, verbose=0):
        self.estimator = estimator  # what the user passed: the cache identity
        self.model = unwrap(estimator)  # what answers (the model inside a FrozenEstimator)
        self.labeling_batch_size = labeling_batch_size
        self.verbose = verbose

    # -- to override -----------------------------------------------------
    def _outputs_batch(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def _context(self):
        return contextlib.nullcontext()

    @property
    def members(self):
        """The underlying teachers (one, or several for an ensemble)."""
        return [self]

    # -- public ----------------------------------------------------------
    def outputs(self, X):
        """Teacher outputs for ``X`` as float64, shape (n_samples, n_outputs).

        Rows are labelled ``labeling_batch_size`` at a time. When a chunk
        runs the device out of memory (a CUDA teacher), the chunk is halved
        and retried, down to one row, with one warning (see
        :func:`skdistill._chunks.run_in_chunks`).
        """
        n = X.shape[0]
        name = type(self.estimator).__name__

        def label(start, stop):
            part = _safe_indexing(X, np.arange(start, stop))
            try:
                out = self._outputs_batch(part)
            except Exception as exc:
                add_note(exc, f"while the teacher {name} labelled rows {start}..{stop - 1}")
                raise
            return self._check(out, stop - start)

        with self._context():
            chunks = run_in_chunks(
                label,
                n,
                self.labeling_batch_size,
                what=f"teacher labelling ({name})",
                hint="Lower labeling_batch_size to avoid the retries.",
                progress=bool(self.verbose),
            )
        if not chunks:
            return np.zeros((0, self.n_outputs_ or 0))
        return np.concatenate(chunks, axis=0)

    def _check(self, out, n):
        out = np.asarray(out, dtype=np.float64)
        if out.ndim == 1:
            out = out.reshape(-1, 1)
        if out.ndim != 2 or out.shape[0] != n:
            raise ValueError(
                f"the teacher {type(self.estimator).__name__} returned outputs of shape "
                f"{out.shape} for {n} rows; expected ({n}, n_outputs)"
            )
        if not np.all(np.isfinite(out)):
            raise ValueError(
                f"the teacher {type(self.estimator).__name__} returned NaN or infinite "
                "outputs; a student cannot be distilled from them"
            )
        return out


# ---------------------------------------------------------------------------
# classification


class ClassifierTeacher(TeacherAdapter):
    """Adapter for classifiers; subclasses choose how logits are obtained."""

    task = "classification"

    def __init__(self, estimator, classes, **kwargs):
        super().__init__(estimator, **kwargs)
        self.classes_ = np.asarray(classes)
        self.n_outputs_ = len(self.classes_)

    def _check(self, out, n):
        out = super()._check(out, n)
        if out.shape[1] != self.n_outputs_:
            raise ValueError(
                f"the teacher {type(self.estimator).__name__} returned {out.shape[1]} "
                f"output columns but has {self.n_outputs_} classes {list(self.classes_)}"
            )
        return out


def _two_logits(score):
    """A binary score s (log-odds of the positive class) as logits [0, s]."""
    score = np.asarray(score, dtype=np.float64)
    if score.ndim == 2 and score.shape[1] == 1:
        score = score[:, 0]
    if score.ndim == 1:
        return np.column_stack([np.zeros_like(score), score])
    return score


class ProbaTeacher(ClassifierTeacher):
    """Any classifier with ``predict_proba``: logits are ``log(clip(p))``.

    Probabilities are clipped to ``[PROBA_CLIP, 1]`` (1e-6) first.
    """

    def _outputs_batch(self, X):
        proba = np.asarray(self.estimator.predict_proba(X), dtype=np.float64)
        return np.log(np.clip(proba, PROBA_CLIP, 1.0))


class DecisionFunctionTeacher(ClassifierTeacher):
    """Classifiers with only ``decision_function`` (LinearSVC, RidgeClassifier)."""

    def _outputs_batch(self, X):
        return _two_logits(self.estimator.decision_function(X))


class RawScoreTeacher(ClassifierTeacher):
    """A boosting library's classifier read through its raw scores (see :data:`RAW_SCORES`).

    XGBoost's output margins, LightGBM's raw scores, a raw CatBoost model's
    raw formula values: true logits, so the temperature acts on them.
    """

    def __init__(self, estimator, classes, *, lib, **kwargs):
        super().__init__(estimator, classes, **kwargs)
        self.lib = lib

    def _outputs_batch(self, X):
        return _two_logits(self.model.predict(X, **RAW_SCORES[self.lib].predict_params))


def _booster_raw(booster, lib, X, *, margin):
    if lib == "lightgbm":
        return booster.predict(X, raw_score=margin)
    return booster.inplace_predict(X, predict_type="margin" if margin else "value")


class BoosterTeacher(RawScoreTeacher):
    """A raw ``lightgbm.Booster`` / ``xgboost.Booster`` classifier: raw margins."""

    def _outputs_batch(self, X):
        return _two_logits(_booster_raw(self.model, self.lib, X, margin=True))


class TorchModuleTeacher(TeacherAdapter):
    """A ``torch.nn.Module`` mapping a float tensor to logits (or predictions).

    Runs batched under ``no_grad`` in eval mode on ``device``; the module's
    mode and device are restored afterwards.
    """

    def __init__(self, estimator, *, task, n_outputs, classes=None, device="cpu", **kwargs):
        super().__init__(estimator, **kwargs)
        self.task = task
        self.device = device
        self.n_outputs_ = n_outputs
        if classes is not None:
            self.classes_ = np.asarray(classes)

    def _context(self):
        return preserve_torch_state([self.estimator], self.device)

    def _outputs_batch(self, X):
        import torch

        try:
            arr = np.asarray(X, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "a torch teacher needs numeric input convertible to a float32 array; "
                f"got {type(X).__name__} that could not be converted ({exc})"
            ) from None
        out = self.estimator(torch.from_numpy(np.ascontiguousarray(arr)).to(self.device))
        return out.detach().to("cpu", torch.float64).numpy()

    def _check(self, out, n):
        out = TeacherAdapter._check(self, out, n)
        if self.n_outputs_ is not None and out.shape[1] != self.n_outputs_:
            raise ValueError(
                f"the torch teacher returned {out.shape[1]} output columns, expected "
                f"{self.n_outputs_}"
                + (f" (one per class: {list(self.classes_)})" if hasattr(self, "classes_") else "")
            )
        return out


class _SkorchModuleState:
    """A fitted skorch net labels with its module in eval mode, restored afterwards."""

    def _context(self):
        module = getattr(self.estimator, "module_", None)
        return preserve_torch_state([module]) if module is not None else contextlib.nullcontext()


class SkorchTeacher(_SkorchModuleState, ProbaTeacher):
    """A fitted skorch classifier: ``predict_proba`` with its module's state kept."""


# ---------------------------------------------------------------------------
# regression


class RegressorTeacher(TeacherAdapter):
    """Any regressor with ``predict`` (scikit-learn, XGBoost, LightGBM, CatBoost)."""

    task = "regression"

    def __init__(self, estimator, n_outputs=None, **kwargs):
        super().__init__(estimator, **kwargs)
        self.n_outputs_ = n_outputs

    def _outputs_batch(self, X):
        return self.estimator.predict(X)

    def _check(self, out, n):
        out = super()._check(out, n)
        if self.n_outputs_ is not None and out.shape[1] != self.n_outputs_:
            raise ValueError(
                f"the teacher {type(self.estimator).__name__} returned {out.shape[1]} "
                f"outputs per row, expected {self.n_outputs_}"
            )
        return out


class BoosterRegressorTeacher(RegressorTeacher):
    """A raw ``lightgbm.Booster`` / ``xgboost.Booster`` regressor: its predictions."""

    def __init__(self, estimator, *, lib, **kwargs):
        super().__init__(estimator, **kwargs)
        self.lib = lib

    def _outputs_batch(self, X):
        return _booster_raw(self.model, self.lib, X, margin=False)


class SkorchRegressorTeacher(_SkorchModuleState, RegressorTeacher):
    """A fitted skorch regressor: ``predict`` with its module's state kept."""


# ---------------------------------------------------------------------------
# a user's Teacher


class _UserOutputs:
    """Batches of rows answered by a user's :class:`Teacher` (its ``outputs``)."""

    def _outputs_batch(self, X):
        return self.model.outputs(X)


class UserClassifierTeacher(_UserOutputs, ClassifierTeacher):
    """A user's classification :class:`Teacher`: its logits, batched and checked."""


class UserRegressorTeacher(_UserOutputs, RegressorTeacher):
    """A user's regression :class:`Teacher`: its predictions, batched and checked."""


# ---------------------------------------------------------------------------
# several teachers


class EnsembleTeacher(TeacherAdapter):
    """Several teachers at once, optionally weighted.

    Classification: the soft targets are the weighted mean of the teachers'
    probabilities (each at temperature 1); the ensemble's logits are the log
    of that mean, softened afterwards by the student's temperature.
    Regression: the weighted mean of the predictions.
    """

    def __init__(self, adapters, weights=None, **kwargs):
        first = adapters[0]
        super().__init__(tuple(a.estimator for a in adapters), **kwargs)
        self.adapters = adapters
        self.task = first.task
        self.n_outputs_ = first.n_outputs_
        w = np.ones(len(adapters)) if weights is None else np.asarray(weights, dtype=np.float64)
        self.weights = w / w.sum()
        if self.task == "classification":
            self.classes_ = first.classes_
            for a in adapters[1:]:
                if len(a.classes_) != len(first.classes_) or np.any(a.classes_ != first.classes_):
                    raise ValueError(
                        "all teachers must have the same classes_; got "
                        f"{list(first.classes_)} and {list(a.classes_)}"
                    )

    @property
    def members(self):
        return list(self.adapters)

    def combine(self, outputs):
        """Combine the members' outputs (a list of arrays) into one array."""
        if self.task == "classification":
            stacked = np.stack(outputs)  # (m, n, k)
            log_p = stacked - logsumexp(stacked, axis=2, keepdims=True)
            mixed = np.tensordot(self.weights, np.exp(log_p), axes=1)
            return np.log(np.clip(mixed, PROBA_CLIP, 1.0))
        return np.tensordot(self.weights, np.stack(outputs), axes=1)

    def outputs(self, X):
        return self.combine([a.outputs(X) for a in self.adapters])


# ---------------------------------------------------------------------------
# resolution


def _torch_output_width(module, n_features, device):
    import torch

    with preserve_torch_state([module], device):
        out = module(torch.zeros((2, n_features), dtype=torch.float32, device=device))
    if out.ndim == 1:
        return 1
    return int(out.shape[1])


def _booster_classes(n_classes, y, lib):
    """The classes of a raw booster classifier: ``0 .. k-1``, or y's labels.

    A booster knows only how many classes it has; it was trained on labels
    ``0 .. k-1``. Integer labels of ``y`` within that range are taken as they
    are (a training set may lack a class). Other labels (strings, ...) are
    mapped to ``0 .. k-1`` in sorted order, as :class:`~sklearn.preprocessing.LabelEncoder`
    and the scikit-learn wrappers of the boosting libraries do; that needs
    ``y`` to hold exactly ``k`` distinct labels.
    """
    default = np.arange(n_classes)
    if y is None:
        return default
    labels = np.unique(np.asarray(y))
    if labels.dtype.kind in "iub" or (
        labels.dtype.kind == "f" and np.all(labels == np.round(labels))
    ):
        if labels.size and labels.min() >= 0 and labels.max() < n_classes:
            return default.astype(labels.dtype)
    elif labels.size == n_classes:
        return labels
    raise ValueError(
        f"the {lib}.Booster teacher predicts {n_classes} classes (labels 0 .. "
        f"{n_classes - 1}) but y holds the labels {labels[:10].tolist()}; pass y encoded "
        f"as the booster was trained, or train the scikit-learn wrapper {_WRAPPERS[lib][0]}, "
        "which keeps its classes_"
    )


def _make_booster_adapter(teacher, booster, lib, *, task, y, **kwargs):
    objective, n_outputs = booster_info(booster, lib)
    classifier_wrapper, regressor_wrapper = _WRAPPERS[lib]
    if task == "regression":
        if _booster_is_classifier(objective, lib, only=True):
            raise TypeError(
                f"the {lib}.Booster teacher was trained with the classification objective "
                f"{objective!r}; distil it with DistilledClassifier, not DistilledRegressor"
            )
        return BoosterRegressorTeacher(teacher, lib=lib, **kwargs)
    if not _booster_is_classifier(objective, lib):
        raise TypeError(
            f"the {lib}.Booster teacher was trained with the objective {objective!r}, "
            "whose raw scores are not class logits; DistilledClassifier reads raw boosters "
            + ("with the binary, multiclass, multiclassova or cross_entropy objectives. "
               if lib == "lightgbm" else "with a binary:* or multi:* objective. ")
            + f"Distil a regression booster with DistilledRegressor; for another objective "
            f"train the scikit-learn wrapper {classifier_wrapper}, which has predict_proba"
        )
    n_classes = 2 if n_outputs == 1 else n_outputs
    return BoosterTeacher(teacher, _booster_classes(n_classes, y, lib), lib=lib, **kwargs)


def _check_ovo(teacher, classes):
    """Refuse a one-vs-one decision_function: its columns are pairs of classes."""
    final = _final_step(teacher)
    if len(classes) > 2 and getattr(final, "decision_function_shape", None) == "ovo":
        raise ValueError(
            f"the teacher {type(final).__name__} has decision_function_shape='ovo': its "
            f"decision_function has one column per pair of classes, not one score per class, "
            f"so it cannot give logits for the {len(classes)} classes. Set "
            "decision_function_shape='ovr' (the default) on it, or probability=True to "
            "distil its probabilities."
        )


#: The generic classifier adapters, by response method, in order of preference
#: (logits from probabilities first, as scikit-learn's stacking prefers
#: ``predict_proba``).
RESPONSE_ADAPTERS = {"predict_proba": ProbaTeacher, "decision_function": DecisionFunctionTeacher}

#: The distiller of each task, for the messages.
_DISTILLERS = {"classification": "DistilledClassifier", "regression": "DistilledRegressor"}


def _response_method(model):
    """The first method of :data:`RESPONSE_ADAPTERS` that ``model`` has, or None.

    Not ``_check_response_method(...).__name__`` as in scikit-learn's
    stacking: the adapters call the method by name, and a method set on the
    instance (a function, a ``functools.partial``) need not have the name.
    """
    return next((name for name in RESPONSE_ADAPTERS if hasattr(model, name)), None)


def make_adapter(teacher, *, task, n_features=None, device="cpu", y=None, **kwargs):
    """The adapter for one *fitted* teacher.

    ``y`` (optional) gives the labels of a raw booster classifier, which
    knows only how many classes it has (see :func:`_booster_classes`).
    """
    model = unwrap(teacher)  # a FrozenEstimator answers as the model inside it
    if isinstance(model, Teacher):
        _check_user_teacher(model, task)
        if task == "classification":
            return UserClassifierTeacher(teacher, model.classes_, **kwargs)
        return UserRegressorTeacher(teacher, **kwargs)
    if _is_torch_module(model):
        width = _torch_output_width(model, n_features, device)
        classes = np.arange(width) if task == "classification" else None
        if task == "classification" and width < 2:
            raise ValueError(
                f"a torch classifier teacher must output one logit per class (>= 2 columns); "
                f"it returned {width}"
            )
        return TorchModuleTeacher(
            model, task=task, n_outputs=width, classes=classes, device=device, **kwargs
        )
    booster = raw_booster_kind(model)
    if booster is not None:
        return _make_booster_adapter(teacher, model, booster, task=task, y=y, **kwargs)
    if task == "classification":
        classes = getattr(model, "classes_", None)
        if classes is None:
            raise TypeError(
                f"the teacher {type(model).__name__} has no classes_ attribute; "
                "a classifier teacher must be a fitted classifier"
            )
        if _is_skorch_net(model):
            return SkorchTeacher(teacher, classes, **kwargs)
        lib = _raw_scores_library(model)
        if lib is not None:
            return RawScoreTeacher(teacher, classes, lib=lib, **kwargs)
        method = _response_method(model)
        if method is None:
            raise TypeError(
                f"the teacher {type(model).__name__} has neither predict_proba nor "
                "decision_function"
            )
        if method == "decision_function":
            _check_ovo(model, classes)
        return RESPONSE_ADAPTERS[method](teacher, classes, **kwargs)
    if not hasattr(model, "predict"):
        raise TypeError(f"the teacher {type(model).__name__} has no predict method")
    if _is_skorch_net(model):
        return SkorchRegressorTeacher(teacher, **kwargs)
    return RegressorTeacher(teacher, **kwargs)


def _check_user_teacher(teacher, task):
    """Check what a :class:`Teacher` subclass declares: its task, and its classes."""
    name = type(teacher).__name__
    if teacher.task not in TASKS:
        raise ValueError(
            f"{name}.task must be 'classification' or 'regression'; got {teacher.task!r}. "
            "A Teacher subclass sets task, as a class attribute or in __init__."
        )
    if teacher.task != task:
        raise TypeError(
            f"the teacher {name} has task={teacher.task!r}; {_DISTILLERS[task]} needs a "
            f"{task} teacher. Distil it with {_DISTILLERS[teacher.task]}."
        )
    if task == "regression":
        return
    if getattr(teacher, "classes_", None) is None:
        raise TypeError(
            f"the teacher {name} has task='classification' but no classes_ attribute: a "
            "classification Teacher sets classes_, the labels of its output columns"
        )
    classes = np.asarray(teacher.classes_)
    if classes.ndim != 1 or classes.shape[0] < 2 or len(set(classes.tolist())) != classes.shape[0]:
        raise ValueError(
            f"{name}.classes_ must be a 1-D array of at least two distinct labels, one per "
            f"output column; got {classes.tolist()!r}"
        )


def _check_teacher_type(teacher, task):
    model = unwrap(teacher)
    if isinstance(model, Teacher):
        _check_user_teacher(model, task)
        return
    if _is_torch_module(model):
        return
    if raw_booster_kind(model) is not None:
        return  # its objective is checked against the task in make_adapter
    if not (hasattr(model, "fit") or hasattr(model, "predict")):
        raise TypeError(
            f"teacher must be a scikit-learn style estimator, a torch.nn.Module, a "
            f"skdistill.Teacher or a list of them; got {type(model).__name__}"
        )
    if task == "classification" and not _is_skorch_net(model):
        if _response_method(model) is None and not _classifier_type(teacher):
            raise TypeError(
                f"the teacher {type(model).__name__} is not a classifier: it has neither "
                "predict_proba nor decision_function"
            )
    if task == "regression" and _classifier_type(teacher):
        final = _final_step(teacher)
        raise TypeError(
            f"the teacher {type(teacher).__name__}"
            + (f" (ending in {type(final).__name__})" if final is not teacher else "")
            + " is a classifier; DistilledRegressor needs a regressor teacher. Distil a "
            "classifier with DistilledClassifier."
        )


def teacher_list(teacher):
    """The teachers as a list, and whether several were given."""
    if isinstance(teacher, (list, tuple)):
        if len(teacher) == 0:
            raise ValueError("teacher is an empty list")
        return list(teacher), True
    return [teacher], False


def check_teacher_weights(weights, n_teachers):
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) != n_teachers:
        raise ValueError(
            f"teacher_weights has {w.size} values but there are {n_teachers} teachers"
        )
    if np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ValueError("teacher_weights must be finite, non-negative and not all zero")
    return w


def _checked_teachers(teacher, weights, task):
    """``(teachers, several, weights)``: what was passed as ``teacher``, checked.

    The weights against the number of teachers, each teacher against the
    task (a wrong one is named by its place in a list). Nothing is fit.
    """
    teachers, several = teacher_list(teacher)
    weights = check_teacher_weights(weights, len(teachers))
    if weights is not None and not several:
        raise ValueError("teacher_weights is only meaningful with a list of teachers")
    for i, t in enumerate(teachers):
        try:
            _check_teacher_type(t, task)
        except (TypeError, ValueError) as exc:
            if several:
                add_note(exc, f"teacher[{i}] of the list of teachers")
            raise
    return teachers, several, weights


def fit_unfitted(teacher, X, y, fit_one):
    """Clone and fit ``teacher`` if it is unfitted; return the fitted teacher.

    ``fit_one(clone, X, y, teacher)`` does the fitting (it may be cached);
    it gets the original ``teacher`` too, to find the fit parameters routed
    to it.
    """
    if is_fitted(teacher):
        return teacher
    if isinstance(teacher, FrozenEstimator):
        raise ValueError(
            f"the teacher is a FrozenEstimator around an unfitted "
            f"{type(unwrap(teacher)).__name__}: a frozen model is never fit. Freeze a fitted "
            "model, or pass the unfitted model itself to have a clone of it fit on X, y."
        )
    if y is None:
        raise ValueError(
            f"the teacher {type(teacher).__name__} is not fitted, so y is required to fit it"
        )
    return fit_one(clone(teacher), X, y, teacher)


def fit_teachers(teacher, X, y, fit_one):
    """The teacher (or list of teachers) with each unfitted one replaced by a fitted clone.

    A list gives a list; fitted teachers are kept as they are (see
    :func:`fit_unfitted`).
    """
    teachers, several = teacher_list(teacher)
    fitted = [fit_unfitted(t, X, y, fit_one) for t in teachers]
    return fitted if several else fitted[0]


def adapt_teacher(teacher, weights=None, *, task, n_features=None, device="cpu", y=None, **kwargs):
    """One adapter for a *fitted* teacher or list of teachers; nothing is fit.

    Parameters
    ----------
    teacher : fitted teacher or list of fitted teachers
        As the distiller's ``teacher`` (or ``teacher_``).
    weights : array-like of shape (n_teachers,), default=None
        ``teacher_weights``, for a list of teachers.
    task : {"classification", "regression"}
        The distiller's task; each teacher is checked against it.
    n_features : int, default=None
        Width of the rows, to probe a torch module's number of outputs.
    device : str or torch.device, default="cpu"
        Where a torch module labels.
    y : array-like, default=None
        The labels a raw booster classifier was trained on (it knows only
        their number).
    **kwargs
        ``labeling_batch_size`` and ``verbose`` of the adapters.

    Returns
    -------
    adapter : TeacherAdapter
        An :class:`EnsembleTeacher` for a list of teachers.
    """
    teachers, several, weights = _checked_teachers(teacher, weights, task)
    adapters = [
        make_adapter(t, task=task, n_features=n_features, device=device, y=y, **kwargs)
        for t in teachers
    ]
    if several:
        return EnsembleTeacher(adapters, weights, **kwargs)
    return adapters[0]


def resolve_teacher(teacher, weights, *, task, X, y, n_features, device, fit_one, **kwargs):
    """Check, fit what needs fitting, and adapt: the teacher step of ``fit``.

    Every teacher is checked before any is fit; fitting is
    :func:`fit_teachers` (``fit_one`` fits one clone), adapting
    :func:`adapt_teacher`.
    """
    _checked_teachers(teacher, weights, task)
    fitted = fit_teachers(teacher, X, y, fit_one)
    return adapt_teacher(fitted, weights, task=task, n_features=n_features, device=device, y=y, **kwargs)
