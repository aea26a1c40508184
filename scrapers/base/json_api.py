"""Kind ``json_api``: a paginated JSON API that lists records (edX, Udemy, Udacity, ...).

Declare where the records are and how the next page is found::

    class OpencourseApiSpider(JsonApiSpider):
        name = "opencourse_api"
        results_path = "results"              # dotted; "" when the body is the list itself
        next_path = "pagination.next"         # dotted path to the next page's URL
        key_path = "id"
        field_map = {"title": "name", "awarding_body": "org", ...}

Pagination, first match wins:

1. ``next_path``: the body names the next page (absolute or relative URL, or an object whose
   ``href`` or ``url`` is one, as HAL and JSON:API links are); none (null, false, "") ends it.
   Anything else there (a number, a list, an object without a link) is an
   ``unreadable_next_link`` defect and a failed page: the crawl stops and is not complete.
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

Saved responses and dumps:

- ``pages_path``: the body holds several pages (a dump of consecutive API responses): the
  dotted path to them ("" = the body itself), a list of pages or an object whose values are
  the pages, in order. Each page is read with ``results_path``; only the last page's next link
  is followed (the earlier pages' next pages are in the file).
- ``results_kinds``: the record kind of the records under each results path (a list parallel
  to ``results_path``): ``record_kind_raw`` when the field map gives none. While a record is
  mapped, ``self.results_origin`` is the results path it came from (for hooks).
- ``encoding`` (default: the charset of the Content-Type header, else utf-8) and ``encoding_fallback``: the body is
  decoded from bytes; a byte sequence that is not valid in ``encoding`` is decoded, sequence by
  sequence, with ``encoding_fallback`` (cp1252 bytes inside UTF-8 JSON: the page is marked
  ``mixed_encoding``); without a fallback such bytes become U+FFFD and the page is marked
  ``undecodable_bytes``. A header charset no Python codec reads (MySQL's ``utf8mb4`` and
  ``utf8mb3`` are read as utf-8) is read as utf-8 and the page is marked ``unknown_charset``;
  an ``encoding`` or ``encoding_fallback`` option no codec reads fails at start.
  Without an ``encoding`` option the body's first bytes come first: a byte order mark (UTF-8,
  UTF-16, UTF-32), else the pattern of NUL bytes of UTF-16 / UTF-32 text (RFC 4627 §3; JSON
  opens with ASCII), decides the codec over the header's charset; a UTF-16 / UTF-32 body, or a
  declared charset overruled, is marked ``sniffed_encoding``.

Wrapped bodies: a body that is no JSON as it stands but is JSON behind a known anti-XSSI
prefix (``)]}'``, ``while(1);``, ``for(;;);``, ``&&&START&&&``) or inside a single JSONP call
(``callback({...});``) is read, the page marked ``xssi_prefix`` or ``jsonp_wrapper``.

Results given as an object keyed by id (``{"results": {"c1": {...}, "c2": {...}}}``, the
shape linked_json reads as entities) are its values, each a record; a record whose
``key_path`` finds no key is keyed by its key in that object. A results object counts as such
a mapping when every value is an object, it has no key of its own at ``key_path``, and its
values carry more of the ``field_map`` than it does itself (else it is one record).
"""

from __future__ import annotations

import codecs
import json
import math
import re
import threading
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy.http import Response

from scrapers.base.fields import as_text, dig, extract
from scrapers.base.records import RecordSpider

_DECODING = threading.local()  # the fallback and counts of the decode in progress


