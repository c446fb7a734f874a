"""Fixtures shared by the security suite; nothing here knows the framework."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .asgi import DEFAULT_CREDENTIAL
from .credentials import AUTH_SETTINGS
from .databases import database_settings, suite_database_url
from .framework import build_test_app
from .service import (
    PACKAGE,
    ASGIApp,
    Settings,
    Upstream,
    UpstreamError,
    build_upstream,
    configure_logging,
    create_app,
)
from .upstream import UpstreamServer, upstream_server

SettingsFactory = Callable[..., Settings]
# The suite reads each request's access line right after it, health probes' too;
# holding lines and leaving quiet probes out have their own tests (test_access_log_buffer).
SUITE_LOGGING = {"access_log_buffered": False, "access_log_health": True}
AppFactory = Callable[..., ASGIApp]
UpstreamFactory = Callable[..., Upstream]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test alone, never from the machine running it."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir("/")  # no stray .env file either
    # The suite's migrated database (tests/databases.py), for settings read from the environment.
    monkeypatch.setenv("DATABASE_URL", suite_database_url())
    # Log to this test's captured stdout, even for apps built without make_app.
    configure_logging(Settings.model_validate({**SUITE_LOGGING, **database_settings()}))
    # The test's own HTTP client logs every URL it requests: that is the client's
    # output, not the service's, and would blur the no-secret-in-logs checks.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture
def make_settings() -> SettingsFactory:
    """Settings from a test's overrides alone.

    Counters live in memory unless a test says otherwise: each app starts with full
    budgets. The Redis store has its own tests, against a real redis-server. The
    test credentials (tests/credentials.py) are configured.
    """

    def factory(**overrides: Any) -> Settings:
        defaults = {
            "rate_limit_storage_url": "memory://",
            **SUITE_LOGGING,
            **AUTH_SETTINGS,
            **database_settings(),
        }
        return Settings.model_validate({**defaults, **overrides})

    return factory


@pytest.fixture
def make_app(make_settings: SettingsFactory) -> AppFactory:
    """The test app (framework routes + test routes) inside the real security stack."""

    def factory(**overrides: Any) -> ASGIApp:
        return create_app(make_settings(**overrides), build=build_test_app)

    return factory


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client of the app with production defaults."""
    async with client_for(make_app()) as http:
        yield http


def client_for(
    app: ASGIApp,
    base_url: str = "http://testserver",
    credentials: dict[str, str] | None = DEFAULT_CREDENTIAL,
) -> httpx.AsyncClient:
    """A client sending a valid credential (unless ``credentials`` says otherwise)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base_url, headers=credentials
    )


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    """A real upstream server on 127.0.0.1 (tests/upstream.py), stopped after the test."""
    with upstream_server() as server:
        yield server


@pytest.fixture
async def make_upstream(
    make_settings: SettingsFactory, upstream: UpstreamServer
) -> AsyncIterator[UpstreamFactory]:
    """The service's upstream gateway, pointed at ``upstream``; each is closed after the test."""
    made: list[Upstream] = []

    def factory(**overrides: Any) -> Upstream:
        gateway = build_upstream(make_settings(**{"upstream_url": upstream.url, **overrides}))
        made.append(gateway)
        return gateway

    yield factory
    for gateway in made:
        await gateway.aclose()


ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def settings_from_env_example(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a deployment gets them after copying .env.example to its environment."""
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name, value)
    return Settings()


async def status_of(gateway: Upstream, key: str = "k") -> int:
    """The HTTP status the upstream route would answer for one fetch of ``key``."""
    try:
        await gateway.fetch(key)
    except UpstreamError as error:
        return error.status
    return 200


def log_lines(out: str, logger: str) -> list[dict[str, Any]]:
    """The JSON log lines of the service's ``logger`` (``access``, ``audit``...) in ``out``."""
    name = f"{PACKAGE}.{logger}"
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == name]
