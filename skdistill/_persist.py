"""Safe persistence of a fitted student: nothing in the file is unpickled.

:func:`save_student` writes what ``predict`` / ``predict_proba`` need into
one zip archive:

* ``metadata.json``: the estimator class and its parameters, the fitted
  attributes (``classes_``, ``n_features_in_``, ``feature_names_in_``,
  ``column_kinds_``, the regressor's target standardization, ...), the
  student's architecture (an :class:`~skdistill.nn.MLP`: inputs, outputs,
  hidden sizes, dropout), its training history and the library versions;
* ``student.pt``: the student's ``state_dict`` (tensors only), written with
  :func:`torch.save` and read back with ``torch.load(weights_only=True)``,
  which refuses anything but tensors and plain containers;
* ``preprocessor.skops``: the fitted student preprocessor in the
  :mod:`skops.io` format, read back with an explicit list of trusted types
  (:data:`TRUSTED_TYPES`, on top of the scikit-learn, NumPy and builtin types
  that skops trusts by default). A file holding any other type is refused.

:func:`load_student` rebuilds the estimator from these parts without running
code from the file. The teacher is *not* saved: the loaded estimator
predicts exactly as the saved one, but cannot be refit until a teacher is set
(``set_params(teacher=...)``). Students whose module is not the default
:class:`~skdistill.nn.MLP` cannot be rebuilt from JSON; export them with
:func:`skdistill.to_onnx`, or pickle them (only ever load pickles you trust).
"""

import io
import json
import numbers
import os
import pickle
import warnings
import zipfile

import numpy as np
import sklearn
import torch
from sklearn.base import clone
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.utils._param_validation import HasMethods, validate_params
from sklearn.utils.validation import check_is_fitted
from skorch.history import History
from torch import nn

from ._checks import add_note
from ._classifier import DistilledClassifier
from ._device import resolve_device
from ._optional import import_optional
from ._regressor import DistilledRegressor
from ._student import MLP

__all__ = ["save_student", "load_student", "TRUSTED_TYPES"]

FORMAT = "skdistill-student"
FORMAT_VERSION = 1

#: Types the student file's preprocessor may hold beyond those skops trusts
#: by default (scikit-learn estimators such as ColumnTransformer, Pipeline,
#: SimpleImputer, QuantileTransformer, MissingIndicator, OneHotEncoder and
#: FunctionTransformer; NumPy arrays; builtins). They are exactly what
#: :func:`~skdistill.make_default_preprocessor` needs: NumPy dtype objects
#: (rebuilt from their name), skdistill's two column converters (looked up
#: by name in :mod:`skdistill._preprocessing`, never code from the file) and
#: its :class:`~skdistill.PiecewiseLinearEncoder` (plain arrays as state).
TRUSTED_TYPES = (
    "numpy.dtype",
    "skdistill._preprocessing._as_float",
    "skdistill._preprocessing._as_categories",
    "skdistill._preprocessing.PiecewiseLinearEncoder",
)

_METADATA = "metadata.json"
_WEIGHTS = "student.pt"
_PREPROCESSOR = "preprocessor.skops"
_ARRAY_KINDS = "biufUO"


def _skops():
    return import_optional("skops.io", "saving and loading students", "safe")


#: The estimators a student file may name, by class name (looked up, never imported from the file).
_ESTIMATORS = {cls.__name__: cls for cls in (DistilledClassifier, DistilledRegressor)}


# ---------------------------------------------------------------------------
# JSON encoding of parameters and arrays


class _NotJSON(Exception):
    pass


def _encode_value(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, tuple):
        return {"tuple": [_encode_value(v) for v in value]}
    if isinstance(value, (list, np.ndarray)):
        return [_encode_value(v) for v in list(value)]
    raise _NotJSON(type(value).__name__)


def _decode_value(value):
    if isinstance(value, dict):
        if set(value) != {"tuple"}:
            raise ValueError(f"unexpected parameter encoding {sorted(value)}")
        return tuple(_decode_value(v) for v in value["tuple"])
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    return value


def _encode_array(arr, name):
    arr = np.asarray(arr)
    if arr.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(f"{name} has dtype {arr.dtype}, which save_student cannot store as JSON")
    values = arr.tolist()
    if arr.dtype.kind == "O":
        for v in arr.ravel():
            if not isinstance(v, (str, bool, int, float, np.generic)):
                raise TypeError(
                    f"{name} holds a {type(v).__name__} ({v!r}); save_student stores only "
                    "strings, numbers and bools"
                )
        values = [v.item() if isinstance(v, np.generic) else v for v in arr.ravel()]
        values = np.array(values, dtype=object).reshape(arr.shape).tolist()
    return {"dtype": arr.dtype.str, "values": values}


