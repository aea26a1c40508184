"""Patched frames: a re-crawl's staging frame stored as a patch on the previous output's file
(pipelines/frames.py). Reading one gives exactly the frame handed over."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from normalize.reuse import PatchedRows
from pipelines import frames as F
from pipelines.frames import (
    COMPACT_SHARE,
    DamagedFrame,
    Derived,
    FrameFolder,
    concat_frames,
    write_folder,
)

REFRESHED = ("run_id", "fetched_at")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _rows(keys: list[int], run: str, version: dict[int, int]) -> pl.DataFrame:
    """A staging-like frame: a key, content that depends on the key's version, and the two
    per-run columns."""
    return pl.DataFrame({
        "key": keys,
        "title": [None if k % 7 == 0 else f"title {k} v{version.get(k, 0)}" for k in keys],
        "price": [None if k % 5 == 0 else k * 1.5 + version.get(k, 0) for k in keys],
        "tags": [[f"t{k % 3}", f"v{version.get(k, 0)}"] for k in keys],
        "run_id": [run] * len(keys),
        "fetched_at": [T0 + timedelta(seconds=i) for i in range(len(keys))],
    }, schema={"key": pl.Int64, "title": pl.String, "price": pl.Float64, "tags": pl.List(pl.String),
               "run_id": pl.String, "fetched_at": pl.Datetime("us", "UTC")})


def _next_run(previous: pl.DataFrame, run: str, rng: random.Random, version: dict[int, int],
              change: float, drop: float, add: int, next_key: int) -> tuple[pl.DataFrame, pl.Series, int]:
    """The next run's frame from the previous one (some rows changed, dropped, added, the order
    of the survivors kept with the added ones spread in), and per row its previous row or null."""
    keys = previous["key"].to_list()
    out_keys: list[int] = []
    src: list[int | None] = []
    for i, k in enumerate(keys):
        if rng.random() < drop:
            continue
        if rng.random() < add / max(len(keys), 1):
            out_keys.append(next_key)
            src.append(None)
            next_key += 1
        if rng.random() < change:
            version[k] = version.get(k, 0) + 1
            src.append(None)
        else:
            src.append(i)
        out_keys.append(k)
    frame = _rows(out_keys, run, version)
    return frame, pl.Series("rows", src, dtype=pl.Int64), next_key


def _store(folder: Path, frames: dict[str, pl.DataFrame | Derived]) -> dict[str, str]:
    folder.mkdir(parents=True)
    return write_folder(frames, folder)


def test_a_derived_frame_is_stored_as_a_patch_and_read_back_exactly(tmp_path: Path) -> None:
    rng = random.Random(1)
    version: dict[int, int] = {}
    first = _rows(list(range(1000)), "r1", version)
    assert _store(tmp_path / "1", {"raw": first, "other": first.head(3)}) == {"raw": "whole", "other": "whole"}
    previous = FrameFolder(tmp_path / "1")
    second, rows, _ = _next_run(first, "r2", rng, version, change=0.02, drop=0.01, add=10, next_key=1000)
    stored = _store(tmp_path / "2", {"raw": Derived(second, previous, "raw", rows, REFRESHED),
                                     "other": second.head(2)})
    assert stored == {"raw": "patch", "other": "whole"}
    names = sorted(p.name for p in (tmp_path / "2").iterdir())
    assert names == ["other.parquet", "raw.base.parquet", "raw.patch.parquet", "raw.rows.parquet"]
    # The base is the previous file itself (a hard link), not a copy.
    assert os.stat(tmp_path / "2" / "raw.base.parquet").st_ino == os.stat(tmp_path / "1" / "raw.parquet").st_ino
    patch = pl.read_parquet(tmp_path / "2" / "raw.patch.parquet")
    assert patch.height == rows.null_count() and "run_id" not in patch.columns
    previous.close()

    folder = FrameFolder(tmp_path / "2")
    assert sorted(folder) == ["other", "raw"] and len(folder) == 2 and folder.patched("raw")
    assert folder["raw"].equals(second) and folder["raw"].schema == second.schema
    assert folder.read("raw", ["fetched_at", "title"]).equals(second.select("fetched_at", "title"))
    assert folder.read("raw", ["run_id"]).equals(second.select("run_id"))  # the rows file alone
    assert folder.read("raw", ["tags", "key"]).equals(second.select("tags", "key"))
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        folder.read("raw", ["missing"])
    assert concat_frames({"a": folder, "b": {"raw": first}}, "raw", ["key"]).height == second.height + first.height
    folder.close()


def _lazy(frame: pl.DataFrame, previous: FrameFolder, name: str, rows: pl.Series) -> PatchedRows:
    """``frame`` handed over as normalize's reuse path does: rows of the previous frame not read."""
    return PatchedRows(previous, name, rows, frame.filter(rows.is_null()), frame.select(REFRESHED), frame.schema)


