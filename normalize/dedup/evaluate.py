"""Accuracy of a clustering against the truth: pairwise and B-cubed precision/recall/F1.

Pairwise counts pairs of offerings put together: precision = true pairs found / pairs
predicted; recall = true pairs found / true pairs. It is dominated by big clusters (a cluster
of n holds n(n-1)/2 pairs). B-cubed averages per offering (share of its predicted cluster
that is truly its own, share of its true cluster it was put with), so singletons count too.

Only offerings present in both ``links`` and ``truth`` are scored; the others are counted.
With nothing to find (no predicted pairs / no true pairs), precision / recall are 1.0: no
mistakes were possible.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from normalize.keys import any_duplicated


def _pairs(sizes: pl.Series) -> int:
    return int((sizes.cast(pl.Int64) * (sizes.cast(pl.Int64) - 1) // 2).sum())


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def evaluate(links: pl.DataFrame, truth: pl.DataFrame) -> dict[str, Any]:
    """Pairwise and B-cubed metrics of ``links`` [offering_id, credential_id] vs ``truth`` [offering_id, truth_key]."""
    predicted = links.select("offering_id", "credential_id")
    true = truth.select("offering_id", "truth_key")
    # An offering in two truth clusters would join twice and count pairs that do not exist.
    for name, frame in (("truth", true), ("links", predicted)):
        if any_duplicated(frame["offering_id"]):
            dup = frame.filter(pl.col("offering_id").is_duplicated())["offering_id"].unique().sort().head(3).to_list()
            raise ValueError(f"{name}: an offering_id appears more than once (e.g. {dup}): "
                             "each offering belongs to exactly one cluster")
    joined = predicted.join(true, on="offering_id", how="inner")
    n = joined.height
    pred_sizes = joined.group_by("credential_id").agg(c=pl.len())
    true_sizes = joined.group_by("truth_key").agg(t=pl.len())
    cells = (
        joined.group_by("credential_id", "truth_key")
        .agg(n=pl.len())
        .join(pred_sizes, on="credential_id")
        .join(true_sizes, on="truth_key")
    )
    tp = _pairs(cells["n"])
    predicted_pairs = _pairs(pred_sizes["c"])
    true_pairs = _pairs(true_sizes["t"])
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    if n:
        # Each offering of a cell (predicted C, true T) scores |C & T| / |C| and |C & T| / |T|.
        b_precision = float((cells["n"] ** 2 / cells["c"]).sum()) / n
        b_recall = float((cells["n"] ** 2 / cells["t"]).sum()) / n
    else:
        b_precision = b_recall = 1.0
    return {
        "n_offerings": n,
        "n_clusters": pred_sizes.height,
        "n_truth_clusters": true_sizes.height,
        "n_links_without_truth": predicted.height - n,
        "n_truth_without_links": true.height - n,
        "predicted_pairs": predicted_pairs,
        "true_pairs": true_pairs,
        "true_positive_pairs": tp,
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "pairwise_f1": _f1(precision, recall),
        "bcubed_precision": b_precision,
        "bcubed_recall": b_recall,
        "bcubed_f1": _f1(b_precision, b_recall),
    }
