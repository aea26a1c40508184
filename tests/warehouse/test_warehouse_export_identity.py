"""Previous snapshot files recognised by the identity their manifest recorded instead of hashed.

An export records per file the identity it had when written or linked (device, inode, size,
mtime, ctime). The next export takes a previous file whose identity is unchanged as the bytes
its sha256 was computed from (no second read and hash); a file written in place -- even with
its mtime set back -- or copied elsewhere has another identity and is hashed as before.
verify_manifest still reads and hashes everything.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from normalize.digests import COARSE_MARGIN_NS, file_identity, identity_matches
from tests.warehouse.test_warehouse_export_reuse import (
    C2,
    _second_export_with,
    assert_same_snapshot,
    first_run,
    second_run,
    third_run,
    version_files,
)
from warehouse import jsonld
from warehouse.export import export_snapshot, verify_manifest
from warehouse.export_reuse import PreviousDamaged, SequentialSource

DOCUMENTS = (jsonld.CTDL_FILE, jsonld.OB_FILE)


@pytest.fixture
def two_snapshots(warehouse, tmp_path: Path):
    """s1 of the first run, then the second run loaded and s2 exported from s1."""
    root = tmp_path / "exports"
    warehouse.load(first_run())
    export_snapshot(warehouse.published, root, "s1")
    warehouse.load(second_run())
    manifest = export_snapshot(warehouse.published, root, "s2")
    return warehouse, root, manifest, None


def _write_in_place_keeping_mtime(path: Path, offset: int) -> None:
    """Change one byte inside the file (same inode, same size) and set its mtime back."""
    st = os.stat(path)
    os.chmod(path, 0o644)
    with path.open("r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(b"X" if byte != b"X" else b"Y")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns and os.stat(path).st_ino == st.st_ino


def test_every_file_and_document_has_its_identity_in_the_manifest(two_snapshots) -> None:
    _, root, manifest, _ = two_snapshots
    for entry in manifest["files"] + manifest["documents"]:
        st = os.stat(root / "s2" / entry["path"])
        identity = entry["identity"]
        assert (identity["inode"], identity["bytes"], identity["mtime_ns"]) == (st.st_ino, st.st_size, st.st_mtime_ns)
        assert identity["bytes"] == entry["bytes"]


def test_previous_documents_with_their_identity_are_read_without_hashing(two_snapshots, tmp_path: Path,
                                                                           monkeypatch) -> None:
    warehouse, root, manifest, _ = two_snapshots
    assert manifest["reuse"]["documents"]["previous_read"] == {d: "identity" for d in DOCUMENTS}
    # and a third snapshot does not hash s2's documents either (sha256 of a previous file would
    # go through SequentialSource's digest, which a trusted source does not have)
    hashed: list[str] = []
    original = SequentialSource.__init__

    def spy(self, path, *args, **kwargs):
        original(self, path, *args, **kwargs)
        if not self.trusted:
            hashed.append(str(path))

    monkeypatch.setattr(SequentialSource, "__init__", spy)
    warehouse.load(third_run())
    third = export_snapshot(warehouse.published, root, "s3")
    assert hashed == [] and third["reuse"]["documents"]["mode"] == "spliced"
    export_snapshot(warehouse.published, tmp_path / "scratch", "s3", previous=None)
    assert_same_snapshot(root / "s3", tmp_path / "scratch" / "s3")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_a_document_written_in_place_with_its_mtime_set_back_is_hashed_and_not_used(
        warehouse, tmp_path: Path, document: str) -> None:
    """ctime changes with every write and cannot be set back: the identity no longer holds, so
    the document is hashed, found damaged, and everything is generated (the same bytes as from
    scratch, checked by _second_export_with)."""
    def damage(folder: Path) -> None:
        path = folder / document
        _write_in_place_keeping_mtime(path, path.stat().st_size // 2)

    manifest, _ = _second_export_with(warehouse, tmp_path, damage)
    assert manifest["reuse"]["documents"]["mode"] == "generated"
    assert "damaged" in manifest["reuse"]["documents"]["fallback"]


def test_verify_still_hashes_a_document_whose_identity_was_faked(two_snapshots) -> None:
    _, root, _, _ = two_snapshots
    _write_in_place_keeping_mtime(root / "s2" / jsonld.OB_FILE, 5)
    assert any(p.startswith(f"{jsonld.OB_FILE}: sha256") for p in verify_manifest(root / "s2"))


def test_a_previous_snapshot_copied_elsewhere_is_hashed(two_snapshots, tmp_path: Path) -> None:
    """A copy has other inodes: nothing is trusted by identity, the documents are hashed while
    copied (and still spliced: their sha256 is the manifest's)."""
    warehouse, root, _, _ = two_snapshots
    other = tmp_path / "copy"
    shutil.copytree(root / "s2", other / "s2")
    manifest = export_snapshot(warehouse.published, other, "s3")
    assert manifest["reuse"]["documents"]["mode"] == "spliced"
    assert manifest["reuse"]["documents"]["previous_read"] == {d: "sha256" for d in DOCUMENTS}
    assert verify_manifest(other / "s3") == []


def test_a_closed_version_file_written_in_place_with_its_mtime_set_back_is_not_linked(
        two_snapshots, tmp_path: Path) -> None:
    warehouse, root, _, _ = two_snapshots
    path = root / "s2" / "offering_versions" / "source=coursera" / C2
    _write_in_place_keeping_mtime(path, path.stat().st_size // 2)
    warehouse.load(third_run())
    third = export_snapshot(warehouse.published, root, "s3")
    assert C2 not in version_files(third)  # all closed rows written again, in one new file
    export_snapshot(warehouse.published, tmp_path / "scratch", "s3", previous=None)
    assert_same_snapshot(root / "s3", tmp_path / "scratch" / "s3")


def test_an_intact_closed_version_file_is_linked_by_identity(two_snapshots, tmp_path: Path, monkeypatch) -> None:
    from warehouse import export_reuse

    warehouse, root, _, _ = two_snapshots
    hashed: list[str] = []
    original = export_reuse.file_sha256
    monkeypatch.setattr(export_reuse, "file_sha256", lambda p: hashed.append(str(p)) or original(p))
    warehouse.load(third_run())
    third = export_snapshot(warehouse.published, root, "s3")
    assert version_files(third)[C2]["reused_from"] == "s2"
    assert not [p for p in hashed if "/s2/" in p]  # no file of s2 was hashed
    assert verify_manifest(root / "s3") == []


def _stat(**overrides: int) -> SimpleNamespace:
    values = {"st_dev": 1, "st_ino": 2, "st_size": 3, "st_mtime_ns": 1_700_000_000_123_456_789,
              "st_ctime_ns": 1_700_000_000_123_456_789} | overrides
    return SimpleNamespace(**values)


def _recorded(st: SimpleNamespace, after_ns: int) -> dict[str, int]:
    return {"device": st.st_dev, "inode": st.st_ino, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns,
            "ctime_ns": st.st_ctime_ns, "recorded_ns": st.st_ctime_ns + after_ns}


def test_identity_matches_only_the_same_file_unchanged() -> None:
    st = _stat()
    recorded = _recorded(st, 1_000)
    assert identity_matches(recorded, st)
    for change in ({"st_ino": 9}, {"st_dev": 9}, {"st_size": 4}, {"st_mtime_ns": st.st_mtime_ns + 1},
                   {"st_ctime_ns": st.st_ctime_ns + 1}):
        assert not identity_matches(recorded, _stat(**change)), change
    assert not identity_matches(None, st)
    assert not identity_matches({**recorded, "inode": "2"}, st)  # not an identity credcat wrote
    assert not identity_matches({k: v for k, v in recorded.items() if k != "recorded_ns"}, st)


def test_whole_second_timestamps_are_trusted_only_when_old_enough() -> None:
    """On a file system with whole-second timestamps, a write in the same second as the last
    one keeps them: such an identity is only trusted if recorded well after the last change."""
    st = _stat(st_mtime_ns=1_700_000_000_000_000_000, st_ctime_ns=1_700_000_001_000_000_000)
    assert not identity_matches(_recorded(st, 1_000), st)
    assert identity_matches(_recorded(st, COARSE_MARGIN_NS), st)


def test_a_trusted_source_copies_ranges_and_sees_a_change_during_the_read(tmp_path: Path) -> None:
    path = tmp_path / "doc"
    path.write_bytes(bytes(range(256)) * 64)
    size = path.stat().st_size
    identity = file_identity(path)
    identity["recorded_ns"] = identity["ctime_ns"] + COARSE_MARGIN_NS
    source = SequentialSource(path, "not-the-sha256", size, block=100, identity=identity)
    assert source.trusted  # so the wrong sha256 is never computed nor compared
    out = bytearray()
    source.copy(10, 20, out.extend)
    source.copy(300, 1000, out.extend)
    source.finish()
    assert bytes(out) == path.read_bytes()[10:20] + path.read_bytes()[300:1000]

    source = SequentialSource(path, "not-the-sha256", size, identity=identity)
    source.copy(0, 10, bytearray().extend)
    with path.open("r+b") as fh:  # written meanwhile
        fh.write(b"x")
    with pytest.raises(PreviousDamaged):
        source.finish()

    untrusted = SequentialSource(path, "not-the-sha256", size, identity=identity)  # identity gone
    assert not untrusted.trusted
    with pytest.raises(PreviousDamaged):
        untrusted.finish()


def test_a_file_taken_over_is_copied_where_hard_links_fail(two_snapshots, tmp_path: Path, monkeypatch) -> None:
    """The copy is hashed (it is another file) and must have the previous file's sha256."""
    from warehouse import export_reuse

    def no_links(source, target):
        raise OSError("this file system has no hard links")

    warehouse, root, _, _ = two_snapshots
    monkeypatch.setattr(export_reuse.os, "link", no_links)
    warehouse.load(third_run())
    third = export_snapshot(warehouse.published, root, "s3")
    monkeypatch.undo()
    folder = "offering_versions/source=coursera"
    assert version_files(third)[C2]["reused_from"] == "s2"
    assert os.stat(root / "s3" / folder / C2).st_ino != os.stat(root / "s2" / folder / C2).st_ino
    assert version_files(third)[C2]["identity"]["inode"] == os.stat(root / "s3" / folder / C2).st_ino
    export_snapshot(warehouse.published, tmp_path / "scratch", "s3", previous=None)
    assert_same_snapshot(root / "s3", tmp_path / "scratch" / "s3")
