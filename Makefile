# The two commands: `make demo` and `make test` (README). Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck pytest schema docs clean bench

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lkk demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

schema: $(STAMP)
	$(BIN)/lkk export-schema --output schema.graphql

# Benchmarks side by side (docs/performance.md); not part of `make test`. Needs wrk and npm.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench --profile $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .lkk-data .mypy_cache .ruff_cache .pytest_cache

docs: $(STAMP)
	$(BIN)/python -c "from gateway.settings import reference_markdown as r; print(r(), end='')" > docs/configuration.md
	$(BIN)/python -c "from gateway.errors import catalogue_markdown as c; print(c(), end='')" > docs/errors.md
	$(BIN)/python -m gateway.docs
