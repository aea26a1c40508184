"""Raw and offerings read narrow (``RunInputs.from_staged`` on FrameFolders: ``RawPayloads``,
``OfferingContents``): the load reads the other columns only of the offerings whose content or
version it writes, and of the raw records it hashes or stores; the warehouse holds exactly what
a load of the whole frames gives, run after run (changes, removals, a new source, a source that
did not run, a content that comes back, a content row lost), with the frames stored as patches
on the previous run's as a re-crawl stores them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from pipelines.frames import FrameFolder, derive, write_folder
from tests.warehouse.conftest import Warehouse, assert_same_contents, published_contents
from tests.warehouse.frames import Crawl, make_run
from warehouse import ddl
from warehouse.load import OFFERING_NARROW, RunInputs

T1 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
REFRESHED = ("run_id", "fetched_at")  # normalize.reuse.REFRESHED


def _fingerprints(raw: pl.DataFrame) -> pl.DataFrame:
    """A staging ``fingerprints`` frame lined up with raw: a hash of the record without its
    per-run columns stands in for the landed line's bytes."""
    content = pl.struct(pl.exclude("run_id", "fetched_at"))
    fps = raw.select(fp_a=content.hash(seed=1), fp_b=content.hash(seed=2))
    return pl.DataFrame({
        "line": pl.int_range(raw.height, eager=True, dtype=pl.Int64), "source": raw["source"],
        "source_key": raw["source_key"], "fp_a": fps["fp_a"], "fp_b": fps["fp_b"],
        "n_bytes": raw["title"].str.len_bytes().fill_null(0).cast(pl.UInt32),
        "normalizer": ["normalizer-v1"] * raw.height,
    })


def _previous_rows(frame: pl.DataFrame, previous: pl.DataFrame) -> pl.Series:
    """Per row of ``frame``, the row of ``previous`` equal to it but for the refreshed columns
    (what normalize's reuse hands over), null for a new row."""
    kept = [c for c in frame.columns if c not in REFRESHED]
    index = previous.select(pl.struct(kept).hash().alias("_h")).with_row_index("_prev").unique("_h", keep="first")
    return (frame.select(pl.struct(kept).hash().alias("_h")).join(index, on="_h", how="left", maintain_order="left")
            .get_column("_prev"))


