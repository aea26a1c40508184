"""The source registry: which sources exist, their spider, format, cadence and start URLs.

Read from ``scrapers/sources.toml`` (or a file given by the caller). A new source of a known
kind is one table in that file plus, at most, one short spider class.
"""

from __future__ import annotations

import glob
import os
import re
import tomllib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_REGISTRY = Path(__file__).with_name("sources.toml")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
PROVIDER_KINDS = {
    "university", "mooc_platform", "professional_association", "vendor", "government_agency",
    "training_provider", "quality_assurance_body", "registry", "aggregator",
}


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    spider: str
    kind: str = Field(description="Spider kind in scrapers/base (json_api, sitemap_jsonld, ...)")
    format: str = Field(description="The real-world format this source publishes")
    provider_kind: str
    platform: str | None = None
    description: str = ""
    start_urls: list[str] = Field(default_factory=list, description="URLs to crawl ({mirror} = demo catalog)")
    location: list[str] = Field(
        default_factory=list,
        description="Local files or globs (relative to the sources file; {realdata} = the real-data corpus), "
        "read through file:// URLs: saved responses, dumps and file drops",
    )
    base_dir: str | None = Field(default=None, description="Folder of the sources file (set by the loader)")
    allowed_domains: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    cadence: str = Field(default="0 3 * * *", description="Cron schedule of its crawls")
    demo: bool = Field(default=True, description="Served by the embedded demo catalog")
    settings: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Scrapy settings for this source's crawls (politeness ...)"
    )
    field_map: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Declared mapping RawOffering field -> source column(s), for file drops and tabular kinds",
    )
    options: dict[str, str | int | float | bool | list[str]] = Field(
        default_factory=dict, description="Kind-specific options (encoding, delimiter, results path ...)"
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        # Source names reach file paths, asset keys and SQL identifiers: keep them plain.
        if not SOURCE_NAME.match(v):
            raise ValueError(f"source name {v!r} must match {SOURCE_NAME.pattern}")
        return v

    @field_validator("provider_kind")
    @classmethod
    def _valid_kind(cls, v: str) -> str:
        if v not in PROVIDER_KINDS:
            raise ValueError(f"provider_kind {v!r} not one of {sorted(PROVIDER_KINDS)}")
        return v

    @model_validator(mode="after")
    def _somewhere(self) -> Source:
        if not self.start_urls and not self.location:
            raise ValueError(f"source {self.name} needs start_urls or location")
        if self.location and "allowed_domains" not in self.model_fields_set:
            self.allowed_domains = []  # file:// URLs have no host to allow
        return self

    @property
    def local_only(self) -> bool:
        """Read from saved files only: links found in them (a next page online) are not followed."""
        return bool(self.location) and not self.start_urls

    def resolved_locations(self) -> list[str]:
        """``location`` as sorted file:// URLs: placeholders filled, globs expanded."""
        urls: list[str] = []
        for pattern in self.location:
            text = pattern.replace("{realdata}", str(realdata_dir()))
            path = Path(text).expanduser()
            if not path.is_absolute():
                path = Path(self.base_dir or Path.cwd()) / path
            matches = sorted(glob.glob(str(path), recursive=True)) if glob.has_magic(str(path)) else [str(path)]
            if not matches:
                raise FileNotFoundError(f"source {self.name}: nothing matches {pattern!r}")
            urls += [Path(m).resolve().as_uri() for m in matches]
        return urls

    def resolved_start_urls(self, mirror_url: str | None) -> list[str]:
        """Start URLs with ``{mirror}`` replaced by the demo catalog's base URL, then locations."""
        urls = self.resolved_locations()
        for u in self.start_urls:
            if "{mirror}" in u:
                if not mirror_url:
                    raise ValueError(f"source {self.name} needs the demo catalog (mirror) URL")
                u = u.replace("{mirror}", mirror_url.rstrip("/"))
            urls.append(u)
        return urls


def realdata_dir() -> Path:
    """The real-data corpus: $CREDCAT_REALDATA_DIR, else ../shared/realdata beside the project."""
    return Path(os.environ.get("CREDCAT_REALDATA_DIR") or PROJECT_ROOT.parent / "shared" / "realdata")


def load_sources(path: Path | str | None = None) -> dict[str, Source]:
    """All sources of a registry file (and the files it includes), by name, validated."""
    return dict(_load(str(Path(path or DEFAULT_REGISTRY).resolve())))


@cache
def _load(path: str, _seen: tuple[str, ...] = ()) -> tuple[tuple[str, Source], ...]:
    if path in _seen:
        raise ValueError(f"{path}: includes itself ({' -> '.join(_seen)})")
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    base = Path(path).parent
    out: list[tuple[str, Source]] = []
    # include = ["other.toml", "realdata/*.toml"]: several files make one registry.
    for pattern in data.get("include", []):
        matches = sorted(glob.glob(str(base / pattern)))
        if not matches:
            raise FileNotFoundError(f"{path}: include {pattern!r} matches nothing")
        for m in matches:
            out += _load(str(Path(m).resolve()), (*_seen, path))
    table = data.get("sources", {})
    if not isinstance(table, dict) or not (table or out):
        raise ValueError(f"{path}: no [sources.<name>] tables")
    for name, entry in table.items():
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: sources.{name} is not a table")
        out.append((name, Source(name=name, base_dir=str(base), **entry)))
    names = [n for n, _ in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{path}: sources defined twice: {dupes}")
    return tuple(out)
