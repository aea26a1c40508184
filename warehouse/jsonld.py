"""Linked-data exports of the credentials: CTDL JSON-LD and Open Badges 3.0 Achievements.

Both documents are built inside DuckDB as JSON text (variadic ``concat`` with ``to_json`` for
every value, so quoting is DuckDB's), in ONE pass over the credentials, streamed out in Arrow
batches and written straight from the Arrow string buffers, hashed (sha256) as they are written:
no Python work per credential, not even the uuid5 of its id (``uuid5_sql``). See
``warehouse.bench_export`` for the figures at a million credentials.

Both list the credentials in credential_id order, the CTDL graph one node per line, so the same
warehouse gives the same bytes (``load_inputs``). ``changes/document_index.parquet`` records,
per credential in that order, a digest of everything its nodes are built from and the byte
length of each node; the next snapshot copies the nodes whose digest is unchanged from these
documents and generates only the others (``export_documents(previous=...)``), with the same
bytes as a full generation.

Identifiers are deterministic, so a credential keeps its identifiers across snapshots:

- CTDL ``ceterms:ctid`` = ``ce-<uuid5(CTID_NAMESPACE, credential_id)>``; an organization's ctid
  is ``ce-<uuid5(CTID_NAMESPACE, "org:" + lower(trim(name)))>`` (the same name rule as
  ``dim_provider.provider_id``).
- Open Badges ``id`` = ``urn:uuid:<same uuid>``; the creator profile ``urn:uuid:<org uuid>``.

Mapping choices (all checked against the reference schemas in the tests):

- The CTDL class is the credential type when the 2022 CTDL schema has that class; types newer
  than it map to their parent (ProfessionalCertificate, ProficiencyCertificate,
  AcademicCertificate -> Certificate; CertificateOfParticipation -> CertificateOfCompletion);
  an unknown type -> ceterms:Credential; no credential type (a learning opportunity that
  awards nothing) -> ceterms:LearningOpportunityProfile.
- Delivery: ``ceterms:learningDeliveryType`` on credentials, ``ceterms:deliveryType`` on
  learning opportunities (the CTDL domains). Skills (ESCO): ``ceterms:teaches`` on learning
  opportunities; on credentials, which cannot ``teach``, a ``ceterms:requires``
  ConditionProfile whose ``ceterms:targetCompetency`` lists them. ISCED-F 2013 codes:
  ``ceterms:instructionalProgramType`` CredentialAlignmentObjects.
- Cost: one CostProfile with the lowest price in USD (the warehouse converts every price to
  USD; the credential holds the min/max) and directCostType AggregateCost; 0 when free.
- Duration: calendar weeks as ISO 8601 (``P4W``; exact, or minimum/maximum); workload hours
  (``PT20H``) only when no calendar length is known.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.ddl import DIM_CREDENTIAL, DIM_SUBJECT
from warehouse.export_reuse import PreviousDamaged, PreviousSnapshot, SequentialSource, fingerprint

CTDL_CONTEXT = "https://credreg.net/ctdl/schema/context/json"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CTDL_FILE = "ctdl/credentials.jsonld"
OB_FILE = "openbadges/achievements.jsonl"
# Per credential, in document order: its digest of the documents' inputs and the byte length of
# its node in each document (what the next snapshot needs to take unchanged nodes over).
DOCUMENT_INDEX = "changes/document_index.parquet"
INDEX_VERSION = "1"
# Above this share of credentials to generate again, a full generation is cheaper than splicing.
MAX_REGENERATED_SHARE = 0.5

# Fixed namespace of credcat's uuid5 identifiers (uuid5(NAMESPACE_URL, "https://credcat/ctid")).
CTID_NAMESPACE = uuid.UUID("2f0cfd4c-6c0b-5d0e-9c55-7f1e8c0c1a11")

ISCED_FRAMEWORK = "http://data.europa.eu/snb/isced-f/25831c2"
ISCED_NODE = "http://data.europa.eu/snb/isced-f/"
ESCO_FRAMEWORK = "http://data.europa.eu/esco/skill"

# credential_type -> CTDL class present in the reference CTDL schema (2022).
CTDL_CLASS: dict[str, str] = {
    **{t: t for t in (
        "ApprenticeshipCertificate", "AssociateDegree", "BachelorDegree", "Badge", "Certificate",
        "CertificateOfCompletion", "Certification", "Credential", "Degree", "DigitalBadge",
        "Diploma", "DoctoralDegree", "GeneralEducationDevelopment", "JourneymanCertificate",
        "License", "MasterCertificate", "MasterDegree", "MicroCredential", "OpenBadge",
        "ProfessionalDoctorate", "QualityAssuranceCredential", "ResearchDoctorate",
        "SecondarySchoolDiploma")},
    "ProfessionalCertificate": "Certificate",
    "ProficiencyCertificate": "Certificate",
    "AcademicCertificate": "Certificate",
    "CertificateOfParticipation": "CertificateOfCompletion",
}
LEARNING_OPPORTUNITY_CLASS = "LearningOpportunityProfile"
FALLBACK_CLASS = "Credential"

# The 31 Open Badges 3.0 achievementType values (reference/openbadges/common_credentials.lines).
OB_ACHIEVEMENT_TYPES: frozenset[str] = frozenset({
    "Achievement", "ApprenticeshipCertificate", "Assessment", "Assignment", "AssociateDegree",
    "Award", "Badge", "BachelorDegree", "Certificate", "CertificateOfCompletion", "Certification",
    "CommunityService", "Competency", "Course", "CoCurricular", "Degree", "Diploma",
    "DoctoralDegree", "Fieldwork", "GeneralEducationDevelopment", "JourneymanCertificate",
    "LearningProgram", "License", "Membership", "ProfessionalDoctorate",
    "QualityAssuranceCredential", "MasterCertificate", "MasterDegree", "MicroCredential",
    "ResearchDoctorate", "SecondarySchoolDiploma",
})
# credential_type -> achievementType: the same term where OB has it, else the nearest.
OB_TYPE: dict[str, str] = {
    **{t: t for t in OB_ACHIEVEMENT_TYPES if t != "Achievement"},
    "ProfessionalCertificate": "Certificate",
    "ProficiencyCertificate": "Certificate",
    "AcademicCertificate": "Certificate",
    "CertificateOfParticipation": "CertificateOfCompletion",
    "DigitalBadge": "Badge",
    "OpenBadge": "Badge",
    "Credential": "Achievement",
}
OB_LEARNING_OPPORTUNITY_TYPE = "Course"

DELIVERY_LABELS = {"OnlineOnly": "Online Only", "InPerson": "In-Person Only",
                   "BlendedDelivery": "Blended Delivery"}
AUDIENCE_LEVELS = {
    "AdvancedLevel", "AssociatesDegreeLevel", "BachelorsDegreeLevel", "BeginnerLevel",
    "DoctoralDegreeLevel", "GraduateLevel", "IntermediateLevel", "LowerDivisionLevel",
    "MastersDegreeLevel", "PostSecondaryLevel", "ProfessionalLevel", "SecondaryLevel",
    "UndergraduateLevel", "UpperDivisionLevel",
}


# --- identifiers --------------------------------------------------------------------------------


def credential_uuid(credential_id: str) -> str:
    return str(uuid.uuid5(CTID_NAMESPACE, credential_id))


def organization_uuid(name: str) -> str:
    return str(uuid.uuid5(CTID_NAMESPACE, "org:" + name.strip().lower()))


def uuid5_many(names: Iterable[str]) -> list[str]:
    """uuid5(CTID_NAMESPACE, name) for many names (hashlib directly: ~3x uuid.uuid5)."""
    prefix = CTID_NAMESPACE.bytes
    out = []
    for name in names:
        h = hashlib.sha1(prefix + name.encode(), usedforsecurity=False).hexdigest()
        out.append(f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}")
    return out


def uuid5_sql(name_sql: str) -> str:
    """SQL of uuid5(CTID_NAMESPACE, name) as text, for a VARCHAR expression (RFC 4122 section
    4.3: SHA-1 of namespace bytes + UTF-8 name, version 5, variant 10xx), so identifiers are
    computed inside DuckDB instead of a Python loop. NULL for a NULL name."""
    h = f"sha1(unhex({_lit(CTID_NAMESPACE.hex)}) || encode({name_sql}))"
    return (f"list_transform([{h}], lambda h: concat(h[1:8], '-', h[9:12], '-5', h[14:16], '-', "
            "substr('89ab', (position(h[17] IN '0123456789abcdef') - 1) % 4 + 1, 1), h[18:20], '-', "
            "h[21:32]))[1]")


# --- SQL helpers (only our constants reach SQL text) -------------------------------------------
#
# Documents are assembled with the variadic concat(), never long chains of ||: each || copies
# everything to its left, so a 40-piece chain copied a 3 kB document ~40 times per credential.
# concat() skips NULL arguments, which is exactly "leave the property out"; fragments that must
# vanish as a whole when one of their values is NULL say so with a CASE or a single ||.

EN = "'\"en\"'"  # the JSON key of an English language map, as SQL text


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_lit(value: Any) -> str:
    """A SQL string literal holding the JSON of a constant."""
    import json

    return _lit(json.dumps(value, separators=(",", ":")))


def _cat(*parts: str) -> str:
    """concat() of SQL string expressions (NULL parts are skipped)."""
    return f"concat({', '.join(parts)})"


def _case(column: str, mapping: dict[str, str], default: str) -> str:
    whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in sorted(mapping.items()))
    return f"CASE {column} {whens} ELSE {default} END"


def _one_of(column: str, values: Iterable[str]) -> str:
    """``column`` is one of the values (else NULL). Not ``IN (...)`` nor ``list_contains``:
    DuckDB turns a long list of constants into a join, and a join does not keep the order the
    documents are written in (``_source``)."""
    return f"(CASE {column} {' '.join(f'WHEN {_lit(v)} THEN true' for v in values)} END)"


def _opt(key: str, value_sql: str) -> str:
    """``,"key":<value>``, NULL when the value is NULL (so _cat leaves the property out)."""
    return f"({_lit(',' + _json_key(key))} || ({value_sql}))"


def _json_key(key: str) -> str:
    import json

    return json.dumps(key) + ":"


def _num(expr: str) -> str:
    """A number as ISO 8601 duration text: 4 -> '4', 4.5 -> '4.5'."""
    return (f"CASE WHEN {expr} = round({expr}) THEN CAST(CAST({expr} AS BIGINT) AS VARCHAR) "
            f"ELSE CAST(round({expr}, 2) AS VARCHAR) END")


def _list_json(list_sql: str, element: str) -> str:
    """JSON array of ``element`` (a lambda body over ``x``; NULL elements are skipped), NULL
    when the list is empty/NULL."""
    items = f"array_to_string(list_transform({list_sql}, lambda x: {element}), ',')"
    return f"CASE WHEN len({list_sql}) > 0 THEN {_cat(_lit('['), items, _lit(']'))} END"


def _lang_map(lang: str, text_sql: str) -> str:
    """``{"<lang>":<text>}``, NULL when the text is NULL (lang is never NULL)."""
    body = _cat(_lit("{"), lang, _lit(":"), f"to_json({text_sql})", _lit("}"))
    return f"CASE WHEN {text_sql} IS NOT NULL THEN {body} END"


def _cao(framework: str, framework_name: str, node_sql: str, *extra: str) -> str:
    """A ceterms:CredentialAlignmentObject; node_sql is a SQL string expression (NULL: no object).

    ``extra``: SQL of further ``,"key":value`` members (NULL ones are left out).
    """
    head = _json_lit({"@type": "ceterms:CredentialAlignmentObject", "ceterms:framework": framework,
                      "ceterms:frameworkName": {"en": framework_name}})[:-2] + "'"  # drop the closing }
    body = _cat(head, _lit(',"ceterms:targetNode":'), f"to_json({node_sql})", *extra, _lit("}"))
    return f"CASE WHEN ({node_sql}) IS NOT NULL THEN {body} END"


def _org(uuid_sql: str, name_sql: str, lang: str) -> str:
    return _cat(_lit('{"@type":"ceterms:CredentialOrganization","ceterms:ctid":"ce-'), uuid_sql,
                _lit('","ceterms:name":'), _lang_map(lang, name_sql), _lit("}"))


# --- the sources: organizations and subject labels ---------------------------------------------


def _prepare_sql() -> list[str]:
    dim, subject = DIM_CREDENTIAL.qualified, DIM_SUBJECT.qualified
    orgs = (
        "CREATE OR REPLACE TEMP TABLE _ld_orgs AS "
        f"SELECT k, name, uuid, {_org('uuid', 'name', EN)} AS ctdl FROM ("
        f"  SELECT k, name, {uuid5_sql(_lit('org:') + ' || k')} AS uuid FROM ("
        f"    SELECT lower(trim(n)) AS k, min(n) AS name FROM (SELECT awarding_body AS n FROM {dim} "
        f"    UNION ALL SELECT unnest(platforms) FROM {dim}) WHERE n IS NOT NULL GROUP BY 1))"
    )
    platforms = (
        "CREATE OR REPLACE TEMP TABLE _ld_platforms AS SELECT row_number() OVER (ORDER BY platforms) AS id, * FROM ("
        f"WITH d AS (SELECT DISTINCT platforms FROM {dim} WHERE len(platforms) > 0), "
        "u AS (SELECT platforms, unnest(platforms) AS name, unnest(generate_series(1, len(platforms))) AS pos FROM d) "
        "SELECT u.platforms, '[' || string_agg(o.ctdl, ',' ORDER BY u.pos) || ']' AS ctdl "
        "FROM u JOIN _ld_orgs AS o ON o.k = lower(trim(u.name)) GROUP BY u.platforms)"
    )
    ctdl = _cao(ISCED_FRAMEWORK, "ISCED-F 2013", f"{_lit(ISCED_NODE)} || u.x",
                _lit(',"ceterms:codedNotation":'), "to_json(u.x)",
                _opt("ceterms:targetNodeName", _lang_map(EN, "l.label")))
    ob = _cat(_lit('{"type":["Alignment"],"targetFramework":"ISCED-F 2013","targetUrl":'),
              f"to_json({_lit(ISCED_NODE)} || u.x)", _lit(',"targetName":'), "to_json(coalesce(l.label, u.x))",
              _lit(',"targetCode":'), "to_json(u.x)", _lit("}"))
    ob = f"CASE WHEN u.x IS NOT NULL THEN {ob} END"
    isced = (
        "CREATE OR REPLACE TEMP TABLE _ld_isced AS SELECT row_number() OVER (ORDER BY isced_codes) AS id, * FROM ("
        f"WITH d AS (SELECT DISTINCT isced_codes FROM {dim} WHERE len(isced_codes) > 0), "
        "u AS (SELECT isced_codes, unnest(isced_codes) AS x, unnest(generate_series(1, len(isced_codes))) AS pos FROM d) "
        f"SELECT u.isced_codes, '[' || string_agg({ctdl}, ',' ORDER BY u.pos) || ']' AS ctdl, "
        f"string_agg({ob}, ',' ORDER BY u.pos) AS ob "
        f"FROM u LEFT JOIN {subject} AS l ON l.isced_code = u.x GROUP BY u.isced_codes)"
    )
    # The fragments as lists indexed by id, session variables of this connection: the documents
    # look them up by position (a constant list) instead of joining (see _source).
    variables = ["SET VARIABLE ld_offered = (SELECT list(ctdl ORDER BY id) FROM _ld_platforms)",
                 "SET VARIABLE ld_isced_ctdl = (SELECT list(ctdl ORDER BY id) FROM _ld_isced)",
                 "SET VARIABLE ld_isced_ob = (SELECT list(ob ORDER BY id) FROM _ld_isced)"]
    return [orgs, platforms, isced, *variables]


def prepare(con: duckdb.DuckDBPyConnection) -> int:
    """Register the temp tables both documents read; return the number of credentials.

    ``_ld_orgs``: each organization named (lower-cased key, a spelling, uuid, CTDL node).
    ``_ld_platforms`` / ``_ld_isced``: the JSON of each distinct platform list and ISCED-F code
    list (few distinct lists) with an id, joined to the credentials by ``load_inputs``; their
    JSON is also kept as lists in session variables (``ld_offered``, ``ld_isced_ctdl``,
    ``ld_isced_ob``) that the documents index by that id. A credential's own uuid5 is computed
    in the documents' query (``uuid5_sql``).
    """
    for sql in _prepare_sql():
        con.execute(sql).fetchall()
    return int(con.execute(f"SELECT count(*) FROM {DIM_CREDENTIAL.qualified}").fetchall()[0][0])


# --- the documents' inputs: what a credential's nodes are built from, in credential_id order ---
#
# A credential's CTDL node and OB achievement are a function of its own dim_credential columns
# that the document SQL reads (``document_inputs``, found in that SQL, so a new reference is
# covered without a list to maintain) and of three shared fragments: the owner's uuid, the
# offeredBy organizations of its platform list (their spelling is the first one among all
# credentials) and the ISCED-F alignments of its code list (labels from dim_subject). The digest
# of the inputs hashes exactly these; with the same generator (``document_fingerprint``), equal
# digests give equal nodes, which is what lets a snapshot take nodes over from the previous one.
#
# The documents list the credentials in credential_id order: the inputs are sorted once into a
# temp table (``_ld_src``) and the documents are built by scanning it, which keeps its order.
# (Built straight from the joins, the order was the hash joins' and differed between runs at a
# million credentials, so the same warehouse gave different bytes.)

_DERIVED = frozenset({"_uuid", "_owner", "_offered", "_isced_ctdl", "_isced_ob", "_digest_a", "_digest_b",
                      "_pid", "_zid", "cls", "ach_type"})
_JOIN_KEYS = ("credential_id", "title", "awarding_body", "platforms", "isced_codes")
DIGEST_SALT = "credcat-linked-data"


@functools.cache
def document_inputs() -> tuple[str, ...]:
    """The dim_credential columns the documents read (in table order)."""
    text = _ctdl_doc() + _ob_doc() + _ctdl_class() + _ob_type()
    names = (set(re.findall(r"\bc\.([A-Za-z_][A-Za-z0-9_]*)\b", text)) - _DERIVED) | set(_JOIN_KEYS)
    columns = DIM_CREDENTIAL.columns.names()
    unknown = names - set(columns)
    if unknown:
        raise RuntimeError(f"the linked-data documents read columns dim_credential lacks: {sorted(unknown)}")
    return tuple(c for c in columns if c in names)


def _digest_terms() -> list[str]:
    """The values a credential's digest hashes: every input column, exactly (DuckDB's hash()
    gives NULL, [] and [NULL] one value and -0.0 the value of 0.0, so lists are hashed as
    their JSON text and floats with their sign bit), and the shared fragments it is given."""
    terms = []
    for name in document_inputs():
        column, dtype = f"c.{name}", DIM_CREDENTIAL.columns[name]
        if dtype.is_float():
            terms += [column, f"signbit({column})"]
        elif dtype in (pl.String(), pl.Boolean()) or dtype.is_integer():
            terms.append(column)
        else:
            terms.append(f"to_json({column})")
    return terms + ["o.uuid", "p.ctdl", "z.ctdl", "z.ob"]


def _digests() -> str:
    """Two 64-bit hashes of the inputs (the terms in both orders): a 128-bit digest."""
    terms = _digest_terms()
    return (f"hash({', '.join(terms)}) AS _digest_a, "
            f"hash({', '.join(reversed(terms))}, {_lit(DIGEST_SALT)}) AS _digest_b")


_INPUT_JOINS = (
    f"FROM {DIM_CREDENTIAL.qualified} AS c "
    "LEFT JOIN _ld_orgs AS o ON o.k = lower(trim(c.awarding_body)) "
    "LEFT JOIN _ld_platforms AS p ON p.platforms = c.platforms "
    "LEFT JOIN _ld_isced AS z ON z.isced_codes = c.isced_codes "
)


def inputs_sql(only: str | None = None) -> str:
    """SELECT of every credential's inputs (of the credential_ids in table ``only``, if given),
    with its uuid, fragments and digest, in credential_id order. A credential without a title
    (the marts always give one) is named by its id rather than left nameless."""
    columns = ", ".join("coalesce(c.title, c.credential_id) AS title" if name == "title" else f"c.{name}"
                        for name in document_inputs())
    where = f"WHERE c.credential_id IN (SELECT credential_id FROM {only}) " if only else ""
    return (f"SELECT {columns}, o.uuid AS _owner, p.id AS _pid, z.id AS _zid, {_digests()} "
            f"{_INPUT_JOINS}{where}ORDER BY c.credential_id")


def digests_sql() -> str:
    """SELECT of credential_id and digest of every credential (no order)."""
    return f"SELECT c.credential_id, {_digests()} {_INPUT_JOINS}"


def load_inputs(con: duckdb.DuckDBPyConnection, only: str | None = None) -> None:
    """Sort the inputs into ``_ld_src`` (after ``prepare``), which the documents' SQL reads."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ld_src AS {inputs_sql(only)}").fetchall()


