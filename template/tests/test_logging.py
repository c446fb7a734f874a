"""Access log: one JSON line per request with the request id; no query string."""

from __future__ import annotations

import json

import pytest

from .conftest import AppFactory, client_for
from .service import PACKAGE

pytestmark = pytest.mark.anyio


async def test_one_json_access_line_per_request(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(trusted_hosts="testserver")
    capsys.readouterr()
    async with client_for(app) as http:
        response = await http.get("/health", params={"token": "s3cr3t-value"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    lines = [line for line in lines if line.get("logger", "").startswith(PACKAGE)]  # not httpx's
    access = [line for line in lines if line["logger"] == f"{PACKAGE}.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["method"] == "GET"
    assert entry["path"] == "/health"
    assert entry["status"] == 200
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["client"] == "127.0.0.1"
    assert isinstance(entry["duration_ms"], float | int)
    assert "s3cr3t-value" not in json.dumps(lines)


async def test_console_format_in_debug(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(debug=True)
    capsys.readouterr()
    async with client_for(app) as http:
        await http.get("/health")
    out = capsys.readouterr().out
    assert "request" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.splitlines()[-1])
