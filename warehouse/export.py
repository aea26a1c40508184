"""Exports of the published warehouse, one immutable folder per snapshot, with a manifest.

``export_snapshot`` (alias ``export_parquet``) reads the published file read-only (never the
work file) and writes into ``<exports_root>/<snapshot>/``:

- one zstd Parquet dataset per entity: ``<entity>.parquet``, or a Hive-partitioned folder
  ``<entity>/source=<source>/`` for the entities partitioned by source (offerings,
  offering_versions; one COPY per partition, on PARTITION_WRITERS threads), and
  ``<entity>.schema.json`` beside it: the JSON Schema of a row (committed contract:
  warehouse/contract/). A partition holds ``data_0.parquet``; for offering_versions that file
  holds the open versions only, and the closed ones (which never change) are in
  ``closed-<time>.parquet`` files (time: the latest valid_to in it), each written once and
  linked by the later snapshots;
- ``changes/credentials.parquet`` and ``changes/credentials.jsonl``: the credentials upserted
  and deleted since the previous snapshot (content hash per credential; the first snapshot is
  all upserts), and ``changes/credential_state.parquet`` (every credential's hash and content
  digest), which the next snapshot compares against;
- ``ctdl/credentials.jsonld`` (CTDL JSON-LD, one @graph, one node per line) and
  ``openbadges/achievements.jsonl`` (Open Badges 3.0 Achievements), in credential_id order,
  with ``changes/document_index.parquet``, see warehouse/jsonld.py;
- ``manifest.json``: schema version, snapshot, creation time, the source runs behind the data
  (marts.source_runs), per Parquet file its entity, partition, rows, bytes, sha256 and columns
  (``files``), per entity its rows, files and schema (``entities``), the other documents with
  rows, bytes and sha256 (``documents``), the change counts (``changes``) and what was taken
  over from the previous snapshot (``reuse``); every file and document entry also records the
  ``identity`` of the file (device, inode, size, mtime, ctime; warehouse/export_reuse.py).

Taking over. The previous snapshot (by default the latest one in the exports root) is
immutable, so an export takes from it what it would write again unchanged, and computes only
the rest (warehouse/export_reuse.py): the CTDL nodes and OB lines of the credentials whose
documents' inputs did not change (``jsonld.export_documents``), the content_hash of the
credentials whose content digest did not change (``_export_changes``), the closed versions'
files (``_closed_parts``) and the partition of a source not crawled since whose rows are the
same (``_Reuse``), hard-linked. Everything taken over is checked against the previous
manifest (size, sha256 -- not hashed again when the file still has the identity that manifest
recorded) and a digest of what it stands for; whatever does not check out is computed. The
snapshot is the same as a from-scratch export of the same warehouse: documents byte for byte,
Parquet rows (a file taken over is the one the previous snapshot wrote). Nothing ever writes
into a snapshot's files, which is what makes the hard links safe.

The folder is written under a temporary name and renamed into place at the end, so a snapshot
folder is either complete or absent. ``verify_manifest`` re-checks a folder against its
manifest, reading and hashing every file (linked ones too; it ignores identities).
"""

from __future__ import annotations

import hashlib
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

from normalize.digests import file_identity
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
from warehouse.export_reuse import PreviousSnapshot, fingerprint, link_or_copy
from warehouse.publish import open_readonly

