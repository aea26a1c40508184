"""Guards of the crawl: redirects kept on site and out of loops, responses read as what they
are, every lost page named by kind, and the landing pipeline that never drops an item."""

from __future__ import annotations

import json
import math
import types

import pytest
import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from scrapers.base.spider import failure_kind
from scrapers.extensions import CrawlStatsWriter, summarize
from scrapers.middlewares import (
    ContentGuardMiddleware,
    RedirectGuardMiddleware,
    charset_fix,
    host_allowed,
    sniff_format,
    split_content_type,
)
from scrapers.pipelines import LandingPipeline


def _crawler(allowed=("127.0.0.1",)):
    crawler = get_crawler(scrapy.Spider)
    spider = scrapy.Spider.from_crawler(crawler, name="t")
    spider.allowed_domains = list(allowed)
    crawler.spider = spider
    return crawler


# --- redirects -------------------------------------------------------------------------------------

def _redirect(mw, url: str, location: str, chain: list[str] | None = None, status: int = 302):
    request = Request(url, meta={"redirect_urls": chain} if chain else {})
    response = Response(url, status=status, headers={"Location": location}, request=request)
    return mw.process_response(request, response)


def test_a_redirect_off_the_allowed_domains_fails_the_page_with_a_reason():
    crawler = _crawler()
    mw = RedirectGuardMiddleware.from_crawler(crawler)
    with pytest.raises(IgnoreRequest, match="off the allowed domains"):
        _redirect(mw, "http://127.0.0.1:8000/p?page=2", "http://localhost:8000/p?page=2")
    with pytest.raises(IgnoreRequest, match="off the allowed domains"):
        _redirect(mw, "http://127.0.0.1:8000/p", "//evil.example/p")  # scheme-relative
    assert crawler.stats.get_value("credcat/offsite_redirects") == 2


def test_a_redirect_on_site_passes_and_subdomains_count_as_on_site():
    mw = RedirectGuardMiddleware.from_crawler(_crawler(("example.org",)))
    assert _redirect(mw, "https://example.org/a", "https://www.example.org/b").status == 302
    assert _redirect(mw, "https://example.org/a", "/relative").status == 302
    assert host_allowed("https://cdn.example.org/x", ["example.org"])
    assert not host_allowed("https://example.org.evil.com/x", ["example.org"])
    assert not host_allowed("https://notexample.org/x", ["example.org"])
    assert host_allowed("https://anything/x", [])  # no allowed domains: Scrapy's rule, all allowed


def test_redirect_loops_are_failed_before_the_duplicate_filter_drops_them_silently():
    crawler = _crawler()
    mw = RedirectGuardMiddleware.from_crawler(crawler)
    with pytest.raises(IgnoreRequest, match="redirect loop"):
        _redirect(mw, "http://127.0.0.1/a", "http://127.0.0.1/a")
    with pytest.raises(IgnoreRequest, match="redirect loop"):
        _redirect(mw, "http://127.0.0.1/b", "/a", chain=["http://127.0.0.1/a"])
    assert crawler.stats.get_value("credcat/redirect_loops") == 2
    assert _redirect(mw, "http://127.0.0.1/a", "/b").status == 302  # a plain redirect passes


# --- content type and charset --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'  {"a": 1}', "json"),
        (b"\xef\xbb\xbf[1, 2]", "json"),
        (b'<?xml version="1.0"?><rss version="2.0"></rss>', "xml"),
        (b"<urlset xmlns='x'></urlset>", "xml"),
        (b"<!DOCTYPE html><html></html>", "html"),
        (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"></html>', "html"),
        (b"Course Name,Price\nA,1\n", None),
        (b"\x89PNG\r\n\x1a\n\x00\x00", None),
        (b"", None),
    ],
)
def test_sniff_format(body, kind):
    assert sniff_format(body) == kind


def test_split_content_type():
    assert split_content_type(b"Text/HTML; Charset=\"ISO-8859-1\"") == ("text/html", "iso-8859-1")
    assert split_content_type(None) == ("", None)


