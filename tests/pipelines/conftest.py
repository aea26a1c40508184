"""A one-source registry on local files (a CSV file drop), for orchestration tests that need a
real crawl (a `scrapy crawl` subprocess) but not the demo catalog."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

SUBJECTS = ["Data Analysis", "Nursing Practice", "Welding Safety", "Accounting Basics", "Python Programming",
            "Project Management"]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def write_drop(path: Path, rows: int, with_hours: bool = True, first: int = 0) -> Path:
    """A CSV export of ``rows`` courses (ids C<first>..), optionally without the hours column's values."""
    lines = ["id,name,provider,hours,price,subject"]
    for i in range(first, first + rows):
        subject = SUBJECTS[i % len(SUBJECTS)]
        hours = f"{10 + i} hours" if with_hours else ""
        lines.append(f"C{i},{subject} Certificate {i},Acme Academy {i % 3},{hours},${49 + i},{subject}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class LocalSource:
    name: str
    registry: Path
    data_dir: Path
    drop: Path    # the file the registry's location names
    inbox: Path   # the inbox folder (under the data dir)

    def definitions(self):
        from pipelines.build import build_definitions

        return build_definitions(self.registry, data_dir=str(self.data_dir))


@pytest.fixture
def local_source(tmp_path: Path) -> LocalSource:
    return make_local_source(tmp_path)


def make_local_source(tmp_path: Path) -> LocalSource:
    name = "acme_drop"
    drop = write_drop(tmp_path / "drops" / "acme.csv", 12)
    registry = tmp_path / "sources.toml"
    registry.write_text(f"""
[sources.{name}]
spider = "file_drop"
kind = "file_drop"
format = "Acme CSV export"
provider_kind = "training_provider"
description = "A training provider's CSV export."
location = ["drops/acme.csv"]
inbox = "{{data}}/inbox/{name}"
cadence = "0 6 * * *"
field_map = {{ title = "name", awarding_body = "provider", workload_raw = "hours", prices = "price", subjects = "subject" }}
options = {{ key_column = "id" }}
""", encoding="utf-8")
    data_dir = tmp_path / "data"
    return LocalSource(name, registry, data_dir, drop, data_dir / "inbox" / name)
