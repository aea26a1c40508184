"""Normalize a re-crawl by reusing the previous run's output for the lines that did not change.

A re-crawl lands every record again, and most are the same as last time except for the two
per-run provenance values the landing writer puts in every line (``run_id`` and
``fetched_at``). ``normalize_with_reuse`` reads the new run's items.jsonl as lines (no JSON
parse), fingerprints each line with those two values blanked, and matches the fingerprints
against the ones kept with the previous staging output. A matched line's raw row and offering
are taken from the previous output with ``run_id`` and ``fetched_at`` set from the new line;
only the other lines are parsed and normalized. The frames are the ones ``read_landing`` +
``normalize`` of the whole run give, row order included (tests/normalize/test_reuse.py).
The previous raw rows themselves (payloads and all, most of the output's bytes) are not read:
only their keys, to check each reused row is its line's. The run's raw rows come back as
``PatchedRows`` (``ReuseResult.raw_rows``: per row its previous row or the parsed row, and
the refreshed values), which pipelines.frames stores as a patch on the previous file;
``ReuseResult.raw`` puts them together, reading the previous rows, when asked.

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

Per-run provenance (``REFRESHED``): in raw rows and offerings ``run_id`` and ``fetched_at``; ``content_hash``
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

The landing index. The landing pipeline (scrapers/pipelines.py) fingerprints each line as it
writes it (``LandingIndex``, by ``fingerprint_lines`` itself) and saves beside items.jsonl
``items.index.parquet``: per line its byte offset and length and the fingerprint columns,
with the file's identity when it was closed (``normalize.digests.file_identity``: device,
inode, size, mtime, ctime and the time it was recorded), the fingerprint scheme (``fingerprint_scheme``: the code of ``fingerprint_lines``, its
constants, the Polars version, the machine) and the file's SHA-256. With a usable index
(``read_index``) the new run's lines are not read at all: only the lines to parse are, by
their byte ranges, each checked to be one whole UTF-8 line. An index is used only when it
names this scheme, the file's identity is the recorded one (a change to the file moves its
ctime, which no program sets back; a copy or a rename changes the inode or the ctime) and
was recorded where it can be trusted (``normalize.digests.identity_matches``, the export's
rule: on a file system with whole-second times, at least COARSE_MARGIN_NS after the file's
last change; the crawl waits that out and reads the file back before it records it), its
byte ranges cover the file line after line, and ``INDEX_CHECK_LINES`` random lines (the
first and last among them) read back from the file fingerprint as the index says; else the
file is read as before. What this cannot catch: an index forged for the file as it is now,
with fingerprints wrong for a few lines that the sample misses (those lines would keep
their previous output); the index is the crawl's own output, as trusted as items.jsonl.
``index_landing`` writes the index of a landing written without one, by the same code.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from normalize.digests import (
    IDENTITY_KEYS,
    file_identity,
    file_sha256,
    files_digest,
    path_identity_problem,
    settled,
    settled_identity,
)
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

# The per-run provenance columns a reused raw row or offering takes from the new line.
REFRESHED = ("run_id", "fetched_at")

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


_NORMALIZER: dict[tuple, str] = {}  # file states -> digest, for the process's later calls


def normalizer_fingerprint() -> str:
    """What makes a previous offering valid for reuse: SHA-256 over the normalize package's
    files (code and data; normalize/dedup is a later stage and left out), the ESCO skills list
    the matcher reads (or its absence), the versions of Python and of the libraries the
    mapping calls, and the machine type (Polars' hash, used for the line fingerprints). The
    files are hashed again only when one's identity (``normalize.digests.file_identity``)
    changed since this process last did, and only identities that can be trusted are kept."""
    root = Path(__file__).resolve().parent
    own = sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "dedup"
                 and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".pyo"})
    esco = esco_csv_path()
    try:
        watched = [*own, *([esco] if esco.is_file() else [])]
        identities = [file_identity(p) for p in watched]
        # A file changed within the timestamp granularity of a whole-second file system could
        # keep its identity: then nothing is kept for next time.
        state = tuple((str(p), *(i[k] for k in IDENTITY_KEYS)) for p, i in zip(watched, identities, strict=True)) \
            if all(settled(i) for i in identities) else None
    except OSError:  # a file gone meanwhile: hashed below (and raising there as before)
        state = None
    if state is not None and (cached := _NORMALIZER.get((str(esco), state))) is not None:
        return cached
    h = hashlib.sha256()
    h.update(f"normalize\0{files_digest(root, own)}\n".encode())
    h.update(f"esco\0{file_sha256(esco) if esco.is_file() else 'absent'}\n".encode())
    for name in _LIBRARIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        h.update(f"{name}\0{version}\n".encode())
    h.update(f"python\0{sys.version}\0{platform.machine()}\0{sys.byteorder}\n".encode())
    digest = h.hexdigest()
    if state is not None:
        _NORMALIZER.clear()
        _NORMALIZER[(str(esco), state)] = digest
    return digest


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


# --- the landing index: the fingerprints written beside items.jsonl at crawl time --------------

INDEX_NAME = "items.index.parquet"
INDEX_SCHEMA = pl.Schema({
    "offset": pl.Int64(),  # the line's first byte in items.jsonl
    "length": pl.UInt32(),  # its bytes, without the newline
    "fp_a": pl.UInt64(),  # fingerprint_lines' columns for the line
    "fp_b": pl.UInt64(),
    "n_bytes": pl.UInt32(),
    "run_id_text": pl.String(),
    "fetched_at_text": pl.String(),
})
INDEX_VERSION = 1
INDEX_CHECK_LINES = 256  # lines read back and fingerprinted again when an index is used
_INDEX_KEY = "credcat.landing_index"
_INDEX_BATCH = 4096


def fingerprint_scheme() -> str:
    """What makes an index's fingerprints comparable with this process's: the code of
    ``fingerprint_lines`` and its constants, the index version, the Polars version and the
    machine type (Polars keeps its hash stable within a version only)."""
    h = hashlib.sha256(inspect.getsource(fingerprint_lines).encode())
    h.update(repr((_AT, _RUN, _NEXT, _KEYS, _SEEDS, INDEX_VERSION, importlib.metadata.version("polars"),
                   platform.machine(), sys.byteorder)).encode())
    return h.hexdigest()


def _recorded_identity(meta: dict[str, Any]) -> Any:
    """The identity of items.jsonl an index recorded (``normalize.digests.file_identity``). An
    index written before identities were recorded holds the state flat (size, mtime_ns,
    ctime_ns, ino, dev) and no time of recording: it counts as recorded at the file's last
    change, so it is trusted only where the file system's times are finer than a second."""
    if "identity" in meta:
        return meta["identity"]
    keys = {"device": "dev", "inode": "ino", "bytes": "size", "mtime_ns": "mtime_ns", "ctime_ns": "ctime_ns"}
    legacy = {k: meta.get(old) for k, old in keys.items()}
    return {**legacy, "recorded_ns": legacy["ctime_ns"]}


class LandingIndex:
    """The index of an items.jsonl being written, line by line (``add``, with the line's text
    and its UTF-8 bytes as written, without the newline), saved beside it by ``save`` once the
    file is closed. Fingerprints are computed by ``fingerprint_lines`` in batches, as the
    reuse path would compute them from the file. Any line the reuse path's scan would read
    differently (blank, or holding a raw CR or 0x1F) makes ``save`` write no index."""

    def __init__(self) -> None:
        self._texts: list[str] = []
        self._lengths: list[int] = []
        self._parts: list[pl.DataFrame] = []
        self._lines = 0
        self._bytes = 0
        self._sha = hashlib.sha256()
        self.usable = True

    def add(self, text: str, data: bytes) -> None:
        if not self.usable:
            return
        if not text.strip() or "\r" in text or "\n" in text or "\x1f" in text:
            self.usable = False
            return
        self._sha.update(data + b"\n")
        self._texts.append(text)
        self._lengths.append(len(data))
        if len(self._texts) >= _INDEX_BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._texts:
            return
        lines = pl.DataFrame({"line": pl.Series(range(self._lines, self._lines + len(self._texts)), dtype=pl.Int64),
                              "text": pl.Series(self._texts, dtype=pl.String)})
        lengths = pl.Series("length", self._lengths, dtype=pl.Int64)
        offsets = (lengths + 1).cum_sum() - (lengths + 1) + self._bytes
        fps = fingerprint_lines(lines)
        self._parts.append(pl.concat([offsets.alias("offset").to_frame(), lengths.to_frame(),
                                      fps.select("fp_a", "fp_b", "n_bytes", "run_id_text", "fetched_at_text")],
                                     how="horizontal").select([pl.col(n).cast(t) for n, t in INDEX_SCHEMA.items()]))
        self._lines += len(self._texts)
        self._bytes += int((lengths + 1).sum())
        self._texts, self._lengths = [], []

    def save(self, items: Path) -> Path | None:
        """Write ``items.index.parquet`` beside ``items`` (closed, holding exactly the lines
        added); None, and no index, when it does not (then normalize reads the file)."""
        items = Path(items)
        target = items.with_name(INDEX_NAME)
        target.unlink(missing_ok=True)
        if not self.usable:
            return None
        self._flush()
        # Recorded so that it can be trusted later (normalize.digests.settled_identity: on a
        # file system with whole-second times, after waiting out the margin and reading the
        # file back); None when the file is not the bytes added.
        identity = settled_identity(items, self._sha.hexdigest())
        if identity is None or identity["bytes"] != self._bytes:
            return None
        frame = pl.concat(self._parts, how="vertical") if self._parts else pl.DataFrame(schema=INDEX_SCHEMA)
        meta = {"version": INDEX_VERSION, "scheme": fingerprint_scheme(), "lines": frame.height,
                "sha256": self._sha.hexdigest(), "identity": identity}
        temp = target.with_name(f".{INDEX_NAME}.{os.getpid()}.tmp")
        try:
            frame.write_parquet(temp, metadata={_INDEX_KEY: json.dumps(meta)})
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return target


def index_landing(run_dir: Path | str) -> Path | None:
    """Write the index of a run's existing items.jsonl by the writer's own code (for a landing
    written without one); None when the file cannot have one (see ``LandingIndex``)."""
    items = Path(run_dir) / "items.jsonl"
    if not items.is_file():
        return None
    index = LandingIndex()
    with items.open("rb") as fh:
        for data in fh:
            if not data.endswith(b"\n"):
                index.usable = False
                break
            data = data[:-1]
            try:
                index.add(data.decode("utf-8"), data)
            except UnicodeDecodeError:
                index.usable = False
            if not index.usable:
                break
    return index.save(items)


def _read_at(fd: int, offsets: Sequence[int], lengths: Sequence[int]) -> list[str] | None:
    """The lines at these byte ranges, checked to be whole lines (no newline inside, one
    after), decoded as UTF-8; None if one is not."""
    out = []
    for offset, length in zip(offsets, lengths, strict=True):
        data = os.pread(fd, length + 1, offset)
        if len(data) != length + 1 or data[-1:] != b"\n" or b"\n" in data[:-1] or b"\r" in data:
            return None
        try:
            out.append(data[:-1].decode("utf-8"))
        except UnicodeDecodeError:
            return None
    return out


def read_index(run_dir: Path | str) -> tuple[pl.DataFrame | None, str]:
    """The run's landing index as ``fingerprint_lines`` would give it for items.jsonl
    (``line``, ``offset``, ``length`` and the fingerprint columns), or None and why not. An
    index is used only when it is this scheme's, was written for this very file (its
    identity as recorded, and trusted by ``normalize.digests.identity_matches``), its byte ranges cover the file line after
    line, and a random sample of its lines (``INDEX_CHECK_LINES``, the first and the last
    included), read back from the file, fingerprint as it says."""
    run_dir = Path(run_dir)
    items, path = run_dir / "items.jsonl", run_dir / INDEX_NAME
    if not path.is_file() or not items.is_file():
        return None, "no landing index"
    try:
        meta = json.loads(pl.read_parquet_metadata(path).get(_INDEX_KEY) or "null")
        if not isinstance(meta, dict) or meta.get("version") != INDEX_VERSION:
            return None, "landing index of another version"
        if meta.get("scheme") != fingerprint_scheme():
            return None, "landing index of another fingerprint scheme"
        recorded = _recorded_identity(meta)
        if problem := path_identity_problem(recorded, items):
            if problem == "another state of the file":
                return None, "landing index written for another state of items.jsonl"
            return None, f"landing index of items.jsonl: {problem}"
        size = recorded["bytes"]
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, ValueError, TypeError):
        return None, "landing index unreadable"
    if frame.schema != INDEX_SCHEMA or frame.height != meta.get("lines"):
        return None, "landing index not in its schema"
    step = pl.col("length").cast(pl.Int64) + 1
    tiles = frame.select(
        ok=((pl.col("offset") == step.cum_sum() - step).all() & (pl.col("length") > 0).all()
            & (step.sum() == size) & pl.col("offset").is_not_null().all()),
    ).item() if frame.height else size == 0
    if not tiles:
        return None, "landing index does not cover items.jsonl line by line"
    frame = frame.with_row_index("line").with_columns(pl.col("line").cast(pl.Int64))
    if frame.height:
        picks = sorted({0, frame.height - 1, *random.Random().sample(range(frame.height),
                                                                       min(INDEX_CHECK_LINES, frame.height))})
        sample = frame[picks]
        fd = os.open(items, os.O_RDONLY)
        try:
            texts = _read_at(fd, sample["offset"].to_list(), sample["length"].to_list())
        finally:
            os.close(fd)
        if texts is None:
            return None, "landing index does not match the lines of items.jsonl"
        again = fingerprint_lines(sample.select("line").with_columns(text=pl.Series(texts, dtype=pl.String)))
        cols = ["fp_a", "fp_b", "n_bytes", "run_id_text", "fetched_at_text"]
        if not all(sample.get_column(c).eq_missing(again.get_column(c)).all() for c in cols):
            return None, "landing index does not match the lines of items.jsonl"
    return frame, ""


