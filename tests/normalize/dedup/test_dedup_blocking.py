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


# --- the NumPy implementation equals the joins and sorts it replaced --------------------------------
#
# ``reference_block`` is the previous implementation of ``blocking.block`` (Polars joins, a
# string sort per rule, a two-column sort for the union), kept here as the specification.


def _reference_rule(prepared: pl.DataFrame, rule: BlockingRule, exclude_same_source: bool) -> tuple[pl.DataFrame, dict]:
    keys = [pl.col(c) for c in rule.columns]
    usable = pl.all_horizontal([k.is_not_null() & (k.cast(pl.String).str.len_chars() > 0) for k in keys])
    ids = prepared.filter(usable).select(
        "rid", block=pl.struct([*rule.columns, "is_test"]).hash(seed=0), sort_value=pl.col(rule.sort_column)
    )
    sizes = ids.group_by("block").agg(size=pl.len())
    ids = ids.join(sizes, on="block")
    small = ids.filter((pl.col("size") > 1) & (pl.col("size") <= rule.max_block_size))
    big = ids.filter(pl.col("size") > rule.max_block_size)
    within = (
        small.select("block", rid_l="rid").join(small.select("block", rid_r="rid"), on="block")
        .filter(pl.col("rid_l") < pl.col("rid_r")).select("rid_l", "rid_r")
    )
    if rule.window <= 0 or big.is_empty():
        windowed = pl.DataFrame(schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32})
    else:
        ordered = big.sort(["block", "sort_value", "rid"], nulls_last=True).select("block", "rid")
        windowed = pl.concat([
            ordered.select(rid_l="rid", rid_r=pl.col("rid").shift(-k), same=pl.col("block") == pl.col("block").shift(-k))
            .filter(pl.col("same")).drop("same")
            for k in range(1, rule.window + 1)
        ]).select(rid_l=pl.min_horizontal("rid_l", "rid_r"), rid_r=pl.max_horizontal("rid_l", "rid_r"))
    pairs = pl.concat([within, windowed])
    generated = pairs.height
    if exclude_same_source:
        codes = prepared.select(pl.col("source").rank("dense")).to_series()
        pairs = pairs.filter(codes.gather(pairs["rid_l"]) != codes.gather(pairs["rid_r"]))
    big_sizes = sizes.filter(pl.col("size") > rule.max_block_size)["size"]
    return pairs, {
        "keyed_records": ids.height,
        "blocks": sizes.height,
        "largest_block": int(sizes["size"].max() or 0),
        "oversized_blocks": big_sizes.len(),
        "records_in_oversized_blocks": int(big_sizes.sum() or 0),
        "oversized_handling": ("window" if rule.window > 0 else "skipped") if big_sizes.len() else "none",
        "same_source_pairs_dropped": generated - pairs.height,
        "pairs": pairs.height,
    }


