"""Real-data group "html": saved CourseLeaf pages, Class Central pages and a plain college page.

Expected counts are computed here from the files themselves (regexes and lxml walks written
independently of the spiders), or hand-counted where a comment says so.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from lxml import html as lxml_html
from parsel import Selector
from scrapy.http import HtmlResponse

from scrapers.registry import realdata_dir
from scrapers.spiders.classcentral import GenericClassCentralSpider
from scrapers.spiders.courseleaf import GenericCourseLeafSpider
from scrapers.testing import fake_response, offline_spider, split
from tests.realdata.conftest import landed, realdata_sources

UMD = "MPlan__mplan/src/sync/catalog-umd-umich"
CC = "alicemkyn__WebScrape-classcentral.com-Translated-Hindi/output"
MOJIBAKE = ("Â", "â€", "Ã")


def corpus(rel: str) -> Path:
    return realdata_dir() / rel


def text(rel: str) -> str:
    return corpus(rel).read_text(encoding="utf-8")


def saved_response(path: Path) -> HtmlResponse:
    return fake_response(path.resolve().as_uri(), path.read_bytes(), "text/html", response_cls=HtmlResponse)


def row(df: pl.DataFrame, key: str) -> dict:
    rows = df.filter(pl.col("source_key") == key).to_dicts()
    assert len(rows) == 1, key
    return rows[0]


def payload(item: dict) -> dict:
    """A landed record's payload (items.jsonl holds it as JSON text)."""
    value = item["payload"]
    return json.loads(value) if isinstance(value, str) else value


def text_values(item: dict) -> list[str]:
    out = []
    for k, v in item.items():
        if k in ("payload", "url", "fetched_at"):
            continue
        out += [v] if isinstance(v, str) else [x for x in v if isinstance(x, str)] if isinstance(v, list) else []
    return out


# --- CourseLeaf: UM-Dearborn course listings ---------------------------------------------------

def test_umd_every_courseblock_is_an_offering():
    run = landed("rd_html_umd_courses")
    files = sorted(corpus(f"{UMD}/courses/parse/__examples__").glob("*-courses.html"))
    per_file = {f.name: len(re.findall(r'<div class="courseblock">', f.read_text())) for f in files}
    assert per_file == {"chem-courses.html": 49, "cis-courses.html": 71}
    assert run.stats["complete"] and not run.invalid
    assert len(run.items) == sum(per_file.values())
    by_url = Counter(i["url"].rsplit("/", 1)[-1] for i in run.items)
    assert by_url == per_file
    assert len(run.by_key()) == len(run.items)  # course codes are unique


def test_umd_courses_field_by_field():
    items = landed("rd_html_umd_courses").by_key()
    chem = items["CHEM 090"]  # "CHEM 090     Introduction to Chemistry     3 Credit Hours"
    assert (chem["title"], chem["credits_raw"], chem["credit_unit_raw"]) == ("Introduction to Chemistry", "3", "Credit Hours")
    assert chem["subjects"] == ["Chemistry (CHEM)"] and chem["awarding_body"] == "UM Dearborn"
    assert chem["description"].startswith("An introductory course in chemistry stressing fundamental principles")
    assert items["CHEM 100"]["credits_raw"] == "0 or 4"  # "0 or 4 Credit Hours", kept as written
    assert items["CHEM 111"]["title"] == "Intro Gen Organic & Biochem"  # &amp; decoded
    cis = items["CIS 4972"]
    assert (cis["title"], cis["credits_raw"]) == ("Cap Proj for Data Sci II", "2")
    assert cis["prerequisites_raw"] == "CIS 4971 and STAT 430 *"
    assert cis["subjects"] == ["Computer & Information Science (CIS)"]
    assert items["CIS 150"]["prerequisites_raw"].startswith("MATH 115 * or MATH 113 *")
    offerings = landed("rd_html_umd_courses").offerings()
    o = row(offerings, "CHEM 090")
    assert (o["credits"], o["credit_unit"], o["awarding_body"], o["language"]) == (3.0, "SemesterHour", "UM Dearborn", "en")
    assert row(offerings, "CIS 4972")["prerequisites"] is not None


