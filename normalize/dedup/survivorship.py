"""Golden records: one Credential row per cluster, each field's value from one named member.

Members of a cluster are ranked once (rules in data/survivorship.json):

1. ``own_listing``: the awarding body's own listing (no separate platform, or the platform is
   the awarding body itself, or the source is registered as a university/association/...
   source) says best what the body offers;
2. ``completeness``: more fields filled, fewer gaps stitched from elsewhere;
3. ``newest``: latest fetched_at;
4. offering_id, so that the choice is deterministic.

Per field, the best-ranked member that has a value wins, and ``field_sources`` records which
offering it came from. Grouped fields (workload min/max, duration min/max) survive together
from one member. Aggregates span all members: sources, platforms, member ids, price range.
All of it is one sort and one group-by over the members of credentials with two or more;
a credential with one member (most of them) is a projection of its row, the same values
the group-by gives for one row.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from normalize.dedup.prepare import org_keys
from normalize.dedup.settings import SurvivorshipRules, TextRules
from normalize.schema import CREDENTIAL_SCHEMA, OFFERING_SCHEMA


def _has_value(column: str) -> pl.Expr:
    if isinstance(OFFERING_SCHEMA[column], pl.List):
        return pl.col(column).list.len().fill_null(0) > 0
    return pl.col(column).is_not_null()


def own_listing(
    offerings: pl.DataFrame, text: TextRules, own_kinds: tuple[str, ...], source_kinds: Mapping[str, str]
) -> pl.Expr:
    """True for the awarding body's own listing of a credential (an expression over ``offerings``)."""
    keys = org_keys(pl.concat([offerings["platform"], offerings["awarding_body"]]), text)
    platform = pl.col("platform").replace_strict(keys, default=None, return_dtype=pl.String)
    body = pl.col("awarding_body").replace_strict(keys, default=None, return_dtype=pl.String)
    own = pl.col("platform").is_null() | (platform == body).fill_null(False)
    if source_kinds:
        kind = pl.col("source").replace_strict(dict(source_kinds), default=None, return_dtype=pl.String)
        own = own | kind.is_in(list(own_kinds)).fill_null(False)
    return own


def _rank_columns(rules: SurvivorshipRules) -> tuple[list[str], list[bool]]:
    columns, descending = [], []
    for criterion in rules.preference:
        name = {"own_listing": "_own", "completeness": "_completeness", "newest": "fetched_at"}.get(criterion)
        if name is None:
            raise ValueError(f"unknown survivorship preference {criterion!r}")
        columns.append(name)
        descending.append(True)
    return [*columns, "offering_id"], [*descending, False]


def _json_string(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)


def members(
    offerings: pl.DataFrame,
    links: pl.DataFrame,
    rules: SurvivorshipRules,
    text: TextRules,
    source_kinds: Mapping[str, str] | None = None,
) -> pl.LazyFrame:
    """Every linked offering with what survivorship reads (``credential_id``, the ranked and
    aggregated columns, ``_own``, ``_completeness``), unsorted.

    ``_own`` depends on the whole corpus (organization keys are unified over every platform
    and awarding body name of ``offerings``), so it is computed here on all of it, also when
    only some credentials are aggregated afterwards.
    """
    unknown = [f for f in rules.fields if f not in OFFERING_SCHEMA or f not in CREDENTIAL_SCHEMA]
    if unknown:
        raise ValueError(f"survivorship fields missing from the schemas: {unknown}")
    _rank_columns(rules)  # unknown preferences fail here
    return (
        offerings.lazy()
        .select([c for c in offerings.columns if c in member_columns(rules)])
        .join(links.lazy().select("offering_id", "credential_id"), on="offering_id", how="inner")
        .with_columns(
            _own=own_listing(offerings, text, rules.own_listing_kinds, source_kinds or {}),
            _completeness=pl.sum_horizontal([_has_value(f).cast(pl.Int32) for f in rules.fields]),
        )
    )


def member_columns(rules: SurvivorshipRules) -> list[str]:
    """The offering columns survivorship reads (ranking, fields, aggregates), in a fixed order."""
    needed = ["offering_id", "source", "platform", "awarding_body", "fetched_at", "price_usd", *rules.fields]
    return list(dict.fromkeys(needed))


def rank_order(rules: SurvivorshipRules) -> tuple[list[str], list[bool]]:
    """Sort columns and directions of ``members`` rows: by credential, then best-ranked first."""
    order, descending = _rank_columns(rules)
    return ["credential_id", *order], [False, *descending]


def _has_group(f: str, rules: SurvivorshipRules) -> pl.Expr:
    grouped = {g: group for group in rules.groups for g in group}
    return pl.any_horizontal([_has_value(g) for g in grouped.get(f, (f,))])


