"""Audit log: state changes and auth failures, with the principal; never a secret anywhere."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from .conftest import AppFactory, SettingsFactory, client_for, log_lines
from .credentials import ANONYMOUS, CREDENTIALS, READ_ONLY, SECRETS
from .service import apply_security, configure_logging

pytestmark = pytest.mark.anyio

ITEM = {"name": "Blue widget", "quantity": 3}


def audit_lines(out: str) -> list[dict[str, Any]]:
    return log_lines(out, "audit")


async def test_state_changes_and_failures_are_audited(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    kind, headers = next(iter(CREDENTIALS.items()))
    app = make_app()
    capsys.readouterr()
    async with client_for(app, credentials=headers) as http:
        created = await http.post("/api/v1/items", json=ITEM)
        await http.get(f"/api/v1/items/{created.json()['id']}")  # a read: not audited
    async with client_for(app, credentials=ANONYMOUS) as http:
        await http.get("/api/v1/items/" + "0" * 32)  # 401
    async with client_for(app, credentials=READ_ONLY[kind]) as http:
        await http.post("/api/v1/items", json=ITEM)  # 403
    entries = audit_lines(capsys.readouterr().out)
    assert [(e["method"], e["status"]) for e in entries] == [
        ("POST", 201),
        ("GET", 401),
        ("POST", 403),
    ]
    assert entries[0]["principal"] not in (None, "")
    assert entries[0]["credential"] == kind
    assert entries[1]["principal"] is None
    assert all(e["client"] == "127.0.0.1" for e in entries)


async def test_no_secret_in_any_log_line_of_a_session(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every credential kind, valid and read-only, used everywhere; every line is checked."""
    app = make_app(log_level="DEBUG")
    for headers in (*CREDENTIALS.values(), *READ_ONLY.values()):
        async with client_for(app, credentials=headers) as http:
            created = await http.post("/api/v1/items", json=ITEM)
            await http.get(f"/api/v1/items/{created.json().get('id', 'x')}")
            await http.get("/_test/boom")
            await http.get("/missing", params={"token": headers_value(headers)})
    out = capsys.readouterr().out
    assert "unhandled_exception" in out  # the session did log, errors included
    for secret in SECRETS:
        assert secret not in out
    assert "authorization" not in out.lower()
    assert "x-api-key" not in out.lower()


async def never_answers(scope: Scope, receive: Receive, send: Send) -> None:
    """An app stuck on a change: the timeout answers for it."""
    await asyncio.sleep(30)


async def test_a_change_that_timed_out_is_audited_with_its_504(
    make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(request_timeout=0.2)
    configure_logging(settings)  # as create_app does, to this test's captured stdout
    app = apply_security(never_answers, settings)
    async with client_for(app, credentials=next(iter(CREDENTIALS.values()))) as http:
        response = await http.post("/api/v1/items", json=ITEM)
    assert response.status_code == 504
    assert [line["status"] for line in audit_lines(capsys.readouterr().out)] == [504]


def headers_value(headers: dict[str, str]) -> str:
    return next(iter(headers.values())).split()[-1]
