"""One pipeline stage per process: ``python -m pipelines.bench.stages STAGE --state DIR ...``.

The stages are the pipeline's own calls, in the order the Dagster assets make them, with
frames handed over as Parquet files (as ``pipelines/io_manager.py`` does between assets):

- ``normalize``: ``read_landing`` + ``normalize`` of every source's run -> raw, offerings,
  rejects, source_runs;
- ``resolve``: ``resolve_report`` (with the published warehouse's links as
  ``previous_links``, as the ``offering_links`` asset does) + ``build_credentials`` ->
  links, credentials;
- ``load``: ``warehouse.load.build`` into the work file (a copy of the published file when
  there is one) + ``warehouse.publish.publish``;
- ``export``: ``warehouse.export.export_snapshot`` of the published file.

Each prints one JSON line: ``wall_s`` and ``cpu_s`` of the stage body (reading its inputs
and writing its outputs included, interpreter start-up and imports not), ``rows`` (its
input), and stage details. Peak RSS is taken by the parent from the child's rusage.
Checks that are no part of a stage's work (F1 against the generator's truth, the export
manifest's verification) run after the clock stops.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from normalize.schema import offering_id

HANDOFFS = ("raw", "offerings", "rejects", "source_runs", "links", "credentials")


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


class State:
    """Where a bench run keeps its files: ``<state>/<label>/*.parquet`` per run (full,
    incremental), and the warehouse and exports they share, so the incremental run finds
    the full run's published warehouse and snapshot as a scheduled re-run would."""

    def __init__(self, root: Path, label: str) -> None:
        self.root = Path(root)
        self.label = label

    def handoff(self, name: str) -> Path:
        return self.root / self.label / f"{name}.parquet"

    @property
    def published(self) -> Path:
        return self.root / "warehouse" / "credcat.duckdb"

    @property
    def work(self) -> Path:
        return self.root / "warehouse" / "credcat.work.duckdb"

    @property
    def exports(self) -> Path:
        return self.root / "exports"


def _registry() -> dict[str, Any]:
    from scrapers.registry import load_sources

    return load_sources()


def stage_normalize(state: State, landing: Path, run_id: str) -> dict[str, Any]:
    from normalize.transforms import normalize, read_landing

    sources = _registry()
    kinds = {name: s.provider_kind for name, s in sources.items()}
    summary = json.loads((landing / "landing.json").read_text()) if (landing / "landing.json").is_file() else {}
    pages = {s["source"]: int(s.get("pages", 0)) for s in summary.get("sources", [])}
    dirs = sorted(p for p in (landing / "landing").glob(f"*/{run_id}") if p.is_dir())
    if not dirs:
        raise SystemExit(f"no runs '{run_id}' under {landing / 'landing'}")
    (state.root / state.label).mkdir(parents=True, exist_ok=True)
    cpu0, t0 = _cpu(), time.perf_counter()
    started = datetime.now(UTC)
    # One staging step per source, as the staging/<source> assets do.
    raws, offerings, rejects, runs = [], [], [], []
    seconds = {"read_landing": 0.0, "normalize": 0.0}
    for run_dir in dirs:
        t = time.perf_counter()
        raw, invalid = read_landing([run_dir])
        seconds["read_landing"] += time.perf_counter() - t
        t = time.perf_counter()
        result = normalize(raw.lazy(), provider_kinds=kinds)
        seconds["normalize"] += time.perf_counter() - t
        source_rejects = pl.concat([invalid, result.rejects], how="vertical")
        raws.append(raw)
        offerings.append(result.offerings)
        rejects.append(source_rejects)
        runs.append({"source": run_dir.parent.name, "run_id": run_id, "started_at": started,
                     "finished_at": datetime.now(UTC), "complete": True,
                     "pages": pages.get(run_dir.parent.name, 0), "items": raw.height + invalid.height,
                     "rejects": source_rejects.height, "offerings": result.offerings.height})
    t = time.perf_counter()
    raw_all = pl.concat(raws, how="vertical")
    offerings_all = pl.concat(offerings, how="vertical")
    rejects_all = pl.concat(rejects, how="vertical")
    raw_all.write_parquet(state.handoff("raw"))
    offerings_all.write_parquet(state.handoff("offerings"))
    rejects_all.write_parquet(state.handoff("rejects"))
    pl.DataFrame(runs).write_parquet(state.handoff("source_runs"))
    seconds["write_handoffs"] = time.perf_counter() - t
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    rows = sum(r["items"] for r in runs)
    if rows != offerings_all.height + rejects_all.height:
        raise SystemExit(f"raw {rows} != offerings {offerings_all.height} + rejects {rejects_all.height}")
    return {"stage": "normalize", "rows": rows, "wall_s": wall, "cpu_s": cpu,
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
            "offerings": offerings_all.height, "rejects": rejects_all.height, "sources": len(runs)}


