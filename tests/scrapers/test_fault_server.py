"""The demo mirror's fault kinds: each one does on the wire what its name says."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import time
from pathlib import Path

import pytest

from scrapers.mirror.faults import FAULT_KINDS, FaultError, load_plan, plan_faults, validate_fault
from scrapers.mirror.generate import SiteContext
from scrapers.mirror.server import RunningServer

BODY = json.dumps({"results": [{"id": "k1", "name": "Café Économie"}], "next": "{{BASE}}/s/list?page=2"},
                  ensure_ascii=False)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    ctx = SiteContext("s", tmp_path)
    ctx.write("/list?page=1", BODY, "application/json; charset=utf-8")
    ctx.write("/page.html", "<!doctype html><html><body><p>Ærø</p></body></html>", "text/html; charset=utf-8")
    (tmp_path / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    ctx.routes["/robots.txt"] = {"file": "robots.txt", "content_type": "text/plain"}
    (tmp_path / "routes.json").write_text(json.dumps(ctx.routes))
    return tmp_path


def _get(base: str, path: str, timeout: float = 10) -> http.client.HTTPResponse:
    host, port = base.removeprefix("http://").split(":")
    con = http.client.HTTPConnection(host, int(port), timeout=timeout)
    con.request("GET", path, headers={"Accept-Encoding": "identity"})
    return con.getresponse()


def _serve(site: Path, *faults: dict) -> RunningServer:
    return RunningServer(site, faults=plan_faults({"s": list(faults)}))


def _events(server: RunningServer, n: int, timeout: float = 10) -> list[dict]:
    """The server's log once it holds ``n`` settled events (a delivery is settled after the
    body is written, which the client may see first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = server.events
        if len(events) >= n and all(e["done"] for e in events):
            return events
        time.sleep(0.02)
    return server.events


def test_status_fault_plays_its_times_then_the_page(site):
    with _serve(site, {"path": "/list?page=1", "kind": "status", "status": 503, "times": 2}) as server:
        assert [_get(server.base_url, "/s/list?page=1").status for _ in range(3)] == [503, 503, 200]
        events = _events(server, 3)
    assert [e["fault"] for e in events] == ["status", "status", None]
    assert [e["delivered"] for e in events] == [False, False, True]


def test_times_null_plays_forever_and_prefix_covers_a_whole_site(site):
    with _serve(site, {"path": "/", "match": "prefix", "kind": "status", "status": 500, "times": None}) as server:
        statuses = [_get(server.base_url, p).status for p in ("/s/list?page=1", "/s/page.html", "/s/list?page=1")]
        robots = _get(server.base_url, "/robots.txt").status  # not under /s/
    assert statuses == [500, 500, 500] and robots == 200


def test_reset_sends_nothing_and_drops_the_connection(site):
    with _serve(site, {"path": "/list?page=1", "kind": "reset"}) as server:
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected, OSError)):
            _get(server.base_url, "/s/list?page=1").read()
        assert _get(server.base_url, "/s/list?page=1").status == 200  # once only
        first = _events(server, 2)[0]
        assert first["status"] == 0 and first["fault"] == "reset"


def test_truncate_keeps_the_whole_content_length_by_default(site):
    with _serve(site, {"path": "/list?page=1", "kind": "truncate", "fraction": 0.5},
                {"path": "/list?page=1", "kind": "truncate", "fraction": 0.5, "keep_length": False}) as server:
        first = _get(server.base_url, "/s/list?page=1")
        full = int(first.getheader("Content-Length"))
        with pytest.raises(http.client.IncompleteRead):
            first.read()
        second = _get(server.base_url, "/s/list?page=1")
        cut = second.read()
    assert full == len(BODY.encode().replace(b"{{BASE}}", server.base_url.encode()))
    assert len(cut) == int(second.getheader("Content-Length")) < full
    with pytest.raises(ValueError):
        json.loads(cut)


def test_content_type_replaced_or_removed(site):
    with _serve(site, {"path": "/list?page=1", "kind": "content_type", "content_type": None},
                {"path": "/list?page=1", "kind": "content_type", "content_type": "image/png"}) as server:
        none = _get(server.base_url, "/s/list?page=1")
        png = _get(server.base_url, "/s/list?page=1")
        assert none.getheader("Content-Type") is None and json.loads(none.read())["results"][0]["id"] == "k1"
        assert png.getheader("Content-Type") == "image/png"


def test_transcode_sends_other_bytes_under_the_declared_charset(site):
    with _serve(site, {"path": "/list?page=1", "kind": "transcode", "encoding": "cp1252", "declare": "utf-8"}) as server:
        r = _get(server.base_url, "/s/list?page=1")
        data = r.read()
    assert r.getheader("Content-Type") == "application/json; charset=utf-8"
    assert "Café Économie".encode("cp1252") in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_oversize_pads_the_same_document_declared_or_streamed(site):
    with _serve(site, {"path": "/list?page=1", "kind": "oversize", "bytes": 300_000},
                {"path": "/list?page=1", "kind": "oversize", "bytes": 300_000, "declare_length": False}) as server:
        declared = _get(server.base_url, "/s/list?page=1")
        assert int(declared.getheader("Content-Length")) == 300_000
        assert json.loads(declared.read())["results"][0]["id"] == "k1"  # still the same JSON
        streamed = _get(server.base_url, "/s/list?page=1")
        assert streamed.getheader("Content-Length") is None
        assert len(streamed.read()) == 300_000


