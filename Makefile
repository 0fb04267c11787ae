# Each target does its own set-up: a fresh clone needs nothing but Python 3.11.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
WORKERS ?= 2
THREADS ?= 4
# Where make serve's workers keep their metrics (one directory per server).
METRICS_DIR ?= $(CURDIR)/var/prometheus
# Development settings for every manage.py command of this checkout (git-ignored).
DOTENV ?= .env

.PHONY: run serve test bench chromium tools lint format setup redis-stop clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP)

$(DOTENV):
	@printf '%s\n' "# Written once by make run, for development: every manage.py command reads it." \
	  "# A variable set in the environment wins; gunicorn (production) never reads it." \
	  "DEBUG=1" \
	  "# SECRET_KEY: with DEBUG on, generated once into var/secret_key (mode 600)." > $(DOTENV)
	@echo "wrote $(DOTENV) (DEBUG=1): manage.py now works here without exports"

## Serve the site on http://127.0.0.1:8000 (embedded Redis, or REDIS_URL; SQLite; DEBUG on).
run: $(STAMP) $(DOTENV)
	DEBUG=1 $(PY) manage.py embedded_redis start
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:$(PORT)

## Production-like: gunicorn on 127.0.0.1:$(PORT), DEBUG off, after collectstatic and migrate.
## Needs SECRET_KEY; HTTPS=0 to try it over plain HTTP on loopback. Reads no .env.
serve: $(STAMP)
	@test -n "$$SECRET_KEY" || { echo "make serve: set SECRET_KEY to a long random string (production never generates one)" >&2; exit 2; }
	DEBUG=0 SESSIONSITE_DOTENV= $(PY) manage.py collectstatic --noinput -v 0
	DEBUG=0 SESSIONSITE_DOTENV= $(PY) manage.py migrate --noinput
	@# The workers keep their metrics in files here, added up by /metrics (empty at start).
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	DEBUG=0 SESSIONSITE_DOTENV= PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) \
	  $(PY) -m gunicorn sessionsite.wsgi --bind 127.0.0.1:$(PORT) \
	  --workers $(WORKERS) --threads $(THREADS) --access-logfile - --no-control-socket

## Lint, then run every test (browser tests drive Debian's chromium, installed if missing).
test: $(STAMP) tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

## Benchmarks (about 15 minutes; a throwaway Redis of their own). Writes bench/results/latest.md.
bench: $(STAMP) tools
	$(PY) bench/all.py

# Debian packages the tests and benchmarks drive: chromium (Playwright uses the system's,
# never `playwright install`, which downloads), wrk (the load generator) and valgrind
# (bench/instructions.py counts instructions under callgrind).
chromium: tools
tools:
	@command -v chromium >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1 && command -v valgrind >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wrk valgrind >/dev/null; } || \
	  echo "chromium, wrk or valgrind is missing and could not be installed: those tests will be skipped"

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Stop the embedded Redis (sessions are kept in var/redis/ and come back on the next start).
redis-stop: $(STAMP)
	DEBUG=1 $(PY) manage.py embedded_redis stop

clean:
	-DEBUG=1 $(PY) manage.py embedded_redis stop
	rm -rf $(VENV) var
