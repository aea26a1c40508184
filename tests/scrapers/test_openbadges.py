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


# --- JWS JSON serialization ------------------------------------------------------------------------

def b64url(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


CREDENTIAL = {"type": ["VerifiableCredential", "OpenBadgeCredential"],
              "issuer": {"id": "https://org.example/", "type": ["Profile"], "name": "Org"},
              "credentialSubject": {"achievement": {"id": "https://org.example/ach/1", "type": ["Achievement"],
                                                    "name": "Signed badge"}}}


@pytest.mark.parametrize("jws", [
    {"payload": b64url(CREDENTIAL), "signatures": [{"protected": b64url({"alg": "ES256"}), "signature": "c2ln"}]},
    {"payload": b64url({"iss": "x", "vc": CREDENTIAL}), "protected": b64url({"alg": "ES256"}), "signature": "c2ln"},
], ids=["general", "flattened"])
def test_a_jws_in_json_serialization_is_read_like_a_compact_jwt(jws):
    items = read(spider(), json.dumps(jws), "https://org.example/credentials/1.json")
    assert [(i["title"], i["awarding_body"]) for i in items.values()] == [("Signed badge", "Org")]
    # inside a presentation too
    presentation = {"type": ["VerifiablePresentation"], "verifiableCredential": [jws]}
    items = read(spider(), json.dumps(presentation), "https://org.example/presentations/1.json")
    assert list(items) == ["https://org.example/ach/1"]


# --- hosted documents: badge classes and issuer profiles given by URL ------------------------------

OB2 = "https://w3id.org/openbadges/v2"
BADGE = "https://hosted.example/badges/python-basics.json"
ISSUER = "https://hosted.example/issuer.json"
PAGE = "https://hosted.example/assertions.json"


def assertion(n: int, badge: str = BADGE) -> dict:
    return {"@context": OB2, "type": "Assertion", "id": f"https://hosted.example/assertions/{n}", "badge": badge,
            "recipient": {"type": "email", "hashed": True, "identity": "sha256$x"},
            "verification": {"type": "hosted"}, "issuedOn": "2024-01-01"}


def badge_class(ident: str = BADGE, issuer: object = ISSUER, name: str = "Python Basics") -> dict:
    return {"@context": OB2, "type": "BadgeClass", "id": ident, "name": name, "issuer": issuer,
            "tags": ["python"], "criteria": {"narrative": "Pass the quiz."}}


def run(sp: GenericOpenBadgesSpider, body: object, url: str, callback=None, **kwargs):
    text = body if isinstance(body, str) else json.dumps(body)
    items, requests = split((callback or sp.parse)(fake_response(url, text), **kwargs))
    for item in items:
        RawOffering.model_validate(item)
    return items, requests


def follow(sp: GenericOpenBadgesSpider, request, body: object):
    """The referenced document ``body`` served for ``request``."""
    return run(sp, body, request.url, request.callback, **request.cb_kwargs)


def failing(request, status: int = 404):
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.python.failure import Failure

    failure = Failure(HttpError(fake_response(request.url, "", status=status), "not ok"))
    failure.request = request
    return failure


def test_a_hosted_assertion_s_badge_url_is_fetched_and_read_as_the_achievement():
    sp = spider()
    items, requests = run(sp, [assertion(1), assertion(2)], PAGE)
    # one request for the badge class both assertions award; the second award is a repeat
    assert items == [] and [r.url for r in requests] == [BADGE]
    assert requests[0].errback is not None and b"json" in requests[0].headers[b"Accept"]
    assert sp.crawler.stats.get_value("credcat/not_offerings/Achievement (repeated)") == 1
    issuer = {"type": "Issuer", "id": ISSUER, "name": "Hosted Academy", "address": {"addressCountry": "NZ"}}
    items, more = follow(sp, requests[0], badge_class(issuer=issuer))
    assert more == [] and len(items) == 1
    item = items[0]
    assert (item["source_key"], item["title"], item["record_kind_raw"]) == (BADGE, "Python Basics", "Assertion")
    assert (item["awarding_body"], item["country_raw"]) == ("Hosted Academy", "NZ")
    assert item["url"] == BADGE and item["subjects"] == ["python"]
    # provenance: the page, the assertion and the property that led there
    assert item["payload"]["reference"] == {"from": PAGE, "credential": "https://hosted.example/assertions/1",
                                            "property": "badge", "url": BADGE}
    assert item["payload"]["credential"]["id"] == "https://hosted.example/assertions/1"


def test_an_issuer_given_by_url_is_fetched_once_and_names_the_awarding_body():
    sp = spider()
    other = "https://hosted.example/badges/sql.json"
    # two badge classes of one issuer: both wait for its profile, fetched once
    items, requests = run(sp, [badge_class(), badge_class(other, name="SQL")], "https://hosted.example/badges.json")
    assert items == [] and [r.url for r in requests] == [ISSUER]
    profile = {"@context": OB2, "type": "Profile", "id": ISSUER, "name": "Hosted Academy"}
    items, more = follow(sp, requests[0], profile)
    assert more == [] and sorted((i["source_key"], i["awarding_body"]) for i in items) == [
        (BADGE, "Hosted Academy"), (other, "Hosted Academy")]
    assert items[0]["payload"]["issuer_profile"] == profile and "page_defects" not in items[0]
    # a later badge class of that issuer is named at once
    items, requests = run(sp, badge_class("https://hosted.example/badges/r.json", name="R"), "https://hosted.example/r")
    assert requests == [] and items[0]["awarding_body"] == "Hosted Academy"


def test_references_that_fail_are_defects_and_failed_pages_never_lost_silently():
    sp = spider()
    stats = sp.crawler.stats
    missing, profile_url = "https://hosted.example/badges/gone.json", "https://hosted.example/badges/profile.json"
    _, requests = run(sp, [assertion(1, missing), assertion(2, profile_url), assertion(3, "https://hosted.example/b/3")],
                      PAGE)
    gone, not_badge, unreadable = requests
    # the badge class cannot be fetched: a failed page, and the assertion's page has a defect
    assert list(sp.badge_failed(failing(gone)) or []) == []
    assert stats.get_value("credcat/page_failures/http_404") == 1
    # the URL serves something that is no badge class (a profile; an HTML page)
    items, _ = follow(sp, not_badge, {"type": "Profile", "id": profile_url, "name": "Not a badge"})
    assert items == []
    items, _ = follow(sp, unreadable, "<html><body>Sign in to see this badge</body></html>")
    assert items == []
    assert stats.get_value("credcat/page_defects/unresolved_badge") == 3
    assert stats.get_value("credcat/failed_pages") == 3


def test_an_issuer_that_cannot_be_read_leaves_the_record_without_awarding_body_marked():
    sp = spider()
    _, requests = run(sp, badge_class(), "https://hosted.example/badges.json")
    items = list(sp.issuer_failed(failing(requests[0], 503)))
    assert [(i["source_key"], i.get("awarding_body"), i["page_defects"]) for i in items] == [
        (BADGE, None, ["unresolved_issuer"])]
    assert sp.crawler.stats.get_value("credcat/failed_pages") == 1
    # that issuer is not asked again: the next badge class of it lands at once, marked
    items, requests = run(sp, badge_class("https://hosted.example/b/2"), "https://hosted.example/b2")
    assert requests == [] and items[0]["page_defects"] == ["unresolved_issuer"]
    # an issuer URL serving no profile: marked too
    sp = spider()
    _, requests = run(sp, badge_class(), "https://hosted.example/badges.json")
    items, _ = follow(sp, requests[0], {"type": "BadgeClass", "id": "x", "name": "not a profile"})
    assert items[0]["page_defects"] == ["unresolved_issuer"]
    # a record still held when the crawl goes idle (its request dropped) is released, marked
    sp = spider()
    _, requests = run(sp, badge_class(), "https://hosted.example/badges.json")
    items = list(sp.release_held())
    assert [i["page_defects"] for i in items] == [["unresolved_issuer"]] and not sp.held


def test_reference_fetching_obeys_the_page_cap_and_can_be_turned_off():
    sp = spider(max_pages=1)
    _, requests = run(sp, [assertion(1), assertion(2, "https://hosted.example/b/2")], PAGE)
    assert len(requests) == 1  # the second would pass the cap
    assert sp.crawler.stats.get_value("credcat/page_defects/page_cap_reached") == 1
    assert sp.crawler.stats.get_value("credcat/failed_pages") == 1
    sp = spider(fetch_references=False)
    items, requests = run(sp, [assertion(1), badge_class("https://hosted.example/b/9")], PAGE)
    assert requests == [] and [i["page_defects"] for i in items] == [["unresolved_issuer"]]
    assert sp.crawler.stats.get_value("credcat/page_defects/unresolved_badge") == 1


def test_a_badge_described_in_the_same_document_is_not_fetched():
    items, requests = run(spider(), [assertion(1), badge_class(issuer={"type": "Issuer", "id": ISSUER, "name": "H"})],
                          PAGE)
    assert requests == [] and [i["source_key"] for i in items] == [BADGE]
