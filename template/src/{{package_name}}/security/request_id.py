"""Give every request an id, echo it, and expose it to logs and error bodies."""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Iterable

from ._asgi import REQUEST_ID, ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestIdMiddleware", "new_request_id", "request_id_from"]

HEADER = b"x-request-id"
_START = "http.response.start"
# A client id is reused only if it cannot smuggle anything into logs or headers.
_WELL_FORMED = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def _without_ours(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The app's headers minus any ``X-Request-ID`` of its own (any case): ours replaces it."""
    return [(name, value) for name, value in headers if name.lower() != HEADER]


# Made ids are drawn from os.urandom in batches: one system call per 256 ids, not per
# request (a system call also lets the server's other threads take the GIL).
# ``list.pop`` is atomic, so threads never share an id; a forked child starts
# with an empty pool instead of its parent's.
_BATCH = 256
_pool: list[str] = []
os.register_at_fork(after_in_child=_pool.clear)


def new_request_id() -> str:
    """128 random bits as 32 lowercase hex digits."""
    try:
        return _pool.pop()
    except IndexError:
        batch = os.urandom(16 * _BATCH).hex()
        _pool.extend([batch[i : i + 32] for i in range(32, len(batch), 32)])
        return batch[:32]


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's ``x-request-id`` if well-formed (the first one counts), else a new id.

    Shared by the HTTP layer and the gRPC interceptor (metadata in the same shape).
    """
    for name, value in headers:
        if name == HEADER:
            return value.decode("ascii") if _WELL_FORMED.fullmatch(value) else new_request_id()
    return new_request_id()


class RequestIdMiddleware:
    """Reuse a well-formed ``X-Request-ID`` or make a random one; outermost, so every answer has it.

    A made id is 128 random bits in hex: as unique as a UUID4 at a sixth of the cost.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = request_id_from(scope["headers"])
        header = (HEADER, request_id.encode("ascii"))
        scope.setdefault("state", {})["request_id"] = request_id

        def send_with_id(message: Message) -> Awaitable[None]:
            if message["type"] == _START:
                headers = message.get("headers", ())
                if type(headers) is not list:
                    headers = list(headers)  # any iterable is valid ASGI: read it once
                # Header names are short: only one of our length can be ours.
                for name, _ in headers:
                    if len(name) == 12 and name.lower() == HEADER:
                        headers = _without_ours(headers)
                        break
                message["headers"] = [*headers, header]
            return send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
