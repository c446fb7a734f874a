"""Hostile JSON bodies get a documented 4xx JSON error, never a 5xx, on every framework.

Every route that reads JSON (``JSON_BODY_ROUTES``) gets the hand-picked corpus and
generated documents (tests/hostile_json.py), in-process and over a real server on
127.0.0.1; each answer is a documented 4xx in the one error shape with the
security headers and the request id, and the service keeps serving. A caller
without the route's scope gets its 403 before its body is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from .asgi import DEFAULT_CREDENTIAL, Exchange, exchange
from .conftest import AppFactory, SettingsFactory, client_for
from .credentials import ANONYMOUS, AUTH_SETTINGS, READ_ONLY
from .databases import database_settings
from .framework import OPENAPI_PATH, build_test_app
from .hostile_json import CORPUS, JSON, VALID_BODY, Hostile, hostile_requests
from .service import (
    API_ERROR_STATUSES,
    ITEM_EVENTS_PATH,
    ITEM_WS_PATH,
    JSON_BODY_ROUTES,
    ROUTE_SCOPES,
    ASGIApp,
    Settings,
    create_app,
)
from .test_wire import running_server

# Concrete paths for the route keys ("METHOD /path", a {parameter} as a valid id).
ROUTES = [
    (method, re.sub(r"\{[^{}/]+\}", "0" * 32, path))
    for method, _, path in (key.partition(" ") for key in JSON_BODY_ROUTES)
]
DOCUMENTED = frozenset(API_ERROR_STATUSES)
UNLIMITED = {"rate_limit_default": "1000000/minute", "rate_limit_routes": {}}
# What each answer must carry, whatever produced it.
# The error body's members (ERROR_FORMAT=both, the default), ``errors`` on a 422.
BOTH_MEMBERS = {"type", "title", "status", "detail", "instance", "code", "error", "request_id"}
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")


def assert_refused(status: int, headers: Mapping[str, str], body: bytes, expected: int) -> None:
    """A documented 4xx (``expected``) in the one error shape, with the security headers."""
    assert status == expected, body[:300]
    assert status in DOCUMENTED
    assert headers["content-type"] == "application/problem+json"
    for name in SECURITY_HEADERS:
        assert name in headers, f"{name} missing on {status}"
    payload = json.loads(body)
    assert set(payload) - {"errors"} == BOTH_MEMBERS
    assert payload["request_id"] == payload["instance"] == headers["x-request-id"]
    assert payload["status"] == status


def assert_answered_well(status: int, headers: Mapping[str, str], body: bytes) -> None:
    """For a body that may be valid by chance: created, or a documented 4xx; never a 5xx."""
    if status == 201:
        return
    assert 400 <= status < 500, body[:300]
    assert_refused(status, headers, body, status)


def content_type(value: str | None) -> list[tuple[str, str]]:
    return [] if value is None else [("content-type", value)]


async def post(app: ASGIApp, path: str, body: bytes, media_type: str | None) -> Exchange:
    return await exchange(app, path=path, headers=content_type(media_type), chunks=[body])


@pytest.mark.anyio
@pytest.mark.parametrize("route", ROUTES, ids=" ".join)
@pytest.mark.parametrize("hostile", CORPUS, ids=lambda hostile: hostile.name)
async def test_hostile_body_is_a_documented_4xx(
    make_app: AppFactory, route: tuple[str, str], hostile: Hostile
) -> None:
    app = make_app(**UNLIMITED)
    answer = await exchange(
        app,
        method=route[0],
        path=route[1],
        headers=content_type(hostile.content_type),
        chunks=[hostile.body],
    )
    assert_refused(answer.status, answer.headers, answer.body, hostile.status)
    assert (await post(app, route[1], VALID_BODY, JSON)).status == 201  # still serving


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("depth", "status"), [(1, 422), (2, 201)], ids=["over-the-limit", "at-the-limit"]
)
async def test_json_max_depth_is_the_setting(make_app: AppFactory, depth: int, status: int) -> None:
    """The valid item nests 2 deep (an object holding a list)."""
    answer = await post(make_app(json_max_depth=depth), ROUTES[0][1], VALID_BODY, JSON)
    assert answer.status == status
    if status == 422:
        assert answer.json()["detail"][0]["type"] == "json_too_deep"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "media_type", [JSON, "application/json; charset=UTF-8", "application/x+json"]
)
async def test_json_media_types_are_accepted(make_app: AppFactory, media_type: str) -> None:
    assert (await post(make_app(), ROUTES[0][1], VALID_BODY, media_type)).status == 201


# A failing example's repr can be large (a deep body): report the failure, not that.
LARGE_REPR = pytest.mark.filterwarnings("ignore:Generating overly large repr")
GENERATED = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def unlimited_app() -> ASGIApp:
    configured = {
        **AUTH_SETTINGS,
        "rate_limit_storage_url": "memory://",
        **UNLIMITED,
        **database_settings(),
    }
    return create_app(Settings.model_validate(configured), build=build_test_app)


@LARGE_REPR
@GENERATED
@given(request=hostile_requests())
def test_generated_bodies_are_never_a_5xx(
    unlimited_app: ASGIApp, request: tuple[bytes, str | None]
) -> None:
    body, media_type = request

    async def send_to_every_route() -> list[Exchange]:
        return [
            await exchange(
                unlimited_app,
                method=method,
                path=path,
                headers=content_type(media_type),
                chunks=[body],
            )
            for method, path in ROUTES
        ]

    for answer in anyio.run(send_to_every_route):
        assert_answered_well(answer.status, answer.headers, answer.body)


# Bodies the framework would refuse with its validation details: a caller without
# the scope must get its 403 (401 if anonymous) before any of them is read.
UNREAD_BODIES = [
    Hostile("invalid", b'{"name": "", "quantity": -1}'),
    Hostile("malformed", b'{"name": '),
    Hostile("deep", b"[" * 100_000 + b"]" * 100_000),
    Hostile("not-json", VALID_BODY, "text/plain"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("hostile", UNREAD_BODIES, ids=lambda hostile: hostile.name)
@pytest.mark.parametrize("kind", sorted(READ_ONLY))
async def test_missing_scope_is_403_before_the_body_is_read(
    make_app: AppFactory, kind: str, hostile: Hostile
) -> None:
    app = make_app()
    for method, path in ROUTES:
        answer = await exchange(
            app,
            method=method,
            path=path,
            credentials=READ_ONLY[kind],
            headers=content_type(hostile.content_type),
            chunks=[hostile.body],
        )
        assert_refused(answer.status, answer.headers, answer.body, 403)
        assert answer.json()["detail"] == "Missing scope(s): items:write."
        assert answer.chunks_pulled == 0  # nothing of the body was read


@pytest.mark.anyio
async def test_anonymous_caller_is_401_before_the_body_is_read(make_app: AppFactory) -> None:
    """Anonymous access allowed (REQUIRE_AUTH=false) still needs the route's scopes."""
    app = make_app(require_auth=False)
    for method, path in ROUTES:
        answer = await exchange(
            app, method=method, path=path, credentials=ANONYMOUS, chunks=[b'{"name": ']
        )
        assert_refused(answer.status, answer.headers, answer.body, 401)
        assert "www-authenticate" in answer.headers
        assert answer.chunks_pulled == 0


