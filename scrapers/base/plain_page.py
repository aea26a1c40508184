"""Kind ``plain_page``: one course or program page with no structured data, read by heuristics.

For the long tail of college and training-provider pages that carry no JSON-LD and share no
markup: every start URL (or saved file) is one offering, read as a reader would read it.

- title: ``og:title``, else the ``h1``, else ``<title>`` without its " | Site" tail;
- key and URL: the canonical link (a saved page keeps its original address), else the URL read;
- description: the meta description (``og:description``), else the main content's first
  paragraphs (``description_paragraphs``);
- awarding body: ``og:site_name``, else the site part of ``<title>`` ("Page | Site");
- labelled facts, wherever the page puts them: ``<dl>``, two-column tables, "<b>Label:</b>
  value" lines (``html_fields.label_values``), a short label element followed by its value
  element (``<div class="label">Program</div><div>Culinary Arts</div>``, "Total Credits" /
  "30" grid rows), and "Label: value" text lines; ``facts_map`` maps a label (lower case, no
  colon) to a RawOffering field, and a label that merely *starts* with a known one
  ("Total Credits (minimum)") counts too;
- what the text says without a label: money ("$1,234", "USD 250") as prices with their
  sentence; "N hours" as the workload, "N weeks / two semesters" as the duration, from the
  description first and then the main content (the sentence is kept in the payload);
- a credential-type badge near the title (``credential_type_css``) and a learning-outcomes
  list under a heading or label that announces outcomes.

Values stay as written (normalization parses them); what was found, and where, is kept in
the payload (``found``). Every heuristic is a class attribute, settable by ``options``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

from parsel import Selector
from scrapy.http import Response

from scrapers.base.fields import LIST_FIELDS
from scrapers.base.guard import guarded
from scrapers.base.html_fields import (
    Fact,
    element_text,
    extract_first,
    facts_payload,
    label_key,
    label_values,
    present,
    select,
    squash,
)
from scrapers.base.options import apply_options
from scrapers.base.spider import CredcatSpider

PLAIN_FACTS: dict[str, str] = {
    "hours": "workload_raw", "total hours": "workload_raw", "contact hours": "workload_raw",
    "clock hours": "workload_raw", "course hours": "workload_raw", "workload": "workload_raw", "effort": "workload_raw",
    "credits": "credits_raw", "total credits": "credits_raw", "credit hours": "credits_raw", "units": "credits_raw",
    "ceus": "credits_raw", "ceu": "credits_raw",
    "cost": "prices", "tuition": "prices", "fee": "prices", "fees": "prices", "price": "prices",
    "course fee": "prices", "program cost": "prices", "estimated cost": "prices", "total cost": "prices",
    "duration": "duration_raw", "length": "duration_raw", "program length": "duration_raw",
    "course length": "duration_raw", "time to complete": "duration_raw",
    "credential": "credential_type_raw", "award": "credential_type_raw", "degree type": "credential_type_raw",
    "credential type": "credential_type_raw", "certificate type": "credential_type_raw",
    "program": "subjects", "department": "subjects", "subject": "subjects", "area of study": "subjects",
    "category": "subjects",
    "prerequisites": "prerequisites_raw", "prerequisite": "prerequisites_raw", "requirements": "prerequisites_raw",
    "delivery": "modality_raw", "format": "modality_raw", "delivery method": "modality_raw", "location": "modality_raw",
    "language": "language_raw", "level": "level_raw", "start date": "start_dates_raw", "start dates": "start_dates_raw",
    "starts": "start_dates_raw", "schedule": "timing_raw", "accreditation": "quality_assurance_raw",
}

# An amount with its currency before it ($1,250.00, EUR 99) or after it, as European pages
# write it (1.250,00 €, 99 EUR).
_MONEY = re.compile(r"(?:[$€£]\s?\d[\d,]*(?:\.\d{2})?|\b(?:USD|EUR|GBP|CAD|AUD)\s?\d[\d,]*(?:\.\d{2})?"
                    r"|\b(?:\d{1,3}(?:[.\s\u00a0]\d{3})+|\d+)(?:,\d{2})?\s?(?:€|£|\b(?:EUR|GBP|CHF|USD)\b))")
_HOURS = re.compile(r"(?i)\b\d[\d,.]*(?:\s*(?:-|–|to)\s*\d[\d,.]*)?\s*(?:clock |contact |credit )?hours?\b(?:\s+(?:of|per|a)\s+[\w-]+(?:\s+[\w-]+){0,3})?")
_NUMBER_WORD = r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"
_LENGTH = re.compile(rf"(?i)\b{_NUMBER_WORD}(?:\s*(?:-|–|to)\s*{_NUMBER_WORD})?[- ](?:semesters?|terms?|quarters?|weeks?|months?|years?|days?)\b")
_SENTENCE = re.compile(r"[^.!?]*[.!?]?")
_LABEL_LINE = re.compile(r"^(?P<label>[A-Z][\w ()/&'-]{1,40}?)\s*:\s*(?P<value>\S.{0,200})$")


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` that holds ``text[start:end]``."""
    left = max(text.rfind(". ", 0, start), text.rfind("? ", 0, start), text.rfind("! ", 0, start))
    right = min([i for i in (text.find(". ", end), text.find("? ", end), text.find("! ", end)) if i >= 0] or [len(text)])
    return text[left + 2 if left >= 0 else 0: right + 1].strip()


