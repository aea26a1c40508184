"""Load one pipeline run into a DuckDB work file: idempotent, transactional, historied.

``build`` starts the work file as a copy of the published warehouse (so history carries
over), loads the run's frames in ONE transaction (a run storing many new raw contents, such as
a first load, commits those first: ``EARLY_COMMIT_RAW_CONTENTS``) and rebuilds the marts from
the current versions. Nothing is published here: ``warehouse.publish.publish`` swaps the file in.

Rules (DESIGN.md, "Warehouse and publication"):

* raw rows are keyed by (source, run_id, source_key, record_seq) and only inserted when new,
  so loading the same run twice changes nothing; staging rows of a run are replaced as a
  whole (delete-then-insert of the run's partition; an empty input deletes nothing). Both
  are stored as sightings of contents kept once (``ddl.HISTORY_VIEWS``): a re-crawl writes a
  narrow row per record and only the contents not stored yet.
* ``marts.offering_versions`` is SCD2: a new version only when content_hash changed (the old
  one gets valid_to = run time, is_current = false); an offering missing from a COMPLETE
  crawl of its source is closed, never deleted; a source whose run is incomplete, failed,
  absent from ``source_runs``, or older than a run already loaded closes nothing. A complete
  run that yields no offering at all also closes nothing (fail closed: an empty crawl is far
  more often a broken parser than a catalog that vanished).
* An offering counts as seen by a crawl when its record is in the run's offerings, rejects or
  raw records: a record the normalizer rejected this time keeps its previous version.
* Links and credentials are upserted, never truncated: the inputs cover the offerings passed
  in, and offerings of sources that did not run keep their previous link and credential.
  The marts (fct_offering, dim_*, bridges, unmapped_values) are rebuilt from current versions
  + links, and dim_credential's membership columns are recomputed from them, so they always
  agree.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import random
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from normalize.expressions import collapse_whitespace
from normalize.keys import any_duplicated
from normalize.schema import (
    CREDENTIAL_SCHEMA,
    LINK_SCHEMA,
    OFFERING_SCHEMA,
    RAW_SCHEMA,
    REJECT_SCHEMA,
)
from normalize.unmapped import NOTE, NOTE_GROUPS
from warehouse import ddl
from warehouse.ddl import (
    BRIDGE_OFFERING_SKILL,
    BRIDGE_OFFERING_SUBJECT,
    DIM_CREDENTIAL,
    DIM_PROVIDER,
    DIM_SUBJECT,
    FCT_OFFERING,
    INT_CREDENTIALS,
    INT_OFFERING_LINKS,
    MARTS_STATE,
    OFFERING_VERSIONS,
    PRICE_HISTORY,
    RAW_RECORDS,
    RAW_SIGHTINGS,
    RECORD_FINGERPRINTS,
    SOURCE_RUN_SCHEMA,
    SOURCE_RUNS,
    STG_OFFERING_CONTENTS,
    STG_OFFERING_SIGHTINGS,
    STG_REJECTS,
    SUBJECT_SCHEMA,
    TABLES,
    UNMAPPED_VALUES,
    quote_identifier,
    validate_source_name,
)

ALIGN_SAMPLE = 4096  # rows whose keys are compared to tell a fingerprints frame lines up with raw
# The raw columns a loader may give without the payload (``RawPayloads``).
RAW_WITHOUT_PAYLOAD = [c for c in RAW_SCHEMA.names() if c != "payload"]
# What the load needs of every raw record (its sighting, the keys a crawl saw): ``from_staged``
# reads these; the other columns only for the records whose content is hashed or stored now.
RAW_NARROW = [c for c in RAW_SCHEMA.names() if c in ("source", "source_key", "fetched_at", "run_id")]
# What the load needs of every offering (its sighting, change detection, the keys a crawl saw);
# the other columns only for the offerings whose content or version is new (``OfferingContents``).
OFFERING_NARROW = [c for c in OFFERING_SCHEMA.names()
                   if c in ("offering_id", "source", "source_key", "url", "run_id", "fetched_at", "content_hash")]
_FINGERPRINT_COLUMNS = {"_fp_a": pl.UInt64(), "_fp_b": pl.UInt64(), "_fp_n": pl.UInt32(), "_fp_scheme": pl.String()}


def fingerprint_scheme(normalizer: str) -> str:
    """What a line fingerprint made by ``normalizer`` (normalize.reuse.normalizer_fingerprint)
    and the load's record hash mean together: a change of either starts
    ``ops.raw_record_fingerprints`` afresh."""
    text = "\n".join([normalizer, duckdb.__version__, ddl.raw_record_hash_sql()])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class RawPayloads:
    """The raw records' payloads (and any other column raw is given without), read only for
    the records that need them.

    With it, ``RunInputs.raw`` is given without its ``payload`` column, and may lack any other
    column but ``RAW_NARROW``'s. ``fingerprints`` has a row per raw row, in raw's order:
    ``_fp_a``, ``_fp_b``, ``_fp_n`` (the landed line's fingerprint, normalize/reuse.py; null
    where there is none) and ``_fp_scheme`` (``fingerprint_scheme``). ``fetch(mask)`` returns
    the RAW_SCHEMA columns raw lacks (a DataFrame; a Series is taken as the payload column, for
    raw given without the payload only) of the raw rows where the boolean ``mask`` is true, in
    raw's order. A record whose fingerprint the warehouse knows
    (``ops.raw_record_fingerprints``) takes its stored hash; only the others are read whole and
    hashed, and only new contents are stored (read whole)."""

    fingerprints: pl.DataFrame
    fetch: Callable[[pl.Series], pl.DataFrame | pl.Series]


@dataclass(frozen=True)
class OfferingContents:
    """The offerings' wide columns, read only for the offerings that need them.

    With it, ``RunInputs.offerings`` may lack any column but ``OFFERING_NARROW``'s.
    ``fetch(mask)`` returns the OFFERING_SCHEMA columns offerings lacks (a DataFrame) of the
    offerings where the boolean ``mask`` is true, in offerings' order. The load asks for the
    offerings whose content_hash ``staging.offering_contents`` does not hold or that is not
    their current version's (a content or a version to write); the others' contents are
    stored already under the same content_hash, which covers every column but the sighting's
    (run_id, fetched_at, url)."""

    fetch: Callable[[pl.Series], pl.DataFrame]


@dataclass(frozen=True)
class RunInputs:
    """The frames of one pipeline run, as the layers before the warehouse produced them.

    ``raw`` (RAW_SCHEMA), ``offerings`` (OFFERING_SCHEMA), ``rejects`` (REJECT_SCHEMA),
    ``links`` (LINK_SCHEMA) and ``credentials`` (CREDENTIAL_SCHEMA) are the normalize/dedup
    outputs; ``source_runs`` has SOURCE_RUN_SCHEMA (one row per crawl run, from stats.json);
    ``subjects`` is an optional ISCED-F reference list (isced_code, label, level).
    ``run_started_at`` (timezone-aware) is the time every version change of this run carries.
    With ``raw_payloads`` (``RawPayloads``) and ``offering_contents`` (``OfferingContents``),
    raw and offerings come narrow and the load reads their other columns for the rows that
    need them.
    """

    run_started_at: datetime
    raw: pl.DataFrame
    offerings: pl.DataFrame
    rejects: pl.DataFrame
    links: pl.DataFrame
    credentials: pl.DataFrame
    source_runs: pl.DataFrame
    subjects: pl.DataFrame | None = None
    raw_payloads: RawPayloads | None = None
    offering_contents: OfferingContents | None = None

    @classmethod
    def from_staged(cls, staged: Mapping[str, Mapping[str, pl.DataFrame]], *, links: pl.DataFrame,
                    credentials: pl.DataFrame, source_runs: pl.DataFrame) -> RunInputs:
        """The run's inputs from each source's staging frames (``{source: {"raw", "offerings",
        "rejects", "fingerprints"}}``, as the staging assets hand them over) and the resolve
        handoffs, stamped now. When every source's frames can be read by column and row (a
        ``read(name, columns, rows)`` and a ``columns(name)`` method: pipelines.frames.FrameFolder)
        and hold every column of their schema, raw and offerings come narrow (``RAW_NARROW``,
        ``OFFERING_NARROW``), their other columns read later only where needed
        (``RawPayloads``, ``OfferingContents``). Else every frame is read whole."""
        def concat(part: str) -> pl.DataFrame:
            return pl.concat([s[part] for s in staged.values()], how="vertical")

        now = datetime.now(UTC)
        if _narrow_readable(staged):
            raw, payloads = _staged_raw(staged)
            offerings, contents = _staged_offerings(staged)
            return cls(run_started_at=now, raw=raw, offerings=offerings, rejects=concat("rejects"),
                       links=links, credentials=credentials, source_runs=source_runs, raw_payloads=payloads,
                       offering_contents=contents)
        return cls(run_started_at=now, raw=concat("raw"), offerings=concat("offerings"), rejects=concat("rejects"),
                   links=links, credentials=credentials, source_runs=source_runs)


def _narrow_readable(staged: Mapping[str, Any]) -> bool:
    """Whether every source's raw and offerings can be read by column and row, and hold every
    column of their schema (else they are read whole, and a missing column fails the checks)."""
    if not staged:
        return False
    for frames in staged.values():
        if not (callable(getattr(frames, "read", None)) and callable(getattr(frames, "columns", None))):
            return False
        for name, schema in (("raw", RAW_SCHEMA), ("offerings", OFFERING_SCHEMA)):
            if name not in frames or not set(schema.names()) <= set(frames.columns(name)):
                return False
    return True


def _fetch_spans(name: str, columns: list[str], spans: list[tuple[Any, int, int]], total: int,
                 schema: pl.Schema) -> Callable[[pl.Series], pl.DataFrame]:
    """``fetch(mask)``: ``columns`` of frame ``name`` of the rows ``mask`` picks, over every
    source's frame (``spans``: its frames, first row and height), each read for its rows only."""
    def fetch(mask: pl.Series) -> pl.DataFrame:
        if mask.len() != total:
            raise ValueError(f"{name} mask of {mask.len()} rows for {total} {name} rows")
        parts = [(frames, mask.slice(begin, height)) for frames, begin, height in spans]
        out = [frames.read(name, columns, rows=rows) for frames, rows in parts if rows.any()]
        # Not rechunked: the columns go to DuckDB as Arrow chunks (a copy of ~1 GB otherwise).
        return (pl.concat(out, how="vertical", rechunk=False) if out
                else pl.DataFrame(schema={c: schema[c] for c in columns}))
    return fetch


