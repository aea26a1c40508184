"""Tolerant JSON-LD reading, shared by the kinds that read schema.org and CTDL.

Why not extruct alone: ``extruct.JsonLdExtractor`` raises on the first block it cannot
decode, which loses every other block of the page; real program pages (wgu.edu among them)
carry blocks that ``json.loads`` rejects. Here each block is decoded on its own, a failed
block gets one repair pass (comments, trailing commas, stray control characters, HTML
comment or CDATA wrappers, entity-escaped bodies, several objects in one script), and what
still fails is reported so the caller can record a page defect and use the rest of the page.

The helpers below also flatten ``@graph``, index nodes by ``@id`` so references resolve
across blocks, read dotted property paths through lists, and pick one language's value
from a JSON-LD language map (``{"en-US": "..."}``) or from a list of language-tagged values
(``[{"@value": "Kurs", "@language": "de"}, {"@value": "Course", "@language": "en"}]``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import jstyleson  # extruct's own fallback parser: string-aware comment and trailing-comma removal
from parsel import Selector

BlockStatus = Literal["ok", "repaired", "invalid"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WRAPPERS = re.compile(r"^\s*(?://\s*)?(?:<!--|<!\[CDATA\[)|(?://\s*)?(?:-->|\]\]>)\s*$")
# A BCP 47 tag as language maps use them: "en", "en-US", "zh_Hant", and the private-use or
# grandfathered ones ("x-default", "i-klingon"). Primary subtags stay 2-3 letters, so node keys
# ("name", "value") are never mistaken for languages.
_LANG_TAG = re.compile(r"^(?:[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*|[xXiI](?:[-_][A-Za-z0-9]{1,8})+)$")
# Entries that are meant for no language in particular: JSON-LD 1.1's "@none", hreflang's
# "x-default", BCP 47's "und" (undetermined).
_NEUTRAL_TAGS = ("@none", "x-default", "und")
_BOM = "\ufeff"
_LEADING_BOM = re.compile(r"^[ \t\r\n]*\ufeff[ \t\r\n\ufeff]*")
_DECODER = json.JSONDecoder(strict=False)


@dataclass(frozen=True)
class JsonLdBlock:
    """One ``<script type="application/ld+json">`` block and what became of it."""

    index: int
    text: str
    data: Any
    status: BlockStatus
    error: str | None = None


def repair_json(text: str) -> str:
    """The usual breakage of hand-edited JSON-LD, mended where it is unambiguous."""
    text = _WRAPPERS.sub("", _strip_bom(text).strip())
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    if "&quot;" in text and '"' not in text:
        text = html.unescape(text)  # a CMS escaped the whole body
    text = _CONTROL.sub("", text)
    return jstyleson.dispose(text)


def _strip_bom(text: str) -> str:
    """Without the byte order mark an editor or a CMS include may put before the JSON (and
    the JSON whitespace around it)."""
    return _LEADING_BOM.sub("", text)


def _decode_all(text: str) -> Any:
    """Decode one JSON value, or several concatenated ones (``{..}{..}``, ``{..},{..};``)."""
    values, pos, text = [], 0, text.strip()
    while pos < len(text):
        value, pos = _DECODER.raw_decode(text, pos)
        values.append(value)
        while pos < len(text) and text[pos] in " \t\r\n,;" + _BOM:
            pos += 1
    if not values:
        raise ValueError("empty JSON-LD block")
    return values[0] if len(values) == 1 else values


def decode_jsonld(text: str) -> tuple[Any, BlockStatus, str | None]:
    """Decode a block: as is, else after one repair pass; ``invalid`` keeps the first error.

    A leading byte order mark is no breakage (RFC 8259 lets parsers ignore it): it is dropped
    before the first try.
    """
    text = _strip_bom(text)
    try:
        return json.loads(text, strict=False), "ok", None
    except (ValueError, RecursionError) as first:  # RecursionError: nested deeper than the stack
        try:
            return _decode_all(repair_json(text)), "repaired", str(first)
        except (ValueError, RecursionError):
            return None, "invalid", str(first)


def jsonld_blocks(html_text: str | Selector) -> list[JsonLdBlock]:
    """Every JSON-LD block of an HTML page, each decoded on its own."""
    sel = html_text if isinstance(html_text, Selector) else Selector(text=html_text)
    blocks = []
    scripts = sel.xpath('//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]/text()')
    for i, node in enumerate(scripts):
        text = node.get()
        data, status, error = decode_jsonld(text)
        blocks.append(JsonLdBlock(i, text, data, status, error))
    return blocks


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def top_nodes(data: Any) -> list[dict[str, Any]]:
    """The resources of a decoded document: a node, a list of nodes, or an ``@graph``."""
    out: list[dict[str, Any]] = []
    for item in as_list(data):
        if not isinstance(item, dict):
            continue
        if "@graph" in item:
            out.extend(top_nodes(item["@graph"]))
            if "@type" in item:  # a typed node that also carries a graph
                out.append({k: v for k, v in item.items() if k != "@graph"})
        else:
            out.append(item)
    return out


def is_reference(value: Any) -> bool:
    """``{"@id": ...}`` (optionally typed) with nothing else: a pointer to another node."""
    return isinstance(value, dict) and "@id" in value and set(value) <= {"@id", "@type"}


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def index_by_id(nodes: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every described node (top level or nested) by its ``@id``; the fullest one wins."""
    index: dict[str, dict[str, Any]] = {}
    for node in nodes:
        for sub in _walk(node):
            ident = sub.get("@id")
            if isinstance(ident, str) and not is_reference(sub) and len(sub) > len(index.get(ident, {})):
                index[ident] = sub
    return index


