# Two commands do all the set-up on a fresh machine:
#   make demo   -> installs, then starts the whole product against the local exchange
#   make test   -> installs, then runs the test suite
# (make run starts it against live Binance.)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install browser postgres run demo test test-fast bench

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

# Headless Chromium for the end-to-end browser test (Debian package).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

# PostgreSQL 15 server binaries for the PostgreSQL tests (Debian package; the tests start their own
# throwaway server from them, never the package's own cluster).
PG_BIN ?= /usr/lib/postgresql/15/bin
postgres:
	@test -x $(PG_BIN)/initdb || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql-15 >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq postgresql-15 >/dev/null; fi; }

run: install
	$(BIN)/python run_all.py

demo: install
	$(BIN)/python run_all.py --demo

test: install browser postgres
	$(BIN)/python -m pytest -q

# The unit tests only (no subprocesses, no browser), on both cores: well under a minute.
test-fast: install
	$(BIN)/python -m pytest -q -m unit -n 2

bench: install
	for b in bench/bench_*.py; do PYTHONPATH=. $(BIN)/python $$b || exit 1; done
