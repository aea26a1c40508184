"""Kind sitemap_jsonld on shapes of sitemaps and JSON-LD that real sites write (small inline inputs)."""

from __future__ import annotations

import gzip
import json

import pytest
from scrapy.http import HtmlResponse

from normalize.schema import RawOffering
from scrapers.registry import Source
from scrapers.spiders.sitemap_jsonld import GenericSitemapJsonLdSpider
from scrapers.testing import fake_response, offline_spider, split

SITE = "https://uni.example"
URLSET = ('<url><loc>https://uni.example/courses/a</loc><lastmod>2026-01-02</lastmod></url>'
          '<url><loc>https://uni.example/courses/b</loc></url>')
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def spider(**options) -> GenericSitemapJsonLdSpider:
    source = Source(name="t_sitemap_jsonld", spider="sitemap_jsonld", kind="sitemap_jsonld", format="test",
                    provider_kind="university", start_urls=[f"{SITE}/sitemap.xml"], options=options)
    return offline_spider(GenericSitemapJsonLdSpider, source=source)


def page(*blocks: str) -> str:
    scripts = "".join(f'<script type="application/ld+json">{b}</script>' for b in blocks)
    return f"<html><head>{scripts}</head><body><h1>Page</h1></body></html>"


def read_page(sp, html: str, url: str = f"{SITE}/courses/") -> tuple[list[dict], list]:
    items, requests = split(sp.parse_page(fake_response(url, html, "text/html", response_cls=HtmlResponse)))
    for item in items:
        RawOffering.model_validate(item)
    return items, requests


def defects(sp) -> dict[str, int]:
    stats = sp.crawler.stats.get_stats()
    return {k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("credcat/page_defects/")}


# --- @id that is no string -------------------------------------------------------------------------

@pytest.mark.parametrize("ident", [["a", "b"], {"x": 1}])
def test_an_id_that_is_a_list_or_an_object_is_no_id(ident):
    sp = spider()
    block = json.dumps([{"@type": "Course", "name": "Course one", "@id": ident},
                        {"@type": "EducationalOccupationalProgram", "name": "Program",
                         "hasCourse": [{"@type": "Course", "@id": ident, "name": "Part"}]}])
    items, _ = read_page(sp, page(block))
    assert sorted((i["title"], i["source_key"]) for i in items) == [("Course one", "/courses/#1"),
                                                                     ("Program", "/courses/#0")]


# --- a byte order mark before the JSON ------------------------------------------------------------

def test_a_block_that_starts_with_a_byte_order_mark_is_read():
    sp = spider()
    items, _ = read_page(sp, page('\ufeff{"@type": "Course", "name": "With BOM"}',
                                  '\ufeff{"@type": "Course", "name": "BOM and comma",}'))
    assert [i["title"] for i in items] == ["With BOM", "BOM and comma"]
    assert defects(sp) == {"repaired_jsonld": 1}  # the trailing comma; the BOM is no defect


# --- values in several languages ----------------------------------------------------------------

def test_a_name_in_several_languages_gives_one_language():
    sp = spider()
    block = ('{"@type": "Course", "name": [{"@value": "Kurs", "@language": "de"}, {"@value": "Course", "@language": "en"}],'
             ' "about": [{"@value": "Mathe", "@language": "de"}, {"@value": "Maths", "@language": "en"},'
             ' {"@value": "Physics", "@language": "en"}],'
             ' "provider": {"@type": "Organization", "name": {"x-default": "Uni Example"}}}')
    [item] = read_page(sp, page(block))[0]
    assert item["title"] == "Course"
    assert item["subjects"] == ["Maths", "Physics"]
    assert item["awarding_body"] == "Uni Example"  # a language map keyed x-default


# --- courses listed in an ItemList ----------------------------------------------------------------

def test_courses_in_an_item_list_are_offerings():
    sp = spider()
    block = """{"@context": "https://schema.org", "@type": "ItemList", "itemListElement": [
      {"@type": "ListItem", "position": 1, "item": {"@type": "Course", "@id": "https://uni.example/courses/a",
       "name": "Course A", "provider": {"@type": "Organization", "name": "Uni"}}},
      {"@type": "ListItem", "position": 2, "item": {"@type": "Course", "name": "Course B"}},
      {"@type": ["ListItem", "Course"], "position": 3, "name": "Course C"},
      {"@type": "ListItem", "position": 4, "item": {"@type": "Article", "name": "News"}}]}"""
    items, requests = read_page(sp, page(block))
    assert [(i["title"], i["source_key"]) for i in items] == [
        ("Course A", "https://uni.example/courses/a"), ("Course B", "/courses/#1"), ("Course C", "/courses/#2")]
    assert items[0]["awarding_body"] == "Uni"
    assert requests == []


def test_list_entries_known_by_reference_or_main_entity_count_once():
    sp = spider()
    blocks = ('{"@type": "CollectionPage", "mainEntity": {"@type": "ItemList", "itemListElement": ['
              '{"@type": "ListItem", "position": 1, "item": {"@id": "#a"}}]}}',
              '{"@type": "Course", "@id": "#a", "name": "Course A"}',
              '{"@type": "WebPage", "mainEntity": {"@type": "Course", "name": "Main course"}}')
    items, requests = read_page(sp, page(*blocks))
    assert sorted(i["title"] for i in items) == ["Course A", "Main course"]
    assert requests == []


