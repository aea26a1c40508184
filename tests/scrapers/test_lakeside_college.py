"""lakeside_college: a CourseLeaf catalog (kind courseleaf)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from normalize.schema import RawOffering
from scrapers.base.courseleaf import COURSE_TITLE, CourseLeafSpider
from scrapers.spiders.lakeside_college import LakesideCollegeSpider
from scrapers.testing import crawl_demo, fake_response, offline_spider, saved_page, split

FIXTURES = Path(__file__).parent / "fixtures"
SITE = "http://127.0.0.1:1/lakeside_college"


def page(name: str, path: str) -> HtmlResponse:
    return saved_page(FIXTURES / name, f"{SITE}{path}")


@pytest.fixture
def spider() -> LakesideCollegeSpider:
    return offline_spider(LakesideCollegeSpider)


def test_start_urls_are_both_indexes(spider):
    assert spider.start_urls == [f"{SITE}/courses/", f"{SITE}/programs/"]


def test_subject_index_leads_one_level_down_only(spider):
    items, requests = split(spider.parse(page("lakeside_courses_index.html", "/courses/")))
    assert items == []
    # sidebar and A-Z links deduplicated; anchors, queries, other hosts and other sections left out
    assert [r.url for r in requests] == [f"{SITE}/courses/acct/", f"{SITE}/courses/eet/"]
    assert all(r.callback == spider.parse_subject for r in requests)


def test_programs_index_leads_to_program_pages(spider):
    html = '<html><body><ul><li><a href="/lakeside_college/programs/bookkeeping/">Bookkeeping</a></li><li><a href="/lakeside_college/courses/">Courses</a></li></ul></body></html>'
    _, requests = split(spider.parse(fake_response(f"{SITE}/programs/", html, "text/html", response_cls=HtmlResponse)))
    assert [(r.url, r.callback) for r in requests] == [(f"{SITE}/programs/bookkeeping/", spider.parse_program)]


@pytest.fixture
def courses(spider):
    items, requests = split(spider.parse(page("lakeside_subject_acct.html", "/courses/acct/")))
    assert requests == []
    return items


def test_every_course_block_is_an_offering(courses):
    assert [c["source_key"] for c in courses] == ["ACCT 101", "ACCT 205", "ACCT 261"]
    for c in courses:
        RawOffering.model_validate(c)
        assert c["record_kind_raw"] == "course" and c["page_defects"] == []
        assert (c["awarding_body"], c["country_raw"]) == ("Lakeside Community College", "USA")
        assert c["subjects"] == ["Accounting (ACCT)"]
    # the catalog's language, unless a course says it is taught in another
    assert [c["language_raw"] for c in courses] == ["en", "en", "Spanish"]


def test_the_three_title_styles_and_their_credit_wording(courses):
    assert [(c["title"], c["credits_raw"], c["credit_unit_raw"]) for c in courses] == [
        ("Principles of Accounting I", "3", "Credits"),  # "ACCT&#160;101. Title. 3 Credits."
        ("Forensic Accounting", "1-3", "Credit Hours"),  # wide-spaced <b> line, variable credits
        ("International Financial Reporting", "4", "Units"),  # detail-* spans, "(4 Units)"
    ]


def test_descriptions_keep_their_markup_and_may_be_missing(courses):
    assert courses[0]["description"].startswith("Recording, summarizing &amp; reporting")
    assert 'class="bubblelink code"' in courses[0]["description"]
    assert "description" not in courses[1]


def test_extras_with_or_without_a_bold_label(courses):
    first, second, third = courses
    assert (first["modality_raw"], first["duration_raw"]) == ("Hybrid", "Full semester (15 weeks)")
    assert second["prerequisites_raw"] == "ACCT 101 or permission of instructor"
    assert second["payload"]["extras"]["Offered"] == "Fall, Spring"
    assert (third["prerequisites_raw"], third["modality_raw"]) == ("ACCT 101", "Fully online")


def test_program_page(spider):
    [item] = split(spider.parse_program(page("lakeside_program.html", "/programs/bookkeeping/")))[0]
    RawOffering.model_validate(item)
    assert item["source_key"] == "/lakeside_college/programs/bookkeeping/"
    assert (item["record_kind_raw"], item["title"]) == ("program", "Bookkeeping Certificate")
    assert item["description"] == "Prepare for entry-level bookkeeping roles in <em>one semester</em>."
    assert item["credential_type_raw"] == "Certificate"
    assert (item["duration_raw"], item["modality_raw"]) == ("16 weeks", "Fully online")
    assert item["prices"] == [{"text": "$1,200", "label": "Estimated Program Cost"}]
    assert (item["credits_raw"], item["credit_unit_raw"]) == ("6", "Credit Hours")
    assert item["language_raw"] == "English"  # the page's facts before the site's lang attribute
    assert item["subjects"] == ["Accounting"]
    assert item["learning_outcomes"] == ["Prepare financial statements", "Reconcile accounts"]
    assert item["payload"]["facts"]["Program Code"] == "BKPG-CERT"


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        ("ACCT 101. Principles of Accounting I. 3 Credits.", ("ACCT 101", "Principles of Accounting I", "3", "Credits.")),
        ("CHEM 100 Chemistry and Society 0 or 4 Credit Hours", ("CHEM 100", "Chemistry and Society", "0 or 4", "Credit Hours")),
        ("CIS 2001 CS II for Data Scientists 4 Credit Hours", ("CIS 2001", "CS II for Data Scientists", "4", "Credit Hours")),
        ("MATH 115A. Calculus 2 (3-4 Credits)", ("MATH 115A", "Calculus 2", "3-4", "Credits")),
        ("HIST 210. The Cold War", ("HIST 210", "The Cold War", None, None)),
        # other catalogs' codes and separators
        ("BIOL 10100 - Introductory Biology 4.00 Credits", ("BIOL 10100", "Introductory Biology", "4.00", "Credits")),
        ("CHEM 1A. General Chemistry. 5 Units.", ("CHEM 1A", "General Chemistry", "5", "Units.")),
        ("CS/MATH 240. Discrete Math. 3 Credits.", ("CS/MATH 240", "Discrete Math", "3", "Credits.")),
        ("MATH 101 \u2014 Calculus I (4 credits)", ("MATH 101", "Calculus I", "4", "credits")),
        ("ECON 2105 \u2013 Macroeconomics", ("ECON 2105", "Macroeconomics", None, None)),
        ("HIST 1101 World History 3 SH", ("HIST 1101", "World History", "3", "SH")),
        ("PHIL 120 - Ethics - An Introduction", ("PHIL 120", "Ethics - An Introduction", None, None)),
    ],
)
def test_course_title_lines(line, parts):
    m = COURSE_TITLE.match(line)
    assert (m["code"], m["title"], m["hours"], m["unit"]) == parts


@pytest.mark.parametrize("line", ["Special Topics", "Level 3 Diploma in Care", "Introduction to Python 3"])
def test_lines_without_an_upper_case_code_are_no_course_lines(line):
    assert COURSE_TITLE.match(line) is None


@pytest.mark.parametrize(
    ("line", "title", "hours", "unit"),
    [
        ("CS 101 - Intro to CS (3)", "Intro to CS", "3", None),
        ("PSYC 2301 Introduction to Psychology Credits: 3", "Introduction to Psychology", "3", "Credits"),
        ("ART 210. Painting. Credit Hours: 1-3.", "Painting", "1-3", "Credit Hours"),
        ("ENGL 1301: Composition I (3 Credit Hours)", "Composition I", "3", "Credit Hours"),
        ("SOC 200. Society in the 1960s", "Society in the 1960s", None, None),
    ],
)
def test_credits_in_every_wording_leave_the_title(line, title, hours, unit):
    spider = offline_spider(PlainCourseLeaf, source="lakeside_college")
    html = (f'<html><body><h1>Subject</h1><div class="courseblock"><p class="courseblocktitle">'
            f"<strong>{line}</strong></p></div></body></html>")
    [item] = split(spider.parse(fake_response(f"{SITE}/courses/x/", html, "text/html", response_cls=HtmlResponse)))[0]
    assert (item["title"], item.get("credits_raw"), item.get("credit_unit_raw")) == (title, hours, unit)
    assert item["page_defects"] == []


class PlainCourseLeaf(CourseLeafSpider):
    name = "courseleaf_test"


def test_a_title_line_that_is_no_course_line_is_kept_and_flagged():
    spider = offline_spider(PlainCourseLeaf, source="lakeside_college")
    html = ('<html><body><h1>Special (SPC)</h1><div class="courseblock"><p class="courseblocktitle">'
            "<strong>Special Topics</strong></p></div></body></html>")
    [item] = split(spider.parse(fake_response(f"{SITE}/courses/spc/", html, "text/html", response_cls=HtmlResponse)))[0]
    assert item["title"] == "Special Topics" and item["page_defects"] == ["unparsed_course_title"]
    assert item["source_key"] == "/lakeside_college/courses/spc/#0"


@pytest.mark.slow
def test_lakeside_college_end_to_end(tmp_path):
    run = crawl_demo("lakeside_college", tmp_path)
    stats = run.stats
    assert stats["complete"] is True, stats
    assert stats["invalid_items"] == 0 and run.invalid == []
    assert len(run.items) == len(run.truth) == stats["items"]
    assert {i["source_key"] for i in run.items} == {t["source_key"] for t in run.truth}
    # the 503 on a subject page and the 429 on the programs index were retried
    assert stats["retries"] >= 2 and stats["throttled"] >= 1 and stats["failed_pages"] == 0
    truth = {t["source_key"]: t["expected"] for t in run.truth}
    assert all(i["title"] == truth[i["source_key"]]["title"] for i in run.items)
    kinds = {i["record_kind_raw"] for i in run.items}
    assert kinds == {"course", "program"}
    units = {i.get("credit_unit_raw") for i in run.items if i["record_kind_raw"] == "course"}
    assert units == {"Credits", "Credit Hours", "Units"}
    assert any(not i.get("description") for i in run.items)
