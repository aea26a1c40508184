"""Curator overrides (must-link / cannot-link) win over the scores; ids stay stable across runs."""

from __future__ import annotations

import polars as pl
import pytest
from dedup_fixtures import offerings, synthetic_catalog

from normalize.dedup import default_settings, resolve
from normalize.dedup.history import change_summary, cluster_changes, id_stability
from normalize.dedup.settings import DATA_DIR, load_overrides, parse_overrides


def _pair() -> pl.DataFrame:
    common = dict(awarding_body="Maplewood State University", language="en", credential_type="Certificate",
                  description="A practical programme in data analytics with projects, case studies and a capstone.")
    return offerings([
        dict(source="a", source_key="1", title="Data Analytics", platform="OpenCourse", **common),
        dict(source="b", source_key="1", title="Data Analytics", platform="OpenCourse", **common),
        dict(source="c", source_key="9", title="Medieval Poetry", awarding_body="Other College", language="en"),
    ])


def _ids(frame: pl.DataFrame) -> list[str]:
    return frame.sort("source")["offering_id"].to_list()


def test_shipped_overrides_file_is_empty_with_header() -> None:
    assert (DATA_DIR / "overrides.csv").read_text(encoding="utf-8").splitlines()[0].startswith("offering_id_a,offering_id_b,relation")
    assert load_overrides() == ()


def test_cannot_link_beats_a_strong_match() -> None:
    frame = _pair()
    a, b, _ = _ids(frame)
    plain = resolve(frame)
    assert plain.filter(pl.col("offering_id").is_in([a, b]))["credential_id"].n_unique() == 1
    settings = default_settings().with_overrides([(a, b, "cannot_link")])
    links = resolve(frame, settings)
    assert links.filter(pl.col("offering_id").is_in([a, b]))["credential_id"].n_unique() == 2


def test_must_link_beats_the_scores() -> None:
    frame = _pair()
    a, _, c = _ids(frame)
    settings = default_settings().with_overrides(pl.DataFrame({"offering_id_a": [a], "offering_id_b": [c], "relation": ["must_link"]}))
    links = resolve(frame, settings)
    assert links["credential_id"].n_unique() == 1
    assert links.filter(pl.col("offering_id") == c)["match_score"].item() == 1.0


def test_cannot_link_holds_through_a_third_record() -> None:
    frame = _pair()
    a, b, c = _ids(frame)
    settings = default_settings().with_overrides([(a, c, "must_link"), (b, c, "cannot_link")])
    links = resolve(frame, settings)
    by = dict(links.select("offering_id", "credential_id").iter_rows())
    assert by[a] == by[c] and by[b] != by[c]


def test_contradicting_or_bad_overrides_are_rejected() -> None:
    with pytest.raises(ValueError):
        parse_overrides([("x", "y", "must_link"), ("y", "x", "cannot_link")])
    with pytest.raises(ValueError):
        parse_overrides([("x", "y", "maybe")])


def test_ids_survive_a_one_percent_change() -> None:
    frame, _ = synthetic_catalog(4000, seed=3)
    first = resolve(frame)
    ids = frame["offering_id"].to_list()
    touched = ids[::100]  # 1%: half removed, half edited
    removed, edited = touched[::2], touched[1::2]
    changed = frame.filter(~pl.col("offering_id").is_in(removed)).with_columns(
        price_usd=pl.when(pl.col("offering_id").is_in(edited)).then(pl.col("price_usd") + 1).otherwise(pl.col("price_usd"))
    )
    second = resolve(changed, previous_links=first)
    untouched = [i for i in ids if i not in set(touched)]
    stability = id_stability(first, second, untouched)
    assert stability["unchanged_clusters"] > 1000
    assert stability["share_kept"] >= 0.99
    summary = change_summary(cluster_changes(first, second))
    assert summary.get("kept", 0) > 0.9 * sum(summary.values())


def test_cluster_changes_names_merges_and_splits() -> None:
    previous = pl.DataFrame({"offering_id": ["a", "b", "c", "d", "e"], "credential_id": ["X", "X", "Y", "Z", "Z"]})
    current = pl.DataFrame({"offering_id": ["a", "b", "c", "d", "e", "f"], "credential_id": ["X", "X", "X", "Z", "W", "N"]})
    status = dict(cluster_changes(previous, current).select("credential_id", "status").iter_rows())
    assert status == {"X": "merged", "Z": "split", "W": "split", "N": "new"}
