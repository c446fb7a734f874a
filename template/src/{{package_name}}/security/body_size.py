"""Refuse request bodies over the limit, whether declared or streamed, without buffering."""

from __future__ import annotations

from ._asgi import ASGIApp, Message, Receive, Scope, Send, send_json_error

__all__ = ["MaxBodySizeMiddleware"]

_CONTENT_LENGTH = b"content-length"


class MaxBodySizeMiddleware:
    """413 JSON for bodies over ``max_body_size`` bytes; 400 for a malformed length.

    A declared ``Content-Length`` is checked before the app runs. Without one
    (chunked uploads, HTTP/2) the bytes are counted as the app reads them; at the
    limit the 413 is sent at once and the app sees a disconnect, so it never
    holds more than the limit in memory.
    """

    def __init__(self, app: ASGIApp, *, max_body_size: int) -> None:
        if max_body_size < 1:
            raise ValueError("max_body_size must be positive")
        self.app = app
        self.limit = max_body_size
        self.too_large = f"The request body exceeds {max_body_size} bytes."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        lengths = [value for name, value in scope["headers"] if name == _CONTENT_LENGTH]
        if lengths:
            # One plain decimal number only: anything else is a request-smuggling shape.
            if len(lengths) > 1 or not lengths[0].isdigit() or len(lengths[0]) > 19:
                await send_json_error(send, 400, "Malformed Content-Length header.")
                return
            if int(lengths[0]) > self.limit:
                await send_json_error(send, 413, self.too_large)
                return
            # The server enforces the declared framing, so the stream cannot exceed it.
            await self.app(scope, receive, send)
            return

        await self._guard_stream(scope, receive, send)

    async def _guard_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False
        rejected = False

        async def counting_receive() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    rejected = True
                    if not started:
                        await send_json_error(send, 413, self.too_large)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # we answered already; whatever the app says now goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not rejected:
                raise
            # The app failed on the disconnect we gave it; the client has its 413.
