"""The Definitions of a source registry: what the code location serves and what
`credcat run --sources FILE` executes.

Everything per source comes from the registry: the raw/staging assets, a job and a schedule per
source (its cadence), the freshness policies, an inbox sensor for a file-drop source. The demo
catalog is started only when a source of the registry points at it ({mirror}).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.defs.catalog import build_catalog_assets
from pipelines.defs.jobs import daily_full_refresh, full_refresh_job, source_job, source_schedule
from pipelines.defs.sensors import make_failure_sensor, make_inbox_sensor, record_failure_job
from pipelines.defs.sources import build_source_assets
from pipelines.io_manager import OPTIONAL_INPUT, CredcatIOManager
from pipelines.resources import CredcatSettings, DemoCatalog
from scrapers.registry import load_sources


def build_definitions(sources_file: Path | str | None = None, data_dir: str | None = None,
                      demo_scale: float | None = None, executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
    """Nothing is read from the environment here: the resources resolve $CREDCAT_DATA_DIR
    (and $CREDCAT_DEMO_SCALE) when a run starts."""
    sources = load_sources(sources_file)
    uses_mirror = any("{mirror}" in u for s in sources.values() for u in s.start_urls)
    full = full_refresh_job()
    per_source = {name: source_job(s) for name, s in sources.items()}
    record = record_failure_job()
    return dg.Definitions(
        assets=[*build_source_assets(sources), *build_catalog_assets(sources)],
        jobs=[full, *per_source.values(), record],
        schedules=[daily_full_refresh(full), *(source_schedule(s, per_source[n]) for n, s in sources.items())],
        sensors=[*(make_inbox_sensor(s) for s in sources.values() if s.inbox), make_failure_sensor(record)],
        # Also the executor of ad hoc materializations from the UI ("Materialize all").
        executor=executor or dg.in_process_executor,
        resources={
            "settings": CredcatSettings(data_dir=data_dir,
                                        sources_file=str(Path(sources_file).resolve()) if sources_file else None),
            "demo": DemoCatalog(data_dir=data_dir, enabled=uses_mirror, scale=demo_scale),
            "io_manager": CredcatIOManager(data_dir=data_dir),
            OPTIONAL_INPUT: CredcatIOManager(data_dir=data_dir, missing_ok=True),
        },
    )
