"""normalize_with_reuse gives the frames of read_landing + normalize of the whole run, while
taking unchanged lines from the previous run's output (normalize/reuse.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from normalize import digests, reuse
from normalize.reuse import FINGERPRINT_SCHEMA, normalize_with_reuse, normalizer_fingerprint
from normalize.transforms import normalize, read_landing
from pipelines.bench.incremental import changed_landing
from scrapers.mirror.generate import generate
from scrapers.mirror.landing import land_source
from scrapers.registry import load_sources

SOURCES = ("skillmarket_api", "iadp_certifications")
KINDS = {name: s.provider_kind for name, s in load_sources().items()}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reuse")
    generate(folder / "site", scale=0.6, sources=SOURCES)
    for name in SOURCES:
        land_source(name, folder / "site", folder / "landing", "bench")
    shutil.rmtree(folder / "site")
    return folder


@pytest.fixture
def folder(base: Path, tmp_path: Path) -> Path:
    shutil.copytree(base, tmp_path / "c")
    return tmp_path / "c"


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _scratch(run_dir: Path) -> dict[str, pl.DataFrame]:
    """The whole run through the public path, as the staging asset did before reuse."""
    raw, invalid = read_landing([run_dir])
    result = normalize(raw.lazy(), provider_kinds=KINDS)
    return {"raw": raw, "offerings": result.offerings,
            "rejects": pl.concat([invalid, result.rejects], how="vertical")}


def _assert_same(out: reuse.ReuseResult, run_dir: Path) -> None:
    got, want = out.staging(), _scratch(run_dir)
    for part in ("raw", "offerings", "rejects"):
        # Every column, and the row order as well.
        assert_frame_equal(got[part], want[part], check_exact=True)
    assert got["fingerprints"].schema == FINGERPRINT_SCHEMA
    assert out.result.fx_rate_date is not None


def _assert_rows_point_back(out: reuse.ReuseResult, previous: dict[str, pl.DataFrame]) -> None:
    """``previous_rows``: each reused row is its previous row with the REFRESHED columns new,
    every other row is null (what the IO manager stores as a patch on the previous file)."""
    got = out.staging()
    assert set(out.previous_rows) == {"raw", "offerings"}
    for part, rows in out.previous_rows.items():
        assert rows.len() == got[part].height
        reused = got[part].filter(rows.is_not_null()).drop(reuse.REFRESHED)
        assert_frame_equal(reused, previous[part][rows.drop_nulls()].drop(reuse.REFRESHED), check_exact=True)
    assert out.previous_rows["raw"].is_not_null().sum() >= out.stats["reused"]
    assert out.previous_rows["offerings"].is_not_null().sum() == out.stats["reused"]


def _run(folder: Path, source: str, run_id: str) -> Path:
    return folder / "landing" / source / run_id


def test_recrawl_reuses_unchanged_lines_and_equals_the_full_path(folder: Path) -> None:
    made = changed_landing(folder, "incr", changed=0.1)
    assert made["modified"] and made["removed"] and made["added"]
    for source in SOURCES:
        first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
        assert first.stats["mode"] == "full"
        _assert_same(first, _run(folder, source, "bench"))
        assert first.previous_rows == {}
        out = normalize_with_reuse(_run(folder, source, "incr"), KINDS, first.staging())
        _assert_same(out, _run(folder, source, "incr"))
        _assert_rows_point_back(out, first.staging())
        assert out.stats["mode"] == "reuse", out.stats
        assert first.stats["index"] == out.stats["index"] == "used"  # the crawl's index, no scan
        assert out.stats["reused"] > 0.7 * out.stats["records"]
        assert out.stats["reused"] + out.stats["normalized"] == out.stats["records"]
        assert out.raw["run_id"].unique().to_list() == ["incr"]
        assert out.result.offerings["run_id"].unique().to_list() == ["incr"]


def test_repeated_keys_rejects_and_odd_lines_are_normalized_again(folder: Path) -> None:
    source = "skillmarket_api"
    first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
    lines = _lines(_run(folder, source, "bench") / "items.jsonl")
    incr = _run(folder, source, "incr")
    incr.mkdir()
    new = [line.replace('"run_id": "bench"', '"run_id": "incr"') for line in lines]
    # Line 1 unchanged but its key repeated later (with another title): the first is kept.
    dup = json.loads(new[1])
    dup["title"] = "Another title"
    # Line 2's key again with extra whitespace: the same key for the duplicate rule.
    spaced = json.loads(new[2])
    spaced["source_key"] = " " + spaced["source_key"] + " "
    # Line 3 loses its title (a reject), line 4 is written compactly (not in the writer's form),
    # line 5 gets a fetched_at with an offset.
    notitle = json.loads(new[3])
    notitle["title"] = "<b></b>"
    compact = json.dumps(json.loads(new[4]), separators=(",", ":"), ensure_ascii=False)
    new[5] = re.sub(r'"fetched_at": "[^"]*"', '"fetched_at": "2027-01-02T03:04:05+02:00"', new[5], count=1)
    new[3], new[4] = json.dumps(notitle, ensure_ascii=False), compact
    new += [json.dumps(dup, ensure_ascii=False), json.dumps(spaced, ensure_ascii=False), ""]
    _write(incr / "items.jsonl", new)
    out = normalize_with_reuse(incr, KINDS, first.staging())
    _assert_same(out, incr)
    _assert_rows_point_back(out, first.staging())
    assert out.stats["mode"] == "reuse"
    # Lines 1-4 and the two added lines are normalized; the rest is reused.
    assert out.stats["normalized"] == 6, out.stats
    assert out.stats["reused"] == len(new) - 1 - 6
    reasons = out.result.rejects["reason"].to_list()
    assert sorted(reasons) == ["duplicate_source_key", "duplicate_source_key", "missing_title"]
    assert str(out.raw["fetched_at"][5]) == "2027-01-02 01:04:05+00:00"


def test_previous_reject_is_not_taken_over(folder: Path) -> None:
    """A line that was a reject is normalized again, and a reject in the previous output that
    is not the line's any more does not come back."""
    source = "iadp_certifications"
    run = _run(folder, source, "bench")
    lines = _lines(run / "items.jsonl")
    bad = json.loads(lines[0])
    bad["title"] = " "
    lines[0] = json.dumps(bad, ensure_ascii=False)
    _write(run / "items.jsonl", lines)
    first = normalize_with_reuse(run, KINDS, None)
    assert first.result.rejects.height == 1
    changed_landing(folder, "incr", changed=0.0)
    out = normalize_with_reuse(_run(folder, source, "incr"), KINDS, first.staging())
    _assert_same(out, _run(folder, source, "incr"))
    assert out.stats["normalized"] == 1 and out.result.rejects["run_id"].to_list() == ["incr"]
    assert "incr" in out.result.rejects["payload"][0]


