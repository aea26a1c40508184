"""Exact incremental clustering: only the connected components a change touched are clustered again.

Why it is exact. ``cluster.cluster`` reads nothing but the link edges (``cluster.link_edges``:
scored pairs with p >= the link threshold, plus must-link overrides) and, per node, its
``source``, ``language`` and ``is_test``; curator cannot-links only matter between two
offerings of one component (clusters only ever merge along edges). Clustering is local to a
connected component of the edges: the strong pass unions along a component's own edges in
their global order (p, rid_l, rid_r), restricted to the component; average linkage sums,
compares and breaks ties on the component's own edges and roots, whose relative row-id order
is that of their offering_ids (rows are numbered in offering_id order in every run); its
global stop (the best remaining average is below the threshold) stops every component at the
point it would stop alone. So a component whose nodes and edges are the same as in the run
that wrote the cache gets the same clusters and match scores, and the cache's are reused.

A node is *touched* when it is new, its (source, language, is_test) digest changed, or an
edge at it appeared, disappeared or changed probability (a removed offering touches its old
neighbours). Every component of this run's edges holding a touched node is clustered again
(``cluster.cluster`` on those components' nodes and edges, renumbered in row-id order); the
others keep their clusters (as anchor rows) and match scores from the cache.

Credential ids: ``resolve._assign_ids`` gives an untouched cluster whose members all carry
one previous id X, where no other offering of ``previous_links`` carries X, exactly X (its
mutual best overlap). When ``previous_links`` shows that for every untouched cluster (ids
distinct across them, each offering_id once), only the touched clusters go through
``_assign_ids`` (with the untouched clusters' ids as taken, for its clash rule); otherwise
all clusters do. Either way the links equal ``resolve_report`` without a cache.

Files, next to the comparison cache's: ``cluster.json`` (format, digest of the cluster
settings, overrides, code and library versions; data files with size and SHA-256),
``cluster-nodes-<token>.arrow`` (rid order: offering_id, d0, d1 digests of source, language,
is_test; ``anchor``: the row id of the node's cluster's smallest member; match_score) and
``cluster-edges-<token>.arrow`` (``key`` = rid_l * 2^32 + rid_r, p; increasing keys). Read,
checked, ignored and written like ``compare.json``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from normalize.dedup import cluster as clustering
from normalize.dedup.cache import (
    _attempt,
    _Ignored,
    _pack,
    _read_generation,
    _replace_generation,
    _Stats,
    code_digest,
    row_digests,
)
from normalize.dedup.settings import ClusterConfig

FORMAT = 1
META = "cluster.json"
NODE_COLUMNS = ("source", "language", "is_test")
_NODES = pl.Schema({"offering_id": pl.String(), "d0": pl.UInt64(), "d1": pl.UInt64(), "anchor": pl.UInt32(),
                    "match_score": pl.Float64()})
_EDGES = pl.Schema({"key": pl.UInt64(), "p": pl.Float64()})


def cluster_digest(config: ClusterConfig, overrides: Sequence[tuple[str, str, str]]) -> str:
    """What, besides the nodes and edges, decides the clusters."""
    payload = {
        "format": FORMAT,
        "kind": "cluster",
        "config": repr(config),
        "overrides": [list(o) for o in overrides],
        "code": code_digest(),
        "versions": {"polars": pl.__version__, "numpy": np.__version__, "python": platform.python_version()},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class ClusterStats(_Stats):
    status: str = "disabled"  # disabled | absent | hit | ignored: <why>
    nodes_touched: int = 0
    nodes_reclustered: int = 0
    ids: str = ""  # untouched | all: which clusters went through _assign_ids
    written: bool = False
    write_error: str | None = None
    read_seconds: float = 0.0
    write_seconds: float = 0.0


def _read(folder: Path, digest: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    _, frames = _read_generation(folder, META, {"format": FORMAT, "digest": digest},
                                 {"nodes": _NODES, "edges": _EDGES})
    nodes, edges = frames["nodes"], frames["edges"]
    if nodes["offering_id"].null_count() or nodes["anchor"].null_count():
        raise _Ignored("null keys in nodes")
    ids = nodes["offering_id"]
    if ids.len() > 1 and not bool((ids.slice(1) > ids.slice(0, ids.len() - 1)).all()):
        raise _Ignored("nodes not in strictly increasing offering_id order")
    anchor = nodes["anchor"].to_numpy()
    if anchor.size and (int(anchor.max()) >= nodes.height or bool((anchor[anchor] != anchor).any())):
        raise _Ignored("anchors out of range or not their own anchor")
    keys = edges["key"].to_numpy()
    if keys.size > 1 and not bool((keys[1:] > keys[:-1]).all()):
        raise _Ignored("edge keys not strictly increasing")
    if keys.size and int((keys >> np.uint64(32)).max()) >= nodes.height:
        raise _Ignored("edge row ids out of range")
    if edges["p"].null_count():
        raise _Ignored("null edge probabilities")
    return nodes, edges


def _edge_frame(edges: pl.DataFrame) -> pl.DataFrame:
    """[key, p] of link edges [rid_l, rid_r, p], sorted by key."""
    return edges.select(key=_pack("rid_l", "rid_r"), p=pl.col("p").cast(pl.Float64)).sort("key")


@dataclass
class ClusterCache:
    """One run's use of the cache folder for clustering: ``labels`` then ``write``."""

    folder: Path
    config: ClusterConfig
    overrides: Sequence[tuple[str, str, str]] = ()
    stats: ClusterStats = field(default_factory=ClusterStats)
    _new: dict[str, pl.DataFrame] = field(default_factory=dict)
    _digest: str | None = None

    def labels(self, prepared: pl.DataFrame, scored: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray | None]:
        """(clusters, untouched): exactly ``cluster.cluster(prepared, scored, config, overrides)``
        ([rid, cluster, match_score], ``cluster`` the smallest rid of the cluster); ``untouched``
        marks the rows whose cluster and match score came from the cache (None: none did)."""
        t0 = time.perf_counter()
        n = prepared.height
        attrs = row_digests(prepared, list(NODE_COLUMNS))
        edges = clustering.link_edges(prepared, scored, self.config, self.overrides)
        def read() -> tuple[pl.DataFrame, pl.DataFrame]:
            self._digest = cluster_digest(self.config, self.overrides)
            return _read(self.folder, self._digest)

        previous, self.stats.status = _attempt(read)
        touched = None
        if previous is not None:
            try:
                touched = self._touched(attrs, edges, *previous)
            except Exception as exc:  # noqa: BLE001 - e.g. repeated offering ids in a hand-edited cache
                self.stats.status = f"ignored: {type(exc).__name__}: {exc}"
                touched = None
        self.stats.read_seconds = time.perf_counter() - t0
        if touched is None:
            out = clustering.cluster(prepared, scored, self.config, self.overrides)
            self.stats.nodes_touched = self.stats.nodes_reclustered = n
            untouched = None
        else:
            out, untouched = self._recluster(prepared, edges, *touched)
        self._new = {"nodes": attrs.with_columns(anchor=out["cluster"], match_score=out["match_score"]),
                     "edges": _edge_frame(edges)}
        return out, untouched

    def _touched(
        self, attrs: pl.DataFrame, edges: pl.DataFrame, old_nodes: pl.DataFrame, old_edges: pl.DataFrame
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(anchor, match_score, match_score is null: in this run's rids, from the cache where
        untouched; touched, closed over this run's components)."""
        n = attrs.height
        joined = attrs.join(
            old_nodes.with_row_index("old_rid"), on="offering_id", how="left", maintain_order="left", validate="1:1",
        )
        if joined.height != n:
            raise _Ignored("node lookup changed the row count")
        old_rid = joined["old_rid"]
        present = old_rid.is_not_null().to_numpy()
        same = (present & (joined["d0"] == joined["d0_right"]).fill_null(False).to_numpy()
                & (joined["d1"] == joined["d1_right"]).fill_null(False).to_numpy())
        touched = ~same
        # old rid -> new rid (-1: removed); monotone, since both runs number rows in offering_id order.
        o2n = np.full(old_nodes.height, -1, dtype=np.int64)
        o2n[old_rid.drop_nulls().to_numpy().astype(np.int64)] = np.flatnonzero(present)
        # Old edges in new row ids; an edge at a removed node touches its other end.
        keys = old_edges["key"].to_numpy()
        ol = o2n[(keys >> np.uint64(32)).astype(np.int64)]
        orr = o2n[(keys & np.uint64(0xFFFFFFFF)).astype(np.int64)]
        gone = (ol < 0) | (orr < 0)
        touched[ol[gone & (ol >= 0)]] = True
        touched[orr[gone & (orr >= 0)]] = True
        keep = ~gone
        mapped = pl.DataFrame({
            "key": (ol[keep].astype(np.uint64) << np.uint64(32)) | orr[keep].astype(np.uint64),
            "p": old_edges["p"].to_numpy()[keep],
        })
        current = _edge_frame(edges)
        # Edges that appeared, disappeared or changed probability touch both ends (p compared
        # by its bits: exact, no float-join semantics).
        mapped_bits = pl.DataFrame({"key": mapped["key"], "bits": mapped["p"].to_numpy().view(np.uint64)})
        current_bits = pl.DataFrame({"key": current["key"], "bits": current["p"].to_numpy().view(np.uint64)})
        differ = pl.concat([
            current_bits.join(mapped_bits, on=["key", "bits"], how="anti"),
            mapped_bits.join(current_bits, on=["key", "bits"], how="anti"),
        ])["key"].to_numpy()
        touched[(differ >> np.uint64(32)).astype(np.int64)] = True
        touched[(differ & np.uint64(0xFFFFFFFF)).astype(np.int64)] = True
        # Close over this run's components.
        el = edges["rid_l"].to_numpy().astype(np.int64)
        er = edges["rid_r"].to_numpy().astype(np.int64)
        while True:
            hit = touched[el] != touched[er]
            if not hit.any():
                break
            touched[el[hit]] = True
            touched[er[hit]] = True
        anchor = np.full(n, -1, dtype=np.int64)
        score = np.zeros(n)
        null_score = np.zeros(n, dtype=bool)
        idx = np.flatnonzero(~touched)
        rows = old_rid.to_numpy()[idx].astype(np.int64)
        anchor[idx] = o2n[old_nodes["anchor"].to_numpy().astype(np.int64)[rows]]
        if (anchor[idx] < 0).any():
            raise _Ignored("an untouched cluster's anchor is gone")
        old_scores = old_nodes["match_score"]
        score[idx] = old_scores.fill_null(0.0).to_numpy()[rows]
        null_score[idx] = old_scores.is_null().to_numpy()[rows]
        return anchor, score, null_score, touched

    def _recluster(
        self, prepared: pl.DataFrame, edges: pl.DataFrame, anchor: np.ndarray, score: np.ndarray,
        null_score: np.ndarray, touched: np.ndarray,
    ) -> tuple[pl.DataFrame, np.ndarray]:
        n = prepared.height
        todo = np.flatnonzero(touched)
        self.stats.nodes_touched = self.stats.nodes_reclustered = int(todo.size)
        if todo.size:
            local = np.full(n, -1, dtype=np.int64)
            local[todo] = np.arange(todo.size)
            sub_nodes = prepared[pl.Series(todo)].select("offering_id", *NODE_COLUMNS).with_columns(
                rid=pl.int_range(pl.len(), dtype=pl.UInt32)
            )
            el = edges["rid_l"].to_numpy().astype(np.int64)
            er = edges["rid_r"].to_numpy().astype(np.int64)
            inside = touched[el]  # components are closed: both ends or neither
            sub_scored = pl.DataFrame({
                "rid_l": pl.Series(local[el[inside]], dtype=pl.UInt32),
                "rid_r": pl.Series(local[er[inside]], dtype=pl.UInt32),
                "match_probability": edges["p"].filter(pl.Series(inside)),
            })
            sub = clustering.cluster(sub_nodes, sub_scored, self.config, self.overrides)
            anchor[todo] = todo[sub["cluster"].to_numpy().astype(np.int64)]
            sub_score = sub["match_score"]
            score[todo] = sub_score.fill_null(0.0).to_numpy()
            null_score[todo] = sub_score.is_null().to_numpy()
        out = pl.DataFrame({
            "rid": prepared["rid"].cast(pl.UInt32),
            "cluster": pl.Series(anchor, dtype=pl.UInt32),
            "match_score": pl.Series(score, dtype=pl.Float64),
        }).with_columns(match_score=pl.when(pl.Series(null_score)).then(None).otherwise(pl.col("match_score")))
        return out, ~touched

    def write(self) -> None:
        """Replace the cache by this run's nodes and edges (atomic; failures recorded, never raised)."""
        if self._digest is None or set(self._new) != {"nodes", "edges"}:
            return
        t0 = time.perf_counter()
        try:
            nodes = self._new["nodes"].cast(dict(_NODES))
            edges = self._new["edges"].cast(dict(_EDGES))
            meta: dict[str, Any] = {"format": FORMAT, "digest": self._digest}
            _replace_generation(self.folder, "cluster", META, {"nodes": nodes, "edges": edges}, meta)
            self.stats.written = True
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is only slower next time
            self.stats.write_error = f"{type(exc).__name__}: {exc}"
        finally:
            self._new = {}
            self.stats.write_seconds = time.perf_counter() - t0
