"""Exact checks on key columns of large frames (uniqueness, equal key sets, membership),
cheaper than the plain Polars calls on strings.

Each first works on the keys' 64-bit hashes (Polars ``hash``/``hash_rows``: one pass over the
values, then integer work): distinct hashes prove distinct keys. Only where hashes are equal is
the answer read from the keys themselves, so every result is exact; a hash collision costs the
plain call's time, never a wrong answer. At a million 20-character ids, ``is_duplicated().any()``
took ~0.6 s and ``n_unique`` ~0.3 s on this machine (November 2026, a slow day), their hash
versions ~0.05 s.
"""

from __future__ import annotations

import polars as pl


def _hashes(values: pl.Series | pl.DataFrame) -> pl.Series:
    return values.hash() if isinstance(values, pl.Series) else values.hash_rows()


def any_duplicated(values: pl.Series | pl.DataFrame) -> bool:
    """Whether a value (a Series) or a row (a DataFrame) occurs more than once (nulls equal to
    each other, as in ``is_duplicated``)."""
    if len(values) < 2:
        return False
    hashes = _hashes(values)
    if hashes.n_unique() == len(hashes):
        return False
    return bool(values.is_duplicated().any())


def same_unique_keys(left: pl.Series, right: pl.Series) -> bool:
    """Whether two key columns hold the same values, each value once on each side, and no null
    (a one-to-one match of their rows)."""
    n = len(left)
    if len(right) != n or left.null_count() or right.null_count():
        return False
    if not n:
        return True
    lh, rh = left.hash(), right.hash()
    if lh.n_unique() == n and rh.n_unique() == n:
        # Both sides' hashes distinct: sorted, the i-th hashes must be equal and so must their
        # keys (a key whose hash is the other side's hash of another key is not on that side,
        # whose hashes are distinct). A sort of the hashes costs ~a third of a join on them.
        lo, ro = lh.arg_sort(), rh.arg_sort()
        return bool((lh.gather(lo) == rh.gather(ro)).all()) and bool((left.gather(lo) == right.gather(ro)).all())
    if left.is_duplicated().any() or right.is_duplicated().any():
        return False
    return bool(left.is_in(right.implode()).all())


def is_in(values: pl.Series, among: pl.Series) -> pl.Series:
    """``values.is_in(among)`` of values without nulls, as booleans: the values whose hash is
    among ``among``'s hashes, then of those the ones whose value is (compared only against the
    few ``among`` values with such a hash). For a few matches in a million ids (the credential
    ids a re-run's new clusters could clash with) that is ~0.06 s instead of ~0.3 s."""
    hits = values.hash().is_in(among.hash().implode())
    if not hits.any():
        return hits
    candidates = among.filter(among.hash().is_in(values.filter(hits).hash().implode()))
    return hits & values.is_in(candidates.implode())
