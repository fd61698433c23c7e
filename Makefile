# The README's commands. `make run` and `make test` work on a fresh clone with nothing installed by hand.
#
# Python 3.12 (Lambda's python3.12 runtime; `chalice package` emits the runtime of the Python it runs on). The
# interpreter that creates .venv is, in order: PYTHON=… given on make's command line;
# `python3.12` on the PATH if it really runs (pyenv's shim refuses unless PYENV_VERSION names a 3.12, as on CI); the
# newest 3.12 under `pyenv root`/versions. Otherwise make stops and says what to install.
PYTHON_MINOR := 3.12
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STAGE ?= dev
# chalice 1.34 requires pip < 26.3 (it runs pip to build the Lambda bundle).
PIP_VERSION := 26.2.1
# Only PYTHON=… on make's command line names the interpreter (a PYTHON variable in the shell may be anything).
USER_PYTHON := $(if $(filter command line,$(origin PYTHON)),$(PYTHON),)
# A Python statement that exits 0 on Python $(PYTHON_MINOR) only.
IS_MINOR := import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYTHON_MINOR)")

# The stamp records the version of the Python that made .venv. A .venv whose Python is not 3.12 (made by an older
# Makefile, or its interpreter gone) is recreated; one whose stamp names another version is reinstalled.
VENV_VERSION := $(shell $(PY) -c 'import platform; print(platform.python_version())' 2>/dev/null)
STAMP_VERSION := $(firstword $(shell cat $(STAMP) 2>/dev/null))
ifeq ($(filter $(PYTHON_MINOR).%,$(VENV_VERSION)),)
STAMP_FORCE := FORCE
else ifneq ($(STAMP_VERSION),$(VENV_VERSION))
STAMP_FORCE := FORCE
endif

# Prints the path of a Python 3.12 that can make a venv, or explains on stderr what to install and fails.
define FIND_PYTHON
works() { "$$1" -c 'import venv, ensurepip; $(IS_MINOR)' >/dev/null 2>&1; }; \
real() { "$$1" -c 'import sys; print(sys.executable)'; }; \
if [ -n "$(USER_PYTHON)" ]; then \
  if works "$(USER_PYTHON)"; then real "$(USER_PYTHON)"; exit 0; fi; \
  echo "PYTHON=$(USER_PYTHON) is not a working Python $(PYTHON_MINOR) (with its venv module)" >&2; exit 1; \
fi; \
if works python$(PYTHON_MINOR); then real python$(PYTHON_MINOR); exit 0; fi; \
root="$$(pyenv root 2>/dev/null || echo "$${PYENV_ROOT:-$$HOME/.pyenv}")"; \
for candidate in $$(ls -d "$$root"/versions/$(PYTHON_MINOR).*/bin/python$(PYTHON_MINOR) 2>/dev/null | sort -rV); do \
  if works "$$candidate"; then echo "$$candidate"; exit 0; fi; \
done; \
echo "Sleeve needs Python $(PYTHON_MINOR) and found none: no python$(PYTHON_MINOR) on the PATH that runs and has its venv module," \
  "nor a $(PYTHON_MINOR).x under $$root/versions. Install one, e.g. 'apt-get install python$(PYTHON_MINOR)" \
  "python$(PYTHON_MINOR)-venv' or 'pyenv install $(PYTHON_MINOR)', or name it: make PYTHON=/path/to/python$(PYTHON_MINOR) …" >&2; \
exit 1
endef

.PHONY: install run fake-dsp fake-replicate test test-unit test-integration test-e2e test-browser chromium laptop-extra token bench openapi lint \
  format package clean which-python FORCE

$(STAMP): requirements.txt requirements-dev.txt $(STAMP_FORCE)
	@if ! $(PY) -c '$(IS_MINOR)' 2>/dev/null; then \
	  python="$$($(FIND_PYTHON))" || exit 1; \
	  if [ -e $(VENV) ]; then echo "$(VENV) is not Python $(PYTHON_MINOR): recreating it"; rm -rf $(VENV); fi; \
	  echo "creating $(VENV) with $$python"; \
	  "$$python" -m venv $(VENV) || { rm -rf $(VENV); echo "could not create $(VENV) with $$python" \
	    "(on Debian/Ubuntu: apt-get install python$(PYTHON_MINOR)-venv)" >&2; exit 1; }; \
	fi
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@$(PY) -c 'import platform, sys; print(platform.python_version(), sys.base_prefix)' > $(STAMP)

FORCE:

# The Python 3.12 that would create .venv (or, failing, what to install).
which-python:
	@$(FIND_PYTHON)

install: $(STAMP)

run: $(STAMP) laptop-extra
	$(PY) -m chalicelib.local

# The fake DSP (Spotify, Apple Music, MusicBrainz in their documented formats) on 127.0.0.1:8099 with its sample
# catalogue, for `make run` demos (README, "Walkthrough: DSP sync"); its SLEEVE_* settings go to FAKE_DSP_ENV too.
FAKE_DSP_ENV ?= /tmp/sleeve-fake-dsp.env
fake-dsp: $(STAMP)
	$(PY) -m chalicelib.local.fake_dsp --env-file $(FAKE_DSP_ENV)

