"""Provider skill names -> ESCO skills (URI and match score).

Sources name skills in their own words ("Python Programming", "Data Visualization (DataViz)",
"Leadership and Management"). ``SkillMatcher`` maps each distinct name once (and caches it);
normalization joins that per-name result onto the offerings, so the cost grows with the
number of distinct names, not with the number of offerings. Every score and threshold below
lives in ``data/skill_match.csv``; the curated look-up in ``data/lookup_skill_esco.csv``.

Names are compared as ``skill_key``: case, punctuation, "&"/"and", possessives and US/UK
spelling ("visualization"/"visualisation", "analyze"/"analyse", "behavior"/"behaviour") do
not matter. The rules, in order; the first that finds something wins:

1. A value that is itself an ESCO skill URI is kept as given (score 1).
2. Curated look-up: the name -> one or more ESCO URIs (``score_curated``), or none ("no
   ESCO skill (curated)"). A row names only the skill of the same concept, never a broader,
   narrower or related one (``data/README.md``). It comes before the labels because the
   labels are a heuristic split and ESCO reuses words: "data analysis" is an alternative of
   "statistics", "project management" one of "project commissioning" as the split reads it.
3. Exact label: the name equals a label that ``esco.parse_skills`` split out of the list: a
   preferred label scores ``score_preferred``, an alternative ``score_alternative``. Then
   with plurals folded ("Databases" = "database"), then with a parenthesis removed on either
   side ("Python (computer programming)" also answers to "Python" and "Python programming";
   "Artificial Intelligence (AI)" is looked up as "Artificial Intelligence", never as "AI"):
   ``score_variant``. The split is a heuristic, so labels it is unsure of count less: an
   alternative held by more than ``alternative_max_skills`` skills is a fragment and dropped;
   a one-word lower-case label ("planning", or "plan" cut from "plan pilotage") scores
   ``score_alternative_word``, below ``min_score``, unless it is a preferred label whose
   edge scores ``preferred_word_evidence``.
4. Label run: a name of two or more words found as a run of words in a row's label text.
   Opening the row (where the preferred label starts) its right edge must not look like the
   middle of a phrase (``run_edge_min``; ``score_run_start``); further in, both edges need
   ``run_inside_edge_min`` (``score_run``).
5. Parts: a name joining several ("Cloud Computing and Leadership Principles") is split on
   and / & / , / ; / "/" and each part looked up by rules 2-3 (scores times ``part_weight``);
   only when every part maps.
6. Fuzzy, for names of two words or more: ``rapidfuzz`` ``ratio`` (``token_sort_ratio`` only
   against a verb-first label: "Database Design" ~ "design database", but "Science
   Communication" is not "communication science") against the labels that hold one of the
   name's two rarest words and are of about its length (at most ``fuzzy_candidates``; never
   the whole list) and whose edges the split is sure of (``fuzzy_min_evidence``). It needs
   similarity ``fuzzy_min_similarity`` and agreement word by word: each word on either side
   has an alike word on the other (equal up to a plural, or one typo apart in a word of 8+
   letters: "Version Control" is not "erosion control"). Score = similarity times
   ``fuzzy_weight``.

Several skills tied on the best score: the one whose label the split is surest of wins when
it is ``ambiguity_margin`` surer than the next; otherwise the one whose preferred label is
closest to the name, at its score times ``ambiguity_weight``. A match scoring below
``min_score`` stays unmapped. A name that maps to nothing keeps its reason ("unmapped", with
the near miss in ``detail``).

``python -m normalize.taxonomy.skills match NAME ...`` shows what names map to;
``python -m normalize.taxonomy.skills bench`` times the matcher on the real-data corpus.
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import heapq
import logging
import pickle
import re
import sys
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from pathlib import Path

import polars as pl
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from normalize.digests import file_sha256
from normalize.taxonomy import DATA_DIR, TaxonomyError
from normalize.taxonomy.esco import (
    CSV_SHA256,
    ESCO_SKILL_URI,
    SPLIT_SCORE,
    EscoError,
    EscoSkill,
    esco_csv_path,
    load_skills,
    parse_skills,
    read_rows,
    write_pickle_cache,
)

log = logging.getLogger(__name__)

ALIASES_CSV = DATA_DIR / "lookup_skill_esco.csv"
UNMAPPED = "unmapped"
CURATED_NONE = "no ESCO skill (curated)"
SETTINGS_CSV = DATA_DIR / "skill_match.csv"
_URI = re.compile(ESCO_SKILL_URI)

# Settings every skill_match.csv must give (name -> allowed range).
SETTINGS: dict[str, tuple[float, float]] = {
    "min_score": (0.0, 1.0),
    "score_curated": (0.0, 1.0),
    "score_preferred": (0.0, 1.0),
    "score_alternative": (0.0, 1.0),
    "score_variant": (0.0, 1.0),
    "score_run_start": (0.0, 1.0),
    "score_run": (0.0, 1.0),
    "run_edge_min": (-9.0, 9.0),
    "alternative_max_skills": (1.0, 100.0),
    "score_alternative_word": (0.0, 1.0),
    "preferred_word_evidence": (-9.0, 9.0),
    "ambiguity_margin": (0.0, 9.0),
    "run_inside_edge_min": (-9.0, 9.0),
    "part_weight": (0.0, 1.0),
    "ambiguity_weight": (0.0, 1.0),
    "fuzzy_min_similarity": (0.0, 1.0),
    "fuzzy_weight": (0.0, 1.0),
    "fuzzy_min_evidence": (-9.0, 9.0),
    "fuzzy_candidates": (1.0, 500.0),
}

# --- keys ---------------------------------------------------------------------------------------

# US -> UK spellings ESCO uses, applied to both sides (so either spelling meets the other).
_SPELLING = [
    (re.compile(r"(?<=[a-z]{2})iz(e|es|ed|ing|ation|ations|er|ers)\b"), r"is\1"),
    (re.compile(r"(?<=[a-z]{2})yz(e|es|ed|ing|er|ers)\b"), r"ys\1"),
    (re.compile(r"\b(behavi|col|fav|hon|hum|lab|neighb|flav|harb|rum|vap|savi)or(s|al|ally|ed|ing|ite|ites)?\b"),
     r"\1our\2"),
    (re.compile(r"\b(cent|met|lit|fib|theat)er(s)?\b"), r"\1re\2"),
    (re.compile(r"\b(catalog|dialog|analog)(s)?\b"), r"\1ue\2"),
    (re.compile(r"\bprogramme(s)?\b"), r"program\1"),
    (re.compile(r"\ban(a)?esthe"), "anaesthe"),
]
_NON_WORD = re.compile(r"[^0-9a-z+#]+")
_POSSESSIVE = re.compile(r"'s\b")
_PAREN = re.compile(r"\s*\(([^()]*)\)\s*")
_PARTS = re.compile(r"\s*(?:,|;|/|&|\band\b|\+)\s*", re.IGNORECASE)


def skill_key(text: str) -> str:
    """A skill name as compared: lower case, words only ("c++" and "c#" keep their sign),
    "&" read as "and", possessives dropped, US spellings made UK ("visualization" ->
    "visualisation"). Word by word, so a label's key is the join of its words' keys."""
    return " ".join(chain.from_iterable(map(_token_words, text.split())))


@lru_cache(maxsize=1 << 18)
def _token_words(token: str) -> tuple[str, ...]:
    return tuple(_token_key(token).split())


@lru_cache(maxsize=1 << 18)
def _token_key(token: str) -> str:
    t = unicodedata.normalize("NFKC", token).lower().replace("&", " and ").replace("\u2019", "'")
    t = _NON_WORD.sub(" ", _POSSESSIVE.sub("", t).replace("'", ""))
    for pattern, repl in _SPELLING:
        t = pattern.sub(repl, t)
    return " ".join(t.split())


@lru_cache(maxsize=1 << 17)
def _singular(word: str) -> str:
    if len(word) <= 3 or word.endswith(("ss", "us", "is", "ics", "ous", "ies'")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def _word_alike(a: str, b: str) -> bool:
    """Two words alike: equal up to a plural, or one typo apart in a long word."""
    if a == b or _singular(a) == _singular(b):
        return True
    return min(len(a), len(b)) >= 8 and Levenshtein.distance(a, b) <= 1


def _words_agree(a: str, b: str) -> bool:
    """Every word of each side has an alike word on the other ("database design" ~ "design
    database"; "version control" !~ "erosion control"); with unequal word counts only a
    different spacing is allowed ("product lifecycle" ~ "product life cycle")."""
    wa, wb = a.split(), b.split()
    if len(wa) != len(wb):
        return a.replace(" ", "") == b.replace(" ", "")
    return all(any(_word_alike(x, y) for y in wb) for x in wa) and \
        all(any(_word_alike(y, x) for x in wa) for y in wb)


def stem_key(key: str) -> str:
    """``skill_key`` with plurals folded, word by word ("databases" -> "database")."""
    return " ".join(map(_singular, key.split()))


# --- data files ---------------------------------------------------------------------------------


def load_settings(path: Path | None = None) -> dict[str, float]:
    """``skill_match.csv``: setting,value,note. Every setting of ``SETTINGS``, in range."""
    path = path or SETTINGS_CSV
    if not path.is_file():
        raise TaxonomyError(f"{path}: table not found")
    values: dict[str, float] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"setting", "value"} <= set(reader.fieldnames):
            raise TaxonomyError(f"{path.name}: columns setting,value(,note) expected")
        for line, row in enumerate(reader, start=2):
            name = (row.get("setting") or "").strip()
            if name not in SETTINGS:
                raise TaxonomyError(f"{path.name} line {line}: unknown setting {name!r}")
            if name in values:
                raise TaxonomyError(f"{path.name} line {line}: {name} given twice")
            try:
                value = float(row.get("value") or "")
            except ValueError:
                raise TaxonomyError(f"{path.name} line {line}: {name} needs a number") from None
            low, high = SETTINGS[name]
            if not low <= value <= high:
                raise TaxonomyError(f"{path.name} line {line}: {name} = {value} outside [{low}, {high}]")
            values[name] = value
    if missing := set(SETTINGS) - set(values):
        raise TaxonomyError(f"{path.name}: missing setting(s) {sorted(missing)}")
    return values


def load_aliases(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """``lookup_skill_esco.csv``: key,value,note -> {skill_key: URIs} ("" value = none)."""
    path = path or ALIASES_CSV
    if not path.is_file():
        raise TaxonomyError(f"{path}: table not found")
    aliases: dict[str, tuple[str, ...]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"key", "value"} <= set(reader.fieldnames) \
                or not set(reader.fieldnames) <= {"key", "value", "note"}:
            raise TaxonomyError(f"{path.name}: columns key,value,note expected")
        for line, row in enumerate(reader, start=2):
            if None in row:
                raise TaxonomyError(f"{path.name} line {line}: too many cells")
            key = skill_key(row.get("key") or "")
            if not key:
                raise TaxonomyError(f"{path.name} line {line}: key {row.get('key')!r} has no letters or digits")
            uris = tuple(u.strip() for u in (row.get("value") or "").split(";") if u.strip())
            for uri in uris:
                if not _URI.match(uri):
                    raise TaxonomyError(f"{path.name} line {line}: {uri!r} is not an ESCO skill URI")
            if key in aliases and aliases[key] != uris:
                raise TaxonomyError(f"{path.name} line {line}: {row['key']!r} maps to two different values")
            aliases[key] = uris
    return aliases


# --- matching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkillMatch:
    """What one provider skill name maps to. ``uris`` and ``scores`` run in parallel;
    ``method`` names the rule; ``label`` the ESCO label matched (for review). When nothing
    is mapped, ``reason`` says why in a few words (``UNMAPPED``, or ``CURATED_NONE`` for a
    name the look-up marks as having no ESCO skill) and ``detail`` gives the near miss."""

    raw: str
    uris: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()
    method: str = "none"
    label: str | None = None
    reason: str | None = None
    detail: str | None = None


@dataclass
class _Hit:
    skill: int
    score: float
    label: str


@dataclass
class _Row:
    """One ESCO row's label text as keys, with the split score of each gap between keys."""

    keys: list[str] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)


