"""Fixtures shared by the security suite; nothing here knows the framework."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from .framework import build_test_app
from .service import ASGIApp, Settings, configure_logging, create_app

SettingsFactory = Callable[..., Settings]
AppFactory = Callable[..., ASGIApp]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test alone, never from the machine running it."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir("/")  # no stray .env file either
    # Log to this test's captured stdout, even for apps built without make_app.
    configure_logging(Settings.model_validate({}))


@pytest.fixture
def make_settings() -> SettingsFactory:
    """Settings from a test's overrides alone.

    Counters live in memory unless a test says otherwise: each app starts with full
    budgets. The Redis store has its own tests, against a real redis-server.
    """

    def factory(**overrides: Any) -> Settings:
        return Settings.model_validate({"rate_limit_storage_url": "memory://", **overrides})

    return factory


@pytest.fixture
def make_app(make_settings: SettingsFactory) -> AppFactory:
    """The test app (framework routes + test routes) inside the real security stack."""

    def factory(**overrides: Any) -> ASGIApp:
        return create_app(make_settings(**overrides), build=build_test_app)

    return factory


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with production defaults."""
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def client_for(app: ASGIApp, base_url: str = "http://testserver") -> httpx.AsyncClient:
    """A client for an app built with non-default settings."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)
