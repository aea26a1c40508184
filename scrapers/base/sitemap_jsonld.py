"""Kind ``sitemap_jsonld``: a site's sitemap leads to pages that describe offerings in JSON-LD.

The start URL is a sitemap (an index of sitemaps, or a urlset, in XML with or without a
namespace prefix, or the plain-text form of one URL per line; gzipped or not) or a site's
robots.txt (its ``Sitemap:`` lines). Nested sitemaps matching ``sitemap_follow`` are followed,
and page URLs matching ``page_url_pattern`` are read. A page's JSON-LD blocks are decoded one
by one (scrapers.base.jsonld: broken blocks get one repair pass, what stays broken is a page
defect and the rest of the page is still used), ``@graph`` is flattened, references resolve
across blocks, and the nodes of ``item_types`` become offerings: the page's top-level nodes,
its ``mainEntity``, and what its lists hold (an ``ItemList``'s elements, a ``ListItem``'s
``item``: Google's course-list markup). A node that another picked node points to (a Course
in a program's ``hasCourse``) is a part of it, not an offering. A list entry known only by its
URL (Google's summary-page list: ``{"@type": "ListItem", "url": ...}``) is read as a page of
its own, if the URL matches ``page_url_pattern``; breadcrumbs are no such list.

Declaration: ``page_url_pattern``, ``item_types``, ``one_offering_per_page`` and, where a
site departs from schema.org habits, ``field_paths`` (RawOffering field -> property paths
tried in order) or the ``map_item`` hook. When a page yields no item because its JSON-LD is
broken (or, for one-offering pages, absent), the record is read from the page itself:
``fallback_css`` selectors and the labelled facts under ``facts_css`` (``facts_map``).

A registry entry alone can declare a site (``spider = "sitemap_jsonld"``): ``options`` set
the attributes in ``option_names`` (lists become tuples) and ``field_map`` extends
``field_paths`` (scrapers.base.options). Pages may also be given directly, by ``start_urls``
or ``location`` (saved pages): a start URL that is not a sitemap is read as a page. A saved
page (``file://``) is keyed by the path of its ``<link rel="canonical">`` (else ``og:url``):
where the page lives, not where it was saved.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urldefrag, urlsplit

import scrapy
from parsel import Selector
from scrapy.http import HtmlResponse, Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from scrapers.base.fields import LIST_FIELDS
from scrapers.base.guard import guarded
from scrapers.base.html_fields import (
    facts_payload,
    fields_from_css,
    fields_from_facts,
    label_values,
    present,
)
from scrapers.base.jsonld import (
    JsonLdBlock,
    as_list,
    has_type,
    index_by_id,
    is_reference,
    jsonld_blocks,
    path_values,
    resolve,
    text_of,
    texts_of,
    top_nodes,
    types_of,
)
from scrapers.base.options import apply_field_map, apply_options
from scrapers.base.spider import CredcatSpider

# schema.org properties of EducationalOccupationalProgram / Course / EducationalOccupationalCredential
# as the RawOffering fields they feed, most specific first.
SCHEMA_ORG_PATHS: dict[str, tuple[str, ...]] = {
    "title": ("name", "headline"),
    "description": ("description", "abstract"),
    "awarding_body": ("provider.name", "creator.name", "publisher.name", "recognizedBy.name"),
    "country_raw": ("provider.address.addressCountry", "provider.location.address.addressCountry"),
    "credential_type_raw": ("educationalCredentialAwarded.credentialCategory", "educationalCredentialAwarded",
                            "credentialCategory", "occupationalCredentialAwarded.credentialCategory",
                            "occupationalCredentialAwarded", "programType"),
    "level_raw": ("educationalLevel", "educationalCredentialAwarded.educationalLevel"),
    "duration_raw": ("timeToComplete", "timeRequired", "hasCourseInstance.courseSchedule.duration",
                     "hasCourseInstance.duration"),
    "workload_raw": ("courseWorkload", "hasCourseInstance.courseWorkload"),
    "credits_raw": ("numberOfCredits.value", "numberOfCredits"),
    "credit_unit_raw": ("numberOfCredits.unitText", "numberOfCredits.unitCode"),
    "modality_raw": ("educationalProgramMode", "courseMode", "hasCourseInstance.courseMode"),
    "timing_raw": ("timeOfDay", "hasCourseInstance.courseSchedule.repeatFrequency"),
    "language_raw": ("inLanguage", "availableLanguage"),
    "prerequisites_raw": ("programPrerequisites", "coursePrerequisites"),
    "quality_assurance_raw": ("educationalCredentialAwarded.recognizedBy.name", "recognizedBy.name"),
    "is_free_raw": ("isAccessibleForFree",),
    "rating_raw": ("aggregateRating.ratingValue",),
    "rating_count_raw": ("aggregateRating.ratingCount", "aggregateRating.reviewCount"),
    "enrolment_raw": ("totalHistoricalEnrollment",),
    "start_dates_raw": ("startDate", "hasCourseInstance.startDate"),
    "subjects": ("about",),
    "subject_codes": ("about.termCode", "about.codeValue"),
    "skills": ("educationalCredentialAwarded.competencyRequired", "competencyRequired"),
    "learning_outcomes": ("teaches",),
}

ORGANIZATION_TYPES = ("CollegeOrUniversity", "EducationalOrganization", "Organization", "Corporation")
# Lists whose entries are never offerings: their URLs are the site's navigation.
NAVIGATION_LIST_TYPES = ("BreadcrumbList",)
_LIST_DEPTH = 6  # lists in lists (an ItemList of ItemLists) read this deep
# A string that points somewhere (a URL, a fragment, a blank node) rather than naming something.
_IRI = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|#|_:)")
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html|head|body)[\s>/]", re.I)
_URL_LINE = re.compile(r"^https?://\S+$")


class _Inflated(Exception):
    """A gzipped sitemap that inflates beyond DOWNLOAD_MAXSIZE."""


class SitemapJsonLdSpider(CredcatSpider):
    kind = "sitemap_jsonld"

    page_url_pattern: ClassVar[str] = ""  # regex on page URLs of the urlsets ("" = all)
    sitemap_follow: ClassVar[str] = ""  # regex on nested sitemap URLs ("" = all)
    item_types: ClassVar[tuple[str, ...]] = (
        "EducationalOccupationalProgram", "Course", "EducationalOccupationalCredential",
    )
    one_offering_per_page: ClassVar[bool] = False  # True: each page is one offering, keyed by its URL path
    site_org_is_provider: ClassVar[bool] = False  # the page's Organization node is the awarding body
    field_paths: ClassVar[dict[str, tuple[str, ...]]] = SCHEMA_ORG_PATHS
    price_paths: ClassVar[tuple[str, ...]] = ("offers",)
    source_key_paths: ClassVar[tuple[str, ...]] = ("identifier.value", "identifier", "courseCode", "@id")
    fallback_css: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "title": ('meta[property="og:title"]::attr(content)', "h1", "title::text"),
        "description": ('meta[name="description"]::attr(content)', 'meta[property="og:description"]::attr(content)'),
        "language_raw": ("html::attr(lang)",),
    }
    facts_css: ClassVar[str | None] = None  # where the page's labelled facts are (for the fallback)
    facts_map: ClassVar[dict[str, str]] = {}
    # What a registry entry may set in ``options``.
    option_names: ClassVar[frozenset[str]] = frozenset({
        "page_url_pattern", "sitemap_follow", "item_types", "one_offering_per_page", "site_org_is_provider",
        "price_paths", "source_key_paths", "facts_css",
    })

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        apply_options(self, self.option_names)
        apply_field_map(self)

    # --- sitemaps --------------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Start callback: a robots.txt, a sitemap (index or urlset) or, failing both, a page."""
        if urlsplit(response.url).path.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(response.body, base_url=response.url):
                yield scrapy.Request(url, callback=self.parse, errback=self.on_error)
            return
        try:
            sitemap = self.sitemap_of(response)
        except _Inflated as exc:  # inflates beyond DOWNLOAD_MAXSIZE: a bomb, not a sitemap
            self.page_defect(response, "decompression_bomb", str(exc))
            self.failed_page(response.url, "inflates beyond DOWNLOAD_MAXSIZE", "decompression_bomb")
            return
        if sitemap is None:
            if _is_html(response):
                yield from self.parse_page(response)
            else:
                self.page_defect(response, "invalid_sitemap", response.body[:200].decode("utf-8", "replace"))
                self.failed_page(response.url, "neither a sitemap nor a page")
            return
        follow = re.compile(self.sitemap_follow) if sitemap.type == "sitemapindex" else re.compile(self.page_url_pattern)
        for entry in sitemap:
            loc = entry.get("loc")
            if not loc or not follow.search(loc):
                continue
            loc = response.urljoin(loc.strip())
            if urlsplit(loc).scheme not in ("http", "https", "file"):
                self.page_defect(response, "invalid_sitemap_loc", loc[:200])  # not a URL: nothing to fetch
                continue
            if sitemap.type == "sitemapindex":
                yield scrapy.Request(loc, callback=self.parse, errback=self.on_error)
            else:
                yield scrapy.Request(loc, callback=self.parse_page, errback=self.on_error,
                                     cb_kwargs={"lastmod": entry.get("lastmod")})

    def sitemap_of(self, response: Response) -> Sitemap | TextSitemap | None:
        """The sitemap a body holds: XML whose root element is a ``urlset`` or ``sitemapindex``
        (whatever precedes it, whatever its namespace prefix), or a text sitemap."""
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
            except ValueError as exc:
                raise _Inflated(f"{len(response.body)} B inflate beyond {exc}") from exc
            except (OSError, EOFError, struct.error):
                return None
        try:
            sitemap = Sitemap(body)  # lxml reads up to the root element only; its local name is the type
        except Exception:  # lxml raises several kinds on garbage (an empty body: StopIteration)
            sitemap = None
        if sitemap is not None and sitemap.type in ("urlset", "sitemapindex"):
            return sitemap
        return TextSitemap.of(body)

    # --- pages -----------------------------------------------------------------------------

    def parse_page(self, response: Response, lastmod: str | None = None) -> Iterator[dict[str, Any]]:
        sel = Selector(text=response.text)
        blocks = jsonld_blocks(sel)
        defects = self.block_defects(response, blocks)
        nodes = [n for b in blocks if b.data is not None for n in top_nodes(b.data)]
        index = index_by_id(nodes)
        items = self.pick_items(nodes, index)
        yield from self.listed_pages(response, nodes, index)
        if len(items) > 1 and self.one_offering_per_page:
            defects.append(self.page_defect(response, "extra_jsonld_items", f"{len(items)} items"))
            items = items[:1]
        site_org = next((n for n in nodes if has_type(n, ORGANIZATION_TYPES)), None)
        org = resolve(site_org, index) if site_org is not None else None
        for i, node in enumerate(items):
            resolved = resolve(node, index)
            payload = {"jsonld": resolved, "lastmod": lastmod} if lastmod else {"jsonld": resolved}
            key = self.source_key(response, resolved, i)
            yield guarded(self, response, key, payload, lambda r=resolved, p=payload, k=key: self.item(
                response, k, p, r, org, defects))
        if items:
            return
        broken = [b for b in blocks if b.status == "invalid"]
        if not (self.one_offering_per_page or broken):
            return  # a page of the site that describes no offering
        if not broken:
            defects.append(self.page_defect(response, "no_jsonld_item", "no node of the configured types"))
        yield self.page_record(response, sel, org, broken, defects, lastmod)

    def item(self, response: Response, key: str, payload: dict[str, Any], node: dict[str, Any],
             org: dict[str, Any] | None, defects: list[str]) -> dict[str, Any]:
        fields = {**self.provider_fields(org), **present(self.map_item(node, response))}
        return self.offering(response, key, payload, page_defects=sorted(set(defects)), **present(fields))

    def provider_fields(self, org: dict[str, Any] | None) -> dict[str, Any]:
        """The page's own organization as the awarding body, on sites where it is (``site_org_is_provider``)."""
        if not self.site_org_is_provider or org is None:
            return {}
        return present({"awarding_body": text_of(org.get("name")),
                        "country_raw": text_of(path_values(org, "address.addressCountry"))})

    def block_defects(self, response: Response, blocks: list[JsonLdBlock]) -> list[str]:
        defects = []
        for b in blocks:
            if b.status == "invalid":
                defects.append(self.page_defect(response, "invalid_jsonld", f"block {b.index}: {b.error}"))
            elif b.status == "repaired":
                defects.append(self.page_defect(response, "repaired_jsonld", f"block {b.index}: {b.error}"))
        return defects

    def pick_items(self, nodes: list[dict[str, Any]],
                   index: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Nodes of the configured types that no other picked node points to, by type preference.

        Top-level nodes, and those a page's ``mainEntity`` or lists hold (``_page_things``);
        one node given twice (by ``@id``) counts once, as its fullest description.
        """
        index = index_by_id(nodes) if index is None else index
        picked: list[dict[str, Any]] = []
        seen: set[str] = set()
        for node in self._page_things(nodes, index):
            if isinstance(node, str):
                continue  # a page named by its URL: listed_pages
            own = _own_id(node)
            if own is not None:
                if own in seen:
                    continue
                seen.add(own)
                node = index.get(own, node)
            picked.append(node)
        parts: set[str] = set()
        for node in picked:
            own = _own_id(node)
            for value in node.values():
                parts.update(_ids_in(value) - {own})
        items = [n for n in picked if _own_id(n) not in parts]
        rank = {t: i for i, t in enumerate(self.item_types)}
        return sorted(items, key=lambda n: min((rank[t] for t in types_of(n) if t in rank), default=len(rank)))

    def listed_pages(self, response: Response, nodes: list[dict[str, Any]],
                     index: dict[str, dict[str, Any]] | None = None) -> Iterator[scrapy.Request]:
        """The pages a list on this page names only by URL, matching ``page_url_pattern``: read as pages."""
        index = index_by_id(nodes) if index is None else index
        pattern = re.compile(self.page_url_pattern)
        here = urldefrag(response.url)[0]
        seen: set[str] = set()
        for thing in self._page_things(nodes, index):
            if not isinstance(thing, str):
                continue
            url = urldefrag(response.urljoin(thing.strip()))[0]
            if url == here or url in seen or urlsplit(url).scheme not in ("http", "https", "file"):
                continue
            seen.add(url)
            if pattern.search(url):
                yield scrapy.Request(url, callback=self.parse_page, errback=self.on_error)

    def _page_things(self, nodes: list[dict[str, Any]], index: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any] | str]:
        """What a page describes, in document order: nodes of the item types, and page URLs.

        A top-level node of an item type is one; of other nodes, their ``mainEntity`` and the
        entries of their list (``itemListElement``) are looked at. Nodes of the item types are
        not looked into: what they hold are their parts.
        """
        for node in nodes:
            if has_type(node, self.item_types):
                yield node
            else:
                yield from self._held(node, index, 0)

    def _held(self, node: dict[str, Any], index: dict[str, dict[str, Any]], depth: int) -> Iterator[dict[str, Any] | str]:
        if depth >= _LIST_DEPTH:
            return
        for value in as_list(node.get("mainEntity")):
            yield from self._entry(value, index, depth + 1, listed=False)
        if not has_type(node, NAVIGATION_LIST_TYPES):
            for value in as_list(node.get("itemListElement")):
                yield from self._entry(value, index, depth + 1, listed=True)

    def _entry(self, value: Any, index: dict[str, dict[str, Any]], depth: int,
               listed: bool) -> Iterator[dict[str, Any] | str]:
        """One entry of a list (or a main entity): a node of the item types, a list of its own,
        a ``ListItem``'s item, or, in a list, the URL of a page that describes the entry."""
        if depth >= _LIST_DEPTH:
            return
        if isinstance(value, str) or is_reference(value):
            ident = value if isinstance(value, str) else value.get("@id")
            target = index.get(ident) if isinstance(ident, str) else None
            if target is None:  # not described on this page
                if listed and isinstance(ident, str) and (
                        isinstance(value, str) or not types_of(value) or has_type(value, self.item_types)):
                    yield ident
                return
            value = target
        if not isinstance(value, dict):
            return
        if has_type(value, self.item_types):
            yield value
        elif "item" in value:  # a ListItem: the entry is its item
            yield from self._entry(value["item"], index, depth + 1, listed)
        elif "itemListElement" in value or "mainEntity" in value:
            yield from self._held(value, index, depth)
        elif listed and set(types_of(value)) <= {"ListItem"} and isinstance(value.get("url"), str):
            yield value["url"]  # an untyped entry, or a ListItem, known by its URL

    def map_item(self, node: dict[str, Any], response: Response) -> dict[str, Any]:
        """The hook: one JSON-LD node (references resolved) -> RawOffering fields."""
        fields: dict[str, Any] = {"record_kind_raw": text_of(as_list(node.get("@type"))[:1])}
        for name, paths in self.field_paths.items():
            for path in paths:
                values = _values_at(node, path)
                value = texts_of(values) if name in LIST_FIELDS else text_of(values)
                if value:
                    fields[name] = value
                    break
        fields["prices"] = [p for offer in self._offers(node) if (p := self.price_of(offer))]
        return fields

    def _offers(self, node: dict[str, Any]) -> Iterator[Any]:
        for path in self.price_paths:
            for offer in path_values(node, path):
                if isinstance(offer, dict) and "offers" in offer and "price" not in offer:
                    yield from as_list(offer["offers"])  # AggregateOffer
                else:
                    yield offer

    @staticmethod
    def price_of(offer: Any) -> dict[str, Any] | None:
        if not isinstance(offer, dict):
            return {"text": text_of(offer)} if text_of(offer) else None
        spec = offer.get("priceSpecification")
        spec = spec[0] if isinstance(spec, list) and spec else spec
        # a price specification given as text ("$10"): the price as written
        spec_text = text_of(spec) if isinstance(spec, str | int | float) and not isinstance(spec, bool) else None
        spec = spec if isinstance(spec, dict) else {}
        amount = next((v for v in (offer.get("price"), spec.get("price"), offer.get("lowPrice")) if v not in (None, "")), None)
        price = {
            "amount": text_of(amount),
            "currency": text_of(offer.get("priceCurrency") or spec.get("priceCurrency")),
            "label": text_of(offer.get("category") or offer.get("name") or spec.get("name")),
        }
        if price["amount"] is None and spec_text:
            price["text"] = spec_text
        return price if any(price.get(k) is not None for k in ("amount", "currency", "text")) else None

    @staticmethod
    def page_path(response: Response) -> str:
        """The page's own path: for a saved page (file://), the path of the URL it names as its own."""
        if response.url.startswith("file:"):
            sel = Selector(text=response.text)
            own = sel.css('link[rel="canonical"]::attr(href)').get() or sel.css(
                'meta[property="og:url"]::attr(content)').get()
            if own and urlsplit(own.strip()).path:
                return urlsplit(own.strip()).path
        return urlsplit(response.url).path or "/"

    def source_key(self, response: Response, node: dict[str, Any], position: int) -> str:
        path = self.page_path(response)
        if self.one_offering_per_page:
            return path
        for key_path in self.source_key_paths:
            value = _own_id(node) if key_path == "@id" else text_of(path_values(node, key_path)[:1])
            if value:
                return value
        return f"{path}#{position}"

    # --- the page itself, when its JSON-LD gave nothing ------------------------------------

    def page_record(self, response: Response, sel: Selector, site_org: dict[str, Any] | None,
                    broken: list[JsonLdBlock], defects: list[str], lastmod: str | None) -> dict[str, Any]:
        facts = label_values(sel, self.facts_css) if self.facts_css else {}
        fields = fields_from_facts(facts, self.facts_map)  # the page's own facts before page-wide guesses
        for name, value in [*fields_from_css(sel, self.fallback_css).items(), *self.provider_fields(site_org).items()]:
            fields.setdefault(name, value)
        payload = {
            "page": {"facts": facts_payload(facts), **{k: v for k, v in fields.items() if k != "prices"}},
            # the blocks that would not decode, as written, so a later reader can try again
            "invalid_jsonld": [b.text[:20000] for b in broken],
            **({"lastmod": lastmod} if lastmod else {}),
        }
        return self.offering(response, self.page_path(response), payload,
                             page_defects=sorted(set(defects)), **present(fields))


class TextSitemap:
    """A text sitemap (sitemaps.org): one page URL per line, UTF-8, nothing else."""

    type = "urlset"

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter([{"loc": url} for url in self.urls])

    @classmethod
    def of(cls, body: bytes) -> TextSitemap | None:
        head = body.lstrip(b"\xef\xbb\xbf").lstrip()
        if not head[:8].lower().startswith((b"http://", b"https://")):
            return None  # markup, robots.txt, garbage: no text sitemap
        try:
            lines = [line.strip() for line in body.decode("utf-8-sig").splitlines()]
        except UnicodeDecodeError:
            return None
        urls = [line for line in lines if line]
        return cls(urls) if all(_URL_LINE.match(url) for url in urls) else None


def _is_html(response: Response) -> bool:
    """An HTML page, by its response class, its Content-Type, or the start of its markup."""
    if isinstance(response, HtmlResponse):
        return True
    if b"html" in (response.headers.get("Content-Type") or b"").lower():
        return True
    return _HTML_START.search(response.body[:65536]) is not None


def _own_id(node: dict[str, Any]) -> str | None:
    """A node's ``@id``; only a string is an identifier (a list or an object is not)."""
    ident = node.get("@id")
    return ident if isinstance(ident, str) else None


def _values_at(node: dict[str, Any], path: str) -> list[Any]:
    """``path_values``; where a ``x.name`` path finds nothing because ``x`` is plain text
    (``"provider": "Some University"``, which schema.org allows), that text is the name."""
    values = path_values(node, path)
    if values or not path.endswith(".name"):
        return values
    return [v for v in path_values(node, path.removesuffix(".name")) if isinstance(v, str) and not _IRI.match(v.strip())]


def _ids_in(value: Any) -> set[str]:
    """``@id``s a value refers to or embeds (nested nodes included)."""
    found: set[str] = set()
    for item in as_list(value):
        if isinstance(item, dict):
            if isinstance(item.get("@id"), str):
                found.add(item["@id"])
            if not is_reference(item):
                for v in item.values():
                    found |= _ids_in(v)
        elif isinstance(item, list):
            for v in item:
                found |= _ids_in(v)
    return found
