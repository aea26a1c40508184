"""Tolerant JSON-LD reading (scrapers.base.jsonld) and labelled facts (scrapers.base.html_fields)."""

from __future__ import annotations

import pytest
from parsel import Selector

from scrapers.base.html_fields import fields_from_facts, label_values
from scrapers.base.jsonld import (
    decode_jsonld,
    index_by_id,
    jsonld_blocks,
    path_values,
    pick_language,
    resolve,
    text_of,
    texts_of,
    top_nodes,
)


@pytest.mark.parametrize(
    ("text", "status", "data"),
    [
        ('{"name": "A"}', "ok", {"name": "A"}),
        ('{"name": "line\nbreak"}', "ok", {"name": "line\nbreak"}),  # raw control character in a string
        ('{"a": [1, 2,], "b": {"c": 1,},}', "repaired", {"a": [1, 2], "b": {"c": 1}}),
        ('{\n // theme\n "a": 1 /* note */\n}', "repaired", {"a": 1}),
        ('<!--\n{"a": "x, y"}\n-->', "repaired", {"a": "x, y"}),
        ('//<![CDATA[\n{"a": 1}\n//]]>', "repaired", {"a": 1}),
        ('{"a": 1}\x0b', "repaired", {"a": 1}),
        ('{&quot;a&quot;: &quot;b&quot;}', "repaired", {"a": "b"}),
        ('{"a": 1}\n{"b": 2}', "repaired", [{"a": 1}, {"b": 2}]),
        ('{"a": 1},{"b": 2};', "repaired", [{"a": 1}, {"b": 2}]),
        ('\ufeff{"a": 1}', "ok", {"a": 1}),  # a byte order mark is no breakage
        ('\n \ufeff{"a": "\ufeffb"}', "ok", {"a": "\ufeffb"}),  # one inside a string stays
        ('\ufeff{"a": [1,],}', "repaired", {"a": [1]}),
        ('\ufeff/* x */{"a": 1}\ufeff{"b": 2}', "repaired", [{"a": 1}, {"b": 2}]),
        ('{"a": "say "hi""}', "invalid", None),
        ("", "invalid", None),
    ],
)
def test_decode_repairs_what_is_unambiguous(text, status, data):
    got, got_status, error = decode_jsonld(text)
    assert (got_status, got) == (status, data)
    assert (error is None) == (status == "ok")


def test_one_broken_block_does_not_lose_the_others():
    html = ('<script type="application/ld+json">{"@type": "Organization", "name": "A"}</script>'
            '<script type="application/ld+json">{"name": "B",, }</script>'
            '<script type="Application/LD+JSON">{"@type": "Course", "name": "C",}</script>')
    blocks = jsonld_blocks(html)
    assert [b.status for b in blocks] == ["ok", "invalid", "repaired"]
    assert [b.data["name"] for b in blocks if b.data] == ["A", "C"]


def test_graph_is_flattened_and_references_resolve_without_cycles():
    doc = {"@context": "https://schema.org", "@graph": [
        {"@id": "#org", "@type": "Organization", "name": "Org", "owns": {"@id": "#p"}},
        {"@id": "#p", "@type": "EducationalOccupationalProgram", "provider": {"@id": "#org"}, "hasCourse": ["#c"]},
        {"@id": "#c", "@type": "Course", "name": "C"},
    ]}
    nodes = top_nodes(doc)
    assert [n["@id"] for n in nodes] == ["#org", "#p", "#c"]
    program = resolve(nodes[1], index_by_id(nodes))
    assert program["provider"]["name"] == "Org"
    assert program["provider"]["owns"] == {"@id": "#p"}  # the cycle back to the program stops
    assert program["hasCourse"][0]["name"] == "C"  # CTDL-style bare URI references resolve too


def test_paths_fan_out_through_lists():
    node = {"offers": [{"price": 1}, {"priceSpecification": {"price": "2"}}, {"price": None}]}
    assert path_values(node, "offers.price") == [1]
    assert path_values(node, "offers.priceSpecification.price") == ["2"]
    assert path_values(node, "missing.path") == []


