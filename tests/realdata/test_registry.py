"""Group "reg": what credential registries and their publishers put out, read in place.

- WGU program pages (schema.org JSON-LD, saved HTML)            -> rd_reg_wgu_pages (sitemap_jsonld)
- WGU's CTDL records from the Credential Registry                -> rd_reg_wgu_registry (ctdl_registry)
- Credential Registry import fixtures (bare CTDL resources)      -> rd_reg_ce_fixtures (ctdl_registry)
- Credential Registry seeds (@graph, competencies, frameworks)    -> rd_reg_ce_seeds (ctdl_registry)
- 1EdTech Open Badges 3.0 examples (OpenBadgeCredential)        -> rd_reg_openbadges (openbadges)

Expected counts are computed here from the files themselves (json.load, the JSON-LD script
blocks), independently of the kinds.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from scrapers.registry import realdata_dir
from tests.realdata.conftest import landed

WGU = "CredentialEngine__ctdl-xtra/eval/wgu"
CE_FIX = "CredentialEngine__CredentialRegistry/spec/support/fixtures/json/ce_registry"
CE_SEEDS = "CredentialEngine__CredentialRegistry/db/seeds/ce_registry"
OB = "1EdTech__openbadges-specification/ob_v3p0/examples"
ORG_TYPES = {"ceterms:CredentialOrganization", "ceterms:QACredentialOrganization", "ceterms:Organization"}
MOJIBAKE = ("Â", "â€", "\ufffd")


def path(rel: str) -> Path:
    return realdata_dir() / rel


def per_file(items: list[dict[str, Any]]) -> Counter[str]:
    return Counter(Path(i["url"].removeprefix("file://")).resolve().relative_to(realdata_dir().resolve()).as_posix()
                   for i in items)


def ctdl_nodes(rel: str) -> list[dict[str, Any]]:
    """The resources of a CTDL file: a bare resource, a list of them, or an @graph document."""
    data = json.loads(path(rel).read_text(encoding="utf-8"))
    nodes = data if isinstance(data, list) else data.get("@graph", [data])
    return [n for n in nodes if isinstance(n, dict)]


def ctdl_offerings(rel: str) -> int:
    """Resources that are offerings: not organizations, not CTDL-ASN (competencies, frameworks)."""
    return sum(1 for n in ctdl_nodes(rel) if n.get("@type") not in ORG_TYPES and not n["@type"].startswith("ceasn:"))


def mapped_text(item: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in item.items() if k != "payload"}, ensure_ascii=False)


def payload(item: dict[str, Any]) -> dict[str, Any]:
    """The source's record as landed (a JSON string in items.jsonl)."""
    return json.loads(item["payload"]) if isinstance(item["payload"], str) else item["payload"]


def offering(name: str, key: str) -> dict[str, Any]:
    rows = landed(name).offerings().filter(pl.col("source_key") == key).to_dicts()
    assert len(rows) == 1, key
    return rows[0]


# --- WGU program pages: sitemap_jsonld, pages given by location, one offering per page -----------

WGU_PAGES = ("bs-computer-science", "cert-leadership", "ms-nursing-education")
LD_BLOCK = re.compile(r'<script[^>]*type="application/ld\+json"[^>]*>(.*?)</script>', re.S)


def wgu_jsonld(page: str) -> list[dict[str, Any]]:
    html = path(f"{WGU}/{page}/page.html").read_text(encoding="utf-8")
    nodes: list[dict[str, Any]] = []
    for block in LD_BLOCK.findall(html):
        data = json.loads(block)  # every block of these snapshots decodes (asserted below)
        nodes += data.get("@graph", [data]) if isinstance(data, dict) else data
    return nodes


def test_wgu_pages_one_offering_per_program_page() -> None:
    run = landed("rd_reg_wgu_pages")
    assert run.stats["complete"] and not run.invalid
    expected = {}
    for page in WGU_PAGES:
        programs = [n for n in wgu_jsonld(page) if n.get("@type") == "EducationalOccupationalProgram"]
        # one offering per program page: its program node, or (none on the page) the page itself
        expected[f"{WGU}/{page}/page.html"] = max(1, len(programs))
    assert per_file(run.items) == expected
    assert sum(expected.values()) == len(run.items) == 3


