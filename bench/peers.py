"""The peer apps of bench/run.py: what a team would assemble from popular libraries.

One per framework, with the service's routes and the same answers (health 200,
read 200, create 201), its items read and written through the service's own
repository on ``DATABASE_URL``. Every peer wraps its framework app in the same
framework-agnostic pure-ASGI layers (``bench_peer_common``: asgi-correlation-id,
``secure``'s ASGI middleware, Starlette CORS / TrustedHost / GZip, a structlog
JSON access line from an ASGI class), and adds the framework's own usual API-key
check and rate limiter (the default limit, and the create route's own):

- FastAPI: ``APIKeyHeader`` dependency; slowapi (its ASGI middleware for the
  default limit, its decorator for the route's);
- Litestar: a guard; the ``limits`` library in guards (an app-level guard for the
  default limit, a route guard for the route's). Not Litestar's own
  ``RateLimitConfig``: it keeps every request's timestamp in the window and
  re-encodes that list as JSON on every request, so with the benchmark's limits
  (counted, never reached) its cost grows with the requests served;
- Quart: a view decorator (``hmac.compare_digest``); quart-rate-limiter (its
  default limits, its ``rate_limit`` decorator for the route's).

The sources are written by run.py beside ``bench_apps``: ``bench_peer_common.py``,
and ``bench_peer.py`` for the rendered project's framework (``{package}`` filled in).
Their libraries are installed into the rendered project's environment, never the template.
"""

from __future__ import annotations

from pathlib import Path

# Beyond what every rendered project has already (starlette, secure, structlog, limits).
PEER_PACKAGES: dict[str, tuple[str, ...]] = {
    "fastapi": ("asgi-correlation-id", "slowapi"),
    "litestar": ("asgi-correlation-id",),
    "quart": ("asgi-correlation-id", "quart-rate-limiter"),
}

COMMON_SOURCE = '''\
"""What every peer app of bench/run.py shares; written by it beside bench_apps.

The framework-agnostic pure-ASGI layers (asgi-correlation-id, `secure`'s ASGI
middleware, Starlette CORS / TrustedHost / GZip, a structlog JSON access line from
an ASGI class), outermost first, and the API-key comparison.
"""

import hmac
from collections.abc import Callable
from time import perf_counter
from typing import Any

import structlog
from asgi_correlation_id import CorrelationIdMiddleware
from secure import Secure
from secure.middleware.asgi import SecureASGIMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware


class AccessLog:
    """One structlog JSON line per request, once the response is sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.log = structlog.get_logger("access")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = perf_counter(), 500

        async def record(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            self.log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((perf_counter() - start) * 1000, 2),
                client=scope["client"][0] if scope.get("client") else None,
            )


def layers(settings: Any) -> list[tuple[type, dict[str, Any]]]:
    """The layers around the framework app, outermost first (and structlog's JSON lines)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(),
    )
    return [
        (CorrelationIdMiddleware, {{}}),
        (AccessLog, {{}}),
        (SecureASGIMiddleware, {{"secure": Secure.with_default_headers()}}),
        (
            CORSMiddleware,
            {{
                "allow_origins": ["https://app.example"],
                "allow_methods": ["GET", "POST"],
                "allow_headers": ["x-api-key"],
            }},
        ),
        (TrustedHostMiddleware, {{"allowed_hosts": settings.trusted_hosts}}),
        (GZipMiddleware, {{"minimum_size": 1000}}),
    ]


def wrap(app: Any, settings: Any) -> Any:
    """The framework app inside every layer, as nested ASGI callables."""
    for cls, kwargs in reversed(layers(settings)):
        app = cls(app, **kwargs)
    return app


def key_checker(settings: Any) -> Callable[[str | None], bool]:
    """Whether a presented API key is one of the configured ones (constant-time compare)."""
    secrets = [c.secret.get_secret_value().encode() for c in settings.api_keys.values()]

    def accepts(key: str | None) -> bool:
        presented = (key or "").encode()
        return any(hmac.compare_digest(presented, secret) for secret in secrets)

    return accepts
'''

FASTAPI_SOURCE = '''\
"""The FastAPI peer app for bench/run.py; written by it beside bench_apps.

FastAPI's APIKeyHeader dependency; slowapi (its ASGI middleware for the default
limit, its decorator for the create route's own); the shared pure-ASGI layers
(bench_peer_common), added with add_middleware as a FastAPI team would.
"""

from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from slowapi import Limiter, _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded
from slowapi.middleware import SlowAPIASGIMiddleware
from slowapi.util import get_remote_address

from bench_peer_common import key_checker, layers
from {package}.database import Database
from {package}.repository import ItemRepository
from {package}.schemas import HealthStatus, Item, ItemId, ItemIn
from {package}.settings import Settings

HEADER = APIKeyHeader(name="x-api-key", auto_error=False)


def peer() -> FastAPI:
    settings = Settings()
    accepts = key_checker(settings)
    route_limit = next(iter(settings.rate_limit_routes.values()))

    def api_key(key: str | None = Security(HEADER)) -> str:
        if not accepts(key):
            raise HTTPException(status_code=401, detail="Invalid API key")
        return "bench"

    limiter = Limiter(key_func=get_remote_address, default_limits=[settings.rate_limit_default])
    items = ItemRepository(Database(settings))
    app = FastAPI(
        docs_url=None, redoc_url=None, openapi_url=None, lifespan=items.database.lifespan
    )
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)

    @app.get("/health")
    async def health() -> HealthStatus:
        return HealthStatus()

    @app.post("/api/v1/items", status_code=201, dependencies=[Depends(api_key)])
    @limiter.limit(route_limit, override_defaults=False)
    async def create_item(request: Request, item: ItemIn) -> Item:
        return await items.add(item)

    @app.get("/api/v1/items/{{item_id}}", dependencies=[Depends(api_key)])
    async def read_item(item_id: ItemId) -> Item:
        if (found := await items.get(item_id)) is None:
            raise HTTPException(404, "Item not found.")
        return found

    app.add_middleware(SlowAPIASGIMiddleware)
    for cls, kwargs in reversed(layers(settings)):
        app.add_middleware(cls, **kwargs)
    return app
'''

