# deepgrad: the two commands a newcomer needs.
#   make run      create .venv (when absent), install deepgrad into it, run the main job:
#                 train the default recipe (spiral, generated data, seconds) into runs/spiral
#   make test     install the test extras into .venv and run the whole suite
# and one for the maintainers:
#   make results  run every recipe with its full settings and write docs/RESULTS.md
#                 (MNIST from DATA=..., else $$DEEPGRAD_DATA, else ~/.cache/deepgrad; minutes;
#                 BLAS_THREADS=1 on a machine busy with other work)
# The PyTorch cross-checks run when torch is importable in .venv and are skipped
# otherwise; `make test` never installs torch (.ci/run does: torch==2.13.0).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
PYTEST_ARGS ?=
DATA ?=
BLAS_THREADS ?=

.PHONY: run test results bench venv install install-test clean

run: install
	$(BIN)/deepgrad train spiral
	@echo "Next: open the plots above; then try $(BIN)/deepgrad train lenet5 (MNIST, about a minute),"
	@echo "      $(BIN)/deepgrad recipes, or $(BIN)/deepgrad playground --open."

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

results: install
	$(BIN)/python -m deepgrad.recipes.report $(if $(DATA),--data $(DATA)) $(if $(BLAS_THREADS),--blas-threads $(BLAS_THREADS)) \
		--out runs/results --doc docs/RESULTS.md

# bench: deepgrad next to PyTorch (eager) and JAX (jit) on five training steps; writes the
# 'bench' section of docs/PERFORMANCE.md (several minutes). torch is pinned; JAX is optional
# (a failed install leaves it reported as absent). BENCH_ARGS=--quick for a smoke run.
bench: install
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet jax optax || echo "bench: JAX could not be installed; it is reported as absent"
	$(BIN)/python benchmarks/bench.py --write $(BENCH_ARGS)

venv: $(BIN)/python

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "deepgrad needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)." \
		       "Run: make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Stamp files: a second `make run` / `make test` installs nothing unless
# pyproject.toml changed (the install is editable, so source edits need none).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[plot,playground]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[test,plot]'
	@touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis
