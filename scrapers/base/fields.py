"""Reading a source's record by declared paths, for the declarative spider kinds.

A kind (json_api, rss_feed, file_drop) maps a source record to RawOffering fields through a
``field_map``: RawOffering field -> where the value sits in the record. Paths are dotted
(``"locale.title"``), may index lists (``"seats.0.price"``) and may fan out over a list with
``*`` (``"visible_instructors.*.display_name"``). A list of paths means: for list fields, every
value found; for text fields, the first path that has a value.

Values are kept as the source wrote them. The only changes are structural, so that the item
validates: numbers become strings, booleans their JSON spelling (``true``/``false``), nested
objects their JSON text, and empty strings count as absent.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from typing import Any

from normalize.schema import RawOffering

# RawOffering fields that hold lists of strings (the rest, except prices/payload, hold text).
LIST_FIELDS = frozenset(
    name for name, f in RawOffering.model_fields.items()
    if typing.get_origin(f.annotation) is list and name != "prices"
)
TEXT_FIELDS = frozenset(
    name for name in RawOffering.model_fields
    # Provenance is the kind's business, never the source's: not mappable.
    if name not in LIST_FIELDS and name not in {"prices", "payload", "fetched_at", "source", "source_key", "run_id"}
)
MISSING = object()


def dig(obj: Any, path: str) -> Any:
    """The value at a dotted ``path`` of ``obj``; ``None`` where the path does not exist.

    ``*`` fans out over a list (the result is then a list, missing values left out).
    A mapping key may itself contain dots: the longest key that matches wins, so columns
    like ``"No. of reviews"`` still resolve.
    """
    if not path:
        return obj
    value = _dig(obj, path.split("."))
    return None if value is MISSING else value


def _dig(obj: Any, parts: list[str]) -> Any:
    if not parts:
        return obj
    head, rest = parts[0], parts[1:]
    if head == "*":
        if not isinstance(obj, list):
            return MISSING
        found = [_dig(x, rest) for x in obj]
        return [x for x in found if x is not MISSING and x is not None]
    if isinstance(obj, Mapping):
        # Longest dotted key first: {"a.b": 1} is found by the path "a.b".
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in obj:
                return _dig(obj[key], parts[n:])
        return MISSING
    if isinstance(obj, list) and _is_index(head):
        i = int(head)
        return _dig(obj[i], rest) if -len(obj) <= i < len(obj) else MISSING
    return MISSING


def _is_index(text: str) -> bool:
    return text.lstrip("-").isdigit()


def as_text(value: Any) -> str | None:
    """A scalar as text, unchanged in content; ``None`` for absent or blank values."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def as_text_list(value: Any) -> list[str]:
    """A value as a list of texts (a scalar becomes a one-item list)."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, list):
            out.extend(as_text_list(item))
            continue
        text = as_text(item)
        if text is not None:
            out.append(text)
    return out


def extract(obj: Any, field_map: Mapping[str, str | list[str]]) -> dict[str, Any]:
    """RawOffering fields read from ``obj`` through ``field_map`` (absent fields left out).

    ``prices`` may be mapped too: each value found becomes ``{"text": value}``.
    """
    out: dict[str, Any] = {}
    for field, paths in field_map.items():
        path_list = [paths] if isinstance(paths, str) else list(paths)
        if field in LIST_FIELDS or field == "prices":
            values: list[str] = []
            for p in path_list:
                values.extend(as_text_list(dig(obj, p)))
            if values:
                out[field] = [{"text": v} for v in values] if field == "prices" else values
            continue
        for p in path_list:
            found = dig(obj, p)
            if isinstance(found, list):
                texts = as_text_list(found)
                found = texts[0] if texts else None
            text = as_text(found)
            if text is not None:
                out[field] = text
                break
    return out


def check_field_map(field_map: Mapping[str, Any], owner: str) -> None:
    """Fail early (at spider start) on a field_map naming a field RawOffering does not have."""
    known = LIST_FIELDS | TEXT_FIELDS | {"prices"}
    unknown = sorted(set(field_map) - known)
    if unknown:
        raise ValueError(f"{owner}: field_map names unknown RawOffering fields {unknown}")
