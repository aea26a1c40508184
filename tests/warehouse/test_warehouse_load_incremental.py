"""The incremental load's shortcuts give what the plain way gives.

- ``build`` copies the published file on a second thread while the inputs are read (a
  function may be given for them) and checked: bad inputs, a failing read or a copy DuckDB
  cannot open leave no work file, a failing copy fails the build, and the result equals a
  build from frames. A build
  that commits its raw contents first (``EARLY_COMMIT_RAW_CONTENTS``) gives the same warehouse,
  and its work file is removed when the load fails after that commit.
- ``_upsert_changed`` compares only the keys whose row hash differs: its changes equal the
  plain column-by-column comparison of every row (the former code, kept here as reference).
- Provenance that every crawl refreshes (last_seen_at, last_seen_run_id) and the URL, which
  is written only where it changed, end up as they did when all three were set together.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import random
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.warehouse.conftest import assert_same_contents, published_contents
from tests.warehouse.frames import Crawl, make_run
from warehouse import ddl
from warehouse import load as load_module
from warehouse.ddl import INT_CREDENTIALS, INT_OFFERING_LINKS, quote_identifier
from warehouse.load import RunInputs, build
from warehouse.publish import build_and_publish, publish

T1 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
T2 = T1 + timedelta(days=1)
T3 = T2 + timedelta(days=1)


def run(when: datetime, run_id: str, titles: dict[str, str]) -> RunInputs:
    return make_run(when, {"coursera": Crawl(run_id, titles=titles)})


# --- the copy on a second thread ----------------------------------------------------------------


def published_and_a_copy(tmp_path: Path) -> tuple[Path, Path, RunInputs]:
    """A published warehouse after one run, a byte copy of it, and a second run (c1 changed)."""
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python", "c2": "SQL"}))
    reference = tmp_path / "reference.duckdb"
    reference.write_bytes(published.read_bytes())
    return published, reference, run(T2, "r2", {"c1": "Python 2", "c2": "SQL"})


def test_inputs_read_while_the_published_file_is_copied(tmp_path: Path) -> None:
    published, reference, second = published_and_a_copy(tmp_path)
    threads: list[str] = []

    def read() -> RunInputs:
        threads.append(threading.current_thread().name)
        return second

    stats = build_and_publish(published, read)
    assert threads == [threading.main_thread().name]  # called once, on the caller's thread
    assert stats["published"] and stats["overlap"]["copy_s"] >= 0 and stats["overlap"]["copy_wait_s"] >= 0

    # The same run given as frames, on the same published file: the same warehouse.
    work = tmp_path / "reference.work.duckdb"
    build(work, reference, second)
    publish(work, reference)
    assert_same_contents(published_contents(reference), published_contents(published))
    assert published_contents(published)["marts.offering_versions"].height == 3  # c1 changed: a second version


def test_the_copy_is_flushed_to_disk_on_its_thread_while_the_load_runs(tmp_path: Path, monkeypatch) -> None:
    # The copy's bytes are fsynced on the copy's thread, so the commit's own fsync does not wait
    # for GBs of page cache; a flush that fails only loses that head start.
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    synced: list[tuple[str, str]] = []
    real_fsync = load_module.os.fsync

    def fsync(fd: int) -> None:
        synced.append((threading.current_thread().name, load_module.os.readlink(f"/proc/self/fd/{fd}")))
        if len(synced) == 1:
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(load_module.os, "fsync", fsync)
    monkeypatch.setattr(load_module, "clone_or_copy", copy_bytes)  # a clone would need no flush
    work = tmp_path / "first.work.duckdb"
    stats = build(work, published, run(T2, "r2", {"c1": "Python 2"}))
    stats2 = build(tmp_path / "second.work.duckdb", published, run(T2, "r2", {"c1": "Python 2"}))
    monkeypatch.undo()
    assert [name for name, _ in synced] == ["credcat-work-file-copy"] * 2
    assert [Path(path).name for _, path in synced] == ["first.work.duckdb", "second.work.duckdb"]
    assert stats["overlap"]["flush_s"] >= 0 and stats2["overlap"]["flush_s"] >= 0
    publish(work, published)
    assert published_contents(published)["marts.offering_versions"].height == 2


def copy_bytes(source: Path, target: Path) -> str:
    shutil.copyfile(source, target)
    return "copied"


def fake_clone(dst: int, request: int, src: int) -> None:
    """FICLONE as a file system with reflinks answers it: ``dst`` gets ``src``'s bytes."""
    assert request == load_module._FICLONE
    os.lseek(src, 0, os.SEEK_SET)
    while chunk := os.read(src, 1 << 16):
        os.write(dst, chunk)


