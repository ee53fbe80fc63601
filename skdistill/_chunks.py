"""Row-chunked work that backs off when the accelerator runs out of memory.

:func:`run_in_chunks` calls a function on consecutive row ranges. When a
call fails because CUDA (or MPS) ran out of memory, it frees the cached
allocator memory, halves the chunk size and retries the same rows, down to
``min_chunk_size`` rows; below that the error is re-raised with a note. The
reduced size is kept for the remaining rows, and one warning per call says
how far it was reduced. Teacher labelling (:mod:`skdistill._teacher`) and the
student's prediction path use it.
"""

import gc
import warnings

import torch

from ._checks import add_note
from ._progress import ProgressBar

__all__ = ["run_in_chunks", "is_out_of_memory"]


def is_out_of_memory(exc):
    """Whether ``exc`` reports that an accelerator ran out of memory.

    True for :class:`torch.cuda.OutOfMemoryError`, for a ``RuntimeError``
    whose message contains "out of memory" (older torch versions, MPS, cuDNN
    and many extension libraries raise those), and for exceptions of a type
    named ``OutOfMemoryError`` (CuPy, used by GPU teachers such as cuML).
    A host ``MemoryError`` is not: halving a chunk does not cure it.
    """
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
        return True
    return type(exc).__name__ == "OutOfMemoryError"


def _free_accelerator_memory():
    """Return cached blocks to the device after an out-of-memory error."""
    cuda = torch.cuda.is_initialized()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if not (cuda or mps):
        return
    gc.collect()  # tensors the failed call left in reference cycles
    if cuda:
        torch.cuda.empty_cache()
    if mps:
        torch.mps.empty_cache()




def run_in_chunks(fn, n_rows, chunk_size, *, min_chunk_size=1, what="rows", hint=None, progress=False):
    """Call ``fn(start, stop)`` over ``[0, n_rows)`` in chunks; back off on OOM.

    Parameters
    ----------
    fn : callable
        ``fn(start, stop)`` processes rows ``start:stop`` and returns their
        result (or None, e.g. when it writes into a preallocated array). It
        may be called again for the same rows, with a smaller ``stop``, after
        it ran out of memory, so it must not leave partial results behind.
    n_rows : int
        Number of rows; ``n_rows=0`` calls nothing and returns ``[]``.
    chunk_size : int >= 1
        Rows per call to start with.
    min_chunk_size : int >= 1, default=1
        Smallest chunk tried; an out-of-memory error at this size is
        re-raised (with a note saying so).
    what : str, default="rows"
        What the rows are, for the warning and the notes (e.g.
        ``"teacher labelling"``).
    hint : str, default=None
        Advice appended to the warning (e.g. which parameter to lower).
    progress : bool, default=False
        Show a tqdm progress bar over rows (when tqdm is installed).

    Returns
    -------
    results : list
        ``fn``'s return values, one per successful call, in row order.

    Warns
    -----
    UserWarning
        Once per call, when the chunk size had to be reduced.

    Examples
    --------
    >>> import numpy as np
    >>> from skdistill._chunks import run_in_chunks
    >>> X = np.arange(10.0)
    >>> parts = run_in_chunks(lambda a, b: X[a:b] * 2, len(X), chunk_size=4)
    >>> [len(p) for p in parts]
    [4, 4, 2]
    >>> float(np.concatenate(parts).sum())
    90.0
    """
    n_rows = int(n_rows)
    size = max(1, int(chunk_size))
    floor = max(1, min(int(min_chunk_size), size))
    initial = size
    results = []
    bar = ProgressBar(n_rows, progress and n_rows > size, what)
    try:
        start = 0
        while start < n_rows:
            stop = min(n_rows, start + size)
            try:
                results.append(fn(start, stop))
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                if stop - start <= floor:
                    add_note(
                        exc,
                        f"{what}: the device ran out of memory even on a chunk of "
                        f"{stop - start} row(s) (rows {start}..{stop - 1}; chunks started "
                        f"at {initial} rows and were halved after each out-of-memory error)",
                    )
                    raise
                oom = True
            else:
                oom = False
            if oom:
                # outside the except block, so that the failed call's tensors are freed
                _free_accelerator_memory()
                size = max(floor, min(size, stop - start) // 2)
                continue
            bar.update(stop - start)
            start = stop
    finally:
        bar.close()
    if size < initial:
        msg = (
            f"{what}: the device ran out of memory on chunks of {initial} rows; "
            f"continued with chunks of {size} rows"
        )
        warnings.warn(msg + (f". {hint}" if hint else ""), UserWarning, stacklevel=2)
    return results