MANIFEST = "manifest.json"
COMPRESSION = "zstd"
# zstd level 1 instead of DuckDB's default 3: at a million offerings the files came out the same
# size (122 MB) and the offerings' COPY took ~20% less CPU.
COMPRESSION_LEVEL = 1
# Threads (each with its own cursor) writing the partitions of a partitioned entity: one COPY per
# partition instead of PARTITION_BY, which cost ~45% more CPU here.
PARTITION_WRITERS = 2
_PARTITION_VALUE = re.compile(r"[A-Za-z0-9_.-]+\Z")
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
    the same file exports the same rows in the same order; the bytes of a file of several row
    groups may differ, docs/contracts.md), not sorted: row order is not part of the contract,
    and sorting the wide entities cost ~20% of the Parquet time at a million rows.
    """

    name: str
    table: Table | None = None
    query: str | None = None
    description: str = ""
    partition_by: tuple[str, ...] = ()
    # History whose rows never change once closed: ``closed`` is the SQL condition of such a
    # row, ``closed_at`` the column saying when it closed. Its closed rows are written once, to
    # ``closed-<time>.parquet`` files that later snapshots link (see _export_partitions).
    closed: str | None = None
    closed_at: str | None = None

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
    Entity("offering_versions", OFFERING_VERSIONS, partition_by=("source",), closed="NOT is_current",
           closed_at="valid_to"),
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
    "digest_a": "Bookkeeping: DuckDB hash() of the credential's content (with digest_b a 128-bit digest; "
                "equal digests let the next snapshot keep content_hash instead of computing it again)",
    "digest_b": "Bookkeeping: second half of the content digest (see digest_a)",
}
INDEX_COLUMNS = {
    "credential_id": "Id of the credential, in the documents' order (credential_id order)",
    "digest_a": "DuckDB hash() of the inputs of the credential's CTDL node and OB achievement (with digest_b a "
                "128-bit digest; see warehouse/jsonld.py)",
    "digest_b": "Second half of the documents' input digest",
    "ctdl_bytes": "Byte length of the credential's node in ctdl/credentials.jsonld (without separator)",
    "ob_bytes": "Byte length of the credential's line in openbadges/achievements.jsonl (without newline)",
}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _validate_snapshot(snapshot: str) -> str:
    if not isinstance(snapshot, str) or not _SNAPSHOT.match(snapshot) or ".." in snapshot:
        raise ValueError(f"invalid snapshot name: {snapshot!r} (expected [A-Za-z0-9_.-]+)")
    return snapshot


def sha256_file(path: Path) -> str:
    """What the manifest records per file: the hex sha256 of its bytes (normalize.digests.file_sha256,
    read into one reused buffer)."""
    return _sha256_and_lines(Path(path), count=False)[0]


def _column_notes(con: duckdb.DuckDBPyConnection, table: Table | None) -> dict[str, tuple[str, str]]:
    if table is None:
        return {}
    rows = con.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
        [table.layer, table.name],
    ).fetchall()
    return {name: (dtype, comment or "") for name, dtype, comment in rows}


def _describe_file(path: Path, relative: str, sha256: str | None = None) -> dict[str, Any]:
    """Rows, bytes, sha256 and columns of a Parquet file (``sha256``: already known, for a
    file just linked from a previous snapshot after hashing it there)."""
    meta = pq.read_metadata(path)
    schema = pq.read_schema(path)
    return {
        "path": relative,
        "rows": int(meta.num_rows),
        "bytes": path.stat().st_size,
        "sha256": sha256 or sha256_file(path),
        "columns": [{"name": f.name, "type": str(f.type)} for f in schema],
    }


def _copy(con: duckdb.DuckDBPyConnection, sql: str, target: Path, partition_by: tuple[str, ...] = ()) -> None:
    options = f"FORMAT parquet, COMPRESSION {COMPRESSION}, COMPRESSION_LEVEL {COMPRESSION_LEVEL}"
    if partition_by:
        options += f", PARTITION_BY ({', '.join(quote_identifier(c) for c in partition_by)})"
    con.execute(f"COPY ({sql}) TO {_lit(str(target))} ({options})").fetchall()


def _partition_of(relative: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in Path(relative).parts[1:-1] if "=" in part)


class _Writers:
    """Cursors for the threads that write the partitions of an entity side by side."""

    def __init__(self, con: duckdb.DuckDBPyConnection, n: int = PARTITION_WRITERS) -> None:
        self._con = con
        self._n = max(1, n)
        self._cursors: list[duckdb.DuckDBPyConnection] = []

    def map(self, fn: Any, items: list[Any]) -> list[Any]:
        """``fn(cursor, item)`` for every item, on up to n threads (results in item order)."""
        if len(items) <= 1 or self._n == 1:
            return [fn(self._con, item) for item in items]
        while len(self._cursors) < self._n - 1:
            self._cursors.append(cursor(self._con))
        lanes = [self._con, *self._cursors]
        results: list[Any] = [None] * len(items)
        queue = list(enumerate(items))

        def lane(cur: duckdb.DuckDBPyConnection) -> None:
            while queue:
                try:
                    i, item = queue.pop(0)
                except IndexError:
                    return
                results[i] = fn(cur, item)

        with ThreadPoolExecutor(max_workers=len(lanes) - 1, thread_name_prefix="credcat-parquet") as pool:
            futures = [pool.submit(lane, cur) for cur in lanes[1:]]
            try:
                lane(lanes[0])
            except BaseException:
                queue.clear()
                for cur in lanes[1:]:
                    cur.interrupt()
                raise
            finally:
                for future in futures:
                    future.exception()  # wait
            for future in futures:
                future.result()
        return results

    def close(self) -> None:
        for cur in self._cursors:
            cur.close()
        self._cursors.clear()


def _partition_values(con: duckdb.DuckDBPyConnection, entity: Entity) -> list[str] | None:
    """The partition values of a single-column partitioned entity, when each can name a folder
    as PARTITION_BY would name it (plain names); None otherwise."""
    if len(entity.partition_by) != 1:
        return None
    column = quote_identifier(entity.partition_by[0])
    values = [r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM ({entity.sql()}) ORDER BY 1").fetchall()]
    if any(v is None or not isinstance(v, str) or not _PARTITION_VALUE.match(v) for v in values):
        return None
    return values


CURRENT_FILE = "data_0.parquet"
MAX_CLOSED_FILES = 16  # closed-history files per partition before they are rewritten as one


@dataclass
class _Part:
    """One file of a partition: written from ``where``, or linked from ``linked``."""

    relative: str
    where: str | None = None
    linked: dict[str, Any] | None = None
    closed: dict[str, Any] | None = None  # for closed history: valid_to_max, rows_digest
    how: str | None = None  # "linked", "cloned" or "copied" (link_or_copy), for a file taken over


def _closed_parts(con: duckdb.DuckDBPyConnection, entity: Entity, value: str, base: str, where: str,
                  columns: list[str], reuse: _Reuse | None) -> list[_Part]:
    """The closed-history files of one partition: the previous snapshot's, linked when the
    warehouse's rows closed up to their watermark are still exactly theirs (count and digest,
    which add up over files), plus one file of the rows closed since; or one file of all
    closed rows (no usable previous files, a mismatch, or MAX_CLOSED_FILES reached)."""
    closed = f"{where} AND coalesce(({entity.closed}), false)"
    at = quote_identifier(entity.closed_at)
    select = f"SELECT {', '.join(quote_identifier(c) for c in columns)} FROM ({entity.sql()}) WHERE "

    def new_file(condition: str) -> list[_Part]:
        if entity.closed_at in columns:  # one scan for the digest and the latest closing time
            digest, latest = _rows_digest(con, select + condition, latest=at)
        else:
            latest = con.execute(f"SELECT max({at}) FROM ({entity.sql()}) WHERE {condition}").fetchall()[0][0]
            digest = _rows_digest(con, select + condition) if latest is not None else []
        if latest is None:
            return []
        # Named by its latest closing time, not by the snapshot: the same warehouse gives the
        # same files, and a file of rows closed since always comes after the linked ones.
        name = latest.astimezone(UTC).strftime("closed-%Y%m%dT%H%M%S%fZ.parquet")
        return [_Part(f"{base}/{name}", condition, closed={
            "valid_to_max": latest.isoformat(), "rows_digest": [str(x) for x in digest]})]

    previous = reuse.closed_files(entity, value, columns) if reuse is not None else []
    if previous and len(previous) < MAX_CLOSED_FILES:
        watermark = _lit(max(datetime.fromisoformat(e["closed"]["valid_to_max"]) for e in previous).isoformat())
        want = [sum(int(e["closed"]["rows_digest"][i]) for e in previous) for i in range(3)]
        have = _rows_digest(con, f"{select}{closed} AND {at} <= CAST({watermark} AS TIMESTAMPTZ)")
        if have == want:
            return ([_Part(e["path"], linked=e, closed=e["closed"]) for e in previous]
                    + new_file(f"{closed} AND {at} > CAST({watermark} AS TIMESTAMPTZ)"))
    return new_file(closed)


def _export_partitions(con: duckdb.DuckDBPyConnection, entity: Entity, folder: Path, writers: _Writers,
                       reuse: _Reuse | None) -> list[tuple[Path, _Part | None]]:
    """Write ``<entity>/<column>=<value>/data_0.parquet`` per partition (one COPY each, on the
    writer threads), or hard-link the previous snapshot's file of a partition whose rows are
    the same. An entity with closed history (``Entity.closed``) keeps in ``data_0.parquet``
    only the rows still open, and its closed rows in ``closed-<time>.parquet`` files written
    once and linked by the snapshots after (``_closed_parts``). Reading the partition
    folder gives the same rows either way. Returns (path, part) per file."""
    values = _partition_values(con, entity)
    if values is None:  # unusual values: DuckDB's PARTITION_BY names the folders
        _copy(con, entity.sql(), folder / entity.name, entity.partition_by)
        return [(p, None) for p in sorted((folder / entity.name).rglob("*.parquet"))]
    (name,) = entity.partition_by
    columns = [c for c in entity_columns(con, entity) if c != name]
    kept = reuse.unchanged_partitions(con, entity, values) if reuse is not None else {}
    parts: list[_Part] = []
    for value in values:
        base = f"{entity.name}/{name}={value}"
        where = f"{quote_identifier(name)} = {_lit(value)}"
        current = f"{where} AND NOT coalesce(({entity.closed}), false)" if entity.closed else where
        parts.append(_Part(f"{base}/{CURRENT_FILE}", current, linked=kept.get(value)))
        if entity.closed:
            parts += _closed_parts(con, entity, value, base, where, columns, reuse)
    select = ", ".join(quote_identifier(c) for c in columns)

    def write(cur: duckdb.DuckDBPyConnection, part: _Part) -> tuple[Path, _Part]:
        target = folder / part.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if part.linked is not None:
            part.how = link_or_copy(reuse.previous.folder / part.linked["path"], target)
        else:
            _copy(cur, f"SELECT {select} FROM ({entity.sql()}) WHERE {part.where}", target)
        return target, part

    return writers.map(write, parts)


def entity_columns(con: duckdb.DuckDBPyConnection, entity: Entity) -> list[str]:
    return list(con.sql(f"SELECT * FROM ({entity.sql()}) LIMIT 0").columns)


def _export_entity(con: duckdb.DuckDBPyConnection, entity: Entity, folder: Path, writers: _Writers | None = None,
                   reuse: _Reuse | None = None) -> list[dict[str, Any]]:
    if entity.partition_by:
        written = _export_partitions(con, entity, folder, writers or _Writers(con, 1), reuse)
    else:
        target = folder / f"{entity.name}.parquet"
        _copy(con, entity.sql(), target)
        written = [(target, None)]
    notes = _column_notes(con, entity.table)

    def describe(cur: duckdb.DuckDBPyConnection, item: tuple[Path, _Part | None]) -> dict[str, Any]:
        path, part = item
        known = None
        if part is not None and part.linked is not None and part.how == "linked":
            # the very file checked in the previous snapshot (its sha256 known), unchanged since
            checked, now = part.linked["_checked"], os.stat(path)
            if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != checked:
                raise RuntimeError(f"{part.linked['path']} of {reuse.previous.folder} changed while it was linked")
            known = part.linked["sha256"]
        facts = _describe_file(path, path.relative_to(folder).as_posix(), known)
        if part is not None and part.linked is not None and facts["sha256"] != part.linked["sha256"]:
            raise RuntimeError(f"{part.linked['path']} of {reuse.previous.folder} changed while it was copied")
        return {**facts, "identity": file_identity(path)}

    described = (writers or _Writers(con, 1)).map(describe, written)
    entries = []
    for (_, part), facts in zip(written, described, strict=True):
        relative = facts["path"]
        entry = {"entity": entity.name, "table": entity.source, "description": entity.comment, **facts}
        if entity.partition_by:
            entry["partition"] = _partition_of(relative)
        for column in entry["columns"]:
            duckdb_type, comment = notes.get(column["name"], (None, ""))
            column["duckdb_type"] = duckdb_type
            column["description"] = comment
        if part is not None and part.closed is not None:
            entry["closed"] = part.closed
        if part is not None and part.linked is not None:
            entry["reused_from"] = part.linked.get("reused_from") or reuse.previous.name
            reuse.taken.setdefault(entity.name, []).append(relative)
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


# --- taking over from the previous snapshot -----------------------------------------------------


def _exact_terms(columns: list[tuple[str, str]], alias: str = "") -> list[str]:
    """SQL values that are equal for two rows only when the columns are (DuckDB's hash() gives
    NULL, [] and [NULL] one value and -0.0 the value of 0.0): lists, structs and maps as their
    JSON text, floats with their sign bit. ``columns``: (name, DuckDB type)."""
    terms = []
    for name, dtype in columns:
        column = alias + quote_identifier(name)
        upper = dtype.upper()
        if upper in ("DOUBLE", "FLOAT", "REAL"):
            terms += [column, f"signbit({column})"]
        elif upper.endswith("]") or upper.startswith(("STRUCT", "MAP", "UNION")):
            terms.append(f"to_json({column})")
        else:
            terms.append(column)
    return terms


def _digest_sql(terms: list[str], salt: str) -> tuple[str, str]:
    """Two 64-bit hashes of the terms (both orders): a 128-bit digest of a row."""
    return f"hash({', '.join(terms)})", f"hash({', '.join(reversed(terms))}, {_lit(salt)})"


def _rows_digest(con: duckdb.DuckDBPyConnection, select: str, latest: str | None = None) -> Any:
    """[rows, sum of digest a, sum of digest b] of the rows of ``select``: a 128-bit digest of
    each row (``_exact_terms``), summed, so it ignores the order and adds up over files.
    With ``latest`` (SQL over the columns of ``select``), ``(digest, max(latest))`` from the
    same scan."""
    relation = con.sql(f"SELECT * FROM ({select}) LIMIT 0")
    terms = _exact_terms([(c, str(t)) for c, t in zip(relation.columns, relation.types, strict=True)])
    a, b = _digest_sql(terms, "credcat-rows")
    extra = f", max({latest})" if latest is not None else ""
    row = con.execute(f"SELECT count(*), coalesce(sum({a}::HUGEINT), 0), coalesce(sum({b}::HUGEINT), 0){extra} "
                      f"FROM ({select})").fetchall()[0]
    digest = [int(x) for x in row[:3]]
    return (digest, row[3]) if latest is not None else digest


class _Reuse:
    """The previous snapshot an export may take Parquet files over from, by hard link:

    - the file of a partition of a source that has no run the previous snapshot did not have,
      when its rows there are the rows the export would write (count and digest on both sides:
      the warehouse's rows and the previous file's rows);
    - the closed-history files of a partition (``_closed_parts``).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, previous: PreviousSnapshot,
                 schemas: dict[str, dict[str, Any]]) -> None:
        self.previous = previous
        self.schemas = schemas
        runs = con.execute(f"SELECT source, run_id FROM {SOURCE_RUNS.qualified}").fetchall()
        now = {(str(s), str(r)) for s, r in runs}
        before = previous.source_runs()
        self.crawled = {s for s, _ in now ^ before}  # a run added or gone since: its rows moved
        self.taken: dict[str, list[str]] = {}

    def _want(self, entity: Entity) -> list[tuple[str, str]]:
        """(column, Parquet type) of a partition file of the entity as this export writes it."""
        schema = self.schemas[entity.name]
        return [(c, schema["properties"][c]["x-parquet-type"]) for c in schema["x-columns"]
                if c not in entity.partition_by]

    def _usable(self, relative: str, entity: Entity, value: str) -> dict[str, Any] | None:
        entry = self.previous.file_entry(relative)
        if entry is None or entry.get("entity") != entity.name or \
                entry.get("partition") != {entity.partition_by[0]: value} or \
                [(c.get("name"), c.get("type")) for c in entry.get("columns", [])] != self._want(entity):
            return None
        path = self.previous.checked_path(relative)  # there, with its size and sha256
        if path is None:
            return None
        st = path.stat()  # what is linked must be this file (see _export_entity)
        return {**entry, "_checked": (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)}

    def unchanged_partitions(self, con: duckdb.DuckDBPyConnection, entity: Entity,
                             values: list[str]) -> dict[str, dict[str, Any]]:
        """value -> previous manifest entry, for the partitions whose current file
        (``data_0.parquet``) can be linked."""
        (name,) = entity.partition_by
        if name != "source":
            return {}
        columns = ", ".join(quote_identifier(c) for c, _ in self._want(entity))
        out = {}
        for value in values:
            relative = f"{entity.name}/{name}={value}/{CURRENT_FILE}"
            entry = None if value in self.crawled else self._usable(relative, entity, value)
            if entry is None:
                continue
            where = f"{quote_identifier(name)} = {_lit(value)}"
            if entity.closed:
                where += f" AND NOT coalesce(({entity.closed}), false)"
            try:
                mine = _rows_digest(con, f"SELECT {columns} FROM ({entity.sql()}) WHERE {where}")
                path = self.previous.folder / relative
                theirs = _rows_digest(con, f"SELECT {columns} FROM read_parquet({_lit(str(path))})")
            except duckdb.Error:  # a foreign file: write the partition
                continue
            if mine == theirs:
                out[value] = entry
        return out

    def closed_files(self, entity: Entity, value: str, columns: list[str]) -> list[dict[str, Any]]:
        """The previous snapshot's closed-history files of a partition, when all of them are
        usable (listed with their watermark and digest, there, of today's columns); else []."""
        (name,) = entity.partition_by
        prefix = f"{entity.name}/{name}={value}/closed-"
        entries = [e for e in self.previous.files_of(entity.name) if str(e.get("path", "")).startswith(prefix)]
        usable = [self._usable(e["path"], entity, value) for e in entries]
        if any(u is None or not isinstance(u.get("closed"), dict) for u in usable) or \
                [c for c, _ in self._want(entity)] != columns:
            return []
        try:
            for entry in usable:
                datetime.fromisoformat(entry["closed"]["valid_to_max"])
                if len(entry["closed"]["rows_digest"]) != 3:
                    return []
                [int(x) for x in entry["closed"]["rows_digest"]]
        except (KeyError, TypeError, ValueError):
            return []
        return usable


