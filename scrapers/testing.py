"""Helpers for spider tests: offline parsing, and one demo-catalog crawl end to end.

Offline (no reactor, no network), as alltheplaces tests spiders::

    spider = offline_spider(OpencourseApiSpider)
    items, requests = split(spider.parse(fake_response(url, body)))

End to end (generate the demo site of one source, serve it, crawl it in a subprocess)::

    run = crawl_demo("opencourse_api", tmp_path)
    assert run.stats["complete"] and len(run.items) == len(run.truth)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import scrapy
from scrapy.http import HtmlResponse, Request, Response, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

OFFLINE_MIRROR = "http://127.0.0.1:1"
S = TypeVar("S", bound=scrapy.Spider)


def offline_spider(spider_cls: type[S], settings: dict[str, Any] | None = None, **kwargs: Any) -> S:
    """A spider bound to a (not started) crawler, so stats and settings work in tests."""
    kwargs.setdefault("mirror_url", OFFLINE_MIRROR)
    crawler = get_crawler(spider_cls, settings or {})
    spider = spider_cls.from_crawler(crawler, **kwargs)
    crawler.spider = spider
    return spider


def fake_response(url: str, body: str | bytes, content_type: str = "application/json",
                  status: int = 200, response_cls: type[Response] | None = None) -> Response:
    """A downloaded page as Scrapy would hand it to a callback."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    cls = response_cls or (XmlResponse if "xml" in content_type else TextResponse)
    return cls(url=url, body=data, status=status, headers={"Content-Type": content_type},
               request=Request(url), encoding="utf-8")


def saved_page(path: Path, url: str) -> HtmlResponse:
    """A saved HTML page (a test fixture) as the response Scrapy would give for ``url``."""
    return fake_response(url, path.read_text(encoding="utf-8"), "text/html; charset=utf-8", response_cls=HtmlResponse)


def split(results: Iterable[Any]) -> tuple[list[dict[str, Any]], list[Request]]:
    """A callback's output, as (items, follow-up requests)."""
    items, requests = [], []
    for r in results or []:
        (requests if isinstance(r, Request) else items).append(r)
    return items, requests


@dataclass
class DemoCrawl:
    stats: dict[str, Any]
    items: list[dict[str, Any]]
    invalid: list[dict[str, Any]]
    truth: list[dict[str, Any]]
    faults: list[dict[str, Any]]
    server_log: list[tuple[float, str, int]] = field(default_factory=list)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def crawl_demo(source: str, workdir: Path, seed: int = 7, scale: float = 1.0, run_id: str = "e2e",
               extra_settings: dict[str, str] | None = None, timeout: float = 600,
               faults: list[dict[str, Any]] | None = None, generated_faults: bool = True) -> DemoCrawl:
    """Generate ``source``'s demo site into ``workdir``, serve it, crawl it, read what landed.

    ``faults``: this source's fault plan (site-relative paths, ``scrapers.mirror.faults``),
    played after the generator's own unless ``generated_faults`` is false.
    """
    from scrapers.mirror.faults import plan_faults
    from scrapers.mirror.generate import generate
    from scrapers.mirror.server import RunningServer
    from scrapers.registry import load_sources
    from scrapers.run import crawl

    site, landing = Path(workdir) / "site", Path(workdir) / "landing"
    generate(site, seed=seed, scale=scale, sources=[source])
    extra = plan_faults({source: faults}) if faults else None
    with RunningServer(site, faults=extra, generated_faults=generated_faults) as server:
        stats = crawl(load_sources()[source], run_id, landing, mirror_url=server.base_url,
                      extra_settings=extra_settings, timeout=timeout)
        log = server.requests
    out = landing / source / run_id
    truth = [row for row in _jsonl(site / "truth.jsonl") if row["source"] == source]
    played = (json.loads((site / "faults.json").read_text()) if generated_faults else []) + (extra or [])
    return DemoCrawl(stats, _jsonl(out / "items.jsonl"), _jsonl(out / "invalid.jsonl"), truth, played, log)