def previous_links(published: Path) -> pl.DataFrame | None:
    """The published warehouse's links (as pipelines.defs.catalog.previous_links reads them)."""
    if not published.exists():
        return None
    from warehouse.publish import open_readonly

    con = open_readonly(published)
    try:
        return con.sql("select offering_id, credential_id, match_score from intermediate.int_offering_links").pl()
    finally:
        con.close()


def truth_frame(path: Path) -> pl.DataFrame | None:
    """The generator's truth as (offering_id, truth_key), as pipelines.defs.catalog.demo_truth."""
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    rows = [r for r in rows if r.get("credential_key")]
    return pl.DataFrame({
        "offering_id": [offering_id(r["source"], r["source_key"]) for r in rows],
        "truth_key": [r["credential_key"] if not r.get("is_test") else f"test:{r['source']}:{r['source_key']}"
                      for r in rows],
    })


def stage_resolve(state: State, truth: Path | None) -> dict[str, Any]:
    from normalize.dedup import build_credentials, evaluate, resolve_report
    from normalize.dedup.settings import load_settings

    kinds = {name: s.provider_kind for name, s in _registry().items()}
    cpu0, t0 = _cpu(), time.perf_counter()
    offerings = pl.read_parquet(state.handoff("offerings"))
    settings = load_settings(source_kinds=kinds)
    previous = previous_links(state.published)
    report = resolve_report(offerings, settings, previous)
    t_resolve = time.perf_counter()
    credentials = build_credentials(offerings, report.links, settings)
    t_credentials = time.perf_counter()
    report.links.write_parquet(state.handoff("links"))
    credentials.write_parquet(state.handoff("credentials"))
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    out: dict[str, Any] = {
        "stage": "resolve", "rows": offerings.height, "wall_s": wall, "cpu_s": cpu,
        "credentials": credentials.height, "pairs_compared": report.stats.get("pairs_compared"),
        "previous_links": 0 if previous is None else previous.height,
        "seconds": {**{k: round(v, 2) for k, v in report.stats.get("seconds", {}).items()},
                    "build_credentials": round(t_credentials - t_resolve, 2)},
    }
    frame = truth_frame(truth) if truth else None
    if frame is not None:
        metrics = evaluate(report.links, frame)
        out.update(pairwise_f1=round(metrics["pairwise_f1"], 4), bcubed_f1=round(metrics["bcubed_f1"], 4))
    return out


