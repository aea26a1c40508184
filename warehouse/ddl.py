"""The warehouse's shape: schemas, tables, views and their comments, derived from normalize.schema.

Every table's columns come from a Polars schema. The model-backed tables (raw offerings,
staging offerings and rejects, links, credentials, offering versions, fct_offering) start from
the Polars schemas in ``normalize/schema.py``. A field added there is added to the tables
here, and ``ensure_schema`` adds it to an existing warehouse file (``ALTER TABLE ADD COLUMN``)
so history carries over. Comments come from the pydantic ``Field`` descriptions, with our own
notes on meaning, unit and vocabulary (``COLUMN_NOTES``).

Layers (dbt naming): ``raw`` keeps every record of every run as landed; ``staging`` holds the
normalized rows per run (both as contents stored once + per-run sightings, read through the
views ``raw.raw_offerings`` and ``staging.offerings``: ``HISTORY_VIEWS``) plus one ``stg_<source>__offerings`` view per source over its latest
run; ``intermediate`` keeps the dedup links and the latest credential of each cluster;
``marts`` is what analysts query: versions (SCD2), current facts and dimensions.

DuckDB cannot take parameters in DDL (``COMMENT ON ... IS ?`` and view bodies are parsed
without them). Only two kinds of text reach DDL: identifiers checked by
``validate_identifier`` and comments written in this module, quoted by ``_sql_string``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
import polars as pl
from pydantic import BaseModel

from normalize.schema import (
    CREDENTIAL_SCHEMA,
    JSON_FIELDS,
    LINK_SCHEMA,
    OFFERING_SCHEMA,
    RAW_SCHEMA,
    REJECT_SCHEMA,
    Credential,
    Offering,
    RawOffering,
    Reject,
)
from warehouse.views import VIEWS, View

LAYERS: tuple[str, ...] = ("raw", "staging", "intermediate", "marts")

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*\Z")
_SOURCE_NAME = re.compile(r"[a-z0-9_]+\Z")

_UTC = pl.Datetime("us", "UTC")

# --- identifiers and literals -----------------------------------------------------------------


def validate_identifier(name: str) -> str:
    """Return ``name`` if it is a plain lower-case SQL identifier, else raise ValueError."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or len(name) > 63:
        raise ValueError(f"not a valid identifier: {name!r} (expected [a-z][a-z0-9_]*)")
    return name


def validate_source_name(source: str) -> str:
    """Return ``source`` if it is a valid source name ([a-z0-9_]+), else raise ValueError.

    Source names become part of view names (``stg_<source>__offerings``), so they are
    checked before any of them reaches SQL.
    """
    if not isinstance(source, str) or not _SOURCE_NAME.match(source) or len(source) > 48:
        raise ValueError(f"invalid source name: {source!r} (expected [a-z0-9_]+)")
    return source


def quote_identifier(name: str) -> str:
    """Double-quote an identifier that ``validate_identifier`` accepted."""
    return '"' + validate_identifier(name) + '"'


def _sql_string(text: str) -> str:
    """A SQL string literal for comment text written in this module (never data)."""
    if "\x00" in text:
        raise ValueError("NUL in comment text")
    return "'" + text.replace("'", "''") + "'"


# --- Polars dtype -> DuckDB type ----------------------------------------------------------------

_SIMPLE_TYPES: dict[type[pl.DataType], str] = {
    pl.String: "VARCHAR",
    pl.Categorical: "VARCHAR",
    pl.Enum: "VARCHAR",
    pl.Boolean: "BOOLEAN",
    pl.Int8: "TINYINT",
    pl.Int16: "SMALLINT",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.Int128: "HUGEINT",
    pl.UInt8: "UTINYINT",
    pl.UInt16: "USMALLINT",
    pl.UInt32: "UINTEGER",
    pl.UInt64: "UBIGINT",
    pl.Float32: "FLOAT",
    pl.Float64: "DOUBLE",
    pl.Date: "DATE",
    pl.Time: "TIME",
    pl.Duration: "INTERVAL",
    pl.Binary: "BLOB",
}

_TIMESTAMP_BY_UNIT = {"ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}


def duckdb_type(dtype: pl.DataType) -> str:
    """The DuckDB type of a Polars dtype, nested types included.

    ``Datetime`` with a time zone is ``TIMESTAMPTZ`` (an instant; DuckDB keeps microseconds),
    without one ``TIMESTAMP`` at its unit; ``List(x)`` is ``x[]``, ``Array(x, n)`` is ``x[n]``
    and ``Struct`` is ``STRUCT("field" type, ...)``.
    """
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return "TIMESTAMPTZ"
        return _TIMESTAMP_BY_UNIT[dtype.time_unit or "us"]
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision or 38}, {dtype.scale or 0})"
    if isinstance(dtype, pl.List):
        return f"{duckdb_type(dtype.inner)}[]"
    if isinstance(dtype, pl.Array):
        return f"{duckdb_type(dtype.inner)}[{dtype.size}]"
    if isinstance(dtype, pl.Struct):
        fields = ", ".join(f"{quote_identifier(f.name)} {duckdb_type(f.dtype)}" for f in dtype.fields)
        return f"STRUCT({fields})"
    for polars_class, sql_type in _SIMPLE_TYPES.items():
        if isinstance(dtype, polars_class) or dtype == polars_class:
            return sql_type
    raise TypeError(f"no DuckDB type for Polars dtype {dtype!r}")


