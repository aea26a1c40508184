"""Reading fields out of HTML by declared selectors, shared by the HTML kinds.

Selectors are CSS (or XPath when they start with ``/`` or ``(``). A selector that ends in
``::text`` or ``::attr(...)`` yields those strings; one that selects elements yields each
element's text, or its inner HTML for fields declared as markup (descriptions): spiders keep
markup, normalization strips it.

``label_values`` reads the label/value facts that catalog pages put in a ``<dl>``, a two-column
``<table>`` or ``<p><strong>Label:</strong> value</p>`` lines, so a page's facts become
``{"exam fee": Fact(...)}`` and a spider maps labels to RawOffering fields by declaration.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from parsel import Selector, SelectorList

from scrapers.base.fields import LIST_FIELDS

_WS = re.compile(r"\s+")
# Fields whose value is markup as the source wrote it (kept, never stripped here).
MARKUP_FIELDS = frozenset({"description"})


def squash(text: str | None) -> str | None:
    """HTML text as a reader sees it: runs of whitespace (incl. &#160;) are one space."""
    if text is None:
        return None
    text = _WS.sub(" ", text.replace("\xa0", " ")).strip()
    return text or None


def select(sel: Selector | SelectorList, query: str) -> SelectorList:
    return sel.xpath(query) if query.startswith(("/", "(", "./")) else sel.css(query)


def element_text(el: Selector) -> str | None:
    return squash(" ".join(el.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]").getall()))


def inner_html(el: Selector) -> str | None:
    """The element's content as written (its children's markup), without the element's own tag."""
    # lxml hands text nodes back decoded ("&amp;" as "&"): escape them again so the whole
    # value is HTML, as the page wrote it (elements serialize their own text escaped).
    parts = [html.escape(n.root, quote=False) if isinstance(n.root, str) else n.get() for n in el.xpath("./node()")]
    text = "".join(parts).strip()
    return text or None


def extract_all(sel: Selector | SelectorList, query: str, markup: bool = False) -> list[str]:
    """Every value a selector gives: strings for ::text / ::attr, else element text (or markup)."""
    found = select(sel, query)
    out: list[str] = []
    for node in found:
        root = node.root
        if isinstance(root, str):  # ::text, ::attr(), text() and @attr results
            value = squash(root)
        else:
            value = inner_html(node) if markup else element_text(node)
        if value:
            out.append(value)
    return out


def extract_first(sel: Selector | SelectorList, query: str, markup: bool = False) -> str | None:
    values = extract_all(sel, query, markup)
    return values[0] if values else None


@dataclass
class Fact:
    """One labelled value of a page: its label as written, its text, and its list items."""

    label: str
    text: str | None
    items: list[str] = field(default_factory=list)
    html: str | None = None


def label_key(label: str) -> str:
    """The lookup key of a label: 'Exam fee:' -> 'exam fee'."""
    return (squash(label) or "").rstrip(":").strip().lower()


def _fact(label: str, value: Selector | None, text: str | None = None) -> Fact:
    items = [t for t in (element_text(li) for li in value.css("li")) if t] if value is not None else []
    if value is not None and text is None:
        text = element_text(value)
    return Fact(label=squash(label) or "", text=text, items=items,
                html=inner_html(value) if value is not None else None)


def _node_text(node: Selector) -> str:
    return node.root if isinstance(node.root, str) else (element_text(node) or "")


def label_values(sel: Selector | SelectorList, scope: str | None = None) -> dict[str, Fact]:
    """Facts of the label/value blocks inside ``scope`` (default: the whole page), first wins."""
    roots = select(sel, scope) if scope else SelectorList([sel]) if isinstance(sel, Selector) else sel
    facts: dict[str, Fact] = {}

    def add(fact: Fact) -> None:
        key = label_key(fact.label)
        if key and key not in facts:
            facts[key] = fact

    for root in roots:
        for dl in root.xpath("descendant-or-self::dl"):
            label = None
            for child in dl.xpath("./dt|./dd|./div/dt|./div/dd"):
                tag = child.root.tag
                if tag == "dt":
                    label = element_text(child)
                elif label:
                    add(_fact(label, child))
        for row in root.xpath("descendant-or-self::table//tr"):
            cells = row.xpath("./th|./td")
            if len(cells) == 2:
                label = element_text(cells[0])
                if label:
                    add(_fact(label, cells[1]))
        # <p><strong>Label:</strong> value</p>, <li><b>Label</b>: value</li>
        for line in root.xpath("descendant-or-self::*[self::p or self::li or self::div][strong or b]"):
            first = line.xpath("./*[1][self::strong or self::b]")
            head = element_text(first[0]) if first else None
            if not head:
                continue
            rest = squash(" ".join(_node_text(n) for n in first[0].xpath("./following-sibling::node()")))
            if not head.endswith(":"):
                if not rest or not rest.startswith(":"):
                    continue
                rest = squash(rest[1:])
            items = [t for t in (element_text(li) for li in first[0].xpath("./following-sibling::*/descendant-or-self::li")) if t]
            add(Fact(label=head, text=rest, items=items))
    return facts


def fields_from_css(sel: Selector | SelectorList, field_css: dict[str, str | tuple[str, ...]]) -> dict[str, object]:
    """RawOffering fields by declared selectors; a tuple of selectors is tried in order."""
    out: dict[str, object] = {}
    for name, queries in field_css.items():
        for query in (queries,) if isinstance(queries, str) else queries:
            values = extract_all(sel, query, markup=name in MARKUP_FIELDS)
            if not values:
                continue
            if name in LIST_FIELDS:
                out[name] = values
            elif name in MARKUP_FIELDS:
                out[name] = "\n".join(values)
            else:
                out[name] = values[0]
            break
    return out


def fields_from_facts(facts: dict[str, Fact], facts_map: dict[str, str]) -> dict[str, object]:
    """RawOffering fields from labelled facts: ``facts_map`` maps a label key to a field.

    Several labels may feed one field: list fields collect, scalars keep the first, and
    ``prices`` gets one raw price per label (the text as written, the label as its label).
    """
    out: dict[str, object] = {}
    for key, fact in facts.items():
        name = facts_map.get(key)
        if not name or (fact.text is None and not fact.items):
            continue
        if name == "prices":
            out.setdefault("prices", []).append({"text": fact.text, "label": fact.label.rstrip(":").strip()})  # type: ignore[union-attr]
        elif name in LIST_FIELDS:
            out.setdefault(name, []).extend(fact.items or [fact.text])  # type: ignore[union-attr]
        elif name in MARKUP_FIELDS:
            out.setdefault(name, fact.html or fact.text)
        else:
            out.setdefault(name, fact.text)
    return out


def facts_payload(facts: dict[str, Fact]) -> dict[str, object]:
    """The facts as the page gave them, for the record's payload."""
    return {f.label.rstrip(":").strip(): (f.items or f.text) for f in facts.values()}


def present(fields: dict[str, object]) -> dict[str, object]:
    """The fields that hold a value (an absent value is left out of the record, not blanked)."""
    return {k: v for k, v in fields.items() if v not in (None, "", [])}
