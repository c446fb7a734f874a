"""Refuse request bodies over the limit, whether declared or streamed, without buffering."""

from __future__ import annotations

from collections.abc import Awaitable

from ._asgi import ASGIApp, Message, Receive, Scope, Send, dropped, send_json_error

__all__ = ["MaxBodySizeMiddleware"]

_CONTENT_LENGTH = b"content-length"
_START = "http.response.start"
_MALFORMED = "Malformed Content-Length header."


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

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A plain function handing the app's awaitable back where nothing is left to
        # do after it: no frame of ours stays in the request's coroutine chain.
        if scope["type"] != "http":
            return self.app(scope, receive, send)

        length = None
        for name, value in scope["headers"]:
            if name == _CONTENT_LENGTH:
                if length is not None:  # two: a request-smuggling shape
                    return send_json_error(send, 400, _MALFORMED, control="body_size")
                length = value
        if length is not None:
            # One plain decimal number only: anything else is a request-smuggling shape.
            if not length.isdigit() or len(length) > 19:
                return send_json_error(send, 400, _MALFORMED, control="body_size")
            if int(length) > self.limit:
                return send_json_error(send, 413, self.too_large, control="body_size")
            # The server enforces the declared framing, so the stream cannot exceed it.
            return self.app(scope, receive, send)
        return self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """No declared length (chunked, HTTP/2): count the bytes as the app reads them.

        Every request without one comes here, GETs too: the count does not trust
        the server's framing to mean "no body".
        """
        limit = self.limit
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
                if received > limit:
                    rejected = True
                    if not started:
                        await send_json_error(send, 413, self.too_large, control="body_size")
                    return {"type": "http.disconnect"}
            return message

        def guarded_send(message: Message) -> Awaitable[None]:
            nonlocal started
            if rejected:
                return dropped()  # we answered already; whatever the app says now goes nowhere
            if not started and message["type"] == _START:
                started = True
            return send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not rejected:
                raise
            # The app failed on the disconnect we gave it; the client has its 413.