# The fake Replicate (predictions API, output files, signed webhooks) on 127.0.0.1:8098, for `make run` demos (README,
# "Walkthrough: AI upscaling"); its SLEEVE_REPLICATE_* settings go to FAKE_REPLICATE_ENV too.
FAKE_REPLICATE_ENV ?= /tmp/sleeve-fake-replicate.env
fake-replicate: $(STAMP)
	$(PY) -m chalicelib.local.fake_replicate --env-file $(FAKE_REPLICATE_ENV)

test: lint chromium laptop-extra
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
	@command -v jq >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing jq and curl for the README walkthrough test"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq curl >/dev/null; } \
	      || echo "WARNING: could not install jq/curl: the artwork walkthrough test will be skipped"; \
	  else echo "WARNING: jq or curl not found: the artwork walkthrough test will be skipped"; fi; }

# The laptop extra (requirements-laptop.txt): the local Real-ESRGAN upscaler, never in the Lambda bundle (README,
# "Providers → local Real-ESRGAN and Lanczos"). Its wheel needs Debian's libvulkan1 and libomp5, and OpenCV libgl1 and
# libglib2.0-0: installed when the worker's --check fails and we run as root (CI). Anything that cannot be installed
# leaves a WARNING and the local upscaler off (jobs fall back to Lanczos, the model test is skipped); make goes on.
LAPTOP_STAMP := $(VENV)/.laptop-installed
LAPTOP_LIBS := libvulkan1 libomp5 libgl1 libglib2.0-0
UPSCALER_CHECK := $(PY) -m chalicelib.providers.realesrgan_worker --check

$(LAPTOP_STAMP): requirements-laptop.txt $(STAMP)
	@$(PY) -m pip install --quiet -r requirements-laptop.txt && touch $@ \
	  || echo "WARNING: could not install requirements-laptop.txt: the local Real-ESRGAN upscaler is off"

laptop-extra: $(LAPTOP_STAMP)
	@$(UPSCALER_CHECK) 2>/dev/null; if [ $$? = 4 ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's $(LAPTOP_LIBS) for the local Real-ESRGAN upscaler"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      $(LAPTOP_LIBS) >/dev/null; } || echo "WARNING: could not install $(LAPTOP_LIBS)"; \
	  else echo "the local Real-ESRGAN upscaler needs: apt-get install $(LAPTOP_LIBS) (as root)"; fi; \
	fi; \
	$(UPSCALER_CHECK) 2>/dev/null || echo "WARNING: the local Real-ESRGAN upscaler is off (jobs use Lanczos, its test is" \
	  "skipped): $$($(UPSCALER_CHECK) 2>&1 | tail -n 1)"

# USER and GROUPS are read from the command line only (the shell's own $$USER is not a Sleeve user).
TOKEN_USER := $(if $(filter command line,$(origin USER)),$(USER),alice)
TOKEN_GROUPS := $(if $(filter command line,$(origin GROUPS)),$(GROUPS),)
token: $(STAMP)
	@$(PY) -m chalicelib.cli token $(TOKEN_USER) $(if $(TOKEN_GROUPS),--groups $(TOKEN_GROUPS),)

# The OpenAPI 3.1 document generated from the code, committed as docs/openapi.json (a unit test fails when it is stale).
openapi: $(STAMP)
	$(PY) -m chalicelib.openapi docs/openapi.json

bench: $(STAMP) laptop-extra
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_derived.py
	$(PY) bench/bench_matching.py
	$(PY) bench/bench_sync.py
	$(PY) bench/bench_upscale.py
	$(PY) bench/bench_enhance.py
	$(PY) bench/bench_search.py

# The contract fuzz run, longer than CI's (README, "Fuzzing"): FUZZ_EXAMPLES fuzzing examples per operation (CI: 5) and
# 6 stateful scenarios per example, a fresh seed each run (FUZZ_SEED=… replays one), no deadline (FUZZ_DEADLINE=…
# seconds sets one); FUZZ_SECONDS=… fuzzes for that long instead of once per phase.
FUZZ_EXAMPLES ?= 50
FUZZ_SEED ?= random
FUZZ_DEADLINE ?= 0
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) FUZZ_DEADLINE=$(FUZZ_DEADLINE) FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  $(PY) -m pytest -p no:xdist -q tests/e2e/test_contract_fuzz.py -k holds_its_contract

# The CloudFormation package of one stage (STAGE=dev or prod) in out/STAGE: Chalice's functions and API merged with
# infra/template.json. Deploy it with the Stage parameter set to the same stage (README, "Deploying").
package: $(STAMP)
	rm -rf out/$(STAGE)
	$(VENV)/bin/chalice package --stage $(STAGE) --merge-template infra/template.json out/$(STAGE)

clean:
	rm -rf $(VENV) .pytest_cache
