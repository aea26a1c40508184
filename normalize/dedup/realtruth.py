"""A truth for entity resolution from the real-data corpus, and the blind run judged on it.

Several files of ../shared/realdata list the same course, and say so with an exact, shared
key: the Coursera URL slug (Coursera_courses.csv, Online_Courses.csv's Coursera rows), the
FutureLearn URL slug (fl.json, Online_Courses.csv's FutureLearn rows), the Udemy course id
(udemy_courses.csv, the Udemy API page) and the Udacity course key (udacity.json,
Online_Courses.csv's Udacity rows). ``truth_keys`` derives that key from each offering's URL
(or, for API sources whose native id *is* the platform's id, from ``source_key``); every
offering with a key is a truth row, so singletons count against false merges too.

``blind`` then hides the key from the matcher: ``url`` becomes null and ``source_key`` an
opaque hash, so no blocking rule or comparison can use them and it must match on what the
records say (title, awarding body, platform, type, language, description, ...).

Same-source pairs: a source lists a course once (within-source repeats are rejected upstream
as duplicate_source_key) and the matcher never pairs two listings of one source, so truth
pairs must be cross-source. A few repeats slip past the upstream key (one URL with another
query string or title spacing); ``build`` keeps the first listing per (key, source) and
reports how many it dropped, so every truth pair is cross-source.

Sources without any key (Coursera search cards, the FutureLearn network scrape: no URL, no
id) are left out of the truth run: nothing could score them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

# URL patterns that name one course on a platform: (key prefix, regex with one group).
URL_KEYS: tuple[tuple[str, str], ...] = (
    # /learn/<slug>, /specializations/<slug>, /professional-certificates/<slug>: the kind is
    # part of the key (a course and a specialization can share a slug).
    ("coursera", r"coursera\.org/((?:learn|specializations|professional-certificates|projects)/[^/?#]+)"),
    ("futurelearn", r"futurelearn\.com/(?:courses|programs|degrees|microcredentials|experttracks)/([^/?#]+)"),
    ("udacity", r"udacity\.com/course/[^?#]*--([a-z]+\d+)"),
)
# Sources whose native id is the platform's own id: platform -> key prefix.
NATIVE_ID_PLATFORMS: Mapping[str, str] = {"Udemy": "udemy", "Udacity": "udacity"}

# Sources of the truth run (realdata registry names).
REAL_TRUTH_SOURCES: tuple[str, ...] = (
    "rd_tab_online_courses",
    "rd_tab_coursera_courses",
    "rd_tab_udemy_courses",
    "rd_api_udemy_courses",
    "rd_api_udacity_catalog",
    "rd_tab_futurelearn_fl",
)


def truth_keys(offerings: pl.DataFrame) -> pl.DataFrame:
    """[offering_id, source, truth_key] for every offering whose course key is derivable."""
    url = pl.col("url").str.to_lowercase()
    from_url = pl.coalesce(
        [pl.concat_str(pl.lit(prefix + ":"), url.str.extract(pattern, 1)) for prefix, pattern in URL_KEYS]
    )
    native = pl.coalesce(
        [
            pl.when((pl.col("platform") == platform) & pl.col("source_key").str.contains(r"^[a-z]*\d+$"))
            .then(pl.concat_str(pl.lit(prefix + ":"), pl.col("source_key").str.to_lowercase()))
            for platform, prefix in NATIVE_ID_PLATFORMS.items()
        ]
    )
    return (
        offerings.select("offering_id", "source", truth_key=pl.coalesce(native, from_url))
        .filter(pl.col("truth_key").is_not_null())
    )


def blind(offerings: pl.DataFrame) -> pl.DataFrame:
    """Offerings with url null and source_key an opaque hash: the key is out of the matcher's reach."""
    opaque = pl.Series(
        "source_key",
        [hashlib.sha256(f"blind\x1f{s}\x1f{k}".encode()).hexdigest()[:16] for s, k in offerings.select("source", "source_key").iter_rows()],
        dtype=pl.String,
    )
    return offerings.with_columns(opaque, url=pl.lit(None, dtype=pl.String))


@dataclass
class RealTruth:
    offerings: pl.DataFrame  # blinded, only offerings with a truth key
    truth: pl.DataFrame  # [offering_id, truth_key]
    stats: dict[str, Any]


def build(frames: Mapping[str, pl.DataFrame]) -> RealTruth:
    """Truth and blinded offerings from normalized frames per source (registry name -> offerings)."""
    offerings = pl.concat([f for f in frames.values() if f.height], how="vertical_relaxed")
    all_keys = truth_keys(offerings)
    # One listing per course per source: a source's second listing of a key is a repeat its
    # upstream source key missed (Online_Courses.csv lists some Coursera URLs twice, with
    # other query strings or title spacing). Keeping the first (by offering_id) makes every
    # truth pair cross-source, which is all a matcher that never pairs one source's listings
    # can be asked to find.
    keys = all_keys.sort("offering_id").unique(["truth_key", "source"], keep="first", maintain_order=True)
    sizes = keys.group_by("truth_key").agg(n=pl.len(), sources=pl.col("source").n_unique())
    pair = (pl.col("n") * (pl.col("n") - 1) // 2)
    per_source = keys.group_by("truth_key", "source").agg(n=pl.len())
    stats = {
        "offerings": offerings.height,
        "keyed_offerings": all_keys.height,
        "same_source_repeats_dropped": all_keys.height - keys.height,
        "truth_offerings": keys.height,
        "truth_clusters": sizes.height,
        "multi_source_clusters": int((sizes["sources"] > 1).sum()),
        "true_pairs": int(sizes.select(pair.sum()).item()),
        "same_source_true_pairs": int(per_source.select(pair.sum()).item()),  # 0 by construction
        "keyed_by_source": dict(keys.group_by("source").agg(n=pl.len()).sort("source").iter_rows()),
    }
    blinded = blind(offerings.join(keys.select("offering_id"), on="offering_id", how="semi"))
    return RealTruth(blinded, keys.select("offering_id", "truth_key"), stats)


def load_frames(sources: Sequence[str] = REAL_TRUTH_SOURCES) -> dict[str, pl.DataFrame]:
    """Crawl (file:// URLs, the real spiders) and normalize each realdata source."""
    import tempfile
    from pathlib import Path

    from normalize.transforms import normalize, read_landing
    from scrapers.registry import PROJECT_ROOT, load_sources
    from scrapers.run import crawl

    registry = PROJECT_ROOT / "scrapers" / "sources" / "realdata.toml"
    known = load_sources(registry)
    kinds = {n: s.provider_kind for n, s in known.items()}
    frames: dict[str, pl.DataFrame] = {}
    with tempfile.TemporaryDirectory(prefix="credcat-realtruth-") as tmp:
        for name in sources:
            crawl(known[name], "realdata", Path(tmp), registry=registry, timeout=600)
            raw, _ = read_landing([Path(tmp) / name / "realdata"])
            frames[name] = normalize(raw.lazy(), provider_kinds=kinds).offerings
    return frames


def evaluate_real(frames: Mapping[str, pl.DataFrame], settings: Any = None) -> dict[str, Any]:
    """Blind resolve + evaluate on the real truth: metrics plus the truth's own statistics."""
    from normalize.dedup import evaluate, resolve_report

    real = build(frames)
    report = resolve_report(real.offerings, settings)
    metrics = evaluate(report.links, real.truth)
    return {**metrics, "truth": real.stats, "pairs_compared": report.stats.get("pairs_compared")}
