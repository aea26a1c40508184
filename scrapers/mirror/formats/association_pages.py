"""A professional association's certification pages: a listing page and one plain HTML page
per certification.

Shaped after association and vendor certification pages (CompTIA, AWS, PMI-style): an
``<h1>``, a lead paragraph, and the exam facts as a two-column ``<table>``, a ``<dl>`` or
``<p><strong>Label:</strong> value</p>`` lines, the markup and the labels varying a little
between pages (the site grew over years): "Exam fee: $395 (members $295)", "Exam format:
120 multiple-choice questions, 3 hours", "Eligibility", "Recertification: every 3 years,
60 CEUs", "Delivery", "Domains covered" (a list), and an "Accredited by ..." line.

Dirt: one page without any fee; a retake fee beside the exam fee on some pages. Faults: a
500 on the listing page, a 429 with Retry-After on one certification page.
"""

from __future__ import annotations

import random
import re
from typing import Any

from scrapers.mirror.formats._site_kit import LANGUAGE_NAMES, esc, money, unique_slugs
from scrapers.mirror.generate import SiteContext, expected_values
from scrapers.mirror.universe import Listing, Org

COUNTRY_NAMES = {"US": "United States", "GB": "United Kingdom", "IE": "Ireland"}
DELIVERY = ["Online, remotely proctored", "Online proctored exam", "Remote online proctoring (24/7)"]
FEE_LABELS = ["Exam fee", "Examination fee", "Fee"]


def acronym(title: str) -> str:
    return "".join(w[0] for w in re.findall(r"[A-Za-z]+", title) if w[0].isupper()) or "CERT"


def write(listings: list[Listing], ctx: SiteContext, rng: random.Random) -> list[dict[str, Any]]:
    if not listings:
        return []
    org = listings[0].credential.org
    slugs = unique_slugs([acronym(lst.credential.title) for lst in listings])
    no_fee = rng.randrange(len(listings))
    rows, cards = [], []
    for i, (lst, slug) in enumerate(zip(listings, slugs, strict=True)):
        path = f"/certifications/{slug}.html"
        html, expected = certification_page(lst, ctx, rng, org, has_fee=i != no_fee)
        ctx.write(path, html, "text/html; charset=utf-8")
        cards.append(f'<li class="cert-card"><a href="{ctx.path(path)}">{esc(lst.title)}</a>'
                     f"<p>{esc(lst.description.split('. ')[0])}.</p></li>")
        rows.append({"source_key": ctx.path(path), "credential_key": lst.credential.key,
                     "is_test": lst.is_test, "expected": expected})
    listing = (f"<h1>Our certifications</h1><p>Vendor-neutral credentials for data professionals, "
               f"earned by examination.</p><ul class=\"cert-list\">{''.join(cards)}</ul>")
    ctx.write("/certifications/", page(ctx, org, "Certifications", listing), "text/html; charset=utf-8")
    for path, title in (("/", org.name), ("/membership/", "Membership"), ("/events/", "Events")):
        ctx.write(path, page(ctx, org, title, f"<h1>{esc(title)}</h1><p>Coming soon.</p>"), "text/html; charset=utf-8")
    ctx.fault("/certifications/", 500)
    ctx.fault(f"/certifications/{slugs[len(slugs) // 2]}.html", 429, headers={"Retry-After": "1"})
    return rows


