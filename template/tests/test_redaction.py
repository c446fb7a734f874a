"""No secret reaches a log line, wherever it hides; no value can forge a line.

A session sends secrets in every place a request can carry them and an app that
logs them in every way code does (fields, nested headers, free text, library
loggers, exception messages); every line it produces is then checked.
"""

from __future__ import annotations

import json
import logging
import sys

import pytest
import structlog
from starlette.types import Receive, Scope, Send

from .conftest import SettingsFactory, client_for
from .credentials import AUTH_SETTINGS, CREDENTIALS, SECRETS
from .service import REDACTED, Redactor, apply_security, configure_logging

pytestmark = pytest.mark.anyio

PASSWORD = "hunter2-Vq8xLm3Zp"  # not configured anywhere: caught by name or shape
QUERY_TOKEN = "qt_R7kW2mZ9xV4nB8cL"
COOKIE_VALUE = "sess_M4nB7vC2xZ9kL3qW"
OPAQUE = "opaque-Zq7mWx2"  # no secret's shape: only its field's name tells
JWT_LIKE = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLXZhbHVlLXg"
# This variant's configured secrets (keys, tokens, signing secret): caught by value.
CONFIGURED = [secret for secret in SECRETS if secret in json.dumps(AUTH_SETTINGS)]
EVERY_SECRET = [*SECRETS, PASSWORD, QUERY_TOKEN, COOKIE_VALUE, JWT_LIKE, OPAQUE]
FORGED = '{"level":"critical","event":"forged"}'


