"""Every file of the real-data corpus is read by some source of the realdata registry, and
every such source crawls completely."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrapers.registry import realdata_dir
from tests.realdata.conftest import landed, realdata_sources


def corpus_files() -> set[Path]:
    root = realdata_dir()
    return {p.resolve() for p in root.rglob("*") if p.is_file() and p.name != "MANIFEST.md"}


def test_every_corpus_file_is_read_by_a_source() -> None:
    covered: set[Path] = set()
    for source in realdata_sources().values():
        covered |= {Path(u.removeprefix("file://")).resolve() for u in source.resolved_locations()}
    missing = sorted(str(p.relative_to(realdata_dir())) for p in corpus_files() - covered)
    assert not missing, f"corpus files no source reads: {missing}"


@pytest.mark.parametrize("name", sorted(realdata_sources()) if realdata_dir().is_dir() else [])
def test_source_crawls_completely(name: str) -> None:
    run = landed(name)
    assert run.stats["complete"], run.stats
    assert not run.invalid, run.invalid[:3]


MOJIBAKE = ("Â", "â€", "Ã©", "Ã¨", "\ufffd")


@pytest.mark.parametrize("name", sorted(realdata_sources()) if realdata_dir().is_dir() else [])
def test_no_mojibake_survives_in_mapped_text(name: str) -> None:
    import polars as pl

    offerings = landed(name).offerings()
    skip = ("url", "source_key", "offering_id")
    texts = {c: pl.col(c) for c, t in offerings.schema.items() if t == pl.String and c not in skip}
    texts |= {c: pl.col(c).list.join(" ") for c, t in offerings.schema.items() if t == pl.List(pl.String)}
    for column, expr in texts.items():
        dirty = offerings.filter(pl.any_horizontal(expr.str.contains(m, literal=True) for m in MOJIBAKE))
        assert dirty.is_empty(), (column, dirty.select("source_key", column).head(3).rows())
