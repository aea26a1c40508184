"""The demo graph twice on a small demo catalog: first through `credcat demo` (the command
`make demo` runs, on a Dagster instance with the project's dagster.yaml), then materialized again.

Proves: every layer runs over real HTTP crawls, raw = offerings + rejects per source, the
published warehouse opens read-only from another connection, the exports match their
manifest, and a re-run of unchanged sources writes no new versions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.instance.ref import InstanceRef
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.definitions import defs
from pipelines.io_manager import OPTIONAL_INPUT, CredcatIOManager
from pipelines.resources import CredcatSettings, DemoCatalog
from scrapers.registry import load_sources
from warehouse.publish import open_readonly

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def materialize_all(data_dir: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    resources = {
        "settings": CredcatSettings(data_dir=str(data_dir)),
        "demo": DemoCatalog(data_dir=str(data_dir), scale=0.2),
        "io_manager": CredcatIOManager(data_dir=str(data_dir)),
        OPTIONAL_INPUT: CredcatIOManager(data_dir=str(data_dir), missing_ok=True),
    }
    assets = list(defs.assets or [])
    return dg.materialize(assets, resources=resources, instance=instance, raise_on_error=False)


@dataclass
class StoredRun:
    """A run read back from the instance (the `credcat demo` run happened in the CLI)."""

    success: bool
    evaluations: list[dg.AssetCheckEvaluation]
    materializations: dict[str, dict]


def stored_run(instance: dg.DagsterInstance, run_id: str) -> StoredRun:
    records = instance.all_logs(run_id)
    evaluations = [r.dagster_event.event_specific_data for r in records if r.dagster_event
                   and r.dagster_event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
    mats = {r.dagster_event.asset_key.to_user_string(): dict(r.dagster_event.event_specific_data.materialization.metadata)
            for r in records if r.dagster_event and r.dagster_event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION}
    return StoredRun(instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS, evaluations, mats)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("credcat-data")
    home = tmp_path_factory.mktemp("dagster-home")
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {"CREDCAT_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(home), "COLUMNS": "200"}
    demo = CliRunner().invoke(app, ["demo", "--scale", "0.2"], env=env)
    print(demo.output)
    assert demo.exit_code == 0, demo.output
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        run_id = instance.get_runs(limit=1)[0].run_id
        first = stored_run(instance, run_id)
        con = open_readonly(data_dir / "warehouse" / "credcat.duckdb")
        versions_after_first = con.execute("select count(*) from marts.offering_versions").fetchone()[0]
        current_after_first = con.execute("select count(*) from marts.fct_offering").fetchone()[0]
        con.close()
        second = materialize_all(data_dir, instance)
    return data_dir, first, second, versions_after_first, current_after_first, demo.output


def test_demo_command_prints_its_figures(two_runs) -> None:
    *_, output = two_runs
    assert "sources crawled" in output and "8 (8 complete)" in output
    assert "materialization wall time" in output and "in-process executor" in output


def test_whole_graph_succeeds_twice(two_runs) -> None:
    _, first, second, *_ = two_runs
    assert first.success
    assert second.success


def test_every_check_passed(two_runs) -> None:
    _, first, second, *_ = two_runs
    for evaluations in (first.evaluations, second.get_asset_check_evaluations()):
        failed = [e.check_name + "@" + e.asset_key.to_user_string() for e in evaluations
                  if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
        assert evaluations and not failed


def test_unchanged_catalog_raises_no_drift_warning(two_runs) -> None:
    _, _, second, *_ = two_runs
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in second.get_asset_check_evaluations()}
    drift = {k: e for k, e in evaluations.items() if k[1] in ("offerings_not_shrunk", "coverage_stable", "overlap_stable")}
    assert len(drift) == 2 * len(load_sources()) + 1
    assert all(e.passed for e in drift.values()), [k for k, e in drift.items() if not e.passed]
    # The baseline is the first run: the drift checks compared against real figures.
    shrink = evaluations[(f"staging/{next(iter(load_sources()))}", "offerings_not_shrunk")]
    assert shrink.metadata["previous"].value == shrink.metadata["current"].value > 0


def test_published_warehouse_opens_read_only_in_another_process(two_runs) -> None:
    data_dir, *_ = two_runs
    code = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(*con.execute('select count(distinct source), count(*), "
        "(select count(*) from marts.dim_credential) from marts.fct_offering').fetchone())"
    )
    out = subprocess.run([sys.executable, "-c", code, str(data_dir / "warehouse" / "credcat.duckdb")],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    sources, offerings, credentials = map(int, out.split())
    assert sources == len(load_sources())
    assert 0 < credentials < offerings


def test_raw_records_reconcile_per_source(two_runs) -> None:
    data_dir, first, *_ = two_runs
    for name in load_sources():
        meta = first.materializations[f"staging/{name}"]
        assert meta["raw_records"].value == meta["offerings"].value + meta["rejects"].value > 0


def test_rerun_of_unchanged_catalog_writes_no_new_versions(two_runs) -> None:
    data_dir, _, _, versions_after_first, current_after_first, _ = two_runs
    con = open_readonly(data_dir / "warehouse" / "credcat.duckdb")
    try:
        versions = con.execute("select count(*) from marts.offering_versions").fetchone()[0]
        current = con.execute("select count(*) from marts.fct_offering").fetchone()[0]
    finally:
        con.close()
    assert versions == versions_after_first
    assert current == current_after_first


def test_exports_match_manifest(two_runs) -> None:
    data_dir, *_ = two_runs
    snapshots = sorted((data_dir / "exports").iterdir())
    assert len(snapshots) == 2
    manifest = json.loads((snapshots[-1] / "manifest.json").read_text())
    assert manifest["files"]
    for entry in manifest["files"]:
        frame = pl.read_parquet(snapshots[-1] / entry["path"])
        assert frame.height == entry["rows"]