async def leaky_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Application code at its most careless: logs secrets every way, then fails."""
    configured = CONFIGURED[0]
    log = structlog.get_logger("careless")
    log.info(
        "calling upstream",
        url=f"https://svc:{PASSWORD}@db.internal/x?token={QUERY_TOKEN}&page=2",
        headers={"Authorization": f"Bearer {configured}", "Cookie": f"session={COOKIE_VALUE}"},
        raw_headers=[(b"x-api-key", configured.encode())],
        password=PASSWORD,
        body={"user": "ada", "password": PASSWORD},
        note=f"the key is {configured}",
        jwt_note=f"got {JWT_LIKE} back",
    )
    log.info("flat", authorization=OPAQUE, status=200)  # flat: the hot path's shape
    log.info("user text", text=f"ok\n{FORGED}\u2028{FORGED}\x1b[2J")
    logging.getLogger("somelib.http").warning(
        "sent Authorization: Bearer %s and X-API-Key: %s and Cookie: session=%s",
        configured,
        configured,
        COOKIE_VALUE,
    )
    raise RuntimeError(f"login failed: password={PASSWORD} key={configured} ?token={QUERY_TOKEN}")


async def leaky_session(
    make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str], log_format: str
) -> str:
    """Everything the service printed while serving one careless request."""
    capsys.readouterr()
    assert CONFIGURED, "every variant configures at least one secret in its tests"
    settings = make_settings(log_format=log_format)
    configure_logging(settings)  # as create_app does: the configured secrets are known
    app = apply_security(leaky_app, settings)
    async with client_for(app, credentials=next(iter(CREDENTIALS.values()))) as http:
        response = await http.post(
            f"/api/v1/items?password={PASSWORD}&token={QUERY_TOKEN}",
            json={"name": "x", "password": PASSWORD},
            headers={"cookie": f"session={COOKIE_VALUE}"},
        )
    assert response.status_code == 500
    out = capsys.readouterr().out
    for secret in EVERY_SECRET:
        assert secret not in out
    return out


async def test_json_lines_carry_no_secret_and_cannot_be_forged(
    make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    out = await leaky_session(make_settings, capsys, "json")
    lines = [json.loads(line) for line in out.splitlines()]  # every line is one JSON event
    events = [line["event"] for line in lines]
    assert "calling upstream" in events
    assert "unhandled_exception" in events
    assert "forged" not in events  # the forged event stayed inside its value
    assert any("sent Authorization: Bearer" in line["event"] for line in lines)
    assert REDACTED in out
    upstream = lines[events.index("calling upstream")]
    assert upstream["password"] == REDACTED
    assert upstream["headers"] == {"Authorization": REDACTED, "Cookie": REDACTED}
    assert lines[events.index("flat")]["authorization"] == REDACTED
    assert upstream["url"].startswith("https://[REDACTED]@db.internal/x?token=[REDACTED]&page=2")


async def test_console_lines_carry_no_secret_and_cannot_be_forged(
    make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    out = await leaky_session(make_settings, capsys, "console")
    assert "calling upstream" in out
    assert not any(line.startswith(FORGED) for line in out.splitlines())
    assert "\x1b[2J" not in out  # a terminal escape from a value is shown, not run
    assert "\\n" + FORGED in out


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_an_exception_that_ends_the_process_is_one_redacted_line(
    make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    """What Python would print raw on stderr goes through the renderer and the redaction."""
    configure_logging(make_settings(log_format=log_format))
    capsys.readouterr()
    try:
        raise OSError(f"cannot reach redis://:{PASSWORD}@cache:6379 with {CONFIGURED[0]}")
    except OSError as error:
        sys.excepthook(type(error), error, error.__traceback__)
    out, err = capsys.readouterr()
    assert err == ""
    assert "uncaught_exception" in out
    assert "cannot reach redis://" in out
    assert PASSWORD not in out
    assert CONFIGURED[0] not in out
    assert "critical" in out


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [REDACTED]"),
        ("Basic dXNlcjpwYXNzd29yZA==", "Basic [REDACTED]"),
        (f"got {JWT_LIKE}.", "got [REDACTED]."),
        (
            "GET /cb?code=1&access_token=a1b2c3d4e5&x=2",
            "GET /cb?code=1&access_token=[REDACTED]&x=2",
        ),
        ("{'password': 'p@ss w0rd'}", "{'password': '[REDACTED]'}"),
        ('{"api_key": "k-12345678"}', '{"api_key": "[REDACTED]"}'),
        ("redis://:s3cretpw@cache:6379/0", "redis://[REDACTED]@cache:6379/0"),
        ("Set-Cookie: sid=abc; HttpOnly", "Set-Cookie: [REDACTED]"),
        ("X-API-Key=abcdef123456", "X-API-Key=[REDACTED]"),
    ],
)
def test_secret_shapes_are_redacted_in_free_text(text: str, kept: str) -> None:
    assert Redactor().scrub_text(text) == kept


@pytest.mark.parametrize(
    "text",
    [
        "tokenizer=bpe loaded",
        "request_id=4f2a credential=api_key status=401",
        "GET /api/v1/items/0123456789abcdef page=2",
        "https://example.com/path?page=2",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor().scrub_text(text) == text


def test_configured_values_are_redacted_in_any_text() -> None:
    redactor = Redactor(["configured-value-123", "short"])
    assert redactor.scrub_text("x configured-value-123 y") == f"x {REDACTED} y"
    assert redactor.scrub_text("a short word") == "a short word"  # too short to redact safely
    line = json.dumps({"event": 'said "configured-value-123"'}).encode()
    assert b"configured-value-123" not in redactor.scrub_line(line)


def test_values_under_sensitive_names_are_redacted_at_any_depth() -> None:
    event = {
        "event": "call",
        "request_id": "abc",
        "credential": "api_key",  # a kind's name, not a secret
        "outer": {"inner": [{"client_secret": "x1"}, ("authorization", "Bearer y")]},
        "DB-Password": "z",
        "empty_token": "",
    }
    redacted = Redactor().redact_names(event)
    assert redacted == {
        "event": "call",
        "request_id": "abc",
        "credential": "api_key",
        "outer": {"inner": [{"client_secret": REDACTED}, ("authorization", REDACTED)]},
        "DB-Password": REDACTED,
        "empty_token": "",
    }
    assert event["DB-Password"] == "z"  # the caller's dict is not changed
    untouched = {"event": "request", "path": "/health", "status": 200}
    assert Redactor().redact_names(untouched) is untouched  # no copy on the hot path


def test_only_flat_events_of_known_clean_strings_skip_the_line_scan() -> None:
    redactor = Redactor(["configured-value-123"])
    access = {"event": "request", "method": "GET", "path": "/health", "status": 200, "ms": 0.4}
    assert redactor.known_clean(access)
    assert redactor.known_clean(access)  # again, from the remembered strings
    for suspect in (
        {**access, "path": "/cb?token=abc"},  # a shape's trigger
        {**access, "note": "says configured-value-123"},  # a configured secret
        {**access, "text": "one\u2028two"},  # a raw line break in JSON
        {**access, "headers": {"x": "y"}},  # a container: scanned as a line
        {**access, "obj": object()},  # rendered by repr: scanned as a line
        {**access, "Bearer abcdefgh": 1},  # keys count too
        {**access, "authorization": "opaque"},  # a sensitive name, whatever its value
        {**access, "Credentials": "abc"},
    ):
        assert not redactor.known_clean(suspect), suspect


def test_values_with_a_trigger_word_but_no_secret_are_clean_once_checked() -> None:
    """The audit line's credential kind, a path with "key" in it: the full scan finds nothing."""
    redactor = Redactor(["configured-value-123"])
    for value in ("api_key", "bearer", "/api/v1/keys/7", "session over", "token"):
        assert redactor.known_clean({"credential": value}), value
    for secret in (
        "Bearer abcdefgh123",
        "token=abc123",
        "x configured-value-123 y",
        "eyJhbGciOi.eyJzdWIiOi.sig",
        "https://user:pw@host/",
        'password": "hunter2',
    ):
        assert not redactor.known_clean({"note": secret}), secret


def test_hex_ids_are_clean_unless_a_configured_hex_secret_is_in_them() -> None:
    """Request and trace ids are new on every line: checked without the trigger scan."""
    hex_secret = "0123456789abcdef0123"
    redactor = Redactor(["configured-value-123", hex_secret])
    assert redactor.known_clean({"request_id": "9f" * 16})
    assert not redactor.known_clean({"request_id": f"ab{hex_secret}cd"})
    line = redactor.scrub_line(f'{{"request_id":"ab{hex_secret}cd"}}'.encode())
    assert hex_secret.encode() not in line
    assert Redactor(["configured-value-123"]).known_clean({"request_id": f"ab{hex_secret}"})


def test_remembered_clean_strings_stay_bounded() -> None:
    redactor = Redactor()
    for number in range(10_000):
        assert redactor.known_clean({"request_id": f"{number:032x}", f"n{number}": 1})
    assert len(redactor._clean) <= 4096
    assert len(redactor._names) <= 4096