def _line_fingerprints(frames: Any, raw: pl.DataFrame) -> pl.DataFrame:
    """Per raw row of one staging output, its line's fingerprint (``RawPayloads``), from the
    output's ``fingerprints`` frame when that lines up with raw row by row (same source and,
    whitespace collapsed, source_key); else nulls."""
    nulls = pl.DataFrame(schema=_FINGERPRINT_COLUMNS).clear(raw.height)
    if "fingerprints" not in frames:
        return nulls
    try:
        fp = frames.read("fingerprints", ["line", "source", "source_key", "fp_a", "fp_b", "n_bytes", "normalizer"])
    except (pl.exceptions.PolarsError, KeyError, ValueError, OSError):
        return nulls
    if fp.height != raw.height or not fp.height:
        return nulls
    # Row by row the same lines: line numbers and sources all, keys (whitespace collapsed, as
    # the fingerprints hold them) on a sample of rows.
    both = pl.concat([fp.select("line", "source", "source_key"), raw.select(_source="source", _key="source_key")],
                     how="horizontal")
    aligned = both.select((pl.col("line") == pl.int_range(pl.len())).all()
                          & pl.col("source").eq_missing(pl.col("_source")).all()).item()
    sample = both.gather(sorted(random.Random(raw.height).sample(range(raw.height), min(raw.height, ALIGN_SAMPLE))))
    if not aligned or not sample.select(
            pl.col("source_key").eq_missing(collapse_whitespace(pl.col("_key"))).all()).item():
        return nulls
    schemes = {n: fingerprint_scheme(n) for n in fp.get_column("normalizer").drop_nulls().unique().to_list()}
    return fp.select(_fp_a="fp_a", _fp_b="fp_b", _fp_n="n_bytes",
                     _fp_scheme=pl.col("normalizer").replace_strict(schemes, default=None, return_dtype=pl.String))


def _read_narrow(staged: Mapping[str, Any], name: str, narrow: list[str],
                 schema: pl.Schema) -> tuple[list[pl.DataFrame], Callable[[pl.Series], pl.DataFrame]]:
    """The ``narrow`` columns of frame ``name`` of every source (a part per source, in order),
    and ``fetch(mask)`` of its other columns over all of them (``_fetch_spans``)."""
    parts, spans = [], []
    start = 0
    for frames in staged.values():
        part = frames.read(name, narrow)
        parts.append(part)
        spans.append((frames, start, part.height))
        start += part.height
    wide = [c for c in schema.names() if c not in narrow]
    return parts, _fetch_spans(name, wide, spans, start, schema)


def _staged_raw(staged: Mapping[str, Any]) -> tuple[pl.DataFrame, RawPayloads]:
    parts, fetch = _read_narrow(staged, "raw", RAW_NARROW, RAW_SCHEMA)
    fingerprints = [_line_fingerprints(frames, raw) for frames, raw in zip(staged.values(), parts, strict=True)]
    return pl.concat(parts, how="vertical"), RawPayloads(pl.concat(fingerprints, how="vertical"), fetch)


def _staged_offerings(staged: Mapping[str, Any]) -> tuple[pl.DataFrame, OfferingContents]:
    parts, fetch = _read_narrow(staged, "offerings", OFFERING_NARROW, OFFERING_SCHEMA)
    return pl.concat(parts, how="vertical"), OfferingContents(fetch)


@dataclass(frozen=True)
class _SourcePlan:
    source: str
    run_id: str | None
    complete: bool
    stale: bool
    n_offerings: int

    @property
    def applies(self) -> bool:
        """Whether this run's offerings may open versions (not an older run than one loaded)."""
        return not self.stale

    @property
    def closes(self) -> bool:
        """Whether offerings missing from this run are closed."""
        return self.complete and not self.stale and self.n_offerings > 0


# --- input checks -------------------------------------------------------------------------------


def _conform(frame: pl.DataFrame, schema: pl.Schema, name: str) -> pl.DataFrame:
    """The frame with exactly the schema's columns, in order, cast to the schema's dtypes."""
    missing = [c for c in schema.names() if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing}")
    try:
        return frame.select([pl.col(c).cast(t, strict=True) for c, t in schema.items()])
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"{name}: does not match its schema: {exc}") from exc


def _require_unique(frame: pl.DataFrame, keys: list[str], name: str) -> None:
    if any_duplicated(frame.select(keys)):
        dupes = frame.filter(frame.select(keys).is_duplicated()).select(keys).head(3).rows()
        raise ValueError(f"{name}: duplicate {keys}: {dupes}")


def _require_not_null(frame: pl.DataFrame, columns: list[str], name: str) -> None:
    for column in columns:
        if frame[column].null_count():
            raise ValueError(f"{name}: null {column}")


def _check_sources(frames: Mapping[str, pl.DataFrame]) -> list[str]:
    sources: set[str] = set()
    for name, frame in frames.items():
        for source in frame["source"].unique().to_list():
            if source is None:
                raise ValueError(f"{name}: null source")
            validate_source_name(source)
            sources.add(source)
    return sorted(sources)


@dataclass(frozen=True)
class _Frames:
    raw: pl.DataFrame
    offerings: pl.DataFrame
    rejects: pl.DataFrame
    links: pl.DataFrame
    credentials: pl.DataFrame
    source_runs: pl.DataFrame
    subjects: pl.DataFrame | None
    sources: list[str]
    # Set when raw comes narrow (RawPayloads): raw then has _row and the _fp_ columns, and
    # fetch_raw(mask) gives the other columns (raw_fetched, conformed) of the rows asked.
    fetch_raw: Callable[[pl.Series], pl.DataFrame] | None = None
    raw_fetched: pl.Schema | None = None
    # Set when offerings come narrow (OfferingContents): offerings then has _row, and
    # fetch_offerings(mask) gives the rows asked whole (OFFERING_SCHEMA, conformed).
    fetch_offerings: Callable[[pl.Series], pl.DataFrame] | None = None


def _given(schema: pl.Schema, frame: pl.DataFrame, narrow: list[str], drop: tuple[str, ...] = ()) -> pl.Schema:
    """The columns of ``schema`` a narrow input frame is given with (at least ``narrow``)."""
    return pl.Schema({c: t for c, t in schema.items()
                      if (c in frame.columns or c in narrow) and c not in drop})


def _row_numbers(height: int) -> pl.DataFrame:
    return pl.DataFrame({"_row": pl.int_range(height, dtype=pl.UInt32, eager=True)})


def _fetch_raw(payloads: RawPayloads, fetched: pl.Schema) -> Callable[[pl.Series], pl.DataFrame]:
    def fetch(mask: pl.Series) -> pl.DataFrame:
        got = payloads.fetch(mask)
        frame = got.alias("payload").to_frame() if isinstance(got, pl.Series) else got
        if frame.height != mask.sum():
            raise ValueError(f"raw: {frame.height} rows fetched for {mask.sum()} asked")
        return _conform(frame, fetched, "raw")
    return fetch


def _fetch_offerings(contents: OfferingContents, narrow: pl.DataFrame,
                     fetched: pl.Schema) -> Callable[[pl.Series], pl.DataFrame]:
    def fetch(mask: pl.Series) -> pl.DataFrame:
        if mask.len() != narrow.height:
            raise ValueError(f"offerings mask of {mask.len()} rows for {narrow.height} offerings")
        wanted = int(mask.sum())
        if not wanted:
            return pl.DataFrame(schema=OFFERING_SCHEMA)
        frame = contents.fetch(mask)
        if frame.height != wanted:
            raise ValueError(f"offerings: {frame.height} rows fetched for {wanted} asked")
        rows = narrow if wanted == narrow.height else narrow.filter(mask)
        return pl.concat([rows.drop("_row"), _conform(frame, fetched, "offerings")],
                         how="horizontal").select(OFFERING_SCHEMA.names())
    return fetch


def _prepare(inputs: RunInputs) -> _Frames:
    """Check and conform every input before anything touches the warehouse."""
    if inputs.run_started_at.tzinfo is None:
        raise ValueError("run_started_at must be timezone-aware")
    payloads, fetch_raw, raw_fetched = inputs.raw_payloads, None, None
    if payloads is None:
        raw = _conform(inputs.raw, RAW_SCHEMA, "raw")
    else:
        given = _given(RAW_SCHEMA, inputs.raw, RAW_NARROW, drop=("payload",))
        raw = _conform(inputs.raw, given, "raw")
        if payloads.fingerprints.height != raw.height:
            raise ValueError(f"raw: {payloads.fingerprints.height} fingerprints for {raw.height} rows")
        fingerprints = _conform(payloads.fingerprints, pl.Schema(_FINGERPRINT_COLUMNS), "raw fingerprints")
        raw = pl.concat([raw, fingerprints, _row_numbers(raw.height)], how="horizontal")
        raw_fetched = pl.Schema({c: t for c, t in RAW_SCHEMA.items() if c not in given})
        fetch_raw = _fetch_raw(payloads, raw_fetched)
    contents, fetch_offerings = inputs.offering_contents, None
    if contents is None or set(OFFERING_SCHEMA.names()) <= set(inputs.offerings.columns):
        offerings = _conform(inputs.offerings, OFFERING_SCHEMA, "offerings")
    else:
        given = _given(OFFERING_SCHEMA, inputs.offerings, OFFERING_NARROW)
        offerings = _conform(inputs.offerings, given, "offerings")
        offerings = pl.concat([offerings, _row_numbers(offerings.height)], how="horizontal")
        fetch_offerings = _fetch_offerings(
            contents, offerings, pl.Schema({c: t for c, t in OFFERING_SCHEMA.items() if c not in given}))
    rejects = _conform(inputs.rejects, REJECT_SCHEMA, "rejects")
    links = _conform(inputs.links, LINK_SCHEMA, "links")
    credentials = _conform(inputs.credentials, CREDENTIAL_SCHEMA, "credentials")
    source_runs = _conform(inputs.source_runs, SOURCE_RUN_SCHEMA, "source_runs")
    subjects = None
    if inputs.subjects is not None and inputs.subjects.height:
        subjects = _conform(
            inputs.subjects.with_columns(pl.col("level").cast(pl.String))
            if "level" in inputs.subjects.columns
            else inputs.subjects.with_columns(level=pl.lit(None, pl.String)),
            SUBJECT_SCHEMA,
            "subjects",
        ).filter(pl.col("isced_code").is_not_null())
        _require_unique(subjects, ["isced_code"], "subjects")

    sources = _check_sources(
        {"raw": raw, "offerings": offerings, "rejects": rejects, "source_runs": source_runs}
    )
    _require_not_null(raw, ["run_id", "source_key"], "raw")
    _require_not_null(offerings, ["offering_id", "source_key", "run_id", "content_hash"], "offerings")
    _require_not_null(rejects, ["run_id"], "rejects")
    _require_not_null(links, ["offering_id"], "links")
    _require_not_null(credentials, ["credential_id"], "credentials")
    _require_not_null(source_runs, ["run_id"], "source_runs")
    _require_unique(offerings, ["offering_id"], "offerings")
    _require_unique(links, ["offering_id"], "links")
    _require_unique(credentials, ["credential_id"], "credentials")
    _require_unique(source_runs, ["source", "run_id"], "source_runs")

    # A source may repeat a key within a run (normalize rejects the repeats); keep every record.
    # Usually no key repeats: when no two rows' hashes of the key are equal, every record_seq is
    # 0 (what the numbering over the key gives then), without grouping 1M rows by three strings.
    key = ("source", "run_id", "source_key")
    if raw.height and not raw.select(pl.struct(*key).hash().is_duplicated().any()).item():
        raw = raw.with_columns(record_seq=pl.lit(0, dtype=pl.Int32))
    else:
        raw = raw.with_columns(record_seq=pl.int_range(pl.len(), dtype=pl.Int32).over(*key))
    return _Frames(raw, offerings, rejects, links, credentials, source_runs, subjects, sources,
                   fetch_raw, raw_fetched, fetch_offerings)


