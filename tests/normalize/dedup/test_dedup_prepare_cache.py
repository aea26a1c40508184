"""The prepare cache (normalize/dedup/cache.py, PrepareCache): a cached prepare equals an uncached one.

Run 1 prepares (and resolves) a synthetic catalog and writes the cache; run 2, on the catalog
with ~2% of offerings changed (titles, awarding bodies, urls, descriptions), some removed, some
added and the rows shuffled, must give exactly the prepared frame (every column, every row, row
order and rids) and the links of an uncached run, while reusing most rows as they were. Keys
that move with the corpus (provider vocabulary and names, spacing and handles, rare tokens,
distinct titles) must follow it, in both directions (offerings arriving and leaving); a cache
carried over several runs stays exact; damaged, foreign or unwritable caches are ignored; a
broken digest or fact check is caught.
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


def _mutated(frame: pl.DataFrame, seed: int = 5, prefix: str = "new-") -> pl.DataFrame:
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
    added = donors.with_columns(source_key=pl.concat_str(pl.lit(prefix), pl.col("source_key"))).with_columns(
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
    assert s1["rows_reused"] == 0 and s1["rows_computed"] == first.height
    assert_frame_equal(p1, prepare.prepare(first, RULES))

    base_file = json.loads((tmp_path / cache.PREPARE_META).read_text())["base"]["file"]
    p2, s2 = _cached_prepare(second, tmp_path)
    plain = prepare.prepare(second, RULES)
    assert_frame_equal(p2, plain)  # every column, every row, same order and rids
    assert s2["status"] == "hit"
    assert s2["rows_reused"] + s2["rows_computed"] == second.height
    # Changed titles/bodies/urls/descriptions (~4% of the rows) and new offerings (~1%) are
    # worked out again (with the rows a moved corpus fact reaches), the rest kept as they were.
    assert 0.9 * second.height < s2["rows_reused"] < 0.97 * second.height
    # Titles of the recomputed rows: most are titles the old rows hold (taken from them).
    assert s2["titles_reused"] > s2["titles_computed"] > 0
    assert s2["rows_redone"]["rare_key"] >= s2["rows_computed"]
    # Only the rows that are not a row of the first run's base as it was are written again;
    # the base file is carried over.
    assert s2["written_rows"] < 0.1 * second.height
    assert json.loads((tmp_path / cache.PREPARE_META).read_text())["base"]["file"] == base_file

    # Unchanged input (other fetch times and prices: copied, never keyed): everything reused.
    moved = second.with_columns(pl.col("fetched_at").dt.offset_by("1d"), pl.col("price_usd") * 2)
    p3, s3 = _cached_prepare(moved, tmp_path)
    assert s3["rows_computed"] == 0 and s3["titles_computed"] == 0
    assert_frame_equal(p3, prepare.prepare(moved, RULES))
    # One generation on disk.
    assert sorted(p.name.split("-")[1] for p in tmp_path.glob("prepare-*.parquet")) == [
        "base", "delta", "live", "names", "orgs", "tokens", "vocab"]


def test_cache_carried_over_several_runs_stays_exact(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """Each run starts from the state the previous cached run left (token ids, kept rows):
    five successive re-crawls, each compared with an uncached prepare."""
    frame, _ = catalogs
    _cached_prepare(frame, tmp_path)
    bases = set()
    for seed in range(11, 19):
        frame = _mutated(frame, seed=seed, prefix=f"new{seed}-")
        cached, stats = _cached_prepare(frame, tmp_path)
        assert stats["status"] == "hit"
        assert_frame_equal(cached, prepare.prepare(frame, RULES))
        bases.add(json.loads((tmp_path / cache.PREPARE_META).read_text())["base"]["file"])
    # The delta grew past a fifth of the base at least once: the base was rewritten (compacted).
    assert len(bases) >= 2


def test_resolve_report_with_cache_equals_uncached(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    first, second = catalogs
    r1 = resolve_report(first, cache=tmp_path)
    assert r1.stats["cache"]["prepare"]["status"] == "absent" and r1.stats["cache"]["prepare"]["written"]
    cached = resolve_report(second, previous_links=r1.links, cache=tmp_path)
    plain = resolve_report(second, previous_links=r1.links)
    assert_frame_equal(cached.links, plain.links)
    assert_frame_equal(cached.pairs, plain.pairs)
    stats = cached.stats["cache"]["prepare"]
    assert stats["status"] == "hit" and stats["rows_reused"] > 0.9 * second.height
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
    # Recomputed: the two rows whose title names Kestrel Labs (their vocabulary facts no longer
    # hold) and the new 'Widgets'; 'Data Science' kept as it was.
    assert (stats["rows_computed"], stats["rows_reused"], stats["titles_computed"]) == (3, 1, 3)
    _check_corpus_change(tmp_path / "in2", before, after, offering_id("beta", "b1"), "title_key")
    # ... and back: the organization leaves, the titles are kept whole again.
    _check_corpus_change(tmp_path / "out", after, before, offering_id("alpha", "a1"), "title_key")


def test_spacing_rare_and_distinct_keys_follow_the_corpus(tmp_path: Path) -> None:
    """Keys computed over the whole corpus move for unchanged offerings: spacing-unified body
    keys (a spelled-out name arrives), rare tokens (a title's token becomes frequent, crossing
    the others) and distinct titles (a source lists the title twice); and move back when
    those offerings are removed again."""
    base = [
        _row("Quantum Widgets Basics", "KestrelBayInstitute", "alpha", "a1"),
        _row("Quantum Widgets Basics", "Northfield University", "beta", "b1"),
        _row("Zephyr Optics", "Elsewhere College", "gamma", "c1"),
    ]
    before = offerings(base)
    spaced = offerings([*base, _row("Something Else", "Kestrel Bay Institute", "gamma", "c2")])
    frequent = offerings([*base, *(_row(f"Basics Course {i}", "Elsewhere College", "delta", f"d{i}") for i in range(4)),
                          *(_row(f"Quantum Course {i}", "Elsewhere College", "delta", f"q{i}") for i in range(4))])
    repeated = offerings([*base, _row("Quantum Widgets Basics", "Elsewhere College", "alpha", "a2")])
    a1 = offering_id("alpha", "a1")
    for name, after, column in (("spacing", spaced, "body_key"), ("rare", frequent, "rare_key"),
                                ("distinct", repeated, "title_distinct")):
        stats = _check_corpus_change(tmp_path / name, before, after, a1, column)
        assert stats["status"] == "hit"
        # ... and back: the offerings that moved it are removed.
        _check_corpus_change(tmp_path / f"{name}-back", after, before, a1, column)


def test_rare_key_follows_frequencies_crossing(tmp_path: Path) -> None:
    """Two tokens of an unchanged title swap places in frequency, one step at a time, over
    successive runs (added and removed offerings elsewhere): its rare key follows."""
    target = _row("Alpha Beta Gamma Delta", "Northfield University", "alpha", "t1")
    others = [_row(f"Alpha Topic {i}", "Elsewhere College", "beta", f"a{i}") for i in range(3)]
    others += [_row(f"Gamma Topic {i}", "Elsewhere College", "gamma", f"g{i}") for i in range(2)]
    runs = [others, others[:1] + others[3:], others[3:] + [_row(f"Beta Topic {i}", "Elsewhere College", "beta", f"b{i}")
                                                             for i in range(4)], others]
    folder = tmp_path / "runs"
    seen = []
    for rows in runs:
        frame = offerings([target, *rows])
        cached, stats = _cached_prepare(frame, folder)
        plain = prepare.prepare(frame, RULES)
        assert_frame_equal(cached, plain)
        seen.append(plain.filter(pl.col("offering_id") == offering_id("alpha", "t1"))["rare_key"].item())
        assert seen[-1] is not None
    assert stats["status"] == "hit" and stats["rows_reused"] > 0
    assert len(set(seen)) >= 2 and seen[0] == seen[-1], seen  # it moved, and back


def test_new_organization_names_move_kept_rows(tmp_path: Path) -> None:
    """A new organization name in the corpus moves keys of offerings that did not change: a
    handle ('StoneridgeX') is keyed by its stem once 'Stoneridge College' is an organization,
    an alias of the rules ('MITx') gains initials as a provider name; and back."""
    base = [
        _row("Applied Widgets", "StoneridgeX", "alpha", "a1"),
        _row("MIT: Quantum Widgets", "MITx", "beta", "b1"),
        _row("Data Science", "Elsewhere College", "gamma", "c1"),
    ]
    before = offerings(base)
    stems = offerings([*base, _row("Other", "Stoneridge College", "gamma", "c2")])
    _check_corpus_change(tmp_path / "stem", before, stems, offering_id("alpha", "a1"), "body_key")
    _check_corpus_change(tmp_path / "stem-back", stems, before, offering_id("alpha", "a1"), "body_key")
    alias = offerings([*base, _row("Other", "Massachusetts Institute of Technology", "gamma", "c3")])
    _cached_prepare(before, tmp_path / "alias")
    cached, _ = _cached_prepare(alias, tmp_path / "alias")
    assert_frame_equal(cached, prepare.prepare(alias, RULES))
    cached, _ = _cached_prepare(before, tmp_path / "alias")
    assert_frame_equal(cached, prepare.prepare(before, RULES))


def test_other_rules_are_a_foreign_cache(tmp_path: Path, catalogs: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    first, second = catalogs
    _cached_prepare(first, tmp_path)
    other = replace(RULES, title_synonyms={**RULES.title_synonyms, "robotics": "robot engineering"})
    cached, stats = _cached_prepare(second, tmp_path, other)
    assert stats["status"] == "ignored: other settings" and stats["rows_reused"] == 0
    assert_frame_equal(cached, prepare.prepare(second, other))
    assert cache.prepare_digest(other) != cache.prepare_digest(RULES)
    # Order matters to the rules (replace_many tables): it is part of the digest.
    reordered = replace(RULES, title_synonyms=dict(reversed(list(RULES.title_synonyms.items()))))
    assert cache.prepare_digest(reordered) != cache.prepare_digest(RULES)


def _damage(folder: Path, how: str) -> None:
    meta_path = folder / cache.PREPARE_META
    meta = json.loads(meta_path.read_text())
    orgs = folder / meta["orgs"]["file"]
    rows = folder / meta["base"]["file"]
    live = folder / meta["live"]["file"]
    tokens = folder / meta["tokens"]["file"]

    def rewrite(path: Path, frame: pl.DataFrame, part: str) -> None:
        frame.write_parquet(path)
        meta[part].update(n=frame.height, bytes=path.stat().st_size, sha256=file_sha256(path))
        meta_path.write_text(json.dumps(meta))

    if how == "flip_byte":
        data = bytearray(rows.read_bytes())
        data[len(data) // 2] ^= 0xFF
        rows.write_bytes(bytes(data))
    elif how == "truncate":
        orgs.write_bytes(orgs.read_bytes()[:100])
    elif how == "missing_file":
        tokens.unlink()
    elif how == "meta_not_json":
        meta_path.write_text("{not json")
    elif how == "meta_wrong_count":
        meta["base"]["n"] += 1
        meta_path.write_text(json.dumps(meta))
    elif how == "other_format":
        meta["format"] = 99
        meta_path.write_text(json.dumps(meta))
    elif how == "other_input_types":
        meta["inputs"]["workload_hours_min"] = "Float32"
        meta_path.write_text(json.dumps(meta))
    elif how == "duplicate_orgs":
        frame = pl.read_parquet(orgs)
        rewrite(orgs, pl.concat([frame, frame.head(3).with_columns(org=pl.lit("wrong"))]), "orgs")
    elif how == "duplicate_rows":
        frame = pl.read_parquet(live)
        rewrite(live, pl.concat([frame, frame.head(3)]), "live")
    elif how == "live_out_of_range":
        rewrite(live, pl.read_parquet(live).with_columns(pl.col("row") + 10), "live")
    elif how == "unsorted_rows":
        rewrite(rows, pl.read_parquet(rows).reverse(), "base")
    elif how == "wrong_columns":
        rewrite(rows, pl.read_parquet(rows).drop("url_key"), "base")
    elif how == "token_ids_out_of_range":
        rewrite(tokens, pl.read_parquet(tokens).head(3), "tokens")
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["flip_byte", "truncate", "missing_file", "meta_not_json", "meta_wrong_count",
                                 "other_format", "other_input_types", "duplicate_orgs", "duplicate_rows",
                                 "live_out_of_range", "unsorted_rows", "wrong_columns", "token_ids_out_of_range"])
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
    assert again["status"] == "hit" and again["rows_computed"] == 0


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
    monkeypatch.setattr(prepare, "KEY_INPUTS", tuple(c for c in prepare.KEY_INPUTS if c != "description"))
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
    monkeypatch.setattr(prepare, "_facts_hold", lambda vocab: pl.lit(True))
    cached, _ = _cached_prepare(prefixed, tmp_path / "vocab")
    monkeypatch.undo()
    with pytest.raises(AssertionError):
        assert_frame_equal(cached, prepare.prepare(prefixed, RULES))
    # ... while checked, the same runs agree.
    _cached_prepare(with_org, tmp_path / "vocab")
    assert_frame_equal(_cached_prepare(prefixed, tmp_path / "vocab")[0], prepare.prepare(prefixed, RULES))
