"""The composed order of the security layers is the documented one."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from starlette.middleware import Middleware

from .conftest import SettingsFactory, client_for
from .service import create_app, security_layers


def names(layers: Sequence[Middleware]) -> list[str]:
    return [getattr(layer.cls, "__name__", "?") for layer in layers]


def test_full_order(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        cors_allowed_origins="https://a.example",
        trusted_hosts="a.example",
        trusted_proxies="10.0.0.0/8",
    )
    assert names(security_layers(settings)) == [
        "RequestIdMiddleware",
        "ClientIdentityMiddleware",
        "AccessLogMiddleware",
        "SecurityHeadersMiddleware",
        "CORSMiddleware",
        "AuditMiddleware",
        "ExceptionHandlerMiddleware",
        "GZipMiddleware",
        "TrustedHostMiddleware",
        "LivenessShortcut",
        "TimeoutMiddleware",
        "MaxBodySizeMiddleware",
        "ReadinessMiddleware",
        "RateLimitMiddleware",
        "CSRFMiddleware",
        "AuthMiddleware",
        "JsonBodyMiddleware",
    ]


def test_unconfigured_production_has_no_cors_or_host_layer(make_settings: SettingsFactory) -> None:
    layers = names(security_layers(make_settings()))
    assert "CORSMiddleware" not in layers
    assert "TrustedHostMiddleware" not in layers
    assert "ClientIdentityMiddleware" not in layers  # no proxy trusted: the peer is the client
    assert layers[0] == "RequestIdMiddleware"


@pytest.mark.anyio
async def test_served_app_is_the_secured_framework_app(make_settings: SettingsFactory) -> None:
    """``create_app`` (what the server runs) has the layers and the real routes."""
    async with client_for(create_app(make_settings())) as http:
        response = await http.get("/health")
        missing = await http.get("/_test/boom")  # test-only routes are not served
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-request-id"]
    assert missing.status_code == 404
