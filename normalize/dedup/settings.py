"""Entity-resolution settings as data: blocking rules, comparison levels, weights, clustering.

Everything that tunes the matcher lives in ``data/*.json`` / ``data/*.csv`` and is read into the
frozen dataclasses below, so a retune (or a fitted weight file) changes no code. Splink's
vocabulary: a *blocking rule* names the keys that make two records a candidate pair; a
*comparison* is an ordered list of *levels*, strongest first, ending in an ``else`` level;
each level carries Fellegi-Sunter m/u probabilities whose log-ratio is its match weight.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

DATA_DIR = Path(__file__).parent / "data"

LevelTest = Literal["null", "exact", "fuzzy", "rel_diff", "short_form", "else"]
Scorer = Literal["ratio", "token_sort_ratio", "partial_ratio", "token_set_ratio", "WRatio"]


# --- blocking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockingRule:
    """Records sharing every value of ``columns`` (prepared-frame columns) become candidates.

    Blocks larger than ``max_block_size`` are not expanded into all their pairs (that is how a
    cross product sneaks in); they fall back to a sorted-neighbourhood window of ``window``
    records ordered by ``sort_column``, or are skipped when ``window`` is 0.
    """

    name: str
    columns: tuple[str, ...]
    max_block_size: int = 60
    window: int = 6
    sort_column: str = "title_key"


# --- comparisons -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One comparison level. ``test`` decides which predicate applies:

    - ``null``: either side of ``column`` is null (no evidence, weight 0 by convention)
    - ``exact``: both sides equal
    - ``fuzzy``: rapidfuzz ``scorer`` over the two sides >= ``at_least`` (0-100)
    - ``rel_diff``: |l - r| / max(|l|, |r|) <= ``at_most`` (0 when both are 0)
    - ``short_form``: one side is a single word (3+ characters) that begins or ends the other
      side, which has more words ('copperview' / 'copperview school of business',
      'ambermere' / 'university of ambermere'): a name and its short form. Two long names
      that merely share a word ('stoneridge skills institute' / 'stoneridge institute of
      technology') do not qualify.
    - ``else``: everything left

    ``min_tokens`` (fuzzy levels): the level only applies when both sides have at least that
    many space-separated tokens. Scorers that forgive extra words (``token_set_ratio`` gives
    100 when one side's tokens are a subset of the other's) otherwise reward a short, generic
    text ('Expect about 4 hours of work per week') for being contained in anything.
    """

    label: str
    test: LevelTest
    column: str | None = None
    scorer: Scorer | None = None
    at_least: float | None = None
    at_most: float | None = None
    min_tokens: int | None = None


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[Level, ...]

    @property
    def labels(self) -> list[str]:
        return [lv.label for lv in self.levels]

    @property
    def columns(self) -> set[str]:
        return {lv.column for lv in self.levels if lv.column}

    def __post_init__(self) -> None:
        if not self.levels or self.levels[-1].test != "else":
            raise ValueError(f"comparison {self.name!r} must end with an else level")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"comparison {self.name!r} has duplicate level labels")


# --- weights -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelWeight:
    m: float
    u: float

    @property
    def weight(self) -> float:
        """Match weight in bits: log2(m / u)."""
        return math.log2(self.m / self.u)


@dataclass(frozen=True)
class Weights:
    """Fellegi-Sunter parameters: per comparison, per level label, m and u.

    ``prior`` is the probability that a *candidate pair* (one that passed blocking) is a
    match: u is estimated among candidate pairs too, so prior and u describe the same
    population and the posterior is honest for the pairs we actually score.
    """

    prior: float
    levels: Mapping[str, Mapping[str, LevelWeight]]
    # Lowest weight a comparison may contribute. Labelled data from one catalog makes some
    # disagreements look damning (a workload off by 35% never happens there); in the wild a
    # unit slip in normalization does that to true matches, so such evidence is capped.
    floors: Mapping[str, float] = field(default_factory=dict)

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def weight(self, comparison: str, label: str) -> float:
        return max(self.levels[comparison][label].weight, self.floors.get(comparison, -math.inf))

    def to_json(self) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "floors": dict(self.floors),
            "levels": {
                c: {lab: {"m": round(w.m, 6), "u": round(w.u, 6)} for lab, w in lv.items()}
                for c, lv in self.levels.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Weights:
        return cls(
            prior=float(data["prior"]),
            levels={
                c: {lab: LevelWeight(float(w["m"]), float(w["u"])) for lab, w in lv.items()}
                for c, lv in data["levels"].items()
            },
            floors={c: float(v) for c, v in data.get("floors", {}).items()},
        )


# --- clustering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterConfig:
    """How scored pairs become clusters (see cluster.py for why two passes).

    Probabilities are posterior match probabilities of a pair.
    """

    strong_probability: float = 0.99
    link_probability: float = 0.50
    # Weak links merge two clusters only when the mean probability over *all* cross pairs
    # (unscored pairs count as 0) reaches this: one weak edge cannot chain two clusters.
    average_linkage: float = 0.55
    allow_same_source: bool = False
    allow_cross_language: bool = False


# --- survivorship ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivorshipRules:
    """Which member's value survives, field by field.

    Members are ranked by ``preference`` (own listing, completeness, newest, then offering_id
    for determinism); per field the best-ranked member with a value wins. ``groups`` survive
    together from one member so a min/max pair is never stitched from two listings.
    """

    fields: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]
    own_listing_kinds: tuple[str, ...]
    preference: tuple[str, ...] = ("own_listing", "completeness", "newest")


