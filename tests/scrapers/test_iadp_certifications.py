"""iadp_certifications: an association's certification pages (kind html_pages)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from normalize.schema import RawOffering
from scrapers.registry import Source
from scrapers.spiders.html_pages import GenericHtmlPagesSpider
from scrapers.spiders.iadp_certifications import IadpCertificationsSpider
from scrapers.testing import crawl_demo, fake_response, offline_spider, saved_page, split

FIXTURES = Path(__file__).parent / "fixtures"
SITE = "http://127.0.0.1:1/iadp_certifications"


def page(name: str, path: str) -> HtmlResponse:
    return saved_page(FIXTURES / name, f"{SITE}{path}")


@pytest.fixture
def spider() -> IadpCertificationsSpider:
    return offline_spider(IadpCertificationsSpider)


def detail(spider, name: str, slug: str) -> dict:
    [item] = split(spider.parse_detail(page(name, f"/certifications/{slug}")))[0]
    RawOffering.model_validate(item)
    return item


def test_listing_leads_to_each_certification_page_once(spider):
    items, requests = split(spider.parse(page("iadp_listing.html", "/certifications/")))
    assert items == []
    assert [r.url for r in requests] == [f"{SITE}/certifications/cdgp.html", f"{SITE}/certifications/cdqa.html"]
    assert all(r.callback == spider.parse_detail and r.errback == spider.on_error for r in requests)


def test_listing_without_detail_links_is_a_page_defect(spider):
    html = "<html><body><main><p>Maintenance</p></main></body></html>"
    assert list(spider.parse(fake_response(f"{SITE}/certifications/", html, "text/html", response_cls=HtmlResponse))) == []
    assert spider.crawler.stats.get_value("credcat/page_defects/no_detail_links") == 1


def test_a_listing_of_anchors_mail_and_other_sites_has_no_detail_links(spider):
    # "#top", a blank href, mailto: and another site are not detail pages: the defect shows
    html = ('<html><body><main><a href="#top">Top</a><a href="  ">-</a><a href="mailto:a@b.org">Mail</a>'
            '<a href="https://elsewhere.example/x">Partner</a></main></body></html>')
    assert list(spider.parse(fake_response(f"{SITE}/certifications/", html, "text/html", response_cls=HtmlResponse))) == []
    assert spider.crawler.stats.get_value("credcat/page_defects/no_detail_links") == 1


def test_detail_links_on_the_www_and_bare_host_are_one_site_and_fragments_dropped():
    source = Source(name="any_site", spider="html_pages", kind="html_pages", format="listing and detail pages",
                    provider_kind="professional_association", start_urls=["https://www.example.org/certs"])
    generic = offline_spider(GenericHtmlPagesSpider, source=source)
    html = ('<html><body><main><a href="https://example.org/cert/a">A</a><a href="/cert/b#fees">B</a>'
            '<a href="/cert/b">B again</a><a href="HTTPS://WWW.EXAMPLE.ORG:443/cert/c">C</a>'
            '<a href="https://example.org:8443/cert/d">other port</a></main></body></html>')
    response = fake_response("https://www.example.org/certs", html, "text/html", response_cls=HtmlResponse)
    _, requests = split(generic.parse(response))
    assert [r.url for r in requests] == ["https://example.org/cert/a", "https://www.example.org/cert/b",
                                         "https://www.example.org:443/cert/c"]
    assert generic.crawler.stats.get_value("credcat/page_defects/no_detail_links") is None


def test_table_page(spider):
    item = detail(spider, "iadp_cert_table.html", "cdgp.html")
    assert item["source_key"] == "/iadp_certifications/certifications/cdgp.html"
    assert (item["record_kind_raw"], item["title"]) == ("certification", "Certified Data Governance Professional")
    assert item["description"] == "The CDGP recognises practitioners who run data governance programmes &amp; councils."
    assert (item["awarding_body"], item["country_raw"]) == ("International Association of Data Practitioners", "United States")
    assert item["credential_type_raw"] == "Professional certification"
    # fees stay as written: amounts, member prices and currency are normalization's to read
    assert item["prices"] == [{"text": "$395 (members $295)", "label": "Exam fee"}, {"text": "$198", "label": "Retake fee"}]
    assert item["assessment_raw"] == "120 multiple-choice questions, 3 hours"
    assert item["prerequisites_raw"] == "A bachelor's degree and two years of relevant experience"
    assert (item["modality_raw"], item["duration_raw"], item["workload_raw"]) == ("Online proctored exam", "12 weeks", "5-8 hours per week")
    assert item["skills"] == ["Data stewardship", "Metadata management"]
    assert item["subjects"] == ["Data Science"]
    assert item["quality_assurance_raw"].startswith("Accredited by the ANSI National Accreditation Board")
    assert item["payload"]["facts"]["Recertification"] == "Every 3 years, 60 CEUs"


def test_definition_list_page_without_a_fee(spider):
    item = detail(spider, "iadp_cert_dl_no_fee.html", "cdqa.html")
    assert item["title"] == "Certified Data Quality Analyst" and item["page_defects"] == []
    assert "prices" not in item  # no fee on the page: missing, not zero
    assert item["credential_type_raw"] == "Certification (exam-based)"
    assert item["skills"] == ["Data profiling", "Data cleansing"]
    assert item["quality_assurance_raw"].startswith("Accredited by")  # a row here, not a paragraph


def test_bold_label_lines_page(spider):
    item = detail(spider, "iadp_cert_lines.html", "cpe.html")
    assert item["prices"] == [{"text": "$450 (members $340)", "label": "Examination fee"}]
    assert item["language_raw"] == "English"
    assert item["skills"] == ["Privacy engineering", "Data protection"]
    assert "country_raw" not in item


def test_page_without_a_title_is_kept_and_flagged(spider):
    html = "<html><body><article><p class='lead'>Coming soon.</p></article></body></html>"
    [item] = split(spider.parse_detail(fake_response(f"{SITE}/certifications/x.html", html, "text/html",
                                                     response_cls=HtmlResponse)))[0]
    assert "title" not in item and item["page_defects"] == ["no_title"]


def test_a_hook_that_raises_keeps_the_page_as_a_record(spider, monkeypatch):
    monkeypatch.setattr(spider, "adjust", lambda fields, sel, response: 1 / 0)
    [item] = split(spider.parse_detail(page("iadp_cert_table.html", "/certifications/cdgp.html")))[0]
    RawOffering.model_validate(item)
    assert item["source_key"] == "/iadp_certifications/certifications/cdgp.html"
    assert item["page_defects"] == ["unreadable_record"]
    assert spider.crawler.stats.get_value("credcat/page_defects/unreadable_record") == 1


@pytest.mark.slow
def test_iadp_certifications_end_to_end(tmp_path):
    run = crawl_demo("iadp_certifications", tmp_path)
    stats = run.stats
    assert stats["complete"] is True, stats
    assert stats["invalid_items"] == 0 and run.invalid == []
    assert len(run.items) == len(run.truth) == stats["items"]
    assert {i["source_key"] for i in run.items} == {t["source_key"] for t in run.truth}
    # the 500 on the listing page and the 429 on a certification page were retried
    assert stats["retries"] >= 2 and stats["throttled"] >= 1 and stats["failed_pages"] == 0
    truth = {t["source_key"]: t["expected"] for t in run.truth}
    assert all(i["title"] == truth[i["source_key"]]["title"] for i in run.items)
    without_fee = [i for i in run.items if not i.get("prices")]
    assert len(without_fee) == 1 and truth[without_fee[0]["source_key"]]["price_amount"] is None
    assert all(i.get("skills") and i.get("modality_raw") for i in run.items)
