"""Settings: secure defaults, env names from the contract, bad values stop start-up."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from .conftest import ENV_EXAMPLE, SettingsFactory, settings_from_env_example
from .service import PACKAGE, Settings


def test_defaults_are_locked_down(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    assert settings.debug is False
    assert settings.host == "127.0.0.1"
    assert settings.effective_cors_origins == ()
    assert settings.trusted_hosts == ()
    assert settings.max_body_size == 1_048_576
    assert settings.effective_log_format == "json"
    assert settings.shutdown_grace == 10.0
    assert settings.keep_alive_timeout == 75.0


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("TRUSTED_HOSTS", "api.example.com")
    monkeypatch.setenv("MAX_BODY_SIZE", "2048")
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("SHUTDOWN_GRACE", "3")
    monkeypatch.setenv("KEEP_ALIVE_TIMEOUT", "5")
    monkeypatch.setenv("REQUEST_TIMEOUT", "7")
    monkeypatch.setenv("PORT", "9000")
    settings = Settings()
    assert settings.debug is True
    assert settings.cors_allowed_origins == ("https://a.example", "https://b.example")
    assert settings.trusted_hosts == ("api.example.com",)
    assert settings.max_body_size == 2048
    assert settings.effective_log_format == "json"
    assert (settings.shutdown_grace, settings.keep_alive_timeout) == (3, 5)
    assert settings.request_timeout == 7
    assert settings.port == 9000


def test_settings_mounted_as_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A Secret mounted as a volume (k8s/deployment.yaml): one file per setting, named
    like its variable, as `kubectl create secret --from-env-file` makes them. The
    environment still wins; nothing secret need be an environment variable."""
    (tmp_path / "TRUSTED_HOSTS").write_text("api.example.com")
    (tmp_path / "CORS_ALLOWED_ORIGINS").write_text("https://a.example\n")
    (tmp_path / "RATE_LIMIT_DEFAULT").write_text("5/minute")
    (tmp_path / "JSON_MAX_DEPTH").write_text("8")
    monkeypatch.setenv("RATE_LIMIT_DEFAULT", "7/minute")
    settings = Settings(_secrets_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.trusted_hosts == ("api.example.com",)
    assert settings.cors_allowed_origins == ("https://a.example",)
    assert settings.json_max_depth == 8
    assert settings.rate_limit_default == "7/minute"


def test_debug_defaults_to_console_logs(make_settings: SettingsFactory) -> None:
    assert make_settings(debug=True).effective_log_format == "console"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_body_size", 0),
        ("max_body_size", "big"),
        ("request_timeout", 0),
        ("shutdown_grace", -1),
        ("port", 70000),
        ("log_format", "xml"),
        ("debug", "maybe"),
        ("stream_idle_timeout", 0),
        ("sse_queue_maxsize", 0),
        ("sse_backpressure_fail_timeout_s", -1),
        ("stream_max_per_client", 0),
        ("stream_replay_size", 101),  # over SSE_QUEUE_MAXSIZE (100)
    ],
)
def test_invalid_values_are_refused(
    make_settings: SettingsFactory, name: str, value: object
) -> None:
    with pytest.raises(ValidationError):
        make_settings(**{name: value})


LEAKY = "Sup3rSecretPassw0rd"  # in a bad value: the error must not repeat it


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_BODY_SIZE", "lots"),
        ("RATE_LIMIT_ROUTES", '{"POST /x": "' + LEAKY),  # not even JSON
        ("UPSTREAM_URL", f"htps://svc:{LEAKY}@values.internal"),  # bad, with a password
    ],
)
def test_cli_reports_bad_config_without_traceback_or_value(name: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", PACKAGE],
        env={name: value, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "Invalid configuration" in result.stderr
    assert name in result.stderr
    assert "Traceback" not in result.stderr
    assert LEAKY not in result.stderr + result.stdout


def test_env_example_is_valid_and_secure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copying .env.example to .env must start the service, with the secure defaults."""
    settings = settings_from_env_example(monkeypatch)
    assert settings.debug is False
    assert settings.effective_cors_origins == ()
    assert settings.rate_limit_default == "60/minute"


def test_env_example_names_only_settings() -> None:
    """No line of .env.example configures a setting that does not exist (a typo, a stale name).

    That every setting is in it is checked by the template's own tests.
    """
    text = ENV_EXAMPLE.read_text()
    fields = {name.upper() for name in Settings.model_fields}
    assigned = set(re.findall(r"^# ?([A-Z][A-Z0-9_]*)=|^([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    names = {commented or plain for commented, plain in assigned}
    assert names - fields == set()
