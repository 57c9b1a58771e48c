# The two commands of the README: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test test-fast bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

## Start the hub on the embedded default (SQLite in ./data) with the 东营市 demo data.
run: $(STAMP)
	$(BIN)/changtong serve --demo

## Set up PostgreSQL and Redis where missing, then run every test (slow ones included).
test: $(STAMP)
	bash tests/services.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Skip the slow end-to-end tests while developing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not slow' $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/sync.py

clean:
	rm -rf $(VENV) data tests/artifacts bench/results/*.json
