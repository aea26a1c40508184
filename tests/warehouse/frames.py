"""Valid frames of every schema the warehouse loads, every column filled, for tests.

``make_run`` turns a compact description of a run into RunInputs:

    make_run(T1, {"coursera": Crawl("r1", complete=True, titles={"c1": "Python", "c2": "SQL"})})

One raw record per offering (plus one per reject), one link per offering, one credential per
offering (credential_id = "cred-<source_key>" unless ``credential_of`` says otherwise).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from normalize.schema import (
    CREDENTIAL_SCHEMA,
    LINK_SCHEMA,
    OFFERING_SCHEMA,
    RAW_SCHEMA,
    REJECT_SCHEMA,
    offering_id,
)
from warehouse.ddl import SOURCE_RUN_SCHEMA, SUBJECT_SCHEMA
from warehouse.load import RunInputs


def frame(rows: list[dict[str, Any]], schema: pl.Schema) -> pl.DataFrame:
    """A frame of exactly ``schema`` (checks that every row fills every column)."""
    for row in rows:
        missing = set(schema.names()) - set(row)
        assert not missing, f"builder row misses {missing}"
    return pl.DataFrame(rows, schema=schema)


def content_hash(title: str, description: str) -> str:
    return hashlib.sha256(f"{title}\x1f{description}".encode()).hexdigest()[:32]


def raw_row(source: str, source_key: str, run_id: str, fetched_at: datetime, title: str) -> dict[str, Any]:
    return {
        "source": source, "source_key": source_key, "url": f"https://{source}.example/{source_key}",
        "fetched_at": fetched_at, "run_id": run_id, "record_kind_raw": "course", "title": title,
        "description": f"<p>About {title}</p>", "learning_outcomes": [f"Use {title}"],
        "awarding_body": "Example University", "platform": source.title(),
        "credential_type_raw": "Professional Certificate", "subjects": ["Computing"],
        "subject_codes": ["11.0101"], "skills": ["python"], "level_raw": "Beginner",
        "workload_raw": "3-5 hours/week", "duration_raw": "4 weeks", "credits_raw": "2",
        "credit_unit_raw": "ECTS",
        "prices": [{"text": "49 USD", "amount": "49", "currency": "USD", "label": "Tuition"}],
        "is_free_raw": "no", "language_raw": "English", "country_raw": "Germany",
        "modality_raw": "online", "timing_raw": "self-paced", "assessment_raw": "quiz",
        "quality_assurance_raw": "accredited", "prerequisites_raw": "none",
        "start_dates_raw": ["2025-01-06"], "rating_raw": "4.5", "rating_count_raw": "120",
        "enrolment_raw": "3000", "status_raw": "open", "page_defects": [],
        "payload": json.dumps({"id": source_key, "title": title}),
    }


def offering_row(source: str, source_key: str, run_id: str, fetched_at: datetime, title: str,
                 **overrides: Any) -> dict[str, Any]:
    description = overrides.pop("description", f"About {title}")
    row = {
        "offering_id": offering_id(source, source_key), "source": source, "source_key": source_key,
        "url": f"https://{source}.example/{source_key}", "run_id": run_id, "fetched_at": fetched_at,
        "record_kind": "credential", "title": title, "description": description,
        "learning_outcomes": [f"Use {title}"], "awarding_body": "Example University",
        "platform": source.title(), "provider_kind": "university", "country": "DE", "language": "en",
        "credential_type": "ProfessionalCertificate", "credential_type_raw": "Professional Certificate",
        "isced_codes": ["0613"], "isced_confidence": [0.85], "subjects_raw": ["Computing"], "subject_codes_raw": ["11.0101"],
        "skills": ["http://data.europa.eu/esco/skill/python"], "skill_scores": [0.92], "skills_raw": ["python"],
        "audience_level": "BeginnerLevel", "level_raw": "Beginner", "eqf_level": 5,
        "workload_hours_min": 12.0, "workload_hours_max": 20.0, "workload_raw": "3-5 hours/week",
        "duration_weeks_min": 4.0, "duration_weeks_max": 4.0, "duration_raw": "4 weeks",
        "credits": 2.0, "credit_unit": "ECTS", "ects": 2.0, "ects_derived": False,
        "modality": "OnlineOnly", "timing": "self-paced",
        "prices": [{"amount": 49.0, "currency": "USD", "cost_type": "Tuition"}],
        "price_amount": 49.0, "price_currency": "USD", "price_usd": 49.0, "is_free": False,
        "free_to_audit": True, "assessment_type": "quiz", "quality_assurance": "accredited",
        "prerequisites": "none", "start_dates": [date(2025, 1, 6)], "rating": 4.5,
        "rating_count": 120, "enrolment": 3000, "status": "active", "is_test": False,
        "content_hash": content_hash(title, description), "eu_completeness": 1.0,
        "mapping_notes": [],
    }
    row.update(overrides)
    return row


def reject_row(source: str, source_key: str | None, run_id: str, reason: str = "missing_title") -> dict[str, Any]:
    return {"source": source, "source_key": source_key, "run_id": run_id, "reason": reason,
            "detail": "title is empty", "payload": json.dumps({"id": source_key})}


def credential_row(credential_id: str, offerings: list[dict[str, Any]]) -> dict[str, Any]:
    first = offerings[0]
    return {
        "credential_id": credential_id, "title": first["title"], "awarding_body": first["awarding_body"],
        "platforms": sorted({o["platform"] for o in offerings}), "provider_kind": first["provider_kind"],
        "country": first["country"], "language": first["language"],
        "credential_type": first["credential_type"], "isced_codes": first["isced_codes"],
        "skills": first["skills"], "audience_level": first["audience_level"],
        "eqf_level": first["eqf_level"], "workload_hours_min": first["workload_hours_min"],
        "workload_hours_max": first["workload_hours_max"],
        "duration_weeks_min": first["duration_weeks_min"], "duration_weeks_max": first["duration_weeks_max"],
        "ects": first["ects"], "modality": first["modality"], "timing": first["timing"],
        "price_usd_min": min(o["price_usd"] for o in offerings),
        "price_usd_max": max(o["price_usd"] for o in offerings), "is_free": first["is_free"],
        "description": first["description"], "n_offerings": len(offerings),
        "n_sources": len({o["source"] for o in offerings}),
        "sources": sorted({o["source"] for o in offerings}),
        "member_offering_ids": sorted(o["offering_id"] for o in offerings),
        "field_sources": json.dumps({"title": first["offering_id"]}),
    }


@dataclass
class Crawl:
    """One source's run: its offerings (source_key -> title), rejects and completeness;
    ``notes`` gives an offering's mapping_notes (source_key -> notes; none by default)."""

    run_id: str
    complete: bool = True
    titles: dict[str, str] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    credential_of: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)


