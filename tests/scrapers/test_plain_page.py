"""Kind plain_page on hand-written course/program pages without structured data."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from normalize.schema import RawOffering
from scrapers.registry import Source
from scrapers.spiders.plain_page import GenericPlainPageSpider
from scrapers.testing import fake_response, offline_spider, split

FIXTURES = Path(__file__).parent / "fixtures"


def spider_for(**options) -> GenericPlainPageSpider:
    src = Source(name="plain_test", spider="plain_page", kind="plain_page", format="html", provider_kind="training_provider",
                 start_urls=["https://example.edu/"], allowed_domains=["example.edu"], options=options)
    return offline_spider(GenericPlainPageSpider, source=src)


def read(name: str, url: str, **options) -> dict:
    spider = spider_for(**options)
    items, requests = split(spider.parse(fake_response(url, (FIXTURES / name).read_bytes(), "text/html",
                                                       response_cls=HtmlResponse)))
    assert requests == [] and len(items) == 1
    RawOffering.model_validate(items[0])
    return items[0]


def test_labelled_program_page():
    item = read("plain_program_page.html", "file:///saved/welding.html")
    assert item["source_key"] == "/programs/welding-technology"
    assert item["url"] == "https://catalog.riverbend.example/programs/welding-technology"
    assert (item["title"], item["awarding_body"]) == ("Welding Technology", "Riverbend Technical College")
    assert item["credential_type_raw"] == "Certificate of Completion"
    assert item["description"].startswith("This three-month program prepares students")
    assert item["workload_raw"] == "480 clock hours"  # the labelled value wins over the text
    assert item["prices"] == [{"text": "$3,250 (books and gear extra)", "label": "Tuition"}]
    assert item["subjects"] == ["Industrial Trades"] and item["modality_raw"] == "In person, evenings"
    assert item["duration_raw"] == "three-month"
    assert item["learning_outcomes"] == ["Weld plate in all positions", "Read blueprints"]
    assert item["payload"]["read_from"] == "file:///saved/welding.html"


def test_bare_page_reads_the_text():
    item = read("plain_page_bare.html", "https://example.edu/pottery")
    assert item["source_key"] == "/pottery"
    assert (item["title"], item["awarding_body"]) == ("Intro to Pottery", "Clayworks Studio")  # <title> "Page - Site"
    assert item["description"] == "A six-week beginner pottery course."
    assert item["duration_raw"] == "six-week"
    assert item["workload_raw"] == "3 hours per week"
    assert item["prices"] == [{"text": "The course fee is $180 including clay.", "amount": "$180"}]
    assert item["payload"]["found"]["prices_from"] == "main"


def test_options_override_heuristics():
    item = read("plain_page_bare.html", "https://example.edu/pottery", title_css=["h2"], record_kind_raw="course")
    assert item["title"] == "Intro to Pottery" and item["record_kind_raw"] == "course"


def test_page_without_title_is_a_defect():
    spider = spider_for()
    items, _ = split(spider.parse(fake_response("https://example.edu/x", b"<html><body><p>hi</p></body></html>",
                                                "text/html", response_cls=HtmlResponse)))
    assert items[0]["page_defects"] == ["no_title"]


def test_unknown_option_fails_at_start():
    with pytest.raises(ValueError, match="not options of kind plain_page"):
        spider_for(delimiter=";")


def parse_html(html: str, url: str = "https://example.edu/p") -> dict:
    items, _ = split(spider_for().parse(fake_response(url, html.encode(), "text/html", response_cls=HtmlResponse)))
    RawOffering.model_validate(items[0])
    return items[0]


def test_a_heading_equal_to_the_title_tag_is_the_whole_name():
    # "Page – Site" is split only where the page's own heading does not say the whole is the name
    item = parse_html("<html><head><title>Café – Pro</title></head><body><h1>Café – Pro</h1></body></html>")
    assert item["title"] == "Café – Pro"
    item = parse_html("<html><head><title>Pastry Basics – Café Pro</title></head><body><p>x</p></body></html>")
    assert (item["title"], item["awarding_body"]) == ("Pastry Basics", "Café Pro")


@pytest.mark.parametrize(("text", "amount"), [
    ("Die Teilnahmegebühr beträgt 1.250,00 € inklusive Material.", "1.250,00 €"),
    ("Les frais sont de 1 250,00 € par session.", "1 250,00 €"),
    ("The fee is 480 EUR for the whole course.", "480 EUR"),
    ("Kosten: 1250 € pro Teilnehmer.", "1250 €"),
    ("Tuition is $1,250.00 per term.", "$1,250.00"),
])
def test_amounts_with_the_currency_after_them(text, amount):
    item = parse_html(f"<html><head><title>Kurs</title></head><body><main><h1>Kurs</h1><p>{text}</p></main></body></html>")
    assert [p["amount"] for p in item["prices"]] == [amount]