def test_wgu_courses_are_parts_of_the_program_not_offerings() -> None:
    items = landed("rd_reg_wgu_pages").by_key()
    for page, key in (("bs-computer-science", "/online-it-degrees/computer-science.html"),
                      ("cert-leadership", "/online-business-degrees/certificates/leadership.html")):
        courses = [n for n in wgu_jsonld(page) if n.get("@type") == "Course"]
        listed = payload(items[key])["jsonld"]["hasCourse"]
        assert len(listed) == len(courses)  # 37 and 3: every Course node, resolved into the program
        assert [c["name"] for c in listed] == [c["name"] for c in courses]
    assert len(payload(items["/online-it-degrees/computer-science.html"])["jsonld"]["hasCourse"]) == 37


def test_wgu_bs_computer_science_fields() -> None:
    item = landed("rd_reg_wgu_pages").by_key()["/online-it-degrees/computer-science.html"]
    assert item["record_kind_raw"] == "EducationalOccupationalProgram"
    assert item["title"] == "Online Computer Science Degree"
    assert item["description"].startswith("Earn your bachelor’s degree in computer science from WGU")
    assert item["awarding_body"] == "Western Governors University"  # provider -> #university node
    assert item["credential_type_raw"] == "Bachelor of Science"
    assert (item["duration_raw"], item["credits_raw"], item["modality_raw"]) == ("P25M", "37 courses", "Online")
    assert item["prices"] == [{"text": None, "amount": "4125", "currency": "USD", "label": "Tuition per 6-month term"}]
    assert item["page_defects"] == []
    off = offering("rd_reg_wgu_pages", "/online-it-degrees/computer-science.html")
    assert (off["credential_type"], off["eqf_level"], off["modality"]) == ("BachelorOfScienceDegree", 6, "OnlineOnly")
    assert off["awarding_body"] == "Western Governors University"


def test_wgu_leadership_certificate_fields() -> None:
    item = landed("rd_reg_wgu_pages").by_key()["/online-business-degrees/certificates/leadership.html"]
    assert item["title"] == "Business Leadership Certificate"
    assert item["credential_type_raw"] == "Business Leadership Certificate"
    assert (item["duration_raw"], item["credits_raw"]) == ("P4M", "9")
    assert item["prices"][0] | {"text": None} == {"text": None, "amount": "1125", "currency": "USD", "label": "Total cost"}
    off = offering("rd_reg_wgu_pages", "/online-business-degrees/certificates/leadership.html")
    assert (off["credential_type"], off["price_amount"], off["price_currency"]) == ("Certificate", 1125.0, "USD")
    assert off["credits"] == 9.0


def test_wgu_page_without_a_program_node_is_still_read() -> None:
    """The MSN page's JSON-LD is CollegeOrUniversity + FAQPage only: the page itself is the record."""
    assert {n["@type"] for n in wgu_jsonld("ms-nursing-education")} == {"CollegeOrUniversity", "FAQPage"}
    item = landed("rd_reg_wgu_pages").by_key()[
        "/online-nursing-health-degrees/bsn-to-msn-nursing-education-masters-program.html"]
    assert item["page_defects"] == ["no_jsonld_item"]
    assert item["title"] == "Online BSN to MSN Master’s Degree Program | Nursing Education | WGU"  # og:title
    assert item["description"].startswith("WGU’s accredited online nursing education master’s degree (BSN to MSN)")
    assert (item["awarding_body"], item["language_raw"]) == ("Western Governors University", "en")


def test_wgu_pages_dirt() -> None:
    run = landed("rd_reg_wgu_pages")
    # These snapshots' JSON-LD blocks all decode (checked by json.loads above); nothing is
    # recorded as invalid, and typographic quotes stay as written, no mojibake.
    assert "invalid_jsonld" not in run.stats["page_defects"]
    assert run.stats["page_defects"] == {"no_jsonld_item": 1}
    for item in run.items:
        assert not any(m in mapped_text(item) for m in MOJIBAKE)
        assert item["source_key"].startswith("/online-")  # the page's canonical path, not the saved file's