# --- connection helpers -------------------------------------------------------------------------


BUILD_MEMORY_LIMIT = "1500MB"  # DuckDB's share of a build; $CREDCAT_DUCKDB_MEMORY_LIMIT overrides


def connect_writable(path: Path) -> duckdb.DuckDBPyConnection:
    """A writable connection to the warehouse file at ``path`` (see ``ddl.attach``).

    DuckDB's buffer manager is capped (``BUILD_MEMORY_LIMIT``, or
    ``$CREDCAT_DUCKDB_MEMORY_LIMIT``, read when the connection opens): by default it may take
    80% of the machine and held ~7 GB of a 1M-offering build in memory beside the input frames
    (the load stage of ``make bench`` peaked at 11.7 GiB; with 1.5 GB, 7.6 GiB in the same 57 s).
    Over the cap it writes blocks to the file or spills to a temp folder beside it.
    """
    con = ddl.attach(str(path))
    try:
        limit = os.environ.get("CREDCAT_DUCKDB_MEMORY_LIMIT") or BUILD_MEMORY_LIMIT
        con.execute("SET memory_limit = ?", [limit])
        con.execute("SET temp_directory = ?", [str(Path(path).parent / ".duckdb-tmp")])
    except BaseException:
        con.close()
        raise
    return con


@contextlib.contextmanager
def _registered(con: duckdb.DuckDBPyConnection, frames: Mapping[str, pl.DataFrame]) -> Iterator[None]:
    """Register frames as Arrow with Polars' own string views: zero-copy. (Registering the
    Polars frame itself converts every string to a new Arrow buffer: ~1 GB and ~1 s per
    million wide rows.)"""
    for name, frame in frames.items():
        con.register(name, frame.to_arrow(compat_level=pl.CompatLevel.newest()))
    try:
        yield
    finally:
        for name in frames:
            con.unregister(name)


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    con.commit()


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _write(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> int:
    """Run an INSERT/UPDATE/DELETE and return the number of rows it changed."""
    return _count(con, sql, params)


def _cols(names: list[str], alias: str | None = None) -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + quote_identifier(n) for n in names)


def _input_exprs(table: ddl.Table, names: list[str], alias: str | None = None) -> str:
    """The select list of an input frame's columns ``names`` for ``table``; JSON columns that
    are not valid JSON are stored as a JSON string of their text (one bad payload never fails
    a load)."""
    exprs = []
    for name in names:
        col = (f"{alias}." if alias else "") + quote_identifier(name)
        if name in table.json_columns:
            exprs.append(
                f"CASE WHEN {col} IS NULL OR json_valid({col}) THEN {col} "
                f"ELSE to_json({col}) END AS {quote_identifier(name)}"
            )
        else:
            exprs.append(f"{col} AS {quote_identifier(name)}" if alias else col)
    return ", ".join(exprs)


def _input_select(table: ddl.Table, frame: str, schema: pl.Schema) -> str:
    """SELECT of an input frame's columns for ``table`` (``_input_exprs``)."""
    return f"SELECT {_input_exprs(table, schema.names())} FROM {frame}"


# --- steps --------------------------------------------------------------------------------------


def _runs_in(frame: pl.DataFrame) -> list[tuple[str, str]]:
    """The (source, run_id) partitions of an input frame."""
    return sorted(frame.select("source", "run_id").unique().iter_rows())


def _loaded_runs(con: duckdb.DuckDBPyConnection, table: ddl.Table,
                 runs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Which of ``runs`` already have rows in ``table``.

    Reads only the source and run_id columns with the run ids as constants (pushed into the
    scan), instead of joining the whole table, which grows with every run, on its full key.
    """
    if not runs:
        return []
    ids = sorted({run_id for _, run_id in runs})
    found = con.execute(
        f"SELECT DISTINCT source, run_id FROM {table.qualified} "
        f"WHERE run_id IN ({', '.join('?' for _ in ids)})", ids
    ).fetchall()
    return sorted(set(found) & set(runs))


def _load_raw(con: duckdb.DuckDBPyConnection, runs: list[tuple[str, str]]) -> dict[str, int]:
    """Record the run's raw records: a sighting per record not yet loaded (all of them for runs
    never seen, the usual case, else those whose key is new within the runs already present),
    and each content not yet stored (``raw.raw_records``, by source, source_key and
    ``ddl.raw_record_hash_sql``). Return the sightings and the contents inserted.

    The hashes are computed once, into a narrow temp table, from the values as given (no JSON
    validation); only the rows of new contents are conformed and read whole from the input
    (a re-crawl mostly repeats stored contents)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _raw_seen AS SELECT "
        f"{_cols([c for c in RAW_SIGHTINGS.columns if c != 'record_hash'])}, "
        f"{ddl.raw_record_hash_sql()} AS record_hash "
        "FROM _in_raw"
    )
    sightings = _insert_sightings(con, runs)
    _find_new_contents(con)
    contents = _insert_contents(con, "_in_raw")
    con.execute("DROP TABLE _raw_seen")
    con.execute("DROP TABLE _raw_new")
    return {"raw_inserted": sightings, "raw_contents_inserted": contents}


# The input row of a content's first sighting (``_raw_new.first``), ``i`` the input, ``n`` _raw_new.
_FIRST_SIGHTING = ("i.source = n.source AND i.source_key = n.source_key "
                   "AND i.run_id = n.first.run_id AND i.record_seq = n.first.record_seq")


def _insert_sightings(con: duckdb.DuckDBPyConnection, runs: list[tuple[str, str]], columns: str = "*") -> int:
    """Append ``_raw_seen`` (``columns`` of it) to raw_sightings, but the records of runs
    already loaded that are there (by source, run_id, source_key, record_seq)."""
    loaded = _loaded_runs(con, RAW_SIGHTINGS, runs)
    if not loaded:
        return _write(con, f"INSERT INTO {RAW_SIGHTINGS.qualified} BY NAME SELECT {columns} FROM _raw_seen")
    key = ["source", "run_id", "source_key", "record_seq"]
    on = " AND ".join(f"r.{quote_identifier(k)} = i.{quote_identifier(k)}" for k in key)
    ids = sorted({run_id for _, run_id in loaded})
    return _write(
        con,
        f"INSERT INTO {RAW_SIGHTINGS.qualified} BY NAME SELECT {columns} FROM _raw_seen AS i "
        f"WHERE NOT EXISTS (SELECT 1 FROM {RAW_SIGHTINGS.qualified} AS r "
        f"WHERE r.run_id IN ({', '.join('?' for _ in ids)}) AND {on})",
        ids,
    )


def _find_new_contents(con: duckdb.DuckDBPyConnection) -> None:
    """``_raw_new``: each content of ``_raw_seen`` not stored yet, with its first sighting."""
    content_key = " AND ".join(f"c.{k} = n.{k}" for k in ("source", "source_key", "record_hash"))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _raw_new AS "
        "SELECT source, source_key, record_hash, "
        "min(struct_pack(run_id := run_id, record_seq := record_seq)) AS first FROM _raw_seen AS n "
        f"WHERE NOT EXISTS (SELECT 1 FROM {RAW_RECORDS.qualified} AS c WHERE {content_key}) "
        "GROUP BY source, source_key, record_hash"
    )


def _insert_contents(con: duckdb.DuckDBPyConnection, source: str) -> int:
    """Store the contents of ``_raw_new`` from their first sightings' rows of ``source`` (an
    input relation with the payloads of those rows)."""
    content_cols = [c for c in RAW_RECORDS.columns if c != "record_hash"]
    return _write(
        con,
        f"INSERT INTO {RAW_RECORDS.qualified} BY NAME SELECT {_input_exprs(RAW_RECORDS, content_cols, 'i')}, "
        f"n.record_hash FROM {source} AS i JOIN _raw_new AS n ON {_FIRST_SIGHTING}",
    )


