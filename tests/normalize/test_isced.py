"""ISCED-F mapping: evidence kinds, their order and confidence, and the CIP crosswalk."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from normalize import taxonomy as tx
from normalize.expressions import keyword_pattern
from normalize.taxonomy import cip
from normalize.transforms import ISCED_CONFIDENCE, _subject_rows
from tests.normalize.normalize_factory import notes_for, one

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"
C = ISCED_CONFIDENCE


def mapped(subjects: list[str] | None = None, codes: list[str] | None = None,
           title: str = "Introduction") -> list[tuple[str, float]]:
    """(code, confidence) pairs of one record, in order."""
    lf = pl.LazyFrame({"_row": [0], "subjects": [subjects or []], "subject_codes": [codes or []],
                       "_title": [title]}, schema={"_row": pl.UInt32, "subjects": pl.List(pl.String),
                                                    "subject_codes": pl.List(pl.String), "_title": pl.String})
    out = _subject_rows(lf).collect()
    if out.height == 0 or out["isced_codes"][0] is None:
        return []
    return list(zip(out["isced_codes"][0], out["isced_confidence"][0], strict=True))


def both(a: float, b: float) -> float:
    return round(1 - (1 - a) * (1 - b), 3)


# --- order and confidence -----------------------------------------------------------------------


def test_a_given_code_comes_first_with_full_confidence():
    assert mapped(["Computer Science"], codes=["0413"]) == [("0413", 1.0), ("0613", C["subject"])]


def test_title_and_category_that_agree_strengthen_each_other():
    assert mapped(["Computer Science"], title="Python for Everybody") == [
        ("0613", both(C["title"], C["subject"]))]


def test_a_title_refines_the_category_it_falls_under():
    # "Business & Management" is a shelf (041); the title names the detail.
    assert mapped(["Business & Management"], title="Global Marketing Strategy") == [
        ("0414", both(C["title"], C["subject"]))]


def test_a_title_that_disagrees_with_the_shelf_leads_and_the_shelf_follows():
    assert mapped(["Medicine"], title="Principles of Biochemistry") == [
        ("0512", C["title"]), ("0912", C["subject"])]


def test_codes_of_equal_confidence_keep_the_sources_order():
    assert [c for c, _ in mapped(["Economics & Finance"])] == ["0311", "0412"]
    assert [c for c, _ in mapped(title="Python for Finance")] == ["0613", "0412"]
    assert [c for c, _ in mapped(title="Financial Management in Construction")] == ["0412", "0732"]


def test_a_whole_category_name_beats_a_keyword_inside_a_longer_name():
    assert mapped(["Leadership and Management"]) == [("0413", C["subject_keyword"])]
    assert mapped(["Marketing"]) == [("0414", C["subject"])]


@pytest.mark.parametrize(
    ("subjects", "code"),
    [
        (["Healthcare & Medicine"], "091"),  # a shelf naming a field and its sub-field
        (["IT & Computer Science"], "061"),
        (["Biology & Life Sciences"], "051"),
        (["Business Finance"], "041"),
    ],
)
def test_a_category_naming_a_field_and_a_sub_field_is_the_broader_field(subjects, code):
    assert [c for c, _ in mapped(subjects)] == [code]


def test_across_evidence_the_most_detailed_code_wins_and_takes_the_support():
    assert mapped(["Science", "Physics"]) == [("0533", C["subject"])]
    assert mapped(["Information Technology"], title="Cloud Fundamentals") == [
        ("0612", both(C["title"], C["subject"]))]


# --- title words ----------------------------------------------------------------------------------


def test_an_ambiguous_title_word_counts_only_under_a_field_the_categories_fixed():
    assert mapped(title="Upper-Intermediate English: Modern Life") == []
    assert mapped(["Language"], title="Upper-Intermediate English: Modern Life") == [
        ("0231", both(C["subject"], C["title_word"]))]
    # "Spanish" is no language course under History: the word does not fall under 0222.
    assert mapped(["History"], title="The Spanish Civil War") == [
        ("0222", both(C["title"], C["subject"]))]


def test_a_title_word_adds_nothing_where_stronger_evidence_already_refined_the_field():
    # 'trading' (trusted) refines 041; 'strategy' (a word only) would add noise.
    assert [c for c, _ in mapped(["Business Finance"], title="Options Trading Strategy")] == ["0412"]


@pytest.mark.parametrize(
    ("title", "codes"),
    [
        ("Software Construction: Object-Oriented Design", ["0613"]),  # not 0732 construction
        ("Flux Architecture for Web Applications", ["0613"]),  # not 0731 architecture
        ("Data Mining Essentials", ["0542"]),  # not 0724 mining
        ("Microsoft Teams for Everyone", []),  # a vendor says nothing of a field
        ("CompTIA Security+ Exam Prep", ["0612"]),
        ("The Art of Negotiation", []),  # 'art' is not trusted in titles
    ],
)
def test_title_keyword_traps(title, codes):
    assert [c for c, _ in mapped(title=title)] == codes


def test_vendor_names_are_not_keywords():
    lookup = tx.load_lookup("subject_isced")
    for vendor in ("microsoft", "google", "ibm", "amazon", "comptia", "meta", "oracle"):
        assert keyword_pattern(vendor) not in lookup.keywords
        assert vendor not in lookup.exact


@pytest.mark.parametrize(
    ("subject", "code"),
    [
        ("Computer & Information Science (CIS)", "061"),  # not 0322 information science
        ("Computer and Information Sciences", "061"),
        ("Information Science", "0322"),
        ("Musical Instruments", "0215"),
        ("Data Management", "0612"),  # not 0413 management
        ("Animal Health", "0841"),  # not 091 health
        ("Culinary Arts", "1013"),  # not 021 arts
    ],
)
def test_frequent_catalog_categories(subject, code):
    assert [c for c, _ in mapped([subject])] == [code]


# --- CIP codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"codes": ["11.0701"]}, [("0613", C["cip_family"])]),
        ({"codes": ["CIP 2020: 51.3801"]}, [("0913", C["cip_family"])]),
        ({"codes": ["11.07"]}, [("0613", C["cip_family"])]),
        ({"codes": ["CIP 52"]}, [("041", C["cip_series"])]),  # series rule
        ({"codes": ["26.0601"]}, [("051", C["cip_series"])]),  # family not in CIP 2020: its series
        ({"codes": ["45.0101"]}, [("031", C["cip_series"])]),  # family decided by its series' rule
        ({"subjects": ["CIP Code: 52.0201"]}, [("0413", C["cip_family"])]),
        ({"subjects": ["11.0701 Computer Science"]}, [("0613", both(C["cip_family"], C["subject"]))]),
        ({"codes": ["24.0101"]}, []),  # liberal arts: no single field
        ({"codes": ["11"]}, []),  # a bare two-digit code could be ISCED-F: not read as CIP
    ],
)
def test_cip_codes_through_the_crosswalk(fields, expected):
    assert mapped(**fields) == expected


def test_cip_codes_stay_as_given_and_unknown_codes_are_noted():
    offering = one(subject_codes=["11.0701", "24.0101", "ZZ-9"], subjects=["CIP Code: 52.0201"])
    assert offering["isced_codes"] == ["0613", "0413"]
    assert offering["subject_codes_raw"] == ["11.0701", "24.0101", "ZZ-9"]
    assert notes_for(offering, "isced_codes") == ["isced_codes: unrecognised code 'ZZ-9'"]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_crosswalk_loads_and_every_code_is_isced():
    cw = cip.load_cip_isced()
    assert set(cw["isced"].drop_nulls()) <= tx.codes("isced")
    assert cw.filter(pl.col("cip") == "11.07")["isced"].item() == "0613"
    assert cw.filter(pl.col("cip") == "45.01")["rule"].item() == "45"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["11.07", "Computer Science", "0699", "11.07"]], "not an ISCED-F code"),
        ([["11.7", "Computer Science", "0613", "11"]], "not a CIP series"),
        ([["11.07", "Computer Science", "0613", "12"]], "not a prefix"),
        ([["11.07", "Computer Science", "0613", "11.07"], ["11.07", "Again", "0613", "11.07"]], "duplicate"),
    ],
)
def test_a_malformed_crosswalk_raises(tmp_path, rows, message):
    path = _write(tmp_path / "cip_isced.csv", ["cip", "title", "isced", "rule"], rows)
    with pytest.raises(tx.TaxonomyError, match=message):
        cip.load_cip_isced(path)


def test_a_rule_with_a_wrong_isced_code_raises(tmp_path):
    path = _write(tmp_path / "rules.csv", ["cip", "isced", "note"], [["11", "0699", ""]])
    with pytest.raises(tx.TaxonomyError, match="rules.csv line 2"):
        cip.load_rules(path)


def _rules(**by_cip: str) -> dict[str, cip.CipRuleRow]:
    return {k.replace("_", "."): cip.CipRuleRow(cip=k.replace("_", "."), isced=v) for k, v in by_cip.items()}


def test_generation_resolves_families_by_the_most_specific_rule():
    titles = {"11": "COMPUTING", "11.07": "Computer Science", "11.99": "Other", "21": "RESERVED"}
    rows = cip.crosswalk_rows(titles, _rules(**{"11": "061", "11_07": "0613"}))
    assert rows == [
        {"cip": "11", "title": "COMPUTING", "isced": "061", "rule": "11"},
        {"cip": "11.07", "title": "Computer Science", "isced": "0613", "rule": "11.07"},
        {"cip": "11.99", "title": "Other", "isced": "061", "rule": "11"},
    ]


def test_generation_refuses_unknown_codes_and_series_without_a_rule():
    titles = {"11": "COMPUTING", "11.07": "Computer Science", "13": "EDUCATION"}
    with pytest.raises(tx.TaxonomyError, match="no rule for CIP series 13"):
        cip.crosswalk_rows(titles, _rules(**{"11": "061"}))
    with pytest.raises(tx.TaxonomyError, match=r"CIP 2020 has no \['11.08'\]"):
        cip.crosswalk_rows(titles, _rules(**{"11": "061", "13": "011", "11_08": "0612"}))


def test_the_committed_crosswalk_is_what_the_rules_generate():
    if not (REFERENCE / "cip" / "CIPCode2020.csv").is_file():
        pytest.skip(f"CIP 2020 reference absent at {REFERENCE}")
    expected = cip.crosswalk_rows(cip._cip_titles(REFERENCE), cip.load_rules())
    with (tx.DATA_DIR / cip.CROSSWALK_FILE).open(newline="", encoding="utf-8") as fh:
        committed = list(csv.DictReader(fh))
    assert committed == expected, "run: python -m normalize.taxonomy.cip --reference ../shared/reference"
