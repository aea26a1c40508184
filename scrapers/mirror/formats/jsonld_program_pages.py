"""A university's own site: sitemap index -> urlsets -> program pages with schema.org JSON-LD.

Shaped after real program pages (wgu.edu among them): a marketing page with navigation,
hero, an "at a glance" facts list, FAQ and footer, and in its head one or more
``application/ld+json`` blocks: the university (CollegeOrUniversity), the program
(EducationalOccupationalProgram with educationalCredentialAwarded, timeToComplete,
educationalProgramMode, offers, numberOfCredits, hasCourse ...), sometimes a BreadcrumbList
or FAQPage; either as separate blocks or one ``@graph`` whose courses are referenced by @id.

Dirt: exactly one program page whose program block is invalid JSON (unescaped quotes: no
repair can save it) and whose university block is wrapped in an HTML comment (a repair pass
recovers it); one page without any description; HTML markup inside some description strings.
Faults: a 503 on one urlset, a 429 with Retry-After on one program page.
"""

from __future__ import annotations

import json
import random
from typing import Any

from scrapers.mirror.formats._site_kit import (
    CIP_BY_ISCED,
    LANGUAGE_NAMES,
    esc,
    iso_duration,
    jsonld_script,
    money,
    unique_slugs,
    words_duration,
)
from scrapers.mirror.generate import SiteContext, expected_values
from scrapers.mirror.universe import Listing, Org

URLSET_SIZE = 100
LEVELS = {"BeginnerLevel": "Beginner", "IntermediateLevel": "Intermediate", "AdvancedLevel": "Advanced",
          "GraduateLevel": "Graduate", "UndergraduateLevel": "Undergraduate"}
MODES = {"OnlineOnly": ("online", "Online", "Online"), "InPerson": ("onsite", "onsite", "On campus"),
         "BlendedDelivery": ("blended", "Blended", "Hybrid (online and on campus)")}
PREREQUISITES = {"MasterDegree": "Bachelor's degree", "BachelorDegree": "High school diploma or equivalent"}


