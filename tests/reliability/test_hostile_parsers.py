"""Every parser on hostile input: nothing crashes, and everything it yields lands.

Each spider kind reads one of its own fixtures with hostile values put in (hypothesis):
strings and numbers of the records replaced by random unicode, control characters, markup
with scripts and event handlers, enormous/negative/NaN numbers, absurd durations and dates;
JSON nested tens of thousands deep; JSON-LD graphs whose nodes point at each other and at
themselves; HTML, XML and CSV whose text is replaced raw (breaking the markup) or escaped.
The callback must run to the end without raising, and every item it yields must go through
the landing pipeline into ``items.jsonl`` or ``invalid.jsonl`` (nothing dropped).
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
import re
import tempfile
import types
from pathlib import Path
from typing import Any

import pytest
import scrapy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse, Request, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from scrapers.pipelines import LandingPipeline
from scrapers.registry import Source
from scrapers.testing import fake_response, offline_spider
from tests.reliability.hostile import hostile_number, hostile_text

FIXTURES = Path(__file__).resolve().parent.parent / "scrapers" / "fixtures"
MIRROR = "http://127.0.0.1:1"
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DEEP = "__credcat_deep__"


# --- mutating bodies ------------------------------------------------------------------------------

@st.composite
def mutation(draw: st.DrawFn) -> dict[str, Any]:
    """What to do to a body: values to put in, a seed choosing where, how deep to nest."""
    return {
        "texts": draw(st.lists(hostile_text(), min_size=1, max_size=6)),
        "numbers": draw(st.lists(hostile_number(), min_size=1, max_size=4)),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "share": draw(st.sampled_from([0.2, 0.6, 1.0])),
        "deep": draw(st.sampled_from([0, 0, 50, 800, 5_000, 60_000])),
        "raw": draw(st.booleans()),  # markup put in raw (breaking the page) or escaped
    }


def _mutate_json(value: Any, m: dict[str, Any], rng: random.Random) -> Any:
    if isinstance(value, dict):
        return {k: (v if k in ("@context",) else _mutate_json(v, m, rng)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate_json(v, m, rng) for v in value]
    if rng.random() >= m["share"]:
        return value
    if isinstance(value, bool) or value is None:
        return rng.choice(m["texts"] + m["numbers"])
    if isinstance(value, int | float):
        return rng.choice(m["numbers"] + m["texts"][:1])
    return rng.choice(m["texts"])


def json_body(data: Any, m: dict[str, Any]) -> bytes:
    rng = random.Random(m["seed"])
    mutated = _mutate_json(data, m, rng)
    if m["deep"]:
        # Nest one value far deeper than Python's stack: written as text, json.dumps could not.
        leaves = _leaf_paths(mutated)
        if leaves:
            _set(mutated, rng.choice(leaves), DEEP)
    text = json.dumps(mutated, ensure_ascii=False, allow_nan=True)
    if m["deep"]:
        text = text.replace(json.dumps(DEEP), "[" * m["deep"] + "1" + "]" * m["deep"], 1)
    return text.encode("utf-8", errors="surrogatepass")


def _leaf_paths(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for k, v in value.items() if k != "@context" for p in _leaf_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaf_paths(v, (*path, i))]
    return [path] if path else []


def _set(value: Any, path: tuple, new: Any) -> None:
    for key in path[:-1]:
        value = value[key]
    value[path[-1]] = new


_TEXT_NODE = re.compile(r">([^<>]*[^\s<>][^<>]*)<")


def markup_body(text: str, m: dict[str, Any], xml: bool = False) -> bytes:
    """Text nodes replaced: raw (markup and control characters straight in) or escaped."""
    rng = random.Random(m["seed"])

    def sub(match: re.Match[str]) -> str:
        if rng.random() >= m["share"]:
            return match.group(0)
        value = rng.choice(m["texts"])
        if not m["raw"]:
            value = html.escape(value, quote=False)
            if xml:  # XML 1.0 cannot hold most control characters even escaped
                value = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", value)
        return f">{value}<"

    return _TEXT_NODE.sub(sub, text).encode("utf-8", errors="surrogatepass")


def jsonld_page(text: str, m: dict[str, Any]) -> bytes:
    """Each JSON-LD block mutated, plus nodes that point at each other and at themselves."""
    rng = random.Random(m["seed"])

    def sub(match: re.Match[str]) -> str:
        try:
            data = json.loads(match.group(2))
        except ValueError:
            return match.group(0)
        nodes = data.get("@graph") if isinstance(data, dict) and "@graph" in data else [data]
        a, b = "urn:cycle:a", "urn:cycle:b"
        cyclic = [{"@id": a, "@type": "Organization", "name": rng.choice(m["texts"]), "member": {"@id": b},
                   "sameAs": {"@id": a}},
                  {"@id": b, "@type": "Organization", "parentOrganization": {"@id": a}, "subOrganization": [{"@id": b}]}]
        for node in nodes if isinstance(nodes, list) else []:
            if isinstance(node, dict):
                node["provider"] = {"@id": a}
                node["hasPart"] = {"@id": node.get("@id", a)}
        graph = {"@context": "https://schema.org", "@graph": [*(nodes if isinstance(nodes, list) else [nodes]), *cyclic]}
        body = json_body(graph, m).decode("utf-8", errors="surrogatepass")
        body = body.replace("</", "<\\/")  # keep the block a block (as CMSs escape it)
        return f"{match.group(1)}{body}{match.group(3)}"

    pattern = re.compile(r"(<script[^>]*ld\+json[^>]*>)(.*?)(</script>)", re.S | re.I)
    return pattern.sub(sub, text).encode("utf-8", errors="surrogatepass")


def csv_body(text: str, m: dict[str, Any]) -> bytes:
    rng = random.Random(m["seed"])
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(rows[0])
    for row in rows[1:]:
        writer.writerow([rng.choice(m["texts"]) if rng.random() < m["share"] else cell for cell in row])
    body = out.getvalue()
    if m["raw"]:  # a hand-edited export: a quote and a line break left open
        body += '"unterminated,' + rng.choice(m["texts"]) + "\n"
    return body.encode("utf-8", errors="surrogatepass")


# --- landing what a callback yields ---------------------------------------------------------------------

def run_and_land(callback, response) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """(items yielded, lines in items.jsonl, lines in invalid.jsonl); raises if the callback does."""
    with tempfile.TemporaryDirectory() as tmp:
        crawler = get_crawler(scrapy.Spider, {"CREDCAT_LANDING_DIR": tmp, "CREDCAT_RUN_ID": "r1"})
        crawler.spider = types.SimpleNamespace(name="hostile", source_name="hostile")
        pipe = LandingPipeline.from_crawler(crawler)
        pipe.open_spider()
        n = 0
        try:
            for out in callback(response) or []:
                if isinstance(out, Request):
                    continue
                n += 1
                pipe.process_item(out)
        finally:
            pipe.close_spider()
        run = Path(tmp) / "hostile" / "r1"
        # JSON Lines split on "\n" only: U+0085 and U+2028 are line breaks to str.splitlines()
        # but may stand unescaped inside a JSON string.
        landed, invalid = (sum(1 for line in (run / name).read_text(encoding="utf-8").split("\n") if line.strip())
                           for name in ("items.jsonl", "invalid.jsonl"))
    return n, landed, invalid


def _check(callback, response) -> None:  # type: ignore[no-untyped-def]
    n, landed, invalid = run_and_land(callback, response)
    assert landed + invalid == n, f"{n} items yielded, {landed} landed + {invalid} invalid"


# --- the spiders ---------------------------------------------------------------------------------------

def _source(name: str, kind: str, **extra: Any) -> Source:
    return Source(name=name, spider=kind, kind=kind, format="hostile", provider_kind="training_provider",
                  start_urls=["https://example.edu/"], allowed_domains=["example.edu"], **extra)


def _opencourse():
    from scrapers.spiders.opencourse_api import OpencourseApiSpider
    return offline_spider(OpencourseApiSpider)


def _skillmarket():
    from scrapers.spiders.skillmarket_api import SkillmarketApiSpider
    return offline_spider(SkillmarketApiSpider)


def _registry():
    from scrapers.spiders.credential_registry import CredentialRegistrySpider
    return offline_spider(CredentialRegistrySpider)


def _openbadges():
    from scrapers.base.openbadges import OpenBadgesSpider
    cls = type("HostileOpenBadges", (OpenBadgesSpider,), {"name": "hostile_ob"})
    return offline_spider(cls, source=_source("ob_hostile", "openbadges"))


JSON_CASES = {
    "json_api (opencourse_api)": (_opencourse, "parse", "opencourse_api_page1.json",
                                  f"{MIRROR}/opencourse_api/api/courses/v1/courses/?page=1&page_size=50"),
    "json_api (skillmarket_api)": (_skillmarket, "parse", "skillmarket_api_page.json",
                                   f"{MIRROR}/skillmarket_api/api-2.0/courses/?page=2&page_size=100"),
    "ctdl_registry (credential_registry)": (_registry, "parse", "registry_envelopes_page1.json",
                                            f"{MIRROR}/credential_registry/ce-registry/envelopes?page=1&per_page=50"),
    "openbadges": (_openbadges, "parse", "openbadges_presentation.json", "https://example.edu/badges.json"),
}


LINKED = """
[sources.hostile_linked]
spider = "hostile_linked"
kind = "linked_json"
format = "id-linked dump"
provider_kind = "mooc_platform"
start_urls = ["https://example.edu/dump.json"]
allowed_domains = ["example.edu"]
options = { records_path = "programs", key_path = "id", lookups = ["schools=schools.id", "areas=areas.id", "teachers=teachers.teacher_no"], backrefs = ["runs=runs.program_id"] }
field_map = { title = "title", awarding_body = "_linked.schools.*.name", subjects = "_linked.areas.*.name", language_raw = "lang", start_dates_raw = "_linked.runs.*.begins" }
"""


def _linked():
    from scrapers.base.linked_json import LinkedJsonSpider

    cls = type("HostileLinked", (LinkedJsonSpider,), {"name": "hostile_linked"})
    path = Path(tempfile.mkdtemp()) / "sources.toml"
    path.write_text(LINKED)
    return offline_spider(cls, registry=str(path), source="hostile_linked")


JSON_CASES["linked_json"] = (_linked, "parse", "linked_catalog.json", "https://example.edu/dump.json")


@pytest.mark.parametrize("case", list(JSON_CASES))
@SETTINGS
@given(m=mutation())
def test_json_kinds_survive_hostile_records(case, m):
    factory, callback, fixture, url = JSON_CASES[case]
    spider = factory()
    body = json_body(json.loads((FIXTURES / fixture).read_text(encoding="utf-8")), m)
    _check(getattr(spider, callback), fake_response(url, body, "application/json"))


def _learnwave():
    from scrapers.spiders.learnwave_feed import LearnwaveFeedSpider
    return offline_spider(LearnwaveFeedSpider)


@SETTINGS
@given(m=mutation())
def test_rss_feed_survives_hostile_items(m):
    body = markup_body((FIXTURES / "learnwave_feed_page0.xml").read_text(encoding="utf-8"), m, xml=True)
    url = f"{MIRROR}/learnwave_feed/api/v2/report/course-feed/rss?page=0"
    _check(_learnwave().parse, fake_response(url, body, "application/rss+xml; charset=utf-8", response_cls=XmlResponse))


def _northfield():
    from scrapers.spiders.northfield_university import NorthfieldUniversitySpider
    return offline_spider(NorthfieldUniversitySpider)


@SETTINGS
@given(m=mutation(), fixture=st.sampled_from(["northfield_program_graph.html", "northfield_program_blocks.html",
                                               "saved_program_page.html"]))
def test_jsonld_pages_survive_hostile_deep_and_cyclic_graphs(m, fixture):
    text = (FIXTURES / fixture).read_text(encoding="utf-8")
    body = jsonld_page(text, m)
    url = f"{MIRROR}/northfield_university/programs/hostile/"
    _check(_northfield().parse_page, fake_response(url, body, "text/html; charset=utf-8", response_cls=HtmlResponse))


@SETTINGS
@given(m=mutation(), fixture=st.sampled_from(["northfield_urlset.xml", "northfield_sitemap_index.xml"]))
def test_sitemaps_survive_hostile_entries(m, fixture):
    body = markup_body((FIXTURES / fixture).read_text(encoding="utf-8"), m, xml=True)
    url = f"{MIRROR}/northfield_university/sitemap.xml"
    _check(_northfield().parse, fake_response(url, body, "application/xml", response_cls=XmlResponse))


def _iadp():
    from scrapers.spiders.iadp_certifications import IadpCertificationsSpider
    return offline_spider(IadpCertificationsSpider)


def _lakeside():
    from scrapers.spiders.lakeside_college import LakesideCollegeSpider
    return offline_spider(LakesideCollegeSpider)


def _plain():
    from scrapers.spiders.plain_page import GenericPlainPageSpider
    return offline_spider(GenericPlainPageSpider, source=_source("plain_hostile", "plain_page"))


def _classcentral():
    from scrapers.spiders.classcentral import GenericClassCentralSpider
    return offline_spider(GenericClassCentralSpider,
                          source=_source("agg_hostile", "classcentral", options={"site_url": "https://example.edu"}))


HTML_CASES = {
    "html_pages detail (iadp)": (_iadp, "parse_detail", "iadp_cert_dl_no_fee.html",
                                 f"{MIRROR}/iadp_certifications/certifications/x.html"),
    "html_pages listing (iadp)": (_iadp, "parse", "iadp_listing.html", f"{MIRROR}/iadp_certifications/certifications/"),
    "courseleaf subject (lakeside)": (_lakeside, "parse", "lakeside_subject_acct.html",
                                      f"{MIRROR}/lakeside_college/courses/acct/"),
    "courseleaf program (lakeside)": (_lakeside, "parse_program", "lakeside_program.html",
                                      f"{MIRROR}/lakeside_college/programs/bookkeeping/"),
    "plain_page": (_plain, "parse", "plain_program_page.html", "https://example.edu/programs/x"),
    "classcentral course": (_classcentral, "parse", "aggregator_course.html", "https://example.edu/course/x"),
    "classcentral listing": (_classcentral, "parse", "aggregator_listing.html", "https://example.edu/subject/x"),
}


@pytest.mark.parametrize("case", list(HTML_CASES))
@SETTINGS
@given(m=mutation())
def test_html_kinds_survive_hostile_text_raw_or_escaped(case, m):
    factory, callback, fixture, url = HTML_CASES[case]
    body = markup_body((FIXTURES / fixture).read_text(encoding="utf-8"), m)
    _check(getattr(factory(), callback), fake_response(url, body, "text/html; charset=utf-8", response_cls=HtmlResponse))


def _coursehub():
    from scrapers.spiders.coursehub_csv import CoursehubCsvSpider
    return offline_spider(CoursehubCsvSpider)


@SETTINGS
@given(m=mutation())
def test_file_drop_survives_hostile_cells(m):
    body = csv_body((FIXTURES / "coursehub_sample.csv").read_text(encoding="utf-8"), m)
    _check(_coursehub().parse, fake_response(f"{MIRROR}/coursehub_csv/drop/courses.csv", body, "text/csv; charset=utf-8",
                                             response_cls=TextResponse))


@SETTINGS
@given(m=mutation())
def test_file_drop_json_lines_survive_hostile_rows(m, ):
    from scrapers.spiders.file_drop import GenericFileDropSpider

    rng = random.Random(m["seed"])
    rows = [{"id": f"r{i}", "title": rng.choice(m["texts"]), "price": rng.choice(m["numbers"])} for i in range(5)]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    if m["deep"]:
        lines.append('{"id": "deep", "title": ' + "[" * m["deep"] + "1" + "]" * m["deep"] + "}")
    lines.append(rng.choice(m["texts"]).replace("\n", " "))  # a line that is no JSON
    source = _source("drop_hostile", "file_drop", field_map={"title": "title", "prices": "price"},
                     options={"key_column": "id", "format": "jsonl"})
    spider = offline_spider(GenericFileDropSpider, source=source)
    body = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    _check(spider.parse, fake_response("https://example.edu/drop.jsonl", body, "application/x-ndjson"))


def test_a_body_nested_deeper_than_the_stack_is_a_page_defect_not_a_crash():
    spider = _opencourse()
    body = b'{"results": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    url = f"{MIRROR}/opencourse_api/api/courses/v1/courses/?page=1&page_size=50"
    assert list(spider.parse(fake_response(url, body))) == []
    stats = spider.crawler.stats.get_stats()
    assert stats["credcat/page_defects/invalid_json_body"] == 1
    assert stats["credcat/failed_pages"] == 1  # the page's records are missing: the crawl is incomplete