class PlainPageSpider(CredcatSpider):
    kind = "plain_page"

    main_css: str = "main, [role=main], #main, #content, article, body"
    title_css: tuple[str, ...] = ('meta[property="og:title"]::attr(content)', "h1", "title::text")
    description_css: tuple[str, ...] = ('meta[name="description"]::attr(content)',
                                        'meta[property="og:description"]::attr(content)')
    description_paragraphs: int = 2
    site_name_css: str = 'meta[property="og:site_name"]::attr(content)'
    title_separators: tuple[str, ...] = (" | ", " – ", " - ", " :: ", " < ")
    credential_type_css: str = ('[class*="degree-type"], [class*="credential-type"], [class*="award-type"], '
                                '[class*="program-type"], [class*="degree-class-badge"]')
    outcomes_label_pattern: str = r"(?i)outcomes|will be able to|you will learn|what you.ll learn|objectives"
    label_css: str = ('[class*="label"], dt, th, [class*="col-"]')
    record_kind_raw: str | None = None
    facts_map: ClassVar[dict[str, str]] = PLAIN_FACTS
    option_names: ClassVar[frozenset[str]] = frozenset({
        "main_css", "title_css", "description_css", "description_paragraphs", "site_name_css",
        "credential_type_css", "outcomes_label_pattern", "label_css", "record_kind_raw",
    })

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        apply_options(self, self.option_names)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield guarded(self, response, urlsplit(response.url).path, {"url": response.url}, lambda: self.page(response))

    @staticmethod
    def canonical(sel: Selector, response: Response) -> str:
        """The page's own URL: its canonical link (a saved page's original address), else where it was read."""
        href = sel.css('link[rel="canonical"]::attr(href)').get() or sel.css('meta[property="og:url"]::attr(content)').get()
        return response.urljoin(href.strip()) if href and "://" in href else response.url

    # --- the page ----------------------------------------------------------------------------

    def page(self, response: Response) -> dict[str, Any]:
        sel = Selector(text=response.text)
        main = select(sel, self.main_css)
        main = main[0] if main else sel
        found: dict[str, Any] = {}
        title_tag = squash(sel.css("title::text").get())
        title = self.first(sel, self.title_css)
        # A title that is the <title> tag carries the site's name after a separator, unless the
        # page's own heading says the whole text is the name ("Café – Pro").
        if title and title == title_tag and title != squash(extract_first(sel, "h1")):
            title = self.split_title(title)[0]
        site = extract_first(sel, self.site_name_css) or (self.split_title(title_tag)[1] if title_tag else None)
        description = self.first(sel, self.description_css)
        if not description:
            paragraphs = [t for t in (element_text(p) for p in main.xpath(".//p")) if t and len(t) > 40]
            description = "\n".join(paragraphs[: self.description_paragraphs]) or None
            found["description_from"] = "paragraphs"
        fields: dict[str, Any] = {"title": title, "description": description, "awarding_body": site,
                                  "language_raw": sel.css("html::attr(lang)").get()}
        if self.record_kind_raw:
            fields["record_kind_raw"] = self.record_kind_raw
        badge = main.css(self.credential_type_css) if self.credential_type_css else []
        if badge and (text := element_text(badge[0])) and len(text) <= 60:
            fields["credential_type_raw"] = text
        facts = self.facts(main)
        for name, value in self.map_facts(facts).items():
            fields.setdefault(name, value)
        outcomes = self.outcomes(main)
        if outcomes:
            fields["learning_outcomes"] = outcomes
        main_text = element_text(main) or ""
        self.unlabelled(fields, found, description or "", main_text)
        defects = [] if fields.get("title") else [self.page_defect(response, "no_title", "page without a title")]
        payload = {"facts": facts_payload(facts), "found": found, "title_tag": title_tag}
        url = self.canonical(sel, response)
        payload["read_from"] = response.url
        return self.offering(response, urlsplit(url).path, payload, url=url, page_defects=defects, **present(fields))

    def first(self, sel: Selector, queries: tuple[str, ...] | str) -> str | None:
        for q in (queries,) if isinstance(queries, str) else queries:
            if value := extract_first(sel, q):
                return value
        return None

    def split_title(self, title: str) -> tuple[str, str | None]:
        """'Baking and Pastry I | Atlantic Cape Community College' -> (page, site)."""
        for sep in self.title_separators:
            if sep in title:
                page, site = title.rsplit(sep, 1)
                return page.strip(), site.strip() or None
        return title, None

    # --- labelled facts ----------------------------------------------------------------------

    def facts(self, main: Selector) -> dict[str, Fact]:
        facts = label_values(main)
        # A short label element followed by its value element (field__label / field__item, grid rows).
        for el in main.css(self.label_css):
            label = element_text(el)
            if not label or len(label) > 40 or label_key(label) in facts:
                continue
            value = el.xpath("following-sibling::*[1]")
            if not value or value[0].css(self.label_css.split(",")[0].strip()):
                continue
            text = element_text(value[0])
            if text and len(text) <= 200:
                items = [t for t in (element_text(li) for li in value[0].css("li")) if t]
                facts[label_key(label)] = Fact(label=label, text=text, items=items)
        # "Label: value" lines of text.
        for node in main.xpath(".//*[self::p or self::li or self::div or self::span][not(*[self::p or self::div or self::ul])]"):
            m = _LABEL_LINE.match(element_text(node) or "")
            if m and label_key(m["label"]) not in facts:
                facts[label_key(m["label"])] = Fact(label=m["label"], text=squash(m["value"]))
        return facts

    def map_facts(self, facts: dict[str, Fact]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, fact in facts.items():
            name = self.facts_map.get(key) or next(
                (f for k, f in self.facts_map.items() if key.startswith(k + " ") or key.startswith(k + "(")), None)
            if not name or not (fact.text or fact.items):
                continue
            if name == "prices":
                out.setdefault("prices", []).append({"text": fact.text, "label": fact.label.rstrip(":").strip()})
            elif name in LIST_FIELDS:
                out.setdefault(name, []).extend(fact.items or [fact.text])
            else:
                out.setdefault(name, fact.text)
        return out

    def outcomes(self, main: Selector) -> list[str]:
        pattern = re.compile(self.outcomes_label_pattern)
        for label in main.xpath(".//*[self::h2 or self::h3 or self::h4 or self::strong or self::p or self::div]"
                                "[string-length(normalize-space(.)) < 120]"):
            if label.xpath(".//ul") or not pattern.search(element_text(label) or ""):
                continue
            lst = label.xpath("following::ul[1]")
            if lst:
                return [t for t in (element_text(li) for li in lst[0].xpath("./li")) if t]
        return []

    # --- what the text says without a label --------------------------------------------------

    def unlabelled(self, fields: dict[str, Any], found: dict[str, Any], description: str, main_text: str) -> None:
        for text, where in ((squash(description) or "", "description"), (main_text, "main")):
            if not fields.get("prices"):
                prices = [{"text": sentence_around(text, m.start(), m.end()), "amount": m.group(0)}
                          for m in _MONEY.finditer(text)]
                if prices:
                    fields["prices"] = prices[:5]
                    found["prices_from"] = where
            if not fields.get("workload_raw") and (m := _HOURS.search(text)):
                fields["workload_raw"] = squash(m.group(0))
                found["workload"] = {"from": where, "sentence": sentence_around(text, m.start(), m.end())}
            if not fields.get("duration_raw") and (m := _LENGTH.search(text)):
                fields["duration_raw"] = m.group(0)
                found["duration"] = {"from": where, "sentence": sentence_around(text, m.start(), m.end())}
