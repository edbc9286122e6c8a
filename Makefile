# landrelease: `make demo` runs the demo, `make test` runs the tests. Each installs what it
# needs first: system packages (PostgreSQL + PostGIS, via scripts/system-deps.sh) and a
# virtualenv in .venv with landrelease and its Python dependencies.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test deps system lint bench clean

demo: deps
	$(BIN)/landrelease demo

test: deps
	@bash scripts/system-deps.sh --with-browser
	$(BIN)/pytest $(PYTEST_ARGS)

deps: system $(VENV)/.installed

system:
	@bash scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

lint: deps
	$(BIN)/ruff check landrelease tests benchmarks
	$(BIN)/ruff format --check landrelease tests benchmarks

bench: deps
	$(BIN)/python benchmarks/release_benchmark.py
	$(BIN)/python benchmarks/import_benchmark.py
	$(BIN)/python benchmarks/map_benchmark.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
