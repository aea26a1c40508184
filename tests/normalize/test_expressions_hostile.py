"""The expressions' rules for hostile values (normalize/expressions.py): control and bidi
characters, escaped markup the HTML parser refuses, values sanitized for quoting, negative
figures and exponent notation."""

from __future__ import annotations

import re

import polars as pl
import pytest

from normalize import expressions as ex


def apply(expr_fn, values: list[str | None]) -> list:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return frame.select(expr_fn(pl.col("v")).alias("out"))["out"].to_list()


def one(expr_fn, value: str | None):
    return apply(expr_fn, [value])[0]


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
TAG = re.compile(r"<[A-Za-z!/?][^>]*>")


# --- control and bidi characters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\x00b\x1bc", "abc"),
        ("\x1b[31mred\x1b[0m", "[31mred[0m"),  # the escape goes, the printable rest is text
        ("\u202eevil\u202c", "evil"),
        ("\u2066iso\u2069", "iso"),
        ("x\x0by\x0cz", "x y z"),  # vertical tab and form feed are whitespace
        ("next\x85line", "next line"),  # NEL is whitespace
        ("bell\x07", "bell"),
        ("c1\x9dcontrol", "c1control"),
        ("\x7f", None),
        ("\x01\x02\x03", None),
        ("keep\ttabs and\nlines", "keep tabs and lines"),
        ("naïve café → ok", "naïve café → ok"),
    ],
)
def test_collapse_whitespace_removes_control_and_bidi_characters(text, expected):
    assert one(ex.collapse_whitespace, text) == expected


def test_collapse_whitespace_keeps_paragraphs_without_controls():
    out = one(lambda e: ex.collapse_whitespace(e, keep_newlines=True), "a\x00\n\n\x1bb\u202e\tc")
    assert out == "a\n\nb c"


def test_invisible_is_one_character_class():
    """One replace_all removes them all: the pass collapse_whitespace always made."""
    assert re.fullmatch(r"\[[^\[\]]+\]", ex.INVISIBLE)


# --- escaped markup and the HTML parser ---------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "\U000dc8c0&lt;script&gt;alert(1)&lt;/script&gt;\x14",  # lxml refused the decoded text
        "\U000dc8c0&lt;b onclick=x()&gt;Acme&lt;/b&gt;\x01",
        "&lt;b&gt;&amp;lt;i&amp;gt;deep&amp;lt;/i&amp;gt;&lt;/b&gt;",  # escaped three times
        "\x00&#60;script&#62;alert(1)&#60;/script&#62;",
        "<!-- c --><![CDATA[x]]>&lt;svg/onload=alert(1)&gt;",
    ],
)
def test_clean_text_never_decodes_escaped_markup_into_markup(value):
    out = one(ex.clean_text, value) or ""
    assert not TAG.search(out), out
    assert not CONTROL.search(out), out
    assert "alert" not in out


def test_clean_text_keeps_the_text_beside_escaped_markup_and_controls():
    assert one(ex.clean_text, "\x01&lt;b&gt;Acme&lt;/b&gt; Corp\x14") == "Acme Corp"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("&lt;script&gt;alert(1)&lt;/script&gt;Text", "Text"),  # decoded first, then removed
        ("&amp;lt;b&amp;gt;Bold&amp;lt;/b&amp;gt;", "Bold"),  # until no tag is left
        ("<style>p{}</style>Styled", "Styled"),
        ("<script>unclosed", ""),
        ("a < b and c > d", "a < b and c > d"),  # not tags
    ],
)
def test_the_fallback_decodes_then_strips_until_no_tag_is_left(value, expected):
    assert ex._decode_and_strip(value).strip() == expected


# --- sanitize_text and plain_text ---------------------------------------------------------------


def test_sanitize_text_touches_only_values_that_need_it():
    values = ["  spaced   as given ", "<b>Bold</b> text", "A &amp; B", "ctrl\x00", "<script>x</script>", None,
              "cafÃ©", "plain"]
    assert apply(ex.sanitize_text, values) == [
        "  spaced   as given ", "Bold text", "A & B", "ctrl", None, None, "cafÃ©", "plain"
    ]


def test_sanitize_text_in_a_list_column():
    frame = pl.DataFrame({"l": [["<i>Math</i>", "Art"], ["<script>x</script>"], []]})
    out = frame.select(pl.col("l").list.eval(ex.sanitize_text(pl.element())).list.drop_nulls())["l"].to_list()
    assert out == [["Math", "Art"], [], []]


