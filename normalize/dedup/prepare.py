"""Matching keys: the prepared frame that blocking, comparisons and clustering read.

Keys are for matching only, never for display: lowercase, accents and punctuation gone,
synonyms folded, provider prefixes/suffixes and generic words ("Specialization",
"Professional Certificate", "(Online)") removed. All of it is Polars expressions over the
whole column, so the cost is a few passes over the frame whatever its size.

Rows are sorted by ``offering_id`` and numbered (``rid``) in that order: every later step works
on integer row ids (cheap joins and gathers), and ties are broken by ``rid``, which makes the
result independent of the input row order.

With a cache (``cache.PrepareCache``) a re-run works out only the rows whose inputs changed or
whose corpus-wide facts moved, and keeps the others as the previous run left them
(``_prepare_changed``); the frame is the same as without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from normalize.dedup.settings import TextRules

if TYPE_CHECKING:
    from normalize.dedup.cache import PrepareCache

# Columns of the prepared frame (besides the offering's own identity columns).
KEY_COLUMNS = (
    "title_norm",
    "title_distinct",
    "title_key",
    "title_sorted",
    "title_core",
    "title_prefix",
    "rare_key",
    "body_key",
    "body_sorted",
    "platform_key",
    "credential_type",
    "credential_family",
    "language",
    "workload_hours",
    "duration_weeks",
    "price_usd",
    "url_key",
    "description_sorted",
)

_TRACKING_PARAMS = r"utm_[a-z]+|gclid|fbclid|mc_cid|mc_eid|ref|referrer|affiliate|aff_id|trk"


def sorted_tokens(expr: pl.Expr) -> pl.Expr:
    """Tokens in alphabetical order: rapidfuzz's token_sort_ratio is ``ratio`` on exactly this.

    Sorting once per record (not once per pair inside the scorer) makes token-sort scoring
    about 4x cheaper, so comparisons use ``ratio`` on ``*_sorted`` columns.
    """
    return expr.str.split(" ").list.sort().list.join(" ")


def fold_text(expr: pl.Expr) -> pl.Expr:
    """Unicode-fold and lowercase: 'Crème' -> 'creme', 'ISC²' -> 'isc2'."""
    return expr.str.normalize("NFKD").str.replace_all(r"\p{Mn}+", "").str.to_lowercase().str.strip_chars()


def _null_if_empty(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.len_chars() > 0).then(expr).otherwise(None)


def clean_text(expr: pl.Expr, rules: TextRules) -> pl.Expr:
    """Folded text with punctuation replaced by single spaces ('C++ & Java' -> 'cplusplus and java').

    Apostrophes are dropped rather than spaced ("master's" -> "masters") so possessives do not
    become a stray 's' token. Expects already folded text.
    """
    protected = rules.protected_tokens
    out = expr.str.replace_many(list(protected), list(protected.values()))
    out = out.str.replace_all(r"['’`]", "").str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()
    return _null_if_empty(out)


def _map_tokens(expr: pl.Expr, mapping: Mapping[str, str], drop: Iterable[str] = ()) -> pl.Expr:
    """Replace (or drop) whole tokens of space-separated text.

    Aho-Corasick over the text padded with spaces (``str.replace_many``), which is several
    times faster than split/eval/join. A match consumes its trailing space, so a token right
    after a replaced one is missed on the first pass; the second pass catches it (targets are
    never themselves keys, so two passes reach the fixpoint).
    """
    table = dict(mapping) | {token: "" for token in drop}
    if not table:
        return expr
    patterns = [f" {k} " for k in table]
    replacements = [f" {v} " if v else " " for v in table.values()]
    padded = pl.concat_str(pl.lit(" "), expr, pl.lit(" "))
    out = padded.str.replace_many(patterns, replacements).str.replace_many(patterns, replacements)
    return _null_if_empty(out.str.replace_all(r"\s+", " ").str.strip_chars())


def org_key(expr: pl.Expr, rules: TextRules) -> pl.Expr:
    """Normalized organization name before aliasing ('The Univ. of X, Inc.' -> 'university of x')."""
    return _map_tokens(clean_text(fold_text(expr), rules), rules.org_abbreviations, rules.org_noise_tokens)


def compact(expr: pl.Expr) -> pl.Expr:
    """A key without its spaces: how 'MaplewoodStateUniversity' and 'Maplewood State University' agree."""
    return expr.str.replace_all(" ", "", literal=True)


def unify_spacing(keys: pl.Series) -> dict[str, str]:
    """Org keys that differ only in spacing -> one of them (the most spaced, then the smallest).

    Partner codes, handles and URL slugs glue an organization's words together
    ('MaplewoodStateUniversity', 'NETSECURE'); the spelled-out name in the same corpus (or the
    alias table) says where the spaces go. Only keys whose spacing actually varies are mapped.
    """
    frame = keys.drop_nulls().unique().to_frame("key").with_columns(
        compact=compact(pl.col("key")), spaces=pl.col("key").str.count_matches(" ", literal=True)
    )
    best = frame.sort(["compact", "spaces", "key"], descending=[False, True, False]).group_by(
        "compact", maintain_order=True
    ).agg(canonical=pl.col("key").first())
    mapped = frame.join(best, on="compact").filter(pl.col("key") != pl.col("canonical"))
    return dict(zip(mapped["key"].to_list(), mapped["canonical"].to_list(), strict=True))


def alias_table(rules: TextRules) -> dict[str, str]:
    """org key of every alias -> org key of its canonical name."""
    frame = pl.DataFrame(
        {"alias": list(rules.org_aliases), "canonical": list(rules.org_aliases.values())},
        schema={"alias": pl.String, "canonical": pl.String},
    ).select(a=org_key(pl.col("alias"), rules), c=org_key(pl.col("canonical"), rules))
    return {a: c for a, c in frame.iter_rows() if a and c and a != c}


def org_keys(names: pl.Series, rules: TextRules) -> dict[str, str]:
    """Distinct raw organization name -> aliased org key (computed once per distinct name).

    Keys that differ only in spacing (among these names and the alias table's canonical
    names) become one key, see ``unify_spacing``.
    """
    aliases = alias_table(rules)
    frame = names.drop_nulls().unique().to_frame("name").with_columns(
        key=org_key(pl.col("name"), rules).replace(aliases)
    )
    spacing = unify_spacing(pl.concat([frame["key"], pl.Series(list(aliases.values()), dtype=pl.String)]))
    frame = frame.with_columns(pl.col("key").replace(spacing))
    return {n: k for n, k in frame.iter_rows() if k is not None}


def _words(keys: pl.Series) -> pl.DataFrame:
    """Distinct org keys with their first and last word (null for one-word keys) and word count."""
    return keys.drop_nulls().unique().to_frame("key").with_columns(
        n_words=pl.col("key").str.count_matches(" ", literal=True) + 1,
        first=pl.col("key").str.extract(r"^(\S+) ", 1),
        last=pl.col("key").str.extract(r" (\S+)$", 1),
    )


def handle_stems(keys: pl.Series, suffixes: Iterable[str]) -> dict[str, str]:
    """One-word org keys that are a handle of a known name -> the name ('stoneridgex' -> 'stoneridge').

    Platforms name partners by handles made of the name and an ending (edX's 'HarvardX',
    'DelftX'; ``TextRules.org_handle_suffixes``); the alias table lists the famous ones by hand.
    A handle is recognized when its stem (at least 3 characters) is a word the corpus uses as
    an organization's name: a one-word key, or the first or last word of a longer one
    ('stoneridge' of 'stoneridge institute of technology'). 'fedex' stays: nothing is called 'fede'.
    """
    words = _words(keys)
    single = words.filter(pl.col("n_words") == 1)["key"]
    known = set(single.to_list()) | set(words["first"].drop_nulls().to_list()) | set(words["last"].drop_nulls().to_list())
    out: dict[str, str] = {}
    for suffix in suffixes:
        if not suffix:
            continue
        for key in single.filter(single.str.ends_with(suffix) & (single.str.len_chars() >= len(suffix) + 3)).to_list():
            stem = key[: -len(suffix)]
            if stem in known and key not in out:
                out[key] = stem
    return out


def short_forms(keys: pl.Series) -> pl.DataFrame:
    """[short, long]: a one-word org key (3+ characters) and every longer key it begins or ends.

    'copperview' -> 'copperview school of business', 'ambermere' -> 'university of ambermere':
    how sources shorten a provider's name. Only candidates: several long names may share a word.
    """
    words = _words(keys)
    single = words.filter((pl.col("n_words") == 1) & (pl.col("key").str.len_chars() >= 3)).select(short="key")
    multi = words.filter(pl.col("n_words") > 1)
    ends = pl.concat([multi.select(short="first", long="key"), multi.select(short="last", long="key")]).unique()
    return single.join(ends, on="short").sort("short", "long")


def _initials(words: pl.Expr, stopwords: list[str] | None = None) -> pl.Expr:
    """First letters of the words of space-separated text (without ``stopwords``); null under 2 letters."""
    tokens = words.str.split(" ")
    if stopwords:
        tokens = tokens.list.eval(pl.element().filter(~pl.element().is_in(stopwords)))
    letters = tokens.list.eval(pl.element().str.slice(0, 1)).list.join("")
    return pl.when(letters.str.len_chars() >= 2).then(letters)


def provider_names(orgs: pl.DataFrame, rules: TextRules) -> pl.DataFrame:
    """[org, name]: spellings (without spaces) by which a title may name its own provider ``org``.

    ``orgs``: [value (a raw name), raw_org (its key before aliasing), org (its final key)].
    Names of an organization: its keys; its initials, from the key and from the cleaned raw
    name, with and without stopwords ('Eastridge Skills Institute' -> 'esi', 'Copperton
    Institute of Risk Managers' -> 'cirm', 'Hawkstead Data Inc.' -> 'hdi'); its first and last
    word ('riverford' of 'riverford college', 'ambermere' of 'university of ambermere') unless
    the word is common among the corpus's organizations ('university', 'learning': in 5%
    of the keys and at least 3); and for a one-word key, the initials of every longer key it
    begins or ends ('cos' for 'copperton', short for 'copperton online school').
    """
    stop = sorted(rules.stopwords)
    base = orgs.select(
        "org", "raw_org", clean=clean_text(fold_text(pl.col("value")), rules)
    ).filter(pl.col("org").is_not_null())
    acronyms = pl.concat(
        [
            base.select("org", name=_initials(pl.col(c), s))
            for c in ("org", "clean")
            for s in (None, stop)
        ]
    ).drop_nulls().unique()
    words = _words(base["org"])
    counts = (
        words.select(word=pl.col("key").str.split(" ").list.unique())
        .explode("word")
        .group_by("word")
        .len()
    )
    common = counts.filter(
        (pl.col("len") >= 3) & (pl.col("len") >= 0.05 * words.height)
    )["word"].to_list()
    ends = pl.concat([words.select(org="key", name="first"), words.select(org="key", name="last")]).filter(
        pl.col("name").is_not_null()
        & (pl.col("name").str.len_chars() >= 3)
        & ~pl.col("name").is_in(stop)
        & ~pl.col("name").is_in(common)
    )
    longer = short_forms(base["org"]).join(acronyms, left_on="long", right_on="org").select(org="short", name="name")
    keys = pl.concat([base.select("org", name=compact(pl.col(c))) for c in ("org", "raw_org")])
    return pl.concat([keys, acronyms, ends, longer]).drop_nulls().unique().sort("org", "name")


# Title prefix ('ESI: ...') and suffix ('... - Willowport') candidates, as _title_keys finds them:
# the prefix ends at the first separator followed by a space (1-80 characters before it).
_PARENTHESES = r"(?:\s*\([^()]*\))+\s*$"
_SEPARATOR = r"[:|]\s+\S"
_SUFFIX = r"\s[-–—|]\s+([^-–—|:]+)$"


def own_provider_titles(rows: pl.DataFrame, names: pl.DataFrame, org: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """The title to key each row by: its title without a prefix or suffix naming the row's own
    awarding body or platform ('ESI: Applied Entrepreneurship' by Eastridge Skills Institute;
    '... - Willowport' by Willowport Institute of Technology), else the title unchanged.

    ``rows``: [title, body_key, platform_key]; ``names``: ``provider_names``. _title_keys cuts
    prefixes and suffixes that name *any* organization of the corpus by its full name; initials
    and short names are only trusted for the row's own provider ('AI: ...' by an 'Acme
    Institute' is cut, by anyone else it is a topic). The result is a plain string per row, so
    title keys stay a function of one string (what the prepare cache keys them by).
    """
    any_name = names["name"].unique().implode()
    known = names.select(pl.concat_str("org", pl.lit("\x1f"), "name")).to_series().unique().implode()

    def own(candidates: pl.Series) -> pl.Series:
        """Indices of the rows whose candidate (a title prefix or suffix, 1-80 characters) names
        their own body or platform. The pair lookup runs only on rows whose candidate names
        anyone (few: most prefixes are topics)."""
        distinct = (
            candidates.drop_nulls().unique().to_frame("value")
            .filter(pl.col("value").str.len_chars().is_between(1, 80))
            .with_columns(key=compact(org(pl.col("value"))))
            .filter(pl.col("key").is_in(any_name).fill_null(False))
        )
        named = (
            rows.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("i"), "body_key", "platform_key")
            .with_columns(value=candidates)
            .filter(pl.col("value").is_in(distinct["value"].implode()).fill_null(False))
            .join(distinct, on="value", how="left", maintain_order="left")
        )
        return named.filter(
            pl.concat_str("body_key", pl.lit("\x1f"), "key").is_in(known).fill_null(False)
            | pl.concat_str("platform_key", pl.lit("\x1f"), "key").is_in(known).fill_null(False)
        )["i"]

    # Whole-column string steps only (a when/then over a million strings costs more than the
    # regex); the cut is worked out on the few rows that have one and scattered back.
    t0 = rows.select(pl.col("title").str.replace(_PARENTHESES, "")).to_series()
    at = t0.str.find(_SEPARATOR)
    # str.find's byte offset cuts the bytes (a separator is ASCII, so a character boundary).
    prefix = t0.cast(pl.Binary).bin.slice(0, at.fill_null(0)).cast(pl.String).str.strip_chars()
    cut = own(prefix)
    t1 = t0
    if cut.len():
        rest = t0.gather(cut).cast(pl.Binary).bin.slice(at.gather(cut) + 1).cast(pl.String).str.strip_chars_start()
        t1 = t0.clone().scatter(cut, rest)
    suffix = t1.str.extract(_SUFFIX, 1)
    cut_end = own(suffix)
    out = rows["title"].clone()
    if cut.len():
        out = out.scatter(cut, t1.gather(cut))
    if cut_end.len():
        out = out.scatter(cut_end, t1.gather(cut_end).str.replace(_SUFFIX, ""))
    return out


def _generic_patterns(rules: TextRules) -> tuple[str, str]:
    # Longest phrase first so 'professional certificate' wins over 'certificate'.
    phrases = sorted(rules.generic_title_phrases, key=len, reverse=True)
    generic = "(?:" + "|".join(re.escape(p) for p in phrases) + ")"
    connectors = "(?:" + "|".join(re.escape(c) for c in rules.generic_title_connectors) + ")"
    leading = rf"^(?:{generic}\s+)+{connectors}\s+"
    trailing = rf"(?:\s+{generic})+$"
    return leading, trailing


def title_key(expr: pl.Expr, rules: TextRules) -> pl.Expr:
    """Cleaned title with synonyms folded and generic credential words stripped.

    'Professional Certificate in Data Analytics' and 'Data Analytics Specialization' both give
    'data analytics'. A title made only of generic words keeps them (never an empty key).
    """
    leading, trailing = _generic_patterns(rules)
    folded = _map_tokens(expr, rules.title_synonyms)
    stripped = folded.str.replace(leading, "").str.replace(trailing, "").str.strip_chars()
    return pl.when(stripped.str.len_chars() > 0).then(stripped).otherwise(folded)


def _org_vocabulary(org_keys: pl.Series, aliases: Mapping[str, str]) -> list[str]:
    """Names that count as a provider when they prefix or suffix a title, without spaces.

    The corpus's own awarding bodies and platforms (every spelling, before and after
    aliasing) plus every alias and canonical name of the alias table; compared without spaces
    so 'NETSECURE: ...' finds 'Net Secure'. Keys under 3 characters are left out: too likely
    to be a real word of a title.
    """
    vocab = set(org_keys.drop_nulls().unique().to_list()) | set(aliases) | set(aliases.values())
    return sorted({k.replace(" ", "") for k in vocab if len(k) >= 3})


def _rare_keys(title_keys: pl.Series, df: pl.DataFrame, stopwords: Iterable[str]) -> pl.DataFrame:
    """title_key -> the two rarest of its tokens (by ``df``, ``_token_df``: how many offerings
    hold them), sorted, joined. (The prepare cache works the same out on integers, ``_rare_pairs``.)

    Two rare tokens survive most title variations (extra words, reordering, generic words)
    while keeping blocks small; ties on frequency break alphabetically for determinism.
    Worked out once per distinct title key of ``title_keys``; a key's rare key depends on
    nothing but its tokens' frequencies.
    """
    # Keys are numbered (k) so that the sort and the group-by run on integers, not strings.
    keys = title_keys.drop_nulls().unique().to_frame("title_key").with_row_index("k")
    tokens = (
        keys.select("k", token=pl.col("title_key").str.split(" ").list.unique())
        .explode("token")
        .filter(pl.col("token").is_not_null() & (pl.col("token") != "") & ~pl.col("token").is_in(list(stopwords)))
    )
    rare = (
        tokens.join(df, on="token")
        .sort(["k", "df", "token"])
        .group_by("k", maintain_order=True)
        .agg(pl.col("token").head(2).sort().str.join(" ").alias("rare_key"))
    )
    return keys.join(rare, on="k").select("title_key", "rare_key")


def _on_unique(values: pl.Series, build: Callable[[pl.Expr], dict[str, pl.Expr]]) -> pl.DataFrame:
    """Derive columns once per distinct value: awarding bodies, platforms and titles repeat a lot.

    Returns a frame keyed by ``value`` (the raw string) with the built columns.
    """
    distinct = values.drop_nulls().unique().to_frame("value")
    return distinct.with_columns(**build(pl.col("value")))


def _provider_keys(candidate: str, org: Callable[[pl.Expr], pl.Expr], frame: pl.DataFrame) -> pl.Expr:
    """The org key without spaces of a title prefix or suffix (``candidate`` column), worked out
    once per distinct candidate; null where there is none. The candidate names a provider when
    this key is in the vocabulary."""
    distinct = frame[candidate].drop_nulls().unique()
    keys = distinct.to_frame("value").select(compact(org(pl.col("value"))))
    return pl.col(candidate).replace_strict(distinct, keys.to_series(), default=None, return_dtype=pl.String)


def _names_provider(key: str, vocab: list[str]) -> pl.Expr:
    return pl.col(key).is_in(vocab).fill_null(False)


def _title_keys(titles: pl.DataFrame, rules: TextRules, org: Callable[[pl.Expr], pl.Expr], vocab: list[str]) -> pl.DataFrame:
    """From distinct raw titles (``title_raw``) to title_norm / title_key / title_core / ....

    Titles keep their separators until provider prefixes/suffixes ('NorthfieldX: ...',
    '... - NFU') and subtitles are cut; only then is punctuation dropped.

    Each title's keys depend on nothing but the title, the rules and code, and the vocabulary
    through two facts, also returned: whether ``prefix_key`` (its candidate prefix's org key,
    null if none) is in it (``prefix_cut``), and then whether ``suffix_key`` (the candidate
    suffix of what is left) is (``suffix_cut``). A title whose two facts hold again under
    another vocabulary has the same keys (what ``_prepare_changed`` relies on).
    """
    folded = titles.with_columns(
        _folded=fold_text(pl.col("title_raw")).str.replace(r"(?:\s*\([^()]*\))+\s*$", "")
    ).with_columns(
        _prefix=pl.col("_folded").str.extract(r"^(.{1,80}?)\s*[:|]\s+\S", 1),
        _after_prefix=pl.col("_folded").str.replace(r"^.{1,80}?\s*[:|]\s+", ""),
    )
    folded = folded.with_columns(prefix_key=_provider_keys("_prefix", org, folded)).with_columns(
        prefix_cut=_names_provider("prefix_key", vocab)
    )
    folded = folded.with_columns(
        _t1=pl.when(pl.col("prefix_cut")).then(pl.col("_after_prefix")).otherwise(pl.col("_folded"))
    ).with_columns(
        _suffix=pl.col("_t1").str.extract(r"\s[-–—|]\s+([^-–—|:]+)$", 1),
        _before_suffix=pl.col("_t1").str.replace(r"\s[-–—|]\s+[^-–—|:]+$", ""),
    )
    folded = folded.with_columns(suffix_key=_provider_keys("_suffix", org, folded)).with_columns(
        suffix_cut=_names_provider("suffix_key", vocab)
    )
    return (
        folded.with_columns(
            _t2=pl.when(pl.col("suffix_cut")).then(pl.col("_before_suffix")).otherwise(pl.col("_t1"))
        )
        .with_columns(
            title_norm=clean_text(pl.col("_t2"), rules),
            # The core drops a subtitle ('Machine Learning: Essentials' -> 'machine learning').
            _core_norm=clean_text(pl.col("_t2").str.replace(r"\s*:\s.*$", ""), rules),
        )
        .with_columns(
            title_key=title_key(pl.col("title_norm"), rules),
            title_core=title_key(pl.col("_core_norm"), rules),
        )
        .with_columns(
            title_prefix=pl.col("title_key").str.slice(0, 8),
            title_sorted=sorted_tokens(pl.col("title_key")),
        )
        .select("title_raw", *TITLE_COLUMNS, *VOCABULARY_FACTS)
    )


# What _title_keys derives from a title, and the vocabulary facts those depend on.
TITLE_COLUMNS = ("title_norm", "title_key", "title_core", "title_prefix", "title_sorted")
VOCABULARY_FACTS = ("prefix_key", "prefix_cut", "suffix_key", "suffix_cut")


def _row_keys(offerings: pl.DataFrame) -> pl.DataFrame:
    """[url_key, description_sorted] in the offerings' row order: from each row's url and
    description alone. Lazy: the eager select ran the string steps column-at-once, 11.4 s
    against 6.8 s at 1M offerings."""
    return offerings.lazy().select(
        url_key=_url_key(pl.col("url")),
        # Descriptions are a soft signal: a cheap clean (no Unicode folding) of the first
        # 600 characters bounds the cost of long ones.
        description_sorted=sorted_tokens(_description_text(pl.col("description"))),
    ).collect()


ROW_KEY_COLUMNS = ("url_key", "description_sorted")


def organizations(names: pl.Series, rules: TextRules) -> tuple[pl.DataFrame, list[str]]:
    """Per distinct raw organization name (``value``): ``raw_org`` (its key before aliasing),
    ``org`` (aliased, spacing unified, a handle keyed by its stem) and ``org_sorted``; and the
    provider vocabulary of titles (``_org_vocabulary``)."""
    aliases = alias_table(rules)
    canonical = pl.Series(list(aliases.values()), dtype=pl.String)
    orgs = _on_unique(
        names, lambda v: {"raw_org": org_key(v, rules), "org": org_key(v, rules).replace(aliases)}
    )
    vocab = _org_vocabulary(pl.concat([orgs["raw_org"], orgs["org"]]), aliases)
    spacing = unify_spacing(pl.concat([orgs["org"], canonical]))
    orgs = orgs.with_columns(pl.col("org").replace(spacing))
    stems = handle_stems(pl.concat([orgs["org"], canonical]), rules.org_handle_suffixes)
    orgs = orgs.with_columns(pl.col("org").replace(stems)).with_columns(org_sorted=sorted_tokens(pl.col("org")))
    return orgs, vocab


def title_strings(
    offerings: pl.DataFrame, rules: TextRules, orgs: pl.DataFrame | None = None, names: pl.DataFrame | None = None
) -> pl.Series:
    """Per offering, the string its title keys are worked out from (``own_provider_titles``):
    what ``_title_keys`` and the prepare cache see. ``orgs``: ``organizations`` of the corpus;
    ``names``: ``provider_names(orgs)``. A row's string depends on nothing but its title,
    awarding body and platform and these two tables (the prepare cache works it out for
    changed rows only)."""
    if orgs is None:
        orgs, _ = organizations(pl.concat([offerings["awarding_body"], offerings["platform"]]), rules)
    if names is None:
        names = provider_names(orgs, rules)
    aliases = alias_table(rules)

    def org_of(column: str) -> pl.Expr:
        return pl.col(column).replace_strict(orgs["value"], orgs["org"], default=None, return_dtype=pl.String)

    return own_provider_titles(
        offerings.select("title", body_key=org_of("awarding_body"), platform_key=org_of("platform")),
        names,
        lambda expr: org_key(expr, rules).replace(aliases),
    )


# Columns of the offerings that prepare reads: a row of the prepared frame depends on these
# values of its offering and on the corpus facts (``Corpus``), nothing else. PASS_THROUGH
# columns are copied as they are (no key depends on them; they change on every crawl).
INPUT_COLUMNS = (
    "offering_id", "source", "source_key", "fetched_at", "awarding_body", "platform", "is_test", "title",
    "credential_type", "language", "workload_hours_min", "workload_hours_max", "duration_weeks_min",
    "duration_weeks_max", "price_usd", "url", "description",
)
PASS_THROUGH = ("fetched_at", "price_usd")
KEY_INPUTS = tuple(c for c in INPUT_COLUMNS if c not in PASS_THROUGH)
# What the prepare cache keeps per row besides the prepared columns: the string the row's
# title keys come from and that title's vocabulary facts; ``tokens``, ``rare_a``, ``rare_b``
# (``_token_lists``, ``_rare_pairs``) are kept too.
STATE_COLUMNS = ("title_raw", *VOCABULARY_FACTS)
# The cached state rows: the prepared columns but rid and PASS_THROUGH, STATE_COLUMNS and the
# digests of the row's KEY_INPUTS.
STATE_ROW_COLUMNS = (
    "offering_id", "source", "source_key", "is_test", *(c for c in KEY_COLUMNS if c not in PASS_THROUGH),
    *STATE_COLUMNS, "tokens", "rare_a", "rare_b", "d0", "d1",
)


@dataclass
class Corpus:
    """The corpus-wide facts a prepared row depends on: ``orgs`` (``organizations``: value,
    raw_org, org, org_sorted), the provider ``vocab``, the provider ``names``
    (``provider_names``) and ``tokens`` (the title keys' token vocabulary the rows' token ids
    point into, ``_token_lists``). Token frequencies and title repetition per source are
    counted again from the rows."""

    orgs: pl.DataFrame
    vocab: list[str]
    names: pl.DataFrame
    tokens: pl.Series


def _local_rows(
    offerings: pl.DataFrame, rules: TextRules, orgs: pl.DataFrame, keyed_titles: pl.Series, titles: pl.DataFrame,
    row_keys: pl.DataFrame, state: bool,
) -> pl.DataFrame:
    """Every prepared column but rid, rare_key and title_distinct, sorted by offering_id: a
    function of each row's inputs, the org table and the title keys (``titles``: title_raw,
    TITLE_COLUMNS and, with ``state``, VOCABULARY_FACTS). With ``state`` also title_raw, the
    facts, the offerings' digests (d0, d1, which ``offerings`` then holds) and ``_i`` (the
    row's position in ``offerings``)."""
    titles = titles.select("title_raw", *TITLE_COLUMNS, *(VOCABULARY_FACTS if state else ()))
    keyed_titles = keyed_titles.alias("_keyed_title")
    return (
        offerings.drop([*ROW_KEY_COLUMNS, keyed_titles.name], strict=False)
        .hstack([*row_keys.select(ROW_KEY_COLUMNS).get_columns(), keyed_titles])
        .lazy()
        .select(
            "offering_id",
            "source",
            "source_key",
            "fetched_at",
            "awarding_body",
            "platform",
            *((pl.col("d0"), pl.col("d1"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i")) if state else ()),
            is_test=pl.col("is_test").fill_null(False),
            title_raw=pl.col("_keyed_title"),
            credential_type=_null_if_empty(pl.col("credential_type").str.strip_chars()),
            language=fold_text(pl.col("language")).str.extract(r"^([a-z]{2,3})\b", 1),
            workload_hours=pl.mean_horizontal("workload_hours_min", "workload_hours_max"),
            duration_weeks=pl.mean_horizontal("duration_weeks_min", "duration_weeks_max"),
            price_usd=pl.col("price_usd"),
            url_key=pl.col("url_key"),  # _row_keys
            description_sorted=pl.col("description_sorted"),
        )
        .join(orgs.lazy().select(awarding_body="value", body_key="org", body_sorted="org_sorted"), on="awarding_body", how="left")
        .join(orgs.lazy().select(platform="value", platform_key="org"), on="platform", how="left")
        .join(titles.lazy(), on="title_raw", how="left")
        # The join inputs are done with: the sort and everything after carry only what is kept.
        .drop("awarding_body", "platform", *(() if state else ("title_raw",)))
        .with_columns(
            credential_family=pl.col("credential_type").replace(dict(rules.credential_type_families))
        )
        .sort("offering_id")
        .collect()
    )


def _finish(rows: pl.DataFrame) -> pl.DataFrame:
    """The prepared frame from the rows (offering_id order): row ids and the columns."""
    return rows.with_row_index("rid").select(
        "rid", "offering_id", "source", "source_key", "fetched_at", "is_test", *KEY_COLUMNS
    )


def _prepare_all(
    offerings: pl.DataFrame, rules: TextRules, digests: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, Corpus | None]:
    """Everything worked out from scratch: the rows (offering_id order) and, given the input
    ``digests`` (for the cache), the state columns (STATE_ROW_COLUMNS) and the corpus facts."""
    state = digests is not None
    offerings = offerings.select(INPUT_COLUMNS)
    if digests is not None:
        offerings = offerings.with_columns(digests.select("d0", "d1"))
    aliases = alias_table(rules)

    def org(expr: pl.Expr) -> pl.Expr:
        return org_key(expr, rules).replace(aliases)

    orgs, vocab = organizations(pl.concat([offerings["awarding_body"], offerings["platform"]]), rules)
    names = provider_names(orgs, rules)
    keyed_titles = title_strings(offerings, rules, orgs, names)
    titles = _title_keys(keyed_titles.drop_nulls().unique().to_frame("title_raw"), rules, org, vocab)
    rows = _local_rows(offerings, rules, orgs, keyed_titles, titles, _row_keys(offerings), state)
    del keyed_titles, titles
    rows = rows.with_columns(title_distinct=_distinct_titles(rows))
    if not state:
        rare = _rare_keys(rows["title_key"], _token_df(rows["title_key"], rules.stopwords), rules.stopwords)
        return rows.join(rare, on="title_key", how="left", maintain_order="left"), None
    lists, tokens = _token_lists(rows["title_key"], pl.Series("token", [], pl.String), rules.stopwords)
    first, second = _rare_pairs(lists, tokens)
    rows = rows.with_columns(
        lists, rare_key=_rare_strings(first, second, tokens),
        rare_a=pl.Series(first, dtype=pl.UInt32), rare_b=pl.Series(second, dtype=pl.UInt32),
    )
    return rows, Corpus(orgs, vocab, names, tokens)


def prepare(offerings: pl.DataFrame, rules: TextRules, cache: PrepareCache | None = None) -> pl.DataFrame:
    """The prepared frame: identity, constraint columns and matching keys, one row per offering.

    ``cache`` (cache.PrepareCache): the previous run's prepared rows and corpus facts. Rows
    whose KEY_INPUTS are unchanged keep their prepared values unless a corpus fact they
    depend on moved; the rest are worked out again, and so are the corpus-dependent columns of
    the rows a change reaches (``_prepare_changed``). The frame is identical either way.
    """
    if cache is None:
        return _finish(_prepare_all(offerings, rules)[0])
    previous = cache.load(rules, offerings)
    rows: pl.DataFrame | None = None
    origin: np.ndarray | None = None
    if previous is not None and offerings.height:
        try:
            pool, live, corpus = previous
            rows, corpus, origin = _prepare_changed(offerings, rules, cache.digests, pool, live, corpus, cache.stats)
        except Exception as exc:  # noqa: BLE001 - a cache that does not fit is ignored, never trusted
            cache.stats.status = f"ignored: {type(exc).__name__}: {exc}"
            cache.stats.extra.clear()
            rows, origin = None, None
    if rows is None:
        rows, corpus = _prepare_all(offerings, rules, cache.digests)
        cache.stats.titles_computed = rows["title_raw"].drop_nulls().n_unique()
        cache.stats.rows_computed = offerings.height
        cache.stats.titles_reused = cache.stats.rows_reused = 0
    assert corpus is not None
    cache.keep(rows.select(STATE_ROW_COLUMNS), corpus, origin)
    return _finish(rows)


def _is_in(column: str, values: pl.Series) -> pl.Expr:
    return pl.col(column).is_in(values.implode()).fill_null(False)


def _changed_orgs(old: pl.DataFrame, new: pl.DataFrame) -> pl.Series:
    """Raw organization names in both tables whose org or org_sorted differ."""
    both = new.join(old, on="value", how="inner", suffix="_old")
    return both.filter(
        pl.col("org").ne_missing(pl.col("org_old")) | pl.col("org_sorted").ne_missing(pl.col("org_sorted_old"))
    )["value"]


def _facts_hold(vocab: list[str]) -> pl.Expr:
    """A title's vocabulary facts hold under ``vocab``: its candidate prefix names a provider
    now exactly when it did, and so does its candidate suffix (null facts never hold)."""
    return ((_names_provider("prefix_key", vocab) == pl.col("prefix_cut"))
            & (_names_provider("suffix_key", vocab) == pl.col("suffix_cut"))).fill_null(False)


def _prepare_changed(
    offerings: pl.DataFrame, rules: TextRules, digests: pl.DataFrame, pool: pl.DataFrame, live: np.ndarray,
    corpus: Corpus, stats: Any,
) -> tuple[pl.DataFrame, Corpus, np.ndarray]:
    """The rows and corpus facts (as ``_prepare_all(offerings, rules, digests)`` gives them)
    from the previous run's and ``digests``; and per row, the ``pool`` row it is equal to
    (-1 for rows worked out or patched in this run). The previous run's state rows are
    ``pool[live]`` (``live``: row numbers into ``pool``, in offering_id order; the pool may hold
    rows no longer live), never gathered as a whole.

    A new row takes the old row of equal digests (of KEY_INPUTS, offering_id included) as it
    was (PASS_THROUGH columns from the new row), unless a corpus fact it depends on moved,
    which is checked fact by fact:

    - its awarding body's or platform's org keys (the org table is worked out again: it is
      a function of the corpus's distinct names);
    - its title string (the own-provider cut): it depends on the row's title and org keys and
      on the provider names table; when that table moved, every row's string is worked out
      again and the rows whose string moved are redone;
    - its title's vocabulary facts (``_title_keys``), checked when the vocabulary moved;
    - title_distinct: worked out again for every title_norm a changed, new or removed row
      holds (its repetition per source is counted over the rows of that title_norm only);
    - rare_key: the two rarest tokens of every row are picked again on the rows' token ids
      (frequencies counted over all rows); the string is rebuilt where the pair moved.

    The other rows (new, changed or redone) are prepared from their inputs against the new
    corpus facts (title keys of a title string the old rows hold, with facts that still hold,
    are taken from them). Raises on anything unexpected in the cache (the caller then
    prepares everything).
    """
    aliases = alias_table(rules)

    def org(expr: pl.Expr) -> pl.Expr:
        return org_key(expr, rules).replace(aliases)

    pool = pool.select(STATE_ROW_COLUMNS)
    at_live = pl.Series("live", live, dtype=pl.UInt32)
    n_old = len(live)
    # 1. Old row (j, in offering_id order) of every new row whose inputs are unchanged.
    matched = digests.select("d0", "d1").join(
        pool.select("d0", "d1")[at_live].with_row_index("j"), on=["d0", "d1"], how="left", maintain_order="left",
        validate="1:1",
    )["j"]
    if matched.len() != offerings.height:
        raise ValueError("row lookup changed the row count")
    keep = matched.is_not_null()
    # 2. Corpus facts, and the kept rows a moved fact reaches.
    orgs, vocab = organizations(pl.concat([offerings["awarding_body"], offerings["platform"]]), rules)
    moved_orgs = _changed_orgs(corpus.orgs, orgs)
    if moved_orgs.len():
        keep &= ~offerings.select(_is_in("awarding_body", moved_orgs) | _is_in("platform", moved_orgs)).to_series()
    names = provider_names(orgs, rules)
    if not names.equals(corpus.names):  # both sorted
        keep &= title_strings(offerings, rules, orgs, names).eq_missing(pool["title_raw"].gather(at_live.gather(matched)))
    if vocab != corpus.vocab:
        facts = pl.DataFrame([pool[c].gather(at_live.gather(matched)) for c in STATE_COLUMNS])
        keep &= facts.select(pl.col("title_raw").is_null() | _facts_hold(vocab)).to_series()
    keep = keep.fill_null(False)
    # 3. The rows worked out again: new, changed or reached by a moved fact.
    todo = (~keep).arg_true()
    sub = offerings.select(INPUT_COLUMNS)[todo].with_columns(digests[todo].select("d0", "d1"))
    keyed = title_strings(sub, rules, orgs, names)
    wanted = keyed.drop_nulls().unique()
    known = (  # a pool row's title keys hold for its title string wherever its facts do
        pool.filter(_is_in("title_raw", wanted))
        .select("title_raw", *TITLE_COLUMNS, *VOCABULARY_FACTS)
        .unique("title_raw", keep="any")
        .filter(_facts_hold(vocab))
    )
    rest = wanted.to_frame("title_raw").join(known.select("title_raw"), on="title_raw", how="anti")
    titles = pl.concat([known, _title_keys(rest, rules, org, vocab).select(known.columns)], how="vertical")
    fresh = _local_rows(sub, rules, orgs, keyed, titles, _row_keys(sub), state=True)
    stats.titles_computed = rest.height
    stats.titles_reused = known.height
    stats.rows_computed = todo.len()
    stats.rows_reused = offerings.height - todo.len()
    # 4. Kept old rows (still in offering_id order) and the fresh ones (sorted), interleaved
    # by one gather over both (cheaper than filtering and merging the wide frame); _i is each
    # row's position in the offerings (for the PASS_THROUGH columns).
    kept_j = matched.filter(keep).sort().to_numpy().astype(np.int64)
    kept_old = np.zeros(n_old, dtype=bool)
    kept_old[kept_j] = True
    position = np.zeros(pool.height, dtype=np.uint32)
    position[live[matched.filter(keep).to_numpy()]] = keep.arg_true().cast(pl.UInt32).to_numpy()
    gone = pool[at_live.filter(pl.Series(~kept_old))]
    columns = [c for c in STATE_ROW_COLUMNS if c not in ("rare_key", "title_distinct", "tokens", "rare_a", "rare_b")]
    lists, tokens = _token_lists(fresh["title_key"], corpus.tokens, rules.stopwords)
    fresh = fresh.select(
        *columns, lists, rare_key=pl.lit(None, pl.String), title_distinct=pl.lit(None, pl.String),
        rare_a=pl.lit(NO_TOKEN, pl.UInt32), rare_b=pl.lit(NO_TOKEN, pl.UInt32),
        _i=todo.cast(pl.UInt32).gather(fresh["_i"]), _fresh=pl.lit(True),
    ).select(*STATE_ROW_COLUMNS, "_i", "_fresh")
    kept_pool = live[kept_j].astype(np.int64)
    at = pool["offering_id"].gather(kept_pool).search_sorted(fresh["offering_id"], side="left").to_numpy()
    order = np.insert(kept_pool, at.astype(np.int64), pool.height + np.arange(fresh.height, dtype=np.int64))
    # One chunk first: a gather from the many chunks a Parquet read gives costs ~10x more.
    rows = pl.concat(
        [pool.with_columns(_i=pl.Series(position), _fresh=pl.lit(False)), fresh], how="vertical", rechunk=True
    )[pl.Series(order)]
    # 5. title_distinct of every title_norm a removed or fresh row holds.
    norms = pl.concat([gone["title_norm"], fresh["title_norm"]]).drop_nulls().unique()
    redo = rows.select(pl.col("_fresh") | _is_in("title_norm", norms)).to_series().arg_true()
    distinct = _distinct_titles(rows[redo])
    patched = redo.filter(distinct.ne_missing(rows["title_distinct"].gather(redo))).to_numpy()
    rows = rows.with_columns(rows["title_distinct"].scatter(redo, distinct))
    # 6. rare_key: the two rarest tokens of every row, on token ids (a few integer passes);
    # the string is built again where the pair moved and for the fresh rows.
    first, second = _rare_pairs(rows["tokens"], tokens)
    moved = rows["_fresh"].to_numpy() | (first != rows["rare_a"].to_numpy()) | (second != rows["rare_b"].to_numpy())
    rare_redo = pl.Series(np.flatnonzero(moved), dtype=pl.UInt32)
    rows = rows.with_columns(
        rows["rare_key"].scatter(rare_redo, _rare_strings(first[moved], second[moved], tokens)),
        *(offerings[c].gather(rows["_i"]) for c in PASS_THROUGH),
        rare_a=pl.Series(first, dtype=pl.UInt32), rare_b=pl.Series(second, dtype=pl.UInt32),
    ).drop("_i", "_fresh")
    stats.extra["rows_redone"] = {"title_distinct": redo.len(), "rare_key": rare_redo.len()}
    origin = np.where(order < pool.height, order, -1)
    origin[patched] = -1  # (fresh rows are -1 already)
    origin[moved] = -1
    return rows, Corpus(orgs, vocab, names, tokens), origin


def _token_df(title_keys: pl.Series, stopwords: Iterable[str]) -> pl.DataFrame:
    """[token, df]: per token of the title keys (stopwords and empty ones left out), how many
    of the keys (one per offering) hold it."""
    keys = title_keys.drop_nulls().to_frame("title_key").group_by("title_key").agg(n=pl.len())
    return (
        keys.select("n", token=pl.col("title_key").str.split(" ").list.unique())
        .explode("token")
        .filter(pl.col("token").is_not_null() & (pl.col("token") != "") & ~pl.col("token").is_in(list(stopwords)))
        .group_by("token")
        .agg(df=pl.col("n").sum())
    )


def _token_lists(title_keys: pl.Series, vocabulary: pl.Series, stopwords: Iterable[str]) -> tuple[pl.Series, pl.Series]:
    """Per title key, its distinct tokens (stopwords and empty ones left out, as ``_rare_keys``
    counts them) as ids into ``vocabulary`` (List[UInt32]; null for a null key), and the
    vocabulary with this frame's new tokens appended (sorted), so ids stay valid across runs."""
    tokens = title_keys.to_frame("title_key").select(
        pl.col("title_key").str.split(" ").list.unique()
        .list.eval(pl.element().filter((pl.element() != "") & ~pl.element().is_in(list(stopwords))))
    ).to_series()
    seen = tokens.explode().drop_nulls().unique()
    new = seen.filter(~seen.is_in(vocabulary.implode())).sort()
    vocabulary = pl.concat([vocabulary, new]).rename("token")
    ids = pl.int_range(vocabulary.len(), dtype=pl.UInt32, eager=True)
    lists = tokens.to_frame("t").select(
        pl.col("t").list.eval(pl.element().replace_strict(vocabulary, ids, return_dtype=pl.UInt32))
    ).to_series()
    return lists.rename("tokens"), vocabulary


def _rare_pairs(lists: pl.Series, vocabulary: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The two rarest tokens of every row's title key (``_token_lists``), as ids (``NO_TOKEN``
    where there is none; the rarer one first), the frequency of a token being how many of the
    rows hold it: what ``_rare_keys`` picks, worked out on integers."""
    lengths = lists.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = lists.explode().drop_nulls().to_numpy().astype(np.int64)
    if len(flat) != lengths.sum():
        raise ValueError("token lists: unexpected nulls")
    freq = np.bincount(flat, minlength=vocabulary.len())
    alphabetical = np.empty(vocabulary.len(), dtype=np.int64)
    alphabetical[vocabulary.arg_sort().to_numpy()] = np.arange(vocabulary.len())
    order = np.lexsort((alphabetical, freq))  # by frequency, then token
    rank = np.empty(vocabulary.len(), dtype=np.int64)
    rank[order] = np.arange(vocabulary.len())
    first = np.full(len(lengths), NO_TOKEN, dtype=np.int64)
    second = np.full(len(lengths), NO_TOKEN, dtype=np.int64)
    some = lengths > 0
    if some.any():
        starts = (np.cumsum(lengths) - lengths)[some]
        r = rank[flat]
        low = np.minimum.reduceat(r, starts)
        masked = np.where(r == np.repeat(low, lengths[some]), len(rank), r)
        next_low = np.minimum.reduceat(masked, starts)
        first[some] = order[low]
        two = next_low < len(rank)
        second[np.flatnonzero(some)[two]] = order[next_low[two]]
    return first, second


NO_TOKEN = (1 << 32) - 1


def _rare_strings(first: pl.Series, second: pl.Series, vocabulary: pl.Series) -> pl.Series:
    """rare_key from the ids of the two rarest tokens: the two sorted and joined by a space
    (one token alone; null for none)."""
    def word(ids: np.ndarray) -> pl.Series:
        at = pl.Series(ids, dtype=pl.UInt32)
        return vocabulary.gather(pl.select(pl.when(pl.lit(at) != NO_TOKEN).then(pl.lit(at))).to_series())

    return pl.DataFrame({"a": word(first), "b": word(second)}).select(
        pl.when(pl.col("b").is_null()).then(pl.col("a"))
        .when(pl.col("a") < pl.col("b")).then(pl.concat_str("a", pl.lit(" "), "b"))
        .otherwise(pl.concat_str("b", pl.lit(" "), "a"))
        .alias("rare_key")
    ).to_series()


# A description of fewer tokens is a tagline or a counter ("Programming Principles",
# "10,364 enrolled on this course"), not the course's text: comparing it with another
# listing's full description says nothing, so it counts as missing (weight 0) rather than
# as a disagreement (the description's `else` weighs about -3.7 bits).
MIN_DESCRIPTION_TOKENS = 8


def _description_text(description: pl.Expr) -> pl.Expr:
    cleaned = _null_if_empty(
        description.str.slice(0, 600).str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()
    )
    return pl.when(cleaned.str.count_matches(" ", literal=True) + 1 >= MIN_DESCRIPTION_TOKENS).then(cleaned)


def _distinct_titles(prepared: pl.DataFrame) -> pl.Series:
    """title_norm where no source lists that title twice, else null.

    A source lists a credential once, so a title no source repeats names at most one
    credential per source: two sources agreeing on it verbatim is far stronger evidence than
    a title that one platform carries for several providers ('Data Analytics' by five
    universities). The ``exact_distinct`` title level reads this column; its weight is fitted
    like any other. Counted per (title, source, is_test), so test records do not spoil it.
    """
    # A group-by and a join: window functions over string keys took a minute at 1M rows.
    keys = prepared.select("title_norm", "source", "is_test")
    repeated = (
        keys.drop_nulls("title_norm")
        .group_by("title_norm", "source", "is_test")
        .len()
        .filter(pl.col("len") > 1)
        .select("title_norm", "is_test")
        .unique()
        .with_columns(_repeated=pl.lit(True))
    )
    return (
        keys.join(repeated, on=["title_norm", "is_test"], how="left", maintain_order="left")
        .select(pl.when(pl.col("title_norm").is_not_null() & pl.col("_repeated").is_null()).then(pl.col("title_norm")))
        .to_series()
        .alias("title_distinct")
    )


def _url_key(url: pl.Expr) -> pl.Expr:
    """Canonical URL: no scheme, no 'www.', no fragment, no tracking parameters, no trailing '/'."""
    out = (
        url.str.strip_chars()
        .str.to_lowercase()
        .str.replace(r"^[a-z][a-z0-9+.-]*://", "")
        .str.replace(r"^www\.", "")
        .str.replace(r"#.*$", "")
        .str.replace_all(rf"[?&](?:{_TRACKING_PARAMS})=[^&]*", "")
        .str.replace(r"^([^?]*)&", "$1?")
        .str.replace(r"[?&]+$", "")
        .str.replace(r"/+$", "")
    )
    return _null_if_empty(out)
