# Two commands matter: `make run` (serve the app locally) and `make test` (everything CI checks).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export STORAGE_TYPE ?= memory

.PHONY: run test lint check pytest venv dev-venv node bench clean

# One virtualenv, made once: `make run` installs what serves (requirements.txt), `make test` and
# `make bench` add the test tools (requirements-dev.txt) to it in place, never rebuilding it.
$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

# A local .env with a fresh SECRET_KEY, so manage.py works in this checkout; never committed,
# and never overwritten once it exists.
.env:
	@printf '# Local settings (see .env.example for every setting). Made by make; not committed.\nSECRET_KEY=%s\n' \
		"$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "wrote .env with a new SECRET_KEY"

venv: $(VENV)/.runtime-installed .env

dev-venv: $(VENV)/.dev-installed .env

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

node: node_modules/.installed

## run: set everything up and serve on http://$(HOST):$(PORT) (memory backend, SQLite): migrate,
## a local admin user and a plugin token (printed once), the sample templates, then the server
TEMPLATES_FILE := $${HOSTFACTORY_TEMPLATES_FILE:-samples/templates.json}
run: venv
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --no-input --verbosity 0
	DEBUG=$${DEBUG:-1} $(PY) manage.py setup_local --url http://$(HOST):$(PORT) --templates $(TEMPLATES_FILE)
	DEBUG=$${DEBUG:-1} HOSTFACTORY_TEMPLATES_FILE=$(TEMPLATES_FILE) $(PY) manage.py runserver $(HOST):$(PORT)

## lint: ruff check and format check
lint: dev-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## check: Django's system checks, migrations, and the OpenAPI schema (valid, no warnings)
check: dev-venv
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py check
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

# Tests are isolated (fresh tables or stores, free ports), so they run on every core.
PYTEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
pytest: dev-venv node
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

## test: every check CI runs
test: lint check pytest

## bench: the storage and HTTP benchmarks (BENCHMARKS.md); installs wrk (Debian package) when missing
bench: dev-venv node
	command -v wrk >/dev/null 2>&1 || apt-get install -y wrk || sudo apt-get install -y wrk
	$(PY) -m bench.storage_bench $(BENCH_ARGS)
	$(PY) -m bench.http_bench $(HTTP_BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules db.sqlite3 staticfiles
