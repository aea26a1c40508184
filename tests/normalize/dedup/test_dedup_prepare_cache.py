"""The prepare cache (normalize/dedup/cache.py, PrepareCache): a cached prepare equals an uncached one.

Run 1 prepares (and resolves) a synthetic catalog and writes the cache; run 2, on the catalog
with ~2% of offerings changed (titles, awarding bodies, urls, descriptions), some removed, some
added and the rows shuffled, must give exactly the prepared frame (every column, every row, row
order and rids) and the links of an uncached run, while reusing most titles and rows. Keys that
move with the corpus (provider vocabulary, spacing, rare tokens, distinct titles) must follow
it; damaged, foreign or unwritable caches are ignored; a broken digest is caught.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from dedup_fixtures import offerings, synthetic_catalog
from polars.testing import assert_frame_equal

from normalize.dedup import cache, default_settings, prepare, resolve_report
from normalize.dedup.cache import PrepareCache
from normalize.digests import file_sha256
from normalize.schema import offering_id

RULES = default_settings().text


def _mutated(frame: pl.DataFrame, seed: int = 5) -> pl.DataFrame:
    """~2% changed (title, awarding body, url, description), ~1% removed, ~1% added, shuffled."""
    rng = random.Random(seed)
    ids = frame["offering_id"].to_list()
    picked = rng.sample(ids, len(ids) * 5 // 100)
    retitle, reprovide, reurl, redescribe, removed = (set(picked[i::5]) for i in range(5))

    def when(ids: set[str], then: pl.Expr, column: str) -> pl.Expr:
        return pl.when(pl.col("offering_id").is_in(list(ids))).then(then).otherwise(pl.col(column)).alias(column)

    changed = frame.filter(~pl.col("offering_id").is_in(list(removed))).with_columns(
        when(retitle, pl.concat_str(pl.lit("Org 3 University: "), pl.col("title"), pl.lit(" - Org 4 University")), "title"),
        when(reprovide, pl.lit("Org 1 University"), "awarding_body"),
        when(reurl, pl.concat_str(pl.col("url"), pl.lit("?utm_source=x&page=2")), "url"),
        when(redescribe, pl.concat_str(pl.lit("Now updated. "), pl.col("description"), pl.lit(" New modules added")),
             "description"),
    )
    donors = frame.sample(len(ids) // 100, seed=seed)
    added = donors.with_columns(source_key=pl.concat_str(pl.lit("new-"), pl.col("source_key"))).with_columns(
        offering_id=pl.struct("source", "source_key").map_elements(
            lambda r: offering_id(r["source"], r["source_key"]), return_dtype=pl.String
        )
    )
    return pl.concat([changed, added]).sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.fixture(scope="module")
def catalogs() -> tuple[pl.DataFrame, pl.DataFrame]:
    frame, _ = synthetic_catalog(5000, seed=9)
    return frame, _mutated(frame)


def _cached_prepare(frame: pl.DataFrame, folder: Path, rules=RULES) -> tuple[pl.DataFrame, dict]:
    """prepare with the cache in ``folder``, then the cache written (as resolve_report does)."""
    c = PrepareCache(folder)
    prepared = prepare.prepare(frame, rules, c)
    c.write()
    return prepared, c.stats.as_dict()


def test_cached_prepare_equals_uncached(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    first, second = catalogs
    p1, s1 = _cached_prepare(first, tmp_path)
    assert s1["status"] == "absent" and s1["written"]
    assert s1["titles_reused"] == s1["rows_reused"] == 0
    assert_frame_equal(p1, prepare.prepare(first, RULES))

    p2, s2 = _cached_prepare(second, tmp_path)
    plain = prepare.prepare(second, RULES)
    assert_frame_equal(p2, plain)  # every column, every row, same order and rids
    assert s2["status"] == "hit"
    # Titles are keyed by the string prepare works them out from (own provider's prefix cut).
    n_titles = prepare.title_strings(second, RULES).n_unique()
    assert s2["titles_reused"] + s2["titles_computed"] == n_titles
    assert 0.8 * n_titles < s2["titles_reused"] < n_titles
    assert s2["rows_reused"] + s2["rows_computed"] == second.height
    # Changed urls/descriptions (~2%) and new offerings (~1%) computed, the rest reused.
    assert 0.94 * second.height < s2["rows_reused"] < 0.98 * second.height

    # Unchanged input: everything reused, still the same frame.
    p3, s3 = _cached_prepare(second, tmp_path)
    assert s3["titles_computed"] == 0 and s3["rows_computed"] == 0
    assert_frame_equal(p3, plain)
    # One generation on disk.
    assert sorted(p.name.split("-")[1] for p in tmp_path.glob("prepare-*.arrow")) == ["rows", "titles"]


def test_resolve_report_with_cache_equals_uncached(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    first, second = catalogs
    r1 = resolve_report(first, cache=tmp_path)
    assert r1.stats["cache"]["prepare"]["status"] == "absent" and r1.stats["cache"]["prepare"]["written"]
    cached = resolve_report(second, previous_links=r1.links, cache=tmp_path)
    plain = resolve_report(second, previous_links=r1.links)
    assert_frame_equal(cached.links, plain.links)
    assert_frame_equal(cached.pairs, plain.pairs)
    stats = cached.stats["cache"]["prepare"]
    assert stats["status"] == "hit" and stats["titles_reused"] > 0 and stats["rows_reused"] > 0
    assert {"prepare", "prepare_cache_read", "prepare_cache_write"} <= set(cached.stats["seconds"])
    assert cached.stats["cache"]["status"] == "hit"  # the comparison cache, next to it, still works


def _row(title: str, body: str, source: str, key: str, **extra) -> dict:
    return {"title": title, "awarding_body": body, "source": source, "source_key": key, "language": "en",
            "url": f"https://{source}.example.org/{key}",
            "description": f"A long enough description of {title} with several more words here.", **extra}


def _check_corpus_change(tmp_path: Path, before: pl.DataFrame, after: pl.DataFrame, oid: str, column: str) -> dict:
    """Run 1 on ``before`` (cached), run 2 on ``after``: cached == uncached, and ``column`` of
    offering ``oid`` moved between the runs (so the test exercises a moved key)."""
    _cached_prepare(before, tmp_path)
    cached, stats = _cached_prepare(after, tmp_path)
    plain = prepare.prepare(after, RULES)
    assert_frame_equal(cached, plain)
    old = prepare.prepare(before, RULES).filter(pl.col("offering_id") == oid)[column].item()
    new = plain.filter(pl.col("offering_id") == oid)[column].item()
    assert old != new, (column, old, new)
    return stats


def test_new_organization_moves_title_prefix_and_suffix(tmp_path: Path) -> None:
    """'Kestrel Labs: ...' and '... - Kestrel Labs' are cut once Kestrel Labs is an organization
    of the corpus (the vocabulary): the cached titles' facts no longer hold, they are recomputed."""
    base = [
        _row("Kestrel Labs: Quantum Widgets", "Northfield University", "alpha", "a1"),
        _row("Applied Robotics - Kestrel Labs", "Northfield University", "beta", "b1"),
        _row("Data Science", "Elsewhere College", "gamma", "c1"),
    ]
    before = offerings(base)
    after = offerings([*base, _row("Widgets", "Kestrel Labs", "gamma", "c2")])
    stats = _check_corpus_change(tmp_path / "in", before, after, offering_id("alpha", "a1"), "title_key")
    # Recomputed: the two titles naming Kestrel Labs, and the new 'Widgets'; 'Data Science' reused.
    assert (stats["titles_computed"], stats["titles_reused"]) == (3, 1)
    _check_corpus_change(tmp_path / "in2", before, after, offering_id("beta", "b1"), "title_key")
    # ... and back: the organization leaves, the titles are kept whole again.
    _check_corpus_change(tmp_path / "out", after, before, offering_id("alpha", "a1"), "title_key")