def test_unparseable_line_normalizes_everything(folder: Path) -> None:
    source = "skillmarket_api"
    first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
    changed_landing(folder, "incr", changed=0.05)
    items = _run(folder, source, "incr") / "items.jsonl"
    _write(items, [*_lines(items), '{"source": "skillmarket_api", "source_key": "x", "title": ['])
    out = normalize_with_reuse(items.parent, KINDS, first.staging())
    _assert_same(out, items.parent)
    assert out.stats["mode"] == "full" and out.stats["reused"] == 0
    assert out.invalid.height >= 1 and "invalid_json" in out.invalid["reason"].to_list()
    # Read by the reader's slow path: nothing of this run is reusable next time.
    assert out.fingerprints.height == 0


def test_changed_normalizer_reuses_nothing(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = "skillmarket_api"
    first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
    changed_landing(folder, "incr", changed=0.05)
    monkeypatch.setattr(reuse, "normalizer_fingerprint", lambda: "another normalizer")
    out = normalize_with_reuse(_run(folder, source, "incr"), KINDS, first.staging())
    _assert_same(out, _run(folder, source, "incr"))
    assert out.stats["mode"] == "full" and out.stats["reused"] == 0
    assert "normalizer" in out.stats["reason"]


def test_normalizer_fingerprint_follows_the_esco_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    esco = tmp_path / "skills.csv"
    monkeypatch.setattr(reuse, "esco_csv_path", lambda: esco)
    absent = normalizer_fingerprint()
    esco.write_text("conceptUri,preferredLabel\n", encoding="utf-8")
    one = normalizer_fingerprint()
    esco.write_text("conceptUri,preferredLabel\nx,y\n", encoding="utf-8")
    assert len({absent, one, normalizer_fingerprint()}) == 3
    assert normalizer_fingerprint() == normalizer_fingerprint()


def test_previous_absent_or_unusable(folder: Path, tmp_path: Path) -> None:
    source = "iadp_certifications"
    run = _run(folder, source, "bench")
    for previous in (None, tmp_path / "nothing-here", {"raw": pl.DataFrame()}):
        out = normalize_with_reuse(run, KINDS, previous)
        _assert_same(out, run)
        assert out.stats["mode"] == "full" and out.stats["reused"] == 0


def _stored_output_and_recrawl(folder: Path, tmp_path: Path, source: str) -> Path:
    """The source's first run normalized and stored as the IO manager stores it; a 5% re-crawl landed."""
    first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
    stored = tmp_path / "staging" / source
    stored.mkdir(parents=True)
    for part, frame in first.staging().items():
        frame.write_parquet(stored / f"{part}.parquet")
    changed_landing(folder, "incr", changed=0.05)
    return stored


def test_previous_from_parquet_folder(folder: Path, tmp_path: Path) -> None:
    source = "skillmarket_api"
    stored = _stored_output_and_recrawl(folder, tmp_path, source)
    out = normalize_with_reuse(_run(folder, source, "incr"), KINDS, stored)
    _assert_same(out, _run(folder, source, "incr"))
    assert out.stats["mode"] == "reuse" and out.stats["reused"] > 0


def test_previous_as_a_frame_folder_and_damaged(folder: Path, tmp_path: Path) -> None:
    """The staging asset passes its stored output as a FrameFolder (files opened at once): it
    reuses as a folder path does; a damaged frame in it normalizes everything instead."""
    from pipelines.frames import FrameFolder

    source = "skillmarket_api"
    stored = _stored_output_and_recrawl(folder, tmp_path, source)
    run = _run(folder, source, "incr")
    with_folder = normalize_with_reuse(run, KINDS, FrameFolder(stored))
    _assert_same(with_folder, run)
    assert with_folder.stats["mode"] == "reuse" and with_folder.stats["reused"] > 0
    (stored / "fingerprints.parquet").write_bytes(b"PAR1 not a parquet file")
    damaged = normalize_with_reuse(run, KINDS, FrameFolder(stored))
    _assert_same(damaged, run)
    assert damaged.stats["mode"] == "full" and damaged.stats["reused"] == 0


def test_reused_offerings_come_from_the_previous_output(folder: Path) -> None:
    """The comparison above can fail: a reused offering is the previous one, so a previous
    output that is wrong shows in the result (here a title changed behind the fingerprints)."""
    source = "skillmarket_api"
    first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
    changed_landing(folder, "incr", changed=0.0)
    previous = first.staging()
    previous["offerings"] = previous["offerings"].with_columns(title=pl.lit("stale"))
    out = normalize_with_reuse(_run(folder, source, "incr"), KINDS, previous)
    assert out.stats["reused"] == out.stats["records"]
    assert out.result.offerings["title"].unique().to_list() == ["stale"]
    with pytest.raises(AssertionError):
        _assert_same(out, _run(folder, source, "incr"))


def test_a_custom_normalize_function_reuses_nothing(folder: Path) -> None:
    source = "iadp_certifications"
    first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
    changed_landing(folder, "incr", changed=0.0)
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        return normalize(*args, **kwargs)

    out = normalize_with_reuse(_run(folder, source, "incr"), KINDS, first.staging(), normalize_fn=spy)
    assert out.stats["mode"] == "full" and calls == [1]
    _assert_same(out, _run(folder, source, "incr"))


def test_staging_asset_reuses_its_last_stored_output(tmp_path: Path) -> None:
    """Two materializations of staging/<source>: the second crawl changed one record of 12; the
    asset reads its own stored output, normalizes that record alone, stores the fingerprints,
    and stores what the full path gives."""
    import dagster as dg

    from pipelines.frames import FrameFolder
    from tests.pipelines.conftest import QUIET, make_local_source

    local = make_local_source(tmp_path)
    defs = local.definitions()
    job = defs.resolve_job_def("credcat_full_refresh").get_subset(
        asset_selection={dg.AssetKey(["raw", local.name]), dg.AssetKey(["staging", local.name])})
    stored = local.data_dir / "runtime" / "io" / "staging" / local.name

    def materialize() -> dict:
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=True, run_config=QUIET)
        (event,) = [e for e in result.get_asset_materialization_events()
                    if e.event_specific_data.materialization.asset_key.path[0] == "staging"]
        return {k: getattr(v, "value", v) for k, v in event.event_specific_data.materialization.metadata.items()}

    first = materialize()
    assert first["reuse_mode"] == "full" and first["records_reused"] == 0
    assert pl.read_parquet(stored / "fingerprints.parquet").height == 12
    whole = {p.name: p.stat().st_ino for p in stored.iterdir()}
    assert sorted(whole) == ["fingerprints.parquet", "offerings.parquet", "raw.parquet", "rejects.parquet"]
    lines = local.drop.read_text(encoding="utf-8").split("\n")
    for edit, (old, new) in enumerate([("Acme Academy", "Acme Institute"), ("Acme Institute", "Acme School")]):
        lines[3] = lines[3].replace(old, new)
        local.drop.write_text("\n".join(lines), encoding="utf-8")
        second = materialize()
        assert second["reuse_mode"] == "reuse", second["reuse_reason"]
        assert (second["records_reused"], second["records_normalized"]) == (11, 1)
        (run_dir,) = [p for p in (local.data_dir / "landing" / local.name).iterdir()
                      if p.name == second["run_id"]]
        want = _scratch_kinds(run_dir, {local.name: "training_provider"})
        # Raw rows and offerings are stored as patches on the first run's files (1 row of 12 new),
        # and read back as what the full path gives.
        names = sorted(p.name for p in stored.iterdir())
        assert "raw.base.parquet" in names and "offerings.patch.parquet" in names and "raw.parquet" not in names
        assert (stored / "raw.base.parquet").stat().st_ino == whole["raw.parquet"], edit
        got = FrameFolder(stored)
        for part in ("raw", "offerings", "rejects"):
            assert_frame_equal(got[part], want[part], check_exact=True)
        assert got["offerings"]["awarding_body"].str.contains(new.split()[1]).sum() == 1
        got.close()
    # A crawl with nothing changed: the record the last run normalized is a row of that run's
    # patch, which the new output takes over (raw rows handed over unread: PatchedRows).
    third = materialize()
    assert (third["reuse_mode"], third["records_reused"], third["records_normalized"]) == ("reuse", 12, 0)
    (run_dir,) = [p for p in (local.data_dir / "landing" / local.name).iterdir() if p.name == third["run_id"]]
    want = _scratch_kinds(run_dir, {local.name: "training_provider"})
    assert (stored / "raw.base.parquet").stat().st_ino == whole["raw.parquet"]
    assert pl.read_parquet(stored / "raw.patch.parquet").height == 1  # carried from the previous patch
    got = FrameFolder(stored)
    for part in ("raw", "offerings", "rejects"):
        assert_frame_equal(got[part], want[part], check_exact=True)
    got.close()