# --- text rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextRules:
    protected_tokens: Mapping[str, str]
    title_synonyms: Mapping[str, str]
    generic_title_phrases: tuple[str, ...]
    generic_title_connectors: tuple[str, ...]
    stopwords: frozenset[str]
    org_abbreviations: Mapping[str, str]
    org_noise_tokens: frozenset[str]
    org_aliases: Mapping[str, str]  # raw alias -> raw canonical name (normalized on use)
    # credential type code -> its family: the ancestor right below the root of the taxonomy's
    # class tree (AcademicCertificate and ProfessionalCertificate -> Certificate). Sources
    # name one credential's type at different depths (a registry says Certificate where the
    # provider says Graduate Certificate), which is not the disagreement of two unrelated types.
    credential_type_families: Mapping[str, str] = field(default_factory=dict)
    # Endings that make an organization's handle out of its name (edX's 'HarvardX', 'MITx'):
    # a one-word org key ending in one, whose stem the corpus knows as an organization's word,
    # is keyed by the stem (prepare.handle_stems).
    org_handle_suffixes: tuple[str, ...] = ()


# --- the bundle --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DedupSettings:
    blocking: tuple[BlockingRule, ...]
    comparisons: tuple[Comparison, ...]
    weights: Weights
    cluster: ClusterConfig
    survivorship: SurvivorshipRules
    text: TextRules
    # source -> provider kind of the *source* (from the source registry); a listing by a
    # source whose kind is in survivorship.own_listing_kinds counts as the owner's own listing.
    source_kinds: Mapping[str, str] = field(default_factory=dict)
    # Curator decisions (data/overrides.csv): (offering_id_a, offering_id_b, relation) with
    # relation must_link or cannot_link; they win over the scores, see cluster.py.
    overrides: tuple[tuple[str, str, str], ...] = ()

    def with_overrides(self, overrides: Any) -> DedupSettings:
        """A copy with these overrides (rows of (a, b, relation) or a frame with those columns)."""
        return replace(self, overrides=parse_overrides(overrides))

    def with_weights(self, weights: Weights) -> DedupSettings:
        return replace(self, weights=weights)

    def with_cluster(self, **changes: Any) -> DedupSettings:
        return replace(self, cluster=replace(self.cluster, **changes))


def _read_json(name: str, data_dir: Path) -> Any:
    return json.loads((data_dir / name).read_text(encoding="utf-8"))


def load_blocking(data: Mapping[str, Any]) -> tuple[BlockingRule, ...]:
    defaults = {k: data[k] for k in ("max_block_size", "window") if k in data}
    return tuple(
        BlockingRule(
            name=r["name"],
            columns=tuple(r["columns"]),
            max_block_size=int(r.get("max_block_size", defaults.get("max_block_size", 60))),
            window=int(r.get("window", defaults.get("window", 6))),
            sort_column=r.get("sort_column", "title_key"),
        )
        for r in data["rules"]
    )


def load_comparisons(data: Mapping[str, Any]) -> tuple[Comparison, ...]:
    return tuple(
        Comparison(
            name=c["name"],
            levels=tuple(
                Level(
                    label=lv["label"],
                    test=lv["test"],
                    column=lv.get("column", c.get("column")),
                    scorer=lv.get("scorer"),
                    at_least=lv.get("at_least"),
                    at_most=lv.get("at_most"),
                    min_tokens=lv.get("min_tokens"),
                )
                for lv in c["levels"]
            ),
        )
        for c in data["comparisons"]
    )


def credential_type_families(
    parents: Mapping[str, str | None], levels: Mapping[str, int | None] | None = None
) -> dict[str, str]:
    """code -> family: the broadest ancestor-or-self below a root of the class tree (``parents``:
    code -> parent code, None at a root) that is at the same qualification level (``levels``:
    code -> EQF level, inherited). A root is its own family.

    AcademicCertificate and ProfessionalCertificate -> Certificate; MasterOfScienceDegree ->
    MasterDegree, which stays apart from BachelorDegree (another level).
    """
    levels = levels or {}
    families: dict[str, str] = {}
    for code in parents:
        node, seen = code, {code}
        while (
            (parent := parents.get(node))
            and parents.get(parent)
            and parent not in seen
            and levels.get(parent) == levels.get(code)
        ):
            seen.add(parent)
            node = parent
        families[code] = node
    return families


