"""The source registry: which sources exist, their spider, format, cadence and start URLs.

Read from ``scrapers/sources.toml`` (or a file given by the caller). A new source of a known
kind is one table in that file plus, at most, one short spider class.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_REGISTRY = Path(__file__).with_name("sources.toml")
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
    start_urls: list[str]
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

    def resolved_start_urls(self, mirror_url: str | None) -> list[str]:
        """Start URLs with ``{mirror}`` replaced by the demo catalog's base URL."""
        urls = []
        for u in self.start_urls:
            if "{mirror}" in u:
                if not mirror_url:
                    raise ValueError(f"source {self.name} needs the demo catalog (mirror) URL")
                u = u.replace("{mirror}", mirror_url.rstrip("/"))
            urls.append(u)
        return urls


def load_sources(path: Path | None = None) -> dict[str, Source]:
    """All sources of a registry file, by name, validated."""
    return dict(_load(str(path or DEFAULT_REGISTRY)))


@cache
def _load(path: str) -> tuple[tuple[str, Source], ...]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    table = data.get("sources")
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{path}: no [sources.<name>] tables")
    out = []
    for name, entry in table.items():
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: sources.{name} is not a table")
        out.append((name, Source(name=name, **entry)))
    return tuple(out)
