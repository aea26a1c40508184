"""Linked-data exports of the credentials: CTDL JSON-LD and Open Badges 3.0 Achievements.

Both documents are built inside DuckDB as JSON text (variadic ``concat`` with ``to_json`` for
every value, so quoting is DuckDB's), in ONE pass over the credentials, streamed out in Arrow
batches and written straight from the Arrow string buffers, hashed (sha256) as they are written:
no Python work per credential, not even the uuid5 of its id (``uuid5_sql``). See
``warehouse.bench_export`` for the figures at a million credentials.

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

import hashlib
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from warehouse.ddl import DIM_CREDENTIAL, DIM_SUBJECT

CTDL_CONTEXT = "https://credreg.net/ctdl/schema/context/json"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CTDL_FILE = "ctdl/credentials.jsonld"
OB_FILE = "openbadges/achievements.jsonl"

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


def prepare(con: duckdb.DuckDBPyConnection) -> int:
    """Register the temp tables both documents read; return the number of credentials.

    ``_ld_orgs``: each organization named (lower-cased key, a spelling, uuid, CTDL node).
    ``_ld_platforms`` / ``_ld_isced``: the JSON of each distinct platform list and ISCED-F code
    list (few distinct lists), joined back to the credentials instead of looked up per row.
    A credential's own uuid5 is computed in the documents' query (``uuid5_sql``).
    """
    dim, subject = DIM_CREDENTIAL.qualified, DIM_SUBJECT.qualified
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ld_orgs AS "
        f"SELECT k, name, uuid, {_org('uuid', 'name', EN)} AS ctdl FROM ("
        f"  SELECT k, name, {uuid5_sql(_lit('org:') + ' || k')} AS uuid FROM ("
        f"    SELECT lower(trim(n)) AS k, min(n) AS name FROM (SELECT awarding_body AS n FROM {dim} "
        f"    UNION ALL SELECT unnest(platforms) FROM {dim}) WHERE n IS NOT NULL GROUP BY 1))"
    ).fetchall()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ld_platforms AS "
        f"WITH d AS (SELECT DISTINCT platforms FROM {dim} WHERE len(platforms) > 0), "
        "u AS (SELECT platforms, unnest(platforms) AS name, unnest(generate_series(1, len(platforms))) AS pos FROM d) "
        "SELECT u.platforms, '[' || string_agg(o.ctdl, ',' ORDER BY u.pos) || ']' AS ctdl "
        "FROM u JOIN _ld_orgs AS o ON o.k = lower(trim(u.name)) GROUP BY u.platforms"
    ).fetchall()
    ctdl = _cao(ISCED_FRAMEWORK, "ISCED-F 2013", f"{_lit(ISCED_NODE)} || u.x",
                _lit(',"ceterms:codedNotation":'), "to_json(u.x)",
                _opt("ceterms:targetNodeName", _lang_map(EN, "l.label")))
    ob = _cat(_lit('{"type":["Alignment"],"targetFramework":"ISCED-F 2013","targetUrl":'),
              f"to_json({_lit(ISCED_NODE)} || u.x)", _lit(',"targetName":'), "to_json(coalesce(l.label, u.x))",
              _lit(',"targetCode":'), "to_json(u.x)", _lit("}"))
    ob = f"CASE WHEN u.x IS NOT NULL THEN {ob} END"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ld_isced AS "
        f"WITH d AS (SELECT DISTINCT isced_codes FROM {dim} WHERE len(isced_codes) > 0), "
        "u AS (SELECT isced_codes, unnest(isced_codes) AS x, unnest(generate_series(1, len(isced_codes))) AS pos FROM d) "
        f"SELECT u.isced_codes, '[' || string_agg({ctdl}, ',' ORDER BY u.pos) || ']' AS ctdl, "
        f"string_agg({ob}, ',' ORDER BY u.pos) AS ob "
        f"FROM u LEFT JOIN {subject} AS l ON l.isced_code = u.x GROUP BY u.isced_codes"
    ).fetchall()
    return int(con.execute(f"SELECT count(*) FROM {dim}").fetchall()[0][0])


_LANG = "to_json(coalesce(c.language, 'en'))"


def _source(extra: str) -> str:
    """The credentials with their identifiers and precomputed fragments.

    No ORDER BY: sorting the wide rows cost ~20% of the document time at 1M, and document order
    is not part of the contract (the manifest sha256 is per snapshot anyway). A credential
    without a title (the marts always give one) is named by its id rather than left nameless.
    """
    return (
        "WITH s AS (SELECT c.* REPLACE (coalesce(c.title, c.credential_id) AS title), "
        f"{uuid5_sql('c.credential_id')} AS _uuid, o.uuid AS _owner, p.ctdl AS _offered, "
        f"z.ctdl AS _isced_ctdl, z.ob AS _isced_ob, {extra} "
        f"FROM {DIM_CREDENTIAL.qualified} AS c "
        "LEFT JOIN _ld_orgs AS o ON o.k = lower(trim(c.awarding_body)) "
        "LEFT JOIN _ld_platforms AS p ON p.platforms = c.platforms "
        "LEFT JOIN _ld_isced AS z ON z.isced_codes = c.isced_codes) "
    )


def _ctdl_doc() -> str:
    """SQL of the CTDL JSON-LD node of credential ``c`` (no @context); needs ``c.cls``."""
    lo = "c.credential_type IS NULL"
    delivery = _cao("https://credreg.net/ctdl/terms/Delivery", "Delivery Type",
                    "'deliveryType:' || c.modality",
                    _opt("ceterms:targetNodeName", _lang_map(EN, _case("c.modality", DELIVERY_LABELS, "NULL"))))
    delivery = f"CASE WHEN c.modality IN ({', '.join(_lit(k) for k in DELIVERY_LABELS)}) THEN {delivery} END"
    audience = _cao("https://credreg.net/ctdl/terms/AudienceLevel", "Audience Level",
                    "'audLevel:' || c.audience_level")
    audience = (f"CASE WHEN c.audience_level IN ({', '.join(_lit(k) for k in sorted(AUDIENCE_LEVELS))}) "
                f"THEN '[' || {audience} || ']' END")
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
    """SELECT of one column ``doc``: the CTDL JSON-LD node of each credential (no @context)."""
    return _source(_ctdl_class()) + f"SELECT {_ctdl_doc()} AS doc FROM s AS c"


def ob_achievement_sql() -> str:
    """SELECT of one column ``doc``: the OB 3.0 Achievement of each credential (JSON, one line)."""
    return _source(_ob_type()) + f"SELECT {_ob_doc()} AS doc FROM s AS c"


def documents_sql(separators: tuple[str, str] = ("", "")) -> str:
    """SELECT of ``ctdl`` and ``ob``, both documents of each credential in one pass over the
    credentials, each followed by its separator."""
    return (_source(f"{_ctdl_class()}, {_ob_type()}")
            + f"SELECT {_cat(_ctdl_doc(), _lit(separators[0]))} AS ctdl, "
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
        if not len(array):
            return
        data = _buffer_bytes(array)
        self.rows += len(array)
        self._put(self._pending)
        if self._hold:
            self._put(data[:len(data) - self._hold])
            self._pending = bytes(data[len(data) - self._hold:])
        else:
            self._put(data)

    def close(self) -> dict[str, Any]:
        self._pending = b""  # the last separator gives way to the footer
        self._put(self._footer)
        self._fh.close()
        return {"path": self.relative, "rows": self.rows, "bytes": self.bytes,
                "sha256": self._digest.hexdigest()}


def _write(con: duckdb.DuckDBPyConnection, select: str, files: list[_DocumentFile],
           batch_rows: int) -> list[dict[str, Any]]:
    """Stream ``select`` (one text column per file, in order) into ``files``; return their facts."""
    try:
        reader = con.sql(select).to_arrow_reader(batch_rows)
        for batch in reader:
            for column, file in enumerate(files):
                file.add(batch.column(column))
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


def export_ctdl(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[str, int]:
    """Write ``ctdl/credentials.jsonld``: one JSON-LD document, every credential in @graph."""
    rows = write_documents(con, ctdl_node_sql(), folder / CTDL_FILE, header=CTDL_HEADER,
                           separator=CTDL_SEPARATOR, footer=CTDL_FOOTER)
    return CTDL_FILE, rows


def export_openbadges(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[str, int]:
    """Write ``openbadges/achievements.jsonl``: one OB 3.0 Achievement per line."""
    rows = write_documents(con, ob_achievement_sql(), folder / OB_FILE)
    return OB_FILE, rows


def export_documents(con: duckdb.DuckDBPyConnection, folder: Path, *,
                     batch_rows: int = 4096) -> list[dict[str, Any]]:
    """Write both documents in one pass over the credentials (after ``prepare``).

    Returns, per document, its path (relative to ``folder``), format, rows, bytes and sha256
    (hashed while writing). The bytes are those ``export_ctdl`` and ``export_openbadges`` write.
    Small batches (~12 MB of text) keep reusing the same memory: 20,000-row batches (~60 MB)
    were mapped and unmapped each time and cost a third more system time.
    """
    files = [
        _DocumentFile(folder, CTDL_FILE, header=CTDL_HEADER, separator=CTDL_SEPARATOR, footer=CTDL_FOOTER),
        _DocumentFile(folder, OB_FILE, header=b"", separator=b"\n", footer=b""),
    ]
    facts = _write(con, documents_sql((CTDL_SEPARATOR.decode(), "\n")), files, batch_rows)
    for fact, kind in zip(facts, ("ctdl-jsonld", "openbadges-jsonl"), strict=True):
        fact["format"] = kind
    return facts
