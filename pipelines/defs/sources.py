"""Per-source assets, built by factories from the source registry: raw/<source> crawls it,
staging/<source> normalizes it. A failing source reports and never blocks the others.

Each source's cadence (its cron) gives its schedule (pipelines/defs/jobs.py) and the freshness
policy of both assets; a source with an ``inbox`` also gets a sensor (pipelines/defs/sensors.py)
whose runs crawl the dropped file alone (``CrawlConfig.files``).
"""


import shutil
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from normalize.reuse import REFRESHED, normalize_with_reuse
from normalize.schema import OFFERING_SCHEMA, RAW_SCHEMA, REJECT_SCHEMA, Offering
from normalize.transforms import normalize
from pipelines import quality
from pipelines.adhoc import file_source_registry
from pipelines.frames import FrameFolder, derive
from pipelines.pools import CRAWLS
from pipelines.resources import CredcatSettings, DemoCatalog
from pipelines.runtime import new_run_id
from scrapers.registry import Source, load_sources
from scrapers.run import crawl

CRAWL_ATTEMPTS = 3  # a crawl whose process crashed is tried again, with backoff
OWNERS = ["team:credcat-data"]
# Exponential backoff with jitter: ~2 s, then ~4 s (each +/- up to the delay).
CRAWL_RETRY = dg.RetryPolicy(max_retries=CRAWL_ATTEMPTS - 1, delay=2, backoff=dg.Backoff.EXPONENTIAL,
                             jitter=dg.Jitter.PLUS_MINUS)
PREVIEW_COLUMNS = ("title", "awarding_body", "credential_type", "isced_codes", "workload_hours_min",
                   "duration_weeks_max", "price_amount", "price_currency")


def raw_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


def staging_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", name])


def cadence_interval(source: Source) -> timedelta:
    """The shortest gap between two runs of the source's cadence (a valid cron, else an error)."""
    from dagster._utils.schedules import get_smallest_cron_interval, is_valid_cron_string

    if not is_valid_cron_string(source.cadence):
        raise ValueError(f"source {source.name}: cadence {source.cadence!r} is not a cron schedule")
    return get_smallest_cron_interval(source.cadence)


def freshness_policy(source: Source) -> dg.FreshnessPolicy:
    """From the cadence: a warning when one crawl is late by more than an hour (or a tenth of
    the interval, whichever is longer), a failure when two crawls in a row are missing."""
    interval = cadence_interval(source)
    grace = max(timedelta(hours=1), interval / 10)
    return dg.FreshnessPolicy.time_window(fail_window=2 * interval + grace, warn_window=interval + grace)


def source_tags(source: Source, layer: str) -> dict[str, str]:
    return {"layer": layer, "source": source.name, "provider_kind": source.provider_kind,
            "spider_kind": source.kind}


def table_schema(schema: pl.Schema, model: type | None = None, notes: dict[str, str] | None = None) -> dg.TableSchema:
    """A Polars schema as a Dagster column schema, described from the model's fields."""
    fields = getattr(model, "model_fields", {}) if model is not None else {}
    cols = []
    for name, dtype in schema.items():
        info = fields.get(name)
        description = (notes or {}).get(name) or (info.description if info is not None else None)
        cols.append(dg.TableColumn(name=name, type=str(dtype), description=description))
    return dg.TableSchema(columns=cols)


def preview_table(frame: pl.DataFrame, columns: tuple[str, ...] = PREVIEW_COLUMNS, rows: int = 10) -> dg.MetadataValue:
    """The first rows as a UI table (lists joined, long text cut)."""
    cols = [c for c in columns if c in frame.columns]
    head = frame.select(cols).head(rows)

    def cell(v: object) -> object:
        if isinstance(v, list):
            v = ", ".join(str(x) for x in v)
        if isinstance(v, str) and len(v) > 80:
            return v[:77] + "..."
        return v if v is None or isinstance(v, str | int | float | bool) else str(v)

    records = [dg.TableRecord({c: cell(v) for c, v in row.items()}) for row in head.iter_rows(named=True)]
    return dg.MetadataValue.table(records=records, schema=table_schema(head.schema, Offering))


def rows_table(rows: list[dict], schema: dict[str, str]) -> dg.MetadataValue:
    cols = [dg.TableColumn(name=k, type=t) for k, t in schema.items()]
    return dg.MetadataValue.table(records=[dg.TableRecord(r) for r in rows], schema=dg.TableSchema(columns=cols))


