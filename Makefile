# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The suite runs on SQLite always, and on these servers too; set one empty to leave it out.
export TASKMANAGER_TEST_MYSQL_URL ?= mysql://root@127.0.0.1:3306/test
export TASKMANAGER_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test check lint format pytest clean php-check reliability wheel worker-bundle

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Set up and start the API on the embedded SQLite database (http://127.0.0.1:8000/api).
run: $(STAMP)
	$(BIN)/taskmanager serve

## Set up and run everything: format and lint checks, type checks, the whole test suite.
test: check php-check pytest

check: $(STAMP)
	$(BIN)/ruff format --check taskmanager tests workers
	$(BIN)/ruff check taskmanager tests workers
	$(BIN)/mypy

# Most tests wait on processes and timers more than they compute, so they run side by side in
# PYTEST_PROCESSES processes; the fault scenarios marked `serial` judge timings (a re-claim
# within its lease, a 503 within the connect timeout) and run afterwards with the machine to
# themselves.
PYTEST_PROCESSES ?= 4
pytest: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_PROCESSES) -m "not serial"
	$(BIN)/pytest -q -m serial

## The longer reliability tier for release checks: the fault scenarios at ten times the CI
## counts (TASKMANAGER_RELIABILITY_SCALE), then the other reliability scenarios.
RELIABILITY_SCALE ?= 10
reliability: $(STAMP)
	TASKMANAGER_RELIABILITY_SCALE=$(RELIABILITY_SCALE) $(BIN)/pytest -q -s tests/faults
	$(BIN)/pytest -q tests/multiserver tests/reliability tests/worker/test_processes.py

# The PHP worker: php -l on every file, the PHP 7.4 compatibility check, its unit tests.
PHP_DIR := workers/php
PHP_TOOLS := $(PHP_DIR)/tools
PHP_FILES = $(shell find $(PHP_DIR) -name '*.php' -not -path '*/node_modules/*')

$(PHP_TOOLS)/node_modules/.installed: $(PHP_TOOLS)/package.json $(PHP_TOOLS)/package-lock.json
	cd $(PHP_TOOLS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

php-check: $(PHP_TOOLS)/node_modules/.installed
	@for file in $(PHP_FILES); do php -l "$$file" >/dev/null || exit 1; done
	@echo "php -l: $(words $(PHP_FILES)) file(s) without syntax errors"
	node $(PHP_TOOLS)/check-php74.js $(PHP_FILES)
	cd $(PHP_DIR) && phpunit --do-not-cache-result

## The taskmanager package as a wheel in dist/, to install where there is no checkout.
WHEEL_DIR ?= dist
wheel: $(STAMP)
	$(BIN)/python -m pip wheel --quiet --no-deps -w $(WHEEL_DIR) .
	rm -rf build

## The Python worker as a directory to copy anywhere (e.g. /opt/worker): worker.py,
## test_worker.py, worker.conf.example, the wheel, and a requirements.txt that installs it.
WORKER_BUNDLE ?= dist/python-worker
worker-bundle: $(STAMP)
	rm -rf $(WORKER_BUNDLE) && mkdir -p $(WORKER_BUNDLE)/wheels
	$(MAKE) --no-print-directory wheel WHEEL_DIR=$(WORKER_BUNDLE)/wheels
	cp workers/python/worker.py workers/python/test_worker.py workers/python/worker.conf.example $(WORKER_BUNDLE)/
	cd $(WORKER_BUNDLE) && { \
	  echo "# taskmanager is not on PyPI: install it from the wheel beside this file (run pip from here)."; \
	  echo "# Its dependencies come from your package index as usual."; \
	  ls wheels/taskmanager-*.whl | sed 's|^|./|'; } > requirements.txt
	@echo "$(WORKER_BUNDLE): copy it to the worker host, then pip install -r requirements.txt there"

format: $(STAMP)
	$(BIN)/ruff format taskmanager tests workers
	$(BIN)/ruff check --fix taskmanager tests workers

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(PHP_TOOLS)/node_modules
