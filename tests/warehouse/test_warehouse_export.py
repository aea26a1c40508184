"""Parquet exports and their manifest."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from normalize.schema import CREDENTIAL_SCHEMA, SCHEMA_VERSION
from tests.warehouse.frames import Crawl, make_run, subjects_frame
from warehouse.export import ENTITIES, export_parquet, verify_manifest
from warehouse.load import build
from warehouse.publish import publish

T1 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def published(tmp_path: Path) -> Path:
    work, path = tmp_path / "work.duckdb", tmp_path / "credcat.duckdb"
    run = make_run(
        T1,
        {"coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL"}, rejected=["c3"]),
         "edx": Crawl("e1", titles={"x1": "Python!"}, credential_of={"x1": "cred-c1"})},
        subjects=subjects_frame(),
    )
    build(work, path, run)
    publish(work, path)
    return path


def test_export_matches_manifest(published: Path, tmp_path: Path) -> None:
    manifest = export_parquet(published, tmp_path / "exports", "20250301T000000Z")
    folder = tmp_path / "exports" / "20250301T000000Z"

    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["snapshot"] == "20250301T000000Z"
    assert {f["entity"] for f in manifest["files"]} == {e.name for e in ENTITIES}
    for entry in manifest["files"]:
        path = folder / entry["path"]
        frame = pl.read_parquet(path)
        assert frame.height == entry["rows"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert path.stat().st_size == entry["bytes"]
        assert frame.columns == [c["name"] for c in entry["columns"]]
        assert all(c["description"] for c in entry["columns"] if entry["table"] != "query")
    rows = {f["entity"]: f["rows"] for f in manifest["files"]}
    assert (rows["offerings"], rows["credentials"], rows["rejects_summary"]) == (3, 2, 1)
    assert verify_manifest(folder) == []


def test_exported_credentials_read_back_with_the_model_schema(published: Path, tmp_path: Path) -> None:
    export_parquet(published, tmp_path / "exports", "s1")
    frame = pl.read_parquet(tmp_path / "exports" / "s1" / "credentials.parquet")
    assert frame.select(CREDENTIAL_SCHEMA.names()).schema == CREDENTIAL_SCHEMA  # JSON as text
    assert json.loads(frame["field_sources"][0])


def test_verify_manifest_reports_tampering(published: Path, tmp_path: Path) -> None:
    export_parquet(published, tmp_path / "exports", "s1")
    folder = tmp_path / "exports" / "s1"
    pl.DataFrame({"x": [1]}).write_parquet(folder / "offerings.parquet")
    pl.DataFrame({"x": [1]}).write_parquet(folder / "stray.parquet")
    problems = verify_manifest(folder)
    assert any(p.startswith("offerings.parquet: sha256") for p in problems)
    assert any(p.startswith("offerings.parquet: rows") for p in problems)
    assert "stray.parquet: not in manifest" in problems


def test_snapshot_is_written_once(published: Path, tmp_path: Path) -> None:
    export_parquet(published, tmp_path / "exports", "s1")
    with pytest.raises(FileExistsError):
        export_parquet(published, tmp_path / "exports", "s1")
    assert [p.name for p in (tmp_path / "exports").iterdir()] == ["s1"]  # no temp folder left


@pytest.mark.parametrize("snapshot", ["../escape", "a/b", "", ".hidden"])
def test_invalid_snapshot_name_rejected(published: Path, tmp_path: Path, snapshot: str) -> None:
    with pytest.raises(ValueError, match="snapshot"):
        export_parquet(published, tmp_path / "exports", snapshot)
