"""Host-header validation from TRUSTED_HOSTS, and the warning when it is off."""

from __future__ import annotations

import pytest

from .conftest import AppFactory, SettingsFactory, client_for

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("api.example.com", 200),
        ("API.Example.com:8443", 200),
        ("eu.svc.example.com", 200),
        ("svc.example.com", 400),  # the wildcard covers subdomains, not the apex
        ("evil.com", 400),
        ("api.example.com.evil.com", 400),
        ("evil.com#api.example.com", 400),
    ],
)
async def test_host_header_is_checked(make_app: AppFactory, host: str, status: int) -> None:
    app = make_app(trusted_hosts="api.example.com, *.svc.example.com")
    async with client_for(app) as http:
        response = await http.get("/health", headers={"host": host})
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"] == "bad_request"


def test_missing_trusted_hosts_warns_in_production(make_settings: SettingsFactory) -> None:
    warnings = make_settings().startup_warnings()
    assert any("No TRUSTED_HOSTS configured" in warning for warning in warnings)


def test_no_host_warning_in_debug(make_settings: SettingsFactory) -> None:
    warnings = make_settings(debug=True).startup_warnings()
    assert not any("TRUSTED_HOSTS" in warning for warning in warnings)


def test_warning_is_logged_at_startup(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    make_app()
    assert "No TRUSTED_HOSTS configured" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["https://api.example.com", "api.example.com:443", "*", "a.*.com"])
def test_malformed_host_setting_is_refused(make_settings: SettingsFactory, bad: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not a host name"):
        make_settings(trusted_hosts=bad)