def _scratch_kinds(run_dir: Path, kinds: dict[str, str]) -> dict[str, pl.DataFrame]:
    raw, invalid = read_landing([run_dir])
    result = normalize(raw.lazy(), provider_kinds={**KINDS, **kinds})
    return {"raw": raw, "offerings": result.offerings,
            "rejects": pl.concat([invalid, result.rejects], how="vertical")}


# --- the landing index (items.index.parquet) ------------------------------------------------------


def _rewrite_index(run: Path, frame: pl.DataFrame | None = None, recorded_at: int | None = None,
                   **meta_over) -> None:
    """Rewrite the run's index: ``frame`` (default the stored one), its metadata with
    ``meta_over`` and the file's current identity (recorded now, or at ``recorded_at``), as a
    forger would."""
    path = run / reuse.INDEX_NAME
    meta = json.loads(pl.read_parquet_metadata(path)[reuse._INDEX_KEY])
    frame = pl.read_parquet(path) if frame is None else frame
    meta["identity"] = digests.file_identity(run / "items.jsonl")
    if recorded_at is not None:
        meta["identity"]["recorded_ns"] = recorded_at
    meta.update(**meta_over)
    frame.write_parquet(path, metadata={reuse._INDEX_KEY: json.dumps(meta)})


def _edit_in_place(items: Path, line_no: int) -> None:
    """Change one line of items.jsonl (a title letter), same size, mtime set back."""
    before = items.stat()
    lines = _lines(items)
    i = lines[line_no].index('"title": "') + len('"title": "')
    lines[line_no] = lines[line_no][:i] + ("X" if lines[line_no][i] != "X" else "Y") + lines[line_no][i + 1:]
    _write(items, lines)
    os.utime(items, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert items.stat().st_size == before.st_size and items.stat().st_mtime_ns == before.st_mtime_ns


def test_landing_index_equals_the_scan_of_the_file(base: Path) -> None:
    for source in SOURCES:
        run = _run(base, source, "bench")
        index, why = reuse.read_index(run)
        assert index is not None, why
        scan = reuse.fingerprint_lines(reuse.read_lines(run / "items.jsonl"))
        cols = ["line", "fp_a", "fp_b", "n_bytes", "run_id_text", "fetched_at_text"]
        assert index.select(cols).equals(scan.select(cols))
        assert reuse.read_lines_at(run, index).equals(scan.get_column("text"))


def test_a_file_changed_after_its_index_is_read_again(folder: Path) -> None:
    """A line edited in place (same size, mtime set back) after the crawl wrote the index:
    the index is refused (the file's ctime moved), the file is read, the line normalized."""
    source = "skillmarket_api"
    first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
    changed_landing(folder, "incr", changed=0.0)
    run = _run(folder, source, "incr")
    assert reuse.read_index(run)[0] is not None
    _edit_in_place(run / "items.jsonl", 7)
    index, why = reuse.read_index(run)
    assert index is None and "another state" in why
    out = normalize_with_reuse(run, KINDS, first.staging())
    _assert_same(out, run)
    assert out.stats["mode"] == "reuse" and out.stats["index"] == why
    assert out.stats["normalized"] == 1 and out.result.offerings["title"][7].startswith(("X", "Y"))


def test_an_index_that_lies_is_refused(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexes that claim what the file does not hold, each made to pass the file-state check:
    a line changed behind the index (found when the sample takes every line), fingerprints
    of another scheme (found by any sample), byte ranges that do not cover the file line by
    line, another scheme or version named. Each time the file is read instead and the output
    is the full path's."""
    source = "skillmarket_api"
    first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
    changed_landing(folder, "incr", changed=0.0)
    run = _run(folder, source, "incr")
    good = pl.read_parquet(run / reuse.INDEX_NAME)

    def refused(expect: str) -> None:
        index, why = reuse.read_index(run)
        assert index is None and expect in why, why
        out = normalize_with_reuse(run, KINDS, first.staging())
        _assert_same(out, run)
        assert out.stats["index"] == why

    _edit_in_place(run / "items.jsonl", 7)
    _rewrite_index(run, good)  # the old fingerprints under the new file state: line 7 "unchanged"
    monkeypatch.setattr(reuse, "INDEX_CHECK_LINES", 10**9)
    refused("does not match the lines")
    monkeypatch.undo()
    _rewrite_index(run, good.with_columns(pl.col("fp_a") ^ 1))
    refused("does not match the lines")
    shifted = good.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.col("offset") + 1)
                                .otherwise(pl.col("offset")).alias("offset"))
    _rewrite_index(run, shifted)
    refused("does not cover")
    _rewrite_index(run, good.head(good.height - 1))
    refused("not in its schema")
    _rewrite_index(run, good, scheme="another")
    refused("another fingerprint scheme")
    _rewrite_index(run, good, version=0)
    refused("another version")
    (run / reuse.INDEX_NAME).write_bytes(b"PAR1 not a parquet file")
    refused("unreadable")
    # The index written anew for the file as it is now: used again, same output.
    assert reuse.index_landing(run) is not None
    out = normalize_with_reuse(run, KINDS, first.staging())
    _assert_same(out, run)
    assert out.stats["index"] == "used" and out.stats["normalized"] == 1


