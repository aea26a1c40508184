"""Blocking: candidate pairs grow about linearly with the catalog, never as a cross product."""

from __future__ import annotations

import polars as pl
from dedup_fixtures import offerings, synthetic_catalog

from normalize.dedup import blocking, prepare
from normalize.dedup.settings import BlockingRule, default_settings

SETTINGS = default_settings()


def candidate_pairs(frame: pl.DataFrame, rules: tuple[BlockingRule, ...] = SETTINGS.blocking) -> tuple[pl.DataFrame, blocking.BlockingStats]:
    return blocking.block(prepare.prepare(frame, SETTINGS.text), rules)


def test_pairs_grow_about_linearly() -> None:
    counts = {}
    for n in (2_000, 8_000):
        frame, _ = synthetic_catalog(n, seed=3)
        pairs, stats = candidate_pairs(frame)
        counts[n] = pairs.height
        assert stats.n_pairs == pairs.height
        # Far below the cross product n(n-1)/2 ...
        assert pairs.height < 20 * n
    # ... and 4x the records gives about 4x the pairs, not 16x.
    assert counts[8_000] / counts[2_000] < 6


def test_pairs_are_unique_ordered_and_name_their_rule() -> None:
    frame, _ = synthetic_catalog(1_000, seed=5)
    pairs, stats = candidate_pairs(frame)
    assert pairs.filter(pl.col("rid_l") >= pl.col("rid_r")).is_empty()
    assert pairs.select("rid_l", "rid_r").is_duplicated().sum() == 0
    assert set(pairs["rule"].cast(pl.String).unique()) <= {r.name for r in SETTINGS.blocking}
    # Per-rule statistics add up: every pair is new to exactly one rule.
    assert sum(r["new_pairs"] for r in stats.rules.values()) == pairs.height


def test_oversized_block_falls_back_to_a_window_and_is_reported() -> None:
    # 300 offerings with one title, each from its own source: one block of 300.
    frame = offerings(
        {"title": "Introduction to Python", "source": f"s{i}", "source_key": "1", "awarding_body": f"Uni {i}"}
        for i in range(300)
    )
    rule = BlockingRule(name="title_core", columns=("title_core",), max_block_size=50, window=4)
    pairs, stats = candidate_pairs(frame, (rule,))
    assert stats.rules["title_core"]["oversized_blocks"] == 1
    assert stats.rules["title_core"]["records_in_oversized_blocks"] == 300
    assert stats.rules["title_core"]["oversized_handling"] == "window"
    assert pairs.height <= 300 * 4  # not 300 * 299 / 2
    skipped = BlockingRule(name="title_core", columns=("title_core",), max_block_size=50, window=0)
    pairs, stats = candidate_pairs(frame, (skipped,))
    assert pairs.is_empty()
    assert stats.rules["title_core"]["oversized_handling"] == "skipped"


def test_test_offerings_never_pair_with_real_ones() -> None:
    frame = offerings(
        [
            {"title": "Machine Learning", "source": "a", "source_key": "1"},
            {"title": "Machine Learning", "source": "b", "source_key": "2", "is_test": True},
            {"title": "Machine Learning", "source": "c", "source_key": "3"},
        ]
    )
    pairs, _ = candidate_pairs(frame)
    prepared = prepare.prepare(frame, SETTINGS.text)
    is_test = prepared["is_test"]
    assert (is_test.gather(pairs["rid_l"]) == is_test.gather(pairs["rid_r"])).all()
    assert pairs.height == 1


def test_same_source_pairs_are_not_candidates() -> None:
    frame = offerings(
        [
            {"title": "Machine Learning", "source": "college", "source_key": "1"},
            {"title": "Machine Learning", "source": "college", "source_key": "2"},
            {"title": "Machine Learning", "source": "platform", "source_key": "3"},
        ]
    )
    pairs, stats = candidate_pairs(frame)
    assert pairs.height == 2
    assert stats.rules["title_core"]["same_source_pairs_dropped"] == 1


def test_rare_tokens_find_reordered_titles() -> None:
    frame = offerings(
        [
            {"title": "Bayesian Statistics for Epidemiology", "source": "a", "source_key": "1"},
            {"title": "Epidemiology: Bayesian Statistics", "source": "b", "source_key": "2"},
            {"title": "Statistics for Everyone", "source": "c", "source_key": "3"},
            {"title": "Epidemiology for Everyone", "source": "d", "source_key": "4"},
        ]
    )
    pairs, _ = candidate_pairs(frame)
    ids = prepare.prepare(frame, SETTINGS.text)["offering_id"]
    found = {frozenset((ids[a], ids[b])) for a, b in pairs.select("rid_l", "rid_r").iter_rows()}
    assert frozenset((frame["offering_id"][0], frame["offering_id"][1])) in found