@pytest.mark.parametrize(
    ("value", "picked"),
    [
        ({"en-US": "Nursing", "es": "Enfermería"}, "Nursing"),
        ({"es": "Enfermería", "en-GB": "Nursing"}, "Nursing"),
        ({"de": "Pflege", "fr": "Soins"}, "Pflege"),
        ({"@value": "x", "@language": "en"}, "x"),
        ({"x-default": "Course"}, "Course"),  # hreflang's default: no title lost
        ({"de": "Kurs", "x-default": "Course", "fr": "Cours"}, "Course"),  # neutral before another language
        ({"@none": "Course", "de": "Kurs"}, "Course"),  # JSON-LD 1.1's no-language entry
        ({"de": "Kurs", "en-AU": "Course"}, "Course"),
        ([{"@value": "Kurs", "@language": "de"}, {"@value": "Course", "@language": "en"}], "Course"),
        ([{"@value": "Kurs", "@language": "de"}, {"@value": "Cours", "@language": "fr"}], "Kurs"),
        ([{"@value": "a", "@language": "en-US"}, {"@value": "x", "@language": "de"}, {"@value": "b", "@language": "EN_us"}],
         ["a", "b"]),
        ([{"@value": "Kurs", "@language": "de"}, {"@value": "Course"}], "Course"),  # untagged: language-neutral
        (["a", {"@value": "b", "@language": "en"}], ["a", {"@value": "b", "@language": "en"}]),  # not all values
        ({"name": "n", "value": "v", "url": "u"}, {"name": "n", "value": "v", "url": "u"}),  # node keys are no tags
        ({"@type": "Thing", "name": "n"}, {"@type": "Thing", "name": "n"}),
        ("plain", "plain"),
    ],
)
def test_language_maps(value, picked):
    assert pick_language(value) == picked


def test_text_readings_of_nodes_and_lists():
    assert text_of({"ceterms:targetNodeName": {"en-US": "Active"}}) == "Active"
    assert text_of(["en", "fr"]) == "en, fr"
    assert text_of(4125) == "4125" and text_of(True) == "true" and text_of("  ") is None
    assert texts_of([{"en-US": ["a", "b"]}, {"name": "c"}, None]) == ["a", "b", "c"]


def test_values_in_several_languages_read_as_one_language():
    kurs = [{"@value": "Kurs", "@language": "de"}, {"@value": "Course", "@language": "en"}]
    assert text_of(kurs) == "Course"  # not "Kurs, Course"
    assert text_of({"name": kurs}) == "Course"
    assert text_of({"x-default": "Kurs"}) == "Kurs"
    assert texts_of([{"@value": "Mathe", "@language": "de"}, {"@value": "Maths", "@language": "en"},
                     {"@value": "Physics", "@language": "en"}]) == ["Maths", "Physics"]
    # along a path, each node's own choice: two providers named in different languages both count
    node = {"provider": [{"name": kurs}, {"name": [{"@value": "Uni Beispiel", "@language": "de"}]}]}
    assert path_values(node, "provider.name") == ["Course", "Uni Beispiel"]
    assert text_of(path_values(node, "provider.name")) == "Course, Uni Beispiel"


def test_label_values_read_dl_tables_and_bold_lines():
    html = """<div id="facts">
      <dl><dt>Exam fee</dt><dd>$395 (members $295)</dd><dt>Domains covered</dt><dd><ul><li>Data quality</li><li>Data governance</li></ul></dd></dl>
      <table><tr><th>Delivery</th><td>Online proctored</td></tr><tr><td>a</td><td>b</td><td>c</td></tr></table>
      <p><strong>Eligibility:</strong> Two years of experience</p>
      <p><b>Language</b>: English</p>
      <p><strong>Emphasis</strong> is not a label.</p>
      <dl><dt>Exam fee</dt><dd>second one loses</dd></dl>
    </div>"""
    facts = label_values(Selector(text=html), "#facts")
    assert list(facts) == ["exam fee", "domains covered", "delivery", "eligibility", "language"]  # 3-cell rows are no facts
    assert facts["exam fee"].text == "$395 (members $295)"
    assert facts["domains covered"].items == ["Data quality", "Data governance"]
    fields = fields_from_facts(facts, {"exam fee": "prices", "domains covered": "skills", "delivery": "modality_raw",
                                       "eligibility": "prerequisites_raw", "language": "language_raw"})
    assert fields == {"prices": [{"text": "$395 (members $295)", "label": "Exam fee"}],
                      "skills": ["Data quality", "Data governance"], "modality_raw": "Online proctored",
                      "prerequisites_raw": "Two years of experience", "language_raw": "English"}