@pytest.mark.parametrize(("seed", "lazy"), [(2, False), (3, False), (4, False), (2, True), (5, True)])
def test_a_chain_of_re_crawls_keeps_one_whole_base_and_every_frame_reads_back(tmp_path: Path, seed: int,
                                                                              lazy: bool) -> None:
    """Also with the frame given as PatchedRows (lazy): a row taken from the previous frame's
    patch (changed in an earlier re-crawl) is read from that patch file into the new one."""
    rng = random.Random(seed)
    version: dict[int, int] = {}
    frame = _rows(list(range(600)), "r0", version)
    _store(tmp_path / "0", {"offerings": frame})
    original = os.stat(tmp_path / "0" / "offerings.parquet").st_ino
    next_key, kinds = 600, []
    for run in range(1, 9):
        previous = FrameFolder(tmp_path / str(run - 1))
        assert previous["offerings"].equals(frame)  # what this run's reuse reads
        new, rows, next_key = _next_run(frame, f"r{run}", rng, version, change=0.01, drop=0.01, add=3,
                                        next_key=next_key)
        previous.forget()
        given = _lazy(new, previous, "offerings", rows) if lazy else new
        if lazy:
            assert given.collect().equals(new) and given.height == new.height
        stored = _store(tmp_path / str(run), {"offerings": Derived(given, previous, "offerings", rows, REFRESHED)})
        previous.close()
        kinds.append(stored["offerings"])
        folder = FrameFolder(tmp_path / str(run))
        assert folder["offerings"].equals(new), f"run {run}"
        if stored["offerings"] == "patch":
            base = os.stat(tmp_path / str(run) / "offerings.base.parquet").st_ino
            if "whole" not in kinds:
                assert base == original  # a patch on a patch links the first whole file again
        folder.close()
        frame = new
    assert kinds[0] == "patch" and "patch" in kinds[-3:]


def test_too_many_new_rows_or_an_underused_base_is_written_whole(tmp_path: Path) -> None:
    version: dict[int, int] = {}
    first = _rows(list(range(100)), "r1", version)
    _store(tmp_path / "1", {"raw": first})
    previous = FrameFolder(tmp_path / "1")
    # More new rows than COMPACT_SHARE of the frame.
    n_new = int(COMPACT_SHARE * 100) + 1
    rows = pl.Series([None] * n_new + list(range(n_new, 100)), dtype=pl.Int64)
    changed = first.with_columns(run_id=pl.lit("r2"))
    assert _store(tmp_path / "2", {"raw": Derived(changed, previous, "raw", rows, REFRESHED)}) == {"raw": "whole"}
    # Most of the base gone: the frame keeps a third of the previous rows.
    kept = first.head(30).with_columns(run_id=pl.lit("r2"))
    assert _store(tmp_path / "3", {"raw": Derived(kept, previous, "raw", pl.Series(range(30), dtype=pl.Int64),
                                                  REFRESHED)}) == {"raw": "whole"}
    assert FrameFolder(tmp_path / "3")["raw"].equals(kept)
    previous.close()


def test_a_previous_folder_that_cannot_serve_means_a_whole_write(tmp_path: Path) -> None:
    version: dict[int, int] = {}
    first = _rows(list(range(100)), "r1", version)
    _store(tmp_path / "1", {"raw": first})
    second = first.with_columns(run_id=pl.lit("r2"))
    rows = pl.Series(range(100), dtype=pl.Int64)
    previous = FrameFolder(tmp_path / "1")
    previous.close()  # closed before the write
    assert _store(tmp_path / "2", {"raw": Derived(second, previous, "raw", rows, REFRESHED)}) == {"raw": "whole"}
    # A frame the previous folder does not hold, rows pointing past it, a base of other types.
    previous = FrameFolder(tmp_path / "1")
    assert _store(tmp_path / "3", {"raw": Derived(second, previous, "nope", rows, REFRESHED)}) == {"raw": "whole"}
    past = pl.Series([*range(99), 100], dtype=pl.Int64)
    assert _store(tmp_path / "4", {"raw": Derived(second, previous, "raw", past, REFRESHED)}) == {"raw": "whole"}
    retyped = second.with_columns(pl.col("key").cast(pl.Int32))
    assert _store(tmp_path / "5", {"raw": Derived(retyped, previous, "raw", rows, REFRESHED)}) == {"raw": "whole"}
    for n in ("2", "3", "4"):
        assert FrameFolder(tmp_path / n)["raw"].equals(second)
    assert FrameFolder(tmp_path / "5")["raw"].equals(retyped)
    previous.close()
    with pytest.raises(ValueError, match="source rows"):
        Derived(second, previous, "raw", rows.head(5), REFRESHED)
    with pytest.raises(ValueError, match="refreshed"):
        Derived(second, previous, "raw", rows, ("nope",))
    with pytest.raises(ValueError, match="without dots"):
        write_folder({"a.b": second}, tmp_path)


