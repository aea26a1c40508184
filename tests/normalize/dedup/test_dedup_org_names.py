"""How listings name their provider: handles ('StoneridgeX'), short forms ('Copperview' for
'Copperview School of Business'), initials in title prefixes ('ESI: ...').

prepare.handle_stems / short_forms / provider_names / title_strings, and that resolve links
listings that only differ in those ways while keeping apart what they do not explain.
"""

from __future__ import annotations

import polars as pl
from dedup_fixtures import offerings

from normalize.dedup import default_settings, prepare, resolve
from normalize.schema import offering_id

RULES = default_settings().text


def _keys(*keys: str) -> pl.Series:
    return pl.Series("key", list(keys), dtype=pl.String)


def test_handle_stems_need_a_stem_the_corpus_knows() -> None:
    keys = _keys(
        "stoneridgex", "stoneridge institute of technology",  # first word of a longer name
        "hazelworthx", "university of hazelworth",  # last word of a longer name
        "oakdalex", "oakdale",  # a one-word name
        "fedex",  # nothing is called 'fede'
        "abx", "ab",  # a stem under 3 characters is no name
        None,
    )
    assert prepare.handle_stems(keys, ("x",)) == {
        "stoneridgex": "stoneridge", "hazelworthx": "hazelworth", "oakdalex": "oakdale",
    }
    assert prepare.handle_stems(keys, ()) == {}


def test_short_forms_begin_or_end_a_longer_name() -> None:
    keys = _keys(
        "copperview", "copperview school of business",
        "ambermere", "university of ambermere",
        "state", "wolfridge state university",  # a middle word
        "ai", "ai institute",  # too short
        "stoneridge skills institute", "stoneridge institute of technology",  # no one-word key
    )
    assert prepare.short_forms(keys).rows() == [
        ("ambermere", "university of ambermere"),
        ("copperview", "copperview school of business"),
    ]


def _names(raw: list[str]) -> set[tuple[str, str]]:
    orgs, _ = prepare.organizations(pl.Series(raw, dtype=pl.String), RULES)
    return set(prepare.provider_names(orgs, RULES).iter_rows())


def test_provider_names_are_keys_initials_and_end_words() -> None:
    names = _names([
        "Eastridge Skills Institute", "Copperton", "Copperton Online School", "Hawkstead Data Inc.",
        "University of Ambermere", "University of Hazelworth", "Redhaven University", "Kestrel Polytechnic",
    ])
    assert {
        ("eastridge skills institute", "esi"),
        ("eastridge skills institute", "eastridgeskillsinstitute"),
        ("eastridge skills institute", "eastridge"),
        ("hawkstead data", "hd"),
        ("hawkstead data", "hdi"),  # initials of the raw name, legal suffix included
        ("university of ambermere", "uoa"),
        ("university of ambermere", "ua"),  # without the stopword
        ("university of ambermere", "ambermere"),
        ("copperton", "cos"),  # initials of a longer name the short form begins
        ("kestrel polytechnic", "kestrel"),
    } <= names
    # 'university' is in 3 of the 8 names: a common word names no one in particular.
    assert ("university of ambermere", "university") not in names
    assert ("redhaven university", "university") not in names
    # One-letter initials are no name.
    assert not any(org == "copperton" and name == "c" for org, name in names)


def test_title_strings_cut_only_the_own_providers_prefix_and_suffix() -> None:
    rows = [
        ("AI: Foundations", "Acme Institute", None),
        ("AI: Foundations", "Northfield University", None),
        ("ESI: Applied Entrepreneurship: Automation (Online)", "Eastridge Skills Institute", None),
        ("Contract Law - Goldstead", "Goldstead Institute of Technology", None),
        ("Contract Law - Goldstead", "Northfield University", None),
        ("LA: Data Basics", "Kestrel Polytechnic", "LearnWave Academy"),
        ("Data Basics (Online)", "Kestrel Polytechnic", None),
        (None, "Kestrel Polytechnic", None),
    ]
    frame = offerings(
        {"source": "s", "source_key": str(i), "title": t, "awarding_body": b, "platform": p}
        for i, (t, b, p) in enumerate(rows)
    )
    assert prepare.title_strings(frame, RULES).to_list() == [
        "Foundations",  # Acme Institute's initials
        "AI: Foundations",  # a topic when anyone else says it
        "Applied Entrepreneurship: Automation",
        "Contract Law",
        "Contract Law - Goldstead",
        "Data Basics",  # the platform's initials
        "Data Basics (Online)",  # nothing cut: the title string itself (what the cache keys by)
        None,
    ]


def _listing(source: str, key: str, title: str, body: str, **extra: object) -> dict:
    description = (
        f"{title.split(': ')[-1]} teaches practitioners how to plan, build and evaluate projects "
        "with hands-on case studies and a final capstone."
    )
    return {"source": source, "source_key": key, "title": title, "awarding_body": body, "language": "en",
            "credential_type": "MicroCredential", "price_usd": 135.0, "duration_weeks_min": 10.0,
            "description": description, **extra}


def test_resolve_links_initials_prefixes_short_names_and_handles() -> None:
    rows = [
        # one credential: initials prefix + full name / no prefix + short name
        _listing("a", "1", "ESI: Applied Entrepreneurship: Automation for Smart Cities", "Eastridge Skills Institute"),
        _listing("b", "1", "Applied Entrepreneurship: Automation for Smart Cities", "Eastridge"),
        # one credential: a platform handle / the full name
        _listing("a", "2", "Cloud Application Development: Integration for Real Estate", "RiverfordX"),
        _listing("b", "2", "Riverford: Cloud Application Development: Integration for Real Estate", "Riverford College"),
        # another credential of the same provider, another topic: stays apart
        _listing("b", "3", "Applied Entrepreneurship: Strategy for Utilities", "Eastridge Skills Institute",
                 price_usd=480.0, duration_weeks_min=26.0),
        # the same title by another organization sharing a word with Riverford's name: apart
        _listing("c", "1", "Cloud Application Development: Integration for Real Estate", "Stoneridge College",
                 price_usd=990.0, duration_weeks_min=30.0),
    ]
    links = resolve(offerings(rows))
    cred = dict(zip(links["offering_id"].to_list(), links["credential_id"].to_list(), strict=True))
    oid = offering_id
    assert cred[oid("a", "1")] == cred[oid("b", "1")]
    assert cred[oid("a", "2")] == cred[oid("b", "2")]
    assert cred[oid("b", "3")] not in {cred[oid("a", "1")], cred[oid("a", "2")]}
    assert cred[oid("c", "1")] not in {cred[oid("a", "1")], cred[oid("a", "2")]}
