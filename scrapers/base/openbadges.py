"""Kind ``openbadges``: Open Badges documents (1EdTech OB 3.0 credentials, OB 2.0 assertions and badge classes).

What a badge issuer or a badge registry publishes is a credential *awarded to someone*: an
``OpenBadgeCredential`` (or ``AchievementCredential``) whose ``credentialSubject.achievement``
describes what was achieved. The offering is the **Achievement** (OB 2.0: the ``BadgeClass``),
not the award: one record per achievement, keyed by its ``id``. The same achievement awarded
in many credentials is one offering; the repeats are counted in the stats
(``not_offerings["Achievement (repeated)"]``), the first one read lands.

A file (or response) may hold one credential, a list of them, a ``VerifiablePresentation``
(``verifiableCredential``), a bare Achievement / BadgeClass, an OB 2.0 Assertion whose
``badge`` is embedded, a compact VC-JWT or a JWS in JSON serialization (general
``{"payload", "signatures"}`` or flattened ``{"payload", "protected", "signature"}``): a
JWS's payload, or the payload's ``vc`` claim, is read. ``EndorsementCredential``s endorse an
issuer or an achievement: not offerings, not walked.

Hosted documents (OB 2.0 hosted verification) refer to each other by URL: an Assertion's
``badge`` (likewise an OB 3.0 ``achievement``) given as a URL is fetched and the BadgeClass
there is read as the achievement awarded by that assertion (the payload's ``reference`` says
which page, credential and property led there); a reference described in the same document is
not fetched. An achievement whose creator / issuer is named nowhere in its document (nor in a
profile read earlier in the crawl) but is given by URL is held back while that Profile is
fetched once, then lands with its name as the awarding body (the profile in the payload's
``issuer_profile``). Fetches go through ``reference_request``: a URL is fetched at most once,
at most ``max_pages`` referenced documents are fetched (reaching the cap is a
``page_cap_reached`` defect and a failed page), a lost fetch is a failed page
(``on_error``; a saved-file source fetches no online URL, as its other links). Nothing is lost
silently: a badge reference that cannot be fetched, is not JSON or holds no BadgeClass is an
``unresolved_badge`` defect (and a failed page when it was fetched); an achievement whose
issuer cannot be read lands without awarding body, marked ``unresolved_issuer``. Held records
are released when the crawl goes idle. ``fetch_references = false`` fetches nothing (the same
defects).

Fields (raw, as written): name, description, ``achievementType`` -> credential_type_raw, the
enclosing credential's most specific type -> record_kind_raw (``OpenBadgeCredential``;
a bare achievement: its own type), ``creator`` (who defined the achievement; OB 2.0 the badge
class's ``issuer``) else the credential's ``issuer`` -> awarding_body (and its address'
country), ``fieldOfStudy`` / ``specialization`` / ``tag`` (OB 2.0 ``tags``) -> subjects,
alignments to competencies (``targetType`` in ``skill_target_types``, or untyped) -> skills
by ``targetName``, alignment codes of classification frameworks (``code_framework_pattern``
on ``targetFramework``) -> subject_codes, ``criteria.narrative`` (else the result
descriptions) -> assessment_raw, ``creditsAvailable`` -> credits_raw, ``inLanguage``.
Profiles given by ``id`` only are looked up among the profiles described in the same document,
then among those read earlier in the crawl, then fetched (above).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, ClassVar

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse
from w3lib.url import canonicalize_url

from scrapers.base.guard import guarded
from scrapers.base.html_fields import present
from scrapers.base.jsonld import as_list, text_of, texts_of
from scrapers.base.options import apply_options
from scrapers.base.spider import CredcatSpider

# Segments are base64url (RFC 7515); padding and the standard alphabet's "+" and "/" are
# tolerated, as some issuers encode with the wrong base64 variant.
_JWT = re.compile(r"^[A-Za-z0-9_+/-]+=*\.([A-Za-z0-9_+/-]+=*)\.[A-Za-z0-9_+/-]*=*$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_+/-]+=*$")
CREDENTIAL_TYPES = frozenset({"VerifiableCredential", "OpenBadgeCredential", "AchievementCredential",
                              "ClrCredential", "Assertion"})
ACHIEVEMENT_TYPES = frozenset({"Achievement", "BadgeClass"})
GENERIC_TYPES = frozenset({"VerifiableCredential"})
# Properties of a credential that name the achievement it awards (OB 2.0 ``badge``, OB 3.0 ``achievement``).
ACHIEVEMENT_REFERENCES = ("badge", "achievement")
ACCEPT = "application/ld+json, application/json;q=0.9, */*;q=0.1"  # hosted badges serve HTML to browsers
_UNREADABLE = object()  # a body that is neither JSON nor a JWS


def types_of(node: dict[str, Any]) -> list[str]:
    """A node's types (``type`` or ``@type``), local names (``ob:BadgeClass`` -> ``BadgeClass``)."""
    return [re.split(r"[/#:]", t)[-1] for t in as_list(node.get("type", node.get("@type"))) if isinstance(t, str)]


