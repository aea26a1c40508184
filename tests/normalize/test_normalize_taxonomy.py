"""The vocabulary tables and their loaders (normalize/taxonomy)."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from normalize import taxonomy as tx
from normalize.expressions import lookup_exact, match_keywords

# TAXONOMY.md section 2: the CTDL classes catalogs of short credentials use, and the degrees.
TAXONOMY_CREDENTIAL_CLASSES = [
    "MicroCredential", "Badge", "DigitalBadge", "OpenBadge", "Certificate", "CertificateOfCompletion",
    "CertificateOfParticipation", "ProfessionalCertificate", "ProficiencyCertificate", "Certification",
    "License", "AcademicCertificate", "ApprenticeshipCertificate", "QualityAssuranceCredential",
    "AssociateDegree", "BachelorDegree", "MasterDegree", "DoctoralDegree", "ResearchDoctorate",
    "ProfessionalDoctorate", "Diploma",
]  # fmt: skip


def test_isced_has_every_code_of_the_published_list():
    isced = tx.load_isced()
    counts = dict(isced.group_by("level").len().iter_rows())
    # The ELM list carries 00-10 and 99 "Field unknown" at each level.
    assert counts == {"broad": 12, "narrow": 58, "detailed": 150}
    broad = isced.filter(pl.col("level") == "broad")["code"].to_list()
    assert sorted(c for c in broad if c != "99") == [f"{i:02d}" for i in range(11)]


@pytest.mark.parametrize(
    ("code", "label", "parent"),
    [
        ("06", "Information and Communication Technologies (ICTs)", None),
        ("061", "Information and Communication Technologies (ICTs)", "06"),
        ("0613", "Software and applications development and analysis", "061"),
        ("0913", "Nursing and midwifery", "091"),
        ("0421", "Law", "042"),
        ("9999", "Field unknown", "999"),
    ],
)
def test_isced_codes_labels_and_parents(code, label, parent):
    row = tx.load_isced().filter(pl.col("code") == code).row(0, named=True)
    assert (row["label"], row["parent"]) == (label, parent)
    assert row["uri"] == f"http://data.europa.eu/snb/isced-f/{code}"


def test_isced_parents_exist():
    isced = tx.load_isced()
    codes = set(isced["code"])
    assert set(isced["parent"].drop_nulls()) <= codes


def test_eqf_levels_one_to_eight_with_uris():
    eqf = tx.load_eqf()
    assert eqf["level"].to_list() == list(range(1, 9))
    assert eqf["uri"].to_list() == [f"http://data.europa.eu/snb/eqf/{n}" for n in range(1, 9)]


def test_credential_types_cover_taxonomy_classes():
    types = tx.load_credential_types()
    assert set(TAXONOMY_CREDENTIAL_CLASSES) <= set(types["code"])
    kinds = dict(zip(types["code"], types["kind"], strict=True))
    assert all(kinds[c] == "credential" for c in TAXONOMY_CREDENTIAL_CLASSES)
    assert kinds["Course"] == kinds["LearningProgram"] == kinds["LearningOpportunityProfile"] == "learning_opportunity"
    assert kinds["AssessmentProfile"] == "assessment"


@pytest.mark.parametrize(
    ("code", "parent", "eqf"),
    [
        ("DigitalBadge", "Badge", None),
        ("OpenBadge", "Badge", None),
        ("AssociateDegree", "Degree", 5),
        ("BachelorOfScienceDegree", "BachelorDegree", 6),  # inherited from its parent
        ("MasterOfArtsDegree", "MasterDegree", 7),
        ("ResearchDoctorate", "DoctoralDegree", 8),
        ("ProfessionalCertificate", "Certificate", None),
        ("MicroCredential", "Credential", None),
    ],
)
def test_credential_type_tree_and_eqf(code, parent, eqf):
    row = tx.load_credential_types().filter(pl.col("code") == code).row(0, named=True)
    assert (row["parent"], row["eqf_level"]) == (parent, eqf)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("modalities", {"OnlineOnly", "InPerson", "BlendedDelivery"}),
        ("timings", {"self-paced", "scheduled"}),
        ("organization_kinds", {"university", "mooc_platform", "professional_association", "vendor",
                                "government_agency", "training_provider", "quality_assurance_body"}),
    ],
)
def test_small_vocabularies_are_exact(name, expected):
    assert set(tx.load_vocabulary(name)["code"]) == expected


@pytest.mark.parametrize(
    ("name", "some"),
    [
        ("audience_levels", {"BeginnerLevel", "IntermediateLevel", "AdvancedLevel", "ProfessionalLevel",
                             "UndergraduateLevel", "GraduateLevel"}),
        ("cost_types", {"Tuition", "AggregateCost", "StandaloneAssessment"}),
        ("credit_units", {"ClockHour", "ContinuingEducationUnit", "SemesterHour", "DegreeCredit", "ECTS"}),
    ],
)
def test_ctdl_schemes_hold_the_terms_taxonomy_names(name, some):
    assert some <= set(tx.load_vocabulary(name)["code"])


def test_fx_rates_are_dated():
    fx = tx.load_fx_rates()
    assert fx.rate_date.isoformat() == "2024-12-31"
    rates = dict(fx.rates.iter_rows())
    assert rates["USD"] == 1.0
    assert 0.8 < rates["EUR"] < 1.1


@pytest.mark.parametrize(
    "name",
    ["credential_type", "subject_isced", "audience_level", "modality", "timing", "cost_type",
     "credit_unit", "organization_kind", "language", "country", "boolean", "status", "price_model"],
)
def test_every_shipped_lookup_loads(name):
    lookup = tx.load_lookup(name)
    assert lookup.exact or lookup.keywords


def _credential_type(label: str) -> str | None:
    lookup = tx.load_lookup("credential_type")
    frame = pl.DataFrame({"v": [label]})
    out = frame.select(
        pl.coalesce(lookup_exact(pl.col("v"), lookup.exact),
                    match_keywords(pl.col("v"), lookup.keywords).list.first())
    )
    return out.item()


@pytest.mark.parametrize(
    ("label", "ctdl"),
    [
        ("Professional Certificate", "ProfessionalCertificate"),
        ("Specialization", "MicroCredential"),
        ("XSeries", "MicroCredential"),
        ("MicroMasters", "MicroCredential"),
        ("MicroMasters® Program", "MicroCredential"),
        ("Nanodegree", "MicroCredential"),
        ("MicroBachelors", "MicroCredential"),
        ("verified certificate", "CertificateOfCompletion"),
        ("Certification", "Certification"),
        ("ceterms:Certification", "Certification"),
        ("ceterms:ProfessionalCertificate", "ProfessionalCertificate"),
        ("Digital Badge", "DigitalBadge"),
        ("Open Badge", "OpenBadge"),
        ("Bachelor's degree", "BachelorDegree"),
        ("Master of Science", "MasterOfScienceDegree"),  # the CTDL subclass: most specific class
        ("ceterms:BachelorOfScienceDegree", "BachelorOfScienceDegree"),  # kept: parents come from the class tree
        ("PhD", "ResearchDoctorate"),
        ("Course", "Course"),
        ("EducationalOccupationalProgram", "LearningProgram"),
        ("Graduate Certificate in Nursing", "AcademicCertificate"),
    ],
)
def test_provider_labels_map_to_ctdl(label, ctdl):
    assert _credential_type(label) == ctdl


def test_isced_labels_are_exact_subject_keys():
    # Vocabulary labels are added as exact keys; the most detailed code of a label wins.
    exact = tx.load_lookup("subject_isced").exact
    assert exact["nursingandmidwifery"] == "0913"
    assert exact["law"] == "0421"


# --- malformed tables raise ---------------------------------------------------------------------


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(tx.DATA_DIR / name, target)
    return target


def test_isced_with_a_missing_code_raises(tmp_path):
    path = _copy(tmp_path, "isced_f.csv")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if not line.startswith("0613,")) + "\n")
    with pytest.raises(tx.TaxonomyError, match="ISCED-F 2013 has"):
        tx.load_isced(path)


def test_isced_with_a_wrong_parent_raises(tmp_path):
    path = _copy(tmp_path, "isced_f.csv")
    path.write_text(path.read_text().replace(",061,http://data.europa.eu/snb/isced-f/0613",
                                             ",062,http://data.europa.eu/snb/isced-f/0613"))
    with pytest.raises(tx.TaxonomyError, match="0613 needs parent '061'"):
        tx.load_isced(path)


def test_missing_column_raises(tmp_path):
    path = tmp_path / "eqf.csv"
    path.write_text("level,label\n1,Level 1\n")
    with pytest.raises(tx.TaxonomyError, match="missing column"):
        tx.load_eqf(path)


def test_bad_cell_names_file_and_line(tmp_path):
    path = _copy(tmp_path, "eqf_levels.csv")
    path.write_text(path.read_text().replace("\n3,Level 3,", "\n9,Level 3,"))
    with pytest.raises(tx.TaxonomyError, match=r"eqf_levels.csv line 4: level"):
        tx.load_eqf(path)


def test_unknown_credential_parent_raises(tmp_path):
    path = _copy(tmp_path, "credential_types.csv")
    path.write_text(path.read_text().replace("DigitalBadge,Digital Badge,Badge,", "DigitalBadge,Digital Badge,Bdge,"))
    with pytest.raises(tx.TaxonomyError, match="unknown parent 'Bdge'"):
        tx.load_credential_types(path)


def test_lookup_value_outside_its_vocabulary_raises(tmp_path):
    path = tmp_path / "lookup_credential_type.csv"
    path.write_text("key,value,match,note\nnano degree,NanoDegreeClass,word,\n")
    with pytest.raises(tx.TaxonomyError, match="'NanoDegreeClass' is not a CTDL class"):
        tx.load_lookup("credential_type", path)


def test_lookup_key_with_two_values_raises(tmp_path):
    path = tmp_path / "lookup_audience_level.csv"
    path.write_text("key,value,match,note\nbeginner,BeginnerLevel,word,\nBeginner,AdvancedLevel,exact,\n")
    with pytest.raises(tx.TaxonomyError, match="maps to"):
        tx.load_lookup("audience_level", path)


def test_lookup_with_unquoted_comma_raises(tmp_path):
    path = tmp_path / "lookup_timing.csv"
    path.write_text("key,value,match,note\nself paced,self-paced,word,a note, with a comma\n")
    with pytest.raises(tx.TaxonomyError, match="too many cells"):
        tx.load_lookup("timing", path)


def test_language_lookup_needs_canonical_tags(tmp_path):
    path = tmp_path / "lookup_language.csv"
    path.write_text("key,value,match,note\nEnglish,english,exact,\n")
    with pytest.raises(tx.TaxonomyError, match="BCP 47"):
        tx.load_lookup("language", path)


def test_unknown_lookup_name_raises():
    with pytest.raises(tx.TaxonomyError, match="unknown lookup"):
        tx.load_lookup("colours")


def test_fx_table_with_two_dates_raises(tmp_path):
    path = tmp_path / "fx.csv"
    path.write_text("rate_date,currency,units_per_usd,source\n2024-12-31,USD,1,x\n2025-01-31,EUR,0.9,x\n")
    with pytest.raises(tx.TaxonomyError, match="one rate_date"):
        tx.load_fx_rates(path)


def test_fx_table_without_usd_raises(tmp_path):
    path = tmp_path / "fx.csv"
    path.write_text("rate_date,currency,units_per_usd,source\n2024-12-31,EUR,0.96,x\n")
    with pytest.raises(tx.TaxonomyError, match="USD"):
        tx.load_fx_rates(path)


def test_currency_symbol_to_unknown_code_raises(tmp_path):
    path = tmp_path / "cur.csv"
    path.write_text("key,value,country,note\n$,USX,,\n")
    with pytest.raises(tx.TaxonomyError, match="ISO 4217"):
        tx.load_currency_symbols(path)


def test_bad_test_marker_regex_raises(tmp_path):
    path = tmp_path / "markers.csv"
    path.write_text("field,pattern,note\ntitle,^(test,broken\n")
    with pytest.raises(tx.TaxonomyError, match="bad regex"):
        tx.load_test_markers(path)


def test_missing_table_raises(tmp_path):
    with pytest.raises(tx.TaxonomyError, match="not found"):
        tx.load_isced(tmp_path / "nope.csv")
