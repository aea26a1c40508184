"""Serve a generated demo catalog on 127.0.0.1, with the faults it declares.

The server maps each request's path and query to a file through ``routes.json``, replaces
``{{BASE}}`` in bodies with its own base URL, and plays ``faults.json``: the first ``times``
requests of a path answer the fault's status and headers (a 500 that succeeds on retry, a
429 with Retry-After ...). Several faults of one path play in order, each for its ``times``
(a 429, then a 503, then the page). It binds to loopback only, and keeps a log of what it
answered (``requests``: time, path, status), which tests use to check waits and retries.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote


class CatalogServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, port: int = 0, host: str = "127.0.0.1") -> None:
        self.root = Path(root)
        self.routes: dict[str, dict[str, str]] = json.loads((self.root / "routes.json").read_text())
        faults_file = self.root / "faults.json"
        self.faults: list[dict[str, Any]] = json.loads(faults_file.read_text()) if faults_file.exists() else []
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[float, str, int]] = []  # (monotonic time, path, status)
        self.lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def fault_for(self, path: str) -> dict[str, Any] | None:
        """The fault the n-th request of ``path`` plays, if any (faults of a path play in order)."""
        path = unquote(path)
        with self.lock:
            self.hits[path] += 1
            n = self.hits[path]
        played = 0
        for fault in self.faults:
            if unquote(fault["path"]) != path:
                continue
            played += int(fault.get("times", 1))
            if n <= played:
                return fault
        return None

    def route_for(self, path: str) -> dict[str, str] | None:
        """The route of a request path; a percent-encoded spelling of a route matches it too."""
        return self.routes.get(path) or self.routes.get(unquote(path))

    def log(self, path: str, status: int) -> None:
        with self.lock:
            self.requests.append((time.monotonic(), path, status))


class _Handler(BaseHTTPRequestHandler):
    server: CatalogServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: the crawl stats tell the story

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.server.log(self.path, status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path
        fault = self.server.fault_for(path)
        if fault is not None:
            self._send(int(fault["status"]), b"injected fault", "text/plain", fault.get("headers"))
            return
        route = self.server.route_for(path)
        if route is None:
            self._send(404, b"not found", "text/plain")
            return
        file = (self.server.root / route["file"]).resolve()
        if self.server.root.resolve() not in file.parents:
            self._send(403, b"forbidden", "text/plain")
            return
        body = file.read_bytes().replace(b"{{BASE}}", self.server.base_url.encode())
        self._send(200, body, route["content_type"])


class RunningServer:
    """A catalog server on a background thread: ``with RunningServer(root) as s: s.base_url``."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.server = CatalogServer(root, port)
        self.thread = threading.Thread(target=self.server.serve_forever, name="credcat-mirror", daemon=True)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def requests(self) -> list[tuple[float, str, int]]:
        """What the server answered so far: (monotonic time, path, status), in order."""
        with self.server.lock:
            return list(self.server.requests)

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
