"""The benchmark's own logic: the Splink SQL it writes, and the acceptance lines it prints."""

from __future__ import annotations

import random

import duckdb
import polars as pl
import pytest

from normalize.dedup import bench


def _jaccard(a: list[str], b: list[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.9])
def test_jaccard_sql_matches_the_definition(threshold: float) -> None:
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(30)]
    rows = []
    for _ in range(300):
        a = sorted(set(rng.sample(vocab, rng.randint(1, 20))))
        b = sorted(set(rng.sample(vocab, rng.randint(1, 20))))
        rows.append((a, b))
    rows.append((["x", "y"], ["x", "y"]))  # identical
    rows.append((["x"], ["y"]))  # disjoint
    frame = pl.DataFrame({"t_l": [a for a, _ in rows], "t_r": [b for _, b in rows]})
    con = duckdb.connect()
    con.register("pairs", frame.to_arrow())
    got = [r[0] for r in con.execute(f"SELECT {bench._jaccard_at_least('t', threshold)} FROM pairs").fetchall()]
    expected = [_jaccard(a, b) >= threshold - 1e-9 for a, b in rows]
    assert got == expected


def _result(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "n_offerings": 1000, "wall_s": 10.0, "peak_rss_gb": 1.0, "comparisons_per_record": 10.0,
        "pairwise_precision": 0.99, "pairwise_recall": 0.95, "pairwise_f1": 0.97, "bcubed_f1": 0.99,
        "rss_after_load_gb": 0.2, "pairs_compared": 10_000,
    }
    return base | kw


def test_size_checks_pass_and_fail() -> None:
    good = "\n".join(bench.size_checks(_result()))
    assert "FAIL" not in good and good.count("PASS") == 4
    bad = "\n".join(bench.size_checks(_result(wall_s=121.0, peak_rss_gb=8.5, comparisons_per_record=51.0, pairwise_f1=0.9)))
    assert bad.count("FAIL") == 4


def test_side_by_side_compares_with_splinks_best_threshold() -> None:
    splink = _result(
        version="4.0.17", wall_s=40.0, pairwise_f1=0.8, cluster_threshold=0.95,
        f1_by_cluster_threshold={"0.95": 0.8, "0.999": 0.98}, best_threshold=0.999,
        best={"pairwise_f1": 0.98},
    )
    lines = "\n".join(bench.side_by_side(_result(wall_s=10.0), splink))
    assert "credcat/Splink time: 0.250" in lines
    # F1 0.97 beats Splink at 0.95 (0.8) but not at its best threshold (0.98): the check fails.
    assert "Splink's best F1 (at 0.999): 0.97 vs 0.98: FAIL" in lines
    assert "(ratio 0.250 <= 0.5): PASS" in lines
    slow = "\n".join(bench.side_by_side(_result(wall_s=30.0, pairwise_f1=0.99), splink))
    assert "0.99 vs 0.98: PASS" in slow and "(ratio 0.750 <= 0.5): FAIL" in slow
