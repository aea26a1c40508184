"""Every ```sql block of docs/analysts.md runs on a warehouse built from test frames and
returns rows, so the analysts' guide stays true to the model."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from tests.warehouse.conftest import Warehouse
from tests.warehouse.history_frames import load_history
from warehouse.views import VIEWS

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)
BLOCKS = SQL_BLOCK.findall(DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    warehouse = Warehouse(tmp_path_factory.mktemp("analysts"))
    load_history(warehouse)
    return warehouse.published


def test_the_doc_has_ten_example_queries_and_one_per_view() -> None:
    text = DOC.read_text(encoding="utf-8")
    examples = text.split("## Ten example queries", 1)[1]
    assert len(SQL_BLOCK.findall(examples)) == 10
    for view in VIEWS:
        assert any(f"marts.{view.name}" in block for block in BLOCKS), view.name
    assert "```mermaid\nerDiagram" in text
    for entity in ("fct_offering", "dim_credential", "dim_provider", "dim_subject",
                   "bridge_offering_skill", "bridge_offering_subject", "offering_versions",
                   "price_history", "source_runs", "rejects", "unmapped_values"):
        assert f"    {entity} {{" in text, entity


@pytest.mark.parametrize("sql", BLOCKS, ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_every_sql_block_runs_and_returns_rows(published: Path, sql: str) -> None:
    # As an analyst opens it: plain duckdb, read-only, default catalog = the file.
    con = duckdb.connect(str(published), read_only=True)
    try:
        rows = con.execute(sql).fetchall()
    finally:
        con.close()
    assert rows, f"no rows from:\n{sql}"
