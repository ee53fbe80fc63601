"""How closely a distilled classifier answers like its teacher.

:func:`agreement_score` is both a function and a scorer: its signature
``(estimator, X, y=None)`` is the one scikit-learn expects of a scoring
callable, so it can go straight into the ``scoring`` dict of a grid search::

    GridSearchCV(distiller, grid, scoring={"accuracy": "accuracy", "agreement": agreement_score})

The teacher's answer is read by the distiller itself, through the same
adapter it used in ``fit`` (``BaseDistiller._teacher_outputs``), so lists of
teachers, torch modules, boosting libraries and :class:`~skdistill.Teacher`
subclasses are handled as in training.

:func:`find_distiller` is the one place that finds the distiller in an
estimator (a distiller, or a Pipeline ending in one); the displays use it too.
"""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.extmath import softmax
from sklearn.utils.validation import check_is_fitted

__all__ = ["agreement_score"]


def find_distiller(estimator):
    """Where the distiller is in ``estimator``: ``(prefix, transform, distiller)``, or None.

    ``estimator`` is a distiller or a Pipeline whose last step is one
    (Pipelines may nest); None for anything else. ``prefix`` is the
    distiller's parameter prefix in ``estimator`` (``""``, ``"model__"``,
    ...); ``transform(X)`` applies the steps before the distiller (the
    identity for a bare distiller), i.e. it gives the rows the distiller and
    its teacher see.
    """
    from ._base import BaseDistiller

    if isinstance(estimator, BaseDistiller):
        return "", (lambda X: X), estimator
    if not isinstance(estimator, Pipeline):
        return None
    name, last = estimator.steps[-1]
    found = find_distiller(last)
    if found is None:
        return None
    prefix, inner, distiller = found
    head = estimator[:-1]
    transform = inner if len(head) == 0 else (lambda X: inner(head.transform(X)))
    return f"{name}__{prefix}", transform, distiller


def _fitted_classifier(estimator, caller):
    """``(transform, distiller)``, checking that the distiller is a fitted classifier."""
    from ._classifier import DistilledClassifier

    found = find_distiller(estimator)
    if found is None:
        last = estimator
        while isinstance(last, Pipeline):
            last = last.steps[-1][1]
        ending = f" ending in {type(last).__name__}" if last is not estimator else ""
        raise TypeError(
            f"{caller} expects a DistilledClassifier or a Pipeline whose last step is one; "
            f"got {type(estimator).__name__}{ending}"
        )
    _, transform, distiller = found
    if not isinstance(distiller, DistilledClassifier):
        raise TypeError(
            f"{caller} needs a DistilledClassifier (agreement and probabilities are defined "
            f"for classifiers); got {type(distiller).__name__}"
        )
    check_is_fitted(distiller, "student_")
    return transform, distiller


def _teacher_proba(distiller, X):
    """The teacher's class probabilities at temperature 1, aligned with ``classes_``."""
    return softmax(distiller._teacher_outputs(X), copy=False)


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
    teacher = distiller.classes_[np.argmax(distiller._teacher_outputs(Xt), axis=1)]
    return float(np.mean(student == teacher))
