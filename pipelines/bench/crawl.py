"""Crawl throughput: the spiders against the local mirror, at the polite setting and at full speed.

``python -m pipelines.bench.crawl --size 20000 --source northfield_university --source lakeside_college``

The demo sites of the chosen sources are generated at the scale of ``size`` offerings (cached
under ``.cache/bench/<seed>-site-<size>/``, faults included: a 429 with Retry-After and a
5xx that succeeds on retry are part of a real crawl), served by
``scrapers.mirror.server.RunningServer`` on 127.0.0.1, and crawled by ``scrapers.run.crawl``
(a ``scrapy crawl`` subprocess, as the raw/<source> assets run it) twice per source:

- polite: the settings the registry gives the source (``scrapers/settings.py`` overlaid with
  the source's ``settings`` table), unchanged;
- full speed: ``CONCURRENT_REQUESTS`` and ``CONCURRENT_REQUESTS_PER_DOMAIN`` 64,
  ``DOWNLOAD_DELAY`` 0, AutoThrottle off.

Pages per second come from the crawl's own stats.json (pages / (finished_at - started_at));
wall time includes the subprocess start-up, CPU time is the crawl process's (RUSAGE_CHILDREN),
and the server (a fresh one per crawl, so that every crawl meets the same faults) runs in this
process, on the same cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

FULL_SPEED = {"CONCURRENT_REQUESTS": "64", "CONCURRENT_REQUESTS_PER_DOMAIN": "64", "DOWNLOAD_DELAY": "0",
              "AUTOTHROTTLE_ENABLED": "False"}
POLITENESS = ("CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_DELAY", "AUTOTHROTTLE_ENABLED")
DEFAULT_SOURCES = ("northfield_university", "lakeside_college")


def site_for(size: int, seed: int, sources: list[str], root: Path) -> Path:
    from normalize.bench import OFFERINGS_PER_SCALE
    from scrapers.mirror.generate import generate

    site = root / f"{seed}-site-{size}"
    manifest = site / "manifest.json"
    if manifest.is_file() and set(json.loads(manifest.read_text())["listings"]) >= set(sources):
        return site
    if site.exists():
        shutil.rmtree(site)
    generate(site, seed=seed, scale=size / OFFERINGS_PER_SCALE, sources=sources)
    return site


def effective_settings(source: Any) -> dict[str, Any]:
    """The politeness settings a registry crawl of ``source`` runs with."""
    import scrapers.settings as defaults

    merged = {k: getattr(defaults, k, None) for k in POLITENESS}
    merged.update({k: v for k, v in source.settings.items() if k in POLITENESS})
    return merged


def _children_cpu() -> tuple[float, float]:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime, u.ru_maxrss / 1024**2


def measure(size: int, seed: int, sources: list[str], root: Path) -> list[dict[str, Any]]:
    from scrapers.mirror.server import RunningServer
    from scrapers.registry import load_sources
    from scrapers.run import crawl

    registry = load_sources()
    t0 = time.perf_counter()
    site = site_for(size, seed, sources, root)
    generated = time.perf_counter() - t0
    results = []
    with tempfile.TemporaryDirectory(prefix="credcat-crawl-bench-") as tmp:
        for name in sources:
            source = registry[name]
            for mode, extra in (("polite", None), ("full speed", FULL_SPEED)):
                # A fresh server per crawl: each crawl meets the site's faults (they play per server).
                with RunningServer(site) as server:
                    cpu0, _ = _children_cpu()
                    start = time.perf_counter()
                    stats = crawl(source, f"{mode.replace(' ', '-')}", Path(tmp), mirror_url=server.base_url,
                                  extra_settings=extra)
                    wall = time.perf_counter() - start
                cpu1, peak = _children_cpu()
                began = datetime.fromisoformat(stats["started_at"]) if stats.get("started_at") else None
                ended = datetime.fromisoformat(stats["finished_at"]) if stats.get("finished_at") else None
                crawl_s = (ended - began).total_seconds() if began and ended else wall
                settings = effective_settings(source) if extra is None else {**effective_settings(source), **extra}
                results.append({
                    "source": name, "mode": mode, "pages": stats.get("pages", 0), "items": stats.get("items", 0),
                    "complete": bool(stats.get("complete")), "retries": stats.get("retries", 0),
                    "crawl_s": round(crawl_s, 2), "wall_s": round(wall, 2), "cpu_s": round(cpu1 - cpu0, 2),
                    "pages_per_s": round(stats.get("pages", 0) / max(crawl_s, 1e-9), 1),
                    "peak_rss_gb": round(peak, 2),
                    "settings": {k: str(v) for k, v in settings.items()},
                    "site_generated_s": round(generated, 1),
                })
    return results


def main(argv: list[str] | None = None) -> int:
    from normalize.bench import cache_root, prepare_cache

    parser = argparse.ArgumentParser(prog="python -m pipelines.bench.crawl", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=20_000, help="offerings of the generated catalog")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", action="append", dest="sources")
    args = parser.parse_args(argv)
    root = cache_root()
    prepare_cache(root)
    results = measure(args.size, args.seed, list(args.sources or DEFAULT_SOURCES), root)
    print(json.dumps({"crawl": results}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