def test_umd_subject_index_links_are_read_not_offerings():
    run = landed("rd_html_umd_subjects")
    assert run.stats["complete"] and run.items == [] and run.stats["pages"] == 1
    page = corpus(f"{UMD}/subjects/__examples__/undergrad-subjects.html")
    subjects = sorted(set(re.findall(r'href="(/undergraduate/coursesaz/[a-z0-9]+/)"', page.read_text())))
    assert len(subjects) == 93
    # The spider as the crawl ran it: the requests it hands Scrapy (a location-only source then drops them).
    spider = offline_spider(GenericCourseLeafSpider, source=realdata_sources()["rd_html_umd_subjects"])
    items, requests = split(spider.parse(saved_response(page)))
    assert items == []
    assert sorted(r.url for r in requests) == sorted(f"https://catalog.umd.umich.edu{p}" for p in subjects)
    assert all(r.callback == spider.parse_subject for r in requests)  # the PDF of the page is not a subject


# --- Class Central --------------------------------------------------------------------------

def canonical(path: Path) -> str:
    m = re.search(r'<link href="([^"]+)" rel="canonical"', path.read_text(encoding="utf-8"))
    return m.group(1) if m else ""


def free_certificates_expected(path: Path) -> int:
    """The report rule, walked independently: items of lists under certificate/course headings
    (not "More ..."/"Table of Contents") whose first content is a link."""
    doc = lxml_html.fromstring(path.read_bytes())
    body = doc.xpath('//article//*[contains(concat(" ", @class, " "), " wysiwyg ")]')[0]
    heading, n = "", 0
    for el in body.iter():
        if el.tag in ("h2", "h3"):
            heading = el.text_content().strip()
        elif el.tag == "li":
            lead = (el.text or "").strip()
            first = el[0] if len(el) else None
            if (not lead and first is not None and first.tag == "a"
                    and re.search(r"(?i)certificat|badge|courses|quests", heading)
                    and not re.match(r"(?i)more\b|table of contents|related", heading)):
                n += 1
    return n


def expected_classcentral() -> dict[str, int]:
    out = {}
    for f in sorted(corpus(CC).glob("*.html")):
        body = f.read_text(encoding="utf-8")
        if f.name.startswith("_course_"):
            n = len(re.findall(r'"@type": "Course"', body))
        elif f.name.startswith(("_provider_", "_university_", "_institution_", "_subject_")):
            n = len(re.findall(r'class="[^"]*\bcourse-list-course"', body))
        elif f.name == "_report_free-google-certifications_.html":
            # Hand-counted from the article: Analytics 4 + 1 + 6 (two lists; the second list's
            # "Go Further..." items included), Ads 19, Developer 20 (the 3-item topic list has no
            # links), Qwiklabs quests 10, Qwiklabs courses 10; "More Free Certificates" (5) excluded.
            n = 11 + 19 + 20 + 10 + 10
        elif f.name.startswith("_report_"):
            n = free_certificates_expected(f)
        else:  # _providers.html, _universities.html: indexes of organizations, no offerings
            n = 0
        out[f.name] = n
    return out


def test_classcentral_counts_per_file():
    expected = expected_classcentral()
    assert len(expected) == 22
    assert expected["_course_algorithms-divide-conquer-374.html"] == 1
    assert expected["_provider_coursera.html"] == 15
    assert expected["_report_free-certificates_.html"] == 603
    run = landed("rd_html_classcentral")
    assert run.stats["complete"] and not run.invalid and run.stats["pages"] == 22
    assert len(run.items) == sum(expected.values()) == 915
    seen: Counter[str] = Counter()
    for i in run.items:
        seen[payload(i).get("listing") or payload(i).get("article") or payload(i).get("canonical")] += 1
    by_canonical = {canonical(corpus(CC) / name): n for name, n in expected.items() if n}
    assert dict(seen) == by_canonical