def _load_raw_by_fingerprint(con: duckdb.DuckDBPyConnection, runs: list[tuple[str, str]], raw: pl.DataFrame,
                             fetch: Callable[[pl.Series], pl.DataFrame], fetched: pl.Schema) -> dict[str, int]:
    """``_load_raw`` for raw given narrow (``RawPayloads``): a record whose line fingerprint
    ``ops.raw_record_fingerprints`` holds takes that record_hash; the others are read whole
    (``fetch`` gives their ``fetched`` columns, the payload among them) and hashed as
    ``_load_raw`` does, and their fingerprints recorded. Contents not stored yet are stored,
    read whole where not yet (a known fingerprint whose content is missing, e.g. a warehouse
    restored from an older copy, has its record read like any other, and its hash checked
    against the content). The same rows as ``_load_raw`` gives. The rows read whole are handed
    to DuckDB as Arrow (``_in_raw_payload``), never copied into a table."""
    ddl.ensure_record_fingerprints(con)
    known = RECORD_FINGERPRINTS.qualified
    match = ("f.source = i.source AND f.fp_a = i._fp_a AND f.fp_b = i._fp_b AND f.n_bytes = i._fp_n "
             "AND f.scheme = i._fp_scheme")
    # Fingerprints of schemes no input uses any more are dropped (a new normalizer or DuckDB).
    dropped = _write(con, f"DELETE FROM {known} WHERE scheme NOT IN "
                          "(SELECT DISTINCT _fp_scheme FROM _in_raw WHERE _fp_scheme IS NOT NULL)")
    parts: list[pl.DataFrame] = []

    def read_payloads(rows_sql: str) -> int:
        """Read the payloads of the raw rows ``rows_sql`` selects into ``_in_raw_payload``."""
        rows = con.sql(rows_sql).pl().get_column("_row")
        if not rows.len():
            return 0
        if rows.len() == raw.height:
            mask, subset = pl.repeat(True, raw.height, eager=True), raw
        else:
            mask = pl.repeat(False, raw.height, eager=True).scatter(rows, True)
            subset = raw.filter(mask)
        parts.append(pl.concat([subset, fetch(mask)], how="horizontal"))
        frame = parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical", rechunk=False)
        con.register("_in_raw_payload", frame.to_arrow(compat_level=pl.CompatLevel.newest()))
        return rows.len()

    try:
        read = read_payloads(f"SELECT _row FROM _in_raw AS i WHERE NOT EXISTS (SELECT 1 FROM {known} AS f WHERE {match})")
        if not read:  # nothing to read: an empty relation
            con.register("_in_raw_payload", pl.concat([raw.head(0), pl.DataFrame(schema=fetched)], how="horizontal")
                         .to_arrow(compat_level=pl.CompatLevel.newest()))
        sighting = [c for c in RAW_SIGHTINGS.columns if c != "record_hash"]
        con.execute(f"CREATE OR REPLACE TEMP TABLE _raw_hashed AS SELECT _row, "
                    f"{ddl.raw_record_hash_sql()} AS record_hash FROM _in_raw_payload")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _raw_seen AS SELECT i._row, {_cols(sighting, 'i')}, "
            "coalesce(h.record_hash, f.record_hash) AS record_hash FROM _in_raw AS i "
            "LEFT JOIN _raw_hashed AS h USING (_row) "
            f"LEFT JOIN {known} AS f ON {match}")
        if _count(con, "SELECT count(*) FROM _raw_seen WHERE record_hash IS NULL"):
            raise RuntimeError("raw records without a record_hash after the fingerprint lookup")  # a bug, not data
        sightings = _insert_sightings(con, runs, "* EXCLUDE (_row)")
        _find_new_contents(con)
        # New contents of records that took a known hash: their payloads too, and their hashes
        # checked against those contents.
        later = read_payloads(f"SELECT i._row FROM _in_raw AS i JOIN _raw_new AS n ON {_FIRST_SIGHTING} "
                              "WHERE i._row NOT IN (SELECT _row FROM _raw_hashed) ORDER BY i._row")
        if later:
            wrong = _count(con, f"SELECT count(*) FROM (SELECT _row, {ddl.raw_record_hash_sql()} AS h "
                                "FROM _in_raw_payload WHERE _row NOT IN (SELECT _row FROM _raw_hashed)) AS w "
                                "JOIN _raw_seen AS s USING (_row) WHERE w.h <> s.record_hash")
            if wrong:
                raise RuntimeError(f"{known} gives {wrong} record(s) a record_hash their content does not have; "
                                   "nothing is loaded. Delete that table's rows (the next loads rebuild it) and run "
                                   "again.")
        contents = _insert_contents(con, "_in_raw_payload")
        # The fingerprints of the records hashed now, once each.
        recorded = _write(
            con,
            f"INSERT INTO {known} SELECT i.source, i._fp_a, i._fp_b, i._fp_n, i._fp_scheme, "
            "any_value(h.record_hash) FROM _in_raw AS i JOIN _raw_hashed AS h USING (_row) "
            "WHERE i._fp_a IS NOT NULL AND i._fp_b IS NOT NULL AND i._fp_n IS NOT NULL AND i._fp_scheme IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {known} AS f WHERE {match}) "
            "GROUP BY i.source, i._fp_a, i._fp_b, i._fp_n, i._fp_scheme")
        for table in ("_raw_seen", "_raw_new", "_raw_hashed"):
            con.execute(f"DROP TABLE {table}")
    finally:
        with contextlib.suppress(Exception):
            con.unregister("_in_raw_payload")
    return {"raw_inserted": sightings, "raw_contents_inserted": contents, "raw_payloads_read": read + later,
            "fingerprints_recorded": recorded, "fingerprints_dropped": dropped}


def _replace_run_partitions(con: duckdb.DuckDBPyConnection, table: ddl.Table, frame: str,
                            runs: list[tuple[str, str]], columns: list[str] | None = None) -> int:
    """Delete-then-insert the (source, run_id) partitions present in ``frame`` (``runs``);
    ``columns``: the frame's columns to insert (default all).

    Partitions come from the input, so an empty input deletes nothing (fails closed).
    """
    loaded = _loaded_runs(con, table, runs)
    if loaded:
        ids = sorted({run_id for _, run_id in loaded})
        con.execute(
            f"DELETE FROM {table.qualified} AS t WHERE t.run_id IN ({', '.join('?' for _ in ids)}) "
            f"AND EXISTS (SELECT 1 FROM {frame} AS i WHERE i.source = t.source AND i.run_id = t.run_id)",
            ids,
        )
    select = _cols(columns) if columns else "*"
    return _write(con, f"INSERT INTO {table.qualified} BY NAME SELECT {select} FROM {frame}")


def _offerings_whole(con: duckdb.DuckDBPyConnection, frames: _Frames) -> tuple[pl.DataFrame, dict[str, int]]:
    """The offerings whose whole rows the load writes (``_in_offerings_whole``): all of them
    when they were given whole, else those read now (``OfferingContents``): whose content_hash
    ``staging.offering_contents`` does not hold, or that is not their current version's. The
    load reads the others' narrow columns only: their contents are stored and stay current."""
    if frames.fetch_offerings is None:
        return frames.offerings, {}
    rows = con.sql(
        "SELECT _row FROM _in_offerings AS i "
        f"WHERE NOT EXISTS (SELECT 1 FROM {STG_OFFERING_CONTENTS.qualified} AS c WHERE c.content_hash = i.content_hash) "
        f"OR NOT EXISTS (SELECT 1 FROM {OFFERING_VERSIONS.qualified} AS v "
        "WHERE v.is_current AND v.offering_id = i.offering_id AND v.content_hash = i.content_hash)"
    ).pl().get_column("_row")
    n = frames.offerings.height
    mask = (pl.repeat(True, n, eager=True) if rows.len() == n
            else pl.repeat(False, n, eager=True).scatter(rows, True))
    return frames.fetch_offerings(mask), {"offerings_read_whole": rows.len()}


def _load_staged_offerings(con: duckdb.DuckDBPyConnection, runs: list[tuple[str, str]]) -> dict[str, int]:
    """The run's offerings: its sightings replace the run's (``_replace_run_partitions``), and
    each content (by ``content_hash``, which covers every field but the sighting's) not
    stored yet is added to ``staging.offering_contents`` (from ``_in_offerings_whole``, which
    holds them: ``_offerings_whole``). Offering ids are unique in the input and content_hash
    covers them, so the input holds each content once."""
    loaded = _replace_run_partitions(con, STG_OFFERING_SIGHTINGS, "_in_offering_sightings", runs)
    contents = _write(
        con,
        f"INSERT INTO {STG_OFFERING_CONTENTS.qualified} BY NAME "
        f"SELECT {_cols(list(STG_OFFERING_CONTENTS.columns.names()), 'i')} FROM _in_offerings_whole AS i "
        f"WHERE NOT EXISTS (SELECT 1 FROM {STG_OFFERING_CONTENTS.qualified} AS c "
        "WHERE c.content_hash = i.content_hash)",
    )
    return {"staging_offerings_loaded": loaded, "staging_offering_contents_inserted": contents}


def _plan_sources(con: duckdb.DuckDBPyConnection, frames: _Frames) -> dict[str, _SourcePlan]:
    """Per source: which run this is, whether it is complete, and whether it is stale."""
    loaded = con.execute(
        f"SELECT source, run_id, started_at FROM {SOURCE_RUNS.qualified}"
    ).fetchall()
    offering_counts = dict(frames.offerings.group_by("source").len().iter_rows())
    plans: dict[str, _SourcePlan] = {}
    for source in sorted(set(frames.offerings["source"]) | set(frames.source_runs["source"])):
        runs = frames.source_runs.filter(pl.col("source") == source).sort(
            "started_at", descending=True, nulls_last=True
        )
        n_offerings = int(offering_counts.get(source, 0))
        if runs.height == 0:
            plans[source] = _SourcePlan(source, None, False, False, n_offerings)
            continue
        run = runs.row(0, named=True)
        newer_loaded = [
            started
            for src, run_id, started in loaded
            if src == source and run_id != run["run_id"] and started is not None
            and run["started_at"] is not None and started > run["started_at"]
        ]
        plans[source] = _SourcePlan(
            source, run["run_id"], bool(run["complete"]), bool(newer_loaded), n_offerings
        )
    return plans


def _check_clock(con: duckdb.DuckDBPyConnection, run_time: datetime) -> None:
    latest = con.execute(
        f"SELECT max(greatest(valid_from, coalesce(valid_to, valid_from))) "
        f"FROM {OFFERING_VERSIONS.qualified}"
    ).fetchone()[0]
    if latest is not None and run_time < latest:
        raise ValueError(
            f"run_started_at {run_time.isoformat()} is earlier than the warehouse's latest "
            f"version change {latest.isoformat()}: history only moves forward"
        )


