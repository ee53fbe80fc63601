"""Teacher adapters: one interface over every kind of teacher.

Every adapter exposes

* ``outputs(X)``: a float64 array of shape ``(n_samples, n_outputs)``;
  logits aligned with ``classes_`` for classification, predictions for
  regression;
* ``classes_`` (classification only);
* ``estimator``: the underlying (fitted) teacher, used as cache identity.

:func:`resolve_teacher` turns what the user passed as ``teacher`` into an
adapter, fitting a *clone* of an unfitted teacher (never the teacher itself).

The rule on fitted and unfitted teachers
-----------------------------------------
A fitted teacher is used as-is: it is never refit, never copied and never
mutated. A torch teacher is switched to eval mode and, if needed, moved to the
labelling device for the duration of labelling, and restored afterwards, also
when labelling fails. An unfitted teacher is cloned and the clone is fit on the
data passed to ``fit``.
"""

import contextlib
import threading

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from ._checks import add_note
from ._chunks import run_in_chunks

#: Probabilities are clipped to ``[PROBA_CLIP, 1]`` before taking logs, so
#: that a teacher that is certain (probability 0 for a class, as trees often
#: are) gives finite logits: log(1e-6) = -13.8.
PROBA_CLIP = 1e-6

#: Rows labelled by the teacher per call; bounds the teacher's memory use.
DEFAULT_LABELING_BATCH_SIZE = 65536


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


def is_fitted(teacher):
    """Whether ``teacher`` is a fitted model (torch modules always are)."""
    if _is_torch_module(teacher):
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


def _module_name(est):
    return type(est).__module__.split(".")[0]


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


class TeacherAdapter:
    """Base class: batched labelling with an optional progress bar."""

    task = None  # "classification" or "regression"

    def __init__(self, estimator, *, labeling_batch_size=DEFAULT_LABELING_BATCH_SIZE, verbose=0):
        self.estimator = estimator
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


class XGBoostTeacher(ClassifierTeacher):
    """XGBoost scikit-learn API: raw margins, so temperature acts on true logits."""

    def _outputs_batch(self, X):
        return _two_logits(self.estimator.predict(X, output_margin=True))


class LightGBMTeacher(ClassifierTeacher):
    """LightGBM scikit-learn API: raw scores."""

    def _outputs_batch(self, X):
        return _two_logits(self.estimator.predict(X, raw_score=True))


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


class SkorchTeacher(ProbaTeacher):
    """A fitted skorch classifier: ``predict_proba`` with its module's state kept."""

    def _context(self):
        module = getattr(self.estimator, "module_", None)
        return preserve_torch_state([module]) if module is not None else contextlib.nullcontext()


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


class SkorchRegressorTeacher(RegressorTeacher):
    def _context(self):
        module = getattr(self.estimator, "module_", None)
        return preserve_torch_state([module]) if module is not None else contextlib.nullcontext()


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
            log_p = stacked - _logsumexp(stacked, axis=2)[..., None]
            mixed = np.tensordot(self.weights, np.exp(log_p), axes=1)
            return np.log(np.clip(mixed, PROBA_CLIP, 1.0))
        return np.tensordot(self.weights, np.stack(outputs), axes=1)

    def outputs(self, X):
        return self.combine([a.outputs(X) for a in self.adapters])


def _logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return (m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))).squeeze(axis)


# ---------------------------------------------------------------------------
# resolution


def _torch_output_width(module, n_features, device):
    import torch

    with preserve_torch_state([module], device):
        out = module(torch.zeros((2, n_features), dtype=torch.float32, device=device))
    if out.ndim == 1:
        return 1
    return int(out.shape[1])


def make_adapter(teacher, *, task, n_features=None, device="cpu", **kwargs):
    """The adapter for one *fitted* teacher."""
    if _is_torch_module(teacher):
        width = _torch_output_width(teacher, n_features, device)
        classes = np.arange(width) if task == "classification" else None
        if task == "classification" and width < 2:
            raise ValueError(
                f"a torch classifier teacher must output one logit per class (>= 2 columns); "
                f"it returned {width}"
            )
        return TorchModuleTeacher(
            teacher, task=task, n_outputs=width, classes=classes, device=device, **kwargs
        )
    if task == "classification":
        classes = getattr(teacher, "classes_", None)
        if classes is None:
            raise TypeError(
                f"the teacher {type(teacher).__name__} has no classes_ attribute; "
                "a classifier teacher must be a fitted classifier"
            )
        if _is_skorch_net(teacher):
            return SkorchTeacher(teacher, classes, **kwargs)
        lib = _module_name(teacher)
        if lib == "xgboost" and hasattr(teacher, "predict"):
            return XGBoostTeacher(teacher, classes, **kwargs)
        if lib == "lightgbm" and hasattr(teacher, "predict"):
            return LightGBMTeacher(teacher, classes, **kwargs)
        if hasattr(teacher, "predict_proba"):
            return ProbaTeacher(teacher, classes, **kwargs)
        if hasattr(teacher, "decision_function"):
            return DecisionFunctionTeacher(teacher, classes, **kwargs)
        raise TypeError(
            f"the teacher {type(teacher).__name__} has neither predict_proba nor "
            "decision_function"
        )
    if not hasattr(teacher, "predict"):
        raise TypeError(f"the teacher {type(teacher).__name__} has no predict method")
    if _is_skorch_net(teacher):
        return SkorchRegressorTeacher(teacher, **kwargs)
    return RegressorTeacher(teacher, **kwargs)


def _check_teacher_type(teacher, task):
    if _is_torch_module(teacher):
        return
    if not (hasattr(teacher, "fit") or hasattr(teacher, "predict")):
        raise TypeError(
            f"teacher must be a scikit-learn style estimator, a torch.nn.Module or a "
            f"list of them; got {type(teacher).__name__}"
        )
    if task == "classification" and not _is_skorch_net(teacher):
        if not (
            hasattr(teacher, "predict_proba")
            or hasattr(teacher, "decision_function")
            or is_classifier(teacher)
        ):
            raise TypeError(
                f"the teacher {type(teacher).__name__} is not a classifier: it has neither "
                "predict_proba nor decision_function"
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


def fit_unfitted(teacher, X, y, fit_one):
    """Clone and fit ``teacher`` if it is unfitted; return the fitted teacher.

    ``fit_one(clone, X, y, teacher)`` does the fitting (it may be cached);
    it gets the original ``teacher`` too, to find the fit parameters routed
    to it.
    """
    if is_fitted(teacher):
        return teacher
    if y is None:
        raise ValueError(
            f"the teacher {type(teacher).__name__} is not fitted, so y is required to fit it"
        )
    return fit_one(clone(teacher), X, y, teacher)


def resolve_teacher(teacher, weights, *, task, X, y, n_features, device, fit_one, **kwargs):
    """Fit what needs fitting and return one adapter for ``teacher``."""
    teachers, several = teacher_list(teacher)
    weights = check_teacher_weights(weights, len(teachers))
    if weights is not None and not several:
        raise ValueError("teacher_weights is only meaningful with a list of teachers")
    adapters = []
    for t in teachers:
        _check_teacher_type(t, task)
        fitted = fit_unfitted(t, X, y, fit_one)
        adapters.append(make_adapter(fitted, task=task, n_features=n_features, device=device, **kwargs))
    if several:
        return EnsembleTeacher(adapters, weights, **kwargs)
    return adapters[0]
