"""Kind ``ctdl_registry``: CTDL JSON-LD from a Credential Registry (envelopes or bare resources).

Reads what Credential Engine's registry serves: pages of envelopes
(``/ce-registry/envelopes?page=N&per_page=50``; a JSON list, or an object holding the list)
whose ``decoded_resource`` is one CTDL resource or an ``@graph`` of them (an object, or that
JSON as a string); without it the ``resource`` is read (an object, JSON text, or a JWT whose
payload is the JSON). An envelope whose resource cannot be read is an ``undecodable_resource``
page defect. A bare resource or graph document reads the same way. CTDL values may be plain
strings or language maps (``{"en-US": "..."}``): fields take the English (else the first)
entry, the payload keeps the resource as published.

Organizations are not offerings: they are kept by CTID and ``@id`` to name the awarding body
(``ceterms:ownedBy``, else ``ceterms:offeredBy``) and its country. Credentials whose owner
has not been seen yet are held back and the owner is fetched by its ``@id`` (the registry's
resource URL) once; when it arrives, or if it cannot be fetched, they are released. Nothing is
dropped: a credential whose owner stays unknown lands without an awarding body and with the
page defect ``unresolved_org``.

Pagination: an object's ``next`` link (a URL, or a link object with an ``href`` or ``url``),
a ``Link: <...>; rel="next"`` header, or, for a bare list, the next ``page`` while pages come
back full. A ``next`` that is neither a URL nor a link object is an ``unreadable_next_link``
page defect and a failed page (the crawl is not complete). A page that repeats envelopes
already seen ends the walk (a pagination loop) with a page defect.

Saved files read the same way (``location``): one resource, a list of bare resources, an
``@graph`` document or an envelope page per file. Resources that are read but are not
offerings (organizations, competency frameworks, competencies, concept schemes ...) are
counted by type in the crawl stats (``not_offerings`` in stats.json), so a file of them is
seen to be read although it lands nothing. A registry entry may set ``options`` (the
attributes in ``option_names``) and a ``field_map`` (RawOffering field -> CTDL property paths,
extending ``CTDL_PATHS``).
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response

from scrapers.base.fields import LIST_FIELDS
from scrapers.base.guard import guarded
from scrapers.base.html_fields import present
from scrapers.base.jsonld import (
    as_list,
    index_by_id,
    is_reference,
    local_name,
    path_values,
    resolve,
    text_of,
    texts_of,
    top_nodes,
)
from scrapers.base.options import apply_field_map, apply_options
from scrapers.base.spider import CredcatSpider, json_or_defect

CTID = re.compile(r"ce-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)

# Credential classes of CTDL (reference/ctdl/subclasses_map.json plus the newer certificate
# classes), learning opportunities and assessments: the resources that are offerings.
CREDENTIAL_CLASSES = frozenset({
    "Credential", "Badge", "DigitalBadge", "OpenBadge", "Certificate", "ApprenticeshipCertificate",
    "JourneymanCertificate", "MasterCertificate", "CertificateOfCompletion", "CertificateOfParticipation",
    "Certification", "Degree", "AssociateDegree", "AssociateOfAppliedArtsDegree",
    "AssociateOfAppliedScienceDegree", "AssociateOfArtsDegree", "AssociateOfScienceDegree",
    "BachelorDegree", "BachelorOfArtsDegree", "BachelorOfScienceDegree", "DoctoralDegree",
    "ProfessionalDoctorate", "ResearchDoctorate", "MasterDegree", "MasterOfArtsDegree",
    "MasterOfScienceDegree", "SpecialistDegree", "Diploma", "GeneralEducationDevelopment",
    "SecondarySchoolDiploma", "License", "MicroCredential", "QualityAssuranceCredential",
    "ProfessionalCertificate", "ProficiencyCertificate", "AcademicCertificate",
})
LEARNING_CLASSES = frozenset({"LearningOpportunityProfile", "LearningOpportunity", "LearningProgram", "Course",
                              "AssessmentProfile", "Assessment"})
ORGANIZATION_CLASSES = frozenset({"CredentialOrganization", "QACredentialOrganization", "Organization"})
_OFFERING_SUFFIXES = ("Degree", "Certificate", "Credential", "Badge", "Diploma", "Doctorate", "Certification")

# CTDL properties as the RawOffering fields they feed, tried in order.
CTDL_PATHS: dict[str, tuple[str, ...]] = {
    "title": ("ceterms:name",),
    "description": ("ceterms:description",),
    "subjects": ("ceterms:subject", "ceterms:degreeMajor"),
    "subject_codes": ("ceterms:instructionalProgramType.ceterms:codedNotation",),
    "skills": ("ceterms:keyword",),
    "level_raw": ("ceterms:audienceLevelType.ceterms:targetNode", "ceterms:audienceLevelType"),
    "duration_raw": ("ceterms:estimatedDuration.ceterms:exactDuration",),
    "credits_raw": ("ceterms:creditValue.schema:value", "ceterms:creditValue.qdata:value",
                    "ceterms:requires.ceterms:creditValue.schema:value", "ceterms:requires.ceterms:creditUnitValue",
                    "ceterms:creditUnitValue"),
    "credit_unit_raw": ("ceterms:creditValue.ceterms:creditUnitTypeDescription",
                        "ceterms:creditValue.ceterms:creditUnitType.ceterms:targetNode",
                        "ceterms:requires.ceterms:creditValue.ceterms:creditUnitTypeDescription",
                        "ceterms:requires.ceterms:creditUnitTypeDescription",
                        "ceterms:requires.ceterms:creditValue.ceterms:creditUnitType.ceterms:targetNode",
                        "ceterms:requires.ceterms:creditUnitType.ceterms:targetNode"),
    "language_raw": ("ceterms:inLanguage",),
    "modality_raw": ("ceterms:learningDeliveryType.ceterms:targetNode", "ceterms:deliveryType.ceterms:targetNode",
                     "ceterms:assessmentDeliveryType.ceterms:targetNode"),
    "timing_raw": ("ceterms:learningMethodType.ceterms:targetNode", "ceterms:scheduleTimingType.ceterms:targetNode"),
    "assessment_raw": ("ceterms:assessmentMethodType.ceterms:targetNode", "ceterms:assessmentMethodDescription"),
    "prerequisites_raw": ("ceterms:requires.ceterms:description",),
    "quality_assurance_raw": ("ceterms:accreditedBy.ceterms:name", "ceterms:recognizedBy.ceterms:name",
                              "ceterms:approvedBy.ceterms:name", "ceterms:regulatedBy.ceterms:name"),
    "status_raw": ("ceterms:credentialStatusType.ceterms:targetNode", "ceterms:lifeCycleStatusType.ceterms:targetNode"),
}
OWNER_PROPERTIES = ("ceterms:ownedBy", "ceterms:offeredBy")


def org_key(ref: Any) -> str | None:
    """The identity of an organization reference: its CTID where one shows, else its @id."""
    ident = ref.get("@id") or ref.get("ceterms:ctid") if isinstance(ref, dict) else ref
    if not isinstance(ident, str):
        return None
    m = CTID.search(ident)
    return m.group(0).lower() if m else ident


def envelope_identity(env: dict[str, Any]) -> str | None:
    """What tells one envelope from another: its id, else its resource's CTID or @id."""
    doc = env.get("decoded_resource")
    doc = doc if isinstance(doc, dict) else {}
    ident = env.get("envelope_id") or env.get("envelope_ceterms_ctid") or doc.get("ceterms:ctid") or doc.get("@id")
    return str(ident) if ident else None


