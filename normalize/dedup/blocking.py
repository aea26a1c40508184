"""Blocking: which pairs of offerings are worth comparing. Never a cross product.

Each rule (settings.BlockingRule, read from data/rules.json) groups prepared rows by its key
columns; every pair inside a block is a candidate. Rules are unioned and pairs deduplicated,
each pair remembering the first rule that produced it (Splink's ``match_key``).

Big blocks are where the quadratic cost hides ('introduction to python' across a thousand
universities). A block larger than its rule's ``max_block_size`` is not expanded; its rows are
sorted by the rule's ``sort_column`` and each is paired with the next ``window`` rows
(sorted neighbourhood), so its cost is linear in its size. ``window=0`` skips such blocks.
Both cases are reported.

Test offerings only ever pair with test offerings: ``is_test`` is part of every block key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from normalize.dedup.settings import BlockingRule

_HALF = pl.lit(1 << 32, dtype=pl.UInt64)  # rid_l * 2^32 + rid_r packs a pair into one u64
PAIR_SCHEMA = pl.Schema({"rid_l": pl.UInt32(), "rid_r": pl.UInt32(), "rule": pl.String()})  # rule: Enum of rule names


@dataclass
class BlockingStats:
    """What blocking did: per rule, pairs generated, pairs new to the union, oversized blocks."""

    n_records: int = 0
    n_pairs: int = 0
    rules: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"n_records": self.n_records, "n_pairs": self.n_pairs, "rules": self.rules}


def _block_ids(prepared: pl.DataFrame, rule: BlockingRule) -> pl.DataFrame:
    """rid, block (a hash of the key values and is_test), sort value; rows with a null or empty key drop out."""
    keys = [pl.col(c) for c in rule.columns]
    usable = pl.all_horizontal(
        [k.is_not_null() & (k.cast(pl.String).str.len_chars() > 0) for k in keys]
    )
    return prepared.filter(usable).select(
        "rid",
        # A 64-bit hash joins faster than the key strings; a collision only merges two blocks
        # (extra candidates, each still judged on its merits), it never loses a pair.
        block=pl.struct([*rule.columns, "is_test"]).hash(seed=0),
        sort_value=pl.col(rule.sort_column),
    )


def _pairs_within(small: pl.DataFrame) -> pl.DataFrame:
    """All pairs inside blocks already known to be small (size <= max_block_size)."""
    left = small.select("block", rid_l="rid")
    right = small.select("block", rid_r="rid")
    return left.join(right, on="block").filter(pl.col("rid_l") < pl.col("rid_r")).select("rid_l", "rid_r")


def _pairs_windowed(big: pl.DataFrame, window: int) -> pl.DataFrame:
    """Sorted neighbourhood inside oversized blocks: each row with its next ``window`` rows."""
    if window <= 0 or big.is_empty():
        return pl.DataFrame(schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32})
    # Sorted, a row's k-th neighbour is k rows down if it is in the same block: shifts, no joins.
    ordered = big.sort(["block", "sort_value", "rid"], nulls_last=True).select("block", "rid")
    frames = [
        ordered.select(rid_l="rid", rid_r=pl.col("rid").shift(-offset), same=pl.col("block") == pl.col("block").shift(-offset))
        .filter(pl.col("same"))
        .drop("same")
        for offset in range(1, window + 1)
    ]
    return pl.concat(frames).select(
        rid_l=pl.min_horizontal("rid_l", "rid_r"), rid_r=pl.max_horizontal("rid_l", "rid_r")
    )


def _drop_same_source(source_codes: pl.Series, pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.filter(source_codes.gather(pairs["rid_l"]) != source_codes.gather(pairs["rid_r"]))


def _source_codes(prepared: pl.DataFrame) -> pl.Series:
    """One integer per source: comparing codes of millions of pairs beats comparing strings."""
    return prepared.select(pl.col("source").rank("dense")).to_series()


def pairs_for_rule(
    prepared: pl.DataFrame,
    rule: BlockingRule,
    exclude_same_source: bool = True,
    source_codes: pl.Series | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Candidate pairs (rid_l < rid_r) of one rule, and its statistics.

    With ``exclude_same_source``, pairs of two listings of one source are dropped here: they
    can never link (clustering forbids it), so comparing them wastes time, and counting them
    among candidates would skew the fitted u probabilities (a college lists many courses
    named alike, none of them duplicates).
    """
    ids = _block_ids(prepared, rule)
    sizes = ids.group_by("block").agg(size=pl.len())
    ids = ids.join(sizes, on="block")
    small = ids.filter((pl.col("size") > 1) & (pl.col("size") <= rule.max_block_size))
    big = ids.filter(pl.col("size") > rule.max_block_size)
    # A record has one key per rule, so it sits in one block: pairs of one rule are already
    # unique (no costly dedup here; the union across rules dedups once).
    pairs = pl.concat([_pairs_within(small), _pairs_windowed(big, rule.window)])
    generated = pairs.height
    if exclude_same_source:
        codes = source_codes if source_codes is not None else _source_codes(prepared)
        pairs = _drop_same_source(codes, pairs)
    big_sizes = sizes.filter(pl.col("size") > rule.max_block_size)["size"]
    stats = {
        "keyed_records": ids.height,
        "blocks": sizes.height,
        "largest_block": int(sizes["size"].max() or 0),
        "oversized_blocks": big_sizes.len(),
        "records_in_oversized_blocks": int(big_sizes.sum() or 0),
        "oversized_handling": ("window" if rule.window > 0 else "skipped") if big_sizes.len() else "none",
        "same_source_pairs_dropped": generated - pairs.height,
        "pairs": pairs.height,
    }
    return pairs, stats


