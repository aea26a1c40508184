"""Landing files -> raw frame -> Offering rows and rejects.

``read_landing`` reads the spiders' run folders; ``normalize`` maps every raw row onto the
taxonomy (shared/TAXONOMY.md) as a chain of ``LazyFrame -> LazyFrame`` steps, collected once
at the edge. Every raw row ends as exactly one offering or one reject (the counts reconcile).
List fields (prices, subjects, outcomes, start dates) are mapped in long form, one row per
element, in branches that join back on the row number.

Mapping rules worth knowing (each also stated where it is applied):
- A raw value that cannot be mapped leaves the field null and adds ``"field: reason 'value'"``
  to ``mapping_notes``; nothing is guessed.
- Test records ("TEST", "TestCourse", "DO NOT USE" ...; data/test_markers.csv) stay offerings
  with ``is_test`` and status "test".
- Units decide meaning: hour quantities are workload, calendar quantities are duration,
  whichever raw field they came in ("Approx. 40 hours" in a duration field is effort, "P4W"
  in an effort field is a length). Effort per week is multiplied by the duration in weeks;
  without a duration the total is unknown (null, noted).
- ECTS: credits whose unit is ECTS are taken as they are; otherwise ECTS is derived from the
  workload (midpoint of min/max hours / 27.5, the middle of the 25-30 h range, rounded to
  0.5) and flagged ``ects_derived``; below 0.5 ECTS nothing is derived.
- credential_type is the CTDL class of what is awarded; a course or exam awarding nothing has
  none (record_kind says learning_opportunity / assessment). Language keeps no region.
- EQF only from evidence: an explicit "EQF 6", a degree type (Associate 5 ... Doctoral 8) or a
  degree-level audience (Bachelors Degree Level -> 6). Never from "beginner".
- The main price is a paid price before a free one, preferring AggregateCost, then Tuition,
  then untyped, and among those the lowest (in USD where rates allow; "member 1,407 /
  non-member 1,640" -> 1,407), then the first. Subscriptions (monthly prices too) and prices
  per credit, hour or course are no course price (noted); a price per term is kept, noted. A
  free audit track beside a paid one sets ``free_to_audit`` instead, and as the only price
  makes the offering free. A zero price has no currency. ``price_usd`` uses the dated table
  data/fx_rates.csv; its date is returned as ``NormalizeResult.fx_rate_date``.
- Skills: each distinct provider skill name is matched once against the ESCO list
  (normalize/taxonomy/skills.py: curated look-up, exact labels, label runs, guarded fuzzy
  match; every number in data/skill_match.csv) and the table joined back: ``skills`` holds
  the ESCO URIs in the names' order, ``skill_scores`` their match scores, ``skills_raw`` the
  names as given. Without the ESCO list (``make esco``) skills stay empty and noted.
- ``content_hash`` covers every Offering field except run_id, fetched_at, url and the hash itself,
  so re-crawling unchanged content gives the same hash.
- Hostile values are refused, never guessed: a negative quantity, exponent notation, or a
  figure beyond a plausible bound (``MAX_PRICE``, ``MAX_DURATION_WEEKS``,
  ``MAX_WORKLOAD_HOURS``, ``MAX_CREDITS``, ``MAX_COUNT``) and start dates outside
  1900-2100 become null with a note; a url that is not http(s) is dropped (noted); raw copies
  and values quoted in notes lose markup, control and bidi characters.

How it stays fast (1M generated raw records: read + map in about 47 s, 2 GB, one source at a
time; ``python -m normalize.bench --size 1000000``): items.jsonl is read by DuckDB's JSON
reader; the source's whole record (``payload``) never enters the mapping, only rejects quote
it; steps that read only low-cardinality raw fields (language, country, credential label,
workload, duration, credits, modality, subject names and codes) run once per distinct value
(``_per_distinct``); Python libraries run once per distinct value that needs them
(``expressions.map_distinct``); everything is collected once, on the in-memory engine.
Small inputs (below ``SMALL_INPUT_ROWS``; the changed lines of an incremental run) cost mostly
the plan, so the plan is built once per process and kept (``PLAN_CACHE``): 1,000 rows went
from ~0.42 to ~0.16 s CPU a call.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import langcodes
import polars as pl
import pycountry
from polars.io.plugins import register_io_source

from normalize import taxonomy as tx
from normalize.expressions import (
    NEEDS_CLEANING,
    PRICE_PER_DTYPE,
    blank_to_null,
    clean_text,
    collapse_whitespace,
    keyword_text,
    lookup_exact,
    map_distinct,
    marker_text,
    match_keywords,
    matches_any,
    number_refusal,
    on_distinct,
    parse_bool,
    parse_count,
    parse_credits,
    parse_date,
    parse_duration,
    parse_price,
    parse_rating,
    parse_workload,
    plain_text,
    price_per,
    sanitize_text,
)
from normalize.schema import (
    OFFERING_ID_CHARS,
    OFFERING_ID_SEPARATOR,
    OFFERING_SCHEMA,
    RAW_SCHEMA,
    REJECT_SCHEMA,
)
from normalize.taxonomy import skills as esco_skills
from normalize.taxonomy.cip import load_cip_isced
from normalize.taxonomy.esco import ESCO_SKILL_URI

# Source-registry provider kinds that describe a lister, not an organization that awards.
LISTER_ONLY_KINDS = frozenset({"registry", "aggregator"})
HOURS_PER_ECTS = 27.5  # middle of the 25-30 hours that one ECTS credit stands for
NOTE_VALUE_CHARS = 80  # raw values quoted in mapping notes are cut to this length

_RAW_COLUMNS = list(RAW_SCHEMA.names())
# List columns produced by the long-form branches; offerings without elements get [].
_PER_ROW_LISTS = ["prices", "_n_prices", "isced_codes", "isced_confidence", "_n_subjects",
                  "learning_outcomes", "start_dates", "_n_dates", "_skill_uris", "_skill_scores", "_n_skills"]
_LIST_COLUMNS = [n for n, t in RAW_SCHEMA.items() if isinstance(t, pl.List)]


@dataclass(frozen=True)
class NormalizeResult:
    """The output of ``normalize``: offerings (OFFERING_SCHEMA) and rejects (REJECT_SCHEMA).

    ``fx_rate_date`` is the date of the exchange-rate table behind ``price_usd``.
    """

    offerings: pl.DataFrame
    rejects: pl.DataFrame
    fx_rate_date: date | None = None


# --- reading the landing zone -------------------------------------------------------------------


def _empty(schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def _reject_row(source: str, run_id: str, reason: str, detail: str, payload: str,
                source_key: str | None = None) -> dict[str, Any]:
    return {"source": source, "source_key": source_key, "run_id": run_id, "reason": reason,
            "detail": detail, "payload": payload}


def _json_objects(path: Path, source: str, run_id: str,
                  rejects: list[dict[str, Any]]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(line number, line, object) for each JSON object line of a JSON Lines file; a line that
    is not a JSON object becomes an ``invalid_json`` reject in ``rejects``.

    Lines split on "\n" only: splitlines() also breaks on U+2028 and friends, which JSON text
    may hold unescaped.
    """
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            rejects.append(_reject_row(source, run_id, "invalid_json", f"{path.name} line {number}: {exc}", line))
            continue
        yield number, line, obj


def _has_content(path: Path, probe: int = 1 << 16) -> bool:
    """True when the file holds anything but whitespace. Reads at most ``probe`` bytes at a
    time and stops at the first non-blank one (a landing file can be gigabytes)."""
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        while chunk := fh.read(probe):
            if chunk.strip():
                return True
    return False


def _duckdb_type(dtype: pl.DataType) -> str:
    if dtype == pl.String:
        return "VARCHAR"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ"
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
        return "STRUCT(" + ", ".join(f'"{f.name}" {_duckdb_type(f.dtype)}' for f in dtype.inner.fields) + ")[]"
    if isinstance(dtype, pl.List):
        return _duckdb_type(dtype.inner) + "[]"
    raise TypeError(f"no DuckDB type for {dtype}")


_RAW_JSON_COLUMNS = "{" + ", ".join(f"'{n}': '{_duckdb_type(t)}'" for n, t in RAW_SCHEMA.items()) + "}"
# Text fields whose JSON value must be a string: DuckDB's reader turns an object or array
# given there into its JSON text, where RawOffering refuses it.
_SCALAR_TEXT = [n for n, t in RAW_SCHEMA.items() if t == pl.String and n != "payload"]


def read_json_lines_duckdb(path: Path, columns: str) -> pl.DataFrame | None:
    """Newline-delimited JSON at ``path`` read strictly by DuckDB's JSON reader as ``columns``
    (a DuckDB struct literal: {'name': 'TYPE', ...}); None when the reader refuses a line."""
    con = duckdb.connect()
    try:
        frame = pl.from_arrow(con.sql(
            f"select * from read_json($path, format='newline_delimited', columns={columns})",
            params={"path": str(path)},
        ).to_arrow_table())
    except duckdb.Error:
        return None
    finally:
        con.close()
    assert isinstance(frame, pl.DataFrame)
    return frame


def _read_items_duckdb(path: Path) -> pl.DataFrame | None:
    """items.jsonl through DuckDB's JSON reader (about a quarter of the CPU time of Polars'
    NDJSON reader on landing files, same frame). None when the file needs the strict path:
    a line DuckDB cannot read as RAW_SCHEMA, or a text field that starts like an object or an
    array (which DuckDB would keep as JSON text; the Polars path refuses it, as RawOffering
    does). A ``payload`` given as an object is kept as its JSON text, as the line-by-line
    path does."""
    frame = read_json_lines_duckdb(path, _RAW_JSON_COLUMNS)
    if frame is None:
        return None
    if frame.height and frame.select(
        pl.any_horizontal(pl.col(c).str.starts_with("{") | pl.col(c).str.starts_with("[") for c in _SCALAR_TEXT)
        .fill_null(False).any()
    ).item():
        return None
    return frame.cast(dict(RAW_SCHEMA))


def _read_items(path: Path, source: str, run_id: str) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """items.jsonl -> RAW_SCHEMA frame. The fast path reads the whole file in Polars; if a
    line is broken (a crawl killed mid-write, a type the schema refuses), the file is read
    line by line and each bad line becomes a reject instead of failing the run."""
    if not _has_content(path):
        return _empty(RAW_SCHEMA), []
    frame = _read_items_duckdb(path)
    if frame is not None:
        return frame, []
    try:
        return pl.read_ndjson(path, schema=RAW_SCHEMA), []
    except (pl.exceptions.PolarsError, ValueError):
        pass
    good: list[pl.DataFrame] = []
    rejects: list[dict[str, Any]] = []
    for number, line, obj in _json_objects(path, source, run_id, rejects):
        if not isinstance(obj.get("payload", ""), str):
            obj["payload"] = json.dumps(obj["payload"], ensure_ascii=False)
        try:
            good.append(pl.read_ndjson(json.dumps(obj).encode(), schema=RAW_SCHEMA))
        except (pl.exceptions.PolarsError, ValueError) as exc:
            rejects.append(_reject_row(
                str(obj.get("source") or source), str(obj.get("run_id") or run_id),
                "schema_violation", f"{path.name} line {number}: {exc}"[:500], line,
                source_key=str(obj["source_key"]) if obj.get("source_key") is not None else None,
            ))
    frame = pl.concat(good, how="vertical") if good else _empty(RAW_SCHEMA)
    return frame, rejects


def _read_invalid(path: Path, source: str, run_id: str) -> list[dict[str, Any]]:
    """invalid.jsonl: items the spider's validation refused. Few lines; read in Python so
    that any shape of line still becomes a reject."""
    if not path.is_file():
        return []
    rows = []
    for _number, _line, obj in _json_objects(path, source, run_id, rows):
        payload = obj.get("payload")
        if not isinstance(payload, str):
            payload = json.dumps(payload if payload is not None else obj, ensure_ascii=False)
        key = obj.get("source_key")
        detail = obj.get("detail")
        rows.append(_reject_row(
            str(obj.get("source") or source), str(obj.get("run_id") or run_id),
            str(obj.get("reason") or "schema_violation"),
            detail if isinstance(detail, str) else (json.dumps(detail) if detail is not None else None),
            payload, source_key=str(key) if key is not None else None,
        ))
    return rows


