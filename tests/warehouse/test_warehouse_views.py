"""Analyst views in marts: present, commented, idempotent, and answering what they say."""

from __future__ import annotations

import duckdb
import pytest

from tests.warehouse.conftest import Warehouse
from tests.warehouse.history_frames import SKILL_SQL, load_history
from warehouse import ddl
from warehouse.views import VIEWS


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Warehouse:
    warehouse = Warehouse(tmp_path_factory.mktemp("views"))
    load_history(warehouse)
    return warehouse


def test_nothing_in_marts_lacks_a_comment(warehouse) -> None:
    objects = warehouse.query(
        "SELECT table_name AS name, comment FROM duckdb_tables() WHERE schema_name = 'marts' "
        "UNION ALL SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'marts'"
    )
    names = set(objects["name"])
    assert {v.name for v in VIEWS} | {"price_history", "source_runs"} <= names
    assert objects.filter(objects["comment"].is_null() | (objects["comment"] == "")).height == 0
    columns = warehouse.query(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts'"
    )
    assert set(columns["table_name"]) == names
    bad = [(t, c) for t, c, comment in columns.rows()
           if not comment or "undocumented" in comment]
    assert bad == []


def test_source_runs_has_the_run_figures(warehouse) -> None:
    columns = set(warehouse.query(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'source_runs'"
    )["column_name"])
    assert {"started_at", "finished_at", "complete", "pages", "items", "rejects"} <= columns


def test_views_are_created_idempotently(memory_con) -> None:
    con = memory_con()
    ddl.ensure_schema(con)
    before = con.execute("SELECT view_name, sql FROM duckdb_views() ORDER BY 1").fetchall()
    ddl.ensure_schema(con)
    assert con.execute("SELECT view_name, sql FROM duckdb_views() ORDER BY 1").fetchall() == before
    for view in VIEWS:  # empty warehouse: every view runs and is empty
        assert con.execute(f"SELECT count(*) FROM marts.{view.name}").fetchall() == [(0,)]


def test_current_credentials_list_their_listings(warehouse) -> None:
    rows = warehouse.query(
        "SELECT credential_id, n_offerings, listings FROM marts.v_current_credentials "
        "WHERE credential_id = 'cred-c1'"
    ).to_dicts()
    assert len(rows) == 1
    listings = rows[0]["listings"]
    assert [listing["source"] for listing in listings] == ["coursera", "edx"]
    assert rows[0]["n_offerings"] == 2
    assert {listing["price_usd"] for listing in listings} == {79.0, 49.0}
    assert all(listing["url"].startswith("https://") for listing in listings)


def test_coverage_counts_offerings_and_credentials(warehouse) -> None:
    total = warehouse.query(
        "SELECT sum(n_offerings) AS o FROM marts.v_coverage_by_provider"
    ).item()
    assert total == warehouse.query("SELECT count(*) FROM marts.fct_offering").item()
    row = warehouse.query(
        "SELECT * FROM marts.v_coverage_by_provider WHERE platform = 'Coursera'"
    ).to_dicts()[0]
    assert (row["awarding_body"], row["provider_kind"], row["country"]) == (
        "Example University", "university", "DE")
    assert row["n_offerings"] == 2 and row["n_credentials"] == 2


def test_price_by_field_labels_broad_fields(warehouse) -> None:
    row = warehouse.query(
        "SELECT * FROM marts.v_price_by_field_and_type WHERE field_level = 'broad'"
    ).to_dicts()
    assert len(row) == 1
    assert row[0]["field_code"] == "06"
    assert row[0]["field_label"] == "Information and Communication Technologies"
    assert row[0]["n_offerings"] == 5
    assert row[0]["price_usd_max"] == 79.0
    narrow = warehouse.query(
        "SELECT field_code, broad_label FROM marts.v_price_by_field_and_type "
        "WHERE field_level = 'narrow'"
    ).rows()
    assert narrow == [("061", "Information and Communication Technologies")]


def test_skills_count_esco_and_raw_names(warehouse) -> None:
    skills = {r["skill"]: r for r in warehouse.query(
        "SELECT * FROM marts.v_skills_most_taught").to_dicts()}
    python = skills["http://data.europa.eu/esco/skill/python"]
    assert python["is_esco"] and python["n_offerings"] == 5 and python["n_credentials"] == 4
    assert skills[SKILL_SQL]["n_offerings"] == 1
    raw = skills["python"]  # the frames' skills_raw holds a name with no URI
    assert not raw["is_esco"] and raw["skill_uri"] is None and raw["raw_names"] == ["python"]


def test_source_overlap_counts_shared_credentials(warehouse) -> None:
    rows = warehouse.query("SELECT * FROM marts.v_source_overlap").to_dicts()
    assert len(rows) == 1
    pair = rows[0]
    assert (pair["source_a"], pair["source_b"], pair["n_shared_credentials"]) == ("coursera", "edx", 1)
    assert pair["jaccard"] == pytest.approx(1 / 3)


def test_quality_by_source_reports_the_latest_run(warehouse) -> None:
    rows = {r["source"]: r for r in warehouse.query(
        "SELECT * FROM marts.v_quality_by_source").to_dicts()}
    assert set(rows) == {"coursera", "edx", "udemy"}
    assert rows["coursera"]["n_offerings"] == 2
    assert rows["coursera"]["last_run_id"] == "c2"
    assert rows["coursera"]["rejects_by_reason"] == {"missing_title": 1}
    assert rows["edx"]["rejects_by_reason"] == {}
    assert rows["udemy"]["last_run_complete"] is False
    assert rows["coursera"]["share_skills"] == 1.0
    assert rows["coursera"]["mean_eu_completeness"] == 1.0


def test_views_work_when_the_file_is_opened_under_another_name(warehouse) -> None:
    con = duckdb.connect(str(warehouse.published), read_only=True)
    try:
        for view in VIEWS:
            assert con.execute(f"SELECT count(*) FROM marts.{view.name}").fetchall()[0][0] > 0
    finally:
        con.close()
