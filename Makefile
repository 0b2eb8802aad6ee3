# The README's two commands: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install run test lint migrate clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

## run: set up (venv, migrations, demo school) and serve the portal with a Celery worker and beat.
# Local development settings for manage.py; production sets its environment instead.
.env:
	printf '# Local development only (written by make run; not committed)\nDEBUG=1\nWECHAT_SANDBOX=1\n' > $@

run: install .env
	bin/run

## test: the whole suite (PostgreSQL when DATABASE_URL is set or a server answers on localhost:5432).
test: install
	bin/test

## lint: ruff (lint and format) and import-linter (the layers of README's "Layout").
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
