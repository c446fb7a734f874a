"""Slow handlers are cut off with a JSON 504; fast ones are untouched."""

from __future__ import annotations

import time

import pytest

from .conftest import AppFactory, client_for

pytestmark = pytest.mark.anyio


async def test_slow_handler_gets_504(make_app: AppFactory) -> None:
    async with client_for(make_app(request_timeout=0.2)) as http:
        start = time.perf_counter()
        response = await http.get("/_test/slow", params={"seconds": 10})
        elapsed = time.perf_counter() - start
    assert response.status_code == 504
    assert response.json()["error"] == "timeout"
    assert elapsed < 2


async def test_handler_within_timeout_completes(make_app: AppFactory) -> None:
    async with client_for(make_app(request_timeout=2)) as http:
        response = await http.get("/_test/slow", params={"seconds": 0.01})
    assert response.status_code == 200
    assert response.json() == {"status": "done"}
