"""Linked-data exports of the credentials: CTDL JSON-LD and Open Badges 3.0 Achievements.

Both documents are built inside DuckDB as JSON text (string concatenation with ``to_json`` for
every value, so quoting is DuckDB's), streamed out in Arrow batches and written straight from
the Arrow string buffers: no Python work per credential except the uuid5 of its id. That keeps
a million credentials within seconds (see ``warehouse.bench_export``).

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
    import hashlib

    prefix = CTID_NAMESPACE.bytes
    out = []
    for name in names:
        h = hashlib.sha1(prefix + name.encode(), usedforsecurity=False).hexdigest()
        out.append(f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}")
    return out


# --- SQL helpers (only our constants reach SQL text) -------------------------------------------

EN = "'\"en\"'"  # the JSON key of an English language map, as SQL text


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_lit(value: Any) -> str:
    """A SQL string literal holding the JSON of a constant."""
    import json

    return _lit(json.dumps(value, separators=(",", ":")))


def _case(column: str, mapping: dict[str, str], default: str) -> str:
    whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in sorted(mapping.items()))
    return f"CASE {column} {whens} ELSE {default} END"


def _opt(key: str, value_sql: str) -> str:
    """``,"key":<value>`` or '' when the value is NULL (|| propagates NULL)."""
    return f"coalesce({_lit(',' + _json_key(key))} || ({value_sql}), '')"


def _json_key(key: str) -> str:
    import json

    return json.dumps(key) + ":"


def _num(expr: str) -> str:
    """A number as ISO 8601 duration text: 4 -> '4', 4.5 -> '4.5'."""
    return (f"CASE WHEN {expr} = round({expr}) THEN CAST(CAST({expr} AS BIGINT) AS VARCHAR) "
            f"ELSE CAST(round({expr}, 2) AS VARCHAR) END")


def _list_json(list_sql: str, element: str) -> str:
    """JSON array of ``element`` (a lambda body over ``x``), NULL when the list is empty/NULL."""
    return (f"CASE WHEN len({list_sql}) > 0 THEN '[' || array_to_string("
            f"list_transform({list_sql}, lambda x: {element}), ',') || ']' END")


def _lang_map(lang: str, text_sql: str) -> str:
    return f"'{{' || {lang} || ':' || to_json({text_sql}) || '}}'"


def _cao(framework: str, framework_name: str, node_sql: str, extra: str = "''") -> str:
    """A ceterms:CredentialAlignmentObject; node_sql is a SQL string expression."""
    head = _json_lit({"@type": "ceterms:CredentialAlignmentObject", "ceterms:framework": framework,
                      "ceterms:frameworkName": {"en": framework_name}})[:-2]  # drop the closing }'
    return f"({head}' || ',\"ceterms:targetNode\":' || to_json({node_sql}) || {extra} || '}}')"


def _org(uuid_sql: str, name_sql: str, lang: str) -> str:
    return ("'{\"@type\":\"ceterms:CredentialOrganization\",\"ceterms:ctid\":\"ce-' || "
            f"{uuid_sql} || '\",\"ceterms:name\":' || {_lang_map(lang, name_sql)} || '}}'")


# --- the sources: credentials with their uuids, organizations, subject labels -------------------


def prepare(con: duckdb.DuckDBPyConnection) -> int:
    """Register the temp tables both documents read; return the number of credentials.

    ``_ld_ids``: each credential's uuid5 (computed once, in Python: DuckDB has no uuid5).
    ``_ld_orgs``: each organization named (lower-cased key, a spelling, uuid, CTDL node).
    ``_ld_platforms`` / ``_ld_isced``: the JSON of each distinct platform list and ISCED-F code
    list (few distinct lists), joined back to the credentials instead of looked up per row.
    """
    dim, subject = DIM_CREDENTIAL.qualified, DIM_SUBJECT.qualified
    ids = con.sql(f"SELECT credential_id FROM {dim}").to_arrow_table()
    cids = ids.column(0).to_pylist()
    con.register("_ld_ids_arrow", pa.table({"credential_id": cids, "uuid": uuid5_many(cids)}))
    con.execute("CREATE OR REPLACE TEMP TABLE _ld_ids AS SELECT * FROM _ld_ids_arrow").fetchall()
    con.unregister("_ld_ids_arrow")
    orgs = con.sql(
        f"SELECT lower(trim(n)) AS k, min(n) AS name FROM (SELECT awarding_body AS n FROM {dim} "
        f"UNION ALL SELECT unnest(platforms) FROM {dim}) WHERE n IS NOT NULL GROUP BY 1"
    ).to_arrow_table()
    keys = orgs.column(0).to_pylist()
    con.register("_ld_orgs_arrow", orgs.append_column("uuid", pa.array(uuid5_many("org:" + k for k in keys))))
    con.execute("CREATE OR REPLACE TEMP TABLE _ld_orgs AS SELECT k, name, uuid, "
                f"{_org('uuid', 'name', EN)} AS ctdl FROM _ld_orgs_arrow").fetchall()
    con.unregister("_ld_orgs_arrow")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ld_platforms AS "
        f"WITH d AS (SELECT DISTINCT platforms FROM {dim} WHERE len(platforms) > 0), "
        "u AS (SELECT platforms, unnest(platforms) AS name, unnest(generate_series(1, len(platforms))) AS pos FROM d) "
        "SELECT u.platforms, '[' || string_agg(o.ctdl, ',' ORDER BY u.pos) || ']' AS ctdl "
        "FROM u JOIN _ld_orgs AS o ON o.k = lower(trim(u.name)) GROUP BY u.platforms"
    ).fetchall()
    ctdl = _cao(ISCED_FRAMEWORK, "ISCED-F 2013", f"{_lit(ISCED_NODE)} || u.x",
                "',\"ceterms:codedNotation\":' || to_json(u.x) || coalesce(',\"ceterms:targetNodeName\":' || "
                + _lang_map(EN, "l.label") + ", '')")
    ob = ("'{\"type\":[\"Alignment\"],\"targetFramework\":\"ISCED-F 2013\",\"targetUrl\":' || "
          f"to_json({_lit(ISCED_NODE)} || u.x) || ',\"targetName\":' || to_json(coalesce(l.label, u.x)) || "
          "',\"targetCode\":' || to_json(u.x) || '}'")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ld_isced AS "
        f"WITH d AS (SELECT DISTINCT isced_codes FROM {dim} WHERE len(isced_codes) > 0), "
        "u AS (SELECT isced_codes, unnest(isced_codes) AS x, unnest(generate_series(1, len(isced_codes))) AS pos FROM d) "
        f"SELECT u.isced_codes, '[' || string_agg({ctdl}, ',' ORDER BY u.pos) || ']' AS ctdl, "
        f"string_agg({ob}, ',' ORDER BY u.pos) AS ob "
        f"FROM u LEFT JOIN {subject} AS l ON l.isced_code = u.x GROUP BY u.isced_codes"
    ).fetchall()
    return len(cids)


_LANG = "to_json(coalesce(c.language, 'en'))"


def _source(extra: str) -> str:
    """The credentials with their identifiers and precomputed fragments.

    No ORDER BY: sorting the wide rows cost ~20% of the document time at 1M, and document order
    is not part of the contract (the manifest sha256 is per snapshot anyway).
    """
    return (
        "WITH s AS (SELECT c.*, i.uuid AS _uuid, o.uuid AS _owner, p.ctdl AS _offered, "
        f"z.ctdl AS _isced_ctdl, z.ob AS _isced_ob, {extra} "
        f"FROM {DIM_CREDENTIAL.qualified} AS c JOIN _ld_ids AS i USING (credential_id) "
        "LEFT JOIN _ld_orgs AS o ON o.k = lower(trim(c.awarding_body)) "
        "LEFT JOIN _ld_platforms AS p ON p.platforms = c.platforms "
        "LEFT JOIN _ld_isced AS z ON z.isced_codes = c.isced_codes) "
    )


def ctdl_node_sql() -> str:
    """SELECT of one column ``doc``: the CTDL JSON-LD node of each credential (no @context)."""
    lo = "c.credential_type IS NULL"
    cls = (f"CASE WHEN {lo} THEN {_lit('ceterms:' + LEARNING_OPPORTUNITY_CLASS)} ELSE 'ceterms:' || "
           f"{_case('c.credential_type', CTDL_CLASS, _lit(FALLBACK_CLASS))} END")
    delivery = _cao("https://credreg.net/ctdl/terms/Delivery", "Delivery Type",
                    "'deliveryType:' || c.modality",
                    "',\"ceterms:targetNodeName\":' || " + _lang_map(EN, _case("c.modality", DELIVERY_LABELS, "NULL")))
    delivery = f"CASE WHEN c.modality IN ({', '.join(_lit(k) for k in DELIVERY_LABELS)}) THEN {delivery} END"
    audience = _cao("https://credreg.net/ctdl/terms/AudienceLevel", "Audience Level",
                    "'audLevel:' || c.audience_level")
    audience = (f"CASE WHEN c.audience_level IN ({', '.join(_lit(k) for k in sorted(AUDIENCE_LEVELS))}) "
                f"THEN '[' || {audience} || ']' END")
    status = _cao("https://credreg.net/ctdl/terms/CredentialStatus", "Credential Status", "'credentialStat:Active'")
    skills = _list_json("c.skills", _cao(ESCO_FRAMEWORK, "ESCO", "x"))
    price = "CASE WHEN c.is_free THEN 0 ELSE c.price_usd_min END"
    cost = (f"CASE WHEN {price} IS NOT NULL THEN '[{{\"@type\":\"ceterms:CostProfile\",\"ceterms:price\":' || "
            f"to_json({price}) || ',\"ceterms:currency\":\"USD\",\"ceterms:directCostType\":' || "
            + _cao("https://credreg.net/ctdl/terms/CostType", "Cost Type", "'costType:AggregateCost'")
            + " || '}]' END")
    wmin, wmax = "c.duration_weeks_min", "c.duration_weeks_max"
    hmin, hmax = "c.workload_hours_min", "c.workload_hours_max"
    effort = '\"ceterms:description\":{\"en\":\"Notional learner workload\"},'
    weeks = (f"CASE WHEN {wmin} IS NOT NULL AND ({wmax} IS NULL OR {wmax} = {wmin}) THEN "
             f"'\"ceterms:exactDuration\":\"P' || {_num(wmin)} || 'W\"' "
             f"WHEN {wmin} IS NOT NULL THEN '\"ceterms:minimumDuration\":\"P' || {_num(wmin)} || "
             f"'W\",\"ceterms:maximumDuration\":\"P' || {_num(wmax)} || 'W\"' "
             f"WHEN {wmax} IS NOT NULL THEN '\"ceterms:maximumDuration\":\"P' || {_num(wmax)} || 'W\"' "
             f"WHEN {hmin} IS NOT NULL AND ({hmax} IS NULL OR {hmax} = {hmin}) THEN "
             f"'{effort}\"ceterms:exactDuration\":\"PT' || {_num(hmin)} || 'H\"' "
             f"WHEN {hmin} IS NOT NULL THEN '{effort}"
             f"\"ceterms:minimumDuration\":\"PT' || {_num(hmin)} || 'H\",\"ceterms:maximumDuration\":\"PT' || {_num(hmax)} || 'H\"' END")
    duration = f"'[{{\"@type\":\"ceterms:DurationProfile\",' || ({weeks}) || '}}]'"
    owner = f"CASE WHEN c._owner IS NOT NULL THEN {_org('c._owner', 'c.awarding_body', EN)} END"
    requires = (f"'[{{\"@type\":\"ceterms:ConditionProfile\",\"ceterms:description\":{{\"en\":\"Competencies "
                f"required to earn the credential\"}},\"ceterms:targetCompetency\":' || {skills} || '}}]'")
    doc = " || ".join([
        "'{\"@type\":' || to_json(c.cls)",
        "',\"ceterms:ctid\":\"ce-' || c._uuid || '\"'",
        "',\"ceterms:name\":' || " + _lang_map(_LANG, "c.title"),
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
        "'}'",
    ])
    return _source(f"{cls} AS cls") + f"SELECT {doc} AS doc FROM s AS c"


def ob_achievement_sql() -> str:
    """SELECT of one column ``doc``: the OB 3.0 Achievement of each credential (JSON, one line)."""
    lo = "c.credential_type IS NULL"
    ach_type = (f"CASE WHEN {lo} THEN {_lit(OB_LEARNING_OPPORTUNITY_TYPE)} ELSE "
                f"{_case('c.credential_type', OB_TYPE, _lit('Achievement'))} END")
    tail = "coalesce(nullif(regexp_extract(x, '[^/]+$'), ''), x)"
    skills = ("CASE WHEN len(c.skills) > 0 THEN array_to_string(list_transform(c.skills, lambda x: "
              "'{\"type\":[\"Alignment\"],\"targetFramework\":\"ESCO\",\"targetUrl\":' || to_json(x) || "
              f"',\"targetName\":' || to_json({tail}) || ',\"targetCode\":' || to_json({tail}) || '}}'), ',') END")
    alignment = f"CASE WHEN c._isced_ob IS NOT NULL OR len(c.skills) > 0 THEN '[' || concat_ws(',', c._isced_ob, {skills}) || ']' END"
    narrative = ("'Complete ' || c.title || coalesce(', awarded by ' || c.awarding_body, '') || "
                 "coalesce(' (listed on ' || array_to_string(c.platforms, ', ') || ')', '') || '.' || "
                 "coalesce(' Duration: ' || " + _num("c.duration_weeks_min") + " || "
                 "coalesce('-' || CASE WHEN c.duration_weeks_max <> c.duration_weeks_min THEN "
                 + _num("c.duration_weeks_max") + " END, '') || ' weeks.', '') || "
                 "coalesce(' Workload: ' || " + _num("c.workload_hours_min") + " || "
                 "coalesce('-' || CASE WHEN c.workload_hours_max <> c.workload_hours_min THEN "
                 + _num("c.workload_hours_max") + " END, '') || ' hours.', '')")
    creator = ("CASE WHEN c._owner IS NOT NULL THEN '{\"id\":\"urn:uuid:' || "
               "c._owner || '\",\"type\":[\"Profile\"],\"name\":' || to_json(c.awarding_body) || '}' END")
    head = _json_lit({"@context": [VC_CONTEXT, OB_CONTEXT]})[:-2]  # '{"@context":[...]
    doc = " || ".join([
        head + ",\"id\":\"urn:uuid:' || c._uuid || '\",\"type\":[\"Achievement\"]'",
        "',\"achievementType\":' || to_json(c.ach_type)",
        "',\"name\":' || to_json(c.title)",
        "',\"description\":' || to_json(coalesce(nullif(c.description, ''), c.title))",
        "',\"criteria\":{\"narrative\":' || to_json(" + narrative + ") || '}'",
        _opt("alignment", alignment),
        _opt("creator", creator),
        _opt("inLanguage", "to_json(c.language)"),
        "'}'",
    ])
    return _source(f"{ach_type} AS ach_type") + f"SELECT {doc} AS doc FROM s AS c"


# --- writing ------------------------------------------------------------------------------------


def _buffer_bytes(array: pa.Array) -> memoryview:
    """The concatenated UTF-8 bytes of a string array without copying (no nulls expected)."""
    if array.type not in (pa.string(), pa.large_string()):
        array = array.cast(pa.large_string())
    width = 8 if array.type == pa.large_string() else 4
    offsets = memoryview(array.buffers()[1]).cast("q" if width == 8 else "i")
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    data = array.buffers()[2]
    return memoryview(data)[start:end] if data is not None else memoryview(b"")


def write_documents(con: duckdb.DuckDBPyConnection, select_doc: str, path: Path, *,
                    header: bytes = b"", separator: bytes = b"\n", footer: bytes = b"",
                    batch_rows: int = 50_000) -> int:
    """Stream ``select_doc`` (one non-null column of text) to ``path``; return the row count.

    Each document is followed by ``separator``; with a footer, the last separator is replaced
    by it (``header`` + docs joined by ",\\n" + footer makes one JSON array).
    """
    sep_sql = _lit(separator.decode())
    reader = con.sql(f"SELECT doc || {sep_sql} FROM ({select_doc})").to_arrow_reader(batch_rows)
    rows = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(header)
        for batch in reader:
            if batch.num_rows:
                fh.write(_buffer_bytes(batch.column(0)))
                rows += batch.num_rows
        if footer:
            if rows:
                fh.seek(fh.tell() - len(separator))
            fh.write(footer)
            fh.truncate()
    return rows


def export_ctdl(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[str, int]:
    """Write ``ctdl/credentials.jsonld``: one JSON-LD document, every credential in @graph."""
    path = folder / CTDL_FILE
    header = ('{"@context":"' + CTDL_CONTEXT + '","@graph":[\n').encode()
    rows = write_documents(con, ctdl_node_sql(), path, header=header, separator=b",\n", footer=b"\n]}\n")
    return CTDL_FILE, rows


def export_openbadges(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[str, int]:
    """Write ``openbadges/achievements.jsonl``: one OB 3.0 Achievement per line."""
    rows = write_documents(con, ob_achievement_sql(), folder / OB_FILE)
    return OB_FILE, rows
