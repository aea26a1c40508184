"""The ``credcat`` command: what is not a click in the Dagster UI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pipelines.adhoc import registry_toml as _toml
from pipelines.runtime import PROJECT_ROOT, DataPaths

app = typer.Typer(help="credcat: micro-credential catalogs, crawled, normalized, deduplicated, published.",
                  no_args_is_help=True)
console = Console()


def _dagster_home() -> None:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)


QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _watch_steps(instance, run_id: str, progress: Progress, task, done: threading.Event) -> None:
    """Move the progress bar as steps of the run finish (polls the run's event log)."""
    from dagster import DagsterEventType

    finished = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED}
    while not done.wait(0.5):
        try:
            records = instance.all_logs(run_id, of_type=finished | {DagsterEventType.STEP_START})
        except Exception:  # noqa: BLE001 - the run may not be stored yet; try again
            continue
        ended = {r.step_key for r in records if r.dagster_event and r.dagster_event.event_type in finished}
        started = [r.step_key for r in records if r.dagster_event
                   and r.dagster_event.event_type == DagsterEventType.STEP_START and r.step_key not in ended]
        progress.update(task, completed=len(ended),
                        description=f"running {started[-1]}" if started else "running")


def run_job(select: list[str] | None = None, sources_file: Path | None = None, demo_scale: float | None = None,
            instance=None, show_progress: bool = True) -> tuple[bool, dict, dict]:
    """Run the full-refresh job (or a selection) in process, by default on the persistent
    instance (DAGSTER_HOME=dagster_home), with a progress bar over its steps.

    Returns success, per asset key the metadata of its materialization, and run figures
    (run_id, materialization seconds, failed steps). A failed run is recorded in the
    warehouse (ops.run_failures) through the record_run_failure job, as the sensor does.
    """
    _dagster_home()
    import dagster as dg

    from pipelines.build import build_definitions
    from pipelines.defs.jobs import FULL_REFRESH
    from pipelines.defs.sensors import RECORD_JOB, FailureConfig, describe_failure, failure_tags
    from pipelines.pools import CLI_HOST_TAG, CLI_PID_TAG, apply_pool_limits, free_stale_slots

    defs = build_definitions(sources_file, demo_scale=demo_scale)
    job = defs.resolve_job_def(FULL_REFRESH)
    if select:
        keys = dg.AssetSelection.from_coercible(select).resolve(defs.resolve_asset_graph())
        job = job.get_subset(asset_selection=keys)
    total = len(job.nodes_in_topological_order)
    run_id = str(uuid.uuid4())
    owned = instance is None
    instance = instance or dg.DagsterInstance.get()
    try:
        apply_pool_limits(instance)
        freed = free_stale_slots(instance)
        if freed:
            console.print(f"[yellow]freed pool slots of {len(freed)} run(s) that had ended or been killed[/yellow]")
        done = threading.Event()
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True,
                      disable=not show_progress) as progress:
            task = progress.add_task("starting", total=total)
            watcher = threading.Thread(target=_watch_steps, args=(instance, run_id, progress, task, done), daemon=True)
            watcher.start()
            try:
                result = job.execute_in_process(
                    instance=instance, raise_on_error=False, run_id=run_id, run_config=QUIET_LOGS,
                    tags={CLI_PID_TAG: str(os.getpid()), CLI_HOST_TAG: socket.gethostname()})
            finally:
                done.set()
                watcher.join(timeout=5)
        meta: dict[str, dict] = {}
        for event in result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            meta[mat.asset_key.to_user_string()] = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        stats = instance.get_run_stats(run_id)
        failed = [e for e in result.all_events if e.is_step_failure]
        figures = {"run_id": run_id, "steps": total,
                   "materialization_s": (stats.end_time or time.time()) - (stats.start_time or time.time()),
                   "failed_steps": [e.step_key for e in failed]}
        if not result.success:
            details = describe_failure(run_id, job.name, stats.end_time or time.time(), failed,
                                       "run failed: " + ", ".join(figures["failed_steps"] or ["(no step failed)"]))
            instance.add_run_tags(run_id, failure_tags(details))
            record = defs.resolve_job_def(RECORD_JOB).execute_in_process(
                instance=instance, raise_on_error=False, tags={"credcat/failed_run_id": run_id},
                run_config={**QUIET_LOGS, "ops": {"record_failure_op": {"config": FailureConfig(**details).model_dump()}}})
            figures["failure_recorded"] = record.success
        return result.success, meta, figures
    finally:
        if owned:
            instance.dispose()


