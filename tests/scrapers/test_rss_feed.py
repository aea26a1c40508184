"""Kind rss_feed: entries as raw dicts, paging by rel=next or by page number, malformed feeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrapers.base.rss_feed import RssFeedSpider
from scrapers.testing import fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"
REGISTRY = """
[sources.demo_feed]
spider = "demo_feed"
kind = "rss_feed"
format = "RSS"
provider_kind = "training_provider"
start_urls = ["https://courses.example.net/feed.xml"]
"""


class DemoFeedSpider(RssFeedSpider):
    name = "demo_feed"


@pytest.fixture
def spider(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(REGISTRY)
    return offline_spider(DemoFeedSpider, registry=str(path))


def rss(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_a_feed_without_paging_links_is_paged_by_number_until_a_page_is_empty(spider):
    items, requests = split(spider.parse(fake_response("https://courses.example.net/feed.xml",
                                                       rss("plain_feed_no_paging_links.xml"), "application/rss+xml")))
    assert [(i["source_key"], i["title"], i["url"]) for i in items] == [
        ("sc-0042", "Workplace Safety", "https://courses.example.net/c/workplace-safety")]
    assert items[0]["description"] == "Hazards, controls and the law."
    assert [r.url for r in requests] == ["https://courses.example.net/feed.xml?page=1"]  # first_page is 0
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    items, requests = split(spider.parse(fake_response(requests[0].url, empty, "application/rss+xml")))
    assert items == [] and requests == []


def test_rel_next_is_followed_and_namespaced_elements_stay_raw(spider):
    url = "https://learnwave.example.org/api/v2/report/course-feed/rss?page=0"
    items, requests = split(spider.parse(fake_response(url, rss("learnwave_feed_page0.xml"), "application/rss+xml")))
    assert [r.url for r in requests] == ["https://learnwave.example.org/api/v2/report/course-feed/rss?page=1"]
    payload = items[0]["payload"]
    assert payload["course_id"] == "course-v1:HarbourviewX+PH204x+2T2027"
    assert payload["course_image-banner"].endswith("/31337.jpg")
    assert payload["course_prerequisites"] == "None"  # feedparser trims surrounding whitespace, nothing else
    assert payload["course_subtitle"] == "<p>Population health, measured.</p>"
    assert items[0]["description"] == "<p><strong>Track outbreaks.</strong></p><p>Learn study design &amp; surveillance.</p>"
    assert items[0]["title"] == "Epidemiology & Public Health"
    assert not any(k.endswith("_parsed") for k in payload)  # JSON-safe payload


def test_a_last_page_with_paging_links_but_no_next_ends_the_feed_and_a_bare_ampersand_is_survived(spider):
    url = "https://learnwave.example.org/api/v2/report/course-feed/rss?page=1"
    items, requests = split(spider.parse(fake_response(url, rss("learnwave_feed_last_malformed.xml"), "application/rss+xml")))
    assert requests == []
    assert len(items) == 1 and items[0]["title"] == "Contract Law"
    assert items[0]["page_defects"] == ["malformed_feed"]
    assert items[0]["payload"]["course_prerequisites"] == "Reading & writing English."
    assert spider.crawler.stats.get_value("credcat/page_defects/malformed_feed") == 1


def test_a_page_that_is_not_a_feed_is_a_failed_page(spider):
    items, requests = split(spider.parse(fake_response("https://courses.example.net/feed.xml",
                                                       "<html><body>Maintenance</body></html>", "text/html")))
    assert items == [] and requests == []
    assert spider.crawler.stats.get_value("credcat/failed_pages") == 1


def test_a_next_link_that_loops_back_is_not_followed(spider):
    url = "https://learnwave.example.org/api/v2/report/course-feed/rss?page=1"
    spider.page_request(url)
    looping = rss("learnwave_feed_page0.xml").replace(b'rel="next" href="https://learnwave.example.org/api/v2/report/course-feed/rss?page=1"',
                                                       b'rel="next" href="?page=1"')
    _, requests = split(spider.parse(fake_response(url.replace("page=1", "page=0"), looping, "application/rss+xml")))
    assert requests == []  # ?page=1 resolved, already requested
    assert spider.crawler.stats.get_value("credcat/page_defects/pagination_loop") == 1
