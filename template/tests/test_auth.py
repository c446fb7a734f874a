"""Authentication and authorization: fail closed, every credential kind, every route."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from .asgi import exchange
from .conftest import AppFactory, SettingsFactory, client_for
from .credentials import ANONYMOUS, CREDENTIALS, READ_ONLY
from .service import AUTH_METHODS, HEALTH_PATHS

pytestmark = pytest.mark.anyio

ITEM = {"name": "Blue widget", "quantity": 3}
READ = ("GET", "/api/v1/items/" + "0" * 32)  # needs items:read (404: no such item)
WRITE = ("POST", "/api/v1/items")  # needs items:write
ROUTES = {"read": READ, "write": WRITE}
GRANTED = {"read": 404, "write": 201}


def wrong(kind: str) -> dict[str, str]:
    """A credential of ``kind`` that is well-formed but not configured."""
    if kind == "api_key":
        return {"x-api-key": "ak_live_" + "Q" * 24}
    if kind == "bearer":
        return {"authorization": "Bearer bt_" + "Q" * 24}
    return {"authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}


async def call(app: object, route: tuple[str, str], headers: dict[str, str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    method, path = route
    async with client_for(app, credentials=headers) as http:  # type: ignore[arg-type]
        response = await http.request(method, path, json=ITEM if method == "POST" else None)
    return response.status_code, dict(response.headers)


@pytest.mark.parametrize(
    ("kind", "route"), list(itertools.product(AUTH_METHODS, ROUTES)), ids=lambda v: str(v)
)
async def test_auth_matrix(make_app: AppFactory, kind: str, route: str) -> None:
    """route x credential kind x valid / invalid / missing / insufficient scope."""
    app = make_app()
    valid, _ = await call(app, ROUTES[route], CREDENTIALS[kind])
    invalid, invalid_headers = await call(app, ROUTES[route], wrong(kind))
    missing, missing_headers = await call(app, ROUTES[route], ANONYMOUS)
    read_only, _ = await call(app, ROUTES[route], READ_ONLY[kind])
    assert valid == GRANTED[route]
    assert invalid == 401
    assert 'error="invalid_token"' in invalid_headers["www-authenticate"]
    assert missing == 401
    assert "www-authenticate" in missing_headers
    assert read_only == (GRANTED["read"] if route == "read" else 403)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": ""},
        {"x-api-key": "x" * 100_000},
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer " + "y" * 100_000},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Bearer a.b.c"},
        {"authorization": "Bearer ..."},
    ],
    ids=[
        "empty-key",
        "huge-key",
        "empty-auth",
        "bearer-no-token",
        "huge-bearer",
        "basic",
        "fake-jwt",
        "dots",
    ],
)
async def test_odd_credentials_are_401_never_500(
    make_app: AppFactory, headers: dict[str, str]
) -> None:
    status, _ = await call(make_app(), READ, headers)
    assert status == 401


async def test_non_ascii_and_duplicate_credentials_are_401(make_app: AppFactory) -> None:
    app = make_app()
    odd = await exchange(
        app,
        method="GET",
        path=READ[1],
        credentials=None,
        headers=[("x-api-key", "kl\u00e9"), ("authorization", "Bearer \u00e9t\u00e9")],
    )
    first = next(iter(CREDENTIALS.values()))
    name, value = next(iter(first.items()))
    doubled = await exchange(
        app, method="GET", path=READ[1], credentials=None, headers=[(name, value), (name, value)]
    )
    assert (odd.status, doubled.status) == (401, 401)


@pytest.mark.parametrize("path", HEALTH_PATHS)
async def test_health_is_public(make_app: AppFactory, path: str) -> None:
    status, _ = await call(make_app(), ("GET", path), ANONYMOUS)
    assert status == 200


@pytest.mark.parametrize("path", ["/healthX", "/health/x", "/health/../api/v1/items", "/Health"])
async def test_only_the_exact_health_paths_are_public(make_app: AppFactory, path: str) -> None:
    result = await exchange(make_app(), method="GET", path=path, credentials=None)
    assert result.status == 401


async def test_cors_preflight_needs_no_credentials(make_app: AppFactory) -> None:
    app = make_app(cors_allowed_origins="https://app.example.com")
    result = await exchange(
        app,
        method="OPTIONS",
        path=WRITE[1],
        credentials=None,
        headers=[("origin", "https://app.example.com"), ("access-control-request-method", "POST")],
    )
    assert result.status == 200
    assert result.headers["access-control-allow-origin"] == "https://app.example.com"


async def test_options_without_preflight_headers_is_not_public(make_app: AppFactory) -> None:
    result = await exchange(make_app(), method="OPTIONS", path=WRITE[1], credentials=None)
    assert result.status == 401


async def test_fail_closed_without_any_credentials(
    make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from .service import create_app

    nothing: dict[str, object] = {
        "api_keys": {},
        "api_key_hashes": {},
        "api_bearer_tokens": {},
        "jwt_secret_key": None,
    }
    settings = make_settings(**nothing)
    assert not settings.has_credentials
    app = create_app(settings)
    for headers in (*CREDENTIALS.values(), ANONYMOUS):
        status, _ = await call(app, READ, headers)
        assert status == 401
    assert "REQUIRE_AUTH is on but no credentials are configured" in capsys.readouterr().out


async def test_without_require_auth_scoped_routes_still_need_a_credential(
    make_app: AppFactory,
) -> None:
    app = make_app(require_auth=False)
    anonymous_health, _ = await call(app, ("GET", "/health"), ANONYMOUS)
    anonymous_read, _ = await call(app, READ, ANONYMOUS)
    wrong_read, _ = await call(app, READ, wrong(AUTH_METHODS[0]))
    assert (anonymous_health, anonymous_read, wrong_read) == (200, 401, 401)


ROTATIONS = [
    (kind, field, header)
    for kind, field, header in (
        ("api_key", "api_keys", lambda key: {"x-api-key": key}),
        ("bearer", "api_bearer_tokens", lambda key: {"authorization": f"Bearer {key}"}),
    )
    if kind in AUTH_METHODS
]


async def test_rotation_several_secrets_at_once(make_app: AppFactory) -> None:
    """Old and new secrets both work during a rotation; a removed one stops working.

    (JWT rotation is by key id in the JWKS: tests/test_jwt.py.)
    """
    old, new = "rot_old_" + "A" * 24, "rot_new_" + "B" * 24
    grant = {"scopes": ["items:read"]}
    for _, field, header in ROTATIONS:
        both = make_app(
            **{field: {"old": {"secret": old, **grant}, "new": {"secret": new, **grant}}}
        )
        rotated = make_app(**{field: {"new": {"secret": new, **grant}}})
        statuses = [
            (await call(app, READ, header(key)))[0]
            for app, key in ((both, old), (both, new), (rotated, old), (rotated, new))
        ]
        assert statuses == [404, 404, 401, 404], field


if "api_key" in AUTH_METHODS:

    async def test_api_key_by_hash_only(make_app: AppFactory) -> None:
        """API_KEY_HASHES: the raw key never needs to sit in the environment."""
        key = "ak_hashed_" + "C" * 24
        digest = hashlib.sha256(key.encode()).hexdigest()
        app = make_app(api_key_hashes={"ci": {"sha256": digest, "scopes": ["items:read"]}})
        assert (await call(app, READ, {"x-api-key": key}))[0] == 404
        assert (await call(app, READ, {"x-api-key": digest}))[0] == 401  # the hash is no key


WEAK = [
    (kind, name, value, message)
    for kind, name, value, message in (
        ("api_key", "api_keys", {"k": {"secret": "short", "scopes": []}}, "at least 24"),
        ("api_key", "api_keys", {"k": {"secret": "x" * 30, "scopes": ["BAD SCOPE"]}}, "pattern"),
        ("api_key", "api_key_hashes", {"k": {"sha256": "abc", "scopes": []}}, "pattern"),
        ("bearer", "api_bearer_tokens", {"t": {"secret": "a.b." + "x" * 30}}, "must not contain"),
        ("jwt", "jwt_secret_key", "too-short-for-hs256", "at least 32 bytes"),
    )
    if kind in AUTH_METHODS
]


@pytest.mark.parametrize(("kind", "name", "value", "message"), WEAK, ids=[w[1] for w in WEAK])
def test_weak_or_malformed_credentials_are_refused(
    make_settings: SettingsFactory, kind: str, name: str, value: object, message: str
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        make_settings(**{name: value})


def test_credentials_never_appear_in_settings_repr(make_settings: SettingsFactory) -> None:
    from .credentials import SECRETS

    text = repr(make_settings()) + str(make_settings().model_dump())
    for secret in SECRETS:
        assert secret not in text
