"""Publish a built work file by atomic rename; open the published file read-only.

DuckDB allows one writer and, while it writes, no reader in another process. So the pipeline
never writes the published file: it builds a work file (``warehouse.load.build``), then
``publish`` checkpoints it (no WAL left beside it), fsyncs it and renames it over the
published path. Readers that opened the old file keep reading the old inode until they
close; new readers see the whole new run.

Runs are serialized by a lock file (``<name>.lock`` beside the published file, an exclusive
``flock``). A run must hold it around its WHOLE write, from copying the published file into
its work file to the rename: a run that copied the published file before another run's
rename would publish a file without that run. ``build_and_publish`` (a warehouse run) and
``work_file`` (any other change, e.g. ``pipelines.failures.record_failure``) do so; each run
writes its own work file (``<stem>.<random>.work.duckdb`` beside the published file), so no
run can reset or attach another's. Work files left by a killed run are removed by the next
run that holds the lock. ``publish`` alone (a work file built elsewhere) takes the lock only
around the rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from warehouse.ddl import attach, quote_identifier
from warehouse.load import RunInputs, build, fsync_file

WORK_SUFFIX = ".work.duckdb"

_held = threading.local()  # published paths whose lock this thread holds (see publish_lock)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def lock_path(published_path: Path) -> Path:
    """The lock file guarding ``published_path``: ``<name>.lock`` beside it."""
    return published_path.with_name(published_path.name + ".lock")


# How long a run waits for another run's lock before it fails (seconds); at call time
# $CREDCAT_PUBLISH_LOCK_TIMEOUT overrides it ("none": wait as long as it takes).
PUBLISH_LOCK_TIMEOUT_S = 3600.0


class PublishLockTimeout(TimeoutError):
    """Another run held the publish lock for longer than the timeout."""


def _lock_timeout(timeout: float | None) -> float | None:
    if timeout is not None:
        return timeout
    value = os.environ.get("CREDCAT_PUBLISH_LOCK_TIMEOUT", "").strip().lower()
    if not value:
        return PUBLISH_LOCK_TIMEOUT_S
    if value == "none":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"CREDCAT_PUBLISH_LOCK_TIMEOUT must be seconds or 'none', not {value!r}") from None
    if not seconds >= 0:
        raise ValueError(f"CREDCAT_PUBLISH_LOCK_TIMEOUT must be >= 0, not {value!r}")
    return seconds


def _holder(fd: int) -> str:
    """What the lock file says about the run holding it (written by that run)."""
    try:
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "unknown (the holder wrote nothing yet)"


@contextlib.contextmanager
def publish_lock(published_path: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive flock for ``published_path``, waiting at most ``timeout`` seconds
    (default ``PUBLISH_LOCK_TIMEOUT_S`` or ``$CREDCAT_PUBLISH_LOCK_TIMEOUT``) for another run
    to release it; then ``PublishLockTimeout`` names the holder (process, host and since when,
    which the holder writes into the lock file). The OS releases the lock of a process that
    dies, so only a run that hangs holding it makes others wait.

    A flock belongs to an open file description: taking it again through a new ``open`` in
    the same thread would wait for itself forever, so that raises instead. Code that already
    holds the lock calls the unlocked internals (``WorkFile.publish``).
    """
    path = lock_path(Path(published_path))
    key = str(path.resolve())
    held: set[str] = _held.__dict__.setdefault("paths", set())
    if key in held:
        raise RuntimeError(f"{path} is already held by this thread: taking it again would deadlock")
    wait = _lock_timeout(timeout)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if wait is None else time.monotonic() + wait
        pause = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise PublishLockTimeout(
                        f"{path}: another run has held the publish lock for more than {wait:g} s "
                        f"(holder: {_holder(fd)}); if that run hangs, stop it; "
                        "$CREDCAT_PUBLISH_LOCK_TIMEOUT sets how long to wait") from None
                time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
                pause = min(pause * 2, 2.0)
        held.add(key)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (f"pid {os.getpid()} on {socket.gethostname()} since "
                           f"{datetime.now(UTC).isoformat(timespec='seconds')}\n").encode(), 0)
            yield
        finally:
            held.discard(key)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_paths(work_path: Path, published_path: Path) -> None:
    if not work_path.exists():
        raise FileNotFoundError(work_path)
    if work_path.resolve() == published_path.resolve():
        raise ValueError("work_path and published_path must differ")


def _publish_locked(work_path: Path, published_path: Path) -> Path:
    """``publish`` without taking the lock: the caller holds ``publish_lock(published_path)``."""
    _check_paths(work_path, published_path)
    _checkpoint(work_path)
    if _wal(published_path).exists():
        # A WAL beside the published file belongs to a writer that broke the rules; a
        # reader would replay it against the new file.
        raise RuntimeError(f"{_wal(published_path)} exists: the published file was written in place")
    fsync_file(work_path)
    os.replace(work_path, published_path)
    _fsync_dir(published_path.parent)
    return published_path