def test_charset_fix_only_where_the_declared_charset_cannot_be_right():
    utf8 = "Université Économie".encode()
    cp1252 = "Université Économie".encode("cp1252")
    assert charset_fix(utf8, "iso-8859-1") == ("utf-8", "utf8_declared_single_byte")
    assert charset_fix(cp1252, "utf-8") == ("windows-1252", "single_byte_declared_utf8")
    assert charset_fix(utf8, "utf-8") is None
    assert charset_fix(cp1252, "iso-8859-1") is None  # what it says
    assert charset_fix(b"plain ascii", "iso-8859-1") is None
    assert charset_fix(utf8 + cp1252, "utf-8") is None  # mixed: the source's encoding_fallback decides
    assert charset_fix(utf8, None) is None


def _response(body: bytes, content_type: str | None, url: str = "http://127.0.0.1/p", cls=Response):
    headers = {"Content-Type": content_type} if content_type else {}
    return cls(url=url, body=body, headers=headers, request=Request(url))


def test_content_guard_reads_a_page_as_what_it_is():
    crawler = _crawler()
    mw = ContentGuardMiddleware.from_crawler(crawler)
    page = "<!doctype html><html><body><h1>Économie</h1></body></html>".encode()
    out = mw.process_response(Request("http://127.0.0.1/p"), _response(page, "application/octet-stream"))
    assert isinstance(out, HtmlResponse) and out.css("h1::text").get() == "Économie"
    feed = '<?xml version="1.0" encoding="UTF-8"?><rss><channel><title>Café</title></channel></rss>'.encode()
    out = mw.process_response(Request("http://127.0.0.1/f"),
                              _response(feed, "text/html; charset=iso-8859-1", cls=HtmlResponse))
    assert isinstance(out, XmlResponse)
    assert out.headers[b"Content-Type"] == b"application/xml; charset=utf-8"
    assert out.xpath("//title/text()").get() == "Café"
    js = '{"name": "Café"}'.encode()
    out = mw.process_response(Request("http://127.0.0.1/j"), _response(js, None))
    assert isinstance(out, TextResponse) and json.loads(out.text)["name"] == "Café"
    fixes = {k.rsplit("/", 1)[-1]: v for k, v in crawler.stats.get_stats().items() if "content_fixes" in k}
    assert fixes == {"content_type_generic": 1, "content_type_html_for_xml": 1, "utf8_declared_single_byte": 1,
                     "content_type_missing": 1}


def test_content_guard_leaves_honest_responses_and_saved_files_alone():
    mw = ContentGuardMiddleware.from_crawler(_crawler())
    honest = _response(b'{"a": "\xc3\xa9"}', "application/json; charset=utf-8", cls=TextResponse)
    assert mw.process_response(Request(honest.url), honest) is honest
    csv = _response(b"a,b\n1,2\n", "text/csv", cls=TextResponse)
    assert mw.process_response(Request(csv.url), csv) is csv
    saved = _response(b"<html></html>", None, url="file:///tmp/x.html")
    assert mw.process_response(Request(saved.url), saved) is saved
    error = Response("http://127.0.0.1/e", status=500, body=b"<html>oops</html>")
    assert mw.process_response(Request(error.url), error) is error


# --- failures by kind ---------------------------------------------------------------------------------

class _HttpErr(Exception):
    def __init__(self, status):
        self.response = types.SimpleNamespace(status=status)


