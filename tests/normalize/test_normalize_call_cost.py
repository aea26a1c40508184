"""normalize() keeps the plan of small inputs for later calls (transforms.PLAN_CACHE) and reads
the taxonomy again when a data file changed (taxonomy.refresh): the frames must be exactly
those a freshly built plan gives, and a changed table must take effect."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

import normalize.transforms as transforms
from normalize import taxonomy as tx
from normalize.transforms import NormalizeResult, normalize, read_landing
from tests.normalize.normalize_factory import raw_frame, raw_row


def _same(a: NormalizeResult, b: NormalizeResult, what: object) -> None:
    assert a.offerings.schema == b.offerings.schema, what
    assert a.offerings.equals(b.offerings), what  # row order and nulls included
    assert a.rejects.schema == b.rejects.schema, what
    assert a.rejects.equals(b.rejects), what
    assert a.fx_rate_date == b.fx_rate_date, what


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[pl.DataFrame], dict[str, str]]:
    from scrapers.mirror.landing import write_landing
    from scrapers.registry import load_sources

    root = tmp_path_factory.mktemp("landing")
    write_landing(root, scale=0.2, workers=1)
    run_dirs = sorted((root / "landing").glob("*/bench"))
    assert len(run_dirs) >= 8
    frames = [read_landing([d])[0] for d in run_dirs]
    return frames, {n: s.provider_kind for n, s in load_sources().items()}


def test_warm_calls_equal_cold_and_uncached_calls(landing, monkeypatch):
    frames, kinds = landing
    assert transforms.PLAN_CACHE
    cold = []
    for raw in frames:
        assert 0 < raw.height < transforms.SMALL_INPUT_ROWS
        transforms.clear_plan_cache()
        first = normalize(raw.lazy(), provider_kinds=kinds)  # builds and keeps the plan
        assert len(transforms._PLANS) == 1
        kept = next(iter(transforms._PLANS.values()))
        again = normalize(raw.lazy(), provider_kinds=kinds)
        assert next(iter(transforms._PLANS.values())) is kept  # the kept plan was used
        assert kept.feed.frame is None  # the input is not held after the call
        _same(first, again, raw["source"][0])
        cold.append(first)
    # One kept plan fed every source in turn (another order): no input leaks into the next.
    for raw, expected in reversed(list(zip(frames, cold, strict=True))):
        _same(normalize(raw.lazy(), provider_kinds=kinds), expected, raw["source"][0])
    assert len(transforms._PLANS) == 1
    # The plan built for the call, as before plans were kept.
    monkeypatch.setattr(transforms, "PLAN_CACHE", False)
    for raw, expected in zip(frames, cold, strict=True):
        _same(normalize(raw.lazy(), provider_kinds=kinds), expected, raw["source"][0])
    # A slice and a filter of the lazy input are honoured.
    monkeypatch.undo()
    raw = frames[0]
    lazy = raw.lazy().filter(pl.col("source_key").is_not_null()).head(7)
    with_cache = normalize(lazy, provider_kinds=kinds)
    monkeypatch.setattr(transforms, "PLAN_CACHE", False)
    _same(with_cache, normalize(lazy, provider_kinds=kinds), "sliced")


def test_small_input_paths_equal_the_big_input_paths(landing, monkeypatch):
    # Small inputs gather the notes row by row and hash ids in Python; big ones gather the
    # notes in long form and hash in DuckDB. Same frames.
    frames, kinds = landing
    for raw in frames:
        small = normalize(raw.lazy(), provider_kinds=kinds)
        monkeypatch.setattr(transforms, "SMALL_INPUT_ROWS", 0)
        monkeypatch.setattr(transforms, "DUCKDB_HASH_MIN_VALUES", 0)
        _same(small, normalize(raw.lazy(), provider_kinds=kinds), raw["source"][0])
        monkeypatch.undo()


def test_keys_of_kept_plans(landing):
    frames, kinds = landing
    raw = frames[0]
    transforms.clear_plan_cache()
    normalize(raw.lazy(), provider_kinds=kinds)
    normalize(raw.lazy(), provider_kinds={})  # other provider kinds: another plan
    assert len(transforms._PLANS) == 2
    # Another raw schema (a column missing, conformed to null): another plan, same result
    # as an uncached call.
    narrow = raw.drop("description")
    out = normalize(narrow.lazy(), provider_kinds=kinds)
    assert len(transforms._PLANS) == 3
    transforms.PLAN_CACHE = False
    try:
        _same(out, normalize(narrow.lazy(), provider_kinds=kinds), "narrow")
    finally:
        transforms.PLAN_CACHE = True


@pytest.fixture
def data_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "data"
    shutil.copytree(tx.DATA_DIR, data)
    monkeypatch.setattr(tx, "DATA_DIR", data)
    tx.clear_caches()
    tx.refresh()  # the copy's identities recorded
    yield data
    monkeypatch.undo()
    tx.clear_caches()
    tx.refresh()


def test_a_changed_taxonomy_file_takes_effect(data_copy):
    frame = raw_frame(raw_row(status_raw="Shelved"), raw_row(source_key="course-2", status_raw="open"))
    generation = tx.generation()
    before = normalize(frame.lazy())
    assert before.offerings["status"].to_list() == ["active", "active"]
    assert "status: unmapped 'Shelved'" in before.offerings["mapping_notes"][0].to_list()
    assert normalize(frame.lazy()).offerings.equals(before.offerings)
    assert tx.generation() == generation  # nothing changed: the tables and the plan are kept

    lookup = data_copy / "lookup_status.csv"
    lookup.write_text(lookup.read_text(encoding="utf-8") + "shelved,retired,exact,\n", encoding="utf-8")
    after = normalize(frame.lazy())
    assert tx.generation() > generation
    assert after.offerings["status"].to_list() == ["retired", "active"]
    assert not [n for n in after.offerings["mapping_notes"][0] if n.startswith("status")]
    transforms.PLAN_CACHE = False
    try:
        _same(after, normalize(frame.lazy()), "uncached after the change")
    finally:
        transforms.PLAN_CACHE = True


def test_refresh_sees_added_and_removed_files(data_copy):
    generation = tx.refresh()
    assert tx.refresh() == generation
    (data_copy / "extra.csv").write_text("x\n")
    assert tx.refresh() > generation
    generation = tx.generation()
    (data_copy / "extra.csv").unlink()
    assert tx.refresh() > generation
