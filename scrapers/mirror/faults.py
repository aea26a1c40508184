"""Fault plans for the demo catalog server: what can go wrong, configured per source.

A fault is a dict (one line of ``faults.json``)::

    {"path": "/opencourse_api/api/courses/v1/courses/?page=2&page_size=50",
     "kind": "status", "status": 503, "times": 3}

``path`` is the request path with its query; ``"match": "prefix"`` makes it cover every path
under it. ``times`` is how many requests it answers (default 1; ``null``: all of them).
The kinds and the fields each needs are ``FAULT_KINDS`` (the server module says what each
does). A *plan* configures faults per source, with paths relative to the source's site::

    {"opencourse_api": [{"path": "/api/courses/v1/courses/?page=2&page_size=50",
                          "kind": "delay", "seconds": 3}],
     "*": [{"path": "/robots.txt", "kind": "rewrite", "find": "Disallow: /private/",
            "replace": "Disallow: /opencourse_api/api/"}]}

(``"*"``: paths of the whole server, such as ``/robots.txt``). ``plan_faults`` turns a plan
into the server's list; ``python -m scrapers.mirror serve ROOT --faults plan.json`` plays it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# kind -> (required fields, optional fields)
FAULT_KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "status": (frozenset({"status"}), frozenset({"headers"})),
    "delay": (frozenset({"seconds"}), frozenset()),
    "reset": (frozenset(), frozenset()),
    "truncate": (frozenset(), frozenset({"fraction", "keep_length"})),
    "content_type": (frozenset({"content_type"}), frozenset()),
    "transcode": (frozenset({"encoding"}), frozenset({"declare", "content_type"})),
    "oversize": (frozenset({"bytes"}), frozenset({"declare_length"})),
    "gzip_bomb": (frozenset({"bytes"}), frozenset()),
    "redirect": (frozenset({"location"}), frozenset({"status"})),
    "rewrite": (frozenset({"find", "replace"}), frozenset()),
}
COMMON_FIELDS = frozenset({"path", "kind", "times", "match", "note"})
MAX_FAULT_BYTES = 512 * 1024 * 1024  # a fault never asks the server to build more than this


class FaultError(ValueError):
    """A fault plan that the server cannot play: a clear error, before any request."""


def validate_fault(fault: Mapping[str, Any]) -> dict[str, Any]:
    """One fault, checked: a known kind, its fields and no others, sane values."""
    if not isinstance(fault, Mapping):
        raise FaultError(f"a fault must be an object, not {type(fault).__name__}")
    out = dict(fault)
    kind = out.setdefault("kind", "status")
    if kind not in FAULT_KINDS:
        raise FaultError(f"unknown fault kind {kind!r} (known: {sorted(FAULT_KINDS)})")
    required, optional = FAULT_KINDS[kind]
    path = out.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise FaultError(f"fault {out}: 'path' must be a request path starting with '/'")
    missing = sorted(required - out.keys())
    if missing:
        raise FaultError(f"fault {kind} at {path}: missing {missing}")
    unknown = sorted(out.keys() - required - optional - COMMON_FIELDS)
    if unknown:
        raise FaultError(f"fault {kind} at {path}: unknown fields {unknown}")
    if out.get("match", "exact") not in ("exact", "prefix"):
        raise FaultError(f"fault {kind} at {path}: match must be 'exact' or 'prefix'")
    times = out.get("times", 1)
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise FaultError(f"fault {kind} at {path}: times must be a positive integer or null")
    if kind == "status" and not 100 <= int(out["status"]) <= 599:
        raise FaultError(f"fault at {path}: status {out['status']} is not an HTTP status")
    if kind == "redirect" and int(out.get("status", 302)) not in (301, 302, 303, 307, 308):
        raise FaultError(f"fault at {path}: a redirect status is one of 301 302 303 307 308")
    if kind == "truncate" and not 0 <= float(out.get("fraction", 0.5)) < 1:
        raise FaultError(f"fault at {path}: fraction must be in [0, 1)")
    if kind in ("oversize", "gzip_bomb") and not 0 < int(out["bytes"]) <= MAX_FAULT_BYTES:
        raise FaultError(f"fault at {path}: bytes must be in (0, {MAX_FAULT_BYTES}]")
    if kind == "delay" and not 0 <= float(out["seconds"]) <= 600:
        raise FaultError(f"fault at {path}: seconds must be in [0, 600]")
    if kind == "transcode":
        try:
            "".encode(out["encoding"])
        except LookupError as exc:
            raise FaultError(f"fault at {path}: unknown encoding {out['encoding']!r}") from exc
    return out


def validate_faults(faults: Any) -> list[dict[str, Any]]:
    if not isinstance(faults, list):
        raise FaultError("faults must be a list")
    return [validate_fault(f) for f in faults]


def plan_faults(plan: Mapping[str, list[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """A per-source plan as the server's fault list: site paths made absolute, all checked."""
    if not isinstance(plan, Mapping):
        raise FaultError("a fault plan maps source names to lists of faults")
    out: list[dict[str, Any]] = []
    for source, faults in plan.items():
        if not isinstance(faults, list):
            raise FaultError(f"plan for {source!r}: a list of faults")
        for fault in faults:
            fault = dict(fault)
            rel = fault.get("path", "/")
            if not isinstance(rel, str):
                raise FaultError(f"plan for {source!r}: path must be a string")
            if source != "*":
                if "/" in source or source in ("", ".", ".."):
                    raise FaultError(f"plan: {source!r} is not a source name")
                fault["path"] = f"/{source}{rel if rel.startswith('/') else '/' + rel}"
            out.append(validate_fault(fault))
    return out


def load_plan(path: Path | str) -> list[dict[str, Any]]:
    """A plan file (JSON): a per-source mapping, or already a list of absolute faults."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return validate_faults(data) if isinstance(data, list) else plan_faults(data)
