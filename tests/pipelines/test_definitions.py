"""The code location loads, validates, and has the asset graph DESIGN promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.build import build_definitions
from pipelines.definitions import defs
from pipelines.defs.sources import freshness_policy, raw_key, staging_key
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


def test_every_source_has_a_schedule_on_its_cadence_and_a_job_through_to_exports() -> None:
    graph = defs.resolve_asset_graph()
    for name, source in load_sources().items():
        schedule = defs.resolve_schedule_def(f"crawl_{name}")
        assert schedule.cron_schedule == source.cadence and schedule.execution_timezone == "UTC"
        job = defs.resolve_job_def(f"source_{name}")
        assert schedule.job_name == job.name
        keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
        assert {f"raw/{name}", f"staging/{name}", "marts/fct_offering", "marts/warehouse", "exports/parquet"} <= keys
        assert not any(k.startswith("raw/") and k != f"raw/{name}" for k in keys)
        assert graph.get(raw_key(name)).freshness_policy is not None


def test_freshness_follows_the_cadence() -> None:
    from datetime import timedelta

    daily = freshness_policy(load_sources()["opencourse_api"])  # 0 2 * * *
    weekly = freshness_policy(load_sources()["northfield_university"])  # 0 4 * * 1
    assert daily.warn_window.to_timedelta() == timedelta(days=1, hours=2, minutes=24)
    assert daily.fail_window.to_timedelta() == timedelta(days=2, hours=2, minutes=24)
    assert weekly.fail_window.to_timedelta() == timedelta(days=14, hours=16, minutes=48)


def test_an_invalid_cadence_is_refused_with_the_source_name(tmp_path: Path) -> None:
    registry = tmp_path / "sources.toml"
    registry.write_text('[sources.bad_one]\nspider = "file_drop"\nkind = "file_drop"\nformat = "x"\n'
                        'provider_kind = "vendor"\nlocation = ["x.csv"]\ncadence = "every day"\n')
    with pytest.raises(ValueError, match="bad_one: cadence 'every day'"):
        build_definitions(registry)


def test_groups_owners_kinds_and_tags() -> None:
    graph = defs.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {"raw", "staging", "intermediate", "marts", "exports"}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners == ["team:credcat-data"], key
        assert node.kinds, key
        assert node.description, key
        assert node.tags.get("layer") == key.path[0], key
    staging = graph.get(staging_key("coursehub_csv"))
    assert staging.tags["source"] == "coursehub_csv" and staging.tags["provider_kind"] == "aggregator"


def test_checks_blocking_and_warning() -> None:
    graph = defs.resolve_asset_graph()
    specs = {(k.asset_key.to_user_string(), k.name): graph.get_check_spec(k) for k in graph.asset_check_keys}
    name = next(iter(load_sources()))
    blocking = {("staging/" + name, c) for c in ("schema_matches", "raw_reconciles", "unique_offering_id")} | {
        ("intermediate/offering_links", "one_link_per_offering"), ("intermediate/credentials", "unique_credential_id"),
        ("marts/warehouse", "marts_consistent")}
    warning = {("staging/" + name, c) for c in ("offerings_not_shrunk", "coverage_stable", "has_offerings")} | {
        ("raw/" + name, "crawl_complete"), ("intermediate/offering_links", "overlap_stable")}
    assert all(specs[k].blocking for k in blocking)
    assert not any(specs[k].blocking for k in warning)


def test_pools_and_crawl_retries() -> None:
    graph = defs.resolve_asset_graph()
    raw = graph.assets_def_for_key(raw_key("opencourse_api"))
    assert raw.op.pool == "crawls"
    policy = raw.op.retry_policy
    assert policy.max_retries == 2 and policy.backoff == dg.Backoff.EXPONENTIAL and policy.jitter == dg.Jitter.PLUS_MINUS
    assert graph.assets_def_for_key(dg.AssetKey(["marts", "warehouse"])).op.pool == "duckdb_writer"
    assert defs.resolve_job_def("record_run_failure").graph.node_named("record_failure_op").definition.pool == "duckdb_writer"


def test_marts_carry_column_schemas_and_lineage() -> None:
    from warehouse import ddl

    graph = defs.resolve_asset_graph()
    for table in (t for t in ddl.TABLES if t.layer == "marts"):
        node = graph.get(dg.AssetKey(["marts", table.name]))
        schema = node.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == table.columns.names()
        assert all(c.description for c in schema.columns)
        lineage = node.metadata["dagster/column_lineage"].deps_by_column
        upstream = {d.asset_key for deps in lineage.values() for d in deps}
        assert upstream and upstream <= set(node.parent_keys), table.name


def test_sensors_inbox_and_failures() -> None:
    inbox = defs.resolve_sensor_def("inbox_coursehub_csv")
    assert inbox.job_name == "source_coursehub_csv"
    assert inbox.default_status == dg.DefaultSensorStatus.RUNNING
    failures = defs.resolve_sensor_def("record_run_failures")
    assert failures.default_status == dg.DefaultSensorStatus.RUNNING
    assert {s.name for s in defs.sensors} == {"inbox_coursehub_csv", "record_run_failures"}


def test_dagster_definitions_validate(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
