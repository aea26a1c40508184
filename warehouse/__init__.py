"""DuckDB warehouse: DDL derived from normalize.schema, idempotent historied loads,
build-and-swap publication, Parquet exports with a manifest."""
