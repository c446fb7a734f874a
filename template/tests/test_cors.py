"""CORS: same-origin when unconfigured, exact origins when configured, wildcard only in debug."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from .conftest import AppFactory, SettingsFactory, client_for

pytestmark = pytest.mark.anyio

ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "origin": ORIGIN,
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type",
}


async def test_unconfigured_production_allows_no_cross_origin(make_app: AppFactory) -> None:
    async with client_for(make_app()) as http:
        simple = await http.get("/health", headers={"origin": ORIGIN})
        preflight = await http.options("/api/v1/items", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in simple.headers
    assert "access-control-allow-origin" not in preflight.headers


async def test_configured_origin_is_allowed_with_fixed_methods_and_headers(
    make_app: AppFactory,
) -> None:
    async with client_for(make_app(cors_allowed_origins=ORIGIN)) as http:
        preflight = await http.options("/api/v1/items", headers=PREFLIGHT)
        simple = await http.get("/health", headers={"origin": ORIGIN})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert set(preflight.headers["access-control-allow-methods"].split(", ")) == {
        "GET",
        "POST",
        "OPTIONS",
    }
    allowed_headers = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers
    assert "*" not in allowed_headers
    assert "access-control-allow-credentials" not in preflight.headers
    assert simple.headers["access-control-allow-origin"] == ORIGIN


async def test_error_responses_are_readable_by_an_allowed_origin(make_app: AppFactory) -> None:
    """A 500 or a 504 carries the CORS headers too, so the page can read its request id."""
    app = make_app(cors_allowed_origins=ORIGIN, request_timeout=0.2)
    async with client_for(app) as http:
        failed = await http.get("/_test/boom", headers={"origin": ORIGIN})
        late = await http.get("/_test/slow", params={"seconds": 5}, headers={"origin": ORIGIN})
    assert (failed.status_code, late.status_code) == (500, 504)
    for response in (failed, late):
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_other_origin_is_refused(make_app: AppFactory) -> None:
    async with client_for(make_app(cors_allowed_origins=ORIGIN)) as http:
        preflight = await http.options(
            "/api/v1/items", headers={**PREFLIGHT, "origin": "https://evil.example"}
        )
        simple = await http.get("/health", headers={"origin": "https://evil.example"})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


async def test_wildcard_header_request_is_refused(make_app: AppFactory) -> None:
    async with client_for(make_app(cors_allowed_origins=ORIGIN)) as http:
        preflight = await http.options(
            "/api/v1/items", headers={**PREFLIGHT, "access-control-request-headers": "x-evil"}
        )
    assert preflight.status_code == 400


async def test_debug_falls_back_to_wildcard(make_app: AppFactory) -> None:
    async with client_for(make_app(debug=True)) as http:
        simple = await http.get("/health", headers={"origin": "http://localhost:5173"})
    assert simple.headers["access-control-allow-origin"] == "*"


def test_wildcard_is_refused_outside_debug(make_settings: SettingsFactory) -> None:
    with pytest.raises(ValidationError, match="refused outside debug"):
        make_settings(cors_allowed_origins="*")


@pytest.mark.parametrize("bad", ["app.example.com", "https://app.example.com/path", "ftp://x.y"])
def test_malformed_origin_is_refused(make_settings: SettingsFactory, bad: str) -> None:
    with pytest.raises(ValidationError, match="not an origin"):
        make_settings(cors_allowed_origins=bad)
