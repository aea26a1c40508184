"""FrameFolder: a folder of Parquet frames read on first use, pinned to the files of load time."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.frames import FrameFolder, concat_frames


def _write(folder: Path, **frames: pl.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.write_parquet(folder / f"{name}.parquet")


def test_frames_are_read_when_asked_for_and_once(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path / "s", raw=pl.DataFrame({"a": [1, 2]}), offerings=pl.DataFrame({"b": ["x"]}))
    reads: list[object] = []
    original = pl.read_parquet
    monkeypatch.setattr(pl, "read_parquet", lambda source, *a, **k: reads.append(source) or original(source, *a, **k))
    folder = FrameFolder(tmp_path / "s")
    assert sorted(folder) == ["offerings", "raw"] and len(folder) == 2 and not reads
    assert folder["offerings"].equals(pl.DataFrame({"b": ["x"]}))
    assert folder["offerings"] is folder["offerings"]
    assert len(reads) == 1  # raw, the big one, never read
    with pytest.raises(KeyError):
        folder["rejects"]
    folder.close()


def test_a_folder_replaced_after_loading_still_gives_the_frames_of_load_time(tmp_path: Path) -> None:
    # Another run may store the same asset while this one works: its frames stay consistent.
    _write(tmp_path / "s", raw=pl.DataFrame({"a": [1]}), offerings=pl.DataFrame({"b": ["old"]}))
    folder = FrameFolder(tmp_path / "s")
    shutil.rmtree(tmp_path / "s")
    _write(tmp_path / "s", raw=pl.DataFrame({"a": [2]}), offerings=pl.DataFrame({"b": ["new"]}))
    assert folder["offerings"]["b"].to_list() == ["old"]
    assert folder["raw"]["a"].to_list() == [1]
    folder.close()


def test_some_columns_are_read_alone_and_concat_frames_takes_folders_and_dicts(tmp_path: Path, monkeypatch) -> None:
    wide = pl.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, None]})
    _write(tmp_path / "s", offerings=wide)
    reads: list[object] = []
    original = pl.read_parquet
    monkeypatch.setattr(pl, "read_parquet", lambda source, *a, **k: reads.append(k.get("columns")) or original(source, *a, **k))
    folder = FrameFolder(tmp_path / "s")
    assert folder.read("offerings", ["c", "a"]).equals(wide.select("c", "a"))
    assert reads == [["c", "a"]]  # only those columns read, and not kept as the frame
    assert folder.read("offerings", ["b"]).equals(wide.select("b")) and len(reads) == 2
    assert folder["offerings"].equals(wide) and len(reads) == 3
    assert folder.read("offerings", ["b"]).equals(wide.select("b")) and len(reads) == 3  # from the frame now
    with pytest.raises(KeyError):
        folder.read("rejects", ["a"])
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        FrameFolder(tmp_path / "s").read("offerings", ["missing"])
    other = {"offerings": pl.DataFrame({"a": [3], "b": ["z"], "c": [1.0]})}
    both = concat_frames({"s": folder, "t": other}, "offerings", ["a", "b"])
    assert both.equals(pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
    assert concat_frames({"s": folder, "t": other}, "offerings").height == 3
    folder.close()
