"""Benchmark: load + publish N synthetic offerings, then an incremental run with 1% changed.

    python -m warehouse.bench --rows 1000000 [--sources 10] [--changed 0.01] [--dir DIR]

Synthesizes valid frames of every input schema (offerings, raw records with a small JSON
payload, rejects, links, credentials, source runs) with vectorized Polars expressions, then:

1. run 1: ``build`` into a fresh work file (no published file yet) + ``publish``;
2. run 2: the same offerings crawled again later, ``--changed`` of them with a new price
   (a new version each), ``build`` (copy of the published file + load) + ``publish``.

Prints per run the wall time of build and publish, offerings per second, the load stats that
matter (versions opened/closed, price history rows written) and the peak RSS of the process
(``resource.getrusage``). The issue's target: run 1 of 1M offerings in at most 60 s.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from normalize.schema import (
    CREDENTIAL_SCHEMA,
    LINK_SCHEMA,
    OFFERING_SCHEMA,
    RAW_SCHEMA,
    REJECT_SCHEMA,
)
from warehouse.ddl import SOURCE_RUN_SCHEMA, SUBJECT_SCHEMA
from warehouse.load import RunInputs, build
from warehouse.publish import publish

T0 = datetime(2025, 6, 1, tzinfo=UTC)

_TITLES = ["Python for Data Science", "Project Management Professional", "Machine Learning",
           "Cloud Architecture on AWS", "Nursing Leadership", "Digital Marketing Analytics",
           "Supply Chain Fundamentals", "Introduction to Cybersecurity", "Financial Accounting",
           "UX Design Essentials", "Renewable Energy Systems", "Data Engineering with SQL"]
_BODIES = [f"University of Example {n}" for n in range(200)]
_KINDS = ["university", "mooc_platform", "professional_association", "vendor", "training_provider"]
_COUNTRIES = ["DE", "FR", "US", "GB", "NL", "ES", "IT", "PL", "SE", "IE"]
_TYPES = ["ProfessionalCertificate", "MicroCredential", "Certificate", "Badge", "DigitalBadge", None]
_ISCED = ["0613", "0611", "0413", "0311", "0913", "0714", "0411", "0532", "0712", "0112"]
_SKILLS = [f"http://data.europa.eu/esco/skill/{n:08x}-0000-4000-8000-000000000000" for n in range(500)]
_CURRENCIES = ["USD", "EUR", "GBP"]
_REASONS = ["missing_title", "schema_violation", "invalid_json", "duplicate_source_key"]


def _pick(values: list[Any], index: pl.Expr, dtype: pl.DataType | None = None) -> pl.Expr:
    """values[index % len(values)], vectorized (a join-free gather from a literal Series)."""
    return pl.lit(pl.Series(values, dtype=dtype or pl.String())).gather(index % len(values))


def _source(index: pl.Expr, n_sources: int) -> pl.Expr:
    return pl.format("src_{}", (index % n_sources).cast(pl.String).str.zfill(2))


def _offerings(n: int, n_sources: int, run: int, changed: float) -> pl.DataFrame:
    """N offerings of OFFERING_SCHEMA; in run > 1 a share ``changed`` of them has a new price."""
    i = pl.col("i")
    every = max(1, round(1 / changed)) if changed > 0 else 0
    bump = (i % every == 0).cast(pl.Int64) * (run - 1) if every else pl.lit(0)
    fetched = pl.lit(T0 + timedelta(days=run - 1)) + pl.duration(seconds=i % 3600)
    title = pl.format("{} {}", _pick(_TITLES, i), (i // len(_TITLES)) % 1000)
    price = ((i % 40) * 25 + 25 + bump * 10).cast(pl.Float64)
    currency = _pick(_CURRENCIES, i // 7)
    rate = pl.when(currency == "EUR").then(1.08).when(currency == "GBP").then(1.27).otherwise(1.0)
    free = i % 13 == 0
    frame = pl.DataFrame({"i": pl.int_range(n, eager=True)}).lazy().with_columns(
        source=_source(i, n_sources),
        source_key=pl.format("k{}", i),
        offering_id=pl.format("o{}", i.cast(pl.String).str.zfill(19)),
    ).with_columns(
        url=pl.format("https://{}.example/courses/{}", pl.col("source"), pl.col("source_key")),
        run_id=pl.format("{}-run{}", pl.col("source"), pl.lit(run)),
        fetched_at=fetched,
        record_kind=pl.lit("credential"),
        title=title,
        description=pl.format(
            "{}: a practical programme covering the fundamentals, tools and current practice of "
            "the field, with graded assignments, a capstone project and a verified certificate "
            "awarded on completion. Module {} of the series.", title, i % 17),
        learning_outcomes=pl.concat_list(pl.format("Apply {}", title), pl.format("Explain {}", title)),
        awarding_body=_pick(_BODIES, i // 2),
        platform=pl.format("Platform {}", i % n_sources),
        provider_kind=_pick(_KINDS, i // 2),
        country=_pick(_COUNTRIES, i // 2),
        language=_pick(["en", "de", "fr", "es"], i // 11),
        credential_type=_pick(_TYPES, i // 2),
        credential_type_raw=pl.lit("Professional Certificate"),
        isced_codes=pl.concat_list(_pick(_ISCED, i // 2)),
        isced_confidence=pl.concat_list(_pick([1.0, 0.85, 0.8, 0.7, 0.5], i // 3, pl.Float64())),
        subjects_raw=pl.concat_list(pl.lit("Computing")),
        subject_codes_raw=pl.concat_list(pl.lit("11.0101")),
        skills=pl.concat_list(_pick(_SKILLS, i // 2), _pick(_SKILLS, i // 2 + 7)),
        skill_scores=pl.concat_list(pl.lit(0.92), ((i % 50) / 100 + 0.5).cast(pl.Float64)),
        skills_raw=pl.concat_list(_pick(_SKILLS, i // 2), pl.lit("teamwork")),
        audience_level=_pick(["BeginnerLevel", "IntermediateLevel", "AdvancedLevel"], i // 5),
        level_raw=pl.lit("Beginner"),
        eqf_level=_pick([4, 5, 6, 7, None], i // 3, pl.Int64()),
        workload_hours_min=((i % 30) + 5).cast(pl.Float64),
        workload_hours_max=((i % 30) + 15).cast(pl.Float64),
        workload_raw=pl.lit("3-5 hours/week"),
        duration_weeks_min=((i % 12) + 1).cast(pl.Float64),
        duration_weeks_max=((i % 12) + 4).cast(pl.Float64),
        duration_raw=pl.lit("4 weeks"),
        credits=((i % 10) + 1).cast(pl.Float64),
        credit_unit=pl.lit("ECTS"),
        ects=((i % 10) + 1).cast(pl.Float64),
        ects_derived=i % 2 == 0,
        modality=_pick(["OnlineOnly", "InPerson", "BlendedDelivery"], i // 4),
        timing=_pick(["self-paced", "scheduled"], i // 6),
        prices=pl.concat_list(pl.struct(amount=price, currency=currency, cost_type=pl.lit("Tuition"))),
        price_amount=pl.when(free).then(0.0).otherwise(price),
        price_currency=currency,
        price_usd=pl.when(free).then(0.0).otherwise((price * rate).round(2)),
        is_free=free,
        free_to_audit=i % 3 == 0,
        assessment_type=pl.lit("quiz"),
        quality_assurance=pl.lit("accredited"),
        prerequisites=pl.lit("none"),
        start_dates=pl.concat_list(pl.lit(datetime(2025, 9, 1).date())),
        rating=((i % 20) / 4 + 0.1).cast(pl.Float64),
        rating_count=i % 5000,
        enrolment=i % 100000,
        status=pl.lit("active"),
        is_test=pl.lit(False),
        content_hash=pl.format("h{}-{}", i, bump),
        eu_completeness=((i % 10) / 10 + 0.05).cast(pl.Float64),
        # A note quoting no value (left out of marts.unmapped_values) on every offering, and on
        # every third one a raw value of one of 300 per source (a curator's to-do list).
        mapping_notes=pl.concat_list(
            pl.lit("skills: 1 not mapped to ESCO (kept in skills_raw)"),
            pl.when(i % 3 == 0).then(pl.format("credential_type: unmapped 'Award {}'", (i // 3) % 300)),
        ).list.drop_nulls(),
    )
    return _select_schema(frame, OFFERING_SCHEMA).collect()


def _select_schema(frame: pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    """The schema's columns in order; a column the synthesizer does not know yet (a field
    added to normalize/schema.py since) is null, so the bench keeps running."""
    have = frame.collect_schema()
    return frame.select([pl.col(c).cast(t) if c in have else pl.lit(None, t).alias(c)
                         for c, t in schema.items()])


def _raw(offerings: pl.DataFrame, rejects: pl.DataFrame, fetched: datetime) -> pl.DataFrame:
    """One raw record per offering and per reject, with a small JSON payload."""
    from_offerings = offerings.lazy().select(
        "source", "source_key", "url", "fetched_at", "run_id", "title", "description",
        "learning_outcomes", "awarding_body", "platform", "credential_type_raw",
        pl.col("subjects_raw").alias("subjects"), pl.col("subject_codes_raw").alias("subject_codes"),
        pl.col("skills_raw").alias("skills"), "level_raw", "workload_raw", "duration_raw",
        pl.format("{}", pl.col("credits")).alias("credits_raw"),
        pl.col("credit_unit").alias("credit_unit_raw"),
        pl.concat_list(pl.struct(
            text=pl.format("{} {}", pl.col("price_amount"), pl.col("price_currency")),
            amount=pl.format("{}", pl.col("price_amount")), currency=pl.col("price_currency"),
            label=pl.lit("Tuition"))).alias("prices"),
        pl.when(pl.col("is_free")).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("is_free_raw"),
        pl.col("language").alias("language_raw"), pl.col("country").alias("country_raw"),
        pl.col("modality").alias("modality_raw"), pl.col("timing").alias("timing_raw"),
        pl.col("assessment_type").alias("assessment_raw"),
        pl.col("quality_assurance").alias("quality_assurance_raw"),
        pl.col("prerequisites").alias("prerequisites_raw"),
        pl.concat_list(pl.lit("2025-09-01")).alias("start_dates_raw"),
        pl.format("{}", pl.col("rating")).alias("rating_raw"),
        pl.format("{}", pl.col("rating_count")).alias("rating_count_raw"),
        pl.format("{}", pl.col("enrolment")).alias("enrolment_raw"),
        pl.lit("open").alias("status_raw"),
        pl.lit([], pl.List(pl.String())).alias("page_defects"),
        pl.concat_str(pl.lit('{"id": "'), pl.col("source_key"), pl.lit('", "title": "'),
                      pl.col("title"), pl.lit('", "price": "'), pl.col("price_amount").cast(pl.String),
                      pl.lit(" "), pl.col("price_currency"), pl.lit('", "provider": "'),
                      pl.col("awarding_body"), pl.lit('"}')).alias("payload"),
        pl.lit(None, pl.String).alias("record_kind_raw"),
    )
    from_rejects = rejects.lazy().select(
        "source", "source_key", "run_id",
        pl.format("https://{}.example/courses/{}", pl.col("source"), pl.col("source_key")).alias("url"),
        pl.lit(fetched).alias("fetched_at"),
        pl.lit("").alias("title"),
        pl.col("payload"),
    )
    raw = pl.concat([from_offerings, from_rejects], how="diagonal_relaxed")
    return raw.select([pl.col(c).cast(t) if c in raw.collect_schema() else pl.lit(None, t).alias(c)
                       for c, t in RAW_SCHEMA.items()]).collect()


def _rejects(n: int, n_sources: int, run: int) -> pl.DataFrame:
    i = pl.col("i")
    return pl.DataFrame({"i": pl.int_range(n, eager=True)}).lazy().select(
        source=_source(i, n_sources),
        source_key=pl.format("r{}", i),
        run_id=pl.format("{}-run{}", _source(i, n_sources), pl.lit(run)),
        reason=_pick(_REASONS, i // n_sources),
        detail=pl.lit("title is empty"),
        payload=pl.concat_str(pl.lit('{"id": "r'), i.cast(pl.String), pl.lit('"}')),
    ).pipe(_select_schema, REJECT_SCHEMA).collect()


def _links_and_credentials(offerings: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Offerings 2k and 2k+1 (two different sources) are one credential."""
    with_cred = offerings.with_columns(
        credential_id=pl.format("c{}", (pl.int_range(pl.len()) // 2).cast(pl.String).str.zfill(19))
    )
    links = with_cred.select("offering_id", "credential_id", match_score=pl.lit(0.97))
    credentials = with_cred.lazy().group_by("credential_id").agg(
        pl.col("title").first(), pl.col("awarding_body").first(),
        platforms=pl.col("platform").unique().sort(),
        **{c: pl.col(c).first() for c in (
            "provider_kind", "country", "language", "credential_type", "isced_codes", "skills",
            "audience_level", "eqf_level", "workload_hours_min", "workload_hours_max",
            "duration_weeks_min", "duration_weeks_max", "ects", "modality", "timing", "is_free",
            "description")},
        price_usd_min=pl.col("price_usd").min(), price_usd_max=pl.col("price_usd").max(),
        n_offerings=pl.len().cast(pl.Int64), n_sources=pl.col("source").n_unique().cast(pl.Int64),
        sources=pl.col("source").unique().sort(),
        member_offering_ids=pl.col("offering_id").sort(),
        field_sources=pl.concat_str(pl.lit('{"title": "'), pl.col("offering_id").first(), pl.lit('"}')),
    ).pipe(_select_schema, CREDENTIAL_SCHEMA).collect()
    return links.select([pl.col(c).cast(t) for c, t in LINK_SCHEMA.items()]), credentials


def _source_runs(offerings: pl.DataFrame, rejects: pl.DataFrame, started: datetime) -> pl.DataFrame:
    counts = offerings.group_by("source", "run_id").len("offerings").join(
        rejects.group_by("source", "run_id").len("rejects"), on=["source", "run_id"], how="full",
        coalesce=True,
    ).fill_null(0)
    return counts.select(
        "source", "run_id",
        started_at=pl.lit(started), finished_at=pl.lit(started + timedelta(hours=1)),
        complete=pl.lit(True), pages=(pl.col("offerings") // 20 + 1),
        items=pl.col("offerings") + pl.col("rejects"), rejects="rejects", offerings="offerings",
    ).select([pl.col(c).cast(t) for c, t in SOURCE_RUN_SCHEMA.items()])


def synthesize(n: int, n_sources: int = 10, run: int = 1, changed: float = 0.01) -> RunInputs:
    """RunInputs of ``n`` offerings (+1% rejects) for run number ``run`` (1, 2, ...)."""
    started = T0 + timedelta(days=run - 1)
    offerings = _offerings(n, n_sources, run, changed)
    rejects = _rejects(max(1, n // 100), n_sources, run)
    raw = _raw(offerings, rejects, started)
    links, credentials = _links_and_credentials(offerings)
    subjects = pl.DataFrame(
        {"isced_code": ["06", "061", "0613", "04", "041"],
         "label": ["Information and Communication Technologies", "ICT",
                   "Software and applications development and analysis",
                   "Business, administration and law", "Business and administration"],
         "level": ["broad", "narrow", "detailed", "broad", "narrow"]},
        schema=SUBJECT_SCHEMA,
    )
    return RunInputs(
        run_started_at=started, raw=raw, offerings=offerings, rejects=rejects, links=links,
        credentials=credentials, source_runs=_source_runs(offerings, rejects, started),
        subjects=subjects,
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(label: str, work: Path, published: Path, inputs: RunInputs, fresh: bool) -> dict[str, Any]:
    cpu = _cpu_s()
    started = time.perf_counter()
    stats = build(work, None if fresh else published, inputs)
    built = time.perf_counter()
    publish(work, published)
    done = time.perf_counter()
    n = inputs.offerings.height
    total = done - started
    print(f"{label}: build {built - started:6.1f} s  publish {done - built:5.1f} s  "
          f"total {total:6.1f} s  {n / total:9.0f} offerings/s  peak RSS {_peak_rss_mb():7.0f} MiB  "
          f"file {published.stat().st_size / 2**20:7.0f} MiB  CPU {_cpu_s() - cpu:6.1f} s")
    print(f"  versions opened {stats['versions_opened']}, closed {stats['versions_closed']}, "
          f"unchanged {stats['unchanged']}, price_history written {stats['price_history_written']}, "
          f"raw inserted {stats['raw_inserted']}")
    return {"build_s": built - started, "publish_s": done - built, "total_s": total, **stats}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="offerings per run")
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--changed", type=float, default=0.01, help="share changed in run 2")
    parser.add_argument("--dir", type=Path, default=None, help="folder for the files (default: a temp dir)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work, published = Path(tmp) / "bench.work.duckdb", Path(tmp) / "bench.duckdb"
        t = time.perf_counter()
        first = synthesize(args.rows, args.sources, run=1, changed=args.changed)
        print(f"synthesized run 1: {args.rows} offerings, {first.raw.height} raw, "
              f"{first.rejects.height} rejects, {first.credentials.height} credentials "
              f"in {time.perf_counter() - t:.1f} s (peak RSS {_peak_rss_mb():.0f} MiB)")
        _run("run 1 (fresh)      ", work, published, first, fresh=True)
        del first
        t = time.perf_counter()
        second = synthesize(args.rows, args.sources, run=2, changed=args.changed)
        print(f"synthesized run 2 in {time.perf_counter() - t:.1f} s")
        _run("run 2 (incremental)", work, published, second, fresh=False)


if __name__ == "__main__":
    main()
