"""resolve(): the contract (one link per offering), the demo's hard cases, and stable ids."""

from __future__ import annotations

import polars as pl
import pytest
from dedup_fixtures import offerings

from normalize.dedup import build_credentials, evaluate, resolve, resolve_report
from normalize.schema import CREDENTIAL_SCHEMA, LINK_SCHEMA

ML = dict(awarding_body="Northfield University", language="en", credential_type="MicroCredential",
          workload_hours_min=40.0, workload_hours_max=60.0, duration_weeks_min=8.0, price_usd=199.0,
          description="Machine Learning is a specialization from Northfield University for engineers.")

CATALOG = [
    # One credential, four sources, four spellings.
    {"source": "northfield", "source_key": "ml", "title": "Machine Learning", "platform": None, **ML},
    {"source": "opencourse", "source_key": "101", "title": "Machine Learning Specialization", "platform": "OpenCourse",
     **{**ML, "awarding_body": "NorthfieldX", "price_usd": 189.5}},
    {"source": "learnwave", "source_key": "x9", "title": "Northfield: Machine Learning", "platform": "LearnWave",
     **{**ML, "duration_weeks_min": 8.7, "credential_type": None}},
    {"source": "registry", "source_key": "ce-7", "title": "MACHINE LEARNING", "platform": "Credential Registry",
     **{**ML, "description": None}},
    # Same title, different awarding bodies: two credentials.
    {"source": "opencourse", "source_key": "201", "title": "Introduction to Python", "platform": "OpenCourse",
     "awarding_body": "Harbourview University", "language": "en", "credential_type": "Course",
     "workload_hours_min": 20.0, "price_usd": 49.0},
    {"source": "skillmarket", "source_key": "py", "title": "Introduction to Python", "platform": "SkillMarket",
     "awarding_body": "Kestrel Polytechnic", "language": "en", "credential_type": "Course",
     "workload_hours_min": 12.0, "price_usd": 19.99},
    # Same title and body, different language: two credentials.
    {"source": "northfield", "source_key": "ds-de", "title": "Data Science", "awarding_body": "Northfield University",
     "language": "de", "price_usd": 99.0},
    {"source": "opencourse", "source_key": "ds-en", "title": "Data Science", "awarding_body": "Northfield University",
     "platform": "OpenCourse", "language": "en", "price_usd": 99.0},
    # A test record copying a real one.
    {"source": "registry", "source_key": "test-1", "title": "Machine Learning", "platform": "Credential Registry",
     "is_test": True, "status": "test", **ML},
]


def credential_of(frame: pl.DataFrame, links: pl.DataFrame) -> dict[tuple[str, str], str]:
    joined = frame.select("source", "source_key", "offering_id").join(links, on="offering_id")
    return {(s, k): c for s, k, c in joined.select("source", "source_key", "credential_id").iter_rows()}


@pytest.fixture(scope="module")
def resolved() -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = offerings(CATALOG)
    return frame, resolve(frame)


