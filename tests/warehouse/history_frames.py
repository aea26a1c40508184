"""A small warehouse with history, for the view, history and analysts-doc tests.

Three sources; coursera c1 and edx e1 are one credential; run 2 changes the price of c1,
closes nothing else, and udemy's crawl is incomplete. Some offerings carry mapping notes
(coursera's two both quote the credential type 'Nanodiploma').
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from tests.warehouse.conftest import Warehouse
from tests.warehouse.frames import Crawl, content_hash, make_run, subjects_frame
from warehouse.load import RunInputs

T1 = datetime(2025, 3, 1, tzinfo=UTC)
T2 = T1 + timedelta(days=1)

SKILL_SQL = "http://data.europa.eu/esco/skill/sql"
NANODIPLOMA = "credential_type: unmapped 'Nanodiploma'"


def with_price(run: RunInputs, source_key: str, price: float) -> RunInputs:
    """The run with one offering's price (and so its content hash) changed."""
    hit = pl.col("source_key") == source_key
    offerings = run.offerings.with_columns(
        price_amount=pl.when(hit).then(price).otherwise(pl.col("price_amount")),
        price_usd=pl.when(hit).then(price).otherwise(pl.col("price_usd")),
        content_hash=pl.when(hit).then(pl.lit(content_hash("priced", str(price))))
        .otherwise(pl.col("content_hash")),
    )
    return RunInputs(**{**run.__dict__, "offerings": offerings})


def with_second_skill(run: RunInputs, source_key: str) -> RunInputs:
    hit = pl.col("source_key") == source_key
    offerings = run.offerings.with_columns(
        skills=pl.when(hit).then(pl.col("skills").list.concat(pl.lit([SKILL_SQL])))
        .otherwise(pl.col("skills")),
        skill_scores=pl.when(hit).then(pl.col("skill_scores").list.concat(pl.lit([0.88])))
        .otherwise(pl.col("skill_scores")),
        is_free=pl.when(hit).then(True).otherwise(pl.col("is_free")),
    )
    return RunInputs(**{**run.__dict__, "offerings": offerings})


def crawls(run_id: str) -> dict[str, Crawl]:
    return {
        "coursera": Crawl(f"c{run_id}", titles={"c1": "Python", "c2": "SQL"}, rejected=["cx"],
                          notes={"c1": [NANODIPLOMA, "record_kind: not stated; learning_opportunity assumed"],
                                 "c2": [NANODIPLOMA, "isced_codes: unmapped subject 'Basket Weaving'"]}),
        "edx": Crawl(f"e{run_id}", titles={"e1": "Python for Everybody", "e2": "Cloud"},
                     credential_of={"e1": "cred-c1"}, notes={"e2": ["language: unmapped 'Klingonese'"]}),
        "udemy": Crawl(f"u{run_id}", complete=False, titles={"u1": "Excel"}, rejected=["ux"]),
    }


def load_history(warehouse: Warehouse) -> None:
    """Two runs: the second changes the price of coursera c1."""
    warehouse.load(with_second_skill(make_run(T1, crawls("1"), subjects_frame()), "c2"))
    warehouse.load(with_price(with_second_skill(make_run(T2, crawls("2")), "c2"), "c1", 79.0))
