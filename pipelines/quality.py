"""Data quality figures the asset checks and the UI use: schemas, field coverage, unmapped
values, dedup overlap, and drift against an earlier run.

Pure functions over frames and plain dicts, so the checks are tested without Dagster; the
previous run's figures are read from the asset's earlier materializations (``previous_figures``).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import polars as pl

from normalize.keys import same_unique_keys

# Fields normalization maps onto the taxonomy (or cleans): coverage = share of offerings with a
# value. A drop of a field's coverage is how a changed page template or a broken parser shows.
COVERAGE_FIELDS: tuple[str, ...] = (
    "description", "awarding_body", "credential_type", "isced_codes", "skills", "audience_level",
    "eqf_level", "language", "country", "workload_hours_min", "duration_weeks_min", "credits",
    "ects", "modality", "timing", "price_amount", "is_free", "assessment_type", "start_dates",
    "learning_outcomes", "rating",
)

SHRINK_LIMIT = 0.30          # offerings down more than 30% against the last complete run
COVERAGE_DROP_POINTS = 10.0  # a field's coverage down more than 10 percentage points
OVERLAP_CHANGE_POINTS = 10.0  # a source's share of offerings listed elsewhere too, +/- 10 points

_NOTE = re.compile(r"^(?P<field>[a-z_]+):\s*(?P<reason>.*?)(?:\s*'(?P<value>.*)')?\s*$", re.S)
_DIGITS = re.compile(r"\d+")


def schema_problems(frame: pl.DataFrame, expected: pl.Schema, name: str) -> list[str]:
    """Differences between a frame's schema and the contract (missing, extra, retyped columns)."""
    problems: list[str] = []
    actual = frame.schema
    for col, dtype in expected.items():
        if col not in actual:
            problems.append(f"{name}: missing column {col}")
        elif actual[col] != dtype:
            problems.append(f"{name}: {col} is {actual[col]}, expected {dtype}")
    problems += [f"{name}: unexpected column {c}" for c in actual if c not in expected]
    return problems


def coverage(offerings: pl.DataFrame, fields: tuple[str, ...] = COVERAGE_FIELDS) -> dict[str, float]:
    """Per field, the percentage (0-100, one decimal) of offerings with a value.

    Test records are left out when there are others; a list counts when it is not empty.
    """
    frame = offerings
    if "is_test" in frame.columns and frame.height and not frame["is_test"].all():
        frame = frame.filter(~pl.col("is_test"))
    if frame.height == 0:
        return {}
    out: dict[str, float] = {}
    for f in fields:
        if f not in frame.columns:
            continue
        col = pl.col(f)
        present = col.list.len() > 0 if isinstance(frame.schema[f], pl.List) else col.is_not_null()
        n = frame.select(present.fill_null(False).sum()).item()
        out[f] = round(100.0 * n / frame.height, 1)
    return out


def parse_note(note: str) -> tuple[str, str]:
    """A mapping note ("field: reason 'value'") as (field, value); without a quoted value the
    reason stands for it, its numbers replaced by N so equal reasons count together."""
    m = _NOTE.match(note)
    if not m:
        return "other", note
    value = m.group("value")
    return m.group("field"), value if value is not None else _DIGITS.sub("N", m.group("reason"))


