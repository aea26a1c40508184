"""Kind file_drop: CSV / JSON / JSON Lines drops read through a declared mapping, no code."""

from __future__ import annotations

import json

import pytest

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


# --- reading the format in general: files no declaration foresaw ------------------------------

ROWS = 'field_map = { title = "Title", awarding_body = "Provider" }'


def read(spider, url, body, content_type="text/csv"):
    items, _ = split(spider.parse(fake_response(url, body, content_type)))
    return items


def test_an_unbalanced_quote_loses_its_line_only(drop_spider):
    spider = drop_spider("open_quote", ROWS)
    items = read(spider, "https://drops.example.org/q.csv", 'Title,Provider\nA,P1\n"B,P2\nC,P3\nD,P4\n')
    assert [(i["source_key"] is None, i.get("title")) for i in items] == [
        (False, "A"), (True, None), (False, "C"), (False, "D")]
    assert items[1]["payload"] == {"_line": 3, "_text": '"B,P2'}  # kept among the rejects
    assert spider.crawler.stats.get_value("credcat/page_defects/malformed_csv_row") == 1


def test_a_cell_longer_than_csvs_default_limit_is_read(drop_spider):
    spider = drop_spider("long_cell", ROWS)
    body = 'Title,Provider\n"' + "x" * 200_000 + '",P1\nB,P2\n'
    items = read(spider, "https://drops.example.org/l.csv", body)
    assert [len(i["title"]) for i in items] == [200_000, 1]


def test_a_record_csv_refuses_is_skipped_and_reading_resumes():
    import csv

    from scrapers.base.file_drop import csv_records

    lines = ["a,b\n", '"' + "x" * 500 + '",1\n', "c,d\n"]
    limit = csv.field_size_limit(100)
    try:
        got = list(csv_records(lines, 0, {"delimiter": ",", "quotechar": '"'}))
    finally:
        csv.field_size_limit(limit)
    assert [(line, cells) for line, cells, _ in got] == [(1, ["a", "b"]), (2, None), (3, ["c", "d"])]
    assert "field larger than field limit" in got[1][2]


def test_a_tsv_file_is_split_on_tabs(drop_spider):
    spider = drop_spider("tabs", ROWS)
    by_name = read(spider, "https://drops.example.org/a.tsv", "Title\tProvider\nA, the course\tP1\n")
    by_type = read(spider, "https://drops.example.org/export?id=3", "Title\tProvider\nB\tP2\n",
                   "text/tab-separated-values; charset=utf-8")
    assert [(i["title"], i["awarding_body"]) for i in by_name + by_type] == [("A, the course", "P1"), ("B", "P2")]


def test_jsonl_lines_are_split_on_line_feeds_only(drop_spider):
    spider = drop_spider("seps", 'field_map = { title = "t" }\noptions = { key_column = "id" }')
    body = '{"id": 1, "t": "a\u2028b"}\r\n{"id": 2, "t": "c\x85d\u2029e"}\n'
    items = read(spider, "https://drops.example.org/s.jsonl", body, "application/x-ndjson")
    assert [(i["source_key"], i["title"]) for i in items] == [("1", "a\u2028b"), ("2", "c\x85d\u2029e")]
    assert spider.crawler.stats.get_value("credcat/page_defects/invalid_json_line") is None


def test_the_content_type_charset_is_read_unless_an_encoding_is_declared(drop_spider):
    body = "Title,Provider\nCafé,P\n"
    latin = read(drop_spider("latin", ROWS), "https://drops.example.org/export?id=3", body.encode("latin-1"),
                 "text/csv; charset=ISO-8859-1")
    assert latin[0]["title"] == "Café" and "page_defects" not in latin[0]
    declared = drop_spider("declared", ROWS + '\noptions = { encoding = "utf-8" }')
    assert read(declared, "https://drops.example.org/d.csv", body.encode("utf-8"),
                "text/csv; charset=ISO-8859-1")[0]["title"] == "Café"
    bogus = read(drop_spider("bogus", ROWS), "https://drops.example.org/b.csv", body.encode("utf-8"),
                 "text/csv; charset=x-no-such-charset")
    assert bogus[0]["title"] == "Café"
    utf16 = read(drop_spider("utf16", ROWS), "https://drops.example.org/u.csv", body.encode("utf-16"))
    assert utf16[0]["title"] == "Café"


