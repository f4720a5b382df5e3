# Credit Desk — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run worker test serve install install-dev migrate demo lint format check-ledger bench fuzz clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

# Demo data loads once per database; demo users are reset every run (passwords printed).
var/.demo-loaded: | migrate
	$(PY) manage.py seed_demo
	touch $@

demo: migrate var/.demo-loaded
	$(PY) manage.py create_demo_users

# runserver plus the task worker that sends queued emails (stopped with the server).
run: demo
	@echo "Credit Desk on http://$(HOST):$(PORT)/  (Ctrl-C to stop; email worker runs alongside)"
	@$(PY) manage.py db_worker --no-reload & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# The task worker alone (production runs it as its own service next to gunicorn).
worker: migrate
	$(PY) manage.py db_worker --no-reload

serve: migrate
	DEBUG=$${DEBUG:-0} $(PY) manage.py collectstatic --noinput -v0
	DEBUG=$${DEBUG:-0} $(VENV)/bin/gunicorn -c config/gunicorn.conf.py config.wsgi

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install-dev lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# A long random-operations campaign (tests/test_random_operations.py): FUZZ_EXAMPLES
# histories of FUZZ_STEPS operations each. The seed is printed before and after; replay a
# failure with `make fuzz FUZZ_SEED=<seed>` (same budget). Runs on DATABASE_URL if set.
FUZZ_EXAMPLES ?= 2000
FUZZ_STEPS ?= 100
FUZZ_SEED ?=
fuzz: install-dev
	@seed="$(FUZZ_SEED)"; [ -n "$$seed" ] || seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); \
	echo "fuzz: seed $$seed, $(FUZZ_EXAMPLES) examples x $(FUZZ_STEPS) steps (replay: make fuzz FUZZ_SEED=$$seed)"; \
	RANDOM_OPS_EXAMPLES=$(FUZZ_EXAMPLES) RANDOM_OPS_STEPS=$(FUZZ_STEPS) \
	RANDOM_OPS_DATABASE=.hypothesis/random-ops \
	$(VENV)/bin/pytest -q -s -p no:cacheprovider tests/test_random_operations.py \
		--hypothesis-seed=$$seed --hypothesis-show-statistics $(PYTEST_ARGS); \
	status=$$?; echo "fuzz: seed $$seed, exit $$status"; exit $$status

check-ledger: migrate
	$(PY) manage.py check_ledger

bench: install-dev
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