def test_classcentral_index_pages_are_read():
    spider = offline_spider(GenericClassCentralSpider, source=realdata_sources()["rd_html_classcentral"])
    for name, stated in (("_providers.html", r"Providers\s*</span>\s*<span[^>]*>\s*\((\d+)\)"),
                         ("_universities.html", r"<title>(\d+) universities")):
        path = corpus(CC) / name
        count = int(re.search(stated, path.read_text(encoding="utf-8")).group(1))  # the page's own total
        items, requests = split(spider.parse(saved_response(path)))
        assert items == []
        entries = spider.index_entries(saved_response(path), Selector(text=path.read_text()))
        assert len(entries) == count
        linked = len(set(re.findall(r'href="(/(?:provider|university)/[^"]+)"[^>]*title="[^"]*(?:MOOCs and Reviews|online courses and reviews)"',
                                    path.read_text(encoding="utf-8"))))
        assert len({r.url for r in requests}) == linked  # entries the saved page still links
    assert spider.crawler.stats.get_value("credcat/index_entries") == 82 + 1265
    assert ("Udemy", "27223") in {(e["name"], e["courses"]) for e in spider.index_entries(
        saved_response(corpus(CC) / "_providers.html"),
        Selector(text=(corpus(CC) / "_providers.html").read_text()))}


def test_classcentral_course_pages_field_by_field():
    items = landed("rd_html_classcentral").by_key()
    c = items["374"]
    assert c["title"] == "Divide and Conquer, Sorting and Searching, and Randomized Algorithms"
    assert (c["awarding_body"], c["platform"]) == ("Stanford University", "Coursera")
    assert (c["rating_raw"], c["rating_count_raw"]) == ("4.70588", "68")
    assert [(p["amount"], p["currency"]) for p in c["prices"]] == [("0", "USD")]
    assert (c["workload_raw"], c["duration_raw"], c["level_raw"]) == ("17 hours worth of material", "4 weeks long", "Intermediate")
    assert c["start_dates_raw"][0] == "20th Mar, 2023" and len(c["start_dates_raw"]) == 6
    assert c["is_free_raw"] == "Free Online Course (Audit)" and c["subjects"] == ["Algorithms and Data Structures"]
    f = items["34059"]
    assert (f["title"], f["platform"], f["timing_raw"]) == ("Responsive Web Design", "freeCodeCamp", "On-Demand")
    assert f["subjects"] == ["Web Design", "HTML & CSS"]  # the JSON-LD wrote "HTML &amp; CSS"
    assert f["workload_raw"] == "300 hours worth of material"
    o = row(landed("rd_html_classcentral").offerings(), "374")
    assert (o["rating"], o["rating_count"], o["is_free"], o["free_to_audit"]) == (4.71, 68, True, True)
    assert (o["workload_hours_min"], o["duration_weeks_min"], o["language"]) == (17.0, 4.0, "en")


def test_classcentral_cards_field_by_field():
    items = landed("rd_html_classcentral").by_key()
    neg = items["2460"]  # first card of the Coursera provider page
    assert neg["title"] == "Successful Negotiation: Essential Strategies and Skills"
    assert (neg["awarding_body"], neg["platform"]) == ("University of Michigan", "Coursera")
    assert (neg["rating_raw"], neg["rating_count_raw"]) == ("5/5", "218 reviews")
    assert (neg["workload_raw"], neg["duration_raw"]) == ("17 hours worth of material", "7 weeks long")
    assert neg["start_dates_raw"] == ["20th Mar, 2023"] and neg["is_free_raw"] == "Free Online Course (Audit)"
    assert neg["url"] == "https://www.classcentral.com/course/successfulnegotiation-2460"
    ai = items["12469"]  # "University of Helsinki; MinnaLearn" on the card
    assert ai["title"] == "Elements of AI" and ai["awarding_body"] == "University of Helsinki"
    assert payload(ai)["institutions"] == ["University of Helsinki", "MinnaLearn"]
    assert (ai["platform"], ai["workload_raw"], ai["duration_raw"], ai["timing_raw"]) == (
        "Independent", "5-10 hours a week", "6 weeks long", "On-Demand")
    assert items["835"]["rating_raw"] == "4.5/5"  # "Four and a half out of five stars"
    offerings = landed("rd_html_classcentral").offerings()
    o = row(offerings, "2460")
    assert (o["rating"], o["rating_count"], o["free_to_audit"], o["duration_weeks_min"]) == (5.0, 218, True, 7.0)
    assert o["start_dates"] == [date(2023, 3, 20)]


