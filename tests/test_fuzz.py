"""Property-based tests (hypothesis): the distillation loss and fuzzed data.

``SKDISTILL_FUZZ_EXAMPLES`` (default 25) sets the number of examples of the
fuzz tests, e.g. ``SKDISTILL_FUZZ_EXAMPLES=200 pytest tests/test_fuzz.py``.

The fuzz tests of mixed frames skip (``reject``) a frame the teacher itself
rejects, before the student is involved; every other frame must be distilled,
or refused by skdistill with the error that the frame calls for. Each test
counts the examples that reach ``predict_proba`` and requires a minimum
share of them, so that a generator drifting towards frames the teacher
rejects cannot hollow the test out. The examples are drawn inside the test
(a ``@given`` function called there), so the count is local to the test and
holds under pytest-xdist.
"""

import math
import os
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from skdistill import DistilledClassifier, distillation_loss

N_EXAMPLES = int(os.environ.get("SKDISTILL_FUZZ_EXAMPLES", "25"))

FUZZ = settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    derandomize=N_EXAMPLES <= 25,  # CI: reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LOSS = settings(max_examples=max(50, N_EXAMPLES), deadline=None)

FAST = dict(
    max_epochs=2, batch_size=64, lr=1e-2, hidden_layer_sizes=(16,), augment=None, random_state=0
)

B = 8.0  # bound on the logits drawn below


@st.composite
def logits_problem(draw, bound=B):
    n = draw(st.integers(1, 6))
    k = draw(st.integers(2, 5))
    elems = st.floats(-bound, bound, allow_nan=False, width=64)
    zs = draw(arrays(np.float64, (n, k), elements=elems))
    zt = draw(arrays(np.float64, (n, k), elements=elems))
    labels = draw(arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return torch.from_numpy(zs), torch.from_numpy(zt), torch.from_numpy(labels)


# ---------------------------------------------------------------------------
# the loss


@LOSS
@given(logits_problem(), st.floats(0.05, 100.0))
def test_alpha_zero_is_cross_entropy(problem, temperature):
    zs, zt, labels = problem
    loss = distillation_loss(zs, zt, labels, temperature=temperature, alpha=0.0)
    torch.testing.assert_close(loss, F.cross_entropy(zs, labels), rtol=1e-10, atol=1e-12)
    # rows without a label (-1) are left out of the cross-entropy
    masked = labels.clone()
    masked[0] = -1
    loss = distillation_loss(zs, zt, masked, temperature=temperature, alpha=0.0)
    expected = F.cross_entropy(zs[1:], labels[1:]) if len(labels) > 1 else torch.zeros(())
    torch.testing.assert_close(loss, expected.to(loss.dtype), rtol=1e-10, atol=1e-12)


@LOSS
@given(logits_problem(bound=100.0), st.floats(1e4, 1e8))
def test_high_temperature_softens_teacher_to_uniform(problem, temperature):
    _, zt, labels = problem
    k = zt.shape[1]
    # with uniform student logits the loss is T^2 * KL(softmax(z_t / T) || uniform)
    loss = distillation_loss(torch.zeros_like(zt), zt, labels, temperature=temperature, alpha=1.0)
    kl = loss.item() / temperature**2
    # |z| <= 100: each softened probability is within a factor exp(2 * 100 / T) of 1/k,
    # so KL <= chi^2 <= (exp(200 / T) - 1)^2
    bound = math.expm1(200.0 / temperature) ** 2
    assert -1e-12 <= kl <= bound + 1e-12
    p = torch.softmax(zt / temperature, dim=1)
    assert torch.all((p - 1.0 / k).abs() <= math.expm1(200.0 / temperature) / k + 1e-12)


def _grad(zs, zt, labels, t, scale=True):
    zs = zs.clone().requires_grad_(True)
    loss = distillation_loss(zs, zt, labels, temperature=t, alpha=1.0)
    if not scale:
        loss = loss / t**2
    (g,) = torch.autograd.grad(loss, zs)
    return g


@LOSS
@given(logits_problem())
def test_t_squared_keeps_gradient_magnitude_comparable(problem):
    """d/dz_s [T^2 KL] = T (softmax(z_s/T) - softmax(z_t/T)) / n.

    With D = centered(z_s - z_t) and |z| <= B, the softmax Jacobian has
    eigenvalues in [p_min, 1/2] on centered vectors (Gershgorin, and
    Var_p(v) >= p_min ||centered v||^2) with p_min >= exp(-2B/T) / k, so for
    every T

        exp(-2B/T) ||D|| / (k n) <= ||grad_T|| <= ||D|| / (2 n):

    the magnitude stays in a fixed band as T grows (without the T^2 factor it
    would shrink like 1/T^2), and tends to ||D|| / (k n).
    """
    zs, zt, labels = problem
    n, k = zs.shape
    D = (zs - zt) - (zs - zt).mean(dim=1, keepdim=True)
    dn = D.norm().item()
    norms = {}
    for t in [1.0, 2.0, 4.0, 8.0, 100.0]:
        g = _grad(zs, zt, labels, t)
        expected = t * (torch.softmax(zs / t, 1) - torch.softmax(zt / t, 1)) / n
        torch.testing.assert_close(g, expected, rtol=1e-8, atol=1e-12)
        norms[t] = g.norm().item()
        lower = math.exp(-2 * B / t) * dn / (k * n)
        assert lower * (1 - 1e-9) - 1e-12 <= norms[t] <= dn / (2 * n) * (1 + 1e-9) + 1e-12
    # T=1 vs T=4: the ratio is bounded by the two bands
    if dn > 1e-6:
        ratio = norms[1.0] / norms[4.0]
        assert 2 * math.exp(-2 * B) / k * (1 - 1e-9) <= ratio <= k * math.exp(B / 2) / 2 * (1 + 1e-9)
    # large T: the gradient tends to D / (k n)
    t = 1e4
    torch.testing.assert_close(_grad(zs, zt, labels, t), D / (k * n), rtol=0, atol=4 * B * B / t / n)
    # and without the T^2 factor it would vanish like 1/T^2
    assert _grad(zs, zt, labels, t, scale=False).norm().item() <= dn / (2 * n) / t**2 * (1 + 1e-6) + 1e-15


# ---------------------------------------------------------------------------
# predict_proba


@pytest.fixture(scope="module")
def fitted_student():
    X, y = make_classification(
        n_samples=120, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0
    )
    return DistilledClassifier(LogisticRegression().fit(X, y), **FAST).fit(X, y)


@settings(max_examples=max(50, N_EXAMPLES), deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.just(4)),
        elements=st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False),
    )
)
def test_predict_proba_rows_sum_to_one(fitted_student, X):
    proba = fitted_student.predict_proba(X)
    assert proba.shape == (X.shape[0], 3)
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.exp(fitted_student.predict_log_proba(X)), proba, atol=1e-6)
    assert set(fitted_student.predict(X)) <= set(fitted_student.classes_)


