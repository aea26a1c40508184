"""Where things live at run time. Read from the environment when called, never at import."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class DataPaths:
    root: Path

    @classmethod
    def from_env(cls, override: str | None = None) -> DataPaths:
        """``override``, else $CREDCAT_DATA_DIR, else ./data of the project."""
        value = override or os.environ.get("CREDCAT_DATA_DIR") or str(PROJECT_ROOT / "data")
        return cls(Path(value).resolve())

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def demo(self) -> Path:
        return self.root / "demo"

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def warehouse(self) -> Path:
        return self.warehouse_dir / "credcat.duckdb"

    @property
    def work_warehouse(self) -> Path:
        return self.warehouse_dir / "credcat.work.duckdb"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def io(self) -> Path:
        return self.root / "runtime" / "io"


def new_run_id(dagster_run_id: str | None = None, now: datetime | None = None) -> str:
    """Sortable crawl run id: UTC timestamp plus the Dagster run's short id."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{(dagster_run_id or 'local')[:8]}"