def page(ctx: SiteContext, org: Org, title: str, main: str) -> str:
    country = COUNTRY_NAMES.get(org.country, org.country)
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{esc(title)} - {esc(org.aliases[0] if org.aliases else org.name)}</title>
<meta property="og:site_name" content="{esc(org.name)}"></head>
<body>
<header><a class="brand" href="{ctx.path('/')}">{esc(org.name)}</a>
<nav><a href="{ctx.path('/certifications/')}">Certifications</a> | <a href="{ctx.path('/membership/')}">Membership</a> |
<a href="{ctx.path('/events/')}">Events</a> | <a href="{ctx.path('/login/')}">Member login</a></nav></header>
<main>
{main}
</main>
<footer><address>{esc(org.name)}<br>233 South Wacker Drive, Suite 8400<br>Chicago, IL 60606<br><span class="country">{country}</span></address>
<p>&copy; 2026 {esc(org.aliases[0] if org.aliases else org.name)}. All rights reserved.</p></footer>
</body>
</html>
"""


def certification_page(lst: Listing, ctx: SiteContext, rng: random.Random, org: Org, *, has_fee: bool) -> tuple[str, dict[str, Any]]:
    c = lst.credential
    questions, hours = rng.choice([(100, 2), (120, 3), (150, 4), (90, 2.5)])
    facts: list[tuple[str, str | list[str]]] = [
        (rng.choice(["Credential type", "Type"]), rng.choice(["Professional certification", "Certification (exam-based)"])),
        (rng.choice(["Field", "Practice area"]), c.subject_name),
    ]
    if has_fee:
        member = round(lst.price * 0.75 / 5) * 5
        facts.append((rng.choice(FEE_LABELS), f"${money(lst.price)} (members ${money(member)})"))
        if rng.random() < 0.3:
            facts.append(("Retake fee", f"${money(round(lst.price * 0.5))}"))
    facts += [
        ("Exam format", f"{questions} multiple-choice questions, {hours:g} hours"),
        ("Eligibility", rng.choice(["A bachelor's degree and two years of relevant experience",
                                    "Four years of professional experience, or two with a relevant degree",
                                    "None; recommended: one year in a related role"])),
        ("Delivery", rng.choice(DELIVERY)),
        ("Typical preparation time", f"{c.weeks} weeks"),
        ("Study effort", f"{c.hours_per_week[0]}-{c.hours_per_week[1]} hours per week"),
        ("Language", LANGUAGE_NAMES.get(c.language, c.language)),
        ("Recertification", rng.choice(["Every 3 years, 60 CEUs", "every three years (60 continuing education units)"])),
        (rng.choice(["Domains covered", "Exam domains"]), [s[0].upper() + s[1:] for s in c.skills]),
    ]
    accreditation = "Accredited by the ANSI National Accreditation Board (ANAB) to ISO/IEC 17024"
    accreditation_as_row = rng.random() < 0.4
    if accreditation_as_row:
        facts.append(("Accreditation", accreditation))

    def value_html(v: str | list[str]) -> str:
        return "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in v) + "</ul>" if isinstance(v, list) else esc(v)

    style = rng.choice(["table", "dl", "lines"])
    if style == "table":
        details = ('<table class="cert-details"><tbody>'
                   + "".join(f"<tr><th scope=\"row\">{esc(k)}</th><td>{value_html(v)}</td></tr>" for k, v in facts)
                   + "</tbody></table>")
    elif style == "dl":
        details = '<dl class="cert-facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{value_html(v)}</dd>" for k, v in facts) + "</dl>"
    else:
        details = '<div class="cert-facts">' + "".join(
            f"<p><strong>{esc(k)}:</strong> {value_html(v)}</p>" if isinstance(v, str)
            else f"<div><strong>{esc(k)}:</strong>{value_html(v)}</div>" for k, v in facts) + "</div>"
    main = f"""<nav class="crumbs"><a href="{ctx.path('/')}">Home</a> &rsaquo; <a href="{ctx.path('/certifications/')}">Certifications</a></nav>
<article class="certification">
<h1>{esc(lst.title)}</h1>
<p class="lead">{esc(lst.description)}</p>
<h2>Exam details</h2>
{details}
{'' if accreditation_as_row else f'<p class="accreditation">{accreditation}.</p>'}
<p><a class="button" href="{ctx.path('/login/')}">Register for the exam</a></p>
</article>"""
    price = {} if has_fee else {"price_amount": None, "price_currency": None, "is_free": None}
    expected = expected_values(lst, timing=None, audience_level=None, free_to_audit=None, credits_ects=None, **price)
    return page(ctx, org, lst.title, main), expected
