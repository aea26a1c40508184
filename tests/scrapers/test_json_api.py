"""Kind json_api: results, next pages (relative, absolute, page numbers), guards, broken records."""

from __future__ import annotations

import codecs
import json
from typing import Any

import pytest

from scrapers.base.json_api import JsonApiSpider
from scrapers.testing import fake_response, offline_spider, split

REGISTRY = """
[sources.demo_api]
spider = "demo_api"
kind = "json_api"
format = "test API"
provider_kind = "mooc_platform"
platform = "DemoPlatform"
start_urls = ["https://api.example.org/v1/courses?page=1"]
allowed_domains = ["api.example.org"]
"""


class DemoApiSpider(JsonApiSpider):
    name = "demo_api"
    results_path = "results"
    next_path = "next"
    field_map = {"title": "title"}


@pytest.fixture
def registry(tmp_path):
    def write(extra: str = "") -> str:
        path = tmp_path / f"sources_{abs(hash(extra))}.toml"
        path.write_text(REGISTRY + extra)
        return str(path)
    return write


def page(results: list[Any], **rest: Any) -> str:
    return json.dumps({"results": results, **rest})


def test_records_become_items_with_provenance_and_payload(registry):
    spider = offline_spider(DemoApiSpider, registry=registry())
    url = "https://api.example.org/v1/courses?page=1"
    items, _ = split(spider.parse(fake_response(url, page([{"id": 7, "title": "Robotics", "x": [1]}]))))
    assert len(items) == 1
    item = items[0]
    assert item["source"] == "demo_api" and item["source_key"] == "7" and item["url"] == url
    assert item["title"] == "Robotics" and item["platform"] == "DemoPlatform"
    assert item["payload"] == {"id": 7, "title": "Robotics", "x": [1]}


@pytest.mark.parametrize(
    ("next_value", "expected"),
    [
        ("https://api.example.org/v1/courses?page=2", "https://api.example.org/v1/courses?page=2"),
        ("/v1/courses?page=2", "https://api.example.org/v1/courses?page=2"),
        ("?page=2", "https://api.example.org/v1/courses?page=2"),
        (None, None),
        ("", None),
    ],
)
def test_next_page_urls_absolute_or_relative(registry, next_value, expected):
    spider = offline_spider(DemoApiSpider, registry=registry())
    url = "https://api.example.org/v1/courses?page=1"
    _, requests = split(spider.parse(fake_response(url, page([{"id": 1}], next=next_value))))
    assert [r.url for r in requests] == ([expected] if expected else [])
    if requests:
        assert requests[0].errback == spider.on_error  # a lost page is counted


def test_a_next_link_back_to_a_page_already_read_ends_the_crawl(registry):
    spider = offline_spider(DemoApiSpider, registry=registry())
    p1, p2 = "https://api.example.org/v1/courses?page=1", "https://api.example.org/v1/courses?page=2"
    spider.page_request(p1)
    _, requests = split(spider.parse(fake_response(p1, page([{"id": 1}], next=p2))))
    assert [r.url for r in requests] == [p2]
    _, requests = split(spider.parse(fake_response(p2, page([{"id": 2}], next=p1))))  # loops back
    assert requests == []
    assert spider.crawler.stats.get_value("credcat/page_defects/pagination_loop") == 1


def test_the_page_cap_stops_the_crawl_and_marks_it_incomplete(registry):
    spider = offline_spider(DemoApiSpider, registry=registry('options = { max_pages = 2 }\n'))
    base = "https://api.example.org/v1/courses?page="
    spider.page_request(base + "1")
    _, requests = split(spider.parse(fake_response(base + "1", page([{"id": 1}], next=base + "2"))))
    assert len(requests) == 1
    _, requests = split(spider.parse(fake_response(base + "2", page([{"id": 2}], next=base + "3"))))
    assert requests == []
    assert spider.crawler.stats.get_value("credcat/failed_pages") == 1


