"""Registry options of the JSON-LD kinds (sitemap_jsonld, ctdl_registry), saved pages given by
location, and what the CTDL kind reads but does not land (hand-written fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from normalize.schema import RawOffering
from scrapers.registry import Source
from scrapers.spiders.ctdl_registry import GenericCtdlRegistrySpider
from scrapers.spiders.sitemap_jsonld import GenericSitemapJsonLdSpider
from scrapers.testing import fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"
PAGE = FIXTURES / "saved_program_page.html"


def source(kind: str, location: Path, **extra) -> Source:
    return Source(name=f"t_{kind}", spider=kind, kind=kind, format="test", provider_kind="university",
                  location=[str(location)], **extra)


def page_items(**extra) -> tuple[GenericSitemapJsonLdSpider, list[dict]]:
    sp = offline_spider(GenericSitemapJsonLdSpider, source=source("sitemap_jsonld", PAGE, **extra))
    url = PAGE.resolve().as_uri()
    response = fake_response(url, PAGE.read_text(), "text/html", response_cls=HtmlResponse)
    items, _ = split(sp.parse(response))
    for item in items:
        RawOffering.model_validate(item)
    return sp, items


def test_saved_page_given_by_location_is_read_and_keyed_by_its_canonical_path():
    sp, items = page_items(options={"one_offering_per_page": True, "site_org_is_provider": True})
    assert sp.start_urls == [PAGE.resolve().as_uri()]
    [item] = items  # the Course nodes are parts of the program (hasCourse)
    assert item["source_key"] == "/study/msc-marine-robotics.html"  # not the saved file's path
    assert (item["title"], item["awarding_body"], item["country_raw"]) == ("MSc Marine Robotics", "Westhaven University", "GB")
    assert (item["credential_type_raw"], item["duration_raw"]) == ("Master of Science", "P1Y")
    assert (item["credits_raw"], item["credit_unit_raw"]) == ("180", "CATS credits")
    assert item["prices"] == [{"amount": "12500", "currency": "GBP", "label": "Home tuition"}]
    # the FAQ block is cut off: recorded on the record, the program block still used
    assert item["page_defects"] == ["invalid_jsonld"]
    assert sp.crawler.stats.get_value("credcat/page_defects/invalid_jsonld") == 1
    assert [c["name"] for c in item["payload"]["jsonld"]["hasCourse"]] == ["Underwater Vehicle Dynamics",
                                                                          "Sonar Signal Processing"]


def test_without_options_nodes_are_offerings_keyed_by_id():
    _, items = page_items()
    assert [i["source_key"] for i in items] == ["https://www.westhaven.example/study/msc-marine-robotics.html#program"]
    assert items[0]["awarding_body"] == "Westhaven University"  # provider reference resolved


def test_field_map_extends_the_kinds_paths_and_unknown_options_fail():
    _, items = page_items(field_map={"level_raw": "educationalCredentialAwarded.credentialCategory"})
    assert items[0]["level_raw"] == "Master of Science"
    with pytest.raises(ValueError, match="not options of kind sitemap_jsonld"):
        page_items(options={"records_path": "x"})
    with pytest.raises(ValueError, match="unknown RawOffering fields"):
        page_items(field_map={"nonsense": "name"})


def ctdl_items() -> tuple[GenericCtdlRegistrySpider, dict[str, dict]]:
    path = FIXTURES / "ctdl_bare_resources.json"
    sp = offline_spider(GenericCtdlRegistrySpider, source=source("ctdl_registry", path, platform="Registry"))
    items, requests = split(sp.parse(fake_response(path.resolve().as_uri(), path.read_text())))
    assert requests == []  # the owner is in the same file: nothing to fetch
    for item in items:
        RawOffering.model_validate(item)
    return sp, {i["source_key"]: i for i in items}


def test_ctdl_file_of_bare_resources_counts_what_is_not_an_offering():
    sp, items = ctdl_items()
    assert set(items) == {"ce-33333333-3333-4333-8333-333333333333", "ce-44444444-4444-4444-8444-444444444444"}
    stats = sp.crawler.stats.get_stats()
    assert stats["credcat/not_offerings/ceterms:CredentialOrganization"] == 1
    assert stats["credcat/not_offerings/ceasn:Competency"] == 1


def test_ctdl_offered_by_another_organization_is_the_platform():
    _, items = ctdl_items()
    cert = items["ce-33333333-3333-4333-8333-333333333333"]
    assert (cert["awarding_body"], cert["country_raw"]) == ("Guild of Glass Makers", "Canada")  # ownedBy
    assert cert["platform"] == "Northshore Community College"  # offeredBy, not the owner
    assert cert["subject_codes"] == ["50.0711"]
    assert cert["prices"] == [{"amount": "900", "currency": "CAD", "label": "costType:Tuition", "text": None}]
    same = items["ce-44444444-4444-4444-8444-444444444444"]
    assert (same["awarding_body"], same["platform"]) == ("Guild of Glass Makers", "Registry")  # owner offers it


def test_ctdl_options_and_field_map():
    path = FIXTURES / "ctdl_bare_resources.json"
    src = source("ctdl_registry", path, options={"fetch_unseen_orgs": False},
                 field_map={"skills": ["ceterms:instructionalProgramType.ceterms:targetNodeName"]})
    sp = offline_spider(GenericCtdlRegistrySpider, source=src)
    assert sp.fetch_unseen_orgs is False
    items, _ = split(sp.parse(fake_response(path.resolve().as_uri(), path.read_text())))
    cert = {i["source_key"]: i for i in items}["ce-33333333-3333-4333-8333-333333333333"]
    assert cert["skills"] == ["Ceramic Arts and Ceramics"]
    with pytest.raises(ValueError, match="not options of kind ctdl_registry"):
        offline_spider(GenericCtdlRegistrySpider, source=source("ctdl_registry", path, options={"nope": 1}))


def test_stats_json_reports_not_offerings():
    from scrapers.extensions import summarize

    summary = summarize({"credcat/not_offerings/ceasn:Competency": 5}, "finished", "s", "r")
    assert summary["not_offerings"] == {"ceasn:Competency": 5}
    assert json.dumps(summary, default=str)
