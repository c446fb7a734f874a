"""Each adapter names the route that served a request (``app.route_template``), from the scope.

Tracing names its spans with it: a template, never the raw path with its ids. The
scope is the one every layer shares, so an outer layer can read it once the
framework has routed the request.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import AppFactory, client_for
from .service import ASGIApp, route_template
from .test_api import VALID_ITEM

pytestmark = pytest.mark.anyio


def recording(app: ASGIApp, scopes: list[dict[str, Any]]) -> ASGIApp:
    """``app`` behind a layer that keeps each request's scope, as an outer layer sees it."""

    async def record(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await app(scope, receive, send)

    return record


async def test_route_template_of_a_routed_request(make_app: AppFactory) -> None:
    scopes: list[dict[str, Any]] = []
    async with client_for(recording(make_app(), scopes)) as http:
        created = await http.post("/api/v1/items", json=VALID_ITEM)
        read = await http.get(f"/api/v1/items/{created.json()['id']}?fields=all")
    assert (created.status_code, read.status_code) == (201, 200)
    assert [route_template(scope) for scope in scopes] == [
        "/api/v1/items",
        "/api/v1/items/{item_id}",
    ]


async def test_no_route_template_when_nothing_was_routed(make_app: AppFactory) -> None:
    scopes: list[dict[str, Any]] = []
    async with client_for(recording(make_app(), scopes), credentials=None) as http:
        refused = await http.get("/api/v1/items/" + "0" * 32)  # the auth layer answers
    async with client_for(recording(make_app(), scopes)) as http:
        unknown = await http.get("/no/such/route")
    assert (refused.status_code, unknown.status_code) == (401, 404)
    assert [route_template(scope) for scope in scopes] == [None, None]