def test_links_follow_the_contract(resolved: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, links = resolved
    assert links.schema == LINK_SCHEMA
    assert links.height == frame.height
    assert sorted(links["offering_id"]) == sorted(frame["offering_id"])
    assert links["credential_id"].null_count() == 0


def test_variants_of_one_credential_merge(resolved: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, links = resolved
    cred = credential_of(frame, links)
    assert cred[("northfield", "ml")] == cred[("opencourse", "101")] == cred[("learnwave", "x9")] == cred[("registry", "ce-7")]


def test_same_title_by_different_bodies_stays_apart(resolved: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, links = resolved
    cred = credential_of(frame, links)
    assert cred[("opencourse", "201")] != cred[("skillmarket", "py")]


def test_different_languages_stay_apart(resolved: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, links = resolved
    cred = credential_of(frame, links)
    assert cred[("northfield", "ds-de")] != cred[("opencourse", "ds-en")]


def test_test_records_stay_alone(resolved: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, links = resolved
    cred = credential_of(frame, links)
    assert list(cred.values()).count(cred[("registry", "test-1")]) == 1


def test_singletons_have_null_score_members_a_probability(resolved: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, links = resolved
    sizes = links.group_by("credential_id").agg(n=pl.len())
    scored = links.join(sizes, on="credential_id")
    assert scored.filter(pl.col("n") == 1)["match_score"].null_count() == scored.filter(pl.col("n") == 1).height
    members = scored.filter(pl.col("n") > 1)["match_score"]
    assert members.null_count() == 0
    assert ((members > 0) & (members <= 1)).all()


def test_credentials_build_from_links(resolved: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, links = resolved
    credentials = build_credentials(frame, links)
    assert credentials.schema == CREDENTIAL_SCHEMA
    assert credentials.height == links["credential_id"].n_unique()
    ml = credentials.filter(pl.col("n_offerings") == 4).row(0, named=True)
    assert ml["title"] == "Machine Learning"  # the awarding body's own listing
    assert ml["n_sources"] == 4


def test_ids_stay_when_an_unrelated_offering_arrives(resolved: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, links = resolved
    bigger = pl.concat(
        [frame, offerings([{"source": "newsource", "source_key": "1", "title": "Underwater Basket Weaving",
                            "awarding_body": "Lakeside Community College"}])]
    )
    again = resolve(bigger)
    before = dict(links.select("offering_id", "credential_id").iter_rows())
    after = dict(again.select("offering_id", "credential_id").iter_rows())
    assert all(after[o] == c for o, c in before.items())


def test_result_does_not_depend_on_row_order(resolved: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, links = resolved
    shuffled = resolve(frame.sample(fraction=1.0, shuffle=True, seed=11))
    assert shuffled.sort("offering_id").equals(links.sort("offering_id"))


ROBOTICS = {"source": "s1", "source_key": "1", "title": "Robotics", "awarding_body": "Kestrel Polytechnic",
            "language": "en", "credential_type": "Certificate", "workload_hours_min": 60.0, "price_usd": 300.0}


def test_previous_links_keep_ids_when_a_member_with_a_smaller_id_joins() -> None:
    a = ROBOTICS
    b = {**a, "source": "s2"}
    first = offerings([a, b])
    links1 = resolve(first)
    # Find a third listing whose offering_id sorts before both: it becomes the anchor.
    smallest = min(first["offering_id"])
    newcomer = next(
        row for i in range(1000)
        if (row := offerings([{**a, "source": f"s3-{i}"}])).item(0, "offering_id") < smallest
    )
    second = pl.concat([first, newcomer])
    without = resolve(second)
    with_previous = resolve(second, previous_links=links1)
    old_id = links1["credential_id"][0]
    assert without["credential_id"].n_unique() == 1 and without["credential_id"][0] != old_id
    assert with_previous["credential_id"].unique().to_list() == [old_id]


def test_previous_links_keep_ids_unique_when_a_cluster_splits() -> None:
    a = ROBOTICS
    frame = offerings([a, {**a, "source": "s2"}, {**a, "source": "s3"}])
    ids = sorted(frame["offering_id"])
    # Last run put all three together; now the smallest id is on its own.
    previous = frame.select("offering_id", credential_id=pl.lit("cred-old"), match_score=pl.lit(0.9))
    current = resolve(frame.filter(pl.col("offering_id") != ids[0]), previous_links=previous)
    assert current["credential_id"].unique().to_list() == ["cred-old"]
    split = resolve(
        pl.concat([frame.filter(pl.col("offering_id") != ids[0]),
                   frame.filter(pl.col("offering_id") == ids[0]).with_columns(language=pl.lit("de"))]),
        previous_links=previous,
    )
    assert split["credential_id"].n_unique() == 2
    assert split.filter(pl.col("offering_id") != ids[0])["credential_id"].unique().to_list() == ["cred-old"]


def test_report_carries_blocking_statistics(resolved: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, _ = resolved
    report = resolve_report(frame)
    assert set(report.stats["blocking"]["rules"]) == {"title_core", "rare_tokens", "body_title_prefix", "url"}
    assert report.stats["pairs_compared"] == report.pairs.height > 0
    assert set(report.stats["seconds"]) >= {"prepare", "block", "compare", "score", "cluster"}


def test_empty_input_gives_empty_links() -> None:
    assert resolve(offerings([])).schema == LINK_SCHEMA


def test_duplicate_offering_ids_are_refused() -> None:
    frame = offerings([{"source": "a", "source_key": "1", "title": "X"}])
    with pytest.raises(ValueError, match="unique"):
        resolve(pl.concat([frame, frame]))


def test_demo_like_catalog_reaches_the_accuracy_target() -> None:
    from demo_like import demo_offerings

    demo = demo_offerings(seed=8)
    if demo is None:
        pytest.skip("demo universe (scrapers.mirror.universe) not importable")
    frame, truth = demo
    metrics = evaluate(resolve(frame), truth)
    assert metrics["pairwise_f1"] >= 0.9
    assert metrics["pairwise_precision"] >= 0.95