_LANG = "to_json(coalesce(c.language, 'en'))"


def _source(extra: str) -> str:
    """The credentials' inputs (``_ld_src``, in credential_id order) with their uuid, their
    fragments (looked up by position in the lists ``prepare`` keeps) and ``extra`` columns.

    Only projections over one scan follow, no join, so the documents keep the table's order."""
    return (f"WITH s AS (SELECT c.*, {uuid5_sql('c.credential_id')} AS _uuid, "
            "getvariable('ld_offered')[c._pid] AS _offered, getvariable('ld_isced_ctdl')[c._zid] AS _isced_ctdl, "
            f"getvariable('ld_isced_ob')[c._zid] AS _isced_ob, {extra} FROM _ld_src AS c) ")


def _ctdl_doc() -> str:
    """SQL of the CTDL JSON-LD node of credential ``c`` (no @context); needs ``c.cls``."""
    lo = "c.credential_type IS NULL"
    delivery = _cao("https://credreg.net/ctdl/terms/Delivery", "Delivery Type",
                    "'deliveryType:' || c.modality",
                    _opt("ceterms:targetNodeName", _lang_map(EN, _case("c.modality", DELIVERY_LABELS, "NULL"))))
    delivery = f"CASE WHEN {_one_of('c.modality', DELIVERY_LABELS)} THEN {delivery} END"
    audience = _cao("https://credreg.net/ctdl/terms/AudienceLevel", "Audience Level",
                    "'audLevel:' || c.audience_level")
    audience = f"CASE WHEN {_one_of('c.audience_level', sorted(AUDIENCE_LEVELS))} THEN '[' || {audience} || ']' END"
    status = _cao("https://credreg.net/ctdl/terms/CredentialStatus", "Credential Status", "'credentialStat:Active'")
    skills = _list_json("c.skills", _cao(ESCO_FRAMEWORK, "ESCO", "x"))
    price = "CASE WHEN c.is_free THEN 0 ELSE c.price_usd_min END"
    cost = _cat(_lit('[{"@type":"ceterms:CostProfile","ceterms:price":'), f"to_json({price})",
                _lit(',"ceterms:currency":"USD","ceterms:directCostType":'),
                _cao("https://credreg.net/ctdl/terms/CostType", "Cost Type", "'costType:AggregateCost'"),
                _lit("}]"))
    cost = f"CASE WHEN {price} IS NOT NULL THEN {cost} END"
    wmin, wmax = "c.duration_weeks_min", "c.duration_weeks_max"
    hmin, hmax = "c.workload_hours_min", "c.workload_hours_max"
    effort = _lit('"ceterms:description":{"en":"Notional learner workload"},')

    def span(unit: str, lo_sql: str, hi_sql: str | None, prefix: str = "") -> str:
        """exactDuration (hi None) or minimum/maximumDuration members, ISO 8601."""
        pre = [prefix] if prefix else []
        if hi_sql is None:
            return _cat(*pre, _lit(f'"ceterms:exactDuration":"{unit[0]}'), _num(lo_sql), _lit(f'{unit[1]}"'))
        return _cat(*pre, _lit(f'"ceterms:minimumDuration":"{unit[0]}'), _num(lo_sql),
                    _lit(f'{unit[1]}","ceterms:maximumDuration":"{unit[0]}'), _num(hi_sql), _lit(f'{unit[1]}"'))

    weeks, hours = ("P", "W"), ("PT", "H")
    max_weeks = _cat(_lit('"ceterms:maximumDuration":"P'), _num(wmax), _lit('W"'))
    members = (f"CASE WHEN {wmin} IS NOT NULL AND ({wmax} IS NULL OR {wmax} = {wmin}) THEN {span(weeks, wmin, None)} "
               f"WHEN {wmin} IS NOT NULL THEN {span(weeks, wmin, wmax)} "
               f"WHEN {wmax} IS NOT NULL THEN {max_weeks} "
               f"WHEN {hmin} IS NOT NULL AND ({hmax} IS NULL OR {hmax} = {hmin}) THEN {span(hours, hmin, None, effort)} "
               f"WHEN {hmin} IS NOT NULL THEN {span(hours, hmin, hmax, effort)} END")
    duration = f"('[{{\"@type\":\"ceterms:DurationProfile\",' || ({members}) || '}}]')"
    owner = f"CASE WHEN c._owner IS NOT NULL THEN {_org('c._owner', 'c.awarding_body', EN)} END"
    requires = _cat(_lit('[{"@type":"ceterms:ConditionProfile","ceterms:description":{"en":"Competencies '
                         'required to earn the credential"},"ceterms:targetCompetency":'), skills, _lit("}]"))
    requires = f"CASE WHEN len(c.skills) > 0 THEN {requires} END"
    return _cat(
        _lit('{"@type":'), "to_json(c.cls)",
        _lit(',"ceterms:ctid":"ce-'), "c._uuid", _lit('"'),
        _lit(',"ceterms:name":'), _lang_map(_LANG, "c.title"),
        _opt("ceterms:description", _lang_map(_LANG, "c.description")),
        _opt("ceterms:ownedBy", f"'[' || {owner} || ']'"),
        _opt("ceterms:offeredBy", "c._offered"),
        _opt("ceterms:inLanguage", "'[' || to_json(c.language) || ']'"),
        _opt("ceterms:credentialStatusType", f"CASE WHEN NOT {lo} THEN {status} END"),
        _opt("ceterms:audienceLevelType", audience),
        _opt("ceterms:learningDeliveryType", f"CASE WHEN NOT {lo} THEN '[' || {delivery} || ']' END"),
        _opt("ceterms:deliveryType", f"CASE WHEN {lo} THEN '[' || {delivery} || ']' END"),
        _opt("ceterms:estimatedCost", cost),
        _opt("ceterms:estimatedDuration", duration),
        _opt("ceterms:instructionalProgramType", "c._isced_ctdl"),
        _opt("ceterms:teaches", f"CASE WHEN {lo} THEN {skills} END"),
        _opt("ceterms:requires", f"CASE WHEN NOT {lo} THEN {requires} END"),
        _lit("}"),
    )


