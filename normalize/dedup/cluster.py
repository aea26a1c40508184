"""Clustering scored pairs into credentials, without letting weak links chain.

Plain connected components over every link above a threshold chain: A~B and B~C put A and
C together even when A and C are plainly different ('Introduction to Python' by two
universities, each weakly linked to a third listing). Two passes instead:

1. Strong links (probability >= ``strong_probability``), strongest first, union two clusters
   (constrained connected components).
2. Weak links (``link_probability`` <= p < strong) never merge on their own: two clusters
   merge only when the *average* probability over all their cross pairs reaches
   ``average_linkage`` (pairs never scored count as 0: blocking judged them too different to
   compare). Best average first, recomputed after each merge (average-linkage
   agglomeration over the sparse link graph).

Curator overrides (settings.overrides, data/overrides.csv) win over the scores: must-link
pairs are united before anything else (a curator's word beats the same-source and language
rules too, but not a cannot-link), and a cannot-link pair never ends up in one cluster,
however strong the links around it.

Both passes obey cannot-link constraints checked on whole clusters, so they cannot be
bypassed through a third record: a test offering never joins a real one; two listings of the
same source with different keys stay apart (a source lists a credential once; configurable
for sources that list course runs separately); two known, different languages stay apart
(configurable).

The loops are plain Python over edges above the link threshold (a few per offering), with
union-find; everything per pair or per offering around them is Polars/numpy.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import polars as pl

from normalize.dedup.settings import ClusterConfig

CLUSTER_SCHEMA = pl.Schema({"rid": pl.UInt32(), "cluster": pl.UInt32(), "match_score": pl.Float64()})


class _Clusters:
    """Union-find with per-cluster constraint state (sources, language, test flag)."""

    def __init__(self, sources: list[str], languages: list[str | None], is_test: list[bool], config: ClusterConfig):
        n = len(sources)
        self.parent = list(range(n))
        self.size = [1] * n
        self.config = config
        self.source = sources
        # Per root: the set of sources (only materialized once a cluster has two members).
        self.sources: dict[int, set[str]] = {}
        self.language = list(languages)
        self.is_test = is_test
        # Curator cannot-links: per root, the rids its members must never share a cluster with.
        self.forbidden: dict[int, set[int]] = {}

    def forbid(self, a: int, b: int) -> None:
        self.forbidden.setdefault(a, set()).add(b)
        self.forbidden.setdefault(b, set()).add(a)

    def vetoed(self, a: int, b: int) -> bool:
        """A curator's cannot-link between roots a and b (only clusters holding one are checked)."""
        fa, fb = self.forbidden.get(a), self.forbidden.get(b)
        if not fa and not fb:
            return False
        if fa and any(self.find(x) == b for x in fa):
            return True
        return bool(fb) and any(self.find(x) == a for x in fb)

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    def _sources(self, root: int) -> set[str]:
        return self.sources.get(root) or {self.source[root]}

    def compatible(self, a: int, b: int) -> bool:
        if self.vetoed(a, b):
            return False
        if self.is_test[a] != self.is_test[b]:
            return False
        if not self.config.allow_cross_language:
            la, lb = self.language[a], self.language[b]
            if la is not None and lb is not None and la != lb:
                return False
        return self.config.allow_same_source or self._sources(a).isdisjoint(self._sources(b))

    def union(self, a: int, b: int) -> tuple[int, int]:
        """Merge roots a and b; returns (surviving root, absorbed root)."""
        if self.size[a] < self.size[b] or (self.size[a] == self.size[b] and b < a):
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        merged = self.sources.get(a)
        if merged is None:
            merged = self.sources[a] = {self.source[a]}
        merged |= self.sources.pop(b, None) or {self.source[b]}
        if self.language[a] is None:
            self.language[a] = self.language[b]
        gone = self.forbidden.pop(b, None)
        if gone:
            self.forbidden.setdefault(a, set()).update(gone)
        return a, b


def _average_linkage(clusters: _Clusters, weak: list[tuple[int, int, float]], threshold: float) -> None:
    """Agglomerate clusters joined by links, best average first, while the average >= threshold."""
    adj: dict[int, dict[int, float]] = {}
    for a, b, p in weak:
        ra, rb = clusters.find(a), clusters.find(b)
        if ra == rb:
            continue
        row_a, row_b = adj.setdefault(ra, {}), adj.setdefault(rb, {})
        row_a[rb] = row_a.get(rb, 0.0) + p
        row_b[ra] = row_b.get(ra, 0.0) + p
    size = clusters.size
    heap = [(-s / (size[a] * size[b]), a, b) for a, nbrs in adj.items() for b, s in nbrs.items() if a < b]
    heapq.heapify(heap)
    while heap:
        neg_avg, a, b = heapq.heappop(heap)
        if clusters.parent[a] != a or clusters.parent[b] != b:
            continue  # one side was absorbed: a fresher entry exists for its new cluster
        total = adj.get(a, {}).get(b)
        if total is None:
            continue
        avg = total / (size[a] * size[b])
        if abs(avg + neg_avg) > 1e-12:
            continue  # stale entry
        if avg < threshold:
            # Averages only fall as clusters grow, so no later entry can pass either.
            break
        if not clusters.compatible(a, b):
            continue  # constraints only tighten as clusters grow: this pair is done
        root, gone = clusters.union(a, b)
        merged = adj.setdefault(root, {})
        for x, s in adj.pop(gone, {}).items():
            if x == root:
                continue
            merged[x] = merged.get(x, 0.0) + s
            nbrs = adj[x]
            nbrs.pop(gone, None)
            nbrs[root] = merged[x]
        merged.pop(gone, None)
        for x, s in merged.items():
            heapq.heappush(heap, (-s / (size[root] * size[x]), min(root, x), max(root, x)))


