"""Entity resolution judged on the real-data corpus, blind: the same course in several files,
keyed by its URL slug / native id, matched with URLs and native ids hidden (normalize.dedup.realtruth)."""

from __future__ import annotations

import polars as pl
import pytest

from normalize.dedup import realtruth, resolve_report
from normalize.dedup.evaluate import evaluate
from tests.realdata.conftest import normalized


@pytest.fixture(scope="module")
def real() -> realtruth.RealTruth:
    return realtruth.build({name: normalized(name)[0] for name in realtruth.REAL_TRUTH_SOURCES})


def test_truth_is_cross_source_and_substantial(real: realtruth.RealTruth) -> None:
    assert real.stats["same_source_true_pairs"] == 0
    assert real.stats["true_pairs"] >= 800
    assert real.stats["multi_source_clusters"] >= 800
    # every platform contributes cross-source pairs
    multi = real.truth.group_by("truth_key").agg(n=pl.len()).filter(pl.col("n") > 1)
    prefixes = set(multi["truth_key"].str.extract(r"^(\w+):").to_list())
    assert {"coursera", "futurelearn", "udemy", "udacity"} <= prefixes


def test_the_matcher_cannot_see_the_keys(real: realtruth.RealTruth) -> None:
    assert real.offerings["url"].null_count() == real.offerings.height
    keys = set(real.truth["truth_key"].str.replace(r"^\w+:", "").to_list())
    assert not keys & set(real.offerings["source_key"].to_list())


def test_blind_matching_reaches_the_targets(real: realtruth.RealTruth) -> None:
    report = resolve_report(real.offerings)
    m = evaluate(report.links, real.truth)
    print({k: round(v, 4) for k, v in m.items() if isinstance(v, float)})
    assert m["pairwise_precision"] >= 0.95
    assert m["pairwise_f1"] >= 0.90
    assert m["bcubed_f1"] >= 0.98
