"""Format ``udemy_api``: Udemy Affiliate API 2.0 ``/api-2.0/courses/``.

``{"count", "next", "previous", "results": [...]}`` with ``next`` an absolute URL or null.
Each result is a ``{"_class": "course", ...}`` object: id, title, relative url
(``/course/<slug>/``), is_paid, price (``"$49.99"`` / ``"Free"``), price_detail (null when
free), visible_instructors, headline, images, published_title, locale, content_info
(``"10.5 total hours"``), instructional_level, primary_category, primary_subcategory,
avg_rating, num_reviews, num_subscribers.

Dirt: a test course, records without headline / content_info / locale / level / price
detail, and page 2 answering 429 with ``Retry-After: 1`` once.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from scrapers.mirror.formats._mooc import slug, title_names_type
from scrapers.mirror.generate import SiteContext, expected_values
from scrapers.mirror.universe import Listing

PAGE_SIZE = 100
LIST_PATH = "/api-2.0/courses/"
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
LOCALES = {"en": [("en_US", "English (US)"), ("en_GB", "English (UK)")], "de": [("de_DE", "Deutsch")],
           "es": [("es_ES", "Español")], "fr": [("fr_FR", "Français")]}
LEVELS = {"BeginnerLevel": "Beginner Level", "IntermediateLevel": "Intermediate Level", "AdvancedLevel": "Expert Level"}
CATEGORIES = {
    "0613": "Development", "0612": "IT & Software", "0542": "Development", "0413": "Business",
    "0412": "Finance & Accounting", "0411": "Finance & Accounting", "0414": "Marketing",
    "0913": "Health & Fitness", "0912": "Health & Fitness", "0111": "Teaching & Academics",
    "0231": "Teaching & Academics", "0521": "Teaching & Academics", "0713": "Teaching & Academics",
    "0714": "Teaching & Academics", "0421": "Business", "0313": "Personal Development",
    "1022": "Business", "0211": "Photography & Video",
}


def page_path(page: int) -> str:
    return f"{LIST_PATH}?page={page}&page_size={PAGE_SIZE}"


def write(listings: list[Listing], ctx: SiteContext, rng: random.Random) -> list[dict[str, Any]]:
    results, truth = [], []
    ids = rng.sample(range(100_000, 5_000_000), k=len(listings))  # unique course ids
    for listing, course_id in zip(listings, ids, strict=True):
        result, expected = course(listing, course_id, rng)
        results.append(result)
        truth.append({"source_key": str(course_id), "credential_key": listing.credential.key,
                      "is_test": listing.is_test, "expected": expected})
    pages = max(1, math.ceil(len(results) / PAGE_SIZE))
    for page in range(1, pages + 1):
        body = {
            "count": len(results),
            "next": ctx.url(page_path(page + 1)) if page < pages else None,
            "previous": ctx.url(page_path(page - 1)) if page > 1 else None,
            "results": results[(page - 1) * PAGE_SIZE: page * PAGE_SIZE],
            "aggregations": None,
        }
        ctx.write(page_path(page), json.dumps(body, ensure_ascii=False), "application/json")
    if pages >= 2:
        ctx.fault(page_path(2), 429, times=1, headers={"Retry-After": "1"})
    return truth


def course(listing: Listing, course_id: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    c = listing.credential
    published_title = f"{slug(listing.title)}-{course_id % 1000}" if listing.title.strip() else str(course_id)
    image = f"https://img.skillmarket.example.com/course/480x270/{course_id}_{rng.randrange(16**4):04x}.jpg"
    exp: dict[str, Any] = {
        # The API says nothing of these: a course marketplace lists courses.
        "country": None, "modality": None, "timing": None, "credits_ects": None, "free_to_audit": None,
        "duration_weeks": None, "workload_hours_per_week": None, "workload_hours_total": c.total_hours,
    }
    if not title_names_type(listing):  # only a title like "X Professional Certificate" says more
        exp.update(credential_type=None, record_kind="learning_opportunity")
    account = c.org.name if rng.random() < 0.7 else (c.org.aliases or (c.org.name,))[0]
    instructors = [{"_class": "user", "title": account, "name": account.split()[0], "display_name": account,
                    "job_title": rng.choice(["Official training partner", "Learning provider", ""]),
                    "image_50x50": "https://img.skillmarket.example.com/user/50x50/anonymous.png",
                    "initials": "".join(w[0] for w in account.split()[:2]).upper(),
                    "url": f"/user/{slug(account)}/"}]
    if rng.random() < 0.3:
        instructors.append({"_class": "user", "title": "Alex Morgan", "name": "Alex", "display_name": "Alex Morgan",
                            "job_title": f"Lead instructor at {account}", "url": "/user/alex-morgan/"})
    paid = listing.price > 0
    symbol = SYMBOLS.get(listing.currency, listing.currency + " ")
    price_string = f"{symbol}{listing.price:.2f}" if paid else "Free"
    result: dict[str, Any] = {
        "_class": "course",
        "id": course_id,
        "title": listing.title,
        "url": f"/course/{published_title}/",
        "is_paid": paid,
        "price": price_string,
        "price_detail": {"amount": listing.price, "currency": listing.currency, "price_string": price_string,
                         "currency_symbol": symbol} if paid else None,
        "price_serve_tracking_id": f"{rng.getrandbits(64):016x}",
        "visible_instructors": instructors,
        "image_125_H": image.replace("480x270", "125_H"),
        "image_240x135": image.replace("480x270", "240x135"),
        "image_480x270": image,
        "is_practice_test_course": False,
        "published_title": published_title,
        "tracking_id": f"{rng.getrandbits(48):012x}",
        "primary_category": {"_class": "course_category", "title": CATEGORIES.get(c.isced, "Business")},
        "primary_subcategory": {"_class": "course_subcategory", "title": c.subject_name},
        "avg_rating": round(rng.uniform(3.6, 4.9), 5),
        "num_reviews": rng.choice([0, 3, 12, 87, 240, 1520, 12873]),
        "num_subscribers": rng.choice([5, 120, 990, 4520, 18204, 240511]),
    }
    if rng.random() < 0.93 and not listing.is_test:
        result["headline"] = listing.description.split(". ")[0].rstrip(".")
    if paid and rng.random() < 0.05:
        del result["price_detail"]  # the price string alone still says it
    if rng.random() < 0.94:
        loc, title = rng.choice(LOCALES.get(c.language, [(c.language, c.language)]))
        result["locale"] = {"_class": "locale", "locale": loc, "title": title, "english_title": title}
    else:
        exp["language"] = None
    if rng.random() < 0.94:
        hours = c.total_hours
        result["content_info"] = f"{hours} total hour{'s' if hours != 1 else ''}"
        result["content_info_short"] = f"{hours} hour{'s' if hours != 1 else ''}"
    else:
        exp["workload_hours_total"] = None
    level = LEVELS.get(c.audience_level)
    if level and rng.random() < 0.75:
        result["instructional_level"] = level
        result["instructional_level_simple"] = level.replace(" Level", "")
    else:
        if rng.random() < 0.8:
            result["instructional_level"] = "All Levels"  # says nothing of the audience
            result["instructional_level_simple"] = "All Levels"
        exp["audience_level"] = None
    return result, expected_values(listing, **exp)
