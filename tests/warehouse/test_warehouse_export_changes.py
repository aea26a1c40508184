"""The change feed: credentials upserted and deleted between snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from tests.warehouse.frames import Crawl, make_run
from warehouse.export import CHANGES_FILE, CHANGES_JSONL, export_snapshot, verify_manifest

T1 = datetime(2025, 3, 1, tzinfo=UTC)
T2 = datetime(2025, 3, 8, tzinfo=UTC)


def changes(folder: Path) -> dict[str, tuple[str, str | None]]:
    frame = pl.read_parquet(folder / CHANGES_FILE)
    return {r["credential_id"]: (r["change"], r["content_hash"]) for r in frame.iter_rows(named=True)}


def test_two_snapshots_one_change_one_deletion(warehouse, tmp_path: Path) -> None:
    root = tmp_path / "exports"
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL", "c4": "Go"})}))
    first = export_snapshot(warehouse.published, root, "s1", linked_data=False)
    assert first["changes"] == {"since": None, "upserts": 3, "deletes": 0, "unchanged": 0}
    assert {k: v[0] for k, v in changes(root / "s1").items()} == {
        "cred-c1": "upsert", "cred-c2": "upsert", "cred-c4": "upsert"}

    # c1 changes its title, c2 disappears from a complete crawl, c4 stays as it was.
    warehouse.load(make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python 3", "c4": "Go"})}))
    second = export_snapshot(warehouse.published, root, "s2", linked_data=False)
    assert second["changes"] == {"since": "s1", "upserts": 1, "deletes": 1, "unchanged": 1}
    feed = changes(root / "s2")
    assert feed.keys() == {"cred-c1", "cred-c2"}
    assert feed["cred-c1"][0] == "upsert" and feed["cred-c1"][1] != changes(root / "s1")["cred-c1"][1]
    assert feed["cred-c2"] == ("delete", None)
    lines = [json.loads(line) for line in (root / "s2" / CHANGES_JSONL).read_text().splitlines()]
    assert [(r["credential_id"], r["change"]) for r in lines] == [("cred-c1", "upsert"), ("cred-c2", "delete")]
    assert verify_manifest(root / "s2") == []

    # Nothing changed: an empty feed against s2.
    third = export_snapshot(warehouse.published, root, "s3", linked_data=False)
    assert third["changes"] == {"since": "s2", "upserts": 0, "deletes": 0, "unchanged": 2}
    assert changes(root / "s3") == {}


def test_only_a_complete_crawl_tombstones(warehouse, tmp_path: Path) -> None:
    """A credential leaves the feed as a delete only when a complete crawl of its source no
    longer lists it: a partial crawl, or a source that did not run, deletes nothing."""
    root = tmp_path / "exports"
    titles = {"c1": "Python", "c2": "SQL"}
    warehouse.load(make_run(T1, {"coursera": Crawl("r1", titles=titles), "edx": Crawl("e1", titles={"x1": "Go"})}))
    export_snapshot(warehouse.published, root, "s1", linked_data=False)

    # coursera's crawl broke after c1 (c2 unseen); edx did not run at all.
    warehouse.load(make_run(T2, {"coursera": Crawl("r2", complete=False, titles={"c1": "Python"})}))
    partial = export_snapshot(warehouse.published, root, "s2", linked_data=False)
    assert partial["changes"] == {"since": "s1", "upserts": 0, "deletes": 0, "unchanged": 3}
    assert changes(root / "s2") == {}

    # The next complete crawl still lacks c2: now it is a tombstone, and only it.
    warehouse.load(make_run(datetime(2025, 3, 15, tzinfo=UTC),
                            {"coursera": Crawl("r3", complete=True, titles={"c1": "Python"})}))
    complete = export_snapshot(warehouse.published, root, "s3", linked_data=False)
    assert complete["changes"] == {"since": "s2", "upserts": 0, "deletes": 1, "unchanged": 2}
    assert changes(root / "s3") == {"cred-c2": ("delete", None)}
