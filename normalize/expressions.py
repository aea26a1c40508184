"""Column expressions that clean and parse raw catalog values.

Every public function takes and returns a ``pl.Expr`` so that the steps in ``transforms`` stay
lazy and vectorized. Most parsing is Polars regex (Rust) over the whole column. A Python
function runs only where a well-kept library is the right tool (ftfy for mojibake, html-text
for markup, price-parser for prices, langcodes/pycountry in transforms); those run through
``map_batches`` once per *distinct* value that needs them (catalog values repeat a lot: "$49",
"English"), and values that cannot need the library (pure ASCII for ftfy, no ``<``/``&`` for
HTML) skip it, so the Python cost grows with the number of distinct dirty values, not rows.

Units and conventions (documented once here, relied on by transforms and tests):
- workload is hours of learner effort; ``parse_workload`` returns the stated figure and whether
  it is per week (edX effort "3:00" is hours per week);
- duration is calendar weeks; a year is 52 weeks and a month 52/12 weeks;
- an ISO 8601 duration with only a time part (PT10H) is effort (hours); one with a date part
  (P4W, P6M) is calendar length (weeks), whichever raw field it came in;
- ranges keep both ends; "up to 6 hours" has no minimum, "10+ hours" has no maximum.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ftfy
import html_text
import polars as pl
from price_parser import Price

WEEKS_PER_YEAR = 52.0  # the catalog convention ("1 year" = 52 weeks), not 365.25 / 7
WEEKS_PER_MONTH = WEEKS_PER_YEAR / 12
DAYS_PER_WEEK = 7.0

# ftfy defaults straighten curly quotes and fold full-width characters; both change correct
# text, so they are off: we repair encodings, we do not restyle.
_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, fix_character_width=False)

_NUM = r"\d+(?:\.\d+)?"
# A minus sign right before a figure ("-5 weeks", "pt-10h"), not a dash between two ("3-5",
# "self-paced-6 weeks"): the character before it is no letter or digit. Parsers capture it
# (group ``neg``) and refuse the value: a negative quantity is a data error, never its absolute value.
_SIGN = r"(?P<neg>(?:^\s*pt?|^|[^\p{L}\p{N}])-)?"
# Exponent notation ("1e30", "2.5E-3") is no way a catalog states a figure; parsers capture it
# after the mantissa and refuse the value rather than read "1e400" as 1 (or as 400).
_EXP = r"e[+-]?\d+"
# The first figure of a text carries a minus sign: "-50 USD", "$-0.01", "€ -1.000,00", "-$50",
# "−5 weeks", "PT-10H"; not "Free - $49" (a dash apart from the figure is punctuation) nor
# "$49 (-20%)" (not the first figure). Valid as a Python and as a Polars (Rust) regex.
NEGATIVE_FIRST = (
    "^(?:\\s*[pP][tT]?|[^0-9]*?(?:^|[^\\w]))[-\u2010-\u2015\u2212][^\\w\\s]{0,3}[0-9]"
)
# Numbers in a form no catalog uses for a price: exponent notation, hexadecimal.
_NOT_DECIMAL = r"[0-9][eE][-+]?[0-9]|\b0[xX][0-9a-fA-F]+\b"


# --- running a Python function once per distinct value -----------------------------------------


def map_distinct(
    expr: pl.Expr,
    fn: Callable[[str], Any],
    return_dtype: pl.DataType,
    *,
    only_if: str | None = None,
) -> pl.Expr:
    """Apply ``fn`` to each distinct non-null value of a String column.

    With ``only_if`` (a regex) only matching values are passed to ``fn`` and the others are
    returned unchanged, so the return dtype must then be String; a batch with no matching
    value costs one regex scan.
    """

    def apply(s: pl.Series) -> pl.Series:
        if only_if is not None:
            idx = s.str.contains(only_if).fill_null(False).arg_true()
            if idx.len() == 0:
                return s
            todo = s.gather(idx)
        else:
            todo = s
        uniq = todo.drop_nulls().unique()
        table = pl.DataFrame(
            {"k": uniq, "v": pl.Series("v", [fn(v) for v in uniq.to_list()], dtype=return_dtype)}
        )
        mapped = (
            todo.to_frame("k")
            .join(table, on="k", how="left", maintain_order="left", nulls_equal=False)
            .get_column("v")
        )
        if only_if is not None:
            return s.clone().scatter(idx, mapped).alias(s.name)
        return mapped.alias(s.name)

    return expr.map_batches(apply, return_dtype=return_dtype, is_elementwise=True)


# --- text ---------------------------------------------------------------------------------------


def _fix_text(value: str) -> str:
    """The common case first: the whole value is UTF-8 that was decoded as Windows-1252, and
    encoding it back gives the text (microseconds, where ftfy takes about a millisecond).
    Anything else (mixed text, Latin-1, C1 controls, double mojibake) goes to ftfy."""
    try:
        fixed = value.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return ftfy.fix_text(value, _FTFY)
    return fixed if not _SUSPECT.search(fixed) else ftfy.fix_text(value, _FTFY)


# UTF-8 read as Latin-1/Windows-1252 turns every multi-byte character into a lead letter
# U+00C2-U+00F4 followed by a continuation character (U+0080-U+00BF or one of the cp1252
# punctuation marks); C1 controls and box-drawing characters (cp437) are the other tells.
# Correct text ("é", "naïve", "São") almost never has such a pair, so only suspects reach ftfy.
_MOJIBAKE_SUSPECT = (
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
    "|[\u0080-\u009f]|[\u2500-\u257f]"
)


_SUSPECT = re.compile(_MOJIBAKE_SUSPECT)


def fix_mojibake(expr: pl.Expr) -> pl.Expr:
    """Repair text decoded with the wrong codec ("cafÃ©" -> "café", "â€™" -> "’", "Â·" -> "·").

    ftfy is the reference tool for this; only values with a mojibake signature are passed to
    it, so clean text, accented or not, costs one vectorized regex scan.
    """
    return map_distinct(expr, _fix_text, pl.String(), only_if=_MOJIBAKE_SUSPECT)


_TAG = re.compile(r"<[A-Za-z!/?][^>]*>")  # as browsers read a tag: "a < b" is text
# lxml refuses C0 controls other than tab/newline/CR and the non-characters U+FFFE/U+FFFF;
# vertical tab and form feed are whitespace to a reader. collapse_whitespace drops the others
# afterwards anyway, so nothing a reader sees is lost by dropping them before parsing.
_XML_REFUSED = re.compile("[\x00-\x08\x0e-\x1f\x7f\ufffe\uffff]")
_XML_SPACE = re.compile("[\x0b\x0c]")
_HIDDEN_ELEMENT = re.compile(
    r"<\s*(script|style|noscript|template|head|title|iframe|object)\b.*?(?:<\s*/\s*\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)|<!\[CDATA\[.*?(?:\]\]>|\Z)", re.DOTALL)
_DECODE_PASSES = 3  # escaped twice ("&lt;b&gt;") is common; deeper goes to the fallback


def _decode_and_strip(text: str) -> str:
    """Fallback without a parser: decode entities, then remove hidden elements, comments and
    tags, again until nothing changes (each round shortens the text, so it ends). Decoding
    first: removing tags first would let entity-escaped markup decode back into markup."""
    while True:
        out = _TAG.sub(" ", _COMMENT.sub(" ", _HIDDEN_ELEMENT.sub(" ", html.unescape(text))))
        if out == text:
            return out
        text = out


def _html_to_text(value: str) -> str:
    text = _XML_SPACE.sub(" ", _XML_REFUSED.sub("", value))
    try:
        # Double-escaped sources ("&lt;b&gt;") decode to markup; another pass removes it.
        for _ in range(_DECODE_PASSES):
            text = html_text.extract_text(text, guess_layout=True)
            if not _TAG.search(text):
                return text
    except (ValueError, TypeError):  # what lxml still refuses
        pass
    return _decode_and_strip(text)


# The vectorized path (below) handles what catalog descriptions almost always are: tags and
# the common named entities. Anything else goes to the HTML parser, value by value.
_BASIC_ENTITIES = {"&nbsp;": " ", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'"}
_PARSER_NEEDED = (
    r"(?i)<!--|<!\[CDATA\[|&(?:#[0-9]+|#x[0-9a-f]+|[a-z][a-z0-9]*);"
)
# Elements whose content is not text: left to the parser (unclosed ones included).
_HIDDEN = r"(?i)<(?:script|style|noscript|template|head|title|iframe|object)\b"
_DOUBLE_BREAK = r"(?i)</?(?:p|div|h[1-6]|pre|blockquote|section|article|header|footer|nav|aside|table|tr|form|fieldset|figure|main)\b[^>]*>"
_SINGLE_BREAK = r"(?i)<(?:br|li|dt|dd|hr)\b[^>]*>|</?(?:ul|ol|dl)\b[^>]*>"
_ANY_TAG = r"<[A-Za-z!/?][^>]*>"


def _strip_markup(s: pl.Series) -> pl.Series:
    """Tags removed with layout kept (paragraph-like tags a blank line, list items and <br>
    a line), the basic entities decoded. Values with hidden elements never come here."""
    s = (s.str.replace_all(_DOUBLE_BREAK, "\n\n")
         .str.replace_all(_SINGLE_BREAK, "\n").str.replace_all(_ANY_TAG, ""))
    for entity, char in _BASIC_ENTITIES.items():
        s = s.str.replace_all(entity, char, literal=True)
    return s.str.replace_all("&amp;", "&", literal=True)


def _html_batch(s: pl.Series) -> pl.Series:
    idx = s.str.contains(r"[<&]").fill_null(False).arg_true()
    if idx.len() == 0:
        return s
    todo = s.gather(idx)
    fast = _strip_markup(todo)
    others = todo.str.replace_all(r"&(?:nbsp|lt|gt|quot|amp|apos|#39);", "")
    slow_idx = (others.str.contains(_PARSER_NEEDED) | todo.str.contains(_HIDDEN)
                | fast.str.contains(_ANY_TAG)).arg_true()
    if slow_idx.len():
        slow_in = todo.gather(slow_idx)
        uniq = slow_in.unique()
        table = pl.DataFrame({"k": uniq, "v": pl.Series("v", [_html_to_text(v) for v in uniq.to_list()], dtype=pl.String)})
        slow = slow_in.to_frame("k").join(table, on="k", how="left", maintain_order="left").get_column("v")
        fast = fast.scatter(slow_idx, slow)
    return s.clone().scatter(idx, fast).alias(s.name)


def html_to_text(expr: pl.Expr) -> pl.Expr:
    """Plain text of an HTML fragment: tags gone, script/style content gone, entities decoded,
    block elements on their own lines. Values without ``<`` or ``&`` are left as they are.

    Only values with ``<`` or ``&`` are touched. Tags and the basic entities are handled by
    vectorized regexes; values with comments, CDATA, other entities, or markup left after
    decoding (double-escaped "&lt;b&gt;") go to an HTML parser (html_text/lxml), once per
    distinct value: at a million descriptions the parser alone would take minutes.
    """
    return expr.map_batches(_html_batch, return_dtype=pl.String(), is_elementwise=True)


# Characters no reader should get: C0 controls but tab/LF/VT/FF/CR (whitespace, collapsed
# below), DEL, C1 controls but NEL (whitespace), the bidi embeddings, overrides and isolates
# (U+202A-202E, U+2066-2069: they reorder what a reader sees), zero-width space and BOM.
# One character class, so removing them all costs the one pass the last two always cost.
INVISIBLE = r"[\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F\x{200B}\x{202A}-\x{202E}\x{2066}-\x{2069}\x{FEFF}]"


def collapse_whitespace(expr: pl.Expr, *, keep_newlines: bool = False) -> pl.Expr:
    """Runs of whitespace become one space; with ``keep_newlines`` paragraph breaks survive
    (at most one blank line). Control characters, bidi overrides/isolates, zero-width spaces
    and BOMs go too (``INVISIBLE``). Empty results become null."""
    expr = expr.str.replace_all(INVISIBLE, "")
    if keep_newlines:
        out = (
            expr.str.replace_all(r"\r\n?", "\n")
            # Runs and non-space whitespace only: replacing every single space by itself
            # costs five times more on prose.
            .str.replace_all(r"[^\S\n]{2,}|[^\S\n ]", " ")
            .str.replace_all(r" ?\n ?", "\n")
            .str.replace_all(r"\n{3,}", "\n\n")
            .str.strip_chars()
        )
    else:
        out = expr.str.replace_all(r"\s{2,}|[^\S ]", " ").str.strip_chars()
    # ``out`` once: an expression named twice runs twice when it holds a Python UDF
    # (html_to_text, fix_mojibake), which common-subexpression elimination does not merge.
    return out.replace("", None)


def clean_text(expr: pl.Expr, *, multiline: bool = False) -> pl.Expr:
    """Markup stripped, mojibake repaired, whitespace collapsed; empty -> null."""
    return collapse_whitespace(fix_mojibake(html_to_text(expr)), keep_newlines=multiline)


def plain_text(expr: pl.Expr) -> pl.Expr:
    """A raw value kept as the source wrote it, minus what must not travel: markup and
    entities (``html_to_text``), control and bidi characters; whitespace collapsed, empty ->
    null. The encoding is left alone (no mojibake repair): raw copies are provenance."""
    return collapse_whitespace(html_to_text(expr))


# What makes a value unsafe to pass on as it is: a tag or entity start, an INVISIBLE character,
# a vertical tab or form feed (whitespace to a reader, a control character to a terminal).
NEEDS_CLEANING = r"[<&\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\x{202A}-\x{202E}\x{2066}-\x{2069}]"


def sanitize_text(expr: pl.Expr) -> pl.Expr:
    """``plain_text`` for the values that need it (``NEEDS_CLEANING``), the others unchanged:
    for text passed on verbatim where it is mostly clean (list elements kept raw, values quoted
    in mapping notes). A column without such a value costs one regex scan. A value that was
    nothing but markup becomes null."""

    def apply(s: pl.Series) -> pl.Series:
        idx = s.str.contains(NEEDS_CLEANING).fill_null(False).arg_true()
        if idx.len() == 0:
            return s
        done = s.gather(idx).to_frame("v").select(plain_text(pl.col("v"))).to_series()
        return s.clone().scatter(idx, done).alias(s.name)

    return expr.map_batches(apply, return_dtype=pl.String(), is_elementwise=True)


# --- keys for vocabulary look-ups --------------------------------------------------------------


def norm_key(expr: pl.Expr) -> pl.Expr:
    """Key for exact look-ups: prefix/URI stripped ("ceterms:", "https://.../"), lowercase,
    everything but letters, digits, '+' and '#' removed ("Professional Certificate",
    "ProfessionalCertificate" and "professional-certificate" give one key)."""
    return (
        expr.str.strip_chars()
        .str.replace(r"^https?://\S*[/#]", "")
        .str.replace(r"^[A-Za-z][A-Za-z0-9_-]{0,30}:(\S)", "$1")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}+#]+", "")
    )


def keyword_text(expr: pl.Expr) -> pl.Expr:
    """Text prepared for whole-word keyword search: lowercase, separators doubled, padded.

    Every separator run becomes two spaces so that adjacent keywords each keep one space on
    both sides (the Rust regex engine has no look-around, and Aho-Corasick has no ``\\b``).
    """
    return pl.concat_str(
        pl.lit("  "),
        expr.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}+#]+", "  "),
        pl.lit("  "),
    )


def keyword_pattern(key: str) -> str:
    """The search pattern of one keyword, in the form ``keyword_text`` produces."""
    words = re.sub(r"[^\w+#]+", " ", key.lower()).split()
    return " " + "  ".join(words) + " "


def match_keywords(expr: pl.Expr, keywords: Mapping[str, str]) -> pl.Expr:
    """Values of the keywords found in the text, in text order (leftmost, then longest).

    ``keywords`` maps patterns made by ``keyword_pattern`` to values. Returns List[String].
    """
    if not keywords:
        return pl.lit([], dtype=pl.List(pl.String())).alias("kw")
    patterns = sorted(keywords, key=lambda p: (-len(p), p))  # longest first wins a tie
    found = keyword_text(expr).str.extract_many(patterns, leftmost=True)
    return found.list.eval(pl.element().replace_strict(dict(keywords), default=None))


def lookup_exact(expr: pl.Expr, exact: Mapping[str, str]) -> pl.Expr:
    """Value of the whole string in an exact table keyed by ``norm_key``; null if absent."""
    if not exact:
        return pl.lit(None, dtype=pl.String())
    return norm_key(expr).replace_strict(dict(exact), default=None, return_dtype=pl.String())


def blank_to_null(expr: pl.Expr) -> pl.Expr:
    """Look-up tables use "" for 'recognised, maps to nothing'; downstream wants null."""
    return pl.when(expr != "").then(expr)


# --- numbers and quantities --------------------------------------------------------------------

_NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}  # fmt: skip


def quantity_text(expr: pl.Expr) -> pl.Expr:
    """Lowercase text with numbers in one form: dashes unified, "1,000" -> "1000",
    "1,5" -> "1.5", "one"/"a"/"an" before a unit -> "1", small number words -> digits."""
    out = (
        expr.str.to_lowercase()
        .str.replace_all("[\u2010-\u2015\u2212]", "-")
        .str.replace_all("[\u00a0\u202f\u2009]", " ")
        .str.replace_all(r"(\d),(\d{3})\b", "${1}${2}")
        .str.replace_all(r"(\d),(\d)", "${1}.${2}")
        # "2 hours a week" is a rate; mark it before "a week" can become "1 week".
        .str.replace_all(
            r"\b(hours?|hrs?|h|minutes?|mins?)\s+(?:a|an|each|every)\s+(week|day|month)", "${1} per ${2}"
        )
        .str.replace_all(r"\b(?:a|an|one|single)\s+(hour|week|month|year|day|minute|semester)", "1 ${1}")
        .str.replace_all(r"\bhalf\s+(?:an?\s+)?(hour|day)", "0.5 ${1}")
    )
    for word, digit in _NUMBER_WORDS.items():
        out = out.str.replace_all(rf"\b{word}\b", digit)
    return out


def _staged(fields: Mapping[str, pl.Expr], *stages: Mapping[str, pl.Expr], keep: Sequence[str]) -> pl.Expr:
    """A struct computed in stages: later stages read earlier fields with ``pl.field``.

    Polars' common-subexpression elimination does not reach into nested when/struct trees, so
    a parser written as one big expression re-runs its regexes once per reference (20x
    slower, measured). Staging evaluates every regex exactly once.
    """
    out = pl.struct(**fields)
    names = list(fields)
    for stage in stages:
        out = out.struct.with_fields(**stage)
        names += [n for n in stage if n not in names]
    drop = [n for n in names if n not in keep]
    return out.struct.drop(drop) if drop else out


# A word sources put between the figure and its unit: "36 total hours", "6 full weeks".
_FILLER = r"(?:total|estimated|approx(?:imate)?|video|study|learning|content|full|calendar|course)"


def _range_pattern(unit: str) -> str:
    """Regex of '[qualifier] [-]a[-b][+] unit[+]' with named groups lo_q, hi_q, neg, a, ea, b,
    eb, plus, plus2 (``ea``/``eb``: an exponent after a figure)."""
    return (
        r"(?:(?P<lo_q>up to|less than|under|at most|max(?:imum)?|<)\s*"
        r"|(?P<hi_q>at least|more than|min(?:imum)?|>)\s*)?"
        rf"{_SIGN}(?P<a>{_NUM})(?P<ea>{_EXP})?(?:\s*(?:-|to|or)\s*(?P<b>{_NUM})(?P<eb>{_EXP})?)?"
        rf"\s*(?P<plus>\+)?\s*(?:{_FILLER}\s+)?(?:{unit})\b(?P<plus2>\s*(?:\+|or more))?"
    )


def _refused(groups: str) -> pl.Expr:
    """A ``_range_pattern`` match whose figures cannot be taken: negative or in exponent notation."""
    g = pl.field(groups)
    return (g.struct.field("neg").is_not_null() | g.struct.field("ea").is_not_null()
            | g.struct.field("eb").is_not_null())


def _range_bounds(groups: str, scale: float | pl.Expr = 1.0) -> tuple[pl.Expr, pl.Expr]:
    """(min, max) of a ``_range_pattern`` match held in struct field ``groups``; both null
    where the match is refused (``_refused``)."""
    g = pl.field(groups)
    ok = ~_refused(groups)
    a = pl.when(ok).then(g.struct.field("a").cast(pl.Float64) * scale)
    b = pl.when(ok).then(g.struct.field("b").cast(pl.Float64) * scale)
    no_min = g.struct.field("lo_q").is_not_null()
    no_max = (
        g.struct.field("hi_q").is_not_null()
        | g.struct.field("plus").is_not_null()
        | g.struct.field("plus2").is_not_null()
    )
    return pl.when(~no_min).then(a), pl.when(~no_max).then(pl.coalesce(b, a))


_ISO_DURATION = (
    r"^\s*p(?:(?P<y>\d+(?:\.\d+)?)y)?(?:(?P<mo>\d+(?:\.\d+)?)m)?(?:(?P<w>\d+(?:\.\d+)?)w)?"
    r"(?:(?P<d>\d+(?:\.\d+)?)d)?(?:t(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<mi>\d+(?:\.\d+)?)m)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)s)?)?\s*$"
)
_ISO_DATE_PARTS = ("y", "mo", "w", "d")
_ISO_TIME_PARTS = ("h", "mi", "s")


def parse_iso_duration(expr: pl.Expr) -> pl.Expr:
    """ISO 8601 duration -> struct{weeks, hours}: ``weeks`` from the date part (Y/M/W/D),
    ``hours`` from a time-only value (PT10H, PT1H30M). Mixed values (P1DT2H) count as calendar
    length. Null fields where the text is no ISO duration.

    Written as a regex rather than isodate so that it stays vectorized; the grammar is fixed,
    and the tests cross-check it against isodate.
    """
    g = expr.str.to_lowercase().str.extract_groups(_ISO_DURATION)

    def f(name: str) -> pl.Expr:
        return pl.field("g").struct.field(name).cast(pl.Float64)

    def z(name: str) -> pl.Expr:
        return f(name).fill_null(0)

    hours = z("h") + z("mi") / 60 + z("s") / 3600
    return _staged(
        {"g": g},
        {
            "has_date": pl.any_horizontal([f(p).is_not_null() for p in _ISO_DATE_PARTS]),
            "has_time": pl.any_horizontal([f(p).is_not_null() for p in _ISO_TIME_PARTS]),
            "_hours": hours,
            "_weeks": z("y") * WEEKS_PER_YEAR + z("mo") * WEEKS_PER_MONTH + z("w")
            + z("d") / DAYS_PER_WEEK + hours / (24 * DAYS_PER_WEEK),
        },
        {
            "weeks": pl.when(pl.field("has_date")).then(pl.field("_weeks")),
            "hours": pl.when(pl.field("has_time") & ~pl.field("has_date")).then(pl.field("_hours")),
        },
        keep=["weeks", "hours"],
    )


_HOURS_UNIT = r"hours?|hrs?|h"
_MINUTES_UNIT = r"minutes?|mins?"
_PER_WEEK = r"^[^\d]{0,20}?(?:/|\bper\b|\beach\b|\bevery\b)\s*(?:week|wk)s?\b|^\s*weekly\b"
_PER_OTHER = r"^[^\d]{0,20}?(?:/|\bper\b|\beach\b|\bevery\b)\s*(?:day|month|mo|session|lesson)s?\b"
_EDX_EFFORT = (
    r"^\s*(?P<h1>\d{1,3}):(?P<m1>[0-5]\d)(?::[0-5]\d)?"
    r"(?:\s*-\s*(?P<h2>\d{1,3}):(?P<m2>[0-5]\d)(?::[0-5]\d)?)?\s*$"
)


def parse_workload(expr: pl.Expr) -> pl.Expr:
    """Effort text -> struct{hours_min, hours_max, per_week, other_rate}.

    "3-5 hours/week" -> 3, 5, per_week; "3:00" (edX effort) -> 3, 3, per_week;
    "Approx. 40 hours to complete" -> 40, 40; "PT1H30M" -> 1.5; "90 minutes" -> 1.5;
    "1 hour 30 minutes" -> 1.5. ``other_rate`` flags effort per day/month/session, which
    cannot become hours without guessing. Calendar lengths ("P4W", "6 weeks") give nulls.
    """
    h_lo, h_hi = _range_bounds("h")
    m_lo, m_hi = _range_bounds("m", 1 / 60)
    edx = pl.field("e")
    edx_lo = edx.struct.field("h1").cast(pl.Float64) + edx.struct.field("m1").cast(pl.Float64) / 60
    edx_hi = edx.struct.field("h2").cast(pl.Float64) + edx.struct.field("m2").cast(pl.Float64) / 60
    iso_hours = pl.field("iso").struct.field("hours")
    fl = pl.field
    return _staged(
        {"t": quantity_text(expr), "iso": parse_iso_duration(expr)},
        {
            "h": fl("t").str.extract_groups(_range_pattern(_HOURS_UNIT) + r"(?P<rest>.{0,40})"),
            "m": fl("t").str.extract_groups(_range_pattern(_MINUTES_UNIT) + r"(?P<rest>.{0,40})"),
            "e": fl("t").str.extract_groups(_EDX_EFFORT),
        },
        {
            "h_lo": h_lo, "h_hi": h_hi, "m_lo": m_lo, "m_hi": m_hi,
            "h_single": fl("h").struct.field("b").is_null(),
            "m_single": fl("m").struct.field("b").is_null(),
            "edx_lo": edx_lo, "edx_hi": pl.coalesce(edx_hi, edx_lo), "iso_h": iso_hours,
            "rest": pl.coalesce(fl("h").struct.field("rest"), fl("m").struct.field("rest")),
            "h_refused": _refused("h").fill_null(False), "m_refused": _refused("m").fill_null(False),
        },
        {
            "has_h": fl("h_lo").is_not_null() | fl("h_hi").is_not_null(),
            "has_m": fl("m_lo").is_not_null() | fl("m_hi").is_not_null(),
            # "1 hour 30 minutes": one figure in two units.
            "both": pl.when(fl("h_single") & fl("m_single") & fl("h_lo").is_not_null()
                            & fl("h_hi").is_not_null() & fl("m_lo").is_not_null())
            .then(fl("h_lo") + fl("m_lo")),
        },
        {
            "lo": pl.coalesce(fl("iso_h"), fl("edx_lo"), fl("both"), pl.when(fl("has_h")).then(fl("h_lo")),
                              pl.when(~fl("has_h")).then(fl("m_lo"))),
            "hi": pl.coalesce(fl("iso_h"), fl("edx_hi"), fl("both"), pl.when(fl("has_h")).then(fl("h_hi")),
                              pl.when(~fl("has_h")).then(fl("m_hi"))),
            # "-1 hour 30 minutes" is refused whole, not read as its 30 minutes.
            "found": (fl("iso_h").is_not_null() | fl("edx_lo").is_not_null() | fl("has_h") | fl("has_m"))
            & ~(fl("h_refused") | fl("m_refused")),
            "pw": fl("edx_lo").is_not_null()
            | (fl("iso_h").is_null() & fl("rest").str.contains(_PER_WEEK).fill_null(False)),
        },
        {
            "hours_min": pl.when(fl("found")).then(fl("lo").round(2)),
            "hours_max": pl.when(fl("found")).then(fl("hi").round(2)),
            "per_week": pl.when(fl("found")).then(fl("pw")),
            "other_rate": pl.when(fl("found")).then(
                ~fl("pw") & fl("rest").str.contains(_PER_OTHER).fill_null(False)
            ),
        },
        keep=["hours_min", "hours_max", "per_week", "other_rate"],
    )


# Weeks per calendar unit, keyed by the unit's first letter (year, month, week, day).
_WEEKS_PER_UNIT = {"y": WEEKS_PER_YEAR, "m": WEEKS_PER_MONTH, "w": 1.0, "d": 1 / DAYS_PER_WEEK}
_CALENDAR_UNIT = r"(?P<u>years?|yrs?|months?|mos?|weeks?|wks?|days?)"


def parse_duration(expr: pl.Expr) -> pl.Expr:
    """Calendar length -> struct{weeks_min, weeks_max}.

    "4 weeks" -> 4, 4; "3 - 6 Months" -> 13.04, 26.09; "1 year" -> 52.18; "P6M" -> 26.09;
    "10 days" -> 1.43. The first quantity with a calendar unit counts; a per-week effort
    ("5 hours/week") is not a length, and hour quantities are effort: null.
    """
    scale = (
        pl.field("g").struct.field("u").str.slice(0, 1)
        .replace_strict(_WEEKS_PER_UNIT, default=None, return_dtype=pl.Float64)
    )
    lo, hi = _range_bounds("g", scale)
    iso_weeks = pl.field("iso").struct.field("weeks")
    return _staged(
        {"g": quantity_text(expr).str.extract_groups(_range_pattern(_CALENDAR_UNIT)),
         "iso": parse_iso_duration(expr)},
        {"weeks_min": pl.coalesce(iso_weeks, lo).round(2), "weeks_max": pl.coalesce(iso_weeks, hi).round(2)},
        keep=["weeks_min", "weeks_max"],
    )


def parse_number(expr: pl.Expr) -> pl.Expr:
    """First number in the text as Float64 ("1,234.5" -> 1234.5, "1,5" -> 1.5, "-2" -> -2.0);
    null for exponent notation ("1e400": not read as 1)."""
    g = pl.field("g")
    value = g.struct.field("a").cast(pl.Float64)
    return _staged(
        {"g": quantity_text(expr).str.extract_groups(rf"{_SIGN}(?P<a>{_NUM})(?P<ea>{_EXP})?")},
        {"n": pl.when(g.struct.field("ea").is_null())
         .then(pl.when(g.struct.field("neg").is_not_null()).then(-value).otherwise(value))},
        keep=["n"],
    ).struct.field("n")


def parse_credits(expr: pl.Expr) -> pl.Expr:
    """"5 ECTS" -> struct{credits: 5.0, unit_text: "ects", is_range: False}. A range
    ("3-4 credits") sets is_range and leaves credits null: one figure is not the range; so do
    a negative figure and exponent notation ("-5", "1e400")."""
    g = pl.field("g")
    plain = (g.struct.field("b").is_null() & g.struct.field("neg").is_null()
             & g.struct.field("ea").is_null() & g.struct.field("eb").is_null())
    return _staged(
        {"g": quantity_text(expr).str.extract_groups(
            rf"^\s*(?P<neg>-)?(?P<a>{_NUM})(?P<ea>{_EXP})?(?:\s*(?:-|to)\s*(?P<b>{_NUM})(?P<eb>{_EXP})?)?"
            r"\s*(?P<unit>.*?)\s*$")},
        {
            "credits": pl.when(plain).then(g.struct.field("a").cast(pl.Float64)),
            "unit_text": pl.when(g.struct.field("unit").str.len_chars() > 0).then(g.struct.field("unit")),
            "is_range": pl.when(g.struct.field("a").is_not_null()).then(g.struct.field("b").is_not_null()),
        },
        keep=["credits", "unit_text", "is_range"],
    )


def parse_rating(expr: pl.Expr) -> pl.Expr:
    """Rating on a 0-5 scale: "4.9stars" -> 4.9, "4,7" -> 4.7, "9.2/10" -> 4.6, "92%" -> 4.6.
    A bare figure above 5 has no known scale and gives null; so do a negative one and
    exponent notation."""
    g = pl.field("g")
    v = pl.when(g.struct.field("neg").is_null() & g.struct.field("ev").is_null()).then(
        g.struct.field("v").cast(pl.Float64))
    scale = g.struct.field("scale").cast(pl.Float64)
    rating = (
        pl.when(g.struct.field("pct").is_not_null()).then(v / 20)
        .when(scale > 0).then(v / scale * 5)
        .otherwise(v)
    )
    return _staged(
        {"g": quantity_text(expr).str.extract_groups(
            rf"{_SIGN}(?P<v>{_NUM})(?P<ev>{_EXP})?\s*(?:(?P<pct>%)|(?:/|out of|of)\s*(?P<scale>{_NUM}))?")},
        {"r": rating},
        {"rating": pl.when(pl.field("r").is_between(0, 5)).then(pl.field("r").round(2))},
        keep=["rating"],
    ).struct.field("rating")


_COUNT_SUFFIX = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mil": 1e6, "million": 1e6, "mn": 1e6}


def parse_count(expr: pl.Expr) -> pl.Expr:
    """Counts as Int64: "43K reviews" -> 43000, "10,438" -> 10438, "1.2M" -> 1200000,
    "10 438" -> 10438. Null for a negative count and for exponent notation ("1e400")."""
    text = expr.str.to_lowercase().str.replace_all("[\u00a0\u202f\u2009']", " ")
    suffix_alt = "|".join(sorted(_COUNT_SUFFIX, key=len, reverse=True))
    g = pl.field("g")
    n, s = g.struct.field("n"), g.struct.field("s")
    with_suffix = n.str.replace_all(" ", "").str.replace(",", ".").cast(pl.Float64, strict=False)
    plain = n.str.replace_all(r"[,. ]", "").cast(pl.Float64, strict=False)
    mult = s.replace_strict(_COUNT_SUFFIX, default=None, return_dtype=pl.Float64)
    value = pl.when(s.is_not_null()).then(with_suffix * mult).otherwise(plain)
    value = pl.when(g.struct.field("neg").is_null() & g.struct.field("e").is_null()).then(value)
    return _staged(
        {"g": text.str.extract_groups(
            rf"{_SIGN}(?P<n>\d(?:[\d,. ]*\d)?)(?P<e>{_EXP})?\s*(?P<s>{suffix_alt})?\b")},
        {"count": value.round(0).cast(pl.Int64, strict=False)},
        keep=["count"],
    ).struct.field("count")


def number_refusal(expr: pl.Expr) -> pl.Expr:
    """Why a quantity text gave no figure, for its mapping note: "negative" where its first
    figure carries a minus sign (``NEGATIVE_FIRST``), else "unparsed" (no figure, exponent
    notation, no unit). Run it on the noted values only (null elsewhere): a regex pass."""
    return (pl.when(expr.str.contains(NEGATIVE_FIRST)).then(pl.lit("negative"))
            .otherwise(pl.lit("unparsed")))


def parse_bool(expr: pl.Expr, words: Mapping[str, str]) -> pl.Expr:
    """Boolean from a word table keyed by ``norm_key`` ("yes" -> "true"); null if unknown."""
    return lookup_exact(expr, words).replace_strict(
        {"true": True, "false": False}, default=None, return_dtype=pl.Boolean
    )


_WEEKDAY = r"^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+"


def parse_date(expr: pl.Expr) -> pl.Expr:
    """Calendar date from ISO ("2025-03-01", "2025-03-01T09:00:00Z"), month-name forms
    ("March 1st, 2025", "1 Mar 2025", "Mon, Mar 3 2025"), "2025/03/01", "01.03.2025", and
    slashed day/month forms when only one reading is a valid date ("25/03/2025"); an
    ambiguous "03/04/2025" gives null rather than a guess."""
    t = (
        expr.str.strip_chars()
        .str.to_lowercase()
        .str.replace(_WEEKDAY, "")
        .str.replace_all(r"(\d)(?:st|nd|rd|th)\b", "${1}")
        .str.replace_all(r"[,\s]+", " ")
    )

    def p(fmt: str, *, exact: bool = True) -> pl.Expr:
        return pl.field("t").str.strptime(pl.Date, fmt, strict=False, exact=exact)

    dmy, mdy = pl.field("dmy"), pl.field("mdy")
    slashed = pl.when(dmy.is_null()).then(mdy).when(mdy.is_null()).then(dmy).when(dmy == mdy).then(dmy)
    iso = pl.when(pl.field("t").str.contains(r"^\d{4}-\d{2}-\d{2}")).then(p("%Y-%m-%d", exact=False))
    return _staged(
        {"t": t},
        {"dmy": p("%d/%m/%Y"), "mdy": p("%m/%d/%Y")},
        {"date": pl.coalesce(iso, p("%B %d %Y"), p("%d %B %Y"), p("%Y/%m/%d"), p("%d.%m.%Y"),
                             p("%Y.%m.%d"), slashed)},
        keep=["date"],
    ).struct.field("date")


# --- prices -------------------------------------------------------------------------------------

_FREE = r"(?i)\b(?:free|gratis|gratuit|kostenlos|no cost|no charge|complimentary)\b"


_PRICE_REFUSED = re.compile(f"{NEGATIVE_FIRST}|{_NOT_DECIMAL}")


def _parse_price(value: str) -> dict[str, Any]:
    price = Price.fromstring(value)
    amount = float(price.amount) if price.amount is not None else None
    # price-parser reads the digits only: "-50" as 50, "1e308" as 1, "0x1F" as 0 (free!).
    if amount is not None and _PRICE_REFUSED.search(value):
        amount = None
    return {"amount": amount, "currency": price.currency}


def parse_price(expr: pl.Expr) -> pl.Expr:
    """Price text -> struct{amount, currency_text, free}: "$49" -> 49, "$"; "49.99 USD" ->
    49.99, "USD"; "€ 1.200,00" -> 1200, "€"; "Free" -> 0, null, free. The currency stays as
    written (symbol or code); transforms resolves it to ISO 4217 with the offering's country.
    A negative price ("-50 USD", "$-0.01"), exponent notation and hexadecimal give no amount.

    price-parser does the decimal-separator guessing ("1.200,00" vs "1,200.00"), which a
    regex would get wrong; it runs once per distinct price text.
    """
    parsed = map_distinct(
        expr,
        _parse_price,
        pl.Struct({"amount": pl.Float64(), "currency": pl.String()}),
    )
    amount = pl.field("p").struct.field("amount")
    free = pl.field("t").str.contains(_FREE).fill_null(False)
    return _staged(
        {"t": expr, "p": parsed},
        {
            # price-parser reads "Free" as 0 already; say so explicitly for "Free!" or "gratis".
            "amount": pl.when(amount.is_null() & free & ~pl.field("t").str.contains(r"\d"))
            .then(0.0).otherwise(amount),
            "currency_text": pl.field("p").struct.field("currency").str.strip_chars(),
            "_free": free,
        },
        {"free": pl.field("_free") | (pl.field("amount") == 0)},
        keep=["amount", "currency_text", "free"],
    )


# --- test records -------------------------------------------------------------------------------


def marker_text(expr: pl.Expr) -> pl.Expr:
    """Lowercase words, camelCase split, separators as single spaces ("TestCourse" ->
    "test course", "TESTING_TESTING" -> "testing testing"): the form test markers match."""
    return (
        expr.str.replace_all(r"(\p{Ll})(\p{Lu})", "${1} ${2}")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )


def matches_any(expr: pl.Expr, patterns: Sequence[str]) -> pl.Expr:
    """True where the text matches at least one regex (null text -> False)."""
    if not patterns:
        return pl.lit(False)
    return pl.any_horizontal([expr.str.contains(p).fill_null(False) for p in patterns])
