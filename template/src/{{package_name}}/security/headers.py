"""Security headers on every response, built once with the ``secure`` library."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

from secure import Secure
from secure.headers import (
    CacheControl,
    ContentSecurityPolicy,
    CrossOriginOpenerPolicy,
    CrossOriginResourcePolicy,
    CustomHeader,
    PermissionsPolicy,
    ReferrerPolicy,
    Server,
    StrictTransportSecurity,
    XContentTypeOptions,
    XFrameOptions,
)

from ._asgi import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeadersMiddleware"]

# Headers that reveal the stack: dropped from every response. ``Server`` is then
# sent empty where the server would add its own name to a response without one
# (Granian), and not at all elsewhere.
_LEAKY = frozenset({b"server", b"x-powered-by"})
_CACHE_CONTROL = b"cache-control"
_START = "http.response.start"


def _strict_csp() -> ContentSecurityPolicy:
    """An API serves no documents: nothing may load, nothing may frame it."""
    return ContentSecurityPolicy().default_src("'none'").frame_ancestors("'none'")


def _docs_csp() -> ContentSecurityPolicy:
    """Debug only: what the interactive API docs need, all served by the service itself.

    No CDN: the docs' assets are the service's own (``docs_assets``). Inline script
    and style stay allowed for the pages' bootstrap; images may be data: URIs.
    """
    return (
        ContentSecurityPolicy()
        .default_src("'self'")
        .script_src("'self'", "'unsafe-inline'")
        .style_src("'self'", "'unsafe-inline'")
        .img_src("'self'", "data:")
        .connect_src("'self'")
        .frame_ancestors("'none'")
    )


def build_headers(*, debug: bool, hsts: bool, blank_server: bool) -> list[tuple[bytes, bytes]]:
    """The header list for one mode, as ASGI bytes (done once, at start-up).

    The values are the OWASP Secure Headers Project's (checked by drheader in the
    suite): ``Cache-Control: no-store, max-age=0`` with ``Pragma: no-cache`` for
    HTTP/1.0 caches, and ``X-XSS-Protection: 0``, which turns off the XSS auditor
    of old browsers (itself a source of XSS) rather than leaving it to them.
    """
    policy = Secure(
        cache=CacheControl().no_store().max_age(0),
        custom=[CustomHeader("Pragma", "no-cache"), CustomHeader("X-XSS-Protection", "0")],
        coop=CrossOriginOpenerPolicy().same_origin(),
        corp=CrossOriginResourcePolicy().same_origin(),
        csp=_docs_csp() if debug else _strict_csp(),
        hsts=StrictTransportSecurity().max_age(31_536_000).include_subdomains() if hsts else None,
        permissions=PermissionsPolicy().geolocation().camera().microphone(),
        referrer=ReferrerPolicy().strict_origin_when_cross_origin(),
        server=Server() if blank_server else None,
        xcto=XContentTypeOptions(),
        xfo=XFrameOptions().deny(),
    )
    return [(name.lower().encode(), value.encode()) for name, value in policy.headers.items()]


class SecurityHeadersMiddleware:
    """Adds OWASP headers; HSTS only over HTTPS (or when TLS terminates upstream).

    Our values replace any the app set, except ``Cache-Control``: a route may opt in
    to caching on purpose, so ``no-store`` is only the default. ``blank_server``:
    send ``Server`` empty (the server would add its name), rather than not at all.
    """

    def __init__(
        self, app: ASGIApp, *, debug: bool, tls_terminated_upstream: bool, blank_server: bool
    ) -> None:
        self.app = app
        self.plain = build_headers(
            debug=debug, hsts=tls_terminated_upstream, blank_server=blank_server
        )
        self.tls = build_headers(debug=debug, hsts=True, blank_server=blank_server)
        self.replaced = _LEAKY | {name for name, _ in self.tls if name != _CACHE_CONTROL}
        # Names that make a response need more than "append ours": most have none.
        self.noticed = self.replaced | {_CACHE_CONTROL}

    def _merge(
        self, headers: Iterable[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """The app's headers minus those we replace, then ours (Cache-Control if it set none)."""
        merged = []
        has_cache_control = False
        for name, value in headers:
            lowered = name.lower()
            if lowered in self.replaced:
                continue
            has_cache_control = has_cache_control or lowered == _CACHE_CONTROL
            merged.append((name, value))
        for name, value in extra:
            if name != _CACHE_CONTROL or not has_cache_control:
                merged.append((name, value))
        return merged

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        extra = self.tls if scope.get("scheme") == "https" else self.plain
        noticed = self.noticed

        def send_with_headers(message: Message) -> Awaitable[None]:
            if message["type"] == _START:
                headers = message.get("headers", ())
                if type(headers) is not list:
                    headers = list(headers)  # any iterable is valid ASGI: read it once
                for name, _ in headers:
                    if name.lower() in noticed:
                        message["headers"] = self._merge(headers, extra)
                        break
                else:  # nothing to drop or keep: ours go after the app's
                    message["headers"] = [*headers, *extra]
            return send(message)

        return self.app(scope, receive, send_with_headers)
