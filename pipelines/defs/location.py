"""The code location's definitions: the default source registry (scrapers/sources.toml)."""

import dagster as dg

from pipelines.build import build_definitions


@dg.definitions
def credcat() -> dg.Definitions:
    return build_definitions()
