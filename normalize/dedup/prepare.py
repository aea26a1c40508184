"""Matching keys: the prepared frame that blocking, comparisons and clustering read.

Keys are for matching only, never for display: lowercase, accents and punctuation gone,
synonyms folded, provider prefixes/suffixes and generic words ("Specialization",
"Professional Certificate", "(Online)") removed. All of it is Polars expressions over the
whole column, so the cost is a few passes over the frame whatever its size.

Rows are sorted by ``offering_id`` and numbered (``rid``) in that order: every later step works
on integer row ids (cheap joins and gathers), and ties are broken by ``rid``, which makes the
result independent of the input row order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

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


def _rare_keys(frame: pl.DataFrame, stopwords: Iterable[str]) -> pl.DataFrame:
    """title_key -> the two rarest of its tokens (by how many offerings hold them), sorted, joined.

    Two rare tokens survive most title variations (extra words, reordering, generic words)
    while keeping blocks small; ties on frequency break alphabetically for determinism.
    Worked out once per distinct title key, weighted by how many offerings carry it.
    """
    # Keys are numbered (k) so that the sort and the group-by run on integers, not strings.
    keys = frame.group_by("title_key").agg(n=pl.len()).drop_nulls("title_key").with_row_index("k")
    tokens = (
        keys.select("k", "n", token=pl.col("title_key").str.split(" ").list.unique())
        .explode("token")
        .filter(pl.col("token").is_not_null() & (pl.col("token") != "") & ~pl.col("token").is_in(list(stopwords)))
    )
    freq = tokens.group_by("token").agg(df=pl.col("n").sum())
    rare = (
        tokens.join(freq, on="token")
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
    another vocabulary has the same keys (what the prepare cache relies on, cache.py).
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
    description alone (ROW_KEY_INPUTS), so they can be cached per offering. Lazy: the eager
    select ran the string steps column-at-once, 11.4 s against 6.8 s at 1M offerings."""
    return offerings.lazy().select(
        url_key=_url_key(pl.col("url")),
        # Descriptions are a soft signal: a cheap clean (no Unicode folding) of the first
        # 600 characters bounds the cost of long ones.
        description_sorted=sorted_tokens(_description_text(pl.col("description"))),
    ).collect()


ROW_KEY_INPUTS = ("url", "description")
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


def title_strings(offerings: pl.DataFrame, rules: TextRules, orgs: pl.DataFrame | None = None) -> pl.Series:
    """Per offering, the string its title keys are worked out from (``own_provider_titles``):
    what ``_title_keys`` and the prepare cache see. ``orgs``: ``organizations`` of the corpus."""
    if orgs is None:
        orgs, _ = organizations(pl.concat([offerings["awarding_body"], offerings["platform"]]), rules)
    aliases = alias_table(rules)

    def org_of(column: str) -> pl.Expr:
        return pl.col(column).replace_strict(orgs["value"], orgs["org"], default=None, return_dtype=pl.String)

    return own_provider_titles(
        offerings.select("title", body_key=org_of("awarding_body"), platform_key=org_of("platform")),
        provider_names(orgs, rules),
        lambda expr: org_key(expr, rules).replace(aliases),
    )


def prepare(offerings: pl.DataFrame, rules: TextRules, cache: PrepareCache | None = None) -> pl.DataFrame:
    """The prepared frame: identity, constraint columns and matching keys, one row per offering.

    ``cache`` (cache.PrepareCache): title keys and per-row keys of a previous run are reused
    where provably the same (the frame is identical either way); corpus-wide steps (organization
    keys, handle stems, vocabulary, spacing, provider names and the own-provider title cut, rare
    keys, distinct titles) are always recomputed.
    """
    if cache is not None:
        cache.load(rules)
    aliases = alias_table(rules)

    def org(expr: pl.Expr) -> pl.Expr:
        return org_key(expr, rules).replace(aliases)

    orgs, vocab = organizations(pl.concat([offerings["awarding_body"], offerings["platform"]]), rules)
    keyed_titles = title_strings(offerings, rules, orgs).alias("_keyed_title")
    distinct_titles = keyed_titles.drop_nulls().unique().to_frame("title_raw")
    if cache is None:
        titles = _title_keys(distinct_titles, rules, org, vocab)
        row_keys = _row_keys(offerings)
    else:
        titles = cache.title_keys(distinct_titles, vocab, lambda todo: _title_keys(todo, rules, org, vocab))
        row_keys = cache.row_keys(offerings, _row_keys)
    titles = titles.select("title_raw", *TITLE_COLUMNS)

    prepared = (
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
        .drop("awarding_body", "platform", "title_raw")
        .with_columns(
            credential_family=pl.col("credential_type").replace(dict(rules.credential_type_families))
        )
        .sort("offering_id")
        .with_row_index("rid")
        .collect()
    )
    del keyed_titles, distinct_titles, titles  # a cache keeps its own reference to the title keys
    rare = _rare_keys(prepared, rules.stopwords)
    prepared = prepared.with_columns(title_distinct=_distinct_titles(prepared))
    return prepared.join(rare, on="title_key", how="left", maintain_order="left").select(
        "rid", "offering_id", "source", "source_key", "fetched_at", "is_test", *KEY_COLUMNS
    )


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
