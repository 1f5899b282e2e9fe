# The two set-up commands of the README: `make run` and `make test`.
# Both create .venv and install the project on first use (or when
# pyproject.toml changes); nothing else needs installing by hand.

PYTHON ?= python3
VENV ?= .venv
PORT ?=   # make run PORT=8080: the sandbox's port (default $$PORT, else 3000)
ARGS ?=   # make run ARGS="--demo-rows 100000": more options for `migrate-bot serve`
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test reliability screenshot lint format clean

run: $(STAMP)  ## the sandbox: the real bot on the demo target, in a browser at http://127.0.0.1:3000
	$(BIN)/migrate-bot serve $(if $(strip $(PORT)),--port $(strip $(PORT))) $(ARGS)

test: $(STAMP)  ## the whole test suite on a real PostgreSQL, 4 workers (tests wait on I/O more than CPU)
	$(BIN)/pytest -n 4 --dist loadfile

reliability: $(STAMP)  ## tests/reliability/ and the shared state's faults in full (every kill point, fault and load size), then docs/reliability.md from what they tried
	rm -f test-artifacts/reliability.jsonl
	$(BIN)/pytest tests/reliability tests/distributed/test_state_faults.py tests/distributed/test_socket_mode.py --full -n 2 --dist loadfile
	$(BIN)/python -m tests.reliability.report

screenshot: $(STAMP)  ## docs/sandbox.png, taken from `make run` itself by the browser test
	MIGRATE_BOT_SCREENSHOT=docs $(BIN)/pytest -q tests/test_sandbox_make_run.py

lint: $(STAMP)  ## ruff, the import contracts of pyproject.toml (the map: bot → commands → audit, no cycles), mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# An editable install compiles nothing; a wheel's does. Without the bytecode every
	# command compiles the bot's modules again where PYTHONDONTWRITEBYTECODE is set.
	$(BIN)/python -m compileall -q bot commands audit
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
