"""Kind file_drop: CSV / JSON / JSON Lines drops read through a declared mapping, no code."""

from __future__ import annotations

import json

from scrapers.base.file_drop import stable_row_key
from scrapers.testing import fake_response, split


def test_json_drop_with_records_path_and_key_column(drop_spider):
    spider = drop_spider("badges_json", 'field_map = { title = "name", awarding_body = "issuer.name", skills = "tags" }\n'
                                        'options = { records_path = "data.records", key_column = "uuid" }')
    body = json.dumps({"data": {"records": [
        {"uuid": "b-1", "name": "Data Steward Badge", "issuer": {"name": "IADP"}, "tags": ["data governance", "GDPR"]},
        {"name": "No id here"},
    ]}})
    items, _ = split(spider.parse(fake_response("https://drops.example.org/badges.json", body)))
    assert items[0]["source"] == "badges_json" and items[0]["source_key"] == "b-1"
    assert (items[0]["title"], items[0]["awarding_body"], items[0]["skills"]) == (
        "Data Steward Badge", "IADP", ["data governance", "GDPR"])
    assert items[1]["source_key"] is None  # kept: it lands in invalid.jsonl, never silently dropped


def test_json_list_without_declared_key_is_keyed_by_a_stable_hash_of_the_whole_row(drop_spider):
    spider = drop_spider("list_json", 'field_map = { title = "title" }')
    rows = [{"title": "A", "hours": 10}, {"hours": 10, "title": "A"}]  # same row, other key order
    items, _ = split(spider.parse(fake_response("https://drops.example.org/x.json", json.dumps(rows))))
    assert items[0]["source_key"] == items[1]["source_key"] == stable_row_key(["10", "A"])


def test_jsonl_drop_keeps_a_broken_line_as_a_keyless_record(drop_spider):
    spider = drop_spider("lines", 'field_map = { title = "t" }\noptions = { key_column = "id" }')
    body = '{"id": 1, "t": "One"}\n{"id": 2, "t": \n\n{"id": 3, "t": "Three"}\n'
    items, _ = split(spider.parse(fake_response("https://drops.example.org/x.jsonl", body, "application/x-ndjson")))
    assert [i["source_key"] for i in items] == ["1", None, "3"]
    assert items[1]["payload"] == {"_line": 2, "_text": '{"id": 2, "t": '}
    assert spider.crawler.stats.get_value("credcat/page_defects/invalid_json_line") == 1


def test_semicolon_csv_in_latin1_with_declared_key_column(drop_spider):
    spider = drop_spider("latin_csv", 'field_map = { title = "Titel", awarding_body = "Anbieter" }\n'
                                      'options = { delimiter = ";", encoding = "cp1252", key_column = "Nr" }')
    body = "Nr;Titel;Anbieter\r\n17;Führung;Hochschule Köln\r\n".encode("cp1252")
    items, _ = split(spider.parse(fake_response("https://drops.example.org/k.csv", body, "text/csv")))
    assert [(i["source_key"], i["title"], i["awarding_body"]) for i in items] == [("17", "Führung", "Hochschule Köln")]


def test_undecodable_bytes_are_replaced_and_the_file_marked(drop_spider):
    spider = drop_spider("bad_bytes", 'field_map = { title = "title" }')
    body = b"title\r\nGood\r\nBad \xff byte\r\n"
    items, _ = split(spider.parse(fake_response("https://drops.example.org/b.csv", body, "text/csv")))
    assert [i["title"] for i in items] == ["Good", "Bad \ufffd byte"]
    assert items[0]["page_defects"] == ["undecodable_bytes"]


def test_rows_longer_than_the_header_keep_their_extra_cells(drop_spider):
    spider = drop_spider("ragged", 'field_map = { title = "title" }\noptions = { key_column = "id" }')
    body = "id,title\r\n1,A,surplus,cells\r\n2\r\n"
    items, _ = split(spider.parse(fake_response("https://drops.example.org/r.csv", body, "text/csv")))
    assert items[0]["payload"]["_extra_cells"] == ["surplus", "cells"]
    assert items[1]["source_key"] == "2" and "title" not in items[1]


def test_a_json_drop_without_the_declared_records_is_a_failed_page(drop_spider):
    spider = drop_spider("empty_json", 'field_map = { title = "t" }\noptions = { records_path = "items" }')
    items, _ = split(spider.parse(fake_response("https://drops.example.org/e.json", '{"error": "gone"}')))
    assert items == [] and spider.crawler.stats.get_value("credcat/failed_pages") == 1
