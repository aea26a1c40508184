"""Table-driven tests of the column expressions (normalize/expressions.py)."""

from __future__ import annotations

import re
from datetime import date

import isodate
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalize import expressions as ex


def apply(expr_fn, values: list[str | None]) -> list:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return frame.select(expr_fn(pl.col("v")).alias("out"))["out"].to_list()


def one(expr_fn, value: str | None):
    return apply(expr_fn, [value])[0]


# --- text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>Hello <b>world</b></p>", "Hello world"),
        ("<p>Intro</p><script>alert('x')</script><p>More</p>", "Intro More"),
        ("<style>p { color: red }</style>Body text", "Body text"),
        ("Fish &amp; Chips &mdash; &#8220;fresh&#8221;", "Fish & Chips — “fresh”"),
        ("A&nbsp;B", "A B"),
        ("&lt;b&gt;escaped twice&lt;/b&gt;", "escaped twice"),
        ("<!-- hidden --><div>shown</div>", "shown"),
        ("Before<script>steal(document.cookie)", "Before"),  # unclosed: the parser drops the rest
        ("<div onclick=\"x()\">Click</div><img src=x onerror=alert(1)>", "Click"),
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
        ("no markup at all", "no markup at all"),
        ("<p>   </p>", None),
        (None, None),
    ],
)
def test_clean_text_strips_markup(html, expected):
    assert one(ex.clean_text, html) == expected


def test_clean_text_multiline_keeps_block_structure():
    out = one(lambda e: ex.clean_text(e, multiline=True), "<p>First</p><ul><li>a</li><li>b</li></ul>")
    assert out == "First\n\na\nb"


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("Â·", "·"),
        ("itâ€™s", "it’s"),
        ("cafÃ© au lait", "café au lait"),
        ("â€œquotedâ€\x9d", "“quoted”"),
        ("Ã©tudes â€“ naÃ¯ve", "études – naïve"),
    ],
)
def test_fix_mojibake(broken, fixed):
    assert one(ex.fix_mojibake, broken) == fixed


@pytest.mark.parametrize("correct", ["café", "São Paulo", "naïve", "Zürich · Genève", "日本語", "it’s"])
def test_fix_mojibake_leaves_correct_text_alone(correct):
    assert one(ex.fix_mojibake, correct) == correct


@pytest.mark.parametrize(
    ("text", "expected"),
    [("  a \t b\n\nc  ", "a b c"), ("\u200bword\ufeff", "word"), ("   ", None), ("a\u00a0b", "a b")],
)
def test_collapse_whitespace(text, expected):
    assert one(ex.collapse_whitespace, text) == expected


def test_collapse_whitespace_keeps_paragraphs():
    out = one(lambda e: ex.collapse_whitespace(e, keep_newlines=True), "a  b\n\n\n\n c \r\nd")
    assert out == "a b\n\nc\nd"


def test_map_distinct_calls_the_function_once_per_distinct_value():
    calls: list[str] = []

    def shout(v: str) -> str:
        calls.append(v)
        return v.upper()

    out = apply(lambda e: ex.map_distinct(e, shout, pl.String()), ["a", "b", "a", None, "a"])
    assert out == ["A", "B", "A", None, "A"]
    assert sorted(calls) == ["a", "b"]


def test_map_distinct_only_if_leaves_other_values_untouched():
    out = apply(lambda e: ex.map_distinct(e, str.upper, pl.String(), only_if="x"), ["ax", "b", None])
    assert out == ["AX", "b", None]


# --- workload and duration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hours_min", "hours_max", "per_week"),
    [
        ("3-5 hours/week", 3, 5, True),
        ("3 - 5 hours per week", 3, 5, True),
        ("2–4 hrs a week", 2, 4, True),
        ("5 hours of study per week", 5, 5, True),
        ("3:00", 3, 3, True),  # edX effort: hours per week
        ("2:30", 2.5, 2.5, True),
        ("10 hours", 10, 10, False),
        ("Approx. 40 hours to complete", 40, 40, False),
        ("36 total hours", 36, 36, False),
        ("8 video hours", 8, 8, False),
        ("about 1,5 hours", 1.5, 1.5, False),
        ("ten hours", 10, 10, False),
        ("PT10H", 10, 10, False),
        ("PT1H30M", 1.5, 1.5, False),
        ("90 minutes", 1.5, 1.5, False),
        ("1 hour 30 minutes", 1.5, 1.5, False),
        ("an hour", 1, 1, False),
        ("up to 6 hours", None, 6, False),
        ("10+ hours", 10, None, False),
        ("at least 20 hours", 20, None, False),
        ("4 weeks, 3-5 hours/week", 3, 5, True),
    ],
)
def test_parse_workload(text, hours_min, hours_max, per_week):
    out = one(ex.parse_workload, text)
    assert (out["hours_min"], out["hours_max"], out["per_week"]) == (hours_min, hours_max, per_week)
    assert out["other_rate"] is False