def test_an_encoding_python_does_not_know_fails_at_start(drop_spider):
    with pytest.raises(ValueError, match="encoding"):
        drop_spider("typo", ROWS + '\noptions = { encoding = "utf-9" }')


def test_a_repeated_header_name_keeps_the_first_column(drop_spider):
    spider = drop_spider("dupes", ROWS)
    items = read(spider, "https://drops.example.org/d.csv", "Title,Provider,Title\nReal title,P,\n")
    assert items[0]["title"] == "Real title"
    assert items[0]["payload"] == {"Title": "Real title", "Provider": "P", "Title_2": ""}
    assert items[0]["page_defects"] == ["duplicate_columns"]


def test_rows_of_empty_cells_are_skipped_and_counted(drop_spider):
    spider = drop_spider("blanks", ROWS)
    items = read(spider, "https://drops.example.org/e.csv", "Title,Provider\n,\n\nA,P\n , \n,,\n")
    assert [i["title"] for i in items] == ["A"]
    assert spider.crawler.stats.get_value("credcat/empty_rows") == 4


@pytest.mark.parametrize("body, options", [
    ('[{"Title": "A", "Provider": "P"}]', ""),
    ('{"courses": [{"Title": "A", "Provider": "P"}]}', 'records_path = "courses"'),
    ('{"Title": "A", "Provider": "P"}\n{"Title": "B", "Provider": "Q"}\n', ""),
])
def test_a_json_body_without_a_telling_name_or_type_is_read_as_json(drop_spider, body, options):
    spider = drop_spider("sniffed", ROWS + f"\noptions = {{ {options} }}")
    items = read(spider, "https://drops.example.org/download", body, "application/octet-stream")
    assert [(i["title"], i["awarding_body"]) for i in items][:1] == [("A", "P")]
    assert len(items) == body.count("Title")


def test_excel_sep_line_names_the_delimiter(drop_spider):
    spider = drop_spider("excel", ROWS)
    items = read(spider, "https://drops.example.org/x.csv", "sep=;\r\nTitle;Provider\r\nA, part 1;P\r\n")
    assert [(i["title"], i["awarding_body"]) for i in items] == [("A, part 1", "P")]


def test_undeclared_semicolons_and_padded_headers_are_read(drop_spider):
    spider = drop_spider("semi", ROWS)
    items = read(spider, "https://drops.example.org/s.csv", " Title ; Provider \nA;P\nB, C;Q\n")
    assert [(i["title"], i["awarding_body"]) for i in items] == [("A", "P"), ("B, C", "Q")]
    assert "page_defects" not in items[0]


def test_a_one_column_file_is_not_split_on_a_guess(drop_spider):
    spider = drop_spider("one_col", 'field_map = { title = "Title" }')
    items = read(spider, "https://drops.example.org/o.csv", "Title\nA; or B\nC\n")
    assert [i["title"] for i in items] == ["A; or B", "C"]


def test_a_header_without_any_mapped_column_is_a_defect(drop_spider):
    spider = drop_spider("unmapped", ROWS + '\noptions = { delimiter = "," }')
    items = read(spider, "https://drops.example.org/u.csv", "Title;Provider\nA;P\n")
    assert "title" not in items[0] and items[0]["page_defects"] == ["mapped_columns_missing"]
    assert spider.crawler.stats.get_value("credcat/page_defects/mapped_columns_missing") == 1


def test_an_object_of_records_keyed_by_id(drop_spider):
    spider = drop_spider("keyed", ROWS + '\noptions = { records_path = "courses", key_column = "code" }')
    body = json.dumps({"courses": {"c1": {"Title": "A"}, "c2": {"Title": "B", "code": "own"}}})
    items = read(spider, "https://drops.example.org/k.json", body, "application/json")
    assert [(i["source_key"], i["title"]) for i in items] == [("c1", "A"), ("own", "B")]
    assert items[0]["payload"] == {"code": "c1", "Title": "A"}
    # Without a key column the key is kept as "id"; one record at the path stays one record.
    plain = drop_spider("keyed_plain", ROWS + '\noptions = { records_path = "courses" }')
    items = read(plain, "https://drops.example.org/k.json", body, "application/json")
    assert [i["payload"].get("id") for i in items] == ["c1", "c2"]
    one = read(plain, "https://drops.example.org/o.json",
               json.dumps({"courses": {"Title": "A", "Provider": {"name": "P"}}}), "application/json")
    assert [i["title"] for i in one] == ["A"]
