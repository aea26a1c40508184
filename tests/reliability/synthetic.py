"""Synthetic run inputs for the warehouse, built from the schemas alone.

Every column of every input schema gets a plain value of its type, so the frames follow the
schemas as they are today (a column added to ``normalize.schema`` is filled without a change
here); the keys, titles and content hashes vary with the run, so history has something to do:
each run re-lists the same offerings and changes the content of one in ten.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from normalize.schema import (
    CREDENTIAL_SCHEMA,
    JSON_FIELDS,
    LINK_SCHEMA,
    OFFERING_SCHEMA,
    RAW_SCHEMA,
    REJECT_SCHEMA,
    offering_id,
)
from warehouse.ddl import SOURCE_RUN_SCHEMA
from warehouse.load import RunInputs

T0 = datetime(2027, 1, 1, tzinfo=UTC)
SOURCES = ("src_a", "src_b", "src_c")


def _default(name: str, dtype: pl.DataType, n: int, when: datetime) -> pl.Series:
    if name in JSON_FIELDS:
        return pl.Series(name, ["{}"] * n, dtype=dtype)
    if isinstance(dtype, pl.List):
        return pl.Series(name, [[] for _ in range(n)], dtype=dtype)
    if dtype == pl.Boolean:
        return pl.Series(name, [False] * n, dtype=dtype)
    if isinstance(dtype, pl.Datetime):
        return pl.Series(name, [when] * n, dtype=dtype)
    return pl.Series(name, [None] * n, dtype=dtype)


def fill(schema: pl.Schema, n: int, when: datetime, **columns: list[Any]) -> pl.DataFrame:
    """A frame of ``n`` rows with exactly ``schema``: ``columns`` given, the others defaulted."""
    unknown = set(columns) - set(schema.names())
    if unknown:
        raise KeyError(f"not in the schema: {sorted(unknown)}")
    return pl.DataFrame([pl.Series(c, columns[c], dtype=t) if c in columns else _default(c, t, n, when)
                         for c, t in schema.items()])


def run_inputs(n: int, run: int, sources: tuple[str, ...] = SOURCES, complete: bool = True) -> RunInputs:
    """Run number ``run`` (1, 2 ...) listing ``n`` offerings across ``sources`` (+1% rejects)."""
    started = T0 + timedelta(days=run)
    src = [sources[i % len(sources)] for i in range(n)]
    keys = [f"k{i}" for i in range(n)]
    run_ids = [f"{s}-run{run}" for s in src]
    ids = [offering_id(s, k) for s, k in zip(src, keys, strict=True)]
    titles = [f"Course {i}" + (f" (rev {run})" if i % 10 == 0 else "") for i in range(n)]
    offerings = fill(OFFERING_SCHEMA, n, started, offering_id=ids, source=src, source_key=keys, run_id=run_ids,
                     title=titles, record_kind=["credential"] * n,
                     content_hash=[f"h{i}-{run if i % 10 == 0 else 0}" for i in range(n)],
                     is_test=[False] * n, price_amount=[float(i % 40) for i in range(n)])
    n_bad = max(1, n // 100)
    bad_src = [sources[i % len(sources)] for i in range(n_bad)]
    rejects = fill(REJECT_SCHEMA, n_bad, started, source=bad_src, source_key=[f"bad{i}" for i in range(n_bad)],
                   run_id=[f"{s}-run{run}" for s in bad_src], reason=["missing_title"] * n_bad,
                   payload=["{}"] * n_bad)
    raw = fill(RAW_SCHEMA, n + n_bad, started, source=src + bad_src,
               source_key=keys + [f"bad{i}" for i in range(n_bad)],
               run_id=run_ids + [f"{s}-run{run}" for s in bad_src], title=titles + [None] * n_bad,
               payload=["{}"] * (n + n_bad))
    cred_ids = [f"cred{i // 2}" for i in range(n)]
    links = fill(LINK_SCHEMA, n, started, offering_id=ids, credential_id=cred_ids, match_score=[1.0] * n)
    unique = sorted(set(cred_ids))
    credentials = fill(CREDENTIAL_SCHEMA, len(unique), started, credential_id=unique,
                       title=[f"Credential {c}" for c in unique])
    runs = fill(SOURCE_RUN_SCHEMA, len(sources), started, source=list(sources),
                run_id=[f"{s}-run{run}" for s in sources], complete=[complete] * len(sources),
                started_at=[started] * len(sources), finished_at=[started + timedelta(hours=1)] * len(sources),
                pages=[1] * len(sources), items=[src.count(s) + bad_src.count(s) for s in sources],
                rejects=[bad_src.count(s) for s in sources], offerings=[src.count(s) for s in sources])
    return RunInputs(run_started_at=started + timedelta(hours=2), raw=raw, offerings=offerings, rejects=rejects,
                     links=links, credentials=credentials, source_runs=runs)
