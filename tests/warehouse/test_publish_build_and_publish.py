"""build_and_publish / work_file: a run holds the publish lock from the copy of the published
file to the rename, writes its own work file, and leaves none behind."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.warehouse.frames import Crawl, make_run
from warehouse.publish import (
    PUBLISH_LOCK_TIMEOUT_S,
    PublishLockTimeout,
    _lock_timeout,
    build_and_publish,
    is_work_file_of,
    lock_path,
    open_readonly,
    publish,
    publish_lock,
    work_file,
)

T1 = datetime(2025, 3, 1, tzinfo=UTC)
T2 = T1 + timedelta(days=1)
T3 = T2 + timedelta(days=1)


def run(when: datetime, run_id: str, titles: dict[str, str]):  # type: ignore[no-untyped-def]
    return make_run(when, {"coursera": Crawl(run_id, titles=titles)})


def runs_in(published: Path) -> set[str]:
    con = open_readonly(published)
    try:
        return {r[0] for r in con.execute("SELECT run_id FROM marts.source_runs").fetchall()}
    finally:
        con.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".work.duckdb", ".work.duckdb.wal")))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_run_builds_its_own_work_file_and_leaves_none(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    seen: list[Path] = []

    def check(work: Path) -> bool:
        seen.append(work)
        assert work.exists() and work.parent == tmp_path and is_work_file_of(work, published)
        return True

    stats = build_and_publish(published, run(T1, "r1", {"c1": "Python"}), check=check)
    stats2 = build_and_publish(published, run(T2, "r2", {"c1": "Python", "c2": "SQL"}), check=check)
    assert stats["published"] and stats2["published"]
    assert seen[0] != seen[1]  # one work file per build
    assert runs_in(published) == {"r1", "r2"}  # the second built on top of the first
    assert leftovers(tmp_path) == []
    assert published.stat().st_mode & 0o777 != 0o600  # not mkstemp's private mode


def test_a_failing_check_publishes_nothing_and_removes_the_work_file(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    before = digest(published)
    stats = build_and_publish(published, run(T2, "r2", {"c2": "SQL"}), check=lambda work: False)
    assert stats["published"] is False
    assert digest(published) == before and runs_in(published) == {"r1"}
    assert leftovers(tmp_path) == []


def test_an_error_in_the_build_leaves_the_published_file_and_the_lock(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T2, "r2", {"c1": "Python"}))
    before = digest(published)
    with pytest.raises(ValueError, match="earlier"):  # a run older than one loaded: refused
        build_and_publish(published, run(T1, "r1", {"c1": "Python"}))

    def broken(work: Path) -> bool:
        raise RuntimeError("check crashed")

    with pytest.raises(RuntimeError, match="check crashed"):
        build_and_publish(published, run(T3, "r3", {"c1": "Python"}), check=broken)
    assert digest(published) == before and leftovers(tmp_path) == []
    with publish_lock(published):  # released: taken again at once
        pass


def test_the_build_waits_for_the_lock_not_only_the_rename(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    done = threading.Event()
    errors: list[BaseException] = []

    def second_run() -> None:
        try:
            build_and_publish(published, run(T2, "r2", {"c2": "SQL"}))
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
        done.set()

    with publish_lock(published):
        thread = threading.Thread(target=second_run)
        thread.start()
        time.sleep(0.5)
        assert not done.is_set()
        assert leftovers(tmp_path) == []  # not even its work file: it waits before copying
        # A run holding the lock publishes meanwhile; the waiting run must build on top of it.
    thread.join(timeout=60)
    assert done.is_set() and not errors, errors
    assert runs_in(published) == {"r1", "r2"}


def test_a_run_waiting_longer_than_the_timeout_fails_naming_the_holder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    before = hashlib.sha256(published.read_bytes()).hexdigest()
    monkeypatch.setenv("CREDCAT_PUBLISH_LOCK_TIMEOUT", "0.3")
    errors: list[BaseException] = []

    def second_run() -> None:
        try:
            build_and_publish(published, run(T2, "r2", {"c2": "SQL"}))
        except BaseException as exc:
            errors.append(exc)

    with publish_lock(published, timeout=0):
        assert lock_path(published).read_text().startswith(f"pid {os.getpid()} on ")
        started = time.monotonic()
        thread = threading.Thread(target=second_run)
        thread.start()
        thread.join(timeout=30)
        waited = time.monotonic() - started
    assert len(errors) == 1 and isinstance(errors[0], PublishLockTimeout), errors
    assert f"holder: pid {os.getpid()} on " in str(errors[0]) and "0.3 s" in str(errors[0])
    assert 0.3 <= waited < 10
    assert hashlib.sha256(published.read_bytes()).hexdigest() == before and leftovers(tmp_path) == []
    assert lock_path(published).read_text() == ""  # released: no holder named any more
    build_and_publish(published, run(T2, "r2", {"c2": "SQL"}))  # and free again
    assert runs_in(published) == {"r1", "r2"}


def test_lock_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDCAT_PUBLISH_LOCK_TIMEOUT", raising=False)
    assert _lock_timeout(None) == PUBLISH_LOCK_TIMEOUT_S and _lock_timeout(5) == 5
    for value, expected in (("none", None), ("NONE", None), ("0", 0.0), ("90", 90.0), (" ", PUBLISH_LOCK_TIMEOUT_S)):
        monkeypatch.setenv("CREDCAT_PUBLISH_LOCK_TIMEOUT", value)
        assert _lock_timeout(None) == expected
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("CREDCAT_PUBLISH_LOCK_TIMEOUT", bad)
        with pytest.raises(ValueError, match="CREDCAT_PUBLISH_LOCK_TIMEOUT"):
            _lock_timeout(None)


def test_concurrent_runs_in_threads_keep_every_run(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r0", {"c0": "Base"}))
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:  # distinct sources, so no run is older than another's for its source
            build_and_publish(published, make_run(T2, {f"src{i}": Crawl(f"r{i}", titles={f"k{i}": f"Title {i}"})}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(1, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert runs_in(published) == {"r0", "r1", "r2", "r3"}
    assert leftovers(tmp_path) == []


def test_work_files_of_killed_runs_are_removed_by_the_next_run_only(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    stale = [tmp_path / "credcat.k1ll3d_x.work.duckdb", tmp_path / "credcat.k1ll3d_x.work.duckdb.wal",
             tmp_path / "credcat.failures.work.duckdb"]  # the old record_failure's fixed name
    others = [tmp_path / "credcat.work.duckdb",  # the fixed name publish() callers may be building
              tmp_path / "other.abc.work.duckdb", tmp_path / "credcat.a.b.work.duckdb", tmp_path / "notes.txt"]
    for path in stale + others:
        path.write_bytes(b"x")
    seen: dict[str, list[str]] = {}

    def check(work: Path) -> bool:
        seen["during"] = leftovers(tmp_path)
        return True

    stats = build_and_publish(published, run(T2, "r2", {"c1": "Python"}), check=check)
    assert sorted(Path(p).name for p in stats["stale_work_files_removed"]) == sorted(p.name for p in stale)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in others)
    # The current run's work file was kept while it was built.
    assert [n for n in seen["during"] if n not in {p.name for p in others}] and runs_in(published) == {"r1", "r2"}


def test_work_file_publishes_under_the_lock_and_refuses_taking_it_twice(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    build_and_publish(published, run(T1, "r1", {"c1": "Python"}))
    with work_file(published) as work:
        assert not work.path.exists()  # reserved, created by the caller
        work.path.write_bytes(published.read_bytes())
        with pytest.raises(RuntimeError, match="already held"):  # would wait for itself forever
            publish(work.path, published)
        with pytest.raises(RuntimeError, match="already held"), publish_lock(published):
            pass
        work.publish()
        assert not work.path.exists()
    assert runs_in(published) == {"r1"} and leftovers(tmp_path) == [] and lock_path(published).exists()


def test_work_file_removes_an_unpublished_work_file(tmp_path: Path) -> None:
    published = tmp_path / "credcat.duckdb"
    with pytest.raises(KeyError), work_file(published) as work:
        work.path.write_bytes(b"half written")
        raise KeyError("the run failed")
    assert leftovers(tmp_path) == [] and not published.exists()