def _apply_versions(con: duckdb.DuckDBPyConnection, run_time: datetime,
                    plans: dict[str, _SourcePlan]) -> dict[str, int]:
    """SCD2 on marts.offering_versions; returns counts. A version opened is read from
    ``_in_offerings_whole`` (``_offerings_whole``: it holds every offering whose content is not
    its current version's), the rest from ``_in_offerings`` (narrow columns only)."""
    versions = OFFERING_VERSIONS.qualified
    applying = pl.DataFrame({"source": [p.source for p in plans.values() if p.applies]},
                            schema={"source": pl.String()})
    closing = pl.DataFrame({"source": [p.source for p in plans.values() if p.closes]},
                           schema={"source": pl.String()})
    params = {"t": run_time}
    with _registered(con, {"_applying": applying, "_closing": closing}):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _delta AS "
            "SELECT i.offering_id, "
            "CASE WHEN v.offering_id IS NULL THEN 'new' "
            "     WHEN v.content_hash IS DISTINCT FROM i.content_hash THEN 'changed' "
            "     ELSE 'unchanged' END AS change "
            f"FROM _in_offerings AS i LEFT JOIN {versions} AS v "
            "  ON v.offering_id = i.offering_id AND v.is_current "
            "WHERE i.source IN (SELECT source FROM _applying)"
        )
        counts = dict(
            con.execute("SELECT change, count(*) FROM _delta GROUP BY change").fetchall()
        )
        # A version opened at this very instant and changed again (the same run time loaded
        # twice with different content) is replaced, not closed: it never held for any time.
        replaced = _write(
            con,
            f"DELETE FROM {versions} WHERE is_current AND valid_from = $t AND offering_id IN "
            "(SELECT offering_id FROM _delta WHERE change = 'changed')",
            params,
        )
        closed_changed = _write(
            con,
            f"UPDATE {versions} SET valid_to = $t, is_current = false WHERE is_current AND "
            "offering_id IN (SELECT offering_id FROM _delta WHERE change = 'changed')",
            params,
        )
        opened = _write(
            con,
            f"INSERT INTO {versions} BY NAME "
            "SELECT i.*, $t AS valid_from, NULL::TIMESTAMPTZ AS valid_to, true AS is_current, "
            "i.fetched_at AS last_seen_at, i.run_id AS last_seen_run_id "
            "FROM _in_offerings_whole AS i JOIN _delta AS d USING (offering_id) "
            "WHERE d.change IN ('new', 'changed')",
            params,
        )
        # Provenance (where and when it was last seen) is refreshed in place: a new URL
        # alone is not a new version of the offering's content. The URL is set only where it
        # differs (first, while last_seen_at still tells which sighting is newer): an UPDATE
        # of a column makes the commit rewrite that column, and URLs rarely change while
        # every crawl moves last_seen_at.
        fresher = ("FROM _in_offerings AS i "
                   "WHERE v.is_current AND v.offering_id = i.offering_id "
                   "AND i.offering_id IN (SELECT offering_id FROM _delta WHERE change = 'unchanged') "
                   "AND (v.last_seen_at IS NULL OR i.fetched_at >= v.last_seen_at) ")
        _write(con, f"UPDATE {versions} AS v SET url = i.url {fresher}AND v.url IS DISTINCT FROM i.url")
        _write(
            con,
            f"UPDATE {versions} AS v SET last_seen_at = i.fetched_at, last_seen_run_id = i.run_id {fresher}"
            "AND (v.last_seen_at IS DISTINCT FROM i.fetched_at OR v.last_seen_run_id IS DISTINCT FROM i.run_id)",
        )
        # Seen by the crawl: offered, rejected or merely landed raw this run.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _seen AS "
            "SELECT DISTINCT source, source_key FROM ("
            "  SELECT source, source_key FROM _in_offerings UNION ALL "
            "  SELECT source, source_key FROM _in_rejects WHERE source_key IS NOT NULL UNION ALL "
            "  SELECT source, source_key FROM _in_raw"
            ") WHERE source IN (SELECT source FROM _closing)"
        )
        closed_missing = _write(
            con,
            f"UPDATE {versions} AS v SET valid_to = $t, is_current = false "
            "WHERE v.is_current AND v.source IN (SELECT source FROM _closing) "
            "AND NOT EXISTS (SELECT 1 FROM _seen AS s "
            "                WHERE s.source = v.source AND s.source_key = v.source_key)",
            params,
        )
        con.execute("DROP TABLE _delta")
        con.execute("DROP TABLE _seen")
    return {
        "versions_opened": opened,
        "versions_new_offerings": int(counts.get("new", 0)),
        "versions_closed_changed": closed_changed - replaced,
        "versions_replaced_same_instant": replaced,
        "versions_closed_missing": closed_missing,
        "versions_closed": closed_changed - replaced + closed_missing,
        "unchanged": int(counts.get("unchanged", 0)),
    }


_PRICE_COLUMNS = ("price_amount", "price_currency", "price_usd", "is_free", "free_to_audit")


def _apply_price_history(con: duckdb.DuckDBPyConnection, run_time: datetime) -> dict[str, int]:
    """Bring marts.price_history up to date with offering_versions, incrementally.

    Only offerings whose versions changed at this run time (opened, closed or replaced) and
    offerings with no price history yet (a warehouse from before the table existed) are
    recomputed: their versions are folded into spans of consecutive versions with the same
    price (a gap, i.e. a closed and reappeared offering, starts a new span). Rows that differ
    from the stored ones are replaced; equal rows are not touched, so a change of anything
    but the price writes nothing here.
    """
    history, versions = PRICE_HISTORY.qualified, OFFERING_VERSIONS.qualified
    price = ", ".join(f"{quote_identifier(c)} := {quote_identifier(c)}" for c in _PRICE_COLUMNS)
    prices = _cols(list(_PRICE_COLUMNS))
    columns = list(PRICE_HISTORY.columns.names())
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ph_offerings AS "
        f"SELECT DISTINCT offering_id FROM {versions} WHERE valid_from = $t OR valid_to = $t "
        f"UNION SELECT offering_id FROM {versions} "
        f"WHERE offering_id NOT IN (SELECT offering_id FROM {history})",
        {"t": run_time},
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ph_versions AS "
        f"SELECT offering_id, valid_from, valid_to, is_current, {prices} FROM {versions} "
        "WHERE offering_id IN (SELECT offering_id FROM _ph_offerings)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ph_multi AS "
        "SELECT offering_id FROM _ph_versions GROUP BY offering_id HAVING count(*) > 1"
    )
    # An offering with one version has one span: the version itself (most offerings, and every
    # offering of a first load). Only offerings with several versions are folded by window.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ph_want AS "
        f"SELECT {_cols(columns)} FROM _ph_versions "
        "WHERE offering_id NOT IN (SELECT offering_id FROM _ph_multi) "
        "UNION ALL "
        "SELECT offering_id, valid_from, valid_to, is_current, price.* FROM ("
        "WITH v AS ("
        f"  SELECT offering_id, valid_from, valid_to, is_current, struct_pack({price}) AS price "
        "  FROM _ph_versions WHERE offering_id IN (SELECT offering_id FROM _ph_multi)"
        "), marked AS ("
        "  SELECT *, CASE WHEN lag(valid_to) OVER w IS DISTINCT FROM valid_from "
        "                   OR lag(price) OVER w IS DISTINCT FROM price THEN 1 ELSE 0 END AS starts "
        "  FROM v WINDOW w AS (PARTITION BY offering_id ORDER BY valid_from)"
        "), spans AS ("
        "  SELECT *, sum(starts) OVER (PARTITION BY offering_id ORDER BY valid_from "
        "                              ROWS UNBOUNDED PRECEDING) AS span FROM marked"
        ") SELECT offering_id, min(valid_from) AS valid_from, "
        "  CASE WHEN count(valid_to) < count(*) THEN NULL ELSE max(valid_to) END AS valid_to, "
        "  bool_or(is_current) AS is_current, "
        "  any_value(price) AS price FROM spans GROUP BY offering_id, span)"
    )
    # Rows are matched on the key (offering_id, valid_from) and compared column by column.
    same = " AND ".join(f"w.{quote_identifier(c)} IS NOT DISTINCT FROM h.{quote_identifier(c)}"
                        for c in columns if c not in ("offering_id", "valid_from"))
    removed = _write(
        con,
        f"DELETE FROM {history} AS h WHERE h.offering_id IN (SELECT offering_id FROM _ph_offerings) "
        "AND NOT EXISTS (SELECT 1 FROM _ph_want AS w WHERE w.offering_id = h.offering_id "
        f"AND w.valid_from = h.valid_from AND {same})",
    )
    added = _write(
        con,
        f"INSERT INTO {history} BY NAME SELECT w.* FROM _ph_want AS w "
        f"LEFT JOIN {history} AS h ON h.offering_id = w.offering_id AND h.valid_from = w.valid_from "
        "WHERE h.offering_id IS NULL",
    )
    for temp in ("_ph_offerings", "_ph_versions", "_ph_multi", "_ph_want"):
        con.execute(f"DROP TABLE {temp}")
    return {"price_history_written": added, "price_history_removed": removed}


def _upsert_changed(con: duckdb.DuckDBPyConnection, table: ddl.Table, frame: str,
                    key: str, stamp_column: str, run_time: datetime) -> int:
    """Replace the rows of ``table`` whose values differ from the input; stamp them.

    Rows equal to the input keep their stamp, so reloading a run changes nothing. New keys
    are inserted as they are; rows whose values differ (IS DISTINCT FROM, column by column, so
    NULLs compare equal) replace the stored ones. Only the keys whose row hash differs are
    compared column by column (a run changes a few percent of the rows).
    """
    value_cols = [c for c in table.columns.names() if c != stamp_column]
    k = quote_identifier(key)
    # Candidates first: the keys whose row hash differs from the stored row's, or that are
    # new. Hashing each side on its own and joining (key, hash) is a quarter of the work of
    # joining the wide rows and comparing them (800k credentials). JSON columns are hashed as
    # text: the input as given (equal text is an equal stored value, see below), the stored
    # JSON as its text. A row that differs has a different hash, barring a 64-bit collision
    # of that row's own values (the bet ``ddl.raw_record_hash_sql`` makes too).
    hashed = [c for c in value_cols if c != key]

    def row_hash(alias: str) -> str:
        if not hashed:
            return "0"
        return "hash(" + ", ".join(
            f"CAST({alias}.{quote_identifier(c)} AS "
            f"{'VARCHAR' if c in table.json_columns else table.column_type(c)})" for c in hashed) + ")"

    con.execute(
        "CREATE OR REPLACE TEMP TABLE _candidates AS "
        f"SELECT i.{k} FROM (SELECT {k}, {row_hash('f')} AS _h FROM {frame} AS f) AS i "
        f"ANTI JOIN (SELECT {k}, {row_hash('s')} AS _h FROM {table.qualified} AS s) AS t "
        f"ON t.{k} = i.{k} AND t._h = i._h"
    )
    # Then the candidates compared column by column as stored (IS DISTINCT FROM, so NULLs
    # compare equal; JSON columns as ``_input_exprs`` stores them).
    differs = " OR ".join(f"i.{quote_identifier(c)} IS DISTINCT FROM t.{quote_identifier(c)}" for c in hashed)
    source = _input_select(table, frame, pl.Schema({c: table.columns[c] for c in value_cols}))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _changed AS "
        f"SELECT i.*, t.{k} IS NOT NULL AS _existed FROM ({source} WHERE {k} IN (SELECT {k} FROM _candidates)) AS i "
        f"LEFT JOIN (SELECT * FROM {table.qualified} WHERE {k} IN (SELECT {k} FROM _candidates)) AS t ON t.{k} = i.{k} "
        f"WHERE t.{k} IS NULL OR {differs or 'false'}"
    )
    con.execute("DROP TABLE _candidates")
    if _count(con, "SELECT count(*) FROM _changed WHERE _existed"):
        con.execute(f"DELETE FROM {table.qualified} WHERE {k} IN (SELECT {k} FROM _changed WHERE _existed)")
    changed = _write(
        con,
        f"INSERT INTO {table.qualified} BY NAME "
        f"SELECT * EXCLUDE (_existed), $t AS {quote_identifier(stamp_column)} FROM _changed",
        {"t": run_time},
    )
    con.execute("DROP TABLE _changed")
    return changed


def _provider_key(column: str) -> str:
    col = quote_identifier(column)
    return f"substr(sha256(lower(trim(nullif(trim({col}), '')))), 1, 16)"


# Below this share of changed offerings the marts are refreshed in place (only the changed
# offerings' rows, and the credentials and providers they touch); above it, rebuilt whole:
# at 1M offerings a rebuild took ~12 s whatever changed.
INCREMENTAL_MARTS_MAX_SHARE = 0.2
# The version of the marts' derivation (the SQL below). Bump it with any change to how a mart
# row is computed: a warehouse whose marts another version wrote has them rebuilt whole once
# (ops.marts_state keeps the version), since a refresh would leave the old rows as they were.
MARTS_DERIVATION = 1


