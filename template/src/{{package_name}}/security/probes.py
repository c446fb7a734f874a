"""Liveness probes go straight to the app past the request checks they are exempt from.

An orchestrator asks ``GET /livez`` (or ``/health``, ``/healthz``) every few
seconds of every pod's life. Below the host check every layer is a request check
that a liveness probe is exempt from by design: no credentials, no rate limit, no
CSRF (a safe method), no JSON body, no readiness (``/ready`` and ``/readyz`` are
not liveness paths and take the whole stack), and a constant answer that a
timeout cannot improve. Each of those layers would look at the probe and pass it
on; skipping them takes about a quarter off what the stack costs that route
(docs/performance.md). What every response gets stays: request id, access line,
security headers, CORS, audit, the error layer and the host check sit above this
one.

Only a bodiless ``GET`` or ``HEAD`` takes the short cut: a probe that announces a
body (``Content-Length``, ``Transfer-Encoding``) goes down the whole stack, so the
body-size limit still bounds what any request can make the framework read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

from ._asgi import ASGIApp, Receive, Scope, Send

__all__ = ["LivenessShortcut"]

_PROBE_METHODS = frozenset({"GET", "HEAD"})
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})


class LivenessShortcut:
    """Send bodiless liveness probes to ``probes`` (the framework app), the rest to ``app``.

    Without ``probes`` there is no short cut: every request goes to ``app``.
    """

    def __init__(
        self, app: ASGIApp, *, paths: Iterable[str], probes: ASGIApp | None = None
    ) -> None:
        self.app = app
        self.paths = frozenset(paths) if probes is not None else frozenset()
        self.probes = probes if probes is not None else app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if (
            scope["type"] == "http"
            and scope["path"] in self.paths
            and scope["method"] in _PROBE_METHODS
            and not any(name in _BODY_HEADERS for name, _ in scope["headers"])
        ):
            return self.probes(scope, receive, send)
        return self.app(scope, receive, send)
