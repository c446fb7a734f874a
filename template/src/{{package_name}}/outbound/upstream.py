"""The example upstream call: ``GET {UPSTREAM_URL}/{key}`` through the cache, breaker and client.

Framework-agnostic: every adapter's route awaits :meth:`Upstream.fetch` and turns an
:class:`UpstreamError` into its JSON error. Replace the request and the answer's
model with your upstream's; keep the rest.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
import structlog
from pydantic import BaseModel, Field, ValidationError

from ..schemas import UpstreamValue
from ..security import current_request_id
from .breaker import CircuitBreaker, CircuitOpenError
from .cache import CoalescingCache
from .client import make_client

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["MAX_ANSWER_BYTES", "Upstream", "UpstreamError", "build_upstream"]

# The largest upstream answer read; a larger one is a bad answer (502), never buffered whole.
MAX_ANSWER_BYTES = 65_536
NOT_CONFIGURED = "No upstream service is configured."
NOT_FOUND = "No value for this key."
BAD_ANSWER = "The upstream service did not answer properly."
UNAVAILABLE = "The upstream service is unavailable; retry later."
TOO_SLOW = "The upstream service did not answer in time."


class UpstreamError(Exception):
    """No value, said as this service's status and words: never the upstream's body or error."""

    def __init__(self, status: int, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        """Headers of the error response (``Retry-After`` when the circuit is open)."""
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    @property
    def upstream_failed(self) -> bool:
        """A bad answer or none in time: what the circuit breaker counts."""
        return self.status in (502, 504)


def _is_failure(error: Exception) -> bool:
    # Anything but an orderly "no such key" counts, unexpected errors included. The
    # breaker asks only about exceptions: a cancellation never reaches this.
    return not isinstance(error, UpstreamError) or error.upstream_failed


class _Answer(BaseModel):
    """What the upstream must answer with (200, JSON): validated before any use."""

    value: str = Field(max_length=1000)


class Upstream:
    """One upstream service: a lazily made pooled client, a breaker and a cache.

    The client is made on first use and closed by :meth:`aclose` (the framework
    adapter runs it at shutdown, see :meth:`lifespan`). ``url`` None: every fetch
    answers 503 and nothing is called.
    """

    def __init__(
        self,
        *,
        url: str | None,
        timeout: float,
        client_factory: Callable[[], httpx.AsyncClient],
        breaker: CircuitBreaker | None,
        cache: CoalescingCache[UpstreamValue] | None,
        token: str | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.breaker = breaker
        self.cache = cache
        self._client_factory = client_factory
        self._client: httpx.AsyncClient | None = None
        self._headers = {"accept": "application/json", "accept-encoding": "identity"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"
        self.logger = structlog.get_logger().bind(logger=__name__)

    async def fetch(self, key: str) -> UpstreamValue:
        """The value of ``key`` (cached, or one shared call); else :class:`UpstreamError`."""
        if self.url is None:
            raise UpstreamError(503, NOT_CONFIGURED)
        if self.cache is None:
            return await self._guarded(key)
        return await self.cache.get_or_load(key, partial(self._guarded, key))

    async def aclose(self) -> None:
        """Cancel loads in flight and close the client's connections (at shutdown)."""
        if self.cache is not None:
            self.cache.cancel_loads()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        """The app's lifespan, for frameworks that take one: closes the client at shutdown."""
        try:
            yield
        finally:
            await self.aclose()

    async def _guarded(self, key: str) -> UpstreamValue:
        if self.breaker is None:
            return await self._call(key)
        try:
            return await self.breaker.call(partial(self._call, key))
        except CircuitOpenError as error:
            raise UpstreamError(503, UNAVAILABLE, retry_after=error.retry_after) from None

    async def _call(self, key: str) -> UpstreamValue:
        try:
            async with asyncio.timeout(self.timeout):  # the whole exchange, not each read
                body = await self._exchange(f"{self.url}/{quote(key, safe='')}")
        except (TimeoutError, httpx.TimeoutException):
            raise self._failed(504, TOO_SLOW, reason="timeout") from None
        except httpx.HTTPError as error:
            raise self._failed(502, BAD_ANSWER, reason=type(error).__name__) from None
        try:
            answer = _Answer.model_validate_json(body)
        except ValidationError:
            raise self._failed(502, BAD_ANSWER, reason="invalid_answer") from None
        return UpstreamValue(key=key, value=answer.value)

    async def _exchange(self, url: str) -> bytes:
        if self._client is None:
            self._client = self._client_factory()
        headers = self._headers
        if (request_id := current_request_id()) is not None:
            headers = {**headers, "x-request-id": request_id}
        async with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code == 404:
                raise UpstreamError(404, NOT_FOUND)
            if response.status_code != 200:
                raise self._failed(
                    502, BAD_ANSWER, reason="status", upstream_status=response.status_code
                )
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise self._failed(502, BAD_ANSWER, reason="answer_too_large")
            return bytes(body)

    def _failed(self, status: int, detail: str, **context: object) -> UpstreamError:
        # The reason is ours (or an exception's class name): never its text or the body.
        self.logger.warning("upstream_failed", answered=status, **context)
        return UpstreamError(status, detail)


def build_upstream(settings: Settings) -> Upstream:
    """The upstream of these settings (each framework adapter builds one per app)."""
    breaker = (
        CircuitBreaker(
            failure_threshold=settings.cb_failure_threshold,
            recovery_timeout=settings.cb_recovery_timeout,
            is_failure=_is_failure,
        )
        if settings.cb_enabled
        else None
    )
    cache = (
        CoalescingCache[UpstreamValue](
            ttl=settings.cache_ttl,
            max_size=settings.cache_max_size,
            max_in_flight=settings.cache_max_size,
        )
        if settings.cache_enabled
        else None
    )
    token = settings.upstream_token.get_secret_value() if settings.upstream_token else None
    return Upstream(
        url=settings.upstream_url,
        timeout=settings.upstream_timeout,
        client_factory=partial(
            make_client,
            timeout=settings.upstream_timeout,
            max_connections=settings.httpx_pool_max,
            max_keepalive=settings.httpx_pool_max_keepalive,
        ),
        breaker=breaker,
        cache=cache,
        token=token,
    )
