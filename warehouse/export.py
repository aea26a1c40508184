"""Exports of the published warehouse, one immutable folder per snapshot, with a manifest.

``export_snapshot`` (alias ``export_parquet``) reads the published file read-only (never the
work file) and writes into ``<exports_root>/<snapshot>/``:

- one zstd Parquet dataset per entity: ``<entity>.parquet``, or a Hive-partitioned folder
  ``<entity>/source=<source>/data_<n>.parquet`` for the entities partitioned by source
  (offerings, offering_versions), and ``<entity>.schema.json`` beside it: the JSON Schema of a
  row (committed contract: warehouse/contract/);
- ``changes/credentials.parquet`` and ``changes/credentials.jsonl``: the credentials upserted
  and deleted since the previous snapshot (content hash per credential; the first snapshot is
  all upserts), and ``changes/credential_state.parquet`` (every credential's hash), which the
  next snapshot compares against;
- ``ctdl/credentials.jsonld`` (CTDL JSON-LD, one @graph) and ``openbadges/achievements.jsonl``
  (Open Badges 3.0 Achievements), see warehouse/jsonld.py;
- ``manifest.json``: schema version, snapshot, creation time, the source runs behind the data
  (marts.source_runs), per Parquet file its entity, partition, rows, bytes, sha256 and columns
  (``files``), per entity its rows, files and schema (``entities``), the other documents with
  rows, bytes and sha256 (``documents``) and the change counts (``changes``).

The folder is written under a temporary name and renamed into place at the end, so a snapshot
folder is either complete or absent. ``verify_manifest`` re-checks a folder against its manifest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from normalize.digests import file_sha256
from normalize.schema import SCHEMA_VERSION
from warehouse import jsonld
from warehouse.contract import entity_json_schema
from warehouse.ddl import (
    BRIDGE_OFFERING_SKILL,
    BRIDGE_OFFERING_SUBJECT,
    DIM_CREDENTIAL,
    DIM_PROVIDER,
    FCT_OFFERING,
    OFFERING_VERSIONS,
    PRICE_HISTORY,
    SOURCE_RUNS,
    STG_REJECTS,
    UNMAPPED_VALUES,
    Table,
    cursor,
    quote_identifier,
)
from warehouse.publish import open_readonly

MANIFEST = "manifest.json"
COMPRESSION = "zstd"
_SNAPSHOT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")

CHANGES_FILE = "changes/credentials.parquet"
CHANGES_JSONL = "changes/credentials.jsonl"
STATE_FILE = "changes/credential_state.parquet"
# Columns of dim_credential that are bookkeeping, not content: a change of these alone is no change.
_NOT_CONTENT = frozenset({"updated_at"})


@dataclass(frozen=True)
class Entity:
    """One exported dataset: a marts table, or a fixed query.

    A table's rows leave in the table's own order (deterministic for a given warehouse file:
    the same file exports the same bytes), not sorted: row order is not part of the contract,
    and sorting the wide entities cost ~20% of the Parquet time at a million rows.
    """

    name: str
    table: Table | None = None
    query: str | None = None
    description: str = ""
    partition_by: tuple[str, ...] = ()

    def sql(self) -> str:
        """The SELECT of the entity."""
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
        return f"SELECT {columns} FROM {self.table.qualified}"

    @property
    def source(self) -> str:
        return f"{self.table.layer}.{self.table.name}" if self.table else "query"

    @property
    def comment(self) -> str:
        return self.description or (self.table.comment if self.table else "")


ENTITIES: tuple[Entity, ...] = (
    Entity("credentials", DIM_CREDENTIAL),
    Entity("offerings", FCT_OFFERING, partition_by=("source",)),
    Entity("offering_versions", OFFERING_VERSIONS, partition_by=("source",)),
    Entity("price_history", PRICE_HISTORY),
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
    Entity("unmapped_values", UNMAPPED_VALUES),
)
CHANGE_COLUMNS = {
    "credential_id": "Id of the deduplicated credential",
    "change": "upsert (new or changed since the previous snapshot) | delete (gone since then)",
    "content_hash": "MD5 of the credential's exported content (null for a delete)",
    "previous_content_hash": "content_hash in the previous snapshot (null when new)",
}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _validate_snapshot(snapshot: str) -> str:
    if not isinstance(snapshot, str) or not _SNAPSHOT.match(snapshot) or ".." in snapshot:
        raise ValueError(f"invalid snapshot name: {snapshot!r} (expected [A-Za-z0-9_.-]+)")
    return snapshot


sha256_file = file_sha256  # what the manifest records per file


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


def _copy(con: duckdb.DuckDBPyConnection, sql: str, target: Path, partition_by: tuple[str, ...] = ()) -> None:
    options = f"FORMAT parquet, COMPRESSION {COMPRESSION}"
    if partition_by:
        options += f", PARTITION_BY ({', '.join(quote_identifier(c) for c in partition_by)})"
    con.execute(f"COPY ({sql}) TO {_lit(str(target))} ({options})").fetchall()


def _partition_of(relative: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in Path(relative).parts[1:-1] if "=" in part)


def _export_entity(con: duckdb.DuckDBPyConnection, entity: Entity, folder: Path) -> list[dict[str, Any]]:
    if entity.partition_by:
        _copy(con, entity.sql(), folder / entity.name, entity.partition_by)
        paths = sorted((folder / entity.name).rglob("*.parquet"))
    else:
        target = folder / f"{entity.name}.parquet"
        _copy(con, entity.sql(), target)
        paths = [target]
    notes = _column_notes(con, entity.table)
    entries = []
    for path in paths:
        relative = path.relative_to(folder).as_posix()
        entry = {"entity": entity.name, "table": entity.source, "description": entity.comment,
                 **_describe_file(path, relative)}
        if entity.partition_by:
            entry["partition"] = _partition_of(relative)
        for column in entry["columns"]:
            duckdb_type, comment = notes.get(column["name"], (None, ""))
            column["duckdb_type"] = duckdb_type
            column["description"] = comment
        entries.append(entry)
    return entries


def entity_schemas(con: duckdb.DuckDBPyConnection, scratch: Path) -> dict[str, dict[str, Any]]:
    """JSON Schema of every entity as exported (types read back from an empty Parquet file)."""
    out = {}
    for entity in ENTITIES:
        probe = Path(scratch) / f"{entity.name}.probe.parquet"
        _copy(con, f"SELECT * FROM ({entity.sql()}) LIMIT 0", probe)
        notes = _column_notes(con, entity.table)
        required = entity.table.primary_key if entity.table else ()
        out[entity.name] = entity_json_schema(
            entity.name, pq.read_schema(probe), schema_version=SCHEMA_VERSION,
            description=entity.comment, descriptions={c: n[1] for c, n in notes.items()},
            required=required, partition_by=entity.partition_by)
        probe.unlink()
    return out


# --- change feed --------------------------------------------------------------------------------


def _credential_hash_sql() -> str:
    fields = ", ".join(
        f"{quote_identifier(c)} := {quote_identifier(c)}"
        for c in DIM_CREDENTIAL.columns.names() if c not in _NOT_CONTENT
    )
    return (f"SELECT credential_id, md5(CAST(to_json(struct_pack({fields})) AS VARCHAR)) AS content_hash "
            f"FROM {DIM_CREDENTIAL.qualified}")


def snapshot_created_at(folder: Path) -> str | None:
    try:
        return json.loads((folder / MANIFEST).read_text()).get("created_at")
    except (OSError, ValueError):
        return None


def previous_snapshot(exports_root: Path, before: str | None = None) -> Path | None:
    """The latest complete snapshot (by manifest created_at) that has a credential state."""
    candidates = []
    for folder in Path(exports_root).iterdir() if Path(exports_root).is_dir() else []:
        if folder.name.startswith(".") or folder.name == before or not (folder / STATE_FILE).is_file():
            continue
        created = snapshot_created_at(folder)
        if created is not None:
            candidates.append((created, folder.name, folder))
    return max(candidates)[2] if candidates else None


def _export_changes(con: duckdb.DuckDBPyConnection, folder: Path, previous: Path | None) -> dict[str, Any]:
    (folder / "changes").mkdir()
    con.execute(f"CREATE OR REPLACE TEMP TABLE _state AS {_credential_hash_sql()}").fetchall()
    _copy(con, "SELECT * FROM _state ORDER BY credential_id", folder / STATE_FILE)
    prev = f"read_parquet({_lit(str(previous / STATE_FILE))})" if previous else \
        "(SELECT NULL::VARCHAR AS credential_id, NULL::VARCHAR AS content_hash WHERE false)"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _changes AS "
        "SELECT coalesce(s.credential_id, p.credential_id) AS credential_id, "
        "CASE WHEN s.credential_id IS NULL THEN 'delete' ELSE 'upsert' END AS change, "
        "s.content_hash AS content_hash, p.content_hash AS previous_content_hash "
        f"FROM _state AS s FULL JOIN {prev} AS p USING (credential_id) "
        "WHERE p.credential_id IS NULL OR s.credential_id IS NULL OR s.content_hash <> p.content_hash"
    ).fetchall()
    select = "SELECT * FROM _changes ORDER BY credential_id"
    _copy(con, select, folder / CHANGES_FILE)
    con.execute(f"COPY ({select}) TO {_lit(str(folder / CHANGES_JSONL))} (FORMAT json)").fetchall()
    counts = dict(con.execute("SELECT change, count(*) FROM _changes GROUP BY ALL").fetchall())
    total = con.execute("SELECT count(*) FROM _state").fetchall()[0][0]
    return {"since": previous.name if previous else None, "upserts": int(counts.get("upsert", 0)),
            "deletes": int(counts.get("delete", 0)),
            "unchanged": int(total - counts.get("upsert", 0))}


def _describe_change_files(folder: Path) -> list[dict[str, Any]]:
    entries = []
    for name, path, description in (
        ("credential_changes", CHANGES_FILE, "Credentials upserted or deleted since the previous snapshot"),
        ("credential_state", STATE_FILE, "Content hash of every credential of this snapshot"),
    ):
        entry = {"entity": name, "table": "changes", "description": description,
                 **_describe_file(folder / path, path)}
        for column in entry["columns"]:
            column["duckdb_type"] = None
            column["description"] = CHANGE_COLUMNS.get(column["name"], "")
        entries.append(entry)
    return entries


# --- documents ----------------------------------------------------------------------------------


def _describe_document(folder: Path, relative: str, kind: str, rows: int | None) -> dict[str, Any]:
    path = folder / relative
    return {"path": relative, "format": kind, "rows": rows, "bytes": path.stat().st_size,
            "sha256": sha256_file(path)}


def _source_runs(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    frame = con.sql(f"SELECT * FROM {SOURCE_RUNS.qualified} ORDER BY source, run_id").to_arrow_table()
    return json.loads(json.dumps(frame.to_pylist(), default=lambda v: v.isoformat()))


class _LinkedData:
    """The CTDL and Open Badges documents, written by a second thread on its own cursor while
    the main thread writes the Parquet files and the change feed.

    Both documents come from one pass over the credentials and are hashed while written
    (together ~4 kB per credential: a second read would double the I/O). DuckDB, file writes
    and hashlib release the GIL, so on two cores the documents cost little extra wall time.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, folder: Path) -> None:
        self._con = cursor(con)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="credcat-linked-data")
        self._future = self._pool.submit(self._run, folder)

    def _run(self, folder: Path) -> list[dict[str, Any]]:
        jsonld.prepare(self._con)
        return [{key: fact[key] for key in ("path", "format", "rows", "bytes", "sha256")}
                for fact in jsonld.export_documents(self._con, folder)]

    def result(self) -> list[dict[str, Any]]:
        return self._future.result()

    def close(self) -> None:
        """Wait for the thread (interrupting its query if the export failed) and close."""
        if not self._future.done():
            self._con.interrupt()
        self._pool.shutdown(wait=True)
        self._con.close()