# --- change feed --------------------------------------------------------------------------------


def _content_columns() -> list[str]:
    return [c for c in DIM_CREDENTIAL.columns.names() if c not in _NOT_CONTENT]


def _content_hash_expression(alias: str = "") -> str:
    """SQL of a credential's content_hash (``alias``: the qualifier of dim_credential's columns)."""
    fields = ", ".join(f"{quote_identifier(c)} := {alias}{quote_identifier(c)}" for c in _content_columns())
    return f"md5(CAST(to_json(struct_pack({fields})) AS VARCHAR))"


def _credential_hash_sql(extra: str = "") -> str:
    return f"SELECT credential_id, {_content_hash_expression()} AS content_hash{extra} FROM {DIM_CREDENTIAL.qualified}"


def _content_digest_sql() -> tuple[str, str]:
    """The 128-bit digest of a credential's content columns (cheap; equal digests mean equal
    content, so the content_hash of the previous snapshot holds)."""
    terms = []
    for column in _content_columns():
        if column in DIM_CREDENTIAL.json_columns:
            terms.append(f"CAST({quote_identifier(column)} AS VARCHAR)")
        else:
            terms += _exact_terms([(column, DIM_CREDENTIAL.column_type(column))])
    return _digest_sql(terms, "credcat-content")


