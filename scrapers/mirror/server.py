"""Serve a generated demo catalog on 127.0.0.1, with the faults it declares.

The server maps each request's path and query to a file through ``routes.json``, replaces
``{{BASE}}`` in bodies with its own base URL, and plays faults: the generator's
``faults.json`` plus any given when the server starts (``scrapers.mirror.faults`` builds
them per source). The first ``times`` requests of a path (``"times": null``: every request)
answer the fault; several faults of one path play in order, each for its ``times`` (a 429,
then a 503, then the page). ``"match": "prefix"`` makes a fault cover every path under its
``path`` (a whole source that is down). Fault kinds (``scrapers.mirror.faults.FAULT_KINDS``):

- ``status``: that status and headers, body "injected fault" (a 500, a 429 with Retry-After);
- ``delay``: sleep ``seconds`` before answering (beyond the crawler's download timeout);
- ``reset``: close the connection with a TCP reset, nothing sent;
- ``truncate``: send the first ``fraction`` of the body and close; ``keep_length`` (default
  true) keeps the whole body's Content-Length (data loss the client can see), false sends
  the cut body's length (a body that is simply broken);
- ``content_type``: the body with another Content-Type (``null``: no Content-Type at all);
- ``transcode``: the body re-encoded to ``encoding`` while the header keeps (or, with
  ``declare``, states) another charset;
- ``oversize``: the body padded with whitespace to ``bytes`` (still valid JSON/XML/HTML);
  ``declare_length`` false streams it without Content-Length;
- ``gzip_bomb``: ``Content-Encoding: gzip`` of the body padded to ``bytes`` (a few KB on the
  wire, megabytes once inflated);
- ``redirect``: ``status`` (302) to ``location``; ``{{BASE}}`` is this server,
  ``{{OFFSITE}}`` the same server under the host name ``localhost`` (off the allowed domain
  127.0.0.1, yet reachable, so a crawler that followed it would show in the log);
- ``rewrite``: the body with ``find`` replaced by ``replace`` (a next link that cycles back,
  a robots.txt that disallows a path).

It binds to loopback only and keeps a log of what it answered: ``requests`` (time, path,
status) and ``events`` (also the request headers, the fault kind and whether the route's
whole body was delivered), which tests and ``scrapers.reliability`` read. The log is kept in
memory only (a test server: it may hold a test credential a crawl sent).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import select
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from scrapers.mirror.faults import validate_faults


class CatalogServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, port: int = 0, host: str = "127.0.0.1",
                 faults: list[dict[str, Any]] | None = None, generated_faults: bool = True) -> None:
        self.root = Path(root)
        self.routes: dict[str, dict[str, str]] = json.loads((self.root / "routes.json").read_text())
        faults_file = self.root / "faults.json"
        planned = json.loads(faults_file.read_text()) if generated_faults and faults_file.exists() else []
        self.faults: list[dict[str, Any]] = validate_faults([*planned, *(faults or [])])
        self.hits: Counter[tuple[str, str]] = Counter()
        self.requests: list[tuple[float, str, int]] = []  # (monotonic time, path, status)
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._bombs: dict[tuple[str, int], bytes] = {}
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def offsite_url(self) -> str:
        """This server under another host name: off the crawl's allowed domain 127.0.0.1."""
        return f"http://localhost:{self.server_address[1]}"

    def fill(self, text: str) -> str:
        return text.replace("{{BASE}}", self.base_url).replace("{{OFFSITE}}", self.offsite_url)

    def fault_for(self, path: str) -> dict[str, Any] | None:
        """The fault the n-th request of ``path`` plays, if any (faults of a path play in order).

        Faults are grouped by (match, path); every group a request matches counts it, and
        the first group (in file order) that still has a fault to play answers.
        """
        path = unquote(path)
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for fault in self.faults:
            match = fault.get("match", "exact")
            target = unquote(fault["path"])
            if path == target if match == "exact" else path.startswith(target):
                groups.setdefault((match, target), []).append(fault)
        chosen = None
        with self.lock:
            for key, faults in groups.items():
                self.hits[key] += 1
                n, played = self.hits[key], 0
                if chosen is not None:
                    continue
                for fault in faults:
                    if fault.get("times", 1) is None:
                        chosen = fault
                        break
                    played += int(fault.get("times", 1))
                    if n <= played:
                        chosen = fault
                        break
        return chosen

    def bomb(self, body: bytes, size: int) -> bytes:
        """gzip of ``body`` padded with spaces to ``size`` bytes, built once (in chunks, so a
        bomb of hundreds of MB never sits in memory inflated) and kept for the next request."""
        key = (hashlib.sha256(body).hexdigest(), size)
        with self.lock:
            cached = self._bombs.get(key)
        if cached is None:
            out = io.BytesIO()
            with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as gz:
                gz.write(body)
                left, chunk = max(0, size - len(body)), b" " * (1 << 20)
                while left > 0:
                    gz.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
            cached = out.getvalue()
            with self.lock:
                self._bombs[key] = cached
        return cached

    def route_for(self, path: str) -> dict[str, str] | None:
        """The route of a request path; a percent-encoded spelling of a route matches it too."""
        return self.routes.get(path) or self.routes.get(unquote(path))

    def log(self, path: str, status: int, host: str = "", kind: str | None = None,
            delivered: bool = False, sent: int = 0, headers: dict[str, str] | None = None,
            done: bool = True) -> dict[str, Any]:
        """Record an answer as it starts (``requests``, ``events``); ``done`` false: its
        delivery is settled later (``settle``)."""
        with self.lock:
            now = time.monotonic()
            self.requests.append((now, path, status))
            event = {"time": now, "path": path, "host": host, "status": status, "fault": kind,
                     "delivered": delivered, "bytes": sent, "headers": headers or {}, "done": done}
            self.events.append(event)
            return event

    def settle(self, event: dict[str, Any], delivered: bool) -> None:
        with self.lock:
            event["delivered"] = delivered
            event["done"] = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (a timeout, a cancelled download) is part of the game