def test_list_entries_known_only_by_url_are_read_as_pages():
    sp = spider(page_url_pattern=r"/courses/[^/]+$")
    block = """{"@type": "ItemList", "itemListElement": [
      {"@type": "ListItem", "position": 1, "url": "https://uni.example/courses/intro"},
      {"@type": "ListItem", "position": 2, "item": "/courses/advanced#details"},
      {"@type": "ListItem", "position": 3, "item": {"@id": "https://uni.example/courses/expert", "@type": "Course"}},
      {"@type": "ListItem", "position": 4, "url": "https://uni.example/courses/intro#again"},
      {"@type": "ListItem", "position": 5, "url": "https://uni.example/about"}]}"""
    crumbs = ('{"@type": "BreadcrumbList", "itemListElement": [{"@type": "ListItem", "position": 1, '
              '"item": "https://uni.example/courses/home"}]}')
    items, requests = read_page(sp, page(block, crumbs))
    assert items == []
    assert [r.url for r in requests] == ["https://uni.example/courses/intro", "https://uni.example/courses/advanced",
                                         "https://uni.example/courses/expert"]
    assert all(r.callback == sp.parse_page and r.errback == sp.on_error for r in requests)


# --- sitemap detection ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (f'<?xml version="1.0"?>\n<!-- {"x" * 5000} -->\n<urlset xmlns="{NS}">{URLSET}</urlset>', "application/xml"),
        (f'<?xml version="1.0"?><sm:urlset xmlns:sm="{NS}">{URLSET.replace("<", "<sm:").replace("<sm:/", "</sm:")}'
         "</sm:urlset>", "application/xml"),
        ("https://uni.example/courses/a\r\n\nhttps://uni.example/courses/b\n", "text/plain"),
        ("\ufeffhttps://uni.example/courses/a\nhttps://uni.example/courses/b", "text/plain"),
    ],
    ids=["urlset-after-a-long-preamble", "prefixed-namespace", "text-sitemap", "text-sitemap-with-bom"],
)
def test_sitemaps_of_every_form_lead_to_their_pages(body, content_type):
    sp = spider()
    items, requests = split(sp.parse(fake_response(f"{SITE}/sitemap", body, content_type)))
    assert items == []
    assert [r.url for r in requests] == [f"{SITE}/courses/a", f"{SITE}/courses/b"]
    assert all(r.callback == sp.parse_page for r in requests)
    assert sp.crawler.stats.get_value("credcat/failed_pages") is None


def test_a_gzipped_text_sitemap_is_read():
    sp = spider()
    body = gzip.compress(b"https://uni.example/courses/a\nhttps://uni.example/courses/b\n")
    _, requests = split(sp.parse(fake_response(f"{SITE}/sitemap.txt.gz", body, "application/gzip")))
    assert [r.url for r in requests] == [f"{SITE}/courses/a", f"{SITE}/courses/b"]


@pytest.mark.parametrize(
    ("body", "content_type", "response_cls"),
    [
        ("<!DOCTYPE html>\n" + " " * 3000 + '<HTML><head><script type="application/ld+json">'
         '{"@type": "Course", "name": "Late"}</script></head></HTML>', "text/html", None),
        ('<script type="application/ld+json">{"@type": "Course", "name": "Late"}</script>', "text/html", None),
        ('<!-- a long banner -->' + " " * 3000 + '<script type="application/ld+json">'
         '{"@type": "Course", "name": "Late"}</script>', "application/octet-stream", HtmlResponse),
    ],
    ids=["html-tag-after-2048-bytes", "html-by-content-type", "html-by-response-class"],
)
def test_a_start_url_that_is_a_page_is_read_as_one(body, content_type, response_cls):
    sp = spider()
    items, _ = split(sp.parse(fake_response(f"{SITE}/courses/late", body, content_type, response_cls=response_cls)))
    assert [i["title"] for i in items] == ["Late"]
    assert sp.crawler.stats.get_value("credcat/failed_pages") is None


@pytest.mark.parametrize(
    "body",
    ["User-agent: *\nDisallow: /\n", "https://uni.example/a\nnot a url\n", '<?xml version="1.0"?><rss><channel/></rss>'],
)
def test_what_is_neither_a_sitemap_nor_a_page_is_a_failed_page(body):
    sp = spider()
    assert list(sp.parse(fake_response(f"{SITE}/sitemap", body, "text/plain"))) == []
    assert sp.crawler.stats.get_value("credcat/failed_pages") == 1
    assert defects(sp) == {"invalid_sitemap": 1}


# --- provider and price specification as plain text ----------------------------------------------

def test_provider_and_price_specification_given_as_text_are_kept():
    sp = spider()
    blocks = ('{"@type": "Course", "name": "Text fields", "provider": "Some University",'
              ' "offers": {"@type": "Offer", "priceSpecification": "$10 per credit"}}',
              '{"@type": "Course", "name": "Reference only", "provider": "https://uni.example/#org"}')
    items, _ = read_page(sp, page(*blocks))
    assert items[0]["awarding_body"] == "Some University"
    assert items[0]["prices"] == [{"amount": None, "currency": None, "label": None, "text": "$10 per credit"}]
    assert "awarding_body" not in items[1]  # an unresolved reference names no one
