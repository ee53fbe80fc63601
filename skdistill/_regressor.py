"""DistilledRegressor: a small neural student that answers like a regressor."""

import numbers

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_consistent_length

from ._base import BaseDistiller
from ._loss import FIDELITY_METRICS, RegressionDistillationLoss
from ._teacher import DEFAULT_LABELING_BATCH_SIZE


class DistilledRegressor(RegressorMixin, BaseDistiller):
    """Distil a regressor (the teacher) into a small neural network.

    The student is trained on::

        alpha * L(student, teacher prediction) + (1 - alpha) * L(student, y)

    with ``L`` the squared error (or the Huber loss), on targets standardized
    internally and mapped back at prediction. The transfer set holds the
    training rows, optional unlabeled rows and, by default, MUNGE synthetic
    rows; unlabeled and synthetic rows carry the teacher's prediction only.
    Multi-output targets (2-D ``y``) are supported.

    The teacher rules are those of :class:`DistilledClassifier`: a fitted
    teacher is used as-is (never refit, copied or mutated), an unfitted one is
    cloned and fit on the data passed to ``fit``; teacher outputs are cached.

    Parameters
    ----------
    teacher : estimator, torch.nn.Module or list of them
        A scikit-learn regressor or Pipeline, an XGBoost / LightGBM /
        CatBoost regressor, a raw ``lightgbm.Booster`` / ``xgboost.Booster``
        with a regression objective, a fitted skorch regressor, a
        ``torch.nn.Module`` mapping a float tensor to predictions, or a list
        of teachers whose predictions are averaged (see ``teacher_weights``).
        A :class:`~sklearn.frozen.FrozenEstimator` around a fitted regressor
        is a fitted teacher. Classifiers are refused (TypeError).
    teacher_weights : array-like of shape (n_teachers,), default=None
    alpha : float in [0, 1], default=0.7
        Weight of the teacher term; ``alpha=1`` allows ``y=None``.
    loss : {"squared_error", "huber"}, default="squared_error"
    huber_delta : float > 0, default=1.0
        Huber threshold, in standardized target units.
    max_epochs : "auto" or int, default="auto"
        Epochs over the transfer set; "auto" is 30 (:attr:`AUTO_MAX_EPOCHS`),
        twice :class:`DistilledClassifier`'s for two classes: on the
        regression quality benchmark (``benchmarks/quality.py``), 15 epochs
        were slightly worse on every dataset and teacher.
    early_stopping : bool or {"loss", "teacher_mse"}, default=False
        As in :class:`DistilledClassifier`; ``"teacher_mse"`` monitors the
        mean squared error to the teacher's predictions (standardized units),
        recorded as ``valid_teacher_mse``.
    student : None, torch.nn.Module class or instance, skorch NeuralNet, or \
scikit-learn regressor
        As in :class:`DistilledClassifier`; a scikit-learn regressor student
        fits ``alpha * teacher + (1 - alpha) * y`` on the real rows and the
        teacher's prediction on the others.
    hidden_layer_sizes, dropout, batch_size, lr, \
weight_decay, augment, preprocessor, numeric_encoding, n_bins, validation_fraction, \
n_iter_no_change, memory, labeling_batch_size, device, callbacks, \
random_state, verbose
        As in :class:`DistilledClassifier`.

    Attributes
    ----------
    teacher_ : estimator or list
    student_ : skorch.NeuralNet or scikit-learn estimator
        The trained student; for a scikit-learn student the fitted clone of
        it, trained on the standardized blend ``alpha * teacher + (1 - alpha)
        * y`` (the teacher's prediction alone on synthetic and unlabeled rows),
        wrapped in ``MultiOutputRegressor`` for several targets when it has
        no native multi-output support.
    preprocessor_ : transformer
    column_kinds_ : list of str
    n_transfer_ : int
    target_mean_, target_scale_ : ndarray of shape (n_targets,)
        Standardization of the targets.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    DistilledClassifier : the same for classification teachers.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from skdistill import DistilledRegressor
    >>> X, y = make_regression(n_samples=300, n_features=5, random_state=0)
    >>> teacher = RandomForestRegressor(n_estimators=50, random_state=0).fit(X, y)
    >>> student = DistilledRegressor(teacher, max_epochs=20, random_state=0).fit(X, y)
    >>> student.predict(X[:3]).shape
    (3,)
    """

    _task = "regression"

    #: Epochs of ``max_epochs="auto"``.
    AUTO_MAX_EPOCHS = 30
    _fitted_attributes = (*BaseDistiller._fitted_attributes, "target_mean_", "target_scale_", "_y_ndim_")

    _parameter_constraints = {
        **BaseDistiller._parameter_constraints,
        "loss": [StrOptions({"squared_error", "huber"})],
        "huber_delta": [Interval(numbers.Real, 0, None, closed="neither")],
        "early_stopping": ["boolean", StrOptions({"loss", *FIDELITY_METRICS["regression"]})],
    }

    def __init__(
        self,
        teacher,
        *,
        teacher_weights=None,
        alpha=0.7,
        loss="squared_error",
        huber_delta=1.0,
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
        self.alpha = alpha
        self.loss = loss
        self.huber_delta = huber_delta
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
            self._y_ndim_ = None
            return None
        y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y", ensure_all_finite=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()  # a column vector is a single target
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D; got {y.ndim} dimensions")
        check_consistent_length(np.empty((n_samples, 0)), y)
        self._y_ndim_ = y.ndim
        return y.astype(np.float64)

    def _after_teacher(self, adapter, y):
        if y is None:
            return None
        y2 = y.reshape(len(y), -1)
        if adapter.n_outputs_ is not None and adapter.n_outputs_ != y2.shape[1]:
            raise ValueError(
                f"y has {y2.shape[1]} target(s) but the teacher predicts {adapter.n_outputs_}"
            )
        return y2

    def _build_targets(self, outputs, y_enc, n_real, weights=None):
        if y_enc is not None and y_enc.shape[1] != outputs.shape[1]:
            raise ValueError(
                f"y has {y_enc.shape[1]} target(s) but the teacher predicts {outputs.shape[1]}"
            )
        basis = y_enc if y_enc is not None else outputs[:n_real]
        # weighted like the loss, so that integer weights standardize as repeated rows do
        w = None if weights is None else weights[:n_real]
        self.target_mean_ = np.average(basis, axis=0, weights=w)
        scale = np.sqrt(np.average((basis - self.target_mean_) ** 2, axis=0, weights=w))
        self.target_scale_ = np.where(scale > 0, scale, 1.0)
        return self._pack_targets(outputs, y_enc, n_real, weights)

    def _pack_targets(self, outputs, y_enc=None, n_real=0, weights=None):
        """``[teacher, y, has_y, weight]`` in standardized units; y only for the
        first n_real rows; weights 1 when None."""
        teacher = (outputs - self.target_mean_) / self.target_scale_
        truth = np.zeros_like(teacher)
        has_y = np.zeros((outputs.shape[0], 1))
        if y_enc is not None:
            truth[:n_real] = (y_enc - self.target_mean_) / self.target_scale_
            has_y[:n_real] = 1.0
        w = np.ones((outputs.shape[0], 1)) if weights is None else np.reshape(weights, (-1, 1))
        return np.hstack([teacher, truth, has_y, w]).astype(np.float32)

    def _criterion(self):
        return RegressionDistillationLoss

    def _auto_max_epochs(self):
        return self.AUTO_MAX_EPOCHS

    def _criterion_params(self):
        return {"alpha": float(self.alpha), "loss": self.loss, "delta": float(self.huber_delta)}

    # -- prediction -------------------------------------------------------
    def predict(self, X):
        """The student's predictions, in the units of y."""
        raw = self._raw_predict(X).astype(np.float64)
        pred = raw * self.target_scale_ + self.target_mean_
        if pred.shape[1] == 1 and self._y_ndim_ != 2:
            return pred[:, 0]
        return pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
