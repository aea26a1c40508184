"""CTDL JSON-LD and Open Badges 3.0 exports, checked against the reference schemas.

The reference copies live in ../shared/reference (outside the repository; CREDCAT_REFERENCE_DIR
overrides); the tests that need them skip when they are absent.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.warehouse.frames import Crawl, make_run, subjects_frame
from warehouse import jsonld
from warehouse.export import export_snapshot

T1 = datetime(2025, 3, 1, tzinfo=UTC)
REFERENCE = Path(os.environ.get("CREDCAT_REFERENCE_DIR", Path(__file__).resolve().parents[3] / "shared" / "reference"))


def reference(*parts: str) -> Path:
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference file {path} absent (../shared/reference is not checked out here)")
    return path


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from warehouse.load import build
    from warehouse.publish import publish

    root = tmp_path_factory.mktemp("jsonld")
    run = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python", "c2": "SQL", "c3": "Rust"}),
                        "edx": Crawl("e1", titles={"x1": "Python!"}, credential_of={"x1": "cred-c1"})},
                   subjects=subjects_frame())
    creds = run.credentials.with_columns(
        credential_type=pl.when(pl.col("credential_id") == "cred-c2").then(None)          # learning opportunity
        .when(pl.col("credential_id") == "cred-c3").then(pl.lit("CertificateOfParticipation"))
        .otherwise(pl.col("credential_type")),
        description=pl.when(pl.col("credential_id") == "cred-c3").then(None).otherwise(pl.col("description")),
        duration_weeks_max=pl.when(pl.col("credential_id") == "cred-c2").then(8.0).otherwise(pl.col("duration_weeks_max")),
    )
    run = dataclasses.replace(run, credentials=creds)
    build(root / "work.duckdb", root / "credcat.duckdb", run)
    publish(root / "work.duckdb", root / "credcat.duckdb")
    export_snapshot(root / "credcat.duckdb", root / "exports", "s1")
    return root / "exports" / "s1"


def ctdl_graph(snapshot: Path) -> list[dict[str, Any]]:
    document = json.loads((snapshot / jsonld.CTDL_FILE).read_text())
    assert document["@context"] == "https://credreg.net/ctdl/schema/context/json"
    return document["@graph"]


def achievements(snapshot: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (snapshot / jsonld.OB_FILE).read_text().splitlines()]


def walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


# --- CTDL ---------------------------------------------------------------------------------------


def test_every_ctdl_class_and_property_exists_with_its_domain(snapshot: Path) -> None:
    graph = json.loads(reference("ctdl", "ctdl.json").read_text())["@graph"]
    classes = {t["@id"] for t in graph if t["@type"] == "rdfs:Class"}
    domains = {t["@id"]: set(t.get("schema:domainIncludes", [])) for t in graph if t["@type"] == "rdf:Property"}
    nodes = ctdl_graph(snapshot)
    assert len(nodes) == 3
    seen_classes, seen_properties = set(), set()
    for node in walk(nodes):
        cls = node.get("@type")
        if cls is None:  # a language map
            assert all(re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)*", k) for k in node), node
            continue
        assert cls in classes, f"{cls} is not a CTDL class"
        seen_classes.add(cls)
        for key in node:
            if key.startswith("@"):
                continue
            assert key in domains, f"{key} is not a CTDL property"
            assert cls in domains[key], f"{key} is not a property of {cls}"
            seen_properties.add(key)
    assert {"ceterms:Certificate", "ceterms:LearningOpportunityProfile", "ceterms:CertificateOfCompletion",
            "ceterms:CredentialOrganization", "ceterms:CostProfile", "ceterms:DurationProfile",
            "ceterms:CredentialAlignmentObject", "ceterms:ConditionProfile"} <= seen_classes
    assert {"ceterms:ctid", "ceterms:name", "ceterms:description", "ceterms:ownedBy", "ceterms:offeredBy",
            "ceterms:estimatedCost", "ceterms:estimatedDuration", "ceterms:deliveryType",
            "ceterms:learningDeliveryType", "ceterms:inLanguage", "ceterms:instructionalProgramType",
            "ceterms:teaches", "ceterms:targetCompetency"} <= seen_properties


def test_ctdl_vocabulary_terms_exist(snapshot: Path) -> None:
    terms = set()
    for name in ("delivery-type", "cost-type", "audience-level", "credential-status"):
        terms |= {t["@id"] for t in json.loads(reference("ctdl", f"{name}.json").read_text())["@graph"]}
    for node in walk(ctdl_graph(snapshot)):
        target = node.get("ceterms:targetNode", "")
        if re.match(r"(deliveryType|costType|audLevel|credentialStat):", target):
            assert target in terms, target


def test_ctdl_content(snapshot: Path) -> None:
    nodes = {n["ceterms:name"]["en"]: n for n in ctdl_graph(snapshot)}
    python = nodes["Python"]
    assert python["@type"] == "ceterms:Certificate"  # ProfessionalCertificate: not in the 2022 CTDL
    assert python["ceterms:ctid"] == "ce-" + str(uuid.uuid5(jsonld.CTID_NAMESPACE, "cred-c1"))
    assert python["ceterms:ownedBy"][0]["ceterms:name"] == {"en": "Example University"}
    assert python["ceterms:ownedBy"][0]["ceterms:ctid"] == "ce-" + jsonld.organization_uuid("example university ")
    assert [o["ceterms:name"]["en"] for o in python["ceterms:offeredBy"]] == ["Coursera", "Edx"]
    cost = python["ceterms:estimatedCost"][0]
    assert (cost["ceterms:price"], cost["ceterms:currency"]) == (49.0, "USD")
    assert cost["ceterms:directCostType"]["ceterms:targetNode"] == "costType:AggregateCost"
    assert python["ceterms:estimatedDuration"] == [{"@type": "ceterms:DurationProfile", "ceterms:exactDuration": "P4W"}]
    assert python["ceterms:learningDeliveryType"][0]["ceterms:targetNode"] == "deliveryType:OnlineOnly"
    isced = python["ceterms:instructionalProgramType"][0]
    assert (isced["ceterms:codedNotation"], isced["ceterms:targetNodeName"]["en"]) == (
        "0613", "Software and applications development and analysis")
    skills = python["ceterms:requires"][0]["ceterms:targetCompetency"]
    assert skills[0]["ceterms:targetNode"] == "http://data.europa.eu/esco/skill/python"
    sql = nodes["SQL"]
    assert sql["@type"] == "ceterms:LearningOpportunityProfile"
    assert sql["ceterms:deliveryType"][0]["ceterms:targetNode"] == "deliveryType:OnlineOnly"
    assert sql["ceterms:teaches"][0]["ceterms:targetNode"] == "http://data.europa.eu/esco/skill/python"
    assert sql["ceterms:estimatedDuration"][0]["ceterms:maximumDuration"] == "P8W"
    rust = nodes["Rust"]
    assert rust["@type"] == "ceterms:CertificateOfCompletion" and "ceterms:description" not in rust


# --- Open Badges 3.0 ----------------------------------------------------------------------------


def _ob_model() -> str:
    return reference("openbadges", "common_credentials.lines").read_text()


def _block(model: str, header: str) -> list[str]:
    lines = model.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(header + " "))
    block = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        block.append(line.strip())
    return block


def _required(model: str, cls: str) -> set[str]:
    return {m.group(1) for line in _block(model, f"Class {cls}")
            if (m := re.match(r"Property (\S+) \S+ (1|1\.\.\*)\s", line + " "))}


def test_achievement_types_are_the_31_of_the_reference() -> None:
    values = {line.split()[1] for line in _block(_ob_model(), "Class AchievementType") if line.startswith("Property")}
    assert len(values) == 31
    assert values == set(jsonld.OB_ACHIEVEMENT_TYPES)
    assert set(jsonld.OB_TYPE.values()) <= values


def test_achievements_are_valid(snapshot: Path) -> None:
    model = _ob_model()
    types = {line.split()[1] for line in _block(model, "Class AchievementType") if line.startswith("Property")}
    required = _required(model, "Achievement")
    assert required == {"id", "type", "criteria", "description", "name"}
    context_name = reference("openbadges", "context-3.0.3.json").name
    docs = achievements(snapshot)
    assert len(docs) == 3
    for doc in docs:
        assert doc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
        assert doc["@context"][1].endswith("/" + context_name)
        assert required <= doc.keys()
        assert "Achievement" in doc["type"]
        assert doc["achievementType"] in types
        assert doc["criteria"]["narrative"]
        assert uuid.UUID(doc["id"].removeprefix("urn:uuid:")).version == 5
        for alignment in doc.get("alignment", []):
            assert _required(model, "Alignment") <= alignment.keys()
            assert alignment["type"] == ["Alignment"]
            assert alignment["targetFramework"] in {"ESCO", "ISCED-F 2013"}
        if "creator" in doc:
            assert _required(model, "Profile") <= doc["creator"].keys()
            assert "Profile" in doc["creator"]["type"]
    by_name = {d["name"]: d for d in docs}
    assert by_name["Python"]["achievementType"] == "Certificate"
    assert by_name["SQL"]["achievementType"] == "Course"
    assert by_name["Rust"]["achievementType"] == "CertificateOfCompletion"
    assert by_name["Rust"]["description"] == "Rust"  # required: falls back to the title
    frameworks = {(a["targetFramework"], a["targetCode"]) for a in by_name["Python"]["alignment"]}
    assert frameworks == {("ISCED-F 2013", "0613"), ("ESCO", "python")}


def test_ctdl_and_ob_share_the_identifier(snapshot: Path) -> None:
    ctids = {n["ceterms:name"]["en"]: n["ceterms:ctid"].removeprefix("ce-") for n in ctdl_graph(snapshot)}
    assert {d["name"]: d["id"].removeprefix("urn:uuid:") for d in achievements(snapshot)} == ctids


def test_uuid5_many_matches_the_standard_library() -> None:
    names = ["cred-1", "ünïcode", ""]
    assert jsonld.uuid5_many(names) == [str(uuid.uuid5(jsonld.CTID_NAMESPACE, n)) for n in names]


def test_uuid5_sql_matches_the_standard_library() -> None:
    import duckdb

    names = ["cred-1", "ünïcode", "", "x" * 300, "org:example university"]
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS n", [names])
    got = dict(con.execute(f"SELECT n, {jsonld.uuid5_sql('n')} FROM t").fetchall())
    con.close()
    assert got == {n: str(uuid.uuid5(jsonld.CTID_NAMESPACE, n)) for n in names}


@pytest.mark.parametrize("batch_rows", [1, 2, 20_000])
def test_one_pass_writes_the_bytes_of_the_single_documents(snapshot: Path, tmp_path: Path, batch_rows: int) -> None:
    import hashlib

    from warehouse.publish import open_readonly

    con = open_readonly(snapshot.parents[1] / "credcat.duckdb")
    try:
        jsonld.prepare(con)
        facts = jsonld.export_documents(con, tmp_path / "both", batch_rows=batch_rows)
        jsonld.export_ctdl(con, tmp_path / "single")
        jsonld.export_openbadges(con, tmp_path / "single")
    finally:
        con.close()
    assert [(f["path"], f["format"], f["rows"]) for f in facts] == [
        (jsonld.CTDL_FILE, "ctdl-jsonld", 3), (jsonld.OB_FILE, "openbadges-jsonl", 3)]
    for fact in facts:
        data = (tmp_path / "both" / fact["path"]).read_bytes()
        assert data == (tmp_path / "single" / fact["path"]).read_bytes() == (snapshot / fact["path"]).read_bytes()
        assert (fact["bytes"], fact["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    json.loads((tmp_path / "both" / jsonld.CTDL_FILE).read_text())


def test_empty_warehouse_writes_valid_documents(tmp_path: Path) -> None:
    import duckdb

    from warehouse.ddl import ensure_schema

    con = duckdb.connect(":memory:")
    ensure_schema(con)
    jsonld.prepare(con)
    jsonld.export_ctdl(con, tmp_path)
    jsonld.export_openbadges(con, tmp_path)
    facts = jsonld.export_documents(con, tmp_path / "both")
    con.close()
    assert json.loads((tmp_path / jsonld.CTDL_FILE).read_text())["@graph"] == []
    assert (tmp_path / jsonld.OB_FILE).read_text() == ""
    assert [f["rows"] for f in facts] == [0, 0]
    assert (tmp_path / "both" / jsonld.CTDL_FILE).read_bytes() == (tmp_path / jsonld.CTDL_FILE).read_bytes()


def test_narrative_of_a_credential_without_platform_or_durations(tmp_path: Path) -> None:
    import duckdb

    from warehouse.ddl import DIM_CREDENTIAL, ensure_schema

    con = duckdb.connect(":memory:")
    ensure_schema(con)
    con.execute(f"INSERT INTO {DIM_CREDENTIAL.qualified} (credential_id, title, platforms, skills, isced_codes) "
                "VALUES ('cred-1', 'Go', [], [], []), ('cred-2', 'Rust', [NULL], NULL, NULL)")
    jsonld.prepare(con)
    jsonld.export_documents(con, tmp_path)
    con.close()
    docs = {d["name"]: d for d in achievements(tmp_path)}
    assert docs["Go"]["criteria"]["narrative"] == docs["Rust"]["criteria"]["narrative"].replace("Rust", "Go") == "Complete Go."
    assert "alignment" not in docs["Go"] and "creator" not in docs["Go"]
    nodes = {n["ceterms:name"]["en"]: n for n in ctdl_graph(tmp_path)}
    assert nodes["Go"]["@type"] == "ceterms:LearningOpportunityProfile" and "ceterms:offeredBy" not in nodes["Go"]