def _refresh_marts(con: duckdb.DuckDBPyConnection, run_time: datetime, subjects_given: bool,
                   schema_changed: bool) -> dict[str, Any]:
    """Bring the marts up to date with the current versions and links; returns how.

    They are derived tables: after every load they equal a rebuild from
    ``marts.offering_versions`` and ``int_*`` (``_rebuild_marts``), and every load leaves them
    so. A run changes a few offerings, so only these are refreshed: the offerings whose
    version was opened, closed or replaced at this run time or whose link was stamped now
    (fct_offering rows and bridges deleted and inserted again), the credentials they left or
    joined and the credentials updated now (dim_credential), the providers whose roles they
    changed (dim_provider: a role added, removed or differing in a column a provider row is
    computed from); the provenance every crawl refreshes in place (last_seen_at,
    last_seen_run_id, url) is copied to the other fct_offering rows by one UPDATE;
    dim_subject and unmapped_values are small and rebuilt whole. Rebuilt whole instead when
    there is nothing to refresh from (no fct_offering yet), when the schema or the subject
    reference changed, or when more than INCREMENTAL_MARTS_MAX_SHARE of the offerings changed.
    tests/warehouse/test_warehouse_marts_refresh.py checks, run after run, that the refreshed
    marts equal a rebuild.
    """
    versions, links = OFFERING_VERSIONS.qualified, INT_OFFERING_LINKS.qualified
    params = {"t": run_time}
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _mart_offerings AS "
        f"SELECT offering_id FROM {versions} WHERE valid_from = $t OR valid_to = $t "
        f"UNION SELECT offering_id FROM {links} WHERE linked_at = $t",
        params,
    )
    changed = _count(con, "SELECT count(*) FROM _mart_offerings")
    current = _count(con, f"SELECT count(*) FROM {FCT_OFFERING.qualified}")
    state = MARTS_STATE.qualified
    ddl.ensure_marts_state(con)
    derivation = con.execute(f"SELECT max(derivation) FROM {state}").fetchone()[0]
    if (subjects_given or schema_changed or current == 0 or derivation != MARTS_DERIVATION
            or changed > INCREMENTAL_MARTS_MAX_SHARE * current):
        con.execute("DROP TABLE _mart_offerings")
        _rebuild_marts(con, run_time, subjects_given)
        how, written = "rebuilt", _count(con, f"SELECT count(*) FROM {FCT_OFFERING.qualified}")
    else:
        _refresh_changed_marts(con, run_time, subjects_given)
        how, written = "refreshed", changed
    con.execute(f"DELETE FROM {state}")
    con.execute(f"INSERT INTO {state} VALUES ($d, $t, $how, $n)",
                {"d": MARTS_DERIVATION, "t": run_time, "how": how, "n": written})
    return {"marts": how, "marts_offerings_written": written}


def _note_touched(con: duckdb.DuckDBPyConnection, rows: str) -> None:
    """Keep the fct_offering rows of ``_mart_offerings`` (the columns the provider roles are
    computed from, ``_provider_roles_sql``) in the temp table ``rows``, and add the
    credentials they name to ``_mart_credentials``."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {rows} AS SELECT offering_id, source, credential_id, awarding_body_id, "
        f"awarding_body, provider_kind, country, platform_id, platform FROM {FCT_OFFERING.qualified} "
        "WHERE offering_id IN (SELECT offering_id FROM _mart_offerings)"
    )
    con.execute(f"INSERT INTO _mart_credentials SELECT credential_id FROM {rows} WHERE credential_id IS NOT NULL")


def _provider_roles_sql(rows: str, provider_ids: str | None = None) -> str:
    """The provider roles of fct_offering rows (``rows``: fct_offering or a table of some of its
    rows; of ``provider_ids`` only): one row per offering and role, with every column a
    dim_provider row is computed from."""
    return (
        "SELECT awarding_body_id AS provider_id, trim(awarding_body) AS name, "
        "true AS awarding, offering_id, source, credential_id, provider_kind, country "
        f"FROM {rows} WHERE awarding_body_id IS NOT NULL{_only('awarding_body_id', provider_ids, 'provider_id')} "
        "UNION ALL "
        "SELECT platform_id, trim(platform), false, offering_id, source, credential_id, NULL, NULL "
        f"FROM {rows} WHERE platform_id IS NOT NULL{_only('platform_id', provider_ids, 'provider_id')}"
    )


def _refresh_changed_marts(con: duckdb.DuckDBPyConnection, run_time: datetime, subjects_given: bool) -> None:
    """The marts' rows of the offerings in ``_mart_offerings`` (see ``_refresh_marts``)."""
    fct, params = FCT_OFFERING.qualified, {"t": run_time}
    con.execute("CREATE OR REPLACE TEMP TABLE _mart_credentials (credential_id VARCHAR)")
    _note_touched(con, "_mart_rows_before")  # what the changed offerings named before ...
    for table in (FCT_OFFERING, BRIDGE_OFFERING_SKILL, BRIDGE_OFFERING_SUBJECT):
        con.execute(f"DELETE FROM {table.qualified} WHERE offering_id IN (SELECT offering_id FROM _mart_offerings)")
    _insert_fct_offering(con, "_mart_offerings")
    _note_touched(con, "_mart_rows_now")  # ... and now
    # A dim_provider row is computed from its provider's roles alone (_provider_roles_sql), so
    # only the providers that gained, lost or changed a role are recomputed: a changed title
    # or price leaves the roles as they were, and a platform listing 300k offerings is not
    # recounted for a run that changed none of its roles.
    before, now = (f"SELECT * FROM ({_provider_roles_sql(t)})" for t in ("_mart_rows_before", "_mart_rows_now"))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _mart_providers AS SELECT DISTINCT provider_id FROM ("
        f"  ({before} EXCEPT ALL {now}) UNION ALL ({now} EXCEPT ALL {before}))"
    )
    # Each column only where it differs: an UPDATE of a column makes the commit rewrite it.
    current = f"FROM {OFFERING_VERSIONS.qualified} AS v WHERE v.is_current AND v.offering_id = f.offering_id "
    con.execute(f"UPDATE {fct} AS f SET url = v.url {current}AND f.url IS DISTINCT FROM v.url")
    con.execute(
        f"UPDATE {fct} AS f SET last_seen_at = v.last_seen_at, last_seen_run_id = v.last_seen_run_id {current}"
        "AND (f.last_seen_at IS DISTINCT FROM v.last_seen_at OR f.last_seen_run_id IS DISTINCT FROM v.last_seen_run_id)"
    )
    # Credentials updated now, and those without a golden record (a rebuild stamps them now).
    con.execute(
        f"INSERT INTO _mart_credentials SELECT credential_id FROM {INT_CREDENTIALS.qualified} WHERE updated_at = $t "
        f"UNION ALL SELECT credential_id FROM {DIM_CREDENTIAL.qualified} "
        f"ANTI JOIN {INT_CREDENTIALS.qualified} USING (credential_id)",
        params,
    )
    con.execute(f"DELETE FROM {DIM_CREDENTIAL.qualified} "
                "WHERE credential_id IN (SELECT credential_id FROM _mart_credentials)")
    _insert_dim_credential(con, run_time, "_mart_credentials")
    con.execute(f"DELETE FROM {DIM_PROVIDER.qualified} WHERE provider_id IN (SELECT provider_id FROM _mart_providers)")
    _insert_dim_provider(con, "_mart_providers")
    _rebuild_dim_subject(con, subjects_given)
    _insert_bridges(con, "_mart_offerings")
    for temp in ("_mart_offerings", "_mart_credentials", "_mart_providers", "_mart_rows_before", "_mart_rows_now"):
        con.execute(f"DROP TABLE {temp}")


def _only(column: str, ids: str | None, key: str, alias: str = "") -> str:
    """`` AND <column> IN (SELECT <key> FROM <ids>)``, or nothing when every row is wanted."""
    return "" if ids is None else f" AND {alias}{column} IN (SELECT {key} FROM {ids})"


def _insert_fct_offering(con: duckdb.DuckDBPyConnection, offering_ids: str | None) -> None:
    """fct_offering rows of the current versions (of ``offering_ids`` only, if given)."""
    only = _only("offering_id", offering_ids, "offering_id")
    # Provider ids are hashed once per distinct name, not once per offering and role.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _provider_ids AS "
        f"SELECT name, {_provider_key('name')} AS provider_id FROM ("
        f"  SELECT DISTINCT awarding_body AS name FROM {OFFERING_VERSIONS.qualified} WHERE is_current{only} "
        f"  UNION SELECT DISTINCT platform FROM {OFFERING_VERSIONS.qualified} WHERE is_current{only}"
        ") WHERE name IS NOT NULL"
    )
    con.execute(
        f"INSERT INTO {FCT_OFFERING.qualified} BY NAME "
        "SELECT v.* EXCLUDE (valid_from, valid_to, is_current), "
        "v.valid_from AS version_valid_from, l.credential_id, l.match_score, "
        "a.provider_id AS awarding_body_id, p.provider_id AS platform_id "
        f"FROM {OFFERING_VERSIONS.qualified} AS v "
        f"LEFT JOIN {INT_OFFERING_LINKS.qualified} AS l USING (offering_id) "
        "LEFT JOIN _provider_ids AS a ON a.name = v.awarding_body "
        "LEFT JOIN _provider_ids AS p ON p.name = v.platform "
        f"WHERE v.is_current{_only('offering_id', offering_ids, 'offering_id', 'v.')}"
    )
    con.execute("DROP TABLE _provider_ids")


def _insert_dim_credential(con: duckdb.DuckDBPyConnection, run_time: datetime, credential_ids: str | None) -> None:
    """dim_credential rows of the credentials in fct_offering (of ``credential_ids`` only)."""
    membership = ["n_offerings", "n_sources", "sources", "platforms", "member_offering_ids"]
    con.execute(
        f"INSERT INTO {DIM_CREDENTIAL.qualified} BY NAME "
        "SELECT c.* EXCLUDE (credential_id, title, updated_at, "
        f"{_cols(membership)}), "
        "m.credential_id, coalesce(c.title, m.any_title) AS title, "
        "coalesce(c.updated_at, $t) AS updated_at, "
        "m.n_offerings, m.n_sources, m.sources, m.platforms, m.member_offering_ids "
        "FROM ("
        "  SELECT credential_id, count(*) AS n_offerings, count(DISTINCT source) AS n_sources, "
        "  list(DISTINCT source ORDER BY source) AS sources, "
        "  coalesce(list(DISTINCT platform ORDER BY platform) FILTER (WHERE platform IS NOT NULL), "
        "           []::VARCHAR[]) AS platforms, "
        "  list(offering_id ORDER BY offering_id) AS member_offering_ids, "
        "  first(title ORDER BY offering_id) AS any_title "
        f"  FROM {FCT_OFFERING.qualified} WHERE credential_id IS NOT NULL{_only('credential_id', credential_ids, 'credential_id')} "
        "  GROUP BY credential_id"
        # The golden records of those credentials only (a refresh touches a few percent).
        f") AS m LEFT JOIN (SELECT * FROM {INT_CREDENTIALS.qualified} "
        f"WHERE true{_only('credential_id', credential_ids, 'credential_id')}) AS c USING (credential_id)",
        {"t": run_time},
    )


