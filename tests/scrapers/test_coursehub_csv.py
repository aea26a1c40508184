"""coursehub_csv: an aggregator's CSV export read by the file_drop kind, mapping declared in sources.toml."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from normalize.schema import RawOffering
from scrapers.base.file_drop import stable_row_key
from scrapers.mirror.generate import generate
from scrapers.mirror.server import RunningServer
from scrapers.registry import DEFAULT_REGISTRY, load_sources
from scrapers.run import crawl
from scrapers.spiders.coursehub_csv import CoursehubCsvSpider
from scrapers.testing import crawl_demo, fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"
URL = "http://127.0.0.1:1/coursehub_csv/drop/courses.csv"


@pytest.fixture
def items():
    spider = offline_spider(CoursehubCsvSpider)
    body = (FIXTURES / "coursehub_sample.csv").read_bytes()
    found, requests = split(spider.parse(fake_response(URL, body, "text/csv; charset=utf-8")))
    assert requests == []
    return found


def test_the_mapping_is_declared_in_the_registry_not_in_code():
    source = load_sources()["coursehub_csv"]
    assert source.field_map["title"] == "Course Name"
    assert source.options["key_columns"] == ["Platform", "Course Link"]
    assert CoursehubCsvSpider.field_map == {}


def test_rows_are_keyed_by_a_hash_of_the_declared_key_columns(items):
    assert len(items) == 4
    assert items[0]["source_key"] == stable_row_key(["OpenCourse", "https://opencourse.example.org/course/data-visualization-7"])
    assert len({i["source_key"] for i in items}) == 4


def test_the_bom_does_not_hide_the_first_column(items):
    assert items[0]["title"] == "Data Visualization"


def test_cells_are_kept_as_written_dirt_and_all(items):
    first, second, third, fourth = items
    assert (first["rating_raw"], first["rating_count_raw"]) == ("4.7stars", "43K")
    assert first["duration_raw"] == "6 weeks · 3-5 hours/week"
    assert first["skills"] == ["visualise data", "statistics"]  # split on the declared separator
    assert first["prices"] == [{"text": "£79.00"}]
    assert first["url"] == "https://opencourse.example.org/course/data-visualization-7"
    assert first["platform"] == "OpenCourse"  # the row's platform, not the aggregator's
    # Mojibake stays: repairing it (ftfy) is normalization's job.
    assert second["awarding_body"] == "UniversitÃ© de Lyon-Saint-Clair"
    assert second["duration_raw"] == "12 weeks Â· 4-6 hours/week" and second["prices"] == [{"text": "â‚¬149"}]
    assert second["description"].startswith("Youâ€™ll learn") and second["description"].count("\n") == 2
    assert second["rating_count_raw"] == "1,284"
    # Empty cells are absent, not empty strings.
    assert set(third) >= {"title", "awarding_body", "platform", "url"}
    for absent in ("subjects", "level_raw", "rating_raw", "description", "skills", "duration_raw", "prices"):
        assert absent not in third, absent
    assert third["platform"] == "Association site"
    assert (fourth["level_raw"], fourth["rating_raw"], fourth["rating_count_raw"]) == ("Mixed", "4.9 out of 5", "12 reviews")
    assert fourth["credential_type_raw"] == "Course"
    for item in items:
        RawOffering.model_validate(item)


@pytest.mark.slow
def test_coursehub_csv_end_to_end(tmp_path):
    run = crawl_demo("coursehub_csv", tmp_path)
    assert run.stats["complete"] is True, run.stats
    assert len(run.items) == len(run.truth) == run.stats["items"]
    assert {i["source_key"] for i in run.items} == {t["source_key"] for t in run.truth}
    assert run.invalid == []
    assert run.faults == []  # a file drop has no pagination faults; its dirt is in the cells
    assert any("Â·" in (i.get("duration_raw") or "") for i in run.items)
    assert any("\n" in (i.get("description") or "") for i in run.items)


@pytest.mark.slow
def test_a_new_file_drop_is_one_registry_entry_and_no_code(tmp_path):
    """The generic file_drop spider crawls a source it has never seen, from its table alone."""
    declared = tomllib.loads(DEFAULT_REGISTRY.read_text())["sources"]["coursehub_csv"]
    fm = ", ".join(f'{k} = "{v}"' for k, v in declared["field_map"].items())
    registry = tmp_path / "sources.toml"
    registry.write_text(
        "[sources.partner_drop]\n"
        'spider = "file_drop"\nkind = "file_drop"\nformat = "CSV"\nprovider_kind = "aggregator"\n'
        'start_urls = ["{mirror}/coursehub_csv/drop/courses.csv"]\n'
        f"field_map = {{ {fm} }}\n"
        'options = { key_columns = ["Platform", "Course Link"] }\n'
    )
    generate(tmp_path / "site", sources=["coursehub_csv"])
    with RunningServer(tmp_path / "site") as server:
        source = load_sources(registry)["partner_drop"]
        stats = crawl(source, "r1", tmp_path / "landing", mirror_url=server.base_url, registry=registry)
    truth = [json.loads(x) for x in (tmp_path / "site" / "truth.jsonl").read_text().splitlines()]
    assert stats["complete"] is True and stats["source"] == "partner_drop"
    assert stats["items"] == len(truth)