# --- table specifications -----------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One warehouse table: its columns (a Polars schema), key and comments."""

    layer: str
    name: str
    columns: pl.Schema
    comment: str
    primary_key: tuple[str, ...] = ()
    models: tuple[type[BaseModel], ...] = ()
    json_columns: frozenset[str] = frozenset()
    notes: Mapping[str, str] = field(default_factory=dict)
    # False for tables whose key holds by construction (rebuilt marts, raw and staging rows
    # written by anti-join or partition replace): an ART index there costs ~9 s per 1M rows
    # loaded and grows with every run, and protects nothing the load does not already ensure.
    enforce_key: bool = True

    @property
    def full_comment(self) -> str:
        """The table comment, with its key when no PRIMARY KEY states it."""
        if self.primary_key and not self.enforce_key:
            return f"{self.comment} Unique key (held by the load, not enforced): {', '.join(self.primary_key)}."
        return self.comment

    @property
    def qualified(self) -> str:
        return f"{quote_identifier(self.layer)}.{quote_identifier(self.name)}"

    def column_type(self, column: str) -> str:
        if column in self.json_columns:
            return "JSON"
        return duckdb_type(self.columns[column])

    def column_comment(self, column: str) -> str:
        return describe_column(column, self.models, self.notes, self.name)

    def create_sql(self) -> str:
        defs = [f"{quote_identifier(c)} {self.column_type(c)}" for c in self.columns]
        if self.primary_key and self.enforce_key:
            defs.append(f"PRIMARY KEY ({', '.join(quote_identifier(c) for c in self.primary_key)})")
        body = ",\n  ".join(defs)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified} (\n  {body}\n)"


def _extend(base: pl.Schema, head: Mapping[str, pl.DataType] | None = None,
            tail: Mapping[str, pl.DataType] | None = None,
            drop: tuple[str, ...] = ()) -> pl.Schema:
    """``head`` columns, then ``base`` (minus those and ``drop``), then ``tail``."""
    head = dict(head or {})
    tail = dict(tail or {})
    cols = dict(head)
    for name, dtype in base.items():
        if name not in head and name not in tail and name not in drop:
            cols[name] = dtype
    cols.update(tail)
    return pl.Schema(cols)


# Warehouse-owned frame schemas (inputs that no model in normalize/ describes).
SOURCE_RUN_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "run_id": pl.String(),
        "started_at": _UTC,
        "finished_at": _UTC,
        "complete": pl.Boolean(),
        "pages": pl.Int64(),
        "items": pl.Int64(),
        "rejects": pl.Int64(),
        "offerings": pl.Int64(),
    }
)
SUBJECT_SCHEMA = pl.Schema({"isced_code": pl.String(), "label": pl.String(), "level": pl.String()})

_VERSION_HEAD = {
    "offering_id": pl.String(),
    "content_hash": pl.String(),
    "valid_from": _UTC,
    "valid_to": _UTC,
    "is_current": pl.Boolean(),
    "last_seen_at": _UTC,
    "last_seen_run_id": pl.String(),
}
_FCT_HEAD = {
    "offering_id": pl.String(),
    "credential_id": pl.String(),
    "match_score": pl.Float64(),
    "awarding_body_id": pl.String(),
    "platform_id": pl.String(),
    "version_valid_from": _UTC,
    "last_seen_at": _UTC,
    "last_seen_run_id": pl.String(),
}

# Raw records and staged offerings repeat run after run: a re-crawl lands every record again,
# mostly unchanged. Each distinct content is stored once (``raw_records``, ``offering_contents``)
# and every run's sighting of it as one narrow row (``raw_sightings``, ``offering_sightings``);
# ``raw.raw_offerings`` and ``staging.offerings`` are views joining the two, one row per record
# (offering) per run, as the tables of those names held before (``HISTORY_VIEWS``; an older
# warehouse is converted by ``ensure_schema``). A 1M-record re-crawl with 1% changed adds ~10k
# content rows and 2M narrow rows instead of 2M wide ones (docs/benchmarks.md).

# Columns a sighting holds, not the content: the run's provenance (and the offering's url,
# which its content_hash does not cover).
RAW_SIGHTING_ONLY: tuple[str, ...] = ("run_id", "fetched_at", "record_seq")
OFFERING_SIGHTING_ONLY: tuple[str, ...] = ("run_id", "fetched_at", "url")

