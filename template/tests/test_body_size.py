"""Body limit: by Content-Length before the app runs, and by counting streamed bytes."""

from __future__ import annotations

import itertools

import httpx
import pytest

from .asgi import exchange
from .conftest import AppFactory, client_for

pytestmark = pytest.mark.anyio

LIMIT = 1024


async def test_body_at_limit_passes(make_app: AppFactory) -> None:
    async with client_for(make_app(max_body_size=LIMIT)) as http:
        response = await http.post("/_test/size", content=b"x" * LIMIT)
    assert response.status_code == 200
    assert response.json() == {"size": LIMIT}


async def test_declared_length_over_limit_is_413(make_app: AppFactory) -> None:
    async with client_for(make_app(max_body_size=LIMIT)) as http:
        response = await http.post("/_test/size", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


async def test_declared_length_is_checked_before_reading(make_app: AppFactory) -> None:
    app = make_app(max_body_size=LIMIT)
    result = await exchange(
        app, path="/_test/size", headers=[("content-length", str(10**9))], chunks=[b"x" * 10]
    )
    assert result.status == 413
    assert result.chunks_pulled == 0


async def test_streamed_body_is_cut_off_at_the_limit(make_app: AppFactory) -> None:
    """No Content-Length (chunked): reading stops just past the limit of an endless body."""
    app = make_app(max_body_size=LIMIT)
    endless = itertools.repeat(b"x" * 100)
    result = await exchange(app, path="/_test/size", chunks=endless)
    assert result.status == 413
    assert result.json()["error"] == "payload_too_large"
    assert result.chunks_pulled == LIMIT // 100 + 1


async def test_streamed_body_under_limit_passes(make_app: AppFactory) -> None:
    app = make_app(max_body_size=LIMIT)
    result = await exchange(app, path="/_test/size", chunks=[b"x" * 100] * 10)
    assert result.status == 200
    assert result.json() == {"size": 1000}


@pytest.mark.parametrize("value", ["12x", "-1", "1e3", " 10", "0x10", "9" * 30, ""])
async def test_malformed_content_length_is_400(make_app: AppFactory, value: str) -> None:
    app = make_app(max_body_size=LIMIT)
    result = await exchange(app, path="/_test/size", headers=[("content-length", value)])
    assert result.status == 400
    assert result.json()["error"] == "bad_request"


async def test_duplicate_content_length_is_400(make_app: AppFactory) -> None:
    app = make_app(max_body_size=LIMIT)
    result = await exchange(
        app, path="/_test/size", headers=[("content-length", "5"), ("content-length", "5")]
    )
    assert result.status == 400


async def test_limit_applies_to_api_routes(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/items", content=b"{" + b" " * 1_048_576 + b"}")
    assert response.status_code == 413