def _encode_fitted(value, name):
    """A fitted attribute as JSON: an array with its dtype, other values as parameters are."""
    if isinstance(value, np.ndarray):
        return _encode_array(value, name)
    try:
        return _encode_value(value)
    except _NotJSON:
        raise TypeError(
            f"save_student cannot store the fitted attribute {name} ({type(value).__name__}) as JSON"
        ) from None


def _decode_fitted(value, name):
    if isinstance(value, dict) and "dtype" in value:
        return _decode_array(value, name)
    return _decode_value(value)


def _decode_array(obj, name):
    try:
        dtype = np.dtype(obj["dtype"])
        values = obj["values"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the student file's {name} is malformed: {exc}") from None
    if dtype.kind not in _ARRAY_KINDS:
        raise ValueError(f"the student file's {name} has unsupported dtype {dtype}")
    if dtype.kind == "O":
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    return np.array(values, dtype=dtype)


# ---------------------------------------------------------------------------
# the student's architecture


def _mlp_spec(module):
    if type(module) is not MLP:
        raise TypeError(
            f"save_student can rebuild only the default skdistill.nn.MLP student from its "
            f"description; this estimator's student module is {type(module).__module__}."
            f"{type(module).__qualname__}. Export the whole prediction path with "
            "skdistill.to_onnx(estimator, path) instead (or use pickle/joblib, and only "
            "ever load pickles you trust)."
        )
    linears = [m for m in module.layers if isinstance(m, nn.Linear)]
    dropouts = [m.p for m in module.layers if isinstance(m, nn.Dropout)]
    return {
        "type": "MLP",
        "n_inputs": int(linears[0].in_features),
        "n_outputs": int(linears[-1].out_features),
        "hidden_layer_sizes": [int(m.out_features) for m in linears[:-1]],
        "dropout": float(dropouts[0]) if dropouts else 0.0,
    }


def _history(net):
    try:
        return json.loads(json.dumps(list(net.history)))
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------
# public


@validate_params(
    {
        "estimator": [DistilledClassifier, DistilledRegressor],
        "path": [str, os.PathLike, HasMethods(["write"])],
    },
    prefer_skip_nested_validation=True,
)
def save_student(estimator, path):
    """Save a fitted distilled estimator without pickle, for :func:`load_student`.

    The file is a zip archive holding the student's weights (a
    ``state_dict`` written with :func:`torch.save`), the fitted student
    preprocessor (:mod:`skops.io` format) and JSON metadata: the estimator's
    parameters and fitted attributes and the student's architecture. The
    teacher is not saved. Loading it runs no code from the file (see
    :func:`load_student`).

    Parameters
    ----------
    estimator : DistilledClassifier or DistilledRegressor
        Fitted, with the default :class:`~skdistill.nn.MLP` student module.
    path : str, path-like or writable binary file object
        Where to write, e.g. ``"student.skdistill"``.

    Returns
    -------
    path : same as the ``path`` argument

    Raises
    ------
    TypeError
        For another estimator type, or a student module that is not
        :class:`~skdistill.nn.MLP` (export those with :func:`skdistill.to_onnx`).
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.

    Warns
    -----
    UserWarning
        When parameters that cannot be written as JSON (callback objects, a
        ``joblib.Memory``, a ``RandomState``, a custom ``student`` or
        ``augment`` object) are left out; the loaded estimator has their
        defaults, which does not change its predictions. Also when the
        preprocessor holds types outside :data:`TRUSTED_TYPES`, which
        :func:`load_student` then refuses unless they are passed as
        ``trusted``.

    See Also
    --------
    load_student : read the file back.
    skdistill.to_onnx : export for serving without Python.

    Examples
    --------
    >>> import io
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skdistill import DistilledClassifier, load_student, save_student
    >>> X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    >>> clf = DistilledClassifier(LogisticRegression(), max_epochs=3,
    ...                           hidden_layer_sizes=(8,), random_state=0).fit(X, y)
    >>> buf = io.BytesIO()
    >>> _ = save_student(clf, buf)
    >>> again = load_student(io.BytesIO(buf.getvalue()))
    >>> bool((again.predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    name = type(estimator).__name__
    if _ESTIMATORS.get(name) is not type(estimator):  # a subclass would load as its base class
        raise TypeError(
            f"save_student saves DistilledClassifier and DistilledRegressor estimators, not "
            f"subclasses; got {type(estimator).__module__}.{type(estimator).__qualname__}"
        )
    check_is_fitted(estimator, "student_")
    if "_sklearn_student_" in vars(estimator):
        raise TypeError(
            f"save_student saves neural students; this estimator's student is a scikit-learn "
            f"{type(estimator.student_).__name__}. Save the whole estimator with skops.io.dump "
            "(skops.io.load then asks which types to trust) or joblib.dump (load only files "
            "you trust)."
        )
    net = estimator.student_
    spec = _mlp_spec(net.module_)
    sio = _skops()

    params, left_out = {}, []
    for key, value in estimator.get_params(deep=False).items():
        if key == "teacher":
            continue
        if key == "preprocessor" and value is not None:
            params[key] = {"fitted_preprocessor_clone": True}
            continue
        try:
            params[key] = {"value": _encode_value(value)}
        except _NotJSON:
            left_out.append(key)
    if left_out:
        warnings.warn(
            f"save_student: the parameters {left_out} cannot be written as JSON and are "
            "left out; the loaded estimator has their defaults (its predictions are the same)",
            UserWarning,
            stacklevel=2,
        )

    fitted = {key: _encode_fitted(value, key) for key, value in estimator._get_fitted_state().items()}

    weights = io.BytesIO()
    torch.save({k: v.detach().to("cpu") for k, v in net.module_.state_dict().items()}, weights)
    pre_blob = sio.dumps(estimator.preprocessor_)
    untrusted = sorted(set(sio.get_untrusted_types(data=pre_blob)) - set(TRUSTED_TYPES))
    if untrusted:
        warnings.warn(
            f"save_student: the preprocessor holds types outside skdistill's trusted list: "
            f"{untrusted}. load_student refuses the file unless you audit them and pass "
            "trusted=[...]",
            UserWarning,
            stacklevel=2,
        )

    import skops

    from . import __version__

    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": name,
        "params": params,
        "fitted": fitted,
        "student": spec,
        "history": _history(net),
        "versions": {
            "skdistill": __version__,
            "scikit-learn": sklearn.__version__,
            "torch": torch.__version__,
            "skops": skops.__version__,
        },
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_METADATA, json.dumps(metadata, indent=1))
        zf.writestr(_WEIGHTS, weights.getvalue())
        zf.writestr(_PREPROCESSOR, pre_blob)
    return path


def _read_members(path):
    try:
        with zipfile.ZipFile(path, "r") as zf:
            names = set(zf.namelist())
            missing = {_METADATA, _WEIGHTS, _PREPROCESSOR} - names
            if missing:
                raise ValueError(
                    f"{_describe(path)} is not a skdistill student file: it lacks {sorted(missing)}"
                )
            return zf.read(_METADATA), zf.read(_WEIGHTS), zf.read(_PREPROCESSOR)
    except zipfile.BadZipFile:
        raise ValueError(
            f"{_describe(path)} is not a skdistill student file (not a zip archive); "
            "it should be written by save_student"
        ) from None


def _describe(path):
    return repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else "the file"


@validate_params(
    {
        "path": [str, os.PathLike, HasMethods(["read"])],
        "trusted": [list, tuple, set, None],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def load_student(path, *, trusted=None, device="cpu"):
    """Load an estimator saved by :func:`save_student`, without unpickling.

    Nothing in the file is executed: the metadata is JSON, the weights are
    read with ``torch.load(weights_only=True)`` (tensors only) and the
    preprocessor with :func:`skops.io.loads`, which refuses any type that is
    neither trusted by skops by default nor listed in :data:`TRUSTED_TYPES`
    or ``trusted``.

    The teacher is not in the file: the loaded estimator predicts exactly as
    the saved one (``predict``, ``predict_proba``, ``score``, ...) and can be
    exported with :func:`skdistill.to_onnx`, but refitting it needs a teacher
    (``set_params(teacher=...)`` first). Its ``teacher`` parameter is None
    and it has no ``teacher_`` attribute. The optimizer state is not saved
    either.

    Parameters
    ----------
    path : str, path-like or readable binary file object
    trusted : list of str, default=None
        Extra types to trust in the preprocessor, as listed by
        :func:`skops.io.get_untrusted_types`; only for types you have
        audited (e.g. your own transformer passed as ``preprocessor=``).
    device : str or torch.device, default="cpu"
        Where the student runs; "auto" picks CUDA when available.

    Returns
    -------
    estimator : DistilledClassifier or DistilledRegressor

    Raises
    ------
    skops.io.exceptions.UntrustedTypesFoundException
        (a TypeError) If the preprocessor holds untrusted types.
    ValueError
        If the file is not a student file, or its weights hold anything but
        tensors, or do not fit the described architecture.

    See Also
    --------
    save_student

    Examples
    --------
    >>> import io
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from skdistill import DistilledRegressor, load_student, save_student
    >>> X, y = make_regression(n_samples=100, n_features=4, random_state=0)
    >>> reg = DistilledRegressor(Ridge(), max_epochs=3, hidden_layer_sizes=(8,),
    ...                          random_state=0).fit(X, y)
    >>> buf = io.BytesIO()
    >>> _ = save_student(reg, buf)
    >>> again = load_student(io.BytesIO(buf.getvalue()))
    >>> bool((again.predict(X) == reg.predict(X)).all()), again.teacher
    (True, None)
    """
    if trusted is not None and not all(isinstance(t, (str, type)) for t in trusted):
        raise TypeError("trusted must be None or a list of type names (str) or types")
    device = resolve_device(device)
    sio = _skops()
    meta_blob, weights_blob, pre_blob = _read_members(path)

    try:
        meta = json.loads(meta_blob)
    except ValueError as exc:
        raise ValueError(f"the student file's metadata is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{_describe(path)} is not a skdistill student file")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"the student file has format version {meta.get('format_version')!r}; this "
            f"skdistill reads version {FORMAT_VERSION}"
        )
    cls = _ESTIMATORS.get(meta.get("estimator"))
    if cls is None:
        raise ValueError(f"the student file names an unknown estimator {meta.get('estimator')!r}")

    # the preprocessor, through skops' audit
    try:
        pre = sio.loads(pre_blob, trusted=list(TRUSTED_TYPES) + list(trusted or []))
    except sio.exceptions.UntrustedTypesFoundException as exc:
        add_note(
            exc,
            "load_student refused the student file's preprocessor. Audit these types; "
            "if you trust them, pass load_student(path, trusted=[...]).",
        )
        raise

    # the weights: tensors only
    try:
        state = torch.load(io.BytesIO(weights_blob), map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            "the student file's weights hold objects other than tensors; refusing to load "
            f"them (torch.load with weights_only=True): {str(exc).splitlines()[0]}"
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError("the student file's weights are not a state_dict of tensors")

    # the estimator and its parameters
    accepted = set(cls._get_param_names())
    params = {}
    for key, entry in meta.get("params", {}).items():
        if key not in accepted or key == "teacher":
            continue
        if key == "preprocessor" and entry.get("fitted_preprocessor_clone"):
            params[key] = clone(pre)  # the user's transformer, unfitted
        else:
            params[key] = _decode_value(entry["value"])
    for key, value in cls._LEGACY_PARAMS.items():  # a file of an earlier release
        if key not in meta.get("params", {}):
            params[key] = value
    est = cls(teacher=None, **params)

    try:
        fitted = {key: _decode_fitted(value, key) for key, value in meta["fitted"].items()}
        est._set_fitted_state(fitted, pre)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the student file's fitted attributes are malformed: {exc}") from None

    # the student, rebuilt with the same builder as fit
    spec = meta["student"]
    if spec.get("type") != "MLP":
        raise ValueError(f"the student file describes an unknown student type {spec.get('type')!r}")
    net = est._build_net(
        int(spec["n_inputs"]),
        int(spec["n_outputs"]),
        device,
        architecture={
            "hidden_layer_sizes": tuple(int(h) for h in spec["hidden_layer_sizes"]),
            "dropout": float(spec["dropout"]),
        },
    )
    net.initialize()
    try:
        net.module_.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"the student file's weights do not fit its described architecture {spec}: {exc}"
        ) from None
    net.module_.eval()
    if meta.get("history") is not None:
        net.history_ = History(meta["history"])
    est.student_ = net

    saved = meta.get("versions", {}).get("scikit-learn")
    if saved is not None and saved != sklearn.__version__:
        warnings.warn(
            InconsistentVersionWarning(
                estimator_name=f"{cls.__name__} preprocessor",
                current_sklearn_version=sklearn.__version__,
                original_sklearn_version=saved,
            ),
            stacklevel=2,
        )
    return est


