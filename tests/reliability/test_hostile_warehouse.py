"""Hostile records all the way into the warehouse and the exports.

The zoo of hostile values (tests/reliability/hostile.py) is normalized, resolved, loaded,
published and exported. The load must succeed; values that look like SQL are stored as text
(values reach SQL only as parameters); the cleaned text columns carry no markup in the marts
or any exported file. The raw layer (``raw.*``) and the rejects' ``payload`` keep the source's
record verbatim by design (provenance, escaped as JSON text); they are not checked for markup.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from normalize.transforms import normalize
from scrapers.reliability import load_run
from tests.reliability.hostile import markup_in, script_url, strings
from tests.reliability.test_hostile_normalize import CLEANED, frame, zoo_rows
from warehouse.export import export_snapshot, verify_manifest
from warehouse.publish import open_readonly

SQLISH = "'; DROP TABLE marts.fct_offering; --"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("hostile_wh")
    raw = frame(zoo_rows())
    result = normalize(raw.lazy())
    stats = {"run_id": "r1", "started_at": "2027-03-01T12:00:00+00:00", "finished_at": "2027-03-01T12:01:00+00:00",
             "complete": True, "pages": 1, "items": raw.height}
    staged = {"hostile": {"raw": raw, "offerings": result.offerings, "rejects": result.rejects, "stats": stats}}
    published = root / "warehouse" / "credcat.duckdb"
    load_run(staged, None, published, datetime(2027, 3, 1, 13, tzinfo=UTC))
    manifest = export_snapshot(published, root / "exports", "20270301T130000Z")
    return {"published": published, "exports": root / "exports" / "20270301T130000Z", "manifest": manifest,
            "n": result.offerings.height}


def _marts(published: Path) -> dict[str, pl.DataFrame]:
    con = open_readonly(published)
    try:
        names = [r[0] for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' and database_name = current_database()"
        ).fetchall()]
        return {n: con.sql(f'select * from marts."{n}"').pl() for n in names}  # noqa: S608 - catalog names
    finally:
        con.close()


def _exported_strings(folder: Path) -> list[tuple[str, str, str]]:
    """(file, column or key, string) for every string in every exported data file."""
    out: list[tuple[str, str, str]] = []
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.suffix == ".parquet":
            data = pl.read_parquet(path)
            for col, dtype in data.schema.items():
                if dtype == pl.String or dtype == pl.List(pl.String):
                    out += [(rel, col, s) for v in data[col].to_list() for s in strings(v)]
        elif path.suffix in (".jsonl", ".jsonld") and "schema" not in path.name:
            for line in path.read_text(encoding="utf-8").split("\n") if path.suffix == ".jsonl" else [path.read_text()]:
                if line.strip():
                    out += [(rel, "json", s) for s in strings(json.loads(line))]
    return out


def test_hostile_records_load_publish_and_export(built):
    assert built["n"] > 0
    assert verify_manifest(built["exports"]) == []
    marts = _marts(built["published"])
    assert marts["fct_offering"].height == built["n"]


def test_sql_in_values_is_stored_as_text(built):
    marts = _marts(built["published"])
    titles = marts["fct_offering"]["title"].to_list()
    assert any(SQLISH in t for t in titles)  # stored, not executed
    assert marts["fct_offering"].height == built["n"]


CLEANED_EXPORT_KEYS = {"title", "description", "awarding_body", "platform", "prerequisites", "assessment_type",
                       "quality_assurance", "learning_outcomes", "name"}


def test_cleaned_text_has_no_markup_in_the_marts_or_the_exports(built):
    marts = _marts(built["published"])
    bad = [(t, c, m) for t, f in marts.items() for c in CLEANED if c in f.columns
           for v in f[c].to_list() for s in strings(v) if (m := markup_in(s))]
    bad += [(f, c, m) for f, c, s in _exported_strings(built["exports"]) if c in CLEANED and (m := markup_in(s))]
    assert bad == []


def test_no_markup_anywhere_in_the_marts_or_the_exports(built):
    marts = _marts(built["published"])
    bad = [(t, c, m) for t, f in marts.items() for c, d in f.schema.items()
           if d == pl.String or d == pl.List(pl.String)
           for v in f[c].to_list() for s in strings(v) if (m := markup_in(s))]
    bad += [(f, c, m) for f, c, s in _exported_strings(built["exports"]) if (m := markup_in(s))]
    bad += [(t, "url", u) for t, f in marts.items() if "url" in f.columns
            for u in f["url"].drop_nulls().to_list() if script_url(u)]
    assert bad == [], bad[:10]
