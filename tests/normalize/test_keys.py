"""normalize.keys: the hash fast paths give the plain Polars answers, collisions included."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalize.keys import any_duplicated, is_in, same_unique_keys
from tests.normalize.collisions import hashing

ids = st.lists(st.one_of(st.none(), st.text(alphabet="abc", min_size=0, max_size=3)), max_size=12)


def _plain_same_unique_keys(left: list, right: list) -> bool:
    return (len(left) == len(right) and None not in left and None not in right
            and len(set(left)) == len(left) and len(set(right)) == len(right) and set(left) == set(right))


@settings(max_examples=150, deadline=None)
@given(values=ids)
@pytest.mark.parametrize("collide", [False, True])
def test_any_duplicated_is_is_duplicated(values, collide):
    with hashing(collide):
        _check_duplicated(values)


def _check_duplicated(values):
    series = pl.Series("k", values, dtype=pl.String)
    assert any_duplicated(series) == bool(series.is_duplicated().any())
    frame = pl.DataFrame({"a": series, "b": [len(v or "") % 2 for v in values]}, schema={"a": pl.String, "b": pl.Int64})
    assert any_duplicated(frame) == bool(frame.is_duplicated().any())


@settings(max_examples=150, deadline=None)
@given(left=ids, right=ids, same=st.booleans())
@pytest.mark.parametrize("collide", [False, True])
def test_same_unique_keys_is_the_plain_answer(left, right, same, collide):
    with hashing(collide):
        _check_same_keys(left, right, same)


def _check_same_keys(left, right, same):
    if same:  # often the interesting case: a permutation of the same keys
        right = list(reversed(left))
    got = same_unique_keys(pl.Series("l", left, dtype=pl.String), pl.Series("r", right, dtype=pl.String))
    assert got == _plain_same_unique_keys(left, right)


def test_distinct_ids_take_the_hash_path(monkeypatch):
    """Distinct hashes decide without the plain calls (which would be the slow path)."""
    values = pl.Series("k", [f"id-{i:07d}" for i in range(200_000)])

    def refuse(*a, **k):
        raise AssertionError("the plain call ran although the hashes were distinct")

    monkeypatch.setattr(pl.Series, "is_duplicated", refuse)
    assert not any_duplicated(values)
    assert same_unique_keys(values, values.reverse())
    assert not same_unique_keys(values, values.reverse().set(pl.Series([False] * 199_999 + [True]), "other"))


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.text(alphabet="abc", max_size=3), max_size=12),
       among=st.lists(st.text(alphabet="abc", max_size=3), max_size=12))
@pytest.mark.parametrize("collide", [False, True])
def test_is_in_is_the_plain_answer(values, among, collide):
    left, right = pl.Series("v", values, dtype=pl.String), pl.Series("a", among, dtype=pl.String)
    with hashing(collide):
        got = is_in(left, right)
    assert got.to_list() == [v in set(among) for v in values]
