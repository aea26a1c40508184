"""Runs at the same time, and readers during a publish.

- Two warehouse runs started at once are serialized by the publish lock, held from the copy
  of the published file to the rename (``warehouse.publish.build_and_publish``): both
  complete, and the published warehouse holds both (the second built on top of the first),
  never a mix; no work file is left. So is recording a failed run while a run builds.
- A reader holding the published file open (in this process or another) is never blocked
  or broken by a publish: it keeps its snapshot, and a new reader sees the new run, even
  while a publish holds the lock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from pipelines.failures import read_failures, record_failure
from pipelines.runtime import DataPaths
from tests.reliability.runs import (
    ROOT,
    child,
    finish,
    lock_is_free,
    run_here,
    state,
    wait_for,
    work_files,
)
from warehouse.publish import open_readonly


@pytest.mark.slow
def test_two_runs_started_at_once_are_serialized(published, tmp_path):
    _, before = state(published)
    first_marker, second_marker = tmp_path / "a", tmp_path / "b"
    # Both pause 3 s inside their build, so they overlap whatever the machine's speed.
    a = child(published, 2, stop="build", marker=first_marker, pause=3)
    wait_for(first_marker, a)
    b = child(published, 3, stop="build", marker=second_marker, pause=3)
    codes = []
    for proc in (a, b):
        proc.communicate(timeout=300)
        codes.append(proc.returncode)
    assert codes == [0, 0], "a run failed: they were not serialized"
    _, runs = state(published)
    new = runs - before
    assert {r for _, r in new} == {f"{s}-run{n}" for s in ("src_a", "src_b", "src_c") for n in (2, 3)}
    assert not work_files(published) and lock_is_free(published)


@pytest.mark.slow
def test_recording_a_failure_while_a_run_builds_waits_and_keeps_both(published, tmp_path):
    """record_failure copies the published file too: taken while a run builds, its copy would
    either drop that run or be overwritten by it. It waits for the lock instead."""
    _, before = state(published)
    marker = tmp_path / "building"
    proc = child(published, 2, stop="build", marker=marker, pause=3)
    wait_for(marker, proc)  # the run holds the lock, its build half done
    assert not lock_is_free(published)
    paths = DataPaths(published.parent.parent)
    assert paths.warehouse == published
    started = time.monotonic()
    assert record_failure(paths, {"run_id": "failed-1", "job_name": "credcat_full_refresh",
                                  "failed_steps": ["marts_build"], "message": "boom"})
    assert time.monotonic() - started > 1  # it waited for the run (paused 3 s) to publish
    finish(proc)
    _, runs = state(published)
    assert {r for _, r in runs - before} == {f"{s}-run2" for s in ("src_a", "src_b", "src_c")}
    assert [f["run_id"] for f in read_failures(published)] == ["failed-1"]
    assert not work_files(published) and lock_is_free(published)


READER = textwrap.dedent("""
    import json, sys, time
    from warehouse.publish import open_readonly
    con = open_readonly(sys.argv[1])
    first = con.execute("select count(*) from marts.source_runs").fetchone()[0]
    open(sys.argv[2], "w").write("open")
    time.sleep(float(sys.argv[3]))
    again = con.execute("select count(*) from marts.source_runs").fetchone()[0]
    rows = con.execute("select count(*) from marts.fct_offering").fetchone()[0]
    print(json.dumps({"first": first, "again": again, "rows": rows}))
""")


@pytest.mark.slow
def test_a_reader_in_another_process_is_neither_blocked_nor_broken_by_a_publish(published, tmp_path):
    counts, runs = state(published)
    ready = tmp_path / "reader-open"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(published), str(ready), "6"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    wait_for(ready, reader)
    started = time.monotonic()
    run_here(published, 2)  # publishes while the reader holds the file open
    assert time.monotonic() - started < 60  # not blocked by the reader
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err[-2000:]
    seen = json.loads(out)
    assert seen["first"] == seen["again"] == len(runs)  # its snapshot, unchanged and readable
    assert seen["rows"] == counts["marts.fct_offering"]
    assert state(published)[1] > runs  # a new reader sees the new run


@pytest.mark.slow
def test_readers_open_and_read_while_a_publish_holds_the_lock(published, tmp_path):
    old = open_readonly(published)  # held across the publish
    try:
        before = old.execute("select count(*) from marts.source_runs").fetchone()[0]
        marker = tmp_path / "renaming"
        proc = child(published, 2, stop="before_replace", marker=marker, pause=4)
        wait_for(marker, proc)  # the publisher holds the lock, its work file ready to rename
        started = time.monotonic()
        during = open_readonly(published)  # a new reader is not blocked by the lock
        try:
            assert during.execute("select count(*) from marts.source_runs").fetchone()[0] == before
        finally:
            during.close()
        assert time.monotonic() - started < 3
        finish(proc)
        assert old.execute("select count(*) from marts.source_runs").fetchone()[0] == before  # old snapshot
    finally:
        old.close()
    _, runs = state(published)
    assert len(runs) > before
