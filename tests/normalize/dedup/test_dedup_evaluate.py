"""evaluate(): pairwise and B-cubed metrics on hand-computed examples."""

from __future__ import annotations

import polars as pl
import pytest

from normalize.dedup import evaluate


def links(assignment: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"offering_id": list(assignment), "credential_id": list(assignment.values()), "match_score": [None] * len(assignment)},
        schema={"offering_id": pl.String, "credential_id": pl.String, "match_score": pl.Float64},
    )


def truth(assignment: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"offering_id": list(assignment), "truth_key": list(assignment.values())})


def test_hand_computed_example() -> None:
    # truth {a,b,c} {d,e}; predicted {a,b} {c,d} {e}
    result = evaluate(
        links({"a": "P1", "b": "P1", "c": "P2", "d": "P2", "e": "P3"}),
        truth({"a": "T1", "b": "T1", "c": "T1", "d": "T2", "e": "T2"}),
    )
    # pairs: predicted ab, cd; true ab ac bc de; found ab
    assert result["predicted_pairs"] == 2
    assert result["true_pairs"] == 4
    assert result["true_positive_pairs"] == 1
    assert result["pairwise_precision"] == pytest.approx(0.5)
    assert result["pairwise_recall"] == pytest.approx(0.25)
    assert result["pairwise_f1"] == pytest.approx(1 / 3)
    # B-cubed per offering (precision, recall): a (1, 2/3) b (1, 2/3) c (1/2, 1/3) d (1/2, 1/2) e (1, 1/2)
    assert result["bcubed_precision"] == pytest.approx(0.8)
    assert result["bcubed_recall"] == pytest.approx(8 / 15)
    assert result["bcubed_f1"] == pytest.approx(0.64)
    assert (result["n_offerings"], result["n_clusters"], result["n_truth_clusters"]) == (5, 3, 2)


def test_perfect_clustering_scores_one() -> None:
    assignment = {"a": "X", "b": "X", "c": "Y"}
    result = evaluate(links(assignment), truth(assignment))
    for metric in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall", "bcubed_f1"):
        assert result[metric] == pytest.approx(1.0)


def test_everything_in_one_cluster() -> None:
    result = evaluate(links({"a": "P", "b": "P", "c": "P", "d": "P"}), truth({"a": "X", "b": "X", "c": "Y", "d": "Y"}))
    assert result["pairwise_precision"] == pytest.approx(2 / 6)
    assert result["pairwise_recall"] == pytest.approx(1.0)
    assert result["bcubed_precision"] == pytest.approx(0.5)
    assert result["bcubed_recall"] == pytest.approx(1.0)


def test_all_singletons_with_nothing_to_find_is_perfect() -> None:
    result = evaluate(links({"a": "1", "b": "2"}), truth({"a": "X", "b": "Y"}))
    assert result["pairwise_precision"] == result["pairwise_recall"] == 1.0


def test_offerings_missing_on_either_side_are_counted_not_scored() -> None:
    result = evaluate(links({"a": "P", "b": "P", "z": "Q"}), truth({"a": "X", "b": "X", "y": "Y"}))
    assert result["n_offerings"] == 2
    assert result["n_links_without_truth"] == 1
    assert result["n_truth_without_links"] == 1
    assert result["pairwise_f1"] == pytest.approx(1.0)


def test_an_offering_in_two_truth_clusters_is_an_error() -> None:
    # Joined twice, it would count pairs that do not exist.
    two = pl.DataFrame({"offering_id": ["a", "a", "b"], "truth_key": ["T1", "T2", "T1"]})
    with pytest.raises(ValueError, match="truth: an offering_id appears more than once"):
        evaluate(links({"a": "P1", "b": "P1"}), two)
