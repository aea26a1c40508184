"""Kind classcentral on hand-written pages of an aggregator site (course, listing, report, index)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from normalize.schema import RawOffering
from scrapers.base.classcentral import split_effort
from scrapers.registry import Source
from scrapers.spiders.classcentral import GenericClassCentralSpider
from scrapers.testing import fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"


def source(**options) -> Source:
    return Source(name="agg_test", spider="classcentral", kind="classcentral", format="html",
                  provider_kind="aggregator", start_urls=["https://agg.example/"], allowed_domains=["agg.example"],
                  options=options)


def page(name: str, url: str) -> HtmlResponse:
    return fake_response(url, (FIXTURES / name).read_bytes(), "text/html; charset=utf-8", response_cls=HtmlResponse)


@pytest.fixture
def spider() -> GenericClassCentralSpider:
    return offline_spider(GenericClassCentralSpider, source=source(site_url="https://agg.example"))


def test_course_page_is_one_offering_and_broken_jsonld_is_a_defect(spider):
    items, requests = split(spider.parse(page("aggregator_course.html", "https://agg.example/saved/course.html")))
    assert requests == [] and len(items) == 1
    c = items[0]
    RawOffering.model_validate(c)
    assert (c["source_key"], c["url"]) == ("77", "https://agg.example/course/intro-to-widgets-77")
    assert (c["title"], c["awarding_body"], c["platform"]) == ("Intro to Widgets", "Widget State University", "WidgetU Online")
    assert (c["rating_raw"], c["rating_count_raw"]) == ("4.5", "12")
    assert [(p["amount"], p["currency"]) for p in c["prices"]] == [("49", "USD")]
    assert (c["is_free_raw"], c["language_raw"], c["level_raw"]) == ("Paid Course", "Spanish", "Beginner")
    assert (c["duration_raw"], c["workload_raw"]) == ("3 weeks long", "6 hours worth of material")
    assert c["start_dates_raw"] == ["8th Jan, 2024", "4th Mar, 2024"]
    assert c["subjects"] == ["Tools & Widgets"]
    assert c["page_defects"] == ["invalid_jsonld"]


def test_listing_cards(spider):
    items, _ = split(spider.parse(page("aggregator_listing.html", "https://agg.example/subject/widgets")))
    assert [i["source_key"] for i in items] == ["77", "78"]
    a, b = items
    for i in items:
        RawOffering.model_validate(i)
    assert (a["title"], a["awarding_body"], a["platform"]) == ("Intro to Widgets", "Widget State University", "WidgetU Online")
    assert a["payload"]["institutions"] == ["Widget State University", "Gadget Institute"]
    assert (a["rating_raw"], a["rating_count_raw"]) == ("3.5/5", "1,204 reviews")
    assert (a["workload_raw"], a["duration_raw"], a["start_dates_raw"]) == ("2-3 hours a week", "5 weeks long", ["8th Jan, 2024"])
    assert a["is_free_raw"] == "Free Online Course (Audit)" and a["description"] == "Build widgets from scratch."
    assert a["url"] == "https://agg.example/course/intro-to-widgets-77"
    # no lit star: not rated; the platform from the click metadata; a pace is timing, not a date
    assert "rating_raw" not in b and b["platform"] == "Tubes" and b["timing_raw"] == "Self paced"
    assert "start_dates_raw" not in b and "awarding_body" not in b


def test_report_lists_only_credentials(spider):
    items, _ = split(spider.parse(page("aggregator_report.html", "https://agg.example/report/widget-certs/")))
    assert [i["title"] for i in items] == ["Widget Basics", "Widget Safety Test", "Widget Path One"]
    basics, test, path = items
    assert (basics["awarding_body"], basics["platform"], basics["rating_raw"], basics["rating_count_raw"]) == (
        "Widget State University", "WidgetU Online", "4/5", "21")
    assert basics["record_kind_raw"] == "course"
    assert test["awarding_body"] == "WidgetU" and "record_kind_raw" not in test  # from the heading
    assert "awarding_body" not in path and path["payload"]["section"] == "Widget Quests"


def test_report_without_credentials_is_a_defect(spider):
    html = b'<html><body><article><div class="wysiwyg"><h2>Our news</h2><ul><li><a>A post</a></li></ul></div></article></body></html>'
    items, _ = split(spider.parse(fake_response("https://agg.example/report/news/", html, "text/html", response_cls=HtmlResponse)))
    assert items == []
    assert spider.crawler.stats.get_value("credcat/page_defects/no_listed_credentials") == 1


def test_index_page_entries_are_read_and_followed(spider):
    items, requests = split(spider.parse(page("aggregator_index.html", "file:///saved/providers.html")))
    assert items == []
    assert [r.url for r in requests] == ["https://agg.example/provider/widgetu", "https://agg.example/provider/gadgets"]
    assert spider.crawler.stats.get_value("credcat/index_entries") == 3


def test_index_following_can_be_switched_off():
    spider = offline_spider(GenericClassCentralSpider, source=source(follow_index=False))
    _, requests = split(spider.parse(page("aggregator_index.html", "https://agg.example/providers")))
    assert requests == [] and spider.crawler.stats.get_value("credcat/index_entries") == 3


def test_unknown_option_fails_at_start():
    with pytest.raises(ValueError, match="not options of kind classcentral"):
        offline_spider(GenericClassCentralSpider, source=source(results_path="x"))


def test_unrecognised_page_is_a_defect(spider):
    items, _ = split(spider.parse(fake_response("https://agg.example/about", b"<html><body><p>About us</p></body></html>",
                                                "text/html", response_cls=HtmlResponse)))
    assert items == [] and spider.crawler.stats.get_value("credcat/page_defects/unrecognised_page") == 1


@pytest.mark.parametrize(("text", "expected"), [
    ("17 hours worth of material, 7 weeks long", {"workload_raw": "17 hours worth of material", "duration_raw": "7 weeks long"}),
    ("4 weeks long", {"duration_raw": "4 weeks long"}),
    ("300 hours worth of material", {"workload_raw": "300 hours worth of material"}),
])
def test_split_effort(text, expected):
    assert split_effort(text) == expected
