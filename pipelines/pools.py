"""Concurrency pools: one DuckDB writer, a bounded number of crawls at once.

Assets name their pool (``pool="crawls"`` on every raw/<source>, ``pool="duckdb_writer"`` on
the marts build and on the failure recorder). Dagster enforces pool limits across every run of
an instance; a pool without a limit of its own gets ``concurrency.pools.default_limit`` of
dagster.yaml, which is 1 here, so the writer is single even on an instance nobody configured.
The crawl limit is set per instance: ``credcat ui``/``run``/``demo`` set it (idempotent), or
``dagster instance concurrency set crawls 4`` by hand.
"""

from __future__ import annotations

from typing import Any

CRAWLS = "crawls"
DUCKDB_WRITER = "duckdb_writer"

POOL_LIMITS: dict[str, int] = {
    DUCKDB_WRITER: 1,  # DuckDB has one writer; the build also copies the published file
    CRAWLS: 4,         # crawls at once, whatever the executor (politeness and memory)
}


def apply_pool_limits(instance: Any, limits: dict[str, int] | None = None) -> dict[str, int]:
    """Set the pool limits on a Dagster instance where they differ; return what is set."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    applied: dict[str, int] = {}
    for pool, limit in (limits or POOL_LIMITS).items():
        info = storage.get_concurrency_info(pool)
        if info.slot_count != limit:
            storage.set_concurrency_slots(pool, limit)
        applied[pool] = limit
    return applied


# Tags of runs the credcat CLI executes in its own process: which process, on which host.
CLI_PID_TAG = "credcat/cli_pid"
CLI_HOST_TAG = "credcat/cli_host"


def _process_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_stale_slots(instance: Any) -> list[str]:
    """Free pool slots held by runs that can no longer release them; return their run ids.

    A run that ended (success, failure, cancel) or vanished frees its slots itself, unless its
    process was killed. So: slots of ended or unknown runs, and of in-process CLI runs whose
    process on this host is gone (those runs are also marked failed). Without this, a `make
    demo` interrupted by kill -9 would leave the duckdb_writer slot taken and the next run
    waiting for it forever.
    """
    import socket

    from dagster import DagsterRunStatus

    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    ended = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    freed: list[str] = []
    for run_id in sorted(storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        stale = run is None or run.status in ended
        if run is not None and not stale and run.tags.get(CLI_HOST_TAG) == socket.gethostname():
            pid = run.tags.get(CLI_PID_TAG, "")
            if pid.isdigit() and not _process_alive(int(pid)):
                stale = True
                instance.report_run_failed(run, "the credcat process running it is gone (killed)")
        if stale:
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed
