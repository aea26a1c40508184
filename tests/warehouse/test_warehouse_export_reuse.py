"""Exports that take unchanged parts over from the previous snapshot.

Whatever an export takes over -- linked-data nodes, content hashes, Parquet partitions -- the
snapshot must be what a from-scratch export of the same warehouse writes (documents byte for
byte, Parquet rows), whatever state the previous snapshot is in, and the previous snapshot is
never modified.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.warehouse.frames import Crawl, make_run, subjects_frame
from warehouse import jsonld
from warehouse.ddl import DIM_CREDENTIAL, ensure_schema
from warehouse.export import ENTITIES, STATE_FILE, export_snapshot, verify_manifest

T1 = datetime(2025, 3, 1, tzinfo=UTC)
T2 = datetime(2025, 3, 8, tzinfo=UTC)
T3 = datetime(2025, 3, 15, tzinfo=UTC)

TITLES = {f"c{i}": f"Course {i}" for i in range(12)}


def first_run():
    return make_run(T1, {"coursera": Crawl("r1", titles=TITLES),
                         "edx": Crawl("e1", titles={"x1": "Python!", "x2": "Rust"}, credential_of={"x1": "cred-c1"})},
                    subjects=subjects_frame())


def second_run():
    """coursera again: c3 renamed, c4 gone, c20 new; edx does not run."""
    titles = {k: v for k, v in TITLES.items() if k != "c4"} | {"c3": "Course 3 (2025)", "c20": "Course 20"}
    return make_run(T2, {"coursera": Crawl("r2", titles=titles)})


def fingerprint_tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def entity_rows(folder: Path, entity) -> pl.DataFrame:
    if entity.partition_by:
        frame = pl.read_parquet(folder / entity.name, hive_partitioning=True)
    else:
        frame = pl.read_parquet(folder / f"{entity.name}.parquet")
    frame = frame.select(sorted(frame.columns))
    sortable = [c for c, t in frame.schema.items() if not isinstance(t, (pl.List, pl.Struct))]
    return frame.sort(sortable, nulls_last=True)


def assert_same_snapshot(reused: Path, scratch: Path) -> None:
    """``reused`` holds what a from-scratch export (``scratch``) of the same warehouse holds."""
    for relative in (jsonld.CTDL_FILE, jsonld.OB_FILE, jsonld.DOCUMENT_INDEX):
        assert (reused / relative).read_bytes() == (scratch / relative).read_bytes(), relative
    for entity in ENTITIES:
        assert_frame_equal(entity_rows(reused, entity), entity_rows(scratch, entity))
    state = [pl.read_parquet(folder / STATE_FILE) for folder in (reused, scratch)]
    assert_frame_equal(state[0], state[1])
    assert verify_manifest(reused) == [] and verify_manifest(scratch) == []


@pytest.fixture
def two_snapshots(warehouse, tmp_path: Path):
    """s1 of the first run, then the second run loaded and s2 exported from s1."""
    root = tmp_path / "exports"
    warehouse.load(first_run())
    export_snapshot(warehouse.published, root, "s1")
    before = fingerprint_tree(root / "s1")
    warehouse.load(second_run())
    manifest = export_snapshot(warehouse.published, root, "s2")
    return warehouse, root, manifest, before


def test_incremental_snapshot_equals_a_from_scratch_export(two_snapshots, tmp_path: Path) -> None:
    warehouse, root, manifest, before = two_snapshots
    reuse = manifest["reuse"]
    assert reuse["previous"] == "s1"
    assert reuse["documents"]["mode"] == "spliced" and reuse["documents"]["taken_over"] > 0
    assert 0 < reuse["content_hashes_kept"] < manifest["entities"]["credentials"]["rows"]
    scratch = export_snapshot(warehouse.published, tmp_path / "scratch", "s2", previous=None)
    assert scratch["reuse"]["documents"]["mode"] == "generated"
    assert scratch["changes"]["upserts"] == manifest["entities"]["credentials"]["rows"]
    assert_same_snapshot(root / "s2", tmp_path / "scratch" / "s2")
    assert fingerprint_tree(root / "s1") == before  # the previous snapshot is untouched


def test_documents_list_credentials_in_credential_id_order(two_snapshots) -> None:
    _, root, _, _ = two_snapshots
    ids = pl.read_parquet(root / "s2" / jsonld.DOCUMENT_INDEX)["credential_id"].to_list()
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    ctids = [n["ceterms:ctid"] for n in json.loads((root / "s2" / jsonld.CTDL_FILE).read_text())["@graph"]]
    assert ctids == ["ce-" + jsonld.credential_uuid(i) for i in ids]
    lines = (root / "s2" / jsonld.CTDL_FILE).read_text().splitlines()
    assert len(lines) == len(ids) + 2  # header, one node per line, footer
    lengths = pl.read_parquet(root / "s2" / jsonld.DOCUMENT_INDEX)["ctdl_bytes"].to_list()
    assert [len(line.removesuffix(",").encode()) for line in lines[1:-1]] == lengths


def test_a_third_snapshot_without_changes_takes_everything_over(two_snapshots) -> None:
    warehouse, root, _, _ = two_snapshots
    third = export_snapshot(warehouse.published, root, "s3")
    credentials = third["entities"]["credentials"]["rows"]
    assert third["reuse"]["documents"]["taken_over"] == credentials
    assert third["reuse"]["content_hashes_kept"] == credentials
    assert third["changes"]["upserts"] == third["changes"]["deletes"] == 0
    for relative in (jsonld.CTDL_FILE, jsonld.OB_FILE):
        assert (root / "s3" / relative).read_bytes() == (root / "s2" / relative).read_bytes()


def _second_export_with(warehouse, tmp_path: Path, damage) -> tuple[dict, Path]:
    root = tmp_path / "exports"
    warehouse.load(first_run())
    export_snapshot(warehouse.published, root, "s1")
    warehouse.load(second_run())
    damage(root / "s1")
    manifest = export_snapshot(warehouse.published, root, "s2")
    scratch = tmp_path / "scratch"
    export_snapshot(warehouse.published, scratch, "s2", previous=None)
    assert_same_snapshot(root / "s2", scratch / "s2")
    return manifest, root


def _flip_a_byte(path: Path, offset: int) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset] = ord("X") if data[offset] != ord("X") else ord("Y")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("document", [jsonld.CTDL_FILE, jsonld.OB_FILE])
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_damaged_previous_document_gives_a_full_generation(warehouse, tmp_path: Path, document: str,
                                                             where: str) -> None:
    def damage(folder: Path) -> None:
        path = folder / document
        size = path.stat().st_size
        _flip_a_byte(path, {"start": 60, "middle": size // 2, "end": size - 3}[where])

    manifest, _ = _second_export_with(warehouse, tmp_path, damage)
    assert manifest["reuse"]["documents"]["mode"] == "generated"
    assert "damaged" in manifest["reuse"]["documents"]["fallback"]


@pytest.mark.parametrize("damage, reason", [
    (lambda f: (f / jsonld.CTDL_FILE).unlink(), "missing"),
    (lambda f: (f / jsonld.OB_FILE).write_bytes((f / jsonld.OB_FILE).read_bytes()[:-10]), "missing"),
    (lambda f: (f / jsonld.DOCUMENT_INDEX).unlink(), "no intact document index"),
    (lambda f: (f / "manifest.json").unlink(), "no previous snapshot"),
    (lambda f: (f / "manifest.json").write_text("{not json"), "no previous snapshot"),
])
def test_a_missing_or_broken_previous_snapshot_gives_a_full_generation(warehouse, tmp_path: Path, damage,
                                                                       reason: str) -> None:
    manifest, _ = _second_export_with(warehouse, tmp_path, damage)
    documents = manifest["reuse"]["documents"]
    assert documents["mode"] == "generated" and reason in documents["fallback"]


def test_a_foreign_index_listed_in_the_manifest_gives_a_full_generation(warehouse, tmp_path: Path) -> None:
    """An index that is intact (its sha256 is the manifest's) but not an index credcat wrote."""
    def damage(folder: Path) -> None:
        path = folder / jsonld.DOCUMENT_INDEX
        pl.DataFrame({"credential_id": ["b", "a"], "digest_a": [1, 2]}).write_parquet(path)
        manifest = json.loads((folder / "manifest.json").read_text())
        for entry in manifest["files"]:
            if entry["path"] == jsonld.DOCUMENT_INDEX:
                entry.update(bytes=path.stat().st_size, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
        (folder / "manifest.json").write_text(json.dumps(manifest))

    manifest, _ = _second_export_with(warehouse, tmp_path, damage)
    assert manifest["reuse"]["documents"]["mode"] == "generated"


def test_a_previous_snapshot_of_another_generator_is_not_reused(warehouse, tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "exports"
    warehouse.load(first_run())
    monkeypatch.setattr(jsonld, "INDEX_VERSION", "0-older")
    export_snapshot(warehouse.published, root, "s1")
    monkeypatch.undo()
    warehouse.load(second_run())
    manifest = export_snapshot(warehouse.published, root, "s2")
    assert manifest["reuse"]["documents"]["fallback"] == "the previous documents were made by another generator"


def test_a_foreign_previous_snapshot_only_gives_identical_nodes(tmp_path: Path) -> None:
    """The previous snapshot is of another warehouse: only nodes with the same inputs are taken."""
    from tests.warehouse.conftest import Warehouse

    other, mine = Warehouse(tmp_path / "other"), Warehouse(tmp_path / "mine")
    (tmp_path / "other").mkdir()
    (tmp_path / "mine").mkdir()
    other.load(make_run(T1, {"coursera": Crawl("r1", titles={"c1": "Course 1", "c2": "Another title"})},
                        subjects=subjects_frame()))
    mine.load(first_run())
    export_snapshot(other.published, tmp_path / "exports", "foreign")
    manifest = export_snapshot(mine.published, tmp_path / "exports", "s1", previous=tmp_path / "exports" / "foreign")
    export_snapshot(mine.published, tmp_path / "scratch", "s1", previous=None)
    assert_same_snapshot(tmp_path / "exports" / "s1", tmp_path / "scratch" / "s1")
    assert manifest["reuse"]["documents"]["taken_over"] <= 1


# --- digests: what hash() alone would not tell apart -------------------------------------------


_ROW = ("INSERT INTO {t} (credential_id, title, platforms, skills, isced_codes, price_usd_min, field_sources) "
        "SELECT 'cred-' || i, 'Course ' || i, ['Coursera'], [], [], {price}, '{{}}' FROM range({a}, {b}) t(i)")


def _one_credential_warehouse(path: Path, price: str = "0.0") -> None:
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    ensure_schema(con)
    con.execute(_ROW.format(t=DIM_CREDENTIAL.qualified, price=price, a=0, b=20))
    con.close()


_RENEW = f"DELETE FROM {DIM_CREDENTIAL.qualified} WHERE credential_id = 'cred-3'; " + \
    _ROW.format(t=DIM_CREDENTIAL.qualified, price="-(0.0::DOUBLE)", a=3, b=4)  # UPDATE 0.0 -> -0.0 does nothing


@pytest.mark.parametrize("change", [
    "skills = [NULL]", "skills = NULL", "isced_codes = [NULL]", "price_usd_min = NULL", "title = NULL",
    "description = ''", "platforms = ['Coursera', NULL]", "platforms = ['coursera']", _RENEW,
])
def test_a_change_hash_alone_misses_is_seen(tmp_path: Path, change: str) -> None:
    """DuckDB's hash() gives NULL, [] and [NULL] one value and -0.0 the value of 0.0; the
    digests must still see these changes (the documents differ), both for the nodes and for
    the content hash of the change feed."""
    db = tmp_path / "w.duckdb"
    _one_credential_warehouse(db)
    export_snapshot(db, tmp_path / "exports", "s1")
    con = duckdb.connect(str(db))
    con.execute(change if change.startswith("DELETE") else
                f"UPDATE {DIM_CREDENTIAL.qualified} SET {change} WHERE credential_id = 'cred-3'")
    con.close()
    manifest = export_snapshot(db, tmp_path / "exports", "s2")
    export_snapshot(db, tmp_path / "scratch", "s2", previous=None)
    assert manifest["reuse"]["documents"]["taken_over"] in (19, 20)
    assert manifest["changes"]["upserts"] == 1  # the content hash saw it
    for relative in (jsonld.CTDL_FILE, jsonld.OB_FILE, jsonld.DOCUMENT_INDEX):
        assert (tmp_path / "exports" / "s2" / relative).read_bytes() == \
            (tmp_path / "scratch" / "s2" / relative).read_bytes(), relative


def _digests_of_variants(tmp_path: Path, variants: list[str]) -> tuple[list, list]:
    """The document digest and the content digest of cred-3 after each UPDATE."""
    from warehouse.export import _content_digest_sql

    documents, contents = [], []
    content_a, content_b = _content_digest_sql()
    for n, variant in enumerate(variants):  # a fresh warehouse each (UPDATE 0.0 -> -0.0 changes nothing)
        db = tmp_path / f"d{n}.duckdb"
        _one_credential_warehouse(db, price="10.0")
        con = duckdb.connect(str(db))
        con.execute(f"UPDATE {DIM_CREDENTIAL.qualified} SET {variant} WHERE credential_id = 'cred-3'")
        jsonld.prepare(con)
        documents.append(con.execute(f"SELECT _digest_a, _digest_b FROM ({jsonld.digests_sql()}) "
                                     "WHERE credential_id = 'cred-3'").fetchall())
        contents.append(con.execute(f"SELECT {content_a}, {content_b} FROM {DIM_CREDENTIAL.qualified} "
                                    "WHERE credential_id = 'cred-3'").fetchall())
        con.close()
    return documents, contents


@pytest.mark.parametrize("column", ["skills", "isced_codes", "platforms"])
def test_digests_tell_null_empty_and_null_element_lists_apart(tmp_path: Path, column: str) -> None:
    values = ["NULL", "[]", "[NULL]", "[NULL, NULL]", "['']"]
    documents, contents = _digests_of_variants(tmp_path, [f"{column} = {v}" for v in values])
    assert len({str(d) for d in documents}) == len(values)
    assert len({str(c) for c in contents}) == len(values)


@pytest.mark.parametrize("column", ["price_usd_min", "duration_weeks_min", "workload_hours_max"])
def test_digests_tell_the_sign_of_zero(tmp_path: Path, column: str) -> None:
    values = ["0.0", "-(0.0::DOUBLE)", "NULL"]
    documents, contents = _digests_of_variants(tmp_path, [f"{column} = {v}" for v in values])
    assert len({str(d) for d in documents}) == len(values)
    assert len({str(c) for c in contents}) == len(values)


def test_a_shared_fragment_change_regenerates_the_credentials_using_it(tmp_path: Path) -> None:
    """An organization's spelling comes from all credentials: a new credential spelling it
    first changes the offeredBy of the others, which are then generated again."""
    db = tmp_path / "w.duckdb"
    _one_credential_warehouse(db)
    export_snapshot(db, tmp_path / "exports", "s1")
    con = duckdb.connect(str(db))
    con.execute(f"INSERT INTO {DIM_CREDENTIAL.qualified} (credential_id, title, platforms, skills, isced_codes) "
                "VALUES ('cred-new', 'New', ['COURSERA'], [], [])")  # 'COURSERA' < 'Coursera'
    con.close()
    manifest = export_snapshot(db, tmp_path / "exports", "s2")
    export_snapshot(db, tmp_path / "scratch", "s2", previous=None)
    assert manifest["reuse"]["documents"]["mode"] == "generated"  # everything changed
    assert (tmp_path / "exports" / "s2" / jsonld.CTDL_FILE).read_bytes() == \
        (tmp_path / "scratch" / "s2" / jsonld.CTDL_FILE).read_bytes()
    assert b'"ceterms:name":{"en":"COURSERA"}' in (tmp_path / "exports" / "s2" / jsonld.CTDL_FILE).read_bytes()


def test_documents_are_deterministic_beyond_one_row_group(tmp_path: Path) -> None:
    """More credentials than one DuckDB row group (122,880): the documents come out in
    credential_id order (built straight from the joins, their order varied between runs), and
    a splice over many batches gives the bytes of a full generation, index included."""
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    ensure_schema(con)
    levels = "['BeginnerLevel', 'AdvancedLevel', 'GraduateLevel', 'ProfessionalLevel', NULL]"
    con.execute(
        f"INSERT INTO {DIM_CREDENTIAL.qualified} (credential_id, title, awarding_body, platforms, skills, "
        "isced_codes, audience_level, modality, credential_type) "
        "SELECT 'cred-' || (i * 7919 % 250000), 'Course ' || i, 'Body ' || (i % 50), "
        "[['Coursera', 'edX', 'Udemy'][i % 3 + 1]], ['http://data.europa.eu/esco/skill/s' || (i % 9)], "
        "[lpad(((i % 40) * 10)::VARCHAR, 4, '0')], "
        f"{levels}[i % 5 + 1], ['OnlineOnly', 'InPerson', NULL][i % 3 + 1], "
        "['Certificate', 'Badge', NULL][i % 3 + 1] FROM range(250000) t(i)")
    con.close()
    root = tmp_path / "exports"
    export_snapshot(db, root, "s1")
    ids = pl.read_parquet(root / "s1" / jsonld.DOCUMENT_INDEX)["credential_id"].to_list()
    assert ids == sorted(ids) and len(ids) == 250000
    con = duckdb.connect(str(db))
    con.execute(f"UPDATE {DIM_CREDENTIAL.qualified} SET title = title || ' (new)' WHERE hash(credential_id) % 100 = 0")
    con.execute(f"DELETE FROM {DIM_CREDENTIAL.qualified} WHERE hash(credential_id) % 100 = 1")
    con.close()
    manifest = export_snapshot(db, root, "s2")
    assert manifest["reuse"]["documents"]["mode"] == "spliced"
    export_snapshot(db, tmp_path / "scratch", "s2", previous=None)
    for relative in (jsonld.CTDL_FILE, jsonld.OB_FILE, jsonld.DOCUMENT_INDEX):
        assert (root / "s2" / relative).read_bytes() == (tmp_path / "scratch" / "s2" / relative).read_bytes()


# --- Parquet partitions and the previous snapshot ----------------------------------------------


def test_partitions_of_a_source_not_crawled_since_are_linked(two_snapshots, tmp_path: Path) -> None:
    warehouse, root, manifest, _ = two_snapshots
    linked = manifest["reuse"]["parquet_files"]
    assert linked == {"offerings": ["offerings/source=edx/data_0.parquet"],
                      "offering_versions": ["offering_versions/source=edx/data_0.parquet"]}
    for relative in linked["offerings"] + linked["offering_versions"]:
        assert os.stat(root / "s1" / relative).st_ino == os.stat(root / "s2" / relative).st_ino
        entry = next(f for f in manifest["files"] if f["path"] == relative)
        assert entry["reused_from"] == "s1"
    for relative in ("offerings/source=coursera/data_0.parquet", "credentials.parquet"):
        assert os.stat(root / "s1" / relative).st_ino != os.stat(root / "s2" / relative).st_ino


def test_a_source_not_crawled_whose_rows_changed_is_written(warehouse, tmp_path: Path) -> None:
    """edx does not run, but its offering x1 now belongs to another credential (a coursera
    record moved): its partition differs and is written anew."""
    root = tmp_path / "exports"
    warehouse.load(first_run())
    export_snapshot(warehouse.published, root, "s1")
    con = duckdb.connect(str(warehouse.published))
    con.execute("UPDATE marts.fct_offering SET credential_id = 'cred-c2' WHERE source = 'edx' AND source_key = 'x1'")
    con.close()
    manifest = export_snapshot(warehouse.published, root, "s2")
    assert manifest["reuse"]["parquet_files"]["offerings"] == ["offerings/source=coursera/data_0.parquet"]
    export_snapshot(warehouse.published, tmp_path / "scratch", "s2", previous=None)
    assert_same_snapshot(root / "s2", tmp_path / "scratch" / "s2")


def test_verify_sees_a_linked_file_written_in_place(two_snapshots) -> None:
    """A linked file is one file in two snapshots: writing into it (which no credcat code does)
    breaks both, and verify_manifest says so."""
    _, root, manifest, _ = two_snapshots
    relative = manifest["reuse"]["parquet_files"]["offerings"][0]
    _flip_a_byte(root / "s2" / relative, 10)
    assert any(p.startswith(f"{relative}: sha256") for p in verify_manifest(root / "s2"))
    assert any(p.startswith(f"{relative}: sha256") for p in verify_manifest(root / "s1"))


def test_a_previous_state_that_does_not_match_its_manifest_is_not_trusted(warehouse, tmp_path: Path) -> None:
    def damage(folder: Path) -> None:
        state = pl.read_parquet(folder / STATE_FILE).with_columns(content_hash=pl.lit("0" * 32))
        os.chmod(folder / "changes", 0o755)
        state.write_parquet(folder / STATE_FILE)

    manifest, _ = _second_export_with(warehouse, tmp_path, damage)
    assert manifest["reuse"]["content_hashes_kept"] == 0


def test_the_previous_snapshot_folder_keeps_its_bytes_when_copied_elsewhere(two_snapshots, tmp_path: Path) -> None:
    """A snapshot copied (not linked) to another exports root is used the same way."""
    warehouse, root, _, _ = two_snapshots
    other = tmp_path / "copy"
    shutil.copytree(root / "s2", other / "s2")
    manifest = export_snapshot(warehouse.published, other, "s3")
    assert manifest["reuse"]["previous"] == "s2" and manifest["reuse"]["documents"]["mode"] == "spliced"
    assert verify_manifest(other / "s3") == []


# --- offering_versions: closed history written once ----------------------------------------------


def third_run():
    """coursera again: c5 renamed, c6 gone (two more versions close)."""
    titles = {k: v for k, v in TITLES.items() if k not in ("c4", "c6")} | {
        "c3": "Course 3 (2025)", "c20": "Course 20", "c5": "Course 5 (new)"}
    return make_run(T3, {"coursera": Crawl("r3", titles=titles)})


C2 = "closed-20250308T000000000000Z.parquet"  # closed at T2
C3 = "closed-20250315T000000000000Z.parquet"  # closed at T3


def version_files(manifest: dict, source: str = "coursera") -> dict[str, dict]:
    prefix = f"offering_versions/source={source}/"
    return {f["path"].removeprefix(prefix): f for f in manifest["files"] if f["path"].startswith(prefix)}


def test_closed_versions_are_written_once_and_linked_after(two_snapshots, tmp_path: Path) -> None:
    warehouse, root, second, _ = two_snapshots
    files = version_files(second)
    assert set(files) == {"data_0.parquet", C2}
    closed = pl.read_parquet(root / "s2" / "offering_versions" / "source=coursera" / C2)
    current = pl.read_parquet(root / "s2" / "offering_versions" / "source=coursera" / "data_0.parquet")
    assert closed.height == files[C2]["rows"] == 2  # c3's first title, c4
    assert not closed["is_current"].any() and current["is_current"].all()

    warehouse.load(third_run())
    third = export_snapshot(warehouse.published, root, "s3")
    files = version_files(third)
    assert set(files) == {"data_0.parquet", C2, C3}
    assert files[C2]["reused_from"] == "s2"
    assert files[C3]["rows"] == 2  # c5's first title, c6
    folder = "offering_versions/source=coursera"
    assert os.stat(root / "s2" / folder / C2).st_ino == \
        os.stat(root / "s3" / folder / C2).st_ino
    assert f"offering_versions/source=coursera/{C2}" in third["reuse"]["parquet_files"]["offering_versions"]
    scratch = export_snapshot(warehouse.published, tmp_path / "scratch", "s3", previous=None)
    assert set(version_files(scratch)) == {"data_0.parquet", C3}  # all closed rows in one
    assert_same_snapshot(root / "s3", tmp_path / "scratch" / "s3")


def test_closed_versions_that_changed_in_the_warehouse_are_written_again(two_snapshots, tmp_path: Path) -> None:
    """Closed versions never change in a load; if they did (here by hand), the digest sees it
    and all closed rows are written again."""
    warehouse, root, _, _ = two_snapshots
    warehouse.load(third_run())
    con = duckdb.connect(str(warehouse.published))
    con.execute("UPDATE marts.offering_versions SET title = 'edited' WHERE NOT is_current AND source_key = 'c4'")
    con.close()
    third = export_snapshot(warehouse.published, root, "s3")
    files = version_files(third)
    assert set(files) == {"data_0.parquet", C3} and files[C3]["rows"] == 4
    assert "reused_from" not in files[C3]
    export_snapshot(warehouse.published, tmp_path / "scratch", "s3", previous=None)
    assert_same_snapshot(root / "s3", tmp_path / "scratch" / "s3")


def test_closed_version_files_are_merged_beyond_the_limit(two_snapshots, tmp_path: Path, monkeypatch) -> None:
    from warehouse import export as export_module

    warehouse, root, _, _ = two_snapshots
    monkeypatch.setattr(export_module, "MAX_CLOSED_FILES", 1)
    warehouse.load(third_run())
    third = export_snapshot(warehouse.published, root, "s3")
    assert set(version_files(third)) == {"data_0.parquet", C3}
    assert version_files(third)[C3]["rows"] == 4


@pytest.mark.parametrize("damage", ["longer", "flipped"])
def test_a_damaged_closed_version_file_is_not_linked(two_snapshots, tmp_path: Path, damage: str) -> None:
    warehouse, root, _, _ = two_snapshots
    path = root / "s2" / "offering_versions" / "source=coursera" / C2
    if damage == "longer":
        path.write_bytes(path.read_bytes() + b"x")  # its size no longer the manifest's
    else:
        _flip_a_byte(path, path.stat().st_size // 2)  # same size, another sha256
    warehouse.load(third_run())
    third = export_snapshot(warehouse.published, root, "s3")
    assert set(version_files(third)) == {"data_0.parquet", C3}
    export_snapshot(warehouse.published, tmp_path / "scratch", "s3", previous=None)
    assert_same_snapshot(root / "s3", tmp_path / "scratch" / "s3")


def test_the_same_warehouse_exported_from_scratch_gives_the_same_files(two_snapshots, tmp_path: Path) -> None:
    """Closed-history files are named by their latest closing time, not by the snapshot."""
    warehouse, _, _, _ = two_snapshots
    a = export_snapshot(warehouse.published, tmp_path / "a", "x", previous=None)
    b = export_snapshot(warehouse.published, tmp_path / "b", "y", previous=None)
    assert {f["path"]: f["sha256"] for f in a["files"]} == {f["path"]: f["sha256"] for f in b["files"]}
    assert {d["path"]: d["sha256"] for d in a["documents"]} == {d["path"]: d["sha256"] for d in b["documents"]}
