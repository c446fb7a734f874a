"""Outbound settings: the seed's names and defaults; unsafe upstream URLs stop start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from .conftest import ENV_EXAMPLE, SettingsFactory, settings_from_env_example
from .service import Settings


def test_defaults(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    assert settings.upstream_url is None  # closed: the example route answers 503
    assert settings.upstream_token is None
    assert settings.upstream_timeout == 10.0
    assert (settings.httpx_pool_max, settings.httpx_pool_max_keepalive) == (100, 20)
    assert (settings.cb_enabled, settings.cb_failure_threshold) == (True, 5)
    assert settings.cb_recovery_timeout == 30.0
    assert (settings.cache_enabled, settings.cache_ttl, settings.cache_max_size) == (
        True,
        300,
        1024,
    )


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "UPSTREAM_URL": "https://api.example.com/v1/",
        "UPSTREAM_TOKEN": "t0ken-value",
        "UPSTREAM_TIMEOUT": "4.5",
        "HTTPX_POOL_MAX": "8",
        "HTTPX_POOL_MAX_KEEPALIVE": "2",
        "CB_ENABLED": "false",
        "CB_FAILURE_THRESHOLD": "3",
        "CB_RECOVERY_TIMEOUT": "12.5",
        "CACHE_ENABLED": "false",
        "CACHE_TTL": "60",
        "CACHE_MAX_SIZE": "10",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.upstream_url == "https://api.example.com/v1"  # no trailing slash
    assert settings.upstream_token is not None
    assert settings.upstream_token.get_secret_value() == "t0ken-value"
    assert "t0ken-value" not in repr(settings)
    assert settings.upstream_timeout == 4.5
    assert (settings.httpx_pool_max, settings.httpx_pool_max_keepalive) == (8, 2)
    assert (settings.cb_enabled, settings.cb_failure_threshold) == (False, 3)
    assert settings.cb_recovery_timeout == 12.5
    assert (settings.cache_enabled, settings.cache_ttl, settings.cache_max_size) == (
        False,
        60,
        10,
    )


def test_env_example_leaves_the_route_closed(
    monkeypatch: pytest.MonkeyPatch, make_settings: SettingsFactory
) -> None:
    settings = settings_from_env_example(monkeypatch)
    assert (settings.upstream_url, settings.upstream_token) == (None, None)
    prefixes = ("upstream", "cb_", "cache", "httpx")
    outbound = [name for name in Settings.model_fields if name.startswith(prefixes)]
    defaults = make_settings()
    assert {name: getattr(settings, name) for name in outbound} == {
        name: getattr(defaults, name) for name in outbound
    }
    assert all(name.upper() in ENV_EXAMPLE.read_text() for name in outbound)


def test_empty_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_URL", "")
    monkeypatch.setenv("UPSTREAM_TOKEN", "")
    settings = Settings()
    assert (settings.upstream_url, settings.upstream_token) == (None, None)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000",
        "http://localhost/api",
        "http://[::1]:8080",
        "https://api.example.com",
        "https://10.0.0.5:8443/base",
    ],
)
def test_accepted_upstream_urls(make_settings: SettingsFactory, url: str) -> None:
    assert make_settings(upstream_url=url).upstream_url == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example.com", "not an http"),
        ("api.example.com", "not an http"),
        ("https://", "not an http"),
        ("http://api.example.com", "must be https"),
        ("http://127.0.0.1.evil.example", "must be https"),
        ("http://localhost.evil.example", "must be https"),
        ("https://user:pass@api.example.com", "no credentials"),
        ("https://api.example.com/?token=x", "no credentials"),
        ("https://api.example.com/#x", "no credentials"),
        ("https://api.example.com:99999", "a port that is not a number"),
    ],
)
def test_refused_upstream_urls(make_settings: SettingsFactory, url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(upstream_url=url)


def test_plain_http_elsewhere_needs_an_explicit_opt_in_and_no_token(
    make_settings: SettingsFactory,
) -> None:
    url = "http://upstream.internal:8080"
    assert make_settings(upstream_url=url, upstream_allow_http=True).upstream_url == url
    with pytest.raises(ValidationError, match="never sent over plain http"):
        make_settings(upstream_url=url, upstream_allow_http=True, upstream_token="secret")
    assert make_settings(upstream_url="http://127.0.0.1:1", upstream_token="secret").upstream_url


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"upstream_timeout": 30}, "below REQUEST_TIMEOUT"),
        ({"upstream_timeout": 5, "request_timeout": 5}, "below REQUEST_TIMEOUT"),
        ({"upstream_timeout": 0}, "greater than 0"),
        ({"httpx_pool_max": 0}, "greater than or equal to 1"),
        ({"cb_failure_threshold": 0}, "greater than or equal to 1"),
        ({"cb_recovery_timeout": 0}, "greater than 0"),
        ({"cache_ttl": -1}, "greater than 0"),
        ({"cache_max_size": 0}, "greater than or equal to 1"),
        ({"cb_enabled": "maybe"}, "valid boolean"),
    ],
)
def test_invalid_values_are_refused(
    make_settings: SettingsFactory, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(upstream_url="https://api.example.com", **overrides)


def test_the_timeout_order_matters_only_with_an_upstream(make_settings: SettingsFactory) -> None:
    assert make_settings(request_timeout=5).upstream_timeout == 10  # the route answers 503
    with pytest.raises(ValidationError, match="below REQUEST_TIMEOUT"):
        make_settings(request_timeout=5, upstream_url="https://api.example.com")
