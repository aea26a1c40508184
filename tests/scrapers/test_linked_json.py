"""Kind linked_json (id-linked dumps) and the json_api options for saved dumps: several pages
in one file, cp1252 bytes inside UTF-8, record kinds per results path. Hand-written fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrapers.base.json_api import JsonApiSpider, decode_with_fallback
from scrapers.base.linked_json import LinkedJsonSpider, parse_link
from scrapers.testing import fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"
URL = "file:///data/dump.json"

LINKED = """
[sources.demo_linked]
spider = "demo_linked"
kind = "linked_json"
format = "id-linked dump"
provider_kind = "mooc_platform"
platform = "DemoPlatform"
location = ["/nonexistent/dump.json"]
options = { records_path = "programs", key_path = "id", lookups = ["schools=schools.id", "areas=areas.id", "teachers=teachers.teacher_no"], backrefs = ["runs=runs.program_id"] }
field_map = { title = "title", awarding_body = "_linked.schools.*.name", subjects = "_linked.areas.*.name", language_raw = "lang", start_dates_raw = "_linked.runs.*.begins" }
"""

DUMP = """
[sources.demo_dump]
spider = "demo_dump"
kind = "json_api"
format = "API pages saved in one file"
provider_kind = "mooc_platform"
location = ["/nonexistent/dump.json"]
options = { pages_path = "", results_path = "results", next_path = "pagination.next", encoding = "utf-8", encoding_fallback = "cp1252", results_kinds = ["course run"] }
field_map = { title = "name" }
"""


class DemoLinkedSpider(LinkedJsonSpider):
    name = "demo_linked"


class DemoDumpSpider(JsonApiSpider):
    name = "demo_dump"


def registry(tmp_path: Path, text: str) -> str:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    return str(path)


def make(spider_cls, tmp_path: Path, text: str):
    # The location need not exist: locations are resolved when the crawl starts.
    from scrapers.registry import load_sources

    source = load_sources(registry(tmp_path, text))[spider_cls.name]
    source.location = []
    source.start_urls = [URL]
    return offline_spider(spider_cls, source=source)


def test_linked_records_are_joined_with_what_they_refer_to(tmp_path):
    spider = make(DemoLinkedSpider, tmp_path, LINKED)
    body = (FIXTURES / "linked_catalog.json").read_bytes()
    items, requests = split(spider.parse(fake_response(URL, body)))
    assert not requests
    by_key = {i["source_key"]: i for i in items}
    assert sorted(by_key) == ["7", "8", "9"]  # an object keyed by id is read as its values

    tides = by_key["7"]
    assert tides["title"] == "Tides and Reefs" and tides["awarding_body"] == "Harbour University"
    assert tides["subjects"] == ["Marine Biology"] and tides["language_raw"] == "en"
    assert tides["start_dates_raw"] == ["2024-02-05", "2024-09-02"]  # back references: its runs
    assert [t["last_name"] for t in tides["payload"]["_linked"]["teachers"]] == ["Lindqvist"]  # by teacher_no
    assert tides["payload"]["schools"] == [10]  # the record itself is unchanged
    assert "page_defects" not in tides

    lab = by_key["8"]
    assert [s["name"] for s in lab["payload"]["_linked"]["schools"]] == [
        "Harbour University", "Ridge Institute of Technology"]
    assert lab["awarding_body"] == "Harbour University"  # first named
    assert lab["subjects"] == ["Marine Biology", "Data Science"]
    assert "start_dates_raw" not in lab  # its one run has no date
    # Teacher 999 does not exist: the record is kept, with the reference found and the defect.
    assert [t["last_name"] for t in lab["payload"]["_linked"]["teachers"]] == ["Okafor"]
    assert lab["page_defects"] == ["dangling_reference"]
    assert spider.crawler.stats.get_value("credcat/page_defects/dangling_reference") == 1

    water = by_key["9"]  # no areas, no teachers, no runs
    assert water["payload"]["_linked"] == {"schools": [], "areas": [], "teachers": [], "runs": []}
    assert "awarding_body" not in water


def test_linked_missing_record_list_is_a_failed_page(tmp_path):
    spider = make(DemoLinkedSpider, tmp_path, LINKED)
    items, _ = split(spider.parse(fake_response(URL, json.dumps({"schools": []}))))
    assert items == []
    assert spider.crawler.stats.get_value("credcat/failed_pages") == 1


def test_linked_bad_declaration_fails_at_start(tmp_path):
    with pytest.raises(ValueError, match="lookups entry"):
        make(DemoLinkedSpider, tmp_path, LINKED.replace('"schools=schools.id"', '"schools"'))
    assert parse_link("unis=data.unis.id", "lookups") == ("unis", "data.unis", "id")


def test_dump_of_several_pages_with_cp1252_bytes(tmp_path):
    spider = make(DemoDumpSpider, tmp_path, DUMP)
    body = (FIXTURES / "api_pages_dump_mixed_encoding.json").read_bytes()
    items, requests = split(spider.parse(fake_response(URL, body)))
    assert [i["source_key"] for i in items] == ["run-1", "run-2", "run-3"]
    titles = [i["title"] for i in items]
    assert titles == ["Caf\u00e9 Chemistry", "L\u2019\u00e9cole du code\u00ae", "Plain"]
    assert all(i["page_defects"] == ["mixed_encoding"] for i in items)
    assert all(i["record_kind_raw"] == "course run" for i in items)
    # Only the last page's next link is followed: page 2 is in the file.
    assert [r.url for r in requests] == ["https://api.example.org/courses?page=3"]


def test_decode_with_fallback_per_sequence():
    assert decode_with_fallback("d\u00e9j\u00e0".encode(), "utf-8", "cp1252") == ("d\u00e9j\u00e0", 0, 0)
    assert decode_with_fallback(b"d\xe9j\xe0 \xe2\x80\x99", "utf-8", "cp1252") == ("d\u00e9j\u00e0 \u2019", 2, 0)
    # 0x81 is not a cp1252 character either: replaced and counted.
    assert decode_with_fallback(b"a\x81b", "utf-8", "cp1252") == ("a\ufffdb", 0, 1)
    assert decode_with_fallback(b"a\xe9b", "utf-8", None) == ("a\ufffdb", 0, 1)
    assert decode_with_fallback(b"\xef\xbb\xbf{}", "utf-8", None) == ("{}", 0, 0)


LINKS = """
[sources.demo_linked]
spider = "demo_linked"
kind = "linked_json"
format = "id-linked dump"
provider_kind = "mooc_platform"
location = ["/nonexistent/dump.json"]
options = { records_path = "programs", lookups = ["schools=schools.id", "teachers=teachers.teacher_no"], backrefs = ["runs=runs.program_ids"], encoding_fallback = "cp1252" }
field_map = { title = "title", awarding_body = "_linked.schools.*.name", start_dates_raw = "_linked.runs.*.begins" }
"""


def test_a_backref_field_listing_several_ids_refers_to_each(tmp_path):
    spider = make(DemoLinkedSpider, tmp_path, LINKS)
    body = json.dumps({"programs": [{"id": 7, "title": "A"}, {"id": 8, "title": "B"}],
                       "runs": [{"program_ids": [7, 8], "begins": "2024-01"}, {"program_ids": ["8"], "begins": "2024-06"},
                                {"program_ids": 7, "begins": "2025-01"}]})
    items, _ = split(spider.parse(fake_response(URL, body)))
    assert {i["source_key"]: i["start_dates_raw"] for i in items} == {
        "7": ["2024-01", "2025-01"], "8": ["2024-01", "2024-06"]}


def test_references_as_id_objects_or_whole_floats_are_found(tmp_path):
    spider = make(DemoLinkedSpider, tmp_path, LINKS)
    body = json.dumps({
        "programs": [{"id": 7.0, "title": "A", "schools": [{"id": 1}], "teachers": [{"teacher_no": 5}]},
                     {"id": 8, "title": "B", "schools": 2.0},
                     {"id": 9, "title": "C", "schools": [{"@id": "3"}, {"name": "no id"}, 1.5]}],
        "schools": [{"id": 1, "name": "S1"}, {"id": 2, "name": "S2"}, {"id": "3", "name": "S3"}],
        "teachers": [{"teacher_no": 5.0, "name": "T"}],
        "runs": [{"program_ids": [{"id": 7}], "begins": "2024-01"}]})
    items, _ = split(spider.parse(fake_response(URL, body)))
    a, b, c = items
    assert a["awarding_body"] == "S1" and "page_defects" not in a
    assert [t["name"] for t in a["payload"]["_linked"]["teachers"]] == ["T"]
    assert a["start_dates_raw"] == ["2024-01"]  # its id 7.0 is the run's {"id": 7}
    assert b["awarding_body"] == "S2" and "page_defects" not in b
    # an object without an id, and 1.5 (no whole number), refer to nothing: dangling
    assert c["awarding_body"] == "S3" and c["page_defects"] == ["dangling_reference"]


def test_linked_unknown_charset_is_read_as_utf8_then_the_fallback(tmp_path):
    spider = make(DemoLinkedSpider, tmp_path, LINKS)
    body = b'{"programs": [{"id": 1, "title": "Caf\xc3\xa9 / Caf\xe9"}]}'  # UTF-8 with a cp1252 byte
    items, _ = split(spider.parse(fake_response(URL, body, "application/json; charset=utf8mb5")))
    assert [(i["title"], i["page_defects"]) for i in items] == [
        ("Caf\u00e9 / Caf\u00e9", ["unknown_charset", "mixed_encoding"])]
    assert spider.crawler.stats.get_value("credcat/page_defects/unknown_charset") == 1
