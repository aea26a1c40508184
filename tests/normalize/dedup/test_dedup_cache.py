"""The comparison cache (normalize/dedup/cache.py): a cached run equals an uncached one, always.

Run 1 writes the cache; run 2, on a catalog where ~2% of offerings changed (titles,
providers, prices), some left and some arrived, must give exactly the links and scored pairs
an uncached run 2 gives, while reusing most pairs. A cache from other settings, a damaged or
inconsistent one, or an unwritable folder is ignored, never an error.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest
from dedup_fixtures import offerings, synthetic_catalog
from polars.testing import assert_frame_equal

from normalize.dedup import Resolution, cache, compare, default_settings, prepare, resolve_report
from normalize.dedup.settings import Weights
from normalize.digests import file_sha256
from normalize.schema import offering_id


def _mutated(frame: pl.DataFrame, seed: int = 11) -> pl.DataFrame:
    """~2% of offerings changed (title, awarding body, price), ~1% removed, ~1% added."""
    rng = random.Random(seed)
    ids = frame["offering_id"].to_list()
    n = len(ids)
    picked = rng.sample(ids, n * 4 // 100)
    retitle, reprovide, reprice, removed = (set(picked[i::4]) for i in range(4))
    changed = frame.filter(~pl.col("offering_id").is_in(list(removed))).with_columns(
        title=pl.when(pl.col("offering_id").is_in(list(retitle)))
        .then(pl.concat_str(pl.col("title"), pl.lit(" Advanced")))
        .otherwise(pl.col("title")),
        awarding_body=pl.when(pl.col("offering_id").is_in(list(reprovide)))
        .then(pl.lit("Org 1 University"))
        .otherwise(pl.col("awarding_body")),
        price_usd=pl.when(pl.col("offering_id").is_in(list(reprice)))
        .then(pl.col("price_usd") * 1.5 + 1)
        .otherwise(pl.col("price_usd")),
    )
    # New listings: copies of existing rows under new source keys (they pair with unchanged rows).
    donors = frame.sample(n // 100, seed=seed)
    added = donors.with_columns(source_key=pl.concat_str(pl.lit("new-"), pl.col("source_key"))).with_columns(
        offering_id=pl.struct("source", "source_key").map_elements(
            lambda r: offering_id(r["source"], r["source_key"]), return_dtype=pl.String
        )
    )
    # Shuffled: the result must not depend on the input row order either.
    return pl.concat([changed, added]).sample(fraction=1.0, shuffle=True, seed=seed)


def _same(a: Resolution, b: Resolution) -> None:
    assert_frame_equal(a.links, b.links)
    assert_frame_equal(a.pairs, b.pairs)
    assert a.offering_ids.equals(b.offering_ids)


@pytest.fixture(scope="module")
def catalogs() -> tuple[pl.DataFrame, pl.DataFrame]:
    frame, _ = synthetic_catalog(6000, seed=4)
    return frame, _mutated(frame)


def test_cached_rerun_equals_uncached_rerun(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    first, second = catalogs
    r1 = resolve_report(first, cache=tmp_path)
    assert r1.stats["cache"]["status"] == "absent" and r1.stats["cache"]["written"]
    _same(r1, resolve_report(first))  # writing a cache changes nothing either

    cached = resolve_report(second, previous_links=r1.links, cache=tmp_path)
    plain = resolve_report(second, previous_links=r1.links)
    _same(cached, plain)
    stats = cached.stats["cache"]
    assert stats["status"] == "hit"
    assert stats["pairs_reused"] + stats["pairs_computed"] == cached.pairs.height == cached.stats["pairs_compared"]
    # Most pairs reused, the changed and new rows' pairs compared again.
    assert stats["pairs_reused"] > 0.8 * cached.pairs.height
    assert stats["pairs_computed"] > 0
    assert 0.9 * second.height < stats["rows_unchanged"] < second.height
    assert {"cache_read", "cache_write"} <= set(cached.stats["seconds"])

    # The rewritten cache serves the next run in full (nothing changed), still exactly.
    again = resolve_report(second, previous_links=r1.links, cache=tmp_path)
    assert again.stats["cache"]["pairs_computed"] == 0
    _same(again, plain)
    # One generation on disk: the old data files were removed.
    assert sorted(p.name.split("-")[1] for p in tmp_path.glob("compare-*.arrow")) == ["pairs", "rows"]


def test_corpus_dependent_keys_invalidate_unchanged_rows(tmp_path: Path) -> None:
    """A row whose raw fields did not change but whose corpus-dependent key did (title_distinct:
    its source now lists the title twice) is a changed row; its pairs are compared again."""
    ml = dict(title="Quantum Widgets", awarding_body="Northfield University", language="en", price_usd=99.0)
    base = [
        {"source": "alpha", "source_key": "a1", "platform": "Alpha", **ml},
        {"source": "beta", "source_key": "b1", "platform": "Beta", **ml},
        {"source": "gamma", "source_key": "c1", "title": "Other Thing", "awarding_body": "Elsewhere College"},
    ]
    first = offerings(base)
    r1 = resolve_report(first, cache=tmp_path)
    assert r1.pairs["gamma_title"].to_list() == ["exact_distinct"]
    # Source alpha now lists the title a second time, for another body: a1 itself is unchanged.
    second = offerings([*base, {"source": "alpha", "source_key": "a2", "platform": "Alpha",
                                **{**ml, "awarding_body": "Kestrel Polytechnic"}}])
    cached = resolve_report(second, cache=tmp_path)
    plain = resolve_report(second)
    _same(cached, plain)
    a1b1 = cached.named_pairs().filter(
        pl.col("offering_id_l").is_in([offering_id("alpha", "a1"), offering_id("beta", "b1")])
        & pl.col("offering_id_r").is_in([offering_id("alpha", "a1"), offering_id("beta", "b1")])
    )
    assert a1b1["gamma_title"].to_list() == ["exact"]
    assert cached.stats["cache"]["rows_unchanged"] < first.height


def test_cache_from_other_settings_is_ignored(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    first, second = catalogs
    settings = default_settings()
    resolve_report(first, settings, cache=tmp_path)
    w = settings.weights
    title = dict(w.levels["title"])
    title["exact"] = type(title["exact"])(title["exact"].m, title["exact"].u * 4)  # a refit weight
    other = settings.with_weights(Weights(prior=w.prior, levels={**w.levels, "title": title}, floors=w.floors))
    for changed in (other, settings.with_cluster(link_probability=0.7)):
        cached = resolve_report(second, changed, cache=tmp_path)
        assert cached.stats["cache"]["status"] == "ignored: other settings"
        assert cached.stats["cache"]["pairs_reused"] == 0
        _same(cached, resolve_report(second, changed))
        resolve_report(first, settings, cache=tmp_path)  # back to the first settings' cache


def test_settings_digest_covers_pruning_and_comparisons() -> None:
    settings = default_settings()
    base = cache.settings_digest(settings.comparisons, None)
    assert base == cache.settings_digest(settings.comparisons, None)
    from normalize.dedup import scoring

    bounds = scoring.pruning(settings.comparisons, settings.weights, 0.5)
    assert cache.settings_digest(settings.comparisons, bounds) != base
    assert cache.settings_digest(settings.comparisons, scoring.pruning(settings.comparisons, settings.weights, 0.6)) \
        != cache.settings_digest(settings.comparisons, bounds)
    assert cache.settings_digest(settings.comparisons[:-1], None) != base


def test_settings_digest_follows_code_and_library_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    comparisons = default_settings().comparisons
    base = cache.settings_digest(comparisons, None)
    monkeypatch.setattr(cache.rapidfuzz, "__version__", "0.0.0")
    assert cache.settings_digest(comparisons, None) != base
    monkeypatch.undo()
    copy = tmp_path / "dedup"
    shutil.copytree(Path(cache.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "_PACKAGE", copy)
    assert cache.settings_digest(comparisons, None) == base
    for edited in (copy / "compare.py", copy / "data" / "text_rules.json"):
        original = edited.read_bytes()
        edited.write_bytes(original + b"\n")
        assert cache.settings_digest(comparisons, None) != base, edited.name
        edited.write_bytes(original)


def _damage(folder: Path, how: str) -> None:
    meta_path = folder / cache.META
    meta = json.loads(meta_path.read_text())
    pairs = folder / meta["pairs"]["file"]
    if how == "flip_byte":
        data = bytearray(pairs.read_bytes())
        data[len(data) // 2] ^= 0xFF
        pairs.write_bytes(bytes(data))
    elif how == "truncate":
        pairs.write_bytes(pairs.read_bytes()[:100])
    elif how == "missing_file":
        pairs.unlink()
    elif how == "meta_not_json":
        meta_path.write_text("{not json")
    elif how == "meta_wrong_count":
        meta["pairs"]["n"] += 1
        meta_path.write_text(json.dumps(meta))
    elif how == "garbage_with_valid_checksum":
        # A well-formed Arrow file with the checksum recorded, but level indices out of range.
        frame = pl.read_ipc(pairs).with_columns(pl.col("gamma_title").fill_null(0) + 100)
        frame.write_ipc(pairs, compression="lz4")
        meta["pairs"].update(bytes=pairs.stat().st_size, sha256=file_sha256(pairs))
        meta_path.write_text(json.dumps(meta))
    elif how == "duplicate_keys":
        frame = pl.read_ipc(pairs)
        frame = pl.concat([frame, frame.head(5)])
        frame.write_ipc(pairs, compression="lz4")
        meta["pairs"].update(n=frame.height, bytes=pairs.stat().st_size, sha256=file_sha256(pairs))
        meta_path.write_text(json.dumps(meta))
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["flip_byte", "truncate", "missing_file", "meta_not_json", "meta_wrong_count",
                                 "garbage_with_valid_checksum", "duplicate_keys"])
def test_damaged_cache_is_ignored(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame], how: str) -> None:
    first, second = catalogs
    resolve_report(first, cache=tmp_path)
    _damage(tmp_path, how)
    cached = resolve_report(second, cache=tmp_path)
    assert cached.stats["cache"]["status"].startswith("ignored"), cached.stats["cache"]
    assert cached.stats["cache"]["pairs_reused"] == 0
    _same(cached, resolve_report(second))
    # ... and replaced by a good one.
    assert resolve_report(second, cache=tmp_path).stats["cache"]["pairs_computed"] == 0


def test_unwritable_cache_folder_is_recorded_not_raised(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    first, _ = catalogs
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    report = resolve_report(first, cache=blocker)
    assert report.stats["cache"]["written"] is False and report.stats["cache"]["write_error"]
    _same(report, resolve_report(first))


def test_compare_reads_only_the_digested_columns(catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """compare sees nothing but the digested columns: with every other column dropped (row
    order kept), it gives the same levels, so an unchanged digest means unchanged inputs."""
    from normalize.dedup import blocking, scoring

    settings = default_settings()
    prepared = prepare.prepare(catalogs[1], settings.text)
    pairs, _ = blocking.block(prepared, settings.blocking)
    bounds = scoring.pruning(settings.comparisons, settings.weights, settings.cluster.link_probability)
    columns = cache.compared_columns(settings.comparisons)
    full = compare.compare(prepared, pairs, settings.comparisons, bounds)
    assert_frame_equal(compare.compare(prepared.select(columns), pairs, settings.comparisons, bounds), full)
    # Each of those columns moves the digest of a row whose value in it changes.
    digests = cache.row_digests(prepared, columns)
    for column in columns:
        dtype = prepared.schema[column]
        value = pl.lit("zz-changed") if dtype == pl.String else pl.lit(123456.5).cast(dtype)
        moved = cache.row_digests(prepared.head(3).with_columns(value.alias(column)), columns)
        assert (moved["d0"] != digests["d0"].head(3)).all(), column


def test_row_digests_tell_signed_zeros_apart() -> None:
    """Polars hashes -0.0 like 0.0; the digest must not, or a value moving between them would
    be taken as unchanged (and a cached row would differ from an uncached one)."""
    frame = pl.DataFrame({"offering_id": ["a", "b", "c", "d"], "x": [0.0, -0.0, None, 1.5],
                          "y": ["p", "p", "p", "p"]})
    digests = cache.row_digests(frame, ["x", "y"])
    assert digests["d0"].n_unique() == 4 and digests["d1"].n_unique() == 4
    again = cache.row_digests(frame.with_columns(pl.col("x") * 1.0), ["x", "y"])
    assert_frame_equal(again, digests)


def test_the_equality_check_catches_a_digest_that_misses_a_column(
    tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sabotaged digest (price left out) reuses stale price levels: the comparison with an
    uncached run must see it, or the tests above could not fail."""
    first, second = catalogs
    real = cache.compared_columns
    monkeypatch.setattr(cache, "compared_columns", lambda comps: [c for c in real(comps) if c != "price_usd"])
    resolve_report(first, cache=tmp_path)
    cached = resolve_report(second, cache=tmp_path)
    monkeypatch.undo()
    plain = resolve_report(second)
    with pytest.raises(AssertionError):
        assert_frame_equal(cached.pairs, plain.pairs)