def _ctdl_class() -> str:
    return (f"CASE WHEN c.credential_type IS NULL THEN {_lit('ceterms:' + LEARNING_OPPORTUNITY_CLASS)} "
            f"ELSE 'ceterms:' || {_case('c.credential_type', CTDL_CLASS, _lit(FALLBACK_CLASS))} END AS cls")


def _ob_type() -> str:
    return (f"CASE WHEN c.credential_type IS NULL THEN {_lit(OB_LEARNING_OPPORTUNITY_TYPE)} ELSE "
            f"{_case('c.credential_type', OB_TYPE, _lit('Achievement'))} END AS ach_type")


def _ob_doc() -> str:
    """SQL of the OB 3.0 Achievement of credential ``c`` (JSON, one line); needs ``c.ach_type``."""
    tail = "coalesce(nullif(split_part(x, '/', -1), ''), x)"  # the URI's last segment, else all of it
    skill = _cat(_lit('{"type":["Alignment"],"targetFramework":"ESCO","targetUrl":'), "to_json(x)",
                 _lit(',"targetName":'), f"to_json({tail})", _lit(',"targetCode":'), f"to_json({tail})",
                 _lit("}"))
    skills = (f"CASE WHEN len(c.skills) > 0 THEN array_to_string(list_transform(c.skills, lambda x: "
              f"CASE WHEN x IS NOT NULL THEN {skill} END), ',') END")
    items = f"concat_ws(',', c._isced_ob, {skills})"
    alignment = f"CASE WHEN c._isced_ob IS NOT NULL OR len(c.skills) > 0 THEN {_cat(_lit('['), items, _lit(']'))} END"

    def span(label: str, lo_sql: str, hi_sql: str, unit: str) -> str:
        return (f"CASE WHEN {lo_sql} IS NOT NULL THEN " + _cat(
            _lit(f" {label}: "), _num(lo_sql),
            f"('-' || CASE WHEN {hi_sql} <> {lo_sql} THEN {_num(hi_sql)} END)", _lit(f" {unit}.")) + " END")

    narrative = _cat(
        _lit("Complete "), "c.title", "(', awarded by ' || c.awarding_body)",
        "(' (listed on ' || nullif(array_to_string(c.platforms, ', '), '') || ')')", _lit("."),
        span("Duration", "c.duration_weeks_min", "c.duration_weeks_max", "weeks"),
        span("Workload", "c.workload_hours_min", "c.workload_hours_max", "hours"),
    )
    creator = ("CASE WHEN c._owner IS NOT NULL THEN " + _cat(
        _lit('{"id":"urn:uuid:'), "c._owner", _lit('","type":["Profile"],"name":'), "to_json(c.awarding_body)",
        _lit("}")) + " END")
    head = _json_lit({"@context": [VC_CONTEXT, OB_CONTEXT]})[:-2] + "'"  # '{"@context":[...]
    return _cat(
        head, _lit(',"id":"urn:uuid:'), "c._uuid", _lit('","type":["Achievement"]'),
        _lit(',"achievementType":'), "to_json(c.ach_type)",
        _lit(',"name":'), "to_json(c.title)",
        _lit(',"description":'), "to_json(coalesce(nullif(c.description, ''), c.title))",
        _lit(',"criteria":{"narrative":'), f"to_json({narrative})", _lit("}"),
        _opt("alignment", alignment),
        _opt("creator", creator),
        _opt("inLanguage", "to_json(c.language)"),
        _lit("}"),
    )


