"""The shared machinery of DistilledClassifier and DistilledRegressor.

One fit, in order (:meth:`BaseDistiller.fit`):

1. validate the parameters and X (``_check_X``) and y (``_check_y``, per task);
2. resolve the teacher into an adapter (:mod:`skdistill._teacher`), fitting
   a clone of an unfitted teacher (cached, :mod:`skdistill._cache`);
3. fit the student's preprocessor (:mod:`skdistill._preprocessing`);
4. build the transfer set: the real rows, user-supplied unlabeled rows and
   synthetic rows (:mod:`skdistill._augment`), all labelled by the teacher
   through the cache;
5. build the packed targets (``_build_targets``, per task, see
   :mod:`skdistill._loss`);
6. train the skorch student (:mod:`skdistill._student`).
"""

import numbers
import threading
import warnings
from abc import ABCMeta, abstractmethod

import numpy as np
import pandas as pd
import torch
from skorch import NeuralNet
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import (
    _assert_all_finite,
    _check_sample_weight,
    check_array,
    check_is_fitted,
    has_fit_parameter,
    validate_data,
)

from . import _cache, _inference
from ._augment import check_augmenter, generate_rows
from ._checks import check_unique_columns
from ._device import net_device, resident_device, resolve_device
from ._inference import compile_encoder, mlp_layers, numpy_forward, predict_chunked
from ._preprocessing import (
    NUMERIC_ENCODINGS,
    check_encoded,
    infer_column_kinds,
    make_default_preprocessor,
    sizing_width,
)
from ._sklearn_student import fit_sklearn_student, is_sklearn_student
from ._student import build_student, predict_raw
from ._teacher import (
    _is_torch_module,
    adapt_teacher,
    is_fitted,
    raw_booster_kind,
    resolve_teacher,
    teacher_list,
    unwrap,
)
from ._transfer import streaming_fit_data
from ._transfer_format import TransferSet


#: One student training at a time per process. torch's random generator is
#: process-global, so two fits training at once in one process would
#: interleave their draws and lose reproducibility. That happens with
#: thread-based joblib backends, and on Dask workers even with one thread:
#: joblib's Dask backend runs each task under ``parallel_config("dask")``, so
#: a nested joblib call (the student's ColumnTransformer) secedes from the
#: worker's thread pool and the worker starts another task meanwhile. Code
#: run under this lock must not secede (no nested joblib dispatch to Dask),
#: or workers could wait on each other.
TRAINING_LOCK = threading.RLock()


def _teacher_allows_nan(teacher):
    teachers, _ = teacher_list(teacher) if isinstance(teacher, (list, tuple)) and teacher else ([teacher], False)
    for t in teachers:
        t = unwrap(t)  # a FrozenEstimator has the tags of the model inside
        if _is_torch_module(t):
            return False
        if raw_booster_kind(t) is not None:
            continue  # LightGBM and XGBoost boosters take NaN as missing
        if isinstance(t, Pipeline):
            # scikit-learn pipelines never advertise allow_nan, even when their
            # first steps impute: the pipeline gets X as is and raises its own
            # clear error if one of its steps cannot take NaN
            continue
        try:
            if not get_tags(t).input_tags.allow_nan:
                return False
        except Exception:
            return False
    return True


def _seed_from(key):
    return int(key[:8], 16)


