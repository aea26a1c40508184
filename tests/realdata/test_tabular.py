"""Group "tab": tabular catalog files (CSV / JSON) read by the generic file_drop kind, through
nothing but their registry entries (scrapers/sources/realdata/tabular.toml).

Expected counts are computed here from the files themselves (csv / json), read in place.
Hand-checked values were read from the files by eye.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from scrapers.base.fields import TEXT_FIELDS
from scrapers.base.file_drop import stable_row_key
from scrapers.registry import realdata_dir
from scrapers.spiders.file_drop import GenericFileDropSpider
from scrapers.testing import fake_response, offline_spider, split
from tests.realdata.conftest import REALDATA_REGISTRY, landed, normalized, realdata_sources

ONLINE = "Thaboe-dev__Web-mining-project/Online_Courses.csv"
MOOC = "RodoArellano__Project_MOOC_Analysis_and_Visualization_ESP"
UDEMY = f"{MOOC}/udemy_courses.csv"
EDX = f"{MOOC}/edx_courses.csv"
COURSERA = f"{MOOC}/coursera_courses.zip_extracted/coursera_courses/Coursera_courses.csv"
SEARCH = "JenyaGL__coursera-courses-dashboard/data/coursera_courses.csv"
FL = "andretai__scraperNoScraping/fl.json"
FLN = "shuyttr__FutureLearnCourseNetwork/future_learn_courses.json"
IT = "zakariaaithssain__it-certifications-pipeline"
AWS = f"{IT}/data/raw/raw_AWS_certifications.json"
COMPTIA = f"{IT}/data/raw/raw_CompTIA_certifications.json"
MERGED = f"{IT}/data/raw/raw_final_data.json"
TABLE = f"{IT}/data/pre_predictions_data.csv"
CATALOGS = f"{IT}/scraping/sources.csv"


# UTF-8 read as cp1252/latin-1: "Ã" then a continuation byte's character ("Ã©", "Ã\xa0"); a
# real "Ã" (Portuguese "VIOLÃO") is followed by a letter.
MOJIBAKE = re.compile("Ã[\x80-\xbf]|â\x80")


def path(rel: str) -> Path:
    return realdata_dir() / rel


def csv_rows(rel: str) -> list[dict[str, str]]:
    with path(rel).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def json_records(rel: str, key: str | None = None) -> list[dict[str, Any]]:
    data = json.loads(path(rel).read_text(encoding="utf-8"))
    return data[key] if key else data


# source -> (file, its records counted independently of the spider)
FILES = {
    "rd_tab_online_courses": (ONLINE, lambda: len(csv_rows(ONLINE))),
    "rd_tab_udemy_courses": (UDEMY, lambda: len(csv_rows(UDEMY))),
    "rd_tab_edx_courses": (EDX, lambda: len(csv_rows(EDX))),
    "rd_tab_coursera_courses": (COURSERA, lambda: len(csv_rows(COURSERA))),
    "rd_tab_coursera_search": (SEARCH, lambda: len(csv_rows(SEARCH))),
    "rd_tab_futurelearn_fl": (FL, lambda: len(json_records(FL, "courses"))),
    "rd_tab_futurelearn_network": (FLN, lambda: len(json_records(FLN))),
    "rd_tab_aws_certifications": (AWS, lambda: len(json_records(AWS))),
    "rd_tab_comptia_certifications": (COMPTIA, lambda: len(json_records(COMPTIA))),
    "rd_tab_it_certifications_merged": (MERGED, lambda: len(json_records(MERGED))),
    "rd_tab_it_certifications_table": (TABLE, lambda: len(csv_rows(TABLE))),
}
# The manifest's own counts, as a second, hand-stated check (MANIFEST.md; AWS/CompTIA/merged
# counted with json.load + len when the registry entries were written).
MANIFEST_COUNTS = {
    "rd_tab_online_courses": 8092, "rd_tab_udemy_courses": 3672, "rd_tab_edx_courses": 974,
    "rd_tab_coursera_courses": 623, "rd_tab_coursera_search": 1008, "rd_tab_futurelearn_fl": 623,
    "rd_tab_futurelearn_network": 736, "rd_tab_aws_certifications": 24, "rd_tab_comptia_certifications": 18,
    "rd_tab_it_certifications_merged": 119, "rd_tab_it_certifications_table": 104,
}


def item(name: str, n: int = 1, **match: Any) -> dict[str, Any]:
    """The first of the ``n`` landed items of ``name`` whose fields equal ``match`` (payload
    parsed, prices without their empty parts)."""
    found = [i for i in landed(name).items if all(i.get(k) == v for k, v in match.items())]
    assert len(found) == n, (match, len(found))
    it = dict(found[0])
    it["payload"] = json.loads(it["payload"])
    it["prices"] = [{k: v for k, v in p.items() if v is not None} for p in it["prices"]]
    return it


def offering(name: str, source_key: str) -> dict[str, Any]:
    offers = normalized(name)[0].filter(pl.col("source_key") == source_key)
    assert offers.height == 1, source_key
    return offers.row(0, named=True)


def test_every_file_of_the_group_has_a_source() -> None:
    located = {Path(u.removeprefix("file://")) for s in realdata_sources().values()
               if s.name.startswith("rd_tab_") for u in s.resolved_locations()}
    for rel, _ in [*FILES.values(), (CATALOGS, None)]:
        assert path(rel).resolve() in located, rel


# --- counts and reconciliation -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_record_of_the_file_lands(name: str) -> None:
    run = landed(name)
    expected = FILES[name][1]()
    assert expected == MANIFEST_COUNTS[name]
    assert run.stats["complete"], run.stats
    assert run.invalid == []
    assert len(run.items) == run.stats["items"] == expected


@pytest.mark.parametrize("name", sorted(FILES))
def test_raw_records_reconcile_with_offerings_plus_rejects(name: str) -> None:
    offerings, rejects = normalized(name)
    assert offerings.height + rejects.height == FILES[name][1]()
    assert offerings["source_key"].n_unique() == offerings.height


def test_no_mojibake_survives_in_mapped_text() -> None:
    for name in [*FILES]:
        for it in landed(name).items:
            texts = [it.get(f) or "" for f in TEXT_FIELDS] + [t for f in ("skills", "subjects") for t in it[f]]
            bad = [t for t in texts if "Â" in t or "â€" in t or MOJIBAKE.search(t)]
            assert not bad, (name, it["source_key"], bad)


# --- Online_Courses.csv: multi-platform, repeated rows ------------------------------------------


def test_online_courses_repeats_become_duplicate_rejects_and_nothing_is_lost() -> None:
    rows = csv_rows(ONLINE)
    groups = Counter((r["URL"].strip(), r["Title"].strip()) for r in rows)
    repeats = sum(n - 1 for n in groups.values())
    offerings, rejects = normalized("rd_tab_online_courses")
    assert (offerings.height, repeats) == (len(groups), 2817)
    assert rejects["reason"].unique().to_list() == ["duplicate_source_key"] and rejects.height == repeats
    # 1499 URLs are listed more than once (MANIFEST); every repeated listing is still one offering.
    assert sum(1 for n in Counter(r["URL"] for r in rows).values() if n > 1) == 1499
    assert set(offerings["url"]) == {r["URL"] for r in rows}
    # Three different Simplilearn programs share the placeholder URL: three offerings, not rejects.
    placeholder = offerings.filter(pl.col("url") == "https://www.simplilearn.com/")
    assert sorted(placeholder["title"]) == ["Data Analyst", "Data Scientist", "Master Of Business Administration (MBA)"]
    # The rejected repeat keeps its payload: the whole row is still there.
    payload = json.loads(rejects.row(0, named=True)["payload"])
    assert payload["source"] == "rd_tab_online_courses" and payload["title"]


def test_online_courses_records_field_by_field() -> None:
    # Row 0: Coursera's ML Specialization.
    key = stable_row_key(["https://www.coursera.org/specializations/machine-learning-introduction",
                          "Machine Learning Specialization"])
    it = item("rd_tab_online_courses", source_key=key)
    assert (it["title"], it["platform"], it["credential_type_raw"], it["language_raw"]) == (
        "Machine Learning Specialization", "Coursera", "Specialization", "English")
    assert (it["rating_raw"], it["rating_count_raw"], it["duration_raw"]) == (
        "4.9stars", "10,438", "Approximately 3 months to complete")
    assert it["subjects"] == ["Data Science", "Machine Learning"]
    assert it["skills"][:3] == ["Decision Trees", "Artificial Neural Network", "Logistic Regression"]
    off = offering("rd_tab_online_courses", key)
    assert (off["credential_type"], off["rating"], off["rating_count"], off["language"]) == (
        "MicroCredential", 4.9, 10438, "en")
    assert (off["duration_weeks_min"], off["duration_weeks_max"]) == (13.0, 13.0)
    # A FutureLearn row (row 3102 of the file): platform "Future Learn", 5 weeks.
    # Listed four times (FutureLearn's per-category pages): four landed rows, one offering.
    it = item("rd_tab_online_courses", n=4, title="Managing Big Data with R and Hadoop")
    assert (it["url"], it["platform"], it["duration_raw"]) == (
        "https://www.futurelearn.com/courses/big-data-r-hadoop", "Future Learn", "5 weeks")
    assert it["description"].startswith("Learn how to manage and analyse big data using the R")
    assert offering("rd_tab_online_courses", it["source_key"])["duration_weeks_max"] == 5.0
    # A Udacity row listed twice (rows 182 and 187): one offering, one duplicate reject.
    key = stable_row_key(["https://www.udacity.com/course/data-engineer-nanodegree--nd027",
                          "How to Become a Data Engineer"])
    offerings, rejects = normalized("rd_tab_online_courses")
    assert offerings.filter(pl.col("source_key") == key).height == 1
    assert rejects.filter(pl.col("source_key") == key)["reason"].to_list() == ["duplicate_source_key"]
    off = offering("rd_tab_online_courses", key)
    assert (off["platform"], off["rating"], off["duration_weeks_min"]) == ("Udacity", 4.6, pytest.approx(17.33, 0.01))
    assert off["skills_raw"][:2] == ["Apache Airflow", "AWS Glue"]


# --- Kaggle MOOC catalogs ---------------------------------------------------------------------------


def test_udemy_records() -> None:
    it = item("rd_tab_udemy_courses", source_key="1070968")
    assert (it["title"], it["url"], it["level_raw"], it["subjects"]) == (
        "Ultimate Investment Banking Course", "https://www.udemy.com/ultimate-investment-banking-course/",
        "All Levels", ["Business Finance"])
    assert (it["prices"], it["enrolment_raw"], it["rating_count_raw"], it["workload_raw"]) == (
        [{"text": "200"}], "2147", "23", "1.5 hours")
    assert it["payload"]["content_duration"] == "1.5"  # the row as written
    off = offering("rd_tab_udemy_courses", "1070968")
    assert (off["price_amount"], off["price_currency"], off["is_free"]) == (200.0, None, False)
    assert (off["workload_hours_min"], off["enrolment"], off["platform"]) == (1.5, 2147, "Udemy")
    it = item("rd_tab_udemy_courses", source_key="1113822")
    assert (it["title"], it["prices"], it["workload_raw"]) == (
        "Complete GST Course & Certification - Grow Your CA Practice", [{"text": "75"}], "39.0 hours")
    off = offering("rd_tab_udemy_courses", "1148774")  # price 0, is_paid False
    assert (off["title"], off["is_free"], off["audience_level"], off["workload_hours_max"]) == (
        "Options Trading 101: The Basics", True, "BeginnerLevel", 0.55)


def test_edx_records() -> None:
    url = "https://www.edx.org/course/how-to-learn-online"
    it = item("rd_tab_edx_courses", source_key=url)
    assert (it["title"], it["awarding_body"], it["level_raw"], it["language_raw"]) == (
        "How to Learn Online", "edX", "Introductory", "English")
    assert (it["workload_raw"], it["duration_raw"], it["timing_raw"], it["enrolment_raw"]) == (
        "2–3 hours per week", "2 Weeks", "Self-paced on your time", "124980")
    assert it["prices"] == [{"text": "FREE-Add a Verified Certificate for $49 USD"}]
    off = offering("rd_tab_edx_courses", url)
    assert (off["workload_hours_min"], off["workload_hours_max"], off["duration_weeks_max"]) == (4.0, 6.0, 2.0)
    assert (off["price_amount"], off["price_currency"], off["timing"]) == (49.0, "USD", "self-paced")
    url = "https://www.edx.org/course/fundamentos-de-ingles-basico-conversacional-y-networking"
    it = item("rd_tab_edx_courses", source_key=url)
    assert (it["title"], it["awarding_body"], it["language_raw"]) == (
        "Inglés básico: conversacional y networking", "Universidades Anáhuac", "Español")
    assert offering("rd_tab_edx_courses", url)["language"] == "es"
    off = offering("rd_tab_edx_courses", "https://www.edx.org/course/the-analytics-edge")
    assert (off["title"], off["awarding_body"], off["timing"], off["audience_level"]) == (
        "The Analytics Edge", "Massachusetts Institute of Technology", "scheduled", "IntermediateLevel")
    assert (off["workload_hours_min"], off["workload_hours_max"]) == (130.0, 195.0)  # 10–15 h/week x 13 weeks


def test_coursera_course_list_records() -> None:
    for slug, title, body in [("machine-learning", "Machine Learning", "Stanford University"),
                              ("python-basics", "Python Basics", "University of Michigan"),
                              ("data-science-course", "A Crash Course in Data Science", "Johns Hopkins University")]:
        it = item("rd_tab_coursera_courses", source_key=slug)
        assert (it["title"], it["awarding_body"], it["url"], it["platform"]) == (
            title, body, f"https://www.coursera.org/learn/{slug}", "Coursera")
    assert offering("rd_tab_coursera_courses", "machine-learning")["provider_kind"] == "university"


# --- Coursera search cards: mojibake and a packed column -------------------------------------------


def test_coursera_search_card_is_split_after_mojibake_repair() -> None:
    rows = csv_rows(SEARCH)
    assert all("Â·" in r["Certificate Type"] for r in rows)  # the dirt is there in the file
    it = item("rd_tab_coursera_search", title="Google Cybersecurity")
    key = it["source_key"]
    assert (it["title"], it["awarding_body"], it["platform"]) == ("Google Cybersecurity", "Google", "Coursera")
    assert (it["level_raw"], it["credential_type_raw"], it["duration_raw"]) == (
        "Beginner", "Professional Certificate", "3 - 6 Months")
    assert (it["rating_raw"], it["rating_count_raw"]) == ("4.8", "43K reviews")
    assert it["skills"][:3] == ["Network Security", "Python Programming", "Linux"]  # label stripped
    assert it["page_defects"] == ["mojibake_repaired"]
    assert "Â·" in it["payload"]["Certificate Type"]  # the payload keeps the row as written
    off = offering("rd_tab_coursera_search", key)
    assert (off["credential_type"], off["audience_level"], off["duration_weeks_min"], off["duration_weeks_max"]) == (
        "ProfessionalCertificate", "BeginnerLevel", 13.0, 26.0)
    assert (off["rating"], off["rating_count"], off["provider_kind"]) == (4.8, 43000, "vendor")


def test_coursera_search_mojibake_in_names_is_decoded() -> None:
    bocconi = [i for i in landed("rd_tab_coursera_search").items if i["awarding_body"] == "Università Bocconi"]
    assert len(bocconi) == sum(1 for r in csv_rows(SEARCH) if r["Organization"] == "UniversitÃ\xa0 Bocconi") > 0
    it = item("rd_tab_coursera_search", title="Google データアナリティクス")
    assert (it["awarding_body"], it["credential_type_raw"]) == ("Google", "Professional Certificate")
    it = item("rd_tab_coursera_search", title="Certified Business Analysis Professional™ (CBAP®)")
    assert it["credential_type_raw"] and it["level_raw"]
    # Every card's badge line has three parts: none is left unsplit.
    assert all(i["credential_type_raw"] and i["duration_raw"] for i in landed("rd_tab_coursera_search").items)
    assert "unsplittable_cell" not in landed("rd_tab_coursera_search").stats["page_defects"]


# --- FutureLearn JSON scrapes --------------------------------------------------------------------------


def test_futurelearn_fl_records() -> None:
    link = "https://futurelearn.com/courses/guided-self-help-for-postnatal-depression"
    it = item("rd_tab_futurelearn_fl", source_key=link)
    assert (it["title"], it["awarding_body"], it["duration_raw"], it["subjects"], it["prices"]) == (
        "Addressing Postnatal Depression as a Healthcare Professional", "University of Exeter",
        "3 hrs per week for 3 weeks", ["Healthcare & Medicine"], [{"text": "0"}])
    off = offering("rd_tab_futurelearn_fl", link)
    assert (off["workload_hours_min"], off["duration_weeks_max"], off["is_free"], off["provider_kind"]) == (
        9.0, 3.0, True, "university")
    link = "https://futurelearn.com/courses/revenue-management-the-strategy-and-tactics-of-hotel-room-pricing"
    off = offering("rd_tab_futurelearn_fl", link)
    assert (off["awarding_body"], off["price_amount"], off["price_currency"], off["workload_hours_max"]) == (
        "Glion Institute of Higher Education", 409.0, "USD", 10.0)
    it = item("rd_tab_futurelearn_fl", source_key="https://futurelearn.com/courses/introducing-assessment-for-learning")
    assert (it["title"], it["awarding_body"], it["subjects"]) == (
        "Introducing Assessment for Learning", "National STEM Learning Centre", ["Teaching"])


def test_futurelearn_network_records() -> None:
    cases = [("King's College London", "Basic English 1: Elementary", "4 weeks", "4 hrs/week", 16.0),
             ("ABRSM", "Becoming a Better Music Teacher", "5 weeks", "3 hrs/week", 15.0),
             ("The Open University", "Understanding Gender Identity: Trans People in the Workplace",
              "2 weeks", "1 hrs/week", 2.0)]
    for college, title, weeks, hours, total in cases:
        key = stable_row_key([college, title])
        it = item("rd_tab_futurelearn_network", source_key=key)
        assert (it["title"], it["awarding_body"], it["duration_raw"], it["workload_raw"], it["platform"]) == (
            title, college, weeks, hours, "FutureLearn")
        assert offering("rd_tab_futurelearn_network", key)["workload_hours_max"] == total


# --- vendor certification catalogs ---------------------------------------------------------------------


def test_aws_exams_are_vendor_certifications_and_the_second_scrape_is_rejected() -> None:
    records = json_records(AWS)
    offerings, rejects = normalized("rd_tab_aws_certifications")
    assert offerings.height == len({r["Certification"] for r in records}) == 12
    assert rejects["reason"].to_list() == ["duplicate_source_key"] * 12
    it = item("rd_tab_aws_certifications", n=2, source_key="AWS Certified Cloud Practitioner",
              url="https://aws.amazon.com/certification/certified-cloud-practitioner/?ch=sec&sec=rmg&d=1")
    # The exam's sitting time is no learning workload: it stays in the payload only.
    assert (it["level_raw"], it.get("workload_raw"), it["awarding_body"], it["credential_type_raw"]) == (
        "Foundational", None, "AWS", "Certification")
    assert it["payload"]["Exam duration"] == "90 minutes"
    assert it["prices"] == [{"text": "100 USD.\xa0Visit Exam pricing for additional cost information, "
                                     "including foreign exchange rates"}]
    off = offering("rd_tab_aws_certifications", "AWS Certified Cloud Practitioner")
    assert (off["credential_type"], off["record_kind"], off["provider_kind"]) == ("Certification", "credential", "vendor")
    assert (off["price_amount"], off["price_currency"], off["workload_hours_max"], off["language"]) == (
        100.0, "USD", None, "en")
    off = offering("rd_tab_aws_certifications", "AWS Certified Solutions Architect - Professional")
    # AWS's "Professional" tier is above "Associate": advanced, not CTDL's law/medicine level
    assert (off["price_amount"], off["audience_level"]) == (300.0, "AdvancedLevel")
    # Advanced Networking was scraped without details: a name only, still an offering.
    off = offering("rd_tab_aws_certifications", "AWS Certified Advanced Networking - Specialty")
    assert (off["price_amount"], off["workload_hours_max"], off["credential_type"]) == (None, None, "Certification")


def test_comptia_exams_are_a_trade_associations_certifications() -> None:
    records = json_records(COMPTIA)
    empty = [r for r in records if not any(r.values())]
    offerings, rejects = normalized("rd_tab_comptia_certifications")
    assert (offerings.height, len(empty)) == (15, 3)
    assert rejects["reason"].to_list() == ["missing_title"] * 3
    assert set(offerings["provider_kind"]) == {"professional_association"}
    key = stable_row_key(["CompTIA ITF+"])
    it = item("rd_tab_comptia_certifications", source_key=key)
    assert (it["url"], it.get("workload_raw"), it["language_raw"], it["prices"]) == (
        "https://www.comptia.org/certifications/it-fundamentals", None, "English",
        [{"text": "$138 USD (See all pricing)"}])
    assert it["payload"]["Length of Test"] == "60 Minutes"  # exam sitting time: not workload
    assert it["description"].startswith("The CompTIA IT Fundamentals (ITF+) exam focuses")
    off = offering("rd_tab_comptia_certifications", key)
    assert (off["title"], off["awarding_body"], off["credential_type"], off["price_amount"], off["price_currency"]) == (
        "CompTIA ITF+", "CompTIA", "Certification", 138.0, "USD")
    assert (off["workload_hours_max"], off["prerequisites"]) == (None, "No prior experience necessary")
    it = item("rd_tab_comptia_certifications", title="CompTIA A+")
    assert (it["payload"]["Length of Test"], it["language_raw"]) == ("90 Minutes per exam", "English, German, and Japanese")
    assert it["prices"] == [{"text": "View price in cart per exam (See all  pricing)"}]
    # "TBD" languages / price of a not-yet-launched exam: not given, not a language "tbd".
    tbd = [r["Certification"] for r in records if r["Languages"] == "TBD"]
    assert tbd and all(item("rd_tab_comptia_certifications", title=t)["language_raw"] is None for t in tbd)


def test_merged_certifications_keep_each_vendors_kind() -> None:
    offerings, rejects = normalized("rd_tab_it_certifications_merged")
    assert Counter(rejects["reason"]) == {"duplicate_source_key": 12, "missing_title": 3}
    kinds = dict(offerings.group_by("awarding_body").agg(pl.col("provider_kind").unique()).iter_rows())
    assert kinds == {"AWS": ["vendor"], "CompTIA": ["professional_association"], "Microsoft": ["vendor"]}
    key = stable_row_key(["Microsoft 365 Certified: Fundamentals"])
    it = item("rd_tab_it_certifications_merged", source_key=key)
    assert (it["url"], it.get("workload_raw"), it["prices"], it["level_raw"], it["subjects"]) == (
        "https://learn.microsoft.com/en-us/credentials/certifications/microsoft-365-fundamentals/", None,
        [{"text": "$99 USD*"}], "Beginner", ["Office 365: Administrator"])
    off = offering("rd_tab_it_certifications_merged", key)
    assert (off["price_amount"], off["price_currency"], off["workload_hours_max"], off["audience_level"]) == (
        99.0, "USD", None, "BeginnerLevel")
    # The Microsoft Learn banner scraped as a description is not a description.
    it = item("rd_tab_it_certifications_merged",
              title="Microsoft Certified: Dynamics 365: Finance and Operations Apps Solution Architect Expert")
    assert it["description"] is None and it["payload"]["Description"] == "This browser is no longer supported."
    assert (it["level_raw"], it["awarding_body"]) == ("Advanced", "Microsoft")
    off = offering("rd_tab_it_certifications_merged", stable_row_key(["AWS Certified Security - Specialty"]))
    assert (off["awarding_body"], off["price_amount"], off["workload_hours_max"]) == ("AWS", 300.0, None)


def test_lowercased_table_placeholders_are_not_values() -> None:
    link = "https://learn.microsoft.com/en-us/credentials/certifications/m365-administrator-expert/"
    it = item("rd_tab_it_certifications_table", source_key=link)
    assert (it["title"], it["awarding_body"], it["level_raw"], it["subjects"]) == (
        "365 certified administrator", "microsoft", "advanced", ["productivity"])
    # cost 0, exam minutes 0 and the banner description are the author's fill, not facts.
    assert not {"prices", "workload_raw", "description"} & {k for k, v in it.items() if v}
    assert (it["payload"]["Cost (USD)"], it["payload"]["Exam Duration (min)"]) == ("0", "0")
    link = "https://learn.microsoft.com/en-us/credentials/certifications/microsoft-365-fundamentals/"
    it = item("rd_tab_it_certifications_table", source_key=link)
    assert (it["title"], it["prices"], it.get("workload_raw")) == ("365 certified fundamentals", [{"text": "99 USD"}], None)
    off = offering("rd_tab_it_certifications_table", link)
    assert (off["price_amount"], off["price_currency"], off["workload_hours_max"], off["audience_level"]) == (
        99.0, "USD", None, "BeginnerLevel")
    assert (off["credential_type"], off["provider_kind"]) == ("Certification", "vendor")
    off = offering("rd_tab_it_certifications_table", "https://www.comptia.org/certifications/a")
    assert (off["awarding_body"], off["provider_kind"]) == ("comptia", "professional_association")


def test_catalog_list_is_read_row_by_row_and_makes_no_offering() -> None:
    rows = csv_rows(CATALOGS)
    run = landed("rd_tab_it_certification_catalogs")
    assert run.stats["complete"] and run.stats["pages"] == 1 and run.items == [] and run.invalid == []
    # The same file through the same registry entry, in process: every row read and counted.
    spider = offline_spider(GenericFileDropSpider, registry=str(REALDATA_REGISTRY),
                            source="rd_tab_it_certification_catalogs")
    url = path(CATALOGS).resolve().as_uri()
    items, requests = split(spider.parse(fake_response(url, path(CATALOGS).read_bytes(), "text/csv")))
    assert items == [] and requests == []  # locations are not followed
    assert [c["location"] for c in spider.catalog_locations] == [r["URL"] for r in rows]
    assert [c["record"]["Vendor"] for c in spider.catalog_locations] == ["CompTIA", "Microsoft", "AWS"]
    assert spider.crawler.stats.get_value("credcat/catalog_locations") == len(rows) == 3
