"""The marts refreshed in place (only the changed offerings' rows) equal a rebuild, run after run.

Random histories over a few sources: offerings change content, awarding body (spelling
variants of one name too), platform, subjects, skills, country; move between credentials;
disappear from complete crawls, stay in incomplete ones; move to a new URL; sources skip runs;
golden records change without any offering moving, and some credentials have none. After every load the published marts are compared with
the marts ``_rebuild_marts`` derives from the same versions and links.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tests.warehouse.conftest import Warehouse, assert_same_contents, table_contents
from tests.warehouse.frames import Crawl, make_run
from warehouse import load as load_module
from warehouse.ddl import TABLES
from warehouse.load import RunInputs, connect_writable

T0 = datetime.fromisoformat("2027-03-01T00:00:00+00:00")
BODIES = ["Example University", "example university ", "Northfield Institute", "Acme Academy", None]
PLATFORMS = ["Coursera", "edX", "Lakeside Online", None]
CODES = ["0613", "0411", "0913", "0714", "06"]
SKILLS = [f"http://data.europa.eu/esco/skill/s{i}" for i in range(6)]
MARTS = [f"{t.layer}.{t.name}" for t in TABLES if t.layer == "marts" and t.name not in ("offering_versions", "price_history")]


def _attributes(rng: random.Random) -> dict:
    return {"awarding_body": rng.choice(BODIES), "platform": rng.choice(PLATFORMS),
            "isced_codes": rng.sample(CODES, rng.randint(0, 2)), "skills": rng.sample(SKILLS, rng.randint(0, 3)),
            "country": rng.choice(["DE", "US", None]), "provider_kind": rng.choice(["university", "company"])}


def _history(seed: int, runs: int):
    """Run inputs, one per run, for a random history of 3 sources and ~40 offerings each."""
    rng = random.Random(seed)
    sources = {f"src{i}": {f"k{j}": (f"Course {i}-{j}", _attributes(rng), f"cred-{rng.randint(0, 25)}")
                           for j in range(rng.randint(30, 45))} for i in range(3)}
    gold_title: dict[str, str] = {}
    for run in range(runs):
        crawls, extra = {}, {}
        for source, offerings in sources.items():
            if run and rng.random() < 0.15:
                continue  # the source did not run
            for key in list(offerings):
                title, attrs, cred = offerings[key]
                roll = rng.random()
                if roll < 0.08:
                    offerings[key] = (title + " (revised)", attrs, cred)
                elif roll < 0.16:
                    offerings[key] = (title, _attributes(rng), cred)
                elif roll < 0.22:
                    offerings[key] = (title, attrs, f"cred-{rng.randint(0, 25)}")
                elif roll < 0.25:
                    del offerings[key]
            for n in range(rng.randint(0, 3)):
                offerings[f"new{run}-{n}"] = (f"New {source} {run}-{n}", _attributes(rng), f"cred-{rng.randint(0, 25)}")
            listed = {k: v for k, v in offerings.items() if rng.random() > 0.03}  # a few not seen this time
            crawls[source] = Crawl(f"{source}-r{run}", complete=rng.random() > 0.2,
                                   titles={k: v[0] for k, v in listed.items()},
                                   credential_of={k: v[2] for k, v in listed.items()},
                                   rejected=[f"bad{run}"] if rng.random() < 0.3 else [])
            extra.update({(source, k): v[1] for k, v in listed.items()})
        if not crawls:
            continue
        inputs = make_run(T0 + timedelta(days=run), crawls)
        attrs = pl.DataFrame([{"source": s, "source_key": k, **a} for (s, k), a in extra.items()],
                             schema={"source": pl.String, "source_key": pl.String, **{
                                 c: inputs.offerings.schema[c] for c in _attributes(rng)}})
        offerings = inputs.offerings.drop(list(_attributes(rng))).join(attrs, on=["source", "source_key"], how="left")
        # A new URL alone is provenance, refreshed in place (no new version).
        offerings = offerings.with_columns(url=pl.when(pl.int_range(pl.len()).shuffle(seed=seed + run) < 3)
                                           .then(pl.col("url") + f"?moved={run}").otherwise(pl.col("url")))
        offerings = offerings.with_columns(content_hash=pl.struct(pl.exclude(
            "run_id", "fetched_at", "url", "content_hash", "offering_id")).map_elements(
            lambda r: hashlib.sha256(repr(sorted(r.items())).encode()).hexdigest()[:32], return_dtype=pl.String))
        for cid in inputs.credentials["credential_id"]:  # golden titles change now and then on their own
            if cid not in gold_title or rng.random() < 0.1:
                gold_title[cid] = f"Gold {cid} {run}"
        credentials = inputs.credentials.with_columns(
            title=pl.col("credential_id").replace_strict(gold_title, return_dtype=pl.String))
        # Credentials 20-25 never get a golden record (links may name a credential the
        # resolver did not build, e.g. one kept from an earlier run).
        credentials = credentials.filter(~pl.col("credential_id").is_in([f"cred-{i}" for i in range(20, 26)]))
        yield RunInputs(**{**inputs.__dict__, "offerings": offerings.select(inputs.offerings.columns),
                           "credentials": credentials})


def _rebuilt_marts(published: Path, tmp: Path, run_time: datetime) -> dict[str, pl.DataFrame]:
    copy = tmp / "rebuild.duckdb"
    shutil.copyfile(published, copy)
    con = connect_writable(copy)
    try:
        con.begin()
        load_module._rebuild_marts(con, run_time, False)
        load_module._rebuild_unmapped_values(con)
        contents = table_contents(con)
        con.rollback()
    finally:
        con.close()
    return {k: contents[k] for k in MARTS}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_refreshed_marts_equal_a_rebuild_after_every_run(tmp_path: Path, monkeypatch, seed: int) -> None:
    monkeypatch.setattr(load_module, "INCREMENTAL_MARTS_MAX_SHARE", 1.0)
    warehouse = Warehouse(tmp_path)
    hows = []
    for inputs in _history(seed, runs=8):
        stats = warehouse.load(inputs)
        hows.append(stats["marts"])
        published = warehouse.contents()
        assert_same_contents(_rebuilt_marts(warehouse.published, tmp_path, inputs.run_started_at),
                             {k: published[k] for k in MARTS})
    assert hows[0] == "rebuilt" and hows[1:].count("refreshed") == len(hows) - 1


def test_marts_are_rebuilt_when_many_offerings_changed_or_the_derivation_changed(tmp_path: Path, monkeypatch) -> None:
    warehouse = Warehouse(tmp_path)
    titles = {f"c{i}": f"Course {i}" for i in range(20)}
    warehouse.load(make_run(T0, {"src": Crawl("r1", titles=titles)}))
    one_changed = {**titles, "c0": "Course 0 (new)"}
    assert warehouse.load(make_run(T0 + timedelta(days=1), {"src": Crawl("r2", titles=one_changed)}))["marts"] == "refreshed"
    all_changed = {k: v + " (new)" for k, v in titles.items()}
    assert warehouse.load(make_run(T0 + timedelta(days=2), {"src": Crawl("r3", titles=all_changed)}))["marts"] == "rebuilt"
    monkeypatch.setattr(load_module, "MARTS_DERIVATION", load_module.MARTS_DERIVATION + 1)
    stats = warehouse.load(make_run(T0 + timedelta(days=3), {"src": Crawl("r4", titles=all_changed)}))
    assert stats["marts"] == "rebuilt"
    state = warehouse.query("SELECT derivation, how, offerings_refreshed FROM ops.marts_state")
    assert state.rows() == [(load_module.MARTS_DERIVATION, "rebuilt", 20)]


def test_refresh_recomputes_only_the_providers_whose_roles_changed(tmp_path: Path, monkeypatch) -> None:
    """A changed title leaves every provider role as it was: no dim_provider row is recomputed
    (a platform listing most offerings is not recounted). An offering moving to another
    credential changes its roles: its awarding body and platform are recomputed, and
    dim_provider still equals a rebuild."""
    recomputed: list[set[str]] = []
    original = load_module._insert_dim_provider

    def spy(con, provider_ids):
        if provider_ids is not None:
            recomputed.append({r[0] for r in con.execute(f"SELECT provider_id FROM {provider_ids}").fetchall()})
        return original(con, provider_ids)

    monkeypatch.setattr(load_module, "_insert_dim_provider", spy)
    warehouse = Warehouse(tmp_path)
    titles = {f"c{i}": f"Course {i}" for i in range(20)}
    creds = {k: f"cred-{i % 5}" for i, k in enumerate(titles)}
    warehouse.load(make_run(T0, {"src": Crawl("r1", titles=titles, credential_of=creds)}))
    day = 1
    for new_titles, new_creds, expect in [
        ({**titles, "c0": "Course 0 (new)"}, creds, 0),           # content only: no role changed
        ({**titles, "c0": "Course 0 (new)"}, {**creds, "c1": "cred-4"}, 2),  # c1 moves: body + platform
    ]:
        inputs = make_run(T0 + timedelta(days=day), {"src": Crawl(f"r{day + 1}", titles=new_titles, credential_of=new_creds)})
        assert warehouse.load(inputs)["marts"] == "refreshed"
        assert len(recomputed[-1]) == expect, recomputed[-1]
        published = warehouse.contents()
        assert_same_contents(_rebuilt_marts(warehouse.published, tmp_path, inputs.run_started_at),
                             {k: published[k] for k in MARTS})
        day += 1