# ---------------------------------------------------------------------------
# fuzzed mixed-type data

COLUMN_KINDS = ["float", "int", "bool", "category", "words", "numeric_strings"]
#: What HistGradientBoostingClassifier reads: not text (it rejects "words"
#: columns; the student's encoding of text is fuzzed with AnyFrameTeacher below).
HGB_KINDS = [kind for kind in COLUMN_KINDS if kind != "words"]


@st.composite
def mixed_frames(draw, column_kinds=COLUMN_KINDS):
    n = draw(st.integers(20, 200))
    kinds = draw(st.lists(st.sampled_from(column_kinds), min_size=1, max_size=6))
    n_classes = draw(st.integers(2, 3))
    nan_rate = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3, 1.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)
    cols = {}
    for j, kind in enumerate(kinds):
        name = f"{kind}_{j}"
        if kind == "float":
            scale = 10.0 ** rng.randint(-3, 6)
            v = rng.standard_cauchy(n) * scale if rng.rand() < 0.3 else rng.normal(size=n) * scale
            if rng.rand() < 0.2:
                v = np.full(n, v[0])  # constant column
            v[rng.rand(n) < nan_rate] = np.nan
            cols[name] = v
        elif kind == "int":
            cols[name] = rng.randint(-5, rng.randint(1, 1000), size=n)
        elif kind == "bool":
            cols[name] = rng.rand(n) < rng.rand()
        elif kind == "category":
            n_cat = rng.randint(1, 12)
            v = pd.Categorical(rng.choice([f"c{i}" for i in range(n_cat)], size=n))
            v[rng.rand(n) < nan_rate] = np.nan
            cols[name] = v
        elif kind == "words":
            cols[name] = pd.Series(rng.choice(["a", "bb", "ccc", ""], size=n), dtype=object)
        else:  # numbers written as strings
            cols[name] = pd.Series([f"{x:.3f}" for x in rng.normal(size=n)], dtype=object)
    X = pd.DataFrame(cols)
    y = rng.randint(0, n_classes, size=n)
    y[:n_classes] = np.arange(n_classes)  # every class present
    return X, y


#: Share of the examples run (skipped ones included) that must reach the
#: student's predict_proba.
MIN_REACHED = 0.6


