"""Format ``edx_course_feed_rss``: edX's course-feed RSS 2.0 with the ``course:`` namespace.

``/api/v2/report/course-feed/rss?page=N`` (N from 0), 100 items a page. The channel carries
``atom:link`` rel first / last / next / self, as edX's does; the last page has no ``next``.
Each ``<item>`` has guid, title, link, description (HTML, escaped), pubDate and the
``course:`` elements edX publishes (id, code, created, start, end, self_paced, subtitle,
subject, school, instructors, video-*, image-*, verified, xseries, highschool, profed,
effort, length, prerequisites), plus two this platform adds: ``course:credential`` (the
credential a learner earns, absent for plain courses) and ``course:price``.

Dirt: empty elements (effort, length), HTML in subtitles, effort written as prose, prices
in several spellings or missing, and one page that is not well-formed XML (a bare ``&``),
which a lenient feed parser still reads.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from scrapers.mirror.formats._mooc import (
    course_number,
    effort_text,
    end_date,
    html_description,
    partner_code,
    slug,
    start_date,
)
from scrapers.mirror.generate import SiteContext, expected_values
from scrapers.mirror.universe import Listing

PAGE_SIZE = 100
FEED_PATH = "/api/v2/report/course-feed/rss"
SITE = "https://learnwave.example.org"
COURSE_NS = "https://www.edx.org/api/course/elements/1.0/"
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def page_path(page: int) -> str:
    return f"{FEED_PATH}?page={page}"


def write(listings: list[Listing], ctx: SiteContext, rng: random.Random) -> list[dict[str, Any]]:
    items, truth = [], []
    nids = rng.sample(range(10_000, 60_000), k=len(listings))
    for i, (listing, nid) in enumerate(zip(listings, nids, strict=True)):
        xml, key, expected = item(listing, i, nid, rng)
        items.append(xml)
        truth.append({"source_key": key, "credential_key": listing.credential.key,
                      "is_test": listing.is_test, "expected": expected})
    pages = max(1, -(-len(items) // PAGE_SIZE))
    broken_page = rng.randrange(pages)  # one page is not well-formed XML
    for page in range(pages):
        body = channel(ctx, page, pages, items[page * PAGE_SIZE:(page + 1) * PAGE_SIZE])
        if page == broken_page:
            body = body.replace("<course:prerequisites>", "<course:prerequisites>Algebra & statistics. ", 1)
        ctx.write(page_path(page), body, "application/rss+xml; charset=utf-8")
    return truth


def channel(ctx: SiteContext, page: int, pages: int, items: list[str]) -> str:
    links = [f' <atom:link rel="first" href="{ctx.url(FEED_PATH)}"/>',
             f' <atom:link rel="last" href="{ctx.url(page_path(pages - 1))}"/>']
    if page + 1 < pages:
        links.append(f' <atom:link rel="next" href="{ctx.url(page_path(page + 1))}"/>')
    links.append(f' <atom:link href="{ctx.url(page_path(page))}" rel="self" type="application/rss+xml" />')
    head = "\n".join([
        '<?xml version="1.0" encoding="UTF-8" ?>',
        '<rss version="2.0"',
        'xmlns:dc="http://purl.org/dc/elements/1.1/"',
        'xmlns:atom="http://www.w3.org/2005/Atom"',
        f'xmlns:course="{COURSE_NS}"',
        'xmlns:staff="https://www.edx.org/api/staff/elements/1.0/">',
        "<channel>",
        " <title>LearnWave course feed</title>",
        f" <link>{ctx.url(FEED_PATH)}</link>",
        *links,
        " <description>LearnWave - course catalog feed</description>",
        " <language>en</language>",
    ])
    return head + "\n" + "\n".join(items) + "\n</channel>\n</rss>\n"


def item(listing: Listing, index: int, nid: int, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    c = listing.credential
    school = partner_code(c.org)
    code = course_number(c, index)
    start, end = start_date(c), end_date(c)
    key = f"course-v1:{school}+{code}+{(start.month - 1) // 4 + 1}T{start.year}"
    exp: dict[str, Any] = {"country": None, "modality": None, "audience_level": None, "language": None,
                           "credits_ects": None, "free_to_audit": None, "workload_hours_total": None}
    roll = rng.random()
    if roll < 0.1:
        effort = ""
        exp["workload_hours_per_week"] = None
    elif roll < 0.13:
        effort = "Student progress through the course is self-paced"
        exp["workload_hours_per_week"] = None
    else:
        effort = effort_text(rng, c)
    if rng.random() < 0.08:
        length = ""
        exp["duration_weeks"] = None
    else:
        length = f"{c.weeks} weeks"
    price = _price_text(rng, listing)
    if price is None:
        exp.update(price_amount=None, price_currency=None, is_free=None)
    created = datetime(2026, 1, 5) + timedelta(days=rng.randrange(300), seconds=rng.randrange(86400))
    subtitle = listing.description.split(". ")[0].rstrip(".") + "."
    if rng.random() < 0.2:
        subtitle = f"<p>{subtitle}</p>"
    verified = c.credential_type != "Course"
    fields = [
        ("guid", f"{SITE}/node/{nid}"),
        ("title", listing.title),
        ("link", f"{SITE}/course/{slug(listing.title)}-{slug(school)}-{code.lower()}"),
        ("description", html_description(rng, listing.description)),
        ("pubDate", format_datetime(created.replace(hour=18))),
        ("course:id", key),
        ("course:code", code),
        ("course:created", format_datetime(created)),
        ("course:start", f"{start.isoformat()} 00:00:00"),
        ("course:end", f"{end.isoformat()} 00:00:00"),
        ("course:self_paced", "1" if c.timing == "self-paced" else "0"),
        ("course:subtitle", subtitle),
        ("course:subject", c.subject_name),
        ("course:school", school),
        ("course:instructors", ""),
        ("course:video-youtube", ""),
        ("course:video-file", ""),
        ("course:image-banner", f"{SITE}/sites/default/files/course/image/banner/{nid}.jpg"),
        ("course:image-thumbnail", f"{SITE}/sites/default/files/course/image/thumb/{nid}.jpg"),
        ("course:verified", "1" if verified else "0"),
        ("course:xseries", "1" if c.type_label == "XSeries" else "0"),
        ("course:highschool", "0"),
        ("course:profed", "1" if c.credential_type == "ProfessionalCertificate" else "0"),
    ]
    if c.credential_type != "Course":
        fields.append(("course:credential", c.type_label))
    if price is not None:
        fields.append(("course:price", price))
    fields += [
        ("course:effort", effort),
        ("course:length", length),
        ("course:prerequisites", rng.choice(["None", "None\n", "High school mathematics.",
                                             f"Basic familiarity with {c.subject_name.lower()}.", ""])),
    ]
    xml = "    <item>\n" + "\n".join(f"        <{k}>{escape(v)}</{k}>" for k, v in fields) + "\n    </item>"
    return xml, key, expected_values(listing, **exp)


def _price_text(rng: random.Random, listing: Listing) -> str | None:
    if rng.random() < 0.1:
        return None
    if not listing.price:
        return rng.choice(["Free", "0", "Free (audit)"]) if not listing.credential.free_to_audit else "Free"
    symbol = SYMBOLS.get(listing.currency)
    return rng.choice([
        f"{symbol}{listing.price:.2f}" if symbol else f"{listing.price:.2f} {listing.currency}",
        f"{listing.currency} {listing.price:.2f}",
        f"{listing.price:g} {listing.currency}",
    ])
