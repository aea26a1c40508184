"""The normalizer on hostile raw records (hypothesis) and on a fixed zoo of the worst values.

What must hold for any input: normalization never raises; every raw record becomes exactly
one offering or one reject; every reject carries a known reason code; no text an offering
carries (cleaned fields, raw copies, mapping notes) holds markup, control or bidi characters;
a URL is http(s) or null; every number is finite and none is negative. And for the zoo: a
minus sign, exponent notation, an absurd magnitude or a date out of range never becomes a
value, and each refused value leaves a mapping note.
"""

from __future__ import annotations

import math
import re
import typing
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from normalize.schema import RAW_SCHEMA, RejectReason
from normalize.transforms import normalize
from tests.reliability.hostile import (
    MARKUP,
    SPECIAL,
    control_in,
    hostile_text,
    markup_in,
    offending_cells,
    script_url,
)

FETCHED = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
REASONS = set(typing.get_args(RejectReason))
FIXED = {"source", "run_id", "fetched_at", "payload", "source_key"}
HTTP = re.compile(r"https?://\S+$", re.IGNORECASE)
TEXT_FIELDS = [n for n, t in RAW_SCHEMA.items() if t == pl.String and n not in FIXED]
LIST_FIELDS = [n for n, t in RAW_SCHEMA.items() if t == pl.List(pl.String)]
# Text the normalizer cleans (markup removed, entities decoded, whitespace collapsed).
CLEANED = ["title", "description", "awarding_body", "platform", "prerequisites", "assessment_type",
           "quality_assurance", "learning_outcomes"]
NUMERIC = ["workload_hours_min", "workload_hours_max", "duration_weeks_min", "duration_weeks_max", "credits",
           "ects", "price_amount", "price_usd", "rating", "rating_count", "enrolment", "eqf_level",
           "eu_completeness"]
# One normalize call costs about a second (plan building), so few examples and no shrinking:
# a failure reports the generated frame as it was.
SLOW = settings(max_examples=12, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def raw_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 30))
    maybe = st.one_of(st.none(), hostile_text())
    rows = []
    for i in range(n):
        # run_id passes through untouched: it ties each offering to its raw row.
        row: dict[str, Any] = {"source": "hostile", "run_id": f"r{i}", "fetched_at": FETCHED, "payload": "{}"}
        row["source_key"] = draw(st.one_of(st.just(f"k{i}"), st.just(f"k{i}"), maybe))
        for name in TEXT_FIELDS:
            row[name] = draw(maybe)
        for name in LIST_FIELDS:
            row[name] = draw(st.lists(hostile_text(), max_size=3))
        row["prices"] = draw(st.lists(st.fixed_dictionaries(
            {"text": maybe, "amount": maybe, "currency": maybe, "label": maybe}), max_size=3))
        rows.append(row)
    return rows


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RAW_SCHEMA)


@pytest.mark.slow
@SLOW
@given(rows=raw_rows())
def test_hostile_records_never_crash_and_all_are_accounted_for(rows):
    result = normalize(frame(rows).lazy())
    offerings, rejects = result.offerings, result.rejects
    assert offerings.height + rejects.height == len(rows)  # nothing lost, nothing invented
    assert set(rejects["reason"].to_list()) <= REASONS
    assert rejects["reason"].null_count() == 0 and rejects["payload"].null_count() == 0
    assert offerings["offering_id"].n_unique() == offerings.height
    for col in NUMERIC:
        values = [v for v in offerings[col].to_list() if v is not None]
        assert all(math.isfinite(v) for v in values), (col, values)
        assert all(v >= 0 for v in values), (col, values)  # no quantity is negative
    # Text: no markup and no control or bidi character anywhere, whatever the raw value held.
    # source_key is the source's identifier, kept as given (whitespace and controls aside).
    records = offerings.to_dicts()
    text_cols = [c for c, t in offerings.schema.items() if t in (pl.String, pl.List(pl.String))]
    assert offending_cells(records, [c for c in text_cols if c != "source_key"], markup_in) == []
    assert offending_cells(records, text_cols, control_in) == []
    assert [u for u in offerings["url"].drop_nulls().to_list() if not HTTP.match(u)] == []


# --- a fixed zoo of the worst values: one record per value and field --------------------------------------

ZOO = MARKUP + SPECIAL


def zoo_rows() -> list[dict[str, Any]]:
    rows = []
    for i, value in enumerate(ZOO):
        row: dict[str, Any] = {"source": "hostile", "run_id": "r1", "fetched_at": FETCHED, "payload": "{}",
                               "source_key": f"z{i}", "title": f"Course {i} {value}"}
        for name in TEXT_FIELDS:
            row.setdefault(name, value)
        for name in LIST_FIELDS:
            row[name] = [value]
        row["prices"] = [{"text": value, "amount": value, "currency": value, "label": value}]
        row["url"] = value if value.startswith("java") else f"https://example.edu/{i}"
        rows.append(row)
    rows.append({"source": "hostile", "run_id": "r1", "fetched_at": FETCHED, "payload": "{}", "source_key": "js",
                 "title": "Linked", "url": "javascript:alert(document.cookie)"})
    return rows


@pytest.fixture(scope="module")
def zoo() -> pl.DataFrame:
    result = normalize(frame(zoo_rows()).lazy())
    assert result.offerings.height + result.rejects.height == len(zoo_rows())
    return result.offerings


def test_zoo_cleaned_text_has_no_markup_and_numbers_are_finite(zoo):
    records = zoo.to_dicts()
    assert offending_cells(records, CLEANED, markup_in) == []
    for col in NUMERIC:
        assert all(math.isfinite(v) for v in zoo[col].drop_nulls().to_list()), col


