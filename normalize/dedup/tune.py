"""Tune entity resolution on the real pipeline's output for the demo catalog.

The demo generator (scrapers/mirror) knows which listings are one credential; its crawl by the
real spiders and normalization by ``normalize.transforms`` is exactly what dedup sees in
production. This tool builds that output for any seed, evaluates the matcher on it, shows its
mistakes, and refits the weights, so the weights are fitted on some seeds and judged on others
(held out) instead of on the catalog they were fitted to.

A *dataset folder* holds ``offerings.parquet`` (OFFERING_SCHEMA, every source concatenated) and
``truth.parquet`` [offering_id, truth_key] (test records get a key of their own, as
``pipelines.defs.catalog.demo_truth`` does).

::

    # generate, serve, crawl every source and normalize it (~25 s per seed)
    python -m normalize.dedup.tune build --seeds 7 11 23 --root /tmp/dedup-tune
    # or take a pipeline run's output (<data>/runtime/io/staging, <data>/demo/seed*/truth.jsonl)
    python -m normalize.dedup.tune import-run /tmp/cc1 --out /tmp/dedup-tune/cc1

    # pairwise / B-cubed metrics, and the worst false negatives / positives with their fields
    python -m normalize.dedup.tune evaluate /tmp/dedup-tune/seed7 --errors 30

    # refit m/u on some seeds' candidate pairs, judge on held-out seeds, write the weights
    python -m normalize.dedup.tune fit --fit-dirs /tmp/dedup-tune/seed7 \\
        --eval-dirs /tmp/dedup-tune/seed11 /tmp/dedup-tune/seed23 --write

Fitting keeps the ``floors`` of the shipped weights (caps on negative evidence) and the
``min_support`` rule of ``fit_weights``; ``--write`` saves to ``data/weights.json`` (or
``--weights PATH``) with a ``_doc`` saying what it was fitted on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from normalize.dedup import candidate_pairs, evaluate, fit_weights, resolve_report
from normalize.dedup.settings import DATA_DIR, DedupSettings, Weights, load_settings

OFFERINGS_FILE = "offerings.parquet"
TRUTH_FILE = "truth.parquet"
METRICS = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall", "bcubed_f1")


# --- datasets ------------------------------------------------------------------------------------


_TRUTH_FIELDS = {"source": pl.String, "source_key": pl.String, "credential_key": pl.String, "is_test": pl.Boolean}


def truth_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """truth.jsonl rows -> [offering_id, truth_key]; a test record is its own credential."""
    return _truth_keys(pl.DataFrame({name: [r.get(name) for r in rows] for name in _TRUTH_FIELDS},
                                    schema=_TRUTH_FIELDS))


def read_truth(path: Path) -> pl.DataFrame:
    """A generator's truth.jsonl -> ``truth_frame`` of the rows that belong to a credential
    (expected rejects have no ``credential_key``). Only the four fields it needs are parsed
    (Polars, typed): at a million rows ~4 s, against ~17 s for ``json.loads`` of every line."""
    rows = pl.read_ndjson(path, schema=_TRUTH_FIELDS)
    return _truth_keys(rows.filter(pl.col("credential_key").str.len_bytes() > 0))


def _truth_keys(rows: pl.DataFrame) -> pl.DataFrame:
    from normalize.schema import offering_id

    sources, keys = rows["source"].to_list(), rows["source_key"].to_list()
    return pl.DataFrame(
        {
            "offering_id": [offering_id(s, k) for s, k in zip(sources, keys, strict=True)],
            "truth_key": rows.select(
                pl.when(pl.col("is_test").fill_null(False))
                .then(pl.format("test:{}:{}", "source", "source_key"))
                .otherwise("credential_key")
            ).to_series(),
        },
        schema={"offering_id": pl.String, "truth_key": pl.String},
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def save_dataset(out: Path, offerings: pl.DataFrame, truth: pl.DataFrame, meta: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    offerings.write_parquet(out / OFFERINGS_FILE)
    truth.write_parquet(out / TRUTH_FILE)
    (out / "dataset.json").write_text(json.dumps(meta, indent=1, default=str) + "\n", encoding="utf-8")
    return out


def load_dataset(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    folder = Path(folder)
    return pl.read_parquet(folder / OFFERINGS_FILE), pl.read_parquet(folder / TRUTH_FILE)


def build_dataset(seed: int, out: Path, scale: float = 1.0, workers: int = 3, work: Path | None = None) -> Path:
    """Generate the demo catalog of ``seed``, serve it, crawl every demo source with the real
    spiders, normalize each source as its staging asset does, and save the dataset to ``out``."""
    from normalize.transforms import normalize, read_landing
    from scrapers.mirror.generate import generate
    from scrapers.mirror.server import RunningServer
    from scrapers.registry import load_sources
    from scrapers.run import crawl

    sources = {n: s for n, s in load_sources().items() if s.demo}
    kinds = {n: s.provider_kind for n, s in load_sources().items()}
    with tempfile.TemporaryDirectory(prefix=f"dedup-tune-seed{seed}-", dir=work) as tmp:
        site, landing = Path(tmp) / "site", Path(tmp) / "landing"
        t0 = time.perf_counter()
        manifest = generate(site, seed=seed, scale=scale)
        run_id = f"tune-seed{seed}"
        with RunningServer(site) as server, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {n: pool.submit(crawl, s, run_id, landing, mirror_url=server.base_url) for n, s in sources.items()}
            stats = {n: f.result() for n, f in futures.items()}
        frames, rejects = [], {}
        for name in sources:
            raw, invalid = read_landing([landing / name / run_id])
            result = normalize(raw.lazy(), provider_kinds=kinds)
            frames.append(result.offerings)
            rejects[name] = invalid.height + result.rejects.height
        offerings = pl.concat(frames, how="vertical")
        truth = truth_frame(_read_jsonl(site / "truth.jsonl"))
        meta = {
            "seed": seed,
            "scale": scale,
            "manifest": manifest,
            "offerings": offerings.height,
            "rejects": rejects,
            "incomplete_crawls": [n for n, s in stats.items() if not s.get("complete")],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        return save_dataset(Path(out), offerings, truth, meta)


def import_run(data_dir: Path, out: Path) -> Path:
    """A pipeline run's staged offerings and demo truth (``<data>/runtime/io/staging/<source>/``,
    read as the pipeline reads it, ``pipelines.frames.FrameFolder``: a re-crawl's frames may be
    patches on an earlier output's files; ``<data>/demo/seed*/truth.jsonl``) as a dataset folder."""
    # The IO layer's reader of staging folders (this is a command, not a library step).
    from pipelines.frames import FrameFolder

    data_dir = Path(data_dir)
    folders = [FrameFolder(p) for p in sorted((data_dir / "runtime" / "io" / "staging").glob("*")) if p.is_dir()]
    staged = [f for f in folders if "offerings" in f]
    truths = sorted((data_dir / "demo").glob("seed*/truth.jsonl"))
    if not staged or len(truths) != 1:
        raise SystemExit(f"{data_dir}: need staged offerings and exactly one demo truth.jsonl")
    offerings = pl.concat([f["offerings"] for f in staged], how="vertical")
    for folder in folders:
        folder.close()
    truth = truth_frame(_read_jsonl(truths[0]))
    return save_dataset(Path(out), offerings, truth, {"imported_from": str(data_dir), "truth": str(truths[0])})


