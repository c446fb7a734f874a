"""Give every request an id, echo it, and expose it to logs and error bodies."""

from __future__ import annotations

import os
import re

from ._asgi import REQUEST_ID, ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestIdMiddleware"]

HEADER = b"x-request-id"
# A client id is reused only if it cannot smuggle anything into logs or headers.
_WELL_FORMED = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


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

        raw = next((value for name, value in scope["headers"] if name == HEADER), None)
        request_id = (
            raw.decode("ascii")
            if raw is not None and _WELL_FORMED.fullmatch(raw)
            else os.urandom(16).hex()
        )
        encoded = request_id.encode("ascii")
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                headers.append((HEADER, encoded))
                message["headers"] = headers
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
