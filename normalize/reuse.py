"""Normalize a re-crawl by reusing the previous run's output for the lines that did not change.

A re-crawl lands every record again, and most are the same as last time except for the two
per-run provenance values the landing writer puts in every line (``run_id`` and
``fetched_at``). ``normalize_with_reuse`` reads the new run's items.jsonl as lines (no JSON
parse), fingerprints each line with those two values blanked, and matches the fingerprints
against the ones kept with the previous staging output. A matched line's raw row and offering
are taken from the previous output with ``run_id`` and ``fetched_at`` set from the new line;
only the other lines are parsed and normalized. The frames are the ones ``read_landing`` +
``normalize`` of the whole run give, row order included (tests/normalize/test_reuse.py).

What is never reused (it goes through ``normalize`` with the changed lines):

- a line whose fingerprint is new: changed, added, or not in the writer's form (the pairs
  ``"fetched_at": "..."``, ``"run_id": "..."`` adjacent and followed by record_kind_raw, the
  values without quote or backslash, neither key named anywhere else in the line);
- every line of a (source, source_key) that occurs more than once in the new run: the
  duplicate rule of ``transforms._classify`` depends on the other lines of the key;
- a line that was a reject last time (rejects are cheap to redo, and their ``payload``
  quotes the provenance values);
- everything, when the normalizer fingerprint (``normalizer_fingerprint``: the normalize
  code and data files, the ESCO list, library versions) differs from the previous run's,
  when the previous output is absent or unusable, when a normalize function other than
  ``transforms.normalize`` is given, or when the run needs the reader's slow path (a line
  DuckDB's JSON reader refuses changes how every line of the file is read; a run read that
  way keeps no reusable fingerprints either).

Per-run provenance: in raw rows and offerings ``run_id`` and ``fetched_at``; ``content_hash``
does not cover them (``transforms._NOT_HASHED``), ``offering_id`` is source + key. In rejects
``run_id`` and ``payload`` (the raw row as JSON) carry them: rejects are always recomputed.

Every step is checked against the reader where it can be: the provenance values taken from
the text of the parsed lines must equal what DuckDB read; a previous line is reusable only if
its values as written equal its raw row's; reused raw rows must carry the fingerprint's source
and key; the normalized offerings must line up with the rows ``_classify`` keeps. Any
mismatch normalizes the whole run instead.

The fingerprint is Polars' 64-bit hash, with two seeds, of the bytes before the fetched_at
value and after the run_id value (hashed apart and combined), plus their length. Polars
keeps its hash stable within a version only, so the Polars version and the machine type are
part of the normalizer fingerprint; it is a change detector, not a cryptographic hash (a
source could craft a colliding line only to keep its own old record).

The fingerprints are kept with the staging output as a fourth frame, ``fingerprints``
(``FINGERPRINT_SCHEMA``, one row per non-blank line), which the next run reads.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from normalize.digests import file_sha256, files_digest
from normalize.expressions import collapse_whitespace
from normalize.schema import OFFERING_SCHEMA, RAW_SCHEMA, REJECT_SCHEMA
from normalize.taxonomy.esco import esco_csv_path
from normalize.transforms import (
    NormalizeResult,
    _classify,
    _conform,
    _duckdb_type,
    _has_content,
    _read_items_duckdb,
    normalize,
    read_json_lines_duckdb,
    read_landing,
)

FINGERPRINT_SCHEMA = pl.Schema({
    "line": pl.Int64(),  # position among the file's non-blank lines (= the raw row)
    "source": pl.String(),
    "source_key": pl.String(),  # as transforms._classify keys it (whitespace collapsed)
    "fp_a": pl.UInt64(),
    "fp_b": pl.UInt64(),
    "n_bytes": pl.UInt32(),
    "run_id_text": pl.String(),  # the provenance values as the line writes them
    "fetched_at_text": pl.String(),
    "offering_id": pl.String(),  # the line's offering; null when it was a reject
    "reusable": pl.Boolean(),
    "normalizer": pl.String(),
})

# The landing writer's form of the two provenance pairs (RawOffering's field order: ...,
# fetched_at, run_id, record_kind_raw, ...). Found by byte offset (memmem, no regex); a line
# not in this form, or naming either key anywhere else, counts as changed.
_AT, _RUN, _NEXT = '"fetched_at": "', '", "run_id": "', '", "record_kind_raw": '
_KEYS = ('"fetched_at"', '"run_id"')
_SEEDS = (0x5EED_A0, 0x5EED_B0)
_LIBRARIES = ("polars", "duckdb", "pyarrow", "ftfy", "html-text", "lxml", "langcodes", "language-data",
              "pycountry", "price-parser", "rapidfuzz", "pydantic")


# --- the normalizer fingerprint -----------------------------------------------------------------


def normalizer_fingerprint() -> str:
    """What makes a previous offering valid for reuse: SHA-256 over the normalize package's
    files (code and data; normalize/dedup is a later stage and left out), the ESCO skills list
    the matcher reads (or its absence), the versions of Python and of the libraries the
    mapping calls, and the machine type (Polars' hash, used for the line fingerprints)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    own = [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "dedup"
           and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".pyo"}]
    h.update(f"normalize\0{files_digest(root, own)}\n".encode())
    esco = esco_csv_path()
    h.update(f"esco\0{file_sha256(esco) if esco.is_file() else 'absent'}\n".encode())
    for name in _LIBRARIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        h.update(f"{name}\0{version}\n".encode())
    h.update(f"python\0{sys.version}\0{platform.machine()}\0{sys.byteorder}\n".encode())
    return h.hexdigest()


