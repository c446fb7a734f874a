"""One access line per stream when it ends: how long, how much was sent, why it ended.

A request's access line is written when its response ends, which for a stream
may be hours later and says nothing of what flowed. So every stream served by
the core (SSE and WebSocket) also gets one ``stream`` line on ``<package>.access``:
kind, path, duration, events and bytes sent, the end reason (and a WebSocket's
close code), client and request id. Never the query string or a header value.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

import structlog

from ._asgi import Scope
from .client import client_ip
from .request_id import request_id_from

__all__ = ["StreamRecord"]

_PACKAGE = __name__.partition(".")[0]
_LOGGER = f"{_PACKAGE}.access"


class StreamRecord:
    """What one stream sent; :meth:`finish` writes its line (once)."""

    __slots__ = ("_done", "_start", "bytes", "client", "events", "kind", "path", "request_id")

    def __init__(self, scope: Scope, kind: str) -> None:
        self.kind = kind
        self.path: str = scope["path"]
        self.client = client_ip(scope)
        # Set by the request-id layer for HTTP; a WebSocket's comes from its handshake.
        state = scope.get("state") or {}
        self.request_id: str = state.get("request_id") or request_id_from(scope["headers"])
        self.events = 0
        self.bytes = 0
        self._start = perf_counter()
        self._done = False

    def sent(self, size: int, *, event: bool = True) -> None:
        """Count a chunk sent (a heartbeat is bytes, not an event)."""
        self.bytes += size
        self.events += event

    def finish(self, reason: str, **outcome: Any) -> None:
        if self._done:
            return
        self._done = True
        structlog.get_logger().bind(logger=_LOGGER).info(
            "stream",
            kind=self.kind,
            path=self.path,
            duration_ms=round((perf_counter() - self._start) * 1000, 2),
            events=self.events,
            bytes=self.bytes,
            reason=reason,
            **outcome,
            client=self.client,
            request_id=self.request_id,
        )