def test_spacing_rare_and_distinct_keys_follow_the_corpus(tmp_path: Path) -> None:
    """Keys computed over the whole corpus move for unchanged offerings: spacing-unified body
    keys (a spelled-out name arrives), rare tokens (a title's token becomes frequent) and
    distinct titles (a source lists the title twice)."""
    base = [
        _row("Quantum Widgets Basics", "KestrelBayInstitute", "alpha", "a1"),
        _row("Quantum Widgets Basics", "Northfield University", "beta", "b1"),
        _row("Zephyr Optics", "Elsewhere College", "gamma", "c1"),
    ]
    before = offerings(base)
    spaced = offerings([*base, _row("Something Else", "Kestrel Bay Institute", "gamma", "c2")])
    _check_corpus_change(tmp_path / "spacing", before, spaced, offering_id("alpha", "a1"), "body_key")
    frequent = offerings([*base, *(_row(f"Basics Course {i}", "Elsewhere College", "delta", f"d{i}") for i in range(4)),
                          *(_row(f"Quantum Course {i}", "Elsewhere College", "delta", f"q{i}") for i in range(4))])
    _check_corpus_change(tmp_path / "rare", before, frequent, offering_id("alpha", "a1"), "rare_key")
    repeated = offerings([*base, _row("Quantum Widgets Basics", "Elsewhere College", "alpha", "a2")])
    _check_corpus_change(tmp_path / "distinct", before, repeated, offering_id("alpha", "a1"), "title_distinct")


