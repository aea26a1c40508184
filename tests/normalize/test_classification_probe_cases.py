"""Classification values a probe found mis-mapped: place, credential type and EQF, record kind,
delivery, language and credit units. A value that cannot be read stays null with a mapping
note; a wrong value is a bug. All cases are normalized together, once (one plan, one collect)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.normalize.normalize_factory import raw_row, run

# name -> (raw fields, expected offering fields, substring one of the notes must hold or None
# for "no note of that field"; the field is the text before the note's colon)
Case = tuple[dict[str, Any], dict[str, Any], tuple[str, str | None] | None]

COUNTRY: dict[str, Case] = {
    # "City, XX": two letters after a city are a region, not a country.
    "sf_ca": ({"country_raw": "San Francisco, CA", "prices": [{"text": "$499"}]},
              {"country": "US", "price_currency": "USD"}, ("country", None)),
    "boston_ma": ({"country_raw": "Boston, MA"}, {"country": "US"}, None),
    "denver_co": ({"country_raw": "Denver, CO"}, {"country": "US"}, None),
    "atlanta_ga": ({"country_raw": "Atlanta, GA"}, {"country": "US"}, None),
    "baltimore_md": ({"country_raw": "Baltimore, MD"}, {"country": "US"}, None),
    "pittsburgh_pa": ({"country_raw": "Pittsburgh, PA"}, {"country": "US"}, None),
    "wilmington_de": ({"country_raw": "Wilmington, DE"}, {"country": "US"}, None),
    "indianapolis_in": ({"country_raw": "Indianapolis, IN"}, {"country": "US"}, None),
    "austin_zip": ({"country_raw": "Austin, TX 78701"}, {"country": "US"}, None),
    "vancouver_bc": ({"country_raw": "Vancouver, BC"}, {"country": "CA"}, None),
    "london_ontario": ({"country_raw": "London, Ontario"}, {"country": "CA"}, None),
    "paris_texas": ({"country_raw": "Paris, Texas"}, {"country": "US"}, None),
    "sydney_nsw": ({"country_raw": "Sydney, NSW"}, {"country": "AU"}, None),
    # A name of a US state and a country alike, a code of two countries' regions: none, noted.
    "atlanta_georgia": ({"country_raw": "Atlanta, Georgia"}, {"country": None},
                        ("country", "ambiguous region or country")),
    "perth_wa": ({"country_raw": "Perth, WA"}, {"country": None}, ("country", "ambiguous")),
    # Two letters that are no known region after a city are not read as a country.
    "paris_fr": ({"country_raw": "Paris, FR"}, {"country": None}, ("country", "unmapped")),
    # A third part is the country; a whole value is read as a country first.
    "toronto_on_ca": ({"country_raw": "Toronto, ON, CA"}, {"country": "CA"}, None),
    "cambridge_ma_usa": ({"country_raw": "Cambridge, MA, USA"}, {"country": "US"}, None),
    "whole_ca": ({"country_raw": "CA"}, {"country": "CA"}, None),
    "whole_in": ({"country_raw": "IN"}, {"country": "IN"}, None),
    "whole_georgia": ({"country_raw": "Georgia"}, {"country": "GE"}, None),
    "berlin_germany": ({"country_raw": "Berlin, Germany"}, {"country": "DE"}, None),
    "germany_de": ({"country_raw": "Germany, DE"}, {"country": "DE"}, None),  # not Delaware
}

KIND: dict[str, Case] = {
    # Degree words inside other labels name no degree (and so no EQF level).
    "mini_mba": ({"credential_type_raw": "Mini MBA"},
                 {"credential_type": None, "eqf_level": None, "record_kind": "learning_opportunity"},
                 ("credential_type", "degree word qualified")),
    "mini_dash_mba": ({"credential_type_raw": "Mini-MBA"}, {"credential_type": None, "eqf_level": None},
                      ("credential_type", "degree word qualified")),
    "mba_prep": ({"credential_type_raw": "MBA Prep Course"},
                 {"credential_type": None, "eqf_level": None, "record_kind": "learning_opportunity"}, None),
    "pre_masters": ({"credential_type_raw": "Pre-Master's Programme"},
                    {"credential_type": None, "eqf_level": None}, ("credential_type", "degree word qualified")),
    "masters_level_course": ({"credential_type_raw": "Master's level course"},
                             {"credential_type": None, "eqf_level": None, "record_kind": "learning_opportunity"},
                             None),
    "masters_level_micro": ({"credential_type_raw": "Master's-level microcredential"},
                            {"credential_type": "MicroCredential", "eqf_level": None, "record_kind": "credential"},
                            None),
    "credit_towards": ({"credential_type_raw": "Credit towards a Master's degree"},
                       {"credential_type": None, "eqf_level": None}, ("credential_type", "degree word qualified")),
    "stackable": ({"credential_type_raw": "Stackable into a Master's Degree"},
                  {"credential_type": None, "eqf_level": None}, ("credential_type", "degree word qualified")),
    "bachelor_level": ({"credential_type_raw": "Bachelor-level course"},
                       {"credential_type": None, "eqf_level": None, "record_kind": "learning_opportunity"}, None),
    "doctoral_seminar": ({"credential_type_raw": "Doctoral seminar"},
                         {"credential_type": None, "eqf_level": None, "record_kind": "learning_opportunity"}, None),
    "phd_level": ({"credential_type_raw": "PhD-level course"},
                  {"credential_type": None, "eqf_level": None, "record_kind": "learning_opportunity"}, None),
    "mba_certificate": ({"credential_type_raw": "MBA Certificate"},
                        {"credential_type": None, "eqf_level": None, "record_kind": "credential"},
                        ("credential_type", "a degree and another credential class")),
    # Degrees that name the award still do.
    "mba": ({"credential_type_raw": "MBA"}, {"credential_type": "MasterDegree", "eqf_level": 7}, None),
    "executive_mba": ({"credential_type_raw": "Executive MBA"},
                      {"credential_type": "MasterDegree", "eqf_level": 7}, None),
    "part_time_mba": ({"credential_type_raw": "Part-time MBA"},
                      {"credential_type": "MasterDegree", "eqf_level": 7}, None),
    "msc_data": ({"credential_type_raw": "Master of Science in Data Science"},
                 {"credential_type": "MasterOfScienceDegree", "eqf_level": 7}, None),
    "phd_program": ({"credential_type_raw": "PhD Program"},
                    {"credential_type": "ResearchDoctorate", "eqf_level": 8}, None),
    "micromasters_toward_msc": ({"credential_type_raw": "MicroMasters (credit toward MSc)"},
                                {"credential_type": "MicroCredential", "eqf_level": None}, None),
    # An unknown label is no evidence of a credential.
    "audit": ({"credential_type_raw": "Audit"}, {"credential_type": None, "record_kind": "learning_opportunity"},
              ("credential_type", None)),
    "seminar": ({"credential_type_raw": "Seminar"}, {"record_kind": "learning_opportunity"}, ("credential_type", None)),
    "conference": ({"credential_type_raw": "Conference"}, {"record_kind": "learning_opportunity"}, None),
    "masterclass": ({"credential_type_raw": "Masterclass"}, {"record_kind": "learning_opportunity"}, None),
    "training": ({"credential_type_raw": "Training"}, {"record_kind": "learning_opportunity"}, None),
    "quiz": ({"credential_type_raw": "Quiz"}, {"record_kind": "assessment"}, None),
    "test": ({"credential_type_raw": "Test"}, {"record_kind": "assessment"}, None),
    "exec_ed": ({"credential_type_raw": "Executive Education"}, {"record_kind": "learning_opportunity"}, None),
    "cpd": ({"credential_type_raw": "CPD"}, {"record_kind": "learning_opportunity"}, None),
    "unknown_label": ({"credential_type_raw": "Foo Award"},
                      {"credential_type": None, "record_kind": "learning_opportunity"},
                      ("record_kind", "credential label unmapped; learning_opportunity assumed")),
    # ... while a credential record kind still names the class ("Competency" in an OpenBadge).
    "unknown_label_badge": ({"credential_type_raw": "Competency", "record_kind_raw": "OpenBadgeCredential"},
                            {"credential_type": "OpenBadge", "record_kind": "credential"},
                            ("credential_type", "unmapped")),
    # Labels in other languages and abbreviations, where the class is certain.
    "zertifikat": ({"credential_type_raw": "Zertifikat"}, {"credential_type": "Certificate"}, None),
    "certificat": ({"credential_type_raw": "Certificat"}, {"credential_type": "Certificate"}, None),
    "certificado": ({"credential_type_raw": "Certificado"}, {"credential_type": "Certificate"}, None),
    "pgcert": ({"credential_type_raw": "PgCert"}, {"credential_type": "AcademicCertificate"}, None),
    "pgdip": ({"credential_type_raw": "PGDip"}, {"credential_type": "Diploma"}, None),
    "hnd": ({"credential_type_raw": "HND"}, {"credential_type": "Diploma"}, None),
    "das": ({"credential_type_raw": "DAS"}, {"credential_type": "Diploma", "eqf_level": None}, None),
    # Master of Advanced Studies: not certainly a Master's degree; unmapped, noted.
    "mas": ({"credential_type_raw": "MAS"}, {"credential_type": None, "eqf_level": None},
            ("credential_type", "unmapped")),
}

DELIVERY: dict[str, Case] = {
    "not_online": ({"modality_raw": "Not online"}, {"modality": None}, ("modality", "negated")),
    "not_self_paced": ({"timing_raw": "Not self-paced"}, {"timing": None}, ("timing", "negated")),
    "online_no_campus": ({"modality_raw": "Online, no campus visits"}, {"modality": "OnlineOnly"}, None),
    "online_or_in_person": ({"modality_raw": "Online or in-person"}, {"modality": None},
                            ("modality", "alternatives")),
    "in_person_or_online": ({"modality_raw": "In-person or online"}, {"modality": None},
                            ("modality", "alternatives")),
    # not even on an online-only platform: the source says it may be in person
    "alternatives_on_platform": ({"modality_raw": "Online or in-person", "platform": "Coursera"},
                                 {"modality": None}, ("modality", "alternatives")),
    "in_person_and_online": ({"modality_raw": "In-person and online"}, {"modality": "BlendedDelivery"}, None),
    "online_with_residency": ({"modality_raw": "Online with optional in-person residency"},
                              {"modality": "BlendedDelivery"}, None),
    "mostly_online": ({"modality_raw": "Mostly online"}, {"modality": "BlendedDelivery"}, None),
    "virtual_classroom": ({"modality_raw": "Virtual classroom"}, {"modality": "OnlineOnly"}, None),
    "self_paced_or_led": ({"timing_raw": "Self-paced or instructor-led"}, {"timing": None},
                          ("timing", "alternatives")),
    "self_paced_with_live": ({"timing_raw": "Self-paced with live sessions"}, {"timing": None},
                             ("timing", "several")),
    "online_self_paced": ({"modality_raw": "Online, self-paced"},
                          {"modality": "OnlineOnly", "timing": "self-paced"}, ("modality", None)),
}

LANGUAGE: dict[str, Case] = {
    # Bare codes of rare languages that are country codes in a language field: not read.
    "se": ({"language_raw": "SE"}, {"language": None}, ("language", "unmapped")),
    "kr": ({"language_raw": "KR"}, {"language": None}, ("language", "unmapped")),
    "br": ({"language_raw": "BR"}, {"language": None}, ("language", "unmapped")),
    "chn": ({"language_raw": "CHN"}, {"language": None}, ("language", "unmapped")),
    "in": ({"language_raw": "in"}, {"language": None}, ("language", "unmapped")),
    "asl": ({"language_raw": "ASL"}, {"language": "ase"}, None),
    # Common codes still are.
    "sv": ({"language_raw": "sv"}, {"language": "sv"}, None),
    "IT": ({"language_raw": "IT"}, {"language": "it"}, None),
    "ger": ({"language_raw": "GER"}, {"language": "de"}, None),
    "eng": ({"language_raw": "eng"}, {"language": "en"}, None),
    "iw": ({"language_raw": "iw"}, {"language": "he"}, None),
    "se_NO": ({"language_raw": "se-NO"}, {"language": "se"}, None),  # a full tag is deliberate
    "en_and_fr": ({"language_raw": "English & French"}, {"language": "en"}, ("language", "several or qualified")),
    "de_und_en": ({"language_raw": "Deutsch und Englisch"}, {"language": "de"}, ("language", "several")),
    "bangla": ({"language_raw": "Bangla"}, {"language": "bn"}, None),
    "malay": ({"language_raw": "Malay"}, {"language": "ms"}, None),
    "cymraeg": ({"language_raw": "Cymraeg"}, {"language": "cy"}, None),
    "gaeilge": ({"language_raw": "Gaeilge"}, {"language": "ga"}, None),
}

CREDITS: dict[str, Case] = {
    "credits_and_ects": ({"credits_raw": "30 credits (15 ECTS)"},
                         {"credits": 15.0, "credit_unit": "ECTS", "ects": 15.0, "ects_derived": False},
                         ("credits", "several figures; the ECTS one kept")),
    "ects_and_us": ({"credits_raw": "6 ECTS / 3 US credits"},
                    {"credits": 6.0, "credit_unit": "ECTS", "ects": 6.0}, ("credits", None)),
    "conflict": ({"credits_raw": "5 ECTS", "credit_unit_raw": "CEU"},
                 {"credits": 5.0, "credit_unit": None, "ects": None},
                 ("credit_unit", "unit field and figure disagree")),
    "agree": ({"credits_raw": "5 ECTS", "credit_unit_raw": "ECTS"},
              {"credits": 5.0, "credit_unit": "ECTS", "ects": 5.0}, ("credit_unit", None)),
    "field_unit": ({"credits_raw": "5", "credit_unit_raw": "CEU"},
                   {"credits": 5.0, "credit_unit": "ContinuingEducationUnit", "ects": None}, ("credit_unit", None)),
    "generic_with_field": ({"credits_raw": "5 credits", "credit_unit_raw": "ECTS"},
                           {"credits": 5.0, "credit_unit": "ECTS", "ects": 5.0}, ("credit_unit", None)),
    "hp": ({"credits_raw": "7,5 hp"}, {"credits": 7.5, "credit_unit": "ECTS", "ects": 7.5}, None),
    "hogskolepoang": ({"credits_raw": "15 högskolepoäng"}, {"credit_unit": "ECTS", "ects": 15.0}, None),
    "studiepoeng": ({"credits_raw": "10 studiepoeng"}, {"credit_unit": "ECTS", "ects": 10.0}, None),
    "op": ({"credits_raw": "5 op"}, {"credit_unit": "ECTS", "ects": 5.0}, None),
    "lp": ({"credits_raw": "5 LP"}, {"credit_unit": "ECTS", "ects": 5.0}, None),
    "leistungspunkte": ({"credits_raw": "6 Leistungspunkte"}, {"credit_unit": "ECTS", "ects": 6.0}, None),
    "kp": ({"credits_raw": "4", "credit_unit_raw": "KP"}, {"credit_unit": "ECTS", "ects": 4.0}, None),
    # No conversion the taxonomy states: UK CATS credits stay unmapped, noted.
    "cats": ({"credits_raw": "20 CATS"}, {"credits": 20.0, "credit_unit": None, "ects": None},
             ("credit_unit", "unmapped")),
}

ALL = {f"{group}:{name}": case for group, cases in
       (("country", COUNTRY), ("kind", KIND), ("delivery", DELIVERY), ("language", LANGUAGE), ("credits", CREDITS))
       for name, case in cases.items()}


@pytest.fixture(scope="module")
def offerings() -> dict[str, dict[str, Any]]:
    rows = [raw_row(source_key=key, **fields)
            for key, (fields, _, _) in ALL.items()]
    result = run(*rows)
    assert result.rejects.height == 0, result.rejects.to_dicts()
    return {o["source_key"]: o for o in result.offerings.iter_rows(named=True)}


@pytest.mark.parametrize("key", list(ALL))
def test_probe_case(offerings: dict[str, dict[str, Any]], key: str) -> None:
    _, expected, note = ALL[key]
    o = offerings[key]
    assert {f: o[f] for f in expected} == expected, o["mapping_notes"]
    if note is not None:
        field, text = note
        notes = [n for n in o["mapping_notes"] if n.startswith(f"{field}:")]
        if text is None:
            assert not notes
        else:
            assert any(text in n for n in notes), o["mapping_notes"]