def test_page_number_pagination_with_a_page_count(registry):
    options = 'options = { next_path = "", page_param = "page", page_count_path = "meta.pages" }\n'
    spider = offline_spider(DemoApiSpider, registry=registry(options))
    url = "https://api.example.org/v1/courses?page=2&per_page=10"
    body = page([{"id": 1}], meta={"pages": 3})
    _, requests = split(spider.parse(fake_response(url, body)))
    assert [r.url for r in requests] == ["https://api.example.org/v1/courses?per_page=10&page=3"]
    _, requests = split(spider.parse(fake_response(requests[0].url, body)))
    assert requests == []  # page 3 of 3


def test_page_number_pagination_with_a_record_count_and_without_the_param_on_page_one(registry):
    options = 'options = { next_path = "", page_param = "p", record_count_path = "count", page_size = 2 }\n'
    spider = offline_spider(DemoApiSpider, registry=registry(options))
    _, requests = split(spider.parse(fake_response("https://api.example.org/c", page([{"id": 1}, {"id": 2}], count=5))))
    assert [r.url for r in requests] == ["https://api.example.org/c?p=2"]


def test_page_number_pagination_without_counts_stops_at_an_empty_page(registry):
    spider = offline_spider(DemoApiSpider, registry=registry('options = { next_path = "", page_param = "page" }\n'))
    _, more = split(spider.parse(fake_response("https://api.example.org/c?page=4", page([{"id": 1}]))))
    _, done = split(spider.parse(fake_response("https://api.example.org/c?page=5", page([]))))
    assert [r.url for r in more] == ["https://api.example.org/c?page=5"] and done == []


def test_several_results_paths_udacity_style(registry):
    options = 'options = { results_path = ["courses", "degrees"], next_path = "" }\n'
    spider = offline_spider(DemoApiSpider, registry=registry(options + 'field_map = { title = "title" }\n'))
    body = json.dumps({"courses": [{"key": "ud120", "title": "Intro to ML"}],
                       "degrees": [{"key": "nd009", "title": "ML Engineer Nanodegree"}], "tracks": []})
    spider.key_path = "key"
    items, _ = split(spider.parse(fake_response("https://api.example.org/catalog", body)))
    assert [(i["source_key"], i["title"]) for i in items] == [("ud120", "Intro to ML"), ("nd009", "ML Engineer Nanodegree")]


def test_a_body_without_results_or_not_json_is_a_failed_page(registry):
    spider = offline_spider(DemoApiSpider, registry=registry())
    items, requests = split(spider.parse(fake_response("https://api.example.org/c", '{"detail": "Throttled"}')))
    assert items == [] and requests == []
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", "<html>502 Bad Gateway</html>")))
    assert items == []
    stats = spider.crawler.stats
    assert stats.get_value("credcat/failed_pages") == 2
    assert stats.get_value("credcat/page_defects/results_missing") == 1
    assert stats.get_value("credcat/page_defects/invalid_json_body") == 1


class BrittleSpider(DemoApiSpider):
    def record(self, response, obj):
        fields = super().record(response, obj)
        fields["prices"] = [{"amount": obj["price"]["amount"]}]  # KeyError on some records
        return fields


def test_a_record_the_hook_cannot_read_is_kept_with_its_key_and_payload(registry):
    spider = offline_spider(BrittleSpider, registry=registry())
    body = page([{"id": 1, "title": "A", "price": {"amount": 9}}, {"id": 2, "title": "B"}, "not an object"])
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body)))
    assert [i["source_key"] for i in items] == ["1", "2", None]
    assert items[0]["prices"] == [{"amount": 9}] and "page_defects" not in items[0]
    assert items[1]["page_defects"] == ["unreadable_record"] and items[1]["payload"]["title"] == "B"
    assert items[2]["payload"] == {"value": "not an object"}  # lands in invalid.jsonl: no key
    assert spider.crawler.stats.get_value("credcat/page_defects/unreadable_record") == 2


def test_registry_options_and_field_map_configure_the_kind(registry):
    extra = 'field_map = { description = "summary" }\noptions = { results_path = "data.items", key_path = "uuid" }\n'
    spider = offline_spider(DemoApiSpider, registry=registry(extra))
    assert spider.field_map == {"title": "title", "description": "summary"}
    body = json.dumps({"data": {"items": [{"uuid": "u-1", "title": "T", "summary": "<p>S</p>"}]}})
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body)))
    assert (items[0]["source_key"], items[0]["description"]) == ("u-1", "<p>S</p>")