RAW_OFFERINGS = Table(
    "raw", "raw_offerings",
    _extend(RAW_SCHEMA, tail={"record_seq": pl.Int32()}),
    "Every raw record of every crawl run, as the spider extracted it (append-only; one row per "
    "record; reloading a run adds nothing). A view: raw_sightings joined to raw_records.",
    primary_key=("source", "run_id", "source_key", "record_seq"),
    models=(RawOffering,),
    json_columns=frozenset(JSON_FIELDS & set(RAW_SCHEMA.names())),
    enforce_key=False,
)
RAW_RECORDS = Table(
    "raw", "raw_records",
    _extend(RAW_OFFERINGS.columns, drop=RAW_SIGHTING_ONLY, tail={"record_hash": pl.UInt64()}),
    "Each distinct raw record content once (every field but run_id and fetched_at), with the "
    "hash that its sightings in raw_sightings name. Query raw.raw_offerings for records per run.",
    primary_key=("source", "source_key", "record_hash"),
    models=(RawOffering,),
    json_columns=RAW_OFFERINGS.json_columns,
    notes={"record_hash": "DuckDB hash() of the record's content columns: with source and "
                          "source_key, the content's key (joins raw_sightings)"},
    enforce_key=False,
)
RAW_SIGHTINGS = Table(
    "raw", "raw_sightings",
    pl.Schema({"source": pl.String(), "run_id": pl.String(), "source_key": pl.String(),
               "record_seq": pl.Int32(), "fetched_at": RAW_SCHEMA["fetched_at"],
               "record_hash": pl.UInt64()}),
    "One row per raw record per crawl run (append-only; reloading a run adds nothing); its "
    "content is the raw_records row of the same source, source_key and record_hash.",
    primary_key=("source", "run_id", "source_key", "record_seq"),
    models=(RawOffering,),
    notes={"record_hash": "Hash of the record's content: raw_records row of the same source, "
                          "source_key and record_hash"},
    enforce_key=False,
)
STG_OFFERINGS = Table(
    "staging", "offerings",
    OFFERING_SCHEMA,
    "Normalized offerings of every loaded run (one row per offering per run), mapped onto the "
    "taxonomy of TAXONOMY.md. A run's rows are replaced as a whole when it is reloaded. A view: "
    "offering_sightings joined to offering_contents.",
    primary_key=("source", "run_id", "offering_id"),
    models=(Offering,),
    enforce_key=False,
)
STG_OFFERING_CONTENTS = Table(
    "staging", "offering_contents",
    _extend(OFFERING_SCHEMA, drop=OFFERING_SIGHTING_ONLY),
    "Each distinct normalized offering content once (every field content_hash covers); "
    "offering_sightings names it by content_hash. Query staging.offerings for offerings per run.",
    primary_key=("content_hash",),
    models=(Offering,),
    enforce_key=False,
)
STG_OFFERING_SIGHTINGS = Table(
    "staging", "offering_sightings",
    pl.Schema({"source": pl.String(), "run_id": pl.String(), "offering_id": pl.String(),
               "fetched_at": OFFERING_SCHEMA["fetched_at"], "url": OFFERING_SCHEMA["url"],
               "content_hash": OFFERING_SCHEMA["content_hash"]}),
    "One row per normalized offering per loaded run (a run's rows are replaced as a whole when it "
    "is reloaded); its content is the offering_contents row of the same content_hash.",
    primary_key=("source", "run_id", "offering_id"),
    models=(Offering,),
    enforce_key=False,
)
STG_REJECTS = Table(
    "staging", "rejects",
    REJECT_SCHEMA,
    "Raw records that could not become an offering, with the reason (nothing is dropped "
    "silently). A run's rows are replaced as a whole when it is reloaded.",
    models=(Reject,),
    notes={"payload": "The raw record as text; usually JSON, but may be the unparseable line itself"},
)
INT_OFFERING_LINKS = Table(
    "intermediate", "int_offering_links",
    _extend(LINK_SCHEMA, tail={"linked_at": _UTC}),
    "Dedup result: the credential each offering belongs to. Kept across runs: an offering not "
    "in a run's input keeps its previous link.",
    primary_key=("offering_id",),
)
INT_CREDENTIALS = Table(
    "intermediate", "int_credentials",
    _extend(CREDENTIAL_SCHEMA, tail={"updated_at": _UTC}),
    "Latest surviving values of every credential cluster ever built, kept so that credentials "
    "of sources that were not (re)loaded in a run do not vanish.",
    primary_key=("credential_id",),
    models=(Credential, Offering),
    json_columns=frozenset(JSON_FIELDS & set(CREDENTIAL_SCHEMA.names())),
)
OFFERING_VERSIONS = Table(
    "marts", "offering_versions",
    _extend(OFFERING_SCHEMA, head=_VERSION_HEAD),
    "History of every offering (SCD type 2): a new version when its content_hash changes; a "
    "version is closed (valid_to set, never deleted) when the content changes or the offering "
    "is missing from a complete crawl of its source. Failed or partial crawls close nothing.",
    primary_key=("offering_id", "valid_from"),
    models=(Offering,),
)
FCT_OFFERING = Table(
    "marts", "fct_offering",
    _extend(OFFERING_SCHEMA, head=_FCT_HEAD),
    "One row per current offering (the current version of offering_versions) with the "
    "credential it belongs to. Rebuilt on every load.",
    primary_key=("offering_id",),
    models=(Offering,),
    enforce_key=False,
)
DIM_CREDENTIAL = Table(
    "marts", "dim_credential",
    _extend(CREDENTIAL_SCHEMA, tail={"updated_at": _UTC}),
    "One row per deduplicated credential that has at least one current offering, with the "
    "surviving value of each field. Membership columns (n_offerings, n_sources, sources, "
    "platforms, member_offering_ids) are recomputed from fct_offering.",
    primary_key=("credential_id",),
    models=(Credential, Offering),
    json_columns=frozenset(JSON_FIELDS & set(CREDENTIAL_SCHEMA.names())),
    enforce_key=False,
)
DIM_PROVIDER = Table(
    "marts", "dim_provider",
    pl.Schema(
        {
            "provider_id": pl.String(),
            "name": pl.String(),
            "is_awarding_body": pl.Boolean(),
            "is_platform": pl.Boolean(),
            "provider_kind": pl.String(),
            "country": pl.String(),
            "n_offerings": pl.Int64(),
            "n_offerings_awarded": pl.Int64(),
            "n_offerings_listed": pl.Int64(),
            "n_credentials": pl.Int64(),
            "n_sources": pl.Int64(),
            "sources": pl.List(pl.String()),
        }
    ),
    "One row per organization named by a current offering, as awarding body (owner of the "
    "credential) or platform (site that lists it), with its kind, country and offering counts.",
    primary_key=("provider_id",),
    enforce_key=False,
)
DIM_SUBJECT = Table(
    "marts", "dim_subject",
    pl.Schema({"isced_code": pl.String(), "label": pl.String(), "level": pl.String(),
               "broad_code": pl.String()}),
    "ISCED-F 2013 fields of education: the reference list when one was loaded, plus every "
    "code used by a current offering (label null when no reference gave one).",
    primary_key=("isced_code",),
    enforce_key=False,
)
BRIDGE_OFFERING_SKILL = Table(
    "marts", "bridge_offering_skill",
    pl.Schema({"offering_id": pl.String(), "skill_uri": pl.String()}),
    "Current offerings x ESCO skills (many-to-many).",
    primary_key=("offering_id", "skill_uri"),
    enforce_key=False,
)
BRIDGE_OFFERING_SUBJECT = Table(
    "marts", "bridge_offering_subject",
    pl.Schema({"offering_id": pl.String(), "isced_code": pl.String(), "label": pl.String()}),
    "Current offerings x ISCED-F 2013 fields of education (many-to-many), labelled from "
    "dim_subject.",
    primary_key=("offering_id", "isced_code"),
    enforce_key=False,
)
SOURCE_RUNS = Table(
    "marts", "source_runs",
    SOURCE_RUN_SCHEMA,
    "One row per crawl run of a source, from its crawl stats, with the counts that reconcile "
    "(items = offerings + rejects).",
    primary_key=("source", "run_id"),
)

