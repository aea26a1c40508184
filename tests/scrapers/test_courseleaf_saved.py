"""Kind courseleaf on a saved page (file://): links resolve on the site it was saved from."""

from __future__ import annotations

from pathlib import Path

import pytest
from parsel import Selector
from scrapy.http import HtmlResponse

from scrapers.base.courseleaf import CourseLeafSpider
from scrapers.registry import Source
from scrapers.spiders.courseleaf import GenericCourseLeafSpider
from scrapers.testing import fake_response, offline_spider, split

INDEX = Path(__file__).parent / "fixtures" / "courseleaf_saved_index.html"


def spider_for(**options) -> GenericCourseLeafSpider:
    src = Source(name="saved_cl", spider="courseleaf", kind="courseleaf", format="html", provider_kind="university",
                 location=[str(INDEX)], options=options)
    return offline_spider(GenericCourseLeafSpider, source=src)


def saved() -> HtmlResponse:
    return fake_response(INDEX.as_uri(), INDEX.read_bytes(), "text/html", response_cls=HtmlResponse)


def test_saved_index_resolves_links_on_its_site_and_skips_files():
    spider = spider_for(site_url="https://cat.example.edu")
    items, requests = split(spider.parse(saved()))
    assert items == []
    # the path comes from CourseLeaf's navigation (li.self > ul/@id); the page's PDF is not a subject
    assert [r.url for r in requests] == ["https://cat.example.edu/catalog/courses/acct/",
                                         "https://cat.example.edu/catalog/courses/bio/"]
    assert all(r.callback == spider.parse_subject for r in requests)


def test_saved_index_without_site_url_requests_no_missing_files():
    _, requests = split(spider_for().parse(saved()))
    assert requests == []  # root-relative links mean nothing under file://; the PDF and the page itself are no subjects


def test_site_name_from_courseleaf_title():
    assert CourseLeafSpider.site_name(Selector(text=INDEX.read_text())) == "Example College"
    assert CourseLeafSpider.site_name(Selector(text="<title>Plain</title>")) is None


def test_unknown_option_fails_at_start():
    with pytest.raises(ValueError, match="not options of kind courseleaf"):
        spider_for(results_path="x")
