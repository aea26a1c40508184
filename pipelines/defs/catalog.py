"""Cross-source assets: entity resolution, the warehouse, and the exports."""


import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl

from normalize.dedup import build_credentials, evaluate, resolve_report
from normalize.dedup.settings import DedupSettings, load_settings
from normalize.schema import offering_id
from pipelines.defs.sources import raw_key, staging_key
from pipelines.resources import CredcatSettings, DemoCatalog
from scrapers.registry import Source, load_sources
from warehouse.export import export_snapshot, verify_manifest
from warehouse.load import RunInputs, build
from warehouse.publish import open_readonly, publish

LINKS = dg.AssetKey(["intermediate", "offering_links"])
CREDENTIALS = dg.AssetKey(["intermediate", "credentials"])
WAREHOUSE = dg.AssetKey(["marts", "warehouse"])
EXPORTS = dg.AssetKey(["exports", "parquet"])


def all_offerings(staged: dict[str, dict[str, pl.DataFrame]]) -> pl.DataFrame:
    return pl.concat([s["offerings"] for s in staged.values()], how="vertical")


def dedup_settings(settings: CredcatSettings) -> DedupSettings:
    """Dedup rules and weights (data files), told which sources are awarding bodies' own sites."""
    return load_settings(source_kinds={name: s.provider_kind for name, s in settings.sources().items()})


def previous_links(path: Path) -> pl.DataFrame | None:
    """The links of the published warehouse, so unchanged clusters keep their credential_id."""
    if not path.exists():
        return None
    con = open_readonly(path)
    try:
        return con.sql("select offering_id, credential_id, match_score from intermediate.int_offering_links").pl()
    finally:
        con.close()


def demo_truth(demo: DemoCatalog) -> pl.DataFrame | None:
    """The generator's truth as (offering_id, truth_key), when the demo catalog is in use."""
    path = demo.truth_path()
    if not demo.enabled or not path.exists():
        return None
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    rows = [r for r in rows if r.get("credential_key")]  # expected rejects belong to no credential
    return pl.DataFrame(
        {"offering_id": [offering_id(r["source"], r["source_key"]) for r in rows],
         "truth_key": [r["credential_key"] if not r.get("is_test") else f"test:{r['source']}:{r['source_key']}" for r in rows]}
    )