def _row_keys(skill: EscoSkill) -> _Row:
    row = _Row()
    for i, token in enumerate(skill.label_tokens):
        parts = _token_words(token)
        if not parts:
            continue
        if row.keys:
            row.gaps.append(skill.gap_scores[i - 1] if i > 0 else -9.0)
        row.gaps.extend([-9.0] * (len(parts) - 1))  # "anti-virus" -> anti | virus: one word
        row.keys.extend(parts)
    return row


class SkillMatcher:
    """Distinct provider skill names -> ESCO skills, by the rules of the module docstring."""

    def __init__(self, skills: Sequence[EscoSkill], aliases: Mapping[str, Sequence[str]],
                 settings: Mapping[str, float]) -> None:
        self.skills = list(skills)
        self.settings = dict(settings)
        self.uri_index = {s.uri: i for i, s in enumerate(self.skills)}
        # A curated URI missing from this list (another ESCO version, a typo) cannot be used;
        # the rest of the look-up still can. tests/normalize/test_skills.py checks the shipped
        # look-up against the pinned list.
        unknown = sorted({u for uris in aliases.values() for u in uris} - set(self.uri_index))
        if unknown:
            log.warning("lookup_skill_esco.csv: %d URI(s) not in this ESCO list, their rows are "
                        "ignored: %s", len(unknown), ", ".join(unknown[:3]))
        self.unknown_alias_uris = tuple(unknown)
        self.aliases = {k: tuple(v) for k, v in aliases.items() if not set(v) & set(unknown)}
        # label key -> (skill, is preferred, label, evidence)
        self._exact: dict[str, list[tuple[int, bool, str, float]]] = defaultdict(list)
        self._stem: dict[str, list[tuple[int, bool, str, float]]] = defaultdict(list)
        self._variant: dict[str, list[tuple[int, bool, str, float]]] = defaultdict(list)
        self._labels: list[tuple[int, str, str]] = []  # (skill, key, label) for fuzzy
        self._label_len: list[int] = []
        self._label_evidence: list[float] = []
        self._label_words: dict[str, list[int]] = defaultdict(list)
        self._row_words: dict[str, set[int]] = defaultdict(set)
        self._rows: list[_Row] = []
        for i, skill in enumerate(self.skills):
            # How sure the split is of each label: the weaker of its two edges' split scores
            # (the row's own ends count as sure).
            edges = [9.0, *(g for g in skill.gap_scores if g >= SPLIT_SCORE), 9.0]
            for n, label in enumerate(skill.labels):
                self._index_label(i, label, n == 0, min(edges[n], edges[n + 1]))
            row = _row_keys(skill)
            self._rows.append(row)
            for word in row.keys:
                self._row_words[word].add(i)
        # Verbs: words that open preferred labels and, mostly, their definitions too ("design
        # database" / "Design ..."): labels of the form verb + object.
        opens: Counter[str] = Counter()
        opens_both: Counter[str] = Counter()
        for skill in self.skills:
            word = skill_key(skill.preferred.split(" ", 1)[0])
            opens[word] += 1
            if word and skill_key(skill.definition.split(" ", 1)[0]) == word:
                opens_both[word] += 1
        self._verbs = {w for w, n in opens_both.items() if n >= 3 and n >= opens[w] / 5}
        self._cache: dict[str, SkillMatch] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        """For the on-disk matcher cache: the index, without the per-name memo and the lock."""
        state = dict(self.__dict__)
        state.pop("_lock", None)
        state["_cache"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _index_label(self, skill: int, label: str, preferred: bool, evidence: float) -> None:
        key = skill_key(label)
        if not key:
            return
        entry = (skill, preferred, label, evidence)
        self._exact[key].append(entry)
        self._stem[stem_key(key)].append(entry)
        label_id = len(self._labels)
        self._labels.append((skill, key, label))
        self._label_len.append(len(key))
        self._label_evidence.append(evidence)
        for word in {_singular(w) for w in key.split()}:
            self._label_words[word].append(label_id)
        # "Python (computer programming)" also answers to "Python" and "Python programming".
        if (m := _PAREN.search(label)) is not None:
            bare = skill_key(_PAREN.sub(" ", label))
            qualifier = skill_key(m.group(1)).split()
            for variant in {bare, f"{bare} {qualifier[-1]}" if bare and qualifier else ""} - {"", key}:
                self._variant[variant].append(entry)

    # -- the rules, each returning hits or nothing --

    def _pick(self, entries: Iterable[tuple[int, str, float, float]], query: str) -> list[_Hit]:
        """One hit from (skill, label, score, evidence) entries: the best score. Several skills
        tied on it: the surest split wins (``evidence``); without a clear winner (less than
        ``ambiguity_margin`` apart) the one whose preferred label is closest to the name, at
        a score times ``ambiguity_weight``."""
        best: dict[int, tuple[float, float, str]] = {}
        for skill, label, score, evidence in entries:
            if skill not in best or (score, evidence) > best[skill][:2]:
                best[skill] = (score, evidence, label)
        if not best:
            return []
        top = max(score for score, _e, _l in best.values())
        tied = sorted(
            (s for s, (score, _e, _l) in best.items() if score == top),
            key=lambda s: (-best[s][1], -fuzz.token_sort_ratio(query, skill_key(self.skills[s].preferred)),
                           self.skills[s].uri),
        )
        if len(tied) > 1 and best[tied[0]][1] - best[tied[1]][1] < self.settings["ambiguity_margin"]:
            top *= self.settings["ambiguity_weight"]
            sure = best[tied[0]][1]
            tied = sorted((s for s in tied if sure - best[s][1] < self.settings["ambiguity_margin"]),
                          key=lambda s: (-fuzz.token_sort_ratio(query, skill_key(self.skills[s].preferred)),
                                         self.skills[s].uri))
        return [_Hit(tied[0], top, best[tied[0]][2])]

    def _scored(self, entries: Sequence[tuple[int, bool, str, float]], key: str,
                preferred: float, alternative: float) -> list[tuple[int, str, float, float]]:
        """Label entries with their scores. An alternative label held by more skills than
        ``alternative_max_skills`` is a fragment of the split ("algorithms" after "Swift",
        "Java", "Ruby" ...) and is dropped. A one-word lower-case label is too often a
        fragment too ("planning", "leadership"; as a preferred label "plan" cut from "plan
        pilotage"): it scores ``score_alternative_word``, unless it is a preferred label the
        split is sure of (``preferred_word_evidence``)."""
        holders = {skill for skill, is_preferred, _label, _e in entries if not is_preferred}
        trusted = len(holders) <= self.settings["alternative_max_skills"]
        one_word = " " not in key
        word_score = self.settings["score_alternative_word"]
        out = []
        for skill, is_preferred, label, evidence in entries:
            generic = one_word and not label[:1].isupper()
            if is_preferred:
                weak = generic and evidence < self.settings["preferred_word_evidence"]
                out.append((skill, label, min(preferred, word_score) if weak else preferred, evidence))
            elif trusted:
                out.append((skill, label, min(alternative, word_score) if generic else alternative, evidence))
        return out

    def _labels_of(self, key: str) -> list[_Hit]:
        s = self.settings
        if hits := self._pick(self._scored(self._exact.get(key, ()), key, s["score_preferred"],
                                           s["score_alternative"]), key):
            return hits
        variant = s["score_variant"]
        for index, lookup in ((self._stem, stem_key(key)), (self._variant, key)):
            if hits := self._pick(self._scored(index.get(lookup, ()), key, variant, variant), key):
                return hits
        return []

    def _run(self, key: str) -> list[_Hit]:
        """Rule 4: the name's words as a run in a row's label text. Opening the row, its
        right edge must not be inside a phrase (``run_edge_min``); further in, both edges need
        ``run_inside_edge_min``. One word alone never counts (too many rows hold it)."""
        words = key.split()
        if len(words) < 2:
            return []
        sets = [self._row_words.get(w) for w in words]
        if any(not s for s in sets):
            return []
        candidates = set.intersection(*sorted(sets, key=len))
        s = self.settings
        m = len(words)
        found: list[tuple[int, str, float, float]] = []
        for skill in sorted(candidates):
            keys, gaps = self._rows[skill].keys, self._rows[skill].gaps
            for i in range(len(keys) - m + 1):
                if keys[i:i + m] != words or any(g >= SPLIT_SCORE for g in gaps[i:i + m - 1]):
                    continue
                right = gaps[i + m - 1] if i + m < len(keys) else 9.0
                if i == 0 and right >= s["run_edge_min"]:
                    found.append((skill, " ".join(words), s["score_run_start"], right))
                    break
                left = gaps[i - 1] if i > 0 else 9.0
                if i > 0 and min(left, right) >= s["run_inside_edge_min"]:
                    found.append((skill, " ".join(words), s["score_run"], min(left, right)))
                    break
        return self._pick(found, key)

    def _fuzzy(self, key: str) -> tuple[list[_Hit], tuple[float, str] | None]:
        if " " not in key:
            return [], None  # one word: only exact (a near word is another word)
        # A match must agree word by word, so it holds one of the two rarest of the name's
        # words that labels use at all (both, unless one has a typo or other spacing); of
        # those labels only the ones of about the name's length can reach the similarity.
        slack = max(2, int(len(key) * (1 - self.settings["fuzzy_min_similarity"]) * 2) + 1)
        low, high = len(key) - slack, len(key) + slack
        words = sorted({w for w in map(_singular, key.split()) if w in self._label_words},
                       key=lambda w: len(self._label_words[w]))
        shared: Counter[int] = Counter()
        for w in words[:2]:
            shared.update(lid for lid in self._label_words.get(w, ())
                          if low <= self._label_len[lid] <= high)
        if not shared:
            return [], None
        limit = int(self.settings["fuzzy_candidates"])
        ranked = heapq.nsmallest(limit, shared, key=lambda lid: (-shared[lid], lid))
        scored: list[tuple[float, int]] = []
        for lid in ranked:
            label_key = self._labels[lid][1]
            sim = fuzz.ratio(key, label_key)
            # Word order may differ only against a verb-first label ("Database Design" ~
            # "design database"); swapped nouns name something else ("science
            # communication" is not "communication science").
            if label_key.split(" ", 1)[0] in self._verbs:
                sim = max(sim, fuzz.token_sort_ratio(key, label_key))
            if _words_agree(key, label_key) and self._label_evidence[lid] >= self.settings["fuzzy_min_evidence"]:
                scored.append((sim / 100, lid))
        if not scored:
            return [], None
        best_sim = max(sim for sim, _lid in scored)
        near = (best_sim, self._labels[min(lid for sim, lid in scored if sim == best_sim)][2])
        if best_sim < self.settings["fuzzy_min_similarity"]:
            return [], near
        # Labels as alike as the best (one label cut out of several rows) are told apart by
        # the split's evidence, like exact labels.
        tied = [(self._labels[lid][0], self._labels[lid][2], best_sim * self.settings["fuzzy_weight"],
                 self._label_evidence[lid]) for sim, lid in scored if sim == best_sim]
        return self._pick(tied, key), near

    def _exactish(self, key: str) -> tuple[list[_Hit], str] | None:
        """Rules 2-4 for one key (curated, labels, runs), with the rule's name."""
        if key in self.aliases:
            return [_Hit(self.uri_index[u], self.settings["score_curated"], "curated")
                    for u in self.aliases[key]], "curated"
        if hits := self._labels_of(key):
            return hits, "label"
        if hits := self._run(key):
            return hits, "label_run"
        return None

    def _keys(self, raw: str) -> list[tuple[str, float]]:
        """The name's key, then (weighted ``score_variant``) without its parenthesis. What the
        parenthesis holds is no name of its own: "Git (Software)", "Machine Learning (ML)
        Algorithms" ("ML" is a programming language in ESCO)."""
        keys = [(skill_key(raw), 1.0)]
        if _PAREN.search(raw) is not None:
            keys.append((skill_key(_PAREN.sub(" ", raw)), self.settings["score_variant"]))
        seen, out = set(), []
        for key, w in keys:
            if key and key not in seen:
                seen.add(key)
                out.append((key, w))
        return out

    def _match(self, raw: str) -> SkillMatch:
        text = " ".join(raw.split())
        if _URI.match(text):
            return SkillMatch(raw, (text,), (1.0,), "given", text)
        keys = self._keys(text)
        if not keys:
            return SkillMatch(raw, method="none", reason=UNMAPPED, detail="no letters or digits")
        for n, (key, weight) in enumerate(keys):
            if (found := self._exactish(key)) is not None:
                hits, method = found
                if method == "curated" and not hits:
                    return SkillMatch(raw, method="curated_none", reason=CURATED_NONE)
                return self._result(raw, hits, method if n == 0 else f"{method}_variant", weight)
        parts = [p for p in _PARTS.split(text) if p.strip()]
        if len(parts) > 1:
            hits: list[_Hit] = []
            for part in parts:
                found = next((f for k, _w in self._keys(part) if (f := self._exactish(k)) is not None), None)
                # Parts count only as whole labels (a run inside a row is too weak here).
                if found is None or not found[0] or found[1] == "label_run":
                    hits = []
                    break
                hits.extend(found[0])
            if hits:
                return self._result(raw, hits, "parts", self.settings["part_weight"])
        best: tuple[float, str] | None = None
        for key, weight in keys:
            hits, near = self._fuzzy(key)
            if hits:
                return self._result(raw, hits, "fuzzy", weight)
            if near is not None and (best is None or near[0] > best[0]):
                best = near
        detail = f"best {best[1]!r} at {best[0]:.2f}" if best else "no ESCO label close enough"
        return SkillMatch(raw, method="none", label=best[1] if best else None,
                          reason=UNMAPPED, detail=detail)

    def _result(self, raw: str, hits: list[_Hit], method: str, weight: float) -> SkillMatch:
        uris: list[str] = []
        scores: list[float] = []
        for hit in hits:
            uri = self.skills[hit.skill].uri
            if uri not in uris:
                uris.append(uri)
                scores.append(round(hit.score * weight, 4))
        keep = [i for i, sc in enumerate(scores) if sc >= self.settings["min_score"]]
        label = " + ".join(h.label for h in hits)
        if not keep:
            return SkillMatch(raw, method=method, label=label,
                              reason=UNMAPPED, detail=f"best {label!r} scores {max(scores):.2f} "
                                     f"< min_score {self.settings['min_score']}")
        return SkillMatch(raw, tuple(uris[i] for i in keep), tuple(scores[i] for i in keep), method, label)

    def match(self, raw: str) -> SkillMatch:
        """The mapping of one provider skill name (cached)."""
        with self._lock:
            cached = self._cache.get(raw)
        if cached is None:
            cached = self._match(raw)
            with self._lock:
                self._cache[raw] = cached
        return cached

    def table(self, names: Iterable[str | None]) -> pl.DataFrame:
        """One row per distinct non-empty name: raw, uris, scores, method, label, reason,
        detail (for review and benchmarks)."""
        distinct = sorted({n for n in names if n is not None and n.strip()})
        matches = [self.match(n) for n in distinct]
        return pl.DataFrame(
            {
                "raw": distinct,
                "uris": [list(m.uris) for m in matches],
                "scores": [list(m.scores) for m in matches],
                "method": [m.method for m in matches],
                "label": [m.label for m in matches],
                "reason": [m.reason for m in matches],
                "detail": [m.detail for m in matches],
            },
            schema=MATCH_TABLE_SCHEMA,
        )


MATCH_TABLE_SCHEMA = pl.Schema({
    "raw": pl.String(), "uris": pl.List(pl.String()), "scores": pl.List(pl.Float64()),
    "method": pl.String(), "label": pl.String(), "reason": pl.String(), "detail": pl.String(),
})


# --- the process-wide matcher -------------------------------------------------------------------

_MATCHERS: dict[tuple, SkillMatcher] = {}
_BUILD_LOCK = threading.Lock()


def build_matcher(esco_csv: Path | None = None, *, aliases: Path | None = None,
                  settings: Path | None = None) -> SkillMatcher:
    """Read and index the ESCO list and the two data files. Raises ``EscoError`` /
    ``TaxonomyError``."""
    return SkillMatcher(load_skills(esco_csv), load_aliases(aliases), load_settings(settings))


def _matcher_cache(path: Path) -> Path | None:
    """Where the built matcher for the ESCO list at ``path`` is kept: beside the list, named
    by a SHA-256 over everything the build reads (the list, the two data files, the taxonomy
    package's code) and the Python version (pickles of another interpreter are not reused).
    Only for the pinned list (as the parse cache, ``esco._parse_cache``): None for others."""
    digest = file_sha256(path)
    if digest != CSV_SHA256:
        return None
    h = hashlib.sha256()
    h.update(f"{sys.version}\0{digest}\n".encode())
    for f in (ALIASES_CSV, SETTINGS_CSV, *sorted(Path(__file__).resolve().parent.glob("*.py"))):
        h.update(f"{f.name}\0{file_sha256(f)}\n".encode())
    return path.with_name(f"{path.name}.matcher-{h.hexdigest()[:24]}.pickle")


def _load_or_build(path: Path) -> SkillMatcher:
    """The matcher for ``path``: from its on-disk cache (``_matcher_cache``, a pickle this
    module writes itself; an unreadable one is ignored) or built and cached there (an
    unwritable cache is skipped). Building takes seconds; loading a tenth of that."""
    try:
        cache: Path | None = _matcher_cache(path)
    except OSError:
        cache = None
    if cache is not None and cache.is_file():
        enabled = gc.isenabled()
        gc.disable()  # millions of small objects: the collector would run over and over
        try:
            with cache.open("rb") as fh:
                matcher = pickle.load(fh)
            if isinstance(matcher, SkillMatcher):
                return matcher
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as exc:
            log.debug("ignoring ESCO matcher cache %s: %s", cache, exc)
        finally:
            if enabled:
                gc.enable()
    matcher = build_matcher(path)
    if cache is not None:
        write_pickle_cache(matcher, cache, f"{path.name}.matcher-*.pickle")
    return matcher


def get_matcher(esco_csv: Path | None = None) -> SkillMatcher | None:
    """The matcher for the ESCO list at ``esco_csv`` (default ``esco_csv_path()``, read now),
    built once per process and file version (and kept on disk beside the list for the next
    process: ``_load_or_build``); None (with a warning) when the list is absent."""
    path = Path(esco_csv) if esco_csv is not None else esco_csv_path()
    try:
        stat = path.stat()
    except OSError:
        log.warning("ESCO skills list absent at %s: skills stay unmapped (run `make esco`)", path)
        return None
    token = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _BUILD_LOCK:
        if token not in _MATCHERS:
            try:
                _MATCHERS[token] = _load_or_build(path)
            except EscoError as exc:
                log.warning("ESCO skills list unusable: %s; skills stay unmapped", exc)
                return None
        return _MATCHERS[token]


def clear_cache() -> None:
    """Forget built matchers (after the ESCO file or a data file changed in a live process)."""
    with _BUILD_LOCK:
        _MATCHERS.clear()


__all__ = [
    "CURATED_NONE", "MATCH_TABLE_SCHEMA", "SETTINGS", "UNMAPPED", "SkillMatch", "SkillMatcher", "build_matcher", "clear_cache",
    "get_matcher", "load_aliases", "load_settings", "skill_key", "stem_key",
]


# --- command line -------------------------------------------------------------------------------


def _cmd_match(args: argparse.Namespace) -> int:
    matcher = get_matcher()
    if matcher is None:
        return 1
    for name in args.names:
        m = matcher.match(name)
        labels = {s.uri: s.preferred for s in matcher.skills}
        mapped = "; ".join(f"{u} ({labels[u]}, {sc})" for u, sc in zip(m.uris, m.scores, strict=True))
        sys.stdout.write(f"{name!r} [{m.method}] -> {mapped or m.reason}"
                         f"{' (' + m.detail + ')' if m.detail else ''}\n")
    return 0


class _Clock:
    """Wall and CPU seconds (all threads) of a block: the machine may be shared."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f} s ({self.cpu:.2f} s CPU)"


def _cmd_bench(args: argparse.Namespace) -> int:
    """Build time (cold parse, cached parse, index), the time to map every distinct skill
    name of real-data sources, and the skills step of normalization on N offerings whose
    skill lists are drawn from those sources."""
    from normalize.taxonomy.landed import raw_records
    from normalize.transforms import _skill_rows

    path = esco_csv_path()
    with _Clock() as cold:
        parsed = parse_skills(read_rows(path))
    load_skills(path)  # writes the parse cache if it was missing
    with _Clock() as warm:
        cached = load_skills(path)
    with _Clock() as index:
        matcher = SkillMatcher(cached, load_aliases(), load_settings())
    sys.stdout.write(f"ESCO list: {len(parsed)} skills; read + parse {cold}; cached parse {warm}; "
                     f"index {index}\n")
    lists = pl.concat([raw_records(s).select("skills") for s in args.sources])["skills"].to_list()
    lists = [x for x in lists if x]
    names = {n.strip() for x in lists for n in x if n and n.strip()}
    with _Clock() as mapping:
        table = matcher.table(names)
    mapped = table.filter(pl.col("uris").list.len() > 0).height
    sys.stdout.write(f"{len(names)} distinct skill names of {', '.join(args.sources)}: mapped in {mapping}, "
                     f"{mapping.wall / max(len(names), 1) * 1e3:.2f} ms each; {mapped} "
                     f"({mapped / max(len(names), 1):.0%}) map to ESCO\n")
    for method, n in table.group_by("method").len().sort("len", descending=True).iter_rows():
        sys.stdout.write(f"  {method:20} {n}\n")
    fresh = SkillMatcher(cached, load_aliases(), load_settings())  # an empty name cache
    frame = pl.DataFrame({"skills": [lists[i % len(lists)] for i in range(args.offerings)]},
                         schema={"skills": pl.List(pl.String)}).with_row_index("_row").lazy()
    with _Clock() as step:
        out = _skill_rows(frame, fresh).collect()
    per = sum(len(x) for x in lists) / len(lists)
    sys.stdout.write(f"skills step of normalization on {args.offerings} offerings ({per:.1f} names each, "
                     f"names matched afresh): {step}; {out.height} offerings with skills or notes\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m normalize.taxonomy.skills",
                                     description="Provider skill names -> ESCO skills.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("match", help="show what names map to (a curator's check)")
    p.add_argument("names", nargs="+")
    p.set_defaults(run=_cmd_match)
    p = sub.add_parser("bench", help="time building the matcher and mapping real-data skill names")
    p.add_argument("--sources", nargs="+", default=["rd_tab_online_courses", "rd_tab_coursera_search"],
                   help="real-data sources whose skill names are mapped (scrapers/sources/realdata.toml)")
    p.add_argument("--offerings", type=int, default=1_000_000,
                   help="offerings in the timed run of the normalization step")
    p.set_defaults(run=_cmd_bench)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