# --- WGU CTDL records: ctdl_registry, bare resources ----------------------------------------------

WGU_REG = {f"{WGU}/bs-computer-science/registry.json": "ce-8f5a2e25-7a30-4eb0-ab9e-ab441ac928c6",
           f"{WGU}/ms-nursing-education/registry.json": "ce-6f236de1-9651-471a-9773-d9c7087b92c3",
           f"{WGU}/cert-leadership/registry-proxy-aws-devops.json": "ce-727764d7-b909-4e5c-b26a-c4d0fced2159"}


def test_wgu_registry_counts() -> None:
    run = landed("rd_reg_wgu_registry")
    assert run.stats["complete"] and not run.invalid
    assert per_file(run.items) == {rel: ctdl_offerings(rel) for rel in WGU_REG}  # one resource per file
    assert {rel: json.loads(path(rel).read_text())["ceterms:ctid"] for rel in WGU_REG} == WGU_REG
    assert set(run.by_key()) == set(WGU_REG.values())


def test_wgu_registry_bscs_fields() -> None:
    item = landed("rd_reg_wgu_registry").by_key()["ce-8f5a2e25-7a30-4eb0-ab9e-ab441ac928c6"]
    assert item["title"] == "Bachelor of Science, Computer Science (BSCS_202412)"  # {"en-US": ...} map
    assert item["credential_type_raw"] == "ceterms:BachelorOfScienceDegree"
    assert item["subject_codes"] == ["11.0701"]  # instructionalProgramType CIP code
    assert item["subjects"] == ["Computer Science"]  # degreeMajor
    assert (item["duration_raw"], item["language_raw"]) == ("P4Y", "en")
    assert item["modality_raw"] == "deliveryType:OnlineOnly"
    assert "Algorithm Analysis" in item["skills"] and len(item["skills"]) == 79  # ceterms:keyword
    assert item["prices"] == [{"text": "Each six-month term includes costs for tuition, an e-books and resources fee, "
                                       "and a program fee. Please see site for details.",
                               "amount": None, "currency": "USD", "label": None}]
    # owner is a registry URL not in the corpus: never fetched offline, the record says so
    assert item["awarding_body"] is None and item["page_defects"] == ["unresolved_org"]
    off = offering("rd_reg_wgu_registry", "ce-8f5a2e25-7a30-4eb0-ab9e-ab441ac928c6")
    assert (off["credential_type"], off["eqf_level"], off["isced_codes"]) == ("BachelorOfScienceDegree", 6, ["0613"])


def test_wgu_registry_msn_and_open_badge_fields() -> None:
    items = landed("rd_reg_wgu_registry").by_key()
    msn = items["ce-6f236de1-9651-471a-9773-d9c7087b92c3"]
    assert msn["title"] == "Master of Science, Nursing - Education (BSN to MSN) (MSNUED_202003)"
    assert (msn["credential_type_raw"], msn["subject_codes"]) == ("ceterms:MasterOfScienceDegree", ["51.3801"])
    assert msn["prices"][0]["currency"] == "US Dollar"  # as published (the BSCS record says "USD")
    badge = items["ce-727764d7-b909-4e5c-b26a-c4d0fced2159"]
    assert (badge["title"], badge["credential_type_raw"]) == ("WGU Certificate: AWS Cloud DevOps v1.1", "ceterms:OpenBadge")
    assert badge["language_raw"] == "en-US"
    assert offering("rd_reg_wgu_registry", "ce-727764d7-b909-4e5c-b26a-c4d0fced2159")["credential_type"] == "OpenBadge"
    assert offering("rd_reg_wgu_registry", "ce-6f236de1-9651-471a-9773-d9c7087b92c3")["eqf_level"] == 7


# --- Credential Registry fixtures: credentials, profiles, an organization --------------------------