def unmapped_values(offerings: pl.DataFrame, top: int = 10) -> list[dict[str, Any]]:
    """The most frequent values normalization could not map: [{field, value, count}], by count."""
    if "mapping_notes" not in offerings.columns or offerings.height == 0:
        return []
    notes = offerings.select(pl.col("mapping_notes").explode().drop_nulls()).to_series().to_list()
    counts = Counter(parse_note(n) for n in notes)
    return [{"field": f, "value": v, "count": c}
            for (f, v), c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def unmapped_by_field(offerings: pl.DataFrame) -> dict[str, int]:
    """How many mapping notes each field has (all values)."""
    if "mapping_notes" not in offerings.columns or offerings.height == 0:
        return {}
    notes = offerings.select(pl.col("mapping_notes").explode().drop_nulls()).to_series().to_list()
    counts = Counter(parse_note(n)[0] for n in notes)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def one_link_per_offering(links: pl.DataFrame, offerings: pl.DataFrame) -> bool:
    """Exactly one link per offering: as many links as offerings, each offering_id once on both
    sides, and every link's offering_id among the offerings' (so the two key sets are equal);
    no null offering_id."""
    return same_unique_keys(links["offering_id"], offerings["offering_id"])


def dedup_figures(offerings: pl.DataFrame, links: pl.DataFrame) -> dict[str, Any]:
    """Dedup figures for the UI: credentials, clusters with several offerings, offerings merged,
    and per source the share (0-100) of its offerings whose credential another source lists too."""
    joined = offerings.select("offering_id", "source").join(
        links.select("offering_id", "credential_id"), on="offering_id", how="inner")
    if joined.height == 0:
        return {"credentials": 0, "multi_offering_credentials": 0, "multi_source_credentials": 0,
                "offerings_merged": 0, "overlap_pct": {}}
    per_cred = joined.group_by("credential_id").agg(
        pl.len().alias("n"), pl.col("source").n_unique().alias("n_sources"))
    multi_source = per_cred.filter(pl.col("n_sources") > 1)["credential_id"]
    overlap = (joined.with_columns(pl.col("credential_id").is_in(multi_source.implode()).alias("shared"))
               .group_by("source").agg(pl.col("shared").mean().alias("share")).sort("source"))
    return {
        "credentials": per_cred.height,
        "multi_offering_credentials": int((per_cred["n"] > 1).sum()),
        "multi_source_credentials": multi_source.len(),
        "offerings_merged": int(joined.height - per_cred.height),
        "overlap_pct": {s: round(100.0 * v, 1) for s, v in overlap.iter_rows()},
    }


def shrink(previous: int | None, current: int, limit: float = SHRINK_LIMIT) -> dict[str, Any]:
    """Whether ``current`` offerings fell more than ``limit`` below ``previous`` (None: no baseline)."""
    if not previous:
        return {"passed": True, "previous": previous, "current": current, "change_pct": None}
    change = (current - previous) / previous
    return {"passed": change >= -limit, "previous": previous, "current": current,
            "change_pct": round(100.0 * change, 1)}


def coverage_drops(previous: dict[str, float] | None, current: dict[str, float],
                   points: float = COVERAGE_DROP_POINTS) -> dict[str, dict[str, float]]:
    """Fields whose coverage fell more than ``points`` percentage points: {field: {previous, current}}."""
    out: dict[str, dict[str, float]] = {}
    for f, before in (previous or {}).items():
        now = current.get(f, 0.0)
        if before - now > points:
            out[f] = {"previous": before, "current": now}
    return out


def overlap_changes(previous: dict[str, float] | None, current: dict[str, float],
                    points: float = OVERLAP_CHANGE_POINTS) -> dict[str, dict[str, float]]:
    """Sources whose overlap share moved more than ``points`` either way (sources in both runs)."""
    out: dict[str, dict[str, float]] = {}
    for s, before in (previous or {}).items():
        if s in current and abs(current[s] - before) > points:
            out[s] = {"previous": before, "current": current[s]}
    return out


def metadata_values(metadata: dict[str, Any]) -> dict[str, Any]:
    """Plain values of a Dagster metadata mapping (MetadataValue -> its value)."""
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def previous_figures(instance: Any, asset_key: Any, exclude_run_id: str | None = None,
                     require: str | None = None, limit: int = 50) -> dict[str, Any] | None:
    """The metadata of the asset's latest earlier materialization (not of ``exclude_run_id``),
    optionally the latest whose metadata flag ``require`` is true (e.g. a complete crawl)."""
    result = instance.fetch_materializations(asset_key, limit=limit)
    for record in result.records:
        if exclude_run_id and record.run_id == exclude_run_id:
            continue
        mat = record.asset_materialization
        if mat is None:
            continue
        values = metadata_values(dict(mat.metadata))
        if require and not values.get(require):
            continue
        return values
    return None
