"""Per-client rate limiting: 429 over the limit, 503 when the store is down.

A WebSocket handshake counts as a GET of its path; over the limit it is closed
before it completes (the client sees HTTP 403).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from ._asgi import ASGIApp, Message, Receive, Scope, Send, send_json_error
from .client import client_ip
from .limiter import Decision, RateLimiter, client_key
from .observe import observer

__all__ = ["RateLimitMiddleware"]


def _limit_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    reset = str(decision.reset_after).encode()
    headers = [(b"retry-after", reset)]
    if not decision.unavailable:
        headers += [
            (b"ratelimit-limit", str(decision.limit).encode()),
            (b"ratelimit-remaining", str(decision.remaining).encode()),
            (b"ratelimit-reset", reset),
        ]
    return headers


class RateLimitMiddleware:
    """Keys on the client identity (never on a header the client controls).

    Exact exempt paths (health probes) are never limited. If the store fails,
    requests are refused with 503 unless the limiter was built to fail open, in
    which case they pass and the failure is logged.
    """

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, exempt_paths: Iterable[str]) -> None:
        self.app = app
        self.limiter = limiter
        self.exempt = frozenset(exempt_paths)
        self.logger = structlog.get_logger().bind(logger=__name__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._closing_on_shutdown(receive), send)
            return
        kind = scope["type"]
        if kind not in ("http", "websocket") or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        key = client_key(client_ip(scope))
        # A WebSocket handshake is a GET, and counts as one.
        method = scope["method"] if kind == "http" else "GET"
        decision = await self.limiter.hit(key, f"{method} {scope['path']}")
        if decision.unavailable:
            self.logger.error("rate_limit_store_unavailable", fail_open=decision.allowed)
        if decision.allowed:
            await self.app(scope, receive, send)
        elif kind == "websocket":
            observer().refused("rate_limit_unavailable" if decision.unavailable else "rate_limit")
            await send({"type": "websocket.close", "code": 1013})  # the client sees HTTP 403
        elif decision.unavailable:
            await send_json_error(
                send,
                503,
                "Rate limiting is unavailable; retry shortly.",
                _limit_headers(decision),
                control="rate_limit_unavailable",
            )
        else:
            await send_json_error(send, 429, None, _limit_headers(decision), control="rate_limit")

    def _closing_on_shutdown(self, receive: Receive) -> Receive:
        """The server says shut down: release the store's connections first."""

        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.limiter.aclose()
            return message

        return wrapped