def _check_reached(reached, run, rejected=()):
    """The fuzz reached the student on enough of the examples it ran."""
    assert run >= 1, "hypothesis ran no example"
    assert reached >= MIN_REACHED * run, (
        f"only {reached} of {run} fuzzed examples reached predict_proba (at least "
        f"{MIN_REACHED:.0%} must): the generator has drifted towards data that is rejected"
        + (f"; the teacher rejected {len(rejected)}: {sorted(set(rejected))[:5]}" if rejected else "")
    )


def test_fuzz_mixed_frames():
    counts = {"run": 0, "reached": 0, "rejected": []}
    teacher = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")

    @FUZZ
    @given(mixed_frames(HGB_KINDS))
    def check(problem):
        X, y = problem
        counts["run"] += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # what the teacher rejects is not the student's concern: skip it,
            # before skdistill is involved
            try:
                clone(teacher).fit(X, y).predict_proba(X)
            except (ValueError, TypeError) as exc:
                counts["rejected"].append(str(exc))
                reject()
            # a frame the teacher takes must be distilled: no error is tolerated
            clf = DistilledClassifier(teacher, **FAST).fit(X, y)
            proba = clf.predict_proba(X)
        counts["reached"] += 1
        np.testing.assert_array_equal(clf.classes_, np.unique(y))
        assert proba.shape == (len(X), len(np.unique(y)))
        assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
        np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])

    check()
    _check_reached(counts["reached"], counts["run"], counts["rejected"])


class AnyFrameTeacher(ClassifierMixin, BaseEstimator):
    """A fitted teacher that accepts any input, NaN included (its output depends on
    the row count only), so that the fuzz reaches the student's own preprocessing on
    every column type."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        n, k = len(X), len(self.classes_)
        return np.random.RandomState(n).dirichlet(np.ones(k), size=n)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


EXTRA_KINDS = [
    "nullable_int", "nullable_bool", "string_dtype", "mixed_object", "all_nan", "dirty_numbers"
]
#: A column of numbers written as text with a few values that are not numbers:
#: the student's default encoder refuses it with this error (infer_column_kinds).
DIRTY = "n/a"
DIRTY_ERROR = r"column '{name}' looks numeric but has values that cannot be parsed as numbers: \['n/a'\]"


@st.composite
def wild_frames(draw):
    X, y = draw(mixed_frames())
    extra = draw(st.lists(st.sampled_from(EXTRA_KINDS), max_size=3))
    rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
    n = len(X)
    for j, kind in enumerate(extra):
        name = f"{kind}_x{j}"
        miss = rng.rand(n) < 0.2
        if kind == "nullable_int":
            v = pd.array(rng.randint(0, 50, size=n), dtype="Int64")
            v[miss] = pd.NA
        elif kind == "nullable_bool":
            v = pd.array(rng.rand(n) < 0.5, dtype="boolean")
            v[miss] = pd.NA
        elif kind == "string_dtype":
            v = pd.array(rng.choice(["x", "y", "z"], size=n), dtype="string")
            v[miss] = pd.NA
        elif kind == "mixed_object":
            v = pd.Series(rng.choice(["u", "v"], size=n), dtype=object)
            v[miss] = None
            v[rng.rand(n) < 0.1] = 3  # an int among strings
        elif kind == "dirty_numbers":
            # at most 5% not numbers: the column still looks numeric
            v = pd.Series([f"{x:.2f}" for x in rng.normal(size=n)], dtype=object)
            v[rng.choice(n, size=max(1, n // 20), replace=False)] = DIRTY
        else:
            v = np.full(n, np.nan)
        X[name] = v
    return X, y


def test_fuzz_student_preprocessing():
    counts = {"run": 0, "reached": 0}

    @FUZZ
    @given(wild_frames(), st.sampled_from([None, "munge"]))
    def check(problem, augment):
        X, y = problem
        counts["run"] += 1
        teacher = AnyFrameTeacher().fit(X, y)
        clf = DistilledClassifier(teacher, **{**FAST, "augment": augment})
        dirty = [c for c in X.columns if c.startswith("dirty_numbers")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dirty:
                # the one frame skdistill must refuse, and how: naming the first such column
                with pytest.raises(ValueError, match=DIRTY_ERROR.format(name=dirty[0])):
                    clf.fit(X, y)
                return
            clf.fit(X, y)
            proba = clf.predict_proba(X)
            reversed_proba = clf.predict_proba(X.iloc[::-1])
        counts["reached"] += 1
        np.testing.assert_array_equal(clf.classes_, np.unique(y))
        assert proba.shape == (len(X), len(np.unique(y)))
        assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
        # each row is answered on its own: the order of the rows does not matter
        np.testing.assert_allclose(reversed_proba, proba[::-1], rtol=1e-5, atol=1e-6)

    check()
    _check_reached(counts["reached"], counts["run"])