def test_unknown_options_and_fields_fail_at_start(registry):
    with pytest.raises(ValueError, match="resuls_path"):
        offline_spider(DemoApiSpider, registry=registry('options = { resuls_path = "x" }\n'))
    with pytest.raises(ValueError, match="colour"):
        offline_spider(DemoApiSpider, registry=registry('field_map = { colour = "x" }\n'))


@pytest.mark.parametrize(
    ("next_value", "expected"),
    [
        ({"href": "/v1/courses?page=2"}, "https://api.example.org/v1/courses?page=2"),  # HAL, JSON:API
        ({"url": "https://api.example.org/v1/courses?page=2", "title": "next"},
         "https://api.example.org/v1/courses?page=2"),
        ({"href": None}, None),
        (False, None),
    ],
)
def test_a_next_link_given_as_a_link_object(registry, next_value, expected):
    spider = offline_spider(DemoApiSpider, registry=registry())
    url = "https://api.example.org/v1/courses?page=1"
    _, requests = split(spider.parse(fake_response(url, page([{"id": 1}], next=next_value))))
    assert [r.url for r in requests] == ([expected] if expected else [])
    assert spider.crawler.stats.get_value("credcat/failed_pages") is None


@pytest.mark.parametrize("next_value", [2, ["/v1/courses?page=2"], {"rel": "next"}])
def test_a_next_value_that_is_no_link_is_a_defect_and_the_crawl_is_not_complete(registry, next_value):
    spider = offline_spider(DemoApiSpider, registry=registry())
    url = "https://api.example.org/v1/courses?page=1"
    items, requests = split(spider.parse(fake_response(url, page([{"id": 1}], next=next_value))))
    assert len(items) == 1 and requests == []
    stats = spider.crawler.stats
    assert stats.get_value("credcat/page_defects/unreadable_next_link") == 1
    assert stats.get_value("credcat/failed_pages") == 1


def test_a_charset_python_does_not_know_is_read_as_utf8_with_a_defect(registry):
    spider = offline_spider(DemoApiSpider, registry=registry())
    body = page([{"id": 1, "title": "Caf\u00e9"}]).encode("utf-8")
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body, "application/json; charset=x-no-such")))
    assert [(i["title"], i["page_defects"]) for i in items] == [("Caf\u00e9", ["unknown_charset"])]
    assert spider.crawler.stats.get_value("credcat/page_defects/unknown_charset") == 1
    # MySQL's names for UTF-8 (PHP stacks send them) are read as UTF-8, no defect
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body, "application/json; charset=utf8mb4")))
    assert [(i["title"], i.get("page_defects")) for i in items] == [("Caf\u00e9", None)]
    # a bytes-to-bytes codec is no charset either
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body, 'application/json; charset="base64"')))
    assert items[0]["page_defects"] == ["unknown_charset"]


def test_an_encoding_option_no_codec_reads_fails_at_start(registry):
    with pytest.raises(ValueError, match="encoding_fallback"):
        offline_spider(DemoApiSpider, registry=registry('options = { encoding_fallback = "cp-1252x" }\n'))


# --- results keyed by id ---------------------------------------------------------------------------

def test_results_given_as_an_object_keyed_by_id_are_records_keyed_by_it(registry):
    spider = offline_spider(DemoApiSpider, registry=registry())
    body = json.dumps({"results": {"c1": {"title": "Robotics"}, "c2": {"id": 42, "title": "Welding"}}})
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body)))
    # the record's own key wins; without one, its key in the object
    assert [(i["source_key"], i["title"]) for i in items] == [("c1", "Robotics"), ("42", "Welding")]
    assert items[0]["payload"] == {"title": "Robotics"}
    # one record whose fields are all objects (language maps) stays one record
    body = json.dumps({"results": {"id": {"value": "x"}, "title": {"en": "Robotics", "de": "Robotik"}}})
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body)))
    assert len(items) == 1 and "Robotik" in items[0]["title"]
    body = json.dumps({"results": {"id": 7, "title": "Single"}})
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body)))
    assert [(i["source_key"], i["title"]) for i in items] == [("7", "Single")]


