from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from warehouse.ddl import HISTORY_VIEWS, TABLES
from warehouse.load import RunInputs, build
from warehouse.publish import open_readonly, publish


def table_contents(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """Every warehouse table and history view, sorted, for before/after comparisons."""
    out = {}
    for table in (*TABLES, *(h.view for h in HISTORY_VIEWS)):
        keys = list(table.primary_key) or [c for c, t in table.columns.items() if not t.is_nested()]
        frame = con.sql(f"SELECT * FROM {table.qualified}").pl()
        out[f"{table.layer}.{table.name}"] = frame.sort(keys, nulls_last=True)
    return out


def published_contents(path: Path) -> dict[str, pl.DataFrame]:
    """``table_contents`` of a warehouse file, opened read-only and closed again."""
    con = open_readonly(path)
    try:
        return table_contents(con)
    finally:
        con.close()


def assert_same_contents(before: dict[str, pl.DataFrame], after: dict[str, pl.DataFrame]) -> None:
    assert before.keys() == after.keys()
    for name, frame in before.items():
        try:
            assert_frame_equal(after[name], frame)
        except AssertionError as exc:
            raise AssertionError(f"{name} changed: {exc}") from exc


class Warehouse:
    """A published warehouse in a tmp folder, loaded run by run (build + publish)."""

    def __init__(self, root: Path) -> None:
        self.work = root / "work.duckdb"
        self.published = root / "credcat.duckdb"

    def load(self, inputs: RunInputs) -> dict[str, Any]:
        stats = build(self.work, self.published, inputs)
        publish(self.work, self.published)
        return stats

    def query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        con = open_readonly(self.published)
        try:
            return con.sql(sql, params=params).pl()
        finally:
            con.close()

    def contents(self) -> dict[str, pl.DataFrame]:
        con = open_readonly(self.published)
        try:
            return table_contents(con)
        finally:
            con.close()


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path)


@pytest.fixture
def memory_con() -> Callable[[], duckdb.DuckDBPyConnection]:
    cons: list[duckdb.DuckDBPyConnection] = []

    def connect() -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        cons.append(con)
        return con

    yield connect
    for con in cons:
        con.close()