CE_FILES = [f"{CE_FIX}/{f}" for f in (
    "credential/1_valid.json", "credential/3_import.json", "credential/4_import.json",
    "assessment_profile/2_import.json", "assessment_profile/3_import.json",
    "learning_opportunity_profile/2_import.json", "learning_opportunity_profile/3_import.json",
    "organization/3_import.json")]


def test_ce_fixtures_counts_and_the_organization_is_read() -> None:
    run = landed("rd_reg_ce_fixtures")
    assert run.stats["complete"] and not run.invalid
    expected = {rel: n for rel in CE_FILES if (n := ctdl_offerings(rel))}
    assert per_file(run.items) == expected and len(expected) == 7
    # organization/3_import.json holds one CredentialOrganization (NOCTI) and no offering: 0 is
    # its right count; the crawl shows it was read.
    assert ctdl_offerings(f"{CE_FIX}/organization/3_import.json") == 0
    assert run.stats["not_offerings"] == {"ceterms:CredentialOrganization": 1}


def test_ce_certification_cota() -> None:
    item = landed("rd_reg_ce_fixtures").by_key()["ce-1A4AB486-8212-4708-B7D5-C5167FDD2B47"]
    assert item["title"] == "Certified Occupational Therapy Assistant (COTA®)"
    assert item["credential_type_raw"] == "ceterms:Certification"
    assert item["subjects"] == ["Health Care", "Occupational Therapy"]
    assert (item["duration_raw"], item["level_raw"]) == ("P2Y", "audLevel:AssociatesDegreeLevel")
    assert item["status_raw"] == "credentialStat:Active"
    assert item["quality_assurance_raw"] == "Indiana University East"
    # the registry's own placeholder text is kept as published (normalize decides)
    assert item["prerequisites_raw"].startswith("*** Condition PROFILE DESCRIPTION MISSING ***")
    # no ownedBy/offeredBy in the record: no awarding body invented (the description names NBCOT)
    assert item["awarding_body"] is None
    # occupationType (SOC) / industryType (NAICS) alignments are not subject classifications
    assert item["subject_codes"] == []
    assert payload(item)["resource"]["ceterms:occupationType"][0]["ceterms:codedNotation"] == "29-1122.00"
    off = offering("rd_reg_ce_fixtures", "ce-1A4AB486-8212-4708-B7D5-C5167FDD2B47")
    assert (off["credential_type"], off["audience_level"], off["eqf_level"]) == ("Certification", "AssociatesDegreeLevel", 5)


def test_ce_owned_by_versus_offered_by() -> None:
    item = landed("rd_reg_ce_fixtures").by_key()["ce-28E50037-D306-4F1E-AA9D-22A0E716B7A7"]
    assert item["title"] == "Health Informatics" and item["credential_type_raw"] == "ceterms:Certification"
    assert item["awarding_body"] == "Medical Licensing Board of Indiana"  # ceterms:ownedBy
    assert item["platform"] == "Indiana University Bloomington"  # ceterms:offeredBy, another organization
    assert item["country_raw"] == "United States"  # owner's address
    assert "Medical Terminology" in item["skills"] and "Health Informatics" in item["subjects"]
    pharmacy = landed("rd_reg_ce_fixtures").by_key()["ce-8E5FC99F-F348-42A3-90B6-1EDCB93193DD"]
    assert (pharmacy["record_kind_raw"], pharmacy["awarding_body"]) == ("ceterms:AssessmentProfile",
                                                                       "Indiana Board of Pharmacy")
    assert pharmacy["platform"] == "Credential Engine Registry"  # offered by no one else
    master = landed("rd_reg_ce_fixtures").by_key()["urn:ctid:6bf1a7e2-814e-4598-a66e-a3e2ecb727d8"]
    assert master["title"] == "Master of Science in Project Management"
    assert master["page_defects"] == ["unresolved_org"]  # owner only by an @id outside the corpus


