"""Build-and-swap publication: readers never see half a run and never block a publish."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.warehouse.frames import Crawl, make_run
from warehouse.load import build
from warehouse.publish import lock_path, open_readonly, publish, publish_lock

T1 = datetime(2025, 3, 1, tzinfo=UTC)
T2 = T1 + timedelta(days=1)

# A reader in another process: opens the published file read-only, answers, waits, answers
# again on the same connection.
READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
count = "SELECT count(*) FROM marts.fct_offering"
print(con.execute(count).fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute(count).fetchone()[0], flush=True)
"""


def count_current(con) -> int:
    return con.execute("SELECT count(*) FROM marts.fct_offering").fetchone()[0]


def test_publish_is_atomic_and_reader_keeps_old_state(tmp_path: Path) -> None:
    work, published = tmp_path / "work.duckdb", tmp_path / "credcat.duckdb"
    build(work, published, make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}))
    publish(work, published)

    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    same_process_reader = open_readonly(published)
    try:
        assert reader.stdout.readline().strip() == "1"
        old_inode = published.stat().st_ino

        # The next run builds and publishes while both readers hold the old file open.
        build(work, published, make_run(T2, {"coursera": Crawl("r2", titles={"c1": "Python", "c2": "SQL"})}))
        publish(work, published)

        assert published.stat().st_ino != old_inode  # swapped by rename, not rewritten
        assert not work.exists()
        assert not published.with_name(published.name + ".wal").exists()
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "1"  # old connection: old state, whole
        assert count_current(same_process_reader) == 1
    finally:
        same_process_reader.close()
        reader.stdin.close()
        reader.wait(timeout=30)
    assert reader.returncode == 0, reader.stderr.read()

    fresh = open_readonly(published)  # a new reader, even in this process, sees the new run
    try:
        assert count_current(fresh) == 2
    finally:
        fresh.close()


def test_publishes_serialize_on_the_lock(tmp_path: Path) -> None:
    work, published = tmp_path / "work.duckdb", tmp_path / "credcat.duckdb"
    build(work, published, make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}))
    finished = threading.Event()

    def publish_in_background() -> None:
        publish(work, published)
        finished.set()

    with publish_lock(published):
        thread = threading.Thread(target=publish_in_background)
        thread.start()
        time.sleep(0.3)
        assert not finished.is_set()  # waits for the lock holder
        assert not published.exists()
    thread.join(timeout=30)
    assert finished.is_set() and published.exists()
    assert lock_path(published).exists()


def test_publish_refuses_a_missing_work_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        publish(tmp_path / "missing.duckdb", tmp_path / "credcat.duckdb")


def test_open_readonly_cannot_write(tmp_path: Path) -> None:
    work, published = tmp_path / "work.duckdb", tmp_path / "credcat.duckdb"
    build(work, published, make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Python"})}))
    publish(work, published)
    con = open_readonly(published)
    try:
        with pytest.raises(Exception, match="read-only"):
            con.execute("DELETE FROM marts.fct_offering")
    finally:
        con.close()