# --- evaluation ----------------------------------------------------------------------------------


def evaluate_dataset(folder: Path, settings: DedupSettings | None = None) -> dict[str, Any]:
    """``evaluate`` metrics of resolving a dataset folder, plus its candidate pairs and seconds."""
    offerings, truth = load_dataset(folder)
    report = resolve_report(offerings, settings or load_settings())
    scores = evaluate(report.links, truth)
    scores["seconds"] = round(sum(report.stats["seconds"].values()), 2)
    scores["candidate_pairs"] = report.stats["pairs_compared"]
    return scores


_SHOW = ("source", "title", "awarding_body", "platform", "credential_type", "language",
         "workload_hours_min", "duration_weeks_min", "price_usd")


def errors(folder: Path, settings: DedupSettings | None = None) -> dict[str, pl.DataFrame]:
    """False negatives (true pairs left apart) and false positives (pairs put together wrongly),
    each with both offerings' fields, the pair's levels and probability when it was a candidate
    (``blocked`` = blocking never proposed it)."""
    settings = settings or load_settings()
    offerings, truth = load_dataset(folder)
    report = resolve_report(offerings, settings)
    links = report.links.join(truth, on="offering_id")
    cands = candidate_pairs(offerings, settings).select(
        "offering_id_l", "offering_id_r", "rule", "match_probability", pl.selectors.starts_with("gamma_")
    )

    def pairs_of(group: str) -> pl.DataFrame:
        members = links.select("offering_id", group)
        p = members.join(members, on=group, suffix="_r").filter(pl.col("offering_id") < pl.col("offering_id_r"))
        return p.select(offering_id_l="offering_id", offering_id_r="offering_id_r")

    true_pairs, pred_pairs = pairs_of("truth_key"), pairs_of("credential_id")
    fn = true_pairs.join(pred_pairs, on=["offering_id_l", "offering_id_r"], how="anti")
    fp = pred_pairs.join(true_pairs, on=["offering_id_l", "offering_id_r"], how="anti")
    fields = offerings.select("offering_id", *_SHOW)

    def detail(pairs: pl.DataFrame) -> pl.DataFrame:
        return (
            pairs.join(cands, on=["offering_id_l", "offering_id_r"], how="left")
            .join(fields.rename(lambda c: f"{c}_l"), on="offering_id_l", how="left")
            .join(fields.rename(lambda c: f"{c}_r"), on="offering_id_r", how="left")
            .with_columns(blocked=pl.col("match_probability").is_null())
            .sort("match_probability", descending=True, nulls_last=True)
        )

    return {"false_negatives": detail(fn), "false_positives": detail(fp)}


