"""The code location loads, validates, and has the asset graph DESIGN promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from scrapers.registry import load_sources

ROOT = Path(__file__).resolve().parents[2]


def asset_keys() -> set[str]:
    return {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}


def test_every_registry_source_has_raw_and_staging_assets() -> None:
    keys = asset_keys()
    for name in load_sources():
        assert f"raw/{name}" in keys
        assert f"staging/{name}" in keys


def test_cross_source_layers_exist() -> None:
    assert {"intermediate/offering_links", "intermediate/credentials", "marts/warehouse", "exports/parquet"} <= asset_keys()


def test_staging_checks_are_blocking() -> None:
    graph = defs.resolve_asset_graph()
    checks = {k.name: graph.get_check_spec(k) for k in graph.asset_check_keys
              if k.asset_key == dg.AssetKey(["staging", next(iter(load_sources()))])}
    assert checks["raw_reconciles"].blocking
    assert checks["unique_offering_id"].blocking


def test_daily_schedule_targets_the_full_job() -> None:
    schedule = defs.resolve_schedule_def("daily_full_refresh")
    assert schedule.job_name == "credcat_full_refresh"
    assert schedule.cron_schedule == "0 2 * * *"


def test_dagster_definitions_validate(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
