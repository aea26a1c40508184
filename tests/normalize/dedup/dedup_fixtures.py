"""Helpers for the dedup tests: schema-complete offering frames and a synthetic catalog.

Named ``dedup_fixtures`` (not ``helpers``) so it cannot collide with another test folder's
module of the same basename under pytest's default import mode.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import polars as pl

from normalize.schema import OFFERING_SCHEMA, offering_id

FETCHED_AT = datetime(2026, 1, 1, tzinfo=UTC)

_DEFAULTS: dict[str, Any] = {
    "run_id": "test-run",
    "fetched_at": FETCHED_AT,
    "record_kind": "credential",
    "status": "active",
    "is_test": False,
    "ects_derived": False,
    "content_hash": "hash",
    "eu_completeness": 0.5,
}


def offering(**fields: Any) -> dict[str, Any]:
    """One offering row with every OFFERING_SCHEMA column: given values, else defaults/nulls."""
    row: dict[str, Any] = {}
    for name, dtype in OFFERING_SCHEMA.items():
        if name in fields:
            row[name] = fields[name]
        elif name in _DEFAULTS:
            row[name] = _DEFAULTS[name]
        elif isinstance(dtype, pl.List):
            row[name] = []
        else:
            row[name] = None
    unknown = set(fields) - set(OFFERING_SCHEMA)
    if unknown:
        raise KeyError(f"not offering columns: {sorted(unknown)}")
    row["source"] = row["source"] or "src"
    row["source_key"] = row["source_key"] or f"k-{row['title']}"
    row["offering_id"] = row["offering_id"] or offering_id(row["source"], row["source_key"])
    return row


def offerings(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """A frame of offerings with exactly OFFERING_SCHEMA."""
    return pl.DataFrame([offering(**r) for r in rows], schema=OFFERING_SCHEMA)


# --- synthetic catalog -------------------------------------------------------------------------

_TOPICS = [
    "Machine Learning", "Data Science", "Python Programming", "Project Management", "Digital Marketing",
    "Cloud Computing", "Cybersecurity", "Public Health", "Financial Accounting", "Supply Chain Management",
    "Deep Learning", "Web Development", "Data Visualization", "Business Analytics", "Climate Change",
    "Software Testing", "Network Security", "Corporate Finance", "Instructional Design", "Robotics",
]
_QUALIFIERS = ["", "", "Introduction to ", "Foundations of ", "Applied ", "Advanced ", "Practical "]
_SOURCES = ["alpha_api", "beta_feed", "gamma_csv", "delta_registry", "epsilon_pages"]
_LANGS = ["en", "en", "en", "de", "fr", "es"]
_TYPES = ["MicroCredential", "ProfessionalCertificate", "Certificate", "Course", "Certification"]


def _variant(rng: random.Random, title: str, org: str, ctype: str) -> str:
    roll = rng.random()
    if roll < 0.4:
        return title
    if roll < 0.55:
        return f"{org}: {title}"
    if roll < 0.7:
        return f"{title} {'Specialization' if ctype == 'MicroCredential' else 'Professional Certificate'}"
    if roll < 0.8:
        return title.upper()
    if roll < 0.9:
        return f"{title} (Online)"
    return title.replace(" and ", " & ") + ":  Essentials"


def synthetic_catalog(n_offerings: int, seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    """About ``n_offerings`` offerings of credentials listed on 1-3 sources each.

    Titles repeat across organizations on purpose (a few hundred topic titles shared by
    thousands of bodies), which is what makes naive blocking explode. Returns
    (offerings, truth[offering_id, truth_key]).
    """
    rng = random.Random(seed)
    n_orgs = max(5, n_offerings // 40)
    orgs = [f"Org {i} University" for i in range(n_orgs)]
    rows: list[dict[str, Any]] = []
    truth: list[tuple[str, str]] = []
    cred = 0
    while len(rows) < n_offerings:
        cred += 1
        org = rng.choice(orgs)
        title = rng.choice(_QUALIFIERS) + rng.choice(_TOPICS) + (f" {rng.randint(1, 400)}" if rng.random() < 0.7 else "")
        ctype = rng.choice(_TYPES)
        lang = rng.choice(_LANGS)
        hours = float(rng.choice([10, 20, 40, 80, 120]))
        weeks = float(rng.choice([4, 6, 8, 12]))
        price = float(rng.choice([0, 49, 99, 199, 450]))
        n_listings = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
        for source in rng.sample(_SOURCES, n_listings):
            key = f"{cred}-{source}"
            row = offering(
                source=source,
                source_key=key,
                title=_variant(rng, title, org, ctype),
                awarding_body=org,
                platform=None if source == "epsilon_pages" else source.split("_")[0].title(),
                language=lang,
                credential_type=ctype,
                workload_hours_min=hours,
                workload_hours_max=hours,
                duration_weeks_min=weeks,
                duration_weeks_max=weeks,
                price_usd=price,
                url=f"https://{source}.example.org/c/{key}",
                description=f"{title} from {org}: learn {title.lower()} in {int(weeks)} weeks.",
            )
            rows.append(row)
            truth.append((row["offering_id"], f"t{cred}"))
    frame = pl.DataFrame(rows[:n_offerings], schema=OFFERING_SCHEMA)
    truth_frame = pl.DataFrame(truth[:n_offerings], schema={"offering_id": pl.String, "truth_key": pl.String}, orient="row")
    return frame, truth_frame