LITESTAR_SOURCE = '''\
"""The Litestar peer app for bench/run.py; written by it beside bench_apps.

A guard checks the API key; the `limits` library counts the default limit in an
app-level guard and the create route's own in a route guard (fixed windows in
memory, as slowapi's); the app inside the shared pure-ASGI layers (bench_peer_common).
"""

from collections.abc import Callable
from typing import Annotated, Any

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from litestar import Litestar, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Parameter

from bench_peer_common import key_checker, wrap
from {package}.database import Database
from {package}.repository import ItemRepository
from {package}.schemas import HealthStatus, Item, ItemIn
from {package}.settings import Settings

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def peer() -> Any:
    settings = Settings()
    accepts = key_checker(settings)
    limiter = FixedWindowRateLimiter(MemoryStorage())

    def limited(limit: str, name: str) -> Guard:
        item = parse(limit)

        def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
            client = connection.client.host if connection.client else ""
            if not limiter.hit(item, name, client):
                raise TooManyRequestsException()

        return guard

    def api_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not accepts(connection.headers.get("x-api-key")):
            raise NotAuthorizedException("Invalid API key")

    route_limit = limited(next(iter(settings.rate_limit_routes.values())), "create")
    items = ItemRepository(Database(settings))

    @get("/health")
    async def health() -> HealthStatus:
        return HealthStatus()

    @post("/api/v1/items", status_code=201, guards=[api_key, route_limit])
    async def create_item(data: ItemIn) -> Item:
        return await items.add(data)

    @get("/api/v1/items/{{item_id:str}}", guards=[api_key])
    async def read_item(
        item_id: Annotated[str, Parameter(pattern=r"^[a-f0-9]{{32}}$")],
    ) -> Item:
        if (found := await items.get(item_id)) is None:
            raise NotFoundException("Item not found.")
        return found

    app = Litestar(
        route_handlers=[health, create_item, read_item],
        guards=[limited(settings.rate_limit_default, "default")],
        lifespan=[items.database.lifespan],
        openapi_config=None,
    )
    return wrap(app, settings)
'''

QUART_SOURCE = '''\
"""The Quart peer app for bench/run.py; written by it beside bench_apps.

A view decorator checks the API key (hmac.compare_digest); quart-rate-limiter
counts the default limit and the create route's own (its rate_limit decorator);
quart-schema validates the body and the answers; the app inside the shared
pure-ASGI layers (bench_peer_common).
"""

import functools
from datetime import timedelta
from typing import Any

from limits import parse
from quart import Quart, abort, request
from quart_rate_limiter import RateLimit, RateLimiter, rate_limit
from quart_schema import QuartSchema, validate_request, validate_response
from werkzeug.exceptions import HTTPException

from bench_peer_common import key_checker, wrap
from {package}.database import Database
from {package}.repository import ItemRepository
from {package}.schemas import HealthStatus, Item, ItemIn
from {package}.settings import Settings


def per_period(limit: str) -> RateLimit:
    """A limit as settings spell it ("20/minute"), as quart-rate-limiter takes it."""
    item = parse(limit)
    return RateLimit(item.amount, timedelta(seconds=item.get_expiry()))


def peer() -> Any:
    settings = Settings()
    accepts = key_checker(settings)
    items = ItemRepository(Database(settings))
    app = Quart(__name__)
    QuartSchema(
        app, openapi_path=None, redoc_ui_path=None, scalar_ui_path=None, swagger_ui_path=None
    )
    RateLimiter(app, default_limits=[per_period(settings.rate_limit_default)])
    app.after_serving(items.database.aclose)

    def api_key(view: Any) -> Any:
        @functools.wraps(view)
        async def checked(*args: Any, **kwargs: Any) -> Any:
            if not accepts(request.headers.get("x-api-key")):
                abort(401, "Invalid API key")
            return await view(*args, **kwargs)

        return checked

    @app.errorhandler(HTTPException)
    async def error(exc: HTTPException) -> Any:
        return {{"detail": exc.description}}, exc.code

    @app.get("/health")
    @validate_response(HealthStatus)
    async def health() -> HealthStatus:
        return HealthStatus()

    @app.post("/api/v1/items")
    @rate_limit(limits=[per_period(next(iter(settings.rate_limit_routes.values())))])
    @api_key
    @validate_request(ItemIn)
    @validate_response(Item, 201)
    async def create_item(data: ItemIn) -> tuple[Item, int]:
        return await items.add(data), 201

    @app.get("/api/v1/items/<string(length=32):item_id>")
    @api_key
    @validate_response(Item)
    async def read_item(item_id: str) -> Item:
        if (found := await items.get(item_id)) is None:
            abort(404, "Item not found.")
        return found

    return wrap(app, settings)
'''

FRAMEWORK_SOURCES = {
    "fastapi": FASTAPI_SOURCE,
    "litestar": LITESTAR_SOURCE,
    "quart": QUART_SOURCE,
}


def write_peer_modules(directory: Path, package: str, framework: str) -> None:
    """``bench_peer_common.py`` and the framework's ``bench_peer.py``, beside ``bench_apps``."""
    (directory / "bench_peer_common.py").write_text(COMMON_SOURCE.format(), encoding="utf-8")
    source = FRAMEWORK_SOURCES[framework].format(package=package)
    (directory / "bench_peer.py").write_text(source, encoding="utf-8")
