# skillpager: `make run` starts the service on SQLite; `make test` runs lint, types and tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TOKEN_FILE := .skillpager-dev-token
PORT ?= 8080

.PHONY: run test lint bench migrate screenshots lock clean

# Two sets, a stamp each: `make run` installs the runtime pins only, `make test` adds the dev
# pins. Both come from the lock in requirements/ (`make lock` recompiles it from pyproject.toml).
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements/runtime.txt pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/runtime.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): requirements/dev.txt $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

migrate: $(RUNTIME_STAMP)
	$(BIN)/skillpager migrate

run: $(RUNTIME_STAMP)
	@$(BIN)/skillpager migrate
	@if [ -z "$$SKILLPAGER_WEBHOOK_TOKEN" ] && [ ! -s $(TOKEN_FILE) ]; then \
		$(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))' > $(TOKEN_FILE); \
	fi
	@token="$${SKILLPAGER_WEBHOOK_TOKEN:-$$(cat $(TOKEN_FILE))}"; \
	echo; \
	echo "skillpager on http://127.0.0.1:$(PORT)  (rules: ./routing_rules, store: ./skillpager.db)"; \
	echo "webhook token: $$token   (kept in $(TOKEN_FILE))"; \
	echo "try:"; \
	echo "  curl -X POST http://127.0.0.1:$(PORT)/webhooks/generic -H \"Authorization: Bearer $$token\" \\"; \
	echo "       -H 'Content-Type: application/json' -d '{\"summary\": \"disk full on db-1\", \"severity\": \"critical\", \"labels\": {\"service\": \"payments-db\"}}'"; \
	echo "read it back with an engineer token:  $(BIN)/skillpager token create --engineer anna"; \
	echo; \
	SKILLPAGER_WEBHOOK_TOKEN="$$token" SKILLPAGER_PORT=$(PORT) exec $(BIN)/skillpager serve

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict app tests bench

test: lint
	$(BIN)/pytest -q

# The README's pictures: the browser test, saving into docs/screenshots instead of a temp folder.
screenshots: $(DEV_STAMP)
	SKILLPAGER_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/pytest -q -p no:randomly \
		tests/web/test_browser.py::test_dashboard_in_a_real_browser

# Recompile requirements/ after editing pyproject.toml's dependencies (pins already in the files
# are kept where they still fit; `make lock LOCK_FLAGS=--upgrade` moves everything to the newest).
LOCK := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --quiet \
	--custom-compile-command "make lock" $(LOCK_FLAGS)
lock: $(DEV_STAMP)
	$(LOCK) -o requirements/runtime.txt
	$(LOCK) --extra dev -c requirements/runtime.txt -o requirements/dev.txt

bench: $(DEV_STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
