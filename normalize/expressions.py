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
- ranges keep both ends; "up to 6 hours" has no minimum, "10+ hours" has no maximum;
- a figure that cannot be taken gives null, and ``number_refusal`` says why in the note: a
  negative figure, a zero ("0 hours", "P0D": a placeholder), instalments ("3x $99"), an
  ambiguous "mil", an access or validity period ("Access for 12 months"), a free trial.
"""

from __future__ import annotations

import html
import re
import unicodedata
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


def on_distinct(expr: pl.Expr, fn: Callable[[pl.Expr], pl.Expr], return_dtype: pl.DataType) -> pl.Expr:
    """``fn`` (an expression over a String column) evaluated once per distinct value and
    joined back: for a costly regex over a column whose values repeat ("$49", "Free")."""

    def apply(s: pl.Series) -> pl.Series:
        table = s.drop_nulls().unique().to_frame("k").with_columns(fn(pl.col("k")).alias("v"))
        return (s.to_frame("k").join(table, on="k", how="left", maintain_order="left", nulls_equal=False)
                .get_column("v").alias(s.name))

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


# A value with nothing a reader sees: empty, whitespace, zero-width characters, BOMs.
_BLANK = r"^[\s\x{200B}-\x{200D}\x{2060}\x{FEFF}]*$"
_CLEAN_OR_BLANK = f"{NEEDS_CLEANING}|{_BLANK}"


def sanitize_text(expr: pl.Expr) -> pl.Expr:
    """``plain_text`` for the values that need it (``NEEDS_CLEANING``), the others unchanged:
    for text passed on verbatim where it is mostly clean (list elements kept raw, values quoted
    in mapping notes). A column without such a value costs one regex scan. A value that was
    nothing but markup, or is blank (empty, whitespace only: ``_BLANK``), becomes null."""

    def apply(s: pl.Series) -> pl.Series:
        idx = s.str.contains(_CLEAN_OR_BLANK).fill_null(False).arg_true()
        if idx.len() == 0:
            return s
        v = pl.col("v")
        done = s.gather(idx).to_frame("v").select(pl.when(~v.str.contains(_BLANK)).then(plain_text(v))).to_series()
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
    "1,5" -> "1.5", "half an hour" -> "0.5 hour", "one"/"a"/"an" before a unit -> "1",
    "twice a week" -> "2 times per week", small number words -> digits."""
    out = (
        expr.str.to_lowercase()
        .str.replace_all("[\u2010-\u2015\u2212]", "-")
        .str.replace_all("[\u00a0\u202f\u2009]", " ")
        .str.replace_all(r"(\d),(\d{3})\b", "${1}${2}")
        .str.replace_all(r"(\d),(\d)", "${1}.${2}")
        # "half an hour" before "an hour" can become "1 hour" (and "half 1 hour" an hour).
        .str.replace_all(r"\bhalf\s+(?:an?\s+)?(hour|day)", "0.5 ${1}")
        # "2 hours a week" is a rate; mark it before "a week" can become "1 week". So is
        # "twice a week" (a frequency: "2 times per week"), which is no length of one week.
        .str.replace_all(
            r"\b(hours?|hrs?|h|minutes?|mins?)\s+(?:a|an|each|every)\s+(week|day|month)", "${1} per ${2}"
        )
        .str.replace_all(r"\bonce\s+(?:a|an|per|each|every)\s+(week|day|month)", "1 times per ${1}")
        .str.replace_all(r"\btwice\s+(?:a|an|per|each|every)\s+(week|day|month)", "2 times per ${1}")
        .str.replace_all(r"\bthrice\s+(?:a|an|per|each|every)\s+(week|day|month)", "3 times per ${1}")
        .str.replace_all(r"\btimes\s+(?:a|an|each|every)\s+(week|day|month)", "times per ${1}")
        .str.replace_all(r"\b(?:a|an|one|single)\s+(hour|week|month|year|day|minute|semester)", "1 ${1}")
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


def _range_pattern(unit: str, sum_unit: str | None = None) -> str:
    """Regex of '[qualifier] [-]a[-b][+] unit[+]' with named groups lo_q, hi_q, neg, a, ea, b,
    eb, plus, plus2 (``ea``/``eb``: an exponent after a figure). A hyphen may join figure and
    unit ("a 2-hour session"). With ``sum_unit`` a second quantity added on ("3 weeks + 1 week
    exam", "4 weeks and 3 days") is captured (group ``c``; the unit's own groups) instead of
    reading the "+" as open-ended."""
    added = (rf"(?P<sum>\s*\(?\s*(?:\+|plus|and|und|et|y)\s*(?P<c>{_NUM})\s*-?\s*(?:{sum_unit})\b)|"
             if sum_unit else "")
    return (
        r"(?:(?P<lo_q>up to|less than|under|at most|max(?:imum)?|<)\s*"
        r"|(?P<hi_q>at least|more than|min(?:imum)?|>)\s*)?"
        rf"{_SIGN}(?P<a>{_NUM})(?P<ea>{_EXP})?(?:\s*(?:-|to|or)\s*(?P<b>{_NUM})(?P<eb>{_EXP})?)?"
        rf"\s*(?P<plus>\+)?\s*-?\s*(?:{_FILLER}\s+)?(?:{unit})\b(?:{added}(?P<plus2>\s*(?:\+|or more)))?"
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


_HOURS_UNIT = r"hours?|hrs?|h|stunden?|std\.?|heures?|horas?|ore|uur"
_MINUTES_UNIT = r"minutes?|mins?|minuten|minutos|minuti"
# What makes a figure a rate, in the languages catalogs write: "/", "per", "pro", "par", "por"
# ("10 h/Woche", "3 heures par semaine", "4 horas por semana", "3h/sem").
_RATE_WORD = r"/|\b(?:per|each|every|pro|je|par|por|la|al|alla|a)\b"
_WEEK_WORD = r"(?:weeks?|wks?|wochen?|semaines?|semanas?|settiman[ae]|sem)\b|wo\."
_PER_WEEK = (
    rf"^[^\d]{{0,20}}?(?:{_RATE_WORD})\s*(?:{_WEEK_WORD})"
    r"|^\s*(?:weekly|wöchentlich|hebdomadaires?|semanal(?:es)?|settimanal[ei])\b"
)
_PER_OTHER = (
    rf"^[^\d]{{0,20}}?(?:{_RATE_WORD})\s*(?:days?|tag(?:e|es)?|jours?|d[ií]as?|giorn[oi]|months?|mos?"
    r"|monat(?:e|s)?|mois|mes(?:es)?|mese|sessions?|lessons?|sitzung(?:en)?|s[ée]ances?|sesi[oó]n(?:es)?"
    r"|lezion[ei])\b|^\s*(?:daily|täglich|quotidien(?:ne)?|monthly|monatlich|mensuel(?:le)?|mensual)\b"
)
_EDX_EFFORT = (
    r"^\s*(?P<h1>\d{1,3}):(?P<m1>[0-5]\d)(?::[0-5]\d)?"
    r"(?:\s*-\s*(?P<h2>\d{1,3}):(?P<m2>[0-5]\d)(?::[0-5]\d)?)?\s*$"
)
# Effort stated as a count of sittings times their length: "3 x 2 hour sessions", "20 sessions
# of 2 hours", "20 2-hour sessions", "2 hours x 5 days" (in all: 6, 40, 40, 10 hours); a count
# of weeks makes the figure weekly ("6 weeks of 3 hours", "3 hours x 10 weeks").
_COUNT_UNIT = (
    r"sessions?|lessons?|classes|class|lectures?|meetings?|workshops?|seminars?|webinars?|days?"
    r"|evenings?|mornings?|afternoons?|modules?|units?|sitzungen|termine|séances|sesiones"
)
_TIMES = r"x|×|\*"
_COUNT_BEFORE = (
    rf"(?:(?P<cx>\d+)\s*(?:{_TIMES})\s*|(?P<cof>\d+)\s+(?:{_COUNT_UNIT})\s+(?:of|x|à|de|von|zu)\s+"
    r"|(?P<wof>\d+)\s+(?:weeks?|wks?)\s+(?:of|x|at)\s+|(?P<cb>\d+)\s+)?"
)
_COUNT_AFTER = (rf"^\s*(?:(?:{_TIMES})\s*(?P<n>\d+)\s*(?:(?P<nw>weeks?|wks?)|{_COUNT_UNIT})?\b"
                r"|,?\s*(?:for|für|durante|pendant|during)\s+(?P<fn>\d+)\s*(?:(?P<fw>weeks?|wks?|wochen|semanas|semaines)"
                r"|days?|tage?n?|jours|d[ií]as))\b")
_COUNT_UNIT_NEXT = rf"^\s*(?:{_COUNT_UNIT})\b"
# A frequency after the figure ("2 hours, twice a week" -> "2 times per week" in quantity_text).
_FREQUENCY = r"^[^\d]{0,20}?(?P<f>\d+(?:\.\d+)?)\s*(?:times|x)\s+per\s+(?P<fp>week|wk|day|month)"
# "10 hours for 3 months": 10 hours a week or a month, or in all? Refused, not guessed ("for N
# weeks" is read as "per week for N weeks", the way catalogs write it, and "for N days" as
# sittings: in _COUNT_AFTER).
_SPAN = (r"^\s*,?\s*(?:for|für|durante|pendant|during)\s+\d+(?:\.\d+)?\s*"
         r"(?:months?|mos?|monate?n?|mois|mes(?:es)?)\b")
AMBIGUOUS_SPAN = (r"(?i)(?:hours?|hrs?|h)\s*,?\s*(?:for|für|durante|pendant|during)\s+\d+(?:\.\d+)?\s*"
                  r"(?:months?|mos?|monate?n?|mois|mes(?:es)?)\b")


def parse_workload(expr: pl.Expr) -> pl.Expr:
    """Effort text -> struct{hours_min, hours_max, per_week, other_rate}.

    "3-5 hours/week" -> 3, 5, per_week; "3:00" (edX effort) -> 3, 3, per_week;
    "Approx. 40 hours to complete" -> 40, 40; "PT1H30M" -> 1.5; "90 minutes" -> 1.5;
    "1 hour 30 minutes" -> 1.5; "10 h/Woche", "3 heures par semaine" -> per_week;
    "3 x 2 hour sessions" -> 6; "3 hours x 10 weeks", "3 hours for 10 weeks" -> 3, per_week;
    "2 hours, twice a week" -> 4, per_week. ``other_rate`` flags effort per day/month/session, which cannot become
    hours without guessing. Calendar lengths ("P4W", "6 weeks") give nulls; so do an ISO
    duration with a date part ("P1DT2H": a length), a zero ("0 hours", "PT0H": a placeholder)
    and a span that leaves open what the figure is per ("10 hours for 3 months").
    """
    h_lo, h_hi = _range_bounds("h")
    m_lo, m_hi = _range_bounds("m", 1 / 60)
    edx = pl.field("e")
    edx_lo = edx.struct.field("h1").cast(pl.Float64) + edx.struct.field("m1").cast(pl.Float64) / 60
    edx_hi = edx.struct.field("h2").cast(pl.Float64) + edx.struct.field("m2").cast(pl.Float64) / 60
    iso_hours = pl.field("iso").struct.field("hours")
    is_iso = iso_hours.is_not_null() | pl.field("iso").struct.field("weeks").is_not_null()
    fl = pl.field

    def pick(name: str) -> pl.Expr:  # a group of the hours match if there is one, else of minutes
        return pl.when(fl("hm")).then(fl("h").struct.field(name)).otherwise(fl("m").struct.field(name))

    def count(name: str) -> pl.Expr:
        return fl(name).cast(pl.Float64)

    after = fl("after")
    freq = fl("freq")
    return _staged(
        {"t": quantity_text(expr), "iso": parse_iso_duration(expr)},
        {
            "h": fl("t").str.extract_groups(_COUNT_BEFORE + _range_pattern(_HOURS_UNIT) + r"(?P<rest>.{0,40})"),
            "m": fl("t").str.extract_groups(_COUNT_BEFORE + _range_pattern(_MINUTES_UNIT) + r"(?P<rest>.{0,40})"),
            "e": fl("t").str.extract_groups(_EDX_EFFORT),
            "is_iso": is_iso,
        },
        {
            "h_lo": h_lo, "h_hi": h_hi, "m_lo": m_lo, "m_hi": m_hi,
            "h_single": fl("h").struct.field("b").is_null(),
            "m_single": fl("m").struct.field("b").is_null(),
            "edx_lo": edx_lo, "edx_hi": pl.coalesce(edx_hi, edx_lo), "iso_h": iso_hours,
            "hm": fl("h").struct.field("a").is_not_null(),
            "h_refused": _refused("h").fill_null(False), "m_refused": _refused("m").fill_null(False),
        },
        {
            "rest": pick("rest"), "cx": pick("cx"), "cof": pick("cof"), "wof": pick("wof"), "cb": pick("cb"),
        },
        {
            "after": fl("rest").str.extract_groups(_COUNT_AFTER),
            "freq": fl("rest").str.extract_groups(_FREQUENCY),
            "unit_next": fl("rest").str.contains(_COUNT_UNIT_NEXT).fill_null(False),
            "span": fl("rest").str.contains(_SPAN).fill_null(False),
            "pw_rest": fl("rest").str.contains(_PER_WEEK).fill_null(False),
            "other_rest": fl("rest").str.contains(_PER_OTHER).fill_null(False),
            "has_h": fl("h_lo").is_not_null() | fl("h_hi").is_not_null(),
            "has_m": fl("m_lo").is_not_null() | fl("m_hi").is_not_null(),
            # "1 hour 30 minutes": one figure in two units.
            "both": pl.when(fl("h_single") & fl("m_single") & fl("h_lo").is_not_null()
                            & fl("h_hi").is_not_null() & fl("m_lo").is_not_null())
            .then(fl("h_lo") + fl("m_lo")),
        },
        {
            # Sittings times their length; weeks make it a weekly figure instead.
            "mult": pl.coalesce(
                count("cx"), count("cof"), pl.when(fl("unit_next")).then(count("cb")),
                pl.when(after.struct.field("nw").is_null()).then(after.struct.field("n").cast(pl.Float64)),
                pl.when(after.struct.field("fw").is_null()).then(after.struct.field("fn").cast(pl.Float64)),
                pl.lit(1.0),
            ) * freq.struct.field("f").cast(pl.Float64).fill_null(1.0),
            "weekly_count": fl("wof").is_not_null() | after.struct.field("nw").is_not_null()
            | after.struct.field("fw").is_not_null(),
            "fp": freq.struct.field("fp"),
        },
        {
            "lo": pl.when(fl("is_iso")).then(fl("iso_h")).otherwise(pl.coalesce(
                fl("edx_lo"),
                pl.coalesce(fl("both"), pl.when(fl("has_h")).then(fl("h_lo")),
                            pl.when(~fl("has_h")).then(fl("m_lo"))) * fl("mult"))),
            "hi": pl.when(fl("is_iso")).then(fl("iso_h")).otherwise(pl.coalesce(
                fl("edx_hi"),
                pl.coalesce(fl("both"), pl.when(fl("has_h")).then(fl("h_hi")),
                            pl.when(~fl("has_h")).then(fl("m_hi"))) * fl("mult"))),
            "pw": fl("edx_lo").is_not_null()
            | (~fl("is_iso") & (fl("pw_rest") | fl("weekly_count") | fl("fp").is_in(["week", "wk"]).fill_null(False))),
        },
        {
            # "-1 hour 30 minutes" is refused whole, not read as its 30 minutes.
            "found": pl.when(fl("is_iso")).then(fl("iso_h").is_not_null())
            .otherwise(fl("edx_lo").is_not_null() | fl("has_h") | fl("has_m"))
            & ~(fl("h_refused") | fl("m_refused"))
            & ~(fl("span") & ~fl("pw"))
            & (pl.coalesce(fl("hi"), fl("lo")) != 0).fill_null(True),
        },
        {
            "hours_min": pl.when(fl("found")).then(fl("lo").round(2)),
            "hours_max": pl.when(fl("found")).then(fl("hi").round(2)),
            "per_week": pl.when(fl("found")).then(fl("pw")),
            "other_rate": pl.when(fl("found")).then(
                ~fl("pw") & (fl("other_rest") | fl("fp").is_in(["day", "month"]).fill_null(False))
            ),
        },
        keep=["hours_min", "hours_max", "per_week", "other_rate"],
    )


_CALENDAR_WORDS = (
    r"years?|yrs?|jahre?n?|ans?|années?|años?|anos?|anni|anno|months?|mos?|monate?n?|monats|mois"
    r"|mes(?:es)?|mese|mesi|maanden?|weeks?|wks?|wochen?|semaines?|semanas?|settiman[ae]|weken"
    r"|days?|tage?n?|jours?|d[ií]as?|giorni|giorno|dagen?"
)
_CALENDAR_UNIT = rf"(?P<u>{_CALENDAR_WORDS})"
# Access to the material or a certificate's validity is no course length ("Access for 12
# months", "365 days access", "valid for 3 years"): refused (noted), not read as one.
ACCESS_WORDS = r"access|zugang|zugriff|acceso|accès|acesso|accesso|valid(?:ity)?|gültig(?:keit)?"


def _weeks_per(unit: pl.Expr) -> pl.Expr:
    """Weeks per calendar unit word (any of ``_CALENDAR_WORDS``)."""
    return (
        pl.when(unit.str.contains(r"^(?:y|jahr|an|añ)")).then(pl.lit(WEEKS_PER_YEAR))
        .when(unit.str.contains(r"^(?:mo|mes|mois|maand)")).then(pl.lit(WEEKS_PER_MONTH))
        .when(unit.str.contains(r"^(?:w|sem|sett)")).then(pl.lit(1.0))
        .when(unit.str.contains(r"^(?:d|tag|jour|gior)")).then(pl.lit(1 / DAYS_PER_WEEK))
    )


def parse_duration(expr: pl.Expr) -> pl.Expr:
    """Calendar length -> struct{weeks_min, weeks_max}.

    "4 weeks" -> 4, 4; "3 - 6 Months" -> 13.04, 26.09; "1 year" -> 52.18; "P6M" -> 26.09;
    "10 days" -> 1.43; "6 Wochen" -> 6; "3 weeks + 1 week exam" -> 4. The first quantity with
    a calendar unit counts; a per-week effort ("5 hours/week") is not a length, and hour
    quantities are effort: null. So are an access or validity period ("Access for 12
    months") and a zero ("P0D": a placeholder).
    """
    g = pl.field("g")
    lo, hi = _range_bounds("g", _weeks_per(g.struct.field("u")))
    added = (g.struct.field("c").cast(pl.Float64) * _weeks_per(g.struct.field("u2"))).fill_null(0.0)
    access = g.struct.field("acc").is_not_null() | g.struct.field("acc2").is_not_null()
    iso_weeks = pl.field("iso").struct.field("weeks")
    pattern = (
        rf"(?P<acc>\b(?:{ACCESS_WORDS})\b\W{{0,3}}(?:(?:for|to|of|für|por|pour|pendant|durante|per|until)\s+)?)?"
        + _range_pattern(_CALENDAR_UNIT, rf"(?P<u2>{_CALENDAR_WORDS})")
        + rf"(?P<acc2>\s+(?:of\s+)?(?:\w+\s+)?(?:{ACCESS_WORDS})\b)?"
    )
    fl = pl.field
    return _staged(
        {"g": quantity_text(expr).str.extract_groups(pattern), "iso": parse_iso_duration(expr)},
        {"lo": pl.coalesce(iso_weeks, pl.when(~access).then(lo + added)),
         "hi": pl.coalesce(iso_weeks, pl.when(~access).then(hi + added))},
        {"nonzero": (pl.coalesce(fl("hi"), fl("lo")) != 0).fill_null(True)},
        {"weeks_min": pl.when(fl("nonzero")).then(fl("lo").round(2)),
         "weeks_max": pl.when(fl("nonzero")).then(fl("hi").round(2))},
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
    ("3-4 credits", "3 or 4 credits", "3 bis 4 ECTS") sets is_range and leaves credits null:
    one figure is not the range; so do a negative figure and exponent notation ("-5", "1e400")."""
    g = pl.field("g")
    plain = (g.struct.field("b").is_null() & g.struct.field("neg").is_null()
             & g.struct.field("ea").is_null() & g.struct.field("eb").is_null())
    return _staged(
        {"g": quantity_text(expr).str.extract_groups(
            rf"^\s*(?P<neg>-)?(?P<a>{_NUM})(?P<ea>{_EXP})?(?:\s*(?:-|to|or|bis|à|a|ou|o)\s*(?P<b>{_NUM})(?P<eb>{_EXP})?)?"
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


_COUNT_SUFFIX = {
    "k": 1e3, "thousand": 1e3, "tsd": 1e3, "tausend": 1e3, "lakh": 1e5, "lakhs": 1e5,
    "m": 1e6, "mn": 1e6, "mio": 1e6, "mill": 1e6, "million": 1e6, "millions": 1e6, "millionen": 1e6,
    "millones": 1e6, "milhões": 1e6, "milhoes": 1e6, "crore": 1e7, "crores": 1e7,
    "b": 1e9, "bn": 1e9, "billion": 1e9, "mrd": 1e9, "milliarden": 1e9,
}  # fmt: skip
# "mil" is a thousand in Spanish and Portuguese ("10 mil alumnos") and a million in English
# slang ("1.5 mil learners"): read by the words around it, else refused (noted), not guessed.
AMBIGUOUS_MIL = r"(?i)\d\s*mil\b"
_MIL_ENGLISH = (r"\b(?:learners?|students?|enrolled|enrollments?|enrolments?|users?|reviews?|ratings?"
                r"|people|views|subscribers|members|participants|graduates)\b")
_MIL_IBERIAN = (r"\b(?:alumnos|estudiantes|estudantes|alunos|inscritos|matriculados|personas|pessoas"
                r"|participantes|valoraciones|avalia[çc][õo]es|rese[ñn]as|opiniones|usuarios|usu[áa]rios)\b")


def parse_count(expr: pl.Expr) -> pl.Expr:
    """Counts as Int64: "43K reviews" -> 43000, "10,438" -> 10438, "1.2M" -> 1200000,
    "10 438" -> 10438, "2,5 Mio." -> 2500000, "3 Tsd." -> 3000. Null for a negative count,
    for exponent notation ("1e400"), for a decimal figure without a known multiplier ("4,5" or
    "2,5 Mia.": a count is whole, and dropping the comma would read 45 or 25) and for "mil"
    without words that say which language it is in (``AMBIGUOUS_MIL``)."""
    text = expr.str.to_lowercase().str.replace_all("[\u00a0\u202f\u2009']", " ")
    suffix_alt = "|".join(sorted([*_COUNT_SUFFIX, "mil"], key=len, reverse=True))
    g = pl.field("g")
    n, s = g.struct.field("n"), g.struct.field("s")
    with_suffix = n.str.replace_all(" ", "").str.replace(",", ".").cast(pl.Float64, strict=False)
    plain = n.str.replace_all(r"[,. ]", "").cast(pl.Float64, strict=False)
    mil = (pl.when(pl.field("t").str.contains(_MIL_ENGLISH)).then(pl.lit(1e6))
           .when(pl.field("t").str.contains(_MIL_IBERIAN)).then(pl.lit(1e3)))
    mult = pl.when(s == "mil").then(mil).otherwise(
        s.replace_strict(_COUNT_SUFFIX, default=None, return_dtype=pl.Float64))
    decimal = n.str.contains(r"^\d+[.,]\d{1,2}$")
    value = pl.when(s.is_not_null()).then(with_suffix * mult).when(~decimal).then(plain)
    value = pl.when(g.struct.field("neg").is_null() & g.struct.field("e").is_null()).then(value)
    return _staged(
        {"t": text},
        {"g": pl.field("t").str.extract_groups(
            rf"{_SIGN}(?P<n>\d(?:[\d,. ]*\d)?)(?P<e>{_EXP})?\s*(?P<s>{suffix_alt})?\b")},
        {"count": value.round(0).cast(pl.Int64, strict=False)},
        keep=["count"],
    ).struct.field("count")


# Every figure is zero ("0 hours", "PT0H", "P0D"): a placeholder, not a quantity.
ALL_ZERO = r"^[^1-9]*0[^1-9]*$"
_ACCESS_WITH_FIGURE = rf"(?i)\b(?:{ACCESS_WORDS})\b.*[0-9]|[0-9].*\b(?:{ACCESS_WORDS})\b"


def number_refusal(expr: pl.Expr) -> pl.Expr:
    """Why a quantity text gave no figure, for its mapping note: "negative" where its first
    figure carries a minus sign (``NEGATIVE_FIRST``); the parsers' other refusals by name (a
    zero placeholder, instalments, an ambiguous "mil", an access period, an open per-week or
    total span, a free trial); else "unparsed" (no figure, exponent notation, no unit). Run it
    on the noted values only (null elsewhere): a few regex passes."""
    return (
        pl.when(expr.str.contains(NEGATIVE_FIRST)).then(pl.lit("negative"))
        .when(expr.str.contains(ALL_ZERO)).then(pl.lit("zero, a placeholder"))
        .when(expr.str.contains(INSTALMENTS)).then(pl.lit("instalments, not one price"))
        .when(expr.str.contains(AMBIGUOUS_MIL)).then(pl.lit("ambiguous 'mil' (thousand or million)"))
        .when(expr.str.contains(_ACCESS_WITH_FIGURE)).then(pl.lit("access or validity period, not a course length"))
        .when(expr.str.contains(AMBIGUOUS_SPAN)).then(pl.lit("per week or in all? ambiguous"))
        .when(expr.str.contains(FREE_TRIAL)).then(pl.lit("a free trial, not a price"))
        .otherwise(pl.lit("unparsed"))
    )


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
# A free trial, preview or sample is no price of the offering: "Free trial" is not "free".
FREE_TRIAL = (
    r"(?i)\bfree\s+(?:\d+[- ]?\w+\s+)?(?:trial|preview|demo|sample|lesson|webinar|consultation|intro\w*)"
    r"|\btrial\b|\bprueba\s+gratu|\bessai\s+gratuit|\bkostenlos\s+testen|\bgratis\s+testen|\bprobeabo"
)
# Instalments: the first figure counts payments ("3x $99", "4 payments of $50", "12x de R$ 99,90")
# or a figure is multiplied by a count ("$99 x 3"). No one price: refused (noted), not guessed.
INSTALMENTS = (
    r"(?i)^[^0-9]*?\b[0-9]{1,2}\s*(?:x|×)\s*(?:de\s+)?[^0-9\s]{0,4}\s*[0-9]"
    r"|^[^0-9]*?\b[0-9]{1,2}\s+(?:(?:monthly|weekly|annual|yearly|equal|easy|interest[- ]free|monatliche"
    r"|mensuales|mensais)\s+)?(?:payments?|instal(?:l)?ments?|raten|monatsraten|cuotas|parcelas"
    r"|mensualidades|versements|mensualit[ée]s|pagos)\b"
    r"|^[^0-9]*?[0-9][0-9.,']*\s*[^0-9\s]{0,4}\s*(?:x|×)\s*[0-9]{1,2}\b"
)

_PRICE_REFUSED = [re.compile(p) for p in (NEGATIVE_FIRST, _NOT_DECIMAL, INSTALMENTS, AMBIGUOUS_MIL)]
_FREE_TRIAL = re.compile(FREE_TRIAL)
_FREE_WORD = re.compile(_FREE)
# Figures that count something else than money ("7-day free trial, then $499", "Save 20%: $79",
# "12 months access $99"): blanked before price-parser picks the first figure.
_NOT_MONEY = re.compile(
    r"(?i)\d+(?:[.,]\d+)?\s*-?\s*(?:days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?|%|percent)\b"
)
# A multiplier after the first figure: "$1.5k", "$2K", "1.5 million IDR", "Rp 1,5 jt", "₹2 lakh".
_MULTIPLIERS = {
    "k": 1e3, "thousand": 1e3, "tsd": 1e3, "tausend": 1e3, "rb": 1e3, "ribu": 1e3,
    "lakh": 1e5, "lakhs": 1e5, "lac": 1e5, "lacs": 1e5,
    "m": 1e6, "mn": 1e6, "mio": 1e6, "mill": 1e6, "million": 1e6, "millions": 1e6, "millionen": 1e6,
    "millones": 1e6, "milhões": 1e6, "milhoes": 1e6, "jt": 1e6, "juta": 1e6,
    "crore": 1e7, "crores": 1e7, "bn": 1e9, "billion": 1e9, "mrd": 1e9, "milliarden": 1e9,
}  # fmt: skip
_MULTIPLIER = re.compile(
    r"^\D*?(\d(?:[\d.,' ]*\d)?)\s*("
    + "|".join(sorted(map(re.escape, _MULTIPLIERS), key=len, reverse=True))
    + r")(?![^\W\d_])",
    re.IGNORECASE,
)
# Two figures joined by a dash or "to" ("$0 – $49", "€100-200", "$500 to $1,500"): a range.
_PRICE_RANGE = re.compile(
    r"^\D*?\d[\d.,' ]*?\s*[^\d\s]{0,4}\s*(?:-|–|—|\bto\b|\bbis\b)\s*[^\d\s]{0,4}\s*(\d(?:[\d.,' ]*\d)?)",
    re.IGNORECASE,
)
# price-parser found no currency: a short token right before or after the first figure
# ("S/ 250", "L.E. 500", "R 499", "500 LE") is handed on for the look-up, which knows it or not.
_FIRST_FIGURE = re.compile(r"\d(?:[\d.,' \u00a0\u202f]*\d)?")
_TOKEN_BEFORE = re.compile(r"(?:^|\s)(\S{1,4}) ?$")
_TOKEN_AFTER = re.compile(r" ?([^\s\d]{1,4})(?:\s|$)")


def _short_token(token: str) -> str | None:
    """A currency-like token: at most four characters, and capitals or with a symbol or dot
    ("S/", "L.E.", "LE", "R", "KSh"), not a word ("for", "from", "Only")."""
    if not token or len(token) > 4 or not any(c.isalpha() or unicodedata.category(c) == "Sc" for c in token):
        return None
    return token if (token.isupper() or not token.isalpha() or any(c.isupper() for c in token[1:])) else None


def _currency_token(value: str, currency: str | None) -> str | None:
    """The currency as written, whole: price-parser returns the symbol it knows, and letters
    written right before it belong to the token ("E£ 500": "E£", Egyptian, not "£"; "Can$",
    "CDN$" where it returns "$" or "N$")."""
    if currency:
        start = value.find(currency)
        if start <= 0:
            return currency
        first = start
        while first > 0 and (value[first - 1].isalpha() or value[first - 1] == "."):
            first -= 1
        return value[first:start] + currency
    figure = _FIRST_FIGURE.search(value)
    if figure is None:
        return None
    before = _TOKEN_BEFORE.search(value[: figure.start()])
    token = _short_token(before.group(1)) if before else None
    if token is None:
        after = _TOKEN_AFTER.match(value[figure.end():])
        token = _short_token(after.group(1)) if after else None
    return token


def _figure(text: str) -> float | None:
    amount = Price.fromstring(text).amount
    return float(amount) if amount is not None else None


def _parse_price(value: str) -> dict[str, Any]:
    text = _NOT_MONEY.sub(" ", value)
    if not re.search(r"\d", text):  # the only figures count days, hours or percent
        text = value if not re.search(r"\d", value) else ""
    price = Price.fromstring(text)
    amount = float(price.amount) if price.amount is not None else None
    note = None
    # price-parser reads the digits only: "-50" as 50, "1e308" as 1, "0x1F" as 0 (free!),
    # "3x $99" as 3, "10 mil" as 10.
    if amount is not None and any(r.search(value) for r in _PRICE_REFUSED):
        amount = None
    multiplied = _MULTIPLIER.search(text)
    if amount is not None and multiplied and _figure(multiplied.group(1)) == amount:
        amount = round(amount * _MULTIPLIERS[multiplied.group(2).lower()], 2)
    ranged = _PRICE_RANGE.search(text)
    if amount is not None and ranged:
        upper = _figure(ranged.group(1))
        if upper is not None and upper > amount:  # "$99 - 2 courses" is no range
            # The labelled convention: the lowest non-zero price stated ("$0 – $49": 49, not free).
            amount = amount if amount > 0 else upper
            note = "range; lowest non-zero price kept"
    trial = _FREE_TRIAL.search(value) is not None
    if amount == 0 and trial:
        amount = None
    free = _FREE_WORD.search(value) is not None and not trial
    if amount is None and free and not re.search(r"\d", value):  # "Free!", "gratis"
        amount = 0.0
    currency = _currency_token(value, price.currency)
    return {"amount": amount, "currency_text": re.sub(r"\s+", "", currency) if currency else None,
            "free": free or amount == 0, "note": note}


def parse_price(expr: pl.Expr) -> pl.Expr:
    """Price text -> struct{amount, currency_text, free, note}: "$49" -> 49, "$"; "49.99 USD"
    -> 49.99, "USD"; "€ 1.200,00" -> 1200, "€"; "Free" -> 0, null, free; "$1.5k" -> 1500;
    "E£ 500" -> 500, "E£". The currency stays as written (symbol or code, with the letters
    written right before a symbol); transforms resolves it to ISO 4217 with the offering's
    country. A negative price ("-50 USD", "$-0.01"), exponent notation, hexadecimal,
    instalments ("3x $99") and an ambiguous "mil" give no amount, nor does a free trial; a
    range ("$0 – $49") gives its lowest non-zero end and a ``note``.

    price-parser does the decimal-separator guessing ("1.200,00" vs "1,200.00"), which a
    regex would get wrong; it runs once per distinct price text, and so does the rest.
    """
    return map_distinct(
        expr,
        _parse_price,
        pl.Struct({"amount": pl.Float64(), "currency_text": pl.String(), "free": pl.Boolean(),
                   "note": pl.String()}),
    )


# A price per some unit: per credit, hour, session, course, term, year or month ("$300 per
# credit", "$25/hour", "€29 / Monat", "29 € par mois", "£9,250 per year", "Tuition per 6-month
# term"), in the languages catalogs write. ``price_per`` names the kind.
_PER_PREP = r"(?:/|\b(?:per|each|every|pro|je|par|por|al|au|la|le|el)\b)"
_PER_QUALIFIER = r"(?:\d+[-\s]?(?:month|year|week)s?[-\s]|academic\s+|school\s+|calendar\s+|full[-\s]time\s+|part[-\s]time\s+)?"
_PRICE_UNITS = (
    r"credits?(?:[-\s]hours?)?|semester[-\s](?:credit[-\s])?hours?|quarter[-\s](?:credit[-\s])?hours?"
    r"|contact[-\s]hours?|ects(?:[-\s]credits?)?|cr|units?|cr[ée]dits?|cr[ée]ditos?|crediti|leistungspunkte?|cfu"
    r"|courses?|modules?|kurse?s?|cours|cursos?|corsi|corso|modulen|subjects?|seminars?|workshops?"
    r"|semesters?|terms?|quarters?|trimesters?|semestres?|trimestres?|cuatrimestres?|semestri|halbjahr"
    r"|years?|yrs?|annum|jahre?s?|ans?|ann[ée]es?|a[ñn]os?|anni|anno"
    r"|months?|mos?|monate?s?|monat|mois|mes(?:es)?|mese|mesi|maand(?:en)?|m[åa]nad"
    r"|hours?|hrs?|h|stunden?|std|heures?|horas?|sessions?|lessons?|lectures?|classes|class"
    r"|days?|tage?|jours?|d[ií]as?|weeks?|wks?|wochen?|semaines?|semanas?|settiman[ae]"
)
_PRICE_PER_ADVERB = (
    r"monthly|monatlich|mensuel(?:le)?|mensual(?:mente)?|mensile|maandelijks|yearly|annually|jährlich"
    r"|annuel(?:le)?|anual(?:mente)?|annuale|jaarlijks|per\s+annum|weekly|wöchentlich|hourly"
)
PRICE_PER = (
    rf"(?i){_PER_PREP}\s*{_PER_QUALIFIER}(?P<u>{_PRICE_UNITS})\b"
    rf"|[0-9]\S*\s+(?:a|an)\s+(?P<u2>{_PRICE_UNITS})\b|\b(?P<u3>{_PRICE_PER_ADVERB})\b|\b(?P<u4>p\.\s?a\.)"
)
# The kind of a per-unit word, tried in this order (a "semester hour" is a credit, "modules" no month).
_PRICE_PER_KINDS = [
    ("credit", r"^(?:credit|semester[-\s]|quarter[-\s]|contact|ects|cr$|cr[ée]d|unit|leistungs|cfu)"),
    ("course", r"^(?:course|module|kurs|cours|curs|cors|subject|seminar|workshop)"),
    ("month", r"^(?:mo|mes|mois|maand|m[åa]nad|mensu|mensil)"),
    ("year", r"^(?:y|an|añ|jahr|jaar|jährlich|per\s+annum|p\.)"),
    ("term", r"^(?:semest|term|quarter|trimest|cuatrim|halbjahr)"),
]


PRICE_PER_DTYPE = pl.Struct({"unit": pl.String(), "per": pl.String()})


def price_per(expr: pl.Expr, *, distinct: bool = True) -> pl.Expr:
    """The unit a price is stated per -> struct{unit, per}: ``per`` is "credit", "course",
    "month", "year", "term" or "time" (hour, session, day, week), ``unit`` the word as
    written, lowercased; nulls for a price of the whole offering ("$49", "$99 per person").
    Once per distinct text (``on_distinct``) unless ``distinct`` is False (for use inside
    another ``on_distinct``)."""
    if distinct:
        return on_distinct(expr, lambda e: price_per(e, distinct=False), PRICE_PER_DTYPE)
    g = pl.field("g")
    unit = pl.coalesce(g.struct.field("u"), g.struct.field("u2"), g.struct.field("u3"), g.struct.field("u4"))
    kind = pl.lit("time")
    for name, pattern in reversed(_PRICE_PER_KINDS):
        kind = pl.when(pl.field("unit").str.contains(pattern)).then(pl.lit(name)).otherwise(kind)
    return _staged(
        {"g": expr.str.extract_groups(PRICE_PER)},
        {"unit": unit.str.to_lowercase()},
        {"per": pl.when(pl.field("unit").is_not_null()).then(kind)},
        keep=["per", "unit"],
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
