"""A stored asset output that is several frames (a folder of Parquet files), read on first use.

A staging output holds ``raw`` (every raw record, with the source's whole payload),
``offerings``, ``rejects`` and ``fingerprints``; most readers want one of them, or some
columns of one (entity resolution reads 17 of the offerings' 57 columns, survivorship 24:
``FrameFolder.read``, ``concat_frames``; at 1M records 0.35 s instead of 1.1 s). The folder's
files are opened when it is loaded, all from the same folder, so a frame read later is the one
stored then, even if another run has since replaced the folder (an open file outlives its
directory entry).

The IO manager writes every frame with ``write_frame``, a folder's and a single frame's (and
so do the bench's stages, pipelines/bench/stages.py): zstd at level 1, without column statistics.
They are internal handoffs, read whole, never filtered by statistics; measured on the 1M
staging output this took about a fifth less CPU time than Polars' defaults (zstd level 3,
statistics) for files 3% larger, and reads as fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import polars as pl

FOLDER_PARQUET = {"compression": "zstd", "compression_level": 1, "statistics": False}


def write_frame(frame: pl.DataFrame, path: Path | str | BinaryIO) -> None:
    """One frame of a folder, as the IO manager stores it (``FOLDER_PARQUET``)."""
    frame.write_parquet(path, **FOLDER_PARQUET)


class FrameFolder(Mapping[str, pl.DataFrame]):
    """``{name: frame}`` for ``<folder>/<name>.parquet``; each file read once, when asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._files: dict[str, BinaryIO] = {}
        # Names are listed and files opened through one handle on the folder, so all of them
        # come from the same folder even if the IO manager swaps a new output in meanwhile.
        folder_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name in sorted(n for n in os.listdir(folder_fd) if n.endswith(".parquet")):
                fd = os.open(name, os.O_RDONLY, dir_fd=folder_fd)
                self._files[name.removesuffix(".parquet")] = os.fdopen(fd, "rb")
        except BaseException:
            self.close()
            raise
        finally:
            os.close(folder_fd)
        self._frames: dict[str, pl.DataFrame] = {}

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name not in self._frames:
            handle = self._files[name]  # KeyError for a frame the folder does not hold
            handle.seek(0)
            self._frames[name] = pl.read_parquet(handle)
        return self._frames[name]

    def read(self, name: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """The frame, or only ``columns`` of it: read from its file alone and not kept (a
        reader of a few columns of a wide frame reads those), unless the whole frame is."""
        if columns is None:
            return self[name]
        if name in self._frames:
            return self._frames[name].select(columns)
        handle = self._files[name]  # KeyError for a frame the folder does not hold
        handle.seek(0)
        return pl.read_parquet(handle, columns=list(columns))

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FrameFolder({str(self.folder)!r}, {sorted(self._files)})"


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
