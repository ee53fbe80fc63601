"""A scikit-learn estimator as the student, beside the default neural one.

``student=`` may be an unfitted scikit-learn estimator (a
``HistGradientBoostingRegressor``, ``DecisionTreeRegressor``, ``Ridge``,
``LGBMRegressor``, ...). Everything up to the student is the ordinary fit
(teacher adapter and caches, the student preprocessor, the transfer set with
MUNGE and unlabeled rows, the packed targets of :mod:`skdistill._loss`); only
the training step and the forward pass differ, and they live here
(:func:`fit_sklearn_student`, :class:`SklearnStudent`).

The student fits the encoded inputs ``Z`` that the MLP gets (the fitted
``preprocessor_``: the ``numeric_encoding`` of numbers with missing
indicators, one-hot categories). Both numeric encodings are monotone per
column, so a tree splits Z as it would split the raw numbers; on the
benchmark tables a HistGradientBoosting student was as accurate on Z as on
the raw numbers with ordinal-encoded categories (see docs/user_guide.rst).
For a tree whose thresholds read in the units of X, pass a ``preprocessor``
that keeps them (for instance an ``OrdinalEncoder`` / passthrough
``ColumnTransformer``).

How it learns the teacher:

* **regression**: a clone of the student fits, on standardized units (those of
  :class:`~skdistill.DistilledRegressor`), the blend
  ``alpha * teacher + (1 - alpha) * y`` on the real rows and the teacher's
  prediction on the synthetic and unlabeled rows.
* **classification, a regressor student** (logit regression): the target
  distribution of a row is the mixture that Hinton's loss is the
  cross-entropy to, at temperature T::

      q = alpha * softmax(z_teacher / T) + (1 - alpha) * onehot(y)   (real rows)
      q = softmax(z_teacher / T)                                     (other rows)

  floored at ``LOGIT_FLOOR / k`` (``q <- (1 - f) q + f / k``) so that its
  logarithm is finite. The student regresses ``log q`` centred per row (one
  output per class, through ``MultiOutputRegressor`` when the model has no
  native multi-output support; for two classes the single output
  ``log q_1 - log q_0``). It thus predicts logits at temperature T, and the
  estimator's logits are the prediction times T: ``predict_proba`` is
  ``softmax(T * u)``, which at ``alpha=1`` is the teacher's temperature-1
  distribution (``softmax(z_teacher)``) when the student fits its target
  exactly. ``alpha`` sets how far the labels pull; T sets how soft the
  teacher's part is when mixed with them. At ``alpha=1`` T only rescales
  the targets, to which trees and unregularised linear models are
  (nearly) indifferent.
* **classification, a classifier student** (soft labels through weights): each
  transfer row is repeated once per class ``c`` with ``sample_weight = q_c``
  (the same ``q``) and label ``c``; the student must accept
  ``sample_weight``. Classes below :data:`MIN_REPLICA_WEIGHT` get no
  replica (the row's weight is shared by its other replicas): with many
  classes most replicas weigh next to nothing, and without them a
  HistGradientBoosting student was faster and more accurate (tuning splits
  1000/1001 of the quality benchmark: modeldata/leaf_id_flavia, 32 classes,
  fit 278-290 s -> 38-39 s with a HistGradientBoosting teacher, accuracy up
  0.5 to 2.3 points on all 4 runs; higher on 19 of 28 runs over 7
  classification tables, lower on 8). Its ``predict_proba`` estimates ``q``,
  sharpened back to temperature 1 in the same way: the logits are
  ``T * log p``. A HistGradientBoosting student's ``early_stopping="auto"``
  is decided on the transfer rows, not on their replicas (see
  ``_resolve_auto_early_stopping``).

Both were measured on two real tables (docs/user_guide.rst): about as close
to the teacher (the weighted classifier slightly closer with five classes),
the weighted rows k times as many to fit. For a boosted student the user
guide's recipe ("A boosted student": a classifier on weighted rows, no
MUNGE rows, ``alpha=0.5``, ``temperature=1``) did better than the defaults
on the quality benchmark's tuning splits.
"""

import numpy as np
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.multioutput import MultiOutputRegressor
from sklearn.utils import get_tags
from sklearn.utils.validation import has_fit_parameter

from ._optional import import_optional

#: Probability mass mixed, uniformly over the classes, into the target
#: distribution of a regressed-logits student, so that its logarithm is
#: finite (a hard label or a forest's zero probability would be -inf) and the
#: targets are not dominated by how close to 0 a vanishing probability is.
LOGIT_FLOOR = 1e-2

#: The parameters of the distillers that only the neural student uses.
NEURAL_ONLY_PARAMS = (
    "hidden_layer_sizes",
    "dropout",
    "max_epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "early_stopping",
    "validation_fraction",
    "n_iter_no_change",
    "callbacks",
    "device",
)