def test_damaged_patch_files_raise_a_clear_error(tmp_path: Path) -> None:
    version: dict[int, int] = {}
    first = _rows(list(range(200)), "r1", version)
    _store(tmp_path / "1", {"raw": first})
    previous = FrameFolder(tmp_path / "1")
    second = first.with_columns(run_id=pl.lit("r2"))
    rows = pl.Series([None, *range(1, 200)], dtype=pl.Int64)
    second = second.with_columns(title=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("new")).otherwise("title"))
    assert _store(tmp_path / "2", {"raw": Derived(second, previous, "raw", rows, REFRESHED)}) == {"raw": "patch"}
    previous.close()
    assert FrameFolder(tmp_path / "2")["raw"].equals(second)
    # A patch with a row too many.
    patch = tmp_path / "2" / "raw.patch.parquet"
    good = pl.read_parquet(patch)
    pl.concat([good, good]).write_parquet(patch)
    with pytest.raises(DamagedFrame, match="do not fit together"):
        FrameFolder(tmp_path / "2")["raw"]
    good.write_parquet(patch)
    # A rows file without its layout.
    rows_file = tmp_path / "2" / "raw.rows.parquet"
    kept = pl.read_parquet(rows_file)
    meta = json.loads(pl.read_parquet_metadata(rows_file)[F.PATCH_META])
    kept.write_parquet(rows_file)
    with pytest.raises(DamagedFrame, match="metadata"):
        FrameFolder(tmp_path / "2")["raw"]
    kept.write_parquet(rows_file, metadata={F.PATCH_META: json.dumps({**meta, "version": 99})})
    with pytest.raises(DamagedFrame, match="layout version"):
        FrameFolder(tmp_path / "2").read("raw", ["key"])
    # The base gone.
    kept.write_parquet(rows_file, metadata={F.PATCH_META: json.dumps(meta)})
    (tmp_path / "2" / "raw.base.parquet").unlink()
    with pytest.raises(DamagedFrame, match="no raw.base.parquet"):
        FrameFolder(tmp_path / "2")["raw"]


def test_the_io_manager_stores_derived_frames_as_patches_and_a_reader_gets_them(tmp_path: Path) -> None:
    from pipelines.io_manager import _replace_folder

    version: dict[int, int] = {}
    first = _rows(list(range(500)), "r1", version)
    base = tmp_path / "io" / "staging" / "src"
    base.parent.mkdir(parents=True)
    assert _replace_folder(base, {"raw": first, "rejects": first.head(0)}) == {"raw": "whole", "rejects": "whole"}
    previous = FrameFolder(base)
    second, rows, _ = _next_run(first, "r2", random.Random(5), version, change=0.02, drop=0.0, add=5, next_key=500)
    stored = _replace_folder(base, {"raw": Derived(second, previous, "raw", rows, REFRESHED),
                                    "rejects": second.head(0)})
    assert stored == {"raw": "patch", "rejects": "whole"}
    # The reader that opened the previous output still reads it; a new reader gets the new one.
    assert previous["raw"].equals(first)
    previous.close()
    assert FrameFolder(base)["raw"].equals(second)
    assert [p.name for p in base.parent.iterdir() if p.name.startswith(".")] == []  # the old folder removed


def test_rows_of_a_patched_frame_read_only_the_patch_when_they_are_new(tmp_path: Path, monkeypatch) -> None:
    version: dict[int, int] = {}
    first = _rows(list(range(300)), "r1", version)
    _store(tmp_path / "1", {"raw": first})
    previous = FrameFolder(tmp_path / "1")
    second, rows, _ = _next_run(first, "r2", random.Random(9), version, change=0.03, drop=0.0, add=4, next_key=300)
    assert _store(tmp_path / "2", {"raw": Derived(second, previous, "raw", rows, REFRESHED)}) == {"raw": "patch"}
    previous.close()
    folder = FrameFolder(tmp_path / "2")
    reads: list[str] = []
    original = F.FrameFolder._read_part
    monkeypatch.setattr(F.FrameFolder, "_read_part",
                        lambda self, name, part, columns: reads.append(part) or original(self, name, part, columns))
    new = rows.is_null()
    some_new = new & (pl.int_range(new.len(), eager=True) % 2 == 0)
    assert folder.read("raw", ["title", "run_id"], rows=some_new).equals(second.filter(some_new).select("title", "run_id"))
    assert "base" not in reads
    reads.clear()
    mixed = ~new & (pl.int_range(new.len(), eager=True) % 3 == 0) | some_new
    assert folder.read("raw", ["tags"], rows=mixed).equals(second.filter(mixed).select("tags"))
    assert "base" in reads
    assert folder.read("raw", rows=new).equals(second.filter(new))
    assert folder.read("raw", ["key"], rows=pl.Series([False] * second.height)).height == 0
    with pytest.raises(ValueError, match="boolean mask"):
        folder.read("raw", ["key"], rows=new.head(5))
    whole = FrameFolder(tmp_path / "1")
    assert whole.read("raw", ["key"], rows=pl.Series([True, False] * 150)).equals(first.select("key").gather_every(2))
    assert "raw" in whole and "nope" not in whole