def test_ce_cost_profiles() -> None:
    items = landed("rd_reg_ce_fixtures").by_key()
    crna = items["ce-03A8B239-A5D9-4708-B3D2-73C2BE8D4505"]
    assert crna["title"] == "Certified Registered Nurse Anesthetist (CRNA)"
    assert crna["prices"] == [{"text": None, "amount": "725.0", "currency": "US Dollar",
                               "label": "costType:StandaloneAssessment"}]
    off = offering("rd_reg_ce_fixtures", "ce-03A8B239-A5D9-4708-B3D2-73C2BE8D4505")
    assert (off["record_kind"], off["price_amount"], off["price_currency"]) == ("assessment", 725.0, "USD")
    assert off["prices"] == [{"amount": 725.0, "currency": "USD", "cost_type": "StandaloneAssessment"}]
    cri = items["ce-38A1CF5C-798E-469B-88AC-87231D5AE1C2"]
    assert cri["title"] == "Certified Radiographic Interpreter (CRI) Seminars"
    assert [p["amount"] for p in cri["prices"]] == ["1640.0", "1407.0"]
    assert (cri["duration_raw"], cri["modality_raw"]) == ("P5D", "deliveryType:InPerson")
    off = offering("rd_reg_ce_fixtures", "ce-38A1CF5C-798E-469B-88AC-87231D5AE1C2")
    # the lowest of the two prices (member 1407, non-member 1640), as the labels have it
    assert (off["record_kind"], off["price_amount"], off["modality"]) == ("learning_opportunity", 1407.0, "InPerson")
    welder = items["ce-F9D584AD-9CB6-4641-B803-4C4708343772"]
    assert welder["title"] == "Certified Welder Courses" and len(welder["subjects"]) == 29
    assert welder["timing_raw"] == "learnMethod:Seminar"


def test_ce_fixtures_no_mojibake() -> None:
    for item in landed("rd_reg_ce_fixtures").items:
        assert not any(m in mapped_text(item) for m in MOJIBAKE)


# --- Credential Registry seeds: @graph, competencies, frameworks ------------------------------------


def test_ce_seeds_counts_and_competencies_are_read() -> None:
    run = landed("rd_reg_ce_seeds")
    assert run.stats["complete"] and not run.invalid
    assert per_file(run.items) == {f"{CE_SEEDS}/credential.json": len(ctdl_nodes(f"{CE_SEEDS}/credential.json"))}
    # competency.json (5 ceasn:Competency) and competency_framework.json (2 frameworks) hold no
    # offerings: 0 is their right count, and the crawl shows every one of them was read.
    read = Counter(n["@type"] for f in ("competency.json", "competency_framework.json")
                   for n in ctdl_nodes(f"{CE_SEEDS}/{f}"))
    assert read == {"ceasn:Competency": 5, "ceasn:CompetencyFramework": 2}
    assert run.stats["not_offerings"] == dict(read)


def test_ce_seed_master_degree_in_a_graph() -> None:
    item = landed("rd_reg_ce_seeds").by_key()["ce-53bc7e5d-d39c-4687-ac89-0474f691055d"]
    assert item["title"] == "Master of Business Administration (MBA) - self-designed"  # {"en": ...}
    assert item["credential_type_raw"] == "ceterms:MasterDegree"
    assert (item["credits_raw"], item["credit_unit_raw"]) == ("48.0", "Quarter Credits")
    assert item["level_raw"] == "audLevel:MastersDegreeLevel"
    assert item["subjects"] == ["CIP Code: 52.0201"]  # a CIP code written as a subject name
    assert item["page_defects"] == ["unresolved_org"]
    off = offering("rd_reg_ce_seeds", "ce-53bc7e5d-d39c-4687-ac89-0474f691055d")
    assert (off["credential_type"], off["credits"], off["credit_unit"]) == ("MasterDegree", 48.0, "QuarterHour")
    assert (off["eqf_level"], off["language"]) == (7, "en")


# --- Open Badges 3.0 examples ----------------------------------------------------------------------

OB_FILES = sorted(p.name for p in path(OB).glob("*.json")) if realdata_dir().is_dir() else []


def ob(name: str) -> dict[str, Any]:
    return json.loads(path(f"{OB}/{name}").read_text(encoding="utf-8"))


