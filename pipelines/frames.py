"""A stored asset output that is several frames (a folder of Parquet files), read on first use.

A staging output holds ``raw`` (every raw record, with the source's whole payload),
``offerings``, ``rejects`` and ``fingerprints``; most readers want one of them, or some
columns of one (entity resolution reads 17 of the offerings' 57 columns, survivorship 24:
``FrameFolder.read``, ``concat_frames``; at 1M records 0.35 s instead of 1.1 s). The folder's
files are opened when it is loaded, all from the same folder, so a frame read later is the one
stored then, even if another run has since replaced the folder (an open file outlives its
directory entry).

The IO manager writes a folder with ``write_folder`` and a single frame with ``write_frame``
(and so do the bench's stages, pipelines/bench/stages.py): zstd at level 1, without column
statistics. They are internal handoffs, read whole, never filtered by statistics; measured on
the 1M staging output this took about a fifth less CPU time than Polars' defaults (zstd level 3,
statistics) for files 3% larger, and reads as fast.

Patched frames. A re-crawl's staging frames are mostly the previous run's rows with two
per-run columns refreshed (``run_id`` and ``fetched_at``: normalize/reuse.py). Such a frame is
handed to the writer as a ``Derived`` (the frame, the folder it came from, and per row the
previous row it is, or null for a new row) and stored as a patch on the previous file instead of
whole: ``<name>.base.parquet`` is a hard link to the file the rows come from (the previous
output's whole file, or its base when that was a patch too, so a chain of re-crawls always
points at one whole file), ``<name>.patch.parquet`` holds the rows that are not the base's, and
``<name>.rows.parquet`` one row per row of the frame: ``_src`` (its row in the base, null for the
next row of the patch) and the refreshed columns, with the layout in its Parquet metadata
(``credcat.patch``: version, the frame's columns in order, the refreshed ones, the base's row
count). Reading it gives exactly the frame handed over, columns and row order included
(tests/pipelines/test_frames.py). A frame whose new rows exceed ``COMPACT_SHARE`` of it, or that
uses less than ``1 - COMPACT_SHARE`` of its base, is written whole (so is a frame whose
previous file cannot be linked: another device, a folder closed or replaced meanwhile, a base of
other columns); so after a few dozen re-crawls of 1% the chain starts again from a whole file.
Nothing ever writes into a stored file, so a base shared by several outputs stays what each
recorded. A ``Derived`` frame may also be given as ``PatchedRows`` (normalize.reuse: the
staging raw rows of a re-crawl, whose previous rows were never read): its new rows and
refreshed columns are written as they are, plus the rows it takes from the previous frame's
patch (read from that patch file alone); only a whole write puts the frame together. At 1M
records this writes ~1% of the raw and offering rows instead of all of them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

import numpy as np
import polars as pl
import pyarrow.parquet as pq

FOLDER_PARQUET = {"compression": "zstd", "compression_level": 1, "statistics": False}

PATCH_META = "credcat.patch"
PATCH_VERSION = 1
# A patch holding more new rows than this share of the frame, or using less than 1 - this share
# of its base, is written whole instead.
COMPACT_SHARE = 0.2
SOURCE_ROW = "_src"
_PARTS = ("base", "patch", "rows")


class DamagedFrame(ValueError):
    """A patched frame whose files do not fit together (a base, patch or rows file changed,
    missing or of another layout)."""


def write_frame(frame: pl.DataFrame, path: Path | str | BinaryIO, metadata: dict[str, str] | None = None) -> None:
    """One frame of a folder, as the IO manager stores it (``FOLDER_PARQUET``)."""
    frame.write_parquet(path, **FOLDER_PARQUET, metadata=metadata)


@runtime_checkable
class PatchedRows(Protocol):
    """A frame given as rows of a previous frame and new rows, not put together
    (normalize.reuse.PatchedRows: the run's raw rows on the reuse path)."""

    schema: pl.Schema
    source_rows: pl.Series

    @property
    def height(self) -> int: ...

    @property
    def columns(self) -> list[str]: ...

    def new_rows(self) -> pl.DataFrame: ...

    def refreshed(self) -> pl.DataFrame: ...

    def collect(self) -> pl.DataFrame: ...


@dataclass(frozen=True)
class Derived:
    """``frame``, most of whose rows are rows of frame ``name`` of ``previous`` (a FrameFolder
    still open) with the ``refreshed`` columns set anew: ``rows`` gives per row of ``frame`` the
    row of ``previous[name]`` it is, null for a row that is not one of them. Written as a patch
    on the previous file when that pays (see the module docstring), else whole; readers get
    ``frame`` either way."""

    frame: pl.DataFrame | PatchedRows  # PatchedRows: the rows not read (normalize.reuse)
    previous: FrameFolder
    name: str
    rows: pl.Series
    refreshed: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.rows.len() != self.frame.height:
            raise ValueError(f"Derived {self.name!r}: {self.rows.len()} source rows for {self.frame.height} rows")
        missing = [c for c in self.refreshed if c not in self.frame.columns]
        if missing:
            raise ValueError(f"Derived {self.name!r}: refreshed columns {missing} not in the frame")


def derive(frames: Mapping[str, pl.DataFrame], previous: FrameFolder | None,
           previous_rows: Mapping[str, pl.Series], refreshed: tuple[str, ...]) -> dict[str, pl.DataFrame | Derived]:
    """``frames`` with each frame ``previous_rows`` names handed over as ``Derived`` on the same
    frame of ``previous`` (normalize_with_reuse's ``previous_rows`` and ``REFRESHED``); as
    they are when there is no previous output."""
    out: dict[str, pl.DataFrame | PatchedRows | Derived] = dict(frames)
    if previous is not None:
        for name, rows in previous_rows.items():
            out[name] = Derived(out[name], previous, name, rows, refreshed)
    return {name: _collected(value) for name, value in out.items()}


def _collected(value: pl.DataFrame | PatchedRows | Derived) -> pl.DataFrame | Derived:
    return value.collect() if isinstance(value, PatchedRows) else value


def frame_of(value: pl.DataFrame | PatchedRows | Derived) -> pl.DataFrame:
    """The frame itself (a ``PatchedRows`` put together: its previous frame read whole)."""
    return _collected(value.frame if isinstance(value, Derived) else value)


def write_folder(frames: Mapping[str, pl.DataFrame | Derived], folder: Path) -> dict[str, str]:
    """Write every frame into ``folder`` (which exists and is empty); a ``Derived`` frame as a
    patch when that pays. Returns how each frame was stored: "whole" or "patch"."""
    stored: dict[str, str] = {}
    for name, value in frames.items():
        if "." in name or not name:
            raise ValueError(f"frame name {name!r}: names are non-empty and without dots")
        if isinstance(value, Derived) and _write_patch(value, folder, name):
            stored[name] = "patch"
        else:
            write_frame(frame_of(value), folder / f"{name}.parquet")
            stored[name] = "whole"
    return stored


def _num_rows(handle: BinaryIO) -> int:
    handle.seek(0)
    return pq.ParquetFile(handle).metadata.num_rows


def _schema(handle: BinaryIO) -> pl.Schema:
    handle.seek(0)
    return pl.read_parquet_schema(handle)


def _link_open(handle: BinaryIO, folder_path: Path, stem: str, target: Path) -> bool:
    """Hard-link the file ``handle`` has open as ``target``: through /proc/self/fd where there
    is one (exactly the open file), else by its path in the folder if that is still the same
    file (device and inode). False when neither works (e.g. another device, a file replaced)."""
    fd = handle.fileno()
    opened = os.fstat(fd)
    for source in (f"/proc/self/fd/{fd}", folder_path / f"{stem}.parquet"):
        try:
            os.link(source, target, follow_symlinks=True)
        except OSError:
            continue
        linked = os.stat(target)
        if (linked.st_dev, linked.st_ino) == (opened.st_dev, opened.st_ino):
            return True
        target.unlink()
    return False


def _write_patch(value: Derived, folder: Path, name: str) -> bool:
    """Store ``value`` as ``<name>.base|patch|rows.parquet``; False (nothing written) when it
    should or cannot be: the caller writes it whole."""
    frame, refreshed = value.frame, list(value.refreshed)
    try:
        storage = value.previous.storage(value.name)
        if storage is None:
            return False
        base, previous_src = storage
        n_previous = _num_rows(value.previous.handle(value.name)) if previous_src is None else previous_src.len()
        rows = value.rows.cast(pl.Int64)
        if rows.len() and rows.drop_nulls().len() and (rows.min() < 0 or rows.max() >= n_previous):
            return False
        src = rows.cast(pl.UInt32) if previous_src is None else previous_src.gather(rows.cast(pl.UInt32))
        n_base = _num_rows(base)
        kept = [c for c in frame.columns if c not in refreshed]
        base_schema = _schema(base)
        if any(base_schema.get(c) != frame.schema[c] for c in kept):
            return False
        new = src.null_count()
        used = frame.height - new
        if new > COMPACT_SHARE * frame.height or used < (1 - COMPACT_SHARE) * n_base:
            return False
        if isinstance(frame, PatchedRows):
            if sorted(refreshed) != sorted(frame.refreshed().columns):
                return False
            patch, fresh = _patch_rows(value, frame, rows, src, kept), frame.refreshed()
        else:
            patch, fresh = frame.filter(src.is_null()).select(kept), frame.select(refreshed)
        if not _link_open(base, value.previous.folder, value.previous.stem_of(value.name, "base"),
                          folder / f"{name}.base.parquet"):
            return False
    except (OSError, ValueError, pl.exceptions.PolarsError):
        # A previous folder closed or damaged: the frame is written whole.
        (folder / f"{name}.base.parquet").unlink(missing_ok=True)
        return False
    meta = {"version": PATCH_VERSION, "columns": frame.columns, "refreshed": refreshed, "base_rows": n_base,
            "rows": frame.height}
    write_frame(patch, folder / f"{name}.patch.parquet")
    write_frame(fresh.with_columns(src.alias(SOURCE_ROW)).select(SOURCE_ROW, *refreshed),
                folder / f"{name}.rows.parquet", metadata={PATCH_META: json.dumps(meta)})
    return True


def _patch_rows(value: Derived, frame: PatchedRows, rows: pl.Series, src: pl.Series, kept: list[str]) -> pl.DataFrame:
    """The rows of a ``PatchedRows`` that the base file lacks, in frame order: its own new
    rows, and the rows it takes from the previous frame that are rows of that frame's patch
    (a chain of re-crawls), read from the previous patch file alone."""
    own = rows.is_null()
    carried = src.is_null() & ~own  # previous rows that are not in the base
    if not carried.any():
        return frame.new_rows().select(kept)
    wanted = rows.filter(carried).to_numpy()
    mask = np.zeros(value.previous.height(value.name), dtype=bool)
    mask[wanted] = True
    taken = value.previous.read(value.name, kept, rows=pl.Series(mask))  # in previous row order
    position = np.cumsum(mask) - 1  # a chosen previous row's position among the rows read
    pool = pl.concat([taken[position[wanted]], frame.new_rows().select(kept)], how="vertical").rechunk()
    # Per patch row (frame order): the next carried row, or after them the next own new row.
    needed = src.is_null()
    index = pl.select(pl.when(own.filter(needed))
                      .then(int(carried.sum()) + own.filter(needed).cum_sum().cast(pl.Int64) - 1)
                      .otherwise(carried.filter(needed).cum_sum().cast(pl.Int64) - 1)).to_series()
    return pool[index]


class FrameFolder(Mapping[str, pl.DataFrame]):
    """``{name: frame}`` for ``<folder>/<name>.parquet`` and the patched frames
    ``<folder>/<name>.{base,patch,rows}.parquet``; each read once, when asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._files: dict[str, BinaryIO] = {}
        # Names are listed and files opened through one handle on the folder, so all of them
        # come from the same folder even if the IO manager swaps a new output in meanwhile.
        folder_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name in sorted(n for n in os.listdir(folder_fd) if n.endswith(".parquet") and not n.startswith(".")):
                fd = os.open(name, os.O_RDONLY, dir_fd=folder_fd)
                self._files[name.removesuffix(".parquet")] = os.fdopen(fd, "rb")
        except BaseException:
            self.close()
            raise
        finally:
            os.close(folder_fd)
        self._names = sorted({stem.split(".", 1)[0] for stem in self._files
                              if "." not in stem or stem.endswith(".rows")})
        self._frames: dict[str, pl.DataFrame] = {}

    # --- how a frame is stored ------------------------------------------------------------

    def patched(self, name: str) -> bool:
        if name not in self._names:
            raise KeyError(name)
        return name not in self._files

    def stem_of(self, name: str, part: str) -> str:
        return f"{name}.{part}" if self.patched(name) else name

    def handle(self, name: str, part: str = "base") -> BinaryIO:
        """The open file of frame ``name`` (a whole frame's), or of that part of a patched one."""
        stem = self.stem_of(name, part)
        if stem not in self._files:
            raise DamagedFrame(f"{self.folder}: patched frame {name!r} has no {stem}.parquet")
        return self._files[stem]

    def storage(self, name: str) -> tuple[BinaryIO, pl.Series | None] | None:
        """For a writer patching on this frame: the whole file its rows are in and, for a
        patched frame, per row its row there (null: a row of the patch). None when absent."""
        if name not in self._names:
            return None
        if not self.patched(name):
            return self._files[name], None
        return self.handle(name, "base"), self._layout(name, [])[3].get_column(SOURCE_ROW)

    def schema(self, name: str) -> pl.Schema:
        """The frame's schema, read from its files' metadata (no data read)."""
        if not self.patched(name):
            return _schema(self._files[name])
        meta = self._meta(name)
        types = {**_schema(self.handle(name, "base")), **_schema(self.handle(name, "rows"))}
        return pl.Schema({c: types[c] for c in meta["columns"]})

    def columns(self, name: str) -> list[str]:
        """The frame's column names, in order, read from its files' metadata (no data read)."""
        if not self.patched(name):
            return list(_schema(self._files[name]).names())
        return list(self._meta(name)["columns"])

    def height(self, name: str) -> int:
        """The frame's row count, read from its files' metadata (no data read, nothing kept)."""
        if name in self._frames:
            return self._frames[name].height
        if not self.patched(name):
            return _num_rows(self._files[name])
        return int(self._meta(name)["rows"])

    def _meta(self, name: str) -> dict[str, Any]:
        handle = self.handle(name, "rows")
        handle.seek(0)
        try:
            meta = json.loads(pl.read_parquet_metadata(handle)[PATCH_META])
        except (KeyError, ValueError) as exc:
            raise DamagedFrame(f"{self.folder}: {name}.rows.parquet has no readable {PATCH_META} metadata") from exc
        if meta.get("version") != PATCH_VERSION:
            raise DamagedFrame(f"{self.folder}: patched frame {name!r} of layout version {meta.get('version')!r}, "
                               f"this code reads {PATCH_VERSION}")
        return meta

    def _read_part(self, name: str, part: str, columns: Sequence[str] | None) -> pl.DataFrame:
        handle = self.handle(name, part)
        handle.seek(0)
        return pl.read_parquet(handle, columns=None if columns is None else list(columns))

    def _layout(self, name: str, columns: Sequence[str] | None) -> tuple[dict[str, Any], list[str], list[str], pl.DataFrame]:
        """A patched frame's metadata, the columns wanted, those of them in the base and patch
        files, and its rows file (``_src`` and the wanted refreshed columns), checked."""
        meta = self._meta(name)
        order, refreshed = list(meta["columns"]), set(meta["refreshed"])
        want = order if columns is None else list(columns)
        unknown = [c for c in want if c not in order]
        if unknown:
            raise pl.exceptions.ColumnNotFoundError(f"{unknown} not in frame {name!r} of {self.folder}")
        rows = self._read_part(name, "rows", [SOURCE_ROW, *[c for c in want if c in refreshed]])
        if rows.height != meta["rows"]:
            raise DamagedFrame(f"{self.folder}: {name}.rows.parquet has {rows.height} rows, its metadata says {meta['rows']}")
        return meta, want, [c for c in want if c not in refreshed], rows

    def _read_patched(self, name: str, columns: Sequence[str] | None) -> pl.DataFrame:
        meta, want, kept, rows = self._layout(name, columns)
        src = rows.get_column(SOURCE_ROW)
        if not kept:
            return rows.select(want)
        base = self._read_part(name, "base", kept)
        patch = self._read_part(name, "patch", kept)
        n_base = base.height
        if n_base != meta["base_rows"] or patch.height != src.null_count() or (
                src.len() > src.null_count() and src.max() >= n_base):
            raise DamagedFrame(f"{self.folder}: the files of patched frame {name!r} do not fit together "
                               f"(base {n_base} rows, recorded {meta['base_rows']}; patch {patch.height} rows for "
                               f"{src.null_count()} new)")
        # One gather from the base followed by the patch (a gather across the chunks of a
        # Parquet-read frame takes ten times as long as from one chunk).
        index = pl.select(pl.when(src.is_null()).then(n_base + src.is_null().cum_sum().cast(pl.Int64) - 1)
                          .otherwise(src.cast(pl.Int64))).to_series()
        pool = pl.concat([base, patch], how="vertical").rechunk()
        del base, patch
        gathered = pool[index]
        del pool
        return pl.concat([gathered, rows.drop(SOURCE_ROW)], how="horizontal").select(want)

    # --- the mapping ------------------------------------------------------------------------

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name not in self._frames:
            if name not in self._names:
                raise KeyError(name)  # a frame the folder does not hold
            if self.patched(name):
                self._frames[name] = self._read_patched(name, None)
            else:
                self._frames[name] = self._read_part(name, "", None)
        return self._frames[name]

    def read(self, name: str, columns: Sequence[str] | None = None, rows: pl.Series | None = None) -> pl.DataFrame:
        """The frame, or only ``columns`` of it: read from its files alone and not kept (a
        reader of a few columns of a wide frame reads those), unless the whole frame is.
        ``rows`` (a boolean mask over the frame's rows) keeps those rows only: of a patched
        frame whose chosen rows are all new rows, only the patch file is read."""
        if rows is None:
            if columns is None:
                return self[name]
            if name in self._frames:
                return self._frames[name].select(columns)
        elif name in self._frames:
            frame = self._frames[name]
            return (frame if columns is None else frame.select(columns)).filter(rows)
        if name not in self._names:
            raise KeyError(name)
        if rows is not None and self.patched(name):
            return self._read_patched_rows(name, columns, rows)
        if self.patched(name):
            return self._read_patched(name, columns)
        frame = self._read_part(name, "", columns)
        return frame if rows is None or (rows.len() == frame.height and rows.all()) else frame.filter(rows)

    def _read_patched_rows(self, name: str, columns: Sequence[str] | None, rows: pl.Series) -> pl.DataFrame:
        meta, want, kept, layout = self._layout(name, columns)
        if rows.dtype != pl.Boolean or rows.len() != meta["rows"] or rows.null_count():
            raise ValueError(f"rows of {name!r}: a boolean mask of its {meta['rows']} rows, without nulls")
        new = layout.get_column(SOURCE_ROW).is_null()
        if new.filter(rows).sum() != rows.sum():
            return self._read_patched(name, columns).filter(rows)  # some from the base: read all
        # Only patch rows: the k-th new row is the k-th row of the patch.
        parts = []
        if kept:
            patch = self._read_part(name, "patch", kept)
            if patch.height != new.sum():
                raise DamagedFrame(f"{self.folder}: the files of patched frame {name!r} do not fit together "
                                   f"(patch {patch.height} rows for {new.sum()} new)")
            parts.append(patch.filter(rows.filter(new)))  # per patch row: chosen or not
        if len(kept) < len(want):
            parts.append(layout.drop(SOURCE_ROW).filter(rows))
        return pl.concat(parts, how="horizontal").select(want)

    def forget(self) -> None:
        """Drop the frames read so far (the files stay open: a writer may still patch on them)."""
        self._frames.clear()

    def __contains__(self, name: object) -> bool:
        return name in self._names  # without reading the frame (Mapping's would)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FrameFolder({str(self.folder)!r}, {self._names})"


def concat_frames(folders: Mapping[str, Mapping[str, pl.DataFrame]], name: str,
                  columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Frame ``name`` of every folder (``{source: {name: frame}}``, as the staging assets hand
    them over), one under the other; only ``columns`` of it when given, which a FrameFolder
    reads alone from its files."""
    def part(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        if isinstance(frames, FrameFolder):
            return frames.read(name, columns)
        return frames[name] if columns is None else frames[name].select(columns)

    return pl.concat([part(frames) for frames in folders.values()], how="vertical")
