"""Optional dependencies: imported when a feature needs them, with one error message."""

import importlib

__all__ = ["import_optional"]


def import_optional(module, needed_for, extra):
    """Import ``module``, an optional dependency, or say how to install it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"skops.io"``.
    needed_for : str
        What needs it, the subject of the error message (``"to_onnx"``).
    extra : str
        The skdistill extra that installs it (``"onnx"``).

    Returns
    -------
    module : module

    Raises
    ------
    ImportError
        Naming the package, what needs it and the ``pip install`` line.

    Examples
    --------
    >>> from skdistill._optional import import_optional
    >>> import_optional("json", "reading metadata", "safe").__name__
    'json'
    >>> import_optional("no_such_package.io", "this feature", "safe")
    Traceback (most recent call last):
    ...
    ImportError: this feature needs no_such_package; install it with pip install 'skdistill[safe]'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".")[0]
        raise ImportError(
            f"{needed_for} needs {package}; install it with pip install 'skdistill[{extra}]'"
        ) from exc