def test_gzip_bomb_is_small_on_the_wire_and_huge_inflated(site):
    with _serve(site, {"path": "/list?page=1", "kind": "gzip_bomb", "bytes": 20_000_000, "times": 2}) as server:
        r = _get(server.base_url, "/s/list?page=1")
        wire = r.read()
        again = _get(server.base_url, "/s/list?page=1").read()
    assert r.getheader("Content-Encoding") == "gzip"
    assert len(wire) < 200_000 and wire == again  # built once
    assert len(gzip.decompress(wire)) == 20_000_000


def test_redirect_fills_base_and_offsite(site):
    with _serve(site, {"path": "/list?page=1", "kind": "redirect", "location": "{{OFFSITE}}/s/list?page=1"},
                {"path": "/list?page=1", "kind": "redirect", "status": 301, "location": "{{BASE}}/s/page.html"}) as server:
        off = _get(server.base_url, "/s/list?page=1")
        on = _get(server.base_url, "/s/list?page=1")
        port = server.base_url.rsplit(":", 1)[1]
    assert off.status == 302 and off.getheader("Location") == f"http://localhost:{port}/s/list?page=1"
    assert on.status == 301 and on.getheader("Location") == f"http://127.0.0.1:{port}/s/page.html"


def test_rewrite_changes_the_body_and_robots(site):
    plan = {"s": [{"path": "/list?page=1", "kind": "rewrite", "find": '"next": "{{BASE}}/s/list?page=2"',
                   "replace": '"next": "{{BASE}}/s/list?page=1"'}],
            "*": [{"path": "/robots.txt", "kind": "rewrite", "find": "Disallow: /private/",
                   "replace": "Disallow: /s/", "times": None}]}
    with RunningServer(site, faults=plan_faults(plan)) as server:
        body = json.loads(_get(server.base_url, "/s/list?page=1").read())
        robots = _get(server.base_url, "/robots.txt").read().decode()
        assert body["next"] == f"{server.base_url}/s/list?page=1"
    assert "Disallow: /s/" in robots


def test_delay_beyond_the_client_timeout_is_logged_as_not_delivered(site):
    with _serve(site, {"path": "/list?page=1", "kind": "delay", "seconds": 1.5}) as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)))
        sock.sendall(b"GET /s/list?page=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.2)
        sock.close()  # the client gives up, as a crawler's timeout does
        first = _events(server, 1)[0]
        assert first["fault"] == "delay" and first["delivered"] is False
        assert _get(server.base_url, "/s/list?page=1").status == 200  # the next one is served at once


def test_server_logs_the_host_header(site):
    with _serve(site) as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        con = http.client.HTTPConnection(host, int(port), timeout=5)
        con.request("GET", "/s/page.html", headers={"Host": f"localhost:{port}"})
        con.getresponse().read()
        assert _events(server, 1)[-1]["host"] == f"localhost:{port}"


# --- plans and their validation ----------------------------------------------------------------------

def test_a_plan_is_per_source_and_made_absolute(tmp_path):
    plan = {"opencourse_api": [{"path": "/api/x?page=2", "kind": "delay", "seconds": 3}],
            "*": [{"path": "/robots.txt", "kind": "rewrite", "find": "a", "replace": "b"}]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    faults = load_plan(tmp_path / "plan.json")
    assert [f["path"] for f in faults] == ["/opencourse_api/api/x?page=2", "/robots.txt"]
    assert faults[0]["kind"] == "delay"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"path": "/x", "kind": "explode"}, "unknown fault kind"),
        ({"path": "x", "kind": "reset"}, "starting with '/'"),
        ({"path": "/x", "kind": "delay"}, "missing"),
        ({"path": "/x", "kind": "reset", "colour": "red"}, "unknown fields"),
        ({"path": "/x", "kind": "status", "status": 700}, "not an HTTP status"),
        ({"path": "/x", "kind": "redirect", "location": "/y", "status": 200}, "redirect status"),
        ({"path": "/x", "kind": "truncate", "fraction": 1.5}, "fraction"),
        ({"path": "/x", "kind": "gzip_bomb", "bytes": 10**12}, "bytes"),
        ({"path": "/x", "kind": "transcode", "encoding": "klingon"}, "unknown encoding"),
        ({"path": "/x", "kind": "reset", "times": 0}, "times"),
        ({"path": "/x", "kind": "reset", "match": "regex"}, "match"),
    ],
)
def test_bad_faults_are_refused_with_a_clear_error(fault, message):
    with pytest.raises(FaultError, match=message):
        validate_fault(fault)


def test_a_plan_refuses_a_source_name_that_would_leave_its_site():
    with pytest.raises(FaultError, match="not a source name"):
        plan_faults({"..": [{"path": "/x", "kind": "reset"}]})


def test_every_kind_is_documented_in_the_server_module():
    from scrapers.mirror import server

    for kind in FAULT_KINDS:
        assert f"``{kind}``" in server.__doc__, kind
