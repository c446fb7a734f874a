"""Mistakes in the environment stop start-up with one readable line each, exit code 2.

Each line names the variable as the user set it (and the entry of a JSON one),
says what is allowed, and never repeats the value: it may be a secret.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from .databases import suite_database_url
from .service import AUTH_METHODS, PACKAGE, SCOPES, Settings, cli, requires

PREFIX = "Invalid configuration: "
LEAKY = "Sup3rSecretPassw0rd"  # in bad values: no message may repeat it
SECRET = "k" * 30 + LEAKY  # long enough to be a valid secret
ENV_NAMES = {name.upper() for name in Settings.model_fields}
# NAME_LIKE_THIS: every one in a message must be a real variable, never a joined
# internal path such as API_KEYS_CI_SECRET.
UPPER_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


@dataclass(frozen=True)
class Case:
    """A bad environment, the variable(s) the line must name, and the shape it must offer."""

    env: dict[str, str]
    names: tuple[str, ...]
    shape: str
    id: str = field(default="")
    more: tuple[str, ...] = ()  # further text the line must hold


def credential(**entry: object) -> str:
    return json.dumps({"ci": entry})


# One bad value per kind of constraint the settings declare.
CASES = [
    Case({"PORT": "70000"}, ("PORT",), "a whole number from 1 to 65535", "int-range"),
    Case({"WORKERS": "several"}, ("WORKERS",), "a whole number from 1 to 64", "int-parse"),
    Case(
        {"REQUEST_TIMEOUT": "-7.5"},
        ("REQUEST_TIMEOUT",),
        "a number above 0 and at most 3600",
        "float-range",
    ),
    Case({"SHUTDOWN_GRACE": "soonish"}, ("SHUTDOWN_GRACE",), "a number from 0 to 3600", "float"),
    Case({"DEBUG": "maybe-later"}, ("DEBUG",), "true or false", "bool"),
    Case({"LOG_LEVEL": "verbose"}, ("LOG_LEVEL",), "one of DEBUG, INFO, WARNING, ERROR", "choice"),
    Case(
        {"FORWARDED_HEADER": "x-real-ip"},
        ("FORWARDED_HEADER",),
        "one of x-forwarded-for, forwarded",
        "choice-lowered",
    ),
    Case(
        {"CORS_ALLOWED_ORIGINS": f"https://ok.example,ftp://{LEAKY}.example"},
        ("CORS_ALLOWED_ORIGINS",),
        "entry 2 is not an origin: use scheme://host[:port]",
        "list-entry",
    ),
    Case(
        {"TRUSTED_HOSTS": f"ok.example,https://{LEAKY}.example"},
        ("TRUSTED_HOSTS",),
        "entry 2 is not a host name",
        "host-entry",
    ),
    Case(
        {"TRUSTED_PROXIES": f"10.0.0.0/8,{LEAKY}.example"},
        ("TRUSTED_PROXIES",),
        "entry 2 is not an IP address or CIDR network: use e.g. 10.0.0.0/8",
        "network-entry",
    ),
    Case(
        {"RATE_LIMIT_DEFAULT": f"{LEAKY}/minute"},
        ("RATE_LIMIT_DEFAULT",),
        "use <count>/<period>",
        "rate-limit",
    ),
    Case(
        {"RATE_LIMIT_ROUTES": json.dumps({"POST /x": f"{LEAKY}/fortnight"})},
        ("RATE_LIMIT_ROUTES",),
        'entry "POST /x": not a rate limit: use <count>/<period>',
        "json-entry",
    ),
    Case(
        {"RATE_LIMIT_ROUTES": '{"POST /x": "' + LEAKY},
        ("RATE_LIMIT_ROUTES",),
        'is not valid JSON: use a JSON object such as {"POST /api/v1/items": "20/minute"}',
        "not-json",
    ),
    Case(
        {"RATE_LIMIT_STORAGE_URL": f"ftp://svc:{LEAKY}@store.example"},
        ("RATE_LIMIT_STORAGE_URL",),
        "use memory://",
        "store-url",
    ),
    Case(
        {"RATE_LIMIT_MEMORY_MAX_KEYS": "99"},
        ("RATE_LIMIT_MEMORY_MAX_KEYS",),
        "a whole number from 100 to 10000000",
        "int-min",
    ),
    Case(
        {"UPSTREAM_URL": f"htps://svc:{LEAKY}@values.example"},
        ("UPSTREAM_URL",),
        "use e.g. https://api.example.com/v1",
        "url",
    ),
    Case(
        {"UPSTREAM_URL": f"https://values.example:{LEAKY}/v1"},
        ("UPSTREAM_URL",),
        "a port that is not a number from 0 to 65535",
        "url-port",
    ),
    Case(
        {"UPSTREAM_URL": f"https://svc:{LEAKY}@values.example"},
        ("UPSTREAM_URL", "UPSTREAM_TOKEN"),
        "takes no credentials",
        "url-credentials",
    ),
    Case(
        {"UPSTREAM_URL": "http://values.example"},
        ("UPSTREAM_URL", "UPSTREAM_ALLOW_HTTP"),
        "must be https://",
        "model-https",
    ),
    Case(
        {"UPSTREAM_URL": "http://values.example", "UPSTREAM_TOKEN": SECRET},
        ("UPSTREAM_TOKEN", "UPSTREAM_URL"),
        "is never sent over plain http",
        "model-token",
    ),
    Case(
        {"UPSTREAM_URL": "https://values.example", "UPSTREAM_TIMEOUT": "31"},
        ("UPSTREAM_TIMEOUT", "REQUEST_TIMEOUT"),
        "must be below REQUEST_TIMEOUT",
        "model-timeouts",
    ),
    Case(
        {"CORS_ALLOWED_ORIGINS": "*"},
        ("CORS_ALLOWED_ORIGINS", "DEBUG"),
        "list the exact origins",
        "model-cors",
    ),
    Case(
        {"API_KEYS": credential(secret=f"short-{LEAKY[:6]}", scopes=[])},
        ('API_KEYS["ci"]["secret"]',),
        "a secret of at least 24 characters",
        "secret-length",
    ),
    Case(
        {"API_KEYS": json.dumps([SECRET])},
        ("API_KEYS",),
        'is not a JSON object: use a JSON object such as {"ci": {"secret": ',
        "json-type",
    ),
    Case(
        {"API_KEYS": credential(scopes=[])},
        ('API_KEYS["ci"]["secret"]',),
        "is missing: use a JSON object such as",
        "json-missing",
    ),
    Case(
        {"API_KEYS": credential(secret=SECRET, scopes=[], password=SECRET)},
        ('API_KEYS["ci"]["password"]',),
        "is not a known field",
        "json-extra",
    ),
    Case(
        {"API_KEYS": credential(secret=SECRET, scopes=[f"Items {LEAKY}"])},
        ('API_KEYS["ci"]["scopes"][0]',),
        "use a scope such as items:read",
        "json-pattern",
    ),
    Case(
        {"API_KEY_HASHES": credential(sha256=LEAKY, scopes=[])},
        ('API_KEY_HASHES["ci"]["sha256"]',),
        "use 64 hexadecimal digits",
        "hash-pattern",
    ),
    Case(
        {"API_BEARER_TOKENS": credential(secret=f"eyJ.{SECRET}.x", scopes=[])},
        ("API_BEARER_TOKENS",),
        'entry "ci" must not contain',
        "token-dots",
    ),
    Case(
        {"JWT_SECRET_KEY": f"short-{LEAKY}"},
        ("JWT_SECRET_KEY",),
        "at least 32 bytes",
        "jwt-secret",
    ),
    Case(
        {"JWT_SECRET_KEY": SECRET + SECRET, "JWT_ALGORITHMS": "HS256,none"},
        ("JWT_ALGORITHMS",),
        "HS256, HS384 or HS512 with JWT_SECRET_KEY",
        "jwt-algorithms",
    ),
    Case(
        {"JWT_JWKS_URL": f"http://{LEAKY}.example/jwks"},
        ("JWT_JWKS_URL",),
        "must be https://",
        "jwt-jwks",
    ),
    Case(
        {"JWT_SECRET_KEY": SECRET + SECRET, "JWT_JWKS_URL": f"https://{LEAKY}.example/jwks"},
        ("JWT_SECRET_KEY", "JWT_PUBLIC_KEY", "JWT_JWKS_URL"),
        "exactly one of",
        "jwt-sources",
    ),
    Case(
        {"JWT_PUBLIC_KEY": f"-----BEGIN PUBLIC KEY-----\n{LEAKY}\n-----END PUBLIC KEY-----\n"},
        ("JWT_PUBLIC_KEY", "JWT_ALGORITHMS"),
        "use a PEM public key",
        "jwt-public-key",
    ),
    Case(
        {"JWT_JWKS_URL": "https://idp.example/jwks", "JWT_ALGORITHMS": "RS256,RS257"},
        ("JWT_ALGORITHMS",),
        "does not know: use e.g. HS256, RS256",
        "jwt-unknown-algorithm",
    ),
    Case({"JWT_LEEWAY": "301"}, ("JWT_LEEWAY",), "a number from 0 to 300", "jwt-leeway"),
    Case({"GRPC_PORT": "8000"}, ("GRPC_PORT", "PORT"), "must differ from PORT", "model-ports"),
    Case(
        {"GRPC_TLS_CERT": f"/nonexistent/{LEAKY}.pem"},
        ("GRPC_TLS_CERT",),
        "the path of an existing file",
        "file",
    ),
    Case(
        {"GRPC_TLS_CERT": __file__},
        ("GRPC_TLS_CERT", "GRPC_TLS_KEY"),
        "together",
        "model-tls",
    ),
    Case(
        {"SENTRY_DSN": f"not-a-dsn-{LEAKY}"},
        ("SENTRY_DSN",),
        "not a Sentry DSN",
        "dsn",
    ),
    Case(
        {"SENTRY_ENVIRONMENT": "e" * 65},
        ("SENTRY_ENVIRONMENT",),
        "text of 1 to 64 characters",
        "length",
    ),
    Case(
        {"SENTRY_TRACES_SAMPLE_RATE": "1.5"},
        ("SENTRY_TRACES_SAMPLE_RATE",),
        "a number from 0 to 1",
        "rate",
    ),
    Case(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": f"ftp://{LEAKY}.example"},
        ("OTEL_EXPORTER_OTLP_ENDPOINT",),
        "http(s)://host[:port][/path]",
        "otlp",
    ),
]


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def out_of_bounds() -> list[Case]:
    """Past the bound of every bounded number or text the cases above leave out.

    Made from the declarations, so a team's own bounded settings are covered too.
    """
    named = {name for case in CASES for name in case.env}
    cases = []
    for name, info in Settings.model_fields.items():
        env = name.upper()
        if env in named:
            continue
        bounds = {
            key: value
            for item in info.metadata
            for key in ("ge", "gt", "le", "lt", "max_length")
            if (value := getattr(item, key, None)) is not None
        }
        low = bounds.get("ge", bounds.get("gt"))
        high = bounds.get("le", bounds.get("lt"))
        if high is not None:  # a number: above its maximum
            kind = "whole number" if info.annotation is int else "number"
            shown = (number(high),) if low is None else (number(low), number(high))
            value = number(high) + "7"
            cases.append(Case({env: value}, (env,), f"is out of range: use a {kind}", name, shown))
        elif "max_length" in bounds:  # a text: longer than allowed
            longest = bounds["max_length"]
            value = "x" * (longest + 1)
            cases.append(Case({env: value}, (env,), "is too long: use text", name, (str(longest),)))
    return cases


# The cases whose variables this variant has.
APPLICABLE = [case for case in (*CASES, *out_of_bounds()) if set(case.env) <= ENV_NAMES]


def leaves(value: str) -> list[str]:
    """The strings a user wrote in a value: the JSON leaves of a JSON one, else the value."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return [value]
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(parsed)
    return found


