# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The CPU build; an unpinned torch pulls the newest CUDA build (several GB).
TORCH := torch==2.13.0

.PHONY: setup demo test lint bench clean strip

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: setup
	$(BIN)/preannotate run configs/demo.yaml

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check preannotate tests benchmarks
	$(BIN)/ruff format --check preannotate tests benchmarks

# Notebooks are committed without outputs (a test fails otherwise).
strip:
	$(BIN)/python tools/strip_notebooks.py

clean:
	rm -rf runs/demo .pytest_cache
