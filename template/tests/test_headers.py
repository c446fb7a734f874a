"""Every response, whatever its status or origin layer, leaves with the security headers."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from .asgi import exchange
from .conftest import AppFactory, SettingsFactory, client_for
from .service import SERVER_NAMES_ITSELF, apply_security

pytestmark = pytest.mark.anyio

STRICT = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "geolocation=(), camera=(), microphone=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store, max-age=0",
    "pragma": "no-cache",
    "x-xss-protection": "0",  # the old browsers' XSS auditor off (OWASP)
}
# Sent empty where the server would otherwise add its name (Granian); else not sent.
SERVER = "" if SERVER_NAMES_ITSELF else None


def assert_hardened(headers: httpx.Headers | dict[str, str]) -> None:
    for name, value in STRICT.items():
        assert headers.get(name) == value, name
    assert headers.get("x-request-id")
    assert headers.get("server") == SERVER  # no name, no version
    assert "strict-transport-security" not in headers  # plain HTTP


async def test_ok_response_is_hardened(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert_hardened(response.headers)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/no-such-route", {}, 404),
        ("DELETE", "/health", {}, 405),
        ("POST", "/api/v1/items", {"json": {"name": ""}}, 422),
        ("GET", "/_test/boom", {}, 500),
        ("POST", "/_test/size", {"content": b"x" * 2048}, 413),
        ("POST", "/_test/size", {"headers": {"content-length": "12x"}}, 400),
    ],
)
async def test_error_responses_are_hardened(
    make_app: AppFactory, method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    async with client_for(make_app(max_body_size=1024)) as http:
        response = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert_hardened(response.headers)
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_timeout_response_is_hardened(make_app: AppFactory) -> None:
    async with client_for(make_app(request_timeout=0.2)) as http:
        response = await http.get("/_test/slow", params={"seconds": 5})
    assert response.status_code == 504
    assert_hardened(response.headers)


async def test_bad_host_response_is_hardened(make_app: AppFactory) -> None:
    async with client_for(make_app(trusted_hosts="api.example.com")) as http:
        response = await http.get("/health")
    assert response.status_code == 400
    assert_hardened(response.headers)


async def test_app_cannot_weaken_csp_or_leak_server(make_settings: SettingsFactory) -> None:
    """Headers the app sets are replaced, except a deliberate Cache-Control."""

    async def leaky_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"Content-Security-Policy", b"default-src *"),
                    (b"Server", b"leaky/1.0"),
                    (b"X-Powered-By", b"php"),
                    (b"Cache-Control", b"public, max-age=60"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})

    app = apply_security(leaky_app, make_settings())
    result = await exchange(app, method="GET", path="/")
    assert result.headers["content-security-policy"] == STRICT["content-security-policy"]
    assert result.headers.get("server") == SERVER
    assert "x-powered-by" not in result.headers
    assert result.headers["cache-control"] == "public, max-age=60"


async def test_hsts_only_over_https(make_app: AppFactory) -> None:
    async with client_for(make_app(), base_url="https://testserver") as http:
        response = await http.get("/health")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_hsts_when_tls_terminates_upstream(make_app: AppFactory) -> None:
    async with client_for(make_app(tls_terminated_upstream=True)) as http:
        response = await http.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_debug_relaxes_csp_for_docs_only_in_debug(make_app: AppFactory) -> None:
    async with client_for(make_app(debug=True)) as http:
        response = await http.get("/health")
    csp = response.headers["content-security-policy"]
    assert csp != STRICT["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    # The docs' assets are the service's own: no other origin (no CDN) may load anything.
    sources = {source for directive in csp.split(";") for source in directive.split()[1:]}
    assert sources <= {"'self'", "'none'", "'unsafe-inline'", "data:"}, csp