def ctdl_node_sql() -> str:
    """SELECT of one column ``doc``: the CTDL JSON-LD node of each credential (no @context),
    in credential_id order (after ``load_inputs``)."""
    return _source(_ctdl_class()) + f"SELECT {_ctdl_doc()} AS doc FROM s AS c"


def ob_achievement_sql() -> str:
    """SELECT of one column ``doc``: the OB 3.0 Achievement of each credential (JSON, one line),
    in credential_id order (after ``load_inputs``)."""
    return _source(_ob_type()) + f"SELECT {_ob_doc()} AS doc FROM s AS c"


def documents_sql(separators: tuple[str, str] = ("", "")) -> str:
    """SELECT of credential_id, its digest (``_digest_a``, ``_digest_b``), ``ctdl`` and ``ob``:
    both documents of each credential in one pass over ``_ld_src``, each followed by its
    separator, in credential_id order."""
    return (_source(f"{_ctdl_class()}, {_ob_type()}")
            + "SELECT c.credential_id, c._digest_a, c._digest_b, "
            f"{_cat(_ctdl_doc(), _lit(separators[0]))} AS ctdl, "
            f"{_cat(_ob_doc(), _lit(separators[1]))} AS ob FROM s AS c")


# --- writing ------------------------------------------------------------------------------------


