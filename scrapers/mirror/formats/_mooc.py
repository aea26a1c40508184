"""Helpers the MOOC-platform writers share (edX API, edX feed, Udemy, aggregator CSV).

They render a credential the way platforms write it: partner codes ("HarbourviewX"),
course numbers, effort strings, HTML descriptions. Every choice comes from the writer's rng.
"""

from __future__ import annotations

import html
import random
import re
from datetime import date, timedelta

from scrapers.mirror.universe import Credential, Listing, Org

SUBJECT_PREFIX = {
    "0613": "CS", "0612": "IT", "0542": "DS", "0413": "BUS", "0412": "FIN", "0411": "ACC",
    "0414": "MKT", "0913": "NUR", "0912": "PH", "0111": "EDU", "0231": "LANG", "0521": "ENV",
    "0713": "EE", "0714": "ME", "0421": "LAW", "0313": "PSY", "1022": "OHS", "0211": "MED",
}
LANGUAGE_NATIVE = {"en": "English", "de": "Deutsch", "es": "Español", "fr": "Français"}


def partner_code(org: Org) -> str:
    """The short name a platform knows a partner by: an 'X' alias first (edX style)."""
    for alias in org.aliases:
        if alias.endswith(("X", "x")) and " " not in alias:
            return alias
    if org.aliases and " " not in org.aliases[0]:
        return org.aliases[0]
    return re.sub(r"[^A-Za-z0-9]", "", org.name)


def course_number(c: Credential, index: int) -> str:
    return f"{SUBJECT_PREFIX.get(c.isced, 'GEN')}{100 + index}x"


def start_date(c: Credential) -> date:
    return date.fromisoformat(c.start_dates[0])


def end_date(c: Credential) -> date:
    return start_date(c) + timedelta(weeks=c.weeks)


def effort_text(rng: random.Random, c: Credential) -> str:
    """Weekly effort as platforms write it; every form says the same lo-hi hours per week."""
    lo, hi = c.hours_per_week
    return rng.choice([
        f"{lo}-{hi} hours per week",
        f"{lo} - {hi} hours per week",
        f"{lo}-{hi} hours/week",
        f"{lo:02d}:00 - {hi:02d}:00",
        f"{lo}–{hi} hrs/week",
    ])


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:70]


def html_description(rng: random.Random, text: str) -> str:
    """A description as a CMS stores it: paragraphs, emphasis, entities, stray non-breaking spaces."""
    sentences = [s for s in re.split(r"(?<=\.)\s+", text) if s]
    escaped = [html.escape(s, quote=True) for s in sentences]
    style = rng.random()
    if style < 0.35:
        return f"<p>{' '.join(escaped)}</p>"
    if style < 0.6 and len(escaped) > 1:
        return f"<p><strong>{escaped[0]}</strong></p>\n<p>{' '.join(escaped[1:])}</p>"
    if style < 0.8:
        body = "&nbsp;".join(escaped)
        return f"<p>{body}</p><ul><li>Learn at your own pace</li><li>Earn a certificate</li></ul>"
    return " ".join(sentences)  # some records carry plain text


def mojibake(text: str) -> str:
    """UTF-8 read as Windows-1252: 'é' -> 'Ã©', '’' -> 'â€™', '·' -> 'Â·'."""
    return text.encode("utf-8").decode("cp1252", errors="replace")


def title_names_type(listing: Listing) -> bool:
    """Whether the listing's title itself names its credential ("Robotics Certificate of Completion")."""
    c = listing.credential
    return c.credential_type != "Course" and c.type_label.lower() in listing.title.lower()