def summary_table(meta: dict, wall: float, figures: dict | None = None) -> Table:
    raws = {k: v for k, v in meta.items() if k.startswith("raw/")}
    stagings = {k: v for k, v in meta.items() if k.startswith("staging/")}
    links = meta.get("intermediate/offering_links", {})
    exports = meta.get("exports/parquet", {})
    warehouse = meta.get("marts/warehouse", {})
    table = Table(title="credcat run summary", show_header=False)
    complete = sum(1 for v in raws.values() if v.get("complete"))
    table.add_row("sources crawled", f"{len(raws)} ({complete} complete)")
    table.add_row("raw records", str(sum(v.get("raw_records", 0) for v in stagings.values())))
    table.add_row("offerings", str(sum(v.get("offerings", 0) for v in stagings.values())))
    table.add_row("rejects", str(sum(v.get("rejects", 0) for v in stagings.values())))
    table.add_row("credentials", str(links.get("credentials", "-")))
    if "truth_pairwise_f1" in links:
        table.add_row("dedup pairwise F1 (vs demo truth)",
                      f"{links['truth_pairwise_f1']:.3f} (precision {links['truth_pairwise_precision']:.3f}, "
                      f"recall {links['truth_pairwise_recall']:.3f}; B-cubed F1 {links['truth_bcubed_f1']:.3f})")
    table.add_row("warehouse", f"{warehouse.get('path', '-')} ({warehouse.get('rows_fct_offering', '-')} current offerings)")
    table.add_row("files exported", f"{exports.get('files', 0)} in {exports.get('dir', '-')}")
    if figures:
        if figures.get("failed_steps"):
            recorded = " (recorded in ops.run_failures)" if figures.get("failure_recorded") else ""
            table.add_row("failed steps", ", ".join(figures["failed_steps"]) + recorded)
        table.add_row("materialization wall time", f"{figures['materialization_s']:.1f} s "
                      f"({figures['steps']} steps, in-process executor, run {figures['run_id'][:8]})")
    table.add_row("wall time", f"{wall:.1f} s (the whole command)")
    return table


@app.command()
def demo(scale: Annotated[float | None, typer.Option(help="Demo catalog scale (default $CREDCAT_DEMO_SCALE or 1)")] = None) -> None:
    """Run the whole pipeline on the embedded demo catalog and print a summary."""
    started = time.monotonic()
    ok, meta, figures = run_job(demo_scale=scale)
    console.print(summary_table(meta, time.monotonic() - started, figures))
    if not ok:
        console.print("[red]the run failed: see the Dagster UI (make ui) or dagster_home logs[/red]")
        raise typer.Exit(1)


@app.command()
def run(
    sources: Annotated[Path | None, typer.Option("--sources", help="A sources TOML file (default: the demo registry)")] = None,
    select: Annotated[list[str] | None, typer.Option("--select", "-s", help="Asset keys, e.g. 'raw/opencourse_api'")] = None,
) -> None:
    """Run the whole pipeline on a sources file, or a selection of its assets."""
    if sources is not None and not sources.is_file():
        console.print(f"[red]no sources file at {sources}[/red]")
        raise typer.Exit(2)
    started = time.monotonic()
    try:
        ok, meta, figures = run_job(select, sources)
    except Exception as exc:  # a registry that does not validate, an unknown asset key ...
        if type(exc).__module__.startswith(("dagster", "pydantic")) or isinstance(exc, ValueError | KeyError):
            console.print(f"[red]{type(exc).__name__}: {exc}[/red]")
            raise typer.Exit(2) from exc
        raise
    console.print(summary_table(meta, time.monotonic() - started, figures))
    raise typer.Exit(0 if ok else 1)


