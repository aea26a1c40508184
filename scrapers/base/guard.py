"""One broken record never stops a page: the record is kept, marked, and the crawl goes on.

The declarative kinds get this from ``RecordSpider.emit``; the page-reading kinds
(sitemap_jsonld, courseleaf, ctdl_registry, html_pages) map records with their own hooks
and call ``guarded`` around each one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scrapy.http import Response

from scrapers.base.spider import CredcatSpider


def guarded(spider: CredcatSpider, response: Response, key: Any, payload: Any,
            build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``build()``'s item; if the mapping raises, the record with its key and payload, marked."""
    try:
        return build()
    except Exception as exc:  # a hook's bug or a shape never seen: keep the record, say why
        spider.page_defect(response, "unreadable_record", f"{type(exc).__name__}: {exc}")
        return spider.offering(response, key, payload, page_defects=["unreadable_record"])
