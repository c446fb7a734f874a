"""Gzip for clients that ask for it; everyone else pays nothing.

Starlette's ``GZipMiddleware`` wraps every response, even when the client sent
no ``Accept-Encoding: gzip``; measured here that is ~8 us per request for
nothing. This subclass looks at the header first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

from starlette.middleware.gzip import GZipMiddleware as StarletteGZipMiddleware

from ._asgi import Receive, Scope, Send

__all__ = ["GZipMiddleware"]

_ACCEPT_ENCODING = b"accept-encoding"


def _accepts_gzip(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    # A plain loop: any() over a generator costs more than the scan itself.
    for name, value in headers:  # noqa: SIM110
        if name == _ACCEPT_ENCODING and b"gzip" in value.lower():
            return True
    return False


class GZipMiddleware(StarletteGZipMiddleware):
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:  # type: ignore[override]
        if scope["type"] == "http" and _accepts_gzip(scope["headers"]):
            return super().__call__(scope, receive, send)
        return self.app(scope, receive, send)