def _buffer_bytes(array: pa.Array) -> memoryview:
    """The concatenated UTF-8 bytes of a string array without copying (no nulls expected)."""
    if array.type not in (pa.string(), pa.large_string()):
        array = array.cast(pa.large_string())
    if array.null_count:
        raise ValueError("a linked-data document came out NULL")
    width = 8 if array.type == pa.large_string() else 4
    offsets = memoryview(array.buffers()[1]).cast("q" if width == 8 else "i")
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    data = array.buffers()[2]
    return memoryview(data)[start:end] if data is not None else memoryview(b"")


def _offsets(array: pa.Array) -> np.ndarray:
    """Where each string of an array starts in ``_buffer_bytes(array)``, and its end (int64)."""
    if array.type not in (pa.string(), pa.large_string()):
        array = array.cast(pa.large_string())
    dtype = np.int64 if array.type == pa.large_string() else np.int32
    offsets = np.frombuffer(array.buffers()[1], dtype=dtype, count=array.offset + len(array) + 1)[array.offset:]
    return offsets.astype(np.int64) - int(offsets[0])


def _lengths(array: pa.Array) -> np.ndarray:
    """The byte length of each string of an array (int64)."""
    return np.diff(_offsets(array))


class _DocumentFile:
    """One output document written from batches of ``doc + separator`` text, hashed on the way.

    With a footer, the separator after the last document is replaced by it: the last
    ``len(separator)`` bytes of every batch are held back until more data follows, so nothing
    is ever rewritten and the sha256 is computed as the bytes are written (no second read).
    """

    def __init__(self, folder: Path, relative: str, *, header: bytes, separator: bytes, footer: bytes) -> None:
        self.relative = relative
        self.path = folder / relative
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("wb")
        self._hold = len(separator) if footer else 0
        self._separator = separator
        self._pending = b""
        self._footer = footer
        self._digest = hashlib.sha256()
        self.rows = 0
        self.bytes = 0
        self._put(header)

    def _put(self, data: bytes | memoryview) -> None:
        if len(data):
            self._fh.write(data)
            self._digest.update(data)
            self.bytes += len(data)

    def add(self, array: pa.Array) -> None:
        if len(array):
            self.add_bytes(_buffer_bytes(array), len(array))

    def add_bytes(self, data: memoryview, rows: int) -> None:
        """Add ``rows`` documents given as their bytes, each followed by the separator."""
        if not rows:
            return
        self.rows += rows
        self._put(self._pending)
        if self._hold:
            self._put(data[:len(data) - self._hold])
            self._pending = bytes(data[len(data) - self._hold:])
        else:
            self._put(data)

    def add_nodes(self, copy: Callable[[Callable[[memoryview], None]], None], rows: int) -> None:
        """Add ``rows`` nodes that ``copy`` hands over as bytes, separated by the separator and
        without the one after the last node (a range of a previous document)."""
        if not rows:
            return
        self.rows += rows
        self._put(self._pending)
        copy(self._put)
        if self._hold:
            self._pending = self._separator
        else:
            self._put(self._separator)

    def close(self) -> dict[str, Any]:
        self._pending = b""  # the last separator gives way to the footer
        self._put(self._footer)
        self._fh.close()
        return {"path": self.relative, "rows": self.rows, "bytes": self.bytes,
                "sha256": self._digest.hexdigest()}

    def abandon(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


def _write(con: duckdb.DuckDBPyConnection, select: str, files: list[_DocumentFile],
           batch_rows: int) -> list[dict[str, Any]]:
    """Stream ``select`` (its last columns: one text column per file, in order) into ``files``;
    return their facts."""
    try:
        reader = con.sql(select).to_arrow_reader(batch_rows)
        for batch in reader:
            for column, file in zip(batch.columns[-len(files):], files, strict=True):
                file.add(column)
    except BaseException:
        for file in files:
            file._fh.close()
        raise
    return [file.close() for file in files]


def write_documents(con: duckdb.DuckDBPyConnection, select_doc: str, path: Path, *,
                    header: bytes = b"", separator: bytes = b"\n", footer: bytes = b"",
                    batch_rows: int = 4096) -> int:
    """Stream ``select_doc`` (one non-null column of text) to ``path``; return the row count.

    Each document is followed by ``separator``; with a footer, the last separator is replaced
    by it (``header`` + docs joined by ",\\n" + footer makes one JSON array).
    """
    path = Path(path)
    file = _DocumentFile(path.parent, path.name, header=header, separator=separator, footer=footer)
    select = f"SELECT concat(doc, {_lit(separator.decode())}) FROM ({select_doc})"
    return _write(con, select, [file], batch_rows)[0]["rows"]


CTDL_HEADER = ('{"@context":"' + CTDL_CONTEXT + '","@graph":[\n').encode()
CTDL_SEPARATOR, CTDL_FOOTER = b",\n", b"\n]}\n"
OB_HEADER, OB_SEPARATOR, OB_FOOTER = b"", b"\n", b""
# path, manifest format, header, separator, footer of the two documents export_documents writes.
DOCUMENTS = ((CTDL_FILE, "ctdl-jsonld", CTDL_HEADER, CTDL_SEPARATOR, CTDL_FOOTER),
             (OB_FILE, "openbadges-jsonl", OB_HEADER, OB_SEPARATOR, OB_FOOTER))


def export_ctdl(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[str, int]:
    """Write ``ctdl/credentials.jsonld``: one JSON-LD document, every credential in @graph
    (one node per line, in credential_id order; after ``prepare``)."""
    load_inputs(con)
    rows = write_documents(con, ctdl_node_sql(), folder / CTDL_FILE, header=CTDL_HEADER,
                           separator=CTDL_SEPARATOR, footer=CTDL_FOOTER)
    return CTDL_FILE, rows


def export_openbadges(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[str, int]:
    """Write ``openbadges/achievements.jsonl``: one OB 3.0 Achievement per line (after ``prepare``)."""
    load_inputs(con)
    rows = write_documents(con, ob_achievement_sql(), folder / OB_FILE)
    return OB_FILE, rows


# --- taking nodes over from the previous snapshot ----------------------------------------------


def document_fingerprint() -> str:
    """What decides the bytes of a node besides its inputs: the generator's SQL, the document
    framing and the DuckDB version (its JSON and hash functions)."""
    framing = [repr(d) for d in DOCUMENTS]
    return fingerprint(INDEX_VERSION, duckdb.__version__, *_prepare_sql(), inputs_sql("_"),
                       documents_sql((CTDL_SEPARATOR.decode(), OB_SEPARATOR.decode())), *framing)


def _document_size(lengths: np.ndarray, header: bytes, separator: bytes, footer: bytes) -> int:
    """The size of a document of nodes of these lengths."""
    if not len(lengths):
        return len(header) + len(footer)
    end = footer if footer else separator
    return len(header) + int(lengths.sum()) + (len(lengths) - 1) * len(separator) + len(end)


@dataclass
class _Lengths:
    """The byte length of each node written, per document, gathered while they are written;
    and the check that the nodes come in credential_id order. Keeps no reference to a batch:
    an array of a DuckDB batch keeps the whole batch (~12 MB of text) alive."""

    lengths: tuple[list[np.ndarray], ...] = field(default_factory=lambda: ([], []))
    rows: int = 0
    last: str | None = None

    def add_batch(self, batch: pa.RecordBatch, separators: tuple[bytes, bytes]) -> None:
        ids = batch.column(0)
        if len(ids):  # the documents' order is credential_id order, or they are not written
            in_order = pc.all(pc.greater(ids.slice(1), ids.slice(0, len(ids) - 1))).as_py() is not False
            if in_order and self.last is not None:
                in_order = ids[0].as_py().encode() > self.last.encode()
            if not in_order:
                raise RuntimeError("the linked-data documents did not come out in credential_id order")
            self.last = ids[len(ids) - 1].as_py()
        self.rows += len(ids)
        for lengths, column, separator in zip(self.lengths, batch.columns[-2:], separators, strict=True):
            lengths.append(_lengths(column) - len(separator))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return tuple(np.concatenate(chunks) if chunks else np.array([], np.int64) for chunks in self.lengths)


def _index_table(keys: pa.Table, ctdl_bytes: np.ndarray, ob_bytes: np.ndarray) -> pa.Table:
    """The documents' index: ``keys`` (credential_id, digest_a, digest_b in document order) and
    the node lengths."""
    return pa.table({"credential_id": keys.column(0).cast(pa.string()), "digest_a": keys.column(1).cast(pa.uint64()),
                     "digest_b": keys.column(2).cast(pa.uint64()),
                     "ctdl_bytes": pa.array(ctdl_bytes, pa.int64()), "ob_bytes": pa.array(ob_bytes, pa.int64())
                     }).combine_chunks()  # one chunk: the file's bytes must not depend on how it was gathered


def _write_index(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = table.schema.with_metadata({"credcat.fingerprint": document_fingerprint(),
                                         "credcat.index_version": INDEX_VERSION})
    pq.write_table(table.cast(schema), path, compression="zstd")


@dataclass
class _Plan:
    """Per credential of this snapshot (credential_id order): its digest and the position of
    its unchanged node in the previous documents (-1: generate it)."""

    previous: PreviousSnapshot
    ids: pa.Array
    digest_a: pa.Array
    digest_b: pa.Array
    position: np.ndarray
    old_lengths: tuple[np.ndarray, np.ndarray]
    old_offsets: tuple[np.ndarray, np.ndarray]
    sources: tuple[Path, Path]

    @property
    def regenerated(self) -> int:
        return int((self.position < 0).sum())


def _increasing(ids: pa.Array | pa.ChunkedArray) -> bool:
    """Strictly increasing (byte order): sorted and unique."""
    return len(ids) < 2 or pc.all(pc.greater(ids[1:], ids[:-1])).as_py() is not False


def _plan(con: duckdb.DuckDBPyConnection, previous: PreviousSnapshot) -> tuple[_Plan | None, str]:
    """Which nodes the previous snapshot can give (``prepare`` first); (None, why) when none."""
    try:
        return _make_plan(con, previous)
    except (duckdb.Error, pa.ArrowException, ValueError, KeyError, TypeError) as exc:  # a foreign snapshot
        return None, f"the previous snapshot's documents cannot be used ({type(exc).__name__}: {exc})"


def _make_plan(con: duckdb.DuckDBPyConnection, previous: PreviousSnapshot) -> tuple[_Plan | None, str]:
    index_path = previous.checked_path(DOCUMENT_INDEX)  # small: hashed against the manifest here
    if index_path is None:
        return None, "no intact document index in the previous snapshot"
    try:
        metadata = pq.read_schema(index_path).metadata or {}
        if metadata.get(b"credcat.fingerprint", b"").decode() != document_fingerprint():
            return None, "the previous documents were made by another generator"
        old = pq.ParquetFile(index_path).read(columns=["credential_id", "digest_a", "digest_b", "ctdl_bytes",
                                                       "ob_bytes"])
    except Exception as exc:  # a foreign file: generate everything
        return None, f"unreadable document index ({exc})"
    if not _increasing(old["credential_id"]):
        return None, "the document index is not in credential_id order"
    old_lengths, old_offsets, sources = [], [], []
    for (relative, _, header, separator, footer), column in zip(DOCUMENTS, ("ctdl_bytes", "ob_bytes"), strict=True):
        entry = previous.document_entry(relative)
        path = previous.checked_path(relative, document=True, hash_it=False)  # checked while copied
        if entry is None or path is None or entry.get("rows") != old.num_rows or old[column].null_count:
            return None, f"{relative} of the previous snapshot is missing or does not match its manifest"
        lengths = old[column].to_numpy().astype(np.int64)
        if (lengths < 0).any() or _document_size(lengths, header, separator, footer) != entry["bytes"]:
            return None, f"the document index does not describe {relative} of the previous snapshot"
        starts = np.empty(len(lengths), np.int64)
        if len(lengths):
            starts[0] = len(header)
            np.cumsum(lengths[:-1] + len(separator), out=starts[1:])
            starts[1:] += len(header)
        old_lengths.append(lengths)
        old_offsets.append(starts)
        sources.append(path)
    positions = old.select(["credential_id", "digest_a", "digest_b"]).append_column(
        "position", pa.array(np.arange(old.num_rows, dtype=np.int64)))
    con.register("_ld_previous_index", positions)
    try:
        plan = con.sql(
            f"SELECT n.credential_id, n._digest_a, n._digest_b, coalesce(o.position, -1) AS position "
            f"FROM ({digests_sql()}) AS n LEFT JOIN _ld_previous_index AS o "
            "ON o.credential_id = n.credential_id AND o.digest_a = n._digest_a AND o.digest_b = n._digest_b "
            "ORDER BY n.credential_id").to_arrow_table()
    finally:
        con.unregister("_ld_previous_index")
    total = con.execute(f"SELECT count(*) FROM {DIM_CREDENTIAL.qualified}").fetchall()[0][0]
    if plan.num_rows != total or not _increasing(plan["credential_id"]):
        raise RuntimeError("the credentials to write are not the warehouse's, one each")
    position = plan["position"].to_numpy()
    taken = position[position >= 0]
    if len(taken) and (np.diff(taken) <= 0).any():  # both are in credential_id order: never
        return None, "the previous documents are not in credential_id order"
    result = _Plan(previous, plan["credential_id"].combine_chunks(), plan["_digest_a"].combine_chunks(),
                   plan["_digest_b"].combine_chunks(), position, tuple(old_lengths), tuple(old_offsets),
                   tuple(sources))
    if not len(taken):
        return None, "no credential's documents are unchanged"
    if result.regenerated > MAX_REGENERATED_SHARE * len(position):
        return None, f"{result.regenerated:,} of {len(position):,} credentials changed: generating all"
    return result, ""


class _Generated:
    """The generated documents of a splice, in plan order, handed out ``n`` at a time as bytes
    (a batch is checked against the plan once, not per piece)."""

    def __init__(self, reader: Iterable[pa.RecordBatch], ids: pa.Array, separators: tuple[bytes, bytes]) -> None:
        self._batches: Iterator[pa.RecordBatch] = iter(reader)
        self._ids = ids.cast(pa.string())
        self._separators = separators
        self._seen = 0
        self._batch: pa.RecordBatch | None = None
        self._views: list[memoryview] = []
        self._offsets: list[np.ndarray] = []
        self._at = 0
        self.lengths: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])

    def _next(self) -> bool:
        batch = next(self._batches, None)
        while batch is not None and not batch.num_rows:
            batch = next(self._batches, None)
        if batch is None:
            return False
        n = batch.num_rows
        if not batch.column(0).cast(pa.string()).equals(self._ids.slice(self._seen, n)):
            raise RuntimeError("the generated documents are not those planned")
        self._seen += n
        self._batch, self._at = batch, 0
        self._views = [_buffer_bytes(c) for c in batch.columns[-2:]]
        self._offsets = [_offsets(c) for c in batch.columns[-2:]]
        for lengths, offsets, separator in zip(self.lengths, self._offsets, self._separators, strict=True):
            lengths.append(np.diff(offsets) - len(separator))
        return True

    def write(self, files: list[_DocumentFile], n: int) -> None:
        while n:
            if (self._batch is None or self._at == self._batch.num_rows) and not self._next():
                raise RuntimeError("fewer documents generated than planned")
            a = self._at
            b = min(self._batch.num_rows, a + n)
            for file, view, offsets in zip(files, self._views, self._offsets, strict=True):
                file.add_bytes(view[int(offsets[a]):int(offsets[b])], b - a)
            self._at, n = b, n - (b - a)

    def exhausted(self) -> bool:
        return (self._batch is None or self._at == self._batch.num_rows) and not self._next()

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return tuple(np.concatenate(chunks) if chunks else np.array([], np.int64) for chunks in self.lengths)


def _segments(position: np.ndarray) -> Iterator[tuple[int, int, bool]]:
    """(start, end, taken over) runs: generated rows, or rows whose previous nodes are adjacent."""
    n = len(position)
    if not n:
        return
    taken = position >= 0
    starts = np.ones(n, bool)
    starts[1:] = (taken[1:] != taken[:-1]) | (taken[1:] & (position[1:] != position[:-1] + 1))
    bounds = np.flatnonzero(starts).tolist() + [n]
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        yield start, end, bool(taken[start])


def _splice(con: duckdb.DuckDBPyConnection, plan: _Plan, files: list[_DocumentFile],
            batch_rows: int) -> tuple[pa.Table, dict[str, str]]:
    """Write the documents from the previous nodes of the plan and the generated ones; return
    the index and how each previous document was checked ("identity" or "sha256"). Raises
    PreviousDamaged when a previous document does not hash to its manifest."""
    separators = tuple(d[3] for d in DOCUMENTS)
    generate = plan.ids.filter(pa.array(plan.position < 0))
    con.register("_ld_generate_ids", pa.table({"credential_id": generate}))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _ld_generate AS SELECT credential_id FROM _ld_generate_ids").fetchall()
    finally:
        con.unregister("_ld_generate_ids")
    load_inputs(con, "_ld_generate")
    sources = [SequentialSource(path, plan.previous.document_entry(d[0])["sha256"],
                                plan.previous.document_entry(d[0])["bytes"],
                                identity=plan.previous.identity(d[0], document=True))
               for path, d in zip(plan.sources, DOCUMENTS, strict=True)]
    try:
        reader = con.sql(documents_sql(tuple(s.decode() for s in separators))).to_arrow_reader(batch_rows)
        generated = _Generated(reader, generate, separators)
        for start, end, taken in _segments(plan.position):
            if not taken:
                generated.write(files, end - start)
                continue
            first, last = int(plan.position[start]), int(plan.position[end - 1])
            for file, source, lengths, offsets in zip(files, sources, plan.old_lengths, plan.old_offsets, strict=True):
                begin, stop = int(offsets[first]), int(offsets[last] + lengths[last])
                file.add_nodes(lambda sink, s=source, b=begin, e=stop: s.copy(b, e, sink), end - start)
        if not generated.exhausted():
            raise RuntimeError("more documents generated than planned")
        for source in sources:
            source.finish()
    finally:
        for source in sources:
            source.close()
        con.execute("DROP TABLE IF EXISTS _ld_src").fetchall()
        con.execute("DROP TABLE IF EXISTS _ld_generate").fetchall()
    read = {d[0]: "identity" if source.trusted else "sha256" for d, source in zip(DOCUMENTS, sources, strict=True)}
    taken = plan.position >= 0
    columns = []
    for new_lengths, old_lengths in zip(generated.arrays(), plan.old_lengths, strict=True):
        lengths = np.empty(len(plan.position), np.int64)
        lengths[taken] = old_lengths[plan.position[taken]]
        lengths[~taken] = new_lengths
        columns.append(lengths)
    keys = pa.table({"credential_id": plan.ids, "digest_a": plan.digest_a, "digest_b": plan.digest_b})
    return _index_table(keys, *columns), read


def _generate(con: duckdb.DuckDBPyConnection, files: list[_DocumentFile], batch_rows: int) -> pa.Table:
    """Write the documents of every credential; return the index."""
    separators = tuple(d[3] for d in DOCUMENTS)
    load_inputs(con)
    lengths = _Lengths()
    try:
        for batch in con.sql(documents_sql(tuple(s.decode() for s in separators))).to_arrow_reader(batch_rows):
            lengths.add_batch(batch, separators)
            for file, column in zip(files, batch.columns[-2:], strict=True):
                file.add(column)
        keys = con.sql("SELECT credential_id, _digest_a, _digest_b FROM _ld_src").to_arrow_table()
    finally:
        con.execute("DROP TABLE IF EXISTS _ld_src").fetchall()
    if keys.num_rows != lengths.rows or not _increasing(keys.column(0)) or \
            (keys.num_rows and keys.column(0)[-1].as_py() != lengths.last):
        raise RuntimeError("the documents and their index do not have the same credentials")
    return _index_table(keys, *lengths.arrays())


def export_documents(con: duckdb.DuckDBPyConnection, folder: Path, *, batch_rows: int = 4096,
                     previous: Path | None = None) -> list[dict[str, Any]]:
    """Write both documents in one pass over the credentials (after ``prepare``), and their
    index ``changes/document_index.parquet``.

    Returns, per document, its path (relative to ``folder``), format, rows, bytes and sha256
    (hashed while writing), and how it was made: ``mode`` "generated" or "spliced",
    ``taken_over`` (nodes copied from ``previous``), ``since`` and ``fallback`` (why nothing
    was taken over). The bytes are those ``export_ctdl`` and ``export_openbadges`` write.

    With ``previous`` (an earlier snapshot folder), the nodes of the credentials whose inputs
    have the digest they had there are copied from its documents, in one sequential read that
    also checks each document's sha256 against the previous manifest (or, when the document
    still has the identity that manifest recorded, reads only the nodes copied:
    warehouse/export_reuse.py; ``previous_read`` says "identity" or "sha256" per document);
    only the others are generated. The result is byte for byte the full generation's. A previous snapshot without
    an intact index and documents, from another generator, or with more than
    MAX_REGENERATED_SHARE of the credentials changed, gives a full generation.
    Small batches (~12 MB of text) keep reusing the same memory: 20,000-row batches (~60 MB)
    were mapped and unmapped each time and cost a third more system time.
    """
    folder = Path(folder)
    old = PreviousSnapshot.load(previous) if previous is not None else None
    plan, why = _plan(con, old) if old is not None else (None, "no previous snapshot")

    def open_files() -> list[_DocumentFile]:
        return [_DocumentFile(folder, path, header=header, separator=separator, footer=footer)
                for path, _, header, separator, footer in DOCUMENTS]

    files = open_files()
    mode, taken, read = "generated", 0, None
    try:
        if plan is not None:
            try:
                index, read = _splice(con, plan, files, batch_rows)
                mode, taken = "spliced", len(plan.position) - plan.regenerated
            except PreviousDamaged as exc:
                for file in files:
                    file.abandon()
                files, why = open_files(), f"previous document damaged ({exc}): generated all"
                index = _generate(con, files, batch_rows)
        else:
            index = _generate(con, files, batch_rows)
    except BaseException:
        for file in files:
            file._fh.close()
        raise
    facts = [file.close() for file in files]
    _write_index(index, folder / DOCUMENT_INDEX)
    for fact, (_, kind, *_) in zip(facts, DOCUMENTS, strict=True):
        fact.update(format=kind, mode=mode, taken_over=taken, since=old.name if old else None,
                    fallback=None if mode == "spliced" else why, previous_read=read)
    return facts
