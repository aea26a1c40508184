"""Kind ``courseleaf``: CourseLeaf catalogs (the catalog platform of many US colleges).

A CourseLeaf catalog has a subject index (``/courses/`` or ``/coursesaz/``) linking one page
per subject, and each subject page lists its courses as ``div.courseblock``::

    <p class="courseblocktitle"><strong>ACCT 101. Principles of Accounting I. 3 Credits.</strong></p>
    <p class="courseblockdesc">...</p>
    <p class="courseblockextra"><strong>Prerequisite:</strong> ...</p>

Title lines differ between installations ("CHEM 090  Introduction to Chemistry  3 Credit
Hours", "(1-3 Credits)", "3 Units", ``&#160;`` between code and number) and newer themes split
them into spans (``.detail-code``, ``.detail-title``, ``.detail-hours_html``); both are read.
Program pages (certificates, degrees) hang under a programs index (``program_index_pattern``)
and are read by declared selectors plus their labelled facts.

Links are followed from an index to the pages one level below it, so the kind needs no
per-site link selector; links to files (a page's PDF, images) are not pages and are left out.
Declaration: start URLs, and where a site departs from the usual markup, the ``*_css``
attributes and ``facts_map`` (label of a fact -> RawOffering field).

Saved pages (``location``): their links are root-relative (``/undergraduate/coursesaz/acc/``)
and mean nothing under ``file://``. The ``site_url`` option names the site a page was saved
from; the page's own path is read from CourseLeaf's navigation (the ``li.self`` item's list
``id`` is its path), so links resolve as they did online (and a location-only source records
them without fetching). The awarding body falls back to the site name of CourseLeaf's
``<title>`` ("Chemistry (CHEM) < UM Dearborn").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urldefrag, urljoin, urlsplit

import scrapy
from parsel import Selector
from scrapy.http import Response

from scrapers.base.guard import guarded
from scrapers.base.html_fields import (
    Fact,
    element_text,
    extract_first,
    facts_payload,
    fields_from_css,
    fields_from_facts,
    inner_html,
    label_key,
    label_values,
    present,
    squash,
)
from scrapers.base.options import apply_options
from scrapers.base.spider import CredcatSpider

_AMOUNT = r"\d+(?:\.\d+)?(?:\s*(?:-|–|to|or)\s*\d+(?:\.\d+)?)?"
_UNIT = r"(?:semester |quarter |contact )?(?:credit hours?|credits?|units?|hours?|hrs?|ceus?|s\.?h)\.?"
_HOURS = rf"(?P<hours>{_AMOUNT})\s*(?P<unit>{_UNIT})"
# A course code: subject letters (upper case; cross-listed subjects joined by "/"), then a
# number of 1-5 digits with up to 3 letters (CHEM 1A, CS 101, BIOL 10100, NURS 101LAB). The
# code, a separator (". ", ": ", " - ", " – ", " — " or a space), the title, then the credits
# ("3 Credits.", "(3-4 Credits)", "3 SH") where the line has them.
COURSE_TITLE = re.compile(
    r"^(?P<code>(?-i:[A-Z][A-Z&]{1,6}(?:/[A-Z][A-Z&]{1,6})*[ -]?\d{1,5}[A-Z]{0,3}))\b"
    r"(?:\s*[.:]|\s+[-–—])?\s+"
    rf"(?P<title>.*?)[.\s]*(?:\(?{_HOURS}\)?\.?)?$",
    re.I,
)
HOURS_ONLY = re.compile(rf"^\(?{_HOURS}\)?\.?$", re.I)
# Credits after the title in the other two wordings: "Credits: 3" and a bare "(3)".
_LABELLED_HOURS = re.compile(rf"[.\s]*\(?\b(?P<unit>{_UNIT})\s*:\s*(?P<hours>{_AMOUNT})\)?\.?$", re.I)
_BARE_HOURS = re.compile(r"[.\s]*\((?P<hours>\d+(?:\.\d+)?(?:\s*(?:-|–)\s*\d+(?:\.\d+)?)?)\)\.?$")
_FILE_LINK = re.compile(r"\.(?:pdf|docx?|xlsx?|pptx?|zip|png|jpe?g|gif|svg|css|js|xml|ics|txt)$", re.I)
_LABEL_LINE = re.compile(r"^(?P<label>[A-Z][\w ()/&'-]{1,48}?)\s*:\s*(?P<value>.+)$", re.S)

# Labels CourseLeaf sites use in course extras and program facts, as RawOffering fields.
COURSELEAF_FACTS: dict[str, str] = {
    "prerequisite": "prerequisites_raw", "prerequisites": "prerequisites_raw",
    "prerequisite(s)": "prerequisites_raw", "prereq": "prerequisites_raw",
    "prerequisites/corequisites": "prerequisites_raw",
    "instruction method": "modality_raw", "delivery": "modality_raw", "delivery method": "modality_raw",
    "format": "modality_raw", "mode of instruction": "modality_raw",
    "course length": "duration_raw", "duration": "duration_raw", "program length": "duration_raw",
    "length": "duration_raw",
    "contact hours": "workload_raw", "weekly hours": "workload_raw",
    "award": "credential_type_raw", "credential": "credential_type_raw", "award type": "credential_type_raw",
    "estimated cost": "prices", "estimated program cost": "prices", "program cost": "prices",
    "tuition": "prices", "cost": "prices", "course fee": "prices", "fee": "prices",
    "total credits": "credits_raw", "total credit hours": "credits_raw",
    "schedule": "timing_raw", "start dates": "start_dates_raw", "starts": "start_dates_raw",
    "language": "language_raw", "language of instruction": "language_raw", "accreditation": "quality_assurance_raw",
    "department": "subjects", "area of study": "subjects", "subject": "subjects",
}


class CourseLeafSpider(CredcatSpider):
    kind = "courseleaf"

    program_index_pattern: ClassVar[str] = r"/(programs|certificates|degrees)/?$"
    index_link_css: ClassVar[str] = "a::attr(href)"
    subject_css: ClassVar[str] = "h1.page-title, h1"
    courseblock_css: ClassVar[str] = "div.courseblock"
    block_title_css: ClassVar[str] = ".courseblocktitle"
    block_code_css: ClassVar[str] = ".courseblockcode, .detail-code"
    block_name_css: ClassVar[str] = ".detail-title"
    block_hours_css: ClassVar[str] = ".courseblockhours, .detail-hours_html, .detail-credits"
    block_desc_css: ClassVar[str] = ".courseblockdesc"
    block_extra_css: ClassVar[str] = ".courseblockextra"
    program_field_css: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "title": ("h1.page-title", "h1"),
        # the overview's paragraphs, not its "<strong>Label:</strong> value" lines
        "description": ('//*[@id="overviewtextcontainer" or @id="textcontainer"]/p'
                        '[not((strong or b) and starts-with(normalize-space(.), normalize-space((strong|b)[1])))]',),
        "learning_outcomes": ('//h2[contains(., "Outcomes")]/following-sibling::ul[1]/li',),
        "credits_raw": ("table.sc_courselist tr.listsum td.hourscol::text",),
    }
    program_facts_css: ClassVar[str] = "#overviewtextcontainer, #textcontainer"
    page_field_css: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "awarding_body": ('meta[property="og:site_name"]::attr(content)',),
        "language_raw": ("html::attr(lang)",),
    }
    facts_map: ClassVar[dict[str, str]] = COURSELEAF_FACTS
    own_path_css: ClassVar[str] = "li.self > ul::attr(id)"  # CourseLeaf nav: the page's own path
    site_url: str | None = None  # option: the site saved pages came from (their links resolve on it)
    option_names: ClassVar[frozenset[str]] = frozenset({"site_url", "program_index_pattern", "subject_css",
                                                        "courseblock_css", "block_title_css"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        apply_options(self, self.option_names)

    def page_url(self, response: Response) -> str:
        """The URL the page's links resolve against: its own, or for a saved page its original URL."""
        if not response.url.startswith("file:") or not self.site_url:
            return response.url
        own = response.css(self.own_path_css).get()
        return self.site_url.rstrip("/") + own if own and own.startswith("/") else response.url

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Start callback: a subject page is read; an index page leads one level down."""
        if response.css(self.courseblock_css):
            yield from self.parse_subject(response)
            return
        is_programs = re.search(self.program_index_pattern, urlsplit(self.page_url(response)).path) is not None
        callback = self.parse_program if is_programs else self.parse_subject
        for url in self.child_links(response):
            yield scrapy.Request(url, callback=callback, errback=self.on_error)

    def child_links(self, response: Response) -> list[str]:
        """Links to the pages one level below this index page (subject or program pages)."""
        page = self.page_url(response)
        base = urlsplit(page)
        prefix = base.path if base.path.endswith("/") else base.path.rsplit("/", 1)[0] + "/"
        seen: dict[str, None] = {}
        for href in response.css(self.index_link_css).getall():
            url = urldefrag(urljoin(page, href.strip())).url
            parts = urlsplit(url)
            rest = parts.path[len(prefix):] if parts.path.startswith(prefix) else ""
            if (parts.netloc == base.netloc and not parts.query and re.fullmatch(r"[^/]+/?", rest)
                    and not _FILE_LINK.search(rest) and url != urldefrag(page).url):
                seen.setdefault(url)
        return list(seen)

    # --- subject pages: course blocks ------------------------------------------------------

    def parse_subject(self, response: Response) -> Iterator[dict[str, Any]]:
        sel = Selector(text=response.text)
        page = fields_from_css(sel, self.page_field_css)
        if not page.get("awarding_body") and (site := self.site_name(sel)):
            page["awarding_body"] = site
        subject = extract_first(sel, self.subject_css)
        blocks = sel.css(self.courseblock_css)
        if not blocks:
            self.page_defect(response, "no_courseblocks", "subject page without courses")
        for position, block in enumerate(blocks):
            yield guarded(self, response, f"{urlsplit(response.url).path}#{position}", {"html": block.get()},
                          lambda b=block, i=position: self.course(response, b, i, subject, page))

    @staticmethod
    def site_name(sel: Selector) -> str | None:
        """CourseLeaf titles its pages "<page> < <site>": the site's name, if the title has one."""
        title = squash(sel.css("title::text").get())
        return squash(title.rsplit(" < ", 1)[1]) if title and " < " in title else None

    def course(self, response: Response, block: Selector, position: int, subject: str | None,
               page: dict[str, Any]) -> dict[str, Any]:
        defects: list[str] = []
        head = self.title_parts(block)
        if head.get("code") is None:
            defects.append(self.page_defect(response, "unparsed_course_title", head.get("title_line") or ""))
        desc_el = block.css(self.block_desc_css)
        description = inner_html(desc_el[0]) if desc_el else None
        extras = self.extra_facts(block)
        key = head.get("code") or f"{urlsplit(response.url).path}#{position}"
        payload = {"title_line": head.get("title_line"), "code": head.get("code"), "subject": subject,
                   "description": description, "extras": facts_payload(extras)}
        fields: dict[str, Any] = {
            "record_kind_raw": "course", "title": head.get("title"), "description": description,
            "credits_raw": head.get("hours"), "credit_unit_raw": head.get("unit"),
            "subjects": [subject] if subject else [],
        }
        for name, value in {**page, **fields_from_facts(extras, self.facts_map)}.items():
            if fields.get(name) in (None, "", []):
                fields[name] = value
        return self.offering(response, key, payload, page_defects=defects, **present(fields))

    def title_parts(self, block: Selector) -> dict[str, str | None]:
        """Code, title, hours and unit of a course block (spans where the theme has them)."""
        line = extract_first(block, self.block_title_css)
        code = extract_first(block, self.block_code_css)
        if code:
            hours_text = extract_first(block, self.block_hours_css) or ""
            hours = HOURS_ONLY.match(hours_text)
            title = extract_first(block, self.block_name_css)
            return {"title_line": line, "code": code, "title": title.rstrip(". ") if title else None,
                    "hours": hours and hours["hours"], "unit": hours and hours["unit"].rstrip(".")}
        m = COURSE_TITLE.match(line or "")
        if not m:
            return {"title_line": line, "code": None, "title": line, "hours": None, "unit": None}
        title, hours, unit = m["title"], m["hours"], m["unit"]
        if hours is None and title and (trailing := _LABELLED_HOURS.search(title) or _BARE_HOURS.search(title)):
            title, hours = title[:trailing.start()], trailing["hours"]
            unit = trailing.groupdict().get("unit")
        return {"title_line": line, "code": m["code"], "title": title or None,
                "hours": hours, "unit": unit.rstrip(".") if unit else None}

    def extra_facts(self, block: Selector) -> dict[str, Fact]:
        """The block's extra lines as facts: '<strong>Prerequisite:</strong> ...' or 'Prerequisite: ...'."""
        facts = label_values(block, self.block_extra_css)
        for p in block.css(self.block_extra_css):
            m = _LABEL_LINE.match(element_text(p) or "")
            if m and label_key(m["label"]) not in facts:
                facts[label_key(m["label"])] = Fact(label=m["label"], text=squash(m["value"]))
        return facts

    # --- program pages ---------------------------------------------------------------------

    def parse_program(self, response: Response) -> Iterator[dict[str, Any]]:
        yield guarded(self, response, urlsplit(response.url).path, {"url": response.url}, lambda: self.program(response))

    def program(self, response: Response) -> dict[str, Any]:
        sel = Selector(text=response.text)
        fields = fields_from_css(sel, self.program_field_css)
        facts = label_values(sel, self.program_facts_css)
        # the page's own selectors, then its labelled facts, then what every page of the site says
        for name, value in [*fields_from_facts(facts, self.facts_map).items(), *fields_from_css(sel, self.page_field_css).items()]:
            fields.setdefault(name, value)
        defects = [] if fields.get("title") else [self.page_defect(response, "no_title", "program page without h1")]
        payload = {"facts": facts_payload(facts), **{k: v for k, v in fields.items() if k != "prices"}}
        return self.offering(response, urlsplit(response.url).path, payload, record_kind_raw="program",
                             page_defects=defects, **present(fields))