def _pad(body: bytes, size: int) -> bytes:
    """``body`` padded with trailing whitespace to ``size`` bytes: still the same document."""
    return body + b" " * max(0, size - len(body))


class _Handler(BaseHTTPRequestHandler):
    server: CatalogServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: the crawl stats tell the story

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the connection was reset on purpose, or the client went away
            super().finish()

    def _host(self) -> str:
        return self.headers.get("Host", "")

    def _send(self, status: int, body: bytes, content_type: str | None, headers: dict[str, str] | None = None,
              *, length: int | None = None, fault: str | None = None, delivered: bool = False) -> None:
        """Answer; ``length`` None sends the body's length, -1 sends none (and closes after)."""
        event = self.server.log(self.path, status, self._host(), fault, False, len(body),
                                dict(self.headers.items()), done=False)
        try:
            self.send_response(status)
            if content_type is not None:
                self.send_header("Content-Type", content_type)
            if length != -1:
                self.send_header("Content-Length", str(len(body) if length is None else length))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            for k, v in (headers or {}).items():
                self.send_header(k, self.server.fill(v))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
                self.wfile.flush()
        except OSError:  # the client gave up (timeout, size cap): nothing was delivered
            delivered = False
            self.close_connection = True
        self.server.settle(event, delivered)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path
        fault = self.server.fault_for(path)
        kind = fault.get("kind", "status") if fault else None
        if kind == "status":
            self._send(int(fault["status"]), b"injected fault", "text/plain", fault.get("headers"), fault=kind)
            return
        if kind == "reset":
            self._reset()
            return
        if kind == "redirect":
            location = self.server.fill(str(fault["location"]))
            self._send(int(fault.get("status", 302)), b"", "text/plain", {"Location": location}, fault=kind)
            return
        if kind == "delay":
            time.sleep(float(fault["seconds"]))
            if self._client_gone():  # it timed out waiting: nothing to deliver
                self.close_connection = True
                self.server.log(self.path, 0, self._host(), kind)
                return
        route = self.server.route_for(path)
        if route is None:
            self._send(404, b"not found", "text/plain", fault=kind)
            return
        file = (self.server.root / route["file"]).resolve()
        if self.server.root.resolve() not in file.parents:
            self._send(403, b"forbidden", "text/plain", fault=kind)
            return
        body = file.read_bytes().replace(b"{{BASE}}", self.server.base_url.encode()).replace(
            b"{{OFFSITE}}", self.server.offsite_url.encode())
        self._serve(body, route["content_type"], fault, kind)

    def _serve(self, body: bytes, content_type: str, fault: dict[str, Any] | None, kind: str | None) -> None:
        """The route's body, as the fault (if any) bends it."""
        if kind in (None, "delay"):
            self._send(200, body, content_type, fault=kind, delivered=True)
        elif kind == "content_type":
            self._send(200, body, fault.get("content_type"), fault=kind, delivered=True)
        elif kind == "transcode":
            text = body.decode("utf-8", errors="replace")
            data = text.encode(fault["encoding"], errors="xmlcharrefreplace")
            declare = fault.get("declare")
            ctype = content_type.split(";")[0] + (f"; charset={declare}" if declare else "")
            self._send(200, data, fault.get("content_type", ctype), fault=kind, delivered=True)
        elif kind == "rewrite":
            new = body.replace(self.server.fill(fault["find"]).encode(), self.server.fill(fault["replace"]).encode())
            self._send(200, new, content_type, fault=kind, delivered=True)
        elif kind == "truncate":
            cut = body[: int(len(body) * float(fault.get("fraction", 0.5)))]
            keep = fault.get("keep_length", True)
            self._send(200, cut, content_type, length=len(body) if keep else None, fault=kind)
            self.close_connection = True
        elif kind == "oversize":
            padded = _pad(body, int(fault["bytes"]))
            length = None if fault.get("declare_length", True) else -1
            self._send(200, padded, content_type, length=length, fault=kind)
        elif kind == "gzip_bomb":
            data = self.server.bomb(body, int(fault["bytes"]))
            self._send(200, data, content_type, {"Content-Encoding": "gzip"}, fault=kind)
        else:  # validate_faults refuses unknown kinds; this is a bug
            raise AssertionError(f"unhandled fault kind {kind!r}")

    def _client_gone(self) -> bool:
        """Whether the client closed the connection while we were not answering."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _reset(self) -> None:
        """Drop the connection with a TCP RST: SO_LINGER 0, then close."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True
        self.server.log(self.path, 0, self._host(), "reset")


class RunningServer:
    """A catalog server on a background thread: ``with RunningServer(root) as s: s.base_url``.

    ``faults`` are played after the generator's own (``generated_faults=False`` drops those).
    """

    def __init__(self, root: Path, port: int = 0, faults: list[dict[str, Any]] | None = None,
                 generated_faults: bool = True) -> None:
        self.server = CatalogServer(root, port, faults=faults, generated_faults=generated_faults)
        self.thread = threading.Thread(target=self.server.serve_forever, name="credcat-mirror", daemon=True)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def requests(self) -> list[tuple[float, str, int]]:
        """What the server answered so far: (monotonic time, path, status), in order."""
        with self.server.lock:
            return list(self.server.requests)

    @property
    def events(self) -> list[dict[str, Any]]:
        """What the server answered so far, in detail (host, fault kind, delivered, bytes)."""
        with self.server.lock:
            return [dict(e) for e in self.server.events]

    def start(self) -> RunningServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