def resolve(value: Any, index: dict[str, dict[str, Any]], depth: int = 6, _path: frozenset[str] = frozenset()) -> Any:
    """A copy of ``value`` with references replaced by the nodes they point to (no cycles)."""
    if isinstance(value, list):
        return [resolve(v, index, depth, _path) for v in value]
    if isinstance(value, str) and value in index and value not in _path and depth > 0:
        # CTDL writes references as bare URIs ("ceterms:ownedBy": ["https://.../ce-..."])
        return resolve(index[value], index, depth - 1, _path | {value})
    if not isinstance(value, dict):
        return value
    ident = value.get("@id")
    if is_reference(value) and isinstance(ident, str):
        if ident in index and ident not in _path and depth > 0:
            return resolve(index[ident], index, depth - 1, _path | {ident})
        return value
    inner = _path | {ident} if isinstance(ident, str) else _path
    return {k: (v if k in ("@id", "@type", "@context") else resolve(v, index, depth, inner)) for k, v in value.items()}


def local_name(term: str) -> str:
    """``http://schema.org/Course``, ``schema:Course``, ``ceterms:Course`` -> ``Course``."""
    return re.split(r"[/#:]", term.rstrip("/"))[-1]


def types_of(node: dict[str, Any]) -> list[str]:
    return [local_name(t) for t in as_list(node.get("@type")) if isinstance(t, str)]


def has_type(node: dict[str, Any], wanted: Iterable[str]) -> bool:
    wanted = set(wanted)
    return any(t in wanted for t in types_of(node))


def path_values(node: Any, path: str) -> list[Any]:
    """Values at a dotted path, fanning out through lists: ``offers.priceSpecification.price``.

    A property given in several languages (a list of language-tagged values) gives the values
    of one language, chosen per node as ``pick_language`` chooses.
    """
    current = as_list(node)
    for key in path.split("."):
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict) and key in item:
                value = item[key]
                nxt.extend(as_list(pick_language(value) if is_tagged_list(value) else value))
        current = nxt
    return [v for v in current if v is not None and v != "" and v != []]


def is_language_map(value: Any) -> bool:
    return (isinstance(value, dict) and bool(value)
            and all(isinstance(k, str) and (k == "@none" or _LANG_TAG.match(k)) for k in value))


def _is_value_object(value: Any) -> bool:
    return isinstance(value, dict) and "@value" in value and set(value) <= {"@value", "@language", "@type", "@direction"}


def is_tagged_list(value: Any) -> bool:
    """A list of value objects of which some are language-tagged: one value in several languages."""
    return (isinstance(value, list) and bool(value) and all(_is_value_object(v) for v in value)
            and any(isinstance(v.get("@language"), str) for v in value))


def _tag(key: Any) -> str:
    return key.lower().replace("_", "-") if isinstance(key, str) and key else "@none"


def _preferred_tag(tags: Iterable[str], prefer: tuple[str, ...]) -> str:
    """Of normalized tags (at least one): the preferred, else any English variant, else a
    language-neutral entry, else the first."""
    tags = list(tags)
    for tag in prefer:
        if tag in tags:
            return tag
    for tag in tags:  # any English variant before other languages
        if tag.startswith("en"):
            return tag
    for tag in _NEUTRAL_TAGS:
        if tag in tags:
            return tag
    return tags[0]


def pick_language(value: Any, prefer: tuple[str, ...] = ("en", "en-us", "en-gb")) -> Any:
    """One language's value: of a language map, of a list of language-tagged values (several
    values of the chosen language stay a list), of a value object; other values unchanged."""
    if isinstance(value, dict) and "@value" in value:
        return value["@value"]
    if is_tagged_list(value):
        by_tag: dict[str, list[Any]] = {}
        for v in value:
            by_tag.setdefault(_tag(v.get("@language")), []).append(v["@value"])
        chosen = by_tag[_preferred_tag(by_tag, prefer)]
        return chosen[0] if len(chosen) == 1 else chosen
    if not is_language_map(value):
        return value
    entries = {_tag(k): v for k, v in value.items()}
    return entries[_preferred_tag(entries, prefer)]


def text_of(value: Any) -> str | None:
    """A scalar reading of a JSON-LD value: strings and numbers as given, nodes by their name."""
    value = pick_language(value)
    if isinstance(value, list):
        parts = [t for t in (text_of(v) for v in value) if t]
        return ", ".join(parts) if parts else None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        text = str(value).strip() if isinstance(value, str) else str(value)
        return text or None
    if isinstance(value, dict):
        for key in ("name", "ceterms:name", "ceterms:targetNodeName", "credentialCategory", "text", "value",
                    "termCode", "@id"):
            if key in value:
                return text_of(value[key])
    return None


def texts_of(values: Iterable[Any]) -> list[str]:
    """A list reading: every value (lists and language maps of lists flattened; of values
    given in several languages, one language's)."""
    out: list[str] = []
    for v in as_list(pick_language(list(values))):
        v = pick_language(v)
        if isinstance(v, list):
            out.extend(texts_of(v))
        elif (t := text_of(v)) is not None:
            out.append(t)
    return out
