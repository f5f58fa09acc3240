# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The CPU build; an unpinned torch pulls the newest CUDA build (several GB).
TORCH := torch==2.13.0
# pytest keeps its rewritten test modules as bytecode; an environment that turns bytecode off (as this
# project's machines do) would make every test run recompile them all (seconds per xdist worker).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup demo test test-fast lint bench clean strip options-docs

setup: $(STAMP)

# No wheel cache: a machine's disk may be short, and the venv is what it needs room for.
$(STAMP): export PIP_NO_CACHE_DIR := 1

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: setup
	$(BIN)/preannotate run configs/demo.yaml

# The tests that load no model, execute no notebook and are not slow by nature (tests/conftest.py says which;
# README.md, Development, says how long they take). A test file's tests share one worker, so a module's
# fixtures (a built wheel, a finished run) are made once, not once per worker.
FAST := not model and not notebook and not slow
# Its complement, written out: `not ($(FAST))` holds "not slow", which would load the `fast` profile (tests/conftest.py).
REST := model or notebook or slow

# Everything, what CI runs (41 to 55 minutes on 2 CPU cores, setup included; CI once took 86 min): the fast
# tier on every core with every Hypothesis example, then the others one at a time (they load models that use
# every core, and Ray's test clusters must not share the machine); both run, and either failing fails it.
test: setup
	$(BIN)/python -m pytest -m "$(FAST)" -n auto --dist loadfile --hypothesis-profile=default; fast=$$?; \
	$(BIN)/python -m pytest -m "$(REST)"; rest=$$?; \
	test $$fast -eq 0 && test $$rest -eq 0

# The fast tier alone, with the Hypothesis profile `fast` (a quarter of the examples): minutes, not most of an hour.
test-fast: setup
	$(BIN)/python -m pytest -m "$(FAST)" -n auto --dist loadfile

lint: setup
	$(BIN)/ruff check preannotate tests benchmarks tools
	$(BIN)/ruff format --check preannotate tests benchmarks tools
	$(BIN)/mypy
	$(BIN)/lint-imports

# Speed, memory and WER beside the plain whisper CLI and faster-whisper (about an hour on 2 CPU cores; CI never
# runs it). The speech is made with espeak-ng and sox; the whisper CLI reads audio with ffmpeg. Pass options with
# BENCH_ARGS, e.g. make bench BENCH_ARGS="--skip-long --repeat 2".
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
bench: setup
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null && command -v ffmpeg >/dev/null || \
		($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q espeak-ng sox ffmpeg)
	$(BIN)/python benchmarks/run_benchmark.py $(BENCH_ARGS)

# Notebooks are committed without outputs (a test fails otherwise).
strip:
	$(BIN)/python tools/strip_notebooks.py

# configs/default.yaml and the notebooks' parameter comments are made from the options' help
# (preannotate/options/); a test fails when they are stale.
options-docs: setup
	$(BIN)/python tools/gen_option_docs.py

clean:
	rm -rf runs/demo .pytest_cache
