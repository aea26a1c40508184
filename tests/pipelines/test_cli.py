"""The credcat command: kinds, parse, sources, run, query, export, ui (demo: test_end_to_end.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from pipelines.cli import _toml, app
from scrapers.kinds import KINDS
from tests.pipelines.conftest import make_local_source

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def test_every_kind_has_a_generic_spider() -> None:
    import os

    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "scrapers.settings")
    spiders = set(SpiderLoader.from_settings(get_project_settings()).list())
    assert set(KINDS) <= spiders


def test_kinds_lists_every_kind() -> None:
    result = runner.invoke(app, ["kinds"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in KINDS:
        assert name in result.output


def test_parse_prints_offerings_and_rejects(tmp_path: Path) -> None:
    data = tmp_path / "drop.csv"
    data.write_text("ref,course,cost\nA1,Widget Safety Basics,$49\nA2,,$10\n", encoding="utf-8")
    result = runner.invoke(app, ["parse", "--kind", "file_drop", str(data), "-f", "title=course",
                                 "-f", "prices=cost", "-o", "key_column=ref"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [o["title"] for o in lines] == ["Widget Safety Basics"]
    assert lines[0]["price_amount"] == 49.0 and lines[0]["price_currency"] == "USD"
    assert "reject A2: missing_title" in result.stderr


def test_parse_refuses_an_unknown_kind(tmp_path: Path) -> None:
    result = runner.invoke(app, ["parse", "--kind", "no_such_kind", str(tmp_path)])
    assert result.exit_code == 2


def test_ad_hoc_registry_toml_round_trips() -> None:
    import tomllib

    data = {"sources": {"adhoc": {"kind": "file_drop", "options": {"delimiter": ";", "header": True, "n": 2},
                                  "location": ["/a b/c.csv"], "field_map": {"title": "Name \"x\""}}}}
    assert tomllib.loads(_toml(data)) == data


def test_query_refuses_without_a_warehouse(tmp_path: Path) -> None:
    result = runner.invoke(app, ["query", "select 1"], env={"CREDCAT_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2


# --- the orchestration commands ---


def test_sources_lists_cadence_and_inbox() -> None:
    from scrapers.registry import load_sources

    result = runner.invoke(app, ["sources"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for s in load_sources().values():
        assert s.name in result.output and s.cadence in result.output
    assert "{data}/inbox/coursehub_csv" in result.output


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory):
    """`credcat run --sources FILE` on a one-source registry, on an instance with the project's dagster.yaml."""
    source = make_local_source(tmp_path_factory.mktemp("cli"))
    home = tmp_path_factory.mktemp("dagster-home")
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {"CREDCAT_DATA_DIR": str(source.data_dir), "DAGSTER_HOME": str(home), "COLUMNS": "200"}
    result = runner.invoke(app, ["run", "--sources", str(source.registry)], env=env)
    return source, home, env, result


@pytest.mark.slow
def test_run_on_a_sources_file_prints_a_summary_and_sets_the_pools(cli_run) -> None:
    source, home, _, result = cli_run
    assert result.exit_code == 0, result.output
    assert "1 (1 complete)" in result.output and "materialization wall time" in result.output
    assert (source.data_dir / "warehouse" / "credcat.duckdb").exists()
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert instance.event_log_storage.get_concurrency_info("duckdb_writer").slot_count == 1
        assert instance.event_log_storage.get_concurrency_info("crawls").slot_count == 4
        assert instance.get_runs(limit=1)[0].status == dg.DagsterRunStatus.SUCCESS


@pytest.mark.slow
def test_run_a_selection(cli_run) -> None:
    source, _, env, _ = cli_run
    result = runner.invoke(app, ["run", "--sources", str(source.registry), "--select", f"raw/{source.name}"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 (1 complete)" in result.output and "2 steps" not in result.output and "1 steps" in result.output


def test_run_refuses_a_missing_sources_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--sources", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "no sources file" in result.output


@pytest.mark.slow
def test_query_prints_a_table_and_refuses_writes(cli_run) -> None:
    source, _, env, _ = cli_run
    result = runner.invoke(app, ["query", "select source, count(*) as n from marts.fct_offering group by 1"], env=env)
    assert result.exit_code == 0, result.output
    assert "acme_drop" in result.output and "12" in result.output and "(1 rows)" in result.output
    refused = runner.invoke(app, ["query", "delete from marts.fct_offering"], env=env)
    assert refused.exit_code == 1 and "read-only" in refused.output.lower()
    bad = runner.invoke(app, ["query", "select * from no_such_table"], env=env)
    assert bad.exit_code == 1 and "no_such_table" in bad.output


@pytest.mark.slow
def test_export_writes_a_verified_snapshot(cli_run, tmp_path: Path) -> None:
    _, _, env, _ = cli_run
    result = runner.invoke(app, ["export", "--out", str(tmp_path)], env=env)
    assert result.exit_code == 0, result.output
    snapshots = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(snapshots) == 1
    manifest = json.loads((snapshots[0] / "manifest.json").read_text())
    assert manifest["entities"]["offerings"]["rows"] == 12
    assert "offerings" in result.output


def test_export_refuses_without_a_warehouse(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export"], env={"CREDCAT_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2


def test_ui_sets_the_pools_and_starts_dagster_dev_on_localhost(tmp_path: Path, monkeypatch) -> None:
    import pipelines.cli as cli

    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    calls: list[list[str]] = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, cwd=None: calls.append(cmd) or 0)
    result = runner.invoke(app, ["ui", "--port", "3999"], env={"DAGSTER_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert calls and calls[0][1:] == ["-m", "dagster", "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", "3999"]
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        assert instance.event_log_storage.get_concurrency_info("crawls").slot_count == 4


@pytest.mark.slow
def test_a_failed_run_exits_1_and_is_recorded_in_the_warehouse(cli_run, monkeypatch) -> None:
    from pipelines.defs import sources as source_defs
    from pipelines.failures import read_failures

    source, _, env, _ = cli_run

    def broken(*args, **kwargs):
        raise RuntimeError("normalizer broke (simulated)")

    monkeypatch.setattr(source_defs, "normalize", broken)
    result = runner.invoke(app, ["run", "--sources", str(source.registry)], env=env)
    assert result.exit_code == 1, result.output
    assert f"staging__{source.name}" in result.output and "recorded in ops.run_failures" in result.output
    rows = read_failures(source.data_dir / "warehouse" / "credcat.duckdb")
    assert rows and rows[0]["sources"] == [source.name] and "normalizer broke" in rows[0]["message"]
