"""Golden records: the awarding body's own listing wins, every value names its source."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest
from dedup_fixtures import offerings

from normalize.dedup import build_credentials, default_settings
from normalize.schema import CREDENTIAL_SCHEMA, Credential


def one_credential(rows: list[dict], **settings_changes) -> tuple[pl.DataFrame, dict]:  # type: ignore[type-arg]
    frame = offerings(rows)
    links = frame.select("offering_id", credential_id=pl.lit("cred-x"), match_score=pl.lit(0.99))
    settings = default_settings()
    if settings_changes:
        from dataclasses import replace

        settings = replace(settings, **settings_changes)
    credentials = build_credentials(frame, links, settings)
    assert credentials.height == 1
    return frame, credentials.row(0, named=True)


OWN = {
    "source": "northfield_university", "source_key": "ml", "title": "Machine Learning",
    "awarding_body": "Northfield University", "platform": None, "language": "en",
    "workload_hours_min": 40.0, "price_usd": 450.0,
    "fetched_at": datetime(2026, 1, 1, tzinfo=UTC),
}
PLATFORM = {
    "source": "opencourse_api", "source_key": "c-1", "title": "NorthfieldX: Machine Learning Specialization",
    "awarding_body": "NorthfieldX", "platform": "OpenCourse", "language": "en", "credential_type": "MicroCredential",
    "description": "Learn machine learning.", "workload_hours_min": 30.0, "workload_hours_max": 50.0,
    "duration_weeks_min": 8.0, "price_usd": 399.0, "modality": "OnlineOnly",
    "fetched_at": datetime(2026, 3, 1, tzinfo=UTC),
}
REGISTRY = {
    "source": "credential_registry", "source_key": "ce-1", "title": "MACHINE LEARNING",
    "awarding_body": "Northfield University", "platform": "Credential Registry", "credential_type": "Certificate",
    "isced_codes": ["0542"], "price_usd": 455.0, "fetched_at": datetime(2026, 2, 1, tzinfo=UTC),
}


def test_awarding_body_listing_wins_and_gaps_fill_from_the_next_best() -> None:
    frame, credential = one_credential([PLATFORM, OWN, REGISTRY])
    ids = dict(zip(frame["source"], frame["offering_id"], strict=True))
    sources = json.loads(credential["field_sources"])
    assert credential["title"] == "Machine Learning"
    assert sources["title"] == ids["northfield_university"]
    assert credential["awarding_body"] == "Northfield University"
    # The own listing has no type or description: the next best member fills them (the
    # platform listing, which holds more fields than the registry's).
    assert sources["credential_type"] == ids["opencourse_api"]
    assert credential["description"] == "Learn machine learning."
    # Workload min/max survive together from one listing, never stitched.
    assert (credential["workload_hours_min"], credential["workload_hours_max"]) == (40.0, None)
    assert sources["workload_hours_min"] == sources["workload_hours_max"] == ids["northfield_university"]
    assert credential["isced_codes"] == ["0542"]
    assert sources["isced_codes"] == ids["credential_registry"]
    # Fields no member has are absent from field_sources.
    assert "eqf_level" not in sources and credential["eqf_level"] is None


def test_aggregates_span_all_members() -> None:
    frame, credential = one_credential([PLATFORM, OWN, REGISTRY])
    assert credential["n_offerings"] == 3
    assert credential["n_sources"] == 3
    assert credential["sources"] == ["credential_registry", "northfield_university", "opencourse_api"]
    assert credential["platforms"] == ["Credential Registry", "OpenCourse"]
    assert credential["member_offering_ids"] == sorted(frame["offering_id"].to_list())
    assert (credential["price_usd_min"], credential["price_usd_max"]) == (399.0, 455.0)


def test_platform_that_is_the_awarding_body_counts_as_own_listing() -> None:
    own_site = {**OWN, "platform": "Northfield University", "source": "nf_site"}
    _, credential = one_credential([PLATFORM, own_site])
    assert credential["title"] == "Machine Learning"


def test_without_an_own_listing_the_most_complete_then_newest_wins() -> None:
    newer_sparse = {**REGISTRY, "isced_codes": [], "credential_type": None, "fetched_at": datetime(2026, 6, 1, tzinfo=UTC)}
    _, credential = one_credential([newer_sparse, PLATFORM])
    assert credential["title"] == PLATFORM["title"]
    equal = {**PLATFORM, "source": "other", "title": "Machine Learning (newer)", "fetched_at": datetime(2026, 9, 1, tzinfo=UTC)}
    _, credential = one_credential([PLATFORM, equal])
    assert credential["title"] == "Machine Learning (newer)"


def test_registered_source_kind_makes_a_listing_own() -> None:
    _, credential = one_credential(
        [PLATFORM, REGISTRY], source_kinds={"credential_registry": "university"}
    )
    assert credential["title"] == "MACHINE LEARNING"


def test_frame_matches_the_schema_and_the_model() -> None:
    frame = offerings([OWN, PLATFORM, {**REGISTRY, "title": "Contract Law"}])
    links = frame.select(
        "offering_id",
        credential_id=pl.when(pl.col("title") == "Contract Law").then(pl.lit("cred-b")).otherwise(pl.lit("cred-a")),
        match_score=pl.lit(None, dtype=pl.Float64),
    )
    credentials = build_credentials(frame, links)
    assert credentials.schema == CREDENTIAL_SCHEMA
    assert credentials["credential_id"].to_list() == ["cred-a", "cred-b"]
    for row in credentials.iter_rows(named=True):
        Credential.model_validate({**row, "field_sources": json.loads(row["field_sources"])})



def test_golden_records_refuse_a_linked_offering_missing_or_repeated() -> None:
    """A repeated offering_id would leave the winner between its rows to the sort; a missing one
    would drop its credential: both are refused with a clear error."""
    frame = offerings([OWN, PLATFORM])
    links = frame.select("offering_id", credential_id=pl.lit("cred-x"), match_score=pl.lit(0.99))
    assert build_credentials(frame, links).height == 1
    repeated = pl.concat([frame, frame.head(1).with_columns(title=pl.lit("Another title"))])
    with pytest.raises(ValueError, match="exactly once"):
        build_credentials(repeated, links)
    with pytest.raises(ValueError, match="exactly once"):
        build_credentials(frame.head(1), links)


def test_a_one_member_credential_gets_the_same_row_by_projection_and_by_group_by() -> None:
    """golden_records tells one-member credentials by the ids' 64-bit hashes: a collision sends
    them through the group-by instead of the projection, which must give the very same rows."""
    from normalize.dedup import survivorship

    settings = default_settings()
    rules, text = settings.survivorship, settings.text
    frame = offerings([OWN, PLATFORM, REGISTRY, {**OWN, "source_key": "empty", "title": "Bare", "language": None,
                                                  "workload_hours_min": None, "price_usd": None}])
    links = frame.select("offering_id", credential_id=pl.format("cred-{}", pl.int_range(pl.len())),
                         match_score=pl.lit(None, dtype=pl.Float64))
    every = survivorship.members(frame, links, rules, text).collect()
    order, descending = survivorship.rank_order(rules)
    projected = survivorship.singletons(every.lazy(), rules).sort("credential_id")
    grouped = survivorship.aggregate(every.sort(order, descending=descending, nulls_last=True).lazy(), rules)
    assert projected.height == 4
    assert projected.equals(grouped)