def build_catalog_assets(sources: dict[str, Source]) -> list[dg.AssetsDefinition]:
    names = list(sources)
    staging_ins = {f"staging_{n}": dg.AssetIn(key=staging_key(n)) for n in names}
    raw_ins = {f"raw_{n}": dg.AssetIn(key=raw_key(n)) for n in names}

    @dg.asset(
        key=LINKS, ins=staging_ins, group_name="intermediate", kinds={"rapidfuzz", "polars"},
        owners=["team:credcat-data"],
        description="Entity resolution: each offering linked to the credential it lists (blocking, rapidfuzz comparisons, clustering).",
        check_specs=[dg.AssetCheckSpec("one_link_per_offering", asset=LINKS, blocking=True,
                                       description="Every offering has exactly one credential_id.")],
    )
    def offering_links(context: dg.AssetExecutionContext, settings: CredcatSettings, demo: DemoCatalog, **staged):
        offerings = all_offerings(staged)
        report = resolve_report(offerings, dedup_settings(settings), previous_links(settings.paths().warehouse))
        links = report.links
        meta: dict = {"offerings": offerings.height, "credentials": links["credential_id"].n_unique(),
                      "blocking": dg.MetadataValue.json(json.loads(json.dumps(report.stats, default=str)))}
        truth = demo_truth(demo)
        if truth is not None:
            scores = evaluate(links, truth)
            meta.update({f"truth_{k}": v for k, v in scores.items() if isinstance(v, int | float)})
        yield dg.Output(links, metadata=meta)
        ok = links.height == offerings.height and links["offering_id"].n_unique() == links.height \
            and set(links["offering_id"].to_list()) == set(offerings["offering_id"].to_list())
        yield dg.AssetCheckResult(check_name="one_link_per_offering", passed=ok,
                                  metadata={"links": links.height, "offerings": offerings.height})

    @dg.asset(
        key=CREDENTIALS, ins={**staging_ins, "links": dg.AssetIn(key=LINKS)}, group_name="intermediate",
        kinds={"polars"}, owners=["team:credcat-data"],
        description="Golden records: one Credential per cluster, each field's surviving value and the offering it came from.",
    )
    def credentials(context: dg.AssetExecutionContext, settings: CredcatSettings, links: pl.DataFrame,
                    **staged) -> dg.Output:
        creds = build_credentials(all_offerings(staged), links, dedup_settings(settings))
        return dg.Output(creds, metadata={"credentials": creds.height,
                                          "multi_source": int((creds["n_sources"] > 1).sum())})

    @dg.asset(
        key=WAREHOUSE, ins={**staging_ins, **raw_ins, "links": dg.AssetIn(key=LINKS), "credentials": dg.AssetIn(key=CREDENTIALS)},
        group_name="marts", kinds={"duckdb"}, owners=["team:credcat-data"], pool="duckdb_writer",
        description="The DuckDB warehouse (raw, staging, intermediate, marts; history kept), built in a work file and published by atomic rename.",
        check_specs=[dg.AssetCheckSpec("marts_consistent", asset=WAREHOUSE, blocking=True,
                                       description="fct_offering non-empty, keys unique, every current offering has a credential.")],
    )
    def warehouse(context: dg.AssetExecutionContext, settings: CredcatSettings, links: pl.DataFrame,
                  credentials: pl.DataFrame, **upstream):
        paths = settings.paths()
        staged = {k.removeprefix("staging_"): v for k, v in upstream.items() if k.startswith("staging_")}
        crawls = {k.removeprefix("raw_"): v for k, v in upstream.items() if k.startswith("raw_")}
        runs = pl.DataFrame([
            {"source": name, "run_id": c["run_id"], "started_at": c.get("started_at"), "finished_at": c.get("finished_at"),
             "complete": bool(c.get("complete")), "pages": int(c.get("pages", 0)), "items": int(c.get("items", 0)),
             "rejects": staged[name]["rejects"].height, "offerings": staged[name]["offerings"].height}
            for name, c in crawls.items()
        ]).with_columns(pl.col("started_at", "finished_at").str.to_datetime(time_zone="UTC", strict=False))
        inputs = RunInputs(
            run_started_at=datetime.now(UTC),
            raw=pl.concat([s["raw"] for s in staged.values()], how="vertical"),
            offerings=all_offerings(staged),
            rejects=pl.concat([s["rejects"] for s in staged.values()], how="vertical"),
            links=links, credentials=credentials, source_runs=runs,
        )
        stats = build(paths.work_warehouse, paths.warehouse if paths.warehouse.exists() else None, inputs)
        publish(paths.work_warehouse, paths.warehouse)
        con = open_readonly(paths.warehouse)
        try:
            counts = {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0]  # noqa: S608 - fixed names
                      for t in ("fct_offering", "dim_credential", "dim_provider", "offering_versions")}
            dup = con.execute("select count(*) - count(distinct offering_id) from marts.fct_offering").fetchone()[0]
            orphans = con.execute("select count(*) from marts.fct_offering where credential_id is null").fetchone()[0]
        finally:
            con.close()
        yield dg.Output({"path": str(paths.warehouse), "counts": counts, "build": stats},
                        metadata={**{f"rows_{k}": v for k, v in counts.items()},
                                  "path": dg.MetadataValue.path(str(paths.warehouse)),
                                  "build": dg.MetadataValue.json(json.loads(json.dumps(stats, default=str)))})
        yield dg.AssetCheckResult(check_name="marts_consistent",
                                  passed=counts["fct_offering"] > 0 and dup == 0 and orphans == 0,
                                  metadata={"duplicates": int(dup), "without_credential": int(orphans)})

    @dg.asset(
        key=EXPORTS, ins={"warehouse": dg.AssetIn(key=WAREHOUSE)}, group_name="exports",
        kinds={"parquet", "json"}, owners=["team:credcat-data"],
        description="One snapshot folder per run: Parquet per entity (offerings and versions partitioned by "
                    "source) with JSON Schemas, the credential change feed since the previous snapshot, "
                    "CTDL JSON-LD and Open Badges 3.0 achievements, and manifest.json (rows, sha256, schema version).",
        check_specs=[dg.AssetCheckSpec("manifest_matches", asset=EXPORTS,
                                       description="Every exported file matches its manifest entry (rows, sha256).")],
    )
    def exports(context: dg.AssetExecutionContext, settings: CredcatSettings, warehouse: dict):
        paths = settings.paths()
        snapshot = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        manifest = export_snapshot(paths.warehouse, paths.exports, snapshot)
        folder = paths.exports / snapshot
        problems = verify_manifest(folder)
        files, documents, changes = manifest["files"], manifest.get("documents", []), manifest["changes"]
        links = {d["path"]: dg.MetadataValue.path(str(folder / d["path"]))
                 for d in documents if d["format"] != "json-schema"}
        yield dg.Output({"snapshot": snapshot, "dir": str(folder), "files": len(files), "changes": changes},
                        metadata={"snapshot": snapshot, "files": len(files), "documents": len(documents),
                                  "dir": dg.MetadataValue.path(str(folder)),
                                  "manifest": dg.MetadataValue.path(str(folder / "manifest.json")),
                                  "rows": dg.MetadataValue.json({k: v["rows"] for k, v in manifest["entities"].items()}),
                                  "changes_since": changes["since"] or "(first snapshot)",
                                  "credentials_upserted": changes["upserts"],
                                  "credentials_deleted": changes["deletes"],
                                  "bytes": sum(f["bytes"] for f in files) + sum(d["bytes"] for d in documents),
                                  **links})
        yield dg.AssetCheckResult(check_name="manifest_matches", passed=not problems,
                                  metadata={"problems": dg.MetadataValue.json(problems)})

    return [offering_links, credentials, warehouse, exports]


@dg.definitions
def catalog_assets() -> dg.Definitions:
    return dg.Definitions(assets=build_catalog_assets(load_sources()))