def content_fingerprint() -> str:
    a, b = _content_digest_sql()
    return fingerprint("credential-state-1", duckdb.__version__, _credential_hash_sql(), a, b)


def _previous_state(previous: Path | None) -> Path | None:
    """The previous credential state when its digests can be trusted: listed in its manifest
    with this size and sha256, and written with the same content hash and digest."""
    snapshot = PreviousSnapshot.load(previous)
    path = snapshot.checked_path(STATE_FILE) if snapshot else None
    if path is None:
        return None
    try:
        schema = pq.read_schema(path)
    except Exception:
        return None
    fingerprint_ = (schema.metadata or {}).get(b"credcat.content_fingerprint", b"").decode()
    if fingerprint_ != content_fingerprint() or not {"credential_id", "content_hash", "digest_a",
                                                     "digest_b"} <= set(schema.names):
        return None
    return path


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
    """The change feed. content_hash is an MD5 of the credential's content as JSON (costly at a
    million credentials); a credential whose 128-bit content digest is the one it had in the
    previous state keeps the content_hash it had there, the others get theirs computed."""
    (folder / "changes").mkdir(exist_ok=True)  # the linked-data thread may have made it
    dim = DIM_CREDENTIAL.qualified
    digest_a, digest_b = _content_digest_sql()
    reusable = _previous_state(previous)
    kept = 0
    if reusable is not None:
        # One scan of the credentials: each one's digest, joined to the previous state; the
        # content_hash is computed (CASE: only for those rows) where no previous row has the
        # same id and digest, and kept from there otherwise.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _state AS SELECT d.credential_id, "
            f"CASE WHEN p.credential_id IS NULL THEN {_content_hash_expression('d.')} ELSE p.content_hash END "
            "AS content_hash, d.digest_a, d.digest_b, p.credential_id IS NOT NULL AS _kept "
            f"FROM (SELECT *, {digest_a} AS digest_a, {digest_b} AS digest_b FROM {dim}) AS d "
            f"LEFT JOIN (SELECT credential_id, content_hash, digest_a, digest_b FROM read_parquet({_lit(str(reusable))})) "
            "AS p ON p.credential_id = d.credential_id AND p.digest_a = d.digest_a AND p.digest_b = d.digest_b"
        ).fetchall()
        rows, unique, kept = con.execute(
            "SELECT count(*), count(DISTINCT credential_id), count(*) FILTER (WHERE _kept) FROM _state").fetchall()[0]
        if rows != unique:  # not a state this code wrote (an id twice): compute every hash
            reusable, kept = None, 0
    if reusable is None:  # one pass: every hash and digest
        con.execute("CREATE OR REPLACE TEMP TABLE _state AS "
                    + _credential_hash_sql(f", {digest_a} AS digest_a, {digest_b} AS digest_b, false AS _kept")
                    ).fetchall()
    state_options = (f"FORMAT parquet, COMPRESSION {COMPRESSION}, COMPRESSION_LEVEL {COMPRESSION_LEVEL}, "
                     f"KV_METADATA {{'credcat.content_fingerprint': {_lit(content_fingerprint())}}}")
    con.execute("COPY (SELECT credential_id, content_hash, digest_a, digest_b FROM _state ORDER BY credential_id) "
                f"TO {_lit(str(folder / STATE_FILE))} "
                f"({state_options})").fetchall()
    prev = f"read_parquet({_lit(str(previous / STATE_FILE))})" if previous else \
        "(SELECT NULL::VARCHAR AS credential_id, NULL::VARCHAR AS content_hash WHERE false)"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _changes AS "
        "SELECT coalesce(s.credential_id, p.credential_id) AS credential_id, "
        "CASE WHEN s.credential_id IS NULL THEN 'delete' ELSE 'upsert' END AS change, "
        "s.content_hash AS content_hash, p.content_hash AS previous_content_hash "
        f"FROM _state AS s FULL JOIN (SELECT credential_id, content_hash FROM {prev}) AS p USING (credential_id) "
        "WHERE p.credential_id IS NULL OR s.credential_id IS NULL OR s.content_hash <> p.content_hash"
    ).fetchall()
    select = "SELECT * FROM _changes ORDER BY credential_id"
    _copy(con, select, folder / CHANGES_FILE)
    con.execute(f"COPY ({select}) TO {_lit(str(folder / CHANGES_JSONL))} (FORMAT json)").fetchall()
    counts = dict(con.execute("SELECT change, count(*) FROM _changes GROUP BY ALL").fetchall())
    total = con.execute("SELECT count(*) FROM _state").fetchall()[0][0]
    return {"since": previous.name if previous else None, "upserts": int(counts.get("upsert", 0)),
            "deletes": int(counts.get("delete", 0)),
            "unchanged": int(total - counts.get("upsert", 0)), "content_hashes_kept": int(kept)}


