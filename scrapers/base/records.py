"""What the declarative kinds share: a field map, a record key, one hook, kind options.

A kind (json_api, rss_feed, file_drop) finds the records of a page; this base turns each
into an item. A source declares, as class attributes or in its registry entry:

- ``field_map``: RawOffering field -> path in the record (see ``scrapers.base.fields``); the
  registry's ``field_map`` extends and overrides the class's.
- ``key_path``: where the source's own identifier of the record sits.
- ``record_url_base``: base for records' relative URLs (``/course/x/`` on an API host).
- kind options (``option_names`` of the kind), set from the registry's ``options``.

and, where a mapping is more than paths, overrides one hook::

    def record(self, response, obj) -> dict | None:
        fields = super().record(response, obj)   # field_map + source_key
        fields["prices"] = [...]                 # raw values only: no mapping, no cleaning
        return fields

Returning ``None`` says "not a record" (an aggregate row, a channel entry). A hook that
raises never stops the crawl: the record is kept with its key and payload and marked
``unreadable_record``.

Listing pages are requested through ``page_request``: a URL is never requested twice (a
``pagination_loop`` defect instead) and at most ``max_pages`` are requested (reaching the
cap leaves the crawl incomplete: there was more to read).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response
from w3lib.url import canonicalize_url

from scrapers.base.fields import as_text, check_field_map, dig, extract
from scrapers.base.spider import CredcatSpider


class RecordSpider(CredcatSpider):
    """A spider of a declarative kind: records found by the kind, mapped by declaration."""

    field_map: ClassVar[Mapping[str, str | list[str]]] = {}
    key_path: str = "id"
    record_url_base: str | None = None
    max_pages: int = 5000
    request_headers: ClassVar[dict[str, str]] = {}
    # Kind options a registry entry may set (``options = {...}`` in sources.toml).
    option_names: ClassVar[frozenset[str]] = frozenset({"key_path", "record_url_base", "max_pages"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requested_pages: set[str] = set()
        self.field_map = {**type(self).field_map, **self.source_cfg.field_map}
        check_field_map(self.field_map, f"source {self.source_name}")
        unknown = sorted(set(self.source_cfg.options) - self.option_names)
        if unknown:
            raise ValueError(
                f"source {self.source_name}: options {unknown} are not options of kind {self.kind} "
                f"(known: {sorted(self.option_names)})"
            )
        for name, value in self.source_cfg.options.items():
            setattr(self, name, value)

    # --- listing pages -------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.start_urls:
            request = self.page_request(url)
            if request is not None:
                yield request

    def page_request(self, url: str) -> scrapy.Request | None:
        """The request of a listing page, unless it was requested before or the cap is reached."""
        key = canonicalize_url(url)
        if key in self.requested_pages:
            self.crawler.stats.inc_value("credcat/page_defects/pagination_loop")
            self.logger.warning("pagination loop: %s was requested before", url)
            return None
        if len(self.requested_pages) >= int(self.max_pages):
            self.crawler.stats.inc_value("credcat/page_defects/page_cap_reached")
            self.failed_page(url, f"page cap {self.max_pages} reached")
            return None
        self.requested_pages.add(key)
        return scrapy.Request(url, callback=self.parse, errback=self.on_error, headers=dict(self.request_headers))

    # --- the hook ----------------------------------------------------------------------------

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        """The RawOffering fields of one source record (plus ``source_key``)."""
        fields = extract(obj, self.field_map)
        fields["source_key"] = self.key_of(obj)
        return fields

    def key_of(self, obj: Any) -> str | None:
        return as_text(dig(obj, self.key_path))

    # --- what the kinds call -------------------------------------------------------------------

    def emit(self, response: Response, obj: Any, page_defects: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """The item of one record: the hook's fields, provenance, payload, defects."""
        defects = list(page_defects or [])
        try:
            fields = self.record(response, obj)
        except Exception as exc:  # one broken record never stops the crawl
            self.page_defect(response, "unreadable_record", f"{type(exc).__name__}: {exc}")
            try:
                key = self.key_of(obj)
            except Exception:
                key = None
            fields = {"source_key": key}
            defects.append("unreadable_record")
        if fields is None:
            return
        fields = dict(fields)
        key = fields.pop("source_key", None)
        defects.extend(fields.pop("page_defects", None) or [])
        if fields.get("url"):
            fields["url"] = urljoin(self.record_url_base or response.url, fields["url"])
        payload = obj if isinstance(obj, dict) else {"value": obj}
        yield self.offering(response, key, payload, page_defects=defects or None, **fields)
