"""Kind ``openbadges``: Open Badges documents (1EdTech OB 3.0 credentials, OB 2.0 assertions and badge classes).

What a badge issuer or a badge registry publishes is a credential *awarded to someone*: an
``OpenBadgeCredential`` (or ``AchievementCredential``) whose ``credentialSubject.achievement``
describes what was achieved. The offering is the **Achievement** (OB 2.0: the ``BadgeClass``),
not the award: one record per achievement, keyed by its ``id``. The same achievement awarded
in many credentials is one offering; the repeats are counted in the stats
(``not_offerings["Achievement (repeated)"]``), the first one read lands.

A file (or response) may hold one credential, a list of them, a ``VerifiablePresentation``
(``verifiableCredential``), a bare Achievement / BadgeClass, an OB 2.0 Assertion whose
``badge`` is embedded, or a compact VC-JWT (its payload, or the payload's ``vc`` claim, is
read). ``EndorsementCredential``s endorse an issuer or an achievement: not offerings, not
walked.

Fields (raw, as written): name, description, ``achievementType`` -> credential_type_raw, the
enclosing credential's most specific type -> record_kind_raw (``OpenBadgeCredential``;
a bare achievement: its own type), ``creator`` (who defined the achievement; OB 2.0 the badge
class's ``issuer``) else the credential's ``issuer`` -> awarding_body (and its address'
country), ``fieldOfStudy`` / ``specialization`` / ``tag`` (OB 2.0 ``tags``) -> subjects,
alignments to competencies (``targetType`` in ``skill_target_types``, or untyped) -> skills
by ``targetName``, alignment codes of classification frameworks (``code_framework_pattern``
on ``targetFramework``) -> subject_codes, ``criteria.narrative`` (else the result
descriptions) -> assessment_raw, ``creditsAvailable`` -> credits_raw, ``inLanguage``.
Profiles given by ``id`` only are looked up among the profiles described in the same document.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from scrapy.http import Response

from scrapers.base.guard import guarded
from scrapers.base.html_fields import present
from scrapers.base.jsonld import as_list, text_of, texts_of
from scrapers.base.options import apply_options
from scrapers.base.spider import CredcatSpider

# Segments are base64url (RFC 7515); padding and the standard alphabet's "+" and "/" are
# tolerated, as some issuers encode with the wrong base64 variant.
_JWT = re.compile(r"^[A-Za-z0-9_+/-]+=*\.([A-Za-z0-9_+/-]+=*)\.[A-Za-z0-9_+/-]*=*$")
CREDENTIAL_TYPES = frozenset({"VerifiableCredential", "OpenBadgeCredential", "AchievementCredential",
                              "ClrCredential", "Assertion"})
ACHIEVEMENT_TYPES = frozenset({"Achievement", "BadgeClass"})
GENERIC_TYPES = frozenset({"VerifiableCredential"})


def types_of(node: dict[str, Any]) -> list[str]:
    """A node's types (``type`` or ``@type``), local names (``ob:BadgeClass`` -> ``BadgeClass``)."""
    return [re.split(r"[/#:]", t)[-1] for t in as_list(node.get("type", node.get("@type"))) if isinstance(t, str)]


def decode_jwt(text: str) -> Any:
    """The JSON payload of a compact JWS (VC-JWT); ``None`` when the text is not one."""
    m = _JWT.match(text.strip())
    if not m:
        return None
    part = m.group(1).rstrip("=").replace("+", "-").replace("/", "_")
    try:
        payload = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, TypeError, RecursionError):
        return None
    return payload.get("vc", payload) if isinstance(payload, dict) else None


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
    option_names: ClassVar[frozenset[str]] = frozenset({"skill_target_types", "code_framework_pattern", "skip_keys"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        apply_options(self, self.option_names)
        self.seen: set[str] = set()

    # --- documents -------------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[dict[str, Any]]:
        text = response.text
        try:
            doc: Any = json.loads(text)
        except (ValueError, RecursionError) as exc:
            doc = decode_jwt(text)
            if doc is None:
                self.page_defect(response, "invalid_json_body", str(exc))
                self.failed_page(response.url, "neither JSON nor a VC-JWT")
                return
        if isinstance(doc, str):  # a JSON string holding a VC-JWT
            doc = decode_jwt(doc)
        profiles = self.profiles(doc)
        found = list(self.achievements(doc, None))
        if not found:
            self.page_defect(response, "no_achievement", "no Achievement or BadgeClass in the document")
        for position, (achievement, credential) in enumerate(found):
            key = self.key_of(achievement, credential, position, response)
            if key in self.seen:
                self.crawler.stats.inc_value(f"credcat/not_offerings/{self.type_name(achievement)} (repeated)")
                continue
            self.seen.add(key)
            payload = {"achievement": achievement,
                       "credential": {k: v for k, v in (credential or {}).items()
                                      if k not in ("credentialSubject", "proof")}}
            yield guarded(self, response, key, payload, lambda a=achievement, c=credential, k=key, p=payload:
                          self.offering(response, k, p, **present(self.map_achievement(a, c, profiles))))

    def achievements(self, value: Any, credential: dict[str, Any] | None) -> Iterator[tuple[dict[str, Any], Any]]:
        """(achievement, the credential that awards it) for every achievement in a document."""
        if isinstance(value, str) and (decoded := decode_jwt(value)) is not None:
            yield from self.achievements(decoded, credential)  # a VC-JWT inside a presentation
            return
        if isinstance(value, list):
            for item in value:
                yield from self.achievements(item, credential)
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
            if k not in self.skip_keys and not k.startswith("@"):
                yield from self.achievements(v, credential)

    def profiles(self, doc: Any) -> dict[str, dict[str, Any]]:
        """Issuer / creator profiles described in the document, by id (the fullest wins)."""
        found: dict[str, dict[str, Any]] = {}

        def walk(value: Any) -> None:
            if isinstance(value, list):
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
        return found

    # --- one achievement -------------------------------------------------------------------

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
        if isinstance(ref, str):
            return profiles.get(ref)
        if isinstance(ref, dict):
            return ref if ref.get("name") else profiles.get(ref.get("id"), ref)
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
            "awarding_body": text_of(owner.get("name")) if owner else None,
            "country_raw": text_of((owner.get("address") or {}).get("addressCountry")) if owner
            and isinstance(owner.get("address"), dict) else None,
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
