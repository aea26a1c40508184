"""kill -9 of a warehouse run while it builds and while it publishes.

A child process (tests/reliability/warehouse_child.py) builds and publishes a run on top of a
published warehouse and is SIGKILLed at a controlled point (a test-only hook in the child),
or at a moment when its work file is being written. Afterwards the published warehouse must
open read-only and hold exactly the old state (or, once the rename is done, exactly the new
one: never a mix), no WAL may be left beside it, the lock must be free, and the next run
must complete normally on top of it, removing the killed run's work file.
"""

from __future__ import annotations

import time

import pytest

from tests.reliability.runs import (
    a_work_file_is_written,
    child,
    digest,
    kill9,
    lock_is_free,
    run_here,
    state,
    wait_for,
    work_files,
)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["build", "checkpoint", "before_replace", "after_replace"])
def test_kill_9_leaves_the_published_warehouse_whole_and_the_next_run_completes(published, tmp_path, point):
    before_counts, before_runs = state(published)
    before_digest = digest(published)
    marker = tmp_path / "reached"
    proc = child(published, 2, stop=point, marker=marker)
    wait_for(marker, proc)
    kill9(proc)

    counts, runs = state(published)  # opens read-only and answers
    if point == "after_replace":  # the rename is atomic: the whole new run, nothing of the old file
        assert len(runs) > len(before_runs) and before_runs < runs
        assert counts != before_counts
    else:
        assert (counts, runs) == (before_counts, before_runs)
        assert digest(published) == before_digest  # not one byte of the published file changed
    assert not published.with_name(published.name + ".wal").exists()
    assert lock_is_free(published)  # a killed holder's flock is released by the kernel
    assert bool(work_files(published)) == (point != "after_replace")  # the killed run's, until the next run

    run_here(published, 3)  # the next run completes normally on top of it
    _, after = state(published)
    assert runs < after  # history kept, the new run added
    assert not work_files(published)  # its own published, the killed run's removed


@pytest.mark.slow
def test_kill_9_at_an_unplanned_moment_of_the_build(published, tmp_path):
    """No hook: killed while its work file is being written (a larger load, so there is time)."""
    before = state(published)
    proc = child(published, 2, rows=30_000)
    deadline = time.monotonic() + 300
    while not a_work_file_is_written(published) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed (a very fast machine)")
    kill9(proc)
    assert state(published) == before
    run_here(published, 3)
    assert state(published)[1] > before[1]
    assert not work_files(published)
