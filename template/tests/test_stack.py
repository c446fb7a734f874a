"""The composed order of the security layers is the documented one."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware

from .conftest import SettingsFactory
from .service import security_layers


def names(layers: Sequence[Middleware]) -> list[str]:
    return [getattr(layer.cls, "__name__", "?") for layer in layers]


def test_full_order(make_settings: SettingsFactory) -> None:
    settings = make_settings(cors_allowed_origins="https://a.example", trusted_hosts="a.example")
    assert names(security_layers(settings)) == [
        "RequestIdMiddleware",
        "AccessLogMiddleware",
        "SecurityHeadersMiddleware",
        "ExceptionHandlerMiddleware",
        "GZipMiddleware",
        "CORSMiddleware",
        "TrustedHostMiddleware",
        "TimeoutMiddleware",
        "MaxBodySizeMiddleware",
    ]


def test_unconfigured_production_has_no_cors_or_host_layer(make_settings: SettingsFactory) -> None:
    layers = names(security_layers(make_settings()))
    assert "CORSMiddleware" not in layers
    assert "TrustedHostMiddleware" not in layers
    assert layers[0] == "RequestIdMiddleware"
