"""What every framework adapter serves, defined once: paths and the error details.

Adapters differ in how they declare routes; they agree on paths, models
(:mod:`.schemas`), storage (:mod:`.store`) and the error body shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "API_ERROR_STATUSES",
    "HEALTH_PATHS",
    "ITEMS_PATH",
    "ITEM_PATH",
    "READY_PATHS",
    "READ_SCOPE",
    "ROUTE_RATE_LIMITS",
    "SCOPES",
    "UPSTREAM_ERROR_STATUSES",
    "UPSTREAM_PATH",
    "WRITE_SCOPE",
    "declared_scopes",
    "validation_problems",
]

HEALTH_PATHS = ("/health", "/healthz", "/ready", "/readyz")
# Of those, the readiness probes: 503 while a dependency (the Redis store) is unreachable.
READY_PATHS = ("/ready", "/readyz")
ITEMS_PATH = "/api/v1/items"
ITEM_PATH = "/api/v1/items/{item_id}"
# The example of an outbound call (outbound/): a value fetched from UPSTREAM_URL.
UPSTREAM_PATH = "/api/v1/upstream/{key}"
# What a credential must grant: reading an item, and creating one.
READ_SCOPE = "items:read"
WRITE_SCOPE = "items:write"
# Every scope a route or RPC may require: the one list a credential's scopes are
# checked against at start-up (API_KEYS and the like), so that a typo such as
# "items:reed" stops the service instead of silently granting nothing. A route
# requiring a new scope declares its constant above and adds it here (``declared_scopes``
# refuses a route whose scope is missing, so this list cannot fall behind).
SCOPES: frozenset[str] = frozenset({READ_SCOPE, WRITE_SCOPE})
# Default for RATE_LIMIT_ROUTES: stricter limits than RATE_LIMIT_DEFAULT for chosen
# routes ("METHOD /exact/path"), counted per client on top of the default.
ROUTE_RATE_LIMITS = {f"POST {ITEMS_PATH}": "20/minute"}
# Error statuses the API routes document (body: schemas.ErrorBody): unparseable
# body, no or bad credentials, missing scope, unknown item, body too large, invalid
# input, rate limited.
API_ERROR_STATUSES = (400, 401, 403, 404, 413, 422, 429)
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
