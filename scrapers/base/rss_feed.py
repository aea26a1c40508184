"""Kind ``rss_feed``: RSS 2.0 / RSS 1.0 / Atom course feeds, paginated or not.

Parsed with feedparser (lenient: a feed that is not well-formed XML is still read, and the
page is marked ``malformed_feed``), with HTML sanitizing and URI resolution off, so values
stay as the feed wrote them. Each entry reaches the hook as a plain dict in feedparser's
keys: ``title``, ``summary`` (RSS description), ``link``, ``id`` (guid), ``published``,
``tags`` ..., and namespaced elements as ``<prefix>_<name>`` (``<course:effort>`` ->
``course_effort``), their text untouched.

Pages, first match wins:

1. ``atom:link rel="next"`` in the channel (edX's course feed): followed while present.
2. ``page_param`` (default ``page``), for feeds without paging links: the page number in
   that query parameter (``first_page`` when absent) is increased while pages have items;
   a page with no items ends it. A feed that has paging links (first/last/prev) but no
   ``next`` is on its last page.

A URL is never requested twice and at most ``max_pages`` pages are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser
from scrapy.http import Response

from scrapers.base.records import RecordSpider

PAGING_RELS = {"next", "previous", "prev", "first", "last"}


def plain(value: Any) -> Any:
    """A feedparser value as plain JSON data (FeedParserDict -> dict; parsed times dropped)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if not str(k).endswith("_parsed")}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class RssFeedSpider(RecordSpider):
    kind = "rss_feed"

    key_path = "id"
    field_map: ClassVar[dict[str, str | list[str]]] = {"title": "title", "description": "summary", "url": "link"}
    page_param: str | None = "page"
    first_page: int = 0
    request_headers: ClassVar[dict[str, str]] = {
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}

    option_names: ClassVar[frozenset[str]] = RecordSpider.option_names | {"page_param", "first_page"}

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        feed = feedparser.parse(
            response.body,
            response_headers={k.decode().lower(): response.headers.get(k).decode("latin-1")
                              for k in response.headers},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
        defects: list[str] = []
        if feed.get("bozo"):
            if not feed.get("version") and not feed.entries:
                self.page_defect(response, "not_a_feed", str(feed.get("bozo_exception")))
                self.failed_page(response.url, "not a feed")
                return
            defects.append(self.page_defect(response, "malformed_feed", str(feed.get("bozo_exception"))))
        for entry in feed.entries:
            yield from self.emit(response, plain(entry), defects)
        next_url = self.next_page_url(response, feed)
        if next_url:
            request = self.page_request(next_url)
            if request is not None:
                yield request

    def next_page_url(self, response: Response, feed: Any) -> str | None:
        links = [link for link in feed.feed.get("links", []) if link.get("rel") in PAGING_RELS]
        nxt = next((link.get("href") for link in links if link.get("rel") == "next" and link.get("href")), None)
        if nxt:
            return response.urljoin(nxt)
        if links or not self.page_param or not feed.entries:
            return None
        parts = urlsplit(response.url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        current = next((v for k, v in query if k == self.page_param), None)
        try:
            page = int(current) if current is not None else int(self.first_page)
        except ValueError:
            return None
        query = [(k, v) for k, v in query if k != self.page_param] + [(self.page_param, str(page + 1))]
        return urlunsplit(parts._replace(query=urlencode(query)))
