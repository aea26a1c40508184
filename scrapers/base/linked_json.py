"""Kind ``linked_json``: an id-linked JSON dump: entity lists that refer to each other by id.

Old catalog APIs (Coursera's 2013 catalog, many "export everything" endpoints) publish one
list per entity, joined by id references instead of nesting: a course names its
universities, categories and instructors by id, and its sessions name the course. This kind
reads such a dump as records of one list, each joined with the entities it refers to, so a
``field_map`` can reach them by path. Options::

    records_path = "topics"            # the record list (a list, or an object whose values are the records)
    key_path = "id"
    lookups = ["unis=unis.id", "cats=cats.id", "insts=insts.instructor_id"]
    backrefs = ["sessions=courses.topic_id"]

- ``lookups``: ``<reference path>=<list path>.<match field>``: the record's value(s) at
  ``<reference path>`` (an id or a list of ids) are looked up in the entities of
  ``<list path>`` whose ``<match field>`` equals them (compared as text).
- ``backrefs``: ``<name>=<list path>.<field>``: the entities of ``<list path>`` whose
  ``<field>`` refers to the record (equals its key, or lists it among several ids), e.g. a
  course's sessions.

Ids compare as text after two normalizations, on both sides: a reference given as an object
(``{"id": 1}``, ``{"@id": "..."}``, or one holding the match field) stands for that id, and a
whole number written as a float (``1.0``) is the integer (``1``).

The entities found are put beside the record under ``linked_key`` (default ``_linked``):
``{"_linked": {"unis": [{...}], "sessions": [{...}, ...]}}``, each a list in reference order,
so ``field_map`` paths read ``"_linked.unis.*.name"``. The payload is the record with its
``_linked`` entities: the record as the dump means it. An id that no entity has is a
``dangling_reference`` defect of that record (kept, with the ids that were found).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

from scrapy.http import Response

from scrapers.base.fields import as_text, dig
from scrapers.base.json_api import body_encoding, check_encoding_options, decode_with_fallback
from scrapers.base.records import RecordSpider


def parse_link(spec: str, option: str) -> tuple[str, str, str]:
    """``"name=list.path.field"`` -> (name, list path, field)."""
    name, sep, target = spec.partition("=")
    path, dot, field = target.rpartition(".")
    if not sep or not dot or not name.strip() or not field:
        raise ValueError(f"{option} entry {spec!r} must read '<name>=<list path>.<field>'")
    return name.strip(), path.strip(), field.strip()


def ref_text(value: Any, field: str | None = None) -> str | None:
    """An id as the text it is compared by: an object standing for an id (``{"id": 1}``,
    ``{"@id": ...}``, or one holding ``field``) as that id, a whole float as the integer."""
    if isinstance(value, dict):
        for name in (field, "id", "@id"):
            if name and name in value:
                value = value[name]
                break
        else:
            return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return None if isinstance(value, dict | list) else as_text(value)


def entities(value: Any) -> list[Any]:
    """A list of entities: a list as is, an object keyed by id as its values."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    return []


class LinkedJsonSpider(RecordSpider):
    kind = "linked_json"

    records_path: str = ""
    lookups: list[str] = []  # noqa: RUF012 (set per source from the registry)
    backrefs: list[str] = []  # noqa: RUF012
    linked_key: str = "_linked"
    encoding: str | None = None
    encoding_fallback: str | None = None
    request_headers: ClassVar[dict[str, str]] = {"Accept": "application/json"}

    option_names: ClassVar[frozenset[str]] = RecordSpider.option_names | {
        "records_path", "lookups", "backrefs", "linked_key", "encoding", "encoding_fallback",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Fail at start on a malformed declaration, not on the first page.
        self.lookup_specs = [parse_link(s, "lookups") for s in self.lookups]
        self.backref_specs = [parse_link(s, "backrefs") for s in self.backrefs]
        check_encoding_options(self)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        encoding, defects = body_encoding(self, response, self.encoding)
        text, n_fallback, n_replaced = decode_with_fallback(response.body, encoding, self.encoding_fallback)
        if n_fallback:
            defects.append(self.page_defect(response, "mixed_encoding", f"{n_fallback} sequences"))
        if n_replaced:
            defects.append(self.page_defect(response, "undecodable_bytes", f"{n_replaced} bytes replaced"))
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            self.page_defect(response, "invalid_json_body", str(exc))
            self.failed_page(response.url, "invalid JSON body")
            return
        records = dig(data, self.records_path)
        if not isinstance(records, list | dict):
            self.page_defect(response, "results_missing", f"no records at {self.records_path!r}")
            self.failed_page(response.url, "no records in the dump")
            return
        indexes = {(path, field): self.index(entities(dig(data, path)), field)
                   for _, path, field in self.lookup_specs + self.backref_specs}
        for obj in entities(records):
            if not isinstance(obj, dict):
                yield from self.emit(response, obj, defects)
                continue
            linked, dangling = self.link(obj, indexes)
            record_defects = list(defects)
            if dangling:
                record_defects.append(self.page_defect(response, "dangling_reference", ", ".join(dangling)))
            yield from self.emit(response, {**obj, self.linked_key: linked}, record_defects)

    @staticmethod
    def index(items: list[Any], field: str) -> dict[str, list[Any]]:
        """The entities by the id(s) at ``field``: an entity listing several ids (a many-to-many
        backref) is found under each."""
        out: dict[str, list[Any]] = {}
        for item in items:
            if not isinstance(item, dict):
                continue
            value = dig(item, field)
            keys = {ref_text(v) for v in (value if isinstance(value, list) else [value])}
            for key in keys - {None}:
                out.setdefault(key, []).append(item)
        return out

    def link(self, obj: dict[str, Any], indexes: dict[tuple[str, str], dict[str, list[Any]]]
             ) -> tuple[dict[str, list[Any]], list[str]]:
        """The entities ``obj`` refers to (and that refer to it), and its dangling references."""
        linked: dict[str, list[Any]] = {}
        dangling: list[str] = []
        for name, path, field in self.lookup_specs:
            refs = dig(obj, name)
            found: list[Any] = []
            for ref in refs if isinstance(refs, list) else ([] if refs is None else [refs]):
                hits = indexes[(path, field)].get(ref_text(ref, field) or "")
                if hits:
                    found.extend(hits)
                else:
                    dangling.append(f"{name}={ref}")
            linked[name] = found
        key = ref_text(dig(obj, self.key_path)) or self.key_of(obj)
        for name, path, field in self.backref_specs:
            linked[name] = list(indexes[(path, field)].get(key or "", [])) if key is not None else []
        return linked, dangling
