"""The taxonomy evaluation's scoring rules, on labels and predictions written here."""

from __future__ import annotations

import json

import pytest

from normalize.taxonomy.evaluate import Label, LabelError, evaluate, load_labels, report, verdicts


def _label(key: str, **labels: object) -> Label:
    return Label("s", "f.csv", key, dict(labels))


def test_type_decision_counts_non_credentials_and_unnamed_credentials() -> None:
    labels = [
        _label("a", record_kind="credential", credential_type="ProfessionalCertificate"),
        _label("b", record_kind="learning_opportunity", credential_type=None),
        _label("c", record_kind="credential", credential_type="Certification"),
        _label("d", record_kind="credential", credential_type="MicroCredential"),
    ]
    preds = {
        ("s", "a"): {"record_kind": "credential", "credential_type": "ProfessionalCertificate"},
        ("s", "b"): {"record_kind": "learning_opportunity", "credential_type": None},
        # a credential credcat could not name: not given
        ("s", "c"): {"record_kind": "credential", "credential_type": None},
        ("s", "d"): {"record_kind": "credential", "credential_type": "Certificate"},
    }
    s = evaluate(labels, preds)["overall"]["credential_type"]
    assert (s.labelled, s.given, s.right) == (4, 3, 2)
    assert s.coverage == 0.75 and s.accuracy == pytest.approx(2 / 3)


def test_isced_broad_and_detailed() -> None:
    labels = [_label("a", isced=["0613"]), _label("b", isced=["041"]), _label("c", isced=["0588", "0613"])]
    preds = {
        ("s", "a"): {"isced_codes": ["0612"]},  # broad right, detailed wrong
        ("s", "b"): {"isced_codes": ["0413"]},
        ("s", "c"): {"isced_codes": ["06", "0613"]},  # first 4-digit code counts
    }
    overall = evaluate(labels, preds)["overall"]
    assert (overall["isced_broad"].given, overall["isced_broad"].right) == (3, 3)
    detailed = overall["isced_detailed"]
    assert (detailed.labelled, detailed.given, detailed.right) == (2, 2, 1)


def test_ranges_within_ten_percent_and_missing_records() -> None:
    labels = [
        _label("a", workload_hours_min=12, workload_hours_max=20),
        _label("b", duration_weeks_min=13.04, duration_weeks_max=26.09),
        _label("c", workload_hours_min=40),
        _label("gone", workload_hours_min=5, workload_hours_max=5),
    ]
    preds = {
        ("s", "a"): {"workload_hours_min": 12.5, "workload_hours_max": 21.9},
        ("s", "b"): {"duration_weeks_min": 13.0, "duration_weeks_max": 30.0},
        ("s", "c"): {"workload_hours_min": 40.0, "workload_hours_max": 40.0},
    }
    result = evaluate(labels, preds)
    w = result["overall"]["workload_hours"]
    assert (w.labelled, w.given, w.right) == (3, 2, 2)  # the missing record is not given
    d = result["overall"]["duration_weeks"]
    assert (d.given, d.right) == (1, 0)
    assert result["missing"] == [("s", "gone")]


def test_price_exact_and_skills_precision() -> None:
    labels = [
        _label("a", price_amount=49, price_currency="USD"),
        _label("b", price_amount=49, price_currency="USD"),
        _label("c", skills_listed=True, skills=["u1", "u2"]),
        _label("d", skills_listed=True, skills=[]),
    ]
    preds = {
        ("s", "a"): {"price_amount": 49.0, "price_currency": "USD"},
        ("s", "b"): {"price_amount": 49.0, "price_currency": "EUR"},
        ("s", "c"): {"skills": ["u1", "u3"]},
        ("s", "d"): {"skills": []},
    }
    overall = evaluate(labels, preds)["overall"]
    assert (overall["price"].given, overall["price"].right) == (2, 1)
    sk = overall["skills"]
    assert sk.coverage == 0.5 and sk.accuracy == 0.5 and sk.label_items == 2


def test_verdicts_and_report() -> None:
    labels = [_label(str(i), record_kind="credential", credential_type="Certification") for i in range(20)]
    preds = {("s", str(i)): {"record_kind": "credential", "credential_type": "Certification"} for i in range(19)}
    result = evaluate(labels, preds)
    assert verdicts(result["overall"]) == {"credential_type coverage >= 0.95": True,
                                           "credential_type accuracy >= 0.95": True}
    lines: list[str] = []
    assert report(result, out=lines.append, details=True)
    assert any("not landed as offerings: 1" in line for line in lines)


def test_load_labels_merges_files_and_rejects_clashes(tmp_path) -> None:
    (tmp_path / "s.jsonl").write_text(
        json.dumps({"_sample": "all"}) + "\n"
        + json.dumps({"source": "s", "file": "f", "key": "k", "labels": {"language": "en"}}) + "\n")
    (tmp_path / "s.skills.jsonl").write_text(
        json.dumps({"source": "s", "file": "f", "key": "k", "labels": {"skills_listed": True, "skills": []}}) + "\n")
    [label] = load_labels(tmp_path)
    assert label.labels == {"language": "en", "skills_listed": True, "skills": []}
    (tmp_path / "t.jsonl").write_text(json.dumps({"source": "s", "file": "f", "key": "k", "labels": {"language": "fr"}}))
    with pytest.raises(LabelError, match="labelled twice"):
        load_labels(tmp_path)
    (tmp_path / "t.jsonl").write_text("{not json")
    with pytest.raises(LabelError, match="not JSON"):
        load_labels(tmp_path)
