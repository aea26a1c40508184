"""The normalization stage's main fields written the way a pandas user would: the baseline
that ``normalize.bench`` times against ``normalize.transforms.normalize``.

Same input (the landing files), same vocabulary tables (``normalize/taxonomy/data/*.csv``,
read here with ``pd.read_csv``), same libraries where a library is the tool (html-text for
markup, ftfy for mojibake, price-parser for prices, isodate for ISO 8601 durations,
langcodes for language tags, pycountry for currency names). Vectorized ``Series.str``
methods where pandas has them; ``Series.map`` with a Python function where it has not.
Nothing is made slow on purpose, and nothing is cached per distinct value that a pandas
user would not cache: the point of comparison is a straightforward implementation.

Fields (the subset of the Offering that the benchmark compares): title, description,
awarding_body (text cleaning), credential_type (CTDL class from the label or record kind,
only when it is a credential), audience_level, language (BCP 47 without region),
workload_hours_min/max and duration_weeks_min/max (units decide meaning; per-week effort
times the duration), price_amount/price_currency (main price: not a subscription, a free
audit track beside a paid one skipped, AggregateCost > Tuition > untyped > other). Rows
without a source key or a title are rejects; a repeated (source, source_key) keeps the
first. credcat's normalize maps about four times as many fields (subjects, skills, dates,
credits/ECTS, modality, timing, country, EQF, test flags, notes, hashes ...), so the
comparison flatters this baseline.

    normalize_files([Path(".../items.jsonl"), ...]) -> (offerings DataFrame, n raw rows)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import ftfy
import html_text
import isodate
import langcodes
import pandas as pd
import pycountry
from price_parser import Price

DATA = Path(__file__).parent / "taxonomy" / "data"
OUTPUT_COLUMNS = [
    "source", "source_key", "title", "description", "awarding_body", "credential_type",
    "audience_level", "language", "workload_hours_min", "workload_hours_max",
    "duration_weeks_min", "duration_weeks_max", "price_amount", "price_currency",
]
_INPUT_COLUMNS = [
    "source", "source_key", "run_id", "fetched_at", "title", "description", "awarding_body",
    "credential_type_raw", "record_kind_raw", "level_raw", "language_raw", "country_raw",
    "workload_raw", "duration_raw", "prices",
]
_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, fix_character_width=False)
WEEKS_PER_YEAR = 52.0


# --- vocabulary tables ----------------------------------------------------------------------------


def norm_key(value: str) -> str:
    """Key of an exact look-up: URI/prefix stripped, lowercase, only letters, digits, + and #."""
    value = re.sub(r"^https?://\S*[/#]", "", value.strip())
    value = re.sub(r"^[A-Za-z][A-Za-z0-9_-]{0,30}:(\S)", r"\1", value)
    return re.sub(r"[^\w+#]|_", "", value.lower())


def _norm_keys(series: pd.Series) -> pd.Series:
    return (
        series.str.strip()
        .str.replace(r"^https?://\S*[/#]", "", regex=True)
        .str.replace(r"^[A-Za-z][A-Za-z0-9_-]{0,30}:(\S)", r"\1", regex=True)
        .str.lower()
        .str.replace(r"[^\w+#]|_", "", regex=True)
    )


@dataclass
class Table:
    """A look-up table: exact keys, and keywords searched as whole words (leftmost, longest)."""

    exact: dict[str, str]
    keywords: dict[str, str]
    pattern: re.Pattern[str] | None

    def search(self, text: Any) -> str | None:
        if self.pattern is None or not isinstance(text, str):
            return None
        found = self.pattern.search(text.lower())
        return None if found is None else self.keywords[" ".join(re.findall(r"[\w+#]+", found.group(0)))]

    def map(self, series: pd.Series) -> pd.Series:
        """Value of each whole string, else of the first keyword in it; "" (known, none) -> None."""
        out = _norm_keys(series).map(self.exact)
        todo = out.isna() & series.notna()
        out[todo] = series[todo].map(self.search)
        return out.where(out.notna() & (out != ""), None)


@cache
def table(name: str, vocabulary: str | None = None) -> Table:
    lookup = pd.read_csv(DATA / f"lookup_{name}.csv", dtype=str, keep_default_na=False)
    exact: dict[str, str] = {}
    if vocabulary:
        vocab = pd.read_csv(DATA / f"{vocabulary}.csv", dtype=str, keep_default_na=False)
        for code, label in zip(vocab["code"], vocab["label"], strict=True):
            exact[norm_key(code)] = code
            exact[norm_key(label)] = code
    exact.update({norm_key(k): v for k, v in zip(lookup["key"], lookup["value"], strict=True)})
    words = lookup[lookup["match"].isin(["word", "title"])]
    keywords = {" ".join(re.findall(r"[\w+#]+", k.lower())): v
                for k, v in zip(words["key"], words["value"], strict=True)}
    alternatives = sorted(keywords, key=len, reverse=True)
    pattern = None
    if alternatives:
        pattern = re.compile(
            r"(?<![\w+#])(?:" + "|".join(r"[^\w+#]+".join(map(re.escape, k.split())) for k in alternatives)
            + r")(?![\w+#])"
        )
    return Table(exact, keywords, pattern)