def test_classcentral_report_items_field_by_field():
    items = [i for i in landed("rd_html_classcentral").items if "article" in payload(i)]
    by_title = {i["title"]: i for i in items}
    ga = by_title["Google Analytics Certification"]  # "... from Google via Skillshop ★★★★☆(1)"
    assert (ga["awarding_body"], ga["platform"], ga["rating_raw"], ga["rating_count_raw"]) == ("Google", "Skillshop", "4/5", "1")
    cs50 = by_title["CS50’s Introduction to Computer Science"]  # "from Harvard University ★★★★★(109)"
    assert (cs50["awarding_body"], cs50["rating_count_raw"], cs50["record_kind_raw"]) == ("Harvard University", "109", "course")
    az = by_title["AZ-104: Configure and manage virtual networks for Azure administrators"]
    assert az["awarding_body"] == "Microsoft Learn" and payload(az)["section"] == "Free Certificates from Microsoft Learn"
    assert by_title["SEO Foundations"]["platform"] == "LinkedIn Learning"
    # navigation lists and topic lists are not credentials
    assert "Table of Contents" not in {payload(i)["section"] for i in items}
    assert not any(i["title"].startswith("Massive List of") for i in items)


def test_classcentral_dirt():
    run = landed("rd_html_classcentral")
    for item in run.items:
        for value in text_values({k: v for k, v in item.items() if k != "description"}):
            assert "&amp;" not in value, value
    # Some card summaries are double-escaped in the page ("Wageningen University &amp;amp; Research"):
    # descriptions stay as given (markup allowed) and normalization decodes them.
    assert "&amp;amp;" in (corpus(CC) / "_provider_edx.html").read_text(encoding="utf-8")
    assert row(run.offerings(), "3643")["description"].startswith("Learn from the top professors of Wageningen University & Research")
    assert not run.offerings()["description"].str.contains("&amp;").any()
    # A course listed on two of the saved listing pages is one record of the source: the second
    # listing is rejected as a duplicate key, nothing else is.
    pages = [f for f in corpus(CC).glob("*.html") if re.match(r"_(provider|university|institution|subject)_", f.name)]
    ids = Counter(i for f in pages for i in set(re.findall(r"data-lookup-course-(\d+)=", f.read_text(encoding="utf-8"))))
    twice = sorted(k for k, n in ids.items() if n > 1)
    rejects = run.rejects()
    assert sorted(rejects["source_key"].to_list()) == twice
    assert set(rejects["reason"].to_list()) == {"duplicate_source_key"}
    assert run.offerings().height == len(run.items) - len(twice)


# --- plain page: Atlantic Cape Community College -------------------------------------------

def test_atlantic_cape_page():
    run = landed("rd_html_atlantic_cape")
    assert run.stats["complete"] and len(run.items) == 1  # one page, one program
    item = run.items[0]
    assert item["source_key"] == "/culinary-arts/baking-and-pastry-i"
    assert item["url"] == "https://catalog.atlanticcape.edu/culinary-arts/baking-and-pastry-i"
    assert (item["title"], item["awarding_body"]) == ("Baking and Pastry I", "Atlantic Cape Community College")
    assert item["credential_type_raw"] == "Certificate" and item["subjects"] == ["Culinary Arts"]
    assert item["credits_raw"] == "30"  # "Total Credits 30"
    assert item["duration_raw"] == "two semester"
    assert item["workload_raw"] == "200 hours of documented work experience"
    assert item["description"].startswith("This two semester certificate program")
    assert len(item["learning_outcomes"]) == 14 and item["learning_outcomes"][-1] == "Apply basic culinary cooking methods."
    # The page states no cost anywhere: no price is made up.
    assert "$" not in lxml_html.fromstring(corpus("CredentialEngine__ctdl-xtra/server/tests/fixtures/doc.html")
                                           .read_bytes()).xpath("string(//main)")
    assert "prices" not in item or item["prices"] == []
    o = run.offerings().to_dicts()[0]
    assert (o["credential_type"], o["record_kind"], o["credits"], o["workload_hours_min"]) == ("Certificate", "credential", 30.0, 200.0)


@pytest.mark.parametrize("name", ["rd_html_umd_courses", "rd_html_classcentral", "rd_html_atlantic_cape"])
def test_no_mojibake_in_mapped_text(name):
    for item in landed(name).items:
        for value in text_values(item):
            assert not any(m in value for m in MOJIBAKE), value
