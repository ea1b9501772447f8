# Two commands matter: `make run` (try it) and `make test` (prove it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test install dev lint typecheck pytest openapi bench test-tools clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed test-tools

## make run: install, migrate, create the demo workspace and key, serve (embedded mode).
## POLYPOST_HOST / POLYPOST_PORT choose the address (default 127.0.0.1:8000).
run: install
	$(BIN)/polypost migrate
	$(BIN)/polypost demo
	$(BIN)/polypost serve

## make test: lint, type-check and the whole suite (needs Postgres and Redis running).
test: dev lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -n 2 --dist loadgroup -q

openapi: install
	$(BIN)/polypost openapi --output openapi/openapi.json

bench: dev
	$(BIN)/python -m bench

# System tools the tests call: Debian's docker-compose validates docker-compose.yml
# without an engine; ffprobe reads video metadata; curl and jq run the seed's upload example.
test-tools:
	@command -v docker-compose >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 && command -v jq >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose ffmpeg jq curl >/dev/null; \
	  else \
	    echo "Install docker-compose, ffmpeg, jq and curl (e.g. apt-get install docker-compose ffmpeg jq curl)"; exit 1; \
	  fi; }

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