def _insert_dim_provider(con: duckdb.DuckDBPyConnection, provider_ids: str | None) -> None:
    """dim_provider rows of the providers fct_offering names (of ``provider_ids`` only)."""
    con.execute(
        f"INSERT INTO {DIM_PROVIDER.qualified} BY NAME SELECT * FROM ("
        # The ids fct_offering carries (null exactly when the name is empty), not hashed again.
        f"WITH roles AS MATERIALIZED ({_provider_roles_sql(FCT_OFFERING.qualified, provider_ids)}"
        "), names AS ("
        "  SELECT provider_id, first(name ORDER BY n DESC, name) AS name FROM ("
        "    SELECT provider_id, name, count(*) AS n FROM roles GROUP BY ALL) GROUP BY provider_id"
        "), kinds AS ("
        "  SELECT provider_id, first(provider_kind ORDER BY n DESC, provider_kind) AS provider_kind "
        "  FROM (SELECT provider_id, provider_kind, count(*) AS n FROM roles "
        "        WHERE awarding AND provider_kind IS NOT NULL GROUP BY ALL) GROUP BY provider_id"
        "), countries AS ("
        "  SELECT provider_id, first(country ORDER BY n DESC, country) AS country "
        "  FROM (SELECT provider_id, country, count(*) AS n FROM roles "
        "        WHERE awarding AND country IS NOT NULL GROUP BY ALL) GROUP BY provider_id"
        "), agg AS ("
        "  SELECT provider_id, bool_or(awarding) AS is_awarding_body, "
        "  bool_or(NOT awarding) AS is_platform, "
        "  count(DISTINCT offering_id) AS n_offerings, "
        "  count(DISTINCT offering_id) FILTER (WHERE awarding) AS n_offerings_awarded, "
        "  count(DISTINCT offering_id) FILTER (WHERE NOT awarding) AS n_offerings_listed, "
        "  count(DISTINCT credential_id) AS n_credentials, "
        "  count(DISTINCT source) AS n_sources, "
        "  list(DISTINCT source ORDER BY source) AS sources "
        "  FROM roles GROUP BY provider_id"
        ") SELECT * FROM agg JOIN names USING (provider_id) "
        "LEFT JOIN kinds USING (provider_id) LEFT JOIN countries USING (provider_id))"
    )


def _rebuild_dim_subject(con: duckdb.DuckDBPyConnection, subjects_given: bool) -> None:
    """dim_subject: the reference list given now, else the one kept from earlier loads, plus
    every code in use. The kept reference is read before the table is cleared."""
    level = ("CASE length({c}) WHEN 2 THEN 'broad' WHEN 3 THEN 'narrow' "
             "WHEN 4 THEN 'detailed' END")
    if subjects_given:
        con.execute("CREATE OR REPLACE TEMP TABLE _subject_ref AS "
                    "SELECT isced_code, label, level FROM _in_subjects")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE _subject_ref AS "
                    f"SELECT isced_code, label, level FROM {DIM_SUBJECT.qualified} "
                    "WHERE label IS NOT NULL")
    con.execute(f"DELETE FROM {DIM_SUBJECT.qualified}")
    con.execute(
        f"INSERT INTO {DIM_SUBJECT.qualified} BY NAME "
        f"SELECT isced_code, label, coalesce(level, {level.format(c='isced_code')}) AS level, "
        "left(isced_code, 2) AS broad_code FROM _subject_ref "
        "UNION ALL "
        f"SELECT code, NULL, {level.format(c='code')}, left(code, 2) FROM ("
        f"  SELECT DISTINCT unnest(isced_codes) AS code FROM {FCT_OFFERING.qualified}"
        ") WHERE code IS NOT NULL AND code NOT IN (SELECT isced_code FROM _subject_ref)"
    )
    con.execute("DROP TABLE _subject_ref")


def _insert_bridges(con: duckdb.DuckDBPyConnection, offering_ids: str | None) -> None:
    """Skill and subject bridge rows of fct_offering (of ``offering_ids`` only); after dim_subject."""
    where = f"WHERE true{_only('offering_id', offering_ids, 'offering_id')}"
    con.execute(
        f"INSERT INTO {BRIDGE_OFFERING_SKILL.qualified} BY NAME "
        "SELECT DISTINCT offering_id, skill_uri FROM ("
        f"  SELECT offering_id, unnest(skills) AS skill_uri FROM {FCT_OFFERING.qualified} {where}"
        ") WHERE skill_uri IS NOT NULL"
    )
    con.execute(
        f"INSERT INTO {BRIDGE_OFFERING_SUBJECT.qualified} BY NAME "
        "SELECT b.offering_id, b.isced_code, s.label FROM ("
        "  SELECT DISTINCT offering_id, isced_code FROM ("
        f"    SELECT offering_id, unnest(isced_codes) AS isced_code FROM {FCT_OFFERING.qualified} {where}"
        "  ) WHERE isced_code IS NOT NULL"
        f") AS b LEFT JOIN {DIM_SUBJECT.qualified} AS s USING (isced_code)"
    )


def _rebuild_marts(con: duckdb.DuckDBPyConnection, run_time: datetime,
                   subjects_given: bool) -> None:
    """Every mart table (but unmapped_values) rebuilt from the current versions and links."""
    # Dropped and recreated rather than emptied: a DELETE of every row of a keyed table makes
    # the commit rewrite it row group by row group (17 s instead of 2 s for 100k offerings).
    for table in (FCT_OFFERING, DIM_CREDENTIAL, DIM_PROVIDER, BRIDGE_OFFERING_SKILL,
                  BRIDGE_OFFERING_SUBJECT):
        con.execute(f"DROP TABLE {table.qualified}")
        ddl.ensure_table(con, table)
    _insert_fct_offering(con, None)
    _insert_dim_credential(con, run_time, None)
    _insert_dim_provider(con, None)
    _rebuild_dim_subject(con, subjects_given)
    _insert_bridges(con, None)


def _rebuild_unmapped_values(con: duckdb.DuckDBPyConnection) -> int:
    """marts.unmapped_values from the mapping notes of the current offerings (fct_offering).

    The notes are parsed with normalize.unmapped's ``NOTE`` pattern (valid RE2 as written), so
    the rows and ranks are those of ``normalize.unmapped.unmapped_values`` over fct_offering:
    per source, field, reason and value, the distinct current offerings quoting it, their
    share of the source's current offerings, rank 1 = most frequent.

    Notes are grouped first and only the distinct ones parsed (equal notes parse alike,
    different ones differently). The groups go through a temp table: in one statement the
    optimizer pushes the parse filter below the grouping, onto every note (4x the CPU at 1M
    offerings). Only a note ending in a quote can quote a value: the cheap test spares the
    grouping the others.
    """
    con.execute(f"DROP TABLE {UNMAPPED_VALUES.qualified}")
    ddl.ensure_table(con, UNMAPPED_VALUES)
    # The run seen latest; equal times are broken by run id, so the same input gives the same rows.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _unmapped_notes AS "
        "SELECT source, note, count(DISTINCT offering_id) AS n_offerings, "
        "min(offering_id) AS example_offering_id, max(last_seen_at) AS last_seen_at, "
        "arg_max(last_seen_run_id, (last_seen_at, last_seen_run_id)) AS last_seen_run_id FROM ("
        "  SELECT source, offering_id, last_seen_at, last_seen_run_id, unnest(mapping_notes) AS note "
        f"  FROM {FCT_OFFERING.qualified} WHERE len(mapping_notes) > 0"
        ") WHERE suffix(note, '''') GROUP BY source, note"
    )
    groups = ", ".join(f"'{g}'" for g in NOTE_GROUPS)  # names written in normalize.unmapped
    written = _write(
        con,
        f"INSERT INTO {UNMAPPED_VALUES.qualified} BY NAME "
        "WITH parsed AS ("
        f"  SELECT * EXCLUDE (note), regexp_extract(note, $note, [{groups}]) AS n FROM _unmapped_notes"
        "), counted AS ("
        # A match always has a field; without one every group is ''.
        "  SELECT * EXCLUDE (n), n.field AS field, n.reason AS reason, n.value AS value "
        "  FROM parsed WHERE n.field <> ''"
        "), totals AS ("
        f"  SELECT source, count(*) AS total FROM {FCT_OFFERING.qualified} "
        "  WHERE source IN (SELECT source FROM counted) GROUP BY source"
        ") SELECT c.*, round(c.n_offerings::DOUBLE / t.total, 4) AS share, "
        "row_number() OVER (PARTITION BY c.source ORDER BY c.n_offerings DESC, c.field, c.reason, "
        "c.value) AS rank "
        "FROM counted AS c JOIN totals AS t USING (source)",
        {"note": NOTE},
    )
    con.execute("DROP TABLE _unmapped_notes")
    return written


