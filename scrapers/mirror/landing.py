"""The demo catalog at any scale, straight into the landing format: no server, no HTTP.

``write_landing(out, seed, scale)`` generates the demo sites (``scrapers.mirror.generate``)
and feeds every page to the registered spiders' own callbacks, offline: each request a
spider yields is answered from the generated files (``routes.json``), and each item goes
through the same ``LandingPipeline`` as a crawl, into ``<out>/landing/<source>/<run_id>/
items.jsonl`` (and ``invalid.jsonl``, and the landing index ``items.index.parquet`` the
pipeline saves when the spider closes). So the records are exactly what the spiders extract
from the formats, dirt included, at a size no crawl of the local mirror would reach in a
benchmark's time. The generator's truth is copied beside it (``truth.jsonl``).

Injected faults (``faults.json``) are a server's business and are not replayed here. Sources
run one per process, in parallel (``workers``), because spider callbacks are CPU-bound.

    python -m scrapers.mirror.landing OUT --scale 45 [--seed 7] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.http import HtmlResponse, Response, TextResponse, XmlResponse

BASE_URL = "http://mirror.invalid"


def _response(request: Request, site: Path, routes: dict[str, dict[str, str]]) -> Response | None:
    path = request.url.removeprefix(BASE_URL)
    route = routes.get(path)
    if route is None:
        return None
    body = (site / route["file"]).read_bytes().replace(b"{{BASE}}", BASE_URL.encode())
    ctype = route["content_type"]
    cls = HtmlResponse if "html" in ctype else XmlResponse if "xml" in ctype else TextResponse
    return cls(url=request.url, body=body, headers={"Content-Type": ctype}, request=request, status=200)


async def _start_requests(spider: Any) -> list[Request]:
    return [r async for r in spider.start()]


def land_source(name: str, site: Path, landing: Path, run_id: str, registry: str | None = None) -> dict[str, Any]:
    """Drive one source's spider over the generated files; write its landing files."""
    import os

    from scrapy.utils.project import get_project_settings
    from scrapy.utils.test import get_crawler

    from scrapers.pipelines import LandingPipeline
    from scrapers.registry import load_sources
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "scrapers.settings")
    settings = get_project_settings()
    from scrapy.spiderloader import SpiderLoader

    source = load_sources(registry)[name]
    spider_cls = SpiderLoader.from_settings(settings).load(source.spider)
    crawler = get_crawler(spider_cls, {"CREDCAT_LANDING_DIR": str(landing), "CREDCAT_RUN_ID": run_id})
    kwargs: dict[str, Any] = {"source": name, "mirror_url": BASE_URL}
    if registry:
        kwargs["registry"] = registry
    spider = spider_cls.from_crawler(crawler, **kwargs)
    crawler.spider = spider
    routes = json.loads((site / "routes.json").read_text())
    pipe = LandingPipeline.from_crawler(crawler)
    pipe.open_spider(spider)
    queue: deque[Request] = deque(asyncio.run(_start_requests(spider)))
    seen: set[str] = set()
    pages = items = missing = 0
    try:
        while queue:
            request = queue.popleft()
            if request.url in seen and not request.dont_filter:
                continue
            seen.add(request.url)
            response = _response(request, site, routes)
            if response is None:
                missing += 1
                if request.errback is not None:
                    continue  # a 404 the spider would record; nothing to parse
                continue
            pages += 1
            callback = request.callback or spider.parse
            for out in callback(response, **(request.cb_kwargs or {})) or []:
                if isinstance(out, Request):
                    queue.append(out)
                else:
                    pipe.process_item(out)
                    items += 1
    finally:
        pipe.close_spider(spider)
    return {"source": name, "pages": pages, "items": items, "unrouted_requests": missing}


def write_landing(out: Path, seed: int = 7, scale: float = 1.0, run_id: str = "bench", workers: int = 2) -> dict[str, Any]:
    """Generate the demo catalog at ``scale`` and land every demo source offline into ``out``."""
    from scrapers.mirror.generate import GENERATOR_VERSION, generate
    from scrapers.registry import load_sources

    out = Path(out)
    site = out / "site"
    if site.exists():
        shutil.rmtree(site)
    t0 = time.perf_counter()
    generate(site, seed=seed, scale=scale)
    generated = time.perf_counter() - t0
    landing = out / "landing"
    if landing.exists():
        shutil.rmtree(landing)
    names = [n for n, s in load_sources().items() if any("{mirror}" in u for u in s.start_urls)]
    t0 = time.perf_counter()
    # Fresh worker processes, not forks: the landing pipeline fingerprints lines with Polars,
    # whose thread pool a forked child of a process that used it can deadlock on.
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(land_source, names, [site] * len(names), [landing] * len(names), [run_id] * len(names)))
    landed = time.perf_counter() - t0
    shutil.copy(site / "truth.jsonl", out / "truth.jsonl")
    shutil.rmtree(site)
    summary = {"seed": seed, "scale": scale, "run_id": run_id, "generator_version": GENERATOR_VERSION,
               "generate_s": round(generated, 1),
               "land_s": round(landed, 1), "sources": results,
               "items": sum(r["items"] for r in results)}
    (out / "landing.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    print(json.dumps(write_landing(args.out, args.seed, args.scale, workers=args.workers), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
