"""FastAPI adapter: builds the framework app (routes, docs switch, error shape).

All security lives in :mod:`.security`; this module only hands the app to it.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, cast

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import TITLE
from .logs import configure_logging
from .schemas import HealthStatus, Item, ItemId, ItemIn
from .security import apply_security, error_payload
from .security._asgi import ASGIApp
from .settings import Settings
from .store import ItemStore

__all__ = ["HEALTH_PATHS", "build_app", "create_app"]

HEALTH_PATHS = ("/health", "/healthz", "/ready", "/readyz")


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Where and why, without echoing the rejected input back."""
    return [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    error = cast(StarletteHTTPException, exc)  # registered for this type only
    # The framework's stock phrases give way to the core's messages, so that
    # every framework answers a 404 or 405 with the same body.
    detail = None if error.detail == HTTPStatus(error.status_code).phrase else error.detail
    return JSONResponse(
        error_payload(error.status_code, detail), error.status_code, headers=error.headers
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    error = cast(RequestValidationError, exc)  # registered for this type only
    return JSONResponse(error_payload(422, _validation_details(error)), 422)


async def _internal_error(_: Request, __: Exception) -> JSONResponse:
    return JSONResponse(error_payload(500), 500)


def build_app(settings: Settings) -> FastAPI:
    """The bare framework app: routes and docs, no security layers."""
    docs = settings.debug
    app = FastAPI(
        title=TITLE,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        # A slash redirect builds its Location from the Host header: no redirects.
        redirect_slashes=False,
        exception_handlers={
            StarletteHTTPException: _http_error,
            RequestValidationError: _validation_error,
            Exception: _internal_error,
        },
    )
    store = ItemStore()

    async def health() -> HealthStatus:
        return HealthStatus()

    for path in HEALTH_PATHS:
        app.add_api_route(path, health, methods=["GET"], tags=["health"])

    @app.post("/api/v1/items", status_code=201, tags=["items"])
    async def create_item(item: ItemIn) -> Item:
        return store.add(item)

    @app.get("/api/v1/items/{item_id}", tags=["items"])
    async def read_item(item_id: ItemId) -> Item:
        if (item := store.get(item_id)) is None:
            raise HTTPException(404, "Item not found.")
        return item

    return app


def create_app(settings: Settings | None = None) -> ASGIApp:
    """The served app: the framework app inside the security layers."""
    settings = settings or Settings()
    configure_logging(settings)
    return apply_security(build_app(settings), settings)
