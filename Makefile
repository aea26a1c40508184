# credcat: `make demo` runs the pipeline on the embedded demo catalog; `make test` runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast eval ui lint clean venv

venv: $(STAMP)

# The environment is (re)built only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/credcat demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Taxonomy mapping against the labelled set (tests/eval/labels): coverage and accuracy per field.
eval: $(STAMP)
	$(BIN)/python -m normalize.taxonomy.evaluate

ui: $(STAMP)
	DAGSTER_HOME=$(CURDIR)/dagster_home $(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf data dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs
