"""The cheaper paths of the export give what the plain ones give.

- the change feed keeps or computes each content_hash in one scan of the credentials: the same
  state and change files as computing every hash, and a previous state with an id twice is
  not trusted;
- verify_manifest hashes a document and counts its lines in one read;
- a closed-history file's digest and latest closing time come from one scan.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse import export as export_module
from warehouse.bench_export import build_warehouse, change_some
from warehouse.export import (
    CHANGES_FILE,
    CHANGES_JSONL,
    STATE_FILE,
    _rows_digest,
    _sha256_and_lines,
    export_snapshot,
    verify_manifest,
)

CHANGE_FILES = (STATE_FILE, CHANGES_FILE, CHANGES_JSONL)


@pytest.fixture(scope="module")
def changed(tmp_path_factory) -> tuple[Path, Path]:
    """A warehouse of 3,000 credentials exported once (s1), then changed (1% new titles, 0.5% gone)."""
    root = tmp_path_factory.mktemp("speed")
    db = root / "bench.duckdb"
    build_warehouse(db, 3000, 3)
    export_snapshot(db, root / "exports", "s1", linked_data=False)
    change_some(db, 3000)
    return db, root / "exports" / "s1"


def _second(db: Path, previous: Path, folder: Path, monkeypatch=None, state=None) -> dict:
    if monkeypatch is not None:
        monkeypatch.setattr(export_module, "_previous_state", lambda _previous: state)
    return export_snapshot(db, folder, "s2", previous=previous, linked_data=False)


def test_change_feed_in_one_scan_equals_computing_every_hash(changed, tmp_path: Path, monkeypatch) -> None:
    db, s1 = changed
    kept = _second(db, s1, tmp_path / "kept")
    computed = _second(db, s1, tmp_path / "computed", monkeypatch, None)
    assert 0 < kept["reuse"]["content_hashes_kept"] < kept["entities"]["credentials"]["rows"]
    assert computed["reuse"]["content_hashes_kept"] == 0
    assert kept["changes"] == computed["changes"]
    assert kept["changes"]["upserts"] > 0 and kept["changes"]["deletes"] > 0
    for relative in CHANGE_FILES:
        assert (tmp_path / "kept" / "s2" / relative).read_bytes() == \
            (tmp_path / "computed" / "s2" / relative).read_bytes(), relative
    assert verify_manifest(tmp_path / "kept" / "s2") == []


def test_a_previous_state_with_an_id_twice_is_not_trusted(changed, tmp_path: Path, monkeypatch) -> None:
    db, s1 = changed
    state = pq.read_table(s1 / STATE_FILE)
    twice = tmp_path / "twice.parquet"
    pq.write_table(pa.concat_tables([state, state.slice(0, 5)]), twice)
    manifest = _second(db, s1, tmp_path / "twice", monkeypatch, twice)
    assert manifest["reuse"]["content_hashes_kept"] == 0
    reference = _second(db, s1, tmp_path / "computed", monkeypatch, None)
    assert manifest["changes"] == reference["changes"]
    for relative in CHANGE_FILES:
        assert (tmp_path / "twice" / "s2" / relative).read_bytes() == \
            (tmp_path / "computed" / "s2" / relative).read_bytes(), relative


@pytest.mark.parametrize("block", [1, 7, 1 << 20])
def test_sha256_and_lines_in_one_read(tmp_path: Path, block: int) -> None:
    data = b"".join(f'{{"n":{i}}}\n'.encode() for i in range(1000)) + b"tail without newline"
    path = tmp_path / "doc.jsonl"
    path.write_bytes(data)
    assert _sha256_and_lines(path, block=block) == (hashlib.sha256(data).hexdigest(), 1000)
    assert _sha256_and_lines(path, count=False, block=block) == (hashlib.sha256(data).hexdigest(), 0)
    assert export_module.sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_verify_reports_a_document_whose_line_count_differs(changed, tmp_path: Path) -> None:
    """The line count comes from the same read as the sha256: a document with the right bytes
    but another row count in the manifest is reported."""
    import json

    db, s1 = changed
    manifest = _second(db, s1, tmp_path)
    folder = tmp_path / "s2"
    assert verify_manifest(folder) == []
    for entry in manifest["documents"]:
        if entry["path"] == CHANGES_JSONL:
            entry["rows"] += 1
    (folder / "manifest.json").chmod(0o644)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert verify_manifest(folder) == [f"{CHANGES_JSONL}: rows differ from manifest"]


def test_rows_digest_with_the_latest_time_is_the_digest_and_the_max(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE t (k VARCHAR, x DOUBLE, tags VARCHAR[], valid_to TIMESTAMPTZ)")
    con.execute("INSERT INTO t VALUES ('a', 1.0, ['p'], '2025-03-01 10:00:00+00'), "
                "('b', -0.0, [], '2025-03-08 12:30:00.123456+00'), ('c', NULL, NULL, NULL)")
    select = "SELECT k, x, tags, valid_to FROM t WHERE k <> 'z'"
    digest, latest = _rows_digest(con, select, latest="valid_to")
    assert digest == _rows_digest(con, select)
    assert digest[0] == 3
    assert latest == datetime(2025, 3, 8, 12, 30, 0, 123456, tzinfo=UTC)
    empty, none = _rows_digest(con, select + " AND false", latest="valid_to")
    assert (empty, none) == ([0, 0, 0], None)
