"""A community college's CourseLeaf catalog: Courses A-Z -> subject pages of course blocks,
and Programs A-Z -> certificate pages.

Shaped after real CourseLeaf installations: a sidebar navigation on every page, a subject
index ``#atozindex`` of root-relative links ("Accounting (ACCT)"), and per subject
``div.courseblock`` entries whose title line differs by theme: ``ACCT&#160;101. Title. 3
Credits.`` in ``<strong>``, the wide-spaced ``ACCT 101     Title     3 Credit Hours`` in
``<b>``, or the newer ``span.detail-code`` / ``.detail-title`` / ``.detail-hours_html``.
Credits say "Credits", "Credit Hours" or "Units", variable credits "1-3 Credits"; extras are
``courseblockextra`` lines with or without a bold label. Certificate pages have an overview
with labelled facts, learning outcomes and a ``sc_courselist`` requirements table.

Dirt: course blocks without a description, ``&#160;`` inside codes and titles, unit wording
that changes between subjects. Faults: a 503 on one subject page, a 429 with Retry-After on
the programs index.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from scrapers.mirror.formats._site_kit import (
    LANGUAGE_NAMES,
    esc,
    money,
    unique_slugs,
    words_duration,
)
from scrapers.mirror.generate import SiteContext, expected_values
from scrapers.mirror.universe import Listing, Org

# The college's subject (department) per ISCED-F field: code and name as the catalog shows them.
SUBJECTS: dict[str, tuple[str, str]] = {
    "0613": ("CSC", "Computer Science"), "0612": ("CIT", "Computer Information Technology"),
    "0542": ("DSC", "Data Science"), "0413": ("BUS", "Business Management"), "0412": ("FIN", "Finance"),
    "0411": ("ACCT", "Accounting"), "0414": ("MKT", "Marketing"), "0913": ("NURS", "Nursing"),
    "0912": ("HLTH", "Health Sciences"), "0111": ("EDUC", "Education"), "0231": ("LANG", "World Languages"),
    "0521": ("ENVS", "Environmental Science"), "0713": ("EET", "Electrical Engineering Technology"),
    "0714": ("RBT", "Robotics and Automation"), "0421": ("LGL", "Legal Studies"), "0313": ("PSY", "Psychology"),
    "1022": ("OSH", "Occupational Safety and Health"), "0211": ("MDIA", "Media Production"),
}
START_NUMBER = {"BeginnerLevel": 101, "IntermediateLevel": 201, "AdvancedLevel": 261}
DELIVERY = {"OnlineOnly": ("Online", "Fully online"), "InPerson": ("In person", "On campus"),
            "BlendedDelivery": ("Hybrid", "Hybrid (online and on campus)")}
UNITS = ("Credits", "Credit Hours", "Units")


def write(listings: list[Listing], ctx: SiteContext, rng: random.Random) -> list[dict[str, Any]]:
    if not listings:
        return []
    org = listings[0].credential.org
    courses = [lst for lst in listings if lst.credential.credential_type == "Course"]
    programs = [lst for lst in listings if lst.credential.credential_type != "Course"]
    site = Site(ctx, org, rng)
    rows = site.subject_pages(courses) + site.program_pages(programs)
    site.write_indexes()
    return rows


class Site:
    def __init__(self, ctx: SiteContext, org: Org, rng: random.Random) -> None:
        self.ctx, self.org, self.rng = ctx, org, rng
        self.subjects: list[tuple[str, str]] = []  # (code, name) with pages
        self.programs: list[tuple[str, str]] = []  # (path, title)

    # --- pages -----------------------------------------------------------------------------

    def page(self, title: str, content: str, crumbs: list[tuple[str, str]]) -> str:
        org, ctx = self.org, self.ctx
        subjects = "".join(f'<li><a href="{ctx.path(f"/courses/{c.lower()}/")}">{esc(n)} ({c})</a></li>'
                           for c, n in self.subjects)
        crumb = "".join(f'<li><a href="{ctx.path(p)}">{esc(t)}</a><span class="crumbsep">/</span></li>' for p, t in crumbs)
        return f"""<!DOCTYPE html>