def unmapped_figures(offerings: pl.DataFrame, top: int = 10) -> tuple[list[dict], dict[str, int]]:
    """``quality.unmapped_values(offerings, top)`` and ``quality.unmapped_by_field(offerings)``
    in one pass, each distinct mapping note parsed once (``quality.parse_note``) and counted
    as often as it occurs: the same figures, without a Python call per note (a million
    offerings hold millions of notes, a few thousand distinct)."""
    if "mapping_notes" not in offerings.columns or offerings.height == 0:
        return [], {}
    notes = offerings.select(pl.col("mapping_notes").explode().drop_nulls()).to_series()
    values: Counter[tuple[str, str]] = Counter()
    fields: Counter[str] = Counter()
    for note, n in notes.value_counts(name="_n").iter_rows():
        key = quality.parse_note(note)
        values[key] += n
        fields[key[0]] += n
    rows = [{"field": f, "value": v, "count": c}
            for (f, v), c in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    return rows, dict(sorted(fields.items(), key=lambda kv: (-kv[1], kv[0])))


def crawl_duration(stats: dict) -> float | None:
    try:
        started = datetime.fromisoformat(str(stats["started_at"]))
        finished = datetime.fromisoformat(str(stats["finished_at"]))
    except (KeyError, TypeError, ValueError):
        return None
    return round((finished - started).total_seconds(), 2)


class CrawlConfig(dg.Config):
    files: list[str] = Field(
        default_factory=list,
        description="Local files to crawl instead of the source's URLs and locations: a file dropped "
        "in the source's inbox (set by its sensor).",
    )


def make_raw_asset(source: Source) -> dg.AssetsDefinition:
    key = raw_key(source.name)

    @dg.asset(
        key=key,
        group_name="raw",
        kinds={"scrapy"},
        owners=OWNERS,
        tags=source_tags(source, "raw"),
        description=f"Crawl of {source.name}: {source.description} Format: {source.format}. "
                    f"Cadence: {source.cadence} (UTC).",
        metadata={"format": source.format, "spider_kind": source.kind, "cadence": source.cadence,
                  "provider_kind": source.provider_kind, "inbox": source.inbox or "",
                  "start_urls": dg.MetadataValue.json(source.start_urls or source.location)},
        check_specs=[dg.AssetCheckSpec("crawl_complete", asset=key,
                                       description="The crawl finished and fetched every page (a warning: an incomplete crawl closes nothing).")],
        retry_policy=CRAWL_RETRY,
        pool=CRAWLS,
        freshness_policy=freshness_policy(source),
    )
    def _raw(context: dg.AssetExecutionContext, config: CrawlConfig, settings: CredcatSettings, demo: DemoCatalog):
        paths = settings.paths()
        run_id = new_run_id(context.run.run_id)
        registry = Path(settings.sources_file) if settings.sources_file else None
        if config.files:  # dropped files, crawled by themselves through an ad hoc registry
            try:  # only regular files inside the source's inbox (run config can name anything)
                files = [source.inbox_file(paths.root, f) for f in config.files]
            except (ValueError, FileNotFoundError) as exc:
                raise dg.Failure(f"raw/{source.name}: {exc}", allow_retries=False) from exc
            registry = file_source_registry(source, files, paths.root / "runtime" / "adhoc" / source.name / run_id)
        stats = crawl(source, run_id, paths.landing, mirror_url=demo.base_url, registry=registry)
        crashed = stats.get("finish_reason") == "crashed"
        if crashed and context.retry_number < CRAWL_ATTEMPTS - 1:
            shutil.rmtree(paths.landing / source.name / run_id, ignore_errors=True)
            raise dg.Failure(f"crawl of {source.name} crashed (attempt {context.retry_number + 1} of "
                             f"{CRAWL_ATTEMPTS}): {str(stats.get('log_tail', ''))[-500:]}")
        stats["landing_dir"] = str(paths.landing / source.name / run_id)
        stats["duration_s"] = crawl_duration(stats)
        stats["attempts"] = context.retry_number + 1
        stats["files"] = list(config.files)
        meta = {k: stats.get(k) for k in ("run_id", "complete", "finish_reason", "pages", "items", "invalid_items",
                                          "retries", "throttled", "failed_pages", "errors", "bytes", "duration_s",
                                          "attempts")}
        meta["dagster/row_count"] = int(stats.get("items") or 0) + int(stats.get("invalid_items") or 0)
        meta["status_counts"] = dg.MetadataValue.json(stats.get("status_counts", {}))
        meta["page_defects"] = dg.MetadataValue.json(stats.get("page_defects", {}))
        meta["landing_dir"] = dg.MetadataValue.path(stats["landing_dir"])
        if config.files:
            meta["files"] = dg.MetadataValue.json(list(config.files))
        if stats.get("failed_urls"):
            meta["failed_urls"] = dg.MetadataValue.json(stats["failed_urls"][:20])
        yield dg.Output(stats, metadata=meta)
        yield dg.AssetCheckResult(
            check_name="crawl_complete", passed=bool(stats.get("complete")),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"finish_reason": str(stats.get("finish_reason")), "failed_pages": int(stats.get("failed_pages", 0))},
        )

    return _raw