# --- reading lines ------------------------------------------------------------------------------


def read_lines(path: Path) -> pl.DataFrame | None:
    """The non-blank lines of a JSON Lines file, unparsed: ``line`` (position among the
    non-blank lines, which is the raw row DuckDB's reader gives it) and ``text``. None when the
    file cannot be read as lines (not UTF-8, a 0x1F byte, which no JSON line holds)."""
    if not path.is_file():
        return pl.DataFrame(schema={"line": pl.Int64, "text": pl.String})
    try:
        frame = pl.read_csv(path, has_header=False, separator="\x1f", quote_char=None, new_columns=["text"],
                            schema={"text": pl.String})
    except (pl.exceptions.PolarsError, ValueError, OSError):
        return None
    if frame.height == 0:
        return pl.DataFrame(schema={"line": pl.Int64, "text": pl.String})
    return (frame.filter(pl.col("text").is_not_null() & ~pl.col("text").str.contains(r"^[ \t\r]*$"))
            .with_row_index("line").with_columns(pl.col("line").cast(pl.Int64)))


def fingerprint_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """Per line: ``fp_a``/``fp_b`` (hashes of the line without its run_id and fetched_at
    values: the bytes before the fetched_at value and after the run_id value), ``n_bytes``
    (their length) and the two values as written. A line not in the writer's form (the pairs
    ``"fetched_at": "..."``, ``"run_id": "..."`` adjacent and followed by record_kind_raw, the
    values without quote or escape), or naming either key anywhere else, gets null
    fingerprints: it counts as changed. The keys occurring only there, the pairs found are the
    record's own (a line whose top level lacks them was a reject, never reused)."""
    text = pl.col("_b")
    at, run, nxt = (pl.col("text").str.find(k, literal=True).cast(pl.Int64) for k in (_AT, _RUN, _NEXT))
    framed = lines.lazy().with_columns(_b=pl.col("text").cast(pl.Binary), _p1=at, _p2=run, _p3=nxt).with_columns(
        _v1=text.bin.slice(pl.col("_p1") + len(_AT), pl.col("_p2") - pl.col("_p1") - len(_AT)),
        _v2=text.bin.slice(pl.col("_p2") + len(_RUN), pl.col("_p3") - pl.col("_p2") - len(_RUN)),
        _head=text.bin.head(pl.col("_p1")),
        _tail=text.bin.slice(pl.col("_p3")),
    ).with_columns(
        _ok=((pl.col("_p1") < pl.col("_p2")) & (pl.col("_p2") < pl.col("_p3"))).fill_null(False)
        & ~pl.any_horizontal(pl.col(c).bin.contains(k) for c in ("_v1", "_v2") for k in (b'"', b"\\"))
        & ~pl.any_horizontal(pl.col(c).bin.contains(k.encode()) for c in ("_head", "_tail") for k in _KEYS),
    )
    # Head and tail hashed apart (a struct hash costs 8x) and combined; head and tail are cut
    # at fixed keys, so no two different (head, tail) pairs are one byte string.
    def blank(seed: int) -> pl.Expr:
        return pl.col("_tail").hash(seed).xor(pl.col("_head").hash(seed + 1))

    return framed.select(
        "line", "text",
        fp_a=pl.when("_ok").then(blank(_SEEDS[0])),
        fp_b=pl.when("_ok").then(blank(_SEEDS[1])),
        n_bytes=pl.when("_ok").then((pl.col("_b").bin.size() - pl.col("_v1").bin.size()
                                     - pl.col("_v2").bin.size()).cast(pl.UInt32)),
        run_id_text=pl.when("_ok").then(pl.col("_v2").cast(pl.String)),
        fetched_at_text=pl.when("_ok").then(pl.col("_v1").cast(pl.String)),
    ).collect()


