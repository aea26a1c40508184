"""SHA-256 digests of files and of sets of files: what a cache or a reuse check keys its
validity on (code and data files, reference lists, written cache files); and file identities,
which recognise a file unchanged since without reading it."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def files_digest(root: Path, paths: Iterable[Path]) -> str:
    """Hex SHA-256 over ``paths`` (names relative to ``root``, and contents), in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(f"{path.relative_to(root).as_posix()}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


# --- file identity: a file recognised without reading it -----------------------------------------
#
# A file's identity is its device, inode, size, mtime and ctime (ns), with the time it was
# recorded. A file whose identity is still the recorded one holds the bytes it held then: every
# change of a file's content through the file system moves its ctime, which no system call can
# set back (utime sets mtime only, and ctime to now), and a file replaced by another (a copy, a
# rename over it, a restore) has another inode or device. On a file system with whole-second
# timestamps a write within the same tick as the last one keeps both times, so there an identity
# is trusted only when it was recorded at least COARSE_MARGIN_NS after the file's last change
# (its ctime): any later write then lands in a later tick. Used by the export's reuse of the
# previous snapshot (warehouse/export_reuse.py) and by the landing index (normalize/reuse.py).

IDENTITY_KEYS = ("device", "inode", "bytes", "mtime_ns", "ctime_ns")
COARSE_MARGIN_NS = 2_000_000_000


def stat_identity(st: os.stat_result) -> dict[str, int]:
    """The identity keys of a stat result (without ``recorded_ns``)."""
    return {"device": st.st_dev, "inode": st.st_ino, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns,
            "ctime_ns": st.st_ctime_ns}


def file_identity(path: Path | str) -> dict[str, int]:
    """The file's identity now, with the time it was recorded (``recorded_ns``)."""
    return {**stat_identity(os.stat(path)), "recorded_ns": time.time_ns()}


def coarse(identity: dict[str, int]) -> bool:
    """The times look like a whole-second file system's (mtime and ctime both whole seconds)."""
    return identity["mtime_ns"] % 1_000_000_000 == 0 and identity["ctime_ns"] % 1_000_000_000 == 0


def settled(identity: dict[str, int]) -> bool:
    """The identity can be trusted later: fine-grained times, or recorded at least
    COARSE_MARGIN_NS after the file's last change."""
    return not coarse(identity) or identity["recorded_ns"] - identity["ctime_ns"] >= COARSE_MARGIN_NS


def identity_problem(recorded: Any, st: os.stat_result) -> str:
    """Why ``st`` cannot be taken as the file whose identity was ``recorded``, unchanged since
    ("" when it can)."""
    if not isinstance(recorded, dict) or any(type(recorded.get(k)) is not int for k in (*IDENTITY_KEYS, "recorded_ns")):
        return "no identity recorded"
    now = stat_identity(st)
    if any(recorded[k] != now[k] for k in IDENTITY_KEYS):
        return "another state of the file"
    if not settled(recorded):
        return "recorded within the timestamp granularity of the file's last change"
    return ""


def identity_matches(recorded: Any, st: os.stat_result) -> bool:
    """``st`` is the file whose identity was recorded, unchanged since."""
    return not identity_problem(recorded, st)


def path_identity_problem(recorded: Any, path: Path | str) -> str:
    """``identity_problem`` for the file at ``path`` (a problem too when it cannot be stat'ed)."""
    try:
        return identity_problem(recorded, os.stat(path))
    except OSError as exc:
        return f"cannot be stat'ed ({exc.strerror})"


def identity_holds(recorded: Any, path: Path | str) -> bool:
    """``identity_matches`` for the file at ``path`` (False when it cannot be stat'ed)."""
    return not path_identity_problem(recorded, path)


def settled_identity(path: Path | str, sha256: str) -> dict[str, int] | None:
    """The identity of a file just written, recorded so that it can be trusted later
    (``settled``), or None when the file is not the one written (its SHA-256 is not ``sha256``)
    or changed meanwhile. With fine-grained times that is the identity now. With whole-second
    times this waits until COARSE_MARGIN_NS after the file's last change, then reads the file
    back: bytes written within the last tick cannot be told apart by their times."""
    identity = file_identity(path)
    if settled(identity):
        return identity
    wait_ns = identity["ctime_ns"] + COARSE_MARGIN_NS - time.time_ns()
    if wait_ns > 0:
        time.sleep(wait_ns / 1e9)
    again = file_identity(path)
    if any(again[k] != identity[k] for k in IDENTITY_KEYS) or file_sha256(path) != sha256:
        return None
    if any(v != identity[k] for k, v in stat_identity(os.stat(path)).items()):
        return None  # changed while it was read
    return again
