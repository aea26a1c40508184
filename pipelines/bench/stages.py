"""One pipeline stage per process: ``python -m pipelines.bench.stages STAGE --state DIR ...``.

The stages make the calls the Dagster assets make (pipelines/defs/sources.py, catalog.py), in
their order, with their checks, and hand frames over as Parquet files laid out as
``pipelines/io_manager.py`` stores the assets' outputs:

- ``normalize`` (the ``staging/<source>`` assets): per source, ``read_landing`` + ``normalize``
  of its run, then the asset's blocking checks (schemas, raw = offerings + rejects, unique
  offering_id) and its quality figures (coverage, reject reasons, unmapped values); writes
  ``staging/<source>/{raw,offerings,rejects}.parquet`` and ``source_runs.parquet`` (the crawl
  facts ``marts_build`` reads from the raw assets);
- ``resolve`` (``intermediate/offering_links`` + ``intermediate/credentials``): the columns
  resolving reads of every source's staging offerings; ``resolve_report`` with the published
  warehouse's links as ``previous_links``; the one-link-per-offering check and dedup figures;
  staging loaded again, survivorship's columns (the second asset loads its inputs anew), for
  ``build_credentials`` and the unique-id check;
- ``load`` (``marts_build``): ``warehouse.publish.build_and_publish`` (under the publish lock:
  a copy of the published file into the run's own work file on a second thread while staging
  and the handoffs are loaded and checked, ``warehouse.load.build``, the blocking
  ``marts_consistent`` check on the work file, the atomic rename);
- ``export`` (``exports/parquet``): ``warehouse.export.export_snapshot`` of the published file
  (Parquet, JSON Schemas and the change feed on the main thread; the CTDL and Open Badges
  documents, ``jsonld.prepare`` + ``jsonld.export_documents``, on a second thread beside
  them) and the asset's ``verify_manifest`` check.

Each prints one JSON line: ``wall_s`` and ``cpu_s`` of the stage body (reading its inputs and
writing its outputs included, interpreter start-up and imports not), ``rows`` (its input), and
per step ``seconds``. Peak RSS is taken by the parent from the child's rusage. The only work
done after the clock stops is the F1 against the generator's truth (the demo catalog's
metadata, no part of a production run). Dagster's own bookkeeping (event log, metadata
values, the UI preview) is not run.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.frames import FrameFolder, concat_frames

SOURCE_RUNS_SCHEMA = {"source": pl.String, "run_id": pl.String, "started_at": pl.Datetime("us", "UTC"),
                      "finished_at": pl.Datetime("us", "UTC"), "complete": pl.Boolean, "pages": pl.Int64,
                      "items": pl.Int64, "rejects": pl.Int64, "offerings": pl.Int64}


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


class State:
    """Where a bench run keeps its files: ``<state>/<label>/`` per run (full, incremental) holds
    the handoffs (``staging/<source>/*.parquet``, ``links``, ``credentials``,
    ``source_runs``); the warehouse and the exports are shared, so the incremental run finds
    the full run's published warehouse and snapshot as a scheduled re-run would."""

    def __init__(self, root: Path, label: str) -> None:
        self.root = Path(root)
        self.label = label

    def handoff(self, name: str) -> Path:
        return self.root / self.label / f"{name}.parquet"

    @property
    def staging(self) -> Path:
        return self.root / self.label / "staging"

    @property
    def published(self) -> Path:
        return self.root / "warehouse" / "credcat.duckdb"

    @property
    def exports(self) -> Path:
        return self.root / "exports"


def load_staging(state: State) -> dict[str, FrameFolder]:
    """Every source's staging output as the IO manager loads it: {source: {name: frame}}, each
    frame read when first used (pipelines/frames.py)."""
    folders = sorted(p for p in state.staging.iterdir() if p.is_dir()) if state.staging.is_dir() else []
    if not folders:
        raise SystemExit(f"no staging output under {state.staging}: run the normalize stage first")
    return {f.name: FrameFolder(f) for f in folders}


def _registry() -> dict[str, Any]:
    from scrapers.registry import load_sources

    return load_sources()


class Steps:
    """Seconds per named step, summed over calls; ``wrap`` times a module function by
    replacing it (in this process only), as warehouse/bench_export.py does. A name the module
    no longer has is an error: the stage would silently time less than the pipeline runs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, label: str, seconds: float) -> None:
        with self._lock:
            self.seconds[label] = self.seconds.get(label, 0.0) + seconds

    def wrap(self, module: Any, name: str, label: str | None = None) -> None:
        original = getattr(module, name, None)
        if original is None or not callable(original):
            raise SystemExit(f"{module.__name__}.{name} does not exist any more: update pipelines/bench/stages.py "
                             "to time what the pipeline runs now")
        label = label or name.lstrip("_")

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - start)

        setattr(module, name, timed)

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}


def _blocking(failed: list[str], what: str) -> None:
    if failed:
        raise SystemExit(f"{what}: blocking check(s) failed, the pipeline would stop here: {'; '.join(failed)}")


# --- normalize ----------------------------------------------------------------------------------


def staging_checks(raw: pl.DataFrame, invalid: pl.DataFrame, offerings: pl.DataFrame,
                   rejects: pl.DataFrame) -> dict[str, Any]:
    """The staging asset's checks and quality figures (pipelines/defs/sources.py ``_staging``)."""
    from normalize.schema import OFFERING_SCHEMA, RAW_SCHEMA, REJECT_SCHEMA
    from pipelines import quality
    from pipelines.defs.sources import unmapped_figures

    n_raw = raw.height + invalid.height
    problems = (quality.schema_problems(raw, RAW_SCHEMA, "raw")
                + quality.schema_problems(offerings, OFFERING_SCHEMA, "offerings")
                + quality.schema_problems(rejects, REJECT_SCHEMA, "rejects"))
    dup_ids = offerings.height - offerings["offering_id"].n_unique()
    failed = problems[:5]
    if n_raw != offerings.height + rejects.height:
        failed.append(f"raw {n_raw} != offerings {offerings.height} + rejects {rejects.height}")
    if dup_ids:
        failed.append(f"{dup_ids} duplicate offering_id")
    top, by_field = unmapped_figures(offerings)
    figures = {
        "coverage": quality.coverage(offerings),
        "reject_reasons": rejects.group_by("reason").len().sort("len", descending=True),
        "top_unmapped": top,
        "unmapped_by_field": by_field,
        "mean_eu_completeness": float(offerings["eu_completeness"].mean() or 0.0),
        "test_records": int(offerings["is_test"].sum()),
    }
    return {"failed": failed, "figures": figures}


def stage_normalize(state: State, landing: Path, run_id: str, previous: str | None = None) -> dict[str, Any]:
    """The staging assets of every source. With ``previous`` (a label; the ``incremental``
    run defaults to ``full``), each source's staging output under that label is the previous
    run's, as the asset reads its own last output: lines unchanged since are reused
    (normalize/reuse.py). Steps: fingerprint (the crawl's landing index read and checked, or
    else the lines read and hashed; matched against the previous fingerprints), load previous
    (the previous fingerprints, and the wait for its raw rows' keys and its offerings, which are
    read on a second thread while the changed lines are parsed and normalized), read_landing (the
    lines to parse, invalid.jsonl), normalize, reuse (provenance refreshed, offerings put
    together, raw rows handed over as PatchedRows), checks, write handoffs (the reused raw rows
    and offerings as patches on the previous output's files where that pays, as the IO manager
    stores them: pipelines/frames.py)."""
    from normalize.reuse import REFRESHED, normalize_with_reuse
    from pipelines.defs.sources import unmapped_figures  # noqa: F401  (imported before the clock starts)
    from pipelines.frames import derive, write_folder

    sources = _registry()
    summary = json.loads((landing / "landing.json").read_text()) if (landing / "landing.json").is_file() else {}
    pages = {s["source"]: int(s.get("pages", 0)) for s in summary.get("sources", [])}
    dirs = sorted(p for p in (landing / "landing").glob(f"*/{run_id}") if p.is_dir())
    if not dirs:
        raise SystemExit(f"no runs '{run_id}' under {landing / 'landing'}")
    kinds = {n: s.provider_kind for n, s in sources.items()}
    if previous is None and state.label == "incremental":
        previous = "full"
    before = State(state.root, previous) if previous else None
    steps = Steps()
    cpu0, t0 = _cpu(), time.perf_counter()
    # One staging step per source, as the staging/<source> assets run.
    runs, n_offerings, n_rejects, n_reused, n_normalized, patched = [], 0, 0, 0, 0, 0
    modes: dict[str, str] = {}
    for run_dir in dirs:
        name = run_dir.parent.name
        started = datetime.now(UTC)
        folder = before.staging / name if before is not None else None
        previous = FrameFolder(folder) if folder is not None and folder.is_dir() else None
        out = normalize_with_reuse(run_dir, kinds, previous)
        if previous is not None:
            previous.forget()
        for step, seconds in out.stats["seconds"].items():
            steps.add(step, seconds)
        frames = out.handoff()  # as the staging asset hands it over (raw rows: PatchedRows on the reuse path)
        raw, offerings, rejects, invalid = frames["raw"], frames["offerings"], frames["rejects"], out.invalid
        n_reused += int(out.stats["reused"])
        n_normalized += int(out.stats["normalized"])
        modes[name] = out.stats["mode"] + (f": {out.stats['reason']}" if out.stats.get("reason") else "")
        t = time.perf_counter()
        checked = staging_checks(raw, invalid, offerings, rejects)
        steps.add("checks and quality figures", time.perf_counter() - t)
        _blocking(checked["failed"], f"staging/{name}")
        t = time.perf_counter()
        folder = state.staging / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        # As the staging asset hands its output over and the IO manager writes a folder.
        stored = write_folder(derive(frames, previous, out.previous_rows, REFRESHED), folder)
        if previous is not None:
            previous.close()
        patched += sum(how == "patch" for how in stored.values())
        steps.add("write handoffs", time.perf_counter() - t)
        runs.append({"source": name, "run_id": run_id, "started_at": started, "finished_at": datetime.now(UTC),
                     "complete": True, "pages": pages.get(name, 0), "items": raw.height + invalid.height,
                     "rejects": rejects.height, "offerings": offerings.height})
        n_offerings += offerings.height
        n_rejects += rejects.height
    pl.DataFrame(runs, schema=SOURCE_RUNS_SCHEMA).write_parquet(state.handoff("source_runs"))
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    return {"stage": "normalize", "rows": sum(r["items"] for r in runs), "wall_s": wall, "cpu_s": cpu,
            "seconds": steps.rounded(), "offerings": n_offerings, "rejects": n_rejects, "sources": len(runs),
            "previous": previous, "reused": n_reused, "normalized": n_normalized, "modes": modes,
            "frames_patched": patched}


# --- resolve ------------------------------------------------------------------------------------


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
    from normalize.dedup.tune import read_truth

    return read_truth(path) if path.is_file() else None


def stage_resolve(state: State, truth: Path | None) -> dict[str, Any]:
    from normalize.dedup import (
        RESOLVE_INPUT_COLUMNS,
        build_credentials,
        credential_input_columns,
        evaluate,
        resolve_report,
    )
    from normalize.dedup.settings import load_settings
    from normalize.schema import CREDENTIAL_SCHEMA, LINK_SCHEMA
    from pipelines import quality
    from pipelines.frames import write_frame

    kinds = {name: s.provider_kind for name, s in _registry().items()}
    steps = Steps()
    cpu0, t0 = _cpu(), time.perf_counter()
    # offering_links: its inputs, the previous links, resolve, its checks and figures.
    t = time.perf_counter()
    offerings = concat_frames(load_staging(state), "offerings", RESOLVE_INPUT_COLUMNS)  # as offering_links reads them
    steps.add("load staging", time.perf_counter() - t)
    t = time.perf_counter()
    previous = previous_links(state.published)
    steps.add("previous links", time.perf_counter() - t)
    t = time.perf_counter()
    # The comparison cache (normalize/dedup/cache.py) of this bench state, shared by its full and
    # incremental runs as a production data dir keeps it across runs.
    report = resolve_report(offerings, load_settings(source_kinds=kinds), previous, cache=state.root / "cache" / "dedup")
    links = report.links
    steps.add("resolve_report", time.perf_counter() - t)
    t = time.perf_counter()
    failed = quality.schema_problems(links, LINK_SCHEMA, "links")[:5]
    if not quality.one_link_per_offering(links, offerings):
        failed.append(f"not one link per offering ({links.height} links, {offerings.height} offerings)")
    figures = quality.dedup_figures(offerings, links)
    steps.add("checks and dedup figures", time.perf_counter() - t)
    _blocking(failed, "intermediate/offering_links")
    t = time.perf_counter()
    write_frame(links, state.handoff("links"))
    steps.add("write handoffs", time.perf_counter() - t)
    # credentials: loads its inputs again (staging, links), builds the golden records.
    t = time.perf_counter()
    offerings = concat_frames(load_staging(state), "offerings",  # as the credentials asset reads them
                              credential_input_columns(load_settings(source_kinds=kinds)))
    links = pl.read_parquet(state.handoff("links"))
    steps.add("load staging", time.perf_counter() - t)
    t = time.perf_counter()
    credentials = build_credentials(offerings, links, load_settings(source_kinds=kinds))
    steps.add("build_credentials", time.perf_counter() - t)
    t = time.perf_counter()
    failed = quality.schema_problems(credentials, CREDENTIAL_SCHEMA, "credentials")[:5]
    dups = credentials.height - credentials["credential_id"].n_unique()
    if dups:
        failed.append(f"{dups} duplicate credential_id")
    steps.add("checks and dedup figures", time.perf_counter() - t)
    _blocking(failed, "intermediate/credentials")
    t = time.perf_counter()
    write_frame(credentials, state.handoff("credentials"))
    steps.add("write handoffs", time.perf_counter() - t)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    out: dict[str, Any] = {
        "stage": "resolve", "rows": offerings.height, "wall_s": wall, "cpu_s": cpu,
        "credentials": credentials.height, "multi_source_credentials": figures["multi_source_credentials"],
        "pairs_compared": report.stats.get("pairs_compared"),
        "previous_links": 0 if previous is None else previous.height,
        "seconds": steps.rounded(),
        "resolve_steps": {k: round(v, 3) for k, v in report.stats.get("seconds", {}).items()},
        "compare_cache": report.stats.get("cache"),
    }
    frame = truth_frame(truth) if truth else None  # demo metadata, untimed
    if frame is not None:
        metrics = evaluate(links, frame)
        out.update({k: round(metrics[k], 4) for k in ("pairwise_precision", "pairwise_recall", "pairwise_f1",
                                                      "bcubed_f1") if k in metrics})
    return out


# --- load + publish -----------------------------------------------------------------------------

# warehouse.load.build's steps (module functions, looked up at call time, so they can be timed).
LOAD_STEPS = ("_prepare", "_reset_work_file", "connect_writable", "_plan_sources", "_load_raw",
              "_load_raw_by_fingerprint", "_offerings_whole",
              "_replace_run_partitions", "_apply_versions", "_apply_price_history", "_upsert_changed",
              "_upsert_source_runs", "_refresh_marts", "_rebuild_unmapped_values", "table_counts")


def marts_consistent(work: Path) -> tuple[bool, dict[str, Any]]:
    """marts_build's blocking check on the built work file (pipelines/defs/catalog.py
    ``consistent``): fct_offering non-empty, offering_id unique, every offering linked."""
    from warehouse.ddl import TABLES
    from warehouse.publish import open_readonly

    con = open_readonly(work)
    try:
        counts = {t.name: con.execute(f"select count(*) from {t.qualified}").fetchone()[0]
                  for t in TABLES if t.layer == "marts"}
        dup = con.execute("select count(*) - count(distinct offering_id) from marts.fct_offering").fetchone()[0]
        orphans = con.execute("select count(*) from marts.fct_offering where credential_id is null").fetchone()[0]
    finally:
        con.close()
    return counts["fct_offering"] > 0 and dup == 0 and orphans == 0, \
        {"fct_offering": counts["fct_offering"], "duplicates": dup, "without_credential": orphans}


def stage_load(state: State) -> dict[str, Any]:
    from warehouse import ddl
    from warehouse import load as load_module
    from warehouse import publish as publish_module
    from warehouse.load import RunInputs
    from warehouse.publish import build_and_publish

    steps, build_steps = Steps(), Steps()
    for name in LOAD_STEPS:
        build_steps.wrap(load_module, name)
    for name in ("ensure_schema", "ensure_source_view"):  # called as ddl.<name> by warehouse.load
        build_steps.wrap(ddl, name)
    # build_and_publish calls these through warehouse.publish's globals.
    steps.wrap(publish_module, "build", "build (warehouse.load.build)")
    steps.wrap(publish_module, "_publish_locked", "publish (checkpoint, fsync, rename)")
    measured: dict[str, Any] = {}

    def check(work: Path) -> bool:
        t = time.perf_counter()
        ok, measured["marts_consistent"] = marts_consistent(work)
        steps.add("marts_consistent check", time.perf_counter() - t)
        return ok

    def read_inputs() -> RunInputs:
        # Called by warehouse.load.build under the lock, while the published file is copied
        # into the work file on a second thread (the two overlap).
        t = time.perf_counter()
        staged = load_staging(state)
        links, credentials = pl.read_parquet(state.handoff("links")), pl.read_parquet(state.handoff("credentials"))
        runs = pl.read_parquet(state.handoff("source_runs"))
        inputs = RunInputs.from_staged(staged, links=links, credentials=credentials, source_runs=runs)
        steps.add("load inputs", time.perf_counter() - t)
        measured["offerings"] = inputs.offerings.height
        return inputs

    cpu0, t0 = _cpu(), time.perf_counter()
    stats = build_and_publish(state.published, read_inputs, check=check)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    # The rest of build_and_publish: the lock, the work file's name, stale work files removed.
    steps.add("other (lock, work file)", wall - sum(v for k, v in steps.seconds.items() if k != "load inputs"))
    if not stats["published"]:
        raise SystemExit(f"marts_consistent failed in the work file, nothing published: {measured}")
    # build's wall time holds the inputs read inside it, and the copy of the published file
    # (reset_work_file, on a second thread) only as far as the load waited for it.
    build = steps.seconds.get("build (warehouse.load.build)", 0.0) - steps.seconds.get("load inputs", 0.0)
    steps.seconds["build (warehouse.load.build)"] = build
    overlap = stats.get("overlap", {})
    inner = build_steps.rounded()
    inner["reset_work_file (2nd thread, overlaps load inputs and prepare)"] = inner.pop("reset_work_file", 0.0)
    inner["wait for the work file copy"] = overlap.get("copy_wait_s", 0.0)
    inner["fsync of the copy (2nd thread, overlaps the load)"] = overlap.get("flush_s", 0.0)
    serial = sum(v for k, v in build_steps.seconds.items() if k != "reset_work_file") + inner["wait for the work file copy"]
    inner["other (transaction commit, checkpoint)"] = round(build - serial, 3)
    keep = ("versions_opened", "versions_closed", "unchanged", "price_history_written", "raw_inserted",
            "raw_contents_inserted", "raw_payloads_read", "offerings_read_whole",
            "staging_offering_contents_inserted", "links_changed", "credentials_changed", "unmapped_values")
    return {"stage": "load", "rows": measured["offerings"], "wall_s": wall, "cpu_s": cpu,
            "seconds": steps.rounded(), "build_steps": inner,
            "work_file": overlap.get("copy"),  # "cloned" on a file system with reflinks
            "warehouse_mb": round(state.published.stat().st_size / 2**20),
            "warehouse_used_mb": _used_mb(state.published),
            "marts_consistent": measured.get("marts_consistent"),
            **{k: stats.get(k) for k in keep}}


def _used_mb(path: Path) -> int:
    """MB of the file's blocks in use (DuckDB keeps the blocks a run freed for later runs, so
    the file's size alone overstates what a run added)."""
    from warehouse.publish import open_readonly

    con = open_readonly(path)
    try:
        row = con.execute("SELECT used_blocks, block_size FROM pragma_database_size() "
                          "WHERE database_name = current_database()").fetchone()
    finally:
        con.close()
    return round(row[0] * row[1] / 2**20)


# --- export -------------------------------------------------------------------------------------

LINKED_DATA_STEPS = ("linked data: ids (jsonld.prepare)", "linked data: CTDL + Open Badges (jsonld.export_documents)")


def stage_export(state: State, snapshot: str) -> dict[str, Any]:
    from warehouse import export as export_module
    from warehouse import jsonld
    from warehouse.export import export_snapshot, verify_manifest

    steps = Steps()
    steps.wrap(export_module, "entity_schemas", "json schemas")
    steps.wrap(export_module, "_export_entity", "parquet")
    steps.wrap(export_module, "_export_changes", "change feed")
    steps.wrap(export_module, "_describe_change_files", "change feed")
    # The second thread (export_module._LinkedData) calls these through jsonld's globals.
    steps.wrap(jsonld, "prepare", LINKED_DATA_STEPS[0])
    steps.wrap(jsonld, "export_documents", LINKED_DATA_STEPS[1])
    cpu0, t0 = _cpu(), time.perf_counter()
    manifest = export_snapshot(state.published, state.exports, snapshot)
    t_export = time.perf_counter()
    problems = verify_manifest(state.exports / snapshot)  # the exports asset's check
    steps.add("verify_manifest check", time.perf_counter() - t_export)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    rows = manifest["entities"].get("offerings", {}).get("rows", 0)
    size = sum(f["bytes"] for f in manifest["files"]) + sum(d["bytes"] for d in manifest.get("documents", []))
    main_thread = sum(v for k, v in steps.seconds.items()
                      if k not in LINKED_DATA_STEPS and k != "verify_manifest check")
    seconds = steps.rounded()
    # What the main thread spent outside its named steps: hashing and describing the files,
    # the manifest, and waiting for the linked-data thread if it finished last.
    seconds["other (hashing, manifest, wait for the 2nd thread)"] = round((t_export - t0) - main_thread, 3)
    return {"stage": "export", "rows": rows, "wall_s": wall, "cpu_s": cpu, "files": len(manifest["files"]),
            "documents": len(manifest.get("documents", [])), "seconds": seconds, "mb": round(size / 2**20),
            "changes": {k: manifest["changes"].get(k) for k in ("upserts", "deletes")},
            "reuse": {"documents": {k: manifest["reuse"].get("documents", {}).get(k)
                                    for k in ("mode", "taken_over", "previous_read")},
                      "parquet_files_linked": sum(map(len, manifest["reuse"].get("parquet_files", {}).values())),
                      "content_hashes_kept": manifest["reuse"].get("content_hashes_kept")},
            "manifest_problems": len(problems), "manifest_problem_examples": problems[:3]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench.stages")
    parser.add_argument("stage", choices=["normalize", "resolve", "load", "export"])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--label", required=True, help="full | incremental: the run's handoff folder")
    parser.add_argument("--landing", type=Path, help="folder with landing/<source>/<run_id>/ (normalize)")
    parser.add_argument("--run-id", default="bench")
    parser.add_argument("--previous", help="normalize: the label whose staging output is the previous run's "
                        "(lines unchanged since are reused); default 'full' for --label incremental")
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--snapshot")
    args = parser.parse_args(argv)
    state = State(args.state, args.label)
    if args.stage == "normalize":
        if args.landing is None:
            parser.error("normalize needs --landing")
        result = stage_normalize(state, args.landing, args.run_id, args.previous)
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
