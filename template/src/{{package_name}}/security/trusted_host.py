"""Reject requests whose ``Host`` header is not one of ``TRUSTED_HOSTS``.

Hand-written rather than Starlette's ``TrustedHostMiddleware`` for two reasons:
Starlette answers in plain text (ours is the one JSON error shape every status
uses) and it can redirect to ``www.``, which an API must not do on its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from ._asgi import ASGIApp, Receive, Scope, Send, send_json_error

__all__ = ["TrustedHostMiddleware"]

_HOST = b"host"
_KNOWN_MAX = 256


def _hostname(raw: bytes) -> str:
    """Host header without port, lowercased; IPv6 literals keep their brackets."""
    host = raw.decode("latin-1").strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0]


class TrustedHostMiddleware:
    """Exact names, or ``*.example.com`` for any subdomain (not the apex itself)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str]) -> None:
        if isinstance(allowed_hosts, str) or not allowed_hosts:
            raise ValueError("allowed_hosts must be a non-empty sequence of host names")
        self.app = app
        self.exact = frozenset(h.lower() for h in allowed_hosts if not h.startswith("*."))
        self.suffixes = tuple(h.lower()[1:] for h in allowed_hosts if h.startswith("*."))
        # Raw Host values already found allowed. Clients send the same few values
        # (name:port), so this saves parsing on almost every request; bounded,
        # because a client chooses what it sends. Refused values are never kept.
        self.known: set[bytes] = set()

    def is_allowed(self, host: str) -> bool:
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))

    def _allows(self, raw: bytes) -> bool:
        if not self.is_allowed(_hostname(raw)):
            return False
        if len(self.known) < _KNOWN_MAX:
            self.known.add(raw)
        return True

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A plain function handing the app's awaitable back: no frame of ours stays
        # in the request's coroutine chain (see _asgi.py).
        if scope["type"] not in ("http", "websocket"):
            return self.app(scope, receive, send)
        host = None
        for name, value in scope["headers"]:
            if name == _HOST:
                if host is not None:
                    host = None  # more than one: refused, whatever they say
                    break
                host = value
        if host is not None and (host in self.known or self._allows(host)):
            return self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return send({"type": "websocket.close", "code": 1008})
        return send_json_error(send, 400, "Invalid host header.", control="host")
