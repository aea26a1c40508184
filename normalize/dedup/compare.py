"""Comparisons: for each candidate pair, the level each comparison lands on.

A comparison (settings.Comparison, from data/rules.json) is an ordered list of levels,
strongest first, ending in ``else``; a pair gets the first level whose test holds. The
result is one ``gamma_<comparison>`` column per comparison, an Enum of the level labels,
which scoring turns into weights and ``fit_weights`` counts.

Everything runs over whole pair arrays: values are gathered by row id, exact and numeric
tests are Polars expressions, and fuzzy scores come from ``rapidfuzz.process.cpdist`` (the
element-wise sibling of ``cdist``: n pairs in, n scores out, no n x m matrix) in C across all
cores. Fuzzy scores are only computed for pairs no stronger level has decided: most pairs of
a title block are exact and never reach the scorer.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from normalize.dedup.settings import Comparison, Level

SCORERS: dict[str, Callable[..., float]] = {
    "ratio": fuzz.ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "partial_ratio": fuzz.partial_ratio,
    # 40-150x slower than ratio: fine on a short list of undecided pairs, not in bulk.
    "token_set_ratio": fuzz.token_set_ratio,
    "WRatio": fuzz.WRatio,
}


def gamma_column(comparison: Comparison | str) -> str:
    return f"gamma_{comparison if isinstance(comparison, str) else comparison.name}"


def _side(column: str, side: str) -> pl.Expr:
    return pl.col(f"{column}_{side}")


def _score_name(level: Level) -> str:
    if level.test == "short_form":
        return f"_short_form_{level.column}"
    return f"_score_{level.column}_{level.scorer}" + (f"_{level.min_tokens}" if level.min_tokens else "")


# A short form is one word of at least this many characters ('ibm' of 'ibm skills network').
MIN_SHORT_FORM_CHARS = 3
# A fuzzy level scores each distinct pair of values once when its column has at most one
# distinct value per this many rows (awarding bodies); otherwise pair by pair (titles).
REPEATS_AT_LEAST = 4


def fuzzy_scores(left: Sequence[Any], right: Sequence[Any], scorer: str, workers: int = -1) -> np.ndarray:
    """Element-wise rapidfuzz scores (0-100, float32) of two equally long string sequences."""
    if len(left) == 0:
        return np.zeros(0, dtype=np.float32)
    return process.cpdist(left, right, scorer=SCORERS[scorer], dtype=np.float32, workers=workers)


def _pick(values: list[Any], indices: list[int]) -> Sequence[Any]:
    if len(indices) == 1:
        return [values[indices[0]]]
    return operator.itemgetter(*indices)(values) if indices else []


class _PairValues:
    """The two sides of each pair, looked up by row id (rid == row index of ``prepared``).

    String columns travel as 64-bit hashes (nulls kept): exact tests compare integers, and
    gathering millions of pairs copies no text. Fuzzy scorers get the text itself, gathered
    only for the pairs that still need a score, from one Python list per column (the strings
    are converted once per record, not once per pair).
    """

    def __init__(self, prepared: pl.DataFrame, pairs: pl.DataFrame):
        self.prepared = prepared
        self.rid_l = pairs["rid_l"]
        self.rid_r = pairs["rid_r"]
        self._text: dict[str, list[Any]] = {}
        self._long: dict[str, pl.Series] = {}
        self._words: dict[str, dict[str, np.ndarray]] = {}
        self._numbers: dict[str, tuple[np.ndarray, list[Any]] | None] = {}

    def sides(self, column: str) -> list[pl.Series]:
        series = self.prepared[column]
        if series.dtype == pl.String:
            series = self.prepared.select(
                pl.when(pl.col(column).is_null()).then(None).otherwise(pl.col(column).hash(seed=0))
            ).to_series()
        return [series.gather(self.rid_l).alias(f"{column}_l"), series.gather(self.rid_r).alias(f"{column}_r")]

    def release(self, columns: set[str]) -> None:
        """Forget the cached text and token counts of ``columns`` (their comparison is done)."""
        for column in columns:
            self._text.pop(column, None)
            self._words.pop(column, None)
            self._numbers.pop(column, None)
        for key in [k for k in self._long if k.split("\x1f", 1)[0] in columns]:
            del self._long[key]

    def long_enough(self, column: str, min_tokens: int) -> pl.Series:
        """Per pair: both sides of ``column`` have at least ``min_tokens`` tokens."""
        key = f"{column}\x1f{min_tokens}"
        ok = self._long.get(key)
        if ok is None:
            ok = self._long[key] = self.prepared.select(
                (pl.col(column).str.count_matches(" ", literal=True) + 1 >= min_tokens).fill_null(False)
            ).to_series()
        return ok.gather(self.rid_l) & ok.gather(self.rid_r)

    def short_form(self, level: Level, todo: pl.Series) -> pl.Series:
        """Per pair flagged in ``todo``: one side is a short form of the other (Level ``short_form``);
        False elsewhere. Words are numbered per record once (0: none), then compared as integers."""
        assert level.column is not None
        words = self._words.get(level.column)
        if words is None:
            key = pl.col(level.column)
            spaced = key.str.contains(" ", literal=True)
            text = self.prepared.select(
                one=pl.when(~spaced & (key.str.len_chars() >= MIN_SHORT_FORM_CHARS)).then(key),
                first=pl.when(spaced).then(key.str.extract(r"^(\S+) ", 1)),
                last=pl.when(spaced).then(key.str.extract(r" (\S+)$", 1)),
            )
            vocabulary = pl.concat([text["one"], text["first"], text["last"]]).drop_nulls().unique()
            numbers = pl.Series(range(1, vocabulary.len() + 1), dtype=pl.UInt32)
            words = self._words[level.column] = {
                c: text[c].replace_strict(vocabulary, numbers, default=0, return_dtype=pl.UInt32).to_numpy()
                for c in ("one", "first", "last")
            }
        rows = todo.arg_true()
        out = np.zeros(len(todo), dtype=bool)
        if rows.len():
            hit = np.zeros(rows.len(), dtype=bool)
            left, right = self.rid_l.gather(rows).to_numpy(), self.rid_r.gather(rows).to_numpy()
            for short_side, long_side in ((left, right), (right, left)):
                one = words["one"][short_side]
                hit |= (one != 0) & ((one == words["first"][long_side]) | (one == words["last"][long_side]))
            out[rows.to_numpy()] = hit
        return pl.Series(_score_name(level), out)

    def fuzzy(self, level: Level, todo: pl.Series) -> pl.Series:
        """Scores for pairs flagged in ``todo``; null elsewhere (stronger levels decided those)."""
        assert level.column is not None and level.scorer is not None
        if level.min_tokens:
            todo = todo & self.long_enough(level.column, level.min_tokens)
        rows = todo.arg_true()
        out = np.full(len(todo), np.nan, dtype=np.float32)
        if rows.len():
            numbered = self._numbered(level.column)
            if numbered is not None:
                out[rows.to_numpy()] = self._fuzzy_by_value(numbered, rows, level.scorer)
                return pl.Series(_score_name(level), out).fill_nan(None)
            text = self._text.get(level.column)
            if text is None and 2 * rows.len() < self.prepared.height:
                # Few pairs (a re-run whose other pairs come from the cache): only their values
                # become Python strings, not the whole column.
                column = self.prepared[level.column]
                left = column.gather(self.rid_l.gather(rows)).to_list()
                right = column.gather(self.rid_r.gather(rows)).to_list()
            else:
                if text is None:
                    text = self._text[level.column] = self.prepared[level.column].to_list()
                # itemgetter looks the strings up in C: about twice as fast as a comprehension.
                left = _pick(text, self.rid_l.gather(rows).to_list())
                right = _pick(text, self.rid_r.gather(rows).to_list())
            out[rows.to_numpy()] = fuzzy_scores(left, right, level.scorer)
        return pl.Series(_score_name(level), out).fill_nan(None)

    def _numbered(self, column: str) -> tuple[np.ndarray, list[Any]] | None:
        """Per row the number of its value in ``column`` (1..n, 0 for null) and the values by
        number, for a column whose values repeat a lot (awarding bodies: thousands of names over
        a million rows); None for one of mostly distinct values (titles, descriptions)."""
        if column not in self._numbers:
            series = self.prepared[column]
            # Which path to take is decided on an estimate of the distinct count (HyperLogLog,
            # ~0.02 s at a million rows against ~0.3 s for the exact unique of a column of
            # distinct descriptions): either path gives the same scores.
            if series.approx_n_unique() * REPEATS_AT_LEAST > series.len():
                self._numbers[column] = None
            else:
                distinct = series.drop_nulls().unique(maintain_order=True)
                numbers = pl.Series(range(1, distinct.len() + 1), dtype=pl.UInt32)
                self._numbers[column] = (
                    series.replace_strict(distinct, numbers, default=0, return_dtype=pl.UInt32).to_numpy(),
                    [None, *distinct.to_list()],
                )
        return self._numbers[column]

    def _fuzzy_by_value(self, numbered: tuple[np.ndarray, list[Any]], rows: pl.Series, scorer: str) -> np.ndarray:
        """Scores of the pairs at ``rows``, each distinct pair of values scored once (the same
        two awarding bodies meet in many candidate pairs); equal to scoring every pair."""
        numbers, values = numbered
        left = numbers[self.rid_l.gather(rows).to_numpy()].astype(np.uint64)
        right = numbers[self.rid_r.gather(rows).to_numpy()].astype(np.uint64)
        key = pl.Series("k", (left << np.uint64(32)) | right)
        del left, right
        unique = key.unique()
        packed = unique.to_numpy()
        scores = fuzzy_scores(
            _pick(values, (packed >> np.uint64(32)).tolist()), _pick(values, (packed & np.uint64(0xFFFFFFFF)).tolist()), scorer
        )
        table = pl.DataFrame([unique, pl.Series("s", scores)])
        return key.to_frame().join(table, on="k", how="left", maintain_order="left")["s"].to_numpy()


def _condition(level: Level) -> pl.Expr:
    """The predicate of one level, as an expression over the gathered pair columns."""
    if level.test == "else":
        return pl.lit(True)
    assert level.column is not None, f"level {level.label!r} needs a column"
    left, right = _side(level.column, "l"), _side(level.column, "r")
    if level.test == "null":
        return left.is_null() | right.is_null()
    if level.test == "exact":
        return left == right
    if level.test == "fuzzy":
        return pl.col(_score_name(level)) >= float(level.at_least or 0)
    if level.test == "short_form":
        return pl.col(_score_name(level))
    if level.test == "rel_diff":
        biggest = pl.max_horizontal(left.abs(), right.abs())
        rel = pl.when(biggest == 0).then(0.0).otherwise((left - right).abs() / biggest)
        return rel <= float(level.at_most or 0)
    raise ValueError(f"unknown level test {level.test!r}")


@dataclass(frozen=True)
class Pruning:
    """Stop comparing a pair once no outcome of the remaining comparisons can link it.

    Comparisons run in their configured order (cheap exact/numeric ones first, long-text
    fuzzy ones last). After each, a pair's partial match weight plus the best weight every
    remaining comparison could still add is an upper bound; below ``min_weight`` (the link
    threshold) the pair can never become a link, so its remaining comparisons are skipped and
    left null (weight 0). Exact for clustering, which ignores pairs below the link threshold;
    most candidate pairs differ in awarding body or title and never reach the costly scorers.
    ``candidate_pairs`` (for fitting) compares everything.
    """

    prior_weight: float
    tables: Mapping[str, np.ndarray]  # comparison -> weight per level index
    min_weight: float


def compare(
    prepared: pl.DataFrame,
    pairs: pl.DataFrame,
    comparisons: Sequence[Comparison],
    prune: Pruning | None = None,
) -> pl.DataFrame:
    """``pairs`` plus one ``gamma_<name>`` Enum column per comparison (null where pruned)."""
    values = _PairValues(prepared, pairs)
    # best_after[i]: the most comparisons i+1.. could still add (null levels give 0, so >= 0).
    best = [float(max(0.0, prune.tables[c.name].max())) if prune else 0.0 for c in comparisons]
    best_after = [sum(best[i + 1 :]) for i in range(len(comparisons))]
    partial = np.full(pairs.height, prune.prior_weight if prune else 0.0)
    skip: pl.Series | None = None
    gammas = []
    for i, comp in enumerate(comparisons):
        # One comparison's columns at a time (two 8-byte values per pair and column): at
        # millions of pairs, gathering every column up front held gigabytes at once.
        frame = pl.DataFrame([s for column in sorted(comp.columns) for s in values.sides(column)], height=pairs.height)
        frame, gamma = _levels(frame, comp, values, skip)
        del frame
        if not any(comp.columns & later.columns for later in comparisons[i + 1 :]):
            values.release(comp.columns)
        gammas.append(gamma)
        if prune is not None:
            table = np.append(prune.tables[comp.name], 0.0)  # last slot: pruned (null) -> 0
            index = gamma.to_physical().fill_null(len(comp.levels)).to_numpy()
            partial += table[index]
            skip = pl.Series(partial + best_after[i] < prune.min_weight)
    return pairs.with_columns(gammas)


def _levels(
    frame: pl.DataFrame, comp: Comparison, values: _PairValues, skip: pl.Series | None = None
) -> tuple[pl.DataFrame, pl.Series]:
    conditions: list[pl.Expr] = []
    decided: pl.Expr = pl.lit(False) if skip is None else pl.lit(skip)
    for level in comp.levels:
        if level.test in ("fuzzy", "short_form") and _score_name(level) not in frame.columns:
            # Only pairs that no earlier level claimed and that have both values need a score.
            todo = frame.select(
                (~decided & _side(level.column or "", "l").is_not_null() & _side(level.column or "", "r").is_not_null())
                .fill_null(False)
            ).to_series()
            score = values.fuzzy(level, todo) if level.test == "fuzzy" else values.short_form(level, todo)
            frame = frame.with_columns(score)
        condition = _condition(level).fill_null(False)
        conditions.append(condition)
        decided = decided | condition
    expr: Any = pl
    for index, condition in enumerate(conditions):
        expr = expr.when(condition).then(pl.lit(index, dtype=pl.UInt8))
    labels = comp.labels
    index_column = frame.select(expr.otherwise(pl.lit(len(labels) - 1, dtype=pl.UInt8))).to_series()
    if skip is not None:
        index_column = index_column.set(skip, None)  # type: ignore[arg-type]
    gamma = index_column.replace_strict(dict(enumerate(labels)), return_dtype=pl.Enum(labels))
    return frame, gamma.alias(gamma_column(comp))
