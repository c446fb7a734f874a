"""The tracing layer: one server span per HTTP request, named by its route template.

Inert unless configured: with no tracer provider (no OTLP endpoint, or
TELEMETRY_DISABLED=true), :func:`instrument` returns the app untouched.

Placement: :mod:`..asgi` wraps the secured app last, so this layer is outermost and
the security layers' own answers (401, 413, 429, 504...) are spans too. The
request-id layer and the framework's router therefore run *inside* the span, and
their context is gone by the time control returns here; but both leave what the
span needs in the ASGI scope, the one dict every layer shares: the request id in
``scope["state"]`` and the route as the adapter reads it (``app.route_template``).
The span is named and annotated from the scope when the response starts, the last
moment before it ends. No security layer knows that tracing exists.

What the tracer sees is a copy of the scope without the query string (it may hold
secrets) and with only the request headers in :data:`TRACED_HEADERS`: never
``Authorization``, ``Cookie`` or an API key, whatever the
``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`` variables ask for. Response headers
captured that way are redacted if their names match :data:`REDACTED_HEADERS`. Spans
carry no events (see :mod:`.provider`). The health probes are not traced:
orchestrators poll them every few seconds. Outbound calls made while serving a
request are its child spans (:mod:`.outbound`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider

from ..api import HEALTH_PATHS
from ..app import route_template
from ..security._asgi import ASGIApp, Message, Receive, Scope, Send
from ..security.client import client_ip
from ..settings import Settings
from .outbound import REQUEST_PROVIDER, instrument_outbound
from .provider import build_tracer_provider, close

__all__ = [
    "REDACTED_HEADERS",
    "REQUEST_ID_ATTRIBUTE",
    "TRACED_HEADERS",
    "TracingMiddleware",
    "instrument",
]

REQUEST_ID_ATTRIBUTE = "request.id"
# The only request headers the tracer is shown: what it needs to describe the request
# and continue an incoming W3C trace. Anything else (credentials, cookies) stays out.
TRACED_HEADERS = frozenset(
    {b"host", b"user-agent", b"content-length", b"content-type", b"traceparent", b"tracestate"}
)
# Header names (regular expressions, searched) whose captured values are redacted.
REDACTED_HEADERS = ["authorization", "cookie", "api-key", "token", "secret", "session"]
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "PATCH"})
_SCOPE = f"{__name__}.scope"  # the real scope, carried in the tracer's copy
_START = "http.response.start"
_SHUTDOWN = frozenset({"lifespan.shutdown.complete", "lifespan.shutdown.failed"})


def _method(scope: Scope) -> str:
    """The request method, or ``HTTP`` for any other: span names stay a small set."""
    method = str(scope.get("method", "")).upper()
    return method if method in _METHODS else "HTTP"


def _first_name(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The span's name until the route is known: the method, never the raw path."""
    return _method(scope), {}


def _tracer_view(scope: Scope) -> dict[str, Any]:
    """What the tracer may read: no query string, only :data:`TRACED_HEADERS`."""
    headers = [(name, value) for name, value in scope["headers"] if name in TRACED_HEADERS]
    return {**scope, "query_string": b"", "headers": headers, _SCOPE: scope}


def _annotate(span: trace.Span, scope: Scope) -> None:
    """Name the span by its route template; add the request id and the resolved client."""
    if not span.is_recording():
        return
    if (route := route_template(scope)) is not None:
        span.update_name(f"{_method(scope)} {route}")
        span.set_attribute("http.route", route)
    request_id = scope.get("state", {}).get("request_id")
    if isinstance(request_id, str):
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
    span.set_attribute("client.address", client_ip(scope))  # after TRUSTED_PROXIES


class TracingMiddleware:
    """Outermost layer: a server span for every HTTP request but the health probes.

    At the lifespan's shutdown the provider is closed (what is queued is exported,
    within ``close_timeout``): server workers may exit without running ``atexit``.
    """

    def __init__(self, app: ASGIApp, *, provider: TracerProvider, close_timeout: float) -> None:
        self.app = app
        self.provider = provider
        self.close_timeout = close_timeout
        self.tracer = OpenTelemetryMiddleware(
            self._traced,
            default_span_details=_first_name,
            tracer_provider=provider,
            http_capture_headers_sanitize_fields=REDACTED_HEADERS,
            exclude_spans=["receive", "send"],  # one span per request, not one per message
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing(send))
        elif scope["type"] != "http" or scope["path"] in HEALTH_PATHS:
            await self.app(scope, receive, send)
        else:
            await self.tracer(_tracer_view(scope), receive, send)

    def _closing(self, send: Send) -> Send:
        """``send`` for the lifespan: close the provider before shutdown is reported done."""

        async def closing_send(message: Message) -> None:
            if message["type"] in _SHUTDOWN:
                await asyncio.to_thread(close, self.provider, self.close_timeout)
            await send(message)

        return closing_send

    async def _traced(self, view: Scope, receive: Receive, send: Send) -> None:
        """Inside the span: serve the real scope, annotate the span as the response starts."""
        scope: Scope = view[_SCOPE]
        span = trace.get_current_span()
        annotated = False

        def annotating_send(message: Message) -> Awaitable[None]:
            nonlocal annotated
            if message["type"] == _START and not annotated:
                annotated = True
                _annotate(span, scope)
            return send(message)

        outbound = REQUEST_PROVIDER.set(self.provider)  # its outbound calls: child spans
        try:
            await self.app(scope, receive, annotating_send)
        finally:
            REQUEST_PROVIDER.reset(outbound)
            if not annotated:  # no response at all (the client left): still say what it was
                _annotate(span, scope)


def instrument(app: ASGIApp, settings: Settings) -> ASGIApp:
    """``app`` inside the tracing layer, or ``app`` itself when tracing is off."""
    provider = build_tracer_provider(settings)
    if provider is None:
        return app
    instrument_outbound()
    timeout = settings.telemetry_export_timeout
    return TracingMiddleware(app, provider=provider, close_timeout=timeout)