def aggregate(ranked: pl.LazyFrame, rules: SurvivorshipRules) -> pl.DataFrame:
    """One CREDENTIAL_SCHEMA row per credential of ``ranked`` (``members`` rows sorted by
    ``rank_order``; nulls last), in that order."""
    values: list[pl.Expr] = []
    sources: list[pl.Expr] = []
    for f in rules.fields:
        has = _has_group(f, rules)
        values.append(pl.col(f).filter(has).first().alias(f))
        sources.append(pl.col("_src").filter(has).first().alias(f"_src_{f}"))
    aggregated = ranked.with_columns(_src=_json_string(pl.col("offering_id"))).group_by("credential_id", maintain_order=True).agg(
        *values,
        *sources,
        platforms=pl.col("platform").drop_nulls().unique().sort(),
        sources=pl.col("source").unique().sort(),
        member_offering_ids=pl.col("offering_id").sort(),
        n_offerings=pl.len(),
        n_sources=pl.col("source").n_unique(),
        price_usd_min=pl.col("price_usd").min(),
        price_usd_max=pl.col("price_usd").max(),
    )
    return _finish(aggregated, rules)


def singletons(single: pl.LazyFrame, rules: SurvivorshipRules) -> pl.DataFrame:
    """``aggregate`` of credentials with exactly one member, as a projection of their rows
    (no sort, no group-by): each expression is what ``aggregate``'s gives for one row
    (a value where the member has it, else null; the one platform if any; counts of 1)."""
    values: list[pl.Expr] = []
    sources: list[pl.Expr] = []
    for f in rules.fields:
        has = _has_group(f, rules)
        values.append(pl.when(has).then(pl.col(f)).alias(f))
        sources.append(pl.when(has).then(pl.col("_src")).alias(f"_src_{f}"))
    one = pl.lit(1, dtype=pl.UInt32)
    projected = single.with_columns(_src=_json_string(pl.col("offering_id"))).select(
        "credential_id",
        *values,
        *sources,
        platforms=pl.when(pl.col("platform").is_not_null())
        .then(pl.concat_list(pl.col("platform")))
        .otherwise(pl.lit([], dtype=pl.List(pl.String))),
        sources=pl.concat_list(pl.col("source")),
        member_offering_ids=pl.concat_list(pl.col("offering_id")),
        n_offerings=one,
        n_sources=one,
        price_usd_min=pl.col("price_usd"),
        price_usd_max=pl.col("price_usd"),
    )
    return _finish(projected, rules)


def _finish(aggregated: pl.LazyFrame, rules: SurvivorshipRules) -> pl.DataFrame:
    # field -> offering_id as a JSON object; fields without a surviving value are left out
    # (``_src_<field>``: the offering_id, already escaped for a JSON string).
    pieces = [
        pl.concat_str(pl.lit(f'"{f}":"'), pl.col(f"_src_{f}"), pl.lit('"'))
        for f in rules.fields
    ]
    field_sources = pl.concat_str(
        pl.lit("{"), pl.concat_str(pieces, separator=",", ignore_nulls=True), pl.lit("}")
    )
    # A list field nobody fills is an empty list, as the model says, not null.
    empty_lists = [
        pl.col(f).fill_null(pl.lit([], dtype=CREDENTIAL_SCHEMA[f]))
        for f in rules.fields
        if isinstance(CREDENTIAL_SCHEMA[f], pl.List)
    ]
    aggregated = aggregated.with_columns(*empty_lists, field_sources=field_sources)
    have = aggregated.collect_schema()
    return (
        aggregated.select(
            # A credential field no rule fills stays null rather than failing the run.
            [(pl.col(name) if name in have else pl.lit(None)).cast(dtype).alias(name) for name, dtype in CREDENTIAL_SCHEMA.items()]
        )
        .collect()
    )


def golden_records(
    offerings: pl.DataFrame,
    links: pl.DataFrame,
    rules: SurvivorshipRules,
    text: TextRules,
    source_kinds: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """One CREDENTIAL_SCHEMA row per credential_id of ``links`` (one link per offering, as
    resolve gives them). Every linked offering must be in ``offerings`` exactly once, else
    ValueError: a missing one would leave its credential without a row, a repeated offering_id
    would leave the rank order (whose last key is the offering_id) undecided between its rows."""
    order, descending = rank_order(rules)
    every = members(offerings, links, rules, text, source_kinds).collect()
    if every.height != links.height:
        raise ValueError(f"{links.height:,} links matched {every.height:,} offering rows: each linked "
                         "offering must be in the offerings exactly once")
    # Most credentials have one member (~78% at 1M): their record is a projection of the row.
    # Which ids repeat, told by their 64-bit hashes (a third of the time of comparing the
    # strings at 1M): a collision only sends two one-member credentials down the group-by,
    # which gives a credential of one member the very row the projection gives.
    shared = every["credential_id"].hash().is_duplicated()
    single = singletons(every.filter(~shared).lazy(), rules)
    ranked = every.filter(shared).sort(order, descending=descending, nulls_last=True)
    return pl.concat([single, aggregate(ranked.lazy(), rules)], how="vertical").sort("credential_id")