@cache
def credential_kinds() -> dict[str, str]:
    classes = pd.read_csv(DATA / "credential_types.csv", dtype=str, keep_default_na=False)
    return dict(zip(classes["code"], classes["kind"], strict=True))


@cache
def currency_symbols() -> tuple[dict[tuple[str, str], str], frozenset[str]]:
    rows = pd.read_csv(DATA / "lookup_currency.csv", dtype=str, keep_default_na=False)
    symbols = {(k.lower(), c): v for k, v, c in zip(rows["key"], rows["value"], rows["country"], strict=True)}
    return symbols, frozenset(c.alpha_3 for c in pycountry.currencies)


# --- text ---------------------------------------------------------------------------------------


def clean_text(value: Any, multiline: bool = False) -> str | None:
    """Markup stripped, mojibake repaired, whitespace collapsed; empty -> None."""
    if not isinstance(value, str):
        return None
    if "<" in value or "&" in value:
        try:
            value = html_text.extract_text(value, guess_layout=True)
        except (ValueError, TypeError):
            value = re.sub(r"<[^>]*>", " ", value)
    value = ftfy.fix_text(value, _FTFY).replace("\u200b", "").replace("\ufeff", "")
    if multiline:
        value = re.sub(r"\r\n?", "\n", value)
        value = re.sub(r"[^\S\n]+", " ", value)
        value = re.sub(r" ?\n ?", "\n", value)
        value = re.sub(r"\n{3,}", "\n\n", value).strip()
    else:
        value = re.sub(r"\s+", " ", value).strip()
    return value or None


def collapse(series: pd.Series) -> pd.Series:
    out = series.str.replace(r"\s+", " ", regex=True).str.strip()
    return out.where(out.str.len() > 0, None)


# --- effort and length ----------------------------------------------------------------------------

_NUM = r"\d+(?:\.\d+)?"
_FILLER = r"(?:(?:total|estimated|approx(?:imate)?|video|study|learning|content|full|calendar|course)\s+)?"
_HOURS = re.compile(
    rf"(?P<lo>up to|less than|under|at most|<)?\s*(?P<hi>at least|more than|>)?\s*(?P<a>{_NUM})"
    rf"(?:\s*(?:-|to|or)\s*(?P<b>{_NUM}))?\s*(?P<plus>\+)?\s*{_FILLER}(?P<u>hours?|hrs?|h|minutes?|mins?)\b"
    r"(?P<plus2>\s*(?:\+|or more))?(?P<rest>.{0,40})"
)
_WEEKS = re.compile(
    rf"(?P<lo>up to|less than|under|at most|<)?\s*(?P<hi>at least|more than|>)?\s*(?P<a>{_NUM})"
    rf"(?:\s*(?:-|to|or)\s*(?P<b>{_NUM}))?\s*(?P<plus>\+)?\s*{_FILLER}"
    r"(?P<u>years?|yrs?|months?|mos?|weeks?|wks?|days?)\b(?P<plus2>\s*(?:\+|or more))?"
)
_EDX = re.compile(r"^\s*(\d{1,3}):([0-5]\d)(?::[0-5]\d)?(?:\s*-\s*(\d{1,3}):([0-5]\d)(?::[0-5]\d)?)?\s*$")
_PER_WEEK = re.compile(r"^[^\d]{0,20}?(?:/|\bper\b|\beach\b|\bevery\b)\s*(?:week|wk)s?\b|^\s*weekly\b")
_WEEKS_PER = {"y": WEEKS_PER_YEAR, "m": WEEKS_PER_YEAR / 12, "w": 1.0, "d": 1 / 7}


def _quantity_text(series: pd.Series) -> pd.Series:
    return (
        series.str.lower()
        .str.replace("[\u2010-\u2015\u2212]", "-", regex=True)
        .str.replace("[\u00a0\u202f\u2009]", " ", regex=True)
        .str.replace(r"(\d),(\d{3})\b", r"\1\2", regex=True)
        .str.replace(r"(\d),(\d)", r"\1.\2", regex=True)
        .str.replace(r"\b(hours?|hrs?|h|minutes?|mins?)\s+(?:a|an|each|every)\s+(week|day|month)", r"\1 per \2",
                     regex=True)
        .str.replace(r"\b(?:a|an|one|single)\s+(hour|week|month|year|day|minute|semester)", r"1 \1", regex=True)
    )


