"""The committed export contract (warehouse/contract/) against the live export."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from normalize.schema import SCHEMA_VERSION
from tests.warehouse.frames import Crawl, make_run, subjects_frame
from warehouse.contract import (
    check_contract,
    live_schemas,
    load_contract,
    schemas_from_export,
    write_contract,
)
from warehouse.export import ENTITIES, export_snapshot

T1 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from warehouse.load import build
    from warehouse.publish import publish

    root = tmp_path_factory.mktemp("contract")
    run = make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}, subjects=subjects_frame())
    build(root / "work.duckdb", root / "credcat.duckdb", run)
    publish(root / "work.duckdb", root / "credcat.duckdb")
    export_snapshot(root / "credcat.duckdb", root / "exports", "s1", linked_data=False)
    return schemas_from_export(root / "exports" / "s1")


def test_live_export_honours_the_committed_contract(exported: dict) -> None:
    committed = load_contract()
    assert set(committed) == {e.name for e in ENTITIES}
    assert check_contract(exported, committed, SCHEMA_VERSION) == []


def test_code_generated_schemas_equal_the_exported_ones(exported: dict) -> None:
    assert live_schemas() == exported


def test_removing_a_column_fails_the_check(exported: dict) -> None:
    live = copy.deepcopy(exported)
    del live["credentials"]["properties"]["title"]
    problems = check_contract(live, load_contract(), SCHEMA_VERSION)
    assert problems == ["credentials.title: column removed without a SCHEMA_VERSION bump"]


def test_changing_a_type_fails_the_check(exported: dict) -> None:
    live = copy.deepcopy(exported)
    live["offerings"]["properties"]["rating"]["x-parquet-type"] = "string"
    assert check_contract(live, load_contract(), SCHEMA_VERSION) == [
        "offerings.rating: type double -> string without a SCHEMA_VERSION bump"]


def test_adding_a_column_is_compatible(exported: dict) -> None:
    live = copy.deepcopy(exported)
    live["credentials"]["properties"]["new_column"] = {"type": "string", "x-parquet-type": "string"}
    assert check_contract(live, load_contract(), SCHEMA_VERSION) == []


def test_a_bump_requires_regenerating_the_contract(exported: dict, tmp_path: Path) -> None:
    live = copy.deepcopy(exported)
    del live["credentials"]["properties"]["title"]
    problems = check_contract(live, load_contract(), "99.0.0")
    assert problems and all("regenerate" in p for p in problems)
    for schema in live.values():
        schema["x-schema-version"] = "99.0.0"
    write_contract(tmp_path, live)
    assert check_contract(live, load_contract(tmp_path), "99.0.0") == []


def test_an_entity_without_contract_fails(exported: dict) -> None:
    committed = load_contract()
    del committed["skills"]
    assert check_contract(exported, committed, SCHEMA_VERSION) == [
        "skills: no committed contract: run `python -m warehouse.contract --write`"]
