"""The real-data corpus as landed by credcat's own connectors, for labelling and evaluation.

``python -m normalize.taxonomy.landed SOURCE [SOURCE ...]`` crawls each named source of
``scrapers/sources/realdata.toml`` (the same ``scrapy crawl`` subprocess as production, on
file:// URLs) and prints the raw records, one JSON object per line: ``source_key``, ``url`` and
the extracted but unnormalized fields. It is how a labeller finds the key of a record read in
the source file; it shows nothing of what normalization makes of it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from functools import cache
from pathlib import Path

import polars as pl

from scrapers.registry import PROJECT_ROOT, Source, load_sources, realdata_dir

REALDATA_REGISTRY = PROJECT_ROOT / "scrapers" / "sources" / "realdata.toml"


def realdata_sources() -> dict[str, Source]:
    return load_sources(REALDATA_REGISTRY)


@cache
def _work() -> Path:
    return Path(tempfile.mkdtemp(prefix="credcat-landed-"))


@cache
def land(name: str) -> Path:
    """Crawl one realdata source (once per process); the folder its items landed in."""
    from scrapers.run import crawl

    if not realdata_dir().is_dir():
        raise FileNotFoundError(f"real-data corpus absent at {realdata_dir()} (set CREDCAT_REALDATA_DIR)")
    source = realdata_sources()[name]
    stats = crawl(source, "eval", _work(), registry=REALDATA_REGISTRY, timeout=600)
    if not stats.get("complete"):
        raise RuntimeError(f"crawl of {name} incomplete: {stats.get('log_tail', '')[-500:]}")
    return _work() / name / "eval"


def raw_records(name: str) -> pl.DataFrame:
    """The raw records one source lands (valid items only)."""
    from normalize.transforms import read_landing

    raw, _invalid = read_landing([land(name)])
    return raw


_SHOWN = (
    "source_key", "url", "record_kind_raw", "title", "awarding_body", "platform", "credential_type_raw",
    "subjects", "subject_codes", "skills", "level_raw", "workload_raw", "duration_raw", "credits_raw",
    "credit_unit_raw", "prices", "is_free_raw", "language_raw", "country_raw", "modality_raw", "timing_raw",
)


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write(f"usage: python -m normalize.taxonomy.landed SOURCE ...\nsources: {', '.join(realdata_sources())}\n")
        return 2
    for name in argv:
        for row in raw_records(name).select(_SHOWN).iter_rows(named=True):
            sys.stdout.write(json.dumps({"source": name, **row}, default=str, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