def _taxonomy_type_families() -> dict[str, str]:
    from normalize.taxonomy import load_credential_types

    types = load_credential_types()
    codes = types["code"].to_list()
    return credential_type_families(
        dict(zip(codes, types["parent"].to_list(), strict=True)),
        dict(zip(codes, types["eqf_level"].to_list(), strict=True)),
    )


def load_text_rules(data_dir: Path = DATA_DIR) -> TextRules:
    data = _read_json("text_rules.json", data_dir)
    with (data_dir / "org_aliases.csv").open(encoding="utf-8", newline="") as fh:
        aliases = {row["alias"]: row["canonical"] for row in csv.DictReader(fh)}
    return TextRules(
        protected_tokens=data["protected_tokens"],
        title_synonyms=data["title_synonyms"],
        generic_title_phrases=tuple(data["generic_title_phrases"]),
        generic_title_connectors=tuple(data["generic_title_connectors"]),
        stopwords=frozenset(data["stopwords"]),
        org_abbreviations=data["org_abbreviations"],
        org_noise_tokens=frozenset(data["org_noise_tokens"]),
        org_aliases=aliases,
        credential_type_families=_taxonomy_type_families(),
        org_handle_suffixes=tuple(data.get("org_handle_suffixes", ())),
    )


def check_weights(comparisons: tuple[Comparison, ...], weights: Weights) -> None:
    """Fail early when the weight file and the comparison levels disagree."""
    for comp in comparisons:
        have = weights.levels.get(comp.name)
        if have is None:
            raise ValueError(f"weights lack comparison {comp.name!r}")
        missing = [lab for lab in comp.labels if lab not in have]
        if missing:
            raise ValueError(f"weights for {comp.name!r} lack levels {missing}")


OVERRIDE_RELATIONS = ("must_link", "cannot_link")


def parse_overrides(rows: Any) -> tuple[tuple[str, str, str], ...]:
    """Rows of (offering_id_a, offering_id_b, relation), or a frame/CSV rows with those columns; validated."""
    if hasattr(rows, "select"):  # a Polars frame
        rows = rows.select("offering_id_a", "offering_id_b", "relation").iter_rows()
    out = []
    for row in rows:
        if isinstance(row, Mapping):
            a, b, rel = row["offering_id_a"], row["offering_id_b"], row["relation"]
        else:
            a, b, rel = row[0], row[1], row[2]
        a, b, rel = str(a or "").strip(), str(b or "").strip(), str(rel or "").strip().lower()
        if not a or not b or a == b:
            raise ValueError(f"override needs two different offering ids: {row!r}")
        if rel not in OVERRIDE_RELATIONS:
            raise ValueError(f"override relation must be one of {OVERRIDE_RELATIONS}: {row!r}")
        out.append((a, b, rel))
    pairs = {}
    for a, b, rel in out:
        key = (min(a, b), max(a, b))
        if pairs.setdefault(key, rel) != rel:
            raise ValueError(f"override says both must_link and cannot_link for {key}")
    return tuple(out)


def load_overrides(data_dir: Path = DATA_DIR) -> tuple[tuple[str, str, str], ...]:
    """data/overrides.csv (header offering_id_a,offering_id_b,relation,note); empty if absent."""
    path = data_dir / "overrides.csv"
    if not path.exists():
        return ()
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_overrides(r for r in csv.DictReader(handle) if any((v or "").strip() for v in r.values()))


def load_settings(data_dir: Path = DATA_DIR, source_kinds: Mapping[str, str] | None = None) -> DedupSettings:
    """Read every settings file of ``data_dir``."""
    rules = _read_json("rules.json", data_dir)
    comparisons = load_comparisons(rules)
    weights = Weights.from_json(_read_json("weights.json", data_dir))
    check_weights(comparisons, weights)
    surv = _read_json("survivorship.json", data_dir)
    return DedupSettings(
        blocking=load_blocking(rules["blocking"]),
        comparisons=comparisons,
        weights=weights,
        cluster=ClusterConfig(**rules.get("cluster", {})),
        survivorship=SurvivorshipRules(
            fields=tuple(surv["fields"]),
            groups=tuple(tuple(g) for g in surv["groups"]),
            own_listing_kinds=tuple(surv["own_listing_kinds"]),
            preference=tuple(surv.get("preference", SurvivorshipRules.preference)),
        ),
        text=load_text_rules(data_dir),
        source_kinds=dict(source_kinds or {}),
        overrides=load_overrides(data_dir),
    )


@lru_cache(maxsize=1)
def default_settings() -> DedupSettings:
    """The shipped settings (cached: the files are read once per process)."""
    return load_settings()