def _override_rids(nodes: pl.DataFrame, overrides: Sequence[tuple[str, str, str]]) -> list[tuple[int, int, str]]:
    """Overrides whose two offerings are both present, as (rid_a, rid_b, relation)."""
    if not overrides:
        return []
    rid_of = dict(zip(nodes["offering_id"].to_list(), nodes["rid"].to_list(), strict=True))
    return [(rid_of[a], rid_of[b], rel) for a, b, rel in overrides if a in rid_of and b in rid_of]


def _must_pairs(manual: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    return [(min(a, b), max(a, b)) for a, b, rel in manual if rel == "must_link"]


def link_edges(
    nodes: pl.DataFrame,
    scored: pl.DataFrame,
    config: ClusterConfig,
    overrides: Sequence[tuple[str, str, str]] = (),
    manual: list[tuple[int, int, str]] | None = None,
) -> pl.DataFrame:
    """Every edge ``cluster`` reads: [rid_l, rid_r, p], pairs with p >= ``link_probability``
    plus must-link overrides (p = 1.0), strongest first (then rid_l, rid_r).

    Nothing else enters clustering: a cluster is a subset of a connected component of these
    edges, and each component is clustered from its own edges and nodes alone (see
    normalize/dedup/cluster_cache.py).
    """
    links = (
        scored.lazy()
        .filter(pl.col("match_probability") >= config.link_probability)
        .select("rid_l", "rid_r", p="match_probability")
        .sort(["p", "rid_l", "rid_r"], descending=[True, False, False])
        .collect()
    )
    must = _must_pairs(_override_rids(nodes, overrides) if manual is None else manual)
    if must:
        forced = pl.DataFrame(must, schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32}, orient="row").with_columns(p=pl.lit(1.0))
        links = pl.concat([forced, links.cast({"p": pl.Float64})]).unique(["rid_l", "rid_r"], keep="first", maintain_order=True)
    return links


def cluster(
    nodes: pl.DataFrame,
    scored: pl.DataFrame,
    config: ClusterConfig,
    overrides: Sequence[tuple[str, str, str]] = (),
) -> pl.DataFrame:
    """Cluster labels and match scores per row id.

    ``nodes``: the prepared frame (rid == row index, source, language, is_test).
    ``scored``: candidate pairs with rid_l, rid_r, match_probability.
    ``overrides``: curator (offering_id_a, offering_id_b, must_link|cannot_link); a must-link
    pair scores 1.0.
    Returns [rid, cluster, match_score]: ``cluster`` is the smallest rid of the cluster;
    ``match_score`` is the best probability linking the row to another member, null for
    singletons.
    """
    clusters = _Clusters(
        nodes["source"].to_list(), nodes["language"].to_list(), nodes["is_test"].to_list(), config
    )
    manual = _override_rids(nodes, overrides)
    for a, b, rel in manual:
        if rel == "cannot_link":
            clusters.forbid(a, b)
    for a, b in _must_pairs(manual):
        ra, rb = clusters.find(a), clusters.find(b)
        if ra != rb and not clusters.vetoed(ra, rb):
            clusters.union(ra, rb)
    links = link_edges(nodes, scored, config, overrides, manual)
    edges = list(zip(links["rid_l"].to_list(), links["rid_r"].to_list(), links["p"].to_list(), strict=True))
    weak: list[tuple[int, int, float]] = []
    for a, b, p in edges:
        if p < config.strong_probability:
            weak.append((a, b, p))
            continue
        ra, rb = clusters.find(a), clusters.find(b)
        if ra != rb and clusters.compatible(ra, rb):
            clusters.union(ra, rb)
        elif ra != rb:
            weak.append((a, b, p))  # blocked now; still counts toward average linkage
    _average_linkage(clusters, weak, config.average_linkage)

    roots = pl.Series("root", [clusters.find(i) for i in range(nodes.height)], dtype=pl.UInt32)
    labels = pl.DataFrame({"rid": nodes["rid"], "root": roots}).with_columns(
        cluster=pl.col("rid").min().over("root")
    )
    root_of = labels["cluster"]
    internal = links.filter(
        root_of.gather(links["rid_l"]) == root_of.gather(links["rid_r"])
    )
    best = (
        pl.concat([internal.select(rid="rid_l", p="p"), internal.select(rid="rid_r", p="p")])
        .group_by("rid")
        .agg(match_score=pl.col("p").max())
    )
    return (
        labels.select("rid", "cluster")
        .join(best, on="rid", how="left", maintain_order="left")
        .cast({"rid": pl.UInt32, "cluster": pl.UInt32, "match_score": pl.Float64})
    )
