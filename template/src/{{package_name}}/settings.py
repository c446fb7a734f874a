"""The service's configuration: the only module that reads the environment.

Every default is the locked-down one; development conveniences need ``DEBUG=true``.
Invalid values raise at start-up (``python -m`` turns that into a one-screen message),
never at the first request.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from . import DEFAULT_RATE_LIMIT_STORAGE
from .api import ROUTE_RATE_LIMITS
from .security.client import parse_networks
from .security.limiter import parse_limit

__all__ = ["Settings"]

CommaList = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings):
    """Runtime settings; names match the environment variables, case-insensitively."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    debug: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    cors_allowed_origins: CommaList = ()
    trusted_hosts: CommaList = ()
    tls_terminated_upstream: bool = False
    trusted_proxies: CommaList = ()
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"

    max_body_size: int = Field(default=1_048_576, ge=1, le=1 << 30)
    request_timeout: float = Field(default=30.0, gt=0, le=3600)
    keep_alive_timeout: float = Field(default=75.0, gt=0, le=3600)
    shutdown_grace: float = Field(default=10.0, ge=0, le=3600)

    rate_limit_default: str = "60/minute"
    # JSON object, e.g. {"POST /api/v1/items": "20/minute"}: stricter limits on top of the default.
    rate_limit_routes: dict[str, str] = Field(default_factory=lambda: dict(ROUTE_RATE_LIMITS))
    rate_limit_storage_url: str = DEFAULT_RATE_LIMIT_STORAGE
    rate_limit_fail_open: bool = False
    rate_limit_memory_max_keys: int = Field(default=50_000, ge=100, le=10_000_000)

    log_format: Literal["json", "console"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("cors_allowed_origins", "trusted_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _check_origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            if origin == "*":
                continue  # allowed only in debug: checked once all fields are known
            scheme, sep, rest = origin.partition("://")
            if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
                raise ValueError(
                    f"{origin!r} is not an origin: use scheme://host[:port] with no path, "
                    "e.g. https://app.example.com"
                )
        return origins

    @field_validator("trusted_hosts")
    @classmethod
    def _check_hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for host in hosts:
            bare = host.removeprefix("*.")
            if not bare or "*" in bare or "/" in bare or ":" in bare:
                raise ValueError(
                    f"{host!r} is not a host name: use e.g. api.example.com or *.example.com "
                    "(no scheme, port or path)"
                )
        return tuple(host.lower() for host in hosts)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, proxies: tuple[str, ...]) -> tuple[str, ...]:
        parse_networks(proxies)  # raises with the bad entry named
        return proxies

    @field_validator("rate_limit_default")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        parse_limit(value)  # raises with the bad text named
        return value

    @field_validator("rate_limit_routes")
    @classmethod
    def _check_route_limits(cls, routes: dict[str, str]) -> dict[str, str]:
        for route, limit in routes.items():
            method, _, path = route.partition(" ")
            if not method.isupper() or not path.startswith("/"):
                raise ValueError(f"{route!r} is not a route: use 'METHOD /exact/path'")
            parse_limit(limit)
        return routes

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _check_storage(cls, url: str) -> str:
        if url.startswith("memory://"):
            return url
        if not url.startswith(("redis://", "rediss://")):
            raise ValueError("use memory:// (one process) or redis://host:port/db (shared)")
        if importlib.util.find_spec("redis") is None:
            raise ValueError(
                "a Redis store needs the redis package: render the project with "
                "rate_limit_storage=redis (or add redis>=5.2 to its dependencies)"
            )
        return url

    @field_validator("forwarded_header", mode="before")
    @classmethod
    def _lower_header(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _no_wildcard_cors_in_production(self) -> Settings:
        if "*" in self.cors_allowed_origins and not self.debug:
            raise ValueError(
                "CORS_ALLOWED_ORIGINS='*' is refused outside debug mode: "
                "list the exact origins that may call this API"
            )
        return self

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        """JSON in production unless configured; coloured console output in debug."""
        if self.log_format is not None:
            return self.log_format
        return "console" if self.debug else "json"

    @property
    def effective_cors_origins(self) -> tuple[str, ...]:
        """Same-origin (no CORS at all) when unconfigured; wildcard only in debug."""
        if not self.cors_allowed_origins and self.debug:
            return ("*",)
        return self.cors_allowed_origins

    def startup_warnings(self) -> list[str]:
        """Open configuration that production should close, said once at start-up."""
        warnings: list[str] = []
        if not self.debug and not self.trusted_hosts:
            warnings.append(
                "No TRUSTED_HOSTS configured - Host-header validation is disabled. "
                "Set TRUSTED_HOSTS to your domain(s) in production to prevent "
                "host-header poisoning attacks."
            )
        if self.workers > 1 and self.rate_limit_storage_url.startswith("memory://"):
            warnings.append(
                f"Rate limits are kept in memory per process: with WORKERS={self.workers} "
                "each client gets WORKERS times RATE_LIMIT_DEFAULT. Use Redis "
                "(RATE_LIMIT_STORAGE_URL=redis://...) to share one limit."
            )
        if self.rate_limit_fail_open:
            warnings.append(
                "RATE_LIMIT_FAIL_OPEN is on: if the rate-limit store is down, "
                "requests pass unlimited."
            )
        if self.debug:
            warnings.append(
                "DEBUG is on: API docs, wildcard CORS and a relaxed CSP are enabled. "
                "Never run with DEBUG in production."
            )
        return warnings