def print_errors(found: dict[str, pl.DataFrame], limit: int) -> None:
    for name, frame in found.items():
        print(f"\n== {name}: {frame.height} pairs, {int(frame['blocked'].sum())} never blocked together")
        gammas = [c for c in frame.columns if c.startswith("gamma_")]
        for row in frame.head(limit).iter_rows(named=True):
            p = row["match_probability"]
            print(f"-- p={'blocked' if p is None else f'{p:.3f}'} rule={row['rule']}")
            for side in ("l", "r"):
                vals = [str(row[f"{c}_{side}"]) for c in _SHOW]
                print("   " + " | ".join(vals))
            if p is not None:
                print("   " + " ".join(f"{g.removeprefix('gamma_')}={row[g]}" for g in gammas))


def _table(results: dict[str, dict[str, Any]]) -> str:
    width = max([len("dataset"), *map(len, results)]) + 2
    short = [m.replace("pairwise_", "pw_").replace("bcubed_", "b3_").replace("precision", "prec").replace("recall", "rec")
             for m in METRICS]
    lines = [f"{'dataset':<{width}}" + "".join(f"{m:>9}" for m in short) + f"{'pairs':>9}{'secs':>7}"]
    for name, s in results.items():
        lines.append(
            f"{name:<{width}}" + "".join(f"{s[m]:>9.4f}" for m in METRICS) + f"{s['candidate_pairs']:>9}{s['seconds']:>7}"
        )
    return "\n".join(lines)


# --- fitting -------------------------------------------------------------------------------------


def fit(folders: Sequence[Path], settings: DedupSettings | None = None, min_support: int = 10) -> Weights:
    """Weights fitted on the candidate pairs (unpruned) and truth of every folder, pooled."""
    settings = settings or load_settings()
    pairs, truths = [], []
    for i, folder in enumerate(folders):
        offerings, truth = load_dataset(folder)
        # Offering ids are per source and key, so seeds can share ids: prefix them per dataset.
        tag = f"{i}\x1f"
        cp = candidate_pairs(offerings, settings).with_columns(
            offering_id_l=pl.lit(tag) + pl.col("offering_id_l"), offering_id_r=pl.lit(tag) + pl.col("offering_id_r")
        )
        pairs.append(cp.select("offering_id_l", "offering_id_r", pl.selectors.starts_with("gamma_")))
        truths.append(truth.with_columns(offering_id=pl.lit(tag) + pl.col("offering_id"), truth_key=pl.lit(tag) + pl.col("truth_key")))
    weights = fit_weights(
        pl.concat(pairs), pl.concat(truths), settings.comparisons, settings.weights, min_support=min_support
    )
    # Round-trip through the file format, so what is reported is exactly what would be saved.
    return Weights.from_json(weights.to_json())