<html lang="en" xml:lang="en">
<head>
<meta charset="utf-8">
<title>{esc(title)} &lt; {esc(org.name)}</title>
<meta property="og:site_name" content="{esc(org.name)}">
<link rel="stylesheet" href="{ctx.path('/css/courseleaf.css')}">
</head>
<body>
<div id="header"><a href="{ctx.path('/')}" id="logo">{esc(org.name)}</a>
<div id="edition">2026-2027 Catalog</div></div>
<div id="content-wrapper" class="wrap clearfix">
<div id="breadcrumb"><ul><li><a href="{ctx.path('/')}">Home</a><span class="crumbsep">/</span></li>{crumb}<li><span class="active">{esc(title)}</span></li></ul></div>
<div id="left-col"><div id="sidebar"><div id="cl-menu"><ul class="nav levelzero">
<li class="isparent"><a href="{ctx.path('/courses/')}">Courses A-&#8203;Z</a><ul class="nav levelone">{subjects}</ul></li>
<li><a href="{ctx.path('/programs/')}">Programs A-&#8203;Z</a></li>
<li><a href="{ctx.path('/admissions/')}">Admissions</a></li>
<li><a href="{ctx.path('/academic-calendar/')}">Academic Calendar</a></li>
</ul></div></div></div>
<div id="right-col"><div id="content" role="main">
<h1 class="page-title">{esc(title)}</h1>
{content}
</div></div></div>
<footer id="footer"><div itemscope itemtype="https://schema.org/PostalAddress">
<span itemprop="streetAddress">400 Lakeshore Drive</span>, <span itemprop="addressLocality">Lakeside</span>,
<span itemprop="addressRegion">OH</span> <span itemprop="postalCode">44095</span>, <span itemprop="addressCountry">USA</span></div>
<p>&copy; 2026 {esc(org.name)}. An equal opportunity institution.</p></footer>
</body>
</html>
"""

    def subject_pages(self, courses: list[Listing]) -> list[dict[str, Any]]:
        by_subject: dict[str, list[Listing]] = defaultdict(list)
        for lst in courses:
            by_subject[lst.credential.isced].append(lst)
        self.subjects = sorted((SUBJECTS[i] for i in by_subject), key=lambda s: s[1])
        rows: list[dict[str, Any]] = []
        paths = []
        for isced, group in sorted(by_subject.items(), key=lambda kv: SUBJECTS[kv[0]][1]):
            code, name = SUBJECTS[isced]
            style = self.rng.choice(["classic", "wide", "spans"])
            unit = self.rng.choice(UNITS)
            numbers = dict(START_NUMBER)
            used: set[int] = set()  # a big subject runs one level's numbers into the next's
            blocks = []
            for lst in sorted(group, key=lambda x: (START_NUMBER[x.credential.audience_level], x.title)):
                level = lst.credential.audience_level
                number = numbers[level]
                while number in used:  # one course code, one course: the next free number
                    number += 1
                used.add(number)
                numbers[level] = number + self.rng.choice([1, 1, 2, 5])
                html, expected = self.course_block(lst, code, number, style, unit)
                blocks.append(html)
                rows.append({"source_key": f"{code} {number}", "credential_key": lst.credential.key,
                             "is_test": lst.is_test, "expected": expected})
            path = f"/courses/{code.lower()}/"
            paths.append(path)
            content = ('<div id="textcontainer" class="page_content"><div class="sc_sccoursedescs">'
                       + "\n".join(blocks) + "</div></div>")
            self.ctx.write(path, self.page(f"{name} ({code})", content, [("/courses/", "Courses A-Z")]),
                           "text/html; charset=utf-8")
        if paths:
            self.ctx.fault(paths[len(paths) // 2], 503)
        return rows

    def course_block(self, lst: Listing, code: str, number: int, style: str, unit: str) -> tuple[str, dict[str, Any]]:
        c, rng = lst.credential, self.rng
        credits = f"{c.credits_ects:g}" if c.credits_ects else "3"
        if rng.random() < 0.05:  # variable-credit courses (independent study, internships)
            credits = f"1-{credits}"
        nbsp_code = f"{code}&#160;{number}" if rng.random() < 0.6 else f"{code} {number}"
        title = esc(lst.title).replace(" ", "&#160;", 1) if rng.random() < 0.1 else esc(lst.title)
        if style == "classic":
            head = f"<strong>{nbsp_code}.  {title}.  {credits} {unit}.</strong>"
        elif style == "wide":
            head = f"<b>{code} {number}     {title}     {credits} {unit}</b>"
        else:
            head = (f'<strong><span class="text detail-code margin--small text--semibold text--big">{nbsp_code}</span> '
                    f'<span class="text detail-title margin--small text--semibold text--big">{title}</span> '
                    f'<span class="text detail-hours_html margin--small text--semibold text--big">({credits} {unit})</span></strong>')
        desc = ""
        if rng.random() > 0.03:  # a few blocks have no description at all
            text = esc(lst.description)
            if rng.random() < 0.2:
                ref = f"{code} {max(101, number - 100)}"
                text += (f' Students who completed <a href="/search/?P={ref.replace(" ", "%20")}" title="{ref}" '
                         f'class="bubblelink code" onclick="return showCourse(this, \'{ref}\');">{ref}</a> may not enroll.')
            desc = f'<p class="courseblockdesc noindent">\n{text}</p>'
        extras = []
        published: dict[str, Any] = {}
        if number >= 200 or rng.random() < 0.3:
            prereq = f"{code} {max(101, number - 100)} or permission of instructor" if number >= 200 else "None"
            extras.append(f"<strong>Prerequisite(s):</strong> {esc(prereq)}" if rng.random() < 0.7 else f"Prerequisite: {esc(prereq)}")
        if rng.random() < 0.85:
            label = rng.choice(["Instruction Method", "Delivery"])
            extras.append(f"<strong>{label}:</strong> {DELIVERY[c.modality][rng.random() < 0.5]}")
            published["modality"] = c.modality
        if rng.random() < 0.8:
            length = "Full semester (15 weeks)" if c.weeks == 15 else f"{c.weeks} weeks"
            extras.append(f"<strong>Course Length:</strong> {length}")
            published["duration_weeks"] = c.weeks
        if c.language != "en":  # the catalog is English; a course taught in another language says so
            extras.append(f"<strong>Language of Instruction:</strong> {LANGUAGE_NAMES.get(c.language, c.language)}")
        extras.append(f"<strong>Offered:</strong> {rng.choice(['Fall, Spring', 'Fall', 'Spring, Summer', 'Every term'])}")
        extra_html = "".join(f'\n<p class="courseblockextra noindent clearfix">{e}</p>' for e in extras)
        html = (f'<div class="courseblock">\n<p class="courseblocktitle noindent">{head}</p>\n{desc}{extra_html}\n</div>')
        expected = expected_values(
            lst, modality=published.get("modality"), duration_weeks=published.get("duration_weeks"),
            # not in a course catalog: price, schedule, level, workload; US credit hours are not ECTS
            timing=None, audience_level=None, workload_hours_per_week=None, price_amount=None,
            price_currency=None, is_free=None, free_to_audit=None, credits_ects=None,
        )
        return html, expected

    def program_pages(self, programs: list[Listing]) -> list[dict[str, Any]]:
        rows = []
        slugs = unique_slugs([lst.title for lst in programs])
        for lst, slug in zip(programs, slugs, strict=True):
            path = f"/programs/{slug}/"
            html, expected = self.program_page(lst)
            self.ctx.write(path, html, "text/html; charset=utf-8")
            self.programs.append((path, lst.title))
            rows.append({"source_key": self.ctx.path(path), "credential_key": lst.credential.key,
                         "is_test": lst.is_test, "expected": expected})
        self.ctx.fault("/programs/", 429, headers={"Retry-After": "1"})
        return rows

    def program_page(self, lst: Listing) -> tuple[str, dict[str, Any]]:
        c, rng = lst.credential, self.rng
        code, dept = SUBJECTS[c.isced]
        cost = "Free (grant funded)" if lst.price == 0 else f"${money(lst.price)}"
        facts = [("Award", c.type_label), ("Department", dept), ("Program Length", words_duration(c.weeks)),
                 ("Delivery", DELIVERY[c.modality][1]), ("Estimated Program Cost", cost),
                 ("Language", LANGUAGE_NAMES.get(c.language, c.language))]
        rng.shuffle(facts)
        if rng.random() < 0.5:
            facts_html = "".join(f"<p><strong>{k}:</strong> {esc(v)}</p>" for k, v in facts)
        else:
            facts_html = ('<table class="tbl_programfacts"><tbody>'
                          + "".join(f"<tr><th>{k}</th><td>{esc(v)}</td></tr>" for k, v in facts) + "</tbody></table>")
        outcomes = "".join(f"<li>{esc(o)}</li>" for o in c.outcomes)
        courses = "".join(
            f'<tr class="{"even" if i % 2 else "odd"}"><td class="codecol"><a href="{self.ctx.path(f"/courses/{code.lower()}/")}" '
            f'class="bubblelink code">{code}&#160;{110 + 10 * i}</a></td><td>{esc(skill.title())}</td><td class="hourscol">3</td></tr>'
            for i, skill in enumerate(c.skills))
        content = f"""<div id="tabs" class="clearfix"><ul><li><a href="#overviewtextcontainer">Overview</a></li>
