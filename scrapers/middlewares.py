"""Downloader middlewares: retries that honour Retry-After and back off exponentially."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.response import response_status_message


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry, plus: wait what Retry-After says (capped), else exponential backoff.

    Scrapy retries 429 at once by default, which a throttling server answers with another 429.
    """

    def __init__(self, settings):  # type: ignore[no-untyped-def]
        super().__init__(settings)
        self.base = settings.getfloat("CREDCAT_BACKOFF_BASE", 0.5)
        self.cap = settings.getfloat("CREDCAT_BACKOFF_MAX", 30.0)
        self.retry_after_cap = settings.getfloat("CREDCAT_RETRY_AFTER_MAX", 120.0)

    def delay_for(self, request: Request, response: Response | None) -> float:
        attempt = request.meta.get("retry_times", 0)
        if response is not None:
            wait = retry_after_seconds(response.headers.get(b"Retry-After"))
            if wait is not None:
                return min(wait, self.retry_after_cap)
        backoff = min(self.cap, self.base * (2**attempt))
        return backoff * (0.5 + random.random() / 2)  # jitter: never a thundering herd

    async def process_response(self, request: Request, response: Response, spider=None):  # type: ignore[no-untyped-def,override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        delay = self.delay_for(request, response)
        if response.status == 429:
            self.crawler.stats.inc_value("credcat/throttled")
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        if delay > 0:
            await asyncio.sleep(delay)
        return retry

    async def process_exception(self, request: Request, exception: Exception, spider=None):  # type: ignore[no-untyped-def,override]
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            await asyncio.sleep(self.delay_for(request, None))
        return retry


class LocalOnlyMiddleware:
    """For sources read from saved files (``location`` only): a saved API page still names its
    online next page; that link is recorded, not fetched, so an offline read stays complete."""

    def __init__(self, crawler) -> None:  # type: ignore[no-untyped-def]
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):  # type: ignore[no-untyped-def]
        return cls(crawler)

    def process_request(self, request: Request, spider=None):  # type: ignore[no-untyped-def]
        spider = spider or self.crawler.spider
        cfg = getattr(spider, "source_cfg", None)
        if cfg is not None and cfg.local_only and not request.url.startswith("file:"):
            self.crawler.stats.inc_value("credcat/links_not_followed")
            raise IgnoreRequest(f"saved-file source: not following {request.url}")
        return None
