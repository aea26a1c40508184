"""An IO manager for credcat's assets: Polars frames as Parquet, small dicts as JSON.

Frames pass between assets as Parquet under <data>/runtime/io, which is cheaper and more
inspectable than pickles, and keeps the last materialization of each asset on disk.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from pipelines.frames import FrameFolder
from pipelines.runtime import DataPaths

# The resource key of the input manager for optional inputs: an asset never materialized
# loads as None (another source's staging, in a run of one source).
OPTIONAL_INPUT = "optional_input"


class CredcatIOManager(dg.ConfigurableIOManager):
    data_dir: str | None = None
    missing_ok: bool = False

    @staticmethod
    def _exists(base: Path) -> bool:
        return base.with_suffix(".parquet").exists() or base.is_dir() or base.with_suffix(".json").exists()

    def _base(self, context: dg.OutputContext | dg.InputContext) -> Path:
        key = context.asset_key if context.has_asset_key else dg.AssetKey([context.step_key or "op", context.name or "result"])
        return DataPaths.from_env(self.data_dir).io.joinpath(*key.path)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        base = self._base(context)
        base.parent.mkdir(parents=True, exist_ok=True)
        for stale in (base.with_suffix(".parquet"), base.with_suffix(".json")):
            stale.unlink(missing_ok=True)
        if base.is_dir():
            shutil.rmtree(base)
        if isinstance(obj, pl.DataFrame):
            obj.write_parquet(base.with_suffix(".parquet"))
        elif isinstance(obj, dict) and obj and all(isinstance(v, pl.DataFrame) for v in obj.values()):
            base.mkdir(parents=True)
            for name, frame in obj.items():
                frame.write_parquet(base / f"{name}.parquet")
        else:
            base.with_suffix(".json").write_text(json.dumps(obj, indent=1, default=str))

    def load_input(self, context: dg.InputContext) -> Any:
        base = self._base(context)
        if self.missing_ok and not self._exists(base):
            # An optional input (another source's staging, in a run of one source) that was
            # never materialized: the asset works with the sources it has.
            return None
        if base.with_suffix(".parquet").exists():
            return pl.read_parquet(base.with_suffix(".parquet"))
        if base.is_dir():
            return FrameFolder(base)  # each frame read when the asset first uses it
        if base.with_suffix(".json").exists():
            return json.loads(base.with_suffix(".json").read_text())
        raise FileNotFoundError(f"{context.asset_key.to_user_string()} has not been materialized yet ({base})")