class Staging:
    """Each run's staging outputs written as the IO manager writes them: a re-crawl's raw and
    offerings as patches on the previous output of the source where that pays."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.previous: dict[str, FrameFolder] = {}
        self.n = 0

    def stage(self, inputs: RunInputs) -> RunInputs:
        self.n += 1
        staged = {}
        for source in sorted(inputs.source_runs["source"].unique().to_list()):
            raw = inputs.raw.filter(pl.col("source") == source)
            frames = {"raw": raw, "offerings": inputs.offerings.filter(pl.col("source") == source),
                      "rejects": inputs.rejects.filter(pl.col("source") == source),
                      "fingerprints": _fingerprints(raw)}
            previous = self.previous.get(source)
            rows = {} if previous is None else {
                name: _previous_rows(frames[name], previous[name]) for name in ("raw", "offerings")}
            folder = self.root / f"run{self.n}" / source
            folder.mkdir(parents=True)
            write_folder(derive(frames, previous, rows, REFRESHED), folder)
            staged[source] = self.previous[source] = FrameFolder(folder)
            for name in ("raw", "offerings"):  # the metadata helpers, whole or patched
                assert staged[source].height(name) == frames[name].height
                assert staged[source].columns(name) == frames[name].columns
        narrow = RunInputs.from_staged(staged, links=inputs.links, credentials=inputs.credentials,
                                       source_runs=inputs.source_runs)
        assert narrow.offerings.columns == OFFERING_NARROW and narrow.offering_contents is not None
        return dataclasses.replace(narrow, run_started_at=inputs.run_started_at)


def _runs() -> list[RunInputs]:
    titles = {f"c{i}": f"Course {i}" for i in range(40)}
    changed = {**{k: v for k, v in titles.items() if k not in ("c3", "c4")}, "c1": "Course 1 (new)",
               "c40": "Course 40"}
    back = {**changed, "c1": "Course 1"}  # c1's first content again: stored, not current
    edx = {"x1": "Data", "x2": "Cloud"}
    udemy = {f"u{i}": f"Udemy {i}" for i in range(5)}
    day = timedelta(days=1)
    return [
        make_run(T1, {"coursera": Crawl("r1", titles=titles, rejected=["bad1"]), "edx": Crawl("e1", titles=edx)}),
        make_run(T1 + day, {"coursera": Crawl("r2", titles=changed, rejected=["bad1"]),
                            "edx": Crawl("e2", titles=edx), "udemy": Crawl("u2", titles=udemy)}),
        # edx did not run; a content row lost before this load (below).
        make_run(T1 + 2 * day, {"coursera": Crawl("r3", titles=back, rejected=["bad1"]),
                                "udemy": Crawl("u3", titles=udemy)}),
        make_run(T1 + 3 * day, {"coursera": Crawl("r4", titles=back, rejected=["bad1"]),
                                "udemy": Crawl("u4", titles=udemy)}),
    ]


def _lose_content(path: Path, source_key: str) -> None:
    con = duckdb.connect(str(path))
    try:
        gone = con.execute(
            f"DELETE FROM {ddl.STG_OFFERING_CONTENTS.qualified} WHERE source_key = ? RETURNING content_hash",
            [source_key]).fetchall()
    finally:
        con.close()
    assert len(gone) == 1


def test_loading_narrow_offerings_and_raw_equals_loading_whole_frames(tmp_path: Path) -> None:
    whole, narrow = Warehouse(tmp_path / "whole"), Warehouse(tmp_path / "narrow")
    (tmp_path / "whole").mkdir()
    (tmp_path / "narrow").mkdir()
    staging = Staging(tmp_path / "staging")
    read_whole, payloads_read = [], []
    for n, inputs in enumerate(_runs()):
        if n == 2:  # a content the current version names, lost (e.g. a restored older copy)
            for warehouse in (whole, narrow):
                _lose_content(warehouse.published, "c7")
        staged = staging.stage(inputs)
        whole.load(inputs)
        stats = narrow.load(staged)
        read_whole.append(stats["offerings_read_whole"])
        payloads_read.append(stats["raw_payloads_read"])
        assert_same_contents(published_contents(whole.published), published_contents(narrow.published))
    # First run: every offering (40 coursera, 2 edx). Second: c1 changed, c40 and udemy's 5 new.
    # Third: c1 back to its first content (stored, but not its current version) and c7, whose
    # content row was lost. Fourth: nothing new.
    assert read_whole == [42, 1 + 1 + 5, 1 + 1, 0]
    # Raw records hashed: all at first (41 coursera with the reject, 2 edx); then the records of
    # new lines (c1, c40, udemy's 5; c1 again: its first line's fingerprint is known).
    assert payloads_read == [43, 7, 0, 0]
    stored = staging.previous["coursera"]
    assert stored.patched("offerings") and stored.patched("raw")  # the last runs read patches


def test_a_narrow_load_with_bad_fetched_columns_fails_and_changes_nothing(tmp_path: Path) -> None:
    narrow = Warehouse(tmp_path / "narrow")
    (tmp_path / "narrow").mkdir()
    staging = Staging(tmp_path / "staging")
    first, second = _runs()[:2]
    narrow.load(staging.stage(first))
    before = published_contents(narrow.published)
    staged = staging.stage(second)
    good = staged.offering_contents

    def fetch(mask: pl.Series) -> pl.DataFrame:
        return good.fetch(mask).with_columns(eqf_level=pl.lit("not a level"))

    bad = dataclasses.replace(staged, offering_contents=dataclasses.replace(good, fetch=fetch))
    try:
        narrow.load(bad)
    except ValueError as exc:
        assert "offerings: does not match its schema" in str(exc)
    else:
        raise AssertionError("a fetched column that does not cast was loaded")
    assert_same_contents(before, published_contents(narrow.published))