def publish(work_path: Path, published_path: Path) -> Path:
    """Atomically replace ``published_path`` with the built ``work_path``; return it.

    Steps, under the publish lock: checkpoint and close the work file, fsync it, rename it
    over the published path (``os.replace``: atomic on one filesystem, so work and published
    files must share one), fsync the directory. The work file is gone afterwards.

    The lock covers only the rename here: a work file built from a copy of the published file
    taken before another run published would drop that run. Runs that may overlap use
    ``build_and_publish`` or ``work_file``.
    """
    work_path = Path(work_path)
    published_path = Path(published_path)
    _check_paths(work_path, published_path)
    published_path.parent.mkdir(parents=True, exist_ok=True)
    with publish_lock(published_path):
        return _publish_locked(work_path, published_path)


# --- a run's own work file, under the lock ------------------------------------------------------


def is_work_file_of(path: Path, published_path: Path) -> bool:
    """Whether ``path`` is a run's work file (or its WAL) for ``published_path``:
    ``<stem>.<name>.work.duckdb[.wal]`` in the same folder."""
    pattern = re.escape(published_path.stem) + r"\.[A-Za-z0-9_]+" + re.escape(WORK_SUFFIX) + r"(\.wal)?"
    return path.parent == published_path.parent and re.fullmatch(pattern, path.name) is not None


def remove_stale_work_files(published_path: Path, keep: Path | None = None) -> list[Path]:
    """Delete the work files (and WALs) beside ``published_path`` except ``keep``'s; return them.

    Call only while holding ``publish_lock(published_path)``: every run writes its work file
    under that lock and removes it before releasing it, so any other work file there was left
    by a run that was killed.
    """
    published_path = Path(published_path)
    spare = {keep.name, _wal(keep).name} if keep is not None else set()
    removed = []
    if not published_path.parent.is_dir():
        return removed
    for path in sorted(published_path.parent.iterdir()):
        if path.name not in spare and is_work_file_of(path, published_path) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@dataclass(frozen=True)
class WorkFile:
    """A run's own work file for ``published``, valid while ``work_file`` holds the lock."""

    path: Path
    published: Path
    stale_removed: tuple[Path, ...] = ()

    def publish(self) -> Path:
        """Rename the built work file over the published file (the lock is already held)."""
        return _publish_locked(self.path, self.published)


@contextlib.contextmanager
def work_file(published_path: Path) -> Iterator[WorkFile]:
    """Hold the publish lock and give this run its own work file path beside the published file.

    On entry: take the lock, reserve a unique name (``tempfile.mkstemp``), remove the work
    files killed runs left. The path does not exist yet (the reserved empty file is removed,
    so the work file is created with the usual permissions, not mkstemp's 0600, and the
    published file after the rename too). The caller creates and fills it (a copy of the
    published file, for history) and calls ``WorkFile.publish``; on exit the lock is released
    and, if the run failed or did not publish, its work file and WAL are removed.
    """
    published_path = Path(published_path)
    published_path.parent.mkdir(parents=True, exist_ok=True)
    with publish_lock(published_path):
        fd, name = tempfile.mkstemp(dir=published_path.parent, prefix=published_path.stem + ".",
                                    suffix=WORK_SUFFIX)
        os.close(fd)
        path = Path(name)
        path.unlink()
        try:
            stale = remove_stale_work_files(published_path, keep=path)
            yield WorkFile(path, published_path, tuple(stale))
        finally:
            for leftover in (path, _wal(path)):
                leftover.unlink(missing_ok=True)


def build_and_publish(published_path: Path, inputs: RunInputs | Callable[[], RunInputs],
                      check: Callable[[Path], bool] | None = None) -> dict[str, Any]:
    """Build one run on top of the published warehouse and publish it, all under the lock.

    ``warehouse.load.build`` copies the published file into this run's own work file and
    loads the run; ``inputs`` may be a function that reads the run's frames, called under the
    lock while the copy runs on a second thread (the two overlap). ``check(work_path)``, when
    given, inspects the built work file (open it read-only and close it again): False leaves
    the published file as it was. Then the work
    file is renamed over the published file. A second run started meanwhile waits for the
    lock and builds on top of this one. Returns the load stats with ``published`` (whether it
    was) and ``stale_work_files_removed``; on any error the work file is removed, the
    published file unchanged.
    """
    published_path = Path(published_path)
    with work_file(published_path) as work:
        stats = build(work.path, published_path if published_path.exists() else None, inputs)
        ok = check(work.path) if check is not None else True
        if ok:
            work.publish()
        stats["published"] = bool(ok)
        stats["stale_work_files_removed"] = [str(p) for p in work.stale_removed]
    return stats


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
