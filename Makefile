# The two commands of the README: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
TEST_STAMP = $(VENV)/.installed-test-stamp
PYTEST_ARGS ?=

.PHONY: run test test-fast bench clean web web-check

# The browser client (web_client/): `npm ci` when the lock changes, `vite build` when a source
# is newer than dist/. The hub serves web_client/dist at `/`.
WEB      = web_client
WEB_DEPS = $(WEB)/node_modules/.package-lock.json
WEB_DIST = $(WEB)/dist/index.html
WEB_SRC  = $(shell find $(WEB)/src -type f 2>/dev/null) $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/package.json

$(WEB_DEPS): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error

$(WEB_DIST): $(WEB_DEPS) $(WEB_SRC)
	cd $(WEB) && npx vite build --logLevel warn

web: $(WEB_DIST)

## Type-check and unit-test the web client.
web-check: $(WEB_DEPS)
	cd $(WEB) && npx vue-tsc --noEmit && npx vitest run

# `make run` installs what the hub needs; `make test` adds the test tools (pytest,
# Playwright, hypothesis …) on top.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(TEST_STAMP)

## Start the hub on the embedded default (SQLite in ./data) with the 东营市 demo data.
run: $(STAMP) web
	$(BIN)/changtong serve --demo

## Set up PostgreSQL and Redis where missing, then run every test (slow ones included).
test: $(TEST_STAMP) web web-check
	bash tests/services.sh
	bash tests/e2e/browser.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Skip the slow end-to-end tests while developing.
test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -m 'not slow' $(PYTEST_ARGS)

bench: $(TEST_STAMP)
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/sync.py

clean:
	rm -rf $(VENV) data tests/artifacts bench/results/*.json
