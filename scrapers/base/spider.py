"""The base of every credcat spider: registry wiring, provenance, page defects.

Spiders extract; they never normalize. A spider yields plain dicts of RawOffering fields
(built with ``self.offering(...)``); the landing pipeline validates and writes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response

from scrapers.registry import Source, load_sources

MAX_FAILED_URLS_KEPT = 50


def failure_kind(failure: Any) -> str:
    """A short name for why a page could not be fetched (the crawl stats count them)."""
    value = getattr(failure, "value", failure)
    response = getattr(value, "response", None)
    if response is not None:
        return f"http_{response.status}"
    name = type(value).__name__
    text = str(value)
    if name == "IgnoreRequest":
        for needle, kind in (("robots.txt", "robots_disallowed"), ("off the allowed domains", "offsite_redirect"),
                             ("offsite", "offsite_redirect"), ("redirect loop", "redirect_loop"),
                             ("max redirections", "redirect_loop"), ("during decompression", "decompression_bomb"),
                             ("DOWNLOAD_MAXSIZE", "oversize"), ("saved-file source", "local_only")):
            if needle in text:
                return kind
        return "ignored"
    kinds = {"DownloadTimeoutError": "timeout", "TimeoutError": "timeout", "TCPTimedOutError": "timeout",
             "ResponseDataLossError": "data_loss", "DownloadCancelledError": "oversize",
             "CancelledError": "oversize", "ConnectionLost": "connection", "ConnectionDone": "connection",
             "ConnectionRefusedError": "connection", "DownloadConnectionRefusedError": "connection",
             "ConnectError": "connection", "DownloadFailedError": "connection", "ResponseNeverReceived": "connection",
             "ResponseFailed": "connection", "CannotResolveHostError": "dns", "DNSLookupError": "dns"}
    if name in kinds:
        return kinds[name]
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "error"


class CredcatSpider(scrapy.Spider):
    """Reads its start URLs and domains from the source registry entry of the same name.

    Crawl arguments (``scrapy crawl NAME -a mirror_url=... -a registry=...``):
    ``mirror_url`` replaces ``{mirror}`` in the registry's start URLs; ``registry`` points at
    another sources.toml; ``source`` runs this spider for another registry entry of the same
    kind.
    """

    kind: str = "base"

    def __init__(self, *args: Any, mirror_url: str | None = None, registry: str | None = None,
                 source: str | Source | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(source, Source):  # an ad hoc source (credcat parse, tests): no registry
            self.source_cfg: Source = source
        else:
            name = source or self.name
            sources = load_sources(registry) if registry else load_sources()
            if name not in sources:
                raise ValueError(f"source {name!r} is not in the registry")
            self.source_cfg = sources[name]
        self.source_name = self.source_cfg.name
        self.mirror_url = mirror_url
        self.start_urls = self.source_cfg.resolved_start_urls(mirror_url)
        self.allowed_domains = list(self.source_cfg.allowed_domains)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error)

    def on_error(self, failure: Any) -> None:
        """A page that could not be fetched after retries: counted, so the run is incomplete.

        Every way a page can be lost lands here (HTTP error after retries, network error,
        robots.txt or offsite refusal): any of them means the crawl did not see the whole
        catalog, so it must not close offerings that went missing.
        """
        request = getattr(failure, "request", None)
        if self.source_cfg.local_only and request is not None and not request.url.startswith("file:"):
            return  # a saved file's online link, deliberately not followed (LocalOnlyMiddleware)
        response = getattr(getattr(failure, "value", None), "response", None)
        if response is not None:
            reason = f"HTTP {response.status}"
        elif hasattr(failure, "getErrorMessage"):
            reason = f"{type(failure.value).__name__}: {failure.getErrorMessage()}"
        else:
            reason = str(failure)
        origin = (request.meta.get("redirect_urls") or [None])[0] if request is not None else None
        self.failed_page(origin or (request.url if request is not None else "?"), reason, failure_kind(failure))

    def failed_page(self, url: str, reason: str, kind: str = "unreadable_page") -> None:
        """Count a page whose records could not be read; its URL is kept in the stats, and
        ``kind`` (timeout, http_503, oversize ... or unreadable_page) counted per kind."""
        stats = self.crawler.stats
        stats.inc_value("credcat/failed_pages")
        stats.inc_value(f"credcat/page_failures/{kind}")
        failed = stats.get_value("credcat/failed_urls") or []
        if len(failed) < MAX_FAILED_URLS_KEPT:
            stats.set_value("credcat/failed_urls", [*failed, f"{url} ({reason})"])
        self.logger.warning("page failed: %s (%s)", url, reason)

    def run_id(self) -> str:
        return self.settings.get("CREDCAT_RUN_ID") or "adhoc"

    def offering(self, response: Response | None, source_key: Any, payload: Any, **fields: Any) -> dict[str, Any]:
        """One raw record: provenance plus the fields exactly as the source gave them."""
        item: dict[str, Any] = {
            "source": self.source_name,
            "source_key": None if source_key is None else str(source_key),
            "url": fields.pop("url", None) or (response.url if response is not None else None),
            "fetched_at": datetime.now(UTC).isoformat(),
            "run_id": self.run_id(),
            "payload": payload if isinstance(payload, dict) else {"value": payload},
        }
        if fields.get("platform") is None and self.source_cfg.platform:
            fields["platform"] = self.source_cfg.platform
        item.update({k: v for k, v in fields.items() if v is not None})
        return item

    def page_defect(self, response: Response, code: str, detail: str = "") -> str:
        """Record a defect of a page (kept in stats; the caller puts it on the page's records)."""
        self.crawler.stats.inc_value(f"credcat/page_defects/{code}")
        self.logger.info("page defect %s at %s: %s", code, response.url, detail[:200])
        return code


def json_or_defect(spider: CredcatSpider, response: Response) -> Any:
    """Parse a JSON response body; an unparseable body is a page defect, not a crash."""
    try:
        return json.loads(response.text)
    except (ValueError, AttributeError, RecursionError) as exc:
        spider.page_defect(response, "invalid_json_body", f"{type(exc).__name__}: {exc}"[:500])
        # A listing page we cannot read hides its records: the crawl is not complete.
        spider.failed_page(response.url, "invalid JSON body")
        return None