def read_landing(run_dirs: Sequence[Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read run folders ``<landing>/<source>/<run_id>/``: items.jsonl -> raw rows
    (RAW_SCHEMA), invalid.jsonl (and unreadable item lines) -> rejects (REJECT_SCHEMA).
    Missing or empty files give empty frames with the right schema."""
    raws: list[pl.DataFrame] = []
    rejects: list[dict[str, Any]] = []
    for run_dir in map(Path, run_dirs):
        source, run_id = run_dir.parent.name, run_dir.name
        raw, bad = _read_items(run_dir / "items.jsonl", source, run_id)
        raws.append(raw)
        rejects.extend(bad)
        rejects.extend(_read_invalid(run_dir / "invalid.jsonl", source, run_id))
    raw = pl.concat(raws, how="vertical") if raws else _empty(RAW_SCHEMA)
    invalid = pl.DataFrame(rejects, schema=REJECT_SCHEMA) if rejects else _empty(REJECT_SCHEMA)
    return raw, invalid


# --- small helpers ------------------------------------------------------------------------------


# Plausible bounds: a figure beyond one is a data error ("99999999999 years", a price of
# 1e29), nulled with an "out of range" note. A price may reach MAX_PRICE in USD or in units of
# its own currency, whichever is more (10 million rupiah is a plausible course fee).
MAX_PRICE = 1e7
MAX_DURATION_WEEKS = 520.0  # ten years
MAX_WORKLOAD_HOURS = 20_000.0
MAX_CREDITS = 600.0
MAX_COUNT = 1_000_000_000  # ratings, enrolments
DATE_RANGE = (date(1900, 1, 1), date(2100, 12, 31))  # start dates outside it: out of range


def _note(cond: pl.Expr, field: str, reason: str | Callable[[pl.Expr], pl.Expr],
          value: pl.Expr | None = None) -> pl.Expr:
    """One mapping note where ``cond`` holds: "field: reason 'value'".

    Notes reach the marts and the exports, so the value is quoted sanitized (no markup, no
    control or bidi characters: ``sanitize_text``) and cut to ``NOTE_VALUE_CHARS``; a value that
    was nothing but markup is quoted ''. The value is masked to the noted rows first, so the
    quoting costs nothing on the others. ``reason`` may be a function of the masked value
    giving each row's reason (``number_refusal``: "negative" or "unparsed").
    """
    if value is None:
        return pl.when(cond).then(pl.lit(f"{field}: {reason}"))
    masked = pl.when(cond).then(value.cast(pl.String))
    quoted = pl.when(masked.is_not_null()).then(
        pl.coalesce(sanitize_text(masked).str.slice(0, NOTE_VALUE_CHARS), pl.lit(""))
    )
    if callable(reason):
        return pl.format(f"{field}: {{}} '{{}}'", reason(masked), quoted)
    return pl.format(f"{field}: {reason} '{{}}'", quoted)


def _notes(step: str, *notes: pl.Expr) -> pl.Expr:
    """A step's notes as a List[String] column ``_n_<step>``; finalize gathers them all."""
    return pl.concat_list([n.cast(pl.String) for n in notes]).list.drop_nulls().alias(f"_n_{step}")


def _present(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.len_chars().fill_null(0) > 0


def _lookup(raw: pl.Expr, lookup: tx.Lookup) -> pl.Expr:
    """Value of the whole string, else of the first keyword in it; "" = recognised-none."""
    return pl.coalesce(
        lookup_exact(raw, lookup.exact),
        match_keywords(raw, lookup.keywords).list.drop_nulls().list.first(),
    )


def _sha256_hex(chars: int) -> Callable[[pl.Series], pl.Series]:
    """SHA-256 per value. Polars' own ``hash`` is not stable across versions or platforms, and
    content hashes must survive upgrades (SCD2 history compares them run to run)."""

    def digest(s: pl.Series) -> pl.Series:
        return pl.Series(
            s.name,
            [hashlib.sha256(v.encode()).hexdigest()[:chars] if v is not None else None for v in s],
            dtype=pl.String,
        )

    return digest


def _fork(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Mark a frame that several branches read (rejects and offerings; the long-form list
    branches and the main chain).

    Polars' common-subplan elimination cannot prove two branches equal once they hold Python
    UDF nodes (map_batches), and then re-runs the whole upstream chain per branch (measured
    15x slower on 20k rows). An explicit cache node runs it once. Branches start from one
    shared frame and join back once: chained fork-and-join steps double the plan each time,
    which made even a one-row run take a second to plan.
    """
    return lf.cache()


# Steps that read only low-cardinality raw fields run once per distinct combination of them
# and are joined back (``_per_distinct``); switch off to compare with the row-wise result.
PER_DISTINCT = True


def _per_distinct(lf: pl.LazyFrame, keys: Sequence[str],
                  step: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.LazyFrame:
    """Run ``step`` on the distinct combinations of ``keys`` only and join the columns it
    adds back onto every row. Catalog fields such as workload, duration, level, language or
    modality take a few hundred distinct values across a million offerings, so their regex
    and look-up chains cost a join instead of a pass per row (1M rows: 8.0 s -> 1.1 s for
    the effort parsers). ``step`` may read only ``keys`` (another column fails at planning)
    and may only add columns (replacing one is refused); the join is on copies of the keys
    taken before the step, so it matches whatever the step does with them. Both sides of the
    join read ``lf``, so it is forked first: without the cache node the upstream chain ran once
    per side, doubling with every nested step (1,000 rows: the markup cleaner ran on 26k
    values instead of 12k)."""
    if not PER_DISTINCT:
        return step(lf)
    lf = _fork(lf)
    have = set(lf.collect_schema().names())
    copies = [f"__distinct_{i}" for i in range(len(keys))]
    table = step(lf.select(keys).unique().with_columns(
        pl.col(k).alias(c) for k, c in zip(keys, copies, strict=True)))
    out = table.collect_schema().names()
    if replaced := [c for c in out if c in have and c not in keys]:
        raise ValueError(f"a per-distinct step may only add columns; it replaces {replaced}")
    added = [c for c in out if c not in have and c not in copies]
    return lf.join(table.select(*copies, *added), left_on=list(keys), right_on=copies, how="left",
                   nulls_equal=True, maintain_order="left")


def _with_row_positions(lf: pl.LazyFrame, column: str, *keep: str) -> pl.LazyFrame:
    """Long form of a list column: one row per element with ``_row`` and ``_pos``."""
    return (
        lf.select("_row", *keep, column)
        .with_columns(pl.int_ranges(pl.col(column).list.len()).alias("_pos"))
        .explode([column, "_pos"])
        .filter(pl.col(column).is_not_null())
    )


# --- steps --------------------------------------------------------------------------------------


def _conform(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Exactly the RAW_SCHEMA columns and types (absent columns null), empty lists for null
    lists, and a row number ``_row`` that keeps input order through the long-form steps."""
    have = raw.collect_schema()
    cols = [
        (pl.col(n) if n in have else pl.lit(None)).cast(t).alias(n) for n, t in RAW_SCHEMA.items()
    ]
    return (
        raw.select(cols)
        .with_columns([pl.col(c).fill_null([]) for c in _LIST_COLUMNS])
        .with_row_index("_row")
    )


def _classify(lf: pl.LazyFrame) -> pl.LazyFrame:
    """``_reject``/``_detail`` per row: provenance missing, no key, no title after cleaning, or
    a source_key seen before in the same source (the first valid row is kept)."""
    lf = lf.with_columns(
        _key=collapse_whitespace(pl.col("source_key")),
        _title=clean_text(pl.col("title")),
    )
    provenance = pl.col("source").is_null() | pl.col("run_id").is_null() | pl.col("fetched_at").is_null()
    reason = (
        pl.when(provenance).then(pl.lit("schema_violation"))
        .when(pl.col("_key").is_null()).then(pl.lit("missing_source_key"))
        .when(pl.col("_title").is_null()).then(pl.lit("missing_title"))
    )
    detail = (
        pl.when(provenance).then(pl.lit("source, run_id and fetched_at are required"))
        .when(pl.col("_key").is_null()).then(pl.lit("source_key is empty"))
        .when(pl.col("_title").is_null()).then(pl.lit("title is empty after removing markup"))
    )
    lf = lf.with_columns(_reject=reason, _detail=detail)
    # One listing per source and key, whatever run each row came from: two runs normalized
    # together must not give one offering_id twice.
    group = ["source", "_key", pl.col("_reject").is_null().alias("_ok")]
    first = pl.col("_row").min().over(group)
    duplicate = pl.col("_reject").is_null() & (pl.col("_row") != first)
    return lf.with_columns(
        _reject=pl.when(duplicate).then(pl.lit("duplicate_source_key")).otherwise("_reject"),
        _detail=pl.when(duplicate)
        .then(pl.format("source_key '{}' already listed earlier in this source; first kept",
                        pl.col("_key")))
        .otherwise("_detail"),
    )


def _rejects(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.filter(pl.col("_reject").is_not_null()).select(
        pl.col("source").fill_null("unknown"),
        pl.coalesce("_key", "source_key").alias("source_key"),
        pl.col("run_id").fill_null("unknown"),
        pl.col("_reject").alias("reason"),
        pl.col("_detail").alias("detail"),
        pl.struct(_RAW_COLUMNS).struct.json_encode().alias("payload"),
    )


# Text cleaned by _map_text: offering column -> (raw column, keep paragraphs).
_CLEANED_TEXT = {
    "description": ("description", True), "awarding_body": ("awarding_body", False),
    "platform": ("platform", False), "prerequisites": ("prerequisites_raw", True),
    # No vocabulary is prescribed for these two EU elements: the source's statement,
    # cleaned, is the honest value.
    "assessment_type": ("assessment_raw", False), "quality_assurance": ("quality_assurance_raw", False),
}
# Raw copies an offering keeps (later steps parse them): markup and control characters go,
# whitespace is collapsed, the encoding stays as the source sent it.
_RAW_COPIES = ["credential_type_raw", "level_raw", "workload_raw", "duration_raw"]
# Raw lists an offering keeps (_finalize names them subjects_raw, subject_codes_raw); only
# elements with markup or control characters are touched.
_RAW_LISTS = {"subjects": "subjects_raw", "subject_codes": "subject_codes_raw"}
# A link a consumer can follow safely: http(s) with a host ("javascript:", "data:" are not).
_HTTP_URL = r"(?i)^https?://[^\s/?#<>\"]"
_URL_ESCAPES = {" ": "%20", '"': "%22", "<": "%3C", ">": "%3E"}  # percent-encoded, as browsers do


def _map_text(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Plain text everywhere: no markup, repaired encodings, collapsed whitespace, no control
    or bidi characters. The raw copies (``_RAW_COPIES``, subjects_raw, subject_codes_raw) lose
    markup too: they reach the marts and the exports. ``url`` is kept only as an http(s) URL.
    Where a value leaves no text once its markup is gone, or a URL is refused, a note says so."""
    copies = {**{t: src for t, (src, _) in _CLEANED_TEXT.items()}, **{c: c for c in _RAW_COPIES}}
    lf = lf.with_columns(
        **{f"_c_{t}": clean_text(pl.col(src), multiline=keep) for t, (src, keep) in _CLEANED_TEXT.items()},
        **{f"_c_{c}": plain_text(pl.col(c)) for c in _RAW_COPIES},
        **{f"_c_{c}": pl.col(c).list.eval(sanitize_text(pl.element())).list.drop_nulls() for c in _RAW_LISTS},
        _c_url=collapse_whitespace(pl.col("url")),
    )

    def markup_only(target: str, src: str) -> pl.Expr:
        # Text was given and nothing is left: it was only markup (or control characters).
        # The check runs on those rows only (null elsewhere).
        emptied = pl.when(pl.col(f"_c_{target}").is_null() & pl.col(src).is_not_null()).then(pl.col(src))
        return _note(emptied.str.contains(NEEDS_CLEANING).fill_null(False), target, "only markup, removed")

    url_ok = pl.col("_c_url").str.contains(_HTTP_URL)
    return lf.with_columns(
        _notes(
            "text",
            *[markup_only(t, src) for t, src in copies.items()],
            *[_note(pl.col(f"_c_{c}").list.len() < pl.col(c).list.len(), name, "entries without text removed")
              for c, name in _RAW_LISTS.items()],
            _note(pl.col("_c_url").is_not_null() & ~url_ok, "url", "not http(s)", pl.col("_c_url")),
        ),
        *[pl.col(f"_c_{c}").alias(c) for c in [*copies, *_RAW_LISTS]],
        url=pl.when(url_ok).then(pl.col("_c_url").str.replace_many(_URL_ESCAPES)),
    ).drop([f"_c_{c}" for c in [*copies, *_RAW_LISTS, "url"]])


def _map_test_flag(lf: pl.LazyFrame) -> pl.LazyFrame:
    markers = tx.load_test_markers()

    def patterns(field: str) -> list[str]:
        return markers.filter(pl.col("field") == field)["pattern"].to_list()

    is_test = (
        matches_any(marker_text(pl.col("_title")), patterns("title"))
        | matches_any(pl.col("title"), patterns("title_raw"))
        | matches_any(marker_text(pl.col("_key")), patterns("source_key"))
        | matches_any(pl.col("_key"), patterns("source_key_raw"))
    )
    return lf.with_columns(is_test=is_test)


# A degree word names the award only on its own: not after "mini", "pre", "micro" or "non"
# ("Mini MBA", "Pre-Master's Programme", "Non-degree"), not before "level" or "prep"
# ("Master's-level course", "MBA Prep"), not after "towards", "stackable", "pathway" ...
# ("Credit towards a Master's degree", "Stackable into a Master's Degree").
_DEGREE_BEFORE = ("mini", "pre", "prep", "micro", "non")
_DEGREE_AFTER = ("level", "prep", "preparation", "preparatory", "readiness", "essentials", "foundation",
                 "foundations", "taster")
_DEGREE_LEADING = ("toward", "towards", "stackable", "stack", "stacks", "pathway", "leading", "counts",
                   "count", "applicable", "preparation", "preparing", "prepare", "bridge", "bridging",
                   "admission")


def _degree_classes(classes: pl.DataFrame) -> frozenset[str]:
    """Degree and every class under it (MasterOfScienceDegree, ResearchDoctorate ...)."""
    parent = dict(zip(classes["code"], classes["parent"], strict=True))

    def under_degree(code: str | None) -> bool:
        seen = set()
        while code and code not in seen:
            if code == "Degree":
                return True
            seen.add(code)
            code = parent.get(code)
        return False

    return frozenset(c for c in parent if under_degree(c))


def _degree_qualified(lookup: tx.Lookup, degrees: frozenset[str]) -> str:
    """A regex over ``keyword_text`` that finds a degree keyword qualified as not the award."""
    words = sorted({p.strip() for p, v in lookup.keywords.items() if v in degrees}, key=lambda p: (-len(p), p))
    degree = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in words)
    before, after, leading = ("|".join(ws) for ws in (_DEGREE_BEFORE, _DEGREE_AFTER, _DEGREE_LEADING))
    return (rf"\s(?:{before})\s+(?:{degree})\s|\s(?:{degree})\s+(?:{after})\s"
            rf"|\s(?:{leading})\s.*\s(?:{degree})\s")


def _credential_class(raw: pl.Expr, lookup: tx.Lookup, kind_of: Mapping[str, str],
                      degrees: frozenset[str], qualified: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """The CTDL class a label names, why none when a keyword was refused, and the kind the
    label's other keywords agree on ("credential" for "MBA Certificate").

    The whole label first (``lookup_exact``: "MBA", "Master"), else its keywords in text order
    (leftmost, longest), as ``_lookup`` does; but a degree keyword counts only when it names
    the award: refused when qualified (``_degree_qualified``: "Mini MBA", "Master's-level
    microcredential") or beside a learning opportunity ("Doctoral seminar", "MBA Prep Course":
    a course); beside another credential class ("MBA Certificate") the label names no single
    class. The class is then the first other keyword, else none with the reason given."""
    found = match_keywords(raw, lookup.keywords).list.drop_nulls().list.eval(
        pl.element().filter(pl.element() != ""))
    is_degree = pl.element().is_in(sorted(degrees))
    other = found.list.eval(pl.element().filter(~is_degree))
    learning = found.list.eval(pl.element().filter(
        pl.element().replace_strict(kind_of, default=None, return_dtype=pl.String) != "credential"))
    has_degree = found.list.eval(is_degree.any()).list.first().fill_null(False)
    modified = keyword_text(raw).str.contains(qualified).fill_null(False)
    blank = lookup_exact(raw, lookup.exact).eq("").fill_null(False)  # recognised, maps to nothing
    by_keyword = (
        pl.when(~has_degree).then(found.list.first())
        .when(modified).then(other.list.first())
        .when(learning.list.len() > 0).then(learning.list.first())
        .when(other.list.len() == 0).then(found.list.first())
    )
    why = (pl.when(has_degree & modified & (other.list.len() == 0))
           .then(pl.lit("degree word qualified, not the award"))
           .when(has_degree & ~modified & (learning.list.len() == 0) & (other.list.len() > 0))
           .then(pl.lit("a degree and another credential class in")))
    kinds = (pl.when(modified).then(other).otherwise(found)
             .list.eval(pl.element().replace_strict(kind_of, default=None, return_dtype=pl.String))
             .list.unique())
    return (pl.coalesce(lookup_exact(raw, lookup.exact), by_keyword),
            pl.when(~blank).then(why),
            pl.when(kinds.list.len() == 1).then(kinds.list.first()))


def _map_kind(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The CTDL class from the credential label, else from the record kind; credential_type
    is that class when it is a credential; record_kind its kind; EQF from degree classes.

    Degree keywords count only where they name the award (``_credential_class``). A label
    that maps to no class says nothing of the kind: the record kind's class is used when it is
    a credential ("Competency" in an OpenBadgeCredential is an OpenBadge), the record kind
    otherwise, else learning_opportunity (noted); never "credential" for a label we could not
    read ("Audit", "Masterclass")."""
    lookup = tx.load_lookup("credential_type")
    classes = tx.load_credential_types()
    kind_of = dict(zip(classes["code"], classes["kind"], strict=True))
    eqf_of = {c: e for c, e in zip(classes["code"], classes["eqf_level"], strict=True) if e is not None}
    degrees = _degree_classes(classes)
    qualified = _degree_qualified(lookup, degrees)
    label_class, label_why, label_kind = _credential_class(pl.col("credential_type_raw"), lookup, kind_of,
                                                           degrees, qualified)
    kind_class, _, _ = _credential_class(pl.col("record_kind_raw"), lookup, kind_of, degrees, qualified)
    lf = lf.with_columns(
        _ct_label=label_class,
        _ct_why=label_why,
        _ct_label_kind=label_kind,
        _ct_kind=kind_class,
        _label_given=_present("credential_type_raw"),
        _kind_given=_present("record_kind_raw"),
    )
    lf = lf.with_columns(
        _raw_kind=blank_to_null(pl.col("_ct_kind")).replace_strict(kind_of, default=None,
                                                                  return_dtype=pl.String),
    ).with_columns(
        _class=pl.when("_label_given").then(pl.coalesce(
            blank_to_null(pl.col("_ct_label")),
            pl.when(pl.col("_raw_kind") == "credential").then(blank_to_null(pl.col("_ct_kind"))),
        )).otherwise(blank_to_null(pl.col("_ct_kind"))),
    ).with_columns(_class_kind=pl.col("_class").replace_strict(kind_of, default=None, return_dtype=pl.String))
    return lf.with_columns(
        # credential_type names what is awarded: a course or an exam that awards nothing
        # has none (its CTDL class shows in record_kind).
        credential_type=pl.when(pl.col("_class_kind") == "credential").then("_class"),
        record_kind=pl.coalesce("_class_kind", "_raw_kind", "_ct_label_kind", pl.lit("learning_opportunity")),
        _eqf_degree=pl.col("_class").replace_strict(eqf_of, default=None, return_dtype=pl.Int64),
        _n_kind=_notes(
            "kind",
            _note(pl.col("_label_given") & pl.col("_ct_label").is_null(), "credential_type",
                  lambda _: pl.coalesce(pl.col("_ct_why"), pl.lit("unmapped")), pl.col("credential_type_raw")),
            _note(pl.col("_label_given") & pl.col("_ct_label").is_null() & pl.col("_raw_kind").is_null()
                  & pl.col("_ct_label_kind").is_null(),
                  "record_kind", "credential label unmapped; learning_opportunity assumed"),
            _note(pl.col("_kind_given") & pl.col("_ct_kind").is_null(), "record_kind", "unmapped",
                  pl.col("record_kind_raw")),
            _note(~pl.col("_label_given") & ~pl.col("_kind_given"), "record_kind",
                  "not stated; learning_opportunity assumed"),
        ),
    )


_EQF_EXPLICIT = r"(?i)\bEQF\s*(?:-|:)?\s*(?:level\s*)?([1-8])\b|\blevel\s*([1-8])\s*(?:of\s+the\s+)?\(?EQF\)?"


def _explicit_eqf(col: str) -> pl.Expr:
    """An EQF level the text states ("EQF 6", "EQF level 5", "level 7 of the EQF")."""
    return pl.coalesce(
        pl.col(col).str.extract(_EQF_EXPLICIT, 1), pl.col(col).str.extract(_EQF_EXPLICIT, 2)
    ).cast(pl.Int64)


def _map_level(lf: pl.LazyFrame) -> pl.LazyFrame:
    lookup = tx.load_lookup("audience_level")
    levels = tx.load_vocabulary("audience_levels")
    eqf_of = {c: e for c, e in zip(levels["code"], levels["eqf_level"], strict=True) if e is not None}
    lf = lf.with_columns(
        _level=_lookup(pl.col("level_raw"), lookup),
        _eqf_level_raw=_explicit_eqf("level_raw"),
        _eqf_text=pl.coalesce(_explicit_eqf("credential_type_raw"), _explicit_eqf("_title"),
                              _explicit_eqf("description")),
    )
    lf = lf.with_columns(audience_level=blank_to_null(pl.col("_level")))
    return lf.with_columns(
        eqf_level=pl.coalesce(
            "_eqf_level_raw", "_eqf_text", "_eqf_degree",
            pl.col("audience_level").replace_strict(eqf_of, default=None, return_dtype=pl.Int64),
        ),
        _n_level=_notes(
            "level",
            _note(_present("level_raw") & pl.col("_level").is_null() & pl.col("_eqf_level_raw").is_null(),
                  "audience_level", "unmapped", pl.col("level_raw")),
        ),
    )


def _ects_figure(raw: pl.Expr, lookup: tx.Lookup) -> pl.Expr:
    """The figure written with an ECTS unit anywhere in the text ("30 credits (15 ECTS)" -> 15;
    "7,5 hp" -> 7.5), the units being those the credit-unit look-up maps to ECTS."""
    words = {p.strip() for p, v in lookup.keywords.items() if v == "ECTS"}
    words |= {k for k, v in lookup.exact.items() if v == "ECTS" and k.isalpha() and len(k) <= 4}
    units = "|".join(r"[\s-]*".join(re.escape(w) for w in p.split()) for p in sorted(words, key=lambda p: (-len(p), p)))
    return (raw.str.to_lowercase().str.extract(rf"(?:^|[^\d.,])(\d+(?:[.,]\d+)?)\s*-?\s*(?:{units})\b", 1)
            .str.replace(",", ".").cast(pl.Float64, strict=False))


def _pair_credit_units(lf: pl.LazyFrame, lookup: tx.Lookup) -> pl.LazyFrame:
    """``_unit``: the credit unit, each figure paired with its own unit. The first figure's
    unit is the words right after it ("30 credits (15 ECTS)": "credits", not the ECTS further
    on); where another figure is in ECTS, that figure is kept (``_cr_credits`` replaced,
    noted). The unit field (credit_unit_raw) and the figure's own unit must agree: "5 ECTS"
    with "CEU" gives no unit (noted); an unmapped unit field leaves the figure's own unit."""
    own_text = (pl.col("_cr_unit_text").str.replace(r"\s*[(\[/=;,].*$", "").str.replace(r"\s*\d.*$", "")
                .str.strip_chars())
    lf = lf.with_columns(
        _cr_own_text=pl.when(own_text.str.len_chars() > 0).then(own_text),
        _cr_ects=_ects_figure(pl.col("credits_raw"), lookup),
        _unit_given=_present("credit_unit_raw"),
        _unit_field=_lookup(collapse_whitespace(pl.col("credit_unit_raw")), lookup),
    ).with_columns(_unit_own=_lookup(pl.col("_cr_own_text"), lookup))
    lf = lf.with_columns(
        _cr_switch=pl.col("_cr_ects").is_not_null() & pl.col("_cr_credits").is_not_null()
        & (pl.col("_unit_own") != "ECTS").fill_null(True),
    ).with_columns(
        _cr_credits=pl.when("_cr_switch").then("_cr_ects").otherwise("_cr_credits"),
        _unit_own=pl.when("_cr_switch").then(pl.lit("ECTS")).otherwise("_unit_own"),
    )
    field, own = blank_to_null(pl.col("_unit_field")), blank_to_null(pl.col("_unit_own"))
    return lf.with_columns(
        _unit_conflict=(field.is_not_null() & own.is_not_null() & (field != own)).fill_null(False),
    ).with_columns(
        _unit=pl.when(~pl.col("_unit_conflict")).then(pl.coalesce("_unit_field", "_unit_own")),
    )


def _credit_unit_notes() -> list[pl.Expr]:
    """Notes of ``_pair_credit_units``: unmapped units, a conflict, another figure kept."""
    return [
        _note(pl.col("_unit_given") & pl.col("_unit_field").is_null(), "credit_unit", "unmapped",
              collapse_whitespace(pl.col("credit_unit_raw"))),
        _note(~pl.col("_unit_given") & pl.col("_cr_own_text").is_not_null() & pl.col("_unit_own").is_null(),
              "credit_unit", "unmapped", pl.col("_cr_own_text")),
        _note(pl.col("_unit_conflict"), "credit_unit", "unit field and figure disagree",
              pl.format("{} / {}", collapse_whitespace(pl.col("credit_unit_raw")), pl.col("credits_raw"))),
        _note(pl.col("_cr_switch"), "credits", "several figures; the ECTS one kept", pl.col("credits_raw")),
    ]


def _map_effort(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Workload hours, duration weeks, credits and ECTS (see the module docstring). A negative
    figure or exponent notation gives no value (``expressions``); a figure beyond
    ``MAX_DURATION_WEEKS``, ``MAX_WORKLOAD_HOURS`` or ``MAX_CREDITS`` is refused; both noted."""
    lf = lf.with_columns(
        parse_workload(pl.col("workload_raw")).alias("_ww"),
        parse_workload(pl.col("duration_raw")).alias("_wd"),
        parse_duration(pl.col("duration_raw")).alias("_dd"),
        parse_duration(pl.col("workload_raw")).alias("_dw"),
        parse_credits(pl.col("credits_raw")).alias("_cr"),
    ).unnest("_ww", "_wd", "_dd", "_dw", "_cr", separator="_")

    def found(prefix: str, a: str, b: str) -> pl.Expr:
        return pl.col(f"{prefix}{a}").is_not_null() | pl.col(f"{prefix}{b}").is_not_null()

    lf = lf.with_columns(
        # Effort stated as a total (not a rate), per week, or per some other period.
        [
            (found(p, "hours_min", "hours_max") & ~pl.col(f"{p}per_week") & ~pl.col(f"{p}other_rate"))
            .alias(f"{p}total")
            for p in ("_ww_", "_wd_")
        ]
        + [(found(p, "hours_min", "hours_max") & pl.col(f"{p}per_week")).alias(f"{p}weekly")
           for p in ("_ww_", "_wd_")]
        + [
            (found(p, "hours_min", "hours_max") | found(d, "weeks_min", "weeks_max")).alias(f"_parsed_{c}")
            for c, p, d in (("workload", "_ww_", "_dw_"), ("duration", "_wd_", "_dd_"))
        ],
        _from_duration=found("_dd_", "weeks_min", "weeks_max"),
    )
    lf = lf.with_columns(
        [
            pl.when("_from_duration").then(f"_dd_weeks_{b}").otherwise(f"_dw_weeks_{b}")
            .alias(f"duration_weeks_{b}")
            for b in ("min", "max")
        ]
    )

    def beyond(name: str, limit: float) -> pl.Expr:
        # Either end above the limit refuses the figure whole (noted below).
        return ((pl.col(f"{name}_min") > limit) | (pl.col(f"{name}_max") > limit)).fill_null(False)

    def within(name: str, flag: str) -> list[pl.Expr]:
        return [pl.when(~pl.col(flag)).then(f"{name}_{b}").alias(f"{name}_{b}") for b in ("min", "max")]

    lf = lf.with_columns(_dur_out=beyond("duration_weeks", MAX_DURATION_WEEKS)).with_columns(
        within("duration_weeks", "_dur_out"))

    def hours(bound: str) -> pl.Expr:
        weekly = pl.when("_ww_weekly").then(f"_ww_hours_{bound}").otherwise(f"_wd_hours_{bound}")
        return (
            pl.when("_ww_total").then(pl.col(f"_ww_hours_{bound}"))
            .when("_wd_total").then(pl.col(f"_wd_hours_{bound}"))
            .when(pl.col("_ww_weekly") | pl.col("_wd_weekly"))
            .then((weekly * pl.col(f"duration_weeks_{bound}")).round(2))
        )

    # Credits and their unit; ECTS taken as given or derived from the workload.
    credit_lookup = tx.load_lookup("credit_unit")
    lf = _pair_credit_units(lf, credit_lookup)
    lf = lf.with_columns(
        workload_hours_min=hours("min"),
        workload_hours_max=hours("max"),
        credits=pl.when(pl.col("_cr_credits") <= MAX_CREDITS).then("_cr_credits"),
        _cr_out=(pl.col("_cr_credits") > MAX_CREDITS).fill_null(False),
    ).with_columns(
        _work_out=beyond("workload_hours", MAX_WORKLOAD_HOURS),
    ).with_columns(within("workload_hours", "_work_out"))
    lf = lf.with_columns(
        credit_unit=blank_to_null(pl.col("_unit")),
        _ects_derived=(
            (pl.mean_horizontal("workload_hours_min", "workload_hours_max") / HOURS_PER_ECTS) * 2
        ).round(0) / 2,
    )
    given = (pl.col("credit_unit") == "ECTS") & pl.col("credits").is_not_null()
    derivable = (pl.col("_ects_derived") >= 0.5).fill_null(False)
    weekly_only = ~pl.col("_ww_total") & ~pl.col("_wd_total") & (pl.col("_ww_weekly") | pl.col("_wd_weekly"))
    no_weeks = pl.col("duration_weeks_min").is_null() & pl.col("duration_weeks_max").is_null()
    is_range = pl.col("_cr_is_range").fill_null(False)
    return lf.with_columns(
        ects=pl.when(given).then("credits").when(derivable).then("_ects_derived"),
        ects_derived=~given & derivable,
        _n_effort=_notes(
            "effort",
            _note(weekly_only & no_weeks, "workload_hours", "per-week effort without a duration",
                  pl.col("workload_raw")),
            _note(pl.col("_ww_other_rate").fill_null(False) & ~pl.col("_wd_total"), "workload_hours",
                  "effort per day/month cannot become hours", pl.col("workload_raw")),
            _note(_present("workload_raw") & ~pl.col("_parsed_workload"), "workload_hours", number_refusal,
                  pl.col("workload_raw")),
            _note(_present("duration_raw") & ~pl.col("_parsed_duration"), "duration_weeks", number_refusal,
                  pl.col("duration_raw")),
            _note(pl.col("_dur_out"), "duration_weeks", "out of range",
                  pl.when("_from_duration").then(pl.col("duration_raw")).otherwise(pl.col("workload_raw"))),
            _note(pl.col("_work_out"), "workload_hours", "out of range",
                  pl.when(pl.col("_ww_total") | pl.col("_ww_weekly")).then(pl.col("workload_raw"))
                  .otherwise(pl.col("duration_raw"))),
            _note(is_range, "credits", "range is not one figure", pl.col("credits_raw")),
            _note(pl.col("_cr_out"), "credits", "out of range", pl.col("credits_raw")),
            _note(_present("credits_raw") & pl.col("credits").is_null() & ~is_range & ~pl.col("_cr_out"),
                  "credits", number_refusal, pl.col("credits_raw")),
            *_credit_unit_notes(),
        ),
    )


# Several delivery words in one value: "or", "/" and "," offer alternatives ("Online or
# in-person": none chosen, noted); "and", "with", "&", "+" combine them ("In-person and online",
# "Online with an in-person residency": blended). A qualified word ("mostly online",
# "partly on campus") is a blend too.
_ALTERNATIVES = r"(?i)\b(?:or|either|oder|ou|o)\b|[/|]"
_COMBINED = r"(?i)\b(?:and|with|plus|combined|und|et|y|mit|avec|con)\b|[&+]"
_LISTED = r","
_NEGATIONS = ("not", "non", "no", "without", "kein", "keine", "sans", "sin")
_QUALIFIERS = ("mostly", "mainly", "primarily", "largely", "predominantly", "partly", "partially", "partial",
               "some", "occasional")


def _keyword_regex(lookup: tx.Lookup) -> str:
    """The lookup's keywords as one alternation over ``keyword_text`` (words joined by spaces)."""
    words = sorted({p.strip() for p in lookup.keywords}, key=lambda p: (-len(p), p))
    return "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in words)


def _delivery_axis(raw: pl.Expr, lookup: tx.Lookup, blended: str | None) -> tuple[pl.Expr, pl.Expr]:
    """One delivery axis read from one raw value: its code and, where none is read although
    the value names some, why ("negated", "alternatives", "several").

    The whole value first; else its keywords, each once, negated ones ("Not online", "no
    live sessions") dropped. One code is the value; several are a blend when combined (only
    on an axis with a blend: ``blended``) and otherwise none."""
    words = _keyword_regex(lookup)
    text = keyword_text(raw)
    negated = rf"\s(?:{'|'.join(_NEGATIONS)})\s+(?:{words})\s"
    kept = text.str.replace_all(negated, "  ")
    found = (match_keywords(kept, lookup.keywords).list.drop_nulls()
             .list.eval(pl.element().filter(pl.element() != "")).list.unique(maintain_order=True))
    n = found.list.len()
    qualified = text.str.contains(rf"\s(?:{'|'.join(_QUALIFIERS)})\s+(?:{words})\s").fill_null(False)
    alternatives = raw.str.contains(_ALTERNATIVES).fill_null(False)
    combined = ~alternatives & raw.str.contains(_COMBINED).fill_null(False)
    listed = raw.str.contains(_LISTED).fill_null(False)
    blend = pl.lit(blended) if blended is not None else pl.lit(None, dtype=pl.String)
    by_keyword = (
        pl.when(qualified & (blended is not None)).then(blend)
        .when(n == 1).then(found.list.first())
        .when((n > 1) & combined).then(blend)
    )
    why = (
        pl.when((n == 0) & (text != kept)).then(pl.lit("negated"))
        .when((n > 1) & (alternatives | (listed & ~combined))).then(pl.lit("alternatives, none chosen"))
        .when(n > 1).then(pl.lit("several, none chosen"))
    )
    exact = lookup_exact(raw, lookup.exact)
    value = pl.coalesce(exact, by_keyword)
    return value, pl.when(exact.is_null() & by_keyword.is_null()).then(why)


def _map_delivery(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Modality and timing; either raw field may carry either axis ("Online, self-paced").
    Negated words do not count; several modalities combined are a blend, offered as
    alternatives none (``_delivery_axis``); timing has no blend."""
    modality_lu, timing_lu = tx.load_lookup("modality"), tx.load_lookup("timing")
    platform_lu = tx.load_lookup("platform_modality")
    m_own, m_own_why = _delivery_axis(pl.col("modality_raw"), modality_lu, "BlendedDelivery")
    t_own, t_own_why = _delivery_axis(pl.col("timing_raw"), timing_lu, None)
    m_other, m_other_why = _delivery_axis(pl.col("timing_raw"), modality_lu, "BlendedDelivery")
    t_other, t_other_why = _delivery_axis(pl.col("modality_raw"), timing_lu, None)
    lf = lf.with_columns(
        _m_own=m_own, _m_own_why=m_own_why,
        _t_own=t_own, _t_own_why=t_own_why,
        _m_other=m_other, _m_other_why=m_other_why,
        _t_other=t_other, _t_other_why=t_other_why,
        # A listing on an online-only platform is online, whatever else it leaves unsaid.
        _m_platform=lookup_exact(pl.col("platform"), platform_lu.exact),
    )
    # A value whose words were refused (negated, alternatives) does not fall back on the
    # platform: "Online or in-person" on an online platform is still not known to be online.
    m_refused = pl.col("_m_own_why").is_not_null() | pl.col("_m_other_why").is_not_null()
    return lf.with_columns(
        modality=blank_to_null(pl.coalesce("_m_own", "_m_other", pl.when(~m_refused).then("_m_platform"))),
        timing=blank_to_null(pl.coalesce("_t_own", "_t_other")),
        _n_delivery=_notes(
            "delivery",
            _note(_present("modality_raw") & pl.col("_m_own").is_null() & pl.col("_t_other").is_null()
                  & pl.col("_m_own_why").is_null() & pl.col("_t_other_why").is_null(),
                  "modality", "unmapped", pl.col("modality_raw")),
            _note(pl.col("_m_own_why").is_not_null(), "modality", lambda _: pl.col("_m_own_why"),
                  pl.col("modality_raw")),
            _note(pl.col("_t_other_why").is_not_null() & pl.col("_t_own").is_null(), "timing",
                  lambda _: pl.col("_t_other_why"), pl.col("modality_raw")),
            _note(_present("timing_raw") & pl.col("_t_own").is_null() & pl.col("_m_other").is_null()
                  & pl.col("_t_own_why").is_null() & pl.col("_m_other_why").is_null(),
                  "timing", "unmapped", pl.col("timing_raw")),
            _note(pl.col("_t_own_why").is_not_null(), "timing", lambda _: pl.col("_t_own_why"),
                  pl.col("timing_raw")),
            _note(pl.col("_m_other_why").is_not_null() & pl.col("_m_own").is_null(), "modality",
                  lambda _: pl.col("_m_other_why"), pl.col("timing_raw")),
        ),
    )


_TAG_LIKE = r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$"
# A bare code (no subtag) is read only when it is one of these ISO 639-1 codes or their ISO
# 639-2 forms ("ger", "fra"): languages catalogs teach in. Every code is valid BCP 47, but a
# bare "SE", "KR" or "BR" in a language field means Swedish, Korean or Portuguese (a country
# code), not Northern Sami, Kanuri or Breton; "CHN" is not Chinook jargon nor "ASL" Asilulu.
# Codes that are also the country code of a common catalog market with another language
# (be, cy, my, sa, si, eu, la, in; 3-letter "ind", "per", "mar" ...) are left out too: such
# values stay unmapped, noted.
_COMMON_LANGUAGES = (
    "af ar az bg bn bs ca cs da de el en es et fa fi fr ga gl gu ha he hi hr hu hy id ig is it ja jv "
    "ka kk km kn ko ku lt lv mk ml mn mr ms mt nb ne nl nn no pa pl ps pt ro ru sk sl so sq sr sv sw ta "
    "te th tl tr uk ur uz vi xh yo zh zu"
)
_COUNTRY_NOT_LANGUAGE = {"ben", "ind", "mac", "mar", "pan", "per", "slv"}  # Benin, India, Macao ...
_BARE_LANGUAGE_CODES = frozenset(
    {c for code in _COMMON_LANGUAGES.split()
     for c in (code, langcodes.Language.get(code).to_alpha3(), langcodes.Language.get(code).to_alpha3(variant="B"))}
    - _COUNTRY_NOT_LANGUAGE | {"iw", "fil", "yue", "ase", "und"}
)


def _standard_tag(value: str) -> str | None:
    if not re.fullmatch(_TAG_LIKE, value):
        return None
    if "-" not in value and "_" not in value and value.lower() not in _BARE_LANGUAGE_CODES:
        return None
    try:
        tag = langcodes.standardize_tag(value.replace("_", "-"))
    except (ValueError, LookupError):
        return None
    return tag if langcodes.tag_is_valid(tag) else None


def _country_code(value: str) -> str | None:
    value = value.strip()
    found = None
    if len(value) == 2:
        found = pycountry.countries.get(alpha_2=value.upper())
    elif len(value) == 3:
        found = pycountry.countries.get(alpha_3=value.upper())
    if found is None:
        try:
            found = pycountry.countries.lookup(value)
        except LookupError:
            return None
    return found.alpha_2


# Regions written after a city ("Austin, TX", "London, Ontario", "Sydney, NSW"): the states,
# districts, provinces and territories of the countries whose catalogs write places that way
# (ISO 3166-2; US outlying areas have country codes of their own). A region key naming regions
# of two countries ("WA", "NT") or also a country ("Georgia") is ambiguous.
_REGION_COUNTRIES = ("US", "CA", "AU")
_REGION_ALIASES = {"Québec": "CA", "Newfoundland": "CA", "Washington DC": "US"}
AMBIGUOUS_REGION = "?"


def _region_key(value: str) -> str:
    """Case, dots and spacing do not matter: "D.C." is "dc", "new  york" is "new york"."""
    return " ".join(value.casefold().replace(".", "").split())


@cache
def _regions() -> dict[str, frozenset[str]]:
    """Region key (code or name, ``_region_key``) -> the countries it names a region of."""
    found: dict[str, set[str]] = {}
    for country in _REGION_COUNTRIES:
        for sub in pycountry.subdivisions.get(country_code=country) or []:
            if sub.type == "Outlying area":
                continue
            for key in (sub.code.split("-", 1)[1], sub.name):
                found.setdefault(_region_key(key), set()).add(country)
    for key, country in _REGION_ALIASES.items():
        found.setdefault(_region_key(key), set()).add(country)
    return {k: frozenset(v) for k, v in found.items()}


def _region_country(value: str) -> str | None:
    """The country of a US state, Canadian province or Australian state written by code or
    name ("TX", "Ontario", "NSW" -> US, CA, AU); ``AMBIGUOUS_REGION`` when the key names regions
    of two countries ("WA") or is a country's name too ("Georgia"); None when no region."""
    countries = _regions().get(_region_key(value.strip()))
    if not countries:
        return None
    if len(countries) > 1 or (len(value.strip()) > 3 and _country_code(value) is not None):
        return AMBIGUOUS_REGION
    return next(iter(countries))


def _currency_by_name(value: str) -> str | None:
    """ISO 4217 code of a currency written by name ("US Dollar", "Euro")."""
    if len(value) < 4:  # symbols and codes are resolved by the tables first
        return None
    try:
        return pycountry.currencies.lookup(value).alpha_3
    except LookupError:
        return None


def _map_place_language(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Language -> BCP 47 language[-script] (names via the curated table, tags via langcodes); country ->
    ISO 3166-1 alpha-2 (aliases via the table, codes and names via pycountry). When the whole
    value is not known, its first part is tried ("English, Spanish" -> en, noted); for
    countries the last part ("Berlin, Germany", "Boston, MA, USA" -> US), then the first.

    In "City, XX" the two letters name a region, not a country ("Boston, MA" is not Morocco,
    "Pittsburgh, PA" not Panama): a US state or Canadian province code gives its country, any
    other two letters give none (noted); only a third part is read as a country code
    ("Toronto, ON, CA"). A region name or an Australian state gives its country ("Paris,
    Texas", "Sydney, NSW"); a name of a region and a country alike ("Atlanta, Georgia") or of
    regions of two countries ("Perth, WA") gives none, noted as ambiguous. A whole value is
    read as a country first ("CA", "Georgia")."""
    languages, countries = tx.load_lookup("language"), tx.load_lookup("country")
    lf = lf.with_columns(
        _lang=collapse_whitespace(pl.col("language_raw")),
        _ctry=collapse_whitespace(pl.col("country_raw")),
    ).with_columns(
        # The first of several: "English and French", "English & French", "Deutsch und
        # Englisch", "EN/FR", "de, en", "English (subtitles)".
        _lang_first=pl.col("_lang").str.replace(r"(?i)\s+(?:and|or|with|und|oder|et|ou|y|o|e|og|och)\s+.*$", "")
        .str.replace(r"[,;/|(&+].*$", "").str.strip_chars(),
        # A US ZIP code after the state ("Austin, TX 78701") is not part of the region.
        _ctry_last=pl.col("_ctry").str.replace(r"^.*,", "").str.replace(r"\s+\d{5}(?:-\d{4})?$", "")
        .str.strip_chars(),
        _ctry_first=pl.col("_ctry").str.replace(r",.*$", "").str.strip_chars(),
        _ctry_parts=pl.col("_ctry").str.count_matches(",") + 1,
    )

    def language_of(col: str) -> pl.Expr:
        return pl.coalesce(lookup_exact(pl.col(col), languages.exact),
                           map_distinct(pl.col(col), _standard_tag, pl.String()))

    def country_of(col: str) -> pl.Expr:
        return pl.coalesce(lookup_exact(pl.col(col), countries.exact),
                           map_distinct(pl.col(col), _country_code, pl.String()))

    region = map_distinct(pl.col("_ctry_last"), _region_country, pl.String())
    code2 = pl.col("_ctry_last").str.contains(r"^[A-Za-z]{2}$")
    by_region = pl.when(region != AMBIGUOUS_REGION).then(region)
    lf = lf.with_columns(
        _lang_whole=language_of("_lang"),
        _lang_part=language_of("_lang_first"),
        _ctry_whole=country_of("_ctry"),
        _ctry_region=region,
        _ctry_by_part=pl.when(pl.col("_ctry_parts") >= 3)
        .then(pl.coalesce(country_of("_ctry_last"), by_region, country_of("_ctry_first")))
        # "Germany, DE" is Germany, not Delaware: a code that repeats the first part's country.
        .when((pl.col("_ctry_parts") == 2) & code2)
        .then(pl.when(country_of("_ctry_first") == pl.col("_ctry_last").str.to_uppercase())
              .then(country_of("_ctry_first")).otherwise(by_region))
        .when(region.is_not_null()).then(by_region)
        .otherwise(pl.coalesce(country_of("_ctry_last"), country_of("_ctry_first"))),
    ).with_columns(
        _country=pl.coalesce("_ctry_whole", "_ctry_by_part"),
    )
    return lf.with_columns(
        # Region subtags go: a catalog's "en_US" / "en-GB" names the site's market, not a
        # variety of the language taught; language (and script, zh-Hant) is what matches.
        language=blank_to_null(pl.coalesce("_lang_whole", "_lang_part")).str.replace(
            r"-(?:[A-Z]{2}|\d{3})\b", ""
        ),
        country=blank_to_null(pl.col("_country")),
        _n_place=_notes(
            "place",
            _note(pl.col("_lang").is_not_null() & pl.col("_lang_whole").is_null() & pl.col("_lang_part").is_null(),
                  "language", "unmapped", pl.col("_lang")),
            _note(pl.col("_lang_whole").is_null() & pl.col("_lang_part").is_not_null(), "language",
                  "several or qualified; first kept from", pl.col("_lang")),
            _note(pl.col("_ctry").is_not_null() & pl.col("_country").is_null()
                  & (pl.col("_ctry_region") != AMBIGUOUS_REGION).fill_null(True), "country", "unmapped",
                  pl.col("_ctry")),
            _note(pl.col("_country").is_null() & (pl.col("_ctry_region") == AMBIGUOUS_REGION).fill_null(False),
                  "country", "ambiguous region or country", pl.col("_ctry")),
            _note(pl.col("_country") == "", "country", "not a country", pl.col("_ctry")),
        ),
    )


_COST_PRIORITY = {"AggregateCost": 0, "Tuition": 1}
_AUDIT = r"(?i)\baudit"
# Free to take with a paid certificate, in one text: "FREE - Add a Verified Certificate for $49",
# "Free to audit, $49 certificate", "Audit: Free | Certificate: $149", "Free course, paid
# certificate ($49)"; not "$49, free certificate" (_FREE_CERTIFICATE: the certificate is free).
_FREE_PLUS_PAID = (
    r"(?i)\bfree\b.{0,60}\b(?:certificat|verified)|\b(?:certificat|verified)\w*.{0,60}\bfree\b"
    r"|\bfree\b.{0,20}\baudit|\baudit\w*.{0,20}\bfree\b"
)
_FREE_CERTIFICATE = r"(?i)\bfree\s+(?:\w+\s+)?certificat"
# A paid price that buys a certificate: a free price beside it is the audit track.
_CERTIFICATE_TRACK = r"(?i)certificat|verified|zertifikat|certificado|attestation"
# Tuition per year ("Tuition: £9,250 per year") is a price per academic period, like one per
# term; a bare price per year may as well be an annual fee or subscription.
_TUITION = r"(?i)\btuition|studiengeb|scolarit|matr[ií]cula|colegiatura"
_ABOUT_FLAGS = pl.Struct({"per": PRICE_PER_DTYPE, "audit": pl.Boolean(), "free_plus_paid": pl.Boolean(),
                          "certificate": pl.Boolean(), "tuition": pl.Boolean()})


def _about_flags(about: pl.Expr) -> pl.Expr:
    """What a price's label and text say besides the amount (run once per distinct text:
    catalogs repeat "$49" and "Free" a million times)."""
    return pl.struct(
        per=price_per(about, distinct=False),
        audit=about.str.contains(_AUDIT),
        free_plus_paid=about.str.contains(_FREE_PLUS_PAID) & ~about.str.contains(_FREE_CERTIFICATE),
        certificate=about.str.contains(_CERTIFICATE_TRACK),
        tuition=about.str.contains(_TUITION),
    )


def _price_rows(valid: pl.LazyFrame) -> pl.LazyFrame:
    """Prices in long form, one row per offering with prices: the price list (amount,
    ISO 4217 currency with country-aware symbols, CTDL cost type), the main price and notes.
    Subscriptions, prices per credit, hour or course (``price_per``) and free-audit notes stay
    out of the list: a subscription is a price model, not a course price (TAXONOMY.md), a unit
    price is no price of the offering, and auditing is ``free_to_audit``. A negative price,
    exponent notation, instalments (``parse_price``), a bare "$" in a country with its own
    currency (no currency) and an amount beyond ``MAX_PRICE`` are refused and noted."""
    cost_lu, model_lu = tx.load_lookup("cost_type"), tx.load_lookup("price_model")
    ct_lu = tx.load_lookup("credential_type")
    symbols = tx.load_currency_symbols()
    iso = sorted(tx.iso_currencies())
    rates = tx.load_fx_rates().rates
    per_usd = dict(zip(rates["currency"], rates["units_per_usd"], strict=True))

    p = _with_row_positions(valid, "prices", "country").unnest("prices").with_columns(
        _text=pl.coalesce(
            collapse_whitespace(pl.col("text")),
            collapse_whitespace(pl.concat_str(["amount", "currency"], separator=" ", ignore_nulls=True)),
        ),
        _label=clean_text(pl.col("label")),
        _amount_given=collapse_whitespace(pl.col("amount")),
        _currency_given=collapse_whitespace(pl.col("currency")),
    )
    p = p.with_columns(
        parse_price(pl.col("_text")).alias("_parsed"),
        parse_price(pl.col("_amount_given")).alias("_amount_parsed"),
        _about=pl.concat_str(["_label", "_text"], separator=" ", ignore_nulls=True),
    ).with_columns(
        _amount=pl.coalesce(pl.col("_amount_parsed").struct.field("amount"), pl.col("_parsed").struct.field("amount")),
        _parse_note=pl.coalesce(pl.col("_amount_parsed").struct.field("note"), pl.col("_parsed").struct.field("note")),
        _cur_text=pl.coalesce("_currency_given", pl.col("_parsed").struct.field("currency_text")),
        _cost=pl.coalesce(_lookup(pl.col("_label"), cost_lu),
                          match_keywords(pl.col("_text"), cost_lu.keywords).list.first()),
        _model=match_keywords(pl.col("_about"), model_lu.keywords).list.len() > 0,
        _flags=on_distinct(pl.col("_about"), _about_flags, _ABOUT_FLAGS),
        # A price that buys a named credential ("Verified Certificate") names what is awarded.
        _ct=match_keywords(pl.col("_about"), ct_lu.keywords).list.drop_nulls().list.first(),
    ).with_columns(
        _cur_key=pl.col("_cur_text").str.to_lowercase(),
        _cur_upper=pl.col("_cur_text").str.to_uppercase(),
        # "$300 per credit", "€29 / Monat", "Tuition per 6-month term": the unit priced.
        _per=pl.col("_flags").struct.field("per"),
        _per_kind=pl.col("_flags").struct.field("per").struct.field("per"),
        _audit=pl.col("_flags").struct.field("audit").fill_null(False),
        _free_plus_paid=pl.col("_flags").struct.field("free_plus_paid").fill_null(False),
        _certificate=pl.col("_flags").struct.field("certificate").fill_null(False),
        _tuition=(pl.col("_cost") == "Tuition").fill_null(False)
        | pl.col("_flags").struct.field("tuition").fill_null(False),
    ).with_columns(
        # A monthly price is a subscription (a price model); a price per credit, hour, session
        # or course is no price of the offering (out of the list, noted); one per term, or
        # tuition per year, is the price as catalogs state it (kept, noted); any other price
        # per year is an annual fee or a subscription (out, noted).
        _subscription=pl.col("_model") | (pl.col("_per_kind") == "month").fill_null(False),
        _per_year_tuition=((pl.col("_per_kind") == "year") & pl.col("_tuition")).fill_null(False),
    ).with_columns(
        _per_unit=~pl.col("_subscription") & pl.col("_per_kind").is_not_null() & (pl.col("_per_kind") != "term")
        & ~pl.col("_per_year_tuition"),
        _per_term=~pl.col("_subscription") & ((pl.col("_per_kind") == "term").fill_null(False)
                                                | pl.col("_per_year_tuition")),
    )
    local = symbols.lazy().filter(pl.col("country") != "").rename({"currency": "_cur_local"})
    anywhere = symbols.lazy().filter(pl.col("country") == "").drop("country").rename({"currency": "_cur_any"})
    p = (
        p.join(local, left_on=["_cur_key", "country"], right_on=["key", "country"], how="left")
        .join(anywhere, left_on="_cur_key", right_on="key", how="left")
        .with_columns(
            # A bare "$" where the offering's country has its own currency and no "$" row
            # (lookup_currency.csv: the dollar and peso countries) is no sure USD.
            _dollar_unsure=((pl.col("_cur_key") == "$") & pl.col("country").is_not_null()
                            & pl.col("_cur_local").is_null()).fill_null(False),
        )
        .with_columns(
            _currency=pl.when(~pl.col("_dollar_unsure")).then(pl.coalesce(
                pl.when(pl.col("_cur_upper").is_in(iso)).then("_cur_upper"), "_cur_local", "_cur_any",
                map_distinct(pl.col("_cur_text"), _currency_by_name, pl.String()))),
            _cost_type=blank_to_null(pl.col("_cost")),
        )
        .with_columns(_price_out=(pl.col("_amount") > MAX_PRICE * pl.col("_currency").replace_strict(
            per_usd, default=1.0, return_dtype=pl.Float64).clip(lower_bound=1.0)).fill_null(False))
        .with_columns(
            _amount=pl.when(~pl.col("_price_out")).then("_amount"),
            _priced=~pl.col("_subscription") & ~pl.col("_per_unit") & pl.col("_amount").is_not_null()
            & ~pl.col("_price_out"),
        )
    )
    # Per offering: is a certificate paid for, and is there a paid track besides the audit
    # one (one grouping for both; a window per flag costs a grouping each).
    tracks = p.group_by("_row").agg(
        _certificate_paid=(pl.col("_priced") & (pl.col("_amount") > 0) & pl.col("_certificate")).fill_null(False).any(),
        _paid_any=(pl.col("_priced") & ~pl.col("_audit")).any(),
        _paid_nonzero=(pl.col("_priced") & ~pl.col("_audit") & (pl.col("_amount") != 0)).fill_null(False).any(),
    )
    p = (
        p.join(tracks, on="_row", how="left")
        # A free price beside a paid certificate ("Free" and "$49 Certificate") is the audit track.
        .with_columns(
            _audit=pl.col("_audit") | (pl.col("_priced") & (pl.col("_amount") == 0)
                                       & pl.col("_certificate_paid")).fill_null(False),
            # A free audit track beside a paid one is "free to audit"; as the only price it is
            # simply the price (0: the offering is free).
            _paid_track=pl.when("_certificate_paid").then("_paid_nonzero").otherwise("_paid_any"),
        )
        .with_columns(
            _keep=pl.col("_priced") & (~pl.col("_audit") | ~pl.col("_paid_track")),
            _audit_beside_paid=(pl.col("_audit") & pl.col("_paid_track"))
            | (pl.col("_free_plus_paid") & pl.col("_priced") & (pl.col("_amount") > 0).fill_null(False)),
        )
    )
    unit = pl.col("_per").struct.field("unit")
    per_unit_reason = (pl.when(pl.col("_per_kind") == "year")
                       .then(pl.lit("price per year, an annual fee or subscription, not a course price"))
                       .otherwise(pl.format("price per {}, not a course price", unit)))
    p = p.with_columns(
        # Main-price preference: AggregateCost, Tuition, untyped, then any other cost type.
        _priority=pl.when(pl.col("_cost_type").is_null()).then(2)
        .otherwise(pl.col("_cost_type").replace_strict(_COST_PRIORITY, default=3, return_dtype=pl.Int64)),
        _price_notes=_notes(
            "price",
            _note(pl.col("_amount").is_null() & ~pl.col("_price_out") & pl.col("_text").is_not_null(), "prices",
                  number_refusal, pl.col("_text")),
            _note(pl.col("_price_out"), "prices", "out of range", pl.col("_text")),
            _note(pl.col("_keep") & (pl.col("_amount") > 0) & pl.col("_currency").is_null() & ~pl.col("_dollar_unsure"),
                  "prices", "unknown currency in", pl.col("_text")),
            _note(pl.col("_keep") & (pl.col("_amount") > 0) & pl.col("_dollar_unsure"), "prices",
                  lambda _: pl.format("ambiguous '$' in country {}, currency left open in", pl.col("country")),
                  pl.col("_text")),
            _note(pl.col("_keep") & pl.col("_parse_note").is_not_null(), "prices", lambda _: pl.col("_parse_note"),
                  pl.col("_text")),
            _note(pl.col("_subscription"), "prices", "subscription is a price model, not a course price",
                  pl.col("_text")),
            _note(pl.col("_per_unit"), "prices", lambda _: per_unit_reason, pl.col("_text")),
            _note(pl.col("_keep") & pl.col("_per_term"), "prices",
                  lambda _: pl.format("price per {}, not the whole cost", unit), pl.col("_text")),
            _note(pl.col("_keep") & pl.col("_label").is_not_null() & pl.col("_cost").is_null(),
                  "prices", "unmapped cost type", pl.col("_label")),
        ),
    )
    price = pl.struct(amount="_amount", currency="_currency", cost_type="_cost_type")
    # A paid price before a free one (the price to earn the credential), then by cost type,
    # then the lowest (the labelled convention: "member 1,407 / non-member 1,640" -> 1,407),
    # then the first. One Float64 key (a per-group sort by one key costs half of one by four):
    # rank x 1e13 + USD cents (below 1e9 x 1e3: MAX_PRICE) x 1e3 + position.
    in_usd = pl.col("_amount") / pl.col("_currency").replace_strict(per_usd, default=1.0, return_dtype=pl.Float64)
    rank = (pl.col("_amount") == 0).fill_null(False).cast(pl.Int64) * 4 + pl.col("_priority")
    p = p.with_columns(_preference=rank.cast(pl.Float64) * 1e13 + (in_usd * 100).round(0) * 1e3
                       + pl.col("_pos").clip(upper_bound=999))
    return p.sort("_row", "_pos").group_by("_row").agg(
        prices=price.filter("_keep"),  # rows keep their order within a group
        _main=price.sort_by("_preference").filter(pl.col("_keep").sort_by("_preference")).first(),
        _any_audit=pl.col("_audit_beside_paid").any(),
        _price_ctype=blank_to_null(pl.col("_ct")).drop_nulls().first(),
        _n_prices=pl.col("_price_notes").list.explode(keep_nulls=False, empty_as_null=False),
    )


def _map_price_fields(lf: pl.LazyFrame) -> tuple[pl.LazyFrame, date]:
    """Main price, its USD value (dated rate table) and the free / free-to-audit flags."""
    fx = tx.load_fx_rates()
    bools = tx.load_lookup("boolean")
    lf = lf.with_columns(
        price_amount=pl.col("_main").struct.field("amount"),
        # A price of nothing is in no currency.
        price_currency=pl.when(pl.col("_main").struct.field("amount") != 0)
        .then(pl.col("_main").struct.field("currency")),
    ).join(fx.rates.lazy().rename({"currency": "price_currency"}), on="price_currency", how="left")
    # Free flags: the source's own flag first, else the prices (all zero -> free).
    lf = lf.with_columns(
        price_usd=pl.when(pl.col("price_amount") == 0).then(0.0)
        .otherwise((pl.col("price_amount") / pl.col("units_per_usd")).round(2)),
        _free_stated=parse_bool(pl.col("is_free_raw"), bools.exact),
        _audit_stated=pl.col("is_free_raw").str.contains(_AUDIT).fill_null(False),
        _any_paid=pl.col("prices").list.eval(pl.element().struct.field("amount") > 0).list.any(),
    )
    # A course whose price buys a credential awards it; a course's "certificate" is one of
    # completion. Only where no credential was named and the record kind was not stated.
    classes = tx.load_credential_types()
    credential_classes = [c for c, k in zip(classes["code"], classes["kind"], strict=True) if k == "credential"]
    by_price = pl.col("_price_ctype").replace({"Certificate": "CertificateOfCompletion"})
    from_price = (pl.col("credential_type").is_null() & ~pl.col("_label_given")
                  & (pl.col("record_kind") == "learning_opportunity")
                  & by_price.is_in(credential_classes).fill_null(False))
    lf = lf.with_columns(
        credential_type=pl.when(from_price).then(by_price).otherwise("credential_type"),
        record_kind=pl.when(from_price).then(pl.lit("credential")).otherwise("record_kind"),
        _n_kind=pl.when(from_price).then(
            pl.col("_n_kind").list.eval(pl.element().filter(~pl.element().str.starts_with("record_kind")))
        ).otherwise("_n_kind"),
    )
    return lf.with_columns(
        is_free=pl.coalesce("_free_stated", pl.when(pl.col("prices").list.len() > 0).then(~pl.col("_any_paid"))),
        free_to_audit=pl.when(pl.col("_any_audit").fill_null(False) | pl.col("_audit_stated")).then(True),
        _n_free=_notes(
            "free",
            _note(_present("is_free_raw") & pl.col("_free_stated").is_null() & ~pl.col("_audit_stated"),
                  "is_free", "unmapped", pl.col("is_free_raw")),
            _note((pl.col("price_amount") > 0) & pl.col("price_currency").is_not_null()
                  & pl.col("units_per_usd").is_null(),
                  "price_usd", f"no {fx.rate_date} rate for", pl.col("price_currency")),
        ),
    ), fx.rate_date


_ISCED_GIVEN = r"(?i)(?:isced[-_ ]?(?:f)?(?:[-_ ]?2013)?\s*[:#/-]?\s*|isced-f/)(\d{2,4})\b"
_CIP_FORM = r"(?i)^(?:cip(?:\s*2020)?\s*[:#-]?\s*)?\d{2}(?:\.\d{2,4})?$"
# A CIP code as a subject code: "11.0701", "11.07", "CIP 2020: 11.0701", "CIP 11" (a bare "11"
# could as well be an ISCED-F broad field: not read). Inside a subject name only a 6-digit code
# or a "CIP"-prefixed one counts: "11.0701 Computer Science", "CIP Code: 52.0201".
_CIP_WORD = r"cip(?:\s*(?:code|20\d\d))*\s*[:#-]?\s*"  # "CIP", "CIP 2020:", "CIP Code:"
_CIP_IN_CODES = rf"(?i)^(?:{_CIP_WORD})?(\d{{2}}\.\d{{2}})(?:\d{{2}})?$|^{_CIP_WORD}(\d{{2}})$"
_CIP_IN_NAME = rf"(?i)(?:\b{_CIP_WORD}(\d{{2}}\.\d{{2}})(?:\d{{2}})?|^(\d{{2}}\.\d{{2}})\d{{2}})\b"

# Confidence of one piece of ISCED-F evidence (shared/TAXONOMY.md section 3). A code the source
# gives is the source's own classification; a CIP code goes through a crosswalk, exact for most
# families and coarse for a series. A title keyword (a curated list of unambiguous words) names
# the topic of this one offering, while a category is the catalog's shelf, chosen from a few
# dozen for a whole catalog ("Principles of Biochemistry" shelved under "Medicine", "Survival
# Statistics" under "Business & Management"): where the two disagree the title leads. A whole
# category name that is a field beats a keyword inside a longer name. Pieces of different
# kinds that agree (the same code, or one an ancestor of the other) combine as independent
# evidence, 1 - prod(1 - c), taking the strongest piece of each kind.
ISCED_CONFIDENCE = {
    "given": 1.0, "cip_family": 0.9, "cip_series": 0.8,
    "title": 0.85, "subject": 0.8, "subject_keyword": 0.7, "title_word": 0.5,
}
_EVIDENCE_TIER = {"code": 0, "subject": 1, "title": 2}


def _drop_related(found: pl.LazyFrame, keys: Sequence[str], keep: str) -> pl.LazyFrame:
    """Within each group of ``keys``, drop a code when a proper ancestor of it is present
    (``keep="ancestor"``) or when a proper descendant is (``keep="descendant"``)."""
    prefixes = pl.concat([
        found.filter(pl.col("code").str.len_chars() > n).select(*keys, "code", _anc=pl.col("code").str.slice(0, n))
        for n in (2, 3)
    ])
    pairs = prefixes.join(found.select(*keys, _anc="code"), on=[*keys, "_anc"], how="semi")
    drop = pairs.select(*keys, "code") if keep == "ancestor" else pairs.select(*keys, code="_anc")
    return found.join(drop.unique(), on=[*keys, "code"], how="anti")


def _cip_isced(family: pl.Expr, series: pl.Expr) -> dict[str, pl.Expr]:
    """``_cip_code`` and ``_cip_conf`` of a CIP family ("11.07") or, failing that, series
    ("11") through the crosswalk (data/cip_isced.csv); "" = a CIP code with no single field.
    A family decided by a rule of its own is a finer reading than one its series decided."""
    cw = load_cip_isced()
    isced = dict(zip(cw["cip"], cw["isced"].fill_null(""), strict=True))
    fine = sorted(c for c, r in zip(cw["cip"], cw["rule"], strict=True) if len(r) > 2)
    by_family = family.replace_strict(isced, default=None, return_dtype=pl.String)
    code = pl.coalesce(by_family, series.replace_strict(isced, default=None, return_dtype=pl.String))
    conf = (pl.when(by_family.is_not_null() & family.is_in(fine)).then(pl.lit(ISCED_CONFIDENCE["cip_family"]))
            .when(code.is_not_null()).then(pl.lit(ISCED_CONFIDENCE["cip_series"])))
    return {"_cip_code": code, "_cip_conf": conf}


def _subject_rows(lf: pl.LazyFrame) -> pl.LazyFrame:
    """ISCED-F codes, primary first, with a confidence each (``isced_confidence``).

    Evidence (confidences in ``ISCED_CONFIDENCE``): ISCED-F codes given in subject_codes;
    CIP codes, in subject_codes or inside a subject name, through the CIP crosswalk
    (``taxonomy.cip``); keywords of the title that the subject table trusts in titles;
    subject / category names (a whole-name match, else the keywords in the name); and title
    words that are ambiguous alone but fall under a field the codes or categories fixed.
    Every kind is read whatever the others say: a title refines a category ("Business &
    Management" + "Global Marketing" -> 0414), corroborates it, or adds a field.

    - A category name that names a field and one of its sub-fields ("Healthcare &
      Medicine", "IT & Computer Science") stands for the broader field: a shelf holding both.
    - Across evidence, a code whose descendant is also found gives way to it (the most
      detailed code the evidence supports) and lends it its support.
    - Order: confidence, then the position of the code's own evidence (codes, subjects in the
      source's order, the title left to right), then the more detailed code. Several codes
      remain only where the evidence names several fields.

    CIP codes stay in subject_codes_raw as given (TAXONOMY.md); a code that is neither
    ISCED-F nor CIP, and a subject name that maps to nothing, leave a mapping note.
    """
    lookup = tx.load_lookup("subject_isced")
    known = sorted(tx.codes("isced"))
    tier = _EVIDENCE_TIER

    def read_code(elements: pl.LazyFrame) -> pl.LazyFrame:
        return (
            elements.with_columns(_raw=collapse_whitespace(pl.col("subject_codes")))
            .with_columns(_cand=pl.coalesce(pl.col("_raw").str.extract(_ISCED_GIVEN, 1),
                                            pl.col("_raw").str.extract(r"^(\d{3,4})$", 1)),
                          _fam=pl.col("_raw").str.extract(_CIP_IN_CODES, 1),
                          _ser=pl.coalesce(pl.col("_raw").str.extract(_CIP_IN_CODES, 1).str.slice(0, 2),
                                           pl.col("_raw").str.extract(_CIP_IN_CODES, 2)))
            .with_columns(_given=pl.when(pl.col("_cand").is_in(known)).then("_cand"))
            .with_columns(**_cip_isced(pl.col("_fam"), pl.col("_ser")))
            .with_columns(
                code=pl.coalesce("_given", "_cip_code"),
                conf=pl.when(pl.col("_given").is_not_null()).then(pl.lit(ISCED_CONFIDENCE["given"]))
                .otherwise("_cip_conf"),
                _note=_note(
                    pl.col("_given").is_null() & pl.col("_cip_code").is_null() & pl.col("_raw").is_not_null()
                    & ~pl.col("_raw").str.contains(_CIP_FORM),
                    "isced_codes", "unrecognised code", pl.col("_raw"),
                ),
        )
        )

    def read_name(elements: pl.LazyFrame) -> pl.LazyFrame:
        return (
            elements.with_columns(_name=clean_text(pl.col("subjects")))
            .with_columns(_fam=pl.coalesce(pl.col("_name").str.extract(_CIP_IN_NAME, 1),
                                           pl.col("_name").str.extract(_CIP_IN_NAME, 2)))
            .with_columns(**_cip_isced(pl.col("_fam"), pl.col("_fam").str.slice(0, 2)),
                          _text=collapse_whitespace(pl.col("_name").str.replace(_CIP_IN_NAME, " ")
                                                    .str.replace(r"^[\s:#,;-]+", "")))
            .with_columns(_exact=lookup_exact(pl.col("_text"), lookup.exact),
                          _words=match_keywords(pl.col("_text"), lookup.keywords))
            .with_columns(_codes=pl.when(pl.col("_exact").is_not_null()).then(pl.concat_list("_exact"))
                          .otherwise("_words"),
                          _by=pl.when(pl.col("_exact").is_not_null()).then(pl.lit(ISCED_CONFIDENCE["subject"]))
                          .otherwise(pl.lit(ISCED_CONFIDENCE["subject_keyword"])))
            .with_columns(_note=_note(pl.col("_name").is_not_null() & (pl.col("_codes").list.len() == 0)
                                      & pl.col("_cip_code").is_null(),
                                      "isced_codes", "unmapped subject", pl.col("_name")))
        )

    # Codes and names repeat across offerings: each distinct one is read once.
    codes = _with_row_positions(lf, "subject_codes").pipe(_per_distinct, ["subject_codes"], read_code).pipe(_fork)
    subjects = _with_row_positions(lf, "subjects").pipe(_per_distinct, ["subjects"], read_name).pipe(_fork)
    by_name = (
        subjects.select("_row", "_pos", "_by", code="_codes", _k=pl.int_ranges(pl.col("_codes").list.len()))
        .explode(["code", "_k"])
        .filter(pl.col("code").is_not_null() & (pl.col("code") != ""))
        .pipe(_drop_related, ["_row", "_pos"], keep="ancestor")
        .select("_row", "code", conf="_by", kind=pl.lit("subject"),
                rank=tier["subject"] * 1_000_000 + pl.col("_pos").cast(pl.Int64) * 1000 + 1 + pl.col("_k"))
    )
    # Title keywords, each tagged: trusted in titles ("t") or only inside category names ("w").
    tagged = {p: ("t" if p in lookup.title_keywords else "w") + v for p, v in lookup.keywords.items()}
    in_title = (
        lf.select("_row", _tag=match_keywords(pl.col("_title"), tagged))
        .with_columns(_k=pl.int_ranges(pl.col("_tag").list.len()))
        .explode(["_tag", "_k"])
        .filter(pl.col("_tag").str.len_chars() > 1)
        .select("_row", code=pl.col("_tag").str.slice(1), _trusted=pl.col("_tag").str.starts_with("t"),
                rank=tier["title"] * 1_000_000 + pl.col("_k").cast(pl.Int64))
        .pipe(_fork)
    )
    evidence = pl.concat([
        codes.select("_row", "code", "conf", kind=pl.lit("code"),
                     rank=tier["code"] * 1_000_000 + pl.col("_pos").cast(pl.Int64) * 1000),
        subjects.select("_row", code="_cip_code", conf="_cip_conf", kind=pl.lit("code"),
                        rank=tier["subject"] * 1_000_000 + pl.col("_pos").cast(pl.Int64) * 1000),
        by_name,
        in_title.filter("_trusted").select("_row", "code", conf=pl.lit(ISCED_CONFIDENCE["title"]),
                                           kind=pl.lit("title"), rank="rank"),
    ], how="vertical_relaxed").filter(pl.col("code").is_not_null() & (pl.col("code") != "")).pipe(_fork)
    # A title word too ambiguous on its own ("English", "management", "health") counts once the
    # codes or categories have fixed the field: when its code is, or lies under, one of theirs,
    # and no other evidence already names a code under that one.
    fixed = evidence.filter(pl.col("kind") != "title").select("_row", _ev="code").unique()
    named = evidence.select("_row", _g="code")
    refined = (fixed.join(named, on="_row")
               .filter(pl.col("_g").str.starts_with(pl.col("_ev")) & (pl.col("_g") != pl.col("_ev")))
               .select("_row", "_ev").unique())
    title_words = (
        in_title.filter(~pl.col("_trusted") & (pl.col("code") != ""))
        .join(fixed.join(refined, on=["_row", "_ev"], how="anti"), on="_row")
        .filter(pl.col("code").str.starts_with(pl.col("_ev")))
        .group_by("_row", "code").agg(pl.col("rank").min())
        .select("_row", "code", conf=pl.lit(ISCED_CONFIDENCE["title_word"]), kind=pl.lit("title"), rank="rank")
    )
    evidence = pl.concat([evidence, title_words], how="vertical_relaxed").pipe(_fork)

    found = evidence.select("_row", "code").unique().pipe(_drop_related, ["_row"], keep="descendant")
    support = (
        found.join(evidence.rename({"code": "_ev", "rank": "_ev_rank"}), on="_row")
        .filter(pl.col("code").str.starts_with(pl.col("_ev")))
        .with_columns(_own=pl.when(pl.col("_ev") == pl.col("code")).then("_ev_rank"))
        .group_by("_row", "code", "kind").agg(pl.col("conf").max(), pl.col("_own").min(), pl.col("_ev_rank").min())
        .group_by("_row", "code").agg(conf=1 - (1 - pl.col("conf")).product(),
                                      rank=pl.coalesce(pl.col("_own").min(), pl.col("_ev_rank").min()))
    )
    isced = (
        support.sort(["_row", "conf", "rank", pl.col("code").str.len_chars(), "code"],
                     descending=[False, True, False, True, False])
        .group_by("_row", maintain_order=True)
        .agg(isced_codes=pl.col("code"), isced_confidence=pl.col("conf").round(3))
    )
    notes = (
        pl.concat([codes.select("_row", "_pos", "_note"), subjects.select("_row", "_pos", "_note")])
        .filter(pl.col("_note").is_not_null())
        .group_by("_row")
        .agg(_n_subjects=pl.col("_note"))
    )
    return isced.join(notes, on="_row", how="full", coalesce=True)


_BULLET = r"^(?:[\s\u2022\u00b7\u25aa\u25cf\u25e6\u2023\u2043*\-\u2013\u2014>]+|\d{1,2}[.)]\s+)"


def _outcome_rows(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Learning outcomes as plain lines: an HTML list in one string becomes several
    outcomes, bullets and numbering go, duplicates go (first kept)."""
    lines = (
        _with_row_positions(lf, "learning_outcomes")
        .with_columns(_text=clean_text(pl.col("learning_outcomes"), multiline=True).str.split("\n"))
        .explode("_text")
        .with_columns(_text=pl.col("_text").str.replace(_BULLET, "").str.strip_chars())
        .filter(pl.col("_text").str.len_chars() > 0)
    )
    return lines.group_by("_row").agg(learning_outcomes=pl.col("_text").unique(maintain_order=True))


def _date_rows(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Start dates; a schedule word in their place ("Self-paced", "Anytime") is no defect.
    A date outside ``DATE_RANGE`` ("1800-01-01") is a placeholder or an error: dropped, noted."""
    timing = tx.load_lookup("timing")
    dates = (
        _with_row_positions(lf, "start_dates_raw")
        .with_columns(_text=collapse_whitespace(pl.col("start_dates_raw")))
        .with_columns(_date=parse_date(pl.col("_text")), _schedule=_lookup(pl.col("_text"), timing))
        .with_columns(_out=~pl.col("_date").is_between(*DATE_RANGE))
        .with_columns(_note=pl.coalesce(
            _note(pl.col("_text").is_not_null() & pl.col("_date").is_null() & pl.col("_schedule").is_null(),
                  "start_dates", "unparsed", pl.col("_text")),
            _note(pl.col("_out").fill_null(False), "start_dates", "out of range", pl.col("_text")),
        ))
    )
    return dates.group_by("_row").agg(
        start_dates=pl.col("_date").filter(~pl.col("_out")).drop_nulls().unique().sort(),
        _n_dates=pl.col("_note").drop_nulls(),
    )


_SKILL_MATCH = pl.Struct({"uris": pl.List(pl.String()), "scores": pl.List(pl.Float64()), "note": pl.String()})


def _skill_match(matcher: esco_skills.SkillMatcher) -> Callable[[str], dict[str, Any]]:
    """One distinct skill name -> its URIs, scores and mapping note (formatted once per name,
    not per offering): "skills: unmapped 'Human Learning'", "skills: no ESCO skill (curated)
    'Extract'"."""

    def match(raw: str) -> dict[str, Any]:
        m = matcher.match(raw)
        name = " ".join(raw.split())
        note = f"skills: {m.reason} '{name[:NOTE_VALUE_CHARS]}'" if m.reason and name else None
        return {"uris": list(m.uris), "scores": list(m.scores), "note": note}

    return match


def _skill_rows(lf: pl.LazyFrame, matcher: esco_skills.SkillMatcher | None) -> pl.LazyFrame:
    """ESCO skills from the provider's skill names (``normalize.taxonomy.skills``): each
    distinct name is matched once and the result joined back (``map_distinct``), in the
    names' order; a URI two names map to is kept once (the first). ``_skill_scores`` runs
    parallel to the URIs. Without the ESCO list only names that are ESCO URIs already are
    kept, and one note counts the others."""
    names = _with_row_positions(lf, "skills")
    if matcher is None:
        name = pl.col("skills").str.strip_chars()
        given = name.str.contains(ESCO_SKILL_URI)
        names = names.select(
            "_row",
            _uris=pl.when(given).then(pl.concat_list(name)).otherwise(pl.lit([], dtype=pl.List(pl.String))),
            _scores=pl.when(given).then(pl.concat_list(pl.lit(1.0))).otherwise(pl.lit([], dtype=pl.List(pl.Float64))),
            _note=pl.lit(None, dtype=pl.String),
            _absent=~given & (name.str.len_chars() > 0),
        )
    else:
        # Computed once into a column: three struct.field() on the UDF would run it thrice.
        names = names.select("_row", _m=map_distinct(pl.col("skills"), _skill_match(matcher), _SKILL_MATCH)).select(
            "_row", _uris=pl.col("_m").struct.field("uris"), _scores=pl.col("_m").struct.field("scores"),
            _note=pl.col("_m").struct.field("note"), _absent=pl.lit(False),
        )
    # Rows keep their order within a group; the first use of each URI is kept.
    first = pl.col("_u").list.eval(pl.element().is_first_distinct().arg_true())
    absent_note = pl.format("skills: ESCO list absent, {} not mapped (kept in skills_raw)", pl.col("_absent"))
    return (
        names.group_by("_row")
        .agg(_u=pl.col("_uris").list.explode(keep_nulls=False, empty_as_null=False),
             _s=pl.col("_scores").list.explode(keep_nulls=False, empty_as_null=False),
             _named=pl.col("_note").drop_nulls(), _absent=pl.col("_absent").sum())
        .select(
            "_row",
            _skill_uris=pl.col("_u").list.gather(first),
            _skill_scores=pl.col("_s").list.gather(first),
            _n_skills=pl.concat_list(
                "_named",
                pl.when(pl.col("_absent") > 0).then(pl.concat_list(absent_note))
                .otherwise(pl.lit([], dtype=pl.List(pl.String))),
            ),
        )
    )


def _map_misc(lf: pl.LazyFrame, provider_kinds: Mapping[str, str]) -> pl.LazyFrame:
    """Rating, counts, status, skills (from ``_skill_rows``), provider kind, page defects.
    Counts above ``MAX_COUNT`` are refused; skill names kept in skills_raw, and the notes of
    the skill match and of the page, lose markup and control characters."""
    status_lu, org_lu = tx.load_lookup("status"), tx.load_lookup("organization_kind")
    lf = lf.with_columns(
        rating=parse_rating(pl.col("rating_raw")),
        rating_count=parse_count(pl.col("rating_count_raw")),
        enrolment=parse_count(pl.col("enrolment_raw")),
        _status=_lookup(pl.col("status_raw"), status_lu),
        skills_raw=pl.col("skills").list.eval(sanitize_text(pl.element())).list.drop_nulls(),
        _skills_given=pl.col("skills").list.len(),
        skills=pl.col("_skill_uris"),
        skill_scores=pl.col("_skill_scores"),
        _kind_by_name=blank_to_null(match_keywords(pl.col("awarding_body"), org_lu.keywords).list.first()),
        _kind_by_source=pl.col("source").replace_strict(dict(provider_kinds), default=None,
                                                         return_dtype=pl.String),
    )
    same_as_platform = pl.col("awarding_body").is_null() | (
        pl.col("awarding_body").str.to_lowercase() == pl.col("platform").str.to_lowercase()
    )
    return lf.with_columns(
        status=pl.when("is_test").then(pl.lit("test"))
        .otherwise(pl.coalesce(blank_to_null(pl.col("_status")), pl.lit("active"))),
        # The source's provider kind describes the awarding body only when the body is the
        # lister itself (or unnamed); a university course on a MOOC platform is a university's.
        provider_kind=pl.coalesce("_kind_by_name", pl.when(same_as_platform).then("_kind_by_source")),
        rating_count=pl.when(pl.col("rating_count") <= MAX_COUNT).then("rating_count"),
        enrolment=pl.when(pl.col("enrolment") <= MAX_COUNT).then("enrolment"),
        _n_misc=_notes(
            "misc",
            _note(_present("rating_raw") & pl.col("rating").is_null(), "rating", number_refusal,
                  pl.col("rating_raw")),
            _note(_present("rating_count_raw") & pl.col("rating_count").is_null(), "rating_count",
                  number_refusal, pl.col("rating_count_raw")),
            _note(pl.col("rating_count") > MAX_COUNT, "rating_count", "out of range", pl.col("rating_count_raw")),
            _note(_present("enrolment_raw") & pl.col("enrolment").is_null(), "enrolment", number_refusal,
                  pl.col("enrolment_raw")),
            _note(pl.col("enrolment") > MAX_COUNT, "enrolment", "out of range", pl.col("enrolment_raw")),
            _note(_present("status_raw") & pl.col("_status").is_null(), "status", "unmapped",
                  pl.col("status_raw")),
            _note(pl.col("skills_raw").list.len() < pl.col("_skills_given"), "skills_raw",
                  "entries without text removed"),
        ),
        # Skill notes quote the provider's names; page defects are the spider's text.
        _n_skills=pl.col("_n_skills").list.eval(sanitize_text(pl.element())).list.drop_nulls(),
        _n_page=pl.col("page_defects").list.eval(pl.format("page: {}", sanitize_text(pl.element())))
        .list.drop_nulls(),
    )


# Annex I elements a catalog entry can carry (TAXONOMY.md section 1): present when mapped.
_EU_ELEMENTS = [
    pl.col("title").is_not_null(),
    pl.col("country").is_not_null(),
    pl.col("awarding_body").is_not_null(),
    pl.col("learning_outcomes").list.len() > 0,
    pl.col("workload_hours_min").is_not_null() | pl.col("workload_hours_max").is_not_null()
    | pl.col("ects").is_not_null(),
    pl.col("eqf_level").is_not_null() | pl.col("audience_level").is_not_null(),
    pl.col("assessment_type").is_not_null(),
    pl.col("modality").is_not_null(),
    pl.col("quality_assurance").is_not_null(),
]
# Provenance is not content: where and when a record was read (a mirror on another port, a
# tracking parameter) must not open a new version of the offering.
_NOT_HASHED = {"run_id", "fetched_at", "url", "content_hash"}


# Below this many values hashlib in Python is cheaper than opening a DuckDB connection
# (~18 ms; 1,000 values: 18 ms -> 0.7 ms, 20,000: 26 -> 13 ms CPU).
DUCKDB_HASH_MIN_VALUES = 20_000


def _sha256_hex_duckdb(chars: int) -> Callable[[pl.Series], pl.Series]:
    """SHA-256 per value in DuckDB (vectorized C++): for short values, where a Python loop
    costs more than the hashing; gives exactly ``hashlib.sha256(v).hexdigest()[:chars]``
    (which it uses below ``DUCKDB_HASH_MIN_VALUES`` values)."""
    python = _sha256_hex(chars)

    def digest(s: pl.Series) -> pl.Series:
        if s.len() < DUCKDB_HASH_MIN_VALUES:
            return python(s)
        con = duckdb.connect()
        try:
            con.register("frame", s.alias("v").to_frame())
            out = con.sql(f"select left(sha256(v), {int(chars)}) as h from frame").pl()
        finally:
            con.close()
        return out.get_column("h").alias(s.name)

    return digest


def _gather_notes(lf: pl.LazyFrame, *, long_form: bool = True) -> pl.LazyFrame:
    """``mapping_notes``: every step's notes (the ``_n_*`` list columns) in step order, as one
    list per row. Most rows have none, so on big inputs the notes are gathered in long form
    (one row per note) and joined back; concatenating a dozen mostly empty lists row by row
    cost more than any mapping step. On small inputs (``long_form`` False) the long form's
    dozen branches cost more to plan (~0.08 s a call) than the row-wise concatenation costs
    to run; both give the same lists."""
    steps = [c for c in lf.collect_schema().names() if c.startswith("_n_")]
    if not steps:
        return lf.with_columns(mapping_notes=pl.lit([], dtype=pl.List(pl.String)))
    if not long_form:
        return lf.with_columns(
            mapping_notes=pl.concat_list([pl.col(c).fill_null([]) for c in steps]).list.drop_nulls()
        )
    long = pl.concat(
        [lf.select("_row", pl.col(c).alias("_note")).explode("_note", keep_nulls=False) for c in steps],
        how="vertical",
    ).filter(pl.col("_note").is_not_null())
    notes = long.group_by("_row", maintain_order=True).agg(mapping_notes=pl.col("_note"))
    return lf.join(notes, on="_row", how="left", maintain_order="left").with_columns(
        pl.col("mapping_notes").fill_null([])
    )


def _finalize(lf: pl.LazyFrame, *, small: bool = False) -> pl.LazyFrame:
    """Identity, notes, completeness and hash; exactly OFFERING_SCHEMA (names, order, types).
    ``small``: the input is below ``SMALL_INPUT_ROWS`` rows (notes gathered row-wise)."""
    lf = _fork(lf).pipe(_gather_notes, long_form=not small).with_columns(
        # schema.offering_id(source, key), computed on the joined text (no row dicts);
        # tests/normalize check that the two agree.
        offering_id=pl.concat_str("source", pl.lit(OFFERING_ID_SEPARATOR), "_key").map_batches(
            _sha256_hex_duckdb(OFFERING_ID_CHARS), return_dtype=pl.String, is_elementwise=True
        ),
        source_key=pl.col("_key"),
        title=pl.col("_title"),
        subjects_raw=pl.col("subjects"),
        subject_codes_raw=pl.col("subject_codes"),
    ).with_columns(
        eu_completeness=(pl.sum_horizontal([e.fill_null(False).cast(pl.Int8) for e in _EU_ELEMENTS]) / 9)
        .round(4),
    )
    hashed = [n for n in OFFERING_SCHEMA.names() if n not in _NOT_HASHED]
    lf = lf.with_columns(
        content_hash=pl.struct(hashed).struct.json_encode().map_batches(
            _sha256_hex(32), return_dtype=pl.String, is_elementwise=True
        ),
    )
    return lf.sort("_row").select([pl.col(n).cast(t) for n, t in OFFERING_SCHEMA.items()])


# The query optimizations normalize() runs. The plan is large (~240k characters explained);
# simplify_expression costs ~0.7 s of every call whatever the input size and saved nothing
# measurable, so it is always off. The other passes (common subexpressions and subplans,
# column clustering, ...) cost ~0.35 s more per call and pay off only on big inputs: below
# SMALL_INPUT_ROWS rows only projection and predicate pushdown run. Measured November 2026,
# polars 2.1: 5 rows 1.0 -> 0.5 s; 2,767 rows 1.1 -> 0.4 s; 276,551 rows 7.0 -> 5.9 s.
# Optimizations never change the result (tests/normalize/test_normalize_landing.py compares
# both settings with Polars' defaults on every demo source).
SMALL_INPUT_ROWS = 20_000


def _optimizations(rows: int) -> pl.QueryOptFlags:
    if rows < SMALL_INPUT_ROWS:
        flags = pl.QueryOptFlags.none()
        flags.projection_pushdown = True
        flags.predicate_pushdown = True
    else:
        flags = pl.QueryOptFlags()
    flags.simplify_expression = False
    return flags


def _plan(raw: pl.LazyFrame, provider_kinds: Mapping[str, str],
          matcher: esco_skills.SkillMatcher | None, *, small: bool) -> tuple[pl.LazyFrame, pl.LazyFrame, date]:
    """The lazy offerings and rejects of ``raw`` and the date of the exchange rates used;
    ``small``: the input is below ``SMALL_INPUT_ROWS`` rows."""
    core = raw.pipe(_conform).pipe(_classify).pipe(_fork)
    rejects = core.pipe(_rejects)
    # The source's whole record (payload) is only quoted by rejects: the mapping never
    # carries it, so filters and joins below do not copy the largest column.
    valid = (core.drop("payload").filter(pl.col("_reject").is_null())
             .pipe(_per_distinct, ["language_raw", "country_raw"], _map_place_language).pipe(_fork))
    # List fields are mapped in long form, each branch from ``valid`` and joined back once:
    # chaining fork-and-join steps would double the plan at every step.
    per_row = [_price_rows(valid), _subject_rows(valid), _outcome_rows(valid), _date_rows(valid),
               _skill_rows(valid, matcher)]
    mapped = (
        valid.drop("prices", "learning_outcomes")
        .pipe(_map_text)
        .pipe(_map_test_flag)
        .pipe(_per_distinct, ["credential_type_raw", "record_kind_raw"], _map_kind)
        .pipe(_map_level)
        .pipe(_per_distinct, ["workload_raw", "duration_raw", "credits_raw", "credit_unit_raw"], _map_effort)
        .pipe(_per_distinct, ["modality_raw", "timing_raw", "platform"], _map_delivery)
    )
    for part in per_row:
        mapped = mapped.join(part, on="_row", how="left")
    mapped = mapped.with_columns(pl.col(c).fill_null([]) for c in _PER_ROW_LISTS)
    mapped, rate_date = _map_price_fields(mapped)
    offerings = mapped.pipe(_map_misc, provider_kinds).pipe(_finalize, small=small)
    return offerings, rejects, rate_date


class _Feed:
    """The input of a cached plan: a Python scan whose frame is set for one collect."""

    def __init__(self, schema: pl.Schema) -> None:
        self.frame: pl.DataFrame | None = None
        self.lazy = register_io_source(self._scan, schema=schema)

    def _scan(self, with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
              _batch_size: int | None) -> Iterator[pl.DataFrame]:
        frame = self.frame
        if frame is None:
            raise RuntimeError("a cached normalize plan was collected without its input")
        if predicate is not None:
            frame = frame.filter(predicate)
        if with_columns is not None:
            frame = frame.select(with_columns)
        if n_rows is not None:
            frame = frame.head(n_rows)
        yield frame


@dataclass(frozen=True)
class _CachedPlan:
    feed: _Feed
    matcher: esco_skills.SkillMatcher | None  # held: its id is part of the key
    offerings: pl.LazyFrame
    rejects: pl.LazyFrame
    rate_date: date


# Plans of small inputs, kept for the process's later calls (``normalize``). Building the
# plan (Python expressions and a dozen schema resolutions) cost ~0.15 s of a ~0.45 s call on
# 1,000 rows; a kept plan is fed each call's frame through a Python scan. Keyed by everything
# the plan is built from: the raw schema, the provider kinds, the ESCO matcher, PER_DISTINCT
# and the taxonomy tables' generation (``taxonomy.refresh``: a changed data file reloads them).
# One call at a time uses the kept plans (the feed is shared); a concurrent call builds its own.
PLAN_CACHE = True
_PLANS: dict[tuple, _CachedPlan] = {}
_PLANS_LOCK = threading.Lock()
_MAX_PLANS = 8


def _collect_cached(frame: pl.DataFrame, provider_kinds: Mapping[str, str],
                    matcher: esco_skills.SkillMatcher | None, generation: int,
                    optimizations: pl.QueryOptFlags) -> tuple[list[pl.DataFrame], date]:
    """Offerings and rejects of a small ``frame`` through a kept plan (built on first use).
    The caller holds ``_PLANS_LOCK``."""
    key = (tuple(frame.schema.items()), tuple(sorted(provider_kinds.items())),
           id(matcher), PER_DISTINCT, generation)
    plan = _PLANS.get(key)
    if plan is None or plan.matcher is not matcher:
        feed = _Feed(frame.schema)
        offerings, rejects, rate_date = _plan(feed.lazy, provider_kinds, matcher, small=True)
        plan = _CachedPlan(feed, matcher, offerings, rejects, rate_date)
        # Plans of older tables or another matcher are not used again (and hold the matcher).
        for old in [k for k, p in _PLANS.items() if k[-1] != generation or p.matcher is not matcher]:
            del _PLANS[old]
        while len(_PLANS) >= _MAX_PLANS:
            del _PLANS[next(iter(_PLANS))]
        _PLANS[key] = plan
    plan.feed.frame = frame
    try:
        out = pl.collect_all([plan.offerings, plan.rejects], engine="in-memory", optimizations=optimizations)
    finally:
        plan.feed.frame = None
    return out, plan.rate_date


def clear_plan_cache() -> None:
    """Forget kept plans (``PLAN_CACHE``)."""
    with _PLANS_LOCK:
        _PLANS.clear()


def normalize(raw: pl.LazyFrame, *, provider_kinds: Mapping[str, str] | None = None) -> NormalizeResult:
    """Map raw rows (RAW_SCHEMA) onto the taxonomy.

    ``provider_kinds`` (source name -> organization kind, from the source registry) names the
    kind of provider for records whose awarding body is the source itself or is not named.
    Every raw row becomes exactly one offering or one reject.
    """
    # A taxonomy file changed since the last call: its tables are read again (and kept plans
    # are not reused: their key holds the generation).
    generation = tx.refresh()
    # Registries and aggregators list other bodies' credentials: their kind says nothing
    # about an awarding body, so they are dropped here; any other unknown kind is an error.
    provider_kinds = {s: k for s, k in (provider_kinds or {}).items() if k not in LISTER_ONLY_KINDS}
    if unknown := set(provider_kinds.values()) - tx.codes("organization_kinds"):
        raise ValueError(f"unknown organization kind(s) {sorted(unknown)}")
    rows = raw.select(pl.len()).collect().item()  # instant on a frame's .lazy()
    optimizations = _optimizations(rows)
    small = rows < SMALL_INPUT_ROWS
    # The ESCO list is optional: without it skills stay unmapped (noted), nothing fails.
    matcher = esco_skills.get_matcher()
    # The in-memory engine: on these plans (cache nodes, Python UDFs, many small joins) the
    # streaming engine took about 1.5x the CPU time (measured on 276k generated rows).
    if small and PLAN_CACHE and _PLANS_LOCK.acquire(blocking=False):
        try:
            (offerings_df, rejects_df), rate_date = _collect_cached(
                raw.collect(engine="in-memory"), provider_kinds, matcher, generation, optimizations)
        finally:
            _PLANS_LOCK.release()
    else:
        offerings, rejects, rate_date = _plan(raw, provider_kinds, matcher, small=small)
        offerings_df, rejects_df = pl.collect_all([offerings, rejects], engine="in-memory",
                                                  optimizations=optimizations)
    return NormalizeResult(
        offerings=offerings_df,
        rejects=rejects_df.select([pl.col(n).cast(t) for n, t in REJECT_SCHEMA.items()]),
        fx_rate_date=rate_date,
    )


__all__ = ["HOURS_PER_ECTS", "LISTER_ONLY_KINDS", "NormalizeResult", "normalize", "read_landing"]
