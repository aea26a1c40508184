"""learnwave_feed: an edX-style course feed (RSS 2.0, course: namespace) read by the rss_feed kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from normalize.schema import RawOffering
from scrapers.spiders.learnwave_feed import LearnwaveFeedSpider
from scrapers.testing import crawl_demo, fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"
FEED = "http://127.0.0.1:1/learnwave_feed/api/v2/report/course-feed/rss?page={}"


def parse(name: str, page: int):
    spider = offline_spider(LearnwaveFeedSpider)
    body = (FIXTURES / name).read_bytes()
    return spider, *split(spider.parse(fake_response(FEED.format(page), body, "application/rss+xml; charset=utf-8")))


def test_start_url_is_page_zero():
    assert offline_spider(LearnwaveFeedSpider).start_urls == [FEED.format(0)]


def test_items_are_read_with_their_course_elements():
    _, items, requests = parse("learnwave_feed_page0.xml", 0)
    first = items[0]
    assert first["source_key"] == "course-v1:HarbourviewX+PH204x+2T2027"
    assert first["url"] == "https://learnwave.example.org/course/epidemiology-public-health-harbourviewx-ph204x"
    assert first["title"] == "Epidemiology & Public Health"
    assert first["description"].startswith("<p><strong>Track outbreaks.")  # escaped HTML, unescaped once by XML
    assert (first["awarding_body"], first["credential_type_raw"], first["subjects"]) == (
        "HarbourviewX", "Professional Certificate", ["Health"])
    assert (first["workload_raw"], first["duration_raw"], first["timing_raw"]) == ("2 - 4 hours per week", "6 weeks", "self_paced=1")
    assert first["prices"] == [{"text": "£149.00"}]
    assert first["start_dates_raw"] == ["2027-06-01 00:00:00"]
    assert first["platform"] == "LearnWave"
    assert first["payload"]["course_profed"] == "1"
    assert [r.url for r in requests] == ["https://learnwave.example.org/api/v2/report/course-feed/rss?page=1"]


def test_empty_elements_are_absent():
    _, items, _ = parse("learnwave_feed_page0.xml", 0)
    second = items[1]
    for absent in ("workload_raw", "duration_raw", "prerequisites_raw", "prices", "credential_type_raw"):
        assert absent not in second, absent
    assert second["timing_raw"] == "self_paced=0"
    for item in items:
        RawOffering.model_validate(item)


def test_a_malformed_last_page_is_still_read_and_marked():
    spider, items, requests = parse("learnwave_feed_last_malformed.xml", 1)
    assert requests == []
    assert [(i["source_key"], i["page_defects"]) for i in items] == [("course-v1:AuroraX+LAW150x+3T2027", ["malformed_feed"])]
    assert items[0]["prerequisites_raw"] == "Reading & writing English."


@pytest.mark.slow
def test_learnwave_feed_end_to_end(tmp_path):
    run = crawl_demo("learnwave_feed", tmp_path)
    assert run.stats["complete"] is True, run.stats
    assert len(run.items) == len(run.truth) == run.stats["items"]
    assert {i["source_key"] for i in run.items} == {t["source_key"] for t in run.truth}
    assert run.invalid == []
    # The feed's one malformed page was read, not lost.
    assert run.stats["page_defects"] == {"malformed_feed": 1}
    assert sum("malformed_feed" in i["page_defects"] for i in run.items) >= 1
    pages = [p for _, p, s in run.server_log if "course-feed" in p]
    assert len(pages) == len(set(pages)) >= 2  # every page once, ended by the missing rel=next
