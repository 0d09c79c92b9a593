# The two commands that matter: `make run` (the app on SQLite with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV_FILE := $(if $(wildcard .env),.env,.env.example)

.PHONY: run test faults lint install bench chromium

$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $@

install: $(VENV)/.installed

run: install
	APP_ENV=local DJANGO_ENV_FILE=$(ENV_FILE) $(PY) manage.py migrate --noinput
	APP_ENV=local DJANGO_ENV_FILE=$(ENV_FILE) $(PY) manage.py demo
	APP_ENV=local DJANGO_ENV_FILE=$(ENV_FILE) $(PY) manage.py runserver 127.0.0.1:8000

# Browser tests use Debian's Chromium (never a Playwright browser download).
chromium:
	@test -x /usr/bin/chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

test: install chromium
	@$(PY) scripts/check_services.py
	APP_ENV=test $(PY) -m pytest $(PYTEST_ARGS)

# Fault injection only: broker down, killed database connections, Stripe 500/429/timeouts,
# Kubernetes failing mid-pagination, Hopsworks down mid-provisioning (also part of `make test`).
faults: install
	@$(PY) scripts/check_services.py
	APP_ENV=test $(PY) -m pytest -m faults $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: install
	@$(PY) scripts/check_services.py
	APP_ENV=test $(PY) bench/ledger.py
	APP_ENV=test $(PY) bench/metering.py
	APP_ENV=test $(PY) bench/webhooks.py
	APP_ENV=test $(PY) bench/pages.py