def make_staging_asset(source: Source) -> dg.AssetsDefinition:
    key = staging_key(source.name)
    column_schema = table_schema(OFFERING_SCHEMA, Offering)

    @dg.asset(
        key=key,
        ins={"crawl": dg.AssetIn(key=raw_key(source.name))},
        group_name="staging",
        kinds={"polars"},
        owners=OWNERS,
        tags=source_tags(source, "staging"),
        description=f"{source.name} normalized onto the taxonomy: offerings, and rejects with reasons.",
        metadata={"dagster/column_schema": column_schema},
        freshness_policy=freshness_policy(source),
        check_specs=[
            dg.AssetCheckSpec("schema_matches", asset=key, blocking=True,
                              description="Raw records, offerings and rejects have the contract's columns and types."),
            dg.AssetCheckSpec("raw_reconciles", asset=key, blocking=True,
                              description="Raw records = offerings + rejects: nothing lost."),
            dg.AssetCheckSpec("unique_offering_id", asset=key, blocking=True,
                              description="One row per offering_id."),
            dg.AssetCheckSpec("has_offerings", asset=key,
                              description="The source gave at least one offering (a warning: an empty source closes nothing)."),
            dg.AssetCheckSpec("offerings_not_shrunk", asset=key,
                              description=f"Offerings down at most {quality.SHRINK_LIMIT:.0%} against the last "
                                          "complete crawl (a warning: drift)."),
            dg.AssetCheckSpec("coverage_stable", asset=key,
                              description=f"No mapped field's coverage down more than {quality.COVERAGE_DROP_POINTS:g} "
                                          "points against the last complete crawl (a warning: drift)."),
        ],
    )
    def _staging(context: dg.AssetExecutionContext, settings: CredcatSettings, crawl: dict):
        # The baseline first: the latest earlier materialization whose crawl was complete.
        baseline = quality.previous_figures(context.instance, key, exclude_run_id=context.run.run_id,
                                            require="crawl_complete") or {}
        kinds = {name: s.provider_kind for name, s in settings.sources().items()}
        kinds.setdefault(source.name, source.provider_kind)
        # The asset's own last stored output (where the IO manager keeps it): lines unchanged
        # since that run are not parsed or normalized again (normalize/reuse.py); the frames
        # are those of read_landing + normalize of the whole run. Absent or unusable: all.
        # Its files are opened at once (FrameFolder), so another run of this asset storing
        # its output meanwhile cannot mix two outputs. normalize_with_reuse reads its raw rows
        # and offerings on a second thread while it normalizes the changed lines; the frames
        # read are dropped after it, the files stay open until this output is stored: the raw
        # rows and offerings taken over are stored as patches on those files (Derived).
        stored = settings.paths().io.joinpath(*key.path)
        try:
            previous = FrameFolder(stored) if stored.is_dir() else None
        except OSError:  # replaced or removed between the check and the opening
            previous = None
        try:
            yield from _stage(context, crawl, kinds, baseline, previous)
        finally:
            if previous is not None:
                previous.close()

    def _stage(context: dg.AssetExecutionContext, crawl: dict, kinds: dict[str, str], baseline: dict,
               previous: FrameFolder | None):
        reuse = normalize_with_reuse(Path(crawl["landing_dir"]), kinds, previous, normalize_fn=normalize)
        if previous is not None:
            previous.forget()  # its frames are not needed any more
        # The raw rows: on the reuse path PatchedRows (rows of the previous output not read),
        # which carry the height and schema the checks look at and are stored as a patch.
        frames = reuse.handoff()
        raw, offerings, rejects, result = frames["raw"], frames["offerings"], frames["rejects"], reuse.result
        n_raw = raw.height + reuse.invalid.height
        dup_ids = offerings.height - offerings["offering_id"].n_unique()
        problems = (quality.schema_problems(raw, RAW_SCHEMA, "raw") + quality.schema_problems(offerings, OFFERING_SCHEMA, "offerings")
                    + quality.schema_problems(rejects, REJECT_SCHEMA, "rejects"))
        blocking = [
            dg.AssetCheckResult(check_name="schema_matches", passed=not problems,
                                metadata={"problems": dg.MetadataValue.json(problems)}),
            dg.AssetCheckResult(check_name="raw_reconciles", passed=n_raw == offerings.height + rejects.height,
                                metadata={"raw": n_raw, "offerings": offerings.height, "rejects": rejects.height}),
            dg.AssetCheckResult(check_name="unique_offering_id", passed=dup_ids == 0, metadata={"duplicates": dup_ids}),
        ]
        failed = [r.check_name for r in blocking if not r.passed]
        if failed:
            # Stop before the output is stored: the last good frames stay where other runs read
            # them, and nothing downstream runs on these.
            yield from blocking
            raise dg.Failure(f"staging/{source.name}: blocking check(s) failed: {', '.join(failed)}; "
                             "the output is not stored and nothing downstream runs", allow_retries=False)

        cover = quality.coverage(offerings)
        shrink = quality.shrink(baseline.get("offerings"), offerings.height)
        drops = quality.coverage_drops(baseline.get("coverage"), cover)
        reasons = rejects.group_by("reason").len().sort("len", descending=True)
        top, by_field = unmapped_figures(offerings)
        yield dg.Output(
            derive(frames, previous, reuse.previous_rows, REFRESHED),
            metadata={
                "raw_records": n_raw, "offerings": offerings.height, "rejects": rejects.height,
                "records_reused": int(reuse.stats["reused"]), "records_normalized": int(reuse.stats["normalized"]),
                "reuse_mode": str(reuse.stats["mode"]), "reuse_reason": str(reuse.stats.get("reason") or ""),
                "dagster/row_count": offerings.height,
                "run_id": str(crawl.get("run_id")),
                "crawl_complete": bool(crawl.get("complete")),
                "test_records": int(offerings["is_test"].sum()),
                "reject_reasons": dg.MetadataValue.json(dict(zip(reasons["reason"].to_list(), reasons["len"].to_list(), strict=True))),
                "mean_eu_completeness": float(offerings["eu_completeness"].mean() or 0.0),
                "fx_rate_date": str(result.fx_rate_date),
                "preview": preview_table(offerings),
                "coverage": dg.MetadataValue.json(cover),
                "top_unmapped": rows_table(top, {"field": "string", "value": "string", "count": "int"}),
                "unmapped_by_field": dg.MetadataValue.json(by_field),
                "baseline_run_id": str(baseline.get("run_id") or "(none)"),
                "dagster/column_schema": column_schema,
            },
        )
        yield from blocking
        yield dg.AssetCheckResult(check_name="has_offerings", passed=offerings.height > 0,
                                  severity=dg.AssetCheckSeverity.WARN, metadata={"offerings": offerings.height})
        yield dg.AssetCheckResult(
            check_name="offerings_not_shrunk", passed=shrink["passed"], severity=dg.AssetCheckSeverity.WARN,
            metadata={"previous": shrink["previous"] if shrink["previous"] is not None else -1,
                      "current": shrink["current"],
                      "change_pct": shrink["change_pct"] if shrink["change_pct"] is not None else 0.0,
                      "baseline_run_id": str(baseline.get("run_id") or "(none)")})
        yield dg.AssetCheckResult(
            check_name="coverage_stable", passed=not drops, severity=dg.AssetCheckSeverity.WARN,
            metadata={"dropped": dg.MetadataValue.json(drops), "baseline_run_id": str(baseline.get("run_id") or "(none)")})

    return _staging


def build_source_assets(sources: dict[str, Source]) -> list[dg.AssetsDefinition]:
    assets: list[dg.AssetsDefinition] = []
    for source in sources.values():
        assets += [make_raw_asset(source), make_staging_asset(source)]
    return assets


def default_source_assets() -> list[dg.AssetsDefinition]:
    return build_source_assets(load_sources())
