"""The figures behind the drift checks and the UI metadata (pipelines/quality.py)."""

from __future__ import annotations

import polars as pl

from pipelines import quality
from pipelines.failures import step_assets


def offerings(**cols) -> pl.DataFrame:
    return pl.DataFrame(cols)


def test_coverage_counts_values_and_non_empty_lists_leaving_out_test_records() -> None:
    frame = offerings(
        offering_id=["a", "b", "c", "d"],
        credential_type=["Certificate", None, "Badge", "Badge"],
        skills=[["x"], [], ["y"], []],
        is_test=[False, False, False, True],
    )
    cover = quality.coverage(frame, fields=("credential_type", "skills", "not_a_column"))
    assert cover == {"credential_type": 66.7, "skills": 66.7}


def test_notes_parse_into_field_and_value() -> None:
    assert quality.parse_note("credit_unit: unmapped 'Units'") == ("credit_unit", "Units")
    assert quality.parse_note("skills: 3 not mapped to ESCO (kept in skills_raw)") == \
        ("skills", "N not mapped to ESCO (kept in skills_raw)")
    assert quality.parse_note("no colon here") == ("other", "no colon here")


def test_top_unmapped_values_are_counted_across_offerings() -> None:
    frame = offerings(mapping_notes=[["credit_unit: unmapped 'Units'", "prices: unknown currency in 'Â€49'"],
                                     ["credit_unit: unmapped 'Units'"], []])
    assert quality.unmapped_values(frame) == [
        {"field": "credit_unit", "value": "Units", "count": 2},
        {"field": "prices", "value": "Â€49", "count": 1},
    ]
    assert quality.unmapped_by_field(frame) == {"credit_unit": 2, "prices": 1}


def test_shrink_warns_beyond_thirty_percent_only_with_a_baseline() -> None:
    assert quality.shrink(None, 5)["passed"]
    assert quality.shrink(100, 70)["passed"]
    result = quality.shrink(100, 69)
    assert not result["passed"] and result["change_pct"] == -31.0


def test_coverage_drops_and_overlap_changes_use_points() -> None:
    assert quality.coverage_drops({"a": 80.0, "b": 50.0}, {"a": 69.9, "b": 45.0}) == \
        {"a": {"previous": 80.0, "current": 69.9}}
    assert quality.overlap_changes({"s": 20.0, "t": 5.0, "gone": 9.0}, {"s": 31.0, "t": 14.0}) == \
        {"s": {"previous": 20.0, "current": 31.0}}


def test_schema_problems_name_missing_extra_and_retyped_columns() -> None:
    expected = pl.Schema({"a": pl.String(), "b": pl.Int64()})
    frame = pl.DataFrame({"a": [1], "c": ["x"]})
    assert quality.schema_problems(frame, expected, "f") == [
        "f: a is Int64, expected String", "f: missing column b", "f: unexpected column c"]


def test_dedup_figures_share_of_offerings_listed_elsewhere() -> None:
    offers = offerings(offering_id=["1", "2", "3", "4"], source=["s", "t", "s", "t"])
    links = offerings(offering_id=["1", "2", "3", "4"], credential_id=["A", "A", "B", "C"])
    figures = quality.dedup_figures(offers, links)
    assert figures["credentials"] == 3 and figures["multi_source_credentials"] == 1
    assert figures["offerings_merged"] == 1
    assert figures["overlap_pct"] == {"s": 50.0, "t": 50.0}


def test_failed_steps_map_to_assets_and_sources() -> None:
    assert step_assets(["staging__acme_drop", "raw__b_c", "marts_build"]) == \
        (["marts/warehouse", "raw/b_c", "staging/acme_drop"], ["acme_drop", "b_c"])


def test_one_link_per_offering_holds_only_for_equal_unique_key_sets():
    from pipelines.quality import one_link_per_offering

    offerings = pl.DataFrame({"offering_id": ["a:1", "a:2", "b:1"]})
    links = pl.DataFrame({"offering_id": ["b:1", "a:1", "a:2"]})
    assert one_link_per_offering(links, offerings)
    assert not one_link_per_offering(links.head(2), offerings)  # an offering without a link
    assert not one_link_per_offering(links.with_columns(offering_id=pl.Series(["b:1", "a:1", "c:9"])), offerings)
    assert not one_link_per_offering(links.with_columns(offering_id=pl.Series(["b:1", "a:1", "a:1"])), offerings)
    # duplicate offering ids with a link set of the same size that differs
    assert not one_link_per_offering(links, pl.DataFrame({"offering_id": ["a:1", "a:1", "b:1"]}))
    empty = pl.DataFrame(schema={"offering_id": pl.String})
    assert one_link_per_offering(empty, empty)