def export_snapshot(published_path: Path, exports_root: Path, snapshot: str, *,
                    previous: Path | None | bool = True, linked_data: bool = True) -> dict[str, Any]:
    """Export the published warehouse to ``exports_root/snapshot`` (see the module docstring).

    ``previous``: the snapshot folder the change feed compares with; True (default) finds the
    latest one in ``exports_root``, None/False makes every credential an upsert.
    ``linked_data=False`` skips the CTDL and Open Badges documents. Returns the manifest (also
    written as ``manifest.json``). A snapshot folder is immutable: exporting to an existing one
    raises FileExistsError.
    """
    _validate_snapshot(snapshot)
    published_path = Path(published_path)
    exports_root = Path(exports_root)
    final = exports_root / snapshot
    if final.exists():
        raise FileExistsError(f"snapshot {final} already exists")
    exports_root.mkdir(parents=True, exist_ok=True)
    if previous is True:
        previous = previous_snapshot(exports_root, before=snapshot)
    previous = previous or None
    staging = Path(tempfile.mkdtemp(prefix=f".{snapshot}.", suffix=".tmp", dir=exports_root))
    try:
        con = open_readonly(published_path)
        linked = _LinkedData(con, staging) if linked_data else None
        try:
            files: list[dict[str, Any]] = []
            entities: dict[str, dict[str, Any]] = {}
            scratch = staging / ".scratch"
            scratch.mkdir()
            schemas = entity_schemas(con, scratch)
            scratch.rmdir()
            documents = []
            for entity in ENTITIES:
                entries = _export_entity(con, entity, staging)
                files += entries
                schema_path = f"{entity.name}.schema.json"
                (staging / schema_path).write_text(json.dumps(schemas[entity.name], indent=2) + "\n")
                entities[entity.name] = {
                    "rows": sum(e["rows"] for e in entries), "files": [e["path"] for e in entries],
                    "partition_by": list(entity.partition_by), "schema": schema_path,
                    "columns": schemas[entity.name]["x-columns"],
                }
                documents.append(_describe_document(staging, schema_path, "json-schema", None))
            changes = _export_changes(con, staging, previous)
            change_files = _describe_change_files(staging)
            files += change_files
            for entry in change_files:
                entities[entry["entity"]] = {"rows": entry["rows"], "files": [entry["path"]],
                                             "partition_by": [], "contract": False}
            documents.append(_describe_document(staging, CHANGES_JSONL, "jsonl",
                                                changes["upserts"] + changes["deletes"]))
            source_runs = _source_runs(con)
            if linked is not None:
                documents += linked.result()
        finally:
            if linked is not None:
                linked.close()
            con.close()
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "snapshot": snapshot,
            "created_at": datetime.now(UTC).isoformat(),
            "format": "parquet",
            "compression": COMPRESSION,
            "warehouse": str(published_path),
            "source_runs": source_runs,
            "changes": changes,
            "entities": entities,
            "files": files,
            "documents": documents,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
        for directory in [staging, *(p for p in staging.rglob("*") if p.is_dir())]:
            os.chmod(directory, 0o755)
        os.rename(staging, final)  # fails if the snapshot appeared meanwhile: never merged
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


