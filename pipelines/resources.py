"""Dagster resources: settings read at run time, and the embedded demo catalog."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from pipelines.runtime import DataPaths
from scrapers.mirror.generate import generate
from scrapers.mirror.server import RunningServer
from scrapers.registry import Source, load_sources

MIRROR_DIR = Path(__file__).resolve().parent.parent / "scrapers" / "mirror"


def generator_fingerprint() -> str:
    """Hash of the generator's code: a changed generator writes a fresh catalog."""
    h = hashlib.sha256()
    for p in sorted(MIRROR_DIR.rglob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:10]


class CredcatSettings(dg.ConfigurableResource):
    """Where data lives and which registry to read. Empty values fall back to the environment
    ($CREDCAT_DATA_DIR) and the project's defaults, resolved when a run starts."""

    data_dir: str | None = None
    sources_file: str | None = None

    def paths(self) -> DataPaths:
        return DataPaths.from_env(self.data_dir)

    def sources(self) -> dict[str, Source]:
        return load_sources(Path(self.sources_file) if self.sources_file else None)


class DemoCatalog(dg.ConfigurableResource):
    """The embedded demo catalog, generated once per seed/scale/generator and served on
    127.0.0.1 for the duration of a run (a free port each time). ``scale`` unset: read from
    $CREDCAT_DEMO_SCALE when a run starts, else 1."""

    data_dir: str | None = None
    seed: int = 7
    scale: float | None = None
    enabled: bool = True

    _server: RunningServer | None = PrivateAttr(default=None)

    def effective_scale(self) -> float:
        if self.scale is not None:
            return self.scale
        text = os.environ.get("CREDCAT_DEMO_SCALE")
        try:
            return float(text) if text else 1.0
        except ValueError as exc:
            raise ValueError(f"CREDCAT_DEMO_SCALE={text!r} is not a number") from exc

    def catalog_dir(self) -> Path:
        name = f"seed{self.seed}-scale{self.effective_scale():g}-{generator_fingerprint()}"
        return DataPaths.from_env(self.data_dir).demo / name

    def ensure_generated(self) -> Path:
        root = self.catalog_dir()
        if not (root / "manifest.json").exists():
            tmp = root.with_name(root.name + ".tmp")
            if tmp.exists():
                import shutil

                shutil.rmtree(tmp)
            generate(tmp, seed=self.seed, scale=self.effective_scale())
            tmp.rename(root)
        return root

    def truth_path(self) -> Path:
        return self.catalog_dir() / "truth.jsonl"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.enabled:
            self._server = RunningServer(self.ensure_generated()).start()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def base_url(self) -> str | None:
        return self._server.base_url if self._server is not None else None
