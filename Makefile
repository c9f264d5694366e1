# tipshare: `make demo` and `make test` are all a newcomer needs (Python 3.11+ and nothing else).
#
#   make test     create .venv if missing, install tipshare with its dev tools, run every check
#   make demo     the whole system end to end on one machine
#   make lint | typecheck | contracts | unit   one check at a time
#   make clean    remove the virtual environment and caches

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tipshare-installed
PYTEST_ARGS ?=

.PHONY: all install test lint typecheck contracts unit demo clean

all: test

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tipshare needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

# pip >= 25.1 understands [dependency-groups]; the venv's own pip may be older.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --editable . --group dev
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck contracts unit

demo: install
	@echo "make demo: not yet - the end-to-end demo (hub, synthetic hotlines, auditor) lands with the demo issue."

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis .import_linter_cache
