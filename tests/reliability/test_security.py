"""Security: crawls stay on their domains, file drops stay in their inbox, configuration
identifiers are validated before SQL, values reach SQL only as parameters, secrets come from
the environment and appear nowhere else, the UI binds to 127.0.0.1."""

from __future__ import annotations

import inspect
import json
import re
import time
from pathlib import Path

import pytest
import scrapy
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from scrapers import settings as scrapy_settings
from scrapers.middlewares import SourceHeadersMiddleware, host_allowed
from scrapers.mirror.generate import SiteContext
from scrapers.mirror.server import RunningServer
from scrapers.registry import Source, load_sources
from scrapers.run import crawl
from scrapers.testing import offline_spider
from tests.reliability.synthetic import run_inputs
from warehouse.publish import open_readonly, publish

ROOT = Path(__file__).resolve().parents[2]
MIRROR = "http://127.0.0.1:1"


def _registries() -> list[Path]:
    paths = [ROOT / "scrapers" / "sources.toml"]
    realdata = ROOT / "scrapers" / "sources" / "realdata.toml"
    return paths + ([realdata] if realdata.exists() else [])


# --- crawls stay on their declared domains --------------------------------------------------------

@pytest.mark.parametrize("registry", _registries(), ids=lambda p: p.name)
def test_every_crawled_source_declares_its_domains_and_starts_on_them(registry):
    for source in load_sources(registry).values():
        if not source.start_urls:
            assert source.local_only  # saved files: no host; LocalOnlyMiddleware follows no online link
            continue
        assert source.allowed_domains, f"{source.name}: start URLs but no allowed_domains (Scrapy would allow all)"
        for url in source.start_urls:
            url = url.replace("{mirror}", MIRROR)
            assert host_allowed(url, source.allowed_domains), (source.name, url)


def test_offsite_requests_are_filtered_and_redirects_guarded():
    middlewares = {**scrapy.settings.default_settings.DOWNLOADER_MIDDLEWARES_BASE,
                   **scrapy_settings.DOWNLOADER_MIDDLEWARES}
    assert middlewares.get("scrapy.downloadermiddlewares.offsite.OffsiteMiddleware") is not None
    assert middlewares.get("scrapers.middlewares.RedirectGuardMiddleware") is not None
    from scrapers.spiders.opencourse_api import OpencourseApiSpider

    spider = offline_spider(OpencourseApiSpider)
    mw = OffsiteMiddleware.from_crawler(spider.crawler)
    assert mw.should_follow(Request(f"{MIRROR}/opencourse_api/x"), spider)
    assert not mw.should_follow(Request("https://evil.example/x"), spider)
    assert not mw.should_follow(Request("http://localhost:1/opencourse_api/x"), spider)


# --- file drops are confined to their inbox -----------------------------------------------------------

@pytest.fixture
def inbox_source(tmp_path: Path) -> tuple[Source, Path, Path]:
    data = tmp_path / "data"
    inbox = data / "inbox" / "drops"
    inbox.mkdir(parents=True)
    outside = tmp_path / "secret.csv"
    outside.write_text("id,name\n1,not yours\n")
    source = Source(name="drops", spider="file_drop", kind="file_drop", format="csv", provider_kind="vendor",
                    location=[str(outside)], inbox="{data}/inbox/drops", base_dir=str(tmp_path))
    return source, data, outside


def test_inbox_files_are_confined(inbox_source):
    source, data, outside = inbox_source
    inbox = source.resolved_inbox(data)
    good = inbox / "export.csv"
    good.write_text("id,name\n1,a\n")
    (inbox / ".hidden.csv").write_text("x")
    (inbox / "leak.csv").symlink_to(outside)  # a symlink out of the inbox
    (inbox / "sub").mkdir()
    (inbox / "jump").symlink_to(outside.parent)  # a symlinked folder out of it
    assert source.inbox_file(data, "export.csv") == good.resolve()
    assert source.inbox_file(data, str(good)) == good.resolve()
    for bad in ["../../secret.csv", str(outside), "leak.csv", "jump/secret.csv", "sub", "/etc/passwd",
                "sub/../../../secret.csv"]:
        with pytest.raises(ValueError):
            source.inbox_file(data, bad)
    with pytest.raises(FileNotFoundError):
        source.inbox_file(data, "missing.csv")
    assert source.inbox_files(data) == [good.resolve()]


def test_the_inbox_sensor_ignores_a_symlink_out_of_the_inbox(inbox_source):
    from pipelines.defs.sensors import ready_files

    source, data, outside = inbox_source
    inbox = source.resolved_inbox(data)
    (inbox / "leak.csv").symlink_to(outside)
    (inbox / "export.csv").write_text("id,name\n1,a\n")
    assert list(ready_files(source, data, now=time.time() + 3600)) == ["export.csv"]


