"""Audit log: every state-changing request and every authentication or authorization failure.

One line on ``<package>.audit`` with method, path, status, client and principal
id. Never a credential: the principal id is a configured name or a token subject.
"""

from __future__ import annotations

from collections.abc import Awaitable

import structlog

from ._asgi import ASGIApp, Message, Receive, Scope, Send
from .client import client_ip
from .csrf import SAFE_METHODS
from .principal import current_principal

__all__ = ["AuditMiddleware"]

AUTH_FAILURES = frozenset({401, 403})
_START = "http.response.start"


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, logger_name: str) -> None:
        self.app = app
        self.logger = structlog.get_logger().bind(logger=logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
            if scope["method"] not in SAFE_METHODS or status in AUTH_FAILURES:
                principal = current_principal(scope)
                self.logger.info(
                    "audit",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    client=client_ip(scope),
                    principal=principal.id if principal else None,
                    credential=principal.kind if principal else None,
                )