PRICE_HISTORY = Table(
    "marts", "price_history",
    pl.Schema(
        {
            "offering_id": pl.String(),
            "valid_from": _UTC,
            "valid_to": _UTC,
            "is_current": pl.Boolean(),
            "price_amount": pl.Float64(),
            "price_currency": pl.String(),
            "price_usd": pl.Float64(),
            "is_free": pl.Boolean(),
            "free_to_audit": pl.Boolean(),
        }
    ),
    "Price history of every offering, derived from offering_versions: one row per span of "
    "consecutive versions with the same price (amount, currency, USD value, free and audit "
    "flags), so a price change is one new row and a change of other content is none. A span "
    "ends when the price changes or the offering is closed; a reappearing offering starts a "
    "new span. Maintained incrementally: only offerings whose versions changed in a run are "
    "rewritten.",
    primary_key=("offering_id", "valid_from"),
    models=(Offering,),
    notes={
        "valid_from": "Run time from which this price holds (UTC, inclusive)",
        "valid_to": "Run time at which this price stopped holding (UTC, exclusive): the price "
                    "changed or the offering was closed; null while current",
        "is_current": "True for the price that holds now (the offering is current and valid_to is null)",
    },
)

UNMAPPED_VALUES = Table(
    "marts", "unmapped_values",
    pl.Schema(
        {
            "source": pl.String(),
            "field": pl.String(),
            "reason": pl.String(),
            "value": pl.String(),
            "n_offerings": pl.Int64(),
            "share": pl.Float64(),
            "rank": pl.Int64(),
            "example_offering_id": pl.String(),
            "last_seen_at": _UTC,
            "last_seen_run_id": pl.String(),
        }
    ),
    "The curators' to-do list: raw values normalization could not map onto the taxonomy, per "
    "source, read from the mapping notes ('field: reason 'value'') of the current offerings "
    "(fct_offering). One row per source, field, reason and value, with how many current "
    "offerings of the source carry it and their share; ranked within each source, most "
    "frequent first, so the look-up row to add next is rank 1. Notes that quote no raw value "
    "(e.g. 'record_kind: not stated; learning_opportunity assumed') are left out. Rebuilt on "
    "every load; the same ranking as normalize.unmapped.unmapped_values.",
    primary_key=("source", "field", "reason", "value"),
    enforce_key=False,
    notes={
        "source": "Source whose current offerings carry the value (source registry name)",
        "field": "Offering field the raw value was meant for (credential_type, isced_codes, "
                 "credit_unit, language, prices, skills ...)",
        "reason": "Why it was not mapped, as the note says (unmapped, unmapped subject, "
                  "unrecognised code, unknown currency in ...)",
        "value": "The raw value as the source gave it, as quoted in the note (cut to 80 characters)",
        "n_offerings": "Number of current offerings of the source whose notes quote this value "
                       "for this field and reason",
        "share": "n_offerings divided by the number of current offerings of the source (0-1, "
                 "4 decimals)",
        "rank": "Rank within the source, 1 = most frequent (ties by field, reason, value)",
        "example_offering_id": "offering_id of one current offering carrying the value (the "
                               "smallest); join marts.fct_offering for its url and title",
        "last_seen_at": "Latest last_seen_at among those offerings: when a crawl last saw the "
                        "value (UTC)",
        "last_seen_run_id": "Crawl run that last saw the value (last_seen_run_id of the offering "
                            "seen latest)",
    },
)

TABLES: tuple[Table, ...] = (
    RAW_RECORDS,
    RAW_SIGHTINGS,
    STG_OFFERING_CONTENTS,
    STG_OFFERING_SIGHTINGS,
    STG_REJECTS,
    INT_OFFERING_LINKS,
    INT_CREDENTIALS,
    OFFERING_VERSIONS,
    PRICE_HISTORY,
    FCT_OFFERING,
    DIM_CREDENTIAL,
    DIM_PROVIDER,
    DIM_SUBJECT,
    BRIDGE_OFFERING_SKILL,
    BRIDGE_OFFERING_SUBJECT,
    SOURCE_RUNS,
    UNMAPPED_VALUES,
)

# Operations: not part of the catalog (not in TABLES, so neither loaded, counted nor exported);
# created when the first failed run is recorded (pipelines/failures.py).
OPS_LAYER = "ops"
RUN_FAILURES = Table(
    OPS_LAYER, "run_failures",
    pl.Schema(
        {
            "run_id": pl.String(),
            "job_name": pl.String(),
            "failed_at": _UTC,
            "failed_steps": pl.List(pl.String()),
            "assets": pl.List(pl.String()),
            "sources": pl.List(pl.String()),
            "message": pl.String(),
            "recorded_at": _UTC,
        }
    ),
    "One row per failed pipeline run, written by the run-failure sensor's record_run_failure "
    "job. Unique key: run_id.",
    primary_key=("run_id",),  # enforced, hence also NOT NULL
    notes={
        "run_id": "Id of the failed Dagster run (one row per run)",
        "job_name": "Job of the run (credcat_full_refresh, source_<name>, __ASSET_JOB for a UI materialization)",
        "failed_at": "When the run failed",
        "failed_steps": "Steps that failed (raw__<source>, staging__<source>, marts_build ...)",
        "assets": "Assets of the failed steps, as asset keys (raw/<source> ...)",
        "sources": "Sources whose raw or staging step failed",
        "message": "The run's failure message and each failed step's error, cut to 4000 characters",
        "recorded_at": "When this row was written",
    },
)

