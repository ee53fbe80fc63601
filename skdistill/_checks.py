"""Small input checks that turn obscure downstream errors into clear ones."""

import pandas as pd
from skorch.callbacks import Callback

__all__ = ["add_note", "check_callbacks", "check_unique_columns"]


def _is_callback(obj):
    return isinstance(obj, Callback) or (isinstance(obj, type) and issubclass(obj, Callback))


def check_callbacks(callbacks):
    """Validate the ``callbacks`` parameter; return it as a list.

    skorch accepts :class:`skorch.callbacks.Callback` instances, Callback
    classes (instantiated by skorch) and ``(name, callback)`` pairs. Anything
    else would fail deep inside skorch (e.g. ``'int' object has no attribute
    'set_params'``); here it is a TypeError naming the offending entry.

    Parameters
    ----------
    callbacks : list or None

    Returns
    -------
    callbacks : list

    Examples
    --------
    >>> from skorch.callbacks import EpochTimer
    >>> from skdistill._checks import check_callbacks
    >>> len(check_callbacks([EpochTimer(), ("timer2", EpochTimer)]))
    2
    >>> check_callbacks([1])
    Traceback (most recent call last):
    ...
    TypeError: callbacks[0] must be a skorch Callback instance or class, or a (name, callback) pair; got int (1)
    """
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"callbacks must be a list of skorch callbacks or None; got {type(callbacks).__name__}"
        )
    for i, entry in enumerate(callbacks):
        if isinstance(entry, tuple):
            if len(entry) != 2 or not isinstance(entry[0], str):
                raise TypeError(
                    f"callbacks[{i}] must be a (name, callback) pair with a str name; got {entry!r}"
                )
            if not _is_callback(entry[1]):
                raise TypeError(
                    f"callbacks[{i}] ({entry[0]!r}) must hold a skorch Callback instance or "
                    f"class; got {type(entry[1]).__name__} ({entry[1]!r})"
                )
        elif not _is_callback(entry):
            raise TypeError(
                f"callbacks[{i}] must be a skorch Callback instance or class, or a "
                f"(name, callback) pair; got {type(entry).__name__} ({entry!r})"
            )
    return list(callbacks)


def check_unique_columns(X):
    """Raise ValueError naming duplicate column names of a DataFrame X.

    Columns are selected by name in the student's preprocessing and checked
    by name at predict time, so duplicates would be ambiguous.

    Examples
    --------
    >>> import pandas as pd
    >>> from skdistill._checks import check_unique_columns
    >>> check_unique_columns(pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"]))
    Traceback (most recent call last):
    ...
    ValueError: X has duplicate column names: ['a']; column names must be unique
    """
    if isinstance(X, pd.DataFrame) and not X.columns.is_unique:
        dupes = X.columns[X.columns.duplicated()].unique().tolist()
        raise ValueError(f"X has duplicate column names: {dupes}; column names must be unique")


def add_note(exc, note):
    """Attach ``note`` to ``exc`` (PEP 678 notes, shown in the traceback)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10
        exc.args = (*exc.args, note)
