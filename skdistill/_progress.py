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