def _describe_change_files(folder: Path) -> list[dict[str, Any]]:
    entries = []
    for name, path, description in (
        ("credential_changes", CHANGES_FILE, "Credentials upserted or deleted since the previous snapshot"),
        ("credential_state", STATE_FILE, "Content hash of every credential of this snapshot"),
    ):
        entry = {"entity": name, "table": "changes", "description": description,
                 **_describe_file(folder / path, path), "identity": file_identity(folder / path)}
        for column in entry["columns"]:
            column["duckdb_type"] = None
            column["description"] = CHANGE_COLUMNS.get(column["name"], "")
        entries.append(entry)
    return entries


# --- documents ----------------------------------------------------------------------------------


def _describe_document(folder: Path, relative: str, kind: str, rows: int | None) -> dict[str, Any]:
    path = folder / relative
    return {"path": relative, "format": kind, "rows": rows, "bytes": path.stat().st_size,
            "sha256": sha256_file(path), "identity": file_identity(path)}


def _describe_document_index(folder: Path) -> dict[str, Any]:
    entry = {"entity": "document_index", "table": "linked data",
             "description": "Per credential, the digest of its linked-data documents' inputs and the byte length "
                            "of its node in each (lets the next snapshot copy unchanged nodes)",
             **_describe_file(folder / jsonld.DOCUMENT_INDEX, jsonld.DOCUMENT_INDEX),
             "identity": file_identity(folder / jsonld.DOCUMENT_INDEX)}
    for column in entry["columns"]:
        column["duckdb_type"] = None
        column["description"] = INDEX_COLUMNS.get(column["name"], "")
    return entry