def is_sklearn_student(student):
    """Whether ``student`` is a scikit-learn style estimator (not a torch module or skorch net)."""
    if student is None or isinstance(student, type):
        return False
    from skorch import NeuralNet
    from torch import nn

    if isinstance(student, (nn.Module, NeuralNet)):
        return False
    return is_regressor(student) or is_classifier(student) or (
        hasattr(student, "fit") and hasattr(student, "predict") and hasattr(student, "get_params")
    )


def _check_student(student, task):
    """``"regression"`` or ``"weights"``: how ``student`` learns; raises for an unfit kind."""
    name = type(student).__name__
    if is_classifier(student):
        if task == "regression":
            raise TypeError(
                f"student={name} is a classifier; a DistilledRegressor needs a regressor "
                "student (HistGradientBoostingRegressor, Ridge, ...)"
            )
        if not has_fit_parameter(student, "sample_weight"):
            raise TypeError(
                f"student={name} is a classifier whose fit takes no sample_weight; a "
                "classifier student learns the teacher's probabilities as row weights. "
                "Pass a regressor (it then regresses the teacher's logits) or a "
                "classifier that accepts sample_weight"
            )
        return "weights"
    return "regression"


class SklearnStudent:
    """A fitted scikit-learn student and how its outputs map to the distiller's.

    ``estimator_`` is the fitted model (what the distiller exposes as
    ``student_``); :meth:`raw_predict` gives what the neural student's
    forward pass gives: logits at temperature 1 (classification) or
    standardized predictions (regression), shape ``(n_rows, n_outputs)``.

    Parameters
    ----------
    estimator_ : fitted estimator
    mode : {"regression", "logits", "weights"}
        The task's target ("regression"), regressed logits ("logits") or a
        classifier on weighted rows ("weights").
    n_outputs : int
        Columns of :meth:`raw_predict` (classes, or regression targets).
    temperature : float
        The temperature the student's targets were softened by.
    """

    def __init__(self, estimator_, mode, n_outputs, temperature=1.0):
        self.estimator_ = estimator_
        self.mode = mode
        self.n_outputs = n_outputs
        self.temperature = temperature

    def raw_predict(self, Z):
        est, t = self.estimator_, self.temperature
        if self.mode == "weights":
            proba = np.zeros((Z.shape[0], self.n_outputs))
            proba[:, est.classes_.astype(np.int64)] = est.predict_proba(Z)
            with np.errstate(divide="ignore"):
                return t * np.log(np.maximum(proba, np.finfo(np.float64).tiny))
        pred = np.asarray(est.predict(Z), dtype=np.float64).reshape(Z.shape[0], -1)
        if self.mode == "logits":
            pred = t * pred
            if self.n_outputs == 2 and pred.shape[1] == 1:  # the logit difference
                pred = np.hstack([np.zeros_like(pred), pred])
        return pred


def soft_targets(teacher_logits, labels, *, temperature, alpha):
    """The target distribution ``q`` of each row (see the module docstring).

    Parameters
    ----------
    teacher_logits : ndarray of shape (n, k)
    labels : ndarray of shape (n,)
        Class indices; ``-1`` for rows without a label.
    temperature, alpha : float

    Returns
    -------
    q : ndarray of shape (n, k), rows summing to 1.
    """
    z = np.asarray(teacher_logits, dtype=np.float64) / float(temperature)
    z -= z.max(axis=1, keepdims=True)
    q = np.exp(z)
    q /= q.sum(axis=1, keepdims=True)
    labelled = labels >= 0
    if alpha < 1 and labelled.any():
        onehot = np.zeros_like(q[labelled])
        onehot[np.arange(onehot.shape[0]), labels[labelled].astype(np.int64)] = 1.0
        q[labelled] = alpha * q[labelled] + (1 - alpha) * onehot
    return q


#: A classifier student on weighted rows gets no replica of a row for a class
#: whose target probability is below this; the row's other replicas share its
#: weight (so each row still weighs its row weight in all). Chosen on the
#: quality benchmark's tuning splits against 0 (every replica) and 1e-2.
MIN_REPLICA_WEIGHT = 1e-3


def _pruned(q):
    """``q`` without the classes below :data:`MIN_REPLICA_WEIGHT`, rows renormalised.

    A row's most probable class always stays (more than 1000 classes can all
    be below the threshold).
    """
    q = np.where(q >= np.minimum(MIN_REPLICA_WEIGHT, q.max(axis=1, keepdims=True)), q, 0.0)
    return q / q.sum(axis=1, keepdims=True)


def logit_targets(q):
    """Centred ``log q`` floored by :data:`LOGIT_FLOOR`; for 2 classes the 1-D difference."""
    k = q.shape[1]
    log_q = np.log((1 - LOGIT_FLOOR) * q + LOGIT_FLOOR / k)
    if k == 2:
        return log_q[:, 1] - log_q[:, 0]
    return log_q - log_q.mean(axis=1, keepdims=True)


