# The README's two commands: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install run test lint bench migrate clean

$(VENV)/.installed: requirements.txt requirements-runtime.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

## run: set up (venv, migrations, demo school) and serve the portal with a Celery worker and beat.
# A developer's conveniences, read by portal.settings.local only (manage.py, make run); production
# settings never read it. DEBUG needs no line: the local settings turn it on.
.env:
	printf '%s\n' \
	  '# Local development only: read by portal.settings.local, never by production (written by make run; not committed).' \
	  '# The portal plays WeChat (wx.login codes "sandbox:<openid>"); 0 to talk to WeChat with WECHAT_APPID/WECHAT_SECRET.' \
	  'WECHAT_SANDBOX=1' \
	  '# DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal' \
	  '# CELERY_BROKER_URL=redis://127.0.0.1:6379/0' \
	  > $@

run: install .env
	bin/run

## test: the whole suite (PostgreSQL when DATABASE_URL is set or a server answers on localhost:5432).
test: install
	bin/test

## bench: every benchmark of bench/ on PostgreSQL, ratios printed and kept in var/bench/ (bench/README.md).
bench: install
	bin/bench

## lint: ruff (lint and format) and import-linter (the layers of README's "Layout").
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
