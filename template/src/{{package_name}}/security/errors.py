"""Turn any unhandled exception into a generic JSON 500: no stack trace, no exception text.

This layer also says, per request, which error body shape (ERROR_FORMAT) every
error answered inside it takes, the framework adapters' included.
"""

from __future__ import annotations

from collections.abc import Awaitable

import structlog

from ._asgi import ASGIApp, ErrorResponse, Message, Receive, Scope, Send, send_json_error
from .problem import ERROR_FORMAT, ErrorFormat

__all__ = ["ExceptionHandlerMiddleware", "log_unhandled"]

_START = "http.response.start"
_BODY = "http.response.body"


def log_unhandled(method: str, path: str) -> None:
    """Log the exception being handled, once, with the request id (the only record of it).

    Used by this layer and by framework adapters whose framework answers a
    handler's exception itself instead of letting it propagate.
    """
    structlog.get_logger().bind(logger=__name__).exception(
        "unhandled_exception", method=method, path=path
    )


class ExceptionHandlerMiddleware:
    """Last line of defence; it never starts a response that has already started.

    An :class:`ErrorResponse` raised by an inner layer (e.g. the timeout) becomes
    its JSON error.
    If the inner app already sent a complete error response (frameworks do, then
    re-raise) the exception is logged and swallowed. If a response was cut off
    half-way, it is re-raised so the server drops the connection: the client must
    not mistake a truncated body for a complete one.
    """

    def __init__(self, app: ASGIApp, *, error_format: ErrorFormat = "both") -> None:
        self.app = app
        self.error_format: ErrorFormat = error_format

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One coroutine frame: each frame in the chain is re-entered at every await below.
        started = False
        complete = False

        def tracking_send(message: Message) -> Awaitable[None]:
            nonlocal started, complete
            kind = message["type"]
            if kind == _START:
                started = True
            elif kind == _BODY and not message.get("more_body"):
                complete = True
            return send(message)

        shape = ERROR_FORMAT.set(self.error_format)
        try:
            await self.app(scope, receive, tracking_send)
        except ErrorResponse as error:
            if started:
                raise  # too late to answer: the server drops the connection
            await send_json_error(send, error.status, error.detail, control=error.control)
        except Exception:
            log_unhandled(scope["method"], scope["path"])
            if not started:
                await send_json_error(send, 500)
            elif not complete:
                raise
        finally:
            ERROR_FORMAT.reset(shape)
