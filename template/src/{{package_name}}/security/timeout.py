"""Bound the time a request may take; a request that runs over gets a JSON 504."""

from __future__ import annotations

import asyncio

import structlog

from ._asgi import ASGIApp, Message, Receive, Scope, Send, send_json_error

__all__ = ["TimeoutMiddleware"]


class TimeoutMiddleware:
    """Cancel the handler after ``timeout`` seconds.

    Before the response starts the client gets a 504; after, the response is cut
    off (the exception goes on, so the server closes the connection).
    """

    def __init__(self, app: ASGIApp, *, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.app = app
        # Bound when the app is built, so it uses the logging configuration then in force.
        self.logger = structlog.get_logger().bind(logger=__name__)
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if not deadline.expired():
                raise  # the handler's own timeout, not ours: let the error layer answer
            self.logger.warning("request_timeout", path=scope["path"], timeout=self.timeout)
            if started:
                raise
            await send_json_error(send, 504, f"The request took longer than {self.timeout:g}s.")
