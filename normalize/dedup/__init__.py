"""Entity resolution: which offerings are the same credential, and its golden record.

    prepare (matching keys) -> block (candidate pairs, never a cross product)
      -> compare (a level per comparison) -> score (Fellegi-Sunter weights)
      -> cluster (strong links, then average linkage; cannot-link constraints)
      -> credential ids -> survivorship (one Credential per cluster)

Public API (docs/contracts.md):

- ``resolve(offerings) -> links`` [offering_id, credential_id, match_score], one row per offering.
  ``match_score`` is the best match probability linking the offering to another member of its
  credential; it is **null for singletons**: nothing linked them, and 1.0 would claim a
  certainty no comparison produced (a singleton's credential is still its own).
- ``resolve_report(offerings)`` the same plus candidate pairs with levels and scores, blocking
  statistics and step timings.
- ``build_credentials(offerings, links) -> credentials`` (CREDENTIAL_SCHEMA).
- ``evaluate(links, truth) -> dict`` pairwise and B-cubed precision/recall/F1.
- ``candidate_pairs(offerings)`` and ``fit_weights(pairs_with_levels, truth)`` to refit weights.

Credential ids: ``credential_id(anchor)`` hashes the cluster's smallest member offering_id, so a
cluster keeps its id across runs as long as that member stays in it; unrelated offerings never
move it. Trade-off: when a member with a smaller offering_id joins (ids are hash-random, so a
cluster of k gaining one member changes anchor with probability 1/(k+1)), or the anchor
leaves, the id would change. Pass the previous run's links as ``previous_links`` and each
new cluster instead keeps the old id it shares most members with (mutual best overlap), so
growth, merges and splits keep the id of their main part; only truly new clusters get an
anchor id.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

# Submodules are imported as modules (not their same-named functions), so that
# ``normalize.dedup.compare`` & co. stay the modules; only ``evaluate`` is the function, as
# docs/contracts.md promises.
from normalize.dedup import blocking, cluster, compare, prepare, scoring, survivorship
from normalize.dedup.cache import CompareCache, PrepareCache
from normalize.dedup.cluster_cache import ClusterCache
from normalize.dedup.evaluate import evaluate
from normalize.dedup.scoring import fit_weights, save_weights
from normalize.dedup.settings import DedupSettings, Weights, default_settings, load_settings
from normalize.keys import any_duplicated, is_in
from normalize.schema import CREDENTIAL_SCHEMA, LINK_SCHEMA

__all__ = [
    "DedupSettings",
    "blocking",
    "cluster",
    "compare",
    "prepare",
    "scoring",
    "survivorship",
    "Resolution",
    "Weights",
    "build_credentials",
    "candidate_pairs",
    "credential_input_columns",
    "credential_id",
    "default_settings",
    "evaluate",
    "fit_weights",
    "load_settings",
    "RESOLVE_INPUT_COLUMNS",
    "resolve",
    "resolve_report",
    "save_weights",
]


@dataclass
class Resolution:
    """Everything one resolve run produced, for checks, metadata and tuning.

    ``pairs`` are the scored candidate pairs by row id (rid_l, rid_r; comparisons a pair was
    pruned from are null); ``offering_ids[rid]`` names them, see ``named_pairs``.
    """

    links: pl.DataFrame
    pairs: pl.DataFrame
    offering_ids: pl.Series = field(default_factory=lambda: pl.Series("offering_id", [], dtype=pl.String))
    stats: dict[str, Any] = field(default_factory=dict)

    def named_pairs(self) -> pl.DataFrame:
        """``pairs`` with offering_id_l / offering_id_r (costly for millions of pairs)."""
        return self.pairs.with_columns(
            offering_id_l=self.offering_ids.gather(self.pairs["rid_l"]),
            offering_id_r=self.offering_ids.gather(self.pairs["rid_r"]),
        )


def credential_id(anchor_offering_id: str) -> str:
    """Id of the credential anchored at an offering (its cluster's smallest offering_id)."""
    return "cred-" + hashlib.sha256(f"credential\x1f{anchor_offering_id}".encode()).hexdigest()[:20]


def _check_input(offerings: pl.DataFrame) -> None:
    if any_duplicated(offerings["offering_id"]):
        dupes = offerings.filter(pl.col("offering_id").is_duplicated())["offering_id"].unique().head(5).to_list()
        raise ValueError(f"offering_id must be unique; duplicated e.g. {dupes}")


def _scored_pairs(
    offerings: pl.DataFrame,
    settings: DedupSettings,
    stats: dict[str, Any],
    prune: bool = True,
    cache: CompareCache | None = None,
    prepare_cache: PrepareCache | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    timings = stats.setdefault("seconds", {})
    t0 = time.perf_counter()
    prepared = prepare.prepare(offerings, settings.text, prepare_cache)
    t1 = time.perf_counter()
    pairs, blocking_stats = blocking.block(
        prepared, settings.blocking, exclude_same_source=not settings.cluster.allow_same_source
    )
    t2 = time.perf_counter()
    bounds = (
        scoring.pruning(settings.comparisons, settings.weights, settings.cluster.link_probability) if prune else None
    )
    if cache is None:
        compared = compare.compare(prepared, pairs, settings.comparisons, bounds)
    else:
        cache.prune = bounds
        compared = cache.compare(prepared, pairs)
    t3 = time.perf_counter()
    scored = scoring.score(compared, settings.comparisons, settings.weights)
    t4 = time.perf_counter()
    timings.update(prepare=t1 - t0, block=t2 - t1, compare=t3 - t2, score=t4 - t3)
    if cache is not None:
        # Reading the cache (and digesting the rows) is part of compare's time; reported apart too.
        timings.update(compare=t3 - t2 - cache.stats.read_seconds, cache_read=cache.stats.read_seconds)
    if prepare_cache is not None:
        # Part of prepare's time (which stays the whole of it): reading and checking the files.
        timings["prepare_cache_read"] = prepare_cache.stats.read_seconds
    stats["blocking"] = blocking_stats.as_dict()
    stats["pairs_compared"] = scored.height
    last = compare.gamma_column(settings.comparisons[-1]) if settings.comparisons else None
    stats["pairs_pruned"] = scored[last].null_count() if last else 0
    return prepared, scored


def candidate_pairs(offerings: pl.DataFrame, settings: DedupSettings | None = None) -> pl.DataFrame:
    """Every candidate pair with its levels and scores, named by offering_id (for fitting and review)."""
    settings = settings or default_settings()
    _check_input(offerings)
    # Every comparison for every pair: fitting needs unpruned levels.
    prepared, scored = _scored_pairs(offerings, settings, {}, prune=False)
    ids = prepared["offering_id"]
    return scored.with_columns(
        offering_id_l=ids.gather(scored["rid_l"]), offering_id_r=ids.gather(scored["rid_r"])
    )


def _assign_ids(
    labels: pl.DataFrame, previous_links: pl.DataFrame | None, taken_ids: pl.Series | None = None
) -> pl.DataFrame:
    """labels [offering_id, cluster] -> [offering_id, cluster, credential_id].

    ``taken_ids``: ids other clusters (not in ``labels``) keep, for the clash rule; their
    offerings' rows are not in ``previous_links`` (see cluster_cache.py). A Series: at a
    million offerings ~800k ids, which as a Python set and list cost ~1 s to build and match."""
    if taken_ids is None:
        taken_ids = pl.Series("old_id", [], dtype=pl.String)
    anchors = labels.group_by("cluster").agg(anchor=pl.col("offering_id").min())
    anchors = anchors.with_columns(
        default_id=pl.Series([credential_id(a) for a in anchors["anchor"].to_list()], dtype=pl.String)
    )
    if previous_links is None or previous_links.is_empty():
        if not taken_ids.len():
            ids = anchors.select("cluster", credential_id="default_id")
            return labels.join(ids, on="cluster", how="left", maintain_order="left")
        previous_links = pl.DataFrame(schema={"offering_id": pl.String, "credential_id": pl.String})
    overlap = (
        labels.join(previous_links.select("offering_id", old_id="credential_id"), on="offering_id")
        .group_by("cluster", "old_id")
        .agg(n=pl.len())
    )
    # Mutual best overlap: the old id's best new cluster, which in turn has it as its best old id.
    best_new = overlap.sort(["old_id", "n", "cluster"], descending=[False, True, False]).group_by("old_id").first()
    best_old = overlap.sort(["cluster", "n", "old_id"], descending=[False, True, False]).group_by("cluster").first()
    kept = best_new.join(best_old, on=["cluster", "old_id"], how="inner").select("cluster", "old_id")
    taken = pl.concat([kept["old_id"], taken_ids.cast(pl.String).rename("old_id")])
    ids = anchors.join(kept, on="cluster", how="left").with_columns(
        credential_id=pl.coalesce("old_id", "default_id")
    )
    # A fresh cluster whose anchor id is still held by a carried-over cluster (a split) gets
    # an id from all its members instead, so ids stay unique. The members' string is marked:
    # unmarked, a one-member cluster's would be its anchor again, i.e. the id it clashed with
    # (two clusters then shared one credential_id and build_credentials merged them).
    clash = ids.filter(pl.col("old_id").is_null() & is_in(ids["default_id"], taken))
    if clash.height:
        members = labels.filter(pl.col("cluster").is_in(clash["cluster"].implode())).group_by("cluster").agg(
            pl.col("offering_id").sort().str.join(",")
        )
        fresh = {c: credential_id(f"members\x1f{m}") for c, m in members.iter_rows()}
        ids = ids.with_columns(
            credential_id=pl.when(pl.col("cluster").is_in(list(fresh)))
            .then(pl.col("cluster").replace_strict(fresh, default=None, return_dtype=pl.String))
            .otherwise(pl.col("credential_id"))
        )
    return labels.join(ids.select("cluster", "credential_id"), on="cluster", how="left", maintain_order="left")


def _assign_ids_reusing(
    labels: pl.DataFrame, previous_links: pl.DataFrame | None, untouched: np.ndarray | None, stats: dict[str, Any]
) -> pl.Series:
    """credential_id per row of ``labels`` [rid, offering_id, cluster] (rid order), exactly as
    ``_assign_ids(labels, previous_links)``; clusters the cluster cache did not touch keep their
    previous id without going through it, when ``previous_links`` proves that is what it
    would give them (cluster_cache.py)."""
    def everything(why: str) -> pl.Series:
        stats["ids"] = why
        return _assign_ids(labels.select("offering_id", "cluster"), previous_links)["credential_id"]

    if untouched is None or previous_links is None or previous_links.is_empty() or not untouched.any():
        return everything("all")
    keep = pl.Series(untouched)
    old = previous_links.select("offering_id", old_id="credential_id")
    kept = labels.filter(keep).join(old, on="offering_id", how="left", maintain_order="left")
    if kept.height != int(untouched.sum()) or kept["old_id"].null_count():
        return everything("all: an untouched offering without exactly one previous link")
    per_cluster = kept.group_by("cluster").agg(n_ids=pl.col("old_id").n_unique(), old_id=pl.col("old_id").first())
    if int(per_cluster["n_ids"].max() or 0) > 1 or any_duplicated(per_cluster["old_id"]):
        return everything("all: untouched clusters do not map one-to-one to previous ids")
    ids = per_cluster["old_id"]
    # The previous links holding those ids, found by the ids' 64-bit hashes (~5x faster than
    # the strings at 1M). Hash matches include every exact one, and the exact ones include the
    # kept offerings' own links: so when the hash matches are exactly that many, they are the
    # exact matches; else the strings decide.
    carried = previous_links["credential_id"].hash().is_in(ids.hash().implode())
    if int(carried.sum()) != kept.height:
        carried = previous_links["credential_id"].is_in(ids.implode())
    if int(carried.sum()) != kept.height:
        return everything("all: a previous id of an untouched cluster is held by other offerings too")
    stats["ids"] = "touched clusters only"
    rest = labels.filter(~keep)
    fresh = _assign_ids(
        rest.select("offering_id", "cluster"), previous_links.filter(~carried), ids
    )
    return (
        pl.concat([kept.select("rid", credential_id="old_id"), rest.select("rid").with_columns(fresh["credential_id"])])
        .sort("rid")["credential_id"]
    )


def resolve_report(
    offerings: pl.DataFrame,
    settings: DedupSettings | None = None,
    previous_links: pl.DataFrame | None = None,
    cache: Path | None = None,
) -> Resolution:
    """Resolve and keep the working: scored pairs, blocking statistics, timings.

    ``cache``: a folder for the exact comparison cache (normalize/dedup/cache.py): pairs whose
    two prepared rows are unchanged since the run that wrote it, under the same settings and
    code, take their levels from it; the rest are compared. The result is the same as
    without it. Absent, unreadable or from other settings it is ignored; it is rewritten
    (atomically) at the end. ``stats["cache"]`` says what happened (``pairs_reused``,
    ``pairs_computed``, status, seconds); ``pairs_compared`` stays the number of candidate
    pairs scored, cached or not. The same folder holds the exact prepare cache (the previous prepared
    frame and the corpus facts its keys depend on; the prepared frame is identical), its
    figures in ``stats["cache"]["prepare"]``, its seconds in ``prepare_cache_read`` (part of
    ``prepare``) and ``prepare_cache_write``.
    """
    settings = settings or default_settings()
    _check_input(offerings)
    stats: dict[str, Any] = {"n_offerings": offerings.height}
    if offerings.is_empty():
        return Resolution(links=pl.DataFrame(schema=LINK_SCHEMA), pairs=pl.DataFrame(), stats=stats)
    compare_cache = None if cache is None else CompareCache(Path(cache), settings.comparisons, None)
    prepare_cache = None if cache is None else PrepareCache(Path(cache))
    prepared, scored = _scored_pairs(offerings, settings, stats, cache=compare_cache, prepare_cache=prepare_cache)
    t0 = time.perf_counter()
    cluster_cache = None if cache is None else ClusterCache(Path(cache), settings.cluster, settings.overrides)
    if cluster_cache is None:
        clusters, untouched = cluster.cluster(prepared, scored, settings.cluster, settings.overrides), None
    else:
        clusters, untouched = cluster_cache.labels(prepared, scored)
    # clusters are in rid order (rid == row index of prepared)
    labels = clusters.with_columns(offering_id=prepared["offering_id"])
    id_stats: dict[str, Any] = {}
    ids = _assign_ids_reusing(labels, previous_links, untouched, id_stats)
    links = labels.select(
        pl.col("offering_id").cast(LINK_SCHEMA["offering_id"]),
        ids.alias("credential_id").cast(LINK_SCHEMA["credential_id"]),
        pl.col("match_score").cast(LINK_SCHEMA["match_score"]),
    ).select(list(LINK_SCHEMA))
    stats["seconds"]["cluster"] = time.perf_counter() - t0
    if cluster_cache is not None:
        stats["seconds"]["cluster"] -= cluster_cache.stats.read_seconds
        stats["seconds"]["cluster_cache_read"] = cluster_cache.stats.read_seconds
    sizes = links.group_by("credential_id").agg(n=pl.len())["n"]
    stats.update(
        pairs_linked=int((scored["match_probability"] >= settings.cluster.link_probability).sum()),
        n_credentials=sizes.len(),
        n_multi_member_credentials=int((sizes > 1).sum()),
        largest_credential=int(sizes.max() or 0),
    )
    if compare_cache is not None and prepare_cache is not None:
        compare_cache.write(scored)
        prepare_cache.write()
        stats["seconds"]["cache_write"] = compare_cache.stats.write_seconds
        stats["seconds"]["prepare_cache_write"] = prepare_cache.stats.write_seconds
        stats["cache"] = compare_cache.stats.as_dict() | {"prepare": prepare_cache.stats.as_dict()}
    if cluster_cache is not None:
        cluster_cache.write()
        stats["seconds"]["cluster_cache_write"] = cluster_cache.stats.write_seconds
        stats.setdefault("cache", {})["cluster"] = cluster_cache.stats.as_dict() | id_stats
    return Resolution(links=links, pairs=scored, offering_ids=prepared["offering_id"], stats=stats)


def resolve(
    offerings: pl.DataFrame,
    settings: DedupSettings | None = None,
    previous_links: pl.DataFrame | None = None,
    cache: Path | None = None,
) -> pl.DataFrame:
    """Links (LINK_SCHEMA), one row per offering: which credential it belongs to and how surely."""
    return resolve_report(offerings, settings, previous_links, cache).links


# The offering columns resolve / resolve_report read (prepare's inputs): a caller holding wide
# frames may hand over only these (the staging assets' readers do: pipelines/frames.py).
RESOLVE_INPUT_COLUMNS: tuple[str, ...] = prepare.INPUT_COLUMNS


def credential_input_columns(settings: DedupSettings | None = None) -> list[str]:
    """The offering columns ``build_credentials`` reads under ``settings`` (survivorship's)."""
    return survivorship.member_columns((settings or default_settings()).survivorship)


def build_credentials(
    offerings: pl.DataFrame, links: pl.DataFrame, settings: DedupSettings | None = None
) -> pl.DataFrame:
    """One Credential row (CREDENTIAL_SCHEMA) per credential_id of ``links``."""
    settings = settings or default_settings()
    if links.is_empty():
        return pl.DataFrame(schema=CREDENTIAL_SCHEMA)
    return survivorship.golden_records(offerings, links, settings.survivorship, settings.text, settings.source_kinds)
