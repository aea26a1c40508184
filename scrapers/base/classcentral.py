"""Kind ``classcentral``: the page family of a course aggregator in Class Central's mould.

One reader for the four kinds of page such a site publishes, told apart by what is on them:

- **course page**: a schema.org ``Course`` in JSON-LD (name, description, ``provider`` = the
  institution that awards it, ``offers`` with price and ``seller`` = the platform,
  ``aggregateRating``, reviews) plus ``BreadcrumbList`` blocks (the subjects) and a details
  list (``li.course-details-item``: a label, then its value: pricing, languages, level,
  duration & workload, sessions). One offering. Broken JSON-LD is a page defect and the page is
  then read from its HTML alone.
- **listing page** (a provider's, university's, institution's or subject's courses): each course
  card (``card_css``) is one offering: title, the institutions named on it, the platform, the
  displayed star rating (filled + half icons, out of 5), the review count, workload and
  duration, start date as shown (or "Self paced" / "On-Demand" as timing), pricing text.
- **report page** (an article): the credentials its lists name. The rule (``report_*``
  attributes): in the article body, a list item counts when it *starts with a link* (the
  credential's title) and its list sits in a section whose heading (nearest ``h2``/``h3``
  before it) names certificates, certifications, badges, courses or quests, and is not a
  navigation heading ("More ...", "Table of Contents", "Related"). The item's " from <em>X</em>"
  is the awarding body (else the heading's "from X"), its " via X" the platform, its stars
  (``★☆``) and "(n)" the rating and rating count. Items that are topics, article links or
  sentences are not credentials and are left out.
- **index page** (all providers, all universities): entries (``index_entry_css``), not
  offerings. Their links are followed (a location-only source records them without fetching)
  and the entries read are counted in the stats (``credcat/index_entries``).

A page none of these fits is a ``unrecognised_page`` defect. Saved pages resolve their links
against their canonical URL (else ``site_url``). Everything site-specific is a class
attribute, settable from the registry's ``options``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import scrapy
from parsel import Selector
from scrapy.http import Response

from scrapers.base.guard import guarded
from scrapers.base.html_fields import element_text, present, select, squash
from scrapers.base.jsonld import as_list, has_type, jsonld_blocks, path_values, text_of, top_nodes
from scrapers.base.options import apply_options
from scrapers.base.spider import CredcatSpider

_LENGTH = re.compile(r"(?i)\b(?:long|days?|weeks?|months?|years?)\b")
_PACE = re.compile(r"(?i)^(?:self[- ]paced|on[- ]demand|always available|flexible)$")
_COUNT = re.compile(r"\d[\d,.]*\s*[kKmM]?")
_COURSE_ID = re.compile(r"-(\d+)/?$")
_INBOUND = re.compile(r"""recordInboundLink\(\s*["']([^"']+)["']""")
_STARS = re.compile(r"(?P<stars>[★☆]{3,})\s*(?:\((?P<count>[\d,.]+)\))?")
_FROM_VIA = re.compile(r"^\s*from\s+(?P<from>.+?)(?:\s+via\s+(?P<via>.+?))?\s*$|^\s*via\s+(?P<via_only>.+?)\s*$", re.S)

# Details-list labels of a course page, as RawOffering fields.
COURSE_FACTS: dict[str, str] = {
    "languages": "language_raw", "language": "language_raw", "level": "level_raw",
    "pricing": "is_free_raw", "cost": "is_free_raw", "provider": "platform",
    "duration & workload": "duration_and_workload", "duration": "duration_and_workload",
    "effort": "workload_raw", "sessions": "sessions", "start date": "sessions",
}
# aria-labels of a listing card's lines, as RawOffering fields.
CARD_FACTS: dict[str, str] = {
    "provider": "platform", "workload and duration": "duration_and_workload", "start date": "sessions",
    "pricing": "is_free_raw", "level": "level_raw", "language": "language_raw", "languages": "language_raw",
}


def split_effort(text: str | None) -> dict[str, str]:
    """ "17 hours worth of material, 7 weeks long" -> the workload part and the length part."""
    out: dict[str, list[str]] = {"workload_raw": [], "duration_raw": []}
    for part in (p.strip() for p in (text or "").split(",")):
        if part:
            out["duration_raw" if _LENGTH.search(part) and "hour" not in part.lower() else "workload_raw"].append(part)
    return {k: ", ".join(v) for k, v in out.items() if v}


def stars_out_of_five(el: Selector) -> str | None:
    """The displayed rating of star icons: full stars + half stars, as 'n/5' (none lit: unrated)."""
    icons = [c.split() for c in el.xpath(".//i/@class").getall()]
    full = sum(1 for c in icons if {"icon-star", "icon-star-charcoal"} & set(c))
    half = sum(1 for c in icons if any(k.startswith("icon-star-half") for k in c))
    if not icons or full + half == 0:
        return None
    value = full + half / 2
    return f"{value:g}/5"


class ClassCentralSpider(CredcatSpider):
    kind = "classcentral"

    site_url: str = "https://www.classcentral.com"
    course_types: ClassVar[tuple[str, ...]] = ("Course",)
    course_details_css: str = "li.course-details-item"
    session_css: str = "#sessionOptions option"
    card_css: str = "li.course-list-course"
    card_title_css: str = "[itemprop=name]"
    card_meta_css: str = "[data-track-props*=clickMetadata]::attr(data-track-props)"
    card_institution_xpath: str = './/*[contains(@data-track-ga, "Inbound Clicks - University")]/@data-track-ga'
    card_facts_css: str = "li [aria-label]"
    card_rating_css: str = "[role=img][aria-label*=star]"
    card_reviews_css: str = "[role=img][aria-label*=star] + span"
    card_summary_css: str = "p a"
    report_body_css: str = "article .wysiwyg"
    report_item_xpath: str = ".//li[*[1][self::a] and not(normalize-space(substring-before(., string(a[1]))))]"
    report_section_pattern: str = r"(?i)\b(?:certificat\w*|certification\w*|badges?|credentials?|courses|quests)\b"
    report_section_exclude: str = r"(?i)^\s*(?:more\b|table of contents|related)"
    index_entry_css: str = "header + ul > li > a[title]"
    index_name_css: str = "span::text"
    follow_index: bool = True
    option_names: ClassVar[frozenset[str]] = frozenset({
        "site_url", "course_details_css", "card_css", "card_title_css", "card_facts_css", "report_body_css",
        "report_section_pattern", "report_section_exclude", "index_entry_css", "index_name_css", "follow_index",
    })
    course_facts: ClassVar[dict[str, str]] = COURSE_FACTS
    card_facts: ClassVar[dict[str, str]] = CARD_FACTS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        apply_options(self, self.option_names)

    # --- which page is this ------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        sel = Selector(text=response.text)
        blocks = jsonld_blocks(sel)
        nodes = [n for b in blocks if b.status != "invalid" for n in top_nodes(b.data)]
        courses = [n for n in nodes if has_type(n, self.course_types)]
        broken = [b for b in blocks if b.status == "invalid"]
        if courses or sel.css(self.course_details_css):
            yield guarded(self, response, self.page_key(response, sel), {"url": response.url},
                          lambda: self.course_page(response, sel, courses[0] if courses else None, nodes, broken))
        elif cards := sel.css(self.card_css):
            yield from self.listing_page(response, sel, cards)
        elif sel.css(self.report_body_css):
            yield from self.report_page(response, sel)
        elif entries := self.index_entries(response, sel):
            yield from self.index_page(response, entries)
        else:
            self.page_defect(response, "unrecognised_page", response.url)

    def page_base(self, response: Response, sel: Selector) -> str:
        """The page's own URL online: its canonical link (else og:url on the site), else where it was read."""
        for href in (sel.css('link[rel=canonical]::attr(href)').get(), sel.css('meta[property="og:url"]::attr(content)').get()):
            if href:
                return urljoin(self.site_url.rstrip("/") + "/", href.strip())
        return response.url

    def page_key(self, response: Response, sel: Selector) -> str:
        path = urlsplit(self.page_base(response, sel)).path
        m = _COURSE_ID.search(path)
        return m.group(1) if m else path

    # --- course pages ------------------------------------------------------------------------

    def course_page(self, response: Response, sel: Selector, course: dict[str, Any] | None,
                    nodes: list[dict[str, Any]], broken: list[Any]) -> dict[str, Any]:
        defects = [self.page_defect(response, "invalid_jsonld", b.error or "") for b in broken]
        facts = self.details(sel)
        fields: dict[str, Any] = {"record_kind_raw": "course"}
        if course:
            fields |= {
                "title": text_of(course.get("name")), "description": text_of(course.get("description")),
                "awarding_body": text_of(path_values(course, "provider.name")),
                "platform": text_of(path_values(course, "offers.seller.name")),
                "rating_raw": text_of(path_values(course, "aggregateRating.ratingValue")),
                "rating_count_raw": text_of(path_values(course, "aggregateRating.reviewCount")
                                            or path_values(course, "aggregateRating.ratingCount")),
                "prices": [{"amount": text_of(o.get("price")), "currency": text_of(o.get("priceCurrency"))}
                           for o in as_list(course.get("offers")) if isinstance(o, dict)
                           and o.get("price") is not None],
            }
        else:
            fields |= {"title": element_text(sel.css("h1")[0]) if sel.css("h1") else None,
                       "description": sel.css('meta[name="description"]::attr(content)').get()}
        fields["subjects"] = self.breadcrumb_subjects(nodes)
        for label, fact in facts.items():
            name = self.course_facts.get(label)
            if name == "duration_and_workload":
                for k, v in split_effort(fact["text"]).items():
                    fields.setdefault(k, v)
            elif name == "sessions":
                dates = fact["items"] or [fact["text"]]
                if len(dates) == 1 and dates[0] and _PACE.match(dates[0]):
                    fields.setdefault("timing_raw", dates[0])
                else:
                    fields["start_dates_raw"] = [d for d in dates if d]
            elif name and not fields.get(name):
                fields[name] = fact["link"] if name == "platform" and fact["link"] else fact["text"]
        payload = {"jsonld": course, "details": facts, "canonical": self.page_base(response, sel)}
        return self.offering(response, self.page_key(response, sel), payload, url=self.page_base(response, sel),
                             page_defects=defects, **present(fields))

    def details(self, sel: Selector) -> dict[str, dict[str, Any]]:
        """The details list: label (first cell) -> its value's text, link text and list items."""
        out: dict[str, dict[str, Any]] = {}
        for li in sel.css(self.course_details_css):
            cells = li.xpath("./div")
            if len(cells) < 2:
                continue
            label = (element_text(cells[0]) or "").lower()
            if not label or label in out:
                continue
            options = [squash(o.xpath("string()").get()) for o in cells[1].css("option")]
            out[label] = {"text": element_text(cells[1]), "link": squash(cells[1].css("a::text").get()),
                          "items": [o for o in options if o]}
        return out

    @staticmethod
    def breadcrumb_subjects(nodes: list[dict[str, Any]]) -> list[str]:
        """The last crumb of every BreadcrumbList (the subjects a course is filed under)."""
        out: dict[str, None] = {}
        for node in nodes:
            if has_type(node, ("BreadcrumbList",)):
                items = [i for i in as_list(node.get("itemListElement")) if isinstance(i, dict)]
                items.sort(key=lambda i: i.get("position") or 0)
                if items and (name := text_of(items[-1].get("name"))):
                    out.setdefault(html.unescape(name))  # names arrive entity-escaped ("HTML &amp; CSS")
        return list(out)

    # --- listing pages -----------------------------------------------------------------------

    def listing_page(self, response: Response, sel: Selector, cards: Any) -> Iterator[dict[str, Any]]:
        base = self.page_base(response, sel)
        for position, card in enumerate(cards):
            key = self.card_key(card) or f"{urlsplit(base).path}#{position}"
            yield guarded(self, response, key, {"html": card.get()[:2000]},
                          lambda c=card, k=key: self.card(response, base, c, k))

    def card_key(self, card: Selector) -> str | None:
        for name in card.attrib:
            if name.startswith("data-lookup-course-"):
                return name.rsplit("-", 1)[-1]
        meta = self.card_meta(card)
        return str(meta["courseId"]) if meta.get("courseId") is not None else None

    def card_meta(self, card: Selector) -> dict[str, Any]:
        raw = card.css(self.card_meta_css).get()
        try:
            return dict(json.loads(raw).get("clickMetadata") or {}) if raw else {}
        except (ValueError, AttributeError, RecursionError):
            return {}

    def card(self, response: Response, base: str, card: Selector, key: str) -> dict[str, Any]:
        meta = self.card_meta(card)
        institutions: list[str] = []
        for raw in card.xpath(self.card_institution_xpath).getall():
            try:
                name = squash(json.loads(raw).get("action"))
            except (ValueError, AttributeError, RecursionError):
                continue
            if name and name not in institutions:
                institutions.append(name)
        facts: dict[str, dict[str, str | None]] = {}
        for el in card.css(self.card_facts_css):
            label = (el.attrib.get("aria-label") or "").strip().lower()
            if label and label not in facts and label in self.card_facts:
                facts[label] = {"text": element_text(el), "content": el.attrib.get("content")}
        fields: dict[str, Any] = {
            "record_kind_raw": "course",
            "title": element_text(card.css(self.card_title_css)[0]) if card.css(self.card_title_css) else meta.get("course"),
            "description": element_text(card.css(self.card_summary_css)[0]) if card.css(self.card_summary_css) else None,
            "awarding_body": meta.get("institution") or (institutions[0] if institutions else None),
        }
        rating = card.css(self.card_rating_css)
        if rating:
            fields["rating_raw"] = stars_out_of_five(rating[0])
        reviews = squash(card.css(self.card_reviews_css).xpath("string()").get())
        if reviews and _COUNT.search(reviews):
            fields["rating_count_raw"] = reviews
        for label, fact in facts.items():
            name, text = self.card_facts[label], fact["text"]
            if name == "duration_and_workload":
                fields.update(split_effort(text))
            elif name == "sessions":
                if text and _PACE.match(text):
                    fields["timing_raw"] = text
                elif text:
                    fields["start_dates_raw"] = [text]
            elif text:
                fields.setdefault(name, text)
        fields.setdefault("platform", meta.get("provider"))
        link = next(iter(_INBOUND.findall(card.get())), None) or card.css('a[href*="/course/"]::attr(href)').get()
        payload = {"click_metadata": meta, "institutions": institutions, "facts": facts,
                   "rating_label": rating[0].attrib.get("aria-label") if rating else None, "listing": base}
        return self.offering(response, key, payload, url=urljoin(base, link) if link else None, **present(fields))

    # --- report pages ------------------------------------------------------------------------

    def report_page(self, response: Response, sel: Selector) -> Iterator[dict[str, Any]]:
        base = self.page_base(response, sel)
        body = sel.css(self.report_body_css)[0]
        include, exclude = re.compile(self.report_section_pattern), re.compile(self.report_section_exclude)
        found = 0
        for position, li in enumerate(body.xpath(self.report_item_xpath)):
            heading = squash(li.xpath("string(preceding::*[self::h2 or self::h3][1])").get()) or ""
            if not include.search(heading) or exclude.search(heading):
                continue
            found += 1
            key = f"{urlsplit(base).path}#{position}"
            yield guarded(self, response, key, {"html": li.get()},
                          lambda item=li, h=heading, k=key: self.report_item(response, base, item, h, k))
        if not found:
            self.page_defect(response, "no_listed_credentials", base)

    def report_item(self, response: Response, base: str, li: Selector, heading: str, key: str) -> dict[str, Any]:
        title = element_text(li.xpath("./a[1]")[0])
        rest = squash(" ".join(n.get() if isinstance(n.root, str) else (element_text(n) or "")
                               for n in li.xpath("./a[1]/following-sibling::node()"))) or ""
        stars = _STARS.search(rest)
        mention = _FROM_VIA.match(_STARS.sub("", rest)) if rest else None
        section_from = re.search(r"(?i)\bfrom\s+(.+)$", heading)
        fields: dict[str, Any] = {
            # a course mention ("X from Y") is a course; a bare link may be a course, test or path
            "record_kind_raw": "course" if mention and mention["from"] else None, "title": title,
            "awarding_body": (mention and mention["from"]) or (section_from.group(1) if section_from else None),
            "platform": mention and (mention["via"] or mention["via_only"]),
        }
        if stars:
            lit = stars["stars"].count("★")
            fields["rating_raw"] = f"{lit}/5"
            fields["rating_count_raw"] = stars["count"]
        href = li.xpath("./a[1]/@href").get()
        payload = {"section": heading, "text": element_text(li), "article": base}
        return self.offering(response, key, payload, url=urljoin(base, href) if href else base, **present(fields))

    # --- index pages -------------------------------------------------------------------------

    def index_entries(self, response: Response, sel: Selector) -> list[dict[str, str | None]]:
        """The entries of an index page (providers, universities): name, link, course count."""
        base = self.page_base(response, sel)
        entries = []
        for a in select(sel, self.index_entry_css):
            name = next((t for t in (squash(x) for x in a.css(self.index_name_css).getall()) if t), None)
            if not name:
                continue
            count = re.search(r"(\d[\d,]*)\s+courses", element_text(a) or "")
            href = a.attrib.get("href")
            entries.append({"name": name, "url": urljoin(base, href) if href else None,
                            "courses": count.group(1) if count else None})
        return entries

    def index_page(self, response: Response, entries: list[dict[str, str | None]]) -> Iterator[scrapy.Request]:
        self.crawler.stats.inc_value("credcat/index_pages")
        self.crawler.stats.inc_value("credcat/index_entries", len(entries))
        self.logger.info("index page %s: %d entries", response.url, len(entries))
        if self.follow_index:
            for entry in entries:
                if entry["url"]:
                    yield scrapy.Request(entry["url"], callback=self.parse, errback=self.on_error)
