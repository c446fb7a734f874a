"""The example upstream route end to end: security stack, framework adapter, real upstream.

Every answer carries the security headers and the request id; failures are JSON
errors of our own words (502, 503 + Retry-After, 504), never a 500, and neither
the upstream's body nor the upstream token reaches the client or a log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from .asgi import lifespan_cycle
from .conftest import AppFactory, client_for
from .credentials import ANONYMOUS, READ_ONLY
from .framework import OPENAPI_PATH
from .service import UPSTREAM_PATH
from .upstream import SECRET_BODY, Mode, UpstreamServer

pytestmark = pytest.mark.anyio

TOKEN = "ut_live_R8vK2mQ9xL4wT7nC1pZ6"  # the upstream's credential: never shown or logged
UNLIMITED = {"rate_limit_default": "1000000/minute"}


def path(key: str) -> str:
    return UPSTREAM_PATH.format(key=key)


@pytest.fixture
async def make_routed_app(
    make_app: AppFactory, upstream: UpstreamServer
) -> AsyncIterator[AppFactory]:
    """Apps calling ``upstream`` with a token; each is shut down after the test."""
    apps = []

    def factory(**overrides: Any) -> Any:
        app = make_app(**{"upstream_url": upstream.url, "upstream_token": TOKEN, **overrides})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        await lifespan_cycle(app)


def assert_secured_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status
    body = response.json()
    members = {"type", "title", "status", "detail", "instance", "code", "error", "request_id"}
    assert set(body) == members
    assert body["error"] == body["code"] == error
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    assert response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def assert_nothing_leaked(response: httpx.Response, output: str) -> None:
    for secret in (SECRET_BODY, "Sw0rdf1sh", TOKEN):
        assert secret not in response.text
        assert secret not in str(response.headers)
        assert secret not in output


async def test_a_value_through_the_full_stack(
    make_routed_app: AppFactory, upstream: UpstreamServer
) -> None:
    async with client_for(make_routed_app()) as http:
        response = await http.get(path("k1"))
    assert response.status_code == 200
    assert response.json() == {"key": "k1", "value": "value of /k1"}
    assert response.headers["content-security-policy"]
    seen = upstream.headers[0]
    assert seen["authorization"] == f"Bearer {TOKEN}"
    assert seen["x-request-id"] == response.headers["x-request-id"]  # one id, end to end


@pytest.mark.parametrize(
    ("mode", "settings", "status", "error"),
    [
        ("fail", {}, 502, "bad_gateway"),
        ("garbage", {}, 502, "bad_gateway"),
        ("huge", {}, 502, "bad_gateway"),
        ("redirect", {}, 502, "bad_gateway"),
        ("missing", {}, 404, "not_found"),
        ("stall", {"upstream_timeout": 0.3}, 504, "timeout"),
    ],
)
async def test_upstream_failures_are_our_json_errors(
    make_routed_app: AppFactory,
    upstream: UpstreamServer,
    capsys: pytest.CaptureFixture[str],
    mode: Mode,
    settings: dict[str, Any],
    status: int,
    error: str,
) -> None:
    upstream.mode = mode
    async with client_for(make_routed_app(**settings)) as http:
        response = await http.get(path("k1"))
    assert_secured_error(response, status, error)
    output = capsys.readouterr().out
    assert_nothing_leaked(response, output)
    if status != 404:
        assert "upstream_failed" in output  # said once, in our words


async def test_an_open_circuit_is_503_with_retry_after(
    make_routed_app: AppFactory, upstream: UpstreamServer, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream.mode = "fail"
    app = make_routed_app(cb_failure_threshold=2, cb_recovery_timeout=30, cache_enabled=False)
    async with client_for(app) as http:
        first = [(await http.get(path("k"))).status_code for _ in range(2)]
        refused = await http.get(path("k"))
    assert first == [502, 502]
    assert_secured_error(refused, 503, "unavailable")
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert upstream.total_hits == 2
    assert_nothing_leaked(refused, capsys.readouterr().out)


async def test_no_upstream_configured_is_503(make_app: AppFactory) -> None:
    async with client_for(make_app()) as http:
        response = await http.get(path("k"))
    assert_secured_error(response, 503, "unavailable")
    assert "retry-after" not in response.headers


async def test_credentials_are_required_and_read_scope_suffices(
    make_routed_app: AppFactory, upstream: UpstreamServer
) -> None:
    app = make_routed_app()
    async with client_for(app, credentials=ANONYMOUS) as anonymous:
        assert (await anonymous.get(path("k"))).status_code == 401
    assert upstream.total_hits == 0
    for credentials in READ_ONLY.values():
        async with client_for(app, credentials=credentials) as reader:
            assert (await reader.get(path("k"))).status_code == 200


@pytest.mark.parametrize("key", ["UPPER", "-dash-first", "a" * 65, "a.b", "%2e%2e"])
async def test_a_bad_key_is_422_and_never_sent(
    make_routed_app: AppFactory, upstream: UpstreamServer, key: str
) -> None:
    async with client_for(make_routed_app()) as http:
        response = await http.get(path(key))
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert upstream.total_hits == 0


async def test_concurrent_requests_share_one_upstream_call(
    make_routed_app: AppFactory, upstream: UpstreamServer
) -> None:
    upstream.delay = 0.2
    async with client_for(make_routed_app(**UNLIMITED)) as http:
        responses = await asyncio.gather(*(http.get(path("hot")) for _ in range(200)))
    assert {response.status_code for response in responses} == {200}
    assert len({response.headers["x-request-id"] for response in responses}) == 200
    assert upstream.hits == {"/hot": 1}


async def test_shutdown_closes_the_outbound_connections(
    make_app: AppFactory, upstream: UpstreamServer
) -> None:
    app = make_app(upstream_url=upstream.url)
    async with client_for(app) as http:
        assert (await http.get(path("k"))).status_code == 200
    assert await asyncio.to_thread(upstream.wait_for, lambda: upstream.open_connections == 1)
    await lifespan_cycle(app)  # what the server does at shutdown
    assert await asyncio.to_thread(upstream.wait_for, lambda: upstream.open_connections == 0)


async def test_the_route_is_documented(make_app: AppFactory) -> None:
    async with client_for(make_app(debug=True)) as http:
        schema = (await http.get(OPENAPI_PATH)).json()
    operation = schema["paths"][UPSTREAM_PATH]["get"]
    assert {"200", "401", "403", "422", "429", "502", "503", "504"} <= set(operation["responses"])