def test_plain_text_leaves_the_encoding_alone():
    assert one(ex.plain_text, "<b>cafÃ©</b>\x00  ok") == "cafÃ© ok"


# --- negative figures and exponent notation -----------------------------------------------------


@pytest.mark.parametrize("text", ["-10 hours", "−10 hours", "Duration: -5 hours", "PT-10H", "-1 hour 30 minutes",
                                  "1e30 hours per week", "2.5E3 hours", "1e-3 hours"])
def test_parse_workload_refuses_negative_and_exponent_figures(text):
    out = one(ex.parse_workload, text)
    assert out["hours_min"] is None and out["hours_max"] is None


@pytest.mark.parametrize(
    ("text", "hours"),
    [("3-5 hours/week", (3, 5)), ("3 - 5 hours", (3, 5)), ("self-paced-6 hours", (6, 6)), ("Free - 6 hours", (6, 6)),
     ("5e hours", None)],  # "5e": no exponent digits, and no hour figure either
)
def test_parse_workload_still_reads_dashes_that_are_no_sign(text, hours):
    out = one(ex.parse_workload, text)
    assert ((out["hours_min"], out["hours_max"]) if out["hours_min"] is not None else None) == hours


@pytest.mark.parametrize("text", ["-5 weeks", "\u20135 weeks", "1e3 weeks", "-3 - 6 months"])
def test_parse_duration_refuses_negative_and_exponent_figures(text):
    assert one(ex.parse_duration, text) == {"weeks_min": None, "weeks_max": None}


def test_parse_duration_keeps_hyphenated_words_and_ranges():
    assert one(ex.parse_duration, "self-paced-6 weeks") == {"weeks_min": 6.0, "weeks_max": 6.0}
    assert one(ex.parse_duration, "6-8 wks") == {"weeks_min": 6.0, "weeks_max": 8.0}


@pytest.mark.parametrize(("text", "credits"), [("-5 ECTS", None), ("1e400", None), ("2E1 credits", None), ("5 ECTS", 5.0)])
def test_parse_credits_refuses_negative_and_exponent_figures(text, credits):
    assert one(ex.parse_credits, text)["credits"] == credits


@pytest.mark.parametrize(("text", "rating"), [("-3", None), ("-4.5 stars", None), ("4e0", None), ("4.5", 4.5)])
def test_parse_rating_refuses_negative_and_exponent_figures(text, rating):
    assert one(ex.parse_rating, text) == rating


@pytest.mark.parametrize(("text", "count"), [("-100", None), ("1e400", None), ("1E5 learners", None), ("0x1F", None),
                                             ("43K reviews", 43_000)])
def test_parse_count_refuses_negative_and_exponent_figures(text, count):
    assert one(ex.parse_count, text) == count


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("-50 USD", None), ("-50", None), ("$-0.01", None), ("€ -1.000,00", None), ("-$50", None), ("−49 EUR", None),
        ("1e308", None), ("USD 1e300", None), ("2.5e3 EUR", None), ("0x1F", None),  # price-parser: 1, 1, 2.5, 0
        ("Free - $49", 49.0), ("$49 (-20%)", 49.0), ("$49–$99", 49.0), ("$49", 49.0),
    ],
)
def test_parse_price_refuses_negative_and_exponent_figures(text, amount):
    assert one(ex.parse_price, text)["amount"] == amount


def test_parse_number_keeps_the_sign_and_refuses_exponents():
    assert apply(ex.parse_number, ["-2", "1e400", "1,234.5", "pt-3", None]) == [-2.0, None, 1234.5, -3.0, None]


@pytest.mark.parametrize(
    ("text", "negative"),
    [("-50 USD", True), ("$-0.01", True), ("€ -1.000,00", True), ("-$50", True), ("−5 weeks", True), ("PT-10H", True),
     ("USD -5", True), ("Free - $49", False), ("$49 (-20%)", False), ("3-5 hours", False),
     ("self-paced-6 weeks", False), ("pt10h", False), ("$49–$99", False)],
)
def test_negative_first_reads_the_same_in_python_and_polars(text, negative):
    assert bool(re.search(ex.NEGATIVE_FIRST, text)) is negative
    assert one(lambda e: e.str.contains(ex.NEGATIVE_FIRST), text) is negative
    assert one(ex.number_refusal, text) == ("negative" if negative else "unparsed")
