"""Bound the time a request may take; a request that runs over gets a JSON 504."""

from __future__ import annotations

import asyncio

import structlog

from ._asgi import ASGIApp, ErrorResponse, Receive, Scope, Send

__all__ = ["TimeoutMiddleware"]


class TimeoutMiddleware:
    """Cancel the handler after ``timeout`` seconds and raise a 504 :class:`ErrorResponse`.

    The error layer (outside this one) answers it if the response has not
    started; otherwise the response is cut off and the server closes the connection.
    """

    def __init__(self, app: ASGIApp, *, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.app = app
        # Bound when the app is built, so it uses the logging configuration then in force.
        self.logger = structlog.get_logger().bind(logger=__name__)
        self.timeout = timeout
        self.message = f"The request took longer than {timeout:g}s."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                await self.app(scope, receive, send)
        except TimeoutError as error:
            if not deadline.expired():
                raise  # the handler's own timeout, not ours: let the error layer answer
            self.logger.warning("request_timeout", path=scope["path"], timeout=self.timeout)
            raise ErrorResponse(504, self.message) from error