def test_a_run_cannot_be_told_to_crawl_a_file_outside_the_inbox(tmp_path, monkeypatch):
    import dagster as dg

    from pipelines.defs import sources as source_defs
    from tests.pipelines.conftest import QUIET, make_local_source

    local = make_local_source(tmp_path)
    local.inbox.mkdir(parents=True)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("id,name\nX1,Not in the inbox\n")
    crawled: list[object] = []

    def fake_crawl(source, run_id, landing_root, **kwargs):  # type: ignore[no-untyped-def]
        crawled.append(kwargs.get("registry"))
        return {"source": source.name, "run_id": run_id, "complete": True, "finish_reason": "finished",
                "pages": 1, "items": 0, "invalid_items": 0}

    monkeypatch.setattr(source_defs, "crawl", fake_crawl)
    defs = local.definitions()
    job = defs.resolve_job_def(f"source_{local.name}").get_subset(
        asset_selection={dg.AssetKey(["raw", local.name])})
    op = dg.AssetKey(["raw", local.name]).to_python_identifier()
    inside = local.inbox / "export.csv"
    inside.write_text("id,name\nC1,In the inbox\n")
    with dg.DagsterInstance.ephemeral() as instance:
        refused = job.execute_in_process(instance=instance, raise_on_error=False,
                                         run_config={**QUIET, "ops": {op: {"config": {"files": [str(outside)]}}}})
        assert not refused.success
        assert crawled == [], "the outside file was crawled"
        link = local.inbox / "link.csv"
        link.symlink_to(outside)
        refused = job.execute_in_process(instance=instance, raise_on_error=False,
                                         run_config={**QUIET, "ops": {op: {"config": {"files": [str(link)]}}}})
        assert not refused.success and crawled == []
        accepted = job.execute_in_process(instance=instance, raise_on_error=False,
                                          run_config={**QUIET, "ops": {op: {"config": {"files": [str(inside)]}}}})
        assert accepted.success and len(crawled) == 1  # a file of the inbox is crawled


# --- identifiers from configuration are validated; values go as parameters ------------------------------

@pytest.mark.parametrize("name", ['x"; drop table marts.fct_offering; --', "Upper", "a-b", "a b", "../etc",
                                  "_leading", "x" * 80, "é"])
def test_source_names_that_reach_sql_and_paths_are_refused(name, tmp_path):
    registry = tmp_path / "sources.toml"
    registry.write_text(f'[sources.{json.dumps(name)}]\nspider = "file_drop"\nkind = "file_drop"\nformat = "f"\n'
                        'provider_kind = "vendor"\nlocation = ["x.csv"]\n')
    with pytest.raises(ValueError):
        load_sources(registry)


def test_warehouse_identifiers_are_validated():
    from warehouse.ddl import quote_identifier, validate_source_name

    for bad in ['a"b', "a;b", "", "a b", "drop table x"]:
        with pytest.raises(ValueError):
            validate_source_name(bad)
        with pytest.raises(ValueError):
            quote_identifier(bad)


def test_a_snapshot_name_cannot_leave_the_exports_folder(tmp_path):
    from warehouse.export import export_snapshot
    from warehouse.load import build

    published, work = tmp_path / "credcat.duckdb", tmp_path / "w.duckdb"
    build(work, None, run_inputs(20, 1))
    publish(work, published)
    for bad in ["../escape", "/tmp/x", "a/b", ".."]:
        with pytest.raises(ValueError):
            export_snapshot(published, tmp_path / "exports", bad)
    assert not (tmp_path / "escape").exists()


def test_values_that_look_like_sql_are_stored_as_they_are(tmp_path):
    from warehouse.load import RunInputs, build

    inputs = run_inputs(30, 1)
    evil = "r1'); DROP TABLE marts.fct_offering; --"
    key = "k'; DELETE FROM marts.source_runs; --"
    offerings = inputs.offerings.with_columns(title=pl_lit("Robert'); DROP TABLE students;--"))
    offerings = offerings.with_row_index("i").with_columns(
        source_key=pl_when_first(offerings, key)).drop("i")
    patched = RunInputs(**{**inputs.__dict__, "offerings": offerings.with_columns(run_id=pl_lit(evil)),
                           "source_runs": inputs.source_runs.with_columns(run_id=pl_lit(evil)),
                           "raw": inputs.raw.with_columns(run_id=pl_lit(evil)),
                           "rejects": inputs.rejects.with_columns(run_id=pl_lit(evil))})
    published, work = tmp_path / "credcat.duckdb", tmp_path / "w.duckdb"
    build(work, None, patched)
    publish(work, published)
    con = open_readonly(published)
    try:
        assert con.execute("select count(*) from marts.fct_offering where title = ?",
                           ["Robert'); DROP TABLE students;--"]).fetchone()[0] == 30
        assert {r[0] for r in con.execute("select run_id from marts.source_runs").fetchall()} == {evil}
        assert con.execute("select count(*) from marts.fct_offering where source_key = ?", [key]).fetchone()[0] == 1
    finally:
        con.close()


def pl_lit(value: str):  # type: ignore[no-untyped-def]
    import polars as pl

    return pl.lit(value)


def pl_when_first(frame, value: str):  # type: ignore[no-untyped-def]
    import polars as pl

    return pl.when(pl.col("i") == 0).then(pl.lit(value)).otherwise(pl.col("source_key"))


# --- secrets come from the environment and appear nowhere else ---------------------------------------------

TOKEN = "s3cr3t-9f2c1d7e-credcat-test"


def _source(**headers: str) -> Source:
    return Source(name="secret_api", spider="opencourse_api", kind="json_api", format="f", provider_kind="vendor",
                  start_urls=["{mirror}/opencourse_api/api/courses/v1/courses/?page=1&page_size=50"],
                  headers=headers)


def test_a_credential_written_in_the_registry_is_refused_without_being_echoed():
    with pytest.raises(ValueError) as info:
        _source(Authorization=f"Bearer {TOKEN}")
    assert TOKEN not in str(info.value)
    with pytest.raises(ValueError):
        _source(**{"X-Api-Key": TOKEN})
    assert _source(Authorization="Bearer ${CREDCAT_TEST_TOKEN}").headers  # a reference is fine


def test_headers_go_to_the_allowed_domains_only(monkeypatch):
    monkeypatch.setenv("CREDCAT_TEST_TOKEN", TOKEN)
    crawler = get_crawler(scrapy.Spider)
    spider = scrapy.Spider.from_crawler(crawler, name="t")
    spider.source_cfg = _source(Authorization="Bearer ${CREDCAT_TEST_TOKEN}")
    spider.allowed_domains = ["127.0.0.1"]
    crawler.spider = spider
    mw = SourceHeadersMiddleware.from_crawler(crawler)
    on, off = Request(f"{MIRROR}/x"), Request("https://evil.example/x", headers={"Authorization": "stale"})
    mw.process_request(on)
    mw.process_request(off)
    assert on.headers[b"Authorization"] == f"Bearer {TOKEN}".encode()
    assert b"Authorization" not in off.headers


def test_a_missing_variable_is_named_not_guessed():
    with pytest.raises(KeyError, match="CREDCAT_TEST_UNSET"):
        _source(Authorization="Bearer ${CREDCAT_TEST_UNSET}").resolved_headers({})


@pytest.mark.slow
def test_a_secret_reaches_the_server_and_no_log_stats_or_item(tmp_path, monkeypatch):
    site = tmp_path / "site"
    ctx = SiteContext("opencourse_api", site)
    ctx.write("/api/courses/v1/courses/?page=1&page_size=50",
              json.dumps({"results": [{"id": "course-v1:S+1+2027", "name": "Course"}], "pagination": {"next": None}}),
              "application/json")
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    ctx.routes["/robots.txt"] = {"file": "robots.txt", "content_type": "text/plain"}
    (site / "routes.json").write_text(json.dumps(ctx.routes))
    registry = tmp_path / "sources.toml"
    registry.write_text('[sources.secret_api]\nspider = "opencourse_api"\nkind = "json_api"\nformat = "f"\n'
                        'provider_kind = "vendor"\n'
                        'start_urls = ["{mirror}/opencourse_api/api/courses/v1/courses/?page=1&page_size=50"]\n'
                        'headers = { Authorization = "Bearer ${CREDCAT_TEST_TOKEN}" }\n')
    monkeypatch.setenv("CREDCAT_TEST_TOKEN", TOKEN)
    source = load_sources(registry)["secret_api"]
    with RunningServer(site) as server:
        stats = crawl(source, "r1", tmp_path / "landing", mirror_url=server.base_url, registry=registry,
                      extra_settings={"LOG_LEVEL": "DEBUG"}, timeout=180)
        events = server.events
    assert stats["complete"] and stats["items"] == 1
    api = [e for e in events if "courses" in e["path"]]
    assert api and all(e["headers"].get("Authorization") == f"Bearer {TOKEN}" for e in api)
    robots = [e for e in events if e["path"] == "/robots.txt"]
    assert robots and all("Authorization" in e["headers"] for e in robots)  # same allowed host
    assert TOKEN not in json.dumps(stats)
    for path in (tmp_path / "landing").rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path.name
    assert TOKEN not in registry.read_text()


# --- the UI binds to 127.0.0.1 ----------------------------------------------------------------------------

def test_the_ui_and_the_demo_server_bind_to_loopback_by_default():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^ui:.*?(?=^\S)", makefile + "\nend:", re.S | re.M).group(0)
    assert "0.0.0.0" not in makefile
    hosts = re.findall(r"(?:-h|--host)[ =](\S+)", recipe)
    assert all(h == "127.0.0.1" for h in hosts), hosts
    from pipelines import cli

    if "credcat ui" in recipe or not hosts:  # the CLI's default decides
        params = inspect.signature(cli.ui).parameters
        default = params["host"].default if "host" in params else None
        default = getattr(default, "default", default)  # a typer.Option
        assert default == "127.0.0.1" or ("host" not in params and "127.0.0.1" in inspect.getsource(cli.ui))
    assert "0.0.0.0" not in inspect.getsource(cli.ui)
    from scrapers.mirror.server import CatalogServer

    assert inspect.signature(CatalogServer.__init__).parameters["host"].default == "127.0.0.1"