# --- wrapped bodies and their encodings ------------------------------------------------------------

@pytest.mark.parametrize(("body", "defect"), [
    (")]}'\n" + page([{"id": 1, "title": "A"}]), "xssi_prefix"),
    (")]}',\n" + page([{"id": 1, "title": "A"}]), "xssi_prefix"),
    ("while(1);" + page([{"id": 1, "title": "A"}]), "xssi_prefix"),
    ("for (;;);" + page([{"id": 1, "title": "A"}]), "xssi_prefix"),
    ("&&&START&&&" + page([{"id": 1, "title": "A"}]) + "&&&END&&&", "xssi_prefix"),
    ("cb(" + page([{"id": 1, "title": "A"}]) + ");", "jsonp_wrapper"),
    ("/**/ jQuery123_456.done(" + page([{"id": 1, "title": "A"}]) + ")\n", "jsonp_wrapper"),
    ("typeof cb === 'function' && cb(" + page([{"id": 1, "title": "A"}]) + ");", "jsonp_wrapper"),
], ids=["angular", "angular-comma", "while1", "for-ever", "dojo", "jsonp", "jsonp-member-comment", "jsonp-typeof"])
def test_an_anti_xssi_prefix_or_a_jsonp_call_is_unwrapped_with_a_defect(registry, body, defect):
    spider = offline_spider(DemoApiSpider, registry=registry())
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body, "application/javascript")))
    assert [(i["source_key"], i["title"], i["page_defects"]) for i in items] == [("1", "A", [defect])]
    assert spider.crawler.stats.get_value(f"credcat/page_defects/{defect}") == 1
    assert spider.crawler.stats.get_value("credcat/failed_pages") is None


@pytest.mark.parametrize("body", [
    "cb(" + page([{"id": 1}]) + "); other(1);",  # two calls: not one JSONP call
    "cb(not json);",
    "while(1); <html>",
], ids=["two-calls", "call-without-json", "prefix-without-json"])
def test_a_wrapper_without_json_inside_is_still_a_failed_page(registry, body):
    spider = offline_spider(DemoApiSpider, registry=registry())
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body)))
    assert items == []
    assert spider.crawler.stats.get_value("credcat/page_defects/invalid_json_body") == 1
    assert spider.crawler.stats.get_value("credcat/failed_pages") == 1


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_bodies_are_detected_by_bom_or_nul_bytes(registry, codec):
    spider = offline_spider(DemoApiSpider, registry=registry())
    body = page([{"id": 1, "title": "Caf\u00e9 \u2013 \U0001f600"}]).encode(codec)  # "utf-16": with a BOM
    items, _ = split(spider.parse(fake_response("https://api.example.org/c", body, "application/json")))
    assert [(i["title"], i["page_defects"]) for i in items] == [("Caf\u00e9 \u2013 \U0001f600", ["sniffed_encoding"])]


def test_a_bom_overrules_a_declared_charset_with_a_defect(registry):
    spider = offline_spider(DemoApiSpider, registry=registry())
    body = page([{"id": 1, "title": "Caf\u00e9"}])
    for data, content_type, defects in [
        (body.encode("utf-16"), "application/json; charset=utf-8", ["sniffed_encoding"]),
        (codecs.BOM_UTF8 + body.encode("utf-8"), "application/json; charset=iso-8859-1", ["sniffed_encoding"]),
        (body.encode("utf-16"), "application/json; charset=UTF-16", None),  # as declared
        (codecs.BOM_UTF8 + body.encode("utf-8"), "application/json", None),  # UTF-8: JSON's own
    ]:
        items, _ = split(spider.parse(fake_response("https://api.example.org/c", data, content_type)))
        assert [(i["title"], i.get("page_defects")) for i in items] == [("Caf\u00e9", defects)], content_type
