"""Writes the crawl's stats beside its items when the spider closes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from scrapy import signals

from scrapers.pipelines import landing_dir


def summarize(stats: dict, reason: str, source: str, run_id: str) -> dict:
    """The crawl stats credcat keeps, from Scrapy's stats dict."""
    status_counts = {
        k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("downloader/response_status_count/")
    }
    failed_pages = int(stats.get("credcat/failed_pages", 0))
    spider_exc = sum(v for k, v in stats.items() if k.startswith("spider_exceptions/") and isinstance(v, int))
    defects = {k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("credcat/page_defects/")}
    # Records a kind read and deliberately did not land (organizations, competencies ...), by type.
    not_offerings = {k.removeprefix("credcat/not_offerings/"): v for k, v in stats.items()
                     if k.startswith("credcat/not_offerings/")}
    started = stats.get("start_time")
    return {
        "source": source,
        "run_id": run_id,
        "started_at": started.isoformat() if hasattr(started, "isoformat") else None,
        "finished_at": datetime.now(UTC).isoformat(),
        "finish_reason": reason,
        # Complete: finished normally, every page fetched, no spider crash. Only a complete
        # crawl may close offerings that went missing.
        "complete": reason == "finished" and failed_pages == 0 and spider_exc == 0,
        "pages": int(stats.get("response_received_count", 0)),
        "items": int(stats.get("credcat/landed_items", 0)),
        "invalid_items": int(stats.get("credcat/invalid_items", 0)),
        "retries": int(stats.get("retry/count", 0)),
        "throttled": int(stats.get("credcat/throttled", 0)),
        "failed_pages": failed_pages,
        "errors": failed_pages + spider_exc,
        "bytes": int(stats.get("downloader/response_bytes", 0)),
        "status_counts": status_counts,
        "page_defects": defects,
        "not_offerings": not_offerings,
        "failed_urls": list(stats.get("credcat/failed_urls", [])),
        "robots_forbidden": int(stats.get("robotstxt/forbidden", 0)),
        "offsite_filtered": int(stats.get("offsite/filtered", 0)),
        # What went wrong on the way, by kind: pages lost for good (http_503, timeout, oversize,
        # offsite_redirect, redirect_loop, robots_disallowed ...), retried failures (by
        # exception or status), responses read as what they are rather than as declared.
        "page_failures": _by_suffix(stats, "credcat/page_failures/"),
        "retry_reasons": _by_suffix(stats, "retry/reason_count/"),
        "content_fixes": _by_suffix(stats, "credcat/content_fixes/"),
        "offsite_redirects": int(stats.get("credcat/offsite_redirects", 0)),
        "redirect_loops": int(stats.get("credcat/redirect_loops", 0)),
        "duplicates_filtered": int(stats.get("dupefilter/filtered", 0)),
        "dropped_requests": int(stats.get("credcat/dropped_requests", 0)),
        "unserializable_items": int(stats.get("credcat/unserializable_items", 0)),
    }


def _by_suffix(stats: dict, prefix: str) -> dict[str, int]:
    return {k.removeprefix(prefix).rsplit(".", 1)[-1]: int(v) for k, v in stats.items()
            if k.startswith(prefix) and isinstance(v, int | float)}


class CrawlStatsWriter:
    def __init__(self, crawler) -> None:  # type: ignore[no-untyped-def]
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):  # type: ignore[no-untyped-def]
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.request_dropped, signal=signals.request_dropped)
        return ext

    def request_dropped(self, request, spider=None) -> None:  # type: ignore[no-untyped-def]
        """A request the scheduler refused (the duplicate filter): no errback runs for it.

        A URL requested twice is harmless (its records were read the first time); a redirect
        dropped here ended on a page already read. Both are counted, neither fails the crawl:
        redirects that would lose a page (offsite, loops) are failed before they get here
        (``RedirectGuardMiddleware``).
        """
        self.crawler.stats.inc_value("credcat/dropped_requests")

    def spider_closed(self, spider, reason: str) -> None:  # type: ignore[no-untyped-def]
        settings = self.crawler.settings
        run_id = settings.get("CREDCAT_RUN_ID") or "adhoc"
        source = getattr(spider, "source_name", spider.name)
        out = landing_dir(settings.get("CREDCAT_LANDING_DIR"), source, run_id)
        out.mkdir(parents=True, exist_ok=True)
        summary = summarize(self.crawler.stats.get_stats(), reason, source, run_id)
        tmp = Path(out) / "stats.json.tmp"
        tmp.write_text(json.dumps(summary, indent=1, default=str))
        tmp.replace(Path(out) / "stats.json")
