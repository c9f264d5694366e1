# tipshare: `make demo` and `make test` are all a newcomer needs (Python 3.11+ and nothing else).
#
#   make test     create .venv if missing, install tipshare with its dev tools, run every check
#   make check    the fast loop (about 2 minutes): lint, types, contracts, and the unit tests that need no server
#   make demo     the whole system end to end on one machine (DEMO_ARGS=--once to exit after the audit)
#   make bench    accuracy and speed figures against baselines measured in the same run
#   make i18n     extract messages, update the uk/ro/ru catalogues, compile them; fails naming any untranslated one
#   make lint | typecheck | contracts | unit   one check at a time
#   make clean    remove the virtual environment and caches
#
# The tests run in parallel (pytest-xdist): one worker process per CPU, each its own test session with its own
# temporary directories, free ports and, on PostgreSQL, its own throwaway cluster. PYTEST_WORKERS=0 runs them
# serially in one process (as does PYTEST_ARGS="-n 0"); PYTEST_WORKERS=4 sets the number of workers.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tipshare-installed
PYTEST_ARGS ?=
PYTEST_WORKERS ?= auto
# worksteal: a worker that runs out of tests takes half of another's queue, so one long test (the demo, ~3 min)
# does not leave the other CPU idle at the end of a pass.
XDIST  := -n $(PYTEST_WORKERS) --dist worksteal
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all install i18n test check lint typecheck contracts unit coverage unit-sqlite unit-postgresql postgres browser proxy promtool demo bench clean

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

# Translations: after changing a user-visible message, run this, translate what it names in
# <package>/locale/<lang>/LC_MESSAGES/<package>.po, and run it again (the compiled .mo files are committed).
i18n: install
	$(BIN)/python -m tools.i18n

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

# The whole suite on SQLite, then every database test again on a real PostgreSQL server that the test session
# starts itself (a throwaway cluster on 127.0.0.1, deleted afterwards). Database tests are those marked `db`, which
# tests/conftest.py does by itself for every test that reaches a database of the run's backend (a hub, say).
# protocol/ is held at 100 % branch coverage by its own unit tests: `coverage` runs them (once, in parallel, each
# worker measured and the data combined, with the architecture's checks and the protocol's runnable docs) and fails
# below the floor of pyproject.toml's [tool.coverage]; the SQLite pass runs everything else.
unit: coverage unit-sqlite unit-postgresql

coverage: install
	rm -f .coverage .coverage.*
	TIPSHARE_HYPOTHESIS=ci $(BIN)/coverage run -m pytest -q $(XDIST) tests/unit/protocol tests/unit/test_architecture.py
	$(BIN)/coverage combine -q
	$(BIN)/coverage report

# The whole suite: property tests at their thorough profile, and the slowest tests listed at the end of each pass.
# Both passes run in parallel (XDIST above); on PostgreSQL each worker starts a cluster of its own.
unit-sqlite: install browser proxy promtool
	TIPSHARE_HYPOTHESIS=ci $(BIN)/pytest $(XDIST) --ignore=tests/unit/protocol --ignore=tests/unit/test_architecture.py --durations=20 $(PYTEST_ARGS)

unit-postgresql: install postgres browser proxy
	TIPSHARE_HYPOTHESIS=ci $(BIN)/pytest $(XDIST) --backend postgresql -m db --durations=20 $(PYTEST_ARGS)

# PostgreSQL server binaries (Debian's postgresql package), installed where missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing PostgreSQL (Debian package postgresql) for the test suite"; \
		command -v apt-get >/dev/null || { echo "no apt-get: install PostgreSQL server binaries by hand" >&2; exit 1; }; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

# Debian's chromium for the dashboard's browser tests (Playwright drives it; no browser is ever downloaded).
browser:
	@test -x /usr/bin/chromium || { \
		echo "installing Chromium (Debian package chromium) for the dashboard tests"; \
		command -v apt-get >/dev/null || { echo "no apt-get: install chromium by hand" >&2; exit 1; }; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Debian's caddy: the hub's edge is tested behind the shipped Caddyfile (tests/integration/test_edge_proxy.py).
proxy:
	@command -v caddy >/dev/null || { \
		echo "installing Caddy (Debian package caddy) for the proxy tests"; \
		{ command -v apt-get >/dev/null && $(SUDO) apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq caddy >/dev/null; } || \
		echo "warning: caddy could not be installed; the tests behind the shipped proxy will be skipped" >&2; }

# Debian's promtool (package prometheus) checks deploy/monitoring/alerts.yaml; the test says so and skips without it.
promtool:
	@command -v promtool >/dev/null || { \
		echo "installing promtool (Debian package prometheus) for the alert rules' check"; \
		command -v apt-get >/dev/null || { echo "no apt-get: the alert rules are checked without promtool" >&2; exit 0; }; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq prometheus >/dev/null \
			|| echo "promtool not installed: the alert rules are checked without it" >&2; }

test: lint typecheck contracts unit

# Day-to-day: everything that needs no database, server or browser (the protocol, the node, the architecture),
# except the tests marked slow (a 100,000-row export, noise sampled until its variance shows), which make test runs.
# Parallel too (XDIST above).
check: lint typecheck contracts
	$(BIN)/pytest -q $(XDIST) -m "not slow" tests/unit/protocol tests/unit/node tests/unit/test_architecture.py $(PYTEST_ARGS)

# The whole system on this machine: a hub on SQLite in a temporary directory, six synthetic hotlines sending twelve
# months, the auditor's verdict; then the hub keeps serving until Ctrl-C. `make demo DEMO_ARGS=--once` exits with
# the auditor's status instead (the test suite runs that).
DEMO_ARGS ?=
demo: install
	$(BIN)/python -m demo $(DEMO_ARGS)

# Benchmarks: ratios against baselines measured in the same run (see BENCHMARKS.md). BENCH_ARGS=--quick for a smoke run.
BENCH_ARGS ?=
bench: install postgres
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis .import_linter_cache .coverage .coverage.*