def test_openbadges_one_offering_per_achievement() -> None:
    run = landed("rd_reg_openbadges")
    assert run.stats["complete"] and not run.invalid
    assert len(OB_FILES) == 6
    ids = {f: ob(f)["credentialSubject"]["achievement"]["id"] for f in OB_FILES}  # one achievement per file
    # achievementAlignmentCase and achievementAlignmentCe award the same achievement
    # (https://1edtech.edu/achievements/1): one offering, the repeat counted, not landed.
    assert len(set(ids.values())) == 5
    assert sorted(run.by_key()) == sorted(set(ids.values())) and len(run.items) == 5
    assert run.stats["not_offerings"] == {"Achievement (repeated)": 1}
    counts = per_file(run.items)
    assert sum(counts.values()) == 5
    assert counts[f"{OB}/achievementAlignmentCase.json"] + counts[f"{OB}/achievementAlignmentCe.json"] == 1


def test_openbadges_full_badge_fields() -> None:
    item = landed("rd_reg_openbadges").by_key()["https://1edtech.edu/achievements/degree"]
    assert (item["title"], item["description"]) == ("1EdTech University Degree", "1EdTech University Degree Description")
    assert item["record_kind_raw"] == "OpenBadgeCredential"
    assert item["credential_type_raw"] == "Degree"  # achievementType
    assert (item["awarding_body"], item["country_raw"]) == ("1EdTech University", "USA")  # creator
    assert item["credits_raw"] == "36.0"  # creditsAvailable
    assert item["subjects"] == ["Research", "Computer Science Research", "research", "computer science"]
    assert item["skills"] == ["1EdTech University Degree"]  # the CFItem alignment; the CTDL one is not a skill
    assert item["assessment_raw"].startswith("# Degree Requirements")  # criteria.narrative
    off = offering("rd_reg_openbadges", "https://1edtech.edu/achievements/degree")
    assert (off["credential_type"], off["credits"], off["awarding_body"]) == ("Degree", 36.0, "1EdTech University")


def test_openbadges_issuer_and_creator() -> None:
    items = landed("rd_reg_openbadges").by_key()
    teamwork = items["https://example.com/achievements/21st-century-skills/teamwork"]
    assert (teamwork["title"], teamwork["awarding_body"]) == ("Teamwork", "Example Corp")  # credential issuer
    assert teamwork["assessment_raw"].startswith("Team members are nominated for this badge by their peers")
    assert teamwork["credential_type_raw"] is None
    assert offering("rd_reg_openbadges", "https://example.com/achievements/21st-century-skills/teamwork")[
        "credential_type"] == "OpenBadge"
    robot = items["https://example.com/achievements/robotics/robot-programming"]
    # the achievement's creator (who defined it), not the issuing university
    assert (robot["awarding_body"], robot["credential_type_raw"]) == ("Example Industry Group", "Competency")
    assert robot["skills"] == ["Robot Programming"]
    linear = items["https://example.com/achievements/math/linear-1"]
    assert linear["skills"] == ["Solve and graph linear equations and inequalities"]  # ceasn:Competency
    assert linear["title"] == "Linear equations and inequalities"


def test_openbadges_repeated_achievement_keeps_its_own_file() -> None:
    item = landed("rd_reg_openbadges").by_key()["https://1edtech.edu/achievements/1"]
    source = ob(Path(item["url"]).name)  # whichever of the two files was read first
    assert item["title"] == "Text analysis" and item["awarding_body"] == "Example University"
    alignment = source["credentialSubject"]["achievement"]["alignment"][0]
    if alignment["targetType"] == "CFItem":
        assert item["skills"] == [alignment["targetName"]]
    else:  # ceterms:Credential: an alignment to a credential is not a skill
        assert item["skills"] == []
    assert payload(item)["achievement"]["alignment"] == [alignment]


@pytest.mark.parametrize("name", ["rd_reg_openbadges", "rd_reg_wgu_registry", "rd_reg_ce_seeds"])
def test_no_rejects(name: str) -> None:
    assert landed(name).rejects().height == 0
