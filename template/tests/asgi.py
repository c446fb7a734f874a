"""Drive an ASGI app message by message, for what an HTTP client cannot show.

(How many body chunks the app pulled; a body streamed without Content-Length.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message

from .credentials import CREDENTIALS

# A full-scope credential of the first kind this variant accepts.
DEFAULT_CREDENTIAL = next(iter(CREDENTIALS.values()))


@dataclass
class Exchange:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks_pulled: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


async def exchange(
    app: ASGIApp,
    *,
    method: str = "POST",
    path: str = "/",
    headers: Iterable[tuple[str, str]] = (),
    chunks: Iterable[bytes] = (),
    client: tuple[str, int] = ("127.0.0.1", 50000),
    credentials: dict[str, str] | None = DEFAULT_CREDENTIAL,
) -> Exchange:
    """Send one request with ``chunks`` as its streamed body; collect the answer.

    The request carries a valid credential unless ``credentials`` says otherwise.
    """
    result = Exchange()
    pending = iter(chunks)
    done = False

    async def receive() -> Message:
        nonlocal done
        if done:
            return {"type": "http.disconnect"}
        chunk = next(pending, None)
        if chunk is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        result.chunks_pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            result.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in (credentials or {}).items()]
        + [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": client,
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return result


async def lifespan_cycle(app: ASGIApp) -> list[str]:
    """Start the app up and shut it down, as a server does; the message types it sent."""
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent
