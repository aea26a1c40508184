"""The shared scraper core: retries and waits, landing, crawl stats, the demo server and generator."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import types
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import polars as pl
import pytest
import scrapy
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from normalize.schema import RAW_SCHEMA
from scrapers import middlewares
from scrapers.extensions import CrawlStatsWriter, summarize
from scrapers.middlewares import BackoffRetryMiddleware, retry_after_seconds
from scrapers.mirror.generate import SiteContext, generate
from scrapers.mirror.server import RunningServer
from scrapers.mirror.universe import SOURCES
from scrapers.pipelines import LandingPipeline
from scrapers.registry import load_sources
from scrapers.run import crawl

NOW = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)


# --- Retry-After --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (b"1", 1.0),
        ("120", 120.0),
        (" 5 ", 5.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(minutes=5), usegmt=True).encode(), 0.0),  # already past
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_http_date(header, seconds):
    assert retry_after_seconds(header, now=NOW) == seconds


@pytest.fixture
def retry_mw(monkeypatch):
    """The retry middleware on a test crawler, with its sleeps recorded instead of slept."""
    crawler = get_crawler(scrapy.Spider, {"RETRY_TIMES": 2, "RETRY_HTTP_CODES": [429, 500, 503],
                                          "CREDCAT_BACKOFF_BASE": 0.5, "CREDCAT_RETRY_AFTER_MAX": 60})
    crawler.spider = scrapy.Spider.from_crawler(crawler, name="t")
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(middlewares.asyncio, "sleep", fake_sleep)
    mw = BackoffRetryMiddleware.from_crawler(crawler)
    return mw, slept, crawler


def _answer(mw, status: int, headers: dict | None = None, meta: dict | None = None):
    request = Request("http://127.0.0.1:1/page?page=2", meta=meta or {})
    response = Response(request.url, status=status, headers=headers or {}, request=request)
    return asyncio.run(mw.process_response(request, response))


def test_429_with_retry_after_waits_what_the_server_asks_before_retrying(retry_mw):
    mw, slept, crawler = retry_mw
    out = _answer(mw, 429, {"Retry-After": "7"})
    assert isinstance(out, Request) and out.meta["retry_times"] == 1
    assert slept == [7.0]  # not retried immediately
    assert crawler.stats.get_value("credcat/throttled") == 1
    assert crawler.stats.get_value("retry/count") == 1


def test_retry_after_is_capped(retry_mw):
    mw, slept, _ = retry_mw
    _answer(mw, 503, {"Retry-After": "86400"})
    assert slept == [60.0]


def test_5xx_without_retry_after_backs_off_exponentially_with_jitter(retry_mw):
    mw, slept, _ = retry_mw
    _answer(mw, 500)
    _answer(mw, 500, meta={"retry_times": 1})
    assert 0.25 <= slept[0] <= 0.5  # base 0.5 s, jittered into [50%, 100%]
    assert 0.5 <= slept[1] <= 1.0  # doubled on the second attempt


def test_exhausted_retries_return_the_failure_without_waiting(retry_mw):
    mw, slept, crawler = retry_mw
    out = _answer(mw, 500, meta={"retry_times": 2})
    assert isinstance(out, Response) and out.status == 500
    assert slept == []
    assert crawler.stats.get_value("retry/max_reached") == 1


def test_success_and_dont_retry_pass_through(retry_mw):
    mw, slept, _ = retry_mw
    assert _answer(mw, 200).status == 200
    assert _answer(mw, 503, meta={"dont_retry": True}).status == 503
    assert slept == []


# --- landing ------------------------------------------------------------------------------------

def _item(**over):
    item = {"source": "opencourse_api", "source_key": "course-v1:X+Y+Z", "url": "http://127.0.0.1:1/p",
            "fetched_at": "2027-03-01T12:00:00+00:00", "run_id": "r1", "title": "Smart Grids",
            "prices": [{"amount": "79.00", "currency": "EUR"}], "subjects": ["Engineering"],
            "payload": {"id": "course-v1:X+Y+Z", "nested": {"a": [1, 2]}}}
    item.update(over)
    return item


def test_landing_pipeline_writes_valid_items_and_keeps_invalid_ones(tmp_path):
    crawler = get_crawler(scrapy.Spider, {"CREDCAT_LANDING_DIR": str(tmp_path), "CREDCAT_RUN_ID": "r1"})
    crawler.spider = types.SimpleNamespace(name="opencourse_api", source_name="opencourse_api")
    pipe = LandingPipeline.from_crawler(crawler)
    pipe.open_spider()
    pipe.process_item(_item())
    pipe.process_item(_item(source_key=None, title="No key"))  # RawOffering needs a key
    pipe.process_item(_item(source_key="k2", colour="red"))  # not a RawOffering field
    pipe.close_spider()

    out = tmp_path / "opencourse_api" / "r1"
    lines = (out / "items.jsonl").read_text().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert json.loads(row["payload"]) == {"id": "course-v1:X+Y+Z", "nested": {"a": [1, 2]}}  # payload as JSON text
    frame = pl.read_ndjson(out / "items.jsonl", schema=RAW_SCHEMA)  # the landing contract
    assert frame["source_key"].to_list() == ["course-v1:X+Y+Z"]

    invalid = [json.loads(x) for x in (out / "invalid.jsonl").read_text().splitlines()]
    assert [(r["source_key"], r["reason"]) for r in invalid] == [(None, "schema_violation"), ("k2", "schema_violation")]
    assert all(r["run_id"] == "r1" and r["source"] == "opencourse_api" for r in invalid)
    assert json.loads(invalid[1]["payload"])["colour"] == "red"  # nothing the spider extracted is lost
    assert crawler.stats.get_value("credcat/landed_items") == 1
    assert crawler.stats.get_value("credcat/invalid_items") == 2


# --- crawl stats --------------------------------------------------------------------------------

def _stats(**over):
    stats = {"start_time": NOW, "response_received_count": 4, "credcat/landed_items": 120,
             "downloader/response_status_count/200": 4, "downloader/response_status_count/500": 1,
             "retry/count": 1, "credcat/page_defects/malformed_feed": 1}
    stats.update(over)
    return stats


def test_stats_summary_is_complete_only_for_a_clean_finished_crawl():
    clean = summarize(_stats(), "finished", "s", "r1")
    assert clean["complete"] is True
    assert clean["items"] == 120 and clean["retries"] == 1 and clean["pages"] == 4
    assert clean["status_counts"] == {"200": 4, "500": 1}
    assert clean["page_defects"] == {"malformed_feed": 1}
    assert summarize(_stats(**{"credcat/failed_pages": 1}), "finished", "s", "r1")["complete"] is False
    assert summarize(_stats(**{"spider_exceptions/KeyError": 2}), "finished", "s", "r1")["complete"] is False
    assert summarize(_stats(), "shutdown", "s", "r1")["complete"] is False


def test_stats_writer_puts_stats_json_beside_the_items(tmp_path):
    crawler = get_crawler(scrapy.Spider, {"CREDCAT_LANDING_DIR": str(tmp_path), "CREDCAT_RUN_ID": "r9"})
    for k, v in _stats(**{"credcat/failed_pages": 1, "credcat/failed_urls": ["http://x/p2 (HTTP 500)"]}).items():
        crawler.stats.set_value(k, v)
    CrawlStatsWriter(crawler).spider_closed(types.SimpleNamespace(name="src", source_name="src"), "finished")
    stats = json.loads((tmp_path / "src" / "r9" / "stats.json").read_text())
    required = {"source", "run_id", "started_at", "finished_at", "complete", "finish_reason", "pages", "items",
                "invalid_items", "retries", "errors", "bytes", "status_counts", "page_defects"}
    assert required <= stats.keys()
    assert stats["complete"] is False and stats["failed_urls"] == ["http://x/p2 (HTTP 500)"]


# --- crawls of a hand-built site (real subprocess crawls) ---------------------------------------

def _api_site(root: Path, faults: list[tuple[int, int, dict]]) -> None:
    """Two pages of an edX-style API for the opencourse_api spider, with faults on page 2."""
    ctx = SiteContext("opencourse_api", root)
    p1, p2 = "/api/courses/v1/courses/?page=1&page_size=50", "/api/courses/v1/courses/?page=2&page_size=50"

    def page(key: str, nxt: str | None) -> str:
        return json.dumps({"results": [{"id": key, "name": f"Course {key}"}], "pagination": {"next": nxt}})

    ctx.write(p1, page("course-v1:A+1+1T2027", ctx.url(p2)), "application/json")
    ctx.write(p2, page("course-v1:A+2+1T2027", None), "application/json")
    for status, times, headers in faults:
        ctx.fault(p2, status, times, headers)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    ctx.routes["/robots.txt"] = {"file": "robots.txt", "content_type": "text/plain"}
    (root / "routes.json").write_text(json.dumps(ctx.routes))
    (root / "faults.json").write_text(json.dumps(ctx.faults))


def _crawl_site(tmp_path: Path, faults, **settings):
    site = tmp_path / "site"
    _api_site(site, faults)
    with RunningServer(site) as server:
        stats = crawl(load_sources()["opencourse_api"], "r1", tmp_path / "landing", mirror_url=server.base_url,
                      extra_settings={"CREDCAT_BACKOFF_BASE": "0.05", **settings}, timeout=120)
        log = server.requests
    items = (tmp_path / "landing" / "opencourse_api" / "r1" / "items.jsonl").read_text().splitlines()
    return stats, [json.loads(x) for x in items], log


def test_a_clean_crawl_is_complete(tmp_path):
    stats, items, _ = _crawl_site(tmp_path, [])
    assert stats["complete"] is True and stats["finish_reason"] == "finished"
    assert stats["items"] == len(items) == 2 and stats["retries"] == 0 and stats["failed_urls"] == []
    assert (tmp_path / "landing" / "opencourse_api" / "r1" / "stats.json").exists()


def test_a_500_is_retried_and_the_crawl_still_completes(tmp_path):
    stats, items, log = _crawl_site(tmp_path, [(500, 1, {})])
    assert stats["complete"] is True and stats["retries"] == 1
    assert [s for _, p, s in log if "page=2" in p] == [500, 200]
    assert {i["source_key"] for i in items} == {"course-v1:A+1+1T2027", "course-v1:A+2+1T2027"}


def test_a_429_with_retry_after_is_waited_for_in_a_real_crawl(tmp_path):
    stats, items, log = _crawl_site(tmp_path, [(429, 1, {"Retry-After": "1"})])
    hits = [(t, s) for t, p, s in log if "page=2" in p]
    assert [s for _, s in hits] == [429, 200]
    assert hits[1][0] - hits[0][0] >= 0.9  # waited the second the server asked for
    assert stats["complete"] is True and stats["throttled"] == 1 and len(items) == 2


def test_a_page_that_fails_for_good_leaves_the_crawl_incomplete(tmp_path):
    stats, items, _ = _crawl_site(tmp_path, [(500, 50, {})], RETRY_TIMES="1")
    assert stats["complete"] is False
    assert stats["failed_pages"] == 1 and "page=2" in stats["failed_urls"][0]
    assert [i["source_key"] for i in items] == ["course-v1:A+1+1T2027"]  # page 1 still landed


# --- the mirror server --------------------------------------------------------------------------

def _get(url: str, method: str = "GET") -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_mirror_server_routes_fills_base_and_plays_faults_in_order(tmp_path):
    ctx = SiteContext("demo", tmp_path)
    ctx.write("/list?page=1", '{"next": "{{BASE}}/demo/list?page=2"}', "application/json")
    ctx.write("/course/course-v1:A+B+C", "<p>ok</p>", "text/html; charset=utf-8")
    ctx.fault("/list?page=1", 429, times=1, headers={"Retry-After": "1"})
    ctx.fault("/list?page=1", 503, times=2)
    (tmp_path / "routes.json").write_text(json.dumps(ctx.routes))
    (tmp_path / "faults.json").write_text(json.dumps(ctx.faults))
    with RunningServer(tmp_path) as server:
        base = server.base_url
        first = _get(f"{base}/demo/list?page=1")
        assert first[0] == 429 and first[1]["Retry-After"] == "1"
        assert [_get(f"{base}/demo/list?page=1")[0] for _ in range(3)] == [503, 503, 200]
        status, headers, body = _get(f"{base}/demo/list?page=1")
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"next": f"{base}/demo/list?page=2"}  # {{BASE}} filled in
        assert _get(f"{base}/demo/course/course-v1%3AA%2BB%2BC")[0] == 200  # percent-encoded spelling
        assert _get(f"{base}/demo/nowhere")[0] == 404
        head = _get(f"{base}/demo/course/course-v1:A+B+C", "HEAD")
        assert head[0] == 200 and head[2] == b""
        assert [s for _, p, s in server.requests if p == "/demo/list?page=1"] == [429, 503, 503, 200, 200]
    assert base.startswith("http://127.0.0.1:")


# --- the generator ------------------------------------------------------------------------------

MINE = ["opencourse_api", "skillmarket_api", "learnwave_feed", "coursehub_csv"]


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator_is_deterministic(tmp_path):
    a = generate(tmp_path / "a", seed=3, scale=0.2, sources=MINE)
    b = generate(tmp_path / "b", seed=3, scale=0.2, sources=MINE)
    assert a == b
    assert (tmp_path / "a" / "truth.jsonl").read_bytes() == (tmp_path / "b" / "truth.jsonl").read_bytes()
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b")
    generate(tmp_path / "c", seed=4, scale=0.2, sources=MINE)
    assert (tmp_path / "c" / "truth.jsonl").read_bytes() != (tmp_path / "a" / "truth.jsonl").read_bytes()


def test_a_site_is_the_same_written_alone_or_with_others(tmp_path):
    generate(tmp_path / "alone", seed=5, scale=0.2, sources=["skillmarket_api"])
    generate(tmp_path / "all", seed=5, scale=0.2, sources=MINE)
    alone = _tree_digest(tmp_path / "alone" / "skillmarket_api")
    assert alone == _tree_digest(tmp_path / "all" / "skillmarket_api")


def test_truth_rows_name_every_source_key_once(tmp_path):
    generate(tmp_path, seed=7, scale=0.3, sources=MINE)
    rows = [json.loads(x) for x in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert {r["source"] for r in rows} == set(MINE)
    for source in MINE:
        keys = [r["source_key"] for r in rows if r["source"] == source]
        assert len(keys) == len(set(keys)), f"{source}: duplicate source keys in the truth"
    assert all({"source_key", "credential_key", "is_test", "expected"} <= r.keys() for r in rows)
    assert sum(r["is_test"] for r in rows if r["source"] in ("opencourse_api", "skillmarket_api")) == 2


@pytest.mark.skipif(
    not all(importlib.util.find_spec(f"scrapers.mirror.formats.{fmt}") for fmt in SOURCES.values()),
    reason="not every source's format writer exists yet",
)
def test_the_whole_catalog_is_deterministic(tmp_path):
    generate(tmp_path / "a", seed=11, scale=0.1)
    generate(tmp_path / "b", seed=11, scale=0.1)
    assert (tmp_path / "a" / "truth.jsonl").read_bytes() == (tmp_path / "b" / "truth.jsonl").read_bytes()
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b")


def test_generate_refuses_unknown_sources(tmp_path):
    with pytest.raises(ValueError, match="not sources"):
        generate(tmp_path, sources=["nowhere"])


# --- the registry and the spiders ---------------------------------------------------------------

def test_my_sources_spiders_are_declared_with_their_registry_kind():
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    loader = SpiderLoader.from_settings(get_project_settings())
    sources = load_sources()
    for name in [*MINE, "file_drop"]:
        cls = loader.load(name)
        if name in sources:
            assert cls.kind == sources[name].kind, name


def test_crawling_a_run_id_again_sets_the_earlier_attempt_aside(tmp_path):
    _crawl_site(tmp_path, [(500, 50, {})], RETRY_TIMES="0")  # attempt 1: page 2 lost
    stats, items, _ = _crawl_site(tmp_path, [])  # attempt 2, same run id
    run_dir = tmp_path / "landing" / "opencourse_api" / "r1"
    assert stats["complete"] is True and len(items) == 2  # no records of attempt 1 mixed in
    first = json.loads((run_dir / "attempt-1" / "stats.json").read_text())
    assert first["complete"] is False
    assert len((run_dir / "attempt-1" / "items.jsonl").read_text().splitlines()) == 1
