"""Publish a built work file by atomic rename; open the published file read-only.

DuckDB allows one writer and, while it writes, no reader in another process. So the pipeline
never writes the published file: it builds a work file (``warehouse.load.build``), then
``publish`` checkpoints it (no WAL left beside it), fsyncs it and renames it over the
published path. Readers that opened the old file keep reading the old inode until they
close; new readers see the whole new run. A lock file serializes concurrent publishes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from warehouse.ddl import attach, quote_identifier


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def lock_path(published_path: Path) -> Path:
    """The lock file guarding ``published_path``: ``<name>.lock`` beside it."""
    return published_path.with_name(published_path.name + ".lock")


@contextlib.contextmanager
def publish_lock(published_path: Path) -> Iterator[None]:
    """Hold an exclusive fcntl lock for ``published_path`` (blocks until it is free)."""
    path = lock_path(Path(published_path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file and close it, so the file alone is the database."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH ? AS {quote_identifier('work')}", [str(path)])
        con.execute(f"CHECKPOINT {quote_identifier('work')}")
        con.execute(f"DETACH {quote_identifier('work')}")
    finally:
        con.close()
    if _wal(path).exists():
        raise RuntimeError(f"{path} still has a WAL after checkpoint: is it open elsewhere?")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(work_path: Path, published_path: Path) -> Path:
    """Atomically replace ``published_path`` with the built ``work_path``; return it.

    Steps, under the publish lock: checkpoint and close the work file, fsync it, rename it
    over the published path (``os.replace``: atomic on one filesystem, so work and published
    files must share one), fsync the directory. The work file is gone afterwards.
    """
    work_path = Path(work_path)
    published_path = Path(published_path)
    if not work_path.exists():
        raise FileNotFoundError(work_path)
    if work_path.resolve() == published_path.resolve():
        raise ValueError("work_path and published_path must differ")
    published_path.parent.mkdir(parents=True, exist_ok=True)
    with publish_lock(published_path):
        _checkpoint(work_path)
        if _wal(published_path).exists():
            # A WAL beside the published file belongs to a writer that broke the rules; a
            # reader would replay it against the new file.
            raise RuntimeError(f"{_wal(published_path)} exists: the published file was written in place")
        _fsync_file(work_path)
        os.replace(work_path, published_path)
        _fsync_dir(published_path.parent)
    return published_path


def open_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse, its catalog the default one.

    Attached through a fresh in-memory connection: ``duckdb.connect(path)`` would reuse a
    database instance this process already holds for the path, i.e. possibly the file as it
    was before the last publish. Queries name tables as ``marts.fct_offering`` etc.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    return attach(str(path), read_only=True)
