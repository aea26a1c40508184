"""marts.unmapped_values (the curators' to-do list) and isced_confidence through the warehouse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from normalize.schema import offering_id
from normalize.unmapped import unmapped_values
from tests.warehouse.conftest import Warehouse
from tests.warehouse.frames import Crawl, content_hash, make_run
from warehouse.export import export_parquet
from warehouse.load import RunInputs

T1 = datetime(2025, 3, 1, tzinfo=UTC)
T2 = T1 + timedelta(days=1)

NANO = "credential_type: unmapped 'Nanodiploma'"
ROCK = "isced_codes: unmapped subject 'Rock 'n' Roll\nLive'"  # quotes and a line break in the value
NO_VALUE = "record_kind: not stated; learning_opportunity assumed"

COLUMNS = ["source", "field", "reason", "value", "n_offerings", "share", "rank"]


def _crawls(run_id: str, complete: bool = True) -> dict[str, Crawl]:
    return {
        "coursera": Crawl(
            f"c{run_id}", complete=complete, titles={"c1": "Python", "c2": "SQL", "c3": "R"},
            notes={"c1": [NANO, NO_VALUE, "prices: unknown currency in '200'"],
                   "c2": [NANO, "credit_unit: unmapped 'pdus'", "credit_unit: unrecognised 'pdus'"],
                   "c3": []},
        ),
        "edx": Crawl(f"e{run_id}", titles={"e1": "Music"}, notes={"e1": [ROCK, ROCK, NO_VALUE]}),
    }


def _mart(warehouse: Warehouse) -> pl.DataFrame:
    return warehouse.query("SELECT * FROM marts.unmapped_values ORDER BY source, rank")


def _expected(warehouse: Warehouse) -> pl.DataFrame:
    """normalize.unmapped.unmapped_values over the published current offerings."""
    current = warehouse.query("SELECT source, offering_id, mapping_notes FROM marts.fct_offering")
    return unmapped_values(current).rename({"offerings": "n_offerings"})


def test_the_mart_ranks_the_notes_of_current_offerings_like_normalize_unmapped(warehouse) -> None:
    warehouse.load(make_run(T1, _crawls("1")))
    mart = _mart(warehouse)
    assert_frame_equal(mart.select(COLUMNS), _expected(warehouse).select(COLUMNS), abs_tol=1e-4)

    rows = {(r["source"], r["field"], r["reason"], r["value"]): r for r in mart.rows(named=True)}
    nano = rows[("coursera", "credential_type", "unmapped", "Nanodiploma")]
    assert (nano["n_offerings"], nano["share"], nano["rank"]) == (2, round(2 / 3, 4), 1)
    assert nano["example_offering_id"] == min(offering_id("coursera", "c1"), offering_id("coursera", "c2"))
    assert (nano["last_seen_run_id"], nano["last_seen_at"]) == ("c1", T1 + timedelta(minutes=1))
    # The same value for two reasons is two rows, ranked by reason; a note quoting no value is no row.
    assert [r["reason"] for r in mart.rows(named=True) if r["value"] == "pdus"] == ["unmapped", "unrecognised"]
    assert "record_kind" not in set(mart["field"])
    # A value with quotes and a line break is read whole; an offering counts once per value.
    rock = rows[("edx", "isced_codes", "unmapped subject", "Rock 'n' Roll\nLive")]
    assert (rock["n_offerings"], rock["share"], rock["rank"]) == (1, 1.0, 1)
    assert mart.filter(pl.col("source") == "coursera")["rank"].to_list() == [1, 2, 3, 4]


def test_closed_and_fixed_offerings_leave_the_list(warehouse) -> None:
    warehouse.load(make_run(T1, _crawls("1")))
    run2 = make_run(T2, _crawls("2"))
    # Run 2: c1 is gone from a complete crawl (closed); c2 is mapped now (new content, no notes).
    fixed = pl.col("source_key") == "c2"
    offerings = run2.offerings.filter(pl.col("source_key") != "c1").with_columns(
        mapping_notes=pl.when(fixed).then(pl.lit([], pl.List(pl.String))).otherwise("mapping_notes"),
        content_hash=pl.when(fixed).then(pl.lit(content_hash("SQL", "mapped"))).otherwise("content_hash"),
    )
    run2 = RunInputs(**{**run2.__dict__, "offerings": offerings,
                        "raw": run2.raw.filter(pl.col("source_key") != "c1"),
                        "links": run2.links.filter(pl.col("offering_id") != offering_id("coursera", "c1"))})
    warehouse.load(run2)
    mart = _mart(warehouse)
    assert_frame_equal(mart.select(COLUMNS), _expected(warehouse).select(COLUMNS), abs_tol=1e-4)
    assert set(mart["source"]) == {"edx"}  # coursera's values are gone with the notes that named them
    assert mart["last_seen_run_id"].to_list() == ["e2"]

    before = warehouse.contents()
    warehouse.load(run2)  # reloading the same run changes nothing, the mart included
    assert_frame_equal(warehouse.contents()["marts.unmapped_values"], before["marts.unmapped_values"])


def test_an_incomplete_crawl_keeps_the_values_of_offerings_it_missed(warehouse) -> None:
    warehouse.load(make_run(T1, _crawls("1")))
    run2 = make_run(T2, _crawls("2", complete=False))
    missed = pl.col("source_key") != "c1"
    run2 = RunInputs(**{**run2.__dict__, "offerings": run2.offerings.filter(missed),
                        "raw": run2.raw.filter(missed)})
    warehouse.load(run2)
    nano = _mart(warehouse).filter(pl.col("value") == "Nanodiploma").row(0, named=True)
    assert nano["n_offerings"] == 2  # c1 is still current: the partial crawl closed nothing
    assert nano["last_seen_run_id"] == "c2"  # c2 was seen again in run 2


def test_no_notes_no_rows(warehouse) -> None:
    stats = warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}))
    assert stats["unmapped_values"] == 0
    assert _mart(warehouse).height == 0


def test_isced_confidence_reaches_every_offering_table_and_the_export(warehouse, tmp_path: Path) -> None:
    run = make_run(T1, _crawls("1"))
    both = pl.col("source_key") == "c2"
    run = RunInputs(**{**run.__dict__, "offerings": run.offerings.with_columns(
        isced_codes=pl.when(both).then(pl.lit(["0613", "0411"])).otherwise("isced_codes"),
        isced_confidence=pl.when(both).then(pl.lit([0.97, 0.5])).otherwise("isced_confidence"),
    )})
    warehouse.load(run)
    c2 = offering_id("coursera", "c2")
    for table in ("staging.offerings", "marts.offering_versions", "marts.fct_offering"):
        got = warehouse.query(f"SELECT isced_codes, isced_confidence FROM {table} WHERE offering_id = ?", [c2])
        assert got.rows() == [(["0613", "0411"], [0.97, 0.5])], table
    comment = warehouse.query(
        "SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts' "
        "AND table_name = 'fct_offering' AND column_name = 'isced_confidence'")["comment"][0]
    assert "in the order of isced_codes" in comment

    export_parquet(warehouse.published, tmp_path / "exports", "s1", linked_data=False)
    folder = tmp_path / "exports" / "s1"
    offerings = pl.read_parquet(folder / "offerings", hive_partitioning=True)
    assert offerings.schema["isced_confidence"] == pl.List(pl.Float64)
    assert offerings.filter(pl.col("offering_id") == c2)["isced_confidence"].to_list() == [[0.97, 0.5]]
    exported = pl.read_parquet(folder / "unmapped_values.parquet")
    assert_frame_equal(exported.sort("source", "rank"), _mart(warehouse))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["entities"]["unmapped_values"]["rows"] == exported.height == 5


@pytest.mark.parametrize("bad", ["isced_codes: unmapped subject", "no colon 'x'", "Field-x: y 'z'"])
def test_notes_not_in_the_note_format_are_no_rows(warehouse, bad: str) -> None:
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"}, notes={"c1": [bad]})}))
    assert _mart(warehouse).height == 0
    assert _expected(warehouse).height == 0
