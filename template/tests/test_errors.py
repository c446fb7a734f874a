"""Unhandled errors become a generic JSON 500: no stack trace, no exception text."""

from __future__ import annotations

import pytest
from starlette.types import Receive, Scope, Send

from .asgi import exchange
from .conftest import AppFactory, SettingsFactory, client_for
from .framework import BOOM_MESSAGE
from .service import apply_security, create_app

pytestmark = pytest.mark.anyio


async def test_handler_error_is_generic_json_500(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    async with client_for(make_app()) as http:
        response = await http.get("/_test/boom")
    assert response.status_code == 500
    body = response.json()
    assert body == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "Internal server error.",
        "instance": response.headers["x-request-id"],
        "code": "internal_error",
        "error": "internal_error",
        "request_id": response.headers["x-request-id"],
    }
    assert response.headers["content-type"] == "application/problem+json"
    assert BOOM_MESSAGE not in response.text
    assert "Traceback" not in response.text
    # The error is logged once, for operators, with the request id.
    out = capsys.readouterr().out
    logged = [line for line in out.splitlines() if "unhandled_exception" in line]
    assert len(logged) == 1
    assert response.headers["x-request-id"] in logged[0]


async def test_error_in_raw_asgi_app_is_caught_before_start(
    make_settings: SettingsFactory,
) -> None:
    async def crashing_app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("secret detail")

    result = await exchange(apply_security(crashing_app, make_settings()), path="/")
    assert result.status == 500
    assert b"secret detail" not in result.body
    assert result.json()["error"] == "internal_error"


async def test_error_after_response_started_is_not_answered_twice(
    make_settings: SettingsFactory,
) -> None:
    """A truncated response is not patched up: the error propagates to the server."""

    async def half_response(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise ValueError("mid-stream failure")

    app = apply_security(half_response, make_settings())
    with pytest.raises(ValueError, match="mid-stream failure"):
        await exchange(app, path="/")


async def test_logged_traceback_has_no_local_variables(
    make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Locals hold bodies, headers and credentials: the traceback must not carry them."""

    async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
        api_token = "tok-5ecr3t-in-a-local"
        raise ValueError(f"failed after reading {len(api_token)} bytes")

    app = create_app(make_settings(), build=lambda _: failing_app)  # logs to captured stdout
    result = await exchange(app, path="/")
    out = capsys.readouterr().out
    assert result.status == 500
    assert "unhandled_exception" in out
    assert "ValueError" in out  # the traceback is there ...
    assert "tok-5ecr3t-in-a-local" not in out  # ... without the locals
