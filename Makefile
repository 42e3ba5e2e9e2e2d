# skillpager: `make run` starts the service on SQLite; `make test` runs lint, types and tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOKEN_FILE := .skillpager-dev-token
PORT ?= 8080

.PHONY: run test lint bench migrate clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/skillpager migrate

run: $(STAMP)
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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict app

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