def _iso(value: Any) -> tuple[float | None, float | None]:
    """ISO 8601 duration -> (weeks of its date part, hours of a time-only value)."""
    if not isinstance(value, str) or not value.strip().upper().startswith("P"):
        return None, None
    try:
        d = isodate.parse_duration(value.strip().upper())
    except (isodate.ISO8601Error, ValueError):
        return None, None
    years = float(getattr(d, "years", 0) or 0)
    months = float(getattr(d, "months", 0) or 0)
    td = d.tdelta if isinstance(d, isodate.Duration) else d
    if years or months or td.days:
        return round(years * 52 + months * 52 / 12 + td.total_seconds() / 86400 / 7, 2), None
    return None, round(td.total_seconds() / 3600, 2)


def _bounds(m: re.Match[str], scale: float) -> tuple[float | None, float | None]:
    a = float(m["a"]) * scale
    b = float(m["b"]) * scale if m["b"] else a
    no_max = bool(m["hi"] or m["plus"] or m["plus2"])
    return (None if m["lo"] else a), (None if no_max else b)


def parse_hours(text: Any) -> tuple[float | None, float | None, bool] | None:
    """Effort -> (min, max, per_week), or None when the text states no hours."""
    if not isinstance(text, str):
        return None
    weeks, hours = _iso(text)
    if hours is not None:
        return hours, hours, False
    if weeks is not None:
        return None
    if m := _EDX.match(text):
        lo = int(m[1]) + int(m[2]) / 60
        hi = int(m[3]) + int(m[4]) / 60 if m[3] else lo
        return round(lo, 2), round(hi, 2), True
    m = _HOURS.search(text)
    if m is None:
        return None
    lo, hi = _bounds(m, 1 / 60 if m["u"].startswith("m") else 1.0)
    return (None if lo is None else round(lo, 2)), (None if hi is None else round(hi, 2)), \
        bool(_PER_WEEK.search(m["rest"] or ""))


def parse_weeks(text: Any) -> tuple[float | None, float | None] | None:
    """Calendar length -> (min, max) weeks, or None when the text states none."""
    if not isinstance(text, str):
        return None
    weeks, hours = _iso(text)
    if weeks is not None:
        return weeks, weeks
    if hours is not None:
        return None
    m = _WEEKS.search(text)
    if m is None:
        return None
    lo, hi = _bounds(m, _WEEKS_PER[m["u"][0]])
    return (None if lo is None else round(lo, 2)), (None if hi is None else round(hi, 2))


def effort(frame: pd.DataFrame) -> pd.DataFrame:
    """Workload hours and duration weeks; either raw field may carry either quantity."""
    workload, duration = _quantity_text(frame["workload_raw"]), _quantity_text(frame["duration_raw"])
    hours = workload.map(parse_hours)
    hours = hours.where(hours.notna(), duration.map(parse_hours))
    weeks = duration.map(parse_weeks)
    weeks = weeks.where(weeks.notna(), workload.map(parse_weeks))
    out = pd.DataFrame(index=frame.index)
    out["duration_weeks_min"] = weeks.map(lambda w: w[0] if w else None).astype("float64")
    out["duration_weeks_max"] = weeks.map(lambda w: w[1] if w else None).astype("float64")
    h_min = hours.map(lambda h: h[0] if h else None).astype("float64")
    h_max = hours.map(lambda h: h[1] if h else None).astype("float64")
    weekly = hours.map(lambda h: bool(h and h[2])).astype(bool)
    out["workload_hours_min"] = h_min.where(~weekly, (h_min * out["duration_weeks_min"]).round(2))
    out["workload_hours_max"] = h_max.where(~weekly, (h_max * out["duration_weeks_max"]).round(2))
    return out


# --- prices -------------------------------------------------------------------------------------

_FREE = re.compile(r"(?i)\b(?:free|gratis|gratuit|kostenlos|no cost|no charge|complimentary)\b")
_PER_PERIOD = re.compile(r"(?i)/\s*(?:mo|month|yr|year)\b")
_PRIORITY = {"AggregateCost": 0, "Tuition": 1}


def _currency(text: str | None, country: str | None) -> str | None:
    if not text:
        return None
    text = text.strip()
    symbols, iso = currency_symbols()
    if text.upper() in iso:
        return text.upper()
    found = symbols.get((text.lower(), country or "")) or symbols.get((text.lower(), ""))
    if found or len(text) < 4:
        return found
    try:
        return pycountry.currencies.lookup(text).alpha_3
    except LookupError:
        return None


