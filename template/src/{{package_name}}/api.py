"""What every framework adapter serves, defined once: paths and the error details.

Adapters differ in how they declare routes; they agree on paths, models
(:mod:`.schemas`), storage (:mod:`.repository`) and the error body shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .custom import routes as custom_routes

__all__ = [
    "API_ERROR_STATUSES",
    "HEALTH_PATHS",
    "ITEMS_PATH",
    "ITEM_ERROR_STATUSES",
    "ITEM_EVENTS_PATH",
    "ITEM_PATH",
    "ITEM_WS_PATH",
    "JSON_BODY_ROUTES",
    "READY_PATHS",
    "READ_SCOPE",
    "ROUTE_RATE_LIMITS",
    "ROUTE_SCOPES",
    "SCOPES",
    "UPSTREAM_ERROR_STATUSES",
    "UPSTREAM_PATH",
    "WRITE_SCOPE",
    "declared_scopes",
    "validation_problems",
]

# Served without credentials or limits. Liveness (/livez; /health and /healthz are
# the same) is 200 while the process serves: restarting would not fix a dependency.
HEALTH_PATHS = ("/livez", "/health", "/healthz", "/ready", "/readyz")
# Of those, the readiness probes: 503 while a dependency (the Redis store) is
# unreachable, and from SIGTERM on (SHUTDOWN_DELAY: the load balancer stops first).
READY_PATHS = ("/ready", "/readyz")
ITEMS_PATH = "/api/v1/items"
ITEM_PATH = "/api/v1/items/{item_id}"
# Server-sent events of item changes (events.py): an event per item created.
ITEM_EVENTS_PATH = "/api/v1/items/events"
# The same events over a WebSocket (security/ws_stream.py: close codes, the filter message).
ITEM_WS_PATH = "/api/v1/items/ws"
# The example of an outbound call (outbound/): a value fetched from UPSTREAM_URL.
UPSTREAM_PATH = "/api/v1/upstream/{key}"
# What a credential must grant: reading an item, and creating one.
READ_SCOPE = "items:read"
WRITE_SCOPE = "items:write"
# Every scope a route or RPC may require: the one list a credential's scopes are
# checked against at start-up (API_KEYS and the like), so that a typo such as
# "items:reed" stops the service instead of silently granting nothing. The team's
# routes declare theirs in custom/routes.py's ROUTE_SCOPES, which counts here too;
# ``declared_scopes`` refuses a route whose scope is missing, so this cannot fall behind.
_TEAM_SCOPES = {scope for scopes in custom_routes.ROUTE_SCOPES.values() for scope in scopes}
SCOPES: frozenset[str] = frozenset({READ_SCOPE, WRITE_SCOPE, *_TEAM_SCOPES})
# Default for RATE_LIMIT_ROUTES: stricter limits than RATE_LIMIT_DEFAULT for chosen
# routes ("METHOD /exact/path"), counted per client on top of the default.
ROUTE_RATE_LIMITS = {f"POST {ITEMS_PATH}": "20/minute"}
# The scopes each route needs ("METHOD /path", {parameters} as declared above). The
# core checks them right after authentication, before any body is read, so a caller
# without them learns nothing about a route's input (the adapters check them again).
ROUTE_SCOPES: dict[str, tuple[str, ...]] = {
    f"POST {ITEMS_PATH}": (WRITE_SCOPE,),
    f"GET {ITEMS_PATH}": (READ_SCOPE,),  # a page of items
    f"GET {ITEM_PATH}": (READ_SCOPE,),
    f"GET {ITEM_EVENTS_PATH}": (READ_SCOPE,),
    f"GET {ITEM_WS_PATH}": (READ_SCOPE,),  # the WebSocket handshake
    f"GET {UPSTREAM_PATH}": (READ_SCOPE,),
    **custom_routes.ROUTE_SCOPES,  # the team's own (custom/routes.py)
}
# The routes that read a JSON body: the core parses and bounds it before the
# framework does (security/json_body.py), and refuses other media types (415).
# On any other route, a body sent as JSON is checked too.
JSON_BODY_ROUTES = (f"POST {ITEMS_PATH}", *custom_routes.JSON_BODY_ROUTES)
# Error statuses the API routes document (body: schemas.ErrorBody): unparseable
# body, no or bad credentials, missing scope, unknown item, body too large, body not
# JSON, invalid input, rate limited.
API_ERROR_STATUSES = (400, 401, 403, 404, 413, 415, 422, 429)
# And those of the item routes, which read and write the database: unavailable
# (down, or every pooled connection busy for DATABASE_POOL_TIMEOUT: Retry-After).
ITEM_ERROR_STATUSES = (*API_ERROR_STATUSES, 503)
# And those of a route that calls the upstream: a bad answer, unavailable (no
# upstream configured, or its circuit open: Retry-After), no answer in time.
UPSTREAM_ERROR_STATUSES = (*API_ERROR_STATUSES, 502, 503, 504)


def declared_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes a route or RPC requires, each one checked against ``SCOPES`` when declared.

    Every adapter's ``requires`` and the gRPC method table pass through here: a
    requirement missing from ``SCOPES`` stops the app from being built (and so
    every test), instead of being one that no credential could ever be granted.
    """
    required = tuple(scopes)
    if unknown := sorted(set(required) - SCOPES):
        raise ValueError(f"scope(s) {', '.join(unknown)} required but not declared in api.SCOPES")
    return required


def validation_problems(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Where and why each input was refused, without echoing the rejected input back.

    ``errors`` are pydantic-style dicts (``loc``, ``msg``, ``type``).
    """
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": error["msg"],
            "type": error["type"],
        }
        for error in errors
    ]
