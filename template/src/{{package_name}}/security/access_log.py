"""One structured log line per request: method, path, status, duration, client."""

from __future__ import annotations

import time

import structlog

from ._asgi import ASGIApp, Message, Receive, Scope, Send
from .client import client_ip

__all__ = ["AccessLogMiddleware"]


class AccessLogMiddleware:
    """Logs after the response; the query string is never logged (it may hold secrets)."""

    def __init__(self, app: ASGIApp, *, logger_name: str) -> None:
        self.app = app
        # Resolved now, with the logging configuration in force when the app is built.
        self.logger = structlog.get_logger().bind(logger=logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees if nothing is sent at all
        start = time.perf_counter()

        async def status_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, status_send)
        finally:
            self.logger.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - start) * 1000, 2),
                client=client_ip(scope),
            )