@pytest.mark.anyio
async def test_every_api_route_is_declared_to_the_core(make_settings: SettingsFactory) -> None:
    """Each API operation has its scopes in ROUTE_SCOPES, and each that takes a body is
    in JSON_BODY_ROUTES, so the core checks them before the body is read.

    The team's routes too: custom/routes.py's tables join api.py's, and this test
    fails until a new route is listed there."""
    async with client_for(create_app(make_settings(debug=True))) as http:
        schema = (await http.get(OPENAPI_PATH)).json()
    operations = {
        f"{method.upper()} {path}": operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if path.startswith("/api/") and isinstance(operation, dict)
    }
    assert operations
    # The streams are served by the core (security/streams.py), outside the OpenAPI.
    streams = [f"GET {ITEM_EVENTS_PATH}", f"GET {ITEM_WS_PATH}"]
    assert sorted([*operations, *streams]) == sorted(ROUTE_SCOPES)
    with_body = sorted(key for key, operation in operations.items() if "requestBody" in operation)
    assert with_body == sorted(JSON_BODY_ROUTES)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "media_type", "status"),
    [
        (b"[" * 100_000 + b"]" * 100_000, JSON, 422),  # sent as JSON: checked
        (b'{"a": 1, "a": 2}', "application/merge-patch+json", 422),
        (VALID_BODY, "application/json; charset=latin-1", 415),
        (b"", JSON, 200),  # no body to check
        (b"[" * 100_000, "application/octet-stream", 200),  # not JSON: not ours to judge
        (b"[" * 100_000, None, 200),
    ],
    ids=["deep-json", "duplicate-key", "latin-1", "empty-json", "bytes", "no-media-type"],
)
async def test_a_body_sent_as_json_is_checked_on_any_route(
    make_app: AppFactory, body: bytes, media_type: str | None, status: int
) -> None:
    """A route the core does not know (a test route that reads raw bytes): a body sent
    as JSON is checked all the same; any other body reaches the route untouched."""
    answer = await post(make_app(), "/_test/size", body, media_type)
    if status == 200:
        assert (answer.status, answer.json()) == (200, {"size": len(body)})
    else:
        assert_refused(answer.status, answer.headers, answer.body, status)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server(RATE_LIMIT_DEFAULT="1000000/minute", RATE_LIMIT_ROUTES="{}") as (base, _):
        yield base


def wire_post(
    http: httpx.Client, base: str, route: tuple[str, str], body: bytes, media_type: str | None
) -> httpx.Response:
    headers = {**DEFAULT_CREDENTIAL, **dict(content_type(media_type))}
    return http.request(route[0], base + route[1], content=body, headers=headers)


def test_hostile_corpus_over_the_wire(server: str) -> None:
    """The whole corpus against the real server; after each body, a valid one is created."""
    failures = []
    with httpx.Client(timeout=10) as http:
        for route in ROUTES:
            for hostile in CORPUS:
                response = wire_post(http, server, route, hostile.body, hostile.content_type)
                try:
                    assert_refused(
                        response.status_code, response.headers, response.content, hostile.status
                    )
                    assert wire_post(http, server, route, VALID_BODY, JSON).status_code == 201
                except AssertionError as error:
                    failures.append(f"{hostile.name}: {response.status_code} {error}")
    assert failures == []


@LARGE_REPR
@settings(GENERATED, max_examples=40)
@given(request=hostile_requests())
def test_generated_bodies_over_the_wire(server: str, request: tuple[bytes, str | None]) -> None:
    body, media_type = request
    with httpx.Client(timeout=10) as http:
        for route in ROUTES:
            response = wire_post(http, server, route, body, media_type)
            assert_answered_well(response.status_code, response.headers, response.content)
        assert http.get(f"{server}/health").status_code == 200  # still serving
