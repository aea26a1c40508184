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
    assert {f["entity"] for f in manifest["files"]} == {e.name for e in ENTITIES} | {
        "credential_changes", "credential_state", "document_index"}
    for entry in manifest["files"]:
        path = folder / entry["path"]
        frame = pl.read_parquet(path)
        assert frame.height == entry["rows"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert path.stat().st_size == entry["bytes"]
        assert frame.columns == [c["name"] for c in entry["columns"]]
        assert all(c["description"] for c in entry["columns"] if entry["table"] != "query")
    rows = {name: e["rows"] for name, e in manifest["entities"].items()}
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
    pl.DataFrame({"x": [1]}).write_parquet(folder / "credentials.parquet")
    pl.DataFrame({"x": [1]}).write_parquet(folder / "stray.parquet")
    pl.DataFrame({"x": [1]}).write_parquet(folder / "offerings" / "source=edx" / "extra.parquet")
    problems = verify_manifest(folder)
    assert any(p.startswith("credentials.parquet: sha256") for p in problems)
    assert any(p.startswith("credentials.parquet: rows") for p in problems)
    assert "stray.parquet: not in manifest" in problems
    assert "offerings/source=edx/extra.parquet: not in manifest" in problems


def test_snapshot_is_written_once(published: Path, tmp_path: Path) -> None:
    export_parquet(published, tmp_path / "exports", "s1")
    with pytest.raises(FileExistsError):
        export_parquet(published, tmp_path / "exports", "s1")
    assert [p.name for p in (tmp_path / "exports").iterdir()] == ["s1"]  # no temp folder left


@pytest.mark.parametrize("snapshot", ["../escape", "a/b", "", ".hidden"])
def test_invalid_snapshot_name_rejected(published: Path, tmp_path: Path, snapshot: str) -> None:
    with pytest.raises(ValueError, match="snapshot"):
        export_parquet(published, tmp_path / "exports", snapshot)


def test_offerings_are_partitioned_by_source(published: Path, tmp_path: Path) -> None:
    manifest = export_parquet(published, tmp_path / "exports", "s1")
    folder = tmp_path / "exports" / "s1"
    offerings = [f for f in manifest["files"] if f["entity"] == "offerings"]
    assert {f["partition"]["source"] for f in offerings} == {"coursera", "edx"}
    assert all(f["path"].startswith(f"offerings/source={f['partition']['source']}/") for f in offerings)
    assert all("source" not in [c["name"] for c in f["columns"]] for f in offerings)  # in the path
    frame = pl.read_parquet(folder / "offerings", hive_partitioning=True)
    assert frame.height == 3 and sorted(frame["source"].unique()) == ["coursera", "edx"]
    assert manifest["entities"]["offerings"]["partition_by"] == ["source"]
    assert "source" in manifest["entities"]["offerings"]["columns"]


def test_manifest_lists_source_runs_schemas_and_documents(published: Path, tmp_path: Path) -> None:
    manifest = export_parquet(published, tmp_path / "exports", "s1")
    folder = tmp_path / "exports" / "s1"
    assert {(r["source"], r["run_id"]) for r in manifest["source_runs"]} == {("coursera", "r1"), ("edx", "e1")}
    for entity in ENTITIES:
        schema = json.loads((folder / f"{entity.name}.schema.json").read_text())
        assert schema["x-schema-version"] == SCHEMA_VERSION
        assert schema["x-columns"] == manifest["entities"][entity.name]["columns"]
    paths = {d["path"]: d for d in manifest["documents"]}
    assert {"ctdl/credentials.jsonld", "openbadges/achievements.jsonl", "changes/credentials.jsonl"} <= set(paths)
    assert paths["openbadges/achievements.jsonl"]["rows"] == 2


def test_verify_manifest_reports_a_tampered_document(published: Path, tmp_path: Path) -> None:
    export_parquet(published, tmp_path / "exports", "s1")
    folder = tmp_path / "exports" / "s1"
    path = folder / "openbadges" / "achievements.jsonl"
    path.write_bytes(path.read_bytes().replace(b"Python", b"Pyth0n"))
    assert any(p.startswith("openbadges/achievements.jsonl: sha256") for p in verify_manifest(folder))


def test_rows_of_every_json_schema_validate(published: Path, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    export_parquet(published, tmp_path / "exports", "s1")
    folder = tmp_path / "exports" / "s1"
    for entity in ENTITIES:
        schema = json.loads((folder / f"{entity.name}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        target = folder / entity.name if entity.partition_by else folder / f"{entity.name}.parquet"
        frame = pl.read_parquet(target, hive_partitioning=bool(entity.partition_by))
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        for row in json.loads(frame.write_json()):
            errors = list(validator.iter_errors(row))
            assert not errors, f"{entity.name}: {errors[0].message}"


def test_a_failing_step_leaves_no_folder_and_no_thread(published: Path, tmp_path: Path, monkeypatch) -> None:
    import threading

    from warehouse import export as export_module

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export_module, "_export_changes", broken)
    with pytest.raises(OSError, match="disk full"):
        export_parquet(published, tmp_path / "exports", "s1")
    assert list((tmp_path / "exports").iterdir()) == []  # the staging folder is gone
    assert not [t for t in threading.enumerate() if t.name.startswith("credcat-linked-data")]
