"""Hand-written raw records for the normalize tests (no real catalog data)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from normalize.schema import RAW_SCHEMA
from normalize.transforms import NormalizeResult, normalize

FETCHED = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


def raw_row(**fields: Any) -> dict[str, Any]:
    """A minimal valid raw record; keyword arguments override or add fields."""
    row: dict[str, Any] = {
        "source": "acme_mooc",
        "source_key": "course-1",
        "fetched_at": FETCHED,
        "run_id": "run-1",
        "title": "Introduction to Widgets",
        "payload": '{"id": "course-1"}',
    }
    row.update(fields)
    return row


def raw_frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=RAW_SCHEMA)


def run(*rows: dict[str, Any], **kwargs: Any) -> NormalizeResult:
    return normalize(raw_frame(*rows).lazy(), **kwargs)


def one(**fields: Any) -> dict[str, Any]:
    """Normalize a single record that must become an offering; return it as a dict."""
    result = run(raw_row(**fields))
    assert result.rejects.height == 0, result.rejects.to_dicts()
    assert result.offerings.height == 1
    return result.offerings.row(0, named=True)


def notes_for(offering: dict[str, Any], field: str) -> list[str]:
    return [n for n in offering["mapping_notes"] if n.startswith(f"{field}:")]
