"""Cross-source assets: entity resolution, the warehouse's marts, and the exports.

The marts are one multi-asset: a single DuckDB build (one transaction in a work file) yields
``marts/<table>`` for every mart table, each with its column schema and column lineage, and
``marts/warehouse``, the published file. The build is checked before it is published: a failing
``marts_consistent`` leaves the published warehouse as it was, and the exports do not run.

In a run of one source (its schedule or inbox sensor), the other sources' staging comes from
their last good materialization; a source never staged yet is left out (listed in metadata).
"""


import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from normalize.dedup import (
    RESOLVE_INPUT_COLUMNS,
    build_credentials,
    credential_input_columns,
    evaluate,
    resolve_report,
)
from normalize.dedup.settings import DedupSettings, load_settings
from normalize.dedup.tune import read_truth
from normalize.schema import (
    CREDENTIAL_SCHEMA,
    LINK_SCHEMA,
    OFFERING_SCHEMA,
    Credential,
)
from pipelines import quality
from pipelines.defs.sources import OWNERS, raw_key, rows_table, staging_key, table_schema
from pipelines.frames import FrameFolder, concat_frames
from pipelines.io_manager import OPTIONAL_INPUT
from pipelines.pools import DUCKDB_WRITER
from pipelines.resources import CredcatSettings, DemoCatalog
from scrapers.registry import Source, load_sources
from warehouse import ddl
from warehouse.export import export_snapshot, verify_manifest
from warehouse.load import RunInputs
from warehouse.publish import build_and_publish, open_readonly

LINKS = dg.AssetKey(["intermediate", "offering_links"])
CREDENTIALS = dg.AssetKey(["intermediate", "credentials"])
WAREHOUSE = dg.AssetKey(["marts", "warehouse"])
EXPORTS = dg.AssetKey(["exports", "parquet"])

MART_TABLES: tuple[ddl.Table, ...] = tuple(t for t in ddl.TABLES if t.layer == "marts")
RAW_COLUMNS = ("source", "run_id", "started_at", "finished_at", "complete", "pages", "items")

# Where each mart table is built from, as the load does it (warehouse/load.py): symbols are
# "staging" / "raw" (every source's asset), "links", "credentials", or another mart table.
MART_UPSTREAM: dict[str, tuple[str, ...]] = {
    "offering_versions": ("staging",),
    "price_history": ("offering_versions",),
    "fct_offering": ("offering_versions", "links"),
    "dim_credential": ("credentials", "fct_offering"),
    "dim_provider": ("fct_offering",),
    "dim_subject": ("fct_offering",),
    "bridge_offering_skill": ("fct_offering",),
    "bridge_offering_subject": ("fct_offering", "dim_subject"),
    "source_runs": ("raw", "staging"),
    "unmapped_values": ("fct_offering",),
}
# Columns whose origin is not the same-named column upstream ([] = computed by the load).
MART_LINEAGE: dict[str, dict[str, list[tuple[str, str]]]] = {
    "offering_versions": {"valid_from": [], "valid_to": [], "is_current": [], "last_seen_at": [],
                          "last_seen_run_id": [("staging", "run_id")], "content_hash": [("staging", "content_hash")]},
    "fct_offering": {"awarding_body_id": [("offering_versions", "awarding_body")],
                     "platform_id": [("offering_versions", "platform")],
                     "version_valid_from": [("offering_versions", "valid_from")],
                     "offering_id": [("offering_versions", "offering_id"), ("links", "offering_id")],
                     "credential_id": [("links", "credential_id")], "match_score": [("links", "match_score")]},
    "dim_credential": {"n_offerings": [("fct_offering", "offering_id")], "n_sources": [("fct_offering", "source")],
                       "sources": [("fct_offering", "source")], "platforms": [("fct_offering", "platform")],
                       "member_offering_ids": [("fct_offering", "offering_id")], "updated_at": []},
    "dim_provider": {"provider_id": [("fct_offering", "awarding_body"), ("fct_offering", "platform")],
                     "name": [("fct_offering", "awarding_body"), ("fct_offering", "platform")],
                     "is_awarding_body": [("fct_offering", "awarding_body")], "is_platform": [("fct_offering", "platform")],
                     "provider_kind": [("fct_offering", "provider_kind")], "country": [("fct_offering", "country")],
                     "n_offerings": [("fct_offering", "offering_id")], "n_offerings_awarded": [("fct_offering", "offering_id")],
                     "n_offerings_listed": [("fct_offering", "offering_id")], "n_credentials": [("fct_offering", "credential_id")],
                     "n_sources": [("fct_offering", "source")], "sources": [("fct_offering", "source")]},
    "dim_subject": {"isced_code": [("fct_offering", "isced_codes")], "label": [], "level": [], "broad_code": [("fct_offering", "isced_codes")]},
    "bridge_offering_skill": {"skill_uri": [("fct_offering", "skills")]},
    "bridge_offering_subject": {"isced_code": [("fct_offering", "isced_codes")], "label": [("dim_subject", "label")]},
    "source_runs": {"offerings": [("staging", "offering_id")], "rejects": [],
                    **{c: [("raw", c)] for c in RAW_COLUMNS}},
    # Parsed from the mapping notes of the current offerings.
    "unmapped_values": {**{c: [("fct_offering", "mapping_notes")] for c in ("field", "reason", "value", "rank")},
                        **{c: [("fct_offering", "offering_id"), ("fct_offering", "mapping_notes")]
                           for c in ("n_offerings", "share")},
                        "example_offering_id": [("fct_offering", "offering_id")],
                        "last_seen_at": [], "last_seen_run_id": [("fct_offering", "last_seen_run_id")]},
}


