"""Audit log: every state-changing request and every authentication or authorization failure.

One line on ``<package>.audit`` with method, path, status, client and principal
id. Never a credential: the principal id is a configured name or a token subject.
A WebSocket handshake refused (foreign ``Origin``, no or a query-string
credential, host, rate limit, scope) is one too: method ``WEBSOCKET``, status
403 (what the client sees) and the close code the refusing layer chose.
"""

from __future__ import annotations

from collections.abc import Awaitable

import structlog

from ._asgi import ASGIApp, Message, Receive, Scope, Send
from .access_log import emitter
from .client import client_ip
from .csrf import SAFE_METHODS
from .principal import current_principal

__all__ = ["AuditMiddleware"]

AUTH_FAILURES = frozenset({401, 403})
_START = "http.response.start"


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, logger_name: str) -> None:
        self.app = app
        self.logger_name = logger_name
        self.logger = structlog.get_logger().bind(logger=logger_name)
        # The line ``self.logger.info("audit", ...)`` writes, without structlog's per-call
        # dispatch (resolved now, as the access log's is): one per state-changing request.
        self.emit = emitter(self.logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # if nothing is sent at all, the server answers 500

        def status_send(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == _START:
                status = message["status"]
            return send(message)

        try:
            await self.app(scope, receive, status_send)
        finally:
            emit = self.emit
            if emit is not None and (
                scope["method"] not in SAFE_METHODS or status in AUTH_FAILURES
            ):
                principal = current_principal(scope)
                # Keys in the order ``logger.info`` gives them: bound context, fields, event.
                emit(
                    {
                        "logger": self.logger_name,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "client": client_ip(scope),
                        "principal": principal.id if principal else None,
                        "credential": principal.kind if principal else None,
                        "event": "audit",
                    }
                )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A close before the accept is a refused handshake: audited."""
        accepted = False
        refused: int | None = None

        def watching_send(message: Message) -> Awaitable[None]:
            nonlocal accepted, refused
            kind = message["type"]
            if kind == "websocket.accept":
                accepted = True
            elif not accepted and refused is None and kind == "websocket.close":
                refused = message.get("code", 1000)
            return send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            if refused is not None:
                principal = current_principal(scope)
                self.logger.info(
                    "audit",
                    method="WEBSOCKET",
                    path=scope["path"],
                    status=403,
                    close_code=refused,
                    client=client_ip(scope),
                    principal=principal.id if principal else None,
                    credential=principal.kind if principal else None,
                )
