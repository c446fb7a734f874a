"""The access log's direct path writes what structlog would, and honours the level and the chain."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest
import structlog
from starlette.types import Receive, Scope, Send

from .asgi import exchange
from .conftest import AppFactory, SettingsFactory, client_for, log_lines
from .service import apply_security, configure_logging

pytestmark = pytest.mark.anyio


def access_lines(out: str) -> list[dict[str, Any]]:
    return log_lines(out, "access")


async def test_access_line_has_every_field_in_order(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app()
    capsys.readouterr()
    async with client_for(app) as http:
        await http.get("/health", headers={"x-request-id": "abc-1"})
    (entry,) = access_lines(capsys.readouterr().out)
    assert list(entry) == [
        "logger",
        "method",
        "path",
        "status",
        "duration_ms",
        "client",
        "event",
        "request_id",
        "level",
        "timestamp",
    ]
    assert (entry["event"], entry["level"], entry["request_id"]) == ("request", "info", "abc-1")
    assert entry["timestamp"].endswith("Z")  # UTC, written as TimeStamper(fmt="iso") does


async def test_level_above_info_writes_no_access_line(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(log_level="WARNING")
    capsys.readouterr()
    async with client_for(app) as http:
        response = await http.get("/health")
    assert response.status_code == 200
    assert access_lines(capsys.readouterr().out) == []


async def test_processors_in_force_when_the_app_is_built_apply(
    make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A processor added to the chain (a filter, a redaction) sees the access line too."""

    def drop_health(_: object, __: str, event_dict: MutableMapping[str, Any]) -> Any:
        if event_dict.get("path") == "/health":
            raise structlog.DropEvent
        return event_dict

    async def ok(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    settings = make_settings()
    configure_logging(settings)
    structlog.configure(processors=[drop_health, *structlog.get_config()["processors"]])
    app = apply_security(ok, settings)
    capsys.readouterr()
    await exchange(app, method="GET", path="/health")
    await exchange(app, method="GET", path="/other")
    assert [line["path"] for line in access_lines(capsys.readouterr().out)] == ["/other"]