#: HistGradientBoosting's ``early_stopping="auto"`` turns on above this many
#: training samples (scikit-learn's documented threshold).
HGB_AUTO_EARLY_STOPPING_ROWS = 10_000


def _resolve_auto_early_stopping(est, n_rows):
    """Decide a HistGradientBoosting ``early_stopping="auto"`` on ``n_rows`` transfer rows.

    A classifier student on weighted rows sees each transfer row once per
    class: left to "auto", a HistGradientBoosting model would count the
    replicas, turn early stopping on for a table where the same model fit
    on the rows would not, and hold out a random tenth of the replicas
    (taking some of a row's classes away from its target).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier  # not at import: start-up cost

    if isinstance(est, HistGradientBoostingClassifier) and est.early_stopping == "auto":
        est.set_params(early_stopping=n_rows > HGB_AUTO_EARLY_STOPPING_ROWS)


def _prepare(student, n_targets, random_state):
    """A clone of ``student``, seeded, wrapped for several targets if it needs to be."""
    est = clone(student)
    params = est.get_params(deep=False)
    if random_state is not None and "random_state" in params and params["random_state"] is None:
        est.set_params(random_state=random_state)
    if n_targets > 1 and not get_tags(est).target_tags.multi_output:
        est = MultiOutputRegressor(est)
    return est


def fit_sklearn_student(
    student, task, Z, targets, *, n_outputs, alpha, temperature=1.0, more_rows=(), random_state=None
):
    """Train a clone of ``student`` on the transfer set.

    Parameters
    ----------
    student : unfitted scikit-learn estimator
        The distiller's ``student`` parameter.
    task : {"classification", "regression"}
    Z : ndarray of shape (n_rows, n_encoded)
        The encoded transfer set.
    targets : ndarray
        The packed targets of :mod:`skdistill._loss` for those rows.
    n_outputs : int
        Teacher outputs per row (classes, or regression targets).
    alpha : float
        The weight of the teacher's outputs against the true targets.
    temperature : float, default=1.0
        The classifier's softening temperature.
    more_rows : iterable of (Z, targets) pairs, default=()
        Further rows, encoded and packed (the chunks of an on-disk
        TransferSet), appended to ``Z`` and ``targets``: a scikit-learn
        model trains on all its rows at once.
    random_state : int, default=None
        Seeds the student when its own ``random_state`` is None.

    Returns
    -------
    student : SklearnStudent
    """
    mode = _check_student(student, task)
    more = list(more_rows)
    if more:
        Z = np.concatenate([Z, *(z for z, _ in more)])
        targets = np.concatenate([targets, *(t for _, t in more)])
    alpha = float(alpha)
    row_weight = targets[:, -1].astype(np.float64)  # the packed targets end with the row weights
    if task == "regression":
        d = n_outputs
        teacher, truth, has_y = targets[:, :d], targets[:, d : 2 * d], targets[:, 2 * d : 2 * d + 1] > 0
        y = np.where(has_y, alpha * teacher + (1 - alpha) * truth, teacher).astype(np.float64)
        est = _prepare(student, d, random_state)
        _fit_weighted(est, Z, y[:, 0] if d == 1 else y, row_weight)
        return SklearnStudent(est, "regression", d)

    temperature = float(temperature)
    k = n_outputs
    q = soft_targets(targets[:, :k], targets[:, k], temperature=temperature, alpha=alpha)
    if mode == "weights":
        est = _prepare(student, 1, random_state)
        n = Z.shape[0]
        _resolve_auto_early_stopping(est, n)
        rows = np.tile(np.arange(n), k)
        labels = np.repeat(np.arange(k), n)
        weights = _pruned(q).T.ravel() * np.tile(row_weight, k)
        keep = weights > 0
        est.fit(Z[rows[keep]], labels[keep], sample_weight=weights[keep])
        return SklearnStudent(est, "weights", k, temperature)
    u = logit_targets(q)
    est = _prepare(student, 1 if u.ndim == 1 else k, random_state)
    _fit_weighted(est, Z, u, row_weight)
    return SklearnStudent(est, "logits", k, temperature)


def _fit_weighted(est, Z, y, row_weight):
    """``est.fit(Z, y)``, with ``sample_weight`` unless every row weighs 1."""
    if np.all(row_weight == 1.0):
        return est.fit(Z, y)
    if not has_fit_parameter(est, "sample_weight"):
        raise TypeError(
            f"the scikit-learn student {type(est).__name__} does not accept sample_weight in fit; "
            "fit the distiller without sample weights or class weights, or use a student that does"
        )
    return est.fit(Z, y, sample_weight=row_weight)


def onnx_graph(g, z, student, n_inputs, opsets):
    """Append ``student`` (a :class:`SklearnStudent`) to the ONNX graph builder ``g``.

    The model is converted with skl2onnx (the ``onnx`` extra; LightGBM and
    XGBoost models also need their converters registered, see onnxmltools)
    and inlined after ``z``, the float32 encoded rows; the output mapping of
    :meth:`SklearnStudent.raw_predict` follows. Returns the name of the raw
    output (float32 ``[N, n_outputs]``), which ``to_onnx`` then maps to
    probabilities or predictions as for a neural student.
    """
    import_optional("skl2onnx", "to_onnx of a scikit-learn student", "onnx")
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    est = student.estimator_
    options = {id(est): {"zipmap": False}} if student.mode == "weights" else None
    if student.mode == "weights" and len(est.classes_) != student.n_outputs:
        raise TypeError(
            "to_onnx: the classifier student saw only some of the classes; it cannot be exported"
        )
    try:
        sub = convert_sklearn(
            est, initial_types=[("z", FloatTensorType([None, n_inputs]))], target_opset=opsets,
            options=options,
        )
    except Exception as exc:
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise TypeError(
            f"to_onnx could not convert the scikit-learn student {type(est).__name__} with "
            f"skl2onnx ({why}); predict with the estimator, or save it with skops.io"
        ) from exc
    _exact_hist_thresholds(sub, est)
    graph = g.inline(sub, z)
    if student.mode == "weights":
        proba = graph.output[1].name  # (label, probabilities)
        safe = g.op("Max", [proba, g.const(np.asarray([np.finfo(np.float32).tiny], np.float32))])
        return g.op("Mul", [g.op("Log", [safe]), g.const(np.asarray([student.temperature], np.float32))])
    out = graph.output[0].name
    k = student.n_outputs
    width = 1 if student.mode == "logits" and k == 2 else k
    raw = g.op("Reshape", [out, g.const(np.asarray([-1, width], np.int64))])
    if student.mode == "regression":
        return raw
    raw = g.op("Mul", [raw, g.const(np.asarray([student.temperature], np.float32))])
    if width == 1:  # the logit difference: logits [0, T * u]
        raw = g.op("Concat", [g.op("Sub", [raw, raw]), raw], axis=1)
    return raw


def _exact_hist_thresholds(model, est):
    """Make the float32 splits of converted HistGradientBoosting trees decide as the model does.

    HistGradientBoosting sends a row left when its float64 value is at most
    a float64 threshold; skl2onnx writes the threshold rounded to float32,
    and where it rounds up the float32 inputs equal to the rounded value go
    the other way (a threshold between 1 - 2**-24 and 1, common under the
    piecewise-linear encoding, sends the rows at 1 left). Each ``BRANCH_LEQ``
    threshold of the ONNX ``model``'s tree ensembles (edited in place)
    becomes the largest float32 not above its float64 threshold, found by
    feature and rounded value among the thresholds of ``est`` (or of every
    model of a MultiOutputRegressor). Other models are left alone.

    Raises
    ------
    TypeError
        If a split of the ONNX model matches no threshold of the model, or
        two that would need different float32 thresholds.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    models = est.estimators_ if isinstance(est, MultiOutputRegressor) else [est]
    if not all(isinstance(m, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)) for m in models):
        return
    exact = {}  # (feature, float32 threshold) -> the float32 thresholds that decide as the float64 ones
    for m in models:
        for predictors in m._predictors:
            for predictor in predictors:
                splits = predictor.nodes[predictor.nodes["is_leaf"] == 0]
                t64 = splits["num_threshold"]
                t32 = t64.astype(np.float32)
                below = np.where(t32 > t64, np.nextafter(t32, np.float32(-np.inf)), t32)
                for feature, rounded, kept in zip(splits["feature_idx"].tolist(), t32.tolist(), below.tolist()):
                    exact.setdefault((feature, rounded), set()).add(kept)
    for node in model.graph.node:
        if node.op_type not in ("TreeEnsembleRegressor", "TreeEnsembleClassifier"):
            continue
        attrs = {a.name: a for a in node.attribute}
        values = list(attrs["nodes_values"].floats)
        for i, (feature, mode) in enumerate(zip(attrs["nodes_featureids"].ints, attrs["nodes_modes"].strings)):
            if mode != b"BRANCH_LEQ":
                continue
            kept = exact.get((feature, values[i]), ())
            if len(kept) != 1:
                raise TypeError(
                    f"to_onnx: a split of the converted {type(models[0]).__name__} student (feature "
                    f"{feature}, threshold {values[i]!r}) matches {len(kept)} of its thresholds; it cannot "
                    "be exported exactly"
                )
            values[i] = next(iter(kept))
        del attrs["nodes_values"].floats[:]
        attrs["nodes_values"].floats.extend(values)

