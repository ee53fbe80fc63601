"""Progress bars for long steps (tqdm when installed and asked for)."""


def progress(iterable, enabled, desc):
    """Wrap ``iterable`` in a tqdm bar when ``enabled`` and tqdm is installed."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, leave=False)


class ProgressBar:
    """A tqdm bar over rows when enabled and installed, else nothing."""

    def __init__(self, total, enabled, desc):
        self._bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=desc, leave=False, unit="rows")

    def update(self, n):
        if self._bar is not None:
            self._bar.update(n)

    def close(self):
        if self._bar is not None:
            self._bar.close()