def make_run(run_started_at: datetime, crawls: dict[str, Crawl],
             subjects: pl.DataFrame | None = None) -> RunInputs:
    raws, offerings, rejects, runs = [], [], [], []
    for source, crawl in crawls.items():
        fetched_at = run_started_at + timedelta(minutes=1)
        source_offerings = [offering_row(source, key, crawl.run_id, fetched_at, title,
                                         mapping_notes=crawl.notes.get(key, []))
                            for key, title in crawl.titles.items()]
        offerings += source_offerings
        raws += [raw_row(source, key, crawl.run_id, fetched_at, title) for key, title in crawl.titles.items()]
        raws += [raw_row(source, key, crawl.run_id, fetched_at, "") for key in crawl.rejected]
        rejects += [reject_row(source, key, crawl.run_id) for key in crawl.rejected]
        runs.append({
            "source": source, "run_id": crawl.run_id, "started_at": run_started_at,
            "finished_at": run_started_at + timedelta(minutes=5), "complete": crawl.complete,
            "pages": 3, "items": len(crawl.titles) + len(crawl.rejected),
            "rejects": len(crawl.rejected), "offerings": len(crawl.titles),
        })
    links, members = [], {}
    for o in offerings:
        crawl = crawls[o["source"]]
        credential_id = crawl.credential_of.get(o["source_key"], f"cred-{o['source_key']}")
        links.append({"offering_id": o["offering_id"], "credential_id": credential_id, "match_score": 1.0})
        members.setdefault(credential_id, []).append(o)
    credentials = [credential_row(cid, offs) for cid, offs in members.items()]
    return RunInputs(
        run_started_at=run_started_at,
        raw=frame(raws, RAW_SCHEMA),
        offerings=frame(offerings, OFFERING_SCHEMA),
        rejects=frame(rejects, REJECT_SCHEMA),
        links=frame(links, LINK_SCHEMA),
        credentials=frame(credentials, CREDENTIAL_SCHEMA),
        source_runs=frame(runs, SOURCE_RUN_SCHEMA),
        subjects=subjects,
    )


def subjects_frame() -> pl.DataFrame:
    return frame(
        [{"isced_code": "06", "label": "Information and Communication Technologies", "level": "broad"},
         {"isced_code": "0613", "label": "Software and applications development and analysis",
          "level": "detailed"}],
        SUBJECT_SCHEMA,
    )
