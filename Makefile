# Parley: `make run` serves the demo, `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test test-python test-frontend build lint fmt bench clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# `npm install` honours the lock file. (`npm ci` refuses this machine's npm 11
# lock files, which leave out other platforms' optional packages.)
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

build: node_modules/.installed
	npm run --silent build

run: setup build
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_proactive_demo
	@echo ""
	@echo "  Parley is running on the embedded profile:"
	@echo "    admin          http://$(HOST):$(PORT)/admin/    (acme-admin / parley-demo, globex-admin / parley-demo)"
	@echo "    agent console  http://$(HOST):$(PORT)/console/  (alice / parley-demo, bob / parley-demo)"
	@echo "    demo shop      http://$(HOST):$(PORT)/demo/"
	@echo "    API docs       http://$(HOST):$(PORT)/api/docs/"
	@echo ""
	$(BIN)/daphne -b $(HOST) -p $(PORT) --websocket-max-message-size 131072 --websocket-max-frame-size 131072 engage.asgi:application

test: setup build
	@sh scripts/ensure_chromium.sh
	@services="$$($(BIN)/python scripts/test_services.py)" && eval "$$services" && \
	  npm test --silent && \
	  $(BIN)/ruff check --quiet . && $(BIN)/ruff format --check --quiet . && \
	  $(BIN)/lint-imports && \
	  $(BIN)/mypy . && npm run --silent typecheck && \
	  DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py makemigrations --check --dry-run -v0 && \
	  $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/mypy .
	npm run --silent typecheck

fmt: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup build
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) node_modules static/dist var