def parse_times(texts: pl.Series) -> pl.Series | None:
    """``fetched_at`` values as written -> RAW_SCHEMA's type, read by DuckDB's JSON reader as
    ``read_landing`` reads them (the same reader and column type, on one-key lines). None when
    the reader refuses one (the whole file would then need the reader's slow path)."""
    dtype = RAW_SCHEMA["fetched_at"]
    values = texts.drop_nulls().unique(maintain_order=True)
    if values.len() == 0:
        return pl.Series(texts.name, [None] * texts.len(), dtype=dtype)
    with tempfile.TemporaryDirectory(prefix="credcat-reuse-") as tmp:
        path = Path(tmp) / "times.jsonl"
        # The values hold no quote and no backslash (fingerprint_lines): safe as JSON text.
        path.write_text("".join(f'{{"fetched_at": "{v}"}}\n' for v in values.to_list()), encoding="utf-8")
        parsed = read_json_lines_duckdb(path, f"{{'fetched_at': '{_duckdb_type(dtype)}'}}")
    if parsed is None:
        return None
    if parsed.height != values.len():
        return None
    table = pl.DataFrame({"k": values, "v": parsed.get_column("fetched_at").cast(dtype)})
    return texts.to_frame("k").join(table, on="k", how="left", maintain_order="left").get_column("v").alias(texts.name)


# --- reading the run ----------------------------------------------------------------------------


def _read_invalid(run_dir: Path) -> pl.DataFrame:
    """The run's invalid.jsonl rejects, by ``read_landing`` itself (a folder of the same
    source and run id holding only a link to invalid.jsonl)."""
    with tempfile.TemporaryDirectory(prefix="credcat-reuse-") as tmp:
        folder = Path(tmp) / run_dir.parent.name / run_dir.name
        folder.mkdir(parents=True)
        if (run_dir / "invalid.jsonl").is_file():
            (folder / "invalid.jsonl").symlink_to((run_dir / "invalid.jsonl").resolve())
        _, invalid = read_landing([folder])
    return invalid


