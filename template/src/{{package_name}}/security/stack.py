"""The one place the order of the security layers is written.

Rule: layers that decorate *every* response (request id, access log, headers,
CORS) sit outside every layer that can answer on its own (errors, host, timeout,
body size), so a 400, 413, 500 or 504 still leaves with its security headers,
request id and, for an allowed origin, the CORS headers a browser needs to read it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

import structlog
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from .. import SERVER_NAMES_ITSELF
from ..api import HEALTH_PATHS, JSON_BODY_ROUTES, READY_PATHS, ROUTE_SCOPES
from ..draining import MARKER_ENV
from ._asgi import ASGIApp
from .access_log import AccessLogMiddleware
from .audit import AuditMiddleware
from .auth import AuthMiddleware
from .body_size import MaxBodySizeMiddleware
from .client import ClientIdentityMiddleware, parse_networks
from .compression import GZipMiddleware
from .csrf import CSRFMiddleware
from .errors import ExceptionHandlerMiddleware
from .headers import SecurityHeadersMiddleware
from .json_body import JsonBodyMiddleware
from .limiter import Probed, RateLimiter
from .probes import LivenessShortcut
from .rate_limit import RateLimitMiddleware
from .readiness import Dependency, Readiness, ReadinessMiddleware
from .redaction import Redactor
from .request_id import RequestIdMiddleware
from .storage import make_storage
from .timeout import TimeoutMiddleware
from .trusted_host import TrustedHostMiddleware
from .verifiers import build_verifiers

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["apply_security", "build_rate_limiter", "build_readiness", "security_layers"]

# The service's own package, so its access log is "<package>.access".
_PACKAGE = __name__.partition(".")[0]
CORS_METHODS = ("GET", "POST", "OPTIONS")
CORS_HEADERS = ("Content-Type", "Authorization", "X-Request-ID")
# The health paths that are not readiness probes: answered whatever the dependencies say.
LIVENESS_PATHS = tuple(path for path in HEALTH_PATHS if path not in READY_PATHS)


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """The rate limiter of these settings (the HTTP stack's and the gRPC server's)."""
    return RateLimiter(
        default=settings.rate_limit_default,
        storage=make_storage(settings.rate_limit_storage_url, settings.rate_limit_memory_max_keys),
        fail_open=settings.rate_limit_fail_open,
        route_limits=settings.rate_limit_routes,
    )


def build_readiness(settings: Settings, limiter: RateLimiter) -> Readiness:
    """What readiness depends on: the database; the rate-limit store, when it can be down."""
    from ..database import database_dependency  # not at import: the database imports the core

    dependencies = [database_dependency(settings)]
    if isinstance(limiter.storage, Probed):
        dependencies.append(
            Dependency(
                name="rate_limit_storage",
                setting="RATE_LIMIT_STORAGE_URL",
                target=Redactor().scrub_text(settings.rate_limit_storage_url),
                probe=limiter.storage.probe,
            )
        )
    return Readiness(dependencies, logger_name=f"{_PACKAGE}.readiness")


def security_layers(settings: Settings, public_paths: Iterable[str] = ()) -> list[Middleware]:
    """The layers for these settings, outermost first.

    ``public_paths`` are exact paths served without credentials besides the
    health probes (the framework's API docs, in debug only).
    """
    public_paths = tuple(public_paths)  # read twice below
    layers = [Middleware(RequestIdMiddleware)]
    if settings.trusted_proxies:
        layers.append(
            Middleware(
                ClientIdentityMiddleware,
                trusted_proxies=parse_networks(settings.trusted_proxies),
                header=settings.forwarded_header,
            )
        )
    layers += [
        Middleware(
            AccessLogMiddleware,
            logger_name=f"{_PACKAGE}.access",
            quiet_paths=() if settings.access_log_health else HEALTH_PATHS,
            routes=(*ROUTE_SCOPES, *(f"GET {path}" for path in (*HEALTH_PATHS, *public_paths))),
        ),
        Middleware(
            SecurityHeadersMiddleware,
            debug=settings.debug,
            tls_terminated_upstream=settings.tls_terminated_upstream,
            blank_server=SERVER_NAMES_ITSELF,
        ),
    ]
    # CORS decorates every response too (a browser reads no body without it, a
    # 500 or 504 included), so it sits outside the error layer as well.
    if origins := settings.effective_cors_origins:
        layers.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(origins),
                allow_methods=list(CORS_METHODS),
                allow_headers=list(CORS_HEADERS),
                expose_headers=["X-Request-ID"],
                allow_credentials=False,
                max_age=600,
            )
        )
    layers += [
        # Outside the error layer too: it records the status the client gets,
        # the error layer's 500 and the timeout's 504 included.
        Middleware(AuditMiddleware, logger_name=f"{_PACKAGE}.audit"),
        Middleware(ExceptionHandlerMiddleware, error_format=settings.error_format),
        Middleware(GZipMiddleware, minimum_size=1000),
    ]
    if settings.trusted_hosts:
        layers.append(Middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts))
    limiter = build_rate_limiter(settings)
    layers += [
        # Below here, request checks a liveness probe is exempt from: it skips them
        # (apply_security hands this layer the framework app as ``probes``).
        Middleware(LivenessShortcut, paths=LIVENESS_PATHS),
        Middleware(TimeoutMiddleware, timeout=settings.request_timeout),
        Middleware(MaxBodySizeMiddleware, max_body_size=settings.max_body_size),
        # Answers /ready and /readyz itself (503) while the rate-limit store is down,
        # and once shutdown has begun (the supervisor's drain marker: draining.py).
        Middleware(
            ReadinessMiddleware,
            readiness=build_readiness(settings, limiter),
            paths=READY_PATHS,
            marker=os.environ.get(MARKER_ENV),
        ),
        Middleware(RateLimitMiddleware, limiter=limiter, exempt_paths=HEALTH_PATHS),
        Middleware(
            CSRFMiddleware,
            allowed_origins=settings.effective_cors_origins,
            tls_terminated_upstream=settings.tls_terminated_upstream,
        ),
        Middleware(
            AuthMiddleware,
            verifiers=build_verifiers(settings),
            require_auth=settings.require_auth,
            public_paths=(*HEALTH_PATHS, *public_paths),
            route_scopes=ROUTE_SCOPES,
        ),
        # After authorization: a caller without the route's scopes never gets its body read.
        Middleware(JsonBodyMiddleware, routes=JSON_BODY_ROUTES, max_depth=settings.json_max_depth),
    ]
    return layers


def apply_security(app: ASGIApp, settings: Settings, public_paths: Iterable[str] = ()) -> ASGIApp:
    """Wrap a framework app in the security layers; say what is left open."""
    logger = structlog.get_logger().bind(logger=__name__)
    for warning in settings.startup_warnings():
        logger.warning("insecure_configuration", detail=warning)
    framework_app = app
    for cls, args, kwargs in reversed(security_layers(settings, public_paths)):
        if cls is LivenessShortcut:
            kwargs = {**kwargs, "probes": framework_app}
        app = cls(app, *args, **kwargs)
    return app
