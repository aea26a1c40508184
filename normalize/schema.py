"""The canonical records of credcat: the only definitions.

``RawOffering`` is what a spider extracts, faithfully and unnormalized: every field is the
source's own text (strings or lists of strings), plus the source's whole record as
``payload``. ``Offering`` is one normalized listing mapped onto the taxonomy of
shared/TAXONOMY.md. ``Credential`` is the deduplicated entity with its member offerings and,
per field, the offering its surviving value came from. ``Reject`` is a raw record that could
not become an Offering, with its reason.

Polars schemas are derived from these models (``polars_schema``); the DuckDB DDL in
warehouse/ derives from the Polars schemas. Change a field here and both follow.
"""

from __future__ import annotations

import hashlib
import types
import typing
from datetime import date, datetime
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0.0"


class RawPrice(BaseModel):
    """One price as the source wrote it (amount and currency may be one string)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    text: str | None = None
    amount: str | None = None
    currency: str | None = None
    label: str | None = None


class RawOffering(BaseModel):
    """One record as a spider extracted it. Spiders never normalize: values stay as given."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    source: str = Field(description="Source name from the source registry")
    source_key: str = Field(description="The source's own identifier of the record")
    url: str | None = Field(default=None, description="Where the record was read")
    fetched_at: datetime
    run_id: str
    record_kind_raw: str | None = Field(
        default=None, description="The source's type of the record: course, program, ceterms:Certification ..."
    )
    title: str | None = None
    description: str | None = Field(default=None, description="As given; may hold HTML")
    learning_outcomes: list[str] = Field(default_factory=list)
    awarding_body: str | None = Field(default=None, description="Owner of the credential, as named")
    platform: str | None = Field(default=None, description="The platform or site that lists it")
    credential_type_raw: str | None = None
    subjects: list[str] = Field(default_factory=list, description="Subject / category names as given")
    subject_codes: list[str] = Field(default_factory=list, description="Classification codes as given (CIP, ISCED)")
    skills: list[str] = Field(default_factory=list)
    level_raw: str | None = None
    workload_raw: str | None = Field(default=None, description="Effort: '3-5 hours/week', 'PT10H' ...")
    duration_raw: str | None = Field(default=None, description="Calendar length: '4 weeks', 'P6M' ...")
    credits_raw: str | None = None
    credit_unit_raw: str | None = None
    prices: list[RawPrice] = Field(default_factory=list)
    is_free_raw: str | None = None
    language_raw: str | None = None
    country_raw: str | None = None
    modality_raw: str | None = None
    timing_raw: str | None = None
    assessment_raw: str | None = None
    quality_assurance_raw: str | None = None
    prerequisites_raw: str | None = None
    start_dates_raw: list[str] = Field(default_factory=list)
    rating_raw: str | None = None
    rating_count_raw: str | None = None
    enrolment_raw: str | None = None
    status_raw: str | None = None
    page_defects: list[str] = Field(
        default_factory=list, description="Defects of the page the record came from (e.g. invalid JSON-LD block)"
    )
    payload: dict[str, Any] = Field(default_factory=dict, description="The source's whole record")


class Price(BaseModel):
    amount: float | None = None
    currency: str | None = Field(default=None, description="ISO 4217")
    cost_type: str | None = Field(default=None, description="CTDL costType: Tuition, AggregateCost, StandaloneAssessment ...")


class Offering(BaseModel):
    """One listing of a credential or learning opportunity, mapped onto the taxonomy."""

    offering_id: str = Field(description="Stable id: hash of source + source_key")
    source: str
    source_key: str
    url: str | None = None
    run_id: str
    fetched_at: datetime
    record_kind: str = Field(description="credential | learning_opportunity | assessment")
    title: str
    description: str | None = Field(default=None, description="Plain text, no markup")
    learning_outcomes: list[str] = Field(default_factory=list)
    awarding_body: str | None = None
    platform: str | None = None
    provider_kind: str | None = Field(default=None, description="Organization kind of the awarding body")
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2")
    language: str | None = Field(default=None, description="BCP 47")
    credential_type: str | None = Field(default=None, description="CTDL class, e.g. ProfessionalCertificate")
    credential_type_raw: str | None = None
    isced_codes: list[str] = Field(default_factory=list, description="ISCED-F 2013 codes, most detailed supported")
    isced_confidence: list[float] = Field(
        default_factory=list,
        description="Confidence (0-1) of each ISCED-F code, in the order of isced_codes",
    )
    subjects_raw: list[str] = Field(default_factory=list)
    subject_codes_raw: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list, description="ESCO skill URIs")
    skill_scores: list[float] = Field(
        default_factory=list, description="Match score (0-1) of each ESCO skill URI, in the order of skills"
    )
    skills_raw: list[str] = Field(default_factory=list)
    audience_level: str | None = Field(default=None, description="CTDL audienceLevel")
    level_raw: str | None = None
    eqf_level: int | None = Field(default=None, description="EQF 1-8, only from evidence")
    workload_hours_min: float | None = None
    workload_hours_max: float | None = None
    workload_raw: str | None = None
    duration_weeks_min: float | None = None
    duration_weeks_max: float | None = None
    duration_raw: str | None = None
    credits: float | None = None
    credit_unit: str | None = Field(default=None, description="CTDL creditUnit")
    ects: float | None = None
    ects_derived: bool = Field(default=False, description="True when ECTS was derived from workload hours")
    modality: str | None = Field(default=None, description="OnlineOnly | InPerson | BlendedDelivery")
    timing: str | None = Field(default=None, description="self-paced | scheduled")
    prices: list[Price] = Field(default_factory=list)
    price_amount: float | None = Field(default=None, description="The main price, in price_currency")
    price_currency: str | None = None
    price_usd: float | None = None
    is_free: bool | None = None
    free_to_audit: bool | None = None
    assessment_type: str | None = None
    quality_assurance: str | None = None
    prerequisites: str | None = None
    start_dates: list[date] = Field(default_factory=list)
    rating: float | None = None
    rating_count: int | None = None
    enrolment: int | None = None
    status: str = Field(default="active", description="active | test | retired")
    is_test: bool = False
    content_hash: str = Field(description="Hash of the mapped content, for change detection")
    eu_completeness: float = Field(description="Share of the nine EU Annex I catalog elements present (0-1)")
    mapping_notes: list[str] = Field(
        default_factory=list, description="field: reason, for each value that could not be mapped"
    )


