"""The ``credcat`` command: what is not a click in the Dagster UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipelines.runtime import PROJECT_ROOT, DataPaths

app = typer.Typer(help="credcat: micro-credential catalogs, crawled, normalized, deduplicated, published.",
                  no_args_is_help=True)
console = Console()


def _dagster_home() -> None:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)


def run_job(select: list[str] | None = None, sources_file: Path | None = None) -> tuple[bool, dict]:
    """Run the full-refresh job (or a selection) in process on the persistent instance.

    Returns success and, per asset key, the metadata of its materialization.
    """
    _dagster_home()
    import dagster as dg

    from pipelines.build import build_definitions

    defs = build_definitions(sources_file)

    job = defs.resolve_job_def("credcat_full_refresh")
    selection = None
    if select:
        selection = dg.AssetSelection.from_coercible(select).resolve(defs.resolve_asset_graph())
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False, asset_selection=selection)
    meta: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta[mat.asset_key.to_user_string()] = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    return result.success, meta


def summary_table(meta: dict, wall: float) -> Table:
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
    table.add_row("wall time", f"{wall:.1f} s")
    return table


@app.command()
def demo() -> None:
    """Run the whole pipeline on the embedded demo catalog and print a summary."""
    started = time.monotonic()
    with console.status("crawling, normalizing, resolving, publishing ..."):
        ok, meta = run_job()
    console.print(summary_table(meta, time.monotonic() - started))
    if not ok:
        console.print("[red]the run failed: see the Dagster UI (make ui) or dagster_home logs[/red]")
        raise typer.Exit(1)


@app.command()
def run(
    sources: Annotated[Path | None, typer.Option("--sources", help="A sources TOML file (default: the demo registry)")] = None,
    select: Annotated[list[str] | None, typer.Option("--select", "-s", help="Asset keys, e.g. 'raw/opencourse_api'")] = None,
) -> None:
    """Run the whole pipeline on a sources file, or a selection of its assets."""
    started = time.monotonic()
    with console.status("running ..."):
        ok, meta = run_job(select, sources)
    console.print(summary_table(meta, time.monotonic() - started))
    raise typer.Exit(0 if ok else 1)


@app.command()
def sources(file: Annotated[Path | None, typer.Argument(help="A sources TOML file (default: the demo registry)")] = None) -> None:
    """List the sources of a registry."""
    from scrapers.registry import load_sources

    table = Table("source", "kind", "format", "provider", "cadence")
    for s in load_sources(file).values():
        table.add_row(s.name, s.kind, s.format, s.provider_kind, s.cadence)
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


def _toml(data: dict) -> str:
    """A tiny TOML writer for the ad hoc registry (strings, numbers, booleans, lists, tables)."""
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"
        return json.dumps(str(v))

    lines = []
    for name, entry in data["sources"].items():
        lines.append(f"[sources.{name}]")
        lines += [f"{k} = {value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


@app.command()
def query(sql: str, limit: int = typer.Option(50, help="Rows to show")) -> None:
    """Run read-only SQL against the published warehouse."""
    import duckdb

    path = DataPaths.from_env().warehouse
    if not path.exists():
        console.print(f"[red]no warehouse at {path}: run `make demo` first[/red]")
        raise typer.Exit(2)
    con = duckdb.connect(str(path), read_only=True)
    try:
        rel = con.sql(sql)
        frame = rel.pl() if rel is not None else None
    finally:
        con.close()
    if frame is None:
        return
    table = Table(*frame.columns)
    for row in frame.head(limit).iter_rows():
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)
    if frame.height > limit:
        console.print(f"({frame.height} rows, {limit} shown)")


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
def ui(port: int = 3000) -> None:
    """Open the Dagster UI on 127.0.0.1 (dagster dev, DAGSTER_HOME=dagster_home)."""
    _dagster_home()
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)]
    raise typer.Exit(subprocess.call(cmd, cwd=Path(PROJECT_ROOT)))


if __name__ == "__main__":
    app()