RECORD_FINGERPRINTS = Table(
    OPS_LAYER, "raw_record_fingerprints",
    pl.Schema({"source": pl.String(), "fp_a": pl.UInt64(), "fp_b": pl.UInt64(), "n_bytes": pl.UInt32(),
               "scheme": pl.String(), "record_hash": pl.UInt64()}),
    "Bookkeeping of the load: the raw_records.record_hash of a landed line's record, by the line's "
    "fingerprint (normalize/reuse.py: the line's bytes without run_id and fetched_at), so a "
    "re-crawl's unchanged records are recognised without reading their payloads "
    "(warehouse.load.RawPayloads). Written in the same transaction as the contents it names.",
    primary_key=("source", "fp_a", "fp_b", "n_bytes", "scheme"),
    notes={
        "source": "Source of the line",
        "fp_a": "First 64-bit hash of the line's fingerprint",
        "fp_b": "Second 64-bit hash of the line's fingerprint",
        "n_bytes": "Length of the fingerprinted bytes",
        "scheme": "What the fingerprint and the hash mean: digest of the normalizer fingerprint, the DuckDB "
                  "version and the record_hash expression; rows of a scheme no input uses are dropped",
        "record_hash": "raw_records.record_hash of the line's record (with source and source_key, its key)",
    },
    enforce_key=False,
)

MARTS_STATE = Table(
    OPS_LAYER, "marts_state",
    pl.Schema({"derivation": pl.Int32(), "refreshed_at": _UTC, "how": pl.String(),
               "offerings_refreshed": pl.Int64()}),
    "How the marts were last brought up to date (one row, written by every load): the version of "
    "their derivation (warehouse.load.MARTS_DERIVATION; a warehouse built by another version "
    "has its marts rebuilt whole once), when, whether rebuilt or refreshed in place, and how "
    "many offerings' rows were written.",
    notes={
        "derivation": "warehouse.load.MARTS_DERIVATION of the build that wrote the marts",
        "refreshed_at": "Run time of that build",
        "how": "rebuilt (every mart row written again) or refreshed (only the changed offerings' rows)",
        "offerings_refreshed": "Offerings whose fct_offering row was written",
    },
)

# --- column comments ----------------------------------------------------------------------------

