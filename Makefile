# vipcases: `make run` starts the app with demo data, `make test` runs the checks.
#
# The virtual environment is .venv/ in the checkout. Installs are redone only when a
# lock file is newer than its stamp, so `make test` is quick after the first time.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
BOOTSTRAP_PYTHON := $(shell command -v python3.11 || command -v python3)
# The app itself refuses to start without SECRET_KEY when DEBUG is off; tests run
# with DEBUG off, so they get a throwaway key unless one is set.
TEST_SECRET_KEY := test-only-insecure-key
PYTEST_ARGS ?=

.PHONY: help install run test lint format audit worker beat bench

help:
	@echo "make install   create .venv, install the locked dependencies, build the frontend"
	@echo "make run       migrate, seed demo data, serve on http://127.0.0.1:8000/ (SQLite, tasks in process)"
	@echo "make test      ruff, the security audit, then pytest (PYTEST_ARGS=... passes options through)"
	@echo "make audit     bandit (fails on high severity) and pip-audit of requirements.lock"
	@echo "make lint      ruff check and format check"
	@echo "make format    ruff format and safe fixes"
	@echo "make worker    a Celery worker (needs REDIS_URL)"
	@echo "make beat      the Celery beat scheduler (needs REDIS_URL)"
	@echo "make bench     every benchmark on PostgreSQL and Redis, 1,000,000 cases (~20 min); writes BENCHMARKS.md"

# --- install ----------------------------------------------------------------------

$(PY):
	@test -n "$(BOOTSTRAP_PYTHON)" || { echo "make: python3.11 (or python3) not found" >&2; exit 1; }
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)

$(VENV)/.installed-dev: requirements-dev.lock | $(PY)
	$(PY) -m pip install --disable-pip-version-check --require-hashes -r requirements-dev.lock
	touch $@

# The frontend is built only once package.json and its lock exist.
ifneq ($(wildcard package-lock.json),)
FRONTEND := static/vendor/.built

node_modules/.package-lock.json: package-lock.json package.json
	npm ci --no-audit --no-fund
	touch $@

$(FRONTEND): node_modules/.package-lock.json $(wildcard scripts/build_frontend.py) | $(VENV)/.installed-dev
	@if [ -f scripts/build_frontend.py ]; then \
		$(PY) scripts/build_frontend.py && mkdir -p static/vendor && touch $@; \
	else \
		echo "make: scripts/build_frontend.py not found yet; frontend not built"; \
	fi
else
FRONTEND :=
endif

install: $(VENV)/.installed-dev $(FRONTEND)

# The official OCDS 1.1.5 schemas the OCDS export test validates against, taken from two
# pinned PyPI sdists into .cache/ (gitignored); the script writes release-schema.json last.
OCDS_SCHEMA := .cache/ocds/1__1__5/release-schema.json

$(OCDS_SCHEMA): scripts/fetch_ocds_schema.py | $(PY)
	$(PY) scripts/fetch_ocds_schema.py
	touch $@

# --- run --------------------------------------------------------------------------

# DATABASE_URL and REDIS_URL are not set here: the defaults are SQLite and
# in-process tasks. Export them yourself to run against PostgreSQL and a broker.
run: install
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py seed_demo --if-empty
	@echo
	@echo "vipcases: open http://127.0.0.1:8000/ and sign in with a demo login above (Ctrl-C stops the server)"
	@echo
	DEBUG=true $(PY) manage.py runserver 127.0.0.1:8000

# --- checks -----------------------------------------------------------------------

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# bandit fails on any high-severity finding in the app's code (its summary counts the
# medium and low ones; `bandit -r vipcases offers triage` lists them); pip-audit fails on
# any known vulnerability in the locked dependencies (see scripts/audit_dependencies.py).
audit: $(VENV)/.installed-dev
	$(VENV)/bin/bandit --recursive vipcases offers triage --severity-level high
	$(PY) scripts/audit_dependencies.py requirements.lock

test: install $(OCDS_SCHEMA)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) --no-print-directory audit
	SECRET_KEY="$${SECRET_KEY:-$(TEST_SECRET_KEY)}" $(PY) -m pytest $(PYTEST_ARGS)

# --- Celery -----------------------------------------------------------------------

worker: install
	@test -n "$${REDIS_URL:-}" || { echo "make: set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run a worker" >&2; exit 1; }
	DEBUG="$${DEBUG:-true}" $(VENV)/bin/celery -A vipcases worker -l info

# The schedule file goes in .venv/ so it never lands in the work tree.
beat: install
	@test -n "$${REDIS_URL:-}" || { echo "make: set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run beat" >&2; exit 1; }
	DEBUG="$${DEBUG:-true}" $(VENV)/bin/celery -A vipcases beat -l info --schedule $(VENV)/celerybeat-schedule

# --- benchmarks -------------------------------------------------------------------

# Needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL name the servers; the defaults
# below are the local ones) and wrk (apt-get install wrk). Scratch databases only:
# vipcases_bench_* and Redis databases 11-13. BENCH_ARGS passes options through, e.g.
# BENCH_ARGS="--quick" or BENCH_ARGS="--only pages,dashboards --keep".
BENCH_ARGS ?=

bench: $(VENV)/.installed-dev
	DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/0}" \
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)
