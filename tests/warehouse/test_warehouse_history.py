"""Price history: derived from offering_versions, one row per price change, incremental."""

from __future__ import annotations

import duckdb
import polars as pl

from tests.warehouse.frames import Crawl, make_run
from tests.warehouse.history_frames import T1, T2, with_price
from warehouse.load import connect_writable

T3 = T2 + (T2 - T1)


def _run(at, titles: dict[str, str], complete: bool = True, run_id: str | None = None):
    return make_run(at, {"coursera": Crawl(run_id or f"r{at.day}", complete=complete, titles=titles)})


def _rows(warehouse, table: str, order: str = "offering_id, valid_from") -> pl.DataFrame:
    return warehouse.query(f"SELECT * FROM marts.{table} ORDER BY {order}")


def test_price_change_is_one_new_version_and_one_new_price_row(warehouse) -> None:
    warehouse.load(_run(T1, {"c1": "Python", "c2": "SQL"}))
    versions_before, prices_before = _rows(warehouse, "offering_versions"), _rows(warehouse, "price_history")
    assert prices_before.height == 2

    stats = warehouse.load(with_price(_run(T2, {"c1": "Python", "c2": "SQL"}), "c1", 79.0))

    versions, prices = _rows(warehouse, "offering_versions"), _rows(warehouse, "price_history")
    assert versions.height == versions_before.height + 1
    assert prices.height == prices_before.height + 1
    assert stats["versions_opened"] == 1
    c1 = warehouse.query("SELECT offering_id FROM marts.fct_offering WHERE source_key = 'c1'").item()
    spans = prices.filter(pl.col("offering_id") == c1)
    assert spans["price_usd"].to_list() == [49.0, 79.0]
    assert spans["valid_to"].to_list() == [T2, None]
    assert spans["is_current"].to_list() == [False, True]

    # The unchanged offering: its price row is untouched, its version only gains provenance.
    assert stats["price_history_written"] == 2  # c1's closed span + c1's new span
    assert stats["price_history_removed"] == 1  # c1's open span, replaced by its closed form
    unchanged = pl.col("offering_id") != c1
    assert prices.filter(unchanged).equals(prices_before.filter(unchanged))
    provenance = ["last_seen_at", "last_seen_run_id", "run_id", "fetched_at"]
    assert versions.filter(unchanged).drop(provenance).equals(
        versions_before.filter(unchanged).drop(provenance)
    )


def test_change_of_other_content_writes_no_price_row(warehouse) -> None:
    warehouse.load(_run(T1, {"c1": "Python"}))
    stats = warehouse.load(_run(T2, {"c1": "Python 3"}))
    assert stats["versions_opened"] == 1
    assert stats["price_history_written"] == 0
    prices = _rows(warehouse, "price_history")
    assert prices.select("valid_from", "valid_to", "is_current").rows() == [(T1, None, True)]


def test_reloading_a_run_writes_no_price_row(warehouse) -> None:
    run = _run(T1, {"c1": "Python"})
    warehouse.load(run)
    assert warehouse.load(run)["price_history_written"] == 0


def test_closed_offering_closes_its_price_and_reopens_on_return(warehouse) -> None:
    warehouse.load(_run(T1, {"c1": "Python", "c2": "SQL"}))
    warehouse.load(_run(T2, {"c2": "SQL"}))  # complete crawl without c1: closed
    warehouse.load(_run(T3, {"c1": "Python", "c2": "SQL"}))  # back, same price
    c1 = warehouse.query(
        "SELECT p.valid_from, p.valid_to, p.is_current FROM marts.price_history AS p "
        "JOIN marts.fct_offering AS f USING (offering_id) WHERE f.source_key = 'c1' "
        "ORDER BY p.valid_from"
    )
    assert c1.rows() == [(T1, T2, False), (T3, None, True)]


def test_incomplete_crawl_closes_no_price(warehouse) -> None:
    warehouse.load(_run(T1, {"c1": "Python", "c2": "SQL"}))
    warehouse.load(_run(T2, {"c2": "SQL"}, complete=False))
    assert warehouse.query(
        "SELECT count(*) FROM marts.price_history WHERE is_current"
    ).item() == 2


def test_price_history_is_backfilled_for_a_warehouse_without_it(warehouse) -> None:
    warehouse.load(_run(T1, {"c1": "Python", "c2": "SQL"}))
    con = connect_writable(warehouse.published)  # as a warehouse from before the table
    try:
        con.execute("DELETE FROM marts.price_history")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    warehouse.load(_run(T2, {"c1": "Python", "c2": "SQL"}))
    assert warehouse.query("SELECT count(*) FROM marts.price_history").item() == 2


def test_price_history_matches_versions(warehouse) -> None:
    """Every current version has exactly one current price row with its price."""
    warehouse.load(_run(T1, {"c1": "Python", "c2": "SQL"}))
    warehouse.load(with_price(_run(T2, {"c1": "Python", "c2": "SQL"}), "c2", 10.0))
    mismatches = warehouse.query(
        "SELECT v.offering_id FROM marts.offering_versions AS v "
        "LEFT JOIN marts.price_history AS p ON p.offering_id = v.offering_id AND p.is_current "
        "WHERE v.is_current AND (p.offering_id IS NULL "
        "  OR p.price_usd IS DISTINCT FROM v.price_usd OR p.valid_from > v.valid_from)"
    )
    assert mismatches.height == 0


def test_duckdb_can_read_history_without_our_code(warehouse) -> None:
    warehouse.load(_run(T1, {"c1": "Python"}))
    con = duckdb.connect(str(warehouse.published), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM marts.price_history").fetchall() == [(1,)]
    finally:
        con.close()


def test_price_history_is_exported_with_its_contract(warehouse, tmp_path) -> None:
    from warehouse.contract import load_contract
    from warehouse.export import export_snapshot, verify_manifest

    warehouse.load(_run(T1, {"c1": "Python", "c2": "SQL"}))
    warehouse.load(with_price(_run(T2, {"c1": "Python", "c2": "SQL"}), "c1", 79.0))
    manifest = export_snapshot(warehouse.published, tmp_path / "exports", "s1", linked_data=False)
    folder = tmp_path / "exports" / "s1"

    exported = pl.read_parquet(folder / "price_history.parquet").sort("offering_id", "valid_from")
    assert exported.equals(_rows(warehouse, "price_history"))
    assert exported.height == 3 and exported["price_usd"].to_list().count(79.0) == 1
    entry = manifest["entities"]["price_history"]
    assert (entry["rows"], entry["files"], entry["schema"]) == (3, ["price_history.parquet"], "price_history.schema.json")
    schema = load_contract()["price_history"]
    assert schema["x-columns"] == exported.columns
    assert schema["required"] == ["offering_id", "valid_from"]
    assert verify_manifest(folder) == []