@pytest.mark.parametrize("text", ["P4W", "6 weeks", "self-paced", "", None, "varies"])
def test_parse_workload_gives_nothing_for_lengths_and_words(text):
    out = one(ex.parse_workload, text)
    assert out["hours_min"] is None and out["hours_max"] is None


def test_parse_workload_flags_rates_other_than_weekly():
    out = one(ex.parse_workload, "2 hours a day")
    assert out["other_rate"] is True and out["per_week"] is False


@pytest.mark.parametrize(
    ("text", "weeks_min", "weeks_max"),
    [
        ("4 weeks", 4, 4),
        ("12 weeks", 12, 12),
        ("6-8 wks", 6, 8),
        ("3 - 6 Months", 13.0, 26.0),
        ("1 year", 52.0, 52.0),
        ("a year", 52.0, 52.0),
        ("two months", 8.67, 8.67),
        ("10 days", 1.43, 1.43),
        ("P6M", 26.0, 26.0),
        ("P4W", 4, 4),
        ("P1Y", 52.0, 52.0),
        ("P4Y", 208.0, 208.0),
        ("6 full weeks", 6, 6),
        ("4 weeks, 3-5 hours/week", 4, 4),
        ("at least 3 months", 13.0, None),
    ],
)
def test_parse_duration(text, weeks_min, weeks_max):
    out = one(ex.parse_duration, text)
    assert (out["weeks_min"], out["weeks_max"]) == (weeks_min, weeks_max)


@pytest.mark.parametrize("text", ["5 hours/week", "PT10H", "10 hours", "flexible", None])
def test_parse_duration_ignores_effort(text):
    out = one(ex.parse_duration, text)
    assert out == {"weeks_min": None, "weeks_max": None}


@pytest.mark.parametrize("iso", ["PT10H", "PT1H30M", "PT45M", "PT2H15M30S", "PT0.5H"])
def test_iso_time_durations_agree_with_isodate(iso):
    expected = isodate.parse_duration(iso).total_seconds() / 3600
    assert one(ex.parse_iso_duration, iso)["hours"] == pytest.approx(expected)


@pytest.mark.parametrize("iso", ["P4W", "P10D", "P2W3D"])
def test_iso_date_durations_agree_with_isodate(iso):
    expected = isodate.parse_duration(iso).total_seconds() / (7 * 24 * 3600)
    assert one(ex.parse_iso_duration, iso)["weeks"] == pytest.approx(expected)


@given(st.integers(1, 60), st.integers(0, 60))
@settings(max_examples=40, deadline=None)
def test_workload_ranges_keep_their_order(a, extra):
    out = one(ex.parse_workload, f"{a}-{a + extra} hours per week")
    assert out["hours_min"] == a and out["hours_max"] == a + extra


# --- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "currency", "free"),
    [
        ("$49", 49.0, "$", False),
        ("49.99 USD", 49.99, "USD", False),
        ("USD 1,299", 1299.0, "USD", False),
        ("€ 1.200,00", 1200.0, "€", False),
        ("1 299,00 zł", 1299.0, "zł", False),
        ("£30/month", 30.0, "£", False),
        ("Free", 0.0, None, True),
        ("Gratis!", 0.0, None, True),
        ("$0", 0.0, "$", True),
    ],
)
def test_parse_price(text, amount, currency, free):
    out = one(ex.parse_price, text)
    assert (out["amount"], out["currency_text"], out["free"]) == (amount, currency, free)


