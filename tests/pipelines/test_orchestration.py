"""Orchestration on a one-source registry of local files, with real crawls (subprocesses):
retries, blocking checks, the inbox sensor, drift warnings, and failed runs recorded."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.defs import sources as source_defs
from pipelines.failures import TABLE, read_failures
from pipelines.resources import CredcatSettings
from tests.pipelines.conftest import QUIET, LocalSource, make_local_source, write_drop

pytestmark = pytest.mark.slow


def run(defs: dg.Definitions, instance: dg.DagsterInstance, select: list[str] | None = None,
        job: str = "credcat_full_refresh", run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    job_def = defs.resolve_job_def(job)
    if select:
        job_def = job_def.get_subset(asset_selection={dg.AssetKey.from_user_string(k) for k in select})
    return job_def.execute_in_process(instance=instance, raise_on_error=False,
                                      run_config={**QUIET, **(run_config or {})})


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.event_specific_data.materialization.asset_key.to_user_string()
            for e in result.get_asset_materialization_events()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    for e in result.get_asset_materialization_events():
        mat = e.event_specific_data.materialization
        if mat.asset_key.to_user_string() == key:
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    raise KeyError(key)


def test_a_crashed_crawl_is_retried_with_backoff_then_succeeds(local_source: LocalSource, monkeypatch) -> None:
    real_crawl = source_defs.crawl
    calls: list[float] = []

    def crash_once(source, run_id, landing_root, **kwargs):
        calls.append(time.monotonic())
        if len(calls) == 1:  # what scrapers.run.crawl returns for a process that died
            return {"source": source.name, "run_id": run_id, "finish_reason": "crashed", "complete": False,
                    "pages": 0, "items": 0, "log_tail": "Segmentation fault (simulated)"}
        return real_crawl(source, run_id, landing_root, **kwargs)

    monkeypatch.setattr(source_defs, "crawl", crash_once)
    name = local_source.name
    with dg.DagsterInstance.ephemeral() as instance:
        result = run(local_source.definitions(), instance, [f"raw/{name}", f"staging/{name}"])
    assert result.success
    assert len(calls) == 2
    # RetryPolicy(delay=2, EXPONENTIAL, PLUS_MINUS jitter): the first retry waits 0-4 s.
    assert 0 <= calls[1] - calls[0] < 30
    retried = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert [e.step_key for e in retried] == [f"raw__{name}"]
    raw = metadata(result, f"raw/{name}")
    assert raw["attempts"] == 2 and raw["complete"] is True and raw["items"] == 12
    assert raw["duration_s"] is not None and raw["bytes"] > 0
    assert metadata(result, f"staging/{name}")["offerings"] == 12


@pytest.fixture(scope="module")
def blocked_run(tmp_path_factory: pytest.TempPathFactory):
    """A good full run, then a run whose normalization loses a record (raw != offerings + rejects)."""
    local_source = make_local_source(tmp_path_factory.mktemp("blocked"))
    defs = local_source.definitions()
    instance = dg.DagsterInstance.ephemeral()
    good = run(defs, instance)
    assert good.success
    published = local_source.data_dir / "warehouse" / "credcat.duckdb"
    before = (published.stat().st_ino, published.stat().st_mtime_ns)
    staged = local_source.data_dir / "runtime" / "io" / "staging" / local_source.name / "offerings.parquet"
    staged_before = staged.stat().st_mtime_ns

    real_normalize = source_defs.normalize

    def lose_one(*args, **kwargs):
        result = real_normalize(*args, **kwargs)
        return type(result)(**{**result.__dict__, "offerings": result.offerings.slice(1)})

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(source_defs, "normalize", lose_one)
        bad = run(defs, instance)
    yield local_source, defs, instance, good, bad, published, before, staged, staged_before
    instance.dispose()


def test_a_failing_blocking_check_stops_everything_downstream(blocked_run) -> None:
    source, _, _, _, bad, published, before, staged, staged_before = blocked_run
    assert not bad.success
    evaluation = checks(bad)[f"staging/{source.name}:raw_reconciles"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["raw"].value == 12 and evaluation.metadata["offerings"].value == 11
    # Only the crawl materialized: nothing after the failed check ran or was stored.
    assert materialized(bad) == {f"raw/{source.name}"}
    started = {e.step_key for e in bad.all_events if e.event_type == dg.DagsterEventType.STEP_START}
    assert started == {f"raw__{source.name}", f"staging__{source.name}"}
    planned = {n.name for n in bad.job_def.nodes_in_topological_order}
    assert {"intermediate__offering_links", "intermediate__credentials", "marts_build", "exports__parquet"} <= planned
    # The published warehouse and the last good staging frames are untouched.
    assert (published.stat().st_ino, published.stat().st_mtime_ns) == before
    assert staged.stat().st_mtime_ns == staged_before
    assert pl.read_parquet(staged).height == 12


def test_a_failed_run_is_tagged_and_recorded_in_the_warehouse(blocked_run) -> None:
    source, defs, instance, _, bad, published, *_ = blocked_run
    sensor = defs.resolve_sensor_def("record_run_failures")
    context = dg.build_run_status_sensor_context(
        sensor_name="record_run_failures", dagster_instance=instance, dagster_run=bad.dagster_run,
        dagster_event=bad.get_run_failure_event(),
    ).for_run_failure()
    request = sensor(context)
    assert isinstance(request, dg.RunRequest) and request.run_key == f"failure:{bad.run_id}"
    tags = instance.get_run_by_id(bad.run_id).tags
    assert tags["credcat/failed_steps"] == f"staging__{source.name}"
    assert tags["credcat/failed_sources"] == source.name
    record_job = defs.resolve_job_def("record_run_failure")
    for _ in range(2):  # recording twice changes nothing
        recorded = record_job.execute_in_process(instance=instance, run_config=request.run_config, raise_on_error=False)
        assert recorded.success
    rows = read_failures(published)
    assert [r["run_id"] for r in rows] == [bad.run_id]
    assert rows[0]["failed_steps"] == [f"staging__{source.name}"] and rows[0]["sources"] == [source.name]
    assert "raw_reconciles" in rows[0]["message"]
    assert instance.get_run_by_id(bad.run_id).tags["credcat/failure_recorded"] == TABLE
    # The marts of the good run are still there beside the failure table.
    from warehouse.publish import open_readonly

    con = open_readonly(published)
    try:
        assert con.execute("select count(*) from marts.fct_offering").fetchone()[0] == 12
    finally:
        con.close()


def test_the_inbox_sensor_starts_one_run_per_new_file_exactly_once(local_source: LocalSource) -> None:
    defs = local_source.definitions()
    sensor = defs.resolve_sensor_def(f"inbox_{local_source.name}")
    resources = {"settings": CredcatSettings(data_dir=str(local_source.data_dir), sources_file=str(local_source.registry))}
    with dg.DagsterInstance.ephemeral() as instance:
        def tick(cursor: str | None):
            context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
            return sensor.evaluate_tick(context)

        first = tick(None)
        assert not first.run_requests and "does not exist" in first.skip_message
        local_source.inbox.mkdir(parents=True)
        assert not tick(None).run_requests
        old = time.time() - 60
        dropped = write_drop(local_source.inbox / "export-2026-05.csv", 5, first=100)
        os.utime(dropped, (old, old))
        (local_source.inbox / "export-2026-06.csv.part").write_text("id,name\n")  # still uploading
        (local_source.inbox / "elsewhere.csv").symlink_to(local_source.drop)  # leaves the inbox: ignored
        os.utime(local_source.drop, (old, old))
        fresh = write_drop(local_source.inbox / "export-2026-06.csv", 3, first=200)  # written just now

        second = tick(first.cursor)
        assert [r.tags["credcat/inbox_file"] for r in second.run_requests] == [str(dropped)]
        assert not tick(second.cursor).run_requests  # seen: never again

        os.utime(fresh, (old, old))  # it has settled
        third = tick(second.cursor)
        assert [r.tags["credcat/inbox_file"] for r in third.run_requests] == [str(fresh)]
        assert not tick(third.cursor).run_requests
        keys = [r.run_key for r in second.run_requests + third.run_requests]
        assert len(set(keys)) == 2

        # The requested run crawls the dropped file alone (5 rows, not the 12 of the location).
        request = second.run_requests[0]
        result = run(defs, instance, job=f"source_{local_source.name}", run_config=request.run_config)
        assert result.success
        raw = metadata(result, f"raw/{local_source.name}")
        assert raw["files"] == [str(dropped)] and raw["items"] == 5
        assert metadata(result, f"staging/{local_source.name}")["offerings"] == 5
        assert "marts/fct_offering" in materialized(result) and "exports/parquet" in materialized(result)

        # Run config naming a file outside the inbox is refused before any crawl.
        outside = {"ops": {f"raw__{local_source.name}": {"config": {"files": [str(local_source.drop)]}}}}
        refused = run(defs, instance, [f"raw/{local_source.name}"], run_config=outside)
        assert not refused.success and not materialized(refused)
        failure = next(e for e in refused.all_events if e.is_step_failure)
        assert "not inside the inbox" in failure.event_specific_data.error.message


def test_drift_checks_warn_on_a_shrunken_source_and_lost_coverage(local_source: LocalSource) -> None:
    defs = local_source.definitions()
    name = local_source.name
    select = [f"raw/{name}", f"staging/{name}"]
    with dg.DagsterInstance.ephemeral() as instance:
        first = run(defs, instance, select)
        assert first.success
        assert checks(first)[f"staging/{name}:offerings_not_shrunk"].passed  # no baseline yet
        assert metadata(first, f"staging/{name}")["coverage"]["workload_hours_min"] == 100.0

        write_drop(local_source.drop, 7, with_hours=False)  # 12 -> 7 offerings (-41.7%), hours gone
        second = run(defs, instance, select)
    assert second.success  # warnings do not stop the run
    shrunk = checks(second)[f"staging/{name}:offerings_not_shrunk"]
    assert not shrunk.passed and shrunk.severity == dg.AssetCheckSeverity.WARN
    assert shrunk.metadata["previous"].value == 12 and shrunk.metadata["current"].value == 7
    assert shrunk.metadata["change_pct"].value == pytest.approx(-41.7)
    coverage = checks(second)[f"staging/{name}:coverage_stable"]
    assert not coverage.passed and coverage.severity == dg.AssetCheckSeverity.WARN
    assert coverage.metadata["dropped"].value["workload_hours_min"] == {"previous": 100.0, "current": 0.0}
    assert metadata(second, f"staging/{name}")["baseline_run_id"] == metadata(first, f"staging/{name}")["run_id"]


def test_metadata_the_ui_shows(blocked_run) -> None:
    local_source, _, _, result, *_ = blocked_run  # the good run
    name = local_source.name
    raw = metadata(result, f"raw/{name}")
    assert {"pages", "items", "retries", "errors", "bytes", "duration_s"} <= set(raw)
    staging = metadata(result, f"staging/{name}")
    assert staging["dagster/row_count"] == 12
    assert len(staging["preview"].records) == 10
    assert {c.name for c in staging["dagster/column_schema"].columns} >= {"offering_id", "title", "mapping_notes"}
    assert staging["coverage"]["credential_type"] >= 0 and "top_unmapped" in staging
    links = metadata(result, "intermediate/offering_links")
    assert {"credentials", "multi_source_credentials", "offerings_merged", "overlap_pct"} <= set(links)
    fct = metadata(result, "marts/fct_offering")
    assert fct["dagster/row_count"] == 12
    lineage = fct["dagster/column_lineage"].deps_by_column
    assert [d.asset_key.to_user_string() for d in lineage["credential_id"]] == ["intermediate/offering_links"]
    assert [d.asset_key.to_user_string() for d in lineage["title"]] == ["marts/offering_versions"]
    versions = metadata(result, "marts/offering_versions")["dagster/column_lineage"].deps_by_column
    assert [d.asset_key.to_user_string() for d in versions["title"]] == [f"staging/{name}"]
    exports = metadata(result, "exports/parquet")
    assert Path(exports["manifest"]).is_file() and Path(exports["ctdl/credentials.jsonld"]).is_file()
