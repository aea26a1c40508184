"""Kind ``rss_feed``: RSS 2.0 / RSS 1.0 / Atom course feeds, paginated or not.

Parsed with feedparser (lenient: a feed that is not well-formed XML is still read, and the
page is marked ``malformed_feed``), with HTML sanitizing and URI resolution off, so values
stay as the feed wrote them. Each entry reaches the hook as a plain dict in feedparser's
keys: ``title``, ``summary`` (RSS description), ``link``, ``id`` (guid), ``published``,
``tags`` ..., and namespaced elements as ``<prefix>_<name>`` (``<course:effort>`` ->
``course_effort``), their text untouched. A namespaced element with attributes keeps both,
the way feedparser keeps a title's: ``<course:price currency="USD">10</course:price>`` gives
``course_price = "10"`` and ``course_price_detail = {"currency": "USD", "value": "10"}``
(a list of each when the element repeats; an element with attributes and no text stays its
attributes' dict). When ``prices`` is mapped to such an element, its ``currency`` attribute
becomes the price's currency.

A ``link`` feedparser copied from a ``guid``/``id`` that is not a web URL (``<guid>1</guid>``,
``urn:uuid:...``) is taken back: such an entry has no link, and its item has the feed's URL.

Keys: ``key_path`` (default ``id``, the guid); an entry without one is keyed by its guid, else
its link (made absolute), else ``sha1:`` and a hash of its title, summary and date (of the
whole entry when it has none of these). Two entries with the same key are both landed (the
later one becomes a ``duplicate_source_key`` reject in normalize, as for every declarative
kind).

Pages, first match wins:

1. ``atom:link rel="next"`` in the channel (edX's course feed): followed while present.
2. ``page_param`` (default ``page``), for feeds without paging links: the page number in
   that query parameter (``first_page`` when absent) is increased while pages have items;
   a page with no items ends it. A feed that has paging links (first/last/prev) but no
   ``next`` is on its last page.

Either way a page that brings no entry not seen before in the crawl (by key) ends its walk
and lands nothing (its entries have landed already). When it repeats the page before it
(the same keys: an ordinary feed that ignores ``?page=N``, or a server that serves its last
page for any page number beyond it) that is the feed's normal end; any other repeat is a
``pagination_loop`` page defect. Neither leaves the crawl incomplete.

A URL is never requested twice and at most ``max_pages`` pages are read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
from feedparser.api import StrictFeedParser
from lxml import etree
from scrapy.http import Response

from scrapers.base.fields import as_text, as_text_list, dig, extract
from scrapers.base.records import RecordSpider

PAGING_RELS = {"next", "previous", "prev", "first", "last"}
# Elements that hold an entry (RSS 0.9x/2.0 item, RSS 1.0 item, Atom entry), by namespace.
# (lower-cased namespace, local name)
ENTRY_TAGS = {("", "item"), ("http://purl.org/rss/1.0/", "item"), ("http://my.netscape.com/rdf/simple/0.9/", "item"),
              ("http://www.w3.org/2005/atom", "entry"), ("http://purl.org/atom/ns#", "entry")}
# feedparser's prefixes of the namespaces it knows (lower-cased URI -> prefix).
KNOWN_PREFIXES = {uri.lower(): prefix for uri, prefix in StrictFeedParser.namespaces.items()}
PREVIOUS_KEYS = "rss_feed_previous_keys"  # request meta: a digest of the keys of the page before


def plain(value: Any) -> Any:
    """A feedparser value as plain JSON data (FeedParserDict -> dict; parsed times dropped)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if not str(k).endswith("_parsed")}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def is_web_url(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    parts = urlsplit(text.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def digest(values: Any) -> str:
    return hashlib.sha1(json.dumps(values, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def lost_text_keys(entry: dict[str, Any]) -> set[str]:
    """Keys where feedparser kept only the attributes of a namespaced element it has no
    handler for (it drops such an element's text)."""
    return {k for k, v in entry.items()
            if isinstance(v, dict) and "_" in k and not k.endswith("_detail")
            and not hasattr(StrictFeedParser, f"_start_{k}")}


def entry_elements(body: bytes, encoding: str | None) -> list[Any] | None:
    """The entry elements of a feed read by lxml (recovering), or None when it cannot be read."""
    for enc in ([encoding] if encoding else []) + [None]:
        try:
            parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, encoding=enc)
            root = etree.fromstring(body, parser)
        except (etree.LxmlError, LookupError, ValueError):
            continue
        if root is None:
            continue
        found = []
        for el in root.iter(etree.Element):
            q = etree.QName(el)
            if ((q.namespace or "").lower(), q.localname.lower()) in ENTRY_TAGS:
                found.append(el)
        return found
    return None


def namespaced_children(element: Any) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """(text, attributes) of an entry's namespaced child elements, under feedparser's key."""
    out: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for child in element.iterchildren(etree.Element):
        q = etree.QName(child)
        if not q.namespace:
            continue
        prefix = KNOWN_PREFIXES.get(q.namespace.lower(), child.prefix or "")
        if not prefix:
            continue
        text = "".join(child.itertext()).strip()
        attrs = {etree.QName(k).localname.lower(): v for k, v in child.attrib.items()}
        out.setdefault(f"{prefix}_{q.localname}".lower(), []).append((text, attrs))
    return out


def restore_namespaced_text(entries: list[dict[str, Any]], body: bytes, encoding: str | None) -> None:
    """Give back the text feedparser dropped from namespaced elements with attributes:
    ``<name>`` the text, ``<name>_detail`` the attributes and ``value`` (lists when repeated)."""
    lost = [lost_text_keys(e) for e in entries]
    if not any(lost):
        return
    elements = entry_elements(body, encoding)
    if elements is None or len(elements) != len(entries):
        return  # entries cannot be matched one to one: keep what feedparser read
    for entry, keys, element in zip(entries, lost, elements, strict=True):
        if not keys:
            continue
        children = namespaced_children(element)
        for key in keys:
            found = [(text, attrs) for text, attrs in children.get(key, []) if text]
            if not found or f"{key}_detail" in entry:
                continue
            details = [{**attrs, "value": text} for text, attrs in found]
            if len(found) == 1:
                entry[key], entry[f"{key}_detail"] = found[0][0], details[0]
            else:
                entry[key], entry[f"{key}_detail"] = [text for text, _ in found], details


class RssFeedSpider(RecordSpider):
    kind = "rss_feed"

    key_path = "id"
    field_map: ClassVar[dict[str, str | list[str]]] = {"title": "title", "description": "summary", "url": "link"}
    page_param: str | None = "page"
    first_page: int = 0
    request_headers: ClassVar[dict[str, str]] = {
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}

    option_names: ClassVar[frozenset[str]] = RecordSpider.option_names | {"page_param", "first_page"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen_keys: set[str] = set()

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
        entries = [self.entry(e) for e in feed.entries]
        restore_namespaced_text(entries, response.body, feed.get("encoding"))
        base = self.record_url_base or response.url
        keys = [self.entry_key(e, base) for e in entries]
        if entries and self.seen_keys.issuperset(keys):
            self.repeated_page(response, keys)
            return
        self.seen_keys.update(keys)
        for entry in entries:
            yield from self.emit(response, entry, defects)
        next_url = self.next_page_url(response, feed)
        if next_url:
            request = self.page_request(next_url)
            if request is not None:
                request.meta[PREVIOUS_KEYS] = digest(sorted(set(keys)))
                yield request

    def entry(self, raw: Any) -> dict[str, Any]:
        """One feedparser entry as a plain dict, without a link feedparser made of a non-URL guid."""
        entry = plain(raw)
        if entry.get("guidislink") and entry.get("link") == entry.get("id") and not is_web_url(entry.get("link")):
            del entry["link"]
        return entry

    def repeated_page(self, response: Response, keys: list[str]) -> None:
        """A page of entries all seen before: the walk ends here, the page lands nothing."""
        if response.meta.get(PREVIOUS_KEYS) in (None, digest(sorted(set(keys)))):
            # The page before again (a feed that ignores the page number, a last page served
            # for any number beyond it) or a start page already read: the normal end.
            self.crawler.stats.inc_value("credcat/paging_ends/repeated_page")
            self.logger.info("feed paging ends at %s: it repeats entries already read", response.url)
        else:
            self.page_defect(response, "pagination_loop", f"{response.url} repeats entries of earlier pages")

    # --- keys and fields --------------------------------------------------------------------

    def entry_key(self, entry: Any, base: str | None = None) -> str:
        """``key_path``, else the guid, else the absolute link, else a hash of the entry's text."""
        key = super().key_of(entry)
        if key is not None or not isinstance(entry, dict):
            return key if key is not None else "sha1:" + digest(entry)
        key = as_text(entry.get("id"))
        if key is not None:
            return key
        link = as_text(entry.get("link"))
        if link is not None:
            return urljoin(base, link.strip()) if base else link.strip()
        text = [as_text(entry.get(k)) for k in ("title", "summary", "published")]
        return "sha1:" + digest(text if any(text) else entry)

    def key_of(self, obj: Any) -> str | None:
        return self.entry_key(obj, self.record_url_base)

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        fields = extract(obj, self.field_map)
        fields["source_key"] = self.entry_key(obj, self.record_url_base or response.url)
        if fields.get("prices") and isinstance(obj, dict):
            fields["prices"] = self.prices_with_currency(obj, fields["prices"])
        return fields

    def prices_with_currency(self, obj: dict[str, Any], prices: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The mapped prices, each with the ``currency`` attribute of its element if it has one."""
        paths = self.field_map.get("prices")
        out: list[dict[str, Any]] = []
        for path in [paths] if isinstance(paths, str) else list(paths or []):
            texts = as_text_list(dig(obj, path))
            details = obj.get(f"{path}_detail")
            details = details if isinstance(details, list) else [details] * len(texts)
            for text, detail in zip(texts, details, strict=False):
                currency = as_text(detail.get("currency")) if isinstance(detail, dict) else None
                out.append({"text": text, "currency": currency} if currency else {"text": text})
        return out if len(out) == len(prices) else prices

    # --- pages ------------------------------------------------------------------------------

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
