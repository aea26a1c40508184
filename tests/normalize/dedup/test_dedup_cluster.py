"""Clustering: strong links union, weak links cannot chain, cannot-link constraints hold."""

from __future__ import annotations

import polars as pl
import pytest

from normalize.dedup.cluster import cluster
from normalize.dedup.settings import ClusterConfig, default_settings

# The shipped thresholds: strong 0.99, link 0.5, average linkage 0.55.
CONFIG = default_settings().cluster


def nodes(sources: list[str], languages: list[str | None] | None = None, is_test: list[bool] | None = None) -> pl.DataFrame:
    n = len(sources)
    return pl.DataFrame(
        {
            "rid": pl.Series(range(n), dtype=pl.UInt32),
            "source": sources,
            "language": languages or [None] * n,
            "is_test": is_test or [False] * n,
        },
        schema={"rid": pl.UInt32, "source": pl.String, "language": pl.String, "is_test": pl.Boolean},
    )


def edges(*triples: tuple[int, int, float]) -> pl.DataFrame:
    return pl.DataFrame(
        [(min(a, b), max(a, b), p) for a, b, p in triples],
        schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32, "match_probability": pl.Float64},
        orient="row",
    )


def groups(result: pl.DataFrame) -> set[frozenset[int]]:
    return {frozenset(g) for g in result.group_by("cluster").agg("rid")["rid"].to_list()}


def test_shipped_thresholds_resist_chaining() -> None:
    # A record must be linked to more than half of a cluster to join it by weak links.
    assert CONFIG.average_linkage > CONFIG.strong_probability / 2
    assert CONFIG.link_probability < CONFIG.strong_probability


def test_weak_chain_does_not_join_dissimilar_ends() -> None:
    # A~B strong, B~C weak, A and C scored as different: C stays out.
    result = cluster(nodes(["a", "b", "c"]), edges((0, 1, 0.999), (1, 2, 0.85), (0, 2, 0.01)), CONFIG)
    assert groups(result) == {frozenset({0, 1}), frozenset({2})}


def test_weak_chain_of_singletons_takes_the_best_link_only() -> None:
    # A~B weak, B~C weak (slightly weaker), A-C never compared: A,B merge first, then the
    # average from C to {A,B} is 0.85 / 2 < 0.55.
    result = cluster(nodes(["a", "b", "c"]), edges((0, 1, 0.9), (1, 2, 0.85)), CONFIG)
    assert groups(result) == {frozenset({0, 1}), frozenset({2})}


def test_weak_links_merge_when_the_whole_cluster_agrees() -> None:
    # C is weakly linked to both A and B: the average is high, C joins.
    result = cluster(nodes(["a", "b", "c"]), edges((0, 1, 0.999), (1, 2, 0.85), (0, 2, 0.82)), CONFIG)
    assert groups(result) == {frozenset({0, 1, 2})}


def test_strong_links_form_components() -> None:
    result = cluster(nodes(["a", "b", "c", "d"]), edges((0, 1, 0.995), (1, 2, 0.999)), CONFIG)
    assert groups(result) == {frozenset({0, 1, 2}), frozenset({3})}


def test_links_below_the_threshold_do_nothing() -> None:
    result = cluster(nodes(["a", "b"]), edges((0, 1, 0.3)), CONFIG)
    assert groups(result) == {frozenset({0}), frozenset({1})}


def test_same_source_never_merges_even_through_a_third_record() -> None:
    # Two listings of source 'a' both strongly match one listing of 'b': only one may join it.
    result = cluster(nodes(["a", "a", "b"]), edges((0, 2, 0.999), (1, 2, 0.998)), CONFIG)
    assert groups(result) == {frozenset({0, 2}), frozenset({1})}


def test_same_source_merges_when_configured() -> None:
    config = ClusterConfig(allow_same_source=True)
    result = cluster(nodes(["a", "a", "b"]), edges((0, 2, 0.999), (1, 2, 0.998)), config)
    assert groups(result) == {frozenset({0, 1, 2})}


@pytest.mark.parametrize(("allow", "expected"), [(False, 2), (True, 1)])
def test_different_languages_stay_apart_unless_configured(allow: bool, expected: int) -> None:
    config = ClusterConfig(allow_cross_language=allow)
    result = cluster(nodes(["a", "b", "c"], ["en", None, "de"]), edges((0, 1, 0.999), (1, 2, 0.999)), config)
    assert len(groups(result)) == expected


def test_test_records_never_join_real_ones() -> None:
    result = cluster(nodes(["a", "b"], is_test=[False, True]), edges((0, 1, 1.0)), CONFIG)
    assert groups(result) == {frozenset({0}), frozenset({1})}


def test_match_score_is_best_internal_link_and_null_for_singletons() -> None:
    result = cluster(nodes(["a", "b", "c", "d"]), edges((0, 1, 0.999), (1, 2, 0.995), (2, 3, 0.3)), CONFIG)
    scores = dict(result.select("rid", "match_score").iter_rows())
    assert scores == {0: 0.999, 1: 0.999, 2: 0.995, 3: None}
    # The cluster label is the smallest row id of the cluster.
    assert dict(result.select("rid", "cluster").iter_rows()) == {0: 0, 1: 0, 2: 0, 3: 3}
