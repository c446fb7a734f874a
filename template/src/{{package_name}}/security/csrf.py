"""Refuse cross-site state changes: an ``Origin`` that is neither ours nor allowed gets 403.

Browsers send ``Origin`` on every cross-origin request and on same-origin
POSTs; non-browser clients usually send none, and pass (they are not a CSRF
vector). ``Origin: null`` (sandboxed frames, redirects) is refused.

Our own origin is the request's scheme and ``Host``. When TLS terminates at a
proxy in front of us, the request arrives over plain HTTP but the browser's page
is ``https://<Host>``: that, and only that, is ours then. ``http://<Host>`` is
not: the service is HTTPS-only (HSTS on every response), and a plain-HTTP page
is one anybody on the network path can write. The ``Host`` itself is the
browser's (a page cannot set it); ``TRUSTED_HOSTS``, checked before this layer,
also shuts out names that are not ours (DNS rebinding).

A WebSocket handshake is checked the same way whatever its method (a browser
sends ``Origin`` on every one, and a cross-site page may open one with the
user's ambient credentials: cross-site WebSocket hijacking). It is refused by
closing it before it completes (the client sees HTTP 403).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

from ._asgi import ASGIApp, Receive, Scope, Send, send_json_error

__all__ = ["CSRFMiddleware"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# A WebSocket's origin is its page's: http(s), not ws(s).
_PAGE_SCHEMES = {"ws": "http", "wss": "https"}


class CSRFMiddleware:
    def __init__(
        self, app: ASGIApp, *, allowed_origins: Iterable[str], tls_terminated_upstream: bool
    ) -> None:
        self.app = app
        self.allowed = frozenset(origin.lower().encode() for origin in allowed_origins)
        self.https_only = tls_terminated_upstream

    def _own_origin(self, scope: Scope) -> bytes | None:
        host: bytes | None = next((v for name, v in scope["headers"] if name == b"host"), None)
        if host is None:
            return None
        scheme: str = scope.get("scheme", "http")
        page_scheme = "https" if self.https_only else _PAGE_SCHEMES.get(scheme, scheme)
        return page_scheme.encode() + b"://" + host.lower()

    def _cross_site(self, scope: Scope) -> bool:
        origins = [value for name, value in scope["headers"] if name == b"origin"]
        if not origins:
            return False
        origin = origins[0].lower()
        return len(origins) > 1 or (
            origin not in self.allowed and origin != self._own_origin(scope)
        )

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        kind = scope["type"]
        if kind == "websocket":
            if self._cross_site(scope):
                return send({"type": "websocket.close", "code": 1008})
        elif kind == "http" and scope["method"] not in SAFE_METHODS and self._cross_site(scope):
            return send_json_error(send, 403, "Cross-site request refused.", control="csrf")
        return self.app(scope, receive, send)
