"""How closely a distilled classifier answers like its teacher.

:func:`agreement_score` is both a function and a scorer: its signature
``(estimator, X, y=None)`` is the one scikit-learn expects of a scoring
callable, so it can go straight into the ``scoring`` dict of a grid search::

    GridSearchCV(distiller, grid, scoring={"accuracy": "accuracy", "agreement": agreement_score})

The teacher's answer is read through the same adapter the distiller used in
``fit`` (:mod:`skdistill._teacher`), so lists of teachers, torch modules and
boosting libraries are handled as in training.
"""

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils.extmath import softmax
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["agreement_score"]


def _find_distiller(estimator, caller):
    """``(transform, distiller)`` for a distiller or a Pipeline ending in one.

    ``transform(X)`` applies the pipeline steps before the distiller (the
    identity for a bare distiller), i.e. it gives the rows the distiller and
    its teacher see.
    """
    from ._base import BaseDistiller

    if isinstance(estimator, BaseDistiller):
        return (lambda X: X), estimator
    if isinstance(estimator, Pipeline):
        head, last = estimator[:-1], estimator.steps[-1][1]
        inner_transform, distiller = _find_distiller(last, caller)
        if len(head) == 0:
            return inner_transform, distiller
        return (lambda X: inner_transform(head.transform(X))), distiller
    raise TypeError(
        f"{caller} expects a DistilledClassifier or a Pipeline whose last step is one; "
        f"got {type(estimator).__name__}"
    )


def _fitted_classifier(estimator, caller):
    """``(transform, distiller)``, checking that the distiller is a fitted classifier."""
    from ._classifier import DistilledClassifier

    transform, distiller = _find_distiller(estimator, caller)
    if not isinstance(distiller, DistilledClassifier):
        raise TypeError(
            f"{caller} needs a DistilledClassifier (agreement and probabilities are defined "
            f"for classifiers); got {type(distiller).__name__}"
        )
    check_is_fitted(distiller, "student_")
    return transform, distiller


def _as_rows(X):
    """X as the teacher got it in fit: a DataFrame unchanged, anything else an array."""
    if isinstance(X, pd.DataFrame):
        return X
    return check_array(X, dtype=None, ensure_all_finite=False)


def _teacher_logits(distiller, X):
    """The fitted teacher's logits on X (rows as the distiller sees them), (n, n_classes)."""
    from ._device import resolve_device
    from ._teacher import resolve_teacher

    X = _as_rows(X)
    adapter = resolve_teacher(
        distiller.teacher_,
        distiller.teacher_weights,
        task="classification",
        X=X,
        y=None,
        n_features=X.shape[1],
        device=resolve_device(distiller.device),
        fit_one=None,  # teacher_ is fitted: nothing is ever fitted here
        labeling_batch_size=distiller.labeling_batch_size,
    )
    return adapter.outputs(X)


def _teacher_proba(distiller, X):
    """The teacher's class probabilities at temperature 1, aligned with ``classes_``."""
    return softmax(_teacher_logits(distiller, X), copy=False)


def agreement_score(estimator, X, y=None):
    """Fraction of rows on which a distilled classifier predicts its teacher's class.

    Also a scorer: the signature ``(estimator, X, y)`` is the one
    scikit-learn expects of a scoring callable, so it can be used in the
    ``scoring`` of :class:`~sklearn.model_selection.GridSearchCV` or
    :func:`~sklearn.model_selection.cross_validate`.

    Parameters
    ----------
    estimator : fitted DistilledClassifier or Pipeline ending in one
        The student. For a Pipeline, the steps before the distiller are
        applied to ``X`` first, and the teacher sees what the distiller sees.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Rows to compare on (held-out rows for an honest figure).
    y : ignored
        Present for the scorer signature.

    Returns
    -------
    score : float
        Mean of ``student.predict(X) == teacher's class``, in [0, 1]. The
        teacher's class is the argmax of its outputs as the distiller reads
        them in ``fit`` (for several teachers: of their weighted average).

    See Also
    --------
    DistillationGridDisplay : heatmaps of accuracy and agreement over a
        temperature x alpha grid search.
    compare_models : accuracy, agreement, size and speed of several models.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skdistill import DistilledClassifier, agreement_score
    >>> X, y = make_classification(200, random_state=0)
    >>> teacher = LogisticRegression().fit(X, y)
    >>> student = DistilledClassifier(teacher, max_epochs=5, random_state=0).fit(X, y)
    >>> 0.5 < agreement_score(student, X) <= 1.0
    True
    """
    transform, distiller = _fitted_classifier(estimator, "agreement_score")
    Xt = transform(X)
    student = distiller.predict(Xt)
    teacher = distiller.classes_[np.argmax(_teacher_logits(distiller, Xt), axis=1)]
    return float(np.mean(student == teacher))
