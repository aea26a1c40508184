"""Fixtures the spider tests share."""

from __future__ import annotations

import pytest

from scrapers.spiders.file_drop import GenericFileDropSpider
from scrapers.testing import offline_spider

DROP_ENTRY = """
[sources.{name}]
spider = "file_drop"
kind = "file_drop"
format = "test drop"
provider_kind = "aggregator"
start_urls = ["https://drops.example.org/{name}"]
{extra}
"""


@pytest.fixture
def drop_spider(tmp_path):
    """The generic file-drop spider for a registry entry declared in the test: configuration only."""
    def make(name: str, extra: str):
        path = tmp_path / f"{name}.toml"
        path.write_text(DROP_ENTRY.format(name=name, extra=extra))
        return offline_spider(GenericFileDropSpider, registry=str(path), source=name)
    return make