# Our notes: meaning, unit, vocabulary. Joined with the pydantic Field description where the
# model has one (see describe_column), so the model stays the first word.
COLUMN_NOTES: dict[str, str] = {
    # identity and provenance
    "offering_id": "Stable id of a listing (first 20 hex chars of SHA-256 of source and source_key)",
    "source": "Source name from the source registry (scrapers/sources.toml)",
    "source_key": "The source's own identifier of the record",
    "url": "URL the record was read from",
    "run_id": "Crawl run that produced the row",
    "fetched_at": "When the record was fetched (UTC)",
    "record_seq": "Ordinal of the record among records of the run sharing its source_key (0 unless the source repeated a key)",
    "record_kind": "Kind of record",
    "record_kind_raw": "Kind of record as the source gave it",
    # content
    "title": "Title as listed (plain text)",
    "description": "Description",
    "learning_outcomes": "Learning outcome statements, one per element (EU Annex I element 6)",
    "awarding_body": "Organization that owns and awards the credential, as named (EU Annex I element 4)",
    "platform": "Platform or site that lists the offering (CTDL offeredBy), as named; not the awarding body",
    "provider_kind": "Kind of organization: university, mooc_platform, professional_association, vendor, government, training_provider, quality_assurance_body",
    "country": "Country of the awarding body",
    "language": "Language of instruction",
    "credential_type": "Type of credential awarded (CTDL credentialType class); null for learning opportunities that award nothing",
    "credential_type_raw": "Credential type label as the source gave it (e.g. Specialization, XSeries)",
    "isced_codes": "Fields of education, as ISCED-F 2013 codes",
    "isced_confidence": "How sure the mapping is of each ISCED-F code, highest first (the primary "
                        "code): 1.0 for a code the source gave as ISCED-F, less for a CIP crosswalk, "
                        "subject name or title keyword (normalize.transforms.ISCED_CONFIDENCE); kinds "
                        "of evidence that agree combine as 1 - prod(1 - c)",
    "subjects_raw": "Subject / category names as the source gave them",
    "subjects": "Subject / category names as the source gave them",
    "subject_codes_raw": "Classification codes as the source gave them (CIP 2020, ISCED ...)",
    "subject_codes": "Classification codes as the source gave them (CIP 2020, ISCED ...)",
    "skills": "Skills taught, as ESCO skill URIs (http://data.europa.eu/esco/skill/<uuid>)",
    "skills_raw": "Skill names as the source gave them",
    "audience_level": "Audience level (CTDL audienceLevel: BeginnerLevel, IntermediateLevel, AdvancedLevel, ProfessionalLevel, ...)",
    "level_raw": "Level as the source gave it",
    "eqf_level": "European Qualifications Framework level (1-8; EQF 5-8 = QF-EHEA short, first, second, third cycle)",
    "workload_hours_min": "Notional learner workload, lower bound, in hours of effort (EU Annex I element 7)",
    "workload_hours_max": "Notional learner workload, upper bound, in hours of effort",
    "workload_raw": "Workload as the source gave it",
    "duration_weeks_min": "Calendar duration, lower bound, in weeks",
    "duration_weeks_max": "Calendar duration, upper bound, in weeks",
    "duration_raw": "Calendar length as the source gave it",
    "credits": "Credits as given by the source, in credit_unit",
    "credit_unit": "Unit of credits (CTDL creditUnit: ECTS, ClockHour, ContinuingEducationUnit, SemesterHour, DegreeCredit ...)",
    "credits_raw": "Credits as the source gave them",
    "credit_unit_raw": "Credit unit as the source gave it",
    "ects": "Workload in ECTS credits (1 ECTS = 25-30 hours of work)",
    "ects_derived": "ECTS provenance flag",
    "modality": "Form of participation (EU Annex I element 10; CTDL deliveryType)",
    "modality_raw": "Form of participation as the source gave it",
    "timing": "Learning schedule",
    "timing_raw": "Learning schedule as the source gave it",
    "prices": "All prices: amount, ISO 4217 currency, CTDL costType",
    "price_amount": "Main price amount",
    "price_currency": "Currency of price_amount (ISO 4217)",
    "price_usd": "Main price converted to US dollars with the project's dated rate table",
    "is_free": "True when the offering costs nothing",
    "is_free_raw": "Free flag as the source gave it",
    "free_to_audit": "True when the content can be followed for free and only the credential costs",
    "assessment_type": "Type of assessment (EU Annex I element 9)",
    "assessment_raw": "Assessment as the source gave it",
    "quality_assurance": "Type of quality assurance used (EU Annex I element 11)",
    "quality_assurance_raw": "Quality assurance as the source gave it",
    "prerequisites": "Prerequisites, plain text",
    "prerequisites_raw": "Prerequisites as the source gave them",
    "start_dates": "Announced start dates",
    "start_dates_raw": "Start dates as the source gave them",
    "rating": "Average learner rating as published by the source (the source's scale)",
    "rating_raw": "Rating as the source gave it",
    "rating_count": "Number of ratings behind rating",
    "rating_count_raw": "Number of ratings as the source gave it",
    "enrolment": "Number of enrolled learners as published by the source",
    "enrolment_raw": "Enrolment as the source gave it",
    "status": "Listing status",
    "status_raw": "Status as the source gave it",
    "is_test": "True for test / placeholder records published by the source",
    "content_hash": "Hash of the mapped content; a change opens a new version",
    "eu_completeness": "EU completeness score",
    "mapping_notes": "Values that could not be mapped, as 'field: reason'",
    "language_raw": "Language as the source gave it",
    "country_raw": "Country as the source gave it",
    "page_defects": "Defects of the page the record came from",
    "payload": "The source's whole record as JSON",
    # credentials and links
    "credential_id": "Id of the deduplicated credential (cluster of offerings of one credential)",
    "match_score": "Dedup match score of the offering to its credential (0-1, 1 = certain)",
    "linked_at": "Run time at which this link was last set or changed (UTC)",
    "platforms": "Platforms listing the credential",
    "price_usd_min": "Lowest price among the credential's offerings, in US dollars",
    "price_usd_max": "Highest price among the credential's offerings, in US dollars",
    "n_offerings": "Number of current offerings",
    "n_sources": "Number of distinct sources listing it",
    "sources": "Sources listing it",
    "member_offering_ids": "offering_id of each member offering",
    "field_sources": "Provenance of each surviving value, as JSON",
    "updated_at": "Run time at which these values last changed (UTC)",
    # versions and facts
    "valid_from": "Run time from which this version holds (UTC, inclusive)",
    "valid_to": "Run time at which this version stopped holding (UTC, exclusive); null while current",
    "is_current": "True for the version that holds now (valid_to is null)",
    "last_seen_at": "fetched_at of the latest crawl that saw this offering with this content (UTC)",
    "last_seen_run_id": "run_id of the latest crawl that saw this offering with this content",
    "version_valid_from": "valid_from of the current version: since when the offering has had this content (UTC)",
    "awarding_body_id": "provider_id of the awarding body in dim_provider",
    "platform_id": "provider_id of the platform in dim_provider",
    # providers
    "provider_id": "Id of the organization: first 16 hex chars of SHA-256 of its lower-cased, trimmed name",
    "name": "Name of the organization, in its most frequent spelling",
    "is_awarding_body": "True when some current offering names it as awarding body",
    "is_platform": "True when some current offering names it as platform",
    "n_offerings_awarded": "Number of current offerings it awards",
    "n_offerings_listed": "Number of current offerings it lists as platform",
    "n_credentials": "Number of distinct credentials among its current offerings",
    # subjects and skills
    "isced_code": "ISCED-F 2013 field of education code (2 digits broad, 3 narrow, 4 detailed)",
    "label": "Name of the ISCED-F 2013 field (null when no reference list gave one)",
    "level": "ISCED-F 2013 level of the code: broad | narrow | detailed",
    "broad_code": "The 2-digit ISCED-F broad field the code belongs to",
    "skill_uri": "ESCO skill URI (http://data.europa.eu/esco/skill/<uuid>)",
    # source runs
    "started_at": "When the crawl started (UTC)",
    "finished_at": "When the crawl finished (UTC); null if it never finished",
    "complete": "True only when the crawl finished normally with no page it could not fetch; only complete crawls close offerings",
    "pages": "Pages fetched by the crawl",
    "items": "Raw records the crawl produced",
    "rejects": "Raw records of the run that became rejects",
    "offerings": "Raw records of the run that became offerings",
    "reason": "Reject reason code",
    "detail": "What exactly was wrong",
}

# Where a column means something else in one table, or needs a unit the shared note lacks.
_TABLE_NOTES: dict[tuple[str, str], str] = {
    ("dim_credential", "n_offerings"): "Number of current offerings linked to the credential",
    ("dim_credential", "member_offering_ids"): "offering_id of each current offering linked to the credential",
    ("dim_credential", "sources"): "Sources of the current offerings linked to the credential",
    ("dim_credential", "platforms"): "Platforms of the current offerings linked to the credential",
    ("dim_provider", "n_offerings"): "Number of current offerings naming the organization (either role)",
    ("dim_provider", "sources"): "Sources whose current offerings name the organization",
    ("dim_provider", "provider_kind"): "Kind of organization, most frequent among offerings it awards (university, mooc_platform, professional_association ...); null for platforms only",
    ("dim_provider", "country"): "Country of the organization, most frequent among offerings it awards (ISO 3166-1 alpha-2); null for platforms only",
    ("source_runs", "source"): "Source name from the source registry (scrapers/sources.toml)",
    ("source_runs", "run_id"): "Id of the crawl run",
}


