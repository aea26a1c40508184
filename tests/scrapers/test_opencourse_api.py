"""opencourse_api: an edX-style Course API read by the json_api kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from normalize.schema import RawOffering
from scrapers.spiders.opencourse_api import OpencourseApiSpider
from scrapers.testing import crawl_demo, fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"
PAGE1 = "http://127.0.0.1:1/opencourse_api/api/courses/v1/courses/?page=1&page_size=50"


@pytest.fixture
def parsed():
    spider = offline_spider(OpencourseApiSpider)
    body = (FIXTURES / "opencourse_api_page1.json").read_text()
    return split(spider.parse(fake_response(PAGE1, body)))


def test_start_url_comes_from_the_registry():
    assert offline_spider(OpencourseApiSpider).start_urls == [PAGE1]


def test_course_runs_are_extracted_as_written(parsed):
    items, _ = parsed
    assert [i["source_key"] for i in items] == [
        "course-v1:KestrelX+DS120x+2T2027", "course-v1:RheinauX+EE301x+3T2027", "course-v1:oc+test01+1T2027"]
    first = items[0]
    assert first["title"] == "Applied Machine Learning"
    # HTML, entities and &nbsp; stay: stripping markup is normalization's job.
    assert first["description"].startswith("<p><strong>Build models that work.</strong></p>")
    assert "&amp;" in first["description"] and "&nbsp;" in first["description"]
    assert first["awarding_body"] == "Kestrel Polytechnic"  # owners[0].name before the org code
    assert first["platform"] == "OpenCourse"
    assert first["credential_type_raw"] == "Professional Certificate"
    assert first["subjects"] == ["Data Science"]
    assert (first["level_raw"], first["workload_raw"], first["duration_raw"]) == ("Intermediate", "4-6 hours per week", "8 weeks")
    assert (first["language_raw"], first["timing_raw"]) == ("en-us", "self")
    assert first["start_dates_raw"] == ["2027-05-01T00:00:00Z"]
    assert first["prices"] == [{"amount": "0.00", "currency": "USD", "label": "audit"},
                               {"amount": "149.00", "currency": "USD", "label": "verified"}]
    assert first["payload"]["media"]["course_video"] == {"uri": None}


def test_missing_fields_stay_missing(parsed):
    items, _ = parsed
    second = items[1]
    assert second["awarding_body"] == "RheinauX"  # no owners: the org code, as given
    for absent in ("description", "workload_raw", "duration_raw", "level_raw", "credential_type_raw"):
        assert absent not in second, absent
    assert second["prices"] == [{"amount": "79.00", "currency": "EUR", "label": "professional"}]


def test_test_courses_are_kept_for_normalization_to_flag(parsed):
    items, _ = parsed
    assert items[2]["title"] == "TestCourse DO NOT USE" and items[2]["prices"] == []
    assert items[2]["payload"]["hidden"] is True


def test_every_item_is_a_valid_raw_offering(parsed):
    items, _ = parsed
    for item in items:
        RawOffering.model_validate(item)


def test_next_page_is_requested(parsed):
    _, requests = parsed
    assert [r.url for r in requests] == ["https://api.opencourse.example.org/api/courses/v1/courses/?page=2&page_size=50"]


@pytest.mark.slow
def test_opencourse_api_end_to_end(tmp_path):
    run = crawl_demo("opencourse_api", tmp_path)
    assert run.stats["complete"] is True, run.stats
    assert len(run.items) == len(run.truth) == run.stats["items"]
    assert {i["source_key"] for i in run.items} == {t["source_key"] for t in run.truth}
    assert run.invalid == []
    assert any(t["is_test"] for t in run.truth)
    # The injected 500 on page 2 was retried, and the crawl went on.
    assert [f["status"] for f in run.faults] == [500]
    assert run.stats["retries"] >= 1 and run.stats["status_counts"].get("500") == 1
    assert [s for _, p, s in run.server_log if "page=2&" in p] == [500, 200]
