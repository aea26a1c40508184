"""A Credential Registry: pages of envelopes whose ``decoded_resource`` is CTDL JSON-LD.

Shaped after Credential Engine's registry (``/ce-registry/envelopes?page=N&per_page=50``)
and the records it holds (CredentialEngine/CredentialRegistry fixtures, WGU's published
records): envelopes with ``envelope_ceterms_ctid``, ``envelope_ctdl_type``, ``node_headers``
and a ``decoded_resource`` that is either one resource or an ``@graph`` (the resource plus
blank-node organizations it points to). Credentials are CTDL classes (ceterms:Certification,
ceterms:MasterOfScienceDegree, ceterms:DigitalBadge ...) with names and descriptions as
language maps in newer records and plain strings in older ones, CostProfiles typed by the
costType vocabulary, DurationProfiles, CIP alignments, audience level and delivery type.
Organizations are resources of their own (CredentialOrganization envelopes, also served at
``/resources/<ctid>`` like the registry's resource URLs); credentials point to them by URI.

Dirt: a ``TESTING_TESTING_`` record, a deleted envelope, owners whose envelopes come only on
the last page (credentials reference them long before), "US Dollar" as a currency, records
without a cost. Faults: a 503 on page 2, a 429 with Retry-After on page 3, a 503 on one
organization resource.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from typing import Any

from scrapers.mirror.formats._site_kit import CIP_BY_ISCED, iso_duration, slugify
from scrapers.mirror.generate import SiteContext, expected_values
from scrapers.mirror.universe import Listing, Org

PER_PAGE = 50
CONTEXT = "https://credreg.net/ctdl/schema/context/json"
COUNTRY_NAMES = {"US": "United States", "GB": "United Kingdom", "IE": "Ireland", "DE": "Germany"}
ORG_TYPES = {"university": ("orgType:FourYear", "Four-Year College"),
             "professional_association": ("orgType:ProfessionalAssociation", "Professional Association"),
             "vendor": ("orgType:Business", "Business or Industry Association"),
             "training_provider": ("orgType:TrainingProvider", "Training Provider")}
CLASSES = {"Certification": "ceterms:Certification", "Certificate": "ceterms:Certificate",
           "MicroCredential": "ceterms:MicroCredential", "DigitalBadge": "ceterms:DigitalBadge",
           "ProfessionalCertificate": "ceterms:ProfessionalCertificate", "MasterDegree": "ceterms:MasterDegree",
           "BachelorDegree": "ceterms:BachelorDegree", "CertificateOfCompletion": "ceterms:CertificateOfCompletion"}
SUBCLASSES = {"MasterDegree": "ceterms:MasterOfScienceDegree", "BachelorDegree": "ceterms:BachelorOfScienceDegree"}
DELIVERY = {"OnlineOnly": "Online Only", "InPerson": "In-Person Only", "BlendedDelivery": "Blended Delivery"}
LEVELS = {"BeginnerLevel": "Beginner Level", "IntermediateLevel": "Intermediate Level", "AdvancedLevel": "Advanced Level",
          "GraduateLevel": "Graduate Level", "UndergraduateLevel": "Undergraduate Level"}


class Registry:
    def __init__(self, ctx: SiteContext, rng: random.Random) -> None:
        self.ctx, self.rng = ctx, rng
        self.org_ctids: dict[str, str] = {}

    def ctid(self) -> str:
        return f"ce-{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def lang(self, text: str, modern: bool) -> Any:
        return {self.rng.choice(["en-US", "en-US", "en"]): text} if modern else text

    def alignment(self, framework: str, node: str, name: str, modern: bool, **extra: Any) -> dict[str, Any]:
        return {"@type": "ceterms:CredentialAlignmentObject", "ceterms:framework": f"https://credreg.net/ctdl/terms/{framework}",
                "ceterms:targetNode": node, "ceterms:frameworkName": self.lang(framework, modern),
                "ceterms:targetNodeName": self.lang(name, modern), **extra}

    def resource_url(self, ctid: str, kind: str = "resources") -> str:
        return self.ctx.url(f"/{kind}/{ctid}")

    # --- resources -------------------------------------------------------------------------

    def organization(self, org: Org) -> dict[str, Any]:
        ctid = self.org_ctids[org.key]
        node, label = ORG_TYPES.get(org.kind, ("orgType:Business", "Business"))
        return {
            "@context": CONTEXT, "@id": self.resource_url(ctid), "@type": "ceterms:CredentialOrganization",
            "ceterms:ctid": ctid, "ceterms:name": {"en-US": org.name},
            "ceterms:description": {"en-US": f"{org.name} awards credentials in its field of practice."},
            "ceterms:subjectWebpage": f"https://{org.domain}/",
            "ceterms:agentType": [self.alignment("OrganizationType", node, label, True)],
            "ceterms:agentSectorType": [self.alignment("AgentSector", "agentSector:PrivateNonProfit", "Private Not-For-Profit", True)],
            "ceterms:address": [{"@type": "ceterms:Place", "ceterms:addressCountry": {"en-US": COUNTRY_NAMES.get(org.country, org.country)},
                                 "ceterms:addressLocality": {"en-US": "Chicago" if org.country == "US" else "London"}}],
            "ceterms:email": [f"info@{org.domain}"],
        }

    def credential(self, lst: Listing, ctid: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
        """The resource, the blank nodes it points to, and what the record publishes for the truth."""
        c, rng = lst.credential, self.rng
        modern = rng.random() < 0.65
        owner = self.resource_url(self.org_ctids[c.org.key], "graph" if rng.random() < 0.15 else "resources")
        owner_ref: Any = owner if modern else {"@id": owner}
        ctype = SUBCLASSES[c.credential_type] if c.credential_type in SUBCLASSES and rng.random() < 0.5 else CLASSES[c.credential_type]
        node: dict[str, Any] = {
            "@id": self.resource_url(ctid), "@type": ctype, "ceterms:ctid": ctid,
            "ceterms:name": self.lang(lst.title, modern), "ceterms:description": self.lang(lst.description, modern),
            "ceterms:ownedBy": [owner_ref], "ceterms:offeredBy": [owner_ref],
            "ceterms:subjectWebpage": f"https://{c.org.domain}/credentials/{slugify(c.title)}",
            "ceterms:inLanguage": [c.language] if modern else {"en": "English", "es": "Spanish"}.get(c.language, c.language),
            "ceterms:credentialStatusType": self.alignment("CredentialStatus", "credentialStat:Active", "Active", modern),
            "ceterms:audienceLevelType": [self.alignment("AudienceLevel", f"audLevel:{c.audience_level}",
                                                         LEVELS[c.audience_level], modern)],
            "ceterms:estimatedDuration": [{"@type": "ceterms:DurationProfile", "ceterms:exactDuration": iso_duration(c.weeks)}],
            "ceterms:subject": [{"@type": "ceterms:CredentialAlignmentObject", "ceterms:targetNodeName": self.lang(c.subject_name, modern)}],
            "ceterms:keyword": self.lang(c.skills, modern) if modern else c.skills,
            "ceterms:dateEffective": f"20{rng.randint(19, 25)}-{rng.randint(1, 12):02d}-01",
        }
        delivery_property = "ceterms:assessmentDeliveryType" if c.credential_type == "Certification" else "ceterms:learningDeliveryType"
        node[delivery_property] = [self.alignment("Delivery", f"deliveryType:{c.modality}", DELIVERY[c.modality], modern)]
        published: dict[str, Any] = {}
        if rng.random() < 0.85:
            cip, title = CIP_BY_ISCED[c.isced]
            node["ceterms:instructionalProgramType"] = [self.alignment(
                "", f"https://nces.ed.gov/ipeds/cipcode/cipdetail.aspx?y=56&cip={cip}", title, modern,
                **{"ceterms:codedNotation": cip, "ceterms:framework": "https://nces.ed.gov/ipeds/cipcode/Default.aspx?y=56",
                   "ceterms:frameworkName": self.lang("Classification of Instructional Programs", modern)})]
        else:
            published["isced_code"] = None
        if rng.random() < 0.9:
            node["ceterms:estimatedCost"] = self.costs(lst, modern)
        else:
            published.update(price_amount=None, price_currency=None, is_free=None)
        requires: dict[str, Any] = {"@type": "ceterms:ConditionProfile", "ceterms:name": self.lang("Requirements", modern),
                                    "ceterms:description": self.lang(
                                        "Pass the certification examination." if c.credential_type == "Certification"
                                        else "Complete all required learning opportunities.", modern)}
        if c.credits_ects:
            requires["ceterms:creditValue"] = [{"@type": "ceterms:ValueProfile", "schema:value": c.credits_ects,
                                                "ceterms:creditUnitType": [self.alignment("CreditUnit", "creditUnit:DegreeCredit", "Degree Credit", modern)]}]
            requires["ceterms:creditUnitTypeDescription"] = self.lang("ECTS credits", modern)
        node["ceterms:requires"] = [requires]
        bnodes = []
        if c.quality_assurance and rng.random() < 0.6:
            bnode = f"_:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
            qa = "Higher Learning Commission" if c.org.kind == "university" else "ANSI National Accreditation Board"
            node["ceterms:accreditedBy"] = [bnode]
            bnodes.append({"@id": bnode, "@type": "ceterms:QACredentialOrganization", "ceterms:name": self.lang(qa, True)})
        return node, bnodes, published

    def costs(self, lst: Listing, modern: bool) -> list[dict[str, Any]]:
        c = lst.credential
        if c.credential_type == "Certification":
            kind = ("costType:StandaloneAssessment", "Standalone/Extra Assessment", "Examination fee")
        elif c.credential_type in ("MasterDegree", "BachelorDegree"):
            kind = ("costType:Tuition", "Tuition", "Tuition")
        else:
            kind = ("costType:AggregateCost", "Aggregate Cost", "Total cost")
        currency = "US Dollar" if lst.currency == "USD" and not modern and self.rng.random() < 0.5 else lst.currency
        costs = [{"@type": "ceterms:CostProfile", "ceterms:name": self.lang(kind[2], modern),
                  "ceterms:description": self.lang(f"{kind[2]} for {lst.title}.", modern),
                  "ceterms:currency": currency, "ceterms:price": lst.price,
                  "ceterms:directCostType": [self.alignment("CostType", kind[0], kind[1], modern)]}]
        if c.credential_type == "Certification" and self.rng.random() < 0.3:
            costs.append({"@type": "ceterms:CostProfile", "ceterms:name": self.lang("Renewal fee", modern),
                          "ceterms:currency": currency, "ceterms:price": round(lst.price * 0.4),
                          "ceterms:directCostType": [self.alignment("CostType", "costType:RenewalFee", "Maintenance Fee", modern)]})
        return costs

    # --- envelopes -------------------------------------------------------------------------

    def envelope(self, ctid: str, ctdl_type: str, owner_ctid: str, decoded: dict[str, Any], deleted: bool = False) -> dict[str, Any]:
        body = json.dumps(decoded, sort_keys=True).encode()
        created = f"20{self.rng.randint(20, 25)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}T10:00:00.000Z"
        return {
            "envelope_community": "ce_registry", "envelope_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "envelope_ceterms_ctid": ctid, "envelope_ctdl_type": ctdl_type, "envelope_type": "resource_data",
            "envelope_version": "1.0.0", "resource_format": "json", "resource_encoding": "jwt",
            "resource": "eyJhbGciOiJSUzI1NiJ9." + base64.urlsafe_b64encode(body).decode().rstrip("=") + ".c2lnbmF0dXJl",
            "decoded_resource": decoded,
            "node_headers": {"resource_digest": base64.b64encode(hashlib.sha256(body).digest()).decode(),
                             "created_at": created, "updated_at": created,
                             "deleted_at": "2026-03-02T09:00:00.000Z" if deleted else None},
            "owned_by": owner_ctid, "published_by": owner_ctid,
        }


def write(listings: list[Listing], ctx: SiteContext, rng: random.Random) -> list[dict[str, Any]]:
    reg = Registry(ctx, rng)
    orgs: dict[str, Org] = {}
    for lst in listings:
        orgs.setdefault(lst.credential.org.key, lst.credential.org)
    for key in sorted(orgs):
        reg.org_ctids[key] = reg.ctid()
    rows, credential_envs = [], []
    for lst in listings:
        ctid = reg.ctid()
        node, bnodes, published = reg.credential(lst, ctid)
        if bnodes or rng.random() < 0.5:
            decoded = {"@id": reg.resource_url(ctid, "graph"), "@context": CONTEXT, "@graph": [node, *bnodes]}
        else:
            decoded = {"@context": CONTEXT, **node}
        credential_envs.append(reg.envelope(ctid, node["@type"], reg.org_ctids[lst.credential.org.key], decoded))
        rows.append({"source_key": ctid, "credential_key": lst.credential.key, "is_test": lst.is_test,
                     "expected": expected_values(lst, timing=None, workload_hours_per_week=None, free_to_audit=None,
                                                 **published)})
    if listings:  # a withdrawn credential: its envelope stays, marked deleted
        ctid = reg.ctid()
        node, _, _ = reg.credential(listings[0], ctid)
        credential_envs.append(reg.envelope(ctid, node["@type"], reg.org_ctids[listings[0].credential.org.key],
                                            {"@context": CONTEXT, **node}, deleted=True))
    rng.shuffle(credential_envs)
    org_envs = []
    for key in sorted(orgs):
        org_node = reg.organization(orgs[key])
        org_envs.append(reg.envelope(reg.org_ctids[key], org_node["@type"], reg.org_ctids[key], org_node))
        for kind in ("resources", "graph"):  # the registry serves each resource at its URI
            ctx.write(f"/{kind}/{reg.org_ctids[key]}", json.dumps(org_node, indent=1), "application/json")
    half = len(org_envs) // 2
    envelopes = org_envs[:half] + credential_envs + org_envs[half:]  # some owners only at the very end
    pages = [envelopes[i:i + PER_PAGE] for i in range(0, len(envelopes), PER_PAGE)] or [[]]
    if len(pages[-1]) == PER_PAGE:
        pages.append([])  # what the registry answers past the end
    for n, page in enumerate(pages, 1):
        ctx.write(f"/ce-registry/envelopes?page={n}&per_page={PER_PAGE}", json.dumps(page, indent=1, ensure_ascii=False),
                  "application/json")
    if len(pages) > 2:
        ctx.fault(f"/ce-registry/envelopes?page=2&per_page={PER_PAGE}", 503)
        ctx.fault(f"/ce-registry/envelopes?page=3&per_page={PER_PAGE}", 429, headers={"Retry-After": "1"})
    if org_envs[half:]:
        ctx.fault(f"/resources/{org_envs[-1]['envelope_ceterms_ctid']}", 503)
    return rows