def _source_runs(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    frame = con.sql(f"SELECT * FROM {SOURCE_RUNS.qualified} ORDER BY source, run_id").to_arrow_table()
    return json.loads(json.dumps(frame.to_pylist(), default=lambda v: v.isoformat()))


class _LinkedData:
    """The CTDL and Open Badges documents, written by a second thread on its own cursor while
    the main thread writes the Parquet files and the change feed.

    Both documents come from one pass over the credentials and are hashed while written
    (together ~4 kB per credential: a second read would double the I/O). DuckDB, file writes
    and hashlib release the GIL, so on two cores the documents cost little extra wall time.
    With a previous snapshot, only the nodes of the credentials whose inputs changed are
    generated; the others are copied from its documents (``jsonld.export_documents``).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, folder: Path, previous: Path | None = None) -> None:
        self._con = cursor(con)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="credcat-linked-data")
        self._future = self._pool.submit(self._run, folder, previous)
        self.reuse: dict[str, Any] = {}

    def _run(self, folder: Path, previous: Path | None) -> list[dict[str, Any]]:
        jsonld.prepare(self._con)
        facts = jsonld.export_documents(self._con, folder, previous=previous)
        self.reuse = {key: facts[0][key] for key in ("mode", "since", "taken_over", "fallback", "previous_read")}
        return [{**{key: fact[key] for key in ("path", "format", "rows", "bytes", "sha256")},
                 "identity": file_identity(folder / fact["path"])} for fact in facts]

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

    ``previous``: the snapshot folder the change feed compares with and the export takes
    unchanged parts over from (see "Taking over" in the module docstring); True (default)
    finds the latest one in ``exports_root``, None/False makes every credential an upsert and
    computes everything. ``linked_data=False`` skips the CTDL and Open Badges documents.
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
    if previous is True:
        previous = previous_snapshot(exports_root, before=snapshot)
    previous = Path(previous) if previous else None
    staging = Path(tempfile.mkdtemp(prefix=f".{snapshot}.", suffix=".tmp", dir=exports_root))
    try:
        con = open_readonly(published_path)
        linked = _LinkedData(con, staging, previous) if linked_data else None
        writers = _Writers(con)
        try:
            files: list[dict[str, Any]] = []
            entities: dict[str, dict[str, Any]] = {}
            scratch = staging / ".scratch"
            scratch.mkdir()
            schemas = entity_schemas(con, scratch)
            scratch.rmdir()
            old = PreviousSnapshot.load(previous)
            reuse = _Reuse(con, old, schemas) if old is not None else None
            documents = []
            for entity in ENTITIES:
                entries = _export_entity(con, entity, staging, writers, reuse)
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
            taken = {"parquet_files": reuse.taken if reuse else {},
                     "content_hashes_kept": changes.pop("content_hashes_kept")}
            if linked is not None:
                documents += linked.result()
                index = _describe_document_index(staging)
                files.append(index)
                entities[index["entity"]] = {"rows": index["rows"], "files": [index["path"]],
                                             "partition_by": [], "contract": False}
                taken["documents"] = linked.reuse
        finally:
            if linked is not None:
                linked.close()
            writers.close()
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
            "reuse": {"previous": previous.name if previous else None, **taken},
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
    return _sha256_and_lines(path)[1]


def _sha256_and_lines(path: Path, *, count: bool = True, block: int = 1 << 20) -> tuple[str, int]:
    """sha256 (hex) and newline count (0 unless ``count``) of a file, in one read (one reused
    buffer; hashlib releases the GIL while it hashes a block)."""
    digest, lines = hashlib.sha256(), 0
    buffer = bytearray(block)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
            if count:
                lines += buffer.count(b"\n", 0, n)
    return digest.hexdigest(), lines


def _inside(relative: str) -> bool:
    return bool(relative) and not Path(relative).is_absolute() and ".." not in Path(relative).parts


VERIFY_WORKERS = 2  # files hashed side by side (hashlib and file reads release the GIL)


def _check_file(directory: Path, entry: dict[str, Any]) -> list[str]:
    relative = str(entry.get("path", ""))
    path = directory / relative
    if not path.is_file():
        return [f"{relative}: missing"]
    try:
        actual = _describe_file(path, relative)
    except Exception as exc:  # a corrupt file is a problem to report, not a crash
        return [f"{relative}: unreadable Parquet ({exc})"]
    problems = [f"{relative}: {key} {actual[key]!r} != manifest {entry.get(key)!r}"
                for key in ("bytes", "sha256", "rows") if entry.get(key) != actual[key]]
    declared = [(c.get("name"), c.get("type")) for c in entry.get("columns", [])]
    found = [(c["name"], c["type"]) for c in actual["columns"]]
    if declared != found:
        problems.append(f"{relative}: columns {found} != manifest {declared}")
    return problems


def _check_document(directory: Path, entry: dict[str, Any]) -> list[str]:
    relative = str(entry.get("path", ""))
    path = directory / relative
    if not _inside(relative) or not path.is_file():
        return [f"{relative}: missing"]
    problems = []
    size = path.stat().st_size
    sha256, lines = _sha256_and_lines(path, count=entry.get("format", "").endswith("jsonl"))  # one read
    if size != entry.get("bytes"):
        problems.append(f"{relative}: bytes {size} != manifest {entry.get('bytes')!r}")
    elif sha256 != entry.get("sha256"):
        problems.append(f"{relative}: sha256 differs from manifest")
    if entry.get("format", "").endswith("jsonl") and lines != entry.get("rows"):
        problems.append(f"{relative}: rows differ from manifest")
    return problems


def verify_manifest(directory: Path) -> list[str]:
    """Problems of an export folder against its manifest (empty when it matches).

    Checks every listed Parquet file's existence, bytes, sha256, row count and column
    names/types, that no Parquet file is present without a manifest entry, and every listed
    document's bytes and sha256 (and line count for JSON Lines). Every file is read and hashed,
    including those hard-linked from an earlier snapshot (VERIFY_WORKERS at a time).
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
    checks: list[tuple[Any, dict[str, Any]]] = []
    for entry in manifest.get("files", []):
        relative = str(entry.get("path", ""))
        if not _inside(relative):
            checks.append((None, f"{relative!r}: not a path inside the export folder"))
            continue
        listed.add(relative)
        checks.append((_check_file, entry))
    documents = [(_check_document, entry) for entry in manifest.get("documents", [])]

    def run(check: tuple[Any, Any]) -> list[str]:
        fn, arg = check
        return [arg] if fn is None else fn(directory, arg)

    with ThreadPoolExecutor(max_workers=VERIFY_WORKERS, thread_name_prefix="credcat-verify") as pool:
        found = list(pool.map(run, checks + documents))
    for result in found[:len(checks)]:
        problems += result
    for path in sorted(directory.rglob("*.parquet")):
        relative = path.relative_to(directory).as_posix()
        if relative not in listed:
            problems.append(f"{relative}: not in manifest")
    for result in found[len(checks):]:
        problems += result
    return problems