def block(
    prepared: pl.DataFrame, rules: Sequence[BlockingRule], exclude_same_source: bool = True
) -> tuple[pl.DataFrame, BlockingStats]:
    """Union of every rule's pairs, deduplicated; each pair keeps the first rule that found it.

    Returns (pairs[rid_l, rid_r, rule], stats). ``stats.rules[name]['new_pairs']`` says how many
    pairs only that rule (or a later one) found, which is how a rule earns its keep.
    """
    stats = BlockingStats(n_records=prepared.height)
    codes = _source_codes(prepared)
    frames: list[pl.DataFrame] = []
    for order, rule in enumerate(rules):
        pairs, rule_stats = pairs_for_rule(prepared, rule, exclude_same_source, codes)
        stats.rules[rule.name] = rule_stats
        # One u64 per pair (rid_l in the high half): dedup on one integer column is far
        # cheaper than on two.
        frames.append(
            pairs.select(
                pair=pl.col("rid_l").cast(pl.UInt64) * _HALF + pl.col("rid_r").cast(pl.UInt64),
                order=pl.lit(order, dtype=pl.UInt8),
            )
        )
    if not frames:
        return pl.DataFrame(schema=PAIR_SCHEMA), stats
    # Sorted by (pair, rule order), the first row of each pair names the first rule that
    # found it; a sort plus a linear dedup beats a hash group-by at tens of millions of rows.
    union = (
        pl.concat(frames)
        .sort("pair", "order")
        .unique("pair", keep="first", maintain_order=True)
        .select(
            rid_l=(pl.col("pair") // _HALF).cast(pl.UInt32),
            rid_r=(pl.col("pair") % _HALF).cast(pl.UInt32),
            order="order",
        )
    )
    names = [r.name for r in rules]
    new_counts = union.group_by("order").agg(n=pl.len())
    for order, n in new_counts.iter_rows():
        stats.rules[rules[order].name]["new_pairs"] = n
    for rule in rules:
        stats.rules[rule.name].setdefault("new_pairs", 0)
    stats.n_pairs = union.height
    pairs = union.select(
        pl.col("rid_l").cast(pl.UInt32),
        pl.col("rid_r").cast(pl.UInt32),
        # An Enum keeps millions of rule names at one byte each.
        rule=pl.col("order").replace_strict(dict(enumerate(names)), return_dtype=pl.Enum(names)),
    )
    return pairs, stats