def describe_column(column: str, models: tuple[type[BaseModel], ...] = (),
                    notes: Mapping[str, str] | None = None, table: str | None = None) -> str:
    """The comment of a column: our note, then the model's Field description, joined."""
    parts: list[str] = []
    note = (notes or {}).get(column) or _TABLE_NOTES.get((table or "", column)) or COLUMN_NOTES.get(column)
    if note:
        parts.append(note)
    for model in models:
        info = model.model_fields.get(column)
        if info is not None and info.description and info.description not in parts:
            parts.append(info.description)
            break
    if not parts:
        # A field added to normalize/schema.py without a description still gets a comment.
        owner = next((m.__name__ for m in models if column in m.model_fields), "warehouse")
        parts.append(f"{owner}.{column} (undocumented)")
    text = ". ".join(p.rstrip(".") for p in parts)
    return text if text.endswith(".") else text + "."


# --- ensure -------------------------------------------------------------------------------------


def _existing_columns(con: duckdb.DuckDBPyConnection, layer: str, name: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
        "ORDER BY column_index",
        [layer, name],
    ).fetchall()
    return [r[0] for r in rows]


def ensure_table(con: duckdb.DuckDBPyConnection, table: Table) -> list[str]:
    """Create ``table`` if missing and add columns the schema gained; return added columns."""
    con.execute(table.create_sql())
    existing = set(_existing_columns(con, table.layer, table.name))
    added = []
    for column in table.columns:
        if column not in existing:
            con.execute(
                f"ALTER TABLE {table.qualified} ADD COLUMN {quote_identifier(column)} "
                f"{table.column_type(column)}"
            )
            added.append(column)
    con.execute(f"COMMENT ON TABLE {table.qualified} IS {_sql_string(table.full_comment)}")
    _comment_columns(con, table.qualified, table)
    return added


def _comment_columns(con: duckdb.DuckDBPyConnection, qualified: str, table: Table) -> None:
    """Comment every column of ``qualified`` (a table, or a view with ``table``'s columns) with
    ``table``'s column comments."""
    for column in table.columns:
        con.execute(
            f"COMMENT ON COLUMN {qualified}.{quote_identifier(column)} "
            f"IS {_sql_string(table.column_comment(column))}"
        )


@dataclass(frozen=True)
class HistoryView:
    """A per-run history kept as contents + sightings, read through one view (``view``'s name
    and columns, which the table of that name had before)."""

    view: Table
    sightings: Table
    contents: Table
    join: tuple[str, ...]  # the content's key, in both tables

    def select_sql(self) -> str:
        """The view's body: one row per sighting with its content, in ``view``'s column order."""
        cols = ", ".join(
            f"{'s' if c in self.sightings.columns else 'c'}.{quote_identifier(c)}" for c in self.view.columns
        )
        on = " AND ".join(f"c.{quote_identifier(k)} = s.{quote_identifier(k)}" for k in self.join)
        return (f"SELECT {cols} FROM {self.sightings.qualified} AS s "
                f"JOIN {self.contents.qualified} AS c ON {on}")


HISTORY_VIEWS: tuple[HistoryView, ...] = (
    HistoryView(RAW_OFFERINGS, RAW_SIGHTINGS, RAW_RECORDS, ("source", "source_key", "record_hash")),
    HistoryView(STG_OFFERINGS, STG_OFFERING_SIGHTINGS, STG_OFFERING_CONTENTS, ("content_hash",)),
)


def raw_record_hash_sql() -> str:
    """``record_hash`` of a row holding RAW_RECORDS' content columns: DuckDB's 64-bit ``hash``
    of them, each cast to its stored type, JSON columns as their text (as given: a load
    hashes its input before the JSON check; a payload that was not valid JSON is stored
    quoted, and a warehouse converted from the former tables hashes it quoted: such a record
    is stored once more the next time it is seen).

    Not cryptographic and not promised stable across DuckDB versions: it only decides whether
    a record's content is already stored, always together with its source and source_key, so
    a false match needs a change of one record to collide with that record's own stored
    content (2^-64), and a hash that changes with an upgrade stores unchanged records again
    (more rows, nothing lost)."""
    cols = [c for c in RAW_RECORDS.columns if c != "record_hash"]
    return "hash(" + ", ".join(
        f"CAST({quote_identifier(c)} AS "
        f"{'VARCHAR' if c in RAW_RECORDS.json_columns else RAW_RECORDS.column_type(c)})" for c in cols) + ")"


def _table_type(con: duckdb.DuckDBPyConnection, layer: str, name: str) -> str | None:
    row = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
        [layer, name],
    ).fetchone()
    return row[0] if row else None


def _convert_history_table(con: duckdb.DuckDBPyConnection, history: HistoryView) -> int:
    """Move the rows of a warehouse written before HISTORY_VIEWS (``view`` was a table) into
    the contents and sightings tables, then drop that table; return the rows moved.

    Columns the old table lacks (the model gained them later) are null, as ``ensure_table``
    would have added them. Every row becomes a sighting; each distinct content is kept once.
    """
    existing = set(_existing_columns(con, history.view.layer, history.view.name))
    select = ", ".join(
        (quote_identifier(c) if c in existing
         else f"NULL::{history.view.column_type(c)} AS {quote_identifier(c)}")
        for c in history.view.columns
    )
    hashed = f", {raw_record_hash_sql()} AS record_hash" if history.contents is RAW_RECORDS else ""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _history_old AS SELECT *{hashed} FROM "
                f"(SELECT {select} FROM {history.view.qualified})")
    moved = int(con.execute("SELECT count(*) FROM _history_old").fetchone()[0])
    sighting_cols = ", ".join(quote_identifier(c) for c in history.sightings.columns)
    content_cols = ", ".join(quote_identifier(c) for c in history.contents.columns)
    key = ", ".join(quote_identifier(k) for k in history.join)
    con.execute(f"INSERT INTO {history.sightings.qualified} BY NAME SELECT {sighting_cols} FROM _history_old")
    con.execute(
        f"INSERT INTO {history.contents.qualified} BY NAME SELECT DISTINCT ON ({key}) {content_cols} "
        f"FROM _history_old AS o WHERE NOT EXISTS (SELECT 1 FROM {history.contents.qualified} AS c WHERE "
        + " AND ".join(f"c.{quote_identifier(k)} = o.{quote_identifier(k)}" for k in history.join) + ")"
    )
    con.execute("DROP TABLE _history_old")
    con.execute(f"DROP TABLE {history.view.qualified}")
    return moved


