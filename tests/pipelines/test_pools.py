"""Pool limits on an instance with the project's dagster.yaml, and slots freed from dead runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.dagster_run import DagsterRun

from pipelines.pools import (
    CLI_HOST_TAG,
    CLI_PID_TAG,
    POOL_LIMITS,
    apply_pool_limits,
    free_stale_slots,
)

ROOT = Path(__file__).resolve().parents[2]


def instance_at(home: Path) -> dg.DagsterInstance:
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_limits_are_set_once_and_a_new_pool_defaults_to_one(tmp_path: Path) -> None:
    with instance_at(tmp_path) as instance:
        assert apply_pool_limits(instance) == POOL_LIMITS
        assert apply_pool_limits(instance) == POOL_LIMITS  # idempotent
        storage = instance.event_log_storage
        assert storage.get_concurrency_info("crawls").slot_count == 4
        assert storage.get_concurrency_info("duckdb_writer").slot_count == 1
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_slots_of_ended_and_killed_runs_are_freed_and_live_ones_kept(tmp_path: Path) -> None:
    host = socket.gethostname()
    with instance_at(tmp_path) as instance:
        apply_pool_limits(instance)
        runs = {
            "killed": DagsterRun(job_name="j", run_id="killed", status=dg.DagsterRunStatus.STARTED,
                                 tags={CLI_PID_TAG: str(dead_pid()), CLI_HOST_TAG: host}),
            "ended": DagsterRun(job_name="j", run_id="ended", status=dg.DagsterRunStatus.SUCCESS),
            "alive": DagsterRun(job_name="j", run_id="alive", status=dg.DagsterRunStatus.STARTED,
                                tags={CLI_PID_TAG: str(os.getpid()), CLI_HOST_TAG: host}),
        }
        storage = instance.event_log_storage
        for run in runs.values():
            instance.add_run(run)
            storage.claim_concurrency_slot("crawls", run.run_id, "raw__x")
        assert len(storage.get_concurrency_info("crawls").claimed_slots) == 3
        assert free_stale_slots(instance) == ["ended", "killed"]
        assert [s.run_id for s in storage.get_concurrency_info("crawls").claimed_slots] == ["alive"]
        assert instance.get_run_by_id("killed").status == dg.DagsterRunStatus.FAILURE