def _payload(segment: str) -> Any:
    """The JSON claims of a JWS payload segment (its ``vc`` claim for a VC-JWT); ``None`` if none."""
    part = segment.strip().rstrip("=").replace("+", "-").replace("/", "_")
    try:
        payload = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, TypeError, RecursionError):
        return None
    return payload.get("vc", payload) if isinstance(payload, dict) else None


def decode_jwt(text: str) -> Any:
    """The JSON payload of a compact JWS (VC-JWT); ``None`` when the text is not one."""
    m = _JWT.match(text.strip())
    return _payload(m.group(1)) if m else None


def decode_jws_json(node: dict[str, Any]) -> Any:
    """The JSON payload of a JWS in JSON serialization (RFC 7515 §7.2: general
    ``{"payload", "signatures": [...]}`` or flattened ``{"payload", "protected", "signature"}``);
    ``None`` when the object is not one. An unencoded payload (RFC 7797, ``"b64": false``) is
    read as the JSON text it is."""
    payload = node.get("payload")
    if not isinstance(payload, str) or not ("signatures" in node or "signature" in node):
        return None
    if _SEGMENT.match(payload.strip()) and (claims := _payload(payload)) is not None:
        return claims
    try:
        claims = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    return claims.get("vc", claims) if isinstance(claims, dict) else None


def decoded(value: Any) -> Any:
    """What a JWS stands for (a compact JWT string, or a JWS JSON object); ``None`` otherwise."""
    if isinstance(value, str):
        return decode_jwt(value)
    if isinstance(value, dict):
        return decode_jws_json(value)
    return None


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


class OpenBadgesSpider(CredcatSpider):
    kind = "openbadges"

    # Alignment targetTypes that name a competency or skill (OB 3.0 AlignmentTargetType; untyped counts too).
    skill_target_types: ClassVar[tuple[str, ...]] = (
        "ceasn:Competency", "CFItem", "CFRubric", "CFRubricCriterion", "ext:Skill",
    )
    # targetFramework names of classification schemes whose targetCode is a subject code.
    code_framework_pattern: ClassVar[str] = r"(?i)\b(CIP|ISCED|Classification of Instructional Programs)\b"
    # Keys never walked for achievements: endorsements, proofs, evidence.
    skip_keys: ClassVar[tuple[str, ...]] = ("endorsement", "endorsementJwt", "proof", "evidence", "image")
    # Fetch badge classes and issuer profiles given by URL (hosted OB 2.0 documents).
    fetch_references: ClassVar[bool] = True
    max_pages: ClassVar[int] = 5000  # referenced documents fetched at most (the cap leaves the crawl incomplete)
    option_names: ClassVar[frozenset[str]] = frozenset({
        "skill_target_types", "code_framework_pattern", "skip_keys", "fetch_references", "max_pages",
    })

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        apply_options(self, self.option_names)
        self.seen: set[str] = set()
        self.requested: set[str] = set()  # canonical URLs of the referenced documents requested
        self.issuers: dict[str, dict[str, Any] | None] = {}  # profile URL -> profile (None: unreadable)
        self.held: dict[str, list[dict[str, Any]]] = defaultdict(list)  # profile URL -> records waiting

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> OpenBadgesSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    # --- documents -------------------------------------------------------------------------

    def document(self, response: Response) -> Any:
        """The JSON of a body (a compact JWS's or a JWS JSON's payload); ``_UNREADABLE`` when it
        is neither (an ``invalid_json_body`` defect)."""
        text = response.text if isinstance(response, TextResponse) else response.body.decode("utf-8", "replace")
        try:
            doc: Any = json.loads(text)
        except (ValueError, RecursionError) as exc:
            doc = decode_jwt(text)
            if doc is None:
                self.page_defect(response, "invalid_json_body", str(exc))
                return _UNREADABLE
        if isinstance(doc, str | dict) and (payload := decoded(doc)) is not None:
            return payload  # a JSON string holding a VC-JWT, or a JWS in JSON serialization
        return None if isinstance(doc, str) else doc

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        doc = self.document(response)
        if doc is _UNREADABLE:
            self.failed_page(response.url, "neither JSON nor a VC-JWT")
            return
        profiles = self.profiles(doc)
        references: list[tuple[str, dict[str, Any], str]] = []
        found = list(self.achievements(doc, None, references))
        if not found and not references:
            self.page_defect(response, "no_achievement", "no Achievement or BadgeClass in the document")
        described = {ident.strip() for a, _ in found if isinstance(ident := a.get("id") or a.get("@id"), str)}
        for position, (achievement, credential) in enumerate(found):
            yield from self.emit(response, achievement, credential, profiles, position)
        for url, credential, prop in references:
            yield from self.follow_badge(response, url, credential, prop, described)

    def achievements(self, value: Any, credential: dict[str, Any] | None,
                     references: list[tuple[str, dict[str, Any], str]] | None = None,
                     ) -> Iterator[tuple[dict[str, Any], Any]]:
        """(achievement, the credential that awards it) for every achievement in a document.

        ``references`` collects (URL, credential, property) for the achievements credentials
        give by URL only (an OB 2.0 hosted Assertion's ``badge``)."""
        if (payload := decoded(value)) is not None:
            yield from self.achievements(payload, credential, references)  # a JWS inside a presentation
            return
        if isinstance(value, list):
            for item in value:
                yield from self.achievements(item, credential, references)
            return
        if not isinstance(value, dict):
            return
        types = set(types_of(value))
        if "EndorsementCredential" in types:
            return  # it endorses an issuer or an achievement: never an offering
        if types & ACHIEVEMENT_TYPES:
            yield value, credential
            return
        if types & CREDENTIAL_TYPES:
            credential = value
        for k, v in value.items():
            if k in self.skip_keys or k.startswith("@"):
                continue
            if k in ACHIEVEMENT_REFERENCES and credential is not None and references is not None \
                    and (url := self.reference_url(v)):
                references.append((url, credential, k))
                continue
            yield from self.achievements(v, credential, references)

    @staticmethod
    def reference_url(value: Any) -> str | None:
        """The URL a value refers to when it is a reference only: a URL, or an object holding
        nothing but an ``id`` (and ``type``)."""
        if isinstance(value, dict) and set(value) <= {"id", "@id", "type", "@type"}:
            value = value.get("id", value.get("@id"))
        return value.strip() if is_url(value) else None

    def profiles(self, doc: Any) -> dict[str, dict[str, Any]]:
        """Issuer / creator profiles described in the document, by id (the fullest wins).
        Those with a URL id are remembered for the rest of the crawl."""
        found: dict[str, dict[str, Any]] = {}

        def walk(value: Any) -> None:
            if (payload := decoded(value)) is not None:
                walk(payload)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            elif isinstance(value, dict):
                ident = value.get("id")
                if isinstance(ident, str) and value.get("name") and len(value) > len(found.get(ident, {})) \
                        and ("Profile" in types_of(value) or "Issuer" in types_of(value)):
                    found[ident] = value
                for v in value.values():
                    walk(v)

        walk(doc)
        for ident, profile in found.items():
            if is_url(ident) and not self.issuers.get(ident):
                self.issuers[ident] = profile
        return found

    # --- one achievement -------------------------------------------------------------------

    def emit(self, response: Response, achievement: dict[str, Any], credential: dict[str, Any] | None,
             profiles: dict[str, dict[str, Any]], position: int, default_key: str | None = None,
             reference: dict[str, Any] | None = None) -> Iterator[Any]:
        """The item of one achievement (unless read before), or the request of its issuer's
        profile while the item is held back."""
        ident = achievement.get("id") or achievement.get("@id")
        has_id = isinstance(ident, str) and bool(ident.strip())
        key = default_key if default_key and not has_id else self.key_of(achievement, credential, position, response)
        if key in self.seen:
            self.crawler.stats.inc_value(f"credcat/not_offerings/{self.type_name(achievement)} (repeated)")
            return
        self.seen.add(key)
        payload: dict[str, Any] = {"achievement": achievement,
                                   "credential": {k: v for k, v in (credential or {}).items()
                                                  if k not in ("credentialSubject", "proof")}}
        if reference:
            payload["reference"] = reference
        item = guarded(self, response, key, payload, lambda: self.offering(
            response, key, payload, **present(self.map_achievement(achievement, credential, profiles))))
        url = None if item.get("awarding_body") else self.issuer_url(achievement, credential, profiles)
        if url is None:
            yield item
        else:
            yield from self.with_issuer(response.url, url, item)

    @staticmethod
    def type_name(node: dict[str, Any]) -> str:
        return next((t for t in types_of(node) if t in ACHIEVEMENT_TYPES), "Achievement")

    @staticmethod
    def key_of(achievement: dict[str, Any], credential: dict[str, Any] | None, position: int,
               response: Response) -> str:
        ident = achievement.get("id") or achievement.get("@id")
        if isinstance(ident, str) and ident.strip():
            return ident.strip()
        owner = (credential or {}).get("id")
        if isinstance(owner, str) and owner:  # an achievement without id: the awarding credential's, by name
            return f"{owner}#achievement:{text_of(achievement.get('name')) or position}"
        text = json.dumps([achievement.get("name"), achievement.get("creator"), achievement.get("issuer")],
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def owner(self, ref: Any, profiles: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        """The profile a creator / issuer value stands for: itself when it names one, else the
        profile of its id in the document, else one read earlier in the crawl."""
        if isinstance(ref, dict) and ref.get("name"):
            return ref
        ident = ref.get("id") if isinstance(ref, dict) else ref
        found = (profiles.get(ident) or self.issuers.get(ident)) if isinstance(ident, str) else None
        return found or (ref if isinstance(ref, dict) else None)

    def issuer_url(self, a: dict[str, Any], c: dict[str, Any] | None,
                   profiles: dict[str, dict[str, Any]]) -> str | None:
        """The URL of the profile that would name the awarding body, when none is named: the
        creator's, else the achievement's issuer's, else the credential's issuer's."""
        for ref in (a.get("creator"), a.get("issuer"), (c or {}).get("issuer")):
            url = ref if is_url(ref) else ref.get("id") if isinstance(ref, dict) and is_url(ref.get("id")) else None
            if url and url not in profiles:
                return url
        return None

    def map_achievement(self, a: dict[str, Any], c: dict[str, Any] | None,
                        profiles: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The hook: one Achievement (and the credential awarding it) -> RawOffering fields."""
        owner = next((o for o in (self.owner(a.get("creator"), profiles), self.owner(a.get("issuer"), profiles),
                                  self.owner((c or {}).get("issuer"), profiles)) if o and o.get("name")), None)
        credential_types = [t for t in types_of(c or {}) if t not in GENERIC_TYPES]
        alignments = [x for x in as_list(a.get("alignment")) if isinstance(x, dict)]
        skill_types = set(self.skill_target_types)
        codes = re.compile(self.code_framework_pattern)
        narrative = text_of((a.get("criteria") or {}).get("narrative")) if isinstance(a.get("criteria"), dict) else None
        results = [f"{text_of(r.get('name'))} ({text_of(r.get('resultType'))})" if r.get("resultType")
                   else text_of(r.get("name"))
                   for r in as_list(a.get("resultDescription")) if isinstance(r, dict) and r.get("name")]
        return {
            "record_kind_raw": credential_types[0] if credential_types else self.type_name(a),
            "title": text_of(a.get("name")),
            "description": text_of(a.get("description")),
            "credential_type_raw": text_of(a.get("achievementType")),
            **self.owner_fields(owner),
            "subjects": texts_of([a.get("fieldOfStudy"), a.get("specialization"), *as_list(a.get("tag")),
                                  *as_list(a.get("tags"))]),
            "skills": [name for x in alignments
                       if (not x.get("targetType") or x.get("targetType") in skill_types)
                       and (name := text_of(x.get("targetName")))],
            "subject_codes": [code for x in alignments
                              if codes.search(text_of(x.get("targetFramework")) or "")
                              and (code := text_of(x.get("targetCode")))],
            "language_raw": text_of(a.get("inLanguage")),
            "credits_raw": text_of(a.get("creditsAvailable")),
            "assessment_raw": narrative or ("; ".join(r for r in results if r) or None),
        }

    @staticmethod
    def owner_fields(owner: dict[str, Any] | None) -> dict[str, Any]:
        """awarding_body and country_raw from the profile that defined the achievement."""
        address = (owner or {}).get("address")
        return {
            "awarding_body": text_of(owner.get("name")) if owner else None,
            "country_raw": text_of(address.get("addressCountry")) if isinstance(address, dict) else None,
        }

    # --- referenced documents ------------------------------------------------------------------

    def reference_request(self, url: str, callback: Any, errback: Any, **cb_kwargs: Any) -> scrapy.Request | None:
        """The request of a referenced document (a badge class, a profile); ``None`` when the cap
        of ``max_pages`` is reached (a ``page_cap_reached`` defect and a failed page). Callers
        ask ``was_requested`` first: a URL is fetched at most once."""
        if len(self.requested) >= int(self.max_pages):
            self.crawler.stats.inc_value("credcat/page_defects/page_cap_reached")
            self.failed_page(url, f"page cap {self.max_pages} reached")
            return None
        self.requested.add(canonicalize_url(url))
        # dont_filter: the spider deduplicates itself; a request Scrapy's filter dropped would
        # reach neither callback nor errback.
        return scrapy.Request(url, callback=callback, errback=errback, cb_kwargs=cb_kwargs,
                              headers={"Accept": ACCEPT}, dont_filter=True)

    def was_requested(self, url: str) -> bool:
        return canonicalize_url(url) in self.requested

    def reference_defect(self, referrer: str, code: str, detail: str) -> str:
        """A defect of the page ``referrer`` found out after it was read (its reference failed)."""
        self.crawler.stats.inc_value(f"credcat/page_defects/{code}")
        self.logger.info("page defect %s at %s: %s", code, referrer, detail[:300])
        return code

    def follow_badge(self, response: Response, url: str, credential: dict[str, Any], prop: str,
                     described: set[str]) -> Iterator[Any]:
        """The request of the achievement a credential gives by URL only."""
        if url in described or url in self.seen or self.was_requested(url):
            # described in this document, or read / requested before: one more award of it
            self.crawler.stats.inc_value("credcat/not_offerings/Achievement (repeated)")
            return
        award = text_of(credential.get("id")) or "a credential"
        if not self.fetch_references:
            self.page_defect(response, "unresolved_badge", f"{prop} of {award} is {url}: not fetched")
            return
        credential = {k: v for k, v in credential.items() if k not in ("credentialSubject", "proof")}
        request = self.reference_request(url, self.parse_badge, self.badge_failed, credential=credential,
                                         prop=prop, referrer=response.url, badge_url=url)
        if request is not None:
            yield request

    def parse_badge(self, response: Response, credential: dict[str, Any], prop: str, referrer: str,
                    badge_url: str) -> Iterator[Any]:
        """A referenced badge class, read as the achievement of the credential that named it."""
        award = text_of(credential.get("id")) or "a credential"
        doc = self.document(response)
        found = [] if doc is _UNREADABLE else list(self.achievements(doc, None))
        if not found:
            why = "is neither JSON nor a VC-JWT" if doc is _UNREADABLE else "holds no Achievement or BadgeClass"
            self.reference_defect(referrer, "unresolved_badge", f"{prop} of {award} at {referrer}: {badge_url} {why}")
            self.failed_page(response.url, f"the {prop} of {award} {why}")
            return
        profiles = self.profiles([doc, credential])
        reference = {"from": referrer, "credential": credential.get("id"), "property": prop, "url": badge_url}
        for position, (achievement, _) in enumerate(found):
            yield from self.emit(response, achievement, credential, profiles, position,
                                 default_key=badge_url, reference=reference)

    def badge_failed(self, failure: Any) -> None:
        self.on_error(failure)  # a failed page (unless a saved-file source's link, deliberately not fetched)
        kw = failure.request.cb_kwargs
        award = text_of(kw["credential"].get("id")) or "a credential"
        self.reference_defect(kw["referrer"], "unresolved_badge",
                              f"{kw['prop']} of {award} at {kw['referrer']}: {kw['badge_url']} not fetched")

    # --- issuer profiles ------------------------------------------------------------------------

    def with_issuer(self, referrer: str, url: str, item: dict[str, Any]) -> Iterator[Any]:
        """``item`` named after the profile at ``url``: at once when it was read, else held back
        while it is fetched (once)."""
        if url in self.issuers:
            yield self.named(item, url, self.issuers[url])
            return
        if url in self.held:  # its request is on its way
            self.held[url].append(item)
            return
        if not self.fetch_references or self.was_requested(url):
            yield self.named(item, url, None)
            return
        request = self.reference_request(url, self.parse_issuer, self.issuer_failed, issuer_url=url)
        if request is None:
            yield self.named(item, url, None)
            return
        self.held[url].append(item)
        yield request

    def parse_issuer(self, response: Response, issuer_url: str) -> Iterator[dict[str, Any]]:
        doc = self.document(response)
        profile = None
        if doc is not _UNREADABLE:
            profiles = self.profiles(doc)
            # the profile of that id, else the only one, else an untyped document with a name (OB 1.0)
            profile = profiles.get(issuer_url) or (next(iter(profiles.values())) if len(profiles) == 1 else None)
            if profile is None and isinstance(doc, dict) and text_of(doc.get("name")) \
                    and not set(types_of(doc)) & (ACHIEVEMENT_TYPES | CREDENTIAL_TYPES):
                profile = doc
            if profile is None:
                self.page_defect(response, "not_a_profile", f"{issuer_url}: no issuer Profile with a name")
        self.issuers[issuer_url] = profile
        for item in self.held.pop(issuer_url, []):
            yield self.named(item, issuer_url, profile)

    def issuer_failed(self, failure: Any) -> Iterator[dict[str, Any]]:
        self.on_error(failure)
        url = failure.request.cb_kwargs["issuer_url"]
        self.issuers.setdefault(url, None)
        for item in self.held.pop(url, []):
            yield self.named(item, url, None)

    def named(self, item: dict[str, Any], url: str, profile: dict[str, Any] | None) -> dict[str, Any]:
        """The held item with its awarding body from the profile read at ``url``; without one,
        marked ``unresolved_issuer``."""
        fields = self.owner_fields(profile)
        if fields["awarding_body"]:
            item["awarding_body"] = fields["awarding_body"]
            if fields["country_raw"] and not item.get("country_raw"):
                item["country_raw"] = fields["country_raw"]
            item["payload"]["issuer_profile"] = profile
            return item
        self.crawler.stats.inc_value("credcat/page_defects/unresolved_issuer")
        self.logger.info("record %s: its issuer %s could not be read", item.get("source_key"), url)
        item["page_defects"] = [*(item.get("page_defects") or []), "unresolved_issuer"]
        return item

    def on_idle(self) -> None:
        """Held records never wait past the end of the crawl (a profile request that was dropped)."""
        if any(self.held.values()):
            request = scrapy.Request("data:,", callback=self.release_held, errback=self.release_held,
                                     dont_filter=True)
            self.crawler.engine.crawl(request)
            raise DontCloseSpider

    def release_held(self, _: Any = None) -> Iterator[dict[str, Any]]:
        for url in list(self.held):
            for item in self.held.pop(url):
                yield self.named(item, url, None)
