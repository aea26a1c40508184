"""Parquet exports of the published warehouse, one folder per snapshot, with a manifest.

``export_parquet`` reads the published file read-only (never the work file) and writes one
zstd Parquet file per entity into ``<exports_root>/<snapshot>/`` plus ``manifest.json``:
schema version, snapshot, creation time, and per file its path, rows, bytes, sha256 and
columns with types and descriptions. The folder is written under a temporary name and
renamed into place at the end, so a snapshot folder is either complete or absent.
``verify_manifest`` re-checks a folder against its manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from normalize.schema import SCHEMA_VERSION
from warehouse.ddl import (
    BRIDGE_OFFERING_SKILL,
    BRIDGE_OFFERING_SUBJECT,
    DIM_CREDENTIAL,
    DIM_PROVIDER,
    FCT_OFFERING,
    OFFERING_VERSIONS,
    SOURCE_RUNS,
    STG_REJECTS,
    Table,
    quote_identifier,
)
from warehouse.publish import open_readonly

MANIFEST = "manifest.json"
COMPRESSION = "zstd"
_SNAPSHOT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


@dataclass(frozen=True)
class Entity:
    """One exported file: a marts table in key order, or a fixed query."""

    name: str
    table: Table | None = None
    query: str | None = None
    description: str = ""

    def sql(self) -> str:
        if self.query is not None:
            return self.query
        assert self.table is not None
        # JSON columns leave as plain strings (JSON text): Parquet readers such as Polars
        # would otherwise see the arrow.json extension as binary.
        columns = ", ".join(
            f"CAST({quote_identifier(c)} AS VARCHAR) AS {quote_identifier(c)}"
            if c in self.table.json_columns else quote_identifier(c)
            for c in self.table.columns.names()
        )
        order = ", ".join(quote_identifier(c) for c in self.table.primary_key)
        return f"SELECT {columns} FROM {self.table.qualified}" + (f" ORDER BY {order}" if order else "")

    @property
    def source(self) -> str:
        return f"{self.table.layer}.{self.table.name}" if self.table else "query"


ENTITIES: tuple[Entity, ...] = (
    Entity("credentials", DIM_CREDENTIAL),
    Entity("offerings", FCT_OFFERING),
    Entity("offering_versions", OFFERING_VERSIONS),
    Entity("providers", DIM_PROVIDER),
    Entity("skills", BRIDGE_OFFERING_SKILL),
    Entity("subjects", BRIDGE_OFFERING_SUBJECT),
    Entity("source_runs", SOURCE_RUNS),
    Entity(
        "rejects_summary",
        query=(
            "SELECT source, run_id, reason, count(*) AS n_rejects "
            f"FROM {STG_REJECTS.qualified} GROUP BY ALL ORDER BY ALL"
        ),
        description="Rejected raw records per source, run and reason",
    ),
)


def _validate_snapshot(snapshot: str) -> str:
    if not isinstance(snapshot, str) or not _SNAPSHOT.match(snapshot) or ".." in snapshot:
        raise ValueError(f"invalid snapshot name: {snapshot!r} (expected [A-Za-z0-9_.-]+)")
    return snapshot


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _column_notes(con: duckdb.DuckDBPyConnection, table: Table | None) -> dict[str, tuple[str, str]]:
    if table is None:
        return {}
    rows = con.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
        [table.layer, table.name],
    ).fetchall()
    return {name: (dtype, comment or "") for name, dtype, comment in rows}


def _describe_file(path: Path, relative: str) -> dict[str, Any]:
    meta = pq.read_metadata(path)
    schema = pq.read_schema(path)
    return {
        "path": relative,
        "rows": int(meta.num_rows),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
        "columns": [{"name": f.name, "type": str(f.type)} for f in schema],
    }


def _export_entity(con: duckdb.DuckDBPyConnection, entity: Entity, folder: Path) -> dict[str, Any]:
    relative = f"{entity.name}.parquet"
    target = folder / relative
    con.sql(entity.sql()).to_parquet(str(target), compression=COMPRESSION)
    entry = {"entity": entity.name, "table": entity.source, "description": entity.description
             or (entity.table.comment if entity.table else ""),
             **_describe_file(target, relative)}
    notes = _column_notes(con, entity.table)
    for column in entry["columns"]:
        duckdb_type, comment = notes.get(column["name"], (None, ""))
        column["duckdb_type"] = duckdb_type
        column["description"] = comment
    return entry


def export_parquet(published_path: Path, exports_root: Path, snapshot: str) -> dict[str, Any]:
    """Export every entity of the published warehouse to ``exports_root/snapshot``.

    Returns the manifest (also written as ``manifest.json``). A snapshot folder is immutable:
    exporting to an existing one raises FileExistsError.
    """
    _validate_snapshot(snapshot)
    published_path = Path(published_path)
    exports_root = Path(exports_root)
    final = exports_root / snapshot
    if final.exists():
        raise FileExistsError(f"snapshot {final} already exists")
    exports_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{snapshot}.", suffix=".tmp", dir=exports_root))
    try:
        con = open_readonly(published_path)
        try:
            files = [_export_entity(con, entity, staging) for entity in ENTITIES]
        finally:
            con.close()
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "snapshot": snapshot,
            "created_at": datetime.now(UTC).isoformat(),
            "format": "parquet",
            "compression": COMPRESSION,
            "warehouse": str(published_path),
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
        os.chmod(staging, 0o755)
        os.rename(staging, final)  # fails if the snapshot appeared meanwhile: never merged
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def verify_manifest(directory: Path) -> list[str]:
    """Problems of an export folder against its manifest (empty when it matches).

    Checks every listed file's existence, bytes, sha256, row count and column names/types,
    and that no Parquet file is present without a manifest entry.
    """
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        return [f"{manifest_path}: missing"]
    except json.JSONDecodeError as exc:
        return [f"{manifest_path}: not JSON ({exc})"]
    problems = [f"manifest: missing {key}"
                for key in ("schema_version", "snapshot", "created_at", "files")
                if key not in manifest]
    listed: set[str] = set()
    for entry in manifest.get("files", []):
        relative = str(entry.get("path", ""))
        if not relative or Path(relative).is_absolute() or ".." in Path(relative).parts:
            problems.append(f"{relative!r}: not a path inside the export folder")
            continue
        listed.add(relative)
        path = directory / relative
        if not path.is_file():
            problems.append(f"{relative}: missing")
            continue
        try:
            actual = _describe_file(path, relative)
        except Exception as exc:  # a corrupt file is a problem to report, not a crash
            problems.append(f"{relative}: unreadable Parquet ({exc})")
            continue
        for key in ("bytes", "sha256", "rows"):
            if entry.get(key) != actual[key]:
                problems.append(f"{relative}: {key} {actual[key]!r} != manifest {entry.get(key)!r}")
        declared = [(c.get("name"), c.get("type")) for c in entry.get("columns", [])]
        found = [(c["name"], c["type"]) for c in actual["columns"]]
        if declared != found:
            problems.append(f"{relative}: columns {found} != manifest {declared}")
    for path in sorted(directory.glob("*.parquet")):
        if path.name not in listed:
            problems.append(f"{path.name}: not in manifest")
    return problems
