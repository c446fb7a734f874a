"""Readiness probes are cheap and say each change of a dependency's state once.

The Redis store itself, down and back, is tested against a real redis-server
(test_rate_limit_redis.py); here a probe is a function whose answers the test sets.
"""

from __future__ import annotations

import asyncio
import time
from importlib import import_module
from pathlib import Path

import anyio
import pytest

from .asgi import exchange
from .conftest import AppFactory, log_lines
from .databases import database_settings
from .service import PACKAGE, Dependency, Readiness, Settings, configure_logging, error_kind

pytestmark = pytest.mark.anyio
LOGGER = f"{PACKAGE}.readiness"


class Store:
    """A dependency whose answer the test chooses; it counts how often it is asked."""

    def __init__(self) -> None:
        self.error: str | None = None
        self.asked = 0

    async def probe(self) -> str | None:
        self.asked += 1
        return self.error


def readiness(store: Store, ttl: float = 1.0) -> Readiness:
    dependency = Dependency("store", "STORE_URL", "redis://[REDACTED]@db:6379/0", store.probe)
    return Readiness([dependency], ttl=ttl, logger_name=LOGGER)


async def test_probes_at_most_once_per_ttl_however_often_asked() -> None:
    store = Store()
    ready = readiness(store, ttl=0.3)
    for _ in range(50):
        assert await ready.failures() == {}
    assert store.asked == 1
    await anyio.sleep(0.35)
    await ready.failures()
    assert store.asked == 2


async def test_requests_during_a_slow_probe_do_not_probe_again() -> None:
    store = Store()

    async def slow() -> str | None:
        store.asked += 1
        await anyio.sleep(0.2)
        return "TimeoutError"

    dependency = Dependency("store", "STORE_URL", "db:6379", slow)
    ready = Readiness([dependency], ttl=5, logger_name=LOGGER)
    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(ready.failures)
    assert store.asked == 1
    assert await ready.failures() == {"store": "TimeoutError"}


async def test_a_probe_that_raises_means_not_ready() -> None:
    async def broken() -> str | None:
        raise ConnectionResetError

    dependency = Dependency("store", "STORE_URL", "db:6379", broken)
    ready = Readiness([dependency], logger_name=LOGGER)
    assert await ready.failures() == {"store": "ConnectionResetError"}


async def test_each_change_is_logged_once(capsys: pytest.CaptureFixture[str]) -> None:
    # To this test's captured output.
    configure_logging(Settings.model_validate(database_settings()))
    store = Store()
    ready = readiness(store, ttl=0)
    store.error = "ConnectionRefusedError"
    for _ in range(3):
        assert await ready.failures() == {"store": "ConnectionRefusedError"}
    store.error = None
    for _ in range(3):
        assert await ready.failures() == {}
    lines = log_lines(capsys.readouterr().out, "readiness")
    assert [(line["event"], line["level"]) for line in lines] == [
        ("dependency_unreachable", "error"),
        ("dependency_reachable", "info"),
    ]
    assert lines[0]["detail"] == (
        "STORE_URL (redis://[REDACTED]@db:6379/0) is unreachable (ConnectionRefusedError): "
        "the service reports not ready until it answers."
    )


async def test_nothing_to_depend_on_is_ready_without_probing() -> None:
    ready = Readiness([], logger_name=LOGGER)
    start = time.perf_counter()
    assert await ready.failures() == {}
    assert time.perf_counter() - start < 0.1


def test_the_error_kind_is_the_innermost_cause_not_a_cancellation() -> None:
    """A timed-out read: the client's error, from the builtin timeout, from a cancellation."""
    timeout = TimeoutError()
    timeout.__context__ = asyncio.CancelledError()
    client = OSError("Timeout reading from redis://:password@db:6379")
    client.__cause__ = timeout
    assert error_kind(client) == "TimeoutError"
    assert error_kind(asyncio.CancelledError()) == "CancelledError"  # nothing better to say


@pytest.mark.parametrize("path", ["/ready", "/readyz"])
async def test_the_drain_marker_makes_readiness_fail_and_liveness_stay(
    path: str, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The supervisor's marker (draining.py), as a worker sees it: 503 once it exists."""
    marker = tmp_path / "draining"
    monkeypatch.setenv(import_module(f"{PACKAGE}.draining").MARKER_ENV, str(marker))
    app = make_app()
    assert (await exchange(app, method="GET", path=path)).status == 200
    marker.touch()
    refused = await exchange(app, method="GET", path=path)
    assert refused.status == 503
    assert refused.json()["detail"] == "Not ready: shutting down."
    assert refused.headers["cache-control"] == "no-store"
    assert (await exchange(app, method="GET", path="/livez")).status == 200
