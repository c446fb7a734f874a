"""App factory the wire tests hand to the real server: the test app, secured."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from .framework import build_test_app
from .service import ASGIApp, create_app


def create_test_app() -> ASGIApp:
    return stuck_worker(create_app(build=build_test_app))


def stuck_worker(app: ASGIApp) -> ASGIApp:
    """``/_test/stuck?seconds=N`` blocks the worker's event loop (blocking code in a handler).

    No server can drain such a worker: only the exit deadline ends it.
    """

    async def blocking(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/_test/stuck":
            query = parse_qs(scope["query_string"].decode())
            time.sleep(float(query.get("seconds", ["30"])[0]))  # noqa: ASYNC251 - the point
        await app(scope, receive, send)

    return blocking
