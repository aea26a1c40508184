"""Kind ``json_api``: a paginated JSON API that lists records (edX, Udemy, Udacity, ...).

Declare where the records are and how the next page is found::

    class OpencourseApiSpider(JsonApiSpider):
        name = "opencourse_api"
        results_path = "results"              # dotted; "" when the body is the list itself
        next_path = "pagination.next"         # dotted path to the next page's URL
        key_path = "id"
        field_map = {"title": "name", "awarding_body": "org", ...}

Pagination, first match wins:

1. ``next_path``: the body names the next page (absolute or relative URL); none ends it.
2. ``page_param``: page-number pagination: the current page number is read from that query
   parameter of the page's URL (``first_page`` when absent) and increased by one while the
   body's ``page_count_path`` (number of pages) or ``record_count_path`` (number of records,
   with ``page_size``) says there are more, or, when the body says neither, while pages keep
   returning records.

Guards: a page URL is never requested twice (a ``next`` that points back is a
``pagination_loop`` defect and ends the crawl), and at most ``max_pages`` pages are
requested (reaching the cap leaves the crawl incomplete). ``results_path`` may list several
paths (Udacity's catalog has ``courses`` and ``degrees``); a page whose results are missing
altogether counts as a failed page, so its crawl is not complete.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy.http import Response

from scrapers.base.fields import dig
from scrapers.base.records import RecordSpider
from scrapers.base.spider import json_or_defect


class JsonApiSpider(RecordSpider):
    kind = "json_api"

    results_path: str | list[str] = "results"
    next_path: str | None = "next"
    page_param: str | None = None
    first_page: int = 1
    page_count_path: str | None = None
    record_count_path: str | None = None
    page_size: int | None = None
    request_headers: ClassVar[dict[str, str]] = {"Accept": "application/json"}

    option_names: ClassVar[frozenset[str]] = RecordSpider.option_names | {
        "results_path", "next_path", "page_param", "first_page", "page_count_path",
        "record_count_path", "page_size",
    }

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        data = json_or_defect(self, response)
        if data is None:
            return
        records, found = self.results(data)
        if not found:
            self.page_defect(response, "results_missing", f"no records at {self.results_path!r}")
            self.failed_page(response.url, "no results in the body")
        for obj in records:
            yield from self.emit(response, obj)
        next_url = self.next_page_url(response, data, len(records))
        if next_url:
            request = self.page_request(next_url)
            if request is not None:
                yield request

    def results(self, data: Any) -> tuple[list[Any], bool]:
        """The records of a page, and whether any results path was there at all."""
        paths = [self.results_path] if isinstance(self.results_path, str) else list(self.results_path)
        records: list[Any] = []
        found = False
        for path in paths:
            value = dig(data, path)
            if value is None:
                continue
            found = True
            records.extend(value if isinstance(value, list) else [value])
        return records, found

    def next_page_url(self, response: Response, data: Any, n_records: int) -> str | None:
        if self.next_path:
            nxt = dig(data, self.next_path)
            return response.urljoin(nxt) if isinstance(nxt, str) and nxt.strip() else None
        if not self.page_param:
            return None
        parts = urlsplit(response.url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        current = next((v for k, v in query if k == self.page_param), None)
        try:
            page = int(current) if current is not None else self.first_page
        except ValueError:
            return None
        pages = self.total_pages(data)
        if pages is not None:
            if page - self.first_page + 1 >= pages:
                return None
        elif n_records == 0:
            return None
        query = [(k, v) for k, v in query if k != self.page_param] + [(self.page_param, str(page + 1))]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def total_pages(self, data: Any) -> int | None:
        """Number of pages, as the body states it (directly or as a record count)."""
        if self.page_count_path:
            try:
                return int(dig(data, self.page_count_path))
            except (TypeError, ValueError):
                pass
        if self.record_count_path and self.page_size:
            try:
                return math.ceil(int(dig(data, self.record_count_path)) / int(self.page_size))
            except (TypeError, ValueError):
                pass
        return None
