"""Entity resolution at scale: wall time, peak memory, comparisons per record, F1, id stability.

::

    python -m normalize.dedup.bench --sizes 100000 1000000            # credcat, + Splink at 100k
    python -m normalize.dedup.bench --sizes 100000 --no-splink

Offerings come from the demo generator's universe at scale (normalize.dedup.demo: the
generator decides which listings are one credential, so its truth is exact), about 2,200
offerings per unit of scale. Each size runs in its own subprocess, so peak RSS (ru_maxrss)
is that size's alone; it includes generating the frame. ``resolve_peak_rss_gb`` is the peak
during the first ``resolve`` alone: the high-water mark is reset (``/proc/self/clear_refs``)
after generating, so it counts the offerings frame held in memory (``rss_before_resolve_gb``)
plus what resolve allocates, not the generator's Python objects. None where the reset is
not available.

Per size: ``resolve`` wall time, peak RSS, candidate pairs compared per record, pairwise /
B-cubed F1; then 1% of the input is changed (0.5% of offerings get a new description and
price, 0.25% are removed, 0.25% are new listings of existing credentials) and resolve re-runs
with ``previous_links``: the share of untouched clusters that keep their id, and the clusters
merged / split against the previous run (normalize.dedup.history).

Splink (optional extra ``bench``: ``pip install -e .[bench]``) runs on the same records at the
``--splink-size`` (default 100,000): DuckDB backend, the same blocking idea (title core key,
rarest title tokens, awarding body + title prefix, never two listings of one source),
comparisons on title, awarding body, platform, credential type and language, trained as its
docs recommend (probability two random records match from deterministic rules, u by random
sampling, m by EM on two blocking rules: title core; awarding body + title prefix; EM on the
awarding body alone ran out of memory at 100k, 18.7 GB), clustered at 0.5.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import time
from typing import Any

import polars as pl

OFFERINGS_PER_SCALE = 2220  # demo universe: offerings per unit of scale (seed 7: 2204 at 1.0, 99,934 at 45)


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def _reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark to its current RSS (Linux >= 4.0), if allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _vm_hwm_gb() -> float | None:
    """The RSS high-water mark since the last reset (VmHWM), in GB; None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2  # kB
    except OSError:
        pass
    return None