def run_main() -> int:
    """``main()`` as ``python -m`` calls it; the environment must be invalid (or it would serve)."""
    with pytest.raises((ValidationError, SettingsError)):
        Settings()
    return cli.main([])


def assert_one_clear_line(output: str, case: Case) -> str:
    lines = output.splitlines()
    assert len(lines) == 1, output
    line = lines[0]
    assert line.startswith(PREFIX)
    for name in case.names:
        assert name in line
    assert case.shape in line
    for text in case.more:
        assert text in line
    assert set(UPPER_NAME.findall(line)) <= ENV_NAMES  # no joined internal path
    for pydantic_text in ("Value error", "Input should", "settings", "Traceback"):
        assert pydantic_text not in line
    assert LEAKY not in line
    for value in case.env.values():
        for written in leaves(value):
            assert len(written) < 4 or written not in line
    return line


@pytest.mark.parametrize("case", APPLICABLE, ids=[case.id for case in APPLICABLE])
def test_each_kind_of_mistake_is_one_clear_line(
    case: Case, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    assert run_main() == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_clear_line(captured.err, case)


def test_several_mistakes_are_one_line_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORT", "0")
    monkeypatch.setenv("LOG_LEVEL", "loud")
    assert run_main() == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.partition(": ")[2].split()[0] for line in lines] == ["PORT", "LOG_LEVEL"]