KEPT_RAW = ["credential_type_raw", "level_raw", "workload_raw", "duration_raw", "subjects_raw", "subject_codes_raw",
            "skills_raw", "mapping_notes"]


def test_no_markup_in_any_text_an_offering_carries(zoo):
    text_cols = [c for c, t in zoo.schema.items() if t == pl.String or t == pl.List(pl.String)]
    assert offending_cells(zoo.to_dicts(), text_cols, markup_in) == []


def test_urls_are_http_or_null(zoo):
    bad = [u for u in zoo["url"].drop_nulls().to_list() if script_url(u)]
    assert bad == []


def test_no_control_characters_in_text(zoo):
    text_cols = [c for c, t in zoo.schema.items() if t == pl.String or t == pl.List(pl.String)]
    assert offending_cells(zoo.to_dicts(), text_cols, control_in) == []


def _one(**fields: Any) -> dict[str, Any]:
    row = {"source": "hostile", "run_id": "r1", "fetched_at": FETCHED, "payload": "{}", "source_key": "k",
           "title": "A course", **fields}
    result = normalize(frame([row]).lazy())
    assert result.offerings.height == 1, result.rejects.to_dicts()
    return result.offerings.row(0, named=True)


def test_a_negative_quantity_never_becomes_a_positive_one():
    o = _one(prices=[{"amount": "-50", "currency": "USD"}], duration_raw="-5 weeks", workload_raw="-10 hours",
             rating_raw="-3", rating_count_raw="-100")
    assert o["price_amount"] is None
    assert o["duration_weeks_min"] is None and o["workload_hours_min"] is None
    assert o["rating"] is None and o["rating_count"] is None


def test_absurd_magnitudes_are_refused():
    o = _one(prices=[{"amount": "1e308", "currency": "USD"}], credits_raw="1e400", credit_unit_raw="ECTS",
             duration_raw="99999999999 years", workload_raw="1e30 hours per week", enrolment_raw="1e400")
    assert o["price_amount"] is None and o["credits"] is None and o["enrolment"] is None
    assert o["duration_weeks_max"] is None and o["workload_hours_max"] is None


def test_dates_out_of_range_are_dropped_with_a_note():
    o = _one(start_dates_raw=["1800-01-01", "99999-12-31", "2027-09-01"])
    assert o["start_dates"] == [date(2027, 9, 1)]
    assert any("out of range" in n for n in o["mapping_notes"])


def test_escaped_markup_beside_a_control_character():
    o = _one(description="\U000dc8c0&lt;script&gt;alert(1)&lt;/script&gt;\x14",
             awarding_body="\U000dc8c0&lt;b onclick=x()&gt;Acme&lt;/b&gt;\x01")
    assert markup_in(o["description"] or "") is None and markup_in(o["awarding_body"] or "") is None


def test_bounds_keep_the_limit_and_refuse_beyond_it_with_a_note():
    at = _one(prices=[{"amount": "10000000", "currency": "USD"}], credits_raw="600", duration_raw="520 weeks",
              workload_raw="20000 hours", enrolment_raw="1000000000", start_dates_raw=["1900-01-01", "2100-12-31"])
    assert (at["price_amount"], at["credits"], at["duration_weeks_max"], at["workload_hours_max"], at["enrolment"]) == (
        1e7, 600, 520, 20000, 10**9)
    assert at["start_dates"] == [date(1900, 1, 1), date(2100, 12, 31)]
    assert not any("out of range" in n for n in at["mapping_notes"])
    beyond = _one(prices=[{"amount": "10000001", "currency": "USD"}], credits_raw="601", duration_raw="521 weeks",
                  workload_raw="20001 hours", enrolment_raw="1000000001", start_dates_raw=["1899-12-31"])
    assert (beyond["price_amount"], beyond["credits"], beyond["duration_weeks_max"], beyond["workload_hours_max"],
            beyond["enrolment"], beyond["start_dates"]) == (None, None, None, None, None, [])
    out = sorted(n for n in beyond["mapping_notes"] if "out of range" in n)
    assert out == ["credits: out of range '601'", "duration_weeks: out of range '521 weeks'",
                   "enrolment: out of range '1000000001'", "prices: out of range '10000001 USD'",
                   "start_dates: out of range '1899-12-31'", "workload_hours: out of range '20001 hours'"]


def test_a_price_limit_follows_its_currency():
    """10 million in USD, or in units of the currency where a unit is worth less: a course fee
    of Rp 15.000.000 (about 930 USD) is a price, not an error."""
    o = _one(prices=[{"amount": "15000000", "currency": "IDR"}])
    assert (o["price_amount"], o["price_currency"]) == (15_000_000, "IDR")


def test_refused_values_leave_notes_that_quote_them_safely():
    o = _one(url="javascript:alert(document.cookie)", level_raw="<script>alert(1)</script>",
             subjects=["<b>Math</b>", "<i></i>"], status_raw="<b>Gone</b>\x07", skills=["<script>x</script>", "Python"])
    assert o["url"] is None and o["level_raw"] is None
    assert o["subjects_raw"] == ["Math"] and o["skills_raw"] == ["Python"]
    notes = o["mapping_notes"]
    assert "url: not http(s) 'javascript:alert(document.cookie)'" in notes
    assert "level_raw: only markup, removed" in notes
    assert "subjects_raw: entries without text removed" in notes and "skills_raw: entries without text removed" in notes
    assert "status: unmapped 'Gone'" in notes


def test_urls_with_spaces_or_brackets_are_percent_encoded():
    assert _one(url=" https://example.edu/a b<c>\"d ")["url"] == "https://example.edu/a%20b%3Cc%3E%22d"
    assert _one(url="HTTP://Example.edu/x")["url"] == "HTTP://Example.edu/x"
    assert _one(url="//example.edu/x")["url"] is None
