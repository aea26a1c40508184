"""The landing pipeline's index of items.jsonl (normalize/reuse.py LandingIndex): each line's
byte range and fingerprint, as the reuse path would compute them by reading the file."""

from __future__ import annotations

import json
import types
from pathlib import Path

import polars as pl
import scrapy
from scrapy.utils.test import get_crawler

from normalize.reuse import INDEX_NAME, fingerprint_lines, read_index, read_lines
from scrapers.pipelines import LandingPipeline


def _pipe(tmp_path: Path) -> LandingPipeline:
    crawler = get_crawler(scrapy.Spider, {"CREDCAT_LANDING_DIR": str(tmp_path), "CREDCAT_RUN_ID": "r1"})
    crawler.spider = types.SimpleNamespace(name="src", source_name="src")
    pipe = LandingPipeline.from_crawler(crawler)
    pipe.open_spider()
    return pipe


def _item(key: str, **over) -> dict:
    item = {"source": "src", "source_key": key, "fetched_at": "2027-03-01T12:00:00+00:00", "run_id": "r1",
            "title": f"Title {key} é ☃", "payload": {"id": key, "text": "ü" * (len(key) * 7)}}
    item.update(over)
    return item


def _scan(run: Path) -> pl.DataFrame:
    lines = read_lines(run / "items.jsonl")
    assert lines is not None
    return fingerprint_lines(lines)


def test_the_index_is_what_the_scan_of_the_file_gives(tmp_path: Path) -> None:
    pipe = _pipe(tmp_path)
    for n in range(5000):  # more than one batch
        pipe.process_item(_item(f"k{n}"))
    pipe.process_item(_item("bad", source_key=None))  # invalid: not in items.jsonl, not indexed
    pipe.close_spider()
    run = tmp_path / "src" / "r1"
    index, why = read_index(run)
    assert index is not None, why
    scan = _scan(run)
    assert index.height == scan.height == 5000
    cols = ["line", "fp_a", "fp_b", "n_bytes", "run_id_text", "fetched_at_text"]
    assert index.select(cols).equals(scan.select(cols))
    assert index["fp_a"].null_count() == 0 and index["run_id_text"].unique().to_list() == ["r1"]
    data = (run / "items.jsonl").read_bytes()
    for row in index.select("offset", "length").sample(50, seed=1).iter_rows():
        offset, length = row
        line = data[offset:offset + length + 1]
        assert line.endswith(b"\n") and json.loads(line)["source"] == "src"


def test_a_run_folder_appended_to_gets_no_index(tmp_path: Path) -> None:
    pipe = _pipe(tmp_path)
    pipe.process_item(_item("a"))
    pipe.close_spider()
    run = tmp_path / "src" / "r1"
    assert (run / INDEX_NAME).is_file()
    again = _pipe(tmp_path)  # the same run id crawled into the same folder again
    assert not (run / INDEX_NAME).exists()  # the earlier index is gone at once
    again.process_item(_item("b"))
    again.close_spider()
    assert not (run / INDEX_NAME).exists()
    assert read_index(run)[0] is None
    assert len((run / "items.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_an_item_utf8_cannot_hold_lands_as_invalid_and_the_index_holds(tmp_path: Path) -> None:
    pipe = _pipe(tmp_path)
    pipe.process_item(_item("a"))
    pipe.process_item(_item("surrogate", title="bad \ud800 text"))  # never raises
    pipe.process_item(_item("c"))
    pipe.close_spider()
    run = tmp_path / "src" / "r1"
    landed = [json.loads(x)["source_key"] for x in (run / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    invalid = [json.loads(x) for x in (run / "invalid.jsonl").read_text(encoding="utf-8").splitlines()]
    assert landed == ["a", "c"]
    assert [r["source_key"] for r in invalid] == ["surrogate"] and "unserializable" in invalid[0]["detail"]
    index, why = read_index(run)
    assert index is not None and index.height == 2, why
