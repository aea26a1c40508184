"""Kind ``html_pages``: a listing page links detail pages; each detail page is one offering.

For sites without structured data: professional associations' certification pages, small
providers' course pages. Everything site-specific is a class attribute:

``listing_link_css``   links on a listing page to follow (filtered by ``detail_url_pattern``)
``next_page_css``      the listing's next-page link, if it paginates
``field_css``          RawOffering field -> selector(s) on the detail page (first that matches)
``facts_css``          where the page's labelled facts are (``<dl>``, two-column ``<table>``,
                       ``<p><strong>Label:</strong> value</p>``); ``None`` = the whole page
``facts_map``          label (lower case, no colon) -> RawOffering field; ``prices`` keeps each
                       labelled price as written ("$395 (members $295)") for normalization
``source_key_css``     the page's own identifier, else its URL path

Declared fields win over facts; what the page gave stays in the payload (fields and facts).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urldefrag, urlsplit

import scrapy
from parsel import Selector
from scrapy.http import Response

from scrapers.base.guard import guarded
from scrapers.base.html_fields import (
    extract_first,
    facts_payload,
    fields_from_css,
    fields_from_facts,
    label_values,
    present,
)
from scrapers.base.spider import CredcatSpider


def same_site(url: str, other: str) -> bool:
    """Whether two URLs are on one site: the same host, ignoring case, a leading "www." and
    the scheme's default port."""
    def host(u: str) -> str:
        parts = urlsplit(u)
        name = (parts.hostname or "").removeprefix("www.")
        default = {"http": 80, "https": 443}.get(parts.scheme)
        try:
            port = parts.port
        except ValueError:  # a malformed port: compared as written
            return parts.netloc.lower()
        return name if port in (None, default) else f"{name}:{port}"
    return host(url) == host(other)


class HtmlPagesSpider(CredcatSpider):
    kind = "html_pages"

    listing_link_css: ClassVar[str] = "main a::attr(href)"
    detail_url_pattern: ClassVar[str] = ""  # regex on absolute detail URLs ("" = every link)
    next_page_css: ClassVar[str | None] = None
    field_css: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "title": ("h1",),
        "description": ('meta[name="description"]::attr(content)',),
    }
    facts_css: ClassVar[str | None] = None
    facts_map: ClassVar[dict[str, str]] = {}
    source_key_css: ClassVar[str | None] = None
    record_kind_raw: ClassVar[str | None] = None

    def parse(self, response: Response, **kwargs: Any) -> Iterator[scrapy.Request]:
        """A listing page: its detail links, then its next page."""
        pattern = re.compile(self.detail_url_pattern)
        here = urldefrag(response.url).url
        # Links of the site's pages, without fragments: not the page itself (a "#top" anchor),
        # mailto: or javascript:, nor another site; www.example.org is example.org's site.
        links = dict.fromkeys(
            url for h in response.css(self.listing_link_css).getall()
            if h.strip() and (url := urldefrag(response.urljoin(h.strip())).url) != here
            and urlsplit(url).scheme in ("http", "https") and same_site(url, response.url))
        followed = 0
        for url in links:
            if pattern.search(url):
                followed += 1
                yield scrapy.Request(url, callback=self.parse_detail, errback=self.on_error)
        if not followed:
            self.page_defect(response, "no_detail_links", response.url)
        if self.next_page_css and (href := response.css(self.next_page_css).get()):
            yield scrapy.Request(response.urljoin(href), callback=self.parse, errback=self.on_error)

    def parse_detail(self, response: Response) -> Iterator[dict[str, Any]]:
        yield guarded(self, response, urlsplit(response.url).path, {"url": response.url},
                      lambda: self.detail(response))

    def detail(self, response: Response) -> dict[str, Any]:
        sel = Selector(text=response.text)
        fields = fields_from_css(sel, self.field_css)
        facts = label_values(sel, self.facts_css)
        for name, value in fields_from_facts(facts, self.facts_map).items():
            fields.setdefault(name, value)
        fields = self.adjust(fields, sel, response)
        defects = [] if fields.get("title") else [self.page_defect(response, "no_title", "detail page without a title")]
        key = (extract_first(sel, self.source_key_css) if self.source_key_css else None) or urlsplit(response.url).path
        payload = {"facts": facts_payload(facts), **{k: v for k, v in fields.items() if k != "prices"}}
        if self.record_kind_raw:
            fields.setdefault("record_kind_raw", self.record_kind_raw)
        return self.offering(response, key, payload, page_defects=defects, **present(fields))

    def adjust(self, fields: dict[str, Any], sel: Selector, response: Response) -> dict[str, Any]:
        """The hook: a site's one peculiarity, applied to the fields read from a detail page."""
        return fields