def ensure_history_views(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Create or replace the HISTORY_VIEWS (their tables must exist) and comment them; a
    warehouse where one is still a table is converted first. Return the rows converted."""
    converted: dict[str, int] = {}
    for history in HISTORY_VIEWS:
        view = history.view
        if _table_type(con, view.layer, view.name) == "BASE TABLE":
            converted[f"{view.layer}.{view.name}"] = _convert_history_table(con, history)
        con.execute(f"CREATE OR REPLACE VIEW {view.qualified} AS {history.select_sql()}")
        con.execute(f"COMMENT ON VIEW {view.qualified} IS {_sql_string(view.full_comment)}")
        _comment_columns(con, view.qualified, view)
    return converted


def ensure_schema(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Create every schema and table (idempotent) and comment them; return columns added.

    Safe to run on every load: existing tables keep their rows, new model fields become new
    (null) columns, comments are rewritten from the current models.
    """
    for layer in LAYERS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(layer)}")
    added: dict[str, list[str]] = {}
    for table in TABLES:
        cols = ensure_table(con, table)
        if cols:
            added[f"{table.layer}.{table.name}"] = cols
    ensure_history_views(con)
    ensure_views(con)
    return added


def ensure_marts_state(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create ``ops.marts_state`` if missing (and its schema), comment it; return columns added."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(OPS_LAYER)}")
    return ensure_table(con, MARTS_STATE)


def ensure_record_fingerprints(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create ``ops.raw_record_fingerprints`` if missing (and its schema), comment it; return
    columns added."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(OPS_LAYER)}")
    return ensure_table(con, RECORD_FINGERPRINTS)


def ensure_run_failures(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create ``ops.run_failures`` if missing (and its schema), comment it; return columns added."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(OPS_LAYER)}")
    return ensure_table(con, RUN_FAILURES)


def view_qualified(view: View) -> str:
    return f"{quote_identifier('marts')}.{quote_identifier(view.name)}"


def ensure_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create or replace the analyst views of ``marts`` and comment them; return their names.

    Column comments come from the view's notes, else the shared COLUMN_NOTES; a column with
    neither is marked "(undocumented)" (the tests fail on it).
    """
    for view in VIEWS:
        qualified = view_qualified(view)
        con.execute(f"CREATE OR REPLACE VIEW {qualified} AS {view.sql.strip()}")
        con.execute(f"COMMENT ON VIEW {qualified} IS {_sql_string(view.comment)}")
        for column in _existing_columns(con, "marts", view.name):
            con.execute(
                f"COMMENT ON COLUMN {qualified}.{quote_identifier(column)} "
                f"IS {_sql_string(describe_column(column, (), view.notes, view.name))}"
            )
    return [view.name for view in VIEWS]


def source_view_name(source: str) -> str:
    """``stg_<source>__offerings`` for a validated source name."""
    return validate_identifier(f"stg_{validate_source_name(source)}__offerings")


def ensure_source_view(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """Create or replace ``staging.stg_<source>__offerings``: the source's latest run.

    The latest run is the one with the most recent fetched_at among the source's staged runs
    (staging knows nothing of marts.source_runs; a run that produced no offering leaves the
    previous one in view). The source name is validated ([a-z0-9_]+) before it is written
    into the view, which cannot take parameters.
    """
    view = source_view_name(source)
    qualified = f"{quote_identifier('staging')}.{quote_identifier(view)}"
    literal = _sql_string(source)
    con.execute(
        f"CREATE OR REPLACE VIEW {qualified} AS\n"
        f"SELECT o.* FROM {STG_OFFERINGS.qualified} AS o\n"
        f"WHERE o.source = {literal} AND o.run_id = (\n"
        f"  SELECT arg_max(run_id, fetched_at) FROM {STG_OFFERING_SIGHTINGS.qualified}"
        f" WHERE source = {literal})"
    )
    con.execute(
        f"COMMENT ON VIEW {qualified} IS "
        + _sql_string(f"Normalized offerings of the latest run of source {source}.")
    )
    _comment_columns(con, qualified, STG_OFFERINGS)
    return view



WAREHOUSE_ALIAS = "warehouse"


def _session(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # no terminal bars from pipeline runs


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A second connection to the database instance behind ``con`` (for another thread), with
    the same default catalog and session settings. Temp tables are per connection."""
    database = con.execute("SELECT current_database()").fetchone()[0]
    other = con.cursor()
    try:
        _session(other)
        other.execute("USE " + '"' + database.replace('"', '""') + '"')  # a catalog name, not data
    except BaseException:
        other.close()
        raise
    return other


def attach(path: str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection with the warehouse file at ``path`` attached as the default database.

    ATTACH through a fresh in-memory connection rather than ``duckdb.connect(path)``: the
    latter reuses a database instance cached by path inside this process, which after a
    publish (rename) may be the old file. Queries name tables as ``marts.fct_offering`` etc.
    """
    con = duckdb.connect(":memory:")
    try:
        _session(con)
        mode = " (READ_ONLY)" if read_only else ""
        con.execute(f"ATTACH ? AS {quote_identifier(WAREHOUSE_ALIAS)}{mode}", [str(path)])
        con.execute(f"USE {quote_identifier(WAREHOUSE_ALIAS)}")
    except BaseException:
        con.close()
        raise
    return con