# What the bad environment of a real ``python -m`` start says, exactly.
SCOPE_LIST = ", ".join(sorted(SCOPES))
PROCESS_CASES = [
    ({"PORT": "70000"}, "PORT is out of range: use a whole number from 1 to 65535"),
    (
        {"UPSTREAM_URL": "http://values.example"},
        "UPSTREAM_URL must be https:// (plain http only on loopback, "
        "or with UPSTREAM_ALLOW_HTTP=true)",
    ),
]
if "api_key" in AUTH_METHODS:
    PROCESS_CASES += [
        (
            {"API_KEYS": credential(secret="tooShort" + LEAKY[:8], scopes=["items:read"])},
            'API_KEYS["ci"]["secret"] is too short: use a secret of at least 24 characters',
        ),
        (
            {"API_KEYS": credential(secret=SECRET, scopes=["items:reed"])},
            'API_KEYS["ci"]["scopes"][0]: unknown scope "items:reed": '
            f"use scopes this service knows: {SCOPE_LIST}",
        ),
    ]


@pytest.mark.parametrize(("env", "message"), PROCESS_CASES)
def test_python_m_says_one_line_and_exits_2(env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", PACKAGE],
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": suite_database_url(), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == PREFIX + message + "\n"
    assert LEAKY not in result.stdout + result.stderr


# Every setting that configures scopes, with an entry granting one unknown scope.
SCOPED_SETTINGS = {
    "API_KEYS": credential(secret=SECRET, scopes=[*sorted(SCOPES), "items:reed"]),
    "API_KEY_HASHES": credential(sha256="a" * 64, scopes=[*sorted(SCOPES), "items:reed"]),
    "API_BEARER_TOKENS": credential(secret=SECRET, scopes=[*sorted(SCOPES), "items:reed"]),
}


def test_an_unknown_scope_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fail closed: a typo in a scope would otherwise start, granting nothing, silently."""
    checked = []
    for name, value in SCOPED_SETTINGS.items():
        if name not in ENV_NAMES:
            continue
        with monkeypatch.context() as env:
            env.setenv(name, value)
            assert run_main() == 2
        index = len(SCOPES)
        assert capsys.readouterr().err == (
            f'{PREFIX}{name}["ci"]["scopes"][{index}]: unknown scope "items:reed": '
            f"use scopes this service knows: {SCOPE_LIST}\n"
        )
        checked.append(name)
    expected = {"api_key": ["API_KEYS", "API_KEY_HASHES"], "bearer": ["API_BEARER_TOKENS"]}
    assert sorted(checked) == sorted(n for kind in AUTH_METHODS for n in expected.get(kind, []))


def test_every_known_scope_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SCOPED_SETTINGS:
        if name in ENV_NAMES:
            monkeypatch.setenv(name, SCOPED_SETTINGS[name].replace(', "items:reed"', ""))
    settings = Settings()
    granted = [
        entry.scopes
        for name in SCOPED_SETTINGS
        if name in ENV_NAMES
        for entry in getattr(settings, name.lower()).values()
    ]
    assert len(granted) == sum(name in ENV_NAMES for name in SCOPED_SETTINGS)
    assert all(scopes == SCOPES for scopes in granted)


def test_a_route_cannot_require_an_undeclared_scope() -> None:
    """SCOPES cannot fall behind the routes: building one with an undeclared scope fails."""
    with pytest.raises(ValueError, match=r"items:reed required but not declared in api\.SCOPES"):
        requires(*sorted(SCOPES), "items:reed")
    assert requires(*sorted(SCOPES)) is not None