class BaseDistiller(BaseEstimator, metaclass=ABCMeta):
    """Base class for distilled estimators. Not for direct use."""

    _task = None  # "classification" or "regression"

    _parameter_constraints = {
        "teacher": "no_validation",
        "teacher_weights": ["array-like", None],
        "alpha": [Interval(numbers.Real, 0, 1, closed="both")],
        "student": "no_validation",
        "hidden_layer_sizes": [StrOptions({"auto"}), "array-like"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "max_epochs": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "augment": [StrOptions({"munge"}), HasMethods(["generate"]), None],
        "preprocessor": [HasMethods(["fit", "transform"]), None],
        "numeric_encoding": [StrOptions({"auto", *NUMERIC_ENCODINGS})],
        "n_bins": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"loss"})],  # subclasses add their fidelity metrics
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "memory": [None, str, HasMethods(["cache"])],
        "labeling_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": "no_validation",
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: Parameters added since skdistill 0.1.0, with the value that reproduces
    #: that release's behaviour: estimators pickled by it, or saved with its
    #: :func:`~skdistill.save_student`, get these when loaded.
    _LEGACY_PARAMS = {"numeric_encoding": "quantile", "n_bins": "auto"}

    #: The fitted attributes that predictions read besides ``student_`` and
    #: ``preprocessor_``, all plain values (numbers, bools, lists, arrays):
    #: the state :meth:`_get_fitted_state` gives and :meth:`_set_fitted_state`
    #: restores (what :func:`~skdistill.save_student` writes). Subclasses add
    #: their task's attributes. ``feature_names_in_`` is set only when fit saw
    #: string column names.
    _fitted_attributes = ("n_features_in_", "feature_names_in_", "column_kinds_", "n_transfer_", "_allow_nan_")

    # ------------------------------------------------------------------
    # cloning: a fitted teacher is shared, never copied

    def __sklearn_clone__(self):
        params = self.get_params(deep=False)
        teacher = params.pop("teacher")
        new = {k: clone(v, safe=False) for k, v in params.items()}
        teachers, several = teacher_list(teacher) if _is_sequence(teacher) else ([teacher], False)
        kept = [t if is_fitted(t) else clone(t) for t in teachers]
        new["teacher"] = type(teacher)(kept) if several else kept[0]
        obj = type(self)(**new)
        if hasattr(self, "_metadata_request"):
            obj._metadata_request = clone(self._metadata_request)
        return obj

    # ------------------------------------------------------------------
    # pickling

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: pickling must not change the estimator
        # the compiled encoder is derived from the fitted preprocessor: pickles
        # hold whether there is one, and it is rebuilt when they are loaded (so
        # a pickle of an earlier release gets this release's encoder)
        if state.get("_compiled_encoder_") is not None:
            state["_compiled_encoder_"] = True
        # an unfitted distiller's fitted teachers travel with their cache token,
        # so that copies unpickled in one worker share teacher outputs
        if "student_" not in self.__dict__:
            teachers = list(self.teacher) if _is_sequence(self.teacher) else [self.teacher]
            tokens = [_cache.teacher_token(t) if is_fitted(t) else None for t in teachers]
            if any(tok is not None for tok in tokens):
                state["_teacher_tokens"] = tokens
        return state

    def __setstate__(self, state):
        state = dict(state)
        for name, value in self._LEGACY_PARAMS.items():
            state.setdefault(name, value)
        if "_compiled_encoder_" in state:
            state["_compiled_encoder_"] = _rebuild_encoder(state["_compiled_encoder_"], state["preprocessor_"])
        tokens = state.pop("_teacher_tokens", None)
        super().__setstate__(state)
        if tokens is not None:
            teachers = list(self.teacher) if _is_sequence(self.teacher) else [self.teacher]
            for t, token in zip(teachers, tokens):
                _cache.register_token(t, token)

    def set_params(self, **params):
        nested = [k for k in params if k.startswith("teacher__")]
        if nested and not _is_sequence(self.teacher) and is_fitted(self.teacher):
            raise ValueError(
                f"cannot set {nested}: the teacher is fitted and shared (never copied), so "
                "setting its parameters would change your model. Pass an unfitted teacher "
                "to tune its hyperparameters."
            )
        return super().set_params(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = _teacher_allows_nan(self.teacher)
        tags.target_tags.required = self.alpha < 1
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------
    # validation

    def _check_X(self, X, *, reset, allow_nan=None):
        """Validate X without converting a DataFrame (the teacher gets it as is)."""
        if allow_nan is None:
            allow_nan = self._allow_nan_
        if not reset and self._is_plain_numeric(X, allow_nan):
            return X  # the prediction fast path: nothing to convert or report
        if isinstance(X, pd.DataFrame):
            check_unique_columns(X)
            if X.shape[0] == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
                )
            if X.shape[1] == 0:
                raise ValueError(
                    f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
                )
            validate_data(self, X, reset=reset, skip_check_array=True)
            numeric = X.select_dtypes(include=["number"])
            values = numeric.to_numpy(dtype=np.float64, na_value=np.nan) if numeric.shape[1] else None
        else:
            X = check_array(X, dtype=None, ensure_all_finite=False, accept_sparse=False)
            validate_data(self, X, reset=reset, skip_check_array=True)
            values = X if X.dtype.kind in "biuf" else None
        if values is not None:
            _assert_all_finite(
                values, allow_nan=allow_nan, estimator_name=type(self).__name__, input_name="X"
            )
        return X

    def _is_plain_numeric(self, X, allow_nan):
        """Whether X is already what ``_check_X`` would return, checked cheaply.

        A 2-D float or integer ndarray with the fitted number of columns, for
        an estimator fitted without feature names, holding no value that the
        full validation would reject. Anything else takes the full path,
        which raises or warns as scikit-learn does.
        """
        if not (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype.kind in "fiu"
            and X.shape[0] > 0
            and X.shape[1] == getattr(self, "n_features_in_", -1)
            and not hasattr(self, "feature_names_in_")
        ):
            return False
        return _values_allowed(X, allow_nan)

    def _plain_frame_values(self, X):
        """A prediction DataFrame as an ndarray the compiled encoder reads, or None.

        A DataFrame with exactly the fitted column names, in order (or, for
        an all-numeric student fitted without names, a numeric frame with
        no string column labels, read by position), is read in one
        ``to_numpy`` call instead of column by column: as float64 when
        the student's columns are all numeric, else (up to
        :data:`~skdistill._inference.FEW_ROWS` rows, one-row serving) as an object array whose
        numeric columns convert to float. Values the full validation would
        reject (text in a numeric column, infinity, NaN where not allowed)
        or anything else unusual give None: the full path then raises or
        warns as scikit-learn does.
        """
        names = getattr(self, "feature_names_in_", None)
        compiled = getattr(self, "_compiled_encoder_", None)
        if compiled is None or X.shape[0] == 0:
            return None
        if names is None:  # fitted without names: a frame without string labels reads by position
            if compiled.categorical or X.shape[1] != self.n_features_in_ or not X.columns.is_unique:
                return None
            if type(X.columns) is not pd.RangeIndex and any(isinstance(c, str) for c in X.columns):
                return None  # scikit-learn warns (or raises for mixed labels): the full path does
            if not all(d.kind in "iuf" for d in _frame_dtypes(X)):
                return None
        elif X.shape[1] != len(names) or X.columns.tolist() != names.tolist():  # lists: no pandas Index
            return None
        try:
            if not compiled.categorical:
                values = numeric = X.to_numpy(dtype=np.float64, na_value=np.nan)
            elif X.shape[0] <= _inference.FEW_ROWS:
                values = _inference.frame_values(X)
                numeric = values[:, compiled.numeric].astype(np.float64)
            else:
                return None
        except (TypeError, ValueError):  # text in a numeric column: the full path says which
            return None
        return values if _values_allowed(numeric, self._allow_nan_) else None

    # ------------------------------------------------------------------
    # per task: what DistilledClassifier and DistilledRegressor define

    @abstractmethod
    def _check_y(self, y, n_samples):
        """Validate y (None allowed only with ``alpha=1``); return it as the task uses it."""

    @abstractmethod
    def _after_teacher(self, adapter, y):
        """Set task attributes (classes_, ...); return y encoded for the loss."""

    @abstractmethod
    def _build_targets(self, outputs, y_enc, n_real, weights=None):
        """Fit what the targets need (the regressor's scaling); return them packed."""

    @abstractmethod
    def _pack_targets(self, outputs, y_enc=None, n_real=0, weights=None):
        """Packed targets (see :mod:`skdistill._loss`); true targets for the first n_real rows."""

    @abstractmethod
    def _criterion(self):
        """The loss class of the student (a :class:`torch.nn.Module` class)."""

    @abstractmethod
    def _auto_max_epochs(self):
        """The epochs that ``max_epochs="auto"`` trains, from the fitted state set so far."""

    def _max_epochs(self):
        """``max_epochs`` as an int: itself, or :meth:`_auto_max_epochs` for "auto"."""
        if isinstance(self.max_epochs, str):
            return self._auto_max_epochs()
        return int(self.max_epochs)

    @abstractmethod
    def _criterion_params(self):
        """The keyword arguments of :meth:`_criterion`, from the estimator's parameters."""

    # ------------------------------------------------------------------
    # fit

    def _numeric_encoding(self):
        """``numeric_encoding``, with "auto" resolved.

        The piecewise-linear encoding widens the input (one value per bin):
        fine when skdistill builds the network (None, or a module class given
        ``n_inputs``); a module instance or a skorch net was built by the user
        for one input per numeric column, as skdistill 0.1 encoded them, so
        "auto" keeps the quantile transform for those.
        """
        if self.numeric_encoding != "auto":
            return self.numeric_encoding
        return "quantile" if isinstance(self.student, (torch.nn.Module, NeuralNet)) else "piecewise_linear"

    def _reset(self):
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, *, sample_weight=None, X_unlabeled=None, **fit_params):
        """Distil the teacher into the student.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, passed to the teacher exactly as given.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
            True targets. May be None only when ``alpha=1`` and the teacher
            is fitted.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows of X; None weighs every row 1.
            A row's weight multiplies its loss in both terms (teacher and
            true target), each term being a weighted mean, so that an
            integer weight acts as that many copies of the row. The MUNGE
            rows made from a row inherit its weight (synthetic rows of an
            augmenter that does not report their source rows get the mean
            weight); rows of ``X_unlabeled`` weigh 1, as one row each. The
            weights also weigh the early-stopping validation scores. An
            unfitted teacher gets them in its own ``fit`` when its ``fit``
            accepts ``sample_weight`` (with metadata routing enabled: when
            it requests them, ``teacher.set_fit_request(sample_weight=True)``).
            The student's preprocessor is fit unweighted.
        X_unlabeled : array-like, DataFrame or TransferSet, default=None
            Extra rows without targets, same columns as X. The teacher labels
            them and the student learns the teacher's outputs on them. A
            :class:`~skdistill.TransferSet` (rows already labelled by this
            teacher, on disk, see :func:`~skdistill.label_transfer_set`) is
            streamed through training one chunk at a time instead of being
            loaded, so memory does not grow with its size.
        **fit_params : dict
            Parameters of an unfitted teacher's ``fit`` (for a Pipeline
            teacher, ``step__param``). With a list of teachers, each unfitted
            teacher gets them all. With metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``) they are
            routed instead, to the teachers that request them.

        Returns
        -------
        self : object
        """
        self._reset()
        try:
            return self._fit(X, y, X_unlabeled, sample_weight, fit_params)
        except BaseException:
            self._reset()
            raise

    # ------------------------------------------------------------------
    # weights and metadata routing

    def _unfitted_teachers(self):
        """``(name, teacher)`` of each teacher that fit will fit (a clone of).

        The name is ``"teacher"`` for a single teacher, ``"teacher_<i>"`` for
        the i-th of a list: the names of the metadata router.
        """
        several = _is_sequence(self.teacher)
        teachers = list(self.teacher) if several else [self.teacher]
        return [
            (f"teacher_{i}" if several else "teacher", t)
            for i, t in enumerate(teachers)
            if hasattr(t, "fit") and hasattr(t, "get_params") and not is_fitted(t)
        ]

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit`` consumes ``sample_weight`` (and ``X_unlabeled``) itself, as
        requested with ``set_fit_request``, and routes fit metadata to each
        unfitted teacher as the teacher requests it (``teacher`` for a
        single teacher, ``teacher_<i>`` for the i-th of a list). A fitted
        teacher is never fit, so nothing is routed to it. See scikit-learn's
        user guide on metadata routing.

        Returns
        -------
        routing : MetadataRouter
        """
        router = MetadataRouter(owner=self).add_self_request(self)
        for name, t in self._unfitted_teachers():
            router.add(**{name: t}, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        return router

    def _teacher_fit_params(self, sample_weight, fit_params):
        """The ``fit`` parameters of each unfitted teacher, keyed by ``id``."""
        teachers = self._unfitted_teachers()
        if _routing_enabled():
            passed = dict(fit_params)
            if sample_weight is not None:
                passed["sample_weight"] = sample_weight
            routed = process_routing(self, "fit", **passed)
            return {id(t): dict(routed[name].fit) for name, t in teachers}
        if fit_params and not teachers:
            raise TypeError(
                f"{type(self).__name__}.fit got unexpected argument(s) {sorted(fit_params)}: "
                "extra fit parameters are passed to an unfitted teacher's fit, and this "
                "teacher is fitted (it is never refit)"
            )
        out = {}
        for _, t in teachers:
            params = dict(fit_params)
            if sample_weight is not None:
                if has_fit_parameter(t, "sample_weight"):
                    params["sample_weight"] = sample_weight
                else:
                    warnings.warn(
                        f"the teacher {type(t).__name__} does not accept sample_weight in fit, "
                        "so it is fit unweighted (the student's loss is still weighted). For a "
                        "Pipeline teacher, pass the weights to its final step as "
                        "'<step>__sample_weight'.",
                        UserWarning,
                        stacklevel=2,
                    )
            out[id(t)] = params
        return out

    def _row_weights(self, sample_weight, y):
        """The weights of the real rows in the loss (None: all 1); the
        classifier multiplies in ``class_weight``."""
        return sample_weight

    def _fit(self, X, y, X_unlabeled, sample_weight, fit_params):
        device = resolve_device(self.device)
        allow_nan = _teacher_allows_nan(self.teacher)
        X = self._check_X(X, reset=True, allow_nan=allow_nan)
        n = X.shape[0]
        y = self._check_y(y, n)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        teacher_params = self._teacher_fit_params(sample_weight, fit_params)
        weights = self._row_weights(sample_weight, y)
        rng = check_random_state(self.random_state)
        x_key = _cache.data_key(X)
        seed = _seed_from(x_key) if self.random_state is None else int(rng.randint(2**31 - 1))

        def fit_one(t, X_, y_, original):
            return _cache.fit_teacher(t, X_, y_, self.memory, teacher_params.get(id(original), {}))

        adapter = resolve_teacher(
            self.teacher,
            self.teacher_weights,
            task=self._task,
            X=X,
            y=y,
            n_features=X.shape[1],
            device=device,
            fit_one=fit_one,
            labeling_batch_size=self.labeling_batch_size,
            verbose=self.verbose,
        )
        y_enc = self._after_teacher(adapter, y)

        # the student's view of the data; the column checks are the default
        # encoder's: a user preprocessor takes whatever it takes
        kinds = infer_column_kinds(X, strict=self.preprocessor is None)
        if self.preprocessor is None:
            pre = make_default_preprocessor(
                kinds, n, random_state=seed, numeric_encoding=self._numeric_encoding(), n_bins=self.n_bins
            )
        else:
            pre = clone(self.preprocessor)
        Z = check_encoded(pre.fit_transform(X))
        head = X.iloc[:512] if isinstance(X, pd.DataFrame) else X[:512]
        compiled = compile_encoder(pre, head, Z[:512])  # the fast prediction path, or None

        # the transfer set
        outputs = [_cache.teacher_outputs(adapter, X, x_key, self.memory)]
        encoded = [Z]
        row_weights = [weights if weights is not None else np.ones(n)]
        on_disk = None  # an on-disk TransferSet: read chunk by chunk while training
        if isinstance(X_unlabeled, TransferSet):
            on_disk = X_unlabeled._check_compatible(
                task=self._task,
                n_features=self.n_features_in_,
                feature_names=getattr(self, "feature_names_in_", None),
                classes=adapter.classes_ if self._task == "classification" else None,
                n_outputs=outputs[0].shape[1],
                estimator_name=type(self).__name__,
            )
        elif X_unlabeled is not None:
            X_u = self._check_X(X_unlabeled, reset=False, allow_nan=allow_nan)
            outputs.append(_cache.teacher_outputs(adapter, X_u, _cache.data_key(X_u), self.memory))
            encoded.append(check_encoded(pre.transform(X_u)))
            row_weights.append(np.ones(X_u.shape[0]))  # one unlabeled row counts as one row
        augmenter = check_augmenter(self.augment)
        if augmenter is not None and n >= 2:
            # the rows depend on the space their neighbours are found in: the preprocessor's
            synth_key = _cache.data_key(
                x_key,
                augmenter.get_params() if hasattr(augmenter, "get_params") else repr(augmenter),
                seed,
                kinds,
                clone(pre),
            )
            X_s, source = _cache.cached_call(
                synth_key,
                lambda: generate_rows(augmenter, X, Z, kinds, random_state=seed, verbose=self.verbose),
            )
            outputs.append(_cache.teacher_outputs(adapter, X_s, synth_key, self.memory))
            encoded.append(check_encoded(pre.transform(X_s)))
            if weights is None:
                row_weights.append(np.ones(X_s.shape[0]))
            elif source is not None:
                row_weights.append(weights[source])  # a synthetic row weighs as its source row
            else:
                row_weights.append(np.full(X_s.shape[0], weights.mean()))
        outputs = np.concatenate(outputs, axis=0)
        Z_all = np.concatenate(encoded, axis=0) if len(encoded) > 1 else Z
        row_weights = np.concatenate(row_weights) if weights is not None else None
        targets = self._build_targets(outputs, y_enc, n, row_weights)
        n_transfer = Z_all.shape[0] + (0 if on_disk is None else on_disk.n_rows)

        def check_rows(rows):  # a chunk of on-disk rows, checked as X is
            return self._check_X(rows, reset=False, allow_nan=allow_nan)

        if is_sklearn_student(self.student):  # a scikit-learn student: trained in _sklearn_student.py
            def encode(X_chunk):
                return np.asarray(pre.transform(check_rows(X_chunk)), dtype=np.float32)

            # on-disk rows carry only the teacher's outputs; loaded whole (the model fits all rows at once)
            on_disk_rows = () if on_disk is None else (
                (encode(X_chunk), self._pack_targets(chunk_outputs))
                for X_chunk, chunk_outputs in on_disk.iter_chunks()
            )
            fitted = fit_sklearn_student(
                self.student, self._task, Z_all, targets, n_outputs=outputs.shape[1], alpha=self.alpha,
                temperature=getattr(self, "temperature", 1.0), more_rows=on_disk_rows, random_state=seed,
            )
            self._sklearn_student_ = fitted
            return self._set_fitted(adapter, pre, compiled, kinds, fitted.estimator_, n_transfer, allow_nan)

        # the student, built and trained under one seed (CPU training is reproducible)
        devices = _cuda_indices(device)
        with TRAINING_LOCK, torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            net = self._build_net(
                Z_all.shape[1],
                outputs.shape[1],
                device,
                n_sizing_inputs=sizing_width(pre, Z_all.shape[1]),
                random_state=seed,
            )
            if on_disk is None:
                where = resident_device(Z_all.nbytes + targets.nbytes, net_device(net))
                data = torch.utils.data.TensorDataset(
                    torch.from_numpy(Z_all).to(where), torch.from_numpy(targets).to(where)
                )
            else:  # the in-memory rows plus the on-disk ones, encoded chunk by chunk
                data = streaming_fit_data(
                    on_disk, net, Z_all, targets, preprocessor=pre, pack=self._pack_targets,
                    check_X=check_rows,
                )
            net.fit(data, None)
        return self._set_fitted(adapter, pre, compiled, kinds, net, n_transfer, allow_nan)

    def _set_fitted(self, adapter, pre, compiled, kinds, student, n_transfer, allow_nan):
        self.teacher_ = adapter.estimator if not isinstance(adapter.estimator, tuple) else list(adapter.estimator)
        self.preprocessor_ = pre
        self._compiled_encoder_ = compiled
        self.column_kinds_ = kinds
        self.student_ = student
        self.n_transfer_ = n_transfer
        self._allow_nan_ = allow_nan
        return self

    # ------------------------------------------------------------------
    # the student's net and the fitted state, for fit and for save_student / load_student

    def _build_net(self, n_inputs, n_outputs, device, *, n_sizing_inputs=None, random_state=None, architecture=None):
        """The student's skorch net, unfitted, from this estimator's parameters.

        Parameters
        ----------
        n_inputs, n_outputs : int
            Columns of the encoded input and of the student's output.
        device : torch.device
        n_sizing_inputs : int, default=None
            The width that "auto" hidden sizes are computed from
            (:func:`~skdistill._preprocessing.sizing_width`); None is ``n_inputs``.
        random_state : int, default=None
            Seeds the early-stopping split.
        architecture : dict, default=None
            None builds the net that fit trains. ``{"hidden_layer_sizes": ...,
            "dropout": ...}`` rebuilds a saved default :class:`~skdistill.nn.MLP`
            to predict with (:func:`~skdistill.load_student`): the ``student``
            parameter, early stopping, callbacks and verbosity are left out.

        Returns
        -------
        net : skdistill.nn.StudentNet or the user's skorch net
        """
        saved = architecture is not None
        return build_student(
            student=None if saved else self.student,
            criterion=self._criterion(),
            criterion_params=self._criterion_params(),
            n_inputs=n_inputs,
            n_sizing_inputs=n_sizing_inputs,
            n_outputs=n_outputs,
            hidden_layer_sizes=architecture["hidden_layer_sizes"] if saved else self.hidden_layer_sizes,
            dropout=architecture["dropout"] if saved else self.dropout,
            max_epochs=self._max_epochs(),
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            device=device,
            early_stopping=False if saved else self.early_stopping,
            task=self._task,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            callbacks=None if saved else self.callbacks,
            verbose=0 if saved else self.verbose,
            random_state=random_state,
        )

    def _get_fitted_state(self):
        """The fitted state that predictions read, besides the student and its preprocessor.

        Returns
        -------
        state : dict
            The attributes of ``_fitted_attributes`` that are set, and
            ``"_compiled_encoder_"``: whether fit built the compiled encoder
            (a pure function of ``preprocessor_``, rebuilt by
            :meth:`_set_fitted_state`).
        """
        check_is_fitted(self, "student_")
        state = {name: getattr(self, name) for name in self._fitted_attributes if hasattr(self, name)}
        state["_compiled_encoder_"] = getattr(self, "_compiled_encoder_", None) is not None
        return state

    def _set_fitted_state(self, state, preprocessor):
        """Restore a state of :meth:`_get_fitted_state` with the fitted ``preprocessor``.

        ``student_`` is the caller's to set. A state from an earlier release
        may lack ``"_compiled_encoder_"`` (then there is none).

        Raises
        ------
        ValueError
            If ``state`` lacks a fitted attribute or holds an unknown one.
        """
        known = {*self._fitted_attributes, "_compiled_encoder_"}
        required = set(self._fitted_attributes) - {"feature_names_in_"}
        unknown, missing = sorted(set(state) - known), sorted(required - set(state))
        if unknown or missing:
            raise ValueError(
                f"not a fitted state of {type(self).__name__}: "
                f"missing {missing}, unknown {unknown}"
            )
        for name in self._fitted_attributes:
            if name in state:
                setattr(self, name, state[name])
        self.preprocessor_ = preprocessor
        self._compiled_encoder_ = _rebuild_encoder(state.get("_compiled_encoder_"), preprocessor)
        return self

    # ------------------------------------------------------------------
    # predict

    def _encode(self, X):
        """X validated and encoded for the student (float32)."""
        check_is_fitted(self, "student_")
        X = self._check_X(X, reset=False)
        return check_encoded(self._encoder()(X))

    def _encoder(self):
        compiled = getattr(self, "_compiled_encoder_", None)
        return compiled.transform if compiled is not None else self.preprocessor_.transform

    def _raw_predict(self, X):
        """The student's raw outputs (logits, or standardized predictions).

        Encoding and forward pass run over bounded chunks of rows
        (:func:`~skdistill._inference.predict_chunked`); the default MLP on
        CPU answers through numpy, other modules and devices through torch.
        The compiled encoder's output is not checked again: it only outputs
        finite float32 values.
        """
        if "student_" not in self.__dict__:
            check_is_fitted(self, "student_")  # raises NotFittedError
        values = self._plain_frame_values(X) if type(X) is pd.DataFrame else None
        X = values if values is not None else self._check_X(X, reset=False)
        if "_sklearn_student_" in self.__dict__:  # a scikit-learn student (_sklearn_student.py)
            return predict_chunked(X, X.shape[0], self._encoder(), self._sklearn_student_.raw_predict)
        net = self.student_
        module = net.module_
        # float64 sums: the same outputs for a row however it is batched (numpy_forward);
        # the string test first: a torch.device costs about a microsecond to build
        on_cpu = net.device == "cpu" or net_device(net).type == "cpu"
        layers = mlp_layers(module, np.float64) if on_cpu else None
        compiled = getattr(self, "_compiled_encoder_", None)
        if compiled is not None and layers is not None and X.shape[0] <= _inference.COMPILED_CHUNK_ROWS:
            return numpy_forward(layers, compiled.transform(X))  # one chunk (one-row serving)
        if layers is not None:
            def forward(Z):
                return numpy_forward(layers, Z)
        else:
            device = net_device(net)

            def forward(Z):
                return predict_raw(module, Z, device)
        if compiled is not None and layers is not None:  # all numpy: cache-sized chunks, no re-check
            return predict_chunked(X, X.shape[0], compiled.transform, forward, _inference.COMPILED_CHUNK_ROWS, False)
        return predict_chunked(X, X.shape[0], self._encoder(), forward)

    # ------------------------------------------------------------------
    # the fitted teacher

    def _teacher_outputs(self, X):
        """The fitted teacher's outputs for the rows ``X``, read as in ``fit``.

        Logits aligned with ``classes_`` (for a list of teachers: of their
        weighted mixture) or predictions, shape (n_samples, n_outputs).
        ``X`` is validated as for ``predict``; the teacher gets it as it got
        the training rows. Not cached.
        """
        check_is_fitted(self, "student_")
        if "teacher_" not in self.__dict__:
            raise NotFittedError(
                f"this {type(self).__name__} has no fitted teacher (teacher_): a student "
                "loaded with load_student is saved without it"
            )
        X = self._check_X(X, reset=False)
        adapter = adapt_teacher(
            self.teacher_,
            self.teacher_weights,
            task=self._task,
            n_features=self.n_features_in_,
            device=resolve_device(self.device),
            labeling_batch_size=self.labeling_batch_size,
        )
        return adapter.outputs(X)


def _frame_dtypes(X):
    """The dtypes of a DataFrame's columns (some once per block of pandas' block manager).

    ``X.dtypes`` builds a Series, about 40 us on one row of modeldata/cells;
    the blocks are private to pandas, so anything unexpected falls back to it.
    """
    try:
        return [block.dtype for block in X._mgr.blocks]
    except AttributeError:  # pragma: no cover - another pandas
        return list(X.dtypes)


def _values_allowed(X, allow_nan):
    """No infinite value in a numeric ndarray, and no NaN unless allowed."""
    if X.dtype.kind != "f":
        return True
    # count_nonzero: a fraction of a ufunc reduction's per-call cost on one row
    if allow_nan:
        return np.count_nonzero(np.isinf(X)) == 0
    return np.count_nonzero(np.isfinite(X)) == X.size


def _rebuild_encoder(saved, preprocessor):
    """The compiled encoder of a fitted ``preprocessor``, if ``saved`` says fit had one.

    Pickles and student files hold only whether there was one (``True``;
    pickles of earlier releases the encoder itself), and it is rebuilt from
    the preprocessor, so that they get this release's encoder.
    """
    return None if saved is None or saved is False else compile_encoder(preprocessor)


def _cuda_indices(device):
    dev = torch.device(device)
    return [dev.index or 0] if dev.type == "cuda" else []


def _is_sequence(obj):
    return isinstance(obj, (list, tuple))

