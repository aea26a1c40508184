"""Downloader middlewares: retries that honour Retry-After and back off exponentially;
redirects kept on the declared domains and out of loops; responses whose Content-Type or
charset lies read as what they are.

Order (process_response runs from the highest number down): RedirectGuard (610) sees a 3xx
before Scrapy's RedirectMiddleware (600); ContentGuard (560) sees a body after
HttpCompression (590) inflated it (within DOWNLOAD_MAXSIZE); BackoffRetry (550) last.
"""

from __future__ import annotations

import asyncio
import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response, TextResponse, XmlResponse
from scrapy.utils.response import response_status_message
from w3lib.url import safe_url_string


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


# --- redirects ----------------------------------------------------------------------------------

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def host_allowed(url: str, allowed_domains: list[str] | tuple[str, ...]) -> bool:
    """Scrapy's offsite rule: the host is an allowed domain or a subdomain of one; no
    allowed domains allows every host."""
    domains = [d for d in allowed_domains or () if d]
    if not domains:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d.lower() or host.endswith("." + d.lower()) for d in domains)


class RedirectGuardMiddleware:
    """A redirect that leaves the declared domains, or comes back to a URL of its own chain,
    fails its page (IgnoreRequest reaches the request's errback, so the crawl is marked
    incomplete) instead of being dropped silently.

    Scrapy would follow the redirect and then drop the new request at scheduling time
    (offsite filter, duplicate filter), where no errback runs: the page's records would be
    lost without the crawl knowing. Counted as ``credcat/offsite_redirects`` and
    ``credcat/redirect_loops``.
    """

    def __init__(self, crawler) -> None:  # type: ignore[no-untyped-def]
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):  # type: ignore[no-untyped-def]
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider=None):  # type: ignore[no-untyped-def]
        if response.status not in REDIRECT_STATUSES or b"Location" not in response.headers:
            return response
        if request.meta.get("dont_redirect"):
            return response
        location = safe_url_string(response.headers[b"Location"])
        if response.headers[b"Location"].startswith(b"//"):
            location = urlsplit(request.url).scheme + ":" + location
        target = urljoin(request.url, location).split("#", 1)[0]
        spider = spider or self.crawler.spider
        stats = self.crawler.stats
        allowed = list(getattr(spider, "allowed_domains", None) or [])
        if not host_allowed(target, allowed):
            stats.inc_value("credcat/offsite_redirects")
            raise IgnoreRequest(f"redirect off the allowed domains {allowed}: {request.url} -> {target}")
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if target in chain:
            stats.inc_value("credcat/redirect_loops")
            raise IgnoreRequest(f"redirect loop: {' -> '.join([*chain, target])}")
        return response


# --- Content-Type and charset ---------------------------------------------------------------------

_GENERIC_TYPES = frozenset({"", "text/plain", "application/octet-stream", "binary/octet-stream",
                            "application/unknown", "application/x-unknown", "unknown/unknown"})
_UTF8 = frozenset({"utf-8", "utf8", "unicode-1-1-utf-8"})
_SINGLE_BYTE = frozenset({"iso-8859-1", "latin-1", "latin1", "l1", "iso8859-1", "iso_8859-1", "us-ascii",
                          "ascii", "windows-1252", "cp1252", "iso-8859-15", "latin-9", "windows-1250",
                          "cp1250", "iso-8859-2"})
# A UTF-8 multi-byte sequence (2, 3 or 4 bytes), well formed.
_UTF8_MULTI = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_SNIFFED_TYPES = {"json": "application/json", "xml": "application/xml", "html": "text/html"}
_CLASSES = {"json": TextResponse, "xml": XmlResponse, "html": HtmlResponse}


