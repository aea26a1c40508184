"""Acceptance: a file of a layout credcat has never seen is read end to end from one registry
entry (location + field_map + options), with no Python: the generic ``file_drop`` spider is
crawled through ``scrapers.run.crawl`` (the production subprocess) and what lands is
normalized with ``normalize.transforms``.

The files are written here, into tmp_path, in layouts no source of the project uses: a
semicolon-separated cp1252 CSV with German headers and a nested JSON export.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from normalize.transforms import normalize, read_landing
from scrapers.registry import load_sources
from scrapers.run import crawl

CSV = (
    "Kurs-Nr;Bezeichnung;Anbieter;Niveau;Aufwand;Dauer;Gebühr;Sprache;Themen\r\n"
    "WB-101;Grundlagen Datenschutz;Hochschule Köln;Einsteiger;4 hours per week;6 weeks;450 EUR;Deutsch;Recht|Datenschutz\r\n"
    "WB-102;Projektmanagement kompakt;Hochschule Köln;Fortgeschritten;30 hours;3 months;;English;Management\r\n"
    "WB-102;Projektmanagement kompakt;Hochschule Köln;Fortgeschritten;30 hours;3 months;;English;Management\r\n"
    "WB-103;;Hochschule Köln;;;;;;\r\n"
)
JSON = {
    "meta": {"exported": "2026-11-01", "publisher": "Nordic Skills Network"},
    "data": {"programmes": [
        {"ref": {"code": "NSN-7"}, "label": {"en": "Applied Welding Inspection"},
         "issuer": {"name": "Nordic Welding Society"}, "award": "Professional Certification",
         "effort": {"total": "120 hours"}, "fee": [{"amount": 1200, "currency": "NOK"}],
         "tags": ["welding", "inspection"], "lang": "Norwegian"},
        {"ref": {"code": "NSN-8"}, "label": {"en": "Digital Badge: Safe Lifting"},
         "issuer": {"name": "Nordic Skills Network"}, "award": "Digital badge",
         "effort": {"total": "PT6H"}, "fee": [], "tags": [], "lang": "English"},
    ]},
}
REGISTRY = """
[sources.hk_weiterbildung]
spider = "file_drop"
kind = "file_drop"
format = "Semicolon CSV, cp1252, German headers (values in English units)"
provider_kind = "university"
platform = "Hochschule Köln Weiterbildung"
location = ["drops/weiterbildung.csv"]
field_map = { title = "Bezeichnung", awarding_body = "Anbieter", level_raw = "Niveau", workload_raw = "Aufwand", duration_raw = "Dauer", prices = "Gebühr", language_raw = "Sprache", subjects = "Themen" }
options = { delimiter = ";", encoding = "cp1252", key_column = "Kurs-Nr", list_separator = "|" }

[sources.nsn_programmes]
spider = "file_drop"
kind = "file_drop"
format = "Nested JSON export"
provider_kind = "professional_association"
platform = "Nordic Skills Network"
location = ["drops/programmes.json"]
field_map = { title = "label.en", awarding_body = "issuer.name", credential_type_raw = "award", workload_raw = "effort.total", skills = "tags", language_raw = "lang" }
options = { records_path = "data.programmes", key_column = "ref.code" }
"""


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    root = tmp_path_factory.mktemp("new_layout")
    (root / "drops").mkdir()
    (root / "drops" / "weiterbildung.csv").write_bytes(CSV.encode("cp1252"))
    (root / "drops" / "programmes.json").write_text(json.dumps(JSON), encoding="utf-8")
    registry = root / "sources.toml"
    registry.write_text(REGISTRY, encoding="utf-8")
    sources = load_sources(registry)
    out = {}
    for name, source in sources.items():
        stats = crawl(source, "accept", root / "landing", registry=registry, timeout=300)
        raw, invalid = read_landing([root / "landing" / name / "accept"])
        result = normalize(raw.lazy(), provider_kinds={n: s.provider_kind for n, s in sources.items()})
        out[name] = (stats, raw, invalid, result)
    return out


def row(df: pl.DataFrame, key: str) -> dict:
    found = df.filter(pl.col("source_key") == key)
    assert found.height == 1, key
    return found.row(0, named=True)


def test_the_csv_of_a_new_layout_is_read_and_normalized(landed):
    stats, raw, invalid, result = landed["hk_weiterbildung"]
    assert stats["complete"] and stats["items"] == 4 and invalid.height == 0
    # Every row lands; the repeated row and the row without a title become rejects.
    assert raw.height == result.offerings.height + result.rejects.height == 4
    assert sorted(result.rejects["reason"]) == ["duplicate_source_key", "missing_title"]
    first = row(raw, "WB-101")
    assert (first["title"], first["awarding_body"], first["subjects"]) == (
        "Grundlagen Datenschutz", "Hochschule Köln", ["Recht", "Datenschutz"])
    off = row(result.offerings, "WB-101")
    assert (off["price_amount"], off["price_currency"], off["provider_kind"]) == (450.0, "EUR", "university")
    assert (off["duration_weeks_max"], off["workload_hours_max"], off["language"]) == (6.0, 24.0, "de")
    assert off["platform"] == "Hochschule Köln Weiterbildung"
    off = row(result.offerings, "WB-102")
    assert (off["workload_hours_max"], off["language"]) == (30.0, "en")


def test_the_json_of_a_new_layout_is_read_and_normalized(landed):
    stats, raw, invalid, result = landed["nsn_programmes"]
    assert stats["complete"] and stats["items"] == 2 and invalid.height == 0
    assert result.offerings.height == 2 and result.rejects.height == 0
    off = row(result.offerings, "NSN-7")
    assert (off["title"], off["awarding_body"], off["credential_type"]) == (
        "Applied Welding Inspection", "Nordic Welding Society", "Certification")
    assert (off["workload_hours_max"], off["skills_raw"], off["language"]) == (120.0, ["welding", "inspection"], "no")
    off = row(result.offerings, "NSN-8")
    assert (off["credential_type"], off["workload_hours_max"], off["provider_kind"]) == (
        "DigitalBadge", 6.0, "professional_association")
