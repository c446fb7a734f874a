"""A real upstream HTTP server on 127.0.0.1 that answers, fails or stalls on demand.

Threaded (one thread per connection, HTTP/1.1 keep-alive), so the suite can count
what reached it: requests per path and connections open at once.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any, Literal

__all__ = ["SECRET_BODY", "Mode", "UpstreamServer", "upstream_server"]

# What the failing upstream says: it must never reach a client or a log line.
SECRET_BODY = "upstream-internal: db password=Sw0rdf1sh-9Kq2 at /srv/app/handler.py line 42"
Mode = Literal["ok", "fail", "stall", "missing", "garbage", "huge", "redirect"]
STALL_LIMIT = 30.0  # a stalled answer is released by the test, or after this long


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: UpstreamServer

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        self.state.connection_opened()
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.state.connection_closed()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up on a stalled answer is expected: say nothing."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        state.record(self.path, dict(self.headers.items()))
        mode, delay = state.mode, state.delay
        if delay:
            time.sleep(delay)
        if mode == "stall":
            state.release.wait(STALL_LIMIT)
        if mode in ("ok", "stall"):
            self._answer(200, json.dumps({"value": f"value of {self.path}"}).encode())
        elif mode == "fail":
            self._answer(500, SECRET_BODY.encode(), "text/plain")
        elif mode == "missing":
            self._answer(404, json.dumps({"error": SECRET_BODY}).encode())
        elif mode == "garbage":
            self._answer(200, b"<html>" + SECRET_BODY.encode())
        elif mode == "huge":
            self._answer(200, json.dumps({"value": "x" * 200_000}).encode())
        else:  # redirect: to a place that must never be called
            self._answer(302, b"", extra={"location": f"{state.url}/elsewhere"})

    def _answer(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the suite asserts on the service's output, not this server's."""


class UpstreamServer:
    """The shared state of the server: behaviour set by the test, and what it saw."""

    def __init__(self) -> None:
        self.mode: Mode = "ok"
        self.delay = 0.0
        self.release = threading.Event()
        self.url = ""
        self.hits: Counter[str] = Counter()
        self.headers: list[dict[str, str]] = []
        self.open_connections = 0
        self.max_open_connections = 0
        self._lock = threading.Lock()

    @property
    def total_hits(self) -> int:
        return sum(self.hits.values())

    def record(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.hits[path] += 1
            self.headers.append({name.lower(): value for name, value in headers.items()})

    def connection_opened(self) -> None:
        with self._lock:
            self.open_connections += 1
            self.max_open_connections = max(self.max_open_connections, self.open_connections)

    def connection_closed(self) -> None:
        with self._lock:
            self.open_connections -= 1

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> bool:
        """Poll ``predicate()`` until true or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


@contextmanager
def upstream_server(
    port: int = 0, certificate: tuple[Path, Path] | None = None
) -> Iterator[UpstreamServer]:
    """Serve on 127.0.0.1 (``port`` 0: any free one) until the block ends; then stop."""
    server = _Server(("127.0.0.1", port), _Handler)
    state = server.state = UpstreamServer()
    scheme = "http"
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*certificate)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    listening: socket = server.socket
    state.url = f"{scheme}://127.0.0.1:{listening.getsockname()[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        state.release.set()  # stalled answers end now
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