def sniff_format(body: bytes) -> str | None:
    """What the body is, from its first bytes: 'json', 'xml', 'html', or None (don't know)."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head or b"\x00" in head[:512]:
        return None
    if head[:1] in (b"{", b"["):
        return "json"
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if head.startswith((b"<?xml", b"<rss", b"<feed", b"<urlset", b"<sitemapindex", b"<rdf:rdf")):
        return "html" if b"<html" in head else "xml"
    if head.startswith(b"<") and (b"<html" in head or b"<body" in head or b"<head" in head):
        return "html"
    return None


def split_content_type(value: bytes | str | None) -> tuple[str, str | None]:
    """('type/subtype' lower-cased, charset or None) of a Content-Type header."""
    text = value.decode("latin-1") if isinstance(value, bytes) else (value or "")
    parts = text.split(";")
    charset = None
    for part in parts[1:]:
        name, _, val = part.strip().partition("=")
        if name.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("'\"").lower()
    return parts[0].strip().lower(), charset


def _valid_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def charset_fix(body: bytes, charset: str | None) -> tuple[str, str] | None:
    """(charset to read the body in, what was wrong) when the declared charset is wrong.

    - declared single-byte (latin-1, windows-1252 ...) but the body is valid UTF-8 with
      multi-byte characters: UTF-8 (read as declared it would turn into mojibake);
    - declared UTF-8 but not one byte sequence of the body is UTF-8 multi-byte, and some are
      invalid: a single-byte body, read as windows-1252 (the usual mislabel). A body that mixes
      both is left to the source's ``encoding_fallback`` option.
    """
    if charset is None or body.isascii():
        return None
    if charset in _SINGLE_BYTE and _valid_utf8(body) and _UTF8_MULTI.search(body):
        return "utf-8", "utf8_declared_single_byte"
    if charset in _UTF8 and not _valid_utf8(body) and not _UTF8_MULTI.search(body):
        return "windows-1252", "single_byte_declared_utf8"
    return None


class ContentGuardMiddleware:
    """Read a response as what its body is when its headers say otherwise.

    - No Content-Type, or a generic/binary one (text/plain, application/octet-stream, an image
      type ...) over a body that is plainly JSON, XML or HTML: the type the body shows (else
      Scrapy hands the callback a binary Response, and a page of records is lost);
      also text/html over an XML feed or sitemap, and XML/JSON types over an HTML page.
    - A charset that cannot be right (``charset_fix``): the right one, so titles are not
      turned into mojibake.

    Each correction is counted (``credcat/content_fixes/<what>``) and logged; the header is
    rewritten so that spiders reading it (json_api's declared charset, feedparser) agree.
    Only http(s) responses with status 200 are looked at; saved files are read as declared.
    """

    def __init__(self, crawler) -> None:  # type: ignore[no-untyped-def]
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):  # type: ignore[no-untyped-def]
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider=None):  # type: ignore[no-untyped-def]
        if response.status != 200 or not response.body or not response.url.startswith(("http:", "https:")):
            return response
        if response.headers.get(b"Content-Encoding"):
            return response  # still compressed (an encoding Scrapy could not undo): not ours
        mime, charset = split_content_type(response.headers.get(b"Content-Type"))
        fixes: list[str] = []
        sniffed = sniff_format(response.body)
        new_mime = mime
        if sniffed is not None:
            textual = mime.startswith("text/") or mime.endswith(("+xml", "+json", "/xml", "/json", "/javascript"))
            if mime in _GENERIC_TYPES or not textual:
                new_mime = _SNIFFED_TYPES[sniffed]
                fixes.append("content_type_missing" if not mime else
                             "content_type_generic" if mime in _GENERIC_TYPES else "content_type_not_text")
            elif sniffed == "xml" and mime == "text/html":
                new_mime = "application/xml"
                fixes.append("content_type_html_for_xml")
            elif sniffed == "html" and ("xml" in mime or "json" in mime) and not mime.endswith("xhtml+xml"):
                new_mime = "text/html"
                fixes.append("content_type_not_html")
        new_charset = charset
        fix = charset_fix(response.body, charset)
        if fix is not None:
            new_charset, what = fix
            fixes.append(what)
        if not fixes:
            return response
        stats = self.crawler.stats
        for what in fixes:
            stats.inc_value(f"credcat/content_fixes/{what}")
        header = new_mime + (f"; charset={new_charset}" if new_charset else "")
        (spider or self.crawler.spider).logger.info(
            "read %s as %s (%s; declared %r)", response.url, header, ", ".join(fixes),
            response.headers.get(b"Content-Type"))
        headers = response.headers.copy()
        headers[b"Content-Type"] = header.encode("latin-1")
        cls = _CLASSES.get(sniffed or "", type(response)) if new_mime != mime else type(response)
        if not issubclass(cls, TextResponse):
            cls = TextResponse
        kwargs = {"cls": cls, "headers": headers}
        if new_charset:
            kwargs["encoding"] = new_charset
        return response.replace(**kwargs)


# --- a source's own headers (credentials from the environment) -----------------------------------


class SourceHeadersMiddleware:
    """Send the registry's ``headers`` of the source with each request to its allowed domains.

    ``${NAME}`` references are filled from the environment of the crawl process when the
    spider opens (``Source.resolved_headers``), so a credential never travels on the command
    line (``scrapy crawl -s`` settings are logged) nor into stats, logs or metadata. A request
    to any other host (a followed link, a redirect) gets none of them.
    """

    def __init__(self, crawler) -> None:  # type: ignore[no-untyped-def]
        self.crawler = crawler
        self.headers: dict[str, str] | None = None
        self.hosts: list[str] = []

    @classmethod
    def from_crawler(cls, crawler):  # type: ignore[no-untyped-def]
        return cls(crawler)

    def process_request(self, request: Request, spider=None):  # type: ignore[no-untyped-def]
        spider = spider or self.crawler.spider
        cfg = getattr(spider, "source_cfg", None)
        if cfg is None or not cfg.headers or not request.url.startswith(("http:", "https:")):
            return None
        if self.headers is None:
            self.headers = cfg.resolved_headers()
            # The hosts that get them: the allowed domains, else (none declared) the start URLs' hosts.
            self.hosts = list(getattr(spider, "allowed_domains", None) or []) or sorted(
                {urlsplit(u).hostname or "" for u in getattr(spider, "start_urls", [])} - {""})
        if self.hosts and host_allowed(request.url, self.hosts):
            for name, value in self.headers.items():
                request.headers[name] = value
        else:
            for name in self.headers:
                request.headers.pop(name, None)
        return None
