"""Plots of distillation results, as scikit-learn style ``Display`` objects.

Each display follows scikit-learn's visualization API (see
:class:`sklearn.metrics.ConfusionMatrixDisplay`): the constructor takes the
numbers to plot, ``from_*`` class methods compute them from fitted models or
results and call :meth:`plot`, which draws on new or given matplotlib Axes
and stores them as ``ax_`` (an array with one Axes per panel) and
``figure_``. matplotlib is an optional dependency, imported only when a
display is made.

* :class:`DistillationGridDisplay`: accuracy and agreement with the teacher
  over a temperature x alpha grid search, as two heatmaps;
* :class:`CompressionTradeoffDisplay`: accuracy against model size and
  predict throughput, for a teacher and its students;
* :class:`ProbabilityAgreementDisplay`: the student's probabilities against
  the teacher's, and the calibration curves of both.
"""

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.calibration import calibration_curve
from sklearn.model_selection import check_cv, cross_val_score
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import _check_pos_label_consistency, check_is_fitted

from ._metrics import _fitted_classifier, _teacher_proba, agreement_score, find_distiller
from ._report import compare_models

__all__ = [
    "DistillationGridDisplay",
    "CompressionTradeoffDisplay",
    "ProbabilityAgreementDisplay",
]


def _panels(ax, n, caller, figsize):
    """(figure, 1-D object array of n Axes): new ones, or the ``ax`` given."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, axes = plt.subplots(1, n, figsize=figsize, squeeze=False, layout="constrained")
        return fig, axes.ravel()
    axes = np.asarray(ax, dtype=object).ravel()
    if axes.size != n or not all(hasattr(a, "plot") for a in axes):
        raise ValueError(
            f"{caller} draws {n} panel(s), so ax must be {n} matplotlib Axes "
            f"(e.g. from plt.subplots(1, {n})); got {axes.size} object(s)"
        )
    return axes[0].figure, axes


def _merge(defaults, user):
    return {**defaults, **(user or {})}


# ---------------------------------------------------------------------------
# temperature x alpha grid


def _param_values(search, key, searched, path):
    """The per-candidate values of the distiller's parameter ``key``, or None.

    Returns ``(name, values, was_searched)``. With a known distiller the
    parameter name is its prefix + key; otherwise the one searched parameter
    named ``key`` or ending in ``__key``.
    """
    results = search.cv_results_
    n = len(results["params"])
    if path is not None:
        name = path[0] + key
    else:
        found = [p for p in searched if p == key or p.endswith("__" + key)]
        if len(found) > 1:
            raise ValueError(
                f"the search has several parameters named like {key!r}: {found}; cannot tell "
                "which one is the distiller's"
            )
        name = found[0] if found else None
    if name is None:
        return None, None, False
    default = search.estimator.get_params(deep=True).get(name, None)
    if name in searched:
        column = results[f"param_{name}"]
        mask = np.ma.getmaskarray(column)
        raw = [default if m else v for v, m in zip(np.ma.getdata(column), mask)]
        was_searched = True
    elif default is not None:
        raw = [default] * n
        was_searched = False
    else:
        return None, None, False
    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"the values of {name!r} in the search are not all numbers: {raw[:5]}") from None
    return name, values, was_searched


def _metric_names(results):
    return [k[len("mean_test_"):] for k in results if k.startswith("mean_test_")]


def _agreement_keys(search):
    scoring = search.scoring
    if isinstance(scoring, dict):
        return [k for k, v in scoring.items() if v is agreement_score or k == "agreement"]
    return []


class DistillationGridDisplay:
    """Heatmaps of a temperature x alpha search: accuracy and agreement with the teacher.

    Two panels side by side, temperature on the x-axis and alpha on the
    y-axis: the cross-validated score of each candidate (accuracy by
    default) and its agreement with the teacher (how often the student
    predicts the teacher's class; see :func:`agreement_score`). Cells the
    search did not try are left blank.

    It is recommended to use :meth:`from_estimator` to create a display;
    all parameters are stored as attributes.

    Parameters
    ----------
    temperatures : array-like of shape (n_temperatures,)
        The temperature of each column, increasing.
    alphas : array-like of shape (n_alphas,)
        The alpha of each row, increasing.
    score : ndarray of shape (n_alphas, n_temperatures)
        The score of each cell, NaN where there is none.
    agreement : ndarray of shape (n_alphas, n_temperatures), default=None
        The agreement with the teacher of each cell. None draws only the
        score panel.
    score_name : str, default="accuracy"
        Title of the score panel.
    candidates : ndarray of int of shape (n_alphas, n_temperatures), default=None
        For each cell, the index into ``cv_results_`` of the candidate shown
        (-1 where none), as set by :meth:`from_estimator`.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        One Axes per heatmap (score, then agreement).
    figure_ : matplotlib Figure
        The figure holding the heatmaps.
    im_ : list of matplotlib AxesImage
        The heatmaps.
    text_ : list of ndarray of matplotlib Text or None
        The cell annotations of each heatmap (None in empty cells), or None
        when ``include_values=False``.

    See Also
    --------
    agreement_score : the agreement of a fitted student with its teacher,
        also usable as a scorer in a grid search.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skdistill import DistilledClassifier, DistillationGridDisplay, agreement_score
    >>> X, y = make_classification(200, random_state=0)
    >>> teacher = LogisticRegression().fit(X, y)
    >>> search = GridSearchCV(
    ...     DistilledClassifier(teacher, max_epochs=3, random_state=0),
    ...     {"temperature": [1, 4], "alpha": [0.2, 0.8]}, cv=2,
    ...     scoring={"accuracy": "accuracy", "agreement": agreement_score}, refit=False,
    ... ).fit(X, y)
    >>> disp = DistillationGridDisplay.from_estimator(search)
    >>> disp.score.shape
    (2, 2)
    """

    def __init__(
        self, temperatures, alphas, score, agreement=None, *, score_name="accuracy", candidates=None
    ):
        self.temperatures = temperatures
        self.alphas = alphas
        self.score = score
        self.agreement = agreement
        self.score_name = score_name
        self.candidates = candidates

    def plot(
        self,
        *,
        ax=None,
        cmap="viridis",
        include_values=True,
        values_format=".3f",
        colorbar=True,
        im_kw=None,
        text_kw=None,
    ):
        """Draw the heatmaps.

        Parameters
        ----------
        ax : array-like of matplotlib Axes, default=None
            One Axes per heatmap (two, or one when ``agreement`` is None).
            None makes a new figure.
        cmap : str or matplotlib Colormap, default="viridis"
        include_values : bool, default=True
            Write each cell's value in it.
        values_format : str, default=".3f"
            Format of the cell values.
        colorbar : bool, default=True
            Add a colorbar to each heatmap.
        im_kw : dict, default=None
            Keywords passed to ``Axes.imshow``.
        text_kw : dict, default=None
            Keywords passed to ``Axes.text``.

        Returns
        -------
        display : DistillationGridDisplay
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        temperatures = np.asarray(self.temperatures, dtype=np.float64)
        alphas = np.asarray(self.alphas, dtype=np.float64)
        panels = [(np.asarray(self.score, dtype=np.float64), self.score_name)]
        if self.agreement is not None:
            panels.append((np.asarray(self.agreement, dtype=np.float64), "agreement with the teacher"))
        for values, name in panels:
            if values.shape != (len(alphas), len(temperatures)):
                raise ValueError(
                    f"{name} has shape {values.shape}; expected (n_alphas, n_temperatures) = "
                    f"({len(alphas)}, {len(temperatures)})"
                )
        fig, axes = _panels(
            ax, len(panels), f"{type(self).__name__}.plot", (4.8 * len(panels), 4.0)
        )
        self.im_ = []
        self.text_ = [] if include_values else None
        for a, (values, name) in zip(axes, panels):
            masked = np.ma.masked_invalid(values)
            im = a.imshow(
                masked,
                **_merge(dict(cmap=cmap, origin="lower", aspect="auto", interpolation="nearest"), im_kw),
            )
            self.im_.append(im)
            if include_values:
                texts = np.full(values.shape, None, dtype=object)
                finite = values[np.isfinite(values)]
                mid = (finite.max() + finite.min()) / 2 if finite.size else 0.0
                low, high = im.cmap(0.0), im.cmap(1.0)
                for i, j in np.ndindex(values.shape):
                    if not np.isfinite(values[i, j]):
                        continue
                    color = high if values[i, j] < mid else low
                    texts[i, j] = a.text(
                        j, i, format(values[i, j], values_format),
                        **_merge(dict(ha="center", va="center", color=color), text_kw),
                    )
                self.text_.append(texts)
            a.set(
                xticks=np.arange(len(temperatures)),
                xticklabels=[f"{t:g}" for t in temperatures],
                yticks=np.arange(len(alphas)),
                yticklabels=[f"{v:g}" for v in alphas],
                xlabel="temperature",
                ylabel="alpha",
                title=name,
            )
            if colorbar:
                fig.colorbar(im, ax=a)
        self.ax_ = axes
        self.figure_ = fig
        return self

    @classmethod
    def from_estimator(
        cls,
        search,
        X=None,
        y=None,
        *,
        score=None,
        agreement=None,
        groups=None,
        n_jobs=None,
        ax=None,
        cmap="viridis",
        include_values=True,
        values_format=".3f",
        colorbar=True,
        im_kw=None,
        text_kw=None,
    ):
        """Heatmaps from a fitted grid or randomized search over a distiller.

        Parameters
        ----------
        search : fitted GridSearchCV or RandomizedSearchCV
            Its estimator is a :class:`DistilledClassifier` or a Pipeline
            ending in one (parameters then carry the step prefix, e.g.
            ``"distil__temperature"``). It must have searched
            ``temperature``, ``alpha`` or both; one that was not searched
            is read from the estimator (a single row or column). When the
            search also varied other parameters, each cell shows the
            candidate with the best score among those with its temperature
            and alpha.
        X, y : array-like, default=None
            The data the search was fitted on. Used only when
            ``cv_results_`` holds no agreement: each cell's candidate is then
            cross-validated again with the search's ``cv`` and
            :func:`agreement_score` (the student is refitted; the teacher
            cache spares the teacher fits within one process). Cheaper:
            put ``agreement_score`` in the search's ``scoring`` dict.
        score : str, default=None
            Metric of ``cv_results_`` (``mean_test_<score>``) for the first
            panel. None: the only metric of a single-metric search (the
            estimator's accuracy by default); for a multi-metric search the
            ``refit`` metric, else ``"accuracy"``, else the only metric that
            is not the agreement.
        agreement : str, default=None
            Metric of ``cv_results_`` holding the agreement. None: the
            ``scoring`` entry that is :func:`agreement_score` or is named
            ``"agreement"``.
        groups : array-like, default=None
            Group labels for the splitter when agreement is recomputed.
        n_jobs : int, default=None
            Parallel jobs when agreement is recomputed.
        ax, cmap, include_values, values_format, colorbar, im_kw, text_kw
            See :meth:`plot`.

        Returns
        -------
        display : DistillationGridDisplay
        """
        name = f"{cls.__name__}.from_estimator"
        check_matplotlib_support(name)
        if not all(hasattr(search, a) for a in ("estimator", "scoring", "cv", "fit")):
            raise TypeError(
                f"{name} expects a fitted GridSearchCV or RandomizedSearchCV; "
                f"got {type(search).__name__}"
            )
        check_is_fitted(search, "cv_results_")
        results = search.cv_results_
        searched = [k[len("param_"):] for k in results if k.startswith("param_")]
        found = find_distiller(search.estimator)
        path = None if found is None else (found[0], found[2])
        if path is not None and not is_classifier(path[1]):
            raise TypeError(
                f"{name} needs a search over a DistilledClassifier; its estimator's "
                f"distiller is a {type(path[1]).__name__}"
            )
        t_name, temps, t_searched = _param_values(search, "temperature", searched, path)
        a_name, alphas, a_searched = _param_values(search, "alpha", searched, path)
        if not (t_searched or a_searched):
            raise ValueError(
                f"{name} needs a search over the distiller's temperature and/or alpha; this "
                f"search varied {searched}"
            )
        if temps is None or alphas is None:
            missing = "temperature" if temps is None else "alpha"
            raise ValueError(
                f"{name}: the search's estimator has no {missing} parameter (searched: {searched})"
            )

        metrics = _metric_names(results)
        agree_keys = _agreement_keys(search)
        if agreement is not None and agreement not in metrics:
            raise ValueError(f"agreement={agreement!r} is not a metric of cv_results_: {metrics}")
        agree_key = agreement if agreement is not None else next(
            (k for k in agree_keys if k in metrics), None
        )
        if score is not None:
            if score not in metrics:
                raise ValueError(f"score={score!r} is not a metric of cv_results_: {metrics}")
            score_key, score_name = score, score
        elif metrics == ["score"]:
            score_key = "score"
            scoring = search.scoring
            score_name = "accuracy" if scoring is None else (scoring if isinstance(scoring, str) else "score")
        else:
            others = [m for m in metrics if m != agree_key]
            refit = search.refit if isinstance(search.refit, str) else None
            if refit in others:
                score_key = refit
            elif "accuracy" in others:
                score_key = "accuracy"
            elif len(others) == 1:
                score_key = others[0]
            else:
                raise ValueError(
                    f"{name}: the search has several metrics {metrics}; say which to plot "
                    "with score=..."
                )
            score_name = score_key
        if agree_key is None and X is None:
            raise ValueError(
                f"{name}: cv_results_ holds no agreement with the teacher. Put agreement_score in "
                "the search's scoring (scoring={'accuracy': 'accuracy', 'agreement': "
                "agreement_score}), name its metric with agreement=..., or pass the training "
                "data X, y to compute it by cross-validation"
            )

        # one candidate per (alpha, temperature) cell: the best scoring one
        t_grid, a_grid = np.unique(temps), np.unique(alphas)
        scores = np.asarray(results[f"mean_test_{score_key}"], dtype=np.float64)
        rank = np.where(np.isfinite(scores), scores, -np.inf)
        candidates = np.full((len(a_grid), len(t_grid)), -1, dtype=np.int64)
        for i in range(len(scores)):
            cell = (np.searchsorted(a_grid, alphas[i]), np.searchsorted(t_grid, temps[i]))
            best = candidates[cell]
            if best < 0 or rank[i] > rank[best]:
                candidates[cell] = i
        used = candidates >= 0
        score_grid = np.full(candidates.shape, np.nan)
        score_grid[used] = scores[candidates[used]]
        agree_grid = np.full(candidates.shape, np.nan)
        if agree_key is not None:
            agree_grid[used] = np.asarray(results[f"mean_test_{agree_key}"], dtype=np.float64)[
                candidates[used]
            ]
        else:
            cv = check_cv(search.cv, y, classifier=is_classifier(search.estimator))
            for cell in zip(*np.nonzero(used)):
                est = clone(search.estimator).set_params(**results["params"][candidates[cell]])
                agree_grid[cell] = cross_val_score(
                    est, X, y, groups=groups, cv=cv, scoring=agreement_score, n_jobs=n_jobs
                ).mean()
        disp = cls(
            t_grid, a_grid, score_grid, agree_grid, score_name=score_name, candidates=candidates
        )
        return disp.plot(
            ax=ax,
            cmap=cmap,
            include_values=include_values,
            values_format=values_format,
            colorbar=colorbar,
            im_kw=im_kw,
            text_kw=text_kw,
        )


# ---------------------------------------------------------------------------
# accuracy against size and speed


class CompressionTradeoffDisplay:
    """Accuracy against model size and predict throughput, one point per model.

    Two panels sharing the y-axis (the score, accuracy by default): model
    size in bytes (what :func:`model_size_bytes` measures: for a distiller
    the student and its preprocessing, not the teacher) and predict
    throughput in rows per second, both on log scales. Up and left is
    small and accurate; up and right, fast and accurate.

    It is recommended to use :meth:`from_estimators` or :meth:`from_report`
    to create a display; all parameters are stored as attributes.

    Parameters
    ----------
    names : array-like of str of shape (n_models,)
    score : array-like of shape (n_models,)
        Accuracy (or another score) of each model.
    size_bytes : array-like of shape (n_models,)
    rows_per_s : array-like of shape (n_models,)
        Predict throughput of each model.
    score_name : str, default="accuracy"
        Label of the y-axis.
    report : DataFrame, default=None
        The :func:`compare_models` report the numbers come from, if any.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        The size panel and the throughput panel.
    figure_ : matplotlib Figure
    points_ : ndarray of matplotlib PathCollection of shape (2, n_models)
        The marker of each model in each panel.

    See Also
    --------
    compare_models : the measurements behind this plot, as a DataFrame.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from skdistill import DistilledClassifier, CompressionTradeoffDisplay
    >>> X, y = make_classification(300, random_state=0)
    >>> teacher = RandomForestClassifier(50, random_state=0).fit(X, y)
    >>> student = DistilledClassifier(teacher, max_epochs=3, random_state=0).fit(X, y)
    >>> disp = CompressionTradeoffDisplay.from_estimators(
    ...     {"teacher": teacher, "student": student}, X, y)
    >>> list(disp.names)
    ['teacher', 'student']
    """

    def __init__(self, names, score, size_bytes, rows_per_s, *, score_name="accuracy", report=None):
        self.names = names
        self.score = score
        self.size_bytes = size_bytes
        self.rows_per_s = rows_per_s
        self.score_name = score_name
        self.report = report

    def plot(self, *, ax=None, annotate=True, log_scale=True, scatter_kw=None):
        """Draw the two panels.

        Parameters
        ----------
        ax : array-like of 2 matplotlib Axes, default=None
            The size and the throughput panels; None makes a new figure.
        annotate : bool, default=True
            Write each model's name next to its marker (a legend is always
            drawn in the first panel).
        log_scale : bool, default=True
            Logarithmic x-axes.
        scatter_kw : dict, default=None
            Keywords passed to ``Axes.scatter``.

        Returns
        -------
        display : CompressionTradeoffDisplay
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        names = [str(n) for n in np.asarray(self.names, dtype=object).ravel()]
        score = np.asarray(self.score, dtype=np.float64).ravel()
        size = np.asarray(self.size_bytes, dtype=np.float64).ravel()
        speed = np.asarray(self.rows_per_s, dtype=np.float64).ravel()
        if not (len(names) == len(score) == len(size) == len(speed)):
            raise ValueError(
                f"names, score, size_bytes and rows_per_s must have one value per model; got "
                f"lengths {len(names)}, {len(score)}, {len(size)}, {len(speed)}"
            )
        fig, axes = _panels(ax, 2, f"{type(self).__name__}.plot", (9.6, 4.0))
        self.points_ = np.empty((2, len(names)), dtype=object)
        panels = [(size, "model size (bytes)"), (speed, "predict throughput (rows/s)")]
        for p, (a, (x, xlabel)) in enumerate(zip(axes, panels)):
            for i, name in enumerate(names):
                self.points_[p, i] = a.scatter(
                    [x[i]],
                    [score[i]],
                    **_merge(dict(s=60, color=f"C{i % 10}", label=name, zorder=3), scatter_kw),
                )
                if annotate:
                    a.annotate(
                        name, (x[i], score[i]), xytext=(6, 4), textcoords="offset points", fontsize=9
                    )
            if log_scale:
                a.set_xscale("log")
            a.margins(x=0.25, y=0.15)
            a.set(xlabel=xlabel, ylabel=self.score_name)
            a.grid(True, which="major", alpha=0.3)
        axes[0].legend(loc="best", fontsize=9)
        self.ax_ = axes
        self.figure_ = fig
        return self

    @classmethod
    def from_report(
        cls, report, *, score=None, ax=None, annotate=True, log_scale=True, scatter_kw=None
    ):
        """Plot a report made by :func:`compare_models`.

        Parameters
        ----------
        report : DataFrame
            One row per model (the index holds the names), with columns
            ``size_bytes``, ``predict_rows_per_s`` and the score.
        score : str, default=None
            Column plotted on the y-axis; None: ``"accuracy"``, or ``"r2"``
            for a report on regressors.
        ax, annotate, log_scale, scatter_kw
            See :meth:`plot`.

        Returns
        -------
        display : CompressionTradeoffDisplay
        """
        name = f"{cls.__name__}.from_report"
        check_matplotlib_support(name)
        if not isinstance(report, pd.DataFrame):
            raise TypeError(
                f"{name} expects the DataFrame of compare_models; got {type(report).__name__}"
            )
        if score is None:
            score = "accuracy" if "accuracy" in report.columns or "r2" not in report.columns else "r2"
        missing = [c for c in (score, "size_bytes", "predict_rows_per_s") if c not in report.columns]
        if missing:
            raise ValueError(
                f"{name}: the report has no column(s) {missing}; its columns are "
                f"{list(report.columns)} (make it with skdistill.compare_models)"
            )
        if len(report) == 0:
            raise ValueError(f"{name}: the report has no rows")
        disp = cls(
            report.index.to_numpy(dtype=object),
            report[score].to_numpy(dtype=np.float64),
            report["size_bytes"].to_numpy(dtype=np.float64),
            report["predict_rows_per_s"].to_numpy(dtype=np.float64),
            score_name=score,
            report=report,
        )
        return disp.plot(ax=ax, annotate=annotate, log_scale=log_scale, scatter_kw=scatter_kw)

    @classmethod
    def from_estimators(
        cls, estimators, X, y, *, teacher=None, score=None, ax=None, annotate=True, log_scale=True,
        scatter_kw=None,
    ):
        """Measure fitted models with :func:`compare_models` and plot them.

        Parameters
        ----------
        estimators : dict of name -> fitted estimator
            E.g. ``{"teacher": forest, "hard-label": hard, "distilled": student}``;
            all classifiers or all regressors.
        X, y : array-like
            Held-out data.
        teacher : str, default=None
            Passed to :func:`compare_models` (adds the agreement column to
            ``report``).
        score, ax, annotate, log_scale, scatter_kw
            See :meth:`from_report` and :meth:`plot`.

        Returns
        -------
        display : CompressionTradeoffDisplay
            ``report`` holds the measurements.
        """
        name = f"{cls.__name__}.from_estimators"
        check_matplotlib_support(name)
        if not isinstance(estimators, dict) or not estimators:
            raise TypeError(f"{name} expects a non-empty dict of name -> fitted estimator")
        check_consistent_length(X, y)
        report = compare_models(estimators, X, y, teacher=teacher)
        return cls.from_report(
            report, score=score, ax=ax, annotate=annotate, log_scale=log_scale, scatter_kw=scatter_kw
        )


# ---------------------------------------------------------------------------
# student against teacher probabilities


class ProbabilityAgreementDisplay:
    """The student's probabilities against the teacher's, and both calibration curves.

    Left: one point per row, the teacher's probability on the x-axis and the
    student's on the y-axis; a perfect imitation lies on the diagonal.
    Right: the calibration curves (reliability diagrams, from
    :func:`sklearn.calibration.calibration_curve`) of teacher and student.

    For a binary problem (or a chosen ``pos_label``) the probabilities are
    those of the positive class. For a multiclass problem without
    ``pos_label`` they are top-class ones: the scatter shows the probability
    that each model gives to the class the teacher predicts, and each
    calibration curve plots a model's confidence (its highest probability)
    against how often its predicted class is right.

    It is recommended to use :meth:`from_estimator` or
    :meth:`from_predictions` to create a display; all parameters are
    stored as attributes.

    Parameters
    ----------
    student_proba, teacher_proba : ndarray of shape (n_samples,)
        The plotted probability of each row, by the student and the teacher.
    prob_true_student, prob_pred_student : ndarray of shape (n_bins,)
        The student's calibration curve (fraction of positives, mean
        predicted probability), as returned by ``calibration_curve``.
    prob_true_teacher, prob_pred_teacher : ndarray of shape (n_bins,)
        The teacher's.
    pos_label : int, float, bool or str, default=None
        The positive class; None for top-class probabilities.
    student_name, teacher_name : str, default="student", "teacher"
        Names in labels and legends.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        The scatter panel and the calibration panel.
    figure_ : matplotlib Figure
    scatter_ : matplotlib PathCollection
        The student-vs-teacher points.
    lines_ : dict of str -> matplotlib Line2D
        The calibration curves, keyed ``"teacher"`` and ``"student"``.

    See Also
    --------
    sklearn.calibration.CalibrationDisplay : one calibration curve.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skdistill import DistilledClassifier, ProbabilityAgreementDisplay
    >>> X, y = make_classification(200, random_state=0)
    >>> teacher = LogisticRegression().fit(X, y)
    >>> student = DistilledClassifier(teacher, max_epochs=3, random_state=0).fit(X, y)
    >>> disp = ProbabilityAgreementDisplay.from_estimator(student, X, y)
    >>> disp.student_proba.shape
    (200,)
    """

    def __init__(
        self,
        student_proba,
        teacher_proba,
        prob_true_student,
        prob_pred_student,
        prob_true_teacher,
        prob_pred_teacher,
        *,
        pos_label=None,
        student_name="student",
        teacher_name="teacher",
    ):
        self.student_proba = student_proba
        self.teacher_proba = teacher_proba
        self.prob_true_student = prob_true_student
        self.prob_pred_student = prob_pred_student
        self.prob_true_teacher = prob_true_teacher
        self.prob_pred_teacher = prob_pred_teacher
        self.pos_label = pos_label
        self.student_name = student_name
        self.teacher_name = teacher_name

    def plot(self, *, ax=None, ref_line=True, scatter_kw=None, line_kw=None):
        """Draw the scatter and the calibration curves.

        Parameters
        ----------
        ax : array-like of 2 matplotlib Axes, default=None
            The scatter and the calibration panels; None makes a new figure.
        ref_line : bool, default=True
            Draw the diagonal (perfect imitation, perfect calibration).
        scatter_kw : dict, default=None
            Keywords passed to ``Axes.scatter``.
        line_kw : dict, default=None
            Keywords passed to ``Axes.plot`` for the calibration curves.

        Returns
        -------
        display : ProbabilityAgreementDisplay
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        fig, axes = _panels(ax, 2, f"{type(self).__name__}.plot", (9.6, 4.4))
        if self.pos_label is None:
            what = "probability of the teacher's class"
            cal_x, cal_y = "confidence (highest probability)", "fraction correct"
        else:
            what = f"P(y = {self.pos_label})"
            cal_x = f"mean predicted {what}"
            cal_y = f"fraction of rows with y = {self.pos_label}"
        left, right = axes
        if ref_line:
            left.plot([0, 1], [0, 1], "k:", lw=1)
        self.scatter_ = left.scatter(
            self.teacher_proba, self.student_proba, **_merge(dict(s=8, alpha=0.4, color="C0"), scatter_kw)
        )
        left.set(
            xlim=(-0.02, 1.02), ylim=(-0.02, 1.02),
            xlabel=f"{self.teacher_name}: {what}", ylabel=f"{self.student_name}: {what}",
            title=f"{self.student_name} against {self.teacher_name}",
        )
        left.set_aspect("equal")
        if ref_line:
            right.plot([0, 1], [0, 1], "k:", lw=1, label="perfectly calibrated")
        self.lines_ = {}
        for key, name, true, pred, color in [
            ("teacher", self.teacher_name, self.prob_true_teacher, self.prob_pred_teacher, "C1"),
            ("student", self.student_name, self.prob_true_student, self.prob_pred_student, "C0"),
        ]:
            self.lines_[key] = right.plot(
                pred, true, **_merge(dict(marker="s", color=color, label=name), line_kw)
            )[0]
        right.set(
            xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel=cal_x, ylabel=cal_y, title="calibration"
        )
        right.set_aspect("equal")
        right.legend(loc="upper left", fontsize=9)
        self.ax_ = axes
        self.figure_ = fig
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        pos_label=None,
        n_bins=10,
        strategy="uniform",
        student_name="student",
        teacher_name="teacher",
        ax=None,
        ref_line=True,
        scatter_kw=None,
        line_kw=None,
    ):
        """Compare a fitted distilled classifier with its own teacher on X, y.

        Parameters
        ----------
        estimator : fitted DistilledClassifier or Pipeline ending in one
            The student; the teacher is its ``teacher_`` (probabilities at
            temperature 1, as the distiller reads them: for several teachers,
            their weighted average). For a Pipeline, the steps before the
            distiller are applied to X first.
        X : array-like or DataFrame of shape (n_samples, n_features)
            Held-out rows.
        y : array-like of shape (n_samples,)
            Their true labels (for the calibration curves).
        pos_label, n_bins, strategy, student_name, teacher_name
            See :meth:`from_predictions`.
        ax, ref_line, scatter_kw, line_kw
            See :meth:`plot`.

        Returns
        -------
        display : ProbabilityAgreementDisplay
        """
        name = f"{cls.__name__}.from_estimator"
        check_matplotlib_support(name)
        transform, distiller = _fitted_classifier(estimator, name)
        if y is None:
            raise ValueError(f"{name} needs the true labels y (for the calibration curves)")
        check_consistent_length(X, y)
        Xt = transform(X)
        return cls.from_predictions(
            y,
            distiller.predict_proba(Xt),
            _teacher_proba(distiller, Xt),
            classes=distiller.classes_,
            pos_label=pos_label,
            n_bins=n_bins,
            strategy=strategy,
            student_name=student_name,
            teacher_name=teacher_name,
            ax=ax,
            ref_line=ref_line,
            scatter_kw=scatter_kw,
            line_kw=line_kw,
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        proba_student,
        proba_teacher,
        *,
        classes=None,
        pos_label=None,
        n_bins=10,
        strategy="uniform",
        student_name="student",
        teacher_name="teacher",
        ax=None,
        ref_line=True,
        scatter_kw=None,
        line_kw=None,
    ):
        """Compare student and teacher probabilities you have computed.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        proba_student, proba_teacher : array-like of shape (n_samples, n_classes) or (n_samples,)
            ``predict_proba`` outputs (columns in the order of ``classes``),
            or positive-class probabilities of a binary problem.
        classes : array-like of shape (n_classes,), default=None
            The class of each column; None: the sorted labels of ``y_true``
            (which must then contain every class).
        pos_label : int, float, bool or str, default=None
            The positive class. None: ``classes[1]`` for two classes, 1 for
            1-D probabilities with labels {0, 1} or {-1, 1}, and top-class
            probabilities for more than two classes.
        n_bins : int, default=10
            Bins of the calibration curves.
        strategy : {"uniform", "quantile"}, default="uniform"
            How the calibration bins are placed.
        student_name, teacher_name : str, default="student", "teacher"
            Names in labels and legends.
        ax, ref_line, scatter_kw, line_kw
            See :meth:`plot`.

        Returns
        -------
        display : ProbabilityAgreementDisplay
        """
        name = f"{cls.__name__}.from_predictions"
        check_matplotlib_support(name)
        if y_true is None:
            raise ValueError(f"{name} needs the true labels y (for the calibration curves)")
        y_true = column_or_1d(y_true)
        ps = np.asarray(proba_student, dtype=np.float64)
        pt = np.asarray(proba_teacher, dtype=np.float64)
        check_consistent_length(y_true, ps, pt)
        if ps.shape != pt.shape or ps.ndim not in (1, 2):
            raise ValueError(
                f"proba_student and proba_teacher must have the same shape, (n_samples,) or "
                f"(n_samples, n_classes); got {ps.shape} and {pt.shape}"
            )
        curve = dict(n_bins=n_bins, strategy=strategy)
        if ps.ndim == 1:
            pos_label = _check_pos_label_consistency(pos_label, y_true)
            s, t = ps, pt
            y_pos = (y_true == pos_label).astype(int)
            true_s, pred_s = calibration_curve(y_pos, s, pos_label=1, **curve)
            true_t, pred_t = calibration_curve(y_pos, t, pos_label=1, **curve)
        else:
            classes = unique_labels(y_true) if classes is None else np.asarray(classes)
            if len(classes) != ps.shape[1]:
                raise ValueError(
                    f"the probabilities have {ps.shape[1]} columns but there are {len(classes)} "
                    f"classes {list(classes)[:10]}; pass classes= (one per column)"
                )
            if pos_label is None and len(classes) == 2:
                pos_label = classes[1]
            if pos_label is not None:
                where = np.flatnonzero(classes == pos_label)
                if where.size != 1:
                    raise ValueError(
                        f"pos_label={pos_label!r} is not one of the classes {list(classes)}"
                    )
                s, t = ps[:, where[0]], pt[:, where[0]]
                y_pos = (y_true == pos_label).astype(int)
                true_s, pred_s = calibration_curve(y_pos, s, pos_label=1, **curve)
                true_t, pred_t = calibration_curve(y_pos, t, pos_label=1, **curve)
            else:  # top-class probabilities
                rows = np.arange(len(y_true))
                top = np.argmax(pt, axis=1)
                s, t = ps[rows, top], pt[rows, top]
                right_s = (classes[np.argmax(ps, axis=1)] == y_true).astype(int)
                true_s, pred_s = calibration_curve(right_s, ps.max(axis=1), pos_label=1, **curve)
                right_t = (classes[top] == y_true).astype(int)
                true_t, pred_t = calibration_curve(right_t, t, pos_label=1, **curve)
        if isinstance(pos_label, np.generic):
            pos_label = pos_label.item()
        disp = cls(
            s, t, true_s, pred_s, true_t, pred_t,
            pos_label=pos_label, student_name=student_name, teacher_name=teacher_name,
        )
        return disp.plot(ax=ax, ref_line=ref_line, scatter_kw=scatter_kw, line_kw=line_kw)
