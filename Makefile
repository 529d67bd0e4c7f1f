# The two commands of the README:
#   make run   - a fresh clone to a running service (web + Celery worker), nothing else needed
#   make test  - the whole test suite, on SQLite and on PostgreSQL + Redis (.ci/run calls it)
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install lint

$(BIN)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	BIN=$(BIN) bash scripts/run.sh

test: install
	BIN=$(BIN) bash scripts/test.sh

# The static checks of `make test` (and of pre-commit), without the test suite.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
