"""Real-data group "api": saved catalog API responses and feeds, read in place.

Expected counts are computed here from the files themselves; field values were read by hand
from the files.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl
import pytest

from scrapers.registry import realdata_dir
from tests.realdata.conftest import Landed, landed

EDX_LMS = "rd_api_edx_lms_courses"
EDX_FEED = "rd_api_edx_course_feed"
UDEMY = "rd_api_udemy_courses"
UDACITY = "rd_api_udacity_catalog"
COURSERA = "rd_api_coursera_2013"
ALL = [EDX_LMS, EDX_FEED, UDEMY, UDACITY, COURSERA]
MOJIBAKE = ("Â", "â€", "Ã", "\ufffd")


def corpus_json(path: str) -> Any:
    raw = (realdata_dir() / path).read_bytes()
    # Only the edX dump has stray cp1252 bytes; for counting, replacing them is harmless.
    return json.loads(raw.decode("utf-8", errors="replace"))


def offering(run: Landed, key: str) -> dict[str, Any]:
    rows = run.offerings().filter(pl.col("source_key") == key).to_dicts()
    assert len(rows) == 1, (key, len(rows))
    return rows[0]


def payload(item: dict[str, Any]) -> dict[str, Any]:
    value = item["payload"]
    return json.loads(value) if isinstance(value, str) else value


def absent(item: dict[str, Any], field: str) -> bool:
    return item.get(field) in (None, [], "")


def mapped_text(item: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in item.items() if k != "payload"}, ensure_ascii=False)


@pytest.mark.parametrize("name", ALL)
def test_crawl_is_complete_and_valid(name: str) -> None:
    run = landed(name)
    assert run.stats["complete"], run.stats
    assert not run.invalid


# --- edX LMS Course API: 3 pages in one file, cp1252 bytes inside UTF-8, test runs -----------

def test_edx_lms_every_course_run_of_every_page() -> None:
    data = corpus_json("MLH-Fellowship__LearnForFree/edx_courses.json")
    expected = [r["id"] for page in data.values() for r in page["results"]]
    assert len(expected) == 300
    run = landed(EDX_LMS)
    assert sorted(i["source_key"] for i in run.items) == sorted(expected)
    offerings, rejects = run.offerings(), run.rejects()
    assert offerings.height == 300 and rejects.height == 0  # test runs are kept, never dropped
    # The saved pages' online next links are not followed (local-only source).
    assert run.stats["failed_pages"] == 0


def test_edx_lms_fields_by_hand() -> None:
    items = landed(EDX_LMS).by_key()
    first = items["AdelaideX/HumBio101x/1T2015"]
    assert first["title"] == "Essential Human Biology: Cells and Tissues"
    assert first["awarding_body"] == "AdelaideX" and first["platform"] == "edX"
    assert first["start_dates_raw"] == ["2015-02-10T00:00:00Z"]
    assert first["timing_raw"] == "instructor" and absent(first, "workload_raw")  # effort: null
    assert absent(first, "description")  # short_description: ""

    test_ak = items["ak/akSState/1T2014"]
    assert test_ak["title"] == "TestAK" and test_ak["workload_raw"] == "12 hours/week\n"

    self_paced = items["ccx-v1:HarveyMuddX+CS005x+2T2016+ccx@25"]
    assert self_paced["title"] == "HMC CS4All Test" and self_paced["timing_raw"] == "self"

    o = offering(landed(EDX_LMS), "AdelaideX/HumBio101x/1T2015")
    assert o["title"] == "Essential Human Biology: Cells and Tissues" and o["awarding_body"] == "AdelaideX"
    assert o["timing"] == "scheduled" and str(o["start_dates"][0]) == "2015-02-10"


def test_edx_lms_cp1252_bytes_are_decoded_not_replaced() -> None:
    run = landed(EDX_LMS)
    items = run.by_key()
    assert items["BUx/PY1x/1T2015"]["title"] == "AP\u00ae Physics 1"
    assert items["course-v1:adam+Mac_APccx+e0d"]["title"] == "AP\u00ae Macroeconomics: Challenging Concepts"
    assert items["ccx-v1:IMTx+DMx102+3T2018+ccx@41"]["description"] == (
        "Apprenez \u00e0 programmer un objet en utilisant l\u2019\u00e9lectronique "
        "et le d\u00e9veloppement Arduino issu des FabLabs !")
    for item in run.items:
        assert not any(m in mapped_text(item) for m in MOJIBAKE), item["source_key"]
    assert run.stats["page_defects"].get("mixed_encoding") == 1
    assert "mixed_encoding" in items["BUx/PY1x/1T2015"]["page_defects"]


def test_edx_lms_test_runs_flagged_by_existing_markers() -> None:
    offerings = landed(EDX_LMS).offerings()
    flagged = set(offerings.filter("is_test")["source_key"])
    # "SoH - DO NOT USE", "Test", "test", "test_course" x3 are caught by test_markers.csv.
    assert {"BerkeleyX/GG101x-b/1T2015", "ccx-v1:BerkeleyX+CS169.1x+3T2015SP+ccx@5",
            "ccx-v1:MITx+8.MechCx_2+1T2016+ccx@6", "ccx-v1:edX+ATC2017+2017+ccx@30"} <= flagged
    assert (offerings.filter("is_test")["status"] == "test").all()


def test_edx_lms_test_runs_testak_and_test_ora_rc_flagged() -> None:
    offerings = landed(EDX_LMS).offerings()
    flagged = set(offerings.filter("is_test")["source_key"])
    assert {"ak/akSState/1T2014", "arbi/cs205/1T2014"} <= flagged
    # The other test runs of the dump, each caught by a general marker (see test_markers.csv).
    assert {"BerkeleyX/JS4C101/1T2015", "CarrTest/Test101/2014_T1", "ccx-v1:edX+edx111+2020+ccx@34",
            "ccx-v1:HarvardX+MCB64.1x+2T2016+ccx@28", "ccx-v1:RWTHx+VC101x+3T2017a+ccx@29",
            "course-v1:AA+AA101+2015_T1", "course-v1:adam+adam+adam", "bhwX/1.001x/Brian_s_Test_Course"} <= flagged
    # ... and no real course is flagged: every flagged record reads as a test by its title or
    # its key ('ccx-v1:MITx+MITTEST+...' "Peter's 1st CCX", 'CornellX+Test2+1T2080' "Sandbox").
    real = offerings.filter(pl.col("is_test") & ~pl.col("title").str.contains("(?i)test|do not use")
                            & ~pl.col("source_key").str.contains("TEST|Test"))
    assert real.is_empty(), real.select("source_key", "title").rows()


# --- edX course-feed RSS -----------------------------------------------------------------

def test_edx_feed_every_item() -> None:
    text = (realdata_dir() / "andretai__scraperNoScraping/edx.xml").read_text(encoding="utf-8")
    expected = re.findall(r"<course:id>(.*?)</course:id>", text)
    assert len(expected) == text.count("<item>") == 100
    run = landed(EDX_FEED)
    assert sorted(i["source_key"] for i in run.items) == sorted(expected)
    assert run.offerings().height == 100


def test_edx_feed_fields_by_hand() -> None:
    items = landed(EDX_FEED).by_key()
    spark = items["course-v1:BerkeleyX+CS105x+1T2016"]
    assert spark["title"] == "Introduction to Apache Spark"
    assert spark["url"] == "https://www.edx.org/course/introduction-apache-spark-uc-berkeleyx-cs105x"
    assert spark["awarding_body"] == "UC BerkeleyX"
    assert spark["workload_raw"] == "5 - 10 hours/week" and spark["duration_raw"] == "2 weeks"
    assert spark["start_dates_raw"] == ["2016-06-15 00:00:00"]
    assert spark["subjects"] == ["Data Analysis & Statistics", "Computer Science"]
    assert spark["timing_raw"] == "self_paced=0" and spark["credential_type_raw"] == "verified certificate"
    assert spark["prerequisites_raw"].startswith("Programming background and experience with Python")
    assert payload(spark)["course_xseries"] == "1"

    hollywood = items["course-v1:PennX+HollywoodX+1T2016"]
    assert hollywood["title"] == "Hollywood: History, Industry, Art" and hollywood["awarding_body"] == "PennX"
    assert hollywood["workload_raw"] == "3-4 hours per week" and hollywood["duration_raw"] == "4 weeks (8 units)"
    assert hollywood["timing_raw"] == "self_paced=1"
    assert "\u2028" in hollywood["description"]  # the feed's own line separator, kept

    wine = items["course-v1:AdelaideX+Wine101x+2T2016"]
    assert wine["title"] == "World of Wine: From Grape to Glass"
    assert wine["subjects"] == ["Chemistry", "Food & Nutrition", "Science"]
    assert wine["workload_raw"] == "2-3 hours per week" and wine["duration_raw"] == "6 weeks"

    o = offering(landed(EDX_FEED), "course-v1:BerkeleyX+CS105x+1T2016")
    assert o["awarding_body"] == "UC BerkeleyX" and o["timing"] == "scheduled"
    assert o["credential_type"] == "CertificateOfCompletion"
    assert (o["workload_hours_min"], o["workload_hours_max"]) == (10.0, 20.0)  # 5-10 h/week x 2 weeks
    assert o["duration_weeks_min"] == 2.0
    o = offering(landed(EDX_FEED), "course-v1:PennX+HollywoodX+1T2016")
    assert o["timing"] == "self-paced" and o["duration_weeks_min"] == 4.0


# --- Udemy API 2.0 /courses ----------------------------------------------------------------

def test_udemy_every_result() -> None:
    data = corpus_json("guyathomas__encourse/testScripts/udemy.json")
    run = landed(UDEMY)
    assert sorted(i["source_key"] for i in run.items) == sorted(str(r["id"]) for r in data["results"])
    assert len(run.items) == 100 and run.offerings().height == 100


def test_udemy_fields_by_hand() -> None:
    run = landed(UDEMY)
    items = run.by_key()
    angular = items["289230"]
    assert angular["title"] == "Learn and Understand AngularJS"
    assert angular["url"] == "https://www.udemy.com/learn-angularjs/"
    assert angular["awarding_body"] == "Anthony Alicea" and angular["record_kind_raw"] == "course"
    assert [p["text"] for p in angular["prices"]] == ["A$180"]
    assert items["364426"]["title"] == "JavaScript: Understanding the Weird Parts"
    reiki = items["1031706"]
    assert reiki["title"] == "Crystal Reiki Master/Teacher Certification" and reiki["awarding_body"] == "Lisa Powers"

    o = offering(run, "289230")
    assert (o["price_amount"], o["price_currency"], o["is_free"]) == (180.0, "AUD", False)
    o = offering(run, "1031706")
    assert (o["price_amount"], o["price_currency"]) == (100.0, "AUD")
    assert o["awarding_body"] == "Lisa Powers"


# --- Udacity catalog API v0 ----------------------------------------------------------------

def test_udacity_every_course_and_degree_tracks_not_offerings() -> None:
    data = corpus_json("guyathomas__encourse/testScripts/udacity.json")
    expected = [c["key"] for c in data["courses"]] + [d["key"] for d in data["degrees"]]
    assert len(expected) == 172 + 21
    run = landed(UDACITY)
    assert sorted(i["source_key"] for i in run.items) == sorted(expected)
    # Five course entries appear twice, identical (ud843, ud891, ud834, ud836, ud1009): the
    # second copy of each is a duplicate_source_key reject, not a lost record.
    rejects = run.rejects()
    assert rejects.height == len(expected) - len(set(expected)) == 5
    assert set(rejects["reason"]) == {"duplicate_source_key"}
    assert run.offerings().height == len(set(expected))
    # Tracks are groupings: no record of their own; their names reach members as subjects.
    assert {i["record_kind_raw"] for i in run.items} == {"course", "degree"}
    android_track = next(t for t in data["tracks"] if t["name"] == "Android")
    assert all("Android" in run.by_key()[k]["subjects"] for k in android_track["courses"])


def test_udacity_fields_by_hand() -> None:
    run = landed(UDACITY)
    items = run.by_key()
    shell = items["ud206"]
    assert shell["title"] == "Shell Workshop" and shell["record_kind_raw"] == "course"
    assert shell["duration_raw"] == "1 days" and shell["level_raw"] == "beginner"
    assert shell["url"] == "https://www.udacity.com/course/shell-workshop--ud206?utm_medium=referral&utm_campaign=api"
    assert shell["platform"] == "Udacity" and absent(shell, "credential_type_raw")

    car = items["nd013"]
    assert car["title"] == "Self Driving Car Engineer Nanodegree"
    assert car["record_kind_raw"] == "degree" and car["credential_type_raw"] == "Nanodegree"
    assert car["duration_raw"] == "6 months" and car["level_raw"] == "advanced"
    assert absent(items["nd101"], "duration_raw")  # "expected_duration": 0: says nothing

    android = items["nd803"]
    assert android["title"] == "Android Basics Nanodegree by Google" and android["subjects"] == ["Android"]

    o = offering(run, "nd013")
    assert o["record_kind"] == "credential" and o["credential_type"] == "MicroCredential"
    assert o["credential_type_raw"] == "Nanodegree" and o["duration_weeks_min"] == 26.0
    o = offering(run, "ud206")
    assert o["record_kind"] == "learning_opportunity" and o["audience_level"] == "BeginnerLevel"


def test_udacity_course_degree_relation_both_ways() -> None:
    items = landed(UDACITY).by_key()
    # ud976..ud981 name nd008 (each thousands of times in related_degree_keys); ud894 names nd802.
    for key in ["ud976", "ud977", "ud978", "ud979", "ud980", "ud981"]:
        assert payload(items[key])["_part_of"] == ["nd008"]
        assert len(payload(items[key])["related_degree_keys"]) > 3000  # as given
    assert payload(items["ud894"])["_part_of"] == ["nd802"]
    assert sorted(payload(items["nd008"])["_has_part"]) == ["ud976", "ud977", "ud978", "ud979", "ud980", "ud981"]
    assert payload(items["nd802"])["_has_part"] == ["ud894"]
    assert payload(items["nd013"])["_has_part"] == []


# --- Coursera 2013 catalog (id-linked) -----------------------------------------------------

def test_coursera_every_topic() -> None:
    data = corpus_json("gootyfer__moocrank/data/coursera.json")
    run = landed(COURSERA)
    assert sorted(i["source_key"] for i in run.items) == sorted(str(t["id"]) for t in data["topics"].values())
    assert len(run.items) == 389 and run.offerings().height == 389
    # Every session is joined to its course.
    assert sum(len(payload(i)["_linked"]["sessions"]) for i in run.items) == len(data["courses"]) == 555
    assert "dangling_reference" not in run.stats["page_defects"]


def test_coursera_fields_by_hand() -> None:
    run = landed(COURSERA)
    items = run.by_key()
    ml = items["2"]
    assert ml["title"] == "Machine Learning" and ml["awarding_body"] == "Stanford University"
    assert ml["subjects"] == ["Statistics and Data Analysis", "Computer Science: Artificial Intelligence"]
    assert ml["start_dates_raw"] == ["2012-04-23", "2012-08-20", "2013-04-22"]
    assert ml["duration_raw"] == "10 weeks" and ml["language_raw"] == "en"
    assert [i["last_name"] for i in payload(ml)["_linked"]["insts"]] == ["Ng"]

    game = items["20"]  # two universities: the first named is the awarding body, both in the payload
    assert game["title"] == "Game Theory" and game["awarding_body"] == "Stanford University"
    assert [u["name"] for u in payload(game)["_linked"]["unis"]] == [
        "Stanford University", "The University of British Columbia"]

    astro = items["98"]  # no "cats"; a session with year and month only
    assert astro["title"] == "Astrobiology and the Search for Extraterrestrial Life"
    assert astro["awarding_body"] == "The University of Edinburgh" and absent(astro, "subjects")
    assert astro["start_dates_raw"] == ["2013-01-28", "2013-09"]

    music = items["239"]  # one session, no date, no duration
    assert music["title"] == "How Music Works" and absent(music, "start_dates_raw") and absent(music, "duration_raw")

    o = offering(run, "464")
    assert o["title"] == "El ABC del emprendimiento esbelto" and o["language"] == "es"
    assert o["awarding_body"] == "Tecnológico de Monterrey" and o["duration_weeks_min"] == 6.0
    o = offering(run, "2")
    assert [str(d) for d in o["start_dates"]] == ["2012-04-23", "2012-08-20", "2013-04-22"]
