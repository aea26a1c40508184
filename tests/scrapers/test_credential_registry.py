"""credential_registry: Credential Registry envelopes with CTDL JSON-LD (kind ctdl_registry)."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import scrapy
from scrapy.exceptions import DontCloseSpider
from twisted.python.failure import Failure

from normalize.schema import RawOffering
from scrapers.spiders.credential_registry import CredentialRegistrySpider
from scrapers.testing import crawl_demo, fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"
SITE = "http://127.0.0.1:1/credential_registry"
PAGE1 = f"{SITE}/ce-registry/envelopes?page=1&per_page=6"
UNSEEN_ORG = f"{SITE}/resources/ce-7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910"
HSI_CERT, MSC, TEST, EXAM = ("ce-6b1d3f0c-7a43-4c52-9a61-0e8a3c1f5d21", "ce-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                             "ce-2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182", "ce-3c4d5e6f-7081-4a92-8b3c-4d5e6f708192")


@pytest.fixture
def spider() -> CredentialRegistrySpider:
    return offline_spider(CredentialRegistrySpider)


@pytest.fixture
def page1(spider):
    items, requests = split(spider.parse(fake_response(PAGE1, (FIXTURES / "registry_envelopes_page1.json").read_text())))
    return {i["source_key"]: i for i in items}, requests


def test_start_url_is_the_first_envelope_page(spider):
    assert spider.start_urls == [f"{SITE}/ce-registry/envelopes?page=1&per_page=50"]


def test_organizations_and_deleted_envelopes_are_not_offerings(page1):
    items, _ = page1
    assert set(items) == {HSI_CERT, TEST, EXAM}  # the degree waits for its owner; see below
    for item in items.values():
        RawOffering.model_validate(item)


def test_credential_fields_from_ctdl(page1):
    cert = page1[0][HSI_CERT]
    assert (cert["record_kind_raw"], cert["credential_type_raw"]) == ("ceterms:Certification", "ceterms:Certification")
    assert cert["title"] == "Certified Workplace Safety Professional"  # English entry of the language map
    assert cert["description"] == "An exam-based certification for safety officers."
    # the owner's envelope comes later on the same page: organizations are read first
    assert (cert["awarding_body"], cert["country_raw"]) == ("Health Safety Institute", "United Kingdom")
    assert cert["skills"] == ["risk assessment", "fire safety regulations"]
    assert (cert["subjects"], cert["subject_codes"]) == (["Occupational Health and Safety"], ["51.2206"])
    assert (cert["level_raw"], cert["modality_raw"]) == ("audLevel:ProfessionalLevel", "deliveryType:OnlineOnly")
    assert (cert["duration_raw"], cert["language_raw"], cert["status_raw"]) == ("P12W", "en", "credentialStat:Active")
    assert cert["quality_assurance_raw"] == "ANSI National Accreditation Board"  # a blank node of the @graph
    assert cert["prerequisites_raw"] == "Pass the certification examination."
    assert cert["prices"] == [
        {"amount": "395", "currency": "USD", "label": "costType:StandaloneAssessment", "text": None},
        {"amount": "150", "currency": "USD", "label": "costType:RenewalFee", "text": None},
    ]
    # the payload keeps the resource as published (language maps included) and the envelope
    resource = cert["payload"]["resource"]
    assert resource["ceterms:name"]["es"] == "Profesional certificado en seguridad"
    assert cert["payload"]["envelope"]["envelope_ctdl_type"] == "ceterms:Certification"
    assert "decoded_resource" not in cert["payload"]["envelope"]


def test_test_records_and_assessments_are_kept(page1):
    items, _ = page1
    assert items[TEST]["title"] == "TESTING_TESTING_123" and items[TEST]["awarding_body"] == "Health Safety Institute"
    exam = items[EXAM]
    assert exam["record_kind_raw"] == "ceterms:AssessmentProfile" and "credential_type_raw" not in exam
    assert exam["awarding_body"] == "Health Safety Institute"  # an embedded owner
    assert (exam["assessment_raw"], exam["modality_raw"]) == ("assessMethod:Exam", "deliveryType:OnlineOnly")
    assert exam["prices"] == [{"amount": "725.0", "currency": "US Dollar", "label": "Standalone/Extra Assessment", "text": None}]


def test_unseen_owner_is_fetched_once_and_next_page_follows(page1):
    _, requests = page1
    assert [r.url for r in requests] == [UNSEEN_ORG, f"{SITE}/ce-registry/envelopes?page=2&per_page=6"]
    org_request = requests[0]
    assert org_request.cb_kwargs == {"okey": "ce-7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910"}
    assert org_request.priority > 0


def test_held_credential_is_released_when_its_owner_arrives(spider, page1):
    org = fake_response(UNSEEN_ORG, (FIXTURES / "registry_org_resource.json").read_text())
    [degree] = split(spider.parse_org(org, okey="ce-7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910"))[0]
    RawOffering.model_validate(degree)
    assert degree["source_key"] == MSC
    assert (degree["awarding_body"], degree["country_raw"]) == ("Northfield University", "United States")
    assert degree["credential_type_raw"] == "ceterms:MasterOfScienceDegree"
    assert (degree["title"], degree["language_raw"]) == ("Master of Science in Cloud Infrastructure", "English")
    assert degree["duration_raw"] == "P18M to P2Y"
    assert degree["modality_raw"] == "deliveryType:BlendedDelivery"  # targetNode as {"@id": ...}
    assert (degree["credits_raw"], degree["credit_unit_raw"]) == ("90", "ECTS credits")
    assert degree["prices"] == [
        {"amount": "22000.0", "currency": "US Dollar", "label": "costType:Tuition", "text": None},
        {"amount": None, "currency": "USD", "label": None, "text": "Each term includes a technology fee."},
    ]
    assert spider.pending == {}
    # later references to the same owner resolve at once
    again = json.loads((FIXTURES / "registry_envelopes_page1.json").read_text())[1]
    again["envelope_id"] = "another"
    [item] = split(spider.parse(fake_response(f"{SITE}/ce-registry/envelopes?page=9&per_page=6", json.dumps([again]))))[0]
    assert item["awarding_body"] == "Northfield University"


def test_owner_that_cannot_be_fetched_releases_its_credentials_unresolved(spider, page1):
    failure = Failure(ConnectionRefusedError("refused"))
    failure.request = scrapy.Request(UNSEEN_ORG, meta={"okey": "ce-7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910"})
    [degree] = split(spider.org_failed(failure))[0]
    assert degree["source_key"] == MSC and "awarding_body" not in degree
    assert degree["page_defects"] == ["unresolved_org"]
    assert spider.crawler.stats.get_value("credcat/failed_pages") == 1  # the crawl is not complete
    # the owner is not asked for twice: the next credential of that owner lands unresolved at once
    again = json.loads((FIXTURES / "registry_envelopes_page1.json").read_text())[1]
    again["envelope_id"] = "another"
    items, requests = split(spider.parse(fake_response(f"{SITE}/ce-registry/envelopes?page=9&per_page=6", json.dumps([again]))))
    assert requests == [] and items[0]["page_defects"] == ["unresolved_org"]


def test_held_credentials_never_outlive_the_crawl(spider, page1):
    scheduled: list[scrapy.Request] = []
    spider.crawler.engine = types.SimpleNamespace(crawl=scheduled.append)
    with pytest.raises(DontCloseSpider):
        spider.on_idle()
    [flush] = scheduled
    assert flush.url == "data:," and flush.dont_filter
    [degree] = split(flush.callback(fake_response("data:,", b"", "text/plain")))[0]
    assert degree["source_key"] == MSC and degree["page_defects"] == ["unresolved_org"]
    spider.on_idle()  # nothing held any more: the spider may close


def test_short_page_ends_the_walk_and_a_repeated_page_is_a_loop(spider):
    body = (FIXTURES / "registry_envelopes_page1.json").read_text()
    url = f"{SITE}/ce-registry/envelopes?page=1&per_page=50"
    _, requests = split(spider.parse(fake_response(url, body)))
    assert [r.url for r in requests] == [UNSEEN_ORG]  # 6 of 50: the last page
    again = list(spider.parse(fake_response(f"{SITE}/ce-registry/envelopes?page=2&per_page=50", body)))
    assert again == []
    assert spider.crawler.stats.get_value("credcat/page_defects/pagination_loop") == 1


def test_object_pages_with_next_links_and_bare_documents(spider):
    envelopes = json.loads((FIXTURES / "registry_envelopes_page1.json").read_text())
    body = {"data": [envelopes[2], envelopes[0]], "total_count": 2,
            "next": "/credential_registry/ce-registry/envelopes?page=2"}
    items, requests = split(spider.parse(fake_response(f"{SITE}/ce-registry/envelopes?page=1", json.dumps(body))))
    assert [i["source_key"] for i in items] == [HSI_CERT]
    assert [r.url for r in requests] == [f"{SITE}/ce-registry/envelopes?page=2"]
    # a bare resource document (a graph fetched from /graph/<ctid>) reads the same way
    bare = envelopes[0]["decoded_resource"]
    items, requests = split(spider.parse(fake_response(f"{SITE}/graph/{HSI_CERT}", json.dumps(bare))))
    assert [i["title"] for i in items] == ["Certified Workplace Safety Professional"] and requests == []


def test_bare_documents_without_envelope_ids_are_never_taken_for_a_loop(spider):
    for n in range(3):
        doc = {"@type": "ceterms:Badge", "ceterms:ctid": f"ce-00000000-0000-4000-8000-00000000000{n}", "ceterms:name": f"B{n}"}
        [item] = split(spider.parse(fake_response(f"{SITE}/resources/{doc['ceterms:ctid']}", json.dumps(doc))))[0]
        assert item["title"] == f"B{n}"


def test_jwt_resource_without_decoded_copy():
    import base64

    spider = offline_spider(CredentialRegistrySpider)
    resource = {"@type": "ceterms:DigitalBadge", "ceterms:ctid": "ce-4d5e6f70-8192-4aa3-9b4c-5d6e7f8091a2",
                "ceterms:name": {"en": "Cloud Badge"}}
    jwt = "eyJhbGciOiJSUzI1NiJ9." + base64.urlsafe_b64encode(json.dumps(resource).encode()).decode().rstrip("=") + ".sig"
    env = [{"envelope_id": "x", "envelope_type": "resource_data", "resource": jwt, "resource_encoding": "jwt"}]
    [item] = split(spider.parse(fake_response(f"{SITE}/ce-registry/envelopes?page=1&per_page=50", json.dumps(env))))[0]
    assert (item["title"], item["credential_type_raw"]) == ("Cloud Badge", "ceterms:DigitalBadge")


@pytest.mark.slow
def test_credential_registry_end_to_end(tmp_path):
    run = crawl_demo("credential_registry", tmp_path)
    stats = run.stats
    assert stats["complete"] is True, stats
    assert stats["invalid_items"] == 0 and run.invalid == []
    assert len(run.items) == len(run.truth) == stats["items"]
    assert {i["source_key"] for i in run.items} == {t["source_key"] for t in run.truth}
    # 503 on page 2, 429 on page 3, 503 on an owner's resource: all retried
    assert stats["retries"] >= 3 and stats["throttled"] >= 1 and stats["failed_pages"] == 0
    # every credential got its owner, including those whose owner was only on the last page
    truth = {t["source_key"]: t for t in run.truth}
    assert all(i.get("awarding_body") == truth[i["source_key"]]["expected"]["awarding_body"] for i in run.items)
    assert not any("unresolved_org" in i["page_defects"] for i in run.items)
    tests = [i for i in run.items if truth[i["source_key"]]["is_test"]]
    assert len(tests) == 1 and tests[0]["title"].startswith("TESTING_TESTING_")


def _badge(n: int) -> dict:
    return {"@type": "ceterms:Badge", "ceterms:ctid": f"ce-00000000-0000-4000-8000-00000000001{n}", "ceterms:name": f"B{n}"}


def test_object_pages_follow_a_link_header_or_a_next_link_object(spider):
    from scrapy.http import Request, TextResponse

    url = f"{SITE}/ce-registry/envelopes?page=1"
    body = json.dumps({"data": [{"envelope_id": "e1", "decoded_resource": _badge(1)}], "total_count": 3}).encode()
    link = f'<{SITE}/ce-registry/envelopes?page=0>; rel="prev", <{SITE}/ce-registry/envelopes?page=2>; title="p"; rel="next"'
    response = TextResponse(url=url, body=body, headers={"Content-Type": "application/json", "Link": link},
                            request=Request(url), encoding="utf-8")
    items, requests = split(spider.parse(response))
    assert [i["title"] for i in items] == ["B1"]
    assert [r.url for r in requests] == [f"{SITE}/ce-registry/envelopes?page=2"]
    body2 = {"data": [{"envelope_id": "e2", "decoded_resource": _badge(2)}], "links": {"next": {"href": "?page=3"}}}
    _, requests = split(spider.parse(fake_response(f"{SITE}/ce-registry/envelopes?page=2", json.dumps(body2))))
    assert [r.url for r in requests] == [f"{SITE}/ce-registry/envelopes?page=3"]
    assert spider.crawler.stats.get_value("credcat/failed_pages") is None


def test_a_next_that_is_no_link_is_a_defect_and_the_crawl_is_not_complete(spider):
    body = {"data": [{"envelope_id": "e1", "decoded_resource": _badge(1)}], "next": 2}
    items, requests = split(spider.parse(fake_response(f"{SITE}/ce-registry/envelopes?page=1", json.dumps(body))))
    assert [i["title"] for i in items] == ["B1"] and requests == []
    assert spider.crawler.stats.get_value("credcat/page_defects/unreadable_next_link") == 1
    assert spider.crawler.stats.get_value("credcat/failed_pages") == 1


def test_resources_as_json_text_or_objects_are_read_and_unreadable_ones_are_defects(spider):
    envelopes = [
        {"envelope_id": "e1", "decoded_resource": json.dumps({"@graph": [_badge(1)]})},  # JSON as a string
        {"envelope_id": "e2", "decoded_resource": None, "resource": _badge(2)},  # resource as an object
        {"envelope_id": "e3", "node_headers": "not an object", "decoded_resource": _badge(3)},
        {"envelope_id": "e4", "node_headers": [], "decoded_resource": "not json"},
        {"envelope_id": "e5", "decoded_resource": 42},
        {"envelope_id": "e6", "decoded_resource": None, "resource": None},
    ]
    url = f"{SITE}/ce-registry/envelopes?page=1&per_page=50"
    items, _ = split(spider.parse(fake_response(url, json.dumps(envelopes))))
    assert [i["title"] for i in items] == ["B1", "B2", "B3"]
    assert spider.crawler.stats.get_value("credcat/page_defects/undecodable_resource") == 3