class Credential(BaseModel):
    """The deduplicated entity: one per cluster of offerings, with surviving values."""

    credential_id: str
    title: str
    awarding_body: str | None = None
    platforms: list[str] = Field(default_factory=list)
    provider_kind: str | None = None
    country: str | None = None
    language: str | None = None
    credential_type: str | None = None
    isced_codes: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    audience_level: str | None = None
    eqf_level: int | None = None
    workload_hours_min: float | None = None
    workload_hours_max: float | None = None
    duration_weeks_min: float | None = None
    duration_weeks_max: float | None = None
    ects: float | None = None
    modality: str | None = None
    timing: str | None = None
    price_usd_min: float | None = None
    price_usd_max: float | None = None
    is_free: bool | None = None
    description: str | None = None
    n_offerings: int
    n_sources: int
    sources: list[str] = Field(default_factory=list)
    member_offering_ids: list[str] = Field(default_factory=list)
    field_sources: dict[str, str] = Field(
        default_factory=dict, description="field -> offering_id its surviving value came from"
    )


class Reject(BaseModel):
    """A raw record that could not become an Offering. Nothing is dropped silently."""

    source: str
    source_key: str | None = None
    run_id: str
    reason: str = Field(description="Reason code, e.g. missing_title, unparseable_record")
    detail: str | None = None
    payload: str = Field(description="The raw record, as JSON")


RejectReason = Literal[
    "invalid_json",
    "schema_violation",
    "missing_title",
    "missing_source_key",
    "duplicate_source_key",
]


OFFERING_ID_SEPARATOR = "\x1f"
OFFERING_ID_CHARS = 20


def offering_id(source: str, source_key: str) -> str:
    """Stable id of a listing: the same source and key give the same id on every run."""
    return hashlib.sha256(f"{source}{OFFERING_ID_SEPARATOR}{source_key}".encode()).hexdigest()[:OFFERING_ID_CHARS]


# --- Polars schemas derived from the models ---------------------------------------------------

_SCALARS: dict[Any, pl.DataType] = {
    str: pl.String(),
    int: pl.Int64(),
    float: pl.Float64(),
    bool: pl.Boolean(),
    datetime: pl.Datetime("us", "UTC"),
    date: pl.Date(),
}

# Fields held as JSON text in frames and tables (free-form nested data).
JSON_FIELDS = frozenset({"payload", "field_sources"})


def _dtype(annotation: Any) -> pl.DataType:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        if len(args) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        return _dtype(args[0])
    if origin is Literal:
        return pl.String()
    if origin is list:
        return pl.List(_dtype(args[0]))
    if origin is dict:
        return pl.String()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pl.Struct({name: _dtype(f.annotation) for name, f in annotation.model_fields.items()})
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    raise TypeError(f"no Polars type for {annotation!r}")


def polars_schema(model: type[BaseModel]) -> pl.Schema:
    """The Polars schema of a model; dict fields become JSON strings."""
    return pl.Schema({name: _dtype(f.annotation) for name, f in model.model_fields.items()})


RAW_SCHEMA = polars_schema(RawOffering)
OFFERING_SCHEMA = polars_schema(Offering)
CREDENTIAL_SCHEMA = polars_schema(Credential)
REJECT_SCHEMA = polars_schema(Reject)

# The dedup result: one row per offering.
LINK_SCHEMA = pl.Schema(
    {"offering_id": pl.String(), "credential_id": pl.String(), "match_score": pl.Float64()}
)
