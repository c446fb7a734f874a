"""Gzip only when asked for, and compressed responses keep every security header."""

from __future__ import annotations

import pytest

from .conftest import AppFactory, client_for
from .framework import OPENAPI_PATH
from .test_headers import assert_hardened

pytestmark = pytest.mark.anyio


async def test_large_response_is_gzipped_when_accepted(make_app: AppFactory) -> None:
    async with client_for(make_app(debug=True)) as http:
        response = await http.get(OPENAPI_PATH, headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["paths"]  # httpx decompressed it
    assert response.headers["x-request-id"]
    assert response.headers["x-frame-options"] == "DENY"


async def test_no_gzip_without_accept_encoding(make_app: AppFactory) -> None:
    async with client_for(make_app(debug=True)) as http:
        response = await http.get(OPENAPI_PATH, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in response.headers


async def test_small_error_is_not_compressed_and_stays_hardened(make_app: AppFactory) -> None:
    async with client_for(make_app()) as http:
        response = await http.get("/missing", headers={"accept-encoding": "gzip"})
    assert response.status_code == 404
    assert "content-encoding" not in response.headers
    assert_hardened(response.headers)
