"""DistilledClassifier: a small neural student that answers like a classifier."""

import numbers

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ._base import BaseDistiller
from ._loss import FIDELITY_METRICS, DistillationLoss
from ._teacher import DEFAULT_LABELING_BATCH_SIZE


class DistilledClassifier(ClassifierMixin, BaseDistiller):
    """Distil a classifier (the teacher) into a small neural network.

    The student, a skorch net wrapping an MLP by default, is trained on the
    teacher's soft targets, softened by ``temperature``, mixed with the true
    labels (Hinton, Vinyals & Dean 2015)::

        alpha * T**2 * KL(softmax(z_teacher / T) || softmax(z_student / T))
            + (1 - alpha) * CE(y, z_student)

    on a transfer set made of the training rows, optional unlabeled rows and,
    by default, MUNGE synthetic rows labelled by the teacher (Bucila et al.
    2006). Synthetic and unlabeled rows carry only the soft target.

    **Fitted or unfitted teacher.** A *fitted* teacher is used as-is: it is
    never refit, never copied (``clone`` and grid search share it) and never
    mutated; a torch teacher's mode and device are restored after labelling,
    also when fit fails. An *unfitted* teacher is cloned and the clone is fit
    on the data passed to ``fit``, so that cross-validating the whole
    procedure is honest. Teacher outputs are cached (in process, and with
    ``memory`` across processes), so a grid search over ``temperature`` and
    ``alpha`` labels each distinct training set once.

    Parameters
    ----------
    teacher : estimator, torch.nn.Module or list of them
        A scikit-learn classifier or Pipeline with ``predict_proba`` or
        ``decision_function``; an XGBoost / LightGBM / CatBoost classifier,
        or a raw ``lightgbm.Booster`` / ``xgboost.Booster`` with a
        classification objective (classes ``0 .. k-1``, or the ``k`` labels
        of ``y`` in sorted order); a fitted skorch classifier; a
        ``torch.nn.Module`` mapping a float tensor to logits (classes
        ``0 .. k-1``); or a list of teachers whose probabilities are averaged
        (see ``teacher_weights``). A :class:`~sklearn.frozen.FrozenEstimator`
        around a fitted model is a fitted teacher read as the model inside.
    teacher_weights : array-like of shape (n_teachers,), default=None
        Weights of a list of teachers; equal when None.
    temperature : float > 0, default=2.0
        Softening temperature T applied to teacher and student logits in the
        distillation term.
    alpha : float in [0, 1], default=0.7
        Weight of the distillation term; ``1 - alpha`` weighs the
        cross-entropy on the true labels. ``alpha=0`` is plain supervised
        training of the same student; ``alpha=1`` pure distillation (then
        ``y`` may be None for a fitted teacher).
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, ``{label: weight}``, as in scikit-learn's
        classifiers; "balanced" weighs each class by
        ``n_samples / (n_classes * np.bincount(y))``
        (:func:`~sklearn.utils.class_weight.compute_sample_weight`). They
        multiply ``sample_weight`` in both terms of the loss, so they act on
        the real rows by their label and on the synthetic rows made from them;
        they are not passed to an unfitted teacher (set the teacher's own
        ``class_weight`` to balance it too). Needs ``y``.
    student : None, torch.nn.Module class or instance, skorch NeuralNet, or \
scikit-learn estimator
        None builds an :class:`~skdistill.nn.MLP`. A module class is instantiated as
        ``student(n_inputs=..., n_outputs=...)``; an instance is deep-copied
        before training. With a skorch net, its own training settings are used
        and skdistill sets only the criterion and the data path. An unfitted
        scikit-learn **regressor** (``HistGradientBoostingRegressor``,
        ``DecisionTreeRegressor``, ``Ridge``, ``LGBMRegressor``, ...) is cloned
        and regresses the logits of ``alpha * softmax(z_teacher / T) + (1 -
        alpha) * onehot(y)`` on the encoded transfer set; its predictions,
        times T, are the logits (so ``predict_proba = softmax(T * u)``). A
        scikit-learn **classifier** that accepts ``sample_weight`` learns the
        same distribution from rows repeated once per class, weighted by it.
        Its own parameters are tuned as ``student__<name>`` (``student__max_iter``).
        A scikit-learn student ignores ``hidden_layer_sizes``, ``dropout``,
        ``max_epochs``, ``batch_size``, ``lr``, ``weight_decay``,
        ``early_stopping``, ``validation_fraction``, ``n_iter_no_change``,
        ``callbacks`` and ``device`` (use the model's own settings, e.g. its
        early stopping). See "A scikit-learn student" in the user guide.
    hidden_layer_sizes : "auto" or tuple of int, default="auto"
        Hidden sizes of the default MLP; "auto" sizes two layers from the
        number of encoded inputs, counting each binned numeric column once
        (2x, between 64 and 256).
    dropout : float, default=0.0
        Dropout of the default MLP.
    max_epochs : "auto" or int, default="auto"
        Epochs over the transfer set. "auto" trains 15 epochs for two classes
        and 30 for three or more (:attr:`AUTO_MAX_EPOCHS`). With MUNGE
        augmentation the transfer set is 11 times the training set, so 15
        epochs are many optimisation steps. On tables with two classes,
        longer training was better where the teacher is much better than a
        student trained on the labels alone but inherited the teacher's
        errors elsewhere (``benchmarks/quality.py``, and tuning splits that
        no published table uses); with three or more classes, 30 epochs were
        more accurate than 15 on 16 of 18 tuning runs and on a 4-class table
        in no benchmark. Raise it for strong teachers; see "Training length"
        in the user guide.
    batch_size : int, default=256
    lr : float, default=1e-3
        AdamW learning rate, annealed to 0 on a cosine schedule.
    weight_decay : float, default=1e-5
    augment : "munge", augmenter object or None, default="munge"
        How synthetic transfer rows are made; see :class:`MungeAugmenter`.
    preprocessor : transformer or None, default=None
        The student's input encoding; None uses
        :func:`make_default_preprocessor` (median imputation and the
        ``numeric_encoding`` of numbers, missing indicators, one-hot
        categories). Never applied to the teacher's input.
        The column checks of :func:`infer_column_kinds` are the default
        encoder's: a transformer of yours takes whatever it accepts
        (datetimes, text), and MUNGE copies its non-numeric columns from
        neighbouring rows.
    numeric_encoding : {"auto", "piecewise_linear", "quantile"}, default="auto"
        How the default preprocessor encodes numeric columns:
        ``"piecewise_linear"`` (:class:`PiecewiseLinearEncoder`, up to
        ``n_bins`` values in [0, 1] per column, over quantile bins) or
        ``"quantile"`` (one value per column, a quantile transform to a
        normal distribution: the encoding of skdistill 0.1, slower to serve).
        ``"auto"`` is ``"piecewise_linear"`` when skdistill builds the
        network (``student`` None or a module class) and ``"quantile"`` for
        a module instance or a skorch net, built for one input per numeric
        column. Ignored with a user ``preprocessor``.
    n_bins : int or "auto", default="auto"
        Largest number of bins per numeric column of the piecewise-linear
        encoding; "auto" gives 16 for up to 32 numeric columns, then fewer,
        down to 4, keeping about 512 encoded values in all (the width of
        the student's first layer, and so its serving cost, stays bounded).
    early_stopping : bool or {"loss", "teacher_kl", "teacher_agreement"}, default=False
        Hold out ``validation_fraction`` of the transfer set and stop when a
        score on it has not improved for ``n_iter_no_change`` epochs (skorch's
        ``EarlyStopping``, best weights restored). ``True`` or ``"loss"``
        monitors the distillation loss; ``"teacher_kl"`` the KL divergence
        from the teacher's probabilities (temperature 1) and
        ``"teacher_agreement"`` the share of rows where student and teacher
        pick the same class. Both are recorded in ``student_.history`` as
        ``valid_teacher_kl`` and ``valid_teacher_agreement`` whenever early
        stopping is on (:class:`~skdistill.nn.TeacherFidelity`).
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    memory : None, str or joblib.Memory, default=None
        Caches teacher fits and outputs on disk, across processes and runs.
    labeling_batch_size : int, default=65536
        Rows per teacher call; bounds the teacher's memory use.
    device : "auto", "cpu", "cuda" or torch.device, default="auto"
        Training device; "auto" picks CUDA when available. An unavailable
        device raises ValueError.
    callbacks : list of skorch callbacks, default=None
        Added to the student's callbacks.
    random_state : int, RandomState or None, default=None
        Seeds augmentation and training; CPU training is then reproducible.
        With None, the synthetic rows still depend only on the data (so that
        they are cached across grid-search candidates).
    verbose : int, default=0
        skorch's epoch table and progress bars for labelling and augmentation.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The teacher's classes.
    teacher_ : estimator or list
        The fitted teacher(s): the given object if it was fitted, else the
        fitted clone.
    student_ : skorch.NeuralNet or scikit-learn estimator
        The trained student: the skorch net, or for a scikit-learn student
        the fitted clone of it (wrapped in ``MultiOutputRegressor`` when it
        regresses several logits and has no native multi-output support).
    preprocessor_ : transformer
        The fitted student preprocessor.
    column_kinds_ : list of str
        "numeric" or "categorical" per input column: how the default encoder
        and MUNGE treat it (with a user ``preprocessor``, every column of a
        non-numeric dtype is "categorical").
    n_transfer_ : int
        Rows in the transfer set (real, unlabeled and synthetic).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X is a DataFrame with string column names.

    See Also
    --------
    DistilledRegressor : the same for regression teachers.
    MungeAugmenter : the default transfer-set augmentation.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from skdistill import DistilledClassifier
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> teacher = RandomForestClassifier(n_estimators=50, random_state=0).fit(X, y)
    >>> student = DistilledClassifier(teacher, max_epochs=5, random_state=0).fit(X, y)
    >>> student.predict_proba(X[:2]).shape
    (2, 2)
    >>> float(student.score(X, y)) > 0.8
    True
    """

    _task = "classification"

    #: Epochs of ``max_epochs="auto"``: for two classes, and for three or more.
    AUTO_MAX_EPOCHS = {"binary": 15, "multiclass": 30}
    _LEGACY_PARAMS = {**BaseDistiller._LEGACY_PARAMS, "class_weight": None}
    _fitted_attributes = (*BaseDistiller._fitted_attributes, "classes_")

    _parameter_constraints = {
        **BaseDistiller._parameter_constraints,
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "early_stopping": ["boolean", StrOptions({"loss", *FIDELITY_METRICS["classification"]})],
    }

    def __init__(
        self,
        teacher,
        *,
        teacher_weights=None,
        temperature=2.0,
        alpha=0.7,
        class_weight=None,
        student=None,
        hidden_layer_sizes="auto",
        dropout=0.0,
        max_epochs="auto",
        batch_size=256,
        lr=1e-3,
        weight_decay=1e-5,
        augment="munge",
        preprocessor=None,
        numeric_encoding="auto",
        n_bins="auto",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        memory=None,
        labeling_batch_size=DEFAULT_LABELING_BATCH_SIZE,
        device="auto",
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        self.teacher = teacher
        self.teacher_weights = teacher_weights
        self.temperature = temperature
        self.alpha = alpha
        self.class_weight = class_weight
        self.student = student
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.augment = augment
        self.preprocessor = preprocessor
        self.numeric_encoding = numeric_encoding
        self.n_bins = n_bins
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.memory = memory
        self.labeling_batch_size = labeling_batch_size
        self.device = device
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    # -- task hooks -------------------------------------------------------
    def _check_y(self, y, n_samples):
        if y is None:
            if self.alpha < 1:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target y is None "
                    "(y may be None only with alpha=1 and a fitted teacher)"
                )
            return None
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty((n_samples, 0)), y)
        check_classification_targets(y)
        return y

    def _row_weights(self, sample_weight, y):
        if self.class_weight is None:
            return sample_weight
        if y is None:
            raise ValueError(
                f"class_weight={self.class_weight!r} weighs rows by their label, so y is required"
            )
        weights = compute_sample_weight(self.class_weight, y)
        return weights if sample_weight is None else weights * sample_weight

    def _after_teacher(self, adapter, y):
        self.classes_ = adapter.classes_
        if y is None:
            return None
        classes = self.classes_
        order = np.argsort(classes, kind="stable")
        try:
            pos = np.searchsorted(classes[order], y)
            pos = np.clip(pos, 0, len(classes) - 1)
            known = classes[order][pos] == y
        except TypeError:
            known = np.array([label in set(classes.tolist()) for label in y])
            pos = None
        if not np.all(known):
            unknown = np.unique(np.asarray(y)[~known])[:10]
            raise ValueError(
                f"y contains labels the teacher does not know: {unknown.tolist()}; the "
                f"teacher's classes are {classes.tolist()}"
            )
        if pos is None:
            lookup = {c: i for i, c in enumerate(classes.tolist())}
            return np.array([lookup[label] for label in y], dtype=np.int64)
        return order[pos].astype(np.int64)

    def _build_targets(self, outputs, y_enc, n_real, weights=None):
        return self._pack_targets(outputs, y_enc, n_real, weights)

    def _pack_targets(self, outputs, y_enc=None, n_real=0, weights=None):
        """``[logits, label, weight]``; labels for the first n_real rows, -1 for
        the others; weights 1 when None."""
        labels = np.full(outputs.shape[0], -1.0)
        if y_enc is not None:
            labels[:n_real] = y_enc
        if weights is None:
            weights = np.ones(outputs.shape[0])
        return np.column_stack([outputs, labels, weights]).astype(np.float32)

    def _criterion(self):
        return DistillationLoss

    def _auto_max_epochs(self):
        return self.AUTO_MAX_EPOCHS["binary" if len(self.classes_) <= 2 else "multiclass"]

    def _criterion_params(self):
        return {"temperature": float(self.temperature), "alpha": float(self.alpha)}

    # -- prediction -------------------------------------------------------
    def decision_function(self, X):
        """The student's logits, shape (n_samples, n_classes).

        For two classes, the 1-D score ``z_1 - z_0`` (scikit-learn's convention).
        """
        logits = self._raw_predict(X).astype(np.float64)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X):
        """Class probabilities of the student (temperature 1)."""
        return softmax(self._raw_predict(X).astype(np.float64))

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`."""
        logits = self._raw_predict(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def predict(self, X):
        """The class with the highest student probability."""
        logits = self._raw_predict(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


def softmax(z):
    """Row-wise softmax of a float64 array, in place (ufunc reductions: few calls for one row).

    A row gets the same bits alone as in a batch. One row of two classes (the
    common one-row serving case) runs the batch path's operations with
    Python floats where they round alike (the subtraction, the sum of two
    values, the division) and numpy's ``exp`` where they may not: numpy's
    vectorized ``exp`` (AVX-512) and ``math.exp`` can differ in the last bit.
    About 2 instead of 3.8 us here.
    """
    if z.shape[0] == 1 and z.shape[1] == 2:
        a, b = z[0].tolist()
        top = a if a >= b else b
        z[0] = (a - top, b - top)
        np.exp(z, out=z)
        a, b = z[0].tolist()
        total = a + b
        z[0] = (a / total, b / total)
        return z
    z -= np.maximum.reduce(z, axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= np.add.reduce(z, axis=1, keepdims=True)
    return z