def test_other_rules_are_a_foreign_cache(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    first, second = catalogs
    _cached_prepare(first, tmp_path)
    other = replace(RULES, title_synonyms={**RULES.title_synonyms, "robotics": "robot engineering"})
    cached, stats = _cached_prepare(second, tmp_path, other)
    assert stats["status"] == "ignored: other settings" and stats["titles_reused"] == stats["rows_reused"] == 0
    assert_frame_equal(cached, prepare.prepare(second, other))
    assert cache.prepare_digest(other) != cache.prepare_digest(RULES)
    # Order matters to the rules (replace_many tables): it is part of the digest.
    reordered = replace(RULES, title_synonyms=dict(reversed(list(RULES.title_synonyms.items()))))
    assert cache.prepare_digest(reordered) != cache.prepare_digest(RULES)


def _damage(folder: Path, how: str) -> None:
    meta_path = folder / cache.PREPARE_META
    meta = json.loads(meta_path.read_text())
    titles = folder / meta["titles"]["file"]
    rows = folder / meta["rows"]["file"]

    def rewrite(path: Path, frame: pl.DataFrame, part: str) -> None:
        frame.write_ipc(path, compression="lz4")
        meta[part].update(n=frame.height, bytes=path.stat().st_size, sha256=file_sha256(path))
        meta_path.write_text(json.dumps(meta))

    if how == "flip_byte":
        data = bytearray(rows.read_bytes())
        data[len(data) // 2] ^= 0xFF
        rows.write_bytes(bytes(data))
    elif how == "truncate":
        titles.write_bytes(titles.read_bytes()[:100])
    elif how == "missing_file":
        titles.unlink()
    elif how == "meta_not_json":
        meta_path.write_text("{not json")
    elif how == "meta_wrong_count":
        meta["rows"]["n"] += 1
        meta_path.write_text(json.dumps(meta))
    elif how == "other_format":
        meta["format"] = 99
        meta_path.write_text(json.dumps(meta))
    elif how == "duplicate_titles":
        frame = pl.read_ipc(titles)
        rewrite(titles, pl.concat([frame, frame.head(3).with_columns(title_key=pl.lit("wrong"))]), "titles")
    elif how == "duplicate_rows":
        frame = pl.read_ipc(rows)
        rewrite(rows, pl.concat([frame, frame.head(3)]), "rows")
    elif how == "wrong_columns":
        rewrite(rows, pl.read_ipc(rows).drop("url_key"), "rows")
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["flip_byte", "truncate", "missing_file", "meta_not_json", "meta_wrong_count",
                                 "other_format", "duplicate_titles", "duplicate_rows", "wrong_columns"])
def test_damaged_cache_is_ignored(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame], how: str) -> None:
    first, second = catalogs
    _cached_prepare(first, tmp_path)
    _damage(tmp_path, how)
    cached, stats = _cached_prepare(second, tmp_path)
    assert stats["status"].startswith("ignored"), stats
    assert stats["titles_reused"] == stats["rows_reused"] == 0
    assert_frame_equal(cached, prepare.prepare(second, RULES))
    # ... and replaced by a good one.
    _, again = _cached_prepare(second, tmp_path)
    assert again["status"] == "hit" and again["titles_computed"] == again["rows_computed"] == 0


def test_unwritable_cache_folder_is_recorded_not_raised(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    first, _ = catalogs
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    prepared, stats = _cached_prepare(first, blocker)
    assert stats["written"] is False and stats["write_error"]
    assert_frame_equal(prepared, prepare.prepare(first, RULES))


def test_a_broken_digest_is_caught(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Sabotaged digests reuse stale keys; the comparison with an uncached prepare sees it,
    or the tests above could not fail."""
    first, second = catalogs
    # 1. The row digest leaves the description out: changed descriptions keep their old keys.
    monkeypatch.setattr(prepare, "ROW_KEY_INPUTS", ("url",))
    _cached_prepare(first, tmp_path / "rows")
    cached, _ = _cached_prepare(second, tmp_path / "rows")
    monkeypatch.undo()
    with pytest.raises(AssertionError):
        assert_frame_equal(cached, prepare.prepare(second, RULES))
    # 2. The settings digest leaves the rules out: other synonyms reuse the old title keys.
    monkeypatch.setattr(cache, "_canonical", lambda rules: None)
    other = replace(RULES, title_synonyms={**RULES.title_synonyms, "learning": "studies"})
    _cached_prepare(first, tmp_path / "rules")
    cached, stats = _cached_prepare(first, tmp_path / "rules", other)
    monkeypatch.undo()
    assert stats["status"] == "hit"
    with pytest.raises(AssertionError):
        assert_frame_equal(cached, prepare.prepare(first, other))
    # 3. The vocabulary facts are not checked: titles cut under the old vocabulary stay cut.
    gone = first.filter(~pl.col("awarding_body").is_in(["Org 3 University"]))
    prefixed = gone.with_columns(title=pl.concat_str(pl.lit("Org 3 University: "), pl.col("title")))
    with_org = pl.concat([prefixed, offerings([_row("Anything", "Org 3 University", "alpha", "org3")])])
    _cached_prepare(with_org, tmp_path / "vocab")
    monkeypatch.setattr(cache, "_facts_hold", lambda vocab: pl.lit(True))
    cached, _ = _cached_prepare(prefixed, tmp_path / "vocab")
    monkeypatch.undo()
    with pytest.raises(AssertionError):
        assert_frame_equal(cached, prepare.prepare(prefixed, RULES))
    # ... while checked, the same runs agree.
    _cached_prepare(with_org, tmp_path / "vocab")
    assert_frame_equal(_cached_prepare(prefixed, tmp_path / "vocab")[0], prepare.prepare(prefixed, RULES))
