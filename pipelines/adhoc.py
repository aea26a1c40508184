"""Ad hoc registries: a sources file written for one crawl (`credcat parse`, a dropped file).

A spider reads its source from a registry file (the crawl is a ``scrapy crawl`` subprocess), so a
crawl of something the registry does not declare as such (one dropped file of a file-drop
source) is a one-entry registry written beside the crawl.
"""

from __future__ import annotations

import json
from pathlib import Path

from scrapers.registry import Source


def registry_toml(data: dict) -> str:
    """A small TOML writer for registries: strings, numbers, booleans, lists, inline tables."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"
        return json.dumps(str(v))

    lines = []
    for name, entry in data["sources"].items():
        lines.append(f"[sources.{name}]")
        lines += [f"{k} = {value(v)}" for k, v in entry.items() if v is not None]
    return "\n".join(lines) + "\n"


def file_source_registry(source: Source, files: list[str | Path], folder: Path) -> Path:
    """A registry in ``folder`` where ``source`` reads exactly ``files`` (local, no start URLs)."""
    paths = [Path(f).expanduser().resolve() for f in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"source {source.name}: no such file(s) {missing}")
    entry = source.model_dump(exclude={"name", "base_dir", "inbox"}, exclude_none=True)
    entry.update(start_urls=[], location=[str(p) for p in paths], allowed_domains=[])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sources.toml"
    path.write_text(registry_toml({"sources": {source.name: entry}}), encoding="utf-8")
    return path
