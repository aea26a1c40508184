"""Export contracts: one JSON Schema per exported entity, committed beside this file.

Every export snapshot writes ``<entity>.schema.json`` beside its data; the same document,
generated from the code rather than from data, is committed here as
``warehouse/contract/<entity>.schema.json`` together with the ``SCHEMA_VERSION`` it belongs to
(``x-schema-version``). Consumers pin against these files.

Rule: removing a column or changing its type breaks consumers, so it needs a SCHEMA_VERSION
bump (normalize/schema.py) and a deliberate regeneration of the contract. Adding a column is
compatible and needs neither (regenerate to document it). ``check_contract`` applies the rule;
tests/warehouse/test_warehouse_contract.py runs it against a live export.

Regenerate deliberately after a change (then commit the diff):

    .venv/bin/python -m warehouse.contract --write    # rewrite the committed contract
    .venv/bin/python -m warehouse.contract            # check only; exit 1 on a breaking change
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

CONTRACT_DIR = Path(__file__).resolve().parent
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _json_type(dtype: pa.DataType) -> dict[str, Any]:
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return {"type": "string"}
    if pa.types.is_boolean(dtype):
        return {"type": "boolean"}
    if pa.types.is_integer(dtype):
        return {"type": "integer"}
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return {"type": "number"}
    if pa.types.is_timestamp(dtype):
        return {"type": "string", "format": "date-time"}
    if pa.types.is_date(dtype):
        return {"type": "string", "format": "date"}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_list_view(dtype):
        return {"type": "array", "items": _nullable(_json_type(dtype.value_type))}
    if pa.types.is_struct(dtype):
        return {"type": "object", "properties": {f.name: _nullable(_json_type(f.type)) for f in dtype}}
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return {"type": "string", "contentEncoding": "base64"}
    return {}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return schema


def entity_json_schema(entity: str, arrow_schema: pa.Schema, *, schema_version: str,
                       description: str = "", descriptions: Mapping[str, str] | None = None,
                       required: tuple[str, ...] = (), partition_by: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON Schema of one row of an entity, with the Parquet type of each column.

    ``x-parquet-type`` is the Arrow type Parquet readers see; the contract check compares it.
    """
    descriptions = descriptions or {}
    properties = {}
    for f in arrow_schema:
        prop = _json_type(f.type) if f.name in required else _nullable(_json_type(f.type))
        if descriptions.get(f.name):
            prop["description"] = descriptions[f.name]
        prop["x-parquet-type"] = str(f.type)
        properties[f.name] = prop
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"https://credcat/contract/{entity}.schema.json",
        "title": entity,
        "description": description,
        "type": "object",
        "properties": properties,
        "required": [c for c in arrow_schema.names if c in required],
        "x-schema-version": schema_version,
        "x-columns": list(arrow_schema.names),
        "x-partition-by": list(partition_by),
    }


def columns_of(schema: Mapping[str, Any]) -> dict[str, str]:
    """column -> Parquet type, in order, from an entity JSON Schema."""
    return {name: prop.get("x-parquet-type", "") for name, prop in schema["properties"].items()}


def check_contract(live: Mapping[str, Mapping[str, Any]], committed: Mapping[str, Mapping[str, Any]],
                   schema_version: str) -> list[str]:
    """Breaking differences between live entity schemas and the committed contract.

    A removed column, a changed type or a removed entity is a problem unless the committed
    contract belongs to an older SCHEMA_VERSION than ``schema_version`` (the change was
    announced by a bump). A contract whose version differs from ``schema_version`` is a problem
    too (regenerate it), as is an entity without a contract. Added columns are fine.
    """
    problems: list[str] = []
    for entity, contract in sorted(committed.items()):
        version = contract.get("x-schema-version")
        if version != schema_version:
            problems.append(f"{entity}: contract is for schema {version}, code is {schema_version}: "
                            "regenerate with `python -m warehouse.contract --write`")
            continue  # a bump announces the break; only the regeneration is missing
        if entity not in live:
            problems.append(f"{entity}: entity removed without a SCHEMA_VERSION bump")
            continue
        have = columns_of(live[entity])
        for column, dtype in columns_of(contract).items():
            if column not in have:
                problems.append(f"{entity}.{column}: column removed without a SCHEMA_VERSION bump")
            elif have[column] != dtype:
                problems.append(f"{entity}.{column}: type {dtype} -> {have[column]} without a SCHEMA_VERSION bump")
    for entity in sorted(set(live) - set(committed)):
        problems.append(f"{entity}: no committed contract: run `python -m warehouse.contract --write`")
    return problems


def load_contract(directory: Path = CONTRACT_DIR) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(Path(directory).glob("*.schema.json")):
        schema = json.loads(path.read_text())
        out[schema.get("title") or path.name.removesuffix(".schema.json")] = schema
    return out


def schemas_from_export(folder: Path) -> dict[str, dict[str, Any]]:
    """The entity JSON Schemas an export snapshot wrote beside its data (manifest order)."""
    manifest = json.loads((Path(folder) / "manifest.json").read_text())
    return {name: json.loads((Path(folder) / entry["schema"]).read_text())
            for name, entry in manifest["entities"].items() if entry.get("contract", True)}


def live_schemas() -> dict[str, dict[str, Any]]:
    """Entity schemas generated from the code: an empty in-memory warehouse, exported."""
    import duckdb

    from warehouse.ddl import ensure_schema
    from warehouse.export import entity_schemas

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        ensure_schema(con)
        with tempfile.TemporaryDirectory() as scratch:
            return entity_schemas(con, Path(scratch))
    finally:
        con.close()


def write_contract(directory: Path = CONTRACT_DIR, schemas: Mapping[str, Mapping[str, Any]] | None = None) -> list[Path]:
    """Write one ``<entity>.schema.json`` per entity (the deliberate regeneration)."""
    schemas = live_schemas() if schemas is None else schemas
    directory = Path(directory)
    written = []
    for stale in directory.glob("*.schema.json"):
        if stale.name.removesuffix(".schema.json") not in schemas:
            stale.unlink()
    for entity, schema in schemas.items():
        path = directory / f"{entity}.schema.json"
        path.write_text(json.dumps(schema, indent=2) + "\n")
        written.append(path)
    return written