def mart_key(table: ddl.Table) -> dg.AssetKey:
    return dg.AssetKey(["marts", table.name])


def all_offerings(staged: dict[str, dict[str, pl.DataFrame]], columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Every source's staging offerings (only ``columns`` of them when given)."""
    return concat_frames(staged, "offerings", columns)


def present(inputs: dict, prefix: str) -> dict:
    """Inputs named ``<prefix><source>`` that were materialized at least once, by source."""
    return {k.removeprefix(prefix): v for k, v in inputs.items() if k.startswith(prefix) and v is not None}


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


def _height(frames: Mapping[str, pl.DataFrame], name: str) -> int:
    """Rows of one staged frame; of a FrameFolder's from its files' metadata (reading the frame
    would keep all of it, which the load reads narrow: warehouse.load.RunInputs.from_staged)."""
    return frames.height(name) if isinstance(frames, FrameFolder) else frames[name].height


def demo_truth(demo: DemoCatalog) -> pl.DataFrame | None:
    """The generator's truth as (offering_id, truth_key), when the demo catalog is in use."""
    path = demo.truth_path()
    if not demo.enabled or not path.exists():
        return None
    return read_truth(path)  # expected rejects belong to no credential


def mart_lineage(table: ddl.Table, names: list[str]) -> dg.TableColumnLineage:
    """Column lineage of a mart table: explicit where the load derives a column, else the
    same-named column of each table it is built from."""
    columns_of: dict[str, tuple[list[dg.AssetKey], set[str]]] = {
        "staging": ([staging_key(n) for n in names], set(OFFERING_SCHEMA.names())),
        "raw": ([raw_key(n) for n in names], set(RAW_COLUMNS)),
        "links": ([LINKS], set(LINK_SCHEMA.names())),
        "credentials": ([CREDENTIALS], set(CREDENTIAL_SCHEMA.names())),
        **{t.name: ([mart_key(t)], set(t.columns.names())) for t in MART_TABLES},
    }
    upstream = MART_UPSTREAM.get(table.name, ("staging",))
    explicit = MART_LINEAGE.get(table.name, {})
    deps: dict[str, list[dg.TableColumnDep]] = {}
    for col in table.columns.names():
        refs = explicit.get(col)
        if refs is None:
            refs = [(u, col) for u in upstream if col in columns_of.get(u, ([], set()))[1]]
        found = [dg.TableColumnDep(asset_key=k, column_name=c) for u, c in refs for k in columns_of.get(u, ([], set()))[0]]
        if found:
            deps[col] = found
    return dg.TableColumnLineage(deps_by_column=deps)


def mart_deps(table: ddl.Table, names: list[str]) -> list[dg.AssetKey]:
    keys: list[dg.AssetKey] = []
    for u in MART_UPSTREAM.get(table.name, ("staging",)):
        keys += {"staging": [staging_key(n) for n in names], "raw": [raw_key(n) for n in names],
                 "links": [LINKS], "credentials": [CREDENTIALS]}.get(u, [dg.AssetKey(["marts", u])])
    return keys


def mart_schema(table: ddl.Table) -> dg.TableSchema:
    return table_schema(table.columns, notes={c: table.column_comment(c) for c in table.columns.names()})


def build_catalog_assets(sources: dict[str, Source]) -> list[dg.AssetsDefinition]:
    names = list(sources)
    staging_ins = {f"staging_{n}": dg.AssetIn(key=staging_key(n), input_manager_key=OPTIONAL_INPUT) for n in names}
    raw_ins = {f"raw_{n}": dg.AssetIn(key=raw_key(n), input_manager_key=OPTIONAL_INPUT) for n in names}

    @dg.asset(
        key=LINKS, ins=staging_ins, group_name="intermediate", kinds={"rapidfuzz", "polars"},
        owners=OWNERS, tags={"layer": "intermediate"},
        description="Entity resolution: each offering linked to the credential it lists (blocking, rapidfuzz comparisons, clustering).",
        metadata={"dagster/column_schema": table_schema(LINK_SCHEMA)},
        check_specs=[
            dg.AssetCheckSpec("one_link_per_offering", asset=LINKS, blocking=True,
                              description="Every offering has exactly one credential_id, and the links have the contract's columns."),
            dg.AssetCheckSpec("overlap_stable", asset=LINKS,
                              description=f"Per source, the share of offerings another source lists too moved at most "
                                          f"{quality.OVERLAP_CHANGE_POINTS:g} points since the last resolution (a warning: drift)."),
        ],
    )
    def offering_links(context: dg.AssetExecutionContext, settings: CredcatSettings, demo: DemoCatalog, **inputs):
        staged = present(inputs, "staging_")
        if not staged:
            raise dg.Failure("no source has been staged yet: run the full refresh first", allow_retries=False)
        baseline = quality.previous_figures(context.instance, LINKS, exclude_run_id=context.run.run_id) or {}
        offerings = all_offerings(staged, RESOLVE_INPUT_COLUMNS)  # a third of the columns: what resolving reads
        paths = settings.paths()
        # Exact comparison cache across runs (normalize/dedup/cache.py): pairs of unchanged
        # offerings keep last run's levels; a missing or stale cache only costs time.
        report = resolve_report(offerings, dedup_settings(settings), previous_links(paths.warehouse),
                                cache=paths.root / "runtime" / "cache" / "dedup")
        links = report.links
        problems = quality.schema_problems(links, LINK_SCHEMA, "links")
        ok = not problems and quality.one_link_per_offering(links, offerings)
        check = dg.AssetCheckResult(check_name="one_link_per_offering", passed=ok,
                                    metadata={"links": links.height, "offerings": offerings.height,
                                              "problems": dg.MetadataValue.json(problems)})
        if not ok:
            yield check
            raise dg.Failure("offering_links: not one link per offering; the links are not stored", allow_retries=False)
        figures = quality.dedup_figures(offerings, links)
        changes = quality.overlap_changes(baseline.get("overlap_pct"), figures["overlap_pct"])
        meta: dict = {"offerings": offerings.height, "credentials": figures["credentials"],
                      "dagster/row_count": links.height,
                      "multi_offering_credentials": figures["multi_offering_credentials"],
                      "multi_source_credentials": figures["multi_source_credentials"],
                      "offerings_merged": figures["offerings_merged"],
                      "overlap_pct": dg.MetadataValue.json(figures["overlap_pct"]),
                      "sources": dg.MetadataValue.json(sorted(staged)),
                      "sources_never_staged": dg.MetadataValue.json(sorted(set(names) - set(staged))),
                      "blocking": dg.MetadataValue.json(json.loads(json.dumps(report.stats, default=str)))}
        truth = demo_truth(demo)
        if truth is not None:
            scores = evaluate(links, truth)
            meta.update({f"truth_{k}": v for k, v in scores.items() if isinstance(v, int | float)})
        yield dg.Output(links, metadata=meta)
        yield check
        yield dg.AssetCheckResult(check_name="overlap_stable", passed=not changes, severity=dg.AssetCheckSeverity.WARN,
                                  metadata={"changed": dg.MetadataValue.json(changes)})

    @dg.asset(
        key=CREDENTIALS, ins={**staging_ins, "links": dg.AssetIn(key=LINKS)}, group_name="intermediate",
        kinds={"polars"}, owners=OWNERS, tags={"layer": "intermediate"},
        description="Golden records: one Credential per cluster, each field's surviving value and the offering it came from.",
        metadata={"dagster/column_schema": table_schema(CREDENTIAL_SCHEMA, Credential)},
        check_specs=[dg.AssetCheckSpec("unique_credential_id", asset=CREDENTIALS, blocking=True,
                                       description="One row per credential_id, with the contract's columns.")],
    )
    def credentials(context: dg.AssetExecutionContext, settings: CredcatSettings, links: pl.DataFrame, **inputs):
        dedup = dedup_settings(settings)
        creds = build_credentials(all_offerings(present(inputs, "staging_"), credential_input_columns(dedup)), links, dedup)
        problems = quality.schema_problems(creds, CREDENTIAL_SCHEMA, "credentials")
        dups = creds.height - creds["credential_id"].n_unique()
        check = dg.AssetCheckResult(check_name="unique_credential_id", passed=not problems and dups == 0,
                                    metadata={"duplicates": dups, "problems": dg.MetadataValue.json(problems)})
        if not check.passed:
            yield check
            raise dg.Failure("credentials: duplicate credential_id or wrong columns; not stored", allow_retries=False)
        yield dg.Output(creds, metadata={"credentials": creds.height, "dagster/row_count": creds.height,
                                         "multi_source": int((creds["n_sources"] > 1).sum())})
        yield check

    mart_specs = [
        dg.AssetSpec(mart_key(t), deps=mart_deps(t, names), group_name="marts", kinds={"duckdb", "table"},
                     owners=OWNERS, tags={"layer": "marts"}, description=t.full_comment,
                     metadata={"dagster/column_schema": mart_schema(t), "dagster/table_name": f"marts.{t.name}",
                               "dagster/column_lineage": mart_lineage(t, names)})
        for t in MART_TABLES
    ]
    warehouse_spec = dg.AssetSpec(
        WAREHOUSE, deps=[mart_key(t) for t in MART_TABLES], group_name="marts", kinds={"duckdb"}, owners=OWNERS,
        tags={"layer": "marts"},
        description="The DuckDB warehouse file (raw, staging, intermediate, marts; history kept): built in a work "
                    "file, checked, then published by atomic rename.")

    @dg.multi_asset(
        name="marts_build",
        specs=[*mart_specs, warehouse_spec],
        ins={**staging_ins, **raw_ins, "links": dg.AssetIn(key=LINKS), "credentials": dg.AssetIn(key=CREDENTIALS)},
        pool=DUCKDB_WRITER,
        check_specs=[dg.AssetCheckSpec("marts_consistent", asset=WAREHOUSE, blocking=True,
                                       description="Checked in the work file before publishing: fct_offering non-empty, "
                                                   "keys unique, every current offering has a credential.")],
    )
    def marts_build(context: dg.AssetExecutionContext, settings: CredcatSettings, links: pl.DataFrame,
                    credentials: pl.DataFrame, **upstream):
        paths = settings.paths()
        staged = present(upstream, "staging_")
        crawls = present(upstream, "raw_")
        crawls = {n: c for n, c in crawls.items() if n in staged}
        def read_inputs() -> RunInputs:
            """Called by warehouse.load.build under the publish lock while the published file is
            copied into the work file on a second thread: the staged folders are read on first use,
            so reading them overlaps the copy."""
            runs = pl.DataFrame([
                {"source": name, "run_id": c["run_id"], "started_at": c.get("started_at"), "finished_at": c.get("finished_at"),
                 "complete": bool(c.get("complete")), "pages": int(c.get("pages") or 0), "items": int(c.get("items") or 0),
                 "rejects": _height(staged[name], "rejects"), "offerings": _height(staged[name], "offerings")}
                for name, c in crawls.items()
            ], schema={"source": pl.String, "run_id": pl.String, "started_at": pl.String, "finished_at": pl.String,
                       "complete": pl.Boolean, "pages": pl.Int64, "items": pl.Int64, "rejects": pl.Int64,
                       "offerings": pl.Int64},
            ).with_columns(pl.col("started_at", "finished_at").str.to_datetime(time_zone="UTC", strict=False))
            return RunInputs.from_staged(staged, links=links, credentials=credentials, source_runs=runs)

        measured: dict[str, Any] = {}

        def consistent(work: Path) -> bool:
            """The blocking marts_consistent check, on this run's work file, under the lock."""
            con = open_readonly(work)
            try:
                measured["counts"] = {t.name: con.execute(f"select count(*) from {t.qualified}").fetchone()[0]
                                      for t in MART_TABLES}
                measured["dup"] = con.execute(
                    "select count(*) - count(distinct offering_id) from marts.fct_offering").fetchone()[0]
                measured["orphans"] = con.execute(
                    "select count(*) from marts.fct_offering where credential_id is null").fetchone()[0]
            finally:
                con.close()
            return measured["counts"]["fct_offering"] > 0 and measured["dup"] == 0 and measured["orphans"] == 0

        # Under the publish lock from the copy of the published file to the rename: another
        # process's run (CLI, a second instance) waits, then builds on top of this one.
        stats = build_and_publish(paths.warehouse, read_inputs, check=consistent)
        counts, dup, orphans = measured["counts"], measured["dup"], measured["orphans"]
        check = dg.AssetCheckResult(check_name="marts_consistent", asset_key=WAREHOUSE, passed=stats["published"],
                                    metadata={"duplicates": int(dup), "without_credential": int(orphans),
                                              "fct_offering": int(counts["fct_offering"])})
        if not stats["published"]:
            yield check
            raise dg.Failure("marts_consistent failed in the work file: the published warehouse is unchanged",
                             allow_retries=False)
        names_now = list(staged)
        for t in MART_TABLES:
            yield dg.MaterializeResult(asset_key=mart_key(t), metadata={
                "dagster/row_count": int(counts[t.name]), "dagster/table_name": f"marts.{t.name}",
                "dagster/column_schema": mart_schema(t), "dagster/column_lineage": mart_lineage(t, names_now)})
        yield dg.MaterializeResult(asset_key=WAREHOUSE, metadata={
            **{f"rows_{k}": int(v) for k, v in counts.items()},
            "path": dg.MetadataValue.path(str(paths.warehouse)),
            "sources": dg.MetadataValue.json(sorted(staged)),
            "sources_never_staged": dg.MetadataValue.json(sorted(set(names) - set(staged))),
            "build": dg.MetadataValue.json(json.loads(json.dumps(stats, default=str)))})
        yield check

    @dg.asset(
        key=EXPORTS, deps=[WAREHOUSE], group_name="exports",
        kinds={"parquet", "json"}, owners=OWNERS, tags={"layer": "exports"},
        description="One snapshot folder per run: Parquet per entity (offerings and versions partitioned by "
                    "source) with JSON Schemas, the credential change feed since the previous snapshot, "
                    "CTDL JSON-LD and Open Badges 3.0 achievements, and manifest.json (rows, sha256, schema version).",
        check_specs=[dg.AssetCheckSpec("manifest_matches", asset=EXPORTS,
                                       description="Every exported file matches its manifest entry (rows, sha256).")],
    )
    def exports(context: dg.AssetExecutionContext, settings: CredcatSettings):
        paths = settings.paths()
        snapshot = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        manifest = export_snapshot(paths.warehouse, paths.exports, snapshot)
        folder = paths.exports / snapshot
        problems = verify_manifest(folder)
        files, documents, changes = manifest["files"], manifest.get("documents", []), manifest["changes"]
        links = {d["path"]: dg.MetadataValue.path(str(folder / d["path"]))
                 for d in documents if d["format"] != "json-schema"}
        rows = [{"entity": k, "rows": int(v["rows"])} for k, v in manifest["entities"].items()]
        yield dg.Output({"snapshot": snapshot, "dir": str(folder), "files": len(files), "changes": changes},
                        metadata={"snapshot": snapshot, "files": len(files), "documents": len(documents),
                                  "dir": dg.MetadataValue.path(str(folder)),
                                  "manifest": dg.MetadataValue.path(str(folder / "manifest.json")),
                                  "rows": rows_table(rows, {"entity": "string", "rows": "int"}),
                                  "changes_since": changes["since"] or "(first snapshot)",
                                  "credentials_upserted": changes["upserts"],
                                  "credentials_deleted": changes["deletes"],
                                  "bytes": sum(f["bytes"] for f in files) + sum(d["bytes"] for d in documents),
                                  **links})
        yield dg.AssetCheckResult(check_name="manifest_matches", passed=not problems,
                                  metadata={"problems": dg.MetadataValue.json(problems)})

    return [offering_links, credentials, marts_build, exports]


def default_catalog_assets() -> list[dg.AssetsDefinition]:
    return build_catalog_assets(load_sources())