<li><a href="#requirementstextcontainer">Requirements</a></li></ul></div>
<div id="overviewtextcontainer" class="tab_content">
<p>{esc(lst.description)}</p>
{facts_html}
<h2>Program Learning Outcomes</h2>
<ul>{outcomes}</ul>
</div>
<div id="requirementstextcontainer" class="tab_content">
<table class="sc_courselist"><thead><tr><th class="codecol">Code</th><th class="titlecol">Title</th><th class="hourscol">Credit Hours</th></tr></thead>
<tbody>{courses}<tr class="listsum"><td colspan="2">Total Credit Hours</td><td class="hourscol">{3 * len(c.skills)}</td></tr></tbody></table>
</div>"""
        html = self.page(lst.title, content, [("/programs/", "Programs A-Z")])
        expected = expected_values(lst, timing=None, audience_level=None, workload_hours_per_week=None,
                                   free_to_audit=None, credits_ects=None)
        return html, expected

    def write_indexes(self) -> None:
        ctx = self.ctx
        letters: dict[str, list[str]] = defaultdict(list)
        for code, name in self.subjects:
            letters[name[0]].append(f'<li><a href="{ctx.path(f"/courses/{code.lower()}/")}">{esc(name)} ({code})</a></li>')
        atoz = "".join(f"<h2 class=\"letternav-head\" id='{k}'><a name='{k}'></a>{k}</h2><ul>{''.join(v)}</ul>"
                       for k, v in sorted(letters.items()))
        ctx.write("/courses/", self.page("Courses A-Z", f'<div id="atozindex">{atoz}</div>', []), "text/html; charset=utf-8")
        progs = "".join(f'<li><a href="{ctx.path(p)}">{esc(t)}</a></li>' for p, t in sorted(self.programs, key=lambda x: x[1]))
        ctx.write("/programs/", self.page("Programs A-Z", f'<div id="textcontainer"><ul class="sc_programlist">{progs}</ul></div>', []),
                  "text/html; charset=utf-8")
        ctx.write("/", self.page(self.org.name, "<p>Welcome to the catalog.</p>", []), "text/html; charset=utf-8")
