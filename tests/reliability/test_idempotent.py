"""Re-running any step gives the same result: landing, normalize, resolve, load, export.

The demo catalog of two sources is landed offline through the spiders' own callbacks
(``scrapers.mirror.landing``), then every step runs twice on the same input; the second run
must change nothing. (Crawling a run id again is covered in tests/scrapers/test_core.py:
the earlier attempt is set aside, so ``items.jsonl`` never holds two attempts.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from normalize.dedup import build_credentials, resolve
from normalize.transforms import normalize, read_landing
from scrapers.mirror.generate import generate
from scrapers.mirror.landing import land_source
from scrapers.registry import load_sources
from tests.reliability.synthetic import run_inputs
from warehouse.ddl import TABLES
from warehouse.export import export_snapshot
from warehouse.load import build
from warehouse.publish import open_readonly, publish

SOURCES = ["opencourse_api", "learnwave_feed"]


def _land(tmp: Path, run_id: str) -> list[Path]:
    site = tmp / "site"
    if not site.exists():
        generate(site, seed=7, scale=0.2, sources=SOURCES)
    for name in SOURCES:
        land_source(name, site, tmp / "landing", run_id)
    return [tmp / "landing" / name / run_id for name in SOURCES]


def _items(run_dirs: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for d in run_dirs:
        for line in (d / "items.jsonl").read_text(encoding="utf-8").split("\n"):
            if line.strip():
                row = json.loads(line)
                row.pop("fetched_at")  # the time of extraction, by definition not repeatable
                rows.append(row)
    return sorted(rows, key=lambda r: (r["source"], r["source_key"]))


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> tuple[list[Path], list[Path]]:
    tmp = tmp_path_factory.mktemp("idem")
    return _land(tmp / "a", "r1"), _land(tmp / "b", "r1")


def test_landing_the_same_catalog_twice_gives_the_same_records(landed):
    first, second = landed
    assert _items(first) == _items(second) and len(_items(first)) > 0


def test_normalizing_and_resolving_twice_gives_the_same_frames(landed):
    raw, invalid = read_landing(landed[0])
    kinds = {n: s.provider_kind for n, s in load_sources().items()}
    a, b = normalize(raw.lazy(), provider_kinds=kinds), normalize(raw.lazy(), provider_kinds=kinds)
    assert_frame_equal(a.offerings, b.offerings)
    assert_frame_equal(a.rejects, b.rejects)
    links_a, links_b = resolve(a.offerings), resolve(b.offerings)
    assert_frame_equal(links_a.sort("offering_id"), links_b.sort("offering_id"))
    assert_frame_equal(build_credentials(a.offerings, links_a).sort("credential_id"),
                       build_credentials(b.offerings, links_b).sort("credential_id"))


def _contents(path: Path) -> dict[str, pl.DataFrame]:
    con = open_readonly(path)
    try:
        out = {}
        for t in TABLES:
            frame = con.sql(f"select * from {t.qualified}").pl()  # noqa: S608 - names from the DDL
            keys = [c for c, d in frame.schema.items() if not d.is_nested()]
            out[f"{t.layer}.{t.name}"] = frame.sort(keys, nulls_last=True)
        return out
    finally:
        con.close()


def test_loading_the_same_run_twice_changes_nothing(tmp_path):
    published, work = tmp_path / "credcat.duckdb", tmp_path / "credcat.work.duckdb"
    inputs = run_inputs(500, 1)
    build(work, None, inputs)
    publish(work, published)
    once = _contents(published)
    stats = build(work, published, inputs)
    publish(work, published)
    twice = _contents(published)
    assert once.keys() == twice.keys()
    for name in once:
        assert_frame_equal(once[name], twice[name], check_row_order=False)
    assert stats["raw_inserted"] == 0


def test_exporting_the_same_warehouse_twice_gives_the_same_data_files(tmp_path):
    published, work = tmp_path / "credcat.duckdb", tmp_path / "credcat.work.duckdb"
    build(work, None, run_inputs(300, 1))
    publish(work, published)
    a = export_snapshot(published, tmp_path / "exports", "20270101T000000Z", previous=None, linked_data=False)
    b = export_snapshot(published, tmp_path / "exports", "20270101T000001Z", previous=None, linked_data=False)
    digests = [{f["path"]: f["sha256"] for f in m["files"]} for m in (a, b)]
    assert digests[0] == digests[1] and digests[0]
    with pytest.raises(FileExistsError):  # a snapshot is never overwritten
        export_snapshot(published, tmp_path / "exports", "20270101T000000Z")


def test_a_run_time_earlier_than_one_loaded_is_refused_not_applied(tmp_path):
    """Re-running an old run after a newer one must not rewind history."""
    published, work = tmp_path / "credcat.duckdb", tmp_path / "credcat.work.duckdb"
    build(work, None, run_inputs(200, 2))
    publish(work, published)
    before = _contents(published)
    try:
        build(work, published, run_inputs(200, 1))
        publish(work, published)
    except ValueError:
        pass  # refused: the clock check
    after = _contents(published)
    current = lambda c: c["marts.offering_versions"].filter(pl.col("is_current"))  # noqa: E731
    assert_frame_equal(current(before).drop("last_seen_at", "last_seen_run_id"),
                       current(after).drop("last_seen_at", "last_seen_run_id"), check_row_order=False)
    assert datetime(2027, 1, 3, tzinfo=UTC) <= max(after["marts.offering_versions"]["valid_from"].to_list())
