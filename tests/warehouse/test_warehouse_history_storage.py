"""Raw records and staged offerings stored once per distinct content, one sighting per run
(warehouse.ddl.HISTORY_VIEWS): the views give every run's rows exactly as loaded, a re-crawl
adds only its changed contents, and a warehouse written with the former tables is converted."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from tests.warehouse.conftest import assert_same_contents, table_contents
from tests.warehouse.frames import Crawl, make_run
from warehouse import ddl
from warehouse.load import RunInputs, load

T1 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
T2 = T1 + timedelta(days=1)
T3 = T2 + timedelta(days=1)

RUN1 = {"coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL"}, rejected=["c9"]),
        "edx": Crawl("e1", titles={"x1": "Go"})}
RUN2 = {"coursera": Crawl("r2", titles={"c1": "Python 3", "c2": "SQL", "c3": "Rust"}, rejected=["c9"]),
        "edx": Crawl("e2", titles={"x1": "Go"})}


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _raw_expected(*runs: RunInputs) -> pl.DataFrame:
    frames = [r.raw.with_columns(record_seq=pl.int_range(pl.len(), dtype=pl.Int32)
                                 .over("source", "run_id", "source_key")) for r in runs]
    return pl.concat(frames).sort("source", "run_id", "source_key", "record_seq")


def _raw_view(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    cols = ", ".join(f"{c}::VARCHAR AS {c}" if c in ddl.RAW_OFFERINGS.json_columns else c
                     for c in ddl.RAW_OFFERINGS.columns)
    return con.sql(f"SELECT {cols} FROM raw.raw_offerings ORDER BY source, run_id, source_key, record_seq").pl()


def _staging_view(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.sql("SELECT * FROM staging.offerings ORDER BY source, run_id, offering_id").pl()


def test_views_give_every_run_as_loaded_and_contents_are_stored_once(memory_con) -> None:
    con = memory_con()
    run1, run2 = make_run(T1, RUN1), make_run(T2, RUN2)
    first = load(con, run1)
    second = load(con, run2)

    assert_frame_equal(_raw_view(con), _raw_expected(run1, run2), check_dtypes=False)
    expected = pl.concat([run1.offerings, run2.offerings]).sort("source", "run_id", "offering_id")
    assert_frame_equal(_staging_view(con), expected, check_dtypes=False)

    # Run 1: 4 raw records (3 offerings + 1 reject), all new. Run 2: 5 records, of which the
    # changed c1, the new c3 are new contents; c2, c9 and x1 only differ in run_id/fetched_at.
    assert (first["raw_inserted"], first["raw_contents_inserted"]) == (4, 4)
    assert (second["raw_inserted"], second["raw_contents_inserted"]) == (5, 2)
    assert (_count(con, "raw.raw_sightings"), _count(con, "raw.raw_records")) == (9, 6)
    assert (first["staging_offerings_loaded"], first["staging_offering_contents_inserted"]) == (3, 3)
    assert (second["staging_offerings_loaded"], second["staging_offering_contents_inserted"]) == (4, 2)
    assert (_count(con, "staging.offering_sightings"), _count(con, "staging.offering_contents")) == (7, 5)


def test_reload_and_a_return_to_an_earlier_content_store_nothing_new(memory_con) -> None:
    con = memory_con()
    run1, run2 = make_run(T1, RUN1), make_run(T2, RUN2)
    load(con, run1)
    load(con, run2)
    before = table_contents(con)
    again = load(con, run2)
    assert (again["raw_inserted"], again["raw_contents_inserted"]) == (0, 0)
    assert again["staging_offering_contents_inserted"] == 0
    assert_same_contents(before, table_contents(con))

    # Run 3 lists c1 with its run-1 title again: a new sighting of a stored content.
    run3 = make_run(T3, {"coursera": Crawl("r3", titles={"c1": "Python", "c2": "SQL", "c3": "Rust"},
                                            rejected=["c9"])})
    third = load(con, run3)
    assert (third["raw_inserted"], third["raw_contents_inserted"]) == (4, 0)
    assert third["staging_offering_contents_inserted"] == 0
    assert_frame_equal(_raw_view(con), _raw_expected(run1, run2, run3), check_dtypes=False)
    expected = pl.concat([r.offerings for r in (run1, run2, run3)]).sort("source", "run_id", "offering_id")
    assert_frame_equal(_staging_view(con), expected, check_dtypes=False)


def test_repeated_key_with_equal_and_different_contents(memory_con) -> None:
    con = memory_con()
    run = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})})
    changed = run.raw.with_columns(title=pl.lit("Python (repeat)"))
    raw = pl.concat([run.raw, run.raw, changed])  # one key three times: two contents
    run = dataclasses.replace(run, raw=raw)
    stats = load(con, run)
    assert (stats["raw_inserted"], stats["raw_contents_inserted"]) == (3, 2)
    assert_frame_equal(_raw_view(con), _raw_expected(run), check_dtypes=False)


def test_a_warehouse_with_the_former_history_tables_is_converted(memory_con) -> None:
    run1, run2 = make_run(T1, RUN1), make_run(T2, RUN2)
    native = memory_con()
    load(native, run1)
    load(native, run2)

    # The former layout: raw.raw_offerings and staging.offerings were tables holding every row.
    old = memory_con()
    load(old, run1)
    for history in ddl.HISTORY_VIEWS:
        view = history.view
        old.execute(f"CREATE TABLE _keep AS SELECT * FROM {view.qualified}")
        old.execute(f"DROP VIEW {view.qualified}")
        old.execute(f"DELETE FROM {history.sightings.qualified}")
        old.execute(f"DELETE FROM {history.contents.qualified}")
        old.execute(view.create_sql())
        old.execute(f"INSERT INTO {view.qualified} SELECT * FROM _keep")
        old.execute("DROP TABLE _keep")
    old.execute("ALTER TABLE staging.offerings DROP COLUMN eu_completeness")  # a field added since
    load(old, run2)

    types = dict(old.execute(
        "SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables").fetchall())
    assert types["raw.raw_offerings"] == types["staging.offerings"] == "VIEW"
    assert_frame_equal(_raw_view(old), _raw_view(native))
    # Contents are stored once by content_hash, which covers every field (here: the builder's
    # hash of title and description); a run-1 content seen again keeps the field it lacked.
    converted, expected = _staging_view(old), _staging_view(native)
    from_run1 = pl.col("content_hash").is_in(run1.offerings["content_hash"].implode())
    assert converted.filter(from_run1)["eu_completeness"].is_null().all()
    assert_frame_equal(converted.filter(~from_run1), expected.filter(~from_run1))
    assert_frame_equal(converted.drop("eu_completeness"), expected.drop("eu_completeness"))
    assert (_count(old, "raw.raw_records"), _count(old, "raw.raw_sightings")) == (6, 9)
    assert _count(old, "staging.offering_sightings") == 7


def test_a_payload_that_is_not_json_is_one_content_across_runs(memory_con) -> None:
    con = memory_con()
    bad = {"payload": pl.lit("{not json")}
    run1, run2 = make_run(T1, RUN1), make_run(T2, RUN2)
    load(con, dataclasses.replace(run1, raw=run1.raw.with_columns(**bad)))
    second = load(con, dataclasses.replace(run2, raw=run2.raw.with_columns(**bad)))
    assert second["raw_contents_inserted"] == 2  # c1 changed, c3 new: as with valid payloads
    stored = con.execute("SELECT DISTINCT payload::VARCHAR FROM raw.raw_offerings").fetchall()
    assert stored == [('"{not json"',)]