def _read_run(run_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    """(raw, invalid, fast): what ``read_landing([run_dir])`` gives; ``fast`` when items.jsonl
    was read by DuckDB's reader (``transforms._read_items``' first path), the only case where
    a raw row is one line's alone."""
    items = run_dir / "items.jsonl"
    if not _has_content(items):
        return pl.DataFrame(schema=RAW_SCHEMA), _read_invalid(run_dir), True
    frame = _read_items_duckdb(items)
    if frame is None:
        raw, invalid = read_landing([run_dir])
        return raw, invalid, False
    return frame, _read_invalid(run_dir), True


def _parse_lines(texts: pl.Series) -> pl.DataFrame | None:
    """Lines -> raw rows by DuckDB's reader, one row per line; None if it refuses any."""
    if texts.len() == 0:
        return pl.DataFrame(schema=RAW_SCHEMA)
    with tempfile.TemporaryDirectory(prefix="credcat-reuse-") as tmp:
        path = Path(tmp) / "items.jsonl"
        with path.open("w", encoding="utf-8", newline="") as fh:
            for text in texts.to_list():
                fh.write(text + "\n")
        frame = _read_items_duckdb(path)
    if frame is None or frame.height != texts.len():
        return None
    return frame


# --- fingerprints of a finished run -------------------------------------------------------------


def _keys(raw: pl.DataFrame) -> pl.DataFrame:
    """source and the key as transforms._classify groups duplicates (collapsed whitespace)."""
    return raw.select("source", source_key=collapse_whitespace(pl.col("source_key")))


def _fingerprints(lines: pl.DataFrame | None, raw: pl.DataFrame, offerings: pl.DataFrame,
                  fast: bool, normalizer: str, times: pl.Series | None = None) -> pl.DataFrame:
    """The fingerprints frame kept with the staging output. A line is reusable next time when
    its fingerprint is known, the file was read line by line (``fast``), its provenance values
    as written are the ones the reader gave, it became an offering, and its key is unique."""
    if lines is None or not fast or lines.height != raw.height:
        return pl.DataFrame(schema=FINGERPRINT_SCHEMA)
    if times is None:
        times = parse_times(lines.get_column("fetched_at_text"))
    if times is None:
        times = pl.Series([None] * lines.height, dtype=RAW_SCHEMA["fetched_at"])
    keys = _keys(raw)
    ids = offerings.select("source", "source_key", "offering_id")
    frame = pl.concat([
        lines.select("line", "fp_a", "fp_b", "n_bytes", "run_id_text", "fetched_at_text"),
        keys,
        raw.select(_run=pl.col("run_id"), _at=pl.col("fetched_at")),
        times.alias("_at_text").to_frame(),
    ], how="horizontal")
    dup = (pl.len().over("source", "source_key") > 1) & pl.col("source").is_not_null() \
        & pl.col("source_key").is_not_null()
    frame = frame.join(ids, on=["source", "source_key"], how="left", maintain_order="left").with_columns(
        reusable=(pl.col("fp_a").is_not_null() & (pl.col("_run") == pl.col("run_id_text"))
                  & (pl.col("_at") == pl.col("_at_text")) & pl.col("offering_id").is_not_null() & ~dup)
        .fill_null(False),
        normalizer=pl.lit(normalizer),
    )
    return frame.select([pl.col(n).cast(t) for n, t in FINGERPRINT_SCHEMA.items()])


# --- the entry point ----------------------------------------------------------------------------


@dataclass
class ReuseResult:
    """``raw`` and ``invalid`` as ``read_landing`` gives them, ``result`` as ``normalize``
    gives it (its rejects without ``invalid``), ``fingerprints`` to keep with the output,
    ``stats``: mode (reuse | full), reason, records, reused, normalized, parsed, seconds."""

    raw: pl.DataFrame
    invalid: pl.DataFrame
    result: NormalizeResult
    fingerprints: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)

    def staging(self) -> dict[str, pl.DataFrame]:
        """The staging output: raw, offerings, rejects (invalid.jsonl first), fingerprints."""
        return {"raw": self.raw, "offerings": self.result.offerings,
                "rejects": pl.concat([self.invalid, self.result.rejects], how="vertical"),
                "fingerprints": self.fingerprints}


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - t


Previous = Mapping[str, pl.DataFrame] | Path | str


def load_previous(folder: Path | str, part: str) -> pl.DataFrame | None:
    path = Path(folder) / f"{part}.parquet"
    try:
        return pl.read_parquet(path) if path.is_file() else None
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None


def _previous_part(previous: Previous, part: str) -> pl.DataFrame | None:
    """One frame of the previous output, or None when it is absent or unreadable (a mapping
    may read its frames lazily, e.g. pipelines.frames.FrameFolder)."""
    if isinstance(previous, str | Path):
        return load_previous(previous, part)
    try:
        frame = previous.get(part)
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None
    return frame if isinstance(frame, pl.DataFrame) else None


def _full(run_dir: Path, lines: pl.DataFrame | None, kinds: Mapping[str, str] | None, normalizer: str,
          clock: _Clock, reason: str, normalize_fn: Callable[..., NormalizeResult]) -> ReuseResult:
    with clock("read_landing"):
        raw, invalid, fast = _read_run(run_dir)
    with clock("normalize"):
        result = normalize_fn(raw.lazy(), provider_kinds=kinds)
    with clock("fingerprint"):
        fps = _fingerprints(lines, raw, result.offerings, fast, normalizer)
    stats = {"mode": "full", "reason": reason, "records": raw.height, "reused": 0,
             "normalized": raw.height, "parsed": raw.height}
    return ReuseResult(raw, invalid, result, fps, stats)


