"""What normalization could not map, ranked: the curator's to-do list.

Every value normalization could not map leaves a mapping note on its offering
(``"field: reason 'value'"``, see normalize/transforms.py). ``unmapped_values`` gathers
them per source: which raw value, of which field, for what reason, on how many offerings, and
that count's share of the source's offerings; ranked within each source, most frequent first
(ties by field, reason, value). The staging assets show the top of a run as metadata; the
warehouse build computes the same ranking in SQL over the current offerings
(``marts.unmapped_values``, warehouse/load.py, with this module's ``NOTE`` pattern), so the
next look-up row to add is the one at the top.
"""

from __future__ import annotations

import polars as pl

# "field: reason 'value'"; the reason ends at the first " '", the value at the last "'" (it may
# hold quotes and, from a raw value with a line break, newlines: (?s)). The same text is a valid
# RE2 pattern, so the warehouse's SQL uses it as is.
NOTE = r"(?s)^(?P<field>[A-Za-z_]+): (?P<reason>.*?) '(?P<value>.*)'$"
NOTE_GROUPS = ("field", "reason", "value")

UNMAPPED_SCHEMA = pl.Schema({
    "source": pl.String(), "field": pl.String(), "reason": pl.String(), "value": pl.String(),
    "offerings": pl.Int64(), "share": pl.Float64(), "rank": pl.Int64(),
})


def unmapped_values(offerings: pl.DataFrame | pl.LazyFrame, top: int | None = None) -> pl.DataFrame:
    """Unmapped raw values per source (UNMAPPED_SCHEMA), ``top`` per source if given.

    Only notes that quote a raw value count: a note without one ("not stated; assumed")
    names no value a curator could add.
    """
    lf = offerings.lazy().select("source", "offering_id", "mapping_notes")
    totals = lf.group_by("source").agg(pl.len().alias("_total"))
    notes = (
        lf.explode("mapping_notes")
        .drop_nulls("mapping_notes")
        .with_columns(pl.col("mapping_notes").str.extract_groups(NOTE).alias("_n"))
        .unnest("_n")
        .drop_nulls("value")
        .group_by("source", "field", "reason", "value")
        .agg(pl.col("offering_id").n_unique().cast(pl.Int64).alias("offerings"))
        .join(totals, on="source")
        .with_columns(share=(pl.col("offerings") / pl.col("_total")).round(4))
        .sort(["source", "offerings", "field", "reason", "value"], descending=[False, True, False, False, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("source").cast(pl.Int64))
    )
    if top is not None:
        notes = notes.filter(pl.col("rank") <= top)
    return notes.select(UNMAPPED_SCHEMA.names()).collect().cast(dict(UNMAPPED_SCHEMA))
