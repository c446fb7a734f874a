"""Request ids: reused only when well-formed, always echoed, present in error bodies."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = (await client.get("/health")).headers["x-request-id"]
    second = (await client.get("/health")).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)  # 128 random bits
    assert first != second


async def test_well_formed_client_id_is_reused(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"x-request-id": "trace-42.a:b_c"})
    assert response.headers["x-request-id"] == "trace-42.a:b_c"


@pytest.mark.parametrize(
    "bad",
    [
        "a" * 129,
        "has space",
        "semi;colon",
        "-leading-dash",
        'quote"',
        "<script>",
        "caf\u00e9",
    ],
)
async def test_malformed_client_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/health", headers=[(b"x-request-id", bad.encode("utf-8"))])
    echoed = response.headers["x-request-id"]
    assert echoed != bad
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)


async def test_error_body_carries_the_same_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/missing", headers={"x-request-id": "abc-123"})
    assert response.status_code == 404
    assert response.json()["request_id"] == "abc-123"
    assert response.headers["x-request-id"] == "abc-123"