def normalize_with_reuse(run_dir: Path | str, provider_kinds: Mapping[str, str] | None = None,
                         previous: Previous | None = None,
                         normalize_fn: Callable[..., NormalizeResult] | None = None) -> ReuseResult:
    """``read_landing([run_dir])`` + ``normalize``, reusing ``previous`` (the source's last
    staging output: a dict of frames or its folder of Parquet files, with ``fingerprints``)
    for lines unchanged since. The frames equal those of the full path; ``stats`` says what
    was reused and why not, when nothing was. ``normalize_fn`` other than
    ``transforms.normalize`` (a test's stand-in) has no fingerprint: nothing is reused and it
    normalizes the whole run."""
    run_dir = Path(run_dir)
    clock = _Clock()
    with clock("fingerprint"):
        normalizer = normalizer_fingerprint()
        lines = read_lines(run_dir / "items.jsonl")
        lines = fingerprint_lines(lines) if lines is not None else None

    def full(reason: str) -> ReuseResult:
        nonlocal lines
        if lines is not None:  # the line texts are not needed any more: free them first
            lines = lines.drop("text", strict=False)
        out = _full(run_dir, lines, provider_kinds, normalizer, clock, reason, normalize_fn or normalize)
        out.stats["seconds"] = {k: round(v, 3) for k, v in clock.seconds.items()}
        return out

    if lines is None:
        return full("items.jsonl cannot be read as lines")
    if previous is None:
        return full("no previous output")
    if normalize_fn is not None and normalize_fn is not normalize:
        return full("a normalize function other than transforms.normalize")
    with clock("load previous"):
        prev_fp = _previous_part(previous, "fingerprints")
    if prev_fp is None or prev_fp.schema != FINGERPRINT_SCHEMA:
        return full("previous output has no fingerprints")
    if prev_fp.height and prev_fp.get_column("normalizer").unique().to_list() != [normalizer]:
        return full("normalizer changed since the previous run")

    with clock("fingerprint"):
        # Previous lines that may be reused, one per fingerprint (a fingerprint seen twice
        # is a repeated line, hence a repeated key: never reusable anyway).
        match_on = ["fp_a", "fp_b", "n_bytes"]
        candidates = (prev_fp.filter("reusable")
                      .filter(pl.len().over(match_on) == 1)
                      .select(*match_on, _prev_line="line", _source="source", _key="source_key",
                              _offering_id="offering_id"))
        matched = lines.join(candidates, on=match_on, how="left", maintain_order="left")
        hit = pl.col("_prev_line").is_not_null()
        to_parse = matched.filter(~hit).select("line", "text")
        matched = matched.drop("text")
        lines = lines.drop("text")
    if not matched.select(hit.any()).item():
        return full("no line unchanged since the previous run")

    with clock("read_landing"):
        if _has_content(run_dir / "items.jsonl") and to_parse.height:
            parsed = _parse_lines(to_parse.get_column("text"))
        else:
            parsed = pl.DataFrame(schema=RAW_SCHEMA)
        to_parse = to_parse.drop("text")
        if parsed is None:
            return full("a changed line needs the reader's slow path")
        invalid = _read_invalid(run_dir)

    with clock("load previous"):
        prev_raw = _previous_part(previous, "raw")
        prev_off = _previous_part(previous, "offerings")
    if prev_raw is None or prev_off is None or prev_raw.schema != RAW_SCHEMA or prev_off.schema != OFFERING_SCHEMA:
        return full("previous raw or offerings absent or not in the contract's schema")
    if prev_fp.height != prev_raw.height:
        return full("previous fingerprints do not match its raw rows")

    with clock("reuse"):
        times = parse_times(matched.get_column("fetched_at_text"))
        if times is None:
            return full("a fetched_at value the reader refuses")
        matched = matched.with_columns(times.alias("_at"))
        # The parsed lines check the provenance values read from the text against the reader.
        check = pl.concat([to_parse, parsed.select("run_id", "fetched_at")], how="horizontal").join(
            matched.select("line", "run_id_text", "_at"), on="line", how="left")
        written = pl.col("run_id_text").is_not_null()
        if check.filter(written & ((pl.col("run_id") != pl.col("run_id_text"))
                                   | (pl.col("fetched_at") != pl.col("_at")))).height:
            return full("provenance values read from the lines disagree with the reader")
        reused = matched.filter(hit)
        at = reused.get_column("_prev_line")
        if at.min() < 0 or at.max() >= prev_raw.height:
            return full("previous fingerprints point past its raw rows")
        # Rows taken by position, provenance refreshed. (A join on the row number: a gather
        # of the Parquet-read frame took 20x as long.)
        raw_reused = (prev_raw.drop("run_id", "fetched_at").with_row_index("_prev_line")
                      .with_columns(pl.col("_prev_line").cast(pl.Int64))
                      .join(reused.select("_prev_line", "line", "_source", "_key", run_id="run_id_text",
                                          fetched_at="_at"), on="_prev_line", how="inner"))
        if raw_reused.height != reused.height:
            return full("previous fingerprints do not match its raw rows")
        # The previous row must be the line's: same source and key.
        same = raw_reused.select("source", "_source", "_key", source_key=collapse_whitespace(pl.col("source_key")))
        if same.filter((pl.col("source") != pl.col("_source")) | (pl.col("source_key") != pl.col("_key"))
                       | pl.col("source").is_null() | pl.col("source_key").is_null()).height:
            return full("previous raw rows do not match their fingerprints")
        raw = pl.concat([
            raw_reused.select("line", *RAW_SCHEMA.names()),
            pl.concat([to_parse, parsed], how="horizontal").select("line", *RAW_SCHEMA.names()),
        ], how="vertical").sort("line")
        if raw.height != lines.height:
            return full("lines and raw rows do not add up")
        keys = _keys(raw)
        dup = ((pl.len().over("source", "source_key") > 1) & pl.col("source").is_not_null()
               & pl.col("source_key").is_not_null())
        reuse_line = pl.Series(matched.select(hit).to_series()) & ~keys.select(dup).to_series()
        take = raw.with_columns(_reuse=reuse_line)
        subset = take.filter(~pl.col("_reuse"))
        raw = raw.drop("line").select([pl.col(n).cast(t) for n, t in RAW_SCHEMA.items()])

    with clock("normalize"):
        result = normalize(subset.select(RAW_SCHEMA.names()).lazy(), provider_kinds=provider_kinds)

    with clock("reuse"):
        # The normalized offerings are the subset's rows that _classify keeps, in order.
        kept = (_classify(_conform(subset.select(RAW_SCHEMA.names()).lazy()))
                .select("source", "_key", "_reject").collect(engine="in-memory")
                .with_columns(line=subset.get_column("line")).filter(pl.col("_reject").is_null()))
        fresh = result.offerings
        if kept.height != fresh.height or (fresh.height and not (
                kept.get_column("source").equals(fresh.get_column("source"))
                and kept.get_column("_key").equals(fresh.get_column("source_key")))):
            return full("normalized offerings do not line up with their lines")
        reuse_rows = matched.select("line", "_offering_id", "run_id_text", "_at").filter(reuse_line)
        old = prev_off.drop("run_id", "fetched_at").join(
            reuse_rows.select("_offering_id", "line", run_id="run_id_text", fetched_at="_at"),
            left_on="offering_id", right_on="_offering_id", how="inner")
        if old.height != reuse_rows.height:
            return full("previous offerings missing for reused lines")
        offerings = (pl.concat([old.select("line", *OFFERING_SCHEMA.names()),
                                fresh.with_columns(line=kept.get_column("line")).select("line", *OFFERING_SCHEMA.names())],
                               how="vertical")
                     .sort("line").select([pl.col(n).cast(t) for n, t in OFFERING_SCHEMA.items()]))
        result = NormalizeResult(offerings=offerings,
                                 rejects=result.rejects.select([pl.col(n).cast(t) for n, t in REJECT_SCHEMA.items()]),
                                 fx_rate_date=result.fx_rate_date)

    with clock("fingerprint"):
        fps = _fingerprints(lines, raw, offerings, True, normalizer, times)
    stats = {"mode": "reuse", "reason": "", "records": raw.height, "reused": reuse_rows.height,
             "normalized": subset.height, "parsed": parsed.height,
             "seconds": {k: round(v, 3) for k, v in clock.seconds.items()}}
    return ReuseResult(raw, invalid, result, fps, stats)


__all__ = ["FINGERPRINT_SCHEMA", "ReuseResult", "fingerprint_lines", "load_previous",
           "normalize_with_reuse", "normalizer_fingerprint", "parse_times", "read_lines"]
