"""Offerings shaped like the demo catalog's, straight from its universe (no crawl, no normalize).

The demo generator (scrapers/mirror/universe.py) decides which listings are one credential
and how each source varies the title, price and currency. Here its listings become Offering
rows the way normalization is expected to map them, with the dirt a real mapping leaves:
awarding bodies named by alias on platforms, some nulls, workload and duration given in
different units. It lets dedup be tuned and regression-tested against the demo's truth
before the crawl and normalization exist. Returns None when the universe is not importable.

Shared by the dedup tests (tests/normalize/dedup/demo_like.py re-exports it) and the
benchmark (normalize/dedup/bench.py, which runs it at scale 45 / 450 for 100k / 1M rows).
Rows are built column-wise and turned into a DataFrame every 50,000 listings, so the Python
objects of a million rows are never held at once (1M: peak RSS 4.2 GB, 8.8 GB before).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from normalize.schema import OFFERING_SCHEMA, offering_id

_FX_TO_USD = {"USD": 1.0, "EUR": 1 / 0.92, "GBP": 1 / 0.79}
_PLATFORM_OF_SOURCE = {
    "opencourse_api": "OpenCourse",
    "skillmarket_api": "SkillMarket",
    "learnwave_feed": "LearnWave",
    "coursehub_csv": "CourseHub",
    "credential_registry": "Credential Registry",
}


CHUNK_ROWS = 50_000


def demo_offerings(seed: int = 7, scale: float = 1.0) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """(offerings, truth[offering_id, truth_key]) shaped like the demo catalog, or None."""
    try:
        from scrapers.mirror.universe import build_universe
    except Exception:  # the generator is someone else's work in progress
        return None
    universe = build_universe(seed=seed, scale=scale)
    rng = random.Random(seed)
    base_time = datetime(2026, 11, 1, tzinfo=UTC)
    cols: dict[str, list[Any]] = {name: [] for name in OFFERING_SCHEMA}
    truth: list[str] = []
    # Rows become a DataFrame every CHUNK_ROWS listings: a million rows of Python objects held
    # at once (about fifty per row) cost gigabytes on top of the universe itself.
    chunks: list[pl.DataFrame] = []

    def flush() -> None:
        chunks.append(pl.DataFrame(cols, schema=OFFERING_SCHEMA).with_columns(truth_key=pl.Series(truth, dtype=pl.String)))
        for column in cols.values():
            column.clear()
        truth.clear()

    for source, listings in universe.listings.items():
        platform = _PLATFORM_OF_SOURCE.get(source)
        for i, listing in enumerate(listings):
            c = listing.credential
            key = f"{source}-{i}"
            body = c.org.name
            if platform and c.org.aliases and rng.random() < 0.25:
                body = rng.choice(c.org.aliases)
            if rng.random() < 0.05:
                body = None
            hpw = c.hours_per_week
            workload = (float(hpw[0] * c.weeks), float(hpw[1] * c.weeks)) if rng.random() < 0.7 else (None, None)
            weeks = float(c.weeks) if rng.random() < 0.6 else (round(c.weeks / 4.345) * 4.345 if rng.random() < 0.5 else None)
            # Normalization converts with its own dated rate table, not the generator's rates.
            fx_noise = 1.0 if listing.currency == "USD" else rng.uniform(0.95, 1.05)
            price_usd = round(listing.price * _FX_TO_USD[listing.currency] * fx_noise, 2) if rng.random() < 0.9 else None
            ctype = None if c.credential_type == "Course" else c.credential_type
            if rng.random() < 0.1:
                ctype = None
            values = dict(
                offering_id=offering_id(source, key),
                source=source,
                source_key=key,
                url=f"http://127.0.0.1:8000/{source}/item/{i}",
                run_id="demo",
                fetched_at=base_time + timedelta(minutes=rng.randint(0, 600)),
                record_kind="learning_opportunity" if c.credential_type == "Course" else "credential",
                title=listing.title,
                description=listing.description,
                learning_outcomes=c.outcomes,
                awarding_body=body,
                platform=platform,
                provider_kind=c.org.kind,
                country=c.org.country,
                language=c.language if rng.random() < 0.9 else None,
                credential_type=ctype,
                credential_type_raw=c.type_label,
                isced_codes=[c.isced],
                subjects_raw=[c.subject_name],
                subject_codes_raw=[],
                skills=[],
                skills_raw=c.skills,
                audience_level=c.audience_level,
                eqf_level=c.eqf_level,
                workload_hours_min=workload[0],
                workload_hours_max=workload[1],
                duration_weeks_min=weeks,
                duration_weeks_max=weeks,
                ects=c.credits_ects,
                ects_derived=False,
                modality=c.modality,
                timing=c.timing,
                prices=[],
                price_amount=listing.price,
                price_currency=listing.currency,
                price_usd=price_usd,
                is_free=listing.price == 0,
                free_to_audit=c.free_to_audit,
                start_dates=[],
                mapping_notes=[],
                status="test" if listing.is_test else "active",
                is_test=listing.is_test,
                content_hash="demo",
                eu_completeness=0.6,
            )
            for name, column in cols.items():
                column.append(values.get(name))
            # A test record borrows a real credential's fields but is its own thing.
            truth.append(f"test-{key}" if listing.is_test else c.key)
            if len(truth) >= CHUNK_ROWS:
                flush()
    flush()
    frame = pl.concat(chunks, rechunk=True)
    chunks.clear()
    truth_frame = frame.select("offering_id", "truth_key")
    return frame.drop("truth_key"), truth_frame