@pytest.mark.parametrize(
    ("text", "credits", "unit", "is_range"),
    [
        ("5 ECTS", 5.0, "ects", False),
        ("3", 3.0, None, False),
        ("1.5 CEUs", 1.5, "ceus", False),
        ("4 semester hours", 4.0, "semester hours", False),
        ("7,5 ECTS", 7.5, "ects", False),
        ("3-4 credits", None, "credits", True),
    ],
)
def test_parse_credits(text, credits, unit, is_range):
    out = one(ex.parse_credits, text)
    assert (out["credits"], out["unit_text"], out["is_range"]) == (credits, unit, is_range)


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("4.9stars", 4.9),
        ("4.7", 4.7),
        ("4,7", 4.7),
        ("Rated 4.5 out of 5", 4.5),
        ("9.2/10", 4.6),
        ("92%", 4.6),
        ("47", None),  # no scale stated and above 5: not a rating we can place
        ("n/a", None),
    ],
)
def test_parse_rating(text, rating):
    assert one(ex.parse_rating, text) == rating


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("43K reviews", 43_000),
        ("2.5k", 2_500),
        ("10,438", 10_438),
        ("10 438", 10_438),
        ("1,234,567 already enrolled", 1_234_567),
        ("1.2M learners", 1_200_000),
        ("500", 500),
        ("none yet", None),
    ],
)
def test_parse_count(text, count):
    assert one(ex.parse_count, text) == count


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01", date(2025, 3, 1)),
        ("2025-03-01T09:00:00Z", date(2025, 3, 1)),
        ("March 1st, 2025", date(2025, 3, 1)),
        ("1 Mar 2025", date(2025, 3, 1)),
        ("Mon, Mar 3 2025", date(2025, 3, 3)),
        ("2025/03/01", date(2025, 3, 1)),
        ("01.03.2025", date(2025, 3, 1)),
        ("25/03/2025", date(2025, 3, 25)),
        ("03/25/2025", date(2025, 3, 25)),
        ("03/04/2025", None),  # day/month ambiguous: no guess
        ("TBA", None),
    ],
)
def test_parse_date(text, expected):
    assert one(ex.parse_date, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", True), ("TRUE", True), ("Free", True), ("no", False), ("paid", False), ("maybe", None)],
)
def test_parse_bool(text, expected):
    words = {"yes": "true", "true": "true", "free": "true", "no": "false", "paid": "false"}
    assert one(lambda e: ex.parse_bool(e, words), text) is expected


# --- keys and keywords --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Professional Certificate", "professionalcertificate"),
        ("ProfessionalCertificate", "professionalcertificate"),
        ("ceterms:ProfessionalCertificate", "professionalcertificate"),
        ("https://purl.org/ctdl/terms/ProfessionalCertificate", "professionalcertificate"),
        ("professional-certificate", "professionalcertificate"),
        ("Ph.D.", "phd"),
        ("C++", "c++"),
        ("Level: Beginner", "levelbeginner"),  # a spaced colon is text, not a prefix
        ("Español", "español"),
    ],
)
def test_norm_key(text, key):
    assert one(ex.norm_key, text) == key


KEYWORDS = {
    ex.keyword_pattern(k): v
    for k, v in {"art": "021", "data science": "0688", "science": "05", "c++": "0613"}.items()
}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Data Science for All", ["0688"]),  # the longer keyword wins
        ("Smart cities", []),  # no match inside a word
        ("Art & Science", ["021", "05"]),
        ("C++ and art", ["0613", "021"]),
        ("art art", ["021", "021"]),
        (None, None),
    ],
)
def test_match_keywords_whole_words_longest_first(text, found):
    assert one(lambda e: ex.match_keywords(e, KEYWORDS), text) == found


@pytest.mark.parametrize(
    ("text", "marker"),
    [("TestCourse", "test course"), ("TESTING_TESTING", "testing testing"), ("DO NOT USE!", "do not use")],
)
def test_marker_text(text, marker):
    assert one(ex.marker_text, text) == marker


def test_no_markup_survives_clean_text_on_messy_html():
    messy = (
        '<div class="x"><h2>About</h2><p>Learn <a href="/y">things</a>.</p>'
        "<script type='text/javascript'>var a = '<b>';</script>"
        "<noscript>enable js</noscript><br/>Done &amp; dusted</div>"
    )
    out = one(lambda e: ex.clean_text(e, multiline=True), messy)
    assert not re.search(r"<[a-zA-Z/!]", out)
    assert "var a" not in out
    assert "Done & dusted" in out
