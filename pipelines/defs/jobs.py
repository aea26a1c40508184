"""Jobs and schedules: the full refresh, and one job and schedule per source (its cadence).

Jobs name no executor: they run on the Definitions' executor, the in-process one on one machine
(~0.1 s per asset against ~1.4 s per step for multiprocess; crawls are subprocesses anyway),
the Celery or Kubernetes one in a deployment that runs sources in parallel (docs/deploy.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from pipelines.defs.sources import raw_key
from scrapers.registry import Source

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

FULL_REFRESH = "credcat_full_refresh"
# Runs that write the warehouse carry this tag: a deployment limits them to one at a time
# (run queue tag_concurrency_limits), the pools then bound the steps inside.
WRITES_TAG = {"credcat/writes": "warehouse"}


def source_job_name(name: str) -> str:
    return f"source_{name}"


def full_refresh_job() -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        FULL_REFRESH,
        selection=dg.AssetSelection.all(),
        tags=WRITES_TAG,
        description="Crawl every source, normalize, resolve, build and publish the warehouse, export.",
    )


def source_job(source: Source) -> UnresolvedAssetJobDefinition:
    """One source through to the marts and exports; the other sources' last good staging is reused."""
    selection = dg.AssetSelection.assets(raw_key(source.name)).downstream().required_multi_asset_neighbors()
    return dg.define_asset_job(
        source_job_name(source.name),
        selection=selection,
        tags={**WRITES_TAG, "source": source.name},
        description=f"Crawl {source.name} and carry it through: staging, entity resolution, marts, exports.",
    )


def source_schedule(source: Source, job: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"crawl_{source.name}", job=job, cron_schedule=source.cadence, execution_timezone="UTC",
        description=f"{source.name} on its cadence ({source.cadence}, UTC) from the source registry.",
    )


def daily_full_refresh(job: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="daily_full_refresh", job=job, cron_schedule="0 2 * * *", execution_timezone="UTC",
        description="Every source at once, daily (the alternative to the per-source schedules: turn on one or the other).",
    )
