"""Reading the real-data corpus through the registry: one real crawl (file:// URLs, the same
`scrapy crawl` subprocess as production) per source per test session, cached.

Every test here is marked ``realdata`` and skips, with the reason, where ../shared/realdata
is absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from scrapers.registry import PROJECT_ROOT, Source, load_sources, realdata_dir
from scrapers.run import crawl

REALDATA_REGISTRY = PROJECT_ROOT / "scrapers" / "sources" / "realdata.toml"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.realdata)
            if not realdata_dir().is_dir():
                item.add_marker(pytest.mark.skip(
                    reason=f"real-data corpus absent at {realdata_dir()} (set CREDCAT_REALDATA_DIR)"))


@dataclass
class Landed:
    source: Source
    stats: dict[str, Any]
    items: list[dict[str, Any]]
    invalid: list[dict[str, Any]] = field(default_factory=list)

    def by_key(self) -> dict[str, dict[str, Any]]:
        return {i["source_key"]: i for i in self.items}

    def offerings(self) -> pl.DataFrame:
        return normalized(self.source.name)[0]

    def rejects(self) -> pl.DataFrame:
        return normalized(self.source.name)[1]


def realdata_sources() -> dict[str, Source]:
    return load_sources(REALDATA_REGISTRY)


_WORK: list[Path] = []


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    # JSON Lines are split on "\n" only: text may hold U+2028 and other characters splitlines() breaks on.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


@cache
def landed(name: str) -> Landed:
    """Crawl one realdata source (once per session) and read what landed."""
    import tempfile

    if not _WORK:
        _WORK.append(Path(tempfile.mkdtemp(prefix="credcat-realdata-")))
    source = realdata_sources()[name]
    stats = crawl(source, "realdata", _WORK[0], registry=REALDATA_REGISTRY, timeout=600)
    out = _WORK[0] / name / "realdata"
    return Landed(source, stats, _jsonl(out / "items.jsonl"), _jsonl(out / "invalid.jsonl"))


@cache
def normalized(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    from normalize.transforms import normalize, read_landing

    landed(name)
    raw, invalid = read_landing([_WORK[0] / name / "realdata"])
    result = normalize(raw.lazy(), provider_kinds={n: s.provider_kind for n, s in realdata_sources().items()})
    return result.offerings, pl.concat([invalid, result.rejects], how="vertical")
