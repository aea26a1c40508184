"""normalize(): reconciliation, rejects, test records, hashing and the field mappings."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalize import taxonomy as tx
from normalize.schema import OFFERING_SCHEMA, REJECT_SCHEMA, offering_id
from normalize.transforms import normalize
from tests.normalize.normalize_factory import FETCHED, notes_for, one, raw_frame, raw_row, run


def price(text=None, amount=None, currency=None, label=None):
    return {"text": text, "amount": amount, "currency": currency, "label": label}


# --- contract -----------------------------------------------------------------------------------


def test_output_schemas_are_exact():
    result = run(raw_row(), raw_row(source_key="", title="No key"))
    assert result.offerings.schema == OFFERING_SCHEMA
    assert result.offerings.columns == list(OFFERING_SCHEMA.names())
    assert result.rejects.schema == REJECT_SCHEMA
    assert result.fx_rate_date == tx.load_fx_rates().rate_date


def test_empty_input_gives_empty_frames_with_schemas():
    result = run()
    assert result.offerings.height == 0 and result.rejects.height == 0
    assert result.offerings.schema == OFFERING_SCHEMA
    assert result.rejects.schema == REJECT_SCHEMA


def test_input_missing_optional_columns_is_accepted():
    lean = pl.DataFrame({"source": ["s"], "source_key": ["k"], "fetched_at": [FETCHED], "run_id": ["r"],
                         "title": ["A course"], "payload": ["{}"]})
    result = normalize(lean.lazy())
    assert result.offerings.height == 1
    assert result.offerings["learning_outcomes"].to_list() == [[]]


def test_every_raw_row_is_one_offering_or_one_reject():
    rows = [
        raw_row(source_key="a", title="First"),
        raw_row(source_key="a", title="Second with same key"),
        raw_row(source_key="a", title="Third with same key"),
        raw_row(source_key="b", title="<p>  </p>"),
        raw_row(source_key="  ", title="Blank key"),
        raw_row(source_key="c", title="TEST"),
        raw_row(source_key="d", title="A real course"),
        raw_row(source_key="a", run_id="run-2", title="Same key, other run"),  # one offering_id: a duplicate
        raw_row(source="other", source_key="a", title="Same key, other source"),
        raw_row(source_key="e", fetched_at=None, title="No fetch time"),
    ]
    result = run(*rows)
    assert result.offerings.height + result.rejects.height == len(rows)
    assert sorted(result.rejects["reason"].to_list()) == [
        "duplicate_source_key", "duplicate_source_key", "duplicate_source_key", "missing_source_key",
        "missing_title", "schema_violation",
    ]
    kept = set(zip(result.offerings["source"], result.offerings["run_id"], result.offerings["source_key"],
                   strict=True))
    assert kept == {("acme_mooc", "run-1", "a"), ("acme_mooc", "run-1", "c"), ("acme_mooc", "run-1", "d"),
                    ("other", "run-1", "a")}
    assert result.offerings["offering_id"].is_unique().all()


def test_duplicate_key_keeps_the_first_and_rejects_the_rest():
    result = run(raw_row(title="First"), raw_row(title="Second"), raw_row(title="Third"))
    assert result.offerings["title"].to_list() == ["First"]
    assert result.rejects["reason"].to_list() == ["duplicate_source_key"] * 2
    payloads = [json.loads(p) for p in result.rejects["payload"]]
    assert [p["title"] for p in payloads] == ["Second", "Third"]
    assert all(p["source_key"] == "course-1" for p in payloads)


def test_first_valid_row_is_kept_when_the_first_has_no_title():
    result = run(raw_row(title=""), raw_row(title="Has a title"))
    assert result.offerings["title"].to_list() == ["Has a title"]
    assert result.rejects["reason"].to_list() == ["missing_title"]


def test_reject_payload_is_the_raw_row_as_json():
    result = run(raw_row(title=None, description="<b>kept raw</b>", subjects=["Art"]))
    payload = json.loads(result.rejects["payload"].item())
    assert payload["description"] == "<b>kept raw</b>"
    assert payload["subjects"] == ["Art"]
    assert payload["source"] == "acme_mooc"
    assert result.rejects.row(0, named=True)["source_key"] == "course-1"


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("TEST", "course-9"),
        ("TestCourse", "course-9"),
        ("DO NOT USE", "course-9"),
        ("TESTING_TESTING", "course-9"),
        ("test 123", "course-9"),
        ("[TEST] Intro to Data", "course-9"),
        ("Intro to Data (DO NOT USE)", "course-9"),
        ("Intro to Data", "test-123"),
        ("Test ORA course", "course-9"),
        ("Intro to Data", "TEST_COURSE"),
        ("TestAK", "course-9"),
        ("Test ORA RC", "course-9"),
        ("Journalism for Social Change [Test]", "course-9"),
        ("Biology (TestingCCX)", "course-9"),
        ("Brian's Test Course", "course-9"),
        ("AA TEST", "course-9"),
        ("Carr_Test", "course-9"),
        ("test_course1", "course-9"),
        ("Intro to Data", "course-v1:MITx+MITTEST+1T2020"),
        ("Intro to Data", "CarrTest/Test101/2014_T1"),
    ],
)
def test_test_records_are_kept_and_flagged(title, key):
    offering = one(title=title, source_key=key)
    assert offering["is_test"] is True
    assert offering["status"] == "test"


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Software Testing", "software-testing"),
        ("Test Automation with Selenium", "course-10"),
        ("Testing in Python", "course-11"),
        ("A/B Testing", "ab-testing"),
        ("Test Prep: GRE", "gre-prep"),
        ("Test Automation Course", "course-12"),
        ("Software Testing Fundamentals", "course-v1:UBCx+SoftwareTesting+2T2020"),
        ("Testing Strategies [Advanced]", "course-13"),
        ("TOEFL Preparation", "course-v1:ETSx+TOEFLx+1T2020"),
    ],
)
def test_real_courses_about_testing_are_not_test_records(title, key):
    offering = one(title=title, source_key=key)
    assert offering["is_test"] is False
    assert offering["status"] == "active"


def test_offering_id_is_the_schema_id_of_source_and_key():
    offering = one(source_key="  course-7 ")
    assert offering["source_key"] == "course-7"
    assert offering["offering_id"] == offering_id("acme_mooc", "course-7")


def test_content_hash_ignores_provenance_but_sees_content():
    fields = {"description": "<p>Learn widgets</p>", "workload_raw": "3 hours", "prices": [price("$49")]}
    first = one(**fields)
    again = one(**fields, run_id="run-2", fetched_at=FETCHED + timedelta(days=7), url="http://127.0.0.1:9/elsewhere")
    changed = one(**{**fields, "description": "<p>Learn gadgets</p>"})
    assert first["content_hash"] == again["content_hash"]
    assert first["offering_id"] == again["offering_id"]
    assert changed["content_hash"] != first["content_hash"]


def test_content_hash_does_not_depend_on_neighbouring_rows():
    alone = run(raw_row(source_key="x")).offerings["content_hash"].item()
    together = run(raw_row(source_key="w", title="Other"), raw_row(source_key="x")).offerings
    assert together.filter(pl.col("source_key") == "x")["content_hash"].item() == alone


def test_offerings_keep_input_order():
    keys = [f"k{i}" for i in range(30, 0, -1)]
    result = run(*[raw_row(source_key=k, subjects=["Nursing"], prices=[price("$10")]) for k in keys])
    assert result.offerings["source_key"].to_list() == keys


# --- text fields --------------------------------------------------------------------------------


def test_description_is_plain_text():
    offering = one(description="<div><p>Learn it&rsquo;s <b>basics</b></p><script>track()</script>"
                               "<style>.x{}</style><p>caf\u00c3\u00a9</p></div>")
    assert offering["description"] == "Learn it’s basics\n\ncafé"
    assert not re.search(r"<[a-zA-Z/!]", offering["description"])


def test_title_is_cleaned():
    assert one(title="  Data &amp; Society \u00c2\u00b7 Part 1 ")["title"] == "Data & Society · Part 1"


def test_learning_outcomes_from_an_html_list_are_split_and_deduplicated():
    offering = one(learning_outcomes=["<ul><li>Write loops</li><li>Use functions</li></ul>",
                                      "• Write loops", "  ", "1. Read files"])
    assert offering["learning_outcomes"] == ["Write loops", "Use functions", "Read files"]


# --- kind, type, level --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credential_type_raw", "record_kind_raw", "credential_type", "record_kind"),
    [
        ("Professional Certificate", "program", "ProfessionalCertificate", "credential"),
        ("Specialization", None, "MicroCredential", "credential"),
        (None, "course", None, "learning_opportunity"),  # a course awards nothing
        (None, "ceterms:Certification", "Certification", "credential"),
        (None, "ceterms:AssessmentProfile", None, "assessment"),
        (None, "EducationalOccupationalProgram", None, "learning_opportunity"),
        ("ceterms:MasterOfScienceDegree", None, "MasterOfScienceDegree", "credential"),
        ("verified certificate", "course", "CertificateOfCompletion", "credential"),
    ],
)
def test_credential_type_and_record_kind(credential_type_raw, record_kind_raw, credential_type, record_kind):
    offering = one(credential_type_raw=credential_type_raw, record_kind_raw=record_kind_raw)
    assert (offering["credential_type"], offering["record_kind"]) == (credential_type, record_kind)
    assert offering["credential_type_raw"] == credential_type_raw


def test_unmapped_credential_label_is_null_with_a_note():
    offering = one(credential_type_raw="Foo Award", record_kind_raw="course")
    assert offering["credential_type"] is None
    assert offering["credential_type_raw"] == "Foo Award"
    assert notes_for(offering, "credential_type") == ["credential_type: unmapped 'Foo Award'"]


def test_record_kind_without_evidence_is_noted():
    offering = one()
    assert offering["record_kind"] == "learning_opportunity"
    assert notes_for(offering, "record_kind") == ["record_kind: not stated; learning_opportunity assumed"]


@pytest.mark.parametrize(
    ("fields", "audience", "eqf"),
    [
        ({"level_raw": "Beginner"}, "BeginnerLevel", None),
        ({"level_raw": "Advanced"}, "AdvancedLevel", None),
        ({"level_raw": "Intermediate", "credential_type_raw": "Bachelor of Science"}, "IntermediateLevel", 6),
        ({"credential_type_raw": "Associate Degree"}, None, 5),
        ({"credential_type_raw": "Master's degree"}, None, 7),
        ({"credential_type_raw": "PhD"}, None, 8),
        ({"level_raw": "EQF level 5"}, None, 5),
        ({"level_raw": "Beginner", "description": "Placed at EQF 4 by the national framework."},
         "BeginnerLevel", 4),
        ({"level_raw": "Masters Degree Level"}, "MastersDegreeLevel", 7),
        ({"level_raw": "All Levels"}, None, None),
    ],
)
def test_audience_level_and_eqf_from_evidence_only(fields, audience, eqf):
    offering = one(**fields)
    assert (offering["audience_level"], offering["eqf_level"]) == (audience, eqf)
    assert notes_for(offering, "audience_level") == []


def test_unknown_level_is_noted():
    offering = one(level_raw="Wizard")
    assert offering["audience_level"] is None
    assert notes_for(offering, "audience_level") == ["audience_level: unmapped 'Wizard'"]


# --- effort ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workload", "duration", "hours", "weeks"),
    [
        ("3-5 hours/week", "4 weeks", (12, 20), (4, 4)),
        ("3:00", "6 weeks", (18, 18), (6, 6)),
        ("4 weeks, 3-5 hours/week", None, (12, 20), (4, 4)),
        ("Approx. 40 hours to complete", None, (40, 40), (None, None)),
        ("PT10H", "P4W", (10, 10), (4, 4)),
        (None, "Approx. 40 hours to complete", (40, 40), (None, None)),  # hours are effort
        ("P4W", None, (None, None), (4, 4)),  # a length, wherever it is written
        ("2-4 hours per week", "3 - 6 Months", (26.0, 104.0), (13.0, 26.0)),
        ("36 total hours", None, (36, 36), (None, None)),
    ],
)
def test_workload_and_duration(workload, duration, hours, weeks):
    offering = one(workload_raw=workload, duration_raw=duration)
    assert (offering["workload_hours_min"], offering["workload_hours_max"]) == hours
    assert (offering["duration_weeks_min"], offering["duration_weeks_max"]) == weeks
    assert notes_for(offering, "workload_hours") == []


def test_weekly_effort_without_duration_is_not_a_total():
    offering = one(workload_raw="3-5 hours/week")
    assert offering["workload_hours_min"] is None
    assert notes_for(offering, "workload_hours") == [
        "workload_hours: per-week effort without a duration '3-5 hours/week'"
    ]


def test_unparseable_effort_is_noted():
    offering = one(workload_raw="varies", duration_raw="flexible")
    assert offering["workload_hours_min"] is None and offering["duration_weeks_min"] is None
    assert "workload_hours: unparsed 'varies'" in offering["mapping_notes"]
    assert "duration_weeks: unparsed 'flexible'" in offering["mapping_notes"]


@pytest.mark.parametrize(
    ("fields", "credits", "unit", "ects", "derived"),
    [
        ({"credits_raw": "5 ECTS"}, 5.0, "ECTS", 5.0, False),
        ({"credits_raw": "6", "credit_unit_raw": "ECTS credits"}, 6.0, "ECTS", 6.0, False),
        ({"credits_raw": "3", "credit_unit_raw": "credit hours", "workload_raw": "55 hours"},
         3.0, "SemesterHour", 2.0, True),
        ({"credits_raw": "1.5 CEUs"}, 1.5, "ContinuingEducationUnit", None, False),
        ({"workload_raw": "40 hours"}, None, None, 1.5, True),  # 40 / 27.5 = 1.45 -> 1.5
        ({"workload_raw": "100 hours"}, None, None, 3.5, True),  # 3.64 -> 3.5 (at 25 h it would be 4)
        ({"workload_raw": "20-35 hours"}, None, None, 1.0, True),  # the midpoint, 27.5 h
        ({"workload_raw": "3 hours"}, None, None, None, False),  # below half a credit
        ({"workload_raw": "PT100H", "credits_raw": "4 ECTS"}, 4.0, "ECTS", 4.0, False),
    ],
)
def test_credits_and_ects(fields, credits, unit, ects, derived):
    offering = one(**fields)
    assert (offering["credits"], offering["credit_unit"]) == (credits, unit)
    assert (offering["ects"], offering["ects_derived"]) == (ects, derived)


def test_unknown_credit_unit_is_noted():
    offering = one(credits_raw="10 PDUs")
    assert offering["credits"] == 10.0 and offering["credit_unit"] is None
    assert notes_for(offering, "credit_unit") == ["credit_unit: unmapped 'pdus'"]


# --- delivery, language, country ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("modality_raw", "timing_raw", "modality", "timing"),
    [
        ("Online", "Self-paced", "OnlineOnly", "self-paced"),
        ("100% online, self-paced", None, "OnlineOnly", "self-paced"),
        ("On campus", "Instructor-led", "InPerson", "scheduled"),
        ("Hybrid", "Cohort-based", "BlendedDelivery", "scheduled"),
        (None, "self", None, "self-paced"),  # edX API pacing values
        (None, "instructor", None, "scheduled"),
        (None, "self_paced=0", None, "scheduled"),  # a flag, not the words "self paced"
        (None, "self_paced=1", None, "self-paced"),
        ("deliveryType:BlendedDelivery", None, "BlendedDelivery", None),
        (None, "Online, instructor-paced", "OnlineOnly", "scheduled"),
    ],
)
def test_modality_and_timing(modality_raw, timing_raw, modality, timing):
    offering = one(modality_raw=modality_raw, timing_raw=timing_raw)
    assert (offering["modality"], offering["timing"]) == (modality, timing)


@pytest.mark.parametrize(
    ("raw", "tag"),
    [("English", "en"), ("en", "en"), ("eng", "en"), ("Español", "es"), ("Deutsch", "de"),
     # regions are dropped (a catalog locale names a market), scripts are kept
     ("en_US", "en"), ("en-gb", "en"), ("Portuguese (Brazil)", "pt"), ("zh-cn", "zh"),
     ("zh-Hant-TW", "zh-Hant"), ("Chinese (Traditional)", "zh-Hant")],
)
def test_language_to_bcp47(raw, tag):
    offering = one(language_raw=raw)
    assert offering["language"] == tag
    assert notes_for(offering, "language") == []


def test_several_languages_keep_the_first_with_a_note():
    offering = one(language_raw="English, Spanish")
    assert offering["language"] == "en"
    assert notes_for(offering, "language") == ["language: several or qualified; first kept from 'English, Spanish'"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [("US", "US"), ("USA", "US"), ("United States", "US"), ("Germany", "DE"), ("DEU", "DE"),
     ("UK", "GB"), ("Boston, MA, USA", "US"), ("Deutschland", "DE")],
)
def test_country_to_alpha2(raw, code):
    assert one(country_raw=raw)["country"] == code


def test_unmappable_place_values_are_null_with_notes():
    offering = one(language_raw="Klingonese", country_raw="Atlantis")
    assert offering["language"] is None and offering["country"] is None
    assert "language: unmapped 'Klingonese'" in offering["mapping_notes"]
    assert "country: unmapped 'Atlantis'" in offering["mapping_notes"]


# --- prices -------------------------------------------------------------------------------------


def test_main_price_and_usd_conversion_use_the_dated_table():
    rates = dict(tx.load_fx_rates().rates.iter_rows())
    offering = one(prices=[price("€ 1.200,00", label="Tuition")], country_raw="Germany")
    assert offering["prices"] == [{"amount": 1200.0, "currency": "EUR", "cost_type": "Tuition"}]
    assert (offering["price_amount"], offering["price_currency"]) == (1200.0, "EUR")
    assert offering["price_usd"] == round(1200.0 / rates["EUR"], 2)
    assert offering["is_free"] is False


def test_aggregate_cost_is_the_main_price():
    offering = one(prices=[price("$300", label="Exam fee"), price("$99", label="Course fee"),
                           price("$990", label="Total program price")])
    assert [p["cost_type"] for p in offering["prices"]] == ["StandaloneAssessment", "Tuition", "AggregateCost"]
    assert offering["price_amount"] == 990.0


def test_separate_amount_and_currency_fields():
    offering = one(prices=[price(amount="1.299,50", currency="EUR")])
    assert (offering["price_amount"], offering["price_currency"]) == (1299.5, "EUR")


def test_dollar_sign_follows_the_offering_country():
    assert one(prices=[price("$120")], country_raw="Canada")["price_currency"] == "CAD"
    assert one(prices=[price("$120")], country_raw="US")["price_currency"] == "USD"
    assert one(prices=[price("$120")])["price_currency"] == "USD"


def test_subscription_is_a_price_model_not_a_course_price():
    offering = one(prices=[price("$59/month", label="Coursera Plus"), price("$49")])
    assert offering["prices"] == [{"amount": 49.0, "currency": "USD", "cost_type": None}]
    assert offering["price_amount"] == 49.0
    assert notes_for(offering, "prices") == [
        "prices: subscription is a price model, not a course price '$59/month'"
    ]


def test_free_and_free_to_audit():
    free = one(prices=[price("Free")])
    assert (free["is_free"], free["price_amount"], free["price_usd"]) == (True, 0.0, 0.0)
    audit = one(prices=[price("Free to audit"), price("$49", label="Verified certificate")])
    assert (audit["free_to_audit"], audit["is_free"], audit["price_amount"]) == (True, False, 49.0)
    stated = one(is_free_raw="yes")
    assert stated["is_free"] is True and stated["free_to_audit"] is None


def test_free_audit_track_alone_makes_the_offering_free():
    offering = one(prices=[price(amount="0.00", currency="USD", label="audit")])
    assert offering["is_free"] is True and offering["free_to_audit"] is None
    assert (offering["price_amount"], offering["price_currency"], offering["price_usd"]) == (0.0, None, 0.0)
    assert notes_for(offering, "prices") == []  # "audit" is a known track label, not a cost type


def test_free_to_audit_is_unknown_without_evidence():
    assert one(prices=[price("$49")])["free_to_audit"] is None


def test_currency_written_by_name():
    offering = one(prices=[price(amount="150.0", currency="US Dollar", label="costType:StandaloneAssessment")])
    assert offering["prices"] == [{"amount": 150.0, "currency": "USD", "cost_type": "StandaloneAssessment"}]


def test_price_without_known_currency_has_no_usd():
    offering = one(prices=[price("49 doubloons")])
    assert offering["price_amount"] == 49.0 and offering["price_usd"] is None
    assert notes_for(offering, "prices") == ["prices: unknown currency in '49 doubloons'"]


# --- subjects -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "codes"),
    [
        ({"subject_codes": ["0613"]}, ["0613"]),
        ({"subject_codes": ["http://data.europa.eu/snb/isced-f/0413"]}, ["0413"]),
        ({"subject_codes": ["ISCED-F 0913"]}, ["0913"]),
        ({"subjects": ["Computer Science"]}, ["0613"]),
        ({"subjects": ["Nursing"]}, ["0913"]),
        ({"subjects": ["Business & Finance"]}, ["041"]),  # a shelf naming 041 and its 0412: 041
        ({"subjects": ["Accounting", "Marketing"]}, ["0411", "0414"]),
        ({"subjects": ["Programming Languages"]}, ["0613"]),  # not 023 Languages
        ({"title": "Machine Learning for Everyone"}, ["0613"]),  # title keyword fallback
        ({"title": "The Art of Negotiation"}, []),  # 'art' is not trusted in titles
        ({"subjects": ["Psychology"], "title": "Python basics"}, ["0613", "0313"]),  # title leads
        ({"subjects": ["Teaching & Academics", "Engineering"]}, ["071"]),  # umbrella category: no field
        ({"subjects": ["Data Science"]}, ["0542"]),
    ],
)
def test_isced_codes(fields, codes):
    assert one(**fields)["isced_codes"] == codes


def test_cip_codes_stay_raw_without_a_note():
    offering = one(subject_codes=["11.0701", "52.0201"])
    assert offering["isced_codes"] == ["0613", "0413"]  # through the CIP crosswalk
    assert offering["subject_codes_raw"] == ["11.0701", "52.0201"]
    assert notes_for(offering, "isced_codes") == []


def test_unmapped_subject_and_unknown_code_are_noted():
    offering = one(subjects=["Underwater Basket Weaving Theory"], subject_codes=["ZZ-9"])
    assert offering["subjects_raw"] == ["Underwater Basket Weaving Theory"]
    assert sorted(notes_for(offering, "isced_codes")) == [
        "isced_codes: unmapped subject 'Underwater Basket Weaving Theory'",
        "isced_codes: unrecognised code 'ZZ-9'",
    ]


# --- the rest -----------------------------------------------------------------------------------


def test_start_dates_parsed_sorted_and_noted():
    offering = one(start_dates_raw=["2025-09-01", "March 3rd, 2025", "TBA", "Self-paced", "2025-09-01"])
    assert offering["start_dates"] == [date(2025, 3, 3), date(2025, 9, 1)]
    assert notes_for(offering, "start_dates") == ["start_dates: unparsed 'TBA'"]


def test_ratings_counts_status_skills(monkeypatch, tmp_path):
    # Without the ESCO list (mapping itself: tests/normalize/test_skills.py) given URIs stay.
    monkeypatch.setenv("CREDCAT_ESCO_CSV", str(tmp_path / "absent.csv"))
    esco = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
    offering = one(rating_raw="4.9stars", rating_count_raw="43K reviews", enrolment_raw="1,234,567",
                   status_raw="Archived", skills=["Python", esco])
    assert (offering["rating"], offering["rating_count"], offering["enrolment"]) == (4.9, 43_000, 1_234_567)
    assert offering["status"] == "retired"
    assert offering["skills"] == [esco]
    assert offering["skill_scores"] == [1.0]
    assert offering["skills_raw"] == ["Python", esco]
    assert notes_for(offering, "skills") == ["skills: ESCO list absent, 1 not mapped (kept in skills_raw)"]


def test_page_defects_become_notes():
    assert "page: invalid JSON-LD block" in one(page_defects=["invalid JSON-LD block"])["mapping_notes"]


def test_provider_kind_from_name_or_from_the_source_registry():
    by_name = one(awarding_body="University of Lakeside", platform="Acme MOOC")
    assert by_name["provider_kind"] == "university"
    by_source = run(raw_row(awarding_body="Acme MOOC", platform="Acme MOOC"),
                    provider_kinds={"acme_mooc": "mooc_platform"}).offerings.row(0, named=True)
    assert by_source["provider_kind"] == "mooc_platform"
    partner = run(raw_row(awarding_body="Widget Lab", platform="Acme MOOC"),
                  provider_kinds={"acme_mooc": "mooc_platform"}).offerings.row(0, named=True)
    assert partner["provider_kind"] is None  # the platform's kind is not the partner's


def test_provider_kinds_must_be_known():
    with pytest.raises(ValueError, match="unknown organization kind"):
        run(raw_row(), provider_kinds={"acme_mooc": "spaceport"})


def test_lister_kinds_of_the_registry_are_not_awarding_body_kinds():
    offering = run(raw_row(), provider_kinds={"acme_mooc": "registry"}).offerings.row(0, named=True)
    assert offering["provider_kind"] is None


def test_eu_completeness_counts_the_nine_catalog_elements():
    full = one(country_raw="DE", awarding_body="Lakeside University", learning_outcomes=["Explain X"],
               workload_raw="50 hours", level_raw="EQF 6", assessment_raw="Written exam",
               modality_raw="Online", quality_assurance_raw="Accredited by the national agency")
    assert full["eu_completeness"] == 1.0
    assert one()["eu_completeness"] == round(1 / 9, 4)


def test_mapping_notes_name_their_field():
    offering = one(level_raw="Wizard", rating_raw="great", modality_raw="by carrier pigeon",
                   is_free_raw="sometimes")
    assert offering["mapping_notes"]
    assert all(re.match(r"^[a-z_]+: ", n) for n in offering["mapping_notes"])
    assert {n.split(":")[0] for n in offering["mapping_notes"]} >= {"audience_level", "rating", "modality", "is_free"}


@given(st.lists(st.tuples(st.sampled_from(["k1", "k2", "k3", "", None]),
                          st.sampled_from(["A title", "", "<i></i>", "TEST", None]),
                          st.sampled_from(["run-1", "run-2"])), max_size=12))
@settings(max_examples=25, deadline=None)
def test_reconciliation_holds_for_any_mix(rows):
    raw = raw_frame(*[raw_row(source_key=k, title=t, run_id=r) for k, t, r in rows])
    result = normalize(raw.lazy())
    assert result.offerings.height + result.rejects.height == raw.height
    keys = result.offerings.select("run_id", "source_key")
    assert keys.n_unique() == keys.height  # one offering per key and run


def test_one_price_text_free_to_take_with_a_paid_certificate():
    o = one(prices=[{"text": "FREE-Add a Verified Certificate for $49 USD"}])
    assert (o["price_amount"], o["price_currency"], o["is_free"], o["free_to_audit"]) == (49.0, "USD", False, True)
    # the price buys a certificate: the course awards one, of completion
    assert (o["credential_type"], o["record_kind"]) == ("CertificateOfCompletion", "credential")
    assert not notes_for(o, "record_kind")


def test_a_price_names_no_credential_over_a_stated_one():
    stated = one(credential_type_raw="Professional Certificate", prices=[{"text": "Verified Certificate $49"}])
    assert stated["credential_type"] == "ProfessionalCertificate"
    plain = one(prices=[{"text": "$49"}])
    assert (plain["credential_type"], plain["record_kind"]) == (None, "learning_opportunity")


def test_tuition_per_term_is_a_price_not_a_subscription():
    o = one(prices=[{"amount": "4125", "currency": "USD", "label": "Tuition per 6-month term"}])
    assert (o["price_amount"], o["price_currency"]) == (4125.0, "USD")
    monthly = one(prices=[{"text": "$59/month"}])
    assert monthly["price_amount"] is None and any("subscription" in n for n in notes_for(monthly, "prices"))


def test_listing_on_an_online_only_platform_is_online_unless_stated():
    assert one(platform="Coursera")["modality"] == "OnlineOnly"
    assert one(platform="Coursera", modality_raw="In person")["modality"] == "InPerson"
    assert one(platform="Simplilearn")["modality"] is None  # offers classroom training too: not listed


@pytest.mark.parametrize(("level", "code"), [("Professional", "AdvancedLevel"), ("Associate", "IntermediateLevel"),
                                             ("Foundational", "BeginnerLevel"), ("Professional level", "ProfessionalLevel")])
def test_vendor_certification_tiers_are_audience_levels(level, code):
    assert one(level_raw=level)["audience_level"] == code
