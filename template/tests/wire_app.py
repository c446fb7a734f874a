"""App factory the wire tests hand to the real server: the test app, secured."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from .framework import build_test_app
from .service import PACKAGE, ASGIApp, ItemEvents, create_app

# The item events of the app built last in this process (the one being served).
BUILT: list[ItemEvents] = []


class _KnownItemEvents(ItemEvents):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        BUILT[:] = [self]


def create_test_app() -> ASGIApp:
    # The app's own ItemEvents, only made known to ``/_test/publish``.
    setattr(importlib.import_module(f"{PACKAGE}.app"), "ItemEvents", _KnownItemEvents)  # noqa: B010
    return publisher(stuck_worker(create_app(build=build_test_app)))


def publisher(app: ASGIApp) -> ASGIApp:
    """``POST /_test/publish?count=N&size=B``: N events of about B bytes, as fast as they come.

    It answers with the subscribers and the event loop's tasks left after.

    Outside the security stack: it stands for a producer inside the service
    (a job's progress), not for a client.
    """

    async def publishing(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/_test/publish":
            await app(scope, receive, send)
            return
        query = parse_qs(scope["query_string"].decode())
        count, size = int(query["count"][0]), int(query["size"][0])
        broadcaster = BUILT[-1].broadcaster
        for n in range(count):
            broadcaster.publish("item.created", {"n": n, "padding": "x" * size})
            if n % 100 == 99:
                await asyncio.sleep(0)  # let the streams run, as a real producer would
        counts = {
            "published": count,
            "subscribers": len(broadcaster),
            "tasks": len(asyncio.all_tasks()),
        }
        body = json.dumps(counts).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return publishing


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
