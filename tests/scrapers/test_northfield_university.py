"""northfield_university: sitemap -> program pages with schema.org JSON-LD (kind sitemap_jsonld)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from normalize.schema import RawOffering
from scrapers.base.sitemap_jsonld import SitemapJsonLdSpider
from scrapers.spiders.northfield_university import NorthfieldUniversitySpider
from scrapers.testing import crawl_demo, fake_response, offline_spider, saved_page, split

FIXTURES = Path(__file__).parent / "fixtures"
SITE = "http://127.0.0.1:1/northfield_university"


def page(name: str, path: str) -> HtmlResponse:
    return saved_page(FIXTURES / name, f"{SITE}{path}")


@pytest.fixture
def spider() -> NorthfieldUniversitySpider:
    return offline_spider(NorthfieldUniversitySpider)


def defects(spider) -> dict[str, int]:
    stats = spider.crawler.stats.get_stats()
    return {k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("credcat/page_defects/")}


# --- sitemaps -----------------------------------------------------------------------------------

def test_start_url_is_the_sitemap(spider):
    assert spider.start_urls == [f"{SITE}/sitemap.xml"]


def test_sitemap_index_leads_to_its_urlsets(spider):
    body = (FIXTURES / "northfield_sitemap_index.xml").read_text()
    items, requests = split(spider.parse(fake_response(f"{SITE}/sitemap.xml", body, "application/xml")))
    assert items == []
    assert [r.url for r in requests] == [f"{SITE}/sitemaps/programs-1.xml", f"{SITE}/sitemaps/pages.xml"]
    assert all(r.callback == spider.parse and r.errback == spider.on_error for r in requests)


def test_urlset_leads_to_program_pages_only(spider):
    body = (FIXTURES / "northfield_urlset.xml").read_bytes()
    for content in (body, gzip.compress(body)):  # sitemaps are often served gzipped
        _, requests = split(spider.parse(fake_response(f"{SITE}/sitemaps/programs-1.xml", content, "application/xml")))
        assert [r.url for r in requests] == [f"{SITE}/programs/applied-data-science/",
                                             f"{SITE}/programs/master-of-science-in-cloud-infrastructure/"]
        assert requests[0].callback == spider.parse_page
        assert requests[0].cb_kwargs == {"lastmod": "2026-03-14"}


def test_robots_txt_sitemap_lines_are_followed(spider):
    robots = "User-agent: *\nDisallow: /private/\nSitemap: http://127.0.0.1:1/northfield_university/sitemap.xml\n"
    _, requests = split(spider.parse(fake_response("http://127.0.0.1:1/robots.txt", robots, "text/plain")))
    assert [r.url for r in requests] == [f"{SITE}/sitemap.xml"]


def test_a_body_that_is_no_sitemap_leaves_the_crawl_incomplete(spider):
    out = list(spider.parse(fake_response(f"{SITE}/sitemap.xml", b"\x00garbage", "application/xml")))
    assert out == []
    assert spider.crawler.stats.get_value("credcat/failed_pages") == 1
    assert defects(spider) == {"invalid_sitemap": 1}


# --- program pages ------------------------------------------------------------------------------

def test_graph_page_gives_one_program_with_references_resolved(spider):
    items, requests = split(spider.parse_page(page("northfield_program_graph.html", "/programs/applied-data-science/"),
                                              lastmod="2026-03-14"))
    assert requests == []
    [item] = items
    RawOffering.model_validate(item)
    assert item["source_key"] == "/northfield_university/programs/applied-data-science/"
    assert item["record_kind_raw"] == "EducationalOccupationalProgram"
    assert item["title"] == "Applied Data Science Micro-credential"
    # markup and entities stay as the source wrote them
    assert item["description"].startswith("<p><strong>Learn to clean, model &amp; explain data.</strong>")
    assert item["awarding_body"] == "Northfield University"  # the provider @id, resolved
    assert item["country_raw"] == "US"
    assert item["credential_type_raw"] == "Micro-credential"
    assert (item["duration_raw"], item["modality_raw"], item["timing_raw"]) == ("P6M", "online", "Self-paced")
    assert (item["credits_raw"], item["credit_unit_raw"]) == ("10", "ECTS credits")
    assert (item["level_raw"], item["language_raw"]) == ("Intermediate", "en-US")
    assert (item["subjects"], item["subject_codes"]) == (["Data Science"], ["30.7001"])
    assert item["skills"] == ["machine learning", "visualise data"]
    assert item["learning_outcomes"] == ["Apply machine learning to business data", "Explain a model to a non-specialist"]
    assert item["quality_assurance_raw"] == "Higher Learning Commission"
    assert item["prices"] == [
        {"amount": "1450", "currency": "USD", "label": "Total program tuition"},
        {"amount": "0", "currency": "USD", "label": "Audit track (no credential)"},
    ]
    assert item["page_defects"] == []
    # the courses referenced by @id are embedded in the program's payload, not offerings of their own
    courses = item["payload"]["jsonld"]["hasCourse"]
    assert [c["name"] for c in courses] == ["Foundations of Machine Learning", "Applied Visualisation"]
    assert item["payload"]["lastmod"] == "2026-03-14"


def test_repairable_block_is_repaired_and_recorded(spider):
    [item] = split(spider.parse_page(page("northfield_program_blocks.html",
                                          "/programs/master-of-science-in-cloud-infrastructure/")))[0]
    RawOffering.model_validate(item)
    assert item["page_defects"] == ["repaired_jsonld"]  # comments and trailing commas in the university block
    assert (item["awarding_body"], item["country_raw"]) == ("Northfield University", "US")
    assert item["credential_type_raw"] == "Master's Degree"  # educationalCredentialAwarded as plain text
    assert item["prerequisites_raw"] == "Bachelor's degree"
    assert item["start_dates_raw"] == ["2027-01-11", "2027-09-06"]
    assert [p["label"] for p in item["prices"]] == ["Tuition", "Application fee"]
    assert "description" not in item  # a page without a description: missing, not invented
    assert defects(spider) == {"repaired_jsonld": 1}


def test_broken_program_block_falls_back_to_the_page(spider):
    [item] = split(spider.parse_page(page("northfield_program_broken.html",
                                          "/programs/bachelor-of-science-in-renewable-energy-policy/")))[0]
    RawOffering.model_validate(item)
    assert item["page_defects"] == ["invalid_jsonld", "repaired_jsonld"]
    assert item["source_key"] == "/northfield_university/programs/bachelor-of-science-in-renewable-energy-policy/"
    assert item["title"] == "Bachelor of Science in Renewable Energy Policy"  # og:title
    assert item["description"] == "A bachelor's degree for future energy policy analysts."  # meta description
    # the university block still names the awarding body; the visible facts give the rest
    assert (item["awarding_body"], item["country_raw"]) == ("Northfield University", "US")
    assert item["credential_type_raw"] == "Bachelor's Degree"
    assert (item["duration_raw"], item["modality_raw"], item["timing_raw"]) == ("4 years", "On campus", "Cohort-based")
    assert item["language_raw"] == "English"  # the facts, not the page's lang attribute
    assert item["credits_raw"] == "180 ECTS credits"
    assert item["prices"] == [{"text": "$14,500", "label": "Tuition"}]
    assert item["start_dates_raw"] == ["2027-02-11"]
    # the broken block is kept as written, for a later, better reader
    assert '"the most practical program on campus"' in item["payload"]["invalid_jsonld"][0]
    assert item["payload"]["page"]["facts"]["Length"] == "4 years"
    assert defects(spider) == {"invalid_jsonld": 1, "repaired_jsonld": 1}


def test_page_without_jsonld_is_still_an_offering_of_a_program_site(spider):
    html = "<html lang='en'><head><title>Nursing Leadership | Northfield University</title></head><body><h1>Nursing Leadership</h1></body></html>"
    [item] = split(spider.parse_page(fake_response(f"{SITE}/programs/nursing-leadership/", html, "text/html",
                                                   response_cls=HtmlResponse)))[0]
    assert item["title"] == "Nursing Leadership" and item["page_defects"] == ["no_jsonld_item"]


# --- the kind, configured otherwise -------------------------------------------------------------

class CourseCatalogSpider(SitemapJsonLdSpider):
    """A site whose pages may hold several Course items (keyed by identifier or @id)."""

    name = "course_catalog_test"


def test_default_types_skip_parts_and_key_items_by_identifier():
    spider = offline_spider(CourseCatalogSpider, source="northfield_university")
    items, _ = split(spider.parse_page(page("northfield_program_graph.html", "/programs/applied-data-science/")))
    # Course nodes the program points to are its parts, not offerings of their own
    assert [(i["record_kind_raw"], i["source_key"]) for i in items] == [("EducationalOccupationalProgram", "NFU-000412")]


def test_a_page_of_other_things_yields_nothing_when_pages_are_not_offerings():
    spider = offline_spider(CourseCatalogSpider, source="northfield_university")
    html = ('<html><head><script type="application/ld+json">{"@context": "https://schema.org", "@type": "Article", '
            '"name": "News"}</script></head><body><h1>News</h1></body></html>')
    assert list(spider.parse_page(fake_response(f"{SITE}/news/", html, "text/html", response_cls=HtmlResponse))) == []


def test_standalone_courses_are_offerings_of_their_own():
    spider = offline_spider(CourseCatalogSpider, source="northfield_university")
    html = """<html><head><script type="application/ld+json">[
      {"@context": "https://schema.org", "@type": "Course", "@id": "https://x.example/c/1", "name": "SQL Basics",
       "courseCode": "SQL101", "provider": {"@type": "Organization", "name": "Northfield University"},
       "hasCourseInstance": {"@type": "CourseInstance", "courseMode": "online", "courseWorkload": "PT3H"},
       "offers": {"@type": "AggregateOffer", "offers": [{"@type": "Offer", "price": "49.00", "priceCurrency": "EUR"}]}},
      {"@context": "https://schema.org", "@type": "Course", "@id": "https://x.example/c/2", "name": "SQL Advanced"}
    ]</script></head><body></body></html>"""
    items, _ = split(spider.parse_page(fake_response(f"{SITE}/catalog/", html, "text/html", response_cls=HtmlResponse)))
    assert [(i["source_key"], i["title"]) for i in items] == [("SQL101", "SQL Basics"), ("https://x.example/c/2", "SQL Advanced")]
    first = items[0]
    assert (first["modality_raw"], first["workload_raw"], first["awarding_body"]) == ("online", "PT3H", "Northfield University")
    assert first["prices"] == [{"amount": "49.00", "currency": "EUR", "label": None}]


# --- end to end ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_northfield_university_end_to_end(tmp_path):
    run = crawl_demo("northfield_university", tmp_path)
    stats = run.stats
    assert stats["complete"] is True, stats
    assert stats["invalid_items"] == 0 and run.invalid == []
    assert len(run.items) == len(run.truth) == stats["items"]
    assert {i["source_key"] for i in run.items} == {t["source_key"] for t in run.truth}
    # the injected 503 (urlset) and 429 (a program page) were retried, and nothing failed
    assert stats["retries"] >= 2 and stats["throttled"] >= 1 and stats["failed_pages"] == 0
    assert {f["status"] for f in run.faults} == {503, 429}
    # the one broken program block, recovered from the page; its comment-wrapped neighbour repaired
    assert stats["page_defects"] == {"invalid_jsonld": 1, "repaired_jsonld": 1}
    broken = [i for i in run.items if "invalid_jsonld" in i["page_defects"]]
    assert len(broken) == 1 and broken[0]["title"] and broken[0]["awarding_body"] == "Northfield University"
    assert sum(1 for i in run.items if not i.get("description")) == 1
    assert any("<p>" in (i.get("description") or "") for i in run.items)
    truth = {t["source_key"]: t["expected"] for t in run.truth}
    assert all(i["title"] == truth[i["source_key"]]["title"] for i in run.items)


def test_a_mapping_that_raises_keeps_the_record(spider, monkeypatch):
    def broken(node, response):
        raise KeyError("never seen this shape")

    monkeypatch.setattr(spider, "map_item", broken)
    [item] = split(spider.parse_page(page("northfield_program_graph.html", "/programs/applied-data-science/")))[0]
    RawOffering.model_validate(item)
    assert item["source_key"] == "/northfield_university/programs/applied-data-science/"
    assert item["page_defects"] == ["unreadable_record"] and item["payload"]["jsonld"]["identifier"] == "NFU-000412"
