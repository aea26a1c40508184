"""The warehouse DDL: derived from the Polars schemas, idempotent, commented, safe names."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest

from normalize.schema import OFFERING_SCHEMA
from tests.warehouse.frames import Crawl, make_run
from warehouse import ddl
from warehouse.load import RunInputs, build, load

T1 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def con():
    con = duckdb.connect(":memory:")
    ddl.ensure_schema(con)
    yield con
    con.close()


def test_every_marts_column_has_a_comment(con) -> None:
    ddl.ensure_source_view(con, "coursera")
    rows = con.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE schema_name IN ('marts', 'staging') ORDER BY 1, 2"
    ).fetchall()
    assert {t for t, _, _ in rows} >= {t.name for t in ddl.TABLES if t.layer == "marts"}
    uncommented = [(t, c) for t, c, comment in rows if not comment or "undocumented" in comment]
    assert uncommented == []


def test_every_table_and_view_has_a_comment(con) -> None:
    ddl.ensure_source_view(con, "coursera")
    tables = con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() "
        "UNION ALL SELECT schema_name, view_name, comment FROM duckdb_views() WHERE NOT internal "
        "AND schema_name IN ('raw', 'staging', 'intermediate', 'marts')"
    ).fetchall()
    assert len(tables) == len(ddl.TABLES) + len(ddl.VIEWS) + len(ddl.HISTORY_VIEWS) + 1  # + the staging view
    assert [(s, t) for s, t, comment in tables if not comment] == []


def test_model_field_descriptions_reach_column_comments(con) -> None:
    comment = con.execute(
        "SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts' "
        "AND table_name = 'fct_offering' AND column_name = 'country'"
    ).fetchone()[0]
    assert "ISO 3166-1 alpha-2" in comment  # from the pydantic Field description


def test_tables_derive_from_the_polars_schemas(con) -> None:
    columns = dict(con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = 'staging' AND table_name = 'offerings'"
    ).fetchall())
    assert list(columns) == OFFERING_SCHEMA.names()
    assert columns["prices"] == "STRUCT(amount DOUBLE, currency VARCHAR, cost_type VARCHAR)[]"
    assert columns["start_dates"] == "DATE[]"
    assert columns["fetched_at"] == "TIMESTAMP WITH TIME ZONE"


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (pl.String(), "VARCHAR"),
        (pl.Int64(), "BIGINT"),
        (pl.Float64(), "DOUBLE"),
        (pl.Boolean(), "BOOLEAN"),
        (pl.Date(), "DATE"),
        (pl.Datetime("us", "UTC"), "TIMESTAMPTZ"),
        (pl.Datetime("ms"), "TIMESTAMP_MS"),
        (pl.List(pl.String()), "VARCHAR[]"),
        (pl.List(pl.List(pl.Int32())), "INTEGER[][]"),
        (pl.Struct({"amount": pl.Float64(), "tags": pl.List(pl.String())}),
         'STRUCT("amount" DOUBLE, "tags" VARCHAR[])'),
        (pl.List(pl.Struct({"a": pl.Date()})), 'STRUCT("a" DATE)[]'),
    ],
)
def test_polars_dtypes_map_to_duckdb_types(dtype: pl.DataType, expected: str) -> None:
    assert ddl.duckdb_type(dtype) == expected


def test_ensure_schema_is_idempotent(con) -> None:
    before = con.execute("SELECT count(*) FROM duckdb_columns()").fetchone()[0]
    assert ddl.ensure_schema(con) == {}
    assert con.execute("SELECT count(*) FROM duckdb_columns()").fetchone()[0] == before


def test_field_added_to_the_schema_flows_into_an_existing_table(con, monkeypatch) -> None:
    con.execute("INSERT INTO marts.source_runs (source, run_id) VALUES ('coursera', 'r1')")
    wider = ddl.Table(
        "marts", "source_runs",
        pl.Schema({**ddl.SOURCE_RUN_SCHEMA, "bytes": pl.Int64()}),
        ddl.SOURCE_RUNS.comment, primary_key=ddl.SOURCE_RUNS.primary_key,
        notes={"bytes": "Bytes downloaded"},
    )
    monkeypatch.setattr(ddl, "TABLES", tuple(wider if t is ddl.SOURCE_RUNS else t for t in ddl.TABLES))
    assert ddl.ensure_schema(con) == {"marts.source_runs": ["bytes"]}
    assert con.execute("SELECT source, bytes FROM marts.source_runs").fetchall() == [("coursera", None)]


@pytest.mark.parametrize("name", ["Coursera", "edx; DROP TABLE x", "a-b", "", "x'y", "café"])
def test_invalid_source_name_rejected(name: str, con, tmp_path) -> None:
    with pytest.raises(ValueError, match="invalid source name"):
        ddl.validate_source_name(name)
    with pytest.raises(ValueError, match="invalid source name"):
        ddl.ensure_source_view(con, name)

    run = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})})
    bad = RunInputs(**{**run.__dict__, "offerings": run.offerings.with_columns(source=pl.lit(name))})
    with pytest.raises(ValueError, match="invalid source name"):
        load(con, bad)
    work = tmp_path / "work.duckdb"
    with pytest.raises(ValueError, match="invalid source name"):
        build(work, None, bad)
    assert not work.exists()  # rejected before any file was touched
    assert con.execute("SELECT count(*) FROM staging.offerings").fetchone()[0] == 0


def test_valid_source_names_make_staging_views(con) -> None:
    assert ddl.ensure_source_view(con, "open_badges_2") == "stg_open_badges_2__offerings"
    assert con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = 'stg_open_badges_2__offerings'"
    ).fetchone()[0] == 1
