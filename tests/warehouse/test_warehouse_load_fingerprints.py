"""Raw records loaded by line fingerprint (``RawPayloads``): a re-crawl's unchanged records take
their stored hash from ``ops.raw_record_fingerprints`` and their payloads are never read; the
warehouse holds exactly what a load of the whole raw frames gives."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.warehouse.conftest import Warehouse, assert_same_contents, published_contents
from tests.warehouse.frames import Crawl, make_run
from warehouse import ddl
from warehouse.load import (
    OFFERING_NARROW,
    RAW_NARROW,
    RAW_WITHOUT_PAYLOAD,
    RawPayloads,
    RunInputs,
    fingerprint_scheme,
)
from warehouse.publish import open_readonly

T1 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
NORMALIZER = "normalizer-v1"


def _fingerprints(raw: pl.DataFrame, normalizer: str = NORMALIZER, known: bool = True) -> pl.DataFrame:
    """A stand-in for the landed lines' fingerprints: a hash of the record without its per-run
    columns (the same content gives the same fingerprint, as the lines' bytes do)."""
    content = raw.select(pl.struct(pl.exclude("run_id", "fetched_at")).hash(seed=1).alias("a"),
                         pl.struct(pl.exclude("run_id", "fetched_at")).hash(seed=2).alias("b"))
    return pl.DataFrame({
        "_fp_a": content["a"] if known else pl.Series([None] * raw.height, dtype=pl.UInt64),
        "_fp_b": content["b"] if known else pl.Series([None] * raw.height, dtype=pl.UInt64),
        "_fp_n": pl.Series([len(t or "") for t in raw["title"].to_list()], dtype=pl.UInt32),
        "_fp_scheme": pl.Series([fingerprint_scheme(normalizer)] * raw.height, dtype=pl.String),
    })


class Reads:
    def __init__(self) -> None:
        self.rows: list[int] = []


def _lazy(inputs: RunInputs, reads: Reads, fingerprints: pl.DataFrame | None = None) -> RunInputs:
    raw = inputs.raw

    def fetch(mask: pl.Series) -> pl.Series:
        reads.rows.append(int(mask.sum()))
        return raw.filter(mask).get_column("payload")

    fps = _fingerprints(raw) if fingerprints is None else fingerprints
    return dataclasses.replace(inputs, raw=raw.select(RAW_WITHOUT_PAYLOAD), raw_payloads=RawPayloads(fps, fetch))


def _runs() -> list[RunInputs]:
    titles = {f"c{i}": f"Course {i}" for i in range(40)}
    first = make_run(T1, {"coursera": Crawl("r1", titles=titles, rejected=["bad1"]),
                          "edx": Crawl("e1", titles={"x1": "Data", "x2": "Cloud"})})
    changed = {**{k: v for k, v in titles.items() if k not in ("c3", "c4")}, "c1": "Course 1 (new)", "c40": "Course 40"}
    second = make_run(T1 + timedelta(days=1), {"coursera": Crawl("r2", titles=changed, rejected=["bad1"]),
                                               "edx": Crawl("e2", titles={"x1": "Data", "x2": "Cloud"})})
    third = make_run(T1 + timedelta(days=2), {"coursera": Crawl("r3", titles=changed, rejected=["bad1"])})
    return [first, second, third]


def _fingerprint_rows(path: Path) -> int:
    con = open_readonly(path)
    try:
        return con.execute(f"SELECT count(*) FROM {ddl.RECORD_FINGERPRINTS.qualified}").fetchone()[0]
    finally:
        con.close()


def test_loading_by_fingerprint_equals_loading_whole_raw_frames(tmp_path: Path) -> None:
    plain, lazy = Warehouse(tmp_path / "plain"), Warehouse(tmp_path / "lazy")
    (tmp_path / "plain").mkdir()
    (tmp_path / "lazy").mkdir()
    reads = Reads()
    payload_reads = []
    for inputs in _runs():
        plain.load(inputs)
        before = len(reads.rows)
        stats = lazy.load(_lazy(inputs, reads))
        payload_reads.append(sum(reads.rows[before:]))
        assert stats["raw_payloads_read"] == payload_reads[-1]
        assert_same_contents(published_contents(plain.published), published_contents(lazy.published))
    # First run: every payload read (41 coursera records, one a reject, and 2 edx). Second: the
    # two changed or new records. Third: the same records again under a new run id: none.
    assert payload_reads == [41 + 2, 2, 0]
    assert _fingerprint_rows(lazy.published) == 41 + 2 + 2


def test_unknown_fingerprints_a_new_scheme_and_a_lost_content_read_payloads(tmp_path: Path) -> None:
    plain, lazy = Warehouse(tmp_path / "plain"), Warehouse(tmp_path / "lazy")
    (tmp_path / "plain").mkdir()
    (tmp_path / "lazy").mkdir()
    first, second, third = _runs()
    reads = Reads()
    plain.load(first)
    lazy.load(_lazy(first, reads, _fingerprints(first.raw, known=False)))  # no fingerprints: all read
    assert reads.rows == [41 + 2] and _fingerprint_rows(lazy.published) == 0
    reads.rows.clear()
    plain.load(second)
    lazy.load(_lazy(second, reads))  # fingerprints now: all read once more, all recorded
    assert reads.rows == [40 + 2] and _fingerprint_rows(lazy.published) == 40 + 2
    # A new normalizer: the old scheme's rows go, every record is hashed again.
    reads.rows.clear()
    plain.load(third)
    lazy.load(_lazy(third, reads, _fingerprints(third.raw, normalizer="normalizer-v2")))
    assert reads.rows == [40] and _fingerprint_rows(lazy.published) == 40
    assert_same_contents(published_contents(plain.published), published_contents(lazy.published))


def test_a_known_fingerprint_whose_content_is_missing_has_its_payload_read(tmp_path: Path) -> None:
    lazy = Warehouse(tmp_path / "lazy")
    (tmp_path / "lazy").mkdir()
    first, second, _ = _runs()
    reads = Reads()
    lazy.load(_lazy(first, reads))
    # The fingerprints outlive a content (e.g. raw_records restored from an older copy).
    con = duckdb.connect(str(lazy.published))
    gone = con.execute(f"DELETE FROM {ddl.RAW_RECORDS.qualified} WHERE source_key = 'c7' RETURNING record_hash").fetchall()
    con.close()
    assert len(gone) == 1
    reads.rows.clear()
    stats = lazy.load(_lazy(second, reads))
    # The two changed records, then the lost content's record.
    assert reads.rows == [2, 1] and stats["raw_payloads_read"] == 3 and stats["raw_contents_inserted"] == 3
    con = open_readonly(lazy.published)
    try:
        assert con.execute(f"SELECT count(*) FROM {ddl.RAW_RECORDS.qualified} WHERE source_key = 'c7' "
                           "AND payload IS NOT NULL").fetchone()[0] == 1
    finally:
        con.close()


def test_a_fingerprint_that_names_another_content_fails_the_load(tmp_path: Path) -> None:
    lazy = Warehouse(tmp_path / "lazy")
    (tmp_path / "lazy").mkdir()
    first, second, _ = _runs()
    lazy.load(_lazy(first, Reads()))
    con = duckdb.connect(str(lazy.published))
    con.execute(f"UPDATE {ddl.RECORD_FINGERPRINTS.qualified} SET record_hash = record_hash + 1")
    con.execute(f"DELETE FROM {ddl.RAW_RECORDS.qualified} WHERE source_key = 'c7'")
    con.close()
    with pytest.raises(RuntimeError, match="record_hash their content does not have"):
        lazy.load(_lazy(second, Reads()))


def test_fingerprints_of_other_lengths_are_refused(tmp_path: Path) -> None:
    lazy = Warehouse(tmp_path / "lazy")
    (tmp_path / "lazy").mkdir()
    first = _runs()[0]
    with pytest.raises(ValueError, match="fingerprints for"):
        lazy.load(_lazy(first, Reads(), _fingerprints(first.raw).head(3)))


def _staging_fingerprints(raw: pl.DataFrame) -> pl.DataFrame:
    fps = _fingerprints(raw)
    return pl.DataFrame({
        "line": pl.int_range(raw.height, eager=True, dtype=pl.Int64), "source": raw["source"],
        "source_key": raw["source_key"], "fp_a": fps["_fp_a"], "fp_b": fps["_fp_b"], "n_bytes": fps["_fp_n"],
        "normalizer": [NORMALIZER] * raw.height,
    })


def test_from_staged_reads_raw_and_offerings_narrow_and_fetches_only_the_rows_asked(tmp_path: Path) -> None:
    from pipelines.frames import FrameFolder, write_folder

    first = _runs()[0]
    staged = {}
    for source in ("coursera", "edx"):
        folder = tmp_path / source
        folder.mkdir()
        raw = first.raw.filter(pl.col("source") == source)
        fingerprints = _staging_fingerprints(raw)
        if source == "edx":  # lines out of step with the raw rows: not used
            fingerprints = fingerprints.with_columns(line=pl.col("line").reverse())
        write_folder({"raw": raw, "offerings": first.offerings.filter(pl.col("source") == source),
                      "rejects": first.rejects.filter(pl.col("source") == source),
                      "fingerprints": fingerprints}, folder)
        staged[source] = FrameFolder(folder)
    inputs = RunInputs.from_staged(staged, links=first.links, credentials=first.credentials,
                                   source_runs=first.source_runs)
    assert inputs.raw.columns == RAW_NARROW and inputs.raw_payloads is not None
    assert inputs.offerings.columns == OFFERING_NARROW and inputs.offering_contents is not None
    fps = inputs.raw_payloads.fingerprints
    n_coursera = first.raw.filter(pl.col("source") == "coursera").height
    assert fps.head(n_coursera)["_fp_a"].null_count() == 0
    assert fps.tail(2)["_fp_a"].null_count() == 2  # edx's fingerprints did not line up
    assert fps["_fp_scheme"].head(1).item() == fingerprint_scheme(NORMALIZER)
    mask = pl.Series([i % 5 == 0 for i in range(inputs.raw.height)])
    want = pl.concat([first.raw.filter(pl.col("source") == s) for s in ("coursera", "edx")]).filter(mask)
    wide = [c for c in want.columns if c not in RAW_NARROW]
    assert inputs.raw_payloads.fetch(mask).equals(want.select(wide))
    with pytest.raises(ValueError, match="raw mask"):
        inputs.raw_payloads.fetch(mask.head(3))
    offerings = pl.concat([first.offerings.filter(pl.col("source") == s) for s in ("coursera", "edx")])
    picked = pl.Series([i % 3 == 1 for i in range(offerings.height)])
    fetched = inputs.offering_contents.fetch(picked)
    assert fetched.equals(offerings.filter(picked).select(c for c in offerings.columns if c not in OFFERING_NARROW))
    assert inputs.offering_contents.fetch(pl.repeat(False, offerings.height, eager=True)).height == 0
    # Dicts of frames (no reading by column): raw whole, as before.
    plain = RunInputs.from_staged({"coursera": {"raw": first.raw, "offerings": first.offerings,
                                                "rejects": first.rejects}},
                                  links=first.links, credentials=first.credentials, source_runs=first.source_runs)
    assert plain.raw_payloads is None and plain.raw.equals(first.raw)
    assert plain.offering_contents is None and plain.offerings.equals(first.offerings)
