"""Format ``csv_file_drop``: an aggregator's CSV export of courses across platforms.

One file, ``/drop/courses.csv``, as a spreadsheet exports it (UTF-8 with a BOM, CRLF line
ends, quoted cells where needed). Columns: Course Name, University / Industry Partner,
Platform, Course Link, Category, Difficulty Level, Course Rating, Number of Reviews,
Course Description, Skills, Duration, Price, Language, Certificate Type. No id column:
rows are keyed by a hash of (Platform, Course Link), as the registry declares.

Dirt, as such exports have it: cells that went through UTF-8 -> Windows-1252 once
(``Â·``, ``â€™``, ``Ã©``), ratings like ``4.7stars``, counts like ``43K``, empty cells,
descriptions over several lines, durations and prices in several spellings.
"""

from __future__ import annotations

import csv
import io
import random
from typing import Any

from scrapers.base.file_drop import stable_row_key
from scrapers.mirror.formats._mooc import mojibake, slug, title_names_type
from scrapers.mirror.formats._site_kit import LANGUAGE_NAMES
from scrapers.mirror.generate import SiteContext, expected_values
from scrapers.mirror.universe import Listing

FILE_PATH = "/drop/courses.csv"
COLUMNS = ["Course Name", "University / Industry Partner", "Platform", "Course Link", "Category",
           "Difficulty Level", "Course Rating", "Number of Reviews", "Course Description", "Skills",
           "Duration", "Price", "Language", "Certificate Type"]
KEY_COLUMNS = ["Platform", "Course Link"]
LEVELS = {"BeginnerLevel": "Beginner", "IntermediateLevel": "Intermediate", "AdvancedLevel": "Advanced"}
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
PLATFORM_SITES = {"OpenCourse": "opencourse.example.org", "LearnWave": "learnwave.example.org",
                  "SkillMarket": "skillmarket.example.com", "Lakeside Online": "online.lakeside.example.edu",
                  "Association site": "certifications.example.org"}


def write(listings: list[Listing], ctx: SiteContext, rng: random.Random) -> list[dict[str, Any]]:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    truth = []
    for i, listing in enumerate(listings):
        cells, expected = row(listing, i, rng)
        writer.writerow([cells[c] for c in COLUMNS])
        truth.append({"source_key": stable_row_key([cells[c] for c in KEY_COLUMNS]),
                      "credential_key": listing.credential.key, "is_test": listing.is_test,
                      "expected": expected})
    ctx.write(FILE_PATH, "\ufeff" + out.getvalue(), "text/csv; charset=utf-8")
    return truth


def platform_of(rng: random.Random, listing: Listing) -> str:
    kind, key = listing.credential.org.kind, listing.credential.org.key
    if key == "lakeside":
        return "Lakeside Online"
    if kind == "university":
        return rng.choice(["OpenCourse", "LearnWave"])
    if kind == "professional_association":
        return "Association site"
    return "SkillMarket"


def row(listing: Listing, index: int, rng: random.Random) -> tuple[dict[str, str], dict[str, Any]]:
    c = listing.credential
    exp: dict[str, Any] = {"country": None, "modality": None, "timing": None, "free_to_audit": None,
                           "credits_ects": None, "workload_hours_per_week": None, "duration_weeks": None,
                           "workload_hours_total": None}
    platform = platform_of(rng, listing)
    partner = c.org.name if rng.random() < 0.75 else (c.org.aliases or (c.org.name,))[0]
    link = f"https://{PLATFORM_SITES[platform]}/course/{slug(listing.title) or 'course'}-{index}"

    level = LEVELS.get(c.audience_level)
    if level is None or rng.random() < 0.12:
        level = rng.choice(["", "Mixed", "All Levels"])  # says nothing of the audience
        exp["audience_level"] = None

    rating = round(rng.uniform(3.8, 4.9), 1)
    rating_text = rng.choice([f"{rating}stars", f"{rating}", f"{rating} out of 5", ""])
    reviews = rng.choice([0, 12, 87, 954, 1284, 43_000, 159_000])
    short = f"{round(reviews / 1000)}K" if reviews >= 10_000 else f"{reviews / 1000:.1f}K" if reviews >= 1000 else str(reviews)
    reviews_text = "" if not reviews else rng.choice([f"{reviews:,}", short, f"{short} reviews"])

    description = listing.description.replace("You will learn", "You’ll learn")
    if rng.random() < 0.25:
        description = description.replace(". ", ".\n")  # a description over several lines

    lo, hi = c.hours_per_week
    roll = rng.random()
    if roll < 0.35:
        duration = f"{c.weeks} weeks"
        exp["duration_weeks"] = c.weeks
    elif roll < 0.7:
        duration = f"{c.weeks} weeks · {lo}-{hi} hours/week"
        exp["duration_weeks"] = c.weeks
        exp["workload_hours_per_week"] = [lo, hi]
    elif roll < 0.9:
        duration = f"Approx. {c.total_hours} hours to complete"
        exp["workload_hours_total"] = c.total_hours
    else:
        duration = ""

    price_text = _price(rng, listing)
    if not price_text:
        exp.update(price_amount=None, price_currency=None, is_free=None)

    language = LANGUAGE_NAMES.get(c.language, c.language) if rng.random() < 0.9 else ""
    if not language:
        exp["language"] = None

    cert = c.type_label if rng.random() < 0.9 else ""
    if not cert and not title_names_type(listing):
        exp.update(credential_type=None, record_kind=None)

    cells = {
        "Course Name": listing.title,
        "University / Industry Partner": partner,
        "Platform": platform,
        "Course Link": link,
        "Category": c.subject_name if rng.random() < 0.92 else "",
        "Difficulty Level": level,
        "Course Rating": rating_text,
        "Number of Reviews": reviews_text,
        "Course Description": description if rng.random() < 0.95 else "",
        "Skills": ", ".join(c.skills) if rng.random() < 0.85 else "",
        "Duration": duration,
        "Price": price_text,
        "Language": language,
        "Certificate Type": cert,
    }
    if not cells["Category"]:
        exp["isced_code"] = None
    # One export step read UTF-8 as Windows-1252: some rows' text cells are mojibake.
    if rng.random() < 0.2:
        for col in ("University / Industry Partner", "Course Description", "Duration", "Price"):
            cells[col] = mojibake(cells[col])
    return cells, expected_values(listing, **exp)


def _price(rng: random.Random, listing: Listing) -> str:
    if rng.random() < 0.08:
        return ""
    if not listing.price:
        return rng.choice(["Free", "Free", "0"])
    symbol = SYMBOLS.get(listing.currency, "")
    return rng.choice([
        f"{symbol}{listing.price:,.2f}" if symbol else f"{listing.currency} {listing.price:,.2f}",
        f"{listing.currency} {listing.price:g}",
        f"{symbol}{listing.price:g}" if symbol else f"{listing.price:g} {listing.currency}",
    ])
