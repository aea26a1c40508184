"""Comparison levels, table-driven: left record, right record, the level each comparison lands on."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from dedup_fixtures import offerings

from normalize.dedup import compare, prepare
from normalize.dedup.settings import default_settings

SETTINGS = default_settings()


def levels_of(left: dict[str, Any], right: dict[str, Any]) -> dict[str, str]:
    """Level label per comparison for one pair of offerings."""
    frame = offerings([{"source": "a", "source_key": "1", **left}, {"source": "b", "source_key": "2", **right}])
    prepared = prepare.prepare(frame, SETTINGS.text)
    pairs = pl.DataFrame({"rid_l": [0], "rid_r": [1]}, schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32})
    compared = compare.compare(prepared, pairs, SETTINGS.comparisons)
    return {c.name: compared[compare.gamma_column(c)][0] for c in SETTINGS.comparisons}


CASES = [
    # title: generic words, provider prefixes, case, '&', parentheses all fold to one key
    ("title", {"title": "Machine Learning"}, {"title": "Machine Learning Specialization"}, "exact"),
    ("title", {"title": "Machine Learning", "awarding_body": "Northfield University"},
     {"title": "Northfield: Machine Learning", "awarding_body": "Northfield University"}, "exact"),
    ("title", {"title": "NFU: Machine Learning"}, {"title": "MACHINE LEARNING (Online)"}, "exact"),
    ("title", {"title": "Leadership and Management"}, {"title": "Leadership & Management"}, "exact"),
    ("title", {"title": "Intro to Data Science"}, {"title": "Introduction to Data Science"}, "exact"),
    ("title", {"title": "Professional Certificate in Data Analytics"}, {"title": "Data Analytics Professional Certificate"}, "exact"),
    ("title", {"title": "Machine Learning: Essentials"}, {"title": "Machine Learning"}, "core_exact"),
    ("title", {"title": "Management and Leadership"}, {"title": "Leadership and Management"}, "token_sort_92"),
    ("title", {"title": "Data Visualisation with Python"}, {"title": "Data Visualization in Python"}, "token_sort_80"),
    ("title", {"title": "Machine Learning"}, {"title": "Contract Law"}, "else"),
    # a provider prefix in capitals, naming a body the corpus spells with an inner capital
    ("title", {"title": "NETSECURE: API Design", "awarding_body": "NetSecure"}, {"title": "API Design", "awarding_body": "NetSecure"}, "exact"),
    # a prefix or suffix naming the listing's own provider by its initials or short name
    ("title", {"title": "ESI: Applied Entrepreneurship", "awarding_body": "Eastridge Skills Institute"},
     {"title": "Applied Entrepreneurship", "awarding_body": "Eastridge Skills Institute"}, "exact"),
    ("title", {"title": "CIRM: Occupational Health", "awarding_body": "Copperton Institute of Risk Managers"},
     {"title": "Occupational Health", "awarding_body": "Copperton Institute of Risk Managers"}, "exact"),
    ("title", {"title": "HDI: Applied Statistics", "awarding_body": "Hawkstead Data Inc."},
     {"title": "Applied Statistics", "awarding_body": "Hawkstead Data Inc."}, "exact"),
    ("title", {"title": "COS: Solar Energy", "awarding_body": "Copperton"},
     {"title": "Solar Energy", "awarding_body": "Copperton Online School"}, "exact"),
    ("title", {"title": "Riverford: Cloud Development", "awarding_body": "RiverfordX"},
     {"title": "Cloud Development", "awarding_body": "Riverford College"}, "exact"),
    ("title", {"title": "Contract Law - Goldstead", "awarding_body": "Goldstead Institute of Technology"},
     {"title": "Contract Law", "awarding_body": "Goldstead Institute of Technology"}, "exact"),
    # awarding body: aliases, abbreviations, legal suffixes
    ("awarding_body", {"awarding_body": "MIT"}, {"awarding_body": "Massachusetts Institute of Technology"}, "exact"),
    ("awarding_body", {"awarding_body": "Cloudcraft Inc."}, {"awarding_body": "Cloudcraft"}, "exact"),
    ("awarding_body", {"awarding_body": "The Univ. of Springfield"}, {"awarding_body": "University of Springfield"}, "exact"),
    ("awarding_body", {"awarding_body": "University of Springfeld"}, {"awarding_body": "University of Springfield"}, "token_sort_90"),
    ("awarding_body", {"awarding_body": "Harbourview University"}, {"awarding_body": "Kestrel Polytechnic"}, "else"),
    ("awarding_body", {"awarding_body": None}, {"awarding_body": "Kestrel Polytechnic"}, "null"),
    # a partner code or handle glues the words of the spelled-out name together
    ("awarding_body", {"awarding_body": "MaplewoodStateUniversity"}, {"awarding_body": "Maplewood State University"}, "exact"),
    ("awarding_body", {"awarding_body": "NETSECURE SYSTEMS"}, {"awarding_body": "NetSecure Systems"}, "exact"),
    # a name and its short form: one word that begins or ends the longer name
    ("awarding_body", {"awarding_body": "Copperview"}, {"awarding_body": "Copperview School of Business"}, "short_form"),
    ("awarding_body", {"awarding_body": "Ambermere"}, {"awarding_body": "University of Ambermere"}, "short_form"),
    ("awarding_body", {"awarding_body": "SAP"}, {"awarding_body": "SAP Learning Hub"}, "short_form"),
    # a platform handle ('HarvardX') is keyed by its stem when the corpus knows the stem as a name
    ("awarding_body", {"awarding_body": "StoneridgeX"}, {"awarding_body": "Stoneridge Institute of Technology"}, "short_form"),
    ("awarding_body", {"awarding_body": "HazelworthX"}, {"awarding_body": "Hazelworth"}, "exact"),
    # ... not two long names sharing a word, nor a word too short to name anyone, nor a middle word
    ("awarding_body", {"awarding_body": "Stoneridge Skills Institute"}, {"awarding_body": "Stoneridge Institute of Technology"}, "else"),
    ("awarding_body", {"awarding_body": "AI"}, {"awarding_body": "AI Institute"}, "else"),
    ("awarding_body", {"awarding_body": "State"}, {"awarding_body": "Wolfridge State University"}, "else"),
    # platform
    ("platform", {"platform": "OpenCourse"}, {"platform": "opencourse"}, "exact"),
    ("platform", {"platform": "OpenCourse"}, {"platform": "LearnWave"}, "else"),
    ("platform", {"platform": None}, {"platform": "LearnWave"}, "null"),
    # credential type
    ("credential_type", {"credential_type": "MicroCredential"}, {"credential_type": "MicroCredential"}, "exact"),
    ("credential_type", {"credential_type": "MicroCredential"}, {"credential_type": "Certification"}, "else"),
    # one credential's type named at different depths of the class tree
    ("credential_type", {"credential_type": "AcademicCertificate"}, {"credential_type": "Certificate"}, "same_family"),
    ("credential_type", {"credential_type": "MasterOfScienceDegree"}, {"credential_type": "MasterDegree"}, "same_family"),
    ("credential_type", {"credential_type": "MasterDegree"}, {"credential_type": "BachelorDegree"}, "else"),
    # workload and duration: relative closeness of the range midpoints
    ("workload", {"workload_hours_min": 30.0, "workload_hours_max": 50.0}, {"workload_hours_min": 40.0, "workload_hours_max": 40.0}, "within_10pct"),
    ("workload", {"workload_hours_min": 40.0}, {"workload_hours_min": 30.0}, "within_35pct"),
    ("workload", {"workload_hours_min": 10.0}, {"workload_hours_min": 120.0}, "else"),
    ("duration", {"duration_weeks_min": 26.0}, {"duration_weeks_min": 26.07}, "within_10pct"),
    ("duration", {"duration_weeks_min": None}, {"duration_weeks_min": 4.0}, "null"),
    # price in USD: free equals free
    ("price", {"price_usd": 0.0}, {"price_usd": 0.0}, "within_5pct"),
    ("price", {"price_usd": 99.0}, {"price_usd": 107.6}, "within_25pct"),
    ("price", {"price_usd": 49.0}, {"price_usd": 450.0}, "else"),
    # language: BCP 47 primary subtag
    ("language", {"language": "en-US"}, {"language": "en"}, "exact"),
    ("language", {"language": "en"}, {"language": "de"}, "else"),
    ("language", {"language": None}, {"language": "de"}, "null"),
    # url: canonical form
    ("url", {"url": "https://www.example.org/c/1/?utm_source=x"}, {"url": "http://example.org/c/1"}, "exact"),
    ("url", {"url": "https://example.org/c/1"}, {"url": "https://example.org/c/2"}, "else"),
    # description: token order does not matter
    ("description", {"description": "Learn statistics with real data. Build and test models."}, {"description": "Build and test models. Learn statistics with real data."}, "token_sort_90"),
    # a tagline under 8 tokens is no description (counts as missing, not as a disagreement)
    ("description", {"description": "Learn statistics. Build models."}, {"description": "Build models. Learn statistics."}, "null"),
    ("description", {"description": "Learn statistics and build models with real data sets"}, {"description": "An introduction to contract law for the working professional"}, "else"),
    # a teaser (one sentence of the full text) is contained in the full description
    ("description", {"description": "Applied Statistics is a course from Kestrel Polytechnic for engineers who want to master statistics"},
     {"description": "Applied Statistics is a course from Kestrel Polytechnic for engineers who want to master statistics. "
                     "You will learn regression, sampling and experimental design. Expect about 4-6 hours per week."},
     "token_set_98"),
    # ... but a short generic text is not evidence for being contained in anything
    ("description", {"description": "Learn at your own pace"},
     {"description": "Learn at your own pace. Contract Law is a course from Kestrel Polytechnic for lawyers."}, "null"),
]


@pytest.mark.parametrize(("comparison", "left", "right", "expected"), CASES)
def test_level(comparison: str, left: dict[str, Any], right: dict[str, Any], expected: str) -> None:
    base = {"title": "Some Title"}
    got = levels_of({**base, **left}, {**base, **right})[comparison]
    # These cases are about title normalization: a cleaned title no source repeats lands on
    # the stronger `exact_distinct` (test_title_exact_distinct), which is the same key.
    if got == "exact_distinct":
        got = "exact"
    assert got == expected


@pytest.mark.parametrize(("comparison", "left", "right", "expected"), CASES)
def test_level_is_symmetric(comparison: str, left: dict[str, Any], right: dict[str, Any], expected: str) -> None:
    base = {"title": "Some Title"}
    got = levels_of({**base, **right}, {**base, **left})[comparison]
    assert (got if got != "exact_distinct" else "exact") == expected


def test_every_comparison_ends_with_else() -> None:
    for comparison in SETTINGS.comparisons:
        assert comparison.levels[-1].test == "else"
        assert all(level.test != "else" for level in comparison.levels[:-1])


def test_fuzzy_scores_are_only_computed_for_undecided_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = compare.fuzzy_scores

    def spy(left: list[str], right: list[str], scorer: str, workers: int = -1):  # type: ignore[no-untyped-def]
        seen.append(len(left))
        return real(left, right, scorer, workers)

    monkeypatch.setattr(compare, "fuzzy_scores", spy)
    levels_of({"title": "Machine Learning", "description": None}, {"title": "Machine Learning", "description": None})
    # Titles equal and bodies / descriptions missing: no pair reaches a fuzzy scorer.
    assert sum(seen) == 0


def test_pruning_only_skips_pairs_that_could_never_link() -> None:
    from dedup_fixtures import synthetic_catalog

    from normalize.dedup import blocking, scoring

    frame, _ = synthetic_catalog(3_000, seed=9)
    prepared = prepare.prepare(frame, SETTINGS.text)
    pairs, _ = blocking.block(prepared, SETTINGS.blocking)
    bounds = scoring.pruning(SETTINGS.comparisons, SETTINGS.weights, SETTINGS.cluster.link_probability)
    full = scoring.score(compare.compare(prepared, pairs, SETTINGS.comparisons), SETTINGS.comparisons, SETTINGS.weights)
    pruned = scoring.score(
        compare.compare(prepared, pairs, SETTINGS.comparisons, bounds), SETTINGS.comparisons, SETTINGS.weights
    )
    was_pruned = pruned[compare.gamma_column(SETTINGS.comparisons[-1])].is_null()
    assert 0 < was_pruned.sum() < pairs.height
    # Every pruned pair is below the link threshold when fully compared ...
    assert (full.filter(was_pruned)["match_probability"] < SETTINGS.cluster.link_probability).all()
    # ... and every other pair is scored exactly as without pruning.
    kept = ~was_pruned
    assert full.filter(kept)["match_weight"].equals(pruned.filter(kept)["match_weight"])


def test_title_exact_distinct_needs_a_title_no_source_repeats() -> None:
    from dedup_fixtures import offerings as frame_of

    from normalize.dedup import candidate_pairs

    rows = [
        dict(source="a", source_key="1", title="Data Analytics", awarding_body="North University"),
        dict(source="b", source_key="1", title="Data Analytics", awarding_body="North University"),
        dict(source="a", source_key="2", title="Corporate Finance", awarding_body="North University"),
        dict(source="b", source_key="2", title="Corporate Finance", awarding_body="South University"),
        dict(source="b", source_key="3", title="Corporate Finance", awarding_body="East University"),
    ]
    pairs = candidate_pairs(frame_of(rows))
    levels = {str(g) for g in pairs["gamma_title"].to_list()}
    assert levels == {"exact_distinct", "exact"}
    assert pairs.filter(pl.col("gamma_title") == "exact_distinct").height == 1


def test_scoring_each_distinct_pair_of_values_once_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fuzzy level over a column of few distinct values (awarding bodies) scores each pair of
    values once and spreads the score; the levels equal scoring every pair."""
    from dedup_fixtures import synthetic_catalog

    from normalize.dedup import blocking

    frame, _ = synthetic_catalog(3_000, seed=9)
    prepared = prepare.prepare(frame, SETTINGS.text)
    pairs, _ = blocking.block(prepared, SETTINGS.blocking)
    values = compare._PairValues(prepared, pairs)
    assert values._numbered("body_sorted") is not None  # the by-value path is the one tested
    by_value = compare.compare(prepared, pairs, SETTINGS.comparisons)
    monkeypatch.setattr(compare, "REPEATS_AT_LEAST", 10**9)
    assert compare._PairValues(prepared, pairs)._numbered("body_sorted") is None
    pair_by_pair = compare.compare(prepared, pairs, SETTINGS.comparisons)
    assert by_value.equals(pair_by_pair)
    # Both outcomes of the fuzzy body level occur, so the spread scores decide real pairs.
    assert (by_value["gamma_awarding_body"] == "token_sort_90").sum() > 0
    assert (by_value["gamma_awarding_body"] == "else").sum() > 0
