"""Small pieces the HTML and JSON-LD format writers share: escaping, slugs, codes, durations."""

from __future__ import annotations

import html
import json
import random
import re
from typing import Any

# One CIP 2020 code per ISCED-F detailed field of the demo universe (US catalogs and registries
# publish CIP; the pair is what a careful reader would cross-walk).
CIP_BY_ISCED: dict[str, tuple[str, str]] = {
    "0613": ("11.0701", "Computer Science"),
    "0612": ("11.0103", "Information Technology"),
    "0542": ("30.7001", "Data Science, General"),
    "0413": ("52.0201", "Business Administration and Management, General"),
    "0412": ("52.0801", "Finance, General"),
    "0411": ("52.0301", "Accounting"),
    "0414": ("52.1401", "Marketing/Marketing Management, General"),
    "0913": ("51.3801", "Registered Nursing/Registered Nurse"),
    "0912": ("51.2201", "Public Health, General"),
    "0111": ("13.0101", "Education, General"),
    "0231": ("16.0101", "Foreign Languages and Literatures, General"),
    "0521": ("03.0104", "Environmental Science"),
    "0713": ("14.1001", "Electrical and Electronics Engineering"),
    "0714": ("15.0405", "Robotics Technology/Technician"),
    "0421": ("22.0101", "Law"),
    "0313": ("42.0101", "Psychology, General"),
    "1022": ("51.2206", "Occupational Health and Industrial Hygiene"),
    "0211": ("10.0201", "Photographic and Film/Video Technology/Technician"),
}

LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "de": "German", "fr": "French", "da": "Danish", "nl": "Dutch"}


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def unique_slugs(titles: list[str]) -> list[str]:
    """One slug per title; repeated titles get -2, -3 ... in order."""
    seen: dict[str, int] = {}
    out = []
    for title in titles:
        base = slugify(title)
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def iso_duration(weeks: int) -> str:
    """ISO 8601 as sites write it: whole years or months where exact, else weeks."""
    if weeks % 52 == 0:
        return f"P{weeks // 52}Y"
    if weeks % 13 == 0:
        return f"P{weeks // 13 * 3}M"
    return f"P{weeks}W"


def words_duration(weeks: int) -> str:
    if weeks % 52 == 0:
        years = weeks // 52
        return f"{years} year{'s' if years > 1 else ''}"
    if weeks % 13 == 0:
        return f"{weeks // 13 * 3} months"
    return f"{weeks} weeks"


def money(amount: float) -> str:
    return f"{amount:,.2f}".removesuffix(".00")


def jsonld_script(data: Any, rng: random.Random) -> str:
    """A JSON-LD block as CMSs print it: pretty or minified."""
    body = json.dumps(data, indent=2 if rng.random() < 0.6 else None, ensure_ascii=False)
    return f'<script type="application/ld+json">\n{body}\n</script>'
