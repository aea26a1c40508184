"""The source registry: which sources exist, their spider, format, cadence and start URLs.

Read from ``scrapers/sources.toml`` (or a file given by the caller). A new source of a known
kind is one table in that file plus, at most, one short spider class.
"""

from __future__ import annotations

import glob
import os
import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_REGISTRY = Path(__file__).with_name("sources.toml")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# Header names that carry credentials: their values must come from the environment.
SECRET_HEADER = re.compile(r"(?i)authorization|cookie|token|secret|passw|api[-_]?key|^x-.*key")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
PROVIDER_KINDS = {
    "university", "mooc_platform", "professional_association", "vendor", "government_agency",
    "training_provider", "quality_assurance_body", "registry", "aggregator",
}


class Source(BaseModel):
    # Errors name the offending values themselves; pydantic's echo of the whole input would
    # print a header's value (a credential written where it must not be) into a log.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

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
    cadence: str = Field(
        default="0 3 * * *",
        description="Cron schedule of its crawls (UTC): the source's schedule and freshness policy",
    )
    inbox: str | None = Field(
        default=None,
        description="Folder watched for new files (a file drop): each new file is crawled once, by "
        "itself. Relative to the sources file; {data} = the data folder ($CREDCAT_DATA_DIR)",
    )
    demo: bool = Field(default=True, description="Served by the embedded demo catalog")
    settings: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Scrapy settings for this source's crawls (politeness ...)"
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="HTTP headers sent with every request of this source's crawls, to its allowed domains "
        "only. A secret is never written here: reference an environment variable as ${NAME} (resolved "
        "inside the crawl process; never on a command line, in a log or in metadata)",
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

    @field_validator("headers")
    @classmethod
    def _secrets_from_the_environment(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not HEADER_NAME.match(name) or "\n" in value or "\r" in value:
                raise ValueError(f"header {name!r}: not a valid header name or value")
            if SECRET_HEADER.search(name) and not ENV_REF.search(value):
                raise ValueError(f"header {name!r} holds a credential: give it as ${{ENV_VAR}}, never literally")
        return v

    def resolved_headers(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """``headers`` with ``${NAME}`` filled from the environment; a variable that is not set
        is an error naming the variable (never its value)."""
        env = os.environ if environ is None else environ
        out = {}
        for name, value in self.headers.items():
            missing = [m.group(1) for m in ENV_REF.finditer(value) if m.group(1) not in env]
            if missing:
                raise KeyError(f"source {self.name}: header {name} needs environment variable(s) {missing}")
            out[name] = ENV_REF.sub(lambda m: env[m.group(1)], value)
        return out

    def inbox_file(self, data_dir: Path | str, path: Path | str) -> Path:
        """``path`` (a file name in the inbox, or a path) as a regular file inside the inbox.

        Refused with ValueError: a source without inbox, a path outside it (``..``, an absolute
        path elsewhere), a symlink (or a symlinked folder) whose target leaves it, anything that
        is not a regular file. FileNotFoundError when it does not exist.
        """
        inbox = self.resolved_inbox(data_dir)
        if inbox is None:
            raise ValueError(f"source {self.name} has no inbox")
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = inbox / candidate
        lexical = Path(os.path.normpath(candidate))
        if lexical != inbox and inbox not in lexical.parents:
            raise ValueError(f"{path}: not inside the inbox of {self.name}")
        if not lexical.exists():
            raise FileNotFoundError(lexical)
        real = lexical.resolve()
        if inbox not in real.parents:
            raise ValueError(f"{path}: resolves to {real}, outside the inbox of {self.name} (a symlink?)")
        if not real.is_file():
            raise ValueError(f"{path}: not a regular file")
        return real

    def inbox_files(self, data_dir: Path | str) -> list[Path]:
        """Regular files of the inbox (not hidden), confined to it: what may be crawled."""
        inbox = self.resolved_inbox(data_dir)
        if inbox is None or not inbox.is_dir():
            return []
        out = []
        for entry in sorted(inbox.iterdir()):
            if entry.name.startswith("."):
                continue
            try:
                out.append(self.inbox_file(data_dir, entry.name))
            except (ValueError, FileNotFoundError):
                continue
        return out

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

    def resolved_inbox(self, data_dir: Path | str) -> Path | None:
        """``inbox`` as an absolute folder: ``{data}`` filled, relative to the sources file."""
        if not self.inbox:
            return None
        path = Path(self.inbox.replace("{data}", str(data_dir))).expanduser()
        if not path.is_absolute():
            path = Path(self.base_dir or Path.cwd()) / path
        return path.resolve()

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