def _upsert_source_runs(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"DELETE FROM {SOURCE_RUNS.qualified} AS t WHERE EXISTS (SELECT 1 FROM _in_source_runs "
        "AS i WHERE i.source = t.source AND i.run_id = t.run_id)"
    )
    con.execute(f"INSERT INTO {SOURCE_RUNS.qualified} BY NAME SELECT * FROM _in_source_runs")


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per warehouse table, keyed 'layer.name'."""
    return {
        f"{t.layer}.{t.name}": _count(con, f"SELECT count(*) FROM {t.qualified}") for t in TABLES
    }


def load(con: duckdb.DuckDBPyConnection, inputs: RunInputs) -> dict[str, Any]:
    """Load one run into the warehouse behind ``con`` in one transaction; return stats.

    Every input is checked before the transaction starts; any error rolls the run back.
    """
    return _load(con, _prepare(inputs), inputs.run_started_at)


# A build (``build``; ``load`` stays one transaction) that stored at least this many new raw
# contents commits them before it goes on: the work file is private to the build, which
# removes it when the load fails, so nothing ever reads a half-built one. Until its commit
# DuckDB holds a transaction's appended rows in memory outside its memory_limit: at 1M records
# (~2 KB of payload each) the raw contents held ~3.4 GB through the rest of the build, and the
# load stage peaked at 7.9 GB; committed first, 6.5 GB, in the same time (30 Nov 2026). A
# re-crawl stores ~1% new contents and stays one transaction.
EARLY_COMMIT_RAW_CONTENTS = 50_000


def _commit_early(con: duckdb.DuckDBPyConnection) -> None:
    con.commit()
    con.begin()


def _load(con: duckdb.DuckDBPyConnection, frames: _Frames, run_time: datetime,
          commit_early: bool = False) -> dict[str, Any]:
    registered: dict[str, pl.DataFrame] = {
        "_in_raw": frames.raw,
        "_in_offerings": frames.offerings,
        # The sighting columns in ONE chunk: an input concatenated from several sources' frames
        # is scanned in batches that split row groups, and the commit then rewrites every row
        # group the append left partly filled (1M offerings: ~2 s at the checkpoint vs ~0 s).
        "_in_offering_sightings": frames.offerings.select(STG_OFFERING_SIGHTINGS.columns.names()).rechunk(),
        "_in_rejects": frames.rejects,
        "_in_links": frames.links,
        "_in_credentials": frames.credentials,
        "_in_source_runs": frames.source_runs,
    }
    if frames.subjects is not None:
        registered["_in_subjects"] = frames.subjects

    stats: dict[str, Any] = {"run_started_at": run_time.isoformat()}
    with _registered(con, registered), _transaction(con):
        tables_before = set(con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall())
        stats["columns_added"] = ddl.ensure_schema(con)
        schema_changed = bool(stats["columns_added"]) or any(
            (t.layer, t.name) not in tables_before for t in TABLES)
        _check_clock(con, run_time)
        plans = _plan_sources(con, frames)

        if frames.fetch_raw is None:
            stats.update(_load_raw(con, _runs_in(frames.raw)))
        else:
            stats.update(_load_raw_by_fingerprint(con, _runs_in(frames.raw), frames.raw, frames.fetch_raw,
                                                  frames.raw_fetched))
        if commit_early and stats["raw_contents_inserted"] >= EARLY_COMMIT_RAW_CONTENTS:
            _commit_early(con)
            stats["committed_early"] = True
        whole, read = _offerings_whole(con, frames)
        stats.update(read)
        with _registered(con, {"_in_offerings_whole": whole}):
            stats.update(_load_staged_offerings(con, _runs_in(frames.offerings)))
            stats["staging_rejects_loaded"] = _replace_run_partitions(
                con, STG_REJECTS, "_in_rejects", _runs_in(frames.rejects))
            stats.update(_apply_versions(con, run_time, plans))
        del whole  # the offerings read whole: not needed any more
        stats.update(_apply_price_history(con, run_time))
        stats["links_changed"] = _upsert_changed(
            con, INT_OFFERING_LINKS, "_in_links", "offering_id", "linked_at", run_time
        )
        stats["credentials_changed"] = _upsert_changed(
            con, INT_CREDENTIALS, "_in_credentials", "credential_id", "updated_at", run_time
        )
        _upsert_source_runs(con)
        stats.update(_refresh_marts(con, run_time, frames.subjects is not None, schema_changed))
        stats["unmapped_values"] = _rebuild_unmapped_values(con)
        stats["views"] = [ddl.ensure_source_view(con, s) for s in frames.sources]
        stats["sources"] = {
            p.source: {"run_id": p.run_id, "complete": p.complete, "stale": p.stale,
                       "offerings": p.n_offerings, "closes_missing": p.closes}
            for p in plans.values()
        }
        stats["offerings_without_credential"] = _count(
            con, f"SELECT count(*) FROM {FCT_OFFERING.qualified} WHERE credential_id IS NULL"
        )
        stats["rows"] = table_counts(con)
    return stats


def _reset_work_file(work_path: Path, published_path: Path | None) -> str:
    """Start the work file as a copy of the published file, or empty if there is none.

    A work file left by an earlier build that was never published is discarded: only the
    published file carries history. Returns how: "cloned" or "copied" (``clone_or_copy``), or
    "empty".
    """
    if published_path is not None and work_path.resolve() == published_path.resolve():
        raise ValueError("work_path and published_path must differ")
    for stale in (work_path, work_path.with_name(work_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    work_path.parent.mkdir(parents=True, exist_ok=True)
    if published_path is not None and published_path.exists():
        if published_path.with_name(published_path.name + ".wal").exists():
            raise RuntimeError(f"{published_path} has a WAL file: it was written in place")
        return clone_or_copy(published_path, work_path)
    return "empty"


# Linux's FICLONE ioctl, _IOW(0x94, 9, int): fcntl.FICLONE from Python 3.12 on.
_FICLONE = getattr(fcntl, "FICLONE", 0x40049409)
# What FICLONE answers where a clone cannot be made, so a plain copy is: not supported by the
# file system or the kernel, another file system or mount, a file it cannot clone.
_CLONE_REFUSED = frozenset({errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOTTY, errno.EXDEV,
                            errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ETXTBSY})


def clone_or_copy(source: Path, target: Path) -> str:
    """Make ``target`` a copy of ``source``; returns "cloned" or "copied".

    On a file system with reflinks (XFS, btrfs, OCFS2; Linux's FICLONE), the copy shares the
    source's blocks until either file is written: a warehouse of GBs is "copied" in
    milliseconds and needs no write-back, and a block is copied only when the load writes it.
    Elsewhere (ext4, tmpfs; other systems), or when the clone is refused, the bytes are copied
    (``shutil.copyfile``). ``target`` is created or truncated."""
    if sys.platform.startswith("linux"):
        try:
            with open(source, "rb") as src, open(target, "wb") as dst:
                fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            return "cloned"
        except OSError as exc:
            if exc.errno not in _CLONE_REFUSED:
                raise
    shutil.copyfile(source, target)
    return "copied"



def fsync_file(path: Path) -> None:
    """Write a file's bytes through to disk (the work file's copy here; publish's before its rename)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Copy:
    """``_reset_work_file`` on a second thread, so that copying the published file (seconds for
    a warehouse of GBs: the bytes are written to disk) overlaps reading and checking the run's
    inputs on the calling thread.

    The copy leaves most of its bytes in the page cache, not on disk yet: the kernel writes
    them back only when they age or memory runs short, so the fsync at the load's commit (its
    checkpoint) waited for GBs to be written (1M offerings: ~3 s of a ~7 s commit). So once
    the load has opened the work file (``start_flush``: opening it while the flush runs took
    ~1.5 s), the thread fsyncs the copy while the load runs (``flush_seconds``), and DuckDB's
    own fsyncs find little left to write. ``wait`` returns once the copy is made; ``join``
    waits for the flush too (or, ``flush=False``, skips one not started yet)."""

    def __init__(self, work_path: Path, published_path: Path | None) -> None:
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.how = "not made"  # _reset_work_file's answer: "cloned", "copied" or "empty"
        self.flush_seconds = 0.0
        self._copied = threading.Event()
        self._go = threading.Event()
        self._skip_flush = False
        self._thread = threading.Thread(target=self._run, args=(work_path, published_path),
                                        name="credcat-work-file-copy", daemon=True)
        self._thread.start()

    def _run(self, work_path: Path, published_path: Path | None) -> None:
        start = time.perf_counter()
        try:
            self.how = _reset_work_file(work_path, published_path)
        except BaseException as exc:  # handed to the caller by wait()
            self.error = exc
            return
        finally:
            self.seconds = time.perf_counter() - start
            self._copied.set()
        self._go.wait()
        if self._skip_flush or self.how != "copied":
            return  # a clone shares the published file's blocks, already on disk
        start = time.perf_counter()
        # Only a durability head start: a failure here is left to the checkpoint's own fsync.
        with contextlib.suppress(OSError):
            fsync_file(work_path)
        self.flush_seconds = time.perf_counter() - start

    def wait(self) -> float:
        """Wait for the copy; re-raise its error. Returns the seconds spent waiting."""
        start = time.perf_counter()
        self._copied.wait()
        waited = time.perf_counter() - start
        if self.error is not None:
            raise self.error
        return waited

    def start_flush(self) -> None:
        """Let the thread fsync the copy (after the copy, if it is not done yet)."""
        self._go.set()

    def join(self, flush: bool = True) -> None:
        """Wait for the thread to end: the copy, and the flush (unless ``flush`` is false and it
        has not started)."""
        if not flush and not self._go.is_set():
            self._skip_flush = True
        self._go.set()
        self._thread.join()


def _discard(work_path: Path) -> None:
    for path in (work_path, work_path.with_name(work_path.name + ".wal")):
        path.unlink(missing_ok=True)


def build(work_path: Path, published_path: Path | None,
          inputs: RunInputs | Callable[[], RunInputs]) -> dict[str, Any]:
    """Build the warehouse for one run into ``work_path``; return load stats.

    The work file is first reset to a copy of ``published_path`` when that file exists, so
    history carries over, else to an empty warehouse. Nothing is written to the published
    file. The work file is checkpointed and closed on return, ready for
    ``warehouse.publish.publish``.

    ``inputs`` is the run's frames, or a function that reads them: the copy runs on a second
    thread while the inputs are read (when a function is given) and checked, so the two
    overlap. Bad inputs fail the build before anything is loaded, and the copy is removed
    (``work_path`` does not exist afterwards); so is a copy that failed or that DuckDB cannot
    open, and the work file of a load that fails later, which may hold part of the run (a
    build storing many new raw contents commits them before the rest:
    ``EARLY_COMMIT_RAW_CONTENTS``). ``stats["overlap"]`` tells how the work file was made
    ("cloned" where the file system has reflinks, "copied", or "empty": ``clone_or_copy``), the
    seconds that took and how long the load waited for it after the inputs were ready.
    """
    work_path = Path(work_path)
    published_path = Path(published_path) if published_path is not None else None
    if published_path is not None and work_path.resolve() == published_path.resolve():
        raise ValueError("work_path and published_path must differ")
    copy = _Copy(work_path, published_path)
    try:
        run = inputs() if callable(inputs) else inputs
        frames = _prepare(run)  # fail on bad inputs before anything is loaded
    except BaseException:
        with contextlib.suppress(BaseException):
            copy.join(flush=False)
        _discard(work_path)
        raise
    try:
        waited = copy.wait()
        con = connect_writable(work_path)
    except BaseException:  # a failed copy, or a copy DuckDB cannot open: nothing to keep
        copy.join(flush=False)
        _discard(work_path)
        raise
    copy.start_flush()
    loaded = False
    try:
        stats = _load(con, frames, run.run_started_at, commit_early=True)
        con.execute("CHECKPOINT")
        loaded = True
    finally:
        con.close()
        copy.join()  # the flush ended long before (it overlaps the load)
        if not loaded:  # it may hold part of the run (EARLY_COMMIT_RAW_CONTENTS)
            _discard(work_path)
    stats["work_path"] = str(work_path)
    stats["overlap"] = {"copy": copy.how, "copy_s": round(copy.seconds, 3),
                        "copy_wait_s": round(waited, 3), "flush_s": round(copy.flush_seconds, 3)}
    return stats