def _fallback_handler(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    chunk = bytes(exc.object[exc.start:exc.end])
    fallback = getattr(_DECODING, "fallback", None)
    if fallback:
        try:
            text = chunk.decode(fallback)
            _DECODING.counts[0] += 1
            return text, exc.end
        except UnicodeDecodeError:
            pass
    _DECODING.counts[1] += len(chunk)
    return "\ufffd" * len(chunk), exc.end


codecs.register_error("credcat-fallback", _fallback_handler)


def decode_with_fallback(body: bytes, encoding: str, fallback: str | None) -> tuple[str, int, int]:
    """``body`` as text: invalid byte sequences of ``encoding`` decoded with ``fallback``.

    Returns the text, the number of sequences decoded by the fallback and the number of bytes
    that neither could decode (replaced by U+FFFD). A leading BOM is dropped.
    """
    _DECODING.fallback, _DECODING.counts = fallback, [0, 0]
    try:
        text = body.decode(encoding, errors="credcat-fallback")
        counts = tuple(_DECODING.counts)
    finally:
        _DECODING.fallback, _DECODING.counts = None, [0, 0]
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, counts[0], counts[1]


# Charset labels servers send that Python's codec registry does not know, as the codec that reads
# them (MySQL's names for UTF-8, from PHP/MySQL stacks).
CHARSET_ALIASES: dict[str, str] = {"utf8mb4": "utf-8", "utf8mb3": "utf-8", "utf-8mb4": "utf-8", "utf-8mb3": "utf-8"}
_NOT_CHARSETS = frozenset({"undefined"})  # Python codecs that are no charset of any text


def known_charset(name: str) -> str | None:
    """The Python codec that decodes the charset ``name``; ``None`` when there is none (an
    unknown label, or a bytes-to-bytes codec such as ``base64`` or ``rot13``)."""
    label = name.strip().strip("\"'").lower()
    label = CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


# Byte order marks, the longest first (UTF-32LE's starts with UTF-16LE's).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def sniff_encoding(body: bytes) -> tuple[str, str] | None:
    """The Unicode encoding a JSON body's first bytes show, and how: its byte order mark, else
    the NUL bytes of UTF-16 / UTF-32 text (RFC 4627 §3: the first two characters of JSON text
    are ASCII, so ``00 00 00 xx`` is UTF-32BE, ``xx 00 00 00`` UTF-32LE, ``00 xx`` UTF-16BE,
    ``xx 00`` UTF-16LE). ``None``: no sign, the body is read as declared."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, "byte order mark"
    head = body[:4]
    if len(head) == 4 and head[:3] == b"\0\0\0" and head[3]:
        return "utf-32-be", "NUL byte pattern"
    if len(head) == 4 and head[0] and head[1:] == b"\0\0\0":
        return "utf-32-le", "NUL byte pattern"
    if len(head) >= 2 and not head[0] and head[1]:
        return "utf-16-be", "NUL byte pattern"
    if len(head) >= 2 and head[0] and not head[1]:
        return "utf-16-le", "NUL byte pattern"
    return None


def _family(codec: str) -> str:
    """``utf-16-le`` -> ``utf-16``: codecs that read the same bytes once the BOM is known."""
    m = re.match(r"utf-(8|16|32)", codec)
    return m.group(0) if m else codec


def body_encoding(spider: Any, response: Response, encoding: str | None) -> tuple[str, list[str]]:
    """The codec a JSON body is decoded with, and the page defects that choice makes: the
    ``encoding`` option, else the encoding the body's first bytes show (``sniff_encoding``),
    else the charset the Content-Type header declares, else utf-8 (JSON is UTF-8, RFC 8259).
    A declared charset no codec reads is read as utf-8: ``unknown_charset``. A UTF-16 / UTF-32
    body, or one whose bytes overrule the declared charset, is ``sniffed_encoding``."""
    declared = encoding or declared_charset(response)
    sniffed = None if encoding else sniff_encoding(response.body)
    if sniffed is not None:
        codec, how = sniffed
        known = known_charset(declared) if declared else None
        if known is not None and _family(known) == _family(codec):
            return codec, []
        if declared:
            detail = f"charset {declared!r} declared, the body read as {codec} by its {how}"
        elif codec != "utf-8":
            detail = f"no charset declared, the body read as {codec} by its {how}"
        else:
            return codec, []
        return codec, [spider.page_defect(response, "sniffed_encoding", detail)]
    if not declared:
        return "utf-8", []
    codec = known_charset(declared)
    if codec is None:
        return "utf-8", [spider.page_defect(response, "unknown_charset", f"charset {declared!r} read as utf-8")]
    return codec, []


def check_encoding_options(spider: Any) -> None:
    """Fail at start on an ``encoding`` or ``encoding_fallback`` option no codec reads."""
    for option in ("encoding", "encoding_fallback"):
        value = getattr(spider, option, None)
        if value is not None and (not isinstance(value, str) or known_charset(value) is None):
            raise ValueError(f"source {spider.source_name}: option {option} = {value!r} names no text encoding")


def declared_charset(response: Response) -> str | None:
    """The charset the Content-Type header declares, if any (never a guess from the bytes)."""
    header = (response.headers.get("Content-Type") or b"").decode("latin-1")
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


# Anti-XSSI prefixes servers put before JSON so that a <script> tag cannot run it (Angular and
# Google ")]}'", Google's "while(1);", Facebook's "for(;;);", Dojo's "&&&START&&&...&&&END&&&").
XSSI_PREFIXES = (")]}',", ")]}'", "while(1);", "while (1);", "for(;;);", "for (;;);", "&&&START&&&")
# One JSONP call: ``cb(...)``, ``a.b["c"](...)``, optionally behind ``/**/`` or
# ``typeof cb === "function" &&``, optionally closed by ``;``.
_JSONP = re.compile(
    r"\A\s*(?:/\*\*/\s*)?(?:typeof\s+[\w$.]+\s*===?\s*(['\"])function\1\s*&&\s*)?"
    r"([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[\s*['\"]?[\w$]+['\"]?\s*\])*)\s*\((.*)\)\s*;?\s*\Z",
    re.S,
)


def unwrap_json(text: str) -> tuple[str, str, str] | None:
    """The JSON inside a wrapped body: (inner text, defect code, what was done), or ``None``
    when the body has no known wrapper. Whether the inner text is JSON is the caller's test."""
    stripped = text.lstrip()
    for prefix in XSSI_PREFIXES:
        if stripped.startswith(prefix):
            inner = stripped[len(prefix):]
            if prefix == "&&&START&&&":
                inner = inner.rsplit("&&&END&&&", 1)[0]
            return inner, "xssi_prefix", f"anti-XSSI prefix {prefix!r} stripped"
    m = _JSONP.match(text)
    if m:
        return m.group(3), "jsonp_wrapper", f"JSONP call {m.group(2)}(...) unwrapped"
    return None


def loads_unwrapped(text: str) -> tuple[Any, list[tuple[str, str]]]:
    """``json.loads(text)``; when that fails, the JSON behind an anti-XSSI prefix or inside a
    JSONP call (at most two wrappers, e.g. a prefix before a call), with (code, detail) of each
    wrapper removed. Raises the first error when no wrapper holds JSON."""
    try:
        return json.loads(text), []
    except (ValueError, RecursionError) as first:
        done: list[tuple[str, str]] = []
        for _ in range(2):
            wrapped = unwrap_json(text)
            if wrapped is None:
                break
            text, code, detail = wrapped
            done.append((code, detail))
            try:
                return json.loads(text), done
            except (ValueError, RecursionError):
                continue
        raise first


class JsonApiSpider(RecordSpider):
    kind = "json_api"

    results_path: str | list[str] = "results"
    next_path: str | None = "next"
    page_param: str | None = None
    first_page: int = 1
    page_count_path: str | None = None
    record_count_path: str | None = None
    page_size: int | None = None
    pages_path: str | None = None
    results_kinds: list[str] | None = None
    encoding: str | None = None
    encoding_fallback: str | None = None
    results_origin: str | None = None  # the results path of the record being mapped
    results_key: str | None = None  # its key in a results object keyed by id
    results_keys: ClassVar[dict[int, str]] = {}  # set per page: id() of such a record -> its key
    request_headers: ClassVar[dict[str, str]] = {"Accept": "application/json"}

    option_names: ClassVar[frozenset[str]] = RecordSpider.option_names | {
        "results_path", "next_path", "page_param", "first_page", "page_count_path",
        "record_count_path", "page_size", "pages_path", "results_kinds", "encoding", "encoding_fallback",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_encoding_options(self)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        data, defects = self.body_json(response)
        if data is None:
            return
        pages = self.pages(response, data)
        if pages is None:
            return
        n_records = 0
        for data in pages:
            records, found = self.results_with_paths(data)
            if not found:
                self.page_defect(response, "results_missing", f"no records at {self.results_path!r}")
                self.failed_page(response.url, "no results in the body")
            for path, obj in records:
                self.results_origin, self.results_key = path, self.results_keys.get(id(obj))
                try:
                    yield from self.emit(response, obj, defects)
                finally:
                    self.results_origin = self.results_key = None
            n_records = len(records)
        if not pages:
            return
        next_url = self.next_page_url(response, pages[-1], n_records)
        if next_url:
            request = self.page_request(next_url)
            if request is not None:
                yield request

    def body_json(self, response: Response) -> tuple[Any, list[str]]:
        """The parsed body and its page defects; ``None`` (a failed page) when it is no JSON."""
        encoding, defects = body_encoding(self, response, self.encoding)
        text, n_fallback, n_replaced = decode_with_fallback(response.body, encoding, self.encoding_fallback)
        if n_fallback:
            defects.append(self.page_defect(
                response, "mixed_encoding",
                f"{n_fallback} byte sequences not {encoding}, read as {self.encoding_fallback}"))
        if n_replaced:
            defects.append(self.page_defect(response, "undecodable_bytes", f"{n_replaced} bytes replaced"))
        try:
            data, unwrapped = loads_unwrapped(text)
            defects.extend(self.page_defect(response, code, detail) for code, detail in unwrapped)
            return data, defects
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python's stack
            self.page_defect(response, "invalid_json_body", f"{type(exc).__name__}: {exc}"[:500])
            # A listing page we cannot read hides its records: the crawl is not complete.
            self.failed_page(response.url, "invalid JSON body")
            return None, defects

    def pages(self, response: Response, data: Any) -> list[Any] | None:
        """The API pages in the body: itself, or the pages a dump of several holds."""
        if self.pages_path is None:
            return [data]
        found = dig(data, self.pages_path)
        if isinstance(found, dict):
            return list(found.values())
        if isinstance(found, list):
            return found
        self.page_defect(response, "results_missing", f"no pages at {self.pages_path!r}")
        self.failed_page(response.url, "no pages in the body")
        return None

    def results(self, data: Any) -> tuple[list[Any], bool]:
        """The records of a page, and whether any results path was there at all."""
        records, found = self.results_with_paths(data)
        return [obj for _, obj in records], found

    def results_with_paths(self, data: Any) -> tuple[list[tuple[str, Any]], bool]:
        """The records of a page, each with its results path, and whether any path was there.
        The keys of records given in an object keyed by id are kept in ``results_keys`` (by the
        record's ``id()``, for this page)."""
        paths = [self.results_path] if isinstance(self.results_path, str) else list(self.results_path)
        records: list[tuple[str, Any]] = []
        self.results_keys = {}
        found = False
        for path in paths:
            value = dig(data, path)
            if value is None:
                continue
            found = True
            if isinstance(value, list):
                records.extend((path, v) for v in value)
            elif self.is_keyed_records(value):
                for k, v in value.items():
                    self.results_keys[id(v)] = k
                    records.append((path, v))
            else:
                records.append((path, value))
        return records, found

    def is_keyed_records(self, value: Any) -> bool:
        """Whether a results object is records keyed by id rather than one record: every value
        an object, no key of its own at ``key_path``, and most values carry more of the
        ``field_map`` (and the key) than the object itself does."""
        if not isinstance(value, dict) or not value or not all(isinstance(v, dict) for v in value.values()):
            return False
        own = dig(value, self.key_path)
        if own is not None and not isinstance(own, dict | list):
            return False

        def score(obj: Any) -> int:
            key = dig(obj, self.key_path)
            return len(extract(obj, self.field_map)) + (key is not None and not isinstance(key, dict | list))

        itself = score(value)
        return 2 * sum(score(v) > itself for v in value.values()) > len(value)

    def key_of(self, obj: Any) -> str | None:
        """The record's key at ``key_path``; in a results object keyed by id, else that key."""
        key = super().key_of(obj)
        return key if key is not None else as_text(self.results_key)

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        fields = super().record(response, obj)
        if fields is not None and self.results_kinds and not fields.get("record_kind_raw"):
            paths = [self.results_path] if isinstance(self.results_path, str) else list(self.results_path)
            kinds = dict(zip(paths, self.results_kinds, strict=False))
            if kinds.get(self.results_origin or ""):
                fields["record_kind_raw"] = kinds[self.results_origin or ""]
        return fields

    def next_page_url(self, response: Response, data: Any, n_records: int) -> str | None:
        if self.next_path:
            return self.next_link(response, dig(data, self.next_path))
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

    def next_link(self, response: Response, nxt: Any) -> str | None:
        """The next page's URL from the value at ``next_path``: a URL, or a link object (HAL,
        JSON:API) whose ``href`` or ``url`` is one. A value that is none of these and does not
        say "no next page" either is a defect and a failed page (the crawl is not complete)."""
        if isinstance(nxt, dict):
            for name in ("href", "url"):
                if name in nxt:
                    nxt = nxt[name]
                    break
        if nxt is None or nxt is False or (isinstance(nxt, str) and not nxt.strip()):
            return None
        if isinstance(nxt, str):
            return response.urljoin(nxt.strip())
        self.page_defect(response, "unreadable_next_link", f"{self.next_path!r} is {json.dumps(nxt, default=str)[:200]}")
        self.failed_page(response.url, "next page link is not a URL")
        return None

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
