"""Refuse cross-site state changes: an ``Origin`` that is neither ours nor allowed gets 403.

Browsers send ``Origin`` on every cross-origin request and on same-origin
POSTs; non-browser clients usually send none, and pass (they are not a CSRF
vector). ``Origin: null`` (sandboxed frames, redirects) is refused.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._asgi import ASGIApp, Receive, Scope, Send, send_json_error

__all__ = ["CSRFMiddleware"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, *, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(origin.lower().encode() for origin in allowed_origins)

    def _own_origin(self, scope: Scope) -> bytes | None:
        host = next((value for name, value in scope["headers"] if name == b"host"), None)
        return (
            None if host is None else scope.get("scheme", "http").encode() + b"://" + host.lower()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        origins = [value for name, value in scope["headers"] if name == b"origin"]
        if origins:
            origin = origins[0].lower()
            if len(origins) > 1 or (
                origin not in self.allowed and origin != self._own_origin(scope)
            ):
                await send_json_error(send, 403, "Cross-site request refused.")
                return
        await self.app(scope, receive, send)
