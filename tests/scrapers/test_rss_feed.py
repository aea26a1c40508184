"""Kind rss_feed: entries as raw dicts, paging by rel=next or by page number, malformed feeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from normalize.schema import RawOffering
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


# --- feeds written inline -----------------------------------------------------------------

FEED_URL = "https://courses.example.net/feed.xml"


def rss_items(*items: str, ns: str = "") -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"{ns}><channel><title>t</title>'
            f'<link>https://courses.example.net/</link>{"".join(items)}</channel></rss>').encode()


def follow(spider, request, body: bytes):
    """Parse ``body`` as the response to a request the spider made (its meta kept)."""
    response = fake_response(request.url, body, "application/rss+xml")
    response.request.meta.update(request.meta)
    return split(spider.parse(response))


ITEM_A = "<item><guid>a</guid><title>Course A</title></item>"
ITEM_B = "<item><guid>b</guid><title>Course B</title></item>"
ITEM_C = "<item><guid>c</guid><title>Course C</title></item>"


def test_a_feed_that_ignores_the_page_number_ends_at_the_first_repeat_as_a_normal_end(spider):
    feed = rss_items(ITEM_A, ITEM_B)
    items, requests = split(spider.parse(fake_response(FEED_URL, feed, "application/rss+xml")))
    assert [i["source_key"] for i in items] == ["a", "b"]
    assert [r.url for r in requests] == [f"{FEED_URL}?page=1"]
    items, requests = follow(spider, requests[0], feed)  # ?page=1 serves the same feed again
    assert items == [] and requests == []  # nothing landed twice, no ?page=2
    stats = spider.crawler.stats.get_stats()
    assert not any(k.startswith("credcat/page_defects/") for k in stats), stats
    assert stats.get("credcat/failed_pages") is None  # a complete crawl
    assert stats["credcat/paging_ends/repeated_page"] == 1


def test_page_number_paging_goes_on_while_pages_bring_new_entries(spider):
    _, requests = split(spider.parse(fake_response(FEED_URL, rss_items(ITEM_A, ITEM_B), "application/rss+xml")))
    items, requests = follow(spider, requests[0], rss_items(ITEM_B, ITEM_C))  # overlaps, and brings c
    assert [i["source_key"] for i in items] == ["b", "c"]  # a repeated key lands as for every kind
    assert [r.url for r in requests] == [f"{FEED_URL}?page=2"]
    items, requests = follow(spider, requests[0], rss_items(ITEM_B, ITEM_C))  # last page served again
    assert items == [] and requests == []
    assert spider.crawler.stats.get_value("credcat/page_defects/pagination_loop") is None


def test_a_page_that_goes_back_to_earlier_entries_is_a_pagination_loop(spider):
    _, requests = split(spider.parse(fake_response(FEED_URL, rss_items(ITEM_A), "application/rss+xml")))
    _, requests = follow(spider, requests[0], rss_items(ITEM_B))
    items, requests = follow(spider, requests[0], rss_items(ITEM_A))  # page 2 is page 0 again
    assert items == [] and requests == []
    assert spider.crawler.stats.get_value("credcat/page_defects/pagination_loop") == 1


def test_items_without_a_guid_are_keyed_by_their_absolute_link_else_by_a_hash_of_their_text(spider):
    feed = rss_items("<item><title>Linked</title><link>/c/linked</link></item>",
                     "<item><title>Bare one</title><description>d1</description></item>",
                     "<item><title>Bare two</title><description>d2</description></item>")
    items, _ = split(spider.parse(fake_response(FEED_URL, feed, "application/rss+xml")))
    keys = [i["source_key"] for i in items]
    assert keys[0] == "https://courses.example.net/c/linked"
    assert keys[1].startswith("sha1:") and keys[2].startswith("sha1:") and keys[1] != keys[2]
    for item in items:
        RawOffering.model_validate(item)
    # The hash is of the entry's text: the same in the next crawl, whatever the item's position.
    later = offline_spider(DemoFeedSpider, source=spider.source_cfg)
    alone = rss_items("<item><title>Bare two</title><description>d2</description></item>")
    again, _ = split(later.parse(fake_response(FEED_URL, alone, "application/rss+xml")))
    assert again[0]["source_key"] == keys[2]


def test_a_namespaced_element_with_attributes_keeps_its_text_and_its_attributes(spider):
    spider.field_map = {**spider.field_map, "prices": "course_price", "workload_raw": "course_effort"}
    feed = rss_items('<item><guid>1</guid><title>ns</title><course:effort unit="h">4</course:effort>'
                     '<course:price currency="USD">10</course:price><course:price currency="EUR">9</course:price>'
                     '<course:image href="https://img.example/1.jpg"/><course:level>Intro</course:level></item>',
                     ns=' xmlns:course="https://courses.example.net/ns"')
    items, _ = split(spider.parse(fake_response(FEED_URL, feed, "application/rss+xml")))
    item = items[0]
    payload = item["payload"]
    assert payload["course_effort"] == "4" and payload["course_effort_detail"] == {"unit": "h", "value": "4"}
    assert payload["course_price"] == ["10", "9"]
    assert payload["course_price_detail"] == [{"currency": "USD", "value": "10"}, {"currency": "EUR", "value": "9"}]
    assert payload["course_image"] == {"href": "https://img.example/1.jpg"}  # attributes only: as feedparser reads it
    assert payload["course_level"] == "Intro"
    assert item["workload_raw"] == "4"
    assert item["prices"] == [{"text": "10", "currency": "USD"}, {"text": "9", "currency": "EUR"}]
    RawOffering.model_validate(item)
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xmlns:c="https://x.example/ns">
      <title>A</title><entry><id>tag:x.example,2027:1</id><title>t</title><c:Price Currency="GBP">5</c:Price></entry>
    </feed>"""
    spider.field_map["prices"] = "c_price"
    items, _ = split(spider.parse(fake_response("https://courses.example.net/atom", atom, "application/atom+xml")))
    assert items[0]["payload"]["c_price"] == "5"  # feedparser's key: lower-cased, prefix as written
    assert items[0]["prices"] == [{"text": "5", "currency": "GBP"}]


def test_a_guid_or_atom_id_that_is_not_a_web_url_never_becomes_the_url(spider):
    feed = rss_items("<item><guid>1</guid><title>Numbered</title></item>",
                     "<item><guid>https://courses.example.net/c/2</guid><title>Permalink</title></item>")
    items, _ = split(spider.parse(fake_response(FEED_URL, feed, "application/rss+xml")))
    assert [(i["source_key"], i["url"]) for i in items] == [
        ("1", FEED_URL), ("https://courses.example.net/c/2", "https://courses.example.net/c/2")]
    assert "link" not in items[0]["payload"]
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
      <entry><id>urn:uuid:2</id><title>Enclosure only</title><link rel="enclosure" href="https://x.example/c.mp4"/></entry>
    </feed>"""
    items, _ = split(spider.parse(fake_response("https://courses.example.net/atom", atom, "application/atom+xml")))
    assert [(i["source_key"], i["url"]) for i in items] == [("urn:uuid:2", "https://courses.example.net/atom")]