def generate(size: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    from normalize.dedup.demo import demo_offerings

    made = demo_offerings(seed=seed, scale=max(size / OFFERINGS_PER_SCALE, 0.05))
    if made is None:
        raise SystemExit("the demo generator (scrapers.mirror.universe) is not importable")
    return made


def perturb(offerings: pl.DataFrame, share: float = 0.01, seed: int = 1) -> tuple[pl.DataFrame, pl.Series]:
    """Change ``share`` of the input; returns (changed offerings, offering_ids left untouched)."""
    rng = random.Random(seed)
    ids = offerings["offering_id"].to_list()
    k = max(4, int(len(ids) * share))
    touched = rng.sample(ids, k)
    modified, removed, copied = touched[: k // 2], touched[k // 2 : 3 * k // 4], touched[3 * k // 4 :]
    out = offerings.with_columns(
        description=pl.when(pl.col("offering_id").is_in(modified))
        .then(pl.concat_str(pl.col("description"), pl.lit(" Updated for the new term.")))
        .otherwise(pl.col("description")),
        price_usd=pl.when(pl.col("offering_id").is_in(modified)).then(pl.col("price_usd") * 1.02).otherwise(pl.col("price_usd")),
    ).filter(~pl.col("offering_id").is_in(removed))
    from normalize.schema import offering_id

    extra = offerings.filter(pl.col("offering_id").is_in(copied)).with_columns(
        source=pl.lit("bench_new_source"), platform=pl.lit("NewSource")
    ).with_columns(source_key=pl.col("offering_id"))
    extra = extra.with_columns(
        offering_id=pl.Series([offering_id("bench_new_source", k) for k in extra["source_key"].to_list()], dtype=pl.String)
    )
    untouched = offerings.filter(~pl.col("offering_id").is_in(touched))["offering_id"]
    return pl.concat([out, extra]), untouched


def run_credcat(size: int, seed: int = 7) -> dict[str, Any]:
    from normalize.dedup import evaluate, resolve, resolve_report
    from normalize.dedup.history import change_summary, cluster_changes, id_stability

    t0 = time.perf_counter()
    offerings, truth = generate(size, seed)
    gen = time.perf_counter() - t0
    gc.collect()
    gen_peak = _peak_rss_gb()  # the reset below also lowers ru_maxrss
    rss_before = _vm_hwm_gb() if _reset_peak_rss() else None  # after a reset, VmHWM = current RSS
    t0 = time.perf_counter()
    report = resolve_report(offerings)
    wall = time.perf_counter() - t0
    resolve_peak = _vm_hwm_gb() if rss_before is not None else None
    metrics = evaluate(report.links, truth)
    changed, untouched = perturb(offerings)
    t0 = time.perf_counter()
    again = resolve(changed, previous_links=report.links)
    rewall = time.perf_counter() - t0
    stability = id_stability(report.links, again, untouched)
    changes = change_summary(cluster_changes(report.links, again))
    return {
        "tool": "credcat",
        "n_offerings": offerings.height,
        "generate_s": round(gen, 1),
        "wall_s": round(wall, 2),
        "peak_rss_gb": round(max(gen_peak, _peak_rss_gb()), 2),
        "rss_before_resolve_gb": None if rss_before is None else round(rss_before, 2),
        "resolve_peak_rss_gb": None if resolve_peak is None else round(resolve_peak, 2),
        "pairs_compared": report.stats["pairs_compared"],
        "comparisons_per_record": round(report.stats["pairs_compared"] / max(offerings.height, 1), 2),
        "pairwise_precision": round(metrics["pairwise_precision"], 4),
        "pairwise_recall": round(metrics["pairwise_recall"], 4),
        "pairwise_f1": round(metrics["pairwise_f1"], 4),
        "bcubed_f1": round(metrics["bcubed_f1"], 4),
        "rerun_wall_s": round(rewall, 2),
        "ids_kept_share": round(stability["share_kept"], 4),
        "ids_kept": f"{stability['kept_id']}/{stability['unchanged_clusters']}",
        "changes_vs_previous": changes,
        "seconds": {k: round(v, 2) for k, v in report.stats.get("seconds", {}).items()},
    }


def run_splink(size: int, seed: int = 7) -> dict[str, Any]:
    try:
        import splink.comparison_library as cl
        from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    except Exception as exc:  # the optional `bench` extra
        return {"tool": "splink", "error": f"{type(exc).__name__}: {exc}"}
    from normalize.dedup import default_settings, evaluate, prepare

    offerings, truth = generate(size, seed)
    t0 = time.perf_counter()
    # Splink compares the same matching keys credcat prepares (its own cleaning would be a
    # different, weaker model); preparing them is counted in Splink's time too.
    prepared = prepare.prepare(offerings, default_settings().text).select(
        pl.col("rid").cast(pl.Int64), "source", "is_test", "title_key", "title_core", "title_prefix", "rare_key",
        "body_key", "platform_key", "credential_type", "language",
    )
    not_same = "l.source <> r.source AND l.is_test = r.is_test"
    rules = [
        f"l.title_core = r.title_core AND {not_same}",
        f"l.rare_key = r.rare_key AND {not_same}",
        f"l.body_key = r.body_key AND l.title_prefix = r.title_prefix AND {not_same}",
    ]
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="rid",
        blocking_rules_to_generate_predictions=rules,
        comparisons=[
            cl.JaroWinklerAtThresholds("title_key", [0.97, 0.9]),
            cl.JaroWinklerAtThresholds("body_key", [0.95]),
            cl.ExactMatch("platform_key"),
            cl.ExactMatch("credential_type"),
            cl.ExactMatch("language"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    try:
        linker = Linker(prepared.to_pandas(), settings, db_api=DuckDBAPI())
        linker.training.estimate_probability_two_random_records_match(
            [block_on("title_key", "body_key")], recall=0.8
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("title_core"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("body_key", "title_prefix"))
        predictions = linker.inference.predict(threshold_match_probability=0.5)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.5)
        frame = pl.from_pandas(clusters.as_pandas_dataframe()[["rid", "cluster_id"]])
    except Exception as exc:
        return {"tool": "splink", "error": f"{type(exc).__name__}: {exc}"[:2000]}
    wall = time.perf_counter() - t0
    ids = offerings.sort("offering_id")["offering_id"]
    links = frame.select(
        offering_id=ids.gather(frame["rid"].cast(pl.UInt32)), credential_id=pl.col("cluster_id").cast(pl.String)
    )
    metrics = evaluate(links, truth)
    return {
        "tool": "splink",
        "version": __import__("splink").__version__,
        "n_offerings": offerings.height,
        "wall_s": round(wall, 2),
        "peak_rss_gb": round(_peak_rss_gb(), 2),
        "pairwise_precision": round(metrics["pairwise_precision"], 4),
        "pairwise_recall": round(metrics["pairwise_recall"], 4),
        "pairwise_f1": round(metrics["pairwise_f1"], 4),
        "bcubed_f1": round(metrics["bcubed_f1"], 4),
    }


def _child(tool: str, size: int, seed: int) -> dict[str, Any]:
    """One measurement in a fresh process (its own peak RSS)."""
    done = subprocess.run(
        [sys.executable, "-m", "normalize.dedup.bench", "--one", tool, str(size), "--seed", str(seed)],
        capture_output=True, text=True, check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"tool": tool, "n": size, "error": (done.stderr or done.stdout)[-2000:]}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m normalize.dedup.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--splink-size", type=int, default=100_000)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("TOOL", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        tool, size = args.one[0], int(args.one[1])
        result = run_credcat(size, args.seed) if tool == "credcat" else run_splink(size, args.seed)
        print(json.dumps(result, default=str), flush=True)
        return 0
    results = []
    for size in args.sizes:
        result = _child("credcat", size, args.seed)
        results.append(result)
        print(json.dumps(result, default=str), flush=True)
    if not args.no_splink:
        result = _child("splink", args.splink_size, args.seed)
        results.append(result)
        print(json.dumps(result, default=str), flush=True)
        ours = next((r for r in results if r.get("tool") == "credcat" and r.get("n_offerings") == result.get("n_offerings")), None)
        if ours and "error" not in result:
            print(
                f"same {result['n_offerings']} records: credcat F1 {ours['pairwise_f1']} in {ours['wall_s']} s"
                f" vs Splink F1 {result['pairwise_f1']} in {result['wall_s']} s"
                f" (credcat/Splink time {ours['wall_s'] / result['wall_s']:.2f})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
