"""Per-source assets, built by factories from the source registry: raw/<source> crawls it,
staging/<source> normalizes it. A failing source reports and never blocks the others."""


import shutil
from pathlib import Path

import dagster as dg
import polars as pl

from normalize.transforms import normalize, read_landing
from pipelines.resources import CredcatSettings, DemoCatalog
from pipelines.runtime import new_run_id
from scrapers.registry import Source, load_sources
from scrapers.run import crawl

CRAWL_ATTEMPTS = 3  # a crawl whose process crashed is tried again, with backoff


def raw_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


def staging_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", name])


def make_raw_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(source.name),
        group_name="raw",
        kinds={"scrapy"},
        owners=["team:credcat-data"],
        description=f"Crawl of {source.name}: {source.description} Format: {source.format}.",
        metadata={"format": source.format, "spider_kind": source.kind, "cadence": source.cadence,
                  "provider_kind": source.provider_kind},
        check_specs=[dg.AssetCheckSpec("crawl_complete", asset=raw_key(source.name),
                                       description="The crawl finished and fetched every page (a warning: an incomplete crawl closes nothing).")],
        retry_policy=dg.RetryPolicy(max_retries=CRAWL_ATTEMPTS - 1, delay=2, backoff=dg.Backoff.EXPONENTIAL,
                                    jitter=dg.Jitter.PLUS_MINUS),
        pool="crawls",
    )
    def _raw(context: dg.AssetExecutionContext, settings: CredcatSettings, demo: DemoCatalog):
        paths = settings.paths()
        run_id = new_run_id(context.run.run_id)
        stats = crawl(source, run_id, paths.landing, mirror_url=demo.base_url,
                      registry=Path(settings.sources_file) if settings.sources_file else None)
        crashed = stats.get("finish_reason") == "crashed"
        if crashed and context.retry_number < CRAWL_ATTEMPTS - 1:
            shutil.rmtree(paths.landing / source.name / run_id, ignore_errors=True)
            raise dg.Failure(f"crawl of {source.name} crashed: {stats.get('log_tail', '')[-500:]}")
        stats["landing_dir"] = str(paths.landing / source.name / run_id)
        meta = {k: stats.get(k) for k in ("run_id", "complete", "finish_reason", "pages", "items", "invalid_items",
                                          "retries", "throttled", "failed_pages", "errors", "bytes")}
        meta["status_counts"] = dg.MetadataValue.json(stats.get("status_counts", {}))
        meta["page_defects"] = dg.MetadataValue.json(stats.get("page_defects", {}))
        meta["landing_dir"] = dg.MetadataValue.path(stats["landing_dir"])
        yield dg.Output(stats, metadata=meta)
        yield dg.AssetCheckResult(
            check_name="crawl_complete", passed=bool(stats.get("complete")),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"finish_reason": str(stats.get("finish_reason")), "failed_pages": int(stats.get("failed_pages", 0))},
        )

    return _raw


def make_staging_asset(source: Source) -> dg.AssetsDefinition:
    key = staging_key(source.name)

    @dg.asset(
        key=key,
        ins={"crawl": dg.AssetIn(key=raw_key(source.name))},
        group_name="staging",
        kinds={"polars"},
        owners=["team:credcat-data"],
        description=f"{source.name} normalized onto the taxonomy: offerings, and rejects with reasons.",
        check_specs=[
            dg.AssetCheckSpec("raw_reconciles", asset=key, blocking=True,
                              description="Raw records = offerings + rejects: nothing lost."),
            dg.AssetCheckSpec("unique_offering_id", asset=key, blocking=True,
                              description="One row per offering_id."),
            dg.AssetCheckSpec("has_offerings", asset=key,
                              description="The source gave at least one offering (a warning: an empty source closes nothing)."),
        ],
    )
    def _staging(context: dg.AssetExecutionContext, settings: CredcatSettings, crawl: dict):
        raw, invalid = read_landing([Path(crawl["landing_dir"])])
        kinds = {name: s.provider_kind for name, s in settings.sources().items()}
        result = normalize(raw.lazy(), provider_kinds=kinds)
        offerings, rejects = result.offerings, pl.concat([invalid, result.rejects], how="vertical")
        n_raw = raw.height + invalid.height
        dup_ids = offerings.height - offerings["offering_id"].n_unique()
        preview = offerings.select("title", "credential_type", "isced_codes", "workload_hours_min",
                                   "duration_weeks_max", "price_amount", "price_currency").head(10)
        reasons = rejects.group_by("reason").len().sort("len", descending=True)
        yield dg.Output(
            {"raw": raw, "offerings": offerings, "rejects": rejects},
            metadata={
                "raw_records": n_raw, "offerings": offerings.height, "rejects": rejects.height,
                "test_records": int(offerings["is_test"].sum()),
                "reject_reasons": dg.MetadataValue.json(dict(zip(reasons["reason"].to_list(), reasons["len"].to_list(), strict=True))),
                "mean_eu_completeness": float(offerings["eu_completeness"].mean() or 0.0),
                "fx_rate_date": str(result.fx_rate_date),
                "preview": dg.MetadataValue.md(_md(preview)),
            },
        )
        yield dg.AssetCheckResult(check_name="raw_reconciles", passed=n_raw == offerings.height + rejects.height,
                                  metadata={"raw": n_raw, "offerings": offerings.height, "rejects": rejects.height})
        yield dg.AssetCheckResult(check_name="unique_offering_id", passed=dup_ids == 0, metadata={"duplicates": dup_ids})
        yield dg.AssetCheckResult(check_name="has_offerings", passed=offerings.height > 0,
                                  severity=dg.AssetCheckSeverity.WARN, metadata={"offerings": offerings.height})

    return _staging


def _md(frame: pl.DataFrame) -> str:
    """A frame as a Markdown table for the UI (no pandas needed)."""
    cols = frame.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.iter_rows():
        lines.append("| " + " | ".join("" if v is None else str(v).replace("|", "/")[:60] for v in row) + " |")
    return "\n".join(lines)


def build_source_assets(sources: dict[str, Source]) -> list[dg.AssetsDefinition]:
    assets: list[dg.AssetsDefinition] = []
    for source in sources.values():
        assets += [make_raw_asset(source), make_staging_asset(source)]
    return assets


@dg.definitions
def source_assets() -> dg.Definitions:
    return dg.Definitions(assets=build_source_assets(load_sources()))