def read_lines_at(run_dir: Path | str, index: pl.DataFrame) -> pl.Series | None:
    """The texts of ``index``'s lines (a subset of ``read_index``'s frame), read by offset;
    None when one is not a whole UTF-8 line."""
    if index.height == 0:
        return pl.Series("text", [], dtype=pl.String)
    fd = os.open(Path(run_dir) / "items.jsonl", os.O_RDONLY)
    try:
        texts = _read_at(fd, index["offset"].to_list(), index["length"].to_list())
    finally:
        os.close(fd)
    return None if texts is None else pl.Series("text", texts, dtype=pl.String)


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


def _fingerprints(lines: pl.DataFrame | None, provenance: pl.DataFrame, keys: pl.DataFrame,
                  offerings: pl.DataFrame, fast: bool, normalizer: str,
                  times: pl.Series | None = None) -> pl.DataFrame:
    """The fingerprints frame kept with the staging output. A line is reusable next time when
    its fingerprint is known, the file was read line by line (``fast``), its provenance values
    as written are the ones the reader gave, it became an offering, and its key is unique.
    ``provenance`` (run_id, fetched_at) and ``keys`` (``_keys``) are the raw rows'."""
    if lines is None or not fast or lines.height != provenance.height:
        return pl.DataFrame(schema=FINGERPRINT_SCHEMA)
    if times is None:
        times = parse_times(lines.get_column("fetched_at_text"))
    if times is None:
        times = pl.Series([None] * lines.height, dtype=RAW_SCHEMA["fetched_at"])
    ids = offerings.select("source", "source_key", "offering_id")
    frame = pl.concat([
        lines.select("line", "fp_a", "fp_b", "n_bytes", "run_id_text", "fetched_at_text"),
        keys,
        provenance.select(_run=pl.col("run_id"), _at=pl.col("fetched_at")),
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


class PatchedRows:
    """A frame given as rows of a previous output's frame, with the ``REFRESHED`` columns set
    anew, and new rows: how the reuse path hands over the run's raw rows without reading the
    previous raw rows (payloads and all) into memory. ``collect()`` puts the frame together,
    reading the previous frame whole; a writer that stores it as a patch on the previous file
    (pipelines/frames.py) reads only what that file lacks.

    ``source_rows``: per row, its row in the previous frame (Int64), null for a new row;
    ``new_rows``: the new rows in order (the whole schema); ``refreshed``: the ``REFRESHED``
    columns of every row."""

    def __init__(self, previous: Previous, name: str, source_rows: pl.Series, new_rows: pl.DataFrame,
                 refreshed: pl.DataFrame, schema: pl.Schema) -> None:
        if refreshed.height != source_rows.len() or new_rows.height != source_rows.null_count():
            raise ValueError(f"PatchedRows {name!r}: {source_rows.len()} rows, {refreshed.height} refreshed, "
                             f"{new_rows.height} new for {source_rows.null_count()}")
        if new_rows.schema != schema or list(refreshed.columns) != list(REFRESHED):
            raise ValueError(f"PatchedRows {name!r}: new rows or refreshed columns not in the frame's schema")
        self.previous, self.name, self.schema = previous, name, schema
        self.source_rows, self._new, self._refreshed = source_rows.cast(pl.Int64), new_rows, refreshed

    @property
    def height(self) -> int:
        return self.source_rows.len()

    @property
    def columns(self) -> list[str]:
        return self.schema.names()

    def new_rows(self) -> pl.DataFrame:
        return self._new

    def refreshed(self) -> pl.DataFrame:
        return self._refreshed

    def collect(self) -> pl.DataFrame:
        """The frame: one gather from the previous frame followed by the new rows (one chunk:
        a gather across the chunks of a Parquet-read frame takes ten times as long), then the
        refreshed columns. Raises ValueError when the previous frame is gone or does not fit."""
        previous = _previous_part(self.previous, self.name, self.schema.names())  # read, not kept
        if previous is None or previous.schema != self.schema:
            raise ValueError(f"the previous {self.name!r} frame is absent or not in the schema")
        src = self.source_rows
        n_prev = previous.height
        if src.len() > src.null_count() and (src.min() < 0 or src.max() >= n_prev):
            raise ValueError(f"rows of the previous {self.name!r} frame out of range")
        index = pl.select(pl.when(src.is_null()).then(n_prev + src.is_null().cum_sum().cast(pl.Int64) - 1)
                          .otherwise(src)).to_series()
        pool = pl.concat([previous, self._new], how="vertical").rechunk()
        del previous
        gathered = pool[index]
        del pool
        return gathered.with_columns(self._refreshed).select(self.schema.names())


@dataclass
class ReuseResult:
    """``raw`` and ``invalid`` as ``read_landing`` gives them, ``result`` as ``normalize``
    gives it (its rejects without ``invalid``), ``fingerprints`` to keep with the output,
    ``stats``: mode (reuse | full), reason, records, reused, normalized, parsed, seconds.
    ``raw_rows`` is ``raw`` or, on the reuse path, the same rows as ``PatchedRows`` (``raw``
    puts them together on first use)."""

    raw_rows: pl.DataFrame | PatchedRows
    invalid: pl.DataFrame
    result: NormalizeResult
    fingerprints: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)
    # Per row of ``raw`` and of ``result.offerings`` (keys "raw", "offerings"): the row of the
    # previous output's frame it is, with ``REFRESHED`` set anew, or null for a row normalized
    # now. Empty on the full path. The IO manager stores such a frame as a patch on the
    # previous file (pipelines/frames.py).
    previous_rows: dict[str, pl.Series] = field(default_factory=dict)

    @property
    def raw(self) -> pl.DataFrame:
        if isinstance(self.raw_rows, PatchedRows):
            self.raw_rows = self.raw_rows.collect()
        return self.raw_rows

    def staging(self) -> dict[str, pl.DataFrame]:
        """The staging output: raw, offerings, rejects (invalid.jsonl first), fingerprints."""
        return {**self.handoff(), "raw": self.raw}

    def handoff(self) -> dict[str, pl.DataFrame | PatchedRows]:
        """``staging()`` with the raw rows as ``raw_rows`` (not put together on the reuse path:
        for pipelines.frames.derive, which stores them as a patch on the previous file)."""
        return {"raw": self.raw_rows, "offerings": self.result.offerings,
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


def load_previous(folder: Path | str, part: str, columns: list[str] | None = None) -> pl.DataFrame | None:
    path = Path(folder) / f"{part}.parquet"
    try:
        return pl.read_parquet(path, columns=columns) if path.is_file() else None
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None


def _previous_part(previous: Previous, part: str, columns: list[str] | None = None) -> pl.DataFrame | None:
    """One frame of the previous output (only ``columns`` of it, when given), or None when it
    is absent or unreadable (a mapping may read its frames lazily and offer ``read(name,
    columns)`` to read some columns alone, e.g. pipelines.frames.FrameFolder)."""
    try:
        if isinstance(previous, str | Path):
            return load_previous(previous, part, columns)
        if columns is not None and callable(getattr(previous, "read", None)):
            frame = previous.read(part, columns) if part in previous else None
        else:
            frame = previous.get(part)
            frame = frame.select(columns) if isinstance(frame, pl.DataFrame) and columns is not None else frame
    except (pl.exceptions.PolarsError, OSError, ValueError, KeyError):
        return None
    return frame if isinstance(frame, pl.DataFrame) else None


def _previous_schema(previous: Previous, part: str) -> pl.Schema | None:
    """The schema of one frame of the previous output, from its files' metadata where it can
    (a mapping offering ``schema(name)``, e.g. pipelines.frames.FrameFolder); None when absent."""
    try:
        if isinstance(previous, str | Path):
            path = Path(previous) / f"{part}.parquet"
            return pl.read_parquet_schema(path) if path.is_file() else None
        if callable(getattr(previous, "schema", None)):
            return previous.schema(part) if part in previous else None
        frame = previous.get(part)
    except (pl.exceptions.PolarsError, OSError, ValueError, KeyError):
        return None
    return frame.schema if isinstance(frame, pl.DataFrame) else None


def _full(run_dir: Path, lines: pl.DataFrame | None, kinds: Mapping[str, str] | None, normalizer: str,
          clock: _Clock, reason: str, normalize_fn: Callable[..., NormalizeResult]) -> ReuseResult:
    with clock("read_landing"):
        raw, invalid, fast = _read_run(run_dir)
    with clock("normalize"):
        result = normalize_fn(raw.lazy(), provider_kinds=kinds)
    with clock("fingerprint"):
        fps = _fingerprints(lines, raw.select(REFRESHED), _keys(raw), result.offerings, fast, normalizer)
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
        # The crawl's index of items.jsonl when it holds for the file; else the file read.
        lines, index_reason = read_index(run_dir)
        indexed = lines is not None
        if lines is None:
            lines = read_lines(run_dir / "items.jsonl")
            lines = fingerprint_lines(lines) if lines is not None else None

    loading: _PreviousFrames | None = None  # the previous raw rows and offerings being read
    prev_keys = prev_off = None  # the previous raw rows' keys (source, source_key), its offerings
    prev_schema: pl.Schema | None = None

    def full(reason: str) -> ReuseResult:
        nonlocal lines, prev_keys, prev_off
        if loading is not None:  # the previous frames are not needed: wait for their read, drop them
            loading.discard()
        prev_keys = prev_off = None
        if lines is not None:  # the line texts are not needed any more: free them first
            lines = lines.drop("text", strict=False)
        out = _full(run_dir, lines, provider_kinds, normalizer, clock, reason, normalize_fn or normalize)
        out.stats["seconds"] = {k: round(v, 3) for k, v in clock.seconds.items()}
        out.stats["index"] = "used" if indexed else index_reason
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
        n_prev_fp = prev_fp.height
        del prev_fp
        matched = lines.join(candidates, on=match_on, how="left", maintain_order="left")
        hit = pl.col("_prev_line").is_not_null()
        any_hit = matched.select(hit.any()).item()
    if not any_hit:
        return full("no line unchanged since the previous run")

    # The previous raw rows and offerings are read on a second thread (Polars releases the
    # GIL while it reads) while this one parses and normalizes the changed lines; a fallback
    # to the full path waits for the read and drops it first.
    loading = _PreviousFrames(previous)
    try:
        with clock("fingerprint"):
            if indexed:  # the lines to parse read by their byte ranges
                to_parse = matched.filter(~hit).select("line", "offset", "length")
                texts = read_lines_at(run_dir, to_parse)
                if texts is None:  # the index lied: the file read as lines after all, all normalized
                    indexed, index_reason = False, "landing index does not match the lines of items.jsonl"
                    lines = read_lines(run_dir / "items.jsonl")
                    lines = fingerprint_lines(lines) if lines is not None else None
                    return full("the landing index does not match items.jsonl")
                to_parse = to_parse.select("line").with_columns(texts)
            else:
                to_parse = matched.filter(~hit).select("line", "text")
            matched = matched.drop("text", strict=False)
            lines = lines.drop("text", strict=False)

        with clock("read_landing"):
            if _has_content(run_dir / "items.jsonl") and to_parse.height:
                parsed = _parse_lines(to_parse.get_column("text"))
            else:
                parsed = pl.DataFrame(schema=RAW_SCHEMA)
            to_parse = to_parse.drop("text")
            if parsed is None:
                return full("a changed line needs the reader's slow path")
            invalid = _read_invalid(run_dir)

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
            at = matched.get_column("_prev_line")
            if at.min() < 0 or at.max() >= n_prev_fp:
                return full("previous fingerprints point past its raw rows")
            # Each line's source and key: the previous fingerprints' for a matched line (checked
            # against its raw row below), the parsed row's for the others. A matched line is
            # reused unless its key occurs more than once in the run.
            parsed = parsed.select([pl.col(n).cast(t) for n, t in RAW_SCHEMA.items()])
            line_keys = pl.concat([
                matched.filter(hit).select("line", source="_source", source_key="_key"),
                pl.concat([to_parse, _keys(parsed)], how="horizontal"),
            ], how="vertical").sort("line")
            if not line_keys.get_column("line").equals(matched.get_column("line")):
                return full("lines and raw rows do not add up")
            line_keys = line_keys.drop("line")
            dup = ((pl.len().over("source", "source_key") > 1) & pl.col("source").is_not_null()
                   & pl.col("source_key").is_not_null())
            hits = matched.get_column("_prev_line").is_not_null()
            reuse_line = hits & ~line_keys.select(dup).to_series()
            if (hits & ~reuse_line).any():
                subset = None  # matched lines of a repeated key: taken from the previous rows below
            else:
                subset, subset_lines = parsed, to_parse.get_column("line")

        def assemble_raw() -> PatchedRows | str:
            """The run's raw rows as rows of the previous raw frame (its ``REFRESHED``
            columns set from the lines) and the parsed rows, in line order (parsed rows are in
            line order too), without reading the previous rows: only their keys, to check that
            each is its line's (source and key). A string says why the rows cannot be put
            together."""
            nonlocal prev_keys
            if prev_keys is None or prev_schema != RAW_SCHEMA:
                return "previous raw or offerings absent or not in the contract's schema"
            if n_prev_fp != prev_keys.height:
                return "previous fingerprints do not match its raw rows"
            hit_rows = matched.get_column("_prev_line").filter(hits)
            # The previous row must be the line's: same source and key.
            previous_keys = _keys(prev_keys)[hit_rows]
            prev_keys = None
            if pl.concat([previous_keys, line_keys.filter(hits).select(_source="source", _key="source_key")],
                         how="horizontal").filter(
                    pl.col("source").ne_missing(pl.col("_source")) | pl.col("source_key").ne_missing(pl.col("_key"))
                    | pl.col("source").is_null() | pl.col("source_key").is_null()).height:
                return "previous raw rows do not match their fingerprints"
            source_rows = matched.get_column("_prev_line").cast(pl.Int64)
            provenance = matched.select(run_id=pl.col("run_id_text"), fetched_at=pl.col("_at"))
            if parsed.height:  # the parsed lines' own values where the line is not a hit
                at = matched.select(((~hit).cast(pl.Int64).cum_sum() - 1).clip(0)).to_series()
                mine = parsed.select(REFRESHED)[at]
                provenance = pl.concat([provenance, mine.select(_run="run_id", _at="fetched_at"),
                                        matched.select(_hit=hit)], how="horizontal").select(
                    run_id=pl.when("_hit").then(pl.col("run_id")).otherwise(pl.col("_run")),
                    fetched_at=pl.when("_hit").then(pl.col("fetched_at")).otherwise(pl.col("_at")))
            provenance = provenance.select([pl.col(n).cast(RAW_SCHEMA[n]) for n in REFRESHED])
            try:
                return PatchedRows(previous, "raw", source_rows, parsed, provenance, RAW_SCHEMA)
            except ValueError as exc:
                return str(exc)

        def previous_raw() -> PatchedRows | str:
            """Wait for the previous frames; the raw rows of every line (or why not)."""
            nonlocal prev_keys, prev_off, prev_schema
            with clock("load previous"):
                prev_keys, prev_off, prev_schema = loading.frames()
            with clock("reuse"):
                return assemble_raw()

        patched = None
        if subset is None:
            patched = previous_raw()
            if isinstance(patched, str):
                return full(patched)
            with clock("reuse"):
                try:  # the matched lines of a repeated key are normalized from their previous rows
                    raw = patched.collect()
                except ValueError as exc:
                    return full(str(exc))
                subset = raw.filter(~reuse_line)
                del raw
                subset_lines = matched.get_column("line").filter(~reuse_line)

        with clock("normalize"):
            result = normalize(subset.lazy(), provider_kinds=provider_kinds)

        with clock("reuse"):
            # The normalized offerings are the subset's rows that _classify keeps, in order.
            kept = (_classify(_conform(subset.lazy()))
                    .select("source", "_key", "_reject").collect(engine="in-memory")
                    .with_columns(line=subset_lines).filter(pl.col("_reject").is_null()))
            n_subset = subset.height
            del subset
            fresh = result.offerings
            if kept.height != fresh.height or (fresh.height and not (
                    kept.get_column("source").equals(fresh.get_column("source"))
                    and kept.get_column("_key").equals(fresh.get_column("source_key")))):
                return full("normalized offerings do not line up with their lines")

        if patched is None:
            patched = previous_raw()
            if isinstance(patched, str):
                return full(patched)
        if prev_off is None or prev_off.schema != OFFERING_SCHEMA:
            return full("previous raw or offerings absent or not in the contract's schema")

        with clock("reuse"):
            reuse_rows = matched.select("line", "_offering_id", "run_id_text", "_at").filter(reuse_line)
            # Each reused line's previous offering by offering_id (a narrow join), then one gather
            # from the previous offerings followed by the fresh ones, in line order.
            n_prev = prev_off.height
            order = pl.concat([
                prev_off.select("offering_id").with_row_index("_src").join(
                    reuse_rows, left_on="offering_id", right_on="_offering_id", how="inner")
                .select("line", pl.col("_src").cast(pl.Int64), "run_id_text", "_at", _hit=pl.lit(True)),
                kept.select("line", _src=pl.int_range(n_prev, n_prev + kept.height, dtype=pl.Int64),
                            run_id_text=pl.lit(None, pl.String), _at=pl.lit(None, RAW_SCHEMA["fetched_at"]),
                            _hit=pl.lit(False)),
            ], how="vertical").sort("line")
            if order.height != reuse_rows.height + kept.height:
                return full("previous offerings missing for reused lines")
            pool = pl.concat([prev_off, fresh.select(OFFERING_SCHEMA.names())], how="vertical").rechunk()
            prev_off = None
            offerings = pl.concat([pool[order.get_column("_src")], order.select("_hit", "run_id_text", "_at")],
                                  how="horizontal").select(
                pl.exclude("run_id", "fetched_at", "_hit", "run_id_text", "_at"),
                run_id=pl.when("_hit").then(pl.col("run_id_text")).otherwise(pl.col("run_id")),
                fetched_at=pl.when("_hit").then(pl.col("_at")).otherwise(pl.col("fetched_at")),
            ).select([pl.col(n).cast(t) for n, t in OFFERING_SCHEMA.items()])
            del pool
            result = NormalizeResult(offerings=offerings,
                                     rejects=result.rejects.select([pl.col(n).cast(t) for n, t in REJECT_SCHEMA.items()]),
                                     fx_rate_date=result.fx_rate_date)
    finally:
        loading.discard()

    with clock("fingerprint"):
        fps = _fingerprints(lines, patched.refreshed(), line_keys, offerings, True, normalizer, times)
    previous_rows = {
        "raw": patched.source_rows.alias("raw"),
        "offerings": order.select(pl.when("_hit").then(pl.col("_src"))).to_series().alias("offerings"),
    }
    stats = {"mode": "reuse", "reason": "", "records": patched.height, "reused": reuse_rows.height,
             "normalized": n_subset, "parsed": parsed.height, "index": "used" if indexed else index_reason,
             "seconds": {k: round(v, 3) for k, v in clock.seconds.items()}}
    return ReuseResult(patched, invalid, result, fps, stats, previous_rows)


class _PreviousFrames:
    """The previous output's raw rows' keys (source, source_key) and schema and its
    ``offerings`` (``_previous_part``), read on a thread of their own from the moment this is
    made: ``frames`` waits for them, ``discard`` waits and drops them (the caller closes the
    previous output's files only after either). The raw rows themselves are not read: the
    run's are handed over as ``PatchedRows`` on them."""

    def __init__(self, previous: Previous) -> None:
        self._out: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._read, args=(previous,), name="credcat-reuse-previous",
                                        daemon=True)
        self._thread.start()

    def _read(self, previous: Previous) -> None:
        try:
            self._out["frames"] = (_previous_part(previous, "raw", ["source", "source_key"]),
                                   _previous_part(previous, "offerings"), _previous_schema(previous, "raw"))
        except BaseException as exc:  # raised again by frames(), on the caller's thread
            self._out["error"] = exc

    def frames(self) -> tuple[pl.DataFrame | None, pl.DataFrame | None, pl.Schema | None]:
        self._thread.join()
        if "error" in self._out:
            raise self._out.pop("error")
        return self._out.pop("frames")

    def discard(self) -> None:
        self._thread.join()
        self._out.clear()


__all__ = ["FINGERPRINT_SCHEMA", "INDEX_NAME", "INDEX_SCHEMA", "REFRESHED", "LandingIndex", "PatchedRows", "ReuseResult", "fingerprint_lines",
           "fingerprint_scheme", "index_landing", "load_previous", "normalize_with_reuse", "normalizer_fingerprint",
           "parse_times", "read_index", "read_lines", "read_lines_at"]