def test_clone_or_copy_gives_the_same_bytes_and_replaces_a_longer_target(tmp_path: Path) -> None:
    source, target = tmp_path / "source.bin", tmp_path / "target.bin"
    data = random.Random(5).randbytes(300_000)
    source.write_bytes(data)
    target.write_bytes(b"x" * 1_000_000)  # left by an earlier run: truncated, not overwritten
    assert load_module.clone_or_copy(source, target) in {"cloned", "copied"}  # which: the file system's
    assert target.read_bytes() == data


@pytest.mark.parametrize("refusal", [errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY])
def test_a_refused_clone_is_a_copy(tmp_path: Path, monkeypatch, refusal: int) -> None:
    source, target = tmp_path / "source.bin", tmp_path / "target.bin"
    source.write_bytes(b"history" * 1000)
    target.write_bytes(b"y" * 20_000)

    def refuse(dst: int, request: int, src: int) -> None:
        os.write(dst, b"partial")  # whatever a refused call left is replaced
        raise OSError(refusal, os.strerror(refusal))

    monkeypatch.setattr(load_module.fcntl, "ioctl", refuse)
    assert load_module.clone_or_copy(source, target) == "copied"
    assert target.read_bytes() == source.read_bytes()


def test_a_failing_clone_is_not_hidden_by_a_copy(tmp_path: Path, monkeypatch) -> None:
    # An I/O error is not "this file system cannot clone": the build fails on it, and leaves
    # no work file.
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    before = published.read_bytes()

    def fail(dst: int, request: int, src: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(load_module.fcntl, "ioctl", fail)
    monkeypatch.setattr(load_module.shutil, "copyfile", lambda *a, **k: pytest.fail("copied after EIO"))
    work = tmp_path / "run.work.duckdb"
    with pytest.raises(OSError, match="Input/output error"):
        build(work, published, run(T2, "r2", {"c1": "Python 2"}))
    assert not work.exists() and published.read_bytes() == before


def test_a_cloned_work_file_is_built_like_a_copied_one_and_not_flushed(tmp_path: Path, monkeypatch) -> None:
    published, reference, second = published_and_a_copy(tmp_path)
    flushed: list[int] = []
    monkeypatch.setattr(load_module.fcntl, "ioctl", fake_clone)
    monkeypatch.setattr(load_module, "fsync_file", lambda path: flushed.append(1))
    stats = build_and_publish(published, second)
    monkeypatch.undo()
    assert stats["overlap"]["copy"] == "cloned" and stats["overlap"]["flush_s"] == 0 and not flushed

    monkeypatch.setattr(load_module, "clone_or_copy", copy_bytes)
    work = tmp_path / "reference.work.duckdb"
    assert build(work, reference, second)["overlap"]["copy"] == "copied"
    publish(work, reference)
    assert_same_contents(published_contents(reference), published_contents(published))
    assert build(tmp_path / "new.work.duckdb", None, run(T1, "r1", {"c1": "Python"}))["overlap"]["copy"] == "empty"


def test_a_failing_read_leaves_no_work_file_and_the_published_file_unchanged(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    before = published.read_bytes()

    def broken() -> RunInputs:
        raise OSError("staging folder vanished")

    with pytest.raises(OSError, match="vanished"):
        build_and_publish(published, broken)
    work = tmp_path / "work.duckdb"
    with pytest.raises(OSError, match="vanished"):
        build(work, published, broken)
    assert not work.exists() and not work.with_name(work.name + ".wal").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credcat.duckdb", "credcat.duckdb.lock"]
    assert published.read_bytes() == before


@pytest.mark.parametrize("published_first", [False, True])
def test_a_build_committing_its_raw_contents_first_equals_one_transaction(
        tmp_path: Path, monkeypatch, published_first: bool) -> None:
    # A build that stores many new raw contents commits them before the rest (DuckDB holds a
    # transaction's appends in memory until its commit): the warehouse is the same.
    first, second = run(T1, "r1", {"c1": "Python", "c2": "SQL"}), run(T2, "r2", {"c1": "Python 2", "c3": "R"})
    built: dict[int, Path] = {}
    for threshold in (1, 10**9):
        monkeypatch.setattr(load_module, "EARLY_COMMIT_RAW_CONTENTS", threshold)
        published = tmp_path / str(threshold) / "credcat.duckdb"
        published.parent.mkdir()
        if published_first:
            build_and_publish(published, first)
        stats = build_and_publish(published, second)
        assert stats.get("committed_early", False) is (threshold == 1)
        built[threshold] = published
    assert_same_contents(published_contents(built[10**9]), published_contents(built[1]))


def test_a_load_failing_after_its_early_commit_leaves_no_work_file(tmp_path: Path, monkeypatch) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    before = published.read_bytes()
    committed: list[bool] = []
    real_commit = load_module._commit_early

    def commit(con: duckdb.DuckDBPyConnection) -> None:
        real_commit(con)
        committed.append(True)

    def broken(*args, **kwargs):
        raise RuntimeError("offerings unreadable (simulated)")

    monkeypatch.setattr(load_module, "EARLY_COMMIT_RAW_CONTENTS", 1)
    monkeypatch.setattr(load_module, "_commit_early", commit)
    monkeypatch.setattr(load_module, "_offerings_whole", broken)
    work = tmp_path / "work.duckdb"
    with pytest.raises(RuntimeError, match="simulated"):
        build(work, published, run(T2, "r2", {"c1": "Python 2"}))
    assert committed == [True]  # the raw contents were committed to the work file, which is gone
    assert not work.exists() and not work.with_name(work.name + ".wal").exists()
    with pytest.raises(RuntimeError, match="simulated"):
        build_and_publish(published, run(T2, "r2", {"c1": "Python 2"}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credcat.duckdb", "credcat.duckdb.lock"]
    assert published.read_bytes() == before


def test_bad_inputs_from_a_function_remove_the_copy(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    good = run(T2, "r2", {"c1": "Python"})
    bad = dataclasses.replace(good, offerings=good.offerings.with_columns(offering_id=pl.lit(None, pl.String)))
    work = tmp_path / "work.duckdb"
    with pytest.raises(ValueError, match="null offering_id"):
        build(work, published, lambda: bad)
    assert not work.exists()


def test_a_failing_copy_fails_the_build(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    published.with_name(published.name + ".wal").write_bytes(b"written in place")
    work = tmp_path / "work.duckdb"
    with pytest.raises(RuntimeError, match="WAL"):
        build(work, published, run(T2, "r2", {"c1": "Python"}))
    assert not work.exists()


def test_a_copy_duckdb_cannot_open_is_removed(tmp_path: Path, monkeypatch) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    before = published.read_bytes()

    def refuse(path: Path) -> duckdb.DuckDBPyConnection:
        assert path.exists()  # the copy was made
        raise duckdb.IOException("cannot open the work file (simulated)")

    monkeypatch.setattr(load_module, "connect_writable", refuse)
    work = tmp_path / "work.duckdb"
    with pytest.raises(duckdb.IOException, match="simulated"):
        build(work, published, run(T2, "r2", {"c1": "Python"}))
    assert not work.exists() and not work.with_name(work.name + ".wal").exists()
    assert published.read_bytes() == before


def test_work_and_published_path_must_differ_before_anything_is_read(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    called = []
    with pytest.raises(ValueError, match="must differ"):
        build(published, published, lambda: called.append(1) or run(T2, "r2", {"c1": "Python"}))
    assert called == [] and published.exists()


# --- _upsert_changed: candidates by row hash ----------------------------------------------------


def _reference_changed(con: duckdb.DuckDBPyConnection, table: ddl.Table, frame: str, key: str,
                       stamp_column: str) -> set[str]:
    """The keys the former ``_upsert_changed`` replaced: every input row joined to the stored
    one and compared column by column."""
    value_cols = [c for c in table.columns.names() if c != stamp_column]
    k = quote_identifier(key)
    differs = " OR ".join(f"i.{quote_identifier(c)} IS DISTINCT FROM t.{quote_identifier(c)}"
                          for c in value_cols if c != key)
    source = load_module._input_select(table, frame, pl.Schema({c: table.columns[c] for c in value_cols}))
    rows = con.execute(f"SELECT i.{k} FROM ({source}) AS i LEFT JOIN {table.qualified} AS t ON t.{k} = i.{k} "
                       f"WHERE t.{k} IS NULL OR {differs}").fetchall()
    return {r[0] for r in rows}


def _variant(row: dict, rng: random.Random) -> dict:
    """The row with one value changed the way a re-resolve changes values (or not at all)."""
    row = dict(row)
    kind = rng.choice(["same", "same", "title", "null_title", "platforms", "empty_list", "price", "neg_zero",
                       "nan", "json", "json_spacing", "bad_json", "eqf", "free"])
    if kind == "title":
        row["title"] = (row["title"] or "") + " (2nd ed.)"
    elif kind == "null_title":
        row["title"] = None
    elif kind == "platforms":
        row["platforms"] = [*row["platforms"], "edX"]
    elif kind == "empty_list":
        row["isced_codes"] = []
    elif kind == "price":
        row["price_usd_min"] = (row["price_usd_min"] or 0.0) + 1.0
    elif kind == "neg_zero":
        row["price_usd_max"] = -0.0 if row["price_usd_max"] == 0.0 else row["price_usd_max"]
    elif kind == "nan":
        row["ects"] = math.nan
    elif kind == "json":
        row["field_sources"] = '{"title": "other"}'
    elif kind == "json_spacing":
        row["field_sources"] = (row["field_sources"] or "{}").replace(": ", ":")
    elif kind == "bad_json":
        row["field_sources"] = "{not json"
    elif kind == "eqf":
        row["eqf_level"] = None if row["eqf_level"] is not None else 6
    elif kind == "free":
        row["is_free"] = not row["is_free"]
    return row


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_upsert_changes_exactly_the_rows_a_full_comparison_finds(seed: int, memory_con) -> None:
    rng = random.Random(seed)
    titles = {f"c{i}": f"Course {i}" for i in range(60)}
    first = make_run(T1, {"coursera": Crawl("r1", titles=titles)})
    con = memory_con()
    load_module.load(con, first)
    # Run after run, each credential changed at random (or not); a few new, a few stored ones missing.
    credentials = first.credentials
    for when in (T2, T3, T3 + timedelta(days=1)):
        rows = [_variant(r, rng) for r in credentials.iter_rows(named=True)]
        rows = rows[2:] + [{**rows[0], "credential_id": f"new-{when:%d}-{n}"} for n in range(3)]
        credentials = pl.DataFrame(rows, schema=credentials.schema)
        frames = {"_in_credentials": load_module._conform(credentials, load_module.CREDENTIAL_SCHEMA, "c")}
        with load_module._registered(con, frames):
            expected = _reference_changed(con, INT_CREDENTIALS, "_in_credentials", "credential_id", "updated_at")
            con.begin()
            n = load_module._upsert_changed(con, INT_CREDENTIALS, "_in_credentials", "credential_id",
                                            "updated_at", when)
            con.commit()
        stamped = {r[0] for r in con.execute(
            f"SELECT credential_id FROM {INT_CREDENTIALS.qualified} WHERE updated_at = ?", [when]).fetchall()}
        assert stamped == expected and n == len(expected)
        assert expected  # the run changed something: the comparison was put to work
        # What is stored now is the input (JSON as stored), with nothing else restamped.
        stored = con.execute(f"SELECT count(*) FROM {INT_CREDENTIALS.qualified}").fetchall()[0][0]
        assert stored == 60 + 3 * (1 + [T2, T3, T3 + timedelta(days=1)].index(when))
        with load_module._registered(con, frames):
            assert _reference_changed(con, INT_CREDENTIALS, "_in_credentials", "credential_id", "updated_at") == set()


def test_reloading_the_same_links_and_credentials_stamps_nothing(warehouse) -> None:
    first = run(T1, "r1", {"c1": "Python", "c2": "SQL"})
    bad_json = first.credentials.with_columns(field_sources=pl.lit("{not json"))
    first = dataclasses.replace(first, credentials=bad_json)
    warehouse.load(first)
    stats = warehouse.load(dataclasses.replace(run(T2, "r2", {"c1": "Python", "c2": "SQL"}), credentials=bad_json))
    assert stats["credentials_changed"] == 0 and stats["links_changed"] == 0
    stamps = warehouse.query(f"SELECT DISTINCT updated_at FROM {INT_CREDENTIALS.qualified}")["updated_at"].to_list()
    assert stamps == [T1]
    links = warehouse.query(f"SELECT DISTINCT linked_at FROM {INT_OFFERING_LINKS.qualified}")["linked_at"].to_list()
    assert links == [T1]


# --- provenance and URL ---------------------------------------------------------------------------


def test_url_and_provenance_refreshed_in_versions_and_fct_offering(warehouse) -> None:
    warehouse.load(run(T1, "r1", {"c1": "Python", "c2": "SQL", "c3": "Go"}))
    second = run(T2, "r2", {"c1": "Python", "c2": "SQL", "c3": "Go"})
    moved = second.offerings.with_columns(
        url=pl.when(pl.col("source_key") == "c1").then(pl.lit("https://moved.example/c1")).otherwise(pl.col("url")))
    # c3: an older sighting than the stored one (a late re-delivery) refreshes nothing.
    late = moved.with_columns(
        fetched_at=pl.when(pl.col("source_key") == "c3").then(pl.lit(T1 - timedelta(days=1)))
        .otherwise(pl.col("fetched_at")),
        url=pl.when(pl.col("source_key") == "c3").then(pl.lit("https://stale.example/c3")).otherwise(pl.col("url")))
    stats = warehouse.load(dataclasses.replace(second, offerings=late))
    assert stats["versions_opened"] == 0
    for table in ("marts.offering_versions", "marts.fct_offering"):
        rows = {r[0]: r[1:] for r in warehouse.query(
            f"SELECT source_key, url, last_seen_run_id, last_seen_at FROM {table} "
            + ("WHERE is_current" if table == "marts.offering_versions" else "")).iter_rows()}
        fetched = T2 + timedelta(minutes=1)
        assert rows["c1"] == ("https://moved.example/c1", "r2", fetched), table
        assert rows["c2"][1:] == ("r2", fetched) and rows["c2"][0].endswith("/c2"), table
        assert rows["c3"] == (rows["c3"][0], "r1", T1 + timedelta(minutes=1)), table
        assert not rows["c3"][0].startswith("https://stale"), table


# --- record_seq -----------------------------------------------------------------------------------


@pytest.mark.parametrize("repeats", [0, 1, 5])
def test_record_seq_numbers_repeated_keys_as_the_grouped_numbering_does(repeats: int) -> None:
    titles = {f"c{i}": f"Course {i}" for i in range(20)}
    inputs = make_run(T1, {"coursera": Crawl("r1", titles=titles), "edx": Crawl("r1", titles=titles)})
    raw = inputs.raw
    if repeats:  # a source that repeats keys within its run (normalize rejects the repeats)
        raw = pl.concat([raw, raw.filter(pl.col("source") == "edx").head(3)] * 1 + [raw.head(1)] * repeats)
    frames = load_module._prepare(dataclasses.replace(inputs, raw=raw))
    expected = frames.raw.with_columns(
        record_seq=pl.int_range(pl.len(), dtype=pl.Int32).over("source", "run_id", "source_key"))
    assert frames.raw["record_seq"].dtype == pl.Int32
    assert frames.raw.equals(expected)
    assert frames.raw["record_seq"].max() == (repeats if repeats else 0)
