# make lab    install into .venv (when needed) and open JupyterLab on the lessons
# make test   install (when needed), then lint, unit tests and every notebook (nbval)
# make bench  install the bench extra too, then run benchmarks/run.py
# make lint (ruff and mypy) / make format / make clean
#
# Every target calls the tools in $(VENV)/bin directly: no activated shell needed.
# The install step runs again only when pyproject.toml is newer than the stamp
# file $(VENV)/.installed, so repeated runs skip it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

NOTEBOOKS ?= notebooks
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: lab test lint format bench notebooks clean distclean

# --- the virtualenv ----------------------------------------------------------

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: evsim needs Python 3.11 or newer to create $(VENV)," >&2; \
	  echo "       but '$(PYTHON)' is: $$($(PYTHON) --version 2>/dev/null || echo 'not found')." >&2; \
	  echo "       Install Python 3.11+ and run e.g.: make $(or $(MAKECMDGOALS),test) PYTHON=python3.12" >&2; \
	  echo "       (or use conda: conda env create -f environment.yml)" >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[lab,dev]"
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -e ".[lab,dev,bench]"
	touch $@

# --- the commands -------------------------------------------------------------

# Jupyter refuses to run as root unless told to; containers often run as root.
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/

# -n auto: the unit tests on every core (pytest-xdist); notebooks run one by one below
test: $(STAMP)
	@$(MAKE) --no-print-directory lint
	$(BIN)/pytest -q -n auto
	@$(MAKE) --no-print-directory notebooks

# Runs every notebook under $(NOTEBOOKS)/ (solutions/ included) and compares its
# outputs with the stored ones. pytest exits with 5 when it collected no tests,
# which is the case while there is no notebook yet: that is not a failure here.
notebooks: $(STAMP)
	@echo "$(BIN)/pytest -q $(NBVAL_FLAGS) $(NOTEBOOKS)/"
	@status=0; \
	$(BIN)/pytest -q $(NBVAL_FLAGS) $(NOTEBOOKS)/ || status=$$?; \
	if [ "$$status" -eq 5 ]; then \
	  echo "(no notebooks to validate in $(NOTEBOOKS)/ yet)"; \
	  status=0; \
	fi; \
	exit "$$status"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BENCH_STAMP)
	@if [ -f benchmarks/run.py ]; then \
	  echo "$(BIN)/python benchmarks/run.py"; \
	  $(BIN)/python benchmarks/run.py; \
	else \
	  echo "benchmarks/run.py does not exist yet: nothing to run"; \
	fi

# clean: caches and build output; distclean: that and the virtualenv too
clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find . -path ./$(VENV) -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