def org_info(node: dict[str, Any]) -> dict[str, Any]:
    """What a credential needs of its owner: name and country (as published)."""
    return {"name": text_of(node.get("ceterms:name")),
            "country": text_of(path_values(node, "ceterms:address.ceterms:addressCountry")[:1])}


class CtdlRegistrySpider(CredcatSpider):
    kind = "ctdl_registry"

    envelope_list_keys: ClassVar[tuple[str, ...]] = ("data", "envelopes", "results", "items")
    next_keys: ClassVar[tuple[str, ...]] = ("next", "next_page", "links.next")
    field_paths: ClassVar[dict[str, tuple[str, ...]]] = CTDL_PATHS
    fetch_unseen_orgs: ClassVar[bool] = True  # dereference an owner's @id when it is not in the crawl yet
    resource_url_template: ClassVar[str | None] = None  # e.g. "{registry}/resources/{ctid}" for bare CTIDs
    max_pages: ClassVar[int] = 50_000  # a registry that never stops paging is cut here (crawl incomplete)
    option_names: ClassVar[frozenset[str]] = frozenset({
        "envelope_list_keys", "next_keys", "fetch_unseen_orgs", "resource_url_template", "max_pages",
    })

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        apply_options(self, self.option_names)
        apply_field_map(self)
        self.orgs: dict[str, dict[str, Any]] = {}  # org key (CTID or @id) -> {"name", "country"}
        self.pending: dict[str, list[dict[str, Any]]] = defaultdict(list)  # org key -> held records
        self.org_requests: set[str] = set()
        self.seen_envelopes: set[str] = set()
        self.pages_requested = len(self.start_urls)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> CtdlRegistrySpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    # --- envelope pages --------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        data = json_or_defect(self, response)
        if data is None:
            return
        envelopes = self.envelopes_of(data)
        ids = {i for i in map(envelope_identity, envelopes) if i}
        if ids and ids <= self.seen_envelopes:
            self.page_defect(response, "pagination_loop", response.url)
            return
        self.seen_envelopes |= ids
        documents = [(env, self.resource_of(env, response)) for env in envelopes]
        # Organizations first: a credential may come before its owner on the same page.
        for _env, doc in documents:
            for node in top_nodes(doc):
                if self.is_organization(node):
                    yield from self.remember_org(node)
        for env, doc in documents:
            if doc is not None:
                yield from self.read_document(response, doc, env)
        if envelopes and (url := self.next_page(response, data, len(envelopes))):
            self.pages_requested += 1
            if self.pages_requested >= self.max_pages:
                self.page_defect(response, "page_cap_reached", url)
                self.failed_page(url, f"page cap {self.max_pages} reached")
                return
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error)

    def envelopes_of(self, data: Any) -> list[dict[str, Any]]:
        """The envelopes of a page; a bare resource or graph document counts as one envelope."""
        if isinstance(data, dict):
            for key in self.envelope_list_keys:
                if isinstance(data.get(key), list):
                    data = data[key]
                    break
            else:
                return [{"decoded_resource": data}]
        return [e if "decoded_resource" in e or "resource" in e else {"decoded_resource": e}
                for e in as_list(data) if isinstance(e, dict)]

    def resource_of(self, env: dict[str, Any], response: Response) -> Any:
        if env.get("envelope_type") not in (None, "resource_data"):
            return None  # paradata envelopes describe use, not resources
        headers = env.get("node_headers")
        if isinstance(headers, dict) and headers.get("deleted_at"):
            self.crawler.stats.inc_value("credcat/ctdl/deleted_envelopes")
            return None
        for name in ("decoded_resource", "resource"):
            value = env.get(name)
            if value is None:
                continue
            doc = _decode_resource(value) if isinstance(value, str) else value
            if isinstance(doc, dict | list):
                return doc
            self.page_defect(response, "undecodable_resource",
                             f"envelope {env.get('envelope_id')}: {name} is no JSON document")
            return None
        self.page_defect(response, "undecodable_resource", f"envelope {env.get('envelope_id')} holds no resource")
        return None

    def next_page(self, response: Response, data: Any, count: int) -> str | None:
        if isinstance(data, dict):
            for key in self.next_keys:
                found = path_values(data, key)
                if not found:
                    continue
                nxt = found[0]
                if isinstance(nxt, dict):
                    nxt = next((nxt[k] for k in ("href", "url") if k in nxt), nxt)
                if nxt is None or nxt is False or (isinstance(nxt, str) and not nxt.strip()):
                    continue
                if isinstance(nxt, str):
                    return response.urljoin(nxt.strip())
                self.page_defect(response, "unreadable_next_link", f"{key}: {json.dumps(nxt, default=str)[:200]}")
                self.failed_page(response.url, "next page link is not a URL")
                return None
        if url := link_header_next(response):
            return url
        if isinstance(data, dict):
            return None
        parts = urlsplit(response.url)
        query = dict(parse_qsl(parts.query))
        per_page = next((int(query[k]) for k in ("per_page", "page_size", "limit") if query.get(k, "").isdigit()), None)
        if "page" not in query or not query["page"].isdigit() or (per_page and count < per_page):
            return None
        query["page"] = str(int(query["page"]) + 1)
        return urlunsplit(parts._replace(query=urlencode(query)))

    # --- resources -------------------------------------------------------------------------

    @staticmethod
    def is_organization(node: dict[str, Any]) -> bool:
        return any(local_name(t) in ORGANIZATION_CLASSES for t in as_list(node.get("@type")) if isinstance(t, str))

    @staticmethod
    def is_offering(node: dict[str, Any]) -> bool:
        names = [local_name(t) for t in as_list(node.get("@type")) if isinstance(t, str)]
        return any(n in CREDENTIAL_CLASSES or n in LEARNING_CLASSES or n.endswith(_OFFERING_SUFFIXES) for n in names)

    def not_an_offering(self, node: dict[str, Any]) -> None:
        """Count a resource that was read but is no offering (stats.json ``not_offerings``)."""
        self.crawler.stats.inc_value(f"credcat/not_offerings/{text_of(as_list(node.get('@type'))[:1]) or 'untyped'}")

    def remember_org(self, node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Keep an organization's name and country; release the records that waited for it."""
        info = org_info(node)
        self.not_an_offering(node)
        # blank nodes ("_:...") name something only inside their own graph: not kept
        keys = {k for k in (org_key(node.get("@id")), org_key(node.get("ceterms:ctid"))) if k and not k.startswith("_:")}
        for key in keys:
            self.orgs[key] = info
        for key in keys:
            for record in self.pending.pop(key, []):
                yield self.with_owner(record, info)

    def read_document(self, response: Response, doc: Any, env: dict[str, Any]) -> Iterator[dict[str, Any]]:
        nodes = top_nodes(doc)
        index = index_by_id(nodes)
        for node in nodes:
            if self.is_organization(node):
                continue
            if not self.is_offering(node):
                self.not_an_offering(node)
                continue
            resolved = resolve(node, index)
            yield from self.offer(response, resolved, env)

    def offer(self, response: Response, node: dict[str, Any], env: dict[str, Any]) -> Iterator[dict[str, Any]]:
        envelope = {k: v for k, v in env.items() if k not in ("decoded_resource", "resource")}
        key = text_of(node.get("ceterms:ctid")) or env.get("envelope_ceterms_ctid") or text_of(node.get("@id"))
        payload = {"envelope": envelope, "resource": node}
        record = guarded(self, response, key, payload,
                         lambda: self.offering(response, key, payload, **present(self.map_resource(node))))
        owner_ref = next((r for p in OWNER_PROPERTIES for r in as_list(node.get(p))), None)
        if offerer := self.offered_by(node):
            record["platform"] = offerer
        if owner_ref is None:
            yield record
            return
        if isinstance(owner_ref, dict) and not is_reference(owner_ref) and owner_ref.get("ceterms:name"):
            yield self.with_owner(record, org_info(owner_ref))
            return
        okey = org_key(owner_ref)
        if okey in self.orgs:
            yield self.with_owner(record, self.orgs[okey])
            return
        url = self.org_url(owner_ref, okey)
        if okey is None or url is None or (okey in self.org_requests and okey not in self.pending):
            yield self.unresolved(record)
            return
        self.pending[okey].append(record)
        if okey not in self.org_requests:
            self.org_requests.add(okey)
            yield scrapy.Request(url, callback=self.parse_org, errback=self.org_failed, priority=10,
                                 cb_kwargs={"okey": okey}, meta={"okey": okey})

    def offered_by(self, node: dict[str, Any]) -> str | None:
        """The organization that offers it when that is not its owner (``ceterms:offeredBy`` beside
        ``ceterms:ownedBy``): named as the record's platform. Only names the record itself gives
        or organizations already read are used; an offerer is never fetched."""
        owner_refs = as_list(node.get("ceterms:ownedBy"))
        if not owner_refs:
            return None  # the offerer is then the awarding body (``OWNER_PROPERTIES``)
        owner_keys = {org_key(r) for r in owner_refs} - {None}
        owner_names = {text_of(r.get("ceterms:name")) for r in owner_refs if isinstance(r, dict)} - {None}
        for ref in as_list(node.get("ceterms:offeredBy")):
            key = org_key(ref)
            if key is not None and key in owner_keys:
                continue
            if isinstance(ref, dict) and not is_reference(ref) and (name := text_of(ref.get("ceterms:name"))):
                if name not in owner_names:
                    return name
            elif key in self.orgs and self.orgs[key].get("name") not in owner_names:
                return self.orgs[key]["name"]
        return None

    def org_url(self, ref: Any, okey: str | None) -> str | None:
        if not self.fetch_unseen_orgs:
            return None
        ident = ref.get("@id") if isinstance(ref, dict) else ref
        if isinstance(ident, str) and ident.startswith(("http://", "https://")):
            return ident
        if okey and self.resource_url_template and CTID.fullmatch(okey):
            registry = f"{urlsplit(self.start_urls[0]).scheme}://{urlsplit(self.start_urls[0]).netloc}"
            return self.resource_url_template.format(registry=registry, ctid=okey)
        return None

    def map_resource(self, node: dict[str, Any]) -> dict[str, Any]:
        """The hook: one CTDL resource (graph references resolved) -> RawOffering fields."""
        types = [t for t in as_list(node.get("@type")) if isinstance(t, str)]
        fields: dict[str, Any] = {"record_kind_raw": types[0] if types else None}
        if any(local_name(t) in CREDENTIAL_CLASSES or local_name(t).endswith(_OFFERING_SUFFIXES) for t in types):
            fields["credential_type_raw"] = types[0]
        for name, paths in self.field_paths.items():
            for path in paths:
                values = path_values(node, path)
                value = texts_of(values) if name in LIST_FIELDS else text_of(values)
                if value:
                    fields[name] = value
                    break
        if "duration_raw" not in fields:
            low = text_of(path_values(node, "ceterms:estimatedDuration.ceterms:minimumDuration")[:1])
            high = text_of(path_values(node, "ceterms:estimatedDuration.ceterms:maximumDuration")[:1])
            if low or high:
                fields["duration_raw"] = f"{low or ''} to {high or ''}".strip()
        fields["prices"] = [self.price_of(cost) for cost in path_values(node, "ceterms:estimatedCost")
                            if isinstance(cost, dict)]
        return fields

    @staticmethod
    def price_of(cost: dict[str, Any]) -> dict[str, Any]:
        """One CostProfile: price, currency, and its cost type (the CTDL concept) as the label."""
        kinds = [text_of(k.get("ceterms:targetNode")) or text_of(k) if isinstance(k, dict) else text_of(k)
                 for k in path_values(cost, "ceterms:directCostType")]
        label = ", ".join(k for k in kinds if k) or None
        amount = cost.get("ceterms:price")
        return {
            "amount": text_of(amount),
            "currency": text_of(cost.get("ceterms:currency")),
            "label": label,
            "text": None if amount is not None else text_of(cost.get("ceterms:description") or cost.get("ceterms:name")),
        }

    # --- owners ----------------------------------------------------------------------------

    def parse_org(self, response: Response, okey: str) -> Iterator[dict[str, Any]]:
        try:
            doc = json.loads(response.text)
        except (ValueError, RecursionError) as exc:
            self.page_defect(response, "invalid_json_body", str(exc))
            doc = None
        for env in self.envelopes_of(doc) if doc is not None else []:
            for node in top_nodes(self.resource_of(env, response)):
                if self.is_organization(node):
                    yield from self.remember_org(node)
        for record in self.pending.pop(okey, []):  # the document held no such organization
            yield self.unresolved(record)

    def org_failed(self, failure: Any) -> Iterator[dict[str, Any]]:
        self.on_error(failure)
        okey = failure.request.meta.get("okey")
        for record in self.pending.pop(okey, []):
            yield self.unresolved(record)

    def on_idle(self) -> None:
        """Held records never wait past the end of the crawl (an owner request that was dropped)."""
        if any(self.pending.values()):
            self.crawler.engine.crawl(scrapy.Request("data:,", callback=self.release_pending, dont_filter=True))
            raise DontCloseSpider

    def release_pending(self, response: Response) -> Iterator[dict[str, Any]]:
        for okey in list(self.pending):
            for record in self.pending.pop(okey):
                yield self.unresolved(record)

    def with_owner(self, record: dict[str, Any], org: dict[str, Any]) -> dict[str, Any]:
        if org.get("name"):
            record["awarding_body"] = org["name"]
        if org.get("country"):
            record.setdefault("country_raw", org["country"])
        return record

    def unresolved(self, record: dict[str, Any]) -> dict[str, Any]:
        self.crawler.stats.inc_value("credcat/page_defects/unresolved_org")
        record.setdefault("page_defects", [])
        if "unresolved_org" not in record["page_defects"]:
            record["page_defects"].append("unresolved_org")
        return record


def link_header_next(response: Response) -> str | None:
    """The target of the ``rel="next"`` link of a ``Link`` header (RFC 8288), if any."""
    for header in response.headers.getlist(b"Link"):
        text = header.decode("latin-1")
        for m in re.finditer(r"<([^>]*)>([^<]*)", text):
            rel = re.search(r'(?i)(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))', m.group(2))
            if rel and "next" in (rel.group(1) or rel.group(2) or "").lower().split() and m.group(1).strip():
                return response.urljoin(m.group(1).strip())
    return None


def _decode_resource(resource: str) -> Any:
    """An envelope's ``resource`` when no decoded copy is given: JSON, or a JWT's JSON payload."""
    try:
        return json.loads(resource)
    except (ValueError, RecursionError):
        pass
    parts = resource.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        return json.loads(payload)
    except (ValueError, TypeError, RecursionError):
        return None