export_parquet = export_snapshot


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            count += block.count(b"\n")
    return count


def _inside(relative: str) -> bool:
    return bool(relative) and not Path(relative).is_absolute() and ".." not in Path(relative).parts


def verify_manifest(directory: Path) -> list[str]:
    """Problems of an export folder against its manifest (empty when it matches).

    Checks every listed Parquet file's existence, bytes, sha256, row count and column
    names/types, that no Parquet file is present without a manifest entry, and every listed
    document's bytes and sha256 (and line count for JSON Lines).
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
        if not _inside(relative):
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
    for path in sorted(directory.rglob("*.parquet")):
        relative = path.relative_to(directory).as_posix()
        if relative not in listed:
            problems.append(f"{relative}: not in manifest")
    for entry in manifest.get("documents", []):
        relative = str(entry.get("path", ""))
        path = directory / relative
        if not _inside(relative) or not path.is_file():
            problems.append(f"{relative}: missing")
            continue
        if path.stat().st_size != entry.get("bytes"):
            problems.append(f"{relative}: bytes {path.stat().st_size} != manifest {entry.get('bytes')!r}")
        elif sha256_file(path) != entry.get("sha256"):
            problems.append(f"{relative}: sha256 differs from manifest")
        if entry.get("format", "").endswith("jsonl") and _count_lines(path) != entry.get("rows"):
            problems.append(f"{relative}: rows differ from manifest")
    return problems