@app.command()
def sources(file: Annotated[Path | None, typer.Argument(help="A sources TOML file (default: the demo registry)")] = None) -> None:
    """List the sources of a registry."""
    from scrapers.registry import load_sources

    table = Table("source", "kind", "format", "provider", "cadence (UTC)", "inbox")
    for s in load_sources(file).values():
        table.add_row(s.name, s.kind, s.format, s.provider_kind, s.cadence, s.inbox or "")
    console.print(table)


@app.command()
def kinds() -> None:
    """List the spider kinds: one shared reader per format."""
    from scrapers.kinds import KINDS

    table = Table("kind", "reads")
    for name, text in sorted(KINDS.items()):
        table.add_row(name, text)
    console.print(table)


def _option_value(text: str) -> object:
    """`k=v` values: JSON where it parses (numbers, booleans, lists), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@app.command()
def parse(
    kind: Annotated[str, typer.Option("--kind", help="A kind from `credcat kinds`")],
    target: Annotated[str, typer.Argument(help="A saved response or file (path), or a URL")],
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="Kind option k=v (repeatable)")] = None,
    field: Annotated[list[str] | None, typer.Option("--field", "-f", help="Field map entry field=column (repeatable)")] = None,
    provider_kind: Annotated[str, typer.Option(help="Provider kind of the source")] = "training_provider",
) -> None:
    """Print the Offerings one file or URL yields through KIND, as JSON lines (rejects to stderr).

    The same path as production: a `scrapy crawl` of an ad hoc source, then normalization.
    """
    import tempfile

    from normalize.transforms import normalize, read_landing
    from scrapers.kinds import KINDS
    from scrapers.registry import load_sources
    from scrapers.run import crawl

    if kind not in KINDS:
        console.print(f"[red]unknown kind {kind!r}; see `credcat kinds`[/red]")
        raise typer.Exit(2)
    options = dict(o.split("=", 1) for o in option or [])
    fields = dict(f.split("=", 1) for f in field or [])
    is_url = target.startswith(("http://", "https://"))
    entry = {
        "spider": kind, "kind": kind, "format": "ad hoc", "provider_kind": provider_kind,
        ("start_urls" if is_url else "location"): [target if is_url else str(Path(target).resolve())],
        "options": {k: _option_value(v) for k, v in options.items()},
        "field_map": fields,
    }
    with tempfile.TemporaryDirectory(prefix="credcat-parse-") as tmp:
        registry = Path(tmp) / "sources.toml"
        registry.write_text(_toml({"sources": {"adhoc": entry}}))
        source = load_sources(registry)["adhoc"]
        stats = crawl(source, "parse", Path(tmp) / "landing", registry=registry)
        raw, invalid = read_landing([Path(tmp) / "landing" / "adhoc" / "parse"])
        result = normalize(raw.lazy(), provider_kinds={"adhoc": provider_kind})
    for row in result.offerings.iter_rows(named=True):
        sys.stdout.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
    for frame in (invalid, result.rejects):
        for row in frame.iter_rows(named=True):
            sys.stderr.write(f"reject {row['source_key']}: {row['reason']} {row.get('detail') or ''}\n")
    err = Console(stderr=True)
    err.print(f"{result.offerings.height} offerings, {invalid.height + result.rejects.height} rejects; "
              f"crawl complete={stats.get('complete')} pages={stats.get('pages')} defects={stats.get('page_defects')}")
    if stats.get("log_tail"):
        err.print(stats["log_tail"][-2000:])


@app.command()
def query(sql: str, limit: int = typer.Option(50, help="Rows to show")) -> None:
    """Run SQL against the published warehouse, read-only, and print the result as a table."""
    import duckdb

    from warehouse.publish import open_readonly

    path = DataPaths.from_env().warehouse
    if not path.exists():
        console.print(f"[red]no warehouse at {path}: run `make demo` first[/red]")
        raise typer.Exit(2)
    con = open_readonly(path)
    try:
        rel = con.sql(sql)
        frame = rel.pl() if rel is not None else None
    except duckdb.Error as exc:
        console.print(f"[red]{type(exc).__name__}: {exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        con.close()
    if frame is None:
        return
    table = Table(*frame.columns)
    for row in frame.head(limit).iter_rows():
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)
    console.print(f"({frame.height} rows{f', {limit} shown' if frame.height > limit else ''})")


@app.command()
def export(out: Annotated[Path | None, typer.Option("--out", help="Exports folder (default: <data>/exports)")] = None) -> None:
    """Export a snapshot of the published warehouse (Parquet, JSON Schemas, change feed, CTDL,
    Open Badges, manifest) and verify it against its manifest."""
    from warehouse.export import export_snapshot, verify_manifest

    paths = DataPaths.from_env()
    if not paths.warehouse.exists():
        console.print(f"[red]no warehouse at {paths.warehouse}: run `make demo` first[/red]")
        raise typer.Exit(2)
    root = (out or paths.exports).resolve()
    snapshot = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with console.status(f"exporting {paths.warehouse} to {root / snapshot} ..."):
        manifest = export_snapshot(paths.warehouse, root, snapshot)
        problems = verify_manifest(root / snapshot)
    table = Table("entity", "rows", title=f"snapshot {snapshot}")
    for name, entry in manifest["entities"].items():
        table.add_row(name, str(entry["rows"]))
    console.print(table)
    changes = manifest["changes"]
    console.print(f"{len(manifest['files'])} files, {len(manifest.get('documents', []))} documents in {root / snapshot}; "
                  f"changes since {changes['since'] or '(first snapshot)'}: {changes['upserts']} upserted, "
                  f"{changes['deletes']} deleted")
    if problems:
        console.print(f"[red]manifest mismatches: {problems}[/red]")
        raise typer.Exit(1)


@app.command("dedup-eval")
def dedup_eval(
    seed: int = typer.Option(7, help="Demo generator seed for the demo truth"),
    real: bool = typer.Option(True, help="Also the real truth (where the real-data corpus exists)"),
) -> None:
    """Entity resolution accuracy: demo truth, and the real truth (URLs and native ids hidden)."""
    from normalize.dedup import evaluate, resolve
    from normalize.dedup.demo import demo_offerings

    keys = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall", "bcubed_f1")
    table = Table("truth", "offerings", "true pairs", *[k.replace("pairwise_", "pw ").replace("bcubed_", "b3 ") for k in keys])
    made = demo_offerings(seed=seed)
    if made is not None:
        m = evaluate(resolve(made[0]), made[1])
        table.add_row(f"demo seed {seed}", str(m["n_offerings"]), str(m["true_pairs"]), *[f"{m[k]:.4f}" for k in keys])
    if real:
        from scrapers.registry import realdata_dir

        if realdata_dir().is_dir():
            from normalize.dedup import realtruth

            m = realtruth.evaluate_real(realtruth.load_frames())
            table.add_row("real (blind)", str(m["n_offerings"]), str(m["true_pairs"]), *[f"{m[k]:.4f}" for k in keys])
        else:
            console.print(f"[yellow]real-data corpus absent at {realdata_dir()}: real truth skipped[/yellow]")
    console.print(table)


@app.command()
def ui(port: int = 3000, host: str = "127.0.0.1") -> None:
    """Open the Dagster UI (dagster dev: webserver and daemon, DAGSTER_HOME=dagster_home),
    with the pool limits set on the instance."""
    _dagster_home()
    import dagster as dg

    from pipelines.pools import apply_pool_limits

    with dg.DagsterInstance.get() as instance:
        limits = apply_pool_limits(instance)
    console.print(f"pools: {limits or '(instance storage has no pools)'}; UI at http://{host}:{port}")
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", "pipelines.definitions", "-h", host, "-p", str(port)]
    raise typer.Exit(subprocess.call(cmd, cwd=Path(PROJECT_ROOT)))


if __name__ == "__main__":
    app()
