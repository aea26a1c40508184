"""SHA-256 digests of files and of sets of files: what a cache or a reuse check keys its
validity on (code and data files, reference lists, written cache files)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


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