def reference_block(prepared: pl.DataFrame, rules, exclude_same_source: bool = True) -> tuple[pl.DataFrame, dict]:
    rules_stats, frames = {}, []
    for order, rule in enumerate(rules):
        pairs, rules_stats[rule.name] = _reference_rule(prepared, rule, exclude_same_source)
        frames.append(pairs.select(
            pair=pl.col("rid_l").cast(pl.UInt64) * (1 << 32) + pl.col("rid_r").cast(pl.UInt64),
            order=pl.lit(order, dtype=pl.UInt8),
        ))
    names = [r.name for r in rules]
    union = pl.concat(frames).sort("pair", "order").unique("pair", keep="first", maintain_order=True)
    for rule in rules:
        rules_stats[rule.name]["new_pairs"] = int((union["order"] == names.index(rule.name)).sum())
    pairs = union.select(
        rid_l=(pl.col("pair") // (1 << 32)).cast(pl.UInt32),
        rid_r=(pl.col("pair") % (1 << 32)).cast(pl.UInt32),
        rule=pl.col("order").replace_strict(dict(enumerate(names)), return_dtype=pl.Enum(names)),
    )
    return pairs, {"n_records": prepared.height, "n_pairs": pairs.height, "rules": rules_stats}


def _random_prepared(n: int, seed: int, null_sources: bool = False) -> pl.DataFrame:
    """A prepared-like frame: few key values (big blocks), empty and null keys, repeated and
    null sort values, test rows, few sources (same-source pairs), optionally null sources."""
    import random

    rng = random.Random(seed)

    def pick(values, p_null=0.05):
        return None if rng.random() < p_null else rng.choice(values)

    sources = [f"s{i}" for i in range(5)] + ([None] if null_sources else [])
    return pl.DataFrame({
        "rid": pl.Series(range(n), dtype=pl.UInt32),
        "offering_id": [f"o{i:06d}" for i in range(n)],
        "source": [rng.choice(sources) for _ in range(n)],
        "is_test": [rng.random() < 0.1 for _ in range(n)],
        "title_core": [pick(["a", "b", "", "c d"] + [f"t{i}" for i in range(n // 8)]) for _ in range(n)],
        "rare_key": [pick([f"r{i}" for i in range(n // 30 + 1)], 0.2) for _ in range(n)],
        "body_key": [pick(["x", "y", "zz", ""]) for _ in range(n)],
        "title_prefix": [pick(["pre", "pro", "p"]) for _ in range(n)],
        "url_key": [pick([f"u{i}" for i in range(n // 3)], 0.3) for _ in range(n)],
        "title_key": [pick(["alpha", "beta", "", "Beta", "al", "zeta é", "ß"], 0.1) for _ in range(n)],
        "workload_hours": [pick([1.0, 2.5, float("nan"), -0.0, 0.0]) for _ in range(n)],
    })


RANDOM_RULES = (
    BlockingRule(name="title_core", columns=("title_core",), max_block_size=12, window=3),
    BlockingRule(name="rare", columns=("rare_key",), max_block_size=5, window=2),
    BlockingRule(name="body_prefix", columns=("body_key", "title_prefix"), max_block_size=30, window=4),
    BlockingRule(name="url", columns=("url_key",), max_block_size=3, window=0),
    BlockingRule(name="by_workload", columns=("body_key",), max_block_size=7, window=5, sort_column="workload_hours"),
)


def _assert_same(prepared: pl.DataFrame, rules, exclude_same_source: bool = True) -> None:
    pairs, stats = blocking.block(prepared, rules, exclude_same_source)
    want, want_stats = reference_block(prepared, rules, exclude_same_source)
    assert pairs.schema == want.schema
    assert pairs.equals(want)
    assert stats.as_dict() == want_stats


def test_block_equals_the_reference_on_random_frames() -> None:
    for seed in range(6):
        prepared = _random_prepared(400 + 150 * seed, seed)
        _assert_same(prepared, RANDOM_RULES)
        _assert_same(prepared, RANDOM_RULES, exclude_same_source=False)
        _assert_same(prepared, RANDOM_RULES[2:3])  # a single rule
    # A null source is never the same source as anything, nor different: such pairs are dropped.
    _assert_same(_random_prepared(500, 11, null_sources=True), RANDOM_RULES)


def test_block_equals_the_reference_on_prepared_catalogs() -> None:
    for seed, n in ((3, 3_000), (8, 1_200)):
        frame, _ = synthetic_catalog(n, seed=seed)
        prepared = prepare.prepare(frame, SETTINGS.text)
        _assert_same(prepared, SETTINGS.blocking)
        # Small caps: nearly every block oversized, windows everywhere.
        tight = tuple(BlockingRule(name=r.name, columns=r.columns, max_block_size=3, window=r.window and 2)
                      for r in SETTINGS.blocking)
        _assert_same(prepared, tight)


def test_block_of_nothing() -> None:
    empty = _random_prepared(0, 1)
    _assert_same(empty, RANDOM_RULES)
    pairs, stats = blocking.block(_random_prepared(1, 1), RANDOM_RULES)
    assert pairs.is_empty() and stats.n_pairs == 0
    pairs, stats = blocking.block(_random_prepared(10, 1), ())
    assert pairs.is_empty() and stats.rules == {}
