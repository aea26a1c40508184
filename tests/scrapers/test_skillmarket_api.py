"""skillmarket_api: a Udemy-style API 2.0 read by the json_api kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from normalize.schema import RawOffering
from scrapers.spiders.skillmarket_api import SkillmarketApiSpider
from scrapers.testing import crawl_demo, fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"
PAGE2 = "http://127.0.0.1:1/skillmarket_api/api-2.0/courses/?page=2&page_size=100"


@pytest.fixture
def parsed():
    spider = offline_spider(SkillmarketApiSpider)
    return split(spider.parse(fake_response(PAGE2, (FIXTURES / "skillmarket_api_page.json").read_text())))


def test_courses_are_extracted_as_written(parsed):
    items, _ = parsed
    assert [i["source_key"] for i in items] == ["2817364", "903311", "4000001"]
    first = items[0]
    assert first["record_kind_raw"] == "course"
    assert first["url"] == "https://skillmarket.example.com/course/kubernetes-operations-364/"
    assert first["awarding_body"] == "CodeHarbor Training"  # the first visible instructor
    assert first["subjects"] == ["IT & Software", "Information Technology"]
    assert (first["level_raw"], first["workload_raw"], first["language_raw"]) == ("Intermediate Level", "10.5 total hours", "en_GB")
    assert (first["rating_raw"], first["rating_count_raw"], first["enrolment_raw"]) == ("4.61203", "1520", "18204")
    assert first["prices"] == [{"text": "€84.99", "amount": 84.99, "currency": "EUR"}]
    assert first["description"] == "Run production clusters with confidence"


def test_free_courses_and_missing_fields(parsed):
    items, _ = parsed
    free = items[1]
    assert free["prices"] == [{"text": "Free", "amount": None, "currency": None}]
    for absent in ("description", "workload_raw", "language_raw", "level_raw"):
        assert absent not in free, absent
    test = items[2]
    assert test["title"] == "TESTING_TESTING_123" and "awarding_body" not in test
    assert test["workload_raw"] == "45 total mins"
    for item in items:
        RawOffering.model_validate(item)


def test_relative_next_is_resolved_against_the_page(parsed):
    _, requests = parsed
    assert [r.url for r in requests] == ["http://127.0.0.1:1/api-2.0/courses/?page=3&page_size=100"]


@pytest.mark.slow
def test_skillmarket_api_end_to_end(tmp_path):
    run = crawl_demo("skillmarket_api", tmp_path)
    assert run.stats["complete"] is True, run.stats
    assert len(run.items) == len(run.truth) == run.stats["items"]
    assert {i["source_key"] for i in run.items} == {t["source_key"] for t in run.truth}
    assert run.invalid == []
    # Page 2 answered 429 with Retry-After: 1; the crawl waited, then read it.
    assert [(f["status"], f["headers"]) for f in run.faults] == [(429, {"Retry-After": "1"})]
    assert run.stats["throttled"] == 1 and run.stats["retries"] >= 1
    hits = [(t, s) for t, p, s in run.server_log if "page=2&" in p]
    assert [s for _, s in hits] == [429, 200] and hits[1][0] - hits[0][0] >= 0.9
