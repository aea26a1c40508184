"""Definitions for any sources file: what `credcat run --sources FILE` executes.

The code location (pipelines/definitions.py) serves the default registry to the UI; this
builds the same graph from another registry, with the demo catalog only when a source of that
registry points at it.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.defs.catalog import build_catalog_assets
from pipelines.defs.jobs import full_refresh_job
from pipelines.defs.sources import build_source_assets
from pipelines.io_manager import CredcatIOManager
from pipelines.resources import CredcatSettings, DemoCatalog
from scrapers.registry import load_sources


def build_definitions(sources_file: Path | None = None, data_dir: str | None = None,
                      demo_scale: float = 1.0) -> dg.Definitions:
    sources = load_sources(sources_file)
    uses_mirror = any("{mirror}" in u for s in sources.values() for u in s.start_urls)
    return dg.Definitions(
        assets=[*build_source_assets(sources), *build_catalog_assets(sources)],
        jobs=[full_refresh_job()],
        executor=dg.in_process_executor,
        resources={
            "settings": CredcatSettings(data_dir=data_dir,
                                        sources_file=str(Path(sources_file).resolve()) if sources_file else None),
            "demo": DemoCatalog(data_dir=data_dir, enabled=uses_mirror, scale=demo_scale),
            "io_manager": CredcatIOManager(data_dir=data_dir),
        },
    )
