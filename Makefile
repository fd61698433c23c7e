# The README's commands. `make run` and `make test` work on a fresh clone with nothing installed by hand.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test test-unit test-integration test-e2e test-browser chromium token bench lint format clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m chalicelib.local

test: lint chromium
	$(PY) -m pytest -n 2 tests

lint: $(STAMP)
	$(VENV)/bin/ruff check app.py chalicelib tests bench
	$(VENV)/bin/ruff format --check app.py chalicelib tests bench
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix app.py chalicelib tests bench
	$(VENV)/bin/ruff format app.py chalicelib tests bench

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

test-e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

test-browser: $(STAMP) chromium
	$(PY) -m pytest tests/browser

# Debian's Chromium for the browser tier (Playwright drives it; it never downloads a browser of its own). Installed
# when missing and running as root (CI); otherwise, or if the install fails, the browser tests are skipped and say so.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "WARNING: could not install chromium: the browser tests will be skipped"; \
	  else echo "WARNING: chromium not found (apt-get install chromium): the browser tests will be skipped"; fi; }

# USER and GROUPS are read from the command line only (the shell's own $$USER is not a Sleeve user).
TOKEN_USER := $(if $(filter command line,$(origin USER)),$(USER),alice)
TOKEN_GROUPS := $(if $(filter command line,$(origin GROUPS)),$(GROUPS),)
token: $(STAMP)
	@$(PY) -m chalicelib.cli token $(TOKEN_USER) $(if $(TOKEN_GROUPS),--groups $(TOKEN_GROUPS),)

bench: $(STAMP)
	$(PY) bench/bench_pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache
