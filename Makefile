# One-command workflows. `make demo` and `make test` set everything up
# themselves on a fresh clone (a virtual environment in .venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned for the set-up only (pyproject.toml accepts torch>=2.1):
# 2.13.0 is a fast, known-good install; override with `make TORCH=torch`.
TORCH ?= torch==2.13.0

.PHONY: setup demo test docs bench bench-serving clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/python examples/demo_churn.py

test: setup
	$(BIN)/python -m pytest -n 2 -q

docs: setup
	$(BIN)/python -m pip install -q -e ".[docs]"
	rm -rf docs/generated  # autosummary stubs are regenerated; stale ones would fail -W
	$(BIN)/sphinx-build -W -b html docs docs/_build/html

bench: setup
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/scale.py

# the student vs the compiled teacher; needs gcc and the bench extra
bench-serving: setup
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/serving.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
