# outage_notify: `make run` serves the demo, `make test` runs everything CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The pages' browser assets (scripts/build-assets.sh: npm ci, copied into static/vendor/).
ASSETS := outage_notify/web/static/vendor/.built
HOST ?= 127.0.0.1
PORT ?= 8000
export OUTAGE_NOTIFY_DATABASE_URL ?= sqlite:///outage_notify.db

.PHONY: run test test-sqlite test-postgresql lint format bench image clean system-deps assets messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -c "import outage_notify, fastapi, twilio, shapely, playwright"
	touch $(STAMP)

$(ASSETS): package.json package-lock.json scripts/build-assets.sh
	bash scripts/build-assets.sh

assets: $(ASSETS)

# The pages' message catalogs after a text change (README, "Languages of the pages"): the
# template from the sources, then each language's .po updated to it (new msgids empty).
LOCALE := outage_notify/web/locale
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o $(LOCALE)/messages.pot \
		--no-location --sort-output --project=outage_notify --copyright-holder=outage_notify .
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) --no-fuzzy-matching

run: $(STAMP) $(ASSETS)
	$(BIN)/outage-notify db upgrade
	$(BIN)/outage-notify demo
	@echo
	@echo "  outage_notify is starting on http://$(HOST):$(PORT)/"
	@echo "    /            landing page, links to everything"
	@echo "    /dev/inbox   every message the demo sent, per customer and channel"
	@echo "    /agent       agent desk (sign in as demo-agent with the password printed above)"
	@echo "    /console     operator console (sign in as demo-operator)"
	@echo "    /docs        the API"
	@echo
	$(BIN)/outage-notify serve --host $(HOST) --port $(PORT)

system-deps:
	bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check outage_notify tests bench migrations fixtures
	$(BIN)/ruff format --check outage_notify tests bench migrations fixtures
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix outage_notify tests bench migrations fixtures
	$(BIN)/ruff format outage_notify tests bench migrations fixtures

# The whole suite on each back end, side by side (scripts/test-both-backends.sh); PostgreSQL's
# run starts a throwaway cluster of its own. Any non-zero pytest status fails, 5 included.
test: $(STAMP) system-deps $(ASSETS) lint
	bash scripts/test-both-backends.sh

test-sqlite: $(STAMP) $(ASSETS)
	$(BIN)/python -m pytest -q --backend=sqlite

test-postgresql: $(STAMP) system-deps $(ASSETS)
	$(BIN)/python -m pytest -q --backend=postgresql

bench: $(STAMP)
	$(BIN)/python -m bench

image:
	bash scripts/build-image.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis node_modules outage_notify/web/static/vendor
