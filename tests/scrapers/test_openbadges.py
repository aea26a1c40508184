"""Kind openbadges: Open Badges 3.0 / 2.0 documents -> one offering per Achievement (hand-written fixtures)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from normalize.schema import RawOffering
from scrapers.registry import Source
from scrapers.spiders.openbadges import GenericOpenBadgesSpider
from scrapers.testing import fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"
URL = "https://badges.harbour.example/export/presentation.json"
SQL = "https://badges.harbour.example/achievements/sql-foundations"


def spider(**options) -> GenericOpenBadgesSpider:
    source = Source(name="ob_test", spider="openbadges", kind="openbadges", format="Open Badges",
                    provider_kind="registry", platform="Badge Wallet", start_urls=[URL], options=options)
    return offline_spider(GenericOpenBadgesSpider, source=source)


def read(sp: GenericOpenBadgesSpider, body: str, url: str = URL) -> dict[str, dict]:
    items, requests = split(sp.parse(fake_response(url, body)))
    assert requests == []
    for item in items:
        RawOffering.model_validate(item)
    return {i["source_key"]: i for i in items}


@pytest.fixture
def presentation() -> str:
    return (FIXTURES / "openbadges_presentation.json").read_text()


def test_one_offering_per_achievement_in_a_presentation(presentation):
    sp = spider()
    items = read(sp, presentation)
    # three credentials, two award the same achievement: two offerings, the repeat counted
    assert set(items) == {SQL, "urn:uuid:award-0003#achievement:Data Ethics Primer"}
    assert sp.crawler.stats.get_value("credcat/not_offerings/Achievement (repeated)") == 1
    # the endorsement inside the achievement is no offering of its own
    assert not any("endorse" in key for key in items)


def test_achievement_fields(presentation):
    item = read(spider(), presentation)[SQL]
    assert (item["title"], item["description"]) == ("SQL Foundations", "Writes and tunes relational queries.")
    assert (item["record_kind_raw"], item["credential_type_raw"]) == ("OpenBadgeCredential", "MicroCredential")
    # creator given by id only: found among the document's profiles, with its address
    assert (item["awarding_body"], item["country_raw"]) == ("Harbour Data Academy", "Ireland")
    assert item["platform"] == "Badge Wallet"
    assert item["subjects"] == ["Information Technology", "databases", "SQL"]
    # competency alignments are skills (the CIP item is a CFItem too); the credential alignment is not
    assert item["skills"] == ["query relational databases", "Computer and Information Sciences, General"]
    assert item["subject_codes"] == ["11.0101"]  # targetFramework names CIP
    assert (item["language_raw"], item["credits_raw"]) == ("en-IE", "2.5")
    assert item["assessment_raw"] == "Pass the proctored SQL exam with 70% or more."
    assert item["payload"]["credential"]["id"] == "urn:uuid:award-0001"
    assert "proof" not in item["payload"]["credential"]


def test_achievement_without_id_and_issuer_by_reference(presentation):
    item = read(spider(), presentation)["urn:uuid:award-0003#achievement:Data Ethics Primer"]
    assert item["awarding_body"] == "Harbour Data Academy"  # "issuer": "<id>" resolved in the document
    assert item["assessment_raw"] == "Essay grade (LetterGrade)"  # no narrative: the result descriptions


def test_open_badges_2_assertion_with_embedded_badge_class():
    item = read(spider(), (FIXTURES / "openbadges_ob2_assertion.json").read_text())[
        "https://lakeshore.example/badges/first-aid"]
    assert (item["title"], item["record_kind_raw"]) == ("First Aid at Work", "Assertion")
    assert item["awarding_body"] == "Lakeshore Safety Training"  # the BadgeClass's issuer
    assert item["subjects"] == ["first aid", "health and safety"]
    assert item["skills"] == ["administer first aid"]  # an untyped alignment
    assert item["assessment_raw"] == "Attend all sessions and pass the practical."


def test_vc_jwt_body_is_read():
    credential = json.loads((FIXTURES / "openbadges_presentation.json").read_text())["verifiableCredential"][0]

    def b64(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    jwt = f"{b64({'alg': 'ES256', 'typ': 'JWT'})}.{b64({'iss': 'x', 'vc': credential})}.c2ln"
    items = read(spider(), jwt, "https://badges.harbour.example/credentials/1.jwt")
    assert list(items) == [SQL]


def test_a_document_without_achievements_is_a_defect_and_garbage_a_failed_page():
    sp = spider()
    assert read(sp, json.dumps({"type": ["VerifiableCredential"], "credentialSubject": {"id": "x"}})) == {}
    assert sp.crawler.stats.get_value("credcat/page_defects/no_achievement") == 1
    assert read(sp, "{not json") == {}
    assert sp.crawler.stats.get_value("credcat/failed_pages") == 1


def test_options_configure_the_kind(presentation):
    item = read(spider(skill_target_types=["ceasn:Competency"], code_framework_pattern="^$"), presentation)[SQL]
    assert item["skills"] == ["query relational databases"] and "subject_codes" not in item
    with pytest.raises(ValueError, match="not options of kind openbadges"):
        spider(results_path="x")


@pytest.mark.parametrize("encode", [base64.urlsafe_b64encode, base64.b64encode], ids=["base64url", "standard"])
def test_vc_jwt_with_padding_or_the_standard_base64_alphabet_is_read(encode):
    achievement = {"id": "https://badges.example/a/1", "type": ["Achievement"], "name": "Padded ???>>> badge"}
    credential = {"type": ["VerifiableCredential", "OpenBadgeCredential"],
                  "credentialSubject": {"achievement": achievement}}
    payload = json.dumps(credential).encode()
    payload += b" " * ((1 - len(payload)) % 3)  # a length that needs "=" padding
    segment = encode(payload).decode()
    assert segment.endswith("=") and ("+" in segment or "-" in segment)
    header = encode(b'{"alg": "ES256"}').decode()
    jwt = f"{header}.{segment}.c2ln+/=="
    items = read(spider(), jwt, "https://badges.example/credentials/1.jwt")
    assert [i["title"] for i in items.values()] == ["Padded ???>>> badge"]
