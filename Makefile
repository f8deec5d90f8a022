# deepgrad: the two commands a newcomer needs.
#   make run    create .venv (when absent), install deepgrad into it, run the main job
#   make test   install the test extras into .venv and run the whole suite
# The PyTorch cross-checks run when torch is importable in .venv and are skipped
# otherwise; `make test` never installs torch (.ci/run does: torch==2.13.0).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
PYTEST_ARGS ?=

.PHONY: run test bench venv install install-test clean

run: install
	$(BIN)/python examples/xor.py

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	@if [ -f benchmarks/overhead.py ]; then \
		$(BIN)/python benchmarks/overhead.py; \
	else \
		echo "benchmarks/overhead.py does not exist yet"; \
	fi

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
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis
