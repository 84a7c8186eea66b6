# Two entry points do all set-up on a fresh machine:
#   make demo   - virtual environment, install, run the whole loop against the built-in emulators
#   make test   - the same with the dev tools, then ruff, mypy --strict, the import contracts and
#                 the whole pytest suite
# `make coverage` runs the suite with branch coverage (the tracer doubles its CPU time, so it is
# kept out of `make test`).
# Both install the exact versions in constraints.txt; `make constraints` refreshes that file from
# the newest releases that pyproject.toml allows (then run `make clean test` and commit it).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test coverage lint bench clean postgres browser constraints

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/nps-sync demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint postgres browser
	$(BIN)/pytest -n 3 --dist loadgroup --durations=30

coverage: $(VENV)/.installed-dev postgres browser
	$(BIN)/pytest -n 3 --dist loadgroup --cov --cov-report=term

# The PostgreSQL tests need a local server; start the machine's cluster if it is installed but down.
postgres:
	@if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1; then \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n1) main start || true; \
	fi

# The HTML report's test opens it in the system's Chromium, driven through its chromedriver;
# install both from the Debian packages when either is missing (the test never downloads one).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "installing Chromium and chromedriver for the report's browser test"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	fi

# make bench BENCH_ARGS="--large" adds the 100,000-response, 200 MB JSONL and 100,000 backfill rows.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

# Resolve every dependency (and the dev and postgres extras) afresh in a scratch environment and
# write the exact versions to constraints.txt.
constraints:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet -e '.[dev,postgres]'
	{ echo "# Exact versions installed by make test and make demo; refresh with make constraints."; \
	  .venv-lock/bin/pip freeze --exclude-editable; } > constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .coverage