class _StepTimer:
    """Times named functions of the export modules by wrapping them (in this process only),
    as warehouse/bench_export.py does; a name the module no longer has is skipped."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, module: Any, name: str, label: str) -> None:
        original = getattr(module, name, None)
        if original is None:
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        setattr(module, name, timed)


def stage_load(state: State) -> dict[str, Any]:
    from warehouse import load as load_module
    from warehouse.load import RunInputs, build
    from warehouse.publish import publish

    timer = _StepTimer()
    for name in ("_prepare", "_reset_work_file", "_load_raw", "_replace_run_partitions", "_apply_versions",
                 "_apply_price_history", "_upsert_changed", "_upsert_source_runs", "_rebuild_marts", "table_counts"):
        timer.wrap(load_module, name, name.lstrip("_"))
    cpu0, t0 = _cpu(), time.perf_counter()
    frames = {name: pl.read_parquet(state.handoff(name)) for name in HANDOFFS}
    inputs = RunInputs(
        run_started_at=datetime.now(UTC), raw=frames["raw"], offerings=frames["offerings"],
        rejects=frames["rejects"], links=frames["links"], credentials=frames["credentials"],
        source_runs=frames["source_runs"],
    )
    t_read = time.perf_counter()
    stats = build(state.work, state.published if state.published.exists() else None, inputs)
    t_build = time.perf_counter()
    publish(state.work, state.published)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    steps = {k: round(v, 2) for k, v in timer.seconds.items()}
    steps["other (commit, checkpoint, views)"] = round((t_build - t_read) - sum(timer.seconds.values()), 2)
    keep = ("versions_opened", "versions_closed", "unchanged", "price_history_written", "raw_inserted",
            "links_changed", "credentials_changed")
    return {"stage": "load", "rows": frames["offerings"].height, "wall_s": wall, "cpu_s": cpu,
            "seconds": {"read_handoffs": round(t_read - t0, 2), "build": round(t_build - t_read, 2),
                        "publish": round(time.perf_counter() - t_build, 2)},
            "build_steps": steps,
            "warehouse_mb": round(state.published.stat().st_size / 2**20),
            **{k: stats.get(k) for k in keep}}


def stage_export(state: State, snapshot: str) -> dict[str, Any]:
    from warehouse import export as export_module
    from warehouse import jsonld
    from warehouse.export import export_snapshot, verify_manifest

    timer = _StepTimer()
    timer.wrap(export_module, "_export_entity", "parquet")
    timer.wrap(export_module, "entity_schemas", "json schemas")
    timer.wrap(export_module, "_export_changes", "change feed")
    timer.wrap(jsonld, "prepare", "ids (uuid5)")
    timer.wrap(jsonld, "export_ctdl", "ctdl json-ld")
    timer.wrap(jsonld, "export_openbadges", "open badges")
    cpu0, t0 = _cpu(), time.perf_counter()
    manifest = export_snapshot(state.published, state.exports, snapshot)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    problems = verify_manifest(state.exports / snapshot)  # the exports asset's check; untimed
    rows = manifest["entities"].get("offerings", {}).get("rows", 0)
    size = sum(f["bytes"] for f in manifest["files"]) + sum(d["bytes"] for d in manifest.get("documents", []))
    seconds = {k: round(v, 2) for k, v in timer.seconds.items()}
    seconds["other (hashing, manifest)"] = round(wall - sum(timer.seconds.values()), 2)
    return {"stage": "export", "rows": rows, "wall_s": wall, "cpu_s": cpu, "files": len(manifest["files"]),
            "seconds": seconds, "mb": round(size / 2**20),
            "changes": {k: manifest["changes"].get(k) for k in ("upserts", "deletes")},
            "manifest_problems": len(problems)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench.stages")
    parser.add_argument("stage", choices=["normalize", "resolve", "load", "export"])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--label", required=True, help="full | incremental: the run's handoff folder")
    parser.add_argument("--landing", type=Path, help="folder with landing/<source>/<run_id>/ (normalize)")
    parser.add_argument("--run-id", default="bench")
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--snapshot")
    args = parser.parse_args(argv)
    state = State(args.state, args.label)
    if args.stage == "normalize":
        result = stage_normalize(state, args.landing, args.run_id)
    elif args.stage == "resolve":
        result = stage_resolve(state, args.truth)
    elif args.stage == "load":
        result = stage_load(state)
    else:
        result = stage_export(state, args.snapshot or args.label)
    result["wall_s"], result["cpu_s"] = round(result["wall_s"], 3), round(result["cpu_s"], 3)
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
