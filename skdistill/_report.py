"""A one-call comparison of a teacher and its students."""

import pickle
import time

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score
from sklearn.utils._param_validation import validate_params
from sklearn.utils.validation import check_is_fitted

from ._base import BaseDistiller


def model_size_bytes(model):
    """Bytes needed to serve ``model``.

    For a distilled estimator: the student's weights and its preprocessor
    (what :func:`~skdistill.to_onnx` exports), not the teacher it keeps a
    reference to; a scikit-learn student counts as its pickle; for any other
    model, its pickle.

    Parameters
    ----------
    model : object
        A fitted distilled estimator, or any picklable model.

    Returns
    -------
    size : int

    Raises
    ------
    sklearn.exceptions.NotFittedError
        For a distilled estimator that is not fitted.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skdistill import DistilledClassifier, model_size_bytes
    >>> X, y = make_classification(100, n_features=4, random_state=0)
    >>> t = LogisticRegression().fit(X, y)
    >>> s = DistilledClassifier(t, hidden_layer_sizes=(8,), max_epochs=1, augment=None,
    ...                         random_state=0).fit(X, y)
    >>> import pickle
    >>> n_weights = sum(p.numel() for p in s.student_.module_.parameters())  # float32
    >>> model_size_bytes(s) == 4 * n_weights + len(pickle.dumps(s.preprocessor_))
    True
    """
    if isinstance(model, BaseDistiller):
        check_is_fitted(model, "student_")
    if isinstance(model, BaseDistiller) and "_sklearn_student_" in vars(model):
        return int(len(pickle.dumps(model.student_)) + len(pickle.dumps(model.preprocessor_)))
    if isinstance(model, BaseDistiller):
        state = model.student_.module_.state_dict()
        weights = sum(t.numel() * t.element_size() for t in state.values())
        return int(weights + len(pickle.dumps(model.preprocessor_)))
    return len(pickle.dumps(model))


def _throughput(fn, X, min_time=0.2):
    """Rows per second of ``fn(X)`` (best of repeated calls for ~min_time s)."""
    best = np.inf
    spent = 0.0
    while spent < min_time:
        start = time.perf_counter()
        fn(X)
        took = time.perf_counter() - start
        best = min(best, took)
        spent += took
    return X.shape[0] / best


@validate_params(
    {"models": [dict], "X": ["array-like"], "y": ["array-like"], "teacher": [str, None]},
    prefer_skip_nested_validation=False,
)
def compare_models(models, X, y, *, teacher=None):
    """Compare a teacher and students on held-out data, as a DataFrame.

    Parameters
    ----------
    models : dict of name -> fitted estimator
        All classifiers or all regressors.
    X, y : held-out data.
    teacher : str, default=None
        Name (key of ``models``) of the teacher; the agreement (classifiers)
        or R^2 against the teacher's predictions (regressors) is reported.

    Returns
    -------
    report : DataFrame, one row per model: accuracy, log-loss, agreement
        (classification) or R^2, RMSE, R^2 to teacher (regression); size in
        bytes; predict rows per second.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skdistill import DistilledClassifier, compare_models
    >>> X, y = make_classification(200, random_state=0)
    >>> t = LogisticRegression().fit(X, y)
    >>> s = DistilledClassifier(t, max_epochs=3, random_state=0).fit(X, y)
    >>> list(compare_models({"teacher": t, "student": s}, X, y, teacher="teacher").columns)[:3]
    ['accuracy', 'log_loss', 'agreement']
    """
    if not models:
        raise ValueError("models must hold at least one fitted estimator")
    if teacher is not None and teacher not in models:
        raise ValueError(f"teacher={teacher!r} is not a key of models; the keys are {list(models)}")
    ref = models[teacher].predict(X) if teacher is not None else None
    rows = {}
    for name, model in models.items():
        pred = model.predict(X)
        if is_classifier(model):
            row = {"accuracy": accuracy_score(y, pred)}
            if hasattr(model, "predict_proba"):
                row["log_loss"] = log_loss(y, model.predict_proba(X), labels=model.classes_)
            if ref is not None:
                row["agreement"] = float(np.mean(pred == ref))
        else:
            row = {"r2": r2_score(y, pred), "rmse": float(np.sqrt(mean_squared_error(y, pred)))}
            if ref is not None:
                row["r2_to_teacher"] = r2_score(ref, pred)
        row["size_bytes"] = model_size_bytes(model)
        method = model.predict_proba if hasattr(model, "predict_proba") else model.predict
        row["predict_rows_per_s"] = _throughput(method, X)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")
