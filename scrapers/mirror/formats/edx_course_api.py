"""Format ``edx_course_api``: the edX LMS Course API, with the Discovery API's extra fields.

``GET /api/courses/v1/courses/?page=N&page_size=50`` answers
``{"results": [...], "pagination": {"next", "previous", "count", "num_pages"}}``, ``next``
an absolute URL or null. Each result has the LMS fields (blocks_url, effort, end,
enrollment_start/end, id ``course-v1:Org+Number+Run``, media, name, number, org,
short_description, start, start_display, start_type, pacing, mobile_available, hidden,
invitation_only, course_id) plus what the Discovery API adds and a catalog needs:
``program_type``, ``seats`` (type, price, currency), ``content_language``, ``level_type``,
``subjects``, ``weeks_to_complete``, ``owners``.

Dirt, as the real API has it: HTML and entities in ``short_description`` (or an empty one),
effort in several spellings or null, fields missing on some records, a test course, and
page 2 answering 500 once before it succeeds.
"""

from __future__ import annotations

import json
import math
import random
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from scrapers.mirror.formats._mooc import (
    course_number,
    effort_text,
    end_date,
    html_description,
    partner_code,
    start_date,
)
from scrapers.mirror.generate import SiteContext, expected_values
from scrapers.mirror.universe import Listing

PAGE_SIZE = 50
LIST_PATH = "/api/courses/v1/courses/"
LEVEL_TYPES = {"BeginnerLevel": "Introductory", "IntermediateLevel": "Intermediate", "AdvancedLevel": "Advanced"}
CONTENT_LANGUAGES = {"en": "en-us", "de": "de-de", "es": "es-es", "fr": "fr-fr"}


def page_path(page: int) -> str:
    return f"{LIST_PATH}?page={page}&page_size={PAGE_SIZE}"


def write(listings: list[Listing], ctx: SiteContext, rng: random.Random) -> list[dict[str, Any]]:
    results, truth = [], []
    for i, listing in enumerate(listings):
        result, expected = course_run(listing, i, ctx, rng)
        results.append(result)
        truth.append({"source_key": result["id"], "credential_key": listing.credential.key,
                      "is_test": listing.is_test, "expected": expected})
    # A draft course run with no name, as the real API lists them: unreadable as an
    # offering, so it must end in the rejects with its reason, never silently dropped.
    if results:
        draft = {**results[len(results) // 2], "id": "course-v1:OpenCourseX+DRAFT01+2027_T1",
                 "course_id": "course-v1:OpenCourseX+DRAFT01+2027_T1", "name": None, "short_description": ""}
        results.insert(len(results) // 2, draft)
        truth.append({"source_key": draft["id"], "credential_key": None, "is_test": False,
                      "expected_reject": "missing_title", "expected": {}})
    pages = max(1, math.ceil(len(results) / PAGE_SIZE))
    for page in range(1, pages + 1):
        body = {
            "results": results[(page - 1) * PAGE_SIZE: page * PAGE_SIZE],
            "pagination": {
                "next": ctx.url(page_path(page + 1)) if page < pages else None,
                # edX drops page=1 from the previous link of page 2.
                "previous": None if page == 1 else ctx.url(
                    f"{LIST_PATH}?page_size={PAGE_SIZE}" if page == 2 else page_path(page - 1)),
                "count": len(results),
                "num_pages": pages,
            },
        }
        ctx.write(page_path(page), json.dumps(body, ensure_ascii=False), "application/json")
    if pages >= 2:
        ctx.fault(page_path(2), 500, times=1)
    return truth


def course_run(listing: Listing, index: int, ctx: SiteContext, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    c = listing.credential
    org = partner_code(c.org)
    number = course_number(c, index)
    start, end = start_date(c), end_date(c)
    run = f"{(start.month - 1) // 4 + 1}T{start.year}"
    key = f"course-v1:{org}+{number}+{run}"
    image = f"/asset-v1:{org}+{number}+{run}+type@asset+block@course_image.jpg"
    effort = None if rng.random() < 0.15 else effort_text(rng, c)
    if effort is not None and rng.random() < 0.1:
        effort += rng.choice(["\n", "\r\n", " "])  # trailing whitespace, as edX staff typed it
    if listing.is_test:
        description = listing.description
    elif rng.random() < 0.05:
        description = rng.choice(["", None])
    else:
        description = html_description(rng, listing.description)

    result: dict[str, Any] = {
        "blocks_url": ctx.url(f"/api/courses/v2/blocks/?course_id={quote(key, safe='')}"),
        "effort": effort,
        "end": f"{end.isoformat()}T00:00:00Z",
        "enrollment_start": f"{(start - timedelta(days=60)).isoformat()}T00:00:00Z" if rng.random() < 0.5 else None,
        "enrollment_end": None,
        "id": key,
        "media": {
            "banner_image": {"uri": image, "uri_absolute": ctx.url(image)},
            "course_image": {"uri": image},
            "course_video": {"uri": None},
            "image": {"raw": ctx.url(image), "small": ctx.url(image + "?w=375"), "large": ctx.url(image + "?w=750")},
        },
        "name": listing.title,
        "number": number,
        "org": org,
        "short_description": description,
        "start": f"{start.isoformat()}T00:00:00Z",
        "start_display": start.strftime("%b. %d, %Y").replace(" 0", " "),
        "start_type": "timestamp",
        "pacing": "self" if c.timing == "self-paced" else "instructor",
        "mobile_available": rng.random() < 0.8,
        "hidden": False,
        "invitation_only": False,
        "course_id": key,
    }

    # Discovery API fields; some records lack some of them.
    exp: dict[str, Any] = {"country": None, "modality": None, "credits_ects": None, "workload_hours_total": None}
    result["program_type"] = c.type_label if c.credential_type != "Course" else None
    seats, exp["free_to_audit"] = _seats(listing)
    result["seats"] = seats
    if rng.random() < 0.95:
        result["content_language"] = CONTENT_LANGUAGES.get(c.language, c.language)
    else:
        exp["language"] = None
    level = LEVEL_TYPES.get(c.audience_level)
    if level and rng.random() < 0.9:
        result["level_type"] = level
    else:
        exp["audience_level"] = None
    result["subjects"] = [{"name": c.subject_name, "slug": c.subject_name.lower().replace(" ", "-")}]
    if rng.random() < 0.9:
        result["weeks_to_complete"] = c.weeks
    else:
        exp["duration_weeks"] = None
    if rng.random() < 0.8:
        result["owners"] = [{"key": org, "name": c.org.name}]
    if effort is None:
        exp["workload_hours_per_week"] = None
    return result, expected_values(listing, **exp)


def _seats(listing: Listing) -> tuple[list[dict[str, Any]], bool | None]:
    """Seats as edX sells them, and whether they show the course is free to audit."""
    c = listing.credential
    audit = {"type": "audit", "price": "0.00", "currency": "USD", "upgrade_deadline": None}
    if not listing.price:
        return [audit], None  # free outright: auditing is moot
    paid = {"type": "verified" if c.credential_type != "Course" else "professional",
            "price": f"{listing.price:.2f}", "currency": listing.currency, "upgrade_deadline": None}
    if c.free_to_audit:
        return [audit, paid], True
    return [paid], False
