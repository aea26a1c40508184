"""SCD2 history, idempotent reloads and run-level rules of warehouse.load."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from normalize.schema import offering_id
from tests.warehouse.conftest import assert_same_contents, table_contents
from tests.warehouse.frames import Crawl, make_run, offering_row, subjects_frame
from warehouse import load as load_module
from warehouse.load import RunInputs, load

T1 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
T2 = T1 + timedelta(days=1)
T3 = T2 + timedelta(days=1)


def versions(warehouse, source_key: str) -> pl.DataFrame:
    return warehouse.query(
        "SELECT title, content_hash, valid_from, valid_to, is_current FROM marts.offering_versions "
        "WHERE source_key = ? ORDER BY valid_from",
        [source_key],
    )


def test_reload_same_run_is_a_noop(memory_con) -> None:
    con = memory_con()
    run = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL"}, rejected=["c3"])},
                   subjects=subjects_frame())
    first = load(con, run)
    before = table_contents(con)
    again = load(con, run)
    after = table_contents(con)

    assert first["versions_opened"] == 2
    assert again["raw_inserted"] == 0
    assert again["versions_opened"] == again["versions_closed"] == 0
    assert again["unchanged"] == 2
    assert again["links_changed"] == again["credentials_changed"] == 0
    assert_same_contents(before, after)


def test_reload_same_run_through_build_and_publish_is_a_noop(warehouse) -> None:
    run = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"}), "edx": Crawl("e1", titles={"x1": "Go"})})
    warehouse.load(run)
    before = warehouse.contents()
    warehouse.load(run)
    after = warehouse.contents()
    assert_same_contents(before, after)


def test_changed_content_opens_new_version(warehouse) -> None:
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL"})}))
    stats = warehouse.load(make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python 3", "c2": "SQL"})}))

    history = versions(warehouse, "c1")
    assert history["title"].to_list() == ["Python", "Python 3"]
    assert history["valid_to"].to_list() == [T2, None]
    assert history["is_current"].to_list() == [False, True]
    assert history["valid_from"].to_list() == [T1, T2]
    assert versions(warehouse, "c2").height == 1  # unchanged: no new version
    assert (stats["versions_opened"], stats["versions_closed"], stats["unchanged"]) == (1, 1, 1)
    current = warehouse.query("SELECT title FROM marts.fct_offering WHERE source_key = 'c1'")
    assert current["title"].to_list() == ["Python 3"]


def test_missing_from_complete_crawl_is_closed_not_deleted(warehouse) -> None:
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL"})}))
    stats = warehouse.load(make_run(T2, {"coursera": Crawl("r2", complete=True, titles={"c1": "Python"})}))

    history = versions(warehouse, "c2")
    assert history.height == 1  # kept, never deleted
    assert history.row(0, named=True)["valid_to"] == T2
    assert history.row(0, named=True)["is_current"] is False
    assert stats["versions_closed_missing"] == 1
    current = warehouse.query("SELECT source_key FROM marts.fct_offering ORDER BY 1")
    assert current["source_key"].to_list() == ["c1"]


def test_failed_crawl_closes_nothing(warehouse) -> None:
    warehouse.load(make_run(T1, {
        "coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL"}),
        "edx": Crawl("e1", titles={"x1": "Go"}),
    }))
    # coursera's second crawl broke after one page; edx did not run at all.
    stats = warehouse.load(make_run(T2, {"coursera": Crawl("r2", complete=False, titles={"c1": "Python"})}))

    assert stats["versions_closed"] == 0
    assert stats["sources"]["coursera"]["closes_missing"] is False
    current = warehouse.query("SELECT source_key FROM marts.fct_offering ORDER BY 1")
    assert current["source_key"].to_list() == ["c1", "c2", "x1"]
    open_versions = warehouse.query("SELECT count(*) AS n FROM marts.offering_versions WHERE valid_to IS NOT NULL")
    assert open_versions["n"].item() == 0


def test_credentials_of_sources_not_in_the_run_survive(warehouse) -> None:
    warehouse.load(make_run(T1, {
        "coursera": Crawl("r1", titles={"c1": "Python"}),
        "edx": Crawl("e1", titles={"x1": "Python!"}, credential_of={"x1": "cred-c1"}),
        "futurelearn": Crawl("f1", titles={"f1": "Rust"}),
    }))
    # Only coursera ran: links and credentials cover coursera's offering alone.
    warehouse.load(make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python"})}))

    fct = warehouse.query("SELECT source_key, credential_id FROM marts.fct_offering ORDER BY 1")
    assert fct.rows() == [("c1", "cred-c1"), ("f1", "cred-f1"), ("x1", "cred-c1")]
    dim = warehouse.query(
        "SELECT credential_id, n_offerings, sources FROM marts.dim_credential ORDER BY 1"
    )
    # Membership is recomputed from current offerings, not taken from the partial input.
    assert dim.rows() == [("cred-c1", 2, ["coursera", "edx"]), ("cred-f1", 1, ["futurelearn"])]


def test_rejected_record_keeps_its_version(warehouse) -> None:
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL"})}))
    stats = warehouse.load(make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python"}, rejected=["c2"])}))

    assert stats["versions_closed"] == 0  # the crawl saw c2; normalize could not map it
    current = warehouse.query("SELECT source_key FROM marts.fct_offering ORDER BY 1")
    assert current["source_key"].to_list() == ["c1", "c2"]


def test_complete_crawl_with_no_offering_closes_nothing(warehouse) -> None:
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}))
    stats = warehouse.load(make_run(T2, {"coursera": Crawl("r2", complete=True, titles={})}))

    assert stats["versions_closed"] == 0
    assert warehouse.query("SELECT count(*) AS n FROM marts.fct_offering")["n"].item() == 1


def test_reappearing_offering_opens_a_new_version(warehouse) -> None:
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL"})}))
    warehouse.load(make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python"})}))
    warehouse.load(make_run(T3, {"coursera": Crawl("r3", titles={"c1": "Python", "c2": "SQL"})}))

    history = versions(warehouse, "c2")
    assert history["valid_from"].to_list() == [T1, T3]
    assert history["valid_to"].to_list() == [T2, None]


def test_older_run_loaded_late_changes_no_history(warehouse) -> None:
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}))
    warehouse.load(make_run(T3, {"coursera": Crawl("r3", titles={"c1": "Python 3"})}))
    late = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})})
    stale = RunInputs(**{**late.__dict__, "run_started_at": T3 + timedelta(hours=1)})
    stats = warehouse.load(stale)

    assert stats["sources"]["coursera"]["stale"] is True
    assert stats["versions_opened"] == stats["versions_closed"] == 0
    assert versions(warehouse, "c1")["title"].to_list() == ["Python", "Python 3"]


def test_history_never_moves_backwards(warehouse) -> None:
    warehouse.load(make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python"})}))
    before = warehouse.contents()
    with pytest.raises(ValueError, match="history only moves forward"):
        warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python 2"})}))
    after = warehouse.contents()
    assert_same_contents(before, after)


def test_failing_load_rolls_back_everything(memory_con, monkeypatch) -> None:
    con = memory_con()
    load(con, make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}))
    before = table_contents(con)

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(load_module, "_refresh_marts", explode)
    with pytest.raises(RuntimeError, match="boom"):
        load(con, make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python 3", "c2": "SQL"})}))
    after = table_contents(con)
    assert_same_contents(before, after)


def test_repeated_source_key_keeps_every_raw_record(memory_con) -> None:
    con = memory_con()
    run = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})})
    raw = pl.concat([run.raw, run.raw])
    run = RunInputs(**{**run.__dict__, "raw": raw})
    load(con, run)
    load(con, run)
    assert con.execute("SELECT count(*) FROM raw.raw_offerings").fetchone()[0] == 2


def test_duplicate_offering_ids_fail_before_writing(memory_con) -> None:
    con = memory_con()
    run = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})})
    run = RunInputs(**{**run.__dict__, "offerings": pl.concat([run.offerings, run.offerings])})
    with pytest.raises(ValueError, match="duplicate"):
        load(con, run)
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0] == 0


def test_marts_join_up(warehouse) -> None:
    run = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}, subjects=subjects_frame())
    warehouse.load(run)
    row = warehouse.query(
        "SELECT f.offering_id, p.name AS platform, a.name AS awarding_body, a.provider_kind, "
        "a.country, s.label, k.skill_uri FROM marts.fct_offering f "
        "JOIN marts.dim_provider p ON p.provider_id = f.platform_id "
        "JOIN marts.dim_provider a ON a.provider_id = f.awarding_body_id "
        "JOIN marts.bridge_offering_subject s USING (offering_id) "
        "JOIN marts.bridge_offering_skill k USING (offering_id)"
    ).row(0, named=True)
    expected = offering_row("coursera", "c1", "r1", T1, "Python")
    assert row["offering_id"] == offering_id("coursera", "c1")
    assert (row["platform"], row["awarding_body"]) == ("Coursera", expected["awarding_body"])
    assert (row["provider_kind"], row["country"]) == ("university", "DE")
    assert row["label"] == "Software and applications development and analysis"
    assert row["skill_uri"] == expected["skills"][0]


def test_subject_labels_carry_over_when_not_given(warehouse) -> None:
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}, subjects=subjects_frame()))
    warehouse.load(make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python"})}))
    labels = warehouse.query("SELECT isced_code, label FROM marts.bridge_offering_subject")
    assert labels.rows() == [("0613", "Software and applications development and analysis")]


def test_staging_view_shows_latest_run_of_its_source(warehouse) -> None:
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL"})}))
    warehouse.load(make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python"})}))
    view = warehouse.query("SELECT run_id, source_key FROM staging.stg_coursera__offerings")
    assert view.rows() == [("r2", "c1")]
    assert warehouse.query("SELECT count(*) AS n FROM staging.offerings")["n"].item() == 3


def test_unparseable_payload_is_kept_not_fatal(memory_con) -> None:
    con = memory_con()
    run = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})})
    run = RunInputs(**{**run.__dict__, "raw": run.raw.with_columns(payload=pl.lit("{not json"))})
    load(con, run)
    stored = con.execute("SELECT payload::VARCHAR, json_extract_string(payload, '$') FROM raw.raw_offerings").fetchall()
    assert stored == [('"{not json"', "{not json")]  # kept as a JSON string of its text


def test_empty_run_builds_an_empty_warehouse(warehouse) -> None:
    stats = warehouse.load(make_run(T1, {}))
    assert set(stats["rows"].values()) == {0}
    assert warehouse.query("SELECT count(*) AS n FROM marts.fct_offering")["n"].item() == 0


def test_moved_url_refreshes_provenance_without_a_new_version(warehouse) -> None:
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}))
    moved = make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python"})})
    moved = dataclasses.replace(moved, offerings=moved.offerings.with_columns(url=pl.lit("https://moved.example/c1")))
    stats = warehouse.load(moved)

    assert versions(warehouse, "c1").height == 1
    assert stats["versions_opened"] == 0
    current = warehouse.query("SELECT url, last_seen_run_id FROM marts.offering_versions WHERE source_key = 'c1'")
    assert current.row(0) == ("https://moved.example/c1", "r2")
