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

# Front-end packages the console serves to staff (package.json: speedscope, the profile
# viewer), exactly as locked; no install scripts run. Without npm the service still runs and
# the profile pages say how to get the viewer.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: the speedscope profile viewer is not installed (Node 20 + npm, then make install)"; \
	fi

install: $(BIN)/.installed node_modules/.installed

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
