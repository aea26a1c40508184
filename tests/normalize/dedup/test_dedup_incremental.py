"""Incremental resolve equals a from-scratch one: the cluster cache (normalize/dedup/cluster_cache.py)
re-clusters only the components a change touched, and golden records built as projections
(one member) or by the group-by (several) equal the group-by for all.

Every case runs resolve twice on the same second catalog with the same previous links: with
the cache folder the first run wrote (compare, prepare and cluster caches), and without any
cache. Links must be identical, every column; so must the credentials built from them.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from dedup_fixtures import offerings, synthetic_catalog
from polars.testing import assert_frame_equal

from normalize.dedup import build_credentials, default_settings, resolve_report, survivorship
from normalize.dedup.cluster_cache import META
from normalize.schema import offering_id
from tests.normalize.collisions import hashing

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _listing(source: str, key: str, title: str, body: str, **more) -> dict:  # type: ignore[type-arg]
    row = {"source": source, "source_key": key, "title": title, "awarding_body": body, "language": "en",
           "credential_type": "Certificate", "workload_hours_min": 40.0, "price_usd": 100.0, "fetched_at": T0,
           "description": f"A course on {title.lower()} by {body} with projects, quizzes and a final exam."}
    row.update(more)
    return row


def _catalog() -> list[dict]:  # type: ignore[type-arg]
    """Clusters of 3, 2 and 1 listings across sources, plus unrelated singletons."""
    rows = []
    for i, (title, body) in enumerate([
        ("Applied Machine Learning", "Northfield University"),
        ("Cloud Security Foundations", "Lakeside College"),
        ("Supply Chain Analytics", "Ambermere Institute"),
        ("Digital Marketing Strategy", "Copperview School of Business"),
    ]):
        for source in ["alpha_api", "beta_feed", "gamma_csv"][: 3 - i % 3]:
            rows.append(_listing(source, f"{i}-{source}", title, body))
    for j in range(12):
        rows.append(_listing("delta_registry", f"solo-{j}", f"Unrelated Topic Number {j} Seminar", f"Org {j} Academy"))
    return rows


def _id(row: dict) -> str:  # type: ignore[type-arg]
    return offering_id(row["source"], row["source_key"])


def _run_both(first: pl.DataFrame, second: pl.DataFrame, folder: Path, previous: str = "first"):  # type: ignore[no-untyped-def]
    r1 = resolve_report(first, cache=folder)
    prev = r1.links if previous == "first" else None
    cached = resolve_report(second, previous_links=prev, cache=folder)
    plain = resolve_report(second, previous_links=prev)
    assert_frame_equal(cached.links, plain.links)
    settings = default_settings()
    assert_frame_equal(build_credentials(second, cached.links, settings), build_credentials(second, plain.links, settings))
    return r1, cached


def _cluster_of(links: pl.DataFrame, oid: str) -> set[str]:
    cid = links.filter(pl.col("offering_id") == oid)["credential_id"].item()
    return set(links.filter(pl.col("credential_id") == cid)["offering_id"].to_list())


def test_removed_offerings_new_members_and_splits_equal_a_fresh_run(tmp_path: Path) -> None:
    rows = _catalog()
    first = offerings(rows)
    ml = [r for r in rows if r["title"] == "Applied Machine Learning"]
    cloud = [r for r in rows if r["title"] == "Cloud Security Foundations"]
    supply = [r for r in rows if r["title"] == "Supply Chain Analytics"]
    r1 = resolve_report(first, cache=tmp_path / "probe")
    assert len(_cluster_of(r1.links, _id(ml[0]))) == 3 and len(_cluster_of(r1.links, _id(cloud[0]))) == 2

    second_rows = [r for r in rows if r is not ml[0]]  # the 3-cluster loses a member (maybe its anchor)
    second_rows.append(_listing("epsilon_pages", "new-cloud", "Cloud Security Foundations", "Lakeside College"))
    split = dict(supply[0], title="Underwater Basket Weaving Intensive", awarding_body="Deepsea Crafts Guild",
                 description="Weaving baskets underwater, a different course altogether, with its own exam.")
    second_rows = [split if r is supply[0] else r for r in second_rows]
    second = offerings(second_rows)
    _, cached = _run_both(first, second, tmp_path)
    links = cached.links
    assert len(_cluster_of(links, _id(ml[1]))) == 2  # removal
    assert _id(second_rows[-1]) in _cluster_of(links, _id(cloud[0]))  # a new listing joins a cluster
    assert _cluster_of(links, _id(split)) == {_id(split)}  # the changed listing split off
    stats = cached.stats["cache"]["cluster"]
    assert stats["status"] == "hit" and 0 < stats["nodes_touched"] < second.height
    # The unrelated singletons and the untouched 2-cluster kept their cached clusters.
    assert stats["ids"] == "touched clusters only"


def test_a_rerun_is_the_same_when_every_id_hash_collides(tmp_path: Path) -> None:
    """Repeated and shared ids are found by their 64-bit hashes first, the strings deciding
    where hashes match (golden records' one-member split, the ids carried by untouched
    clusters, the clash rule, the one-to-one check). With every Series hash equal each takes
    its exact path: the links and credentials are the same, and untouched clusters still
    keep their ids without the full assignment."""
    rows = _catalog()
    first = offerings(rows)
    second = offerings([*rows[1:], _listing("epsilon_pages", "new-cloud", "Cloud Security Foundations",
                                            "Lakeside College")])
    results = {}
    for collide in (False, True):
        folder = tmp_path / str(collide)
        previous = resolve_report(first, cache=folder).links
        with hashing(collide):
            again = resolve_report(second, previous_links=previous, cache=folder)
            credentials = build_credentials(second, again.links)
        results[collide] = (again.links, credentials, again.stats["cache"]["cluster"]["ids"])
    assert_frame_equal(results[True][0], results[False][0])
    assert_frame_equal(results[True][1], results[False][1])
    assert results[True][2] == results[False][2] == "touched clusters only"


def test_synthetic_rerun_reclusters_only_touched_components(tmp_path: Path) -> None:
    first, _ = synthetic_catalog(3000, seed=5)
    rng = random.Random(3)
    ids = first["offering_id"].to_list()
    removed = set(rng.sample(ids, 30))
    retitled = set(rng.sample(sorted(set(ids) - removed), 30))
    donors = first.filter(~pl.col("offering_id").is_in(list(removed))).sample(30, seed=2)
    added = donors.with_columns(source_key=pl.concat_str(pl.lit("n-"), pl.col("source_key"))).with_columns(
        offering_id=pl.struct("source", "source_key").map_elements(
            lambda r: offering_id(r["source"], r["source_key"]), return_dtype=pl.String)
    )
    second = pl.concat([
        first.filter(~pl.col("offering_id").is_in(list(removed))).with_columns(
            title=pl.when(pl.col("offering_id").is_in(list(retitled))).then(pl.lit("Something Else Entirely"))
            .otherwise(pl.col("title")),
            # a re-crawl: every listing fetched again, in another order
            fetched_at=pl.lit(T0) + pl.duration(seconds=pl.int_range(pl.len()).shuffle(seed=1)),
        ),
        added.with_columns(fetched_at=pl.lit(T0)),
    ]).sample(fraction=1.0, shuffle=True, seed=9)
    _, cached = _run_both(first, second, tmp_path)
    stats = cached.stats["cache"]["cluster"]
    assert stats["status"] == "hit" and stats["ids"] == "touched clusters only"
    assert 0 < stats["nodes_touched"] < second.height // 4


def test_previous_links_not_from_the_cached_run_fall_back_to_all_ids(tmp_path: Path) -> None:
    first, _ = synthetic_catalog(1500, seed=8)
    second = first.filter(pl.int_range(pl.len()) % 50 != 0)
    resolve_report(first, cache=tmp_path)
    # Previous links that disagree with the cache: two untouched clusters swapped ids, one id reused.
    prev = resolve_report(first).links
    cids = prev["credential_id"].unique().sort().to_list()
    swap = {cids[0]: cids[1], cids[1]: cids[0], cids[2]: cids[3]}
    prev = prev.with_columns(pl.col("credential_id").replace(swap))
    for previous in (prev, None):
        cached = resolve_report(second, previous_links=previous, cache=tmp_path)
        plain = resolve_report(second, previous_links=previous)
        assert_frame_equal(cached.links, plain.links)
        resolve_report(first, cache=tmp_path)  # back to the first catalog's cache
    assert cached.stats["cache"]["cluster"]["ids"] == "all"


@pytest.mark.parametrize("how", ["truncate", "garbage_meta", "other_overrides"])
def test_damaged_or_foreign_cluster_cache_is_ignored(tmp_path: Path, how: str) -> None:
    first, _ = synthetic_catalog(1200, seed=6)
    second = first.filter(pl.int_range(pl.len()) % 40 != 0)
    r1 = resolve_report(first, cache=tmp_path)
    settings = default_settings()
    if how == "truncate":
        meta = json.loads((tmp_path / META).read_text())
        path = tmp_path / meta["edges"]["file"]
        path.write_bytes(path.read_bytes()[:-7])
    elif how == "garbage_meta":
        (tmp_path / META).write_text("{not json")
    else:
        a, b = first["offering_id"][0], first["offering_id"][1]
        settings = settings.with_overrides([(a, b, "cannot_link")])
    cached = resolve_report(second, settings, previous_links=r1.links, cache=tmp_path)
    plain = resolve_report(second, settings, previous_links=r1.links)
    assert_frame_equal(cached.links, plain.links)
    assert cached.stats["cache"]["cluster"]["status"].startswith("ignored")


def test_must_link_partner_removed_is_reclustered(tmp_path: Path) -> None:
    rows = _catalog()
    solo = [r for r in rows if r["source"] == "delta_registry"]
    settings = default_settings().with_overrides([(_id(solo[0]), _id(solo[1]), "must_link")])
    first = offerings(rows)
    r1 = resolve_report(first, settings, cache=tmp_path)
    assert _cluster_of(r1.links, _id(solo[0])) == {_id(solo[0]), _id(solo[1])}
    second = offerings([r for r in rows if r is not solo[1]])
    cached = resolve_report(second, settings, previous_links=r1.links, cache=tmp_path)
    plain = resolve_report(second, settings, previous_links=r1.links)
    assert_frame_equal(cached.links, plain.links)
    assert cached.links.filter(pl.col("offering_id") == _id(solo[0]))["match_score"].item() is None


# --- golden records -----------------------------------------------------------------------------


def _group_by_only(frame: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """Every credential through the sort + group-by (what golden_records did for all)."""
    s = default_settings()
    order, descending = survivorship.rank_order(s.survivorship)
    ranked = survivorship.members(frame, links, s.survivorship, s.text, s.source_kinds).sort(
        order, descending=descending, nulls_last=True)
    return survivorship.aggregate(ranked, s.survivorship).sort("credential_id")


def test_singleton_projection_equals_the_group_by() -> None:
    frame, _ = synthetic_catalog(2500, seed=12)
    # Values a projection could get wrong: null and empty lists, a group half filled, no platform.
    frame = frame.with_columns(
        skills=pl.when(pl.int_range(pl.len()) % 3 == 0).then(None).otherwise(pl.col("skills")),
        isced_codes=pl.when(pl.int_range(pl.len()) % 4 == 0).then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(pl.col("isced_codes")),
        workload_hours_min=pl.when(pl.int_range(pl.len()) % 5 == 0).then(None).otherwise(pl.col("workload_hours_min")),
        platform=pl.when(pl.int_range(pl.len()) % 2 == 0).then(None).otherwise(pl.col("platform")),
        offering_id=pl.when(pl.int_range(pl.len()) == 7).then(pl.lit('quote"and\\slash')).otherwise(pl.col("offering_id")),
    )
    links = resolve_report(frame).links
    sizes = links.group_by("credential_id").len()["len"]
    assert (sizes == 1).sum() > 0 and (sizes > 1).sum() > 0
    assert_frame_equal(build_credentials(frame, links, default_settings()), _group_by_only(frame, links))


def test_recrawl_reorders_fetched_at_and_changes_the_winner() -> None:
    a = _listing("alpha_api", "a", "Applied Machine Learning", "Northfield University", platform="Alpha",
                 fetched_at=T0, description="Alpha's description of applied machine learning for practitioners today.")
    b = _listing("beta_feed", "b", "Applied Machine Learning", "Northfield University", platform="Beta",
                 fetched_at=T0 + timedelta(hours=1),
                 description="Beta's description of applied machine learning for practitioners today.")
    frame = offerings([a, b])
    links = frame.select("offering_id", credential_id=pl.lit("cred-x"), match_score=pl.lit(0.99))
    before = build_credentials(frame, links).row(0, named=True)
    assert before["description"].startswith("Beta")  # newest wins among equals
    recrawled = frame.with_columns(fetched_at=pl.when(pl.col("source") == "alpha_api")
                                   .then(pl.lit(T0 + timedelta(hours=2))).otherwise(pl.col("fetched_at")))
    after = build_credentials(recrawled, links)
    assert after.row(0, named=True)["description"].startswith("Alpha")
    assert_frame_equal(after, _group_by_only(recrawled, links))


def test_split_off_anchor_singleton_does_not_share_the_carried_id() -> None:
    """Last run: {a, b} under credential_id(a) (a the smaller id). Now b is with a new listing
    c and a is alone: each new cluster holds one of the old members, the tie goes to b's
    cluster, and a's fresh anchor id would be the carried id again. Ids must stay unique
    (one credential_id shared by two clusters made build_credentials merge them)."""
    from normalize.dedup import _assign_ids, credential_id

    a, b, c = "offer-b", "offer-c", "offer-a"  # c < a < b
    labels = pl.DataFrame({"offering_id": [c, a, b], "cluster": [0, 1, 0]}, schema={"offering_id": pl.String, "cluster": pl.UInt32})
    previous = pl.DataFrame({"offering_id": [a, b], "credential_id": [credential_id(a)] * 2})
    out = _assign_ids(labels, previous)
    per_cluster = dict(zip(out["cluster"].to_list(), out["credential_id"].to_list(), strict=True))
    assert per_cluster[0] == credential_id(a)  # b's cluster keeps the old id (tie: smaller cluster)
    assert per_cluster[1] != credential_id(a)
    assert out.group_by("credential_id").agg(pl.col("cluster").n_unique())["cluster"].max() == 1