def write_weights(weights: Weights, path: Path, fitted_on: Sequence[Path], min_support: int = 10) -> None:
    """Save ``weights`` as data/weights.json is written, with a ``_doc`` naming what they were fitted on."""
    data = weights.to_json()
    doc = (
        "Fellegi-Sunter m/u per comparison level (weight = log2(m/u); null levels weigh 0). Fitted with "
        "python -m normalize.dedup.tune fit on the unpruned candidate pairs of the real pipeline output "
        "(demo catalog generated, crawled by the spiders, normalized) of: "
        + ", ".join(Path(f).name for f in fitted_on)
        + f"; levels seen fewer than {min_support} times keep their previous values; within a comparison a "
        "weaker level never outweighs a stronger one (violating levels pooled). prior = share of matches among "
        "candidate pairs. floors cap how negative a comparison may go: normalization slips (units, "
        "currencies, type labels, aliases) make true matches disagree in the wild more than in the demo."
    )
    Path(path).write_text(json.dumps({"_doc": doc, **data}, indent=1) + "\n", encoding="utf-8")


# --- command line --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m normalize.dedup.tune", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="generate + serve + crawl + normalize demo seeds into dataset folders")
    b.add_argument("--seeds", type=int, nargs="+", required=True)
    b.add_argument("--root", type=Path, required=True, help="dataset folders go to ROOT/seed<N>")
    b.add_argument("--scale", type=float, default=1.0)
    b.add_argument("--workers", type=int, default=3, help="crawls run at once")
    i = sub.add_parser("import-run", help="a pipeline data dir's staged offerings + demo truth as a dataset")
    i.add_argument("data_dir", type=Path)
    i.add_argument("--out", type=Path, required=True)
    e = sub.add_parser("evaluate", help="metrics per dataset (and the mistakes with --errors N)")
    e.add_argument("dirs", type=Path, nargs="+")
    e.add_argument("--errors", type=int, default=0, help="print the first N false negatives / positives")
    e.add_argument("--data-dir", type=Path, default=DATA_DIR, help="settings folder (rules, weights, ...)")
    f = sub.add_parser("fit", help="refit weights on --fit-dirs, report on --fit-dirs and --eval-dirs")
    f.add_argument("--fit-dirs", type=Path, nargs="+", required=True)
    f.add_argument("--eval-dirs", type=Path, nargs="*", default=[])
    f.add_argument("--data-dir", type=Path, default=DATA_DIR)
    f.add_argument("--min-support", type=int, default=10)
    f.add_argument("--write", action="store_true", help="save the fitted weights (to --weights)")
    f.add_argument("--weights", type=Path, default=DATA_DIR / "weights.json")
    args = parser.parse_args(argv)

    if args.cmd == "build":
        for seed in args.seeds:
            out = build_dataset(seed, args.root / f"seed{seed}", args.scale, args.workers)
            meta = json.loads((out / "dataset.json").read_text())
            print(f"seed {seed}: {meta['offerings']} offerings in {meta['seconds']} s -> {out}"
                  + (f" (incomplete crawls: {meta['incomplete_crawls']})" if meta["incomplete_crawls"] else ""))
        return 0
    if args.cmd == "import-run":
        print(import_run(args.data_dir, args.out))
        return 0
    if args.cmd == "evaluate":
        settings = load_settings(args.data_dir)
        print(_table({str(d): evaluate_dataset(d, settings) for d in args.dirs}))
        if args.errors:
            for d in args.dirs:
                print(f"\n##### {d}")
                print_errors(errors(d, settings), args.errors)
        return 0
    if args.cmd == "fit":
        settings = load_settings(args.data_dir)
        before = {f"{d} (before)": evaluate_dataset(d, settings) for d in [*args.fit_dirs, *args.eval_dirs]}
        weights = fit(args.fit_dirs, settings, args.min_support)
        fitted = settings.with_weights(weights)
        after = {
            f"{d} ({'fit' if d in args.fit_dirs else 'held out'})": evaluate_dataset(d, fitted)
            for d in [*args.fit_dirs, *args.eval_dirs]
        }
        print(_table({**before, **after}))
        print("\nlevel weights (bits):")
        for comp in settings.comparisons:
            print(f"  {comp.name:<16}" + "  ".join(f"{lab}={weights.weight(comp.name, lab):+.2f}" for lab in comp.labels))
        print(f"  prior={weights.prior:.5f}")
        if args.write:
            write_weights(weights, args.weights, args.fit_dirs, args.min_support)
            print(f"wrote {args.weights}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
