"""Transfer-set augmentation: MUNGE (Bucila, Caruana & Niculescu-Mizil 2006).

Synthetic rows are made in the *raw* feature space (the teacher must be able
to label them) from neighbours found in the student's *encoded* space.
"""

import inspect
import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from ._preprocessing import CATEGORICAL
from ._progress import progress


class MungeAugmenter(BaseEstimator):
    """MUNGE: synthetic rows from nearest-neighbour attribute swaps.

    For each real row ``e`` the nearest other row ``e'`` is found in the
    student's encoded space. Each attribute of a copy of ``e`` is, with
    probability ``p``, replaced: a continuous one by a draw from
    ``Normal(e'_a, |e_a - e'_a| / s)``, a categorical one by ``e'_a``.
    This is repeated ``size_factor`` times with fresh randomness. Integer
    columns are rounded and kept within the range seen (other continuous
    columns are not bounded: the noise may step past the observed range).

    Missing values: a synthetic row keeps the missing pattern of the real row
    it is made from. A missing value stays missing, and a present value is
    never swapped with a neighbour's missing one (it is kept as it is), so the
    teacher labels rows whose missing cells look like the real ones.

    Parameters
    ----------
    size_factor : int, default=10
        Synthetic rows per real row.
    p : float, default=0.5
        Probability of swapping each attribute.
    s : float, default=1.0
        Spread divisor for continuous attributes (larger is tighter).
    max_rows : int or None, default=500_000
        Upper bound on the number of synthetic rows (``size_factor`` is
        lowered for large training sets).
    chunk_size : int, default=8192
        Rows per neighbour-search chunk; bounds memory for large data.

    Examples
    --------
    >>> import numpy as np
    >>> from skdistill import MungeAugmenter
    >>> X = np.random.RandomState(0).normal(size=(50, 3))
    >>> X_synth = MungeAugmenter(size_factor=2).generate(X, X, ["numeric"] * 3, random_state=0)
    >>> X_synth.shape
    (100, 3)
    """

    _parameter_constraints = {
        "size_factor": [Interval(numbers.Integral, 1, None, closed="left")],
        "p": [Interval(numbers.Real, 0, 1, closed="both")],
        "s": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_rows": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, size_factor=10, p=0.5, s=1.0, max_rows=500_000, chunk_size=8192):
        self.size_factor = size_factor
        self.p = p
        self.s = s
        self.max_rows = max_rows
        self.chunk_size = chunk_size

    def n_synthetic(self, n_samples):
        """How many synthetic rows :meth:`generate` makes for ``n_samples`` rows."""
        n = self.size_factor * n_samples
        if self.max_rows is not None:
            n = min(n, self.max_rows)
        return int(n)

    def nearest_neighbours(self, Z, verbose=0):
        """Index of each row's nearest other row in the encoded matrix ``Z``."""
        n = Z.shape[0]
        nn = NearestNeighbors(n_neighbors=min(2, n)).fit(Z)
        out = np.empty(n, dtype=np.int64)
        for start in progress(range(0, n, self.chunk_size), verbose, "MUNGE neighbours"):
            stop = min(n, start + self.chunk_size)
            idx = nn.kneighbors(Z[start:stop], return_distance=False)
            own = np.arange(start, stop)
            # the first neighbour is normally the row itself; take the other
            first_is_self = idx[:, 0] == own
            out[start:stop] = np.where(first_is_self, idx[:, -1], idx[:, 0])
        return out

    def generate(self, X, Z, kinds, random_state=None, verbose=0, return_source=False):
        """Synthetic rows like ``X`` (same type, columns and dtypes).

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_samples, n_features)
            The real rows, raw, as the teacher sees them.
        Z : ndarray of shape (n_samples, n_encoded)
            The same rows in the student's encoded space.
        kinds : list of {"numeric", "categorical"}
            Kind of each column of X.
        random_state : int, RandomState or None
        verbose : int, default=0
            Progress reporting for the neighbour search.
        return_source : bool, default=False
            Also return, for each synthetic row, the index of the real row it
            was made from (the distillers give it that row's sample weight).

        Returns
        -------
        X_synth : DataFrame or ndarray of shape (n_synthetic, n_features)
            ``n_synthetic(n_samples)`` rows; row ``i`` is made from real row
            ``i % n_samples`` (or from a random real row when ``max_rows``
            caps the count).
        source : ndarray of shape (n_synthetic,)
            Only with ``return_source=True``.
        """
        self._validate_params()
        rng = check_random_state(random_state)
        n = X.shape[0]
        n_out = self.n_synthetic(n)
        if n < 2:
            raise ValueError("MUNGE needs at least 2 rows to find neighbours")
        neighbour = self.nearest_neighbours(Z, verbose)
        rows = np.arange(n_out) % n
        if n_out < self.size_factor * n:  # capped: spread the rows evenly
            rows = rng.choice(n, size=n_out, replace=n_out > n)
        partner = neighbour[rows]
        columns = {}
        is_frame = isinstance(X, pd.DataFrame)
        for j, kind in enumerate(kinds):
            col = X.iloc[:, j] if is_frame else X[:, j]
            values = _column_values(col) if is_frame else col
            swap = rng.random_sample(n_out) < self.p
            mine = values[rows]
            theirs = values[partner]
            # missing stays missing, and nothing present becomes missing
            swap &= ~(pd.isna(mine) | pd.isna(theirs))
            if kind == CATEGORICAL or values.dtype.kind in "bOSU" or not _is_numeric(values):
                new = np.where(swap, theirs, mine)
            else:
                new = self._continuous(mine, theirs, swap, values, rng)
            if is_frame:
                columns[X.columns[j]] = pd.Series(new, dtype=col.dtype) if _castable(new, col) else new
            else:
                columns[j] = new
        if is_frame:
            out = pd.DataFrame(columns, columns=X.columns)
            out = out.astype(X.dtypes.to_dict(), errors="ignore")
        else:
            out = np.column_stack([columns[j] for j in range(len(kinds))]).astype(X.dtype, copy=False)
        return (out, rows) if return_source else out

    def _continuous(self, mine, theirs, swap, values, rng):
        a = np.asarray(mine, dtype=np.float64)
        b = np.asarray(theirs, dtype=np.float64)
        # swapped cells have both values present; elsewhere the draw is unused
        loc = np.where(swap, b, 0.0)
        spread = np.where(swap, np.abs(a - b) / self.s, 0.0)
        draw = rng.normal(loc=loc, scale=spread)
        new = np.where(swap, draw, a)
        if np.asarray(values).dtype.kind in "iu" or _integer_valued(values):
            finite = np.asarray(values, dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            if finite.size:
                new = np.clip(np.round(new), finite.min(), finite.max())
        return new


def _column_values(col):
    """A frame column as a numpy array; nullable numbers as floats with NaN."""
    dtype = col.dtype
    if (
        isinstance(dtype, pd.api.extensions.ExtensionDtype)
        and not isinstance(dtype, pd.CategoricalDtype)
        and pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
    ):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    return col.to_numpy()


def _is_numeric(values):
    return np.asarray(values).dtype.kind in "iuf"


def _integer_valued(values):
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return v.size > 0 and np.all(v == np.round(v)) and np.unique(v[:1000]).size <= 50


def _castable(new, col):
    """Whether ``new`` can take ``col``'s dtype without losing values."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return not np.any(pd.isna(new))
    return True


def generate_rows(augmenter, X, Z, kinds, random_state, verbose=0):
    """``(synthetic rows, index of each one's source row or None)``.

    Calls ``augmenter.generate``. The documented protocol is
    ``generate(X, Z, kinds, random_state)``; ``verbose`` is passed only if it
    is accepted, and the source rows are asked for (``return_source=True``)
    only from augmenters whose ``generate`` takes it, as
    :class:`MungeAugmenter` does (the distillers give each synthetic row its
    source row's sample weight).
    """
    kwargs = {"random_state": random_state}
    try:
        params = {p.name: p for p in inspect.signature(augmenter.generate).parameters.values()}
    except (TypeError, ValueError):  # no introspectable signature
        params = {}
    if "verbose" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kwargs["verbose"] = verbose
    if "return_source" in params:
        X_s, source = augmenter.generate(X, Z, kinds, return_source=True, **kwargs)
        return X_s, np.asarray(source, dtype=np.int64)
    return augmenter.generate(X, Z, kinds, **kwargs), None


def check_augmenter(augment):
    """The augmenter for the ``augment`` parameter (None for no augmentation)."""
    if augment is None:
        return None
    if isinstance(augment, str):
        if augment == "munge":
            return MungeAugmenter()
        raise ValueError(f"augment must be 'munge', None or an augmenter object; got {augment!r}")
    if not hasattr(augment, "generate"):
        raise TypeError(
            "augment must be 'munge', None or an object with a generate(X, Z, kinds, "
            f"random_state) method; got {type(augment).__name__}"
        )
    return augment
