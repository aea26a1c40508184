"""The ranked list of unmapped raw values per source."""

from __future__ import annotations

import polars as pl

from normalize.unmapped import UNMAPPED_SCHEMA, unmapped_values


def _offerings() -> pl.DataFrame:
    return pl.DataFrame({
        "source": ["a", "a", "a", "b"],
        "offering_id": ["1", "2", "3", "4"],
        "mapping_notes": [
            ["isced_codes: unmapped subject 'Musical Instruments'", "record_kind: not stated; learning_opportunity assumed"],
            ["isced_codes: unmapped subject 'Musical Instruments'", "prices: unknown currency in '200'"],
            [],
            ["credential_type: unmapped 'Nanodiploma'", "isced_codes: unmapped subject 'Musical Instruments'"],
        ],
    })


def test_ranked_per_source_with_counts_and_shares() -> None:
    out = unmapped_values(_offerings())
    assert out.schema == UNMAPPED_SCHEMA
    rows = out.rows(named=True)
    assert rows[0] == {"source": "a", "field": "isced_codes", "reason": "unmapped subject", "value": "Musical Instruments",
                       "offerings": 2, "share": round(2 / 3, 4), "rank": 1}
    assert [(r["source"], r["field"], r["value"], r["rank"]) for r in rows[1:]] == [
        ("a", "prices", "200", 2), ("b", "credential_type", "Nanodiploma", 1), ("b", "isced_codes", "Musical Instruments", 2)]
    # notes quoting no value name nothing a curator could add
    assert "record_kind" not in set(out["field"])


def test_top_n_and_empty_input() -> None:
    assert unmapped_values(_offerings(), top=1)["rank"].to_list() == [1, 1]
    empty = unmapped_values(_offerings().head(0))
    assert empty.height == 0 and empty.schema == UNMAPPED_SCHEMA