def main_price(prices: Any, country: Any = None) -> tuple[float | None, str | None]:
    """(amount, ISO 4217 currency) of the main price of one offering's price list."""
    if prices is None or (isinstance(prices, float) and math.isnan(prices)) or len(prices) == 0:
        return None, None
    costs, models = table("cost_type", "cost_types"), table("price_model")
    rows = []
    for pos, p in enumerate(prices):
        text = p.get("text") or " ".join(str(p[k]) for k in ("amount", "currency") if p.get(k))
        text = re.sub(r"\s+", " ", text).strip() if text else None
        if not text:
            continue
        label = clean_text(p.get("label"))
        parsed = Price.fromstring(text)
        amount = Price.fromstring(str(p["amount"])).amount if p.get("amount") else parsed.amount
        amount = float(amount) if amount is not None else (0.0 if _FREE.search(text) and not re.search(r"\d", text)
                                                           else None)
        about = " ".join(x for x in (label, text) if x)
        cost = (costs.exact.get(norm_key(label)) if label else None) or costs.search(label) or costs.search(text)
        subscription = models.search(about) is not None or bool(_PER_PERIOD.search(text))
        audit = "audit" in about.lower()
        rows.append({"amount": amount, "currency": p.get("currency") or parsed.currency, "cost": cost or None,
                     "priced": amount is not None and not subscription, "audit": audit, "pos": pos})
    paid = any(r["priced"] and not r["audit"] for r in rows)
    kept = [r for r in rows if r["priced"] and (not r["audit"] or not paid)]
    if not kept:
        return None, None
    best = min(kept, key=lambda r: (2 if r["cost"] is None else _PRIORITY.get(r["cost"], 3), r["pos"]))
    currency = _currency(best["currency"], country if isinstance(country, str) else None)
    return best["amount"], (currency if best["amount"] else None)


# --- language -----------------------------------------------------------------------------------


def _language_tag(value: Any) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*", value):
        return None
    try:
        tag = langcodes.standardize_tag(value.replace("_", "-"))
    except (ValueError, LookupError):
        return None
    return tag if langcodes.tag_is_valid(tag) else None


def language(series: pd.Series) -> pd.Series:
    names = table("language")
    whole = collapse(series)
    first = whole.str.replace(r"(?i)\s+and\s+.*$", "", regex=True).str.replace(r"[,;/|(].*$", "", regex=True) \
        .str.strip()
    out = _norm_keys(whole).map(names.exact)
    out = out.where(out.notna(), whole.map(_language_tag))
    out = out.where(out.notna(), _norm_keys(first).map(names.exact))
    out = out.where(out.notna(), first.map(_language_tag))
    out = out.where(out != "", None)
    return out.str.replace(r"-(?:[A-Z]{2}|\d{3})\b", "", regex=True)


# --- the stage ----------------------------------------------------------------------------------


def read_items(paths: Iterable[Path]) -> pd.DataFrame:
    """The landing files' columns this baseline maps, one file at a time (payload dropped)."""
    frames = []
    for path in paths:
        if not path.is_file() or path.stat().st_size == 0:
            continue
        part = pd.read_json(path, lines=True, dtype=False, convert_dates=False)
        frames.append(part.reindex(columns=_INPUT_COLUMNS))
    if not frames:
        return pd.DataFrame(columns=_INPUT_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def normalize_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Raw rows -> the compared Offering fields (one row per accepted offering)."""
    df = raw.copy()
    for column in _INPUT_COLUMNS:
        if column != "prices":
            df[column] = df[column].astype("object").where(df[column].notna(), None)
    df["source_key"] = collapse(df["source_key"].astype("str").where(df["source_key"].notna(), None))
    df["title"] = df["title"].map(clean_text)
    df = df[df["source"].notna() & df["run_id"].notna() & df["fetched_at"].notna()
            & df["source_key"].notna() & df["title"].notna()]
    df = df.drop_duplicates(["source", "run_id", "source_key"], keep="first").copy()
    df["description"] = df["description"].map(lambda v: clean_text(v, multiline=True))
    df["awarding_body"] = df["awarding_body"].map(clean_text)

    kinds = credential_kinds()
    ct = table("credential_type", "credential_types")
    label, kind_raw = collapse(df["credential_type_raw"]), collapse(df["record_kind_raw"])
    cls = ct.map(label).where(label.notna(), ct.map(kind_raw))
    df["credential_type"] = cls.where(cls.map(kinds.get) == "credential", None)
    df["audience_level"] = table("audience_level", "audience_levels").map(collapse(df["level_raw"]))
    df["language"] = language(df["language_raw"])
    df = df.join(effort(df))
    prices = [main_price(p, c) for p, c in zip(df["prices"], df["country_raw"], strict=True)]
    df["price_amount"] = pd.Series([p[0] for p in prices], index=df.index, dtype="float64")
    df["price_currency"] = pd.Series([p[1] for p in prices], index=df.index, dtype="object")
    return df[OUTPUT_COLUMNS].reset_index(drop=True)


def normalize_files(paths: Iterable[Path]) -> tuple[pd.DataFrame, int]:
    raw = read_items(paths)
    return normalize_frame(raw), len(raw)
