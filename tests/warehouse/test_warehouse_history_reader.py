"""A reader in another process keeps working through a publish, on the old state, until it
reopens the file; then it sees the new run's history."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.warehouse.frames import Crawl, make_run
from tests.warehouse.history_frames import T1, T2, with_price
from warehouse.load import build
from warehouse.publish import publish

# Commands on stdin: "query" answers on the open connection, "reopen" reconnects first.
READER = """
import sys, duckdb
path = sys.argv[1]
con = duckdb.connect(path, read_only=True)
sql = ("SELECT count(*), max(price_usd) FILTER (WHERE is_current) "
       "FROM marts.price_history")
for line in sys.stdin:
    if line.strip() == "reopen":
        con.close()
        con = duckdb.connect(path, read_only=True)
    n, price = con.execute(sql).fetchall()[0]
    print(f"{n} {price}", flush=True)
"""


def _ask(reader: subprocess.Popen, command: str) -> str:
    reader.stdin.write(command + "\n")
    reader.stdin.flush()
    return reader.stdout.readline().strip()


def test_reader_process_sees_old_state_until_it_reopens(tmp_path: Path) -> None:
    work, published = tmp_path / "work.duckdb", tmp_path / "credcat.duckdb"
    titles = {"c1": "Python"}
    build(work, published, make_run(T1, {"coursera": Crawl("r1", titles=titles)}))
    publish(work, published)

    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert _ask(reader, "query") == "1 49.0"
        # The next run is built while the reader holds the published file open ...
        build(work, published, with_price(make_run(T2, {"coursera": Crawl("r2", titles=titles)}), "c1", 79.0))
        assert _ask(reader, "query") == "1 49.0"
        # ... and published (renamed over it): the open connection keeps the old state, whole.
        publish(work, published)
        assert _ask(reader, "query") == "1 49.0"
        assert _ask(reader, "reopen") == "2 79.0"  # reopened: the new run, with its history
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert reader.returncode == 0, reader.stderr.read()
