"""Declared paths into source records (scrapers.base.fields)."""

import pytest

from scrapers.base.fields import as_text, check_field_map, dig, extract

RECORD = {
    "name": "Smart Grids",
    "owners": [{"key": "RheinauX", "name": "TH Rheinau"}, {"key": "X", "name": "Other"}],
    "locale": {"locale": "de_DE"},
    "No. of reviews": "43K",
    "seats": [{"type": "audit", "price": "0.00"}, {"type": "verified", "price": "149.00"}],
    "is_paid": False,
    "avg_rating": 4.5,
    "blank": "   ",
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name", "Smart Grids"),
        ("owners.0.name", "TH Rheinau"),
        ("owners.-1.key", "X"),
        ("owners.*.key", ["RheinauX", "X"]),
        ("locale.locale", "de_DE"),
        ("No. of reviews", "43K"),  # a key with dots is still found
        ("owners.5.name", None),
        ("missing.deeper", None),
        ("name.deeper", None),
        ("", RECORD),
    ],
)
def test_dig(path, value):
    assert dig(RECORD, path) == value


def test_values_stay_as_written_but_become_text():
    assert as_text(False) == "false" and as_text(4.5) == "4.5" and as_text(12) == "12"
    assert as_text("  ") is None and as_text("") is None and as_text(None) is None
    assert as_text(" 4.7stars ") == " 4.7stars "  # not trimmed, not parsed
    assert as_text({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'


def test_extract_text_fields_take_the_first_path_with_a_value_and_list_fields_take_all():
    fields = extract(RECORD, {
        "title": "name",
        "awarding_body": ["owners_missing.0.name", "owners.*.name"],
        "subjects": ["seats.*.type", "locale.locale"],
        "prices": "seats.*.price",
        "rating_raw": "avg_rating",
        "is_free_raw": "is_paid",
        "description": "blank",
    })
    assert fields == {
        "title": "Smart Grids",
        "awarding_body": "TH Rheinau",
        "subjects": ["audit", "verified", "de_DE"],
        "prices": [{"text": "0.00"}, {"text": "149.00"}],
        "rating_raw": "4.5",
        "is_free_raw": "false",
    }  # blank description left out


def test_a_field_map_naming_unknown_or_provenance_fields_is_refused():
    check_field_map({"title": "x", "skills": "y", "prices": "z"}, "ok")
    with pytest.raises(ValueError, match="colour"):
        check_field_map({"colour": "x"}, "bad")
    with pytest.raises(ValueError, match="source_key"):
        check_field_map({"source_key": "id"}, "bad")
