"""What an export may take over from the previous snapshot instead of computing it again.

A snapshot folder is immutable once renamed into place (warehouse/export.py): nothing opens its
files for writing again. The next export may therefore

- hard-link a Parquet file whose rows it would write unchanged (a partition of a source that
  was not crawled since), after checking that the rows are the same (``rows_digest_sql`` on
  both sides: the warehouse's rows and the previous file's rows);
- copy the nodes of the linked-data documents whose inputs did not change (warehouse/jsonld.py,
  ``changes/document_index.parquet``);
- keep the ``content_hash`` of the credentials whose content did not change (the change feed).

Whatever it takes over is checked first against the previous snapshot's manifest (size and
sha256 of the file it reads), and anything that does not check out -- a missing, damaged or
foreign snapshot, another generator version -- makes the export compute that part from
scratch. ``PreviousSnapshot`` reads the manifest; ``SequentialSource`` hashes a previous file
while copying ranges out of it, so a damaged file is detected by the same read that copies it.

Identity instead of hashing. The manifest records per file its ``identity`` when the export
wrote or linked it (``file_identity``: device, inode, size, mtime and ctime in ns). A previous
file whose identity is still the recorded one is taken as the bytes its sha256 was computed
from, without reading it again (``identity_holds``). That is safe because every change of a
file's content through the file system changes its ctime, which no system call can set back
(utime sets mtime only, and sets ctime to now), and a file replaced by another (a copy, a
restore, a snapshot copied elsewhere) has another inode or device; a file written through the
file system within the timestamp granularity of the recorded ctime cannot be told apart, which
is why a recorded identity is only trusted when its timestamps have sub-second precision or
were at least COARSE_MARGIN_NS old when recorded (on file systems with whole-second
timestamps): the rule of ``normalize.digests``, whose ``file_identity`` and
``identity_matches`` the landing index uses too. Files are recorded in the export's private
staging folder (mode 0700) before it is renamed into place. What identity cannot see is damage below the file system (media errors):
``verify_manifest`` still reads and hashes every file, linked ones included.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from normalize.digests import file_sha256, identity_holds, identity_matches
from warehouse.load import clone_or_copy

MANIFEST = "manifest.json"


def _inside(relative: str) -> bool:
    return bool(relative) and not Path(relative).is_absolute() and ".." not in Path(relative).parts


class PreviousSnapshot:
    """A complete earlier snapshot folder and its manifest (``load`` returns None when the
    folder has no readable manifest)."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.manifest = manifest
        self.name = self.folder.name
        self._files = {str(e.get("path")): e for e in manifest.get("files", []) if isinstance(e, dict)}
        self._documents = {str(e.get("path")): e for e in manifest.get("documents", []) if isinstance(e, dict)}

    @classmethod
    def load(cls, folder: Path | None) -> PreviousSnapshot | None:
        if folder is None:
            return None
        try:
            manifest = json.loads((Path(folder) / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
            return None
        return cls(Path(folder), manifest)

    def file_entry(self, relative: str) -> dict[str, Any] | None:
        """The manifest entry of a Parquet file (``files``)."""
        return self._files.get(relative)

    def document_entry(self, relative: str) -> dict[str, Any] | None:
        """The manifest entry of another document (``documents``)."""
        return self._documents.get(relative)

    def files_of(self, entity: str) -> list[dict[str, Any]]:
        return [e for e in self._files.values() if e.get("entity") == entity]

    def checked_path(self, relative: str, *, document: bool = False, hash_it: bool = True) -> Path | None:
        """The path of a listed file when it is there with the manifest's size and sha256
        (proven by its recorded identity, ``identity_holds``, or else by hashing it, unless
        ``hash_it`` is False: the caller then hashes it while reading it), else None."""
        entry = self.document_entry(relative) if document else self.file_entry(relative)
        if entry is None or not _inside(relative):
            return None
        path = self.folder / relative
        try:
            if not path.is_file() or path.stat().st_size != entry.get("bytes"):
                return None
            if hash_it and not self.unchanged(relative, document=document) and \
                    file_sha256(path) != entry.get("sha256"):
                return None
        except OSError:
            return None
        return path

    def identity(self, relative: str, *, document: bool = False) -> dict[str, Any] | None:
        """The identity the manifest recorded for a file (None: none recorded)."""
        entry = self.document_entry(relative) if document else self.file_entry(relative)
        identity = entry.get("identity") if entry is not None else None
        return identity if isinstance(identity, dict) and identity.get("bytes") == entry.get("bytes") else None

    def unchanged(self, relative: str, *, document: bool = False) -> bool:
        """The file still has the identity the manifest recorded: its bytes are the hashed ones."""
        identity = self.identity(relative, document=document)
        return identity is not None and _inside(relative) and identity_holds(identity, self.folder / relative)

    def source_runs(self) -> set[tuple[str, str]]:
        return {(str(r.get("source")), str(r.get("run_id"))) for r in self.manifest.get("source_runs", [])
                if isinstance(r, dict)}


class PreviousDamaged(Exception):
    """A previous file read for reuse did not hash to its manifest's sha256."""


class SequentialSource:
    """A previous file read once from start to end: every byte goes into a sha256 (checked
    against the manifest by ``finish``), the ranges asked for are handed to a sink as well.
    When the open file has the ``identity`` the manifest recorded (``trusted``), only the
    ranges are read and nothing is hashed; ``finish`` checks the identity again.

    Ranges must come in increasing order and not overlap (the documents are both in
    credential_id order, so the nodes taken over come in file order).
    """

    def __init__(self, path: Path, expected_sha256: str, expected_bytes: int, block: int = 1 << 22,
                 identity: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self._fh = self.path.open("rb")
        self._expected = expected_sha256
        self._size = expected_bytes
        # The file opened is still the one whose identity the manifest recorded: its bytes are
        # the ones hashed then, so only the ranges asked for are read, and none is hashed.
        self._identity = identity
        self.trusted = isinstance(identity, dict) and identity.get("bytes") == expected_bytes and \
            identity_matches(identity, os.fstat(self._fh.fileno()))
        self._digest = None if self.trusted else hashlib.sha256()
        self._pos = 0
        self._buffer = bytearray(block)
        self._view = memoryview(self._buffer)

    def _read(self, end: int, sink: Callable[[memoryview], None] | None) -> None:
        if sink is None and self._digest is None:  # nothing to hash: skip
            self._pos = max(self._pos, end)
            return
        if self._digest is None:
            self._fh.seek(self._pos)
        while self._pos < end:
            n = self._fh.readinto(self._view[:min(len(self._buffer), end - self._pos)])
            if not n:
                raise PreviousDamaged(f"{self.path}: shorter than its manifest says")
            chunk = self._view[:n]
            if self._digest is not None:
                self._digest.update(chunk)
            if sink is not None:
                sink(chunk)
            self._pos += n

    def copy(self, start: int, end: int, sink: Callable[[memoryview], None]) -> None:
        """Hand bytes [start, end) to ``sink`` (the bytes before ``start`` are only hashed)."""
        if start < self._pos or end < start or end > self._size:
            raise PreviousDamaged(f"{self.path}: range {start}-{end} out of order or beyond the file")
        self._read(start, None)
        self._read(end, sink)

    def finish(self) -> None:
        """Hash the rest; raise PreviousDamaged unless the whole file matches the manifest."""
        try:
            if self._digest is None:  # trusted: it must still be the same file after the read
                if not identity_matches(self._identity, os.fstat(self._fh.fileno())):
                    raise PreviousDamaged(f"{self.path}: changed while it was read")
                return
            self._read(self._size, None)
            if self._fh.read(1):
                raise PreviousDamaged(f"{self.path}: longer than its manifest says")
            if self._digest.hexdigest() != self._expected:
                raise PreviousDamaged(f"{self.path}: sha256 differs from the previous manifest")
        finally:
            self.close()

    def close(self) -> None:
        self._fh.close()


def link_or_copy(source: Path, target: Path) -> str:
    """Hard-link ``source`` to ``target`` (a clone or a copy when the file system refuses:
    ``warehouse.load.clone_or_copy``); returns how.

    Safe because snapshot files are never written in place: an export writes only into its own
    staging folder, and a verification reads."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
        return "linked"
    except OSError:
        return clone_or_copy(source, target)


def fingerprint(*parts: str) -> str:
    """sha256 of the texts that decide a derived value (SQL, format constants, versions)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()
