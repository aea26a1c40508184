"""The benchmark harness: the growth fit, the re-crawl with 1% changed, and the whole chain
at a tiny size (generated landing -> every stage in its own process -> the table)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from normalize.bench import agreement, landing_for, run_dirs
from pipelines.bench.incremental import _bump, changed_landing
from pipelines.bench.run import STAGES, fit_exponent, growth

PROJECT = Path(__file__).resolve().parents[2]


def test_fit_exponent_recovers_known_powers() -> None:
    ns = [10_000, 100_000, 1_000_000]
    assert fit_exponent(ns, [2e-4 * n for n in ns]) == pytest.approx(1.0)
    assert fit_exponent(ns, [3e-9 * n**2 for n in ns]) == pytest.approx(2.0)
    assert fit_exponent(ns, [5.0, 5.0, 5.0]) == pytest.approx(0.0)
    # n log n over 10k..1M fits an exponent a little above 1 (1.09): within the 1.15 target.
    assert fit_exponent(ns, [n * math.log(n) for n in ns]) == pytest.approx(1.088, abs=0.002)
    # Least squares, not end points: noise in the middle moves the slope only a little.
    assert fit_exponent(ns, [1.0, 12.0, 100.0]) == pytest.approx(1.0, abs=0.05)


def test_fit_exponent_needs_two_sizes() -> None:
    assert fit_exponent([10_000], [3.0]) is None
    assert fit_exponent([10_000, 10_000], [3.0, 4.0]) is None
    assert fit_exponent([10_000, 100_000], [0.0, 4.0]) is None


def test_growth_per_stage_from_results() -> None:
    sizes = [{"full": [{"stage": "normalize", "rows": n, "wall_s": n / 1000, "cpu_s": n / 500,
                        "peak_rss_gb": 0.1 * (n / 1000) ** 0.5}]} for n in (1000, 10_000, 100_000)]
    exps = growth(sizes)["full:normalize"]
    assert exps["wall_s"] == pytest.approx(1.0) and exps["cpu_s"] == pytest.approx(1.0)
    assert exps["peak_rss_gb"] == pytest.approx(0.5) and exps["sizes"] == 3


def test_price_bump() -> None:
    assert _bump("$49.99") == "$59.99"
    assert _bump("€ 1.200,00") == "€ 1210.00"
    assert _bump("1,200") == "1210.00"
    assert _bump(None) is None


def test_agreement_counts_differences() -> None:
    ours = pl.DataFrame({"source": ["a", "a", "b"], "source_key": ["1", "2", "3"], "title": ["x", "y", None],
                         "price_amount": [10.0, None, 3.0]})
    theirs = ours.with_columns(title=pl.Series(["x", "z", None]), price_amount=pl.Series([10.004, None, 4.0]))
    full = {c: None for c in ("description", "awarding_body", "credential_type", "audience_level", "language",
                              "price_currency")}
    nums = {c: None for c in ("workload_hours_min", "workload_hours_max", "duration_weeks_min",
                              "duration_weeks_max")}

    def widen(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(*(pl.lit(v, pl.String).alias(c) for c, v in full.items()),
                                  *(pl.lit(v, pl.Float64).alias(c) for c, v in nums.items()))

    result = agreement(widen(theirs), widen(ours))
    assert result["compared_offerings"] == 3
    assert result["agreement_pct"]["title"] == pytest.approx(66.67)
    assert result["agreement_pct"]["price_amount"] == pytest.approx(66.67)
    assert result["agreement_pct"]["language"] == 100.0


@pytest.fixture(scope="module")
def tiny_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench-cache")
    return landing_for(2000, seed=7, root=root, workers=1)


def _items(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def test_changed_landing_changes_one_percent(tiny_landing: Path) -> None:
    summary = changed_landing(tiny_landing, "bench-incr", changed=0.04, seed=3)
    before = {(i["source"], i["source_key"]): i for d in run_dirs(tiny_landing) for i in _items(d / "items.jsonl")}
    after = {(i["source"], i["source_key"]): i
             for d in run_dirs(tiny_landing, "bench-incr") for i in _items(d / "items.jsonl")}
    assert all(i["run_id"] == "bench-incr" for i in after.values())
    removed, added = set(before) - set(after), set(after) - set(before)
    changed = [k for k in set(before) & set(after) if before[k]["description"] != after[k]["description"]]
    assert len(removed) == summary["removed"] > 0 and len(added) == summary["added"] > 0
    assert len(changed) == summary["modified"] > 0
    assert summary["records"] == len(after)
    assert 0.03 <= (len(removed) + len(added) + len(changed)) / len(before) <= 0.05
    assert changed_landing(tiny_landing, "bench-incr", changed=0.04, seed=3) == summary  # reused


@pytest.mark.slow
def test_whole_chain_at_a_tiny_size(tiny_landing: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CREDCAT_BENCH_CACHE": str(tiny_landing.parent)}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.bench", "--sizes", "2000", "--splink-max", "0", "--no-crawl",
         "--out", str(tmp_path)],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "latest.json").read_text())
    (size,) = result["sizes"]
    for part in ("full", "incremental"):
        assert [r["stage"] for r in size[part]] == list(STAGES)
        for r in size[part]:
            assert r["rows"] > 1500 and r["wall_s"] > 0 and r["cpu_s"] > 0 and 0 < r["peak_rss_gb"] < 8
            assert r["rows_per_s"] == round(r["rows"] / r["wall_s"])
    assert size["full_total"]["wall_s"] == pytest.approx(sum(r["wall_s"] for r in size["full"]), abs=0.02)
    assert size["incremental_share"] == pytest.approx(
        size["incremental_total"]["wall_s"] / size["full_total"]["wall_s"], abs=0.001)
    export = size["full"][-1]
    assert export["manifest_problems"] == 0 and export["rows"] == size["full"][0]["offerings"]
    assert size["incremental"][-1]["changes"]["upserts"] > 0  # the change feed saw the 1%
    assert 0.5 < size["full"][1]["pairwise_f1"] <= 1.0
    nb = size["normalize_baseline"]
    if importlib.util.find_spec("pandas") is not None:  # the baseline needs the bench extra
        assert nb["pandas"]["agreement"]["compared_offerings"] > 1500 and nb["speedup"] > 0
    assert {c["target"] for c in result["acceptance"]} >= {"full batch time", "incremental run",
                                                           "normalization vs pandas"}
    table = (tmp_path / "latest.md").read_text()
    for heading in ("### Stages", "### Baselines", "### Growth", "### Acceptance", "Machine:"):
        assert heading in table
    assert table.count("| 2,000 | full |") == len(STAGES) + 1  # four stages and the total
