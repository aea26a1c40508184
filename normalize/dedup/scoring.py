"""Fellegi-Sunter scoring: level weights (log2 m/u) summed into a match weight per pair.

m = P(level | the pair is a match), u = P(level | not a match). A pair's match weight is the
prior's log-odds plus the weight of each comparison's level; its match probability is
2^w / (1 + 2^w). Null levels weigh 0 by convention: a missing value is no evidence either way.

The weights are data (data/weights.json). ``fit_weights`` estimates them from labelled pairs
(e.g. the demo catalog's truth): simple counting with add-one smoothing, no EM needed when
labels exist. u is counted among *candidate* pairs (those blocking produced), the population
the model will actually score, so prior and u stay consistent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from normalize.dedup.compare import Pruning, gamma_column
from normalize.dedup.settings import Comparison, LevelWeight, Weights


def level_weight_table(comparison: Comparison, weights: Weights) -> np.ndarray:
    """Weight per level index of one comparison (null levels 0)."""
    return np.array(
        [0.0 if lv.test == "null" else weights.weight(comparison.name, lv.label) for lv in comparison.levels],
        dtype=np.float64,
    )


def pruning(comparisons: Sequence[Comparison], weights: Weights, link_probability: float) -> Pruning:
    """Pruning bounds for ``compare``: skip what cannot lift a pair to ``link_probability``."""
    return Pruning(
        prior_weight=weights.prior_weight,
        tables={c.name: level_weight_table(c, weights) for c in comparisons},
        min_weight=math.log2(link_probability / (1.0 - link_probability)),
    )


def score(compared: pl.DataFrame, comparisons: Sequence[Comparison], weights: Weights) -> pl.DataFrame:
    """``compared`` plus ``match_weight`` (bits) and ``match_probability``.

    A null level (a comparison pruned for that pair) weighs 0.
    """
    total = np.full(compared.height, weights.prior_weight, dtype=np.float64)
    for comp in comparisons:
        # The Enum's physical value is the level index: a numpy take, no string work.
        index = compared[gamma_column(comp)].to_physical().fill_null(len(comp.levels)).to_numpy()
        total += np.append(level_weight_table(comp, weights), 0.0)[index]
    probability = 1.0 / (1.0 + np.exp2(-total))
    return compared.with_columns(
        pl.Series("match_weight", total), pl.Series("match_probability", probability)
    )


def _pool_adjacent_violators(counts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Per level (strongest first) smoothed (match, non-match) counts -> counts whose ratio never
    rises down the list, pooling each run of levels that would break the order.

    Each level of a pooled run gets the run's match / non-match ratio and keeps its own share of
    the run's pairs. Weighted least squares on the log-ratio is overkill here: pooling is the
    maximum-likelihood fit under the order constraint for these binomial counts.
    """
    blocks: list[list[int]] = []  # runs of level indices

    def ratio(block: list[int]) -> float:
        return sum(counts[i][0] for i in block) / sum(counts[i][1] for i in block)

    for i in range(len(counts)):
        blocks.append([i])
        while len(blocks) > 1 and ratio(blocks[-1]) > ratio(blocks[-2]):
            last = blocks.pop()
            blocks[-1].extend(last)
    out = list(counts)
    for block in blocks:
        m_total = sum(counts[i][0] for i in block)
        u_total = sum(counts[i][1] for i in block)
        n_total = m_total + u_total
        for i in block:
            share = (counts[i][0] + counts[i][1]) / n_total
            out[i] = (m_total * share, u_total * share)
    return out


def fit_weights(
    pairs_with_levels: pl.DataFrame,
    truth: pl.DataFrame,
    comparisons: Sequence[Comparison] | None = None,
    base: Weights | None = None,
    smoothing: float = 1.0,
    min_support: int = 10,
    monotone: bool = True,
) -> Weights:
    """m/u per level and the prior, counted on labelled candidate pairs.

    ``pairs_with_levels`` needs offering_id_l, offering_id_r and the gamma_* columns (as
    ``normalize.dedup.candidate_pairs`` returns); ``truth`` is [offering_id, truth_key]. Pairs
    with an offering missing from the truth are ignored.

    ``smoothing`` is added to every level's count so a level never seen among matches still
    gets a finite (strongly negative) weight. A level seen fewer than ``min_support`` times in
    all keeps its ``base`` weight (default: the shipped weights): with both counts near zero,
    smoothing alone would turn the class-size ratio into a large, meaningless weight.

    ``monotone``: levels are listed strongest first, so a weaker level never gets a higher
    weight than a stronger one of the same comparison; where the counts say otherwise (a few
    dozen pairs where a fuzzy level happens to be purer than exact), the offending levels
    are pooled (pool adjacent violators) instead of learning the sample's accident.
    """
    if comparisons is None or base is None:
        from normalize.dedup.settings import default_settings

        comparisons = comparisons or default_settings().comparisons
        base = base or default_settings().weights
    keys = truth.select("offering_id", "truth_key")
    labelled = (
        pairs_with_levels.join(keys.rename({"offering_id": "offering_id_l", "truth_key": "key_l"}), on="offering_id_l")
        .join(keys.rename({"offering_id": "offering_id_r", "truth_key": "key_r"}), on="offering_id_r")
        .with_columns(is_match=pl.col("key_l") == pl.col("key_r"))
    )
    n_match = int(labelled["is_match"].sum())
    n_total = labelled.height
    n_non = n_total - n_match
    if n_match == 0 or n_match == n_total:
        raise ValueError("fit_weights needs both matching and non-matching labelled pairs")
    levels: dict[str, dict[str, LevelWeight]] = {}
    for comp in comparisons:
        counts = labelled.group_by(gamma_column(comp), "is_match").agg(n=pl.len())
        table = {(str(g), bool(m)): n for g, m, n in counts.iter_rows()}
        n_levels = len(comp.levels)
        fitted: dict[str, LevelWeight] = {}
        free: list[str] = []  # fitted (not null, not kept from base), strongest first
        smoothed: dict[str, tuple[float, float]] = {}
        for lv in comp.levels:
            in_match = table.get((lv.label, True), 0)
            in_non = table.get((lv.label, False), 0)
            if lv.test == "null":
                # Missing data is no evidence: keep its share, weight 0.
                m = u = (in_match + in_non + smoothing) / (n_total + smoothing * n_levels)
                fitted[lv.label] = LevelWeight(m=m, u=u)
            elif in_match + in_non < min_support and lv.label in base.levels.get(comp.name, {}):
                fitted[lv.label] = base.levels[comp.name][lv.label]
            else:
                free.append(lv.label)
                smoothed[lv.label] = (in_match + smoothing, in_non + smoothing)
        pooled = [smoothed[lab] for lab in free]
        if monotone:
            # m/u is (match count / non-match count) times a constant: ordering the count ratios orders the weights.
            pooled = _pool_adjacent_violators(pooled)
        for lab, (a, b) in zip(free, pooled, strict=True):
            fitted[lab] = LevelWeight(
                m=a / (n_match + smoothing * n_levels), u=b / (n_non + smoothing * n_levels)
            )
        levels[comp.name] = {lv.label: fitted[lv.label] for lv in comp.levels}
    return Weights(prior=n_match / n_total, levels=levels, floors=dict(base.floors))


def save_weights(weights: Weights, path: Path) -> None:
    """Write weights as the JSON that ``Weights.from_json`` reads."""
    Path(path).write_text(json.dumps(weights.to_json(), indent=1) + "\n", encoding="utf-8")
