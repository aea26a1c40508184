"""How credentials changed between two runs: ids kept, clusters merged and split.

``cluster_changes(previous, current)`` compares two link frames [offering_id, credential_id]
on the offerings both runs saw: per current credential, the previous credentials its members
came from, and a status:

- ``kept``: same members (of the shared offerings) under the same id;
- ``grown`` / ``shrunk`` / ``reshaped``: one previous credential, members added / removed / both;
- ``merged``: members from two or more previous credentials;
- ``split``: a previous credential whose members now sit in two or more credentials (every
  current credential holding part of it is marked, unless it is also ``merged``);
- ``new``: no member was seen before.

``id_stability(previous, current, unchanged)`` is the share of previous clusters whose members
are all in ``unchanged`` (offerings the change did not touch) that kept their credential id.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl


def cluster_changes(previous: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """[credential_id, n_members, previous_ids, status] per current credential."""
    prev = previous.select("offering_id", old_id="credential_id")
    cur = current.select("offering_id", "credential_id")
    joined = cur.join(prev, on="offering_id", how="left")
    split_old = (
        joined.drop_nulls("old_id").group_by("old_id").agg(parts=pl.col("credential_id").n_unique())
        .filter(pl.col("parts") > 1)["old_id"]
    )
    old_sizes = prev.group_by("old_id").agg(old_n=pl.len())
    per = joined.group_by("credential_id").agg(
        n_members=pl.len(),
        n_seen=pl.col("old_id").is_not_null().sum(),
        previous_ids=pl.col("old_id").drop_nulls().unique().sort(),
    )
    per = per.with_columns(
        any_split=pl.col("previous_ids").list.eval(pl.element().is_in(split_old.implode())).list.any(),
        first_old=pl.col("previous_ids").list.first(),
    ).join(old_sizes, left_on="first_old", right_on="old_id", how="left")
    n_old = pl.col("previous_ids").list.len()
    status = (
        pl.when(n_old == 0).then(pl.lit("new"))
        .when(n_old > 1).then(pl.lit("merged"))
        .when(pl.col("any_split")).then(pl.lit("split"))
        .when((pl.col("n_members") == pl.col("old_n")) & (pl.col("n_seen") == pl.col("n_members"))
              & (pl.col("credential_id") == pl.col("first_old"))).then(pl.lit("kept"))
        .when((pl.col("n_seen") == pl.col("old_n")) & (pl.col("n_members") > pl.col("n_seen"))).then(pl.lit("grown"))
        .when((pl.col("n_seen") == pl.col("n_members")) & (pl.col("n_members") < pl.col("old_n"))).then(pl.lit("shrunk"))
        .otherwise(pl.lit("reshaped"))
    )
    return per.with_columns(status=status).select("credential_id", "n_members", "previous_ids", "status").sort(
        "credential_id"
    )


def change_summary(changes: pl.DataFrame) -> dict[str, int]:
    """Credentials per status."""
    return dict(sorted(changes.group_by("status").agg(n=pl.len()).iter_rows()))


def id_stability(previous: pl.DataFrame, current: pl.DataFrame, unchanged: Iterable[str] | pl.Series) -> dict[str, float]:
    """Share of untouched previous clusters (every member in ``unchanged``) whose id every member still carries."""
    untouched = pl.Series("offering_id", list(unchanged) if not isinstance(unchanged, pl.Series) else unchanged)
    prev = previous.select("offering_id", old_id="credential_id").with_columns(
        ok=pl.col("offering_id").is_in(untouched.implode())
    )
    clean = prev.group_by("old_id").agg(all_ok=pl.col("ok").all()).filter(pl.col("all_ok"))["old_id"]
    members = prev.filter(pl.col("old_id").is_in(clean.implode())).join(
        current.select("offering_id", "credential_id"), on="offering_id", how="left"
    )
    kept = members.group_by("old_id").agg(same=(pl.col("credential_id") == pl.col("old_id")).all())
    n = kept.height
    return {"unchanged_clusters": n, "kept_id": int(kept["same"].sum()), "share_kept": (float(kept["same"].sum()) / n) if n else 1.0}