def _failure(exc: BaseException) -> Failure:
    try:
        raise exc
    except BaseException:
        return Failure()


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_HttpErr(503), "http_503"),
        (IgnoreRequest("Forbidden by robots.txt"), "robots_disallowed"),
        (IgnoreRequest("redirect off the allowed domains ['x']: a -> b"), "offsite_redirect"),
        (IgnoreRequest("redirect loop: a -> a"), "redirect_loop"),
        (IgnoreRequest("max redirections reached"), "redirect_loop"),
        (IgnoreRequest("Ignored response <200 x> because its body (1 B compressed, 9 B decompressed so far) "
                       "exceeded DOWNLOAD_MAXSIZE (8 B) during decompression."), "decompression_bomb"),
        (IgnoreRequest("something else"), "ignored"),
        (__import__("scrapy.exceptions", fromlist=["x"]).DownloadTimeoutError("t"), "timeout"),
        (__import__("scrapy.exceptions", fromlist=["x"]).DownloadCancelledError("big"), "oversize"),
        (__import__("scrapy.exceptions", fromlist=["x"]).ResponseDataLossError("cut"), "data_loss"),
        (KeyError("x"), "keyerror"),
    ],
)
def test_failure_kind(exc, kind):
    assert failure_kind(_failure(exc)) == kind


def test_summary_reports_what_went_wrong_by_kind():
    stats = {"credcat/failed_pages": 2, "credcat/page_failures/oversize": 1, "credcat/page_failures/http_503": 1,
             "retry/reason_count/scrapy.exceptions.DownloadTimeoutError": 2, "retry/reason_count/429 Unknown Status": 1,
             "credcat/content_fixes/content_type_missing": 3, "credcat/offsite_redirects": 1,
             "dupefilter/filtered": 4, "credcat/dropped_requests": 4}
    s = summarize(stats, "finished", "src", "r1")
    assert s["complete"] is False
    assert s["page_failures"] == {"oversize": 1, "http_503": 1}
    assert s["retry_reasons"] == {"DownloadTimeoutError": 2, "429 Unknown Status": 1}
    assert s["content_fixes"] == {"content_type_missing": 3}
    assert (s["offsite_redirects"], s["duplicates_filtered"], s["dropped_requests"]) == (1, 4, 4)


def test_dropped_requests_are_counted():
    crawler = get_crawler(scrapy.Spider)
    ext = CrawlStatsWriter(crawler)
    ext.request_dropped(Request("http://127.0.0.1/a"))
    assert crawler.stats.get_value("credcat/dropped_requests") == 1


# --- landing never drops an item ------------------------------------------------------------------------

def _pipe(tmp_path):
    crawler = get_crawler(scrapy.Spider, {"CREDCAT_LANDING_DIR": str(tmp_path), "CREDCAT_RUN_ID": "r1"})
    crawler.spider = types.SimpleNamespace(name="src", source_name="src")
    pipe = LandingPipeline.from_crawler(crawler)
    pipe.open_spider()
    return pipe, crawler


def _item(**over):
    item = {"source": "src", "source_key": "k", "fetched_at": "2027-03-01T12:00:00+00:00", "run_id": "r1",
            "title": "T", "payload": {"id": "k"}}
    item.update(over)
    return item


def test_items_json_cannot_hold_still_land_as_invalid(tmp_path):
    pipe, crawler = _pipe(tmp_path)
    cyclic: dict = {"id": "c"}
    cyclic["self"] = cyclic
    deep: list = []
    node = deep
    for _ in range(100_000):
        node.append([])
        node = node[0]
    items = [_item(source_key="cyclic", payload=cyclic), _item(source_key="deep", payload={"x": deep}),
             _item(source_key="nan", payload={"price": math.nan}), _item(source_key="ok")]
    for item in items:
        pipe.process_item(item)  # never raises
    pipe.close_spider()
    out = tmp_path / "src" / "r1"
    landed = [json.loads(x) for x in (out / "items.jsonl").read_text().splitlines()]
    invalid = [json.loads(x) for x in (out / "invalid.jsonl").read_text().splitlines()]
    assert len(landed) + len(invalid) == len(items)  # nothing lost
    assert "ok" in {r["source_key"] for r in landed}
    assert {r["source_key"] for r in invalid} >= {"cyclic", "deep"}
    assert all(r["reason"] == "schema_violation" for r in invalid)
    for line in (out / "items.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c} written"))
    assert crawler.stats.get_value("credcat/unserializable_items") >= 2