def write(listings: list[Listing], ctx: SiteContext, rng: random.Random) -> list[dict[str, Any]]:
    slugs = unique_slugs([lst.title for lst in listings])
    order = list(range(len(listings)))
    rng.shuffle(order)
    broken, no_description = (order + [-1, -1])[:2]  # the dirt needs a page each; tiny sites get less
    markup = set(order[2:2 + max(1, len(listings) // 10)])
    rows, entries = [], []
    for i, (listing, slug) in enumerate(zip(listings, slugs, strict=True)):
        path = f"/programs/{slug}/"
        page = ProgramPage(listing, ctx, rng, path, broken=i == broken, no_description=i == no_description,
                           markup=i in markup)
        ctx.write(path, page.render(), "text/html; charset=utf-8")
        entries.append((path, f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"))
        rows.append({"source_key": ctx.path(path), "credential_key": listing.credential.key,
                     "is_test": listing.is_test, "expected": page.expected()})
    _write_sitemaps(ctx, entries, listings[0].credential.org if listings else None)
    if listings:
        ctx.fault("/sitemaps/programs-2.xml" if len(entries) > URLSET_SIZE else "/sitemaps/programs-1.xml", 503)
        ctx.fault(entries[len(entries) // 2][0], 429, headers={"Retry-After": "1"})
    return rows


class ProgramPage:
    """One program page: its JSON-LD, its visible facts, and what a careful reader maps it to."""

    def __init__(self, listing: Listing, ctx: SiteContext, rng: random.Random, path: str, *,
                 broken: bool, no_description: bool, markup: bool) -> None:
        self.listing, self.ctx, self.rng, self.path = listing, ctx, rng, path
        self.c = listing.credential
        self.org: Org = self.c.org
        self.broken, self.no_description, self.markup = broken, no_description, markup
        self.url = ctx.url(path)
        self.uni_id = ctx.url("/#university")
        self.graph_style = not broken and rng.random() < 0.5

    # --- JSON-LD ---------------------------------------------------------------------------

    def university(self) -> dict[str, Any]:
        org = self.org
        return {
            "@context": "https://schema.org", "@type": "CollegeOrUniversity", "@id": self.uni_id,
            "name": org.name, "alternateName": org.aliases[-1] if org.aliases else org.name,
            "url": self.ctx.url("/"), "logo": self.ctx.url("/static/img/logo.svg"),
            "address": {"@type": "PostalAddress", "streetAddress": "1200 College Avenue",
                        "addressLocality": "Northfield", "addressRegion": "MN", "postalCode": "55057",
                        "addressCountry": org.country},
            "sameAs": [f"https://www.linkedin.com/school/{org.key}-university/", f"https://www.youtube.com/@{org.key}"],
        }

    def description_value(self) -> str | None:
        if self.no_description:
            return None
        if self.markup:
            first, _, rest = self.listing.description.partition(". ")
            items = "".join(f"<li>{o}</li>" for o in self.c.outcomes)
            return f"<p><strong>{first}.</strong> {rest}</p><ul>{items}</ul>"
        return self.listing.description

    def offers(self) -> list[dict[str, Any]]:
        lst, rng = self.listing, self.rng
        if lst.price == 0:
            offers = [{"@type": "Offer", "price": 0, "priceCurrency": lst.currency, "category": "Free"}]
        elif rng.random() < 0.35:  # the WGU shape: the amount inside a PriceSpecification
            offers = [{"@type": "Offer", "category": "Total program tuition",
                       "priceSpecification": {"@type": "PriceSpecification", "price": money(lst.price).replace(",", ""),
                                              "priceCurrency": lst.currency}}]
        else:
            offers = [{"@type": "Offer", "price": lst.price, "priceCurrency": lst.currency, "category": "Tuition"}]
        if self.c.credential_type in ("MasterDegree", "BachelorDegree"):
            offers.append({"@type": "Offer", "price": 50, "priceCurrency": "USD", "category": "Application fee"})
        if self.c.free_to_audit:
            offers.append({"@type": "Offer", "price": 0, "priceCurrency": lst.currency,
                           "category": "Audit track (no credential)"})
        return offers

    def courses(self) -> list[dict[str, Any]]:
        if self.c.credential_type == "DigitalBadge":
            return []
        names = [f"{q} {s[0].upper()}{s[1:]}" for q, s in zip(
            ["Foundations of", "Applied", "Topics in", "Capstone:"], self.c.skills, strict=False)]
        return [{"@type": "Course", "@id": f"{self.url}#course-{i + 1}", "name": name,
                 "provider": {"@type": "CollegeOrUniversity", "@id": self.uni_id}} for i, name in enumerate(names)]

    def program(self) -> dict[str, Any]:
        c, lst, rng = self.c, self.listing, self.rng
        cip, cip_title = CIP_BY_ISCED[c.isced]
        program: dict[str, Any] = {
            "@context": "https://schema.org", "@type": "EducationalOccupationalProgram", "@id": f"{self.url}#program",
            "identifier": f"NFU-{c.key.split('-')[-1]}", "name": lst.title, "url": self.url,
            "description": self.description_value(),
            "provider": {"@type": "CollegeOrUniversity", "@id": self.uni_id} if rng.random() < 0.7
            else {"@type": "CollegeOrUniversity", "name": self.org.name, "@id": self.uni_id},
            "educationalCredentialAwarded": {
                "@type": "EducationalOccupationalCredential", "credentialCategory": c.type_label,
                "name": f"{c.type_label} in {c.subject_name}",
                "competencyRequired": [{"@type": "DefinedTerm", "name": s} for s in c.skills],
                "recognizedBy": {"@type": "Organization", "name": "Higher Learning Commission"},
            } if rng.random() < 0.85 else c.type_label,
            "timeToComplete": iso_duration(c.weeks),
            "educationalProgramMode": MODES[c.modality][0 if rng.random() < 0.7 else 1],
            "timeOfDay": "Self-paced" if c.timing == "self-paced" else rng.choice(["Scheduled cohorts", "Evenings, cohort-based"]),
            "offers": self.offers(),
            "educationalLevel": LEVELS.get(c.audience_level),
            "inLanguage": "en-US" if c.language == "en" and rng.random() < 0.4 else c.language,
            "about": [{"@type": "DefinedTerm", "name": c.subject_name, "termCode": cip,
                       "inDefinedTermSet": "https://nces.ed.gov/ipeds/cipcode/", "description": cip_title}],
            "teaches": c.outcomes,
            "programPrerequisites": {"@type": "EducationalOccupationalCredential",
                                     "credentialCategory": PREREQUISITES[c.credential_type]}
            if c.credential_type in PREREQUISITES else "None",
        }
        if c.credits_ects:
            program["numberOfCredits"] = {"@type": "StructuredValue", "value": c.credits_ects, "unitText": "ECTS credits"}
        if c.timing == "scheduled":
            program["startDate"] = c.start_dates if len(c.start_dates) > 1 else c.start_dates[0]
        courses = self.courses()
        if courses:
            program["hasCourse"] = [{"@id": x["@id"]} for x in courses] if self.graph_style else courses
        return {k: v for k, v in program.items() if v is not None}

    def blocks(self) -> list[str]:
        program, uni = self.program(), self.university()
        crumbs = {"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Home", "item": self.ctx.url("/")},
            {"@type": "ListItem", "position": 2, "name": "Programs", "item": self.ctx.url("/programs/")},
            {"@type": "ListItem", "position": 3, "name": self.listing.title, "item": self.url}]}
        if self.graph_style:
            nodes = [{k: v for k, v in n.items() if k != "@context"} for n in [uni, program, *self.courses(), crumbs]]
            return [jsonld_script({"@context": "https://schema.org", "@graph": nodes}, self.rng)]
        out = [jsonld_script(uni, self.rng), jsonld_script(program, self.rng)]
        if self.broken:
            out = [self._commented(uni), self._unescaped(program)]
        if self.rng.random() < 0.5:
            out.append(jsonld_script(crumbs, self.rng))
        if self.rng.random() < 0.3:
            out.append(jsonld_script(self.faq(), self.rng))
        return out

    @staticmethod
    def _commented(data: dict[str, Any]) -> str:
        """An old CMS template wraps the block in an HTML comment (repairable)."""
        return f'<script type="application/ld+json"><!--\n{json.dumps(data, indent=2)}\n--></script>'

    def _unescaped(self, data: dict[str, Any]) -> str:
        """Quotes pasted into the description from a word processor, not escaped (beyond repair)."""
        text = json.dumps(data, indent=2)
        desc = json.dumps(data.get("description") or "")
        quoted = desc[:-1] + ' Graduates call it "the most practical program on campus".' + '"'
        return f'<script type="application/ld+json">\n{text.replace(desc, quoted, 1)}\n</script>'

    def faq(self) -> dict[str, Any]:
        lst = self.listing
        cost = "It is free." if lst.price == 0 else f"Tuition is {lst.currency} {money(lst.price)}."
        return {"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [
            {"@type": "Question", "name": f"How much does the {lst.title} cost?",
             "acceptedAnswer": {"@type": "Answer", "text": cost}},
            {"@type": "Question", "name": "Can I transfer credits?",
             "acceptedAnswer": {"@type": "Answer", "text": "Yes, up to half of the credits may be transferred."}}]}

    # --- HTML ------------------------------------------------------------------------------

    def facts(self) -> list[tuple[str, str]]:
        c, lst = self.c, self.listing
        tuition = "Free" if lst.price == 0 else f"{'$' if lst.currency == 'USD' else lst.currency + ' '}{money(lst.price)}"
        facts = [("Credential", c.type_label), ("Length", words_duration(c.weeks)),
                 ("Format", MODES[c.modality][2]),
                 ("Schedule", "Self-paced, start any time" if c.timing == "self-paced" else "Cohort-based"),
                 ("Language of instruction", LANGUAGE_NAMES.get(c.language, c.language)),
                 ("Tuition", tuition)]
        if c.credits_ects:
            facts.append(("Credits", f"{c.credits_ects:g} ECTS credits"))
        if c.timing == "scheduled":
            facts.append(("Next start", c.start_dates[0]))
        return facts

    def render(self) -> str:
        lst, org = self.listing, self.org
        desc = self.description_value()
        meta = "" if desc is None else f'<meta name="description" content="{esc(lst.description.split(". ")[0])}.">'
        facts = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in self.facts())
        intro = "" if desc is None else f'<div class="program-intro">{desc if self.markup else f"<p>{esc(desc)}</p>"}</div>'
        blocks = "\n".join(self.blocks())
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(lst.title)} | {esc(org.name)}</title>
{meta}
<meta property="og:title" content="{esc(lst.title)}">
<meta property="og:site_name" content="{esc(org.name)}">
<link rel="canonical" href="{self.url}">
{blocks}
</head>
<body class="program-page">
<header class="site-header"><a class="logo" href="{self.ctx.url('/')}">{esc(org.name)}</a>
<nav><ul><li><a href="{self.ctx.url('/programs/')}">Programs</a></li><li><a href="{self.ctx.url('/admissions/')}">Admissions</a></li>
<li><a href="{self.ctx.url('/tuition/')}">Tuition &amp; Financial Aid</a></li><li><a href="{self.ctx.url('/about/')}">About</a></li>
<li><a class="cta" href="{self.ctx.url('/apply/')}">Apply now</a></li></ul></nav></header>
<main>
<nav class="breadcrumb"><a href="{self.ctx.url('/')}">Home</a> / <a href="{self.ctx.url('/programs/')}">Programs</a> / {esc(lst.title)}</nav>
<section class="hero"><h1>{esc(lst.title)}</h1>
<p class="tagline">Build skills employers want, on a schedule that works for you.</p>
<a class="button" href="{self.ctx.url('/request-info/')}">Request info</a></section>
<section class="at-a-glance"><h2>Program at a glance</h2><dl class="program-facts">{facts}</dl></section>
{intro}
<section class="why"><h2>Why {esc(org.aliases[-1] if org.aliases else org.name)}?</h2>
<p>Small classes, faculty who work in the field, and career coaching from day one.</p>
<p>92% of graduates would recommend the program to a friend.*</p></section>
<section class="faq"><h2>Frequently asked questions</h2><details><summary>Can I transfer credits?</summary>
<p>Yes, up to half of the credits may be transferred.</p></details></section>
</main>
<footer><p>{esc(org.name)} &middot; 1200 College Avenue, Northfield, MN 55057, USA</p>
<p><a href="{self.ctx.url('/privacy/')}">Privacy</a> &middot; <a href="{self.ctx.url('/accessibility/')}">Accessibility</a></p>
<p class="fine-print">*Graduate survey 2025.</p></footer>
</body>
</html>
"""

    # --- truth -----------------------------------------------------------------------------

    def expected(self) -> dict[str, Any]:
        c = self.c
        overrides: dict[str, Any] = {
            "workload_hours_per_week": None,  # not published
            "free_to_audit": True if c.free_to_audit else None,  # only an audit offer says so
        }
        if self.broken:  # only the visible facts, the title and the university block remain
            overrides.update(isced_code=None, audience_level=None, free_to_audit=None)
        return expected_values(self.listing, **overrides)


def _write_sitemaps(ctx: SiteContext, entries: list[tuple[str, str]], org: Org | None) -> None:
    def urlset(items: list[tuple[str, str]]) -> str:
        urls = "".join(f"\n  <url><loc>{ctx.url(p)}</loc><lastmod>{d}</lastmod><changefreq>monthly</changefreq></url>"
                       for p, d in items)
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}\n</urlset>\n'

    names = []
    for n, start in enumerate(range(0, len(entries), URLSET_SIZE), 1):
        names.append(f"/sitemaps/programs-{n}.xml")
        ctx.write(names[-1], urlset(entries[start:start + URLSET_SIZE]), "application/xml")
    pages = [(p, "2026-01-15") for p in ("/", "/programs/", "/admissions/", "/about/", "/tuition/")]
    names.append("/sitemaps/pages.xml")
    ctx.write(names[-1], urlset(pages), "application/xml")
    index = "".join(f"\n  <sitemap><loc>{ctx.url(n)}</loc><lastmod>2026-02-01</lastmod></sitemap>" for n in names)
    ctx.write("/sitemap.xml", f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{index}\n</sitemapindex>\n', "application/xml")
    name = org.name if org else "University"
    program_links = "".join(f'<li><a href="{ctx.url(p)}">{esc(p.strip("/").split("/")[-1])}</a></li>' for p, _ in entries)
    for path, title, body in (("/", name, "<p>Welcome.</p>"), ("/programs/", "Programs", f"<ul>{program_links}</ul>"),
                              ("/admissions/", "Admissions", "<p>Apply by March 1.</p>"),
                              ("/about/", "About", "<p>Founded 1891.</p>"), ("/tuition/", "Tuition", "<p>See each program.</p>")):
        ctx.write(path, f'<!DOCTYPE html><html lang="en"><head><title>{esc(title)} | {esc(name)}</title></head>'
                        f"<body><h1>{esc(title)}</h1>{body}</body></html>", "text/html; charset=utf-8")