# --- the landing index's identity: the export's rule (normalize/digests.py) -----------------------


def _coarse_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a file system with whole-second timestamps: digests sees mtime and ctime cut to
    the second (digests reads every file's state through its ``os.stat``)."""
    import types

    real = os.stat

    def stat(path, *args, **kwargs):
        st = real(path, *args, **kwargs)
        return types.SimpleNamespace(st_dev=st.st_dev, st_ino=st.st_ino, st_size=st.st_size,
                                     st_mtime_ns=st.st_mtime_ns // 10**9 * 10**9,
                                     st_ctime_ns=st.st_ctime_ns // 10**9 * 10**9)

    monkeypatch.setattr(digests, "os", types.SimpleNamespace(stat=stat))


def test_an_index_recorded_within_the_margin_of_the_files_change_is_not_trusted(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With whole-second times, an index recorded less than COARSE_MARGIN_NS after items.jsonl
    last changed is refused (a rewrite in the same second would keep the times), the file is
    read instead and the output is the full path's; recorded at the margin it is used."""
    source = "iadp_certifications"
    first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
    changed_landing(folder, "incr", changed=0.05)
    run = _run(folder, source, "incr")
    _coarse_times(monkeypatch)
    changed = digests.file_identity(run / "items.jsonl")["ctime_ns"]
    assert changed % 10**9 == 0
    _rewrite_index(run, recorded_at=changed + digests.COARSE_MARGIN_NS - 1)
    index, why = reuse.read_index(run)
    assert index is None and "timestamp granularity" in why, why
    out = normalize_with_reuse(run, KINDS, first.staging())
    _assert_same(out, run)
    assert out.stats["mode"] == "reuse" and out.stats["index"] == why
    _rewrite_index(run, recorded_at=changed + digests.COARSE_MARGIN_NS)
    index, why = reuse.read_index(run)
    assert index is not None, why
    out = normalize_with_reuse(run, KINDS, first.staging())
    _assert_same(out, run)
    assert out.stats["mode"] == "reuse" and out.stats["index"] == "used"
    # With sub-second times the margin does not apply.
    monkeypatch.undo()
    _rewrite_index(run, recorded_at=digests.file_identity(run / "items.jsonl")["ctime_ns"] + 1)
    assert reuse.read_index(run)[0] is not None


def test_a_fresh_index_on_whole_second_times_is_recorded_past_the_margin(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The crawl writes the index right after items.jsonl: with whole-second times it waits
    out the margin and reads the file back before recording, so the index is trusted by any
    later run; a file that is not the bytes indexed gets no index."""
    run = _run(folder, "iadp_certifications", "bench")
    _coarse_times(monkeypatch)
    assert reuse.index_landing(run) is not None
    meta = json.loads(pl.read_parquet_metadata(run / reuse.INDEX_NAME)[reuse._INDEX_KEY])
    assert meta["identity"]["recorded_ns"] - meta["identity"]["ctime_ns"] >= digests.COARSE_MARGIN_NS
    index, why = reuse.read_index(run)
    assert index is not None, why
    # A file just written that is not the bytes indexed: no identity to record.
    fresh = run / "fresh.jsonl"
    fresh.write_bytes(b"{}\n")
    assert digests.settled_identity(fresh, "0" * 64) is None


def test_an_index_without_a_recorded_time_is_trusted_only_with_fine_times(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexes written before the identity was recorded hold the file's state flat and no
    time of recording: trusted with sub-second times, refused with whole-second times."""
    run = _run(folder, "iadp_certifications", "bench")
    assert reuse.index_landing(run) is not None  # the copy's own index
    path = run / reuse.INDEX_NAME
    meta = json.loads(pl.read_parquet_metadata(path)[reuse._INDEX_KEY])
    identity = meta.pop("identity")
    meta.update(size=identity["bytes"], mtime_ns=identity["mtime_ns"], ctime_ns=identity["ctime_ns"],
                ino=identity["inode"], dev=identity["device"])
    pl.read_parquet(path).write_parquet(path, metadata={reuse._INDEX_KEY: json.dumps(meta)})
    index, why = reuse.read_index(run)
    assert index is not None, why
    _coarse_times(monkeypatch)  # the same file on whole-second times, recorded flat as before
    meta.update(mtime_ns=meta["mtime_ns"] // 10**9 * 10**9, ctime_ns=meta["ctime_ns"] // 10**9 * 10**9)
    pl.read_parquet(path).write_parquet(path, metadata={reuse._INDEX_KEY: json.dumps(meta)})
    index, why = reuse.read_index(run)
    assert index is None and "timestamp granularity" in why, why


def test_reuse_fingerprints_equal_the_full_paths(folder: Path) -> None:
    """The fingerprints frame kept by a reuse run is the one a from-scratch run of the same
    landing keeps (all four staging frames are then what the full path writes)."""
    changed_landing(folder, "incr", changed=0.05)
    for source in SOURCES:
        first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
        out = normalize_with_reuse(_run(folder, source, "incr"), KINDS, first.staging())
        assert out.stats["mode"] == "reuse"
        scratch = normalize_with_reuse(_run(folder, source, "incr"), KINDS, None)
        assert_frame_equal(out.fingerprints, scratch.fingerprints, check_exact=True)


def test_a_fallback_waits_for_the_previous_frames_being_read(folder: Path) -> None:
    """The previous raw rows and offerings are read on a second thread; a run that falls back
    to the full path after that read started waits for it (the caller may close the files
    right after) and gives the full path's frames."""
    source = "skillmarket_api"
    first = normalize_with_reuse(_run(folder, source, "bench"), KINDS, None)
    changed_landing(folder, "incr", changed=0.05)
    run = _run(folder, source, "incr")
    previous = first.staging()
    previous["offerings"] = previous["offerings"].head(10)  # reused lines lose their offering
    reads: list[str] = []

    class Watched(dict):
        def get(self, part, default=None):
            reads.append(part)
            return super().get(part, default)

    out = normalize_with_reuse(run, KINDS, Watched(previous))
    assert out.stats["mode"] == "full" and "previous offerings missing" in out.stats["reason"]
    assert reads == ["fingerprints", "raw", "offerings", "raw"]  # raw: its keys, then its schema
    _assert_same(out, run)
