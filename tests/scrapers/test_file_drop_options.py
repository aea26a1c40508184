"""Kind file_drop, cell options a registry entry may declare: mojibake repair, a packed column
split into parts, glued labels, placeholders, units, defaults, and files that list catalogs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrapers.testing import fake_response, split

FIXTURES = Path(__file__).parent / "fixtures"


CARDS = ('field_map = { title = "Title", awarding_body = "Partner", level_raw = "lvl", credential_type_raw = "kind", '
         'duration_raw = "length", skills = "Skills", rating_raw = "Rating" }\n'
         'options = { repair_mojibake = true, split_column = "Badge", split_separator = "·", '
         'split_into = ["lvl", "kind", "length"], strip_labels = ["Skills you\'ll gain:"], list_separator = ",", '
         'key_columns = ["Title", "Partner"] }')


def test_mojibake_is_decoded_then_the_packed_column_split(drop_spider):
    spider = drop_spider("cards", CARDS)
    body = (FIXTURES / "file_drop_cards_mojibake.csv").read_bytes()
    items, _ = split(spider.parse(fake_response("https://drops.example.org/cards.csv", body, "text/csv")))
    assert [i["title"] for i in items] == ["Café Management Basics", "Datenanalyse für Einsteiger", "Orphan Card"]
    first = items[0]
    assert (first["awarding_body"], first["level_raw"], first["credential_type_raw"], first["duration_raw"]) == (
        "Université de Lyon", "Beginner", "Course", "1 - 4 Weeks")
    assert first["skills"] == ["Budgeting", "Hospitality"]  # label removed, then split
    assert first["page_defects"] == ["mojibake_repaired"]
    assert first["payload"]["Badge"] == "Beginner Â· Course Â· 1 - 4 Weeks"  # the row as written
    assert items[1]["credential_type_raw"] == "Professional Certificate" and items[1]["awarding_body"] == "Hochschule Köln"
    # Two parts where three are declared: nothing is guessed, the record says so.
    orphan = items[2]
    assert "level_raw" not in orphan and "credential_type_raw" not in orphan
    assert orphan["page_defects"] == ["mojibake_repaired", "unsplittable_cell"]
    assert spider.crawler.stats.get_value("credcat/page_defects/unsplittable_cell") == 1


def test_without_repair_the_cells_stay_as_written(drop_spider):
    spider = drop_spider("raw_cards", 'field_map = { title = "Title" }')
    body = (FIXTURES / "file_drop_cards_mojibake.csv").read_bytes()
    items, _ = split(spider.parse(fake_response("https://drops.example.org/cards.csv", body, "text/csv")))
    assert items[0]["title"] == "CafÃ© Management Basics" and "page_defects" not in items[0]


def test_placeholders_units_and_defaults(drop_spider):
    spider = drop_spider("certs", 'field_map = { title = "Name", prices = "Cost (USD)", workload_raw = "Minutes", '
                                  'description = "About", language_raw = "Languages" }\n'
                                  'options = { key_column = "Name", null_values = ["unknown", "TBD", "0"], '
                                  'column_units = ["Cost (USD)=USD", "Minutes=minutes"], '
                                  'field_defaults = ["awarding_body=Example Vendor", "credential_type_raw=Certification"] }')
    body = ("Name,Cost (USD),Minutes,About,Languages\r\n"
            "Cloud Basics,99,45,Entry exam,English\r\n"
            "Cloud Pro,$300 USD,0,Unknown,TBD\r\n")
    items, _ = split(spider.parse(fake_response("https://drops.example.org/c.csv", body, "text/csv")))
    basics, pro = items
    assert (basics["prices"], basics["workload_raw"], basics["language_raw"]) == (
        [{"text": "99 USD"}], "45 minutes", "English")
    assert (basics["awarding_body"], basics["credential_type_raw"]) == ("Example Vendor", "Certification")
    assert pro["prices"] == [{"text": "$300 USD"}]  # a unit only goes on a bare number
    assert not {"workload_raw", "description", "language_raw"} & pro.keys()
    assert pro["payload"]["Minutes"] == "0"


def test_a_record_value_wins_over_the_default(drop_spider):
    spider = drop_spider("own_body", 'field_map = { title = "t", awarding_body = "by" }\n'
                                     'options = { field_defaults = ["awarding_body=Publisher"] }')
    rows = [{"t": "A", "by": "Partner U"}, {"t": "B"}]
    items, _ = split(spider.parse(fake_response("https://drops.example.org/x.json", json.dumps(rows))))
    assert [i["awarding_body"] for i in items] == ["Partner U", "Publisher"]


def test_a_list_of_catalog_locations_is_counted_not_offered(drop_spider):
    spider = drop_spider("catalogs", 'options = { rows_are = "locations", location_column = "URL" }')
    body = "Vendor,URL\r\nAcme,https://acme.example.com/certs\r\nBeta,\r\n"
    items, requests = split(spider.parse(fake_response("https://drops.example.org/s.csv", body, "text/csv")))
    assert items == [] and requests == []
    assert [(c["row"], c["location"]) for c in spider.catalog_locations] == [
        (1, "https://acme.example.com/certs"), (2, None)]
    stats = spider.crawler.stats
    assert stats.get_value("credcat/catalog_locations") == 1
    assert stats.get_value("credcat/page_defects/location_missing") == 1


@pytest.mark.parametrize("options, message", [
    ('field_defaults = ["awarding_body"]', "name=value"),
    ('field_defaults = ["nonsense=1"]', "unknown RawOffering fields"),
    ('field_defaults = ["skills=x"]', "only sets text fields"),
    ('split_column = "Badge"', "split_into"),
    ('rows_are = "courses"', "rows_are"),
    ('rows_are = "locations"', "location_column"),
    ('format = "xlsx"', "format"),
    ('delimiter = ";;"', "delimiter"),
])
def test_bad_declarations_fail_at_start(drop_spider, options, message):
    with pytest.raises(ValueError, match=message):
        drop_spider("bad", f'field_map = {{ title = "t" }}\noptions = {{ {options} }}')
