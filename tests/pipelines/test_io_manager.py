"""CredcatIOManager: an output replaces the previous one whole or not at all."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines import io_manager as io_module
from pipelines.frames import FrameFolder
from pipelines.io_manager import CredcatIOManager

KEY = dg.AssetKey(["staging", "coursera"])


def _store(manager: CredcatIOManager, obj: object) -> None:
    manager.handle_output(dg.build_output_context(asset_key=KEY), obj)


def _load(manager: CredcatIOManager) -> object:
    return manager.load_input(dg.build_input_context(asset_key=KEY))


def _frames(value: object) -> dict[str, list]:
    assert isinstance(value, FrameFolder)
    out = {name: value[name].to_series().to_list() for name in value}
    value.close()
    return out


def _leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "runtime" / "io" / "staging").iterdir() if p.name.startswith("."))


@pytest.fixture
def manager(tmp_path: Path) -> CredcatIOManager:
    return CredcatIOManager(data_dir=str(tmp_path))


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two renames"])
def test_a_folder_output_replaces_the_previous_whole(manager, tmp_path, monkeypatch, exchange) -> None:
    if not exchange:
        monkeypatch.setattr(io_module, "_exchange", lambda a, b: False)
    _store(manager, {"raw": pl.DataFrame({"a": [1]}), "fingerprints": pl.DataFrame({"f": [9]})})
    before = _load(manager)
    _store(manager, {"raw": pl.DataFrame({"a": [2]}), "offerings": pl.DataFrame({"b": ["x"]})})
    assert _frames(_load(manager)) == {"offerings": ["x"], "raw": [2]}  # fingerprints gone
    assert _frames(before) == {"fingerprints": [9], "raw": [1]}  # a reader of the old one keeps it
    assert _leftovers(tmp_path) == []


def test_a_write_that_fails_midway_leaves_the_previous_output(manager, tmp_path, monkeypatch) -> None:
    _store(manager, {"raw": pl.DataFrame({"a": [1]}), "offerings": pl.DataFrame({"b": ["old"]})})
    original = pl.DataFrame.write_parquet
    calls: list[object] = []

    def second_fails(self, file, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(file)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(self, file, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", second_fails)
    with pytest.raises(OSError, match="disk full"):
        _store(manager, {"raw": pl.DataFrame({"a": [2]}), "offerings": pl.DataFrame({"b": ["new"]})})
    with pytest.raises(OSError, match="disk full"):
        calls.clear()
        calls.append("first")
        _store(manager, pl.DataFrame({"c": [3]}))  # a single frame: also all or nothing
    monkeypatch.setattr(pl.DataFrame, "write_parquet", original)
    assert _frames(_load(manager)) == {"offerings": ["old"], "raw": [1]}
    assert _leftovers(tmp_path) == []


def test_kinds_replace_each_other(manager, tmp_path) -> None:
    _store(manager, {"raw": pl.DataFrame({"a": [1]})})
    _store(manager, pl.DataFrame({"c": [3]}))
    assert _load(manager).to_dict(as_series=False) == {"c": [3]}
    _store(manager, {"n": 1})
    assert _load(manager) == {"n": 1}
    _store(manager, {"raw": pl.DataFrame({"a": [5]})})
    assert _frames(_load(manager)) == {"raw": [5]}
    folder = tmp_path / "runtime" / "io" / "staging"
    assert sorted(p.name for p in folder.iterdir()) == ["coursera"]


def test_only_old_leftovers_of_killed_writes_are_swept(manager, tmp_path) -> None:
    folder = tmp_path / "runtime" / "io" / "staging"
    folder.mkdir(parents=True)
    old, young = folder / ".coursera.aaaa.tmp", folder / ".coursera.bbbb.tmp.parquet"
    other = folder / ".edx.cccc.tmp"
    for path in (old, other):
        path.mkdir()
    young.write_bytes(b"partial")
    stale = time.time() - io_module.STALE_TEMP_S - 60
    for path in (old, other):
        os.utime(path, (stale, stale))
    _store(manager, pl.DataFrame({"c": [1]}))
    assert _leftovers(tmp_path) == [".coursera.bbbb.tmp.parquet", ".edx.cccc.tmp"]  # young: maybe in progress
